"""The access matrix: every URL pattern of the project x every role x every method it answers.

The URL patterns come from the resolver; what each role may do comes from ``TABLE``, keyed by
URL name. A URL name without an entry fails ``test_every_url_has_an_entry``, so a new endpoint
is classified the day it is added. Allowed means the request got past the permission checks
(any answer but 401/403 or a redirect to a login page: a placeholder body may well be a 400);
denied means exactly such a refusal (or, for another user's or team's object, a 404 that
hides it). Each role also meets its own and another team's object where the URL names one
(``own``/``other``). Allowed requests are rolled back; refused ones are not,
and the database is compared before and after: a refusal changes nothing.

CSRF stays on: every client enforces it and sends the token its session was given, as a
browser would. Every node's Livestatus address is a loopback port nothing listens on, with
no retry window, so status pages answer at once with their "unreachable" banner.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from livestatus.models import SavedView
from monitoring_portal.models import APIToken, Team, TokenScope
from preferences.models import NotificationRule, Rotation, Silence
from registry.choices import DeploymentState
from registry.models import DeployedHost, Deployment, Host, NaemonNode, Service
from registry.relations import HostDependency, HostEscalation, ServiceDependency, ServiceEscalation
from tests.doubles import DeployRecorder
from tests.livestatus.fixtures import fresh_clients  # noqa: F401  (a fixture used below)
from tests.scenarios import Site
from tests.services.icinga import free_tcp_port

pytestmark = pytest.mark.django_db

ROLES = (
    "anonymous",
    "viewer",
    "operator",
    "member",
    "admin",
    "ro-token",
    "actions-token",
    "hostgroups-token",
)
TOKENS = {"ro-token", "actions-token", "hostgroups-token"}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}

# Who may: each rule is a predicate over (role, variant) for one kind of decision.
Rule = Callable[[str, str], bool]


def anyone(role: str, variant: str) -> bool:
    return True


def signed_in(role: str, variant: str) -> bool:
    return role != "anonymous"


def nobody(role: str, variant: str) -> bool:
    return False


def nobody_but_admin(role: str, variant: str) -> bool:
    return role == "admin"


def team_write(role: str, variant: str) -> bool:
    """Registry writes: staff; the owning team's members and their host-groups token on own objects."""
    return role == "admin" or (role in ("member", "hostgroups-token") and variant == "own")


def act(role: str, variant: str) -> bool:
    """Operator actions: staff, operators (and their actions token), members on their own objects."""
    return role in ("admin", "operator", "actions-token") or (role == "member" and variant == "own")


def creator(role: str, variant: str) -> bool:
    """Add a host or service: staff and team members (a viewer or operator could own nothing)."""
    return role in ("admin", "member")


def relation_write(role: str, variant: str) -> bool:
    """A dependency or escalation: staff, and the members of its dependent object's team."""
    return role == "admin" or (role == "member" and variant == "own")


def personal_read(role: str, variant: str) -> bool:
    """A user's token, rule or silence (own: the member's): its user and tokens, and staff."""
    return role in ("admin", "ro-token") or (variant == "own" and role in ("member", "hostgroups-token"))


def token_read(role: str, variant: str) -> bool:
    """A token's record: its user only (and that user's tokens), not even staff."""
    return variant == "own" and role in ("member", "hostgroups-token")


def personal_write(role: str, variant: str) -> bool:
    """Only its user, signed in: staff read every user's but change none, no token changes them."""
    return variant == "own" and role == "member"


def redeploy(role: str, variant: str) -> bool:
    """Redeploy a node or retry a deployment: staff, operators and their actions token."""
    return role in ("admin", "operator", "actions-token")


def own_data(role: str, variant: str) -> bool:
    """A user's own rules, silences, tokens, profile: every signed-in user, no scoped or read-only token."""
    return role in ("viewer", "operator", "member", "admin")


@dataclass(frozen=True)
class Entry:
    """Who may read (GET) and who may write (other methods), and the URL's arguments."""

    read: Rule
    write: Rule = nobody_but_admin
    own: dict[str, str] | None = None  # kwargs naming the team's object (None: "1" placeholders)
    other: dict[str, str] | None = None  # kwargs naming another team's object (a second variant)
    query: str = ""
    page_methods: tuple[str, ...] = ("GET",)  # for non-API views, the methods to try
    hides: bool = False  # a 404 refuses too (objects of one user, which others must not learn of)


