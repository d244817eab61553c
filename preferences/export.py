"""Preferences as code: a user's whole profile as one document, exported and imported.

The document (YAML or JSON, the same structure)::

    version: 1
    default: notify            # when no rule matches
    timezone: Europe/Paris     # of the rules' time windows
    rules:                     # in order: the first enabled rule that matches decides
      - action: suppress
        comment: quiet nights
        channels: [sms]
        start: "22:00"
        end: "07:00"

A rule lists only what differs from the engine's defaults (empty lists match anything,
``enabled: true``, ``00:00``-``24:00``), so a hand-written document and an export look alike.

**Stable ids are not part of the document**: rules are matched by content. ``apply_document``
keeps a stored rule (its id, ``created_at`` and ``updated_at``) when the document holds a rule
with exactly its content, wherever it moved to; a document rule whose content is new takes over
a left-over stored rule with the same non-empty comment (edited in place, the id survives:
the history names rules by id); the rest are created and the left-over rows deleted.

**Atomic and idempotent**: the document is validated completely before anything is written
(``DocumentError`` names the path of the first bad field: ``rules[2].states``), then applied
in one transaction that writes only what differs. The same document twice writes nothing the
second time: no row created, no ``updated_at`` moved, no snapshot published (only saves,
deletes and ``bulk_update`` publish, and none happens).

``oncall_team`` (a rule "only while I am on call for team X") is the team's name.

**Silences**: the ones still in force (or to come: ``start`` later than now is not a thing, a
silence starts when created), each with its matchers, ``comment`` and ``until`` (ISO 8601).
Matched by content too (matchers, comment and end): an unchanged silence stays as it is; one the
document no longer holds is *ended early* (``ended_at``), not deleted, so that the history
keeps what muted what; a silence of the document already over is skipped (nothing left to
mute: re-importing last week's export does not fail on it).

**Hand-overs** (``preferences.handovers``): the ones not over yet, each with ``colleague`` (a
user name), ``starts_at``, ``ends_at`` (ISO 8601) and ``comment``. Matched by content (all four):
an unchanged one stays as it is; one the document no longer holds is ended (kept, listed as
ended); a new one is checked as the API checks it (``handovers.check``: an active colleague with a
contact, sane dates, no overlap), naming its path (``handovers[0].colleague``); one already over
is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone as django_timezone
from django.utils.dateparse import parse_datetime

from monitoring_portal.models import Team
from preferences import engine, handovers, rulebook
from preferences.models import (
    RULE_FIELDS,
    RULE_LIST_FIELDS,
    HandOver,
    NotificationProfile,
    NotificationRule,
    Silence,
)
from preferences.tasks import publish_on_commit

VERSION = 1
DOCUMENT_KEYS = ("version", "default", "timezone", "rules", "silences", "handovers")
HANDOVER_KEYS = ("colleague", "starts_at", "ends_at", "comment")
#: A rule's fields in the order a document shows them.
RULE_KEYS = ("action", "comment", "enabled", *RULE_LIST_FIELDS, "start", "end", "oncall_team")
#: What a rule row holds beyond RULE_FIELDS: the on-call team, by name.
_ROW_FIELDS = (*RULE_FIELDS, "oncall_team")
_RULE_DEFAULTS: dict[str, Any] = {
    "enabled": True,
    "comment": "",
    "start": "00:00",
    "end": "24:00",
    "oncall_team": "",
}


class DocumentError(ValueError):
    """A bad document: ``path`` names the field (``rules[2].states``), nothing was changed."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


# -- rules as document items ----------------------------------------------------------


