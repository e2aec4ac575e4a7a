/* traffic.c: apim-sim's traffic routes, all answered from the traffic model (traffic_model.c):
 *   {service}/reports/bySubscription|byApi|byTime   the APIM reports API (classic tiers only; v2
 *       tiers answer 400 MethodNotAllowedInPricingTier as APIM does)
 *   {service}/providers/Microsoft.Insights/metrics  Azure Monitor metrics Requests, Duration,
 *       BackendDuration with $filter on ApiId, GatewayResponseCode, BackendResponseCode, Location
 *   {service}/providers/Microsoft.Insights/diagnosticSettings  the scenario's Log Analytics link
 *   .../Microsoft.OperationalInsights/workspaces/{ws}[/api/query]  handed to traffic_logs.c
 *   GET /_sim/traffic  the model's own counters for a window, for tests. */
#include "traffic.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MONITOR_VERSION "2024-02-01"
#define DIAG_VERSION "2021-05-01-preview"

static bool is_v2(sim_state *st)
{
    json_t *svc = json_object_get(sim_state_get(st, st->service_id), "resource");
    const char *sku = json_string_value(json_object_get(json_object_get(svc, "sku"), "name"));
    return sku && util_str_ends_with(sku, "V2");
}

static const char *sku_name(sim_state *st)
{
    json_t *svc = json_object_get(sim_state_get(st, st->service_id), "resource");
    const char *sku = json_string_value(json_object_get(json_object_get(svc, "sku"), "name"));
    return sku ? sku : "Developer";
}

static const char *location(sim_state *st)
{
    json_t *svc = json_object_get(sim_state_get(st, st->service_id), "resource");
    const char *loc = json_string_value(json_object_get(svc, "location"));
    return loc ? loc : "East US";
}

static int parse_time(const char *s, size_t n, double *out)
{
    char buf[64];
    if (n < 19 || n >= sizeof(buf) - 1) /* at least YYYY-MM-DDTHH:MM:SS */
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (!strchr(buf + 10, 'Z') && !strchr(buf + 10, '+') && !strchr(buf + 11, '-'))
        strcat(buf, "Z");
    int64_t t;
    if (util_time_parse_iso8601(buf, &t) != 0)
        return -1;
    *out = (double)t;
    return 0;
}

int sim_traffic_filter_each(const char *filter, sim_traffic_clause_fn fn, void *user, char *bad, size_t nbad)
{
    char *copy = util_strdup(filter ? filter : "");
    int rc = 0;
    for (char *clause = copy, *next; *clause && !rc; clause = next ? next : clause + strlen(clause)) {
        next = strstr(clause, " and ");
        if (next) {
            *next = '\0';
            next += 5;
        }
        while (*clause == ' ')
            clause++;
        snprintf(bad, nbad, "%s", clause);
        char *eq = strstr(clause, " eq '"), *end = eq ? strchr(eq + 5, '\'') : NULL;
        if (!eq || !end || end[1] != '\0') {
            rc = -1;
        } else {
            *eq = '\0';
            *end = '\0';
            rc = fn(clause, eq + 5, user);
        }
    }
    if (rc == 0 && nbad)
        bad[0] = '\0';
    free(copy);
    return rc;
}

int sim_traffic_timespan(const char *s, double *from, double *to)
{
    const char *slash = s ? strchr(s, '/') : NULL;
    return slash && parse_time(s, (size_t)(slash - s), from) == 0 && parse_time(slash + 1, strlen(slash + 1), to) == 0 &&
                   *to > *from
               ? 0
               : -1;
}

bool sim_traffic_version_ok(const sim_request *req, const char *const *ok, sim_response *resp)
{
    const char *v = json_string_value(json_object_get(req->query, "api-version"));
    for (const char *const *p = ok; v && *p; p++)
        if (!strcmp(v, *p))
            return true;
    sim_response_arm_error(resp, 400, v ? "InvalidApiVersionParameter" : "MissingApiVersionParameter", NULL,
                           "The api-version '%s' is invalid for this resource type. The supported versions are '%s'.",
                           v ? v : "", ok[0]);
    return false;
}

bool sim_traffic_child_ok(const sim_request *req, const char *segment, const char *type, const char *expected,
                          const char *method, const char *route, const char *const *versions, sim_response *resp)
{
    const char *at = util_strcasestr(req->path, segment);
    char name[128] = "", rest[128] = "";
    if (at)
        sscanf(at + strlen(segment), "%127[^/]%127s", name, rest);
    if (!expected || strcasecmp(expected, name) != 0) {
        sim_response_arm_error(resp, 404, "ResourceNotFound", NULL, "The Resource '%s/%s' was not found.", type, name);
        return false;
    }
    if (strcasecmp(rest, route) != 0 || strcmp(req->method, method) != 0) {
        sim_response_arm_error(resp, 404, "InvalidResourceType", NULL, "apim-sim serves only %s .../%s/%s%s.", method,
                               type, name, route);
        return false;
    }
    return sim_traffic_version_ok(req, versions, resp);
}

