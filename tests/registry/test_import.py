"""Importing existing object definitions: parsing, inheritance, validation, and a round trip through Nagios."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from registry import importer, render
from registry.models import (
    Command,
    Contact,
    ContactGroup,
    Host,
    HostGroup,
    HostTemplate,
    HostTemplateUse,
    NaemonNode,
    Service,
)
from registry.state import render_node
from tests.services.nagios import VerifyDir, parse_objects
from tests.services.required import require_service

pytestmark = pytest.mark.django_db
SAMPLES = Path("/etc/nagios4/objects")


def test_parse_text_reads_like_naemon() -> None:
    text = (
        "# comment\n; also a comment\n"
        "define host{\n"
        "    host_name   web1   ; trailing comment\n"
        "    notes       a\\;b\n"
        "    alias       joined \\\n"
        "over two lines\n"
        "\t_RACK\tB12\n"
        "}\n"
        "define service {\n"
        "    host_name web1\n"
        "}\n"
        "stray line\n"
        "define host {\n"
        "    host_name never-closed\n"
    )
    definitions, problems = importer.parse_text(text, "x.cfg")
    assert [(d.kind, d.directives) for d in definitions] == [
        ("host", {"host_name": "web1", "notes": "a;b", "alias": "joined over two lines", "_RACK": "B12"}),
        ("service", {"host_name": "web1"}),
    ]
    assert definitions[0].origin == "x.cfg:3"
    assert problems == [
        "x.cfg:13: text outside a definition: 'stray line'",
        "x.cfg:14: definition never closed",
    ]


def test_resolver_follows_use_chains_in_order() -> None:
    definitions, _ = importer.parse_text(
        "define host {\n name a\n contact_groups admins\n hostgroups ga\n register 0\n}\n"
        "define host {\n name b\n contact_groups ops\n parents p\n register 0\n}\n"
        "define host {\n host_name h\n use b,a\n hostgroups +gh\n parents null\n}\n"
    )
    resolver = importer.Resolver(definitions)
    host = definitions[2]
    assert resolver.value(host, "contact_groups") == "ops"  # the first template listed wins
    assert resolver.value(host, "hostgroups") == "ga,gh"  # '+' adds to the inherited value
    assert resolver.value(host, "parents") is None  # 'null' clears it
    assert [d.get("name") or d.get("host_name") for d in resolver.chain(host)] == ["h", "b", "a"]


CONFIG = """
define timeperiod {
    timeperiod_name 24x7
    alias Always
    monday 00:00-24:00
    monday -1 may 00:00-00:00
}
define command {
    command_name check-true
    command_line /bin/true
}
define command {
    command_name page-oncall
    command_line /usr/local/bin/page $CONTACTPAGER$
}
define contact {
    name contact-template
    host_notification_period 24x7
    service_notification_period 24x7
    host_notification_commands page-oncall
    service_notification_commands page-oncall
    register 0
}
define contact {
    contact_name oncall
    use contact-template
    pager +49 170 1234
    contactgroups ops
}
define contactgroup {
    contactgroup_name ops
    alias Operations
}
define hostgroup {
    hostgroup_name web
    members web1
}
define hostgroup {
    hostgroup_name db
}
define servicegroup {
    servicegroup_name payments
    members web1,HTTP
}
define host {
    name base
    check_command check-true
    max_check_attempts 2
    contact_groups ops
    register 0
}
define host {
    host_name web1
    use base
    address 192.0.2.1
    _RACK B12
    event_handler_enabled 0
}
define host {
    host_name db1
    use base
    hostgroups db
    parents web1
}
define host {
    host_name bad
    alias has $dollar
    use base
}
define host {
    host_name orphan
    use missing-template
}
define host {
    host_name bare
    address 192.0.2.9
}
define host {
    host_name shell
    use base
    address 192.0.2.1`id`
}
define contact {
    contact_name mute
    email mute@example.org
}
define service {
    name svc
    check_command check-true!80!a b
    max_check_attempts 1
    register 0
}
define service {
    use svc
    host_name web1,db1
    service_description HTTP
}
define service {
    use svc
    hostgroup_name web,db
    service_description Disk
}
define service {
    host_name web1
    service_description Unchecked
    max_check_attempts 1
}
define hostdependency {
    host_name web1
    dependent_host_name db1
}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "objects"
    path.mkdir()
    (path / "all.cfg").write_text(CONFIG)
    return path


