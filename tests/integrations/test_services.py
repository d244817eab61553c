"""The live portal's own rules: a missing Redis skips a local run and fails in CI (no inline Celery)."""

from __future__ import annotations

import pytest

import tests.services.required
from tests.integrations.conftest import _redis_url


@pytest.mark.parametrize(
    ("ci", "services", "outcome"),
    [
        (False, "", pytest.skip.Exception),
        (True, "", pytest.fail.Exception),
        (False, "true", pytest.fail.Exception),
    ],
)
def test_missing_redis_skips_locally_and_fails_where_services_are_promised(
    monkeypatch: pytest.MonkeyPatch, ci: bool, services: str, outcome: type[BaseException]
) -> None:
    monkeypatch.delenv("PORTAL_TEST_REDIS_URL", raising=False)
    monkeypatch.setenv("PORTAL_TEST_SERVICES", services)
    monkeypatch.setattr(tests.services.required, "IN_CI", ci)
    with pytest.raises(outcome, match="Redis is not available"):
        _redis_url()


def test_the_test_redis_gets_a_database_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAL_TEST_REDIS_URL", "redis://127.0.0.1:6390/0")
    assert _redis_url() == "redis://127.0.0.1:6390/9"
