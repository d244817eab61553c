"""A burst of concurrent single-host registrations against the real deploy path.

    .venv/bin/python bench/bench_registrations.py [--hosts 1000] [--threads 50]

Starts what production runs (as scripts/testenv.py does for the tests, with data under
var/bench/): PostgreSQL, Redis, a Celery worker consuming the node's queue
(``naemon.bench``) and a real nagios4 core. Then ``--threads`` threads register
``--hosts`` hosts, one host (with one service) per transaction, exactly as the API does:
create the objects and call ``request_deployments`` for the affected nodes, which enqueues
``deploy_node`` on commit. It measures:

* how long the writes took;
* how many Deployment rows the burst created, how many deploy runs happened (the rest were
  covered by them or reused), and how many times the core was reloaded;
* the time from the first write until the core lists every registered host and nothing is
  pending (all confirmed).

The HTTP layer is not in the measurement (the registrations call the same code the API
view calls, without the request/serializer overhead).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "var" / "bench"
sys.path.insert(0, str(REPO))


def load_testenv() -> Any:
    spec = importlib.util.spec_from_file_location("testenv", REPO / "scripts" / "testenv.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def wait(what: str, check: Any, timeout: float) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise SystemExit(f"bench: {what} did not happen within {timeout:.0f}s")
        time.sleep(0.1)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds to wait for confirmation")
    args = parser.parse_args()

    testenv = load_testenv()
    BENCH.mkdir(parents=True, exist_ok=True)
    # Our own directory for PostgreSQL's and Redis's data: a test run may be using var/test/.
    testenv.VAR = BENCH
    pg, redis = testenv.Postgres(), testenv.Redis()
    worker: subprocess.Popen[bytes] | None = None
    core = None
    try:
        pg.start()
        redis.start()
        env = {
            **os.environ,
            "DATABASE_URL": pg.url,
            "REDIS_URL": redis.url,
            "CELERY_BROKER_URL": redis.url,
            "SECRET_KEY": "bench-only-not-secret",
            "DJANGO_SETTINGS_MODULE": "monitoring_portal.settings",
            "LOG_LEVEL": "WARNING",
        }
        os.environ.update(env)
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection, transaction

        from registry import deploy
        from registry.models import (
            Command,
            Contact,
            Deployment,
            Host,
            HostTemplate,
            HostUse,
            NaemonNode,
            Service,
            ServiceTemplate,
            ServiceUse,
            nodes_for_hosts,
        )
        from tests.registry.nagios import NagiosCore

        call_command("migrate", verbosity=0)
        core = NagiosCore("bench")
        core.prepare()
        core.start()
        node = NaemonNode.objects.create(name="bench", role="master", **core.node_fields())
        true = Command.objects.create(name="check-true", command_line="/bin/true")
        notify = Command.objects.create(name="notify-log", command_line="/bin/true", channel="log")
        contact = Contact.objects.create(name="oncall")
        contact.host_notification_commands.add(notify)
        contact.service_notification_commands.add(notify)
        host_template = HostTemplate.objects.create(
            name="bench-host", check_command=true, max_check_attempts=1, check_interval=300, retry_interval=60
        )
        service_template = ServiceTemplate.objects.create(
            name="bench-service",
            check_command=true,
            max_check_attempts=1,
            check_interval=300,
            retry_interval=60,
        )

        log = (BENCH / "worker.log").open("wb")
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "monitoring_portal", "worker", "--pool", "solo",
             "-Q", node.queue, "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        # Warm-up: the first deploy adopts the core's seed config (and proves the worker runs).
        # Nagios wants at least one service: one host with one service to start with.
        with transaction.atomic():
            seed = Host.objects.create(name="bench-seed", address="127.0.0.1")
            HostUse.objects.create(host=seed, template=host_template)
            ServiceUse.objects.create(
                service=Service.objects.create(host=seed, description="Ping"), template=service_template
            )
            deploy.request_deployments([node], triggered_by="bench", reason="warm-up")
        wait(
            "the warm-up deploy",
            lambda: (
                Deployment.objects.filter(node=node)
                .exclude(state__in=("pending", "rendering", "verifying", "reloading"))
                .exists()
            ),
            args.timeout,
        )
        warm = Deployment.objects.get(node=node)
        if warm.state != "confirmed":
            raise SystemExit(f"bench: the warm-up deploy {warm.state}: {warm.error}\n{warm.verify_output}")
        before_rows = Deployment.objects.count()
        before_restarts = core.restarts()

        def register(i: int) -> None:
            try:
                with transaction.atomic():
                    host = Host.objects.create(name=f"reg{i:05d}.example.org", address="127.0.0.1")
                    HostUse.objects.create(host=host, template=host_template)
                    service = Service.objects.create(host=host, description="Ping")
                    ServiceUse.objects.create(service=service, template=service_template)
                    deploy.request_deployments(
                        nodes_for_hosts([host]), triggered_by="bench", reason=host.name
                    )
            finally:
                connection.close()

        started = time.monotonic()
        with ThreadPoolExecutor(args.threads) as pool:
            list(pool.map(register, range(args.hosts)))
        writes = time.monotonic() - started
        names = {f"reg{i:05d}.example.org" for i in range(args.hosts)}

        def all_confirmed() -> bool:
            busy = Deployment.objects.filter(node=node).exclude(state__in=("confirmed", "failed", "skipped"))
            return not busy.exists() and names <= core.status().hosts

        wait("every host confirmed in the core", all_confirmed, args.timeout)
        until_confirmed = time.monotonic() - started
        rows = Deployment.objects.filter(node=node).order_by("pk")[before_rows:]
        runs = [d for d in rows if d.covered_by_id is None]
        states: dict[str, int] = {}
        for d in runs:
            states[d.state] = states.get(d.state, 0) + 1
        durations = sorted(d.duration_seconds or 0.0 for d in runs if d.state == "confirmed")
        print(
            f"{args.hosts} single-host registrations from {args.threads} threads (PostgreSQL, Redis, Celery worker, nagios4)"
        )
        print(f"writes: {writes:.1f} s ({args.hosts / writes:.0f} registrations/s)")
        print(
            f"deployment rows: {len(rows)} (the rest reused a pending one); deploy runs: {len(runs)} {states}; "
            f"covered by another run: {len(rows) - len(runs)}"
        )
        print(f"core reloads: {core.restarts() - before_restarts}")
        print(f"first write -> all {args.hosts} hosts confirmed in the core: {until_confirmed:.1f} s")
        for d in [d for d in runs if d.state == "failed"][:3]:
            print(f"failed run {d.pk}: {d.error}\n{d.verify_output[-2500:]}")
        if durations:
            print(f"deploy run durations: min {durations[0]:.1f} s, max {durations[-1]:.1f} s")
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                worker.kill()
        if core is not None:
            core.stop()
            core.cleanup()
        redis.stop()
        pg.stop()
        shutil.rmtree(pg.data, ignore_errors=True)


if __name__ == "__main__":
    main()
