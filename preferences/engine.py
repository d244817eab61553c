"""The notification rule engine: one contact's ordered rules decide notify or suppress.

Plain Python, no Django: the notify-filter runs it on every Naemon node once per
contact and notification, and the portal's preview runs the same code.

Rules come in as plain dicts (see ``validate_rule``), are compiled once
(``compile_contact``) into plain data that ``marshal`` can store (dicts, tuples,
frozensets), and are evaluated with ``evaluate``.

Semantics:

* Rules are tried in order; the first enabled rule that matches decides. When
  none matches, the contact's default (``"notify"``, Naemon's behaviour, or
  ``"suppress"``) decides.
* An empty or absent criterion matches anything. A rule matches when every
  non-empty criterion does.
* ``hosts`` and ``hostgroups`` apply to host *and* service notifications (a
  service notification is about a host too). ``services`` and
  ``servicegroups`` apply to service notifications only: a rule with either of
  them never matches a host notification. ``services: ["*"]`` is therefore
  "any service notification".
* Names are exact, or globs when they contain ``*``, ``?`` or ``[``
  (``fnmatch.fnmatchcase``: case-sensitive, as Naemon's names are). A group
  criterion matches when any of the notification's groups matches.
* ``states`` holds host and/or service states; a notification matches when its
  state is listed (so ``["CRITICAL"]`` never matches a host notification).
* The time window is wall-clock time in the contact's time zone: ``days``
  (``mon`` … ``sun``, empty = every day), ``start`` and ``end`` (``HH:MM``;
  ``end`` may be ``24:00``). A window runs from ``start`` on a listed day for
  ``(end - start) mod 24h`` (0 → 24h), so ``fri 22:00-06:00`` covers Friday
  night into Saturday 06:00. On a DST change the wall clock decides: an hour
  that does not exist never matches, an hour that occurs twice matches twice.
* A RECOVERY or ACKNOWLEDGEMENT follows the PROBLEM it ends (``evaluate_followup``):
  only rules naming its type, and suppress rules without ``types`` that match it
  (quiet hours), decide otherwise.

Import cost matters here (the filter starts a Python process per
notification), so this module imports nothing at load time; ``fnmatch`` (and
with it ``re``) only when a glob's literal prefix/suffix cannot decide, and
``zoneinfo``/``datetime`` only when a time window is evaluated, and the notification types are plain classes rather than
``dataclasses`` (importing ``dataclasses`` costs more than starting Python).
"""

from __future__ import annotations

# Not typing.TYPE_CHECKING: importing typing costs the filter ~25 ms; mypy
# treats any name TYPE_CHECKING this way.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from datetime import datetime, tzinfo
    from typing import TypedDict

    # exact names; globs as (literal prefix, literal suffix, fnmatch pattern or
    # "" when prefix and suffix say it all)
    Names = tuple[frozenset[str], tuple[tuple[str, str, str], ...]]
    # (bit mask of weekdays, Monday = bit 0; start minute; duration in minutes)
    Window = tuple[int, int, int]
    RuleId = int | str | None

    class RuleData(TypedDict):
        """A validated, normalised rule as ``validate_rule`` returns it."""

        id: RuleId
        enabled: bool
        action: str
        comment: str
        hosts: list[str]
        hostgroups: list[str]
        services: list[str]
        servicegroups: list[str]
        states: list[str]
        types: list[str]
        channels: list[str]
        days: list[str]
        start: str
        end: str

    class CompiledRule(TypedDict):
        """An enabled rule ready for ``evaluate``; ``None`` = matches anything."""

        id: RuleId
        notify: bool
        hosts: Names | None
        hostgroups: Names | None
        services: Names | None
        servicegroups: Names | None
        service_only: bool
        states: frozenset[str] | None
        types: frozenset[str] | None
        channels: frozenset[str] | None
        window: Window | None

    class CompiledContact(TypedDict):
        """One contact's compiled preferences: what the snapshot stores per contact."""

        format: int
        default_notify: bool
        timezone: str
        rules: list[CompiledRule]


#: Bumped whenever the compiled form changes; readers reject other formats.
COMPILED_FORMAT = 1

