"""Preferences as code: GET/PUT /api/v1/preferences/export/ and manage.py preferences_export."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection
from rest_framework.test import APIClient

from monitoring_portal.models import Team
from preferences.models import NotificationProfile, NotificationRule, Silence
from preferences.tasks import enqueue_publish
from tests.preferences.conftest import make_rule

pytestmark = pytest.mark.django_db

EXPORT = "/api/v1/preferences/export/"
ClientFor = Callable[[User | None], APIClient]
Capture = Callable[..., Any]

DOCUMENT: dict[str, Any] = {
    "version": 1,
    "default": "suppress",
    "timezone": "Europe/Paris",
    "rules": [
        {"action": "notify", "comment": "web critical", "hostgroups": ["web"], "states": ["CRITICAL"]},
        {
            "action": "suppress",
            "comment": "quiet nights",
            "channels": ["sms"],
            "start": "22:00",
            "end": "07:00",
        },
        {"action": "notify", "comment": "databases", "hostgroups": ["db"]},
    ],
    "silences": [
        {
            "hosts": ["web1"],
            "services": ["HTTP"],
            "comment": "deploying",
            "until": (datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)).isoformat(),
        }
    ],
    "handovers": [],
}


def published(callbacks: list[Any]) -> bool:
    """Whether the transaction asked for a snapshot publish on commit."""
    return any(getattr(cb, "__name__", "") == enqueue_publish.__name__ for cb in callbacks)


@contextmanager
def one_request(capture: Capture) -> Iterator[list[Any]]:
    """The on-commit callbacks of what runs inside alone (earlier and its own then forgotten).

    In production each request commits on its own; in a test they share one transaction, and
    ``publish_on_commit`` asks only once per transaction: without forgetting, a later request's
    publish would hide behind an earlier one's.
    """
    connection.run_on_commit.clear()
    with capture() as callbacks:
        yield callbacks
    connection.run_on_commit.clear()


def rows(user: User) -> list[tuple[int, str, str]]:
    return [
        (r.pk, r.comment, r.updated_at.isoformat())
        for r in NotificationRule.objects.filter(user=user).in_order()
    ]


def put(client: APIClient, document: Any) -> Any:
    return client.put(EXPORT, document, format="json")


def test_export_shows_the_whole_profile_in_order_as_json_and_yaml(
    owner: User, api_client_for: ClientFor
) -> None:
    NotificationProfile.objects.create(user=owner, default="suppress", timezone="Europe/Paris")
    make_rule(owner, action="notify", hostgroups=["web"], states=["critical"], comment="web critical")
    make_rule(owner, action="suppress", channels=["sms"], enabled=False)
    client = api_client_for(owner)

    answer = client.get(EXPORT)
    assert answer.status_code == 200, answer.content
    assert answer.json() == {
        "version": 1,
        "default": "suppress",
        "timezone": "Europe/Paris",
        # Only what differs from the defaults, no ids, no positions: the order is the list's.
        "rules": [
            {"action": "notify", "comment": "web critical", "hostgroups": ["web"], "states": ["CRITICAL"]},
            {"action": "suppress", "enabled": False, "channels": ["sms"]},
        ],
        "silences": [],
        "handovers": [],
    }
    for request in (client.get(EXPORT, HTTP_ACCEPT="application/yaml"), client.get(EXPORT + "?format=yaml")):
        assert request.status_code == 200
        assert request["Content-Type"].startswith("application/yaml")
        assert yaml.safe_load(request.content) == answer.json()


def test_a_yaml_clients_errors_are_json_which_it_reads_too(owner: User, api_client_for: ClientFor) -> None:
    """A YAML client's bad request gets a 400 naming the problem (JSON, as the schema says: YAML reads it)."""
    client = api_client_for(owner)
    answer = client.get(EXPORT + "?bogus=1", HTTP_ACCEPT="application/yaml")
    assert answer.status_code == 400, answer.content
    assert answer["Content-Type"].startswith("application/json")
    assert "Unknown query parameter" in yaml.safe_load(answer.content)["bogus"][0]
    bad = client.put(
        EXPORT,
        "version: 1\nrules: [{action: maybe}]\n",
        content_type="application/yaml",
        HTTP_ACCEPT="application/yaml",
    )
    assert bad.status_code == 400 and "timezone" in yaml.safe_load(bad.content)


