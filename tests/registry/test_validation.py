"""Hostile names and values: what validation rejects never renders; what it accepts, Naemon reads as meant.

Generated values mix Naemon's special characters (newlines, control characters, ';' '$'
'!' '}' ',' 'define', leading '+', 'null', unicode line separators, lone surrogates...)
into each field that reaches an object file. For each value:

* the model's own validation (``naemon_errors``, what the API and forms use) rejecting it
  means the renderer rejects it too, with a NaemonValueError that names the field;
* whatever the renderer accepts, ``nagios4 -v`` accepts, and parsing the files back gives
  exactly the definitions and directives that went in, values unchanged (no injection).

The ``nagios4 -v`` part batches every generated object of an example into one config.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from livestatus.client import UnsafeValueError, query
from livestatus.client import text as livestatus_text
from registry import render, validation
from registry.models import (
    Command,
    Contact,
    Host,
    HostGroup,
    HostTemplate,
    NaemonNode,
    Service,
    ServiceTemplate,
    TimePeriod,
)
from registry.render import State
from registry.state import render_node
from registry.validation import NaemonValueError
from tests.services.nagios import VerifyDir, parse_objects

FRAGMENTS = [
    "\n", "\r", "\r\n", "\t", "\x00", "\x0b", "\x1b", "\x7f", "\x85", "\x9b", "\u2028", "\u00a0", "\ud800",
    "\u202e", "\u200b", "\u200d", "\u2060", "\ufeff", "\u2066",
    ";", "\\;", "$", "$HOSTNAME$", "!", "}", "{", "define host {", "define", ",", "#", "+", "null", " ",
    "  ", "`", "~", "%", "^", "&", "*", "|", "'", '"', "<", ">", "?", "(", ")", "=", "\\", "/", "-", "_",
    "é", "日本", "\U0001f600", "web1", "a", "Z", "0",
]  # fmt: skip
hostile = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), max_size=6).map("".join)
WEEKDAYS = [
    "monday",
    "sunday",
    "2026-12-24",
    "day 1",
    "july 4",
    "monday -1 may",
    "day -1",
    "2026-01-01 - 2026-01-05",
]
day = st.one_of(
    st.sampled_from(WEEKDAYS), st.sampled_from(WEEKDAYS).flatmap(lambda d: hostile.map(lambda h: d + h))
)
ranges = st.one_of(
    st.sampled_from(["00:00-24:00", "09:00-17:00,18:00-20:00"]),
    st.sampled_from(["09:00-17:00", "00:00-24:00"]).flatmap(lambda r: hostile.map(lambda h: r + h)),
)
NOTIFY = NaemonNode(
    notify_filter_path="/usr/bin/notify-filter", notify_dir="/var/lib/portal/notify"
).notify_paths()
CHECK = {"check_command": "base-cmd", "max_check_attempts": 1, "check_interval": 60, "retry_interval": 60}


def base_state() -> State:
    """The smallest config Nagios accepts, for the generated objects to live in."""
    return State(
        commands=[{"name": "base-cmd", "command_line": "/bin/true", "channel": ""}],
        contacts=[
            {
                "name": "base-contact",
                "host_notification_commands": ["base-cmd"],
                "service_notification_commands": ["base-cmd"],
            }
        ],
        host_templates=[{"name": "base-host", **CHECK}],
        service_templates=[{"name": "base-service", **CHECK}],
        hosts=[{"name": "base-h", "use": ["base-host"]}],
        services=[{"description": "base-svc", "host": "base-h", "use": ["base-service"], "hostgroups": []}],
    )


Expected = dict[tuple[str, str], dict[str, str]]  # (kind, name) -> directive -> value


@dataclass
class Slot:
    """One place a value reaches a config file: how the model validates it, how it is rendered."""

    field: str  # what the renderer's error must name
    model_errors: Callable[[str], dict[str, list[str]]]
    add: Callable[[State, str, int], Expected]
    namespace: str = ""  # values must be unique within it (object names)


def _field_errors(obj: Any, field: str) -> dict[str, list[str]]:
    """A model field's own validators (what the API's serializer field runs), without a database."""
    try:
        obj.clean_fields(exclude=[f.name for f in obj._meta.fields if f.name != field])
    except ValidationError as exc:
        return exc.message_dict
    return {}


def _host(state: State, i: int, **fields: Any) -> Expected:
    name = f"gen-h{i}"
    state.hosts.append({"name": name, "use": ["base-host"], **fields})
    return {("host", name): {"host_name": name, "use": "base-host"}}


def _host_with(directive: str) -> Callable[[State, str, int], Expected]:
    def add(state: State, value: str, i: int) -> Expected:
        expected = _host(state, i, **{directive: value})
        if value:  # empty means "not set": no directive
            expected[("host", f"gen-h{i}")][directive] = value
        return expected

    return add


def _add_host_name(state: State, value: str, i: int) -> Expected:
    state.hosts.append({"name": value, "use": ["base-host"]})
    return {("host", value): {"host_name": value, "use": "base-host"}}


def _add_custom_value(state: State, value: str, i: int) -> Expected:
    expected = _host(state, i, custom_variables={"_GEN": value})
    expected[("host", f"gen-h{i}")]["_GEN"] = value
    return expected


def _add_custom_name(state: State, value: str, i: int) -> Expected:
    expected = _host(state, i, custom_variables={value: "x"})
    expected[("host", f"gen-h{i}")][value.upper()] = "x"
    return expected


def _add_check_arg(state: State, value: str, i: int) -> Expected:
    expected = _host(state, i, check_command="base-cmd", check_command_args=[value, "b"])
    expected[("host", f"gen-h{i}")]["check_command"] = f"base-cmd!{value}!b"
    return expected


def _add_hostgroup(state: State, value: str, i: int) -> Expected:
    state.hostgroups.append({"name": value})
    expected = _host(state, i, hostgroups=[value])
    expected[("host", f"gen-h{i}")]["hostgroups"] = value
    return expected | {("hostgroup", value): {"hostgroup_name": value}}


def _add_hostgroup_alias(state: State, value: str, i: int) -> Expected:
    state.hostgroups.append({"name": f"gen-g{i}", "alias": value})
    alias = {"alias": value} if value else {}
    return {("hostgroup", f"gen-g{i}"): {"hostgroup_name": f"gen-g{i}", **alias}}


def _add_service(state: State, value: str, i: int) -> Expected:
    state.services.append({"description": value, "host": "base-h", "hostgroups": [], "use": ["base-service"]})
    return {("service", value): {"service_description": value, "host_name": "base-h", "use": "base-service"}}


def _add_contact(directive: str) -> Callable[[State, str, int], Expected]:
    def add(state: State, value: str, i: int) -> Expected:
        name = value if directive == "contact_name" else f"gen-c{i}"
        row = {
            "name": name,
            "host_notification_commands": ["base-cmd"],
            "service_notification_commands": ["base-cmd"],
        }
        if directive != "contact_name":
            row[directive] = value
        state.contacts.append(row)
        # base-cmd has no channel: the contact gets its gate-only wrapper (the cluster gate).
        expected = {
            "contact_name": name,
            "host_notification_commands": "notify-filter-host__base-cmd",
            "service_notification_commands": "notify-filter-service__base-cmd",
        }
        if directive != "contact_name" and value:
            expected[directive] = value
        return {("contact", name): expected}

    return add


def _add_command_name(state: State, value: str, i: int) -> Expected:
    state.commands.append({"name": value, "command_line": "/bin/true", "channel": ""})
    expected = _host(state, i, check_command=value)
    expected[("host", f"gen-h{i}")]["check_command"] = value
    return expected | {("command", value): {"command_name": value, "command_line": "/bin/true"}}


def _add_command_line(state: State, value: str, i: int) -> Expected:
    state.commands.append({"name": f"gen-cmd{i}", "command_line": value, "channel": ""})
    # Rendered with its unquoted macros single-quoted (tests/registry/test_macro_args.py); a line
    # the validation refuses has no expectation (the renderer must refuse it too).
    try:
        line = validation.quote_macros(value.strip())
    except NaemonValueError:
        return {}
    return {("command", f"gen-cmd{i}"): {"command_name": f"gen-cmd{i}", "command_line": line}}


def _add_channel(state: State, value: str, i: int) -> Expected:
    state.commands.append({"name": f"gen-n{i}", "command_line": "/bin/true", "channel": value})
    if not value:  # no channel: not a notification command, not wrapped
        return {("command", f"gen-n{i}"): {"command_name": f"gen-n{i}", "command_line": "/bin/true"}}
    host_line, service_line = render.wrapped_command_lines(
        {"name": f"gen-n{i}", "command_line": "/bin/true", "channel": value}, NOTIFY
    )
    return {
        ("command", f"gen-n{i}"): {"command_name": f"gen-n{i}", "command_line": "/bin/true"},
        ("command", f"notify-filter-host__gen-n{i}"): {
            "command_name": f"notify-filter-host__gen-n{i}",
            "command_line": host_line,
        },
        ("command", f"notify-filter-service__gen-n{i}"): {
            "command_name": f"notify-filter-service__gen-n{i}",
            "command_line": service_line,
        },
    }


def _add_timeperiod(which: str) -> Callable[[State, str, int], Expected]:
    def add(state: State, value: str, i: int) -> Expected:
        key, times = (value, "00:00-24:00") if which == "day" else ("monday", value)
        state.timeperiods.append({"name": f"gen-tp{i}", "ranges": {key: times}})
        # Naemon reads "<day words> <ranges>": the directive is the first word, the rest its value.
        first, _, rest = f"{key} {times}".partition(" ")
        return {
            ("timeperiod", f"gen-tp{i}"): {
                "timeperiod_name": f"gen-tp{i}",
                "alias": f"gen-tp{i}",
                first: rest,
            }
        }

    return add


def _add_template(kind: str) -> Callable[[State, str, int], Expected]:
    def add(state: State, value: str, i: int) -> Expected:
        row = {"name": value, **CHECK}
        (state.host_templates if kind == "host" else state.service_templates).append(row)
        expected: Expected = {
            (f"{kind} template", value): {
                "name": value,
                "check_command": "base-cmd",
                "check_interval": "60",
                "retry_interval": "60",
                "max_check_attempts": "1",
                "register": "0",
            }
        }
        if kind == "host":
            state.hosts.append({"name": f"gen-h{i}", "use": [value]})
            return expected | {("host", f"gen-h{i}"): {"host_name": f"gen-h{i}", "use": value}}
        state.services.append(
            {"description": f"gen-s{i}", "host": "base-h", "hostgroups": [], "use": [value]}
        )
        return expected | {
            ("service", f"gen-s{i}"): {
                "service_description": f"gen-s{i}",
                "host_name": "base-h",
                "use": value,
            }
        }

    return add


SLOTS: dict[str, Slot] = {
    "host name": Slot("name", lambda v: Host(name=v).naemon_errors(), _add_host_name, "host"),
    "host alias": Slot("alias", lambda v: Host(name="h", alias=v).naemon_errors(), _host_with("alias")),
    "host address": Slot(
        "address", lambda v: Host(name="h", address=v).naemon_errors(), _host_with("address")
    ),
    "host notes": Slot("notes", lambda v: Host(name="h", notes=v).naemon_errors(), _host_with("notes")),
    "custom variable value": Slot(
        "custom", lambda v: Host(name="h", custom_variables={"_GEN": v}).naemon_errors(), _add_custom_value
    ),
    "custom variable name": Slot(
        "custom", lambda v: Host(name="h", custom_variables={v: "x"}).naemon_errors(), _add_custom_name
    ),
    "check argument": Slot(
        "check_command_args",
        # A command without free-form arguments (in memory: no database in this test).
        lambda v: Host(
            name="h", check_command=Command(pk=1, command_line="c"), check_command_args=[v, "b"]
        ).naemon_errors(),
        _add_check_arg,
    ),
    "host group name": Slot("name", lambda v: HostGroup(name=v).naemon_errors(), _add_hostgroup, "hostgroup"),
    "host group alias": Slot(
        "alias", lambda v: HostGroup(name="g", alias=v).naemon_errors(), _add_hostgroup_alias
    ),
    "service description": Slot(
        "description", lambda v: Service(description=v).naemon_errors(), _add_service, "service"
    ),
    "contact name": Slot(
        "name", lambda v: Contact(name=v).naemon_errors(), _add_contact("contact_name"), "contact"
    ),
    "contact email": Slot(
        "email", lambda v: Contact(name="c", email=v).naemon_errors(), _add_contact("email")
    ),
    "contact pager": Slot(
        "pager", lambda v: Contact(name="c", pager=v).naemon_errors(), _add_contact("pager")
    ),
    "command name": Slot(
        "name",
        lambda v: Command(name=v, command_line="/bin/true").naemon_errors(),
        _add_command_name,
        "command",
    ),
    "command line": Slot(
        "command_line", lambda v: Command(name="c", command_line=v).naemon_errors(), _add_command_line
    ),
    "notification channel": Slot(
        "channel", lambda v: _field_errors(Command(channel=v), "channel"), _add_channel
    ),
    "time period day": Slot(
        "ranges",
        lambda v: TimePeriod(name="t", ranges={v: "00:00-24:00"}).naemon_errors(),
        _add_timeperiod("day"),
    ),
    "time period ranges": Slot(
        "ranges",
        lambda v: TimePeriod(name="t", ranges={"monday": v}).naemon_errors(),
        _add_timeperiod("ranges"),
    ),
    "host template name": Slot(
        "name", lambda v: HostTemplate(name=v).naemon_errors(), _add_template("host"), "host template"
    ),
    "service template name": Slot(
        "name",
        lambda v: ServiceTemplate(name=v).naemon_errors(),
        _add_template("service"),
        "service template",
    ),
}
# The renderer's own rules on top of what the API checks: none. Whatever the API accepts renders.
RENDER_ONLY: tuple[str, ...] = ()


def values_for(slot: str) -> st.SearchStrategy[str]:
    if slot == "time period day":
        return day
    if slot == "time period ranges":
        return ranges
    return hostile


def render_one(slot: str, value: str) -> render.Rendered:
    state = base_state()
    SLOTS[slot].add(state, value, 0)
    return render.render_state(state, NOTIFY)


examples = st.sampled_from(sorted(SLOTS)).flatmap(lambda s: values_for(s).map(lambda v: (s, v)))


@settings(max_examples=400, deadline=None)
@given(example=examples)
def test_rejected_by_validation_means_rejected_by_the_renderer(example: tuple[str, str]) -> None:
    slot, value = example
    model_rejects = bool(SLOTS[slot].model_errors(value))
    try:
        render_one(slot, value)
    except NaemonValueError as exc:
        assert SLOTS[slot].field in str(exc), f"{slot}: {exc}"
        if not model_rejects:
            assert any(reason in str(exc) for reason in RENDER_ONLY), f"{slot}: unexpected rejection {exc}"
    else:
        assert not model_rejects, f"{slot}: validation rejects {value!r} but it rendered"


def expected_blocks(state_expectation: Expected, base_count: int, files: dict[str, str]) -> None:
    parsed = [block for text in files.values() for block in parse_objects(text)]
    key_directive = {
        "host": "host_name",
        "hostgroup": "hostgroup_name",
        "service": "service_description",
        "contact": "contact_name",
        "command": "command_name",
        "timeperiod": "timeperiod_name",
    }
    found: Expected = {}
    for kind, directives in parsed:
        assert len({d for d, _ in directives}) == len(directives), (
            f"repeated directive in {kind}: {directives}"
        )
        as_dict = dict(directives)
        if as_dict.get("register") == "0":
            kind, name = f"{kind} template", as_dict.get("name")
        else:
            name = as_dict.get(key_directive.get(kind, ""))
        if name is not None and (kind, name) in state_expectation:
            # Every object also uses the portal's default template, last (render.DEFAULT_*).
            if kind in ("host", "service", "contact"):
                default = f"portal-default-{kind}"
                uses = as_dict.pop("use").split(",")
                assert uses[-1] == default, as_dict
                if uses[:-1]:
                    as_dict["use"] = ",".join(uses[:-1])
            found[(kind, name)] = as_dict
    assert found == state_expectation
    assert len(parsed) == base_count + len(state_expectation)


BASE_BLOCKS = len(
    [b for text in render.render_state(base_state(), NOTIFY).files.values() for b in parse_objects(text)]
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(examples, min_size=1, max_size=12))
def test_accepted_values_render_to_config_nagios_reads_as_meant(
    batch: list[tuple[str, str]], verify_dir: VerifyDir
) -> None:
    state = base_state()
    expected: Expected = {}
    used: set[tuple[str, str]] = set()
    for i, (slot, value) in enumerate(batch):
        namespace = SLOTS[slot].namespace
        if namespace and ((namespace, value) in used or value.startswith(("gen-", "base-"))):
            continue
        try:
            render_one(slot, value)
        except NaemonValueError:
            continue  # rejected: covered by the test above
        used.add((namespace, value))
        expected |= SLOTS[slot].add(state, value, i)
    rendered = render.render_state(state, NOTIFY)
    expected_blocks(expected, BASE_BLOCKS, rendered.files)
    result = verify_dir.check(rendered.files)
    assert result.returncode == 0, result.output
    assert "Total Errors:   0" in result.output


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("a" * 256, "longer than 255"),
        ("web 1", "white space"),
        (" web1", "white space"),
        ("web1\n", "control character U+000A"),
        ("web;1", "';'"),
        ("", "must not be empty"),
    ],
)
def test_name_rules(value: str, why: str) -> None:
    with pytest.raises(NaemonValueError, match=re.escape(why)):
        validation.check_name(value)


def test_long_values_within_the_limit_render_and_verify(verify_dir: VerifyDir) -> None:
    state = base_state()
    state.hosts.append(
        {"name": "n" * 255, "alias": "a" * 1024, "use": ["base-host"], "notes": "x " * 511 + "y"}
    )
    result = verify_dir.check(render.render_state(state, NOTIFY).files)
    assert result.returncode == 0, result.output


@pytest.mark.parametrize(
    ("check", "value", "message"),
    [
        (validation.check_value, "C:\\temp\\", "backslash"),
        (validation.check_command_argument, "80\\", "backslash"),
        (validation.check_value, "null", "unset"),
        (lambda v, what: validation.check_name(v, what=what), "null", "unset"),
        (lambda v, what: validation.check_name(v, what=what), "+web", "inherited"),
        (validation.check_value, "a\ud800b", "UTF-8"),
    ],
)
def test_values_naemon_misreads_are_refused(check: Any, value: str, message: str) -> None:
    """Found by the property test against the real core: refused at the API, not at deploy."""
    with pytest.raises(validation.NaemonValueError, match=message):
        check(value, what="field")


# --- through the API: accepted by the API means accepted by the core ---------------------------

API = "/api/v1/registry"


def body(clean: dict[str, Any], spoiled: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A body of legitimate values, with at most one field replaced by a hostile one."""
    spoil = st.sampled_from(sorted(spoiled)).flatmap(lambda k: spoiled[k].map(lambda v: (k, v)))
    return st.tuples(st.fixed_dictionaries(clean), st.one_of(st.none(), st.none(), spoil)).map(
        lambda pair: pair[0] if pair[1] is None else {**pair[0], pair[1][0]: pair[1][1]}
    )


