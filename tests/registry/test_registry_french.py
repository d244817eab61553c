"""The registry's pages for a French reader: form labels and messages in French, dates in French
formats and the reader's time zone (docs/i18n.md). They need the compiled catalogue (see
tests/monitoring_portal/test_i18n.py)."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import translation

from monitoring_portal.models import Team
from preferences.models import NotificationProfile
from registry.forms import FIELD_LABELS
from registry.models import Deployment, DeploymentState
from registry.object_forms import NOT_EDITED
from registry.object_views import KINDS
from tests.factories import DeploymentFactory, HostFactory, HostGroupFactory, NaemonNodeFactory

pytestmark = pytest.mark.django_db

FRENCH = {"accept-language": "fr-FR,fr;q=0.9"}
ENGLISH = {"accept-language": "en-GB,en;q=0.9"}
# A summer instant: Paris is UTC+2 then (CEST), so a missing shift to the reader's zone shows.
AT = datetime(2025, 7, 2, 7, 8, 9, tzinfo=UTC)


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _labels(page: str) -> list[str]:
    """The text of the form's field labels (without the required mark)."""
    return [
        html.unescape(re.sub(r"<span.*", "", label)).strip()
        for label in re.findall(r'<label class="form(?:-check)?-label"[^>]*>(.*?)</label>', page, re.S)
    ]


def test_the_host_form_speaks_french(staff: User) -> None:
    labels = _labels(_client(staff).get("/registry/hosts/add/", headers=FRENCH).content.decode())
    for french in ("Nom", "Adresse", "Équipe", "Arguments de la commande de contrôle", "Nom affiché"):
        assert french in labels
    assert "Check command arguments" not in labels and "Display name" not in labels
    english = _labels(_client(staff).get("/registry/hosts/add/", headers=ENGLISH).content.decode())
    assert "Check command arguments" in english and "Event handler" in english


def test_a_service_on_an_unknown_host_is_refused_in_french(staff: User) -> None:
    response = _client(staff).post(
        "/registry/services/add/", {"description": "HTTP", "host": "nowhere"}, headers=FRENCH
    )
    assert "Aucun hôte nommé nowhere." in response.content.decode()


@pytest.mark.parametrize(
    ("kind", "heading", "french", "english"),
    [
        ("contactgroups", "groupe de contacts", "Membres", "Members"),
        ("hosttemplates", "modèle d'hôte", "Intervalle de contrôle", "Check interval"),
        ("hostescalations", "escalade d'hôte", "Première notification", "First notification"),
    ],
)
def test_a_generic_kinds_form_speaks_french(
    staff: User, kind: str, heading: str, french: str, english: str
) -> None:
    page = _client(staff).get(f"/registry/{kind}/add/", headers=FRENCH).content.decode()
    labels = _labels(page)
    assert french in labels and english not in labels
    assert f'<h1 class="h3">Ajouter : {heading}</h1>' in html.unescape(page)
    assert english in _labels(_client(staff).get(f"/registry/{kind}/add/", headers=ENGLISH).content.decode())


def test_a_kinds_list_is_named_in_the_readers_language(staff: User) -> None:
    client = _client(staff)
    french = client.get("/registry/hostdependencies/", headers=FRENCH).content.decode()
    assert "<title>Dépendances d&#x27;hôtes" in french
    english = client.get("/registry/hostdependencies/", headers=ENGLISH).content.decode()
    assert "<title>Host dependencies" in english  # not Django's "dependencys"


def test_every_field_of_every_registry_form_has_a_translated_label(rf: Any, staff: User) -> None:
    """A field added to a serializer without a label would read as its English API name."""
    request = rf.get("/")
    request.user = staff
    names = {
        name
        for kind in KINDS.values()
        for name, field in kind.serializer(context={"request": request}).fields.items()
        if not field.read_only and name not in NOT_EDITED
    }
    assert names - set(FIELD_LABELS) == set()
    # Words French spells as English does: not a missing translation.
    same = {"alias", "description", "notes", "contacts", "service", "parents"}
    untranslated = []
    for name, label in FIELD_LABELS.items():
        with translation.override("fr"):
            french = str(label)
        with translation.override("en"):
            english = str(label)
        if french == english and name not in same:
            untranslated.append(name)
    assert untranslated == []


def test_a_refusal_on_a_registry_page_is_french(owner: User, outsider: User, team: Team) -> None:
    HostGroupFactory.create(name="web", team=team)
    refused = _client(owner).get("/registry/contactgroups/add/", headers=FRENCH)
    assert refused.status_code == 403
    assert "Vous ne pouvez pas créer d'objets de ce type (groupes de contacts)." in html.unescape(
        refused.content.decode()
    )

    stranger = _client(outsider)
    edit = stranger.get("/registry/hostgroups/web/edit/", headers=FRENCH)
    assert edit.status_code == 403
    assert "Vous ne pouvez pas modifier cet objet (groupe d&#x27;hôtes)." in edit.content.decode()
    delete = stranger.post("/registry/hostgroups/web/delete/", headers=FRENCH)
    assert delete.status_code == 403 and "Vous ne pouvez pas supprimer cet objet" in delete.content.decode()
    assert "You may not change this" in stranger.get("/registry/hostgroups/web/edit/").content.decode()


def test_registry_dates_are_french_and_in_the_readers_zone(owner: User) -> None:
    NotificationProfile.objects.create(user=owner, timezone="Europe/Paris")
    node = NaemonNodeFactory.create(name="master")
    deployment = DeploymentFactory.create(node=node, state=DeploymentState.CONFIRMED)
    Deployment.objects.filter(pk=deployment.pk).update(created_at=AT)  # auto_now_add on create
    HostFactory.create(name="web1", expires_at=AT)
    client = _client(owner)

    host = client.get("/registry/hosts/web1/", headers=FRENCH).content.decode()
    # 07:08 UTC is 09:08 in Paris; French order and zone; the exact instant stays machine-readable.
    assert "bail expiré · 02/07/2025 09:08 CEST" in host
    assert '<time datetime="2025-07-02T09:08:09+02:00">02/07/2025 09:08 CEST</time>' in host
    assert "2025-07-02 09:08" not in host

    rows = client.get("/registry/nodes/master/deployments/", headers={**FRENCH, "HX-Request": "true"})
    assert "02/07/2025 09:08 CEST" in rows.content.decode()
    english = client.get("/registry/nodes/master/deployments/", headers={**ENGLISH, "HX-Request": "true"})
    assert "07/02/2025 9:08 a.m. CEST" in english.content.decode()
