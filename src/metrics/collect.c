/* collect.c: the network side of get_metrics. Round 1 (concurrent) discovers the sources: the
 * API (it must exist), the service (SKU: the reports API is not offered on the v2 tiers), its
 * diagnostic settings (a Log Analytics workspace receiving GatewayLogs / GatewayLlmLogs), its
 * loggers (an Application Insights component) and the API's policy (does it emit token metrics,
 * in which namespace, with which dimensions?). For a setting writing resource-specific tables,
 * the workspace itself is read next (customerId, retentionInDays). Round 2 (concurrent) queries
 * the useful sources — Monitor, the reports API, the Logs query API (its own token audience) and
 * Application Insights; each failure becomes an "unavailable" entry with its reason and fix, and
 * merge.c combines whatever answered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arm.h"
#include "metrics.h"
#include "policy.h"

const char *const metrics_kql_subscriptions =
    "ApiManagementGatewayLogs | where ApiId == '%s' | summarize requests = count(), throttled = countif(ResponseCode "
    "== 429), throttled_backend = countif(ResponseCode == 429 and BackendResponseCode == 429), blocked = countif(ResponseCode >= 400 and ResponseCode < 500 and ResponseCode != 429), failed = "
    "countif(ResponseCode >= 500), cache_hits = countif(Cache == 'hit'), cache_misses = countif(Cache == 'miss'), "
    "backend_calls = countif(isnotempty(BackendId)), total_ms = sum(TotalTime), backend_ms = sum(BackendTime) by "
    "ApimSubscriptionId";
const char *const metrics_kql_backends =
    "ApiManagementGatewayLogs | where ApiId == '%s' and isnotempty(BackendId) | summarize requests = count(), "
    "throttled_backend = countif(BackendResponseCode == 429), backend_ms = sum(BackendTime) by BackendId";
const char *const metrics_kql_tokens =
    "ApiManagementGatewayLlmLog | where DeploymentName != '' | join kind=inner (ApiManagementGatewayLogs | where ApiId == '%s' | project "
    "CorrelationId, ApimSubscriptionId) on CorrelationId | summarize prompt_tokens = sum(PromptTokens), "
    "completion_tokens = sum(CompletionTokens), total_tokens = sum(TotalTokens) by ApimSubscriptionId";

#define FIX_LA "send the service's GatewayLogs to a Log Analytics workspace (diagnostic setting) for exact per-team 429s"
#define FIX_LLM "add the GatewayLlmLogs category to the diagnostic setting to get token counts per team"
#define FIX_DEDICATED "switch that diagnostic setting's destination table to \"Resource specific\" (portal: " \
    "Diagnostic settings > Edit > Destination table; REST/ARM: logAnalyticsDestinationType \"Dedicated\"; "     \
    "PowerShell: -LogAnalyticsDestinationType Dedicated); rows logged after the switch land there"

/* A KQL template with its one "%s" replaced by the API id (checked to hold no quote). */
static char *kql_fill(const char *tmpl, const char *api_id)
{
    const char *hole = strstr(tmpl, "%s");
    return util_printf("%.*s%s%s", (int)(hole - tmpl), tmpl, api_id, hole + 2);
}

struct plan {
    char sku[64];
    bool v2;
    char *workspace;   /* ARM id of the Log Analytics workspace receiving GatewayLogs, or NULL */
    char setting[128]; /* the diagnostic setting sending them */
    json_t *item;      /* that setting as listed (borrowed from the answer) */
    bool dedicated;    /* into resource-specific tables (logAnalyticsDestinationType "Dedicated") */
    bool llm_logs;     /* GatewayLlmLogs go there too */
    char customer_id[64]; /* the workspace's customerId (the Logs query API's workspace id), "" = unknown */
    int retention_days;   /* the workspace's retentionInDays */
    bool token_metric; /* the API's policy emits token metrics (llm-/azure-openai-emit-token-metric) */
    char metric_ns[128], sub_dim[128], api_dim[128]; /* its namespace and the dimensions naming subscription, API */
    char *insights;    /* ARM id of the Application Insights component of the service's logger, or NULL */
};

static void unavailable(json_t *list, const char *source, const char *reason, const char *fix)
{
    json_array_append_new(list, json_pack("{s:s,s:s,s:s}", "source", source, "reason", reason, "fix", fix));
}

