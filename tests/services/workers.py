"""The test suite on several pytest-xdist workers: what each worker must not share with the others.

PostgreSQL: pytest-django gives every worker its own test database (``test_portal_gw0`` ...),
and the tests that start a portal of their own create a database named after their process.
Nagios cores, Icinga, slapd and browsers live under per-test directories and free ports.
Redis is the one shared server: a worker takes a block of databases of its own
(``DATABASES_PER_WORKER``; scripts/testenv.py starts Redis with enough of them).
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

#: Databases per worker: the worker's own (the block's first) and the integration tests' (+9).
DATABASES_PER_WORKER = 16


def worker_index() -> int | None:
    """This process's xdist worker number (gw3 -> 3), or None outside xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker.removeprefix("gw")) if worker.startswith("gw") else None


def isolate_redis_per_worker() -> None:
    """Point REDIS_URL and PORTAL_TEST_REDIS_URL (and Django's setting) at this worker's block."""
    index = worker_index()
    url = os.environ.get("PORTAL_TEST_REDIS_URL", "")
    if index is None or not url:
        return
    # Block 0 is the unsplit run's (database 0 and 9); worker N takes block N + 1.
    own = urlunsplit(urlsplit(url)._replace(path=f"/{(index + 1) * DATABASES_PER_WORKER}"))
    os.environ["PORTAL_TEST_REDIS_URL"] = own
    os.environ["REDIS_URL"] = own
    from django.conf import settings

    if settings.configured:
        settings.REDIS_URL = own
