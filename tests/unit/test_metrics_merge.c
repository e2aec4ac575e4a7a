/* test_metrics_merge: parsing each source's answer (shapes of Microsoft's Metrics_List and
 * Reports_ListBySubscription examples, and of a Log Analytics query answer), merging them by the
 * rules of issue 8 (Monitor totals; Log Analytics teams, else reports' rows labelled all-API with
 * "blocked" = callCountBlocked and "throttled" unknown — issue 13 item 8; durations weighted by the
 * Requests bins, never by a Count — item 9; Logs query cells given as strings — item 6), and the
 * size of the text report for 50 subscriptions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

static json_t *load(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fail_msg("fixture: %s", e.text);
    return j;
}

static const char monitor_requests[] =
    "{\"cost\":0,\"timespan\":\"2026-11-25T00:00:00Z/2026-11-25T02:00:00Z\",\"interval\":\"PT1H\",\"value\":[{"
    "\"id\":\"/x/providers/Microsoft.Insights/metrics/Requests\",\"type\":\"Microsoft.Insights/metrics\","
    "\"name\":{\"value\":\"Requests\",\"localizedValue\":\"Requests\"},\"unit\":\"Count\",\"timeseries\":["
    "{\"metadatavalues\":[{\"name\":{\"value\":\"GatewayResponseCode\"},\"value\":\"200\"}],\"data\":["
    "{\"timeStamp\":\"2026-11-25T00:00:00Z\",\"total\":100.0},{\"timeStamp\":\"2026-11-25T01:00:00Z\",\"total\":90.0}]},"
    "{\"metadatavalues\":[{\"name\":{\"value\":\"GatewayResponseCode\"},\"value\":\"429\"}],\"data\":["
    "{\"timeStamp\":\"2026-11-25T00:00:00Z\",\"total\":5.0},{\"timeStamp\":\"2026-11-25T01:00:00Z\",\"total\":15.0}]},"
    "{\"metadatavalues\":[{\"name\":{\"value\":\"GatewayResponseCode\"},\"value\":\"503\"}],\"data\":["
    "{\"timeStamp\":\"2026-11-25T01:00:00Z\",\"total\":2.0}]},"
    "{\"metadatavalues\":[{\"name\":{\"value\":\"GatewayResponseCode\"},\"value\":\"401\"}],\"data\":["
    "{\"timeStamp\":\"2026-11-25T01:00:00Z\",\"total\":1.0}]}],\"errorCode\":\"Success\"}]}";

static const char monitor_durations[] =
    "{\"value\":[{\"name\":{\"value\":\"Duration\"},\"timeseries\":[{\"metadatavalues\":[],\"data\":["
    "{\"timeStamp\":\"a\",\"average\":100.0,\"count\":10.0},{\"timeStamp\":\"b\",\"average\":400.0,\"count\":30.0},"
    "{\"timeStamp\":\"c\",\"count\":0.0}]}]},"
    "{\"name\":{\"value\":\"BackendDuration\"},\"timeseries\":[{\"metadatavalues\":[],\"data\":["
    "{\"timeStamp\":\"a\",\"average\":800.0,\"count\":5.0}]}]}]}";

static const char reports[] =
    "{\"value\":[{\"name\":\"\",\"userId\":\"/users/1\",\"productId\":\"/products/aoai\",\"subscriptionId\":"
    "\"/subscriptions/growth\",\"callCountSuccess\":13,\"callCountBlocked\":1,\"callCountFailed\":0,\"callCountOther\":0,"
    "\"callCountTotal\":14,\"bandwidth\":11019,\"cacheHitCount\":3,\"cacheMissCount\":10,\"apiTimeAvg\":1015.76,"
    "\"serviceTimeAvg\":957.09},{\"subscriptionId\":\"/subscriptions/idle\",\"callCountTotal\":0},"
    "{\"subscriptionId\":\"/subscriptions/search\",\"callCountSuccess\":5,\"callCountBlocked\":7,\"callCountTotal\":12,"
    "\"cacheHitCount\":0,\"cacheMissCount\":0,\"apiTimeAvg\":10,\"serviceTimeAvg\":0}],\"count\":3,\"nextLink\":\"\"}";

static const char la_subs[] =
    "{\"tables\":[{\"name\":\"PrimaryResult\",\"columns\":[{\"name\":\"ApimSubscriptionId\",\"type\":\"string\"},"
    "{\"name\":\"requests\",\"type\":\"long\"},{\"name\":\"throttled\",\"type\":\"long\"},{\"name\":\"blocked\","
    "\"type\":\"long\"},{\"name\":\"failed\",\"type\":\"long\"},{\"name\":\"cache_hits\",\"type\":\"long\"},"
    "{\"name\":\"cache_misses\",\"type\":\"long\"},{\"name\":\"backend_calls\",\"type\":\"long\"},{\"name\":\"total_ms\","
    "\"type\":\"long\"},{\"name\":\"backend_ms\",\"type\":\"long\"}],\"rows\":["
    "[\"growth\",100,5,1,2,30,62,62,40000,49600],[\"search\",113,15,0,0,0,0,98,1000,1000]]}]}";

static const char la_tokens[] =
    "{\"tables\":[{\"name\":\"PrimaryResult\",\"columns\":[{\"name\":\"ApimSubscriptionId\",\"type\":\"string\"},"
    "{\"name\":\"prompt_tokens\",\"type\":\"long\"},{\"name\":\"completion_tokens\",\"type\":\"long\"},"
    "{\"name\":\"total_tokens\",\"type\":\"long\"}],\"rows\":[[\"growth\",700,300,1000]]}]}";

static const char token_metrics[] =
    "{\"cost\":0,\"timespan\":\"a/b\",\"interval\":\"PT1H\",\"namespace\":\"openai\",\"value\":["
    "{\"name\":{\"value\":\"Prompt Tokens\"},\"timeseries\":[{\"metadatavalues\":[{\"name\":{\"value\":"
    "\"Subscription ID\"},\"value\":\"growth\"}],\"data\":[{\"timeStamp\":\"t1\",\"total\":700.0},"
    "{\"timeStamp\":\"t2\",\"total\":70.0}]}]},"
    "{\"name\":{\"value\":\"Total Tokens\"},\"timeseries\":[{\"metadatavalues\":[{\"name\":{\"value\":"
    "\"Subscription ID\"},\"value\":\"growth\"}],\"data\":[{\"timeStamp\":\"t1\",\"total\":1000.0},"
    "{\"timeStamp\":\"t2\",\"total\":100.0}]},{\"metadatavalues\":[{\"name\":{\"value\":\"Subscription ID\"},"
    "\"value\":\"search\"}],\"data\":[{\"timeStamp\":\"t1\",\"total\":5.0}]}]}]}";

static json_int_t geti(json_t *o, const char *k) { return json_integer_value(json_object_get(o, k)); }

static void parses_monitor(void **state)
{
    (void)state;
    json_t *b = load(monitor_requests), *r = metrics_parse_monitor_requests(b);
    assert_int_equal(geti(r, "requests"), 213);
    assert_int_equal(geti(r, "successful"), 190);
    assert_int_equal(geti(r, "throttled"), 20);
    assert_int_equal(geti(r, "failed"), 2);
    assert_int_equal(geti(r, "blocked"), 1);
    json_t *series = json_object_get(r, "series");
    assert_int_equal(json_array_size(series), 2);
    assert_int_equal(geti(json_array_get(series, 1), "requests"), 108);
    assert_int_equal(geti(json_array_get(series, 1), "throttled"), 15);
    json_decref(r);
    json_decref(b);
    b = load(monitor_durations);
    r = metrics_parse_monitor_durations(b, NULL);
    assert_int_equal(geti(r, "avg_latency_ms"), 250); /* no Requests bins: each bin counts once, a Count is ignored */
    assert_int_equal(geti(r, "avg_backend_latency_ms"), 800);
    json_decref(r);
    json_t *bins = json_pack("[{s:s,s:i},{s:s,s:i}]", "t", "a", "requests", 30, "t", "b", "requests", 10);
    r = metrics_parse_monitor_durations(b, bins);
    assert_int_equal(geti(r, "avg_latency_ms"), 175); /* weighted by Requests (30, 10), not by the Count (10, 30) */
    json_decref(r);
    json_decref(bins);
    json_decref(b);
    /* Without Count (Azure lists Average/Min/Max for durations): weighted by the Requests bins. */
    b = load("{\"value\":[{\"name\":{\"value\":\"Duration\"},\"timeseries\":[{\"data\":["
             "{\"timeStamp\":\"a\",\"average\":100.0},{\"timeStamp\":\"b\",\"average\":400.0}]}]}]}");
    json_t *weights = json_pack("[{s:s,s:i},{s:s,s:i}]", "t", "a", "requests", 30, "t", "b", "requests", 10);
    r = metrics_parse_monitor_durations(b, weights);
    assert_int_equal(geti(r, "avg_latency_ms"), 175); /* (100*30 + 400*10) / 40 */
    assert_true(json_is_null(json_object_get(r, "avg_backend_latency_ms")));
    json_decref(r);
    json_decref(weights);
    json_decref(b);
    b = load("{\"value\":[]}");
    assert_null(metrics_parse_monitor_requests(b));
    json_decref(b);
}

