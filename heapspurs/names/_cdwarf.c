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
 *     frame-base offset or register), optionally only those live at one of a sorted set of pcs.
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

#define MAX_DEPTH 4096
#define NONE_WHERE INT64_MIN /* a piece held in a register */

/* ---- growable tables of int64 rows ---- */
typedef struct {
    int64_t *v;
    size_t n, cap; /* in int64s */
} Vec;

static int vec_push(Vec *a, const int64_t *row, size_t w) {
    if (a->n + w > a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 1024;
        while (cap < a->n + w) cap *= 2;
        int64_t *v = realloc(a->v, cap * sizeof(int64_t));
        if (!v) return -1;
        a->v = v;
        a->cap = cap;
    }
    memcpy(a->v + a->n, row, w * sizeof(int64_t));
    a->n += w;
    return 0;
}

typedef struct {
    char *v;
    size_t n, cap;
} Bytes;

static int64_t bytes_add(Bytes *b, const uint8_t *p, size_t len) {
    if (len == 0) return (int64_t)b->n;
    if (b->n + len > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 65536;
        while (cap < b->n + len) cap *= 2;
        char *v = realloc(b->v, cap);
        if (!v) return -1;
        b->v = v;
        b->cap = cap;
    }
    memcpy(b->v + b->n, p, len);
    b->n += len;
    return (int64_t)(b->n - len);
}

/* ---- bounds-checked little-endian reading ---- */
typedef struct {
    const uint8_t *b;
    size_t n, i;
    int bad;
} Rd;

static uint64_t rd_u(Rd *r, size_t size) {
    if (r->bad || r->i > r->n || size > r->n - r->i) {
        r->bad = 1;
        return 0;
    }
    uint64_t v = 0;
    for (size_t k = 0; k < size; k++) v |= (uint64_t)r->b[r->i + k] << (8 * k);
    r->i += size;
    return v;
}

static uint64_t rd_uleb(Rd *r) {
    uint64_t v = 0;
    unsigned shift = 0;
    for (;;) {
        if (r->bad || r->i >= r->n) {
            r->bad = 1;
            return 0;
        }
        uint8_t c = r->b[r->i++];
        if (shift < 64) v |= (uint64_t)(c & 0x7f) << shift;
        shift += 7;
        if (c < 0x80) return v;
    }
}

static int64_t rd_sleb(Rd *r) {
    uint64_t v = 0;
    unsigned shift = 0;
    uint8_t c = 0;
    for (;;) {
        if (r->bad || r->i >= r->n) {
            r->bad = 1;
            return 0;
        }
        c = r->b[r->i++];
        if (shift < 64) v |= (uint64_t)(c & 0x7f) << shift;
        shift += 7;
        if (c < 0x80) break;
    }
    if ((c & 0x40) && shift < 64) v |= ~(uint64_t)0 << shift;
    return (int64_t)v;
}

static void rd_skip(Rd *r, uint64_t len) {
    if (r->bad || r->i > r->n || len > r->n - r->i) {
        r->bad = 1;
        return;
    }
    r->i += (size_t)len;
}

/* ---- abbreviation tables ---- */
typedef struct {
    uint64_t name, form;
    int64_t implicit;
} Spec;

typedef struct {
    uint64_t code, tag;
    int children;
    size_t first, count; /* into the table's specs */
} Abbrev;

typedef struct {
    uint64_t offset;
    Abbrev *ab;
    size_t nab;
    Spec *specs;
    size_t nspecs;
} Table;

static int cmp_abbrev(const void *a, const void *b) {
    uint64_t x = ((const Abbrev *)a)->code, y = ((const Abbrev *)b)->code;
    return x < y ? -1 : x > y;
}

static const Abbrev *table_find(const Table *t, uint64_t code) {
    if (code >= 1 && code <= t->nab && t->ab[code - 1].code == code) return &t->ab[code - 1];
    size_t lo = 0, hi = t->nab;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t->ab[mid].code < code) lo = mid + 1;
        else hi = mid;
    }
    return lo < t->nab && t->ab[lo].code == code ? &t->ab[lo] : NULL;
}

