/* cdwarf_walk: the walk of the native DWARF walker (see _cdwarf.c) over every unit and DIE of
 * .debug_info: unit headers, the nesting of DIEs, and what is kept of each — type DIEs, their
 * members and array counts, globals, stack locals with a location list, and the unit-level
 * functions with their direct children (variables, parameters, inlined calls) that closures and
 * defer/go wrappers are laid out from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdwarf.h"

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
#define FUNC_W 7 /* die, name pos, name len, low pc, decl line, abstract origin, flags */
#define VAR_W 9 /* function row, tag, name pos, name len, type, closure offset, decl line, origin,
                   variable_parameter (-1 when absent) */
#define F_TRAMPOLINE 1
#define F_INLINE 2

typedef struct {
    uint64_t tag;
    int64_t type_index;
    int64_t func_index; /* its row in funcs when it is a unit-level function */
} Level;

static int64_t add_name(Ctx *c, const Val *v, int64_t *len) {
    if (v->kind != V_STRING) {
        *len = 0;
        return 0;
    }
    *len = (int64_t)v->len;
    return bytes_add(&c->names, v->p, v->len);
}

/* The abbreviation tables met so far, found by offset through an open-addressing hash: hostile
   DWARF can give every unit a table of its own, and a search through them all per unit would
   take quadratic time. */
typedef struct {
    Table *t;
    size_t n, cap;
    size_t *slot; /* index + 1 into t; 0: empty */
    size_t nslots; /* a power of two, more than twice n */
} Tables;

static size_t table_slot(const Tables *ts, uint64_t off) {
    size_t mask = ts->nslots - 1, h = (size_t)(off * 0x9E3779B97F4A7C15ull) & mask;
    while (ts->slot[h] && ts->t[ts->slot[h] - 1].offset != off) h = (h + 1) & mask;
    return h;
}

/* The table at ``off``, parsed on first use; NULL with c->msg set. */
static const Table *table_at(Tables *ts, Ctx *c, uint64_t off) {
    if (ts->nslots && ts->slot[table_slot(ts, off)])
        return &ts->t[ts->slot[table_slot(ts, off)] - 1];
    if (2 * (ts->n + 1) >= ts->nslots) {
        size_t ns = ts->nslots ? 2 * ts->nslots : 64, *slot = calloc(ns, sizeof *slot);
        if (!slot) goto nomem;
        free(ts->slot);
        ts->slot = slot;
        ts->nslots = ns;
        for (size_t k = 0; k < ts->n; k++) ts->slot[table_slot(ts, ts->t[k].offset)] = k + 1;
    }
    if (ts->n == ts->cap) {
        size_t cap = ts->cap ? 2 * ts->cap : 16;
        Table *t = realloc(ts->t, cap * sizeof *t);
        if (!t) goto nomem;
        ts->t = t;
        ts->cap = cap;
    }
    Table *t = &ts->t[ts->n++]; /* freed with the others, also when it does not parse */
    if (table_parse(t, c->abbrev.b, c->abbrev.n, off, c->msg, sizeof c->msg) < 0) return NULL;
    ts->slot[table_slot(ts, off)] = ts->n;
    return t;
nomem:
    snprintf(c->msg, sizeof c->msg, "out of memory");
    return NULL;
}

int walk(Ctx *c) {
    Tables tables = {0};
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
        const Table *t = table_at(&tables, c, abbrev_off);
        if (!t) goto out;
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
            int64_t low_pc = -1, decl_line = -1, origin = -1, closure_off = -1, var_param = -1;
            int64_t flags = 0;
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
                case 0x11:
                    if (is_addrx(v.form)) {
                        uint64_t a2;
                        if (resolve_addrx(c, v.u, as, addr_base, has_addr_base, &a2) < 0) {
                            size_t m = strlen(c->msg);
                            snprintf(c->msg + m, sizeof c->msg - m, " (DIE at .debug_info "
                                     "offset %zu)", die_off);
                            goto out;
                        }
                        low_pc = (int64_t)a2;
                    } else if (is_const) {
                        low_pc = (int64_t)v.u;
                    }
                    break;
                case 0x3b: decl_line = is_const ? (int64_t)v.u : -1; break;
                case 0x20: flags |= F_INLINE; break;
                case 0x56: if (is_const && v.u) flags |= F_TRAMPOLINE; break;
                case 0x4b: var_param = is_const ? (v.u != 0) : -1; break;
                case 0x2907: closure_off = is_const ? (int64_t)v.u : -1; break;
                case 0x49:
                case 0x31:
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
                    } else if (sp->name == 0x31) {
                        origin = (int64_t)ref;
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
            int64_t type_index = -1, func_index = -1;
            if (a->tag == 0x2e && parent && parent->tag == 0x11) {
                int64_t nlen, npos = add_name(c, &name, &nlen);
                if (npos < 0) goto nomem;
                int64_t row[FUNC_W] = {(int64_t)die_off, npos, nlen, low_pc, decl_line, origin,
                                       flags};
                func_index = (int64_t)(c->funcs.n / FUNC_W);
                if (vec_push(&c->funcs, row, FUNC_W) < 0) goto nomem;
            } else if (parent && parent->func_index >= 0 &&
                       (a->tag == 0x34 || a->tag == 0x05 || a->tag == 0x1d)) {
                int64_t nlen, npos = add_name(c, &name, &nlen);
                if (npos < 0) goto nomem;
                int64_t row[VAR_W] = {parent->func_index, (int64_t)a->tag, npos, nlen,
                                      has_type ? target : -1, closure_off, decl_line, origin,
                                      var_param};
                if (vec_push(&c->vars, row, VAR_W) < 0) goto nomem;
            }
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
                stack[depth++] = (Level){a->tag, type_index, func_index};
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
    for (size_t k = 0; k < tables.n; k++) table_free(&tables.t[k]);
    free(tables.t);
    free(tables.slot);
    free(stack);
    return rc;
}
