/*
 * policy/facts.c: what a policy document does, as a JSON object (policy_facts): token and
 * request limits with the branch they sit in, backend routing, retry, semantic caching and
 * token metrics, and <base /> presence per section.
 */
#include "policy_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const SECTIONS[] = {"inbound", "backend", "outbound", "on-error"};

/* Integer or real when the value is a plain number, else the raw string; null when absent. */
static json_t *num_or_string(xmlNodePtr n, const char *attr)
{
    char *v = pol_attr_dup(n, attr);
    if (!v)
        return json_null();
    char *end;
    errno = 0;
    long long i = strtoll(v, &end, 10);
    json_t *j;
    if (*v && !*end && !errno)
        j = json_integer(i);
    else {
        double r = strtod(v, &end);
        j = (*v && !*end) ? json_real(r) : json_string(v);
    }
    free(v);
    return j ? j : json_null();
}

static json_t *str_attr(xmlNodePtr n, const char *attr)
{
    char *v = pol_attr_dup(n, attr);
    json_t *j = v ? json_string(v) : NULL;
    free(v);
    return j ? j : json_null();
}

static const char *section_of(xmlNodePtr n)
{
    for (; n && n->parent && n->parent->type == XML_ELEMENT_NODE; n = n->parent)
        if (pol_is(n->parent, "policies"))
            return (const char *)n->name;
    return "";
}

/* Sets "branch" and "condition" from the nearest enclosing <when>/<otherwise>. */
static void add_branch(json_t *o, xmlNodePtr n)
{
    for (xmlNodePtr p = n->parent; p && p->type == XML_ELEMENT_NODE; p = p->parent) {
        if (pol_is(p, "otherwise")) {
            json_object_set_new(o, "branch", json_string("otherwise"));
            json_object_set_new(o, "condition", json_null());
            return;
        }
        if (pol_is(p, "when")) {
            char *expr = pol_attr_dup(p, "condition");
            pol_cond c;
            pol_cond_parse(expr, &c);
            json_object_set_new(o, "branch", json_string("when"));
            json_object_set_new(o, "condition", pol_cond_json(expr, &c));
            pol_cond_free(&c);
            free(expr);
            return;
        }
    }
    json_object_set_new(o, "branch", json_string("unconditional"));
    json_object_set_new(o, "condition", json_null());
}

static json_t *base_item(const policy_doc *d, xmlNodePtr n)
{
    int line, col;
    pol_line_col(d->text, pol_elem_of(n)->start, &line, &col);
    return json_pack("{s:s, s:s, s:i}", "element", (const char *)n->name, "section", section_of(n), "line", line);
}

static bool name_is(xmlNodePtr n, const char *suffix)
{
    const char *name = (const char *)n->name;
    return (strncmp(name, "llm-", 4) == 0 && strcmp(name + 4, suffix) == 0) ||
           (strncmp(name, "azure-openai-", 13) == 0 && strcmp(name + 13, suffix) == 0);
}

static void token_limit(json_t *o, xmlNodePtr n)
{
    json_object_set_new(o, "tokens_per_minute", num_or_string(n, "tokens-per-minute"));
    json_object_set_new(o, "token_quota", num_or_string(n, "token-quota"));
    json_object_set_new(o, "token_quota_period", str_attr(n, "token-quota-period"));
    json_object_set_new(o, "counter_key", str_attr(n, "counter-key"));
    json_object_set_new(o, "estimate_prompt_tokens", str_attr(n, "estimate-prompt-tokens"));
    json_object_set_new(o, "remaining_tokens_variable_name", str_attr(n, "remaining-tokens-variable-name"));
    add_branch(o, n);
}

static void rate_limit(json_t *o, xmlNodePtr n)
{
    json_t *calls = num_or_string(n, "calls"), *period = num_or_string(n, "renewal-period");
    json_object_set_new(o, "calls", calls);
    json_object_set_new(o, "renewal_period", period);
    if (json_is_integer(calls) && json_is_integer(period) && json_integer_value(period) > 0)
        json_object_set_new(o, "rpm", json_real((double)json_integer_value(calls) * 60.0 /
                                                (double)json_integer_value(period)));
    else
        json_object_set_new(o, "rpm", json_null());
    json_object_set_new(o, "counter_key", str_attr(n, "counter-key"));
    add_branch(o, n);
}

static void quota(json_t *o, xmlNodePtr n)
{
    json_object_set_new(o, "calls", num_or_string(n, "calls"));
    json_object_set_new(o, "bandwidth", num_or_string(n, "bandwidth"));
    json_object_set_new(o, "renewal_period", num_or_string(n, "renewal-period"));
    json_object_set_new(o, "counter_key", str_attr(n, "counter-key"));
    add_branch(o, n);
}

static void backend(json_t *o, xmlNodePtr n)
{
    json_object_del(o, "element");
    json_object_set_new(o, "backend_id", str_attr(n, "backend-id"));
    json_object_set_new(o, "base_url", str_attr(n, "base-url"));
    add_branch(o, n);
}