static void parses_token_metrics(void **state)
{
    (void)state;
    json_t *b = load(token_metrics), *rows = metrics_parse_token_metrics(b);
    assert_int_equal(json_array_size(rows), 2);
    json_t *g = json_array_get(rows, 0), *s = json_array_get(rows, 1);
    assert_string_equal(json_string_value(json_object_get(g, "ApimSubscriptionId")), "growth");
    assert_int_equal(geti(g, "prompt_tokens"), 770);
    assert_int_equal(geti(g, "completion_tokens"), 0); /* not asked for: zero */
    assert_int_equal(geti(g, "total_tokens"), 1100);
    assert_int_equal(geti(s, "total_tokens"), 5);
    json_decref(rows);
    json_decref(b);
}

static void merges_with_log_analytics(void **state)
{
    (void)state;
    json_t *b1 = load(monitor_requests), *b2 = load(monitor_durations), *b3 = load(reports), *b4 = load(la_subs),
           *b5 = load(la_tokens);
    struct metrics_inputs in = {metrics_parse_monitor_requests(b1), metrics_parse_monitor_durations(b2, NULL),
                                metrics_parse_reports(b3), NULL, metrics_parse_la(b4), NULL, metrics_parse_la(b5),
                                "Log Analytics (ApiManagementGatewayLlmLog)", NULL, NULL};
    json_t *r = metrics_merge(&in, METRICS_GROUP_TIME);
    json_t *t = json_object_get(r, "totals");
    assert_int_equal(geti(t, "requests"), 213); /* service-wide: Monitor */
    assert_int_equal(geti(t, "throttled"), 20);
    assert_int_equal(geti(t, "cache_hits"), 30); /* Log Analytics, not reports */
    assert_int_equal(geti(t, "cache_misses"), 62);
    assert_true(json_real_value(json_object_get(t, "cache_hit_rate")) > 0.326 &&
                json_real_value(json_object_get(t, "cache_hit_rate")) < 0.327);
    assert_int_equal(geti(json_object_get(t, "tokens"), "total"), 1000);
    json_t *rows = json_object_get(r, "by_subscription");
    assert_int_equal(json_array_size(rows), 2);
    json_t *first = json_array_get(rows, 0), *second = json_array_get(rows, 1);
    assert_string_equal(json_string_value(json_object_get(first, "subscription_id")), "search"); /* most 429s */
    assert_int_equal(geti(second, "successful"), 92);
    assert_int_equal(geti(second, "avg_latency_ms"), 400);
    assert_int_equal(geti(second, "avg_backend_latency_ms"), 800);
    assert_int_equal(geti(json_object_get(first, "tokens"), "total"), 0); /* no LLM log rows: zero, not unknown */
    assert_int_equal(json_array_size(json_object_get(r, "series")), 2);
    json_t *figures = json_object_get(json_object_get(r, "sources"), "figures");
    assert_non_null(strstr(json_string_value(json_object_get(figures, "by_subscription")), "Log Analytics"));
    assert_non_null(strstr(json_string_value(json_object_get(figures, "totals")), "Azure Monitor"));
    json_decref(r);
    /* Log Analytics failed: reports' rows (all APIs), blocked = callCountBlocked, 429s unknown, no tokens. */
    json_t *la = in.la_subscriptions, *tok = in.tokens;
    in.la_subscriptions = NULL; /* the workspace refused every query */
    in.tokens = NULL;
    r = metrics_merge(&in, METRICS_GROUP_SUBSCRIPTION);
    rows = json_object_get(r, "by_subscription");
    assert_int_equal(json_array_size(rows), 2); /* the idle subscription is left out */
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "subscription_id")), "search");
    assert_int_equal(geti(json_array_get(rows, 0), "blocked"), 7); /* most blocked first */
    assert_true(json_is_null(json_object_get(json_array_get(rows, 0), "throttled")));
    assert_true(json_is_null(json_object_get(json_object_get(r, "totals"), "tokens")));
    assert_null(json_object_get(r, "series"));
    figures = json_object_get(json_object_get(r, "sources"), "figures");
    assert_non_null(strstr(json_string_value(json_object_get(figures, "by_subscription")), "all APIs of the service"));
    assert_non_null(strstr(json_string_value(json_object_get(figures, "by_subscription")), "blocked = 401, 403 and 429"));
    json_decref(r);
    /* Monitor failed too: totals are the sum of the rows, and say so. */
    json_t *mon = in.monitor_requests;
    in.monitor_requests = NULL;
    r = metrics_merge(&in, METRICS_GROUP_NONE);
    assert_int_equal(geti(json_object_get(r, "totals"), "requests"), 26);
    assert_int_equal(geti(json_object_get(r, "totals"), "blocked"), 8);
    assert_true(json_is_null(json_object_get(json_object_get(r, "totals"), "throttled")));
    assert_int_equal(json_array_size(json_object_get(r, "by_subscription")), 0);
    assert_non_null(strstr(json_string_value(json_object_get(
                               json_object_get(json_object_get(r, "sources"), "figures"), "totals")),
                           "reports API's per-subscription rows: all APIs"));
    json_decref(r);
    /* ... and a series then comes from the reports API's byTime, labelled. */
    json_t *bt = load("{\"value\":[{\"timestamp\":\"2026-11-25T00:00:00Z\",\"interval\":\"PT1H\",\"callCountTotal\":9,"
                      "\"callCountBlocked\":2},{\"timestamp\":\"2026-11-25T01:00:00Z\",\"callCountTotal\":4}]}");
    in.reports_series = metrics_parse_reports_series(bt);
    r = metrics_merge(&in, METRICS_GROUP_TIME);
    json_t *points = json_object_get(r, "series");
    assert_int_equal(json_array_size(points), 2);
    assert_int_equal(geti(json_array_get(points, 0), "blocked"), 2);
    assert_true(json_is_null(json_object_get(json_array_get(points, 0), "throttled")));
    assert_int_equal(geti(json_array_get(points, 1), "requests"), 4);
    assert_non_null(strstr(json_string_value(json_object_get(
                               json_object_get(json_object_get(r, "sources"), "figures"), "series")),
                           "byTime (blocked = 401, 403 and 429 together; throttled unknown)"));
    char *text = metrics_text(r);
    assert_non_null(strstr(text, "2026-11-25T00:00 9/-")); /* the 429 column is unknown, not 0 */
    free(text);
    json_decref(r);
    json_decref(in.reports_series);
    json_decref(bt);
    json_decref(mon);
    json_decref(la);
    json_decref(in.monitor_durations);
    json_decref(in.reports);
    json_decref(tok);
    json_t *all[] = {b1, b2, b3, b4, b5};
    for (int i = 0; i < 5; i++)
        json_decref(all[i]);
}

