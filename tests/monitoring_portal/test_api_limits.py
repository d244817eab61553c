"""Hostile JSON and paging values on every API: a 400 naming the problem, never a 500 or every row."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from drf_spectacular.generators import SchemaGenerator
from pytest_django.fixtures import Settings

from monitoring_portal.models import APIToken, Team
from monitoring_portal.rest import MAX_JSON_DEPTH, MAX_OFFSET
from registry.models import Host

# One list endpoint per app, and the live (Livestatus) lists with their own paginator.
LISTS = [
    "/api/v1/accounts/teams/",
    "/api/v1/registry/hosts/",
    "/api/v1/preferences/rules/",
    "/api/v1/livestatus/hosts/",
]


def nested(depth: int) -> str:
    return '{"name": ' + "[" * depth + "]" * depth + "}"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/accounts/tokens/"),  # the default parser
        ("put", "/api/v1/registry/hosts/deep/"),  # a view that names its own parser
        ("post", "/api/v1/registry/bulk/hosts/"),
        ("post", "/api/v1/preferences/rules/"),
    ],
)
@pytest.mark.parametrize("depth", [1000, 100_000, MAX_JSON_DEPTH + 1])
def test_deeply_nested_json_is_a_400(
    staff: User, api_client_for: Callable[[User | None], Any], method: str, path: str, depth: int
) -> None:
    api = api_client_for(staff)
    tokens_before = APIToken.objects.count()
    response = getattr(api, method)(path, nested(depth), content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert f"nested deeper than {MAX_JSON_DEPTH} levels" in response.json()["detail"]
    assert APIToken.objects.count() == tokens_before and not Host.objects.exists()


@pytest.mark.django_db
def test_json_at_the_depth_bound_is_parsed(staff: User, api_client_for: Callable[[User | None], Any]) -> None:
    body = (
        '{"name": "ok", "read_only": true, "x": '
        + "[" * (MAX_JSON_DEPTH - 1)
        + "]" * (MAX_JSON_DEPTH - 1)
        + "}"
    )
    response = api_client_for(staff).post("/api/v1/accounts/tokens/", body, content_type="application/json")
    assert response.status_code == 201, response.content


@pytest.mark.django_db
@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=100000000000000000000", "limit"),
        ("limit=1000000000", "limit"),
        ("limit=1001", "limit"),
        ("limit=0", "limit"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("limit=", "limit"),
        ("limit=+5", "limit"),
        ("offset=-1", "offset"),
        ("offset=100000000000000000000", "offset"),
        (f"offset={MAX_OFFSET + 1}", "offset"),
        ("offset=1.5", "offset"),
    ],
)
def test_out_of_range_paging_is_a_400_naming_the_parameter(
    owner: User,
    api_client_for: Callable[[User | None], Any],
    settings: Settings,
    path: str,
    query: str,
    field: str,
) -> None:
    settings.REDIS_URL = ""
    response = api_client_for(owner).get(f"{path}?{query}")
    assert response.status_code == 400, response.content[:300]
    assert list(response.json()) == [field]
    assert "must be an integer from" in response.json()[field][0]


@pytest.mark.django_db
def test_pages_never_exceed_the_maximum(
    owner: User, api_client_for: Callable[[User | None], Any], settings: Settings
) -> None:
    settings.API_MAX_PAGE_SIZE = 3
    for name in "abcde":
        Team.objects.create(name=f"team-{name}")
    api = api_client_for(owner)
    page = api.get("/api/v1/accounts/teams/?limit=3&offset=1").json()
    assert (page["count"], len(page["results"])) == (6, 3)
    assert "limit=3" in page["next"]
    assert api.get("/api/v1/accounts/teams/?limit=4").status_code == 400
    # Without ?limit= the default page size applies, cut to the maximum.
    assert len(api.get("/api/v1/accounts/teams/").json()["results"]) == 3
    assert api.get(f"/api/v1/accounts/teams/?offset={MAX_OFFSET}").json()["results"] == []


def test_the_schema_states_the_paging_bounds(settings: Settings) -> None:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    checked = 0
    for path in LISTS:
        operation = schema["paths"][path]["get"]
        bounds = {p["name"]: p["schema"] for p in operation["parameters"] if p["name"] in ("limit", "offset")}
        assert bounds["limit"]["minimum"] == 1 and bounds["limit"]["maximum"] == settings.API_MAX_PAGE_SIZE
        assert bounds["offset"]["minimum"] == 0 and bounds["offset"]["maximum"] == MAX_OFFSET
        checked += 1
    assert checked == len(LISTS)
