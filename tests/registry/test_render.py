"""The renderer: exact output, determinism, what each node gets, notify-filter wrapping, re-validation."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from registry import models, render
from registry.models import (
    Command,
    Contact,
    ContactGroup,
    Host,
    HostGroup,
    HostTemplate,
    HostTemplateUse,
    HostUse,
    NaemonNode,
    Service,
    ServiceGroup,
    ServiceTemplate,
    ServiceUse,
    TimePeriod,
)
from registry.state import render_node
from registry.validation import NaemonValueError
from tests.services.nagios import VerifyDir
from tests.services.nagios import parse_objects as blocks

pytestmark = pytest.mark.django_db


def by_name(text: str, kind: str, key: str) -> dict[str, dict[str, str]]:
    return {dict(d)[key]: dict(d) for k, d in blocks(text) if k == kind}


@pytest.fixture
def master(db: None, tmp_path: Any) -> NaemonNode:
    return NaemonNode.objects.create(
        name="master",
        role="master",
        config_dir=str(tmp_path / "portal.d"),
        notify_filter_path="/opt/portal/bin/notify-filter",
    )


@pytest.fixture
def world(db: None, master: NaemonNode, tmp_path: Any) -> dict[str, Any]:
    """A small registry: two pollers, groups, templates with use chains, contacts, services on groups."""
    poller = NaemonNode.objects.create(name="poller-a", role="poller", config_dir=str(tmp_path / "a"))
    other = NaemonNode.objects.create(name="poller-b", role="poller", config_dir=str(tmp_path / "b"))
    always = TimePeriod.objects.create(
        name="24x7", alias="Always", ranges={"monday": "00:00-24:00", "sunday": "00:00-24:00"}
    )
    true = Command.objects.create(name="check-true", command_line="/bin/true")
    ping = Command.objects.create(
        name="check-ping",
        command_line="/usr/lib/nagios/plugins/check_ping -H $HOSTADDRESS$ -w $ARG1$ -c $ARG2$",
    )
    mail = Command.objects.create(
        name="notify-by-mail",
        command_line='/usr/bin/mail -s "$NOTIFICATIONTYPE$" $CONTACTEMAIL$',
        channel="email",
    )
    alice = Contact.objects.create(
        name="alice",
        alias="Alice",
        email="alice@example.org",
        host_notification_period=always,
        service_notification_period=always,
    )
    alice.host_notification_commands.add(mail)
    alice.service_notification_commands.add(mail, true)
    ops = ContactGroup.objects.create(name="ops", alias="Operations")
    ops.members.add(alice)
    base = HostTemplate.objects.create(
        name="base-host", check_command=true, max_check_attempts=3, check_interval=5, retry_interval=1
    )
    linux = HostTemplate.objects.create(name="linux-host", check_period=always, notification_options="d,r")
    extra = HostTemplate.objects.create(name="extra-host", notes="extra")
    HostTemplateUse.objects.create(template=linux, uses=base, position=0)
    service_base = ServiceTemplate.objects.create(
        name="base service", check_command=true, max_check_attempts=2, check_interval=5, retry_interval=1
    )
    web = HostGroup.objects.create(name="web", alias="Web servers", node=poller)
    HostGroup.objects.create(name="empty-on-a", node=poller)
    db_group = HostGroup.objects.create(name="db", node=other)
    linuxes = HostGroup.objects.create(name="linux")
    payments = ServiceGroup.objects.create(name="payments")
    web1 = Host.objects.create(
        name="web1",
        alias="Web 1",
        address="192.0.2.1",
        custom_variables={"_rack": "B12", "_EMPTY": ""},
        check_command=ping,
        check_command_args=["100.0,20%", "500.0,60%"],
    )
    HostUse.objects.create(host=web1, template=linux, position=0)
    HostUse.objects.create(host=web1, template=extra, position=1)
    web1.hostgroups.add(web, linuxes)
    web1.contacts.add(alice)
    web1.contact_groups.add(ops)
    db1 = Host.objects.create(name="db1", address="192.0.2.2")
    HostUse.objects.create(host=db1, template=base)
    db1.hostgroups.add(db_group, linuxes)
    web1.parents.add(db1)
    http = Service.objects.create(description="HTTP check", host=web1, notes="port 80")
    ServiceUse.objects.create(service=http, template=service_base)
    http.servicegroups.add(payments)
    disk = Service.objects.create(description="Disk", check_command=true)
    ServiceUse.objects.create(service=disk, template=service_base)
    disk.hostgroups.add(web, db_group)
    load = Service.objects.create(description="Load", check_command=true)
    load.hostgroups.add(linuxes)
    ServiceUse.objects.create(service=load, template=service_base)
    return {"poller": poller, "other": other, "web1": web1, "db1": db1}


WEB1 = """\
define host {
    host_name web1
    alias Web 1
    address 192.0.2.1
    use linux-host,extra-host,portal-default-host
    hostgroups linux,web
    parents db1
    contacts alice
    contact_groups ops
    check_command check-ping!100.0,20%!500.0,60%
    active_checks_enabled 0
    passive_checks_enabled 1
    obsess 0
    _EMPTY
    _RACK B12
}
"""


def test_host_block_is_exact(master: NaemonNode, world: dict[str, Any]) -> None:
    # web1 is poller-a's: the master holds a copy that poller-a checks and notifies for. The copy
    # keeps its notifications (the core must notify it, to send its RECOVERY after a move): the
    # notify-filter's cluster gate, not the config, keeps them in (preferences/notify_filter.py).
    files = render_node(master).files
    assert WEB1 in files["hosts.cfg"]
    assert files["hosts.cfg"].startswith(
        "# Rendered by the monitoring portal for node master. Do not edit.\n"
    )


def test_templates_services_and_groups(master: NaemonNode, world: dict[str, Any]) -> None:
    files = render_node(master).files
    templates = files["templates.cfg"]
    assert (
        "define host {\n    name linux-host\n    use base-host\n    check_period 24x7\n    notification_options d,r\n    register 0\n}\n"
        in templates
    )
    assert "define service {\n    name base service\n    check_command check-true\n" in templates
    services = blocks(files["services.cfg"])
    # Disk, on host groups of two pollers, is one definition per poller here: each has one checker.
    assert [dict(d).get("host_name") or dict(d)["hostgroup_name"] for _, d in services] == [
        "db",
        "linux",
        "web",
        "web1",
    ]
    http = dict(services[3][1])
    assert http == {
        "service_description": "HTTP check",
        "host_name": "web1",
        "use": "base service,portal-default-service",
        "servicegroups": "payments",
        "notes": "port 80",
        # poller-a's: a copy here, made UNKNOWN by its freshness check if poller-a stops sending.
        "check_command": "portal-stale!poller-a!180",
        "active_checks_enabled": "0",
        "passive_checks_enabled": "1",
        "obsess": "0",
        "check_freshness": "1",
        "freshness_threshold": "180",
    }
    groups = files["groups.cfg"]
    assert by_name(groups, "hostgroup", "hostgroup_name").keys() == {"db", "empty-on-a", "linux", "web"}
    assert by_name(groups, "contactgroup", "contactgroup_name")["ops"]["members"] == "alice"
    assert by_name(files["timeperiods.cfg"], "timeperiod", "timeperiod_name")["24x7"] == {
        "timeperiod_name": "24x7",
        "alias": "Always",
        "monday": "00:00-24:00",
        "sunday": "00:00-24:00",
    }


def test_notification_commands_are_wrapped_by_the_notify_filter(
    master: NaemonNode, world: dict[str, Any]
) -> None:
    master.notify_dir = "/var/lib/portal/notify"
    master.save()
    files = render_node(master).files
    commands = by_name(files["commands.cfg"], "command", "command_name")
    # As stored: '/usr/bin/mail -s "$NOTIFICATIONTYPE$" $CONTACTEMAIL$'; an unquoted macro is quoted.
    original = "/usr/bin/mail -s \"$NOTIFICATIONTYPE$\" '$CONTACTEMAIL$'"
    assert commands["notify-by-mail"]["command_line"] == original
    files_args = (
        '--snapshot-dir "/var/lib/portal/notify/snapshot" --state-dir "/var/lib/portal/notify/state" '
        '--log "/var/lib/portal/notify/decisions.log"'
    )
    # The gate form: any exit status of the filter but 86 (suppress) runs the line.
    gate = f"|| [ $$? -ne 86 ] || exit 0 && ( {original} )"
    assert commands["notify-filter-service__notify-by-mail"]["command_line"] == (
        '/opt/portal/bin/notify-filter --contact "$CONTACTNAME$" --channel email --type "$NOTIFICATIONTYPE$" '
        '--host "$HOSTNAME$" --hostgroups "$HOSTGROUPNAMES$" --service "$SERVICEDESC$" '
        '--servicegroups "$SERVICEGROUPNAMES$" --share "$_SERVICEPORTAL_SHARE$" --state "$SERVICESTATE$" --id "$SERVICENOTIFICATIONID$" '
        '--problem-id "$SERVICEPROBLEMID$" --last-problem-id "$LASTSERVICEPROBLEMID$" '
        f'--last-state "$LASTSERVICESTATE$" {files_args} {gate}'
    )
    assert commands["notify-filter-host__notify-by-mail"]["command_line"] == (
        '/opt/portal/bin/notify-filter --contact "$CONTACTNAME$" --channel email --type "$NOTIFICATIONTYPE$" '
        '--host "$HOSTNAME$" --hostgroups "$HOSTGROUPNAMES$" --state "$HOSTSTATE$" --id "$HOSTNOTIFICATIONID$" '
        '--problem-id "$HOSTPROBLEMID$" --last-problem-id "$LASTHOSTPROBLEMID$" '
        f'--last-state "$LASTHOSTSTATE$" {files_args} {gate}'
    )
    # Every macro argument is quoted.
    line = commands["notify-filter-service__notify-by-mail"]["command_line"].split(" || [ ")[0]
    assert not re.search(r'(?<!")\$[A-Z]+\$(?!")', line)
    alice = by_name(files["contacts.cfg"], "contact", "contact_name")["alice"]
    assert alice["host_notification_commands"] == "notify-filter-host__notify-by-mail"
    # A command without a channel that a contact uses goes through the cluster gate only: else
    # every node holding a copy of the object would run it.
    assert alice["service_notification_commands"] == (
        "notify-filter-service__check-true,notify-filter-service__notify-by-mail"
    )
    gate_files = (
        '--snapshot-dir "/var/lib/portal/notify/snapshot" --log "/var/lib/portal/notify/decisions.log"'
    )
    assert commands["notify-filter-service__check-true"]["command_line"] == (
        '/opt/portal/bin/notify-filter --gate-only --contact "$CONTACTNAME$" --type "$NOTIFICATIONTYPE$" '
        '--host "$HOSTNAME$" --hostgroups "$HOSTGROUPNAMES$" --service "$SERVICEDESC$" '
        f'--state "$SERVICESTATE$" --id "$SERVICENOTIFICATIONID$" --share "$_SERVICEPORTAL_SHARE$" {gate_files} '
        "|| [ $$? -ne 86 ] || exit 0 && ( /bin/true )"
    )
    assert commands["notify-filter-host__check-true"]["command_line"].startswith(
        '/opt/portal/bin/notify-filter --gate-only --contact "$CONTACTNAME$" --type "$NOTIFICATIONTYPE$" '
        '--host "$HOSTNAME$" --hostgroups "$HOSTGROUPNAMES$" --state "$HOSTSTATE$" --id "$HOSTNOTIFICATIONID$" '
    )
    # Only commands a contact uses are wrapped: a check command gets no wrapper.
    assert not {name for name in commands if name.startswith("notify-filter-")} - {
        "notify-filter-host__check-true",
        "notify-filter-service__check-true",
        "notify-filter-host__notify-by-mail",
        "notify-filter-service__notify-by-mail",
    }


def test_a_notification_command_with_shell_syntax_gets_the_gate_form(
    master: NaemonNode, world: dict[str, Any], verify_dir: VerifyDir
) -> None:
    """``filter -- a | b`` would run ``b`` whatever the filter decides: ``filter ... && ( a | b )`` does not."""
    pipeline = (
        '/usr/bin/printf "%b" "$NOTIFICATIONTYPE$ $HOSTNAME$ is $HOSTSTATE$\\n" | /usr/bin/mail -s '
        '"$NOTIFICATIONTYPE$ $HOSTNAME$" $CONTACTEMAIL$'
    )
    Command.objects.filter(name="notify-by-mail").update(command_line=pipeline)
    files = render_node(master).files
    commands = by_name(files["commands.cfg"], "command", "command_name")
    pipeline = pipeline.replace(" $CONTACTEMAIL$", " '$CONTACTEMAIL$'")  # unquoted macros are quoted
    assert commands["notify-by-mail"]["command_line"] == pipeline
    line = commands["notify-filter-host__notify-by-mail"]["command_line"]
    paths = master.notify_paths()  # every path, also without a notify_dir
    files_args = (
        f'--snapshot-dir "{paths.snapshot_dir}" --state-dir "{paths.state_dir}" --log "{paths.decision_log}"'
    )
    assert line == (
        '/opt/portal/bin/notify-filter --contact "$CONTACTNAME$" --channel email --type "$NOTIFICATIONTYPE$" '
        '--host "$HOSTNAME$" --hostgroups "$HOSTGROUPNAMES$" --state "$HOSTSTATE$" --id "$HOSTNOTIFICATIONID$" '
        '--problem-id "$HOSTPROBLEMID$" --last-problem-id "$LASTHOSTPROBLEMID$" '
        f'--last-state "$LASTHOSTSTATE$" {files_args} '
        f"|| [ $$? -ne 86 ] || exit 0 && ( {pipeline} )"
    )
    assert " -- " not in commands["notify-filter-service__notify-by-mail"]["command_line"]
    result = verify_dir.check(files)
    assert result.returncode == 0 and "Total Errors:   0" in result.output, result.output


@pytest.mark.parametrize(
    ("line", "compound", "kept"),
    [
        ('/usr/bin/mail -s "$NOTIFICATIONTYPE$" $CONTACTEMAIL$', False, None),
        ("/bin/echo 'a | b; c' \"x && y > z\"", False, None),  # quoted: one simple command
        ("/bin/echo a#b", False, None),
        ("/usr/bin/printf x | /usr/bin/mail $CONTACTEMAIL$", True, None),
        ("/bin/a\\; /bin/b", True, None),  # Naemon turns \\; into ;
        ("/bin/a || /bin/b", True, None),
        ("/bin/a > /tmp/out", True, None),
        ("/bin/a < /dev/null", True, None),
        ("/bin/a &", True, None),
        ('/bin/a "$$(date)"', True, None),  # command substitution would run before the decision
        ("/bin/a `date`", True, None),
        ("(/bin/a)", True, None),
        ("X=1 /bin/a", True, None),
        ("exec /bin/a", True, None),
        ("if /bin/a", True, None),
        ("/bin/a x # trailing comment (with a parenthesis", True, "/bin/a x"),
        ("/bin/a \\# not a comment", False, None),
    ],
)
def test_shell_structure(line: str, compound: bool, kept: str | None) -> None:
    assert render.shell_structure(line) == (compound, line if kept is None else kept)


def test_default_notify_filter_is_the_virtualenv_console_script(
    master: NaemonNode, world: dict[str, Any]
) -> None:
    master.notify_filter_path = ""
    master.save()
    commands = by_name(render_node(master).files["commands.cfg"], "command", "command_name")
    line = commands["notify-filter-host__notify-by-mail"]["command_line"]
    assert line.startswith(str(Path(sys.executable).parent / "notify-filter") + " --contact")


def test_a_node_without_notify_dir_passes_the_filter_every_path(
    master: NaemonNode, world: dict[str, Any]
) -> None:
    """The renderer relies on no default of the filter: the node's default layout is on the line."""
    master.notify_dir = ""
    master.save()
    commands = by_name(render_node(master).files["commands.cfg"], "command", "command_name")
    line = commands["notify-filter-service__notify-by-mail"]["command_line"]
    base = models.DEFAULT_NOTIFY_DIR
    assert f'--snapshot-dir "{base}/snapshot" --state-dir "{base}/state" --log "{base}/decisions.log"' in line


