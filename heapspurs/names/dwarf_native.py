"""The fast DWARF reader: pyelftools finds and decompresses the ELF sections, the native DIE
walker (``_cdwarf.c``) decodes ``.debug_info`` in one pass, and numpy turns its rows into the
same :class:`GoTypes` as the reference reader (:mod:`heapspurs.names.dwarf_reference`), which is
its specification. Only the stack locals live at the given pcs (the dump's frames) are kept: a
binary has hundreds of thousands of them, a dump's stacks use a few hundred functions.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from heapspurs.names.closures import Functions, Var, add_closure_types, code_reader
from heapspurs.names.dwarf_types import GoType, GoTypes, Piece

try:
    from heapspurs.names import _cdwarf
except ImportError:  # built without a C compiler: the reference reader is used
    _cdwarf = None

TAGS = ("struct", "pointer", "array", "base", "typedef", "func", "other")
T_POINTER, T_TYPEDEF = 1, 4
SECTIONS = (".debug_info", ".debug_abbrev", ".debug_str", ".debug_line_str", ".debug_addr",
            ".debug_loc", ".debug_loclists")
NO_WHERE = np.iinfo(np.int64).min  # the walker's mark for a piece held in a register


class Unsupported(Exception):
    """DWARF the native walker does not decode: read it with the reference reader."""


def available() -> bool:
    return _cdwarf is not None


def _section(elf, name: str) -> bytes:
    """A section's bytes, decompressed by pyelftools (SHF_COMPRESSED); b"" when absent."""
    from elftools.common.exceptions import ELFCompressionError

    s = elf.get_section_by_name(name)
    if s is not None:
        try:
            return s.data()
        except ELFCompressionError as e:
            if "0x2" in str(e):  # ELFCOMPRESS_ZSTD
                raise ValueError(f"{name} is zstd-compressed, which heapspurs does not read: "
                                 "`objcopy --decompress-debug-sections` gives a copy it reads"
                                 ) from None
            raise
    if elf.get_section_by_name(".z" + name[1:]) is not None:  # GNU .zdebug_ (Go before 1.12)
        raise Unsupported(f"old-style compressed section .z{name[1:]}")
    return b""


def _index_of(die: np.ndarray, refs: np.ndarray) -> np.ndarray:
    """Type index of each DIE offset in ``refs`` (-1 when no kept type DIE is there)."""
    if not len(die):
        return np.full(len(refs), -1, np.int64)
    pos = np.searchsorted(die, refs)
    safe = np.minimum(pos, len(die) - 1)
    return np.where((pos < len(die)) & (die[safe] == refs), safe, -1)


def _rows(data: bytes, width: int) -> np.ndarray:
    return np.frombuffer(data, np.int64).reshape(-1, width)


def extract(path: str, pcs: np.ndarray | None = None, types_base: int | None = None) -> GoTypes:
    """The types, globals and (live at ``pcs``, or all) locals of the ELF file at ``path``;
    ``types_base`` is the address of ``runtime.types`` (looked up when not given).
    Raises ValueError for corrupt DWARF (the message names the section offset), Unsupported
    for DWARF the walker does not decode, and pyelftools' errors for a broken ELF file."""
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as f:
        elf = ELFFile(f)
        if not elf.has_dwarf_info():
            return GoTypes([], [], {})
        if not elf.little_endian:
            raise Unsupported("big-endian binary")
        ptr_size = 8 if elf.elfclass == 64 else 4
        if types_base is None:
            from heapspurs.names.elf_binary import read_binary

            types_base = read_binary(path).markers.get("runtime.types")
        sections = [_section(elf, name) for name in SECTIONS]
    live = None if pcs is None else np.unique(np.asarray(pcs, np.uint64))
    try:
        out = _cdwarf.walk(*sections, -1 if types_base is None else types_base, live)
    except NotImplementedError as e:
        raise Unsupported(str(e)) from None
    return _go_types(out, ptr_size, code_reader(path))


