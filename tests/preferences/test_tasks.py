"""Publishing the snapshot: on which changes, when, to which queue, coalescing, what lands on disk."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient

from preferences import engine, notify_filter, snapshot, tasks
from preferences.models import NotificationProfile, NotificationRule
from registry import render
from registry.models import ClusterMove, Contact, HostGroup, NaemonNode, NodeHealth
from tests.preferences.conftest import Registry, make_contact, make_rule

pytestmark = pytest.mark.django_db


class Recorder:
    """Stands in for ``publish_snapshot.apply_async``: records (node id, queue)."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []

    def apply_async(self, args: list[Any], queue: str, **kwargs: Any) -> None:
        assert kwargs.get("expires"), "a publish message must expire"
        self.sent.append((args[0], queue))


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch, settings: SettingsWrapper) -> Recorder:
    # The fake never runs the task, so it would never clear Redis's "queued" mark: count every
    # message here; test_bursts_coalesce_through_redis turns Redis back on.
    settings.REDIS_URL = ""
    fake = Recorder()
    monkeypatch.setattr(tasks.publish_snapshot, "apply_async", fake.apply_async)
    return fake


@pytest.fixture
def nodes(tmp_path: Path) -> dict[str, NaemonNode]:
    def node(name: str, **fields: Any) -> NaemonNode:
        defaults = {
            "config_dir": str(tmp_path / name / "portal.d"),
            "notify_dir": str(tmp_path / name / "notify"),
        }
        return NaemonNode.objects.create(name=name, **(defaults | fields))

    return {
        "master": node("master"),
        "poller": node("poller", role="poller"),
        "off": node("off", enabled=False),
        "no-filter": node("no-filter", notify_dir=""),
    }


# Publishing happens after commit: these tests commit for real (transactional_db).
committing = pytest.mark.django_db(transaction=True)


@committing
def test_changes_publish_once_per_transaction_to_each_enabled_node(
    owner: User, nodes: dict[str, NaemonNode], recorder: Recorder
) -> None:
    with transaction.atomic():
        for n in range(5):
            make_rule(owner, action="notify", comment=str(n))
        NotificationProfile.objects.create(user=owner, default="suppress")
        assert recorder.sent == []  # nothing before the commit
    assert recorder.sent == [
        (nodes["master"].pk, "naemon.master"),
        (nodes["no-filter"].pk, "naemon.no-filter"),
        (nodes["poller"].pk, "naemon.poller"),
    ]


@committing
@pytest.mark.parametrize(
    "change",
    [
        "create rule",
        "update rule",
        "delete rule",
        "profile",
        "contact linked",
        "contact deleted",
        "user deleted",
    ],
)
def test_every_kind_of_change_publishes(
    change: str, owner: User, nodes: dict[str, NaemonNode], recorder: Recorder
) -> None:
    rule = make_rule(owner, action="notify")
    contact = make_contact("alice", None)
    recorder.sent.clear()
    with transaction.atomic():
        if change == "create rule":
            make_rule(owner, action="suppress")
        elif change == "update rule":
            rule.enabled = False
            rule.save()
        elif change == "delete rule":
            rule.delete()
        elif change == "profile":
            NotificationProfile.objects.create(user=owner)
        elif change == "contact linked":
            contact.user = owner
            contact.save()
        elif change == "contact deleted":
            contact.delete()
        else:
            owner.delete()  # cascades to the rules
    assert len(recorder.sent) == 3


@committing
def test_a_rolled_back_change_publishes_nothing_and_does_not_block_the_next(
    owner: User, nodes: dict[str, NaemonNode], recorder: Recorder
) -> None:
    with transaction.atomic():
        try:
            with transaction.atomic():
                make_rule(owner, action="notify")
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        assert NotificationRule.objects.count() == 0
    assert recorder.sent == []
    with transaction.atomic():
        make_rule(owner, action="notify")
    assert len(recorder.sent) == 3


