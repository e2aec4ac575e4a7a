/* resources.c: the APIM resources under one service — service GET; apis, operations, products,
 * subscriptions, policies (global, product, API, operation scope), backends (Single and Pool) and
 * named values: GET/HEAD, PUT, PATCH, DELETE with ETag / If-Match, list with $filter, $top,
 * $skip and nextLink paging, and the listSecrets / listValue actions. Called with the lock held. */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SEGS_MAX 8

typedef struct kind {
    const char *chain;  /* collection segments joined by '/' */
    const char *entity; /* for "<entity> not found." */
    bool writable;
} kind;

static const kind kinds[] = {
    {"apis", "Api", true},
    {"apis/operations", "Operation", true},
    {"apis/policies", "Policy", true},
    {"apis/operations/policies", "Policy", true},
    {"products", "Product", true},
    {"products/policies", "Policy", true},
    {"products/subscriptions", "Subscription", false},
    {"products/apis", "Api", false},
    {"subscriptions", "Subscription", true},
    {"policies", "Policy", true},
    {"backends", "Backend", true},
    {"namedValues", "NamedValue", true},
};

typedef struct rpath {
    char *copy;
    char *seg[SEGS_MAX];
    int n;             /* number of segments */
    const kind *k;     /* kind of the last collection */
    const char *action; /* "listSecrets" / "listValue" or NULL */
    char chain[128];
} rpath;

static int parse_rel(const char *rel, rpath *rp)
{
    memset(rp, 0, sizeof(*rp));
    rp->copy = util_strdup(rel);
    char *save = NULL;
    for (char *s = strtok_r(rp->copy, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
        if (rp->n == SEGS_MAX)
            return -1;
        rp->seg[rp->n++] = s;
    }
    if (rp->n >= 3 && rp->n % 2 == 1 &&
        (strcmp(rp->seg[rp->n - 1], "listSecrets") == 0 || strcmp(rp->seg[rp->n - 1], "listValue") == 0)) {
        rp->action = rp->seg[rp->n - 1];
        rp->n--;
    }
    size_t o = 0;
    for (int i = 0; i < rp->n; i += 2) {
        o += (size_t)snprintf(rp->chain + o, sizeof(rp->chain) - o, "%s%s", i ? "/" : "", rp->seg[i]);
        if (o >= sizeof(rp->chain)) /* longer than any kind's chain (found by fuzz_sim) */
            return -1;
    }
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcasecmp(kinds[i].chain, rp->chain) == 0)
            rp->k = &kinds[i];
    return rp->k ? 0 : -1;
}

static bool kind_is(const rpath *rp, const char *entity) { return strcmp(rp->k->entity, entity) == 0; }

/* Full resource id of the first n segments, with the collection names in canonical case. */
static char *id_of(sim_state *st, const rpath *rp, int n)
{
    util_buf b;
    util_buf_init(&b, 0);
    util_buf_puts(&b, st->service_id);
    const char *chain = rp->k->chain;
    for (int i = 0; i < n; i++) {
        if (i % 2 == 0) {
            const char *slash = strchr(chain, '/');
            size_t len = slash ? (size_t)(slash - chain) : strlen(chain);
            util_buf_printf(&b, "/%.*s", (int)len, chain);
            chain = slash ? slash + 1 : chain + len;
        } else {
            util_buf_printf(&b, "/%s", rp->seg[i]);
        }
    }
    util_buf_puts(&b, "");
    return util_buf_steal(&b);
}

static char *type_of(const rpath *rp) { return util_printf("Microsoft.ApiManagement/service/%s", rp->k->chain); }

static void not_found(sim_response *resp, const char *entity)
{
    sim_response_arm_error(resp, 404, "ResourceNotFound", NULL, "%s not found.", entity);
}

static void validation_error(sim_response *resp, json_t *details)
{
    sim_response_arm_error(resp, 400, "ValidationError", details, "One or more fields contain incorrect values:");
}

