"""The rule engine: criteria, order, defaults, globs, time windows, validation."""

from __future__ import annotations

import marshal
from collections.abc import Mapping
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from preferences import engine, rulebook
from preferences.engine import Decision, Notification, RuleError

# Wednesday 2024-05-15 12:00 UTC
NOON = datetime(2024, 5, 15, 12, 0, tzinfo=UTC)


def notification(**overrides: object) -> Notification:
    fields: dict[str, object] = {
        "contact": "alice",
        "channel": "email",
        "type": "PROBLEM",
        "host": "web1",
        "hostgroups": ["web", "linux"],
        "service": "HTTP",
        "servicegroups": ["http"],
        "state": "CRITICAL",
        "notification_id": "42",
        "time": NOON,
    }
    fields.update(overrides)
    return Notification(**fields)  # type: ignore[arg-type]


def host_notification(**overrides: object) -> Notification:
    return notification(**{"service": None, "servicegroups": [], "state": "DOWN", **overrides})


def decide(
    rules: list[dict[str, object]],
    n: Notification,
    *,
    default: str = "notify",
    timezone: str = "UTC",
) -> Decision:
    return engine.evaluate(rulebook.compile_contact(rules, default=default, timezone=timezone), n)


def matches(rule: Mapping[str, object], n: Notification, timezone: str = "UTC") -> bool:
    """Whether a suppress rule catches the notification (default is notify)."""
    return not decide([{"action": "suppress", **rule}], n, timezone=timezone).notify


# --- criteria ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("criterion", "hit", "miss"),
    [
        ("hosts", ["web1"], ["web2"]),
        ("hostgroups", ["linux"], ["windows"]),
        ("services", ["HTTP"], ["SSH"]),
        ("servicegroups", ["http"], ["ssh"]),
        ("states", ["CRITICAL"], ["WARNING"]),
        ("types", ["PROBLEM"], ["RECOVERY"]),
        ("channels", ["email"], ["sms"]),
        ("days", ["wed"], ["thu"]),
    ],
)
def test_each_criterion_matches_and_misses(criterion: str, hit: list[str], miss: list[str]) -> None:
    n = notification()
    assert matches({criterion: hit}, n)
    assert not matches({criterion: miss}, n)
    assert matches({criterion: [*miss, *hit]}, n), "any listed value matches"
    assert matches({criterion: []}, n), "an empty criterion matches anything"


def test_all_criteria_must_match() -> None:
    rule = {"hosts": ["web1"], "states": ["CRITICAL"], "channels": ["sms"]}
    assert not matches(rule, notification())
    assert matches(rule, notification(channel="sms"))


def test_rule_without_criteria_matches_everything() -> None:
    assert matches({}, notification())
    assert matches({}, host_notification())


def test_service_criteria_never_match_host_notifications() -> None:
    n = host_notification()
    assert not matches({"services": ["*"]}, n)
    assert not matches({"servicegroups": ["*"]}, n)
    assert matches({"services": ["*"]}, notification()), "'*' = any service notification"


def test_host_criteria_match_service_notifications_on_that_host() -> None:
    assert matches({"hosts": ["web1"]}, notification())
    assert matches({"hostgroups": ["web"]}, notification())
    assert matches({"hostgroups": ["web"]}, host_notification())


def test_states_are_host_or_service_states() -> None:
    assert not matches({"states": ["CRITICAL"]}, host_notification(state="DOWN"))
    assert matches({"states": ["DOWN", "CRITICAL"]}, host_notification(state="DOWN"))
    assert matches({"states": ["DOWN", "CRITICAL"]}, notification(state="CRITICAL"))


