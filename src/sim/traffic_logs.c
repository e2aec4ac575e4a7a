/* traffic_logs.c: apim-sim's Log Analytics side of the traffic model (docs/apim-sim.md, "Traffic"):
 *   GET  .../Microsoft.OperationalInsights/workspaces/{ws}   Workspaces_Get: customerId, retentionInDays
 *   POST .../Microsoft.OperationalInsights/workspaces/{ws}/api/query  the ARM-proxied query route Microsoft
 *        retired on 31 March 2026: 410 Gone, pointing at the Logs query API
 *   POST /v1/workspaces/{customerId}/query  the Logs query API v1 (a token for the Log Analytics audience),
 *        answering only the KQL texts azure-ai-gateway-mcp sends. When the scenario's diagnostic setting
 *        writes to AzureDiagnostics (traffic.log_analytics.destination_type not "Dedicated"), the
 *        resource-specific tables it reads are empty, as in a real workspace.
 * Cells are strings, as the v1 schema types them. */
#include "traffic.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORKSPACE_VERSION "2025-07-01"
#define DEFAULT_CUSTOMER_ID "4a5e8e0c-1d2b-4c3f-9e8a-6b7c8d9e0f1a"

/* The KQL shapes the client sends; "%s" is the API id (a copy of the wire contract, not shared code). */
static const char *const kql_subscriptions =
    "ApiManagementGatewayLogs | where ApiId == '%s' | summarize requests = count(), throttled = countif(ResponseCode "
    "== 429), throttled_backend = countif(ResponseCode == 429 and BackendResponseCode == 429), blocked = countif(ResponseCode >= 400 and ResponseCode < 500 and ResponseCode != 429), failed = "
    "countif(ResponseCode >= 500), cache_hits = countif(Cache == 'hit'), cache_misses = countif(Cache == 'miss'), "
    "backend_calls = countif(isnotempty(BackendId)), total_ms = sum(TotalTime), backend_ms = sum(BackendTime) by "
    "ApimSubscriptionId";
static const char *const kql_backends =
    "ApiManagementGatewayLogs | where ApiId == '%s' and isnotempty(BackendId) | summarize requests = count(), "
    "throttled_backend = countif(BackendResponseCode == 429), backend_ms = sum(BackendTime) by BackendId";
/* Rows of a large message split across SequenceNumber rows carry no DeploymentName (Microsoft's own
 * queries filter them out); only this filtered form is answered. */
static const char *const kql_tokens =
    "ApiManagementGatewayLlmLog | where DeploymentName != '' | join kind=inner (ApiManagementGatewayLogs | where "
    "ApiId == '%s' | project CorrelationId, ApimSubscriptionId) on CorrelationId | summarize prompt_tokens = "
    "sum(PromptTokens), completion_tokens = sum(CompletionTokens), total_tokens = sum(TotalTokens) by "
    "ApimSubscriptionId";

/* Requests and failures per backend that finally served (BackendId, BackendUrl) and minute
 * (rehearse_failover, docs/apim-sim.md "Routing and failures"); "%s" is the API id. */
static const char *const kql_backend_minutes =
    "ApiManagementGatewayLogs | where ApiId == '%s' | summarize requests = count(), failed = countif(ResponseCode >= "
    "500), throttled = countif(ResponseCode == 429), backend_failed = countif(BackendResponseCode >= 500), "
    "backend_throttled = countif(BackendResponseCode == 429) by BackendId, BackendUrl, bin(TimeGenerated, 1m)";

/* Tokens and requests per minute and subscription (simulate_quota), packed into one list per
 * subscription; "%s" is a list of quoted ids. */
static const char *const kql_minutes =
    "ApiManagementGatewayLogs | where ApimSubscriptionId in (%s) | join kind=leftouter (ApiManagementGatewayLlmLog | "
    "where DeploymentName != '' | project CorrelationId, TotalTokens) on CorrelationId | summarize requests = count(), "
    "token_requests = countif(isnotnull(TotalTokens)), tokens = sum(TotalTokens) by ApimSubscriptionId, minute = "
    "bin(TimeGenerated, 1m) | summarize minutes = make_list(pack_array(datetime_diff('minute', minute, "
    "datetime(1970-01-01)), requests, token_requests, tokens), 1048576) by ApimSubscriptionId";

#define MINUTES_MAX_SUBS 20
#define MINUTES_MAX_ROWS 500000 /* the Logs query API's row limit */

