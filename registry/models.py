"""The registry: what Naemon monitors, on which node, owned by which team, and its deployments.

Names are natural keys (the API addresses objects by name). Every name and value is
checked against Naemon's rules in ``clean()`` (registry/validation.py); the renderer checks
again, so nothing unchecked reaches a config file.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils import timezone

from monitoring_portal.models import Team
from registry import validation
from registry.check_settings import CheckSettings, _check
from registry.choices import DeploymentState, DriftPolicy, NodeRole, ReloadMethod
from registry.render import NotifyPaths

# A node's notify_dir when it has none; the same as the filter's built-in default
# (preferences/notify_filter.py), which only a command line passing no paths relies on.
DEFAULT_NOTIFY_DIR = "/var/lib/monitoring-portal/notify"


class NamedObject(models.Model):
    """Common to every object Naemon knows by name."""

    name = models.CharField(max_length=255, unique=True)
    alias = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    name_allows_spaces = False
    #: Name prefixes of the objects the renderer adds itself (registry.render): a user's
    #: object of that name would be a duplicate definition, which the core refuses.
    reserved_prefixes: tuple[str, ...] = ()

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def naemon_errors(self) -> dict[str, list[str]]:
        """Field -> messages for anything Naemon would misread."""
        errors = _check(
            "name", validation.check_name, self.name, what="name", allow_spaces=self.name_allows_spaces
        )
        if self.alias:
            # $HOSTALIAS$, $CONTACTALIAS$, $HOSTGROUPALIAS$ ... reach command lines.
            errors |= _check("alias", validation.check_macro_value, self.alias, what="alias")
        for prefix in self.reserved_prefixes:
            if self.name.startswith(prefix) and "name" not in errors:
                errors["name"] = [f"names starting with {prefix!r} are the portal's own."]
        return errors

    def clean(self) -> None:
        errors = self.naemon_errors()
        if errors:
            raise ValidationError(errors)


class NaemonNode(NamedObject):
    """A Naemon core: master or poller, where its config lives and how to verify and reload it."""

    role = models.CharField(max_length=10, choices=NodeRole.choices, default=NodeRole.MASTER)
    livestatus = models.CharField(
        max_length=255, blank=True, help_text="unix:/path/to/live.sock or tcp:host:port; empty if none."
    )
    config_dir = models.CharField(
        max_length=1024, help_text="Directory the portal owns, e.g. /etc/naemon/portal.d"
    )
    main_config = models.CharField(
        max_length=1024,
        blank=True,
        help_text="The core's main config (naemon.cfg); verification uses a copy of it.",
    )
    verify_command = models.CharField(
        max_length=1024,
        default="naemon -v {main_config}",
        help_text="Run on the staged config; {main_config} is the staged main config file.",
    )
    reload_method = models.CharField(
        max_length=20, choices=ReloadMethod.choices, default=ReloadMethod.LIVESTATUS
    )
    reload_command = models.CharField(
        max_length=1024, blank=True, help_text="For the 'command' reload method."
    )
    command_file = models.CharField(
        max_length=1024, blank=True, help_text="For the 'command_file' reload method."
    )
    status_file = models.CharField(
        max_length=1024, blank=True, help_text="The core's status.dat, to confirm without Livestatus."
    )
    notify_dir = models.CharField(
        max_length=1024, blank=True, help_text="Where the notify-filter reads its snapshot on this node."
    )
    notify_filter_path = models.CharField(
        max_length=1024,
        blank=True,
        help_text="The notify-filter executable on this node; empty: the one in the portal's virtualenv there.",
    )
    enabled = models.BooleanField(default=True)
    # The cluster (docs/cluster.md, registry/cluster.py): who checks and who notifies what.
    notifies = models.BooleanField(
        default=True,
        help_text="Pollers: send the notifications of the objects this poller checks (Merlin's "
        "'notifies'); off: the checking master sends them.",
    )
    priority = models.PositiveIntegerField(
        default=100,
        help_text="Masters: the healthy master with the lowest priority (then name) checks and "
        "notifies every object no poller owns; the others hold copies.",
    )
    takeover = models.BooleanField(
        default=False,
        help_text="Pollers: while this poller is down, the active master checks its objects; off: "
        "their copies on the masters turn UNKNOWN after stale_after seconds, naming the poller.",
    )
    stale_after = models.PositiveIntegerField(
        default=180,
        validators=[MinValueValidator(5)],
        help_text="Seconds without a result from this node after which the other nodes' copies of "
        "the objects it checks turn UNKNOWN (freshness threshold).",
    )
    relay_address = models.CharField(
        max_length=1024,
        blank=True,
        help_text="How the other nodes hand check results to this one: livestatus:unix:/path, "
        "livestatus:tcp:host:port or cmdfile:/path/naemon.cmd; empty: its Livestatus address, "
        "else its command file.",
    )

    drift_policy = models.CharField(
        max_length=10, choices=DriftPolicy.choices, default=DriftPolicy.REDEPLOY,
        help_text="On drift (hand edit, core restarted on an older config): redeploy, or only report it.",
    )  # fmt: skip

    class Meta(NamedObject.Meta):
        verbose_name = "Naemon node"

    def relay_program(self) -> tuple[str, str]:
        """The relay (``portal-relay``, beside the node's notify-filter) and its log on this node."""
        paths = self.notify_paths()
        base = str(Path(paths.decision_log).parent)
        return str(Path(paths.filter).parent / "portal-relay"), f"{base}/relay.log"

    def relay_target(self) -> str:
        """Where the other nodes' relay delivers check results to this node ('' if nowhere)."""
        if self.relay_address:
            return self.relay_address
        if self.livestatus:
            return f"livestatus:{self.livestatus}"
        return f"cmdfile:{self.command_file}" if self.command_file else ""

    @property
    def queue(self) -> str:
        """The Celery queue of this node's worker."""
        return f"naemon.{self.name}"

    def notify_paths(self) -> NotifyPaths:
        """Where the notify-filter runs on this node and keeps its files: the one owner of that layout."""
        base = (self.notify_dir or DEFAULT_NOTIFY_DIR).rstrip("/") or "/"
        # No notify_filter_path: the console script of the virtualenv the node's worker runs in.
        program = self.notify_filter_path or str(Path(sys.executable).parent / "notify-filter")
        return NotifyPaths(program, f"{base}/snapshot", f"{base}/state", f"{base}/decisions.log")


class NodeHealth(models.Model):
    """What the cluster watch (registry.failover) last saw of a node; no row: healthy."""

    node = models.OneToOneField(NaemonNode, on_delete=models.CASCADE, related_name="health")
    healthy = models.BooleanField(default=True)
    #: When ``healthy`` last changed.
    since = models.DateTimeField(default=timezone.now)
    #: When the node last answered (its Livestatus, or its status file).
    last_seen = models.DateTimeField(null=True, blank=True)
    #: When it first failed to answer in the current run of failures (None: it answers).
    failing_since = models.DateTimeField(null=True, blank=True)
    #: When it began answering in the current run of answers (None: it does not answer); a
    #: node that is down comes back only after answering without a break (no flapping).
    answering_since = models.DateTimeField(null=True, blank=True)
    program_start = models.BigIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    # The drift check (registry/drift.py): [{"kind", "detail"}] (empty: none), since, last check,
    # and the core's object counts while it ran the latest confirmed deployment (the baseline).
    drift = models.JSONField(default=list, blank=True)
    drift_since = models.DateTimeField(null=True, blank=True)
    drift_checked_at = models.DateTimeField(null=True, blank=True)
    drift_baseline = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"{self.node}: {'healthy' if self.healthy else 'down'}"


class ClusterMove(models.Model):
    """One move of a share of the cluster: who took over what from whom, when and why."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    #: The node whose share moved (it went down, or came back).
    node = models.ForeignKey(NaemonNode, on_delete=models.CASCADE, related_name="moves")
    #: Who checks and notifies that share now (empty: nobody could).
    taken_by = models.CharField(max_length=255, blank=True)
    #: "down" (the share left the node) or "back" (it returned).
    kind = models.CharField(max_length=10)
    reason = models.CharField(max_length=500, blank=True)
    #: When the failover window began: the node's first unanswered probe (down) or its restart
    #: (back). It ends when the move's deployments have landed (registry.failover.window_end).
    window_start = models.DateTimeField(null=True, blank=True)
    #: The deployments the move caused, one per node redeployed.
    deployments: models.ManyToManyField[Deployment, Any] = models.ManyToManyField(
        "Deployment", blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.node} {self.kind} -> {self.taken_by or 'nobody'}"


class TimePeriod(NamedObject):
    """A Naemon timeperiod: ``ranges`` maps a day (``monday``, ``2026-12-24``) to ``HH:MM-HH:MM,...``."""

    ranges = models.JSONField(default=dict, blank=True)
    exclude = models.ManyToManyField(
        "self", symmetrical=False, blank=True, through="TimePeriodExclude", related_name="excluded_by"
    )

    def naemon_errors(self) -> dict[str, list[str]]:
        errors = super().naemon_errors()
        if not isinstance(self.ranges, dict):
            return errors | {"ranges": ["ranges must be an object of day: time ranges."]}
        for day, times in self.ranges.items():
            problem = _check("ranges", validation.check_timeperiod_day, day, what=f"day {day!r}")
            if not problem and not isinstance(times, str):
                problem = {"ranges": [f"ranges of {day} must be a string."]}
            problem = problem or _check(
                "ranges", validation.check_time_ranges, times, what=f"ranges of {day}"
            )
            for field, messages in problem.items():
                errors.setdefault(field, []).extend(messages)
        return errors


class _GroupLink(models.Model):
    """A named link between two objects of one kind; the linked-to side is PROTECTed.

    A period or group another one names cannot be deleted from under it (the core would refuse
    the config): the delete is refused with who uses it, as for any object in use.
    """

    link = ""

    class Meta:
        abstract = True

    def __str__(self) -> str:
        # The first two foreign keys: the naming object, then the named one.
        owner, target = (getattr(self, f.name) for f in self._meta.concrete_fields if f.is_relation)
        return f"{owner._meta.verbose_name} {owner} ({self.link} {target})"


class TimePeriodExclude(_GroupLink):
    link = "exclude"
    period = models.ForeignKey(TimePeriod, on_delete=models.CASCADE, related_name="+")
    excluded = models.ForeignKey(TimePeriod, on_delete=models.PROTECT, related_name="+")

    class Meta:
        unique_together = [("period", "excluded")]


class Command(NamedObject):
    """A check or notification command. A notification command names its ``channel`` (email, sms)."""

    reserved_prefixes = (
        validation.NOTIFY_FILTER_PREFIX,
        validation.PLACEHOLDER_PREFIX,
        *validation.CLUSTER_COMMAND_PREFIXES,
    )

    command_line = models.TextField()
    channel = models.SlugField(
        max_length=32, blank=True, help_text="For notification commands: the channel name rules match on."
    )
    free_form_args = models.JSONField(
        default=list,
        blank=True,
        help_text="Numbers of the $ARGn$ whose value splits into words (e.g. [1]: '-H www -p 80' is "
        "four arguments); every other macro is one argument. Set by staff.",
    )

    def naemon_errors(self) -> dict[str, list[str]]:
        errors = super().naemon_errors() | _check(
            "command_line", validation.check_command_line, self.command_line
        )
        return errors | _check(
            "free_form_args", validation.check_free_form_args, self.free_form_args, self.command_line
        )

    def clean(self) -> None:
        errors = self.naemon_errors() or self.stored_value_errors()
        if errors:
            raise ValidationError(errors)

    def stored_value_errors(self) -> dict[str, list[str]]:
        """Values already stored for arguments this command would newly make free-form.

        A value accepted as one argument (``80 *``) would be split and globbed once its
        argument becomes free-form: that change is refused until those values are changed.
        """
        if self.pk is None or not self.free_form_args:
            return {}
        before = set(
            Command.objects.filter(pk=self.pk).values_list("free_form_args", flat=True).first() or []
        )
        added = [n for n in self.free_form_args if type(n) is int and n not in before]
        if not added:
            return {}
        problems: list[str] = []
        for model in (Host, Service, HostTemplate, ServiceTemplate):
            for obj in model.objects.filter(check_command=self):
                for number in added:
                    args = obj.check_command_args if isinstance(obj.check_command_args, list) else []
                    if number <= len(args) and args[number - 1]:
                        try:
                            validation.check_free_form_argument(args[number - 1], what=f"$ARG{number}$")
                        except validation.NaemonValueError as exc:
                            problems.append(f"{model._meta.verbose_name} {obj}: {exc}")
        return {"free_form_args": problems[:10]} if problems else {}


class Contact(NamedObject):
    """Someone Naemon notifies, usually linked to a portal user (whose preferences apply)."""

    user = models.OneToOneField(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="naemon_contact"
    )
    email = models.EmailField(blank=True)
    pager = models.CharField(max_length=64, blank=True)
    host_notification_period = models.ForeignKey(
        TimePeriod, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    service_notification_period = models.ForeignKey(
        TimePeriod, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    host_notification_options = models.CharField(max_length=20, default="d,u,r,f,s")
    service_notification_options = models.CharField(max_length=20, default="w,u,c,r,f,s")
    host_notification_commands = models.ManyToManyField(Command, blank=True, related_name="+")
    service_notification_commands = models.ManyToManyField(Command, blank=True, related_name="+")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts")
    # The portal's own contact of a user (registry/signals.py): named after them, its email kept
    # equal to theirs, removed when they no longer qualify. Contacts people made are never touched.
    managed = models.BooleanField(
        default=False, editable=False, help_text="Created and kept in step with its user by the portal."
    )

    def naemon_errors(self) -> dict[str, list[str]]:
        errors = super().naemon_errors()
        if self.email:
            errors |= _check("email", validation.check_email, self.email, what="email")
        if self.pager:
            errors |= _check("pager", validation.check_pager, self.pager, what="pager")
        errors |= _check(
            "host_notification_options",
            validation.check_options,
            self.host_notification_options,
            validation.HOST_NOTIFICATION_OPTIONS,
            what="host_notification_options",
        )
        errors |= _check(
            "service_notification_options",
            validation.check_options,
            self.service_notification_options,
            validation.SERVICE_NOTIFICATION_OPTIONS,
            what="service_notification_options",
        )
        return errors


#: Teams are rendered as contact groups of this prefix (registry/recipients.py): ``team-web``.
TEAM_GROUP_PREFIX = "team-"


class ContactGroup(NamedObject):
    reserved_prefixes = (TEAM_GROUP_PREFIX,)

    members = models.ManyToManyField(Contact, blank=True, related_name="contact_groups")


class ContactDelegate(models.Model):
    """``delegate`` receives what ``user`` would, from ``starts_at`` to ``ends_at``: a hand-over.

    The hook the preferences app fills (its hand-overs) so that the registry renders the extra
    contact without importing it; registry/delegates.py says who is rendered and how.
    """

    user = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="+")
    delegate = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"delegate {self.delegate_id} for {self.user_id} until {self.ends_at:%Y-%m-%d %H:%M}"


class HostGroup(NamedObject):
    """Host groups carry ownership (team) and placement (the poller node that monitors them)."""

    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="hostgroups"
    )
    node = models.ForeignKey(
        NaemonNode,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="hostgroups",
        limit_choices_to={"role": NodeRole.POLLER},
        help_text="The poller that monitors this group's hosts (masters get every host).",
    )
    # Naemon expands these into members; ownership and placement read direct membership only
    # (docs/registry.md), so a group in such a link is never placed on a poller.
    hostgroup_members = models.ManyToManyField(
        "self", symmetrical=False, blank=True, through="HostGroupMember", related_name="member_of"
    )


class HostGroupMember(_GroupLink):
    link = "hostgroup_members"
    group = models.ForeignKey(HostGroup, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(HostGroup, on_delete=models.PROTECT, related_name="+")

    class Meta:
        unique_together = [("group", "member")]


class ServiceGroup(NamedObject):
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="servicegroups"
    )
    servicegroup_members = models.ManyToManyField(
        "self", symmetrical=False, blank=True, through="ServiceGroupMember", related_name="member_of"
    )


class ServiceGroupMember(_GroupLink):
    link = "servicegroup_members"
    group = models.ForeignKey(ServiceGroup, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(ServiceGroup, on_delete=models.PROTECT, related_name="+")

    class Meta:
        unique_together = [("group", "member")]


class HostTemplate(NamedObject, CheckSettings):
    """A host template (``register 0``); ``parents`` lists the templates it uses, in order."""

    parents = models.ManyToManyField("self", symmetrical=False, blank=True, through="HostTemplateUse")

    def naemon_errors(self) -> dict[str, list[str]]:
        return super().naemon_errors() | self.check_errors()


class HostTemplateUse(models.Model):
    """Ordered ``use`` of a host template by a template: first listed wins in Naemon."""

    template = models.ForeignKey(HostTemplate, on_delete=models.CASCADE, related_name="+")
    uses = models.ForeignKey(HostTemplate, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["template", "uses"], name="unique_hosttemplate_use")]

    def __str__(self) -> str:
        return f"{self.template} uses {self.uses} (#{self.position})"


class ServiceTemplate(NamedObject, CheckSettings):
    """A service template (``register 0``)."""

    name_allows_spaces = True
    notification_option_letters = validation.SERVICE_NOTIFICATION_OPTIONS
    flap_option_letters = validation.SERVICE_FLAP_OPTIONS
    retry_interval_must_be_positive = True
    is_volatile = models.BooleanField(null=True, blank=True)
    parents = models.ManyToManyField("self", symmetrical=False, blank=True, through="ServiceTemplateUse")

    def naemon_errors(self) -> dict[str, list[str]]:
        return super().naemon_errors() | self.check_errors()


class ServiceTemplateUse(models.Model):
    template = models.ForeignKey(ServiceTemplate, on_delete=models.CASCADE, related_name="+")
    uses = models.ForeignKey(ServiceTemplate, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["template", "uses"], name="unique_servicetemplate_use")
        ]

    def __str__(self) -> str:
        return f"{self.template} uses {self.uses} (#{self.position})"


class HostQuerySet(models.QuerySet["Host"]):
    def expired(self, now: Any = None) -> HostQuerySet:
        """Hosts whose lease has ended."""
        return self.filter(expires_at__lte=now or timezone.now())

    def for_node(self, node: NaemonNode) -> HostQuerySet:
        """The hosts a node monitors: all for a master, its host groups' hosts for a poller."""
        if node.role == NodeRole.MASTER:
            return self.all()
        return self.filter(hostgroups__node=node).distinct()


class Host(NamedObject, CheckSettings):
    """A monitored host."""

    reserved_prefixes = (validation.PLACEHOLDER_PREFIX,)

    address = models.CharField(max_length=255, blank=True)
    templates = models.ManyToManyField(HostTemplate, blank=True, through="HostUse", related_name="hosts")
    hostgroups = models.ManyToManyField(HostGroup, blank=True, related_name="hosts")
    parents = models.ManyToManyField("self", symmetrical=False, blank=True, related_name="children")
    contacts = models.ManyToManyField(Contact, blank=True, related_name="hosts")
    contact_groups = models.ManyToManyField(ContactGroup, blank=True, related_name="hosts")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="hosts")
    notify_owners = models.BooleanField(
        default=True,
        help_text="Notify the owning teams (the host's, its host groups'): their contact groups are "
        "added to the contacts and contact groups named here.",
    )
    expires_at = models.DateTimeField(
        null=True, blank=True, db_index=True, help_text="Lease end of a short-lived host; renewed by PUT."
    )

    objects = HostQuerySet.as_manager()

    def naemon_errors(self) -> dict[str, list[str]]:
        errors = super().naemon_errors() | self.check_errors()
        if self.address:
            errors |= _check("address", validation.check_address, self.address, what="address")
        return errors

    def poller(self) -> NaemonNode | None:
        """The poller that owns this host through its host groups (at most one, checked on write)."""
        nodes = {g.node for g in self.hostgroups.all() if g.node_id is not None}
        return nodes.pop() if len(nodes) == 1 else None

    def owning_teams(self) -> set[int]:
        """Ids of the teams that may change this host: its own team and its host groups' teams."""
        teams = {g.team_id for g in self.hostgroups.all() if g.team_id}
        if self.team_id:
            teams.add(self.team_id)
        return teams


