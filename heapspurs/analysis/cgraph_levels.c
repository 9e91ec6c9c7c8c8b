/*
 * cgraph_levels.c: a breadth-first walk kept as levels, for a question about one object that a
 * large part of the heap may reach (its anchors). Its state is a bitmap of the reached nodes, a
 * bitmap of the level being found, and one queue of int32 node ids in which each level is
 * sorted: 4 bytes per reached node and n/4 bytes of bitmaps (untouched pages of which cost
 * nothing), against 12-16 bytes per node for parents. The walk stops every ``max_edges`` edges
 * so that the caller can give back the index pages it has read; a path is rebuilt from the
 * levels afterwards (a node at level k has an edge to a node at level k-1).
 *
 *   walk_levels(indptr, targets, blocked_a, blocked_b, seen, fresh, queue, ends, state, n, m,
 *               max_edges) -> True when the walk is over
 *     seen, fresh: uint64[(n+63)/64] bitmaps, zeroed before the first call (the sources' bits
 *     set in seen); queue: int32[n], the sources (sorted) first; ends: int64[k], where each
 *     level's end in the queue is written as the level is sorted; state: int64[6] = head, tail,
 *     end of the level being expanded, ends written, lowest and highest node of the level being
 *     found. It returns when the walk is over, when ``ends`` is full (the caller takes them and
 *     sets state[3] to 0) or after about ``max_edges`` edges.
 *   find_in_levels(queue, count, nodes, positions, scratch, n, k)
 *     positions[i]: where nodes[i] (sorted, distinct) is in queue[:count], or -1; scratch: a
 *     clear uint64[(n+63)/64] bitmap (the walk's ``fresh``), clear again on return.
 *   level_path(indptr, targets, rstart, rsrc, blocked_a, blocked_b, queue, bounds, node,
 *              level, n, m, mr, nb)
 *     -> int64 bytes: node, then at each level below the lowest node that it has an edge to,
 *     in that level and expanded, down to the sources: one shortest path. bounds: int64[nb],
 *     level k is queue[bounds[k]:bounds[k+1]]. The step reads the node's own edges
 *     (indptr/targets) or, when those are many more than the level below has nodes, the edges
 *     into that level's nodes (rstart/rsrc, the same edges reversed): a 150 MB slice of
 *     pointers one step away from the object is not read whole.
 */
#include "cgraph.h"
#include <stdlib.h>
#include <string.h>

enum { HEAD, TAIL, LEVEL_END, NENDS, LO, HI, NSTATE };

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Sort the count nodes at q (their bits set in fresh, all within [lo, hi]) and clear their
   bits: read out of the bitmap where it is dense enough, else sorted in place. Returns the
   nodes written (count, unless the bitmap disagrees). */
static int64_t sort_level(int32_t *q, int64_t count, uint64_t *fresh, int64_t lo, int64_t hi) {
    int64_t w0 = lo >> 6, w1 = hi >> 6;
    if (w1 - w0 + 1 <= count * 16) {
        int64_t k = 0;
        for (int64_t w = w0; w <= w1; w++) {
            uint64_t x = fresh[w];
            while (x && k < count) {
                q[k++] = (int32_t)(w * 64 + __builtin_ctzll(x));
                x &= x - 1;
            }
            fresh[w] = 0;
        }
        return k;
    }
    qsort(q, (size_t)count, sizeof *q, cmp_i32);
    for (int64_t i = 0; i < count; i++) fresh[q[i] >> 6] &= ~(1ull << (q[i] & 63));
    return count;
}

