"""A 3-node cluster on loopback under flipping states, with the checking master killed and restarted.

    .venv/bin/python bench/bench_cluster.py [--services 2000] [--minutes 5] [--seed N]

Three real Nagios 4 cores from the cluster test harness (tests/services/cluster.py): master-a
(priority 10, the active master), master-b (priority 20, the standby) and poller-1 (owns the
host group ``pollered``, notifies itself), each with its Livestatus front. The nodes are created
through the REST API (as staff, with a token); the objects in one transaction with one
``request_deployments``, as the cluster's end-to-end test does. Half the services are on hosts
of ``pollered`` (the poller's), half on hosts of no poller (the active master's); ten services
per host, one attempt, one notification per problem, two contacts (``oncall`` on every service,
``team`` on every other host's).

Database and tasks: SQLite with Celery eager, as the end-to-end test runs them (deploys run
inline in the failover task, the database commits for real). What is measured is the cluster -
cores, relay, notify-filter, failover - and the 2-core machine is already busy with three cores,
a relay process per check result and the Livestatus fronts; PostgreSQL, Redis and three workers
would take CPU from them without changing what a core checks or notifies.

The run: states flip at random (seeded schedule, OK <-> CRITICAL, each service on average every
three check intervals) for ``--minutes``. At 25 % of the run master-a is SIGKILLed (the core and
its Livestatus front), at 60 % it is restarted; ``registry.tasks.watch_nodes`` runs every
``--watch`` seconds throughout, as beat would, with ``CLUSTER_DOWN_AFTER``/``CLUSTER_BACK_AFTER``
from ``--down-after``/``--back-after``. After the flips stop the run goes on until the return's
failover window has closed and one more check interval has passed.

The bench's own check and notification scripts (beside the harness's, in the cluster's
directory) log a time with each line: ``time node host service exit-code`` per check run and
``time node contact type host service state`` per notification. The relay is the harness's
``portal-relay`` wrapper run under ``/usr/bin/time`` to count its runs and CPU.

It prints:

* notifications expected vs sent per contact. Expected: one PROBLEM or RECOVERY per state change
  the checkers actually saw (each object's check runs, from every node, in time order; one attempt
  makes every change hard). Sent: the notification log. Each notification is matched to the last
  expected change of its object before it: a change with none is a loss, with two a duplicate; a
  notification with no change of its type before it is unexpected. Split inside / outside the
  failover windows: from the kill until the "down" move's deployments finished, and from the
  restart until the "back" move's deployments finished (ClusterMove, registry.failover.window_end);
* the takeover time (kill -> master-b's first check of a master-owned service) and the return
  (restart -> master-a checks again, the back move, its window end, master-b's last such check);
* the relay lag: poller check run (its log time) -> the first status.dat of each master whose copy
  shows that check's ``last_check`` (its mtime), p50/p95; the poller's own status.dat beside it as
  the floor (Nagios 4 writes status.dat every second; Naemon's Livestatus reads memory);
* the load: check runs/s per node, relay runs/s and the relay's CPU share.

A JSON summary goes to var/bench/cluster-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import resource
import sys
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "var" / "bench"
sys.path.insert(0, str(REPO))

from bench.cluster_logs import (  # noqa: E402 (after the path)
    CONTACTS,
    expected_changes,
    hard_alerts,
    read_runs,
    read_sent,
    relay_cpu,
    relay_lags,
    tally,
)

OK, CRITICAL = 0, 2
SERVICES_PER_HOST = 10

CHECK_SCRIPT = """#!/bin/sh
# The bench's check: exit code and output from the state file; each run logged with time and code.
file="@STATE@/${2}__${3}"
code=0; out="OK - nothing set"
if [ -r "$file" ]; then { read -r code; read -r out; } < "$file"; fi
printf '%s %s %s %s %s\\n' "$(date +%s.%N)" "$1" "$2" "${3:--}" "$code" >> @LOG@
echo "$out"
exit "$code"
"""
NOTIFY_SCRIPT = """#!/bin/sh
# The contacts' notification command: time node contact type host service state.
printf '%s %s %s %s %s %s %s\\n' "$(date +%s.%N)" "$1" "$2" "$3" "$4" "$5" "$6" >> @LOG@
"""
RELAY_WRAPPER = """#!/bin/sh
# portal-relay as the harness runs it (a system Python), timed: "elapsed user system" per run.
PYTHONPATH=@REPO@ exec /usr/bin/time -a -o @LOG@ -f '%e %U %S' @PYTHON@ -m livestatus.relay "$@"
"""
_STATUS_SERVICE = re.compile(
    r"^servicestatus \{\n\thost_name=([^\n]*)\n\tservice_description=([^\n]*)\n.*?^\tlast_check=(\d+)$",
    re.M | re.S,
)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else math.nan


def cpu_busy() -> float:
    """Busy (non-idle) jiffies of the whole machine so far, from /proc/stat."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields) - fields[3] - fields[4]


