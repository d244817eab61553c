"""Every row of issue 19's table in one run: today's figure beside the goal, met or missed.

    .venv/bin/python bench/run_all.py [--full] [--only KEY ...] [--list] [--json FILE]

Each row comes from one benchmark script, run in its own process (a Django
benchmark sets up its database once per process) with ``--table-json``: the
script then prints, as its last line of output, a JSON object of its measures
(``{"livestatus_reply_ratio": 1.31, ...}``, plus ``"<key>_text"`` for a
human figure such as "172 ms vs 131 ms"). Database-dependent rows run twice:
on SQLite (a file under var/bench/) and, when ``DATABASE_URL`` points at
PostgreSQL, on that too. Small sizes by default so that the whole table takes
a few minutes on 2 cores; ``--full`` passes each script the issue's sizes
(the 50,000-host render takes minutes and GBs: not on a shared machine).

A row whose script does not (yet) answer ``--table-json`` with its key prints
"not measured (owner: ...)": adding a row is adding ``--table-json`` to the
script that measures it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCH = REPO_ROOT / "bench"


@dataclass(frozen=True)
class Measure:
    """One row of the table: what is measured, the goal, and which script measures it."""

    key: str
    label: str
    today: str  # the figure before the work, for the reader
    goal: str
    met: Callable[[float], bool]
    owner: str
    script: str
    per_database: bool = False
    small: tuple[str, ...] = ()
    full: tuple[str, ...] = ()


def at_most(limit: float) -> Callable[[float], bool]:
    return lambda value: value <= limit


def at_least(limit: float) -> Callable[[float], bool]:
    return lambda value: value >= limit


RENDER_SMALL = ("--hosts", "2000")
RENDER_FULL = ("--hosts", "50000")
WRITES_SMALL = ("--hosts", "200", "--threads", "20", "--http")
WRITES_FULL = ("--hosts", "1000", "--threads", "50", "--http")

MEASURES: tuple[Measure, ...] = (
    Measure(
        "render_vs_verify",
        "full render vs `nagios4 -v` on the same files",
        "2.34x (50,000 hosts)",
        "<= 0.5x",
        at_most(0.5),
        "render on write",
        "bench_render.py",
        per_database=True,
        small=RENDER_SMALL,
        full=RENDER_FULL,
    ),
    Measure(
        "render_peak_rss_mb",
        "peak RSS of that render (MB)",
        "1,681 MB (50,000 hosts)",
        "<= 512 MB",
        at_most(512),
        "render on write",
        "bench_render.py",
        per_database=True,
        small=RENDER_SMALL,
        full=RENDER_FULL,
    ),
    Measure(
        "rerender_one_host_s",
        "re-render after one host changed (s)",
        "17.3 s",
        "<= 1 s",
        at_most(1.0),
        "render on write",
        "bench_render.py",
        per_database=True,
        small=RENDER_SMALL,
        full=RENDER_FULL,
    ),
    Measure(
        "render_growth",
        "render time growth, 10x objects (time ratio / 10)",
        "not measured",
        "<= 1.0 (linear or better)",
        at_most(1.0),
        "render on write",
        "bench_render.py",
        per_database=True,
        small=RENDER_SMALL,
        full=RENDER_FULL,
    ),
    Measure(
        "puts_per_s",
        "single-host PUTs through gunicorn, 50 threads (/s)",
        "30/s, p95 2.5 s, 14 reloads",
        ">= 200/s, p95 <= 250 ms, <= 5 reloads",
        at_least(200),
        "write path",
        "bench_registrations.py",
        per_database=False,  # the bench starts its own PostgreSQL (and worker, core, gunicorn)
        small=WRITES_SMALL,
        full=WRITES_FULL,
    ),
    Measure(
        "puts_wait_reloads",
        "same, each client waiting for its confirmation (reloads)",
        "67 reloads",
        "<= 10 reloads, all confirmed",
        at_most(10),
        "write path",
        "bench_registrations.py",
        per_database=False,  # the bench starts its own PostgreSQL (and worker, core, gunicorn)
        small=(*WRITES_SMALL, "--wait", "30"),
        full=(*WRITES_FULL, "--wait", "30"),
    ),
    Measure(
        "bulk_resend_s",
        "bulk re-send of 1,000 unchanged hosts (s)",
        "23 s",
        "<= 1 s",
        at_most(1.0),
        "write path",
        "bench_registrations.py",
        per_database=False,  # the bench starts its own PostgreSQL (and worker, core, gunicorn)
        small=WRITES_SMALL,
        full=WRITES_FULL,
    ),
    Measure(
        "livestatus_reply_ratio",
        "Livestatus client, 100,000-row reply vs socket read + GC-paused json.loads",
        "2.4x",
        "<= 1.5x, ahead of every peer library",
        at_most(1.5),
        "Livestatus client",
        "bench_livestatus.py",
        small=("--repeat", "3", "--no-install"),
        full=("--repeat", "7"),
    ),
    Measure(
        "livestatus_fan_out_ratio",
        "fan-out over 4 nodes x 25,000 rows vs the slowest node alone",
        "1.20x",
        "<= 1.1x",
        at_most(1.1),
        "Livestatus client",
        "bench_livestatus.py",
        small=("--repeat", "3", "--no-install"),
        full=("--repeat", "7"),
    ),
    Measure(
        "notify_filter_ratio",
        "notify-filter vs `python3 -c pass` (worst case)",
        "1.21x; 1.67x with a time window",
        "<= 1.15x in every case",
        at_most(1.15),
        "notify-filter",
        "bench_notify_filter.py",
        small=("--runs", "60"),
    ),
)


def databases() -> list[tuple[str, dict[str, str]]]:
    """SQLite always; PostgreSQL when DATABASE_URL names one."""
    base = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    found = [
        ("SQLite", {**base, "DATABASE_URL": f"sqlite:///{REPO_ROOT / 'var' / 'bench' / 'table.sqlite3'}"})
    ]
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        found.append(("PostgreSQL", {**base, "DATABASE_URL": url}))
    return found


def run_script(script: str, args: tuple[str, ...], env: dict[str, str], timeout: float) -> dict[str, object]:
    """Run one benchmark with --table-json; its measures, or {"_error": why}."""
    command = [sys.executable, str(BENCH / script), "--table-json", *args]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"_error": f"timed out after {timeout:.0f}s"}
    # The script's own report (its full tables) for a reader who wants more than the row.
    label = "_".join(arg.lstrip("-") for arg in args) or "default"
    log = REPO_ROOT / "var" / "bench" / f"run_all-{Path(script).stem}-{label}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(f"$ {' '.join(command)}\n{result.stdout}\n{result.stderr}")
    lines = result.stdout.strip().splitlines()
    if result.returncode == 0 and lines:
        try:
            measures = json.loads(lines[-1])
        except ValueError:
            measures = None
        if isinstance(measures, dict):
            return measures
        if result.returncode == 0:
            return {}  # ran, but does not report table rows yet (not argparse: the flag passed unseen)
    if "--table-json" in result.stderr and "unrecognized" in result.stderr:
        return {}  # the script does not report table rows yet
    return {"_error": (result.stderr.strip() or result.stdout.strip())[-300:] or f"exit {result.returncode}"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--full", action="store_true", help="the issue's sizes (minutes and GBs per row)")
    parser.add_argument("--only", nargs="*", metavar="KEY", help="only these rows (keys listed with --list)")
    parser.add_argument("--list", action="store_true", help="list the rows' keys and exit")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per benchmark script")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    if args.list:
        for measure in MEASURES:
            print(f"{measure.key:<26} {measure.label}  [{measure.script}]")
        return 0
    wanted = [m for m in MEASURES if not args.only or m.key in args.only]
    unknown = set(args.only or ()) - {m.key for m in MEASURES}
    if unknown:
        parser.error(f"unknown rows {sorted(unknown)}; see --list")

    started = time.perf_counter()
    # One run per (script, arguments, database): several rows share a run.
    runs: dict[tuple[str, tuple[str, ...], str], dict[str, object]] = {}
    table: list[dict[str, object]] = []
    for measure in wanted:
        where = databases() if measure.per_database else [("-", dict(os.environ))]
        for database, env in where:
            args_used = measure.full if args.full else measure.small
            key = (measure.script, args_used, database)
            if key not in runs:
                print(f"  running {measure.script} {' '.join(args_used)} ({database}) ...", flush=True)
                runs[key] = run_script(measure.script, args_used, env, args.timeout)
            figures = runs[key]
            value = figures.get(measure.key)
            if isinstance(value, int | float):
                text = str(figures.get(f"{measure.key}_text", f"{value:.2f}"))
                verdict = "met" if measure.met(float(value)) else "missed"
            elif "_error" in figures:
                text, verdict = f"failed: {figures['_error']}", "missed"
            else:
                text, verdict = f"not measured (owner: {measure.owner})", "-"
            table.append(
                {
                    "key": measure.key,
                    "measure": measure.label,
                    "database": database,
                    "before": measure.today,
                    "today": text,
                    "value": value,
                    "goal": measure.goal,
                    "verdict": verdict,
                }
            )

    print(
        f"\nIssue 19's table ({'full' if args.full else 'small'} sizes), {time.perf_counter() - started:.0f}s:\n"
    )
    print("| measure | database | before | today | goal | |")
    print("|---|---|---|---|---|---|")
    for row in table:
        print(
            f"| {row['measure']} | {row['database']} | {row['before']} | {row['today']} | {row['goal']} "
            f"| {row['verdict']} |"
        )
    if args.json:
        args.json.write_text(json.dumps(table, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