def test_unknown_notification_values_simply_do_not_match() -> None:
    n = notification(type="SOMETHINGNEW", state="WEIRD")
    assert not matches({"types": ["PROBLEM"]}, n)
    assert not matches({"states": ["CRITICAL"]}, n)
    assert matches({}, n)


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("web*", "web1", True),
        ("web*", "web", True),
        ("web*", "db-web1", False),
        ("*.example.org", "www.example.org", True),
        ("*.example.org", "www.example.com", False),
        ("w*1", "web1", True),
        ("w*1", "web2", False),
        ("web?", "web1", True),
        ("web?", "web10", False),
        ("web[12]", "web2", True),
        ("web[!12]", "web2", False),
        ("*", "anything", True),
        ("WEB*", "web1", False),  # case-sensitive, like Naemon's names
        ("a*b*c", "aXbYc", True),
        ("a*b*c", "aXbY", False),
        ("web[", "web[", True),  # fnmatch: an unclosed bracket is literal
    ],
)
def test_host_globs(pattern: str, name: str, expected: bool) -> None:
    assert matches({"hosts": [pattern]}, notification(host=name)) is expected
    assert fnmatchcase(name, pattern) is expected


def test_group_globs_match_any_group() -> None:
    n = notification(hostgroups=["linux-prod", "dc-paris"], servicegroups=["db-oracle"])
    assert matches({"hostgroups": ["dc-*"]}, n)
    assert not matches({"hostgroups": ["dc-lyon*"]}, n)
    assert matches({"servicegroups": ["db-*"]}, n)
    assert matches({"servicegroups": ["db-[ot]racle"]}, n)
    assert not matches({"hostgroups": ["*"]}, notification(hostgroups=[]))


def test_exact_names_are_not_globs() -> None:
    compiled = rulebook.compile_rule(
        {"action": "notify", "hosts": ["web1", "db*", "x?y", "*.org", "a[bc]d*", "a*b*c"]}
    )
    assert compiled is not None
    assert compiled["hosts"] == (
        frozenset({"web1"}),
        (
            ("db", "", ""),
            ("x", "y", "x?y"),
            ("", ".org", ""),
            ("a", "", "a[bc]d*"),
            ("a", "c", "a*b*c"),
        ),
    )


# --- order and defaults -----------------------------------------------------


def test_first_matching_rule_wins() -> None:
    rules: list[dict[str, object]] = [
        {"id": 1, "action": "suppress", "hosts": ["db1"]},
        {"id": 2, "action": "notify", "states": ["CRITICAL"]},
        {"id": 3, "action": "suppress"},
    ]
    assert decide(rules, notification()) == Decision(True, 2, "rule 2 matched")
    assert decide(rules, notification(state="WARNING")) == Decision(False, 3, "rule 3 matched")
    assert decide(rules, notification(host="db1")) == Decision(False, 1, "rule 1 matched")


@pytest.mark.parametrize(
    ("default", "expected"),
    [
        ("notify", Decision(True, None, "no rule matched; default notify")),
        ("suppress", Decision(False, None, "no rule matched; default suppress")),
    ],
)
def test_default_decides_when_no_rule_matches(default: str, expected: Decision) -> None:
    rules: list[dict[str, object]] = [{"id": 1, "action": "notify", "hosts": ["db1"]}]
    assert decide(rules, notification(), default=default) == expected
    assert decide([], notification(), default=default) == expected


def test_disabled_rule_is_skipped() -> None:
    rules: list[dict[str, object]] = [
        {"id": 1, "action": "suppress", "enabled": False},
        {"id": 2, "action": "notify", "enabled": True},
    ]
    assert decide(rules, notification()).rule_id == 2
    assert rulebook.compile_contact(rules)["rules"][0]["id"] == 2


def test_rule_without_id_is_named_by_position() -> None:
    rules: list[dict[str, object]] = [{"action": "notify", "hosts": ["x"]}, {"action": "suppress"}]
    assert decide(rules, notification()) == Decision(False, None, "rule #2 matched")


def test_string_rule_ids() -> None:
    decision = decide([{"id": "night-shift", "action": "suppress"}], notification())
    assert decision == Decision(False, "night-shift", "rule night-shift matched")