def test_put_replaces_everything_and_the_same_document_again_changes_nothing(
    owner: User, api_client_for: ClientFor, django_capture_on_commit_callbacks: Capture
) -> None:
    old = make_rule(owner, action="suppress", hosts=["legacy-*"], comment="old stuff")
    client = api_client_for(owner)

    with one_request(django_capture_on_commit_callbacks) as first_callbacks:
        first = put(client, DOCUMENT)
    assert first.status_code == 200, first.content
    assert first["X-Preferences-Changed"] == "true"
    assert published(first_callbacks)
    assert first.json() == DOCUMENT
    assert not NotificationRule.objects.filter(pk=old.pk).exists()
    profile = NotificationProfile.objects.get(user=owner)
    assert (profile.default, profile.timezone) == ("suppress", "Europe/Paris")
    before = rows(owner)
    assert [comment for _, comment, _ in before] == ["web critical", "quiet nights", "databases"]
    profile_updated = profile.updated_at

    with one_request(django_capture_on_commit_callbacks) as second_callbacks:
        second = put(client, DOCUMENT)
    assert second.status_code == 200
    assert second["X-Preferences-Changed"] == "false"
    # No new rows, no updated_at moved, no snapshot published.
    assert rows(owner) == before
    assert NotificationProfile.objects.get(user=owner).updated_at == profile_updated
    assert not published(second_callbacks)
    assert Silence.objects.filter(user=owner).count() == 1


def test_silences_and_on_call_rules_travel_with_the_document(
    owner: User, team: Team, api_client_for: ClientFor, django_capture_on_commit_callbacks: Capture
) -> None:
    client = api_client_for(owner)
    on_call = {"action": "notify", "comment": "paged", "oncall_team": team.name}
    document = dict(DOCUMENT, rules=[on_call, *DOCUMENT["rules"]])
    assert put(client, document).status_code == 200
    assert NotificationRule.objects.get(user=owner, comment="paged").oncall_team == team
    silence = Silence.objects.get(user=owner)
    assert (silence.hosts, silence.services, silence.comment) == (["web1"], ["HTTP"], "deploying")
    exported = client.get(EXPORT).json()
    assert exported["rules"][0] == on_call
    assert exported["silences"] == DOCUMENT["silences"]
    with one_request(django_capture_on_commit_callbacks) as callbacks:
        assert put(client, exported)["X-Preferences-Changed"] == "false"
    assert not published(callbacks)

    # Left out of the document, a silence is ended early (the history keeps it), not deleted.
    with one_request(django_capture_on_commit_callbacks) as callbacks:
        assert put(client, dict(exported, silences=[])).status_code == 200
    assert published(callbacks)
    silence.refresh_from_db()
    assert silence.ended_at is not None and not Silence.objects.filter(user=owner).active().exists()
    # One already over is skipped, an unknown team is the rule's error.
    over = dict(DOCUMENT["silences"][0], until="2020-01-01T00:00:00+00:00")
    assert put(client, dict(exported, silences=[over]))["X-Preferences-Changed"] == "false"
    bad = put(client, dict(exported, rules=[dict(on_call, oncall_team="nobody's")]))
    assert bad.json() == {"rules[0].oncall_team": ['no team "nobody\'s"']}


def test_ids_survive_a_move_and_an_edit_of_a_commented_rule(
    owner: User, api_client_for: ClientFor, django_capture_on_commit_callbacks: Capture
) -> None:
    client = api_client_for(owner)
    assert put(client, DOCUMENT).status_code == 200
    ids = {comment: pk for pk, comment, _ in rows(owner)}
    stamps = {comment: stamp for _, comment, stamp in rows(owner)}

    moved = dict(DOCUMENT, rules=[DOCUMENT["rules"][2], DOCUMENT["rules"][0], DOCUMENT["rules"][1]])
    moved["rules"][1] = dict(moved["rules"][1], states=["CRITICAL", "WARNING"])  # edited, same comment
    with one_request(django_capture_on_commit_callbacks) as callbacks:
        assert put(client, moved).status_code == 200
    assert published(callbacks)  # an order change reaches the nodes too
    after = rows(owner)
    assert [(pk, comment) for pk, comment, _ in after] == [
        (ids["databases"], "databases"),
        (ids["web critical"], "web critical"),
        (ids["quiet nights"], "quiet nights"),
    ]
    # The moved rules are untouched (only their positions); the edited one is updated in place.
    stamp = {comment: s for _, comment, s in after}
    assert stamp["databases"] == stamps["databases"] and stamp["quiet nights"] == stamps["quiet nights"]
    assert NotificationRule.objects.get(pk=ids["web critical"]).states == ["CRITICAL", "WARNING"]


