/* test_sim_traffic: apim-sim's traffic model without HTTP — the configuration read from the demo's
 * policies and pool, counts that add up across adjacent windows, a limit change recorded in the
 * history raising throttling only after it, the backend rule, the KQL gate of the Logs query API
 * (its own token audience, string cells, the LLM-log filter), the retired ARM query route, and the
 * v2 tiers' refusal of the reports API. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "traffic.h"

#define SVC "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-aigw-demo/providers/Microsoft.ApiManagement/service/apim-aigw-demo"

static int setup(void **state)
{
    sim_state *st = calloc(1, sizeof(*st));
    sim_options o = {.scenario = "demo", .host = "127.0.0.1", .token_lifetime = 60, .page_size = 100};
    util_error err = {0};
    if (sim_state_init(st, &o, &err) != 0 || sim_scenario_load(st, "demo", &err) != 0) {
        print_message("setup: %s\n", err.message);
        return -1;
    }
    *state = st;
    return 0;
}

static int teardown(void **state)
{
    sim_state_free(*state);
    free(*state);
    return 0;
}

static double num(json_t *snap, const char *sub, const char *key)
{
    return json_number_value(json_object_get(json_object_get(snap, sub), key));
}

static void snapshot_reads_the_demo_policies(void **state)
{
    json_t *snap = sim_traffic_snapshot(*state);
    assert_int_equal((int)num(snap, "growth", "limit_tpm"), 200000);
    assert_int_equal((int)num(snap, "search", "limit_tpm"), 100000);
    assert_int_equal((int)num(snap, "prod-critical", "limit_tpm"), 300000);
    assert_int_equal((int)num(snap, "free-experiments", "limit_tpm"), 10000); /* its own product */
    assert_int_equal((int)num(snap, "free-experiments", "rpm"), 20);
    assert_int_equal((int)num(snap, "growth", "rpm"), 600);
    assert_true(json_is_true(json_object_get(json_object_get(snap, "growth"), "cache")));
    /* score-threshold is a distance: the demo's loose 0.8 hits at the 90% cap */
    assert_true(num(snap, "growth", "hit") > 0.89 && num(snap, "growth", "hit") < 0.91);
    assert_string_equal(json_string_value(json_object_get(json_object_get(snap, "growth"), "backend")), "eastus-aoai");
    json_decref(snap);
}

/* Only a team's own limits count: an IP-keyed token limit is a shared pool, and a global
 * <rate-limit> (valid at product, API and operation scope only) is not counted. */
static void shared_pools_and_global_rate_limit_are_not_a_teams_limits(void **state)
{
    sim_state *st = *state;
    json_t *policy = json_pack("{s:{s:s,s:s}}", "properties", "format", "xml", "value",
                               "<policies><inbound><rate-limit calls=\"1\" renewal-period=\"60\" />"
                               "<llm-token-limit counter-key=\"@(context.Request.IpAddress)\" tokens-per-minute=\"1000\" />"
                               "</inbound><backend><forward-request /></backend><outbound /><on-error /></policies>");
    sim_state_put(st, SVC "/policies/policy", policy);
    json_t *snap = sim_traffic_snapshot(st);
    assert_int_equal((int)num(snap, "growth", "limit_tpm"), 200000);
    assert_int_equal((int)num(snap, "growth", "rpm"), 600);
    json_decref(snap);
}

static sim_traffic_stats window(sim_state *st, const char *sub, double from, double to)
{
    sim_traffic_stats s;
    memset(&s, 0, sizeof(s));
    sim_traffic_window(st, sub, "aoai-completions", from, to, &s);
    return s;
}

static void adjacent_windows_add_up(void **state)
{
    double t0 = 1790000000.0; /* a fixed instant: the model depends on time only */
    sim_traffic_stats whole = window(*state, NULL, t0, t0 + 3600);
    int64_t req = 0, thr = 0, hits = 0, tokens = 0;
    for (double t = t0; t < t0 + 3600; t += 137) {
        sim_traffic_stats part = window(*state, NULL, t, t + 137 < t0 + 3600 ? t + 137 : t0 + 3600);
        req += part.requests;
        thr += part.throttled;
        hits += part.hits;
        tokens += part.prompt_tokens + part.completion_tokens;
    }
    assert_int_equal(req, whole.requests);
    assert_int_equal(thr, whole.throttled);
    assert_int_equal(hits, whole.hits);
    assert_int_equal(tokens, whole.prompt_tokens + whole.completion_tokens);
    /* search: 140k demand over a 100k limit, 1000 tokens a request: 140 req/min, 40 of them 429. */
    sim_traffic_stats search = window(*state, "search", t0, t0 + 3600);
    assert_int_equal(search.requests, 8400);
    assert_int_equal(search.throttled, 2400);
    assert_int_equal(window(*state, "prod-critical", t0, t0 + 3600).throttled, 0);
    assert_int_equal(window(*state, "growth", t0, t0 + 3600).throttled, 12 * 50); /* 50 rpm over during 12 burst min/h */
}

