"""Writes to the registry: the one path the API, the pages and the bulk endpoint all take.

``apply_write`` (create or change one object), ``apply_delete`` and ``bulk_upsert_hosts``
(many hosts, all or nothing) each run one transaction and request the deployments the change
needs; ``write_one`` is the step they share. The input is a validated serializer (the
registry's validation layer, shared with the forms); the answer is a ``WriteResult``. A
refusal is a domain error: ``Conflict`` (a concurrent write, an object still in use) or
Django's ``PermissionDenied`` (not the caller's to write); the views translate them to HTTP
(409, 403) or to a form error. Nothing here knows HTTP.

Write semantics, the same for every caller:

- PUT replaces: a field missing from the body gets its default (a host's ``services`` are
  the exception: absent means "leave the services alone"; given, even ``[]``, the host's
  services become exactly that list). PATCH changes only what the body names.
- One transaction. The representation before and after is compared: no difference means
  nothing is stored (the write is rolled back) and no deployment is requested; a difference
  only in the lease (``expires_at``) is stored without a deployment; any other difference
  requests deployments for the affected nodes (before and after the change).
- A re-send of what is stored (``unchanged_resend``; in bulk, per host) is recognised on the raw
  body before validation, locks or a transaction, and answered from the read: the cost of an
  idempotent run of Ansible or Puppet is a read per object (bulk: one read for the batch).
- The caller must own the object before (checked by the view) and after the write
  (checked here), and may add only memberships (groups, contacts) that they may add (checked
  here, on the stored result, so every path that writes through here is covered):
  otherwise everything is rolled back and the answer is 403.
- Bulk: each item is a PUT of one host (``write_one``); if any item is invalid or refused,
  nothing is stored and every item's status says why; otherwise one deployment per affected
  node is requested for the whole batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, QuerySet

from registry import tasks
from registry.models import (
    Command,
    Contact,
    Deployment,
    Host,
    HostGroup,
    NaemonNode,
    Service,
)
from registry.permissions import (
    check_change,
    check_memberships_joined,
    check_owner_after_write,
    checks_memberships,
    memberships,
)
from registry.serializers.base import (
    NaemonModelSerializer,
    body_matches,
    config_state,
    plain,
    stored_state,
)
from registry.serializers.hosts import HostSerializer


class Conflict(Exception):
    """A write that cannot be applied as asked: a concurrent write got there first, or the object is in use."""


@dataclass
class WriteResult:
    """What a write did: the object after it, whether it stored or deployed anything."""

    instance: Any
    data: Any  # the representation after the write (plain JSON types)
    created: bool = False
    deleted: bool = False
    stored: bool = False
    config_changed: bool = False
    nodes: set[NaemonNode] = field(default_factory=set)
    deployments: list[Deployment] = field(default_factory=list)


def _lock(model: Any, pk: Any) -> None:
    """Lock one row until the transaction ends (no ordering: its joins would block FOR UPDATE)."""
    list(model._default_manager.select_for_update().filter(pk=pk).order_by().values_list("pk"))


class _Unchanged(Exception):
    """Raised to roll back a write that changed nothing."""


Precondition = Callable[[Any], None]


def write_one(
    serializer: NaemonModelSerializer,
    *,
    queryset: QuerySet[Any],
    user: Any,
    precondition: Precondition | None = None,
    save_kwargs: dict[str, Any] | None = None,
    need_data: bool = True,
) -> WriteResult:
    """Save a validated serializer inside the caller's transaction; request no deployment.

    ``need_data=False`` (bulk): a create is not serialized back, which saves most queries.
    """
    cls = type(serializer)
    before_obj = before_data = None
    if serializer.instance is not None:
        pk = serializer.instance.pk
        # Lock the row so that concurrent writes to one object are applied one after the other.
        _lock(queryset.model, pk)
        before_obj = queryset.get(pk=pk)
        # The bound serializer's own fields: building a second set per representation costs ms.
        before_data = serializer.represent(before_obj)
    if precondition is not None:
        precondition(before_data)
    nodes = cls.affected_nodes(before_obj) if before_obj is not None else set()
    # Staff may join anything: their writes (the bulk of bulk imports) skip these queries.
    joined_before = memberships(before_obj) if checks_memberships(user) else set()
    try:
        with transaction.atomic():
            obj = serializer.save(**(save_kwargs or {}))
            check_memberships_joined(user, joined_before, obj)
            if before_data is None and not need_data:
                check_owner_after_write(user, obj)
                return WriteResult(
                    instance=obj,
                    data=None,
                    created=True,
                    stored=True,
                    config_changed=True,
                    nodes=cls.affected_nodes(obj),
                )
            after_obj = serializer.read_back(queryset, obj)
            check_owner_after_write(user, after_obj)
            after_data = serializer.represent(after_obj)
            if before_data is not None and stored_state(before_data) == stored_state(after_data):
                raise _Unchanged
    except _Unchanged:
        return WriteResult(instance=before_obj, data=before_data)
    except IntegrityError as exc:
        raise Conflict(f"A concurrent write got there first; retry. ({exc})") from None
    changed = before_data is None or config_state(before_data) != config_state(after_data)
    if changed:
        nodes |= cls.affected_nodes(after_obj)
    return WriteResult(
        instance=after_obj,
        data=after_data,
        created=before_data is None,
        stored=True,
        config_changed=changed,
        nodes=nodes if changed else set(),
    )


def unchanged_resend(
    serializer: NaemonModelSerializer,
    body: dict[str, Any],
    *,
    partial: bool,
    precondition: Precondition | None = None,
) -> WriteResult | None:
    """The answer to a re-send of what is stored (nothing stored, nothing deployed), or None: write it.

    Checked on the raw body before validation and before any lock, so that an idempotent re-send
    (Ansible, Puppet: every run PUTs every host) costs the read of the object and nothing else:
    no validation queries, no row lock, no transaction, no audit row, no deployment. Anything
    ``body_matches`` is unsure of takes the full write path, which compares again after saving.
    """
    instance = serializer.instance
    if instance is None:
        return None
    # The bound serializer's own fields represent the instance: building a second set costs more
    # than this whole answer's queries.
    before_data = serializer.represent(instance)
    if not body_matches(serializer, body, before_data, partial=partial):
        return None
    if precondition is not None:
        precondition(before_data)
    return WriteResult(instance=instance, data=before_data)


def apply_write(
    serializer: NaemonModelSerializer,
    *,
    queryset: QuerySet[Any],
    user: Any,
    triggered_by: str,
    reason: str,
    precondition: Precondition | None = None,
    save_kwargs: dict[str, Any] | None = None,
) -> WriteResult:
    """Create or change one object in one transaction; deploy the affected nodes if config changed."""
    with transaction.atomic():
        result = write_one(
            serializer, queryset=queryset, user=user, precondition=precondition, save_kwargs=save_kwargs
        )
        if result.config_changed and result.nodes:
            result.deployments = tasks.request_deployments(
                result.nodes, triggered_by=triggered_by, reason=reason
            )
    return result


def apply_delete(
    instance: Any,
    *,
    serializer_class: type[NaemonModelSerializer],
    queryset: QuerySet[Any],
    context: dict[str, Any],
    triggered_by: str,
    reason: str,
    precondition: Precondition | None = None,
) -> WriteResult:
    """Delete one object in one transaction and deploy the nodes that had it."""
    with transaction.atomic():
        _lock(queryset.model, instance.pk)
        before_obj = queryset.get(pk=instance.pk)
        before_data = plain(serializer_class(before_obj, context=context).data)
        if precondition is not None:
            precondition(before_data)
        nodes = serializer_class.nodes_after_delete(before_obj)
        _check_deletable(before_obj)
        try:
            with transaction.atomic():
                before_obj.delete()
        except ProtectedError as exc:
            users = sorted({str(o) for o in exc.protected_objects})
            shown = ", ".join(users[:10]) + (f" and {len(users) - 10} more" if len(users) > 10 else "")
            raise Conflict(f"{before_obj} is still used by: {shown}.") from None
        result = WriteResult(
            instance=None, data=None, deleted=True, stored=True, config_changed=True, nodes=nodes
        )
        if nodes:
            result.deployments = tasks.request_deployments(nodes, triggered_by=triggered_by, reason=reason)
    return result


def _check_deletable(obj: Any) -> None:
    if isinstance(obj, HostGroup):
        orphans = Service.objects.filter(host__isnull=True, hostgroups=obj).exclude(
            hostgroups__in=HostGroup.objects.exclude(pk=obj.pk)
        )
        names = sorted(set(orphans.values_list("description", flat=True)))
        if names:
            raise Conflict(
                f"Host group {obj.name} is the only group of its services {', '.join(names)}; delete them first."
            )
    if isinstance(obj, Command):
        # Deleting a command silently drops it from contacts: one left without any is refused by Naemon.
        stranded: set[str] = set()
        for key in ("host_notification_commands", "service_notification_commands"):
            users = Contact.objects.filter(**{key: obj})
            stranded.update(
                users.exclude(**{f"{key}__in": Command.objects.exclude(pk=obj.pk)}).values_list(
                    "name", flat=True
                )
            )
        if stranded:
            raise Conflict(
                f"Command {obj.name} is the only notification command of contact(s) {', '.join(sorted(stranded))}; "
                "give them another one first."
            )
    if isinstance(obj, NaemonNode) and obj.hostgroups.exists():
        groups = ", ".join(obj.hostgroups.values_list("name", flat=True))
        raise Conflict(f"Node {obj.name} still monitors host groups {groups}; move them first.")


#: A bulk item's status when it, or the batch, stored nothing because of a refusal.
BULK_REFUSED = ("invalid", "forbidden")


@dataclass
class BulkResult:
    """What a bulk upsert did: one status per item and the batch's deployments (none if refused)."""

    results: list[dict[str, Any]]
    deployments: list[Deployment] = field(default_factory=list)

    @property
    def refused(self) -> list[dict[str, Any]]:
        """The items that made the batch store nothing."""
        return [r for r in self.results if r["status"] in BULK_REFUSED]


