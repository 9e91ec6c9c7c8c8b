/*
 * cdwarf.h: what the C files of the _cdwarf extension (the native DWARF walker) share — growable
 * int64 tables, bounds-checked reading, abbreviation tables, attribute values, the walk's
 * context — and each file's entry points.
 *
 *   _cdwarf.c           the module: walk() for Python, its rows handed back as bytes
 *   cdwarf_read.c       tables, bounds-checked reading, abbreviations, attribute forms
 *   cdwarf_loclists.c   location expressions and lists of stack locals
 *   cdwarf_walk.c       the walk over every unit and DIE: what is kept
 */
#ifndef HEAPSPURS_CDWARF_H
#define HEAPSPURS_CDWARF_H

#include <stddef.h>
#include <stdint.h>

#define MAX_DEPTH 4096
#define NONE_WHERE INT64_MIN /* a piece held in a register */
#define WHOLE ((int64_t)1 << 30) /* the reference's "size" of a variable of unknown size */

typedef struct {
    int64_t *v;
    size_t n, cap; /* in int64s */
} Vec;

typedef struct {
    char *v;
    size_t n, cap;
} Bytes;

typedef struct {
    const uint8_t *b;
    size_t n, i;
    int bad;
} Rd;

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
    Vec types, members, globals, locals, ranges, pieces, funcs, vars;
    Bytes names;
    char msg[256];
    int unsupported;
} Ctx;

/* cdwarf_read.c */
int vec_push(Vec *a, const int64_t *row, size_t w);
int64_t bytes_add(Bytes *b, const uint8_t *p, size_t len);
uint64_t rd_u(Rd *r, size_t size);
uint64_t rd_uleb(Rd *r);
int64_t rd_sleb(Rd *r);
void rd_skip(Rd *r, uint64_t len);
const Abbrev *table_find(const Table *t, uint64_t code);
int table_parse(Table *t, const uint8_t *sec, size_t n, uint64_t offset, char *msg,
                size_t msglen);
void table_free(Table *t);
int read_form(Ctx *c, Rd *r, uint64_t form, int64_t implicit, int os, int as, int version,
              int nest, Val *v);
int is_addrx(uint64_t form);
int resolve_addrx(Ctx *c, uint64_t index, int as, uint64_t addr_base, int has_addr_base,
                  uint64_t *out);

/* cdwarf_loclists.c: the list at ``off``; 1 kept, 0 not (not live at the pcs), -1 error */
int loclist(Ctx *c, uint64_t off, int version, int as, uint64_t addr_base, int has_addr_base);

/* cdwarf_walk.c: every unit of .debug_info; 0, or -1 with c->msg set */
int walk(Ctx *c);

#endif
