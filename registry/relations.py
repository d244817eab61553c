"""Dependencies and escalations: Naemon's relations between hosts and services, and their loader.

A dependency says "do not check / notify for the dependent while its master fails"; an
escalation adds contacts to an object's notifications from its Nth notification on. Both
belong to their *dependent* object (the escalated host or service): they render wherever that
object does (registry/render_relations.py) and its owners may write them (registry/permissions.py).

A dependency on a poller's object whose master that poller does not hold cannot be expressed
in the poller's config (the core refuses a dependency on an unknown object): it is refused on
write (``dependency_errors``), and a later move of either object is rendered only where both
objects are (so a deploy never breaks; the dependency is then missing on that poller).

Services are addressed by host and description: a service defined on host groups has no single
Naemon name, so dependencies and escalations take services on one host only (refused otherwise).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from registry import validation_relations as vr
from registry.models import Contact, ContactGroup, Host, Service, TimePeriod
from registry.render_relations import Relations, Row
from registry.validation import NaemonValueError

__all__ = ["HostDependency", "HostEscalation", "ServiceDependency", "ServiceEscalation"]


def _letters(errors: dict[str, list[str]], field: str, value: str, allowed: frozenset[str]) -> None:
    if value:
        try:
            vr.check_letters(value, allowed, what=field)
        except NaemonValueError as exc:
            errors.setdefault(field, []).append(str(exc))


def _on_a_host(errors: dict[str, list[str]], field: str, service: Service | None) -> None:
    if service is not None and service.host_id is None:
        errors.setdefault(field, []).append(
            f"{service} is defined on host groups; name a service on one host (Naemon addresses "
            "dependencies and escalations by host and description)."
        )


class Relation(models.Model):
    """What dependencies and escalations share: their timestamps and their checks."""

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    #: The field naming the dependent (escalated) object: ownership and placement follow it.
    dependent_field = "host"

    class Meta:
        abstract = True

    def dependent(self) -> Host | Service | None:
        """The object this relation belongs to (None while unset)."""
        value: Any = getattr(self, self.dependent_field, None) if self._dependent_id() else None
        return value

    def _dependent_id(self) -> int | None:
        value: int | None = getattr(self, f"{self.dependent_field}_id")
        return value

    def naemon_errors(self) -> dict[str, list[str]]:
        """Field -> messages for anything Naemon would refuse."""
        return {}

    def clean(self) -> None:
        errors = self.naemon_errors()
        if errors:
            raise ValidationError(errors)


class Dependency(Relation):
    """Naemon's host/service dependency directives."""

    inherits_parent = models.BooleanField(
        default=False, help_text="Also depend on what the master depends on (Naemon's inherits_parent)."
    )
    execution_failure_criteria = models.CharField(
        max_length=20, blank=True, help_text="Master states in which the dependent is not checked."
    )
    notification_failure_criteria = models.CharField(
        max_length=20, blank=True, help_text="Master states in which the dependent does not notify."
    )
    dependency_period = models.ForeignKey(
        TimePeriod, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    criteria_letters = vr.HOST_FAILURE_CRITERIA
    master_field = "master_host"

    class Meta:
        abstract = True

    def naemon_errors(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        for field in ("execution_failure_criteria", "notification_failure_criteria"):
            _letters(errors, field, getattr(self, field), self.criteria_letters)
        master_id = getattr(self, f"{self.master_field}_id")
        if master_id is not None and master_id == self._dependent_id():
            errors.setdefault(self.master_field, []).append("An object cannot depend on itself.")
        return errors

    def placement_errors(self, master: Host | None, dependent: Host | None) -> dict[str, list[str]]:
        """Refused when the dependent's poller does not hold the master (see the module's docstring)."""
        if master is None or dependent is None:
            return {}
        poller = dependent.poller()
        if poller is not None and master.poller() != poller:
            return {
                self.master_field: [
                    f"{dependent} is checked by poller {poller}, which does not monitor {master}: its "
                    "core could not apply this dependency. Choose a master on the same poller."
                ]
            }
        return {}


class HostDependency(Dependency):
    """``define hostdependency``: ``host`` depends on ``master_host``."""

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="dependencies")
    master_host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="dependents")

    class Meta:
        ordering = ["host__name", "master_host__name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["host", "master_host"], name="unique_host_dependency"),
        ]

    def __str__(self) -> str:
        return f"{self.host} depends on {self.master_host}"

    def naemon_errors(self) -> dict[str, list[str]]:
        errors = super().naemon_errors()
        if self.host_id and self.master_host_id and not errors:
            errors |= self.placement_errors(self.master_host, self.host)
            edges = HostDependency.objects.exclude(pk=self.pk).values_list("host_id", "master_host_id")
            errors |= _cycle(
                [*edges, (self.host_id, self.master_host_id)], Host, "master_host", "host dependencies"
            )
        return errors


