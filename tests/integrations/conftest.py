"""A live portal for the automation clients: gunicorn, a real Celery worker, Nagios 4 and Livestatus.

The clients (ansible-playbook, puppet apply) are tested the way a user runs them: as
programs talking HTTP to a portal that deploys to a running core. ``live_portal`` starts,
once for this package:

- its own database: ``portal_integrations_<pid>`` in the test PostgreSQL cluster
  (``DATABASE_URL``), or an SQLite file under var/test/ for a bare local run; migrated
  and seeded (users, a team, tokens, commands, templates, nodes) by ``manage.py``;
- a running Nagios 4 core (``tests.services.nagios``) as the master node ``core``: config
  is deployed to it, it reloads through its command file and is confirmed by its status file.
  Its main config also reads a directory the portal does not manage (``site.d``, like a
  site's own objects on a real node): ``LivePortal.broken_core`` puts a file there that
  the core's verifier refuses, so that a deployment fails below the API;
- Icinga 2 as the node ``live``, a poller whose config the portal writes but does not reload
  (no verify, reload method none): Nagios 4 has no Livestatus, and downtimes go through the
  Livestatus API. This Icinga 2 already monitors hosts from its own config, as on a site that
  moves to the portal: staff adopt those the tests declare and place them on ``live`` (the
  Ansible playbook does), and the confirmed deployment to ``live`` lets their team act on them;
- a Celery worker on the nodes' queues with the test Redis (``PORTAL_TEST_REDIS_URL``), so
  deploys run in a real worker as in production;
- gunicorn on a free loopback port.

Missing services and tools (Redis, nagios4, icinga2, ansible, puppet) skip locally and fail in
CI or with PORTAL_TEST_SERVICES=true (``tests.services.required.require_service``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

from tests.services.icinga import Host as IcingaHost
from tests.services.icinga import IcingaServer, Service, find_icinga2, free_tcp_port
from tests.services.nagios import NagiosCore, nagios_available
from tests.services.required import require_service

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
COLLECTIONS = REPO / "integrations" / "ansible"
PUPPET_MODULES = REPO / "integrations" / "puppet"

#: Hosts the Livestatus core monitors from its own config, outside the registry: web-01 is
#: adopted by the playbook (downtimes are set on it there), pup-legacy-01 by a Puppet
#: resource; legacy-01 is never adopted; parity-01 is adopted for Puppet's downtimes (test_parity.py).
LIVESTATUS_HOSTS = (
    IcingaHost("web-01", services=(Service("HTTP"),)),
    IcingaHost("legacy-01", services=(Service("SSH"),)),
    IcingaHost("pup-legacy-01"),
    IcingaHost("parity-01"),
)

SEED = """
import json
from django.contrib.auth.models import User
from django.core.management import call_command
from monitoring_portal.models import APIToken, Team
from registry.models import Command, Contact, HostTemplate, NaemonNode, ServiceTemplate

call_command("migrate", interactive=False, verbosity=0)
nodes = json.loads({nodes!r})
web = Team.objects.create(name="web", description="Web servers")
Team.objects.create(name="ops", description="Operations")
alice = User.objects.create_user("alice", "alice@example.org", "alice-pass-1234")
web.members.add(alice)
admin = User.objects.create_user("admin", "admin@example.org", "admin-pass-1234", is_staff=True)
true = Command.objects.create(name="check-true", command_line="/bin/true")
notify = Command.objects.create(name="notify-log", command_line="/bin/true $CONTACTNAME$", channel="log")
contact = Contact.objects.create(name="oncall", email="oncall@example.org")
contact.host_notification_commands.add(notify)
contact.service_notification_commands.add(notify)
for model, name in ((HostTemplate, "generic-host"), (ServiceTemplate, "generic-service")):
    model.objects.create(
        name=name, check_command=true, max_check_attempts=1, check_interval=60, retry_interval=60
    )
for fields in nodes:
    NaemonNode.objects.create(**fields)
