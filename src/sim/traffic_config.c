/* traffic_config.c: reads apim-sim's CURRENT configuration into the traffic model's snapshot —
 * per subscription with demand: its product, the effective token limit (the smallest
 * tokens-per-minute among the llm-/azure-openai-token-limit elements that run for it in the
 * global, product and API policies, a <when> branch running when its condition names the
 * subscription or product), the request rate (rate-limit / rate-limit-by-key, calls × 60 /
 * renewal-period), whether a semantic-cache lookup runs and its hit fraction, whether an
 * emit-token-metric element runs (namespace, dimensions), the backend its requests reach
 * (set-backend-service; for a pool the existing member with the best priority, and every existing
 * member with its priority and weight) and the <retry> around forward-request (count, the status codes
 * its condition retries, first-fast-retry, interval).
 * Demo-like layouts only: this is a small extraction, not a policy engine (see traffic.h). */
#include "traffic.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>

/* The parsed policy at rel (relative to the service), or NULL. */
static xmlDocPtr load_policy(sim_state *st, const char *rel)
{
    char *id = util_printf("%s/%s", st->service_id, rel);
    json_t *entry = sim_state_get(st, id);
    free(id);
    const char *xml = json_string_value(json_object_get(
        json_object_get(json_object_get(entry, "resource"), "properties"), "value"));
    if (!xml)
        return NULL;
    const char *format = json_string_value(json_object_get(entry, "format"));
    bool raw = format && strncmp(format, "rawxml", 6) == 0;
    char *text = raw ? sim_policy_escape_expressions(xml) : util_strdup(xml);
    xmlDocPtr doc = xmlReadMemory(text, (int)strlen(text), "policy.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    free(text);
    return doc;
}

static bool is_named(xmlNodePtr n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

/* Does a <when> condition run for this subscription / product? Unknown subjects count as true. */
static bool condition_matches(const char *cond, const char *sub, const char *product)
{
    if (!cond)
        return false;
    const char *who = strstr(cond, "Subscription") ? sub : strstr(cond, "Product") ? product : NULL;
    if (!who)
        return true;
    char *dq = util_printf("\"%s\"", who), *sq = util_printf("'%s'", who);
    bool hit = strstr(cond, dq) || strstr(cond, sq);
    free(dq);
    free(sq);
    return hit;
}

static bool when_matches(xmlNodePtr when, const char *sub, const char *product)
{
    xmlChar *cond = xmlGetProp(when, (const xmlChar *)"condition");
    bool hit = condition_matches((const char *)cond, sub, product);
    xmlFree(cond);
    return hit;
}

/* Does element n run for the subscription (every enclosing branch taken)? */
static bool runs_for(xmlNodePtr n, const char *sub, const char *product)
{
    for (xmlNodePtr p = n->parent; p && p->type == XML_ELEMENT_NODE; p = p->parent) {
        if (is_named(p, "when") && !when_matches(p, sub, product))
            return false;
        if (is_named(p, "otherwise"))
            for (xmlNodePtr s = p->prev; s; s = s->prev)
                if (is_named(s, "when") && when_matches(s, sub, product))
                    return false;
    }
    return true;
}

static double num_prop(xmlNodePtr n, const char *name)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    char *end = NULL;
    double d = v ? strtod((const char *)v, &end) : 0;
    bool ok = v && end && *end == '\0' && d > 0;
    xmlFree(v);
    return ok ? d : 0;
}

static void keep_min(json_t *cfg, const char *key, double v)
{
    double old = json_number_value(json_object_get(cfg, key));
    if (v > 0 && (old <= 0 || v < old))
        json_object_set_new(cfg, key, json_real(v));
}

/* {"namespace", "sub_dim", "api_dim"} of an emit-token-metric element: the dimensions whose value
 * is the subscription id / the API id (null when absent). */
static json_t *token_metric(xmlNodePtr n)
{
    xmlChar *ns = xmlGetProp(n, (const xmlChar *)"namespace");
    json_t *m = json_pack("{s:s,s:n,s:n}", "namespace", ns ? (const char *)ns : "API Management", "sub_dim", "api_dim");
    xmlFree(ns);
    for (xmlNodePtr d = n->children; d; d = d->next) {
        if (!is_named(d, "dimension"))
            continue;
        xmlChar *name = xmlGetProp(d, (const xmlChar *)"name"), *value = xmlGetProp(d, (const xmlChar *)"value");
        /* a default dimension without a value is filled by the gateway (llm-emit-token-metric reference) */
        if (name && (value ? strstr((const char *)value, "Subscription.Id") != NULL
                           : !strcasecmp((const char *)name, "Subscription ID")))
            json_object_set_new(m, "sub_dim", json_string((const char *)name));
        else if (name && (value ? strstr((const char *)value, "Api.Id") != NULL : !strcasecmp((const char *)name, "API ID")))
            json_object_set_new(m, "api_dim", json_string((const char *)name));
        xmlFree(name);
        xmlFree(value);
    }
    return m;
}

/* A team's own limit: its counter is keyed by the subscription. Limits keyed by anything else
 * (IP, product...) are shared pools, one counter for every request with the key (Learn,
 * llm-token-limit / rate-limit-by-key): not modelled per team. */
static bool keyed_by_subscription(xmlNodePtr n)
{
    xmlChar *k = xmlGetProp(n, (const xmlChar *)"counter-key");
    bool yes = k && strstr((const char *)k, "context.Subscription");
    xmlFree(k);
    return yes;
}

static bool has_descendant(xmlNodePtr n, const char *name)
{
    for (xmlNodePtr c = n->children; c; c = c->next)
        if (is_named(c, name) || (c->type == XML_ELEMENT_NODE && has_descendant(c, name)))
            return true;
    return false;
}

/* Does a retry condition hold for status? It is read as far as its text allows: "true"/"false", or
 * comparisons "StatusCode <op> N" (op ==, !=, >=, >, <=, <), any of which holding counts (they are
 * joined by || in the usual forms). Anything else: no retry (the safe reading). */
static bool retry_condition_holds(const char *cond, int status)
{
    if (!cond)
        return false;
    if (!strcmp(cond, "true") || !strcmp(cond, "@(true)"))
        return true;
    for (const char *p = strstr(cond, "StatusCode"); p; p = strstr(p + 1, "StatusCode")) {
        const char *q = p + strlen("StatusCode");
        while (*q == ' ')
            q++;
        char op[3] = "";
        int k = 0;
        while (k < 2 && (*q == '=' || *q == '!' || *q == '>' || *q == '<'))
            op[k++] = *q++;
        op[k] = '\0';
        while (*q == ' ')
            q++;
        char *end = NULL;
        long v = strtol(q, &end, 10);
        if (end == q)
            continue;
        bool hold = !strcmp(op, "==") ? status == v : !strcmp(op, "!=") ? status != v : !strcmp(op, ">=") ? status >= v
                    : !strcmp(op, ">") ? status > v : !strcmp(op, "<=") ? status <= v : !strcmp(op, "<") ? status < v
                                                                                            : false;
        if (hold)
            return true;
    }
    return false;
}

/* {"count", "on429", "on5xx", "first_fast", "interval"} of a <retry> that holds forward-request. */
static json_t *retry_of(xmlNodePtr n)
{
    xmlChar *cond = xmlGetProp(n, (const xmlChar *)"condition"), *ff = xmlGetProp(n, (const xmlChar *)"first-fast-retry");
    double count = num_prop(n, "count"), interval = num_prop(n, "interval");
    json_t *r = json_pack("{s:i,s:b,s:b,s:b,s:f}", "count", (int)(count > 50 ? 50 : count), "on429",
                          retry_condition_holds((const char *)cond, 429), "on5xx",
                          retry_condition_holds((const char *)cond, SIM_FAULT_5XX_STATUS), "first_fast",
                          ff && !strcmp((const char *)ff, "true"), "interval", interval);
    xmlFree(cond);
    xmlFree(ff);
    return r;
}

/* Walks one document and folds what runs for the subscription into cfg. A <rate-limit> in the
 * global policy is not valid there (product, API and operation scope only) and is not counted. */
static void fold(xmlNodePtr n, const char *sub, const char *product, bool global, json_t *cfg)
{
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        const char *name = (const char *)n->name;
        if (runs_for(n, sub, product)) {
            if ((!strcmp(name, "llm-token-limit") || !strcmp(name, "azure-openai-token-limit")) &&
                keyed_by_subscription(n))
                keep_min(cfg, "limit_tpm", num_prop(n, "tokens-per-minute"));
            else if (((!strcmp(name, "rate-limit") && !global) ||
                      (!strcmp(name, "rate-limit-by-key") && keyed_by_subscription(n))) &&
                     num_prop(n, "renewal-period") > 0)
                keep_min(cfg, "rpm", num_prop(n, "calls") * 60.0 / num_prop(n, "renewal-period"));
            else if (!strcmp(name, "llm-semantic-cache-lookup") || !strcmp(name, "azure-openai-semantic-cache-lookup")) {
                /* score-threshold is a distance: lower requires more similarity, so fewer hits
                 * (Learn, llm-semantic-cache-lookup policy) */
                double th = num_prop(n, "score-threshold");
                double hit = 5.0 * (th > 0 ? th : 0);
                json_object_set_new(cfg, "cache", json_true());
                json_object_set_new(cfg, "hit", json_real(hit < 0 ? 0 : hit > 0.9 ? 0.9 : hit));
            } else if (!strcmp(name, "llm-emit-token-metric") || !strcmp(name, "azure-openai-emit-token-metric"))
                json_object_set_new(cfg, "metric", token_metric(n));
            else if (!strcmp(name, "retry") && !json_object_get(cfg, "retry") && has_descendant(n, "forward-request"))
                json_object_set_new(cfg, "retry", retry_of(n));
            else if (!strcmp(name, "set-backend-service") && !json_object_get(cfg, "backend_ref")) {
                xmlChar *b = xmlGetProp(n, (const xmlChar *)"backend-id");
                if (b)
                    json_object_set_new(cfg, "backend_ref", json_string((const char *)b));
                xmlFree(b);
            }
        }
        fold(n->children, sub, product, global, cfg);
    }
}

