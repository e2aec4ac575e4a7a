/* paging: what every list result shares so that it stays bounded whatever the gateway's size
 * (issue 15): `limit` (default 100, at most 500), an opaque `cursor` for the next page that is
 * only valid for the same filters, `match` (case-insensitive substring of an id or display
 * name), and a byte budget that ends a page early so no result passes ~100 KB.
 *
 * Ownership: tools_page_read() fills a caller-owned struct (its strings borrowed from args);
 * tools_page_cursor() returns heap memory (or NULL for the last page).
 */
#ifndef AIGW_TOOLS_PAGING_H
#define AIGW_TOOLS_PAGING_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "util.h"

#define TOOLS_PAGE_DEFAULT 100
#define TOOLS_PAGE_MAX 500
/* Bytes of rows (structuredContent + text) one page may hold: the whole result, framing and
 * escaping included, stays under 100 KB (about 25k tokens). */
#define TOOLS_PAGE_BYTES 70000

/* Input-schema members of the paged tools (JSON text, no braces). */
#define TOOLS_PAGE_SCHEMA                                                                               \
    "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":500},"                                   \
    "\"cursor\":{\"type\":\"string\",\"maxLength\":64}," \
    "\"match\":{\"type\":\"string\",\"maxLength\":256,\"description\":\"part of id or name\"}"

struct tools_page {
    size_t offset;      /* first row of this page, in the sorted, filtered rows */
    size_t limit;
    const char *match;  /* NULL = no filter */
    unsigned long scope; /* fingerprint of the filters the cursor belongs to */
};

/* Reads limit, cursor and match; `filters` names every other filter (e.g. "aoai|active"), so a
 * cursor is refused when a filter changed. 0 or UTIL_EINVAL with a sentence in err. */
int tools_page_read(json_t *args, const char *filters, struct tools_page *pg, util_error *err);
/* true when match is NULL or a case-insensitive substring of id or name. */
bool tools_page_matches(const struct tools_page *pg, const char *id, const char *name);
/* The cursor of the page starting at offset (heap). */
char *tools_page_cursor(const struct tools_page *pg, size_t offset);
/* Bytes a row costs in a result: its compact JSON plus its text line. */
size_t tools_page_row_bytes(json_t *row, size_t text_len);

#endif