def bulk_upsert_hosts(
    items: list[Any], *, user: Any, context: dict[str, Any], triggered_by: str
) -> BulkResult:
    """Create or replace many hosts (each a PUT of one host) in one transaction: all or nothing."""
    queryset = HostSerializer.read_queryset()
    nodes: set[NaemonNode] = set()
    seen: set[str] = set()
    result = BulkResult(results=[])
    # One set-based read of every named host and its representation: a re-send of an unchanged
    # host is then answered from these, with no query of its own.
    names = [item.get("name") for item in items if isinstance(item, dict)]
    stored = {host.name: host for host in queryset.filter(name__in=[n for n in names if isinstance(n, str)])}
    hosts = list(stored.values())
    before = dict(zip(stored, plain(HostSerializer(hosts, many=True, context=context).data), strict=True))
    # Building a serializer's fields costs milliseconds (DRF deep-copies them): one set for the
    # comparisons of the whole batch, not one per host.
    prototype = HostSerializer(context=context)
    with transaction.atomic():
        for item in items:
            result.results.append(
                _bulk_item(item, stored, before, prototype, queryset, user, context, seen, nodes)
            )
        if result.refused:
            transaction.set_rollback(True)
        elif nodes:
            result.deployments = tasks.request_deployments(
                nodes, triggered_by=triggered_by, reason=f"bulk upsert of {len(items)} hosts"
            )
    if result.refused:
        for r in result.results:
            if r["status"] in ("created", "updated", "renewed", "unchanged"):
                r["status"] = "valid"
    return result