args = st.sampled_from([[], [], ["-w 80% -c 90%", "10:20"], ["100.0,20%", "", "/var/log/x.log"]])
# Issue 16's directives: values the core takes, values at and past its limits, and hostile text.
DIRECTIVES = {
    "event_handler": st.sampled_from([None, "check-true"]),
    "event_handler_enabled": st.sampled_from([None, True, False]),
    "flap_detection_enabled": st.sampled_from([None, True, False]),
    "low_flap_threshold": st.sampled_from([None, 0, 5, 50.5, 100, 101, -1]),
    "high_flap_threshold": st.sampled_from([None, 0, 20, 100, 100.5]),
    "check_freshness": st.sampled_from([None, True]),
    "freshness_threshold": st.sampled_from([None, 0, 60]),
    "process_perf_data": st.sampled_from([None, False]),
    "retain_status_information": st.sampled_from([None, False]),
    "notes_url": st.sampled_from(["", "https://wiki.example.org/$HOSTNAME$?a=1&b=2", "/runbook#x"]),
    "action_url": st.sampled_from(["", "http://grafana.example.org/d/x"]),
    "display_name": st.sampled_from(["", "Web one (primary)"]),
    "icon_image": st.sampled_from(["", "server.png"]),
    "icon_image_alt": st.sampled_from(["", "A server"]),
}
SPOILED_DIRECTIVES = {
    key: hostile for key in ("notes_url", "action_url", "display_name", "icon_image", "icon_image_alt")
}
host_bodies = body(
    {
        "alias": st.sampled_from(["", "Web one", "Web (primary), rack #4 - 50%"]),
        "address": st.sampled_from(["", "192.0.2.1", "2001:db8::1", "web1.example.org"]),
        "notes": st.sampled_from(["", "see https://example.org/runbook?host=web1"]),
        "custom_variables": st.sampled_from([{}, {"_RACK": "B12"}]),
        "check_command": st.sampled_from([None, "check-true", "check-true"]),
        "check_command_args": args,
        # Required directives: set, set to what the core refuses, inherited, or missing.
        "max_check_attempts": st.sampled_from([None, None, 0, 1]),
        "templates": st.sampled_from([["test-host"], [], ["empty-host"], ["empty-host", "test-host"]]),
        **DIRECTIVES,
        "flap_detection_options": st.sampled_from(["", "o,d,u", "n", "o,w"]),
    },
    {
        "alias": hostile,
        "address": hostile,
        "notes": hostile,
        **SPOILED_DIRECTIVES,
        "custom_variables": hostile.map(lambda v: {"_RACK": v}),
        "check_command_args": hostile.map(lambda v: ["80", v]),
    },
)
service_bodies = body(
    {
        "description": st.sampled_from(["HTTP", "Disk /var", "C:\\ Drive"]),
        "check_command": st.sampled_from([None, "check-true", "check-true", "check-true"]),
        "check_command_args": args,
        "max_check_attempts": st.sampled_from([None, None, 0, 1]),
        "retry_interval": st.sampled_from([None, None, 0, 1]),
        "custom_variables": st.sampled_from([{}, {"_X": "y z"}]),
        "templates": st.sampled_from([[], ["test-service"], ["empty-service"]]),
        **DIRECTIVES,
        "flap_detection_options": st.sampled_from(["", "o,w,c,u", "n", "d"]),
        "is_volatile": st.sampled_from([None, True, False]),
    },
    {
        **SPOILED_DIRECTIVES,
        "description": hostile,
        "check_command_args": hostile.map(lambda v: [v]),
        "custom_variables": hostile.map(lambda v: {"_X": v}),
        "notes": hostile,
    },
)


