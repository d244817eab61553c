"""A real Nagios 4 core for the tests: its own directory, main config, command FIFO and status file.

Debian's nagios4 reads Naemon's object format, so it stands in for Naemon. Everything
lives under var/test/nagios-<id>/. Run as root (CI, containers), Nagios drops privileges
to ``nagios_user``: the directory then belongs to the ``nagios`` user. Checks run
/bin/true (no network). Waits poll with deadlines.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from registry import runner

REPO = Path(__file__).resolve().parents[2]
NAGIOS = "/usr/sbin/nagios4"
ILLEGAL_OBJECT_NAME_CHARS = "`~!$%^&*|'\"<>?,()="


def parse_objects(text: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """Object definitions read the way Naemon reads them: line by line, ';' starts a comment.

    Fails on anything Naemon would read differently from a clean file (a directive outside a
    definition, a nested or unclosed one), so a test can compare what came back with what went in.
    """
    result: list[tuple[str, list[tuple[str, str]]]] = []
    current: list[tuple[str, str]] | None = None
    for raw in text.split("\n"):
        line = re.sub(r"(?<!\\);.*", "", raw).strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("define"):
            assert current is None, f"nested define: {raw!r}"
            kind = line[len("define") :].strip().rstrip("{").strip()
            current = []
            result.append((kind, current))
        elif line == "}":
            assert current is not None, "closing brace outside a definition"
            current = None
        else:
            assert current is not None, f"directive outside a definition: {raw!r}"
            key, _, value = line.replace("\t", " ").partition(" ")
            current.append((key, value.strip()))
    assert current is None, "unclosed definition"
    return result


def nagios_available() -> bool:
    """Whether the Debian nagios4 binary is installed."""
    return os.access(NAGIOS, os.X_OK)


def nagios_user() -> str | None:
    """The user Nagios must drop to when we are root (it refuses to run as root)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("nagios")
    except KeyError:
        return "nobody"
    return "nagios"


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


BASE_OBJECTS = """\
define command {
    command_name seed-true
    command_line /bin/true
}
define host {
    host_name seed-host
    check_command seed-true
    max_check_attempts 1
    check_interval 60
    retry_interval 60
}
define service {
    host_name seed-host
    service_description seed
    check_command seed-true
    max_check_attempts 1
    check_interval 60
    retry_interval 60
}
define contact {
    contact_name seed-contact
    host_notification_commands seed-true
    service_notification_commands seed-true
}
"""