static void fold_policy(sim_state *st, const char *rel, const char *sub, const char *product, json_t *cfg)
{
    xmlDocPtr doc = load_policy(st, rel);
    if (doc)
        fold(xmlDocGetRootElement(doc), sub, product, strcmp(rel, "policies/policy") == 0, cfg);
    xmlFreeDoc(doc);
}

static json_t *backend_props(sim_state *st, const char *id)
{
    char *full = util_printf("%s/backends/%s", st->service_id, id);
    json_t *props = json_object_get(json_object_get(sim_state_get(st, full), "resource"), "properties");
    free(full);
    return props;
}

/* Every existing member of the pool ref, [[name, priority, weight], ...] in pool order (a Single
 * backend is its own only member); NULL when nothing can serve. APIM's defaults when absent:
 * priority and weight as equal (BackendPoolItem: both optional). */
static json_t *members_of(sim_state *st, const char *ref)
{
    json_t *props = ref ? backend_props(st, ref) : NULL;
    if (!props)
        return NULL;
    json_t *members = json_object_get(json_object_get(props, "pool"), "services");
    if (!json_is_array(members))
        return json_pack("[[s,i,i]]", ref, 1, 1);
    json_t *out = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m) {
        const char *mid = json_string_value(json_object_get(m, "id"));
        const char *slash = mid ? strrchr(mid, '/') : NULL;
        const char *name = slash ? slash + 1 : mid;
        json_t *p = json_object_get(m, "priority"), *w = json_object_get(m, "weight");
        if (name && backend_props(st, name) && json_array_size(out) < SIM_TRAFFIC_MAX_BACKENDS)
            json_array_append_new(out, json_pack("[s,I,I]", name, json_is_integer(p) ? json_integer_value(p) : (json_int_t)1,
                                                 json_is_integer(w) ? json_integer_value(w) : (json_int_t)1));
    }
    if (!json_array_size(out)) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* The backend a request reaches while every breaker is closed: the first of members (members_of)
 * with the smallest priority number. NULL when members is. Borrowed from members. */
