"""A real Livestatus server for tests and benchmarks: Debian's Icinga 2 in the foreground.

``IcingaServer`` writes a small self-contained configuration (constants,
two ``LivestatusListener`` objects - a unix socket and TCP on 127.0.0.1 -, the
checker, hosts and passive services) under ``var/test/icinga2-<worker>-<pid>/``,
starts ``icinga2 daemon`` with every path set on the command line, waits until
the unix socket answers ``GET status``, and stops it afterwards.

Services are passive (``enable_active_checks = false``) so their state only
changes through ``PROCESS_SERVICE_CHECK_RESULT``; their check command is
Icinga's built-in ``dummy`` so a forced check has something to run.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

REPO_ROOT = Path(__file__).resolve().parents[2]
VAR_TEST = REPO_ROOT / "var" / "test"

T = TypeVar("T")


class GiveUp(Exception):
    """Raised by a probe to stop ``wait_until`` at once (e.g. the daemon exited)."""


def find_icinga2() -> str | None:
    """Path of the icinga2 binary, or None (it lives in /usr/sbin, often not on PATH)."""
    return shutil.which("icinga2") or shutil.which("icinga2", path="/usr/sbin:/usr/bin:/sbin")


def wait_until(
    probe: Callable[[], T | None],
    *,
    timeout: float = 10.0,
    interval: float = 0.05,
    what: str = "condition",
) -> T:
    """Call ``probe`` until it returns something other than None/False; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = probe()
        except GiveUp:
            raise
        except Exception as exc:  # the server may be between processes
            last_error = exc
            result = None
        if result is not None and result is not False:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} not reached within {timeout}s (last error: {last_error!r})")
        time.sleep(interval)