def test_can_suppress() -> None:
    assert not engine.can_suppress(rulebook.compile_contact([{"action": "notify"}]))
    assert engine.can_suppress(rulebook.compile_contact([], default="suppress"))
    assert engine.can_suppress(rulebook.compile_contact([{"action": "suppress", "hosts": ["x"]}]))
    disabled = [{"action": "suppress", "enabled": False}]
    assert not engine.can_suppress(rulebook.compile_contact(disabled))


# --- time windows -----------------------------------------------------------


def at(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


OFFICE = {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "18:00"}


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (at(2024, 5, 15, 8, 0), True),  # Wednesday, start is inclusive
        (at(2024, 5, 15, 17, 59), True),
        (at(2024, 5, 15, 18, 0), False),  # end is exclusive
        (at(2024, 5, 15, 7, 59), False),
        (at(2024, 5, 18, 12, 0), False),  # Saturday
    ],
)
def test_office_hours(when: datetime, expected: bool) -> None:
    assert matches(OFFICE, notification(time=when)) is expected


NIGHT = {"days": ["fri"], "start": "22:00", "end": "06:00"}


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (at(2024, 5, 17, 22, 0), True),  # Friday night
        (at(2024, 5, 17, 23, 59), True),
        (at(2024, 5, 18, 0, 0), True),  # ... into Saturday morning
        (at(2024, 5, 18, 5, 59), True),
        (at(2024, 5, 18, 6, 0), False),
        (at(2024, 5, 17, 3, 0), False),  # Friday early morning belongs to Thursday's night
        (at(2024, 5, 18, 23, 0), False),  # Saturday night is not listed
        (at(2024, 5, 17, 21, 59), False),
    ],
)
def test_window_crossing_midnight_belongs_to_the_day_it_starts(when: datetime, expected: bool) -> None:
    assert matches(NIGHT, notification(time=when)) is expected


def test_window_in_the_contacts_time_zone() -> None:
    # 07:30 UTC on a Wednesday in May is 09:30 in Paris (CEST) and 03:30 in New York.
    n = notification(time=at(2024, 5, 15, 7, 30))
    assert matches(OFFICE, n, timezone="Europe/Paris")
    assert not matches(OFFICE, n, timezone="America/New_York")
    assert not matches(OFFICE, n, timezone="UTC")


def test_window_is_wall_clock_time_across_dst() -> None:
    # Europe/Paris: CET (UTC+1) until 2024-03-31 01:00 UTC, CEST (UTC+2) after.
    assert matches(OFFICE, notification(time=at(2024, 3, 29, 7, 30)), "Europe/Paris")  # 08:30 CET
    assert not matches(OFFICE, notification(time=at(2024, 3, 29, 6, 30)), "Europe/Paris")
    assert matches(OFFICE, notification(time=at(2024, 4, 1, 6, 30)), "Europe/Paris")  # 08:30 CEST
    # A Saturday-night window on the night the clocks go forward ends at 06:00 local.
    saturday_night = {"days": ["sat"], "start": "22:00", "end": "06:00"}
    assert matches(saturday_night, notification(time=at(2024, 3, 31, 3, 59)), "Europe/Paris")
    assert not matches(saturday_night, notification(time=at(2024, 3, 31, 4, 0)), "Europe/Paris")
    # 02:30 local does not exist that night; 01:30 UTC is 03:30 CEST.
    small_hours = {"start": "02:00", "end": "03:00"}
    assert not matches(small_hours, notification(time=at(2024, 3, 31, 1, 30)), "Europe/Paris")
    # In October 02:30 local happens twice: both match.
    assert matches(small_hours, notification(time=at(2024, 10, 27, 0, 30)), "Europe/Paris")
    assert matches(small_hours, notification(time=at(2024, 10, 27, 1, 30)), "Europe/Paris")


def test_time_of_non_utc_aware_datetime_is_respected() -> None:
    tokyo = datetime(2024, 5, 15, 9, 0, tzinfo=ZoneInfo("Asia/Tokyo"))  # 00:00 UTC
    assert not matches(OFFICE, notification(time=tokyo))
    assert matches(OFFICE, notification(time=tokyo), timezone="Asia/Tokyo")