static void validation_one(sim_response *resp, const char *target, const char *msg)
{
    validation_error(resp, json_pack("[{s:s,s:s,s:s}]", "code", "ValidationError", "target", target, "message", msg));
}

/* A copy of the stored resource as the API shows it (named value secrets hidden). New reference. */
static json_t *public_view(json_t *entry)
{
    json_t *r = json_deep_copy(json_object_get(entry, "resource"));
    json_t *props = json_object_get(r, "properties");
    if (json_is_true(json_object_get(props, "secret")))
        json_object_del(props, "value");
    return r;
}

static void answer_entry(json_t *entry, int status, sim_response *resp)
{
    sim_response_json(resp, status, public_view(entry));
    sim_response_header(resp, "ETag", json_string_value(json_object_get(entry, "etag")));
}

/* ---- If-Match ------------------------------------------------------------------------- */

/* Returns 0 when the request may proceed; fills resp with 412 (or 400 when required and absent). */
static int check_if_match(const sim_request *req, json_t *entry, bool required, sim_response *resp)
{
    const char *im = json_string_value(json_object_get(req->headers, "if-match"));
    if (!im) {
        if (!required)
            return 0;
        sim_response_arm_error(resp, 400, "ValidationError", NULL,
                               "The If-Match header is required for this operation: send the resource's ETag, or "
                               "'*' to overwrite unconditionally.");
        return -1;
    }
    if (strcmp(im, "*") == 0)
        return 0;
    const char *etag = entry ? json_string_value(json_object_get(entry, "etag")) : NULL;
    if (etag && (strcmp(im, etag) == 0 || (strlen(im) + 2 == strlen(etag) && strncmp(etag + 1, im, strlen(im)) == 0)))
        return 0;
    sim_response_arm_error(resp, 412, "PreconditionFailed", NULL,
                           "The specified precondition 'If-Match = %s' failed: the entity has been modified since "
                           "it was read. Read it again (GET) and retry with its current ETag.", im);
    return -1;
}

/* ---- lists ---------------------------------------------------------------------------- */

static int query_int(const sim_request *req, const char *name, int dflt, sim_response *resp)
{
    const char *v = json_string_value(json_object_get(req->query, name));
    if (!v)
        return dflt;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || n < 0 || n > 1000000) {
        char msg[160];
        snprintf(msg, sizeof(msg), "'%s' must be a non-negative integer, got '%s'.", name, v);
        validation_one(resp, name, msg);
        return -2;
    }
    return (int)n;
}

/* Product subscriptions are the service's subscriptions whose scope is the product. */
static json_t *product_subscription_view(json_t *res, const char *product_id)
{
    json_t *r = json_deep_copy(res);
    char *id = util_printf("%s/subscriptions/%s", product_id, json_string_value(json_object_get(res, "name")));
    json_object_set_new(r, "id", json_string(id));
    json_object_set_new(r, "type", json_string("Microsoft.ApiManagement/service/products/subscriptions"));
    free(id);
    return r;
}

/* The APIs of a product: the scenario's product "apis" list, as API contracts (new array). */
static json_t *collect_product_apis(sim_state *st, const rpath *rp)
{
    json_t *out = json_array();
    char *product_id = id_of(st, rp, rp->n - 1);
    size_t i;
    json_t *name;
    json_array_foreach(json_object_get(sim_state_get(st, product_id), "apis"), i, name) {
        char *api_id = util_printf("%s/apis/%s", st->service_id, json_string_value(name));
        json_t *entry = sim_state_get(st, api_id);
        if (entry)
            json_array_append_new(out, public_view(entry));
        free(api_id);
    }
    free(product_id);
    return out;
}

/* Candidates of a collection, in insertion order (new array): the stored entries, or for product
 * subscriptions the stored resources; view() makes what the list shows of one, so that a page
 * renders only its own items (a list of thousands stays linear, not quadratic, in its pages). */