def test_publish_writes_the_snapshot_the_filter_reads(
    owner: User, nodes: dict[str, NaemonNode], registry: Registry
) -> None:
    make_contact("alice", owner, registry.email)
    NotificationProfile.objects.create(user=owner, default="suppress")
    rule = make_rule(owner, action="notify", hostgroups=["web"], states=["CRITICAL"])

    result = tasks.publish_snapshot(nodes["master"].pk)
    assert result is not None and result["contacts"] == 1 and result["node"] == "master"
    directory = Path(nodes["master"].notify_dir) / "snapshot"
    assert result["directory"] == str(directory)
    assert snapshot.read_manifest(directory)["contacts"] == 1
    compiled = snapshot.read_contact(directory, "alice")
    assert compiled is not None and compiled["default_notify"] is False

    # The filter itself, on that snapshot, decides as the preview does.
    def filter_decision(hostgroups: str, state: str) -> engine.Decision:
        args = notify_filter.parse_arguments(
            [
                "--contact=alice",
                "--channel=email",
                "--type=PROBLEM",
                "--host=web1",
                f"--hostgroups={hostgroups}",
                "--service=HTTP",
                f"--state={state}",
                f"--snapshot-dir={directory}",
                f"--state-dir={directory.parent / 'state'}",
            ]
        )
        return notify_filter.decide(args)

    assert filter_decision("web", "CRITICAL") == engine.Decision(True, rule.pk, f"rule {rule.pk} matched")
    assert filter_decision("db", "CRITICAL").notify is False
    client = APIClient()
    client.force_login(owner)
    body = {"host": "web1", "service": "HTTP", "state": "CRITICAL", "channel": "email"}
    assert client.post("/api/v1/preferences/test/", body, format="json").json()["rule"]["id"] == rule.pk

    # Disabled nodes are left alone.
    assert tasks.publish_snapshot(nodes["off"].pk) is None
    assert not (Path(nodes["off"].notify_dir) / "snapshot").exists()


def test_a_node_without_notify_dir_gets_the_snapshot_where_its_commands_point(
    owner: User, nodes: dict[str, NaemonNode], registry: Registry, filter_defaults: Path
) -> None:
    """NaemonNode.notify_paths() is the one owner: the rendered line and the publisher agree."""
    make_contact("alice", owner, registry.email)
    rule = make_rule(owner, action="suppress", hostgroups=["web"])
    node = nodes["no-filter"]
    _, service_line = render.wrapped_command_lines(
        {"name": "notify-email", "channel": "email", "command_line": "/bin/true"}, node.notify_paths()
    )
    directory = str(filter_defaults / "snapshot")
    assert f'--snapshot-dir "{directory}"' in service_line

    # The active master (else the cluster gate holds web1 back before any rule: not its notifier).
    NaemonNode.objects.filter(pk=node.pk).update(priority=1)
    result = tasks.publish_snapshot(node.pk)
    assert result is not None and result["directory"] == directory
    args = notify_filter.parse_arguments(
        [
            *("--contact=alice", "--channel=email", "--type=PROBLEM", "--host=web1"),
            *("--hostgroups=web", "--service=HTTP", "--state=CRITICAL", f"--snapshot-dir={directory}"),
        ]
    )
    assert notify_filter.decide(args) == engine.Decision(False, rule.pk, f"rule {rule.pk} matched")


def test_the_filters_built_in_default_is_the_nodes_default_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    """A command line rendered before every path was passed (no paths) keeps working after an upgrade."""
    monkeypatch.undo()  # the real defaults, not the tests' temporary ones (nothing is written)
    paths = NaemonNode(notify_dir="").notify_paths()
    defaults = (
        notify_filter.DEFAULT_SNAPSHOT_DIR,
        notify_filter.DEFAULT_STATE_DIR,
        notify_filter.DEFAULT_LOG,
    )
    assert (paths.snapshot_dir, paths.state_dir, paths.decision_log) == defaults


@committing
def test_an_api_change_reaches_the_nodes_snapshot(
    owner: User,
    nodes: dict[str, NaemonNode],
    registry: Registry,
    api_client_for: Callable[[User | None], APIClient],
) -> None:
    """Eager Celery (no broker in tests): the change is on disk when the request returns."""
    make_contact("alice", owner, registry.email)
    directory = Path(nodes["poller"].notify_dir) / "snapshot"
    response = api_client_for(owner).post(
        "/api/v1/preferences/rules/", {"action": "suppress", "comment": "quiet"}, format="json"
    )
    assert response.status_code == 201
    compiled = snapshot.read_contact(directory, "alice")
    assert compiled is not None and [r["id"] for r in compiled["rules"]] == [response.json()["id"]]

    api_client_for(owner).delete(f"/api/v1/preferences/rules/{response.json()['id']}/")
    compiled = snapshot.read_contact(directory, "alice")
    assert compiled is not None and compiled["rules"] == []