static void a_limit_cut_throttles_only_after_it(void **state)
{
    sim_state *st = *state;
    util_error err;
    json_t *freeze = json_pack("{s:b}", "freeze", 1), *hour = json_pack("{s:i}", "advance_s", 3601);
    assert_int_equal(sim_clock_apply(st, freeze, &err), 0); /* the virtual clock: the cut lands at `now` */
    double now = (double)sim_now_ms(st) / 1000.0;
    sim_traffic_before_write(st);
    char *id = util_printf("%s/products/aoai/policies/policy", SVC);
    json_t *props = json_object_get(json_object_get(sim_state_get(st, id), "resource"), "properties");
    const char *xml = json_string_value(json_object_get(props, "value"));
    char *cut = util_strdup(xml), *at = strstr(cut, "tokens-per-minute=\"200000\"");
    assert_non_null(at);
    memcpy(at, "tokens-per-minute=\"020000\"", strlen("tokens-per-minute=\"020000\""));
    json_object_set_new(props, "value", json_string(cut));
    sim_traffic_after_write(st);
    assert_int_equal(json_array_size(st->traffic_history), 2);
    sim_traffic_stats before = window(st, "growth", now - 7200, now - 3600);
    assert_int_equal(window(st, "growth", now + 1, now + 3601).requests, 0); /* no traffic after the clock's now */
    assert_int_equal(sim_clock_apply(st, hour, &err), 0);                   /* an hour later */
    sim_traffic_stats after = window(st, "growth", now + 1, now + 3601);
    assert_true(after.throttled > before.throttled);
    assert_int_equal(after.requests, before.requests); /* demand does not change */
    sim_traffic_after_write(st);                       /* nothing changed: no new snapshot */
    assert_int_equal(json_array_size(st->traffic_history), 2);
    free(cut);
    free(id);
    json_decref(freeze);
    json_decref(hour);
}

/* Replaces `from` by `to` (same length) in the policy at rel (relative to the service), as a write
 * would, and records the snapshot after it. */
static void edit_policy(sim_state *st, const char *rel, const char *from, const char *to)
{
    char *id = util_printf("%s/%s", SVC, rel);
    json_t *props = json_object_get(json_object_get(sim_state_get(st, id), "resource"), "properties");
    char *xml = util_strdup(json_string_value(json_object_get(props, "value"))), *at = strstr(xml, from);
    assert_non_null(at);
    assert_int_equal(strlen(from), strlen(to));
    memcpy(at, to, strlen(to));
    json_object_set_new(props, "value", json_string(xml));
    free(xml);
    free(id);
    sim_traffic_after_write(st);
}

/* With the semantic cache tightened to score-threshold 0.05 (25% hits) the calls reaching
 * eastus-aoai count (700 prompt + 350 max_tokens) x 415.5 req/min = 436K TPM in bursts, under its
 * gpt-4o deployment's 450K. Raising growth's limit to 400k lets its 250k bursts through the gateway:
 * 453 req/min = 476K TPM, and the backend answers the excess 5.4% with 429, in bursts only. */
