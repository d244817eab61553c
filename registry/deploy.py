"""The deploy pipeline: request deployments on write; render → stage → verify → swap → reload → confirm.

``request_deployments`` is what request code calls (inside its transaction). It coalesces:
a node with a deployment still ``pending`` gets that one back instead of a new one, and the
task renders the *latest* state when it runs, so a burst of writes costs a few deploys.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from registry.choices import DeploymentState
from registry.models import Deployment, NaemonNode


def request_deployments(nodes: Iterable[NaemonNode], *, triggered_by: str, reason: str = "") -> list[Deployment]:
    """Pending deployments for these nodes (reused when one is already pending); enqueued on commit."""
    from registry.tasks import deploy_node

    deployments = []
    for node in sorted({n for n in nodes if n.enabled}, key=lambda n: n.name):
        deployment = (
            Deployment.objects.select_for_update()
            .filter(node=node, state=DeploymentState.PENDING, started_at__isnull=True)
            .order_by("pk")
            .first()
        )
        if deployment is None:
            deployment = Deployment.objects.create(node=node, triggered_by=triggered_by[:255], reason=reason[:255])
        deployments.append(deployment)
        node_pk, queue = node.pk, node.queue
        transaction.on_commit(lambda pk=node_pk, q=queue: deploy_node.apply_async(args=[pk], queue=q))
    return deployments
