"""Rules that cannot change any decision: the rule editor's warnings (page and API).

Plain Python over the engine's compiled rules, no Django (like ``preferences.engine``, which
others edit; this only reads its compiled form). Two cases, both on the safe side: a warning
means the rule really decides nothing; a rule that might still decide something is not
flagged even when it rarely does.

* **Shadowed**: an earlier enabled rule matches every notification this one matches (each of
  its criteria is "any" or covers this rule's), so this one is never reached. A
  RECOVERY/ACKNOWLEDGEMENT is decided apart (``engine.evaluate_followup``): a notify rule
  without types does not decide it, so it does not shadow a later rule that names those types.
* **Equal to the default**: the rule's action is the default's and no other enabled rule has
  the other action, so with or without it every notification gets the same answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from preferences import engine, rulebook

_FOLLOWUPS = frozenset(engine.FOLLOWUP_TYPES)


def _names_cover(outer: Any, inner: Any) -> bool:
    """Whether compiled names ``outer`` match every name ``inner`` can match (None: any)."""
    if outer is None:
        return True
    if inner is None:
        return False
    exact, globs = inner
    outer_patterns = {pattern or f"{prefix}*{suffix}" for prefix, suffix, pattern in outer[1]}
    inner_patterns = {pattern or f"{prefix}*{suffix}" for prefix, suffix, pattern in globs}
    # A glob is covered only by the same glob (or "any"): deciding glob inclusion is not worth it.
    return inner_patterns <= outer_patterns and all(engine._name_matches(outer, name) for name in exact)


def _set_covers(outer: frozenset[str] | None, inner: frozenset[str] | None) -> bool:
    return outer is None or (inner is not None and inner <= outer)


def covers(earlier: engine.CompiledRule, later: engine.CompiledRule) -> bool:
    """Whether ``earlier`` matches every notification ``later`` matches (so ``later`` never decides)."""
    if "oncall" in earlier:
        return False  # "only while I am on call": it lets the others decide the rest of the time
    if earlier["service_only"] and not later["service_only"]:
        return False  # later also matches host notifications, earlier does not
    if earlier["window"] is not None and earlier["window"] != later["window"]:
        return False
    if not all(_set_covers(earlier[k], later[k]) for k in ("states", "types", "channels")):
        return False
    if not all(
        _names_cover(earlier[k], later[k]) for k in ("hosts", "hostgroups", "services", "servicegroups")
    ):
        return False
    # A notify rule without types leaves follow-ups to the rules that name them.
    followups = later["types"] is None or not later["types"].isdisjoint(_FOLLOWUPS)
    return not (earlier["notify"] and earlier["types"] is None and later["types"] is not None and followups)


def rule_warnings(rules: Sequence[Mapping[str, Any]], default: str) -> list[list[str]]:
    """Per rule (same order), why it cannot change any decision; empty lists for useful rules.

    ``rules`` are the engine's rule dicts (validated or not: an invalid rule gets no warning,
    its errors are the serializer's business).
    """
    compiled: list[engine.CompiledRule | None] = []
    for data in rules:
        try:
            compiled.append(rulebook.compile_rule(data))
        except engine.RuleError:
            compiled.append(None)
    warnings: list[list[str]] = [[] for _ in rules]
    for index, rule in enumerate(compiled):
        if rule is None:
            continue
        for before, earlier in enumerate(compiled[:index]):
            if earlier is not None and covers(earlier, rule):
                warnings[index].append(
                    f"Never decides anything: rule {before + 1} above matches everything this rule "
                    f"matches ({'notify' if earlier['notify'] else 'suppress'})."
                )
                break
        action = "notify" if rule["notify"] else "suppress"
        others = [r for i, r in enumerate(compiled) if r is not None and i != index]
        if action == default and all(r["notify"] == rule["notify"] for r in others):
            warnings[index].append(
                f"Changes nothing: your default is {default} too, and no other rule says otherwise."
            )
    return warnings
