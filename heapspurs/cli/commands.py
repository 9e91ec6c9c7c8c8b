"""The actions behind the command-line flags: load what is needed, ask one analysis, render."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from dataclasses import dataclass
from typing import Any

import click
import numpy as np

from heapspurs.analysis.anchors import find_anchors
from heapspurs.analysis.find import find_objects
from heapspurs.analysis.keepalive import keepalive_graph
from heapspurs.analysis.owners import owner_tree
from heapspurs.analysis.reach import summarize
from heapspurs.cli.errors import NotFound
from heapspurs.format.errors import about
from heapspurs.format.reader import DumpReader
from heapspurs.format.records import MemProfBucket
from heapspurs.index import load as index_load
from heapspurs.index.budget import Budget
from heapspurs.index.geometry import MALLOC_HEADER, unknown_release_note
from heapspurs.index.heap_index import HeapIndex
from heapspurs.names.alloc_sites import HOW_TO, allocation_sites, bucket_site_label
from heapspurs.names.attach import attach_names
from heapspurs.names.naming import names_of
from heapspurs.render import listing, native_print
from heapspurs.render.anchors_view import anchors_json, anchors_text
from heapspurs.render.files import check_not_input, check_writable
from heapspurs.render.graph_file import output_format, write_graph
from heapspurs.render.graph_view import graph_dot
from heapspurs.render.hexdump_view import field_lines, hexdump_lines, pointer_slot_lines
from heapspurs.render.listing import json_document, write_listing
from heapspurs.render.objects_view import (
    object_json,
    object_line,
    print_names,
    resolution_note,
    size_text,
    stack_lines,
)
from heapspurs.render.output import write_lines
from heapspurs.render.owners_view import owners_json, owners_text
from heapspurs.render.records_text import NO_NAMES, hx, record_lines

PROGRESS_MIN_BYTES = 64 << 20  # smaller dumps index in well under a second


@dataclass
class Options:
    phantoms: bool = False
    conservative: bool = False
    use_cache: bool = True
    as_json: bool = False
    program: str | None = None  # --program BINARY
    oid: str | None = None  # --oid FILE
    strict: bool = False
    budget: Budget | None = None  # --memory (None: the default budget)
    stacks: bool = False  # --stacks: count sampled objects by their whole allocation stack
    merged: dict[str, Any] | None = None  # several questions about one object: one document
    warned: set[str] = dataclasses.field(default_factory=set)  # warnings given in this run

    @property
    def naming(self) -> bool:
        return bool(self.program or self.oid)


def warn(text: str) -> None:
    click.echo(f"heapspurs: warning: {text}", err=True)


# Indexes kept loaded for the rest of the process (the explorer's server asks many questions
# of one dump): (dump, use_cache, program, oid, strict, stacks) -> index; None: not kept.
_kept: dict[tuple, HeapIndex] | None = None


def keep_loaded() -> None:
    """From now on, load each dump (with the same names) once and keep it."""
    global _kept
    if _kept is None:
        _kept = {}


def kept_indexes() -> list[HeapIndex]:
    """The indexes kept loaded (see keep_loaded)."""
    return list(_kept.values()) if _kept is not None else []


def load_index(path: str, opts: Options | None = None) -> HeapIndex:
    """The index with the names asked for attached; a progress bar on stderr when it is a
    terminal and the dump is big."""
    opts = opts or Options()
    if _kept is not None:
        key = (os.path.realpath(path), opts.use_cache, opts.program, opts.oid, opts.strict,
               opts.stacks)
        if key not in _kept:
            _kept[key] = _load_index(path, opts)
        return _kept[key]
    return _load_index(path, opts)


def _load_index(path: str, opts: Options) -> HeapIndex:
    big = os.path.getsize(path) > PROGRESS_MIN_BYTES
    if not (big and sys.stderr.isatty()):
        ix = index_load.load_index(path, opts.use_cache, budget=opts.budget,
                                   program=opts.program)
    else:
        with click.progressbar(length=len(index_load.STAGES), label="Indexing the dump",
                               file=sys.stderr, show_eta=False) as bar:
            def advance(stage: str) -> None:
                if stage in index_load.STAGES:
                    bar.update(1)
                else:  # a pass of a build over the memory budget
                    bar.label = f"Indexing the dump ({stage})"
                    bar.render_progress()

            ix = index_load.load_index(path, opts.use_cache, progress=advance,
                                       budget=opts.budget, program=opts.program)
    note = unknown_release_note(ix.params.version)
    if note and note not in opts.warned:
        opts.warned.add(note)
        warn(note)
    if opts.naming:
        attach_names(ix, opts.program, opts.oid, opts.strict, warn)
    if opts.stacks:
        allocation_sites(ix).by_stack = True
    return ix


def emit_json(data: Any, opts: Options | None = None) -> None:
    """Write one JSON document; or, while ``opts.merged`` collects the answers of several
    questions about one object, add ``data``'s keys to it."""
    if opts is not None and opts.merged is not None:
        opts.merged.update(data)
        return
    write_lines([json.dumps(data, indent=2)])


