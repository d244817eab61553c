"""Three real Nagios 4 cores as one portal cluster: master-a, master-b and poller-1.

Each node is a NagiosCore under its own var/test/ directory with a Livestatus front
(``nagios_livestatus``), fast intervals, active checks and notifications on, and the
obsessive-compulsive commands (``portal-relay-service`` / ``portal-relay-host``) that the portal
renders into every node's config, so that the checker hands each result to the other holders
(docs/cluster.md). Before the first deploy the cores run a seed config that defines those two
commands as /bin/true: Nagios refuses a main config whose ``ocsp_command`` is undefined.

What the test controls and reads, shared by the three nodes (one directory beside them):

* ``state/<host>__<service>``: the exit code (first line) and output (the rest) of the real check
  command, ``check.sh``; no file: OK. A host check reads ``state/<host>__``.
* ``checks.log``: one line ``node host service`` per check run, so a test sees who checks.
* ``notifications.log``: one line ``node contact type host service state`` per notification
  that went out (the contact's real command, behind the notify-filter).

Which node ran a command comes from ``$USER2$``, set to the node's name in each core's
resource file (a resource macro: the portal leaves it unquoted, and the value is the core's).
"""

from __future__ import annotations

import os
import shutil
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.preferences.conftest import NotifyingCore
from tests.services.nagios import BASE_OBJECTS, REPO, NagiosCore, wait_for
from tests.services.nagios_livestatus import NagiosLivestatus

MASTERS = ("master-a", "master-b")
POLLER = "poller-1"
NODES = (*MASTERS, POLLER)

CHECK_SCRIPT = """#!/bin/sh
# A real check: exit code and output from the file the test writes; each run logged with its node.
node="$1"; host="$2"; service="$3"
printf '%s %s %s\\n' "$node" "$host" "${{service:--}}" >> {log}
file="{state}/${{host}}__${{service}}"
if [ ! -r "$file" ]; then echo "OK - nothing set for $host $service"; exit 0; fi
tail -n +2 "$file"
exit "$(head -n 1 "$file")"
"""
NOTIFY_SCRIPT = """#!/bin/sh
# The contact's real notification command: node contact type host service state, one line each.
printf '%s %s %s %s %s %s\\n' "$1" "$2" "$3" "$4" "$5" "$6" >> {log}
"""
RELAY_WRAPPER = """#!/bin/sh
# portal-relay for a core whose user cannot run the virtualenv's interpreter (as the notify-filter
# wrapper beside it): the relay is plain Python without dependencies.
PYTHONPATH={repo} exec {python} -m livestatus.relay "$@"
"""
# The seed config's stand-ins for the commands the main config names (replaced by the first deploy).
SEED_RELAY = """
define command {
    command_name portal-relay-service
    command_line /bin/true
}
define command {
    command_name portal-relay-host
    command_line /bin/true
}
"""


class ClusterCore(NotifyingCore):
    """One node's core: notifications on, obsessing through the portal's relay commands, $USER2$ = its name."""

    def __init__(self, node: str, run: str) -> None:
        NagiosCore.__init__(self, f"cluster-{run}-{node}")
        self.node = node
        self.notify_dir = self.dir / "notify"
        self.sent_log = self.dir / "sent.log"  # NotifyingCore's own log; the cluster's is shared
        self.notify_script = self.dir / "notify.sh"
        self.resource_file = self.dir / "resource.cfg"
        self.front = NagiosLivestatus(self)

    def main_config_text(self, cfg_dir: Path | None = None) -> str:
        text = super().main_config_text(cfg_dir)
        for off in ("execute_host_checks", "execute_service_checks"):
            text = text.replace(f"{off}=0", f"{off}=1")
        return text + "\n".join(
            [
                f"resource_file={self.resource_file}",
                "obsess_over_services=1",
                "obsess_over_hosts=1",
                "ocsp_command=portal-relay-service",
                "ochp_command=portal-relay-host",
                "ocsp_timeout=5",
                "ochp_timeout=5",
                "check_service_freshness=1",
                "check_host_freshness=1",
                "service_freshness_check_interval=1",
                "host_freshness_check_interval=1",
                "additional_freshness_latency=1",
                # After each (re)start Nagios spreads the first checks over max_*_check_spread
                # "minutes" of interval_length (1 s here): 30 s by default, longer than a test waits.
                "max_host_check_spread=2",
                "max_service_check_spread=2",
                # A failover redeploys (restarts) cores: acknowledgements and notification state
                # must survive it, as on a real site.
                "retain_state_information=1",
                "retention_update_interval=1",
                "",
            ]
        )

    def prepare(self, objects: str = BASE_OBJECTS + SEED_RELAY) -> None:
        super().prepare(objects)
        self.resource_file.write_text(f"$USER2$={self.node}\n")
        self.own()

    def relay_path(self, filter_path: str) -> str:
        """A ``portal-relay`` beside the notify-filter (where the node's ``relay_program`` looks)."""
        path = Path(filter_path).parent / "portal-relay"
        if path.exists():
            return str(path)
        python = next(p for p in ("/usr/bin/python3", "/usr/bin/python3.11") if os.access(p, os.X_OK))
        path.write_text(RELAY_WRAPPER.format(repo=REPO, python=python))
        path.chmod(0o755)
        return str(path)

    def start(self, timeout: float = 30.0) -> None:
        super().start(timeout)
        self.front.start()

    def kill(self) -> None:
        """SIGKILL the core (no clean shutdown, no retention save) and silence its Livestatus."""
        self.front.stop()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        self.front.stop()
        super().stop()


