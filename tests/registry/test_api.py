"""The registry REST API: natural keys, idempotent writes, validation, ETags, leases, deployments."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import URLPattern, reverse
from django.utils import timezone

from registry.api import urls as api_urls
from registry.choices import DeploymentState
from registry.models import Deployment, Host, HostGroup, Service
from tests.doubles import DeployRecorder
from tests.factories import HostFactory, HostTemplateFactory, NaemonNodeFactory, ServiceFactory
from tests.scenarios import Site, site_relation

API = "/api/v1/registry"

HOST_BODY = {
    "address": "192.0.2.10",
    "team": "web",
    "hostgroups": ["web"],
    "templates": ["linux-host", "generic-host"],
    "check_command": "check-host-alive",
    "check_command_args": ["80"],
    "custom_variables": {"_RACK": "B12"},
}


# What Naemon requires of a service that has no template giving it.
SERVICE_MIN = {"check_command": "check_http", "max_check_attempts": 3}


# Every test here may write: deployments are recorded, never sent (the one fixture, tests/conftest.py).
pytestmark = pytest.mark.usefixtures("deploys")


def registry_state() -> list[Any]:
    """Everything a write could change (to assert that a refused write changed nothing)."""
    return [
        list(Host.objects.values().order_by("pk")),
        list(Host.hostgroups.through.objects.values().order_by("pk")),
        list(Service.objects.values().order_by("pk")),
        list(HostGroup.objects.values().order_by("pk")),
        Deployment.objects.count(),
    ]


# --- create, replace, no-op -----------------------------------------------------------------


def test_put_creates_a_host_and_deploys_masters_and_its_poller(
    api: Any, site: Site, deploys: DeployRecorder
) -> None:
    response = api.put(f"{API}/hosts/web02/", HOST_BODY, format="json")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["name"] == "web02"
    assert body["templates"] == ["linux-host", "generic-host"]
    assert body["hostgroups"] == ["web"]
    assert body["custom_variables"] == {"_RACK": "B12"}
    assert body["check_command_args"] == ["80"]
    assert body["lease"] == "none"
    assert deploys.calls == [({"master1", "poller1"}, "PUT host web02")]
    assert len(body["deployments"]) == 2
    assert all(
        url.startswith("http://testserver/api/v1/registry/deployments/") for url in body["deployments"]
    )
    assert response["Location"] == body["deployments"][0]
    assert 'rel="monitor"' in response["Link"]
    assert response["ETag"]
    deployment = api.get(body["deployments"][0]).json()
    assert deployment["state"] == "pending"
    assert deployment["triggered_by"].startswith("staff (token ")


def test_the_same_put_twice_is_a_no_op_without_deployment(
    api: Any, site: Site, deploys: DeployRecorder
) -> None:
    first = api.put(f"{API}/hosts/web02/", HOST_BODY, format="json")
    assert first.status_code == 202
    updated_at = Host.objects.get(name="web02").updated_at
    deploys.calls.clear()
    second = api.put(f"{API}/hosts/web02/", HOST_BODY, format="json")
    assert second.status_code == 200
    assert second.json()["deployments"] == []
    assert deploys.calls == []
    assert Host.objects.get(name="web02").updated_at == updated_at
    assert second["ETag"] == api.get(f"{API}/hosts/web02/")["ETag"]


def test_get_then_put_of_the_same_representation_is_a_no_op(
    api: Any, site: Site, deploys: DeployRecorder
) -> None:
    representation = api.get(f"{API}/hosts/web01/").json()
    response = api.put(f"{API}/hosts/web01/", representation, format="json")
    assert response.status_code == 200, response.json()
    assert deploys.calls == []


def test_put_replaces_fields_left_out(api: Any, site: Site) -> None:
    api.put(f"{API}/hosts/web02/", {**HOST_BODY, "alias": "Web two", "notes": "rack B"}, format="json")
    response = api.put(f"{API}/hosts/web02/", {"team": "web", "templates": ["generic-host"]}, format="json")
    assert response.status_code == 202, response.json()
    host = Host.objects.get(name="web02")
    assert (host.alias, host.notes, host.address, host.check_command, host.custom_variables) == (
        "",
        "",
        "",
        None,
        {},
    )
    assert list(host.hostgroups.all()) == []


def test_patch_changes_only_what_it_names(api: Any, site: Site, deploys: DeployRecorder) -> None:
    response = api.patch(f"{API}/hosts/web01/", {"alias": "Web one"}, format="json")
    assert response.status_code == 202
    host = Host.objects.get(name="web01")
    assert host.alias == "Web one"
    assert [g.name for g in host.hostgroups.all()] == ["web"]
    assert host.services.count() == 1
    assert api.patch(f"{API}/hosts/nope/", {"alias": "x"}, format="json").status_code == 404


def test_patch_can_rename(api: Any, site: Site) -> None:
    response = api.patch(f"{API}/hosts/web01/", {"name": "web01-old"}, format="json")
    assert response.status_code == 202
    assert response.json()["url"].endswith("/hosts/web01-old/")
    assert api.get(f"{API}/hosts/web01-old/").status_code == 200


def test_put_name_must_match_the_url(api: Any, site: Site) -> None:
    response = api.put(f"{API}/hosts/web02/", {**HOST_BODY, "name": "web03"}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()
    assert not Host.objects.filter(name__in=["web02", "web03"]).exists()


def test_post_creates_and_refuses_an_existing_name(api: Any, site: Site) -> None:
    response = api.post(f"{API}/hosts/", {**HOST_BODY, "name": "web02"}, format="json")
    assert response.status_code == 202
    again = api.post(f"{API}/hosts/", {**HOST_BODY, "name": "web02"}, format="json")
    assert again.status_code == 400
    assert "name" in again.json()


def test_delete_deploys_the_nodes_that_had_the_host(api: Any, site: Site, deploys: DeployRecorder) -> None:
    response = api.delete(f"{API}/hosts/web01/")
    assert response.status_code == 202
    assert len(response.json()["deployments"]) == 2
    assert deploys.nodes == {"master1", "poller1"}
    assert not Host.objects.filter(name="web01").exists()
    assert not Service.objects.filter(description="HTTP").exists()
    assert api.delete(f"{API}/hosts/web01/").status_code == 404


def test_without_nodes_writes_answer_201_200_204(api: Any, db: None, team: Any) -> None:
    created = api.put(f"{API}/hosts/solo/", {"team": "web", "max_check_attempts": 3}, format="json")
    assert created.status_code == 201
    assert created["Location"].endswith("/api/v1/registry/hosts/solo/")
    assert api.patch(f"{API}/hosts/solo/", {"alias": "x"}, format="json").status_code == 200
    assert api.delete(f"{API}/hosts/solo/").status_code == 204


def test_delete_of_an_object_in_use_is_a_conflict(api: Any, site: Site) -> None:
    response = api.delete(f"{API}/commands/check-host-alive/")
    assert response.status_code == 409
    assert "still used by" in response.json()["detail"]
    assert api.delete(f"{API}/hostgroups/web/").status_code == 409  # the only group of service Load
    assert api.delete(f"{API}/nodes/poller1/").status_code == 409


def test_names_with_dots_are_addressable(api: Any, site: Site) -> None:
    assert api.put(f"{API}/hosts/web02.example.org/", HOST_BODY, format="json").status_code == 202
    assert api.get(f"{API}/hosts/web02.example.org/").json()["name"] == "web02.example.org"


def test_non_json_bodies_are_refused(api: Any, site: Site) -> None:
    assert api.put(f"{API}/hosts/web02/", [1, 2], format="json").status_code == 400
    response = api.put(f"{API}/hosts/web02/", "name=web02", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


# --- validation -----------------------------------------------------------------------------

HOSTILE = [
    ("address", "192.0.2.1\n    check_command evil"),
    ("alias", "web;evil"),
    ("alias", "bell\x07"),
    ("notes", "costs $USER1$"),
    ("address", " 192.0.2.1"),
    ("check_command_args", ["80!rm -rf /"]),
    ("check_command_args", ["$USER3$"]),
    ("check_command_args", ["80;x"]),
    ("check_command_args", ["80\n"]),
    ("check_command_args", "80"),
    ("custom_variables", {"RACK": "B12"}),
    ("custom_variables", {"_RA CK": "B12"}),
    ("custom_variables", {"_RACK": "B12\nhost_name x"}),
    ("custom_variables", {"_RACK": "B$12"}),
    ("custom_variables", {"_RACK": {"nested": "x"}}),
    ("custom_variables", ["_RACK"]),
    ("notification_options", "d,x"),
    ("hostgroups", ["no-such-group"]),
    ("templates", ["generic-host", "generic-host"]),
    ("templates", ["no-such-template"]),
    ("check_command", "no-such-command"),
    ("team", "no-such-team"),
    ("parents", ["web02"]),
    ("lease_seconds", 0),
    ("lease_seconds", "soon"),
]


@pytest.mark.parametrize(("field", "value"), HOSTILE)
def test_hostile_values_are_refused_and_nothing_is_stored(
    api: Any, site: Site, deploys: DeployRecorder, field: str, value: Any
) -> None:
    before = registry_state()
    response = api.put(f"{API}/hosts/web02/", {**HOST_BODY, field: value}, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json(), response.json()
    assert registry_state() == before
    assert deploys.calls == []


@pytest.mark.parametrize(
    "name", ["web\n02", "web;02", "web$02", "web!02", "web 02", "web02 ", "web\x0002", "web`02", "web/02", ""]
)
def test_illegal_host_names_are_refused(api: Any, site: Site, deploys: DeployRecorder, name: str) -> None:
    before = registry_state()
    response = api.post(f"{API}/hosts/", {**HOST_BODY, "name": name}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()
    assert registry_state() == before
    assert deploys.calls == []


def test_an_illegal_name_in_the_url_is_refused(api: Any, site: Site) -> None:
    response = api.put(f"{API}/hosts/web%0A02/", HOST_BODY, format="json")
    assert response.status_code == 400
    assert "newline" in str(response.json()["name"]) or "U+000A" in str(response.json()["name"])


def test_custom_variable_names_are_upper_cased(api: Any, site: Site, deploys: DeployRecorder) -> None:
    api.put(f"{API}/hosts/web02/", {**HOST_BODY, "custom_variables": {"_rack": "B12"}}, format="json")
    assert Host.objects.get(name="web02").custom_variables == {"_RACK": "B12"}
    deploys.calls.clear()
    assert api.put(f"{API}/hosts/web02/", HOST_BODY, format="json").status_code == 200
    assert deploys.calls == []


def test_a_host_on_two_pollers_is_refused_naming_the_groups(api: Any, site: Site) -> None:
    response = api.put(
        f"{API}/hosts/web02/", {**HOST_BODY, "hostgroups": ["web", "db", "shared"]}, format="json"
    )
    assert response.status_code == 400
    message = response.json()["hostgroups"][0]
    assert "web on poller poller1" in message and "db on poller poller2" in message
    assert not Host.objects.filter(name="web02").exists()


def test_moving_a_host_between_pollers_deploys_both(api: Any, site: Site, deploys: DeployRecorder) -> None:
    response = api.patch(f"{API}/hosts/web01/", {"hostgroups": ["db"]}, format="json")
    assert response.status_code == 202
    assert deploys.calls == [({"master1", "poller1", "poller2"}, "PATCH host web01")]


def test_a_disabled_node_is_not_deployed(api: Any, site: Site, deploys: DeployRecorder) -> None:
    site.poller1.enabled = False
    site.poller1.save()
    response = api.patch(f"{API}/hosts/web01/", {"alias": "x"}, format="json")
    assert response.status_code == 202
    assert len(response.json()["deployments"]) == 1


def test_template_cycles_are_refused(api: Any, site: Site) -> None:
    assert (
        api.put(
            f"{API}/hosttemplates/linux-host/", {"templates": ["generic-host"]}, format="json"
        ).status_code
        == 202
    )
    response = api.put(f"{API}/hosttemplates/generic-host/", {"templates": ["linux-host"]}, format="json")
    assert response.status_code == 400
    assert "would use itself" in response.json()["templates"][0]
    assert api.put(f"{API}/hosttemplates/a/", {"templates": ["a"]}, format="json").status_code == 400


def test_moving_a_host_group_to_another_poller_checks_placement(api: Any, site: Site) -> None:
    HostFactory.create(name="both", hostgroups=[site.web, site.shared])
    assert api.patch(f"{API}/hostgroups/shared/", {"node": "poller2"}, format="json").status_code == 400
    response = api.patch(f"{API}/hostgroups/shared/", {"node": "poller1"}, format="json")
    assert response.status_code == 202
    assert api.patch(f"{API}/hostgroups/shared/", {"node": "master1"}, format="json").status_code == 400


# --- ETag and preconditions -----------------------------------------------------------------


def test_etag_if_match_and_if_none_match(api: Any, site: Site) -> None:
    response = api.get(f"{API}/hosts/web01/")
    etag = response["ETag"]
    assert etag.startswith('"')
    assert api.get(f"{API}/hosts/web01/", HTTP_IF_NONE_MATCH=etag).status_code == 304
    stale = '"0000"'
    refused = api.patch(f"{API}/hosts/web01/", {"alias": "x"}, format="json", HTTP_IF_MATCH=stale)
    assert refused.status_code == 412
    assert Host.objects.get(name="web01").alias == ""
    changed = api.patch(f"{API}/hosts/web01/", {"alias": "x"}, format="json", HTTP_IF_MATCH=etag)
    assert changed.status_code == 202
    assert changed["ETag"] != etag
    assert api.delete(f"{API}/hosts/web01/", HTTP_IF_MATCH=etag).status_code == 412
    assert api.put(f"{API}/hosts/web01/", HOST_BODY, format="json", HTTP_IF_NONE_MATCH="*").status_code == 412
    assert api.put(f"{API}/hosts/new/", HOST_BODY, format="json", HTTP_IF_NONE_MATCH="*").status_code == 202
    assert api.put(f"{API}/hosts/other/", HOST_BODY, format="json", HTTP_IF_MATCH=etag).status_code == 412
    assert not Host.objects.filter(name="other").exists()


def test_every_object_response_has_an_etag(api: Any, site: Site) -> None:
    for url in [
        "nodes/master1/",
        "hostgroups/web/",
        "servicegroups/web-services/",
        "hosttemplates/generic-host/",
        "servicetemplates/generic-service/",
        "commands/check_http/",
        "timeperiods/24x7/",
        "contacts/oncall/",
        "contactgroups/admins/",
        "hosts/web01/services/HTTP/",
        "hostgroups/web/services/Load/",
    ]:
        assert api.get(f"{API}/{url}")["ETag"], url


# --- leases ---------------------------------------------------------------------------------


def test_a_lease_is_renewed_by_the_same_put_without_deployment(
    api: Any, site: Site, deploys: DeployRecorder
) -> None:
    body = {**HOST_BODY, "lease_seconds": 600}
    first = api.put(f"{API}/hosts/ci-123/", body, format="json")
    assert first.status_code == 202
    expires = Host.objects.get(name="ci-123").expires_at
    assert expires is not None and timezone.now() + timedelta(seconds=590) < expires
    assert first.json()["lease"] == "active"
    deploys.calls.clear()
    Host.objects.filter(name="ci-123").update(expires_at=expires - timedelta(seconds=300))
    renewed = api.put(f"{API}/hosts/ci-123/", body, format="json")
    assert renewed.status_code == 200
    assert deploys.calls == []
    renewed_until = Host.objects.get(name="ci-123").expires_at
    assert renewed_until is not None and renewed_until > expires - timedelta(seconds=1)
    # PUT without a lease makes the host permanent, still without a deployment.
    assert api.put(f"{API}/hosts/ci-123/", HOST_BODY, format="json").status_code == 200
    assert Host.objects.get(name="ci-123").expires_at is None
    assert deploys.calls == []


def test_lease_filter_and_state(api: Any, site: Site) -> None:
    HostFactory.create(name="active", expires_at=timezone.now() + timedelta(hours=1))
    HostFactory.create(name="expired", expires_at=timezone.now() - timedelta(hours=1))

    def names(query: str) -> list[str]:
        return [h["name"] for h in api.get(f"{API}/hosts/?{query}").json()["results"]]

    assert names("lease=active") == ["active"]
    assert names("lease=expired") == ["expired"]
    assert "web01" in names("lease=none") and "active" not in names("lease=none")
    assert api.get(f"{API}/hosts/expired/").json()["lease"] == "expired"
    assert api.get(f"{API}/hosts/?lease=forever").status_code == 400


# --- services -------------------------------------------------------------------------------


def test_services_by_description_with_spaces_and_slashes(
    api: Any, site: Site, deploys: DeployRecorder
) -> None:
    url = f"{API}/hosts/web01/services/Disk%20%2Fvar/"
    body = {"check_command": "check_http", "check_command_args": ["/var"], "templates": ["generic-service"]}
    response = api.put(url, body, format="json")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["description"] == "Disk /var"
    assert body["host"] == "web01"
    assert api.get(body["url"]).json()["description"] == "Disk /var"
    assert deploys.calls == [({"master1", "poller1"}, "PUT service Disk /var")]
    deploys.calls.clear()
    assert api.put(url, body, format="json").status_code == 200
    assert deploys.calls == []
    assert api.delete(url).status_code == 202
    assert api.get(url).status_code == 404
    assert api.get(f"{API}/hosts/nope/services/HTTP/").status_code == 404


def test_service_validation(api: Any, site: Site, deploys: DeployRecorder) -> None:
    before = registry_state()
    bad = api.put(f"{API}/hosts/web01/services/SSH/", {"check_command_args": ["22!x"]}, format="json")
    assert bad.status_code == 400 and "check_command_args" in bad.json()
    bad_name = api.post(f"{API}/hosts/web01/services/", {"description": "SSH;x"}, format="json")
    assert bad_name.status_code == 400 and "description" in bad_name.json()
    taken = api.post(f"{API}/hosts/web01/services/", {"description": "HTTP"}, format="json")
    assert taken.status_code == 400 and "already has" in taken.json()["description"][0]
    assert registry_state() == before
    assert deploys.calls == []


def test_a_host_put_with_services_replaces_them(api: Any, site: Site) -> None:
    body = {
        **HOST_BODY,
        "services": [
            {
                "description": "HTTP",
                "check_command": "check_http",
                "check_command_args": ["8080"],
                "max_check_attempts": 3,
            },
            {"description": "SSH", "templates": ["generic-service"], "check_command": "check_http"},
        ],
    }
    response = api.put(f"{API}/hosts/web01/", body, format="json")
    assert response.status_code == 202, response.json()
    services = {s.description: s for s in Service.objects.filter(host__name="web01")}
    assert set(services) == {"HTTP", "SSH"}
    assert services["HTTP"].check_command_args == ["8080"]
    assert [s["templates"] for s in response.json()["services"]] == [[], ["generic-service"]]
    # Without "services" the host's services are left alone; with [] they are all removed.
    assert api.put(f"{API}/hosts/web01/", HOST_BODY, format="json").status_code == 200
    assert Service.objects.filter(host__name="web01").count() == 2
    assert api.put(f"{API}/hosts/web01/", {**HOST_BODY, "services": []}, format="json").status_code == 202
    assert not Service.objects.filter(host__name="web01").exists()


def test_a_host_put_with_a_bad_service_stores_nothing(api: Any, site: Site, deploys: DeployRecorder) -> None:
    before = registry_state()
    body = {**HOST_BODY, "services": [{"description": "HTTP"}, {"description": "X", "notes": "a\nb"}]}
    response = api.put(f"{API}/hosts/web01/", body, format="json")
    assert response.status_code == 400
    assert response.json()["services"]["1"]["notes"]  # errors by item index
    twice = api.put(
        f"{API}/hosts/web01/",
        {**HOST_BODY, "services": [{"description": "A", **SERVICE_MIN}] * 2},
        format="json",
    )
    assert twice.status_code == 400 and "twice" in twice.json()["services"][0]
    assert registry_state() == before
    assert deploys.calls == []


def test_services_on_host_groups(api: Any, site: Site, deploys: DeployRecorder) -> None:
    url = f"{API}/hostgroups/web/services/Users%20logged%20in/"
    response = api.put(url, SERVICE_MIN, format="json")
    assert response.status_code == 202, response.json()
    assert response.json()["hostgroups"] == ["web"]
    assert response.json()["host"] is None
    assert deploys.calls == [({"master1", "poller1"}, "PUT service Users logged in")]
    replaced = api.put(url, {**SERVICE_MIN, "notes": "who is on"}, format="json")  # no hostgroups: the URL's
    assert replaced.status_code == 202 and replaced.json()["hostgroups"] == ["web"]
    clash = api.put(
        f"{API}/hostgroups/db/services/Load/", {**SERVICE_MIN, "hostgroups": ["db", "web"]}, format="json"
    )
    assert clash.status_code == 400 and "web" in clash.json()["description"][0]
    outside = api.put(
        f"{API}/hostgroups/db/services/Ping/", {**SERVICE_MIN, "hostgroups": ["web"]}, format="json"
    )
    assert outside.status_code == 400 and "hostgroups" in outside.json()
    listed = api.get(f"{API}/hostgroups/web/services/").json()["results"]
    assert sorted(s["description"] for s in listed) == ["Load", "Users logged in"]


# --- lists and filters ----------------------------------------------------------------------


def test_filters(api: Any, site: Site) -> None:
    HostFactory.create(name="web02", hostgroups=[site.web_extra], templates=[site.linux_host])

    def names(path: str) -> list[str]:
        response = api.get(f"{API}/{path}")
        assert response.status_code == 200, response.json()
        return [o.get("name") or o.get("description") for o in response.json()["results"]]

    assert names("hosts/?hostgroup=web") == ["web01"]
    assert names("hosts/?team=web") == ["web01", "web02"]
    assert names("hosts/?node=poller1") == ["web01"]
    assert names("hosts/?node=master1") == ["db01", "web01", "web02"]
    assert names("hosts/?template=linux-host") == ["web02"]
    assert names("hosts/?q=WEB") == ["web01", "web02"]
    assert names("hosts/?name=db01") == ["db01"]
    assert names("services/?host=web01") == ["HTTP"]
    assert sorted(names("services/?hostgroup=web")) == ["HTTP", "Load"]
    assert names("services/?q=loa") == ["Load"]
    assert names("hostgroups/?team=web") == ["web", "web-extra"]
    assert names("hostgroups/?node=poller2") == ["db"]
    assert names("nodes/?role=poller") == ["poller1", "poller2", "spare"]
    assert names("commands/?q=check_http") == ["check_http"]
    assert names("contactgroups/?member=oncall") == ["admins"]


def test_unknown_query_parameters_are_refused_by_name(api: Any, site: Site) -> None:
    response = api.get(f"{API}/hosts/?hostgrup=web")
    assert response.status_code == 400
    assert "hostgrup" in response.json()
    for path in ["nodes", "services", "deployments", "hostgroups", "commands", "hosts/web01/services"]:
        assert api.get(f"{API}/{path}/?bogus=1").status_code == 400, path
    assert api.get(f"{API}/hosts/?limit=1&offset=1&format=json").status_code == 200


def test_pagination(api: Any, site: Site) -> None:
    body = api.get(f"{API}/hosts/?limit=1").json()
    assert body["count"] == 2
    assert len(body["results"]) == 1
    assert "offset=1" in body["next"]


@pytest.mark.parametrize("count", [3, 30])
def test_host_list_query_count_does_not_grow_with_hosts(
    api: Any, site: Site, count: int, django_assert_max_num_queries: Any
) -> None:
    template = HostTemplateFactory.create(name="extra-template")
    for i in range(count):
        host = HostFactory.create(name=f"bulk{i}", hostgroups=[site.web, site.shared], templates=[template])
        ServiceFactory.create(description="PING", host=host)
    with django_assert_max_num_queries(20):
        response = api.get(f"{API}/hosts/")
    assert response.status_code == 200
    assert len(response.json()["results"]) == count + 2


@pytest.mark.parametrize(
    "path", ["services/", "hostgroups/", "nodes/", "deployments/", "contacts/", "hosttemplates/"]
)
def test_other_lists_have_a_bounded_query_count(
    api: Any, site: Site, path: str, django_assert_max_num_queries: Any
) -> None:
    for i in range(20):
        ServiceFactory.create(description=f"S{i}", host=site.web01)
    # services/: up to 6 of them say who would be told (registry/recipients.py), however many services.
    with django_assert_max_num_queries(18):
        assert api.get(f"{API}/{path}").status_code == 200


# --- deployments and ?wait -------------------------------------------------------------------


def test_deployment_detail_and_list(api: Any, site: Site) -> None:
    deployment = Deployment.objects.create(
        node=site.master, state=DeploymentState.FAILED, verify_output="Error: x"
    )
    body = api.get(f"{API}/deployments/{deployment.pk}/").json()
    assert (body["state"], body["node"], body["verify_output"]) == ("failed", "master1", "Error: x")
    assert [d["id"] for d in api.get(f"{API}/deployments/?node=master1&state=failed").json()["results"]] == [
        deployment.pk
    ]
    assert api.get(f"{API}/deployments/?state=bogus").status_code == 400


def test_bad_wait_values_are_refused_before_writing(api: Any, site: Site, deploys: DeployRecorder) -> None:
    for value in ["500", "-1", "soon"]:
        response = api.put(f"{API}/hosts/web02/?wait={value}", HOST_BODY, format="json")
        assert response.status_code == 400
        assert "wait" in response.json()
    assert not Host.objects.filter(name="web02").exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("outcome", "expected"), [("confirmed", 201), ("skipped", 201), ("failed", 409)])
def test_wait_returns_the_final_state(
    api_client_for: Any,
    staff: Any,
    team: Any,
    other_team: Any,
    deploys: DeployRecorder,
    outcome: str,
    expected: int,
) -> None:
    Site(team, other_team)
    deploys.outcome = outcome
    deploys.verify_output = "Error: Could not find any host matching 'x'" if outcome == "failed" else ""
    api = api_client_for(staff)
    response = api.put(f"{API}/hosts/web02/?wait=10", HOST_BODY, format="json")
    assert response.status_code == expected, response.json()  # a create confirmed: 201
    body = response.json()
    assert {d["state"] for d in body["deployment_results"]} == {outcome}
    assert {d["node"] for d in body["deployment_results"]} == {"master1", "poller1"}
    if outcome == "failed":
        assert "still runs its previous config" in body["detail"]
        assert "Could not find" in body["deployment_results"][0]["verify_output"]
    assert Host.objects.filter(name="web02").exists()  # stored either way
    assert [queue for _, queue in deploys.enqueued] == ["naemon.master1", "naemon.poller1"]


@pytest.mark.django_db(transaction=True)
def test_wait_gives_up_with_202_when_deployments_do_not_finish(
    api_client_for: Any, staff: Any, team: Any, other_team: Any, deploys: DeployRecorder
) -> None:
    Site(team, other_team)
    api = api_client_for(staff)
    response = api.patch(f"{API}/hosts/web01/?wait=1", {"alias": "x"}, format="json")
    assert response.status_code == 202
    assert {d["state"] for d in response.json()["deployment_results"]} == {"pending"}
    deployment = response.json()["deployment_results"][0]
    Deployment.objects.filter(pk=deployment["id"]).update(state=DeploymentState.CONFIRMED)
    waited = api.get(f"{API}/deployments/{deployment['id']}/?wait=30")  # final already: no wait
    assert waited.status_code == 200 and waited.json()["state"] == "confirmed"


@pytest.mark.django_db(transaction=True)
def test_a_write_is_deployed_by_the_real_deploy_task(
    api_client_for: Any, staff: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """End to end with Celery eager: render, swap in (no verify, no reload), confirmed."""
    monkeypatch.undo()  # this test uses the real registry.tasks.deploy_node
    NaemonNodeFactory.create(name="m1", config_dir=str(tmp_path / "portal.d"), verify_command="")
    api = api_client_for(staff)
    assert (
        api.put(f"{API}/commands/check-x/?wait=10", {"command_line": "/bin/true"}, format="json").status_code
        == 201
    )
    host = {"check_command": "check-x", "max_check_attempts": 1}
    response = api.put(f"{API}/hosts/h1/?wait=10", host, format="json")
    assert response.status_code == 201, response.json()
    assert [d["state"] for d in response.json()["deployment_results"]] == ["confirmed"]
    assert "h1" in "".join(p.read_text() for p in (tmp_path / "portal.d").rglob("*.cfg"))
    assert api.put(f"{API}/hosts/h1/?wait=10", host, format="json").status_code == 200


def test_parent_loops_are_refused_before_anything_is_stored(
    api_client_for: Any, staff: Any, site: Any
) -> None:
    client = api_client_for(staff)
    rack = {"team": "web", "templates": ["generic-host"]}
    assert client.put("/api/v1/registry/hosts/rack-a/", rack, format="json").status_code in (
        201,
        202,
    )
    response = client.put("/api/v1/registry/hosts/rack-b/", {**rack, "parents": ["rack-a"]}, format="json")
    assert response.status_code in (201, 202)
    before = Deployment.objects.count()
    response = client.patch("/api/v1/registry/hosts/rack-a/", {"parents": ["rack-b"]}, format="json")
    assert response.status_code == 400
    assert "rack-a → rack-b → rack-a" in response.json()["parents"][0]
    assert Deployment.objects.count() == before
    assert not Host.objects.get(name="rack-a").parents.exists()


# --- every list and every object kind, derived from the URL map ------------------------------


def _api_routes() -> dict[str, tuple[set[str], set[str]]]:
    """URL name -> (viewset actions, URL parameters) of every registry API route."""
    routes: dict[str, tuple[set[str], set[str]]] = {}
    for pattern in api_urls.urlpatterns:
        if not isinstance(pattern, URLPattern):
            continue
        params = set(pattern.pattern.regex.groupindex)
        actions = getattr(pattern.callback, "actions", None) or {}
        if pattern.name and "format" not in params:  # not the router's .json suffix twins
            routes.setdefault(pattern.name, (set(actions.values()), params))
    return routes


ROUTES = _api_routes()
# The objects of the Site that each kind of URL is tried with. A new route needs an entry here:
# its test fails with a KeyError until it has one, so no list or object kind goes untested.
LIST_PARAMS = {"host": "web01", "hostgroup": "web"}
OBJECTS: dict[str, dict[str, Any]] = {
    "naemonnode-detail": {"name": "master1"},
    "host-detail": {"name": "web01"},
    "hostgroup-detail": {"name": "web"},
    "servicegroup-detail": {"name": "web-services"},
    "hosttemplate-detail": {"name": "generic-host"},
    "servicetemplate-detail": {"name": "generic-service"},
    "command-detail": {"name": "check_http"},
    "timeperiod-detail": {"name": "24x7"},
    "contact-detail": {"name": "oncall"},
    "contactgroup-detail": {"name": "admins"},
    "host-service-detail": {"host": "web01", "description": "HTTP"},
    "hostgroup-service-detail": {"hostgroup": "web", "description": "Load"},
    # Dependencies and escalations, by id: made for the test (tests.scenarios.site_relation).
    **{f"{kind}-detail": {"pk": None} for kind in ("hostdependency", "servicedependency")},
    **{f"{kind}-detail": {"pk": None} for kind in ("hostescalation", "serviceescalation")},
}
LISTS = sorted(name for name, (actions, _) in ROUTES.items() if "list" in actions)
WRITABLE_OBJECTS = sorted(name for name, (actions, _) in ROUTES.items() if "partial_update" in actions)


def _list_url(name: str) -> str:
    return reverse(f"registry-api:{name}", kwargs={p: LIST_PARAMS[p] for p in ROUTES[name][1]})


def test_the_route_lists_are_complete() -> None:
    """The derivation finds every list and object kind (it would silently find none if it broke)."""
    assert {_list_url(name) for name in LISTS} >= {
        f"{API}/{path}/"
        for path in [
            "nodes",
            "hosts",
            "services",
            "hostgroups",
            "servicegroups",
            "hosttemplates",
            "servicetemplates",
            "commands",
            "timeperiods",
            "contacts",
            "contactgroups",
            "deployments",
            "hosts/web01/services",
            "hostgroups/web/services",
        ]
    }
    assert set(WRITABLE_OBJECTS) == set(OBJECTS)
    # Read-only objects: deployments only (they carry no ETag; nobody writes them).
    readonly = {n for n, (actions, _) in ROUTES.items() if "retrieve" in actions} - set(WRITABLE_OBJECTS)
    assert readonly == {"deployment-detail"}


@pytest.mark.parametrize("name", LISTS)
def test_every_list_refuses_unknown_filter_parameters(api: Any, site: Site, name: str) -> None:
    url = _list_url(name)
    assert api.get(url).status_code == 200
    assert api.get(url, {"q": "web"}).status_code == 200
    response = api.get(url, {"bogus": "1"})
    assert response.status_code == 400, response.content
    assert "bogus" in response.json()
    # A typo beside a known filter is refused too, not half-applied.
    response = api.get(url, {"q": "web", "nmae": "web01"})
    assert response.status_code == 400
    assert list(response.json()) == ["nmae"]


@pytest.mark.parametrize("name", WRITABLE_OBJECTS)
def test_every_object_kind_honours_if_none_match_and_if_match(
    api: Any, site: Site, deploys: DeployRecorder, name: str
) -> None:
    kwargs = OBJECTS[name] if "pk" not in OBJECTS[name] else {"pk": site_relation(site, name).pk}
    url = reverse(f"registry-api:{name}", kwargs=kwargs)
    first = api.get(url)
    assert first.status_code == 200
    etag = first["ETag"]
    assert etag.startswith('"') and etag.endswith('"')

    not_modified = api.get(url, HTTP_IF_NONE_MATCH=etag)
    assert not_modified.status_code == 304
    assert not_modified["ETag"] == etag and not_modified.content == b""
    assert api.get(url, HTTP_IF_NONE_MATCH=f'"stale", W/{etag}').status_code == 304
    assert api.get(url, HTTP_IF_NONE_MATCH='"stale"').status_code == 200

    before = api.get(url).json()
    state = registry_state()
    stale = '"0123456789abcdef0123456789abcdef"'
    for body in [{}, {"alias": "changed", "notes": "changed"}]:
        refused = api.patch(url, body, format="json", HTTP_IF_MATCH=stale)
        assert refused.status_code == 412, refused.content
    assert api.delete(url, HTTP_IF_MATCH=stale).status_code == 412
    assert api.get(url).json() == before
    assert registry_state() == state
    assert deploys.calls == []

    # The current tag is accepted (a PATCH of nothing: 200, same tag, nothing deployed).
    accepted = api.patch(url, {}, format="json", HTTP_IF_MATCH=etag)
    assert accepted.status_code == 200, accepted.content
    assert accepted["ETag"] == etag
    assert deploys.calls == []