def print_dump(path: str, opts: Options | None = None) -> None:
    """--print: every record in file order, streamed (constant memory). With names, the index
    is loaded first (named objects, the statics named through globals need it)."""
    opts = opts or Options()
    from heapspurs.core.elf_core import is_core

    if is_core(path):
        raise click.UsageError(f"--print lists a heap dump's records, and {path} is a core "
                               "file: ask --find, --top, --histogram or --address of it instead")
    names = NO_NAMES
    table = None
    if opts.naming:
        ix = load_index(path, opts)
        table = names_of(ix).print_table()
        names = print_names(names_of(ix))
    sites: dict[int, str] = {}  # bucket -> allocation site, collected as the buckets go by
    names = dataclasses.replace(names, bucket=sites.get)
    with about(path), DumpReader(path) as reader:
        if native_print.AVAILABLE:
            native_print.print_records(reader, names, table, sites)
            return
        pointers = reader.pointer_values

        def lines():
            for _, record in reader.records():
                if isinstance(record, MemProfBucket):
                    sites[record.address] = bucket_site_label(record)
                yield from record_lines(record, pointers, names)

        write_lines(lines())


def frame_at(ix: HeapIndex, address: int) -> int | None:
    raw = ix.raw
    hit = np.nonzero((raw.frame_sp <= np.uint64(address))
                     & (raw.frame_sp + raw.frame_size > np.uint64(address)))[0]
    return int(hit[0]) if len(hit) else None


def locate(ix: HeapIndex, address: int, opts: Options) -> tuple[int, str | None]:
    """The object containing ``address`` and a note on how the address relates to it."""
    obj = ix.find(address)
    if obj >= 0 and (not ix.phantom[obj] or opts.phantoms):
        return obj, resolution_note(ix, address, obj)
    if obj >= 0:
        raise NotFound(f"{hx(address)} lies in a phantom object at {hx(int(ix.addr[obj]))} "
                       "(the reserved tail of a span, not a real allocation; --phantoms shows it)")
    frame = frame_at(ix, address)
    if frame is not None:
        raise NotFound(f"{hx(address)} is in the stack frame of {ix.frame_name(frame)} "
                       f"at {hx(int(ix.raw.frame_sp[frame]))}, not in a heap object")
    below, above = ix.neighbours(address)
    near = []
    if below >= 0:
        end = int(ix.addr[below] + ix.size[below])
        near.append(f"below: {hx(int(ix.addr[below]))}-{hx(end)} ({address - end} bytes before)")
    if above >= 0:
        near.append(f"above: {hx(int(ix.addr[above]))} ({int(ix.addr[above]) - address} bytes "
                    "after)")
    raise NotFound(f"no object at {hx(address)} in this dump; nearest objects "
                   + ("; ".join(near) if near else "none (the dump has no objects)"))


def summary(path: str, opts: Options) -> None:
    """No question asked: what is in the dump."""
    ix = load_index(path, opts)
    s = summarize(ix)
    if opts.as_json:
        emit_json({"params": {"version": ix.params.version, "arch": ix.params.arch,
                              "ptr_size": ix.params.ptr_size},
                   "summary": s.as_dict(),
                   "goroutines": len(ix.raw.goroutines), "frames": len(ix.raw.frame_sp)})
        return
    write_lines([
        f"{path}: Go {ix.params.version} {ix.params.arch}, {s.objects} objects "
        f"({size_text(s.bytes)}), {len(ix.raw.goroutines)} goroutines, "
        f"{len(ix.raw.frame_sp)} stack frames, {s.root_edges} root pointers",
        f"  reachable from roots: {s.reachable_objects} objects ({size_text(s.reachable_bytes)})",
        f"  phantoms (span tails, hidden): {s.phantom_objects} objects "
        f"({size_text(s.phantom_bytes)})",
        f"  unreachable: {s.unreachable_objects} objects ({size_text(s.unreachable_bytes)})",
        "Ask about one object with --address ADDR and --anchors, --owners N or --hexdump.",
    ])


def anchors(path: str, address: int, opts: Options) -> None:
    ix = load_index(path, opts)
    obj, note = locate(ix, address, opts)
    report = find_anchors(ix, obj, conservative=opts.conservative)
    if opts.as_json:
        emit_json(anchors_json(ix, report, note), opts)
    else:
        write_lines(anchors_text(ix, report, note))


def owners(path: str, address: int, depth: int, opts: Options) -> None:
    ix = load_index(path, opts)
    obj, note = locate(ix, address, opts)
    tree = owner_tree(ix, obj, depth, phantoms=opts.phantoms)
    if opts.as_json:
        emit_json(owners_json(ix, obj, tree, note), opts)
    else:
        write_lines(owners_text(ix, obj, tree, note, depth))