/* Parse the table at ``offset``; on error, sets msg and returns -1. */
static int table_parse(Table *t, const uint8_t *sec, size_t n, uint64_t offset, char *msg,
                       size_t msglen) {
    memset(t, 0, sizeof *t);
    t->offset = offset;
    if (offset >= n) {
        snprintf(msg, msglen, "abbreviation table offset %llu is past the end of .debug_abbrev "
                 "(%zu bytes)", (unsigned long long)offset, n);
        return -1;
    }
    Rd r = {sec, n, (size_t)offset, 0};
    size_t cap_ab = 0, cap_sp = 0;
    for (;;) {
        uint64_t code = rd_uleb(&r);
        if (r.bad) goto truncated;
        if (code == 0) break;
        if (t->nab == cap_ab) {
            cap_ab = cap_ab ? cap_ab * 2 : 64;
            Abbrev *ab = realloc(t->ab, cap_ab * sizeof *ab);
            if (!ab) goto nomem;
            t->ab = ab;
        }
        Abbrev *a = &t->ab[t->nab++];
        a->code = code;
        a->tag = rd_uleb(&r);
        a->children = (int)rd_u(&r, 1);
        a->first = t->nspecs;
        a->count = 0;
        for (;;) {
            uint64_t name = rd_uleb(&r), form = rd_uleb(&r);
            int64_t implicit = 0;
            if (form == 0x21) implicit = rd_sleb(&r);
            if (r.bad) goto truncated;
            if (name == 0 && form == 0) break;
            if (t->nspecs == cap_sp) {
                cap_sp = cap_sp ? cap_sp * 2 : 256;
                Spec *sp = realloc(t->specs, cap_sp * sizeof *sp);
                if (!sp) goto nomem;
                t->specs = sp;
            }
            t->specs[t->nspecs++] = (Spec){name, form, implicit};
            a->count++;
        }
    }
    if (t->nab) qsort(t->ab, t->nab, sizeof *t->ab, cmp_abbrev);
    return 0;
truncated:
    snprintf(msg, msglen, "abbreviation table at .debug_abbrev offset %llu runs past the end of "
             "the section", (unsigned long long)offset);
    return -1;
nomem:
    snprintf(msg, msglen, "out of memory reading abbreviations");
    return -1;
}

static void table_free(Table *t) {
    free(t->ab);
    free(t->specs);
}

/* ---- attribute values ---- */
enum { V_NONE, V_CONST, V_BLOCK, V_STRING, V_UNSUP };

typedef struct {
    int kind;
    uint64_t u;
    const uint8_t *p;
    size_t len;
    uint64_t form;
} Val;

typedef struct {
    const uint8_t *b;
    size_t n;
} Sec;

typedef struct {
    Sec info, abbrev, str, line_str, addr, loc, loclists;
    int have_pcs;
    const uint64_t *pcs;
    size_t npcs;
    int64_t rt_base; /* runtime.types, or -1 */
    Vec types, members, globals, locals, ranges, pieces;
    Bytes names;
    char msg[256];
    int unsupported;
} Ctx;

static int c_string(const Sec *s, uint64_t off, Val *v) {
    if (off >= s->n) return -1;
    const uint8_t *e = memchr(s->b + off, 0, s->n - (size_t)off);
    if (!e) return -1;
    v->kind = V_STRING;
    v->p = s->b + off;
    v->len = (size_t)(e - v->p);
    return 0;
}

