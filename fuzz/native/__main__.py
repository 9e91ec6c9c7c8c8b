"""``python -m fuzz.native seeds|run|stats TARGET ...``: the pieces scripts/fuzz-native.sh runs.

    seeds TARGET            write the seeds and dictionary of TARGET under .fuzz/ (once)
    run TARGET ARGS...      fuzz TARGET with libFuzzer ARGS (corpus folders, -max_total_time=N,
                            ...); needs the sanitized build and the ASan runtime preloaded
    stats TARGET LOG        one line of figures from a run's log: executions, edges, features,
                            corpus size, findings
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

TARGETS = ("dump", "arrays", "dwarf")
REPORT = re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|"
                    r"ERROR: libFuzzer|deadly signal|Uncaught Python exception|"
                    r"ERROR: UndefinedBehaviorSanitizer|SUMMARY: \w+Sanitizer")


def run(target: str, args: list[str]) -> None:
    import atheris

    from fuzz.native import sanitized

    modules = sanitized.install()
    module = __import__(f"fuzz.native.{target}", fromlist=["test_one_input"])
    module.setup(modules)
    atheris.Setup([sys.argv[0], *args], module.test_one_input)
    atheris.Fuzz()


def stats(target: str, log: Path) -> tuple[str, int]:
    text = log.read_text(errors="replace")
    status = re.findall(r"^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/", text, re.M)
    execs = re.findall(r"stat::number_of_executed_units: (\d+)", text)
    done = re.findall(r"Done (\d+) runs in (\d+) second", text)
    reports = REPORT.findall(text)
    written = set(re.findall(r"Test unit written to (\S+)", text))
    slow = sorted(w for w in written if "/slow-unit-" in w)
    findings = max(len(written) - len(slow), 1 if reports else 0)
    executions = int(execs[-1]) if execs else int(status[-1][0]) if status else 0
    cov, ft, corp = (status[-1][1:] if status else ("0", "0", "0"))
    seconds = done[-1][1] if done else "?"
    line = (f"target={target} seconds={seconds} executions={executions} edges={cov} "
            f"features={ft} corpus={corp} findings={findings}")
    if slow:  # over 10 s once; not a finding by itself (the script runs each again)
        line += f" slow_units={len(slow)}"
    files = per_file(text)
    if files:
        line += "\n  covered edges per file (-print_coverage=1): " + ", ".join(
            f"{name} {got}/{total}" for name, (got, total) in sorted(files.items()) if got)
    return line, findings


def per_file(text: str) -> dict[str, tuple[int, int]]:
    """Covered and instrumented edges per source file, from libFuzzer's -print_coverage=1."""
    files: dict[str, tuple[int, int]] = {}
    for got, total, path in re.findall(
            r"^(?:UN)?COVERED_FUNC: hits: \d+ edges: (\d+)/(\d+) \S+ (\S+?):\d+", text, re.M):
        name = path.rsplit("/", 1)[-1]
        g, t = files.get(name, (0, 0))
        files[name] = (g + int(got), t + int(total))
    return files


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("seeds", "run", "stats") or argv[1] not in TARGETS:
        print(__doc__, file=sys.stderr)
        return 2
    command, target = argv[0], argv[1]
    if command == "seeds":
        from fuzz.native.seeds import build

        build(target)
        return 0
    if command == "stats":
        line, findings = stats(target, Path(argv[2]))
        print(line)
        return 1 if findings else 0
    run(target, argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
