/* parse.c: turns each source's answer (Azure Monitor metrics, reports API, Log Analytics query)
 * into the small normalised objects metrics_merge() works from. Pure: JSON in, JSON out. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

static json_int_t int_of(json_t *v) { return json_is_number(v) ? (json_int_t)llround(json_number_value(v)) : 0; }

static json_t *metric_named(json_t *body, const char *name)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(body, "value"), i, m) {
        const char *n = json_string_value(json_object_get(json_object_get(m, "name"), "value"));
        if (n && !strcmp(n, name))
            return m;
    }
    return NULL;
}

/* The value of the series' dimension `name` (metadatavalues[].name.value, case-insensitive as
 * Monitor's dimension names are), or NULL. */
static const char *series_dimension(json_t *ts, const char *name)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(ts, "metadatavalues"), i, m) {
        const char *n = json_string_value(json_object_get(json_object_get(m, "name"), "value"));
        if (n && util_str_eq_ci(n, name))
            return json_string_value(json_object_get(m, "value"));
    }
    return NULL;
}

static void add_int(json_t *obj, const char *key, json_int_t n)
{
    json_object_set_new(obj, key, json_integer(json_integer_value(json_object_get(obj, key)) + n));
}

json_t *metrics_parse_monitor_requests(json_t *body)
{
    json_t *metric = metric_named(body, "Requests");
    if (!metric)
        return NULL;
    json_t *out = json_pack("{s:i,s:i,s:i,s:i,s:i,s:i}", "requests", 0, "successful", 0, "blocked", 0, "failed", 0,
                            "throttled", 0, "throttled_backend", 0);
    bool split = false; /* some series names its BackendResponseCode */
    json_t *points = json_object(); /* timeStamp -> {t, requests, throttled}, in order */
    size_t i, j;
    json_t *ts, *p;
    json_array_foreach(json_object_get(metric, "timeseries"), i, ts) {
        const char *code = series_dimension(ts, "GatewayResponseCode");
        const char *bcode = series_dimension(ts, "BackendResponseCode");
        int c = code ? atoi(code) : 200;
        bool backend_429 = c == 429 && bcode && atoi(bcode) == 429;
        split |= bcode != NULL;
        const char *bucket = c == 429 ? "throttled" : c >= 500 ? "failed" : c >= 400 ? "blocked" : c >= 200 ? "successful" : NULL;
        json_array_foreach(json_object_get(ts, "data"), j, p) {
            json_int_t n = int_of(json_object_get(p, "total"));
            const char *t = json_string_value(json_object_get(p, "timeStamp"));
            add_int(out, "requests", n);
            if (bucket)
                add_int(out, bucket, n);
            if (backend_429)
                add_int(out, "throttled_backend", n);
            if (!t)
                continue;
            json_t *pt = json_object_get(points, t);
            if (!pt) {
                pt = json_pack("{s:s,s:i,s:i}", "t", t, "requests", 0, "throttled", 0);
                json_object_set_new(points, t, pt);
            }
            add_int(pt, "requests", n);
            if (c == 429)
                add_int(pt, "throttled", n);
        }
    }
    json_t *series = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(points, k, v) json_array_append(series, v);
    json_decref(points);
    json_object_set_new(out, "series", series);
    json_int_t thr = json_integer_value(json_object_get(out, "throttled")),
               tb = json_integer_value(json_object_get(out, "throttled_backend"));
    /* no series at all: nothing was throttled, by anyone; series without the backend code: unknown */
    bool known = split || json_array_size(json_object_get(metric, "timeseries")) == 0;
    json_object_set_new(out, "throttled_gateway", known ? json_integer(thr - tb) : json_null());
    if (!known)
        json_object_set_new(out, "throttled_backend", json_null());
    return out;
}

/* The weight of one point: the requests of the same timestamp in the Requests series (Azure lists
 * only Average/Minimum/Maximum for the duration metrics), or 1 without a series. */
static double point_weight(json_t *p, json_t *requests_series)
{
    const char *t = json_string_value(json_object_get(p, "timeStamp"));
    size_t i;
    json_t *s;
    json_array_foreach(requests_series, i, s) {
        if (t && !strcmp(t, json_string_value(json_object_get(s, "t"))))
            return (double)json_integer_value(json_object_get(s, "requests"));
    }
    return requests_series ? 0 : 1;
}

/* Average over the window: Σ(average × weight) / Σ weight. */
static json_t *weighted_average(json_t *body, const char *name, json_t *requests_series)
{
    json_t *metric = metric_named(body, name);
    double sum = 0, count = 0;
    size_t i, j;
    json_t *ts, *p;
    json_array_foreach(json_object_get(metric, "timeseries"), i, ts) {
        json_array_foreach(json_object_get(ts, "data"), j, p) {
            json_t *avg = json_object_get(p, "average");
            double w = json_is_number(avg) ? point_weight(p, requests_series) : 0;
            sum += w * json_number_value(avg);
            count += w;
        }
    }
    return count > 0 ? json_integer((json_int_t)llround(sum / count)) : json_null();
}

