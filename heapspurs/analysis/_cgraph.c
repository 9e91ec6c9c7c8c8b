/*
 * Graph walks over the heap index, in native code (millions of nodes):
 *
 *   bfs(...)         breadth-first parents from a set of sources (anchors, reachability, paths
 *                    to roots), optionally not expanding blocked nodes.
 *   walk_levels(...) the same kept as sorted levels, for one object's question (cgraph_levels.c)
 *   dominators(...)  Lengauer-Tarjan dominator tree from a virtual super-root whose successors
 *                    are the objects the roots point at, and each object's retained size (the
 *                    sizes of the objects it dominates, itself included).
 *   labels(...)      which single root group reaches each object (or several / none): the
 *                    groups (a global, a stack, a finalizer) that dominate objects.
 *
 * Nodes are object ids 0..n-1; edges are CSR (indptr[n+1], targets[m]; negative targets are
 * ignored); blocked nodes (phantoms) are never expanded. Everything is iterative: heap graphs
 * have paths millions of nodes long.
 */
#include "cgraph.h"
#include <stdlib.h>
#include <string.h>

#define UNREACHED (-1)
#define SUPER_ROOT (-2)
#define MULTI (-2)

int get_buf(PyObject *o, Py_buffer *b, int writable, Py_ssize_t itemsize, Py_ssize_t n,
            const char *what) {
    if (PyObject_GetBuffer(o, b, (writable ? PyBUF_WRITABLE : 0) | PyBUF_C_CONTIGUOUS) < 0)
        return -1;
    if (b->len != itemsize * n) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd bytes, got %zd", what, itemsize * n,
                     b->len);
        PyBuffer_Release(b);
        return -1;
    }
    return 0;
}

typedef struct {
    int32_t *semi, *anc, *label, *stack;
} Forest;

/* eval() of Lengauer-Tarjan with path compression, iterative. Indices are DFS numbers. */
static int32_t eval(Forest *f, int32_t v) {
    if (f->anc[v] < 0) return v;
    int32_t top = 0, x = v;
    while (f->anc[f->anc[x]] >= 0) {  /* collect the path whose links can be compressed */
        f->stack[top++] = x;
        x = f->anc[x];
    }
    while (top > 0) {  /* from the one nearest the forest root down to v */
        x = f->stack[--top];
        int32_t a = f->anc[x];
        if (f->semi[f->label[a]] < f->semi[f->label[x]]) f->label[x] = f->label[a];
        f->anc[x] = f->anc[a];
    }
    return f->label[v];
}

/*
 * dominators(indptr, targets, rstart, rsrc, rooted, blocked, sizes, idom, retained, n, m, mr,
 *            nrooted[, work]) -> (reached objects, reached bytes)
 * work: a writable buffer of 53 bytes per node plus 53 for the super-root, for the working
 * arrays (else they are allocated here).
 * rooted: int32[nrooted] objects the super-root points at; rstart/rsrc: the reverse CSR of the
 * same edges (rsrc[rstart[v]:rstart[v+1]] point at v; edges from blocked nodes left out);
 * blocked: uint8[n] or None. Fills idom[n] (int32: the immediate dominator, SUPER_ROOT, or
 * UNREACHED) and retained[n] (uint64: 0 for unreached objects).
 */
