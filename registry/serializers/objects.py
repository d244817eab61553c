"""Serializers of the objects hosts and services refer to: nodes, time periods, commands,
contacts and contact groups, host and service groups, host and service templates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from monitoring_portal.models import Team
from registry import cluster, validation
from registry.choices import NodeRole
from registry.models import (
    Command,
    Contact,
    ContactGroup,
    HostGroup,
    HostTemplate,
    NaemonNode,
    ServiceGroup,
    ServiceTemplate,
    TimePeriod,
)
from registry.serializers.base import (
    USES,
    CheckSettingsSerializer,
    NaemonModelSerializer,
    OrderedTemplatesField,
    UsesListSerializer,
    _select_check_settings,
    _text,
    by_name,
    masters,
)

# --- nodes, time periods, commands, contacts ---------------------------------------------


class NaemonNodeSerializer(NaemonModelSerializer):
    """A Naemon core: role, where its config goes, how it is verified and reloaded."""

    url = serializers.HyperlinkedIdentityField(
        view_name="registry-api:naemonnode-detail", lookup_field="name"
    )
    hostgroups = serializers.SlugRelatedField(  # type: ignore[var-annotated]
        many=True, read_only=True, slug_field="name", help_text="Host groups this poller monitors."
    )
    cluster = serializers.SerializerMethodField(
        help_text="This node's share of the cluster now: hosts and services it checks and notifies, "
        "whether it is healthy, and whether it is the active master."
    )

    @extend_schema_field(
        {
            "type": "object",
            "properties": {
                "healthy": {"type": "boolean"},
                "active_master": {"type": "boolean"},
                "hosts_checked": {"type": "integer"},
                "hosts_notified": {"type": "integer"},
                "services_checked": {"type": "integer"},
                "services_notified": {"type": "integer"},
            },
        }
    )
    def get_cluster(self, obj: NaemonNode) -> dict[str, Any]:
        context: dict[str, Any] = self.context  # type: ignore[assignment]
        shares = context.get("cluster_shares")
        if shares is None:
            # One computation per request, whatever the number of nodes listed.
            shares = context["cluster_shares"] = cluster.shares()
        return shares.get(obj.name) or cluster.NodeShare().as_dict()

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
            "notifies",
            "priority",
            "takeover",
            "stale_after",
            "relay_address",
            "hostgroups",
            "cluster",
            "created_at",
            "updated_at",
        ]

    @classmethod
    def read_queryset(cls) -> QuerySet[NaemonNode]:
        return NaemonNode.objects.prefetch_related("hostgroups")

    @classmethod
    def affected_nodes(cls, obj: Any) -> set[NaemonNode]:
        # A node's role, priority, health options or address change who checks, notifies and
        # relays what on the others too (registry/cluster.py).
        return set(NaemonNode.objects.filter(enabled=True))

    @classmethod
    def nodes_after_delete(cls, obj: Any) -> set[NaemonNode]:
        # Its share moves to the others (a deleted node itself has nothing left to deploy to).
        return set(NaemonNode.objects.filter(enabled=True).exclude(pk=obj.pk))

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
        if candidate.relay_address:
            try:
                validation.check_relay_target(candidate.relay_address)
            except validation.NaemonValueError as exc:
                errors["relay_address"] = [str(exc)]
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
    free_form_args = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=validation.MAX_COMMAND_ARGUMENTS),
        required=False,
        help_text="Numbers of the $ARGn$ whose value splits into words at plain spaces, e.g. [1]: "
        "'-H www -p 80' is four arguments. Their values may not hold # * ? [ ] ~ ( ) { }, white "
        "space other than a space, or a word starting with '='. Every other macro is one argument.",
    )

    class Meta:
        model = Command
        fields = [
            "url",
            "name",
            "alias",
            "command_line",
            "channel",
            "free_form_args",
            "created_at",
            "updated_at",
        ]

    @classmethod
    def read_queryset(cls) -> QuerySet[Command]:
        return Command.objects.all()

    def validate_free_form_args(self, value: list[int]) -> list[int]:
        return sorted(set(value))

    def extra_errors(self, candidate: Any, attrs: dict[str, Any]) -> dict[str, list[str]]:
        # Values hosts and services already pass to an argument that would become free-form.
        return candidate.stored_value_errors()


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
