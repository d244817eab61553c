"""The deploy pipeline: render → stage → verify → swap → reload → confirm, recorded as it goes.

Request code asks for deployments with ``registry.tasks.request_deployments`` (inside its
transaction); it coalesces: a node with a deployment still ``pending`` gets that one back
instead of a new one, and the task renders the *latest* state when it runs, so a burst of
writes costs a few deploys.

``deploy(node_id)`` is the task's body, run by the node's own worker (queue ``naemon.<node>``):

* One run per node at a time: a Redis lock (``REDIS_URL``), else an flock on a file in the
  node's versions directory. Runs start at least ``DEPLOY_MIN_INTERVAL`` seconds after the
  node's previous run ended (``_pace``): the writes of a burst gather into one reload. A run that finds the lock taken returns at once; the holder
  looks for pending deployments after it lets go and has the task enqueue another run if
  there are any (``follow_up``: this module knows nothing of Celery).
* In one transaction it locks the node's pending deployments (``SELECT ... FOR UPDATE SKIP
  LOCKED``: one a write transaction still holds is left to a later run), claims the oldest
  (state ``rendering``) and marks the others, all created before it started, as covered by
  it (``covered_by``): they follow its state to the same end. It renders after the claim,
  so whatever those requests wrote is in the render.
* On disk (registry/versions.py), ``config_dir`` is a symlink to
  ``<config_dir>.versions/<deployment id>``. A new version is written and verified there
  (with a copy of the main config whose ``cfg_dir`` points at it) and swapped in atomically.
  The previous version is kept for rollback; older ones are deleted. Each version's manifest
  (content hash, a CRC per host and service) is what "what changed" is computed against.
* Reload by the node's method, then confirm, over Livestatus where the node has it, else from
  the status file: ``program_start`` moves, every rendered host and service is listed (a
  service on host groups once per member host, by host name and description) and the hosts
  and services the previous version had and this one has not are gone. Objects the core
  lists beyond those (the renderer's placeholders, a site's own static files) are not
  looked at. A failed reload or confirmation swaps the previous version back and reloads
  again; the deployment ends ``failed`` with the reason ("reloaded, but the core does not
  list: ..."): a core that does not run what was rendered is not a confirmed deploy.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shlex
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from monitoring_portal import counters, redis_client, tracing
from registry import coverage, runner
from registry.choices import FINAL_DEPLOYMENT_STATES, DeploymentState, ReloadMethod
from registry.models import DeployedHost, Deployment, NaemonNode
from registry.render import Rendered, State, render_state
from registry.state import load_snapshot
from registry.validation import NaemonValueError
from registry.versions import (
    ServiceCheck,
    adopt,
    content_hash_on_disk,
    live_version,
    manifest_services,
    point,
    prune,
    read_manifest,
    staged_includes,
    staged_main_config,
    stanza_cache,
    versions_dir,
    write_version,
)

logger = logging.getLogger(__name__)

#: The confirmation of a node without a core (reload method none): rendered, never run.
NOT_RELOADED = "config swapped in; not reloaded (reload method none)"

# Seconds. Module constants so a test (or a slow site) can change them in one place.
VERIFY_TIMEOUT = 120.0
RELOAD_TIMEOUT = 30.0
CONFIRM_TIMEOUT = 120.0
# After the core restarted, how long it may still list other objects than expected before the
# confirmation gives up: a restarted core lists its new objects at once (Livestatus, and the
# first status file it writes), so a mismatch that outlasts this is not going to heal.
CONFIRM_GRACE = 10.0
LOCK_WAIT = 2.0
# The Redis lock's lifetime; a live run renews it every LOCK_TTL / 4 seconds. Short, so that the lock
# of a worker killed mid-run (SIGKILL, a lost machine) frees itself within seconds, not at the
# task's time limit: the restarted worker resumes the node at once (registry/tasks.py).
LOCK_TTL = 15
SUMMARY_NAMES = 100


class TransientDeployError(Exception):
    """A deploy could not run for now (lock service, verifier timeout): the task retries it."""


class NotConfirmed(runner.RunnerError):
    """The core restarted after the reload, but it does not run what was rendered."""


# --- locking ------------------------------------------------------------------------------


@contextmanager
def node_lock(node: NaemonNode, *, wait: float | None = None) -> Iterator[bool]:
    """Hold the node's deploy lock; yields False when another run holds it (after ``wait`` seconds)."""
    wait = LOCK_WAIT if wait is None else wait
    if settings.REDIS_URL:
        client = redis_client.client()
        assert client is not None  # REDIS_URL is set
        # thread_local=False: the keeper thread renews the lock; with redis-py's default each
        # thread has its own token, the keeper none, and the renewal failed after one TTL.
        lock = client.lock(
            f"portal:registry:deploy:{node.pk}", timeout=LOCK_TTL, blocking_timeout=wait, thread_local=False
        )
        acquired = bool(lock.acquire())
        stop = threading.Event()
        keeper = threading.Thread(target=_keep_lock, args=(lock, stop, node.name), daemon=True)
        if acquired:
            keeper.start()
        try:
            yield acquired
        finally:
            stop.set()
            if acquired:
                keeper.join()
                try:
                    lock.release()
                except redis.exceptions.LockError:
                    logger.warning("deploy lock of node %s expired before the run ended", node.name)
        return
    directory = versions_dir(node)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "a") as handle:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.05)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _keep_lock(lock: Any, stop: threading.Event, node_name: str) -> None:
    """Renew the deploy lock until ``stop`` is set; it dies with the process, and the lock soon after."""
    while not stop.wait(LOCK_TTL / 4):
        try:
            lock.reacquire()
        except (redis.exceptions.LockError, redis.exceptions.RedisError) as exc:
            # Redis restarted (the lock is gone) or unreachable: the run goes on, as before the
            # lock expired; the claim's row locks still keep two runs from taking the same rows.
            logger.warning("deploy lock of node %s could not be renewed: %s", node_name, exc)
            return


