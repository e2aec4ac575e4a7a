/* merge.c: merges the normalised source answers into get_metrics' result — totals, per
 * subscription rows, per backend rows, the time series — and says which source each figure came
 * from. Rules (issue 8): service-wide counts always from Azure Monitor; per-team figures from Log
 * Analytics where it answered, else from the reports API (every API of the service: its bySubscription
 * $filter cannot name one; "blocked" = 401+403+429, "throttled" unknown);
 * tokens from whichever token source the caller gives (Log Analytics' GatewayLlmLogs, else
 * Application Insights token metrics). Pure. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#define SRC_MONITOR "Azure Monitor metrics"
#define SRC_REPORTS "reports API"
#define SRC_LA "Log Analytics (ApiManagementGatewayLogs)"

static json_int_t get_int(json_t *o, const char *k) { return json_integer_value(json_object_get(o, k)); }

static json_t *rate(json_int_t hits, json_int_t misses)
{
    return hits + misses > 0 ? json_real(round((double)hits * 10000.0 / (double)(hits + misses)) / 10000.0) : json_null();
}

static json_t *ratio(json_int_t num, json_int_t den) { return den > 0 ? json_integer((num + den / 2) / den) : json_null(); }

static json_t *tokens_of(json_t *token_rows, const char *sub)
{
    size_t i;
    json_t *r;
    json_array_foreach(token_rows, i, r) {
        if (!strcmp(json_string_value(json_object_get(r, "ApimSubscriptionId")) ? json_string_value(json_object_get(r, "ApimSubscriptionId")) : "", sub))
            return json_pack("{s:I,s:I,s:I}", "prompt", get_int(r, "prompt_tokens"), "completion",
                             get_int(r, "completion_tokens"), "total", get_int(r, "total_tokens"));
    }
    return token_rows ? json_pack("{s:i,s:i,s:i}", "prompt", 0, "completion", 0, "total", 0) : json_null();
}

static json_t *row_from_la(json_t *r, json_t *token_rows)
{
    const char *sub = json_string_value(json_object_get(r, "ApimSubscriptionId"));
    json_int_t req = get_int(r, "requests"), thr = get_int(r, "throttled"), blk = get_int(r, "blocked"),
               fail = get_int(r, "failed"), hits = get_int(r, "cache_hits"), miss = get_int(r, "cache_misses");
    json_t *tb = json_object_get(r, "throttled_backend");
    json_t *row = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:o,s:o}", "subscription_id", sub ? sub : "",
                            "requests", req, "successful", req - thr - blk - fail, "blocked", blk, "failed", fail,
                            "throttled", thr, "cache_hits", hits, "cache_misses", miss, "cache_hit_rate",
                            rate(hits, miss), "avg_latency_ms", ratio(get_int(r, "total_ms"), req),
                            "avg_backend_latency_ms", ratio(get_int(r, "backend_ms"), get_int(r, "backend_calls")),
                            "tokens", tokens_of(token_rows, sub ? sub : ""));
    json_object_set_new(row, "throttled_gateway", json_is_integer(tb) ? json_integer(thr - json_integer_value(tb)) : json_null());
    json_object_set_new(row, "throttled_backend", json_is_integer(tb) ? json_incref(tb) : json_null());
    return row;
}

static json_t *row_from_reports(const char *sub, json_t *r, json_t *token_rows)
{
    json_t *row = json_deep_copy(r);
    json_object_set_new(row, "subscription_id", json_string(sub));
    json_object_set_new(row, "cache_hit_rate", rate(get_int(r, "cache_hits"), get_int(r, "cache_misses")));
    json_object_set_new(row, "tokens", tokens_of(token_rows, sub));
    json_object_set_new(row, "throttled_gateway", json_null()); /* 401, 403 and 429 counted together */
    json_object_set_new(row, "throttled_backend", json_null());
    return row;
}

static int by_throttled_then_requests(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    json_int_t d = get_int(y, "throttled") - get_int(x, "throttled");
    if (!d) /* reports rows: 429s unknown, blocked calls known */
        d = get_int(y, "blocked") - get_int(x, "blocked");
    if (!d)
        d = get_int(y, "requests") - get_int(x, "requests");
    if (!d)
        return strcmp(json_string_value(json_object_get(x, "subscription_id")),
                      json_string_value(json_object_get(y, "subscription_id")));
    return d > 0 ? 1 : -1;
}