class ServiceDependency(Dependency):
    """``define servicedependency``: ``service`` depends on ``master_service``."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="dependencies")
    master_service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="dependents")

    criteria_letters = vr.SERVICE_FAILURE_CRITERIA
    dependent_field = "service"
    master_field = "master_service"

    class Meta:
        ordering = ["service__host__name", "service__description", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["service", "master_service"], name="unique_service_dependency"),
        ]

    def __str__(self) -> str:
        return f"{self.service} depends on {self.master_service}"

    def naemon_errors(self) -> dict[str, list[str]]:
        errors = super().naemon_errors()
        master = self.master_service if self.master_service_id else None
        service = self.service if self.service_id else None
        _on_a_host(errors, "service", service)
        _on_a_host(errors, "master_service", master)
        if master is not None and service is not None and not errors:
            errors |= self.placement_errors(master.host, service.host)
            edges = ServiceDependency.objects.exclude(pk=self.pk).values_list(
                "service_id", "master_service_id"
            )
            errors |= _cycle(
                [*edges, (self.service_id, self.master_service_id)],
                Service,
                "master_service",
                "service dependencies",
            )
        return errors


def _cycle(edges: list[tuple[int, int]], model: Any, field: str, what: str) -> dict[str, list[str]]:
    cycle = vr.find_cycle(edges)
    if cycle is None:
        return {}
    names = {obj.pk: str(obj) for obj in model.objects.filter(pk__in=set(cycle))}
    path = " -> ".join(names.get(pk, str(pk)) for pk in cycle)
    return {field: [f"These {what} would form a circle, which Naemon refuses: {path}."]}


class Escalation(Relation):
    """Naemon's escalation directives: from ``first_notification`` on, also notify these contacts."""

    first_notification = models.PositiveIntegerField(
        help_text="The notification number (1: the first) from which the escalation applies."
    )
    last_notification = models.PositiveIntegerField(
        default=0, help_text="The last notification number it applies to; 0: no last."
    )
    notification_interval = models.PositiveIntegerField(
        default=0, help_text="Minutes between escalated notifications; 0: only once."
    )
    escalation_period = models.ForeignKey(
        TimePeriod, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    escalation_options = models.CharField(
        max_length=20, blank=True, help_text="States in which it applies (empty: all)."
    )

    option_letters = vr.HOST_ESCALATION_OPTIONS

    class Meta:
        abstract = True

    def naemon_errors(self) -> dict[str, list[str]]:
        errors = {
            field: [message]
            for field, message in vr.check_notification_range(
                self.first_notification, self.last_notification, self.notification_interval
            ).items()
        }
        _letters(errors, "escalation_options", self.escalation_options, self.option_letters)
        return errors


class HostEscalation(Escalation):
    """``define hostescalation``."""

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="escalations")
    contacts = models.ManyToManyField(Contact, blank=True, related_name="host_escalations")
    contact_groups = models.ManyToManyField(ContactGroup, blank=True, related_name="host_escalations")

    class Meta:
        ordering = ["host__name", "first_notification", "pk"]

    def __str__(self) -> str:
        return f"{self.host} from notification {self.first_notification}"


