"""Start or stop the ``make run`` demo core: Icinga 2 with Livestatus, wired to the demo node.

Debian's nagios4 has no Livestatus, and the status pages, actions and the wall read through
Livestatus; Debian's Icinga 2 has it (feature livestatus). So when ``icinga2`` is installed,
``demo_core start`` writes a small Icinga 2 configuration under ``var/demo/icinga2/`` - the
registry's hosts and services defined natively, with Icinga's built-in ``dummy`` check giving a
fixed mix of OK, WARNING and CRITICAL -, starts ``icinga2 daemon`` in its own session, waits
until Livestatus answers and points node ``local`` at its unix socket. The node's reload method
stays ``none``: Icinga runs its own demo objects, not the config the portal renders.
``demo_core stop`` ends the daemon named in the pid file and detaches the node again.
Without ``icinga2`` it says plainly that no core is attached and how to attach one.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from livestatus.client import LivestatusClient, LivestatusError
from monitoring_portal.management.commands.load_demo import DEMO_NODE_ALIAS
from registry.models import Host, NaemonNode

#: What the node page says while the demo core is attached: it is not the rendered config.
ATTACHED_ALIAS = "Demo node - demo core: Icinga 2 with its own demo objects; deployments are rendered only"
#: (host, service) -> (state, output) for the demo site; every other check is OK.
DEMO_RESULTS = {
    ("web02", "HTTP"): (1, "HTTP WARNING: HTTP/1.1 200 OK - 2.8 second response time"),
    ("db02", "PostgreSQL"): (2, "CRITICAL - no connection to 'postgres' (Connection refused)"),
}
#: Checks run this often, so a fresh demo shows real states within seconds of starting.
CHECK_INTERVAL = "15s"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
SUN_PATH_MAX = 100  # sun_path holds 108 bytes


def find_icinga2() -> str | None:
    """Path of the icinga2 binary, or None (Debian puts it in /usr/sbin, often not on PATH)."""
    return shutil.which("icinga2") or shutil.which("icinga2", path="/usr/sbin:/usr/bin:/sbin")


def icinga_string(value: str) -> str:
    """A double-quoted Icinga 2 config string."""
    if "\n" in value or "\r" in value:
        raise ValueError(f"no line breaks in Icinga 2 strings: {value!r}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def core_status(node: NaemonNode) -> str:
    """Say plainly whether the demo node has a core behind it, and how to attach one."""
    if node.livestatus:
        return f"Naemon core: node '{node.name}' reads Livestatus at {node.livestatus}."
    # An installed nagios4 only verifies the rendered config: it has no Livestatus to read.
    verified = " (config verified with nagios4 -v)" if node.verify_command else ""
    return (
        f"No Naemon core attached: deploys render into {node.config_dir}{verified}, but status "
        "pages, actions and the wall have no data. To attach a Naemon with Livestatus, set "
        f"the Livestatus address and reload method of node '{node.name}' (PATCH "
        f"/api/v1/registry/nodes/{node.name}/, as staff) and see docs/cluster.md, "
        '"Setting up a Naemon node"; or install icinga2 and `make run` starts a demo core.'
    )


class DemoCore:
    """The files of the demo Icinga 2 under ``<var>/demo/icinga2/`` and its process."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self.config_path = base_dir / "icinga2.conf"
        self.log_path = base_dir / "icinga2.out"
        self.pid_path = base_dir / "icinga2.pid"
        self.socket_path = base_dir / "live.sock"

    @property
    def address(self) -> str:
        """The Livestatus address the demo node reads."""
        return f"unix:{self.socket_path}"

    def render(self) -> str:
        """The whole configuration: Livestatus, checker, compat log, the registry's objects."""
        compat_dir = icinga_string(str(self.base_dir / "log" / "compat"))
        out = [
            "// Written by `manage.py demo_core start` for `make run`; regenerated on every start.",
            'const NodeName = "portal-demo"',
            'object LivestatusListener "livestatus" {',
            '  socket_type = "unix"',
            f"  socket_path = {icinga_string(str(self.socket_path))}",
            f"  compat_log_path = {compat_dir}",
            "}",
            'object CheckerComponent "checker" { }',
            # The history that Livestatus' log table (timelines, availability) serves.
            f'object CompatLogger "compatlog" {{ log_dir = {compat_dir} }}',
            # Icinga's built-in dummy check without the ITL: no plugins needed.
            'object CheckCommand "dummy" { import "dummy-check-command" }',
        ]
        hosts = list(Host.objects.prefetch_related("hostgroups", "services__servicegroups").order_by("name"))
        for group in sorted({g.name for h in hosts for g in h.hostgroups.all()}):
            out.append(f"object HostGroup {icinga_string(group)} {{ }}")
        for group in sorted({g.name for h in hosts for s in h.services.all() for g in s.servicegroups.all()}):
            out.append(f"object ServiceGroup {icinga_string(group)} {{ }}")
        for host in hosts:
            out += [
                f"object Host {icinga_string(host.name)} {{",
                f"  address = {icinga_string(host.address)}",
                *self._check_lines(0, "PING OK - Packet loss = 0%, RTA = 0.42 ms"),
                *self._groups_line([g.name for g in host.hostgroups.all()]),
                "}",
            ]
            for service in host.services.all():
                state, text = DEMO_RESULTS.get(
                    (host.name, service.description), (0, f"{service.description} OK")
                )
                out += [
                    f"object Service {icinga_string(service.description)} {{",
                    f"  host_name = {icinga_string(host.name)}",
                    *self._check_lines(state, text),
                    *self._groups_line([g.name for g in service.servicegroups.all()]),
                    "}",
                ]
        return "\n".join(out) + "\n"

    @staticmethod
    def _check_lines(state: int, text: str) -> list[str]:
        return [
            '  check_command = "dummy"',
            "  max_check_attempts = 1",
            f"  check_interval = {CHECK_INTERVAL}",
            f"  retry_interval = {CHECK_INTERVAL}",
            f"  vars.dummy_state = {state}",
            f"  vars.dummy_text = {icinga_string(text)}",
        ]

    @staticmethod
    def _groups_line(groups: list[str]) -> list[str]:
        return ["  groups = [ " + ", ".join(icinga_string(g) for g in groups) + " ]"] if groups else []

    def running_pid(self) -> int | None:
        """The pid in the pid file if that process is still our icinga2 (pids get reused)."""
        try:
            pid = int(self.pid_path.read_text(encoding="ascii").strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if str(self.config_path).encode() in cmdline else None

    def start(self, binary: str) -> int:
        """Write the config, start the daemon in its own session, wait until Livestatus answers."""
        self.stop()
        if len(str(self.socket_path)) > SUN_PATH_MAX:
            raise CommandError(
                f"{self.socket_path} is too long for a unix socket: set a shorter PORTAL_VAR_DIR."
            )
        shutil.rmtree(self.base_dir, ignore_errors=True)
        for sub in ("data", "log/compat/archives", "cache", "spool", "run/icinga2"):
            (self.base_dir / sub).mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.render(), encoding="utf-8")
        # Stay who we are (Icinga would switch to its own "nagios" user): root in a container too.
        user = pwd.getpwuid(os.getuid()).pw_name
        group = grp.getgrgid(os.getgid()).gr_name
        dirs = {
            "DataDir": "data",
            "LogDir": "log",
            "CacheDir": "cache",
            "SpoolDir": "spool",
            "InitRunDir": "run",
        }
        command = [
            binary,
            "daemon",
            "--config",
            str(self.config_path),
            *(f"--define={const}={self.base_dir / sub}" for const, sub in dirs.items()),
            f"--define=RunAsUser={user}",
            f"--define=RunAsGroup={group}",
        ]
        with self.log_path.open("wb") as log:
            # Own session: it outlives this command, and stop() ends its worker processes with it.
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_path.write_text(f"{process.pid}\n", encoding="ascii")
        client = LivestatusClient(self.address, connect_timeout=1, timeout=2, retry_window=0, keepalive=False)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                self.stop()
                raise CommandError(f"icinga2 exited with {process.returncode}:\n{self.log_tail()}")
            try:
                client.status()
                return process.pid
            except LivestatusError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise CommandError(
                        f"icinga2 Livestatus did not answer in {START_TIMEOUT:.0f}s:\n{self.log_tail()}"
                    ) from None
                time.sleep(0.2)

    def stop(self) -> bool:
        """End the daemon of the pid file and its process group; True if one was running."""
        pid = self.running_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT
            while self.running_pid() is not None and time.monotonic() < deadline:
                time.sleep(0.1)
            # The worker and check helpers share the group: end whatever did not go by itself.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        self.pid_path.unlink(missing_ok=True)
        return pid is not None

    def log_tail(self, lines: int = 20) -> str:
        """The end of the daemon's console log, for error messages."""
        try:
            return "\n".join(
                self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
            )
        except OSError:
            return "(no log)"