def _go_types(out: tuple, ptr_size: int, code: Callable[[int, int], bytes] | None) -> GoTypes:
    trows, mrows, grows, lrows, rrows, prows, frows, vrows = (
        _rows(out[0], 12), _rows(out[1], 5), _rows(out[2], 4), _rows(out[3], 3),
        _rows(out[4], 4), _rows(out[5], 3), _rows(out[7], 7), _rows(out[8], 9))
    blob = out[6]
    die = trows[:, 0]
    tag = trows[:, 1]
    via_target = (tag == T_POINTER) | (tag == T_TYPEDEF)
    ref = np.where(via_target | (trows[:, 5] < 0), trows[:, 4], trows[:, 5])
    target = _index_of(die, ref)
    size = np.where((trows[:, 3] == 0) & (tag == T_POINTER), ptr_size, trows[:, 3])

    def text(pos: int, n: int) -> str:
        return blob[pos:pos + n].decode("utf-8", "replace")

    fields: list[list[tuple[str, int, int]]] = [[] for _ in range(len(trows))]
    if len(mrows):
        mtype = _index_of(die, mrows[:, 4]).tolist()
        order = np.argsort(mrows[:, 0], kind="stable").tolist()
        parent, mpos, mlen, moff = (mrows[:, k].tolist() for k in range(4))
        for k in order:
            fields[parent[k]].append((text(mpos[k], mlen[k]), moff[k], mtype[k]))
    types = [GoType(text(p, n), TAGS[t], k, s, g, c, f) for p, n, t, k, s, g, c, f in zip(
        trows[:, 10].tolist(), trows[:, 11].tolist(), tag.tolist(), trows[:, 2].tolist(),
        size.tolist(), target.tolist(), trows[:, 7].tolist(), fields, strict=True)]
    rt = trows[:, 6]
    has_rt = np.nonzero(rt >= 0)[0]
    runtime = dict(zip(rt[has_rt].tolist(), has_rt.tolist(), strict=True))
    gtype = _index_of(die, grows[:, 3])
    globals_ = sorted((text(p, n), a, t) for p, n, a, t in zip(
        grows[:, 0].tolist(), grows[:, 1].tolist(), grows[:, 2].tolist(), gtype.tolist(),
        strict=True) if t >= 0)
    globals_.sort(key=lambda g: g[1])
    vrows = vrows.copy()
    vrows[:, 4] = _index_of(die, vrows[:, 4])  # type DIE -> type index
    closures = add_closure_types(types, _functions(frows, vrows, text, code), ptr_size)
    return GoTypes(types, globals_, runtime, _locals(lrows, rrows, prows, die, size, ptr_size),
                   closures)


def _functions(frows: np.ndarray, vrows: np.ndarray, text: Callable[[int, int], str],
               code: Callable[[int, int], bytes] | None) -> Functions:
    """The walker's function and child rows as :class:`Functions`; children are turned into
    Python only for the functions asked about."""
    funcs = [(d, text(p, n), pc, line, origin, flags) for d, p, n, pc, line, origin, flags
             in frows.tolist()]
    owner = vrows[:, 0]
    start = np.searchsorted(owner, np.arange(len(frows) + 1))

    def vars_of(i: int) -> list[Var]:
        return [(tag, text(p, n), t, off, line, origin, vp) for _, tag, p, n, t, off, line,
                origin, vp in vrows[start[i]:start[i + 1]].tolist()]

    return Functions(funcs, vars_of, set(np.unique(vrows[vrows[:, 5] >= 0, 0]).tolist()), code)


def _locals(lrows: np.ndarray, rrows: np.ndarray, prows: np.ndarray, die: np.ndarray,
            size: np.ndarray, ptr_size: int) -> list[tuple[int, list]]:
    """(type, [(pc begin, pc end, pieces)]) per kept local; a piece's size is cut to the
    variable's (the last piece of a single location covers the whole variable)."""
    ltype = _index_of(die, lrows[:, 0]).tolist()
    ranges = rrows.tolist()
    pieces = prows.tolist()
    out = []
    for ti, r0, r1 in zip(ltype, lrows[:, 1].tolist(), lrows[:, 2].tolist(), strict=True):
        if ti < 0:
            continue
        vsize = int(size[ti]) or ptr_size
        rs = []
        for lo, hi, p0, p1 in ranges[r0:r1]:
            ps: list[Piece] = [(o, min(n, vsize - o), None if w == NO_WHERE else w)
                               for o, n, w in pieces[p0:p1]]
            rs.append((lo, hi, ps))
        out.append((ti, rs))
    return out
