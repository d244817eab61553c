"""Periodic tasks that run one at a time across every worker: a Redis lock around the task's body.

Beat gives no such promise: a restarted beat sends what is due at once, a slow run is still
going when the next tick arrives, and every worker takes what the broker hands it. A run that
finds the lock taken is dropped (Celery's ``Ignore``: state IGNORED, nothing retried) — the
next tick is the retry, and it sees fresh data.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import redis
from celery.exceptions import Ignore

from monitoring_portal import redis_client

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

KEY_PREFIX = "portal:singleton:"


def singleton_task(ttl: int) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Run the decorated task body only while holding ``portal:singleton:<module>.<name>`` (put it under ``@shared_task``).

    ``ttl`` (seconds) must be at least the task's ``time_limit``: the lock then cannot expire
    under a live run, and a run killed with its worker (SIGKILL) frees it after ``ttl`` at most.
    Without Redis (``make run``, eager tasks) there is one process and the body runs directly.
    """

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        key = f"{KEY_PREFIX}{func.__module__}.{func.__name__}"

        @functools.wraps(func)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            client = redis_client.client()
            if client is None:
                return func(*args, **kwargs)
            lock = client.lock(key, timeout=ttl, blocking=False)
            try:
                acquired = lock.acquire()
            except redis.RedisError as exc:
                # Twice at once is the lesser harm (the tasks are idempotent) than no periodic work
                # while Redis is away; the worker's broker is usually the same Redis anyway.
                logger.warning("%s: Redis lock unavailable (%s); running without it", key, exc)
                return func(*args, **kwargs)
            if not acquired:
                logger.info("%s: skipped, another run still holds the lock", key)
                raise Ignore()
            try:
                return func(*args, **kwargs)
            finally:
                # Only our own token is released: after a (wrongly short) ttl it may be another run's.
                with contextlib.suppress(redis.RedisError):
                    lock.release()

        run.singleton_ttl = ttl  # type: ignore[attr-defined]  # read by the test of the beat schedule
        return run

    return decorate
