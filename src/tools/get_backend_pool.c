/* get_backend_pool: how an API reaches Azure OpenAI — the backend its policy routes to (or its
 * serviceUrl), and when that is a pool every member with url, priority, weight and circuit
 * breaker, the Azure OpenAI account and deployments behind each member (models.c), the API
 * policy's retry on 429/5xx, and warnings (members on different model versions, deployments
 * missing in a member, upgrade options that differ, an undersized failover group). Four round
 * trips whatever the pool size: backend_read.c's three, with the accounts list (cached) sent
 * along with the first, then every account's deployments together (cached). Credentials are
 * shown by name only. */
#include <string.h>

#include "backend.h"
#include "models.h"

static void cell_int(util_buf *t, json_t *v)
{
    if (json_is_integer(v))
        util_buf_printf(t, " | %lld", (long long)json_integer_value(v));
    else
        util_buf_puts(t, " | -");
}

static void cell_breaker(util_buf *t, json_t *cb)
{
    if (!json_is_object(cb)) {
        util_buf_puts(t, " | none");
        return;
    }
    util_buf_printf(t, " | %lld in %s on ", (long long)json_integer_value(json_object_get(cb, "failure_count")),
                    json_string_value(json_object_get(cb, "failure_interval")));
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(cb, "status_codes"), i, c)
        util_buf_printf(t, "%s%s", i ? "," : "", json_string_value(c));
    util_buf_printf(t, " -> open %s", json_string_value(json_object_get(cb, "trip_duration")));
}

/* One line per deployment of a member (or why they are unknown). */
static void deployment_lines(util_buf *t, json_t *m)
{
    json_t *deps = json_object_get(m, "deployments"), *d;
    const char *why = json_string_value(json_object_get(m, "deployments_unavailable"));
    size_t i;
    if (!json_is_array(deps)) {
        if (why && json_object_get(m, "backend_id") && !json_is_null(json_object_get(m, "backend_id")))
            util_buf_printf(t, "\n  deployments: unknown — %s", why);
        return;
    }
    if (!json_array_size(deps))
        util_buf_printf(t, "\n  deployments: none in account %s",
                        json_string_value(json_object_get(json_object_get(m, "account"), "name")));
    json_array_foreach(deps, i, d) {
        json_t *tpm = json_object_get(d, "capacity_tpm");
        util_buf_printf(t, "\n  - %s: %s %s | %s ", json_string_value(json_object_get(d, "name")),
                        json_string_value(json_object_get(d, "model")),
                        json_string_value(json_object_get(d, "model_version")),
                        json_string_value(json_object_get(d, "sku")));
        if (json_is_integer(tpm))
            util_buf_printf(t, "%lldK TPM", (long long)json_integer_value(tpm) / 1000);
        else
            util_buf_printf(t, "capacity %lld", (long long)json_integer_value(json_object_get(d, "capacity")));
        const char *up = json_string_value(json_object_get(d, "version_upgrade_option"));
        util_buf_printf(t, " | %s", up ? up : "-");
    }
}

static char *table(json_t *out)
{
    util_buf t;
    util_buf_init(&t, 0);
    const char *pool = json_string_value(json_object_get(out, "pool_id"));
    util_buf_printf(&t, "API %s -> %s%s (%s)\nbackend | priority | weight | url | circuit breaker",
                    json_string_value(json_object_get(out, "api_id")), pool ? "pool " : "", pool ? pool : "backend",
                    json_string_value(json_object_get(out, "routing")));
    size_t i;
    json_t *m, *w;
    json_array_foreach(json_object_get(out, "backends"), i, m) {
        const char *id = json_string_value(json_object_get(m, "backend_id"));
        const char *url = json_string_value(json_object_get(m, "url"));
        util_buf_printf(&t, "\n%s", id ? id : "(serviceUrl)");
        cell_int(&t, json_object_get(m, "priority"));
        cell_int(&t, json_object_get(m, "weight"));
        util_buf_printf(&t, " | %s", url ? url : "-");
        cell_breaker(&t, json_object_get(m, "circuit_breaker"));
        deployment_lines(&t, m);
    }
    json_t *retry = json_object_get(out, "retry");
    if (json_is_object(retry)) {
        bool r429 = json_is_true(json_object_get(retry, "on_429"));
        bool r5xx = json_is_true(json_object_get(retry, "on_5xx"));
        char *count = json_dumps(json_object_get(retry, "count"), JSON_ENCODE_ANY);
        util_buf_printf(&t, "\nretry in API policy: count %s on %s%s%s", count ? count : "?", r429 ? "429" : "",
                        r429 && r5xx ? "/" : "", r5xx ? "5xx" : "");
        free(count);
    }
    json_array_foreach(json_object_get(out, "warnings"), i, w)
        util_buf_printf(&t, "\nwarning: %s", json_string_value(w));
    return util_buf_steal(&t);
}