json_t *metrics_parse_monitor_durations(json_t *body, json_t *requests_series)
{
    if (!metric_named(body, "Duration"))
        return NULL;
    return json_pack("{s:o,s:o}", "avg_latency_ms", weighted_average(body, "Duration", requests_series),
                     "avg_backend_latency_ms", weighted_average(body, "BackendDuration", requests_series));
}

static const char *last_segment(const char *id)
{
    const char *slash = id ? strrchr(id, '/') : NULL;
    return slash ? slash + 1 : id;
}

json_t *metrics_parse_reports(json_t *body)
{
    json_t *rows = json_object_get(body, "value");
    if (!json_is_array(rows))
        return NULL;
    json_t *out = json_object();
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        const char *sub = last_segment(json_string_value(json_object_get(r, "subscriptionId")));
        json_int_t total = int_of(json_object_get(r, "callCountTotal"));
        if (!sub || !*sub || total == 0)
            continue;
        json_object_set_new(
            out, sub,
            json_pack("{s:I,s:I,s:I,s:I,s:n,s:I,s:I,s:I,s:I}", "requests", total, "successful",
                      int_of(json_object_get(r, "callCountSuccess")), "blocked",
                      int_of(json_object_get(r, "callCountBlocked")), "failed",
                      int_of(json_object_get(r, "callCountFailed")), "throttled", "cache_hits",
                      int_of(json_object_get(r, "cacheHitCount")), "cache_misses",
                      int_of(json_object_get(r, "cacheMissCount")), "avg_latency_ms",
                      int_of(json_object_get(r, "apiTimeAvg")), "avg_backend_latency_ms",
                      int_of(json_object_get(r, "serviceTimeAvg"))));
    }
    return out;
}

json_t *metrics_parse_reports_series(json_t *body)
{
    json_t *rows = json_object_get(body, "value");
    if (!json_is_array(rows))
        return NULL;
    json_t *out = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        const char *t = json_string_value(json_object_get(r, "timestamp"));
        json_array_append_new(out, json_pack("{s:s,s:I,s:I,s:n}", "t", t ? t : "", "requests",
                                             int_of(json_object_get(r, "callCountTotal")), "blocked",
                                             int_of(json_object_get(r, "callCountBlocked")), "throttled"));
    }
    return out;
}

json_t *metrics_parse_la(json_t *body)
{
    json_t *table = json_array_get(json_object_get(body, "tables"), 0);
    json_t *cols = json_object_get(table, "columns"), *rows = json_object_get(table, "rows");
    if (!json_is_array(cols) || !json_is_array(rows))
        return NULL;
    json_t *out = json_array();
    size_t i, j;
    json_t *row, *c;
    json_array_foreach(rows, i, row) {
        json_t *o = json_object();
        json_array_foreach(cols, j, c) {
            const char *name = json_string_value(json_object_get(c, "name"));
            const char *type = json_string_value(json_object_get(c, "type"));
            json_t *cell = json_array_get(row, j);
            bool numeric = type && (!strcmp(type, "long") || !strcmp(type, "int") || !strcmp(type, "real"));
            if (name && cell && numeric && json_is_string(cell))
                json_object_set_new(o, name, json_integer((json_int_t)llround(strtod(json_string_value(cell), NULL))));
            else if (name && cell)
                json_object_set(o, name, cell);
        }
        json_array_append_new(out, o);
    }
    return out;
}

/* Sum of one metric's data points per series, keyed by the series' dimension value. */
static void token_series(json_t *body, const char *metric, const char *key, json_t *rows)
{
    json_t *m = metric_named(body, metric);
    size_t i, j;
    json_t *ts, *p;
    json_array_foreach(json_object_get(m, "timeseries"), i, ts) {
        const char *sub = json_string_value(json_object_get(json_array_get(json_object_get(ts, "metadatavalues"), 0), "value"));
        json_int_t n = 0;
        json_array_foreach(json_object_get(ts, "data"), j, p) n += int_of(json_object_get(p, "total"));
        json_t *row = json_object_get(rows, sub ? sub : "");
        if (!row) {
            row = json_pack("{s:s,s:i,s:i,s:i}", "ApimSubscriptionId", sub ? sub : "", "prompt_tokens", 0,
                            "completion_tokens", 0, "total_tokens", 0);
            json_object_set_new(rows, sub ? sub : "", row);
        }
        add_int(row, key, n);
    }
}

json_t *metrics_parse_token_metrics(json_t *body)
{
    if (!json_is_array(json_object_get(body, "value")))
        return NULL;
    json_t *rows = json_object(), *out = json_array();
    token_series(body, "Prompt Tokens", "prompt_tokens", rows);
    token_series(body, "Completion Tokens", "completion_tokens", rows);
    token_series(body, "Total Tokens", "total_tokens", rows);
    const char *k;
    json_t *v;
    json_object_foreach(rows, k, v) json_array_append(out, v);
    json_decref(rows);
    return out;
}
