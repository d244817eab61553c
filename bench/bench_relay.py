"""Wall time of one portal-relay process beside a bare interpreter start.

    .venv/bin/python bench/bench_relay.py [--runs 200]

Naemon starts the relay once per check of every object its node checks (its OCSP/OCHP
command), in a check worker: what counts is the whole process - interpreter start, imports,
parsing, one non-blocking write to a command FIFO (a reader thread drains it, as the core's
command worker does) or one Livestatus command to a loopback server. Each case runs ``--runs``
times, interleaved with ``python -c pass`` on the same interpreter; prints medians, p90 and the
ratio to ``python -c pass``. Bytecode is cached in a temporary PYTHONPYCACHEPREFIX.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.services.replay import ReplayServer  # noqa: E402 - after the path set-up

# What the ``portal-relay`` console script runs (pip's wrapper, minus argv[0] fix-up).
SCRIPT = "import sys; from livestatus.relay import main; sys.exit(main())"
RESULT = [
    "service",
    "web7",
    "HTTPS",
    "2",
    "1700000000",
    "HTTP CRITICAL - 503",
    "line 1\\nline 2",
    "time=0.2s",
]


def drain(fd: int, stop: threading.Event, lines: list[int]) -> None:
    """The core's side of the FIFO: read whatever arrives, count lines."""
    while not stop.is_set():
        try:
            lines[0] += os.read(fd, 65536).count(b"\n")
        except BlockingIOError:
            time.sleep(0.001)


def main() -> None:
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 200
    with tempfile.TemporaryDirectory() as tmp, ReplayServer(lambda request: b"") as livestatus:
        root = Path(tmp)
        fifo = root / "naemon.cmd"
        os.mkfifo(fifo)
        fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
        stop, lines = threading.Event(), [0]
        reader = threading.Thread(target=drain, args=(fd, stop, lines), daemon=True)
        reader.start()
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
        log = ["--log", str(root / "relay.log")]
        cases = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "portal-relay, 1 command file": [sys.executable, "-c", SCRIPT, *log, "--to", f"cmdfile:{fifo}", *RESULT],
            "portal-relay, 1 Livestatus (unix)": [
                sys.executable, "-c", SCRIPT, *log, "--to", f"livestatus:{livestatus.address}", *RESULT,
            ],
            "portal-relay, 2 masters (FIFO + Livestatus)": [
                sys.executable, "-c", SCRIPT, *log,
                "--to", f"cmdfile:{fifo}", "--to", f"livestatus:{livestatus.address}", *RESULT,
            ],
        }  # fmt: skip
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
        stop.set()
        reader.join(5)
        os.close(fd)

        failures = (root / "relay.log").read_text() if (root / "relay.log").exists() else ""
        assert not failures, failures.splitlines()[-1]
        assert lines[0] == (runs + 3) * 2, f"{lines[0]} lines reached the FIFO"
        assert len(livestatus.requests) == (runs + 3) * 2, "one command per Livestatus relay"

        base = statistics.median(times["python -c pass"])
        print(f"{runs} runs per case, interleaved, {elapsed:.0f} s; {sys.executable}")
        print(f"{'case':46} {'median':>9} {'p90':>9} {'ratio':>7}")
        for name, samples in times.items():
            median = statistics.median(samples)
            p90 = statistics.quantiles(samples, n=10)[-1]
            print(f"{name:46} {median * 1000:7.1f}ms {p90 * 1000:7.1f}ms {median / base:6.2f}x")


if __name__ == "__main__":
    main()