# -- the flips and the sampler (threads: no Django) ---------------------------------------


def flip_schedule(
    services: list[tuple[str, str]], seconds: float, mean: float, seed: int
) -> list[tuple[float, str, str]]:
    """(offset, host, service) of every flip: exponential gaps of ``mean`` s per service, seeded."""
    rng = random.Random(seed)
    events = []
    for host, service in services:
        at = rng.expovariate(1 / mean)
        while at < seconds:
            events.append((at, host, service))
            at += rng.expovariate(1 / mean)
    return sorted(events)


class Flipper(threading.Thread):
    """Toggles each service's state file OK <-> CRITICAL at its scheduled times."""

    def __init__(self, state_dir: Path, events: list[tuple[float, str, str]], start: float) -> None:
        super().__init__(daemon=True)
        self.state_dir, self.events, self.start_at = state_dir, events, start
        self.stop = threading.Event()
        self.done = 0
        self.state: dict[tuple[str, str], int] = {}

    def run(self) -> None:
        for offset, host, service in self.events:
            delay = self.start_at + offset - time.time()
            if delay > 0 and self.stop.wait(delay):
                return
            code = CRITICAL if self.state.get((host, service), OK) == OK else OK
            self.state[(host, service)] = code
            path = self.state_dir / f"{host}__{service}"
            temporary = path.with_suffix(".tmp")
            temporary.write_text(f"{code}\n{'CRITICAL - flipped' if code else 'OK - flipped back'}\n")
            os.replace(temporary, path)  # a check never reads half a file
            self.done += 1


class Sampler(threading.Thread):
    """Reads each node's status.dat when it changed: when did (host, service, last_check) first show."""

    def __init__(self, files: dict[str, Path], wanted: set[tuple[str, str]]) -> None:
        super().__init__(daemon=True)
        self.files, self.wanted = files, wanted
        self.stop = threading.Event()
        #: node -> (host, service, last_check) -> the mtime of the first status.dat that showed it.
        self.first_seen: dict[str, dict[tuple[str, str, int], float]] = {node: {} for node in files}
        self.reads = 0

    def run(self) -> None:
        mtimes: dict[str, float] = {}
        while not self.stop.wait(0.2):
            for node, path in self.files.items():
                try:
                    mtime = path.stat().st_mtime
                    if mtimes.get(node) == mtime:
                        continue
                    text = path.read_text(errors="replace")
                except FileNotFoundError:
                    continue
                mtimes[node] = mtime
                self.reads += 1
                seen = self.first_seen[node]
                for match in _STATUS_SERVICE.finditer(text):
                    key = (match.group(1), match.group(2))
                    if key in self.wanted and match.group(3) != "0":
                        seen.setdefault((*key, int(match.group(3))), mtime)


