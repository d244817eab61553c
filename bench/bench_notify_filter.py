"""Wall time of one notify-filter process beside a bare interpreter start.

    .venv/bin/python bench/bench_notify_filter.py [--runs 200]

Naemon starts the filter once per contact and notification, so what counts is
the whole process: interpreter start, imports, reading one contact's snapshot
file, evaluating, recording the sent problem, logging. Each case runs the
filter in its gate form (no real command to exec) ``--runs`` times, interleaved
with ``python3 -c pass`` on the same interpreter, and prints medians and the
ratio to ``python3 -c pass`` (issue 19's measure). Two ways to start it, in the
same run: ``console script`` is what pip writes (runs site: the virtualenv's
.pth files, the editable-install hook), ``launcher`` what scripts/venv.sh and
the Dockerfile put in its place (preferences/launcher.py: ``-I -S``).
``python3 -S``/``-I -S -c pass`` are printed for information. Snapshots: 10
rules in total (2 contacts), and 100,000 rules over 10,000 contacts; the
evaluated contact has 10 rules and the deciding rule is the last but one.

Bytecode is cached: in a temporary PYTHONPYCACHEPREFIX for the console script
(as an installed package would have it), whatever PYTHONDONTWRITEBYTECODE says;
the launcher ignores the environment (-I) and uses the checkout's __pycache__.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from preferences import launcher, snapshot  # noqa: E402 - after the path set-up


def contact_rules(user: int, *, window: bool) -> list[dict[str, object]]:
    """Ten rules of the kinds people write; rule 9 decides for the benchmark's notification."""
    rules: list[dict[str, object]] = [
        {"id": user * 10 + 0, "action": "suppress", "hosts": [f"test-{user}-*", "staging*"]},
        {"id": user * 10 + 1, "action": "suppress", "hostgroups": ["dev", "lab-*"]},
        {"id": user * 10 + 2, "action": "notify", "channels": ["sms"], "states": ["CRITICAL"]},
        {"id": user * 10 + 3, "action": "suppress", "types": ["FLAPPINGSTART", "FLAPPINGSTOP"]},
        {"id": user * 10 + 4, "action": "suppress", "services": ["Backup*", "*-nightly"]},
        {"id": user * 10 + 5, "action": "notify", "servicegroups": ["payments"]},
        {"id": user * 10 + 6, "action": "suppress", "hosts": [f"db{user}", "db-[0-9]*"]},
        {"id": user * 10 + 7, "action": "suppress", "states": ["WARNING", "UNKNOWN"]},
        {"id": user * 10 + 8, "action": "notify", "hostgroups": ["web"], "states": ["CRITICAL"]},
        {"id": user * 10 + 9, "action": "suppress"},
    ]
    if window:
        # Evaluated in the contact's zone, so zoneinfo is imported; open all but one minute.
        rules[8].update(start="00:00", end="23:59")
    return rules


def write_snapshots(root: Path) -> dict[str, Path]:
    small = root / "small"
    # As the portal publishes it: with the cluster part, this node the notifier (the gate reads it).
    cluster = snapshot.cluster_part("n1", ["n1", "n2", "p1"], {"db": "p1"}, {"": "n1", "p1": "p1"})
    snapshot.write_snapshot(
        small,
        {
            "user42": {"rules": contact_rules(42, window=False)[5:]},
            "other": {"rules": contact_rules(1, window=False)[:5]},
        },
        cluster=cluster,
    )
    large = root / "large"
    started = time.perf_counter()
    contacts: dict[str, dict[str, object]] = {
        f"user{user}": {
            "rules": contact_rules(user, window=user == 42),
            "default": "notify",
            "timezone": "Europe/Paris",
        }
        for user in range(10_000)
    }
    snapshot.write_snapshot(large, contacts, cluster=cluster)
    print(f"wrote 100,000 rules for 10,000 contacts in {time.perf_counter() - started:.1f} s")
    return {"small": small, "large": large}


# What pip writes for the ``notify-filter`` console script (``before``: what Naemon ran until the
# launcher replaced it).
PIP_SCRIPT = """#!{python}
import sys
from preferences.notify_filter import main
if __name__ == '__main__':
    sys.argv[0] = sys.argv[0].removesuffix('.exe')
    sys.exit(main())
"""


