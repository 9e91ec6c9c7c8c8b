"""Compare this checkout with an older commit on one command, in alternating runs (the machine's
speed drifts; runs side by side share it): medians, minimums and the ratio of medians.

    .venv/bin/python bench/compare.py --base 11fc904 --runs 7
    .venv/bin/python bench/compare.py --base HEAD~3 --runs 5 -- --address 0x... --hexdump

The older commit is checked out in build/compare-REV (a git worktree) with its C extensions
built in place. The default command is the cold question of bench/run.py: the index built
(--no-cache) and --anchors of the first record, on the benchmark dump (tests/goprogs/big).
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
sys.path.insert(0, str(ROOT / "bench"))

from gotools import NEWEST, run_dump  # noqa: E402
from run import prewarm  # noqa: E402


def checkout(rev: str) -> Path:
    sha = subprocess.run(["git", "rev-parse", "--short", rev], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.strip()
    tree = ROOT / "build" / f"compare-{sha}"
    if not tree.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), sha], cwd=ROOT,
                       check=True, capture_output=True)
        subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=tree,
                       check=True, capture_output=True)
        # Byte-compiled like this checkout (scripts/setup.sh), so neither pays for compiling.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        subprocess.run([sys.executable, "-m", "compileall", "-q", "heapspurs"], cwd=tree,
                       env=env, check=True, capture_output=True)
    return tree


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="the older commit")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--n", type=int, default=1_400_000, help="records in the benchmark heap")
    ap.add_argument("--prewarm-mb", type=int, default=1500,
                    help="touch this much memory before each run (see bench/run.py)")
    ap.add_argument("args", nargs="*", help="heapspurs arguments after the dump")
    opts = ap.parse_args()
    run = run_dump("big", NEWEST, str(opts.n))
    args = opts.args or ["--address", run.facts["first_record"], "--anchors", "--no-cache"]
    trees = {"base " + opts.base: checkout(opts.base), "this checkout": ROOT}
    times: dict[str, list[float]] = {name: [] for name in trees}
    for _ in range(opts.runs):
        for name, tree in trees.items():
            prewarm(opts.prewarm_mb)
            env = dict(os.environ, PYTHONPATH=str(tree))
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "heapspurs", str(run.dump), *args], cwd=tree,
                           env=env, check=True, stdout=subprocess.DEVNULL)
            times[name].append(time.perf_counter() - start)
    for name, ts in times.items():
        print(f"{name:<24} median {statistics.median(ts):.2f} s  min {min(ts):.2f} s")
    base, this = (statistics.median(ts) for ts in times.values())
    print(f"ratio of medians (base / this): {base / this:.2f}")


if __name__ == "__main__":
    main()
