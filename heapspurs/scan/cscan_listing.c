/*
 * listing(): --find and the JSON listings (--find --json, --unreachable --json), objects
 * straight from the index arrays, in the lines of render/objects_view.py.
 */
#include "cscan.h"


/* One string per object: ids[o] (-1: none) indexes off[], offsets of NUL-terminated strings in
   blob. Text mode: the raw name; JSON mode: a ready JSON value (a quoted string, a list). */
typedef struct {
    const int32_t *ids;  /* NULL: no object has one */
    const int64_t *off;
    const char *blob;
    Py_ssize_t nlabels, blob_len;
} Column;

#define MAX_TABLES 4

typedef struct {
    int mode;  /* LIST_TEXT, LIST_JSON or LIST_ADDRESSES */
    const uint64_t *addr, *size, *pval;
    const int64_t *pstart;
    const char *poff;
    int poff_bytes;
    const int32_t *pdst;
    const uint8_t *phantom, *header;
    Py_ssize_t n, m;
    Column col[3];  /* name (--oid), type (--program), allocation site or stack */
    Names tables[MAX_TABLES];  /* pointer values are named by the first table holding them */
    int ntables;
} Listing;

/* Pointer slot p's offset in its object (the index keeps offsets as uint32 or uint64). */
static inline uint64_t slot_offset(const Listing *L, int64_t p) {
    return L->poff_bytes == 4 ? ((const uint32_t *)L->poff)[p] : ((const uint64_t *)L->poff)[p];
}

enum { LIST_TEXT = 0, LIST_JSON = 1, LIST_ADDRESSES = 2 };

/* The object's string in a column, or NULL; bad is set for an id past the labels. */
static const char *column_text(const Column *col, int64_t o, size_t *len, int *bad) {
    *len = 0;
    if (!col->ids || col->ids[o] < 0) return NULL;
    int32_t id = col->ids[o];
    if (id >= col->nlabels || col->off[id] < 0 || col->off[id] >= col->blob_len) {
        *bad = 1;
        return NULL;
    }
    const char *s = col->blob + col->off[id];
    *len = strnlen(s, (size_t)(col->blob_len - col->off[id]));
    return s;
}

static void put_column(Text *t, const Column *col, int64_t o, int *bad) {
    size_t len;
    const char *s = column_text(col, o, &len, bad);
    if (s) text_put(t, s, len);
    else PUT(t, "null");
}

/* The name of a pointer value, as names/naming.py value_names() gives it: the first table with
   a range holding the value. Returns the table (or -1) and its row in *row. */
static int value_table(const Listing *L, uint64_t v, Py_ssize_t *row) {
    for (int k = 0; k < L->ntables; k++) {
        *row = names_row(&L->tables[k], v);
        if (*row >= 0) return k;
    }
    return -1;
}

static int label_empty(const Names *nm, Py_ssize_t row, uint64_t v) {
    int64_t off = nm->label[row];
    return v == nm->start[row] && off >= 0 && off < nm->blob_len && nm->blob[off] == '\0';
}

/* One object in the lines of render/objects_view.py object_line() and object_pointer_lines(). */
static void list_text(Text *t, const Listing *L, int64_t o, int *bad) {
    int64_t s = L->pstart[o], e = L->pstart[o + 1];
    uint64_t base = L->addr[o];
    size_t len;
    const char *head = column_text(&L->col[0], o, &len, bad);
    if (!len) head = column_text(&L->col[1], o, &len, bad);
    if (len) text_put(t, head, len);
    else PUT(t, "Object");
    PUT(t, " @ ");
    text_hex(t, base);
    PUT(t, " with ");
    text_dec(t, (uint64_t)(e - s));
    PUT(t, " pointers in ");
    text_dec(t, L->size[o]);
    PUT(t, " bytes");
    const char *site = column_text(&L->col[2], o, &len, bad);
    if (len) {
        PUT(t, " (allocated at ");
        text_put(t, site, len);
        PUT(t, ")");
    }
    if (L->phantom[o]) PUT(t, " [phantom]");
    PUT(t, "\n");
    for (int64_t p = s; p < e && !t->failed; p++) {
        if (t->fd >= 0 && t->len >= t->limit) text_flush(t);
        uint64_t v = L->pval[p];
        if (!v) continue;
        uint64_t off = slot_offset(L, p);
        PUT(t, "  Pointer[");
        text_dec(t, (uint64_t)(p - s));
        PUT(t, "]@");
        text_hex(t, base + off);
        PUT(t, " = ");
        text_hex(t, v);
        Py_ssize_t row;
        int k = value_table(L, v, &row);
        if (k >= 0 && !label_empty(&L->tables[k], row, v)) {
            PUT(t, " (");
            put_label(t, &L->tables[k], row, v);
            PUT(t, ")");
        }
        PUT(t, "\n");
    }
}

