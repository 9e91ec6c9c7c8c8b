"""The keep-alive graph as Graphviz DOT text, in the original tool's visual language.

Target object: filled yellow. Objects with a finalizer: thick red border. Objects nothing points
to: filled gray. Stack frames: a box listing the goroutine's whole stack. BSS: double octagon;
data: triple octagon. Edges into an object's interior: red, with the offset as head label.
Every label is escaped: names come from untrusted files.
"""

from __future__ import annotations

from collections.abc import Callable

from heapspurs.analysis.keepalive import KeepAliveGraph
from heapspurs.index.heap_index import HeapIndex
from heapspurs.names.alloc_sites import allocation_sites
from heapspurs.names.naming import names_of
from heapspurs.render.objects_view import size_text
from heapspurs.render.records_text import hx


def dot_string(text: str) -> str:
    """A DOT double-quoted string whose content shows exactly ``text`` (no escapes, no HTML)."""
    out = text.replace("\\", "\\\\").replace('"', '\\"')
    out = out.replace("\r", "").replace("\n", "\\n")
    return f'"{out}"'


def _attrs(**kw: str | int | float) -> str:
    parts = []
    for k, v in kw.items():
        parts.append(f"{k}={dot_string(str(v))}")
    return "[" + ", ".join(parts) + "]"


def root_node(ix: HeapIndex, kind: str, ref: int) -> tuple[str, dict[str, str]]:
    """(node id, attributes) of a root."""
    if kind in ("bss", "data"):
        seg = ix.raw.segments[ref]
        label = f"{'BSS' if seg.bss else 'Data'}\n{hx(seg.address)}-{hx(seg.end)}"
        shape = "doubleoctagon" if seg.bss else "tripleoctagon"
        return f"seg{ref}", {"label": label, "shape": shape}
    if kind in ("frame", "defer", "goroutine"):
        from heapspurs.render.roots_view import root_frame_and_goroutine

        frame, g = root_frame_and_goroutine(ix, kind, ref)
        if g is None:
            return f"{kind}{ref}", {"label": f"{kind} {ref}", "shape": "box"}
        gr = ix.raw.goroutines[g]
        lines = [f"goroutine {gr.goid} ({gr.wait_reason or gr.status_name})"]
        for f in ix.goroutine_frames(g).tolist():
            lines.append(("> " if f == frame else "") + ix.frame_name(f))
        if kind == "defer":
            lines.insert(0, "pending defer")
        node = f"defer{ref}" if kind == "defer" else f"g{g}"
        return node, {"label": "\n".join(lines), "shape": "box"}
    if kind in ("finalizer", "queued_finalizer"):
        f = ix.raw.finalizers[ref]
        return f"fin{ref}", {"label": f"{kind.replace('_', ' ')}\nof {hx(f.object)}",
                             "shape": "hexagon", "color": "red"}
    return f"{kind}{ref}", {"label": f"{kind} root", "shape": "box"}


def graph_dot(ix: HeapIndex, g: KeepAliveGraph, title: str,
              link: Callable[[int], str] | None = None) -> str:
    """The keep-alive graph in DOT; ``link`` gives each object node a URL (the explorer's
    object pages)."""
    lines = ["digraph heapspurs {", f"  label={dot_string(title)};", "  labelloc=t;",
             '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];']
    if len(g.nodes) > 50 or len(g.edges) > 100:
        # dot's network simplex and spline routing take minutes on wide fan-outs (a slice or map
        # holding hundreds of owners); these limits keep a 200-node graph under a second.
        lines.append("  splines=line; nslimit=0; nslimit1=0; mclimit=0.01;")
    indeg = {n: 0 for n in g.nodes}
    for _, _, v in g.edges:
        indeg[v] = indeg.get(v, 0) + 1
    for a in g.anchors:
        indeg[a.path[0]] = indeg.get(a.path[0], 0) + 1
    names = names_of(ix)
    sites = allocation_sites(ix)
    for n in g.nodes:
        name = names.object_name(n)
        label = name or names.type_name(n) or "Object"
        attrs: dict[str, str | int] = {
            "label": f"{label} ({size_text(int(ix.size[n]))})\n{hx(int(ix.addr[n]))}",
            "shape": "ellipse",
        }
        if name:
            attrs["fontcolor"] = "darkgreen"  # named by the OID file, as the original did
        site = sites.site(n)
        if site:
            attrs["label"] = f"{attrs['label']}\nat {site}"
        if link is not None:
            attrs.update(URL=link(n), target="_top")
        if n == g.target:
            attrs.update(style="filled", fillcolor="yellow")
        elif indeg.get(n, 0) == 0:
            attrs.update(style="filled", fillcolor="gray")
        if n in g.finalizer_objects:
            attrs.update(color="red", penwidth=4)
            attrs["label"] = str(attrs["label"]) + "\n(has finalizer)"
        lines.append(f"  o{n} {_attrs(**attrs)};")
    roots_done: set[str] = set()
    for a in g.anchors:
        if a.kind == "finalizer":
            continue  # drawn as the finalized object itself: thick red border, red cycle edges
        node, attrs = root_node(ix, a.kind, a.ref)
        if node not in roots_done:
            roots_done.add(node)
            lines.append(f"  {node} {_attrs(**attrs)};")
        first = a.path[0]
        eattrs: dict[str, str | int] = {}
        if a.kind in ("bss", "data"):
            eattrs["taillabel"] = names.global_name(a.slot) or hx(a.slot)
        off = a.value - int(ix.addr[first])
        if off and not (off == 8 and ix.header[first]):
            eattrs.update(color="red", headlabel=f"{hx(a.value)} (offset = {off})")
        lines.append(f"  {node} -> o{first} {_attrs(**eattrs) if eattrs else ''};")
    for u, p, v in g.edges:
        val = int(ix.pval[p])
        off = val - int(ix.addr[v])
        eattrs = {}
        field = names.field_at(u, int(ix.poff[p])) if names.typing is not None else None
        if field:
            eattrs["label"] = field  # the field of the source the pointer is in
        if off and not (off == 8 and ix.header[v]):
            eattrs.update(color="red", headlabel=f"{hx(val)} (offset = {off})")
        if (u, v) in g.cycle_edges:
            eattrs.update(color="red", penwidth=3)
        lines.append(f"  o{u} -> o{v} {_attrs(**eattrs) if eattrs else ''};")
    lines.append("}")
    return "\n".join(lines) + "\n"
