/*
 * _cscan: the native one-pass scan of a Go heap dump (see heapspurs/scan/native_scan.py).
 *
 * scan(buffer, arrays) walks the records after the 16-byte header. With arrays=None it only
 * counts; with a tuple of writable buffers (sized from the counts) it fills them. Objects, stack
 * frames, their pointer slots and allocation samples go to the arrays; every other record's
 * offset is listed so Python decodes those few records with the reference reader. Every length is
 * checked against the end of the buffer; a malformed dump returns (message, offset, record)
 * instead of the counts. The pure-Python reader (heapspurs/format/reader.py) is the
 * specification this mirrors; a differential test compares both on every test dump.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum {
    TAG_EOF = 0, TAG_OBJECT = 1, TAG_OTHER_ROOT = 2, TAG_TYPE = 3, TAG_GOROUTINE = 4,
    TAG_STACK_FRAME = 5, TAG_PARAMS = 6, TAG_FINALIZER = 7, TAG_ITAB = 8, TAG_OS_THREAD = 9,
    TAG_MEMSTATS = 10, TAG_QUEUED_FINALIZER = 11, TAG_DATA = 12, TAG_BSS = 13, TAG_DEFER = 14,
    TAG_PANIC = 15, TAG_MEMPROF = 16, TAG_ALLOC_SAMPLE = 17
};

#define N_ARRAYS 24

typedef struct {
    const uint8_t *buf;
    Py_ssize_t end;
    Py_ssize_t pos;
    const char *err;   /* static message, or NULL */
    char errbuf[200];
    int ptr_size;
    int big_endian;
    int release;        /* the buffer is a file mapping: give back pages behind the cursor */
    Py_ssize_t released;
} Cursor;

/* Drop the mapped pages behind the cursor every 32 MiB, so that RSS does not grow with the
   file (they stay in the page cache). Only for read-only file mappings. */
static void release_behind(Cursor *c) {
    if (!c->release || c->pos - c->released < ((Py_ssize_t)32 << 20)) return;
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) return;
    Py_ssize_t upto = c->pos - c->pos % page;
    if (upto > c->released) {
        madvise((void *)(c->buf + c->released), (size_t)(upto - c->released), MADV_DONTNEED);
        c->released = upto;
    }
}

static int uvarint_slow(Cursor *c, uint64_t *out);

/* Most varints of a dump are one or two bytes (tags, kinds, lengths, field offsets): read
   those without a bounds check per byte when ten bytes are left; the rest byte by byte. */
static inline int uvarint(Cursor *c, uint64_t *out) {
    if (c->end - c->pos >= 10) {
        const uint8_t *p = c->buf + c->pos;
        if (p[0] < 0x80) { *out = p[0]; c->pos += 1; return 0; }
        if (p[1] < 0x80) { *out = (uint64_t)(p[0] & 0x7f) | (uint64_t)p[1] << 7; c->pos += 2; return 0; }
    }
    return uvarint_slow(c, out);
}

static int uvarint_slow(Cursor *c, uint64_t *out) {
    uint64_t result = 0;
    int shift = 0;
    for (;;) {
        if (c->pos >= c->end) { c->err = "truncated"; return -1; }
        uint8_t b = c->buf[c->pos++];
        if (shift == 63 && b > 1) { c->err = "varint overflows 64 bits"; return -1; }
        result |= (uint64_t)(b & 0x7f) << shift;
        if (b < 0x80) { *out = result; return 0; }
        shift += 7;
        if (shift > 63) { c->err = "varint longer than 10 bytes"; return -1; }
    }
}

/* A length-prefixed byte range: its offset and length, checked against the end. */
static int bytes_field(Cursor *c, Py_ssize_t *off, uint64_t *len) {
    if (uvarint(c, len) < 0) return -1;
    if (*len > (uint64_t)(c->end - c->pos)) {
        snprintf(c->errbuf, sizeof c->errbuf,
                 "length %llu runs past the end of the file (%lld bytes left): truncated or "
                 "corrupt", (unsigned long long)*len, (long long)(c->end - c->pos));
        c->err = c->errbuf;
        return -1;
    }
    *off = c->pos;
    c->pos += (Py_ssize_t)*len;
    return 0;
}

static uint64_t load_ptr(const Cursor *c, const uint8_t *p) {
    uint64_t v = 0;
    int n = c->ptr_size;
    if (c->big_endian) {
        for (int i = 0; i < n; i++) v = (v << 8) | p[i];
    } else {
        for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    }
    return v;
}

typedef struct {
    uint64_t *obj_addr, *obj_size; int64_t *obj_off, *obj_pstart;
    void *ptr_off; uint64_t *ptr_val;  /* ptr_off: uint32 when Counts.off32, else uint64 */
    uint64_t *frame_sp, *frame_size; int64_t *frame_off; int32_t *frame_depth;
    uint64_t *frame_child, *frame_entry, *frame_pc; int32_t *frame_goroutine;
    int64_t *frame_name_off, *frame_name_len, *frame_pstart;
    uint64_t *fptr_off, *fptr_val;
    int64_t *other_off;
    uint64_t *sample_addr, *sample_bucket;
    /* Optional (address order): object i of the file goes to position rank[i], its pointer
       slots to dst_pstart[rank[i]] .. dst_pstart[rank[i] + 1]; obj_pstart is not written. */
    int64_t *rank, *dst_pstart;
} Out;

/* What the counting pass keeps of each object when asked: its address and pointer count, so
   that the sort order is known before the filling pass (up to cap objects). */
typedef struct {
    uint64_t *addr;
    uint32_t *nptr;
    int64_t cap;
    int overflow;  /* more objects than cap, or an object with 2^32 or more pointer slots */
} First;

typedef struct {
    int64_t n_obj, n_ptr, n_frame, n_fptr, n_other, n_sample, n_records, n_goroutine;
    uint64_t max_obj_size;
    int off32;
} Counts;

/* Walk a fieldlist; store offsets/values if dst arrays are given. */
static int fieldlist(Cursor *c, Py_ssize_t contents_off, uint64_t size, void *offs,
                     uint64_t *vals, int64_t *count, int64_t cap, int off32) {
    for (;;) {
        uint64_t kind, off;
        if (uvarint(c, &kind) < 0) return -1;
        if (kind == 0) return 0;
        if (kind > 3) {
            snprintf(c->errbuf, sizeof c->errbuf, "unknown field kind %llu",
                     (unsigned long long)kind);
            c->err = c->errbuf;
            return -1;
        }
        if (uvarint(c, &off) < 0) return -1;
        if (off > size || size - off < (uint64_t)c->ptr_size) {
            snprintf(c->errbuf, sizeof c->errbuf,
                     "pointer field at offset %llu lies outside its %llu-byte record",
                     (unsigned long long)off, (unsigned long long)size);
            c->err = c->errbuf;
            return -1;
        }
        if (offs) {
            if (*count >= cap) { c->err = "dump changed between passes"; return -1; }
            if (off32) ((uint32_t *)offs)[*count] = (uint32_t)off;
            else ((uint64_t *)offs)[*count] = off;
            vals[*count] = load_ptr(c, c->buf + contents_off + off);
        }
        (*count)++;
    }
}

static int skip_n(Cursor *c, int n) {
    uint64_t v;
    for (int i = 0; i < n; i++) if (uvarint(c, &v) < 0) return -1;
    return 0;
}

static int skip_str(Cursor *c) {
    Py_ssize_t off; uint64_t len;
    return bytes_field(c, &off, &len);
}

/* Where the filling pass may start a part of its own: the state before a record, noted by the
   counting pass about every `every` bytes, so that parts of the file fill in parallel. */
#define MAX_CHECKPOINTS 64
typedef struct {
    Py_ssize_t pos;
    Counts n;
    int ptr_size, big_endian;
} Checkpoint;

typedef struct {
    Checkpoint at[MAX_CHECKPOINTS];
    int count;
    Py_ssize_t every, next;
} Checkpoints;

/* One pass from the state in *n (zero, or a checkpoint's), up to the EOF record or, with
   stop >= 0, up to the record starting at byte stop. Returns 0 there, -1 with c->err set;
   *err_record/err_offset give the place. */
