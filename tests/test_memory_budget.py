"""Building the index within a memory budget (--memory): in files on disk, in windows, with the
same index and the same answers as the in-memory build; clear errors for a bad size or a full
disk."""

from __future__ import annotations

import numpy as np
import pytest
from clirun import run
from test_cache import same_index

from heapspurs.index import budget as budget_mod
from heapspurs.index import cache
from heapspurs.index.budget import Budget
from heapspurs.index.load import load_index
from heapspurs.index.workspace import Workspace
from heapspurs.scan.native_scan import AVAILABLE, address_ranks

TINY = Budget(1 << 20, explicit=True)  # 1 MiB: every array on disk, every pass in windows

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="the budgeted build needs the native scan")


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(cache, "_noticed", False)
    return tmp_path / "xdg" / "heapspurs"


def test_tiny_budget_builds_the_same_index(big_run, cache_home):
    dump = str(big_run.dump)
    plain = load_index(dump, use_cache=False)
    assert not plain.workspace.mapped
    scratch = load_index(dump, use_cache=False, budget=TINY)
    ws = scratch.workspace
    assert ws.mapped and not ws.keep and ws.created
    assert not [p for p in ws.created if p.exists()]  # unlinked scratch files
    windows = [p for p in ws.passes if p.startswith("reverse ")]
    assert len(windows) > 1 and windows[-1].endswith(f"/{len(windows)}")
    assert ws.trims > 0  # the watchdog dropped pages
    same_index(plain, scratch)
    # The progress callback hears of the passes (a terminal's progress bar shows them).
    heard: list[str] = []
    load_index(dump, use_cache=False, budget=TINY, progress=heard.append)
    assert heard[-1] == "save" and "scan" in heard and windows[-1] in heard
    # With the cache: the build's files become the cache entry, nothing else is left there.
    cached = load_index(dump, budget=TINY)
    same_index(plain, cached)
    (entry,) = [p for p in cache_home.iterdir() if not p.name.startswith(".")]
    assert not [p for p in cache_home.iterdir() if p.name.startswith(".")]
    names = {p.name for p in entry.iterdir()}
    assert {f"ix_{a}.npy" for a in cache.INDEX_ARRAYS} <= names
    assert not [n for n in names if n.startswith(("seen_", "rank", "obj_", "ptr_"))]
    same_index(plain, cache.load(dump))


def test_answers_identical_with_a_tiny_cap(leaks_run, tmp_path, monkeypatch):
    fact = leaks_run.facts["map_chain"]
    questions = [("--address", fact["addr"], "--anchors", "--owners", "2", "--hexdump"),
                 ("--top", "10"), ("--histogram",), ("--goroutines",), ("--suspects",),
                 ("--unreachable",), ()]  # (): the summary
    for q in questions:
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "plain"))
        plain = run(leaks_run.dump, *q, "--json")
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "capped"))
        capped = run(leaks_run.dump, *q, "--json", "--memory", "1M")
        scratch = run(leaks_run.dump, *q, "--json", "--memory", "1M", "--no-cache")
        assert plain.status == capped.status == scratch.status == 0, (q, capped.err)
        assert plain.out == capped.out == scratch.out, q