def test_poller_gets_only_its_host_groups(world: dict[str, Any]) -> None:
    files = render_node(world["poller"]).files
    hosts = by_name(files["hosts.cfg"], "host", "host_name")
    assert hosts.keys() == {"web1"}
    assert "parents" not in hosts["web1"]  # db1 is monitored by another poller
    assert hosts["web1"]["hostgroups"] == "linux,web"
    assert by_name(files["groups.cfg"], "hostgroup", "hostgroup_name").keys() == {
        "empty-on-a",
        "linux",
        "web",
    }
    services = [dict(d) for _, d in blocks(files["services.cfg"])]
    # The host group service is limited to this poller's groups; 'Load' on 'linux' stays on the master.
    assert [(s.get("host_name"), s.get("hostgroup_name"), s["service_description"]) for s in services] == [
        (None, "web", "Disk"),
        ("web1", None, "HTTP check"),
    ]
    # Definitions every node needs.
    assert "alice" in files["contacts.cfg"] and "base-host" in files["templates.cfg"]

    other = render_node(world["other"]).files
    assert by_name(other["hosts.cfg"], "host", "host_name").keys() == {"db1"}
    assert [dict(d)["hostgroup_name"] for _, d in blocks(other["services.cfg"])] == ["db"]


def test_render_is_deterministic(master: NaemonNode, world: dict[str, Any]) -> None:
    first = render_node(master)
    assert render_node(master) == first
    # Insertion order and ids do not matter: recreate a host and its membership in another order.
    web1 = Host.objects.get(name="web1")
    groups = list(web1.hostgroups.order_by("-name"))
    web1.hostgroups.clear()
    for group in groups:
        web1.hostgroups.add(group)
    assert render_node(master).content_hash == first.content_hash
    Host.objects.filter(name="db1").update(alias="Database 1")
    changed = render_node(master)
    assert changed.content_hash != first.content_hash
    assert {k for k in changed.hosts if changed.hosts[k] != first.hosts[k]} == {"db1"}
    assert changed.services == first.services