static json_t *collect(sim_state *st, const rpath *rp, char **product_id)
{
    *product_id = NULL;
    if (strcmp(rp->k->chain, "products/apis") == 0)
        return collect_product_apis(st, rp);
    json_t *out = json_array();
    bool product_subs = strcmp(rp->k->chain, "products/subscriptions") == 0;
    char *coll = product_subs ? util_printf("%s/subscriptions", st->service_id) : id_of(st, rp, rp->n);
    char *prefix = sim_lower(coll);
    size_t plen = strlen(prefix);
    *product_id = product_subs ? id_of(st, rp, rp->n - 1) : NULL;
    const char *key;
    json_t *entry;
    json_object_foreach(st->resources, key, entry) {
        if (strncmp(key, prefix, plen) != 0 || key[plen] != '/' || strchr(key + plen + 1, '/'))
            continue;
        json_t *res = json_object_get(entry, "resource");
        if (!product_subs)
            json_array_append(out, entry);
        else if (util_str_eq_ci(json_string_value(json_object_get(json_object_get(res, "properties"), "scope")),
                                *product_id))
            json_array_append(out, res);
    }
    free(coll);
    free(prefix);
    return out;
}

/* What a list shows of one candidate of collect() (new reference). */
static json_t *view(const rpath *rp, const char *product_id, json_t *item)
{
    if (strcmp(rp->k->chain, "products/apis") == 0)
        return json_incref(item);
    return product_id ? product_subscription_view(item, product_id) : public_view(item);
}

static char *next_link(const sim_request *req, const char *filter, int skip, int top)
{
    char *ef = filter ? util_url_encode(filter) : NULL;
    const char *v = json_string_value(json_object_get(req->query, "api-version"));
    char topq[32] = "";
    if (top >= 0)
        snprintf(topq, sizeof(topq), "&%%24top=%d", top);
    char *link = util_printf("%s%s?api-version=%s%s%s%s&%%24skip=%d", req->base_url, req->path, v,
                             ef ? "&%24filter=" : "", ef ? ef : "", topq, skip);
    free(ef);
    return link;
}

static void list(sim_state *st, const sim_request *req, const rpath *rp, sim_response *resp)
{
    const char *filter = json_string_value(json_object_get(req->query, "$filter"));
    int top = query_int(req, "$top", -1, resp);
    int skip = top == -2 ? -2 : query_int(req, "$skip", 0, resp);
    if (skip == -2)
        return;
    char *product_id = NULL;
    json_t *all = collect(st, rp, &product_id), *matched = json_array();
    size_t i;
    json_t *item;
    json_array_foreach(all, i, item) {
        if (!filter) {
            json_array_append(matched, item);
            continue;
        }
        util_error err = {0};
        json_t *v = view(rp, product_id, item);
        int m = sim_filter_match(filter, v, &err);
        json_decref(v);
        if (m < 0) {
            sim_response_arm_error(resp, 400, "ValidationError", NULL, "%s", err.message);
            goto done;
        }
        if (m)
            json_array_append(matched, item);
    }
    int total = (int)json_array_size(matched), page = st->opt.page_size;
    int want = top >= 0 ? top : total;
    int end = skip + (want < page ? want : page);
    end = end < total ? end : total;
    json_t *value = json_array();
    for (int k = skip; k < end; k++)
        json_array_append_new(value, view(rp, product_id, json_array_get(matched, (size_t)k)));
    json_t *body = json_pack("{s:o,s:i}", "value", value, "count", total);
    int left = top >= 0 ? top - (end - skip) : total - end;
    if (end < total && left > 0) {
        char *link = next_link(req, filter, end, top >= 0 ? left : -1);
        json_object_set_new(body, "nextLink", json_string(link));
        free(link);
    }
    sim_response_json(resp, 200, body);
done:
    free(product_id);
    json_decref(all);
    json_decref(matched);
}

/* ---- writes --------------------------------------------------------------------------- */

