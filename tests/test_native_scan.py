"""The native scan against its specification, the pure-Python scan: identical on every dump,
and identical errors on damaged ones."""

from __future__ import annotations

import random

import numpy as np
import pytest
from gotools import NEWEST, run_dump

from heapspurs.format.errors import DumpFormatError
from heapspurs.format.reader import DumpReader
from heapspurs.scan.address_order import in_address_order
from heapspurs.scan.native_scan import AVAILABLE, scan_native
from heapspurs.scan.python_scan import scan_python

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="native scan not built")

SMALL_TABLES = ("names", "goroutines", "finalizers", "defers", "panics", "other_roots", "types",
                "itabs", "threads", "buckets", "memstats", "params", "file_size", "record_count")


def assert_same(a, b) -> None:
    """Identical scans, objects compared in address order (the native scan writes that order
    itself where it can; the Python scan lists objects in file order)."""
    fa, fb = in_address_order(a).array_fields(), in_address_order(b).array_fields()
    assert fa.keys() == fb.keys()
    for name, arr in fa.items():
        assert arr.dtype == fb[name].dtype, name
        assert np.array_equal(arr, fb[name]), name
    for name in SMALL_TABLES:
        assert getattr(a, name) == getattr(b, name), name
    assert len(a.segments) == len(b.segments)
    for s, t in zip(a.segments, b.segments, strict=True):
        assert (s.bss, s.address, s.size, s.contents_offset) == (
            t.bss, t.address, t.size, t.contents_offset)
        assert np.array_equal(s.ptr_off, t.ptr_off) and np.array_equal(s.ptr_val, t.ptr_val)


@pytest.mark.parametrize("program", ["basics", "leaks"])
def test_identical_on_real_dumps(program, go_version):
    run = run_dump(program, go_version)
    native = scan_native(run.dump)
    assert len(native.obj_addr) > 100 and len(native.frame_sp) > 5
    assert_same(scan_python(run.dump), native)


def test_native_scan_writes_address_order_itself(go_version):
    run = run_dump("basics", go_version)
    native, python = scan_native(run.dump), scan_python(run.dump)
    assert native.address_order and not python.address_order
    assert np.all(np.diff(native.obj_addr.astype(np.int64)) > 0)
    assert not np.all(np.diff(python.obj_addr.astype(np.int64)) > 0)  # the file is not sorted


def test_denser_than_expected_objects_fall_back_to_sorting(tmp_path):
    """More objects than one per 16 bytes of file (only a hand-made dump has that): the native
    scan lists them in file order and the index sorts them, the same as the Python scan."""
    from heapspurs.format.reader import HEADER

    def uv(v: int) -> bytes:
        out = bytearray()
        while v >= 0x80:
            out.append(v & 0x7F | 0x80)
            v >>= 7
        return bytes(out + bytes([v]))

    params = b"\x06" + uv(0) + uv(8) + uv(0x1000) + uv(0x100000) + uv(5) + b"amd64" + uv(
        6) + b"go1.27" + uv(1)
    objs = b"".join(b"\x01" + uv(0x10000 + 16 * ((7 * i) % 5000)) + b"\x00\x00"
                    for i in range(5000))
    path = tmp_path / "dense.dump"
    path.write_bytes(HEADER + params + objs + b"\x00")
    native, python = scan_native(path), scan_python(path)
    assert not native.address_order
    assert_same(python, native)


def test_identical_on_the_big_dump(big_run):
    assert_same(scan_python(big_run.dump), scan_native(big_run.dump))


def errors(path) -> tuple[tuple, tuple]:
    out = []
    for scan in (scan_python, scan_native):
        try:
            scan(path)
            out.append(None)
        except DumpFormatError as e:
            out.append((str(e), e.offset, e.record))
    return out[0], out[1]


def test_identical_errors_on_damaged_dumps(tmp_path):
    dump = run_dump("leaks", "1.27.3").dump
    data = dump.read_bytes()
    with DumpReader(dump) as reader:
        offsets = [off for off, _ in reader.records()]
    rng = random.Random(5)
    path = tmp_path / "bad.dump"
    cases = [data[:o] for o in rng.sample(offsets, 60)]
    cases += [data[:c] for c in rng.sample(range(17, len(data)), 60)]
    for off in rng.sample(offsets[:-1], 80):
        m = bytearray(data)
        m[off + rng.randrange(0, 4)] ^= 1 << rng.randrange(8)
        cases.append(bytes(m))
    cases.append(data + b"junk")
    for case in cases:
        path.write_bytes(case)
        py, nat = errors(path)
        assert py == nat