static json_t *get_backend_pool(struct mcp_call *call, json_t *args, void *user)
{
    struct tools_ctx *ctx = user;
    util_error err = {0};
    const char *api_id = json_string_value(json_object_get(args, "api_id"));
    struct arm_client *arm = NULL;
    struct tools_backend_snapshot s;
    if (tools_check_id("api_id", api_id, &err) || !(arm = tools_call_arm(ctx, call, &err)))
        return tools_fail(ctx, &err);
    /* the Azure OpenAI accounts (cached for the process) are listed along with the first round trip */
    struct models_prefetch pre;
    models_prefetch_plan(ctx, &pre);
    struct tools_backend_along along = {pre.n, pre.reqs, pre.res, pre.rcs, pre.errs};
    int rc = tools_backend_snapshot_read_along(arm, api_id, NULL, &along, &s, &err);
    models_prefetch_store(ctx, arm, &pre);
    if (rc) {
        tools_backend_snapshot_free(&s);
        return tools_fail(ctx, &err);
    }
    json_t *backends = tools_backend_snapshot_members(&s);
    models_attach(ctx, arm, backends); /* one round trip more: every account's deployments together */
    tools_backend_model_warnings(backends, s.warnings);
    models_pool_warnings(backends, s.warnings);
    if (s.from_global)
        json_array_append_new(s.warnings, json_string("the backend is set by the global policy: changing the pool "
                                                      "changes every API that inherits it"));
    json_t *out = json_pack("{s:s,s:s?,s:s,s:o,s:O,s:O}", "api_id", api_id, "pool_id", s.is_pool ? s.backend_id : NULL,
                            "routing", s.routing, "backends", backends, "retry", s.retry, "warnings", s.warnings);
    char *text = table(out);
    tools_backend_snapshot_free(&s);
    json_t *r = tools_ok(ctx, out, text);
    free(text);
    return r;
}

const struct mcp_tool tools_get_backend_pool = {
    .name = "get_backend_pool",
    .title = "Get backend pool",
    .description = "Where an API sends its traffic: the backend or pool its policy routes to, each member's url, "
                   "priority, weight, circuit breaker and Azure OpenAI deployments (model, version, capacity_tpm), "
                   "retry on 429/5xx, warnings (mismatched model versions, undersized failover region). "
                   "Credentials by name only.",
    .input_schema = "{\"type\":\"object\",\"properties\":{\"api_id\":{\"type\":\"string\",\"minLength\":1,"
                    "\"maxLength\":256}},\"required\":[\"api_id\"],\"additionalProperties\":false}",
    .output_schema = "{\"type\":\"object\",\"properties\":{\"api_id\":{\"type\":\"string\"},\"pool_id\":"
                     "{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]},\"routing\":{\"type\":\"string\"},\"backends\":{\"type\":\"array\","
                     "\"items\":{\"type\":\"object\",\"required\":[\"backend_id\",\"url\",\"priority\",\"weight\","
                     "\"circuit_breaker\",\"deployments\"],\"properties\":{\"deployments\":{\"anyOf\":[{\"type\":\"array\"},{\"type\":\"null\"}]}"
                     ",\"deployments_unavailable\":{\"type\":\"string\"},\"account\":{\"anyOf\":[{\"type\":\"object\"},{\"type\":\"null\"}]}}}},"
                     "\"retry\":{\"anyOf\":[{\"type\":\"object\"},{\"type\":\"null\"}]},\"warnings\":{\"type\":\"array\"}},\"required\":[\"api_id\","
                     "\"pool_id\",\"routing\",\"backends\",\"retry\",\"warnings\"]}",
    .read_only_hint = true,
    .idempotent_hint = true,
    .fn = get_backend_pool,
};
