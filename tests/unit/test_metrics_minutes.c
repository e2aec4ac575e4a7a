/* test_metrics_minutes: the per-minute rows simulate_quota reads (a Logs query API answer with the
 * v1 schema's string cells) and the replay against a proposed limit, counted per minute. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arm.h"
#include "metrics.h"

/* A v1 answer: ApimSubscriptionId, and the dynamic cell "minutes" as its JSON text. */
static json_t *answer(const char *rows_json)
{
    json_t *rows = json_loads(rows_json, 0, NULL);
    assert_non_null(rows);
    return json_pack("{s:[{s:s,s:[{s:s,s:s},{s:s,s:s}],s:o}]}", "tables", "name", "PrimaryResult", "columns", "name",
                     "ApimSubscriptionId", "type", "string", "name", "minutes", "type", "dynamic", "rows", rows);
}

#define M0 29933340LL /* 2026-11-30T01:00:00Z in minutes since the epoch */

static struct metrics_team *teams_of(size_t *n)
{
    /* growth: 1000 tokens a request each minute (the third: 50 logged requests of 100, e.g. cache hits) */
    json_t *a = answer("[[\"growth\", \"[[29933340,180,180,180000],[29933341,250,200,200000],[29933342,100,50,50000]]\"],"
                       "[\"search\", [[29933340,140,100,100000]]]]");
    struct metrics_team *t = metrics_parse_minutes(a, n);
    json_decref(a);
    assert_non_null(t);
    assert_int_equal(*n, 2);
    return t;
}

static void parses_the_packed_lists(void **state)
{
    (void)state;
    size_t n;
    struct metrics_team *t = teams_of(&n);
    assert_string_equal(t[0].sub, "growth");
    assert_int_equal(t[0].n, 3);
    int64_t at;
    assert_int_equal(util_time_parse_iso8601("2026-11-30T01:01:00Z", &at), 0);
    assert_int_equal(t[0].m[1].t, at);
    assert_int_equal(t[0].m[1].requests, 250);
    assert_int_equal(t[0].m[1].token_requests, 200);
    assert_int_equal(t[0].m[1].tokens, 200000);
    assert_string_equal(t[1].sub, "search"); /* a cell given as an array is read as well */
    assert_int_equal(t[1].m[0].requests, 140);
    metrics_teams_free(t, n);
    /* shapes that are not the documented one */
    const char *bad[] = {"[[\"x\", \"[[1,2,3]]\"]]", "[[\"x\", \"[[1,2,3,4,5]]\"]]", "[[\"x\", \"[[1,2,3,x]]\"]]",
                         "[[\"x\", \"[[[1,2,3,4]]]\"]]", "[[\"x\", \"[[1,-2,3,4]]\"]]", "[[null, \"[]\"]]",
                         "[[\"x\", \"[[9223372036854775807,1,1,1]]\"]]", "[[\"x\", \"[[1,2,3,4]\"]]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *a = answer(bad[i]);
        assert_null(metrics_parse_minutes(a, &n));
        json_decref(a);
    }
    assert_null(metrics_parse_minutes(NULL, &n));
}

static int64_t get(json_t *o, const char *k) { return (int64_t)json_integer_value(json_object_get(o, k)); }

static void replays_per_minute_against_tpm(void **state)
{
    (void)state;
    size_t n;
    struct metrics_team *t = teams_of(&n);
    /* demand 180k, 250k, 100k; at 100k TPM 100 requests a minute pass: 80 + 150 + 0 refused */
    json_t *r = metrics_replay(t[0].m, t[0].n, 100000, 0, 2);
    assert_int_equal(get(r, "minutes_observed"), 3);
    assert_int_equal(get(r, "requests"), 530);
    assert_int_equal(get(r, "minutes_over"), 2);
    assert_int_equal(get(r, "requests_refused"), 230);
    assert_int_equal(get(r, "tokens_refused"), 230000);
    assert_true(json_real_value(json_object_get(r, "share_refused")) == 0.434); /* 230 / 530, 4 decimals */
    assert_int_equal(get(r, "peak_tpm"), 250000);
    assert_int_equal(get(r, "p50_tpm"), 180000); /* nearest rank of 3: the 2nd */
    assert_int_equal(get(r, "p95_tpm"), 250000);
    json_t *w = json_object_get(r, "worst_minutes");
    assert_int_equal(json_array_size(w), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(w, 0), "at")), "2026-11-30T01:01:00Z");
    assert_int_equal(get(json_array_get(w, 0), "tokens"), 250000);
    json_decref(r);
    r = metrics_replay(t[0].m, t[0].n, 300000, 0, 3); /* above every minute: nothing refused */
    assert_int_equal(get(r, "requests_refused"), 0);
    assert_int_equal(get(r, "minutes_over"), 0);
    json_decref(r);
    metrics_teams_free(t, n);
}

