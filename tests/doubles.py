"""Test doubles: what the tests must not run for real, recorded instead (the deploy worker)."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from registry import tasks
from registry.choices import DeploymentState
from registry.models import Deployment


class DeployRecorder:
    """What the deploy path was asked, with no worker behind it.

    ``calls``: one entry (node names, reason) per ``request_deployments`` call; ``enqueued``:
    (node id, queue) per ``deploy_node`` message. With ``outcome`` set, a message finishes the
    node's pending deployments in that state, as a worker would (tests that need it use
    ``transactional_db`` so that on_commit runs).
    """

    def __init__(self) -> None:
        self.calls: list[tuple[set[str], str]] = []
        self.enqueued: list[tuple[int, str | None]] = []
        self.outcome: str | None = None
        self.verify_output = ""

    @property
    def nodes(self) -> set[str]:
        return {name for names, _ in self.calls for name in names}

    def apply_async(self, args: list[Any], queue: str | None = None, **kwargs: Any) -> None:
        """Stands in for ``deploy_node.apply_async``: records the message instead of sending it."""
        self.enqueued.append((args[0], queue))
        if self.outcome is not None:
            Deployment.objects.filter(node_id=args[0], state=DeploymentState.PENDING).update(
                state=self.outcome,
                verify_output=self.verify_output,
                started_at=timezone.now(),
                finished_at=timezone.now(),
            )


def stub_deploys(monkeypatch: pytest.MonkeyPatch) -> DeployRecorder:
    """Record ``request_deployments`` calls and the ``deploy_node`` messages they enqueue."""
    recorder = DeployRecorder()
    # The task object stays; only its sending is replaced (the real request_deployments runs).
    monkeypatch.setattr(tasks.deploy_node, "apply_async", recorder.apply_async)
    real = tasks.request_deployments

    def spy(nodes: Any, *, triggered_by: str, reason: str = "", force: bool = False) -> list[Deployment]:
        nodes = set(nodes)
        recorder.calls.append(({n.name for n in nodes}, reason))
        return real(nodes, triggered_by=triggered_by, reason=reason, force=force)

    monkeypatch.setattr(tasks, "request_deployments", spy)
    return recorder
