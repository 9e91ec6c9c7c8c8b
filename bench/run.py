"""Benchmark heapspurs on a large real heap dump: medians of wall time and peak RSS per command.

    .venv/bin/python bench/run.py                 # N = 1,400,000 records: a ~294 MB dump
    .venv/bin/python bench/run.py --n 350000 --runs 5

The heap comes from tests/goprogs/big (records with pointers, strings, maps, slices and
interfaces held by globals, a few blocked goroutines), built with Go from PyPI like the tests.
Speed targets live here, not in timed tests.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from gotools import NEWEST, run_dump  # noqa: E402


def prewarm(megabytes: int) -> None:
    """Touch and free ``megabytes`` of memory right before a run. On this project's virtual
    machines memory the guest has not used for a couple of seconds goes back to the host
    (free page reporting), and touching it again costs 1.5-2.5 ms per MB (measured: 1 GB in
    1.45-2.4 s, against 0.07 s when it was freed just before): noise of the machine, not of
    the program, which a run straight after this does not see."""
    if megabytes > 0:  # in a process of its own, so that the memory is freed when it exits
        subprocess.run([sys.executable, "-c", "import numpy as np, sys; "
                        "np.ones(int(sys.argv[1]) << 17, np.uint64)", str(megabytes)],
                       check=True)


def measure(cmd: list[str], warm_mb: int = 0) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one run of ``cmd`` with stdout discarded."""
    prewarm(warm_mb)
    start = time.perf_counter()
    with open(os.devnull, "wb") as devnull:
        proc = subprocess.Popen(cmd, stdout=devnull, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode()}")
    return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_400_000, help="records in the heap")
    ap.add_argument("--runs", type=int, default=3, help="runs per command (median reported)")
    ap.add_argument("--only", default="", help="run only the rows whose name contains this")
    ap.add_argument("--prewarm-mb", type=int, default=0,
                    help="touch this much memory before each run of a cold row (see prewarm)")
    args = ap.parse_args()
    run = run_dump("big", NEWEST, str(args.n))
    size_mb = run.dump.stat().st_size / 1e6
    exe = [sys.executable, "-m", "heapspurs", str(run.dump)]
    target = run.facts["first_record"]
    (ROOT / "build").mkdir(exist_ok=True)
    oids = ROOT / "build" / "bench-oid.txt"  # Record.ID is its first word: ids 0..999 named
    oids.write_text("".join(f"{i} bench.Record{i % 10}\n" for i in range(1000)))
    ask = [*exe, "--address", target]
    commands = {
        "--print > /dev/null": [*exe, "--print"],
        "cold: index + --anchors": [*ask, "--anchors", "--no-cache"],
        "cold: index + summary": [*exe, "--no-cache"],
        "warm: --anchors": [*ask, "--anchors"],
        "warm: --owners 1": [*ask, "--owners", "1"],
        "warm: --hexdump": [*ask, "--hexdump"],
        "warm: summary (reachability)": exe,
        "warm: graph, most-owned object": [*ask, "-o", str(ROOT / "build" / "bench.svg")],
        "cold: index + dominators + --top 20": [*exe, "--top", "20", "--no-cache"],
        "warm: --top 20": [*exe, "--top", "20"],
        "warm: --suspects": [*exe, "--suspects"],
        "warm: --goroutines": [*exe, "--goroutines"],
        "warm: --histogram": [*exe, "--histogram"],
        "warm: --oid --find (1000 ids)": [*exe, "--oid", str(oids), "--find", r"Record7$"],
        "cold: --program --anchors (+typing)": [*ask, "--program", str(run.binary), "--anchors",
                                                "--no-cache"],
        "warm: --program --anchors": [*ask, "--program", str(run.binary), "--anchors"],
        "warm: --program --oid --print": [*exe, "--program", str(run.binary), "--oid",
                                          str(oids), "--print"],
    }
    commands = {k: v for k, v in commands.items() if args.only in k}
    measure([*ask, "--anchors"])  # fill the cache for the warm rows
    measure([*exe, "--top", "1"])  # ... and the dominator tree beside it
    measure([*ask, "--program", str(run.binary), "--anchors"])  # ... and the typing
    print(f"dump: {run.dump} ({size_mb:.0f} MB, N = {args.n}, Go {run.version})")
    print(f"{'command':<36} {'median s':>9} {'min s':>7} {'peak RSS MB':>12}")
    for name, cmd in commands.items():
        # Only the cold rows build their arrays afresh; warm ones read the cache.
        warm_mb = args.prewarm_mb if name.startswith("cold") else 0
        results = [measure(cmd, warm_mb) for _ in range(args.runs)]
        times = [t for t, _ in results]
        rss = max(r for _, r in results)
        print(f"{name:<36} {statistics.median(times):>9.2f} {min(times):>7.2f} {rss:>12.0f}")


if __name__ == "__main__":
    main()
