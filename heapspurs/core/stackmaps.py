"""The pointer slots of a goroutine's frames, from the pclntab's stack maps, exactly as the heap
dump writes them (``runtime.dumpframe``, the same in Go 1.21 … 1.27; linux/amd64).

Each frame's slots are offsets from its sp, in the dump's order:

- its *outgoing arguments*, the arguments of the frame it called (its child, the frame before it
  in the innermost-first list), at ``child.argoff`` (``argp - fp`` of the child: 0 on amd64):
  the child's arguments pointer map (``FUNCDATA_ArgsPointerMaps``, at the child's stack-map
  index), or, when the child has none (assembly), every word of the child's arguments
  (``argBytes``: ``_func.args``, or for reflect's stubs the size of the map in the
  ``reflect.methodValue`` they saved at 0(SP)); none for the innermost frame;
- its *locals*: the locals pointer map (``FUNCDATA_LocalsPointerMaps``) at the frame's stack-map
  index (``PCDATA_StackMapIndex`` at ``pc - 1``, or 0 at the function's entry or with no index),
  its bits ending at ``varp`` (``fp`` less the return address and the saved frame pointer);
  with no locals map, every word from the child's argument size up to ``varp``; a map with a
  negative count: that many bytes of words below ``varp``; a map with no bitmaps: nothing.

Stack objects (``FUNCDATA_StackObjects``) are not in the dump, nor here. The values are read from
the core at ``sp + offset``.

Everything read from the pclntab is checked before it is used: a map index outside the map, a
map whose bits reach outside the frame, a pc-value table that runs out, are one
:class:`CoreFileError` line; nothing is allocated by a count the core gives without first
checking it against the frame's size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from heapspurs.core.errors import CoreFileError
from heapspurs.core.layouts import RuntimeTypes
from heapspurs.core.memory import AddressSpace
from heapspurs.core.unwind import PTR_SIZE, Frame, Func, FuncTable

PCDATA_STACK_MAP_INDEX = 1  # internal/abi.PCDATA_StackMapIndex
FUNCDATA_ARGS_POINTER_MAPS = 0  # internal/abi.FUNCDATA_ArgsPointerMaps
FUNCDATA_LOCALS_POINTER_MAPS = 1  # internal/abi.FUNCDATA_LocalsPointerMaps
ARGS_SIZE_UNKNOWN = -0x80000000  # internal/abi.ArgsSizeUnknown
REFLECT_STUBS = ("reflect.makeFuncStub", "reflect.methodValueCall")
FRAME_POINTER = True  # framepointer_enabled: always on linux/amd64


@dataclass(frozen=True)
class StackMap:
    n: int  # number of bitmaps (negative: the locals' size in bytes, no bitmap)
    nbit: int  # bits in each
    address: int  # of the first bitmap


@dataclass(frozen=True)
class Bits:
    """A bitvector: ``n`` bits (-1: no map, everything may be a pointer) from ``data``."""

    n: int
    data: bytes = b""

    def set_bits(self) -> np.ndarray:
        if self.n <= 0:
            return np.zeros(0, np.uint64)
        bits = np.unpackbits(np.frombuffer(self.data, np.uint8), bitorder="little")[:self.n]
        return np.nonzero(bits)[0].astype(np.uint64)


NO_MAP = Bits(-1)


class FrameSlots:
    """Works out frames' pointer slots with one program's function table."""

    def __init__(self, space: AddressSpace, table: FuncTable, rt: RuntimeTypes):
        self.space = space
        self.table = table
        self.rt = rt
        self.where = space.core.path

    def _corrupt(self, what: str) -> CoreFileError:
        return CoreFileError(f"{self.where}: {what}: a corrupt core or another program")

    def _func(self, frame: Frame) -> Func:
        f = self.table.find(frame.pc)
        if f is None or f.entry != frame.entry:
            raise self._corrupt(f"the frame of {frame.name} at pc {frame.pc:#x} is in no "
                                "function")
        return f

    def _stack_map(self, f: Func, index: int) -> StackMap | None:
        address = self.table.funcdata(f, index)
        if address is None:
            return None
        raw = self.space.read(address, 8)
        n, nbit = (int.from_bytes(raw[k:k + 4], "little", signed=True) for k in (0, 4))
        return StackMap(n, nbit, address + 8)

    def _bits(self, f: Func, m: StackMap, index: int, limit: int, what: str) -> Bits:
        """Bitmap ``index`` of ``m`` (``runtime.stackmapdata``), at most ``limit`` bits."""
        if not 0 <= m.nbit <= limit:
            raise self._corrupt(f"{f.name}'s {what} pointer maps have {m.nbit} bits, its frame "
                                f"{limit} words")
        if m.nbit == 0:
            return Bits(0)
        if not 0 <= index < m.n:
            raise self._corrupt(f"{f.name}'s {what} pointer map {index} is not among its "
                                f"{m.n}")
        size = (m.nbit + 7) >> 3
        return Bits(m.nbit, self.space.read(m.address + index * size, size))

    def _map_index(self, f: Func, frame: Frame) -> int:
        if frame.pc == f.entry:
            return 0
        try:
            index = self.table.pcdata_value(f, PCDATA_STACK_MAP_INDEX, frame.pc - 1)
        except ValueError as e:
            raise self._corrupt(f"{f.name}'s stack map index table: {e}") from None
        return 0 if index == -1 else index

    def _arg_bytes(self, f: Func, frame: Frame) -> int:
        """``stkframe.argBytes``: the size of ``frame``'s arguments."""
        if f.args != ARGS_SIZE_UNKNOWN:
            return f.args
        if f.name not in REFLECT_STUBS:
            return 0
        # A reflect stub saved its *reflect.methodValue at 0(SP) (stkframe.argMapInternal).
        arg0 = frame.sp
        if arg0 >= frame.fp - PTR_SIZE:
            return 0  # it has not started: no arguments yet
        rt = self.rt
        mv = self.space.word(arg0)
        ret_valid = self.space.read(arg0 + 4 * PTR_SIZE, 1)[0]
        fields = rt.fields("runtime.reflectMethodValue", ("fn", "stack", "argLen"))
        raw = self.space.read(mv, rt.struct_size("runtime.reflectMethodValue"))
        if fields["fn"].of(raw) != f.entry:
            raise self._corrupt(f"{f.name}'s reflect.methodValue at {mv:#x} is of another "
                                "function")
        n = int.from_bytes(self.space.read(fields["stack"].of(raw), 4), "little", signed=True)
        if not ret_valid:
            n = min(n, (fields["argLen"].of(raw) & ~(PTR_SIZE - 1)) // PTR_SIZE)
        return n * PTR_SIZE

    def slots(self, frames: list[Frame]) -> list[np.ndarray]:
        """Each frame's pointer slot offsets from its sp (uint64, the dump's order), for one
        goroutine's frames, innermost first."""
        out = []
        child_args, child_arglen = NO_MAP, 0
        for frame in frames:
            f = self._func(frame)
            index = self._map_index(f, frame)
            parts = []
            # Outgoing arguments: the child's, at argoff 0 (argp = fp on amd64).
            if child_args.n >= 0:
                parts.append(child_args.set_bits() * PTR_SIZE)
            else:
                if not 0 <= child_arglen <= frame.size:
                    raise self._corrupt(f"{frame.name}'s callee has {child_arglen} bytes of "
                                        f"arguments, more than its {frame.size}-byte frame")
                parts.append(np.arange(0, child_arglen, PTR_SIZE, dtype=np.uint64))
            # Locals, below varp.
            varp = frame.fp - PTR_SIZE
            if varp > frame.sp and FRAME_POINTER:
                varp -= PTR_SIZE
            top = varp - frame.sp
            locals_map = self._stack_map(f, FUNCDATA_LOCALS_POINTER_MAPS)
            if locals_map is None:
                if not 0 <= child_arglen <= frame.size:
                    raise self._corrupt(f"{frame.name}'s callee has {child_arglen} bytes of "
                                        f"arguments, more than its {frame.size}-byte frame")
                parts.append(np.arange(child_arglen, top, PTR_SIZE, dtype=np.uint64))
            elif locals_map.n < 0:
                size = -locals_map.n
                if size > top:
                    raise self._corrupt(f"{f.name}'s locals are {size} bytes, more than its "
                                        f"{top}-byte frame")
                parts.append(np.arange(top - size, top, PTR_SIZE, dtype=np.uint64))
            elif locals_map.n > 0:
                bits = self._bits(f, locals_map, index, top // PTR_SIZE, "locals")
                base = top - bits.n * PTR_SIZE
                parts.append(np.uint64(base) + bits.set_bits() * PTR_SIZE)
            offs = np.concatenate(parts) if parts else np.zeros(0, np.uint64)
            if len(offs) and int(offs.max()) + PTR_SIZE > frame.size:
                raise self._corrupt(f"{frame.name}'s pointer maps reach past its "
                                    f"{frame.size}-byte frame at {frame.sp:#x}")
            out.append(offs)
            # What its caller's outgoing arguments are.
            child_arglen = self._arg_bytes(f, frame)
            args_map = self._stack_map(f, FUNCDATA_ARGS_POINTER_MAPS)
            if args_map is None:
                child_args = NO_MAP
            else:
                # The caller's frame holds them: bounded by the stack that is left.
                left = (frames[-1].fp - frame.fp) // PTR_SIZE
                child_args = self._bits(f, args_map, index, left, "arguments")
        return out

    def values(self, frame: Frame, offsets: np.ndarray) -> np.ndarray:
        """The words at ``frame.sp + offsets`` in the core."""
        return np.array([self.space.word(frame.sp + int(o)) for o in offsets.tolist()],
                        np.uint64)


def frame_slots(space: AddressSpace, table: FuncTable, rt: RuntimeTypes,
                frames: list[Frame]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(offsets from sp, values) of each of one goroutine's frames' pointer slots."""
    fs = FrameSlots(space, table, rt)
    return [(o, fs.values(fr, o)) for fr, o in zip(frames, fs.slots(frames), strict=True)]