HOST_STATES = ("UP", "DOWN", "UNREACHABLE")
SERVICE_STATES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")
STATES = HOST_STATES + SERVICE_STATES
NOTIFICATION_TYPES = (
    "PROBLEM",
    "RECOVERY",
    "ACKNOWLEDGEMENT",
    "FLAPPINGSTART",
    "FLAPPINGSTOP",
    "FLAPPINGDISABLED",
    "DOWNTIMESTART",
    "DOWNTIMEEND",
    "DOWNTIMECANCELLED",
    "CUSTOM",
)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ACTIONS = ("notify", "suppress")

_NAME_FIELDS = ("hosts", "hostgroups", "services", "servicegroups")
_LIST_FIELDS = (*_NAME_FIELDS, "states", "types", "channels", "days")
_RULE_FIELDS = frozenset(
    ("id", "enabled", "action", "comment", *_LIST_FIELDS, "start", "end"),
)
_DAY = 24 * 60


class RuleError(ValueError):
    """Invalid rule data; ``field`` names the offending key (for form/API errors)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Notification:
    """One notification as Naemon hands it to one contact's notification command.

    ``service`` is ``None`` (or ``""``) for a host notification. ``time`` is an
    aware datetime; ``None`` means "now", read only if a time window is reached.
    """

    __slots__ = (
        "channel",
        "contact",
        "host",
        "hostgroups",
        "notification_id",
        "service",
        "servicegroups",
        "state",
        "time",
        "type",
    )

    def __init__(
        self,
        *,
        contact: str,
        channel: str,
        type: str,
        host: str,
        state: str,
        hostgroups: Sequence[str] = (),
        service: str | None = None,
        servicegroups: Sequence[str] = (),
        notification_id: str = "",
        time: datetime | None = None,
    ) -> None:
        if time is not None and time.utcoffset() is None:
            raise ValueError("Notification.time must be timezone-aware")
        self.contact = contact
        self.channel = channel
        self.type = type
        self.host = host
        self.state = state
        self.hostgroups = tuple(hostgroups)
        self.service = service or None
        self.servicegroups = tuple(servicegroups) if self.service is not None else ()
        self.notification_id = notification_id
        self.time = time

    def _key(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Notification):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"Notification({fields})"


class Decision:
    """The engine's answer: send or not, which rule decided (None = default), why."""

    __slots__ = ("notify", "reason", "rule_id")

    def __init__(self, notify: bool, rule_id: RuleId, reason: str) -> None:
        self.notify = notify
        self.rule_id = rule_id
        self.reason = reason

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Decision):
            return NotImplemented
        return (self.notify, self.rule_id, self.reason) == (
            other.notify,
            other.rule_id,
            other.reason,
        )

    def __hash__(self) -> int:
        return hash((self.notify, self.rule_id, self.reason))

    def __repr__(self) -> str:
        return f"Decision(notify={self.notify!r}, rule_id={self.rule_id!r}, reason={self.reason!r})"


# --- validation -------------------------------------------------------------


def _string_list(field: str, value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
        raise RuleError(field, f"expected a list of strings, got {type(value).__name__}")
    items: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise RuleError(field, f"expected a list of strings, got an item {item!r}")
        if not item or item != item.strip():
            raise RuleError(field, f"{item!r} is empty or has surrounding whitespace")
        if item not in items:
            items.append(item)
    return items


def _choices(field: str, value: object, allowed: tuple[str, ...], *, upper: bool) -> list[str]:
    items = []
    for item in _string_list(field, value):
        normal = item.upper() if upper else item.lower()
        if normal not in allowed:
            raise RuleError(field, f"unknown value {item!r}; expected one of {', '.join(allowed)}")
        if normal not in items:
            items.append(normal)
    return items


def _minutes(field: str, value: str, *, allow_24: bool) -> int:
    """``"HH:MM"`` → minutes since midnight."""
    if len(value) != 5 or value[2] != ":" or not (value[:2] + value[3:]).isdigit() or not value.isascii():
        raise RuleError(field, f"expected HH:MM, got {value!r}")
    hours, minutes = int(value[:2]), int(value[3:])
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes or not allow_24)):
        raise RuleError(field, f"{value!r} is not a time of day")
    return hours * 60 + minutes


