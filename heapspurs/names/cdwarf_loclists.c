/* cdwarf_loclists: location lists and expressions for the native DWARF walker (see _cdwarf.c).
 * A stack local's list (.debug_loc for DWARF 4, .debug_loclists for DWARF 5) becomes pc ranges,
 * each with the pieces of the variable (variable offset, size, frame-base offset or register)
 * that an expression of DW_OP_fbreg / DW_OP_regN / DW_OP_piece places, as the reference reader's
 * pieces() does; other expressions are not followed. A list ends at its end entry, or is an
 * error at the end of its section: it cannot run on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdwarf.h"

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


/* Decode an expression of DW_OP_fbreg / DW_OP_call_frame_cfa / DW_OP_regN (each optionally
 * followed by DW_OP_piece)
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
        } else if (op == 0x9c) { /* DW_OP_call_frame_cfa: the CFA itself (Go's frame base) */
            i++;
            where = 0;
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
int loclist(Ctx *c, uint64_t off, int version, int as, uint64_t addr_base,
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
            if (resolve_addrx(c, i1, as, addr_base, has_addr_base, &a1) < 0 ||
                (kind == 2 && resolve_addrx(c, i2, as, addr_base, has_addr_base, &a2) < 0)) {
                size_t m = strlen(c->msg);
                snprintf(c->msg + m, sizeof c->msg - m, " (the location list at %s offset %zu)",
                         name, at);
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