class Command(BaseCommand):
    help = "Start or stop the demo core (Icinga 2 with Livestatus, when installed) for node 'local'."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["start", "stop"])

    def handle(self, *args: Any, **options: Any) -> None:
        core = DemoCore(Path(settings.VAR_DIR) / "demo" / "icinga2")
        node = NaemonNode.objects.filter(name="local").first()
        if node is None:
            raise CommandError("There is no node 'local': run `manage.py load_demo` first.")
        demo_attached = node.livestatus == core.address
        if node.livestatus and not demo_attached:
            # Someone attached a real core: never start a second one over it.
            self.stdout.write(core_status(node))
            return
        if options["action"] == "stop":
            core.stop()
            if demo_attached:
                self._attach(node, "", DEMO_NODE_ALIAS)
            self.stdout.write("Demo core stopped.")
            return
        binary = find_icinga2()
        if binary is None:
            core.stop()
            if demo_attached:
                self._attach(node, "", DEMO_NODE_ALIAS)
            self.stdout.write(core_status(node))
            return
        pid = core.start(binary)
        self._attach(node, core.address, ATTACHED_ALIAS)
        self.stdout.write(
            f"Demo core attached: Icinga 2 (pid {pid}) with its own demo objects; node 'local' reads "
            f"Livestatus at {core.address}. Deployments are rendered only: Icinga does not run them."
        )

    @staticmethod
    def _attach(node: NaemonNode, address: str, alias: str) -> None:
        node.livestatus = address
        node.alias = alias
        node.save(update_fields=["livestatus", "alias"])
