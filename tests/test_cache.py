"""The on-disk index cache: same answers warm and cold, rebuilt when damaged or stale, never
followed through a symlink or used when it is not ours."""

from __future__ import annotations

import os

import numpy as np
import pytest
from clirun import run

from heapspurs.index import cache
from heapspurs.index.load import load_index
from heapspurs.names.typing import ARRAYS


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(cache, "_noticed", False)
    return tmp_path / "xdg" / "heapspurs"


def same_index(a, b) -> None:
    for name in cache.INDEX_ARRAYS:
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    for name in cache.ROOT_ARRAYS:
        assert np.array_equal(getattr(a.roots, name), getattr(b.roots, name)), name
    assert a.raw.goroutines == b.raw.goroutines and a.raw.names == b.raw.names
    assert a.raw.finalizers == b.raw.finalizers and a.raw.buckets == b.raw.buckets


def test_warm_equals_cold(leaks_run, cache_home, tmp_path):
    dump = tmp_path / "copy.dump"
    dump.write_bytes(leaks_run.dump.read_bytes())
    cold = load_index(str(dump), use_cache=False)
    assert cache.load(str(dump)) is None
    first = load_index(str(dump))  # builds and saves
    assert len(list(cache_home.iterdir())) == 1
    warm = cache.load(str(dump))
    assert warm is not None
    same_index(cold, warm)
    same_index(first, warm)
    fact = leaks_run.facts["map_chain"]
    a = run(dump, "--address", fact["addr"], "--anchors", "--json", "--no-cache").out
    b = run(dump, "--address", fact["addr"], "--anchors", "--json").out
    assert a == b


def test_damaged_or_stale_cache_is_rebuilt(leaks_run, cache_home, tmp_path):
    dump = tmp_path / "copy.dump"
    dump.write_bytes(leaks_run.dump.read_bytes())
    load_index(str(dump))
    folder = next(cache_home.iterdir())
    (folder / "ix_addr.npy").write_bytes(b"\x93NUMPY garbage")
    assert cache.load(str(dump)) is None  # damaged: dropped
    assert not folder.exists()
    load_index(str(dump))
    # A changed dump (new mtime) gets a new key: the old entry is never used for it.
    old = {p.name for p in cache_home.iterdir()}
    os.utime(dump, ns=(1, 1))
    assert cache.load(str(dump)) is None
    load_index(str(dump))
    assert {p.name for p in cache_home.iterdir()} - old


def test_symlinked_cache_is_ignored(leaks_run, tmp_path, monkeypatch, capsys):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    xdg = tmp_path / "xdg"
    xdg.mkdir()
    (xdg / "heapspurs").symlink_to(elsewhere)
    monkeypatch.setenv("XDG_CACHE_HOME", str(xdg))
    monkeypatch.setattr(cache, "_noticed", False)
    load_index(str(leaks_run.dump))
    assert list(elsewhere.iterdir()) == []
    assert "ignoring the index cache" in capsys.readouterr().err


def test_first_words_are_kept_beside_the_index_and_checked(names_run, cache_home, tmp_path):
    """--oid needs each object's first word: computed once, kept in the cache folder, and
    recomputed (same answer) when that file is damaged."""
    oids = tmp_path / "oid.txt"
    oids.write_text("".join(f"{k} {v}\n" for k, v in names_run.facts["oids"].items()))
    args = (names_run.dump, "--oid", oids, "--find", "main", "--json")
    first = run(*args)
    assert first.status == 0
    extra = list(cache_home.rglob("extra_first_word.npy"))
    assert len(extra) == 1
    ix = load_index(str(names_run.dump), use_cache=False)
    from heapspurs.names.oids import _read_first_words

    assert np.array_equal(np.load(extra[0]), _read_first_words(ix))
    extra[0].write_bytes(b"\x93NUMPY damaged")
    assert run(*args).out == first.out
    assert np.array_equal(np.load(extra[0]), _read_first_words(ix))


def test_no_cache_neither_reads_nor_writes(leaks_run, cache_home, monkeypatch):
    address = leaks_run.facts["bss"]["addr"]
    assert run(leaks_run.dump, "--address", address, "--anchors").status == 0  # cache written

    def refuse(*args, **kwargs):
        raise AssertionError("--no-cache touched the cache")

    monkeypatch.setattr(cache, "load", refuse)
    monkeypatch.setattr(cache, "save", refuse)
    res = run(leaks_run.dump, "--address", address, "--anchors", "--no-cache")
    assert res.status == 0 and "1 anchor(s)" in res.out


def test_typing_is_kept_beside_the_index_and_checked(retain_typed_args, cache_home):
    args = retain_typed_args
    first = run(*args)
    assert first.status == 0, first.err
    files = list(cache_home.rglob("extra_types*"))
    assert any(f.suffix == ".json" for f in files) and len(files) == 1 + len(ARRAYS)
    assert run(*args).out == first.out  # read back
    for f in files:
        if f.name.endswith("_object_type.npy"):
            f.write_bytes(b"\x93NUMPY damaged")
    assert run(*args).out == first.out  # redone


@pytest.fixture
def retain_typed_args(go_version):
    from gotools import run_dump

    r = run_dump("retain", go_version)
    return (r.dump, "--program", r.binary, "--histogram", "--json")
