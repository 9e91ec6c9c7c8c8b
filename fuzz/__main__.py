"""``python -m fuzz --target reader|scan|index|all --seconds N``: mutate seed dumps, run them
through the target, stop at the first finding (saved under fuzz/findings/) or after N seconds,
and print the figures: executions, findings, worst seconds per MB, peak memory per input size."""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from pathlib import Path

from fuzz.mutate import mutate
from fuzz.seeds import seed_dumps
from fuzz.targets import TARGETS, Finding, run_one

FINDINGS = Path(__file__).resolve().parent / "findings"


def fuzz(target: str, seconds: float, seed: int, seeds: list[bytes],
         patience: float = 1.0) -> dict:
    rng = random.Random(seed)
    corpus = list(seeds)
    stats = {"target": target, "executions": 0, "findings": 0, "errors": 0,
             "worst_s_per_mb": 0.0, "largest_input": 0}
    start = time.monotonic()
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    while time.monotonic() - start < seconds:
        parent = rng.choice(corpus)
        data = mutate(parent, rng, rng.choice(corpus))
        stats["executions"] += 1
        stats["largest_input"] = max(stats["largest_input"], len(data))
        try:
            outcome, took = run_one(target, data, patience)
        except Finding as f:
            stats["findings"] += 1
            FINDINGS.mkdir(exist_ok=True)
            out = FINDINGS / f"{target}-{stats['executions']}.dump"
            out.write_bytes(data)
            print(f"FINDING ({target}): {f} -> {out}", file=sys.stderr)
            continue
        if outcome.startswith("error"):
            stats["errors"] += 1
        elif len(corpus) < 64 and rng.random() < 0.05:
            corpus.append(data)  # inputs that still parse make good parents
        mb = max(len(data), 1) / 1e6
        stats["worst_s_per_mb"] = max(stats["worst_s_per_mb"], took / mb if mb > 0.01 else 0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    stats["peak_rss_growth_mb"] = round((peak - base_rss) / 1024, 1)
    stats["seconds"] = round(time.monotonic() - start, 1)
    return stats


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", choices=[*TARGETS, "all"], default="all")
    ap.add_argument("--seconds", type=float, default=60.0, help="per target")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    seeds = seed_dumps()
    targets = list(TARGETS) if args.target == "all" else [args.target]
    found = 0
    for t in targets:
        stats = fuzz(t, args.seconds, args.seed, seeds)
        found += stats["findings"]
        print(" ".join(f"{k}={v}" for k, v in stats.items()), flush=True)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
