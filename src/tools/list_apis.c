/* list_apis: the APIs of the APIM service with their path, the backend their policy routes to
 * (and the pool when that backend is one) and the products exposing them — how "the AOAI
 * completions API" becomes an api_id. Four round trips whatever the number of APIs: the API
 * list, the product list, one concurrent batch of every API's policy and every product's API
 * list, then one batch of the backends the policies name. */
#include <string.h>

#include "change.h"
#include "paging.h"
#include "policy.h"

#define LIST_APIS_MAX 500

/* The backend id the policy text routes to (first set-backend-service with a backend-id), as a
 * NEW string reference, or json null. */
static json_t *policy_backend(const char *xml)
{
    json_t *out = json_null();
    util_error err = {0};
    policy_doc *doc = xml ? policy_parse(xml, strlen(xml), &err) : NULL;
    json_t *facts = doc ? policy_facts(doc) : NULL, *b;
    size_t i;
    json_array_foreach(json_object_get(facts, "backends"), i, b) {
        json_t *id = json_object_get(b, "backend_id");
        if (json_is_string(id) && json_is_null(out))
            out = json_incref(id);
    }
    json_decref(facts);
    policy_doc_free(doc);
    return out;
}

/* Adds product to the "products" of every API named in the product's API list (the first page,
 * then the rest with arm_list when there is a nextLink). */
static int add_product(struct arm_client *arm, json_t *by_id, const char *product, const char *path,
                       const json_t *page, util_error *err)
{
    json_t *items = json_incref(json_object_get(page, "value")), *a;
    if (!json_is_array(items)) {
        json_decref(items);
        return util_error_set(err, UTIL_EREMOTE, "listing %s answered without a \"value\" array; the answer cannot "
                              "be trusted, so it is not taken as an empty list", path);
    }
    if (json_object_get(page, "nextLink")) {
        json_decref(items);
        if (arm_list(arm, path, ARM_API_APIM, NULL, LIST_APIS_MAX, &items, err))
            return err->code;
    }
    size_t i;
    json_array_foreach(items, i, a) {
        json_t *api = json_object_get(by_id, json_string_value(json_object_get(a, "name")));
        if (api)
            json_array_append_new(json_object_get(api, "products"), json_string(product));
    }
    json_decref(items);
    return 0;
}

/* One concurrent batch: every API's policy (rawxml) and every product's API list; fills
 * backend_id and products. */
static int read_apis(struct arm_client *arm, json_t *apis, const json_t *products, util_error *err)
{
    size_t n = json_array_size(apis), m = json_array_size(products), total = n + m;
    struct arm_request *reqs = calloc(total + 1, sizeof *reqs);
    struct arm_result *res = calloc(total + 1, sizeof *res);
    int *rcs = calloc(total + 1, sizeof *rcs);
    util_error *errs = calloc(total + 1, sizeof *errs);
    char **paths = calloc(total + 1, sizeof *paths);
    json_t *by_id = json_object(), *api;
    for (size_t i = 0; i < total; i++) {
        json_t *item = i < n ? json_array_get(apis, i) : json_array_get(products, i - n);
        const char *id = json_string_value(json_object_get(item, i < n ? "id" : "name"));
        paths[i] = i < n ? util_printf("apis/%s/policies/policy", id) : util_printf("products/%s/apis", id);
        reqs[i] = (struct arm_request){.method = "GET", .path = paths[i], .query = i < n ? "format=rawxml" : NULL};
        if (i < n)
            json_object_set(by_id, id, item);
    }
    arm_batch(arm, total, reqs, res, rcs, errs);
    int rc = 0;
    for (size_t i = 0; i < total; i++) {
        if (rcs[i] && !(i < n && rcs[i] == UTIL_ENOTFOUND) && !rc) {
            *err = errs[i];
            rc = rcs[i];
        } else if (i < n) {
            api = json_array_get(apis, i);
            json_object_set_new(api, "backend_id", policy_backend(change_policy_text(res[i].body)));
        } else if (!rc) {
            rc = add_product(arm, by_id, json_string_value(json_object_get(json_array_get(products, i - n), "name")),
                             paths[i], res[i].body, err);
        }
        arm_result_free(&res[i]);
        free(paths[i]);
    }
    json_decref(by_id);
    free(reqs);
    free(res);
    free(rcs);
    free(errs);
    free(paths);
    return rc;
}

