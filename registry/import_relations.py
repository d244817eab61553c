"""The importer's part for dependencies and escalations (registry/importer.py calls ``import_relations``).

Each definition is resolved through its templates (``use``) and expanded as Naemon does for
comma lists: ``host_name a,b`` with ``dependent_host_name c`` is two dependencies; a service
dependency without ``dependent_host_name`` is on the master's host. Objects are matched on
re-import (a dependency by its two objects, an escalation by its object and notification
range), so importing twice changes nothing. What the registry cannot hold is listed with file
and line (``--strict`` refuses it): host groups (``hostgroup_name``, ``dependent_hostgroup_name``)
and wildcards, since the registry addresses these by host; a dependency or escalation whose
objects were not imported is skipped with the reason.
"""

from __future__ import annotations

from typing import Any, Protocol

from registry import models as m
from registry.config_parse import Definition, Resolver, split_list
from registry.relations import HostDependency, HostEscalation, ServiceDependency, ServiceEscalation

RELATION_KINDS = frozenset({"hostdependency", "servicedependency", "hostescalation", "serviceescalation"})

_DEPENDENCY_KEYS = {"inherits_parent", "execution_failure_criteria", "notification_failure_criteria"}
_ESCALATION_KEYS = {"first_notification", "last_notification", "notification_interval", "escalation_options"}
_SUPPORTED = {
    "hostdependency": {"host_name", "dependent_host_name", "dependency_period", *_DEPENDENCY_KEYS},
    "servicedependency": {
        "host_name",
        "service_description",
        "dependent_host_name",
        "dependent_service_description",
        "dependency_period",
        *_DEPENDENCY_KEYS,
    },
    "hostescalation": {"host_name", "contacts", "contact_groups", "escalation_period", *_ESCALATION_KEYS},
    "serviceescalation": {
        "host_name",
        "service_description",
        "contacts",
        "contact_groups",
        "escalation_period",
        *_ESCALATION_KEYS,
    },
}
_GROUP_KEYS = (
    "hostgroup_name",
    "dependent_hostgroup_name",
    "servicegroup_name",
    "dependent_servicegroup_name",
)


_PLURAL = {
    "hostdependency": "host dependencies",
    "servicedependency": "service dependencies",
    "hostescalation": "host escalations",
    "serviceescalation": "service escalations",
}


class _Importer(Protocol):
    """What this module uses of registry.importer.Importer (which imports this module)."""

    report: Any
    resolvers: dict[str, Resolver]

    def objects(self, kind: str) -> list[Definition]: ...
    def skip(self, what: str, definition: Definition, why: str) -> None: ...
    def drop(self, what: str, d: Definition, key: str = "") -> None: ...
    def drop_unsupported(self, kind: str, d: Definition, directives: Any, supported: set[str]) -> None: ...
    def lookup(self, model: Any, names: Any, what: str, definition: Definition) -> list[Any]: ...


class _Skip(Exception):
    """This definition (or one object of its expansion) cannot be imported; the message says why."""


def import_relations(importer: _Importer) -> None:
    """Import every dependency and escalation definition (after hosts and services)."""
    for kind in sorted(RELATION_KINDS):
        resolver = importer.resolvers.get(kind) or Resolver([])
        for d in importer.objects(kind):
            importer.drop_unsupported(kind, d, d.directives, _SUPPORTED[kind] | set(_GROUP_KEYS))
            values = {key: resolver.value(d, key) for key in _SUPPORTED[kind] | set(_GROUP_KEYS)}
            groups = [key for key in _GROUP_KEYS if values.get(key)]
            if groups:
                importer.drop(
                    f"{kind} {', '.join(groups)} (the registry names hosts, not groups)", d, groups[0]
                )
                continue
            try:
                targets = _expand(kind, values)
            except _Skip as exc:
                importer.skip(kind, d, str(exc))
                continue
            for target in targets:
                try:
                    _save(importer, kind, d, values, target)
                except _Skip as exc:
                    importer.skip(f"{kind} {' '.join(target)}", d, str(exc))


def _names(value: str | None) -> list[str]:
    names = split_list(value or "")
    if any(n == "*" or n.startswith("!") for n in names):
        raise _Skip("wildcards and exclusions are not supported")
    return names


