"""A node's files are written as a stream of blocks: the same bytes and hash as the whole text, and nothing on error."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from registry import deploy, render, versions
from registry.models import Deployment, Host, HostUse, NaemonNode, Service, ServiceUse
from registry.render import FILES, NotifyPaths, State, render_state

NOTIFY = NotifyPaths("/usr/bin/notify-filter", "/var/lib/nf/snapshot", "/var/lib/nf/state", "/var/log/nf.log")
# More hosts than one streamed piece holds, so that pieces are joined where they meet.
HOSTS = render._BATCH + 3


def _state() -> State:
    hosts = [
        {
            "name": f"h{i:05d}",
            # Non-ASCII text: a file's length is its UTF-8 length, not its number of characters.
            "alias": "Zürich rack 7" if i % 3 else "",
            "address": f"10.0.{i // 250}.{i % 250 + 1}",
            "use": ["base"],
            "hostgroups": ["g1"],
            "custom_variables": {"_RACK": str(i % 40)},
        }
        for i in range(HOSTS)
    ]
    services = [
        {"host": f"h{i:05d}", "hostgroups": [], "description": "Ping", "use": ["svc"]}
        for i in range(0, HOSTS, 7)
    ]
    return State(
        commands=[{"name": "check-ping", "command_line": "/bin/true -w $ARG1$"}],
        contacts=[{"name": "alice", "email": "alice@example.org", "staff": True}],
        hostgroups=[{"name": "g1", "alias": "Gruppe Ä"}],
        host_templates=[{"name": "base", "check_interval": 60}],
        service_templates=[{"name": "svc"}],
        hosts=hosts,
        services=services,
    )


def _by_definition(files: dict[str, bytes]) -> str:
    """The content hash as versions on disk were compared by: every file by name and length, in order."""
    digest = hashlib.sha256()
    for name in FILES:
        digest.update(f"{name}\0{len(files[name])}\0".encode() + files[name])
    return digest.hexdigest()


def test_streamed_files_are_the_whole_text_byte_for_byte(tmp_path: Path) -> None:
    rendered = render_state(_state(), NOTIFY, node_name="master")
    versions.write_version(tmp_path / "v1", rendered, 1, set())
    on_disk = {name: (tmp_path / "v1" / name).read_bytes() for name in FILES}

    for name in FILES:
        whole = rendered.header + "\n" + "\n".join(rendered.blocks[name])
        assert on_disk[name] == whole.encode() == rendered.files[name].encode(), name
        assert rendered.size(name) == len(on_disk[name])
    assert on_disk["hosts.cfg"].count(b"define host {") == HOSTS
    assert "alias Zürich rack 7" in rendered.files["hosts.cfg"]
    # The hash a deploy records, the one read back from disk and the definition all agree.
    assert rendered.content_hash == _by_definition(on_disk) == render.content_hash(on_disk)
    assert versions.content_hash_on_disk(tmp_path / "v1") == rendered.content_hash


def test_blocks_read_back_from_a_streamed_version_render_the_same_files(tmp_path: Path) -> None:
    state = _state()
    first = render_state(state, NOTIFY, node_name="master")
    versions.write_version(tmp_path / "v1", first, 1, set())
    cache = versions.stanza_cache(tmp_path / "v1")
    assert len(cache) == len(first.host_inputs) + len(first.service_inputs)
    state.hosts[-1]["alias"] = "moved"
    again = render_state(state, NOTIFY, node_name="master", cache=cache)
    assert again.files == render_state(state, NOTIFY, node_name="master").files
    assert "alias moved" in again.files["hosts.cfg"]


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["host", "service"])
def test_a_bad_value_in_the_last_object_writes_no_file(
    tmp_path: Path, basics: dict[str, Any], bad: str
) -> None:
    node = NaemonNode.objects.create(name="n1", config_dir=str(tmp_path / "portal.d"), reload_method="none")
    for i in range(5):
        host = Host.objects.create(name=f"web{i}")
        HostUse.objects.create(host=host, template=basics["host_template"])
        service = Service.objects.create(host=host, description="HTTP")
        ServiceUse.objects.create(service=service, template=basics["service_template"])
    # The last in file order: everything before it is rendered already when it fails.
    if bad == "host":
        Host.objects.filter(name="web4").update(alias="a\nb")
    else:
        Service.objects.filter(host__name="web4").update(notes="a\nb")
    deployment = Deployment.objects.create(node=node)
    deploy.deploy(node.pk)
    deployment.refresh_from_db()
    what = "host 'web4': alias" if bad == "host" else "service 'web4/HTTP': notes"
    assert deployment.state == "failed" and deployment.error.startswith(f"rendering failed: {what}")
    assert not Path(node.config_dir).exists()
    written = versions.versions_dir(node)
    assert not written.exists() or not any(written.rglob("*.cfg"))