static void iso(double t, char *out, size_t n) { util_time_iso8601((int64_t)t, out, n); }

/* ---- reports ---------------------------------------------------------------------------- */

/* Finds "<key>'VALUE'" in a $filter; copies VALUE into out. */
static bool filter_value(const char *filter, const char *key, char *out, size_t n)
{
    const char *p = filter ? strstr(filter, key) : NULL;
    if (!p)
        return false;
    p += strlen(key);
    const char *end = strchr(p, '\'');
    if (!end || (size_t)(end - p) >= n)
        return false;
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = '\0';
    return true;
}

static json_t *report_counts(const sim_traffic_stats *s)
{
    double api_avg = s->requests ? (double)s->total_ms / (double)s->requests : 0;
    double svc_avg = s->misses ? (double)s->backend_ms / (double)s->misses : 0;
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:f,s:f,s:f,s:f}", "callCountSuccess",
                     (json_int_t)s->allowed, "callCountBlocked", (json_int_t)s->throttled, "callCountFailed",
                     (json_int_t)s->failed, "callCountOther", (json_int_t)0, "callCountTotal", (json_int_t)s->requests,
                     "bandwidth", (json_int_t)(s->requests * 2048), "cacheHitCount", (json_int_t)s->hits,
                     "cacheMissCount", (json_int_t)s->cache_misses, "apiTimeAvg", api_avg, "apiTimeMin", s->requests ? 5.0 : 0.0,
                     "apiTimeMax", api_avg * 2, "serviceTimeAvg", svc_avg, "serviceTimeMin", svc_avg / 2,
                     "serviceTimeMax", svc_avg * 2);
}

static void report_by_subscription(sim_state *st, const char *api, double from, double to, json_t *rows)
{
    json_t *snap = sim_traffic_snapshot(st);
    const char *sub;
    json_t *tpm;
    json_object_foreach(sim_traffic_demand(st), sub, tpm) {
        sim_traffic_stats s;
        memset(&s, 0, sizeof(s));
        sim_traffic_window(st, sub, api, from, to, &s);
        const char *product = json_string_value(json_object_get(json_object_get(snap, sub), "product"));
        json_t *row = report_counts(&s);
        char *pid = util_printf("/products/%s", product ? product : "");
        char *sid = util_printf("/subscriptions/%s", sub);
        char *uid = util_printf("/users/%s-owner", sub);
        json_object_set_new(row, "name", json_string(""));
        json_object_set_new(row, "userId", json_string(uid));
        json_object_set_new(row, "productId", json_string(pid));
        json_object_set_new(row, "subscriptionId", json_string(sid));
        json_array_append_new(rows, row);
        free(pid);
        free(sid);
        free(uid);
    }
    json_decref(snap);
}

static void report_by_api(sim_state *st, const char *api, double from, double to, json_t *rows)
{
    char *prefix = sim_lower(st->service_id);
    char *want = util_printf("%s/apis/", prefix);
    const char *key;
    json_t *entry;
    json_object_foreach(st->resources, key, entry) {
        const char *name = key + strlen(want);
        if (!util_str_starts_with(key, want) || strchr(name, '/') || (api && !util_str_eq_ci(api, name)))
            continue;
        sim_traffic_stats s;
        memset(&s, 0, sizeof(s));
        sim_traffic_window(st, NULL, name, from, to, &s);
        json_t *row = report_counts(&s);
        char *aid = util_printf("/apis/%s", name);
        const char *display = json_string_value(
            json_object_get(json_object_get(json_object_get(entry, "resource"), "properties"), "displayName"));
        json_object_set_new(row, "name", json_string(display ? display : name));
        json_object_set_new(row, "apiId", json_string(aid));
        json_array_append_new(rows, row);
        free(aid);
    }
    free(prefix);
    free(want);
}

static int report_by_time(sim_state *st, const sim_request *req, const char *api, double from, double to,
                          json_t *rows, sim_response *resp)
{
    const char *interval = json_string_value(json_object_get(req->query, "interval"));
    int64_t step = 0;
    if (!interval || util_duration_parse_iso8601(interval, &step) != 0 || step <= 0 || step % 900 != 0) {
        sim_response_arm_error(resp, 400, "ValidationError", NULL,
                               "'interval' is required and must be an ISO 8601 duration that is a multiple of 15 "
                               "minutes (PT15M, PT1H, P1D...), got '%s'.", interval ? interval : "");
        return -1;
    }
    double start = floor(from / (double)step) * (double)step;
    if ((to - start) / (double)step > SIM_TRAFFIC_MAX_POINTS) {
        sim_response_arm_error(resp, 400, "ValidationError", NULL, "The interval gives too many rows for this window.");
        return -1;
    }
    for (double t = start; t < to; t += (double)step) {
        sim_traffic_stats s;
        memset(&s, 0, sizeof(s));
        sim_traffic_window(st, NULL, api, fmax(t, from), fmin(t + (double)step, to), &s);
        json_t *row = report_counts(&s);
        char ts[32];
        iso(t, ts, sizeof(ts));
        json_object_set_new(row, "timestamp", json_string(ts));
        json_object_set_new(row, "interval", json_string(interval));
        json_array_append_new(rows, row);
    }
    return 0;
}

