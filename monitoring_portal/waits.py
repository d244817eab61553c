"""A bound on requests that hold a web worker while they wait (``?wait=`` on deployments).

A sync gunicorn worker that waits for a deployment serves nobody else for up to two minutes,
so four waiting reads would stop a four-worker portal. Each wait takes a slot first: at most
``API_WAIT_MAX_PER_USER`` per user and ``API_WAIT_MAX_TOTAL`` in all. Past that, ``slot``
raises ``WaitsExhausted`` (429 with ``Retry-After``).

With ``REDIS_URL`` the slots are counted in Redis, across every worker process and machine:
a sorted set per scope whose members expire ``SLOT_MARGIN_SECONDS`` after the wait would have
ended, so a worker killed mid-wait cannot keep its slot for ever. Without Redis (``make run``,
one process) they are counted in this process. If Redis fails, the process's own count
stands in: still a bound, never an outage.
"""

from __future__ import annotations

import logging
import math
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import redis
from django.conf import settings
from rest_framework import exceptions

from monitoring_portal import redis_client

logger = logging.getLogger(__name__)

#: What a refused client is told to wait before asking again.
RETRY_AFTER_SECONDS = 5
#: A slot outlives its wait by this much, then Redis forgets it (a killed worker's slot).
SLOT_MARGIN_SECONDS = 30

_ALL_KEY = "portal:waits:all"
_USER_KEY = "portal:waits:user:{}"

# KEYS: the site-wide set, the user's set. ARGV: member, max total, max per user, ttl.
# Redis's own clock scores the members, so the web servers' clocks need not agree.
_ACQUIRE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local ttl = tonumber(ARGV[4])
for _, key in ipairs(KEYS) do redis.call('ZREMRANGEBYSCORE', key, '-inf', t) end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return 2 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 1 end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, t + ttl, ARGV[1])
  if redis.call('TTL', key) < ttl then redis.call('EXPIRE', key, ttl) end
end
return 0
"""

_local_lock = threading.Lock()
_local: Counter[str] = Counter()


class WaitsExhausted(exceptions.Throttled):
    """Too many requests wait already (for this user or in all): 429, ask again later."""

    default_code = "too_many_waits"

    def __init__(self, detail: str) -> None:
        super().__init__(wait=RETRY_AFTER_SECONDS, detail=detail)


def _refusal(scope: int, limit: int) -> WaitsExhausted:
    who = "you already have" if scope == 2 else "the portal already has"
    return WaitsExhausted(
        f"Too many requests waiting (?wait=): {who} {limit}, the most allowed at once. "
        "Ask again without ?wait=, or retry later."
    )


def _acquire_redis(client: redis.Redis, user_id: int | None, seconds: float) -> Callable[[], None]:
    member = uuid.uuid4().hex
    keys = [_ALL_KEY, _USER_KEY.format(user_id)]
    ttl = math.ceil(seconds) + SLOT_MARGIN_SECONDS
    total, per_user = settings.API_WAIT_MAX_TOTAL, settings.API_WAIT_MAX_PER_USER
    answer = int(client.eval(_ACQUIRE, len(keys), *keys, member, total, per_user, ttl))
    if answer:
        raise _refusal(answer, per_user if answer == 2 else total)

    def release() -> None:
        try:
            for key in keys:
                client.zrem(key, member)
        except redis.RedisError:  # the slot expires by itself
            logger.warning("could not release a wait slot in Redis; it expires in %s s", ttl, exc_info=True)

    return release


def _acquire_local(user_id: int | None) -> Callable[[], None]:
    user_key = f"user:{user_id}"
    total, per_user = settings.API_WAIT_MAX_TOTAL, settings.API_WAIT_MAX_PER_USER
    with _local_lock:
        if _local[user_key] >= per_user:
            raise _refusal(2, per_user)
        if _local["all"] >= total:
            raise _refusal(1, total)
        _local[user_key] += 1
        _local["all"] += 1

    def release() -> None:
        with _local_lock:
            _local[user_key] -= 1
            _local["all"] -= 1

    return release


@contextmanager
def slot(user_id: int | None, seconds: float) -> Iterator[None]:
    """Hold one wait slot of ``user_id`` (None: anonymous, one bucket) for up to ``seconds``; may raise ``WaitsExhausted``."""
    client = redis_client.client()
    release: Callable[[], None] | None = None
    if client is not None:
        try:
            release = _acquire_redis(client, user_id, seconds)
        except redis.RedisError:
            logger.warning("Redis did not answer for a wait slot; bounding this process only", exc_info=True)
    if release is None:
        release = _acquire_local(user_id)
    try:
        yield
    finally:
        release()
