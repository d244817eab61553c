"""The notify-filter as Naemon runs it: a separate process per contact and notification."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from preferences import notify_filter, snapshot

REPO = Path(__file__).resolve().parents[2]
LOG_FIELDS = {
    "time",
    "contact",
    "channel",
    "type",
    "host",
    "service",
    "state",
    "id",
    "decision",
    "rule",
    "reason",
    "duration_ms",
}


class Node:
    """A Naemon node's notify directories and a real command that records its calls."""

    def __init__(self, root: Path) -> None:
        self.snapshot_dir = root / "snapshot"
        self.state_dir = root / "sent"
        self.state_dir.mkdir()
        self.log = root / "decisions.log"
        self.sent = root / "sent.txt"
        self.command = root / "send-notification"
        # Prints its pid: equal to the filter's pid only if the filter exec'd it.
        self.command.write_text(f'#!/bin/sh\necho "$$ $*" >> "{self.sent}"\nexit 3\n')
        self.command.chmod(0o755)

    def write(
        self,
        contacts: dict[str, dict[str, object]],
        generated_at: float | None = None,
        cluster: snapshot.ClusterPart | str | None = "alone",
    ) -> None:
        """Publish ``contacts``; by default as the portal does for a node alone (it notifies everything)."""
        if cluster == "alone":
            cluster = snapshot.cluster_part("n1", ["n1"], {}, {"": "n1"})
        assert not isinstance(cluster, str)
        snapshot.write_snapshot(self.snapshot_dir, contacts, cluster=cluster, generated_at=generated_at)

    def argv(
        self,
        *,
        contact: str = "alice",
        channel: str = "email",
        type: str = "PROBLEM",
        host: str = "web1",
        service: str = "HTTP",
        state: str = "CRITICAL",
        extra: tuple[str, ...] = (),
        gate: bool = False,
        node_options: bool = True,
    ) -> list[str]:
        argv = [
            sys.executable,
            "-m",
            "preferences.notify_filter",
            "--contact",
            contact,
            "--channel",
            channel,
            "--type",
            type,
            "--host",
            host,
            "--hostgroups",
            "web,linux",
            "--service",
            service,
            "--servicegroups",
            "http" if service else "",
            "--state",
            state,
            "--id",
            "42",
            *extra,
        ]
        if node_options:
            argv += [
                "--snapshot-dir",
                str(self.snapshot_dir),
                "--state-dir",
                str(self.state_dir),
                "--log",
                str(self.log),
            ]
        if not gate:
            argv += ["--", str(self.command), "--to", "alice@example.org", "it's down"]
        return argv

    def run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=60)

    def notify(self, **kwargs: object) -> subprocess.CompletedProcess[str]:
        return self.run(self.argv(**kwargs))  # type: ignore[arg-type]

    def sent_lines(self) -> list[str]:
        return self.sent.read_text().splitlines() if self.sent.exists() else []

    def decisions(self) -> list[dict[str, object]]:
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        return [json.loads(line) for line in lines]

    def last_reason(self) -> str:
        return str(self.decisions()[-1]["reason"])


@pytest.fixture
def node(tmp_path: Path) -> Node:
    return Node(tmp_path)


SUPPRESS_WARNINGS: dict[str, dict[str, object]] = {
    "alice": {"rules": [{"id": 7, "action": "suppress", "states": ["WARNING"]}]},
}


def test_notify_execs_the_real_command(node: Node) -> None:
    node.write(SUPPRESS_WARNINGS)
    process = subprocess.Popen(node.argv(state="CRITICAL"), cwd=REPO)
    assert process.wait(timeout=60) == 3, "the real command's exit status is the filter's"
    [line] = node.sent_lines()
    assert line == f"{process.pid} --to alice@example.org it's down", "same process: exec"
    [decision] = node.decisions()
    assert decision["decision"] == "notify"
    assert decision["rule"] is None
    assert decision["reason"] == "no rule matched; default notify"


