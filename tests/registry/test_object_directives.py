"""Issue 16: the per-object directives (event handler, flapping, freshness, retention, URLs, display).

Imported as they are, rendered as the core reads them (``nagios4 -v``), written through the API
only with values the core accepts, and what the registry still cannot hold is named with its
file and line (``--strict`` refuses it, changing nothing).
"""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from registry import importer
from registry.models import Host, NaemonNode, Service
from registry.state import render_node
from tests.registry.test_api import API, HOST_BODY, registry_state
from tests.registry.test_pages import FORM, login
from tests.services.nagios import VerifyDir, parse_objects

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("deploys")]

# Every directive issue 16 adds to hosts, services and their templates, with a value of its own.
HOST_DIRECTIVES = {
    "event_handler": "restart-web",
    "event_handler_enabled": "1",
    "flap_detection_enabled": "1",
    "low_flap_threshold": "5",
    "high_flap_threshold": "20.5",
    "flap_detection_options": "o,d",
    "check_freshness": "1",
    "freshness_threshold": "600",
    "obsess": "0",
    "process_perf_data": "0",
    "retain_status_information": "0",
    "retain_nonstatus_information": "1",
    "notes": "Front web server",
    "notes_url": "https://wiki.example.org/hosts/$HOSTNAME$?tab=notes&x=1",
    "action_url": "https://grafana.example.org/d/web",
    "display_name": "Web one",
    "icon_image": "server.png",
    "icon_image_alt": "A server",
}
SERVICE_DIRECTIVES = HOST_DIRECTIVES | {"is_volatile": "1", "flap_detection_options": "w,c"}


def _block(kind: str, head: dict[str, str], directives: dict[str, str]) -> str:
    lines = [f"    {k} {v}" for k, v in {**head, **directives}.items()]
    return f"define {kind} {{\n" + "\n".join(lines) + "\n}\n"


CONFIG = (
    _block("command", {"command_name": "check-ok", "command_line": "/bin/true"}, {})
    + _block("command", {"command_name": "restart-web", "command_line": "/bin/true $HOSTNAME$"}, {})
    + _block(
        "host",
        {"name": "base", "max_check_attempts": "3", "check_command": "check-ok", "register": "0"},
        {"flap_detection_enabled": "0", "notes_url": "https://wiki.example.org/base"},
    )
    + _block("host", {"host_name": "web1", "address": "192.0.2.1", "use": "base"}, HOST_DIRECTIVES)
    # Nagios' names for obsess: kept as obsess.
    + _block(
        "host",
        {"host_name": "web2", "address": "192.0.2.2", "use": "base"},
        {"obsess_over_host": "1", "vrml_image": "web.png"},
    )
    + _block(
        "service",
        {"host_name": "web1", "service_description": "HTTP", "check_command": "check-ok"},
        SERVICE_DIRECTIVES | {"max_check_attempts": "3"},
    )
    + _block(
        "service",
        {"host_name": "web2", "service_description": "Volatile", "check_command": "check-ok"},
        {"max_check_attempts": "1", "obsess_over_service": "0", "is_volatile": "1"},
    )
    + _block("hostgroup", {"hostgroup_name": "all", "members": "*"}, {})
)


def _directives(text: str, kind: str, key: str) -> dict[str, dict[str, str]]:
    """Object name -> its directives, from config text."""
    return {dict(d)[key]: dict(d) for k, d in parse_objects(text) if k == kind and key in dict(d)}


def _same(expected: dict[str, str], got: dict[str, str]) -> dict[str, tuple[str, str | None]]:
    """The directives of ``expected`` that ``got`` lacks or spells with another value."""
    differ = {}
    for key, value in expected.items():
        other = got.get(key)
        if key.endswith("_threshold") and other is not None and float(other) == float(value):
            continue
        if other != value:
            differ[key] = (value, other)
    return differ


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "site.cfg"
    path.write_text(CONFIG)
    return path


def test_import_keeps_every_directive_and_the_core_accepts_the_render(
    config: Path, verify_dir: VerifyDir, tmp_path: Path
) -> None:
    report = importer.import_paths([config])
    assert not report.skipped, report.lines()

    node = NaemonNode.objects.create(name="master", config_dir=str(tmp_path / "portal.d"))
    rendered = render_node(node)
    result = verify_dir.check(rendered.files)
    assert result.returncode == 0, result.output

    hosts = _directives(rendered.files["hosts.cfg"], "host", "host_name")
    assert _same(HOST_DIRECTIVES, hosts["web1"]) == {}
    assert hosts["web2"]["obsess"] == "1"
    services = _directives(rendered.files["services.cfg"], "service", "service_description")
    assert _same(SERVICE_DIRECTIVES, services["HTTP"]) == {}
    assert (services["Volatile"]["is_volatile"], services["Volatile"]["obsess"]) == ("1", "0")
    templates = _directives(rendered.files["templates.cfg"], "host", "name")
    assert templates["base"]["notes_url"] == "https://wiki.example.org/base"