/* Reads every distinct backend the APIs route to (one batch) and sets pool_id where it is a Pool. */
static int read_backends(struct arm_client *arm, json_t *apis, util_error *err)
{
    json_t *ids = json_object(), *api;
    size_t i;
    json_array_foreach(apis, i, api) {
        const char *b = json_string_value(json_object_get(api, "backend_id"));
        if (b && !tools_check_id("backend_id", b, NULL))
            json_object_set_new(ids, b, json_null());
    }
    size_t n = json_object_size(ids), k = 0;
    struct arm_request *reqs = calloc(n + 1, sizeof *reqs);
    struct arm_result *res = calloc(n + 1, sizeof *res);
    int *rcs = calloc(n + 1, sizeof *rcs);
    util_error *errs = calloc(n + 1, sizeof *errs);
    char **paths = calloc(n + 1, sizeof *paths);
    const char *key;
    json_t *v;
    json_object_foreach(ids, key, v) {
        paths[k] = util_printf("backends/%s", key);
        reqs[k] = (struct arm_request){.method = "GET", .path = paths[k]};
        k++;
    }
    arm_batch(arm, n, reqs, res, rcs, errs);
    int rc = 0;
    k = 0;
    json_object_foreach(ids, key, v) {
        const char *type = json_string_value(json_object_get(json_object_get(res[k].body, "properties"), "type"));
        if (rcs[k] && rcs[k] != UTIL_ENOTFOUND && !rc) {
            *err = errs[k];
            rc = rcs[k];
        }
        json_object_set_new(ids, key, json_boolean(type && !strcmp(type, "Pool")));
        arm_result_free(&res[k]);
        free(paths[k++]);
    }
    json_array_foreach(apis, i, api) {
        json_t *b = json_object_get(api, "backend_id");
        json_object_set(api, "pool_id", json_is_true(json_object_get(ids, json_string_value(b))) ? b : json_null());
    }
    json_decref(ids);
    free(reqs);
    free(res);
    free(rcs);
    free(errs);
    free(paths);
    return rc;
}

static json_t *api_entry(const json_t *item)
{
    json_t *p = json_object_get(item, "properties");
    const char *dn = json_string_value(json_object_get(p, "displayName"));
    const char *path = json_string_value(json_object_get(p, "path"));
    return json_pack("{s:O, s:s, s:s, s:n, s:n, s:[]}", "id", json_object_get(item, "name"), "display_name",
                     dn ? dn : "", "path", path ? path : "", "backend_id", "pool_id", "products");
}

static void line(util_buf *t, json_t *a)
{
    const char *b = json_string_value(json_object_get(a, "backend_id"));
    const char *pool = json_string_value(json_object_get(a, "pool_id"));
    util_buf_printf(t, "%s | /%s | %s | %s | ", json_string_value(json_object_get(a, "id")),
                    json_string_value(json_object_get(a, "path")), b ? b : "-", pool ? pool : "-");
    json_t *p;
    size_t j;
    json_array_foreach(json_object_get(a, "products"), j, p)
        util_buf_printf(t, "%s%s", j ? "," : "", json_string_value(p));
    util_buf_puts(t, "\n");
}

static int by_id(const void *a, const void *b)
{
    return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "id")),
                  json_string_value(json_object_get(*(json_t *const *)b, "id")));
}

/* The APIs that match, in id order, from offset on: at most limit (new array). */
static json_t *page_of(json_t *items, const struct tools_page *pg, size_t *total)
{
    size_t n = json_array_size(items), k = 0;
    json_t **v = calloc(n ? n : 1, sizeof *v);
    if (!v)
        abort();
    for (size_t i = 0; i < n; i++) {
        json_t *e = api_entry(json_array_get(items, i));
        if (tools_page_matches(pg, json_string_value(json_object_get(e, "id")),
                               json_string_value(json_object_get(e, "display_name"))))
            v[k++] = e;
        else
            json_decref(e);
    }
    qsort(v, k, sizeof *v, by_id);
    json_t *page = json_array();
    for (size_t i = 0; i < k; i++) {
        if (i >= pg->offset && json_array_size(page) < pg->limit)
            json_array_append(page, v[i]);
        json_decref(v[i]);
    }
    free(v);
    *total = k;
    return page;
}

