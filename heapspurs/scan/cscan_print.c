/*
 * format(): --print's lines in the original tool's formats for objects, stack frames and
 * allocation samples, written straight from the dump; and the text buffer and names tables the
 * listings share (cscan.h).
 */
#include "cscan.h"

#include <errno.h>

/* text_reserve()'s slow path: room for ``more`` bytes. */
void text_grow(Text *t, size_t more) {
    size_t cap = t->cap ? t->cap : 1 << 16;
    while (cap < t->len + more) cap *= 2;
    char *d = PyMem_RawRealloc(t->data, cap);
    if (!d) { t->failed = 1; return; }
    t->data = d;
    t->cap = cap;
}

void text_flush(Text *t) {
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


/* What was written, as bytes (the text not yet flushed), or NULL with the exception of a failed
   write (BrokenPipeError, OSError) or allocation. Frees the text's buffer either way. */
PyObject *text_result(Text *t) {
    PyObject *text = NULL;
    if (t->write_errno) {
        errno = t->write_errno;
        PyErr_SetFromErrno(t->write_errno == EPIPE ? PyExc_BrokenPipeError : PyExc_OSError);
    } else if (t->failed) {
        PyErr_NoMemory();
    } else {
        text = PyBytes_FromStringAndSize(t->data ? t->data : "", (Py_ssize_t)t->len);
    }
    PyMem_RawFree(t->data);
    t->data = NULL;
    return text;
}

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


/* A names table from Python, (starts, ends, label offsets, labels): names/table.py c_arrays().
   Its four buffers are taken into nb[*nbuf...] (the caller releases them, also on failure). */
int get_names(PyObject *arg, Names *dest, Py_buffer *nb, int *nbuf) {
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
void put_label(Text *t, const Names *nm, Py_ssize_t row, uint64_t v) {
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
PyObject *py_format(PyObject *self, PyObject *args) {
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
        uint64_t tag;
        c.err = NULL;
        if (c.pos >= c.end || uvarint(&c, &tag) < 0) break;
        if (tag == TAG_OBJECT) {
            ObjectFields r;
            if (read_object(&c, &r) < 0 ||
                collect_fields(&c, r.contents_len, &offs, &noffs, &capoffs) < 0) break;
            uint64_t addr = r.address, size = r.contents_len;
            Py_ssize_t coff = r.contents_off;
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
            StackFrameFields f;
            if (read_stack_frame(&c, &f) < 0) break;
            int ascii = 1;
            for (uint64_t k = 0; k < f.name_len; k++)
                if (c.buf[f.name_off + k] >= 0x80) ascii = 0;
            if (!ascii || collect_fields(&c, f.contents_len, &offs, &noffs, &capoffs) < 0) break;
            PUT(&t, "StackFrame[");
            text_dec(&t, f.depth);
            PUT(&t, "] @ ");
            text_hex(&t, f.sp);
            PUT(&t, ": ");
            text_put(&t, (const char *)c.buf + f.name_off, f.name_len);
            PUT(&t, " with ");
            text_dec(&t, noffs);
            PUT(&t, " pointers in ");
            text_dec(&t, f.contents_len);
            PUT(&t, " bytes; child = ");
            text_hex(&t, f.child_sp);
            PUT(&t, "\n");
            pointer_lines(&t, &c, f.sp, f.contents_off, offs, noffs, nm);
        } else if (tag == TAG_ALLOC_SAMPLE) {
            AllocSampleFields r;
            if (read_alloc_sample(&c, &r) < 0) break;
            PUT(&t, "AllocStackTraceSample @ ");
            text_hex(&t, r.address);
            PUT(&t, ": Bucket = ");
            text_hex(&t, r.bucket);
            Py_ssize_t brow = names_row(bk, r.bucket);
            if (brow >= 0 && bk->start[brow] == r.bucket) {
                PUT(&t, " (");
                put_label(&t, bk, brow, r.bucket);
                PUT(&t, ")");
            }
            PUT(&t, "\n");
        } else {
            break;
        }
        done_at = c.pos;
        records++;
    }
    if (fd >= 0 && !t.failed) text_flush(&t);
    Py_END_ALLOW_THREADS
    PyMem_RawFree(offs);
    PyBuffer_Release(&view);
    for (int i = 0; i < nbuf; i++) PyBuffer_Release(&nb[i]);
    PyObject *text = text_result(&t);
    if (!text) return NULL;
    return Py_BuildValue("(NnL)", text, done_at, records);
names_fail:
    for (int i = 0; i < nbuf; i++) PyBuffer_Release(&nb[i]);
    PyBuffer_Release(&view);
    return NULL;
}
