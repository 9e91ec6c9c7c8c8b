/*
 * _cscan: the native code of the dump scan and of what is built on its arrays (see
 * heapspurs/scan/native_scan.py and cscan.h for which file holds what). This file: the module's
 * method table and the small helpers every part uses (varints, buffers, threads).
 */
#include "cscan.h"

int uvarint_slow(Cursor *c, uint64_t *out) {
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
int bytes_field(Cursor *c, Py_ssize_t *off, uint64_t *len) {
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

int get_buf(PyObject *o, Py_buffer *b, int writable, Py_ssize_t itemsize, Py_ssize_t n) {
    if (PyObject_GetBuffer(o, b, writable ? PyBUF_WRITABLE : PyBUF_SIMPLE) < 0) return -1;
    if (b->len != itemsize * n) {
        PyBuffer_Release(b);
        PyErr_Format(PyExc_ValueError, "buffer of %zd bytes, expected %zd", b->len, itemsize * n);
        return -1;
    }
    return 0;
}


typedef struct { Job job; void *arg; int k, threads; } JobCall;

static void *job_main(void *p) {
    JobCall *c = p;
    c->job(c->arg, c->k, c->threads);
    return NULL;
}

void run_parallel(Job job, void *arg, int threads) {
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
    {"gather", py_gather, METH_VARARGS,
     "gather(order, old_pstart, new_pstart, src_off, src_val, dst_off, dst_val, n, m)"},
    {"phantoms", py_phantoms, METH_VARARGS,
     "phantoms(addr, pstart, size, out, n, npages, heap_bits_reserve, green_tea_reserve)"},
    {"rank_by_page", py_rank_by_page, METH_VARARGS,
     "rank_by_page(addr, count, rank, pstart, n, lo_page, npages) -> whether each page's "
     "objects were ascending (rank and pstart are then the address order)"},
    {"reverse", py_reverse, METH_VARARGS,
     "reverse(pstart, pdst, skip, rstart, rsrc, rptr, n, m[, rptr_bytes[, threads]]) -> number of "
     "reverse edges"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_cscan", "Native one-pass scan of Go heap dumps.", -1, methods,
};

PyMODINIT_FUNC PyInit__cscan(void) { return PyModule_Create(&module); }