static bool category_on(json_t *logs, const char *category)
{
    size_t i;
    json_t *l;
    json_array_foreach(logs, i, l) {
        const char *c = json_string_value(json_object_get(l, "category"));
        const char *g = json_string_value(json_object_get(l, "categoryGroup"));
        if (json_is_true(json_object_get(l, "enabled")) && ((c && !strcmp(c, category)) || (g && !strcmp(g, "allLogs"))))
            return true;
    }
    return false;
}

/* The setting sending GatewayLogs to a workspace; one writing resource-specific tables first. */
static void read_diagnostics(json_t *body, struct plan *p)
{
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(body, "value"), i, s) {
        json_t *props = json_object_get(s, "properties");
        const char *ws = json_string_value(json_object_get(props, "workspaceId"));
        const char *dest = json_string_value(json_object_get(props, "logAnalyticsDestinationType"));
        bool dedicated = dest && util_str_eq_ci(dest, "Dedicated");
        if (ws && (!p->workspace || (dedicated && !p->dedicated)) && category_on(json_object_get(props, "logs"), "GatewayLogs")) {
            free(p->workspace);
            p->workspace = util_strdup(ws);
            p->dedicated = dedicated;
            snprintf(p->setting, sizeof(p->setting), "%s", json_string_value(json_object_get(s, "name")) ?
                     json_string_value(json_object_get(s, "name")) : "?");
            p->llm_logs = category_on(json_object_get(props, "logs"), "GatewayLlmLogs");
            p->item = s;
        }
    }
}

/* The dimension of an emit-token-metric whose value mentions `what` (e.g. "Subscription.Id"), or
 * the default dimension of that name given without a value (policy facts: "default": true). */
static void dimension_for(json_t *dims, const char *what, const char *default_name, char *out, size_t n)
{
    size_t i;
    json_t *d;
    json_array_foreach(dims, i, d) {
        const char *v = json_string_value(json_object_get(d, "value"));
        const char *name = json_string_value(json_object_get(d, "name"));
        bool implied = !v && name && json_is_true(json_object_get(d, "default")) && util_str_eq_ci(name, default_name);
        if ((v && name && strstr(v, what)) || implied) {
            snprintf(out, n, "%s", name);
            return;
        }
    }
}

static void read_token_metric(json_t *policy_body, struct plan *p)
{
    const char *xml = json_string_value(json_object_get(json_object_get(policy_body, "properties"), "value"));
    util_error perr;
    policy_doc *doc = xml ? policy_parse(xml, strlen(xml), &perr) : NULL;
    json_t *facts = doc ? policy_facts(doc) : NULL;
    json_t *m = json_array_get(json_object_get(facts, "token_metrics"), 0);
    if (m) {
        const char *ns = json_string_value(json_object_get(m, "namespace"));
        p->token_metric = true;
        snprintf(p->metric_ns, sizeof(p->metric_ns), "%s", ns ? ns : "API Management"); /* the policy's default */
        dimension_for(json_object_get(m, "dimensions"), "Subscription.Id", "Subscription ID", p->sub_dim,
                      sizeof(p->sub_dim));
        dimension_for(json_object_get(m, "dimensions"), "Api.Id", "API ID", p->api_dim, sizeof(p->api_dim));
    }
    json_decref(facts);
    policy_doc_free(doc);
}

static void read_loggers(json_t *body, struct plan *p)
{
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(body, "value"), i, l) {
        json_t *props = json_object_get(l, "properties");
        const char *type = json_string_value(json_object_get(props, "loggerType"));
        const char *rid = json_string_value(json_object_get(props, "resourceId"));
        if (!p->insights && type && rid && !strcmp(type, "applicationInsights"))
            p->insights = util_strdup(rid);
    }
}

