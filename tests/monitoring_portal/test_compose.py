"""docker-compose.yml parses with a real Compose parser and uses the documented variables."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.services.required import require_service

ROOT = Path(__file__).resolve().parents[2]


def _documented() -> set[str]:
    env_example = {
        line.split("=", 1)[0].lstrip("# ").strip()
        for line in (ROOT / ".env.example").read_text().splitlines()
        if re.match(r"^#? ?[A-Z][A-Z0-9_]+=", line)
    }
    docs = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", (ROOT / "docs" / "configuration.md").read_text()))
    return env_example & docs


def compose_config(tmp_path: Path, env: str = "") -> dict[str, Any]:
    """docker-compose.yml as Compose resolves it with a .env of the two secrets plus ``env``."""
    require_service("docker-compose", shutil.which("docker-compose") is not None)
    env_file = tmp_path / ".env"
    env_file.write_text("SECRET_KEY=x\nPOSTGRES_PASSWORD=y\n" + env)
    result = subprocess.run(
        ["docker-compose", "--project-directory", str(ROOT), "--env-file", str(env_file),
         "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True, text=True, timeout=60, check=False, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def test_compose_config_is_valid_and_has_the_services(tmp_path: Path) -> None:
    config = compose_config(tmp_path)
    assert set(config["services"]) == {"postgres", "redis", "web", "worker", "beat"}
    assert "gunicorn" in " ".join(config["services"]["web"]["command"])
    assert config["services"]["web"]["environment"]["SECRET_KEY"] == "x"


def test_compose_refuses_to_start_without_secrets() -> None:
    require_service("docker-compose", shutil.which("docker-compose") is not None)
    result = subprocess.run(
        ["docker-compose", "--project-directory", "/nonexistent-no-env", "-f", str(ROOT / "docker-compose.yml"),
         "config"],
        capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr or "POSTGRES_PASSWORD" in result.stderr


def test_compose_uses_only_documented_variables() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    app_vars = set(yaml.safe_load(compose)["x-portal-env"])
    interpolated = set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)", compose))
    documented = _documented()
    assert app_vars - documented == set()
    assert interpolated - documented == set()


def test_settings_variables_are_documented() -> None:
    settings_src = (ROOT / "monitoring_portal" / "settings.py").read_text()
    used = set(re.findall(r'get_\w+\(\s*"([A-Z][A-Z0-9_]+)"', settings_src))
    assert used, "settings read variables through the typed helpers"
    assert used - _documented() == set()


def _queues(config: dict[str, Any]) -> list[str]:
    command = config["services"]["worker"]["command"]
    return str(command[command.index("-Q") + 1]).split(",")


def test_the_worker_consumes_the_default_queue_and_the_node_queues(tmp_path: Path) -> None:
    # Deployments go to naemon.<node> (NaemonNode.queue): without it they would stay pending.
    assert _queues(compose_config(tmp_path)) == ["celery", "naemon.local"]
    custom = compose_config(tmp_path, "CELERY_WORKER_QUEUES=celery,naemon.master1,naemon.poller1\n")
    assert _queues(custom) == ["celery", "naemon.master1", "naemon.poller1"]
    assert "-Q" not in custom["services"]["beat"]["command"]


def test_compose_serves_plain_http_locally_but_production_redirects(tmp_path: Path) -> None:
    web = compose_config(tmp_path)["services"]["web"]
    assert str(web["ports"][0]).startswith("127.0.0.1:")  # plain HTTP, on loopback only
    assert web["environment"]["SECURE_SSL_REDIRECT"] == "false"
    assert "localhost" in web["environment"]["ALLOWED_HOSTS"].split(",")
    behind_tls = compose_config(tmp_path, "SECURE_SSL_REDIRECT=true\nTRUST_X_FORWARDED_PROTO=true\n")
    assert behind_tls["services"]["web"]["environment"]["SECURE_SSL_REDIRECT"] == "true"
    # Outside compose, production (DEBUG=false) still redirects by default.
    env = {
        "PATH": "/usr/bin:/bin",
        "DEBUG": "false",
        "SECRET_KEY": "k" * 50,
        "ALLOWED_HOSTS": "portal.example.org",
    }
    code = "from django.conf import settings; print(settings.SECURE_SSL_REDIRECT, settings.SESSION_COOKIE_SECURE)"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["True", "True"]


def test_compose_only_variables_are_explained_in_the_readme() -> None:
    """Variables compose interpolates but settings.py never reads are for the compose user: say so."""
    compose = (ROOT / "docker-compose.yml").read_text()
    interpolated = set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)", compose))
    settings_src = (ROOT / "monitoring_portal" / "settings.py").read_text()
    compose_only = {name for name in interpolated if f'"{name}"' not in settings_src}
    assert compose_only >= {"POSTGRES_PASSWORD", "CELERY_WORKER_QUEUES"}
    readme = (ROOT / "README.md").read_text()
    assert {name for name in compose_only if f"`{name}" not in readme} == set()