static int walk(Cursor *c, Out *o, Counts *n, const Counts *cap, First *first,
                Checkpoints *cps, Py_ssize_t stop,
                int64_t *err_record, Py_ssize_t *err_offset, Py_ssize_t *record_start) {
    int64_t number = n->n_records;
    if (o && n->n_obj == 0) o->obj_pstart[0] = 0;
    if (o && n->n_frame == 0) o->frame_pstart[0] = 0;
    for (;;) {
        Py_ssize_t start = c->pos;
        uint64_t tag, v;
        if (stop >= 0 && start >= stop) {
            if (start == stop) return 0;
            c->err = "dump changed between passes";
            *err_offset = start;
            return -1;
        }
        if (cps && start >= cps->next && cps->count < MAX_CHECKPOINTS) {
            Checkpoint *cp = &cps->at[cps->count++];
            cp->pos = start;
            cp->n = *n;
            cp->n.n_records = number;
            cp->ptr_size = c->ptr_size;
            cp->big_endian = c->big_endian;
            cps->next = start + cps->every;
        }
        release_behind(c);
        number++;
        n->n_records = number;
        *err_record = number;
        *err_offset = start;
        *record_start = start;
        if (c->pos >= c->end) {
            c->err = "heap dump ends without an EOF record (truncated?)";
            return -1;
        }
        if (uvarint(c, &tag) < 0) goto fail;
        switch (tag) {
        case TAG_OBJECT: {
            uint64_t addr, size; Py_ssize_t coff;
            if (uvarint(c, &addr) < 0 || bytes_field(c, &coff, &size) < 0) goto fail;
            int64_t before = n->n_ptr;
            if (o && n->n_obj >= cap->n_obj) { c->err = "dump changed between passes"; goto fail; }
            if (o && cap->off32 && size > UINT32_MAX) {
                c->err = "dump changed between passes";
                goto fail;
            }
            if (o && o->rank) {  /* straight into address order */
                int64_t r = o->rank[n->n_obj];
                if (r < 0 || r >= cap->n_obj) { c->err = "dump changed between passes"; goto fail; }
                int64_t at = o->dst_pstart[r], end = o->dst_pstart[r + 1];
                if (at < 0 || end < at || end > cap->n_ptr) {
                    c->err = "dump changed between passes";
                    goto fail;
                }
                int64_t got = at;
                if (fieldlist(c, coff, size, o->ptr_off, o->ptr_val, &got, end, cap->off32) < 0)
                    goto fail;
                if (got != end) { c->err = "dump changed between passes"; goto fail; }
                n->n_ptr += end - at;
                o->obj_addr[r] = addr;
                o->obj_size[r] = size;
                o->obj_off[r] = coff;
            } else {
                if (fieldlist(c, coff, size, o ? o->ptr_off : NULL, o ? o->ptr_val : NULL,
                              &n->n_ptr, cap ? cap->n_ptr : 0, cap ? cap->off32 : 0) < 0)
                    goto fail;
                if (o) {
                    o->obj_addr[n->n_obj] = addr;
                    o->obj_size[n->n_obj] = size;
                    o->obj_off[n->n_obj] = coff;
                    o->obj_pstart[n->n_obj + 1] = n->n_ptr;
                }
            }
            if (size > n->max_obj_size) n->max_obj_size = size;
            if (first && !first->overflow) {
                if (n->n_obj >= first->cap || n->n_ptr - before >= (int64_t)UINT32_MAX) {
                    first->overflow = 1;
                } else {
                    first->addr[n->n_obj] = addr;
                    first->nptr[n->n_obj] = (uint32_t)(n->n_ptr - before);
                }
            }
            n->n_obj++;
            break;
        }
        case TAG_STACK_FRAME: {
            uint64_t sp, depth, child, size, entry, pc, cont, name_len;
            Py_ssize_t coff, name_off;
            if (uvarint(c, &sp) < 0 || uvarint(c, &depth) < 0 || uvarint(c, &child) < 0 ||
                bytes_field(c, &coff, &size) < 0 || uvarint(c, &entry) < 0 ||
                uvarint(c, &pc) < 0 || uvarint(c, &cont) < 0 ||
                bytes_field(c, &name_off, &name_len) < 0) goto fail;
            if (o && n->n_frame >= cap->n_frame) { c->err = "dump changed between passes"; goto fail; }
            if (fieldlist(c, coff, size, o ? o->fptr_off : NULL, o ? o->fptr_val : NULL,
                          &n->n_fptr, cap ? cap->n_fptr : 0, 0) < 0) goto fail;
            if (o) {
                int64_t i = n->n_frame;
                o->frame_sp[i] = sp;
                o->frame_size[i] = size;
                o->frame_off[i] = coff;
                o->frame_depth[i] = depth > INT32_MAX ? INT32_MAX : (int32_t)depth;
                o->frame_child[i] = child;
                o->frame_entry[i] = entry;
                o->frame_pc[i] = pc;
                o->frame_goroutine[i] = (int32_t)(n->n_goroutine - 1);
                o->frame_name_off[i] = name_off;
                o->frame_name_len[i] = (int64_t)name_len;
                o->frame_pstart[i + 1] = n->n_fptr;
            }
            n->n_frame++;
            break;
        }
        case TAG_ALLOC_SAMPLE: {
            uint64_t addr, bucket;
            if (uvarint(c, &addr) < 0 || uvarint(c, &bucket) < 0) goto fail;
            if (o) {
                if (n->n_sample >= cap->n_sample) { c->err = "dump changed between passes"; goto fail; }
                o->sample_addr[n->n_sample] = addr;
                o->sample_bucket[n->n_sample] = bucket;
            }
            n->n_sample++;
            break;
        }
        case TAG_EOF:
            if (c->pos != c->end) {
                snprintf(c->errbuf, sizeof c->errbuf,
                         "the EOF record is followed by %lld more bytes (corrupt record tag, "
                         "or garbage appended)", (long long)(c->end - c->pos));
                c->err = c->errbuf;
                return -1;
            }
            return 0;
        default: {
            /* Records decoded in Python: only skip them here, checking their structure. */
            switch (tag) {
            case TAG_OTHER_ROOT: if (skip_str(c) < 0 || skip_n(c, 1) < 0) goto fail; break;
            case TAG_TYPE:
                if (skip_n(c, 2) < 0 || skip_str(c) < 0 || skip_n(c, 1) < 0) goto fail;
                break;
            case TAG_GOROUTINE:
                if (skip_n(c, 8) < 0 || skip_str(c) < 0 || skip_n(c, 4) < 0) goto fail;
                n->n_goroutine++;
                break;
            case TAG_PARAMS: {
                uint64_t big, psize;
                if (uvarint(c, &big) < 0 || uvarint(c, &psize) < 0) goto fail;
                if (psize != 4 && psize != 8) {
                    snprintf(c->errbuf, sizeof c->errbuf, "unsupported pointer size %llu",
                             (unsigned long long)psize);
                    c->err = c->errbuf;
                    goto fail;
                }
                c->big_endian = big != 0;
                c->ptr_size = (int)psize;
                if (skip_n(c, 2) < 0 || skip_str(c) < 0 || skip_str(c) < 0 || skip_n(c, 1) < 0)
                    goto fail;
                break;
            }
            case TAG_FINALIZER: case TAG_QUEUED_FINALIZER:
                if (skip_n(c, 5) < 0) goto fail;
                break;
            case TAG_ITAB: if (skip_n(c, 2) < 0) goto fail; break;
            case TAG_OS_THREAD: if (skip_n(c, 3) < 0) goto fail; break;
            case TAG_MEMSTATS: if (skip_n(c, 24 + 256 + 1) < 0) goto fail; break;
            case TAG_DATA: case TAG_BSS: {
                uint64_t addr, size; Py_ssize_t coff; int64_t dummy = 0;
                if (uvarint(c, &addr) < 0 || bytes_field(c, &coff, &size) < 0) goto fail;
                if (fieldlist(c, coff, size, NULL, NULL, &dummy, 0, 0) < 0) goto fail;
                break;
            }
            case TAG_DEFER: if (skip_n(c, 7) < 0) goto fail; break;
            case TAG_PANIC: if (skip_n(c, 6) < 0) goto fail; break;
            case TAG_MEMPROF: {
                uint64_t nframes;
                if (skip_n(c, 2) < 0 || uvarint(c, &nframes) < 0) goto fail;
                for (uint64_t i = 0; i < nframes; i++)
                    if (skip_str(c) < 0 || skip_str(c) < 0 || skip_n(c, 1) < 0) goto fail;
                if (skip_n(c, 2) < 0) goto fail;
                break;
            }
            default:
                snprintf(c->errbuf, sizeof c->errbuf, "unknown record tag %llu",
                         (unsigned long long)tag);
                c->err = c->errbuf;
                c->pos = start;
                return -1;
            }
            if (o) {
                if (n->n_other >= cap->n_other) { c->err = "dump changed between passes"; goto fail; }
                o->other_off[n->n_other] = start;
            }
            n->n_other++;
        }
        }
        (void)v;
        continue;
    fail:
        *err_offset = c->pos;
        return -1;
    }
}