def _bulk_item(
    item: Any,
    stored: dict[str, Host],
    before: dict[str, Any],
    prototype: HostSerializer,
    queryset: QuerySet[Host],
    user: Any,
    context: dict[str, Any],
    seen: set[str],
    nodes: set[NaemonNode],
) -> dict[str, Any]:
    name = item.get("name") if isinstance(item, dict) else None
    if not isinstance(name, str) or not name:
        return {"name": None, "status": "invalid", "errors": {"name": ["Each host needs a name."]}}
    if name in seen:
        return {"name": name, "status": "invalid", "errors": {"name": ["Listed twice in this request."]}}
    seen.add(name)
    try:
        instance = stored.get(name)
        if instance is not None:
            check_change(user, instance)
            if body_matches(prototype, item, before[name], partial=False):
                return {"name": name, "status": "unchanged"}
        serializer = HostSerializer(instance, data=item, context=context)
        if not serializer.is_valid():
            return {"name": name, "status": "invalid", "errors": serializer.errors}
        result = write_one(serializer, queryset=queryset, user=user, need_data=False)
    except PermissionDenied as exc:
        return {"name": name, "status": "forbidden", "errors": {"detail": [str(exc)]}}
    except Conflict as exc:
        return {"name": name, "status": "invalid", "errors": {"detail": [str(exc)]}}
    nodes |= result.nodes
    if result.created:
        state = "created"
    elif result.config_changed:
        state = "updated"
    else:
        state = "renewed" if result.stored else "unchanged"
    return {"name": name, "status": state}
