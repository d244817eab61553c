"""Whether a service the tests need is there: skip locally, fail where the test command provides it."""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def must_have_services() -> bool:
    """True in CI and under the README's test command, which start every service."""
    return IN_CI or os.environ.get("PORTAL_TEST_SERVICES") == "true"


def require_service(name: str, available: bool, why: str = "") -> None:
    """Skip locally when a service is missing; in CI a missing service is a failure."""
    if available:
        return
    message = f"{name} is not available{': ' + why if why else ''}"
    if must_have_services():
        pytest.fail(message + " (the test command must provide it)", pytrace=False)
    pytest.skip(message + " (run the README's test command)")