static int discover(struct arm_client *arm, const char *api_id, struct plan *p, json_t *missing, util_error *err)
{
    char *api = util_printf("apis/%s", api_id), *pol = util_printf("apis/%s/policies/policy", api_id);
    struct arm_request reqs[5] = {{"GET", api, ARM_API_APIM, NULL, NULL, NULL},
                                  {"GET", "", ARM_API_APIM, NULL, NULL, NULL},
                                  {"GET", "providers/Microsoft.Insights/diagnosticSettings", ARM_API_DIAGNOSTICS, NULL, NULL, NULL},
                                  {"GET", pol, ARM_API_APIM, "format=rawxml", NULL, NULL},
                                  {"GET", "loggers", ARM_API_APIM, NULL, NULL, NULL}};
    struct arm_result res[5];
    int rcs[5];
    util_error errs[5];
    memset(res, 0, sizeof(res));
    memset(errs, 0, sizeof(errs));
    arm_batch(arm, 5, reqs, res, rcs, errs);
    int rc = 0;
    if (rcs[0] == UTIL_ENOTFOUND)
        rc = util_error_set(err, UTIL_ENOTFOUND, "API '%s' does not exist in this service; call list_apis for the ids",
                            api_id);
    else if (rcs[0])
        rc = util_error_set(err, rcs[0], "%s", errs[0].message);
    const char *sku = json_string_value(json_object_get(json_object_get(res[1].body, "sku"), "name"));
    snprintf(p->sku, sizeof(p->sku), "%s", sku ? sku : "unknown");
    p->v2 = sku && util_str_ends_with(sku, "V2");
    if (rcs[2] == 0)
        read_diagnostics(res[2].body, p);
    else if (!rc)
        unavailable(missing, "Log Analytics", errs[2].message,
                    "grant read access to the service's diagnostic settings (Monitoring Reader), then retry");
    if (rcs[3] == 0)
        read_token_metric(res[3].body, p);
    if (rcs[4] == 0)
        read_loggers(res[4].body, p);
    for (int i = 0; i < 5; i++)
        arm_result_free(&res[i]);
    free(api);
    free(pol);
    return rc;
}

/* The workspace's customerId (the Logs query API names a workspace by it) and retentionInDays
 * (Workspaces_Get). Only for a setting writing resource-specific tables: the others are not queried. */
static void read_workspace(struct arm_client *arm, struct plan *p, json_t *missing)
{
    p->retention_days = METRICS_LA_RETENTION_DAYS;
    if (!p->workspace || !p->dedicated)
        return;
    struct arm_request req = {"GET", p->workspace, ARM_API_WORKSPACES, NULL, NULL, NULL};
    struct arm_result res;
    util_error e;
    int rc = arm_call(arm, &req, &res, &e);
    json_t *props = json_object_get(res.body, "properties");
    const char *id = json_string_value(json_object_get(props, "customerId"));
    json_t *days = json_object_get(props, "retentionInDays");
    if (!rc && id && *id && strlen(id) < sizeof(p->customer_id) && strspn(id, "0123456789abcdefABCDEF-") == strlen(id))
        snprintf(p->customer_id, sizeof(p->customer_id), "%s", id);
    else
        unavailable(missing, "Log Analytics", rc ? e.message : "the workspace has no customerId (workspace id) to query",
                    "grant Log Analytics Reader on the workspace, then retry");
    if (!rc && json_is_integer(days) && json_integer_value(days) > 0 && json_integer_value(days) <= 4383)
        p->retention_days = (int)json_integer_value(days);
    arm_result_free(&res);
}

/* ---- round 2 ------------------------------------------------------------------------------ */

enum { Q_MON_REQ, Q_MON_DUR, Q_REPORTS, Q_REPORTS_TIME, Q_LA_SUBS, Q_LA_BACKENDS, Q_LA_TOKENS, Q_INSIGHTS, Q_N };

struct round2 {
    struct arm_request reqs[Q_N];
    int index[Q_N]; /* position in reqs, -1 = not sent */
    size_t n;
    char *owned[16];
    size_t nowned;
    json_t *bodies[3];
};

static char *keep(struct round2 *r, char *s)
{
    r->owned[r->nowned++] = s;
    return s;
}

static void add(struct round2 *r, int q, const char *method, const char *path, int api, const char *query, json_t *body)
{
    r->index[q] = (int)r->n;
    r->reqs[r->n++] = (struct arm_request){method, path, api, query, body, NULL};
}

static char *encoded_query(const char *fmt_name, const char *value)
{
    char *e = util_url_encode(value);
    char *q = util_printf("%s=%s", fmt_name, e);
    free(e);
    return q;
}

/* A dimension split ("eq '*'") returns METRICS_MONITOR_TOP series, biggest first, instead of Monitor's default 10. */
#define STR_(x) #x
#define STR(x) STR_(x)
#define SPLIT_TOP "top=" STR(METRICS_MONITOR_TOP) "&orderby=Total%%20desc"