/* Read one attribute of ``form``; returns -1 with ctx->msg set on corrupt data. */
static int read_form(Ctx *c, Rd *r, uint64_t form, int64_t implicit, int os, int as, int version,
                     int nest, Val *v) {
    v->kind = V_CONST;
    v->form = form;
    v->p = NULL;
    v->len = 0;
    v->u = 0;
    switch (form) {
    case 0x01: v->u = rd_u(r, (size_t)as); break;                    /* addr */
    case 0x03: v->len = rd_u(r, 2); goto block;                     /* block2 */
    case 0x04: v->len = rd_u(r, 4); goto block;                     /* block4 */
    case 0x09: v->len = rd_uleb(r); goto block;                     /* block */
    case 0x0a: v->len = rd_u(r, 1); goto block;                     /* block1 */
    case 0x18: v->len = rd_uleb(r); goto block;                     /* exprloc */
    case 0x05: v->u = rd_u(r, 2); break;                            /* data2 */
    case 0x06: v->u = rd_u(r, 4); break;                            /* data4 */
    case 0x07: v->u = rd_u(r, 8); break;                            /* data8 */
    case 0x0b: case 0x0c: case 0x11: v->u = rd_u(r, 1); break;      /* data1 flag ref1 */
    case 0x12: v->u = rd_u(r, 2); break;                            /* ref2 */
    case 0x13: v->u = rd_u(r, 4); break;                            /* ref4 */
    case 0x14: v->u = rd_u(r, 8); break;                            /* ref8 */
    case 0x0d: v->u = (uint64_t)rd_sleb(r); break;                  /* sdata */
    case 0x0f: case 0x15: v->u = rd_uleb(r); break;                 /* udata ref_udata */
    case 0x10: v->u = rd_u(r, (size_t)(version <= 2 ? as : os)); break; /* ref_addr */
    case 0x17: v->u = rd_u(r, (size_t)os); break;                   /* sec_offset */
    case 0x19: v->u = 1; break;                                     /* flag_present */
    case 0x21: v->u = (uint64_t)implicit; break;                    /* implicit_const */
    case 0x08: {                                                    /* string */
        if (r->bad || r->i >= r->n) { r->bad = 1; break; }
        const uint8_t *e = memchr(r->b + r->i, 0, r->n - r->i);
        if (!e) { r->bad = 1; break; }
        v->kind = V_STRING;
        v->p = r->b + r->i;
        v->len = (size_t)(e - v->p);
        r->i += v->len + 1;
        break;
    }
    case 0x0e: case 0x1f: {                                         /* strp line_strp */
        uint64_t off = rd_u(r, (size_t)os);
        if (r->bad) break;
        if (c_string(form == 0x0e ? &c->str : &c->line_str, off, v) < 0) {
            snprintf(c->msg, sizeof c->msg, "string offset %llu is outside %s",
                     (unsigned long long)off, form == 0x0e ? ".debug_str" : ".debug_line_str");
            return -1;
        }
        break;
    }
    case 0x16: {                                                    /* indirect */
        uint64_t f = rd_uleb(r);
        if (r->bad) break;
        if (nest > 4 || f == 0x16) {
            snprintf(c->msg, sizeof c->msg, "DW_FORM_indirect nested too deep");
            return -1;
        }
        return read_form(c, r, f, 0, os, as, version, nest + 1, v);
    }
    /* Forms skipped by size whose values this walker does not resolve. */
    case 0x1a: case 0x1b: case 0x22: case 0x23: case 0x1f01: case 0x1f02:
        rd_uleb(r); v->kind = V_UNSUP; break;                       /* strx addrx loclistx ... */
    case 0x25: case 0x29: rd_u(r, 1); v->kind = V_UNSUP; break;
    case 0x26: case 0x2a: rd_u(r, 2); v->kind = V_UNSUP; break;
    case 0x27: case 0x2b: rd_u(r, 3); v->kind = V_UNSUP; break;
    case 0x28: case 0x2c: case 0x1c: rd_u(r, 4); v->kind = V_UNSUP; break;
    case 0x20: case 0x24: rd_u(r, 8); v->kind = V_UNSUP; break;     /* ref_sig8 ref_sup8 */
    case 0x1d: case 0x1f20: case 0x1f21: rd_u(r, (size_t)os); v->kind = V_UNSUP; break;
    case 0x1e: rd_skip(r, 16); v->kind = V_UNSUP; break;            /* data16 */
    default:
        snprintf(c->msg, sizeof c->msg, "unknown attribute form 0x%llx", (unsigned long long)form);
        return -1;
    }
    return 0;
block:
    v->kind = V_BLOCK;
    if (r->bad || v->len > r->n - r->i) {
        r->bad = 1;
        return 0;
    }
    v->p = r->b + r->i;
    r->i += v->len;
    return 0;
}

