"""The audit trail: who changed what, when, from where, with the field-level diff (issue 17).

Built on django-auditlog: one ``auditlog.LogEntry`` table for every audited model, the diff
as JSON, the actor and address as columns, and the models registered here, by label, without
changing them (so this ground-floor module imports no app). What auditlog does not know, we
add to each row as it is saved (``additional_data``):

- ``source``: ``api``, ``page``, ``admin`` (from the request path), ``task`` (a Celery task
  outside a request; ``task`` names it) or ``system`` (anything else: a management command,
  the shell, a migration);
- ``token``: the API token's name when the request authenticated with one;
- ``client``: ``ansible`` or ``puppet`` when the User-Agent is our collection's or module's.

The ordered template uses (HostUse and the like) are written with ``bulk_create``, which
sends no signal: their writer records them on the object as one ``templates`` change
(:func:`record_list_change`), which is also how a reader thinks of them.

The actor is read when the row is saved, not when the request arrives: DRF authenticates
tokens inside the view and then sets ``user`` and ``auth`` on the underlying HttpRequest too
(``rest_framework.request.Request.user``'s setter), so a token's user and the token itself
are known by then, while a middleware that looked at the start would see AnonymousUser.

Rows are append-only for the application: no API writes them, the admin shows them
read-only, and only :func:`prune` (``AUDIT_RETENTION_DAYS``) deletes them.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from auditlog.models import LogEntry
from auditlog.registry import auditlog
from celery.signals import task_postrun, task_prerun
from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import QuerySet
from django.db.models.signals import pre_save
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

# Fields no audit row may carry. The token's digest is as good as the secret to whoever can
# run a dictionary against it, and last_used_at changes on use, which is not a change.
# A user's password hash likewise, and last_login would make every login an audit row.
_TOKEN_SECRET_FIELDS = ["digest", "last_used_at"]
_USER_PRIVATE_FIELDS = ["password", "last_login"]

# What is audited: (model label, options for auditlog.register). Derived records (deployments,
# node health, cluster moves, notification decisions, the contact delegates rendered from
# hand-overs) are not changes anybody made and have their own history already.
TRACKED: tuple[tuple[str, dict[str, Any]], ...] = (
    ("registry.NaemonNode", {}),
    ("registry.TimePeriod", {"m2m_fields": {"exclude"}}),
    ("registry.Command", {}),
    ("registry.Contact", {"m2m_fields": {"host_notification_commands", "service_notification_commands"}}),
    ("registry.ContactGroup", {"m2m_fields": {"members"}}),
    ("registry.HostGroup", {"m2m_fields": {"hostgroup_members"}}),
    ("registry.ServiceGroup", {"m2m_fields": {"servicegroup_members"}}),
    ("registry.HostTemplate", {}),
    ("registry.ServiceTemplate", {}),
    # A lease is the host's expires_at: a renewal is an update of it.
    ("registry.Host", {"m2m_fields": {"hostgroups", "parents", "contacts", "contact_groups"}}),
    ("registry.Service", {"m2m_fields": {"hostgroups", "servicegroups", "contacts", "contact_groups"}}),
    ("preferences.NotificationProfile", {}),
    ("preferences.NotificationRule", {}),
    ("preferences.Silence", {}),
    ("preferences.HandOver", {}),
    ("preferences.Rotation", {}),
    ("preferences.RotationOverride", {}),
    ("livestatus.SavedView", {}),
    ("monitoring_portal.Team", {"m2m_fields": {"members"}}),
    ("monitoring_portal.APIToken", {"exclude_fields": _TOKEN_SECRET_FIELDS}),
    # Roles are memberships of the portal:* groups (monitoring_portal.roles) and is_staff.
    ("auth.User", {"exclude_fields": _USER_PRIVATE_FIELDS, "m2m_fields": {"groups"}}),
)

_CLIENTS = (("ansible", re.compile(r"ansible", re.I)), ("puppet", re.compile(r"puppet", re.I)))


@dataclass
class Origin:
    """Where the changes of the current request or task come from."""

    source: str
    request: HttpRequest | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def actor(self) -> Any:
        user = getattr(self.request, "user", None)
        return user if user is not None and user.is_authenticated else None

    def data(self) -> dict[str, str]:
        data = {"source": self.source, **self.extra}
        token = getattr(self.request, "auth", None)
        token_name = getattr(token, "name", None)
        if isinstance(token_name, str):
            data["token"] = token_name
        if self.request is not None:
            agent = self.request.headers.get("User-Agent", "")
            for client, pattern in _CLIENTS:
                if pattern.search(agent):
                    data["client"] = client
        return data


_origin: ContextVar[Origin | None] = ContextVar("audit_origin", default=None)


@contextlib.contextmanager
def origin(source: str, request: HttpRequest | None = None, **extra: str) -> Iterator[Origin]:
    """Attribute the changes made inside the block to ``source`` (and the request's user)."""
    value = Origin(source, request, dict(extra))
    token = _origin.set(value)
    try:
        yield value
    finally:
        _origin.reset(token)


def source_of(request: HttpRequest) -> str:
    if request.path.startswith("/api/"):
        return "api"
    if request.path.startswith("/admin/"):
        return "admin"
    return "page"


class AuditMiddleware:
    """Attributes the request's changes to its user, address and source (after authentication)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with origin(source_of(request), request):
            return self.get_response(request)


# Celery tasks: one context per running task. With CELERY_TASK_ALWAYS_EAGER a task runs inside
# the request that sent it: its changes stay the request's (the user asked for them).
_task_tokens: dict[str, Token[Origin | None]] = {}


def _task_started(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    if _origin.get() is not None or task_id is None:
        return
    name = getattr(task, "name", "") or ""
    _task_tokens[task_id] = _origin.set(Origin("task", None, {"task": name}))


def _task_finished(task_id: str | None = None, **kwargs: Any) -> None:
    token = _task_tokens.pop(task_id or "", None)
    if token is not None:
        _origin.reset(token)


def _complete_entry(sender: Any, instance: LogEntry, **kwargs: Any) -> None:
    """Fill who and from where into a row auditlog is about to save."""
    if instance.pk is not None:
        return  # append-only: only new rows are completed
    current = _origin.get() or Origin("system")
    actor = current.actor()
    if instance.actor_id is None and actor is not None:
        instance.actor = actor
        instance.actor_email = getattr(actor, "email", None) or None
    if current.request is not None and not instance.remote_addr:
        # REMOTE_ADDR, not X-Forwarded-For: any client can write that header. Behind a proxy
        # this is the proxy's address, which is still the truth about the connection.
        instance.remote_addr = current.request.META.get("REMOTE_ADDR") or None
    data = dict(instance.additional_data) if isinstance(instance.additional_data, dict) else {}
    data.update(current.data())
    instance.additional_data = data


def track(label: str, **options: Any) -> None:
    """Audit one more model (an app whose models load in its ready(), e.g. registry.relations)."""
    model = apps.get_model(label)
    auditlog.unregister(model)
    auditlog.register(model, **{k: (list(v) if k == "exclude_fields" else v) for k, v in options.items()})


def register() -> None:
    """Register the audited models and connect the hooks (MonitoringPortalConfig.ready)."""
    for label, options in TRACKED:
        track(label, **options)
    pre_save.connect(_complete_entry, sender=LogEntry, dispatch_uid="monitoring_portal.audit.complete")
    task_prerun.connect(_task_started, dispatch_uid="monitoring_portal.audit.task_started", weak=False)
    task_postrun.connect(_task_finished, dispatch_uid="monitoring_portal.audit.task_finished", weak=False)


def record_list_change(obj: models.Model, field_name: str, before: list[str], after: list[str]) -> None:
    """Audit a change of an ordered list that auditlog cannot see (written with bulk_create)."""
    if before != after:
        LogEntry.objects.log_create(obj, action=LogEntry.Action.UPDATE, changes={field_name: [before, after]})


def history_of(obj: models.Model) -> QuerySet[LogEntry]:
    """The audit rows of one object, newest first."""
    content_type = ContentType.objects.get_for_model(obj)
    return (
        LogEntry.objects.filter(content_type=content_type, object_pk=str(obj.pk))
        .select_related("actor", "content_type")
        .order_by("-timestamp", "-pk")
    )


def kind_of(entry: LogEntry) -> str:
    """``registry.host`` and the like: the object kind the audit page filters by."""
    return f"{entry.content_type.app_label}.{entry.content_type.model}"


def retention_days() -> int:
    return int(settings.AUDIT_RETENTION_DAYS)


def prune(now: Any = None) -> int:
    """Delete the rows older than AUDIT_RETENTION_DAYS; the number deleted."""
    cutoff = (now or timezone.now()) - timedelta(days=retention_days())
    deleted, _ = LogEntry.objects.filter(timestamp__lt=cutoff).delete()
    return deleted
