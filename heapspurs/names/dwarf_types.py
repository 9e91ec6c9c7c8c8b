"""Go types from the ``--program`` binary's DWARF (pyelftools): every type's name, kind, size,
struct fields, element type; every global variable's address and type; and the runtime type
descriptor address of each type (``DW_AT_go_runtime_type``), which malloc headers, interfaces and
finalizers refer to. Extracted once per binary and kept as JSON in the cache (a DIE walk costs
about a second for a small Go binary).

Go's DWARF: type references are absolute (DW_FORM_ref_addr); attribute 0x2900 is the reflect
kind, 0x2902 the element type, 0x2904 the descriptor's offset from ``runtime.types``; global
locations are ``DW_OP_addr`` blocks, decoded here.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field

from heapspurs.names.errors import BinaryError

# reflect.Kind values carried by attribute 0x2900.
KIND_ARRAY, KIND_CHAN, KIND_FUNC, KIND_INTERFACE, KIND_MAP = 17, 18, 19, 20, 21
KIND_PTR, KIND_SLICE, KIND_STRING, KIND_STRUCT, KIND_UNSAFE_POINTER = 22, 23, 24, 25, 26
AT_KIND, AT_KEY, AT_ELEM, AT_RUNTIME_TYPE = 0x2900, 0x2901, 0x2902, 0x2904
FORMAT = 3  # of the cached JSON


@dataclass
class GoType:
    name: str
    tag: str  # DWARF shape: struct, pointer, array, base, typedef, func, other
    kind: int  # reflect kind (0 when DWARF does not say)
    size: int
    target: int = -1  # pointer/typedef target, array/slice element (type index)
    count: int = 0  # array length
    fields: list[tuple[str, int, int]] = field(default_factory=list)  # (name, offset, type)


# A local variable's place in memory over a pc range: pieces (variable offset, size, offset
# from the frame's canonical frame address or None when the piece is in a register).
Piece = tuple[int, int, "int | None"]


@dataclass
class GoTypes:
    types: list[GoType]
    globals: list[tuple[str, int, int]]  # (name, address, type index), sorted by address
    runtime: dict[int, int]  # runtime type descriptor address -> type index
    # Stack locals and parameters: (type index, [(pc begin, pc end, pieces)]).
    locals: list[tuple[int, list[tuple[int, int, list[Piece]]]]] = field(default_factory=list)

    def resolve(self, t: int) -> int:
        """Follow typedefs to the type that has the layout."""
        seen = 0
        while t >= 0 and self.types[t].tag == "typedef" and seen < 64:
            t = self.types[t].target
            seen += 1
        return t


def _uleb(b: list[int], i: int) -> tuple[int, int]:
    v = shift = 0
    while i < len(b):
        v |= (b[i] & 0x7F) << shift
        shift += 7
        i += 1
        if b[i - 1] < 0x80:
            break
    return v, i


def _sleb(b: list[int], i: int) -> tuple[int, int]:
    v = shift = 0
    byte = 0
    while i < len(b):
        byte = b[i]
        v |= (byte & 0x7F) << shift
        shift += 7
        i += 1
        if byte < 0x80:
            break
    if byte & 0x40:
        v -= 1 << shift
    return v, i


def pieces(expr: list[int], size: int) -> list[Piece] | None:
    """The pieces of a location expression made of DW_OP_fbreg / DW_OP_regN (each optionally
    followed by DW_OP_piece); None for anything else (computed locations are not followed)."""
    out: list[Piece] = []
    i = off = 0
    while i < len(expr):
        op = expr[i]
        where: int | None
        if op == 0x91:  # DW_OP_fbreg
            where, i = _sleb(expr, i + 1)
        elif 0x50 <= op <= 0x6F:  # DW_OP_reg0..31
            where, i = None, i + 1
        elif op == 0x93:  # a DW_OP_piece with nothing before it: an optimized-out part
            n, i = _uleb(expr, i + 1)
            off += n
            continue
        else:
            return None
        if i < len(expr) and expr[i] == 0x93:
            n, i = _uleb(expr, i + 1)
        else:
            n = size - off
        out.append((off, n, where))
        off += n
    return out


def _loc_addr(value: object, ptr_size: int, little: bool) -> int | None:
    if isinstance(value, list) and len(value) == 1 + ptr_size and value[0] == 0x03:
        return int.from_bytes(bytes(value[1:]), "little" if little else "big")
    return None


def extract(path: str) -> GoTypes:
    """Walk the DWARF of the ELF file at ``path`` (slow: use :func:`load_types`)."""
    from elftools.common.exceptions import DWARFError, ELFError
    from elftools.elf.elffile import ELFFile

    try:
        with open(path, "rb") as f:
            elf = ELFFile(f)
            if not elf.has_dwarf_info():
                return GoTypes([], [], {})
            little = elf.little_endian
            ptr_size = 8 if elf.elfclass == 64 else 4
            types_base = None
            symtab = elf.get_section_by_name(".symtab")
            if symtab is not None:
                for s in symtab.get_symbol_by_name("runtime.types") or []:
                    types_base = int(s["st_value"])
            dwarf = elf.get_dwarf_info()
            from elftools.dwarf.locationlists import LocationEntry, LocationParser

            locparser = LocationParser(dwarf.location_lists())
            locals_raw: list[tuple[int, list]] = []
            index: dict[int, int] = {}
            raw: list[tuple[int, dict, list]] = []
            globals_: list[tuple[str, int, int]] = []

            def ref(cu, attr) -> int:
                v = int(attr.value)
                return v if attr.form == "DW_FORM_ref_addr" else v + cu.cu_offset

            for cu in dwarf.iter_CUs():
                for die in cu.iter_DIEs():
                    tag = die.tag
                    if tag in ("DW_TAG_structure_type", "DW_TAG_pointer_type",
                               "DW_TAG_array_type", "DW_TAG_base_type", "DW_TAG_typedef",
                               "DW_TAG_subroutine_type", "DW_TAG_unspecified_type"):
                        a = die.attributes
                        info = {"tag": tag, "name": a["DW_AT_name"].value.decode(
                            "utf-8", "replace") if "DW_AT_name" in a else "",
                            "size": int(a["DW_AT_byte_size"].value) if "DW_AT_byte_size" in a
                            else 0,
                            "kind": int(a[AT_KIND].value) if AT_KIND in a else 0}
                        if "DW_AT_type" in a:
                            info["target"] = ref(cu, a["DW_AT_type"])
                        if AT_ELEM in a:
                            info["elem"] = ref(cu, a[AT_ELEM])
                        if AT_RUNTIME_TYPE in a and types_base is not None and a[
                                AT_RUNTIME_TYPE].value:
                            info["rt"] = types_base + int(a[AT_RUNTIME_TYPE].value)
                        members = []
                        if die.has_children:
                            for c in die.iter_children():
                                ca = c.attributes
                                if c.tag == "DW_TAG_member" and "DW_AT_type" in ca:
                                    off = ca.get("DW_AT_data_member_location")
                                    members.append((ca["DW_AT_name"].value.decode(
                                        "utf-8", "replace") if "DW_AT_name" in ca else "",
                                        int(off.value) if off is not None and isinstance(
                                            off.value, int) else 0, ref(cu, ca["DW_AT_type"])))
                                elif c.tag == "DW_TAG_subrange_type" and "DW_AT_count" in ca:
                                    info["count"] = int(ca["DW_AT_count"].value)
                        index[die.offset] = len(raw)
                        raw.append((die.offset, info, members))
                    elif (tag in ("DW_TAG_variable", "DW_TAG_formal_parameter")
                          and "DW_AT_location" in die.attributes
                          and "DW_AT_type" in die.attributes
                          and die.attributes["DW_AT_location"].form != "DW_FORM_block1"):
                        loc = locparser.parse_from_attribute(die.attributes["DW_AT_location"],
                                                             cu["version"], die)
                        if not isinstance(loc, list):
                            continue
                        ranges = []
                        base = 0
                        for entry in loc:
                            if hasattr(entry, "base_address"):
                                base = int(entry.base_address)
                            elif isinstance(entry, LocationEntry):
                                ps = pieces(list(entry.loc_expr), 1 << 30)
                                if ps and any(p[2] is not None for p in ps):
                                    lo = entry.begin_offset if entry.is_absolute else (
                                        base + entry.begin_offset)
                                    hi = entry.end_offset if entry.is_absolute else (
                                        base + entry.end_offset)
                                    ranges.append((int(lo), int(hi), ps))
                        if ranges:
                            locals_raw.append((ref(cu, die.attributes["DW_AT_type"]), ranges))
                    elif (tag == "DW_TAG_variable" and "DW_AT_location" in die.attributes
                          and "DW_AT_type" in die.attributes
                          and die.get_parent().tag == "DW_TAG_compile_unit"):
                        addr = _loc_addr(die.attributes["DW_AT_location"].value, ptr_size,
                                         little)
                        if addr is not None:
                            name = die.attributes["DW_AT_name"].value.decode("utf-8", "replace")
                            globals_.append((name, addr, ref(cu, die.attributes["DW_AT_type"])))
    except (ELFError, DWARFError, OSError, ValueError, KeyError, IndexError, AttributeError,
            TypeError, AssertionError) as e:
        raise BinaryError(f"{path}: cannot read its DWARF ({type(e).__name__}: {e})") from None
    types: list[GoType] = []
    for _, info, members in raw:
        tag = info["tag"].removeprefix("DW_TAG_").removesuffix("_type")
        tag = {"structure": "struct", "subroutine": "func", "unspecified": "other"}.get(tag, tag)
        target = index.get(info.get("elem", info.get("target", -1)), -1)
        if tag in ("pointer", "typedef"):
            target = index.get(info.get("target", -1), -1)
        size = info["size"] or (ptr_size if tag == "pointer" else 0)  # Go omits pointer sizes
        types.append(GoType(info["name"], tag, info["kind"], size, target,
                            info.get("count", 0),
                            [(n, o, index.get(t, -1)) for n, o, t in members]))
    runtime = {info["rt"]: i for i, (_, info, _) in enumerate(raw) if "rt" in info}
    gl = sorted((n, a, index.get(t, -1)) for n, a, t in globals_ if index.get(t, -1) >= 0)
    gl.sort(key=lambda g: g[1])
    locs = []
    for t, ranges in locals_raw:
        ti = index.get(t, -1)
        if ti < 0:
            continue
        size = types[ti].size or ptr_size
        # The last piece of a single-location variable covers the whole variable.
        locs.append((ti, [(lo, hi, [(o, min(n, size - o), w) for o, n, w in ps])
                          for lo, hi, ps in ranges]))
    return GoTypes(types, gl, runtime, locs)


def binary_key(path: str) -> str:
    """Identity of a binary file: path, size, mtime, first MiB."""
    st = os.stat(path)
    h = hashlib.sha256(f"{FORMAT}\0{os.path.abspath(path)}\0{st.st_size}\0{st.st_mtime_ns}"
                       .encode())
    with open(path, "rb") as f:
        h.update(f.read(1 << 20))
    return h.hexdigest()[:32]


def load_types(path: str) -> GoTypes:
    """The types of the binary at ``path``, from the cache when it was read before."""
    from heapspurs.index.cache import cache_root

    root = cache_root()
    target = root / f"types-{binary_key(path)}.json" if root is not None else None
    if target is not None and target.is_file() and not target.is_symlink():
        try:
            data = json.loads(target.read_text())
            return GoTypes([GoType(t[0], t[1], t[2], t[3], t[4], t[5],
                                   [tuple(f) for f in t[6]]) for t in data["types"]],
                           [tuple(g) for g in data["globals"]],
                           {int(k): v for k, v in data["runtime"].items()},
                           [(t, [(lo, hi, [tuple(p) for p in ps]) for lo, hi, ps in rs])
                            for t, rs in data["locals"]])
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            pass
    types = extract(path)
    if target is not None:
        data = {"types": [[t.name, t.tag, t.kind, t.size, t.target, t.count, t.fields]
                          for t in types.types],
                "globals": types.globals, "runtime": {str(k): v for k, v in types.runtime.items()},
                "locals": types.locals}
        try:
            fd, tmp = tempfile.mkstemp(prefix=".types.", dir=target.parent)
            with os.fdopen(fd, "w") as f:
                json.dump(data, f)
            os.replace(tmp, target)
        except OSError:
            pass
    return types
