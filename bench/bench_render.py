"""Render a large registry for one node, beside ``nagios4 -v`` on the same output.

    .venv/bin/python bench/bench_render.py [--hosts 50000] [--services 20] [--rebuild]

Builds the registry in a SQLite file under var/bench/ (kept between runs; ``--rebuild``
starts over): ``--hosts`` hosts, each with a host template, two host groups, two custom
variables and ``--services`` services of its own (each with a service template and a check
command with arguments; with ``--servicegroups`` also in one of 20 service groups). Then, in a fresh child process (so its peak
RSS is the renderer's, not the builder's), it measures on the database state:

* the full render of the master (database load + rendering), its time and peak RSS;
* a re-render after one host's alias changed, as a deploy does it: the blocks of the version
  just written are reused (registry/versions.py ``stanza_cache``), only the changed host is
  rendered; its database load, block reuse and rendering apart;

writes the files out and runs ``nagios4 -v`` on them, and prints the ratio. ``--growth``
measures the re-render at 1,000 and 4,000 hosts instead (it should stay flat); ``--table-json``
ends with one JSON line of the measures bench/run_all.py reads; ``--sizes 500,5000,10000``
prints the full render, its write and peak RSS beside ``nagios4 -v`` at each size, as one table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "var" / "bench"
NAGIOS = "/usr/sbin/nagios4"
NAGIOS_TIMEOUT = 600


def setup_django(db: Path) -> None:
    sys.path.insert(0, str(REPO))
    os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitoring_portal.settings")
    os.environ.pop("CELERY_BROKER_URL", None)
    import django

    django.setup()


def insert(model: Any, rows: Iterable[dict[str, Any]]) -> None:
    """Bulk INSERT with executemany: every column from a default instance, ``rows`` override some."""
    from django.db import connection
    from django.utils import timezone

    fields = [f for f in model._meta.concrete_fields]
    template = model()
    now = timezone.now()
    defaults = {}
    for f in fields:
        value = (
            now
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
            else getattr(template, f.attname)
        )
        defaults[f.attname] = f.get_db_prep_save(value, connection)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    # Table and column names come from the models, values are parameters.
    sql = f"INSERT INTO {model._meta.db_table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"  # noqa: S608
    names = [f.attname for f in fields]
    with connection.cursor() as cursor:
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            batch.append(tuple(row.get(n, defaults[n]) for n in names))
            if len(batch) >= 20000:
                cursor.executemany(sql, batch)
                batch.clear()
        if batch:
            cursor.executemany(sql, batch)


def build(hosts: int, services: int, servicegroups: bool) -> None:
    """Fill an empty database in bulk (raw INSERTs, no validation: the data is known good)."""
    from django.core.management import call_command
    from django.db import transaction

    from registry import models as m

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    with transaction.atomic():
        true = m.Command.objects.create(name="check-true", command_line="/bin/true")
        ping = m.Command.objects.create(name="check-ping", command_line="/bin/true -w $ARG1$ -c $ARG2$")
        mail = m.Command.objects.create(
            name="notify-mail", command_line="/usr/bin/mail $CONTACTEMAIL$", channel="email"
        )
        always = m.TimePeriod.objects.create(name="24x7", alias="Always", ranges={"monday": "00:00-24:00"})
        contact = m.Contact.objects.create(
            name="oncall", email="oncall@example.org", host_notification_period=always
        )
        contact.host_notification_commands.add(mail)
        contact.service_notification_commands.add(mail)
        host_template = m.HostTemplate.objects.create(
            name="bench-host", check_command=true, max_check_attempts=3, check_interval=300, retry_interval=60
        )
        service_template = m.ServiceTemplate.objects.create(
            name="bench-service",
            check_command=true,
            max_check_attempts=3,
            check_interval=300,
            retry_interval=60,
        )
        groups = [m.HostGroup.objects.create(name=f"group-{i:03d}").pk for i in range(100)]
        sgroups = [m.ServiceGroup.objects.create(name=f"sg-{i:02d}").pk for i in range(services)]
        insert(
            m.Host,
            (
                {
                    "id": i,
                    "name": f"host{i:06d}.example.org",
                    "address": f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
                    "custom_variables": json.dumps({"_RACK": f"R{i % 40}", "_OWNER": "team-web"}),
                }
                for i in range(1, hosts + 1)
            ),
        )
        insert(m.HostUse, ({"host_id": i, "template_id": host_template.pk} for i in range(1, hosts + 1)))
        insert(
            m.Host.hostgroups.through,
            (
                {"host_id": i, "hostgroup_id": groups[(i + k) % len(groups)]}
                for i in range(1, hosts + 1)
                for k in (0, 7)
            ),
        )
        args = json.dumps(["80", "90"])
        insert(
            m.Service,
            (
                {
                    "id": (i - 1) * services + j + 1,
                    "host_id": i,
                    "description": f"Service {j:02d}",
                    "check_command_id": ping.pk,
                    "check_command_args": args,
                }
                for i in range(1, hosts + 1)
                for j in range(services)
            ),
        )
        total = hosts * services
        insert(
            m.ServiceUse, ({"service_id": k, "template_id": service_template.pk} for k in range(1, total + 1))
        )
        if servicegroups:
            insert(
                m.Service.servicegroups.through,
                ({"service_id": k, "servicegroup_id": sgroups[k % services]} for k in range(1, total + 1)),
            )
        m.NaemonNode.objects.create(
            name="master",
            config_dir=str(BENCH / "render-out"),
            notify_filter_path="/usr/bin/notify-filter",
            notify_dir=str(BENCH / "notify"),  # not the filter's default under /var/lib
        )
    print(f"built {hosts:,} hosts x {services} services in {time.perf_counter() - started:.0f} s")


def measure() -> dict[str, float]:
    """The child: render on DB state, then again after one change; write the files."""
    from registry import models as m
    from registry import render, state, versions

    node = m.NaemonNode.objects.get(name="master")
    started = time.perf_counter()
    loaded_state = state.load_state(node)
    loaded = time.perf_counter()
    rendered = render.render_state(loaded_state, node.notify_paths(), node_name=node.name)
    done = time.perf_counter()
    del loaded_state
    out = BENCH / "render-out"
    shutil.rmtree(out, ignore_errors=True)
    # Written as a deploy writes a version (streamed, with the block digests the next render reuses).
    written = time.perf_counter()
    versions.write_version(out, rendered, 1, set())
    write_s = time.perf_counter() - written
    size = sum(rendered.size(name) for name in render.FILES)
    first_hash = rendered.content_hash
    del rendered
    host = m.Host.objects.order_by("pk").first()
    assert host is not None
    m.Host.objects.filter(pk=host.pk).update(alias=f"changed at {time.time():.0f}")
    again_started = time.perf_counter()
    again_state = state.load_state(node)
    again_loaded = time.perf_counter()
    cache = versions.stanza_cache(out)
    cached = time.perf_counter()
    again = render.render_state(again_state, node.notify_paths(), node_name=node.name, cache=cache)
    again_done = time.perf_counter()
    assert again.content_hash != first_hash and len(cache) == len(again.host_inputs) + len(
        again.service_inputs
    )
    m.Host.objects.filter(pk=host.pk).update(alias="")
    return {
        "load_s": loaded - started,
        "render_s": done - loaded,
        "total_s": done - started,
        "write_s": write_s,
        "rerender_s": again_done - again_started,
        "rerender_load_s": again_loaded - again_started,
        "rerender_cache_s": cached - again_loaded,
        "rerender_render_s": again_done - cached,
        "bytes": size,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def nagios_verify(out: Path) -> tuple[float, float, str]:
    """``nagios4 -v`` on the rendered files: seconds, its peak RSS (MB) and verdict line."""
    work = BENCH / "nagios-verify"
    shutil.rmtree(work, ignore_errors=True)
    (work / "spool").mkdir(parents=True)
    lines = [
        f"cfg_dir={out}",
        f"temp_path={work}",
        f"check_result_path={work}/spool",
        f"lock_file={work}/nagios.pid",
        "illegal_object_name_chars=`~!$%^&*|'\"<>?,()=",
    ]
    if os.geteuid() == 0:  # Nagios drops root; its user must read the files and write here
        lines += ["nagios_user=nagios", "nagios_group=nagios"]
        subprocess.run(["chown", "-R", "nagios:nagios", str(work)], check=True)
    (work / "nagios.cfg").write_text("\n".join(lines) + "\n")
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            ["/usr/bin/time", "-f", "%M", NAGIOS, "-v", str(work / "nagios.cfg")],
            capture_output=True,
            text=True,
            check=False,
            timeout=NAGIOS_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return float("inf"), float("nan"), f"did not finish within {NAGIOS_TIMEOUT} s"
    seconds = time.perf_counter() - started
    rss = float(proc.stderr.strip().splitlines()[-1]) / 1024 if proc.stderr.strip() else float("nan")
    verdict = next((line for line in proc.stdout.splitlines() if "Total Errors" in line), proc.stdout[-300:])
    if proc.returncode != 0:
        raise SystemExit(f"nagios4 -v failed:\n{proc.stdout[-3000:]}")
    return seconds, rss, verdict.strip()


def run_child(hosts: int, services: int, servicegroups: bool, rebuild: bool) -> dict[str, float]:
    """Build the registry if needed, then measure in a fresh process (its peak RSS is the render's)."""
    db = BENCH / f"render-{hosts}x{services}{'-sg' if servicegroups else ''}.sqlite3"
    BENCH.mkdir(parents=True, exist_ok=True)
    if rebuild:
        db.unlink(missing_ok=True)
    if not db.exists():
        # In a child too: django.setup() binds this process to one database.
        flags = ["--servicegroups"] if servicegroups else []
        command = [sys.executable, __file__, "--build", "--hosts", str(hosts), "--services", str(services)]
        subprocess.run([*command, *flags], check=True, stdout=sys.stderr)
    child = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            "--hosts",
            str(hosts),
            "--services",
            str(services),
            *(["--servicegroups"] if servicegroups else []),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(child.stdout.strip().splitlines()[-1])
    print(
        f"registry: {hosts:,} hosts x {services} services = {hosts * (services + 1):,} objects (SQLite {db.name})"
    )
    print(
        f"render (DB load {result['load_s']:.2f} s + rendering {result['render_s']:.2f} s): "
        f"{result['total_s']:.2f} s, {result['bytes'] / 1e6:.0f} MB of config (written in {result['write_s']:.2f} s), "
        f"peak RSS {result['peak_rss_mb']:.0f} MB"
    )
    print(
        f"re-render after one host changed: {result['rerender_s']:.2f} s "
        f"(DB load {result['rerender_load_s']:.2f} s + reading the live version's blocks "
        f"{result['rerender_cache_s']:.2f} s + rendering {result['rerender_render_s']:.2f} s), "
        f"{result['rerender_s'] / result['total_s']:.2f}x the full render"
    )
    sys.stdout.flush()
    return result


def growth_table(sizes: list[int], services: int, servicegroups: bool, rebuild: bool) -> None:
    """The full render at several sizes beside ``nagios4 -v``: time and memory should grow linearly."""
    rows = []
    for hosts in sizes:
        result = run_child(hosts, services, servicegroups, rebuild)
        seconds, rss, _verdict = nagios_verify(BENCH / "render-out")
        rows.append((hosts * (services + 1), result, seconds, rss))
    print(
        "| objects | DB load s | rendering s | write s | render / nagios4 -v | peak RSS MB | "
        "re-render one host s | nagios4 -v s | nagios4 -v RSS MB |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for objects, r, seconds, rss in rows:
        print(
            f"| {objects:,} | {r['load_s']:.2f} | {r['render_s']:.2f} | {r['write_s']:.2f} | "
            f"{r['total_s'] / seconds:.2f} | {r['peak_rss_mb']:.0f} | {r['rerender_s']:.2f} | "
            f"{seconds:.2f} | {rss:.0f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hosts", type=int, default=50_000)
    parser.add_argument("--services", type=int, default=20, help="services per host")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument(
        "--servicegroups",
        action="store_true",
        help="also put every service in one of 20 service groups (nagios4 -v is then quadratic: see README)",
    )
    parser.add_argument("--growth", action="store_true", help="the re-render at 1,000 and 4,000 hosts")
    parser.add_argument("--table-json", action="store_true", help="end with the measures as one JSON line")
    parser.add_argument(
        "--sizes",
        help="comma-separated host counts (e.g. 500,5000,10000): the full render and nagios4 -v at "
        "each, as one growth table",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--build", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    db = BENCH / f"render-{args.hosts}x{args.services}{'-sg' if args.servicegroups else ''}.sqlite3"
    if args.child or args.build:
        setup_django(db)
        if args.build:
            build(args.hosts, args.services, args.servicegroups)
        else:
            print(json.dumps(measure()))
        return
    if args.growth:
        small = run_child(1000, args.services, args.servicegroups, args.rebuild)
        large = run_child(4000, args.services, args.servicegroups, args.rebuild)
        print(
            f"growth 1,000 -> 4,000 hosts: full render x{large['total_s'] / small['total_s']:.1f}, "
            f"one-host re-render x{large['rerender_s'] / small['rerender_s']:.1f} "
            f"(of which rendering x{large['rerender_render_s'] / small['rerender_render_s']:.1f})"
        )
        return
    if args.sizes:
        growth_table([int(n) for n in args.sizes.split(",")], args.services, args.servicegroups, args.rebuild)
        return
    result = run_child(args.hosts, args.services, args.servicegroups, args.rebuild)
    seconds, rss, verdict = nagios_verify(BENCH / "render-out")
    print(f"nagios4 -v on the same files: {seconds:.1f} s, peak RSS {rss:.0f} MB ({verdict})")
    print(
        f"ratio render / nagios4 -v: {result['total_s'] / seconds:.2f} (time), "
        f"{result['peak_rss_mb'] / rss:.2f} (RSS)"
    )
    if args.table_json:
        measures = {
            "render_vs_verify": result["total_s"] / seconds,
            "render_peak_rss_mb": result["peak_rss_mb"],
            "rerender_one_host_s": result["rerender_s"],
        }
        print(json.dumps(measures))


if __name__ == "__main__":
    main()
