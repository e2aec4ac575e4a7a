/* test_metrics_split: gateway vs backend 429s (issue 16) — Azure Monitor's Requests split by
 * GatewayResponseCode and BackendResponseCode, Log Analytics rows with throttled_backend, and the
 * merge: both halves add up to throttled where a source splits them, both null (and
 * sources.figures.throttled_split says why) where none does; the text names the dominant cause. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "metrics.h"

/* One Requests series {gateway code, backend code (NULL = dimension absent), total}. */
static json_t *series(const char *g, const char *b, int total)
{
    json_t *meta = json_pack("[{s:{s:s},s:s}]", "name", "value", "GatewayResponseCode", "value", g);
    if (b)
        json_array_append_new(meta, json_pack("{s:{s:s},s:s}", "name", "value", "BackendResponseCode", "value", b));
    return json_pack("{s:o,s:[{s:s,s:i}]}", "metadatavalues", meta, "data", "timeStamp", "2026-11-30T05:00:00Z",
                     "total", total);
}

static json_t *monitor(json_t *timeseries)
{
    return json_pack("{s:[{s:{s:s},s:o}]}", "value", "name", "value", "Requests", "timeseries", timeseries);
}

static void test_monitor_split(void **state)
{
    (void)state;
    json_t *body = monitor(json_pack("[o,o,o,o]", series("200", "200", 70), series("200", "0", 20),
                                     series("429", "0", 6), series("429", "429", 4)));
    json_t *m = metrics_parse_monitor_requests(body);
    assert_int_equal(json_integer_value(json_object_get(m, "requests")), 100);
    assert_int_equal(json_integer_value(json_object_get(m, "throttled")), 10);
    assert_int_equal(json_integer_value(json_object_get(m, "throttled_backend")), 4);
    assert_int_equal(json_integer_value(json_object_get(m, "throttled_gateway")), 6);
    json_decref(body);
    /* series without the backend dimension: the split is unknown */
    body = monitor(json_pack("[o,o]", series("200", NULL, 90), series("429", NULL, 10)));
    json_t *old = metrics_parse_monitor_requests(body);
    assert_true(json_is_null(json_object_get(old, "throttled_gateway")));
    assert_true(json_is_null(json_object_get(old, "throttled_backend")));
    struct metrics_inputs in = {.monitor_requests = old};
    json_t *r = metrics_merge(&in, METRICS_GROUP_NONE);
    assert_true(json_is_null(json_object_get(json_object_get(r, "totals"), "throttled_backend")));
    assert_non_null(strstr(json_string_value(json_object_get(json_object_get(json_object_get(r, "sources"), "figures"),
                                                             "throttled_split")),
                           "carried no BackendResponseCode"));
    json_decref(r);
    json_decref(old);
    json_decref(body);
    /* merged with Log Analytics rows: totals from Monitor, rows from Log Analytics, each adding up */
    json_t *la = json_pack("[{s:s,s:i,s:i,s:i,s:i,s:i,s:i,s:i},{s:s,s:i,s:i,s:i,s:i,s:i,s:i,s:i}]",
                           "ApimSubscriptionId", "growth", "requests", 60, "throttled", 7, "throttled_backend", 4,
                           "blocked", 0, "failed", 0, "cache_hits", 10, "cache_misses", 43,
                           "ApimSubscriptionId", "search", "requests", 40, "throttled", 3, "throttled_backend", 0,
                           "blocked", 0, "failed", 0, "cache_hits", 10, "cache_misses", 27);
    struct metrics_inputs both = {.monitor_requests = m, .la_subscriptions = la};
    r = metrics_merge(&both, METRICS_GROUP_SUBSCRIPTION);
    json_t *t = json_object_get(r, "totals");
    assert_int_equal(json_integer_value(json_object_get(t, "throttled_gateway")), 6);
    assert_int_equal(json_integer_value(json_object_get(t, "throttled_backend")), 4);
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(r, "by_subscription"), i, row)
        assert_int_equal(json_integer_value(json_object_get(row, "throttled_gateway")) +
                             json_integer_value(json_object_get(row, "throttled_backend")),
                         json_integer_value(json_object_get(row, "throttled")));
    json_object_set_new(r, "api_id", json_string("aoai-completions"));
    json_object_set_new(r, "since", json_string("a"));
    json_object_set_new(r, "until", json_string("b"));
    char *text = metrics_text(r);
    assert_non_null(strstr(text, "429s: 6 by the gateway's own limits, 4 by Azure OpenAI (deployment capacity); "
                                 "Azure OpenAI's capacity dominates for growth: raising a limit will not help"));
    assert_non_null(strstr(text, "the gateway's limits dominate for search"));
    free(text);
    json_decref(r);
    json_decref(la);
    json_decref(m);
}

static void test_reports_cannot_split(void **state)
{
    (void)state;
    json_t *reports = json_pack("{s:{s:i,s:i,s:i,s:i,s:n,s:i,s:i}}", "growth", "requests", 10, "successful", 8,
                                "blocked", 2, "failed", 0, "throttled", "cache_hits", 0, "cache_misses", 0);
    struct metrics_inputs in = {.reports = reports};
    json_t *r = metrics_merge(&in, METRICS_GROUP_SUBSCRIPTION);
    json_t *t = json_object_get(r, "totals");
    assert_true(json_is_null(json_object_get(t, "throttled_gateway")));
    assert_true(json_is_null(json_object_get(t, "throttled_backend")));
    assert_true(json_is_null(json_object_get(json_array_get(json_object_get(r, "by_subscription"), 0), "throttled_backend")));
    assert_non_null(strstr(json_string_value(json_object_get(json_object_get(json_object_get(r, "sources"), "figures"),
                                                             "throttled_split")),
                           "none: the reports API counts 401, 403 and 429 together"));
    json_decref(r);
    json_decref(reports);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_monitor_split),
        cmocka_unit_test(test_reports_cannot_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
