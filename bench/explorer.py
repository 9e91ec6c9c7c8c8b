"""Benchmark the explorer (``--http``) on the big benchmark heap: the median time of each page and
API call once the index (and its dominator tree and typing) is built, and the server's peak RSS
against the warm command line's for the same questions.

    .venv/bin/python bench/explorer.py                # N = 1,400,000 records (~4.5 M objects)
    .venv/bin/python bench/explorer.py --n 350000 --runs 5
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from gotools import NEWEST, run_dump  # noqa: E402
from run import HEAPSPURS, measure  # noqa: E402


def rss_mb(pid: int, key: str) -> float:
    """VmHWM (peak) or VmRSS (now) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_400_000, help="records in the big heap")
    ap.add_argument("--runs", type=int, default=3, help="requests per URL (median reported)")
    args = ap.parse_args()
    run = run_dump("big", NEWEST, str(args.n))
    exe = [*HEAPSPURS, str(run.dump), "--program", str(run.binary)]
    target = run.facts["first_record"]
    questions = {  # API path -> the command line asking the same
        "api/summary": [],
        f"api/anchors?address={target}": ["--address", target, "--anchors"],
        f"api/owners?address={target}&depth=1": ["--address", target, "--owners", "1"],
        f"api/hexdump?address={target}": ["--address", target, "--hexdump"],
        f"api/retained?address={target}": ["--address", target, "--retained"],
        "api/top?n=20": ["--top", "20"],
        "api/suspects": ["--suspects"],
        "api/goroutines": ["--goroutines"],
        "api/histogram": ["--histogram"],
        "api/children": None,
        f"api/children?address={target}": None,
        "": None,  # the overview page
        f"object/{target}": None,
        f"graph/{target}.svg": None,  # (the command line's graph is measured too, below)
        "tree": None,
        "flame": None,
    }
    for cmd in ([*exe, "--top", "1"], [*exe, "--address", target, "--anchors"]):
        measure(cmd)  # the cache: index, dominator tree, typing
    cli = [[*exe, *q, "--json"] for q in questions.values() if q is not None]
    cli.append([*exe, "--address", target, "-o", str(ROOT / "build" / "bench-explorer.svg")])
    cli_rss = max(measure(cmd)[1] for cmd in cli)
    server = subprocess.Popen([*exe, "--http", ":0", "--no-browser"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    try:
        url = re.search(r"http://\S+/", server.stdout.readline()).group(0)
        print(f"big: {run.dump} ({run.dump.stat().st_size / 1e6:.0f} MB, N = {args.n})")
        print(f"{'request':<60} {'median ms':>10} {'first ms':>9}")
        for path in questions:
            times = []
            for _ in range(args.runs + 1):
                start = time.perf_counter()
                with urllib.request.urlopen(url + path, timeout=600) as r:
                    r.read()
                times.append((time.perf_counter() - start) * 1000)
            print(f"{'/' + path:<60} {statistics.median(times[1:]):>10.0f} {times[0]:>9.0f}",
                  flush=True)
        print(f"server RSS {rss_mb(server.pid, 'VmRSS'):.0f} MB after answering all (peak "
              f"{rss_mb(server.pid, 'VmHWM'):.0f} MB); warm command line, the same questions: "
              f"at most {cli_rss:.0f} MB")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
