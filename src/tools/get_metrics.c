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
    "\"group_by\":{\"type\":\"string\",\"enum\":[\"subscription\",\"time\",\"none\"]}}}";

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
    char *text = metrics_text(result);
    json_t *out = tools_ok(ctx, result, text);
    free(text);
    return out;
}

const struct mcp_tool tools_get_metrics = {
    .name = "get_metrics",
    .title = "Traffic metrics of an API",
    .description = "Traffic of one API over a window: requests, 429s, cache hit rate, latency, tokens; total, per "
                   "subscription (team), per backend or as a series. Call it after a quota, pool or cache change. "
                   "Names the Azure source of each figure and how to enable a missing one.",
    .input_schema = input_schema,
    .output_schema = output_schema,
    .read_only_hint = true,
    .idempotent_hint = true,
    .fn = get_metrics,
};