def PERSONAL_OBJECT(kind: str) -> dict[str, Any]:
    """The member's object of this kind and another user's; a 404 hides either from the rest."""
    return {"own": {"pk": f"member-{kind}"}, "other": {"pk": f"stranger-{kind}"}, "hides": True}


ACTION_PAGE = Entry(act, act, own={"host": "web01"}, other={"host": "db01"}, page_methods=("GET", "POST"))
ACTION_API = Entry(signed_in, act, own={"host": "web01"}, other={"host": "db01"})
REGISTRY_OBJECT = Entry(signed_in, team_write)
STAFF_OBJECT = Entry(signed_in, nobody_but_admin)
PERSONAL = Entry(signed_in, own_data)

TABLE: dict[str, Entry] = {
    "home": Entry(signed_in),
    "login": Entry(anyone),
    "logout": Entry(anyone, anyone, page_methods=("POST",)),
    "profile": Entry(signed_in, signed_in, page_methods=("GET", "POST")),
    "revoke-token": Entry(signed_in, personal_write, page_methods=("POST",), **PERSONAL_OBJECT("token")),
    "healthz": Entry(anyone),
    # Django's language switch (a cookie) and the JavaScript translations: the login page uses both.
    "set_language": Entry(anyone, anyone, page_methods=("GET", "POST")),
    "javascript-catalog": Entry(anyone),
    "readyz": Entry(anyone),
    "prometheus-django-metrics": Entry(nobody_but_admin),
    "registry:index": Entry(signed_in),
    "registry:host-list": Entry(signed_in),
    "registry:host-add": Entry(creator, creator, page_methods=("GET", "POST")),
    "registry:host-detail": Entry(signed_in, own={"name": "web01"}, other={"name": "db01"}),
    "registry:host-edit": Entry(
        team_write, team_write, own={"name": "web01"}, other={"name": "db01"}, page_methods=("GET", "POST")
    ),
    "registry:host-delete": Entry(team_write, team_write, own={"name": "web01"}, other={"name": "db01"}),
    "registry:service-list": Entry(signed_in),
    "registry:service-add": Entry(creator, creator, page_methods=("GET", "POST")),
    "registry:service-detail": Entry(signed_in, own={"pk": "http"}, other={"pk": "disk"}),
    "registry:service-edit": Entry(
        team_write, team_write, own={"pk": "http"}, other={"pk": "disk"}, page_methods=("GET", "POST")
    ),
    "registry:service-delete": Entry(team_write, team_write, own={"pk": "http"}, other={"pk": "disk"}),
    "registry:node-list": Entry(signed_in),
    "registry:node-detail": Entry(signed_in, own={"name": "master1"}),
    "registry:node-deployments": Entry(signed_in, own={"name": "master1"}),
    "registry:deployment-detail": Entry(signed_in, own={"pk": "failed"}),
    # The other kinds' pages (one set of views for every kind): sent for host groups, a team's kind.
    "registry:object-list": Entry(signed_in, own={"kind": "hostgroups"}),
    "registry:object-add": Entry(creator, creator, own={"kind": "hostgroups"}, page_methods=("GET", "POST")),
    "registry:object-detail": Entry(
        signed_in, own={"kind": "hostgroups", "key": "web"}, other={"kind": "hostgroups", "key": "db"}
    ),
    **{
        f"registry:object-{page}": Entry(
            team_write,
            team_write,
            own={"kind": "hostgroups", "key": "web"},
            other={"kind": "hostgroups", "key": "db"},
            page_methods=("GET", "POST"),
        )
        for page in ("edit", "delete")
    },
    "livestatus:index": Entry(signed_in),
    "livestatus:problems": Entry(signed_in),
    "livestatus:problems-table": Entry(signed_in),
    "livestatus:hosts": Entry(signed_in),
    "livestatus:hosts-table": Entry(signed_in),
    "livestatus:services": Entry(signed_in),
    "livestatus:services-table": Entry(signed_in),
    "livestatus:host": Entry(signed_in, own={"host": "web01"}),
    "livestatus:service": Entry(signed_in, own={"host": "web01", "service": "HTTP"}),
    "livestatus:object": Entry(signed_in, query="?host=web01"),
    "livestatus:act": Entry(act, act, own={"kind": "recheck"}, query="?host=web01", page_methods=("GET",)),
    "livestatus:nodes": Entry(signed_in),
    "livestatus:search": Entry(signed_in, query="?q=web"),
    "livestatus:action-log": Entry(signed_in),
    # Saved views: each its user's only; anyone signed in keeps their own (another's is a 404).
    "livestatus:saved-views": Entry(signed_in, signed_in, page_methods=("GET", "POST")),
    "livestatus:saved-view": Entry(
        token_read, personal_write, page_methods=("GET", "POST"), **PERSONAL_OBJECT("view")
    ),
    "livestatus:saved-view-delete": Entry(
        personal_write, personal_write, page_methods=("POST",), **PERSONAL_OBJECT("view")
    ),
    "livestatus:acknowledge": ACTION_PAGE,
    "livestatus:remove-acknowledgement": ACTION_PAGE,
    "livestatus:downtime": ACTION_PAGE,
    "livestatus:delete-downtime": ACTION_PAGE,
    "livestatus:recheck": ACTION_PAGE,
    "livestatus:comment": ACTION_PAGE,
    "livestatus:enable-notifications": ACTION_PAGE,
    "livestatus:disable-notifications": ACTION_PAGE,
    "livestatus:enable-checks": ACTION_PAGE,
    "livestatus:disable-checks": ACTION_PAGE,
    "wall:wall": Entry(signed_in),
    "wall:data": Entry(signed_in),
    "preferences:index": Entry(signed_in),
    "preferences:who": Entry(signed_in),
    "preferences:history": Entry(signed_in),
    "preferences:silences": Entry(signed_in),
    "preferences:coverage": Entry(signed_in),
    "api-root": Entry(signed_in),
    "schema": Entry(signed_in),
    "swagger-ui": Entry(signed_in),
    "accounts-api:api-root": Entry(signed_in),
    "accounts-api:team-list": Entry(signed_in),
    "accounts-api:team-detail": Entry(signed_in, own={"name": "web"}),
    "accounts-api:apitoken-list": PERSONAL,
    "accounts-api:apitoken-detail": Entry(token_read, personal_write, **PERSONAL_OBJECT("token")),
    "registry-api:api-root": Entry(signed_in),
    "registry-api:bulk-hosts": Entry(signed_in, team_write, own={"host": "web01"}, other={"host": "db01"}),
    "registry-api:host-service-list": Entry(
        signed_in, team_write, own={"host": "web01"}, other={"host": "db01"}
    ),
    "registry-api:host-service-detail": Entry(
        signed_in,
        team_write,
        own={"host": "web01", "description": "HTTP"},
        other={"host": "db01", "description": "Disk"},
    ),
    "registry-api:hostgroup-service-list": Entry(
        signed_in, team_write, own={"hostgroup": "web"}, other={"hostgroup": "db"}
    ),
    "registry-api:hostgroup-service-detail": Entry(
        signed_in,
        team_write,
        own={"hostgroup": "web", "description": "Load"},
        other={"hostgroup": "db", "description": "Load"},
    ),
    "registry-api:naemonnode-list": STAFF_OBJECT,
    "registry-api:naemonnode-detail": Entry(signed_in, own={"name": "master1"}),
    "registry-api:naemonnode-moves": Entry(signed_in, own={"name": "master1"}),
    "registry-api:host-list": Entry(signed_in, lambda r, v: r in ("admin", "member", "hostgroups-token")),
    "registry-api:host-detail": Entry(signed_in, team_write, own={"name": "web01"}, other={"name": "db01"}),
    "registry-api:service-list": Entry(signed_in),
    "registry-api:hostgroup-list": Entry(
        signed_in, lambda r, v: r in ("admin", "member", "hostgroups-token")
    ),
    "registry-api:hostgroup-detail": Entry(signed_in, team_write, own={"name": "web"}, other={"name": "db"}),
    "registry-api:servicegroup-list": Entry(signed_in, lambda r, v: r in ("admin", "member")),
    "registry-api:servicegroup-detail": Entry(
        signed_in, lambda r, v: r == "admin" or (r == "member" and v == "own"), own={"name": "web-services"}
    ),
    "registry-api:hosttemplate-list": STAFF_OBJECT,
    "registry-api:hosttemplate-detail": Entry(signed_in, own={"name": "generic-host"}),
    "registry-api:servicetemplate-list": STAFF_OBJECT,
    "registry-api:servicetemplate-detail": Entry(signed_in, own={"name": "generic-service"}),
    "registry-api:command-list": STAFF_OBJECT,
    "registry-api:command-detail": Entry(signed_in, own={"name": "check-unused"}),
    "registry-api:timeperiod-list": STAFF_OBJECT,
    "registry-api:timeperiod-detail": Entry(signed_in, own={"name": "unused-period"}),
    "registry-api:contact-list": STAFF_OBJECT,
    "registry-api:contact-detail": Entry(signed_in, own={"name": "oncall"}),
    "registry-api:contactgroup-list": STAFF_OBJECT,
    "registry-api:contactgroup-detail": Entry(signed_in, own={"name": "admins"}),
    "registry-api:deployment-list": Entry(signed_in),
    "registry-api:deployment-detail": Entry(signed_in, own={"pk": "failed"}),
    "livestatus-api:api-root": Entry(signed_in),
    "livestatus-api:host-detail": Entry(signed_in, own={"host": "web01"}),
    "livestatus-api:service-detail": Entry(signed_in, own={"host": "web01", "service": "HTTP"}),
    "livestatus-api:object-detail": Entry(signed_in, query="?host=web01"),
    "livestatus-api:host-availability": Entry(signed_in, own={"host": "web01"}),
    "livestatus-api:availability": Entry(signed_in, query="?host=web01&service=HTTP"),
    "livestatus-api:host-list": Entry(signed_in),
    "livestatus-api:service-list": Entry(signed_in),
    "livestatus-api:problem-list": Entry(signed_in),
    "livestatus-api:downtime-list": Entry(signed_in),
    "livestatus-api:node-list": Entry(signed_in),
    "livestatus-api:action-list": Entry(signed_in),
    "livestatus-api:action-detail": Entry(signed_in),
    "livestatus-api:action-acknowledge": ACTION_API,
    "livestatus-api:action-comment": ACTION_API,
    "livestatus-api:action-delete-downtime": ACTION_API,
    "livestatus-api:action-downtime": ACTION_API,
    "livestatus-api:action-recheck": ACTION_API,
    "livestatus-api:action-remove-acknowledgement": ACTION_API,
    "livestatus-api:action-enable-notifications": ACTION_API,
    "livestatus-api:action-disable-notifications": ACTION_API,
    "livestatus-api:action-enable-checks": ACTION_API,
    "livestatus-api:action-disable-checks": ACTION_API,
    # One action on a selection: each target checked as a single action is (403 when none may be).
    "livestatus-api:action-bulk": ACTION_API,
    "livestatus-api:saved-view-list": PERSONAL,
    "livestatus-api:saved-view-detail": Entry(token_read, personal_write, **PERSONAL_OBJECT("view")),
    "preferences-api:api-root": Entry(signed_in),
    "preferences-api:profile": PERSONAL,
    "preferences-api:test": PERSONAL,
    "preferences-api:who": Entry(signed_in),
    "preferences-api:coverage": Entry(signed_in),
    "preferences-api:export": PERSONAL,  # PUT replaces the caller's own rules
    "preferences-api:replay": PERSONAL,
    "preferences-api:choices": Entry(signed_in),
    "preferences-api:choices-hosts": Entry(signed_in),
    "preferences-api:choices-hostgroups": Entry(signed_in),
    "preferences-api:choices-services": Entry(signed_in),
    "preferences-api:choices-servicegroups": Entry(signed_in),
    "preferences-api:rule-list": PERSONAL,
    "preferences-api:rule-only": PERSONAL,
    "preferences-api:rule-reorder": PERSONAL,
    "preferences-api:rule-detail": Entry(personal_read, personal_write, **PERSONAL_OBJECT("rule")),
    "preferences-api:history-list": Entry(signed_in),
    "preferences-api:history-not-attempted": Entry(signed_in),
    "preferences-api:history-detail": Entry(signed_in),
    "preferences-api:silence-list": PERSONAL,
    "preferences-api:silence-detail": Entry(personal_read, personal_write, **PERSONAL_OBJECT("silence")),
    "preferences-api:handover-list": PERSONAL,
    "preferences-api:handover-detail": PERSONAL,
    "preferences-api:rotation-list": PERSONAL,
    "preferences-api:rotation-detail": Entry(
        signed_in,
        lambda r, v: r == "admin" or (r == "member" and v == "own"),
        own={"team": "web"},
        other={"team": "db"},
    ),
    # Sign-in through the identity provider: before any login, so open to all.
    # Not sent here: without OIDC_ISSUER they raise ImproperlyConfigured, and with one they talk
    # to the provider; tests/monitoring_portal/test_oidc.py drives them against a real one.
    "oidc_authentication_init": Entry(anyone, page_methods=()),
    "oidc_authentication_callback": Entry(anyone, page_methods=()),
    "oidc_logout": Entry(anyone, anyone, page_methods=()),
    # Redeploy: operators and staff (registry.permissions.may_redeploy); retry a failed deployment: staff.
    "registry-api:naemonnode-redeploy": Entry(signed_in, redeploy, own={"name": "master1"}),
    "registry:node-redeploy": Entry(signed_in, redeploy, own={"name": "master1"}, page_methods=("POST",)),
    "registry-api:deployment-retry": Entry(signed_in, redeploy, own={"pk": "failed"}),
    "registry:deployment-retry": Entry(signed_in, redeploy, own={"pk": "failed"}, page_methods=("POST",)),
    "audit": Entry(nobody_but_admin),
    # Dependencies and escalations are their dependent object's: its team writes them (and
    # creates them, ownership checked after the write), a host-groups token none of them.
    **{
        f"registry-api:{kind}-{suffix}": entry
        for kind in ("hostdependency", "servicedependency", "hostescalation", "serviceescalation")
        for suffix, entry in (
            ("list", Entry(signed_in, lambda r, v: r in ("admin", "member"))),
            (
                "detail",
                Entry(signed_in, relation_write, own={"pk": f"{kind}-own"}, other={"pk": f"{kind}-other"}),
            ),
        )
    },
    **{
        f"registry-api:{kind}-history": Entry(signed_in, own={"name": name})
        for kind, name in (
            ("host", "web01"),
            ("hostgroup", "web"),
            ("servicegroup", "web-services"),
            ("command", "check-unused"),
            ("contact", "oncall"),
            ("contactgroup", "admins"),
            ("hosttemplate", "generic-host"),
            ("servicetemplate", "generic-service"),
            ("timeperiod", "unused-period"),
            ("naemonnode", "master1"),
        )
    },
}
# Django's admin: every page is staff's (the admin site checks is_staff itself; the admin role
# is sent as a superuser there, since model permissions are Django's own business). The registry
# is read-only in the admin (its writes go through registry.writes), audit rows and recorded
# actions are append-only, and tokens are issued on the profile page (the secret shown once):
# no add or delete pages for them, even for a superuser.
ADMIN_NAMESPACE = Entry(nobody_but_admin)
ADMIN_NO_ADD = ("registry_", "livestatus_", "auditlog_", "axes_", "monitoring_portal_apitoken_")
ADMIN_NO_DELETE = ("registry_", "livestatus_", "auditlog_")


