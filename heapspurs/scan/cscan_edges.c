/*
 * Index building: linear-time passes over the scan's arrays that numpy cannot do quickly —
 * resolve() (each pointer value to the object containing it), reverse() (the reverse edges, a
 * counting sort), gather() (pointer slots into address order).
 */
#include "cscan.h"

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

PyObject *py_resolve(PyObject *self, PyObject *args) {
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
 * of one thread stay within its part of the arrays. The fill may be split into windows of
 * targets [lo, hi), called in order from 0 to n, so that the random writes of one call stay
 * within a part of the arrays that fits a memory budget (heapspurs/index/workspace.py).
 */
typedef struct {
    const int64_t *pstart;
    const int32_t *pdst;
    const uint8_t *skip;
    int64_t *rstart;
    int32_t *rsrc;
    void *rptr;
    int64_t n, total;
    int64_t lo, hi;  /* the window of targets this call handles */
    int rptr_bytes;
    int overflow;
} ReverseJob;

/* One thread's targets [lo, hi): count their edges (rsrc NULL) or fill them in. */
static void reverse_part(void *p, int k, int threads) {
    ReverseJob *r = p;
    int64_t span = r->hi - r->lo;
    int64_t lo = r->lo + span * k / threads, hi = r->lo + span * (k + 1) / threads;
    for (int64_t u = 0; u < r->n; u++) {
        if (r->skip[u]) continue;
        for (int64_t q = r->pstart[u]; q < r->pstart[u + 1]; q++) {
            int32_t v = r->pdst[q];
            if (v < lo || v >= hi) continue;
            if (!r->rsrc) { r->rstart[v + 1]++; continue; }
            int64_t at = r->rstart[v];  /* v's fill cursor (see below), checked before it moves */
            if (at < 0 || at >= r->total) { r->overflow = 1; continue; }
            r->rstart[v] = at + 1;
            r->rsrc[at] = (int32_t)u;
            if (r->rptr_bytes == 4) ((int32_t *)r->rptr)[at] = (int32_t)q;
            else ((int64_t *)r->rptr)[at] = q;
        }
    }
}

PyObject *py_reverse(PyObject *self, PyObject *args) {
    PyObject *o_pstart, *o_pdst, *o_skip, *o_rstart, *o_rsrc, *o_rptr;
    Py_ssize_t n, m, lo = 0, hi = -1;
    int rptr_bytes = 8, threads = 1;
    if (!PyArg_ParseTuple(args, "OOOOOOnn|iinn", &o_pstart, &o_pdst, &o_skip, &o_rstart, &o_rsrc,
                          &o_rptr, &n, &m, &rptr_bytes, &threads, &lo, &hi)) return NULL;
    if (hi < 0) hi = n;
    if (lo < 0 || lo > hi || hi > n) {
        PyErr_SetString(PyExc_ValueError, "bad window of targets");
        return NULL;
    }
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
    ReverseJob job = {b[0].buf, b[1].buf, b[2].buf, b[3].buf, NULL, NULL, n, 0, 0, n,
                      rptr_bytes, 0};
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
        job.lo = lo;
        job.hi = hi;
        if (job.total > b[4].len / 4 || job.total > b[5].len / rptr_bytes
            || (lo == 0 && job.rstart[0] != 0))
            bad = 2;
        else {
            /* rstart[v] serves as v's fill cursor: afterwards it holds v's end, the start of
               v+1, so one shift after the last window puts the starts back (no second array
               of n counters). */
            run_parallel(reverse_part, &job, hi - lo < (1 << 16) ? 1 : threads);
            if (hi == n) {
                memmove(job.rstart + 1, job.rstart, sizeof(int64_t) * (size_t)n);
                job.rstart[0] = 0;
                if (job.rstart[n] != job.total) bad = 2;
            }
            if (job.overflow) bad = 2;
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
PyObject *py_gather(PyObject *self, PyObject *args) {
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
        /* No sum that can overflow: d and new_ps[k] come from the caller's arrays. */
        if (s < 0 || e < s || e > m || d < 0 || d > m || e - s > m - d ||
            new_ps[k] != d + (e - s)) {
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
