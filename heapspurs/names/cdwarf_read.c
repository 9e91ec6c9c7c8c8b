/* cdwarf_read: the reading primitives of the native DWARF walker (see _cdwarf.c): growable
 * int64 tables, bounds-checked little-endian values and LEB128 numbers, abbreviation tables, and
 * attribute values decoded by form. Nothing here trusts a length: every read is checked against
 * the end of what it reads, and tables grow with what was decoded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdwarf.h"

/* ---- growable tables of int64 rows ---- */

int vec_push(Vec *a, const int64_t *row, size_t w) {
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


int64_t bytes_add(Bytes *b, const uint8_t *p, size_t len) {
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

uint64_t rd_u(Rd *r, size_t size) {
    if (r->bad || r->i > r->n || size > r->n - r->i) {
        r->bad = 1;
        return 0;
    }
    uint64_t v = 0;
    for (size_t k = 0; k < size; k++) v |= (uint64_t)r->b[r->i + k] << (8 * k);
    r->i += size;
    return v;
}

uint64_t rd_uleb(Rd *r) {
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

int64_t rd_sleb(Rd *r) {
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

void rd_skip(Rd *r, uint64_t len) {
    if (r->bad || r->i > r->n || len > r->n - r->i) {
        r->bad = 1;
        return;
    }
    r->i += (size_t)len;
}

/* ---- abbreviation tables ---- */



static int cmp_abbrev(const void *a, const void *b) {
    uint64_t x = ((const Abbrev *)a)->code, y = ((const Abbrev *)b)->code;
    return x < y ? -1 : x > y;
}

const Abbrev *table_find(const Table *t, uint64_t code) {
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
int table_parse(Table *t, const uint8_t *sec, size_t n, uint64_t offset, char *msg,
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

void table_free(Table *t) {
    free(t->ab);
    free(t->specs);
}

/* ---- attribute values ---- */




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
int read_form(Ctx *c, Rd *r, uint64_t form, int64_t implicit, int os, int as, int version,
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
    /* (The index of an addrx form is kept in v->u: see resolve_addrx.) */
    case 0x1a: case 0x1b: case 0x22: case 0x23: case 0x1f01: case 0x1f02:
        v->u = rd_uleb(r); v->kind = V_UNSUP; break;                /* strx addrx loclistx ... */
    case 0x25: case 0x29: v->u = rd_u(r, 1); v->kind = V_UNSUP; break;
    case 0x26: case 0x2a: v->u = rd_u(r, 2); v->kind = V_UNSUP; break;
    case 0x27: case 0x2b: v->u = rd_u(r, 3); v->kind = V_UNSUP; break;
    case 0x28: case 0x2c: case 0x1c: v->u = rd_u(r, 4); v->kind = V_UNSUP; break;
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

int is_addrx(uint64_t form) {
    return form == 0x1b || (form >= 0x29 && form <= 0x2c);
}

/* The address an index (an addrx form's, a location list's) names: .debug_addr at the unit's
 * addr_base. Returns -1 with c->msg set when the unit has no base (unsupported) or the entry is
 * outside the section (corrupt). */
int resolve_addrx(Ctx *c, uint64_t index, int as, uint64_t addr_base, int has_addr_base,
                  uint64_t *out) {
    if (!has_addr_base) { /* (the reference reader may still know where they are) */
        c->unsupported = 1;
        snprintf(c->msg, sizeof c->msg, "an indexed address in a unit with no DW_AT_addr_base");
        return -1;
    }
    if (addr_base > c->addr.n || index >= (c->addr.n - addr_base) / (size_t)as) {
        snprintf(c->msg, sizeof c->msg, "address index %llu is outside .debug_addr (%zu bytes)",
                 (unsigned long long)index, c->addr.n);
        return -1;
    }
    Rd ar = {c->addr.b, c->addr.n, (size_t)(addr_base + index * (uint64_t)as), 0};
    *out = rd_u(&ar, (size_t)as);
    return ar.bad ? -1 : 0;
}