@pytest.fixture
def api_world(basics: dict[str, Any], api_client_for: Any, staff: Any) -> Any:
    """The basics, templates that set nothing, a master node, and a staff client."""
    # Nagios refuses a config without any service: one that is always there.
    seed = Host.objects.create(name="seed-h", max_check_attempts=1)
    Service.objects.create(
        host=seed, description="seed", check_command=basics["command"], max_check_attempts=1
    )
    HostTemplate.objects.create(name="empty-host")
    ServiceTemplate.objects.create(name="empty-service")
    master = NaemonNode.objects.create(name="master", role="master", config_dir="/nonexistent/portal.d")
    return api_client_for(staff), master


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(host=host_bodies, service=service_bodies)
def test_what_the_api_accepts_nagios_accepts(
    host: dict[str, Any], service: dict[str, Any], api_world: Any, verify_dir: VerifyDir
) -> None:
    from django.db import transaction

    api, master = api_world
    fields = set(host) | set(service) | {"check_command_args"}
    with transaction.atomic():
        # As JSON text: the test client's encoder cannot write lone surrogates, json.dumps escapes them.
        created = api.put(f"{API}/hosts/gen-h/", json.dumps(host), content_type="application/json")
        responses = [created]
        if created.status_code == 202:
            url = f"{API}/hosts/gen-h/services/"
            responses.append(api.post(url, json.dumps(service), content_type="application/json"))
        event(
            f"host {created.status_code}, service {responses[-1].status_code if len(responses) > 1 else '-'}"
        )
        for response in responses:
            assert response.status_code in (201, 202, 400), response.content
            if response.status_code == 400:
                assert set(response.json()) <= fields, response.content  # it names the field
        if created.status_code == 202:
            rendered = render_node(master)  # raises NaemonValueError on anything unchecked
            result = verify_dir.check(rendered.files)
            assert result.returncode == 0 and "Total Errors:   0" in result.output, (
                f"accepted: {host}, {service if len(responses) > 1 else ''}\n{result.output}"
            )
        transaction.set_rollback(True)


