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

enum {
    TAG_EOF = 0,
    TAG_OBJECT = 1,
    TAG_OTHER_ROOT = 2,
    TAG_TYPE = 3,
    TAG_GOROUTINE = 4,
    TAG_STACK_FRAME = 5,
    TAG_PARAMS = 6,
    TAG_FINALIZER = 7,
    TAG_ITAB = 8,
    TAG_OS_THREAD = 9,
    TAG_MEMSTATS = 10,
    TAG_QUEUED_FINALIZER = 11,
    TAG_DATA = 12,
    TAG_BSS = 13,
    TAG_DEFER = 14,
    TAG_PANIC = 15,
    TAG_MEMPROF = 16,
    TAG_ALLOC_SAMPLE = 17,
    N_RECORD_TAGS
};

static const char *const RECORD_OPS[N_RECORD_TAGS] = {
    [TAG_EOF] = "",  /* end of file */
    [TAG_OBJECT] = "ucf",  /* object */
    [TAG_OTHER_ROOT] = "su",  /* other root */
    [TAG_TYPE] = "uusb",  /* type */
    [TAG_GOROUTINE] = "uuuuubbusuuuu",  /* goroutine */
    [TAG_STACK_FRAME] = "uuucuuusf",  /* stack frame */
    [TAG_PARAMS] = "epuussu",  /* params */
    [TAG_FINALIZER] = "uuuuu",  /* registered finalizer */
    [TAG_ITAB] = "uu",  /* itab */
    [TAG_OS_THREAD] = "uuu",  /* OS thread */
    [TAG_MEMSTATS] = "24u256uu",  /* memstats */
    [TAG_QUEUED_FINALIZER] = "uuuuu",  /* queued finalizer */
    [TAG_DATA] = "ucf",  /* data segment */
    [TAG_BSS] = "ucf",  /* BSS segment */
    [TAG_DEFER] = "uuuuuuu",  /* defer */
    [TAG_PANIC] = "uuuuuu",  /* panic */
    [TAG_MEMPROF] = "uu[ssu]uu",  /* memory profile bucket */
    [TAG_ALLOC_SAMPLE] = "uu",  /* allocation sample */
};

/* object: address, contents, fields */
typedef struct {
    uint64_t address;
    Py_ssize_t contents_off; uint64_t contents_len;  /* file offset and length */
} ObjectFields;

/* The object's fields before its fieldlist: 0, or -1 with c->err set. */
static inline int read_object(Cursor *c, ObjectFields *r) {
    if (uvarint(c, &r->address) < 0 ||
        bytes_field(c, &r->contents_off, &r->contents_len) < 0) return -1;
    return 0;
}

/* stack frame: sp, depth, child_sp, contents, entry_pc, pc, cont_pc, name, fields */
typedef struct {
    uint64_t sp;
    uint64_t depth;
    uint64_t child_sp;
    Py_ssize_t contents_off; uint64_t contents_len;  /* file offset and length */
    uint64_t entry_pc;
    uint64_t pc;
    uint64_t cont_pc;
    Py_ssize_t name_off; uint64_t name_len;  /* file offset and length */
} StackFrameFields;

/* The stack frame's fields before its fieldlist: 0, or -1 with c->err set. */
static inline int read_stack_frame(Cursor *c, StackFrameFields *r) {
    if (uvarint(c, &r->sp) < 0 ||
        uvarint(c, &r->depth) < 0 ||
        uvarint(c, &r->child_sp) < 0 ||
        bytes_field(c, &r->contents_off, &r->contents_len) < 0 ||
        uvarint(c, &r->entry_pc) < 0 ||
        uvarint(c, &r->pc) < 0 ||
        uvarint(c, &r->cont_pc) < 0 ||
        bytes_field(c, &r->name_off, &r->name_len) < 0) return -1;
    return 0;
}

/* allocation sample: address, bucket */
typedef struct {
    uint64_t address;
    uint64_t bucket;
} AllocSampleFields;

/* The allocation sample's fields: 0, or -1 with c->err set. */
static inline int read_alloc_sample(Cursor *c, AllocSampleFields *r) {
    if (uvarint(c, &r->address) < 0 ||
        uvarint(c, &r->bucket) < 0) return -1;
    return 0;
}

#endif
