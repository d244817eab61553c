"""What Naemon refuses an object without, set on it or inherited through its templates.

``missing_directives`` (a host or service about to be written) and ``left_without_directives``
(a template change that would leave the objects using it without one) answer the API and the
importer with the core's own rule (checked with ``nagios4 -v``) before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Q

from registry.models import (
    Host,
    HostTemplate,
    HostTemplateUse,
    HostUse,
    Service,
    ServiceTemplate,
    ServiceTemplateUse,
    ServiceUse,
)

# --- directives Naemon requires ----------------------------------------------------------

# What the core refuses an object without (checked with ``nagios4 -v``: errors, not warnings),
# set on the object or inherited through its templates. Field names; check_command by its id.
REQUIRED_DIRECTIVES: dict[str, tuple[str, ...]] = {
    "host": ("max_check_attempts",),
    "service": ("check_command_id", "max_check_attempts"),
}


def _directive(field: str) -> str:
    return field.removesuffix("_id")


class TemplateChains:
    """The stored templates of one kind and whom they use: what an object inherits through ``use``.

    Only whether a directive is set somewhere in the chain matters here (the registry cannot
    express Naemon's ``null``), so the order of the chain does not.
    """

    def __init__(self, kind: str) -> None:
        model: type[HostTemplate | ServiceTemplate] = HostTemplate if kind == "host" else ServiceTemplate
        through: type[HostTemplateUse | ServiceTemplateUse] = (
            HostTemplateUse if kind == "host" else ServiceTemplateUse
        )
        self.fields = REQUIRED_DIRECTIVES[kind]
        self.values: dict[int, dict[str, Any]] = {}
        for row in model._default_manager.values("pk", *self.fields):
            self.values[row.pop("pk")] = row
        self.uses: dict[int, list[int]] = {}
        for template_id, uses_id in through._default_manager.values_list("template_id", "uses_id"):
            self.uses.setdefault(template_id, []).append(uses_id)

    def replace(self, template: Any, uses: Iterable[Any]) -> None:
        """Resolve as if ``template`` (being written) had its current attributes and used ``uses``."""
        self.values[template.pk] = {f: getattr(template, f) for f in self.fields}
        self.uses[template.pk] = [t.pk for t in uses]

    def closure(self, template_ids: Iterable[int]) -> set[int]:
        """These templates and every template they use, directly or not."""
        seen: set[int] = set()
        todo = list(template_ids)
        while todo:
            pk = todo.pop()
            if pk not in seen and pk in self.values:
                seen.add(pk)
                todo.extend(self.uses.get(pk, ()))
        return seen

    def users(self, template_id: int) -> set[int]:
        """The templates whose chain contains ``template_id`` (itself included)."""
        found = {template_id}
        changed = True
        while changed:
            changed = False
            for pk, uses in self.uses.items():
                if pk not in found and found.intersection(uses):
                    found.add(pk)
                    changed = True
        return found

    def missing(self, own: dict[str, Any], template_ids: Iterable[int]) -> list[str]:
        """The required directives neither the object (``own``: field -> value) nor its chain sets."""
        unset = [f for f in self.fields if own.get(f) is None]
        for pk in self.closure(template_ids) if unset else ():
            unset = [f for f in unset if self.values[pk].get(f) is None]
            if not unset:
                break
        return [_directive(f) for f in unset]


def missing_directives(
    obj: Host | Service, templates: Iterable[Any], chains: dict[str, TemplateChains] | None = None
) -> list[str]:
    """Directives Naemon requires that ``obj`` would have neither itself nor through ``templates``.

    ``chains``: a cache of the loaded templates by kind, for many objects checked at once.
    """
    kind = "host" if isinstance(obj, Host) else "service"
    own = {f: getattr(obj, f) for f in REQUIRED_DIRECTIVES[kind]}
    if all(v is not None for v in own.values()):
        return []
    if chains is None:
        chains = {}
    if kind not in chains:
        chains[kind] = TemplateChains(kind)
    return chains[kind].missing(own, [t.pk for t in templates])


def left_without_directives(
    template: HostTemplate | ServiceTemplate, uses: Iterable[Any]
) -> dict[str, list[str]]:
    """Directive -> the hosts/services that would lack it if ``template`` were written as it is now.

    ``template`` carries its new values and ``uses`` its new templates; objects that set every
    required directive themselves are not affected and not looked at.
    """
    if template.pk is None:
        return {}  # nothing uses a new template yet
    kind = "host" if isinstance(template, HostTemplate) else "service"
    chains = TemplateChains(kind)
    chains.replace(template, uses)
    users = chains.users(template.pk)
    fields = REQUIRED_DIRECTIVES[kind]
    unset = Q()
    for f in fields:
        unset |= Q(**{f"{f}__isnull": True})
    model: Any = Host if kind == "host" else Service
    through: Any = HostUse if kind == "host" else ServiceUse
    owner = "host" if kind == "host" else "service"
    objects = model._default_manager.filter(
        unset, pk__in=through._default_manager.filter(template_id__in=users).values(f"{owner}_id")
    )
    rows = {row.pop("pk"): row for row in objects.values("pk", *fields)}
    uses_of: dict[int, list[int]] = {}
    for obj_id, template_id in through._default_manager.filter(**{f"{owner}_id__in": list(rows)}).values_list(
        f"{owner}_id", "template_id"
    ):
        uses_of.setdefault(obj_id, []).append(template_id)
    broken: dict[str, list[int]] = {}
    cache: dict[tuple[Any, ...], list[str]] = {}
    for pk, own in rows.items():
        key = (tuple(own[f] is None for f in fields), frozenset(uses_of.get(pk, ())))
        if key not in cache:
            cache[key] = chains.missing(own, uses_of.get(pk, ()))
        for directive in cache[key]:
            broken.setdefault(directive, []).append(pk)
    result: dict[str, list[str]] = {}
    for directive, pks in broken.items():
        shown = model._default_manager.filter(pk__in=sorted(pks)[:5]).select_related(
            *(["host"] if kind == "service" else [])
        )
        names = sorted(str(o) for o in shown)
        if len(pks) > 5:
            names.append(f"{len(pks) - 5} more")
        result[directive] = names
    return result
