"""Nothing a registry user writes may run commands on a Naemon node.

Naemon substitutes macros ($HOSTADDRESS$, $ARGn$, $_HOSTxxx$, $CONTACTEMAIL$ ...) raw into
command lines and runs them with /bin/sh; it strips illegal_macro_output_chars only from
plugin output and comments. So the API refuses shell syntax in every value that becomes a
macro, and the notify-filter wrapping keeps a suppressed notification from running any part
of a notification command that is a shell pipeline or list (the shell is real here: /bin/sh).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from preferences import snapshot
from registry import render
from registry.models import Contact, Host, NaemonNode, Service
from tests.doubles import DeployRecorder
from tests.scenarios import Site

API = "/api/v1/registry"
HOST = {"team": "web", "hostgroups": ["web"], "templates": ["generic-host"]}


# Every test here may write: deployments are recorded, never sent (the one fixture, tests/conftest.py).
pytestmark = pytest.mark.usefixtures("deploys")


# --- values that become macros --------------------------------------------------------------

HOSTILE = ["`id`", "$(id)", "a|id", "a&id", "a;id", "a>/tmp/x", "a</etc/passwd", "a'b", 'a"b', "a\\b"]


@pytest.mark.django_db
@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize(
    ("field", "body"),
    [
        ("address", lambda v: {"address": "127.0.0.1" + v}),
        ("alias", lambda v: {"alias": "web" + v}),
        ("notes", lambda v: {"notes": "rack" + v}),
        ("check_command_args", lambda v: {"check_command": "check_http", "check_command_args": ["80" + v]}),
        ("custom_variables", lambda v: {"custom_variables": {"_RACK": "B12" + v}}),
    ],
)
def test_host_values_with_shell_syntax_are_refused(
    api: Any, site: Site, deploys: DeployRecorder, field: str, body: Any, value: str
) -> None:
    before = list(Host.objects.values().order_by("pk"))
    response = api.put(f"{API}/hosts/web02/", {**HOST, **body(value)}, format="json")
    assert response.status_code == 400, response.content
    message = " ".join(str(m) for m in response.json()[field])
    assert "may not contain" in message or "must be" in message, message
    assert list(Host.objects.values().order_by("pk")) == before and deploys.calls == []


@pytest.mark.django_db
def test_the_message_names_the_field_the_character_and_why(api: Any, site: Site) -> None:
    response = api.put(f"{API}/hosts/web02/", {**HOST, "address": "127.0.0.1`id`"}, format="json")
    assert response.json()["address"] == [
        "address: may not contain '`' (it would reach the notification/check shell)."
    ]
    response = api.put(
        f"{API}/hosts/web01/services/HTTP/",
        {"check_command": "check_http", "check_command_args": ["80`touch /tmp/pwn`"]},
        format="json",
    )
    assert response.status_code == 400
    assert "$ARG1$: may not contain '`'" in response.json()["check_command_args"][0]
    assert Service.objects.get(description="HTTP").check_command_args == ["80"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "a`id`@example.org"),
        ("email", "a|id@example.org"),
        ("email", "-oProxyCommand=id@example.org"),  # an option to mail, not an address
        ("email", "alice@example.org extra"),
        ("pager", "+49 170 1234;id"),
        ("pager", "$(id)"),
        ("pager", "-x"),
        ("alias", "Alice `id`"),
    ],
)
def test_a_user_cannot_put_shell_syntax_into_their_own_contact(
    api_client_for: Any, owner: Any, site: Site, field: str, value: str
) -> None:
    contact = Contact.objects.get(name="oncall")
    contact.user = owner
    contact.save()
    response = api_client_for(owner).patch(f"{API}/contacts/oncall/", {field: value}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert getattr(Contact.objects.get(name="oncall"), field) == getattr(contact, field)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"address": "192.0.2.10"},
        {"address": "2001:db8::1"},
        {"address": "web02.example.org"},
        {"alias": "Web server (primary), rack #4 - 50% load"},
        {"check_command": "check_http", "check_command_args": ["-w 80% -c 90%", "10:20", "100.0,20%"]},
        {"check_command": "check_http", "check_command_args": ["/var/lib/mrtg/192.168.1.253_1.log"]},
        {"custom_variables": {"_RACK": "B12", "_URL": "https://example.org/wiki?page=web02"}},
        {"notes": "see https://example.org/runbooks/web?host=web02#disk"},
    ],
)
def test_legitimate_values_are_accepted(api: Any, site: Site, body: dict[str, Any]) -> None:
    response = api.put(f"{API}/hosts/web02/", {**HOST, **body}, format="json")
    assert response.status_code == 202, response.content


@pytest.mark.django_db
@pytest.mark.parametrize(
    "email", ["nagios@localhost", "first.last+tag@example.org", "ops_team@mail.example.co"]
)
def test_plain_email_addresses_are_accepted(api: Any, site: Site, email: str) -> None:
    response = api.patch(f"{API}/contacts/oncall/", {"email": email, "pager": "+49 170 1234"}, format="json")
    assert response.status_code == 202, response.content


# --- notification commands that are shell pipelines -----------------------------------------

NOTIFY_FILTER = str(Path(sys.executable).parent / "notify-filter")


def naemon_substitute(line: str, macros: dict[str, str]) -> str:
    """A command line as Naemon hands it to /bin/sh: ``\\;`` -> ``;``, ``$$`` -> ``$``, macros raw."""
    line = line.replace("\\;", ";")
    return re.sub(r"\$([A-Z0-9_]*)\$", lambda m: macros.get(m.group(1), "") if m.group(1) else "$", line)


class NotifyNode:
    """A node's notify directory (snapshot, state, log) and a sink program that records its runs."""

    def __init__(self) -> None:
        # Not pytest's tmp_path: the renderer only writes paths of [A-Za-z0-9_./+-] into commands.
        self.root = Path(tempfile.mkdtemp(prefix="portal-notify-"))
        (self.root / "state").mkdir()
        self.runs = self.root / "runs.txt"
        self.sink = self.root / "sink"
        self.sink.write_text(f'#!/bin/sh\n{{ echo "args: $*"; sed "s/^/stdin: /"; }} >> "{self.runs}"\n')
        self.sink.chmod(0o755)
        self.notify = NaemonNode(notify_filter_path=NOTIFY_FILTER, notify_dir=str(self.root)).notify_paths()

    def suppress_warnings_for(self, contact: str) -> None:
        rules = [{"id": 7, "action": "suppress", "states": ["WARNING"]}]
        snapshot.write_snapshot(self.root / "snapshot", {contact: {"rules": rules}})

    def run(
        self, line: str, state: str, shell_options: list[str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        macros = {
            "CONTACTNAME": "alice",
            "CONTACTEMAIL": "alice@example.org",
            "NOTIFICATIONTYPE": "PROBLEM",
            "HOSTNAME": "web1",
            "HOSTGROUPNAMES": "web",
            "SERVICEDESC": "HTTP",
            "SERVICEGROUPNAMES": "",
            "SERVICESTATE": state,
            "SERVICENOTIFICATIONID": "42",
            "SERVICEPROBLEMID": "17",
            "LASTSERVICEPROBLEMID": "0",
        }
        command = naemon_substitute(line, macros)
        return subprocess.run(
            ["/bin/sh", *(shell_options or ["-c"]), command],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def sink_runs(self) -> list[str]:
        return self.runs.read_text().splitlines() if self.runs.exists() else []

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def notify_node() -> Iterator[NotifyNode]:
    if not Path(NOTIFY_FILTER).exists():
        pytest.fail(f"{NOTIFY_FILTER} is missing: install the project (pip install -e .)")
    node = NotifyNode()
    try:
        node.suppress_warnings_for("alice")
        yield node
    finally:
        node.cleanup()


def service_line(command_line: str, node: NotifyNode, filter_path: str | None = None) -> str:
    row = {"name": "notify-by-mail", "command_line": command_line, "channel": "email"}
    notify = (
        node.notify
        if filter_path is None
        else NaemonNode(notify_filter_path=filter_path, notify_dir=str(node.root)).notify_paths()
    )
    return render.wrapped_command_lines(row, notify)[1]


COMPOUND = [
    # Nagios's stock notify-service-by-email, with the sink in place of mail.
    '/usr/bin/printf "%b" "$NOTIFICATIONTYPE$ $HOSTNAME$/$SERVICEDESC$ is $SERVICESTATE$\\n" | {sink} -s '
    '"$NOTIFICATIONTYPE$ $HOSTNAME$" $CONTACTEMAIL$',
    "/bin/echo first\\; {sink} $CONTACTEMAIL$",
    "/bin/false || {sink} $CONTACTEMAIL$",
    "/bin/true && {sink} $CONTACTEMAIL$ < /dev/null",
    "{sink} $CONTACTEMAIL$ < /dev/null # a comment (with a parenthesis",
    'X=1 {sink} "$$(/bin/echo $CONTACTEMAIL$)"',  # $$ is Naemon's escaped $
]


@pytest.mark.parametrize("template", COMPOUND)
def test_a_suppressed_notification_runs_no_part_of_a_shell_line(
    notify_node: NotifyNode, template: str
) -> None:
    line = service_line(template.format(sink=notify_node.sink), notify_node)
    assert " -- " not in line, "shell syntax: the gate form, not the exec form"
    suppressed = notify_node.run(line, "WARNING")
    assert notify_node.sink_runs() == [], "suppressed, but the sink ran"
    assert suppressed.returncode == 0, "Naemon would log a suppression as a failed command"
    notify_node.run(line, "CRITICAL")
    runs = notify_node.sink_runs()
    assert runs and runs[0].startswith("args: ") and "alice@example.org" in runs[0], runs


def test_the_stock_mail_pipeline_sends_its_text_when_notified(notify_node: NotifyNode) -> None:
    line = service_line(COMPOUND[0].format(sink=notify_node.sink), notify_node)
    result = notify_node.run(line, "CRITICAL")
    assert result.returncode == 0, result.stderr
    assert notify_node.sink_runs() == [
        "args: -s PROBLEM web1 alice@example.org",
        "stdin: PROBLEM web1/HTTP is CRITICAL",
    ]


def test_the_exec_form_would_have_run_the_pipeline_sink(notify_node: NotifyNode) -> None:
    """Why not ``filter ... -- LINE``: ``filter ... -- a | b`` is split by the shell, ``b`` runs whatever happens."""
    pipeline = COMPOUND[0].format(sink=notify_node.sink)
    filter_part = service_line("/bin/true", notify_node).split(" || [ ")[0]
    notify_node.run(f"{filter_part} -- {pipeline}", "WARNING")
    assert notify_node.sink_runs() == ["args: -s PROBLEM web1 alice@example.org"], "empty mail sent"


SIMPLE = '{sink} --to $CONTACTEMAIL$ "it is $SERVICESTATE$, really"'


def test_a_simple_command_gets_the_gate_form_too(notify_node: NotifyNode) -> None:
    line = service_line(SIMPLE.format(sink=notify_node.sink), notify_node)
    assert line.endswith(
        f' || [ $$? -ne 86 ] || exit 0 && ( {notify_node.sink} --to $CONTACTEMAIL$ "it is $SERVICESTATE$, really" )'
    )
    suppressed = notify_node.run(line, "WARNING")
    assert (suppressed.returncode, notify_node.sink_runs()) == (0, [])
    sent = notify_node.run(line, "CRITICAL")
    assert sent.returncode == 0, sent.stderr
    assert notify_node.sink_runs() == ["args: --to alice@example.org it is CRITICAL, really"], "sent once"


# A notify-filter that cannot decide, as a node can have it: each must send, exactly once.
BROKEN_FILTERS = {
    "missing": None,  # a wrong notify_filter_path: the shell says 127
    "not executable": "#!/bin/sh\nexit 0\n",  # 126
    "broken virtualenv": "#!/nonexistent/venv/bin/python\n",  # its interpreter is gone: 127
    "raising": "#!{python}\nraise ImportError('No module named preferences')\n",  # Python's 1
    "argument error": "#!/bin/sh\nexit 2\n",  # argparse's 2
    "killed": "#!/bin/sh\nkill -9 $$\n",  # 128 + 9
}


@pytest.mark.parametrize("shell_options", [["-c"], ["-e", "-c"]], ids=["sh", "sh -e"])
@pytest.mark.parametrize("broken", BROKEN_FILTERS)
@pytest.mark.parametrize("template", [SIMPLE, COMPOUND[0]], ids=["simple", "pipeline"])
def test_a_filter_that_cannot_decide_sends(
    notify_node: NotifyNode, template: str, broken: str, shell_options: list[str]
) -> None:
    path = notify_node.root / "bin" / "notify-filter"
    script = BROKEN_FILTERS[broken]
    if script is not None:
        path.parent.mkdir()
        path.write_text(script.format(python=sys.executable))
        path.chmod(0o644 if broken == "not executable" else 0o755)
    line = service_line(template.format(sink=notify_node.sink), notify_node, filter_path=str(path))
    # WARNING is suppressed for alice: only a filter that worked could say so.
    result = notify_node.run(line, "WARNING", shell_options=shell_options)
    runs = notify_node.sink_runs()
    assert len([run for run in runs if run.startswith("args: ")]) == 1, (runs, result.stderr)
    assert "alice@example.org" in runs[0]
    assert result.returncode == 0, result.stderr


def test_only_the_filters_suppress_status_suppresses(notify_node: NotifyNode) -> None:
    """The contract in one place: 86 suppresses, every other status sends."""
    path = notify_node.root / "status-filter"
    line = service_line(SIMPLE.format(sink=notify_node.sink), notify_node, filter_path=str(path))
    sent = []
    for status in (0, 1, 2, 85, 86, 87, 120, 126, 127, 130, 255):
        path.write_text(f"#!/bin/sh\nexit {status}\n")
        path.chmod(0o755)
        before = len(notify_node.sink_runs())
        assert notify_node.run(line, "CRITICAL").returncode == 0
        if len(notify_node.sink_runs()) > before:
            sent.append(status)
    assert sent == [0, 1, 2, 85, 87, 120, 126, 127, 130, 255]


def test_a_command_without_a_channel_runs_on_the_objects_notifier_only(notify_node: NotifyNode) -> None:
    """Every holder of an object runs its notifications: the gate-only wrapper lets out the notifier's."""
    row = {
        "name": "page-oncall",
        "command_line": f"{notify_node.sink} $CONTACTEMAIL$ | /bin/cat",
    }
    _, line = render.gate_only_command_lines(row, notify_node.notify)
    everything_off = {"alice": {"rules": [{"id": 1, "action": "suppress"}]}}  # no rule applies here

    def publish(node: str) -> None:
        part = snapshot.cluster_part(node, ["a", "p1"], {"web": "p1"}, {"": "a", "p1": "p1"})
        snapshot.write_snapshot(notify_node.root / "snapshot", everything_off, cluster=part)

    publish("a")  # web1 is in web, p1's
    suppressed = notify_node.run(line, "CRITICAL")
    assert (suppressed.returncode, notify_node.sink_runs()) == (0, [])
    publish("p1")
    notify_node.run(line, "CRITICAL")
    assert notify_node.sink_runs() == ["args: alice@example.org"]
