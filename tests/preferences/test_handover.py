"""Hand-overs: the engine's windows, the filter's records (RECOVERY follows its PROBLEM), the
rendered stand-in contact, the snapshot, the API per role, preferences as code and the page."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from monitoring_portal.models import Team
from preferences import compiled, engine, explain, rulebook
from preferences.models import HandOver, NotificationRule
from registry.models import ContactDelegate, NaemonNode
from registry.state import load_state
from tests.preferences.conftest import Registry, make_contact, make_group
from tests.preferences.test_notify_filter import Node

HANDOVERS = "/api/v1/preferences/handovers/"
ClientFor = Callable[[User | None], APIClient]
T0 = 1_800_000_000.0
RULES = [{"id": 1, "action": "notify", "states": ["CRITICAL"]}]


def note(when: float, kind: str = "PROBLEM", contact: str = "alice") -> engine.Notification:
    return engine.Notification(
        contact=contact,
        channel="email",
        type=kind,
        host="web1",
        state="CRITICAL" if kind == "PROBLEM" else "OK",
        service="HTTP",
        time=dt.datetime.fromtimestamp(when, dt.UTC),
    )


# --- engine ------------------------------------------------------------------------------------


def test_the_owner_is_suppressed_inside_the_window_and_the_stand_in_only_inside_it() -> None:
    handed = {"id": 3, "to": "bob", "comment": "holiday", "start": T0, "until": T0 + 3600}
    alice = rulebook.compile_contact(RULES, default="suppress", handed_over=[handed])
    stand_in = rulebook.compile_contact(
        RULES, default="suppress", stand_in={"name": "alice", "windows": [[T0, T0 + 3600]]}
    )
    assert engine.can_suppress(alice) and engine.can_suppress(stand_in)
    # Before, inside, at the end (excluded): alice's rules, then the hand-over, then her rules again.
    for when, owner, stand in ((T0 - 1, True, False), (T0, False, True), (T0 + 3600, True, False)):
        assert engine.evaluate(alice, note(when)).notify is owner, when
        assert engine.evaluate(stand_in, note(when, contact="bob--for--alice")).notify is stand, when
    assert engine.evaluate(alice, note(T0 + 10)).reason == (
        "handed over to bob until 2027-01-15 09:00:00 UTC (hand-over #3: holiday)"
    )
    assert engine.evaluate(stand_in, note(T0 - 1)).reason == "hand-over from alice not active"
    # Inside the window the stand-in follows alice's rules: a WARNING she would not get, bob does not.
    warning = note(T0 + 10, contact="bob--for--alice")
    warning.state = "WARNING"
    assert engine.evaluate(stand_in, warning).reason == "no rule matched; default suppress"
    # The history's explanation says the same as the filter.
    assert explain.explain(alice, note(T0 + 10))[0][2:] == (
        "handover",
        engine.evaluate(alice, note(T0 + 10)).reason,
    )
    # Follow-ups are never held back by the window: they follow their problem.
    assert engine.evaluate_followup(alice, note(T0 + 10, "RECOVERY"), True).notify
    assert not engine.evaluate_followup(alice, note(T0 + 10, "RECOVERY"), False).notify
    assert engine.evaluate_followup(stand_in, note(T0 + 7200, "RECOVERY"), True).notify


# --- the notify-filter's records: the RECOVERY follows the PROBLEM to whoever got it ---------


def _publish(node: Node, start: float, until: float) -> None:
    """alice handed over to bob from ``start`` to ``until`` (now is whenever the filter runs)."""
    window = {"id": 3, "to": "bob", "comment": "", "start": start, "until": until}
    node.write(
        {
            "alice": {"rules": RULES, "default": "suppress", "handed_over": [window]},
            "bob--for--alice": {
                "rules": RULES,
                "default": "suppress",
                "stand_in": {"name": "alice", "windows": [[start, until]]},
            },
        }
    )


def test_a_problem_sent_to_alice_before_the_hand_over_recovers_to_her_during_it(tmp_path: Path) -> None:
    node = Node(tmp_path)
    now = time.time()
    _publish(node, now + 3600, now + 7200)  # not started yet
    assert node.notify(contact="alice").returncode == 3  # sent
    assert node.notify(contact="bob--for--alice").returncode == 0
    assert node.last_reason() == "hand-over from alice not active"
    _publish(node, now - 60, now + 3600)  # it has started
    assert node.notify(contact="alice", type="RECOVERY", state="OK").returncode == 3
    assert node.last_reason() == "its problem was sent to this contact"
    assert node.notify(contact="bob--for--alice", type="RECOVERY", state="OK").returncode == 0
    assert node.last_reason() == "its problem was not sent to this contact"
    # A new problem during it: bob's, not alice's.
    assert node.notify(contact="alice").returncode == 0
    assert node.last_reason().startswith("handed over to bob until ")
    assert node.notify(contact="bob--for--alice").returncode == 3


def test_a_problem_sent_to_bob_during_the_hand_over_recovers_to_him_after_it(tmp_path: Path) -> None:
    node = Node(tmp_path)
    now = time.time()
    _publish(node, now - 60, now + 3600)  # running
    assert node.notify(contact="alice").returncode == 0
    assert node.notify(contact="bob--for--alice").returncode == 3
    _publish(node, now - 7200, now - 60)  # over
    assert node.notify(contact="bob--for--alice", type="RECOVERY", state="OK").returncode == 3
    assert node.last_reason() == "its problem was sent to this contact"
    assert node.notify(contact="alice", type="RECOVERY", state="OK").returncode == 0
    assert node.last_reason() == "its problem was not sent to this contact"
    assert len(node.sent_lines()) == 2


# --- registry: the stand-in contact wherever alice is one -------------------------------------


@pytest.fixture
def people(registry: Registry) -> dict[str, Any]:
    alice = User.objects.create_user("alice", "alice@example.org")
    bob = User.objects.create_user("bob", "bob@example.org")
    carol = User.objects.create_user("carol", "carol@example.org")
    contacts = {
        "alice": make_contact("alice", alice, registry.email, registry.sms),
        "bob": make_contact("bob", bob, registry.email),
        "carol": make_contact("carol", carol, registry.email),
    }
    contacts["bob"].email = "bob@example.org"
    contacts["bob"].save()
    return {
        "alice": alice,
        "bob": bob,
        "carol": carol,
        "registry": registry,
        **{f"{k}_contact": v for k, v in contacts.items()},
    }


def hand_over(user: User, colleague: User, start: dt.timedelta, end: dt.timedelta, **extra: Any) -> HandOver:
    from preferences import handovers

    now = timezone.now()
    assert handovers.check(user, colleague, now + start, now + end) == {}
    return handovers.create(user, colleague, now + start, now + end, **extra)


@pytest.mark.django_db
def test_the_stand_in_is_rendered_wherever_alice_is_a_contact(people: dict[str, Any]) -> None:
    registry: Registry = people["registry"]
    registry.web1.contacts.add(people["alice_contact"])
    registry.postgres.contacts.add(people["carol_contact"])
    make_group("ops", people["alice_contact"], people["carol_contact"])
    team = Team.objects.create(name="web")
    team.members.add(people["alice"])
    node = NaemonNode.objects.create(name="n1")

    before = load_state(node)
    hand_over(people["alice"], people["bob"], dt.timedelta(days=1), dt.timedelta(days=3))
    state = load_state(node)
    assert {r["name"] for r in state.contacts} - {r["name"] for r in before.contacts} == {"bob--for--alice"}
    [stand_in] = [r for r in state.contacts if r["name"] == "bob--for--alice"]
    # bob's addresses and channels, not alice's.
    assert stand_in["email"] == "bob@example.org"
    assert stand_in["service_notification_commands"] == ["notify-email"]
    groups = {g["name"]: g["members"] for g in state.contactgroups}
    assert groups["ops"] == ["alice", "bob--for--alice", "carol"]
    assert groups["team-web"] == ["alice", "bob--for--alice"]
    hosts = {h["name"]: h for h in state.hosts}
    assert hosts["web1"]["contacts"] == ["alice", "bob--for--alice"]
    services = {s["description"]: s for s in state.services}
    assert services["Postgres"]["contacts"] == ["carol"]  # alice is not a contact there


@pytest.mark.django_db
def test_a_hand_over_cancelled_before_it_starts_is_no_longer_rendered_but_keeps_its_entry(
    people: dict[str, Any],
) -> None:
    from preferences import handovers

    people["registry"].web1.contacts.add(people["alice_contact"])
    node = NaemonNode.objects.create(name="n1")
    handover = hand_over(people["alice"], people["bob"], dt.timedelta(days=1), dt.timedelta(days=3))
    handovers.end(handover)
    assert "bob--for--alice" not in {r["name"] for r in load_state(node).contacts}
    # A stand-in a node may still have is never an unknown contact (which would get everything).
    entries = compiled.snapshot_contacts()
    assert "stand_in" in entries["bob--for--alice"]
    assert "handed_over" not in entries["alice"]


@pytest.mark.django_db
def test_the_snapshot_carries_alices_rules_to_the_stand_in_and_the_window_to_both(
    people: dict[str, Any],
) -> None:
    NotificationRule.objects.create(user=people["alice"], action="notify", states=["CRITICAL"])
    handover = hand_over(
        people["alice"], people["bob"], dt.timedelta(hours=-1), dt.timedelta(days=2), comment="holiday"
    )
    entries = compiled.snapshot_contacts()
    assert entries["bob--for--alice"]["rules"] == entries["alice"]["rules"]
    assert entries["bob--for--alice"]["stand_in"]["name"] == "alice"
    [window] = entries["alice"]["handed_over"]
    assert (window["id"], window["to"], window["comment"]) == (handover.pk, "bob", "holiday")
    assert window["until"] == handover.ends_at.timestamp()
    assert "handed_over" not in entries["bob"] and "stand_in" not in entries["bob"]


# --- API: validation and rights ---------------------------------------------------------------


def _body(colleague: str = "bob", start: float = 3600, end: float = 86400, **extra: Any) -> dict[str, Any]:
    now = timezone.now()
    return {
        "colleague": colleague,
        "starts_at": (now + dt.timedelta(seconds=start)).isoformat(),
        "ends_at": (now + dt.timedelta(seconds=end)).isoformat(),
        **extra,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (_body("alice"), "colleague", "yourself"),
        (_body("nobody"), "colleague", "does not exist"),
        (_body("dave"), "colleague", "no Naemon contact"),
        (_body("inactive"), "colleague", "not an active user"),
        (_body(start=7200, end=3600), "ends_at", "after starts_at"),
        (_body(start=-7200, end=-3600), "ends_at", "in the future"),
        (_body(end=100 * 86400), "ends_at", "at most 92 days"),
        (_body(start=400 * 86400, end=401 * 86400), "starts_at", "366 days"),
        (_body(days=3), "days", "Unknown field"),
    ],
)
def test_a_bad_hand_over_is_a_400_naming_the_field_and_changes_nothing(
    people: dict[str, Any], api_client_for: ClientFor, body: dict[str, Any], field: str, words: str
) -> None:
    User.objects.create_user("dave")
    inactive = User.objects.create_user("inactive", is_active=False)
    make_contact("inactive", inactive, people["registry"].email)
    response = api_client_for(people["alice"]).post(HANDOVERS, body, format="json")
    assert response.status_code == 400, response.content
    assert words.lower() in " ".join(response.json()[field]).lower(), response.json()
    assert not HandOver.objects.exists() and not ContactDelegate.objects.exists()


@pytest.mark.django_db
def test_overlapping_hand_overs_are_refused(people: dict[str, Any], api_client_for: ClientFor) -> None:
    client = api_client_for(people["alice"])
    assert client.post(HANDOVERS, _body(), format="json").status_code == 201
    response = client.post(HANDOVERS, _body("carol", start=7200, end=2 * 86400), format="json")
    assert response.status_code == 400
    assert "Overlaps your hand-over" in response.json()["starts_at"][0]
    # bob is away then (he hands over himself): alice cannot hand over to him.
    hand_over(people["bob"], people["carol"], dt.timedelta(days=5), dt.timedelta(days=6))
    response = client.post(HANDOVERS, _body(start=5 * 86400, end=7 * 86400), format="json")
    assert response.status_code == 400
    assert "choose someone who is there" in response.json()["colleague"][0]
    assert HandOver.objects.filter(user=people["alice"]).count() == 1


@pytest.mark.django_db
def test_rights_mine_and_to_me_only_the_owner_ends_it(
    people: dict[str, Any], api_client_for: ClientFor, staff: User
) -> None:
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    response = api_client_for(alice).post(HANDOVERS, _body(comment="holiday"), format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert (created["user"], created["colleague"], created["active"]) == ("alice", "bob", False)
    url = f"{HANDOVERS}{created['id']}/"

    assert [h["id"] for h in api_client_for(bob).get(HANDOVERS, {"to_me": "true"}).json()["results"]] == [
        created["id"]
    ]
    assert api_client_for(bob).get(HANDOVERS, {"to_me": "false"}).json()["results"] == []
    assert api_client_for(carol).get(HANDOVERS).json()["results"] == []
    assert api_client_for(carol).get(url).status_code == 404
    assert api_client_for(None).get(HANDOVERS).status_code in (401, 403)
    assert api_client_for(staff).get(url).status_code == 200
    # Only alice ends it; neither bob, nor staff; there is no editing it.
    assert api_client_for(bob).delete(url).status_code == 403
    assert api_client_for(staff).delete(url).status_code == 403
    assert api_client_for(alice).patch(url, {"comment": "x"}, format="json").status_code == 405
    assert api_client_for(alice).get(HANDOVERS, {"bogus": "1"}).status_code == 400
    assert HandOver.objects.get().ended_at is None
    assert api_client_for(alice).delete(url).status_code == 204
    ended = api_client_for(alice).get(url).json()
    assert ended["ended_at"] is not None and ended["active"] is False


# --- preferences as code, the page ------------------------------------------------------------


@pytest.mark.django_db
def test_hand_overs_round_trip_through_preferences_as_code(
    people: dict[str, Any], api_client_for: ClientFor
) -> None:
    client = api_client_for(people["alice"])
    hand_over(people["alice"], people["bob"], dt.timedelta(days=1), dt.timedelta(days=3), comment="holiday")
    document = client.get("/api/v1/preferences/export/").json()
    assert [(h["colleague"], h["comment"]) for h in document["handovers"]] == [("bob", "holiday")]
    again = client.put("/api/v1/preferences/export/", document, format="json")
    assert again.status_code == 200, again.content
    assert HandOver.objects.count() == 1 and HandOver.objects.get().ended_at is None  # nothing changed

    document["handovers"] = [_body("carol", start=10 * 86400, end=11 * 86400, comment="later")]
    assert client.put("/api/v1/preferences/export/", document, format="json").status_code == 200
    assert {(h.colleague.username, h.ended_at is None) for h in HandOver.objects.all()} == {
        ("bob", False),
        ("carol", True),
    }
    document["handovers"].append(_body("alice", start=20 * 86400, end=21 * 86400))
    response = client.put("/api/v1/preferences/export/", document, format="json")
    assert response.status_code == 400
    assert "yourself" in response.json()["handovers[1].colleague"][0]
    assert HandOver.objects.count() == 2  # all or nothing


@pytest.mark.django_db
def test_the_page_lists_my_hand_overs_and_those_to_me(people: dict[str, Any], client: Client) -> None:
    hand_over(people["alice"], people["bob"], dt.timedelta(days=1), dt.timedelta(days=3), comment="holiday")
    hand_over(people["carol"], people["alice"], dt.timedelta(days=10), dt.timedelta(days=12), comment="ski")
    client.force_login(people["alice"])
    page = client.get("/notifications/silences/").content.decode()
    mine = page[page.index('id="handovers-table"') : page.index('id="handovers-to-me-table"')]
    to_me = page[page.index('id="handovers-to-me-table"') :]
    assert "holiday" in mine and ">bob<" in mine and "Cancel" in mine
    assert "ski" in to_me and ">carol<" in to_me