class HostUse(models.Model):
    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="+")
    template = models.ForeignKey(HostTemplate, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["host", "template"], name="unique_host_use")]

    def __str__(self) -> str:
        return f"{self.host} uses {self.template} (#{self.position})"


class Service(CheckSettings):
    """A service on one host, or on every host of some host groups."""

    description = models.CharField(max_length=255)
    host = models.ForeignKey(Host, null=True, blank=True, on_delete=models.CASCADE, related_name="services")
    hostgroups = models.ManyToManyField(HostGroup, blank=True, related_name="services")
    templates = models.ManyToManyField(
        ServiceTemplate, blank=True, through="ServiceUse", related_name="services"
    )
    servicegroups = models.ManyToManyField(ServiceGroup, blank=True, related_name="services")
    contacts = models.ManyToManyField(Contact, blank=True, related_name="services")
    contact_groups = models.ManyToManyField(ContactGroup, blank=True, related_name="services")
    notify_owners = models.BooleanField(
        default=True,
        help_text="Notify the owning teams (its host's, host groups', service groups'): their contact "
        "groups are added to the contacts and contact groups named here.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    notification_option_letters = validation.SERVICE_NOTIFICATION_OPTIONS
    flap_option_letters = validation.SERVICE_FLAP_OPTIONS
    retry_interval_must_be_positive = True
    is_volatile = models.BooleanField(null=True, blank=True)

    class Meta:
        ordering = ["host__name", "description", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["host", "description"],
                condition=Q(host__isnull=False),
                name="unique_service_per_host",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.host.name if self.host else '(host groups)'}/{self.description}"

    def naemon_errors(self) -> dict[str, list[str]]:
        return (
            _check(
                "description", validation.check_name, self.description, what="description", allow_spaces=True
            )
            | self.check_errors()
        )

    def clean(self) -> None:
        errors = self.naemon_errors()
        if errors:
            raise ValidationError(errors)


class ServiceUse(models.Model):
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+")
    template = models.ForeignKey(ServiceTemplate, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["service", "template"], name="unique_service_use")]

    def __str__(self) -> str:
        return f"{self.service} uses {self.template} (#{self.position})"