def test_import_maps_naemon_features(config: Path) -> None:
    report = importer.import_paths([config])
    assert report.created["hosts"] == 2 and report.created["services"] == 3
    assert any("host 'bad'" in s and "alias" in s and "'$'" in s for s in report.skipped)
    assert any("host 'orphan'" in s and "missing-template" in s for s in report.skipped)
    # What the core would refuse, or what would reach a shell, is not imported either.
    assert any("host 'bare'" in s and "max_check_attempts not set" in s for s in report.skipped)
    assert any("host 'shell'" in s and "may not contain '`'" in s for s in report.skipped)
    assert any("service 'Unchecked'" in s and "check_command not set" in s for s in report.skipped)
    assert any("contact 'mute'" in s and "no host_notification_commands" in s for s in report.skipped)
    assert not Contact.objects.filter(name="mute").exists()
    assert "host event_handler_enabled" not in report.dropped

    web1, db1 = Host.objects.get(name="web1"), Host.objects.get(name="db1")
    assert web1.event_handler_enabled is False  # kept since issue 16
    assert [t.name for t in web1.templates.all()] == ["base"]
    assert web1.custom_variables == {"_RACK": "B12"} and web1.address == "192.0.2.1"
    assert [g.name for g in web1.hostgroups.all()] == ["web"]  # declared on the group's side
    assert [g.name for g in db1.hostgroups.all()] == ["db"]  # declared on the host's side
    assert [h.name for h in db1.parents.all()] == ["web1"]
    # contact_groups lives on the template in Naemon; the registry's templates cannot hold it.
    assert [g.name for g in web1.contact_groups.all()] == ["ops"]
    assert HostTemplate.objects.get(name="base").max_check_attempts == 2

    http = Service.objects.filter(description="HTTP").order_by("host__name")
    assert [s.host.name for s in http if s.host] == ["db1", "web1"]
    assert [g.name for g in http.get(host=web1).servicegroups.all()] == ["payments"]
    assert list(http.get(host=db1).servicegroups.all()) == []
    disk = Service.objects.get(description="Disk")
    assert disk.host is None and sorted(g.name for g in disk.hostgroups.all()) == ["db", "web"]
    template = disk.templates.get()
    assert template.check_command is not None
    assert template.check_command.name == "check-true" and template.check_command_args == ["80", "a b"]

    oncall = Contact.objects.get(name="oncall")
    assert oncall.host_notification_period is not None
    assert oncall.pager == "+49 170 1234" and oncall.host_notification_period.name == "24x7"
    assert [c.name for c in oncall.host_notification_commands.all()] == ["page-oncall"]
    assert [c.name for c in ContactGroup.objects.get(name="ops").members.all()] == ["oncall"]
    assert Command.objects.get(name="page-oncall").channel == "page-oncall"
    assert Command.objects.get(name="check-true").channel == ""

    # A second import updates in place: nothing is duplicated.
    again = importer.import_paths([config])
    assert not again.created.get("hosts") and again.updated["hosts"] == 2
    assert Service.objects.count() == 3 and HostTemplateUse.objects.count() == 0


def test_command_reports_and_dry_run_changes_nothing(config: Path) -> None:
    out, err = StringIO(), StringIO()
    call_command("import_naemon_config", str(config), "--dry-run", stdout=out, stderr=err)
    assert "hosts: 2 created, 0 updated" in out.getvalue() and "dry run" in out.getvalue()
    assert "skipped: host 'bad'" in out.getvalue() and "skipped" in err.getvalue()
    assert not Host.objects.exists()


def sample_commands_stub(files: list[Path]) -> str:
    """Commands the samples use but Debian defines elsewhere (monitoring-plugins): /bin/true stand-ins."""
    definitions = [d for f in files for d in importer.parse_text(f.read_text())[0]]
    defined = {d.get("command_name") for d in definitions if d.kind == "command"}
    used = {
        importer.split_check_command(d.get("check_command"))[0] for d in definitions if d.get("check_command")
    }
    for key in ("host_notification_commands", "service_notification_commands"):
        used |= {c for d in definitions for c in importer.split_list(d.get(key))}
    return "".join(
        f"define command {{\n    command_name {name}\n    command_line /bin/true\n}}\n"
        for name in sorted(used - defined)
    )


