"""Start the test OpenID Connect provider as a real HTTP server on loopback, with a fresh RS256 key."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.services.required import require_service

REPO = Path(__file__).resolve().parents[3]
START_DEADLINE_SECONDS = 60


@dataclass(frozen=True)
class Provider:
    """A running provider: its issuer (discovery lives under it) and its registered client."""

    issuer: str
    client_id: str
    client_secret: str


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_provider(var_dir: Path, portal_url: str, user: Mapping[str, object]) -> Iterator[Provider]:
    """Serve the provider for ``portal_url`` (its redirect URIs) with one ``user``; stop it after."""
    root = var_dir / f"oidc-provider-{os.getpid()}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (root / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    port = _free_port()
    client = {
        "id": "monitoring-portal",
        "secret": "portal-client-secret",
        "redirect_uri": f"{portal_url}/oidc/callback/",
        "post_logout_redirect_uri": f"{portal_url}/login/",
    }
    env = {
        **os.environ,
        "OIDC_PROVIDER_DB": str(root / "provider.sqlite3"),
        "OIDC_PROVIDER_KEY": str(root / "key.pem"),
        "OIDC_PROVIDER_PORT": str(port),
        "OIDC_PROVIDER_CLIENT": json.dumps(client),
        "OIDC_PROVIDER_USER": json.dumps(user),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    log = (root / "provider.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.services.oidc_provider.serve"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=log,
    )
    issuer = f"http://127.0.0.1:{port}/o"
    try:
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        while True:
            try:
                if requests.get(f"{issuer}/.well-known/openid-configuration", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                require_service("OIDC provider", False, (root / "provider.log").read_text()[-2000:])
            time.sleep(0.2)
        yield Provider(issuer=issuer, client_id=str(client["id"]), client_secret=str(client["secret"]))
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
        shutil.rmtree(root, ignore_errors=True)
