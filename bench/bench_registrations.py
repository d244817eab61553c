"""A burst of concurrent single-host registrations against the real deploy path.

    .venv/bin/python bench/bench_registrations.py [--hosts 1000] [--threads 50]
    .venv/bin/python bench/bench_registrations.py --http [--hosts 1000] [--threads 50] [--wait 0]

Starts what production runs (as scripts/testenv.py does for the tests, with data under
var/bench/): PostgreSQL, Redis, a Celery worker consuming the node's queue
(``naemon.bench``) and a real nagios4 core. Then ``--threads`` threads register
``--hosts`` hosts, one host with one service each:

* by default, one transaction per host, as the API's write does: create the objects and
  call ``request_deployments`` for the affected nodes, which enqueues ``deploy_node`` on
  commit (no HTTP, no serializers);
* with ``--http``, through the REST API under gunicorn (gthread): each thread keeps one
  connection and sends ``PUT /api/v1/registry/hosts/<name>/`` with a staff token, the
  host's service in the body (``?wait=N`` with ``--wait N``: each client waits for its
  deployment like an Ansible task would).

It measures:

* how long the writes took (with ``--http``: the answers' status codes and latencies);
* per node, how many Deployment rows the burst created, how many deploy runs happened (the
  rest were covered by them or reused), and how many times the core was reloaded;
* the time from the first write until the core lists every registered host and its
  service and nothing is pending (all confirmed).
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import os
import shutil
import socket
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class Client:
    """One client thread's keep-alive connection to the portal (reconnects once if it was closed)."""

    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token
        self.conn: http.client.HTTPConnection | None = None

    def put(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return self.send("PUT", path, body)

    def send(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode()
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
            try:
                self.conn.request(method, path, data, headers)
                response = self.conn.getresponse()
                raw = response.read()
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
                continue
            return response.status, json.loads(raw or b"{}")
        raise AssertionError("unreachable")


def start_gunicorn(env: dict[str, str], workers: int, threads: int) -> tuple[subprocess.Popen[bytes], int]:
    """The portal under gunicorn (gthread) on a free loopback port, answering /healthz."""
    port = free_port()
    gunicorn_env = {
        **env,
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "STATIC_MANIFEST": "false",
    }
    log = (BENCH / "gunicorn.log").open("wb")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "monitoring_portal.wsgi",
         "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
         "--worker-class", "gthread", "--preload", "--keep-alive", "30", "--timeout", "300",
         "--log-level", "warning"],
        cwd=REPO, env=gunicorn_env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip

    def healthy() -> bool:
        if proc.poll() is not None:
            raise SystemExit(f"bench: gunicorn exited {proc.returncode}; see {BENCH / 'gunicorn.log'}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        except OSError:
            return False

    wait("gunicorn to answer /healthz", healthy, 60)
    return proc, port


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds to wait for confirmation")
    parser.add_argument("--http", action="store_true", help="register through the REST API under gunicorn")
    parser.add_argument("--wait", type=int, default=0, help="with --http: ?wait=N on every PUT")
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    parser.add_argument("--gunicorn-threads", type=int, default=16)
    parser.add_argument(
        "--table-json", action="store_true", help="last line: this run's rows of bench/run_all.py, as JSON"
    )
    args = parser.parse_args()
    table: dict[str, Any] = {}

    testenv = load_testenv()
    BENCH.mkdir(parents=True, exist_ok=True)
    # Our own directory for PostgreSQL's and Redis's data: a test run may be using var/test/.
    testenv.VAR = BENCH
    pg, redis = testenv.Postgres(), testenv.Redis()
    worker: subprocess.Popen[bytes] | None = None
    gunicorn: subprocess.Popen[bytes] | None = None
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
        from django.contrib.auth.models import User
        from django.core.management import call_command
        from django.db import connection, transaction

        from monitoring_portal.models import APIToken
        from registry import tasks
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
        from tests.services.nagios import NagiosCore

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
            tasks.request_deployments([node], triggered_by="bench", reason="warm-up")
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
        nodes = list(NaemonNode.objects.order_by("name"))
        before_rows = {n.pk: Deployment.objects.filter(node=n).count() for n in nodes}
        before_restarts = core.restarts()
        latencies: list[float] = []
        codes: dict[int, int] = {}
        if args.http:
            staff = User.objects.create_user("bench", is_staff=True)
            token = APIToken.issue(staff, "bench")[1]
            # Every client may wait (the default bound, 2 waiters, suits a sync worker, not this
            # gthread bench): otherwise all but two are answered 202 at once, not with their confirmation.
            slots = {"API_WAIT_MAX_TOTAL": str(args.threads), "API_WAIT_MAX_PER_USER": str(args.threads)}
            gunicorn, port = start_gunicorn({**env, **slots}, args.gunicorn_workers, args.gunicorn_threads)
            import threading

            local = threading.local()
            query = f"?wait={args.wait}" if args.wait else ""
            body = {
                "address": "127.0.0.1",
                "templates": ["bench-host"],
                "services": [{"description": "Ping", "templates": ["bench-service"]}],
            }
            # A few requests on fresh connections first (they spread over the gunicorn workers):
            # the seed host is PUT as it is, so at most the first one deploys, and it is waited for.
            for _ in range(args.gunicorn_workers * 2):
                code, answer = Client(port, token).put("/api/v1/registry/hosts/bench-seed/?wait=60", body)
                if code not in (200, 201):
                    raise SystemExit(f"bench: the warm-up PUT answered {code}: {answer}")
            before_rows = {n.pk: Deployment.objects.filter(node=n).count() for n in nodes}

        def register_http(i: int) -> None:
            client = getattr(local, "client", None)
            if client is None:
                client = local.client = Client(port, token)
            sent = time.monotonic()
            code, answer = client.put(f"/api/v1/registry/hosts/reg{i:05d}.example.org/{query}", body)
            latencies.append(time.monotonic() - sent)
            codes[code] = codes.get(code, 0) + 1
            if code >= 400:
                print(f"bench: PUT reg{i:05d} answered {code}: {str(answer)[:300]}", file=sys.stderr)

        def register(i: int) -> None:
            try:
                with transaction.atomic():
                    host = Host.objects.create(name=f"reg{i:05d}.example.org", address="127.0.0.1")
                    HostUse.objects.create(host=host, template=host_template)
                    service = Service.objects.create(host=host, description="Ping")
                    ServiceUse.objects.create(service=service, template=service_template)
                    tasks.request_deployments(nodes_for_hosts([host]), triggered_by="bench", reason=host.name)
            finally:
                connection.close()

        started = time.monotonic()
        with ThreadPoolExecutor(args.threads) as pool:
            list(pool.map(register_http if args.http else register, range(args.hosts)))
        writes = time.monotonic() - started
        names = {f"reg{i:05d}.example.org" for i in range(args.hosts)}
        checks = {(name, "Ping") for name in names}

        def all_confirmed() -> bool:
            busy = Deployment.objects.exclude(state__in=("confirmed", "failed", "skipped"))
            return not busy.exists() and names <= core.status().hosts and checks <= set(core.services())

        wait("every host and service confirmed in the core", all_confirmed, args.timeout)
        until_confirmed = time.monotonic() - started
        how = (
            f"PUT /api/v1/registry/hosts/<name>/{'?wait=' + str(args.wait) if args.wait else ''} under gunicorn "
            f"({args.gunicorn_workers} workers x {args.gunicorn_threads} threads)"
            if args.http
            else "direct writes (no HTTP)"
        )
        print(
            f"{args.hosts} single-host registrations (one service each) from {args.threads} threads, {how}; "
            "PostgreSQL, Redis, Celery worker, nagios4"
        )
        print(f"writes: {writes:.1f} s ({args.hosts / writes:.0f} registrations/s)")
        if args.http:
            print(
                f"answers: {dict(sorted(codes.items()))}; latency p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
                f"p95 {percentile(latencies, 0.95) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
            )
        failed_runs = []
        total_reloads = 0
        for each in nodes:
            rows = list(Deployment.objects.filter(node=each).order_by("pk")[before_rows[each.pk] :])
            runs = [d for d in rows if d.covered_by_id is None]
            states: dict[str, int] = {}
            for d in runs:
                states[d.state] = states.get(d.state, 0) + 1
            reloads = sum(1 for d in runs if d.state in ("confirmed", "failed") and d.reload_output)
            total_reloads = max(total_reloads, reloads)  # the goal is per node
            print(
                f"node {each.name}: deployment rows {len(rows)} (the rest reused a pending one); deploy runs "
                f"{len(runs)} {states}; covered by another run {len(rows) - len(runs)}; reloads {reloads}"
            )
            durations = sorted(d.duration_seconds or 0.0 for d in runs if d.state == "confirmed")
            if durations:
                print(
                    f"node {each.name}: deploy run durations min {durations[0]:.1f} s, "
                    f"median {percentile(durations, 0.5):.1f} s, max {durations[-1]:.1f} s"
                )
            failed_runs += [d for d in runs if d.state == "failed"]
        print(f"core reloads (RESTART_PROGRAM in the nagios4 log): {core.restarts() - before_restarts}")
        print(
            f"first write -> all {args.hosts} hosts and their services confirmed in the core: "
            f"{until_confirmed:.1f} s"
        )
        for d in failed_runs[:3]:
            print(f"failed run {d.pk}: {d.error}\n{d.verify_output[-2500:]}")
        if args.http:
            p95 = percentile(latencies, 0.95) * 1000
            table["puts_per_s"] = args.hosts / writes
            table["puts_per_s_text"] = (
                f"{args.hosts / writes:.0f}/s, p95 {p95:.0f} ms, {total_reloads} reloads"
            )
            if args.wait:
                confirmed = all_confirmed() and not failed_runs
                table["puts_wait_reloads"] = total_reloads
                table["puts_wait_reloads_text"] = (
                    f"{total_reloads} reloads, {codes.get(200, 0) + codes.get(201, 0)} of {args.hosts} "
                    f"answered with their confirmation{'' if confirmed else ', NOT all confirmed'}"
                )
            # Automation's every run: the same hosts again, in one bulk request (at most 1,000 items).
            items = [{**body, "name": f"reg{i:05d}.example.org"} for i in range(min(args.hosts, 1000))]
            sent = time.monotonic()
            code, answer = Client(port, token).send("POST", "/api/v1/registry/bulk/hosts/", {"hosts": items})
            resend = time.monotonic() - sent
            unchanged = sum(1 for r in answer.get("results", []) if r.get("status") == "unchanged")
            print(
                f"bulk re-send of {len(items)} unchanged hosts: {resend:.2f} s, answer {code}, {unchanged} unchanged"
            )
            table["bulk_resend_s"] = resend
            table["bulk_resend_s_text"] = (
                f"{resend:.2f} s ({len(items)} hosts, {unchanged} unchanged, {code})"
            )
        if args.table_json:
            print(json.dumps(table))
    finally:
        stop(gunicorn)
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