static void replays_rpm_and_both(void **state)
{
    (void)state;
    size_t n;
    struct metrics_team *t = teams_of(&n);
    json_t *r = metrics_replay(t[0].m, t[0].n, 0, 120, 3); /* 60 + 130 + 0 */
    assert_int_equal(get(r, "requests_refused"), 190);
    json_decref(r);
    r = metrics_replay(t[0].m, t[0].n, 200000, 120, 3); /* the stricter of the two, each minute */
    assert_int_equal(get(r, "requests_refused"), 190);
    json_decref(r);
    r = metrics_replay(t[1].m, t[1].n, 0, 100, 3);
    assert_int_equal(get(r, "requests_refused"), 40);
    json_decref(r);
    metrics_teams_free(t, n);
}

static void nothing_observed(void **state)
{
    (void)state;
    json_t *r = metrics_replay(NULL, 0, 1000, 0, 3);
    assert_int_equal(get(r, "minutes_observed"), 0);
    assert_int_equal(get(r, "requests_refused"), 0);
    assert_int_equal(json_array_size(json_object_get(r, "worst_minutes")), 0);
    json_decref(r);
    /* requests but no token rows: nothing can be counted in tokens (token_requests 0 tells the tool) */
    struct metrics_minute m = {M0 * 60, 10, 0, 0};
    r = metrics_replay(&m, 1, 1, 0, 3);
    assert_int_equal(get(r, "token_requests"), 0);
    assert_int_equal(get(r, "requests_refused"), 0);
    json_decref(r);
}

static void says_what_is_missing(void **state)
{
    (void)state;
    struct metrics_la la = {0};
    json_t *m = metrics_minutes_missing(&la, true);
    assert_non_null(strstr(json_string_value(json_object_get(m, "reason")), "no gateway logs"));
    assert_non_null(strstr(json_string_value(json_object_get(m, "enable")), "GatewayLlmLogs"));
    json_decref(m);
    la.workspace = "/subscriptions/x/resourceGroups/y/providers/Microsoft.OperationalInsights/workspaces/w";
    m = metrics_minutes_missing(&la, true);
    assert_non_null(strstr(json_string_value(json_object_get(m, "reason")), "AzureDiagnostics"));
    json_decref(m);
    la.dedicated = true;
    snprintf(la.setting, sizeof(la.setting), "diag");
    m = metrics_minutes_missing(&la, false); /* a resource-specific setting without GatewayLogs */
    assert_non_null(strstr(json_string_value(json_object_get(m, "reason")), "not the GatewayLogs category"));
    assert_string_equal(json_string_value(json_object_get(m, "enable")), "the GatewayLogs categories in diagnostic "
                        "setting diag (update_quota mode \"shadow\" does it)");
    json_decref(m);
    la.gateway_logs = true;
    m = metrics_minutes_missing(&la, true);
    assert_non_null(strstr(json_string_value(json_object_get(m, "reason")), "GatewayLlmLogs"));
    json_decref(m);
    assert_null(metrics_minutes_missing(&la, false)); /* rpm alone needs no tokens */
    la.llm_logs = true;
    assert_null(metrics_minutes_missing(&la, true));
}

/* The diagnostic settings: the resource-specific setting sending GatewayLogs is chosen, with its item
 * (the body shadow mode edits). */
