"""Choice lists of the registry."""

from django.db import models


class NodeRole(models.TextChoices):
    MASTER = "master", "master"
    POLLER = "poller", "poller"


class DriftPolicy(models.TextChoices):
    """What the drift check (registry/drift.py) does when a node runs other than it was deployed."""

    REPORT = "report", "report"
    REDEPLOY = "redeploy", "redeploy"


class ReloadMethod(models.TextChoices):
    LIVESTATUS = "livestatus", "Livestatus RESTART_PROGRAM"
    COMMAND_FILE = "command_file", "external command file"
    COMMAND = "command", "configured command"
    NONE = "none", "do not reload (render and verify only)"


class DeploymentState(models.TextChoices):
    PENDING = "pending", "pending"
    RENDERING = "rendering", "rendering"
    VERIFYING = "verifying", "verifying"
    RELOADING = "reloading", "reloading"
    CONFIRMED = "confirmed", "confirmed"
    FAILED = "failed", "failed"
    SKIPPED = "skipped", "skipped"


FINAL_DEPLOYMENT_STATES = frozenset(
    {DeploymentState.CONFIRMED, DeploymentState.FAILED, DeploymentState.SKIPPED}
)
