/* minutes.c: tokens and requests per minute and subscription, for simulate_quota's replay. One
 * Logs query API call for every subscription asked: ApiManagementGatewayLogs (every request,
 * 429s included, with its ApimSubscriptionId) left-joined on CorrelationId to
 * ApiManagementGatewayLlmLog (the tokens of the requests that reached the model; rows of a large
 * message split across SequenceNumber rows carry no DeploymentName and are left out, as in
 * get_metrics), summarised by subscription and bin(TimeGenerated, 1m). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arm.h"
#include "metrics.h"

const char *const metrics_kql_minutes =
    "ApiManagementGatewayLogs | where ApimSubscriptionId in (%s) | join kind=leftouter (ApiManagementGatewayLlmLog | "
    "where DeploymentName != '' | project CorrelationId, TotalTokens) on CorrelationId | summarize requests = count(), "
    "throttled = countif(ResponseCode == 429), token_requests = countif(isnotnull(TotalTokens)), tokens = "
    "sum(TotalTokens) by ApimSubscriptionId, bin(TimeGenerated, 1m)";

static int64_t num(json_t *row, const char *key)
{
    json_t *v = json_object_get(row, key);
    return json_is_number(v) ? (int64_t)json_number_value(v) : 0;
}

json_t *metrics_parse_minutes(json_t *body)
{
    json_t *table = metrics_parse_la(body);
    if (!json_is_array(table))
        return NULL;
    json_t *rows = json_array(), *r;
    size_t i;
    json_array_foreach(table, i, r) {
        const char *sub = json_string_value(json_object_get(r, "ApimSubscriptionId"));
        const char *at = json_string_value(json_object_get(r, "TimeGenerated"));
        char buf[40];
        int64_t t;
        /* Log Analytics gives datetimes with fractions ("2026-11-30T06:01:00Z" or "...:00.000Z"). */
        if (!sub || !at || snprintf(buf, sizeof(buf), "%.19sZ", at) >= (int)sizeof(buf) ||
            util_time_parse_iso8601(buf, &t) != 0)
            continue;
        json_array_append_new(rows, json_pack("{s:s,s:I,s:I,s:I,s:I,s:I}", "sub", sub, "t", (json_int_t)t, "requests",
                                              (json_int_t)num(r, "requests"), "throttled", (json_int_t)num(r, "throttled"),
                                              "token_requests", (json_int_t)num(r, "token_requests"), "tokens",
                                              (json_int_t)num(r, "tokens")));
    }
    json_decref(table);
    return rows;
}

int metrics_minutes_query(struct arm_client *arm, const struct metrics_la *la, const char *const *ids, size_t n,
                          int64_t since, int64_t until, json_t **rows, util_error *err)
{
    *rows = NULL;
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
    char *span = util_printf("%s/%s", a, b), *path = util_printf("/workspaces/%s/query", la->customer_id);
    json_t *body = json_pack("{s:s,s:s}", "query", kql, "timespan", span);
    struct arm_request req = {"POST", path, ARM_API_LOGS_QUERY, NULL, body, NULL};
    struct arm_result res;
    int rc = arm_call(arm, &req, &res, err);
    if (!rc && !(*rows = metrics_parse_minutes(res.body)))
        rc = util_error_set(err, UTIL_EREMOTE, "the Log Analytics answer did not have the documented shape");
    arm_result_free(&res);
    json_decref(body);
    util_buf_free(&list);
    free(kql);
    free(span);
    free(path);
    return rc;
}

json_t *metrics_minutes_missing(const struct metrics_la *la, bool tokens)
{
    const char *wait = "Rows reach the workspace a few minutes after each request (Azure Monitor ingestion "
                       "time); a replay over 24 h needs 24 h of traffic after the change. update_quota mode "
                       "\"shadow\" records the proposal meanwhile.";
    const char *reason = NULL, *enable = NULL;
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
    } else if (!la->customer_id[0]) {
        reason = "the workspace receiving the gateway logs could not be read (its workspace id is needed to query it)";
        enable = "Log Analytics Reader on the workspace for this identity";
        wait = "none: retry after the role assignment";
    } else if (tokens && !la->llm_logs) {
        reason = "GatewayLlmLogs (the tokens of each request) do not reach the workspace";
        enable = "the GatewayLlmLogs category in the diagnostic setting sending GatewayLogs to the workspace";
    }
    return reason ? json_pack("{s:s,s:s,s:s}", "reason", reason, "enable", enable, "wait", wait) : NULL;
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

json_t *metrics_replay(json_t *rows, const char *sub, int64_t tpm, int64_t rpm, size_t worst)
{
    size_t n = 0, cap = json_array_size(rows);
    struct minute *m = calloc(cap ? cap : 1, sizeof(*m));
    double *d = calloc(cap ? cap : 1, sizeof(*d));
    if (!m || !d)
        abort();
    int64_t all_tokens = 0, all_token_requests = 0, requests = 0;
    json_t *r;
    size_t i;
    json_array_foreach(rows, i, r) {
        const char *s = json_string_value(json_object_get(r, "sub"));
        if (!s || strcmp(s, sub))
            continue;
        m[n] = (struct minute){num(r, "t"), num(r, "requests"), num(r, "tokens"), num(r, "token_requests"), 0};
        all_tokens += m[n].tokens;
        all_token_requests += m[n].token_requests;
        requests += m[n].requests;
        n++;
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