class ServiceEscalation(Escalation):
    """``define serviceescalation``."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="escalations")
    contacts = models.ManyToManyField(Contact, blank=True, related_name="service_escalations")
    contact_groups = models.ManyToManyField(ContactGroup, blank=True, related_name="service_escalations")

    dependent_field = "service"
    option_letters = vr.SERVICE_ESCALATION_OPTIONS

    class Meta:
        ordering = ["service__host__name", "service__description", "first_notification", "pk"]

    def __str__(self) -> str:
        return f"{self.service} from notification {self.first_notification}"

    def naemon_errors(self) -> dict[str, list[str]]:
        errors = super().naemon_errors()
        _on_a_host(errors, "service", self.service if self.service_id else None)
        return errors


RELATION_MODELS: tuple[type[Relation], ...] = (
    HostDependency,
    ServiceDependency,
    HostEscalation,
    ServiceEscalation,
)
ESCALATION_MODELS: tuple[type[Escalation], ...] = (HostEscalation, ServiceEscalation)


def load_relations() -> Relations:
    """Every dependency and escalation as plain rows (names), for registry/state.py's snapshot.

    One query per kind (names joined in), and one per escalation kind's contacts and groups when
    there are escalations: a fixed number whatever their count. The renderer keeps those whose
    objects the node holds; a service on host groups (refused on write) has no host and is left out.
    """
    relations = Relations()
    dependency = ("inherits_parent", "execution_failure_criteria", "notification_failure_criteria")
    for row in HostDependency.objects.order_by().values(
        "host__name", "master_host__name", "dependency_period__name", *dependency
    ):
        relations.host_dependencies.append(
            {
                "host": row["host__name"],
                "master_host": row["master_host__name"],
                "dependency_period": row["dependency_period__name"],
                **{f: row[f] for f in dependency},
            }
        )
    for row in (
        ServiceDependency.objects.order_by()
        .filter(service__host__isnull=False, master_service__host__isnull=False)
        .values(
            "service__host__name",
            "service__description",
            "master_service__host__name",
            "master_service__description",
            "dependency_period__name",
            *dependency,
        )
    ):
        relations.service_dependencies.append(
            {
                "host": row["service__host__name"],
                "service": row["service__description"],
                "master_host": row["master_service__host__name"],
                "master_service": row["master_service__description"],
                "dependency_period": row["dependency_period__name"],
                **{f: row[f] for f in dependency},
            }
        )
    escalation = ("first_notification", "last_notification", "notification_interval", "escalation_options")
    for model, where, rows in (
        (HostEscalation, ("host__name",), relations.host_escalations),
        (ServiceEscalation, ("service__host__name", "service__description"), relations.service_escalations),
    ):
        found = list(
            model.objects.order_by()
            .filter(**{f"{where[0]}__isnull": False})
            .values("pk", *where, "escalation_period__name", *escalation)
        )
        if not found:
            continue
        members = _names_by_escalation(model, "contacts")
        groups = _names_by_escalation(model, "contact_groups")
        for row in found:
            out: Row = {
                "host": row[where[0]],
                "escalation_period": row["escalation_period__name"],
                "contacts": sorted(members.get(row["pk"], [])),
                "contact_groups": sorted(groups.get(row["pk"], [])),
                **{f: row[f] for f in escalation},
            }
            if model is ServiceEscalation:
                out["service"] = row["service__description"]
            rows.append(out)
    return relations


def _names_by_escalation(model: Any, relation: str) -> dict[int, list[str]]:
    field = model._meta.get_field(relation)
    through = field.remote_field.through
    result: dict[int, list[str]] = {}
    pairs = through.objects.values_list(field.m2m_column_name(), f"{field.m2m_reverse_field_name()}__name")
    for pk, name in pairs:
        result.setdefault(pk, []).append(name)
    return result