@committing
def test_a_new_order_reaches_the_nodes_filter(
    owner: User,
    nodes: dict[str, NaemonNode],
    registry: Registry,
    api_client_for: Callable[[User | None], APIClient],
) -> None:
    """Reordering writes without signals (bulk_update): it must publish all the same."""
    make_contact("alice", owner, registry.email)
    notify = make_rule(owner, action="notify", comment="first")
    suppress = make_rule(owner, action="suppress", comment="second")
    directory = Path(nodes["master"].notify_dir) / "snapshot"
    args = notify_filter.parse_arguments(
        [
            *("--contact=alice", "--channel=email", "--type=PROBLEM", "--host=web1", "--state=DOWN"),
            *(f"--snapshot-dir={directory}", f"--state-dir={directory.parent / 'state'}"),
        ]
    )
    assert notify_filter.decide(args).rule_id == notify.pk

    response = api_client_for(owner).post(
        "/api/v1/preferences/rules/reorder/", {"ids": [suppress.pk, notify.pk]}, format="json"
    )
    assert response.status_code == 200
    assert notify_filter.decide(args) == engine.Decision(False, suppress.pk, f"rule {suppress.pk} matched")


@committing
def test_a_failing_publish_does_not_fail_the_request(
    owner: User,
    nodes: dict[str, NaemonNode],
    api_client_for: Callable[[User | None], APIClient],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.publish_snapshot, "apply_async", broken)
    response = api_client_for(owner).post("/api/v1/preferences/rules/", {"action": "notify"}, format="json")
    assert response.status_code == 201
    assert NotificationRule.objects.filter(user=owner).count() == 1
    assert "broker down" in caplog.text


def test_refresh_rewrites_every_node(nodes: dict[str, NaemonNode], owner: User) -> None:
    make_contact("alice", owner)
    assert tasks.refresh_snapshots() == ["master", "no-filter", "poller"]
    first = snapshot.generated_at(Path(nodes["master"].notify_dir) / "snapshot")
    tasks.refresh_snapshots()
    assert snapshot.generated_at(Path(nodes["master"].notify_dir) / "snapshot") >= first
    assert snapshot.read_contact(Path(nodes["poller"].notify_dir) / "snapshot", "alice") is not None


@pytest.mark.services
def test_bursts_coalesce_through_redis(
    redis_url: str, settings: SettingsWrapper, nodes: dict[str, NaemonNode], recorder: Recorder
) -> None:
    import redis

    settings.REDIS_URL = redis_url
    client = redis.Redis.from_url(redis_url)
    client.delete(*(tasks._pending_key(node.pk) for node in nodes.values()))
    try:
        assert tasks.enqueue_publish() == ["master", "no-filter", "poller"]
        assert tasks.enqueue_publish() == []  # queued, not started: nothing more to send
        assert len(recorder.sent) == 3
        ttl = client.ttl(tasks._pending_key(nodes["master"].pk))
        assert 0 < ttl <= tasks.PENDING_TTL  # a lost message delays the next one only so long
        # The master's worker starts: the next change must send a new message there.
        tasks.publish_snapshot(nodes["master"].pk)
        assert tasks.enqueue_publish() == ["master"]
        assert tasks.enqueue_publish(coalesce=False) == ["master", "no-filter", "poller"]
    finally:
        client.delete(*(tasks._pending_key(node.pk) for node in nodes.values()))
        client.close()