static void add_monitor(struct round2 *r, const char *api_id, const char *timespan, const char *grain)
{
    char *ts = util_url_encode(timespan);
    char *f1 = util_printf("ApiId eq '%s' and GatewayResponseCode eq '*' and BackendResponseCode eq '*'", api_id), *f2 = util_printf("ApiId eq '%s'", api_id);
    char *e1 = util_url_encode(f1), *e2 = util_url_encode(f2);
    add(r, Q_MON_REQ, "GET", "providers/Microsoft.Insights/metrics", ARM_API_METRICS,
        keep(r, util_printf("timespan=%s&interval=%s&metricnames=Requests&aggregation=Total&" SPLIT_TOP "&$filter=%s", ts,
                            grain, e1)),
        NULL);
    add(r, Q_MON_DUR, "GET", "providers/Microsoft.Insights/metrics", ARM_API_METRICS,
        keep(r, util_printf("timespan=%s&interval=%s&metricnames=Duration%%2CBackendDuration&aggregation=Average"
                            "&$filter=%s", ts, grain, e2)),
        NULL);
    free(ts);
    free(f1);
    free(f2);
    free(e1);
    free(e2);
}

/* bySubscription (its $filter has no apiId: every API of the service), and byTime (apiId allowed;
 * at most 24 rows, a multiple of 15 minutes) for a series. */
static void add_reports(struct round2 *r, const char *api_id, const struct metrics_window *w, int group_by)
{
    char since[32], until[32], grain[16];
    util_time_iso8601(w->since, since, sizeof(since));
    util_time_iso8601(w->until, until, sizeof(until));
    /* The reports API's examples give datetime'...' without a zone (UTC). */
    char *f = util_printf("timestamp ge datetime'%.19s' and timestamp le datetime'%.19s'", since, until);
    char *fa = util_printf("%s and apiId eq '%s'", f, api_id);
    add(r, Q_REPORTS, "GET", "reports/bySubscription", ARM_API_APIM, keep(r, encoded_query("$filter", f)), NULL);
    if (group_by == METRICS_GROUP_TIME) {
        char *q = encoded_query("$filter", fa);
        util_duration_format_iso8601(metrics_grain_reports(w->until - w->since, 24), grain, sizeof(grain));
        add(r, Q_REPORTS_TIME, "GET", "reports/byTime", ARM_API_APIM, keep(r, util_printf("%s&interval=%s", q, grain)),
            NULL);
        free(q);
    }
    free(f);
    free(fa);
}

static void add_la(struct round2 *r, const struct plan *p, const char *api_id, const char *timespan)
{
    const char *tmpl[3] = {metrics_kql_subscriptions, metrics_kql_backends, metrics_kql_tokens};
    char *path = keep(r, util_printf("/workspaces/%s/query", p->customer_id));
    for (int i = 0; i < (p->llm_logs ? 3 : 2); i++) {
        char *q = kql_fill(tmpl[i], api_id);
        r->bodies[i] = json_pack("{s:s,s:s}", "query", q, "timespan", timespan);
        free(q);
        add(r, Q_LA_SUBS + i, "POST", path, ARM_API_LOGS_QUERY, NULL, r->bodies[i]);
    }
}

/* The token metrics of the API's emit-token-metric policy, per subscription, from Application Insights. */
static void add_insights(struct round2 *r, const struct plan *p, const char *api_id, const char *timespan,
                         const char *grain)
{
    char *f = p->api_dim[0] ? util_printf("%s eq '*' and %s eq '%s'", p->sub_dim, p->api_dim, api_id)
                            : util_printf("%s eq '*'", p->sub_dim);
    char *ef = util_url_encode(f), *ens = util_url_encode(p->metric_ns), *ets = util_url_encode(timespan);
    add(r, Q_INSIGHTS, "GET", keep(r, util_printf("%s/providers/Microsoft.Insights/metrics", p->insights)),
        ARM_API_METRICS,
        keep(r, util_printf("timespan=%s&interval=%s&metricnames=Prompt%%20Tokens%%2CCompletion%%20Tokens%%2CTotal%%20Tokens"
                            "&aggregation=Total&" SPLIT_TOP "&metricnamespace=%s&$filter=%s", ets, grain, ens, ef)),
        NULL);
    free(f);
    free(ef);
    free(ens);
    free(ets);
}

struct outcome {
    json_t *parsed[Q_N];
    util_error errs[Q_N];
    bool failed[Q_N];
};

