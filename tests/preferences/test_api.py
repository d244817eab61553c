"""The preferences REST API: access matrix, validation by the engine, reorder, profile, previews."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from preferences.models import NotificationProfile, NotificationRule
from tests.preferences.conftest import Registry, make_contact, make_group, make_rule

pytestmark = pytest.mark.django_db

RULES = "/api/v1/preferences/rules/"
ClientFor = Callable[[User | None], APIClient]


@pytest.fixture
def personas(owner: User, outsider: User, staff: User) -> dict[str, User | None]:
    return {"owner": owner, "outsider": outsider, "staff": staff, "anonymous": None}


@pytest.fixture
def owners_rule(owner: User) -> NotificationRule:
    return make_rule(owner, action="suppress", hostgroups=["db"], comment="not my databases")


CRITICAL_ON_WEB = {
    "action": "notify",
    "hostgroups": ["web"],
    "states": ["CRITICAL"],
    "comment": "web critical",
}


def call(client: APIClient, operation: str, rule: NotificationRule) -> Any:
    """One operation of the matrix on the owner's rule."""
    detail = f"{RULES}{rule.pk}/"
    if operation == "list":
        return client.get(RULES)
    if operation == "retrieve":
        return client.get(detail)
    if operation == "create":
        return client.post(RULES, CRITICAL_ON_WEB, format="json")
    if operation == "update":
        return client.put(detail, {**CRITICAL_ON_WEB, "enabled": False}, format="json")
    if operation == "partial_update":
        return client.patch(detail, {"enabled": False}, format="json")
    if operation == "delete":
        return client.delete(detail)
    if operation == "reorder":
        return client.post(f"{RULES}reorder/", {"ids": [rule.pk]}, format="json")
    if operation == "test":
        body = {
            "host": "db1",
            "service": "Postgres",
            "state": "CRITICAL",
            "channel": "email",
            "user": "owner",
        }
        return client.post("/api/v1/preferences/test/", body, format="json")
    if operation == "who":
        return client.get("/api/v1/preferences/who/?host=db1&service=Postgres&state=CRITICAL")
    if operation == "profile":
        return client.get("/api/v1/preferences/profile/?user=owner")
    raise AssertionError(operation)


# Who may do what with the owner's rule. Staff read everything but change only their own rules;
# another user's rule does not exist for a non-staff user (404); anonymous is 401 everywhere.
MATRIX = {
    "list": {"owner": 200, "outsider": 200, "staff": 200, "anonymous": 401},
    "retrieve": {"owner": 200, "outsider": 404, "staff": 200, "anonymous": 401},
    "create": {"owner": 201, "outsider": 201, "staff": 201, "anonymous": 401},
    "update": {"owner": 200, "outsider": 404, "staff": 403, "anonymous": 401},
    "partial_update": {"owner": 200, "outsider": 404, "staff": 403, "anonymous": 401},
    "delete": {"owner": 204, "outsider": 404, "staff": 403, "anonymous": 401},
    "reorder": {"owner": 200, "outsider": 400, "staff": 400, "anonymous": 401},
    "test": {"owner": 200, "outsider": 403, "staff": 200, "anonymous": 401},
    "who": {"owner": 200, "outsider": 200, "staff": 200, "anonymous": 401},
    "profile": {"owner": 200, "outsider": 403, "staff": 200, "anonymous": 401},
}


@pytest.mark.parametrize("persona", ["owner", "outsider", "staff", "anonymous"])
@pytest.mark.parametrize("operation", list(MATRIX))
def test_access_matrix(
    operation: str,
    persona: str,
    personas: dict[str, User | None],
    owners_rule: NotificationRule,
    registry: Registry,
    api_client_for: ClientFor,
) -> None:
    user = personas[persona]
    before = NotificationRule.objects.get(pk=owners_rule.pk)
    response = call(api_client_for(user), operation, owners_rule)
    assert response.status_code == MATRIX[operation][persona], response.content
    if response.status_code >= 400:
        # Refused writes change nothing.
        after = NotificationRule.objects.filter(pk=owners_rule.pk).first()
        assert after is not None and after.as_rule() == before.as_rule()
    if operation == "create" and user is not None:
        created = NotificationRule.objects.get(pk=response.json()["id"])
        assert created.user == user  # always the caller's own rule
    if operation == "list" and user is not None:
        ids = [rule["id"] for rule in response.json()["results"]]
        assert ids == ([owners_rule.pk] if persona in ("owner", "staff") else [])