@dataclass(frozen=True)
class Endpoint:
    name: str
    pattern: str
    methods: tuple[str, ...]
    callback: Any
    resolver: URLResolver
    prefix: str
    kwargs: tuple[str, ...]


def _walk(
    resolver: URLResolver, prefix: str, namespace: str
) -> Iterator[tuple[URLResolver, str, str, URLPattern]]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry, prefix + str(entry.pattern), inner)
        else:
            yield resolver, prefix, namespace, entry


def endpoints() -> list[Endpoint]:
    """Every URL pattern but format twins (``.json``), with the methods its view answers."""
    found = []
    for resolver, prefix, namespace, pattern in _walk(get_resolver(), "", ""):
        if "format" in pattern.pattern.regex.groupindex:
            continue
        callback = pattern.callback
        name = namespace + (pattern.name or "")
        cls = getattr(callback, "cls", None)
        actions: dict[str, str] = getattr(callback, "actions", None) or {}
        if actions:
            allowed = cls.http_method_names if cls is not None else ()
            methods = tuple(m.upper() for m in actions if m in allowed)
        elif cls is not None:
            methods = tuple(
                m.upper() for m in cls.http_method_names if hasattr(cls, m) and m not in ("options", "head")
            )
        else:
            methods = ()  # a page: the table says which methods to try
        kwargs = tuple(pattern.pattern.regex.groupindex)
        found.append(
            Endpoint(name, prefix + str(pattern.pattern), methods, callback, resolver, prefix, kwargs)
        )
    return found