def test_suppress_runs_nothing(node: Node) -> None:
    node.write(SUPPRESS_WARNINGS)
    result = node.notify(state="WARNING")
    assert result.returncode == 0
    assert node.sent_lines() == []
    [decision] = node.decisions()
    assert (decision["decision"], decision["rule"], decision["reason"]) == (
        "suppress",
        7,
        "rule 7 matched",
    )


def test_gate_form_exit_status(node: Node) -> None:
    """Suppress is one distinctive status: neither the shell's (126, 127, 128+n) nor Python's (1, 2)."""
    node.write(SUPPRESS_WARNINGS)
    assert node.notify(state="CRITICAL", gate=True).returncode == 0
    assert node.notify(state="WARNING", gate=True).returncode == notify_filter.SUPPRESS_STATUS == 86
    assert node.sent_lines() == []


def test_log_lines_are_json_with_every_field(node: Node) -> None:
    node.write(SUPPRESS_WARNINGS)
    node.notify(state="WARNING", host='we"b\n1\\', service="Disk /var \u2013 ünïcode\t")
    [decision] = node.decisions()
    assert set(decision) == LOG_FIELDS
    assert decision["host"] == 'we"b\n1\\'
    assert decision["service"] == "Disk /var \u2013 ünïcode\t"
    assert decision["contact"] == "alice"
    assert decision["id"] == "42"
    assert isinstance(decision["duration_ms"], float)
    assert str(decision["time"]).endswith("Z")


def test_undecodable_bytes_in_arguments_are_logged(node: Node) -> None:
    node.write(SUPPRESS_WARNINGS)
    argv = [os.fsencode(arg) for arg in node.argv(gate=True)]
    argv[argv.index(b"--host") + 1] = b"caf\xe9"  # Latin-1 host name from an old config
    result = subprocess.run(argv, cwd=REPO, capture_output=True, timeout=60)
    assert result.returncode == 0
    [decision] = node.decisions()
    assert decision["host"] == "caf\udce9"


# --- fail open ---------------------------------------------------------------


def test_missing_snapshot_sends(node: Node) -> None:
    result = node.notify(state="WARNING")
    assert result.returncode == 3
    assert len(node.sent_lines()) == 1
    assert node.last_reason().startswith("fail open: no snapshot")


def test_corrupt_snapshot_sends(node: Node) -> None:
    node.write(SUPPRESS_WARNINGS)
    path = node.snapshot_dir / "current" / "contacts" / snapshot.contact_filename("alice")
    path.write_bytes(path.read_bytes()[:-1])
    assert node.notify(state="WARNING").returncode == 3
    assert node.last_reason().startswith("fail open: corrupt snapshot file")


def test_unknown_contact_sends(node: Node) -> None:
    node.write(SUPPRESS_WARNINGS)
    assert node.notify(contact="mallory", state="WARNING").returncode == 3
    [decision] = node.decisions()
    assert (decision["decision"], decision["reason"]) == ("notify", "unknown contact")


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param(("--colour", "red"), id="unknown-option"),
        pytest.param(("--max-age", "soon"), id="bad-number"),
        pytest.param(("--lock-timeout", "nan"), id="endless-wait"),
        pytest.param(("--log",), id="missing-value"),
    ],
)
def test_bad_arguments_send(node: Node, extra: tuple[str, ...]) -> None:
    node.write(SUPPRESS_WARNINGS)
    argv = node.argv(state="WARNING")
    dashdash = argv.index("--")
    argv[dashdash:dashdash] = list(extra)
    assert node.run(argv).returncode == 3
    assert len(node.sent_lines()) == 1
    assert node.last_reason().startswith("fail open: bad arguments")


def test_missing_required_argument_sends_and_gate_says_notify(node: Node) -> None:
    node.write(SUPPRESS_WARNINGS)
    argv = node.argv(state="WARNING", gate=True)
    del argv[argv.index("--contact") : argv.index("--contact") + 2]
    assert node.run(argv).returncode == 0
    assert node.last_reason() == "fail open: bad arguments: --contact is required"


