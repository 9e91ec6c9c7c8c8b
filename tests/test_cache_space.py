"""The cache keeps its word: --no-cache writes nothing anywhere, the folder has a size cap with
the least recently used dumps evicted first, --cache-info and --cache-clear show and empty it;
a Go version that is not goX.Y gets a warning naming the rules assumed."""

from __future__ import annotations

import os

import pytest
from clirun import run
from gotools import NEWEST, run_dump

from heapspurs.index import cache, cache_space


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("HEAPSPURS_CACHE_MAX", raising=False)
    monkeypatch.setattr(cache, "_noticed", False)
    return tmp_path / "xdg" / "heapspurs"


@pytest.fixture(scope="module")
def leaks():
    return run_dump("leaks", NEWEST)


def test_no_cache_with_program_writes_nothing(leaks, cache_home, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = set(os.listdir(tmp_path))
    address = leaks.facts["bss"]["addr"]
    for args in (("--address", address, "--anchors"), ("--histogram",), ("--top", "3"),
                 ("--find", "main"), ("--print",)):
        res = run(leaks.dump, "--program", leaks.binary, "--no-cache", *args)
        assert res.status == 0, (args, res.err)
    assert not cache_home.exists() or list(cache_home.iterdir()) == []
    assert set(os.listdir(tmp_path)) == before
    # The same questions with the cache do write it (so the check above could fail).
    assert run(leaks.dump, "--program", leaks.binary, "--histogram").status == 0
    assert len(list(cache_home.iterdir())) == 1


def test_the_cap_evicts_the_least_recently_used(leaks, cache_home, tmp_path, monkeypatch):
    copies = []
    for i in range(3):
        copies.append(tmp_path / f"copy{i}.dump")
        copies[-1].write_bytes(leaks.dump.read_bytes())

    def folder_of(dump):
        return cache_home / cache.dump_key(str(dump))

    for dump in copies[:2]:
        assert run(dump).status == 0
    size = max(e.bytes for e in cache_space.entries(cache_home))
    os.utime(folder_of(copies[0]), (1000, 1000))  # copy0 first, copy1 later
    os.utime(folder_of(copies[1]), (2000, 2000))
    assert run(copies[0]).status == 0  # copy0 used again: now copy1 is the oldest
    monkeypatch.setenv("HEAPSPURS_CACHE_MAX", str(int(size * 2.5)))
    assert run(copies[2]).status == 0
    assert folder_of(copies[0]).is_dir() and folder_of(copies[2]).is_dir()
    assert not folder_of(copies[1]).exists()
    info = run("--cache-info", "--json").json()
    assert [e["dump"] for e in info["entries"]] == [str(copies[2]), str(copies[0])]
    assert info["max_bytes"] == int(size * 2.5) and info["bytes"] <= info["max_bytes"]
    # A cap below one entry keeps only the dump in use.
    monkeypatch.setenv("HEAPSPURS_CACHE_MAX", "0")
    assert run(copies[1]).status == 0
    assert [p.name for p in cache_home.iterdir()] == [folder_of(copies[1]).name]


def test_cache_info_and_clear(leaks, cache_home):
    assert run(leaks.dump).status == 0
    res = run("--cache-info")
    assert res.status == 0 and str(cache_home) in res.out and str(leaks.dump) in res.out
    res = run("--cache-clear", "--json")
    assert res.status == 0 and res.json()["removed"] == 1 and res.json()["bytes"] > 0
    assert list(cache_home.iterdir()) == []
    assert run("--cache-info", "--json").json()["entries"] == []
    res = run(leaks.dump, "--cache-info")
    assert res.status == 2 and "--cache-info takes no DUMP" in res.err


def test_cache_sizes():
    assert cache_space.parse_size("2GiB") == 2 << 30
    assert cache_space.parse_size("500M") == 500 << 20
    assert cache_space.parse_size("1234") == 1234
    with pytest.raises(ValueError):
        cache_space.parse_size("lots")


def test_a_devel_go_version_gets_a_warning(leaks, cache_home, tmp_path):
    data = leaks.dump.read_bytes()
    at = data.index(b"go" + NEWEST.encode())  # the params record (first) holds the version
    devel = b"devel +0123abc"[: len(NEWEST) + 2]
    dump = tmp_path / "devel.dump"
    dump.write_bytes(data[:at] + devel + data[at + len(devel):])
    res = run(dump, "--json")
    assert res.status == 0, res.err
    assert res.json()["params"]["version"] == devel.decode()
    assert "is not goX.Y" in res.err and "Go 1.22+" in res.err and "Green Tea" in res.err
    assert "is not goX.Y" not in run(leaks.dump).err


def test_a_big_entry_widens_the_default_cap(leaks, big_run, cache_home, tmp_path, monkeypatch):
    """A dump's index bigger than the default cap stays while smaller dumps come and go (the
    cap makes room for it), instead of being evicted by the next one; past half the disk's
    space for the cache it does not."""
    from heapspurs.index.load import load_index

    load_index(str(big_run.dump))  # in this process: the cap below applies to its saves
    (big,) = cache_space.entries(cache_home)
    monkeypatch.setattr(cache_space, "DEFAULT_MAX", big.bytes // 3)
    small = []
    for i in range(2):
        small.append(tmp_path / f"small{i}.dump")
        small[-1].write_bytes(leaks.dump.read_bytes())
        load_index(str(small[-1]))
    left = {e.folder.name for e in cache_space.entries(cache_home)}
    assert left == {big.folder.name, *(cache.dump_key(str(d)) for d in small)}
    found = cache_space.entries(cache_home)
    cap, source = cache_space.cache_max(cache_home, found)
    assert cap == big.bytes + big.bytes // 3 and "largest entry" in source
    # The old rule (the default cap alone) would have evicted it: the cap is below it.
    assert big.bytes // 3 < big.bytes <= cap
    # When the entry and the cap do not fit in half of the space for the cache: the cap alone.
    monkeypatch.setattr(cache_space.shutil, "disk_usage",
                        lambda _: type("U", (), {"free": big.bytes})())
    assert cache_space.cache_max(cache_home, found)[0] < big.bytes


def test_a_build_in_progress_keeps_its_half_written_entry(big_run, cache_home):
    """A build over the memory budget touches its hidden cache folder at each pass, so another
    run's trim (which removes half-written entries an hour old) leaves it alone."""
    from heapspurs.index.budget import Budget
    from heapspurs.index.load import load_index

    seen: list[float] = []

    def progress(what: str) -> None:
        hidden = [p for p in cache_home.iterdir() if p.name.startswith(".")]
        if hidden:
            seen.append(hidden[0].stat().st_mtime)
            os.utime(hidden[0], (1000, 1000))  # as if an hour had gone by since

    load_index(str(big_run.dump), budget=Budget(1 << 20, explicit=True), progress=progress)
    assert len(seen) > 3 and all(t > 1000 for t in seen[1:])
    assert cache_space.entries(cache_home)
