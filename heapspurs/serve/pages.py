"""The explorer's pages: plain HTML built from the API's JSON answers (every name escaped: OID
names, types and symbols come from untrusted files), with the package's own script for sorting
tables, expanding trees and drawing the flame graph. One function per page."""

from __future__ import annotations

from html import escape
from typing import Any

from heapspurs.render.objects_view import size_text


def e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def layout(title: str, body: str, base: bool) -> str:
    nav = [("/", "Overview"), ("/tree", "Dominator tree"), ("/flame", "Flame graph"),
           ("/search", "Search")] + ([("/diff", "Diff")] if base else [])
    links = " ".join(f'<a href="{href}">{e(text)}</a>' for href, text in nav)
    return ("<!doctype html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{e(title)} - heapspurs</title>"
            '<link rel="stylesheet" href="/static/explorer.css"></head>'
            f'<body><nav>{links}</nav><main><h1>{e(title)}</h1>{body}</main>'
            '<script src="/static/explorer.js"></script></body></html>\n')


def obj_link(address: str | None, text: str | None = None) -> str:
    if not address:
        return ""
    return f'<a class="obj" href="/object/{e(address)}">{e(text or address)}</a>'


def kind(o: dict[str, Any]) -> str:
    """What to call an object: its OID name, else its type, else its size."""
    return o.get("name") or o.get("type") or f"{o.get('size', '?')} B object"


def table(cls: str, head: list[str], rows: list[list[tuple[str, object]]]) -> str:
    """A sortable table: each cell (html, sort value)."""
    th = "".join(f"<th>{e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f'<td data-v="{e(v)}">{h}</td>' for h, v in r) + "</tr>"
                   for r in rows)
    return (f'<table class="sortable {cls}"><thead><tr>{th}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def overview(summary: Any, top: Any, suspects: Any, goroutines: Any, histogram: Any,
             base: bool) -> str:
    s = summary["summary"]
    p = summary["params"]
    intro = (f"<p>Go {e(p['version'])} {e(p['arch'])}: {e(s['objects'])} objects "
             f"({e(size_text(s['bytes']))}), {e(s['reachable_objects'])} reachable "
             f"({e(size_text(s['reachable_bytes']))}), {e(summary['goroutines'])} goroutines.</p>")
    top_rows = [[(obj_link(r.get("address"), r.get("address")) or e(r.get("kind")),
                  r.get("address") or ""), (e(kind(r)), kind(r)),
                 (e(size_text(r["retained"])), r["retained"]), (e(f"{r['percent']:.1f}%"),
                                                                 r["percent"])]
                for r in top["rows"]]
    sus_rows = []
    for r in suspects["suspects"]:
        acc = r.get("accumulation") or {}
        sus_rows.append([(obj_link(r.get("address")) or e(r.get("kind")), r.get("address") or ""),
                         (e(kind(r)), kind(r)), (e(size_text(r["retained"])), r["retained"]),
                         (obj_link(acc.get("address")), acc.get("address") or "")])
    g_rows = [[(e(g["count"]), g["count"]), (e(g.get("status")), g.get("status") or ""),
               (e(g.get("wait_reason")), g.get("wait_reason") or ""),
               (e(" < ".join(g["functions"][:3])), " ".join(g["functions"][:1])),
               (e(size_text(g["retained"])), g["retained"])] for g in goroutines["groups"]]
    h_rows = [[(e(r["name"]), r["name"]), (e(r["count"]), r["count"]),
               (e(size_text(r["bytes"])), r["bytes"]),
               (e(r.get("untyped_reason")), r.get("untyped_reason") or "")]
              for r in histogram["rows"][:200]]
    body = (intro
            + "<h2>Top retainers</h2>"
            + table("top", ["object", "kind", "retained", "share"], top_rows)
            + "<h2>Leak suspects</h2>"
            + (table("suspects", ["object", "kind", "retained", "accumulation point"], sus_rows)
               if sus_rows else "<p>No suspect above the threshold.</p>")
            + "<h2>Goroutine groups</h2>"
            + table("goroutines", ["count", "status", "waiting", "stack", "retained"], g_rows)
            + "<h2>Histogram</h2>"
            + table("histogram", ["kind", "count", "bytes", "untyped because"], h_rows))
    return layout("Overview", body, base)