def entry_for(endpoint: Endpoint) -> Entry | None:
    if endpoint.name in ("admin:login", "admin:logout"):
        return Entry(anyone)
    if endpoint.name.startswith("admin:"):
        page = endpoint.name.removeprefix("admin:")
        if page.endswith("_add") and page.startswith(ADMIN_NO_ADD):
            return Entry(nobody)
        if page.endswith("_delete") and page.startswith(ADMIN_NO_DELETE):
            return Entry(nobody)
        if page == "autocomplete":
            return Entry(nobody)  # 403 to anyone without its field parameters (it serves forms)
        return ADMIN_NAMESPACE
    return TABLE.get(endpoint.name)


def test_every_url_has_an_entry() -> None:
    """A new URL name must be classified here before it ships; a removed one leaves the table."""
    found = endpoints()
    missing = sorted({e.name or e.pattern for e in found if entry_for(e) is None})
    assert missing == [], f"classify these in TABLE: {missing}"
    stale = sorted(set(TABLE) - {e.name for e in found})
    assert stale == [], f"no such URL names any more: {stale}"
    assert len(found) > 150  # the walk found the project, admin included


# Signing the logout test's fresh clients in adds a session and an access-log row each.
SIGN_IN_ROWS = {"sessions.Session", "axes.AccessLog"}