/* The fields a report's $filter may name (apimreports.json 2024-05-01, the $filter parameter's
 * table): bySubscription has no apiId; byApi documents no table (any field apim-sim knows). */
static bool report_filter_fields_ok(const char *what, const char *filter, char *bad, size_t nbad)
{
    static const char *const by_subscription[] = {"timestamp", "apiRegion", "userId", "productId", "subscriptionId",
                                                  NULL};
    static const char *const by_time[] = {"timestamp", "apiRegion", "userId", "productId", "subscriptionId", "apiId",
                                          "operationId", NULL};
    const char *const *ok = !strcmp(what, "bySubscription") ? by_subscription : !strcmp(what, "byTime") ? by_time : NULL;
    char *copy = util_strdup(filter ? filter : "");
    bool good = true;
    for (char *c = copy, *next; ok && good && *c; c = next ? next : c + strlen(c)) {
        next = strstr(c, " and ");
        if (next) {
            *next = '\0';
            next += 5;
        }
        char field[64] = "";
        sscanf(c, " %63[A-Za-z]", field);
        good = sim_in_list(field, ok);
        snprintf(bad, nbad, "%s", c);
    }
    free(copy);
    return good;
}

static void reports_route(sim_state *st, const sim_request *req, const char *rel, sim_response *resp)
{
    static const char *const versions[] = {"2024-05-01", "2024-06-01-preview", "2023-09-01-preview",
                                           "2023-05-01-preview", "2022-08-01", NULL};
    if (!sim_traffic_version_ok(req, versions, resp))
        return;
    if (is_v2(st)) {
        sim_response_arm_error(resp, 400, "MethodNotAllowedInPricingTier", NULL,
                               "Method not allowed in %s pricing tier", sku_name(st));
        return;
    }
    const char *filter = json_string_value(json_object_get(req->query, "$filter"));
    char ge[40], le[40], api[260];
    double from, to;
    if (!filter_value(filter, "timestamp ge datetime'", ge, sizeof(ge)) ||
        !filter_value(filter, "timestamp le datetime'", le, sizeof(le)) || parse_time(ge, strlen(ge), &from) ||
        parse_time(le, strlen(le), &to)) {
        sim_response_arm_error(resp, 400, "ValidationError", NULL,
                               "Invalid filter: '$filter' must hold \"timestamp ge datetime'...' and timestamp le "
                               "datetime'...'\" (and optionally \"apiId eq '...'\").");
        return;
    }
    bool has_api = filter_value(filter, "apiId eq '", api, sizeof(api));
    const char *what = rel + strlen("reports/");
    char bad[300] = "";
    if (!report_filter_fields_ok(what, filter, bad, sizeof(bad))) {
        /* The field table is Microsoft's; the exact error APIM answers is not documented. */
        sim_response_arm_error(resp, 400, "ValidationError", NULL,
                               "Invalid filter clause specified: '%s'. %s filters on timestamp (ge, le), apiRegion, "
                               "userId, productId, subscriptionId%s (eq).", bad, what,
                               !strcmp(what, "byTime") ? ", apiId, operationId" : "");
        return;
    }
    json_t *rows = json_array();
    if (!strcmp(what, "bySubscription"))
        report_by_subscription(st, has_api ? api : NULL, from, to, rows);
    else if (!strcmp(what, "byApi"))
        report_by_api(st, has_api ? api : NULL, from, to, rows);
    else if (!strcmp(what, "byTime")) {
        if (report_by_time(st, req, has_api ? api : NULL, from, to, rows, resp) != 0) {
            json_decref(rows);
            return;
        }
    } else {
        json_decref(rows);
        sim_response_arm_error(resp, 404, "ResourceNotFound", NULL,
                               "apim-sim serves reports/bySubscription, byApi and byTime, not '%s'.", what);
        return;
    }
    sim_response_json(resp, 200, json_pack("{s:o,s:I,s:s}", "value", rows, "count", (json_int_t)json_array_size(rows),
                                           "nextLink", ""));
}

/* ---- Azure Monitor metrics ------------------------------------------------------------- */

