"""Naemon's rules for dependencies and escalations, checked at write time and again at render time.

Django-free, like registry/validation.py (whose helpers it uses): the models' ``naemon_errors()``
and the renderer (registry/render_relations.py) apply the same rules, so what the API accepts
is what ``nagios4 -v`` accepts. The letters are Naemon's (``xodtemplate.c``): a dependency's
failure criteria are o,d,u,p,n on hosts and o,w,u,c,p,n on services (``n``: never, alone); an
escalation's options are d,u,r on hosts and w,u,c,r on services.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import TypeVar

from registry.validation import NaemonValueError, check_options

HOST_FAILURE_CRITERIA = frozenset("odupn")
SERVICE_FAILURE_CRITERIA = frozenset("owucpn")
HOST_ESCALATION_OPTIONS = frozenset("dur")
SERVICE_ESCALATION_OPTIONS = frozenset("wucr")

K = TypeVar("K", bound=Hashable)


def check_letters(value: object, allowed: frozenset[str], *, what: str) -> str:
    """Comma-separated option letters of ``allowed``, each once; ``n`` (none) stands alone."""
    if not isinstance(value, str):
        raise NaemonValueError(f"{what} must be text such as {','.join(sorted(allowed))}.")
    checked = check_options(value, allowed, what=what)
    letters = checked.split(",") if checked else []
    if len(set(letters)) != len(letters):
        raise NaemonValueError(f"{what}: an option is listed twice.")
    if "n" in letters and len(letters) > 1:
        raise NaemonValueError(f"{what}: n (none) cannot be combined with other options.")
    return checked


def check_notification_range(first: object, last: object, interval: object) -> dict[str, str]:
    """Field -> message for an escalation's notification numbers (empty: all fine).

    ``first_notification`` >= 1; ``last_notification`` 0 (no end) or >= first;
    ``notification_interval`` >= 0 (0: notify once, at the first escalated notification).
    """
    errors: dict[str, str] = {}
    if type(first) is not int or first < 1:
        errors["first_notification"] = "first_notification must be a whole number >= 1."
    if type(last) is not int or last < 0:
        errors["last_notification"] = "last_notification must be a whole number >= 0 (0: no last)."
    elif type(first) is int and last != 0 and last < first:
        errors["last_notification"] = (
            f"last_notification ({last}) is before first_notification ({first}); use 0 for no last."
        )
    if type(interval) is not int or interval < 0:
        errors["notification_interval"] = "notification_interval must be a whole number >= 0."
    return errors


def find_cycle(edges: Iterable[tuple[K, K]]) -> list[K] | None:
    """A cycle in ``dependent -> master`` edges, as the path that closes it, or None.

    Naemon refuses circular dependencies (its pre-flight check); the portal refuses them on
    write, over execution and notification dependencies alike (stricter than the core, never looser).
    """
    graph: dict[K, list[K]] = {}
    for dependent, master in edges:
        graph.setdefault(dependent, []).append(master)
    done: set[K] = set()
    for start in sorted(graph, key=repr):
        if start in done:
            continue
        # Iterative depth-first search: a long chain must not exhaust Python's recursion limit.
        path: list[K] = [start]
        on_path = {start}
        stack = [iter(graph.get(start, ()))]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                stack.pop()
                finished = path.pop()
                on_path.discard(finished)
                done.add(finished)
                continue
            if nxt in on_path:
                return [*path[path.index(nxt) :], nxt]
            if nxt in done:
                continue
            path.append(nxt)
            on_path.add(nxt)
            stack.append(iter(graph.get(nxt, ())))
    return None
