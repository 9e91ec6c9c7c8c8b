"""Every input error names the file it is about — the dump, the base dump, the binary, the OID
file — whatever the order of the arguments: one line on stderr and exit status 2."""

from __future__ import annotations

import pytest
from clirun import run
from gotools import NEWEST, run_dump


@pytest.fixture(scope="module")
def basics():
    return run_dump("basics", NEWEST)


@pytest.fixture
def damaged(basics, tmp_path, monkeypatch):
    """A copy of the dump cut in the middle of its records."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    data = basics.dump.read_bytes()
    path = tmp_path / "damaged.dump"
    path.write_bytes(data[: len(data) // 2])
    return path


def one_line_naming(res, path, *not_named) -> None:
    assert res.status == 2, (res.status, res.err)
    lines = res.err.strip().splitlines()
    assert len(lines) == 1, res.err
    assert str(path) in lines[0], lines[0]
    for other in not_named:
        assert str(other) not in lines[0], lines[0]


def test_a_damaged_dump_after_program_is_named(basics, damaged):
    res = run("--program", basics.binary, damaged)
    one_line_naming(res, damaged, basics.binary)
    assert "truncated" in res.err and "byte offset" in res.err and "record" in res.err
    res = run("--program", basics.binary, damaged, "--print")  # the streaming reader too
    one_line_naming(res, damaged, basics.binary)


def test_a_damaged_base_is_named(basics, damaged):
    res = run(basics.dump, "--base", damaged)
    one_line_naming(res, damaged, basics.dump)
    res = run("--base", damaged, "--no-cache", basics.dump, "--json")
    one_line_naming(res, damaged, basics.dump)
    assert res.out == ""


def test_a_damaged_binary_is_named(basics, tmp_path):
    binary = tmp_path / "prog"
    binary.write_bytes(basics.binary.read_bytes()[:4096])
    res = run("--program", binary, basics.dump, "--histogram")
    one_line_naming(res, binary, basics.dump)


def test_a_damaged_oid_file_is_named(basics, tmp_path):
    oids = tmp_path / "oid.txt"
    oids.write_text("0x1 main.Good\nnot-an-id main.Bad\n")
    res = run("--oid", oids, "--program", basics.binary, basics.dump, "--find", "Good")
    one_line_naming(res, oids, basics.dump, basics.binary)
    assert f"{oids}:2:" in res.err