static json_t *sorted(json_t *rows)
{
    size_t n = json_array_size(rows);
    json_t **v = calloc(n ? n : 1, sizeof(*v));
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(rows, i);
    qsort(v, n, sizeof(*v), by_throttled_then_requests);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append(out, v[i]);
    free(v);
    json_decref(rows);
    return out;
}

/* Per-subscription rows and the name of their source (NULL when none answered). */
static json_t *team_rows(const struct metrics_inputs *in, const char **source)
{
    json_t *rows = json_array();
    size_t i;
    json_t *r;
    const char *k;
    *source = NULL;
    if (in->la_subscriptions) {
        *source = SRC_LA;
        json_array_foreach(in->la_subscriptions, i, r) json_array_append_new(rows, row_from_la(r, in->tokens));
    } else if (in->reports) {
        *source = SRC_REPORTS " bySubscription: all APIs of the service (its $filter has no apiId); blocked = 401, "
                  "403 and 429 together, throttled (429 alone) unknown";
        json_object_foreach(in->reports, k, r) json_array_append_new(rows, row_from_reports(k, r, in->tokens));
    }
    return sorted(rows);
}

static json_int_t sum(json_t *rows, const char *key)
{
    json_int_t n = 0;
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) n += get_int(r, key);
    return n;
}

static json_t *totals(const struct metrics_inputs *in, json_t *rows, const char *team_source, json_t *figures)
{
    static const char *const counts[] = {"requests", "successful", "blocked", "failed", "throttled", NULL};
    json_t *t = json_object();
    for (const char *const *c = counts; *c; c++) {
        json_t *m = in->monitor_requests ? json_object_get(in->monitor_requests, *c) : NULL;
        json_object_set_new(t, *c, m ? json_incref(m) : team_source ? json_integer(sum(rows, *c)) : json_null());
    }
    if (!in->monitor_requests && team_source && !in->la_subscriptions)
        json_object_set_new(t, "throttled", json_null());
    json_t *mg = json_object_get(in->monitor_requests, "throttled_gateway");
    const char *split = NULL;
    if (json_is_integer(mg)) {
        json_object_set(t, "throttled_gateway", mg);
        json_object_set(t, "throttled_backend", json_object_get(in->monitor_requests, "throttled_backend"));
        split = SRC_MONITOR " (Requests by GatewayResponseCode and BackendResponseCode)";
    } else if (!in->monitor_requests && in->la_subscriptions) {
        json_object_set_new(t, "throttled_gateway", json_integer(sum(rows, "throttled_gateway")));
        json_object_set_new(t, "throttled_backend", json_integer(sum(rows, "throttled_backend")));
        split = SRC_LA " (ResponseCode and BackendResponseCode)";
    } else {
        json_object_set_new(t, "throttled_gateway", json_null());
        json_object_set_new(t, "throttled_backend", json_null());
    }
    json_object_set_new(figures, "throttled_split",
                        json_string(split ? split
                                    : in->monitor_requests
                                        ? "none: Azure Monitor's Requests series carried no BackendResponseCode"
                                        : "none: the reports API counts 401, 403 and 429 together and has no backend "
                                          "response code; send GatewayLogs to Log Analytics or read Azure Monitor "
                                          "metrics (Monitoring Reader) to tell the gateway's 429s from Azure OpenAI's"));
    json_object_set_new(figures, "totals",
                        json_string(in->monitor_requests  ? SRC_MONITOR " (Requests by GatewayResponseCode)"
                                    : in->la_subscriptions ? "sum of the per-subscription rows (Azure Monitor unavailable)"
                                    : team_source ? "sum of the reports API's per-subscription rows: all APIs of the service "
                                                    "(Azure Monitor unavailable)"
                                                  : "none"));
    json_int_t hits = sum(rows, "cache_hits"), miss = sum(rows, "cache_misses");
    json_object_set_new(t, "cache_hits", team_source ? json_integer(hits) : json_null());
    json_object_set_new(t, "cache_misses", team_source ? json_integer(miss) : json_null());
    json_object_set_new(t, "cache_hit_rate", rate(hits, miss));
    if (team_source)
        json_object_set_new(figures, "cache", json_string(in->la_subscriptions ? SRC_LA : SRC_REPORTS));
    json_t *d = in->monitor_durations;
    json_object_set_new(t, "avg_latency_ms", d ? json_incref(json_object_get(d, "avg_latency_ms")) : json_null());
    json_object_set_new(t, "avg_backend_latency_ms",
                        d ? json_incref(json_object_get(d, "avg_backend_latency_ms")) : json_null());
    if (d)
        json_object_set_new(figures, "latency", json_string(SRC_MONITOR " (Duration, BackendDuration)"));
    json_t *tok = json_null();
    if (in->tokens) {
        json_int_t p = 0, c = 0, all = 0;
        size_t i;
        json_t *r;
        json_array_foreach(in->tokens, i, r) {
            p += get_int(r, "prompt_tokens");
            c += get_int(r, "completion_tokens");
            all += get_int(r, "total_tokens");
        }
        tok = json_pack("{s:I,s:I,s:I}", "prompt", p, "completion", c, "total", all);
        json_object_set_new(figures, "tokens", json_string(in->tokens_source ? in->tokens_source : "?"));
    }
    json_object_set_new(t, "tokens", tok);
    return t;
}