static PyObject *py_scan(PyObject *self, PyObject *args) {
    Py_buffer view;
    PyObject *arrays;
    Py_ssize_t start;
    int release = 0;
    PyObject *first_arg = Py_None, *resume = Py_None;
    if (!PyArg_ParseTuple(args, "y*nO|pOO", &view, &start, &arrays, &release, &first_arg,
                          &resume))
        return NULL;
    Cursor c = {0};
    c.buf = view.buf;
    c.end = view.len;
    c.pos = start;
    c.ptr_size = 8;
    c.release = release && ((uintptr_t)view.buf % 4096 == 0);
    c.released = start - start % 4096;
    Counts n;
    memset(&n, 0, sizeof n);
    Py_ssize_t stop = -1;
    Checkpoints cps;
    memset(&cps, 0, sizeof cps);
    Checkpoints *cpp = NULL;
    if (resume != Py_None) {  /* a part of the filling pass: (checkpoint..., stop) */
        long long s_obj, s_ptr, s_frame, s_fptr, s_other, s_sample, s_rec, s_gor;
        int psize, big;
        if (!PyArg_ParseTuple(resume, "nLLLLLLLLiin", &c.pos, &s_obj, &s_ptr, &s_frame, &s_fptr,
                              &s_other, &s_sample, &s_rec, &s_gor, &psize, &big, &stop)) {
            PyBuffer_Release(&view);
            return NULL;
        }
        if (c.pos < start || c.pos > c.end || (psize != 4 && psize != 8)) {
            PyBuffer_Release(&view);
            PyErr_SetString(PyExc_ValueError, "bad checkpoint");
            return NULL;
        }
        n.n_obj = s_obj; n.n_ptr = s_ptr; n.n_frame = s_frame; n.n_fptr = s_fptr;
        n.n_other = s_other; n.n_sample = s_sample; n.n_records = s_rec; n.n_goroutine = s_gor;
        c.ptr_size = psize;
        c.big_endian = big;
        c.released = c.pos - c.pos % 4096;
    } else if (arrays == Py_None) {  /* the counting pass notes checkpoints */
        cps.every = (c.end - start) / MAX_CHECKPOINTS + 1;
        cps.next = start;
        cpp = &cps;
    }
    Out o;
    Out *op = NULL;
    Counts cap = {0};
    Py_buffer bufs[N_ARRAYS], fbufs[2];
    int nbufs = 0, nfbufs = 0;
    PyObject *result = NULL;
    First first = {0};
    First *fp = NULL;
    memset(&o, 0, sizeof o);
    if (first_arg != Py_None) {  /* (addr uint64[cap], nptr uint32[cap]) to fill */
        if (!PyTuple_Check(first_arg) || PyTuple_GET_SIZE(first_arg) != 2) {
            PyErr_SetString(PyExc_TypeError, "first must be (addr, nptr)");
            goto done;
        }
        for (int i = 0; i < 2; i++) {
            if (PyObject_GetBuffer(PyTuple_GET_ITEM(first_arg, i), &fbufs[i], PyBUF_WRITABLE) < 0)
                goto done;
            nfbufs++;
        }
        first.addr = fbufs[0].buf;
        first.nptr = fbufs[1].buf;
        first.cap = fbufs[0].len / 8 < fbufs[1].len / 4 ? fbufs[0].len / 8 : fbufs[1].len / 4;
        fp = &first;
    }
    if (arrays != Py_None) {
        PyObject *capacity;
        if (!PyTuple_Check(arrays) || PyTuple_GET_SIZE(arrays) != 2) {
            PyErr_SetString(PyExc_TypeError, "arrays must be (counts, buffers)");
            goto done;
        }
        capacity = PyTuple_GET_ITEM(arrays, 0);
        PyObject *list = PyTuple_GET_ITEM(arrays, 1);
        if (!PyArg_ParseTuple(capacity, "LLLLLLp", &cap.n_obj, &cap.n_ptr, &cap.n_frame,
                              &cap.n_fptr, &cap.n_other, &cap.n_sample, &cap.off32)) goto done;
        Py_ssize_t nlist = PyTuple_Check(list) ? PyTuple_GET_SIZE(list) : 0;
        if (nlist != 22 && nlist != 24) {
            PyErr_SetString(PyExc_TypeError, "expected 22 buffers (24 in address order)");
            goto done;
        }
        void **slots = (void **)&o;
        for (int i = 0; i < nlist; i++) {
            if (PyObject_GetBuffer(PyTuple_GET_ITEM(list, i), &bufs[i], PyBUF_WRITABLE) < 0)
                goto done;
            nbufs++;
            slots[i] = bufs[i].buf;
        }
        op = &o;
    }
    int64_t err_record = 0;
    Py_ssize_t err_offset = 0, record_start = 0;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = walk(&c, op, &n, op ? &cap : NULL, fp, cpp, stop, &err_record, &err_offset,
              &record_start);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        result = Py_BuildValue("(snLn)", c.err ? c.err : "malformed", err_offset, err_record,
                               record_start);
    } else {
        PyObject *points = PyList_New(0);
        for (int i = 0; points && i < cps.count; i++) {
            const Checkpoint *cp = &cps.at[i];
            PyObject *t = Py_BuildValue("(nLLLLLLLLii)", cp->pos, cp->n.n_obj, cp->n.n_ptr,
                                        cp->n.n_frame, cp->n.n_fptr, cp->n.n_other,
                                        cp->n.n_sample, cp->n.n_records, cp->n.n_goroutine,
                                        cp->ptr_size, cp->big_endian);
            if (!t || PyList_Append(points, t) < 0) { Py_XDECREF(t); Py_CLEAR(points); break; }
            Py_DECREF(t);
        }
        if (points)
            result = Py_BuildValue("(LLLLLLLLKiN)", n.n_obj, n.n_ptr, n.n_frame, n.n_fptr,
                                   n.n_other, n.n_sample, n.n_records, n.n_goroutine,
                                   (unsigned long long)n.max_obj_size,
                                   fp != NULL && !first.overflow, points);
    }
done:
    for (int i = 0; i < nfbufs; i++) PyBuffer_Release(&fbufs[i]);
    for (int i = 0; i < nbufs; i++) PyBuffer_Release(&bufs[i]);
    PyBuffer_Release(&view);
    return result;
}


/* ---- Index building helpers: linear-time passes over the arrays numpy cannot do quickly ---- */

static int get_buf(PyObject *o, Py_buffer *b, int writable, Py_ssize_t itemsize, Py_ssize_t n) {
    if (PyObject_GetBuffer(o, b, writable ? PyBUF_WRITABLE : PyBUF_SIMPLE) < 0) return -1;
    if (b->len != itemsize * n) {
        PyBuffer_Release(b);
        PyErr_Format(PyExc_ValueError, "buffer of %zd bytes, expected %zd", b->len, itemsize * n);
        return -1;
    }
    return 0;
}

/* Binary search in addr[lo, hi) for the last object starting at or below v. */
static int64_t last_at_or_below(const uint64_t *addr, int64_t lo, int64_t hi, uint64_t v) {
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (addr[mid] <= v) lo = mid + 1; else hi = mid;
    }
    return lo - 1;
}

/*
 * resolve(addr, size, values, out): out[i] = id of the object containing values[i] (interior
 * pointers included), or -1. addr is sorted. A table per 8 KiB page gives the objects starting
 * on it; where they are one span's equal, back-to-back slots (nearly always) the object is
 * found by a division, without touching addr or size; elsewhere a short binary search among
 * the page's objects. Very sparse heaps fall back to a plain search. Same answer either way:
 * the last object starting at or below the value, if it contains the value.
 */
typedef struct {
    int64_t first;   /* objects starting before this page */
    uint64_t base;   /* address of the first object starting on it */
    uint64_t step;   /* their common size when they are back to back, else 0 */
} Page;

/* Run job(arg + k * stride, k, threads) for k in [0, threads) on threads of their own (the
   caller's included); where a thread cannot be started its part runs on the caller's. */
#define MAX_THREADS 8
typedef void (*Job)(void *arg, int k, int threads);
typedef struct { Job job; void *arg; int k, threads; } JobCall;

static void *job_main(void *p) {
    JobCall *c = p;
    c->job(c->arg, c->k, c->threads);
    return NULL;
}

