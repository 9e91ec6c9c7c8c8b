"""Bad input: truncated, flipped, padded and non-dump files give one clear line and exit 2."""

from __future__ import annotations

import random
import re
import time

import pytest
from clirun import run, run_process
from gotools import run_dump

from heapspurs.format.errors import DumpFormatError
from heapspurs.format.reader import HEADER, DumpReader

NEWEST = "1.27.3"


@pytest.fixture(scope="module")
def good():
    dump = run_dump("basics", NEWEST).dump
    data = dump.read_bytes()
    with DumpReader(dump) as reader:
        offsets = [off for off, _ in reader.records()]
    return data, offsets


def parse(path) -> None:
    with DumpReader(path) as reader:
        for _ in reader.records():
            pass


def expect_clear_error(path, budget: float = 1.0) -> DumpFormatError:
    start = time.perf_counter()
    with pytest.raises(DumpFormatError) as info:
        parse(path)
    assert time.perf_counter() - start < budget
    return info.value


def test_truncated_at_every_record_boundary(good, tmp_path):
    data, offsets = good
    path = tmp_path / "cut.dump"
    for number, off in enumerate(offsets, start=1):
        path.write_bytes(data[:off])
        err = expect_clear_error(path)
        assert err.offset == off, (off, str(err))
        assert err.record == number
        assert "truncated" in str(err) or "ends without an EOF" in str(err)


def test_truncated_inside_records(good, tmp_path):
    data, offsets = good
    rng = random.Random(7)
    path = tmp_path / "cut.dump"
    boundaries = set(offsets)
    cuts = [o for o in rng.sample(range(len(HEADER) + 1, len(data)), 300) if o not in boundaries]
    for cut in cuts:
        path.write_bytes(data[:cut])
        err = expect_clear_error(path)
        assert "truncated" in str(err)
        assert err.record is not None
        assert offsets[err.record - 1] <= err.offset <= cut


def flip_and_parse(data: bytes, pos: int, bit: int, path) -> bool:
    """Parse ``data`` with one bit flipped; True if a clear error was raised (within a second)."""
    mutated = bytearray(data)
    mutated[pos] ^= 1 << bit
    path.write_bytes(bytes(mutated))
    start = time.perf_counter()
    try:
        parse(path)
        return False
    except DumpFormatError as e:
        assert e.offset is not None and e.record is not None
        return True
    finally:
        assert time.perf_counter() - start < 1.0


def test_flipped_bytes_never_crash(good, tmp_path):
    data, offsets = good
    rng = random.Random(11)
    path = tmp_path / "flip.dump"
    # Anywhere in a record: a clear error or a parse, never anything else.
    for off in rng.sample(offsets[:-1], 200):
        flip_and_parse(data, off + rng.randrange(0, 12), rng.randrange(8), path)
    # A flipped record tag changes how everything after it is read: detected.
    detected = sum(flip_and_parse(data, off, rng.randrange(8), path)
                   for off in rng.sample(offsets[:-1], 100))
    assert detected >= 90


def test_garbage_appended_or_in_place_of_a_tag(good, tmp_path):
    data, offsets = good
    path = tmp_path / "tail.dump"
    path.write_bytes(data + b"\xff" * 100)
    err = expect_clear_error(path)
    assert "followed by 100 more bytes" in str(err) and err.offset == offsets[-1]
    path.write_bytes(data[:-1] + b"\x63")  # an unknown tag where EOF was
    err = expect_clear_error(path)
    assert "unknown record tag 99" in str(err)
    mutated = bytearray(data)
    mutated[offsets[len(offsets) // 2]] = 0  # an EOF tag in the middle
    path.write_bytes(bytes(mutated))
    assert "EOF record is followed by" in str(expect_clear_error(path))


@pytest.mark.parametrize("content, message", [
    (b"", "file is empty"),
    (b"hello world, this is not a dump\n", "missing 'go1.7 heap dump' header"),
    (HEADER[:9], "truncated heap dump header"),
    (HEADER, "ends without an EOF record"),
    (HEADER + b"\x06\x00\x08" + b"\xff" * 11, "varint"),
    (HEADER + b"\x06\x00\x03", "unsupported pointer size 3"),
    (HEADER + b"\x06\x00\x08\x00\x00\x05amd64\xff\xff\xff\xff\xff\xff\xff\x7f", "runs past"),
])
def test_bad_files_via_cli(tmp_path, content, message):
    path = tmp_path / "bad.dump"
    path.write_bytes(content)
    res = run(path, "--print")
    assert res.status == 2
    lines = res.err.strip().splitlines()
    assert len(lines) == 1, res.err
    assert message in lines[0]
    assert str(path) in lines[0]
    if content.startswith(HEADER):
        assert re.search(r"record \d+, byte offset \d+", lines[0])


def test_directory_and_missing_file(tmp_path):
    res = run(tmp_path, "--print")
    assert res.status == 2 and "directory" in res.err
    res = run(tmp_path / "nope.dump", "--print")
    assert res.status == 2 and "does not exist" in res.err


def test_no_traceback_in_a_real_process(good, tmp_path):
    data, offsets = good
    path = tmp_path / "cut.dump"
    path.write_bytes(data[: offsets[len(offsets) // 2] + 3])
    res = run_process(path, "--address", "0x1234", "--anchors")
    assert res.status == 2
    assert "Traceback" not in res.err
    assert len(res.err.strip().splitlines()) == 1
