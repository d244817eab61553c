"""Coverage gaps: hosts and services about which nobody would be told, each with why and where to fix it.

The registry's reasons (no contacts, no channel, notifications disabled on the object or its
node, a notification period that never applies) come from ``registry.coverage``; this module
adds the people's half: ``rules_suppress``, when every contact Naemon would run a command for
has rules that drop a PROBLEM in the object's worst state (DOWN, CRITICAL) at every time of the
week.

How "at every time of the week" is decided, exactly and cheaply: a contact's rules change
decision only where one of their time windows starts or ends (``days``, ``start``, ``end``
in the contact's time zone), so the decision is constant between those instants. The engine
(the notify-filter's own ``evaluate``) is asked at each of them, on a reference week without a
DST change (2024-01-08, Monday): at most 14 per rule, plus one, evaluations per contact, channel and
object, and one when a contact's rules cannot suppress at all (the common case). Not counted
as a gap: silences (temporary by design, listed on their own page), and on-call conditions (a
rule "while I am on call" is taken as possibly matching and possibly not: a gap is reported
only when nobody could be told whichever way the rotation turns).

``report(user, ...)`` answers the page and API (staff: everything; an engineer: what their
teams own, as registry/permissions.py says); ``refresh_counts`` (a periodic task) stores the
count per reason in Redis for the wall and the ``portal_coverage_gap_objects`` gauge.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.urls import reverse
from prometheus_client import Gauge

from monitoring_portal import redis_client
from monitoring_portal.models import Team
from preferences import engine, rulebook
from preferences.compiled import preferences_by_user
from registry import coverage as registry_coverage
from registry.coverage import REASONS, WORST_STATE, Target
from registry.models import Host, Service

REDIS_KEY = "portal:coverage:counts"
_REFERENCE_MONDAY = dt.date(2024, 1, 8)  # a week without DST changes in the zones that have them
_DAY = 24 * 60


@dataclass
class Gap:
    """One object nobody would be told about: its reasons (reason -> detail) and links to fix them."""

    target: Target
    reasons: dict[str, str]

    def fixes(self) -> dict[str, str]:
        """Reason -> the page where it is fixed."""
        t = self.target
        if t.kind == "host":
            edit = reverse("registry:host-edit", args=[t.host])
        else:
            edit = reverse("registry:service-edit", args=[t.service_id])
        links = {}
        for reason in self.reasons:
            links[reason] = reverse("preferences:index") if reason == "rules_suppress" else edit
        if "node_disabled" in self.reasons:
            links["node_disabled"] = reverse("registry:node-list")
        return links


# --- the rules' part -----------------------------------------------------------------------------


def _instants(contact: engine.CompiledContact) -> list[dt.datetime]:
    """Where the contact's decision may change in a week: window edges, in its time zone."""
    points = {(0, 0)}
    for rule in contact["rules"]:
        window = rule["window"]
        if window is None:
            continue
        mask, start, duration = window
        for day in range(7):
            if mask >> day & 1:
                points.add((day, start))
                end = start + duration
                points.add(((day + end // _DAY) % 7, end % _DAY))
    zone = dt.UTC if contact["timezone"] == "UTC" else ZoneInfo(contact["timezone"])
    return [
        dt.datetime.combine(
            _REFERENCE_MONDAY + dt.timedelta(days=day), dt.time(minute // 60, minute % 60), zone
        )
        for day, minute in sorted(points)
    ]


def _variants(contact: engine.CompiledContact) -> list[engine.CompiledContact]:
    """The contact's rules without silences; with an on-call rule, as if on call and as if not."""
    base: engine.CompiledContact = {
        "format": contact["format"],
        "default_notify": contact["default_notify"],
        "timezone": contact["timezone"],
        "rules": contact["rules"],
    }
    if not any("oncall" in rule for rule in contact["rules"]):
        return [base]
    on_call: list[engine.CompiledRule] = []
    for rule in contact["rules"]:
        unconditional = dict(rule)
        unconditional.pop("oncall", None)
        on_call.append(unconditional)  # type: ignore[arg-type]
    off_call = [rule for rule in contact["rules"] if "oncall" not in rule]
    return [{**base, "rules": on_call}, {**base, "rules": off_call}]


class Rules:
    """Every user's compiled preferences, compiled once for the whole report (a handful of queries)."""

    def __init__(self, user_ids: set[int]) -> None:
        self.compiled: dict[int, list[engine.CompiledContact] | None] = {}
        self.instants: dict[int, list[dt.datetime]] = {}
        for user_id, data in preferences_by_user(user_ids).items():
            try:
                contact = rulebook.compile_contact(
                    data["rules"], default=data["default"], timezone=data["timezone"]
                )
            except engine.RuleError:
                self.compiled[user_id] = None  # the filter fails open: sent
                continue
            self.compiled[user_id] = _variants(contact)
            self.instants[user_id] = _instants(contact)

    def suppressed(self, target: Target, contact: str, user_id: int | None, channels: list[str]) -> str:
        """Why every channel of this contact drops the object's worst PROBLEM at all times ("" if one sends)."""
        if user_id is None or "" in channels:
            return ""  # no preferences, or a command without a channel: always sent
        variants = self.compiled.get(user_id)
        if variants is None or not any(engine.can_suppress(v) for v in variants):
            return ""
        reason = ""
        for channel in channels:
            for variant in variants:
                for when in self.instants[user_id]:
                    decision = engine.evaluate(
                        variant,
                        engine.Notification(
                            contact=contact,
                            channel=channel,
                            type="PROBLEM",
                            host=target.host,
                            state=WORST_STATE[target.kind],
                            hostgroups=target.hostgroups,
                            service=target.service,
                            servicegroups=target.servicegroups,
                            time=when,
                        ),
                    )
                    if decision.notify:
                        return ""
                    reason = reason or decision.reason
        return f"{contact}: {reason} ({WORST_STATE[target.kind]} PROBLEM, at every time of the week)"


# --- the report ----------------------------------------------------------------------------------


def _scope(user: Any, team: Team | None, host: str | None) -> tuple[Any, Any]:
    """The hosts and services the report looks at: the caller's (staff, None: all), narrowed by the filters."""
    hosts = Host.objects.all()
    services = Service.objects.all()
    teams: set[int] | None = None
    if user is not None and not user.is_staff:
        teams = set(user.teams.values_list("pk", flat=True))
    if team is not None:
        teams = {team.pk} if teams is None else teams & {team.pk}
    if teams is not None:
        # Ownership as registry/permissions.py has it: a host's team and its host groups' teams;
        # a service through its host, or (on host groups) through those groups' teams.
        owned = Q(team__in=teams) | Q(hostgroups__team__in=teams)
        hosts = hosts.filter(pk__in=Host.objects.filter(owned).values("pk"))
        services = services.filter(
            Q(host__in=Host.objects.filter(owned).values("pk"))
            | Q(host__isnull=True, hostgroups__team__in=teams)
        ).distinct()
    if host is not None:
        hosts = hosts.filter(name=host)
        services = services.filter(
            Q(host__name=host) | Q(host__isnull=True, hostgroups__hosts__name=host)
        ).distinct()
    return hosts, services


def gaps(
    user: Any = None, *, reason: str | None = None, team: Team | None = None, host: str | None = None
) -> list[Gap]:
    """The objects nobody would be told about, visible to ``user`` (None: everything), filtered."""
    hosts, services = _scope(user, team, host)
    targets = registry_coverage.survey(hosts, services).targets
    rules = Rules({user_id for t in targets for user_id, _ in t.reached.values() if user_id is not None})
    found = []
    for target in targets:
        if host is not None and target.host != host:
            continue  # a service on host groups, on its other hosts
        if team is not None and team.pk not in target.teams:
            continue
        reasons = dict(target.reasons)
        if target.reached:
            why = [rules.suppressed(target, name, *reached) for name, reached in target.reached.items()]
            if all(why):
                reasons["rules_suppress"] = "; ".join(why)
        if reasons and (reason is None or reason in reasons):
            found.append(Gap(target, {r: reasons[r] for r in REASONS if r in reasons}))
    return found


def counts(found: list[Gap]) -> dict[str, int]:
    """Objects per reason (an object with two reasons counts under both), every reason listed."""
    counter: Counter[str] = Counter(r for gap in found for r in gap.reasons)
    return {reason: counter.get(reason, 0) for reason in REASONS}


# --- stored counts: the wall and the gauge ----------------------------------------------------------

_local: dict[str, Any] = {}


def refresh_counts() -> dict[str, Any]:
    """Count every gap of the site now and store it (Redis; without it, in this process)."""
    found = gaps()
    stored = {"taken_at": time.time(), "objects": len(found), "counts": counts(found)}
    client = redis_client.client()
    if client is None:
        _local["counts"] = stored
    else:
        client.set(REDIS_KEY, json.dumps(stored))
    return stored


def stored_counts() -> dict[str, Any] | None:
    """The last stored counts (``{"taken_at", "objects", "counts"}``), or None before the first refresh."""
    client = redis_client.client()
    if client is None:
        return _local.get("counts")
    raw = client.get(REDIS_KEY)
    return json.loads(raw) if isinstance(raw, bytes | str) else None


def _stored_count(reason: str) -> float:
    try:
        stored = stored_counts()
    except Exception:  # a scrape must not fail because Redis does not answer: NaN says "unknown"
        return float("nan")
    return float(stored["counts"].get(reason, 0)) if stored else float("nan")


# Read on each scrape of /metrics from what the periodic task stored (the web processes do
# not compute the report); registered once at import, like django-prometheus's own metrics.
GAP_OBJECTS = Gauge(
    "portal_coverage_gap_objects",
    "Hosts and services about which nobody would be told, by reason (the coverage report).",
    ["reason"],
)


def _reader(reason: str) -> Callable[[], float]:
    return lambda: _stored_count(reason)


for _reason in REASONS:
    GAP_OBJECTS.labels(reason=_reason).set_function(_reader(_reason))