static int validate_policy_props(json_t *props, sim_response *resp)
{
    const char *format = json_string_value(json_object_get(props, "format"));
    const char *value = json_string_value(json_object_get(props, "value"));
    if (!format)
        format = "xml";
    if (strcmp(format, "xml") != 0 && strcmp(format, "rawxml") != 0) {
        validation_one(resp, "format",
                       strstr(format, "link") ? "apim-sim does not fetch policy documents from links: send 'xml' or "
                                                "'rawxml' with the document in 'value'."
                                              : "'format' must be one of xml, rawxml, xml-link, rawxml-link.");
        return -1;
    }
    util_error err = {0};
    if (!value) {
        validation_one(resp, "value", "'value' is required: the policy document.");
        return -1;
    }
    if (sim_validate_policy(value, format, &err) != 0) {
        validation_one(resp, "representation", err.message);
        return -1;
    }
    return 0;
}

static int validate_props(sim_state *st, const rpath *rp, json_t *props, sim_response *resp)
{
    if (!json_is_object(props)) {
        validation_one(resp, "properties", "The request body must be a JSON object with a 'properties' object.");
        return -1;
    }
    if (kind_is(rp, "Policy"))
        return validate_policy_props(props, resp);
    if (kind_is(rp, "Backend")) {
        json_t *details = json_array();
        if (sim_validate_backend(props, sim_state_is_backend, st, details) != 0) {
            validation_error(resp, details);
            return -1;
        }
        json_decref(details);
        return 0;
    }
    const char *scope = json_string_value(json_object_get(props, "scope"));
    if (kind_is(rp, "Subscription") && scope && !util_str_ends_with(scope, "/apis") && !sim_state_get(st, scope)) {
        validation_one(resp, "scope", "'scope' must be the full id of an existing product or API of this service.");
        return -1;
    }
    static const struct { const char *entity, *field; } required[] = {
        {"Api", "path"}, {"Product", "displayName"}, {"Subscription", "scope"}, {"Subscription", "displayName"},
        {"NamedValue", "displayName"}, {"Operation", "method"}, {"Operation", "urlTemplate"}};
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
        if (kind_is(rp, required[i].entity) && !json_string_value(json_object_get(props, required[i].field))) {
            char msg[128];
            snprintf(msg, sizeof(msg), "'%s' is required.", required[i].field);
            validation_one(resp, required[i].field, msg);
            return -1;
        }
    return 0;
}

/* Builds the stored resource for a PUT (props borrowed). */
static json_t *build_resource(sim_state *st, const rpath *rp, json_t *props, json_t *old)
{
    char *id = id_of(st, rp, rp->n), *type = type_of(rp);
    json_t *p = json_deep_copy(props);
    if (kind_is(rp, "Policy"))
        json_object_del(p, "format");
    if (kind_is(rp, "Backend") && !json_object_get(p, "type"))
        json_object_set_new(p, "type", json_string("Single"));
    if (kind_is(rp, "NamedValue") && !json_object_get(p, "secret"))
        json_object_set_new(p, "secret", json_false());
    if (kind_is(rp, "NamedValue") && json_is_true(json_object_get(p, "secret")))
        util_log_add_secret(json_string_value(json_object_get(p, "value")));
    if (kind_is(rp, "Subscription")) {
        json_t *created = json_object_get(json_object_get(json_object_get(old, "resource"), "properties"), "createdDate");
        char now[32];
        util_time_iso8601(sim_now_s(st), now, sizeof(now));
        json_object_set_new(p, "createdDate", created ? json_incref(created) : json_string(now));
        if (!json_object_get(p, "state"))
            json_object_set_new(p, "state", json_string("submitted"));
        json_object_del(p, "primaryKey");
        json_object_del(p, "secondaryKey");
    }
    json_t *r = json_pack("{s:s,s:s,s:s,s:o}", "id", id, "type", type, "name", rp->seg[rp->n - 1], "properties", p);
    free(id);
    free(type);
    return r;
}