static void run_parallel(Job job, void *arg, int threads) {
    if (threads < 1) threads = 1;
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    pthread_t tid[MAX_THREADS];
    JobCall calls[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    for (int k = 1; k < threads; k++) {
        calls[k] = (JobCall){job, arg, k, threads};
        started[k] = pthread_create(&tid[k], NULL, job_main, &calls[k]) == 0;
    }
    job(arg, 0, threads);
    for (int k = 1; k < threads; k++) {
        if (started[k]) pthread_join(tid[k], NULL);
        else job(arg, k, threads);
    }
}

static int64_t resolve_one(const uint64_t *addr, const uint64_t *size, int64_t n,
                           const Page *pages, uint64_t lo_page, uint64_t npages, uint64_t v) {
    int64_t k = -1;
    uint64_t pg = v >> 13;
    if (!pages) {
        k = last_at_or_below(addr, 0, n, v);
    } else if (pg >= lo_page && pg - lo_page < npages) {
        const Page *p = &pages[pg - lo_page];
        int64_t f = p->first, l = p[1].first;
        if (p->step && v >= p->base) {
            uint64_t d = (v - p->base) / p->step;
            if (d < (uint64_t)(l - f)) return f + (int64_t)d;  /* inside a slot of the run */
        }
        k = last_at_or_below(addr, f, l, v);
        if (k < f) k = f - 1; /* starts on an earlier page */
    } else if (pg >= lo_page) {
        k = n - 1;
    }
    return (k >= 0 && v >= addr[k] && v - addr[k] < size[k]) ? k : -1;
}

typedef struct {
    const uint64_t *addr, *size, *val;
    int32_t *out;
    int64_t n, m;
    const Page *pages;
    uint64_t lo_page, npages;
} ResolveJob;

static void resolve_part(void *p, int k, int threads) {
    const ResolveJob *r = p;
    int64_t lo = r->m * k / threads, hi = r->m * (k + 1) / threads;
    for (int64_t i = lo; i < hi; i++)
        r->out[i] = (int32_t)resolve_one(r->addr, r->size, r->n, r->pages, r->lo_page,
                                         r->npages, r->val[i]);
}

static PyObject *py_resolve(PyObject *self, PyObject *args) {
    PyObject *oa, *os_, *ov, *oo;
    Py_ssize_t n, m;
    int threads = 1;
    if (!PyArg_ParseTuple(args, "OOOOnn|i", &oa, &os_, &ov, &oo, &n, &m, &threads)) return NULL;
    Py_buffer ba, bs, bv, bo;
    if (get_buf(oa, &ba, 0, 8, n) < 0) return NULL;
    if (get_buf(os_, &bs, 0, 8, n) < 0) { PyBuffer_Release(&ba); return NULL; }
    if (get_buf(ov, &bv, 0, 8, m) < 0) { PyBuffer_Release(&ba); PyBuffer_Release(&bs); return NULL; }
    if (get_buf(oo, &bo, 1, 4, m) < 0) {
        PyBuffer_Release(&ba); PyBuffer_Release(&bs); PyBuffer_Release(&bv); return NULL;
    }
    const uint64_t *addr = ba.buf, *size = bs.buf, *val = bv.buf;
    int32_t *out = bo.buf;
    Page *pages = NULL;
    uint64_t lo_page = 0, npages = 0;
    /* The table costs a pass over the objects: for a few values a plain search is cheaper. */
    if (n > 0 && m >= 4096) {
        lo_page = addr[0] >> 13;
        uint64_t hi_page = (addr[n - 1] + size[n - 1]) >> 13;
        npages = hi_page - lo_page + 2;
        if (npages <= ((uint64_t)1 << 26) && npages <= (uint64_t)(8 * n + 1024))
            pages = PyMem_RawMalloc(sizeof(Page) * (npages + 1));
    }
    Py_BEGIN_ALLOW_THREADS
    if (pages) {
        int64_t j = 0;
        for (uint64_t p = 0; p <= npages; p++) {
            uint64_t page_start = (lo_page + p) << 13;
            while (j < n && addr[j] < page_start) j++;
            pages[p].first = j;
        }
        for (uint64_t p = 0; p < npages; p++) {
            int64_t f = pages[p].first, l = pages[p + 1].first;
            pages[p].base = f < n ? addr[f] : 0;
            uint64_t step = (l > f) ? size[f] : 0;
            for (int64_t q = f + 1; q < l && step; q++)
                if (size[q] != step || addr[q] - addr[q - 1] != step) step = 0;
            pages[p].step = step;
        }
        pages[npages].base = 0;
        pages[npages].step = 0;
    }
    ResolveJob job = {addr, size, val, out, n, m, pages, lo_page, npages};
    run_parallel(resolve_part, &job, m < (1 << 20) ? 1 : threads);
    Py_END_ALLOW_THREADS
    PyMem_RawFree(pages);
    PyBuffer_Release(&ba); PyBuffer_Release(&bs); PyBuffer_Release(&bv); PyBuffer_Release(&bo);
    Py_RETURN_NONE;
}

/*
 * reverse(pstart, pdst, skip_src, rstart, rsrc, rptr, n, m[, rptr_bytes[, threads]]): the
 * reverse CSR of the pointer edges by counting sort: for every object, the edges (source id,
 * pointer index) into it, in source order. Edges with no target or from a skipped source
 * (phantoms) are left out. Called twice: with rsrc = rptr = None it counts (rstart becomes
 * the starts; returns the number of edges), then with arrays of that size it fills them from
 * those starts. Each thread takes a range of targets and reads every edge: the random writes
 * of one thread stay within its part of the arrays.
 */
typedef struct {
    const int64_t *pstart;
    const int32_t *pdst;
    const uint8_t *skip;
    int64_t *rstart;
    int32_t *rsrc;
    void *rptr;
    int64_t n, total;
    int rptr_bytes;
    int overflow;
} ReverseJob;

/* One thread's targets [lo, hi): count their edges (rsrc NULL) or fill them in. */
static void reverse_part(void *p, int k, int threads) {
    ReverseJob *r = p;
    int64_t lo = r->n * k / threads, hi = r->n * (k + 1) / threads;
    for (int64_t u = 0; u < r->n; u++) {
        if (r->skip[u]) continue;
        for (int64_t q = r->pstart[u]; q < r->pstart[u + 1]; q++) {
            int32_t v = r->pdst[q];
            if (v < lo || v >= hi) continue;
            if (!r->rsrc) { r->rstart[v + 1]++; continue; }
            int64_t at = r->rstart[v]++;  /* v's fill cursor (see below) */
            if (at < 0 || at >= r->total) { r->overflow = 1; continue; }
            r->rsrc[at] = (int32_t)u;
            if (r->rptr_bytes == 4) ((int32_t *)r->rptr)[at] = (int32_t)q;
            else ((int64_t *)r->rptr)[at] = q;
        }
    }
}

static PyObject *py_reverse(PyObject *self, PyObject *args) {
    PyObject *o_pstart, *o_pdst, *o_skip, *o_rstart, *o_rsrc, *o_rptr;
    Py_ssize_t n, m;
    int rptr_bytes = 8, threads = 1;
    if (!PyArg_ParseTuple(args, "OOOOOOnn|ii", &o_pstart, &o_pdst, &o_skip, &o_rstart, &o_rsrc,
                          &o_rptr, &n, &m, &rptr_bytes, &threads)) return NULL;
    if (rptr_bytes != 4 && rptr_bytes != 8) {
        PyErr_SetString(PyExc_ValueError, "rptr_bytes must be 4 or 8");
        return NULL;
    }
    if (rptr_bytes == 4 && m > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "too many edges for 32-bit indexes");
        return NULL;
    }
    int fill_edges = o_rsrc != Py_None && o_rptr != Py_None;
    Py_buffer b[6];
    int got = 0;
    PyObject *objs[6] = {o_pstart, o_pdst, o_skip, o_rstart, o_rsrc, o_rptr};
    Py_ssize_t sizes[6] = {8, 4, 1, 8, 4, 8};
    Py_ssize_t counts[6] = {n + 1, m, n, n + 1, -1, -1};
    int writable[6] = {0, 0, 0, 1, 1, 1};
    int nb = fill_edges ? 6 : 4;
    for (int i = 0; i < nb; i++) {
        if (counts[i] < 0) {
            if (PyObject_GetBuffer(objs[i], &b[i], PyBUF_WRITABLE) < 0) goto fail;
        } else if (get_buf(objs[i], &b[i], writable[i], sizes[i], counts[i]) < 0) {
            goto fail;
        }
        got++;
    }
    ReverseJob job = {b[0].buf, b[1].buf, b[2].buf, b[3].buf, NULL, NULL, n, 0, rptr_bytes, 0};
    int bad = 0;
    if (n < (1 << 16)) threads = 1;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t u = 0; u < n; u++)  /* the edge lists must lie inside pdst, in order */
        if (job.pstart[u] < 0 || job.pstart[u + 1] < job.pstart[u] || job.pstart[u + 1] > m) {
            bad = 1;
            break;
        }
    if (!bad && !fill_edges) {
        memset(job.rstart, 0, sizeof(int64_t) * (n + 1));
        run_parallel(reverse_part, &job, threads);
        for (Py_ssize_t v = 0; v < n; v++) job.rstart[v + 1] += job.rstart[v];
        job.total = job.rstart[n];
    } else if (!bad) {
        job.total = job.rstart[n];
        job.rsrc = b[4].buf;
        job.rptr = b[5].buf;
        if (job.total > b[4].len / 4 || job.total > b[5].len / rptr_bytes || job.rstart[0] != 0)
            bad = 2;
        else {
            /* rstart[v] serves as v's fill cursor: afterwards it holds v's end, the start of
               v+1, so one shift puts the starts back (no second array of n counters). */
            run_parallel(reverse_part, &job, threads);
            memmove(job.rstart + 1, job.rstart, sizeof(int64_t) * (size_t)n);
            job.rstart[0] = 0;
            if (job.overflow || job.rstart[n] != job.total) bad = 2;
        }
    }
    Py_END_ALLOW_THREADS
    for (int i = 0; i < got; i++) PyBuffer_Release(&b[i]);
    if (bad) { PyErr_SetString(PyExc_ValueError, "inconsistent edge arrays"); return NULL; }
    return PyLong_FromLongLong(job.total);
fail:
    for (int i = 0; i < got; i++) PyBuffer_Release(&b[i]);
    return NULL;
}

/*
 * gather(order, old_pstart, new_pstart, src_off, src_val, dst_off, dst_val, n, m): copy each
 * object's pointer slots from file order into address order without an index array.
 */