struct mfilter {
    char api[260];
    char code[8];      /* GatewayResponseCode fixed value, "" = any */
    bool split_code;   /* GatewayResponseCode eq '*' */
    bool split_backend_code;
    bool split_location;
};

static int monitor_clause(const char *dim, const char *val, void *user)
{
    struct mfilter *f = user;
    if (!strcmp(dim, "ApiId"))
        snprintf(f->api, sizeof(f->api), "%s", strcmp(val, "*") ? val : "");
    else if (!strcmp(dim, "GatewayResponseCode") && !strcmp(val, "*"))
        f->split_code = true;
    else if (!strcmp(dim, "GatewayResponseCode"))
        snprintf(f->code, sizeof(f->code), "%.7s", val);
    else if (!strcmp(dim, "BackendResponseCode") && !strcmp(val, "*"))
        f->split_backend_code = true;
    else if (!strcmp(dim, "Location") && !strcmp(val, "*"))
        f->split_location = true;
    else
        return -1;
    return 0;
}

static int parse_monitor_filter(const char *filter, struct mfilter *f, char *bad, size_t nbad)
{
    memset(f, 0, sizeof(*f));
    return sim_traffic_filter_each(filter, monitor_clause, f, bad, nbad);
}

struct series {
    const char *dim;   /* dimension name, NULL = no split */
    const char *value; /* dimension value */
    const char *gw, *bk; /* the GatewayResponseCode / BackendResponseCode of the series, NULL = any */
    const char *dim2, *value2; /* a second dimension (both codes split), or NULL */
};

/* Requests with gateway code g and backend code b ("" = any): 200/200 backend answers, 200/0 cache
 * hits, 429/0 the gateway's own 429s, 429/429 the backend's (passed on to the client). */
static int64_t cell_of(const sim_traffic_stats *s, const char *g, const char *b)
{
    const struct {
        const char *g, *b;
        int64_t n;
    } cells[] = {{"200", "200", s->misses - s->backend_throttled - s->backend_failed - s->timeouts},
                 {"200", "0", s->hits},
                 {"429", "0", s->throttled - s->backend_throttled},
                 {"429", "429", s->backend_throttled},
                 {"503", "503", s->backend_failed},
                 {"503", "0", s->unavailable},
                 {"504", "0", s->timeouts}};
    int64_t n = 0;
    for (size_t i = 0; i < sizeof cells / sizeof cells[0]; i++)
        if ((!*g || !strcmp(g, cells[i].g)) && (!*b || !strcmp(b, cells[i].b)))
            n += cells[i].n;
    return n;
}

static int64_t requests_of(const sim_traffic_stats *s, const struct mfilter *f, const struct series *se)
{
    const char *g = se->gw ? se->gw : f->code, *b = se->bk ? se->bk : "";
    return cell_of(s, g, b);
}

static json_t *data_point(const char *metric, const char *aggs, const sim_traffic_stats *s, const struct mfilter *f,
                          const struct series *se, double t)
{
    char ts[32];
    iso(t, ts, sizeof(ts));
    json_t *p = json_pack("{s:s}", "timeStamp", ts);
    int64_t count = !strcmp(metric, "Requests") ? requests_of(s, f, se)
                    : !strcmp(metric, "Duration") ? s->requests : s->misses;
    double sum = !strcmp(metric, "Duration") ? (double)s->total_ms : (double)s->backend_ms;
    if (strstr(aggs, "total"))
        json_object_set_new(p, "total", json_real(!strcmp(metric, "Requests") ? (double)count : sum));
    if (strstr(aggs, "count"))
        json_object_set_new(p, "count", json_real((double)count));
    double avg = !strcmp(metric, "Requests") ? 1.0 : count > 0 ? sum / (double)count : 0;
    if (strstr(aggs, "average") && count > 0)
        json_object_set_new(p, "average", json_real(avg));
    if (strstr(aggs, "minimum") && count > 0) /* the model keeps no distribution: min = max = average */
        json_object_set_new(p, "minimum", json_real(avg));
    if (strstr(aggs, "maximum") && count > 0)
        json_object_set_new(p, "maximum", json_real(avg));
    return p;
}

