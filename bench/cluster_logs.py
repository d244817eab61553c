"""Reading a cluster benchmark's logs: check runs, notifications, the cores' HARD alerts, relay lag.

The expectations come from what the CHECKER saw (its check runs and its core's HARD alerts),
the notifications from the shared notification log; ``tally`` splits losses, duplicates and
unexpected notifications into inside / outside the failover windows. Used by bench_cluster.py.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

OK, CRITICAL = 0, 2
CONTACTS = ("oncall", "team")


# -- reading the logs ----------------------------------------------------------------------


@dataclass
class Run:
    at: float
    node: str
    host: str
    service: str
    code: int


@dataclass
class Sent:
    at: float
    node: str
    contact: str
    kind: str
    host: str
    service: str


def read_runs(path: Path) -> list[Run]:
    runs = []
    for line in path.read_text().splitlines() if path.exists() else []:
        parts = line.split(" ")
        if len(parts) == 5 and parts[4].isdigit():
            runs.append(Run(float(parts[0]), parts[1], parts[2], parts[3], int(parts[4])))
    return sorted(runs, key=lambda r: r.at)


def read_sent(path: Path) -> list[Sent]:
    sent = []
    for line in path.read_text().splitlines() if path.exists() else []:
        parts = line.split(" ")
        if len(parts) >= 6:
            sent.append(Sent(float(parts[0]), parts[1], parts[2], parts[3], parts[4], parts[5]))
    return sorted(sent, key=lambda s: s.at)


@dataclass
class Tally:
    expected: int = 0
    sent: int = 0
    matched: int = 0
    lost: dict[str, int] = field(default_factory=lambda: {"inside": 0, "outside": 0})
    duplicates: dict[str, int] = field(default_factory=lambda: {"inside": 0, "outside": 0})
    unexpected: dict[str, int] = field(default_factory=lambda: {"inside": 0, "outside": 0})
    examples: list[str] = field(default_factory=list)
    #: "what, by which node, in which phase of the run" -> how many (the causes at a glance).
    causes: Counter[str] = field(default_factory=Counter)

    def note(self, cause: str, text: str) -> None:
        self.causes[re.sub(r" \[.*?\]", "", cause)] += 1  # the phase without its time
        if len(self.examples) < 6:
            self.examples.append(text)


_ALERT = re.compile(r"^\[(\d+)\] SERVICE ALERT: ([^;]*);([^;]*);([A-Z]+);HARD;", re.M)
_STATE_NAMES = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}


def hard_alerts(log_text: str) -> dict[tuple[str, str, str], list[int]]:
    """(host, service, state) -> the times of the core's ``SERVICE ALERT ... HARD`` lines."""
    found: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for match in _ALERT.finditer(log_text):
        found[(match.group(2), match.group(3), match.group(4))].append(int(match.group(1)))
    return found


def expected_changes(
    runs: list[Run], alerts: dict[str, dict[tuple[str, str, str], list[int]]]
) -> tuple[dict[tuple[str, str], list[tuple[float, str, str]]], list[Run]]:
    """Per service: (time, PROBLEM/RECOVERY, node) of each state change the checkers saw.

    A run that changed the state counts only if its node's core logged the hard change (a
    ``SERVICE ALERT`` within a minute): a check whose result the core never processed (it was
    killed first) was not seen by the checker. Those runs are returned too, and skipped.
    """
    last: dict[tuple[str, str], int] = {}
    changes: dict[tuple[str, str], list[tuple[float, str, str]]] = defaultdict(list)
    unseen = []
    for run in runs:
        if run.service == "-":
            continue
        key = (run.host, run.service)
        if run.code != last.get(key, OK):
            logged = alerts.get(run.node, {}).get((run.host, run.service, _STATE_NAMES[run.code]), [])
            if not any(int(run.at) - 1 <= at <= run.at + 60 for at in logged):
                unseen.append(run)
                continue
            changes[key].append((run.at, "RECOVERY" if run.code == OK else "PROBLEM", run.node))
        last[key] = run.code
    return changes, unseen


