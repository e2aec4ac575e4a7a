/* list_subscriptions: the read tool listing APIM subscriptions with the effective tokens-per-minute
 * and requests-per-minute limits APIM enforces for each (tools.md §3, docs/quotas.md). The
 * gathering and the limits are quota_scope's; this file owns the schemas, the arguments and the
 * result (structured rows plus a compact table). */
#include <stdlib.h>
#include <string.h>

#include "capacity.h"
#include "paging.h"
#include "quota_scope.h"

#define SUMMARY_MAX_KEYS 20
#define SUMMARY_TOP 10

static const char INPUT_SCHEMA[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
    "\"product_id\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":256},"
    "\"state\":{\"type\":\"string\",\"enum\":[\"active\",\"suspended\",\"submitted\",\"rejected\","
    "\"cancelled\",\"expired\"]}," TOOLS_PAGE_SCHEMA "}}";

static const char OUTPUT_SCHEMA[] =
    "{\"type\":\"object\",\"required\":[\"subscriptions\",\"total\",\"next_cursor\",\"summary\"],\"properties\":{"
    "\"total\":{\"type\":\"integer\"},\"next_cursor\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]},\"summary\":{\"type\":\"object\"},"
    "\"subscriptions\":{\"type\":"
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

/* The table line of one row. */
static void line(util_buf *b, json_t *r)
{
    const char *scope = json_string_value(json_object_get(r, "scope_id"));
    util_buf_printf(b, "%s | %s%s%s", json_string_value(json_object_get(r, "id")),
                    json_string_value(json_object_get(r, "scope_type")), scope ? ":" : "", scope ? scope : "");
    cell_num(b, json_object_get(r, "tpm"));
    cell_num(b, json_object_get(r, "rpm"));
    const char *src = json_string_value(json_object_get(r, "quota_source"));
    util_buf_printf(b, " | %s%s%s\n", json_string_value(json_object_get(r, "state")),
                    json_object_get(r, "by_api") ? " (differs by API, see by_api)" : "",
                    src && strstr(src, "shared pool:") ? " (+ shared pool, see quota_source)" : "");
}

/* "product policy, <when> branch": where a subscription's tokens-per-minute limit comes from. */
static void limit_source(const policy_limits *l, char *out, size_t n)
{
    if (!l->has_tpm) {
        snprintf(out, n, "no tpm limit");
        return;
    }
    const char *src = l->tpm_source;
    size_t k = strcspn(src, ": ");
    const char *branch = strstr(src, "in <when") ? "<when> branch" : strstr(src, "(otherwise)") ? "<otherwise>"
                                                                                                : "unconditional";
    snprintf(out, n, "%.*s policy, %s", (int)k, src, branch);
}

static void count_key(json_t *counts, const char *key)
{
    json_t *v = json_object_get(counts, key);
    json_object_set_new(counts, key, json_integer(v ? json_integer_value(v) + 1 : 1));
}

/* The SUMMARY_MAX_KEYS biggest counts of an object, the rest summed under "(others)" (new). */
static json_t *biggest(json_t *counts)
{
    size_t n = json_object_size(counts), k = 0;
    if (n <= SUMMARY_MAX_KEYS)
        return json_incref(counts);
    json_t *out = json_object();
    json_int_t rest = 0;
    while (k < SUMMARY_MAX_KEYS) {
        const char *key, *best = NULL;
        json_t *v;
        json_int_t bv = -1;
        json_object_foreach(counts, key, v)
            if (!json_object_get(out, key) && json_integer_value(v) > bv)
                best = key, bv = json_integer_value(v);
        json_object_set_new(out, best, json_integer(bv));
        k++;
    }
    const char *key;
    json_t *v;
    json_object_foreach(counts, key, v)
        if (!json_object_get(out, key))
            rest += json_integer_value(v);
    json_object_set_new(out, "(others)", json_integer(rest));
    return out;
}

/* Counts by product (scope) and by limit source, and the teams with the highest tpm. */
static json_t *summary(const struct quota_scope *qs, const size_t *order, size_t n)
{
    json_t *by_product = json_object(), *by_source = json_object(), *top = json_array();
    size_t *best = calloc(SUMMARY_TOP + 1, sizeof *best), nbest = 0;
    if (!best)
        abort();
    for (size_t i = 0; i < n; i++) {
        const struct quota_sub *s = &qs->subs[order[i]];
        const policy_limits *l = &qs->entry_lim[s->primary];
        char key[300];
        snprintf(key, sizeof key, "%s%s%s", s->scope_type, s->scope_id ? ":" : "", s->scope_id ? s->scope_id : "");
        count_key(by_product, key);
        limit_source(l, key, sizeof key);
        count_key(by_source, key);
        if (!l->has_tpm)
            continue;
        size_t at = nbest;
        while (at > 0 && qs->entry_lim[qs->subs[best[at - 1]].primary].tpm < l->tpm)
            at--;
        if (at < SUMMARY_TOP) {
            memmove(best + at + 1, best + at, (nbest - at) * sizeof *best);
            best[at] = order[i];
            nbest += nbest < SUMMARY_TOP;
        }
    }
    for (size_t i = 0; i < nbest; i++)
        json_array_append_new(top, json_pack("{s:s,s:I}", "id", qs->subs[best[i]].id, "tpm",
                                             (json_int_t)qs->entry_lim[qs->subs[best[i]].primary].tpm));
    free(best);
    json_t *out = json_pack("{s:o,s:o,s:o}", "by_product", biggest(by_product), "by_limit_source",
                            biggest(by_source), "top_tpm", top);
    json_decref(by_product);
    json_decref(by_source);
    return out;
}