class Deployment(models.Model):
    """One attempt to bring a node's running config to the registry's latest state."""

    node = models.ForeignKey(NaemonNode, on_delete=models.CASCADE, related_name="deployments")
    state = models.CharField(max_length=12, choices=DeploymentState.choices, default=DeploymentState.PENDING)
    triggered_by = models.CharField(
        max_length=255, blank=True, help_text="User, token or task that asked for it."
    )
    reason = models.CharField(max_length=255, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    summary = models.JSONField(
        default=dict, blank=True, help_text="What changed: objects added/removed/changed."
    )
    verify_output = models.TextField(blank=True)
    warnings = models.JSONField(
        default=list,
        blank=True,
        help_text="The verifier's warning lines (the config was accepted with them).",
    )
    reload_output = models.TextField(blank=True)
    confirmation = models.TextField(blank=True, help_text="How the reload was confirmed.")
    error = models.TextField(blank=True)
    force = models.BooleanField(default=False, help_text="Write and reload even if the content is unchanged.")
    covered_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="covered",
        help_text="The deployment whose run also brought this request's changes (coalescing).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["node", "state"]),
            # A node's history, newest first: the node list's "latest deployment" and the
            # deployment page read it on every (polled) load, over years of deployments.
            models.Index(fields=["node", "-created_at", "-id"], name="registry_deployment_history"),
        ]

    def __str__(self) -> str:
        return f"deployment {self.pk} of {self.node.name}: {self.state}"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class DeployedHostManager(models.Manager["DeployedHost"]):
    def ids_of(self, names: Iterable[str]) -> dict[str, int]:
        """Host name -> id of the registry hosts of these names (what a render put on a node)."""
        wanted = set(names)
        return {name: pk for name, pk in Host.objects.values_list("name", "pk") if name in wanted}

    def record(self, node: NaemonNode, placed: dict[str, int], deployment: Deployment | None = None) -> None:
        """The node now runs exactly these hosts (name -> registry id), as ``deployment`` confirmed."""
        for attempt in range(3):
            try:
                self._record(node, placed, deployment)
                return
            except IntegrityError:
                # A host deleted between reading the ids and the commit: read them again.
                if attempt == 2:
                    raise

    def _record(self, node: NaemonNode, placed: dict[str, int], deployment: Deployment | None) -> None:
        with transaction.atomic():
            current = {row.name: row for row in self.filter(node=node)}
            gone = [row.pk for name, row in current.items() if name not in placed]
            for start in range(0, len(gone), 1000):
                self.filter(pk__in=gone[start : start + 1000]).delete()
            # A host deleted since the render keeps its name here (it still runs) without an id.
            existing = set(Host.objects.values_list("pk", flat=True))
            changed, added = [], []
            for name, pk in placed.items():
                host_id = pk if pk in existing else None
                row = current.get(name)
                if row is None:
                    added.append(self.model(node=node, name=name, host_id=host_id, deployment=deployment))
                elif row.host_id != host_id:
                    row.host_id, row.deployment = host_id, deployment
                    changed.append(row)
            self.bulk_create(added, batch_size=1000)
            self.bulk_update(changed, ["host", "deployment"], batch_size=1000)


