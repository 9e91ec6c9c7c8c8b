"""Benchmark indexing a Go core against indexing the same heap's dump (issue 20's acceptance: a
~1 GB heap's core indexed in at most twice the dump's time, with no more peak RSS).

    .venv/bin/python bench/core.py                 # N = 1,000,000 records
    .venv/bin/python bench/core.py --n 4000000 --runs 3

tests/goprogs/corebig (built with Go from PyPI like the tests) builds N records with pointers,
strings, maps, slices and interfaces, writes its heap dump and blocks; its core is taken with
gcore (as tests/coretools.py takes them) and both are cached under the tests' cache, keyed by
the program's source and N. Each row is the median of --runs runs of
``heapspurs --no-cache [--program BIN] FILE --top 1`` (index, dominators, one line), wall time
and peak RSS (os.wait4), stdout discarded. The core is compared with the dump read with the same
``--program`` (which types the heap); the dump alone is listed too. ``--code DIR`` times another
checkout (e.g. ``git archive`` of an older commit, with its C extensions built).

Measured (N = 5,000,000: a 1054 MB dump, 835 MB of core on disk; Go 1.27.3; 2 shared cores,
medians of 3), core against the dump with --program: before the vectorised span walk (3944a2f)
24.8 s / 2813 MB against 17.0 s / 2625 MB (1.46x time, 1.07x RSS); after, 19.6 s / 2589 MB
against 17.3 s / 2625 MB (1.13x, 0.99x). raw_scan_from_core alone: 12.3 s -> 4.9 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from coretools import _facts_line, _gcore  # noqa: E402
from gotools import CACHE, NEWEST, _lock, _tmp_beside, build  # noqa: E402

HEAPSPURS = [sys.executable, "-m", "heapspurs"]


def measure(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one run of ``cmd`` in ``cwd``, stdout discarded."""
    start = time.perf_counter()
    with open(os.devnull, "wb") as devnull:
        proc = subprocess.Popen(cmd, stdout=devnull, stderr=subprocess.PIPE, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode()}")
    return elapsed, usage.ru_maxrss / 1024


def core_of(n: int, version: str) -> tuple[Path, Path, Path]:
    """(core, dump, binary) of tests/goprogs/corebig with ``n`` records, cached."""
    binary = build("corebig", version)
    base = CACHE / "cores" / f"{binary.name}-{n}"
    core, dump = base.with_name(base.name + ".core"), base.with_name(base.name + ".dump")
    with _lock(f"core-{base.name}"):
        if not (core.exists() and dump.exists()):
            core.parent.mkdir(parents=True, exist_ok=True)
            tmp_core, tmp_dump = _tmp_beside(core), _tmp_beside(dump)
            p = subprocess.Popen([str(binary), str(tmp_dump), str(n)], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
            try:
                facts = _facts_line(p, f"corebig {n}")
                _gcore(p.pid, tmp_core, f"corebig {n}")
                os.replace(tmp_dump, dump)
                os.replace(tmp_core, core)
                print(f"took {core} ({json.dumps(facts)})", file=sys.stderr)
            finally:
                p.kill()
                p.communicate(timeout=30)
                for t in (tmp_core, tmp_dump):
                    t.unlink(missing_ok=True)
    return core, dump, binary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="records in the heap")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--version", default=NEWEST, help="Go release to build corebig with")
    ap.add_argument("--code", type=Path, default=ROOT,
                    help="the heapspurs checkout to time (its C extensions built), e.g. an "
                         "older commit's `git archive` for a before/after comparison")
    args = ap.parse_args()
    core, dump, binary = core_of(args.n, args.version)
    print(f"corebig N={args.n} go {args.version}: dump {dump.stat().st_size / 1e6:.0f} MB, "
          f"core {core.stat().st_size / 1e6:.0f} MB "
          f"({os.stat(core).st_blocks * 512 / 1e6:.0f} MB on disk)")
    prog = ["--program", str(binary)]
    rows = {
        "dump: --no-cache DUMP --top 1": [*HEAPSPURS, "--no-cache", str(dump), "--top", "1"],
        "dump: --no-cache --program BIN DUMP --top 1": [
            *HEAPSPURS, "--no-cache", *prog, str(dump), "--top", "1"],
        "core: --no-cache --program BIN CORE --top 1": [
            *HEAPSPURS, "--no-cache", *prog, str(core), "--top", "1"],
    }
    got = {}
    for name, cmd in rows.items():
        runs = [measure(cmd, args.code) for _ in range(args.runs)]
        t = statistics.median(r[0] for r in runs)
        rss = statistics.median(r[1] for r in runs)
        got[name] = (t, rss)
        print(f"{name:48s} {t:7.2f} s {rss:7.0f} MB", flush=True)
    _, (dt, drss), (ct, crss) = got.values()
    print(f"core / dump (both with --program, which types the heap): time {ct / dt:.2f}x, "
          f"peak RSS {crss / drss:.2f}x")


if __name__ == "__main__":
    main()