def test_anonymous_gets_a_bearer_challenge(api_client_for: ClientFor) -> None:
    response = api_client_for(None).get(RULES)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_staff_filter_by_user(owner: User, outsider: User, staff: User, api_client_for: ClientFor) -> None:
    mine = make_rule(owner, action="notify")
    theirs = make_rule(outsider, action="suppress")
    client = api_client_for(staff)
    assert {r["id"] for r in client.get(RULES).json()["results"]} == {mine.pk, theirs.pk}
    body = client.get(f"{RULES}?user=outsider").json()
    assert [(r["id"], r["user"]) for r in body["results"]] == [(theirs.pk, "outsider")]
    # A non-staff user filtering for someone else sees nothing of theirs.
    assert api_client_for(owner).get(f"{RULES}?user=outsider").json()["results"] == []


def test_create_appends_and_returns_the_normalised_rule(owner: User, api_client_for: ClientFor) -> None:
    client = api_client_for(owner)
    first = client.post(RULES, {"action": "suppress", "types": ["RECOVERY"]}, format="json").json()
    second = client.post(
        RULES, {**CRITICAL_ON_WEB, "days": ["mon", "fri"], "start": "08:00", "end": "18:00"}, format="json"
    )
    assert second.status_code == 201, second.content
    body = second.json()
    assert (first["position"], body["position"]) == (0, 1)
    assert body | {"id": 0, "created_at": "", "updated_at": ""} == {
        "id": 0,
        "user": "owner",
        "position": 1,
        "enabled": True,
        "action": "notify",
        "comment": "web critical",
        "hosts": [],
        "hostgroups": ["web"],
        "services": [],
        "servicegroups": [],
        "states": ["CRITICAL"],
        "types": [],
        "channels": [],
        "days": ["mon", "fri"],
        "start": "08:00",
        "end": "18:00",
        "oncall_team": None,
        "created_at": "",
        "updated_at": "",
        "warnings": [],
    }


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"action": "maybe"}, "action", "not a valid choice"),
        ({"action": "notify", "states": ["BROKEN"]}, "states", "not a valid choice"),
        ({"action": "notify", "hosts": [""]}, "hosts", "blank"),
        ({"action": "notify", "hosts": "web1"}, "hosts", "list"),
        ({"action": "notify", "start": "25:00"}, "start", "not a time of day"),
        ({"action": "notify", "end": "8am"}, "end", "expected HH:MM"),
        ({"action": "notify", "days": ["monday"]}, "days", "not a valid choice"),
        ({}, "action", "required"),
    ],
)
def test_invalid_rules_are_400_on_the_field(
    body: dict[str, Any], field: str, message: str, owner: User, api_client_for: ClientFor
) -> None:
    response = api_client_for(owner).post(RULES, body, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert field in errors, errors
    assert message in str(errors[field]).lower() or message in str(errors[field]), errors
    assert not NotificationRule.objects.exists()


def test_partial_update_is_validated_against_the_whole_rule(owner: User, api_client_for: ClientFor) -> None:
    rule = make_rule(owner, action="notify", start="08:00")
    client = api_client_for(owner)
    assert client.patch(f"{RULES}{rule.pk}/", {"end": "24:30"}, format="json").status_code == 400
    response = client.patch(f"{RULES}{rule.pk}/", {"enabled": False, "end": "12:00"}, format="json")
    assert response.status_code == 200
    rule.refresh_from_db()
    assert (rule.enabled, rule.start, rule.end) == (False, "08:00", "12:00")


def test_reorder(owner: User, outsider: User, api_client_for: ClientFor) -> None:
    a, b, c = (make_rule(owner, action="notify", comment=name) for name in "abc")
    foreign = make_rule(outsider, action="notify")
    client = api_client_for(owner)
    response = client.post(f"{RULES}reorder/", {"ids": [c.pk, a.pk, b.pk]}, format="json")
    assert response.status_code == 200
    assert [(r["comment"], r["position"]) for r in response.json()] == [("c", 0), ("a", 1), ("b", 2)]
    assert [r["comment"] for r in client.get(RULES).json()["results"]] == ["c", "a", "b"]
    assert (
        client.post(f"{RULES}reorder/?dry=run", {"ids": [a.pk, b.pk, c.pk]}, format="json").status_code == 400
    )
    # A bare list works too.
    assert client.post(f"{RULES}reorder/", [a.pk, b.pk, c.pk], format="json").status_code == 200
    assert [r.comment for r in NotificationRule.objects.filter(user=owner).in_order()] == ["a", "b", "c"]
    for bad, message in (
        ([a.pk, b.pk], "missing"),
        ([a.pk, b.pk, c.pk, c.pk], "only once"),
        ([a.pk, b.pk, c.pk, foreign.pk], "Not your rules"),
    ):
        response = client.post(f"{RULES}reorder/", {"ids": bad}, format="json")
        assert response.status_code == 400
        assert message in response.json()["ids"][0]
    assert [r.comment for r in NotificationRule.objects.filter(user=owner).in_order()] == ["a", "b", "c"]


@pytest.mark.parametrize(
    "url",
    [
        f"{RULES}?usr=owner",
        f"{RULES}1/?usr=owner",
        "/api/v1/preferences/profile/?user=owner&x=1",
        "/api/v1/preferences/who/?host=web1&state=DOWN&colour=red",
        "/api/v1/preferences/choices/?q=1",
        "/api/v1/preferences/choices/hostgroups/?query=web",
    ],
)
def test_unknown_query_parameters_are_400(
    url: str, owner: User, registry: Registry, api_client_for: ClientFor
) -> None:
    response = api_client_for(owner).get(url)
    assert response.status_code == 400, response.content
    assert "Unknown query parameter" in str(response.json())


def test_search_and_filters(owner: User, api_client_for: ClientFor) -> None:
    web = make_rule(owner, action="notify", hostgroups=["web-*"], comment="front")
    db = make_rule(owner, action="suppress", services=["Postgres"], enabled=False, comment="quiet")
    client = api_client_for(owner)

    def ids(query: str) -> list[int]:
        response = client.get(f"{RULES}?{query}")
        assert response.status_code == 200, response.content
        return [rule["id"] for rule in response.json()["results"]]

    assert ids("q=WEB") == [web.pk]
    assert ids("q=postgres") == [db.pk]
    assert ids("q=quiet") == [db.pk]
    assert ids("enabled=false") == [db.pk]
    assert ids("action=notify") == [web.pk]
    assert client.get(f"{RULES}?action=maybe").status_code == 400


def test_list_query_count_does_not_grow_with_rules(
    owner: User, api_client_for: ClientFor, django_assert_max_num_queries: Any
) -> None:
    for n in range(30):
        make_rule(owner, action="notify", comment=f"rule {n}")
    client = api_client_for(owner)
    with django_assert_max_num_queries(6):
        response = client.get(RULES)
    assert response.json()["count"] == 30


# --- profile ---------------------------------------------------------------------------------


def test_profile_defaults_then_put_and_patch(owner: User, api_client_for: ClientFor) -> None:
    client = api_client_for(owner)
    body = client.get("/api/v1/preferences/profile/").json()
    assert (body["user"], body["default"], body["timezone"]) == ("owner", "notify", "UTC")
    assert not NotificationProfile.objects.exists()  # reading writes nothing

    response = client.put(
        "/api/v1/preferences/profile/", {"default": "suppress", "timezone": "Europe/Paris"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert NotificationProfile.objects.get(user=owner).timezone == "Europe/Paris"
    assert (
        client.patch("/api/v1/preferences/profile/", {"default": "notify"}, format="json").status_code == 200
    )
    profile = NotificationProfile.objects.get(user=owner)
    assert (profile.default, profile.timezone) == ("notify", "Europe/Paris")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"default": "maybe"}, "default"),
        ({"timezone": ""}, "timezone"),
    ],
)
def test_profile_validation(body: dict[str, str], field: str, owner: User, api_client_for: ClientFor) -> None:
    response = api_client_for(owner).patch("/api/v1/preferences/profile/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()


# --- test: what would happen to this notification? ---------------------------------------------


def preview(client: APIClient, **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/preferences/test/", {"channel": "email", **body}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def test_preview_uses_the_registry_groups_and_names_the_rule(
    owner: User, registry: Registry, api_client_for: ClientFor
) -> None:
    make_contact("owner-contact", owner, registry.email)
    NotificationProfile.objects.create(user=owner, default="suppress")
    rule = make_rule(owner, **CRITICAL_ON_WEB)
    client = api_client_for(owner)

    hit = preview(client, host="web1", service="HTTP", state="critical")
    assert hit["decision"] == "notify" and hit["notify"] is True
    assert hit["rule"] == {"id": rule.pk, "position": 0, "comment": "web critical", "action": "notify"}
    assert hit["reason"] == f"rule {rule.pk} matched"
    assert (hit["hostgroups"], hit["servicegroups"]) == (["web"], ["frontend"])
    assert (hit["contact"], hit["host_known"], hit["state"], hit["type"]) == (
        "owner-contact",
        True,
        "CRITICAL",
        "PROBLEM",
    )

    miss = preview(client, host="db1", service="Postgres", state="CRITICAL")
    assert (miss["decision"], miss["rule"], miss["reason"]) == (
        "suppress",
        None,
        "no rule matched; default suppress",
    )
    # Groups given explicitly replace the registry's (previews of hypothetical objects).
    assert (
        preview(client, host="new-host", service="X", state="CRITICAL", hostgroups=["web"])["decision"]
        == "notify"
    )
    assert preview(client, host="new-host", service="X", state="CRITICAL")["host_known"] is False
    # A RECOVERY follows its PROBLEM (sent only if the problem was): the answer says so.
    recovery = preview(client, host="web1", service="HTTP", state="OK", type="RECOVERY")
    assert recovery["decision"] == "notify" and "PROBLEM" in recovery["note"]
    assert recovery["reason"] == "follows its problem: sent if the problem was sent to this contact"


def test_preview_and_who_hold_back_a_recovery_in_quiet_hours(
    owner: User, registry: Registry, api_client_for: ClientFor
) -> None:
    """A suppress rule without types (quiet nights) silences the end of a problem too: same engine."""
    registry.http.contacts.add(make_contact("alice", owner, registry.email))
    quiet = make_rule(owner, action="suppress", start="22:00", end="07:00", comment="quiet nights")
    client = api_client_for(owner)
    at_three = preview(
        client, host="web1", service="HTTP", state="OK", type="RECOVERY", time="2026-01-07T03:00:00Z"
    )
    assert (at_three["decision"], at_three["rule"]["id"]) == ("suppress", quiet.pk)
    assert at_three["reason"] == f"rule {quiet.pk} matched"
    at_noon = preview(
        client, host="web1", service="HTTP", state="OK", type="RECOVERY", time="2026-01-07T12:00:00Z"
    )
    assert (at_noon["decision"], at_noon["rule"]) == ("notify", None)
    url = "/api/v1/preferences/who/?host=web1&service=HTTP&state=OK&type=RECOVERY&time="
    [alice] = client.get(url + "2026-01-07T03:00:00Z").json()["contacts"]
    assert [(ch["decision"], ch["rule"]["id"]) for ch in alice["channels"]] == [("suppress", quiet.pk)]


def test_preview_time_window_in_the_users_time_zone(owner: User, api_client_for: ClientFor) -> None:
    NotificationProfile.objects.create(user=owner, default="notify", timezone="Europe/Paris")
    make_rule(owner, action="suppress", days=["sat", "sun"], comment="weekend")
    client = api_client_for(owner)
    # Friday 23:30 UTC is Saturday 00:30 in Paris (winter time).
    late_friday = preview(client, host="h", state="DOWN", time="2026-01-09T23:30:00Z")
    assert (late_friday["decision"], late_friday["rule"]["comment"]) == ("suppress", "weekend")
    assert preview(client, host="h", state="DOWN", time="2026-01-09T22:30:00Z")["decision"] == "notify"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"host": "web1", "service": "HTTP", "state": "DOWN"}, "state"),
        ({"host": "web1", "state": "CRITICAL"}, "state"),
        ({"host": "web1", "state": "DOWN", "type": "PANIC"}, "type"),
        ({"state": "DOWN"}, "host"),
        ({"host": "web1", "state": "DOWN", "time": "yesterday"}, "time"),
        ({"host": "web1", "state": "DOWN", "user": "nobody"}, "user"),
    ],
)
def test_preview_validation(body: dict[str, str], field: str, staff: User, api_client_for: ClientFor) -> None:
    response = api_client_for(staff).post(
        "/api/v1/preferences/test/", {"channel": "email", **body}, format="json"
    )
    assert response.status_code == 400
    assert field in response.json()