static void run(struct arm_client *arm, struct round2 *r, struct outcome *o)
{
    struct arm_result res[Q_N];
    int rcs[Q_N];
    util_error errs[Q_N];
    memset(res, 0, sizeof(res));
    memset(errs, 0, sizeof(errs));
    arm_batch(arm, r->n, r->reqs, res, rcs, errs);
    for (int q = 0; q < Q_N; q++) {
        int i = r->index[q];
        if (i < 0)
            continue;
        json_t *b = res[i].body;
        o->parsed[q] = rcs[i] ? NULL
                       : q == Q_MON_REQ ? metrics_parse_monitor_requests(b)
                       : q == Q_MON_DUR ? metrics_parse_monitor_durations(b, json_object_get(o->parsed[Q_MON_REQ], "series"))
                       : q == Q_REPORTS ? metrics_parse_reports(b)
                       : q == Q_REPORTS_TIME ? metrics_parse_reports_series(b)
                       : q == Q_INSIGHTS ? metrics_parse_token_metrics(b)
                                        : metrics_parse_la(b);
        o->failed[q] = !o->parsed[q];
        o->errs[q] = errs[i];
        if (!rcs[i] && !o->parsed[q])
            util_error_set(&o->errs[q], UTIL_EREMOTE, "the answer did not have the documented shape");
        arm_result_free(&res[i]);
    }
}

static void explain_tokens(const struct plan *p, const struct outcome *o, json_t *missing)
{
    if (o->failed[Q_INSIGHTS])
        unavailable(missing, "token counts", o->errs[Q_INSIGHTS].message,
                    "grant Monitoring Reader on the Application Insights component, or " FIX_LLM);
    else if (p->token_metric && !p->insights && p->workspace && !p->dedicated)
        unavailable(missing, "token counts", "the API's emit-token-metric policy has no Application Insights logger to "
                    "send to, and ApiManagementGatewayLlmLog is empty: the diagnostic setting writes to AzureDiagnostics",
                    FIX_DEDICATED);
    else if (p->token_metric && !p->insights)
        unavailable(missing, "token counts", "the API's emit-token-metric policy has no Application Insights logger to "
                    "send to, and GatewayLlmLogs do not reach Log Analytics", "add an Application Insights logger to "
                    "the service, or " FIX_LLM);
    else if (p->token_metric && !p->sub_dim[0])
        unavailable(missing, "token counts", "the API's emit-token-metric policy has no dimension holding "
                    "context.Subscription.Id", "add <dimension name=\"Subscription ID\" "
                    "value=\"@(context.Subscription.Id)\" /> to it, or " FIX_LLM);
    else if (p->workspace && !p->dedicated)
        unavailable(missing, "token counts", "ApiManagementGatewayLlmLog is empty: the diagnostic setting writes to "
                    "AzureDiagnostics, and the API emits no token metric", FIX_DEDICATED);
    else
        unavailable(missing, "token counts",
                    "GatewayLlmLogs do not reach Log Analytics and the API emits no token metric", FIX_LLM);
}

static void explain(const struct plan *p, const struct outcome *o, json_t *missing, json_t *notes)
{
    if (o->failed[Q_MON_REQ] || o->failed[Q_MON_DUR])
        unavailable(missing, "Azure Monitor metrics", o->errs[o->failed[Q_MON_REQ] ? Q_MON_REQ : Q_MON_DUR].message,
                    "retry; service-wide totals then come from Azure Monitor again");
    if (p->v2) {
        char *why = util_printf("not offered on the v2 tiers (this service is %s)", p->sku);
        unavailable(missing, "reports API", why,
                    !p->workspace  ? FIX_LA " on v2 tiers"
                    : p->dedicated ? "none needed: Log Analytics gives the per-team figures"
                                   : "none: on v2 tiers per-team figures come from Log Analytics' resource-specific tables");
        free(why);
    } else if (o->failed[Q_REPORTS])
        unavailable(missing, "reports API", o->errs[Q_REPORTS].message, "retry");
    if (!p->workspace)
        unavailable(missing, "Log Analytics", "the service sends no gateway logs to a Log Analytics workspace",
                    p->v2 ? FIX_LA " on v2 tiers" : FIX_LA);
    else if (!p->dedicated) {
        char *why = util_printf("diagnostic setting '%s' sends GatewayLogs to the AzureDiagnostics table "
                                "(logAnalyticsDestinationType is not \"Dedicated\"); per-team figures need the "
                                "resource-specific tables ApiManagementGatewayLogs and ApiManagementGatewayLlmLog",
                                p->setting);
        unavailable(missing, "Log Analytics", why, FIX_DEDICATED);
        free(why);
    } else if (o->failed[Q_LA_SUBS] || o->failed[Q_LA_BACKENDS]) {
        const util_error *e = &o->errs[o->failed[Q_LA_SUBS] ? Q_LA_SUBS : Q_LA_BACKENDS];
        unavailable(missing, "Log Analytics", e->message,
                    e->code == UTIL_ECONFIG ? "set AIGW_LOG_ANALYTICS_ENDPOINT to the Logs query API that goes with "
                                              "AZURE_RESOURCE_MANAGER_ENDPOINT"
                    : p->v2 ? "retry: on v2 tiers per-team figures come only from Log Analytics"
                            : "retry; per-team figures came from the reports API (all APIs) meanwhile");
    }
    if (!o->parsed[Q_LA_TOKENS] && !o->parsed[Q_INSIGHTS])
        explain_tokens(p, o, missing);
    if (!p->v2 && !o->failed[Q_REPORTS])
        json_array_append_new(notes, json_string("the reports API is retired on 15 March 2027; move per-team figures "
                                                 "to Log Analytics"));
}

