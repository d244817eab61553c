"""Serializers of the registry API, and the write path shared with the pages.

Objects are addressed and referenced by name (``"hostgroups": ["web"]``). Strings are taken
as given (never trimmed), then checked with the models' ``naemon_errors()``: bad input is a
400 naming the field, before anything is stored.

Write semantics (``apply_write`` / ``apply_delete``), the same for the API and the pages:

- PUT replaces: a field missing from the body gets its default (a host's ``services`` are
  the exception: absent means "leave the services alone"; given, even ``[]``, the host's
  services become exactly that list). PATCH changes only what the body names.
- One transaction. The representation before and after is compared: no difference means
  nothing is stored (the write is rolled back) and no deployment is requested; a difference
  only in the lease (``expires_at``) is stored without a deployment; any other difference
  requests deployments for the affected nodes (before and after the change).
- The caller must own the object before (checked by the view) and after the write
  (checked here): otherwise everything is rolled back and the answer is 403.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, models, transaction
from django.db.models import ProtectedError, QuerySet
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import APIException

from monitoring_portal.models import Team
from registry import deploy, validation
from registry.choices import NodeRole
from registry.models import (
    Command,
    Contact,
    ContactGroup,
    Deployment,
    Host,
    HostGroup,
    HostTemplate,
    HostTemplateUse,
    HostUse,
    NaemonNode,
    Service,
    ServiceGroup,
    ServiceTemplate,
    ServiceTemplateUse,
    ServiceUse,
    TimePeriod,
    left_without_directives,
    missing_directives,
    nodes_for_hosts,
)
from registry.permissions import check_groups_joined, check_owner_after_write, hostgroup_ids

MAX_LEASE_SECONDS = 366 * 24 * 3600

# Never part of "did the config change?": links and timestamps.
VOLATILE_KEYS = frozenset({"url", "created_at", "updated_at"})
# Stored, but not rendered into Naemon config: a change to these alone deploys nothing.
NOT_CONFIG_KEYS = frozenset({"expires_at", "lease"})


class Conflict(APIException):
    status_code = 409
    default_detail = "The object is in use."
    default_code = "conflict"


# --- ordered "use" of templates -------------------------------------------------------------

# owner model -> (through model, owner field, template field)
USES: dict[type[models.Model], tuple[type[models.Model], str, str]] = {
    Host: (HostUse, "host", "template"),
    Service: (ServiceUse, "service", "template"),
    HostTemplate: (HostTemplateUse, "template", "uses"),
    ServiceTemplate: (ServiceTemplateUse, "template", "uses"),
}


def prefetch_uses(objects: Iterable[models.Model]) -> None:
    """Load the ordered template names of many objects with one query per kind."""
    by_model: dict[type[models.Model], list[models.Model]] = defaultdict(list)
    for obj in objects:
        if type(obj) in USES and not hasattr(obj, "_ordered_uses"):
            by_model[type(obj)].append(obj)
    for model, objs in by_model.items():
        through, owner, target = USES[model]
        names: dict[int, list[str]] = defaultdict(list)
        rows = (
            through._default_manager.filter(**{f"{owner}__in": objs})
            .order_by(owner, "position", "pk")
            .values_list(f"{owner}_id", f"{target}__name")
        )
        for owner_id, name in rows:
            names[owner_id].append(name)
        for obj in objs:
            obj._ordered_uses = names.get(obj.pk, [])  # type: ignore[attr-defined]


def uses_of(obj: models.Model) -> list[str]:
    """Names of the templates an object uses, in order."""
    prefetch_uses([obj])
    return list(obj._ordered_uses)  # type: ignore[attr-defined]


def set_uses(obj: models.Model, templates: Sequence[models.Model]) -> None:
    """Replace the ordered templates of an object."""
    through, owner, target = USES[type(obj)]
    through._default_manager.filter(**{owner: obj}).delete()
    through._default_manager.bulk_create(
        [through(**{owner: obj, target: template, "position": i}) for i, template in enumerate(templates)]
    )
    if hasattr(obj, "_ordered_uses"):
        del obj._ordered_uses


class OrderedTemplatesField(serializers.ListField):
    """Template names in order (Naemon's ``use``: the first listed wins)."""

    def __init__(self, queryset: QuerySet[Any], **kwargs: Any) -> None:
        self.queryset = queryset
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "Template names, in order: the first listed wins.")
        super().__init__(child=serializers.CharField(trim_whitespace=False), **kwargs)

    def get_attribute(self, instance: models.Model) -> list[str]:
        return uses_of(instance)

    def to_representation(self, data: list[str]) -> list[str]:
        return list(data)

    def to_internal_value(self, data: Any) -> list[models.Model]:
        names = super().to_internal_value(data)
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise serializers.ValidationError(f"Template listed twice: {', '.join(duplicates)}.")
        found = {t.name: t for t in self.queryset.filter(name__in=names)}
        missing = [n for n in names if n not in found]
        if missing:
            raise serializers.ValidationError(f"No such template: {', '.join(missing)}.")
        return [found[n] for n in names]