@pytest.mark.parametrize(
    ("window", "compiled"),
    [
        ({}, None),
        ({"start": "00:00", "end": "24:00"}, None),
        ({"days": list(engine.WEEKDAYS)}, None),
        ({"start": "08:00", "end": "08:00"}, None),  # 24h from 08:00 every day: always
        ({"days": ["mon"], "start": "08:00", "end": "08:00"}, (0b1, 480, 1440)),
        ({"start": "22:00"}, (0b1111111, 1320, 120)),
        ({"end": "06:00"}, (0b1111111, 0, 360)),
        ({"days": ["mon", "sun"]}, (0b1000001, 0, 1440)),
    ],
)
def test_window_compilation(window: dict[str, object], compiled: object) -> None:
    rule = rulebook.compile_rule({"action": "notify", **window})
    assert rule is not None
    assert rule["window"] == compiled


def test_missing_time_means_now() -> None:
    before = datetime.now(UTC)
    weekday, _ = engine.local_clock(None, "UTC")
    now = datetime.now(UTC)
    assert weekday in {before.weekday(), now.weekday()}
    everything_but_now = {"days": [engine.WEEKDAYS[(now.weekday() + 3) % 7]]}
    assert not matches(everything_but_now, notification(time=None))


def test_notification_time_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        notification(time=datetime(2024, 5, 15, 12, 0))


# --- validation -------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "field", "message"),
    [
        ({"action": "notify", "states": ["CRIT"]}, "states", "unknown value 'CRIT'"),
        ({"action": "notify", "types": ["PROBLEMS"]}, "types", "unknown value 'PROBLEMS'"),
        ({"action": "notify", "days": ["monday"]}, "days", "unknown value 'monday'"),
        ({"action": "notify", "start": "8:00"}, "start", "expected HH:MM"),
        ({"action": "notify", "start": "24:00"}, "start", "not a time of day"),
        ({"action": "notify", "end": "24:01"}, "end", "not a time of day"),
        ({"action": "notify", "end": "12:60"}, "end", "not a time of day"),
        ({"action": "notify", "end": "\uff11\uff12:\uff10\uff10"}, "end", "expected HH:MM"),
        ({"action": "notify", "hosts": "web1"}, "hosts", "expected a list of strings"),
        ({"action": "notify", "hosts": [1]}, "hosts", "expected a list of strings"),
        ({"action": "notify", "hosts": [""]}, "hosts", "empty"),
        ({"action": "notify", "hosts": [" web1"]}, "hosts", "whitespace"),
        ({"action": "notify", "host": ["web1"]}, "host", "unknown field"),
        ({"action": "maybe"}, "action", "expected 'notify' or 'suppress'"),
        ({}, "action", "expected 'notify' or 'suppress'"),
        ({"action": "notify", "enabled": "yes"}, "enabled", "expected true or false"),
        ({"action": "notify", "id": True}, "id", "expected an int or a string"),
        ({"action": "notify", "comment": 3}, "comment", "expected a string"),
    ],
)
def test_validation_errors(rule: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(RuleError, match=message) as caught:
        rulebook.validate_rule(rule)
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)


def test_validation_error_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="expected one of UP, DOWN, UNREACHABLE, OK"):
        rulebook.validate_rule({"action": "notify", "states": ["CRIT"]})


def test_validation_normalises() -> None:
    rule = rulebook.validate_rule(
        {
            "action": "suppress",
            "states": ["critical", "CRITICAL", "Warning"],
            "types": ["problem"],
            "days": ["MON"],
            "hosts": ["web1", "web1"],
        }
    )
    assert rule["states"] == ["CRITICAL", "WARNING"]
    assert rule["types"] == ["PROBLEM"]
    assert rule["days"] == ["mon"]
    assert rule["hosts"] == ["web1"]
    assert rule["enabled"] is True
    assert (rule["start"], rule["end"]) == ("00:00", "24:00")


