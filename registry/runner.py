"""All I/O from the deploy pipeline to a Naemon core: one module, timeouts everywhere.

Subprocesses (verify, reload command), the external command file and the status file
are handled here; Livestatus goes through the project's Livestatus client.

Every failure is a RunnerError whose ``retryable`` says whether trying again later can help
(a core that is restarting, a timeout) or not (a missing binary, a config the core rejects).
No Django here: the deploy task calls it with plain values.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import select
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from livestatus.client import (
    Filter,
    LivestatusClient,
    LivestatusConnectError,
    LivestatusError,
    LivestatusQuery,
)
from livestatus.client.commands import restart_program

OUTPUT_LIMIT = 64 * 1024


class RunnerError(Exception):
    """Talking to the core failed; ``retryable`` says whether trying again later can help."""

    def __init__(self, message: str, *, retryable: bool, output: str = "", core_down: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.output = output
        #: The core is not running at all (nothing reads its command file, nothing listens on
        #: its Livestatus): not a refusal of the config.
        self.core_down = core_down

    def __str__(self) -> str:
        hint = "retrying can help" if self.retryable else "retrying will not help"
        return f"{super().__str__()} ({hint})"


@dataclass
class CommandResult:
    """What a finished command did."""

    argv: list[str]
    returncode: int
    output: str
    seconds: float


def clip(text: str, limit: int = OUTPUT_LIMIT) -> str:
    """Keep the start and, mostly, the end of long output (the verdict is at the end)."""
    if len(text) <= limit:
        return text
    head = limit // 4
    return f"{text[:head]}\n[... {len(text) - limit} characters left out ...]\n{text[-(limit - head) :]}"


def run(argv: list[str], *, timeout: float) -> CommandResult:
    """Run a command (no shell) with stdout and stderr together; kill its process group on timeout."""
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise RunnerError(f"{argv[0]}: command not found", retryable=False) from None
    except PermissionError:
        raise RunnerError(f"{argv[0]}: permission denied", retryable=False) from None
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # The command may have started children (a shell script): stop them all.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        raise RunnerError(
            f"{' '.join(argv)} did not finish within {timeout:.0f}s",
            retryable=True,
            output=clip(out.decode("utf-8", "replace")),
        ) from None
    return CommandResult(
        argv=argv,
        returncode=proc.returncode,
        output=clip(out.decode("utf-8", "replace")),
        seconds=time.monotonic() - start,
    )


def send_external_command(path: str, line: str, *, timeout: float = 10.0) -> None:
    """Write one external command line to the core's command file (a FIFO), without ever blocking."""
    data = (line.rstrip("\n") + "\n").encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_APPEND)
    except FileNotFoundError:
        raise RunnerError(
            f"command file {path} does not exist: is the core running with check_external_commands=1?",
            retryable=True,
        ) from None
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            # A FIFO without a reader: nobody would ever read the command.
            raise RunnerError(
                f"nothing reads command file {path}: the core is not running", retryable=True, core_down=True
            ) from None
        raise RunnerError(f"cannot open command file {path}: {exc.strerror}", retryable=False) from None
    deadline = time.monotonic() + timeout
    try:
        while data:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RunnerError(f"command file {path} stayed full for {timeout:.0f}s", retryable=True)
            _, writable, _ = select.select([], [fd], [], remaining)
            if not writable:
                continue
            try:
                data = data[os.write(fd, data) :]
            except BlockingIOError:
                continue
            except BrokenPipeError:
                raise RunnerError(f"the core closed command file {path}", retryable=True) from None
    finally:
        os.close(fd)


# --- Livestatus: through the project's Livestatus client --------------------------------


#: What a deploy asks the core (fixed, so checked once against Naemon's columns in the tests).
CONFIRM_QUERIES = (
    LivestatusQuery("status").select("program_start"),
    LivestatusQuery("hosts").select("name"),
    LivestatusQuery("services").select("host_name", "description"),
)


def _livestatus_client(address: str, timeout: float) -> LivestatusClient:
    # No keep-alive: a deploy asks a few questions minutes apart, and the core restarts in between.
    return LivestatusClient(
        address,
        connect_timeout=min(timeout, 5.0),
        timeout=timeout,
        retry_window=min(timeout, 2.0),
        keepalive=False,
        # A fresh client per poll: learning the column catalogue each time would triple the
        # cost of a confirmation. Its three fixed queries are checked against Naemon's
        # catalogue in tests/registry/test_deploy.py instead.
        check_columns=False,
    )


def _livestatus_failure(address: str, exc: Exception) -> RunnerError:
    text = str(exc)
    return RunnerError(
        text if address in text else f"Livestatus {address}: {text}",  # the client's errors name it
        retryable=bool(getattr(exc, "retryable", True)),
        core_down=isinstance(exc, LivestatusConnectError),
    )


def livestatus_restart(address: str, *, timeout: float = 10.0) -> str:
    """Ask the core to restart (re-read its config) over Livestatus; returns what was sent."""
    command = restart_program()
    try:
        with _livestatus_client(address, timeout) as client:
            client.command(command)
    except (LivestatusError, ValueError) as exc:
        raise _livestatus_failure(address, exc) from None
    return f"sent COMMAND {command.name} to {address}"