class UsesListSerializer(serializers.ListSerializer):
    """Lists load the ordered templates of all their items (and nested services) at once."""

    def to_representation(self, data: Any) -> list[Any]:
        items = list(data.all() if isinstance(data, models.Manager | QuerySet) else data)
        prefetch_uses(items)
        child: Any = self.child
        nested = getattr(child, "nested_objects", None)
        if nested is not None:
            prefetch_uses(nested(items))
        return [child.to_representation(item) for item in items]


def by_name(queryset: QuerySet[Any], what: str, **kwargs: Any) -> serializers.SlugRelatedField:
    """A related object referenced by its name."""
    kwargs.setdefault("required", False)
    if not kwargs.get("many"):
        kwargs.setdefault("allow_null", True)
    return serializers.SlugRelatedField(
        slug_field=kwargs.pop("slug_field", "name"),
        queryset=queryset,
        error_messages={"does_not_exist": f"No {what} named {{value}}.", "invalid": "Expected a name."},
        **kwargs,
    )


# --- representations, ETags, change detection ---------------------------------------------


def plain(data: Any) -> Any:
    """JSON-compatible copy of serializer output (dates as strings)."""
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


# Not part of an ETag: absolute links change with the Host header and scheme a client used.
ETAG_IGNORED_KEYS = frozenset({"url", "deployments", "deployment_results"})


def etag_of(data: Any) -> str:
    """A strong ETag: the hash of the object's representation, links left out."""
    encoded = json.dumps(
        _without(data, ETAG_IGNORED_KEYS), cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":")
    )
    return '"' + hashlib.sha256(encoded.encode()).hexdigest()[:32] + '"'


def _without(data: Any, keys: frozenset[str]) -> Any:
    if isinstance(data, dict):
        return {k: _without(v, keys) for k, v in data.items() if k not in keys}
    if isinstance(data, list):
        return [_without(v, keys) for v in data]
    return data


def stored_state(data: Any) -> Any:
    """What a write can change in the database (links and timestamps left out)."""
    return _without(data, VOLATILE_KEYS)


def config_state(data: Any) -> Any:
    """What the renderer turns into Naemon config (the lease left out too)."""
    return _without(data, VOLATILE_KEYS | NOT_CONFIG_KEYS)


def masters() -> set[NaemonNode]:
    return set(NaemonNode.objects.filter(enabled=True, role=NodeRole.MASTER))


def every_node() -> set[NaemonNode]:
    return set(NaemonNode.objects.filter(enabled=True))


# --- the base serializer ------------------------------------------------------------------


