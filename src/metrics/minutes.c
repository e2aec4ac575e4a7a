/* minutes.c: tokens and requests per minute and subscription, for simulate_quota's replay. One
 * resource-centric Logs query API call for every subscription asked: ApiManagementGatewayLogs (every request,
 * 429s included, with its ApimSubscriptionId) left-joined on CorrelationId to
 * ApiManagementGatewayLlmLog (the tokens of the requests that reached the model; rows of a large
 * message split across SequenceNumber rows carry no DeploymentName and are left out, as in
 * get_metrics), summarised by subscription and bin(TimeGenerated, 1m), then packed into one list per
 * subscription (make_list of [minute, requests, token_requests, tokens]): 20 teams x 24 h is 20 rows
 * of compact text instead of 28,800 JSON rows, which jansson alone would take ~50 ms to parse. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arm.h"
#include "metrics.h"

const char *const metrics_kql_minutes =
    "ApiManagementGatewayLogs | where ApimSubscriptionId in (%s) | join kind=leftouter (ApiManagementGatewayLlmLog | "
    "where DeploymentName != '' | project CorrelationId, TotalTokens) on CorrelationId | summarize requests = count(), "
    "token_requests = countif(isnotnull(TotalTokens)), tokens = sum(TotalTokens) by ApimSubscriptionId, minute = "
    "bin(TimeGenerated, 1m) | summarize minutes = make_list(pack_array(datetime_diff('minute', minute, "
    "datetime(1970-01-01)), requests, token_requests, tokens), 1048576) by ApimSubscriptionId";

void metrics_teams_free(struct metrics_team *teams, size_t n)
{
    for (size_t i = 0; teams && i < n; i++)
        free(teams[i].m);
    free(teams);
}

/* Reads "[[minute, requests, token_requests, tokens], ...]" (the dynamic cell as text) into t. */
static bool read_minutes(const char *s, struct metrics_team *t)
{
    size_t cap = 64;
    t->m = malloc(cap * sizeof(*t->m));
    if (!t->m)
        abort();
    int64_t v[4];
    int k = 0, depth = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '[') {
            if (++depth > 2)
                return false;
            k = 0;
        } else if (*p == ']') {
            if (depth == 2) {
                /* minutes before the year 9999 (no overflow in v[0] * 60), no negative counts */
                if (k != 4 || v[0] < 0 || v[0] > 4200000000LL || v[1] < 0 || v[2] < 0 || v[3] < 0)
                    return false;
                if (t->n == cap && !(t->m = realloc(t->m, (cap *= 2) * sizeof(*t->m))))
                    abort();
                t->m[t->n++] = (struct metrics_minute){v[0] * 60, v[1], v[2], v[3]};
            }
            if (--depth < 0)
                return false;
        } else if ((*p >= '0' && *p <= '9') || *p == '-') {
            char *end;
            long long x = strtoll(p, &end, 10);
            if (depth != 2 || k == 4)
                return false;
            if (*end == '.') /* a real (sum of an empty set is 0, never fractional here) */
                strtod(p, &end);
            v[k++] = x;
            p = end - 1;
        } else if (*p != ',' && *p != ' ' && *p != '\n') {
            return false;
        }
    }
    return depth == 0;
}

struct metrics_team *metrics_parse_minutes(json_t *body, size_t *n)
{
    json_t *table = json_array_get(json_object_get(body, "tables"), 0);
    json_t *cols = json_object_get(table, "columns"), *rows = json_object_get(table, "rows");
    *n = 0;
    if (!json_is_array(cols) || !json_is_array(rows))
        return NULL;
    int ci = -1, cm = -1;
    size_t i;
    json_t *c, *row;
    json_array_foreach(cols, i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        if (name && !strcmp(name, "ApimSubscriptionId"))
            ci = (int)i;
        else if (name && !strcmp(name, "minutes"))
            cm = (int)i;
    }
    if (ci < 0 || cm < 0)
        return NULL;
    struct metrics_team *teams = calloc(json_array_size(rows) + 1, sizeof(*teams));
    if (!teams)
        abort();
    json_array_foreach(rows, i, row) {
        const char *sub = json_string_value(json_array_get(row, (size_t)ci));
        json_t *cell = json_array_get(row, (size_t)cm);
        /* the v1 schema gives a dynamic cell as its JSON text; accept it parsed as well */
        char *text = json_is_string(cell) ? NULL : json_dumps(cell, JSON_COMPACT | JSON_ENCODE_ANY);
        const char *s = json_is_string(cell) ? json_string_value(cell) : text;
        struct metrics_team *t = &teams[*n];
        if (!sub || strlen(sub) >= sizeof(t->sub) || !s || !read_minutes(s, t)) {
            free(text);
            free(t->m);
            metrics_teams_free(teams, *n);
            *n = 0;
            return NULL;
        }
        snprintf(t->sub, sizeof(t->sub), "%s", sub);
        (*n)++;
        free(text);
    }
    return teams;
}