/* One object as json.dumps() writes the dict of --find --json (objects_view.py object_json()
   with "pointers" replaced by the list of object_pointers_json(), then "pointer_count"). */
static void list_json(Text *t, const Listing *L, int64_t o, int *bad) {
    int64_t s = L->pstart[o], e = L->pstart[o + 1];
    uint64_t base = L->addr[o];
    PUT(t, "{\"address\": \"");
    text_hex(t, base);
    PUT(t, "\", \"size\": ");
    text_dec(t, L->size[o]);
    PUT(t, ", \"pointers\": [");
    int any = 0;
    for (int64_t p = s; p < e && !t->failed; p++) {
        if (t->fd >= 0 && t->len >= t->limit) text_flush(t);
        uint64_t v = L->pval[p];
        if (!v) continue;
        uint64_t off = slot_offset(L, p);
        if (any) PUT(t, ", ");
        any = 1;
        PUT(t, "{\"index\": ");
        text_dec(t, (uint64_t)(p - s));
        PUT(t, ", \"slot\": \"");
        text_hex(t, base + off);
        PUT(t, "\", \"value\": \"");
        text_hex(t, v);
        PUT(t, "\", \"name\": ");
        Py_ssize_t row;
        int k = value_table(L, v, &row);
        if (k >= 0) {
            PUT(t, "\"");
            put_label(t, &L->tables[k], row, v);
            PUT(t, "\"");
        } else {
            PUT(t, "null");
        }
        PUT(t, ", \"target\": ");
        int32_t d = L->pdst[p];
        if (d >= L->n) *bad = 1;
        if (d >= 0 && d < L->n) {
            PUT(t, "\"");
            text_hex(t, L->addr[d]);
            PUT(t, "\"}");
        } else {
            PUT(t, "null}");
        }
    }
    PUT(t, "], \"name\": ");
    put_column(t, &L->col[0], o, bad);
    PUT(t, ", \"type\": ");
    put_column(t, &L->col[1], o, bad);
    if (L->phantom[o]) PUT(t, ", \"phantom\": true, \"allocation\": ");
    else PUT(t, ", \"phantom\": false, \"allocation\": ");
    put_column(t, &L->col[2], o, bad);
    if (L->header[o]) {
        PUT(t, ", \"malloc_header\": true, \"data_address\": \"");
        text_hex(t, base + 8);
        PUT(t, "\"");
    } else {
        PUT(t, ", \"malloc_header\": false");
    }
    PUT(t, ", \"pointer_count\": ");
    text_dec(t, (uint64_t)(e - s));
    PUT(t, "}");
}

static int get_column(PyObject *arg, Column *col, Py_ssize_t n, Py_buffer *b, int *nbuf) {
    if (arg == Py_None) return 0;
    if (!PyTuple_Check(arg) || PyTuple_GET_SIZE(arg) != 3) {
        PyErr_SetString(PyExc_TypeError, "a column must be (ids, offsets, blob)");
        return -1;
    }
    if (PyTuple_GET_ITEM(arg, 0) != Py_None) {
        if (get_buf(PyTuple_GET_ITEM(arg, 0), &b[*nbuf], 0, 4, n) < 0) return -1;
        col->ids = b[(*nbuf)++].buf;
    }
    for (int i = 1; i < 3; i++, (*nbuf)++)
        if (PyObject_GetBuffer(PyTuple_GET_ITEM(arg, i), &b[*nbuf], PyBUF_C_CONTIGUOUS) < 0)
            return -1;
    col->off = b[*nbuf - 2].buf;
    col->nlabels = b[*nbuf - 2].len / 8;
    col->blob = b[*nbuf - 1].buf;
    col->blob_len = b[*nbuf - 1].len;
    return 0;
}

/*
 * listing(mode, objs, index, columns, tables, first, fd, limit) -> text: the objects ``objs``
 * (int64 ids) as --find prints them (mode 0), as the JSON objects of --find --json, each after a
 * newline and all but the first after a comma (mode 1), or as JSON address strings (mode 2; ``columns`` and ``tables`` unused).
 * ``index`` = (addr, size, pstart, poff, pval, pdst, phantom, header): the index's arrays;
 * ``columns`` = three (ids per object or None, label offsets, labels) or None: the object's
 * name, type and allocation; ``tables``: names tables (see format()) tried in order for pointer
 * values. ``first``: no comma before the first object. With ``fd`` >= 0 the text is written
 * there in ``limit``-sized pieces and the returned text is empty.
 */
