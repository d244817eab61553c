"""The notify-filter in a cluster: follow-ups on a node that never saw the PROBLEM, and the cluster gate.

Every holder of an object runs Naemon's notification logic for it; only the notifier lets a
notification out (the snapshot's cluster part), and a RECOVERY on the node the object moved to
is decided as its PROBLEM would have been. Same ``Node`` helper as tests/preferences/test_notify_filter.py.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from preferences import notify_filter, snapshot
from tests.preferences.test_notify_filter import SUPPRESS_WARNINGS, Node, write_sent_only_records


@pytest.fixture
def node(tmp_path: Path) -> Node:
    return Node(tmp_path)


# --- a notifier that moved: the follow-up arrives on a node that never saw the PROBLEM ----


@pytest.fixture
def nodes(tmp_path: Path) -> tuple[Node, Node]:
    """Two cluster nodes, each with its own notify directories, both with alice's rules."""
    pair = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        pair.append(Node(tmp_path / name))
        pair[-1].write(SUPPRESS_WARNINGS)
    return pair[0], pair[1]


def recovery_of(state: str, last_problem: str = "7") -> tuple[str, ...]:
    """What the rendered line passes on a RECOVERY: id 0, the ended problem's id, the state it ended."""
    return ("--problem-id", "0", "--last-problem-id", last_problem, "--last-state", state)


def test_a_recovery_on_another_node_is_sent_if_its_problem_would_be(nodes: tuple[Node, Node]) -> None:
    """Failover: A sent the PROBLEM, B (now the notifier) gets the RECOVERY: the contact hears the end."""
    a, b = nodes
    assert a.notify(type="PROBLEM", state="CRITICAL", extra=("--problem-id", "100")).returncode == 3
    assert b.notify(type="RECOVERY", state="OK", extra=recovery_of("CRITICAL")).returncode == 3
    assert b.last_reason() == (
        "no record on this node: problem decided as CRITICAL: notify (no rule matched; default notify)"
    )
    assert len(a.sent_lines()) == len(b.sent_lines()) == 1


def test_a_recovery_on_another_node_is_held_if_its_problem_would_be(nodes: tuple[Node, Node]) -> None:
    a, b = nodes
    assert a.notify(type="PROBLEM", state="WARNING", extra=("--problem-id", "100")).returncode == 0
    assert b.notify(type="RECOVERY", state="OK", extra=recovery_of("WARNING")).returncode == 0
    [decision] = b.decisions()
    assert (decision["decision"], decision["rule"]) == ("suppress", 7)
    assert (
        decision["reason"] == "no record on this node: problem decided as WARNING: suppress (rule 7 matched)"
    )
    assert a.sent_lines() == b.sent_lines() == []


@pytest.mark.parametrize(
    ("state", "last_state", "sent"),
    [("DOWN", "DOWN", True), ("UNREACHABLE", "UNREACHABLE", False)],
)
def test_a_host_recovery_on_another_node(
    nodes: tuple[Node, Node], state: str, last_state: str, sent: bool
) -> None:
    a, b = nodes
    for node in nodes:
        node.write({"alice": {"rules": [{"id": 3, "action": "suppress", "states": ["UNREACHABLE"]}]}})
    a.notify(type="PROBLEM", state=state, service="", extra=("--problem-id", "100"))
    result = b.notify(type="RECOVERY", state="UP", service="", extra=recovery_of(last_state))
    assert result.returncode == (3 if sent else 0)
    assert b.last_reason().startswith(f"no record on this node: problem decided as {last_state}: ")


def test_an_acknowledgement_on_another_node_follows_its_problem(nodes: tuple[Node, Node]) -> None:
    """An ACK carries its problem's state: that is the PROBLEM decided (no --last-state needed)."""
    a, b = nodes
    a.notify(type="PROBLEM", state="CRITICAL", extra=("--problem-id", "100"))
    a.notify(type="PROBLEM", state="WARNING", service="DB", extra=("--problem-id", "101"))
    assert b.notify(type="ACKNOWLEDGEMENT", state="CRITICAL", extra=("--problem-id", "7")).returncode == 3
    assert b.last_reason() == (
        "no record on this node: problem decided as CRITICAL: notify (no rule matched; default notify)"
    )
    assert b.notify(type="ACKNOWLEDGEMENT", state="WARNING", service="DB").returncode == 0
    assert b.last_reason() == "no record on this node: problem decided as WARNING: suppress (rule 7 matched)"
    assert len(b.sent_lines()) == 1


