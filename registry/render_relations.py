"""Dependencies and escalations as Naemon config (``relations.cfg``): no database, no Django.

registry/render.py calls ``render_relations`` with the rows registry/relations.py loaded and the
hosts and services the node holds. A relation goes to every node that holds its dependent object
(a master holds them all; a poller, its own) and only where its master object is there too: a
definition naming an object the node does not define is an error for the core (such a
dependency is refused on write, registry/relations.py; this covers objects moved since).
Output is deterministic: blocks sorted by the objects' names, directives in a fixed order, every
name and value checked again (registry/validation.py, registry/validation_relations.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from registry import validation
from registry import validation_relations as vr
from registry.validation import NaemonValueError

Row = dict[str, Any]


@dataclass
class Relations:
    """Every dependency and escalation of the registry, as plain rows of names."""

    host_dependencies: list[Row] = field(default_factory=list)
    service_dependencies: list[Row] = field(default_factory=list)
    host_escalations: list[Row] = field(default_factory=list)
    service_escalations: list[Row] = field(default_factory=list)


class _Lines:
    """One ``define`` block; every line checked (names by Naemon's rules, numbers as numbers)."""

    def __init__(self, kind: str, what: str) -> None:
        self.what = what
        self.lines = [f"define {kind} {{"]

    def name(self, directive: str, value: Any, *, spaces: bool = False) -> None:
        if not isinstance(value, str):
            raise NaemonValueError(f"{self.what}: {directive} must be a name.")
        checked = validation.check_name(value, what=f"{self.what}: {directive}", allow_spaces=spaces)
        self.lines.append(f"    {directive} {checked}")

    def names(self, directive: str, values: Iterable[str]) -> None:
        checked = [validation.check_name(v, what=f"{self.what}: {directive}") for v in sorted(values)]
        if checked:
            self.lines.append(f"    {directive} {','.join(checked)}")

    def letters(self, directive: str, value: Any, allowed: frozenset[str]) -> None:
        if value:
            checked = vr.check_letters(value, allowed, what=f"{self.what}: {directive}")
            self.lines.append(f"    {directive} {checked}")

    def number(self, directive: str, value: Any) -> None:
        if type(value) is not int or value < 0:
            raise NaemonValueError(f"{self.what}: {directive} must be a whole number >= 0.")
        self.lines.append(f"    {directive} {value}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n}\n"


def _dependency(kind: str, row: Row, letters: frozenset[str], what: str) -> str:
    block = _Lines(kind, what)
    block.name("host_name", row["master_host"])
    if kind == "servicedependency":
        block.name("service_description", row["master_service"], spaces=True)
    block.name("dependent_host_name", row["host"])
    if kind == "servicedependency":
        block.name("dependent_service_description", row["service"], spaces=True)
    block.lines.append(f"    inherits_parent {1 if row.get('inherits_parent') else 0}")
    block.letters("execution_failure_criteria", row.get("execution_failure_criteria"), letters)
    block.letters("notification_failure_criteria", row.get("notification_failure_criteria"), letters)
    if row.get("dependency_period"):
        block.name("dependency_period", row["dependency_period"])
    return block.text()


def _escalation(kind: str, row: Row, letters: frozenset[str], what: str) -> str:
    block = _Lines(kind, what)
    block.name("host_name", row["host"])
    if kind == "serviceescalation":
        block.name("service_description", row["service"], spaces=True)
    if not row.get("contacts") and not row.get("contact_groups"):
        raise NaemonValueError(f"{what}: an escalation needs contacts or contact_groups.")
    block.names("contacts", row.get("contacts") or [])
    block.names("contact_groups", row.get("contact_groups") or [])
    problems = vr.check_notification_range(
        row.get("first_notification"), row.get("last_notification"), row.get("notification_interval")
    )
    if problems:
        raise NaemonValueError(f"{what}: {' '.join(sorted(problems.values()))}")
    for directive in ("first_notification", "last_notification", "notification_interval"):
        block.number(directive, row[directive])
    if row.get("escalation_period"):
        block.name("escalation_period", row["escalation_period"])
    block.letters("escalation_options", row.get("escalation_options"), letters)
    return block.text()


def _service(row: Row, host: str = "host", service: str = "service") -> tuple[str, str]:
    return (row.get(host) or "", row.get(service) or "")


def render_relations(relations: Relations, hosts: set[str], services: set[tuple[str, str]]) -> list[str]:
    """The blocks of the relations whose objects the node holds (``hosts``; ``services`` as (host, description))."""
    blocks: list[str] = []
    for row in sorted(relations.host_dependencies, key=lambda r: (r["host"] or "", r["master_host"] or "")):
        if row["host"] in hosts and row["master_host"] in hosts:
            what = f"host dependency {row['host']!r} on {row['master_host']!r}"
            blocks.append(_dependency("hostdependency", row, vr.HOST_FAILURE_CRITERIA, what))
    for row in sorted(
        relations.service_dependencies,
        key=lambda r: (_service(r), _service(r, "master_host", "master_service")),
    ):
        dependent, master = _service(row), _service(row, "master_host", "master_service")
        if dependent in services and master in services:
            what = f"service dependency {'/'.join(dependent)!r} on {'/'.join(master)!r}"
            blocks.append(_dependency("servicedependency", row, vr.SERVICE_FAILURE_CRITERIA, what))
    for kind, rows, letters in (
        ("hostescalation", relations.host_escalations, vr.HOST_ESCALATION_OPTIONS),
        ("serviceescalation", relations.service_escalations, vr.SERVICE_ESCALATION_OPTIONS),
    ):
        ordered = sorted(
            rows,
            key=lambda r: (
                _service(r),
                r.get("first_notification") or 0,
                r.get("last_notification") or 0,
                r.get("contacts") or [],
                r.get("contact_groups") or [],
            ),
        )
        for row in ordered:
            key = _service(row)
            held = key in services if kind == "serviceescalation" else row.get("host") in hosts
            if held:
                where = "/".join(key) if kind == "serviceescalation" else key[0]
                what = f"{kind[:-10]} escalation {where!r} from {row.get('first_notification')}"
                blocks.append(_escalation(kind, row, letters, what))
    return blocks