static void summary_text(util_buf *b, json_t *sum)
{
    static const char *const parts[] = {"by_product", "by product", "by_limit_source", "by tpm limit source"};
    for (size_t p = 0; p < 4; p += 2) {
        const char *key;
        json_t *v;
        size_t k = 0;
        util_buf_printf(b, "%s: ", parts[p + 1]);
        json_object_foreach(json_object_get(sum, parts[p]), key, v)
            util_buf_printf(b, "%s%s %lld", k++ ? ", " : "", key, (long long)json_integer_value(v));
        util_buf_puts(b, "\n");
    }
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(sum, "top_tpm"), i, t)
        util_buf_printf(b, "%s%s %lld", i ? ", " : "highest tpm: ", json_string_value(json_object_get(t, "id")),
                        (long long)json_integer_value(json_object_get(t, "tpm")));
    if (json_array_size(json_object_get(sum, "top_tpm")))
        util_buf_puts(b, "\n");
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
    struct tools_page pg;
    char *filters = util_printf("%s|%s", product ? product : "", state ? state : "");
    int rc = tools_page_read(args, filters, &pg, &err);
    free(filters);
    if (rc)
        return tools_fail(ctx, &err);
    struct arm_client *arm = tools_call_arm(ctx, call, &err);
    struct quota_scope qs;
    if (!arm || quota_scope_gather(arm, product, state, &qs, &err))
        return tools_fail(ctx, &err);
    size_t total = 0, *order = quota_scope_sorted(&qs, &total);
    size_t kept = 0;
    for (size_t i = 0; i < total; i++)
        if (tools_page_matches(&pg, qs.subs[order[i]].id, qs.subs[order[i]].display_name))
            order[kept++] = order[i];
    total = kept;
    json_t *rows = json_array(), *sum = summary(&qs, order, total);
    util_buf lines;
    util_buf_init(&lines, 0);
    size_t i = pg.offset < total ? pg.offset : total, bytes = 0;
    for (; i < total && json_array_size(rows) < pg.limit; i++) {
        json_t *row = quota_scope_row(&qs, order[i]);
        size_t before = lines.len;
        line(&lines, row);
        bytes += tools_page_row_bytes(row, lines.len - before);
        if (bytes > TOOLS_PAGE_BYTES && json_array_size(rows)) {
            lines.len = before;
            lines.data[before] = '\0';
            json_decref(row);
            break;
        }
        json_array_append_new(rows, row);
    }
    char *next = i < total ? tools_page_cursor(&pg, i) : NULL;
    util_buf text;
    util_buf_init(&text, 0);
    size_t first = pg.offset < total ? pg.offset : total;
    if (json_array_size(rows))
        util_buf_printf(&text, "%zu subscription(s)%s; rows %zu-%zu%s%s%s\n", total, pg.match ? " matching" : "",
                        first + 1, first + json_array_size(rows), next ? "; next page: cursor=" : "",
                        next ? next : "", next ? "" : " (last page)");
    else
        util_buf_printf(&text, "%zu subscription(s)%s; no rows on this page\n", total, pg.match ? " matching" : "");
    util_buf_puts(&text, "tpm/rpm = each one's own limits APIM enforces (- = none)\nid | scope | tpm | rpm | state\n");
    util_buf_puts(&text, lines.data ? lines.data : "");
    summary_text(&text, sum);
    json_t *capacity = capacity_for_subscriptions(ctx, arm, &qs); /* the deployments behind them (issue 16) */
    capacity_text(&text, capacity);
    util_buf_free(&lines);
    free(order);
    quota_scope_free(&qs);
    json_t *result = tools_ok(ctx, json_pack("{s:o,s:I,s:s?,s:o,s:o}", "subscriptions", rows, "total",
                                             (json_int_t)total, "next_cursor", next, "summary", sum, "capacity",
                                             capacity), text.data);
    util_buf_free(&text);
    free(next);
    return result;
}

const struct mcp_tool tools_list_subscriptions = {
    .name = "list_subscriptions",
    .title = "List subscriptions and their quotas",
    .description = "Lists subscriptions with the tokens- and requests-per-minute "
                   "limits (tpm, rpm) APIM enforces for each; quota_source names the policy and element, by_api "
                   "shows limits that differ by API. Paged (limit, next_cursor) with a summary. Gives the "
                   "subscription id update_quota takes.",
    .input_schema = INPUT_SCHEMA,
    .output_schema = OUTPUT_SCHEMA,
    .read_only_hint = true,
    .idempotent_hint = true,
    .fn = run,
};