def row_counts() -> dict[str, int]:
    """Rows per model (but sessions), to show that refused requests changed nothing."""
    models = [m for m in apps.get_models() if m._meta.label not in SIGN_IN_ROWS]
    return {model._meta.label: model._default_manager.count() for model in models}


class _Rollback(Exception):
    pass


def is_refusal(response: Any, variant: str, hides: bool) -> bool:
    """401/403 or a login redirect; for another user's or team's object, a 404 that hides it too."""
    if response.status_code in (401, 403) or ((variant == "other" or hides) and response.status_code == 404):
        return True
    # login_required and the admin send to a login page with ?next= (logging out goes to one without).
    location = response.get("Location", "")
    return response.status_code == 302 and "login" in location and "next=" in location


# URL arguments that "1" does not fit (Django admin's app index takes an app label).
PLACEHOLDERS = {"app_label": "registry"}

# Request bodies, so that an allowed write gets as far as it can (a 400 is fine: it passed the
# checks) and a refused one is refused by a permission, not by validation that runs first.
BODIES: dict[str, dict[str, Any]] = {
    "action-acknowledge": {"comment": "matrix"},
    "action-comment": {"comment": "matrix"},
    "action-downtime": {"comment": "matrix", "duration": 600, "fixed": True},
    "action-delete-downtime": {"downtime_id": 1},
}