static json_t *one_series(sim_state *st, const char *metric, const char *aggs, const struct mfilter *f,
                          const struct series *se, double from, double to, double step)
{
    json_t *data = json_array();
    for (double t = from; t < to; t += step) {
        sim_traffic_stats s;
        memset(&s, 0, sizeof(s));
        sim_traffic_window(st, NULL, f->api[0] ? f->api : NULL, t, fmin(t + step, to), &s);
        json_t *point = data_point(metric, aggs, &s, f, se, t);
        if (st->traffic_cut_s > 0 && t >= sim_traffic_horizon(st)) { /* not ingested yet: a point without values */
            json_t *ts = json_incref(json_object_get(point, "timeStamp"));
            json_object_clear(point);
            json_object_set_new(point, "timeStamp", ts);
        }
        json_array_append_new(data, point);
    }
    json_t *meta = json_array();
    if (se->dim)
        json_array_append_new(meta, json_pack("{s:{s:s,s:s},s:s}", "name", "value", se->dim, "localizedValue", se->dim,
                                              "value", se->value));
    if (se->dim2)
        json_array_append_new(meta, json_pack("{s:{s:s,s:s},s:s}", "name", "value", se->dim2, "localizedValue",
                                              se->dim2, "value", se->value2));
    return json_pack("{s:o,s:o}", "metadatavalues", meta, "data", data);
}

static json_t *metric_value(sim_state *st, const char *metric, const char *aggs, const struct mfilter *f,
                            double from, double to, double step)
{
    /* the failure codes appear only when the window holds failures (backend faults) */
    sim_traffic_stats all;
    memset(&all, 0, sizeof(all));
    sim_traffic_window(st, NULL, f->api[0] ? f->api : NULL, from, to, &all);
    bool failures = all.failed > 0;
    static const char *const codes_ok[] = {"200", "429", NULL}, *const bcodes_ok[] = {"200", "0", "429", NULL};
    static const char *const codes_all[] = {"200", "429", "503", "504", NULL},
                             *const bcodes_all[] = {"200", "0", "429", "503", NULL};
    const char *const *codes = failures ? codes_all : codes_ok, *const *bcodes = failures ? bcodes_all : bcodes_ok;
    json_t *ts = json_array();
    if (f->split_code && f->split_backend_code) { /* one series per (gateway code, backend code) that occurs */
        static const char *const pairs[][2] = {{"200", "200"}, {"200", "0"}, {"429", "0"}, {"429", "429"},
                                               {"503", "503"}, {"503", "0"}, {"504", "0"}};
        for (size_t i = 0; i < (failures ? 7u : 4u); i++) {
            struct series se = {"GatewayResponseCode", pairs[i][0], pairs[i][0], pairs[i][1], "BackendResponseCode",
                                pairs[i][1]};
            json_array_append_new(ts, one_series(st, metric, aggs, f, &se, from, to, step));
        }
    }
    const char *dim = f->split_code && f->split_backend_code ? NULL
                      : f->split_code                        ? "GatewayResponseCode"
                      : f->split_backend_code                ? "BackendResponseCode"
                      : f->split_location                    ? "Location"
                                                             : NULL;
    const char *const *values = f->split_code ? codes : bcodes;
    const char *loc[] = {location(st), NULL};
    if (f->split_location)
        values = loc;
    for (size_t i = 0; (dim ? values[i] != NULL : i == 0) && !(f->split_code && f->split_backend_code); i++) {
        struct series se = {dim, dim ? values[i] : NULL, NULL, NULL, NULL, NULL};
        if (dim && !strcmp(dim, "GatewayResponseCode"))
            se.gw = values[i];
        else if (dim && !strcmp(dim, "BackendResponseCode"))
            se.bk = values[i];
        json_array_append_new(ts, one_series(st, metric, aggs, f, &se, from, to, step));
    }
    char *id = util_printf("%s/providers/Microsoft.Insights/metrics/%s", st->service_id, metric);
    json_t *m = json_pack("{s:s,s:s,s:{s:s,s:s},s:s,s:s,s:o,s:s}", "id", id, "type", "Microsoft.Insights/metrics",
                          "name", "value", metric, "localizedValue", metric, "displayDescription",
                          !strcmp(metric, "Requests") ? "Gateway request metrics with multidimensional support"
                                                      : "Duration in milliseconds",
                          "unit", !strcmp(metric, "Requests") ? "Count" : "MilliSeconds", "timeseries", ts,
                          "errorCode", "Success");
    free(id);
    return m;
}

bool sim_traffic_interval(const char *interval, int64_t *step)
{
    static const char *const ok[] = {"PT1M", "PT5M", "PT15M", "PT30M", "PT1H", "PT6H", "PT12H", "P1D", NULL};
    for (const char *const *p = ok; *p; p++)
        if (!strcmp(interval, *p))
            return util_duration_parse_iso8601(interval, step) == 0;
    return false;
}

struct mquery {
    const char *timespan, *interval;
    double from, to;
    int64_t step;
    struct mfilter f;
};