def test_compile_contact_names_the_rule_position_and_checks_the_rest() -> None:
    with pytest.raises(RuleError) as caught:
        rulebook.compile_contact([{"action": "notify"}, {"action": "notify", "states": ["X"]}])
    assert caught.value.field == "rules[1].states"
    with pytest.raises(RuleError, match="unknown time zone 'Mars/Olympus'"):
        rulebook.compile_contact([], timezone="Mars/Olympus")
    with pytest.raises(RuleError, match="default"):
        rulebook.compile_contact([], default="maybe")


def test_compiled_contact_is_plain_marshal_data() -> None:
    compiled = rulebook.compile_contact(
        [{"id": 1, "action": "notify", "hosts": ["web*", "db1"], **OFFICE}],
        timezone="Europe/Paris",
    )
    assert marshal.loads(marshal.dumps(dict(compiled), 4)) == compiled  # noqa: S302


def test_other_compiled_format_is_refused() -> None:
    compiled = rulebook.compile_contact([])
    compiled["format"] = 99
    with pytest.raises(ValueError, match="format 99"):
        engine.evaluate(compiled, notification())


def test_notification_normalises_empty_service() -> None:
    n = notification(service="", servicegroups=["x"])
    assert n.service is None
    assert n.servicegroups == ()
    assert n == notification(service=None, servicegroups=[])
    assert "host='web1'" in repr(n)


# --- RECOVERY and ACKNOWLEDGEMENT follow their PROBLEM --------------------------

# Wednesday 03:00 UTC: inside "quiet nights".
THREE_AM = datetime(2024, 5, 15, 3, 0, tzinfo=UTC)
QUIET_NIGHTS: dict[str, object] = {"id": "quiet", "action": "suppress", "start": "22:00", "end": "07:00"}


def followup(
    rules: list[dict[str, object]],
    n: Notification,
    problem_sent: bool | None,
    *,
    default: str = "notify",
) -> Decision:
    return engine.evaluate_followup(rulebook.compile_contact(rules, default=default), n, problem_sent)


def recovery(**overrides: object) -> Notification:
    return notification(**{"type": "RECOVERY", "state": "OK", **overrides})


@pytest.mark.parametrize("sent", [True, False, None])
def test_a_followup_follows_its_problem_when_no_rule_decides(sent: bool | None) -> None:
    rules: list[dict[str, object]] = [
        {"id": 1, "action": "notify", "hostgroups": ["web"], "states": ["CRITICAL"]}
    ]
    decision = followup(rules, recovery(), sent, default="suppress")
    assert decision.rule_id is None
    assert decision.notify is (sent is not False)
    assert "problem" in decision.reason


def test_a_rule_naming_the_type_decides_but_cannot_send_an_unsent_problems_end() -> None:
    silence: list[dict[str, object]] = [{"id": 1, "action": "suppress", "types": ["RECOVERY"]}]
    assert followup(silence, recovery(), True) == Decision(False, 1, "rule 1 matched")
    assert followup(silence, recovery(type="ACKNOWLEDGEMENT", state="CRITICAL"), True).notify
    send: list[dict[str, object]] = [{"id": 2, "action": "notify", "types": ["RECOVERY"]}]
    assert followup(send, recovery(), True) == Decision(True, 2, "rule 2 matched")
    assert followup(send, recovery(), False) == Decision(
        False, 2, "rule 2 matched; but its problem was not sent to this contact"
    )


@pytest.mark.parametrize("kind", ["RECOVERY", "ACKNOWLEDGEMENT"])
def test_quiet_nights_hold_back_the_end_of_a_problem_sent_in_the_day(kind: str) -> None:
    n = recovery(type=kind, state="OK" if kind == "RECOVERY" else "CRITICAL", time=THREE_AM)
    assert followup([QUIET_NIGHTS], n, True) == Decision(False, "quiet", "rule quiet matched")
    # Out of the window the problem decides again.
    day = recovery(type=kind, state=n.state, time=NOON)
    assert followup([QUIET_NIGHTS], day, True) == Decision(True, None, "its problem was sent to this contact")
    # The preview (node record unknown) says the same.
    assert followup([QUIET_NIGHTS], n, None).notify is False