def test_staff_preview_another_users_rules(owner: User, staff: User, api_client_for: ClientFor) -> None:
    make_rule(owner, action="suppress", comment="silence")
    body = preview(api_client_for(staff), host="h", state="DOWN", user="owner")
    assert (body["decision"], body["rule"]["comment"], body["contact"]) == ("suppress", "silence", "owner")
    assert preview(api_client_for(staff), host="h", state="DOWN")["decision"] == "notify"  # their own


# --- who would be notified? --------------------------------------------------------------------


def test_who_would_be_notified(
    owner: User, teammate: User, registry: Registry, api_client_for: ClientFor, outsider: User
) -> None:
    alice = make_contact("alice", owner, registry.email, registry.sms)
    bob = make_contact("bob", teammate, registry.email)
    carol = make_contact("carol", None, registry.email, registry.log)  # no portal user
    registry.web1.contacts.add(alice)
    registry.http.contact_groups.add(make_group("web-oncall", bob, carol))
    NotificationProfile.objects.create(user=owner, default="suppress")
    sms_rule = make_rule(
        owner, action="notify", channels=["sms"], states=["CRITICAL"], comment="sms for criticals"
    )
    make_rule(teammate, action="suppress", services=["HTTP"], comment="no HTTP")

    response = api_client_for(outsider).get("/api/v1/preferences/who/?host=web1&service=HTTP&state=critical")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["host"], body["service"], body["state"], body["type"]) == (
        "web1",
        "HTTP",
        "CRITICAL",
        "PROBLEM",
    )
    assert (body["hostgroups"], body["servicegroups"]) == (["web"], ["frontend"])
    decisions = {
        (c["contact"], ch["channel"]): (ch["decision"], ch["rule"]["comment"] if ch["rule"] else None)
        for c in body["contacts"]
        for ch in c["channels"]
    }
    # The service has its own contacts (bob and carol through the group): the host's alice is not inherited.
    # Other users' rule comments are theirs: hidden from the outsider asking.
    assert decisions == {
        ("bob", "email"): ("suppress", ""),
        ("carol", "email"): ("notify", None),
        ("carol", ""): ("notify", None),
    }
    assert [c["via"] for c in body["contacts"]] == [["contact group web-oncall"]] * 2
    assert {c["contact"]: c["user"] for c in body["contacts"]} == {"bob": "teammate", "carol": None}

    # A host notification: the host's own contact alice; her rule decides per channel.
    host = api_client_for(outsider).get("/api/v1/preferences/who/?host=web1&state=DOWN").json()
    [only] = host["contacts"]
    assert (only["contact"], only["via"], only["sent_by_naemon"]) == ("alice", ["contact"], True)
    assert {ch["channel"]: ch["decision"] for ch in only["channels"]} == {
        "email": "suppress",
        "sms": "suppress",
    }

    # A service without contacts inherits the host's (Naemon's implied inheritance).
    registry.http.contact_groups.clear()
    inherited = (
        api_client_for(outsider).get("/api/v1/preferences/who/?host=web1&service=HTTP&state=CRITICAL").json()
    )
    [alice_row] = inherited["contacts"]
    assert alice_row["via"] == ["host web1: contact"]
    assert {ch["channel"]: (ch["decision"], ch["rule"]) for ch in alice_row["channels"]} == {
        "email": ("suppress", None),
        "sms": (
            "notify",
            {"id": sms_rule.pk, "position": 0, "comment": "", "action": "notify"},
        ),
    }


