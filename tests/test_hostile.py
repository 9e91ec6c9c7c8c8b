"""Hostile inputs end to end through the command: crafted dumps, a broken ELF, huge or junk
OID files. Each is one clear line on stderr (exit 2) or a correct answer; no traceback; bounded
time and memory."""

from __future__ import annotations

import time

import pytest
from clirun import run_process

from heapspurs.format.reader import DumpReader
from heapspurs.format.records import Params


def uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def prefix_through_params(path) -> bytes:
    """The real dump's header and params record."""
    data = path.read_bytes()
    with DumpReader(str(path)) as reader:
        records = reader.records()
        for _, rec in records:
            if isinstance(rec, Params):
                next_off = next(records)[0]
                return data[:next_off]
    raise AssertionError("no params record")


def check_clean(res, limit_s: float, start: float, ok_status=(0, 1, 2)) -> None:
    assert res.status in ok_status, res.err
    assert "Traceback" not in res.err
    if res.status == 2:
        assert len(res.err.strip().splitlines()) == 1, res.err
    assert time.perf_counter() - start < limit_s


@pytest.fixture(scope="module")
def base(basics_run):
    return prefix_through_params(basics_run.dump)


def write(tmp_path, name, data) -> str:
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


def test_huge_lengths_counts_and_offsets(base, tmp_path):
    huge = uvarint(2**63)
    cases = {
        "object-contents": b"\x01" + uvarint(0xC000) + huge,  # contents length
        "frame-name": b"\x05" + uvarint(1) * 3 + uvarint(0) + uvarint(1) * 3 + huge,
        "memprof-frames": b"\x10" + uvarint(1) + uvarint(8) + huge,
        "segment": b"\x0d" + uvarint(0x1000) + huge,
        "string": b"\x03" + uvarint(1) + uvarint(8) + huge,
    }
    for name, rec in cases.items():
        start = time.perf_counter()
        for args in (["--print"], ["--no-cache"]):
            res = run_process(write(tmp_path, name, base + rec + b"\x00"), *args)
            check_clean(res, 30, start, ok_status=(2,))
            assert "offset" in res.err


def test_pointer_offset_beyond_its_object_and_endless_fieldlist(base, tmp_path):
    obj = b"\x01" + uvarint(0xC000000000) + uvarint(16) + bytes(16)
    beyond = obj + uvarint(1) + uvarint(4096) + uvarint(0)
    endless = obj + (uvarint(1) + uvarint(0)) * 100_000  # never terminated
    for name, rec in (("beyond", beyond + b"\x00"), ("endless", endless)):
        start = time.perf_counter()
        res = run_process(write(tmp_path, name, base + rec), "--no-cache")
        check_clean(res, 30, start, ok_status=(2,))


def test_a_million_tiny_records(base, tmp_path):
    """10^6 empty objects (no contents, no pointers) at distinct addresses, then 10^6 itabs:
    answered (it is a valid dump), in bounded time."""
    objs = b"".join(b"\x01" + uvarint(0xC000000000 + 16 * i) + b"\x00\x00"
                    for i in range(1_000_000))
    itabs = b"\x08\x00\x00" * 1_000_000
    path = write(tmp_path, "tiny", base + objs + itabs + b"\x00")
    start = time.perf_counter()
    res = run_process(path, "--no-cache", "--json", timeout=120)
    check_clean(res, 120, start, ok_status=(0,))
    import json

    assert json.loads(res.out)["summary"]["objects"] == 1_000_000


def test_broken_elf_sections(basics_run, tmp_path):
    data = bytearray(basics_run.binary.read_bytes())
    # Section header table offset (e_shoff, bytes 40..48 of an ELF64 header) past the end.
    bad = bytearray(data)
    bad[40:48] = (len(data) + 4096).to_bytes(8, "little")
    # A section count that promises far more headers than the file holds (e_shnum, 60..62).
    many = bytearray(data)
    many[60:62] = (0xFFF0).to_bytes(2, "little")
    for name, blob in (("shoff", bad), ("shnum", many)):
        start = time.perf_counter()
        res = run_process(basics_run.dump, "--program", write(tmp_path, name, bytes(blob)),
                          "--print")
        check_clean(res, 60, start, ok_status=(2,))


def test_oid_files_huge_or_junk(basics_run, tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("".join(f"{i} pkg.Type{i % 97}\n" for i in range(1_000_000)))
    start = time.perf_counter()
    # Id 0 is pkg.Type0: the Small{N: 7} that dataGlobal.P points to starts with a nil pointer.
    res = run_process(basics_run.dump, "--oid", big, "--find", "Type0$", timeout=120)
    check_clean(res, 120, start, ok_status=(0,))
    small = basics_run.facts["data_global"]["points_to"]
    assert f"pkg.Type0 @ {small} with 1 pointers in 16 bytes" in res.out
    junk = tmp_path / "junk.txt"
    junk.write_bytes(bytes(range(256)) * 64)
    res = run_process(basics_run.dump, "--oid", junk, "--find", "x")
    check_clean(res, 60, start, ok_status=(2,))
    assert str(junk) in res.err

