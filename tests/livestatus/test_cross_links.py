"""Status pages link to the registry entry of what they show; a live object unknown to the
registry says so, and staff (only) are offered to adopt it (registry/adoption.py)."""

from __future__ import annotations

from html import unescape

import pytest
from django.contrib.auth.models import User
from django.test import Client

from registry.models import Host, NaemonNode
from tests.factories import ServiceFactory

# The status pages' fixtures (their own Icinga 2 core with web-01, db-01, unowned-01; ``master``, ``owned``).
pytest_plugins = ["tests.livestatus.fixtures"]
pytestmark = pytest.mark.usefixtures("deploys")


def login(user: User) -> Client:
    browser = Client()  # ``client`` is the Livestatus client in this directory's conftest
    browser.force_login(user)
    return browser


@pytest.mark.services
def test_status_pages_link_to_the_registry_entry_or_offer_staff_to_adopt(
    owner: User, staff: User, master: NaemonNode, owned: dict[str, Host]
) -> None:
    http = ServiceFactory.create(host=owned["web-01"], description="http")
    client = login(owner)
    page = client.get("/status/host/web-01/").content.decode()
    assert 'id="registry-link" href="/registry/hosts/web-01/"' in page and 'id="not-in-registry"' not in page
    page = client.get("/status/service/web-01/http/").content.decode()
    assert f'id="registry-link" href="/registry/services/{http.pk}/"' in page
    page = client.get("/status/service/web-01/disk/").content.decode()
    assert "The registry does not know this service" in page  # the host is known, this service is not

    unknown = client.get("/status/host/unowned-01/")
    assert unknown.status_code == 200
    assert "The registry does not know this host" in unknown.content.decode()
    assert 'id="adopt-offer"' not in unknown.content.decode()  # only staff may adopt
    offer = login(staff).get("/status/host/unowned-01/").content.decode()
    assert 'id="adopt-offer"' in offer and '"adopt": true' in unescape(offer)