PyObject *py_walk_levels(PyObject *self, PyObject *args) {
    PyObject *o[9];
    Py_ssize_t n, m, max_edges;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOnnn", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6],
                          &o[7], &o[8], &n, &m, &max_edges))
        return NULL;
    if (n < 0 || n >= INT32_MAX || m < 0) {
        PyErr_SetString(PyExc_ValueError, "bad sizes");
        return NULL;
    }
    Py_buffer b[9], be;
    const char *what[9] = {"indptr", "targets", "blocked", "blocked", "seen", "fresh", "queue",
                           "ends", "state"};
    Py_ssize_t words = (n + 63) / 64;
    Py_ssize_t isz[9] = {8, 4, 1, 1, 8, 8, 4, 8, 8};
    Py_ssize_t cnt[9] = {n + 1, m, n, n, words, words, n, -1, NSTATE};
    int got = 0;
    for (int i = 0; i < 9; i++) {
        if ((i == 2 || i == 3) && o[i] == Py_None) { memset(&b[i], 0, sizeof b[i]); continue; }
        if (i == 7) {  /* ends: any length */
            if (PyObject_GetBuffer(o[i], &be, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) goto fail;
            b[i] = be;
            if (be.len % 8 || be.len == 0) {
                PyErr_SetString(PyExc_ValueError, "ends: expected int64 items");
                got = i + 1;
                goto fail;
            }
        } else if (get_buf(o[i], &b[i], i >= 4, isz[i], cnt[i], what[i]) < 0) {
            goto fail;
        }
        got = i + 1;
    }
    const int64_t *indptr = b[0].buf;
    const int32_t *tgt = b[1].buf;
    const uint8_t *ba = b[2].buf, *bb = b[3].buf;
    uint64_t *seen = b[4].buf, *fresh = b[5].buf;
    int32_t *queue = b[6].buf;
    int64_t *ends = b[7].buf, nmax = b[7].len / 8;
    int64_t *st = b[8].buf;
    int64_t head = st[HEAD], tail = st[TAIL], lend = st[LEVEL_END], nends = st[NENDS];
    int64_t lo = st[LO], hi = st[HI];
    int bad = head < 0 || tail < head || tail > n || lend < head || lend > tail || nends < 0 ||
              nends > nmax;
    int done = 0;
    Py_BEGIN_ALLOW_THREADS
    int64_t edges = 0;
    while (!bad) {
        if (head == lend) {  /* the level is expanded: the next one is queue[lend:tail] */
            if (tail == lend) { done = 1; break; }
            if (nends == nmax) break;
            if (lo < 0 || hi >= n || lo > hi) { bad = 1; break; }
            if (sort_level(queue + lend, tail - lend, fresh, lo, hi) != tail - lend) {
                bad = 1;
                break;
            }
            ends[nends++] = tail;
            lend = tail;
            lo = INT32_MAX;
            hi = -1;
        }
        if (edges >= max_edges) break;
        int32_t u = queue[head++];
        if (u < 0 || u >= n) { bad = 1; break; }
        if ((ba && ba[u]) || (bb && bb[u])) continue;
        int64_t s = indptr[u], e = indptr[u + 1];
        if (s < 0 || e < s || e > m) { bad = 1; break; }
        edges += e - s + 1;
        for (int64_t p = s; p < e; p++) {
            int32_t v = tgt[p];
            if (v < 0) continue;
            if (v >= n) { bad = 1; break; }
            uint64_t bit = 1ull << (v & 63);
            if (seen[v >> 6] & bit) continue;
            if (tail >= n) { bad = 1; break; }  /* (only when seen and queue disagree) */
            seen[v >> 6] |= bit;
            fresh[v >> 6] |= bit;
            queue[tail++] = v;
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
    }
    Py_END_ALLOW_THREADS
    st[HEAD] = head; st[TAIL] = tail; st[LEVEL_END] = lend; st[NENDS] = nends;
    st[LO] = lo; st[HI] = hi;
    for (int i = 0; i < got; i++)
        if (b[i].obj) PyBuffer_Release(&b[i]);
    if (bad) { PyErr_SetString(PyExc_ValueError, "inconsistent graph arrays"); return NULL; }
    return PyBool_FromLong(done);
fail:
    for (int i = 0; i < got; i++)
        if (b[i].obj) PyBuffer_Release(&b[i]);
    return NULL;
}

PyObject *py_find_in_levels(PyObject *self, PyObject *args) {
    PyObject *o[4];
    Py_ssize_t count, n, k;
    if (!PyArg_ParseTuple(args, "OnOOOnn", &o[0], &count, &o[1], &o[2], &o[3], &n, &k))
        return NULL;
    if (count < 0 || count > n || k < 0) {
        PyErr_SetString(PyExc_ValueError, "bad sizes");
        return NULL;
    }
    Py_buffer b[4];
    int got = 0;
    if (get_buf(o[0], &b[0], 0, 4, n, "queue") < 0) goto fail;
    got++;
    if (get_buf(o[1], &b[1], 0, 8, k, "nodes") < 0) goto fail;
    got++;
    if (get_buf(o[2], &b[2], 1, 8, k, "positions") < 0) goto fail;
    got++;
    if (get_buf(o[3], &b[3], 1, 8, (n + 63) / 64, "scratch") < 0) goto fail;
    got++;
    const int32_t *queue = b[0].buf;
    const int64_t *nodes = b[1].buf;
    int64_t *pos = b[2].buf;
    /* A bitmap of the nodes asked for, so that most of the queue is passed over without a
       search. */
    uint64_t *want = b[3].buf;
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < k; i++) {
        pos[i] = -1;
        if (nodes[i] < 0 || nodes[i] >= n || (i && nodes[i] <= nodes[i - 1])) bad = 1;
        else want[nodes[i] >> 6] |= 1ull << (nodes[i] & 63);
    }
    for (Py_ssize_t i = 0; !bad && i < count; i++) {
        int64_t v = queue[i];
        if (v < 0 || v >= n) { bad = 1; break; }
        if (!(want[v >> 6] >> (v & 63) & 1)) continue;
        Py_ssize_t a = 0, z = k;  /* the first node >= v */
        while (a < z) {
            Py_ssize_t mid = a + (z - a) / 2;
            if (nodes[mid] < v) a = mid + 1; else z = mid;
        }
        if (a < k && nodes[a] == v && pos[a] < 0) pos[a] = i;
    }
    for (Py_ssize_t i = 0; i < k; i++)
        if (nodes[i] >= 0 && nodes[i] < n) want[nodes[i] >> 6] = 0;
    Py_END_ALLOW_THREADS
    for (int i = 0; i < got; i++) PyBuffer_Release(&b[i]);
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "find_in_levels: bad queue or unsorted nodes");
        return NULL;
    }
    Py_RETURN_NONE;