static void keep_secrets(json_t *entry, json_t *old, json_t *props)
{
    json_t *secrets = json_object_get(old, "secrets");
    if (secrets) {
        json_object_set(entry, "secrets", secrets);
        return;
    }
    char k1[33], k2[33];
    util_random_hex(k1, 16);
    util_random_hex(k2, 16);
    const char *p1 = json_string_value(json_object_get(props, "primaryKey"));
    const char *p2 = json_string_value(json_object_get(props, "secondaryKey"));
    json_object_set_new(entry, "secrets", json_pack("{s:s,s:s}", "primaryKey", p1 ? p1 : k1, "secondaryKey", p2 ? p2 : k2));
}

static void store(sim_state *st, const rpath *rp, json_t *props, json_t *old, const char *format, sim_response *resp)
{
    bool existed = old != NULL;
    json_t *keep = json_incref(old);
    char *id = id_of(st, rp, rp->n);
    json_t *entry = sim_state_put(st, id, build_resource(st, rp, props, old));
    if (format)
        json_object_set_new(entry, "format", json_string(format));
    if (kind_is(rp, "Subscription"))
        keep_secrets(entry, keep, props);
    json_decref(keep);
    free(id);
    answer_entry(entry, existed ? 200 : 201, resp);
}

static json_t *parse_body(const sim_request *req, sim_response *resp)
{
    json_error_t jerr;
    json_t *body = json_loadb(req->body, req->body_len, 0, &jerr);
    if (!json_is_object(body)) {
        char msg[300];
        snprintf(msg, sizeof(msg), "The request body is not a JSON object: %s (line %d, column %d).",
                 body ? "not an object" : jerr.text, jerr.line, jerr.column);
        json_decref(body);
        sim_response_arm_error(resp, 400, "InvalidRequestContent", NULL, "%s", msg);
        return NULL;
    }
    return body;
}

static void put(sim_state *st, const sim_request *req, const rpath *rp, json_t *entry, sim_response *resp)
{
    json_t *body = parse_body(req, resp);
    if (!body || check_if_match(req, entry, false, resp) != 0) {
        json_decref(body);
        return;
    }
    json_t *props = json_object_get(body, "properties");
    if (validate_props(st, rp, props, resp) == 0) {
        const char *format = json_string_value(json_object_get(props, "format"));
        store(st, rp, props, entry, kind_is(rp, "Policy") ? (format ? format : "xml") : NULL, resp);
    }
    json_decref(body);
}

static void patch(sim_state *st, const sim_request *req, const rpath *rp, json_t *entry, sim_response *resp)
{
    json_t *body = parse_body(req, resp);
    if (!body || check_if_match(req, entry, true, resp) != 0) {
        json_decref(body);
        return;
    }
    json_t *props = json_deep_copy(json_object_get(json_object_get(entry, "resource"), "properties"));
    json_object_update_recursive(props, json_object_get(body, "properties"));
    if (validate_props(st, rp, props, resp) == 0)
        store(st, rp, props, entry, NULL, resp);
    json_decref(props);
    json_decref(body);
}

/* Name of a pool that references backend id, or NULL (borrowed). */
static const char *pool_using(sim_state *st, const char *id)
{
    const char *key;
    json_t *entry;
    json_object_foreach(st->resources, key, entry) {
        json_t *res = json_object_get(entry, "resource");
        size_t i;
        json_t *svc;
        json_array_foreach(json_object_get(json_object_get(json_object_get(res, "properties"), "pool"), "services"), i,
                           svc)
            if (util_str_eq_ci(json_string_value(json_object_get(svc, "id")), id))
                return json_string_value(json_object_get(res, "name"));
    }
    return NULL;
}

static void delete_tree(sim_state *st, const char *id)
{
    char *prefix = util_printf("%s/", id), *lower = sim_lower(prefix);
    const char *key;
    json_t *entry;
    void *tmp;
    json_object_foreach_safe(st->resources, tmp, key, entry)
        if (util_str_starts_with(key, lower))
            json_object_del(st->resources, key);
    sim_state_delete(st, id);
    free(prefix);
    free(lower);
}