def pause_point(phase: str) -> None:
    """A test hook (tests/faults/): block at ``phase`` while PORTAL_FAULT_PAUSE_AT names it.

    The worker then opens PORTAL_FAULT_FIFO for reading, which blocks until the test opens it for
    writing: the test knows the run is parked there (a real process boundary) and kills the
    worker. Unset, as everywhere but those tests, this does nothing.
    """
    if os.environ.get("PORTAL_FAULT_PAUSE_AT") != phase:
        return
    with open(os.environ["PORTAL_FAULT_FIFO"], "rb") as fifo:
        fifo.read(1)


# --- the run ------------------------------------------------------------------------------


class _Run:
    """One deploy of one node: the claimed deployment and the ones it covers, saved as it goes."""

    def __init__(self, deployment: Deployment, covered: list[int]) -> None:
        self.deployment = deployment
        self.covered = covered
        self.node = deployment.node
        self.timings: dict[str, float] = {}
        # Host name -> registry id as rendered: recorded once confirmed (it grants action rights).
        self.placed: dict[str, int] | None = None

    def save(self, **fields: Any) -> None:
        """Save fields now (so GET shows progress); covered deployments follow state changes."""
        for name, value in fields.items():
            setattr(self.deployment, name, value)
        Deployment.objects.filter(pk=self.deployment.pk).update(**fields)
        follow = {k: v for k, v in fields.items() if k in ("state", "finished_at", "content_hash")}
        if self.covered and follow:
            Deployment.objects.filter(pk__in=self.covered).update(**follow)

    def finish(self, state: str, **fields: Any) -> None:
        summary = dict(fields.pop("summary", self.deployment.summary) or {})
        summary["timings"] = {k: round(v, 3) for k, v in self.timings.items()}
        if self.covered:
            summary["covers"] = self.covered
        if state in (DeploymentState.CONFIRMED, DeploymentState.SKIPPED) and self.placed is not None:
            # Before the final state: a client that saw "confirmed" may act on these hosts at
            # once. Skipped: the live version is this very content, so it runs these hosts too.
            DeployedHost.objects.record(self.node, self.placed, self.deployment)
        self.save(state=state, finished_at=timezone.now(), summary=summary, **fields)
        counters.add(counters.DEPLOYMENTS_FINISHED, (self.node.name, state))
        for phase, seconds in self.timings.items():
            counters.observe(counters.DEPLOY_PHASE, (self.node.name, phase), seconds)
        if self.covered:
            text = f"covered by deployment {self.deployment.pk}"
            extra = {"error": fields["error"][:2000]} if fields.get("error") else {}
            Deployment.objects.filter(pk__in=self.covered).update(confirmation=text, **extra)
        logger.info(
            "deployment %s of node %s: %s (%s)",
            self.deployment.pk,
            self.node.name,
            state,
            fields.get("error") or fields.get("confirmation", ""),
        )

    def time(self, step: str, start: float) -> None:
        self.timings[step] = self.timings.get(step, 0.0) + time.monotonic() - start


