"""POST /api/v1/registry/bulk/hosts/: many hosts with their services, one transaction, all or nothing."""

from __future__ import annotations

from typing import Any

import pytest

from registry.models import Deployment, Host, Service
from tests.doubles import DeployRecorder
from tests.scenarios import Site

URL = "/api/v1/registry/bulk/hosts/"


# Every test here may write: deployments are recorded, never sent (the one fixture, tests/conftest.py).
pytestmark = pytest.mark.usefixtures("deploys")


def hosts(count: int, group: str = "web", **extra: Any) -> list[dict[str, Any]]:
    return [
        {
            "name": f"{group}-{i:03d}",
            "address": f"192.0.2.{i + 1}",
            "team": "web",
            "hostgroups": [group],
            "templates": ["generic-host"],
            "services": [
                {
                    "description": "HTTP",
                    "check_command": "check_http",
                    "check_command_args": ["80"],
                    "templates": ["generic-service"],
                }
            ],
            **extra,
        }
        for i in range(count)
    ]


def test_bulk_upserts_hosts_and_services_with_one_deployment_per_node(
    api_client_for: Any, staff: Any, site: Site, deploys: DeployRecorder
) -> None:
    web01 = {
        "name": "web01",
        "team": "web",
        "hostgroups": ["web"],
        "templates": ["generic-host"],
    }
    items = [*hosts(20), *hosts(5, group="db"), web01]
    response = api_client_for(staff).post(URL, {"hosts": items}, format="json")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert [r["status"] for r in body["results"]] == ["created"] * 25 + ["updated"]
    assert len(deploys.calls) == 1
    assert deploys.nodes == {"master1", "poller1", "poller2"}
    assert len(body["deployments"]) == 3
    assert Deployment.objects.count() == 3
    assert Service.objects.filter(host__name__startswith="web-", description="HTTP").count() == 20
    assert Service.objects.filter(host__name="web01").exists()  # "services" absent: left alone
    assert Host.objects.get(name="db-004").hostgroups.get().name == "db"


def test_the_same_bulk_twice_changes_nothing(
    api_client_for: Any, staff: Any, site: Site, deploys: DeployRecorder
) -> None:
    client = api_client_for(staff)
    assert client.post(URL, {"hosts": hosts(10)}, format="json").status_code == 202
    deploys.calls.clear()
    again = client.post(URL, {"hosts": hosts(10)}, format="json")
    assert again.status_code == 200
    assert {r["status"] for r in again.json()["results"]} == {"unchanged"}
    assert again.json()["deployments"] == []
    assert deploys.calls == []


def test_one_invalid_item_stores_nothing(
    api_client_for: Any, staff: Any, site: Site, deploys: DeployRecorder
) -> None:
    items = hosts(5)
    items[2]["address"] = "192.0.2.3\nhost_name evil"
    items[4]["services"][0]["check_command_args"] = ["80!x"]
    before = (Host.objects.count(), Service.objects.count())
    response = api_client_for(staff).post(URL, {"hosts": items}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert "Nothing was stored" in body["detail"]
    assert [r["status"] for r in body["results"]] == [
        "valid",
        "valid",
        "invalid",
        "valid",
        "invalid",
    ]
    assert "address" in body["results"][2]["errors"]
    assert "check_command_args" in body["results"][4]["errors"]["services"]["0"]
    assert (Host.objects.count(), Service.objects.count()) == before
    assert deploys.calls == []
    assert not Deployment.objects.exists()


def test_bulk_items_are_checked_for_ownership(
    api_client_for: Any, outsider: Any, site: Site, deploys: DeployRecorder
) -> None:
    valid = {"templates": ["generic-host"]}  # what the core needs: ownership is what is refused
    items = [
        {**valid, "name": "db-new", "team": "db", "hostgroups": ["db"]},
        {**valid, "name": "web01", "team": "db"},  # someone else's host
        {**valid, "name": "web-new", "team": "web"},  # for someone else's team
    ]
    response = api_client_for(outsider).post(URL, {"hosts": items}, format="json")
    assert response.status_code == 403
    assert [r["status"] for r in response.json()["results"]] == [
        "valid",
        "forbidden",
        "forbidden",
    ]
    assert not Host.objects.filter(name__in=["db-new", "web-new"]).exists()
    assert Host.objects.get(name="web01").team == site.web.team
    assert deploys.calls == []


def test_bulk_refuses_duplicates_missing_names_and_placement_conflicts(
    api_client_for: Any, staff: Any, site: Site
) -> None:
    valid = {"templates": ["generic-host"]}
    items = [
        {**valid, "name": "a", "team": "web"},
        {**valid, "name": "a", "team": "web"},
        {**valid, "team": "web"},
        {**valid, "name": "b", "hostgroups": ["web", "db"]},
    ]
    response = api_client_for(staff).post(URL, {"hosts": items}, format="json")
    assert response.status_code == 400
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["valid", "invalid", "invalid", "invalid"]
    assert "twice" in results[1]["errors"]["name"][0]
    assert "poller" in results[3]["errors"]["hostgroups"][0]
    assert not Host.objects.filter(name__in=["a", "b"]).exists()


def test_bulk_body_shape(api_client_for: Any, staff: Any, site: Site) -> None:
    client = api_client_for(staff)
    assert client.post(URL, [{"name": "x"}], format="json").status_code == 400
    assert client.post(URL, {"hosts": "x"}, format="json").status_code == 400
    assert client.post(URL, {"hosts": [{"name": "x"}] * 1001}, format="json").status_code == 400
    empty = client.post(URL, {"hosts": []}, format="json")
    assert empty.status_code == 200 and empty.json()["results"] == []


def test_bulk_hosts_may_reference_hosts_earlier_in_the_batch(
    api_client_for: Any, staff: Any, site: Site
) -> None:
    items = [
        {"name": "switch1", "team": "web", "templates": ["generic-host"]},
        {
            "name": "behind-switch1",
            "team": "web",
            "templates": ["generic-host"],
            "parents": ["switch1"],
        },
    ]
    response = api_client_for(staff).post(URL, {"hosts": items}, format="json")
    assert response.status_code == 202, response.json()
    assert [p.name for p in Host.objects.get(name="behind-switch1").parents.all()] == ["switch1"]


def test_bulk_with_leases(api_client_for: Any, staff: Any, site: Site, deploys: DeployRecorder) -> None:
    client = api_client_for(staff)
    items = hosts(3, lease_seconds=300)
    assert client.post(URL, {"hosts": items}, format="json").status_code == 202
    deploys.calls.clear()
    renewed = client.post(URL, {"hosts": items}, format="json")
    assert renewed.status_code == 200
    assert {r["status"] for r in renewed.json()["results"]} == {"renewed"}  # only the lease moved
    assert deploys.calls == []