@pytest.mark.parametrize(
    ("viewer", "shown"),
    [
        pytest.param("owner", {"alice": "alice's note"}, id="owner-sees-own-only"),
        pytest.param("teammate", {"bob": "bob's note"}, id="teammate-sees-own-only"),
        pytest.param("outsider", {}, id="outsider-sees-none"),
        pytest.param("staff", {"alice": "alice's note", "bob": "bob's note"}, id="staff-sees-all"),
    ],
)
def test_who_shows_rule_comments_only_to_their_owner_and_staff(
    viewer: str,
    shown: dict[str, str],
    owner: User,
    teammate: User,
    outsider: User,
    staff: User,
    registry: Registry,
    api_client_for: ClientFor,
) -> None:
    registry.http.contacts.add(
        make_contact("alice", owner, registry.email), make_contact("bob", teammate, registry.email)
    )
    make_rule(owner, action="suppress", services=["HTTP"], comment="alice's note")
    make_rule(teammate, action="notify", services=["HTTP"], comment="bob's note")
    users = {"owner": owner, "teammate": teammate, "outsider": outsider, "staff": staff}
    response = api_client_for(users[viewer]).get(
        "/api/v1/preferences/who/?host=web1&service=HTTP&state=CRITICAL"
    )
    assert response.status_code == 200, response.content
    rules = {c["contact"]: c["channels"][0]["rule"] for c in response.json()["contacts"]}
    # Everyone sees which rule decided, and how; only the comment is private.
    assert {name: (rule["action"], rule["position"]) for name, rule in rules.items()} == {
        "alice": ("suppress", 0),
        "bob": ("notify", 0),
    }
    assert {name: rule["comment"] for name, rule in rules.items()} == {
        name: shown.get(name, "") for name in ("alice", "bob")
    }


