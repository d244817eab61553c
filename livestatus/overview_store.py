"""Where the overview is kept: Redis, written by the periodic refresh and read by the pages.

Redis keys: ``portal:wall:snapshot`` (the whole overview, for the home page),
``portal:wall:payload`` (what the wall shows, served verbatim), written together;
``portal:wall:lock`` keeps refreshes from overlapping. Without ``REDIS_URL`` (``make
run``, eager Celery) there is no worker to refresh: the overview is computed on request
and kept in this process for ``WALL_REFRESH_SECONDS``.

Settings (all optional): ``WALL_REFRESH_SECONDS`` (5), ``WALL_STALE_SECONDS`` (30).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Mapping
from typing import Any

import redis
from django.conf import settings

from livestatus import overview
from monitoring_portal import redis_client

KEY_SNAPSHOT = "portal:wall:snapshot"
KEY_PAYLOAD = "portal:wall:payload"
KEY_LOCK = "portal:wall:lock"


def refresh_seconds() -> float:
    """How often the overview is refreshed (the beat schedule uses the same setting)."""
    return float(getattr(settings, "WALL_REFRESH_SECONDS", 5))


def stale_seconds() -> float:
    """An overview older than this is shown as stale."""
    return float(getattr(settings, "WALL_STALE_SECONDS", 30))


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), default=str).encode("utf-8")


def _load(client: redis.Redis, key: str) -> bytes | None:
    value = client.get(key)
    return value if isinstance(value, bytes) else None


def refresh() -> dict[str, Any]:
    """Refresh the stored snapshot once; returns a summary (skipped while another refresh runs)."""
    client = redis_client.client()
    if client is None:
        snapshot = _refresh_local(force=True)
        return _summary(snapshot)
    # A refresh that hangs on a node must not let the next ones pile up behind it.
    lock = client.lock(KEY_LOCK, timeout=max(30, int(refresh_seconds() * 6)), blocking=False)
    if not lock.acquire():
        return {"skipped": "another refresh is running"}
    try:
        raw = _load(client, KEY_SNAPSHOT)
        previous = json.loads(raw) if raw else None
        snapshot = overview.compute(previous)
        pipe = client.pipeline(transaction=True)
        pipe.set(KEY_SNAPSHOT, _dumps(snapshot))
        pipe.set(KEY_PAYLOAD, _dumps(overview.wall_payload(snapshot)))
        pipe.execute()
    finally:
        # Only our own lock is released (after a timeout it may be another refresh's).
        with contextlib.suppress(redis.exceptions.LockError):
            lock.release()
    return _summary(snapshot)


def _summary(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "taken_at": snapshot["taken_at"],
        "queries": snapshot["queries"],
        "duration_ms": snapshot["duration_ms"],
        "unreachable": snapshot["unreachable"],
        "problems": snapshot["problems_total"],
    }


# In-process fallback without Redis: computed on request, kept for one refresh interval.
_local_lock = threading.Lock()
_local: dict[str, Any] = {"at": 0.0, "snapshot": None, "payload": None}


def _refresh_local(*, force: bool = False) -> dict[str, Any]:
    with _local_lock:
        fresh = time.monotonic() - _local["at"] < refresh_seconds()
        if force or not fresh or _local["snapshot"] is None:
            snapshot = overview.compute(_local["snapshot"])
            _local.update(
                at=time.monotonic(), snapshot=snapshot, payload=_dumps(overview.wall_payload(snapshot))
            )
        return dict(_local["snapshot"])


def forget_local() -> None:
    """Drop the in-process snapshot (tests)."""
    with _local_lock:
        _local.update(at=0.0, snapshot=None, payload=None)


def get_snapshot() -> dict[str, Any] | None:
    """The full snapshot (None when none was taken yet)."""
    client = redis_client.client()
    if client is None:
        return _refresh_local()
    raw = _load(client, KEY_SNAPSHOT)
    return json.loads(raw) if raw else None


def get_payload_bytes() -> bytes | None:
    """The wall's JSON exactly as stored (None when no snapshot was taken yet)."""
    client = redis_client.client()
    if client is None:
        _refresh_local()
        payload = _local["payload"]
        return payload if isinstance(payload, bytes) else None
    return _load(client, KEY_PAYLOAD)


def freshness(snapshot: Mapping[str, Any] | None, now: float | None = None) -> dict[str, Any]:
    """How current a snapshot is: age in seconds, stale, unreachable nodes, or missing."""
    if snapshot is None:
        return {
            "missing": True,
            "stale": True,
            "age": None,
            "unreachable": [],
            "stale_after": stale_seconds(),
        }
    age = max(0.0, (now if now is not None else time.time()) - float(snapshot["taken_at"]))
    return {
        "missing": False,
        "stale": age > stale_seconds(),
        "age": age,
        "unreachable": list(snapshot.get("unreachable", [])),
        "stale_after": stale_seconds(),
    }


def data_response_body(now: float | None = None) -> bytes:
    """The wall data endpoint's body: the server's clock and thresholds around the stored payload."""
    payload = get_payload_bytes()
    head = _dumps(
        {
            "now": now if now is not None else time.time(),
            "stale_after": stale_seconds(),
            "refresh_seconds": refresh_seconds(),
            "version": overview.SNAPSHOT_VERSION,
        }
    )
    # Splice without parsing: fifty screens must not cost fifty JSON round trips.
    return head[:-1] + b',"snapshot":' + (payload if payload is not None else b"null") + b"}"
