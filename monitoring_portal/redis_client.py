"""The portal's Redis client: one connection pool per process, built in one place."""

from __future__ import annotations

from functools import lru_cache

import redis
from django.conf import settings


@lru_cache(maxsize=4)
def _client_for(url: str) -> redis.Redis:
    # One pool per process and URL, reused by every request; short timeouts so a Redis outage
    # costs a request seconds, not a worker.
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30)


def client() -> redis.Redis | None:
    """A client of ``REDIS_URL``, or None when the site runs without Redis (``make run``)."""
    url = settings.REDIS_URL
    return _client_for(url) if url else None


def broker() -> redis.Redis | None:
    """A client of the Celery broker when it is Redis (``/metrics`` reads queue lengths), else None."""
    url = settings.CELERY_BROKER_URL
    return _client_for(url) if url.startswith(("redis://", "rediss://", "unix://")) else None
