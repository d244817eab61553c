"""LDAP sign-in against a real slapd: posixGroup and groupOfNames, the group map, the sync task."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import ldap
import pytest
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings

from monitoring_portal import roles
from monitoring_portal.groupmap import parse
from monitoring_portal.models import Team
from monitoring_portal.tasks import sync_ldap_users
from tests.services.slapd import SUFFIX, USER_PASSWORD, Directory, run_slapd

VAR_TEST = Path(__file__).resolve().parents[2] / "var" / "test"
GROUP_MAP = (
    "portal-admins=role:admin,cc-ops=role:operator,team-storage=team:storage,team-storage-gon=team:storage"
)


@pytest.fixture(scope="module")
def directory() -> Iterator[Directory]:
    yield from run_slapd(VAR_TEST)


@pytest.fixture
def storage(db: None) -> Team:
    return Team.objects.create(name="storage")


def use_directory(settings: Settings, directory: Directory, group_type: str) -> None:
    settings.AUTHENTICATION_BACKENDS = [
        "axes.backends.AxesStandaloneBackend",
        "django.contrib.auth.backends.ModelBackend",
        "monitoring_portal.ldap_auth.PortalLDAPBackend",
    ]
    settings.LDAP_SERVER_URI = directory.uri
    settings.LDAP_BIND_DN = f"cn=admin,{SUFFIX}"
    settings.LDAP_BIND_PASSWORD = "directory-admin-secret"
    settings.LDAP_USER_BASE = f"ou=people,{SUFFIX}"
    branch = "posix" if group_type == "posixGroup" else "names"
    settings.LDAP_GROUP_BASE = f"ou={branch},ou=groups,{SUFFIX}"
    settings.LDAP_GROUP_TYPE = group_type
    settings.LDAP_GROUP_MAP = parse(GROUP_MAP, roles=roles.ROLES)


def log_in(username: str, password: str) -> tuple[Client, int]:
    client = Client()
    response = client.post("/login/", {"username": username, "password": password})
    return client, response.status_code


@pytest.mark.django_db
def test_posix_group_member_signs_in_with_team_and_admin_role(
    settings: Settings, directory: Directory, storage: Team
) -> None:
    use_directory(settings, directory, "posixGroup")
    client, status = log_in("ada", USER_PASSWORD)
    assert status == 302
    ada = User.objects.get(username="ada")
    assert (ada.first_name, ada.last_name, ada.email) == ("Ada", "Lovelace", "ada@example.org")
    assert list(ada.teams.values_list("name", flat=True)) == ["storage"]
    assert roles.roles_of(ada) == {roles.ADMIN}
    assert client.get("/profile/").status_code == 200


@pytest.mark.django_db
def test_group_of_names_member_signs_in_as_operator_of_the_team(
    settings: Settings, directory: Directory, storage: Team
) -> None:
    use_directory(settings, directory, "groupOfNames")
    _, status = log_in("bob", USER_PASSWORD)
    assert status == 302
    bob = User.objects.get(username="bob")
    assert list(bob.teams.values_list("name", flat=True)) == ["storage"]
    assert roles.is_operator(bob) and not bob.is_staff


@pytest.mark.django_db
def test_directory_passwords_still_work_with_local_passwords_off(
    settings: Settings, directory: Directory, storage: Team
) -> None:
    use_directory(settings, directory, "posixGroup")
    settings.LOCAL_LOGIN = False
    settings.AUTHENTICATION_BACKENDS = [
        backend for backend in settings.AUTHENTICATION_BACKENDS if not backend.endswith("ModelBackend")
    ]
    User.objects.create_user("local", password="local-secret-123")
    assert log_in("local", "local-secret-123")[1] == 200  # refused: the form again
    assert log_in("ada", USER_PASSWORD)[1] == 302


@pytest.mark.django_db
def test_wrong_password_is_refused_and_creates_nobody(
    settings: Settings, directory: Directory, storage: Team
) -> None:
    use_directory(settings, directory, "posixGroup")
    client, status = log_in("ada", "not-the-password")
    assert status == 200  # the form again, with its error
    assert not User.objects.filter(username="ada").exists()
    assert client.get("/profile/").status_code == 302  # still anonymous


@pytest.mark.django_db
def test_sync_removes_team_and_role_of_a_user_taken_out_of_the_groups(
    settings: Settings, directory: Directory, storage: Team
) -> None:
    use_directory(settings, directory, "posixGroup")
    assert log_in("ada", USER_PASSWORD)[1] == 302
    local = User.objects.create_user("break-glass", password="local-secret-123")
    storage.members.add(local)  # given by hand: the directory does not know this account
    groups = [f"cn={cn},ou=posix,ou=groups,{SUFFIX}" for cn in ("team-storage", "portal-admins")]
    for group in groups:
        directory.modify(group, [(ldap.MOD_DELETE, "memberUid", [b"ada"])])
    try:
        assert sync_ldap_users() == 1  # ada; the break-glass account is not in the directory
        assert list(storage.members.values_list("username", flat=True)) == ["break-glass"]
        assert not User.objects.get(username="ada").is_staff  # out of portal-admins: no longer admin
    finally:
        for group in groups:
            directory.modify(group, [(ldap.MOD_ADD, "memberUid", [b"ada"])])
