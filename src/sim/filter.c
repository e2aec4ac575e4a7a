/* filter.c: the OData $filter subset APIM list operations accept and apim-sim serves —
 * clauses "FIELD eq 'v'", "FIELD ne 'v'", "contains(FIELD,'v')", "startswith(FIELD,'v')",
 * "endswith(FIELD,'v')" joined by " and "; FIELD is "name" or a property ("state",
 * "properties/state"). String comparisons are case-insensitive, as APIM's are. */
#include "sim.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FILTER_MAX 1024

static const char *const known_fields[] = {"name", "displayName", "state", "scope", "ownerId", "path",
                                           "serviceUrl", "description", "title", "url", "type", "protocol",
                                           "secret", "isCurrent", "apiRevision", NULL};

/* The field's value as a string (borrowed from resource or a static), or NULL if unknown. */
static const char *field_value(json_t *resource, const char *field, bool *known)
{
    if (util_str_starts_with(field, "properties/"))
        field += strlen("properties/");
    *known = false;
    for (const char *const *k = known_fields; *k; k++)
        if (strcmp(*k, field) == 0)
            *known = true;
    if (!*known)
        return NULL;
    json_t *v = strcmp(field, "name") == 0 ? json_object_get(resource, "name")
                                           : json_object_get(json_object_get(resource, "properties"), field);
    if (json_is_boolean(v))
        return json_is_true(v) ? "true" : "false";
    return json_string_value(v) ? json_string_value(v) : "";
}

static bool ci_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    return n == 0;
}

/* Parses "'text'" at *p (with '' as an escaped quote) into out. */
static int parse_quoted(const char **p, char *out, size_t cap)
{
    const char *s = *p;
    if (*s != '\'')
        return -1;
    size_t o = 0;
    for (s++; *s; s++) {
        if (*s == '\'' && s[1] == '\'')
            s++;
        else if (*s == '\'')
            break;
        if (o + 1 >= cap)
            return -1;
        out[o++] = *s;
    }
    if (*s != '\'')
        return -1;
    out[o] = '\0';
    *p = s + 1;
    return 0;
}

static int eval_function(const char *fn, const char **p, json_t *res, bool *result)
{
    char field[128], value[FILTER_MAX];
    int n = 0;
    if (sscanf(*p, " %127[A-Za-z/]%n", field, &n) != 1 || n == 0)
        return -1;
    const char *q = *p + n;
    while (*q == ' ')
        q++;
    if (*q++ != ',')
        return -1;
    while (*q == ' ')
        q++;
    if (parse_quoted(&q, value, sizeof(value)) != 0 || *q++ != ')')
        return -1;
    bool known;
    const char *v = field_value(res, field, &known);
    if (!known)
        return -1;
    size_t vl = strlen(v), nl = strlen(value);
    if (strcmp(fn, "contains") == 0)
        *result = ci_contains(v, value);
    else if (strcmp(fn, "startswith") == 0)
        *result = strncasecmp(v, value, nl) == 0;
    else
        *result = vl >= nl && strcasecmp(v + vl - nl, value) == 0;
    *p = q;
    return 0;
}

static int eval_clause(const char **p, json_t *res, bool *result)
{
    static const char *const fns[] = {"contains(", "startswith(", "endswith(", NULL};
    for (const char *const *f = fns; *f; f++)
        if (strncmp(*p, *f, strlen(*f)) == 0) {
            char fn[16];
            snprintf(fn, sizeof(fn), "%.*s", (int)strlen(*f) - 1, *f);
            *p += strlen(*f);
            return eval_function(fn, p, res, result);
        }
    char field[128], op[8], value[FILTER_MAX];
    int n = 0;
    if (sscanf(*p, "%127[A-Za-z/] %7[a-z] %n", field, op, &n) != 2 || n == 0)
        return -1;
    const char *q = *p + n;
    if (parse_quoted(&q, value, sizeof(value)) != 0)
        return -1;
    bool known;
    const char *v = field_value(res, field, &known);
    if (!known || (strcmp(op, "eq") != 0 && strcmp(op, "ne") != 0))
        return -1;
    *result = (strcasecmp(v, value) == 0) == (strcmp(op, "eq") == 0);
    *p = q;
    return 0;
}

int sim_filter_match(const char *filter, json_t *resource, util_error *err)
{
    const char *p = filter;
    bool all = true;
    if (strlen(filter) > FILTER_MAX)
        goto bad;
    while (true) {
        while (*p == ' ')
            p++;
        bool one = false;
        if (eval_clause(&p, resource, &one) != 0)
            goto bad;
        all = all && one;
        while (*p == ' ')
            p++;
        if (!*p)
            return all ? 1 : 0;
        if (strncmp(p, "and ", 4) != 0)
            goto bad;
        p += 4;
    }
bad:
    util_error_set(err, UTIL_EINVAL,
                   "Invalid filter clause specified: '%s'. Supported: FIELD eq|ne 'value', contains|startswith|"
                   "endswith(FIELD,'value'), joined by 'and'; FIELD is name, displayName, state, scope, path, ...",
                   filter);
    return -1;
}