def free_tcp_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def icinga_string(value: str) -> str:
    """A double-quoted Icinga 2 config string."""
    if "\n" in value or "\r" in value:
        raise ValueError(f"no line breaks in Icinga 2 strings: {value!r}")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def raw_request(path: str, request: bytes, timeout: float = 5.0) -> bytes:
    """Send bytes to a unix socket, half-close, read everything: no client code involved."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


@dataclass
class Service:
    """A passive service; ``dummy_state``/``dummy_text`` is what a forced check reports."""

    description: str
    vars: Mapping[str, str] = field(default_factory=dict)
    dummy_state: int = 0
    dummy_text: str = "dummy check ran"
    groups: Sequence[str] = ()
    #: Object attributes such as notes_url and action_url (their Livestatus columns have the same names).
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Host:
    """A passive host and its services."""

    name: str
    services: Sequence[Service] = ()
    groups: Sequence[str] = ()
    vars: Mapping[str, str] = field(default_factory=dict)


#: Quotes, a backslash, parentheses, a hash, a dollar and non-ASCII: legal in
#: Icinga 2, and exactly what a query builder must carry as data.
ODD_HOST = "odd host (ü) 'q' \"dq\" \\ #1 $x"
#: A legal Icinga 2 service name that no external command can address.
SEMICOLON_SERVICE = "weird; svc"

DEFAULT_HOSTS: tuple[Host, ...] = (
    Host(
        "web-01",
        services=(
            Service("http", vars={"owner": "team-web"}),
            Service("disk"),
            Service("load"),
            Service("ack-me"),
            Service("downtime-me"),
            Service("check-me", dummy_state=1, dummy_text="forced check ran"),
            Service("crit-me"),
        ),
        groups=("linux", "web"),
        vars={"os": "linux"},
    ),
    Host(
        "db-01",
        services=(Service("postgres", vars={"owner": "team-db"}), Service("disk")),
        groups=("linux",),
    ),
    Host(ODD_HOST, services=(Service("disk"), Service(SEMICOLON_SERVICE))),
)


def render_config(
    hosts: Sequence[Host],
    *,
    socket_path: str,
    tcp_port: int,
    groups: Sequence[str] = (),
    compat_log_dir: str = "",
) -> str:
    """The whole Icinga 2 configuration: features, a dummy command, groups, hosts, services.

    With ``compat_log_dir``, the CompatLogger feature writes Nagios-style log files there
    and both listeners read them: that is what Icinga 2's Livestatus ``log`` table serves.
    """
    group_names = sorted({g for h in hosts for g in h.groups} | set(groups))
    service_group_names = sorted({g for h in hosts for s in h.services for g in s.groups})
    compat = [f"  compat_log_path = {icinga_string(compat_log_dir)}"] if compat_log_dir else []
    out = [
        "// Written by tests/services/icinga.py; regenerated on every run.",
        'const NodeName = "livestatus-test"',
        'object LivestatusListener "livestatus-unix" {',
        '  socket_type = "unix"',
        f"  socket_path = {icinga_string(socket_path)}",
        *compat,
        "}",
        'object LivestatusListener "livestatus-tcp" {',
        '  socket_type = "tcp"',
        '  bind_host = "127.0.0.1"',
        f'  bind_port = "{tcp_port}"',
        *compat,
        "}",
        'object CheckerComponent "checker" { }',
        # Icinga's built-in dummy check, as the ITL defines it, without the ITL.
        'object CheckCommand "dummy" {',
        '  import "dummy-check-command"',
        "  vars.dummy_state = 0",
        '  vars.dummy_text = "dummy check ran"',
        "}",
    ]
    if compat_log_dir:
        out += ['object CompatLogger "compatlog" {', f"  log_dir = {icinga_string(compat_log_dir)}", "}"]
    for group in group_names:
        out.append(f"object HostGroup {icinga_string(group)} {{ }}")
    for group in service_group_names:
        out.append(f"object ServiceGroup {icinga_string(group)} {{ }}")
    for host in hosts:
        out.append(f"object Host {icinga_string(host.name)} {{")
        out.append('  check_command = "dummy"')
        out.append("  enable_active_checks = false")
        out.append("  max_check_attempts = 1")
        if host.groups:
            out.append("  groups = [ " + ", ".join(icinga_string(g) for g in host.groups) + " ]")
        for key, value in host.vars.items():
            out.append(f"  vars[{icinga_string(key)}] = {icinga_string(value)}")
        out.append("}")
        for service in host.services:
            out.append(f"object Service {icinga_string(service.description)} {{")
            out.append(f"  host_name = {icinga_string(host.name)}")
            out.append('  check_command = "dummy"')
            out.append("  enable_active_checks = false")
            out.append("  max_check_attempts = 1")
            out.append("  check_interval = 1h")
            out.append(f"  vars.dummy_state = {int(service.dummy_state)}")
            out.append(f"  vars.dummy_text = {icinga_string(service.dummy_text)}")
            if service.groups:
                out.append("  groups = [ " + ", ".join(icinga_string(g) for g in service.groups) + " ]")
            for key, value in service.vars.items():
                out.append(f"  vars[{icinga_string(key)}] = {icinga_string(value)}")
            for key, value in service.attributes.items():
                out.append(f"  {key} = {icinga_string(value)}")
            out.append("}")
    return "\n".join(out) + "\n"


class IcingaServer:
    """One Icinga 2 daemon with Livestatus on a unix socket and on TCP."""

    def __init__(
        self,
        *,
        binary: str,
        name: str = "",
        hosts: Sequence[Host] = DEFAULT_HOSTS,
        base_dir: Path | None = None,
    ) -> None:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        suffix = f"{name}-" if name else ""
        self.binary = binary
        self.hosts = hosts
        self.base_dir = base_dir or VAR_TEST / f"icinga2-{suffix}{worker}-{os.getpid()}"
        self.config_path = self.base_dir / "icinga2.conf"
        self.log_path = self.base_dir / "icinga2.out"
        self.socket_path = self.base_dir / "live.sock"
        #: Where the CompatLogger writes the history that the ``log`` table serves.
        self.compat_log_dir = self.base_dir / "log" / "compat"
        self._socket_tmp: str | None = None
        if len(str(self.socket_path)) > 100:  # sun_path is 108 bytes
            self._socket_tmp = tempfile.mkdtemp(prefix="ls-")
            self.socket_path = Path(self._socket_tmp) / "live.sock"
        self.tcp_port = free_tcp_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def unix_address(self) -> str:
        """``unix:/…/live.sock``."""
        return f"unix:{self.socket_path}"

    @property
    def tcp_address(self) -> str:
        """``tcp:127.0.0.1:<port>``."""
        return f"tcp:127.0.0.1:{self.tcp_port}"

    def __enter__(self) -> IcingaServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def command_line(self) -> list[str]:
        """``icinga2 daemon`` with every directory Icinga would otherwise take from /var."""
        dirs = {
            "DataDir": "data",
            "LogDir": "log",
            "CacheDir": "cache",
            "SpoolDir": "spool",
            "InitRunDir": "run",
        }
        if os.getuid() == 0:
            user, group = "root", "root"
        else:
            user = pwd.getpwuid(os.getuid()).pw_name
            group = grp.getgrgid(os.getgid()).gr_name
        return [
            self.binary,
            "daemon",
            "--config",
            str(self.config_path),
            *(f"--define={const}={self.base_dir / sub}" for const, sub in dirs.items()),
            # Stay the user we are: root in CI and here, yourself on a laptop.
            f"--define=RunAsUser={user}",
            f"--define=RunAsGroup={group}",
        ]

    def start(self, timeout: float = 30.0) -> None:
        """Write the config, start the daemon, wait until Livestatus answers."""
        if self.base_dir.exists():
            shutil.rmtree(self.base_dir)
        for sub in ("data", "log/compat/archives", "cache", "spool", "run/icinga2"):
            (self.base_dir / sub).mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            render_config(
                self.hosts,
                socket_path=str(self.socket_path),
                tcp_port=self.tcp_port,
                compat_log_dir=str(self.compat_log_dir),
            ),
            encoding="utf-8",
        )
        with open(self.log_path, "wb") as log:
            # Own session: Icinga forks a worker and a check helper; stop() ends the group.
            self.process = subprocess.Popen(
                self.command_line(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def wait_ready(self, timeout: float = 30.0) -> dict[str, Any]:
        """Poll ``GET status`` on the unix socket until it answers (and TCP accepts)."""

        def probe() -> dict[str, Any] | None:
            if self.process is not None and self.process.poll() is not None:
                raise GiveUp(f"icinga2 exited with {self.process.returncode}:\n{self.log_tail()}")
            status = self.status()
            with socket.create_connection(("127.0.0.1", self.tcp_port), timeout=1):
                pass
            return status

        try:
            return wait_until(probe, timeout=timeout, what="icinga2 Livestatus")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n{self.log_tail()}") from None

    def status(self) -> dict[str, Any]:
        """``GET status`` through a raw socket (independent of the client under test)."""
        import json

        reply = raw_request(
            str(self.socket_path),
            b"GET status\nColumns: program_start nagios_pid program_version\n"
            b"OutputFormat: json\nResponseHeader: fixed16\n\n",
            timeout=2,
        )
        if not reply.startswith(b"200"):
            raise RuntimeError(f"GET status answered {reply[:200]!r}")
        start, pid, version = json.loads(reply[16:])[0]
        return {"program_start": start, "nagios_pid": pid, "program_version": version}

    def reload(self) -> None:
        """SIGHUP: Icinga starts a new worker; the socket vanishes for about a second."""
        assert self.process is not None
        self.process.send_signal(signal.SIGHUP)

    def stop(self, timeout: float = 20.0) -> None:
        """Terminate, wait, kill what is left of the process group; remove the files."""
        process, self.process = self.process, None
        if process is not None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)
            # The worker and check helper share the group we created; end stragglers.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        if self._socket_tmp:
            shutil.rmtree(self._socket_tmp, ignore_errors=True)
        if os.environ.get("KEEP_ICINGA_DIR") != "1":
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        """The end of the daemon's console log, for failure messages."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def running_icinga(binary: str, **options: Any) -> Iterator[IcingaServer]:
    """``with running_icinga(binary) as server: ...``."""
    server = IcingaServer(binary=binary, **options)
    server.start()
    try:
        yield server
    finally:
        server.stop()