def test_contacts_absent_from_the_snapshot_fail_open(nodes: dict[str, NaemonNode], owner: User) -> None:
    Contact.objects.create(name="robot")
    tasks.publish_snapshot(nodes["master"].pk)
    directory = Path(nodes["master"].notify_dir) / "snapshot"
    assert snapshot.read_contact(directory, "robot") is None
    args = notify_filter.parse_arguments(
        [
            "--contact=robot",
            "--channel=email",
            "--type=PROBLEM",
            "--host=h",
            "--state=DOWN",
            f"--snapshot-dir={directory}",
            f"--state-dir={directory.parent / 'state'}",
        ]
    )
    assert notify_filter.decide(args) == engine.Decision(True, None, "unknown contact")


# --- the cluster part: who notifies what, published with the rules -------------------------------


def gate(directory: Path, hostgroups: str) -> engine.Decision:
    """The filter's decision on a CRITICAL of web1/HTTP in ``hostgroups``, with this snapshot."""
    args = notify_filter.parse_arguments(
        [
            *("--contact=alice", "--channel=email", "--type=PROBLEM", "--host=web1", "--service=HTTP"),
            *(f"--hostgroups={hostgroups}", "--state=CRITICAL", f"--snapshot-dir={directory}"),
            f"--state-dir={directory.parent / 'state'}",
        ]
    )
    return notify_filter.decide(args)


def test_publish_writes_who_notifies_what(nodes: dict[str, NaemonNode]) -> None:
    HostGroup.objects.create(name="web", node=nodes["poller"])
    tasks.publish_snapshot(nodes["master"].pk)
    directory = Path(nodes["master"].notify_dir) / "snapshot"
    assert snapshot.read_cluster(directory) == {
        "format": snapshot.CLUSTER_FORMAT,
        "node": "master",
        "nodes": ["master", "no-filter", "poller"],
        "groups": {"web": "poller"},
        "notifiers": {"": "master", "poller": "poller"},
    }
    # The master notifies what no poller owns; the poller's objects are the poller's to notify.
    assert gate(directory, "linux").notify is True
    assert gate(directory, "web,linux") == engine.Decision(
        False, None, "not the notifier here: poller notifies web1/HTTP"
    )
    # A poller with notifies off leaves its notifications to the active master.
    NaemonNode.objects.filter(pk=nodes["poller"].pk).update(notifies=False)
    tasks.publish_snapshot(nodes["master"].pk)
    assert gate(directory, "web,linux").notify is True
    # The active master down: the standby (no-filter) notifies from the next snapshot on.
    NodeHealth.objects.create(node=nodes["master"], healthy=False)
    tasks.publish_snapshot(nodes["master"].pk)
    assert gate(directory, "linux").reason == "not the notifier here: no-filter notifies web1/HTTP"


@committing
@pytest.mark.parametrize("change", ["node saved", "node deleted", "group placed", "group deleted", "move"])
def test_a_topology_change_publishes(change: str, nodes: dict[str, NaemonNode], recorder: Recorder) -> None:
    group = HostGroup.objects.create(name="web")
    recorder.sent.clear()
    with transaction.atomic():
        if change == "node saved":
            nodes["poller"].notifies = False
            nodes["poller"].save()
        elif change == "node deleted":
            nodes["off"].delete()
        elif change == "group placed":
            group.node = nodes["poller"]
            group.save()
        elif change == "group deleted":
            group.delete()
        else:  # what registry.failover records when a node goes down or comes back
            NodeHealth.objects.create(node=nodes["master"], healthy=False)
            ClusterMove.objects.create(node=nodes["master"], kind="down", taken_by="no-filter")
        assert recorder.sent == []  # after the commit, once
    assert sorted(queue for _, queue in recorder.sent) == [
        "naemon.master",
        "naemon.no-filter",
        "naemon.poller",
    ]


@committing
def test_a_failover_move_moves_the_notifications(nodes: dict[str, NaemonNode]) -> None:
    """Through the real (eager) task: the move's commit rewrites the nodes' snapshots."""
    directory = Path(nodes["master"].notify_dir) / "snapshot"
    tasks.publish_snapshot(nodes["master"].pk)
    assert gate(directory, "linux").notify is True
    with transaction.atomic():
        NodeHealth.objects.create(node=nodes["master"], healthy=False)
        ClusterMove.objects.create(node=nodes["master"], kind="down", taken_by="no-filter")
    assert gate(directory, "linux").reason == "not the notifier here: no-filter notifies web1/HTTP"