# -- the run -------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--services", type=int, default=2000)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--interval",
        type=int,
        default=0,
        help="check interval in s (default: 3 %% of --services, at least 10)",
    )
    parser.add_argument(
        "--flip-every",
        type=float,
        default=3.0,
        help="mean time between a service's flips, in check intervals",
    )
    parser.add_argument("--watch", type=float, default=5.0, help="seconds between failover task runs")
    parser.add_argument("--down-after", type=int, default=60)
    parser.add_argument("--back-after", type=int, default=60)
    parser.add_argument("--keep", action="store_true", help="keep the cores' directories")
    args = parser.parse_args()
    interval = args.interval or max(10, round(args.services * 0.03))
    duration = args.minutes * 60
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    BENCH.mkdir(parents=True, exist_ok=True)
    database = BENCH / f"cluster-{stamp}.sqlite3"
    os.environ.update(
        {
            "DATABASE_URL": f"sqlite:///{database}",
            "DEBUG": "false",
            "SECRET_KEY": "bench-only-not-secret",
            "SECURE_SSL_REDIRECT": "false",
            "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
            "DJANGO_SETTINGS_MODULE": "monitoring_portal.settings",
            "LOG_LEVEL": "ERROR",
            "CLUSTER_DOWN_AFTER": str(args.down_after),
            "CLUSTER_BACK_AFTER": str(args.back_after),
            "CLUSTER_WATCH_SECONDS": str(max(1, int(args.watch))),
        }
    )
    for name in ("CELERY_BROKER_URL", "REDIS_URL"):
        os.environ.pop(name, None)  # Celery eager; no Redis lock for the watch (one caller)
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import transaction
    from rest_framework.test import APIClient

    from monitoring_portal.models import APIToken
    from registry import deploy, failover, tasks
    from registry.models import (
        ClusterMove,
        Command,
        Contact,
        Deployment,
        Host,
        HostGroup,
        HostTemplate,
        HostUse,
        NaemonNode,
        Service,
        ServiceTemplate,
        ServiceUse,
    )
    from tests.services.cluster import MASTERS, NODES, POLLER, Cluster

    deploy.CONFIRM_TIMEOUT = 60.0  # as the e2e test: a dead core's deploy fails in a minute, not two
    call_command("migrate", verbosity=0)
    cluster = Cluster.create()
    base = cluster.dir
    checks_log, sent_log, relay_log = (
        base / "bench-checks.log",
        base / "bench-notifications.log",
        base / "relay-times.log",
    )
    (base / "bench-check.sh").write_text(
        CHECK_SCRIPT.replace("@STATE@", str(base / "state")).replace("@LOG@", str(checks_log))
    )
    (base / "bench-notify.sh").write_text(NOTIFY_SCRIPT.replace("@LOG@", str(sent_log)))
    for path in (checks_log, sent_log, relay_log):
        path.touch()
    for script in ("bench-check.sh", "bench-notify.sh"):
        (base / script).chmod(0o755)
    master_a, master_b = MASTERS
    cores = cluster.cores
    python = next(p for p in ("/usr/bin/python3", "/usr/bin/python3.11") if os.access(p, os.X_OK))
    filters = {}
    for node, core in cores.items():
        core.prepare()
        # Spread the checks after a (re)start over one interval, not the harness's 2 s: with 1,000
        # services a reload would otherwise run them all at once, and so would the relay.
        text = core.main_config.read_text()
        for kind in ("host", "service"):
            text = text.replace(f"max_{kind}_check_spread=2", f"max_{kind}_check_spread={interval}")
        core.main_config.write_text(text)
        filters[node] = core.filter_path()
        relay = Path(filters[node]).parent / "portal-relay"  # where the harness's relay_path looks
        relay.write_text(
            RELAY_WRAPPER.replace("@REPO@", str(REPO))
            .replace("@LOG@", str(relay_log))
            .replace("@PYTHON@", python)
        )
        relay.chmod(0o755)
        core.relay_path(filters[node])
        core.own()
    cluster.own()
    for core in cores.values():
        core.start()
    try:
        staff = User.objects.create_user("bench-staff", is_staff=True)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {APIToken.issue(staff, 'bench')[1]}")
        stale_after = max(180, 3 * interval)
        for node, priority in ((master_a, 10), (master_b, 20), (POLLER, 100)):
            body = cluster.node_fields(node, filters[node]) | {
                "priority": priority,
                "notifies": True,
                "takeover": False,
                "stale_after": stale_after,
            }
            response = api.post("/api/v1/registry/nodes/", body, format="json")
            if response.status_code != 202:
                raise SystemExit(
                    f"bench: creating {node} answered {response.status_code}: {response.content[:500]!r}"
                )
        hosts_count = max(2, math.ceil(args.services / SERVICES_PER_HOST))
        hosts_count += hosts_count % 2
        services: list[tuple[str, str]] = []
        contacts_of: dict[tuple[str, str], tuple[str, ...]] = {}
        owner: dict[str, str] = {}
        started = time.monotonic()
        with transaction.atomic():
            check = base / "bench-check.sh"
            notify = base / "bench-notify.sh"
            check_host = Command.objects.create(
                name="bench-check-host", command_line=f"{check} $USER2$ $HOSTNAME$"
            )
            check_service = Command.objects.create(
                name="bench-check-service", command_line=f"{check} $USER2$ $HOSTNAME$ $SERVICEDESC$"
            )
            notify_host = Command.objects.create(
                name="bench-notify-host",
                channel="file",
                command_line=f"{notify} $USER2$ $CONTACTNAME$ $NOTIFICATIONTYPE$ $HOSTNAME$ - $HOSTSTATE$",
            )
            notify_service = Command.objects.create(
                name="bench-notify-service",
                channel="file",
                command_line=f"{notify} $USER2$ $CONTACTNAME$ $NOTIFICATIONTYPE$ $HOSTNAME$ $SERVICEDESC$ $SERVICESTATE$",
            )
            contacts = {}
            for name in CONTACTS:
                contact = Contact.objects.create(name=name, user=User.objects.create_user(name))
                contact.host_notification_commands.add(notify_host)
                contact.service_notification_commands.add(notify_service)
                contacts[name] = contact
            host_template = HostTemplate.objects.create(
                name="bench-host",
                check_command=check_host,
                max_check_attempts=1,
                check_interval=max(300, 5 * interval),
                retry_interval=60,
                notification_interval=0,
            )
            service_template = ServiceTemplate.objects.create(
                name="bench-service",
                check_command=check_service,
                max_check_attempts=1,  # every change is hard: it notifies
                check_interval=interval,
                retry_interval=interval,
                notification_interval=0,  # one notification per problem
                notification_options="w,u,c,r",
            )
            pollered = HostGroup.objects.create(name="pollered", node=NaemonNode.objects.get(name=POLLER))
            for i in range(hosts_count):
                on_poller = i >= hosts_count // 2
                name = f"{'p' if on_poller else 'm'}-host-{i:04d}"
                host = Host.objects.create(name=name, address="127.0.0.1")
                if on_poller:
                    host.hostgroups.add(pollered)
                owner[name] = POLLER if on_poller else master_a
                its_contacts = CONTACTS if i % 2 == 0 else CONTACTS[:1]
                host.contacts.add(contacts["oncall"])
                HostUse.objects.create(host=host, template=host_template)
                for j in range(SERVICES_PER_HOST):
                    if len(services) >= args.services:
                        break
                    service = Service.objects.create(host=host, description=f"svc-{j:02d}")
                    ServiceUse.objects.create(service=service, template=service_template)
                    service.contacts.add(*(contacts[c] for c in its_contacts))
                    services.append((name, service.description))
                    contacts_of[(name, service.description)] = its_contacts
            tasks.request_deployments(NaemonNode.objects.all(), triggered_by="bench", reason="cluster bench")
        deployed_in = time.monotonic() - started
        for row in NaemonNode.objects.order_by("name"):
            latest = Deployment.objects.filter(node=row).latest("pk")
            if latest.state != "confirmed":
                raise SystemExit(f"bench: deploying {row.name}: {latest.state} {latest.error}")
        poller_services = {s for s in services if owner[s[0]] == POLLER}
        master_services = {s for s in services if owner[s[0]] != POLLER}
        print(
            f"{len(services)} services on {hosts_count} hosts ({len(master_services)} master-owned, "
            f"{len(poller_services)} poller-owned), checks every {interval} s, 1 attempt; created and "
            f"deployed to 3 nodes in {deployed_in:.1f} s; failover: watch every {args.watch:g} s, "
            f"down after {args.down_after} s, back after {args.back_after} s",
            flush=True,
        )

        # Warm-up: every service checked once by its checker, so the run starts from known OKs.
        def checked_all() -> bool:
            seen = {(r.host, r.service) for r in read_runs(checks_log)}
            return set(services) <= seen

        deadline = time.monotonic() + 3 * interval + 60
        while not checked_all():
            if time.monotonic() > deadline:
                raise SystemExit("bench: not every service was checked during the warm-up")
            time.sleep(1)

        sampler = Sampler({node: cores[node].status_file for node in NODES}, poller_services)
        sampler.start()
        mean_flip = args.flip_every * interval
        events = flip_schedule(services, duration, mean_flip, args.seed)
        t0 = time.time() + 1
        flipper = Flipper(base / "state", events, t0)
        rusage0 = resource.getrusage(resource.RUSAGE_SELF)
        busy0 = cpu_busy()
        relay0 = relay_cpu(relay_log)
        flipper.start()
        kill_at, restart_at = t0 + 0.25 * duration, t0 + 0.60 * duration
        killed = restarted = None
        watch_runs: list[float] = []
        moves_seen: list[str] = []
        tail_until: float | None = None
        last_watch = 0.0
        print(
            f"flipping {len(events)} times over {args.minutes:g} min (seed {args.seed}, each service every "
            f"{mean_flip:.0f} s on average); kill {master_a} at +{kill_at - t0:.0f} s, restart at +{restart_at - t0:.0f} s",
            flush=True,
        )
        while True:
            now = time.time()
            if killed is None and now >= kill_at:
                killed = time.time()
                cores[master_a].kill()
                print(f"+{killed - t0:6.1f} s  SIGKILL {master_a}", flush=True)
            if killed is not None and restarted is None and now >= restart_at:
                restarted = time.time()
                cores[master_a].start()
                print(f"+{restarted - t0:6.1f} s  restarted {master_a}", flush=True)
            if now - last_watch >= args.watch:
                last_watch = now
                began = time.monotonic()
                for made in tasks.watch_nodes():
                    moves_seen.append(made)
                    print(f"+{time.time() - t0:6.1f} s  move: {made}", flush=True)
                watch_runs.append(time.monotonic() - began)
            if now >= t0 + duration and restarted is not None and tail_until is None:
                back = ClusterMove.objects.filter(node__name=master_a, kind="back").first()
                if back is not None and failover.window_end(back) is not None:
                    tail_until = time.time() + interval + 10
                    print(
                        f"+{time.time() - t0:6.1f} s  flips over, return window closed; {interval + 10} s tail",
                        flush=True,
                    )
            if tail_until is not None and now >= tail_until:
                break
            if now >= t0 + duration + 20 * 60:
                print("bench: the return window did not close within 20 minutes of the end", flush=True)
                break
            time.sleep(0.5)
        ended = time.time()
        flipper.stop.set()
        sampler.stop.set()
        sampler.join(5)
        busy1 = cpu_busy()
        rusage1 = resource.getrusage(resource.RUSAGE_SELF)
        relay1 = relay_cpu(relay_log)
        all_runs = read_runs(checks_log)
        runs = [r for r in all_runs if r.at >= t0]
        sent = [s for s in read_sent(sent_log) if s.at >= t0]
        alerts = {node: hard_alerts(cores[node].log_file.read_text(errors="replace")) for node in NODES}
        latencies = {
            node: [
                float(f.get("check_latency", 0))
                for f in cores[node].services().values()
                if f.get("active_checks_enabled") == "1"
            ]
            for node in NODES
        }
    finally:
        cluster.stop()
        if not args.keep:
            cluster.cleanup()
            database.unlink(missing_ok=True)

    # -- windows and figures ---------------------------------------------------------------
    windows: list[tuple[float, float]] = []
    move_rows: list[dict[str, Any]] = []
    for move in ClusterMove.objects.filter(node__name=master_a).order_by("at"):
        end = failover.window_end(move)
        start = move.window_start.timestamp() if move.window_start else move.at.timestamp()
        if move.kind == "down" and killed is not None:
            start = min(start, killed)  # the window opens at the kill, not at the first missed probe
        stop = end.timestamp() if end else math.inf
        windows.append((start, stop))
        move_rows.append(
            {
                "kind": move.kind,
                "at": move.at.timestamp() - t0,
                "taken_by": move.taken_by,
                "window": [start - t0, stop - t0],
                "deployments": [
                    {
                        "node": d.node.name,
                        "state": d.state,
                        "seconds": d.duration_seconds,
                        "error": d.error[:300],
                    }
                    for d in move.deployments.select_related("node")
                ],
                "reason": move.reason,
            }
        )
    changes, unseen = expected_changes(runs, alerts)
    cutoff = ended - 5  # a change seen in the last seconds may not have notified yet
    down_end = next((m["window"][1] + t0 for m in move_rows if m["kind"] == "down"), math.inf)
    back_end = next((m["window"][1] + t0 for m in move_rows if m["kind"] == "back"), math.inf)

    def phase(at: float) -> str:
        """Where in the run a moment falls (for the causes) and when, relative to the first flip."""
        if killed is None or at < killed:
            name = "before the kill"
        elif at <= down_end:
            name = "down window"
        elif restarted is None or at < restarted:
            name = "after takeover"
        elif at <= back_end:
            name = "back window"
        else:
            name = "after return"
        return f"{name} [+{at - t0:.0f} s]"

    tallies = tally(changes, sent, contacts_of, windows, cutoff, phase)
    master_runs_b = [
        r.at for r in runs if r.node == master_b and r.host.startswith("m-") and r.service != "-"
    ]
    takeover = next((at - killed for at in master_runs_b if killed and at > killed), None)
    a_back = next(
        (
            r.at - restarted
            for r in runs
            if restarted and r.at > restarted and r.node == master_a and r.host.startswith("m-")
        ),
        None,
    )
    b_last = max((at - restarted for at in master_runs_b if restarted and at > restarted), default=None)
    back_move = next((m for m in move_rows if m["kind"] == "back"), None)
    down_move = next((m for m in move_rows if m["kind"] == "down"), None)
    lags = relay_lags(all_runs, sampler.first_seen, POLLER)
    recent = {(r.host, r.service) for r in runs if r.at >= ended - interval - 15}
    unchecked = {
        "master-owned": len(master_services - recent),
        "poller-owned": len(poller_services - recent),
    }
    span = ended - t0
    per_node = Counter(r.node for r in runs)
    relay_runs, relay_elapsed, relay_cpu_s = (relay1[i] - relay0[i] for i in range(3))
    ncpu = os.cpu_count() or 1
    hz = os.sysconf("SC_CLK_TCK")
    machine_busy = (busy1 - busy0) / hz
    bench_cpu = (rusage1.ru_utime + rusage1.ru_stime) - (rusage0.ru_utime + rusage0.ru_stime)

    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f} s"

    print()
    print(f"run: {span:.0f} s from the first flip to the end; {flipper.done} flips; {len(runs)} check runs")
    print("notifications (expected = state changes the checkers saw; inside = in a failover window):")
    print(
        f"  {'contact':8} {'expected':>8} {'sent':>6} {'matched':>7}  {'lost in/out':>11}  {'dupl. in/out':>12}  {'unexp. in/out':>13}"
    )
    for who, t in tallies.items():
        print(
            f"  {who:8} {t.expected:8d} {t.sent:6d} {t.matched:7d}  {t.lost['inside']:5d}/{t.lost['outside']:<5d}  "
            f"{t.duplicates['inside']:6d}/{t.duplicates['outside']:<5d}  {t.unexpected['inside']:6d}/{t.unexpected['outside']:<6d}"
        )
    for who, t in tallies.items():
        for cause, count in sorted(t.causes.items(), key=lambda item: -item[1]):
            print(f"    {who}: {count:4d} x {cause}")
        for example in t.examples:
            print(f"    {who}, e.g.: {example}")
    unseen_causes = Counter(f"{r.node}, {phase(r.at).split(' [', 1)[0]}" for r in unseen)
    print(
        f"  changes whose check ran but whose core never logged the hard change (not expected): {len(unseen)}"
        + (f" ({', '.join(f'{n} x {c}' for c, n in unseen_causes.items())})" if unseen else "")
    )
    for m in move_rows:
        print(
            f"move {m['kind']:4} at +{m['at']:.1f} s, taken by {m['taken_by'] or 'nobody'}; window +{m['window'][0]:.1f} .. +{m['window'][1]:.1f} s "
            f"({m['window'][1] - m['window'][0]:.1f} s); deploys "
            + ", ".join(f"{d['node']} {d['state']} {d['seconds'] or 0:.1f} s" for d in m["deployments"])
        )
        for d in m["deployments"]:
            if d["error"]:
                print(f"  {d['node']}: {d['error']}")
    print(
        f"takeover: kill -> {master_b} checks a master-owned service: {fmt(takeover)}"
        + (
            f" (down move at {fmt(down_move['at'] - (killed - t0))} after the kill)"
            if down_move and killed
            else ""
        )
    )
    print(
        f"return: restart -> {master_a} checks again {fmt(a_back)}; back move {fmt(back_move['at'] - (restarted - t0) if back_move and restarted else None)}; "
        f"window closed {fmt(back_move['window'][1] - (restarted - t0) if back_move and restarted else None)}; "
        f"{master_b}'s last master-owned check {fmt(b_last)}"
    )
    for node in NODES:
        values = lags.get(node, [])
        label = "own copy (floor)" if node == POLLER else "copy"
        print(
            f"relay lag poller check -> {node} {label}: n={len(values)} p50 {percentile(values, 0.5):.2f} s, "
            f"p95 {percentile(values, 0.95):.2f} s, max {max(values, default=math.nan):.2f} s"
        )
    print(
        "load: check runs/s "
        + ", ".join(f"{node} {per_node[node] / span:.1f}" for node in NODES)
        + f" (all {len(runs) / span:.1f}); relay runs/s {relay_runs / span:.1f}, {relay_cpu_s / max(relay_runs, 1) * 1000:.0f} ms CPU "
        f"and {relay_elapsed / max(relay_runs, 1) * 1000:.0f} ms wall each"
    )
    print(
        f"CPU: machine {machine_busy / span:.2f} of {ncpu} cores busy; relay {relay_cpu_s / span:.2f} cores "
        f"({relay_cpu_s / max(machine_busy, 1e-9) * 100:.0f} % of the busy CPU); this process (Livestatus fronts, "
        f"sampler, watch, deploys) {bench_cpu / span:.2f} cores; watch runs {len(watch_runs)}, "
        f"p50 {percentile(watch_runs, 0.5):.2f} s, max {max(watch_runs, default=0):.1f} s"
    )
    print(
        f"not checked by anyone in the last {interval + 15} s of the run: {unchecked['master-owned']} master-owned, "
        f"{unchecked['poller-owned']} poller-owned services (expectations come from checks: this is what they miss)"
    )
    print(
        "check latency at the end (mean/max): "
        + ", ".join(
            f"{node} {sum(v) / len(v):.2f}/{max(v):.2f} s" if v else f"{node} -"
            for node, v in latencies.items()
        )
    )
    summary = {
        "when": stamp,
        "args": vars(args) | {"interval": interval},
        "services": len(services),
        "span_seconds": span,
        "flips": flipper.done,
        "check_runs": dict(per_node),
        "notifications": {c: {k: v for k, v in vars(t).items()} for c, t in tallies.items()},
        "changes_not_processed": dict(unseen_causes),
        "moves": move_rows,
        "unchecked_at_end": unchecked,
        "takeover_seconds": takeover,
        "return": {"master_a_checks_again": a_back, "master_b_last_check": b_last},
        "relay_lag": {
            node: {"n": len(v), "p50": percentile(v, 0.5), "p95": percentile(v, 0.95)}
            for node, v in lags.items()
        },
        "load": {
            "checks_per_second": len(runs) / span,
            "relay_runs_per_second": relay_runs / span,
            "relay_cpu_cores": relay_cpu_s / span,
            "relay_share_of_busy_cpu": relay_cpu_s / max(machine_busy, 1e-9),
            "machine_busy_cores": machine_busy / span,
            "bench_process_cores": bench_cpu / span,
        },
        "check_latency_mean": {n: (sum(v) / len(v) if v else None) for n, v in latencies.items()},
    }
    out = BENCH / f"cluster-{stamp}.json"
    out.write_text(json.dumps(summary, indent=2, default=str))
    print(f"summary: {out}")


if __name__ == "__main__":
    main()
