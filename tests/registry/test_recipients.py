"""Contacts follow ownership: users as contacts, teams as contact groups, who would be told.

registry/signals.py keeps a contact per portal user in a team; registry/state.py renders teams
as contact groups on what they own; registry/recipients.py answers "who would be told" the
same way, for the forms and the API's ``recipients``.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from monitoring_portal.models import Team
from registry.models import Command, Contact, ContactGroup, Host, HostGroup, Service, ServiceGroup
from registry.recipients import Recipient, recipients
from registry.state import render_node
from tests.doubles import DeployRecorder
from tests.factories import ContactFactory, HostFactory, NaemonNodeFactory, ServiceFactory
from tests.scenarios import Site
from tests.services.nagios import VerifyDir

API = "/api/v1/registry"


@pytest.fixture
def email(db: None) -> Command:
    """The site's email channel: what a user in a team gets by default (PORTAL_USER_CHANNELS)."""
    return Command.objects.create(
        name="notify-email", command_line="/bin/true $CONTACTEMAIL$", channel="email"
    )


def member(name: str, team: Team, **fields: Any) -> User:
    user = User.objects.create_user(name, fields.pop("email", f"{name}@example.org"), **fields)
    team.members.add(user)
    return user


def who(obj: Host | Service) -> list[tuple[str, tuple[str, ...]]]:
    obj.refresh_from_db()
    return [(r.contact, r.via) for r in recipients(obj)]


# --- users as contacts -------------------------------------------------------------------------


def test_a_team_member_with_an_email_is_a_contact_kept_in_step(
    team: Team, other_team: Team, email: Command, deploys: DeployRecorder
) -> None:
    NaemonNodeFactory.create(name="master1")
    alice = member("alice", team)
    contact = Contact.objects.get(user=alice)
    assert (contact.name, contact.email, contact.managed) == ("alice", "alice@example.org", True)
    assert [c.name for c in contact.host_notification_commands.all()] == ["notify-email"]
    assert [c.name for c in contact.service_notification_commands.all()] == ["notify-email"]
    assert deploys.calls == [({"master1"}, "team membership changed")]

    alice.email = "alice@ops.example.org"
    alice.save()
    assert Contact.objects.get(user=alice).email == "alice@ops.example.org"
    # Another team changes the teams' groups (a deploy), not the contact.
    alice.teams.add(other_team)
    assert Contact.objects.filter(user=alice).count() == 1
    alice.teams.clear()
    assert not Contact.objects.filter(user=alice).exists()
    assert len(deploys.calls) == 4


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"email": ""}, "no email"),
        ({"email": "alice@example.org", "is_active": False}, "inactive"),
    ],
)
def test_who_is_not_made_a_contact(team: Team, email: Command, fields: dict[str, Any], why: str) -> None:
    member("alice", team, **fields)
    assert not Contact.objects.filter(name="alice").exists(), why
    outsider = User.objects.create_user("bob", "bob@example.org")  # in no team
    assert not Contact.objects.filter(user=outsider).exists()


def test_no_channel_no_contact_until_the_site_has_one(team: Team, settings: Any) -> None:
    alice = member("alice", team)
    assert not Contact.objects.filter(user=alice).exists()
    Command.objects.create(name="notify-email", command_line="/bin/true", channel="email")
    assert Contact.objects.get(user=alice).name == "alice"


def test_stock_host_and_service_commands_go_to_their_own_lists(team: Team) -> None:
    """Naemon's notify-host-by-email and notify-service-by-email: one mail per notification, not two."""
    alice = member("alice", team)
    bob = member("bob", team)
    Command.objects.create(name="notify-host-by-email", command_line="/bin/true $HOSTNAME$", channel="email")
    chosen = Command.objects.create(name="notify-pager", command_line="/bin/true", channel="sms")
    bobs = Contact.objects.get(user=bob)
    bobs.service_notification_commands.set([chosen])  # bob chose his own
    Command.objects.create(
        name="notify-service-by-email", command_line="/bin/true $SERVICEDESC$", channel="email"
    )
    contact = Contact.objects.get(user=alice)
    assert [c.name for c in contact.host_notification_commands.all()] == ["notify-host-by-email"]
    assert [c.name for c in contact.service_notification_commands.all()] == ["notify-service-by-email"]
    bobs.refresh_from_db()
    assert [c.name for c in bobs.service_notification_commands.all()] == ["notify-pager"]


def test_a_contact_of_someone_else_is_never_taken_over(team: Team, email: Command) -> None:
    ContactFactory.create(name="alice", email="pager@example.org")
    alice = member("alice", team)
    assert Contact.objects.get(name="alice").user is None
    assert not Contact.objects.filter(user=alice).exists()


def test_a_contact_people_link_to_a_user_replaces_the_managed_one(team: Team, email: Command) -> None:
    alice = member("alice", team)
    ContactFactory.create(name="alice-pager", user=alice)
    assert list(Contact.objects.filter(user=alice).values_list("name", "managed")) == [("alice-pager", False)]
    alice.email = "new@example.org"
    alice.save()
    assert Contact.objects.get(user=alice).email == "alice-pager@example.org"  # people's contact: untouched