static PyObject *py_gather(PyObject *self, PyObject *args) {
    PyObject *o[7];
    Py_ssize_t n, m;
    int off_bytes = 8;
    if (!PyArg_ParseTuple(args, "OOOOOOOnn|i", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6],
                          &n, &m, &off_bytes)) return NULL;
    if (off_bytes != 4 && off_bytes != 8) {
        PyErr_SetString(PyExc_ValueError, "off_bytes must be 4 or 8");
        return NULL;
    }
    Py_buffer b[7];
    Py_ssize_t sizes[7] = {8, 8, 8, off_bytes, 8, off_bytes, 8};
    Py_ssize_t counts[7] = {n, n + 1, n + 1, m, m, m, m};
    int writable[7] = {0, 0, 0, 0, 0, 1, 1};
    int got = 0;
    for (int i = 0; i < 7; i++) {
        if (get_buf(o[i], &b[i], writable[i], sizes[i], counts[i]) < 0) goto fail;
        got++;
    }
    const int64_t *order = b[0].buf, *old_ps = b[1].buf, *new_ps = b[2].buf;
    const char *soff = b[3].buf;
    const uint64_t *sval = b[4].buf;
    char *doff = b[5].buf;
    uint64_t *dval = b[6].buf;
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    /* The dump lists objects span by span, so ``order`` is a few thousand runs of consecutive
       old ids: copy each run's slots with one memcpy. */
    for (Py_ssize_t i = 0; i < n && !bad;) {
        int64_t j = order[i];
        if (j < 0 || j >= n) { bad = 1; break; }
        Py_ssize_t k = i + 1;
        while (k < n && order[k] == order[k - 1] + 1) k++;
        int64_t j_end = order[k - 1];  /* old ids j..j_end go to new ids i..k-1 */
        if (j_end >= n) { bad = 1; break; }
        int64_t s = old_ps[j], e = old_ps[j_end + 1], d = new_ps[i];
        if (s < 0 || e < s || e > m || d < 0 || d + (e - s) > m || new_ps[k] - d != e - s) {
            bad = 1;
            break;
        }
        memcpy(doff + d * off_bytes, soff + s * off_bytes, (size_t)off_bytes * (size_t)(e - s));
        memcpy(dval + d, sval + s, sizeof(uint64_t) * (size_t)(e - s));
        i = k;
    }
    Py_END_ALLOW_THREADS
    for (int i = 0; i < got; i++) PyBuffer_Release(&b[i]);
    if (bad) { PyErr_SetString(PyExc_ValueError, "inconsistent pointer arrays"); return NULL; }
    Py_RETURN_NONE;
fail:
    for (int i = 0; i < got; i++) PyBuffer_Release(&b[i]);
    return NULL;
}

/*
 * bfs(indptr, targets, sources, blocked, parent, n, m): breadth-first search from ``sources``
 * over CSR edges (``targets[indptr[u]:indptr[u+1]]``, negative entries ignored). parent[v] is
 * the node v was reached from (-2 for sources, -1 if unreached); nodes flagged in ``blocked``
 * (a bytes-like of n flags, or None) are reached but not expanded. O(n) extra memory.
 */
static PyObject *py_bfs(PyObject *self, PyObject *args) {
    PyObject *o_ptr, *o_tgt, *o_src, *o_blk, *o_par;
    Py_ssize_t n, m, ns;
    if (!PyArg_ParseTuple(args, "OOOOOnnn", &o_ptr, &o_tgt, &o_src, &o_blk, &o_par, &n, &m, &ns))
        return NULL;
    Py_buffer b[5];
    int got = 0;
    if (get_buf(o_ptr, &b[0], 0, 8, n + 1) < 0) goto fail;
    got++;
    if (get_buf(o_tgt, &b[1], 0, 4, m) < 0) goto fail;
    got++;
    if (get_buf(o_src, &b[2], 0, 8, ns) < 0) goto fail;
    got++;
    if (get_buf(o_par, &b[3], 1, 8, n) < 0) goto fail;
    got++;
    int has_blk = o_blk != Py_None;
    if (has_blk) { if (get_buf(o_blk, &b[4], 0, 1, n) < 0) goto fail; got++; }
    const int64_t *indptr = b[0].buf;
    const int32_t *tgt = b[1].buf;
    const int64_t *src = b[2].buf;
    int64_t *parent = b[3].buf;
    const uint8_t *blk = has_blk ? b[4].buf : NULL;
    int bad = 0;
    int32_t *queue = PyMem_RawMalloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
    if (!queue) { for (int i = 0; i < got; i++) PyBuffer_Release(&b[i]); return PyErr_NoMemory(); }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t v = 0; v < n; v++) parent[v] = -1;
    int64_t head = 0, tail = 0;
    for (Py_ssize_t i = 0; i < ns; i++) {
        int64_t s = src[i];
        if (s < 0) continue;
        if (s >= n) { bad = 1; break; }
        if (parent[s] == -1) { parent[s] = -2; queue[tail++] = (int32_t)s; }
    }
    while (!bad && head < tail) {
        int32_t u = queue[head++];
        if (blk && blk[u]) continue;
        int64_t s = indptr[u], e = indptr[u + 1];
        if (s < 0 || e < s || e > m) { bad = 1; break; }
        for (int64_t p = s; p < e; p++) {
            int32_t v = tgt[p];
            if (v < 0) continue;
            if (v >= n) { bad = 1; break; }
            if (parent[v] == -1) { parent[v] = u; queue[tail++] = v; }
        }
    }
    Py_END_ALLOW_THREADS
    PyMem_RawFree(queue);
    for (int i = 0; i < got; i++) PyBuffer_Release(&b[i]);
    if (bad) { PyErr_SetString(PyExc_ValueError, "inconsistent graph arrays"); return NULL; }
    Py_RETURN_NONE;
fail:
    for (int i = 0; i < got; i++) PyBuffer_Release(&b[i]);
    return NULL;
}

/* ---- --print: the original tool's lines for objects, frames and allocation samples ---- */

typedef struct {
    char *data;
    size_t len, cap;
    int failed;
    int fd;          /* >= 0: flush to this file descriptor once ``limit`` bytes are pending */
    size_t limit;
    int write_errno;
} Text;

#include <errno.h>
#include <unistd.h>

static void text_flush(Text *t) {
    size_t done = 0;
    while (done < t->len && !t->write_errno) {
        ssize_t w = write(t->fd, t->data + done, t->len - done);
        if (w < 0) {
            if (errno == EINTR) continue;
            t->write_errno = errno;
            t->failed = 1;
            break;
        }
        done += (size_t)w;
    }
    t->len = 0;
}

static void text_reserve(Text *t, size_t more) {
    if (t->failed || t->len + more <= t->cap) return;
    size_t cap = t->cap ? t->cap : 1 << 16;
    while (cap < t->len + more) cap *= 2;
    char *d = PyMem_RawRealloc(t->data, cap);
    if (!d) { t->failed = 1; return; }
    t->data = d;
    t->cap = cap;
}

static void text_hex(Text *t, uint64_t v) {
    char tmp[20];
    int n = 0;
    do { tmp[n++] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
    text_reserve(t, n + 2);
    if (t->failed) return;
    t->data[t->len++] = '0';
    t->data[t->len++] = 'x';
    while (n) t->data[t->len++] = tmp[--n];
}

static void text_dec(Text *t, uint64_t v) {
    char tmp[24];
    int n = 0;
    do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    text_reserve(t, n);
    if (t->failed) return;
    while (n) t->data[t->len++] = tmp[--n];
}

static void text_put(Text *t, const char *s, size_t n) {
    text_reserve(t, n);
    if (t->failed) return;
    memcpy(t->data + t->len, s, n);
    t->len += n;
}

#define PUT(t, lit) text_put((t), (lit), sizeof(lit) - 1)

/* Parse a fieldlist into a growable offset array. */
static int collect_fields(Cursor *c, uint64_t size, uint64_t **offs, size_t *n, size_t *cap) {
    *n = 0;
    for (;;) {
        uint64_t kind, off;
        if (uvarint(c, &kind) < 0) return -1;
        if (kind == 0) return 0;
        if (kind > 3) { c->err = "field kind"; return -1; }
        if (uvarint(c, &off) < 0) return -1;
        if (off > size || size - off < (uint64_t)c->ptr_size) { c->err = "field"; return -1; }
        if (*n == *cap) {
            size_t nc = *cap ? *cap * 2 : 1024;
            uint64_t *p = PyMem_RawRealloc(*offs, nc * sizeof(uint64_t));
            if (!p) { c->err = "memory"; return -1; }
            *offs = p;
            *cap = nc;
        }
        (*offs)[(*n)++] = off;
    }
}

/* Named address ranges for --print (sorted, non-overlapping): see names/table.py. */
typedef struct {
    const uint64_t *start, *end;
    const int64_t *label;   /* offset of each row's NUL-terminated label in blob */
    const char *blob;
    Py_ssize_t n, blob_len;
} Names;

static Py_ssize_t names_row(const Names *nm, uint64_t v) {
    if (!nm || nm->n == 0) return -1;
    Py_ssize_t lo = 0, hi = nm->n;  /* first row with start > v */
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (nm->start[mid] <= v) lo = mid + 1; else hi = mid;
    }
    if (lo == 0 || v >= nm->end[lo - 1]) return -1;
    return lo - 1;
}

/* A names table from Python, (starts, ends, label offsets, labels): names/table.py c_arrays().
   Its four buffers are taken into nb[*nbuf...] (the caller releases them, also on failure). */
static int get_names(PyObject *arg, Names *dest, Py_buffer *nb, int *nbuf) {
    if (!PyTuple_Check(arg) || PyTuple_GET_SIZE(arg) != 4) {
        PyErr_SetString(PyExc_TypeError, "names must be (starts, ends, labels, blob)");
        return -1;
    }
    int first = *nbuf;
    for (int i = 0; i < 4; i++, (*nbuf)++)
        if (PyObject_GetBuffer(PyTuple_GET_ITEM(arg, i), &nb[*nbuf], PyBUF_C_CONTIGUOUS) < 0)
            return -1;
    Py_ssize_t rows = nb[first].len / 8;
    if (nb[first].len != rows * 8 || nb[first + 1].len != rows * 8 ||
        nb[first + 2].len != rows * 8) {
        PyErr_SetString(PyExc_ValueError, "inconsistent names arrays");
        return -1;
    }
    dest->start = nb[first].buf; dest->end = nb[first + 1].buf;
    dest->label = nb[first + 2].buf; dest->blob = nb[first + 3].buf;
    dest->blob_len = nb[first + 3].len; dest->n = rows;
    return 0;
}

