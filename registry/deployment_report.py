"""What the deployment page shows of one deployment: its timeline, verifier output, config diff.

Read-only: registry/deploy.py runs the pipeline and records it, registry/versions.py keeps the
versions on disk; this module turns both into what an operator reads. The times between
"rendering" and the end are not stored per phase: they are the start plus the phase durations
the run recorded (``summary["timings"]``), so they are exact to the run's own clock.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from registry.choices import DeploymentState, ReloadMethod
from registry.deploy import NOT_RELOADED, verifier_warnings
from registry.models import Deployment
from registry.render import FILES
from registry.versions import versions_dir

#: Bounds of the config diff: a page must stay readable and cheap even for a 50,000-host render.
DIFF_INPUT_BYTES = 4_000_000
DIFF_LINES = 3000

RENDERED_ONLY = "rendered only — no core attached"


def rendered_only(deployment: Deployment) -> bool:
    """Confirmed without a core: written and verified, never reloaded (the ``make run`` demo node)."""
    if deployment.state != DeploymentState.CONFIRMED:
        return False
    if deployment.confirmation == NOT_RELOADED:
        return True
    # A deployment covered by another carries "covered by ..." instead: the node's method tells.
    return deployment.covered_by_id is not None and deployment.node.reload_method == ReloadMethod.NONE


@dataclass(frozen=True)
class Step:
    """One phase of the timeline: ``status`` is done, current, failed, skipped or waiting."""

    name: str
    label: str
    status: str
    at: datetime | None = None


_ORDER = [DeploymentState.RENDERING, DeploymentState.VERIFYING, DeploymentState.RELOADING]


def timeline(deployment: Deployment) -> list[Step]:
    """pending → rendering → verifying → reloading → the end, each with its time where known."""
    d = deployment
    timings = (d.summary or {}).get("timings") or {}
    steps = [Step("pending", "requested", "done", d.created_at)]
    if d.state == DeploymentState.PENDING:
        return [
            *steps,
            *(Step(str(s), str(s), "waiting") for s in _ORDER),
            Step("end", "confirmed", "waiting"),
        ]
    start = d.started_at
    final = d.state in (DeploymentState.CONFIRMED, DeploymentState.FAILED, DeploymentState.SKIPPED)
    # Reached phases: from the state while it runs, from the recorded timings once it has ended.
    if final:
        reached = {
            DeploymentState.RENDERING: True,
            DeploymentState.VERIFYING: "write" in timings or "verify" in timings,
            DeploymentState.RELOADING: "reload" in timings,
        }
    else:
        upto = _ORDER.index(DeploymentState(d.state))
        reached = {s: i <= upto for i, s in enumerate(_ORDER)}

    def at(*phases: str) -> datetime | None:
        if start is None or not final:
            return None
        return start + timedelta(seconds=sum(float(timings.get(p) or 0) for p in phases))

    times = {
        DeploymentState.RENDERING: start,
        DeploymentState.VERIFYING: at("render", "write"),
        DeploymentState.RELOADING: at("render", "write", "verify"),
    }
    no_core = rendered_only(d)
    for phase in _ORDER:
        if phase == DeploymentState.RELOADING and no_core:
            steps.append(Step(str(phase), "reloading: skipped, no core attached", "skipped"))
        elif reached[phase]:
            current = not final and phase == d.state
            steps.append(Step(str(phase), str(phase), "current" if current else "done", times[phase]))
        else:
            steps.append(Step(str(phase), str(phase), "waiting" if not final else "not reached"))
    if d.state == DeploymentState.FAILED:
        steps.append(Step("end", "failed", "failed", d.finished_at))
    elif d.state == DeploymentState.SKIPPED:
        steps.append(Step("end", "skipped: content unchanged", "done", d.finished_at))
    elif no_core:
        steps.append(Step("end", RENDERED_ONLY, "skipped", d.finished_at))
    elif d.state == DeploymentState.CONFIRMED:
        steps.append(Step("end", "confirmed", "done", d.finished_at))
    else:
        steps.append(Step("end", "confirmed", "waiting"))
    return steps


def output_lines(deployment: Deployment) -> list[tuple[str, str]]:
    """The verifier's output line by line, each with its kind: ``warning``, ``error`` or ``""``."""
    warned = {line.strip() for line in [*deployment.warnings, *verifier_warnings(deployment.verify_output)]}
    lines = []
    for line in deployment.verify_output.splitlines():
        text = line.strip()
        kind = "warning" if text in warned else "error" if text.lower().startswith("error") else ""
        lines.append((line, kind))
    return lines


def other_warnings(deployment: Deployment) -> list[str]:
    """Warnings recorded beside the verifier's own (coverage gaps): not in its output, listed apart."""
    said = {line.strip() for line in deployment.verify_output.splitlines()}
    return [warning for warning in deployment.warnings if warning.strip() not in said]


@dataclass(frozen=True)
class ConfigDiff:
    """The rendered config against the version before it; ``reason`` says why there is none."""

    text: str = ""
    reason: str = ""
    previous: str = ""
    truncated: bool = False


def _read(directory: Path) -> dict[str, list[str]] | None:
    files: dict[str, list[str]] = {}
    size = 0
    for name in FILES:
        path = directory / name
        try:
            size += path.stat().st_size
            if size > DIFF_INPUT_BYTES:
                return None
            files[name] = path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
        except OSError:
            files[name] = []
    return files


def _previous(directory: Path, pk: int) -> Path | None:
    """The version that was live before ``pk``: the newest older one kept (failed ones are deleted)."""
    older: list[tuple[int, Path]] = []
    adopted: list[Path] = []
    for entry in directory.iterdir():
        if not entry.is_dir() or entry.is_symlink():
            continue
        if entry.name.isdigit() and int(entry.name) < pk:
            older.append((int(entry.name), entry))
        elif entry.name.startswith("initial"):
            adopted.append(entry)
    if older:
        return max(older)[1]
    return sorted(adopted)[-1] if adopted else None


def config_diff(deployment: Deployment) -> ConfigDiff:
    """A unified diff of the deployment's rendered files against the version live before it."""
    if deployment.state == DeploymentState.SKIPPED:
        return ConfigDiff(reason="nothing was written: the rendered content was unchanged")
    directory = versions_dir(deployment.node)
    own = directory / str(deployment.pk)
    if not own.is_dir():
        # Only the live version and the one before are kept (rollback); the node's files may
        # also live on another machine than this web server.
        return ConfigDiff(
            reason="this version is no longer kept on this server (only the live and the previous one are)"
        )
    before = _previous(directory, deployment.pk)
    new = _read(own)
    old = _read(before) if before is not None else {name: [] for name in FILES}
    if new is None or old is None:
        return ConfigDiff(
            reason=f"the configuration is larger than {DIFF_INPUT_BYTES // 1_000_000} MB: no diff"
        )
    lines: list[str] = []
    truncated = False
    for name in FILES:
        label = before.name if before is not None else "(nothing)"
        for line in difflib.unified_diff(old[name], new[name], f"{label}/{name}", f"{deployment.pk}/{name}"):
            if len(lines) >= DIFF_LINES:
                truncated = True
                break
            lines.append(line if line.endswith("\n") else line + "\n")
        if truncated:
            break
    previous = before.name if before is not None else ""
    if not lines:
        return ConfigDiff(reason="no difference to the previous version", previous=previous)
    return ConfigDiff(text="".join(lines), previous=previous, truncated=truncated)
