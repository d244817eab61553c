"""Personal silences: the engine mutes what they match strictly before their end; the API per role."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from preferences import compiled, engine, explain, rulebook, snapshot
from preferences.models import Silence
from tests.preferences.conftest import make_contact

SILENCES = "/api/v1/preferences/silences/"
ClientFor = Callable[[User | None], APIClient]
T0 = 1_800_000_000.0  # a fixed instant: 2027-01-15 08:00 UTC


def at(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


def contact_with(*silences: dict[str, Any], default: str = "notify") -> engine.CompiledContact:
    return rulebook.compile_contact([], default=default, silences=silences)


def problem(
    when: float, host: str = "web1", service: str | None = "HTTP", kind: str = "PROBLEM"
) -> engine.Notification:
    return engine.Notification(
        contact="alice",
        channel="email",
        type=kind,
        host=host,
        state="CRITICAL" if kind == "PROBLEM" else "OK",
        hostgroups=["web"],
        service=service,
        time=at(when),
    )


# --- engine ------------------------------------------------------------------------------------


@settings(max_examples=300)
@given(
    start=st.floats(min_value=T0 - 86400, max_value=T0),
    length=st.floats(min_value=1.0, max_value=30 * 86400.0),
    offset=st.floats(min_value=-2 * 86400, max_value=32 * 86400.0),
)
def test_a_silence_mutes_strictly_before_its_end_and_never_after(
    start: float, length: float, offset: float
) -> None:
    until = start + length
    when = start + offset
    contact = contact_with({"id": 7, "comment": "deploy", "start": start, "until": until, "hosts": ["web*"]})
    decision = engine.evaluate(contact, problem(when))
    # The datetime round trip keeps microseconds: compare on the instant the engine saw.
    seen = at(when).timestamp()
    if start <= seen < until:
        assert not decision.notify
        assert decision.reason.startswith("silenced until ") and "(silence #7: deploy)" in decision.reason
    else:
        assert decision == engine.Decision(True, None, "no rule matched; default notify")


@settings(max_examples=200)
@given(host=st.sampled_from(["web1", "web2", "db1"]), service=st.sampled_from([None, "HTTP", "Postgres"]))
def test_a_silence_mutes_only_what_its_matchers_match(host: str, service: str | None) -> None:
    contact = contact_with(
        {"id": 1, "start": T0, "until": T0 + 3600, "hosts": ["web*"], "services": ["HTTP"]}
    )
    decision = engine.evaluate(contact, problem(T0 + 60, host, service))
    assert decision.notify == (not (host.startswith("web") and service == "HTTP"))


def test_a_silence_decides_before_every_rule() -> None:
    contact = rulebook.compile_contact(
        [{"id": 3, "action": "notify", "hosts": ["web1"]}],
        default="suppress",
        silences=[{"id": 9, "start": T0, "until": T0 + 60, "hosts": ["web1"]}],
    )
    assert engine.evaluate(contact, problem(T0 + 1)).reason == (
        f"silenced until {at(T0 + 60):%Y-%m-%d %H:%M:%S} UTC (silence #9)"
    )
    assert engine.evaluate(contact, problem(T0 + 60)) == engine.Decision(True, 3, "rule 3 matched")
    assert explain.explain(contact, problem(T0 + 1))[0][2] == "silence"


def test_a_recovery_follows_its_problem_unless_the_silence_names_recoveries() -> None:
    # Muted problems keep their recovery back (the problem was not sent); a problem sent
    # before the silence gets its recovery: "it is fixed" is not new trouble.
    plain = contact_with({"id": 1, "start": T0, "until": T0 + 3600})
    assert engine.can_suppress(plain)
    recovery = problem(T0 + 10, kind="RECOVERY")
    assert engine.evaluate_followup(plain, recovery, problem_sent=True).notify
    assert not engine.evaluate_followup(plain, recovery, problem_sent=False).notify
    named = contact_with({"id": 2, "start": T0, "until": T0 + 3600, "types": ["PROBLEM", "RECOVERY"]})
    decision = engine.evaluate_followup(named, recovery, problem_sent=True)
    assert not decision.notify and "silence #2" in decision.reason


def test_silences_survive_the_snapshot(tmp_path: Any) -> None:
    snapshot.write_snapshot(
        tmp_path,
        {"alice": {"rules": [], "silences": [{"id": 4, "start": T0, "until": T0 + 60, "hosts": ["web1"]}]}},
    )
    contact = snapshot.read_contact(tmp_path, "alice")
    assert contact is not None
    assert not engine.evaluate(contact, problem(T0 + 59)).notify
    assert engine.evaluate(contact, problem(T0 + 60)).notify


@pytest.mark.parametrize(
    ("matchers", "field"),
    [({"states": ["CRIT"]}, "states"), ({"days": ["mon"]}, "days"), ({"hosts": "web1"}, "hosts")],
)
def test_silence_matchers_are_validated_as_rules_are(matchers: dict[str, Any], field: str) -> None:
    with pytest.raises(engine.RuleError) as error:
        rulebook.validate_silence(matchers)
    assert error.value.field == field


# --- compiled from the database ------------------------------------------------------------------


@pytest.mark.django_db
def test_only_silences_not_over_reach_the_snapshot(owner: User) -> None:
    make_contact("alice", owner)
    now = timezone.now()
    live = Silence.objects.create(
        user=owner, hosts=["web1"], ends_at=now + dt.timedelta(hours=1), comment="x"
    )
    Silence.objects.create(user=owner, hosts=["db1"], ends_at=now + dt.timedelta(hours=1), ended_at=now)
    over = Silence.objects.create(user=owner, hosts=["db2"], ends_at=now + dt.timedelta(hours=1))
    Silence.objects.filter(pk=over.pk).update(ends_at=now - dt.timedelta(seconds=1))
    prefs = compiled.snapshot_contacts()["alice"]
    assert [s["id"] for s in prefs["silences"]] == [live.pk]
    assert prefs["silences"][0]["until"] == live.ends_at.timestamp()


# --- API ---------------------------------------------------------------------------------------


def body(**extra: Any) -> dict[str, Any]:
    ends = timezone.now() + dt.timedelta(hours=2)
    return {
        "hosts": ["web1"],
        "services": ["HTTP"],
        "comment": "deploy",
        "ends_at": ends.isoformat(),
        **extra,
    }


@pytest.fixture
def owners_silence(owner: User) -> Silence:
    return Silence.objects.create(user=owner, hosts=["web1"], ends_at=timezone.now() + dt.timedelta(hours=1))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("persona", "listed", "retrieve", "patch", "delete"),
    [
        ("anonymous", None, 401, 401, 401),
        ("owner", 1, 200, 200, 204),
        ("outsider", 0, 404, 404, 404),
        ("staff", 1, 200, 403, 403),
    ],
)
def test_silence_rights_per_role(
    api_client_for: ClientFor,
    owner: User,
    outsider: User,
    staff: User,
    owners_silence: Silence,
    persona: str,
    listed: int | None,
    retrieve: int,
    patch: int,
    delete: int,
) -> None:
    user = {"anonymous": None, "owner": owner, "outsider": outsider, "staff": staff}[persona]
    client = api_client_for(user)
    response = client.get(SILENCES)
    if listed is None:
        assert response.status_code == 401
    else:
        assert response.status_code == 200 and response.json()["count"] == listed
    detail = f"{SILENCES}{owners_silence.pk}/"
    assert client.get(detail).status_code == retrieve
    assert client.patch(detail, {"ended_at": timezone.now().isoformat()}, format="json").status_code == patch
    owners_silence.refresh_from_db()
    assert (owners_silence.ended_at is not None) == (patch == 200)
    Silence.objects.filter(pk=owners_silence.pk).update(ended_at=None)
    assert client.delete(detail).status_code == delete
    owners_silence.refresh_from_db()
    assert (owners_silence.ended_at is not None) == (delete == 204)
    assert Silence.objects.filter(pk=owners_silence.pk).exists()  # ended, never removed: the history names it


@pytest.mark.django_db
def test_create_list_and_end_early(api_client_for: ClientFor, owner: User) -> None:
    client = api_client_for(owner)
    created = client.post(SILENCES, body(states=["CRITICAL"]), format="json")
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["user"] == "owner" and data["states"] == ["CRITICAL"] and data["active"] is True
    listed = client.get(f"{SILENCES}?active=true")
    assert listed.status_code == 200 and listed.json()["count"] == 1, listed.content
    ended = client.patch(f"{SILENCES}{data['id']}/", {"ended_at": timezone.now().isoformat()}, format="json")
    assert ended.status_code == 200 and ended.json()["active"] is False
    assert client.get(f"{SILENCES}?active=true").json()["count"] == 0
    assert client.get(f"{SILENCES}?active=false").json()["count"] == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ends_at": "2020-01-01T00:00:00Z"}, "ends_at"),
        ({"ends_at": (timezone.now() + dt.timedelta(days=31)).isoformat()}, "ends_at"),
        ({"ends_at": None}, "ends_at"),
        ({"states": ["CRIT"]}, "states"),
        ({"types": ["NOPE"]}, "types"),
        ({"hosts": [""]}, "hosts"),
        ({"hosts": "web1"}, "hosts"),
        ({"ended_at": "2030-01-01T00:00:00Z"}, "ended_at"),
        ({"days": ["mon"]}, "days"),
    ],
)
def test_bad_silences_are_a_400_naming_the_field(
    api_client_for: ClientFor, owner: User, changes: dict[str, Any], field: str
) -> None:
    response = api_client_for(owner).post(SILENCES, body(**changes), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Silence.objects.exists()


@pytest.mark.django_db
def test_a_silence_cannot_be_widened_after_creation(
    api_client_for: ClientFor, owners_silence: Silence, owner: User
) -> None:
    response = api_client_for(owner).patch(f"{SILENCES}{owners_silence.pk}/", {"hosts": ["*"]}, format="json")
    assert response.status_code == 400 and "hosts" in response.json()
    owners_silence.refresh_from_db()
    assert owners_silence.hosts == ["web1"]


@pytest.mark.django_db
def test_unknown_query_parameter_is_a_400(api_client_for: ClientFor, owner: User) -> None:
    response = api_client_for(owner).get(f"{SILENCES}?user=bob")
    assert response.status_code == 400 and "user" in response.json()


# --- pages -------------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
def test_mute_from_the_history_in_two_clicks_then_end_it_early(
    live_server: Any, owner: User, settings: Any
) -> None:
    from playwright.sync_api import expect

    from preferences.models import NotificationDecision
    from tests.services.browser import logged_in_page

    NotificationDecision.objects.create(
        time=timezone.now(),
        contact="owner",
        user=owner,
        host="web1",
        service="HTTP",
        state="CRITICAL",
        type="PROBLEM",
        channel="email",
        decision="notify",
        reason="no rule matched; default notify",
        digest="d1",
    )
    with logged_in_page(live_server, owner, settings) as page:
        page.goto(f"{live_server.url}/notifications/history/")
        page.locator("#history-table .mute-link").first.click()  # click 1
        # Its script sends the form to the API once loaded (before, the form only reloads the page).
        page.wait_for_url(f"{live_server.url}/notifications/silences/?*", wait_until="load")
        page.locator("#silence-create").click()  # click 2: "Mute", for the preselected 2 hours
        row = page.locator("#silences-table tr[data-active=true]")
        expect(row).to_contain_text("hosts: web1")
        silence = Silence.objects.get()
        assert (silence.user, silence.hosts, silence.services) == (owner, ["web1"], ["HTTP"])
        assert abs((silence.ends_at - timezone.now()).total_seconds() - 7200) < 120
        # The page was reloaded after the POST: its script attaches the buttons' handlers once
        # loaded (a click on the bare button before that does nothing).
        page.wait_for_load_state("load")
        row.locator(".end-silence").click()
        expect(page.locator("#silences-table tr[data-active=false]")).to_contain_text("ended early")
    silence.refresh_from_db()
    assert silence.ended_at is not None


@pytest.mark.django_db
def test_the_silence_form_is_prefilled_from_the_link(client: Any, owner: User) -> None:
    client.force_login(owner)
    page = client.get("/notifications/silences/", {"host": "web1", "service": "HTTP"}).content.decode()
    assert 'id="silence-host" name="hosts" value="web1"' in page
    assert 'id="silence-service" name="services" value="HTTP"' in page
