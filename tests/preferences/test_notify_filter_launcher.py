"""The notify-filter's launcher (preferences/launcher.py) as scripts/venv.sh and the Dockerfile install it.

Each test builds a real virtualenv, lets the project's own install line replace pip's console
script, and runs the result through the command line the renderer writes for a node, as
Naemon hands it to /bin/sh.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from preferences import launcher, notify_filter, snapshot
from registry.render_commands import NotifyPaths, wrapped_command_lines
from tests.registry.test_shell_safety import naemon_substitute

REPO = Path(__file__).resolve().parents[2]
# What pip writes for `notify-filter = "preferences.notify_filter:main"`: the launcher replaces it.
PIP_CONSOLE_SCRIPT = """#!{python}
import sys
from preferences.notify_filter import main
if __name__ == '__main__':
    sys.argv[0] = sys.argv[0].removesuffix('.exe')
    sys.exit(main())
"""


class Site:
    """A directory with a virtualenv (``.venv``), a node's notify files and a sink command."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.venv = root / ".venv"
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", str(self.venv)], check=True, timeout=120
        )
        self.python = self.venv / "bin" / "python"
        self.filter = self.venv / "bin" / "notify-filter"
        self.filter.write_text(PIP_CONSOLE_SCRIPT.format(python=self.python))
        self.filter.chmod(0o755)
        (site_packages,) = (self.venv / "lib").glob("python3*/site-packages")
        self.site_packages = site_packages
        self.notify = root / "notify"
        (self.notify / "state").mkdir(parents=True)
        rules = [{"id": 7, "action": "suppress", "states": ["WARNING"]}]
        snapshot.write_snapshot(
            self.notify / "snapshot",
            {"alice": {"rules": rules}},
            cluster=snapshot.cluster_part("n1", ["n1"], {}, {"": "n1"}),
        )
        self.runs = root / "runs.txt"
        self.sink = root / "sink"
        self.sink.write_text(f'#!/bin/sh\necho "$*" >> "{self.runs}"\n')
        self.sink.chmod(0o755)

    def line(self) -> str:
        """The service notification command line the renderer writes for this node."""
        notify = NotifyPaths(
            str(self.filter),
            str(self.notify / "snapshot"),
            str(self.notify / "state"),
            str(self.notify / "decisions.log"),
        )
        row = {"name": "notify-by-mail", "command_line": f"{self.sink} $CONTACTEMAIL$", "channel": "email"}
        return wrapped_command_lines(row, notify)[1]

    def notify_as_naemon(self, state: str, *, gate_only: bool = False) -> subprocess.CompletedProcess[str]:
        """The rendered line run by /bin/sh with Naemon's macros; ``gate_only``: the filter's part alone."""
        macros = {
            "CONTACTNAME": "alice",
            "CONTACTEMAIL": "alice@example.org",
            "NOTIFICATIONTYPE": "PROBLEM",
            "HOSTNAME": "web1",
            "HOSTGROUPNAMES": "web",
            "SERVICEDESC": "HTTP",
            "SERVICESTATE": state,
            "SERVICENOTIFICATIONID": "42",
            "SERVICEPROBLEMID": "17",
        }
        line = self.line()
        if gate_only:  # its exit status is the decision
            line = line.split(" || [ ")[0]
        return subprocess.run(
            ["/bin/sh", "-c", naemon_substitute(line, macros)],
            cwd="/",
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def sent(self) -> list[str]:
        return self.runs.read_text().splitlines() if self.runs.exists() else []

    def decisions(self) -> list[str]:
        log = self.notify / "decisions.log"
        lines = log.read_text().splitlines() if log.exists() else []
        return [json.loads(line)["decision"] for line in lines]


@pytest.fixture
def site() -> Iterator[Site]:
    # Not pytest's tmp_path: the renderer writes only paths of [A-Za-z0-9_./+-] into commands.
    root = Path(tempfile.mkdtemp(prefix="portal-launcher-"))
    try:
        yield Site(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def install_line(path: Path) -> str:
    """The shell that writes the launcher in ``path`` (scripts/venv.sh, the Dockerfile), pip left out."""
    text = path.read_text().replace("\\\n", " ")
    (line,) = [
        line for line in text.splitlines() if "preferences.launcher" in line and not line.startswith("#")
    ]
    parts = [part.strip() for part in line.removeprefix("RUN ").split("&&")]
    return " && ".join(part for part in parts if not part.startswith("pip "))


def assert_decides(site: Site) -> None:
    """WARNING is suppressed for alice (86 from the filter, nothing sent), CRITICAL sent once."""
    assert site.notify_as_naemon("WARNING", gate_only=True).returncode == notify_filter.SUPPRESS_STATUS
    assert site.notify_as_naemon("CRITICAL", gate_only=True).returncode == 0
    suppressed = site.notify_as_naemon("WARNING")
    assert (suppressed.returncode, site.sent()) == (0, []), suppressed.stderr
    sent = site.notify_as_naemon("CRITICAL")
    assert (sent.returncode, site.sent()) == (0, ["alice@example.org"]), sent.stderr
    assert site.decisions() == ["suppress", "notify", "suppress", "notify"]


def test_venv_sh_puts_a_launcher_where_the_console_script_was(site: Site) -> None:
    # An editable install in compat mode: a .pth line naming the checkout, as venv.sh makes it.
    (site.site_packages / "__editable__.monitoring_portal.pth").write_text(f"{REPO}\n")
    subprocess.run(["/bin/sh", "-ec", install_line(REPO / "scripts" / "venv.sh")], cwd=site.root, check=True)
    first = site.filter.read_text().splitlines()[0]
    assert first == f"#!{site.python} -IS", "Naemon's path now starts Python without site"
    assert_decides(site)
    # Run again (every run.sh/test.sh does): the launcher stays as it is.
    before = site.filter.stat().st_mtime_ns
    subprocess.run(["/bin/sh", "-ec", install_line(REPO / "scripts" / "venv.sh")], cwd=site.root, check=True)
    assert site.filter.stat().st_mtime_ns == before


def test_the_docker_build_writes_a_launcher_for_the_installed_package(site: Site) -> None:
    # `pip install --no-deps /src` puts the package in site-packages; the checkout is not there.
    shutil.copytree(
        REPO / "preferences", site.site_packages / "preferences", ignore=shutil.ignore_patterns("__pycache__")
    )
    env = {"PATH": f"{site.venv / 'bin'}:/usr/bin:/bin"}
    subprocess.run(["/bin/sh", "-ec", install_line(REPO / "Dockerfile")], env=env, check=True)
    text = site.filter.read_text()
    assert f"sys.path.append({str(site.site_packages)!r})" in text, text
    assert str(REPO) not in text
    assert_decides(site)


def test_a_launcher_that_cannot_import_the_filter_sends(site: Site) -> None:
    """No package where the launcher looks: Python's 1, never the filter's 86; the notification goes out."""
    empty = site.root / "gone"
    empty.mkdir()
    launcher.install(str(site.filter), str(site.python), str(empty))
    broken = subprocess.run(
        [str(site.filter), "--contact", "alice"], capture_output=True, text=True, timeout=60
    )
    assert broken.returncode == 1, broken.stderr
    assert "preferences" in broken.stderr
    result = site.notify_as_naemon("WARNING")  # alice's rule would have suppressed it
    assert (result.returncode, site.sent()) == (0, ["alice@example.org"]), result.stderr


@pytest.mark.parametrize("python", ["/opt/my venv/bin/python", "/opt/" + "v" * 130 + "/bin/python"])
def test_a_path_the_kernel_cannot_pass_starts_through_sh(site: Site, python: str) -> None:
    # The same interpreter behind a path with a space or too long for "#!": the sh form runs it.
    link = Path(site.root / python.lstrip("/"))
    link.parent.mkdir(parents=True)
    link.symlink_to(site.python)
    text = launcher.render(str(link), str(REPO))
    assert text.startswith("#!/bin/sh\n")
    site.filter.write_text(text)
    assert_decides(site)


def test_the_launcher_writes_beside_this_interpreter_by_default(site: Site) -> None:
    """No PATH: the launcher goes where NaemonNode.notify_paths() looks for a node that names none."""
    (site.site_packages / "__editable__.monitoring_portal.pth").write_text(f"{REPO}\n")
    subprocess.run([str(site.python), "-m", "preferences.launcher"], cwd="/", check=True, timeout=60)
    assert re.match(rf"#!{re.escape(str(site.python))} -IS\n", site.filter.read_text())
    assert_decides(site)


def test_the_launcher_imports_neither_site_nor_os(site: Site) -> None:
    """What makes it faster than pip's script: no site, and the filter's modules do without os."""
    (site.site_packages / "__editable__.monitoring_portal.pth").write_text(f"{REPO}\n")
    subprocess.run([str(site.python), "-m", "preferences.launcher"], cwd="/", check=True, timeout=60)
    line = site.line().split(" || [ ")[0]
    gate = naemon_substitute(
        line, {"CONTACTNAME": "alice", "NOTIFICATIONTYPE": "PROBLEM", "SERVICESTATE": "WARNING"}
    )
    # The launcher's own "#!" options, as the kernel would pass them, plus -X importtime.
    interpreter, options = site.filter.read_text().splitlines()[0][2:].split()
    result = subprocess.run(
        ["/bin/sh", "-c", f"{interpreter} {options} -X importtime {gate}"],
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == notify_filter.SUPPRESS_STATUS, result.stderr
    imported = {
        row.rsplit("|", 1)[1].strip() for row in result.stderr.splitlines() if row.startswith("import time:")
    }
    assert "preferences.notify_filter" in imported
    assert not imported & {"site", "os", "posixpath", "_distutils_hack", "json", "re", "typing"}, sorted(
        imported
    )