static void round2_free(struct round2 *r, struct outcome *o)
{
    for (size_t i = 0; i < r->nowned; i++)
        free(r->owned[i]);
    for (int i = 0; i < 3; i++)
        json_decref(r->bodies[i]);
    for (int q = 0; q < Q_N; q++)
        json_decref(o->parsed[q]);
}

static void window_notes(const struct metrics_window *w, const struct plan *p, int64_t la_since, json_t *notes)
{
    char a[32], b[32];
    if (w->clamped) {
        util_time_iso8601(w->asked_since, a, sizeof(a));
        util_time_iso8601(w->since, b, sizeof(b));
        json_array_append_new(notes, json_sprintf("since clamped from %s to %s: Azure Monitor keeps %d days", a, b,
                                                  METRICS_MONITOR_RETENTION_DAYS));
    }
    if (!p->customer_id[0])
        return;
    if (la_since >= w->until)
        json_array_append_new(notes, json_sprintf("the window is older than the %d days Log Analytics keeps: it "
                                                  "was not asked", p->retention_days));
    else if (la_since > w->since) {
        util_time_iso8601(la_since, b, sizeof(b));
        json_array_append_new(notes, json_sprintf("Log Analytics rows start at %s (%d-day workspace retention)", b,
                                                  p->retention_days));
    }
}

/* The window as each source takes it: ISO bounds, Monitor's grain, and Log Analytics' start
 * (at most the workspace's retention back). */
struct spans {
    char since[32], until[32], grain[16];
    int64_t la_since;
    char *timespan, *la_span; /* "START/END" */
};

static void spans_make(const struct metrics_window *w, int retention_days, struct spans *sp)
{
    int64_t oldest = util_now_ms() / 1000 - (int64_t)retention_days * 86400;
    char la[32];
    sp->la_since = w->since < oldest ? oldest : w->since;
    util_time_iso8601(w->since, sp->since, sizeof(sp->since));
    util_time_iso8601(w->until, sp->until, sizeof(sp->until));
    util_time_iso8601(sp->la_since, la, sizeof(la));
    util_duration_format_iso8601(metrics_grain_monitor(w->until - w->since, 24), sp->grain, sizeof(sp->grain));
    sp->timespan = util_printf("%s/%s", sp->since, sp->until);
    sp->la_span = util_printf("%s/%s", la, sp->until);
}

static void plan_queries(struct round2 *r, const struct plan *p, const char *api_id, const struct metrics_window *w,
                         int group_by, const struct spans *sp)
{
    for (int q = 0; q < Q_N; q++)
        r->index[q] = -1;
    add_monitor(r, api_id, sp->timespan, sp->grain);
    if (!p->v2)
        add_reports(r, api_id, w, group_by);
    if (p->customer_id[0] && sp->la_since < w->until)
        add_la(r, p, api_id, sp->la_span);
    if (p->token_metric && p->insights && p->sub_dim[0])
        add_insights(r, p, api_id, sp->timespan, sp->grain);
}