/* ---- location expressions and lists (the reference's pieces() and list parsing) ---- */
static uint64_t ex_uleb(const uint8_t *b, size_t n, size_t *i) {
    uint64_t v = 0;
    unsigned shift = 0;
    while (*i < n) {
        uint8_t c = b[(*i)++];
        if (shift < 64) v |= (uint64_t)(c & 0x7f) << shift;
        shift += 7;
        if (c < 0x80) break;
    }
    return v;
}

static int64_t ex_sleb(const uint8_t *b, size_t n, size_t *i) {
    uint64_t v = 0;
    unsigned shift = 0;
    uint8_t c = 0;
    while (*i < n) {
        c = b[(*i)++];
        if (shift < 64) v |= (uint64_t)(c & 0x7f) << shift;
        shift += 7;
        if (c < 0x80) break;
    }
    if ((c & 0x40) && shift < 64) v |= ~(uint64_t)0 << shift;
    return (int64_t)v;
}

#define WHOLE ((int64_t)1 << 30) /* the reference's "size" of a variable of unknown size */

/* Decode an expression of DW_OP_fbreg / DW_OP_regN (each optionally followed by DW_OP_piece)
 * into pieces appended to ``out``; returns how many were added, 0 when the expression is
 * anything else (or has no piece on the stack frame), -1 when out of memory. */
static int expr_pieces(const uint8_t *b, size_t n, Vec *out) {
    size_t start = out->n, i = 0;
    uint64_t off = 0; /* unsigned: garbage wraps around instead of overflowing */
    int on_frame = 0;
    while (i < n) {
        uint8_t op = b[i];
        int64_t where;
        if (op == 0x91) {
            i++;
            where = ex_sleb(b, n, &i);
            on_frame = 1;
        } else if (op >= 0x50 && op <= 0x6f) {
            i++;
            where = NONE_WHERE;
        } else if (op == 0x93) {
            i++;
            off += ex_uleb(b, n, &i);
            continue;
        } else {
            out->n = start;
            return 0;
        }
        uint64_t len;
        if (i < n && b[i] == 0x93) {
            i++;
            len = ex_uleb(b, n, &i);
        } else {
            len = (uint64_t)WHOLE - off;
        }
        int64_t row[3] = {(int64_t)off, (int64_t)len, where};
        if (vec_push(out, row, 3) < 0) return -1;
        off += len;
    }
    if (!on_frame) {
        out->n = start;
        return 0;
    }
    return (int)((out->n - start) / 3);
}

static int pc_live(const Ctx *c, uint64_t lo, uint64_t hi) {
    size_t a = 0, b = c->npcs;
    while (a < b) {
        size_t m = (a + b) / 2;
        if (c->pcs[m] < lo) a = m + 1;
        else b = m;
    }
    return a < c->npcs && c->pcs[a] < hi;
}

/* One range with its expression: appended to ranges/pieces when its expression has a piece on
 * the frame. ``live`` is set when one of the pcs falls in it. */
static int add_range(Ctx *c, uint64_t lo, uint64_t hi, const uint8_t *e, size_t n, int *live) {
    size_t p0 = c->pieces.n / 3;
    int k = expr_pieces(e, n, &c->pieces);
    if (k < 0) return -1;
    if (k == 0) return 0;
    int64_t row[4] = {(int64_t)lo, (int64_t)hi, (int64_t)p0, (int64_t)(p0 + (size_t)k)};
    if (vec_push(&c->ranges, row, 4) < 0) return -1;
    if (!c->have_pcs || (lo <= hi && pc_live(c, lo, hi))) *live = 1;
    return 0;
}

/* Parse the location list at ``off`` for a unit of ``version``; on success returns 1 when the
 * variable is kept (its ranges stay appended), 0 when not, -1 on error (msg set). */