/* Checks timespan, interval, the number of points and $filter; 0, or -1 with resp filled. */
static int metrics_args(const sim_request *req, struct mquery *q, sim_response *resp)
{
    q->timespan = json_string_value(json_object_get(req->query, "timespan"));
    q->interval = json_string_value(json_object_get(req->query, "interval"));
    if (!q->interval)
        q->interval = "PT1H";
    char bad[300] = "";
    if (!q->timespan || sim_traffic_timespan(q->timespan, &q->from, &q->to) != 0)
        sim_response_arm_error(resp, 400, "BadRequest", NULL, "Invalid timespan '%s': expected START/END in ISO 8601.",
                               q->timespan ? q->timespan : "");
    else if (!sim_traffic_interval(q->interval, &q->step))
        sim_response_arm_error(resp, 400, "BadRequest", NULL,
                               "Invalid interval '%s': supported are PT1M, PT5M, PT15M, PT30M, PT1H, PT6H, PT12H, P1D.",
                               q->interval);
    else if ((q->to - q->from) / (double)q->step > SIM_TRAFFIC_MAX_POINTS)
        sim_response_arm_error(resp, 400, "BadRequest", NULL,
                               "The query would return more than %d points: use a larger interval.", SIM_TRAFFIC_MAX_POINTS);
    else if (parse_monitor_filter(json_string_value(json_object_get(req->query, "$filter")), &q->f, bad, sizeof(bad)))
        sim_response_arm_error(resp, 400, "BadRequest", NULL,
                               "Unsupported $filter clause '%s': apim-sim knows \"ApiId eq '...'\", "
                               "\"GatewayResponseCode eq '...'|'*'\", \"BackendResponseCode eq '*'\", \"Location eq '*'\".",
                               bad);
    else
        return 0;
    return -1;
}

/* Duration and BackendDuration aggregate Average, Minimum, Maximum only (not Count or Total). */
static bool duration_aggregations_bad(const char *aggs, char *bad, size_t n)
{
    char *copy = util_strdup(aggs);
    bool badly = false;
    for (char *save = NULL, *a = strtok_r(copy, ",", &save); a && !badly; a = strtok_r(NULL, ",", &save))
        if (strcmp(a, "average") && strcmp(a, "minimum") && strcmp(a, "maximum")) {
            snprintf(bad, n, "%s", a);
            badly = true;
        }
    free(copy);
    return badly;
}

bool sim_traffic_top(const sim_request *req, int *top, int *order, sim_response *resp)
{
    const char *t = json_string_value(json_object_get(req->query, "top"));
    const char *o = json_string_value(json_object_get(req->query, "orderby"));
    char agg[32] = "", dir[8] = "";
    *top = 10; /* Monitor's default */
    *order = 0;
    if (t && (sscanf(t, "%d", top) != 1 || *top < 1)) {
        sim_response_arm_error(resp, 400, "BadRequest", NULL, "'top' must be a positive integer, got '%s'.", t);
        return false;
    }
    if (o && (sscanf(o, "%31s %7s", agg, dir) != 2 || (strcasecmp(dir, "asc") && strcasecmp(dir, "desc")))) {
        sim_response_arm_error(resp, 400, "BadRequest", NULL,
                               "'orderby' must be an aggregation and a direction such as 'Total desc', got '%s'.", o);
        return false;
    }
    if (o)
        *order = strcasecmp(dir, "asc") ? -1 : 1;
    return true;
}

static double series_sum(json_t *ts)
{
    double sum = 0;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(ts, "data"), i, p) {
        json_t *v = json_object_get(p, "total") ? json_object_get(p, "total") : json_object_get(p, "average");
        sum += json_is_number(v) ? json_number_value(v) : 0;
    }
    return sum;
}

static int order_sign;
static int by_sum(const void *a, const void *b)
{
    double x = series_sum(*(json_t *const *)a), y = series_sum(*(json_t *const *)b);
    return x < y ? -order_sign : x > y ? order_sign : 0;
}

void sim_traffic_limit_series(json_t *timeseries, int top, int order)
{
    size_t n = json_array_size(timeseries);
    json_t **v = calloc(n ? n : 1, sizeof(*v));
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(timeseries, i));
    order_sign = order; /* lock held: one sort at a time */
    if (order)
        qsort(v, n, sizeof(*v), by_sum);
    json_array_clear(timeseries);
    for (size_t i = 0; i < n; i++) {
        if ((int)i < top)
            json_array_append(timeseries, v[i]);
        json_decref(v[i]);
    }
    free(v);
}

static bool service_metric(const char *m)
{
    return !strcmp(m, "Requests") || !strcmp(m, "Duration") || !strcmp(m, "BackendDuration");
}