/* The Logs query API v1 schema types every cell as a string: numeric columns become numbers. */
static void parses_la_string_cells(void **state)
{
    (void)state;
    json_t *b = load("{\"tables\":[{\"name\":\"PrimaryResult\",\"columns\":[{\"name\":\"ApimSubscriptionId\","
                     "\"type\":\"string\"},{\"name\":\"requests\",\"type\":\"long\"},{\"name\":\"backend_ms\","
                     "\"type\":\"real\"}],\"rows\":[[\"growth\",\"100\",\"2.6\"],[\"7\",12,3]]}]}");
    json_t *rows = metrics_parse_la(b);
    assert_int_equal(json_array_size(rows), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "ApimSubscriptionId")), "growth");
    assert_int_equal(geti(json_array_get(rows, 0), "requests"), 100);
    assert_int_equal(geti(json_array_get(rows, 0), "backend_ms"), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 1), "ApimSubscriptionId")), "7");
    assert_int_equal(geti(json_array_get(rows, 1), "requests"), 12);
    json_decref(rows);
    json_decref(b);
}

/* 50 subscriptions over 24 hours: the text stays small (about 1,500 tokens is ~6 KB). */
static void text_for_fifty_subscriptions(void **state)
{
    (void)state;
    json_t *rows = json_array();
    for (int i = 0; i < 50; i++) {
        char id[32];
        snprintf(id, sizeof(id), "team-%02d", i);
        json_array_append_new(rows, json_pack("[s,I,I,I,I,I,I,I,I,I]", id, (json_int_t)(100000 + i * 977),
                                              (json_int_t)(i * 131), (json_int_t)0, (json_int_t)0, (json_int_t)30000,
                                              (json_int_t)70000, (json_int_t)70000, (json_int_t)50000000,
                                              (json_int_t)56000000));
    }
    json_t *la = json_pack("{s:[{s:s,s:[{s:s},{s:s},{s:s},{s:s},{s:s},{s:s},{s:s},{s:s},{s:s},{s:s}],s:o}]}", "tables",
                           "name", "PrimaryResult", "columns", "name", "ApimSubscriptionId", "name", "requests", "name",
                           "throttled", "name", "blocked", "name", "failed", "name", "cache_hits", "name",
                           "cache_misses", "name", "backend_calls", "name", "total_ms", "name", "backend_ms", "rows",
                           rows);
    json_t *b1 = load(monitor_requests);
    json_t *missing = json_pack("[{s:s,s:s,s:s}]", "source", "token counts", "reason", "GatewayLlmLogs do not reach Log "
                                "Analytics", "fix", "add the GatewayLlmLogs category");
    struct metrics_inputs in = {metrics_parse_monitor_requests(b1), NULL, NULL, NULL, metrics_parse_la(la), NULL,
                                NULL, NULL, missing, NULL};
    json_t *r = metrics_merge(&in, METRICS_GROUP_SUBSCRIPTION);
    json_object_set_new(r, "api_id", json_string("aoai-completions"));
    json_object_set_new(r, "since", json_string("2026-11-24T08:00:00Z"));
    json_object_set_new(r, "until", json_string("2026-11-25T08:00:00Z"));
    char *text = metrics_text(r);
    print_message("text for 50 subscriptions: %zu bytes\n", strlen(text));
    assert_true(strlen(text) < 2500);
    assert_non_null(strstr(text, "and 30 more"));
    assert_non_null(strstr(text, "\nteam-49 | 147873 | 6419 | 0 | 30.0% | 338 | -\n")); /* most throttled first */
    assert_null(strstr(text, "team-00 |"));
    assert_non_null(strstr(text, "unavailable: token counts — GatewayLlmLogs do not reach Log Analytics. Fix: add"));
    assert_null(strstr(text, "answered none")); /* the cache hits: no cache warning */
    free(text);
    json_decref(r);
    json_decref(in.monitor_requests);
    json_decref(in.la_subscriptions);
    json_decref(missing);
    json_decref(la);
    json_decref(b1);
}

