"""docker-compose.yml parses with a real Compose parser and uses the documented variables."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.conftest import require_service

ROOT = Path(__file__).resolve().parents[2]


def _documented() -> set[str]:
    env_example = {
        line.split("=", 1)[0].lstrip("# ").strip()
        for line in (ROOT / ".env.example").read_text().splitlines()
        if re.match(r"^#? ?[A-Z][A-Z0-9_]+=", line)
    }
    docs = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", (ROOT / "docs" / "configuration.md").read_text()))
    return env_example & docs


def test_compose_config_is_valid_and_has_the_services(tmp_path: Path) -> None:
    require_service("docker-compose", shutil.which("docker-compose") is not None)
    env_file = tmp_path / ".env"
    env_file.write_text("SECRET_KEY=x\nPOSTGRES_PASSWORD=y\n")
    result = subprocess.run(
        ["docker-compose", "--project-directory", str(ROOT), "--env-file", str(env_file),
         "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True, text=True, timeout=60, check=False, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
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
