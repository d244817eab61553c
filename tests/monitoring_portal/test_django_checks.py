"""Deploy checks, migrations and the refusal to start without a secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "prod-like-7f3c9a1e5b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f2a4c6e8b0d",
    "ALLOWED_HOSTS": "portal.example.org",
    "LOG_FORMAT": "json",
    "SECURE_SSL_REDIRECT": "true",
    "STATIC_MANIFEST": "true",
}
# Set by pytest-env for the test process; a subprocess starts from the production defaults.
_TEST_DEFAULTS = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "SECURE_SSL_REDIRECT",
    "STATIC_MANIFEST",
    "DJANGO_ALLOW_ASYNC_UNSAFE",  # set by the browser tests for live_server
}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in _TEST_DEFAULTS}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_passes_in_production_configuration() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_secret_key() -> None:
    env = {**PRODUCTION_ENV, "SECRET_KEY": ""}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_debug_runs_with_a_development_key() -> None:
    result = manage("check", env={"DEBUG": "true", "SECRET_KEY": ""})
    assert result.returncode == 0, result.stderr


def test_bad_boolean_is_a_clear_error() -> None:
    result = manage("check", env={**PRODUCTION_ENV, "DEBUG": "yes please"})
    assert result.returncode != 0
    assert "DEBUG must be true or false" in result.stderr


def test_migrations_are_complete() -> None:
    result = manage("makemigrations", "--check", "--dry-run", env={"DEBUG": "true"})
    assert result.returncode == 0, "models changed without a migration:\n" + result.stdout


def test_json_logs_are_one_object_per_line() -> None:
    import json

    code = (
        "import logging; logging.getLogger('portal.test').warning('hello %s', 'world', extra={'node': 'n1'})"
    )
    result = manage("shell", "-c", code, env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    record = json.loads(lines[-1])
    assert record["message"] == "hello world"
    assert record["level"] == "WARNING"
    assert record["logger"] == "portal.test"
    assert record["node"] == "n1"