static json_t *backend_rows(json_t *la_backends)
{
    json_t *out = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(la_backends, i, r) {
        json_int_t n = get_int(r, "requests");
        json_t *tb = json_object_get(r, "throttled_backend");
        json_array_append_new(out, json_pack("{s:s,s:I,s:O,s:o}", "backend_id",
                                             json_string_value(json_object_get(r, "BackendId")) ? json_string_value(json_object_get(r, "BackendId")) : "",
                                             "requests", n, "throttled_backend", json_is_integer(tb) ? tb : json_null(),
                                             "avg_backend_latency_ms", ratio(get_int(r, "backend_ms"), n)));
    }
    return out;
}

json_t *metrics_merge(const struct metrics_inputs *in, int group_by)
{
    const char *team_source;
    json_t *figures = json_object();
    json_t *rows = team_rows(in, &team_source);
    json_t *out = json_pack("{s:o}", "totals", totals(in, rows, team_source, figures));
    if (team_source)
        json_object_set_new(figures, "by_subscription", json_string(team_source));
    json_object_set_new(out, "by_subscription", group_by == METRICS_GROUP_NONE ? json_array() : json_incref(rows));
    if (in->la_backends) {
        json_object_set_new(out, "by_backend", backend_rows(in->la_backends));
        json_object_set_new(figures, "by_backend", json_string(SRC_LA));
    }
    if (group_by == METRICS_GROUP_TIME && in->monitor_requests) {
        json_object_set(out, "series", json_object_get(in->monitor_requests, "series"));
        json_object_set_new(figures, "series", json_string(SRC_MONITOR));
    } else if (group_by == METRICS_GROUP_TIME && in->reports_series) {
        json_object_set(out, "series", in->reports_series);
        json_object_set_new(figures, "series", json_string(SRC_REPORTS " byTime (blocked = 401, 403 and 429 together; "
                                                           "throttled unknown)"));
    }
    json_t *notes = in->notes ? json_copy(in->notes) : json_array();
    json_t *tot = json_object_get(out, "totals");
    json_int_t hits = get_int(tot, "cache_hits"), misses = get_int(tot, "cache_misses");
    if (hits == 0 && misses > 0)
        json_array_append_new(notes, json_sprintf("the semantic cache answered none of %" JSON_INTEGER_FORMAT
                                                  " lookups (hit rate 0%%): check that the embeddings backend its "
                                                  "policy names exists and that the gateway may call it (get_policy "
                                                  "shows the backend)", misses));
    json_object_set_new(out, "sources",
                        json_pack("{s:o,s:o,s:o}", "figures", figures, "unavailable",
                                  in->unavailable ? json_incref(in->unavailable) : json_array(), "notes", notes));
    json_decref(rows);
    return out;
}
