"""Models of the Status area: the record of every operator action sent to a Naemon node."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ActionKind(models.TextChoices):
    """What an operator asked a core to do."""

    ACKNOWLEDGE = "acknowledge", "acknowledge"
    REMOVE_ACKNOWLEDGEMENT = "remove_acknowledgement", "remove acknowledgement"
    DOWNTIME = "downtime", "schedule downtime"
    DELETE_DOWNTIME = "delete_downtime", "delete downtime"
    RECHECK = "recheck", "re-check (forced)"
    COMMENT = "comment", "comment"


class ActionOutcome(models.TextChoices):
    """How sending the command ended."""

    SENT = "sent", "sent"
    REJECTED = "rejected", "rejected by the core"
    FAILED = "failed", "not delivered"


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
    node = models.CharField(max_length=255, help_text="Name of the node the command went to.")
    arguments = models.JSONField(default=dict, blank=True)
    command = models.TextField(help_text="The command line as sent.")
    outcome = models.CharField(max_length=12, choices=ActionOutcome.choices)
    error = models.TextField(blank=True, help_text="The core's answer or the transport error.")
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["host_name", "service_description"])]

    def __str__(self) -> str:
        target = self.host_name + (f"/{self.service_description}" if self.service_description else "")
        return f"{self.kind} {target} by {self.username} on {self.node}: {self.outcome}"

    @property
    def ok(self) -> bool:
        """Whether the command reached the core without being refused."""
        return self.outcome == ActionOutcome.SENT