def test_every_file_is_balanced_and_one_directive_per_line(master: NaemonNode, world: dict[str, Any]) -> None:
    for name, text in render_node(master).files.items():
        assert name in render.FILES
        for line in text.split("\n"):
            assert line in ("", "}") or line.startswith(("#", "define ", "    ")), line
            assert line == line.rstrip()
        blocks(text)


@pytest.mark.parametrize(
    ("model", "lookup", "field", "value", "message"),
    [
        (Host, {"name": "web1"}, "alias", "two\nlines", "host 'web1': alias"),
        (Host, {"name": "web1"}, "address", "1.2.3.4; define host", "host 'web1': address"),
        (Host, {"name": "web1"}, "name", "+web1", "host '+web1': name"),
        (Host, {"name": "web1"}, "custom_variables", {"_X": "a\rb"}, "host 'web1': custom_variables"),
        (Host, {"name": "web1"}, "check_command_args", ["a!b"], "check_command_args $ARG1$"),
        (Host, {"name": "web1"}, "notes", "null", "host 'web1': notes"),
        (HostGroup, {"name": "web"}, "name", "web servers", "hostgroup 'web servers': name"),
        (
            Command,
            {"name": "check-true"},
            "command_line",
            "/bin/true; rm -rf /",
            "command 'check-true': command_line",
        ),
        (Command, {"name": "notify-by-mail"}, "channel", "e mail", "command 'notify-by-mail': channel"),
        (TimePeriod, {"name": "24x7"}, "ranges", {"monday": "always"}, "timeperiod '24x7': ranges 'monday'"),
        (
            TimePeriod,
            {"name": "24x7"},
            "ranges",
            {"funday": "00:00-24:00"},
            "timeperiod '24x7': ranges 'funday'",
        ),
        (Contact, {"name": "alice"}, "email", "a@b\n}", "contact 'alice': email"),
        (
            Service,
            {"description": "HTTP check"},
            "description",
            "HTTP $check",
            "service 'web1/HTTP $check': description",
        ),
    ],
)
def test_render_rechecks_values_that_bypassed_validation(
    master: NaemonNode,
    world: dict[str, Any],
    model: Any,
    lookup: dict[str, str],
    field: str,
    value: Any,
    message: str,
) -> None:
    model.objects.filter(**lookup).update(**{field: value})  # around clean(), as a raw SQL fix would
    with pytest.raises(NaemonValueError) as error:
        render_node(master)
    assert message in str(error.value)


