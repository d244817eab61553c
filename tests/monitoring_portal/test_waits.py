"""?wait= holds a web worker: at most API_WAIT_MAX_PER_USER per user and API_WAIT_MAX_TOTAL in all."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from django.contrib.auth.models import User
from django.db import connections
from pytest_django.fixtures import Settings

from monitoring_portal import waits
from registry.choices import DeploymentState
from registry.models import Deployment, Host
from tests.doubles import DeployRecorder
from tests.factories import NaemonNodeFactory
from tests.scenarios import Site

API = "/api/v1/registry"


def until(what: str, check: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def bounded(settings: Settings) -> None:
    settings.API_WAIT_MAX_TOTAL = 2
    settings.API_WAIT_MAX_PER_USER = 1


@pytest.fixture
def wait_redis(redis_url: str, settings: Settings, bounded: None) -> Iterator[redis.Redis]:
    """The test Redis as the portal's, without wait slots left by anything else."""
    settings.REDIS_URL = redis_url
    client = redis.Redis.from_url(redis_url)
    keys = lambda: list(client.scan_iter("portal:waits:*"))  # noqa: E731
    client.delete(*keys()) if keys() else None
    yield client
    client.delete(*keys()) if keys() else None
    client.close()


def users(*names: str) -> list[User]:
    return [User.objects.create_user(name, f"{name}@example.org", f"{name}-pass-1234") for name in names]


class Waiter(threading.Thread):
    """One client waiting on a deployment in its own thread (as in its own web worker)."""

    def __init__(self, client: Any, url: str) -> None:
        super().__init__(daemon=True)
        self.client, self.url = client, url
        self.response: Any = None

    def run(self) -> None:
        try:
            self.response = self.client.get(self.url)
        finally:
            connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_waits_past_the_bound_get_429_across_workers_and_the_slots_come_back(
    wait_redis: redis.Redis, api_client_for: Callable[[User | None], Any]
) -> None:
    alice, bob, carol = users("alice", "bob", "carol")
    node = NaemonNodeFactory.create(name="master1")
    pending = Deployment.objects.create(node=node, state=DeploymentState.PENDING)
    url = f"{API}/deployments/{pending.pk}/?wait=60"
    waiting = [Waiter(api_client_for(alice), url), Waiter(api_client_for(bob), url)]
    for waiter in waiting:
        waiter.start()
    until("two waits holding their slots", lambda: wait_redis.zcard("portal:waits:all") == 2)

    # A third wait anywhere (another user) and a second one of alice: 429, at once.
    started = time.monotonic()
    again = api_client_for(alice).get(url)
    assert again.status_code == 429, again.content
    assert again["Retry-After"] == str(waits.RETRY_AFTER_SECONDS)
    assert "you already have 1" in again.json()["detail"]
    third = api_client_for(carol).get(url)
    assert third.status_code == 429
    assert "the portal already has 2" in third.json()["detail"]
    assert time.monotonic() - started < 5  # refused, not queued behind the waits
    # Reading without ?wait= still works for everyone.
    assert api_client_for(carol).get(f"{API}/deployments/{pending.pk}/").json()["state"] == "pending"

    Deployment.objects.filter(pk=pending.pk).update(state=DeploymentState.CONFIRMED)
    for waiter in waiting:
        waiter.join(timeout=30)
        assert waiter.response is not None and waiter.response.status_code == 200
        assert waiter.response.json()["state"] == "confirmed"
    assert wait_redis.zcard("portal:waits:all") == 0  # released in `finally`

    # The slots are back: carol may wait now (on a deployment that stays pending for the 1 s).
    other = Deployment.objects.create(node=node, state=DeploymentState.PENDING)
    answer = api_client_for(carol).get(f"{API}/deployments/{other.pk}/?wait=1")
    assert answer.status_code == 200 and answer.json()["state"] == "pending"


@pytest.mark.django_db
def test_a_slot_of_a_killed_worker_expires(
    wait_redis: redis.Redis, monkeypatch: pytest.MonkeyPatch, api_client_for: Callable[[User | None], Any]
) -> None:
    """A worker killed mid-wait never runs its `finally`: Redis forgets its slot after the wait + margin."""
    (alice,) = users("alice")
    monkeypatch.setattr(waits, "SLOT_MARGIN_SECONDS", 1)
    leaked = waits.slot(alice.pk, 0.5)
    leaked.__enter__()  # and never __exit__: the process died holding it
    node = NaemonNodeFactory.create(name="master1")
    pending = Deployment.objects.create(node=node, state=DeploymentState.PENDING)
    client = api_client_for(alice)
    assert client.get(f"{API}/deployments/{pending.pk}/?wait=1").status_code == 429
    until(
        "the leaked slot to expire",
        lambda: client.get(f"{API}/deployments/{pending.pk}/?wait=1").status_code == 200,
    )


@pytest.mark.django_db
def test_without_redis_the_bound_holds_in_the_process(
    settings: Settings, bounded: None, api_client_for: Callable[[User | None], Any]
) -> None:
    settings.REDIS_URL = ""
    alice, bob = users("alice", "bob")
    node = NaemonNodeFactory.create(name="master1")
    pending = Deployment.objects.create(node=node, state=DeploymentState.PENDING)
    url = f"{API}/deployments/{pending.pk}/?wait=1"
    with waits.slot(alice.pk, 60):
        refused = api_client_for(alice).get(url)
        assert refused.status_code == 429 and "Retry-After" in refused
        assert api_client_for(bob).get(url).status_code == 200  # bob has a slot of his own
    assert api_client_for(alice).get(url).status_code == 200


@pytest.mark.django_db
def test_a_write_without_a_free_slot_is_stored_and_answered_at_once(
    settings: Settings,
    bounded: None,
    team: Any,
    other_team: Any,
    staff: User,
    deploys: DeployRecorder,
    api_client_for: Callable[[User | None], Any],
) -> None:
    """The change is not refused after it is stored: it is answered as when its wait ended (202)."""
    settings.REDIS_URL = ""
    Site(team, other_team)
    api = api_client_for(staff)
    body = {"address": "192.0.2.10", "team": "web", "hostgroups": ["web"], "templates": ["generic-host"]}
    started = time.monotonic()
    with waits.slot(staff.pk, 60):
        response = api.put(f"{API}/hosts/web02/?wait=30", body, format="json")
    assert time.monotonic() - started < 10  # did not wait the 30 s
    assert response.status_code == 202, response.json()
    assert response["Location"].endswith(f"/deployments/{response.json()['deployment_results'][0]['id']}/")
    assert Host.objects.filter(name="web02").exists()
