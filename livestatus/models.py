"""Models of the Status area: the record of every operator action, and the copies still to deliver."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ActionKind(models.TextChoices):
    """What an operator asked a core to do."""

    ACKNOWLEDGE = "acknowledge", _("acknowledge")
    REMOVE_ACKNOWLEDGEMENT = "remove_acknowledgement", _("remove acknowledgement")
    DOWNTIME = "downtime", _("schedule downtime")
    DELETE_DOWNTIME = "delete_downtime", _("delete downtime")
    RECHECK = "recheck", _("re-check (forced)")
    COMMENT = "comment", _("comment")
    ENABLE_NOTIFICATIONS = "enable_notifications", _("enable notifications")
    DISABLE_NOTIFICATIONS = "disable_notifications", _("disable notifications")
    ENABLE_CHECKS = "enable_checks", _("enable active checks")
    DISABLE_CHECKS = "disable_checks", _("disable active checks")


class ActionOutcome(models.TextChoices):
    """How sending the command ended."""

    SENT = "sent", _("sent")
    REJECTED = "rejected", _("rejected by the core")
    FAILED = "failed", _("not delivered")


class ActionLog(models.Model):
    """One operator action: who asked what of which object on which node, and how it ended.

    A row is written for every command the portal tried to send. Requests refused before
    that (no permission, invalid input) send nothing and are not recorded here.
    """

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="livestatus_actions",
    )
    # Kept as text too: the record outlives the account.
    username = models.CharField(max_length=150)
    via = models.CharField(max_length=64, help_text="'page', or 'api' with the token's name.")
    kind = models.CharField(max_length=32, choices=ActionKind.choices)
    host_name = models.CharField(max_length=255)
    service_description = models.CharField(max_length=255, blank=True)
    node = models.CharField(
        max_length=255, help_text="Name of the first node the command went to (the object's checker)."
    )
    arguments = models.JSONField(default=dict, blank=True)
    command = models.TextField(help_text="The command line as sent.")
    outcome = models.CharField(
        max_length=12, choices=ActionOutcome.choices, help_text="On the first node (the checker)."
    )
    error = models.TextField(blank=True, help_text="The first node's answer or the transport error.")
    #: Every node the command went to, in order: {"node", "ok", "outcome", "error"} (NodeOutcome).
    deliveries = models.JSONField(default=list, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["host_name", "service_description"])]

    def __str__(self) -> str:
        target = self.host_name + (f"/{self.service_description}" if self.service_description else "")
        return f"{self.kind} {target} by {self.username} on {self.node}: {self.outcome}"

    @property
    def ok(self) -> bool:
        """Whether the command reached the first node (the checker) without being refused."""
        return self.outcome == ActionOutcome.SENT

    @property
    def complete(self) -> bool:
        """Whether every node the command went to took it (nothing left to retry or lost)."""
        return all(delivery.get("ok") for delivery in self.deliveries)


class NodeOutcome(models.TextChoices):
    """How an action ended on one node (``ActionLog.deliveries``)."""

    SENT = "sent", "sent"
    #: The core refused it (retrying will not help).
    REJECTED = "rejected", "rejected by the core"
    #: Not delivered; a PendingAction retries it.
    QUEUED = "queued", "not delivered yet: retried when the node answers"
    #: Not delivered and not retried (no way to reach the node, or it may have been applied).
    FAILED = "failed", "not delivered"
    #: Delivered by a retry (PendingAction).
    DELIVERED_LATER = "delivered_later", "delivered by a retry"
    #: The retries gave up (PendingAction older than the maximum age).
    EXPIRED = "expired", "given up"
    #: Nothing to do on that node (deleting a downtime that it has no copy of).
    NOTHING = "nothing", "nothing to do there"


class PendingState(models.TextChoices):
    """Where a PendingAction stands."""

    PENDING = "pending", "waiting for the node"
    DONE = "done", "delivered"
    REJECTED = "rejected", "rejected by the core"
    EXPIRED = "expired", "given up"


class PendingAction(models.Model):
    """A copy of an action that a node did not take; ``livestatus.tasks.retry_pending_actions``
    sends it again while the node does not answer, until it takes it or the copy is too old.

    The command keeps its first timestamp (``COMMAND [t]``): the core records it as the entry
    time of a downtime or comment, so a late copy is the same event as the others.
    """

    action = models.ForeignKey(
        ActionLog, null=True, blank=True, on_delete=models.SET_NULL, related_name="pending"
    )
    node = models.ForeignKey("registry.NaemonNode", on_delete=models.CASCADE, related_name="pending_actions")
    #: The command line as the core reads it: ``COMMAND [t] NAME;arg;...``.
    command = models.TextField()
    #: The same, to rebuild it: {"name", "args", "free_text_last", "timestamp"}.
    parts = models.JSONField()
    #: Deleting a downtime: the downtime to find on the node (its id there is not known before):
    #: {"host", "service", "author", "comment", "entry_time"}; null for every other command.
    downtime = models.JSONField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=PendingState.choices, default=PendingState.PENDING)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    #: When it was delivered, rejected or given up.
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["state", "node"])]

    def __str__(self) -> str:
        return f"{self.command} for {self.node}: {self.state}"


class SavedView(models.Model):
    """A status list as one user left it ("my views"): which list, and its query string.

    ``path`` is the list's URL path and ``query`` its filters, sort and grouping, both checked
    when saved (``livestatus.saved_views``) and again when opened: a view only ever leads to a
    status list of this portal, never to another site.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views")
    name = models.CharField(max_length=100)
    path = models.CharField(max_length=100, help_text="The status list, e.g. /status/services/.")
    query = models.CharField(max_length=2000, blank=True, help_text="Its query string, without '?'.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="saved_view_unique_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.path}?{self.query})"