def test_rules_on_the_followup_still_apply_without_a_record(nodes: tuple[Node, Node]) -> None:
    _, b = nodes
    b.write({"alice": {"rules": [{"id": 1, "action": "suppress", "types": ["RECOVERY"]}]}})
    assert b.notify(type="RECOVERY", state="OK", extra=recovery_of("CRITICAL")).returncode == 0
    assert b.last_reason() == (
        "no record on this node: problem decided as CRITICAL: notify (no rule matched; default notify); "
        "rule 1 matched"
    )
    b.write(
        {"alice": {"rules": [{"id": 2, "action": "notify", "types": ["RECOVERY"]}], "default": "suppress"}}
    )
    assert b.notify(type="RECOVERY", state="OK", extra=recovery_of("CRITICAL")).returncode == 0
    assert b.last_reason() == (
        "no record on this node: problem decided as CRITICAL: suppress (no rule matched; default suppress); "
        "rule 2 matched; but its problem would not have been sent"
    )


def test_a_problem_held_back_here_is_remembered(node: Node) -> None:
    """The held-back marker: the rules changed since (now: send everything), the recovery still follows."""
    node.write(SUPPRESS_WARNINGS)
    assert node.notify(type="PROBLEM", state="WARNING", extra=("--problem-id", "100")).returncode == 0
    # Sends every PROBLEM now, yet can suppress (downtime notices): its follow-ups are still gated.
    node.write({"alice": {"rules": [{"action": "suppress", "types": ["DOWNTIMESTART"]}]}})
    assert node.notify(type="ACKNOWLEDGEMENT", state="WARNING", extra=("--problem-id", "100")).returncode == 0
    assert node.last_reason() == "its problem was not sent to this contact"
    assert node.notify(type="RECOVERY", state="OK", extra=recovery_of("WARNING", "100")).returncode == 0
    assert node.last_reason() == "its problem was not sent to this contact"
    assert node.sent_lines() == []


def test_a_problem_sent_in_a_worse_state_keeps_its_record(node: Node) -> None:
    """CRITICAL (sent) then WARNING (held back), one problem: the contact knows it began, so hears it end."""
    node.write(SUPPRESS_WARNINGS)
    problem = ("--problem-id", "100")
    assert node.notify(type="PROBLEM", state="CRITICAL", extra=problem).returncode == 3
    assert node.notify(type="PROBLEM", state="WARNING", extra=problem).returncode == 0
    assert node.notify(type="RECOVERY", state="OK", extra=recovery_of("WARNING", "100")).returncode == 3
    assert node.last_reason() == "its problem was sent to this contact"


def test_a_recovery_without_its_problem_state_is_held_back(node: Node) -> None:
    """A command line from before --last-state (hand-written, or not yet re-rendered): as before."""
    node.write(SUPPRESS_WARNINGS)
    assert node.notify(type="RECOVERY", state="OK").returncode == 0
    assert node.last_reason() == "its problem was not sent to this contact"
    assert node.notify(type="RECOVERY", state="OK", extra=("--last-state", "OK")).returncode == 0


def test_records_from_before_held_back_problems_keep_their_meaning(node: Node) -> None:
    """In an older file no record meant "held back" too: that cannot turn into "never seen here"."""
    node.write(SUPPRESS_WARNINGS)
    write_sent_only_records(node, {"email\0web1\0SSH": ("5", time.time())})
    assert node.notify(type="RECOVERY", state="OK", extra=recovery_of("CRITICAL", "100")).returncode == 0
    assert node.last_reason() == "its problem was not sent to this contact"
    assert (
        node.notify(type="RECOVERY", state="OK", service="SSH", extra=recovery_of("CRITICAL", "5")).returncode
        == 3
    )
    assert node.last_reason() == "its problem was sent to this contact"
    # The first write turns the file into the new form: from then on every problem is recorded.
    assert node.notify(type="PROBLEM", state="WARNING", service="DB").returncode == 0
    assert node.notify(type="RECOVERY", state="OK", extra=recovery_of("CRITICAL", "100")).returncode == 3
    assert node.last_reason().startswith("no record on this node: problem decided as CRITICAL: notify")