def test_native_index_helpers_match_numpy(big_run, leaks_run):
    """The C resolution, phantom and reverse-edge passes give what the plain numpy versions
    give."""
    from heapspurs.index.geometry import phantom_mask
    from heapspurs.index.heap_index import resolve_addresses, reverse_edges
    from heapspurs.index.load import load_index

    for run in (big_run, leaks_run):
        ix = load_index(str(run.dump), use_cache=False)
        for version in (ix.params.version, "go1.25.1", "go1.21.5", "go1.27.3 X:nogreenteagc"):
            native = phantom_mask(ix.addr, ix.size, ix.pstart, version)
            assert np.array_equal(native, phantom_mask(ix.addr, ix.size, ix.pstart, version,
                                                       native=False)), version
        assert ix.phantom.sum() > 100 or run is leaks_run
        probes = np.concatenate([ix.pval, ix.addr, ix.addr + ix.size - 1, ix.addr + ix.size,
                                 ix.addr - 1, np.array([0, 2**64 - 1], np.uint64)])
        assert np.array_equal(resolve_addresses(ix.addr, ix.size, probes),
                              resolve_addresses(ix.addr, ix.size, probes, native=False))
        for a, b in zip(reverse_edges(ix.pstart, ix.pdst, ix.phantom),
                        reverse_edges(ix.pstart, ix.pdst, ix.phantom, native=False),
                        strict=True):
            assert np.array_equal(a, b)


def test_native_bfs_matches_numpy(big_run):
    """Same reached set and the same (shortest) path lengths, forward from the roots and
    backward from the most-owned object."""
    from heapspurs.analysis.traverse import UNSEEN, bfs_parents, path_to_source
    from heapspurs.index.load import load_index

    ix = load_index(str(big_run.dump))
    target = ix.find(int(big_run.facts["first_record"], 16))
    for indptr, targets, sources in ((ix.pstart, ix.pdst, ix.roots.obj),
                                     (ix.rstart, ix.rsrc, [target])):
        a = bfs_parents(indptr, targets, sources, ix.count, blocked=ix.phantom)
        b = bfs_parents(indptr, targets, sources, ix.count, blocked=ix.phantom, native=False)
        assert np.array_equal(a == UNSEEN, b == UNSEEN)
        reached = np.nonzero(a != UNSEEN)[0]
        for node in reached[:: max(1, len(reached) // 200)].tolist():
            assert len(path_to_source(a, node)) == len(path_to_source(b, node))


def test_resolve_matches_numpy_on_random_layouts():
    """The page table's shortcut (runs of equal, back-to-back slots found by a division) gives
    the binary search's answer on spans, sparse heaps and overlapping hand-made objects."""
    from heapspurs.index.heap_index import resolve_addresses

    rng = np.random.default_rng(7)
    for trial in range(300):
        n = int(rng.integers(1, 300))
        if trial % 3 == 0:  # spans of equal slots, some objects shorter than their slot
            parts, a = [], 0x1000000
            while sum(len(p) for p in parts) < n:
                step, count = int(rng.choice([8, 16, 48, 512, 8192, 20000])), int(
                    rng.integers(1, 40))
                parts.append(a + step * np.arange(count))
                a += step * count + int(rng.integers(0, 3)) * 8192
            addr = np.concatenate(parts)[:n].astype(np.uint64)
            size = np.diff(np.append(addr, addr[-1] + np.uint64(16))).astype(np.uint64)
            size = np.where(rng.random(n) < 0.1, size // 2 + 1, size).astype(np.uint64)
        else:  # random starts, dense (overlapping) or sparse
            spread = 100 if trial % 3 == 1 else 30000
            addr = np.sort(rng.integers(0x10000, 0x10000 + n * spread, n)).astype(np.uint64)
            size = rng.integers(1, 20000, n).astype(np.uint64)
        # Over 4096 values: the page table is built (fewer are looked up by plain search).
        values = np.concatenate([addr + rng.integers(0, 30000, n).astype(np.uint64),
                                 rng.integers(0, int(addr[-1]) + 50000, 5000).astype(np.uint64)])
        expect = resolve_addresses(addr, size, values, native=False)
        assert np.array_equal(resolve_addresses(addr, size, values, native=True), expect), trial
        assert np.array_equal(resolve_addresses(addr, size, values[:100], native=True),
                              expect[:100]), trial


def test_no_room_to_keep_addresses_falls_back_to_sorting(monkeypatch):
    """Where the system will not reserve the counting pass's address arrays, the scan still
    works: file order, sorted afterwards."""
    import heapspurs.scan.native_scan as native_scan

    run = run_dump("basics", NEWEST)
    room = run.dump.stat().st_size // 16 + 16
    real_empty = np.empty

    def empty(n, *args, **kwargs):
        if n == room:
            raise MemoryError("no room")
        return real_empty(n, *args, **kwargs)

    monkeypatch.setattr(native_scan.np, "empty", empty)
    fallback = scan_native(run.dump)
    monkeypatch.undo()
    assert not fallback.address_order
    assert_same(scan_python(run.dump), fallback)