@pytest.mark.parametrize(
    ("criteria", "suppressed"),
    [
        ({}, True),
        ({"hostgroups": ["web"]}, True),
        ({"hostgroups": ["db"]}, False),
        ({"channels": ["sms"]}, False),
        ({"states": ["OK"]}, True),
        ({"states": ["CRITICAL"]}, False),  # "quiet about criticals": a RECOVERY is OK
        ({"types": ["PROBLEM"]}, False),  # names other types: not about follow-ups
    ],
)
def test_an_untyped_suppress_rule_must_match_the_followup(
    criteria: dict[str, object], suppressed: bool
) -> None:
    rules = [{**QUIET_NIGHTS, **criteria}]
    assert followup(rules, recovery(time=THREE_AM), True).notify is not suppressed


def test_an_untyped_notify_rule_above_quiet_nights_lets_the_end_of_its_problems_through() -> None:
    """'Web criticals always, then quiet nights': the CRITICAL woke me, so does its RECOVERY."""
    rules: list[dict[str, object]] = [
        {"id": 1, "action": "notify", "hostgroups": ["web"], "states": ["CRITICAL"]},
        QUIET_NIGHTS,
    ]
    contact = rulebook.compile_contact(rules)
    assert engine.evaluate(contact, notification(time=THREE_AM)).notify, "the problem goes out at night"
    assert followup(rules, recovery(time=THREE_AM), True) == Decision(
        True, None, "its problem was sent to this contact"
    )
    assert not followup(rules, recovery(time=THREE_AM), False).notify
    # Another object than the rule's: quiet nights hold it back.
    db = recovery(time=THREE_AM, host="db1", hostgroups=["db"])
    assert followup(rules, db, True) == Decision(False, "quiet", "rule quiet matched")
    # A rule naming the type still decides after it.
    typed: list[dict[str, object]] = [rules[0], {"id": 3, "action": "suppress", "types": ["RECOVERY"]}]
    assert followup(typed, recovery(time=THREE_AM), True) == Decision(False, 3, "rule 3 matched")


def test_an_untyped_notify_rule_below_quiet_nights_changes_nothing() -> None:
    rules: list[dict[str, object]] = [QUIET_NIGHTS, {"id": 1, "action": "notify", "hostgroups": ["web"]}]
    assert followup(rules, recovery(time=THREE_AM), True) == Decision(False, "quiet", "rule quiet matched")


# --- properties -------------------------------------------------------------

HOSTS = ["web1", "web2", "db1", "db10"]
HOST_PATTERNS = [*HOSTS, "web*", "*1", "d?1", "db[12]*", "*"]
GROUPS = ["linux", "windows", "prod", "dev"]
GROUP_PATTERNS = [*GROUPS, "*x", "pro*", "[dw]*"]
SERVICES = ["HTTP", "SSH", "Disk /"]
SERVICE_PATTERNS = [*SERVICES, "D*", "*S*"]


def _subset(values: list[str]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(values), max_size=3, unique=True)


rules_strategy = st.fixed_dictionaries(
    {"action": st.sampled_from(["notify", "suppress"])},
    optional={
        "enabled": st.booleans(),
        "hosts": _subset(HOST_PATTERNS),
        "hostgroups": _subset(GROUP_PATTERNS),
        "services": _subset(SERVICE_PATTERNS),
        "servicegroups": _subset(GROUP_PATTERNS),
        "states": _subset(list(engine.STATES)),
        "types": _subset(list(engine.NOTIFICATION_TYPES)),
        "channels": _subset(["email", "sms"]),
        "days": _subset(list(engine.WEEKDAYS)),
        "start": st.sampled_from(["00:00", "06:30", "22:00"]),
        "end": st.sampled_from(["06:00", "18:00", "24:00"]),
    },
)
rule_lists = st.lists(rules_strategy, max_size=6).map(
    lambda rules: [{**rule, "id": position} for position, rule in enumerate(rules)]
)