static void metrics_route(sim_state *st, const sim_request *req, sim_response *resp)
{
    static const char *const versions[] = {MONITOR_VERSION, "2023-10-01", "2018-01-01", NULL};
    struct mquery q;
    const char *names = json_string_value(json_object_get(req->query, "metricnames"));
    const char *aggs_in = json_string_value(json_object_get(req->query, "aggregation"));
    if (!sim_traffic_version_ok(req, versions, resp) || metrics_args(req, &q, resp) != 0)
        return;
    if (!names) {
        sim_response_arm_error(resp, 400, "BadRequest", NULL, "'metricnames' is required by apim-sim.");
        return;
    }
    st->traffic_cut_s = st->metrics_delay_s; /* points not ingested yet are not returned */
    char *aggs = sim_lower(aggs_in ? aggs_in : "average"), *list = util_strdup(names);
    json_t *value = json_array();
    char badagg[32] = "";
    int top, order;
    if (!sim_traffic_top(req, &top, &order, resp)) {
        json_decref(value);
        value = NULL;
    }
    for (char *save = NULL, *m = strtok_r(list, ",", &save); value && m; m = strtok_r(NULL, ",", &save)) {
        if (strcmp(m, "Requests") != 0 && service_metric(m) && duration_aggregations_bad(aggs, badagg, sizeof(badagg))) {
            /* Supported aggregations per Microsoft's metric list; the error text is apim-sim's. */
            sim_response_arm_error(resp, 400, "BadRequest", NULL,
                                   "Metric %s does not support the requested aggregation '%s'. Supported aggregations: "
                                   "Average, Minimum, Maximum.", m, badagg);
            json_decref(value);
            value = NULL;
            break;
        }
        if (service_metric(m)) {
            json_t *mv = metric_value(st, m, aggs, &q.f, q.from, q.to, (double)q.step);
            sim_traffic_limit_series(json_object_get(mv, "timeseries"), top, order);
            json_array_append_new(value, mv);
            continue;
        }
        sim_response_arm_error(resp, 400, "BadRequest", NULL,
                               "Failed to find metric configuration for provider: Microsoft.ApiManagement, resource "
                               "Type: service, metric: %s, Valid metrics: Requests,Duration,BackendDuration", m);
        json_decref(value);
        value = NULL;
    }
    if (value)
        sim_response_json(resp, 200, json_pack("{s:i,s:s,s:s,s:o,s:s,s:s}", "cost", 0, "timespan", q.timespan,
                                               "interval", q.interval, "value", value, "namespace",
                                               "Microsoft.ApiManagement/service", "resourceregion", location(st)));
    free(list);
    free(aggs);
    st->traffic_cut_s = 0;
}

/* ---- diagnostic settings ---------------------------------------------------------------- */

static const char *workspace_name(sim_state *st)
{
    return json_string_value(json_object_get(json_object_get(sim_traffic_scenario(st), "log_analytics"), "workspace"));
}

static void diagnostics_route(sim_state *st, const sim_request *req, sim_response *resp)
{
    static const char *const versions[] = {DIAG_VERSION, NULL};
    if (!sim_traffic_version_ok(req, versions, resp))
        return;
    json_t *list = json_array();
    if (workspace_name(st)) {
        char sub[128] = "", rg[128] = "";
        sscanf(st->service_id, "/subscriptions/%127[^/]/resourceGroups/%127[^/]", sub, rg);
        char *ws = util_printf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.OperationalInsights/workspaces/%s",
                               sub, rg, workspace_name(st));
        char *id = util_printf("%s/providers/microsoft.insights/diagnosticSettings/to-log-analytics", st->service_id);
        json_array_append_new(
            list, json_pack("{s:s,s:s,s:s,s:{s:s,s:[{s:s,s:b,s:{s:b,s:i}},{s:s,s:b,s:{s:b,s:i}}],s:[{s:s,s:b}],s:n}}",
                            "id", id, "type", "Microsoft.Insights/diagnosticSettings", "name", "to-log-analytics",
                            "properties", "workspaceId", ws, "logs", "category", "GatewayLogs", "enabled", 1,
                            "retentionPolicy", "enabled", 0, "days", 0, "category", "GatewayLlmLogs", "enabled", 1,
                            "retentionPolicy", "enabled", 0, "days", 0, "metrics", "category", "AllMetrics", "enabled",
                            1, "logAnalyticsDestinationType"));
        const char *dest = sim_traffic_destination_type(st);
        json_object_set_new(json_object_get(json_array_get(list, json_array_size(list) - 1), "properties"),
                            "logAnalyticsDestinationType", dest ? json_string(dest) : json_null());
        free(ws);
        free(id);
    }
    sim_response_json(resp, 200, json_pack("{s:o}", "value", list));
}

