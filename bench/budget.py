"""Benchmark a heap bigger than the memory you want to spend: tests/goprogs/big scaled to a
~4 GB dump, its first question built without a cap and with ``--memory``, alternately (the
machine's speed drifts), then the object questions on the cached index.

    .venv/bin/python bench/budget.py                      # N = 19,000,000 records: ~4 GB
    .venv/bin/python bench/budget.py --n 5600000 --memory 500M --runs 3
    .venv/bin/python bench/budget.py --warm-only           # the object questions only

Writing the dump takes ~30 s and ~5 GB of memory (the Go program holds the heap); the uncapped
build peaks near 7 GB, so the machine needs ~8 GB free, and ~14 GB of disk for the dump and
its index. Each cold run gets an empty cache folder of its own.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

import gotools  # noqa: E402
from run import HEAPSPURS, measure  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=19_000_000, help="records in the heap")
    ap.add_argument("--memory", default="1500M", help="the cap of the capped runs")
    ap.add_argument("--runs", type=int, default=3, help="runs per command (median reported)")
    ap.add_argument("--prewarm-mb", type=int, default=0,
                    help="touch this much memory before each cold run (see run.py prewarm)")
    ap.add_argument("--warm-only", action="store_true",
                    help="skip the cold builds: the object questions on the cached index")
    args = ap.parse_args()
    gotools.RUN_TIMEOUT = 3600  # writing a dump of this size takes a while
    run = gotools.run_dump("big", gotools.NEWEST, str(args.n))
    exe = [*HEAPSPURS, str(run.dump)]
    first, last = run.facts["first_record"], run.facts["last_record"]
    size_mb = run.dump.stat().st_size / 1e6
    print(f"huge: {run.dump} ({size_mb:.0f} MB, N = {args.n}, Go {run.version})")
    print(f"{'command':<64} {'median s':>9} {'min s':>7} {'peak RSS MB':>12}")

    def show(name: str, results: list[tuple[float, float]]) -> float:
        times = [t for t, _ in results]
        rss = max(r for _, r in results)
        print(f"{name:<64} {statistics.median(times):>9.2f} {min(times):>7.2f} {rss:>12.0f}",
              flush=True)
        return statistics.median(times)

    cap = ["--memory", args.memory]
    ask = [*exe, "--address", first, "--anchors"]
    cold = {
        "cold: index + --anchors, no cap (empty cache)": ([*ask], True),
        f"cold: index + --anchors, --memory {args.memory} (empty cache)": ([*ask, *cap], True),
        "cold: --no-cache --anchors, no cap": ([*ask, "--no-cache"], False),
        f"cold: --no-cache --anchors, --memory {args.memory}": ([*ask, "--no-cache", *cap],
                                                                 False),
    }
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in cold}
    for _ in range(0 if args.warm_only else args.runs):  # alternately: the pairs see the same drift
        for name, (cmd, fresh) in cold.items():
            results[name].append(measure(cmd, args.prewarm_mb, fresh_cache=fresh))
    if not args.warm_only:
        medians = {name: show(name, r) for name, r in results.items()}
        names = list(cold)
        for plain, capped in ((names[0], names[1]), (names[2], names[3])):
            print(f"{'  ratio capped / no cap':<64} {medians[capped] / medians[plain]:>9.2f}")

    # The warm questions, on the index cached by a capped build (in the default cache).
    measure([*ask, *cap])
    warm = {
        "warm: --anchors, the first record (every record reaches it)": [*ask],
        "warm: --anchors, the last record": [*exe, "--address", last, "--anchors"],
        "warm: --owners 1": [*exe, "--address", first, "--owners", "1"],
        "warm: --hexdump": [*exe, "--address", first, "--hexdump"],
        f"warm: --anchors, the first record, --memory {args.memory}": [*ask, *cap],
        f"warm: --anchors, the last record, --memory {args.memory}":
            [*exe, "--address", last, "--anchors", *cap],
    }
    for name, cmd in warm.items():
        show(name, [measure(cmd) for _ in range(args.runs)])


if __name__ == "__main__":
    main()