/* The row's label as names/table.py offset_label() writes it: "name", "name+0x8",
   "main.x → (static) +0x8". */
static void put_label(Text *t, const Names *nm, Py_ssize_t row, uint64_t v) {
    int64_t off = nm->label[row];
    if (off < 0 || off >= nm->blob_len) return;
    const char *s = nm->blob + off;
    size_t len = strnlen(s, (size_t)(nm->blob_len - off));
    text_put(t, s, len);
    uint64_t delta = v - nm->start[row];
    if (delta) {
        if (len && s[len - 1] == ')') PUT(t, " ");
        PUT(t, "+");
        text_hex(t, delta);
    }
}

static void pointer_lines(Text *t, const Cursor *c, uint64_t base, Py_ssize_t coff,
                          const uint64_t *offs, size_t n, const Names *nm) {
    for (size_t i = 0; i < n && !t->failed; i++) {
        if (t->fd >= 0 && t->len >= t->limit) text_flush(t);
        uint64_t v = load_ptr(c, c->buf + coff + offs[i]);
        if (!v) continue;
        PUT(t, "  Pointer[");
        text_dec(t, i);
        PUT(t, "]@");
        text_hex(t, base + offs[i]);
        PUT(t, " = ");
        text_hex(t, v);
        Py_ssize_t row = names_row(nm, v);
        if (row >= 0) {
            PUT(t, " (");
            put_label(t, nm, row, v);
            PUT(t, ")");
        }
        PUT(t, "\n");
    }
}

/*
 * format(buffer, start, is64, big_endian, limit[, fd]) -> (text, next, records): the lines of
 * consecutive object, stack frame and allocation sample records from ``start`` until about
 * ``limit`` bytes of text, or until a record of another kind (or a malformed one), which the
 * caller then decodes with the reference reader from ``next``. With ``fd`` the text is written
 * there in ``limit``-sized pieces (constant memory even for a record with millions of
 * pointers) and the returned text is empty. With ``names`` = (starts, ends, label offsets,
 * labels) pointer values get the name of the range they point into, and an object that starts
 * a range is headed by that name instead of "Object".
 */
static PyObject *py_format(PyObject *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t start, limit;
    int ptr_size, big_endian, fd = -1;
    PyObject *names_arg = Py_None, *buckets_arg = Py_None;
    if (!PyArg_ParseTuple(args, "y*nppn|iOO", &view, &start, &ptr_size, &big_endian, &limit, &fd,
                          &names_arg, &buckets_arg))
        return NULL;
    Py_buffer nb[8];
    int nbuf = 0;
    Names names = {0}, *nm = NULL, buckets = {0}, *bk = NULL;
    PyObject *tables[2] = {names_arg, buckets_arg};
    Names *dest[2] = {&names, &buckets};
    for (int t = 0; t < 2; t++)
        if (tables[t] != Py_None && get_names(tables[t], dest[t], nb, &nbuf) < 0)
            goto names_fail;
    if (names_arg != Py_None) nm = &names;
    if (buckets_arg != Py_None) bk = &buckets;
    Cursor c = {0};
    c.buf = view.buf;
    c.end = view.len;
    c.pos = start;
    c.ptr_size = ptr_size ? 8 : 4;
    c.big_endian = big_endian;
    Text t = {0};
    t.fd = fd;
    t.limit = (size_t)limit;
    uint64_t *offs = NULL;
    size_t noffs = 0, capoffs = 0;
    Py_ssize_t done_at = start;
    long long records = 0;
    Py_BEGIN_ALLOW_THREADS
    /* Return after ~32 MiB of input so the caller can release the mapped pages behind it. */
    while (!t.failed && (fd >= 0 || (Py_ssize_t)t.len < limit) && c.pos - start < (32 << 20)) {
        if (fd >= 0 && (Py_ssize_t)t.len >= limit) text_flush(&t);
        if (t.failed) break;
        Py_ssize_t rec = c.pos;
        uint64_t tag;
        c.err = NULL;
        if (c.pos >= c.end || uvarint(&c, &tag) < 0) break;
        if (tag == TAG_OBJECT) {
            uint64_t addr, size; Py_ssize_t coff;
            if (uvarint(&c, &addr) < 0 || bytes_field(&c, &coff, &size) < 0 ||
                collect_fields(&c, size, &offs, &noffs, &capoffs) < 0) break;
            /* Named if a range starts here, or 8 bytes in (past a malloc header): an object
               bigger than 8 bytes has no neighbour starting inside it. */
            Py_ssize_t row = names_row(nm, addr);
            if (!(row >= 0 && nm->start[row] == addr) && size > 8) {
                row = names_row(nm, addr + 8);
                if (row >= 0 && nm->start[row] != addr + 8) row = -1;
            }
            if (row >= 0 && (nm->start[row] == addr || nm->start[row] == addr + 8)) {
                put_label(&t, nm, row, nm->start[row]);
                PUT(&t, " @ ");
            } else {
                PUT(&t, "Object @ ");
            }
            text_hex(&t, addr);
            PUT(&t, " with ");
            text_dec(&t, noffs);
            PUT(&t, " pointers in ");
            text_dec(&t, size);
            PUT(&t, " bytes\n");
            pointer_lines(&t, &c, addr, coff, offs, noffs, nm);
        } else if (tag == TAG_STACK_FRAME) {
            uint64_t sp, depth, child, size, entry, pc, cont, name_len;
            Py_ssize_t coff, name_off;
            if (uvarint(&c, &sp) < 0 || uvarint(&c, &depth) < 0 || uvarint(&c, &child) < 0 ||
                bytes_field(&c, &coff, &size) < 0 || uvarint(&c, &entry) < 0 ||
                uvarint(&c, &pc) < 0 || uvarint(&c, &cont) < 0 ||
                bytes_field(&c, &name_off, &name_len) < 0) break;
            int ascii = 1;
            for (uint64_t k = 0; k < name_len; k++) if (c.buf[name_off + k] >= 0x80) ascii = 0;
            if (!ascii || collect_fields(&c, size, &offs, &noffs, &capoffs) < 0) break;
            PUT(&t, "StackFrame[");
            text_dec(&t, depth);
            PUT(&t, "] @ ");
            text_hex(&t, sp);
            PUT(&t, ": ");
            text_put(&t, (const char *)c.buf + name_off, name_len);
            PUT(&t, " with ");
            text_dec(&t, noffs);
            PUT(&t, " pointers in ");
            text_dec(&t, size);
            PUT(&t, " bytes; child = ");
            text_hex(&t, child);
            PUT(&t, "\n");
            pointer_lines(&t, &c, sp, coff, offs, noffs, nm);
        } else if (tag == TAG_ALLOC_SAMPLE) {
            uint64_t addr, bucket;
            if (uvarint(&c, &addr) < 0 || uvarint(&c, &bucket) < 0) break;
            PUT(&t, "AllocStackTraceSample @ ");
            text_hex(&t, addr);
            PUT(&t, ": Bucket = ");
            text_hex(&t, bucket);
            Py_ssize_t brow = names_row(bk, bucket);
            if (brow >= 0 && bk->start[brow] == bucket) {
                PUT(&t, " (");
                put_label(&t, bk, brow, bucket);
                PUT(&t, ")");
            }
            PUT(&t, "\n");
        } else {
            break;
        }
        (void)rec;
        done_at = c.pos;
        records++;
    }
    if (fd >= 0 && !t.failed) text_flush(&t);
    Py_END_ALLOW_THREADS
    PyMem_RawFree(offs);
    PyBuffer_Release(&view);
    for (int i = 0; i < nbuf; i++) PyBuffer_Release(&nb[i]);
    if (t.write_errno) {
        PyMem_RawFree(t.data);
        errno = t.write_errno;
        return PyErr_SetFromErrno(t.write_errno == EPIPE ? PyExc_BrokenPipeError : PyExc_OSError);
    }
    if (t.failed) { PyMem_RawFree(t.data); return PyErr_NoMemory(); }
    PyObject *text = PyBytes_FromStringAndSize(t.data ? t.data : "", (Py_ssize_t)t.len);
    PyMem_RawFree(t.data);
    if (!text) return NULL;
    return Py_BuildValue("(NnL)", text, done_at, records);
names_fail:
    for (int i = 0; i < nbuf; i++) PyBuffer_Release(&nb[i]);
    PyBuffer_Release(&view);
    return NULL;
}

/* ---- listings (--find, --unreachable --json): objects straight from the index arrays ---- */

/* One string per object: ids[o] (-1: none) indexes off[], offsets of NUL-terminated strings in
   blob. Text mode: the raw name; JSON mode: a ready JSON value (a quoted string, a list). */
typedef struct {
    const int32_t *ids;  /* NULL: no object has one */
    const int64_t *off;
    const char *blob;
    Py_ssize_t nlabels, blob_len;
} Column;