def test_internal_error_sends(node: Node) -> None:
    """Well-framed but nonsensical compiled rules make the engine raise."""
    node.write(SUPPRESS_WARNINGS)
    path = node.snapshot_dir / "current" / "contacts" / snapshot.contact_filename("alice")
    broken = {"format": 1, "default_notify": False, "timezone": "UTC", "rules": [{"id": 1}]}
    path.write_bytes(snapshot.pack(broken, b"NPC1"))
    assert node.notify(state="WARNING").returncode == 3
    assert node.last_reason().startswith("fail open: internal error: KeyError")


def test_unwritable_log_still_decides(node: Node) -> None:
    node.write(SUPPRESS_WARNINGS)
    node.log = node.log.parent / "no" / "such" / "dir.log"
    result = node.notify(state="WARNING")
    assert result.returncode == 0
    assert "cannot write" in result.stderr
    assert '"decision": "suppress"' in result.stderr


def test_real_command_that_cannot_run(node: Node) -> None:
    node.write(SUPPRESS_WARNINGS)
    argv = node.argv()
    argv[argv.index("--") + 1] = str(node.command.parent / "missing")
    result = node.run(argv)
    assert result.returncode == 127
    first, second = node.decisions()
    assert first["decision"] == "notify"
    assert second["decision"] == "error"
    assert "cannot run" in str(second["reason"])


def test_stale_snapshot_sends(node: Node) -> None:
    """No heartbeat from the portal for over --max-age: the rules may be out of date."""
    node.write(SUPPRESS_WARNINGS, generated_at=time.time() - 7200)
    assert node.notify(state="WARNING").returncode == 3
    [decision] = node.decisions()
    assert (decision["decision"], decision["rule"]) == ("notify", None)
    assert re.fullmatch(r"fail open: snapshot stale \(72\d\d s old\)", str(decision["reason"]))
    # Nothing is held back either: its problem may have gone out under newer rules.
    assert node.notify(type="RECOVERY", state="OK").returncode == 3
    assert re.fullmatch(r"fail open: snapshot stale \(72\d\d s old\)", node.last_reason())
    # A longer --max-age, or 0 (never stale), uses it.
    assert node.notify(state="WARNING", extra=("--max-age", "7300")).returncode == 0
    assert node.last_reason() == "rule 7 matched"
    assert node.notify(state="WARNING", extra=("--max-age", "0")).returncode == 0
    assert node.last_reason() == "rule 7 matched"
    assert len(node.sent_lines()) == 2


def test_a_refreshed_snapshot_is_fresh_again(node: Node) -> None:
    node.write(SUPPRESS_WARNINGS, generated_at=time.time() - 7200)
    node.write(SUPPRESS_WARNINGS)  # the periodic refresh (heartbeat)
    assert node.notify(state="WARNING").returncode == 0
    assert node.last_reason() == "rule 7 matched"


