/* get_metrics: the read tool answering "now look at the numbers" (tools.md §3) — a thin wrapper
 * over the metrics module: validates the window, collects and merges the sources, and returns the
 * result with its compact text report. */
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "tools_internal.h"

static const char input_schema[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"api_id\",\"since\"],\"properties\":{"
    "\"api_id\":{\"type\":\"string\",\"pattern\":\"^[A-Za-z0-9][A-Za-z0-9._~-]{0,255}$\"},"
    "\"since\":{\"type\":\"string\",\"maxLength\":40,\"description\":\"ISO 8601, or 15m/1h/24h/7d ago\"},"
    "\"until\":{\"type\":\"string\",\"maxLength\":40},"
    "\"group_by\":{\"type\":\"string\",\"enum\":[\"subscription\",\"time\",\"none\"]},"
    "\"top\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":20,\"description\":\"subscription rows (default 20)\"}}}";

/* Top-level shape only: tools/list must stay small (docs/tools.md lists every field). */
static const char output_schema[] =
    "{\"type\":\"object\",\"required\":[\"api_id\",\"since\",\"until\",\"totals\",\"by_subscription\",\"sources\"],"
    "\"properties\":{\"totals\":{\"type\":\"object\"},\"by_subscription\":{\"type\":\"array\"},"
    "\"by_backend\":{\"type\":\"array\"},\"series\":{\"type\":\"array\"},\"sources\":{\"type\":\"object\"}}}";

static int group_of(const char *s)
{
    return !s || !strcmp(s, "subscription") ? METRICS_GROUP_SUBSCRIPTION
           : !strcmp(s, "time")             ? METRICS_GROUP_TIME
                                            : METRICS_GROUP_NONE;
}

#define TOP_DEFAULT 20

static void add_int(json_t *to, json_t *from, const char *key)
{
    json_t *a = json_object_get(to, key), *b = json_object_get(from, key);
    if (json_is_integer(b))
        json_object_set_new(to, key, json_integer((json_is_integer(a) ? json_integer_value(a) : 0) +
                                                  json_integer_value(b)));
}

/* Adds row's average `key` weighted by its count `weight` to *sum and *n. */
static void add_avg(json_t *row, const char *key, const char *weight, double *sum, double *n)
{
    json_t *v = json_object_get(row, key), *w = json_object_get(row, weight);
    if (json_is_number(v) && json_is_integer(w)) {
        *sum += json_number_value(v) * (double)json_integer_value(w);
        *n += (double)json_integer_value(w);
    }
}

/* Keeps the `top` subscription rows with the most requests (in the module's order: most throttled,
 * then biggest) and sums the rest into one row {"subscription_id": null, "others": n, ...}, so
 * the result stays small whatever the number of teams. */
static void top_rows(json_t *result, size_t top)
{
    json_t *rows = json_object_get(result, "by_subscription");
    size_t n = json_array_size(rows);
    if (n <= top)
        return;
    json_int_t *req = calloc(n, sizeof *req);
    if (!req)
        abort();
    for (size_t i = 0; i < n; i++)
        req[i] = json_integer_value(json_object_get(json_array_get(rows, i), "requests"));
    /* the top-th largest request count, and how many rows equal to it may stay */
    json_int_t *sorted = calloc(n, sizeof *sorted);
    if (!sorted)
        abort();
    memcpy(sorted, req, n * sizeof *req);
    for (size_t i = 1; i < n; i++) /* insertion sort, descending: n is the number of teams */
        for (size_t j = i; j > 0 && sorted[j - 1] < sorted[j]; j--) {
            json_int_t t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
        }
    json_int_t cut = sorted[top - 1];
    size_t above = 0;
    for (size_t i = 0; i < n; i++)
        above += req[i] > cut;
    size_t ties = top - above;
    json_t *kept = json_array(), *others = json_pack("{s:n,s:i}", "subscription_id", "others", 0);
    json_t *tokens = json_pack("{s:i,s:i,s:i}", "prompt", 0, "completion", 0, "total", 0);
    bool any_tokens = false;
    double lat = 0, latn = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_array_get(rows, i);
        if (req[i] > cut || (req[i] == cut && ties && ties--)) {
            json_array_append(kept, r);
            continue;
        }
        json_object_set_new(others, "others", json_integer(json_integer_value(json_object_get(others, "others")) + 1));
        static const char *const counts[] = {"requests", "successful", "blocked", "failed", "throttled",
                                             "throttled_gateway", "throttled_backend", "cache_hits", "cache_misses"};
        for (size_t k = 0; k < sizeof counts / sizeof *counts; k++)
            add_int(others, r, counts[k]);
        json_t *t = json_object_get(r, "tokens");
        if (json_is_object(t)) {
            any_tokens = true;
            add_int(tokens, t, "prompt"), add_int(tokens, t, "completion"), add_int(tokens, t, "total");
        }
        add_avg(r, "avg_latency_ms", "requests", &lat, &latn);
    }
    json_int_t hits = json_integer_value(json_object_get(others, "cache_hits")),
               miss = json_integer_value(json_object_get(others, "cache_misses"));
    json_object_set_new(others, "cache_hit_rate", hits + miss ? json_real((double)hits / (double)(hits + miss)) : json_null());
    json_object_set_new(others, "avg_latency_ms", latn ? json_integer((json_int_t)(lat / latn + 0.5)) : json_null());
    /* a row does not say how many backend calls its backend latency averages over */
    json_object_set_new(others, "avg_backend_latency_ms", json_null());
    json_object_set_new(others, "tokens", any_tokens ? tokens : json_null());
    if (!any_tokens)
        json_decref(tokens);
    json_array_append_new(kept, others);
    json_object_set_new(result, "by_subscription", kept);
    json_object_set_new(result, "subscriptions_total", json_integer((json_int_t)n));
    free(req);
    free(sorted);
}

static json_t *get_metrics(struct mcp_call *call, json_t *args, void *user)
{
    struct tools_ctx *ctx = user;
    util_error err = {0};
    const char *api_id = json_string_value(json_object_get(args, "api_id"));
    struct metrics_window w;
    if (metrics_window_make(json_string_value(json_object_get(args, "since")),
                            json_string_value(json_object_get(args, "until")), util_now_ms() / 1000, &w, &err) != 0)
        return tools_fail(ctx, &err);
    struct arm_client *arm = tools_call_arm(ctx, call, &err);
    json_t *result = NULL;
    if (!arm || metrics_collect(arm, api_id, &w, group_of(json_string_value(json_object_get(args, "group_by"))),
                                &result, &err) != 0)
        return tools_fail(ctx, &err);
    json_t *top = json_object_get(args, "top");
    top_rows(result, top ? (size_t)json_integer_value(top) : TOP_DEFAULT);
    char *text = metrics_text(result);
    json_t *out = tools_ok(ctx, result, text);
    free(text);
    return out;
}

const struct mcp_tool tools_get_metrics = {
    .name = "get_metrics",
    .title = "Traffic metrics of an API",
    .description = "Traffic of one API over a window: requests, 429s, cache hit rate, latency, tokens; total, per "
                   "subscription (team), per backend or as a series. Names the Azure source of each figure and how "
                   "to enable a missing one.",
    .input_schema = input_schema,
    .output_schema = output_schema,
    .read_only_hint = true,
    .idempotent_hint = true,
    .fn = get_metrics,
};
