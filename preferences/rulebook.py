"""Rules in, compiled rules out: validation and compilation of the engine's input (no Django).

``validate_rule`` checks one rule's plain data (the API, the pages, preferences as code and the
snapshot writer all call it: one validator); ``compile_contact`` turns a contact's rules,
silences and on-call rotations into the plain data the snapshot stores and
``preferences.engine.evaluate`` reads. Apart from the engine so that it stays small; the
notify-filter never compiles (it reads what the portal compiled).
"""

from __future__ import annotations

import functools

from preferences.engine import (
    _DAY,
    _RULE_FIELDS,
    ACTIONS,
    COMPILED_FORMAT,
    NOTIFICATION_TYPES,
    SILENCE_FIELDS,
    STATES,
    WEEKDAYS,
    RuleError,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from preferences.engine import (
        CompiledContact,
        CompiledRule,
        CompiledSilence,
        HandedOver,
        Names,
        OnCall,
        Rotation,
        RuleData,
        StandIn,
        UtcOffsets,
        Window,
    )


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

    oncall_team = data.get("oncall_team") or ""
    if not isinstance(oncall_team, str) or oncall_team != oncall_team.strip():
        raise RuleError("oncall_team", f"expected a team name, got {oncall_team!r}")

    rule: RuleData = {
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
    if oncall_team:  # absent unless set: the common rule's data stays as it was
        rule["oncall_team"] = oncall_team
    return rule


def validate_silence(data: Mapping[str, object]) -> RuleData:
    """A silence's matchers (``SILENCE_FIELDS``), validated as a rule's are; raise ``RuleError``.

    The one validator of rules does the work: a silence is a suppress rule without
    time window, so the same names, states, types and channels are valid in both.
    """
    from collections.abc import Mapping as AnyMapping

    if not isinstance(data, AnyMapping):
        raise RuleError("silence", f"expected a mapping, got {type(data).__name__}")
    for field in data:
        if field not in SILENCE_FIELDS:
            raise RuleError(str(field), "unknown field for a silence")
    return validate_rule({"action": "suppress", **data})


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
    compiled: CompiledRule = {
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
    if "oncall_team" in rule:
        compiled["oncall"] = rule["oncall_team"]
    return compiled


def compile_contact(
    rules: Iterable[Mapping[str, object]],
    *,
    default: str = "notify",
    timezone: str = "UTC",
    silences: Iterable[Mapping[str, object]] = (),
    oncall: Mapping[str, object] | None = None,
    handed_over: Iterable[Mapping[str, object]] = (),
    stand_in: Mapping[str, object] | None = None,
) -> CompiledContact:
    """Validate and compile one contact's ordered rules, default and time zone.

    A ``RuleError`` for a rule names its position: ``rules[3].states: …``.
    ``silences`` (``compile_silence``'s input), ``oncall`` (``compile_oncall``'s),
    ``handed_over`` (``compile_handed_over``'s) and ``stand_in`` (``compile_stand_in``'s)
    are stored only when given, so a contact without them compiles as before.
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
    contact: CompiledContact = {
        "format": COMPILED_FORMAT,
        "default_notify": default == "notify",
        "timezone": validate_timezone(timezone),
        "rules": compiled,
    }
    compiled_silences = []
    for position, data in enumerate(silences):
        try:
            compiled_silences.append(compile_silence(data))
        except RuleError as exc:
            raise RuleError(f"silences[{position}].{exc.field}", exc.message) from None
    if compiled_silences:
        contact["silences"] = compiled_silences
    if oncall is not None:
        contact["oncall"] = compile_oncall(oncall)
    compiled_handovers = []
    for position, data in enumerate(handed_over):
        try:
            compiled_handovers.append(compile_handed_over(data))
        except RuleError as exc:
            raise RuleError(f"handed_over[{position}].{exc.field}", exc.message) from None
    if compiled_handovers:
        contact["handed_over"] = compiled_handovers
    if stand_in is not None:
        contact["stand_in"] = compile_stand_in(stand_in)
    if any(rule["window"] is not None for rule in compiled):
        import time

        contact["utc_offsets"] = utc_offsets(contact["timezone"], time.gmtime().tm_year - 1)
    return contact


# Years of UTC offsets stored with a contact whose rules have time windows: from the start of
# last year, so the file changes once a year, not on every compilation (snapshot writes
# compare contents), and a portal stopped for two years still leaves the filter correct
# (outside the range it falls back to zoneinfo).
OFFSET_YEARS = 4


@functools.lru_cache(maxsize=512)
def utc_offsets(timezone: str, first_year: int, years: int = OFFSET_YEARS) -> UtcOffsets:
    """The zone's UTC offset transitions from 1 January ``first_year`` for ``years`` years.

    ``engine.local_clock`` turns a time into the local wall clock with them by integer
    arithmetic, the same answer ``astimezone`` gives (tests compare both), so the filter
    imports neither ``datetime`` nor ``zoneinfo``.
    """
    import datetime as dt
    from zoneinfo import ZoneInfo

    zone = dt.UTC if timezone == "UTC" else ZoneInfo(timezone)
    start = int(dt.datetime(first_year, 1, 1, tzinfo=dt.UTC).timestamp())
    end = int(dt.datetime(first_year + years, 1, 1, tzinfo=dt.UTC).timestamp())

    def offset(epoch: int) -> int:
        delta = dt.datetime.fromtimestamp(epoch, zone).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    starts, values = [start], [offset(start)]
    step = 6 * 3600  # no zone changes its offset twice within six hours
    epoch = start
    while epoch < end:
        following = min(epoch + step, end)
        if offset(following) != values[-1]:
            low, high = epoch, following  # offset(low) is the current one, offset(high) is not
            while high - low > 1:
                middle = (low + high) // 2
                if offset(middle) == values[-1]:
                    low = middle
                else:
                    high = middle
            starts.append(high)
            values.append(offset(high))
        epoch = following
    return tuple(starts), tuple(values), end


def compile_handed_over(data: Mapping[str, object]) -> HandedOver:
    """``{"id", "to" (the colleague's contact), "comment", "start", "until"}`` (epoch seconds)."""
    handover_id = data.get("id")
    if handover_id is not None and (isinstance(handover_id, bool) or not isinstance(handover_id, int | str)):
        raise RuleError("id", f"expected an int or a string, got {handover_id!r}")
    to, comment = data.get("to"), data.get("comment") or ""
    if not isinstance(to, str) or not to:
        raise RuleError("to", f"expected a contact name, got {to!r}")
    if not isinstance(comment, str):
        raise RuleError("comment", f"expected a string, got {type(comment).__name__}")
    start, until = _epoch("start", data.get("start")), _epoch("until", data.get("until"))
    return {"id": handover_id, "to": to, "comment": comment, "start": start, "until": until}


def compile_stand_in(data: Mapping[str, object]) -> StandIn:
    """``{"name": the contact covered for, "windows": [[start, end], ...]}`` (epoch seconds)."""
    name, raw = data.get("name"), data.get("windows")
    if not isinstance(name, str) or not name:
        raise RuleError("stand_in.name", f"expected a contact name, got {name!r}")
    if not isinstance(raw, list | tuple):
        raise RuleError("stand_in.windows", "expected a list of [start, end]")
    windows = []
    for item in raw:
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise RuleError("stand_in.windows", f"expected [start, end], got {item!r}")
        windows.append((_epoch("stand_in.windows", item[0]), _epoch("stand_in.windows", item[1])))
    return {"name": name, "windows": tuple(windows)}


def _epoch(field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise RuleError(field, f"expected epoch seconds, got {value!r}")
    return float(value)


def compile_silence(data: Mapping[str, object]) -> CompiledSilence:
    """``{"id", "comment", "start", "until"}`` (epoch seconds) and the matchers (``validate_silence``)."""
    matchers = {
        field: value for field, value in data.items() if field not in ("id", "comment", "start", "until")
    }
    rule = compile_rule(validate_silence(matchers))
    assert rule is not None  # validate_silence's rules are enabled
    silence_id = data.get("id")
    if silence_id is not None and (isinstance(silence_id, bool) or not isinstance(silence_id, int | str)):
        raise RuleError("id", f"expected an int or a string, got {silence_id!r}")
    comment = data.get("comment") or ""
    if not isinstance(comment, str):
        raise RuleError("comment", f"expected a string, got {type(comment).__name__}")
    start, until = _epoch("start", data.get("start", 0.0)), _epoch("until", data.get("until"))
    return {"id": silence_id, "comment": comment, "start": start, "until": until, "match": rule}


def compile_rotation(data: Mapping[str, object]) -> Rotation:
    """A rotation: ``timezone``, ``start`` (ISO date of the first shift), ``handoff`` (HH:MM),
    ``period`` (``"daily"``/``"weekly"``), ``members`` and ``fallback`` (user names),
    ``overrides`` (``[start epoch, end epoch, user name or ""]``)."""
    import datetime as dt

    timezone = validate_timezone(data.get("timezone"))
    start = data.get("start")
    try:
        anchor = dt.date.fromisoformat(start).toordinal()  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise RuleError("start", f"expected a date YYYY-MM-DD, got {start!r}") from None
    handoff = data.get("handoff")
    if not isinstance(handoff, str):
        raise RuleError("handoff", f"expected HH:MM, got {handoff!r}")
    minute = _minutes("handoff", handoff, allow_24=False)
    period = {"daily": 1, "weekly": 7}.get(str(data.get("period")))
    if period is None:
        raise RuleError("period", f"expected 'daily' or 'weekly', got {data.get('period')!r}")
    members = tuple(_string_list("members", data.get("members")))
    fallback = data.get("fallback") or ""
    if not isinstance(fallback, str):
        raise RuleError("fallback", f"expected a user name, got {fallback!r}")
    overrides = []
    raw = data.get("overrides") or []
    if not isinstance(raw, list | tuple):
        raise RuleError("overrides", "expected a list of [start, end, user]")
    for item in raw:
        if not isinstance(item, list | tuple) or len(item) != 3 or not isinstance(item[2], str):
            raise RuleError("overrides", f"expected [start, end, user], got {item!r}")
        begin, end = _epoch("overrides", item[0]), _epoch("overrides", item[1])
        overrides.append((begin, end, item[2]))
    return {
        "timezone": timezone,
        "anchor": anchor,
        "handoff": minute,
        "period": period,
        "members": members,
        "overrides": tuple(overrides),
        "fallback": fallback,
    }


def compile_oncall(data: Mapping[str, object]) -> OnCall:
    """``{"user": name, "rotations": {team: compile_rotation's input}}``."""
    user = data.get("user")
    if not isinstance(user, str):
        raise RuleError("oncall.user", f"expected a user name, got {user!r}")
    rotations = data.get("rotations") or {}
    if not isinstance(rotations, dict):
        raise RuleError("oncall.rotations", "expected a mapping of team to rotation")
    compiled: dict[str, Rotation] = {}
    for team, rotation in rotations.items():
        try:
            compiled[str(team)] = compile_rotation(rotation)
        except RuleError as exc:
            raise RuleError(f"oncall.rotations.{team}.{exc.field}", exc.message) from None
    return {"user": user, "rotations": compiled}