static const char *const logs_audiences[] = {"https://api.loganalytics.io", "https://api.loganalytics.io/",
                                             "https://api.loganalytics.us", "https://api.loganalytics.us/",
                                             "https://api.loganalytics.azure.cn", "https://api.loganalytics.azure.cn/",
                                             NULL};

static json_t *la_config(sim_state *st) { return json_object_get(sim_traffic_scenario(st), "log_analytics"); }

static const char *workspace_name(sim_state *st) { return json_string_value(json_object_get(la_config(st), "workspace")); }

const char *sim_traffic_customer_id(sim_state *st)
{
    const char *id = json_string_value(json_object_get(la_config(st), "customer_id"));
    return id ? id : DEFAULT_CUSTOMER_ID;
}

const char *sim_traffic_destination_type(sim_state *st)
{
    json_t *t = json_object_get(la_config(st), "destination_type");
    return t ? json_string_value(t) : "Dedicated"; /* present and null: AzureDiagnostics */
}

static int retention_days(sim_state *st)
{
    json_t *d = json_object_get(la_config(st), "retention_days");
    return json_is_integer(d) && json_integer_value(d) > 0 ? (int)json_integer_value(d) : 30;
}

/* ---- ARM: Workspaces_Get and the retired query route -------------------------------------- */

static void workspace_get(sim_state *st, const sim_request *req, sim_response *resp)
{
    char sub[128] = "", rg[128] = "";
    sscanf(st->service_id, "/subscriptions/%127[^/]/resourceGroups/%127[^/]", sub, rg);
    char *id = util_printf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.OperationalInsights/workspaces/%s",
                           sub, rg, workspace_name(st));
    (void)req;
    sim_response_json(resp, 200,
                      json_pack("{s:s,s:s,s:s,s:s,s:{s:s,s:s,s:{s:s},s:i,s:s,s:s}}", "id", id, "name",
                                workspace_name(st), "type", "Microsoft.OperationalInsights/workspaces", "location",
                                "eastus", "properties", "provisioningState", "Succeeded", "customerId",
                                sim_traffic_customer_id(st), "sku", "name", "PerGB2018", "retentionInDays",
                                retention_days(st), "publicNetworkAccessForIngestion", "Enabled",
                                "publicNetworkAccessForQuery", "Enabled"));
    free(id);
}

void sim_traffic_workspace_route(sim_state *st, const sim_request *req, sim_response *resp)
{
    static const char *const versions[] = {WORKSPACE_VERSION, "2023-09-01", "2022-10-01", "2020-08-01", NULL};
    const char *at = util_strcasestr(req->path, "/workspaces/");
    char name[128] = "", rest[128] = "";
    if (at)
        sscanf(at + strlen("/workspaces/"), "%127[^/]%127s", name, rest);
    if (!workspace_name(st) || strcasecmp(name, workspace_name(st)) != 0)
        sim_response_arm_error(resp, 404, "ResourceNotFound", NULL,
                               "The Resource 'Microsoft.OperationalInsights/workspaces/%s' was not found.", name);
    else if (!strcasecmp(rest, "/api/query"))
        /* Microsoft documents the cut-off (31 March 2026), not the answer: apim-sim refuses with 410. */
        sim_response_arm_error(resp, 410, "ApiRetired", NULL,
                               "Log Analytics queries through Azure Resource Manager (.../workspaces/{name}/api/query) "
                               "were retired on 31 March 2026. Use the Logs query API: POST "
                               "https://api.loganalytics.io/v1/workspaces/{workspaceId}/query.");
    else if (rest[0] || strcmp(req->method, "GET") != 0)
        sim_response_arm_error(resp, 404, "InvalidResourceType", NULL,
                               "apim-sim serves only GET Microsoft.OperationalInsights/workspaces/%s.", name);
    else if (sim_traffic_version_ok(req, versions, resp))
        workspace_get(st, req, resp);
}

/* ---- the Logs query API -------------------------------------------------------------------- */