static PyObject *py_dominators(PyObject *self, PyObject *args) {
    PyObject *o[9], *o_work = Py_None;
    Py_ssize_t n, m, mr, nrooted;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOnnnn|O", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5],
                          &o[6], &o[7], &o[8], &n, &m, &mr, &nrooted, &o_work))
        return NULL;
    if (n < 0 || n >= INT32_MAX - 1 || m < 0 || mr < 0 || nrooted < 0) {
        PyErr_SetString(PyExc_ValueError, "bad sizes");
        return NULL;
    }
    Py_buffer b[9];
    int got = 0, has_blk = o[5] != Py_None;
    const char *what[9] = {"indptr", "targets", "rstart", "rsrc", "rooted", "blocked", "sizes",
                           "idom", "retained"};
    Py_ssize_t isz[9] = {8, 4, 8, 4, 4, 1, 8, 4, 8};
    Py_ssize_t cnt[9] = {n + 1, m, n + 1, mr, nrooted, n, n, n, n};
    for (int i = 0; i < 9; i++) {
        if (i == 5 && !has_blk) { memset(&b[i], 0, sizeof b[i]); continue; }
        if (get_buf(o[i], &b[i], i >= 7, isz[i], cnt[i], what[i]) < 0) goto fail;
        got = i + 1;
    }
    const int64_t *indptr = b[0].buf, *rstart = b[2].buf;
    const int32_t *targets = b[1].buf, *rsrc = b[3].buf, *rooted = b[4].buf;
    const uint8_t *blocked = has_blk ? b[5].buf : NULL;
    const uint64_t *sizes = b[6].buf;
    int32_t *idom_out = b[7].buf;
    uint64_t *retained = b[8].buf;

    int32_t N = (int32_t)n + 1, R = (int32_t)n; /* node n is the super-root */
    /* The working arrays: 11 of int32, one of int64, one of flags per node, from the caller's
       ``work`` buffer (e.g. a file mapping kept within a memory budget) or allocated here. */
    size_t per_node = 11 * sizeof(int32_t) + sizeof(int64_t) + 1;
    Py_buffer bw;
    int has_work = o_work != Py_None;
    char *block = NULL;
    if (has_work) {
        if (get_buf(o_work, &bw, 1, 1, (Py_ssize_t)(per_node * (size_t)N), "work") < 0)
            goto fail;
        block = bw.buf;
    } else {
        block = PyMem_RawMalloc(per_node * (size_t)N);
    }
    int64_t *spos = (int64_t *)block;
    int32_t *arr = (int32_t *)(block + sizeof(int64_t) * (size_t)N);
    int32_t *dfn = arr, *vertex = arr + (size_t)N, *parent = arr + 2 * (size_t)N,
            *semi = arr + 3 * (size_t)N, *anc = arr + 4 * (size_t)N, *label = arr + 5 * (size_t)N,
            *idom = arr + 6 * (size_t)N, *bhead = arr + 7 * (size_t)N, *bnext = arr + 8 * (size_t)N,
            *cstack = arr + 9 * (size_t)N, *snode = arr + 10 * (size_t)N;
    uint8_t *is_rooted = (uint8_t *)(arr + 11 * (size_t)N);
    int bad = 0, nomem = block == NULL;
    if (!nomem) memset(is_rooted, 0, (size_t)N);
    int32_t count = 0;
    uint64_t total = 0;
    if (!nomem) {
        Py_BEGIN_ALLOW_THREADS
        for (int32_t i = 0; i < N; i++) dfn[i] = -1, bhead[i] = -1, anc[i] = -1;
        for (Py_ssize_t i = 0; i < nrooted; i++) {
            if (rooted[i] < 0 || rooted[i] >= n) { bad = 1; break; }
            is_rooted[rooted[i]] = 1;
        }
        /* 1. Depth-first numbering from the super-root (explicit stack). */
        if (!bad) {
            int32_t top = 0;
            dfn[R] = 0; vertex[0] = R; parent[0] = -1; count = 1;
            snode[0] = R; spos[0] = 0; top = 1;
            while (top > 0 && !bad) {
                int32_t u = snode[top - 1];
                int32_t next = -1;
                if (u == R) {
                    while (spos[top - 1] < nrooted) {
                        int32_t t = rooted[spos[top - 1]++];
                        if (dfn[t] < 0) { next = t; break; }
                    }
                } else if (!(blocked && blocked[u])) {
                    int64_t end = indptr[u + 1];
                    if (spos[top - 1] == 0) spos[top - 1] = indptr[u];
                    if (indptr[u] < 0 || end < indptr[u] || end > m) { bad = 1; break; }
                    while (spos[top - 1] < end) {
                        int32_t t = targets[spos[top - 1]++];
                        if (t >= n) { bad = 1; break; }
                        if (t >= 0 && dfn[t] < 0) { next = t; break; }
                    }
                }
                if (next < 0) { top--; continue; }
                dfn[next] = count; vertex[count] = next; parent[count] = dfn[u]; count++;
                snode[top] = next; spos[top] = 0; top++;
            }
        }
        /* 2. Semi-dominators and implicit immediate dominators, in reverse DFS order. */
        Forest f = {semi, anc, label, cstack};
        for (int32_t i = 0; i < count && !bad; i++) semi[i] = i, label[i] = i, idom[i] = 0;
        for (int32_t i = count - 1; i >= 1 && !bad; i--) {
            int32_t w = vertex[i];
            if (is_rooted[w] && semi[i] > 0) semi[i] = 0;  /* predecessor: the super-root */
            int64_t s = rstart[w], e = rstart[w + 1];
            if (s < 0 || e < s || e > mr) { bad = 1; break; }
            for (int64_t k = s; k < e; k++) {
                int32_t v = rsrc[k];
                if (v < 0 || v >= n) { bad = 1; break; }
                if (dfn[v] < 0) continue;
                int32_t u = eval(&f, dfn[v]);
                if (semi[u] < semi[i]) semi[i] = semi[u];
            }
            bnext[i] = bhead[semi[i]]; bhead[semi[i]] = i;
            int32_t p = parent[i];
            anc[i] = p;  /* link */
            for (int32_t v = bhead[p]; v >= 0; v = bnext[v]) {
                int32_t u = eval(&f, v);
                idom[v] = semi[u] < semi[v] ? u : p;
            }
            bhead[p] = -1;
        }
        /* 3. Explicit immediate dominators, in DFS order. */
        for (int32_t i = 1; i < count && !bad; i++)
            if (idom[i] != semi[i]) idom[i] = idom[idom[i]];
        /* 4. Results per object, retained sizes bottom-up (children have larger DFS numbers). */
        if (!bad) {
            for (Py_ssize_t v = 0; v < n; v++) {
                idom_out[v] = UNREACHED;
                retained[v] = 0;
            }
            for (int32_t i = 1; i < count; i++) {
                int32_t v = vertex[i], d = vertex[idom[i]];
                idom_out[v] = d == R ? SUPER_ROOT : d;
                retained[v] = sizes[v];
                total += sizes[v];
            }
            for (int32_t i = count - 1; i >= 1; i--) {
                int32_t d = vertex[idom[i]];
                if (d != R) retained[d] += retained[vertex[i]];
            }
        }
        Py_END_ALLOW_THREADS
    }
    if (has_work) PyBuffer_Release(&bw);
    else PyMem_RawFree(block);
    for (int i = 0; i < got; i++) if (b[i].obj) PyBuffer_Release(&b[i]);
    if (nomem) return PyErr_NoMemory();
    if (bad) { PyErr_SetString(PyExc_ValueError, "inconsistent graph arrays"); return NULL; }
    return Py_BuildValue("(nK)", (Py_ssize_t)(count > 0 ? count - 1 : 0),
                         (unsigned long long)total);