class NaemonModelSerializer(serializers.ModelSerializer):
    """Untrimmed strings, natural keys, Naemon checks, and replace semantics for PUT."""

    # Fields a PUT leaves alone when they are absent from the body.
    keep_when_absent: frozenset[str] = frozenset()

    def build_standard_field(self, field_name: str, model_field: Any) -> tuple[type, dict[str, Any]]:
        field_class, field_kwargs = super().build_standard_field(field_name, model_field)
        if issubclass(field_class, serializers.CharField):
            # A trailing newline must be refused, not silently trimmed away.
            field_kwargs["trim_whitespace"] = False
        return field_class, field_kwargs

    @classmethod
    def affected_nodes(cls, obj: Any) -> set[NaemonNode]:
        """Nodes whose rendered config contains this object (default: all of them)."""
        return every_node()

    @classmethod
    def nodes_after_delete(cls, obj: Any) -> set[NaemonNode]:
        """Nodes to deploy when this object is deleted."""
        return cls.affected_nodes(obj)

    def validate_name(self, value: str) -> str:
        if "/" in value:
            raise serializers.ValidationError(
                "name must not contain '/': objects are addressed by name in URLs."
            )
        return value

    def extra_errors(self, candidate: Any, attrs: dict[str, Any]) -> dict[str, list[str]]:
        """Checks beyond the model's own (relations, placement, cycles)."""
        return {}

    def required_errors(self, candidate: Any, attrs: dict[str, Any]) -> dict[str, list[str]]:
        """What the core refuses the object without (also for items embedded in another object)."""
        return {}

    def related_after(self, attrs: dict[str, Any], key: str) -> list[Any]:
        """A to-many relation as it will be: from the body, else (PATCH) as stored, else empty."""
        if key in attrs:
            return list(attrs[key])
        if self.instance is not None and self.partial:
            return list(getattr(self.instance, key).all())
        return []

    @property
    def model(self) -> Any:
        return self.Meta.model

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        model = self.model
        # PATCH checks the object as it will be; PUT and POST check a fresh object (replace).
        candidate = copy.copy(self.instance) if self.instance is not None and self.partial else model()
        if self.instance is not None:
            candidate.pk = self.instance.pk
        concrete = {f.name for f in model._meta.concrete_fields}
        for key, value in attrs.items():
            if key in concrete:
                setattr(candidate, key, value)
        errors = candidate.naemon_errors()
        for key, messages in self.extra_errors(candidate, attrs).items():
            errors.setdefault(key, []).extend(messages)
        if not errors:
            errors = self.required_errors(candidate, attrs)
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def replace_defaults(self) -> dict[str, Any]:
        """Values of the writable fields a PUT body left out."""
        defaults: dict[str, Any] = {}
        opts = self.model._meta
        for name, f in self.fields.items():
            source = f.source or name
            if f.read_only or name in self.keep_when_absent:
                continue
            try:
                model_field = opts.get_field(source)
            except FieldDoesNotExist:
                continue
            defaults[source] = [] if model_field.many_to_many else model_field.get_default()
        return defaults

    def _split(self, validated_data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        opts = self.model._meta
        own: dict[str, Any] = {}
        relations: dict[str, Any] = {}
        for key, value in validated_data.items():
            try:
                is_m2m = opts.get_field(key).many_to_many
            except FieldDoesNotExist:
                continue
            (relations if is_m2m else own)[key] = value
        return own, relations

    def _save_relations(self, instance: Any, relations: dict[str, Any]) -> None:
        for key, value in relations.items():
            if isinstance(self._field_by_source(key), OrderedTemplatesField):
                set_uses(instance, value)
            else:
                getattr(instance, key).set(value)

    def _field_by_source(self, source: str) -> Any:
        return next((f for f in self.fields.values() if f.source == source), None)

    def create(self, validated_data: dict[str, Any]) -> Any:
        own, relations = self._split(validated_data)
        instance = self.model(**own)
        instance.save()
        self._save_relations(instance, relations)
        return instance

    def update(self, instance: Any, validated_data: dict[str, Any]) -> Any:
        if not self.partial:
            validated_data = {**self.replace_defaults(), **validated_data}
        own, relations = self._split(validated_data)
        for key, value in own.items():
            setattr(instance, key, value)
        instance.save()
        self._save_relations(instance, relations)
        return instance


def _text(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(trim_whitespace=False, **kwargs)


class CheckSettingsSerializer(NaemonModelSerializer):
    """Directives shared by hosts, services and templates; empty or null means 'inherit'."""

    check_command = by_name(Command.objects.all(), "command")
    check_command_args = serializers.ListField(
        child=_text(allow_blank=True),
        required=False,
        help_text="Values of $ARG1$, $ARG2$, …: one line each, no '!', ';' or '$'.",
    )
    check_period = by_name(TimePeriod.objects.all(), "time period")
    notification_period = by_name(TimePeriod.objects.all(), "time period")
    custom_variables = serializers.DictField(
        child=_text(allow_blank=True),
        required=False,
        help_text='Custom variables, e.g. {"_RACK": "B12"}; names are upper-cased as Naemon does.',
    )

    check_fields = [
        "check_command",
        "check_command_args",
        "check_interval",
        "retry_interval",
        "max_check_attempts",
        "check_period",
        "active_checks_enabled",
        "passive_checks_enabled",
        "notifications_enabled",
        "notification_interval",
        "notification_period",
        "notification_options",
        "custom_variables",
        "notes",
    ]

    def required_errors(self, candidate: Any, attrs: dict[str, Any]) -> dict[str, list[str]]:
        if isinstance(candidate, HostTemplate | ServiceTemplate):
            broken = left_without_directives(candidate, self.related_after(attrs, "parents"))
            return {
                directive: [
                    f"{', '.join(names)} would be left without {directive} (not set on them, nor through "
                    "their other templates), which Naemon refuses."
                ]
                for directive, names in broken.items()
            }
        kind = "host" if isinstance(candidate, Host) else "service"
        # One load of the templates per request (a bulk write checks many hosts and services).
        chains = self.context.setdefault("_template_chains", {}) if isinstance(self.context, dict) else None
        missing = missing_directives(candidate, self.related_after(attrs, "templates"), chains)
        return {
            directive: [
                f"Naemon refuses a {kind} without {directive}: set it here or in one of its templates."
            ]
            for directive in missing
        }

    def validate_custom_variables(self, value: dict[str, str]) -> dict[str, str]:
        try:
            return validation.check_custom_variables(value)
        except validation.NaemonValueError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_notification_options(self, value: str) -> str:
        letters = self.model.notification_option_letters
        try:
            return validation.check_options(value, letters, what="notification_options")
        except validation.NaemonValueError as exc:
            raise serializers.ValidationError(str(exc)) from None


def _select_check_settings() -> list[str]:
    return ["check_command", "check_period", "notification_period"]


# --- nodes, time periods, commands, contacts ---------------------------------------------


class NaemonNodeSerializer(NaemonModelSerializer):
    """A Naemon core: role, where its config goes, how it is verified and reloaded."""

    url = serializers.HyperlinkedIdentityField(
        view_name="registry-api:naemonnode-detail", lookup_field="name"
    )
    hostgroups = serializers.SlugRelatedField(  # type: ignore[var-annotated]
        many=True, read_only=True, slug_field="name", help_text="Host groups this poller monitors."
    )

    class Meta:
        model = NaemonNode
        fields = [
            "url",
            "name",
            "alias",
            "role",
            "enabled",
            "livestatus",
            "config_dir",
            "main_config",
            "verify_command",
            "reload_method",
            "reload_command",
            "command_file",
            "status_file",
            "notify_dir",
            "notify_filter_path",
            "hostgroups",
            "created_at",
            "updated_at",
        ]

    @classmethod
    def read_queryset(cls) -> QuerySet[NaemonNode]:
        return NaemonNode.objects.prefetch_related("hostgroups")

    @classmethod
    def affected_nodes(cls, obj: Any) -> set[NaemonNode]:
        return {obj} if obj.enabled else set()

    @classmethod
    def nodes_after_delete(cls, obj: Any) -> set[NaemonNode]:
        return set()  # a deleted node has nothing left to deploy to

    def extra_errors(self, candidate: Any, attrs: dict[str, Any]) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        for key in ("livestatus", "reload_command", "verify_command"):
            value = getattr(candidate, key)
            if value and validation._CONTROL.search(value):
                errors[key] = [f"{key} must be one line without control characters."]
        for key in (
            "config_dir",
            "main_config",
            "command_file",
            "status_file",
            "notify_dir",
            "notify_filter_path",
        ):
            value = getattr(candidate, key)
            if value and (not value.startswith("/") or validation._CONTROL.search(value)):
                errors[key] = [f"{key} must be an absolute path without control characters."]
        if not candidate.config_dir:
            errors.setdefault("config_dir", ["config_dir is required."])
        if (
            self.instance is not None
            and candidate.role == NodeRole.MASTER
            and self.instance.hostgroups.exists()
        ):
            errors["role"] = ["A node that monitors host groups must stay a poller; move its groups first."]
        return errors


class TimePeriodSerializer(NaemonModelSerializer):
    """A Naemon time period."""

    url = serializers.HyperlinkedIdentityField(
        view_name="registry-api:timeperiod-detail", lookup_field="name"
    )
    ranges = serializers.DictField(
        child=_text(),
        required=False,
        help_text='Day or date to ranges, e.g. {"monday": "09:00-17:00", "2026-12-24": "00:00-24:00"}.',
    )

    class Meta:
        model = TimePeriod
        fields = ["url", "name", "alias", "ranges", "created_at", "updated_at"]

    @classmethod
    def read_queryset(cls) -> QuerySet[TimePeriod]:
        return TimePeriod.objects.all()


class CommandSerializer(NaemonModelSerializer):
    """A check or notification command (``channel`` names a notification channel)."""

    url = serializers.HyperlinkedIdentityField(view_name="registry-api:command-detail", lookup_field="name")

    class Meta:
        model = Command
        fields = ["url", "name", "alias", "command_line", "channel", "created_at", "updated_at"]

    @classmethod
    def read_queryset(cls) -> QuerySet[Command]:
        return Command.objects.all()


class ContactSerializer(NaemonModelSerializer):
    """Someone Naemon notifies, usually linked to a portal user."""

    url = serializers.HyperlinkedIdentityField(view_name="registry-api:contact-detail", lookup_field="name")
    user = by_name(User.objects.all(), "user", slug_field="username")
    team = by_name(Team.objects.all(), "team")
    host_notification_period = by_name(TimePeriod.objects.all(), "time period")
    service_notification_period = by_name(TimePeriod.objects.all(), "time period")
    host_notification_commands = by_name(Command.objects.all(), "command", many=True)
    service_notification_commands = by_name(Command.objects.all(), "command", many=True)
    contact_groups = serializers.SlugRelatedField(  # type: ignore[var-annotated]
        many=True, read_only=True, slug_field="name", help_text="Set through the contact groups' members."
    )

    class Meta:
        model = Contact
        fields = [
            "url",
            "name",
            "alias",
            "user",
            "team",
            "email",
            "pager",
            "host_notification_period",
            "service_notification_period",
            "host_notification_options",
            "service_notification_options",
            "host_notification_commands",
            "service_notification_commands",
            "contact_groups",
            "created_at",
            "updated_at",
        ]

    @classmethod
    def read_queryset(cls) -> QuerySet[Contact]:
        return Contact.objects.select_related(
            "user", "team", "host_notification_period", "service_notification_period"
        ).prefetch_related("host_notification_commands", "service_notification_commands", "contact_groups")

    def required_errors(self, candidate: Any, attrs: dict[str, Any]) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        for key in ("host_notification_commands", "service_notification_commands"):
            if not self.related_after(attrs, key):
                errors[key] = [f"Naemon refuses a contact without {key}: name at least one command."]
        return errors

    def validate_host_notification_options(self, value: str) -> str:
        return _options(value, validation.HOST_NOTIFICATION_OPTIONS, "host_notification_options")

    def validate_service_notification_options(self, value: str) -> str:
        return _options(value, validation.SERVICE_NOTIFICATION_OPTIONS, "service_notification_options")


def _options(value: str, letters: frozenset[str], what: str) -> str:
    try:
        return validation.check_options(value, letters, what=what)
    except validation.NaemonValueError as exc:
        raise serializers.ValidationError(str(exc)) from None


class ContactGroupSerializer(NaemonModelSerializer):
    """A group of contacts."""

    url = serializers.HyperlinkedIdentityField(
        view_name="registry-api:contactgroup-detail", lookup_field="name"
    )
    members = by_name(Contact.objects.all(), "contact", many=True)

    class Meta:
        model = ContactGroup
        fields = ["url", "name", "alias", "members", "created_at", "updated_at"]

    @classmethod
    def read_queryset(cls) -> QuerySet[ContactGroup]:
        return ContactGroup.objects.prefetch_related("members")


# --- groups -------------------------------------------------------------------------------


class HostGroupSerializer(NaemonModelSerializer):
    """A host group: ownership (team) and placement (poller) of its hosts."""

    url = serializers.HyperlinkedIdentityField(view_name="registry-api:hostgroup-detail", lookup_field="name")
    team = by_name(Team.objects.all(), "team", help_text="The team that owns the group and its hosts.")
    node = by_name(
        NaemonNode.objects.filter(role=NodeRole.POLLER),
        "poller",
        help_text="The poller that monitors the group's hosts (null: masters only). Staff only.",
    )

    class Meta:
        model = HostGroup
        fields = ["url", "name", "alias", "team", "node", "created_at", "updated_at"]

    @classmethod
    def read_queryset(cls) -> QuerySet[HostGroup]:
        return HostGroup.objects.select_related("team", "node")

    @classmethod
    def affected_nodes(cls, obj: Any) -> set[NaemonNode]:
        nodes = masters()
        if obj.node is not None and obj.node.enabled:
            nodes.add(obj.node)
        return nodes

    def extra_errors(self, candidate: Any, attrs: dict[str, Any]) -> dict[str, list[str]]:
        old_node_id = self.instance.node_id if self.instance is not None else None
        if candidate.node_id == old_node_id:
            return {}
        request = self.context.get("request")
        if not (request and request.user.is_staff):
            raise PermissionDenied("Only staff may place a host group on a poller or take it off one.")
        if self.instance is None or candidate.node_id is None:
            return {}
        clashes = (
            HostGroup.objects.filter(hosts__hostgroups=self.instance, node__isnull=False)
            .exclude(pk=self.instance.pk)
            .exclude(node_id=candidate.node_id)
            .select_related("node")
            .distinct()
        )
        if clashes:
            names = ", ".join(f"{g.name} (poller {g.node.name})" for g in clashes if g.node)
            return {
                "node": [
                    f"Hosts of {self.instance.name} are also in {names}: a host is monitored by at most one "
                    "poller. Move those hosts first."
                ]
            }
        return {}


class ServiceGroupSerializer(NaemonModelSerializer):
    """A service group, owned by a team."""

    url = serializers.HyperlinkedIdentityField(
        view_name="registry-api:servicegroup-detail", lookup_field="name"
    )
    team = by_name(Team.objects.all(), "team")

    class Meta:
        model = ServiceGroup
        fields = ["url", "name", "alias", "team", "created_at", "updated_at"]

    @classmethod
    def read_queryset(cls) -> QuerySet[ServiceGroup]:
        return ServiceGroup.objects.select_related("team")


# --- templates ----------------------------------------------------------------------------


def _parent_cycle(name: str, parents: Sequence[Host]) -> str | None:
    """A path back to ``name`` through the stored parents of the new parents, if any."""
    edges: dict[str, set[str]] = defaultdict(set)
    for child, parent in Host.parents.through.objects.values_list("from_host__name", "to_host__name"):
        edges[child].add(parent)
    edges[name] = {p.name for p in parents}
    stack: list[tuple[str, list[str]]] = [(name, [name])]
    seen: set[str] = set()
    while stack:
        current, path = stack.pop()
        for parent in sorted(edges.get(current, ())):
            if parent == name:
                return " → ".join([*path, name])
            if parent not in seen:
                seen.add(parent)
                stack.append((parent, [*path, parent]))
    return None


def _template_cycle(candidate: Any, parents: Sequence[Any]) -> str | None:
    """Name of a parent through which the template would end up using itself, if any."""
    if candidate.pk is None:
        return None
    through, owner, target = USES[type(candidate)]
    for parent in parents:
        seen, todo = set(), [parent.pk]
        while todo:
            pk = todo.pop()
            if pk == candidate.pk:
                return str(parent.name)
            if pk in seen:
                continue
            seen.add(pk)
            todo.extend(
                through._default_manager.filter(**{f"{owner}_id": pk}).values_list(f"{target}_id", flat=True)
            )
    return None


class HostTemplateSerializer(CheckSettingsSerializer):
    """A host template; ``templates`` are the ones it uses, in order."""

    url = serializers.HyperlinkedIdentityField(
        view_name="registry-api:hosttemplate-detail", lookup_field="name"
    )
    templates = OrderedTemplatesField(HostTemplate.objects.all(), source="parents")

    class Meta:
        model = HostTemplate
        fields = [
            "url",
            "name",
            "alias",
            "templates",
            *CheckSettingsSerializer.check_fields,
            "created_at",
            "updated_at",
        ]
        list_serializer_class = UsesListSerializer

    @classmethod
    def read_queryset(cls) -> QuerySet[HostTemplate]:
        return HostTemplate.objects.select_related(*_select_check_settings())

    def extra_errors(self, candidate: Any, attrs: dict[str, Any]) -> dict[str, list[str]]:
        cycle = _template_cycle(candidate, attrs.get("parents", []))
        if cycle or candidate.name in {p.name for p in attrs.get("parents", [])}:
            return {"templates": [f"{candidate.name} would use itself (through {cycle or candidate.name})."]}
        return {}


class ServiceTemplateSerializer(HostTemplateSerializer):
    """A service template; ``templates`` are the ones it uses, in order."""

    url = serializers.HyperlinkedIdentityField(
        view_name="registry-api:servicetemplate-detail", lookup_field="name"
    )
    templates = OrderedTemplatesField(ServiceTemplate.objects.all(), source="parents")

    class Meta(HostTemplateSerializer.Meta):
        model = ServiceTemplate  # type: ignore[assignment]

    @classmethod
    def read_queryset(cls) -> QuerySet[ServiceTemplate]:  # type: ignore[override]
        return ServiceTemplate.objects.select_related(*_select_check_settings())


# --- services -----------------------------------------------------------------------------


class ServiceSerializer(CheckSettingsSerializer):
    """A service on a host (``host`` set) or on the hosts of some host groups (``host`` null)."""

    url = serializers.SerializerMethodField()
    description = serializers.CharField(
        max_length=255, trim_whitespace=False, help_text="The service's name on its host; spaces allowed."
    )
    host = serializers.SlugRelatedField(  # type: ignore[var-annotated]
        read_only=True, slug_field="name", help_text="Set by the URL."
    )
    hostgroups = by_name(HostGroup.objects.all(), "host group", many=True)
    templates = OrderedTemplatesField(ServiceTemplate.objects.all())
    servicegroups = by_name(ServiceGroup.objects.all(), "service group", many=True)
    contacts = by_name(Contact.objects.all(), "contact", many=True)
    contact_groups = by_name(ContactGroup.objects.all(), "contact group", many=True)

    class Meta:
        model = Service
        fields = [
            "url",
            "description",
            "host",
            "hostgroups",
            "templates",
            "servicegroups",
            "contacts",
            "contact_groups",
            *CheckSettingsSerializer.check_fields,
            "created_at",
            "updated_at",
        ]
        list_serializer_class = UsesListSerializer
        validators: list[Any] = []  # uniqueness is checked in validate() with a clear message

    @classmethod
    def read_queryset(cls) -> QuerySet[Service]:
        return Service.objects.select_related(
            "host", "host__team", *_select_check_settings()
        ).prefetch_related(
            "hostgroups",
            "host__hostgroups",
            "servicegroups",
            "contacts",
            "contact_groups",
        )

    @classmethod
    def affected_nodes(cls, obj: Any) -> set[NaemonNode]:
        if obj.host is not None:
            return nodes_for_hosts([obj.host])
        nodes = masters()
        nodes.update(g.node for g in obj.hostgroups.all() if g.node is not None and g.node.enabled)
        return nodes

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, obj: Service) -> str:
        request = self.context.get("request")
        if obj.host is not None:
            path = reverse(
                "registry-api:host-service-detail",
                kwargs={"host": obj.host.name, "description": obj.description},
            )
        else:
            group = min((g.name for g in obj.hostgroups.all()), default="-")
            path = reverse(
                "registry-api:hostgroup-service-detail",
                kwargs={"hostgroup": group, "description": obj.description},
            )
        return request.build_absolute_uri(path) if request is not None else path

    def _host(self) -> Host | None:
        host = self.context.get("host")
        if host is None and self.instance is not None:
            host = self.instance.host
        return host

    def extra_errors(self, candidate: Any, attrs: dict[str, Any]) -> dict[str, list[str]]:
        if isinstance(self.parent, serializers.ListSerializer):
            return {}  # embedded in a host: the host checks its list
        host = self._host()
        others = Service.objects.filter(description=candidate.description)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if host is not None:
            if others.filter(host=host).exists():
                return {"description": [f"Host {host.name} already has a service {candidate.description!r}."]}
            return {}
        groups = attrs.get("hostgroups")
        if groups is None and self.instance is not None:
            groups = list(self.instance.hostgroups.all())
        if not groups:
            return {"hostgroups": ["A service without a host needs at least one host group."]}
        taken = sorted(
            others.filter(host__isnull=True, hostgroups__in=groups).values_list("hostgroups__name", flat=True)
        )
        clash = sorted(set(taken) & {g.name for g in groups})
        if clash:
            return {
                "description": [
                    f"Host group(s) {', '.join(clash)} already have a service {candidate.description!r}."
                ]
            }
        return {}


class HostServiceSerializer(ServiceSerializer):
    """A service of one host (as embedded in the host, or under /hosts/<name>/services/)."""

    class Meta(ServiceSerializer.Meta):
        fields = [f for f in ServiceSerializer.Meta.fields if f != "hostgroups"]


# --- hosts --------------------------------------------------------------------------------


def lease_state(expires_at: Any) -> str:
    if expires_at is None:
        return "none"
    return "expired" if expires_at <= timezone.now() else "active"


class HostSerializer(CheckSettingsSerializer):
    """A monitored host, with its services; ``lease_seconds`` makes it short-lived."""

    url = serializers.HyperlinkedIdentityField(view_name="registry-api:host-detail", lookup_field="name")
    team = by_name(Team.objects.all(), "team", help_text="Owning team (host groups' teams own the host too).")
    templates = OrderedTemplatesField(HostTemplate.objects.all())
    hostgroups = by_name(HostGroup.objects.all(), "host group", many=True)
    parents = by_name(Host.objects.all(), "host", many=True)
    contacts = by_name(Contact.objects.all(), "contact", many=True)
    contact_groups = by_name(ContactGroup.objects.all(), "contact group", many=True)
    services = HostServiceSerializer(
        many=True,
        required=False,
        help_text="On write: absent leaves the services alone; a list (even empty) replaces them all.",
    )
    lease_seconds = serializers.IntegerField(
        write_only=True,
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_LEASE_SECONDS,
        help_text="Short-lived host: expires this many seconds from now (renew with the same PUT). "
        "Absent or null on PUT: no lease.",
    )
    lease = serializers.SerializerMethodField(help_text="none, active or expired.")

    keep_when_absent = frozenset({"services"})

    class Meta:
        model = Host
        fields = [
            "url",
            "name",
            "alias",
            "address",
            "team",
            "templates",
            "hostgroups",
            "parents",
            "contacts",
            "contact_groups",
            *CheckSettingsSerializer.check_fields,
            "services",
            "lease_seconds",
            "expires_at",
            "lease",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["expires_at"]
        list_serializer_class = UsesListSerializer

    @classmethod
    def read_queryset(cls) -> QuerySet[Host]:
        return Host.objects.select_related("team", *_select_check_settings()).prefetch_related(
            "hostgroups__node",
            "parents",
            "contacts",
            "contact_groups",
            models.Prefetch(
                "services",
                queryset=Service.objects.select_related("host", *_select_check_settings()).prefetch_related(
                    "servicegroups", "contacts", "contact_groups"
                ),
            ),
        )

    @staticmethod
    def nested_objects(hosts: Iterable[Host]) -> list[Service]:
        return [service for host in hosts for service in host.services.all()]

    @classmethod
    def affected_nodes(cls, obj: Any) -> set[NaemonNode]:
        return nodes_for_hosts([obj])

    @extend_schema_field(OpenApiTypes.STR)
    def get_lease(self, obj: Host) -> str:
        return lease_state(obj.expires_at)

    def extra_errors(self, candidate: Any, attrs: dict[str, Any]) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        groups = attrs.get("hostgroups")
        if groups is None and self.instance is not None and self.partial:
            groups = list(self.instance.hostgroups.all())
        pollers: dict[str, list[str]] = defaultdict(list)
        for group in groups or []:
            if group.node_id is not None:
                pollers[group.node.name].append(group.name)
        if len(pollers) > 1:
            placed = "; ".join(
                f"{', '.join(sorted(g))} on poller {node}" for node, g in sorted(pollers.items())
            )
            errors["hostgroups"] = [
                f"A host is monitored by at most one poller, but these host groups place it on several: {placed}."
            ]
        if any(parent.name == candidate.name for parent in attrs.get("parents", [])):
            errors["parents"] = ["A host cannot be its own parent."]
        else:
            cycle = _parent_cycle(candidate.name, attrs.get("parents", []))
            if cycle:
                errors["parents"] = [f"Parents would form a loop, which Naemon refuses: {cycle}."]
        descriptions = [s["description"] for s in attrs.get("services") or []]
        duplicates = sorted({d for d in descriptions if descriptions.count(d) > 1})
        if duplicates:
            errors["services"] = [f"Service listed twice: {', '.join(duplicates)}."]
        return errors

    def _lease(self, validated_data: dict[str, Any]) -> None:
        if "lease_seconds" in validated_data or not self.partial:
            seconds = validated_data.pop("lease_seconds", None)
            validated_data["expires_at"] = timezone.now() + timedelta(seconds=seconds) if seconds else None

    def create(self, validated_data: dict[str, Any]) -> Host:
        services = validated_data.pop("services", None)
        self._lease(validated_data)
        host: Host = super().create(validated_data)
        if services is not None:
            self._save_services(host, services)
        return host

    def update(self, instance: Host, validated_data: dict[str, Any]) -> Host:
        services = validated_data.pop("services", None)
        self._lease(validated_data)
        host: Host = super().update(instance, validated_data)
        if services is not None:
            self._save_services(host, services)
        return host

    def _save_services(self, host: Host, items: list[dict[str, Any]]) -> None:
        """Upsert the listed services by description; remove the host's others."""
        existing = {s.description: s for s in Service.objects.filter(host=host)}
        context = {**self.context, "host": host}
        for item in items:
            service = existing.get(item["description"])
            if service is None:
                HostServiceSerializer(context=context).create({**item, "host": host})
            else:
                HostServiceSerializer(service, context=context).update(service, dict(item))
        Service.objects.filter(host=host).exclude(description__in=[i["description"] for i in items]).delete()


# --- deployments ----------------------------------------------------------------------------


class DeploymentSerializer(serializers.ModelSerializer):
    """One attempt to bring a node to the registry's latest state, and how it ended."""

    url = serializers.HyperlinkedIdentityField(view_name="registry-api:deployment-detail")
    node = serializers.SlugRelatedField(read_only=True, slug_field="name")  # type: ignore[var-annotated]
    covered_by = serializers.PrimaryKeyRelatedField(  # type: ignore[var-annotated]
        read_only=True, help_text="The deployment whose run brought this one's changes too (coalescing)."
    )
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = Deployment
        fields = [
            "id",
            "url",
            "node",
            "state",
            "triggered_by",
            "reason",
            "content_hash",
            "summary",
            "verify_output",
            "reload_output",
            "confirmation",
            "error",
            "covered_by",
            "created_at",
            "started_at",
            "finished_at",
            "duration_seconds",
        ]
        read_only_fields = fields


# --- the write path -------------------------------------------------------------------------


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
    context = serializer.context
    before_obj = before_data = None
    if serializer.instance is not None:
        pk = serializer.instance.pk
        # Lock the row so that concurrent writes to one object are applied one after the other.
        _lock(queryset.model, pk)
        before_obj = queryset.get(pk=pk)
        before_data = plain(cls(before_obj, context=context).data)
    if precondition is not None:
        precondition(before_data)
    nodes = cls.affected_nodes(before_obj) if before_obj is not None else set()
    groups_before = hostgroup_ids(before_obj)
    try:
        with transaction.atomic():
            obj = serializer.save(**(save_kwargs or {}))
            check_groups_joined(user, groups_before, obj)
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
            after_obj = queryset.get(pk=obj.pk)
            check_owner_after_write(user, after_obj)
            after_data = plain(cls(after_obj, context=context).data)
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
            result.deployments = deploy.request_deployments(
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
            result.deployments = deploy.request_deployments(nodes, triggered_by=triggered_by, reason=reason)
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