@dataclass
class Cluster:
    """The three cores and the files the test shares with them."""

    dir: Path
    cores: dict[str, ClusterCore]

    @classmethod
    def create(cls) -> Cluster:
        run = uuid.uuid4().hex[:6]
        base = REPO / "var" / "test" / f"cluster-{run}"
        (base / "state").mkdir(parents=True)
        cluster = cls(base, {node: ClusterCore(node, run) for node in NODES})
        (base / "check.sh").write_text(CHECK_SCRIPT.format(log=cluster.checks_log, state=base / "state"))
        (base / "notify.sh").write_text(NOTIFY_SCRIPT.format(log=cluster.notifications_log))
        for script in ("check.sh", "notify.sh"):
            (base / script).chmod(0o755)
        return cluster

    @property
    def checks_log(self) -> Path:
        return self.dir / "checks.log"

    @property
    def notifications_log(self) -> Path:
        return self.dir / "notifications.log"

    def own(self) -> None:
        """The cores' user writes the logs and reads the state files."""
        user = self.cores[POLLER].user
        if user:
            for path in (self.dir, self.dir / "state", *self.dir.iterdir(), *(self.dir / "state").iterdir()):
                shutil.chown(path, user, user)

    def start(self) -> None:
        for core in self.cores.values():
            core.prepare()
        self.own()
        for core in self.cores.values():
            core.start()

    def stop(self) -> None:
        for core in self.cores.values():
            core.stop()

    def cleanup(self) -> None:
        for core in self.cores.values():
            core.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- what the test sets ----------------------------------------------------------------

    def set_check(self, host: str, service: str, code: int, output: str) -> None:
        """What the next run of the real check of ``host``/``service`` exits with and prints."""
        path = self.dir / "state" / f"{host}__{service}"
        temporary = path.with_suffix(".tmp")
        temporary.write_text(f"{code}\n{output}\n")
        os.replace(temporary, path)  # a check never reads half a file
        self.own()

    # -- what the test reads ---------------------------------------------------------------

    def check_runs(self) -> list[tuple[str, str, str]]:
        """(node, host, service) per check run, in order (service "-" for a host check)."""
        return [_fields(line, 3) for line in _lines(self.checks_log)]  # type: ignore[misc]

    def notifications(self) -> list[tuple[str, str, str, str, str, str]]:
        """(node, contact, type, host, service, state) per notification sent."""
        return [_fields(line, 6) for line in _lines(self.notifications_log)]  # type: ignore[misc]

    def node_fields(self, node: str, filter_path: str) -> dict[str, Any]:
        """The node's API body: where its core lives, its Livestatus front, how results reach it."""
        core = self.cores[node]
        return {
            "name": node,
            "role": "poller" if node == POLLER else "master",
            "livestatus": core.front.address,
            "notify_filter_path": filter_path,
            # Nagios 4 has no Livestatus module: the relay writes to the core's command file.
            "relay_address": f"cmdfile:{core.command_file}",
            **core.node_fields(),
        }


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except FileNotFoundError:
        return []


def _fields(line: str, count: int) -> tuple[str, ...]:
    parts = line.split(" ", count - 1)
    return tuple(parts + [""] * (count - len(parts)))


def filter_path(core: ClusterCore) -> str:
    """The notify-filter the core's user can run (NotifyingCore's rule), with portal-relay beside it."""
    path = core.filter_path()
    core.relay_path(path)
    return path


def started_cluster() -> Iterator[Cluster]:
    """A running cluster (for a fixture); stopped and removed afterwards."""
    cluster = Cluster.create()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        cluster.cleanup()


def poll(what: str, check: Any, timeout: float, *, interval: float = 0.5, each: Any = None) -> Any:
    """``wait_for`` that runs ``each()`` (e.g. the failover task, as beat would) before every look."""

    def look() -> Any:
        if each is not None:
            each()
        return check()

    return wait_for(what, look, timeout, interval)


def stays(what: str, check: Any, seconds: float, *, interval: float = 0.5) -> None:
    """``check()`` holds for ``seconds``: the only way to see that a duplicate did NOT come."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert check(), what
        time.sleep(interval)
    assert check(), what