def test_last_resort_error_is_logged(node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    """An error outside the decision (here in argument parsing) still leaves a decision line."""

    def broken(argv: object) -> notify_filter.Arguments:
        raise RuntimeError("parser bug")

    node.write(SUPPRESS_WARNINGS)
    monkeypatch.setattr(notify_filter, "parse_arguments", broken)
    argv = node.argv(state="WARNING", gate=True)[3:]
    assert notify_filter.main(argv) == 0
    [decision] = node.decisions()
    assert set(decision) == LOG_FIELDS
    assert (decision["contact"], decision["host"], decision["state"]) == ("alice", "web1", "WARNING")
    assert (decision["decision"], decision["rule"]) == ("notify", None)
    assert decision["reason"] == "fail open: internal error: RuntimeError: parser bug"
    # Nowhere to log: still no exception.
    argv[argv.index("--log") + 1] = str(node.log.parent / "no" / "such" / "dir.log")
    assert notify_filter.main(argv) == 0


def test_last_resort_error_execs_the_real_command(node: Node) -> None:
    """The whole process: a decision that cannot even be recorded sends, and says so."""
    node.write(SUPPRESS_WARNINGS)
    script = (
        "import sys\n"
        "from preferences import notify_filter\n"
        "def broken(argv): raise RuntimeError('parser bug')\n"
        "notify_filter.parse_arguments = broken\n"
        "raise SystemExit(notify_filter.main())\n"
    )
    result = node.run([sys.executable, "-c", script, *node.argv(state="WARNING")[3:]])
    assert result.returncode == 3
    assert len(node.sent_lines()) == 1
    assert "internal error, sending: RuntimeError: parser bug" in result.stderr
    assert node.last_reason() == "fail open: internal error: RuntimeError: parser bug"


# --- RECOVERY and ACKNOWLEDGEMENT follow the PROBLEM -----------------------


def test_recovery_only_after_a_sent_problem(node: Node) -> None:
    node.write(SUPPRESS_WARNINGS)
    # A suppressed WARNING problem: its recovery is suppressed too.
    assert node.notify(type="PROBLEM", state="WARNING").returncode == 0
    assert node.notify(type="RECOVERY", state="OK").returncode == 0
    assert node.last_reason() == "its problem was not sent to this contact"
    assert node.sent_lines() == []
    # A sent CRITICAL problem: acknowledgement and recovery follow.
    assert node.notify(type="PROBLEM", state="CRITICAL").returncode == 3
    assert node.notify(type="ACKNOWLEDGEMENT", state="CRITICAL").returncode == 3
    assert node.notify(type="ACKNOWLEDGEMENT", state="CRITICAL").returncode == 3, "not cleared"
    assert node.notify(type="RECOVERY", state="OK").returncode == 3
    # The recovery cleared the record.
    assert node.notify(type="RECOVERY", state="OK").returncode == 0
    assert notify_filter.SentProblems(str(node.state_dir), "alice", max_days=30).read() == {}
    assert len(node.sent_lines()) == 4


def test_recovery_follows_a_problem_that_a_state_rule_sent(node: Node) -> None:
    """'Only CRITICAL on web' brings the recoveries of those problems, not others'."""
    node.write(
        {
            "alice": {
                "rules": [{"id": 1, "action": "notify", "hostgroups": ["web"], "states": ["CRITICAL"]}],
                "default": "suppress",
            }
        }
    )
    web = ("--hostgroups", "web")
    assert node.notify(type="PROBLEM", state="CRITICAL", extra=web).returncode == 3
    assert (
        node.notify(type="PROBLEM", state="CRITICAL", service="DB", extra=("--hostgroups", "db")).returncode
        == 0
    )
    assert node.notify(type="RECOVERY", state="OK", extra=web).returncode == 3
    assert node.last_reason() == "its problem was sent to this contact"
    assert (
        node.notify(type="RECOVERY", state="OK", service="DB", extra=("--hostgroups", "db")).returncode == 0
    )
    assert node.last_reason() == "its problem was not sent to this contact"


def test_a_recovery_rule_cannot_send_the_end_of_an_unsent_problem(node: Node) -> None:
    node.write(
        {"alice": {"rules": [{"id": 4, "action": "notify", "types": ["RECOVERY"]}], "default": "suppress"}}
    )
    assert node.notify(type="PROBLEM", state="CRITICAL").returncode == 0
    assert node.notify(type="RECOVERY", state="OK").returncode == 0
    assert node.last_reason() == "rule 4 matched; but its problem was not sent to this contact"


def test_records_are_per_contact_host_and_service(node: Node) -> None:
    node.write({**SUPPRESS_WARNINGS, "bob": SUPPRESS_WARNINGS["alice"]})
    node.notify(type="PROBLEM", state="CRITICAL")  # alice, web1/HTTP
    assert node.notify(type="RECOVERY", state="OK", contact="bob").returncode == 0
    assert node.notify(type="RECOVERY", state="OK", host="web2").returncode == 0
    assert node.notify(type="RECOVERY", state="OK", service="SSH").returncode == 0
    assert node.notify(type="RECOVERY", state="UP", service="").returncode == 0, "host"
    assert node.notify(type="RECOVERY", state="OK").returncode == 3


def test_each_channel_gets_the_recovery_of_the_problem_it_was_sent(node: Node) -> None:
    """Email and sms both got the PROBLEM: the email RECOVERY must not take the sms one's record."""
    node.write(SUPPRESS_WARNINGS)
    for channel in ("email", "sms"):
        assert node.notify(channel=channel, type="PROBLEM", state="CRITICAL").returncode == 3
    for channel in ("email", "sms"):
        assert node.notify(channel=channel, type="ACKNOWLEDGEMENT", state="CRITICAL").returncode == 3
    for channel in ("email", "sms"):
        assert node.notify(channel=channel, type="RECOVERY", state="OK").returncode == 3, channel
        assert node.last_reason() == "its problem was sent to this contact"
    assert len(node.sent_lines()) == 6
    # Both records consumed.
    for channel in ("email", "sms"):
        assert node.notify(channel=channel, type="RECOVERY", state="OK").returncode == 0


def test_a_channel_that_was_not_sent_the_problem_gets_no_recovery(node: Node) -> None:
    node.write(
        {"alice": {"rules": [{"id": 2, "action": "suppress", "channels": ["sms"], "types": ["PROBLEM"]}]}}
    )
    assert node.notify(channel="email", type="PROBLEM", state="CRITICAL").returncode == 3
    assert node.notify(channel="sms", type="PROBLEM", state="CRITICAL").returncode == 0
    assert node.notify(channel="sms", type="RECOVERY", state="OK").returncode == 0
    assert node.last_reason() == "its problem was not sent to this contact"
    assert node.notify(channel="email", type="RECOVERY", state="OK").returncode == 3


def write_sent_only_records(node: Node, records: dict[str, tuple[str | None, float]]) -> None:
    """A record file as filters before held-back problems were recorded wrote it."""
    path = node.state_dir / (snapshot.contact_filename("alice") + ".sent")
    path.write_bytes(snapshot.pack(records, b"NPS1"))


def test_records_from_before_channels_count_for_every_channel(node: Node) -> None:
    """A record keyed host\\0service (older filters) is sent for any channel and not consumed."""
    node.write(SUPPRESS_WARNINGS)
    store = notify_filter.SentProblems(str(node.state_dir), "alice", max_days=30)
    write_sent_only_records(node, {"web1\0HTTP": ("100", time.time()), "web1\0SSH": (None, time.time())})
    ids = ("--problem-id", "0", "--last-problem-id", "100")
    assert node.notify(channel="email", type="RECOVERY", state="OK", extra=ids).returncode == 3
    assert node.notify(channel="sms", type="RECOVERY", state="OK", extra=ids).returncode == 3
    assert node.last_reason() == "its problem was sent to this contact"
    other = ("--problem-id", "0", "--last-problem-id", "101")
    assert node.notify(channel="sms", type="RECOVERY", state="OK", extra=other).returncode == 0, (
        "another problem"
    )
    assert node.notify(channel="sms", type="ACKNOWLEDGEMENT", state="CRITICAL", service="SSH").returncode == 3
    # The object's next recorded PROBLEM replaces the old record by per-channel ones.
    assert node.notify(channel="email", type="PROBLEM", state="CRITICAL", service="SSH").returncode == 3
    assert set(store.read()) == {"web1\0HTTP", "email\0web1\0SSH"}
    assert node.notify(channel="sms", type="RECOVERY", state="OK", service="SSH").returncode == 0
    # A suppressed new problem (another id) makes the old record stale too: its own record replaces it.
    assert node.notify(type="PROBLEM", state="WARNING", extra=("--problem-id", "102")).returncode == 0
    assert set(store.read()) == {"email\0web1\0SSH", "email\0web1\0HTTP"}
    assert store.read()["email\0web1\0HTTP"][::2] == ("102", False)


def test_host_problems_are_remembered(node: Node) -> None:
    node.write({"alice": {"rules": [{"action": "suppress", "states": ["UNREACHABLE"]}]}})
    node.notify(type="PROBLEM", state="UNREACHABLE", service="")
    assert node.notify(type="RECOVERY", state="UP", service="").returncode == 0
    node.notify(type="PROBLEM", state="DOWN", service="")
    assert node.notify(type="RECOVERY", state="UP", service="").returncode == 3


def test_problem_ids_tell_problems_apart(node: Node) -> None:
    node.write(SUPPRESS_WARNINGS)

    def notify(type: str, state: str, problem: str, last: str = "0") -> int:
        extra = ("--problem-id", problem, "--last-problem-id", last)
        return node.notify(type=type, state=state, extra=extra).returncode

    assert notify("PROBLEM", "CRITICAL", "100") == 3
    assert notify("ACKNOWLEDGEMENT", "CRITICAL", "100") == 3
    assert notify("RECOVERY", "OK", "0", last="100") == 3, "Naemon: id 0, last id 100"
    # Problem 101 was sent but its recovery never reached the filter (e.g. the
    # contact does not get recoveries); problem 102 is suppressed: a new problem,
    # so the stale record of 101 must not let 102's recovery through.
    assert notify("PROBLEM", "CRITICAL", "101") == 3
    assert notify("PROBLEM", "WARNING", "102") == 0
    assert notify("RECOVERY", "OK", "0", last="102") == 0
    # An acknowledgement of another problem than the one recorded: this node did not see that
    # problem's PROBLEM, so it is decided as that PROBLEM would be (WARNING: held back).
    assert notify("PROBLEM", "CRITICAL", "103") == 3
    assert notify("ACKNOWLEDGEMENT", "WARNING", "104") == 0
    assert (
        node.last_reason() == "no record on this node: problem decided as WARNING: suppress (rule 7 matched)"
    )


def test_contact_who_never_suppresses_gets_every_recovery(node: Node) -> None:
    """Naemon's own behaviour, even for problems from before the filter was installed."""
    node.write({"alice": {"rules": [{"action": "notify", "states": ["CRITICAL"]}]}})
    assert node.notify(type="RECOVERY", state="OK").returncode == 3


def test_unknown_contact_gets_every_recovery(node: Node) -> None:
    node.write({})
    assert node.notify(type="RECOVERY", state="OK").returncode == 3


def test_a_rule_may_suppress_recoveries_and_the_record_is_cleared(node: Node) -> None:
    node.write({"alice": {"rules": [{"id": 1, "action": "suppress", "types": ["RECOVERY"]}]}})
    node.notify(type="PROBLEM", state="CRITICAL")
    assert node.notify(type="RECOVERY", state="OK").returncode == 0
    assert node.last_reason() == "rule 1 matched"
    assert notify_filter.SentProblems(str(node.state_dir), "alice", max_days=30).read() == {}, "cleared"


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"garbage", id="garbage"),
        pytest.param(snapshot.pack({"web1\0HTTP": 5}, b"NPS1"), id="wrong-structure"),
    ],
)
def test_unreadable_record_fails_open(node: Node, content: bytes) -> None:
    node.write(SUPPRESS_WARNINGS)
    node.notify(type="PROBLEM", state="CRITICAL")
    record = node.state_dir / (snapshot.contact_filename("alice") + ".sent")
    record.write_bytes(content)
    assert node.notify(type="RECOVERY", state="OK").returncode == 3
    assert "fail open: sent-problem record unreadable" in node.last_reason()
    # The next sent problem starts a fresh record.
    node.notify(type="PROBLEM", state="CRITICAL")
    assert node.notify(type="ACKNOWLEDGEMENT", state="CRITICAL").returncode == 3


