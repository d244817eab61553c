"""The real services the tests run against, one harness per kind, shared by every app's tests.

``nagios`` (a Nagios 4 core), ``icinga`` (Icinga 2 with Livestatus), ``replay`` (a Livestatus
stand-in that answers like Naemon, with ``naemon_columns``), ``browser`` (headless Chromium),
``required`` (skip locally, fail in CI when a service is missing). PostgreSQL and Redis are
started by scripts/testenv.py; the ``redis_url`` fixture (tests/conftest.py) hands Redis over.
"""
