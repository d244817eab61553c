"""The notification_rule module's whole list (``rules: [...]``, ``exclusive: true``), with real ansible-core.

Runs as the staff user "admin" of the live portal: alice's rules belong to test_ansible.py's play.
"""

from __future__ import annotations

import json

import pytest

from tests.integrations.conftest import LivePortal
from tests.integrations.test_ansible import playbook

pytestmark = [pytest.mark.services, pytest.mark.timeout(300)]

WHOLE_LIST = """\
    - name: My whole list
      monitoring.portal.notification_rule:
        exclusive: true
        rules:
{rules}
"""

TWO = """\
          - comment: databases always
            action: notify
            hostgroups: [databases]
          - comment: quiet nights
            action: suppress
            channels: [sms]
            states: [warning]
            start: "22:00"
            end: "07:00"
"""


def admin_rules(live_portal: LivePortal) -> list[dict[str, object]]:
    answer = live_portal.api("GET", "preferences/rules/?user=admin")
    assert answer.status == 200, answer
    return [{k: r[k] for k in ("id", "comment", "action", "states")} for r in answer.data["results"]]


def test_the_whole_list_is_declared_idempotently_with_check_mode_and_diff(live_portal: LivePortal) -> None:
    created = live_portal.api("POST", "preferences/rules/", {"action": "suppress", "comment": "stray rule"})
    assert created.status == 201, created

    checked = playbook(
        live_portal, "rules-check", WHOLE_LIST.format(rules=TWO), "--check", "--diff", user="admin"
    )
    assert checked.returncode == 0 and checked.changed == 1, checked.output
    assert '-            "comment": "stray rule"' in checked.output, checked.output
    assert '+            "comment": "quiet nights"' in checked.output, checked.output
    assert [r["comment"] for r in admin_rules(live_portal)] == ["stray rule"]  # check mode wrote nothing

    applied = playbook(live_portal, "rules", WHOLE_LIST.format(rules=TWO), user="admin")
    assert applied.returncode == 0 and applied.changed == 1, applied.output
    rules = admin_rules(live_portal)
    assert [(r["comment"], r["action"], r["states"]) for r in rules] == [
        ("databases always", "notify", []),
        ("quiet nights", "suppress", ["WARNING"]),
    ]

    again = playbook(live_portal, "rules", WHOLE_LIST.format(rules=TWO), user="admin")
    assert again.returncode == 0 and again.changed == 0, again.output
    assert admin_rules(live_portal) == rules  # same ids: nothing was rewritten

    # Reversed: the ids survive the move (rules are matched by content).
    first, second = TWO.split("          - comment: quiet nights")
    reversed_list = "          - comment: quiet nights" + second + first
    moved = playbook(live_portal, "rules-moved", WHOLE_LIST.format(rules=reversed_list), user="admin")
    assert moved.returncode == 0 and moved.changed == 1, moved.output
    assert [r["id"] for r in admin_rules(live_portal)] == [rules[1]["id"], rules[0]["id"]]


def test_a_bad_rule_in_the_list_fails_with_its_path_and_changes_nothing(live_portal: LivePortal) -> None:
    before = admin_rules(live_portal)
    bad = TWO.replace("states: [warning]", "states: [sometimes]")
    failed = playbook(live_portal, "rules-bad", WHOLE_LIST.format(rules=bad), user="admin")
    assert failed.failed == 1, failed.output
    assert "rules[1].states" in failed.output and "SOMETIMES" in failed.output, failed.output
    assert admin_rules(live_portal) == before


def test_without_exclusive_listed_rules_are_upserted_by_comment(live_portal: LivePortal) -> None:
    playbook(live_portal, "rules-reset", WHOLE_LIST.format(rules=TWO), user="admin")
    before = admin_rules(live_portal)
    task = """\
    - monitoring.portal.notification_rule:
        rules:
          - comment: quiet nights
            action: suppress
            channels: [sms]
            states: [warning, critical]
          - comment: web pages
            action: notify
            hostgroups: [web-servers]
"""
    run = playbook(live_portal, "rules-upsert", task, user="admin")
    assert run.returncode == 0 and run.changed == 1, run.output
    after = admin_rules(live_portal)
    assert [r["comment"] for r in after] == ["databases always", "quiet nights", "web pages"]
    assert after[0] == before[0] and after[1]["id"] == before[1]["id"]
    assert after[1]["states"] == ["WARNING", "CRITICAL"]
    assert playbook(live_portal, "rules-upsert", task, user="admin").changed == 0
    exported = live_portal.api("GET", "preferences/export/", user="admin").data
    assert json.dumps(exported["rules"][1]["states"]) == '["WARNING", "CRITICAL"]'