def test_missing_state_directory_fails_open(node: Node) -> None:
    node.write(SUPPRESS_WARNINGS)
    node.state_dir.rmdir()
    assert node.notify(type="RECOVERY", state="OK").returncode == 3
    assert "fail open: sent-problem record unreadable" in node.last_reason()


def test_old_records_are_pruned(node: Node) -> None:
    node.write(SUPPRESS_WARNINGS)
    node.notify(type="PROBLEM", state="CRITICAL", service="old")
    store = notify_filter.SentProblems(str(node.state_dir), "alice", max_days=30)
    records = store.read()
    key = "email\0web1\0old"
    records[key] = (None, time.time() - 31 * 86400, True)
    store._write({**records, "keep\0me": (None, time.time(), True)})
    assert set(store.read()) == {"keep\0me"}
    assert node.notify(type="RECOVERY", state="OK", service="old").returncode == 0


def test_concurrent_filters_lose_no_record_and_no_log_line(node: Node) -> None:
    node.write(SUPPRESS_WARNINGS)
    services = [f"svc{i}" for i in range(20)]

    def run_all(type: str, state: str) -> list[int]:
        processes = [
            subprocess.Popen(node.argv(type=type, state=state, service=s), cwd=REPO) for s in services
        ]
        return [p.wait(timeout=120) for p in processes]

    assert run_all("PROBLEM", "CRITICAL") == [3] * 20
    store = notify_filter.SentProblems(str(node.state_dir), "alice", max_days=30)
    assert set(store.read()) == {f"email\0web1\0{s}" for s in services}
    assert run_all("RECOVERY", "OK") == [3] * 20
    assert store.read() == {}
    assert len(node.sent_lines()) == 40
    decisions = node.decisions()  # every line parses
    assert len(decisions) == 40
    assert all(set(d) == LOG_FIELDS for d in decisions)


