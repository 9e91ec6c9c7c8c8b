"""Take core files of running processes with gdb's ``gcore``, for the tests.

    core_run(program, version) -> CoreRun(core, dump, binary, facts, version)
        runs tests/goprogs/<program> (built with Go ``version``), which writes a heap dump,
        prints one JSON line of facts (its pid among them) and then blocks without allocating;
        takes its core with ``gcore``, kills it. Cached under CACHE/cores, keyed like the dumps.
    gcore_of(argv, dest) -> the core of a process started with ``argv`` (e.g. ``sleep 100``),
        taken as soon as it runs and written to ``dest``.
    crash_run(program, version) -> CoreRun
        runs tests/goprogs/<program>, which writes a heap dump, prints its facts and crashes,
        with GOTRACEBACK=crash in a fresh folder (the kernel's core_pattern must be a plain file
        name: "core" or "core.%p", written in the process's cwd) and RLIMIT_CORE raised in the
        child; the core is the kernel's. Cached under CACHE/cores as <binary>.crash.core etc.

A core holds every mapping of the process: a Go program's reserved (PROT_NONE) address space
makes it ~1.2 GB for a few MB of heap. ``fallocate --dig-holes`` turns its zero blocks into holes,
leaving a few MB on disk; the size the file claims is unchanged (a reader cannot tell).
"""

from __future__ import annotations

import json
import os
import resource
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from gotools import CACHE, DUMP_HEADER, _lock, _tmp_beside, build

GCORE = shutil.which("gcore")
FALLOCATE = shutil.which("fallocate")
FACTS_TIMEOUT = 120  # seconds for the program to build its heap and write its dump
GCORE_TIMEOUT = 300


@dataclass
class CoreRun:
    core: Path  # the core of the running program, taken after it wrote its dump
    dump: Path  # the heap dump it wrote just before
    binary: Path
    facts: dict  # the JSON object it printed
    version: str


def core_run(program: str, version: str) -> CoreRun:
    """The core, heap dump and facts of one run of ``program`` built with Go ``version``."""
    binary = build(program, version)
    base = CACHE / "cores" / binary.name
    core, dump, facts_file = (base.with_name(base.name + s) for s in (".core", ".dump", ".json"))
    if not (core.exists() and dump.exists() and facts_file.exists()):
        with _lock(f"core-{binary.name}"):
            if not (core.exists() and dump.exists() and facts_file.exists()):
                _take(program, version, binary, core, dump, facts_file)
    return CoreRun(core, dump, binary, json.loads(facts_file.read_text()), version)


