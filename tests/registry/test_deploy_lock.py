"""The node's deploy lock in Redis: a run longer than the lock's TTL keeps it (a thread renews it).

Without the renewal, a second run would start on the same node after LOCK_TTL seconds, while
the first still writes or reloads: two runs swapping config under each other.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pytest_django.fixtures import Settings

from registry import deploy
from registry.models import NaemonNode


@pytest.fixture
def node(db: None, tmp_path: Path) -> NaemonNode:
    return NaemonNode.objects.create(name="n1", config_dir=str(tmp_path / "portal.d"), reload_method="none")


def test_a_run_longer_than_the_ttl_keeps_its_lock(
    node: NaemonNode, settings: Settings, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.REDIS_URL = redis_url
    monkeypatch.setattr(deploy, "LOCK_TTL", 1.0)  # renewed every quarter of it
    with deploy.node_lock(node, wait=0) as held:
        assert held
        # For three TTLs, nobody else gets the lock: asked again and again, not once after a sleep.
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            with deploy.node_lock(node, wait=0) as second:
                assert not second, "a second run took the node's lock while the first was running"
            time.sleep(0.1)
    # Released at the end: the next run gets it at once.
    with deploy.node_lock(node, wait=0) as next_run:
        assert next_run