def test_who_query_count_does_not_grow_with_rules(
    owner: User,
    teammate: User,
    registry: Registry,
    api_client_for: ClientFor,
    django_assert_max_num_queries: Any,
) -> None:
    registry.http.contacts.add(
        make_contact("alice", owner, registry.email), make_contact("bob", teammate, registry.email)
    )
    client = api_client_for(owner)
    url = "/api/v1/preferences/who/?host=web1&service=HTTP&state=CRITICAL"
    make_rule(owner, action="suppress", services=["HTTP"], comment="a")
    make_rule(teammate, action="notify", services=["HTTP"], comment="b")
    with django_assert_max_num_queries(30) as few:
        assert client.get(url).status_code == 200
    for n in range(10):
        make_rule(owner, action="notify", comment=f"more {n}")
        make_rule(teammate, action="notify", comment=f"more {n}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url).status_code == 200


def test_who_reports_naemons_own_notification_options(
    owner: User, registry: Registry, api_client_for: ClientFor
) -> None:
    alice = make_contact("alice", owner, registry.email)
    alice.service_notification_options = "c,r"
    alice.save()
    registry.http.contacts.add(alice)
    body = api_client_for(owner).get("/api/v1/preferences/who/?host=web1&service=HTTP&state=WARNING").json()
    [row] = body["contacts"]
    assert row["sent_by_naemon"] is False and "lack 'w'" in row["naemon_reason"]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("host=nowhere&state=DOWN", 404),
        ("host=web1&service=Nope&state=CRITICAL", 404),
        ("host=web1&state=CRITICAL", 400),
        ("service=HTTP&state=CRITICAL", 400),
    ],
)
def test_who_errors(
    query: str, status: int, owner: User, registry: Registry, api_client_for: ClientFor
) -> None:
    assert api_client_for(owner).get(f"/api/v1/preferences/who/?{query}").status_code == status