class NagiosCore:
    """One nagios4 daemon in the foreground (our child), with a portal-managed cfg_dir."""

    def __init__(self, name: str = "") -> None:
        self.dir = REPO / "var" / "test" / f"nagios-{name or uuid.uuid4().hex[:8]}"
        self.config_dir = self.dir / "portal.d"
        self.main_config = self.dir / "nagios.cfg"
        self.command_file = self.dir / "nagios.cmd"
        self.status_file = self.dir / "status.dat"
        self.log_file = self.dir / "nagios.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.user = nagios_user()

    # -- set-up ----------------------------------------------------------------------

    def main_config_text(self, cfg_dir: Path | None = None) -> str:
        """The main config; ``cfg_dir`` defaults to the portal's config dir."""
        d = self.dir
        lines = [
            f"log_file={self.log_file}",
            f"cfg_dir={cfg_dir or self.config_dir}",
            f"object_cache_file={d}/objects.cache",
            f"precached_object_file={d}/objects.precache",
            f"status_file={self.status_file}",
            "status_update_interval=1",
            "check_external_commands=1",
            f"command_file={self.command_file}",
            f"query_socket={d}/nagios.qh",
            f"lock_file={d}/nagios.pid",
            f"temp_file={d}/nagios.tmp",
            f"temp_path={d}/tmp",
            f"check_result_path={d}/spool",
            "retain_state_information=0",
            f"state_retention_file={d}/retention.dat",
            "use_syslog=0",
            "log_external_commands=1",
            "interval_length=1",
            "check_result_reaper_frequency=1",
            "max_check_result_reaper_time=1",
            "check_for_updates=0",
            "bare_update_check=0",
            "enable_notifications=0",
            "enable_flap_detection=0",
            "execute_host_checks=0",
            "execute_service_checks=0",
            f"illegal_object_name_chars={ILLEGAL_OBJECT_NAME_CHARS}",
            "illegal_macro_output_chars=`~$&|'\"<>",
        ]
        if self.user:
            lines += [f"nagios_user={self.user}", f"nagios_group={self.user}"]
        return "\n".join(lines) + "\n"

    def prepare(self, objects: str = BASE_OBJECTS) -> None:
        """Create the directory, the main config and an initial (real) config dir with ``objects``."""
        shutil.rmtree(self.dir, ignore_errors=True)
        for sub in (self.dir, self.dir / "tmp", self.dir / "spool", self.config_dir):
            sub.mkdir(parents=True, exist_ok=True)
        self.main_config.write_text(self.main_config_text())
        (self.config_dir / "seed.cfg").write_text(objects)
        self.own()

    def own(self) -> None:
        """Give the directory to the user Nagios runs as (it must write status, spool, FIFO)."""
        if self.user:
            for root, dirs, files in os.walk(self.dir):
                for entry in [root, *(os.path.join(root, n) for n in dirs + files)]:
                    os.lchown(entry, pwd.getpwnam(self.user).pw_uid, pwd.getpwnam(self.user).pw_gid)

    @property
    def verify_command(self) -> str:
        """The node's verify command for this core."""
        return f"{NAGIOS} -v {{main_config}}"

    def node_fields(self) -> dict[str, Any]:
        """NaemonNode fields that point at this core."""
        return {
            "config_dir": str(self.config_dir),
            "main_config": str(self.main_config),
            "verify_command": self.verify_command,
            "reload_method": "command_file",
            "command_file": str(self.command_file),
            "status_file": str(self.status_file),
            "notify_dir": str(self.dir / "notify"),
        }

    # -- running ---------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> None:
        """Start the daemon in the foreground and wait for its first status file."""
        with (self.dir / "stdout.log").open("ab") as out:
            self.proc = subprocess.Popen(
                [NAGIOS, str(self.main_config)], stdout=out, stderr=subprocess.STDOUT, cwd=self.dir
            )
        wait_for(
            "nagios4 to write its status file",
            lambda: self.running() and self.status().program_start,
            timeout,
        )

    def running(self) -> bool:
        """Whether our daemon is still alive."""
        if self.proc is None or self.proc.poll() is not None:
            output = (self.dir / "stdout.log").read_text(errors="replace")[-2000:] if self.proc else ""
            raise AssertionError(f"nagios4 is not running:\n{output}")
        return True

    def status(self) -> runner.CoreStatus:
        """The status file as the deploy pipeline reads it (empty before the first write)."""
        try:
            return runner.read_status_file(str(self.status_file))
        except runner.RunnerError:
            return runner.CoreStatus(program_start=None)

    def services(self) -> dict[tuple[str, str], dict[str, str]]:
        """Every service the core runs, (host, description) -> its status file fields ({} before the first write).

        Read independently of the deploy pipeline's parser, so a test can check that one against the core.
        """
        try:
            text = self.status_file.read_text(errors="replace")
        except FileNotFoundError:
            return {}
        result: dict[tuple[str, str], dict[str, str]] = {}
        for block in re.findall(r"^servicestatus \{\n(.*?)^\t\}", text, flags=re.M | re.S):
            fields = dict(line.lstrip("\t").partition("=")[::2] for line in block.splitlines() if "=" in line)
            result[(fields["host_name"], fields["service_description"])] = fields
        return result

    def restarts(self) -> int:
        """How many RESTART_PROGRAM commands the core has logged."""
        try:
            text = self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return 0
        return text.count("EXTERNAL COMMAND: RESTART_PROGRAM")

    def stop(self) -> None:
        """Stop the daemon (SIGTERM, then SIGKILL) and reap it."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def cleanup(self) -> None:
        """Remove the directory."""
        shutil.rmtree(self.dir, ignore_errors=True)


def verify(main_config: Path, timeout: float = 60.0) -> runner.CommandResult:
    """``nagios4 -v`` on a main config."""
    return runner.run([NAGIOS, "-v", str(main_config)], timeout=timeout)


class VerifyDir:
    """A scratch directory with a main config for ``nagios4 -v`` runs on rendered files (no daemon)."""

    def __init__(self, name: str = "") -> None:
        self.core = NagiosCore(name or f"verify-{uuid.uuid4().hex[:8]}")
        self.core.prepare(objects="")
        (self.core.config_dir / "seed.cfg").unlink()

    def check(self, files: dict[str, str], *, precache: bool = False) -> runner.CommandResult:
        """Write ``files`` into the config dir (replacing what was there) and verify."""
        for old in self.core.config_dir.iterdir():
            old.unlink()
        for name, text in files.items():
            (self.core.config_dir / name).write_text(text, encoding="utf-8")
        self.core.own()
        argv = [NAGIOS, *(["-p"] if precache else []), "-v", str(self.core.main_config)]
        return runner.run(argv, timeout=60)

    @property
    def precache(self) -> Path:
        """Where ``-p`` writes the resolved objects."""
        return self.core.dir / "objects.precache"

    def cleanup(self) -> None:
        """Remove the scratch directory."""
        self.core.cleanup()
