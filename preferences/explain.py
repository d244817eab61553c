"""Why a contact's rules decided a notification as they did: the history page's explanations.

Walks the rules exactly as ``preferences.engine.evaluate`` does (its own matching functions), so
the page and the notify-filter never disagree; never on the filter's path.
"""

from __future__ import annotations

from preferences.engine import (
    _DAY,
    COMPILED_FORMAT,
    WEEKDAYS,
    Notification,
    _any_name_matches,
    _matches_object,
    _name_matches,
    _silenced,
    handed_over_decision,
    in_window,
    local_clock,
    on_call_matches,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from preferences.engine import CompiledContact, CompiledRule, Names, RuleId, Window


# --- explanation (the history page; never on the filter's path) ---------------------


def _names_text(names: Names) -> str:
    exact, globs = names
    shown = sorted(exact) + [pattern or f"{prefix}*{suffix}" for prefix, suffix, pattern in globs]
    return ", ".join(shown)


def _window_text(window: Window, timezone: str) -> str:
    days, start, duration = window
    listed = [day for position, day in enumerate(WEEKDAYS) if days >> position & 1]
    end = start + duration
    end_text = "24:00" if end == _DAY else f"{end % _DAY // 60:02d}:{end % 60:02d}"
    when = "" if len(listed) == 7 else " ".join(listed) + " "
    return f"{when}{start // 60:02d}:{start % 60:02d}-{end_text} {timezone}"


def mismatch(
    rule: CompiledRule, notification: Notification, timezone: str, clock: tuple[int, int] | None = None
) -> tuple[str, str] | None:
    """Why one compiled rule does not match: (code, text); None when it matches.

    The criteria are tried in ``_matches_object``'s order, then the time window, so the
    reason given is the first one ``evaluate`` stumbled on.
    """
    n = notification
    criterion = rule["channels"]
    if criterion is not None and n.channel not in criterion:
        return "channel", f"channel {n.channel} not in {', '.join(sorted(criterion))}"
    criterion = rule["types"]
    if criterion is not None and n.type not in criterion:
        return "type", f"type {n.type} not in {', '.join(sorted(criterion))}"
    criterion = rule["states"]
    if criterion is not None and n.state not in criterion:
        return "state", f"state {n.state} not in {', '.join(sorted(criterion))}"
    names = rule["hosts"]
    if names is not None and not _name_matches(names, n.host):
        return "host", f"host {n.host} not in {_names_text(names)}"
    names = rule["hostgroups"]
    if names is not None and not _any_name_matches(names, n.hostgroups):
        return "hostgroup", f"host group not matched: {_names_text(names)}"
    if n.service is None:
        if rule["service_only"]:
            return "service_only", "a rule about services; this is a host notification"
    else:
        names = rule["services"]
        if names is not None and not _name_matches(names, n.service):
            return "service", f"service {n.service} not in {_names_text(names)}"
        names = rule["servicegroups"]
        if names is not None and not _any_name_matches(names, n.servicegroups):
            return "servicegroup", f"service group not matched: {_names_text(names)}"
    window = rule["window"]
    if window is not None:
        clock = clock or local_clock(n.time, timezone)
        if not in_window(window, clock):
            weekday, minute = clock
            at = f"{WEEKDAYS[weekday]} {minute // 60:02d}:{minute % 60:02d}"
            return "window", f"outside {_window_text(window, timezone)} (it was {at})"
    return None


def explain(contact: CompiledContact, notification: Notification) -> list[tuple[RuleId, bool, str, str]]:
    """``evaluate``'s walk told step by step: (rule id, matched, reason code, text) per rule tried.

    Every rule before the deciding one is listed with why it did not match; the last entry
    is the deciding rule (matched, code ``"matched"``) or, when none matched, the default
    (rule id None, code ``"default"``). Matching is ``evaluate``'s own code; ``mismatch``
    only words the reason.
    """
    if contact["format"] != COMPILED_FORMAT:
        raise ValueError(f"compiled rules have format {contact['format']!r}, not {COMPILED_FORMAT}")
    steps: list[tuple[RuleId, bool, str, str]] = []
    handed = handed_over_decision(contact, notification)
    if handed is not None:  # before any rule and silence, as in ``evaluate``
        return [(None, True, "handover", handed.reason)]
    silenced = _silenced(contact, notification)
    if silenced is not None:  # before any rule, as in ``evaluate``
        return [(None, True, "silence", silenced.reason)]
    clock: tuple[int, int] | None = None
    for position, rule in enumerate(contact["rules"], start=1):
        matched = _matches_object(rule, notification)
        window = rule["window"]
        if matched and window is not None:
            if clock is None:
                clock = local_clock(notification.time, contact["timezone"], contact.get("utc_offsets"))
            matched = in_window(window, clock)
        rule_id = rule["id"]
        if matched and "oncall" in rule and not on_call_matches(contact, rule["oncall"], notification):
            steps.append((rule_id, False, "oncall", f"not on call for team {rule['oncall']}"))
            continue
        if matched:
            name = f"rule {rule_id}" if rule_id is not None else f"rule #{position}"
            action = "notify" if rule["notify"] else "suppress"
            steps.append((rule_id, True, "matched", f"{name} matched: {action}"))
            return steps
        code, text = mismatch(rule, notification, contact["timezone"], clock) or ("other", "not matched")
        steps.append((rule_id, False, code, text))
    default = "notify" if contact["default_notify"] else "suppress"
    steps.append((None, True, "default", f"no rule matched; default {default}"))
    return steps