static void a_raise_past_capacity_gets_backend_429s(void **state)
{
    sim_state *st = *state;
    util_error err;
    json_t *freeze = json_pack("{s:b}", "freeze", 1), *hour = json_pack("{s:i}", "advance_s", 3601);
    assert_int_equal(sim_clock_apply(st, freeze, &err), 0); /* the virtual clock: each edit lands at `now` */
    sim_traffic_before_write(st);
    edit_policy(st, "apis/aoai-completions/policies/policy", "score-threshold=\"0.8\"", "score-threshold=\".05\"");
    double tightened = (double)sim_now_ms(st) / 1000.0;
    assert_int_equal(sim_clock_apply(st, hour, &err), 0); /* an hour with the strict cache */
    sim_traffic_stats strict_cache = window(st, NULL, tightened + 1, tightened + 3601);
    assert_true(strict_cache.requests > 0);
    assert_int_equal(strict_cache.backend_throttled, 0);
    sim_traffic_before_write(st);
    edit_policy(st, "products/aoai/policies/policy", "tokens-per-minute=\"200000\"", "tokens-per-minute=\"400000\"");
    double now = (double)sim_now_ms(st) / 1000.0;
    assert_int_equal(sim_clock_apply(st, hour, &err), 0); /* an hour after the raise */
    sim_traffic_stats before = window(st, NULL, now - 7200, now - 3600);
    sim_traffic_stats after = window(st, NULL, now + 1, now + 3601);
    sim_traffic_stats growth = window(st, "growth", now + 1, now + 3601);
    assert_int_equal(before.backend_throttled, 0);
    assert_true(after.backend_throttled > 200 && after.backend_throttled < 400); /* ~24.5/min in 12 burst min */
    assert_true(growth.backend_throttled > 0);
    assert_int_equal(after.requests, after.allowed + after.throttled);
    assert_true(after.throttled >= after.backend_throttled);
    int64_t refused = 0;
    for (int i = 0; i < after.nbackends; i++)
        refused += after.backend_refused[i];
    assert_int_equal(refused, after.backend_throttled);
    json_decref(freeze);
    json_decref(hour);
}

static void removed_primary_moves_traffic_to_priority_two(void **state)
{
    sim_state *st = *state;
    char *id = util_printf("%s/backends/eastus-aoai", SVC);
    assert_int_equal(sim_state_delete(st, id), 0);
    json_t *snap = sim_traffic_snapshot(st);
    assert_string_equal(json_string_value(json_object_get(json_object_get(snap, "growth"), "backend")),
                        "westeurope-aoai");
    json_decref(snap);
    free(id);
}

/* POST /v1/workspaces/{customerId}/query with a token of audience aud (lock not held: the handler takes it). */
static int query_as(sim_state *st, const char *aud, const char *kql, sim_response *resp)
{
    json_t *q = json_object(), *h = json_object();
    json_t *claims = json_pack("{s:s,s:I,s:s,s:s}", "aud", aud, "exp", (json_int_t)(util_now_ms() / 1000 + 600), "appid",
                               "demo", "uti", "999");
    char *token = sim_jwt_sign_hs256(claims, st->sign_key, sizeof(st->sign_key));
    char *bearer = util_printf("Bearer %s", token);
    json_object_set_new(h, "authorization", json_string(bearer));
    char *body = util_printf("{\"query\": \"%s\", \"timespan\": \"2026-11-25T00:00:00Z/2026-11-25T01:00:00Z\"}", kql);
    char *path = util_printf("/v1/workspaces/%s/query", sim_traffic_customer_id(st));
    sim_request req = {"POST", path, q, h, body, strlen(body), "http://127.0.0.1:1"};
    sim_response_init(resp);
    assert_true(sim_traffic_logs_handle(st, &req, resp));
    json_decref(q);
    json_decref(h);
    json_decref(claims);
    free(token);
    free(bearer);
    free(body);
    free(path);
    return resp->status;
}

static int query(sim_state *st, const char *kql, sim_response *resp)
{
    return query_as(st, "https://api.loganalytics.io/", kql, resp);
}

static void only_the_clients_kql_shapes_are_answered(void **state)
{
    sim_response resp;
    assert_int_equal(query(*state,
                           "ApiManagementGatewayLogs | where ApiId == 'aoai-completions' and isnotempty(BackendId) | "
                           "summarize requests = count(), throttled_backend = countif(BackendResponseCode == 429), "
                           "backend_ms = sum(BackendTime) by BackendId",
                           &resp),
                     200);
    json_t *row = json_array_get(json_object_get(json_array_get(json_object_get(resp.body, "tables"), 0), "rows"), 0);
    assert_string_equal(json_string_value(json_array_get(row, 0)), "eastus-aoai");
    assert_true(json_is_string(json_array_get(row, 1))); /* the v1 schema: every cell a string */
    sim_response_clear(&resp);
    assert_int_equal(query(*state, "ApiManagementGatewayLogs | take 10", &resp), 400);
    assert_string_equal(json_string_value(json_object_get(json_object_get(resp.body, "error"), "code")), "SemanticError");
    sim_response_clear(&resp);
    /* tokens only with Microsoft's filter of split-message rows (DeploymentName != '') */
    const char *tokens = "ApiManagementGatewayLlmLog | join kind=inner (ApiManagementGatewayLogs | where ApiId == "
                         "'aoai-completions' | project CorrelationId, ApimSubscriptionId) on CorrelationId | summarize "
                         "prompt_tokens = sum(PromptTokens), completion_tokens = sum(CompletionTokens), total_tokens = "
                         "sum(TotalTokens) by ApimSubscriptionId";
    assert_int_equal(query(*state, tokens, &resp), 400);
    sim_response_clear(&resp);
    /* an ARM token is refused by the Logs query API */
    assert_int_equal(query_as(*state, "https://management.azure.com/", "ApiManagementGatewayLogs | take 1", &resp), 401);
    assert_string_equal(json_string_value(json_object_get(json_object_get(resp.body, "error"), "code")),
                        "InvalidTokenError");
    sim_response_clear(&resp);
}

