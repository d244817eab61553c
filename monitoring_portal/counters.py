"""Counters and time stamps that every process adds to, read by ``/metrics`` at scrape time.

Deploys run in Celery workers, often on the Naemon hosts, and the portal serves ``/metrics``
from several gunicorn processes: a ``prometheus_client`` counter in the process where a deploy
happens would never reach a scrape. So what cannot be read back from the database (phase
timings, reloads, lease retirements, when a node's snapshot was last published) is added here,
to one Redis hash that every process shares (``HINCRBY``/``HINCRBYFLOAT`` are atomic), and
``monitoring_portal.metrics`` turns it into Prometheus families on each scrape. Without Redis
(``make run``: one process, Celery inline) the values live in this process.

A counter must never break what it counts: a Redis error is logged and the value lost.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import redis

from monitoring_portal import redis_client

logger = logging.getLogger(__name__)

KEY_COUNTERS = "portal:metrics:counters"
KEY_STAMPS = "portal:metrics:stamps"

# Names of what is counted; monitoring_portal.metrics maps them to Prometheus families.
DEPLOYMENTS_FINISHED = "deployments_finished"  # labels: node, state
DEPLOY_PHASE = "deploy_phase_seconds"  # histogram; labels: node, phase
VERIFY_FAILURES = "verify_failures"  # labels: node
RELOADS = "reloads"  # labels: node
LEASE_RETIREMENTS = "lease_retirements"  # no labels
SNAPSHOT_PUBLISHED = "snapshot_published"  # stamp; labels: node

# Seconds. A deploy phase takes from milliseconds (render of a small site) to minutes (verify
# of a large one, a confirmation waiting for a slow restart).
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

_local_lock = threading.Lock()
_local: dict[str, dict[str, float]] = {KEY_COUNTERS: {}, KEY_STAMPS: {}}


def _field(name: str, labels: Sequence[str], suffix: str = "") -> str:
    return json.dumps([name + suffix, *labels], separators=(",", ":"))


def _increments(fields: dict[str, float]) -> None:
    client = redis_client.client()
    if client is None:
        with _local_lock:
            for field, amount in fields.items():
                _local[KEY_COUNTERS][field] = _local[KEY_COUNTERS].get(field, 0.0) + amount
        return
    try:
        pipe = client.pipeline(transaction=False)
        for field, amount in fields.items():
            pipe.hincrbyfloat(KEY_COUNTERS, field, amount)
        pipe.execute()
    except redis.exceptions.RedisError as exc:
        logger.warning("metrics: cannot add to counters %s: %s", sorted(fields), exc)


def add(name: str, labels: Sequence[str] = (), amount: float = 1.0) -> None:
    """Add ``amount`` to the counter ``name`` with these label values."""
    _increments({_field(name, labels): amount})


def observe(name: str, labels: Sequence[str], seconds: float) -> None:
    """One observation of a histogram: its count, sum and every bucket it falls in, at once."""
    fields = {_field(name, labels, "_count"): 1.0, _field(name, labels, "_sum"): seconds}
    for bound in BUCKETS:
        if seconds <= bound:
            fields[_field(name, labels, f"_le_{bound}")] = 1.0
    _increments(fields)


def stamp(name: str, labels: Sequence[str] = (), when: float | None = None) -> None:
    """Remember when ``name`` last happened (epoch seconds) for these label values."""
    field, value = _field(name, labels), time.time() if when is None else when
    client = redis_client.client()
    if client is None:
        with _local_lock:
            _local[KEY_STAMPS][field] = value
        return
    try:
        client.hset(KEY_STAMPS, field, value)
    except redis.exceptions.RedisError as exc:
        logger.warning("metrics: cannot stamp %s: %s", field, exc)


def _read(key: str) -> dict[tuple[str, ...], float]:
    client = redis_client.client()
    raw: dict[Any, Any]
    if client is None:
        with _local_lock:
            raw = dict(_local[key])
    else:
        raw = client.hgetall(key)
    values = {}
    for field, value in raw.items():
        try:
            name_and_labels = json.loads(field)
            values[tuple(str(part) for part in name_and_labels)] = float(value)
        except (ValueError, TypeError):
            continue  # not one of ours: ignored rather than breaking the scrape
    return values


def counters() -> dict[tuple[str, ...], float]:
    """Every counter: (name[+suffix], *label values) -> value. Raises RedisError when Redis fails."""
    return _read(KEY_COUNTERS)


def stamps() -> dict[tuple[str, ...], float]:
    """Every stamp: (name, *label values) -> epoch seconds. Raises RedisError when Redis fails."""
    return _read(KEY_STAMPS)


def forget_local() -> None:
    """Drop the in-process values (tests without Redis)."""
    with _local_lock:
        for values in _local.values():
            values.clear()