# --- one rule for characters: the registry and the Livestatus layer agree -----------------------

# One of each class no name or text may hold (livestatus/text.py).
REFUSED_CHARACTERS = {
    "next line U+0085": "\x85",
    "C1 control U+009B": "\x9b",
    "C1 control U+0080": "\x80",
    "line separator U+2028": "\u2028",
    "paragraph separator U+2029": "\u2029",
    "right-to-left override U+202E": "\u202e",
    "left-to-right override U+202D": "\u202d",
    "right-to-left isolate U+2067": "\u2067",
    "right-to-left mark U+200F": "\u200f",
    "zero-width space U+200B": "\u200b",
    "zero-width non-joiner U+200C": "\u200c",
    "zero-width joiner U+200D": "\u200d",
    "word joiner U+2060": "\u2060",
    "byte order mark U+FEFF": "\ufeff",
}
VISIBLE_UNICODE = ["é", "日本", "Ωmega", "\U0001f600", "web-01"]


def _accepts(check: Callable[[str], object], value: str) -> bool:
    try:
        check(value)
    except (NaemonValueError, UnsafeValueError, livestatus_text.UnsafeTextError):
        return False
    return True


def _livestatus(value: str) -> object:
    return query.check_value(value, "name")


@settings(max_examples=1500, deadline=None)
@given(value=st.one_of(st.text(), hostile))
def test_the_registry_accepts_no_name_or_value_the_livestatus_layer_refuses(value: str) -> None:
    """A name the registry stores is one the status pages can query and act on; and the other way round."""
    livestatus_accepts = _accepts(_livestatus, value)
    assert livestatus_accepts == _accepts(livestatus_text.check_text, value)
    for check in (
        validation.check_name,
        lambda v: validation.check_name(v, allow_spaces=True),
        validation.check_value,
        validation.check_macro_value,
        validation.check_command_argument,
    ):
        if _accepts(check, value):
            assert livestatus_accepts, f"the registry accepts {value!r}, the Livestatus layer refuses it"
    if not livestatus_accepts:
        assert not _accepts(validation.check_name, value)
        assert not _accepts(livestatus_text.check_name, value)