def validate_rule(data: Mapping[str, object]) -> RuleData:
    """Check one rule's plain data and return it normalised; raise ``RuleError``.

    Keys: ``action`` (``"notify"``/``"suppress"``, required); optional ``id``
    (int or str), ``enabled`` (bool, default true), ``comment``, the lists
    ``hosts``, ``hostgroups``, ``services``, ``servicegroups``, ``states``,
    ``types``, ``channels``, ``days`` and the times ``start``/``end``.
    Unknown keys are an error, so that a typo cannot widen a rule.
    """
    from collections.abc import Mapping as AnyMapping  # not on the filter's path

    if not isinstance(data, AnyMapping):
        raise RuleError("rule", f"expected a mapping, got {type(data).__name__}")
    unknown = sorted(set(data) - _RULE_FIELDS)
    if unknown:
        raise RuleError(unknown[0], "unknown field")

    rule_id = data.get("id")
    if rule_id is not None and (isinstance(rule_id, bool) or not isinstance(rule_id, int | str)):
        raise RuleError("id", f"expected an int or a string, got {rule_id!r}")
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise RuleError("enabled", f"expected true or false, got {enabled!r}")
    action = data.get("action")
    if action not in ACTIONS:
        raise RuleError("action", f"expected 'notify' or 'suppress', got {action!r}")
    comment = data.get("comment") or ""
    if not isinstance(comment, str):
        raise RuleError("comment", f"expected a string, got {type(comment).__name__}")

    start = data.get("start") or "00:00"
    end = data.get("end") or "24:00"
    if not isinstance(start, str):
        raise RuleError("start", f"expected HH:MM, got {start!r}")
    if not isinstance(end, str):
        raise RuleError("end", f"expected HH:MM, got {end!r}")
    if start != "00:00":
        _minutes("start", start, allow_24=False)
    if end != "24:00":
        _minutes("end", end, allow_24=True)

    return {
        "id": rule_id,
        "enabled": enabled,
        "action": str(action),
        "comment": comment,
        "hosts": _string_list("hosts", data.get("hosts")),
        "hostgroups": _string_list("hostgroups", data.get("hostgroups")),
        "services": _string_list("services", data.get("services")),
        "servicegroups": _string_list("servicegroups", data.get("servicegroups")),
        "states": _choices("states", data.get("states"), STATES, upper=True),
        "types": _choices("types", data.get("types"), NOTIFICATION_TYPES, upper=True),
        "channels": _string_list("channels", data.get("channels")),
        "days": _choices("days", data.get("days"), WEEKDAYS, upper=False),
        "start": start,
        "end": end,
    }


def validate_timezone(name: object) -> str:
    """Check an IANA time zone name (``Europe/Paris``); raise ``RuleError``."""
    if not isinstance(name, str) or not name:
        raise RuleError("timezone", f"expected a time zone name, got {name!r}")
    if name != "UTC":
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(name)
        except (ValueError, KeyError, OSError) as exc:  # ZoneInfoNotFoundError is a KeyError
            raise RuleError("timezone", f"unknown time zone {name!r}") from exc
    return name


# --- compilation ------------------------------------------------------------


def _compile_names(names: list[str]) -> Names | None:
    if not names:
        return None
    exact: set[str] = set()
    globs: list[tuple[str, str, str]] = []
    for name in names:
        first = min((i for i in map(name.find, "*?[") if i >= 0), default=-1)
        if first < 0:
            exact.add(name)
            continue
        # The literal text before the first wildcard (and, without brackets,
        # after the last one) must match before any regex is worth it; a
        # one-star glob ("web-*", "*.example.org") needs nothing else.
        prefix = name[:first]
        suffix = "" if "[" in name else name[max(name.rfind("*"), name.rfind("?")) + 1 :]
        one_star = "[" not in name and "?" not in name and name.count("*") == 1
        globs.append((prefix, suffix, "" if one_star else name))
    return frozenset(exact), tuple(globs)


def _compile_window(rule: RuleData) -> Window | None:
    if not rule["days"] and rule["start"] == "00:00" and rule["end"] == "24:00":
        return None  # the common case: no window
    start = _minutes("start", rule["start"], allow_24=False)
    end = _minutes("end", rule["end"], allow_24=True)
    duration = (end - start) % _DAY or _DAY
    days = rule["days"] or list(WEEKDAYS)
    mask = 0
    for day in days:
        mask |= 1 << WEEKDAYS.index(day)
    if mask == 0b1111111 and duration == _DAY:
        return None
    return mask, start, duration