RULE = st.fixed_dictionaries(
    {"action": st.sampled_from(["notify", "suppress"])},
    optional={
        "states": st.lists(
            st.sampled_from(["WARNING", "CRITICAL", "UNKNOWN", "OK"]), max_size=3, unique=True
        ),
        "types": st.lists(
            st.sampled_from(["PROBLEM", "RECOVERY", "ACKNOWLEDGEMENT"]), max_size=2, unique=True
        ),
        "channels": st.lists(st.sampled_from(["email", "sms"]), max_size=1, unique=True),
        "services": st.lists(st.sampled_from(["HTTP", "SSH", "*"]), max_size=2, unique=True),
        "hostgroups": st.lists(st.sampled_from(["web", "db"]), max_size=1, unique=True),
    },
)


# Files and four filter runs per example: no time limit on a busy machine.
@settings(deadline=None)
@given(
    rules=st.lists(RULE, max_size=4),
    default=st.sampled_from(["notify", "suppress"]),
    channel=st.sampled_from(["email", "sms"]),
    state=st.sampled_from(["WARNING", "CRITICAL", "UNKNOWN"]),
    followup=st.sampled_from(["RECOVERY", "ACKNOWLEDGEMENT"]),
)
def test_a_moved_followup_is_decided_as_on_the_node_of_its_problem(
    rules: list[dict[str, object]], default: str, channel: str, state: str, followup: str
) -> None:
    """PROBLEM on A then its follow-up on B (no record) == PROBLEM and follow-up on one node."""
    with tempfile.TemporaryDirectory() as root:
        snapshot.write_snapshot(Path(root) / "snapshot", {"alice": {"rules": rules, "default": default}})
        for name in ("one", "a", "b"):
            os.mkdir(os.path.join(root, name))

        def run(node: str, type: str, notification_state: str, extra: tuple[str, ...]) -> int:
            argv = ["--contact", "alice", "--channel", channel, "--type", type, "--host", "web1"]
            argv += ["--hostgroups", "web,linux", "--service", "HTTP", "--servicegroups", "http"]
            argv += ["--state", notification_state, "--id", "1", *extra]
            argv += [
                "--snapshot-dir",
                os.path.join(root, "snapshot"),
                "--state-dir",
                os.path.join(root, node),
            ]
            argv += ["--log", os.path.join(root, "decisions.log")]
            return notify_filter.main(argv)

        if followup == "RECOVERY":
            end: tuple[str, str, tuple[str, ...]] = ("RECOVERY", "OK", recovery_of(state, "100"))
        else:
            end = ("ACKNOWLEDGEMENT", state, ("--problem-id", "100"))
        assert run("one", "PROBLEM", state, ("--problem-id", "100")) == run(
            "a", "PROBLEM", state, ("--problem-id", "100")
        )
        # B numbers problems on its own: its id of the same problem is another.
        moved = end if followup == "RECOVERY" else (*end[:2], ("--problem-id", "7"))
        assert run("b", *moved) == run("one", *end)


# --- the cluster gate: every holder runs the notification, only the notifier lets it out ---------


def cluster_of(node: str, *, masters: str = "a", p1: str = "p1") -> snapshot.ClusterPart:
    """Masters a and b, poller p1 owning host group web; who notifies the masters' share and p1's."""
    return snapshot.cluster_part(node, ["a", "b", "p1"], {"web": "p1"}, {"": masters, "p1": p1})


LINUX_ONLY = ("--hostgroups", "linux")  # in no poller's host group: the masters' share


def test_another_nodes_object_is_held_back_before_any_rule(node: Node) -> None:
    node.write({"alice": {"rules": [{"id": 1, "action": "notify"}]}}, cluster=cluster_of("a"))
    # web1 is in web, p1's: p1 notifies it, whatever a's rules say.
    assert node.notify(state="CRITICAL").returncode == 0
    assert node.sent_lines() == []
    [decision] = node.decisions()
    assert (decision["decision"], decision["rule"]) == ("suppress", None)
    assert decision["reason"] == "not the notifier here: p1 notifies web1/HTTP"
    assert node.notify(state="DOWN", service="", gate=True).returncode == notify_filter.SUPPRESS_STATUS
    assert node.last_reason() == "not the notifier here: p1 notifies web1"