def claim(node: NaemonNode) -> _Run | None:
    """Claim the node's oldest pending deployment and cover the other pending ones; None: nothing to do.

    A pending deployment that a write transaction still holds (``request_deployments`` locks
    the one it reuses) is skipped, not waited for: its changes are not committed yet, so this
    run cannot bring them; the next run will. Not waiting also means no lock cycle with
    concurrent writes (they lock one pending row each, this locks the rest at once).
    """
    now = timezone.now()
    # Under the node lock no other run is active: anything mid-way was interrupted (worker lost).
    interrupted = Deployment.objects.filter(node=node).exclude(
        state__in=(*FINAL_DEPLOYMENT_STATES, DeploymentState.PENDING)
    )
    first = interrupted.order_by("pk").values_list("pk", flat=True).first()
    if first is not None:
        interrupted.update(
            state=DeploymentState.FAILED,
            finished_at=now,
            error="the run was interrupted (worker lost or killed)",
        )
        # What it was bringing is not confirmed, and the files may be swapped while the core still
        # runs the previous ones: run it again, forced (written and reloaded whatever the hashes say).
        Deployment.objects.create(
            node=node, triggered_by="interrupted run", reason=f"resume of deployment {first}", force=True
        )
    with transaction.atomic():
        pending = list(
            Deployment.objects.select_for_update(skip_locked=True)
            .filter(node=node, state=DeploymentState.PENDING)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not pending:
            return None
        primary, covered = pending[0], pending[1:]
        Deployment.objects.filter(pk=primary).update(
            state=DeploymentState.RENDERING, started_at=now, error=""
        )
        if covered:
            Deployment.objects.filter(pk__in=covered).update(
                state=DeploymentState.RENDERING, started_at=now, covered_by_id=primary
            )
    deployment = Deployment.objects.select_related("node").get(pk=primary)
    return _Run(deployment, covered)


def _names_diff(old: dict[str, Any], new: dict[str, int]) -> dict[str, Any]:
    added = sorted(new.keys() - old.keys())
    removed = sorted(old.keys() - new.keys())
    changed = sorted(k for k in new.keys() & old.keys() if old[k] != new[k])
    result: dict[str, Any] = {"added": len(added), "removed": len(removed), "changed": len(changed)}
    for label, names in (("added", added), ("removed", removed), ("changed", changed)):
        result[f"{label}_names"] = names[:SUMMARY_NAMES]
    return result


def summarize(old_manifest: dict[str, Any], rendered: Rendered) -> dict[str, Any]:
    """Hosts and services added, removed and changed against the live version's manifest."""
    return {
        "baseline": old_manifest.get("deployment", "none"),
        "hosts": _names_diff(old_manifest.get("hosts") or {}, rendered.hosts),
        "services": _names_diff(old_manifest.get("services") or {}, rendered.services),
    }


def expected_services(state: State) -> set[ServiceCheck]:
    """The services the core will list for this state: a service on host groups once per member host.

    Membership is the hosts' own ``hostgroups`` (the only way the renderer puts a host in a
    group), so this is exactly what the core expands; a host both named and in a group counts
    once, like in the core.
    """
    members: dict[str, list[str]] = {}
    for host in state.hosts:
        for group in host.get("hostgroups") or ():
            members.setdefault(group, []).append(host["name"])
    result: set[ServiceCheck] = set()
    for row in state.services:
        description = row["description"]
        if row.get("host"):
            result.add((row["host"], description))
        for group in row.get("hostgroups") or ():
            result.update((name, description) for name in members.get(group, ()))
    return result


# Naemon refuses to run as root, even to verify (src/naemon/naemon.c: it prints this and exits 1
# unless started with --allow-root); Nagios 4 drops to nagios_user instead.
NAEMON_ROOT_REFUSAL = "ERROR: do not start naemon as root user."
# A verifier warning: Naemon and Nagios print "Warning: ..." (config, objects), Naemon with
# --allow-root "WARNING: you are running as root ...".
_WARNING = re.compile(r"^\s*warning:", re.IGNORECASE)


def verifier_warnings(output: str) -> list[str]:
    """The warning lines of the verifier's output, in order (what a deploy records and shows)."""
    return [line.strip() for line in output.splitlines() if _WARNING.match(line)]


def verification_error(result: runner.CommandResult) -> str:
    """The deployment's error for a verifier that exited non-zero: what failed, and what to do if we know."""
    error = f"verification failed (exit {result.returncode}); the live config is unchanged"
    if NAEMON_ROOT_REFUSAL in result.output:
        error += (
            ". Naemon refuses to run as root, even to verify: run this node's worker as the core's user "
            "(e.g. naemon), or add --allow-root to the node's verify command "
            "(naemon --allow-root -v {main_config})"
        )
    return error


def verify_argv(node: NaemonNode, main_config: Path) -> list[str]:
    """The node's verify command, split like a shell would (no shell runs it), {main_config} filled in."""
    argv = shlex.split(node.verify_command)
    if not any("{main_config}" in arg for arg in argv):
        raise runner.RunnerError("verify_command has no {main_config} placeholder", retryable=False)
    return [arg.replace("{main_config}", str(main_config)) for arg in argv]


def core_status(
    node: NaemonNode, *, started_after: int | None = None, objects: bool = True
) -> runner.CoreStatus | None:
    """The core's status from Livestatus, else its status file; None when the node has neither.

    ``objects=False``: only ``program_start`` is wanted. Hosts and services are left empty
    while the core has not restarted after ``started_after``.
    """
    if node.livestatus:
        return runner.livestatus_core_status(
            node.livestatus, timeout=RELOAD_TIMEOUT, started_after=started_after, objects=objects
        )
    if node.status_file:
        return runner.read_status_file(node.status_file, started_after=started_after, objects=objects)
    return None


def reload_core(node: NaemonNode) -> str:
    """Ask the core to re-read its config; returns what to record as reload output."""
    command = f"[{int(time.time())}] RESTART_PROGRAM"
    if node.reload_method == ReloadMethod.LIVESTATUS:
        if not node.livestatus:
            raise runner.RunnerError(
                "reload method is livestatus but the node has no address", retryable=False
            )
        return runner.livestatus_restart(node.livestatus, timeout=RELOAD_TIMEOUT)
    if node.reload_method == ReloadMethod.COMMAND_FILE:
        if not node.command_file:
            raise runner.RunnerError("reload method is command_file but the node has none", retryable=False)
        runner.send_external_command(node.command_file, command, timeout=RELOAD_TIMEOUT)
        return f"wrote {command} to {node.command_file}"
    if node.reload_method == ReloadMethod.COMMAND:
        result = runner.run(shlex.split(node.reload_command), timeout=RELOAD_TIMEOUT)
        if result.returncode != 0:
            raise runner.RunnerError(
                f"reload command exited {result.returncode}", retryable=False, output=result.output
            )
        return f"$ {node.reload_command}\n{result.output}"
    return "reload method none"


@dataclass
class Expectation:
    """What the core must show after a reload: hosts by name, services as (host, description)."""

    started_after: int | None
    present: set[str]
    absent: set[str]
    services: set[ServiceCheck] = field(default_factory=set)
    services_absent: set[ServiceCheck] = field(default_factory=set)


def _sample(items: set[Any], limit: int = 10) -> str:
    shown = sorted(items)[:limit]
    text = ", ".join(f"{i[0]}/{i[1]}" if isinstance(i, tuple) else str(i) for i in shown)
    return text + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _differences(expect: Expectation, status: runner.CoreStatus) -> list[str]:
    """What the core shows against what it should, one phrase per kind; empty: as expected."""
    found = []
    for label, wanted, listed, present in (
        ("hosts", expect.present, status.hosts, True),
        ("services", expect.services, status.services, True),
        ("removed hosts", expect.absent, status.hosts, False),
        ("removed services", expect.services_absent, status.services, False),
    ):
        wrong = wanted - listed if present else wanted & listed
        if wrong:
            verb = "does not list" if present else "still lists"
            found.append(f"{verb} {len(wrong)} {label}: {_sample(wrong)}")
    return found


def confirm(node: NaemonNode, expect: Expectation, *, timeout: float) -> str:
    """Poll the core until it restarted after the reload and lists what it should; returns how.

    Raises a retryable RunnerError when the core has not restarted within ``timeout``, and
    NotConfirmed ("reloaded, but the core does not list: ...") when it restarted but still
    shows other objects than expected after ``CONFIRM_GRACE`` seconds.
    """
    if not node.livestatus and not node.status_file:
        return "reloaded; not confirmed: the node has neither livestatus nor status_file"
    source = f"Livestatus {node.livestatus}" if node.livestatus else f"status file {node.status_file}"
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    moved_at: float | None = None
    while True:
        try:
            status = core_status(node, started_after=expect.started_after)
        except runner.RunnerError as exc:
            if not exc.retryable:
                raise
            last = str(exc)
        else:
            assert status is not None  # the node has livestatus or status_file: checked above
            moved = status.restarted_after(expect.started_after)
            restart = f"program_start {expect.started_after} -> {status.program_start}"
            if not moved:
                last = f"program_start {status.program_start} (before the reload: {expect.started_after})"
            else:
                wrong = _differences(expect, status)
                if not wrong:
                    return (
                        f"{source}: {restart}; lists all {len(expect.present)} hosts and "
                        f"{len(expect.services)} services rendered ({len(status.hosts)} hosts, "
                        f"{len(status.services)} services in all); {len(expect.absent)} removed hosts "
                        f"and {len(expect.services_absent)} removed services gone"
                    )
                moved_at = time.monotonic() if moved_at is None else moved_at
                if time.monotonic() - moved_at >= CONFIRM_GRACE:
                    raise NotConfirmed(
                        f"reloaded ({restart}), but the core {'; '.join(wrong)} (by {source})",
                        retryable=False,
                    )
                last = f"{restart}; the core {'; '.join(wrong)}"
        if time.monotonic() >= deadline:
            raise runner.RunnerError(
                f"the reload was not confirmed within {timeout:.0f}s by {source}: {last}", retryable=True
            )
        time.sleep(0.2 if moved_at is None else 0.5)


def _status_before(node: NaemonNode) -> int | None:
    try:
        status = core_status(node, objects=False)
    except runner.RunnerError:
        return None
    return status.program_start if status else None


def _wait_past(program_start: int | None) -> None:
    # program_start has one-second resolution: a restart in the same second would not show.
    if program_start is None:
        return
    while int(time.time()) <= program_start:
        time.sleep(0.05)


def _reload_and_confirm(node: NaemonNode, expect: Expectation, run: _Run | None = None) -> tuple[str, str]:
    start = time.monotonic()
    _wait_past(expect.started_after)
    counters.add(counters.RELOADS, (node.name,))
    try:
        output = reload_core(node)
    finally:
        if run is not None:
            run.time("reload", start)
    pause_point("reloading")
    start = time.monotonic()
    try:
        return output, confirm(node, expect, timeout=CONFIRM_TIMEOUT)
    except runner.RunnerError as exc:
        exc.output = exc.output or output  # what the reload said belongs on the deployment
        raise
    finally:
        if run is not None:
            run.time("confirm", start)


def run_deployment(run: _Run, *, final_attempt: bool = True) -> None:
    """Render, stage, verify, swap, reload and confirm; every outcome is saved on the deployment."""
    node = run.node
    start = time.monotonic()
    try:
        state = load_snapshot(node)
        # The live version's blocks: a host or service whose input did not change is not rendered again.
        cache = stanza_cache(live_version(node))
        rendered = render_state(state, node.notify_paths(), node_name=node.name, cache=cache)
        del cache
        services = expected_services(state)
        # The rows are the biggest thing in memory after the blocks: not kept through verify and reload.
        del state
    except NaemonValueError as exc:
        run.time("render", start)
        run.finish(DeploymentState.FAILED, error=f"rendering failed: {exc}")
        return
    run.time("render", start)
    run.save(content_hash=rendered.content_hash)
    run.placed = DeployedHost.objects.ids_of(rendered.hosts)

    config_dir = Path(node.config_dir)
    versions = versions_dir(node)
    versions.mkdir(parents=True, exist_ok=True)
    adopt(node)
    previous = live_version(node)
    live = read_manifest(previous)
    last = (
        Deployment.objects.filter(node=node, state=DeploymentState.CONFIRMED, covered_by__isnull=True)
        .exclude(content_hash="")
        .order_by("-finished_at", "-pk")
        .first()
    )
    # A forced run (a redeploy asked for, drift healing) writes and reloads whatever the hashes say.
    forced = run.deployment.force or Deployment.objects.filter(pk__in=run.covered, force=True).exists()
    if (
        not forced
        and last
        and last.content_hash == rendered.content_hash
        and live.get("content_hash") == rendered.content_hash
        # A hand edit leaves the manifest as it was: the files themselves must match too.
        and previous is not None
        and content_hash_on_disk(previous) == rendered.content_hash
    ):
        run.finish(
            DeploymentState.SKIPPED,
            summary={"baseline": last.pk, "unchanged": True},
            confirmation=f"content unchanged since deployment {last.pk}: nothing written, no reload",
        )
        return
    summary = summarize(live, rendered)
    run.save(summary=summary)
    # Hosts this deploy adds about which nobody would be told: a warning, not a silent green.
    gaps = coverage.deployment_warnings(set(rendered.hosts) - set(live.get("hosts") or {}))

    staged = versions / str(run.deployment.pk)
    main_copy = versions / f"verify-{run.deployment.pk}.cfg"
    swapped = False
    try:
        start = time.monotonic()
        write_version(staged, rendered, run.deployment.pk, services)
        run.time("write", start)
        run.save(state=DeploymentState.VERIFYING)
        start = time.monotonic()
        if node.verify_command.strip():
            main_copy.write_text(staged_main_config(node, staged), encoding="utf-8", errors="surrogateescape")
            main_copy.chmod(0o644)
            result = runner.run(verify_argv(node, main_copy), timeout=VERIFY_TIMEOUT)
            run.time("verify", start)
            run.save(
                verify_output=f"$ {' '.join(result.argv)}\n{result.output}",
                warnings=verifier_warnings(result.output) + gaps,
            )
            if result.returncode != 0:
                counters.add(counters.VERIFY_FAILURES, (node.name,))
                run.finish(DeploymentState.FAILED, error=verification_error(result))
                return
        else:
            run.save(verify_output="not verified: the node has no verify_command", warnings=gaps)

        pause_point("staged")
        point(config_dir, staged)
        swapped = True
        pause_point("swapped")
        if node.reload_method == ReloadMethod.NONE:
            prune(node, [staged, previous])
            run.finish(DeploymentState.CONFIRMED, confirmation=NOT_RELOADED)
            return

        run.save(state=DeploymentState.RELOADING)
        expect = Expectation(
            started_after=_status_before(node),
            present=set(rendered.hosts),
            absent=set(live.get("hosts") or {}) - set(rendered.hosts),
            services=services,
            services_absent=manifest_services(live) - services,
        )
        try:
            output, confirmation = _reload_and_confirm(node, expect, run)
        except runner.RunnerError as exc:
            run.save(reload_output=exc.output or str(exc))
            if exc.core_down:
                # Nothing is running to fall back on: the verified config stays in place, so
                # that a core (re)started later reads it, not the one before (in a cluster, a
                # master killed while it was the checker must come back as a standby).
                run.finish(
                    DeploymentState.FAILED,
                    error=f"core not running: {exc}; the verified config stays in place for its next start",
                )
                return
            rollback = _roll_back(node, previous)
            what = "not confirmed" if isinstance(exc, NotConfirmed) else "reload failed"
            run.finish(DeploymentState.FAILED, error=f"{what}: {exc}; {rollback}")
            return
        prune(node, [staged, previous])
        run.finish(DeploymentState.CONFIRMED, reload_output=output, confirmation=confirmation)
    except runner.RunnerError as exc:
        if exc.output:
            run.save(verify_output=exc.output)
        if exc.retryable and not swapped and not final_attempt:
            # Nothing changed on disk or in the core: try the whole deploy again later.
            Deployment.objects.filter(pk__in=[run.deployment.pk, *run.covered]).update(
                state=DeploymentState.PENDING, started_at=None, covered_by=None, error=f"will retry: {exc}"
            )
            raise TransientDeployError(str(exc)) from exc
        run.finish(DeploymentState.FAILED, error=str(exc))
    except OSError as exc:
        error = f"file system: {exc}"
        if swapped:
            error += "; " + _roll_back(node, previous)
        run.finish(DeploymentState.FAILED, error=error)
    except Exception as exc:
        logger.exception("deployment %s of node %s crashed", run.deployment.pk, node.name)
        error = f"{type(exc).__name__}: {exc}"
        if swapped:
            error += "; " + _roll_back(node, previous)
        run.finish(DeploymentState.FAILED, error=error)
        raise
    finally:
        main_copy.unlink(missing_ok=True)
        shutil.rmtree(staged_includes(staged), ignore_errors=True)
        current = live_version(node)
        if staged.exists() and (current is None or current != staged.resolve()):
            shutil.rmtree(staged, ignore_errors=True)


def _roll_back(node: NaemonNode, previous: Path | None) -> str:
    """Point config_dir back at the previous version and reload; returns what happened, for the error."""
    if previous is None or not previous.is_dir():
        return "no previous version to roll back to"
    point(Path(node.config_dir), previous)
    if node.reload_method == ReloadMethod.NONE:
        return "rolled back to the previous version"
    expect = Expectation(started_after=_status_before(node), present=set(), absent=set())
    try:
        _reload_and_confirm(node, expect)
    except runner.RunnerError as exc:
        return f"rolled back to the previous version, but its reload failed too: {exc}"
    return "rolled back to the previous version and reloaded it"


def deploy(
    node_id: int, *, final_attempt: bool = True, follow_up: Callable[[NaemonNode], None] | None = None
) -> int | None:
    """The deploy task's body: one run under the node lock; returns the deployment id it ran, if any.

    ``follow_up(node)``: called when pending work is left once the lock is let go (the task
    enqueues itself again); without it, that work waits for the next run.
    """
    node = NaemonNode.objects.filter(pk=node_id).first()
    if node is None or not node.enabled:
        return None
    ran: int | None = None
    with node_lock(node) as acquired:
        if not acquired:
            logger.info("node %s: another deploy holds the lock; it will pick up pending work", node.name)
            return None
        _pace(node)
        run = claim(node)
        if run is not None:
            ran = run.deployment.pk
            with tracing.bound(deployment_id=ran):  # every log line of the run names it
                run_deployment(run, final_attempt=final_attempt)
    # After letting go: writes that committed while we held the lock saw it taken and left the
    # work to us. (Pending rows still locked by a write in progress are enqueued by its commit.)
    if follow_up is not None and _unclaimed_work(node):
        follow_up(node)
    return ran


def _pace(node: NaemonNode) -> None:
    """Wait, under the lock, until ``DEPLOY_MIN_INTERVAL`` seconds have passed since the node's last run.

    Every run reloads the core, which stops its checks for a moment (and verifies the whole config
    first: seconds on a big site). In a burst of writes, such as hundreds of machines registering
    at once, the writes that arrive meanwhile are then claimed by the next run together: a few
    reloads instead of one per run's worth of writes (issue 19). A change after a quiet time is not
    delayed. Not when tasks run inline (no worker: the request itself would wait).
    """
    interval = settings.DEPLOY_MIN_INTERVAL
    if interval <= 0 or settings.CELERY_TASK_ALWAYS_EAGER:
        return
    last = (
        Deployment.objects.filter(node=node, finished_at__isnull=False)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    if last is None:
        return
    remaining = interval - (timezone.now() - last).total_seconds()
    if remaining > 0:
        time.sleep(min(remaining, interval))


def _unclaimed_work(node: NaemonNode) -> bool:
    with transaction.atomic():
        unlocked = (
            Deployment.objects.select_for_update(skip_locked=True)
            .filter(node=node, state=DeploymentState.PENDING)
            .values_list("pk", flat=True)[:1]
        )
        return bool(list(unlocked))
