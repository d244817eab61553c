"""Shared fixtures: personas, API clients, and access to the real test services."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from monitoring_portal import roles
from monitoring_portal.models import APIToken, Team
from preferences import notify_filter
from registry import models as registry_models
from tests.doubles import DeployRecorder, stub_deploys
from tests.scenarios import Site
from tests.services.required import require_service
from tests.services.workers import isolate_redis_per_worker

# Under pytest-xdist (the README's test command runs the suite on several workers), each worker
# gets Redis databases of its own: deploy locks, wait slots, queues and counters of one worker's
# tests never meet another's. Here, at import, so that every fixture and subprocess sees it.
isolate_redis_per_worker()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Settings) -> None:
    """PBKDF2's deliberate slowness is for production; tests create many users."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _ask_silent_nodes_again(settings: Settings) -> None:
    """Tests stop and restart cores within a test: by default every request asks every node again
    (tests/livestatus/test_unreachable_memory.py switches the memory on)."""
    settings.LIVESTATUS_UNREACHABLE_SECONDS = 0


@pytest.fixture(autouse=True)
def filter_defaults(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The notify-filter's default paths (nodes without notify_dir, in-process runs): never /var/lib.

    Any test that commits a contact or rule change publishes snapshots; a node without
    notify_dir publishes to the filter's built-in default, which must not be the machine's.
    """
    root = tmp_path_factory.mktemp("filter-defaults")
    (root / "state").mkdir()
    monkeypatch.setattr(notify_filter, "DEFAULT_SNAPSHOT_DIR", str(root / "snapshot"))
    monkeypatch.setattr(notify_filter, "DEFAULT_STATE_DIR", str(root / "state"))
    monkeypatch.setattr(notify_filter, "DEFAULT_LOG", str(root / "decisions.log"))
    monkeypatch.setattr(registry_models, "DEFAULT_NOTIFY_DIR", str(root))  # NaemonNode.notify_paths()
    return root


@pytest.fixture
def redis_url() -> str:
    """The test Redis started by scripts/testenv.py."""
    url = os.environ.get("PORTAL_TEST_REDIS_URL", "")
    require_service("Redis", bool(url), "PORTAL_TEST_REDIS_URL is not set")
    return url


@pytest.fixture
def team(db: None) -> Team:
    return Team.objects.create(name="web", description="Web servers")


@pytest.fixture
def other_team(db: None) -> Team:
    return Team.objects.create(name="db", description="Databases")


@pytest.fixture
def owner(team: Team) -> User:
    """A member of the team that owns the objects under test."""
    user = User.objects.create_user("owner", "owner@example.org", "owner-pass-1234")
    team.members.add(user)
    return user


@pytest.fixture
def teammate(team: Team) -> User:
    user = User.objects.create_user("teammate", "teammate@example.org", "teammate-pass-1234")
    team.members.add(user)
    return user


@pytest.fixture
def outsider(other_team: Team) -> User:
    """Logged in, but in another team."""
    user = User.objects.create_user("outsider", "outsider@example.org", "outsider-pass-1234")
    other_team.members.add(user)
    return user


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_user("staff", "staff@example.org", "staff-pass-1234", is_staff=True)


@pytest.fixture
def operator(db: None) -> User:
    """The control room: in no team, operator role (acts on everything, writes no registry)."""
    user = User.objects.create_user("operator", "operator@example.org", "operator-pass-1234")
    roles.set_roles(user, [roles.OPERATOR])
    return user


@pytest.fixture
def viewer(db: None) -> User:
    """Signed in, in no team, viewer role: reads only."""
    user = User.objects.create_user("viewer", "viewer@example.org", "viewer-pass-1234")
    roles.set_roles(user, [roles.VIEWER])
    return user


@pytest.fixture
def site(team: Team, other_team: Team) -> Site:
    """The shared test registry: host groups, templates and hosts of two teams."""
    return Site(team, other_team)


@pytest.fixture
def make_token() -> Callable[[User], str]:
    """Issue an API token for a user and return its secret."""

    def make(user: User, name: str = "test") -> str:
        return APIToken.issue(user, name)[1]

    return make


@pytest.fixture
def api_client_for(make_token: Callable[[User], str]) -> Callable[[User | None], APIClient]:
    """An APIClient authenticated with a bearer token of ``user`` (None: anonymous)."""

    def make(user: User | None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(user)}")
        return client

    return make


@pytest.fixture
def deploys(monkeypatch: pytest.MonkeyPatch) -> DeployRecorder:
    """Deployments are requested and recorded; no deploy message leaves the test."""
    return stub_deploys(monkeypatch)