int metrics_minutes_request(const char *resource_id, const char *const *ids, size_t n, int64_t since, int64_t until,
                            struct arm_request *req, util_error *err)
{
    memset(req, 0, sizeof(*req));
    util_buf list;
    util_buf_init(&list, 0);
    for (size_t i = 0; i < n; i++) {
        if (strpbrk(ids[i], "'\"\\")) {
            util_buf_free(&list);
            return util_error_set(err, UTIL_EINVAL, "subscription id '%s' cannot contain quotes or backslashes", ids[i]);
        }
        util_buf_printf(&list, "%s'%s'", i ? "," : "", ids[i]);
    }
    const char *hole = strstr(metrics_kql_minutes, "%s");
    char *kql = util_printf("%.*s%s%s", (int)(hole - metrics_kql_minutes), metrics_kql_minutes, list.data, hole + 2);
    char a[32], b[32];
    util_time_iso8601(since, a, sizeof(a));
    util_time_iso8601(until, b, sizeof(b));
    char *span = util_printf("%s/%s", a, b);
    *req = (struct arm_request){"POST", util_printf("%s/query", resource_id), ARM_API_LOGS_QUERY, NULL,
                                json_pack("{s:s,s:s}", "query", kql, "timespan", span), NULL};
    util_buf_free(&list);
    free(kql);
    free(span);
    return 0;
}

void metrics_minutes_request_free(struct arm_request *req)
{
    free((char *)req->path);
    json_decref(req->body);
    memset(req, 0, sizeof(*req));
}

int metrics_minutes_take(const struct arm_result *res, int rc, const util_error *e, struct metrics_team **teams,
                         size_t *nteams, util_error *err)
{
    *teams = NULL;
    *nteams = 0;
    if (rc) {
        *err = *e;
        util_error_prefix(err, "querying Log Analytics for the minutes");
        return rc;
    }
    if (!(*teams = metrics_parse_minutes(res->body, nteams)))
        return util_error_set(err, UTIL_EREMOTE, "the Log Analytics answer did not have the documented shape");
    return 0;
}

int metrics_minutes_query(struct arm_client *arm, const char *resource_id, const char *const *ids, size_t n,
                          int64_t since, int64_t until, struct metrics_team **teams, size_t *nteams, util_error *err)
{
    struct arm_request req;
    *teams = NULL;
    *nteams = 0;
    int rc = metrics_minutes_request(resource_id, ids, n, since, until, &req, err);
    if (rc)
        return rc;
    struct arm_result res;
    util_error e = {0};
    rc = arm_call(arm, &req, &res, &e);
    rc = metrics_minutes_take(&res, rc, &e, teams, nteams, err);
    arm_result_free(&res);
    metrics_minutes_request_free(&req);
    return rc;
}

json_t *metrics_minutes_missing(const struct metrics_la *la, bool tokens)
{
    const char *wait = "Rows reach the workspace a few minutes after each request (Azure Monitor ingestion "
                       "time); a replay over 24 h needs 24 h of traffic after the change. update_quota mode "
                       "\"shadow\" records the proposal meanwhile.";
    const char *reason = NULL, *enable = NULL;
    char *owned[2] = {NULL, NULL};
    if (!la->workspace) {
        reason = "the service sends no gateway logs to a Log Analytics workspace";
        enable = "a diagnostic setting on the API Management service sending the GatewayLogs and GatewayLlmLogs "
                 "categories to a Log Analytics workspace, destination table \"Resource specific\" "
                 "(logAnalyticsDestinationType Dedicated)";
    } else if (!la->dedicated) {
        reason = "the diagnostic setting writes to the AzureDiagnostics table; the per-minute replay reads the "
                 "resource-specific tables ApiManagementGatewayLogs and ApiManagementGatewayLlmLog";
        enable = "switch that diagnostic setting's destination table to \"Resource specific\" (REST/ARM: "
                 "logAnalyticsDestinationType \"Dedicated\"); rows logged after the switch land there";
    } else if (!la->gateway_logs) {
        reason = owned[0] = util_printf("diagnostic setting %s sends to a workspace in resource-specific tables, but "
                                        "not the GatewayLogs category (every request)", la->setting);
        enable = owned[1] = util_printf("the GatewayLogs%s categories in diagnostic setting %s (update_quota mode "
                                        "\"shadow\" does it)", tokens ? " and GatewayLlmLogs" : "", la->setting);
    } else if (tokens && !la->llm_logs) {
        reason = "GatewayLlmLogs (the tokens of each request) do not reach the workspace";
        enable = "the GatewayLlmLogs category in the diagnostic setting sending GatewayLogs to the workspace "
                 "(update_quota mode \"shadow\" does it)";
    }
    json_t *out = reason ? json_pack("{s:s,s:s,s:s}", "reason", reason, "enable", enable, "wait", wait) : NULL;
    free(owned[0]);
    free(owned[1]);
    return out;
}