# --- a lock held by someone else ----------------------------------------------------

HOLD_LOCK = textwrap.dedent(
    """
    import fcntl, os, sys

    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o640)
    fcntl.flock(fd, fcntl.LOCK_EX)
    print("locked", flush=True)
    sys.stdin.read()  # until the test closes our stdin
    """
)


def hold_lock(node: Node, contact: str = "alice") -> subprocess.Popen[str]:
    """Another process holding the contact's state lock (a hung filter, someone's flock(1))."""
    path = node.state_dir / (snapshot.contact_filename(contact) + ".lock")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
    return holder


def release(holder: subprocess.Popen[str]) -> None:
    assert holder.stdin is not None
    holder.stdin.close()
    holder.wait(timeout=60)


def test_a_held_lock_does_not_hold_the_notification(node: Node) -> None:
    """The filter waits a bounded time, well under Naemon's notification_timeout (30 s), then sends."""
    node.write(SUPPRESS_WARNINGS)
    assert node.notify(type="PROBLEM", state="CRITICAL", service="DB").returncode == 3  # recorded
    holder = hold_lock(node)
    try:
        # The default wait, as the rendered command lines use it: recording needs the lock.
        started = time.monotonic()
        result = node.notify(type="PROBLEM", state="CRITICAL")
        elapsed = time.monotonic() - started
        assert result.returncode == 3, result.stderr
        assert notify_filter.DEFAULT_LOCK_TIMEOUT <= elapsed < 15, elapsed
        assert "problem not recorded: " in node.last_reason()
        assert "held by another process for over 5 s" in node.last_reason()
        # A RECOVERY whose record cannot be consumed goes out too (shorter wait to keep this quick).
        started = time.monotonic()
        result = node.notify(type="RECOVERY", state="OK", service="DB", extra=("--lock-timeout", "0.5"))
        assert time.monotonic() - started < 10
        assert result.returncode == 3, result.stderr
        assert "fail open: sent-problem record busy: " in node.last_reason()
    finally:
        release(holder)
    assert len(node.sent_lines()) == 3
    # Released: records work again.
    assert node.notify(type="PROBLEM", state="CRITICAL").returncode == 3
    assert node.last_reason() == "no rule matched; default notify"