def test_the_notifier_applies_the_rules(node: Node) -> None:
    node.write(SUPPRESS_WARNINGS, cluster=cluster_of("a"))
    assert node.notify(state="CRITICAL", extra=LINUX_ONLY).returncode == 3
    assert node.last_reason() == "no rule matched; default notify"
    assert node.notify(state="WARNING", extra=LINUX_ONLY).returncode == 0
    assert node.last_reason() == "rule 7 matched"
    # A poller with notifies off: the active master notifies its objects too.
    node.write(SUPPRESS_WARNINGS, cluster=cluster_of("a", p1="a"))
    assert node.notify(state="CRITICAL").returncode == 3
    assert len(node.sent_lines()) == 2


def test_a_service_on_the_masters_groups_is_the_masters_even_on_a_pollers_host(node: Node) -> None:
    """--share "*" (the service's _PORTAL_SHARE): the master checks it, so the master notifies it.

    web1 is in web (p1's), but a service defined on linux (the masters') is not on p1 at all:
    read from the host groups, the gate would name p1 and nobody would send it.
    """
    node.write(SUPPRESS_WARNINGS, cluster=cluster_of("a"))
    assert node.notify(state="CRITICAL", extra=("--share", "*")).returncode == 3
    assert node.last_reason() == "no rule matched; default notify"
    # No such custom variable on the service: the core leaves the macro, the gate reads the groups.
    assert node.notify(state="CRITICAL", extra=("--share", "$")).returncode == 0
    assert node.last_reason() == "not the notifier here: p1 notifies web1/HTTP"


def test_the_share_is_the_first_owning_poller_by_name(node: Node) -> None:
    """As registry.cluster.Topology.owner: a host in two pollers' groups is the first one's."""
    owners = {"web": "p2", "linux": "p1"}
    part = snapshot.cluster_part("p1", ["a", "p1", "p2"], owners, {"": "a", "p1": "p1", "p2": "p2"})
    node.write(SUPPRESS_WARNINGS, cluster=part)
    assert node.notify(state="CRITICAL").returncode == 3  # web,linux: p1's
    assert node.notify(state="CRITICAL", extra=("--hostgroups", "web")).returncode == 0
    assert node.last_reason() == "not the notifier here: p2 notifies web1/HTTP"


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("none", "no cluster part in the snapshot"),
        ("corrupt", "corrupt snapshot file"),
        ("not-listed", "x is not in the snapshot's cluster part"),
        ("nobody", "nobody notifies web1/HTTP"),
    ],
)
def test_a_gate_that_cannot_tell_lets_the_notification_out(node: Node, damage: str, reason: str) -> None:
    """A doubled notification beats a lost one: the history says why this node sent."""
    cluster = {
        "none": None,
        "corrupt": cluster_of("a"),
        "not-listed": snapshot.cluster_part("x", ["a", "b"], {"web": "p1"}, {"": "a", "p1": "p1"}),
        "nobody": snapshot.cluster_part("a", ["a", "b"], {"web": "p1"}, {"": None, "p1": None}),
    }[damage]
    node.write(SUPPRESS_WARNINGS, cluster=cluster)
    if damage == "corrupt":
        path = node.snapshot_dir / "current" / snapshot.CLUSTER
        path.write_bytes(path.read_bytes()[:-1])
    assert node.notify(state="CRITICAL").returncode == 3
    assert len(node.sent_lines()) == 1
    expected = f"no rule matched; default notify; cluster gate fails open, this node notifies: {reason}"
    assert node.last_reason().startswith(expected)


def test_a_stale_snapshot_keeps_its_cluster_part(node: Node) -> None:
    """The portal being out of touch moves no share; every holder sending would double everything."""
    node.write(SUPPRESS_WARNINGS, generated_at=time.time() - 7200, cluster=cluster_of("a"))
    assert node.notify(state="CRITICAL").returncode == 0
    assert node.last_reason() == "not the notifier here: p1 notifies web1/HTTP"
    assert node.notify(state="WARNING", extra=LINUX_ONLY).returncode == 3  # its rules fail open
    assert node.last_reason().startswith("fail open: snapshot stale")


def gate_only_argv(node: Node, *, service: str = "HTTP") -> list[str]:
    """What a notification command without a channel runs (registry.render.gate_only_command_lines)."""
    return [
        *(sys.executable, "-m", "preferences.notify_filter", "--gate-only", "--contact", "alice"),
        *("--type", "PROBLEM", "--host", "web1", "--hostgroups", "web,linux", "--service", service),
        *(
            "--state",
            "CRITICAL",
            "--id",
            "42",
            "--snapshot-dir",
            str(node.snapshot_dir),
            "--log",
            str(node.log),
        ),
    ]