/* ---- the replay (pure) ------------------------------------------------------------------ */

struct minute {
    int64_t t, requests, tokens, token_requests;
    double demand; /* tokens the minute's requests asked for */
};

static int by_demand_desc(const void *a, const void *b)
{
    const struct minute *x = a, *y = b;
    return x->demand < y->demand ? 1 : x->demand > y->demand ? -1 : (x->t > y->t) - (x->t < y->t);
}

static int by_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The value at percentile p (0..100) of n sorted values: the nearest-rank method. */
static double percentile(const double *v, size_t n, double p)
{
    size_t rank = (size_t)((p / 100.0) * (double)n + 0.999999);
    return v[(rank ? rank : 1) - 1];
}

json_t *metrics_replay(const struct metrics_minute *rows, size_t nrows, int64_t tpm, int64_t rpm, size_t worst)
{
    size_t n = nrows;
    struct minute *m = calloc(n ? n : 1, sizeof(*m));
    double *d = calloc(n ? n : 1, sizeof(*d));
    if (!m || !d)
        abort();
    int64_t all_tokens = 0, all_token_requests = 0, requests = 0;
    for (size_t k = 0; k < n; k++) {
        m[k] = (struct minute){rows[k].t, rows[k].requests, rows[k].tokens, rows[k].token_requests, 0};
        all_tokens += m[k].tokens;
        all_token_requests += m[k].token_requests;
        requests += m[k].requests;
    }
    double tpr_all = all_token_requests ? (double)all_tokens / (double)all_token_requests : 0;
    int64_t refused = 0, minutes_over = 0;
    double tokens_refused = 0;
    for (size_t k = 0; k < n; k++) {
        /* The tokens of the minute's refused and cache-served requests are not logged: they are
         * taken at the minute's mean tokens per logged request (else the window's). */
        double tpr = m[k].token_requests ? (double)m[k].tokens / (double)m[k].token_requests : tpr_all;
        m[k].demand = (double)m[k].requests * tpr;
        d[k] = m[k].demand;
        int64_t admitted = m[k].requests;
        if (tpm > 0 && tpr > 0 && (double)admitted * tpr > (double)tpm)
            admitted = (int64_t)((double)tpm / tpr);
        if (rpm > 0 && admitted > rpm)
            admitted = rpm;
        if (admitted < m[k].requests) {
            minutes_over++;
            refused += m[k].requests - admitted;
            tokens_refused += (double)(m[k].requests - admitted) * tpr;
        }
    }
    qsort(d, n, sizeof(*d), by_double);
    qsort(m, n, sizeof(*m), by_demand_desc);
    json_t *worst_list = json_array();
    for (size_t k = 0; k < n && k < worst; k++) {
        char at[32];
        util_time_iso8601(m[k].t, at, sizeof(at));
        json_array_append_new(worst_list, json_pack("{s:s,s:I}", "at", at, "tokens", (json_int_t)(m[k].demand + 0.5)));
    }
    json_t *out = json_pack("{s:I,s:I,s:I,s:I,s:I,s:f,s:I,s:I,s:I,s:o,s:I}", "minutes_observed", (json_int_t)n,
                            "minutes_over", (json_int_t)minutes_over, "requests", (json_int_t)requests,
                            "requests_refused", (json_int_t)refused, "tokens_refused", (json_int_t)(tokens_refused + 0.5),
                            "share_refused", requests ? (double)((int64_t)((double)refused * 10000.0 / (double)requests + 0.5)) / 10000.0 : 0.0,
                            "peak_tpm", (json_int_t)(n ? d[n - 1] + 0.5 : 0), "p95_tpm",
                            (json_int_t)(n ? percentile(d, n, 95) + 0.5 : 0), "p50_tpm",
                            (json_int_t)(n ? percentile(d, n, 50) + 0.5 : 0), "worst_minutes", worst_list,
                            "token_requests", (json_int_t)all_token_requests);
    free(m);
    free(d);
    return out;
}
