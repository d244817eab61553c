"""On-call rotations: who is on call across DST changes, overrides, the rule condition; the API per role."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from monitoring_portal.models import Team
from preferences import compiled, engine, explain, rulebook
from preferences.models import Rotation, RotationOverride
from tests.preferences.conftest import make_contact, make_rule

PARIS = ZoneInfo("Europe/Paris")
ROTATIONS = "/api/v1/preferences/rotations/"
ClientFor = Callable[[User | None], APIClient]


def rotation(**fields: Any) -> engine.Rotation:
    data = {
        "timezone": "Europe/Paris",
        "start": "2026-03-01",
        "handoff": "09:00",
        "period": "daily",
        "members": ["alice", "bob", "carol"],
        **fields,
    }
    return rulebook.compile_rotation(data)


def paris(year: int, month: int, day: int, hour: int, minute: int) -> float:
    return dt.datetime(year, month, day, hour, minute, tzinfo=PARIS).timestamp()


# --- engine ------------------------------------------------------------------------------------


@pytest.mark.parametrize("day", [dt.date(2026, 3, 29), dt.date(2026, 10, 25)], ids=["march", "october"])
def test_the_hand_off_follows_the_wall_clock_on_dst_days(day: dt.date) -> None:
    schedule = rotation()
    handoff = paris(day.year, day.month, day.day, 9, 0)
    shift = (day - dt.date(2026, 3, 1)).days
    before, after = ["alice", "bob", "carol"][(shift - 1) % 3], ["alice", "bob", "carol"][shift % 3]
    assert engine.on_call(schedule, handoff - 60) == before
    assert engine.on_call(schedule, handoff + 60) == after
    # A rotation kept in UTC would hand off an hour early or late on one side of the change.
    same_utc_as_yesterday = paris(day.year, day.month, day.day - 1, 9, 0) + 86400
    assert same_utc_as_yesterday != handoff


@settings(max_examples=300, deadline=None)
@given(
    day=st.sampled_from(
        [dt.date(2026, 3, 29), dt.date(2026, 10, 25), dt.date(2027, 3, 28), dt.date(2027, 10, 31)]
    ),
    hour=st.sampled_from([0, 1, 3, 4, 6, 9, 12, 18, 23]),  # 02:xx is the changing hour itself: below
    minute=st.integers(0, 59),
    members=st.integers(1, 5),
    weekly=st.booleans(),
    anchor_back=st.integers(0, 60),
)
def test_on_dst_days_the_shift_changes_exactly_at_the_local_hand_off(
    day: dt.date, hour: int, minute: int, members: int, weekly: bool, anchor_back: int
) -> None:
    period = 7 if weekly else 1
    anchor = day - dt.timedelta(days=anchor_back * period)  # a hand-off falls on ``day``
    names = [f"user{i}" for i in range(members)]
    schedule = rotation(
        start=anchor.isoformat(),
        handoff=f"{hour:02d}:{minute:02d}",
        period="weekly" if weekly else "daily",
        members=names,
    )
    instant = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS)
    handoff = instant.timestamp()
    # The instant is the wall clock's HH:MM that day (it exists: not in the changing hour).
    assert dt.datetime.fromtimestamp(handoff, PARIS).strftime("%H:%M") == f"{hour:02d}:{minute:02d}"
    shift = anchor_back
    assert engine.on_call(schedule, handoff + 60) == names[shift % members]
    assert engine.on_call(schedule, handoff) == names[shift % members]
    expected_before = names[(shift - 1) % members] if shift > 0 else None
    assert engine.on_call(schedule, handoff - 60) == expected_before
    if members > 1 or shift == 0:
        assert engine.next_on_call(schedule, handoff - 60) == (handoff, names[shift % members])


def test_a_hand_off_in_the_changing_hour_happens_once() -> None:
    # 02:30 does not exist on 2026-03-29 and exists twice on 2026-10-25 (Paris).
    schedule = rotation(handoff="02:30", members=["alice", "bob"], start="2026-03-28")
    spring = (
        engine.on_call(schedule, paris(2026, 3, 29, 1, 59)),
        engine.on_call(schedule, paris(2026, 3, 29, 4, 0)),
    )
    assert spring == ("alice", "bob")
    first = dt.datetime(2026, 10, 25, 2, 30, tzinfo=PARIS).timestamp()
    autumn = [engine.on_call(schedule, first + offset) for offset in (-60, 60, 1800, 3600 + 60, 3600 + 1800)]
    days = (dt.date(2026, 10, 25) - dt.date(2026, 3, 28)).days
    before, after = ["alice", "bob"][(days - 1) % 2], ["alice", "bob"][days % 2]
    assert autumn == [before, after, after, after, after]  # no flip back in the repeated hour


def test_overrides_win_and_can_mean_nobody() -> None:
    t = paris(2026, 3, 10, 12, 0)
    schedule = rotation(overrides=[[t - 10, t + 10, "dave"], [t - 100, t + 100, ""]])
    assert engine.on_call(schedule, t) == "dave"
    assert engine.on_call(schedule, t + 50) is None
    assert (
        engine.on_call(schedule, t + 100)
        == rotation()["members"][(dt.date(2026, 3, 10) - dt.date(2026, 3, 1)).days % 3]
    )
    assert engine.on_call(rotation(), paris(2026, 2, 28, 12, 0)) is None  # before the first shift


def oncall_contact(user: str, schedule: dict[str, Any]) -> engine.CompiledContact:
    return rulebook.compile_contact(
        [{"id": 1, "action": "notify", "oncall_team": "ops"}],
        default="suppress",
        oncall={"user": user, "rotations": {"ops": schedule}},
    )


def page(when: float) -> engine.Notification:
    return engine.Notification(
        contact="c",
        channel="sms",
        type="PROBLEM",
        host="web1",
        state="DOWN",
        time=dt.datetime.fromtimestamp(when, dt.UTC),
    )


@settings(max_examples=200, deadline=None)
@given(offset=st.integers(0, 21 * 86400))
def test_only_while_i_am_on_call_matches_exactly_the_one_on_call(offset: int) -> None:
    data = {
        "timezone": "Europe/Paris",
        "start": "2026-03-01",
        "handoff": "09:00",
        "period": "daily",
        "members": ["alice", "bob"],
        "fallback": "ops-lead",
        "overrides": [[paris(2026, 3, 5, 0, 0), paris(2026, 3, 6, 0, 0), ""]],
    }
    when = paris(2026, 3, 1, 9, 0) + offset
    who = engine.on_call(rulebook.compile_rotation(data), when)
    decided = {
        user: engine.evaluate(oncall_contact(user, data), page(when)).notify
        for user in ("alice", "bob", "ops-lead")
    }
    if who is None:
        assert decided == {"alice": False, "bob": False, "ops-lead": True}  # nobody: the fallback
    else:
        assert decided == {"alice": who == "alice", "bob": who == "bob", "ops-lead": False}


def test_a_rule_naming_a_team_without_rotation_never_matches() -> None:
    contact = rulebook.compile_contact(
        [{"id": 1, "action": "notify", "oncall_team": "ops"}],
        default="suppress",
        oncall={"user": "a", "rotations": {}},
    )
    assert engine.can_suppress(rulebook.compile_contact([{"action": "notify", "oncall_team": "ops"}]))
    assert (
        engine.evaluate(contact, page(paris(2026, 3, 2, 12, 0))).reason == "no rule matched; default suppress"
    )
    assert explain.explain(contact, page(paris(2026, 3, 2, 12, 0)))[0][2] == "oncall"


# --- from the database and the API -------------------------------------------------------------


@pytest.fixture
def web_rotation(team: Team, owner: User, teammate: User) -> Rotation:
    return Rotation.objects.create(
        team=team,
        members=["owner", "teammate"],
        start=dt.date(2026, 1, 5),
        handoff="09:00",
        timezone="Europe/Paris",
        period="weekly",
    )


@pytest.mark.django_db
def test_the_snapshot_carries_the_rotation_of_the_teams_a_rule_names(
    owner: User, teammate: User, team: Team, web_rotation: Rotation
) -> None:
    make_contact("owner-c", owner)
    make_contact("teammate-c", teammate)
    make_rule(owner, action="notify", oncall_team=team)
    RotationOverride.objects.create(
        rotation=web_rotation,
        user=teammate,
        starts_at=timezone.now() - dt.timedelta(hours=1),
        ends_at=timezone.now() + dt.timedelta(hours=1),
    )
    contacts = compiled.snapshot_contacts()
    assert "oncall" not in contacts["teammate-c"]  # no rule names a team: nothing to carry
    oncall = contacts["owner-c"]["oncall"]
    assert oncall["user"] == "owner" and list(oncall["rotations"]) == ["web"]
    assert oncall["rotations"]["web"]["overrides"][0][2] == "teammate"
    # The override puts teammate on call now: owner's "while I am on call" rule does not match.
    mine, _ = compiled.compile_user(owner)
    now = engine.Notification(contact="owner-c", channel="email", type="PROBLEM", host="h", state="DOWN")
    assert engine.evaluate(mine, now).reason == "no rule matched; default notify"


def rotation_body(**extra: Any) -> dict[str, Any]:
    return {
        "team": "web",
        "members": ["owner", "teammate"],
        "start": "2026-01-05",
        "handoff": "09:00",
        "timezone": "Europe/Paris",
        "period": "weekly",
        **extra,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("persona", "read", "create", "update"),
    [
        ("anonymous", 401, 401, 401),
        ("owner", 200, 201, 200),
        ("outsider", 200, 403, 403),
        ("staff", 200, 201, 200),
    ],
)
def test_rotation_rights_per_role(
    api_client_for: ClientFor,
    owner: User,
    teammate: User,
    outsider: User,
    staff: User,
    persona: str,
    read: int,
    create: int,
    update: int,
) -> None:
    user = {"anonymous": None, "owner": owner, "outsider": outsider, "staff": staff}[persona]
    client = api_client_for(user)
    created = client.post(ROTATIONS, rotation_body(), format="json")
    assert created.status_code == create, created.content
    assert Rotation.objects.exists() == (create == 201)
    Rotation.objects.get_or_create(
        team=Team.objects.get(name="web"),
        defaults={"members": ["owner"], "start": dt.date(2026, 1, 5)},
    )
    assert client.get(f"{ROTATIONS}web/").status_code == read
    changed = client.patch(f"{ROTATIONS}web/", {"handoff": "10:00"}, format="json")
    assert changed.status_code == update, changed.content
    assert (Rotation.objects.get().handoff == "10:00") == (update == 200)


@pytest.mark.django_db
def test_the_rotation_says_who_is_on_call_now_and_next(
    api_client_for: ClientFor, owner: User, teammate: User
) -> None:
    client = api_client_for(owner)
    now = timezone.now()
    body = rotation_body(
        members=["owner"],
        start=(now - dt.timedelta(days=2)).astimezone(PARIS).date().isoformat(),
        period="daily",
        overrides=[
            {
                "user": "teammate",
                "starts_at": (now - dt.timedelta(hours=1)).isoformat(),
                "ends_at": (now + dt.timedelta(hours=1)).isoformat(),
                "comment": "swap",
            }
        ],
    )
    data = client.post(ROTATIONS, body, format="json").json()
    assert data["on_call"] == "teammate"
    assert data["next"]["user"] == "owner"
    change = dt.datetime.fromisoformat(data["next"]["at"])
    assert abs((change - (now + dt.timedelta(hours=1))).total_seconds()) < 0.001


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"members": ["owner", "outsider"]}, "members"),
        ({"members": ["owner", "owner"]}, "members"),
        ({"handoff": "25:00"}, "handoff"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"period": "monthly"}, "period"),
        ({"team": "nope"}, "team"),
        (
            {
                "overrides": [
                    {"user": "owner", "starts_at": "2026-01-02T00:00:00Z", "ends_at": "2026-01-01T00:00:00Z"}
                ]
            },
            "overrides",
        ),
    ],
)
def test_bad_rotations_are_a_400_naming_the_field(
    api_client_for: ClientFor,
    owner: User,
    teammate: User,
    outsider: User,
    changes: dict[str, Any],
    field: str,
) -> None:
    response = api_client_for(owner).post(ROTATIONS, rotation_body(**changes), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Rotation.objects.exists()


@pytest.mark.django_db
def test_a_rule_names_an_existing_team(api_client_for: ClientFor, owner: User, team: Team) -> None:
    client = api_client_for(owner)
    bad = client.post(
        "/api/v1/preferences/rules/", {"action": "notify", "oncall_team": "nope"}, format="json"
    )
    assert bad.status_code == 400 and "oncall_team" in bad.json()
    good = client.post(
        "/api/v1/preferences/rules/", {"action": "notify", "oncall_team": "web"}, format="json"
    )
    assert good.status_code == 201 and good.json()["oncall_team"] == "web"


@pytest.mark.django_db
def test_my_page_shows_who_is_on_call_now_and_next(
    client: Any, owner: User, teammate: User, team: Team
) -> None:
    now = timezone.now()
    rotation = Rotation.objects.create(
        team=team, members=["owner"], start=dt.date(2026, 1, 5), handoff="09:00"
    )
    RotationOverride.objects.create(
        rotation=rotation,
        user=teammate,
        starts_at=now - dt.timedelta(hours=1),
        ends_at=now + dt.timedelta(hours=1),
    )
    client.force_login(owner)
    page = client.get("/notifications/silences/").content.decode()
    assert '<td class="oncall-now">teammate</td>' in page
    assert "owner from " in page