# --- one call cannot flood the decision log -------------------------------------


def test_a_huge_command_line_makes_a_small_log_line(node: Node) -> None:
    node.write(SUPPRESS_WARNINGS)
    argv = node.argv(state="WARNING", host="h" * 100_000)
    dashdash = argv.index("--")
    argv[dashdash:dashdash] = [f"-x{i}" for i in range(60_000)]
    result = node.run(argv)
    assert result.returncode == 3, "bad arguments: sent"
    assert len(node.sent_lines()) == 1
    assert node.log.stat().st_size < 4000
    [decision] = node.decisions()
    reason = str(decision["reason"])
    assert reason.startswith("fail open: bad arguments: unknown argument '-x0'; ")
    assert reason.endswith("; and 59995 more")
    assert decision["host"] == "h" * 1000 + "... (99000 more characters)"


def test_a_long_unknown_argument_is_cut_in_the_reason(node: Node) -> None:
    node.write(SUPPRESS_WARNINGS)
    argv = node.argv(state="WARNING")
    argv.insert(argv.index("--"), "--x=" + "y" * 50_000)
    assert node.run(argv).returncode == 3
    assert (
        node.last_reason()
        == "fail open: bad arguments: unknown argument '--x=" + "y" * 60 + "... (49940 more characters)'"
    )


