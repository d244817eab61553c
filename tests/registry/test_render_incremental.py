"""Incremental rendering: blocks reused from the live version are the bytes a full render writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry import render
from registry.models import Host, HostUse, NaemonNode, Service, ServiceUse
from registry.render import NotifyPaths, State, render_state
from registry.state import load_snapshot, render_node
from registry.versions import stanza_cache, write_version

NOTIFY = NotifyPaths("/usr/bin/notify-filter", "/var/lib/nf/snapshot", "/var/lib/nf/state", "/var/log/nf.log")
NAMES = [f"h{i}" for i in range(8)]
TEMPLATES = ["base", "web", "db"]
GROUPS = ["g1", "g2", "g3"]
CONTACTS = ["alice", "bob"]


class Registry:
    """A small registry as plain rows, changed the way the API changes it (names, not ids)."""

    def __init__(self) -> None:
        self.templates = {name: {"name": name, "check_interval": 60} for name in TEMPLATES}
        self.groups = {name: {"name": name, "alias": name.upper()} for name in GROUPS}
        self.contacts = {
            name: {"name": name, "email": f"{name}@example.org", "staff": False} for name in CONTACTS
        }
        self.hosts: dict[str, dict[str, Any]] = {}
        self.services: dict[tuple[str, str], dict[str, Any]] = {}

    def state(self) -> State:
        return State(
            commands=[{"name": "check-ping", "command_line": "/bin/true -w $ARG1$"}],
            contacts=[dict(row) for row in self.contacts.values()],
            hostgroups=[dict(row) for row in self.groups.values()],
            host_templates=[dict(row) for row in self.templates.values()],
            service_templates=[{"name": "svc"}],
            hosts=[dict(row) for row in self.hosts.values()],
            services=[dict(row) for row in self.services.values()],
        )

    def rename(self, kind: str, old: str, new: str) -> None:
        """Rename a template, group or contact: every row naming it names the new one."""
        tables: dict[str, tuple[dict[str, dict[str, Any]], str]] = {
            "template": (self.templates, "use"),
            "group": (self.groups, "hostgroups"),
            "contact": (self.contacts, "contacts"),
        }
        table, field = tables[kind]
        if old not in table or new in table:
            return
        table[new] = {**table.pop(old), "name": new}
        for host in self.hosts.values():
            host[field] = [new if name == old else name for name in host[field]]

    def apply(self, op: tuple[str, int, int, str]) -> None:
        kind, a, b, text = op
        host = NAMES[a % len(NAMES)]
        if kind == "host":
            self.hosts[host] = {
                "name": host,
                "alias": text,
                "address": f"10.0.0.{a % 250 + 1}",
                "use": [TEMPLATES[b % len(TEMPLATES)]] if b % 4 else [],
                "hostgroups": sorted({GROUPS[b % len(GROUPS)], GROUPS[a % len(GROUPS)]}),
                "contacts": [CONTACTS[b % len(CONTACTS)]] if b % 3 else [],
                "custom_variables": {"_RACK": text} if text else {},
            }
        elif kind == "delete host":
            self.hosts.pop(host, None)
            self.services = {k: v for k, v in self.services.items() if k[0] != host}
        elif kind == "service" and host in self.hosts:
            description = f"Service {b % 3}"
            args = [text or "80"]
            self.services[(host, description)] = {
                "host": host,
                "hostgroups": [],
                "description": description,
                "use": ["svc"],
                "check_command": "check-ping",
                "check_command_args": args,
            }
        elif kind == "delete service":
            self.services.pop((host, f"Service {b % 3}"), None)
        elif kind == "template":
            old = next(iter(self.templates))
            self.rename("template", old, f"{old}-{b}")
        elif kind == "group":
            old = list(self.groups)[b % len(self.groups)]
            self.rename("group", old, f"{old}-{a}")
        elif kind == "contact":
            name = list(self.contacts)[b % len(self.contacts)]
            # Staff or not decides the default contact group of every host without contacts.
            self.contacts[name]["staff"] = not self.contacts[name]["staff"]
        elif kind == "rename contact":
            old = list(self.contacts)[b % len(self.contacts)]
            self.rename("contact", old, f"{old}{a}")


OPS = st.tuples(
    st.sampled_from(
        [
            *("host", "host", "service", "service", "delete host", "delete service"),
            *("template", "group", "contact", "rename contact"),
        ]
    ),
    st.integers(0, 20),
    st.integers(0, 20),
    st.sampled_from(["", "web", "rack 7", "x"]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(OPS, min_size=1, max_size=25))
def test_incremental_render_is_byte_for_byte_the_full_render(ops: list[Any], tmp_path: Path) -> None:
    """Any sequence of registry changes: each render from the live version's blocks equals a full render."""
    registry = Registry()
    live: Path | None = None
    run = tmp_path / str(id(ops))
    for number, op in enumerate(ops, start=1):
        registry.apply(op)
        full = render_state(registry.state(), NOTIFY, node_name="master")
        incremental = render_state(registry.state(), NOTIFY, node_name="master", cache=stanza_cache(live))
        assert incremental.files == full.files
        assert incremental.content_hash == full.content_hash
        live = run / str(number)
        write_version(live, incremental, number, set())


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the hosts the renderer renders (rather than takes from the cache)."""
    rendered: list[str] = []
    original = render._render_host

    def spy(row: dict[str, Any], default_contact_group: str = "") -> str:
        rendered.append(row["name"])
        return original(row, default_contact_group)

    monkeypatch.setattr(render, "_render_host", spy)
    return rendered


def _site(tmp_path: Path) -> tuple[Registry, Path]:
    registry = Registry()
    for i, (template, group, contacts) in enumerate(
        [
            *(("base", "g1", []), ("web", "g2", ["bob"]), ("base", "g3", ["alice"])),
            *(("db", "g1", []), ("web", "g2", ["bob"]), ("db", "g3", ["alice"])),
        ]
    ):
        registry.apply(("host", i, 0, "abcdef"[i]))
        registry.hosts[f"h{i}"].update(use=[template], hostgroups=[group], contacts=contacts)
        registry.apply(("service", i, 1, ""))
    live = tmp_path / "1"
    write_version(live, render_state(registry.state(), NOTIFY), 1, set())
    return registry, live


def test_one_host_change_renders_only_that_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry, live = _site(tmp_path)
    registry.hosts["h2"]["alias"] = "moved to rack 9"
    rendered = _counting(monkeypatch)
    result = render_state(registry.state(), NOTIFY, cache=stanza_cache(live))
    assert rendered == ["h2"]
    assert "alias moved to rack 9" in result.files["hosts.cfg"]
    assert result.files == render_state(registry.state(), NOTIFY).files


@pytest.mark.parametrize(
    ("change", "dependents"),
    [
        # Renaming a template re-renders the hosts that use it, and only those.
        (lambda r: r.rename("template", "base", "base2"), "uses base"),
        (lambda r: r.rename("group", "g1", "g1-new"), "in g1"),
        (lambda r: r.rename("contact", "bob", "robert"), "bob's"),
        # A contact becoming staff makes the default group: every host without contacts gets it.
        (lambda r: r.contacts["alice"].update(staff=True), "without contacts"),
    ],
    ids=["template", "group", "contact", "staff contact"],
)
def test_a_change_re_renders_every_dependent_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: Any, dependents: str
) -> None:
    registry, live = _site(tmp_path)
    expected = {
        "uses base": {n for n, h in registry.hosts.items() if "base" in h["use"]},
        "in g1": {n for n, h in registry.hosts.items() if "g1" in h["hostgroups"]},
        "bob's": {n for n, h in registry.hosts.items() if "bob" in h["contacts"]},
        "without contacts": {n for n, h in registry.hosts.items() if not h["contacts"]},
    }[dependents]
    assert expected and expected != set(registry.hosts)
    change(registry)
    rendered = _counting(monkeypatch)
    result = render_state(registry.state(), NOTIFY, cache=stanza_cache(live))
    assert set(rendered) == expected
    assert result.files == render_state(registry.state(), NOTIFY).files


def test_a_hand_edit_of_the_live_version_is_not_carried_over(tmp_path: Path) -> None:
    registry, live = _site(tmp_path)
    hosts = live / "hosts.cfg"
    hosts.write_text(hosts.read_text().replace("alias a", "alias edited by hand"))
    registry.hosts["h5"]["alias"] = "changed"
    result = render_state(registry.state(), NOTIFY, cache=stanza_cache(live))
    assert "edited by hand" not in result.files["hosts.cfg"]
    assert "alias a\n" in result.files["hosts.cfg"]


@pytest.mark.django_db
def test_a_re_render_from_the_database_renders_only_the_changed_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, basics: dict[str, Any]
) -> None:
    """Rows loaded again from the database give the same block digests: the live version's blocks are reused."""
    node = NaemonNode.objects.create(name="n1", config_dir=str(tmp_path / "portal.d"))
    for i in range(4):
        host = Host.objects.create(name=f"web{i}", custom_variables={"_RACK": "R1"})
        HostUse.objects.create(host=host, template=basics["host_template"])
        service = Service.objects.create(
            host=host, description="HTTP", check_command=basics["command"], check_command_args=["80"]
        )
        ServiceUse.objects.create(service=service, template=basics["service_template"])
    write_version(tmp_path / "1", render_node(node), 1, set())
    Host.objects.filter(name="web2").update(alias="moved to rack 9")
    hosts = _counting(monkeypatch)
    services: list[str] = []
    original = render._render_service

    def spy(row: dict[str, Any]) -> str:
        services.append(row["host"])
        return original(row)

    monkeypatch.setattr(render, "_render_service", spy)

    again = render_state(
        load_snapshot(node), node.notify_paths(), node_name=node.name, cache=stanza_cache(tmp_path / "1")
    )
    assert hosts == ["web2"] and services == []
    assert again.files == render_node(node).files
    assert "alias moved to rack 9" in again.files["hosts.cfg"]