def test_reserved_command_prefix(master: NaemonNode, world: dict[str, Any]) -> None:
    Command.objects.create(name="notify-filter-host__x", command_line="/bin/true")
    with pytest.raises(NaemonValueError, match="portal's own"):
        render_node(master)


def test_nagios_accepts_the_rendered_config(
    master: NaemonNode, world: dict[str, Any], verify_dir: VerifyDir
) -> None:
    for node in (master, world["poller"], world["other"]):
        result = verify_dir.check(render_node(node).files)
        assert result.returncode == 0, result.output
        assert "Total Errors:   0" in result.output


def test_rendering_costs_a_fixed_number_of_queries(
    master: NaemonNode, world: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    # A fixed number (the cluster's topology, team groups, hand-over delegates, dependencies and
    # escalations, group members and period exclusions included): what matters is that 30 more
    # hosts cost none more, below.
    with django_assert_max_num_queries(52) as small:
        render_node(master)
    group = HostGroup.objects.get(name="web")
    for i in range(30):
        host = Host.objects.create(name=f"extra{i}", address=f"192.0.2.{i + 10}")
        host.hostgroups.add(group)
        Service.objects.create(
            host=host, description="Ping", check_command=Command.objects.get(name="check-true")
        )
    with django_assert_max_num_queries(len(small.captured_queries)):
        render_node(master)
    with django_assert_max_num_queries(len(small.captured_queries) + 2):
        render_node(world["poller"])


def test_a_node_without_hosts_or_services_gets_an_inert_placeholder(
    master: NaemonNode, verify_dir: VerifyDir
) -> None:
    """Nagios refuses a config with no host or no service: a new site or empty poller must still deploy."""
    empty = render_node(master)
    assert "host_name portal-placeholder" in empty.files["hosts.cfg"]
    assert empty.hosts == {} and empty.services == {}  # not a registry object
    result = verify_dir.check(empty.files)
    assert "Total Errors:   0" in result.output, result.output

    # The first host, still without services: the placeholder service keeps the core happy.
    check = Command.objects.create(name="check-true", command_line="/bin/true")
    host = Host.objects.create(name="first", address="192.0.2.1", max_check_attempts=3, check_command=check)
    first = render_node(master)
    assert list(first.hosts) == ["first"]
    assert "service_description placeholder" in first.files["services.cfg"]
    result = verify_dir.check(first.files)
    assert "Total Errors:   0" in result.output, result.output

    # A service on a host group the host is in counts as a service: the placeholder goes.
    group = HostGroup.objects.create(name="web")
    host.hostgroups.add(group)
    service = Service.objects.create(description="Ping", check_command=check, max_check_attempts=3)
    service.hostgroups.add(group)
    real = render_node(master)
    assert "portal-placeholder" not in real.files["hosts.cfg"] + real.files["services.cfg"]
    assert "contact_name portal-placeholder" in real.files["contacts.cfg"]  # still no contact of its own
    result = verify_dir.check(real.files)
    assert "Total Errors:   0" in result.output, result.output

    # Its first contact: nothing of the portal's own is left.
    contact = Contact.objects.create(name="alice")
    contact.host_notification_commands.add(check)
    contact.service_notification_commands.add(check)
    final = render_node(master)
    assert "portal-placeholder" not in "".join(final.files.values())
    result = verify_dir.check(final.files)
    assert "Total Errors:   0" in result.output, result.output


def test_a_service_on_an_empty_host_group_does_not_count(master: NaemonNode) -> None:
    check = Command.objects.create(name="check-true", command_line="/bin/true")
    Host.objects.create(name="lonely", address="192.0.2.1", max_check_attempts=3, check_command=check)
    service = Service.objects.create(description="Ping", check_command=check, max_check_attempts=3)
    service.hostgroups.add(HostGroup.objects.create(name="empty"))
    assert "service_description placeholder" in render_node(master).files["services.cfg"]


@pytest.fixture
def fresh_site(db: None) -> Host:
    """What a new site declares: a check command, an admin's and an engineer's contact, plain templates,
    one host, two services."""
    true = Command.objects.create(name="check-true", command_line="/bin/true")
    notify = Command.objects.create(name="notify-log", command_line="/bin/true $CONTACTNAME$", channel="log")
    admin = User.objects.create_user("admin", is_staff=True)
    engineer = User.objects.create_user("engineer")
    for name, user in (("oncall", admin), ("engineer", engineer)):
        contact = Contact.objects.create(name=name, email=f"{name}@example.org", user=user)
        contact.host_notification_commands.add(notify)
        contact.service_notification_commands.add(notify)
    host_template = HostTemplate.objects.create(
        name="generic-host", check_command=true, max_check_attempts=3, check_interval=5, retry_interval=1
    )
    service_template = ServiceTemplate.objects.create(
        name="generic-service", check_command=true, max_check_attempts=3, check_interval=5, retry_interval=1
    )
    web1 = Host.objects.create(name="web1", address="192.0.2.1")
    HostUse.objects.create(host=web1, template=host_template)
    for description in ("Ping", "HTTP"):
        service = Service.objects.create(host=web1, description=description)
        ServiceUse.objects.create(service=service, template=service_template)
    return web1


def verifier_warnings(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Warning")]


def test_a_fresh_site_verifies_without_warnings(
    master: NaemonNode, fresh_site: Host, verify_dir: VerifyDir
) -> None:
    """No "no check_period", "no notification_period" or "no contacts" warning on a new site."""
    files = render_node(master).files
    result = verify_dir.check(files)
    assert result.returncode == 0, result.output
    assert verifier_warnings(result.output) == [] and "Total Warnings: 0" in result.output, result.output
    # The defaults that make it so: a 24x7 period, templates used last, the staff's contacts (not
    # every engineer's) for a host nobody is assigned to.
    periods = by_name(files["timeperiods.cfg"], "timeperiod", "timeperiod_name")
    assert periods["24x7"]["monday"] == periods["24x7"]["sunday"] == "00:00-24:00"
    host = by_name(files["hosts.cfg"], "host", "host_name")["web1"]
    assert (host["use"], host["contact_groups"]) == (
        "generic-host,portal-default-host",
        "portal-default-contacts",
    )
    groups = by_name(files["groups.cfg"], "contactgroup", "contactgroup_name")
    assert groups["portal-default-contacts"]["members"] == "oncall"
    # Services inherit the host's contacts (Naemon's implied inheritance): none of their own.
    assert all("contact_groups" not in dict(d) for _, d in blocks(files["services.cfg"]))


def test_the_registry_overrides_the_defaults(
    master: NaemonNode, fresh_site: Host, verify_dir: VerifyDir
) -> None:
    """A registry 24x7, a template's own period, a host's own contacts: no default takes their place."""
    TimePeriod.objects.create(name="24x7", alias="Office hours", ranges={"monday": "08:00-17:00"})
    nights = TimePeriod.objects.create(name="nights", ranges={"monday": "00:00-06:00"})
    HostTemplate.objects.filter(name="generic-host").update(notification_period=nights)
    alice = Contact.objects.get(name="oncall")
    fresh_site.contacts.add(alice)
    files = render_node(master).files
    assert verify_dir.check(files).returncode == 0
    periods = by_name(files["timeperiods.cfg"], "timeperiod", "timeperiod_name")
    assert len(blocks(files["timeperiods.cfg"])) == 2 and periods["24x7"]["alias"] == "Office hours"
    host = by_name(files["hosts.cfg"], "host", "host_name")["web1"]
    assert host["contacts"] == "oncall" and "contact_groups" not in host
    # What the core resolves (-p writes it): the template's period wins over the default one.
    verify_dir.check(files, precache=True)
    resolved = by_name(verify_dir.precache.read_text(), "host", "host_name")["web1"]
    assert (resolved["notification_period"], resolved["check_period"]) == ("nights", "24x7")


def test_no_default_contacts_without_staff_contacts(
    master: NaemonNode, fresh_site: Host, verify_dir: VerifyDir
) -> None:
    """No staff contact: no empty default group; the core's warning says nobody would be told."""
    User.objects.filter(is_staff=True).update(is_staff=False)
    files = render_node(master).files
    assert "portal-default-contacts" not in files["groups.cfg"] + files["hosts.cfg"]
    result = verify_dir.check(files)
    assert "Warning: Host 'web1' has no default contacts or contactgroups defined!" in result.output
