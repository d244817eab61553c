"""The host serializer (with its embedded services and its lease)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from django.db import models
from django.db.models import QuerySet, prefetch_related_objects
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from monitoring_portal.models import APIToken, Team
from registry import adoption
from registry.models import (
    Contact,
    ContactGroup,
    Host,
    HostGroup,
    HostTemplate,
    NaemonNode,
    Service,
    nodes_for_hosts,
)
from registry.permissions import MAY_JOIN_HELP
from registry.serializers.base import (
    CheckSettingsSerializer,
    OrderedTemplatesField,
    UsesListSerializer,
    _select_check_settings,
    by_name,
)
from registry.serializers.services import (
    RECIPIENTS_HELP,
    HostServiceSerializer,
    RecipientSerializer,
    recipients_data,
)

MAX_LEASE_SECONDS = 366 * 24 * 3600

# What a host's representation reads besides its row, and each of its services'.
HOST_LINKS = ("hostgroups__node", "parents", "contacts", "contact_groups")
SERVICE_LINKS = ("servicegroups", "contacts", "contact_groups")


def _service_rows() -> QuerySet[Service]:
    return Service.objects.select_related("host", *_select_check_settings())


def _seed(obj: models.Model, relation: str, rows: Iterable[models.Model] = ()) -> None:
    """Mark a to-many relation of ``obj`` as read, holding ``rows``, as a prefetch would."""
    manager = getattr(obj, relation)
    read = manager.get_queryset()
    read._result_cache = list(rows)
    read._prefetch_done = True
    cache = obj.__dict__.setdefault("_prefetched_objects_cache", {})
    cache[getattr(manager, "prefetch_cache_name", relation)] = read


def _parent_cycle(name: str, parents: Sequence[Host]) -> str | None:
    """A path back to ``name`` through the stored parents of the new parents, if any.

    Walks up from the new parents one generation per query: every host write asks this, so it
    costs the depth of their ancestry, not a read of every parent link in the site (issue 19).
    """
    frontier = {parent.name: [name, parent.name] for parent in parents}
    seen = set(frontier)
    while frontier:
        links = Host.parents.through.objects.filter(from_host__name__in=list(frontier)).values_list(
            "from_host__name", "to_host__name"
        )
        following: dict[str, list[str]] = {}
        for child, parent in sorted(links):
            if parent == name:
                return " → ".join([*frontier[child], name])
            if parent not in seen:
                seen.add(parent)
                following[parent] = [*frontier[child], parent]
        frontier = following
    return None


def lease_state(expires_at: Any) -> str:
    if expires_at is None:
        return "none"
    return "expired" if expires_at <= timezone.now() else "active"


class HostSerializer(CheckSettingsSerializer):
    """A monitored host, with its services; ``lease_seconds`` makes it short-lived."""

    url = serializers.HyperlinkedIdentityField(view_name="registry-api:host-detail", lookup_field="name")
    team = by_name(Team.objects.all(), "team", help_text="Owning team (host groups' teams own the host too).")
    templates = OrderedTemplatesField(HostTemplate.objects.all())
    # With their nodes: validation places the host on at most one poller (no query per group).
    hostgroups = by_name(HostGroup.objects.select_related("node"), "host group", many=True)
    parents = by_name(Host.objects.all(), "host", many=True)
    contacts = by_name(Contact.objects.all(), "contact", many=True, help_text=MAY_JOIN_HELP["contacts"])
    contact_groups = by_name(
        ContactGroup.objects.all(), "contact group", many=True, help_text=MAY_JOIN_HELP["contact_groups"]
    )
    recipients = serializers.SerializerMethodField(help_text=RECIPIENTS_HELP)
    notify_me = serializers.BooleanField(
        write_only=True,
        required=False,
        default=False,
        help_text="Add your own contact to this host's contacts (you need one: be in a team and have "
        "an email). A short-lived host written with a token and no team gets the token user's team.",
    )
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
    adopt = serializers.BooleanField(
        write_only=True,
        required=False,
        default=False,
        help_text="Staff only: register a name that a node already monitors outside the registry "
        "(refused with a 400 naming the node otherwise). The registry host takes that object over "
        "once the site removes its own definition from the node and a deployment is confirmed.",
    )

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
            "notify_owners",
            "recipients",
            "notify_me",
            *CheckSettingsSerializer.check_fields,
            "services",
            "lease_seconds",
            "expires_at",
            "lease",
            "adopt",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["expires_at"]
        list_serializer_class = UsesListSerializer

    @classmethod
    def read_queryset(cls) -> QuerySet[Host]:
        return Host.objects.select_related("team", *_select_check_settings()).prefetch_related(
            *HOST_LINKS,
            models.Prefetch("services", queryset=_service_rows().prefetch_related(*SERVICE_LINKS)),
        )

    def read_back(self, queryset: QuerySet[Any], instance: Any) -> Any:
        """A host this write created: its rows are read back, but not the links it cannot have.

        A new host has exactly the links and templates its body named: what it named none of is
        known to be empty (most automation names no parents, contacts or service groups), and its
        templates' order is the body's. Contents are always read: their order is the database's.
        """
        created = self.__dict__.pop("_created", None)
        if created is None:
            return super().read_back(queryset, instance)
        attrs, items = created
        # The rows as stored (JSON as the database returns it, defaults, timestamps).
        host = queryset.prefetch_related(None).get(pk=instance.pk)
        for relation in ("parents", "contacts", "contact_groups"):
            if not attrs.get(relation):
                _seed(host, relation)
        host._ordered_uses = [t.name for t in attrs.get("templates", [])]
        services = list(_service_rows().filter(host=host))
        _seed(host, "services", services)
        sent = {item["description"]: item for item in items}
        for service in services:
            item = sent[service.description]
            # A host's own service has no host groups (the host's serializer does not write them).
            _seed(service, "hostgroups")
            for relation in SERVICE_LINKS:
                if not item.get(relation):
                    _seed(service, relation)
            service._ordered_uses = [t.name for t in item.get("templates", [])]  # type: ignore[attr-defined]
        prefetch_related_objects([host], *HOST_LINKS)
        prefetch_related_objects(services, *SERVICE_LINKS)
        return host

    @staticmethod
    def nested_objects(hosts: Iterable[Host]) -> list[Service]:
        return [service for host in hosts for service in host.services.all()]

    @classmethod
    def affected_nodes(cls, obj: Any) -> set[NaemonNode]:
        return nodes_for_hosts([obj])

    @extend_schema_field(OpenApiTypes.STR)
    def get_lease(self, obj: Host) -> str:
        return lease_state(obj.expires_at)

    @extend_schema_field(RecipientSerializer(many=True))
    def get_recipients(self, obj: Host) -> list[dict[str, Any]]:
        return recipients_data(self, obj)

    def extra_unchanged(self, body: dict[str, Any], before: dict[str, Any], partial: bool) -> bool:
        # A PUT without a lease (or a PATCH naming lease_seconds) ends the stored one (``_lease``).
        ends_lease = not partial or "lease_seconds" in body
        return not ends_lease or before.get("expires_at") is None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        self._default_recipients(attrs)
        return super().validate(attrs)

    def _default_recipients(self, attrs: dict[str, Any]) -> None:
        """A short-lived host written with a token and no team: the token user's team; ``notify_me``: them.

        Automation registers hosts that live minutes (CI runners, pods): without this they
        would notify nobody, or only the default group, while their owners are known.
        """
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if attrs.get("notify_me"):
            pk = getattr(user, "pk", None)
            contact = Contact.objects.filter(user_id=pk).first() if pk is not None else None
            if contact is None:
                raise serializers.ValidationError(
                    {"notify_me": ["You have no Naemon contact: join a team and set an email first."]}
                )
            contacts = self.related_after(attrs, "contacts")
            attrs["contacts"] = contacts if contact in contacts else [*contacts, contact]
        token = getattr(request, "auth", None)
        short_lived = attrs.get("lease_seconds") is not None
        if not isinstance(token, APIToken) or not short_lived or self.partial or attrs.get("team"):
            return
        teams = list(Team.objects.filter(members=token.user_id))
        if len(teams) == 1:
            attrs["team"] = teams[0]
        elif len(teams) > 1 and not getattr(user, "is_staff", False):
            owned = {g.team_id for g in attrs.get("hostgroups", []) if g.team_id}
            if not owned:
                names = ", ".join(t.name for t in teams)
                raise serializers.ValidationError(
                    {"team": [f"Name the owning team: this token's user is in several ({names})."]}
                )

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
        errors |= self._outside_registry_errors(candidate, attrs)
        return errors

    def _outside_registry_errors(self, candidate: Host, attrs: dict[str, Any]) -> dict[str, list[str]]:
        """A new name that a node monitors outside the registry: refused unless staff adopt it."""
        if self.instance is not None and candidate.name == self.instance.name:
            return {}
        user = getattr(self.context.get("request"), "user", None)
        if attrs.get("adopt"):
            if getattr(user, "is_staff", False):
                return {}
            return {"adopt": ["Only staff may adopt a host that a node monitors outside the registry."]}
        if "name" in candidate.naemon_errors():
            return {}  # refused for its own sake; not a name to ask the nodes about
        # One cache per request: a bulk write asks about many names, a dead node only once.
        cache = self.context.setdefault("_outside_registry", {}) if isinstance(self.context, dict) else None
        nodes = adoption.nodes_listing_outside(candidate.name, cache)
        if not nodes:
            return {}
        which = (
            f"Node {nodes[0]} already monitors"
            if len(nodes) == 1
            else f"Nodes {', '.join(nodes)} already monitor"
        )
        return {
            "name": [
                f"{which} a host named {candidate.name!r} outside the registry: registering it would "
                'duplicate that object (the node refuses the duplicate). Staff may adopt it with "adopt": true.'
            ]
        }

    def _lease(self, validated_data: dict[str, Any]) -> None:
        if "lease_seconds" in validated_data or not self.partial:
            seconds = validated_data.pop("lease_seconds", None)
            validated_data["expires_at"] = timezone.now() + timedelta(seconds=seconds) if seconds else None

    def create(self, validated_data: dict[str, Any]) -> Host:
        services = validated_data.pop("services", None)
        self._lease(validated_data)
        # What this create stored, so that ``read_back`` need not read what it cannot have.
        self._created = (dict(validated_data), services or [])
        host: Host = super().create(validated_data)
        if services is not None:
            self._save_services(host, services, created=True)
        return host

    def update(self, instance: Host, validated_data: dict[str, Any]) -> Host:
        services = validated_data.pop("services", None)
        self._lease(validated_data)
        host: Host = super().update(instance, validated_data)
        if services is not None:
            self._save_services(host, services)
        return host

    def _save_services(self, host: Host, items: list[dict[str, Any]], *, created: bool = False) -> None:
        """Upsert the listed services by description; remove the host's others.

        ``created``: the host was inserted in this write, so it has no services to read or remove.
        """
        existing = {} if created else {s.description: s for s in Service.objects.filter(host=host)}
        context = {**self.context, "host": host}
        for item in items:
            service = existing.get(item["description"])
            if service is None:
                HostServiceSerializer(context=context).create({**item, "host": host})
            else:
                HostServiceSerializer(service, context=context).update(service, dict(item))
        if not created:
            Service.objects.filter(host=host).exclude(
                description__in=[i["description"] for i in items]
            ).delete()