def compile_rule(data: Mapping[str, object]) -> CompiledRule | None:
    """Validate and compile one rule; ``None`` for a disabled rule."""
    rule = validate_rule(data)
    if not rule["enabled"]:
        return None
    services = _compile_names(rule["services"])
    servicegroups = _compile_names(rule["servicegroups"])
    return {
        "id": rule["id"],
        "notify": rule["action"] == "notify",
        "hosts": _compile_names(rule["hosts"]),
        "hostgroups": _compile_names(rule["hostgroups"]),
        "services": services,
        "servicegroups": servicegroups,
        "service_only": services is not None or servicegroups is not None,
        "states": frozenset(rule["states"]) or None,
        "types": frozenset(rule["types"]) or None,
        "channels": frozenset(rule["channels"]) or None,
        "window": _compile_window(rule),
    }


def compile_contact(
    rules: Iterable[Mapping[str, object]],
    *,
    default: str = "notify",
    timezone: str = "UTC",
) -> CompiledContact:
    """Validate and compile one contact's ordered rules, default and time zone.

    A ``RuleError`` for a rule names its position: ``rules[3].states: …``.
    """
    if default not in ACTIONS:
        raise RuleError("default", f"expected 'notify' or 'suppress', got {default!r}")
    compiled: list[CompiledRule] = []
    for position, data in enumerate(rules):
        try:
            rule = compile_rule(data)
        except RuleError as exc:
            raise RuleError(f"rules[{position}].{exc.field}", exc.message) from None
        if rule is not None:
            compiled.append(rule)
    return {
        "format": COMPILED_FORMAT,
        "default_notify": default == "notify",
        "timezone": validate_timezone(timezone),
        "rules": compiled,
    }


# --- evaluation -------------------------------------------------------------


def _name_matches(names: Names, value: str) -> bool:
    exact, globs = names
    if value in exact:
        return True
    for prefix, suffix, pattern in globs:
        if len(value) >= len(prefix) + len(suffix) and value.startswith(prefix) and value.endswith(suffix):
            if not pattern:
                return True
            from fnmatch import fnmatchcase  # imports re: only when really needed

            if fnmatchcase(value, pattern):
                return True
    return False


def _any_name_matches(names: Names, values: Sequence[str]) -> bool:
    if not names[0].isdisjoint(values):
        return True
    return bool(names[1]) and any(_name_matches(names, value) for value in values)


def _matches_object(rule: CompiledRule, n: Notification, *, states: bool = True) -> bool:
    """Every criterion but the time window (and ``states`` if false); cheap set lookups first."""
    criterion = rule["channels"]
    if criterion is not None and n.channel not in criterion:
        return False
    criterion = rule["types"]
    if criterion is not None and n.type not in criterion:
        return False
    criterion = rule["states"]
    if states and criterion is not None and n.state not in criterion:
        return False
    names = rule["hosts"]
    if names is not None and not _name_matches(names, n.host):
        return False
    names = rule["hostgroups"]
    if names is not None and not _any_name_matches(names, n.hostgroups):
        return False
    if n.service is None:
        return not rule["service_only"]
    names = rule["services"]
    if names is not None and not _name_matches(names, n.service):
        return False
    names = rule["servicegroups"]
    return names is None or _any_name_matches(names, n.servicegroups)


def _zone(name: str) -> tzinfo:
    if name == "UTC":
        import datetime as dt

        return dt.UTC
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def local_clock(when: datetime | None, timezone: str) -> tuple[int, int]:
    """(weekday, Monday = 0; minute of the day) of ``when`` (None = now) in ``timezone``."""
    if when is None:
        import datetime as dt

        when = dt.datetime.now(dt.UTC)
    local = when.astimezone(_zone(timezone))
    return local.weekday(), local.hour * 60 + local.minute