static json_t *list_apis(struct mcp_call *call, json_t *args, void *user)
{
    struct tools_ctx *ctx = user;
    util_error err = {0};
    struct tools_page pg;
    if (tools_page_read(args, "", &pg, &err))
        return tools_fail(ctx, &err);
    struct arm_client *arm = tools_call_arm(ctx, call, &err);
    json_t *items = NULL, *products = NULL;
    if (!arm || arm_list(arm, "apis", ARM_API_APIM, NULL, LIST_APIS_MAX, &items, &err) ||
        arm_list(arm, "products", ARM_API_APIM, NULL, LIST_APIS_MAX, &products, &err)) {
        json_decref(items);
        return tools_fail(ctx, &err);
    }
    size_t total = 0;
    json_t *apis = page_of(items, &pg, &total);
    json_decref(items);
    /* only this page's policies and backends are read */
    int rc = read_apis(arm, apis, products, &err) || read_backends(arm, apis, &err);
    json_decref(products);
    if (rc) {
        json_decref(apis);
        return tools_fail(ctx, &err);
    }
    util_buf lines;
    util_buf_init(&lines, 0);
    size_t bytes = 0, shown = 0, first = pg.offset < total ? pg.offset : total;
    for (; shown < json_array_size(apis); shown++) {
        size_t before = lines.len;
        line(&lines, json_array_get(apis, shown));
        bytes += tools_page_row_bytes(json_array_get(apis, shown), lines.len - before);
        if (bytes > TOOLS_PAGE_BYTES && shown) {
            lines.len = before;
            lines.data[before] = '\0';
            break;
        }
    }
    while (json_array_size(apis) > shown)
        json_array_remove(apis, shown);
    char *next = first + shown < total ? tools_page_cursor(&pg, first + shown) : NULL;
    util_buf t;
    util_buf_init(&t, 0);
    util_buf_printf(&t, "%zu API(s)%s; rows %zu-%zu%s%s%s\nid | path | backend | pool | products\n", total,
                    pg.match ? " matching" : "", shown ? first + 1 : 0, first + shown,
                    next ? "; next page: cursor=" : "", next ? next : "", next ? "" : " (last page)");
    util_buf_puts(&t, lines.data ? lines.data : "");
    util_buf_free(&lines);
    if (t.len && t.data[t.len - 1] == '\n')
        t.data[--t.len] = '\0';
    json_t *r = tools_ok(ctx, json_pack("{s:o,s:I,s:s?}", "apis", apis, "total", (json_int_t)total, "next_cursor", next),
                         t.data);
    util_buf_free(&t);
    free(next);
    return r;
}

const struct mcp_tool tools_list_apis = {
    .name = "list_apis",
    .title = "List APIs",
    .description = "Lists the APIs (paged; match filters) with their path, the backend their "
                   "policy routes to (pool_id for a pool) and products. Call it first to get the api_id other tools "
                   "take.",
    .input_schema = "{\"type\":\"object\",\"properties\":{" TOOLS_PAGE_SCHEMA "},\"additionalProperties\":false}",
    .output_schema = "{\"type\":\"object\",\"properties\":{\"apis\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
                     "\"properties\":{\"id\":{\"type\":\"string\"},\"display_name\":{\"type\":\"string\"},"
                     "\"path\":{\"type\":\"string\"},\"backend_id\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]},"
                     "\"pool_id\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]},\"products\":{\"type\":\"array\",\"items\":"
                     "{\"type\":\"string\"}}},\"required\":[\"id\",\"display_name\",\"path\",\"backend_id\","
                     "\"pool_id\",\"products\"]}},\"total\":{\"type\":\"integer\"},\"next_cursor\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]}},"
                     "\"required\":[\"apis\",\"total\",\"next_cursor\"]}",
    .read_only_hint = true,
    .idempotent_hint = true,
    .fn = list_apis,
};