static void reads_the_diagnostic_settings(void **state)
{
    (void)state;
    json_t *list = json_loads("{\"value\":[{\"name\":\"to-storage\",\"properties\":{\"storageAccountId\":\"/s\","
                              "\"logs\":[{\"category\":\"GatewayLogs\",\"enabled\":true}]}},"
                              "{\"name\":\"old\",\"properties\":{\"workspaceId\":\"/w1\",\"logs\":[{\"categoryGroup\":"
                              "\"allLogs\",\"enabled\":true}]}},"
                              "{\"name\":\"ded\",\"properties\":{\"workspaceId\":\"/w2\",\"logAnalyticsDestinationType\":"
                              "\"Dedicated\",\"logs\":[{\"category\":\"GatewayLogs\",\"enabled\":true},{\"category\":"
                              "\"GatewayLlmLogs\",\"enabled\":false}]}}]}", 0, NULL);
    assert_non_null(list);
    struct metrics_la la;
    metrics_la_read(list, &la);
    assert_string_equal(la.workspace, "/w2");
    assert_string_equal(la.setting, "ded");
    assert_true(la.dedicated);
    assert_true(la.gateway_logs);
    assert_false(la.llm_logs);
    assert_ptr_equal(la.item, json_array_get(json_object_get(list, "value"), 2));
    json_t *m = metrics_minutes_missing(&la, true);
    assert_non_null(strstr(json_string_value(json_object_get(m, "reason")), "GatewayLlmLogs"));
    json_decref(m);
    metrics_la_free(&la);
    json_decref(list);
    /* no setting writes GatewayLogs to resource-specific tables: a resource-specific one without them is
     * chosen (shadow mode can complete it) over one writing AzureDiagnostics */
    list = json_loads("{\"value\":[{\"name\":\"old\",\"properties\":{\"workspaceId\":\"/w1\",\"logs\":[{"
                      "\"category\":\"GatewayLogs\",\"enabled\":true}]}},{\"name\":\"bare\",\"properties\":{"
                      "\"workspaceId\":\"/w2\",\"logAnalyticsDestinationType\":\"Dedicated\",\"logs\":[]}}]}", 0, NULL);
    metrics_la_read(list, &la);
    assert_string_equal(la.setting, "bare");
    assert_true(la.dedicated);
    assert_false(la.gateway_logs);
    metrics_la_free(&la);
    json_decref(list);
    metrics_la_read(NULL, &la); /* nothing read: no workspace */
    assert_null(la.workspace);
    assert_null(la.item);
    metrics_la_free(&la);
}

/* The query is resource-centric: POST {service id}/query on the Logs query API, one KQL for all ids. */
static void builds_one_resource_centric_query(void **state)
{
    (void)state;
    const char *ids[] = {"growth", "search"};
    struct arm_request req;
    util_error err = {0};
    const char *svc = "/subscriptions/s/resourceGroups/g/providers/Microsoft.ApiManagement/service/x";
    assert_int_equal(metrics_minutes_request(svc, ids, 2, 1764460800, 1764547200, &req, &err), 0);
    assert_string_equal(req.method, "POST");
    assert_int_equal(req.api, ARM_API_LOGS_QUERY);
    assert_string_equal(req.path, "/subscriptions/s/resourceGroups/g/providers/Microsoft.ApiManagement/service/x/query");
    const char *q = json_string_value(json_object_get(req.body, "query"));
    assert_non_null(strstr(q, "where ApimSubscriptionId in ('growth','search') |"));
    assert_string_equal(json_string_value(json_object_get(req.body, "timespan")), "2025-11-30T00:00:00Z/2025-12-01T00:00:00Z");
    metrics_minutes_request_free(&req);
    const char *bad[] = {"a'b"};
    assert_int_equal(metrics_minutes_request(svc, bad, 1, 0, 60, &req, &err), UTIL_EINVAL);
    assert_null(req.path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_the_packed_lists),         cmocka_unit_test(replays_per_minute_against_tpm),
        cmocka_unit_test(replays_rpm_and_both),            cmocka_unit_test(nothing_observed),
        cmocka_unit_test(says_what_is_missing),            cmocka_unit_test(reads_the_diagnostic_settings),
        cmocka_unit_test(builds_one_resource_centric_query),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
