/*
 * policy/validate.c: structural validation of a policy document (root <policies>, the four
 * sections, <base /> placement) with errors and warnings located in the original text, and a
 * warning for a semantic-cache lookup whose score-threshold (a distance) is above 0.2.
 */
#include "policy_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Learn (llm-/azure-openai-semantic-cache-lookup): score-threshold is a distance from 0.0 to 1.0;
 * lower values require higher similarity; start low (about 0.05); above 0.2 risks mismatches. */
#define CACHE_THRESHOLD_WARN 0.2

static const char *const SECTIONS[] = {"inbound", "backend", "outbound", "on-error"};
#define NSECTIONS 4

static void issue(json_t *list, const policy_doc *d, xmlNodePtr n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void issue(json_t *list, const policy_doc *d, xmlNodePtr n, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int line = 1, col = 1;
    const pol_elem *e = pol_elem_of(n);
    if (e)
        pol_line_col(d->text, e->start, &line, &col);
    json_array_append_new(list, json_pack("{s:i, s:i, s:s}", "line", line, "column", col, "message", msg));
}

/* <base /> anywhere below a section's direct children is misplaced (a warning: APIM decides). */
static void check_nested_base(const policy_doc *d, xmlNodePtr n, json_t *warnings)
{
    for (xmlNodePtr c = pol_first_child(n); c; c = pol_next(c)) {
        if (pol_is(c, "base"))
            issue(warnings, d, c, "<base /> belongs directly in a section (inbound, backend, outbound, "
                  "on-error), not inside <%s>; move it up unless you are sure", (const char *)n->name);
        check_nested_base(d, c, warnings);
    }
}

static void check_section(const policy_doc *d, xmlNodePtr sec, json_t *errors, json_t *warnings)
{
    int bases = 0;
    for (xmlNodePtr c = pol_first_child(sec); c; c = pol_next(c)) {
        if (pol_is(c, "base") && ++bases == 2)
            issue(errors, d, c, "<%s> holds <base /> more than once; keep a single one",
                  (const char *)sec->name);
        if (!pol_is(c, "base"))
            check_nested_base(d, c, warnings);
    }
    if (bases == 0)
        issue(warnings, d, sec, "<%s> has no <base />: the policies of the enclosing scopes (product, "
              "global) will not run in this section; keep <base /> unless you mean to drop them",
              (const char *)sec->name);
}

/* A numeric score-threshold above 0.2 on a semantic-cache lookup (expressions and named values
 * are not judged). */
static void check_cache_thresholds(const policy_doc *d, xmlNodePtr n, json_t *warnings)
{
    for (xmlNodePtr c = pol_first_child(n); c; c = pol_next(c)) {
        if (pol_is(c, "llm-semantic-cache-lookup") || pol_is(c, "azure-openai-semantic-cache-lookup")) {
            char *v = pol_attr_dup(c, "score-threshold"), *end = NULL;
            double th = v ? strtod(v, &end) : 0;
            if (v && end != v && *end == '\0' && th > CACHE_THRESHOLD_WARN)
                issue(warnings, d, c, "score-threshold %s is above 0.2: it is a distance (lower requires more "
                      "similarity), so this lookup serves cached answers to prompts that are not alike; "
                      "Microsoft suggests starting near 0.05 and raising it in small steps", v);
            free(v);
        }
        check_cache_thresholds(d, c, warnings);
    }
}

static int section_index(xmlNodePtr n)
{
    for (int i = 0; i < NSECTIONS; i++)
        if (pol_is(n, SECTIONS[i]))
            return i;
    return -1;
}

json_t *policy_validate(const policy_doc *d)
{
    json_t *errors = json_array(), *warnings = json_array();
    xmlNodePtr root = xmlDocGetRootElement(d->xml);
    if (!pol_is(root, "policies")) {
        issue(errors, d, root, "the root element is <%s>; an APIM policy document's root must be <policies>",
              root ? (const char *)root->name : "");
    } else {
        xmlNodePtr seen[NSECTIONS] = {0};
        for (xmlNodePtr c = pol_first_child(root); c; c = pol_next(c)) {
            int i = section_index(c);
            if (i < 0)
                issue(errors, d, c, "<%s> is not a policy section; <policies> may only hold <inbound>, "
                      "<backend>, <outbound> and <on-error>", (const char *)c->name);
            else if (seen[i])
                issue(errors, d, c, "<%s> appears twice; merge the two sections into one", SECTIONS[i]);
            else {
                seen[i] = c;
                check_section(d, c, errors, warnings);
            }
        }
        for (int i = 0; i < NSECTIONS; i++)
            if (!seen[i])
                issue(warnings, d, root, "the <%s> section is missing; add <%s><base /></%s> so the "
                      "enclosing scopes' policies keep running there", SECTIONS[i], SECTIONS[i], SECTIONS[i]);
        check_cache_thresholds(d, root, warnings);
    }
    return json_pack("{s:b, s:o, s:o}", "valid", json_array_size(errors) == 0, "errors", errors,
                     "warnings", warnings);
}

int policy_check(const char *text, size_t len, json_t **report, util_error *err)
{
    policy_doc *d = policy_parse(text, len, err);
    if (!d) {
        int line = 0, col = 0;
        if (report && err && sscanf(err->message, "line %d, column %d:", &line, &col) == 2)
            *report = json_pack("{s:b, s:[{s:i, s:i, s:s}], s:[]}", "valid", 0, "errors", "line", line, "column",
                                col, "message", err->message, "warnings");
        else if (report)
            *report = json_pack("{s:b, s:[{s:s}], s:[]}", "valid", 0, "errors", "message", err ? err->message : "",
                                "warnings");
        return err && err->code ? err->code : UTIL_EINVAL;
    }
    json_t *r = policy_validate(d);
    policy_doc_free(d);
    int rc = 0;
    if (!json_is_true(json_object_get(r, "valid"))) {
        json_t *first = json_array_get(json_object_get(r, "errors"), 0);
        rc = util_error_set(err, UTIL_EINVAL, "line %d, column %d: %s",
                            (int)json_integer_value(json_object_get(first, "line")),
                            (int)json_integer_value(json_object_get(first, "column")),
                            json_string_value(json_object_get(first, "message")));
    }
    if (report)
        *report = r;
    else
        json_decref(r);
    return rc;
}