fail:
    for (int i = 0; i < got; i++) PyBuffer_Release(&b[i]);
    return NULL;
}

/* Where v is in the sorted q[0:count], or -1. */
static int64_t find_sorted(const int32_t *q, int64_t count, int32_t v) {
    int64_t a = 0, z = count;
    while (a < z) {
        int64_t mid = a + (z - a) / 2;
        if (q[mid] < v) a = mid + 1; else z = mid;
    }
    return a < count && q[a] == v ? a : -1;
}

/* One step of a path: the lowest node of level[0:count] that u has an edge to and that was
   expanded, or -1 (-2: the arrays disagree). */
static int64_t step_down(int64_t u, const int32_t *level, int64_t count, const int64_t *indptr,
                         const int32_t *tgt, int64_t m, const int64_t *rstart,
                         const int32_t *rsrc, int64_t mr, const uint8_t *ba, const uint8_t *bb,
                         int64_t n) {
    int64_t s = indptr[u], e = indptr[u + 1];
    if (s < 0 || e < s || e > m) return -2;
    if (e - s <= 4096 || e - s <= count) {  /* u's own edges, every one: the lowest match */
        int64_t best = -1;
        for (int64_t p = s; p < e; p++) {
            int32_t v = tgt[p];
            if (v < 0 || v >= n || (best >= 0 && v >= best)) continue;
            if (find_sorted(level, count, v) < 0) continue;
            if ((ba && ba[v]) || (bb && bb[v])) continue;  /* not expanded: reached nothing */
            best = v;  /* (the flags read last: a page of them each, for the few in the level) */
        }
        return best;
    }
    for (int64_t i = 0; i < count; i++) {  /* the level's nodes in order: the first pointed at */
        int32_t v = level[i];
        if (v < 0 || v >= n) return -2;
        if ((ba && ba[v]) || (bb && bb[v])) continue;
        int64_t rs = rstart[v], re = rstart[v + 1];
        if (rs < 0 || re < rs || re > mr) return -2;
        for (int64_t p = rs; p < re; p++)
            if (rsrc[p] == u) return v;
    }
    return -1;
}