fail:
    for (int i = 0; i < got; i++) if (b[i].obj) PyBuffer_Release(&b[i]);
    return NULL;
}

/*
 * labels(indptr, targets, blocked, seed_obj, seed_group, out, n, m, k[, queue]): out[v] = the group of
 * the seeds that reach v if exactly one group does, MULTI (-2) if several, -1 if none. Each
 * node is queued at most twice (once per label change), so this is O(n + m); the queue (int32[2n+1])
 * is the caller's or allocated here.
 */
static PyObject *py_labels(PyObject *self, PyObject *args) {
    PyObject *o[6], *o_queue = Py_None;
    Py_ssize_t n, m, k;
    if (!PyArg_ParseTuple(args, "OOOOOOnnn|O", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &n, &m,
                          &k, &o_queue))
        return NULL;
    if (n < 0 || n >= INT32_MAX / 2 || m < 0 || k < 0) {
        PyErr_SetString(PyExc_ValueError, "bad sizes");
        return NULL;
    }
    Py_buffer b[6];
    int got = 0, has_blk = o[2] != Py_None;
    const char *what[6] = {"indptr", "targets", "blocked", "seed_obj", "seed_group", "out"};
    Py_ssize_t isz[6] = {8, 4, 1, 8, 4, 4};
    Py_ssize_t cnt[6] = {n + 1, m, n, k, k, n};
    for (int i = 0; i < 6; i++) {
        if (i == 2 && !has_blk) { memset(&b[i], 0, sizeof b[i]); continue; }
        if (get_buf(o[i], &b[i], i == 5, isz[i], cnt[i], what[i]) < 0) goto fail;
        got = i + 1;
    }
    const int64_t *indptr = b[0].buf, *seed_obj = b[3].buf;
    const int32_t *targets = b[1].buf, *seed_group = b[4].buf;
    const uint8_t *blocked = has_blk ? b[2].buf : NULL;
    int32_t *out = b[5].buf;
    Py_buffer bq;
    int own_queue = o_queue == Py_None;
    int32_t *queue = NULL;
    if (!own_queue) {
        if (get_buf(o_queue, &bq, 1, 4, 2 * n + 1, "queue") < 0) goto fail;
        queue = bq.buf;
    } else {
        queue = PyMem_RawMalloc(sizeof(int32_t) * (size_t)(2 * n + 1));
    }
    int bad = 0;
    if (queue) {
        Py_BEGIN_ALLOW_THREADS
        Py_ssize_t head = 0, tail = 0;
        for (Py_ssize_t v = 0; v < n; v++) out[v] = -1;
        for (Py_ssize_t i = 0; i < k && !bad; i++) {
            int64_t v = seed_obj[i];
            int32_t g = seed_group[i];
            if (v < 0 || v >= n || g < 0) { bad = 1; break; }
            if (out[v] == -1) { out[v] = g; queue[tail++] = (int32_t)v; }
            else if (out[v] != g && out[v] != MULTI) { out[v] = MULTI; queue[tail++] = (int32_t)v; }
        }
        while (head < tail && !bad) {
            int32_t u = queue[head++];
            if (blocked && blocked[u]) continue;
            int32_t lab = out[u];
            int64_t s = indptr[u], e = indptr[u + 1];
            if (s < 0 || e < s || e > m) { bad = 1; break; }
            for (int64_t j = s; j < e; j++) {
                int32_t t = targets[j];
                if (t < 0) continue;
                if (t >= n) { bad = 1; break; }
                if (out[t] == -1) { out[t] = lab; queue[tail++] = t; }
                else if (out[t] != lab && out[t] != MULTI) { out[t] = MULTI; queue[tail++] = t; }
            }
        }
        Py_END_ALLOW_THREADS
    }
    if (own_queue) PyMem_RawFree(queue);
    else PyBuffer_Release(&bq);
    for (int i = 0; i < got; i++) if (b[i].obj) PyBuffer_Release(&b[i]);
    if (!queue) return PyErr_NoMemory();
    if (bad) { PyErr_SetString(PyExc_ValueError, "inconsistent graph arrays"); return NULL; }
    Py_RETURN_NONE;
fail:
    for (int i = 0; i < got; i++) if (b[i].obj) PyBuffer_Release(&b[i]);
    return NULL;
}

