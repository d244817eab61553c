"""Drift: a node that runs something other than its latest confirmed deployment; found, shown, healed.

``check(node)`` runs on the node's own worker (``registry.tasks.check_node_drift``, queue
``naemon.<node>``, fanned out every ``DRIFT_CHECK_SECONDS``), because it reads the node's files.
It compares what is live with the node's latest confirmed deployment:

* **config**: the content hash of the files in the live version directory (the same digest as
  the renderer's, registry/versions.py) is not the deployment's, or the directory holds a
  ``.cfg`` file the portal did not write: a hand edit. The manifest is left as it was by a
  hand edit, so it is the files that are hashed.
* **core**: the core (re)started after the deployment was confirmed (``program_start`` over
  Livestatus, else the status file) and its host and service counts (Livestatus ``Stats``)
  differ from those it had while it ran that deployment (the *baseline*, taken at the first
  check after the deployment confirmed): it was started on another config, an older one.
* **failed**: the node's latest deployment failed, after the task's retries (it gave up).

The finding is recorded on the node's ``NodeHealth`` row (``drift``, ``drift_since``) and shown
on the node page and the wall. With the node's ``drift_policy`` "redeploy" (the default: the
portal is the source of truth, and the next deploy would overwrite a hand edit anyway; healing
now makes that happen when it is seen, not at some unrelated later change), config and core
drift request a forced deployment (written and reloaded even though the rendered content is
unchanged). A failed deployment is not redeployed here: the cluster watch retries those that
failed for a passing reason (registry/failover.py), and one that failed verification would fail
the same way again; a person retries it (``retry``) once something changed. While a deployment
is pending or running the check does nothing: the files and the core are in flux.

``redeploy`` and ``retry`` are the actions behind the node page's buttons and the API
(staff and operators); the deployment they create records who asked (``triggered_by``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from registry import runner
from registry.choices import FINAL_DEPLOYMENT_STATES, DeploymentState, DriftPolicy, ReloadMethod
from registry.failover import FOR_GOOD
from registry.models import Deployment, NaemonNode, NodeHealth
from registry.versions import MANIFEST, content_hash_on_disk, foreign_files, live_version

logger = logging.getLogger(__name__)

CONFIG = "config"
CORE = "core"
FAILED = "failed"
#: What each kind means, in a few words (the wall shows these: no paths, no error texts).
LABELS = {
    CONFIG: "config edited on the node",
    CORE: "core runs another config",
    FAILED: "last deployment failed",
}
TRIGGERED_BY = "drift check"
COUNT_TIMEOUT = 10.0

RequestDeployments = Callable[..., list[Deployment]]


@dataclass(frozen=True)
class Drift:
    """One way in which a node differs from its latest confirmed deployment."""

    kind: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "detail": self.detail[:500]}


class Refused(Exception):
    """A redeploy or retry that cannot be done; the message says why (a 409 for the API)."""


# -- finding -----------------------------------------------------------------------------


def latest_confirmed(node: NaemonNode) -> Deployment | None:
    """The deployment whose content the node should run: the newest confirmed run (not a covered row)."""
    return (
        Deployment.objects.filter(node=node, state=DeploymentState.CONFIRMED, covered_by__isnull=True)
        .exclude(content_hash="")
        .order_by("-finished_at", "-pk")
        .first()
    )


def _live_directory(node: NaemonNode) -> Path | None:
    version = live_version(node)
    if version is not None:
        return version
    directory = Path(node.config_dir)
    return directory if directory.is_dir() else None


def _hand_edited(directory: Path) -> list[str]:
    """The portal's files changed after the version was written (its manifest is written last)."""
    try:
        written = (directory / MANIFEST).stat().st_mtime
    except OSError:
        return []
    changed = []
    for entry in sorted(os.listdir(directory)):
        try:
            if entry.endswith(".cfg") and (directory / entry).stat().st_mtime > written:
                changed.append(entry)
        except OSError:
            continue
    return changed