PyObject *py_level_path(PyObject *self, PyObject *args) {
    PyObject *o[8];
    Py_ssize_t node, level, n, m, mr, nb;
    if (!PyArg_ParseTuple(args, "OOOOOOOOnnnnnn", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5],
                          &o[6], &o[7], &node, &level, &n, &m, &mr, &nb))
        return NULL;
    if (n < 0 || n >= INT32_MAX || m < 0 || mr < 0 || nb < 1 || node < 0 || node >= n ||
        level < 0 || level + 1 >= nb) {
        PyErr_SetString(PyExc_ValueError, "bad sizes");
        return NULL;
    }
    Py_buffer b[8];
    const char *what[8] = {"indptr", "targets", "rstart", "rsrc", "blocked", "blocked", "queue",
                           "bounds"};
    Py_ssize_t isz[8] = {8, 4, 8, 4, 1, 1, 4, 8}, cnt[8] = {n + 1, m, n + 1, mr, n, n, n, nb};
    int got = 0;
    for (int i = 0; i < 8; i++) {
        if ((i == 4 || i == 5) && o[i] == Py_None) { memset(&b[i], 0, sizeof b[i]); continue; }
        if (get_buf(o[i], &b[i], 0, isz[i], cnt[i], what[i]) < 0) goto fail;
        got = i + 1;
    }
    const int64_t *indptr = b[0].buf, *rstart = b[2].buf, *bounds = b[7].buf;
    const int32_t *tgt = b[1].buf, *rsrc = b[3].buf, *queue = b[6].buf;
    const uint8_t *ba = b[4].buf, *bb = b[5].buf;
    int64_t *path = malloc(((size_t)level + 1) * sizeof(int64_t));
    if (!path) {
        for (int i = 0; i < got; i++)
            if (b[i].obj) PyBuffer_Release(&b[i]);
        return PyErr_NoMemory();
    }
    int bad = 0;
    int64_t u = node;
    path[0] = u;
    Py_BEGIN_ALLOW_THREADS
    for (int64_t k = level; k > 0; k--) {
        int64_t lo = bounds[k - 1], hi = bounds[k];
        if (lo < 0 || hi < lo || hi > n) { bad = 1; break; }
        u = step_down(u, queue + lo, hi - lo, indptr, tgt, m, rstart, rsrc, mr, ba, bb, n);
        if (u < 0) { bad = 1; break; }
        path[level - k + 1] = u;
    }
    Py_END_ALLOW_THREADS
    for (int i = 0; i < got; i++)
        if (b[i].obj) PyBuffer_Release(&b[i]);
    PyObject *out = NULL;
    if (bad) PyErr_SetString(PyExc_ValueError, "level_path: the levels and the edges disagree");
    else out = PyBytes_FromStringAndSize((const char *)path, (Py_ssize_t)((level + 1) * 8));
    free(path);
    return out;
fail:
    for (int i = 0; i < got; i++)
        if (b[i].obj) PyBuffer_Release(&b[i]);
    return NULL;
}