static int loclist(Ctx *c, uint64_t off, int version, int as, uint64_t addr_base,
                   int has_addr_base) {
    size_t r0 = c->ranges.n, p0 = c->pieces.n;
    int live = 0;
    uint64_t base = 0; /* addresses are unsigned: garbage wraps around */
    const Sec *s = version >= 5 ? &c->loclists : &c->loc;
    const char *name = version >= 5 ? ".debug_loclists" : ".debug_loc";
    if (off >= s->n) {
        snprintf(c->msg, sizeof c->msg, "location list offset %llu is past the end of %s",
                 (unsigned long long)off, name);
        return -1;
    }
    Rd r = {s->b, s->n, (size_t)off, 0};
    uint64_t maxaddr = as == 8 ? ~(uint64_t)0 : 0xffffffffu;
    for (;;) {
        size_t at = r.i;
        if (version < 5) {
            uint64_t b = rd_u(&r, (size_t)as), e = rd_u(&r, (size_t)as);
            if (r.bad) goto truncated;
            if (b == 0 && e == 0) break;
            if (b == maxaddr) {
                base = e;
                continue;
            }
            uint64_t n = rd_u(&r, 2);
            const uint8_t *x = r.b + r.i;
            rd_skip(&r, n);
            if (r.bad) goto truncated;
            if (add_range(c, base + b, base + e, x, (size_t)n, &live) < 0)
                goto nomem;
            continue;
        }
        uint64_t kind = rd_u(&r, 1);
        uint64_t lo = 0, hi = 0;
        if (r.bad) goto truncated;
        if (kind == 0) break;
        if (kind == 1 || kind == 2 || kind == 3) { /* base_addressx startx_endx startx_length */
            uint64_t i1 = rd_uleb(&r), i2 = kind == 1 ? 0 : rd_uleb(&r);
            if (r.bad) goto truncated;
            uint64_t a1, a2 = 0;
            if (!has_addr_base) {
                c->unsupported = 1;
                snprintf(c->msg, sizeof c->msg, "indexed address in a unit with no "
                         "DW_AT_addr_base");
                return -1;
            }
            Rd ar = {c->addr.b, c->addr.n, 0, 0};
            if (addr_base > c->addr.n || i1 > (c->addr.n / (size_t)as)) ar.bad = 1;
            else ar.i = (size_t)(addr_base + i1 * (uint64_t)as);
            a1 = rd_u(&ar, (size_t)as);
            if (kind == 2) {
                if (i2 > (c->addr.n / (size_t)as)) ar.bad = 1;
                else ar.i = (size_t)(addr_base + i2 * (uint64_t)as);
                a2 = rd_u(&ar, (size_t)as);
            }
            if (ar.bad) {
                snprintf(c->msg, sizeof c->msg, "address index in the location list at %s "
                         "offset %zu is outside .debug_addr", name, at);
                return -1;
            }
            if (kind == 1) {
                base = a1;
                continue;
            }
            lo = a1;
            hi = kind == 2 ? a2 : a1 + i2;
        } else if (kind == 4) { /* offset_pair */
            uint64_t b = rd_uleb(&r), e = rd_uleb(&r);
            lo = base + b;
            hi = base + e;
        } else if (kind == 5) { /* default_location */
            lo = hi = ~(uint64_t)0;
        } else if (kind == 6) { /* base_address */
            base = rd_u(&r, (size_t)as);
            if (r.bad) goto truncated;
            continue;
        } else if (kind == 7) { /* start_end */
            lo = rd_u(&r, (size_t)as);
            hi = rd_u(&r, (size_t)as);
        } else if (kind == 8) { /* start_length */
            lo = rd_u(&r, (size_t)as);
            hi = lo + rd_uleb(&r);
        } else {
            snprintf(c->msg, sizeof c->msg, "unknown location list entry kind %llu at %s "
                     "offset %zu", (unsigned long long)kind, name, at);
            return -1;
        }
        uint64_t n = rd_uleb(&r);
        const uint8_t *x = r.b + r.i;
        rd_skip(&r, n);
        if (r.bad) goto truncated;
        if (add_range(c, lo, hi, x, (size_t)n, &live) < 0) goto nomem;
    }
    if (live && c->ranges.n > r0) return 1;
    c->ranges.n = r0;
    c->pieces.n = p0;
    return 0;
truncated:
    snprintf(c->msg, sizeof c->msg, "the location list at %s offset %llu runs past the end of "
             "the section", name, (unsigned long long)off);
    return -1;
nomem:
    snprintf(c->msg, sizeof c->msg, "out of memory reading location lists");
    return -1;
}