def rule_item(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A normalised rule as a document shows it: only what differs from the defaults."""
    item: dict[str, Any] = {}
    for key in RULE_KEYS:
        value = rule.get(key, "")
        if key in RULE_LIST_FIELDS:
            if value:
                item[key] = list(value)
        elif key == "action" or value != _RULE_DEFAULTS[key]:
            item[key] = value
    return item


def _content(rule: Mapping[str, Any]) -> tuple[Any, ...]:
    """What makes two rules the same rule (id and position aside)."""
    fields = (tuple(rule[f]) if f in RULE_LIST_FIELDS else rule[f] for f in RULE_FIELDS)
    return (*fields, rule.get("oncall_team") or "")


def _row(rule: NotificationRule) -> dict[str, Any]:
    """A stored rule as the engine's data, its team by name (``as_rule`` without the id)."""
    data = rule.as_rule()
    data.pop("id")
    return data


def validate_rules(items: object, path: str = "rules") -> list[engine.RuleData]:
    """A document's (or a draft's) list of rules, validated by the engine and normalised."""
    if not isinstance(items, list):
        raise DocumentError(path, f"expected a list of rules, got {type(items).__name__}")
    rules = []
    for index, item in enumerate(items):
        where = f"{path}[{index}]"
        if not isinstance(item, Mapping):
            raise DocumentError(where, f"expected a mapping, got {type(item).__name__}")
        if "id" in item:
            raise DocumentError(f"{where}.id", "rules are matched by content; a document has no ids")
        try:
            rules.append(rulebook.validate_rule(item))
        except engine.RuleError as exc:
            raise DocumentError(f"{where}.{exc.field}", exc.message) from None
        if len(rules[-1]["comment"]) > 255:
            raise DocumentError(f"{where}.comment", "at most 255 characters")
        team = rules[-1].get("oncall_team")
        if team and not Team.objects.filter(name=team).exists():
            raise DocumentError(f"{where}.oncall_team", f"no team {team!r}")
    return rules


@dataclass
class SilenceItem:
    """A validated silence of a document."""

    matchers: dict[str, list[str]]
    comment: str
    until: datetime

    def key(self) -> tuple[Any, ...]:
        return (tuple(tuple(self.matchers[f]) for f in engine.SILENCE_FIELDS), self.comment, self.until)


def silence_item(silence: Silence) -> dict[str, Any]:
    """A stored silence as a document shows it: matchers that are set, comment, end."""
    item: dict[str, Any] = {f: list(v) for f, v in silence.matchers().items() if v}
    if silence.comment:
        item["comment"] = silence.comment
    item["until"] = silence.effective_end.isoformat()
    return item


def _stored_key(silence: Silence) -> tuple[Any, ...]:
    matchers = silence.matchers()
    return (tuple(tuple(matchers[f]) for f in engine.SILENCE_FIELDS), silence.comment, silence.effective_end)


def validate_silences(items: object, path: str, now: datetime) -> list[SilenceItem]:
    """A document's silences; those already over are left out (see the module docstring)."""
    if not isinstance(items, list):
        raise DocumentError(path, f"expected a list of silences, got {type(items).__name__}")
    silences = []
    for index, item in enumerate(items):
        where = f"{path}[{index}]"
        if not isinstance(item, Mapping):
            raise DocumentError(where, f"expected a mapping, got {type(item).__name__}")
        data = dict(item)
        comment = data.pop("comment", "") or ""
        if not isinstance(comment, str) or len(comment) > 255:
            raise DocumentError(f"{where}.comment", "expected a text of at most 255 characters")
        raw = data.pop("until", None)
        until = parse_datetime(raw) if isinstance(raw, str) else raw if isinstance(raw, datetime) else None
        if until is None:
            raise DocumentError(f"{where}.until", f"expected an ISO 8601 date and time, got {raw!r}")
        if django_timezone.is_naive(until):
            raise DocumentError(f"{where}.until", "give the time zone (…+01:00 or …Z)")
        if until > now + timedelta(seconds=engine.MAX_SILENCE_SECONDS):
            days = engine.MAX_SILENCE_SECONDS // 86400
            raise DocumentError(f"{where}.until", f"at most {days} days ahead")
        try:
            normal = rulebook.validate_silence(data)
        except engine.RuleError as exc:
            raise DocumentError(f"{where}.{exc.field}", exc.message) from None
        if until <= now:
            continue
        matchers = {f: list(normal[f]) for f in engine.SILENCE_FIELDS}  # type: ignore[literal-required]
        silences.append(SilenceItem(matchers=matchers, comment=comment, until=until))
    return silences


@dataclass
class HandOverItem:
    """A validated hand-over of a document; ``path`` names it for errors found when applying it."""

    colleague: User
    starts_at: datetime
    ends_at: datetime
    comment: str
    path: str

    def key(self) -> tuple[Any, ...]:
        return (self.colleague.pk, self.starts_at, self.ends_at, self.comment)


def _moment(raw: object, where: str) -> datetime:
    value = parse_datetime(raw) if isinstance(raw, str) else raw if isinstance(raw, datetime) else None
    if value is None:
        raise DocumentError(where, f"expected an ISO 8601 date and time, got {raw!r}")
    if django_timezone.is_naive(value):
        raise DocumentError(where, "give the time zone (…+01:00 or …Z)")
    return value


def validate_handovers(items: object, path: str, now: datetime) -> list[HandOverItem]:
    """A document's hand-overs; those already over are left out (nothing left to hand over)."""
    if not isinstance(items, list):
        raise DocumentError(path, f"expected a list of hand-overs, got {type(items).__name__}")
    result = []
    for index, item in enumerate(items):
        where = f"{path}[{index}]"
        if not isinstance(item, Mapping):
            raise DocumentError(where, f"expected a mapping, got {type(item).__name__}")
        unknown = sorted(str(k) for k in item if k not in HANDOVER_KEYS)
        if unknown:
            raise DocumentError(
                f"{where}.{unknown[0]}", f"unknown field; expected {', '.join(HANDOVER_KEYS)}"
            )
        name = item.get("colleague")
        colleague = User.objects.filter(username=name).first() if isinstance(name, str) else None
        if colleague is None:
            raise DocumentError(f"{where}.colleague", f"no user {name!r}")
        comment = item.get("comment", "") or ""
        if not isinstance(comment, str) or len(comment) > 255:
            raise DocumentError(f"{where}.comment", "expected a text of at most 255 characters")
        starts_at = _moment(item.get("starts_at"), f"{where}.starts_at")
        ends_at = _moment(item.get("ends_at"), f"{where}.ends_at")
        if ends_at <= now:
            continue
        result.append(HandOverItem(colleague, starts_at, ends_at, comment, where))
    return result


# -- the document ---------------------------------------------------------------------


@dataclass
class Document:
    """A validated document: what ``apply_document`` writes."""

    default: str
    timezone: str
    rules: list[engine.RuleData] = field(default_factory=list)
    silences: list[SilenceItem] = field(default_factory=list)
    handovers: list[HandOverItem] = field(default_factory=list)


def export_user(user: User) -> dict[str, Any]:
    """The user's whole profile as a document (the defaults for a profile never saved)."""
    profile = NotificationProfile.objects.filter(user=user).first() or NotificationProfile(user=user)
    rules = NotificationRule.objects.filter(user=user).select_related("oncall_team").in_order()
    silences = Silence.objects.filter(user=user).active().order_by("ends_at", "pk")
    return {
        "version": VERSION,
        "default": str(profile.default),  # an unsaved profile holds the Action enum
        "timezone": str(profile.timezone),
        "rules": [rule_item(_row(r)) for r in rules],
        "silences": [silence_item(s) for s in silences],
        "handovers": [
            handovers.as_document(h)
            for h in HandOver.objects.filter(user=user)
            .not_over()
            .select_related("colleague")
            .order_by("starts_at", "pk")
        ],
    }


def parse_document(data: object, path: str = "") -> Document:
    """Validate a whole document; raise ``DocumentError`` naming the bad field's path."""

    def at(key: str) -> str:
        return f"{path}.{key}" if path else key

    if not isinstance(data, Mapping):
        raise DocumentError(path or "document", f"expected a mapping, got {type(data).__name__}")
    unknown = sorted(str(k) for k in data if k not in DOCUMENT_KEYS)
    if unknown:
        raise DocumentError(at(unknown[0]), f"unknown field; expected {', '.join(DOCUMENT_KEYS)}")
    version = data.get("version", VERSION)
    if version != VERSION:
        raise DocumentError(at("version"), f"this portal reads version {VERSION}, got {version!r}")
    default = data.get("default", "notify")
    if default not in engine.ACTIONS:
        raise DocumentError(at("default"), f"expected notify or suppress, got {default!r}")
    if "timezone" not in data:
        raise DocumentError(at("timezone"), "required (an IANA name such as Europe/Paris)")
    try:
        timezone = rulebook.validate_timezone(data["timezone"])
    except engine.RuleError as exc:
        raise DocumentError(at("timezone"), exc.message) from None
    rules = validate_rules(data.get("rules", []), at("rules"))
    now = django_timezone.now()
    silences = validate_silences(data.get("silences", []), at("silences"), now)
    given = validate_handovers(data.get("handovers", []), at("handovers"), now)
    return Document(default=str(default), timezone=timezone, rules=rules, silences=silences, handovers=given)


def _match(
    stored: list[NotificationRule], wanted: list[engine.RuleData]
) -> tuple[list[NotificationRule | None], list[NotificationRule]]:
    """For each wanted rule the stored row it keeps (None: a new row), and the rows left over."""
    free = list(stored)
    kept: list[NotificationRule | None] = [None] * len(wanted)
    # Same content first (a moved rule keeps its row untouched), then same comment (edited).
    for index, rule in enumerate(wanted):
        key = _content(rule)
        row = next((r for r in free if _content(_row(r)) == key), None)
        if row is not None:
            kept[index] = row
            free.remove(row)
    for index, rule in enumerate(wanted):
        if kept[index] is None and rule["comment"]:
            row = next((r for r in free if r.comment == rule["comment"]), None)
            if row is not None:
                kept[index] = row
                free.remove(row)
    return kept, free


def apply_document(user: User, document: Document) -> bool:
    """Replace the user's profile and rules by the document's, writing only what differs.

    One transaction; returns whether anything changed. Saves and deletes publish the
    snapshot through ``preferences.signals``; position moves (``bulk_update``) publish here.
    """
    changed = False
    with transaction.atomic():
        # Lock the user's row: two imports of one user's rules run one after the other.
        User.objects.select_for_update().filter(pk=user.pk).first()
        profile = NotificationProfile.objects.filter(user=user).first() or NotificationProfile(user=user)
        # A profile never saved reads as the defaults: equal to the document, nothing to store.
        if (profile.default, profile.timezone) != (document.default, document.timezone):
            profile.default, profile.timezone = document.default, document.timezone
            profile.save()
            changed = True

        stored = list(
            NotificationRule.objects.select_for_update(of=("self",))
            .filter(user=user)
            .select_related("oncall_team")
            .in_order()
        )
        teams = {
            t.name: t for t in Team.objects.filter(name__in={r.get("oncall_team") for r in document.rules})
        }
        kept, left_over = _match(stored, document.rules)
        for gone in left_over:
            gone.delete()
            changed = True
        moved = []
        for position, (rule, row) in enumerate(zip(document.rules, kept, strict=True)):
            if row is None:
                NotificationRule.objects.create(
                    user=user,
                    position=position,
                    oncall_team=teams.get(rule.get("oncall_team") or ""),
                    **{f: rule[f] for f in RULE_FIELDS},  # type: ignore[literal-required]
                )
                changed = True
            elif _content(_row(row)) != _content(rule):
                for f in RULE_FIELDS:
                    setattr(row, f, rule[f])  # type: ignore[literal-required]
                row.oncall_team = teams.get(rule.get("oncall_team") or "")
                row.position = position
                row.save()
                changed = True
            elif row.position != position:
                row.position = position
                moved.append(row)
        if moved:
            # Only the order changed: positions without touching updated_at (no signal: publish).
            NotificationRule.objects.bulk_update(moved, ["position"])
            publish_on_commit()
            changed = True
        if _apply_silences(user, document.silences):
            changed = True
        if _apply_handovers(user, document.handovers):
            changed = True
    return changed


def _apply_handovers(user: User, wanted: list[HandOverItem]) -> bool:
    """End the hand-overs the document no longer holds, then create its new ones (checked as the API does).

    Raises ``DocumentError`` for a new one ``handovers.check`` refuses: the caller's transaction
    rolls the whole document back.
    """
    now = django_timezone.now()
    stored = list(HandOver.objects.select_for_update().filter(user=user).not_over(now))
    free = {h.pk: h for h in stored}
    new = []
    for item in wanted:
        key = item.key()
        match = next(
            (h for h in free.values() if (h.colleague_id, h.starts_at, h.effective_end, h.comment) == key),
            None,
        )
        if match is None:
            new.append(item)
        else:
            del free[match.pk]
    for handover in free.values():
        handovers.end(handover, now)
    for item in new:
        problems = handovers.check(user, item.colleague, item.starts_at, item.ends_at, now=now)
        if problems:
            field_name, message = next(iter(problems.items()))
            raise DocumentError(f"{item.path}.{field_name}", message)
        handovers.create(user, item.colleague, item.starts_at, item.ends_at, item.comment)
    return bool(free or new)


def _apply_silences(user: User, wanted: list[SilenceItem]) -> bool:
    """Create the document's new silences, end early the ones it no longer holds."""
    now = django_timezone.now()
    active = list(Silence.objects.select_for_update().filter(user=user).active(now))
    free = {id(s): s for s in active}
    changed = False
    for item in wanted:
        match = next((s for s in free.values() if _stored_key(s) == item.key()), None)
        if match is not None:
            del free[id(match)]
            continue
        Silence.objects.create(user=user, comment=item.comment, ends_at=item.until, **item.matchers)
        changed = True
    for silence in free.values():
        silence.ended_at = now
        silence.save(update_fields=["ended_at"])
        changed = True
    return changed


# -- everyone's (the staff command) -----------------------------------------------------


def export_users(users: Iterable[User]) -> dict[str, Any]:
    """Everyone's documents in one: ``{"version": 1, "users": {username: document}}``."""
    return {"version": VERSION, "users": {u.get_username(): export_user(u) for u in users}}


def import_users(data: object) -> list[str]:
    """Apply a file of ``export_users``: all users in one transaction; the usernames changed.

    Every section is validated (and every user looked up) before anything is written.
    Users not in the file are left alone.
    """
    if not isinstance(data, Mapping):
        raise DocumentError("document", f"expected a mapping, got {type(data).__name__}")
    unknown = sorted(str(k) for k in data if k not in ("version", "users"))
    if unknown:
        raise DocumentError(unknown[0], "unknown field; expected version, users")
    if data.get("version", VERSION) != VERSION:
        raise DocumentError("version", f"this portal reads version {VERSION}, got {data.get('version')!r}")
    sections = data.get("users")
    if not isinstance(sections, Mapping):
        raise DocumentError("users", "expected a mapping of username to document")
    parsed: list[tuple[User, Document]] = []
    for username, section in sections.items():
        where = f"users.{username}"
        user = User.objects.filter(username=username).first()
        if user is None:
            raise DocumentError(where, f"no user {username!r}")
        parsed.append((user, parse_document(section, where)))
    changed = []
    with transaction.atomic():
        for user, document in parsed:
            if apply_document(user, document):
                changed.append(user.get_username())
    return changed
