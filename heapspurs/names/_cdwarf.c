/* _cdwarf: one pass over a Go binary's .debug_info that keeps what heapspurs types heaps with.
 *
 * The concept: a DIE walker. It decodes the abbreviation tables and every DIE of every unit
 * without building an object per DIE, and keeps
 *   - type DIEs (struct, pointer, array, base, typedef, subroutine, unspecified) with their name,
 *     size, reflect kind (0x2900), target/element references and runtime type offset (0x2904),
 *   - their members (name, offset, type reference) and array counts (subrange DW_AT_count),
 *   - global variables (DW_TAG_variable under a unit, located by a DW_OP_addr block),
 *   - stack locals and parameters with a location list (.debug_loc for DWARF 4,
 *     .debug_loclists for DWARF 5), decoded into pc ranges and pieces (variable offset, size,
 *     frame-base offset or register), optionally only those live at one of a sorted set of pcs,
 *   - unit-level functions (name, entry pc, declaration line, abstract origin, inline and
 *     trampoline flags) and their direct children: variables with their closure offset (0x2907),
 *     parameters, inlined calls — what closures and defer/go wrappers are laid out from.
 * This file is the module; cdwarf.h lists the others, one concept each.
 * heapspurs/names/dwarf_reference.py (pyelftools) is the specification: the same DIEs kept, the
 * same values, in the same order; tests compare the two on every test binary.
 *
 * Untrusted input: every read is bounds-checked, no allocation is sized by a length field (tables
 * grow with what was actually decoded), nesting depth is capped, and a location list ends at the
 * end of its section. Corrupt data raises ValueError naming the section offset; DWARF this walker
 * does not decode (type units, string/location indexes) raises NotImplementedError so that the
 * caller can fall back to the reference reader.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cdwarf.h"

/* ---- Python ---- */
static PyObject *vec_bytes(const Vec *v) {
    return PyBytes_FromStringAndSize((const char *)v->v, (Py_ssize_t)(v->n * sizeof(int64_t)));
}

static PyObject *py_walk(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer b[7];
    PyObject *pcs_obj;
    long long rt_base;
    memset(b, 0, sizeof b);
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*y*LO", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
                          &b[6], &rt_base, &pcs_obj))
        return NULL;
    Ctx c;
    memset(&c, 0, sizeof c);
    Sec *secs[7] = {&c.info, &c.abbrev, &c.str, &c.line_str, &c.addr, &c.loc, &c.loclists};
    for (int k = 0; k < 7; k++) {
        secs[k]->b = b[k].buf;
        secs[k]->n = (size_t)b[k].len;
    }
    c.rt_base = rt_base;
    Py_buffer pb;
    memset(&pb, 0, sizeof pb);
    PyObject *result = NULL;
    if (pcs_obj != Py_None) {
        if (PyObject_GetBuffer(pcs_obj, &pb, PyBUF_SIMPLE) < 0) goto done;
        c.have_pcs = 1;
        c.pcs = pb.buf;
        c.npcs = (size_t)pb.len / sizeof(uint64_t);
    }
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = walk(&c);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        PyErr_SetString(c.unsupported ? PyExc_NotImplementedError : PyExc_ValueError, c.msg);
        goto done;
    }
    result = Py_BuildValue("(NNNNNNNNN)", vec_bytes(&c.types), vec_bytes(&c.members),
                           vec_bytes(&c.globals), vec_bytes(&c.locals), vec_bytes(&c.ranges),
                           vec_bytes(&c.pieces),
                           PyBytes_FromStringAndSize(c.names.v, (Py_ssize_t)c.names.n),
                           vec_bytes(&c.funcs), vec_bytes(&c.vars));
done:
    if (c.have_pcs) PyBuffer_Release(&pb);
    for (int k = 0; k < 7; k++) PyBuffer_Release(&b[k]);
    free(c.types.v);
    free(c.members.v);
    free(c.globals.v);
    free(c.locals.v);
    free(c.ranges.v);
    free(c.pieces.v);
    free(c.names.v);
    free(c.funcs.v);
    free(c.vars.v);
    return result;
}

static PyMethodDef methods[] = {
    {"walk", py_walk, METH_VARARGS,
     "walk(info, abbrev, str, line_str, addr, loc, loclists, runtime_types, pcs) -> (types, "
     "members, globals, locals, ranges, pieces, names, funcs, vars): int64 rows as bytes (see "
     "cdwarf_walk.c); "
     "runtime_types is runtime.types' address or -1; pcs a sorted uint64 buffer (keep only "
     "locals live at one of them) or None (keep all)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_cdwarf",
                                    "Native DIE walker for Go binaries' DWARF (see _cdwarf.c).",
                                    -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__cdwarf(void) { return PyModule_Create(&module); }
