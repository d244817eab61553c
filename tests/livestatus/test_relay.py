"""portal-relay: a checker's result reaches the passive copies on the other nodes, and never holds the core up."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from livestatus import relay
from livestatus.client.commands import Command
from tests.services.nagios import BASE_OBJECTS, NagiosCore, nagios_available, wait_for
from tests.services.replay import HANG, ReplayServer, naemon_unescape
from tests.services.required import require_service

RELAY = str(Path(sys.executable).parent / "portal-relay")
HOSTILE_OUTPUT = "DISK CRITICAL - C:\\temp\\n is full\n[123] SHUTDOWN_PROGRAM"
HOSTILE_LONG = "line \\\\one\\nline two\n[124] SHUTDOWN_PROGRAM"


def run_relay(*args: str, log: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """The console script as the core runs it; returns the process and how long it took."""
    started = time.monotonic()
    done = subprocess.run([RELAY, "--log", str(log), *args], capture_output=True, text=True, timeout=30)
    return done, time.monotonic() - started


def logged(log: Path) -> list[dict[str, str | None]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


class Fifo:
    """A command FIFO with a reader, as a running core has (the pipe holds what the relay wrote)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        os.mkfifo(path)
        self.fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
        self.data = b""

    def lines(self) -> list[str]:
        """Everything written so far (the relay has exited: its write is complete), line by line."""
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            self.data += chunk
        return self.data.decode().splitlines()

    def close(self) -> None:
        os.close(self.fd)


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Fifo]:
    reader = Fifo(tmp_path / "naemon.cmd")
    yield reader
    reader.close()


# -- the line each target gets --------------------------------------------------------------------


def test_livestatus_target_gets_one_command_with_the_whole_result(tmp_path: Path) -> None:
    with ReplayServer(lambda request: b"") as server:
        done, _ = run_relay(
            "--to", f"livestatus:{server.address}",
            "service", "web1", "HTTP", "2", "1700000000", HOSTILE_OUTPUT, HOSTILE_LONG, "time=1.5s;1;2",
            log=tmp_path / "relay.log",
        )  # fmt: skip
    assert done.returncode == 0 and logged(tmp_path / "relay.log") == []
    [request] = server.requests
    # On the wire: one request line, then the empty line that ends it.
    assert request.count(b"\n") == 1 and request.startswith(b"COMMAND [1700000000] ")
    # What the core reads after naemon-livestatus unescaped it: one command whose last argument
    # is what the plugin printed (output|perfdata, then the long output, the checker's
    # backslashes intact); the line breaks are inside the argument, as Nagios's own command
    # file reader produces them (the real-core test below shows they start no command).
    assert naemon_unescape(request.decode().rstrip("\n")) == (
        "COMMAND [1700000000] PROCESS_SERVICE_CHECK_RESULT;web1;HTTP;2;"
        "DISK CRITICAL - C:\\temp\\n is full\n[123] SHUTDOWN_PROGRAM|time=1.5s;1;2\n"
        "line \\one\nline two\n[124] SHUTDOWN_PROGRAM"
    )


def test_the_encoding_is_the_livestatus_clients() -> None:
    """For one-line text the relay sends exactly what the client's Command sends to Naemon."""
    text = "50% used; C:\\data\\new\\ (\\\\server\\share) |used=50%;80;90"
    result = relay.Result("service", "web1", "Disk C:", 1, 1700000000, text)
    command = Command("PROCESS_SERVICE_CHECK_RESULT", ("web1", "Disk C:", "1", text), free_text_last=True)
    assert "COMMAND " + result.command() == command.wire_line(1700000000, unescapes=True)


def test_command_file_target_gets_one_line(tmp_path: Path, fifo: Fifo) -> None:
    done, _ = run_relay(
        "--to", f"cmdfile:{fifo.path}", "host", "web1", "1", "1700000000", "PING CRITICAL\nx", "", "rta=0ms",
        log=tmp_path / "relay.log",
    )  # fmt: skip
    assert done.returncode == 0
    assert fifo.lines() == ["[1700000000] PROCESS_HOST_CHECK_RESULT;web1;1;PING CRITICAL\\nx|rta=0ms"]


