/* test_metrics_minutes: the per-minute rows simulate_quota reads (a Logs query API answer with the
 * v1 schema's string cells) and the replay against a proposed limit, counted per minute. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

/* A v1 answer: ApimSubscriptionId, TimeGenerated, requests, throttled, token_requests, tokens. */
static json_t *answer(const char *rows_json)
{
    json_t *rows = json_loads(rows_json, 0, NULL);
    assert_non_null(rows);
    return json_pack("{s:[{s:s,s:[{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s}],s:o}]}", "tables",
                     "name", "PrimaryResult", "columns", "name", "ApimSubscriptionId", "type", "string", "name",
                     "TimeGenerated", "type", "datetime", "name", "requests", "type", "long", "name", "throttled",
                     "type", "long", "name", "token_requests", "type", "long", "name", "tokens", "type", "long", "rows",
                     rows);
}

static json_t *growth_rows(void)
{
    json_t *a = answer("[[\"growth\",\"2026-11-30T01:00:00Z\",\"180\",\"0\",\"180\",\"180000\"],"
                       "[\"growth\",\"2026-11-30T01:01:00.0000000Z\",\"250\",\"50\",\"200\",\"200000\"],"
                       "[\"search\",\"2026-11-30T01:00:00Z\",\"140\",\"40\",\"100\",\"100000\"],"
                       "[\"growth\",\"not a time\",\"1\",\"0\",\"1\",\"1000\"],"
                       "[\"growth\",\"2026-11-30T01:02:00Z\",\"100\",\"0\",\"50\",\"50000\"]]");
    json_t *rows = metrics_parse_minutes(a);
    json_decref(a);
    assert_non_null(rows);
    return rows;
}

static void parses_rows_and_drops_bad_times(void **state)
{
    (void)state;
    json_t *rows = growth_rows();
    assert_int_equal(json_array_size(rows), 4);
    json_t *second = json_array_get(rows, 1);
    assert_string_equal(json_string_value(json_object_get(second, "sub")), "growth");
    int64_t t;
    assert_int_equal(util_time_parse_iso8601("2026-11-30T01:01:00Z", &t), 0);
    assert_int_equal(json_integer_value(json_object_get(second, "t")), t); /* fractions of a second accepted */
    assert_int_equal(json_integer_value(json_object_get(second, "requests")), 250);
    assert_int_equal(json_integer_value(json_object_get(second, "tokens")), 200000);
    assert_null(metrics_parse_minutes(NULL));
    json_decref(rows);
}

static int64_t get(json_t *o, const char *k) { return (int64_t)json_integer_value(json_object_get(o, k)); }

static void replays_per_minute_against_tpm(void **state)
{
    (void)state;
    json_t *rows = growth_rows();
    /* 1000 tokens a request in every minute (the third: 50 logged requests of 100, e.g. cache hits):
     * demand 180k, 250k, 100k; at 100k TPM 100 requests a minute pass: 80 + 150 + 0 refused */
    json_t *r = metrics_replay(rows, "growth", 100000, 0, 2);
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
    /* a limit above every minute refuses nothing */
    r = metrics_replay(rows, "growth", 300000, 0, 3);
    assert_int_equal(get(r, "requests_refused"), 0);
    assert_int_equal(get(r, "minutes_over"), 0);
    json_decref(r);
    json_decref(rows);
}

static void replays_rpm_and_both(void **state)
{
    (void)state;
    json_t *rows = growth_rows();
    json_t *r = metrics_replay(rows, "growth", 0, 120, 3); /* 60 + 130 + 0 */
    assert_int_equal(get(r, "requests_refused"), 190);
    json_decref(r);
    r = metrics_replay(rows, "growth", 200000, 120, 3); /* the stricter of the two, each minute: 60, 130, 0 */
    assert_int_equal(get(r, "requests_refused"), 190);
    json_decref(r);
    r = metrics_replay(rows, "search", 0, 100, 3);
    assert_int_equal(get(r, "requests_refused"), 40);
    json_decref(r);
    json_decref(rows);
}

static void nothing_observed(void **state)
{
    (void)state;
    json_t *rows = growth_rows();
    json_t *r = metrics_replay(rows, "prod-critical", 1000, 0, 3);
    assert_int_equal(get(r, "minutes_observed"), 0);
    assert_int_equal(get(r, "requests_refused"), 0);
    assert_int_equal(json_array_size(json_object_get(r, "worst_minutes")), 0);
    json_decref(r);
    /* requests but no token rows: nothing can be counted in tokens (token_requests 0 tells the tool) */
    json_t *a = answer("[[\"x\",\"2026-11-30T01:00:00Z\",\"10\",\"0\",\"0\",\"0\"]]");
    json_t *none = metrics_parse_minutes(a);
    r = metrics_replay(none, "x", 1, 0, 3);
    assert_int_equal(get(r, "token_requests"), 0);
    assert_int_equal(get(r, "requests_refused"), 0);
    json_decref(r);
    json_decref(none);
    json_decref(a);
    json_decref(rows);
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
    snprintf(la.customer_id, sizeof(la.customer_id), "4a5e8e0c-1d2b-4c3f-9e8a-6b7c8d9e0f1a");
    m = metrics_minutes_missing(&la, true);
    assert_non_null(strstr(json_string_value(json_object_get(m, "reason")), "GatewayLlmLogs"));
    json_decref(m);
    assert_null(metrics_minutes_missing(&la, false)); /* rpm alone needs no tokens */
    la.llm_logs = true;
    assert_null(metrics_minutes_missing(&la, true));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_rows_and_drops_bad_times), cmocka_unit_test(replays_per_minute_against_tpm),
        cmocka_unit_test(replays_rpm_and_both),            cmocka_unit_test(nothing_observed),
        cmocka_unit_test(says_what_is_missing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