print(json.dumps({{
    "alice": APIToken.issue(alice, "automation")[1],
    "admin": APIToken.issue(admin, "setup")[1],
}}))
"""


@dataclass
class Answer:
    """An HTTP answer of the portal."""

    status: int
    data: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class LivePortal:
    """A running portal and what it deploys to."""

    url: str
    tokens: dict[str, str]
    core: NagiosCore
    livestatus: IcingaServer
    workdir: Path
    #: The portal's environment (database, broker, ...): for more of its processes (test_agent.py).
    env: dict[str, str] = field(default_factory=dict)

    @property
    def site_config_dir(self) -> Path:
        """A cfg_dir of the core's main config that the portal does not manage."""
        return self.core.dir / "site.d"

    @contextmanager
    def broken_core(self) -> Iterator[None]:
        """While inside: every deployment to ``core`` fails verification (Naemon requires a
        contact's notification commands, which this site file leaves out); the previous config
        keeps running. Afterwards the file is gone and the next deployment can pass."""
        broken = self.site_config_dir / "broken.cfg"
        broken.write_text("define contact {\n    contact_name nobody-to-notify\n    email x@example.org\n}\n")
        try:
            yield
        finally:
            broken.unlink()

    def api(self, method: str, path: str, body: Any = None, user: str = "admin") -> Answer:
        """One request to ``/api/v1/<path>`` with a user's token (independent of the clients)."""
        request = urllib.request.Request(
            f"{self.url}/api/v1/{path}",
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={
                "Authorization": f"Bearer {self.tokens[user]}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=150) as resp:
                raw, status, headers = resp.read(), resp.status, dict(resp.headers)
        except urllib.error.HTTPError as exc:
            raw, status, headers = exc.read(), exc.code, dict(exc.headers)
        return Answer(status, json.loads(raw) if raw else None, headers)

    def host(self, name: str) -> dict[str, Any] | None:
        """The registry's host (None: absent)."""
        answer = self.api("GET", f"registry/hosts/{quote(name, safe='')}/")
        assert answer.status in (200, 404), answer
        return answer.data if answer.status == 200 else None

    def host_names(self) -> set[str]:
        answer = self.api("GET", "registry/hosts/?limit=1000")
        assert answer.status == 200, answer
        return {h["name"] for h in answer.data["results"]}

    def deployment_count(self) -> int:
        answer = self.api("GET", "registry/deployments/?limit=1")
        assert answer.status == 200, answer
        return int(answer.data["count"])

    def core_hosts(self) -> set[str]:
        """The hosts the running Nagios core lists in its status file."""
        return set(self.core.status().hosts)

    def core_services(self) -> set[tuple[str, str]]:
        """(host, description) of every service in the running core's object cache."""
        text = (self.core.dir / "objects.cache").read_text(errors="replace")
        found = set()
        for block in text.split("define service {")[1:]:
            values = dict(
                line.strip().split("\t", 1)
                for line in block.split("}")[0].splitlines()
                if "\t" in line.strip()
            )
            found.add((values.get("host_name", "").strip(), values.get("service_description", "").strip()))
        return found


def _must_have(name: str, path: Path | str | None, why: str) -> str:
    available = bool(path) and os.access(str(path), os.X_OK)
    require_service(name, available, why)
    return str(path)


def tool(name: str) -> str:
    """An executable of the virtualenv (ansible-*) or the system (puppet); skip/fail if missing."""
    path = VENV_BIN / name if (VENV_BIN / name).exists() else shutil.which(name)
    return _must_have(name, path, f"{name} is not installed")


def _database(workdir: Path) -> tuple[str, Any]:
    """A fresh database for the live portal and a function that drops it."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        path = workdir / "portal.sqlite3"
        return f"sqlite:///{path}", lambda: None
    import psycopg2
    from psycopg2 import sql

    name = f"portal_integrations_{os.getpid()}"
    parts = urlsplit(url)

    def execute(*statements: str) -> None:
        # CREATE/DROP DATABASE refuse transactions: autocommit, and no `with connection`.
        connection = psycopg2.connect(url)
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(sql.SQL(statement).format(sql.Identifier(name)))
        finally:
            connection.close()

    execute("DROP DATABASE IF EXISTS {} WITH (FORCE)", "CREATE DATABASE {}")
    return urlunsplit(parts._replace(path=f"/{name}")), lambda: execute(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)"
    )


def _redis_url() -> str:
    """The test Redis, on a database of its own (its keys never meet the other tests')."""
    url = os.environ.get("PORTAL_TEST_REDIS_URL", "")
    # Without Redis, deploys would run inline in gunicorn: not what these tests are to prove.
    require_service("Redis", bool(url), "PORTAL_TEST_REDIS_URL is not set (a worker needs a broker)")
    parts = urlsplit(url)
    # Nine above the test Redis's database (under pytest-xdist, each worker's own: tests/conftest.py).
    return urlunsplit(parts._replace(path=f"/{int(parts.path.strip('/') or 0) + 9}"))


def _manage(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"manage.py {args[0]} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"gunicorn exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"gunicorn did not answer {url} within {timeout}s:\n{log.read_text()[-3000:]}"
            )
        time.sleep(0.1)


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@pytest.fixture(scope="package")
def live_portal() -> Iterator[LivePortal]:
    """The portal under gunicorn with a worker, a Nagios 4 core and a Livestatus core (see above)."""
    require_service(
        "Nagios 4", nagios_available(), "/usr/sbin/nagios4 is missing (Debian package nagios4-core)"
    )
    icinga2 = _must_have("Icinga 2", find_icinga2(), "icinga2 is missing (Debian package icinga2)")
    redis_url = _redis_url()
    workdir = REPO / "var" / "test" / f"integrations-{os.getpid()}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    workdir.chmod(0o755)
    procs: list[subprocess.Popen[bytes]] = []
    core = NagiosCore(f"integrations-{os.getpid()}")
    livestatus = IcingaServer(binary=icinga2, name="integrations", hosts=LIVESTATUS_HOSTS)
    database_url, drop_database = _database(workdir)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "insecure-integrations-test-key",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "STATIC_MANIFEST": "false",
        "PORTAL_VAR_DIR": str(workdir / "var"),
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("CELERY_RESULT_BACKEND", None)
    env.update(CELERY_BROKER_URL=redis_url, REDIS_URL=redis_url)
    try:
        core.prepare()
        # Objects of the site's own beside the portal's (broken_core writes there).
        (core.dir / "site.d").mkdir()
        core.main_config.write_text(core.main_config_text() + f"cfg_dir={core.dir / 'site.d'}\n")
        core.own()
        core.start()
        livestatus.start()
        nodes = [
            {"name": "core", "role": "master", **core.node_fields()},
            {
                "name": "live",
                "role": "poller",
                "livestatus": livestatus.unix_address,
                # The portal writes its config but neither verifies nor reloads it.
                "config_dir": str(workdir / "live" / "portal.d"),
                "verify_command": "",
                "reload_method": "none",
                "notify_dir": str(workdir / "live" / "notify"),
            },
        ]
        # Servers boot while the database is migrated and seeded: they touch it only on requests.
        port = free_tcp_port()
        log = workdir / "gunicorn.log"
        with log.open("wb") as out:
            gunicorn = subprocess.Popen(
                [str(VENV_BIN / "gunicorn"), "monitoring_portal.wsgi", "--bind", f"127.0.0.1:{port}",
                 "--workers", "2", "--timeout", "150", "--graceful-timeout", "5"],
                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
            procs.append(gunicorn)
        with (workdir / "worker.log").open("wb") as out:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", "monitoring_portal", "worker",
                     "--pool", "solo", "--concurrency", "1", "-Q", "celery,naemon.core,naemon.live",
                     "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"],
                    cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                )
            )  # fmt: skip
        seeded = _manage(env, "shell", "-c", SEED.format(nodes=json.dumps(nodes)))
        tokens = json.loads(seeded.strip().splitlines()[-1])
        url = f"http://127.0.0.1:{port}"
        _wait_http(f"{url}/healthz", gunicorn, log)
        portal = LivePortal(
            url=url,
            tokens=tokens,
            core=core,
            livestatus=livestatus,
            workdir=workdir,
            env=env,
        )
        # The first deploy adopts the core's config; it also proves the worker and the core work.
        seed = portal.api(
            "PUT",
            "registry/hosts/portal-seed/?wait=90",
            {
                "templates": ["generic-host"],
                "services": [{"description": "seed", "templates": ["generic-service"]}],
            },
        )
        assert seed.status == 201 and seed.data["deployment_results"][0]["state"] == "confirmed", (
            seed,
            (workdir / "worker.log").read_text()[-3000:],
        )
        assert "portal-seed" in portal.core_hosts()
        yield portal
    finally:
        for proc in reversed(procs):
            _stop(proc)
        core.stop()
        livestatus.stop()
        drop_database()
        core.cleanup()
        if os.environ.get("KEEP_INTEGRATIONS_DIR") != "1":
            shutil.rmtree(workdir, ignore_errors=True)
