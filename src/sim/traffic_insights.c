/* traffic_insights.c: apim-sim's Application Insights side of the traffic model —
 *   GET {service}/loggers  the service's applicationInsights logger (scenario traffic.app_insights)
 *   GET .../microsoft.insights/components/{name}/providers/Microsoft.Insights/metrics  the custom
 *       metrics "Prompt Tokens", "Completion Tokens", "Total Tokens" that llm-/azure-openai-emit-token-metric
 *       sends, in the policy's namespace, split by its subscription dimension (docs/apim-sim.md). */
#include "traffic.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *component(sim_state *st)
{
    return json_string_value(json_object_get(json_object_get(sim_traffic_scenario(st), "app_insights"), "component"));
}

static char *component_id(sim_state *st)
{
    char sub[128] = "", rg[128] = "";
    sscanf(st->service_id, "/subscriptions/%127[^/]/resourceGroups/%127[^/]", sub, rg);
    return util_printf("/subscriptions/%s/resourceGroups/%s/providers/microsoft.insights/components/%s", sub, rg,
                       component(st));
}

void sim_traffic_loggers_route(sim_state *st, const sim_request *req, sim_response *resp)
{
    static const char *const versions[] = {"2024-05-01", "2024-06-01-preview", "2023-09-01-preview",
                                           "2023-05-01-preview", "2022-08-01", NULL};
    if (!sim_traffic_version_ok(req, versions, resp))
        return;
    json_t *list = json_array();
    if (component(st)) {
        char *id = util_printf("%s/loggers/appinsights-logger", st->service_id), *rid = component_id(st);
        json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:{s:s,s:{s:s},s:b,s:s}}", "id", id, "type",
                                              "Microsoft.ApiManagement/service/loggers", "name", "appinsights-logger",
                                              "properties", "loggerType", "applicationInsights", "credentials",
                                              "instrumentationKey", "{{Logger-Credentials--appinsights}}",
                                              "isBuffered", 1, "resourceId", rid));
        free(id);
        free(rid);
    }
    sim_response_json(resp, 200, json_pack("{s:o,s:I,s:s}", "value", list, "count",
                                           (json_int_t)json_array_size(list), "nextLink", ""));
}

/* The token metric of the current configuration (borrowed from snap), or NULL. */
static json_t *metric_config(json_t *snap)
{
    const char *sub;
    json_t *cfg;
    json_object_foreach(snap, sub, cfg) {
        if (json_is_object(json_object_get(cfg, "metric")))
            return json_object_get(cfg, "metric");
    }
    return NULL;
}

struct ifilter {
    bool split;         /* the subscription dimension eq '*' */
    char only_sub[128]; /* or one subscription */
    char api[260];      /* the API dimension's value, "" = any */
};

struct iclause {
    struct ifilter *f;
    const char *sub_dim, *api_dim; /* the token metric's dimension names */
};

static int insights_clause(const char *dim, const char *value, void *user)
{
    struct iclause *c = user;
    if (c->sub_dim && !strcmp(dim, c->sub_dim) && !strcmp(value, "*"))
        c->f->split = true;
    else if (c->sub_dim && !strcmp(dim, c->sub_dim))
        snprintf(c->f->only_sub, sizeof(c->f->only_sub), "%s", value);
    else if (c->api_dim && !strcmp(dim, c->api_dim))
        snprintf(c->f->api, sizeof(c->f->api), "%s", value);
    else
        return -1;
    return 0;
}

/* Clauses "<Dimension name> eq '<value>'" joined by " and "; names may hold spaces. */
static int parse_filter(const char *filter, json_t *metric, struct ifilter *f, char *bad, size_t nbad)
{
    memset(f, 0, sizeof(*f));
    struct iclause c = {f, json_string_value(json_object_get(metric, "sub_dim")),
                        json_string_value(json_object_get(metric, "api_dim"))};
    return sim_traffic_filter_each(filter, insights_clause, &c, bad, nbad);
}

static int64_t tokens_of(sim_state *st, const char *metric, const char *sub, const char *api, double from, double to)
{
    sim_traffic_stats s;
    memset(&s, 0, sizeof(s));
    sim_traffic_window(st, sub, api, from, to, &s);
    int64_t prompt, completion;
    sim_traffic_tokens_per_request(st, &prompt, &completion);
    int64_t per = !strcmp(metric, "Prompt Tokens") ? prompt : !strcmp(metric, "Completion Tokens") ? completion
                                                                                                    : prompt + completion;
    return s.metric_calls * per;
}

static json_t *series(sim_state *st, const char *metric, const char *dim, const char *sub, const char *api,
                      double from, double to, double step)
{
    json_t *data = json_array();
    for (double t = from; t < to; t += step) {
        char ts[32];
        util_time_iso8601((int64_t)t, ts, sizeof(ts));
        if (st->traffic_cut_s > 0 && t >= sim_traffic_horizon(st)) /* not ingested yet: a point without values */
            json_array_append_new(data, json_pack("{s:s}", "timeStamp", ts));
        else
            json_array_append_new(data, json_pack("{s:s,s:f}", "timeStamp", ts, "total",
                                                  (double)tokens_of(st, metric, sub, api, t, fmin(t + step, to))));
    }
    json_t *meta = json_array();
    if (dim && sub)
        json_array_append_new(meta, json_pack("{s:{s:s,s:s},s:s}", "name", "value", dim, "localizedValue", dim, "value",
                                              sub));
    return json_pack("{s:o,s:o}", "metadatavalues", meta, "data", data);
}