def config_drift(node: NaemonNode, confirmed: Deployment) -> Drift | None:
    """The live files against the confirmed deployment's content hash."""
    directory = _live_directory(node)
    if directory is None:
        return Drift(CONFIG, f"{node.config_dir} is missing; deployment {confirmed.pk} was confirmed there")
    on_disk = content_hash_on_disk(directory)
    extra = foreign_files(directory)
    if on_disk == confirmed.content_hash and not extra:
        return None
    parts = []
    if on_disk is None:
        parts.append("a config file is missing")
    elif on_disk != confirmed.content_hash:
        edited = _hand_edited(directory)
        parts.append(f"changed: {', '.join(edited)}" if edited else "the files differ")
    if extra:
        parts.append(f"not written by the portal: {', '.join(extra[:10])}")
    return Drift(
        CONFIG, f"{directory} differs from deployment {confirmed.pk} ({'; '.join(parts)}): edited by hand?"
    )


def core_counts(node: NaemonNode) -> runner.CoreCounts | None:
    """What the core runs now (None: it does not answer, or the node has no way to ask)."""
    try:
        if node.livestatus:
            return runner.livestatus_core_counts(node.livestatus, timeout=COUNT_TIMEOUT)
        if node.status_file:
            status = runner.read_status_file(node.status_file)
            return runner.CoreCounts(status.program_start, len(status.hosts), len(status.services))
    except runner.RunnerError as exc:
        # A core that does not answer is the cluster watch's business (it marks the node down).
        logger.info("drift check of %s: the core does not answer (%s)", node.name, exc)
    return None


def core_drift(
    node: NaemonNode, confirmed: Deployment, counts: runner.CoreCounts, baseline: dict[str, Any]
) -> tuple[Drift | None, dict[str, Any]]:
    """The core's counts against the baseline of the confirmed deployment; returns the baseline to keep."""
    if confirmed.finished_at is None or counts.program_start is None:
        return None, baseline
    now = {"hosts": counts.hosts, "services": counts.services}
    if baseline.get("deployment") != confirmed.pk:
        # The first look since it confirmed: what the core runs now is what the confirmation
        # checked (unless it restarted in between, which a check every minute rarely misses).
        return None, {"deployment": confirmed.pk, "program_start": counts.program_start, **now}
    restarted = counts.program_start > max(int(confirmed.finished_at.timestamp()), baseline["program_start"])
    expected = {"hosts": baseline.get("hosts"), "services": baseline.get("services")}
    if not restarted or now == expected:
        return None, baseline
    started = timezone.localtime(datetime.fromtimestamp(counts.program_start, tz=UTC))
    return Drift(
        CORE,
        f"the core restarted at {started:%Y-%m-%d %H:%M:%S}, after deployment {confirmed.pk} was "
        f"confirmed, and runs {counts.hosts} hosts and {counts.services} services instead of "
        f"{expected['hosts']} and {expected['services']}: it was started on another config",
    ), baseline


def failed_drift(latest: Deployment) -> Drift | None:
    if latest.state != DeploymentState.FAILED:
        return None
    first_line = latest.error.splitlines()[0] if latest.error else "no error recorded"
    return Drift(FAILED, f"deployment {latest.pk} failed: {first_line}")


def find(node: NaemonNode, baseline: dict[str, Any]) -> tuple[list[Drift], dict[str, Any]] | None:
    """Every drift of ``node`` now and the baseline to keep; None while a deployment is under way."""
    latest = Deployment.objects.filter(node=node).order_by("-created_at", "-pk").first()
    if latest is None:
        return [], baseline
    if latest.state not in FINAL_DEPLOYMENT_STATES:
        return None
    found = [d for d in (failed_drift(latest),) if d]
    confirmed = latest_confirmed(node)
    if confirmed is None:
        return found, baseline
    config = config_drift(node, confirmed)
    if config:
        found.insert(0, config)
    # A core the portal never reloads picks a new config up whenever it is restarted: not drift.
    if node.reload_method != ReloadMethod.NONE:
        counts = core_counts(node)
        if counts is not None:
            core, baseline = core_drift(node, confirmed, counts, baseline)
            if core:
                found.insert(1 if config else 0, core)
    return found, baseline