# --- who would be told, each path ----------------------------------------------------------------


@pytest.fixture
def world(team: Team, other_team: Team, email: Command) -> dict[str, Any]:
    """alice in web, bob in db, carol a contact of no team; admin (staff) for the default group."""
    member("alice", team)
    member("bob", other_team)
    admin = User.objects.create_user("admin", "admin@example.org", is_staff=True)
    ContactFactory.create(name="admin", user=admin)
    return {
        "carol": ContactFactory.create(name="carol"),
        "web": HostGroup.objects.create(name="web", team=team),
        "db": HostGroup.objects.create(name="db", team=other_team),
        "shared": HostGroup.objects.create(name="shared"),
        "db-services": ServiceGroup.objects.create(name="db-services", team=other_team),
    }


def test_a_host_notifies_its_owners_and_what_it_names(team: Team, world: dict[str, Any]) -> None:
    host = HostFactory.create(name="web1", team=team)
    assert who(host) == [("alice", ("team web",))]
    host.contacts.add(world["carol"])
    assert who(host) == [("alice", ("team web",)), ("carol", ("contact",))]
    host.notify_owners = False
    host.save()
    assert who(host) == [("carol", ("contact",))]
    # Host groups' teams own it too.
    other = HostFactory.create(name="db1", hostgroups=[world["db"]])
    assert who(other) == [("bob", ("team db",))]


def test_a_host_nobody_owns_gets_the_default_group(world: dict[str, Any]) -> None:
    host = HostFactory.create(name="lonely", hostgroups=[world["shared"]])
    assert who(host) == [("admin", ("default group",))]
    group = ContactGroup.objects.create(name="ops")
    group.members.add(world["carol"])
    host.contact_groups.add(group)
    assert who(host) == [("carol", ("contact group ops",))]


def test_a_service_inherits_from_its_host_and_adds_its_own_owners(team: Team, world: dict[str, Any]) -> None:
    host = HostFactory.create(name="web1", team=team)
    host.contacts.add(world["carol"])
    service = ServiceFactory.create(host=host, description="HTTP")
    assert who(service) == [("alice", ("host web1: team web",)), ("carol", ("host web1: contact",))]
    # A service group of another team adds it, and keeps what it inherited (written out).
    service.servicegroups.add(world["db-services"])
    assert who(service) == [("alice", ("team web",)), ("bob", ("team db",)), ("carol", ("contact",))]
    # Its own contact, owners off: only what it names.
    service.notify_owners = False
    service.save()
    service.contacts.add(Contact.objects.get(name="admin"))
    assert who(service) == [("admin", ("contact",))]


def test_a_service_on_host_groups(world: dict[str, Any]) -> None:
    owned = ServiceFactory.create(host=None, hostgroups=[world["web"]], description="Load")
    assert who(owned) == [("alice", ("team web",))]
    # On a group of no team, with nothing of its own: each host's recipients, inherited.
    HostFactory.create(name="s1", hostgroups=[world["shared"]]).contacts.add(world["carol"])
    HostFactory.create(name="s2", hostgroups=[world["shared"]])
    shared = ServiceFactory.create(host=None, hostgroups=[world["shared"]], description="Disk")
    assert who(shared) == [("admin", ("host s2: default group",)), ("carol", ("host s1: contact",))]


# --- rendered as Naemon reads it ----------------------------------------------------------------


def _block(text: str, start: str) -> str:
    return next(b for b in text.split("define ") if start in b)


def test_teams_are_rendered_as_contact_groups_on_what_they_own(
    team: Team, world: dict[str, Any], verify_dir: VerifyDir
) -> None:
    master = NaemonNodeFactory.create(name="master1")
    check = Command.objects.create(name="check-true", command_line="/bin/true")
    owned = HostFactory.create(name="web1", team=team, check_command=check, max_check_attempts=1)
    ServiceFactory.create(host=owned, description="HTTP", check_command=check, max_check_attempts=1)
    named = HostFactory.create(name="web2", team=team, check_command=check, max_check_attempts=1)
    named.contacts.add(world["carol"])
    silent = HostFactory.create(
        name="web3", team=team, notify_owners=False, check_command=check, max_check_attempts=1
    )
    service = ServiceFactory.create(host=silent, description="SSH", check_command=check, max_check_attempts=1)
    service.servicegroups.add(world["db-services"])
    rendered = render_node(master)
    groups, hosts, services = (rendered.files[f] for f in ("groups.cfg", "hosts.cfg", "services.cfg"))
    assert "contactgroup_name team-web\n    alias Team web\n    members alice\n" in groups
    assert "contactgroup_name team-db\n    alias Team db\n    members bob\n" in groups
    assert "contact_groups team-web\n" in _block(hosts, "host_name web1\n")
    assert "contact_groups" not in _block(services, "host_name web1\n")  # inherits the host's
    assert "contacts carol\n    contact_groups team-web\n" in _block(hosts, "host_name web2\n")
    # notify_owners off: the default group (nobody else is named), not the team.
    assert "contact_groups portal-default-contacts\n" in _block(hosts, "host_name web3\n")
    # The service's own owner (db) is added; its host's team is not (the host opted out).
    assert "contact_groups team-db,team-web\n" in _block(services, "host_name web3\n")
    result = verify_dir.check(rendered.files)
    assert "Total Warnings: 0" in result.output and "Total Errors:   0" in result.output, result.output
    assert [r.contact for r in recipients(named)] == ["alice", "carol"]