def programs(root: Path) -> dict[str, Path]:
    """pip's console script and the launcher (preferences/launcher.py), both for this checkout."""
    pip_script = root / "bin" / "notify-filter-pip"
    pip_script.parent.mkdir()
    pip_script.write_text(PIP_SCRIPT.format(python=sys.executable))
    pip_script.chmod(0o755)
    lean = root / "bin" / "notify-filter"
    launcher.install(str(lean), sys.executable, str(REPO))
    return {"console script": pip_script, "launcher": lean}


def filter_argv(program: Path, snapshot_dir: Path, root: Path, contact: str) -> list[str]:
    return [
        str(program),
        "--contact",
        contact,
        "--channel",
        "email",
        "--type",
        "PROBLEM",
        "--host",
        "web7",
        "--hostgroups",
        "web,linux,prod",
        "--service",
        "HTTPS",
        "--servicegroups",
        "frontend",
        "--state",
        "CRITICAL",
        "--id",
        "1234",
        "--problem-id",
        "99",
        "--snapshot-dir",
        str(snapshot_dir),
        "--state-dir",
        str(root / "sent"),
        "--log",
        str(root / "decisions.log"),
    ]


def main() -> None:
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 200
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "sent").mkdir()
        dirs = write_snapshots(root)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
        large, small = dirs["large"], dirs["small"]
        # In the large snapshot only user42's deciding rule has a time window. Every ratio is to
        # `python3 -c pass` (issue 19); the -S and -I -S starts are printed for information: the
        # floor a launcher without site can reach.
        cases: dict[str, list[str]] = {
            "python3 -c pass": [sys.executable, "-c", "pass"],
            "python3 -S -c pass (information)": [sys.executable, "-S", "-c", "pass"],
            "python3 -I -S -c pass (information)": [sys.executable, "-I", "-S", "-c", "pass"],
        }
        for kind, program in programs(root).items():
            cases[f"{kind}: 10 rules in total"] = filter_argv(program, small, root, "user42")
            cases[f"{kind}: 100,000 rules / 10,000 users"] = filter_argv(program, large, root, "user4242")
            cases[f"{kind}:   same, deciding rule has a time window"] = filter_argv(
                program, large, root, "user42"
            )
        filters = [name for name in cases if not name.startswith("python3")]

        for argv in cases.values():  # warm caches, compile bytecode
            for _ in range(3):
                subprocess.run(argv, cwd=REPO, env=env, check=False)
        times: dict[str, list[float]] = {name: [] for name in cases}
        started = time.perf_counter()
        for _ in range(runs):
            for name, argv in cases.items():
                before = time.perf_counter()
                subprocess.run(argv, cwd=REPO, env=env, check=False)
                times[name].append(time.perf_counter() - before)
        elapsed = time.perf_counter() - started

        log = (root / "decisions.log").read_text().splitlines()
        assert len(log) == (runs + 3) * len(filters), "one decision per filter run"
        assert not [line for line in log if "fail open" in line], log[-1]

        medians = {name: statistics.median(samples) for name, samples in times.items()}
        print(f"{runs} runs per case, interleaved, {elapsed:.0f} s; {sys.executable}")
        print(f"{'case':56} {'median':>9} {'p90':>9} {'ratio':>7}")
        for name, samples in times.items():
            median = medians[name]
            p90 = statistics.quantiles(samples, n=10)[-1]
            ratio = median / medians["python3 -c pass"]
            print(f"{name:56} {median * 1000:7.1f}ms {p90 * 1000:7.1f}ms {ratio:6.2f}x")
        if "--table-json" in sys.argv:  # bench/run_all.py: the worst case as Naemon runs the filter
            worst = max((name for name in filters if name.startswith("launcher")), key=medians.__getitem__)
            ratio = medians[worst] / medians["python3 -c pass"]
            print(
                json.dumps(
                    {
                        "notify_filter_ratio": ratio,
                        "notify_filter_ratio_text": f"{ratio:.2f}x (worst: {' '.join(worst.split())})",
                    }
                )
            )


if __name__ == "__main__":
    main()