/*
 * bfs(indptr, targets, sources, blocked, parent, n, m, nsources[, queue]): breadth-first search from ``sources``
 * over CSR edges (``targets[indptr[u]:indptr[u+1]]``, negative entries ignored). parent[v] is
 * the node v was reached from (-2 for sources, -1 if unreached); nodes flagged in ``blocked``
 * (a bytes-like of n flags, or None) are reached but not expanded. O(n) extra memory: the queue
 * (int32[n]), the caller's or allocated here.
 */
static PyObject *py_bfs(PyObject *self, PyObject *args) {
    PyObject *o_ptr, *o_tgt, *o_src, *o_blk, *o_par, *o_queue = Py_None;
    Py_ssize_t n, m, ns;
    if (!PyArg_ParseTuple(args, "OOOOOnnn|O", &o_ptr, &o_tgt, &o_src, &o_blk, &o_par, &n, &m, &ns,
                          &o_queue))
        return NULL;
    Py_buffer b[6];
    int got = 0;
    if (get_buf(o_ptr, &b[0], 0, 8, n + 1, "indptr") < 0) goto fail;
    got++;
    if (get_buf(o_tgt, &b[1], 0, 4, m, "targets") < 0) goto fail;
    got++;
    if (get_buf(o_src, &b[2], 0, 8, ns, "sources") < 0) goto fail;
    got++;
    if (get_buf(o_par, &b[3], 1, 8, n, "parent") < 0) goto fail;
    got++;
    int has_blk = o_blk != Py_None;
    if (has_blk) { if (get_buf(o_blk, &b[4], 0, 1, n, "blocked") < 0) goto fail; got++; }
    const int64_t *indptr = b[0].buf;
    const int32_t *tgt = b[1].buf;
    const int64_t *src = b[2].buf;
    int64_t *parent = b[3].buf;
    const uint8_t *blk = has_blk ? b[4].buf : NULL;
    int bad = 0, own_queue = o_queue == Py_None;
    int32_t *queue = NULL;
    if (!own_queue) {
        if (get_buf(o_queue, &b[got], 1, 4, n, "queue") < 0) goto fail;
        queue = b[got++].buf;
    } else {
        queue = PyMem_RawMalloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
    }
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
    if (own_queue) PyMem_RawFree(queue);
    for (int i = 0; i < got; i++) PyBuffer_Release(&b[i]);
    if (bad) { PyErr_SetString(PyExc_ValueError, "inconsistent graph arrays"); return NULL; }
    Py_RETURN_NONE;
fail:
    for (int i = 0; i < got; i++) PyBuffer_Release(&b[i]);
    return NULL;
}