#define MAX_TABLES 4

typedef struct {
    int mode;  /* LIST_TEXT, LIST_JSON or LIST_ADDRESSES */
    const uint64_t *addr, *size, *pval;
    const int64_t *pstart;
    const char *poff;
    int poff_bytes;
    const int32_t *pdst;
    const uint8_t *phantom, *header;
    Py_ssize_t n, m;
    Column col[3];  /* name (--oid), type (--program), allocation site or stack */
    Names tables[MAX_TABLES];  /* pointer values are named by the first table holding them */
    int ntables;
} Listing;

enum { LIST_TEXT = 0, LIST_JSON = 1, LIST_ADDRESSES = 2 };

/* The object's string in a column, or NULL; bad is set for an id past the labels. */
static const char *column_text(const Column *col, int64_t o, size_t *len, int *bad) {
    *len = 0;
    if (!col->ids || col->ids[o] < 0) return NULL;
    int32_t id = col->ids[o];
    if (id >= col->nlabels || col->off[id] < 0 || col->off[id] >= col->blob_len) {
        *bad = 1;
        return NULL;
    }
    const char *s = col->blob + col->off[id];
    *len = strnlen(s, (size_t)(col->blob_len - col->off[id]));
    return s;
}

static void put_column(Text *t, const Column *col, int64_t o, int *bad) {
    size_t len;
    const char *s = column_text(col, o, &len, bad);
    if (s) text_put(t, s, len);
    else PUT(t, "null");
}

/* The name of a pointer value, as names/naming.py value_names() gives it: the first table with
   a range holding the value. Returns the table (or -1) and its row in *row. */
static int value_table(const Listing *L, uint64_t v, Py_ssize_t *row) {
    for (int k = 0; k < L->ntables; k++) {
        *row = names_row(&L->tables[k], v);
        if (*row >= 0) return k;
    }
    return -1;
}

static int label_empty(const Names *nm, Py_ssize_t row, uint64_t v) {
    int64_t off = nm->label[row];
    return v == nm->start[row] && off >= 0 && off < nm->blob_len && nm->blob[off] == '\0';
}

/* One object in the lines of render/objects_view.py object_line() and object_pointer_lines(). */
static void list_text(Text *t, const Listing *L, int64_t o, int *bad) {
    int64_t s = L->pstart[o], e = L->pstart[o + 1];
    uint64_t base = L->addr[o];
    size_t len;
    const char *head = column_text(&L->col[0], o, &len, bad);
    if (!len) head = column_text(&L->col[1], o, &len, bad);
    if (len) text_put(t, head, len);
    else PUT(t, "Object");
    PUT(t, " @ ");
    text_hex(t, base);
    PUT(t, " with ");
    text_dec(t, (uint64_t)(e - s));
    PUT(t, " pointers in ");
    text_dec(t, L->size[o]);
    PUT(t, " bytes");
    const char *site = column_text(&L->col[2], o, &len, bad);
    if (len) {
        PUT(t, " (allocated at ");
        text_put(t, site, len);
        PUT(t, ")");
    }
    if (L->phantom[o]) PUT(t, " [phantom]");
    PUT(t, "\n");
    for (int64_t p = s; p < e && !t->failed; p++) {
        if (t->fd >= 0 && t->len >= t->limit) text_flush(t);
        uint64_t v = L->pval[p];
        if (!v) continue;
        uint64_t off = L->poff_bytes == 4 ? ((const uint32_t *)L->poff)[p]
                                          : ((const uint64_t *)L->poff)[p];
        PUT(t, "  Pointer[");
        text_dec(t, (uint64_t)(p - s));
        PUT(t, "]@");
        text_hex(t, base + off);
        PUT(t, " = ");
        text_hex(t, v);
        Py_ssize_t row;
        int k = value_table(L, v, &row);
        if (k >= 0 && !label_empty(&L->tables[k], row, v)) {
            PUT(t, " (");
            put_label(t, &L->tables[k], row, v);
            PUT(t, ")");
        }
        PUT(t, "\n");
    }
}

/* One object as json.dumps() writes the dict of --find --json (objects_view.py object_json()
   with "pointers" replaced by the list of object_pointers_json(), then "pointer_count"). */
static void list_json(Text *t, const Listing *L, int64_t o, int *bad) {
    int64_t s = L->pstart[o], e = L->pstart[o + 1];
    uint64_t base = L->addr[o];
    PUT(t, "{\"address\": \"");
    text_hex(t, base);
    PUT(t, "\", \"size\": ");
    text_dec(t, L->size[o]);
    PUT(t, ", \"pointers\": [");
    int any = 0;
    for (int64_t p = s; p < e && !t->failed; p++) {
        if (t->fd >= 0 && t->len >= t->limit) text_flush(t);
        uint64_t v = L->pval[p];
        if (!v) continue;
        uint64_t off = L->poff_bytes == 4 ? ((const uint32_t *)L->poff)[p]
                                          : ((const uint64_t *)L->poff)[p];
        if (any) PUT(t, ", ");
        any = 1;
        PUT(t, "{\"index\": ");
        text_dec(t, (uint64_t)(p - s));
        PUT(t, ", \"slot\": \"");
        text_hex(t, base + off);
        PUT(t, "\", \"value\": \"");
        text_hex(t, v);
        PUT(t, "\", \"name\": ");
        Py_ssize_t row;
        int k = value_table(L, v, &row);
        if (k >= 0) {
            PUT(t, "\"");
            put_label(t, &L->tables[k], row, v);
            PUT(t, "\"");
        } else {
            PUT(t, "null");
        }
        PUT(t, ", \"target\": ");
        int32_t d = L->pdst[p];
        if (d >= L->n) *bad = 1;
        if (d >= 0 && d < L->n) {
            PUT(t, "\"");
            text_hex(t, L->addr[d]);
            PUT(t, "\"}");
        } else {
            PUT(t, "null}");
        }
    }
    PUT(t, "], \"name\": ");
    put_column(t, &L->col[0], o, bad);
    PUT(t, ", \"type\": ");
    put_column(t, &L->col[1], o, bad);
    if (L->phantom[o]) PUT(t, ", \"phantom\": true, \"allocation\": ");
    else PUT(t, ", \"phantom\": false, \"allocation\": ");
    put_column(t, &L->col[2], o, bad);
    if (L->header[o]) {
        PUT(t, ", \"malloc_header\": true, \"data_address\": \"");
        text_hex(t, base + 8);
        PUT(t, "\"");
    } else {
        PUT(t, ", \"malloc_header\": false");
    }
    PUT(t, ", \"pointer_count\": ");
    text_dec(t, (uint64_t)(e - s));
    PUT(t, "}");
}

static int get_column(PyObject *arg, Column *col, Py_ssize_t n, Py_buffer *b, int *nbuf) {
    if (arg == Py_None) return 0;
    if (!PyTuple_Check(arg) || PyTuple_GET_SIZE(arg) != 3) {
        PyErr_SetString(PyExc_TypeError, "a column must be (ids, offsets, blob)");
        return -1;
    }
    if (PyTuple_GET_ITEM(arg, 0) != Py_None) {
        if (get_buf(PyTuple_GET_ITEM(arg, 0), &b[*nbuf], 0, 4, n) < 0) return -1;
        col->ids = b[(*nbuf)++].buf;
    }
    for (int i = 1; i < 3; i++, (*nbuf)++)
        if (PyObject_GetBuffer(PyTuple_GET_ITEM(arg, i), &b[*nbuf], PyBUF_C_CONTIGUOUS) < 0)
            return -1;
    col->off = b[*nbuf - 2].buf;
    col->nlabels = b[*nbuf - 2].len / 8;
    col->blob = b[*nbuf - 1].buf;
    col->blob_len = b[*nbuf - 1].len;
    return 0;
}

/*
 * listing(mode, objs, index, columns, tables, first, fd, limit) -> text: the objects ``objs``
 * (int64 ids) as --find prints them (mode 0), as the JSON objects of --find --json, each after a
 * newline and all but the first after a comma (mode 1), or as JSON address strings (mode 2; ``columns`` and ``tables`` unused).
 * ``index`` = (addr, size, pstart, poff, pval, pdst, phantom, header): the index's arrays;
 * ``columns`` = three (ids per object or None, label offsets, labels) or None: the object's
 * name, type and allocation; ``tables``: names tables (see format()) tried in order for pointer
 * values. ``first``: no comma before the first object. With ``fd`` >= 0 the text is written
 * there in ``limit``-sized pieces and the returned text is empty.
 */
