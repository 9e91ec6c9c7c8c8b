/*
 * phantoms(): which dumped objects are reserved span tails (see heapspurs/index/geometry.py).
 */
#include "cscan.h"

/*
 * phantoms(addr, pstart, size, out, n, npages, heap_bits_reserve, green_tea_reserve): out[i] = 1
 * when object i (sorted by address) is a reserved span tail, the rule of
 * heapspurs/index/geometry.py phantom_mask (its numpy form is the specification): a small
 * object (<= 512 B) is a phantom when it ends past 8192 - reserve in its page, the reserve being
 * the heap bits of a page holding pointerful small objects plus the inline mark bits of small
 * objects of 16 B or more. npages: pages from the first object's to the last's, plus one.
 */
PyObject *py_phantoms(PyObject *self, PyObject *args) {
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
