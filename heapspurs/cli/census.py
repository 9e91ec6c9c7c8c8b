"""The whole-heap questions behind the command-line flags (retention, counts, diffs, pprof):
imported only when one of them is asked, so that the per-object questions start faster."""

from __future__ import annotations

import click

from heapspurs.analysis.diff import diff
from heapspurs.analysis.dominators import UNREACHED, dominator_tree
from heapspurs.analysis.goroutine_groups import goroutine_groups
from heapspurs.analysis.histogram import count_by_kind
from heapspurs.analysis.histogram import histogram as heap_histogram
from heapspurs.analysis.profile_groups import profile_samples
from heapspurs.analysis.retention import (
    dominated_by,
    leak_suspects,
    top_retainers,
    unreachable_objects,
)
from heapspurs.cli.commands import Options, emit_json, load_index, locate
from heapspurs.cli.errors import NotFound
from heapspurs.index.heap_index import HeapIndex
from heapspurs.names.alloc_sites import HOW_TO, allocation_sites
from heapspurs.render import census_view, listing, retention_view
from heapspurs.render.files import check_not_input, check_writable, write_atomic
from heapspurs.render.listing import json_document, write_listing
from heapspurs.render.objects_view import size_text
from heapspurs.render.output import write_lines
from heapspurs.render.pprof_proto import ProfileBuilder
from heapspurs.render.records_text import hx


def top(path: str, count: int, opts: Options) -> None:
    """--top N: the largest retained sizes, objects and roots together."""
    ix = load_index(path, opts)
    reachable = dominator_tree(ix).reachable_bytes
    rows = top_retainers(ix, count)
    if opts.as_json:
        emit_json(retention_view.top_json(ix, rows, reachable))
    else:
        write_lines(retention_view.top_text(ix, rows, reachable))


def retained(path: str, address: int, limit: int, opts: Options) -> None:
    """--address ADDR --retained: what the object retains and the objects it dominates."""
    ix = load_index(path, opts)
    obj, note = locate(ix, address, opts)
    tree = dominator_tree(ix)
    if tree.idom[obj] == UNREACHED:
        raise NotFound(f"{hx(int(ix.addr[obj]))} is unreachable: no root in the dump reaches it, "
                       "so it retains nothing (see --unreachable)")
    d = dominated_by(ix, obj, limit)
    if opts.as_json:
        emit_json({**retention_view.dominated_json(ix, d, tree.reachable_bytes),
                   **({"note": note} if note else {})}, opts)
    else:
        write_lines([*([f"({note})"] if note else []),
                     *retention_view.dominated_text(ix, d, tree.reachable_bytes)])


def suspects(path: str, threshold: float, opts: Options) -> None:
    """--suspects: big retainers with their accumulation points, and finalizer cycles."""
    ix = load_index(path, opts)
    reachable = dominator_tree(ix).reachable_bytes
    found, cycles = leak_suspects(ix, threshold)
    if opts.as_json:
        emit_json(retention_view.suspects_json(ix, found, cycles, reachable, threshold))
    else:
        write_lines(retention_view.suspects_text(ix, found, cycles, reachable, threshold))


def unreachable(path: str, opts: Options) -> None:
    ix = load_index(path, opts)
    objs = unreachable_objects(ix)
    rows = count_by_kind(ix, objs)
    if opts.as_json:
        json_document(census_view.unreachable_json_head(ix, objs, rows), "objects",
                      lambda: write_listing(ix, objs, listing.ADDRESSES), {"truncated": False})
    else:
        write_lines(census_view.unreachable_text(ix, objs, rows))


def say_how_to_get_sites(ix: HeapIndex) -> None:
    if not allocation_sites(ix).any:
        click.echo(f"heapspurs: note: {HOW_TO}", err=True)


def histogram(path: str, opts: Options) -> None:
    ix = load_index(path, opts)
    say_how_to_get_sites(ix)
    h = heap_histogram(ix)
    if opts.as_json:
        emit_json(census_view.histogram_json(h))
    else:
        write_lines(census_view.histogram_text(h))


def goroutines(path: str, opts: Options) -> None:
    ix = load_index(path, opts)
    groups = goroutine_groups(ix)
    if opts.as_json:
        emit_json(census_view.goroutines_json(ix, groups))
    else:
        write_lines(census_view.goroutines_text(ix, groups))


def base_diff(path: str, base: str, opts: Options) -> None:
    """--base OLD: growth by kind since an older dump of the same program."""
    ix = load_index(path, opts)
    old = load_index(base, opts)
    if not (allocation_sites(ix).any and allocation_sites(old).any):
        click.echo(f"heapspurs: note: kinds are sizes and names only: {HOW_TO}", err=True)
    rows = diff(ix, old)
    if opts.as_json:
        emit_json({"base": base, "rows": [
            {"name": r.name, "count": r.count, "bytes": r.bytes, "base_count": r.base_count,
             "base_bytes": r.base_bytes, "delta_count": r.delta_count,
             "delta_bytes": r.delta_bytes} for r in rows]})
        return

    def lines():
        yield f"Growth since {base} (reachable objects, by kind), largest first:"
        yield f"{'delta count':>12} {'delta bytes':>12} {'count':>9} {'bytes':>10}  name"
        for r in rows:
            if r.delta_count or r.delta_bytes:
                sign = "-" if r.delta_bytes < 0 else "+"
                yield (f"{r.delta_count:>+12} {sign + size_text(abs(r.delta_bytes)):>12} "
                       f"{r.count:>9} {size_text(r.bytes):>10}  {r.name}")
    write_lines(lines())


def pprof(path: str, output: str, opts: Options) -> None:
    """--pprof OUT: the reachable heap as a pprof profile (go tool pprof -http reads it)."""
    check_not_input(output, [path, *(f for f in (opts.program, opts.oid) if f)])
    check_writable(output)
    ix = load_index(path, opts)
    say_how_to_get_sites(ix)
    builder = ProfileBuilder([("inuse_objects", "count"), ("inuse_space", "bytes"),
                              ("retained_space", "bytes")], "inuse_space")
    samples = profile_samples(ix)
    for smp in samples:
        builder.sample(smp.stack, [smp.count, smp.bytes, smp.retained])
    write_atomic(output, builder.encode())
    total = sum(smp.bytes for smp in samples)
    count = sum(smp.count for smp in samples)
    line = (f"Wrote {output}: {count} objects, {size_text(total)} in {len(samples)} samples "
            f"(go tool pprof -http=: {output})")
    if opts.as_json:
        click.echo(line, err=True)
        emit_json({"output": output, "objects": count, "bytes": total,
                   "samples": len(samples)})
    else:
        write_lines([line])