static void retry(json_t *o, xmlNodePtr n)
{
    json_object_del(o, "element");
    char *cond = pol_attr_dup(n, "condition");
    json_object_set_new(o, "condition", cond ? json_string(cond) : json_null());
    json_object_set_new(o, "count", num_or_string(n, "count"));
    json_object_set_new(o, "interval", num_or_string(n, "interval"));
    json_object_set_new(o, "first_fast_retry", str_attr(n, "first-fast-retry"));
    json_object_set_new(o, "retries_429", json_boolean(cond && strstr(cond, "429")));
    json_object_set_new(o, "retries_5xx", json_boolean(cond && (strstr(cond, "500") || strstr(cond, "502") ||
                                                                strstr(cond, "503") || strstr(cond, "504") ||
                                                                strstr(cond, ">= 500") || strstr(cond, ">=500"))));
    free(cond);
}

static void cache_lookup(json_t *o, xmlNodePtr n)
{
    json_object_set_new(o, "score_threshold", num_or_string(n, "score-threshold"));
    json_object_set_new(o, "embeddings_backend_id", str_attr(n, "embeddings-backend-id"));
    json_object_set_new(o, "embeddings_backend_auth", str_attr(n, "embeddings-backend-auth"));
    json_t *vary = json_array();
    for (xmlNodePtr c = pol_first_child(n); c; c = pol_next(c)) {
        if (!pol_is(c, "vary-by"))
            continue;
        xmlChar *t = xmlNodeGetContent(c);
        json_array_append_new(vary, json_string(t ? (const char *)t : ""));
        xmlFree(t);
    }
    json_object_set_new(o, "vary_by", vary);
}

static void token_metric(json_t *o, xmlNodePtr n)
{
    json_object_del(o, "section");
    json_object_set_new(o, "namespace", str_attr(n, "namespace"));
    json_t *dims = json_array();
    /* A default dimension may be given without a value: the gateway fills it (llm-emit-token-metric). */
    static const char *const defaults[] = {"API ID", "Operation ID", "Product ID", "User ID", "Subscription ID",
                                           "Location", "Gateway ID", "Backend ID", NULL};
    for (xmlNodePtr c = pol_first_child(n); c; c = pol_next(c))
        if (pol_is(c, "dimension")) {
            json_t *d = json_pack("{s:o, s:o}", "name", str_attr(c, "name"), "value", str_attr(c, "value"));
            const char *name = json_string_value(json_object_get(d, "name"));
            for (const char *const *k = defaults; name && json_is_null(json_object_get(d, "value")) && *k; k++)
                if (util_str_eq_ci(name, *k))
                    json_object_set_new(d, "default", json_true());
            json_array_append_new(dims, d);
        }
    json_object_set_new(o, "dimensions", dims);
}

static void collect(const policy_doc *d, json_t *f, xmlNodePtr n)
{
    json_t *cache = json_object_get(f, "semantic_cache");
    for (xmlNodePtr c = pol_first_child(n); c; c = pol_next(c)) {
        json_t *o = base_item(d, c);
        const char *list = NULL;
        json_t *into = f;
        if (name_is(c, "token-limit"))
            token_limit(o, c), list = "token_limits";
        else if (pol_is(c, "rate-limit") || pol_is(c, "rate-limit-by-key"))
            rate_limit(o, c), list = "rate_limits";
        else if (pol_is(c, "quota") || pol_is(c, "quota-by-key"))
            quota(o, c), list = "quotas";
        else if (pol_is(c, "set-backend-service"))
            backend(o, c), list = "backends";
        else if (pol_is(c, "retry"))
            retry(o, c), list = "retries";
        else if (name_is(c, "semantic-cache-lookup"))
            cache_lookup(o, c), list = "lookups", into = cache;
        else if (name_is(c, "semantic-cache-store")) {
            json_object_set_new(o, "duration", num_or_string(c, "duration"));
            list = "stores", into = cache;
        } else if (name_is(c, "emit-token-metric"))
            token_metric(o, c), list = "token_metrics";
        if (list)
            json_array_append_new(json_object_get(into, list), o);
        else
            json_decref(o);
        collect(d, f, c);
    }
}

json_t *policy_facts(const policy_doc *d)
{
    json_t *sections = json_object();
    for (size_t i = 0; i < 4; i++) {
        xmlNodePtr s = pol_section(d, SECTIONS[i]);
        json_object_set_new(sections, SECTIONS[i], json_pack("{s:b, s:b}", "present", s != NULL, "base",
                                                             s && pol_section_has_base(s)));
    }
    json_t *f = json_pack("{s:o, s:[], s:[], s:[], s:[], s:[], s:{s:[], s:[]}, s:[]}", "sections", sections,
                          "token_limits", "rate_limits", "quotas", "backends", "retries", "semantic_cache",
                          "lookups", "stores", "token_metrics");
    collect(d, f, xmlDocGetRootElement(d->xml));
    return f;
}
