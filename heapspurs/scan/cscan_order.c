/*
 * rank_by_page(): address order by a counting sort on 8 KiB pages. The runtime dumps a span's
 * objects in ascending order and a page belongs to one span, so sorting the objects by the page
 * they start on, keeping file order within a page, is sorting them by address (ties in file
 * order, as a stable sort does). It checks that premise as it goes, and needs memory for the
 * pages only, not a sort's temporaries per object.
 */
#include "cscan.h"

/*
 * rank_by_page(addr, count, rank, pstart, n, lo_page, npages) -> bool: for the objects in file
 * order (addr[i], count[i] pointer slots), rank[i] = position of object i in address order and
 * pstart (n + 1) = the CSR starts of their pointer slots in that order. False (the arrays are
 * then unspecified) when some page's objects are not ascending in file order, or an address
 * lies outside [lo_page, lo_page + npages) pages: the caller sorts instead.
 */
PyObject *py_rank_by_page(PyObject *self, PyObject *args) {
    PyObject *oa, *oc, *or_, *op;
    Py_ssize_t n, npages;
    unsigned long long lo_page;
    if (!PyArg_ParseTuple(args, "OOOOnKn", &oa, &oc, &or_, &op, &n, &lo_page, &npages))
        return NULL;
    if (n < 0 || npages < 1 || npages > ((Py_ssize_t)1 << 30)) {
        PyErr_SetString(PyExc_ValueError, "bad object or page count");
        return NULL;
    }
    Py_buffer ba, bc, br, bp;
    if (get_buf(oa, &ba, 0, 8, n) < 0) return NULL;
    if (get_buf(oc, &bc, 0, 4, n) < 0) { PyBuffer_Release(&ba); return NULL; }
    if (get_buf(or_, &br, 1, 8, n) < 0) {
        PyBuffer_Release(&ba); PyBuffer_Release(&bc); return NULL;
    }
    if (get_buf(op, &bp, 1, 8, n + 1) < 0) {
        PyBuffer_Release(&ba); PyBuffer_Release(&bc); PyBuffer_Release(&br); return NULL;
    }
    const uint64_t *addr = ba.buf;
    const uint32_t *count = bc.buf;
    int64_t *rank = br.buf, *pstart = bp.buf;
    /* Per page: the next free position (after counting), and the last address placed. */
    int64_t *cursor = PyMem_RawCalloc((size_t)npages + 1, sizeof(int64_t));
    uint64_t *last = PyMem_RawCalloc((size_t)npages, sizeof(uint64_t));
    int ok = cursor && last;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; ok && i < n; i++) {
        uint64_t p = (addr[i] >> 13) - lo_page;
        if ((addr[i] >> 13) < lo_page || p >= (uint64_t)npages) ok = 0;
        else cursor[p + 1]++;
    }
    for (Py_ssize_t p = 0; ok && p < npages; p++) cursor[p + 1] += cursor[p];
    if (ok) pstart[0] = 0;
    for (Py_ssize_t i = 0; ok && i < n; i++) {
        uint64_t p = (addr[i] >> 13) - lo_page;
        if (addr[i] < last[p]) { ok = 0; break; }
        last[p] = addr[i];
        int64_t r = cursor[p]++;
        rank[i] = r;
        pstart[r + 1] = count[i];
    }
    for (Py_ssize_t i = 0; ok && i < n; i++) pstart[i + 1] += pstart[i];
    Py_END_ALLOW_THREADS
    int allocated = cursor && last;
    PyMem_RawFree(cursor);
    PyMem_RawFree(last);
    PyBuffer_Release(&ba); PyBuffer_Release(&bc); PyBuffer_Release(&br); PyBuffer_Release(&bp);
    if (!allocated) return PyErr_NoMemory();
    return PyBool_FromLong(ok);
}
