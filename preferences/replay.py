"""Replay a draft of my rules over my last days of real decisions: what would have changed?

The input is what the notify-filter decided for me (``NotificationDecision``, collected from
every node), the PROBLEM and RECOVERY notifications with a real decision (not the filter's
fail-open cases nor an unknown contact). Each is evaluated twice with the same engine the
filter runs (``rulebook.compile_contact`` + ``evaluate``/``evaluate_followup``): with my rules
as they are now ("before") and with the draft ("after"), both in my profile's time zone at
the decision's time. Comparing the draft with the rules now, rather than with what was
decided then, isolates the draft's effect from earlier edits.

A RECOVERY follows its PROBLEM (``engine.evaluate_followup``): the replay walks each
object's notifications (per channel) in time order and remembers, per rule set, whether the
last PROBLEM went out. A RECOVERY whose PROBLEM is older than the replayed days follows what
the filter really did with it (its stored decision), under both rule sets.

Groups are not in a decision line: they come from the registry as it is now
(``preview.lookup_object``), as the history's explanations do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone as django_timezone

from preferences import compiled, engine, preview, rulebook
from preferences.models import NotificationDecision, NotificationRule

DAYS = 7
TYPES = ("PROBLEM", "RECOVERY")
#: At most this many differences are listed (the counts cover all of them).
LISTED = 500


@dataclass
class Difference:
    """One notification the draft decides otherwise."""

    decision_id: int
    time: datetime
    host: str
    service: str
    state: str
    type: str
    channel: str
    before: str
    after: str
    rule_before: engine.RuleId
    rule_after: engine.RuleId
    reason: str


@dataclass
class ReplayResult:
    """How many notifications were replayed and how the draft changes them."""

    since: datetime
    until: datetime
    timezone: str
    replayed: int
    fewer: int
    more: int
    differences: list[Difference] = field(default_factory=list)


def draft_rules(
    user: User,
    rules: Sequence[Mapping[str, Any]] | None,
    rule: Mapping[str, Any] | None,
    replaces: int | None,
) -> list[dict[str, Any]]:
    """The whole list the draft means: ``rules`` as given, or the current list with ``rule``
    replacing rule ``replaces`` (or appended, where the editor puts a new rule).

    Draft rules get no id: the answer names them by position (``rule #3``).
    """
    if rules is not None:
        return [dict(r) for r in rules]
    current = [r.as_rule() for r in NotificationRule.objects.filter(user=user).in_order()]
    draft = dict(rule or {})
    draft.pop("id", None)
    if replaces is None:
        return [*current, draft]
    index = next((i for i, r in enumerate(current) if r["id"] == replaces), None)
    if index is None:
        raise ValueError(f"You have no rule {replaces}.")
    return [*current[:index], draft, *current[index + 1 :]]


def _real(decision: NotificationDecision) -> bool:
    """A decision the rules made (not the filter failing open or not knowing the contact)."""
    return not decision.reason.startswith("fail open") and decision.reason != "unknown contact"


def _decide(
    contact: engine.CompiledContact, n: engine.Notification, problem_sent: bool | None
) -> engine.Decision:
    """What the filter decides (``notify_filter``: follow-ups only once something can be suppressed)."""
    if n.type in engine.FOLLOWUP_TYPES and engine.can_suppress(contact):
        return engine.evaluate_followup(contact, n, problem_sent)
    return engine.evaluate(contact, n)


def replay(
    user: User,
    draft: Iterable[Mapping[str, Any]],
    *,
    default: str | None = None,
    days: int = DAYS,
    now: datetime | None = None,
) -> ReplayResult:
    """Replay the user's last ``days`` of decisions with their rules now and with ``draft``.

    Raises ``engine.RuleError`` (its field names the draft rule: ``rules[0].states``).
    """
    profile = compiled.profile_of(user)
    # Both sides with the same silences and on-call data: only the rules (and default) differ.
    prefs = compiled.preferences_by_user([user.pk])[user.pk]
    extras = {"silences": prefs.get("silences", ()), "oncall": prefs.get("oncall")}
    current = rulebook.compile_contact(
        prefs["rules"], default=prefs["default"], timezone=prefs["timezone"], **extras
    )
    after = rulebook.compile_contact(
        draft, default=default or prefs["default"], timezone=prefs["timezone"], **extras
    )
    until = now or django_timezone.now()
    since = until - timedelta(days=days)
    rows = [
        d
        for d in NotificationDecision.objects.filter(
            user=user, time__gte=since, time__lte=until, type__in=TYPES
        ).order_by("time", "pk")
        if _real(d)
    ]
    groups: dict[tuple[str, str], preview.NotificationObject] = {}
    # (host, service, channel) → whether the last PROBLEM went out (before, after).
    sent: dict[tuple[str, str, str], tuple[bool, bool]] = {}
    result = ReplayResult(since=since, until=until, timezone=profile.timezone, replayed=0, fewer=0, more=0)
    for row in rows:
        key = (row.host, row.service)
        if key not in groups:
            groups[key] = preview.lookup_object(row.host, row.service or None)
        found = groups[key]
        n = engine.Notification(
            contact=row.contact,
            channel=row.channel,
            type=row.type,
            host=row.host,
            state=row.state,
            hostgroups=found.hostgroups,
            service=row.service or None,
            servicegroups=found.servicegroups,
            time=row.time,
        )
        thread = (row.host, row.service, row.channel)
        was = sent.get(thread, (row.decision == "notify", row.decision == "notify"))
        first = _decide(current, n, was[0])
        second = _decide(after, n, was[1])
        if row.type == "PROBLEM":
            sent[thread] = (first.notify, second.notify)
        result.replayed += 1
        if first.notify == second.notify:
            continue
        if first.notify:
            result.fewer += 1
        else:
            result.more += 1
        if len(result.differences) < LISTED:
            result.differences.append(
                Difference(
                    decision_id=row.pk,
                    time=row.time,
                    host=row.host,
                    service=row.service,
                    state=row.state,
                    type=row.type,
                    channel=row.channel,
                    before="notify" if first.notify else "suppress",
                    after="notify" if second.notify else "suppress",
                    rule_before=first.rule_id,
                    rule_after=second.rule_id,
                    reason=second.reason,
                )
            )
    return result