def in_window(window: Window, clock: tuple[int, int]) -> bool:
    """Whether a local (weekday, minute) falls in a compiled window."""
    days, start, duration = window
    weekday, minute = clock
    if minute >= start:
        offset = minute - start
    else:  # the window may have started on the previous day
        weekday = (weekday - 1) % 7
        offset = minute + _DAY - start
    return bool(days >> weekday & 1) and offset < duration


def rule_matches(rule: CompiledRule, notification: Notification, timezone: str = "UTC") -> bool:
    """Whether one compiled rule matches a notification (for previews)."""
    window = rule["window"]
    return _matches_object(rule, notification) and (
        window is None or in_window(window, local_clock(notification.time, timezone))
    )


def can_suppress(contact: CompiledContact) -> bool:
    """Whether any notification at all could be suppressed for this contact."""
    return not contact["default_notify"] or any(not rule["notify"] for rule in contact["rules"])


FOLLOWUP_TYPES = ("RECOVERY", "ACKNOWLEDGEMENT")


def evaluate_followup(
    contact: CompiledContact, notification: Notification, problem_sent: bool | None
) -> Decision:
    """A RECOVERY or ACKNOWLEDGEMENT follows the PROBLEM it ends, unless a rule says otherwise.

    "Notify me of CRITICAL on web" must bring the recoveries of those problems too, and
    only of those: a RECOVERY carries state OK, which such a rule does not list. So a
    notify rule without ``types`` does not decide here. The rules that do, first match
    wins:

    * a rule that names the type in ``types`` (even a notify one cannot send a RECOVERY
      of a problem this contact never got);
    * a suppress rule without ``types`` ("quiet nights": everything 22:00-07:00) that
      matches the follow-up (object, channel, ``states`` absent or listing its state,
      time window): silence means silence, the end of a problem sent in the day too.
      Unless an earlier notify rule without ``types`` matches the object (its ``states``
      aside) in its window: rules above "quiet nights" that let a problem through at
      night let its end through as well.

    Otherwise the notification goes out exactly when its problem went out.
    ``problem_sent`` is None in a preview, where the node's record is unknown.
    """
    clock: tuple[int, int] | None = None
    covered = False  # an earlier notify rule without types took this object: it follows its problem
    for position, rule in enumerate(contact["rules"], start=1):
        types = rule["types"]
        if types is None:
            if covered:
                continue
            if rule["notify"]:
                # Its states are the problem's, not the follow-up's: leave them aside.
                if not _matches_object(rule, notification, states=False):
                    continue
            elif not _matches_object(rule, notification):
                continue
        elif notification.type not in types or not _matches_object(rule, notification):
            continue
        window = rule["window"]
        if window is not None:
            if clock is None:
                clock = local_clock(notification.time, contact["timezone"])
            if not in_window(window, clock):
                continue
        if types is None and rule["notify"]:
            covered = True
            continue
        rule_id = rule["id"]
        name = f"rule {rule_id}" if rule_id is not None else f"rule #{position}"
        if rule["notify"] and problem_sent is False:
            return Decision(False, rule_id, f"{name} matched; but its problem was not sent to this contact")
        return Decision(rule["notify"], rule_id, f"{name} matched")
    if problem_sent is None:
        return Decision(True, None, "follows its problem: sent if the problem was sent to this contact")
    if problem_sent:
        return Decision(True, None, "its problem was sent to this contact")
    return Decision(False, None, "its problem was not sent to this contact")


def evaluate(contact: CompiledContact, notification: Notification) -> Decision:
    """First matching rule decides; otherwise the contact's default."""
    if contact["format"] != COMPILED_FORMAT:
        raise ValueError(f"compiled rules have format {contact['format']!r}, not {COMPILED_FORMAT}")
    clock: tuple[int, int] | None = None
    for position, rule in enumerate(contact["rules"], start=1):
        if not _matches_object(rule, notification):
            continue
        window = rule["window"]
        if window is not None:
            if clock is None:
                clock = local_clock(notification.time, contact["timezone"])
            if not in_window(window, clock):
                continue
        rule_id = rule["id"]
        name = f"rule {rule_id}" if rule_id is not None else f"rule #{position}"
        return Decision(rule["notify"], rule_id, f"{name} matched")
    if contact["default_notify"]:
        return Decision(True, None, "no rule matched; default notify")
    return Decision(False, None, "no rule matched; default suppress")