static void del(sim_state *st, const sim_request *req, const rpath *rp, json_t *entry, sim_response *resp)
{
    if (!entry) {
        if (json_object_get(req->headers, "if-match"))
            sim_response_json(resp, 204, NULL);
        else
            check_if_match(req, NULL, true, resp);
        return;
    }
    if (check_if_match(req, entry, true, resp) != 0)
        return;
    char *id = id_of(st, rp, rp->n);
    const char *pool = kind_is(rp, "Backend") ? pool_using(st, id) : NULL;
    if (pool) {
        char msg[512];
        snprintf(msg, sizeof(msg), "Backend '%s' is referenced by the backend pool '%s'. Remove it from the pool first.",
                 rp->seg[rp->n - 1], pool);
        validation_one(resp, "backendId", msg);
    } else {
        delete_tree(st, id);
        sim_response_json(resp, 200, NULL);
    }
    free(id);
}

static void action(const sim_request *req, const rpath *rp, json_t *entry, sim_response *resp)
{
    if (strcmp(req->method, "POST") != 0) {
        sim_response_arm_error(resp, 405, "MethodNotAllowed", NULL,
                               "The requested resource does not support http method '%s'.", req->method);
    } else if (strcmp(rp->action, "listSecrets") == 0 && kind_is(rp, "Subscription")) {
        json_t *secrets = json_object_get(entry, "secrets");
        sim_response_json(resp, 200, json_pack("{s:O,s:O}", "primaryKey", json_object_get(secrets, "primaryKey"),
                                               "secondaryKey", json_object_get(secrets, "secondaryKey")));
    } else if (strcmp(rp->action, "listValue") == 0 && kind_is(rp, "NamedValue")) {
        json_t *v = json_object_get(json_object_get(json_object_get(entry, "resource"), "properties"), "value");
        sim_response_json(resp, 200, json_pack("{s:O}", "value", v ? v : json_null()));
    } else {
        sim_response_arm_error(resp, 404, "InvalidResourceType", NULL, "The action '%s' is not available here.",
                               rp->action);
    }
    sim_response_header(resp, "ETag", json_string_value(json_object_get(entry, "etag")));
}

/* ---- item GET with policy formats ------------------------------------------------------ */

static void get_item(const sim_request *req, const rpath *rp, json_t *entry, sim_response *resp)
{
    answer_entry(entry, 200, resp);
    if (strcmp(req->method, "HEAD") == 0) {
        json_decref(resp->body);
        resp->body = NULL;
        return;
    }
    const char *want = json_string_value(json_object_get(req->query, "format"));
    if (!kind_is(rp, "Policy") || (want && strcmp(want, "rawxml") == 0))
        return;
    if (want && strcmp(want, "xml") != 0) {
        validation_one(resp, "format", "'format' must be 'xml' or 'rawxml'.");
        return;
    }
    /* format=xml (the default) answers the XML-escaped form of raw @(...) expressions. */
    json_t *props = json_object_get(resp->body, "properties");
    char *escaped = sim_policy_escape_expressions(json_string_value(json_object_get(props, "value")));
    json_object_set_new(props, "value", json_string(escaped));
    free(escaped);
}

/* ---- dispatch ------------------------------------------------------------------------- */

static bool method_is(const sim_request *req, const char *m) { return strcmp(req->method, m) == 0; }

static void method_not_allowed(const sim_request *req, sim_response *resp)
{
    sim_response_arm_error(resp, 405, "MethodNotAllowed", NULL,
                           "The requested resource does not support http method '%s'.", req->method);
}