@pytest.mark.parametrize("char", list(REFUSED_CHARACTERS.values()), ids=list(REFUSED_CHARACTERS))
def test_each_refused_class_is_refused_by_every_layer(char: str) -> None:
    for value in (f"web{char}01", f"{char}web", f"web{char}"):
        assert not _accepts(_livestatus, value)
        assert not _accepts(livestatus_text.check_name, value)
        assert not _accepts(livestatus_text.check_text, value)
        assert not _accepts(validation.check_name, value)
        assert not _accepts(validation.check_value, value)
        assert not _accepts(lambda v: validation.check_name(v, what="name"), value)


@pytest.mark.parametrize("value", VISIBLE_UNICODE)
def test_visible_unicode_is_accepted_by_every_layer(value: str) -> None:
    assert _accepts(_livestatus, value) and _accepts(livestatus_text.check_name, value)
    assert _accepts(validation.check_name, value) and _accepts(validation.check_value, value)


def test_names_use_the_plain_space_only() -> None:
    """``Disk /var`` and ``Disk\u00a0/var`` look the same: only the first is a name."""
    assert validation.check_name("Disk /var", allow_spaces=True)
    with pytest.raises(NaemonValueError, match="U\\+00A0"):
        validation.check_name("Disk\u00a0/var", allow_spaces=True)


