/* paging: limit, opaque cursor, match filter and the byte budget shared by the list tools (see
 * paging.h). A cursor is "p" + the offset + "." + a fingerprint of the filters, in hex: opaque to
 * the assistant, checked here. */
#include "paging.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long fingerprint(const char *filters, const char *match)
{
    unsigned long h = 2166136261u;
    for (const char *s = filters ? filters : ""; *s; s++)
        h = ((h ^ (unsigned char)*s) * 16777619u) & 0xffffffffu;
    h = ((h ^ 0x1f) * 16777619u) & 0xffffffffu;
    for (const char *s = match ? match : ""; *s; s++)
        h = ((h ^ (unsigned char)tolower((unsigned char)*s)) * 16777619u) & 0xffffffffu;
    return h;
}

int tools_page_read(json_t *args, const char *filters, struct tools_page *pg, util_error *err)
{
    memset(pg, 0, sizeof *pg);
    json_t *limit = json_object_get(args, "limit");
    pg->limit = TOOLS_PAGE_DEFAULT;
    if (limit && (!json_is_integer(limit) || json_integer_value(limit) < 1 ||
                  json_integer_value(limit) > TOOLS_PAGE_MAX))
        return util_error_set(err, UTIL_EINVAL, "limit must be an integer from 1 to %d", TOOLS_PAGE_MAX);
    if (limit)
        pg->limit = (size_t)json_integer_value(limit);
    const char *match = json_string_value(json_object_get(args, "match"));
    pg->match = match && *match ? match : NULL;
    pg->scope = fingerprint(filters, pg->match);
    const char *cursor = json_string_value(json_object_get(args, "cursor"));
    if (!cursor || !*cursor)
        return 0;
    unsigned long long off = 0;
    unsigned long scope = 0;
    int used = 0;
    if (sscanf(cursor, "p%llx.%lx%n", &off, &scope, &used) != 2 || (size_t)used != strlen(cursor) ||
        off > 1000000)
        return util_error_set(err, UTIL_EINVAL, "cursor '%.64s' is not one this tool gave; pass next_cursor from the "
                              "previous page unchanged, or leave cursor out for the first page", cursor);
    if (scope != pg->scope)
        return util_error_set(err, UTIL_EINVAL, "this cursor belongs to a listing with other filters; keep the same "
                              "filters (and match) while paging, or leave cursor out to start again");
    pg->offset = (size_t)off;
    return 0;
}

static bool contains_ci(const char *hay, const char *needle)
{
    if (!hay)
        return false;
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++) {
        size_t i = 0;
        while (i < n && p[i] && tolower((unsigned char)p[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return true;
    }
    return false;
}

bool tools_page_matches(const struct tools_page *pg, const char *id, const char *name)
{
    return !pg->match || contains_ci(id, pg->match) || contains_ci(name, pg->match);
}

char *tools_page_cursor(const struct tools_page *pg, size_t offset)
{
    return util_printf("p%zx.%lx", offset, pg->scope);
}

size_t tools_page_row_bytes(json_t *row, size_t text_len)
{
    char *s = json_dumps(row, JSON_COMPACT);
    size_t n = s ? strlen(s) : 0;
    free(s);
    return n + text_len + 16;
}