# -- recording and healing ---------------------------------------------------------------------


def check(node_id: int, *, request: RequestDeployments, now: datetime | None = None) -> list[Drift] | None:
    """Look for drift on one node, record it, and redeploy if its policy says so (None: not checked).

    ``request`` is ``registry.tasks.request_deployments`` (passed in: the task module imports this one).
    """
    node = NaemonNode.objects.filter(pk=node_id, enabled=True).first()
    if node is None:
        return None
    now = now or timezone.now()
    health, _ = NodeHealth.objects.get_or_create(node=node, defaults={"since": now})
    result = find(node, dict(health.drift_baseline or {}))
    if result is None:
        return None
    found, baseline = result
    kinds = {d.kind for d in found}
    fields: dict[str, Any] = {
        "drift": [d.as_dict() for d in found],
        "drift_checked_at": now,
        "drift_baseline": baseline,
        "drift_since": (health.drift_since or now) if found else None,
    }
    with transaction.atomic():
        # Only the drift fields: the cluster watch writes the others of the same row.
        NodeHealth.objects.filter(pk=health.pk).update(**fields)
        healing = _heal(node, found, request) if kinds & {CONFIG, CORE} else None
    if found:
        logger.warning(
            "drift on node %s: %s%s",
            node.name,
            "; ".join(d.detail for d in found),
            f"; redeploying (deployment {healing.pk})" if healing else "",
        )
    return found


def _heal(node: NaemonNode, found: list[Drift], request: RequestDeployments) -> Deployment | None:
    if node.drift_policy != DriftPolicy.REDEPLOY:
        return None
    latest = Deployment.objects.filter(node=node).order_by("-created_at", "-pk").first()
    if latest is not None and latest.state == DeploymentState.FAILED and latest.error.startswith(FOR_GOOD):
        # The registry's state does not verify: a redeploy would fail the same way, every check.
        return None
    reason = "drift: " + "; ".join(LABELS[d.kind] for d in found if d.kind in (CONFIG, CORE))
    return request([node], triggered_by=TRIGGERED_BY, reason=reason, force=True)[0]


# -- actions (node page and API) ----------------------------------------------------------


def redeploy(node: NaemonNode, *, by: str, request: RequestDeployments) -> Deployment:
    """Redeploy the node now, written and reloaded even if nothing changed; ``by`` is recorded."""
    if not node.enabled:
        raise Refused(f"node {node.name} is disabled: enable it before redeploying it")
    with transaction.atomic():
        return request([node], triggered_by=by, reason=f"redeploy asked by {by}", force=True)[0]


def retry(deployment: Deployment, *, by: str, request: RequestDeployments) -> Deployment:
    """Try a failed deployment again (the node's latest one, after its retries ran out)."""
    node = deployment.node
    if deployment.state != DeploymentState.FAILED:
        raise Refused(f"deployment {deployment.pk} is {deployment.state}: only a failed one is retried")
    latest = Deployment.objects.filter(node=node).order_by("-created_at", "-pk").first()
    if latest is not None and latest.pk != deployment.pk:
        raise Refused(
            f"deployment {deployment.pk} is not {node.name}'s latest ({latest.pk} is, {latest.state}): "
            "the latest state is deployed by that one"
        )
    if not node.enabled:
        raise Refused(f"node {node.name} is disabled: enable it before retrying its deployment")
    with transaction.atomic():
        return request([node], triggered_by=by, reason=f"retry of deployment {deployment.pk} by {by}")[0]


# -- reading (node page, wall) ---------------------------------------------------------------


def node_drift(names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Per node with drift: its kinds, in words, and since when (epoch); for the wall (kiosk-safe)."""
    rows = NodeHealth.objects.filter(node__name__in=list(names)).select_related("node")
    return {
        row.node.name: {
            "kinds": [LABELS.get(d.get("kind", ""), "drift") for d in row.drift],
            "since": row.drift_since.timestamp() if row.drift_since else None,
        }
        for row in rows
        if row.drift
    }