void sim_traffic_service_route(sim_state *st, const sim_request *req, const char *rel, sim_response *resp)
{
    if (util_str_starts_with(rel, "reports/") && !strcmp(req->method, "GET"))
        reports_route(st, req, rel, resp);
    else if (!strcasecmp(rel, "providers/Microsoft.Insights/metrics") && !strcmp(req->method, "GET"))
        metrics_route(st, req, resp);
    else if (!strcasecmp(rel, "providers/Microsoft.Insights/diagnosticSettings") && !strcmp(req->method, "GET"))
        diagnostics_route(st, req, resp);
    else if (!strcmp(rel, "loggers") && !strcmp(req->method, "GET"))
        sim_traffic_loggers_route(st, req, resp);
    else
        sim_response_arm_error(resp, 404, "InvalidResourceType", NULL,
                               "apim-sim does not serve %s '%s' (traffic routes: GET reports/bySubscription|byApi|byTime, "
                               "providers/Microsoft.Insights/metrics, providers/Microsoft.Insights/diagnosticSettings, "
                               "loggers).",
                               req->method, rel);
}

bool sim_traffic_is_external_path(const char *path)
{
    return util_strcasestr(path, "/providers/Microsoft.OperationalInsights/workspaces/") != NULL ||
           util_strcasestr(path, "/providers/Microsoft.Insights/components/") != NULL;
}

void sim_traffic_external_route(sim_state *st, const sim_request *req, sim_response *resp)
{
    if (util_strcasestr(req->path, "/providers/Microsoft.Insights/components/"))
        sim_traffic_insights_route(st, req, resp);
    else
        sim_traffic_workspace_route(st, req, resp);
}

/* ---- control ---------------------------------------------------------------------------- */

static json_t *stats_json(const sim_traffic_stats *s)
{
    json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "requests", (json_int_t)s->requests, "successful",
                          (json_int_t)s->allowed, "throttled", (json_int_t)s->throttled, "throttled_backend",
                          (json_int_t)s->backend_throttled, "cache_hits", (json_int_t)s->hits,
                          "cache_misses", (json_int_t)s->cache_misses, "backend_calls", (json_int_t)s->misses, "metric_calls",
                          (json_int_t)s->metric_calls, "prompt_tokens", (json_int_t)s->prompt_tokens,
                          "completion_tokens", (json_int_t)s->completion_tokens, "total_ms", (json_int_t)s->total_ms,
                          "backend_ms", (json_int_t)s->backend_ms);
    json_object_set_new(o, "failed", json_integer(s->failed));
    json_object_set_new(o, "failed_backend", json_integer(s->backend_failed));
    json_object_set_new(o, "timeouts", json_integer(s->timeouts));
    json_object_set_new(o, "unavailable", json_integer(s->unavailable));
    json_t *b = json_object(), *bd = json_object();
    for (int i = 0; i < s->nbackends; i++)
        if (s->backend_calls[i]) {
            json_object_set_new(b, s->backend[i], json_integer(s->backend_calls[i]));
            json_object_set_new(bd, s->backend[i],
                                json_pack("{s:I,s:I,s:I,s:I}", "calls", (json_int_t)s->backend_calls[i], "failed",
                                          (json_int_t)(s->backend_failed_calls[i] + s->backend_timeouts[i]),
                                          "throttled", (json_int_t)s->backend_refused[i], "timeouts",
                                          (json_int_t)s->backend_timeouts[i]));
        }
    json_object_set_new(o, "by_backend", b);
    json_object_set_new(o, "by_backend_detail", bd);
    return o;
}

void sim_traffic_control(sim_state *st, const sim_request *req, sim_response *resp)
{
    const char *since = json_string_value(json_object_get(req->query, "since"));
    const char *until = json_string_value(json_object_get(req->query, "until"));
    const char *api = json_string_value(json_object_get(req->query, "api_id"));
    double from, to;
    if (!since || !until || parse_time(since, strlen(since), &from) || parse_time(until, strlen(until), &to)) {
        sim_response_json(resp, 400, json_pack("{s:{s:s,s:s}}", "error", "code", "BadRequest", "message",
                                               "GET /_sim/traffic needs since and until as ISO 8601 timestamps."));
        return;
    }
    sim_traffic_stats all;
    memset(&all, 0, sizeof(all));
    sim_traffic_window(st, NULL, api, from, to, &all);
    json_t *subs = json_object();
    const char *sub;
    json_t *tpm;
    json_object_foreach(sim_traffic_demand(st), sub, tpm) {
        sim_traffic_stats s;
        memset(&s, 0, sizeof(s));
        sim_traffic_window(st, sub, api, from, to, &s);
        json_object_set_new(subs, sub, stats_json(&s));
    }
    json_t *h = st->traffic_history;
    int nb = 0;
    free(sim_traffic_route_breaks(st, from, to, &nb)); /* builds the breaker timeline */
    sim_response_json(resp, 200, json_pack("{s:o,s:o,s:o,s:I,s:O}", "totals", stats_json(&all), "by_subscription", subs,
                                           "snapshot", sim_traffic_snapshot(st), "changes",
                                           (json_int_t)(h ? json_array_size(h) - 1 : 0), "breaker_open",
                                           st->traffic_open ? st->traffic_open : json_null()));
}
