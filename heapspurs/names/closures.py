"""Closures and defer/go wrappers as Go types: a ``func`` value points at a closure object
(``funcval``) whose first word is its function's entry pc and whose other words are what the
function captured. The DWARF readers hand over each unit-level function with its direct children
(:class:`Functions`); this module lays out, per closure function, the type ``closure NAME``
that heap objects starting with its entry pc are typed as:

- Go 1.23+ gives each captured variable its offset in the closure (attribute 0x2907); a variable
  captured by reference is named ``&x`` and already has the pointer type.
- A defer or go wrapper (``f.deferwrap1``, ``f.gowrap1``; ``f.funcN`` marked
  DW_AT_trampoline before Go 1.22) holds the arguments of the call it makes: the inputs of the
  inlined callee (DW_TAG_inlined_subroutine's abstract origin), laid out in order after the code
  pointer with Go's alignment. A method value's wrapper (``T.M-fm``) holds the receiver.
- Before Go 1.23 no offsets are given: a closure function with a single variable captured it,
  right after the code pointer (a closure that captures nothing is static data, never a heap
  object).

Every layout is a proposal: the typer still checks it against the dump (size, pointer slots).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

from heapspurs.names.dwarf_types import GoType

F_TRAMPOLINE, F_INLINE = 1, 2
TAG_VARIABLE, TAG_PARAMETER, TAG_INLINED = 0x34, 0x05, 0x1D
CLOSURE = "closure "  # the prefix of a closure type's name
CLOSURE_NAME = re.compile(r"\.(?:func\d+|gowrap\d+|deferwrap\d+)(?:\.\d+)*$")

# A unit-level function: (DIE offset, name, entry pc or -1, declaration line or -1, abstract
# origin DIE or -1, flags).
Func = tuple[int, str, int, int, int, int]
# One of its direct children: (tag, name, type index or -1, closure offset or -1, declaration line
# or -1, abstract origin DIE or -1, variable_parameter: 1, 0, or -1 when absent).
Var = tuple[int, str, int, int, int, int, int]


@dataclass
class Functions:
    """What a DWARF reader found of functions: ``funcs`` in DIE order, ``vars_of(i)`` the
    children of function ``i``."""

    funcs: Sequence[Func]
    vars_of: Callable[[int], list[Var]]
    placed: set[int]  # the functions with a variable that has a closure offset
    code: Callable[[int, int], bytes] | None = None  # (address, length) -> the binary's code

    @cached_property
    def entries(self) -> dict[int, int]:
        """Entry pc -> function index."""
        return {f[2]: i for i, f in enumerate(self.funcs) if f[2] >= 0}


def code_reader(path: str) -> Callable[[int, int], bytes] | None:
    """Read the code at an address of the x86-64 ELF file at ``path`` (b"" outside
    ``.text``); None for other machines (their calls are not decoded)."""
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as f:
        elf = ELFFile(f)
        if elf["e_machine"] != "EM_X86_64":
            return None
        text = elf.get_section_by_name(".text")
        base = int(text["sh_addr"]) if text is not None else 0
        offset = int(text["sh_offset"]) if text is not None else 0
        size = int(text["sh_size"]) if text is not None else 0

    def read(address: int, n: int) -> bytes:
        start = address - base
        if start < 0 or start >= size:
            return b""
        with open(path, "rb") as f:
            f.seek(offset + start)
            return f.read(min(n, size - start))

    return read


def align_of(types: list[GoType], t: int, ptr: int,
             seen: dict[int, int] | None = None) -> int:
    """Go's alignment of type ``t`` (gc, 64- or 32-bit): a base type's size up to the word,
    a struct's largest field alignment, an array's element alignment. Each type is worked out
    once (``seen``), and a type that contains itself (only hostile DWARF does) counts as 1."""
    seen = {} if seen is None else seen
    hops = 0
    while t >= 0 and types[t].tag == "typedef" and hops < 64:
        t, hops = types[t].target, hops + 1
    if t < 0 or hops >= 64:
        return 1
    if t in seen:
        return seen[t]
    seen[t] = 1  # (while it is being worked out: a cycle ends here)
    ty = types[t]
    if ty.tag == "struct":
        a = max([align_of(types, ft, ptr, seen) for _, _, ft in ty.fields] or [1])
    elif ty.tag == "array":
        a = align_of(types, ty.target, ptr, seen)
    else:
        size = ty.size or ptr
        a = min(1 << (size.bit_length() - 1) if size & (size - 1) else size, ptr)
    seen[t] = a
    return a


def _size(types: list[GoType], t: int) -> int:
    seen = 0
    while t >= 0 and types[t].tag == "typedef" and seen < 64:
        t, seen = types[t].target, seen + 1
    return types[t].size if t >= 0 else -1


def add_closure_types(types: list[GoType], fns: Functions, ptr: int) -> dict[int, int]:
    """Append a ``closure NAME`` struct type to ``types`` for every function whose captured
    variables DWARF lays out; returns entry pc -> that type's index."""
    by_die = {f[0]: i for i, f in enumerate(fns.funcs)}
    uintptr = next((i for i, t in enumerate(types) if t.name == "uintptr"), -1)
    out: dict[int, int] = {}
    for i, (_, name, pc, _, origin, flags) in enumerate(fns.funcs):
        if pc < 0:
            continue
        o = by_die.get(origin)
        if o is not None:
            name = name or fns.funcs[o][1]
        fields = _captured(types, fns, by_die, i, name, flags, ptr)
        if fields is None:
            continue
        end = ptr
        for _, off, t in fields:
            end = max(end, off + max(_size(types, t), 0))
        size = -(-end // ptr) * ptr
        head = [("F", 0, uintptr)] if uintptr >= 0 else []
        out[pc] = len(types)
        types.append(GoType(CLOSURE + name, "struct", 0, size, -1, 0, head + fields))
    return out


SHAPED = "[go.shape."  # a generic function's shape instantiation, which takes a dictionary
MAX_CLOSURE = 1 << 16  # bytes: captured variables past this are not laid out word by word


def _with_dictionary(types: list[GoType], placed: list[tuple[str, int, int]],
                     ptr: int) -> list[tuple[str, int, int]]:
    """A closure inside a shape-instantiated function also captures its dictionary, which
    DWARF does not list: in the first word no listed variable covers."""
    unsafe_pointer = next((i for i, t in enumerate(types) if t.name == "unsafe.Pointer"), -1)
    if unsafe_pointer < 0:
        return placed
    covered: set[int] = set()
    for _, off, t in placed:
        end = off + max(_size(types, t), 1)
        if not 0 <= off < end <= MAX_CLOSURE:
            return placed  # (no closure is this big: DWARF that cannot be right)
        covered.update(range(off // ptr, -(-end // ptr)))
    word = next(w for w in range(1, len(covered) + 2) if w not in covered)
    return sorted([*placed, (".dict", word * ptr, unsafe_pointer)], key=lambda f: f[1])


WRAPPER_CODE = 96  # bytes of a wrapper's code searched for the call it makes


def _called(fns: Functions, i: int) -> int | None:
    """The function a wrapper calls, when it did not inline it: the first x86-64 CALL rel32
    in its code whose target is the entry of a function outside the runtime (the others are
    stack growth and panics)."""
    if fns.code is None:
        return None
    pc = fns.funcs[i][2]
    code = fns.code(pc, WRAPPER_CODE)
    entries = fns.entries
    for k in range(len(code) - 4):
        if code[k] != 0xE8:
            continue
        target = pc + k + 5 + int.from_bytes(code[k + 1:k + 5], "little", signed=True)
        j = entries.get(target)
        if j is not None and not fns.funcs[j][1].startswith("runtime."):
            return j
    return None


def _captured(types: list[GoType], fns: Functions, by_die: dict[int, int], i: int, name: str,
              flags: int, ptr: int) -> list[tuple[str, int, int]] | None:
    """(name, offset, type) of what function ``i`` captures, or None when DWARF does not
    say."""
    if flags & F_TRAMPOLINE:
        # Other trampolines (a pointer method wrapping a value method) are no closures.
        method_value = name.endswith("-fm")
        if not (method_value or CLOSURE_NAME.search(name)):
            return None
        callee = next((by_die[v[5]] for v in fns.vars_of(i)
                       if v[0] == TAG_INLINED and v[5] in by_die), None)
        if callee is None:
            callee = _called(fns, i)
        if callee is None:
            return None
        params = [v for v in fns.vars_of(callee) if v[0] == TAG_PARAMETER and v[6] != 1]
        if method_value:  # a method value (x.M) holds its receiver only
            params = params[:1]
        fields, off = [], ptr
        for _, pname, tdie, _, _, _, _ in params:
            t = tdie
            if t < 0 or _size(types, t) < 0 or not pname:
                return None
            a = align_of(types, t, ptr)
            off = -(-off // a) * a
            fields.append((pname, off, t))
            off += _size(types, t)
        return fields
    if i in fns.placed:
        placed = [(v[1], v[3], v[2]) for v in fns.vars_of(i)
                  if v[0] == TAG_VARIABLE and v[3] >= 0]
        if not all(t >= 0 for _, _, t in placed):
            return None
        placed.sort(key=lambda f: f[1])
        if SHAPED in name:
            placed = _with_dictionary(types, placed, ptr)
        return placed
    if fns.placed or not CLOSURE_NAME.search(name):
        return None
    # (Before Go 1.23 a captured variable is declared where the closure first uses it: it
    # cannot be told from the closure's own locals, so only a lone variable is taken.)
    captured = [v for v in fns.vars_of(i) if v[0] == TAG_VARIABLE]
    if len(captured) != 1 or captured[0][2] < 0:
        return None
    return [(captured[0][1], ptr, captured[0][2])]