def test_gate_only_lets_out_the_notifiers_notifications_and_applies_no_rule(node: Node) -> None:
    assert node.run(gate_only_argv(node)).returncode == 0  # no snapshot: fail open
    assert node.last_reason().startswith("cluster gate fails open, this node notifies: no snapshot in")
    everything_off: dict[str, dict[str, object]] = {"alice": {"rules": [{"id": 1, "action": "suppress"}]}}
    node.write(everything_off, cluster=cluster_of("p1"))
    assert node.run(gate_only_argv(node)).returncode == 0
    [*_, decision] = node.decisions()
    assert (decision["decision"], decision["rule"], decision["channel"]) == ("notify", None, "")
    assert decision["reason"] == "this node (p1) notifies web1/HTTP"
    node.write(everything_off, cluster=cluster_of("a"))
    assert node.run(gate_only_argv(node, service="")).returncode == notify_filter.SUPPRESS_STATUS
    assert node.last_reason() == "not the notifier here: p1 notifies web1"
    assert list(node.state_dir.iterdir()) == [], "the gate-only form keeps no records"


def test_a_recovery_follows_its_problem_when_the_notifier_moves(nodes: tuple[Node, Node]) -> None:
    """a notifies the masters' share; b holds a copy and runs its notifications too; then a fails.

    Each core has its own problem ids. One PROBLEM and one RECOVERY reach the contact.
    """
    a, b = nodes
    a.write(SUPPRESS_WARNINGS, cluster=cluster_of("a"))
    b.write(SUPPRESS_WARNINGS, cluster=cluster_of("b"))
    assert a.notify(state="CRITICAL", extra=(*LINUX_ONLY, "--problem-id", "100")).returncode == 3
    assert b.notify(state="CRITICAL", extra=(*LINUX_ONLY, "--problem-id", "200")).returncode == 0
    assert b.last_reason() == "not the notifier here: a notifies web1/HTTP"
    # The failover: b is the active master now (the portal publishes both snapshots).
    a.write(SUPPRESS_WARNINGS, cluster=cluster_of("a", masters="b"))
    b.write(SUPPRESS_WARNINGS, cluster=cluster_of("b", masters="b"))
    assert (
        b.notify(type="RECOVERY", state="OK", extra=(*LINUX_ONLY, *recovery_of("CRITICAL", "200"))).returncode
        == 3
    )
    assert b.last_reason() == (
        "no record on this node: problem decided as CRITICAL: notify (no rule matched; default notify)"
    )
    assert (
        a.notify(type="RECOVERY", state="OK", extra=(*LINUX_ONLY, *recovery_of("CRITICAL", "100"))).returncode
        == 0
    )
    assert a.last_reason() == "not the notifier here: b notifies web1/HTTP"
    assert notify_filter.SentProblems(str(a.state_dir), "alice", 30).read() == {}, (
        "the problem is over on a too"
    )
    assert len(a.sent_lines()) == len(b.sent_lines()) == 1


def test_a_problem_seen_elsewhere_replaces_one_held_back_here(nodes: tuple[Node, Node]) -> None:
    """b held the WARNING back as notifier; a sent the CRITICAL after a move; b is back: the contact hears the end."""
    a, b = nodes
    b.write(SUPPRESS_WARNINGS, cluster=cluster_of("b", masters="b"))
    problem_b = (*LINUX_ONLY, "--problem-id", "200")
    assert b.notify(state="WARNING", extra=problem_b).returncode == 0
    assert b.last_reason() == "rule 7 matched"
    a.write(SUPPRESS_WARNINGS, cluster=cluster_of("a", masters="a"))
    b.write(SUPPRESS_WARNINGS, cluster=cluster_of("b", masters="a"))
    assert a.notify(state="CRITICAL", extra=(*LINUX_ONLY, "--problem-id", "100")).returncode == 3
    assert b.notify(state="CRITICAL", extra=problem_b).returncode == 0
    [(_, _, sent)] = notify_filter.SentProblems(str(b.state_dir), "alice", 30).read().values()
    assert sent is None, "seen while a notified: not decided here"
    b.write(SUPPRESS_WARNINGS, cluster=cluster_of("b", masters="b"))
    assert (
        b.notify(type="RECOVERY", state="OK", extra=(*LINUX_ONLY, *recovery_of("CRITICAL", "200"))).returncode
        == 3
    )
    assert b.last_reason().startswith("no record on this node: problem decided as CRITICAL: notify")