def _take(program: str, version: str, binary: Path, core: Path, dump: Path,
          facts_file: Path) -> None:
    if GCORE is None:
        raise RuntimeError("gcore (Debian package gdb) is not installed")
    core.parent.mkdir(parents=True, exist_ok=True)
    tmp_core, tmp_dump, tmp_facts = (_tmp_beside(p) for p in (core, dump, facts_file))
    what = f"{program} (go {version})"
    p = subprocess.Popen([str(binary), str(tmp_dump)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        facts = _facts_line(p, what)
        if facts.get("pid") != p.pid:
            raise RuntimeError(f"{what} printed pid {facts.get('pid')}, it is {p.pid}")
        with open(tmp_dump, "rb") as f:
            if f.read(len(DUMP_HEADER)) != DUMP_HEADER:
                raise RuntimeError(f"{what} wrote no heap dump header to {tmp_dump}")
        _gcore(p.pid, tmp_core, what)
        tmp_facts.write_text(json.dumps(facts, indent=1, sort_keys=True) + "\n")
        os.replace(tmp_dump, dump)
        os.replace(tmp_core, core)
        os.replace(tmp_facts, facts_file)
    finally:
        p.kill()
        p.communicate(timeout=30)
        for t in (tmp_core, tmp_dump, tmp_facts):
            t.unlink(missing_ok=True)


def _facts_line(p: subprocess.Popen, what: str) -> dict:
    """The first line the program prints, as a JSON object (it keeps running)."""
    assert p.stdout is not None
    ready, _, _ = select.select([p.stdout], [], [], FACTS_TIMEOUT)
    line = p.stdout.readline() if ready else ""
    if not line:
        p.kill()
        _, err = p.communicate(timeout=30)
        raise RuntimeError(f"{what} printed no facts line (exit {p.returncode}):\n{err[-4000:]}")
    facts = json.loads(line)
    if not isinstance(facts, dict):
        raise RuntimeError(f"{what} printed {line!r}, not a JSON object")
    return facts


def _gcore(pid: int, dest: Path, what: str) -> None:
    """Write the core of process ``pid`` to ``dest`` (sparse where it is zeros)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".gcore-", dir=dest.parent) as tmp:
        prefix = Path(tmp) / "core"
        r = subprocess.run([GCORE, "-o", str(prefix), str(pid)], capture_output=True, text=True,
                           timeout=GCORE_TIMEOUT)
        out = prefix.with_name(f"core.{pid}")
        if r.returncode != 0 or not out.exists():
            raise RuntimeError(f"gcore of {what} (pid {pid}) failed, exit {r.returncode}:\n"
                               f"{r.stdout[-2000:]}{r.stderr[-4000:]}")
        if FALLOCATE:
            subprocess.run([FALLOCATE, "--dig-holes", str(out)], capture_output=True,
                           timeout=GCORE_TIMEOUT)
        os.replace(out, dest)


def gcore_of(argv: list[str], dest: Path) -> Path:
    """The core of a process started with ``argv``, written to ``dest``."""
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        exe = os.path.realpath(shutil.which(argv[0]) or argv[0])
        deadline = time.monotonic() + 30
        while os.path.realpath(f"/proc/{p.pid}/exe") != exe:  # until it has exec'd
            if time.monotonic() > deadline or p.poll() is not None:
                raise RuntimeError(f"{argv} did not start")
            time.sleep(0.01)
        _gcore(p.pid, dest, " ".join(argv))
    finally:
        p.kill()
        p.wait(timeout=30)
    return dest


CRASH_TIMEOUT = 300


def crash_run(program: str, version: str) -> CoreRun:
    """The kernel-written core, heap dump and facts of ``program`` (built with Go ``version``)
    crashing with GOTRACEBACK=crash after writing its dump."""
    binary = build(program, version)
    base = CACHE / "cores" / (binary.name + ".crash")
    core, dump, facts_file = (base.with_name(base.name + s) for s in (".core", ".dump", ".json"))
    if not (core.exists() and dump.exists() and facts_file.exists()):
        with _lock(f"crash-{binary.name}"):
            if not (core.exists() and dump.exists() and facts_file.exists()):
                _crash(program, version, binary, core, dump, facts_file)
    return CoreRun(core, dump, binary, json.loads(facts_file.read_text()), version)


def _core_limit() -> None:  # in the child, before exec
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def _crash(program: str, version: str, binary: Path, core: Path, dump: Path,
           facts_file: Path) -> None:
    what = f"{program} (go {version})"
    pattern = Path("/proc/sys/kernel/core_pattern").read_text().strip()
    if pattern.startswith("|") or "/" in pattern:
        raise RuntimeError(f"core_pattern is {pattern!r}: the kernel does not write the core of "
                           f"{what} into its working directory")
    core.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".crash-", dir=core.parent) as tmp:
        cwd = Path(tmp)
        env = dict(os.environ, GOTRACEBACK="crash")
        p = subprocess.run([str(binary), str(cwd / "dump")], cwd=cwd, env=env,
                           capture_output=True, text=True, timeout=CRASH_TIMEOUT,
                           preexec_fn=_core_limit)
        lines = p.stdout.splitlines()
        facts = json.loads(lines[0]) if lines else None
        if not isinstance(facts, dict):
            raise RuntimeError(f"{what} printed no facts line (exit {p.returncode}):\n"
                               f"{p.stderr[-4000:]}")
        out = [c for c in (cwd / "core", cwd / f"core.{facts.get('pid')}") if c.exists()]
        if not out:
            raise RuntimeError(f"{what} exited {p.returncode} and left no core in {cwd} "
                               f"(core_pattern {pattern!r}):\n{p.stderr[-4000:]}")
        with open(cwd / "dump", "rb") as f:
            if f.read(len(DUMP_HEADER)) != DUMP_HEADER:
                raise RuntimeError(f"{what} wrote no heap dump header")
        if FALLOCATE:
            subprocess.run([FALLOCATE, "--dig-holes", str(out[0])], capture_output=True,
                           timeout=CRASH_TIMEOUT)
        facts["exit"] = p.returncode
        facts["stderr_head"] = p.stderr[:300]  # the panic message, before the stacks
        (cwd / "facts").write_text(json.dumps(facts, indent=1, sort_keys=True) + "\n")
        os.replace(cwd / "dump", dump)
        os.replace(out[0], core)
        os.replace(cwd / "facts", facts_file)