/* ---- the walk ---- */
enum { T_STRUCT, T_POINTER, T_ARRAY, T_BASE, T_TYPEDEF, T_FUNC, T_OTHER };

static int type_code(uint64_t tag) {
    switch (tag) {
    case 0x13: return T_STRUCT;
    case 0x0f: return T_POINTER;
    case 0x01: return T_ARRAY;
    case 0x24: return T_BASE;
    case 0x16: return T_TYPEDEF;
    case 0x15: return T_FUNC;
    case 0x3b: return T_OTHER;
    default: return -1;
    }
}

#define TYPE_W 12 /* die, tag, kind, size, target, elem, rt, count, -, -, name pos, name len */
#define MEMBER_W 5 /* parent type, name pos, name len, offset, type */
#define GLOBAL_W 4 /* name pos, name len, address, type */
#define LOCAL_W 3  /* type, first range, end range */

typedef struct {
    uint64_t tag;
    int64_t type_index;
} Level;

static int64_t add_name(Ctx *c, const Val *v, int64_t *len) {
    if (v->kind != V_STRING) {
        *len = 0;
        return 0;
    }
    *len = (int64_t)v->len;
    return bytes_add(&c->names, v->p, v->len);
}

static int walk(Ctx *c) {
    Table *tables = NULL;
    size_t ntables = 0;
    Level *stack = malloc(MAX_DEPTH * sizeof *stack);
    int rc = -1;
    if (!stack) {
        snprintf(c->msg, sizeof c->msg, "out of memory");
        return -1;
    }
    size_t off = 0;
    while (off < c->info.n) {
        Rd r = {c->info.b, c->info.n, off, 0};
        uint64_t len = rd_u(&r, 4);
        int os = 4;
        if (len == 0xffffffffu) {
            len = rd_u(&r, 8);
            os = 8;
        } else if (len >= 0xfffffff0u) {
            snprintf(c->msg, sizeof c->msg, "unit at .debug_info offset %zu has a reserved "
                     "length 0x%llx", off, (unsigned long long)len);
            goto out;
        }
        if (r.bad || len > c->info.n - r.i) {
            snprintf(c->msg, sizeof c->msg, "unit at .debug_info offset %zu runs past the end of "
                     "the section (%zu bytes)", off, c->info.n);
            goto out;
        }
        size_t end = r.i + (size_t)len;
        r.n = end;
        int version = (int)rd_u(&r, 2), as;
        uint64_t abbrev_off;
        if (version >= 5) {
            int unit_type = (int)rd_u(&r, 1);
            as = (int)rd_u(&r, 1);
            abbrev_off = rd_u(&r, (size_t)os);
            if (!r.bad && unit_type != 1 && unit_type != 3) {
                c->unsupported = 1;
                snprintf(c->msg, sizeof c->msg, "unit at .debug_info offset %zu is of type %d "
                         "(only compile and partial units are read natively)", off, unit_type);
                goto out;
            }
        } else {
            abbrev_off = rd_u(&r, (size_t)os);
            as = (int)rd_u(&r, 1);
        }
        if (r.bad) {
            snprintf(c->msg, sizeof c->msg, "unit header at .debug_info offset %zu is cut short",
                     off);
            goto out;
        }
        if (version < 2 || version > 5) {
            c->unsupported = 1;
            snprintf(c->msg, sizeof c->msg, "unit at .debug_info offset %zu has DWARF version %d",
                     off, version);
            goto out;
        }
        if (as != 4 && as != 8) {
            snprintf(c->msg, sizeof c->msg, "unit at .debug_info offset %zu has address size %d",
                     off, as);
            goto out;
        }
        const Table *t = NULL;
        for (size_t k = 0; k < ntables; k++)
            if (tables[k].offset == abbrev_off) t = &tables[k];
        if (!t) {
            Table *nt = realloc(tables, (ntables + 1) * sizeof *tables);
            if (!nt) {
                snprintf(c->msg, sizeof c->msg, "out of memory");
                goto out;
            }
            tables = nt;
            if (table_parse(&tables[ntables], c->abbrev.b, c->abbrev.n, abbrev_off, c->msg,
                            sizeof c->msg) < 0)
                goto out;
            t = &tables[ntables++];
        }
        int depth = 0;
        uint64_t addr_base = 0;
        int has_addr_base = 0;
        const uint64_t unit_off = off;
        while (r.i < end) {
            size_t die_off = r.i;
            uint64_t code = rd_uleb(&r);
            if (r.bad) goto cut;
            if (code == 0) {
                if (depth > 0) depth--;
                continue;
            }
            const Abbrev *a = table_find(t, code);
            if (!a) {
                snprintf(c->msg, sizeof c->msg, "DIE at .debug_info offset %zu uses abbreviation "
                         "code %llu, which its table (.debug_abbrev offset %llu) does not define",
                         die_off, (unsigned long long)code, (unsigned long long)abbrev_off);
                goto out;
            }
            Val name = {0}, loc = {0}, v;
            int64_t size = 0, kind = 0, target = -1, elem = -1, rt = 0, count = -1;
            int64_t member_off = 0;
            int has_type = 0, has_loc = 0, has_rt = 0;
            for (size_t k = 0; k < a->count; k++) {
                const Spec *sp = &t->specs[a->first + k];
                if (read_form(c, &r, sp->form, sp->implicit, os, as, version, 0, &v) < 0) {
                    size_t m = strlen(c->msg);
                    snprintf(c->msg + m, sizeof c->msg - m, " (DIE at .debug_info offset %zu)",
                             die_off);
                    goto out;
                }
                if (r.bad) goto cut;
                int is_const = v.kind == V_CONST;
                switch (sp->name) {
                case 0x03: name = v; break;
                case 0x0b: size = is_const ? (int64_t)v.u : 0; break;
                case 0x02: loc = v; has_loc = 1; break;
                case 0x38: member_off = is_const ? (int64_t)v.u : 0; break;
                case 0x37: count = is_const ? (int64_t)v.u : -1; break;
                case 0x73: addr_base = v.u; has_addr_base = is_const; break;
                case 0x49:
                case 0x2902: {
                    uint64_t ref = v.form == 0x10 ? v.u : v.u + unit_off;
                    if (ref >= c->info.n) {
                        snprintf(c->msg, sizeof c->msg, "DIE at .debug_info offset %zu refers to "
                                 "offset %llu, past the end of .debug_info (%zu bytes)", die_off,
                                 (unsigned long long)ref, c->info.n);
                        goto out;
                    }
                    if (sp->name == 0x49) {
                        has_type = 1;
                        target = (int64_t)ref;
                    } else {
                        elem = (int64_t)ref;
                    }
                    break;
                }
                case 0x2900: kind = is_const ? (int64_t)v.u : 0; break;
                case 0x2904: rt = is_const ? (int64_t)v.u : 0; has_rt = 1; break;
                default: break;
                }
            }
            Level *parent = depth > 0 ? &stack[depth - 1] : NULL;
            int tc = type_code(a->tag);
            int64_t type_index = -1;
            if (name.kind == V_UNSUP && (tc >= 0 || a->tag == 0x0d || a->tag == 0x34)) {
                c->unsupported = 1;
                snprintf(c->msg, sizeof c->msg, "DIE at .debug_info offset %zu has its name in a "
                         "string index (DW_FORM_strx)", die_off);
                goto out;
            }
            if (tc >= 0) {
                int64_t nlen, npos = add_name(c, &name, &nlen);
                if (npos < 0) goto nomem;
                int64_t row[TYPE_W] = {(int64_t)die_off, tc, kind, size,
                                       has_type ? target : -1, elem,
                                       has_rt && rt && c->rt_base >= 0
                                           ? (int64_t)((uint64_t)c->rt_base + (uint64_t)rt)
                                           : -1,
                                       0, 0, 0, npos, nlen};
                type_index = (int64_t)(c->types.n / TYPE_W);
                if (vec_push(&c->types, row, TYPE_W) < 0) goto nomem;
            } else if (parent && parent->type_index >= 0 && a->tag == 0x0d && has_type) {
                int64_t nlen, npos = add_name(c, &name, &nlen);
                if (npos < 0) goto nomem;
                int64_t row[MEMBER_W] = {parent->type_index, npos, nlen, member_off, target};
                if (vec_push(&c->members, row, MEMBER_W) < 0) goto nomem;
            } else if (parent && parent->type_index >= 0 && a->tag == 0x21 && count >= 0) {
                c->types.v[parent->type_index * TYPE_W + 7] = count;
            } else if ((a->tag == 0x34 || a->tag == 0x05) && has_loc && has_type &&
                       loc.form != 0x0a) {
                int listed = loc.form == 0x17 || (version < 4 && loc.form >= 0x05 &&
                                                  loc.form <= 0x07) ||
                             (version < 4 && loc.form == 0x0b);
                if (loc.form == 0x22) {
                    c->unsupported = 1;
                    snprintf(c->msg, sizeof c->msg, "DIE at .debug_info offset %zu uses a "
                             "location list index (DW_FORM_loclistx)", die_off);
                    goto out;
                }
                if (listed) {
                    size_t r0 = c->ranges.n / 4;
                    int keep = loclist(c, loc.u, version, as, addr_base, has_addr_base);
                    if (keep < 0) {
                        size_t m = strlen(c->msg);
                        snprintf(c->msg + m, sizeof c->msg - m, " (DIE at .debug_info offset "
                                 "%zu)", die_off);
                        goto out;
                    }
                    if (keep) {
                        int64_t row[LOCAL_W] = {target, (int64_t)r0,
                                                (int64_t)(c->ranges.n / 4)};
                        if (vec_push(&c->locals, row, LOCAL_W) < 0) goto nomem;
                    }
                }
            } else if (a->tag == 0x34 && has_loc && has_type && parent && parent->tag == 0x11 &&
                       loc.kind == V_BLOCK && loc.len == (size_t)(1 + as) && loc.p[0] == 0x03) {
                uint64_t addr = 0;
                for (int k = 0; k < as; k++) addr |= (uint64_t)loc.p[1 + k] << (8 * k);
                int64_t nlen, npos = add_name(c, &name, &nlen);
                if (npos < 0) goto nomem;
                int64_t row[GLOBAL_W] = {npos, nlen, (int64_t)addr, target};
                if (vec_push(&c->globals, row, GLOBAL_W) < 0) goto nomem;
            }
            if (a->children) {
                if (depth >= MAX_DEPTH) {
                    snprintf(c->msg, sizeof c->msg, "DIEs nested deeper than %d at .debug_info "
                             "offset %zu", MAX_DEPTH, die_off);
                    goto out;
                }
                stack[depth++] = (Level){a->tag, type_index};
            }
        }
        off = end;
        continue;
cut:
        snprintf(c->msg, sizeof c->msg, "a DIE in the unit at .debug_info offset %llu runs past "
                 "the end of the unit", (unsigned long long)unit_off);
        goto out;
    }
    rc = 0;
    goto out;
nomem:
    snprintf(c->msg, sizeof c->msg, "out of memory walking .debug_info");
out:
    for (size_t k = 0; k < ntables; k++) table_free(&tables[k]);
    free(tables);
    free(stack);
    return rc;
}

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
    result = Py_BuildValue("(NNNNNNN)", vec_bytes(&c.types), vec_bytes(&c.members),
                           vec_bytes(&c.globals), vec_bytes(&c.locals), vec_bytes(&c.ranges),
                           vec_bytes(&c.pieces),
                           PyBytes_FromStringAndSize(c.names.v, (Py_ssize_t)c.names.n));
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
    return result;
}

static PyMethodDef methods[] = {
    {"walk", py_walk, METH_VARARGS,
     "walk(info, abbrev, str, line_str, addr, loc, loclists, runtime_types, pcs) -> (types, "
     "members, globals, locals, ranges, pieces, names): int64 rows as bytes (see _cdwarf.c); "
     "runtime_types is runtime.types' address or -1; pcs a sorted uint64 buffer (keep only "
     "locals live at one of them) or None (keep all)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_cdwarf",
                                    "Native DIE walker for Go binaries' DWARF (see _cdwarf.c).",
                                    -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__cdwarf(void) { return PyModule_Create(&module); }