def test_yaml_body_is_accepted(owner: User, api_client_for: ClientFor) -> None:
    client = api_client_for(owner)
    text = yaml.safe_dump(DOCUMENT, sort_keys=False)
    answer = client.put(EXPORT, text, content_type="application/yaml", HTTP_ACCEPT="application/yaml")
    assert answer.status_code == 200, answer.content
    assert yaml.safe_load(answer.content) == DOCUMENT
    assert [c for _, c, _ in rows(owner)] == ["web critical", "quiet nights", "databases"]
    # Aliases are refused: a document needs none, and they can make a small body huge.
    bomb = "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n"
    refused = client.put(EXPORT, bomb, content_type="application/yaml")
    assert refused.status_code == 400 and "aliases" in refused.json()["detail"]


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        (lambda d: d["rules"][1].update(states=["SOMETIMES"]), "rules[1].states", "unknown value"),
        (lambda d: d["rules"][2].update(id=7), "rules[2].id", "matched by content"),
        (lambda d: d["rules"][0].update(colour="red"), "rules[0].colour", "unknown field"),
        (lambda d: d.update(timezone="Mars/Olympus"), "timezone", "unknown time zone"),
        (lambda d: d.update(default="maybe"), "default", "notify or suppress"),
        (lambda d: d.update(handovers=[{"colleague": "nobody"}]), "handovers[0].colleague", "no user"),
        (lambda d: d["silences"][0].update(until="tomorrow"), "silences[0].until", "ISO 8601"),
        (lambda d: d["silences"][0].update(days=["mon"]), "silences[0].days", "unknown field"),
        (lambda d: d.update(rules={"action": "notify"}), "rules", "expected a list"),
    ],
)
def test_a_bad_document_is_a_400_naming_the_field_and_changes_nothing(
    owner: User, api_client_for: ClientFor, change: Callable[[dict[str, Any]], None], path: str, words: str
) -> None:
    client = api_client_for(owner)
    assert put(client, DOCUMENT).status_code == 200
    before = rows(owner)
    bad = json.loads(json.dumps(DOCUMENT))
    bad["rules"][0]["comment"] = "would be changed"  # a valid change before the bad field
    bad["default"] = "notify"
    change(bad)
    answer = put(client, bad)
    assert answer.status_code == 400, answer.content
    assert list(answer.json()) == [path]
    assert words in answer.json()[path][0]
    assert rows(owner) == before
    assert NotificationProfile.objects.get(user=owner).default == "suppress"


def test_export_is_always_the_callers_own(owner: User, staff: User, api_client_for: ClientFor) -> None:
    make_rule(owner, action="suppress", comment="owner's")
    assert api_client_for(None).get(EXPORT).status_code in (401, 403)
    assert api_client_for(None).put(EXPORT, DOCUMENT, format="json").status_code in (401, 403)
    # Staff read and write their own document, never someone else's through this endpoint.
    staff_client = api_client_for(staff)
    assert staff_client.get(EXPORT).json()["rules"] == []
    assert staff_client.get(EXPORT + "?user=owner").status_code == 400
    assert put(staff_client, DOCUMENT).status_code == 200
    assert [r.comment for r in NotificationRule.objects.filter(user=owner)] == ["owner's"]
    assert NotificationRule.objects.filter(user=staff).count() == 3


def test_staff_command_exports_and_imports_everyone_idempotently(
    owner: User, teammate: User, tmp_path: Path
) -> None:
    make_rule(owner, action="suppress", hostgroups=["db"], comment="no db")
    NotificationProfile.objects.create(user=teammate, default="suppress", timezone="America/New_York")
    make_rule(teammate, action="notify", services=["HTTP"], comment="http only")
    out = tmp_path / "prefs.yaml"
    call_command("preferences_export", "export", "-o", str(out))
    data = yaml.safe_load(out.read_text())
    assert set(data["users"]) == {"owner", "teammate"}
    assert data["users"]["teammate"]["timezone"] == "America/New_York"

    # Edit the file: the owner's rule changes, the teammate's section stays.
    data["users"]["owner"]["rules"][0]["hostgroups"] = ["db", "backup"]
    out.write_text(yaml.safe_dump(data))
    teammate_rows = rows(teammate)
    call_command("preferences_export", "import", str(out))
    assert NotificationRule.objects.get(user=owner).hostgroups == ["db", "backup"]
    assert rows(teammate) == teammate_rows
    owner_rows = rows(owner)
    again = tmp_path / "again.json"
    again.write_text(json.dumps(data))
    call_command("preferences_export", "import", str(again))
    assert rows(owner) == owner_rows and rows(teammate) == teammate_rows

    # A bad section anywhere: nothing is written, the error names the path.
    data["users"]["owner"]["rules"][0]["hostgroups"] = ["changed"]
    data["users"]["teammate"]["rules"][0]["days"] = ["someday"]
    out.write_text(yaml.safe_dump(data))
    with pytest.raises(CommandError, match=r"users\.teammate\.rules\[0\]\.days"):
        call_command("preferences_export", "import", str(out))
    assert NotificationRule.objects.get(user=owner).hostgroups == ["db", "backup"]
