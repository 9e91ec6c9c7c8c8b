"""The records of a Go heap dump: each record tag's layout, declared once, and its dataclass.

:data:`LAYOUTS` says, per record tag, its fields in the order the runtime writes them and how each
is encoded (uvarint, string, contents, fieldlist, ...). It is the one source of truth: the reader
(:mod:`heapspurs.format.reader`) decodes by it, and the C scan's tables
(``heapspurs/scan/record_layouts.h``) are generated from it by :mod:`heapspurs.scan.layouts_h`.
The authority is ``runtime/heapdump.go`` of each Go release (1.21 to 1.27 write the same format).
Contents of objects, frames and segments are kept as ``bytes`` together with their offset in the
file, so later stages can refer back to the mmap'd file instead of copying.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Record tags, as written by runtime/heapdump.go.
TAG_EOF = 0
TAG_OBJECT = 1
TAG_OTHER_ROOT = 2
TAG_TYPE = 3
TAG_GOROUTINE = 4
TAG_STACK_FRAME = 5
TAG_PARAMS = 6
TAG_FINALIZER = 7
TAG_ITAB = 8
TAG_OS_THREAD = 9
TAG_MEMSTATS = 10
TAG_QUEUED_FINALIZER = 11
TAG_DATA = 12
TAG_BSS = 13
TAG_DEFER = 14
TAG_PANIC = 15
TAG_MEMPROF = 16
TAG_ALLOC_SAMPLE = 17

# Field kinds in a fieldlist: 0 ends it, then 1 pointer, 2 iface, 3 eface (the runtime writes
# only pointers today, older ones wrote the rest).
FIELD_EOL = 0
FIELD_EFACE = 3

# Goroutine status values (runtime2.go), the ones a dump can contain and a few more for old dumps.
GOROUTINE_STATUS = {
    0: "Idle",
    1: "Runnable",
    2: "Running",
    3: "Syscall",
    4: "Waiting",
    5: "Moribund",
    6: "Dead",
    7: "Enqueue",
    8: "Copystack",
    9: "Preempted",
}

MEMSTATS_FIELDS = (
    "Alloc", "TotalAlloc", "Sys", "Lookups", "Mallocs", "Frees", "HeapAlloc", "HeapSys",
    "HeapIdle", "HeapInuse", "HeapReleased", "HeapObjects", "StackInuse", "StackSys",
    "MSpanInuse", "MSpanSys", "MCacheInuse", "MCacheSys", "BuckHashSys", "GCSys", "OtherSys",
    "NextGC", "LastGC", "PauseTotalNs",
)  # then PauseNs[256], then NumGC


@dataclass(slots=True)
class Params:
    big_endian: bool
    ptr_size: int
    heap_start: int
    heap_end: int
    arch: str
    version: str
    ncpu: int
    tag = TAG_PARAMS


@dataclass(slots=True)
class TypeRecord:
    address: int
    size: int
    name: str
    indirect: bool  # an interface holding this type stores a pointer to the value
    tag = TAG_TYPE


@dataclass(slots=True)
class Object:
    address: int
    contents: bytes
    contents_offset: int  # byte offset of the contents in the file
    fields: list[int]  # offsets of pointer slots inside the contents
    tag = TAG_OBJECT

    @property
    def size(self) -> int:
        return len(self.contents)


@dataclass(slots=True)
class OtherRoot:
    description: str
    address: int
    tag = TAG_OTHER_ROOT


@dataclass(slots=True)
class Goroutine:
    address: int
    sp: int
    goid: int
    gopc: int  # pc of the go statement that created it
    status: int
    system: bool
    background: bool
    wait_since: int
    wait_reason: str
    ctxt: int
    m: int
    defer: int
    panic: int
    tag = TAG_GOROUTINE

    @property
    def status_name(self) -> str:
        return GOROUTINE_STATUS.get(self.status, f"Unknown status {self.status}")


@dataclass(slots=True)
class StackFrame:
    sp: int  # lowest address in the frame
    depth: int  # 0 is the innermost frame
    child_sp: int  # sp of the callee frame, 0 at the innermost frame
    contents: bytes
    contents_offset: int
    entry_pc: int
    pc: int
    cont_pc: int
    name: str
    fields: list[int]
    tag = TAG_STACK_FRAME

    @property
    def address(self) -> int:
        return self.sp

    @property
    def size(self) -> int:
        return len(self.contents)


@dataclass(slots=True)
class Finalizer:
    """A registered (tag 7) or queued (tag 11) finalizer."""

    object: int
    funcval: int
    fn_pc: int
    fint: int  # type of the finalizer's argument
    ot: int  # pointer type of the object
    queued: bool = False

    @property
    def tag(self) -> int:
        return TAG_QUEUED_FINALIZER if self.queued else TAG_FINALIZER


@dataclass(slots=True)
class Itab:
    address: int
    type_address: int
    tag = TAG_ITAB


@dataclass(slots=True)
class OSThread:
    address: int
    go_id: int
    os_id: int
    tag = TAG_OS_THREAD


@dataclass(slots=True)
class MemStats:
    values: dict[str, int]
    pause_ns: list[int]
    num_gc: int
    tag = TAG_MEMSTATS


@dataclass(slots=True)
class Segment:
    """The data (tag 12) or BSS (tag 13) segment of the main module."""

    address: int
    contents: bytes
    contents_offset: int
    fields: list[int]
    bss: bool = False

    @property
    def tag(self) -> int:
        return TAG_BSS if self.bss else TAG_DATA

    @property
    def size(self) -> int:
        return len(self.contents)

    @property
    def end(self) -> int:
        return self.address + len(self.contents)


@dataclass(slots=True)
class Defer:
    address: int
    goroutine: int
    sp: int
    pc: int
    funcval: int
    fn_pc: int
    link: int
    tag = TAG_DEFER


@dataclass(slots=True)
class Panic:
    address: int
    goroutine: int
    arg_type: int
    arg_data: int
    defer: int
    link: int
    tag = TAG_PANIC


@dataclass(slots=True)
class ProfileFrame:
    function: str
    file: str
    line: int


@dataclass(slots=True)
class MemProfBucket:
    address: int  # the bucket's identity, referenced by allocation samples
    size: int
    frames: list[ProfileFrame] = field(default_factory=list)
    allocs: int = 0
    frees: int = 0
    tag = TAG_MEMPROF


@dataclass(slots=True)
class AllocSample:
    address: int  # the sampled object
    bucket: int
    tag = TAG_ALLOC_SAMPLE


@dataclass(slots=True)
class EndOfFile:
    tag = TAG_EOF


Record = (
    Params | TypeRecord | Object | OtherRoot | Goroutine | StackFrame | Finalizer | Itab
    | OSThread | MemStats | Segment | Defer | Panic | MemProfBucket | AllocSample | EndOfFile
)


# How a field is written. Each is a uvarint or built of them:
UVARINT = "uvarint"
BOOL = "bool"  # a uvarint; nonzero is true
BIG_ENDIAN = "big-endian"  # a bool that sets the byte order of the pointers after it
PTR_SIZE = "pointer size"  # a uvarint, 4 or 8, that sets the size of the pointers after it
STRING = "string"  # uvarint length, then that many bytes of UTF-8
CONTENTS = "contents"  # uvarint length, then raw bytes: kept with their file offset
FIELDS = "fieldlist"  # (kind, offset) uvarint pairs until kind 0: pointer slots in the contents
REPEAT = "repeat"  # a uvarint count, then that many groups of the field's ``group`` layout
KINDS = (UVARINT, BOOL, BIG_ENDIAN, PTR_SIZE, STRING, CONTENTS, FIELDS, REPEAT)


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a record: its name (the dataclass attribute it fills) and encoding.

    ``count`` > 1 is that many values in a row: a list, or a dict by ``keys``. A CONTENTS field
    fills two attributes, ``<name>`` (the bytes) and ``<name>_offset``; a FIELDS list holds
    offsets inside the CONTENTS field before it."""

    name: str
    kind: str = UVARINT
    count: int = 1
    keys: tuple[str, ...] = ()
    group: Layout | None = None