static const char *first_choice(const json_t *members)
{
    const char *best = NULL;
    json_int_t best_prio = 0;
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m) {
        json_int_t prio = json_integer_value(json_array_get(m, 1));
        if (!best || prio < best_prio) {
            best = json_string_value(json_array_get(m, 0));
            best_prio = prio;
        }
    }
    return best;
}

static const char *scope_product(sim_state *st, const char *sub)
{
    char *id = util_printf("%s/subscriptions/%s", st->service_id, sub);
    const char *scope = json_string_value(json_object_get(
        json_object_get(json_object_get(sim_state_get(st, id), "resource"), "properties"), "scope"));
    free(id);
    const char *p = scope ? strstr(scope, "/products/") : NULL;
    return p ? p + strlen("/products/") : NULL;
}

static const char *traffic_api(sim_state *st)
{
    const char *api = json_string_value(json_object_get(sim_traffic_scenario(st), "api_id"));
    return api ? api : "aoai-completions";
}

json_t *sim_traffic_snapshot(sim_state *st)
{
    json_t *out = json_object();
    const char *sub;
    json_t *tpm;
    const char *api = traffic_api(st);
    json_object_foreach(sim_traffic_demand(st), sub, tpm) {
        const char *product = scope_product(st, sub);
        if (!product)
            continue; /* the subscription was deleted, or is not scoped to a product */
        json_t *cfg = json_pack("{s:s,s:s,s:f,s:f,s:b,s:f,s:n}", "product", product, "api", api, "limit_tpm", 0.0,
                                "rpm", 0.0, "cache", 0, "hit", 0.0, "metric");
        char *prel = util_printf("products/%s/policies/policy", product);
        char *arel = util_printf("apis/%s/policies/policy", api);
        fold_policy(st, "policies/policy", sub, product, cfg);
        fold_policy(st, prel, sub, product, cfg);
        fold_policy(st, arel, sub, product, cfg);
        free(prel);
        free(arel);
        const char *ref = json_string_value(json_object_get(cfg, "backend_ref"));
        json_t *members = members_of(st, ref);
        const char *backend = first_choice(members);
        json_object_set_new(cfg, "backend", backend ? json_string(backend) : json_null());
        json_object_set_new(cfg, "pool", members ? members : json_null());
        if (!json_object_get(cfg, "retry"))
            json_object_set_new(cfg, "retry", json_null());
        json_object_del(cfg, "backend_ref");
        json_object_set_new(out, sub, cfg);
    }
    return out;
}