def body_for(name: str, variant: str, given: dict[str, str]) -> dict[str, Any]:
    """The body of a write as the variant (own: team web's objects, other: team db's)."""
    host = given.get("host", "web01" if variant == "own" else "db01")
    team = "web" if variant == "own" else "db"
    short = name.rsplit(":", 1)[-1]
    if short == "bulk-hosts":
        return {"hosts": [{"name": host, "team": team, "hostgroups": [team]}]}
    if short == "action-bulk":
        return {"kind": "recheck", "targets": [{"host": host}]}
    if short in (
        "hostgroup-detail",
        "object-edit",
    ):  # the site's poller kept: only staff move a group between nodes
        name = given.get("name") or given["key"]
        return {"name": name, "team": team, "node": "poller1" if variant == "own" else "poller2"}
    if short == "servicegroup-detail":
        return {"name": given["name"], "team": team}
    return {"host": host, **BODIES.get(short, {})}


@dataclass
class Caller:
    """A role's client and the CSRF token its session was given (tokens send none: no cookie)."""

    client: Client
    csrf: str = ""

    def send(self, method: str, url: str, body: dict[str, Any], is_api: bool) -> Any:
        send = getattr(self.client, method.lower())
        if method in ("GET", "HEAD", "OPTIONS"):  # no body: the test client would urlencode it
            return send(url)
        headers = {"X-CSRFToken": self.csrf} if self.csrf else {}
        if is_api:
            return send(url, json.dumps(body), content_type="application/json", headers=headers)
        return send(url, body, headers=headers)


