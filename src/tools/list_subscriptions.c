/* list_subscriptions: the read tool listing APIM subscriptions with the effective tokens-per-minute
 * and requests-per-minute limits APIM enforces for each (tools.md §3, docs/quotas.md). The
 * gathering and the limits are quota_scope's; this file owns the schemas, the arguments and the
 * result (structured rows plus a compact table). */
#include <string.h>

#include "capacity.h"
#include "quota_scope.h"

#define TEXT_MAX_ROWS 50

static const char INPUT_SCHEMA[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
    "\"product_id\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":256},"
    "\"state\":{\"type\":\"string\",\"enum\":[\"active\",\"suspended\",\"submitted\",\"rejected\","
    "\"cancelled\",\"expired\"]}}}";

static const char OUTPUT_SCHEMA[] =
    "{\"type\":\"object\",\"required\":[\"subscriptions\"],\"properties\":{\"subscriptions\":{\"type\":"
    "\"array\",\"items\":{\"type\":\"object\",\"required\":[\"id\",\"display_name\",\"state\",\"scope_type\","
    "\"scope_id\",\"tpm\",\"rpm\",\"quota_source\"],\"properties\":{\"id\":{\"type\":\"string\"},"
    "\"display_name\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]},\"state\":{\"type\":\"string\"},"
    "\"scope_type\":{\"enum\":[\"product\",\"api\",\"all_apis\"]},\"scope_id\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]},"
    "\"tpm\":{\"anyOf\":[{\"type\":\"integer\"},{\"type\":\"null\"}]},\"rpm\":{\"anyOf\":[{\"type\":\"number\"},{\"type\":\"null\"}]},"
    "\"quota_source\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]},\"by_api\":{\"type\":\"array\"}}}}}}";

static void cell_num(util_buf *b, json_t *v)
{
    if (json_is_integer(v))
        util_buf_printf(b, " | %lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        util_buf_printf(b, " | %g", json_real_value(v));
    else
        util_buf_puts(b, " | -");
}

static char *table(json_t *rows)
{
    util_buf b;
    util_buf_init(&b, 0);
    util_buf_printf(&b, "%zu subscription(s); tpm/rpm = each one's own limits APIM enforces (- = none)\n"
                    "id | scope | tpm | rpm | state\n", json_array_size(rows));
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        if (i == TEXT_MAX_ROWS) {
            util_buf_printf(&b, "... %zu more in structuredContent\n", json_array_size(rows) - i);
            break;
        }
        const char *scope = json_string_value(json_object_get(r, "scope_id"));
        util_buf_printf(&b, "%s | %s%s%s", json_string_value(json_object_get(r, "id")),
                        json_string_value(json_object_get(r, "scope_type")), scope ? ":" : "", scope ? scope : "");
        cell_num(&b, json_object_get(r, "tpm"));
        cell_num(&b, json_object_get(r, "rpm"));
        const char *src = json_string_value(json_object_get(r, "quota_source"));
        util_buf_printf(&b, " | %s%s%s\n", json_string_value(json_object_get(r, "state")),
                        json_object_get(r, "by_api") ? " (differs by API, see by_api)" : "",
                        src && strstr(src, "shared pool:") ? " (+ shared pool, see quota_source)" : "");
    }
    return util_buf_steal(&b);
}

static json_t *run(struct mcp_call *call, json_t *args, void *user)
{
    struct tools_ctx *ctx = user;
    util_error err;
    util_error_clear(&err);
    const char *product = json_string_value(json_object_get(args, "product_id"));
    const char *state = json_string_value(json_object_get(args, "state"));
    if (product && tools_check_id("product_id", product, &err))
        return tools_fail(ctx, &err);
    struct arm_client *arm = tools_call_arm(ctx, call, &err);
    struct quota_scope qs;
    if (!arm || quota_scope_gather(arm, product, state, &qs, &err))
        return tools_fail(ctx, &err);
    json_t *rows = json_array();
    for (size_t i = 0; i < qs.nsubs; i++)
        json_array_append_new(rows, quota_scope_row(&qs, i));
    json_t *capacity = capacity_for_subscriptions(ctx, arm, &qs); /* the deployments behind them (issue 16) */
    quota_scope_free(&qs);
    char *text = table(rows);
    util_buf t;
    util_buf_init(&t, 0);
    util_buf_puts(&t, text);
    capacity_text(&t, capacity);
    json_t *result = tools_ok(ctx, json_pack("{s:o,s:o}", "subscriptions", rows, "capacity", capacity), t.data);
    util_buf_free(&t);
    free(text);
    return result;
}

const struct mcp_tool tools_list_subscriptions = {
    .name = "list_subscriptions",
    .title = "List subscriptions and their quotas",
    .description = "Lists subscriptions (all, or one product's or state's) with the tokens- and requests-per-"
                   "minute limits (tpm, rpm) APIM enforces for each, from the policies that run for its "
                   "requests; quota_source names the policy and element, by_api appears when limits differ "
                   "by API. Use it to find a team's subscription id before update_quota.",
    .input_schema = INPUT_SCHEMA,
    .output_schema = OUTPUT_SCHEMA,
    .read_only_hint = true,
    .idempotent_hint = true,
    .fn = run,
};