@dataclass(frozen=True, slots=True)
class Layout:
    """A record (or a repeated group inside one): its fields in file order, and the dataclass
    built from them, positionally, followed by the ``fixed`` keyword values."""

    name: str
    fields: tuple[Field, ...]
    record: type
    fixed: tuple[tuple[str, object], ...] = ()


def _f(spec: str) -> tuple[Field, ...]:
    """Fields from "name:kind name name:kind ...", uvarint where no kind is given (the kind is
    one of the KINDS objects, so the reader can compare with ``is``)."""
    kinds = {kind: kind for kind in KINDS}
    return tuple(Field(name, kinds[kind[0]] if kind else UVARINT)
                 for name, *kind in (word.split(":") for word in spec.split()))


_FINALIZER = _f("object funcval fn_pc fint ot")
_SEGMENT = _f("address contents:contents fields:fieldlist")

# Each record tag's fields, in the order runtime/heapdump.go writes them: in the _f() spellings a
# bare name is a uvarint, "name:kind" gives the kind. The one declaration of the format: the
# reader decodes by it, the C scan's record_layouts.h is generated from it.
LAYOUTS: dict[int, Layout] = {
    TAG_EOF: Layout("end of file", (), EndOfFile),
    TAG_OBJECT: Layout("object", _f("address contents:contents fields:fieldlist"), Object),
    TAG_OTHER_ROOT: Layout("other root", _f("description:string address"), OtherRoot),
    TAG_TYPE: Layout("type", _f("address size name:string indirect:bool"), TypeRecord),
    TAG_GOROUTINE: Layout("goroutine", _f(
        "address sp goid gopc status system:bool background:bool wait_since "
        "wait_reason:string ctxt m defer panic"), Goroutine),
    TAG_STACK_FRAME: Layout("stack frame", _f(
        "sp depth child_sp contents:contents entry_pc pc cont_pc name:string "
        "fields:fieldlist"), StackFrame),
    TAG_PARAMS: Layout("params", (
        Field("big_endian", BIG_ENDIAN), Field("ptr_size", PTR_SIZE),
        *_f("heap_start heap_end arch:string version:string ncpu")), Params),
    TAG_FINALIZER: Layout("registered finalizer", _FINALIZER, Finalizer),
    TAG_ITAB: Layout("itab", _f("address type_address"), Itab),
    TAG_OS_THREAD: Layout("OS thread", _f("address go_id os_id"), OSThread),
    TAG_MEMSTATS: Layout("memstats", (
        Field("values", count=len(MEMSTATS_FIELDS), keys=MEMSTATS_FIELDS),
        Field("pause_ns", count=256), Field("num_gc")), MemStats),
    TAG_QUEUED_FINALIZER: Layout("queued finalizer", _FINALIZER, Finalizer,
                                 (("queued", True),)),
    TAG_DATA: Layout("data segment", _SEGMENT, Segment),
    TAG_BSS: Layout("BSS segment", _SEGMENT, Segment, (("bss", True),)),
    TAG_DEFER: Layout("defer", _f("address goroutine sp pc funcval fn_pc link"), Defer),
    TAG_PANIC: Layout("panic", _f("address goroutine arg_type arg_data defer link"), Panic),
    TAG_MEMPROF: Layout("memory profile bucket", (
        *_f("address size"),
        Field("frames", REPEAT, group=Layout(
            "profile frame", _f("function:string file:string line"), ProfileFrame)),
        *_f("allocs frees")), MemProfBucket),
    TAG_ALLOC_SAMPLE: Layout("allocation sample", _f("address bucket"), AllocSample),
}

TAG_NAMES = {tag: layout.name for tag, layout in LAYOUTS.items()}