def test_who_finds_services_on_host_groups(
    owner: User, registry: Registry, api_client_for: ClientFor
) -> None:
    load = registry.web.services.create(description="Load")
    load.contacts.add(make_contact("alice", owner, registry.email))
    body = api_client_for(owner).get("/api/v1/preferences/who/?host=web1&service=Load&state=WARNING").json()
    assert [c["contact"] for c in body["contacts"]] == ["alice"]


# --- choices -----------------------------------------------------------------------------------


def test_choices(owner: User, registry: Registry, api_client_for: ClientFor) -> None:
    client = api_client_for(owner)
    body = client.get("/api/v1/preferences/choices/").json()
    assert body["channels"] == ["email", "sms"]
    assert (
        body["days"][0] == "mon"
        and "CRITICAL" in body["service_states"]
        and "Europe/Paris" in body["timezones"]
    )
    assert client.get("/api/v1/preferences/choices/hostgroups/?q=W").json() == {"results": ["web"]}
    assert client.get("/api/v1/preferences/choices/hosts/").json() == {"results": ["db1", "web1"]}
    assert client.get("/api/v1/preferences/choices/services/?q=htt").json() == {"results": ["HTTP"]}
    assert client.get("/api/v1/preferences/choices/servicegroups/?limit=1").json() == {
        "results": ["frontend"]
    }
    assert client.get("/api/v1/preferences/choices/hosts/?limit=0").status_code == 400
    assert api_client_for(None).get("/api/v1/preferences/choices/").status_code == 401


def test_session_auth_needs_csrf(owner: User) -> None:
    """The page uses the session: writes without the CSRF token are refused."""
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.get(RULES).status_code == 200
    assert client.post(RULES, {"action": "notify"}, format="json").status_code == 403


def test_schema_documents_the_preferences_api(owner: User) -> None:
    client = APIClient()
    client.force_login(owner)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path in (
        "rules/",
        "rules/{id}/",
        "rules/reorder/",
        "profile/",
        "test/",
        "who/",
        "choices/",
        "choices/hosts/",
    ):
        assert f"/api/v1/preferences/{path}" in schema["paths"], path
