"""The record layouts are declared once (heapspurs/format/records.py LAYOUTS): the dataclasses
agree with them and the C scan's generated header is what they give today."""

from __future__ import annotations

from dataclasses import fields

from heapspurs.format.records import CONTENTS, KINDS, LAYOUTS, REPEAT, Layout
from heapspurs.scan import layouts_h


def _attributes(layout: Layout) -> list[str]:
    names: list[str] = []
    for f in layout.fields:
        names.append(f.name)
        if f.kind is CONTENTS:
            names.append(f.name + "_offset")
    return names + [name for name, _ in layout.fixed]


def _layouts(layout: Layout):
    yield layout
    for f in layout.fields:
        if f.kind is REPEAT:
            yield from _layouts(f.group)


def test_each_layout_fills_its_dataclass_in_order():
    for tag, top in LAYOUTS.items():
        for layout in _layouts(top):
            declared = [f.name for f in fields(layout.record)]
            assert _attributes(layout) == declared[:len(_attributes(layout))], (tag, layout.name)
            for f in layout.fields:
                assert any(f.kind is kind for kind in KINDS), (layout.name, f.name, f.kind)
                assert (f.group is not None) == (f.kind is REPEAT)
                assert len(f.keys) in (0, f.count)


def test_generated_header_is_current():
    assert layouts_h.HEADER_PATH.read_text() == layouts_h.render(), (
        "heapspurs/scan/record_layouts.h is stale: run python -m heapspurs.scan.layouts_h")
    assert layouts_h.main(["layouts_h", "--check"]) == 0


def test_header_spells_the_layouts():
    text = layouts_h.render()
    assert '[TAG_OBJECT] = "ucf"' in text
    assert '[TAG_MEMPROF] = "uu[ssu]uu"' in text
    assert '[TAG_MEMSTATS] = "24u256uu"' in text
    assert "static inline int read_stack_frame(Cursor *c, StackFrameFields *r)" in text