def test_the_message_names_the_character() -> None:
    with pytest.raises(
        NaemonValueError, match=r"alias contains invisible formatting character U\+202E \(RIGHT-TO-LEFT"
    ):
        validation.check_value("web\u202e10", what="alias")
    with pytest.raises(UnsafeValueError, match=r"host name contains the control character U\+0085"):
        query.check_value("web\x8501", "host name")


@pytest.mark.django_db
@pytest.mark.parametrize("char", list(REFUSED_CHARACTERS.values()), ids=list(REFUSED_CHARACTERS))
@pytest.mark.parametrize("field", ["alias", "notes", "check_command_args", "custom_variables", "description"])
def test_the_api_refuses_each_class_naming_the_field(api_world: Any, char: str, field: str) -> None:
    api, _ = api_world
    value = f"web{char}01"
    hosts_before = list(Host.objects.values().order_by("pk"))
    if field == "description":
        response = api.post(f"{API}/hosts/seed-h/services/", {"description": value}, format="json")
    else:
        bodies: dict[str, dict[str, Any]] = {
            "alias": {"alias": value},
            "notes": {"notes": value},
            "check_command_args": {"check_command": "check-true", "check_command_args": [value]},
            "custom_variables": {"custom_variables": {"_RACK": value}},
        }
        body = bodies[field]
        response = api.put(f"{API}/hosts/gen-h/", {"templates": ["test-host"], **body}, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()) == [field], response.content
    assert f"U+{ord(char):04X}" in json.dumps(response.json()), response.content
    assert list(Host.objects.values().order_by("pk")) == hosts_before
    assert Service.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("char", ["\u202e", "\u200b", "\ufeff", "\x85"])
def test_the_api_refuses_such_a_host_name(api_world: Any, char: str) -> None:
    api, _ = api_world
    response = api.put(
        f"{API}/hosts/{quote('web' + char + '01')}/", {"templates": ["test-host"]}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "name" in response.json(), response.content
    assert not Host.objects.filter(name__startswith="web").exists()