def object_page(doc: Any, base: bool) -> str:
    o = doc["object"]
    addr = o["address"]
    facts = [("address", e(addr)), ("type", e(o.get("type"))), ("name", e(o.get("name"))),
             ("size", e(size_text(o["size"]))), ("pointers", e(o["pointers"])),
             ("retained", e(size_text(doc.get("retained", 0)))
              + f" ({e(doc.get('percent'))}% of the reachable heap)")]
    alloc = o.get("allocation")
    if alloc:
        facts.append(("allocated at", "<br>".join(
            e(f"{f.get('function')} {f.get('file')}:{f.get('line')}") for f in alloc.get(
                "stack", [])) or e(alloc)))
    body = "<dl>" + "".join(f"<dt>{e(k)}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>"
    fields = doc.get("fields") or []
    if fields:
        rows = []
        for f in fields:
            value = f.get("value")
            shown = e(value if isinstance(value, int) else f.get("value_hex"))
            pointer = pointer_value(f)
            if pointer:
                shown = obj_link(hex(pointer))  # (that page says when nothing is there)
            rows.append([(e(f["path"]), f["offset"]), (e(f["type"]), f["type"]),
                         (e(f["offset"]), f["offset"]), (shown, str(value))])
        body += "<h2>Fields</h2>" + table("fields", ["field", "type", "offset", "value"], rows)
    body += "<h2>Anchors</h2>" + anchors_html(doc)
    body += (f'<h2>Owners</h2><ul class="owners" data-address="{e(addr)}">'
             + "".join(owner_item(w) for w in doc.get("owners", [])) + "</ul>")
    kids = doc.get("children") or []
    body += "<h2>Dominated</h2>" + (table("dominated", ["object", "kind", "retained"], [
        [(obj_link(c["address"]), c["address"]), (e(kind(c)), kind(c)),
         (e(size_text(c["retained"])), c["retained"])] for c in kids])
        if kids else "<p>It dominates nothing else.</p>")
    body += (f'<h2>What keeps it alive</h2><object class="graph" type="image/svg+xml" '
             f'data="/graph/{e(addr)}.svg">graph</object>')
    return layout(kind(o) + " @ " + addr, body, base)


def pointer_value(field: dict[str, Any]) -> int | None:
    """The address a pointer-typed field holds (little-endian words), or None."""
    raw = field.get("value_hex") or ""
    if not str(field.get("type", "")).startswith("*") or len(raw) not in (8, 16):
        return None
    return int.from_bytes(bytes.fromhex(raw), "little") or None


def anchors_html(doc: Any) -> str:
    items = []
    for a in doc.get("anchors", []):
        label = " ".join(str(x) for x in (a.get("kind"), a.get("symbol") or a.get("function")
                                           or a.get("slot")) if x)
        steps = " &rarr; ".join(obj_link(step) for step in a.get("path", []))
        items.append(f'<li class="anchor"><b>{e(label)}</b>: {steps}</li>')
    return "<ol>" + "".join(items) + "</ol>" if items else "<p>No root reaches it.</p>"


def owner_item(w: dict[str, Any]) -> str:
    o = w.get("object")
    if not o:  # a root
        what = " ".join(str(x) for x in (w.get("kind"), w.get("symbol") or w.get("function")
                                          or w.get("slot")) if x)
        return f"<li>root: {e(what)}</li>"
    addr = o.get("address")
    return (f'<li><button class="expand" data-address="{e(addr)}">+</button> '
            f"{obj_link(addr)} {e(kind(o))}</li>")


def tree_page(base: bool) -> str:
    return layout("Dominator tree", '<p>Each object with what it keeps alive on its own, largest '
                  'first; + opens a level.</p><ul id="tree" class="tree"></ul>', base)


def flame_page(address: str | None, base: bool) -> str:
    return layout("Flame graph of retained size",
                  '<p>Width is retained size; click a box to zoom into it.</p>'
                  f'<div id="flame" data-address="{e(address or "")}"></div>', base)


def search_page(query: str, doc: Any | None, error: str | None, base: bool) -> str:
    form = ('<form action="/search"><input name="pattern" id="pattern" size="60" value="'
            f'{e(query)}"> <button>Find</button></form>')
    if error:
        return layout("Search", form + f'<p class="error">{e(error)}</p>', base)
    if doc is None:
        return layout("Search", form, base)
    rows = [[(obj_link(o["address"]), o["address"]), (e(o.get("name")), o.get("name") or ""),
             (e(o["size"]), o["size"])] for o in doc["objects"][:2000]]
    return layout("Search", form + f"<p>{len(doc['objects'])} objects match.</p>"
                  + table("found", ["object", "name", "size"], rows), base)


def diff_page(doc: Any) -> str:
    rows = [[(e(r["name"]), r["name"]), (e(r["delta_count"]), r["delta_count"]),
             (e(size_text(abs(r["delta_bytes"]))), r["delta_bytes"]), (e(r["count"]), r["count"]),
             (e(size_text(r["bytes"])), r["bytes"])] for r in doc["rows"]
            if r["delta_count"] or r["delta_bytes"]]
    return layout("Growth since " + str(doc["base"]), table(
        "diff", ["kind", "delta count", "delta bytes", "count", "bytes"], rows), True)


def error_page(status: int, message: str) -> str:
    return layout(f"{status}", f'<p class="error">{e(message)}</p>', False)