def test_a_contact_group_may_not_take_a_team_groups_name(api: Any, world: dict[str, Any]) -> None:
    response = api.post(f"{API}/contactgroups/", {"name": "team-web", "members": []}, format="json")
    assert response.status_code == 400
    assert "portal's own" in str(response.json()["name"])
    assert not ContactGroup.objects.filter(name="team-web").exists()


# --- the API: read-only recipients, notify_owners, the token's default ---------------------------


def test_the_api_shows_recipients_and_notify_owners(
    api_client_for: Any, owner: User, site: Site, email: Command, deploys: DeployRecorder
) -> None:
    Team.objects.get(name="web").members.add(owner)  # (re)sync now that the email channel exists
    client = api_client_for(owner)
    data = client.get(f"{API}/hosts/web01/").json()
    assert data["notify_owners"] is True
    assert {"contact": "owner", "via": ["team web"]} in data["recipients"]
    assert data["services"][0]["recipients"] == [{"contact": "owner", "via": ["host web01: team web"]}]
    response = client.patch(f"{API}/hosts/web01/", {"notify_owners": False}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["recipients"] == []
    assert Host.objects.get(name="web01").notify_owners is False


def test_a_short_lived_host_from_a_token_notifies_the_token_users_team(
    api_client_for: Any, owner: User, site: Site, email: Command, deploys: DeployRecorder
) -> None:
    Team.objects.get(name="web").members.add(owner)
    client = api_client_for(owner)
    body = {"name": "ci-1", "templates": ["generic-host"], "lease_seconds": 600}
    response = client.put(f"{API}/hosts/ci-1/", body, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["team"] == "web"
    assert response.json()["recipients"] == [{"contact": "owner", "via": ["team web"]}]
    # Personally too, on request.
    response = client.put(f"{API}/hosts/ci-1/", {**body, "notify_me": True}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["contacts"] == ["owner"]
    assert response.json()["recipients"] == [{"contact": "owner", "via": ["contact", "team web"]}]


def test_the_token_default_needs_a_team_to_choose(
    api_client_for: Any, owner: User, other_team: Team, site: Site, deploys: DeployRecorder
) -> None:
    other_team.members.add(owner)
    body = {"name": "ci-2", "templates": ["generic-host"], "lease_seconds": 600}
    response = api_client_for(owner).put(f"{API}/hosts/ci-2/", body, format="json")
    assert response.status_code == 400
    assert "several (db, web)" in response.json()["team"][0]
    # notify_me without a contact (no email channel here): a 400 naming the field.
    response = api_client_for(owner).put(
        f"{API}/hosts/ci-2/", {**body, "team": "web", "notify_me": True}, format="json"
    )
    assert response.status_code == 400
    assert "no Naemon contact" in response.json()["notify_me"][0]
    assert not Host.objects.filter(name="ci-2").exists()
    assert deploys.calls == []


# --- the forms: who would be told, and a warning before notifying nobody ---------------------------


def test_the_host_form_asks_before_saving_a_host_that_notifies_nobody(
    owner: User, site: Site, deploys: DeployRecorder
) -> None:
    client = Client()
    client.force_login(owner)
    form = {"name": "web09", "team": "web", "templates": "generic-host", "notify_owners": "on"}
    response = client.post("/registry/hosts/add/", form)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Nobody would be notified about this object" in page
    assert "Save even though nobody would be notified" in page
    assert not Host.objects.filter(name="web09").exists()
    assert deploys.enqueued == []
    response = client.post("/registry/hosts/add/", {**form, "notify_nobody": "on"})
    assert response.status_code == 302
    assert Host.objects.filter(name="web09").exists()


def test_the_host_form_shows_who_would_be_told(
    owner: User, site: Site, email: Command, deploys: DeployRecorder
) -> None:
    Team.objects.get(name="web").members.add(owner)
    client = Client()
    client.force_login(owner)
    page = client.get("/registry/hosts/web01/edit/").content.decode()
    assert "Who would be notified" in page
    assert "<strong>owner</strong>" in page and "(team web)" in page
    # Turning the owners off would leave nobody: asked first, nothing stored.
    form = client.get("/registry/hosts/web01/edit/").context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.pop("notify_owners")
    response = client.post("/registry/hosts/web01/edit/", data)
    assert response.status_code == 200
    assert "Nobody would be notified about this object" in response.content.decode()
    assert Host.objects.get(name="web01").notify_owners is True


def test_recipients_is_a_list_of_contacts(team: Team, world: dict[str, Any]) -> None:
    host = HostFactory.create(name="web1", team=team)
    assert recipients(host) == [Recipient("alice", ("team web",))]