def tally(
    changes: dict[tuple[str, str], list[tuple[float, str, str]]],
    sent: list[Sent],
    contacts_of: dict[tuple[str, str], tuple[str, ...]],
    windows: list[tuple[float, float]],
    cutoff: float,
    phase: Callable[[float], str],
) -> dict[str, Tally]:
    """Expected vs sent per contact, losses, duplicates and unexpected ones inside/outside the windows."""

    def where(at: float) -> str:
        return "inside" if any(start <= at <= end for start, end in windows) else "outside"

    result = {contact: Tally() for contact in CONTACTS}
    by_object: dict[tuple[str, str, str], list[Sent]] = defaultdict(list)
    for each in sent:
        by_object[(each.contact, each.host, each.service)].append(each)
    for (host, service), contacts in contacts_of.items():
        events = [e for e in changes.get((host, service), []) if e[0] <= cutoff]
        times = [e[0] for e in events]
        for contact in contacts:
            t = result.setdefault(contact, Tally())
            got: dict[int, list[Sent]] = defaultdict(list)
            for each in by_object.get((contact, host, service), []):
                index = bisect_right(times, each.at + 0.5) - 1  # the check is logged just before it
                if index >= 0 and events[index][0] > cutoff:
                    continue
                t.sent += 1
                if index >= 0 and events[index][1] != each.kind:
                    # Late (a loaded core): the change before, of its kind, if nothing matched it yet.
                    earlier = index - 1
                    while earlier >= 0 and events[earlier][1] != each.kind:
                        earlier -= 1
                    if earlier >= 0 and not got.get(earlier):
                        index = earlier
                if index < 0 or events[index][1] != each.kind:
                    t.unexpected[where(each.at)] += 1
                    t.note(
                        f"unexpected {each.kind} by {each.node}, {phase(each.at)}",
                        f"unexpected {each.kind} {host}/{service} by {each.node} {phase(each.at)}",
                    )
                    continue
                got[index].append(each)
            for index, (at, kind, checker) in enumerate(events):
                t.expected += 1
                copies = got.get(index, [])
                if not copies:
                    t.lost[where(at)] += 1
                    t.note(
                        f"lost {kind} seen by {checker}, {phase(at)}",
                        f"lost {kind} {host}/{service} seen by {checker} {phase(at)}",
                    )
                    continue
                t.matched += 1
                for extra in copies[1:]:
                    t.duplicates[where(extra.at)] += 1
                    t.note(
                        f"duplicate {kind} by {extra.node}, {phase(extra.at)}",
                        f"duplicate {kind} {host}/{service} seen by {checker} {phase(at)}: sent by "
                        + ", ".join(f"{c.node} {phase(c.at)}" for c in copies),
                    )
    return result


def relay_lags(
    runs: list[Run], first_seen: dict[str, dict[tuple[str, str, int], float]], poller: str
) -> dict[str, list[float]]:
    """Per node: seconds from a poller check run to the first status.dat of the node that shows it."""
    by_service: dict[tuple[str, str], list[float]] = defaultdict(list)
    for run in runs:
        if run.node == poller and run.service != "-":
            by_service[(run.host, run.service)].append(run.at)
    lags: dict[str, list[float]] = {}
    for node, seen in first_seen.items():
        values = []
        for (host, service, last_check), shown_at in seen.items():
            starts = by_service.get((host, service), [])
            # The run whose start Nagios recorded as last_check (whole seconds; the script logs a bit later).
            index = bisect_right(starts, last_check + 1.5) - 1
            if index >= 0 and starts[index] >= last_check - 1:
                values.append(max(0.0, shown_at - starts[index]))
        lags[node] = values
    return lags


def relay_cpu(path: Path) -> tuple[int, float, float]:
    """(runs, elapsed seconds, CPU seconds) of the relay, from /usr/bin/time's lines."""
    runs, elapsed, cpu = 0, 0.0, 0.0
    for line in path.read_text().splitlines() if path.exists() else []:
        parts = line.split()
        if len(parts) == 3:
            try:
                e, u, s = (float(p) for p in parts)
            except ValueError:
                continue
            runs, elapsed, cpu = runs + 1, elapsed + e, cpu + u + s
    return runs, elapsed, cpu
