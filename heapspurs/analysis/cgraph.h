/*
 * cgraph.h: what the C files of the _cgraph extension share — the byte-buffer check of the
 * index arrays — and each file's entry points.
 *
 *   _cgraph.c          the module: bfs(), dominators(), labels(), and its method table
 *   cgraph_levels.c    walk_levels(), find_in_levels(), level_path(): a BFS kept as sorted levels in a
 *                      bitmap and one queue (a question about one object, in little memory)
 */
#ifndef HEAPSPURS_CGRAPH_H
#define HEAPSPURS_CGRAPH_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* A C-contiguous buffer of exactly n items of itemsize bytes (writable if asked), or -1 with a
   ValueError naming ``what``. */
int get_buf(PyObject *o, Py_buffer *b, int writable, Py_ssize_t itemsize, Py_ssize_t n,
            const char *what);

PyObject *py_walk_levels(PyObject *self, PyObject *args);
PyObject *py_find_in_levels(PyObject *self, PyObject *args);
PyObject *py_level_path(PyObject *self, PyObject *args);

#endif