@st.composite
def notifications(draw: st.DrawFn) -> Notification:
    service = draw(st.sampled_from([None, *SERVICES]))
    states = engine.HOST_STATES if service is None else engine.SERVICE_STATES
    return Notification(
        contact="alice",
        channel=draw(st.sampled_from(["email", "sms"])),
        type=draw(st.sampled_from(engine.NOTIFICATION_TYPES)),
        host=draw(st.sampled_from(HOSTS)),
        hostgroups=draw(_subset(GROUPS)),
        service=service,
        servicegroups=draw(_subset(GROUPS)),
        state=draw(st.sampled_from(states)),
        time=draw(
            st.datetimes(
                min_value=datetime(2020, 1, 1),
                max_value=datetime(2030, 1, 1),
                timezones=st.just(UTC),
            )
        ),
    )


@given(rule_lists, notifications(), st.sampled_from(["notify", "suppress"]))
def test_first_matching_enabled_rule_decides(
    rules: list[dict[str, object]], n: Notification, default: str
) -> None:
    decision = decide(rules, n, default=default, timezone="Europe/Paris")
    for rule in rules:
        compiled = rulebook.compile_rule(rule)
        if compiled is not None and engine.rule_matches(compiled, n, "Europe/Paris"):
            assert decision.rule_id == rule["id"]
            assert decision.notify is (rule["action"] == "notify")
            return
    assert decision.rule_id is None
    assert decision.notify is (default == "notify")


@given(
    rule_lists,
    st.lists(rules_strategy, max_size=3),
    st.randoms(use_true_random=False),
    notifications(),
)
def test_disabled_rules_never_change_a_decision(
    rules: list[dict[str, object]],
    extra: list[dict[str, object]],
    random: object,
    n: Notification,
) -> None:
    with_disabled = list(rules)
    for rule in extra:
        position = random.randint(0, len(with_disabled))  # type: ignore[attr-defined]
        with_disabled.insert(position, {**rule, "enabled": False, "id": "disabled"})
    assert decide(with_disabled, n) == decide(rules, n)


@given(notifications(), st.sampled_from(["notify", "suppress"]))
def test_no_rules_means_the_default(n: Notification, default: str) -> None:
    decision = decide([], n, default=default)
    assert decision.notify is (default == "notify")
    assert decision.rule_id is None


glob_text = st.text(alphabet="ab*?[]!-", max_size=6)


@settings(max_examples=1000)
@given(st.lists(glob_text, min_size=1, max_size=3), st.text(alphabet="ab[]!-", max_size=6))
def test_compiled_names_match_like_fnmatchcase(patterns: list[str], name: str) -> None:
    patterns = [p for p in patterns if p and p == p.strip()] or ["a"]
    compiled = rulebook._compile_names(patterns)
    assert compiled is not None
    expected = any(fnmatchcase(name, pattern) for pattern in patterns)
    assert engine._name_matches(compiled, name) is expected


@given(
    st.lists(st.sampled_from(engine.WEEKDAYS), min_size=1, unique=True),
    st.integers(0, 23 * 60 + 59),
    st.integers(1, 24 * 60),
    st.integers(0, 7 * 24 * 60 - 1),
)
def test_window_against_brute_force(days: list[str], start: int, end: int, minute_of_week: int) -> None:
    def hhmm(minutes: int) -> str:
        return f"{minutes // 60:02d}:{minutes % 60:02d}"

    rule = rulebook.compile_rule({"action": "notify", "days": days, "start": hhmm(start), "end": hhmm(end)})
    assert rule is not None
    duration = (end - start) % 1440 or 1440
    week = 7 * 1440
    covered = {
        (engine.WEEKDAYS.index(day) * 1440 + start + offset) % week
        for day in days
        for offset in range(duration)
    }
    clock = (minute_of_week // 1440, minute_of_week % 1440)
    expected = minute_of_week in covered
    window = rule["window"]
    assert (window is None or engine.in_window(window, clock)) is expected