static PyObject *py_listing(PyObject *self, PyObject *args) {
    int mode, first, fd;
    Py_ssize_t limit;
    PyObject *objs_arg, *index_arg, *cols_arg, *tables_arg;
    if (!PyArg_ParseTuple(args, "iOOOOpin", &mode, &objs_arg, &index_arg, &cols_arg,
                          &tables_arg, &first, &fd, &limit))
        return NULL;
    if (mode < LIST_TEXT || mode > LIST_ADDRESSES || !PyTuple_Check(index_arg) ||
        PyTuple_GET_SIZE(index_arg) != 8 || !PyTuple_Check(cols_arg) ||
        PyTuple_GET_SIZE(cols_arg) != 3 || !PyTuple_Check(tables_arg) ||
        PyTuple_GET_SIZE(tables_arg) > MAX_TABLES) {
        PyErr_SetString(PyExc_TypeError, "listing: bad mode, index, columns or tables");
        return NULL;
    }
    Py_buffer b[1 + 8 + 3 * 3 + 4 * MAX_TABLES];
    int nbuf = 0;
    Listing L = {0};
    L.mode = mode;
    PyObject *ix[8];
    for (int i = 0; i < 8; i++) ix[i] = PyTuple_GET_ITEM(index_arg, i);
    Py_buffer probe;
    if (PyObject_GetBuffer(ix[0], &probe, PyBUF_SIMPLE) < 0) return NULL;
    L.n = probe.len / 8;
    PyBuffer_Release(&probe);
    if (PyObject_GetBuffer(ix[4], &probe, PyBUF_SIMPLE) < 0) return NULL;
    L.m = probe.len / 8;
    PyBuffer_Release(&probe);
    if (PyObject_GetBuffer(ix[3], &probe, PyBUF_SIMPLE) < 0) return NULL;
    L.poff_bytes = L.m && probe.len == L.m * 4 ? 4 : 8;
    PyBuffer_Release(&probe);
    Py_ssize_t items[8] = {8, 8, 8, L.poff_bytes, 8, 4, 1, 1};
    Py_ssize_t counts[8] = {L.n, L.n, L.n + 1, L.m, L.m, L.m, L.n, L.n};
    const void *ptrs[8];
    for (int i = 0; i < 8; i++) {
        if (get_buf(ix[i], &b[nbuf], 0, items[i], counts[i]) < 0) goto fail;
        ptrs[i] = b[nbuf++].buf;
    }
    L.addr = ptrs[0]; L.size = ptrs[1]; L.pstart = ptrs[2]; L.poff = ptrs[3];
    L.pval = ptrs[4]; L.pdst = ptrs[5]; L.phantom = ptrs[6]; L.header = ptrs[7];
    for (int i = 0; i < 3; i++)
        if (get_column(PyTuple_GET_ITEM(cols_arg, i), &L.col[i], L.n, b, &nbuf) < 0) goto fail;
    L.ntables = (int)PyTuple_GET_SIZE(tables_arg);
    for (int i = 0; i < L.ntables; i++)
        if (get_names(PyTuple_GET_ITEM(tables_arg, i), &L.tables[i], b, &nbuf) < 0) goto fail;
    if (PyObject_GetBuffer(objs_arg, &b[nbuf], PyBUF_C_CONTIGUOUS) < 0) goto fail;
    const int64_t *objs = b[nbuf].buf;
    Py_ssize_t k = b[nbuf++].len / 8;

    Text t = {0};
    t.fd = fd;
    t.limit = (size_t)limit;
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < k && !t.failed && !bad; i++) {
        if (fd >= 0 && t.len >= t.limit) text_flush(&t);
        int64_t o = objs[i];
        if (o < 0 || o >= L.n || L.pstart[o] < 0 || L.pstart[o + 1] < L.pstart[o] ||
            L.pstart[o + 1] > L.m) {
            bad = 1;
            break;
        }
        if (mode != LIST_TEXT) {
            if (first && i == 0) PUT(&t, "\n");
            else PUT(&t, ",\n");
        }
        if (mode == LIST_TEXT) {
            list_text(&t, &L, o, &bad);
        } else if (mode == LIST_JSON) {
            list_json(&t, &L, o, &bad);
        } else {
            PUT(&t, "\"");
            text_hex(&t, L.addr[o]);
            PUT(&t, "\"");
        }
    }
    if (fd >= 0 && !t.failed) text_flush(&t);
    Py_END_ALLOW_THREADS
    for (int i = 0; i < nbuf; i++) PyBuffer_Release(&b[i]);
    if (t.write_errno) {
        PyMem_RawFree(t.data);
        errno = t.write_errno;
        return PyErr_SetFromErrno(t.write_errno == EPIPE ? PyExc_BrokenPipeError : PyExc_OSError);
    }
    if (t.failed) { PyMem_RawFree(t.data); return PyErr_NoMemory(); }
    if (bad) {
        PyMem_RawFree(t.data);
        PyErr_SetString(PyExc_ValueError, "inconsistent index arrays for a listing");
        return NULL;
    }
    PyObject *text = PyBytes_FromStringAndSize(t.data ? t.data : "", (Py_ssize_t)t.len);
    PyMem_RawFree(t.data);
    return text;
fail:
    for (int i = 0; i < nbuf; i++) PyBuffer_Release(&b[i]);
    return NULL;
}

/*
 * phantoms(addr, pstart, size, out, n, npages, heap_bits_reserve, green_tea_reserve): out[i] = 1
 * when object i (sorted by address) is a reserved span tail, the rule of
 * heapspurs/index/geometry.py phantom_mask (its numpy form is the specification): a small
 * object (<= 512 B) is a phantom when it ends past 8192 - reserve in its page, the reserve being
 * the heap bits of a page holding pointerful small objects plus the inline mark bits of small
 * objects of 16 B or more. npages: pages from the first object's to the last's, plus one.
 */
static PyObject *py_phantoms(PyObject *self, PyObject *args) {
    PyObject *oa, *op, *os_, *oo;
    Py_ssize_t n, npages;
    int heap_bits, green_tea;
    if (!PyArg_ParseTuple(args, "OOOOnnii", &oa, &op, &os_, &oo, &n, &npages, &heap_bits,
                          &green_tea)) return NULL;
    Py_buffer ba, bp, bs, bo;
    if (get_buf(oa, &ba, 0, 8, n) < 0) return NULL;
    if (get_buf(op, &bp, 0, 8, n + 1) < 0) { PyBuffer_Release(&ba); return NULL; }
    if (get_buf(os_, &bs, 0, 8, n) < 0) { PyBuffer_Release(&ba); PyBuffer_Release(&bp); return NULL; }
    if (get_buf(oo, &bo, 1, 1, n) < 0) {
        PyBuffer_Release(&ba); PyBuffer_Release(&bp); PyBuffer_Release(&bs); return NULL;
    }
    const uint64_t *addr = ba.buf, *size = bs.buf;
    const int64_t *pstart = bp.buf;
    uint8_t *out = bo.buf;
    uint8_t *scan_page = n > 0 ? PyMem_RawCalloc((size_t)npages, 1) : NULL;
    int bad = n > 0 && !scan_page;
    Py_BEGIN_ALLOW_THREADS
    if (!bad && n > 0) {
        uint64_t first = addr[0] >> 13;
        for (Py_ssize_t i = 0; i < n && !bad; i++) {
            uint64_t rel = (addr[i] >> 13) - first;
            if (rel >= (uint64_t)npages) { bad = 2; break; }
            if (size[i] <= 512 && pstart[i + 1] > pstart[i]) scan_page[rel] = 1;
        }
        for (Py_ssize_t i = 0; i < n && !bad; i++) {
            uint64_t sz = size[i];
            if (sz > 512) { out[i] = 0; continue; }
            int64_t reserve = 0;
            if (heap_bits && scan_page[(addr[i] >> 13) - first]) reserve += heap_bits;
            if (green_tea && sz >= 16) reserve += green_tea;
            out[i] = (int64_t)(addr[i] % 8192 + sz) > 8192 - reserve;
        }
    }
    Py_END_ALLOW_THREADS
    PyMem_RawFree(scan_page);
    PyBuffer_Release(&ba); PyBuffer_Release(&bp); PyBuffer_Release(&bs); PyBuffer_Release(&bo);
    if (bad == 1) return PyErr_NoMemory();
    if (bad) { PyErr_SetString(PyExc_ValueError, "addresses not sorted"); return NULL; }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"scan", py_scan, METH_VARARGS,
     "scan(buffer, start, arrays[, release[, first[, resume]]]) -> counts (+ kept, checkpoints), "
     "or (message, offset, record, start)"},
    {"resolve", py_resolve, METH_VARARGS,
     "resolve(addr, size, values, out, n, m[, threads]): containing object of each value, or -1"},
    {"format", py_format, METH_VARARGS,
     "format(buffer, start, is64, big_endian, limit[, fd[, names[, buckets]]]) -> (text, next, records)"},
    {"listing", py_listing, METH_VARARGS,
     "listing(mode, objs, index, columns, tables, first, fd, limit) -> text of --find and "
     "JSON listings"},
    {"bfs", py_bfs, METH_VARARGS,
     "bfs(indptr, targets, sources, blocked, parent, n, m, nsources): BFS parents in place"},
    {"gather", py_gather, METH_VARARGS,
     "gather(order, old_pstart, new_pstart, src_off, src_val, dst_off, dst_val, n, m)"},
    {"phantoms", py_phantoms, METH_VARARGS,
     "phantoms(addr, pstart, size, out, n, npages, heap_bits_reserve, green_tea_reserve)"},
    {"reverse", py_reverse, METH_VARARGS,
     "reverse(pstart, pdst, skip, rstart, rsrc, rptr, n, m[, rptr_bytes[, threads]]) -> number of "
     "reverse edges"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_cscan", "Native one-pass scan of Go heap dumps.", -1, methods,
};

PyMODINIT_FUNC PyInit__cscan(void) { return PyModule_Create(&module); }
