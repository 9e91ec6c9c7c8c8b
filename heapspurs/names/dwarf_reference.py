"""The reference DWARF reader: Go types, globals and stack locals from the ``--program`` binary,
read DIE by DIE with pyelftools. It is the executable specification of the native walker
(``_cdwarf.c``, driven by :mod:`heapspurs.names.dwarf_native`): tests compare the two on every
test binary. heapspurs uses it when the native walker is not built, or meets DWARF it does not
decode. Slow: about 100k DIEs/s (tens of seconds for a service-sized binary).

Go's DWARF: type references are absolute (DW_FORM_ref_addr); attribute 0x2900 is the reflect
kind, 0x2902 the element type, 0x2904 the descriptor's offset from ``runtime.types``; global
locations are ``DW_OP_addr`` blocks, decoded here; locals and parameters with a location list
are kept with their pc ranges and pieces; unit-level functions with their direct children lay
out closures (:mod:`heapspurs.names.closures`).
"""

from __future__ import annotations

from heapspurs.names.closures import (
    F_INLINE,
    F_TRAMPOLINE,
    TAG_INLINED,
    TAG_PARAMETER,
    TAG_VARIABLE,
    Func,
    Functions,
    Var,
    add_closure_types,
    code_reader,
)
from heapspurs.names.dwarf_types import (
    AT_CLOSURE_OFFSET,
    AT_ELEM,
    AT_KIND,
    AT_RUNTIME_TYPE,
    GoType,
    GoTypes,
    Piece,
)
from heapspurs.names.errors import BinaryError
from heapspurs.names.leb128 import sleb128, uleb128


def pieces(expr: list[int], size: int) -> list[Piece] | None:
    """The pieces of a location expression made of DW_OP_fbreg / DW_OP_call_frame_cfa /
    DW_OP_regN (each optionally followed by DW_OP_piece); None for anything else (computed
    locations are not followed)."""
    out: list[Piece] = []
    i = off = 0
    while i < len(expr):
        op = expr[i]
        where: int | None
        if op == 0x91:  # DW_OP_fbreg
            where, i = sleb128(expr, i + 1)
        elif op == 0x9C:  # DW_OP_call_frame_cfa: the CFA, which is Go's frame base
            where, i = 0, i + 1
        elif 0x50 <= op <= 0x6F:  # DW_OP_reg0..31
            where, i = None, i + 1
        elif op == 0x93:  # a DW_OP_piece with nothing before it: an optimized-out part
            n, i = uleb128(expr, i + 1)
            off += n
            continue
        else:
            return None
        if i < len(expr) and expr[i] == 0x93:
            n, i = uleb128(expr, i + 1)
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
    """Walk the DWARF of the ELF file at ``path`` with pyelftools (every local kept)."""
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
            funcs: list[Func] = []
            children: list[list[Var]] = []

            def ref(cu, attr) -> int:
                v = int(attr.value)
                return v if attr.form == "DW_FORM_ref_addr" else v + cu.cu_offset

            for cu in dwarf.iter_CUs():
                for die in cu.iter_DIEs():
                    tag = die.tag
                    if tag == "DW_TAG_subprogram" and die.get_parent().tag == (
                            "DW_TAG_compile_unit"):
                        funcs.append(_function(die, ref(cu, die.attributes[
                            "DW_AT_abstract_origin"]) if "DW_AT_abstract_origin" in
                            die.attributes else -1))
                        children.append([_child(c, cu, ref) for c in die.iter_children()
                                         if c.tag in VAR_TAGS])
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
    children = [[(v[0], v[1], index.get(v[2], -1), *v[3:]) for v in vs] for vs in children]
    closures = add_closure_types(types, Functions(funcs, children.__getitem__, {
        i for i, vs in enumerate(children) if any(v[3] >= 0 for v in vs)}, code_reader(path)),
        ptr_size)
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
    return GoTypes(types, gl, runtime, locs, closures)


VAR_TAGS = {"DW_TAG_variable": TAG_VARIABLE, "DW_TAG_formal_parameter": TAG_PARAMETER,
            "DW_TAG_inlined_subroutine": TAG_INLINED}


def _name(a: dict) -> str:
    return a["DW_AT_name"].value.decode("utf-8", "replace") if "DW_AT_name" in a and isinstance(
        a["DW_AT_name"].value, bytes) else ""


def _int(a: dict, key: object) -> int:
    v = a.get(key)
    return int(v.value) if v is not None and isinstance(v.value, int) else -1


def _function(die, origin: int) -> Func:
    a = die.attributes
    flags = (F_INLINE if "DW_AT_inline" in a else 0) | (
        F_TRAMPOLINE if a.get("DW_AT_trampoline") is not None and a["DW_AT_trampoline"].value
        else 0)
    return (die.offset, _name(a), _int(a, "DW_AT_low_pc"), _int(a, "DW_AT_decl_line"), origin,
            flags)


def _child(die, cu, ref) -> Var:
    a = die.attributes
    vp = a.get("DW_AT_variable_parameter")
    return (VAR_TAGS[die.tag], _name(a), ref(cu, a["DW_AT_type"]) if "DW_AT_type" in a else -1,
            _int(a, AT_CLOSURE_OFFSET),
            _int(a, "DW_AT_decl_line"),
            ref(cu, a["DW_AT_abstract_origin"]) if "DW_AT_abstract_origin" in a else -1,
            -1 if vp is None else int(bool(vp.value)))