def _expand(kind: str, values: dict[str, str | None]) -> list[tuple[str, ...]]:
    """Naemon's comma lists as one tuple of names per registry object."""
    hosts = _names(values.get("host_name"))
    if not hosts:
        raise _Skip("no host_name")
    if kind == "hostescalation":
        return [(h,) for h in hosts]
    if kind == "serviceescalation":
        return [(h, s) for h in hosts for s in _names(values.get("service_description"))]
    dependents = _names(values.get("dependent_host_name")) or (hosts if kind == "servicedependency" else [])
    if not dependents:
        raise _Skip("no dependent_host_name")
    if kind == "hostdependency":
        return [(h, dh) for h in hosts for dh in dependents]
    services = _names(values.get("service_description"))
    dependent_services = _names(values.get("dependent_service_description"))
    return [(h, s, dh, ds) for h in hosts for s in services for dh in dependents for ds in dependent_services]


def _host(name: str) -> m.Host:
    host = m.Host.objects.filter(name=name).first()
    if host is None:
        raise _Skip(f"host {name!r} was not imported")
    return host


def _service(host: str, description: str) -> m.Service:
    service = m.Service.objects.filter(host__name=host, description=description).first()
    if service is None:
        raise _Skip(f"service {host}/{description} was not imported (or is on host groups)")
    return service


def _period(name: str | None) -> m.TimePeriod | None:
    if not name:
        return None
    period = m.TimePeriod.objects.filter(name=name).first()
    if period is None:
        raise _Skip(f"time period {name!r} is not defined")
    return period


def _number(values: dict[str, str | None], key: str, default: int) -> int:
    raw = values.get(key)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise _Skip(f"{key} {raw!r} is not a whole number") from None


def _save(
    importer: _Importer, kind: str, d: Definition, values: dict[str, str | None], target: tuple[str, ...]
) -> None:
    obj: Any
    if kind == "hostdependency":
        master, dependent = _host(target[0]), _host(target[1])
        obj = HostDependency.objects.filter(host=dependent, master_host=master).first()
        obj = obj or HostDependency(host=dependent, master_host=master)
    elif kind == "servicedependency":
        master_s, dependent_s = _service(target[0], target[1]), _service(target[2], target[3])
        obj = ServiceDependency.objects.filter(service=dependent_s, master_service=master_s).first()
        obj = obj or ServiceDependency(service=dependent_s, master_service=master_s)
    else:
        model: Any = HostEscalation if kind == "hostescalation" else ServiceEscalation
        where: dict[str, Any] = (
            {"host": _host(target[0])} if kind == "hostescalation" else {"service": _service(*target)}
        )
        # Naemon's default last_notification is -2 (unset, refused); 0 is "no last".
        first, last = _number(values, "first_notification", 0), _number(values, "last_notification", 0)
        obj = model.objects.filter(**where, first_notification=first, last_notification=last).first()
        obj = obj or model(**where, first_notification=first, last_notification=last)
    if kind.endswith("dependency"):
        obj.inherits_parent = (values.get("inherits_parent") or "0").strip() not in ("0", "")
        for key in ("execution_failure_criteria", "notification_failure_criteria"):
            setattr(obj, key, (values.get(key) or "").replace(" ", ""))
        obj.dependency_period = _period(values.get("dependency_period"))
    else:
        obj.notification_interval = _number(values, "notification_interval", 0)
        obj.escalation_options = (values.get("escalation_options") or "").replace(" ", "")
        obj.escalation_period = _period(values.get("escalation_period"))
    errors = obj.naemon_errors()
    if errors:
        raise _Skip("; ".join(f"{field}: {' '.join(messages)}" for field, messages in sorted(errors.items())))
    contacts = groups = None
    if not kind.endswith("dependency"):
        contacts = importer.lookup(m.Contact, _names(values.get("contacts")), "contacts", d)
        groups = importer.lookup(m.ContactGroup, _names(values.get("contact_groups")), "contact groups", d)
        if not contacts and not groups:
            raise _Skip("no contacts or contact_groups (that were imported)")
    created = obj.pk is None
    obj.save()
    if contacts is not None and groups is not None:
        obj.contacts.set(contacts)
        obj.contact_groups.set(groups)
    importer.report.count(_PLURAL[kind], created)