def test_big_heap_under_a_tiny_cap(big_run, tmp_path, monkeypatch):
    """The 50,000-record heap (~150,000 objects): anchors of the record the program names and
    the largest retainers agree, built in memory and in many windows."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    target = big_run.facts["first_record"]
    plain = run(big_run.dump, "--address", target, "--anchors", "--json", "--no-cache")
    capped = run(big_run.dump, "--address", target, "--anchors", "--json", "--memory", "2M")
    assert plain.status == capped.status == 0, capped.err
    assert plain.out == capped.out
    assert plain.json()["anchors"], "the program's first record is held by a global"
    top = [run(big_run.dump, "--top", "5", "--json", *m).out for m in ([], ["--memory", "2M"])]
    assert top[0] == top[1]


def test_whole_heap_arrays_go_to_scratch_files_under_a_tiny_cap(big_run, tmp_path,
                                                                 monkeypatch):
    """The dominator tree's working arrays, the labels and the BFS over the roots live in
    scratch files kept within the budget, and give what the in-memory run gives."""
    from heapspurs.analysis.dominators import dominator_tree
    from heapspurs.analysis.retention import top_retainers

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    plain = load_index(str(big_run.dump), use_cache=False)
    capped = load_index(str(big_run.dump), use_cache=False, budget=TINY)
    a, b = dominator_tree(plain), dominator_tree(capped)
    assert np.array_equal(a.idom, b.idom) and np.array_equal(a.retained, b.retained)
    assert not plain.scratch and capped.scratch and all(ws.mapped for ws in capped.scratch)
    rows = [[(r.obj, r.retained, r.path) for r in top_retainers(ix, 10)]
            for ix in (plain, capped)]
    assert rows[0] == rows[1] and rows[0]


def test_rank_by_page_matches_a_stable_sort_and_falls_back():
    """The counting sort on pages gives a stable sort's order; where a page's objects are not
    ascending in file order (not a dump the runtime writes) the sort is used instead."""
    rng = np.random.default_rng(7)
    pages = rng.permutation(50)
    addr = np.concatenate([(0xC000000000 >> 13 << 13) + p * 8192 + np.arange(0, 8192, 512)
                           for p in pages]).astype(np.uint64)
    addr[5] = addr[4]  # a tie: file order decides
    count = rng.integers(0, 5, len(addr)).astype(np.uint32)
    for a in (addr, addr[rng.permutation(len(addr))]):  # ascending pages; then shuffled
        rank, pstart = address_ranks(Workspace(), a, count)
        order = np.argsort(a, kind="stable")
        want = np.empty(len(a), np.int64)
        want[order] = np.arange(len(a))
        assert np.array_equal(rank, want)
        assert np.array_equal(pstart[1:], np.cumsum(count[order]))


def test_bad_memory_size_is_one_line(leaks_run):
    for bad in ("lots", "12Q", "1000"):
        r = run(leaks_run.dump, "--memory", bad)
        assert r.status == 2
        assert "--memory" in r.err and "Traceback" not in r.err


def test_not_enough_disk_is_one_line(leaks_run, cache_home, monkeypatch):
    class Full:
        free = 4096

    monkeypatch.setattr("heapspurs.index.workspace.shutil.disk_usage", lambda p: Full())
    r = run(leaks_run.dump, "--top", "3", "--memory", "1M")
    assert r.status == 2
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and "not enough disk space" in lines[0], r.err
    assert str(cache_home) in lines[0]
    # Nothing half-written is left in the cache.
    assert not list(cache_home.iterdir())


def test_default_budget_is_half_the_memory_at_most_what_is_free(monkeypatch):
    monkeypatch.setattr(budget_mod, "physical_memory", lambda: 16 << 30)
    monkeypatch.setattr(budget_mod, "_meminfo", lambda: {"MemAvailable": 3 << 30})
    assert budget_mod.default_budget() == 3 << 30
    monkeypatch.setattr(budget_mod, "_meminfo", lambda: {"MemAvailable": 12 << 30})
    assert budget_mod.default_budget() == 8 << 30
    assert Budget(8 << 30).fits(1 << 30) and not Budget(1 << 30).fits(1 << 30)


def test_the_explorer_passes_its_budget_on(leaks_run, tmp_path, monkeypatch):
    from heapspurs.serve.answers import Answerer

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    capped = Answerer(str(leaks_run.dump), memory="1M")
    argv = capped.argv("top", {})
    assert argv[argv.index("--memory") + 1] == "1M"
    plain = Answerer(str(leaks_run.dump), use_cache=False)
    assert capped.ask("top", {"n": "5"}) == plain.ask("top", {"n": "5"})


def test_typing_under_a_tiny_cap_works_in_scratch_files(big_run, tmp_path, monkeypatch):
    """Typing the whole heap (--program) keeps its per-object arrays in scratch files under a
    tiny budget and types every object as in memory; the typing cached beside the index comes
    back as read-only file mappings (their pages can go back to the page cache)."""
    from heapspurs.names.dwarf_types import load_types
    from heapspurs.names.typing import ARRAYS, cached_typing, type_heap

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    plain = load_index(str(big_run.dump), use_cache=False)
    capped = load_index(str(big_run.dump), use_cache=False, budget=TINY)
    pcs = plain.raw.frame_pc.astype(np.uint64) - np.uint64(1)
    types = load_types(str(big_run.binary), pcs)
    a, b = type_heap(plain, types), type_heap(capped, types)
    for k in ARRAYS:
        assert np.array_equal(getattr(a, k), getattr(b, k)), k
    assert a.names == b.names and (a.object_type >= 0).sum() > plain.count // 2
    assert any("typer_object_type" in str(p) for ws in capped.scratch for p in ws.created)
    cached_ix = load_index(str(big_run.dump), budget=TINY)
    c = cached_typing(cached_ix, types, "k" * 16)
    for k in ARRAYS:
        arr = getattr(c, k)
        assert isinstance(arr, np.memmap) and not arr.flags.writeable, k
        assert np.array_equal(arr, getattr(a, k)), k


def test_mapped_pages_are_not_counted_as_memory_no_trim_can_give_back(tmp_path):
    """The watchdog gives up (and warns) only when what no trim can drop is over the budget:
    touching the pages of a mapped file raises the resident set, not the anonymous part."""
    path = tmp_path / "pages.npy"
    np.save(path, np.ones(16 << 20, np.int32))  # 64 MiB
    a = np.load(path, mmap_mode="r")
    rss, anon = budget_mod.resident_bytes(), budget_mod.anonymous_bytes()
    assert int(a[:: 1024].sum()) == 16 << 10  # one read per 4 KiB page
    assert budget_mod.resident_bytes() - rss > 48 << 20
    assert budget_mod.anonymous_bytes() - anon < 8 << 20
    held = np.ones(8 << 20, np.int64)  # 64 MiB of anonymous memory counts
    assert budget_mod.anonymous_bytes() - anon > 48 << 20
    del held