/* Checks that every parent item exists; answers 404 for the first missing one. */
static int check_parents(sim_state *st, const rpath *rp, int upto, sim_response *resp)
{
    static const char *const entities[][2] = {{"apis", "Api"}, {"products", "Product"}, {"operations", "Operation"}};
    for (int n = 2; n <= upto; n += 2) {
        char *id = id_of(st, rp, n);
        bool found = sim_state_get(st, id) != NULL;
        free(id);
        if (found)
            continue;
        const char *entity = "Resource";
        for (size_t i = 0; i < sizeof(entities) / sizeof(entities[0]); i++)
            if (strcasecmp(rp->seg[n - 2], entities[i][0]) == 0)
                entity = entities[i][1];
        not_found(resp, entity);
        return -1;
    }
    return 0;
}

static void item(sim_state *st, const sim_request *req, const rpath *rp, sim_response *resp)
{
    if (check_parents(st, rp, rp->n - 2, resp) != 0)
        return;
    if (kind_is(rp, "Policy") && strcmp(rp->seg[rp->n - 1], "policy") != 0) {
        validation_one(resp, "policyId", "The policy identifier must be 'policy'.");
        return;
    }
    char *id = id_of(st, rp, rp->n);
    json_t *entry = sim_state_get(st, id);
    free(id);
    bool write = !method_is(req, "GET") && !method_is(req, "HEAD");
    if (write && !rp->action && !rp->k->writable)
        method_not_allowed(req, resp);
    else if (!entry && !method_is(req, "PUT") && !method_is(req, "DELETE"))
        not_found(resp, rp->k->entity);
    else if (rp->action)
        action(req, rp, entry, resp);
    else if (method_is(req, "GET") || method_is(req, "HEAD"))
        get_item(req, rp, entry, resp);
    else if (method_is(req, "PUT"))
        put(st, req, rp, entry, resp);
    else if (method_is(req, "PATCH") && !kind_is(rp, "Policy"))
        patch(st, req, rp, entry, resp);
    else if (method_is(req, "DELETE"))
        del(st, req, rp, entry, resp);
    else
        method_not_allowed(req, resp);
}

/* PATCH of the service (ApiManagementService_Update): If-Match is checked first, then only
 * "tags" are merged — the rest of the service is the scenario's and not simulated. */
static void service_patch(sim_state *st, const sim_request *req, json_t *entry, sim_response *resp)
{
    if (check_if_match(req, entry, false, resp) != 0)
        return;
    json_t *body = parse_body(req, resp);
    if (!body)
        return;
    json_t *tags = json_object_get(body, "tags");
    if (json_is_object(tags)) {
        json_object_set(json_object_get(entry, "resource"), "tags", tags);
        char *etag = sim_state_next_etag(st);
        json_object_set_new(entry, "etag", json_string(etag));
        free(etag);
    }
    json_decref(body);
    answer_entry(entry, 200, resp);
}

static void service(sim_state *st, const sim_request *req, sim_response *resp)
{
    json_t *entry = sim_state_get(st, st->service_id);
    if (entry && method_is(req, "PATCH"))
        service_patch(st, req, entry, resp);
    else if (!method_is(req, "GET") && !method_is(req, "HEAD"))
        method_not_allowed(req, resp);
    else if (entry)
        get_item(req, &(rpath){.k = &(kind){"", "Service", false}}, entry, resp);
    else
        not_found(resp, "Service");
}

void sim_resources_handle(sim_state *st, const sim_request *req, const char *rel, sim_response *resp)
{
    if (!*rel) {
        service(st, req, resp);
        return;
    }
    rpath rp;
    if (parse_rel(rel, &rp) != 0) {
        sim_response_arm_error(resp, 404, "InvalidResourceType", NULL,
                               "The resource type '%s' could not be found in the namespace 'Microsoft.ApiManagement' "
                               "for api version '%s'.", rp.chain,
                               json_string_value(json_object_get(req->query, "api-version")));
    } else if (rp.n % 2 == 1) {
        if (!method_is(req, "GET"))
            method_not_allowed(req, resp);
        else if (check_parents(st, &rp, rp.n - 1, resp) == 0)
            list(st, req, &rp, resp);
    } else {
        item(st, req, &rp, resp);
    }
    free(rp.copy);
}