/* Merges what answered into *result, or fails when no source of counts answered. */
static int assemble(const struct plan *p, const struct outcome *o, const char *api_id, const struct spans *sp,
                    json_t *missing, json_t *notes, int group_by, json_t **result, util_error *err)
{
    if (!o->parsed[Q_MON_REQ] && !o->parsed[Q_REPORTS] && !o->parsed[Q_LA_SUBS])
        return util_error_set(err, o->errs[Q_MON_REQ].code ? o->errs[Q_MON_REQ].code : UTIL_EREMOTE,
                              "no metrics source answered: %s", o->errs[Q_MON_REQ].message);
    char *insights = util_printf("Application Insights token metrics (namespace '%s')", p->metric_ns);
    bool la_tokens = o->parsed[Q_LA_TOKENS] != NULL;
    struct metrics_inputs in = {o->parsed[Q_MON_REQ], o->parsed[Q_MON_DUR], o->parsed[Q_REPORTS],
                                o->parsed[Q_REPORTS_TIME], o->parsed[Q_LA_SUBS], o->parsed[Q_LA_BACKENDS],
                                la_tokens ? o->parsed[Q_LA_TOKENS] : o->parsed[Q_INSIGHTS],
                                la_tokens ? "Log Analytics (ApiManagementGatewayLlmLog)" : insights, missing, notes};
    *result = metrics_merge(&in, group_by);
    json_object_set_new(*result, "api_id", json_string(api_id));
    json_object_set_new(*result, "since", json_string(sp->since));
    json_object_set_new(*result, "until", json_string(sp->until));
    json_object_set_new(*result, "grain", json_string(sp->grain));
    json_object_set_new(*result, "tier", json_string(p->sku));
    free(insights);
    return 0;
}

int metrics_collect(struct arm_client *arm, const char *api_id, const struct metrics_window *w, int group_by,
                    json_t **result, util_error *err)
{
    if (strpbrk(api_id, "'\"\\ "))
        return util_error_set(err, UTIL_EINVAL, "api_id '%s' cannot contain quotes, backslashes or spaces", api_id);
    struct plan p = {0};
    json_t *missing = json_array(), *notes = json_array();
    int rc = discover(arm, api_id, &p, missing, err);
    if (!rc)
        read_workspace(arm, &p, missing);
    if (!rc) {
        struct spans sp;
        struct round2 r;
        struct outcome o;
        memset(&r, 0, sizeof(r));
        memset(&o, 0, sizeof(o));
        spans_make(w, p.retention_days, &sp);
        plan_queries(&r, &p, api_id, w, group_by, &sp);
        run(arm, &r, &o);
        explain(&p, &o, missing, notes);
        window_notes(w, &p, sp.la_since, notes);
        rc = assemble(&p, &o, api_id, &sp, missing, notes, group_by, result, err);
        round2_free(&r, &o);
        free(sp.timespan);
        free(sp.la_span);
    }
    json_decref(missing);
    json_decref(notes);
    free(p.workspace);
    free(p.insights);
    return rc;
}

void metrics_la_read(json_t *settings, struct metrics_la *la)
{
    struct plan p = {0};
    memset(la, 0, sizeof(*la));
    read_diagnostics(settings, &p);
    la->gateway_logs = p.workspace != NULL;
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(settings, "value"), i, s) {
        json_t *props = json_object_get(s, "properties");
        const char *ws = json_string_value(json_object_get(props, "workspaceId"));
        const char *dest = json_string_value(json_object_get(props, "logAnalyticsDestinationType"));
        if (p.dedicated || !ws || !dest || !util_str_eq_ci(dest, "Dedicated"))
            continue;
        free(p.workspace); /* resource-specific, without GatewayLogs: the one shadow mode can complete */
        p.workspace = util_strdup(ws);
        p.dedicated = true;
        p.item = s;
        p.llm_logs = category_on(json_object_get(props, "logs"), "GatewayLlmLogs");
        snprintf(p.setting, sizeof(p.setting), "%s", json_string_value(json_object_get(s, "name")) ?
                 json_string_value(json_object_get(s, "name")) : "?");
        la->gateway_logs = false;
    }
    la->workspace = p.workspace;
    snprintf(la->setting, sizeof(la->setting), "%s", p.setting);
    la->item = json_incref(p.item);
    la->dedicated = p.dedicated;
    la->llm_logs = p.llm_logs;
}

void metrics_la_free(struct metrics_la *la)
{
    free(la->workspace);
    json_decref(la->item);
    memset(la, 0, sizeof(*la));
}
