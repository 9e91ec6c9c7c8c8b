"""Generate ``heapspurs/scan/record_layouts.h``, the C scan's record layouts, from the one
declaration in :data:`heapspurs.format.records.LAYOUTS`.

    python -m heapspurs.scan.layouts_h          # rewrite the header
    python -m heapspurs.scan.layouts_h --check  # exit 1 if it is not what LAYOUTS gives

The header is checked in (building needs no Python step) and a test checks that it is current.
It holds the record tags, one ops string per tag (what the scan skips, checking the structure)
and, for the records the C decodes itself, a struct of their fields and an inline reader.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from heapspurs.format import records
from heapspurs.format.records import (
    BIG_ENDIAN,
    BOOL,
    CONTENTS,
    FIELDS,
    LAYOUTS,
    PTR_SIZE,
    REPEAT,
    STRING,
    TAG_ALLOC_SAMPLE,
    TAG_OBJECT,
    TAG_STACK_FRAME,
    UVARINT,
    Field,
    Layout,
)

HEADER_PATH = Path(__file__).with_name("record_layouts.h")

# The records the C scan and --print's formatter decode field by field (the rest they skip).
DECODED_IN_C = (TAG_OBJECT, TAG_STACK_FRAME, TAG_ALLOC_SAMPLE)

OPS = {UVARINT: "u", BOOL: "b", BIG_ENDIAN: "e", PTR_SIZE: "p", STRING: "s", CONTENTS: "c",
       FIELDS: "f"}

INTRO = """\
/*
 * record_layouts.h: the record layouts of a Go heap dump, for the C scan. GENERATED from
 * heapspurs/format/records.py (LAYOUTS) by `python -m heapspurs.scan.layouts_h`: edit LAYOUTS
 * and regenerate, never this file (tests/test_record_layouts.py checks that it is current).
 *
 * RECORD_OPS[tag] spells each field of the record, in file order, as one letter:
 *   u uvarint   b bool (a uvarint)   s string   c contents (uvarint length + bytes)
 *   f fieldlist (offsets of pointer slots inside the contents before it)
 *   e big-endian flag, p pointer size (4 or 8): they set the cursor's byte order and word size
 *   24u: 24 uvarints in a row   [...]: a uvarint count, then that many groups
 * Records the C decodes itself have a struct of their fields (up to the fieldlist, which each
 * caller walks its own way) and an inline reader that fills it.
 */
#ifndef HEAPSPURS_RECORD_LAYOUTS_H
#define HEAPSPURS_RECORD_LAYOUTS_H
"""


def ops(fields: tuple[Field, ...]) -> str:
    """The RECORD_OPS spelling of a layout's fields."""
    out = []
    for f in fields:
        if f.kind is REPEAT:
            assert f.group is not None
            out.append(f"[{ops(f.group.fields)}]")
        else:
            out.append((str(f.count) if f.count > 1 else "") + OPS[f.kind])
    return "".join(out)


def _c_name(layout: Layout) -> str:
    """ObjectFields, StackFrameFields, ... from the record's dataclass."""
    return layout.record.__name__ + "Fields"


def _reader(layout: Layout) -> list[str]:
    """The struct of one record's fields before its fieldlist, and its inline reader."""
    head = list(layout.fields)
    if head and head[-1].kind is FIELDS:
        head.pop()
    if any(f.kind not in (UVARINT, BOOL, STRING, CONTENTS) or f.count > 1 for f in head):
        raise ValueError(f"{layout.name}: only uvarints, strings and contents, then an optional "
                         "fieldlist, can be decoded in C")
    name = _c_name(layout)
    func = "read_" + re.sub(r"(?<!^)(?=[A-Z])", "_", layout.record.__name__).lower()
    spelled = ", ".join(f.name for f in layout.fields)
    members, reads = [], []
    for f in head:
        if f.kind in (STRING, CONTENTS):
            members.append(f"    Py_ssize_t {f.name}_off; uint64_t {f.name}_len;"
                           "  /* file offset and length */")
            reads.append(f"bytes_field(c, &r->{f.name}_off, &r->{f.name}_len) < 0")
        else:
            members.append(f"    uint64_t {f.name};")
            reads.append(f"uvarint(c, &r->{f.name}) < 0")
    tail = " before its fieldlist" if len(head) < len(layout.fields) else ""
    lines = [f"/* {layout.name}: {spelled} */", "typedef struct {", *members, f"}} {name};", "",
             f"/* The {layout.name}'s fields{tail}: 0, or -1 with c->err set. */",
             f"static inline int {func}(Cursor *c, {name} *r) {{"]
    lines.append("    if (" + " ||\n        ".join(reads) + ") return -1;")
    lines += ["    return 0;", "}", ""]
    return lines


def render() -> str:
    """The text of record_layouts.h."""
    tags = sorted((value, name) for name, value in vars(records).items()
                  if name.startswith("TAG_") and isinstance(value, int))
    if [v for v, _ in tags] != sorted(LAYOUTS):
        raise ValueError("every TAG_ constant needs a layout and every layout a TAG_ constant")
    lines = [INTRO, "enum {"]
    lines += [f"    {name} = {value}," for value, name in tags]
    lines += ["    N_RECORD_TAGS", "};", "",
              "static const char *const RECORD_OPS[N_RECORD_TAGS] = {"]
    for value, name in tags:
        lines.append(f'    [{name}] = "{ops(LAYOUTS[value].fields)}",  /* {LAYOUTS[value].name} */')
    lines += ["};", ""]
    for tag in DECODED_IN_C:
        lines += _reader(LAYOUTS[tag])
    lines.append("#endif")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if argv[1:] == ["--check"]:
        current = HEADER_PATH.read_text() if HEADER_PATH.exists() else ""
        if current != text:
            print(f"{HEADER_PATH} is not what LAYOUTS gives: run python -m "
                  "heapspurs.scan.layouts_h", file=sys.stderr)
            return 1
        return 0
    HEADER_PATH.write_text(text)
    print(f"Wrote {HEADER_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