/* The ARM-proxied route Microsoft retired on 31 March 2026 is refused; Workspaces_Get gives the
 * customerId and retention the Logs query API needs. */
static void retired_arm_query_route_and_workspace_get(void **state)
{
    sim_state *st = *state;
    json_t *q = json_pack("{s:s}", "api-version", "2017-10-01"), *h = json_object();
    const char *ws = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-aigw-demo/providers/"
                     "Microsoft.OperationalInsights/workspaces/law-aigw-demo";
    char *path = util_printf("%s/api/query", ws);
    sim_request req = {"POST", path, q, h, "{}", 2, "http://127.0.0.1:1"};
    sim_response resp;
    sim_response_init(&resp);
    sim_traffic_external_route(st, &req, &resp);
    assert_int_equal(resp.status, 410);
    sim_response_clear(&resp);
    json_object_set_new(q, "api-version", json_string("2025-07-01"));
    sim_request get = {"GET", ws, q, h, "", 0, "http://127.0.0.1:1"};
    sim_response_init(&resp);
    sim_traffic_external_route(st, &get, &resp);
    assert_int_equal(resp.status, 200);
    json_t *props = json_object_get(resp.body, "properties");
    assert_string_equal(json_string_value(json_object_get(props, "customerId")), sim_traffic_customer_id(st));
    assert_int_equal(json_integer_value(json_object_get(props, "retentionInDays")), 30);
    sim_response_clear(&resp);
    json_decref(q);
    json_decref(h);
    free(path);
}

static void reports_refused_on_v2_tiers(void **state)
{
    sim_state *st = *state;
    json_t *q = json_pack("{s:s,s:s}", "api-version", "2024-05-01", "$filter",
                          "timestamp ge datetime'2026-11-25T00:00:00' and timestamp le datetime'2026-11-25T01:00:00'");
    json_t *h = json_object();
    sim_request req = {"GET", SVC "/reports/bySubscription", q, h, "", 0, "http://127.0.0.1:1"};
    sim_response resp;
    sim_response_init(&resp);
    sim_traffic_service_route(st, &req, "reports/bySubscription", &resp);
    assert_int_equal(resp.status, 200);
    assert_int_equal(json_array_size(json_object_get(resp.body, "value")), 4);
    sim_response_clear(&resp);
    json_t *svc = json_object_get(sim_state_get(st, SVC), "resource");
    json_object_set_new(svc, "sku", json_pack("{s:s,s:i}", "name", "StandardV2", "capacity", 1));
    sim_response_init(&resp);
    sim_traffic_service_route(st, &req, "reports/bySubscription", &resp);
    assert_int_equal(resp.status, 400);
    json_t *e = json_object_get(resp.body, "error");
    assert_string_equal(json_string_value(json_object_get(e, "code")), "MethodNotAllowedInPricingTier");
    assert_string_equal(json_string_value(json_object_get(e, "message")), "Method not allowed in StandardV2 pricing tier");
    sim_response_clear(&resp);
    json_decref(q);
    json_decref(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(snapshot_reads_the_demo_policies, setup, teardown),
        cmocka_unit_test_setup_teardown(shared_pools_and_global_rate_limit_are_not_a_teams_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(adjacent_windows_add_up, setup, teardown),
        cmocka_unit_test_setup_teardown(a_limit_cut_throttles_only_after_it, setup, teardown),
        cmocka_unit_test_setup_teardown(a_raise_past_capacity_gets_backend_429s, setup, teardown),
        cmocka_unit_test_setup_teardown(removed_primary_moves_traffic_to_priority_two, setup, teardown),
        cmocka_unit_test_setup_teardown(only_the_clients_kql_shapes_are_answered, setup, teardown),
        cmocka_unit_test_setup_teardown(reports_refused_on_v2_tiers, setup, teardown),
        cmocka_unit_test_setup_teardown(retired_arm_query_route_and_workspace_get, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