/* A semantic cache that never hits says what to check (the embeddings backend). */
static void warns_when_the_cache_never_hits(void **state)
{
    (void)state;
    json_t *la = json_pack("{s:[{s:s,s:[{s:s},{s:s},{s:s},{s:s},{s:s},{s:s},{s:s},{s:s},{s:s},{s:s}],s:[[s,i,i,i,i,i,i,i,"
                           "i,i]]}]}", "tables", "name", "PrimaryResult", "columns", "name", "ApimSubscriptionId", "name",
                           "requests", "name", "throttled", "name", "blocked", "name", "failed", "name", "cache_hits",
                           "name", "cache_misses", "name", "backend_calls", "name", "total_ms", "name", "backend_ms",
                           "rows", "growth", 120, 0, 0, 0, 0, 120, 120, 60000, 50000);
    struct metrics_inputs in = {NULL, NULL, NULL, NULL, metrics_parse_la(la), NULL, NULL, NULL, NULL, NULL};
    json_t *r = metrics_merge(&in, METRICS_GROUP_SUBSCRIPTION);
    char *notes = json_dumps(json_object_get(json_object_get(r, "sources"), "notes"), 0);
    assert_non_null(strstr(notes, "the semantic cache answered none of 120 lookups (hit rate 0%): check that the "
                                  "embeddings backend"));
    free(notes);
    json_decref(r);
    json_decref(in.la_subscriptions);
    json_decref(la);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_monitor),
        cmocka_unit_test(parses_token_metrics),
        cmocka_unit_test(parses_la_string_cells),
        cmocka_unit_test(merges_with_log_analytics),
        cmocka_unit_test(text_for_fifty_subscriptions),
        cmocka_unit_test(warns_when_the_cache_never_hits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