static void la_error(sim_response *resp, int status, const char *code, const char *msg)
{
    sim_response_json(resp, status, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

/* Matches query against a template with one '%s' (the API id, without quotes). */
static bool kql_match(const char *query, const char *tmpl, char *api, size_t n)
{
    const char *hole = strstr(tmpl, "%s");
    size_t pre = (size_t)(hole - tmpl);
    if (strncmp(query, tmpl, pre) != 0)
        return false;
    const char *end = strchr(query + pre, '\'');
    if (!end || (size_t)(end - query - pre) >= n || end == query + pre)
        return false;
    memcpy(api, query + pre, (size_t)(end - query - pre));
    api[end - query - pre] = '\0';
    return strcmp(end, hole + 2) == 0;
}

static json_t *column(const char *name, const char *type) { return json_pack("{s:s,s:s}", "name", name, "type", type); }

static json_t *cell(int64_t n) { return json_sprintf("%lld", (long long)n); }

static json_t *la_table(json_t *columns, json_t *rows)
{
    return json_pack("{s:[{s:s,s:o,s:o}]}", "tables", "name", "PrimaryResult", "columns", columns, "rows", rows);
}

static json_t *la_subscriptions(sim_state *st, const char *api, double from, double to, bool tokens, bool empty)
{
    json_t *rows = json_array();
    const char *sub;
    json_t *tpm;
    json_object_foreach(sim_traffic_demand(st), sub, tpm) {
        sim_traffic_stats s;
        memset(&s, 0, sizeof(s));
        sim_traffic_window(st, sub, api, from, to, &s);
        if (!s.requests || empty)
            continue;
        if (tokens && s.misses)
            json_array_append_new(rows, json_pack("[s,o,o,o]", sub, cell(s.prompt_tokens), cell(s.completion_tokens),
                                                  cell(s.prompt_tokens + s.completion_tokens)));
        else if (!tokens)
            json_array_append_new(rows, json_pack("[s,o,o,o,o,o,o,o,o,o,o]", sub, cell(s.requests), cell(s.throttled),
                                                  cell(s.backend_throttled), cell(0), cell(s.failed), cell(s.hits), cell(s.cache_misses), cell(s.misses),
                                                  cell(s.total_ms), cell(s.backend_ms)));
    }
    if (tokens)
        return la_table(json_pack("[o,o,o,o]", column("ApimSubscriptionId", "string"), column("prompt_tokens", "long"),
                                  column("completion_tokens", "long"), column("total_tokens", "long")),
                        rows);
    return la_table(json_pack("[o,o,o,o,o,o,o,o,o,o,o]", column("ApimSubscriptionId", "string"),
                              column("requests", "long"), column("throttled", "long"),
                              column("throttled_backend", "long"), column("blocked", "long"),
                              column("failed", "long"), column("cache_hits", "long"), column("cache_misses", "long"),
                              column("backend_calls", "long"), column("total_ms", "long"), column("backend_ms", "long")),
                    rows);
}

static json_t *la_backends(sim_state *st, const char *api, double from, double to, bool empty)
{
    sim_traffic_stats s;
    memset(&s, 0, sizeof(s));
    sim_traffic_window(st, NULL, api, from, to, &s);
    json_t *rows = json_array();
    for (int i = 0; i < s.nbackends && !empty; i++) {
        if (!s.backend_calls[i] || !strcmp(s.backend[i], "(none)"))
            continue;
        double lat = sim_traffic_backend_latency(st, s.backend[i]);
        json_array_append_new(rows, json_pack("[s,o,o,o]", s.backend[i], cell(s.backend_calls[i]),
                                              cell(s.backend_refused[i]),
                                              cell((int64_t)((double)s.backend_calls[i] * lat))));
    }
    return la_table(json_pack("[o,o,o,o]", column("BackendId", "string"), column("requests", "long"),
                              column("throttled_backend", "long"), column("backend_ms", "long")),
                    rows);
}

#define BACKEND_MINUTES_MAX (31 * 1440) /* a month of minutes: past any retention the sim serves */

static json_t *backend_row(const char *id, const char *url, const char *ts, int64_t req, int64_t failed, int64_t thr,
                           int64_t bfailed, int64_t bthr)
{
    return json_pack("[s,s,s,o,o,o,o,o]", id, url, ts, cell(req), cell(failed), cell(thr), cell(bfailed), cell(bthr));
}

/* One row per (backend that finally served, minute) with requests; the requests that reached no backend
 * (cache hits, the gateway's own 429s, 503s with every breaker open) in a row with empty BackendId. */
static json_t *la_backend_minutes(sim_state *st, const char *api, double from, double to, bool empty)
{
    json_t *rows = json_array();
    to = fmin(to, sim_traffic_horizon(st));
    size_t total = 0;
    for (double m = floor(from / 60) * 60; !empty && m < to && total < BACKEND_MINUTES_MAX; m += 60, total++) {
        sim_traffic_stats s;
        memset(&s, 0, sizeof(s));
        sim_traffic_window(st, NULL, api, fmax(m, from), fmin(m + 60, to), &s);
        char ts[32];
        util_time_iso8601((int64_t)m, ts, sizeof(ts));
        int64_t none = s.hits + (s.throttled - s.backend_throttled) + s.unavailable;
        for (int i = 0; i < s.nbackends; i++) {
            if (!s.backend_calls[i])
                continue;
            if (!strcmp(s.backend[i], "(none)")) { /* no backend configured: counted with the gateway's own */
                none += s.backend_calls[i];
                continue;
            }
            json_array_append_new(rows, backend_row(s.backend[i], sim_traffic_backend_url(st, s.backend[i]), ts,
                                                    s.backend_calls[i], s.backend_failed_calls[i] + s.backend_timeouts[i],
                                                    s.backend_refused[i], s.backend_failed_calls[i], s.backend_refused[i]));
        }
        if (none > 0)
            json_array_append_new(rows, backend_row("", "", ts, none, s.unavailable, s.throttled - s.backend_throttled, 0, 0));
    }
    return la_table(json_pack("[o,o,o,o,o,o,o,o]", column("BackendId", "string"), column("BackendUrl", "string"),
                              column("TimeGenerated", "datetime"), column("requests", "long"), column("failed", "long"),
                              column("throttled", "long"), column("backend_failed", "long"),
                              column("backend_throttled", "long")),
                    rows);
}

/* Matches kql_minutes; fills subs with the quoted ids of its list ('a','b'). */
static bool kql_match_minutes(const char *query, char subs[][260], int *nsubs)
{
    const char *hole = strstr(kql_minutes, "%s");
    size_t pre = (size_t)(hole - kql_minutes);
    if (strncmp(query, kql_minutes, pre) != 0)
        return false;
    const char *p = query + pre;
    *nsubs = 0;
    while (*p == '\'' && *nsubs < MINUTES_MAX_SUBS) {
        const char *end = strchr(p + 1, '\'');
        if (!end || end == p + 1 || (size_t)(end - p - 1) >= 260)
            return false;
        memcpy(subs[*nsubs], p + 1, (size_t)(end - p - 1));
        subs[(*nsubs)++][end - p - 1] = '\0';
        p = end + 1;
        if (*p != ',')
            break;
        p++;
    }
    return *nsubs > 0 && strcmp(p, hole + 2) == 0;
}

/* One row per subscription with requests: its minutes, each [epoch minute, requests, requests with a
 * token row (the backend calls), their tokens], from the model's counts for that minute, so the
 * per-minute figures add up to what every other route reports and match the limits it enforces.
 * The dynamic cell is its JSON text, as the v1 schema gives it. */
static json_t *la_minutes(sim_state *st, char subs[][260], int nsubs, double from, double to, bool empty)
{
    json_t *rows = json_array();
    to = fmin(to, sim_traffic_horizon(st));
    size_t total = 0;
    for (int i = 0; i < nsubs && !empty; i++) {
        if (!json_object_get(sim_traffic_demand(st), subs[i]))
            continue;
        util_buf list;
        util_buf_init(&list, 0);
        for (double m = floor(from / 60) * 60; m < to && total < MINUTES_MAX_ROWS; m += 60) {
            sim_traffic_stats s;
            memset(&s, 0, sizeof(s));
            sim_traffic_window(st, subs[i], NULL, fmax(m, from), fmin(m + 60, to), &s);
            if (!s.requests)
                continue;
            util_buf_printf(&list, "%s[%lld,%lld,%lld,%lld]", list.len ? "," : "[", (long long)(m / 60),
                            (long long)s.requests, (long long)s.misses, (long long)(s.prompt_tokens + s.completion_tokens));
            total++;
        }
        if (list.len) {
            util_buf_puts(&list, "]");
            json_array_append_new(rows, json_pack("[s,s]", subs[i], list.data));
        }
        util_buf_free(&list);
    }
    return la_table(json_pack("[o,o]", column("ApimSubscriptionId", "string"), column("minutes", "dynamic")), rows);
}

/* A token for the Log Analytics audience, signed by the simulator and not expired (lock held). */
static bool logs_token_ok(sim_state *st, const sim_request *req, sim_response *resp)
{
    const char *h = json_string_value(json_object_get(req->headers, "authorization"));
    json_t *p = h && !strncasecmp(h, "Bearer ", 7) ? sim_jwt_verify_hs256(h + 7, st->sign_key, sizeof(st->sign_key)) : NULL;
    const char *aud = json_string_value(json_object_get(p, "aud"));
    const char *uti = json_string_value(json_object_get(p, "uti"));
    bool ok = false;
    if (!p)
        la_error(resp, 401, "InvalidTokenError", "The provided authentication is not valid for this resource.");
    else if (json_integer_value(json_object_get(p, "exp")) <= sim_now_s(st) ||
             atoll(uti ? uti : "0") <= st->expired_upto)
        la_error(resp, 401, "InvalidTokenError", "The provided authentication token has expired.");
    else if (!sim_in_list(aud, logs_audiences))
        la_error(resp, 401, "InvalidTokenError", "The provided authentication is not valid for this resource: the "
                 "token's audience is not https://api.loganalytics.io.");
    else
        ok = true;
    if (!ok)
        sim_response_header(resp, "WWW-Authenticate", "Bearer authorization_uri=\"https://login.microsoftonline.com/\", "
                            "error=\"invalid_token\"");
    json_decref(p);
    return ok;
}

/* The body's timespan, an ISO 8601 period: "START/END", or a duration back from now ("PT1H"). */
static int timespan_of(const sim_state *st, const char *ts, double *from, double *to)
{
    int64_t d;
    if (ts && ts[0] == 'P' && util_duration_parse_iso8601(ts, &d) == 0 && d > 0) {
        *to = (double)sim_now_ms(st) / 1000.0;
        *from = *to - (double)d;
        return 0;
    }
    return sim_traffic_timespan(ts, from, to);
}

static void logs_query(sim_state *st, const sim_request *req, sim_response *resp)
{
    char id[80] = "", rest[64] = "";
    sscanf(req->path + strlen("/v1/workspaces/"), "%79[^/]%63s", id, rest);
    if (strcmp(rest, "/query") != 0 || strcmp(req->method, "POST") != 0) {
        la_error(resp, 404, "PathNotFoundError", "apim-sim serves only POST /v1/workspaces/{workspaceId}/query.");
        return;
    }
    if (!logs_token_ok(st, req, resp))
        return;
    if (!workspace_name(st) || strcasecmp(id, sim_traffic_customer_id(st)) != 0) {
        la_error(resp, 404, "WorkspaceNotFoundError", "The workspace could not be found.");
        return;
    }
    json_t *body = json_loadb(req->body, req->body_len, 0, NULL);
    const char *query = json_string_value(json_object_get(body, "query"));
    const char *destination = sim_traffic_destination_type(st);
    bool empty = !destination || strcasecmp(destination, "Dedicated") != 0;
    double from, to;
    char api[260];
    static char subs[MINUTES_MAX_SUBS][260]; /* lock held: one query at a time */
    int nsubs = 0;
    if (!query || timespan_of(st, json_string_value(json_object_get(body, "timespan")), &from, &to) != 0)
        la_error(resp, 400, "BadArgumentError",
                 "The request needs a JSON body with 'query' (KQL) and 'timespan' (an ISO 8601 period: START/END, "
                 "or a duration such as PT1H).");
    else {
        from = fmax(from, (double)sim_now_ms(st) / 1000.0 - retention_days(st) * 86400.0);
        st->traffic_cut_s = st->logs_delay_s; /* rows not ingested yet are not returned */
        if (kql_match(query, kql_subscriptions, api, sizeof(api)))
            sim_response_json(resp, 200, la_subscriptions(st, api, from, to, false, empty));
        else if (kql_match(query, kql_tokens, api, sizeof(api)))
            sim_response_json(resp, 200, la_subscriptions(st, api, from, to, true, empty));
        else if (kql_match(query, kql_backends, api, sizeof(api)))
            sim_response_json(resp, 200, la_backends(st, api, from, to, empty));
        else if (kql_match_minutes(query, subs, &nsubs))
            sim_response_json(resp, 200, la_minutes(st, subs, nsubs, from, to, empty));
        else if (kql_match(query, kql_backend_minutes, api, sizeof(api)))
            sim_response_json(resp, 200, la_backend_minutes(st, api, from, to, empty));
        else
            la_error(resp, 400, "SemanticError",
                     "apim-sim answers only the KQL queries azure-ai-gateway-mcp sends (per subscription, per backend, "
                     "tokens of rows with a DeploymentName, per minute and subscription, per backend and minute); see docs/apim-sim.md. This query is not one of them.");
        st->traffic_cut_s = 0;
    }
    json_decref(body);
}

bool sim_traffic_logs_handle(sim_state *st, const sim_request *req, sim_response *resp)
{
    if (!util_str_starts_with(req->path, "/v1/workspaces/"))
        return false;
    sim_state_lock(st);
    logs_query(st, req, resp);
    sim_state_unlock(st);
    return true;
}