PyObject *py_listing(PyObject *self, PyObject *args) {
    int mode, first, fd;
    Py_ssize_t limit;
    PyObject *objs_arg, *index_arg, *cols_arg, *tables_arg;
    if (!PyArg_ParseTuple(args, "iOOOOpin", &mode, &objs_arg, &index_arg, &cols_arg,
                          &tables_arg, &first, &fd, &limit))
        return NULL;
    if (mode < LIST_TEXT || mode > LIST_ADDRESSES || !PyTuple_Check(index_arg) ||
        PyTuple_GET_SIZE(index_arg) != 8 || !PyTuple_Check(cols_arg) ||
        PyTuple_GET_SIZE(cols_arg) != 3 || !PyTuple_Check(tables_arg) ||
        PyTuple_GET_SIZE(tables_arg) > MAX_TABLES) {
        PyErr_SetString(PyExc_TypeError, "listing: bad mode, index, columns or tables");
        return NULL;
    }
    Py_buffer b[1 + 8 + 3 * 3 + 4 * MAX_TABLES];
    int nbuf = 0;
    Listing L = {0};
    L.mode = mode;
    PyObject *ix[8];
    for (int i = 0; i < 8; i++) ix[i] = PyTuple_GET_ITEM(index_arg, i);
    Py_buffer probe;
    if (PyObject_GetBuffer(ix[0], &probe, PyBUF_SIMPLE) < 0) return NULL;
    L.n = probe.len / 8;
    PyBuffer_Release(&probe);
    if (PyObject_GetBuffer(ix[4], &probe, PyBUF_SIMPLE) < 0) return NULL;
    L.m = probe.len / 8;
    PyBuffer_Release(&probe);
    if (PyObject_GetBuffer(ix[3], &probe, PyBUF_SIMPLE) < 0) return NULL;
    L.poff_bytes = L.m && probe.len == L.m * 4 ? 4 : 8;
    PyBuffer_Release(&probe);
    Py_ssize_t items[8] = {8, 8, 8, L.poff_bytes, 8, 4, 1, 1};
    Py_ssize_t counts[8] = {L.n, L.n, L.n + 1, L.m, L.m, L.m, L.n, L.n};
    const void *ptrs[8];
    for (int i = 0; i < 8; i++) {
        if (get_buf(ix[i], &b[nbuf], 0, items[i], counts[i]) < 0) goto fail;
        ptrs[i] = b[nbuf++].buf;
    }
    L.addr = ptrs[0]; L.size = ptrs[1]; L.pstart = ptrs[2]; L.poff = ptrs[3];
    L.pval = ptrs[4]; L.pdst = ptrs[5]; L.phantom = ptrs[6]; L.header = ptrs[7];
    for (int i = 0; i < 3; i++)
        if (get_column(PyTuple_GET_ITEM(cols_arg, i), &L.col[i], L.n, b, &nbuf) < 0) goto fail;
    L.ntables = (int)PyTuple_GET_SIZE(tables_arg);
    for (int i = 0; i < L.ntables; i++)
        if (get_names(PyTuple_GET_ITEM(tables_arg, i), &L.tables[i], b, &nbuf) < 0) goto fail;
    if (PyObject_GetBuffer(objs_arg, &b[nbuf], PyBUF_C_CONTIGUOUS) < 0) goto fail;
    const int64_t *objs = b[nbuf].buf;
    Py_ssize_t k = b[nbuf++].len / 8;

    Text t = {0};
    t.fd = fd;
    t.limit = (size_t)limit;
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < k && !t.failed && !bad; i++) {
        if (fd >= 0 && t.len >= t.limit) text_flush(&t);
        int64_t o = objs[i];
        if (o < 0 || o >= L.n || L.pstart[o] < 0 || L.pstart[o + 1] < L.pstart[o] ||
            L.pstart[o + 1] > L.m) {
            bad = 1;
            break;
        }
        if (mode != LIST_TEXT) {
            if (first && i == 0) PUT(&t, "\n");
            else PUT(&t, ",\n");
        }
        if (mode == LIST_TEXT) {
            list_text(&t, &L, o, &bad);
        } else if (mode == LIST_JSON) {
            list_json(&t, &L, o, &bad);
        } else {
            PUT(&t, "\"");
            text_hex(&t, L.addr[o]);
            PUT(&t, "\"");
        }
    }
    if (fd >= 0 && !t.failed) text_flush(&t);
    Py_END_ALLOW_THREADS
    for (int i = 0; i < nbuf; i++) PyBuffer_Release(&b[i]);
    if (bad && !t.write_errno && !t.failed) {
        PyMem_RawFree(t.data);
        PyErr_SetString(PyExc_ValueError, "inconsistent index arrays for a listing");
        return NULL;
    }
    return text_result(&t);
fail:
    for (int i = 0; i < nbuf; i++) PyBuffer_Release(&b[i]);
    return NULL;
}
