"""The notification history's queries at 1,000 and at 1,000,000 stored decisions.

    .venv/bin/python bench/bench_history.py [--rows 1000000] [--repeat 7]

Starts PostgreSQL (as scripts/testenv.py does for the tests, data under var/bench/), migrates,
and stores decisions as the collector does (``NotificationDecision`` rows; here with COPY, to
fill the table quickly): 200 contacts (one per user), 5,000 hosts with 4 services each, over
90 days (the default retention). Then it asks the history API what its users ask, through
Django's test client (routing, authentication, filters, pagination and serialisation included):

* an engineer's own history, newest first (the page's default);
* staff: one object's decisions, one contact's, a day of suppressed PROBLEMs, a free-text search.

Each request is timed (median of ``--repeat``) first with 1,000 decisions stored, then with
``--rows``: the ratio is what the table's size costs.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "var" / "bench"
sys.path.insert(0, str(REPO))

CONTACTS = 200
HOSTS = 5000
SERVICES = ("PING", "HTTP", "Disk", "Load")
TYPES = ("PROBLEM", "PROBLEM", "RECOVERY", "ACKNOWLEDGEMENT")
STATES = ("CRITICAL", "WARNING", "OK", "UNKNOWN")


def load_testenv() -> Any:
    spec = importlib.util.spec_from_file_location("testenv", REPO / "scripts" / "testenv.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fill(cursor: Any, first: int, count: int, user_ids: list[int], now: datetime, seed: int) -> None:
    """COPY ``count`` decisions (digests ``first``...) into the history table."""
    rng = random.Random(seed)
    columns = (
        "time",
        "node_name",
        "contact",
        "user_id",
        "host",
        "service",
        "state",
        "type",
        "channel",
        "decision",
        "rule_id",
        "rule_comment",
        "reason",
        "explanation",
        "notification_id",
        "digest",
    )
    span = 90 * 86400
    chunk = 50000
    for start in range(first, first + count, chunk):
        buffer = io.StringIO()
        for i in range(start, min(start + chunk, first + count)):
            who = rng.randrange(CONTACTS)
            notify = rng.random() < 0.7
            when = now - timedelta(seconds=rng.randrange(span))
            fields = (
                when.isoformat(),
                "master-a",
                f"user{who}",
                str(user_ids[who]),
                f"host{rng.randrange(HOSTS):05d}",
                rng.choice(SERVICES),
                rng.choice(STATES),
                rng.choice(TYPES),
                "email",
                "notify" if notify else "suppress",
                "\\N" if notify else str(rng.randrange(1, 1000)),
                "" if notify else "quiet nights",
                "no rule matched; default notify" if notify else "rule matched",
                '{"steps": []}',
                str(i),
                f"bench-{i}",
            )
            buffer.write("\t".join(fields) + "\n")
        buffer.seek(0)
        cursor.copy_from(buffer, "preferences_notificationdecision", columns=columns)


def timed(client: Any, url: str, repeat: int) -> tuple[float, int]:
    """Median milliseconds of ``repeat`` GETs, and the count the answer reports."""
    times = []
    count = 0
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
        count = response.json().get("count", 0)
    return statistics.median(times), count


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    testenv = load_testenv()
    BENCH.mkdir(parents=True, exist_ok=True)
    testenv.VAR = BENCH
    pg = testenv.Postgres()
    try:
        pg.start()
        os.environ.update(
            {
                "DATABASE_URL": pg.url,
                "SECRET_KEY": "bench-only-not-secret",
                "DJANGO_SETTINGS_MODULE": "monitoring_portal.settings",
                "LOG_LEVEL": "WARNING",
                "DEBUG": "false",
                "ALLOWED_HOSTS": "testserver",
                "SECURE_SSL_REDIRECT": "false",
            }
        )
        import django

        django.setup()
        from django.contrib.auth.models import User
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client

        call_command("migrate", verbosity=0)
        users = [User(username=f"user{i}") for i in range(CONTACTS)]
        User.objects.bulk_create(users)
        user_ids = list(
            User.objects.filter(username__startswith="user").order_by("pk").values_list("pk", flat=True)
        )
        staff = User.objects.create_user("staff", is_staff=True)
        engineer = User.objects.get(username="user7")
        now = datetime.now(UTC)
        day = (now - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
        queries = {
            "engineer: my history, newest first": (engineer, "/api/v1/preferences/history/"),
            "staff: one object": (staff, "/api/v1/preferences/history/?host=host00042&service=HTTP"),
            "staff: one contact": (staff, "/api/v1/preferences/history/?contact=user13"),
            "staff: a day of suppressed PROBLEMs": (
                staff,
                "/api/v1/preferences/history/?type=PROBLEM&decision=suppress"
                f"&from={day.strftime('%Y-%m-%dT%H:%M:%SZ')}"
                f"&to={(day + timedelta(days=1)).strftime('%Y-%m-%dT%H:%M:%SZ')}",
            ),
            "staff: free text (q=host0004)": (staff, "/api/v1/preferences/history/?q=host0004"),
        }
        clients = {}
        for user in (engineer, staff):
            client = Client()
            client.force_login(user)
            clients[user.pk] = client

        results: dict[str, list[tuple[float, int]]] = {name: [] for name in queries}
        for label, total in (("small", 1000), ("large", args.rows)):
            stored = connection.cursor().connection
            with stored.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM preferences_notificationdecision")
                have = cursor.fetchone()[0]
                started = time.perf_counter()
                fill(cursor, have, total - have, user_ids, now, seed=total)
                cursor.execute("ANALYZE preferences_notificationdecision")
            stored.commit()
            print(f"{label}: {total:,} decisions stored ({time.perf_counter() - started:.1f} s to load)")
            for name, (user, url) in queries.items():
                clients[user.pk].get(url)  # warm: connection, caches
                results[name].append(timed(clients[user.pk], url, args.repeat))

        print()
        print(f"{'query':42} {'1,000 rows':>12} {f'{args.rows:,} rows':>16} {'ratio':>7}  matches")
        for name, ((small, _), (large, count)) in results.items():
            print(f"{name:42} {small:9.1f} ms {large:13.1f} ms {large / small:7.2f}  {count:,}")
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
