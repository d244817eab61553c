"""Static assets come from the portal itself: no CDN at runtime."""

from __future__ import annotations

import gzip
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import drf_spectacular_sidecar
import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = [p for p in ROOT.glob("*/templates/**/*.html") if ".venv" not in p.parts]


def test_there_are_templates() -> None:
    assert len(TEMPLATES) >= 5


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_templates_load_nothing_from_other_hosts(template: Path) -> None:
    text = template.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:)?//""", text), "external asset reference"


@pytest.mark.django_db
def test_base_layout_assets_are_served(owner) -> None:
    client = Client()
    client.force_login(owner)
    html = client.get("/").content.decode()
    assets = re.findall(r"""(?:src|href)="(/static/[^"]+)\"""", html)
    assert any("bootstrap.min.css" in a for a in assets)
    assert any("htmx.min.js" in a for a in assets)
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        body = b"".join(response.streaming_content) if response.streaming else response.content  # type: ignore[attr-defined]
        assert len(body) > 100, asset


# --- production: collectstatic, manifest storage and whitenoise under gunicorn ---------------

HASHED = re.compile(r"\.[0-9a-f]{12}\.(css|js)$")


def _production_env(tmp_path: Path, static_root: Path) -> dict[str, str]:
    """A production environment (DEBUG off, manifest storage) behind a TLS proxy, from scratch."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DEBUG": "false",
        "SECRET_KEY": "static-test-key-3b8e1d6f0a2c4e9b7d5f1a3c8e0b2d4f6a9c1e3b5d7f",
        "ALLOWED_HOSTS": "127.0.0.1",
        "TRUST_X_FORWARDED_PROTO": "true",
        "STATIC_ROOT": str(static_root),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}",
        "PORTAL_VAR_DIR": str(tmp_path / "var"),
        "LOG_FORMAT": "text",
        "API_DOCS_PUBLIC": "true",  # the Swagger UI test fetches the page without logging in
    }


@pytest.fixture(scope="module")
def production_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``collectstatic`` into a fresh STATIC_ROOT, then the WSGI app under gunicorn, as in production."""
    tmp_path = tmp_path_factory.mktemp("production")
    static_root = tmp_path / "static"
    env = _production_env(tmp_path, static_root)
    collect = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert collect.returncode == 0, collect.stderr
    assert (static_root / "staticfiles.json").is_file()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (tmp_path / "gunicorn.log").open("w")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "monitoring_portal.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--access-logfile", "-"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, (tmp_path / "gunicorn.log").read_text()
                assert time.monotonic() < deadline, "gunicorn did not start within 60 s"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def fetch(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"X-Forwarded-Proto": "https", **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _assets(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)="(/static/[^"]+)\"""", html)


def test_production_serves_hashed_compressed_assets(production_server: str) -> None:
    status, _, body = fetch(f"{production_server}/login/")
    assert status == 200, body[:2000]
    assets = _assets(body.decode())
    for name in ["vendor/bootstrap/bootstrap.min", "vendor/htmx/htmx.min"]:
        hashed = [a for a in assets if a.startswith(f"/static/{name}.") and HASHED.search(a)]
        assert hashed, (name, assets)  # the manifest's hashed name, not the source name
        status, headers, content = fetch(production_server + hashed[0])
        assert status == 200, hashed[0]
        source = next(ROOT.glob(f"*/static/{name}.{hashed[0].rsplit('.', 1)[1]}"))
        assert content == source.read_bytes()
        assert "immutable" in headers["Cache-Control"] and "max-age=315360000" in headers["Cache-Control"]
        status, headers, compressed = fetch(production_server + hashed[0], **{"Accept-Encoding": "gzip"})
        assert status == 200 and headers.get("Content-Encoding") == "gzip"
        assert gzip.decompress(compressed) == content
    for asset in assets:  # everything the page links is there
        assert fetch(production_server + asset)[0] == 200, asset
    assert fetch(f"{production_server}/static/vendor/htmx/htmx.min.0123456789ab.js")[0] == 404


def test_production_serves_the_swagger_ui_sidecar_assets(production_server: str) -> None:
    status, _, body = fetch(f"{production_server}/api/schema/swagger-ui/")
    assert status == 200, body[:2000]
    html = body.decode()
    assets = _assets(html)
    sidecar = [a for a in assets if "/drf_spectacular_sidecar/swagger-ui-dist/" in a]
    assert {Path(a).name.split(".")[0] for a in sidecar} >= {
        "swagger-ui",
        "swagger-ui-bundle",
        "swagger-ui-standalone-preset",
    }
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:)?//""", html)  # nothing from a CDN
    sources = Path(drf_spectacular_sidecar.__file__).parent / "static"
    for asset in sidecar:
        match = re.search(r"\.[0-9a-f]{12}(\.\w+)$", asset)
        assert match, asset  # hashed by the manifest storage
        status, headers, content = fetch(production_server + asset)
        assert status == 200, asset
        source = sources / asset.removeprefix("/static/")[: match.start() - len("/static/")]
        original = source.with_name(source.name + match.group(1)).read_bytes()
        # The same file (the manifest storage only rewrites references such as sourceMappingURL).
        assert content[:4096] == original[:4096] and abs(len(content) - len(original)) < 200, asset
        kind = "text/css" if asset.endswith(".css") else "javascript" if asset.endswith(".js") else "image/"
        assert kind in headers["Content-Type"], (asset, headers["Content-Type"])
    # The page's own init script (or inline script) and the schema it loads are served too.
    for script in re.findall(r'<script src="([^"]+)"', html):
        if not script.startswith("/static/"):
            assert fetch(production_server + script.replace("&amp;", "&"))[0] == 200, script
    status, headers, _ = fetch(f"{production_server}/api/schema/")
    assert status == 200
