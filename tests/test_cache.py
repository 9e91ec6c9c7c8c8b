"""The on-disk index cache: same answers warm and cold, rebuilt when damaged or stale, never
followed through a symlink or used when it is not ours."""

from __future__ import annotations

import os

import numpy as np
import pytest
from clirun import run

from heapspurs.index import cache
from heapspurs.index.load import load_index


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
