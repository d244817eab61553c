"""Static assets come from the portal itself: no CDN at runtime."""

from __future__ import annotations

import re
from pathlib import Path

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