def objects_of(precache: Path) -> tuple[set[str], set[tuple[str, str]]]:
    """Host names and (host, service) pairs of a core's resolved objects."""
    blocks = [(kind, dict(d)) for kind, d in parse_objects(precache.read_text())]
    hosts = {d["host_name"] for kind, d in blocks if kind == "host"}
    services = {(d["host_name"], d["service_description"]) for kind, d in blocks if kind == "service"}
    return hosts, services


def test_round_trip_of_the_nagios4_samples(verify_dir: VerifyDir, tmp_path: Path) -> None:
    files = sorted(SAMPLES.glob("*.cfg"))
    require_service(
        "nagios4 sample objects", bool(files), f"{SAMPLES} is empty (Debian package nagios4-common)"
    )
    stub = tmp_path / "stub-commands.cfg"
    stub.write_text(sample_commands_stub(files))

    original = verify_dir.check(
        {f.name: f.read_text() for f in files} | {stub.name: stub.read_text()}, precache=True
    )
    assert original.returncode == 0, original.output
    hosts, services = objects_of(verify_dir.precache)
    assert {"localhost", "winserver", "hplj2605dn", "linksys-srw224p"} <= hosts and len(services) > 15

    report = importer.import_paths([SAMPLES, stub])
    assert not report.skipped, report.lines()
    node = NaemonNode.objects.create(name="master", config_dir=str(tmp_path / "portal.d"))
    rendered = render_node(node)
    result = verify_dir.check(rendered.files, precache=True)
    assert result.returncode == 0, result.output
    assert objects_of(verify_dir.precache) == (hosts, services)

    assert [t.name for t in HostTemplate.objects.get(name="linux-server").parents.all()] == ["generic-host"]
    assert [g.name for g in Host.objects.get(name="localhost").hostgroups.all()] == ["linux-servers"]
    assert [g.name for g in HostGroup.objects.get(name="network-printers").hosts.all()] == ["hplj2605dn"]
    commands = {
        c.name: c.channel for c in Contact.objects.get(name="nagiosadmin").host_notification_commands.all()
    }
    assert commands == {"notify-host-by-email": "email"}
    assert (
        "host_notification_commands notify-filter-host__notify-host-by-email"
        in rendered.files["contacts.cfg"]
    )


FREE_FORM_CONFIG = """
define command {
    command_name check_http
    command_line $USER1$/check_http -I $HOSTADDRESS$ $ARG1$ -t $ARG2$
}
define host {
    host_name web1
    use base
    address 192.0.2.1
    check_command check_http!-H www -p 80!10
}
define host {
    host_name web2
    use base
    address 192.0.2.2
    check_command check_http!-H www *!10
}
define host {
    name base
    check_command check_http!-H base!10
    max_check_attempts 1
    register 0
}
"""


def test_import_marks_the_arguments_given_several_words_free_form(tmp_path: Path) -> None:
    """Naemon split ``-H www -p 80`` into four arguments; after the import the rendered line still does."""
    (tmp_path / "objects.cfg").write_text(FREE_FORM_CONFIG)
    out = StringIO()
    call_command("import_naemon_config", str(tmp_path), stdout=out, stderr=StringIO())
    assert "check_http: $ARG1$ marked free-form (passed '-H www -p 80' by web1)" in out.getvalue()
    command = Command.objects.get(name="check_http")
    assert command.free_form_args == [1]  # $ARG2$ was only ever one word
    # More than words even as free-form (a glob): refused like any other value the import cannot take.
    assert "skipped: host 'web2'" in out.getvalue() and "may not contain '*'" in out.getvalue()
    assert list(Host.objects.values_list("name", flat=True)) == ["web1"]
    state = render.State(
        commands=[{"name": "check_http", "command_line": command.command_line, "free_form_args": [1]}]
    )
    assert (
        "check_http -I '$HOSTADDRESS$' $ARG1$ -t '$ARG2$'"
        in render.render_state(
            state, NaemonNode(notify_filter_path="/usr/bin/notify-filter").notify_paths()
        ).files["commands.cfg"]
    )
    # A second import finds it declared already: nothing more to report.
    again = importer.import_paths([tmp_path])
    assert again.free_form == [] and Command.objects.get(name="check_http").free_form_args == [1]
