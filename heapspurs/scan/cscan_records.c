/*
 * scan(buffer, start, arrays, ...): the native one-pass scan of a Go heap dump (see
 * heapspurs/scan/native_scan.py). It walks the records after the 16-byte header. With
 * arrays=None it only counts; with a tuple of writable buffers (sized from the counts) it fills
 * them. Objects, stack frames, their pointer slots and allocation samples go to the arrays;
 * every other record's offset is listed so Python decodes those few records with the reference
 * reader. Every length is checked against the end of the buffer; a malformed dump returns
 * (message, offset, record) instead of the counts. The pure-Python reader
 * (heapspurs/format/reader.py) is the specification this mirrors; a differential test compares
 * both on every test dump.
 */
#include "cscan.h"


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

/* The position of the ']' that closes the group whose ops start at op. */
static const char *group_end(const char *op) {
    int depth = 0;
    for (; *op; op++) {
        if (*op == '[') depth++;
        else if (*op == ']' && depth-- == 0) break;
    }
    return op;
}

/* Skip the fields RECORD_OPS spells (record_layouts.h), checking their structure, up to the
   end of ops or of the group; the byte order and pointer size fields set the cursor's.
   Returns where the ops stopped, or NULL with c->err set. */
static const char *skip_fields(Cursor *c, const char *op) {
    uint64_t v, size = 0;
    Py_ssize_t off, coff = 0;
    int64_t none = 0;
    while (*op && *op != ']') {
        uint64_t count = 0;
        while (*op >= '0' && *op <= '9') count = count * 10 + (uint64_t)(*op++ - '0');
        if (count == 0) count = 1;
        switch (*op) {
        case 'u': case 'b':
            for (uint64_t i = 0; i < count; i++) if (uvarint(c, &v) < 0) return NULL;
            break;
        case 'e':
            if (uvarint(c, &v) < 0) return NULL;
            c->big_endian = v != 0;
            break;
        case 'p':
            if (uvarint(c, &v) < 0) return NULL;
            if (v != 4 && v != 8) {
                snprintf(c->errbuf, sizeof c->errbuf, "unsupported pointer size %llu",
                         (unsigned long long)v);
                c->err = c->errbuf;
                return NULL;
            }
            c->ptr_size = (int)v;
            break;
        case 's': if (bytes_field(c, &off, &v) < 0) return NULL; break;
        case 'c': if (bytes_field(c, &coff, &size) < 0) return NULL; break;
        case 'f': if (fieldlist(c, coff, size, NULL, NULL, &none, 0, 0) < 0) return NULL; break;
        case '[': {
            uint64_t n;
            if (uvarint(c, &n) < 0) return NULL;
            /* n is untrusted, but each group consumes bytes: bounded by the file's size. */
            for (uint64_t i = 0; i < n; i++) if (!skip_fields(c, op + 1)) return NULL;
            op = group_end(op + 1);
            if (!*op) return op;
            break;
        }
        default:
            c->err = "bad record layout";
            return NULL;
        }
        op++;
    }
    return op;
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
        uint64_t tag;
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
            ObjectFields r;
            if (read_object(c, &r) < 0) goto fail;
            uint64_t addr = r.address, size = r.contents_len;
            Py_ssize_t coff = r.contents_off;
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
            StackFrameFields f;
            if (read_stack_frame(c, &f) < 0) goto fail;
            if (o && n->n_frame >= cap->n_frame) { c->err = "dump changed between passes"; goto fail; }
            if (fieldlist(c, f.contents_off, f.contents_len, o ? o->fptr_off : NULL,
                          o ? o->fptr_val : NULL, &n->n_fptr, cap ? cap->n_fptr : 0, 0) < 0)
                goto fail;
            if (o) {
                int64_t i = n->n_frame;
                o->frame_sp[i] = f.sp;
                o->frame_size[i] = f.contents_len;
                o->frame_off[i] = f.contents_off;
                o->frame_depth[i] = f.depth > INT32_MAX ? INT32_MAX : (int32_t)f.depth;
                o->frame_child[i] = f.child_sp;
                o->frame_entry[i] = f.entry_pc;
                o->frame_pc[i] = f.pc;
                o->frame_goroutine[i] = (int32_t)(n->n_goroutine - 1);
                o->frame_name_off[i] = f.name_off;
                o->frame_name_len[i] = (int64_t)f.name_len;
                o->frame_pstart[i + 1] = n->n_fptr;
            }
            n->n_frame++;
            break;
        }
        case TAG_ALLOC_SAMPLE: {
            AllocSampleFields r;
            if (read_alloc_sample(c, &r) < 0) goto fail;
            if (o) {
                if (n->n_sample >= cap->n_sample) { c->err = "dump changed between passes"; goto fail; }
                o->sample_addr[n->n_sample] = r.address;
                o->sample_bucket[n->n_sample] = r.bucket;
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
        default:
            /* Records decoded in Python: only skip them here, checking their structure. */
            if (tag >= N_RECORD_TAGS) {
                snprintf(c->errbuf, sizeof c->errbuf, "unknown record tag %llu",
                         (unsigned long long)tag);
                c->err = c->errbuf;
                c->pos = start;
                return -1;
            }
            if (!skip_fields(c, RECORD_OPS[tag])) goto fail;
            if (tag == TAG_GOROUTINE) n->n_goroutine++;
            if (o) {
                if (n->n_other >= cap->n_other) { c->err = "dump changed between passes"; goto fail; }
                o->other_off[n->n_other] = start;
            }
            n->n_other++;
        }
        continue;
    fail:
        *err_offset = c->pos;
        return -1;
    }
}

PyObject *py_scan(PyObject *self, PyObject *args) {
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
