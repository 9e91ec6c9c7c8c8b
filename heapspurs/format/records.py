"""The records of a Go heap dump, one dataclass per record tag.

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

TAG_NAMES = {
    TAG_EOF: "end of file",
    TAG_OBJECT: "object",
    TAG_OTHER_ROOT: "other root",
    TAG_TYPE: "type",
    TAG_GOROUTINE: "goroutine",
    TAG_STACK_FRAME: "stack frame",
    TAG_PARAMS: "params",
    TAG_FINALIZER: "registered finalizer",
    TAG_ITAB: "itab",
    TAG_OS_THREAD: "OS thread",
    TAG_MEMSTATS: "memstats",
    TAG_QUEUED_FINALIZER: "queued finalizer",
    TAG_DATA: "data segment",
    TAG_BSS: "BSS segment",
    TAG_DEFER: "defer",
    TAG_PANIC: "panic",
    TAG_MEMPROF: "memory profile bucket",
    TAG_ALLOC_SAMPLE: "allocation sample",
}

# Field kinds in a fieldlist; the runtime writes only pointers today, older ones wrote the rest.
FIELD_EOL = 0
FIELD_PTR = 1
FIELD_IFACE = 2
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

    bss: bool
    address: int
    contents: bytes
    contents_offset: int
    fields: list[int]

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