def hexdump(path: str, address: int, opts: Options) -> None:
    """--hexdump of the object (or stack frame) containing ``address``."""
    ix = load_index(path, opts)
    obj = ix.find(address)
    frame = frame_at(ix, address) if obj < 0 else None
    if frame is not None:
        raw = ix.raw
        data = ix.frame_contents(frame)
        s, e = int(raw.frame_pstart[frame]), int(raw.frame_pstart[frame + 1])
        offs = raw.fptr_off[s:e].tolist()
        head = {"frame": {"sp": hx(int(raw.frame_sp[frame])), "size": len(data),
                          "function": ix.frame_name(frame)}}
        g = int(raw.frame_goroutine[frame])
        title = [f"StackFrame @ {hx(int(raw.frame_sp[frame]))}: {ix.frame_name(frame)} "
                 f"({len(data)} bytes)", *stack_lines(ix, g if g >= 0 else None, frame)]
    else:
        obj, note = locate(ix, address, opts)
        data = ix.contents(obj)
        offs = ix.pointers(obj)[0].tolist()
        head = {"object": object_json(ix, obj)}
        title = [object_line(ix, obj)] + ([f"  ({note})"] if note else [])
    fields = typed_fields(ix, obj) if frame is None else []
    if opts.as_json:
        order = "big" if ix.params.big_endian else "little"
        emit_json({**head, "contents_hex": data.hex(), "pointers": offs,
                   "fields": [{"path": p, "type": t, "offset": o, "size": n,
                               "value_hex": data[o : o + n].hex() if n <= 64 else None,
                               "value": int.from_bytes(data[o : o + n], order)
                               if kind == "value" and n in (1, 2, 4, 8) else None}
                              for p, t, o, n, kind in fields]}, opts)
        return
    lines = [*title, *hexdump_lines(data), *pointer_slot_lines(offs)]
    if fields:
        lines += field_lines(data, fields, ix.params.big_endian, ix.params.ptr_size)
    write_lines(lines)


def typed_fields(ix: HeapIndex, obj: int) -> list[tuple[str, str, int, int, str]]:
    """The leaf fields of a typed object (offsets in its record, past a malloc header)."""
    typing = names_of(ix).typing
    if typing is None or typing.elem is None or typing.elem[obj] < 0:
        return []
    from heapspurs.names.type_layouts import leaf_fields

    base = MALLOC_HEADER if ix.header[obj] else 0
    name = typing.type_name(obj) or ""
    t = int(typing.elem[obj])
    if name.startswith("["):  # an array of T: its first elements
        size = typing.types.types[typing.types.resolve(t)].size
        out: list[tuple[str, str, int, int, str]] = []
        for i in range(min(8, (int(ix.size[obj]) - base) // max(size, 1))):
            out += leaf_fields(typing.types, t, base + i * size, f"[{i}]", limit=16)
        return out
    return leaf_fields(typing.types, t, base)


def graph(path: str, address: int, output: str, max_nodes: int, all_owners: bool,
          opts: Options) -> None:
    """--address alone: draw what keeps the object alive into ``output`` (heapdump.svg)."""
    check_not_input(output, [path, *(f for f in (opts.program, opts.oid) if f)])
    check_writable(output)
    output_format(output)  # a bad extension fails before any work
    ix = load_index(path, opts)
    obj, note = locate(ix, address, opts)
    g = keepalive_graph(ix, obj, max_nodes=max_nodes, all_owners=all_owners)
    title = f"What keeps {hx(int(ix.addr[obj]))} alive"
    if g.left_out:
        title += f" ({g.left_out} owners left out: over the {max_nodes}-node budget)"
    nroots = len({(a.kind, a.ref) for a in g.anchors if a.kind != "finalizer"})
    nodes = len(g.nodes) + nroots
    if not opts.as_json:
        lines = [object_line(ix, obj)] + ([f"  ({note})"] if note else [])
        write_lines([*lines, f"Rendering graph ({nodes} nodes)..."])
    write_graph(graph_dot(ix, g, title), output)
    if opts.as_json:
        click.echo(f"Wrote {output}", err=True)
        emit_json({"object": object_json(ix, obj), **({"note": note} if note else {}),
                   "output": output, "nodes": nodes, "left_out": g.left_out})
    else:
        write_lines([f"Wrote {output}"])


def find(path: str, pattern: str, opts: Options) -> None:
    """--find REGEX: the objects whose name matches, as --print shows them."""
    ix = load_index(path, opts)
    if (names_of(ix).object_ids is None and names_of(ix).typing is None
            and not allocation_sites(ix).any):
        raise click.UsageError("--find searches object names and allocation sites, and this "
                               "dump has neither: give --oid FILE (the names of object ids); "
                               f"or {HOW_TO}")
    found = find_objects(ix, pattern, phantoms=opts.phantoms)
    if opts.as_json:
        json_document({"pattern": pattern}, "objects",
                      lambda: write_listing(ix, found, listing.JSON))
    else:
        write_listing(ix, found, listing.TEXT)
    if not len(found):
        raise NotFound(f"no object's name matches {pattern!r}")
