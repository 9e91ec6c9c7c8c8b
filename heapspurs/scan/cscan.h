/*
 * cscan.h: what the C files of the _cscan extension share — the cursor over a dump and its
 * varint reader, the byte-buffer check of the index arrays, the thread pool, the text buffer
 * and the names tables of the --print and listing formatters — and each file's entry points.
 *
 *   _cscan.c            the module: its method table, and the helpers declared here
 *   cscan_records.c     scan(): the one-pass walk over the records (counting and filling)
 *   cscan_edges.c       resolve(), reverse(), gather(): pointers to objects, edges
 *   cscan_print.c       format(): --print's lines; the text buffer and names tables
 *   cscan_listing.c     listing(): --find and the JSON listings from the index arrays
 *   cscan_phantoms.c    phantoms(): reserved span tails
 *   cscan_order.c       rank_by_page(): address order by a counting sort on pages
 *   record_layouts.h    the record tags and layouts, generated from heapspurs/format/records.py
 */
#ifndef HEAPSPURS_CSCAN_H
#define HEAPSPURS_CSCAN_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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

int uvarint_slow(Cursor *c, uint64_t *out);

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

/* A length-prefixed byte range: its offset and length, checked against the end. */
int bytes_field(Cursor *c, Py_ssize_t *off, uint64_t *len);

/* A pointer-sized word in the dump's byte order. */
static inline uint64_t load_ptr(const Cursor *c, const uint8_t *p) {
    uint64_t v = 0;
    int n = c->ptr_size;
    if (c->big_endian) {
        for (int i = 0; i < n; i++) v = (v << 8) | p[i];
    } else {
        for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    }
    return v;
}

/* The record tags, RECORD_OPS and the readers of objects, stack frames and samples. */
#include "record_layouts.h"

/* A buffer of exactly n items of itemsize bytes (a numpy array), or -1 with an exception. */
int get_buf(PyObject *o, Py_buffer *b, int writable, Py_ssize_t itemsize, Py_ssize_t n);

/* Run job(arg, k, threads) for k in [0, threads) on threads of their own (the caller's
   included); where a thread cannot be started its part runs on the caller's. */
#define MAX_THREADS 8
typedef void (*Job)(void *arg, int k, int threads);
void run_parallel(Job job, void *arg, int threads);

/* Text written in large chunks (to a file descriptor, or returned to Python). */
typedef struct {
    char *data;
    size_t len, cap;
    int failed;
    int fd;          /* >= 0: flush to this file descriptor once ``limit`` bytes are pending */
    size_t limit;
    int write_errno;
} Text;

void text_flush(Text *t);
void text_grow(Text *t, size_t more);
PyObject *text_result(Text *t);

/* The per-value writers are inline in every file that formats (out of line they cost --print
   about 10%). */
static inline void text_reserve(Text *t, size_t more) {
    if (t->failed || t->len + more <= t->cap) return;
    text_grow(t, more);
}

static inline void text_hex(Text *t, uint64_t v) {
    char tmp[20];
    int n = 0;
    do { tmp[n++] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
    text_reserve(t, n + 2);
    if (t->failed) return;
    t->data[t->len++] = '0';
    t->data[t->len++] = 'x';
    while (n) t->data[t->len++] = tmp[--n];
}

static inline void text_dec(Text *t, uint64_t v) {
    char tmp[24];
    int n = 0;
    do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    text_reserve(t, n);
    if (t->failed) return;
    while (n) t->data[t->len++] = tmp[--n];
}

static inline void text_put(Text *t, const char *s, size_t n) {
    text_reserve(t, n);
    if (t->failed) return;
    memcpy(t->data + t->len, s, n);
    t->len += n;
}
#define PUT(t, lit) text_put((t), (lit), sizeof(lit) - 1)

/* Named address ranges for --print (sorted, non-overlapping): see names/table.py. */
typedef struct {
    const uint64_t *start, *end;
    const int64_t *label;   /* offset of each row's NUL-terminated label in blob */
    const char *blob;
    Py_ssize_t n, blob_len;
} Names;

static inline Py_ssize_t names_row(const Names *nm, uint64_t v) {
    if (!nm || nm->n == 0) return -1;
    Py_ssize_t lo = 0, hi = nm->n;  /* first row with start > v */
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (nm->start[mid] <= v) lo = mid + 1; else hi = mid;
    }
    if (lo == 0 || v >= nm->end[lo - 1]) return -1;
    return lo - 1;
}

int get_names(PyObject *arg, Names *dest, Py_buffer *nb, int *nbuf);
void put_label(Text *t, const Names *nm, Py_ssize_t row, uint64_t v);

/* The module's functions, one file each (see the table above). */
PyObject *py_scan(PyObject *self, PyObject *args);
PyObject *py_resolve(PyObject *self, PyObject *args);
PyObject *py_reverse(PyObject *self, PyObject *args);
PyObject *py_gather(PyObject *self, PyObject *args);
PyObject *py_format(PyObject *self, PyObject *args);
PyObject *py_listing(PyObject *self, PyObject *args);
PyObject *py_phantoms(PyObject *self, PyObject *args);
PyObject *py_rank_by_page(PyObject *self, PyObject *args);

#endif