def test_what_cannot_be_held_is_named_with_file_and_line(config: Path) -> None:
    report = importer.import_paths([config])
    lines = report.lines()
    # The line of the wildcard member and of a refused host directive in the file.
    text = CONFIG.split("\n")
    star = next(i for i, line in enumerate(text, 1) if line.strip() == "members *")
    nested = next(i for i, line in enumerate(text, 1) if "vrml_image" in line)
    assert f"dropped: {config}:{star}: hostgroup members * (wildcards, exclusions)" in lines
    assert f"dropped: {config}:{nested}: host vrml_image" in lines


def test_strict_import_fails_and_changes_nothing(config: Path) -> None:
    out = StringIO()
    with pytest.raises(CommandError, match="--strict"):
        call_command("import_naemon_config", str(config), "--strict", stdout=out)
    assert not Host.objects.exists() and not Service.objects.exists()
    assert "vrml_image" in out.getvalue()


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("low_flap_threshold", 101, "between 0 and 100"),
        ("high_flap_threshold", -1, "between 0 and 100"),
        ("low_flap_threshold", 30, "below high_flap_threshold"),
        ("flap_detection_options", "o,w", "unknown option(s) w"),
        ("notes_url", "https://x.example.org/a b", "may not contain"),
        ("action_url", "https://x.example.org/\nfoo", "one line"),
        ("display_name", "Web `id`", "may not contain"),
        ("event_handler", "no-such-command", "no-such-command"),
    ],
)
def test_bad_directive_is_a_400_naming_the_field_and_changes_nothing(
    api: Any, site: Any, field: str, value: Any, says: str
) -> None:
    before = registry_state()
    body = {**HOST_BODY, "high_flap_threshold": 20, field: value}
    response = api.put(f"{API}/hosts/web02/", body, format="json")
    assert response.status_code == 400, response.json()
    assert says in " ".join(response.json()[field])
    assert registry_state() == before


def test_directives_written_by_the_api_are_filterable(api: Any, site: Any) -> None:
    body = {**HOST_BODY, "flap_detection_enabled": True, "low_flap_threshold": 5, "high_flap_threshold": 20}
    body |= {"notes_url": "https://wiki.example.org/web02", "display_name": "Web two"}
    assert api.put(f"{API}/hosts/web02/", body, format="json").status_code == 202
    names = [h["name"] for h in api.get(f"{API}/hosts/?flap_detection_enabled=true").json()["results"]]
    assert names == ["web02"]
    host = api.get(f"{API}/hosts/web02/").json()
    assert (host["notes_url"], host["display_name"], host["high_flap_threshold"]) == (
        "https://wiki.example.org/web02",
        "Web two",
        20.0,
    )


def test_the_host_form_edits_the_directives_folded_under_more(owner: Any, site: Any) -> None:
    client = login(owner)
    page = client.get("/registry/hosts/add/").content.decode()
    assert 'id="more-directives"' in page and 'name="notes_url"' in page
    form = {**FORM, "notes_url": "https://wiki.example.org/web02", "flap_detection_enabled": "true"}
    response = client.post(
        "/registry/hosts/add/", {**form, "low_flap_threshold": "5", "high_flap_threshold": "30"}
    )
    assert response.status_code == 302, response.content.decode()
    host = Host.objects.get(name="web02")
    assert (host.notes_url, host.flap_detection_enabled, host.high_flap_threshold) == (
        "https://wiki.example.org/web02",
        True,
        30.0,
    )
    # Refused as the API refuses, shown at the field, the section unfolded; nothing changes.
    response = client.post(
        "/registry/hosts/web02/edit/", {**form, "low_flap_threshold": "40", "high_flap_threshold": "30"}
    )
    assert response.status_code == 200
    assert "below high_flap_threshold" in " ".join(response.context["form"].errors["low_flap_threshold"])
    assert '<details class="mb-3" id="more-directives" open>' in response.content.decode()
    assert Host.objects.get(name="web02").low_flap_threshold == 5.0