def caller(role: str, sessions: dict[str, User | None], tokens: dict[str, str]) -> Caller:
    """A client as the role: CSRF enforced, the token fetched from a page as a browser would."""
    if role in TOKENS:
        api_client = APIClient(enforce_csrf_checks=True)
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens[role]}")
        return Caller(api_client)
    client = Client(enforce_csrf_checks=True)
    user = sessions[role]
    if user is not None:
        client.force_login(user)
    client.get("/profile/" if user is not None else "/login/")
    return Caller(client, client.cookies["csrftoken"].value)


@pytest.fixture
def matrix_site(
    site: Site,
    owner: User,
    outsider: User,
    team: Team,
    other_team: Team,
    fresh_clients: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """The site with owned and other-team objects for every kind the table names; URL values by key."""
    # A refused connection gives up at once: the matrix tests who may, not how long a retry takes.
    monkeypatch.setattr("livestatus.nodes.RETRY_WINDOW", 0.0)
    NaemonNode.objects.update(livestatus=f"tcp:127.0.0.1:{free_tcp_port()}")
    DeployedHost.objects.record(site.master, {"web01": site.web01.pk, "db01": site.db01.pk})
    disk = Service.objects.create(description="Disk", host=site.db01, check_command=site.check_host_alive)
    web02 = Host.objects.create(name="web02", team=site.web01.team)
    db02 = Host.objects.create(name="db02", team=site.db01.team)
    http2 = Service.objects.create(description="HTTP", host=web02, check_command=site.check_http)
    disk2 = Service.objects.create(description="Disk", host=db02, check_command=site.check_host_alive)
    load_db = Service.objects.create(description="Load", host=None, check_command=site.check_host_alive)
    load_db.hostgroups.add(site.db)
    for rotating in (team, other_team):
        Rotation.objects.create(team=rotating, start=datetime.date(2026, 1, 5))
    failed = Deployment.objects.create(node=site.master, state=DeploymentState.FAILED, triggered_by="test")
    relations = {
        "hostdependency": (
            HostDependency.objects.create(host=web02, master_host=site.web01),
            HostDependency.objects.create(host=db02, master_host=site.db01),
        ),
        "servicedependency": (
            ServiceDependency.objects.create(service=http2, master_service=site.http),
            ServiceDependency.objects.create(service=disk2, master_service=disk),
        ),
        "hostescalation": (
            HostEscalation.objects.create(host=site.web01, first_notification=2),
            HostEscalation.objects.create(host=site.db01, first_notification=2),
        ),
        "serviceescalation": (
            ServiceEscalation.objects.create(service=site.http, first_notification=2),
            ServiceEscalation.objects.create(service=disk, first_notification=2),
        ),
    }
    values = {"http": str(site.http.pk), "disk": str(disk.pk), "failed": str(failed.pk)}
    # The member's and another user's token, rule and silence.
    ends = timezone.now() + datetime.timedelta(hours=1)
    for who, user in (("member", owner), ("stranger", outsider)):
        values[f"{who}-token"] = str(APIToken.issue(user, f"{who}-token")[0].pk)
        values[f"{who}-rule"] = str(NotificationRule.objects.create(user=user, action="notify").pk)
        values[f"{who}-silence"] = str(Silence.objects.create(user=user, ends_at=ends).pk)
        values[f"{who}-view"] = str(SavedView.objects.create(user=user, name="matrix", path="/status/").pk)
    for kind, (own, other) in relations.items():
        values[f"{kind}-own"], values[f"{kind}-other"] = str(own.pk), str(other.pk)
    return values


def test_access_matrix(
    matrix_site: dict[str, str],
    deploys: DeployRecorder,
    operator: User,
    viewer: User,
    owner: User,
    staff: User,
) -> None:
    sessions: dict[str, User | None] = {
        "anonymous": None,
        "viewer": viewer,
        "operator": operator,
        "member": owner,
        "admin": staff,
    }
    tokens = {
        "ro-token": APIToken.issue(staff, "ro", read_only=True)[1],
        "actions-token": APIToken.issue(operator, "act", scope=TokenScope.ACTIONS)[1],
        "hostgroups-token": APIToken.issue(owner, "hg", scope=TokenScope.HOSTGROUPS, hostgroups=["web"])[1],
    }
    callers = {role: caller(role, sessions, tokens) for role in ROLES}
    root = User.objects.create_superuser("root", "root@example.org", "root-pass-1234")
    superuser = caller("root", {"root": root}, tokens)
    # CSRF stays on: a form posted without its token is refused, even to a signed-in member.
    assert callers["member"].client.post("/profile/", {}).status_code == 403
    before = row_counts()
    addresses = dict(Host.objects.values_list("name", "address"))
    mismatches = []
    tried = 0
    for endpoint in endpoints():
        entry = entry_for(endpoint)
        assert entry is not None, f"{endpoint.name}: see test_every_url_has_an_entry"
        is_api = endpoint.pattern.startswith("api/")
        methods = endpoint.methods if endpoint.methods else entry.page_methods
        variants = {"own": entry.own or {}}
        if entry.other is not None:
            variants["other"] = entry.other
        for variant, given in variants.items():
            kwargs = {n: matrix_site.get(given.get(n, "1"), given.get(n, "1")) for n in endpoint.kwargs}
            kwargs.update({n: v for n, v in PLACEHOLDERS.items() if n in kwargs and n not in given})
            url = "/" + endpoint.prefix + endpoint.resolver.reverse(endpoint.callback, **kwargs) + entry.query
            body = body_for(endpoint.name, variant, given)
            for method in methods:
                rule = (
                    entry.read if method in ("GET", "HEAD", "OPTIONS") else entry.write
                )  # safe methods read
                for role in ROLES:
                    # A token is an API credential: on a page it is nobody (anonymous) and, holding
                    # no CSRF cookie, may not post a form.
                    expected = rule("anonymous" if role in TOKENS and not is_api else role, variant)
                    if role in TOKENS and not is_api and method in UNSAFE:
                        expected = False
                    if role == "ro-token" and method in UNSAFE:
                        expected = False
                    # Logging out ends the session: a client of its own, so the next request keeps it.
                    who = caller(role, sessions, tokens) if "logout" in endpoint.name else callers[role]
                    if role == "admin" and endpoint.name.startswith("admin:"):
                        who = superuser  # Django's admin checks model permissions, which staff lack
                    response = _send(who, method, url, body, is_api, allowed=expected)
                    tried += 1
                    if is_refusal(response, variant, entry.hides) == expected:
                        mismatches.append(
                            f"{role:16} {method:6} {url} ({endpoint.name}, {variant}): {response.status_code}"
                        )
    assert mismatches == [], "\n".join(mismatches)
    assert row_counts() == before, "a refusal changed the database"
    assert dict(Host.objects.values_list("name", "address")) == addresses
    assert deploys.enqueued == []  # allowed writes were rolled back before their commit
    assert tried > 2000


def _send(who: Caller, method: str, url: str, body: dict[str, Any], is_api: bool, *, allowed: bool) -> Any:
    """Send one request; an allowed one is rolled back so that the next role meets the same data."""
    if not allowed:
        return who.send(method, url, body, is_api)
    response = None
    try:
        with transaction.atomic():
            response = who.send(method, url, body, is_api)
            raise _Rollback
    except _Rollback:
        pass
    return response


@pytest.mark.parametrize("method", sorted(UNSAFE))
def test_history_is_read_only(
    matrix_site: dict[str, str], staff: User, owner: User, method: str, api_client_for: Any
) -> None:
    """Audit rows are append-only: every ``*-history`` endpoint answers a write with 405, even to staff."""
    history = [e for e in endpoints() if e.name.endswith("-history")]
    assert len(history) >= 10
    for user in (staff, owner):
        client = api_client_for(user)
        for endpoint in history:
            url = "/" + endpoint.prefix + endpoint.resolver.reverse(endpoint.callback, name="web01")
            response = getattr(client, method.lower())(url, {}, format="json")
            assert response.status_code in (403, 405), (user, method, url, response.status_code)
            if user.is_staff:
                assert response.status_code == 405, (method, url, response.status_code)