# --- the core's state: its status file, or Livestatus --------------------------------------


@dataclass
class CoreStatus:
    """What a core reports about itself: when it (re)started, its host names and its services.

    A service is ``(host name, description)``, as the core lists it (a service on host groups
    once per member host).
    """

    program_start: int | None
    hosts: set[str] = field(default_factory=set)
    services: set[tuple[str, str]] = field(default_factory=set)

    def restarted_after(self, started_after: int | None) -> bool:
        """Whether the core (re)started after ``started_after`` (None: any start counts)."""
        return self.program_start is not None and (
            started_after is None or self.program_start > started_after
        )


def _wants_objects(status: CoreStatus, *, started_after: int | None, objects: bool) -> bool:
    # The object lists can be a million rows: skip them when only program_start is wanted, or
    # while the core has not restarted since started_after (the caller will ask again).
    return objects and (started_after is None or status.restarted_after(started_after))


_HEAD_BYTES = 64 * 1024  # programstatus comes right after the info block, before any host
_PROGRAM_START = re.compile(r"^programstatus \{\n(?:\t.*\n)*?\tprogram_start=(\d+)$", re.M)


def read_status_file(path: str, *, started_after: int | None = None, objects: bool = True) -> CoreStatus:
    """``program_start``, host names and every service of a status.dat, in one pass over the file.

    With ``objects=False``, or while the core has not restarted after ``started_after``, only
    the file's head is read (where programstatus is) and the hosts and services are left empty.
    """
    try:
        if started_after is not None or not objects:
            with open(path, "rb") as handle:
                head = handle.read(_HEAD_BYTES).decode("utf-8", "replace")
            match = _PROGRAM_START.search(head)
            if match:
                status = CoreStatus(int(match[1]))
                if not _wants_objects(status, started_after=started_after, objects=objects):
                    return status
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise RunnerError(f"status file {path} does not exist (yet)", retryable=True) from None
    except OSError as exc:
        raise RunnerError(f"cannot read status file {path}: {exc.strerror}", retryable=True) from None
    status = CoreStatus(program_start=None)
    block, host = "", ""
    for line in text.split("\n"):
        if not line.startswith("\t"):
            if line.endswith(" {"):
                block, host = line[:-2], ""
            continue
        if block == "servicestatus":
            if line.startswith("\thost_name="):
                host = line[11:]
            elif line.startswith("\tservice_description="):
                status.services.add((host, line[21:]))  # host_name comes first in every servicestatus
        elif block == "hoststatus":
            if line.startswith("\thost_name="):
                status.hosts.add(line[11:])
        elif block == "programstatus" and line.startswith("\tprogram_start="):
            try:
                status.program_start = int(line[15:])
            except ValueError:
                status.program_start = None
    if not _wants_objects(status, started_after=started_after, objects=objects):
        return CoreStatus(status.program_start)
    return status


def livestatus_core_status(
    address: str, *, timeout: float = 10.0, started_after: int | None = None, objects: bool = True
) -> CoreStatus:
    """The same over Livestatus: ``GET status``, then ``GET hosts`` (name) and ``GET services``.

    The host and service lists are only asked for when ``objects`` is true and the core has
    restarted after ``started_after``; otherwise they are left empty.
    """
    try:
        with _livestatus_client(address, timeout) as client:
            status_query, hosts_query, services_query = CONFIRM_QUERIES
            rows = client.query(status_query)
            value = rows[0].get("program_start") if rows else None
            status = CoreStatus(int(value) if isinstance(value, int | float) else None)
            if not _wants_objects(status, started_after=started_after, objects=objects):
                return status
            hosts = client.query(hosts_query)
            services = client.query(services_query)
    except (LivestatusError, ValueError) as exc:
        raise _livestatus_failure(address, exc) from None
    status.hosts = {str(row["name"]) for row in hosts}
    status.services = {(str(row["host_name"]), str(row["description"])) for row in services}
    return status


#: What the drift check asks (registry/drift.py): the core's start and its object counts, as
#: Stats (one number each, whatever the size of the site).
COUNT_QUERIES = (
    LivestatusQuery("status").select("program_start"),
    LivestatusQuery("hosts").stats(total=Filter("state", ">=", 0)),
    LivestatusQuery("services").stats(total=Filter("state", ">=", 0)),
)


@dataclass(frozen=True)
class CoreCounts:
    """When the core (re)started and how many hosts and services it runs."""

    program_start: int | None
    hosts: int
    services: int


def livestatus_core_counts(address: str, *, timeout: float = 10.0) -> CoreCounts:
    """``program_start`` and the host and service counts over Livestatus (``GET status``, ``Stats``)."""
    try:
        with _livestatus_client(address, timeout) as client:
            answers = [client.query(query) for query in COUNT_QUERIES]
    except (LivestatusError, ValueError) as exc:
        raise _livestatus_failure(address, exc) from None
    start = answers[0][0].get("program_start") if answers[0] else None
    hosts, services = (int(rows[0].get("total") or 0) if rows else 0 for rows in answers[1:])
    return CoreCounts(int(start) if isinstance(start, int | float) else None, hosts, services)
