"""What the snapshot holds: every contact linked to a user, with that user's rules, default and time zone."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from preferences.compiled import snapshot_contacts
from preferences.models import NotificationProfile, NotificationRule
from tests.preferences.conftest import make_contact, make_rule

pytestmark = pytest.mark.django_db


def test_snapshot_contacts_holds_linked_contacts_only(owner: User, teammate: User, outsider: User) -> None:
    make_contact("alice", owner)
    make_contact("bob", teammate)
    make_contact("robot", None)  # no portal user: absent, the filter sends everything (fail open)
    NotificationProfile.objects.create(user=owner, default="suppress", timezone="Europe/Paris")
    first = make_rule(owner, action="notify", hostgroups=["web"], states=["CRITICAL"])
    second = make_rule(owner, action="suppress", enabled=False, comment="off for now")
    make_rule(outsider, action="suppress")  # outsider has no contact: not in the snapshot

    contacts = snapshot_contacts()
    assert sorted(contacts) == ["alice", "bob"]
    assert contacts["bob"] == {"rules": [], "default": "notify", "timezone": "UTC"}
    assert contacts["alice"]["default"] == "suppress" and contacts["alice"]["timezone"] == "Europe/Paris"
    assert [rule["id"] for rule in contacts["alice"]["rules"]] == [first.pk, second.pk]
    assert contacts["alice"]["rules"][0] == {
        "id": first.pk,
        "enabled": True,
        "action": "notify",
        "comment": "",
        "hosts": [],
        "hostgroups": ["web"],
        "services": [],
        "servicegroups": [],
        "states": ["CRITICAL"],
        "types": [],
        "channels": [],
        "days": [],
        "start": "00:00",
        "end": "24:00",
    }


def test_a_rule_the_engine_rejects_leaves_only_that_contact_out(owner: User, teammate: User) -> None:
    make_contact("alice", owner)
    make_contact("bob", teammate)
    rule = make_rule(owner, action="notify")
    NotificationRule.objects.filter(pk=rule.pk).update(states=["BROKEN"])  # around validation
    assert sorted(snapshot_contacts()) == ["bob"]