static json_t *metric_value(sim_state *st, const char *metric, json_t *mcfg, const struct ifilter *f, double from,
                            double to, double step)
{
    const char *api = f->api[0] ? f->api : NULL, *dim = json_string_value(json_object_get(mcfg, "sub_dim"));
    json_t *ts = json_array();
    if (!f->split)
        json_array_append_new(ts, series(st, metric, dim, f->only_sub[0] ? f->only_sub : NULL, api, from, to, step));
    else {
        const char *sub;
        json_t *tpm;
        json_object_foreach(sim_traffic_demand(st), sub, tpm) {
            if (tokens_of(st, metric, sub, api, from, to) > 0)
                json_array_append_new(ts, series(st, metric, dim, sub, api, from, to, step));
        }
    }
    char *cid = component_id(st), *id = util_printf("%s/providers/Microsoft.Insights/metrics/%s", cid, metric);
    json_t *m = json_pack("{s:s,s:s,s:{s:s,s:s},s:s,s:s,s:o,s:s}", "id", id, "type", "Microsoft.Insights/metrics", "name",
                          "value", metric, "localizedValue", metric, "displayDescription", "", "unit", "Count",
                          "timeseries", ts, "errorCode", "Success");
    free(cid);
    free(id);
    return m;
}

static bool token_metric_name(const char *m)
{
    return !strcmp(m, "Prompt Tokens") || !strcmp(m, "Completion Tokens") || !strcmp(m, "Total Tokens");
}

static void answer_metrics(sim_state *st, const sim_request *req, json_t *mcfg, sim_response *resp)
{
    const char *timespan = json_string_value(json_object_get(req->query, "timespan"));
    const char *interval = json_string_value(json_object_get(req->query, "interval"));
    const char *names = json_string_value(json_object_get(req->query, "metricnames"));
    double from, to;
    int64_t step;
    struct ifilter f;
    char bad[300] = "";
    if (!timespan || sim_traffic_timespan(timespan, &from, &to) != 0 || !sim_traffic_interval(interval ? interval : "PT1H", &step) ||
        (to - from) / (double)step > SIM_TRAFFIC_MAX_POINTS || !names) {
        sim_response_arm_error(resp, 400, "BadRequest", NULL,
                               "apim-sim needs 'timespan' START/END, a supported 'interval' (PT1M..P1D, at most 1500 "
                               "points) and 'metricnames'.");
        return;
    }
    if (parse_filter(json_string_value(json_object_get(req->query, "$filter")), mcfg, &f, bad, sizeof(bad)) != 0) {
        sim_response_arm_error(resp, 400, "BadRequest", NULL,
                               "Unsupported $filter clause '%s': the token metric's dimensions are the policy's "
                               "<dimension> names.", bad);
        return;
    }
    int top, order;
    if (!sim_traffic_top(req, &top, &order, resp))
        return;
    json_t *value = json_array();
    char *list = util_strdup(names);
    for (char *save = NULL, *m = strtok_r(list, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
        if (!token_metric_name(m)) {
            sim_response_arm_error(resp, 400, "BadRequest", NULL,
                                   "Failed to find metric configuration for metric: %s, valid metrics: Prompt Tokens, "
                                   "Completion Tokens, Total Tokens", m);
            json_decref(value);
            free(list);
            return;
        }
        json_t *mv = metric_value(st, m, mcfg, &f, from, to, (double)step);
        sim_traffic_limit_series(json_object_get(mv, "timeseries"), top, order);
        json_array_append_new(value, mv);
    }
    free(list);
    sim_response_json(resp, 200, json_pack("{s:i,s:s,s:s,s:o,s:s,s:s}", "cost", 0, "timespan", timespan, "interval",
                                           interval ? interval : "PT1H", "value", value, "namespace",
                                           json_string_value(json_object_get(mcfg, "namespace")), "resourceregion",
                                           "eastus"));
}

void sim_traffic_insights_route(sim_state *st, const sim_request *req, sim_response *resp)
{
    static const char *const versions[] = {"2024-02-01", "2023-10-01", "2018-01-01", NULL};
    if (!sim_traffic_child_ok(req, "/components/", "microsoft.insights/components", component(st), "GET",
                              "/providers/Microsoft.Insights/metrics", versions, resp))
        return;
    json_t *snap = sim_traffic_snapshot(st);
    json_t *mcfg = metric_config(snap);
    const char *ns = json_string_value(json_object_get(req->query, "metricnamespace"));
    if (!mcfg || !ns || strcmp(ns, json_string_value(json_object_get(mcfg, "namespace"))) != 0)
        sim_response_arm_error(resp, 400, "BadRequest", NULL,
                               "Failed to find metric configuration for provider: microsoft.insights, resource Type: "
                               "components, metric namespace: %s (no emit-token-metric policy sends to it).",
                               ns ? ns : "(none)");
    else {
        st->traffic_cut_s = st->metrics_delay_s; /* points not ingested yet are not returned */
        answer_metrics(st, req, mcfg, resp);
        st->traffic_cut_s = 0;
    }
    json_decref(snap);
}
