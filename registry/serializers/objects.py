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
from registry.permissions import may_change
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


def link_errors(
    serializer: NaemonModelSerializer, candidate: Any, attrs: dict[str, Any], key: str
) -> dict[str, list[str]]:
    """A loop through ``key`` (a period's ``exclude``, a group's ``*_members``) is a 400 naming it."""
    chosen = serializer.related_after(attrs, key)
    through: Any = candidate._meta.get_field(key).remote_field.through
    owner, target = (f.attname for f in through._meta.concrete_fields if f.is_relation)
    me = str(candidate.pk or 0)  # a new object (0): nothing links to it yet
    links: dict[str, list[str]] = {}
    for a, b in through.objects.exclude(**{owner: candidate.pk or 0}).values_list(owner, target):
        links.setdefault(str(a), []).append(str(b))
    links[me] = [str(o.pk) for o in chosen]
    path = validation.link_cycle(me, links)
    if path is None:
        return {}
    names = {
        str(pk): name for pk, name in type(candidate).objects.filter(pk__in=path).values_list("pk", "name")
    }
    names[me] = candidate.name
    shown = " -> ".join(names.get(pk, pk) for pk in path)
    return {key: [f"{key} would loop back to {candidate.name}: {shown}. The core cannot resolve a loop."]}


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

    drift = serializers.SerializerMethodField(
        help_text="What the drift check last found (registry/drift.py): each drift's kind (config, "
        "core, failed) and detail, since when, when it last looked. Empty found: none."
    )

    @extend_schema_field(
        {
            "type": "object",
            "properties": {
                "found": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"kind": {"type": "string"}, "detail": {"type": "string"}},
                    },
                },
                "since": {"type": "string", "format": "date-time", "nullable": True},
                "checked_at": {"type": "string", "format": "date-time", "nullable": True},
            },
        }
    )
    def get_drift(self, obj: NaemonNode) -> dict[str, Any]:
        health = getattr(obj, "health", None)  # no row: never watched nor checked
        stamp = serializers.DateTimeField()
        return {
            "found": list(health.drift) if health else [],
            "since": stamp.to_representation(health.drift_since) if health and health.drift_since else None,
            "checked_at": stamp.to_representation(health.drift_checked_at)
            if health and health.drift_checked_at
            else None,
        }

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
            "drift_policy",
            "hostgroups",
            "cluster",
            "drift",
            "created_at",
            "updated_at",
        ]

    @classmethod
    def read_queryset(cls) -> QuerySet[NaemonNode]:
        return NaemonNode.objects.prefetch_related("hostgroups").select_related("health")

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
    exclude = by_name(
        TimePeriod.objects.all(),
        "time period",
        many=True,
        help_text="Time periods whose times are taken out of this one (no loops). A period named "
        "here cannot be deleted.",
    )

    class Meta:
        model = TimePeriod
        fields = ["url", "name", "alias", "ranges", "exclude", "created_at", "updated_at"]

    @classmethod
    def read_queryset(cls) -> QuerySet[TimePeriod]:
        return TimePeriod.objects.prefetch_related("exclude")

    def extra_errors(self, candidate: Any, attrs: dict[str, Any]) -> dict[str, list[str]]:
        return link_errors(self, candidate, attrs, "exclude")


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

    hostgroup_members = by_name(
        HostGroup.objects.all(),
        "host group",
        many=True,
        help_text="Host groups whose hosts Naemon counts in this one (no loops). Neither group may be "
        "on a poller; ownership follows direct membership only. Non-staff: only groups they may change.",
    )

    class Meta:
        model = HostGroup
        fields = ["url", "name", "alias", "team", "node", "hostgroup_members", "created_at", "updated_at"]

    @classmethod
    def read_queryset(cls) -> QuerySet[HostGroup]:
        return HostGroup.objects.select_related("team", "node").prefetch_related("hostgroup_members")

    @classmethod
    def affected_nodes(cls, obj: Any) -> set[NaemonNode]:
        nodes = masters()
        if obj.node is not None and obj.node.enabled:
            nodes.add(obj.node)
        return nodes

    def extra_errors(self, candidate: Any, attrs: dict[str, Any]) -> dict[str, list[str]]:
        errors = self.members_errors(candidate, attrs) or link_errors(
            self, candidate, attrs, "hostgroup_members"
        )
        return errors or self.node_errors(candidate)

    def members_errors(self, candidate: Any, attrs: dict[str, Any]) -> dict[str, list[str]]:
        """Naemon counts a member group's hosts in the group, the portal's poller placement does not.

        A poller checks the hosts directly in its groups (registry/cluster.py); were a placed
        group to gain hosts through a member group, Naemon and the placement would disagree on
        who checks them. So a group in a ``hostgroup_members`` link stays off pollers.
        """
        members = self.related_after(attrs, "hostgroup_members")
        request = self.context.get("request")
        before = set(self.instance.hostgroup_members.all()) if self.instance is not None else set()
        refused = [g.name for g in members if g not in before and request and not may_change(request.user, g)]
        if refused:
            raise PermissionDenied(
                f"hostgroup_members: you may not add {', '.join(refused)}: add only groups you may change."
            )
        placed = [f"{g.name} (poller {g.node.name})" for g in members if g.node is not None]
        if placed:
            return {
                "hostgroup_members": [
                    f"{', '.join(placed)} is on a poller: a member group stays off pollers."
                ]
            }
        if members and candidate.node_id is not None:
            return {
                "hostgroup_members": ["A group on a poller cannot have hostgroup_members; take it off first."]
            }
        if candidate.node_id is not None and candidate.pk is not None and candidate.member_of.exists():
            owners = ", ".join(candidate.member_of.values_list("name", flat=True))
            return {
                "node": [
                    f"{candidate.name} is a member of {owners} (hostgroup_members): it stays off pollers."
                ]
            }
        return {}

    def node_errors(self, candidate: Any) -> dict[str, list[str]]:
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
    servicegroup_members = by_name(
        ServiceGroup.objects.all(),
        "service group",
        many=True,
        help_text="Service groups whose services Naemon counts in this one (no loops); ownership "
        "follows direct membership only. Non-staff: only groups they may change.",
    )

    class Meta:
        model = ServiceGroup
        fields = ["url", "name", "alias", "team", "servicegroup_members", "created_at", "updated_at"]

    @classmethod
    def read_queryset(cls) -> QuerySet[ServiceGroup]:
        return ServiceGroup.objects.select_related("team").prefetch_related("servicegroup_members")

    def extra_errors(self, candidate: Any, attrs: dict[str, Any]) -> dict[str, list[str]]:
        members = self.related_after(attrs, "servicegroup_members")
        request = self.context.get("request")
        before = set(self.instance.servicegroup_members.all()) if self.instance is not None else set()
        refused = [g.name for g in members if g not in before and request and not may_change(request.user, g)]
        if refused:
            # Other teams' notification rules match on their groups: joining one is theirs to allow.
            raise PermissionDenied(
                f"servicegroup_members: you may not add {', '.join(refused)}: add only groups you may change."
            )
        return link_errors(self, candidate, attrs, "servicegroup_members")


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
        fields = [*HostTemplateSerializer.Meta.fields, "is_volatile"]

    @classmethod
    def read_queryset(cls) -> QuerySet[ServiceTemplate]:  # type: ignore[override]
        return ServiceTemplate.objects.select_related(*_select_check_settings())