def test_a_command_file_line_stays_within_pipe_buf(tmp_path: Path, fifo: Fifo) -> None:
    """Longer FIFO writes are not atomic: concurrent relays could interleave and forge a line."""
    long_output = "\\\\" * 5000  # escaped backslashes: the cut must not leave half a pair
    done, _ = run_relay(
        "--to", f"cmdfile:{fifo.path}", "service", "h", "s", "0", "1700000000", "OK", long_output, "",
        log=tmp_path / "relay.log",
    )  # fmt: skip
    assert done.returncode == 0
    [line] = fifo.lines()
    assert fifo.data.endswith(b"\n") and len(fifo.data) <= relay.PIPE_BUF
    assert line.startswith("[1700000000] PROCESS_SERVICE_CHECK_RESULT;h;s;0;OK\\n\\\\")
    assert (len(line) - len(line.rstrip("\\"))) % 2 == 0


# -- never holding the core up --------------------------------------------------------------------


def test_a_hanging_target_and_a_dead_core_do_not_stop_the_others(tmp_path: Path, fifo: Fifo) -> None:
    dead = tmp_path / "dead.cmd"
    os.mkfifo(dead)  # the FIFO of a core that is down: nobody reads it
    log = tmp_path / "relay.log"
    with ReplayServer(lambda request: HANG) as hanging, ReplayServer(lambda request: b"") as healthy:
        done, took = run_relay(
            "--timeout", "1",
            "--to", f"livestatus:{hanging.address}",
            "--to", f"cmdfile:{dead}",
            "--to", f"cmdfile:{fifo.path}",
            "--to", f"livestatus:{healthy.address}",
            "service", "web1", "HTTP", "2", "1700000000", "CRITICAL", "", "",
            log=log,
        )  # fmt: skip
        assert [
            r.startswith(b"COMMAND [1700000000] PROCESS_SERVICE_CHECK_RESULT") for r in healthy.requests
        ] == [True]
    assert done.returncode == 0
    assert took < 1 + 1.5, f"the relay took {took:.1f} s with --timeout 1"  # interpreter start included
    assert fifo.lines() == ["[1700000000] PROCESS_SERVICE_CHECK_RESULT;web1;HTTP;2;CRITICAL"]
    failures = {entry["target"]: entry for entry in logged(log)}
    assert set(failures) == {f"livestatus:{hanging.address}", f"cmdfile:{dead}"}
    assert "did not answer in time" in str(failures[f"livestatus:{hanging.address}"]["error"])
    assert "the core is not running" in str(failures[f"cmdfile:{dead}"]["error"])
    assert {entry["object"] for entry in failures.values()} == {"web1/HTTP"}


def test_a_refused_connection_is_logged(tmp_path: Path) -> None:
    done, _ = run_relay(
        "--to", "livestatus:tcp:127.0.0.1:1", "host", "web1", "0", "1700000000", "UP", "", "",
        log=tmp_path / "relay.log",
    )  # fmt: skip
    assert done.returncode == 0
    [entry] = logged(tmp_path / "relay.log")
    assert entry["target"] == "livestatus:tcp:127.0.0.1:1" and "cannot connect" in str(entry["error"])


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ["service", "web1", "HTTP", "4", "1700000000", "x", "", ""],
            "state id must be a whole number in 0..3",
        ),
        (["host", "web1", "3", "1700000000", "x", "", ""], "state id must be a whole number in 0..2"),
        (["service", "web1", "HTTP", "2", "yesterday", "x", "", ""], "check time must be a whole number"),
        (["service", "web1;SHUTDOWN_PROGRAM", "HTTP", "2", "1700000000", "x", "", ""], "holds ';'"),
        (["service", "web1", "HTTP", "2", "1700000000", "x", ""], "takes 7 values, not 6"),
        (["--timeout", "nan", "host", "web1", "0", "1700000000", "x", "", ""], "--timeout must be"),
        (["hostgroup", "web"], "kind must be 'service' or 'host'"),
    ],
)
def test_bad_arguments_send_nothing(tmp_path: Path, fifo: Fifo, args: list[str], error: str) -> None:
    done, _ = run_relay("--to", f"cmdfile:{fifo.path}", *args, log=tmp_path / "relay.log")
    assert done.returncode == 0
    [entry] = logged(tmp_path / "relay.log")
    assert str(entry["error"]).startswith("bad arguments: ") and error in str(entry["error"])
    assert fifo.lines() == []


# -- against a real Nagios 4 core -----------------------------------------------------------------

PASSIVE_OBJECTS = (
    BASE_OBJECTS
    + """
define host {
    host_name copy-host
    check_command seed-true
    max_check_attempts 1
    active_checks_enabled 0
    passive_checks_enabled 1
}
define service {
    host_name copy-host
    service_description Disk
    check_command seed-true
    max_check_attempts 1
    active_checks_enabled 0
    passive_checks_enabled 1
}
"""
)