class DeployedHost(models.Model):
    """A host that a confirmed deployment put on a node: what gives its owners the right to act there.

    Rights on a live object follow from this row, not from the name alone: a registry host of
    the same name as an object the node monitors outside the registry never gets here (the
    duplicate fails the node's verify), and a new, renamed or moved host gets here only once
    the node confirmed a deploy that contains it. The row of a host deleted since keeps its
    name (``host`` null) until the next confirmed deploy removes it: the name is the portal's.
    """

    node = models.ForeignKey(NaemonNode, on_delete=models.CASCADE, related_name="deployed_hosts")
    name = models.CharField(max_length=255)
    host = models.ForeignKey(
        Host, null=True, blank=True, on_delete=models.SET_NULL, related_name="deployed_on"
    )
    deployment = models.ForeignKey(
        Deployment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The confirmed deployment that put this host there as it is (null: unknown or pruned).",
    )

    objects = DeployedHostManager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["node", "name"], name="unique_deployed_host")]

    def __str__(self) -> str:
        return f"{self.name} on {self.node_id}"


def nodes_for_hosts(hosts: Iterable[Host]) -> set[NaemonNode]:
    """Nodes whose config a change to these hosts touches: every master, and their pollers."""
    nodes = set(NaemonNode.objects.filter(enabled=True, role=NodeRole.MASTER))
    for host in hosts:
        poller = host.poller()
        if poller is not None and poller.enabled:
            nodes.add(poller)
    return nodes