# --- no Django, no network, few imports --------------------------------------

GUARD = textwrap.dedent(
    """
    import os, runpy, sys

    before = set(sys.modules)

    def audit(event, args):
        if event.startswith("socket.") or event == "subprocess.Popen" or (
            event == "import" and args[0].split(".")[0] in ("django", "socket", "celery")
        ):
            sys.stderr.write(f"FORBIDDEN {event} {args[0]!r}\\n")
            os._exit(99)

    sys.addaudithook(audit)

    def report():
        sys.stderr.write("IMPORTED " + " ".join(sorted(set(sys.modules) - before)) + "\\n")

    import atexit
    atexit.register(report)
    runpy.run_module("preferences.notify_filter", run_name="__main__", alter_sys=True)
    """
)


@pytest.mark.parametrize(
    ("rules", "state", "expected", "lazy"),
    [
        ([{"action": "suppress", "hosts": ["db1"]}], "WARNING", 0, set()),
        ([{"action": "suppress", "hosts": ["w?b1"]}], "WARNING", 86, {"fnmatch"}),
        (
            [{"action": "suppress", "start": "00:00", "end": "23:59", "days": ["mon"]}],
            "WARNING",
            None,
            {"zoneinfo", "datetime"},
        ),
    ],
)
def test_no_django_no_network_and_only_cheap_imports(
    node: Node, rules: list[dict[str, object]], state: str, expected: int | None, lazy: set[str]
) -> None:
    node.write({"alice": {"rules": rules, "timezone": "Europe/Paris"}})
    argv = node.argv(type="PROBLEM", state=state, gate=True)
    result = subprocess.run(
        [sys.executable, "-c", GUARD, *argv[3:]],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "FORBIDDEN" not in result.stderr
    assert result.returncode in (0, 86)
    if expected is not None:
        assert result.returncode == expected
    imported = set(result.stderr.split("IMPORTED ", 1)[1].split())
    expensive = {"json", "argparse", "dataclasses", "typing", "pathlib", "hashlib", "re"}
    expensive |= {"fnmatch", "zoneinfo", "datetime"} - lazy
    if "fnmatch" in lazy:
        expensive.discard("re")  # fnmatch compiles globs with re: paid only when a glob is evaluated
    assert not imported & expensive, result.stderr


# --- in-process units -----------------------------------------------------------


def test_parse_arguments() -> None:
    args = notify_filter.parse_arguments(
        [
            "--contact=alice",
            "--channel",
            "sms",
            "--type",
            "PROBLEM",
            "--host",
            "--weird-host",
            "--state",
            "",
            "--",
            "cmd",
            "--contact",
            "x",
        ]
    )
    assert args.errors == []
    assert args.values == {
        "contact": "alice",
        "channel": "sms",
        "type": "PROBLEM",
        "host": "--weird-host",
        "state": "",
    }
    assert args.command == ["cmd", "--contact", "x"]

    gate = notify_filter.parse_arguments(["--contact", "a", "--"])
    assert gate.command == []
    assert "--channel is required" in gate.errors


log_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
)


@given(st.dictionaries(st.text(), log_values))
def test_json_line_is_json(record: dict[str, object]) -> None:
    line = notify_filter.json_line(record)  # type: ignore[arg-type]
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert json.loads(line) == record