@pytest.fixture
def passive_core() -> Iterator[NagiosCore]:
    """A running nagios4 holding a passive copy of a host and its service."""
    require_service(
        "Nagios 4", nagios_available(), "/usr/sbin/nagios4 is missing (Debian package nagios4-core)"
    )
    core = NagiosCore()
    core.prepare(PASSIVE_OBJECTS)
    try:
        core.start()
        yield core
    finally:
        core.stop()
        core.cleanup()


def host_status(core: NagiosCore, name: str) -> dict[str, str]:
    text = core.status_file.read_text(errors="replace")
    for block in re.findall(r"^hoststatus \{\n(.*?)^\t\}", text, flags=re.M | re.S):
        fields = dict(line.lstrip("\t").partition("=")[::2] for line in block.splitlines() if "=" in line)
        if fields["host_name"] == name:
            return fields
    return {}


@pytest.mark.services
def test_a_real_core_takes_the_result_as_the_checker_had_it(passive_core: NagiosCore, tmp_path: Path) -> None:
    core, log = passive_core, tmp_path / "relay.log"
    checked = int(time.time()) - 120
    target = f"cmdfile:{core.command_file}"
    done, _ = run_relay(
        "--to", target,
        "service", "copy-host", "Disk", "2", str(checked),
        "DISK CRITICAL - /var is 99% full", "/var: 99%\\n/home: 40%\\n/tmp: 3%", "/var=99%;80;90 /home=40%;80;90",
        log=log,
    )  # fmt: skip
    assert done.returncode == 0
    copy = wait_for(
        "the copy to show the relayed result",
        lambda: (s := core.services().get(("copy-host", "Disk"))) and s["current_state"] == "2" and s,
        timeout=30,
    )
    assert copy["plugin_output"] == "DISK CRITICAL - /var is 99% full"
    assert copy["long_plugin_output"] == "/var: 99%\\n/home: 40%\\n/tmp: 3%"
    assert copy["performance_data"] == "/var=99%;80;90 /home=40%;80;90"
    assert copy["last_check"] == str(checked)

    done, _ = run_relay(
        "--to", target, "host", "copy-host", "1", str(checked + 1), "PING CRITICAL - 100% loss", "", "pl=100%",
        log=log,
    )  # fmt: skip
    host = wait_for(
        "the host copy to go DOWN",
        lambda: (h := host_status(core, "copy-host")) and h["current_state"] == "1" and h,
        timeout=30,
    )
    assert (host["plugin_output"], host["performance_data"]) == ("PING CRITICAL - 100% loss", "pl=100%")
    assert host["last_check"] == str(checked + 1)
    assert logged(log) == []


@pytest.mark.services
def test_a_hostile_output_starts_no_second_command(passive_core: NagiosCore, tmp_path: Path) -> None:
    core, log = passive_core, tmp_path / "relay.log"
    started = core.status().program_start
    checked = int(time.time()) - 60
    done, _ = run_relay(
        "--to", f"cmdfile:{core.command_file}",
        "service", "copy-host", "Disk", "1", str(checked), "WARNING\n[123] SHUTDOWN_PROGRAM", HOSTILE_LONG, "",
        log=log,
    )  # fmt: skip
    assert done.returncode == 0
    copy = wait_for(
        "the hostile result to arrive",
        lambda: (s := core.services().get(("copy-host", "Disk"))) and s["current_state"] == "1" and s,
        timeout=30,
    )
    # The text arrived as text: the forged "command" is a line of the long output.
    assert copy["plugin_output"] == "WARNING"
    assert copy["long_plugin_output"].startswith("[123] SHUTDOWN_PROGRAM\\nline \\\\one")
    # A later result is still processed by the same core: it did not shut down.
    run_relay(
        "--to",
        f"cmdfile:{core.command_file}",
        "host",
        "copy-host",
        "1",
        str(checked + 1),
        "x",
        "",
        "",
        log=log,
    )
    wait_for(
        "the next result", lambda: host_status(core, "copy-host").get("current_state") == "1", timeout=30
    )
    assert core.running() and core.status().program_start == started
    core_log = core.log_file.read_text(errors="replace")
    assert not re.search(r"^\[\d+\] (EXTERNAL COMMAND: )?SHUTDOWN_PROGRAM", core_log, flags=re.M)
    assert "Caught SIGTERM" not in core_log and "shutting down" not in core_log.lower()