static PyMethodDef methods[] = {
    {"walk_levels", py_walk_levels, METH_VARARGS,
     "walk_levels(indptr, targets, blocked_a, blocked_b, seen, fresh, queue, ends, state, n, m, "
     "max_edges) -> True when the walk is over"},
    {"find_in_levels", py_find_in_levels, METH_VARARGS,
     "find_in_levels(queue, count, nodes, positions, scratch, n, k): where sorted nodes are in the "
     "queue"},
    {"level_path", py_level_path, METH_VARARGS,
     "level_path(indptr, targets, rstart, rsrc, blocked_a, blocked_b, queue, bounds, node, level, "
     "n, m, mr, nb) -> int64 path as bytes"},
    {"bfs", py_bfs, METH_VARARGS,
     "bfs(indptr, targets, sources, blocked, parent, n, m, nsources): BFS parents in place"},
    {"dominators", py_dominators, METH_VARARGS,
     "dominators(indptr, targets, rstart, rsrc, rooted, blocked, sizes, idom, retained, n, m, mr, "
     "nrooted[, work]) -> (reached objects, reached bytes)"},
    {"labels", py_labels, METH_VARARGS,
     "labels(indptr, targets, blocked, seed_obj, seed_group, out, n, m, k)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_cgraph", "Graph walks over the heap index: BFS, dominator tree, root-group labels.",
    -1, methods,
};

PyMODINIT_FUNC PyInit__cgraph(void) { return PyModule_Create(&module); }
