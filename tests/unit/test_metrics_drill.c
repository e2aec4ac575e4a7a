/* test_metrics_drill: the per-backend, per-minute rows rehearse_failover reads (a Logs query API
 * answer of metrics_kql_drill, v1 string cells) and their summary over a window: rows matched to pool
 * members by BackendId, else by BackendUrl (query and trailing slash aside), requests that reached
 * no backend kept apart, shares of the requests that reached a member, errors summed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

#define T0 1796025600 /* 2026-11-30T08:00:00Z */

static json_t *answer(void)
{
    const char *rows =
        "[[\"eastus-aoai\",\"https://e.openai.azure.com/openai\",\"2026-11-30T08:00:00Z\",\"90\",\"1\",\"2\",\"1\",\"2\"],"
        " [\"westeurope-aoai\",\"https://w.openai.azure.com/openai\",\"2026-11-30T08:00:00Z\",\"10\",\"0\",\"0\",\"0\",\"0\"],"
        " [\"\",\"\",\"2026-11-30T08:00:00Z\",\"5\",\"0\",\"5\",\"0\",\"0\"],"
        /* the pool's id with the member's url (APIM logging the pool): matched by url */
        " [\"aoai-pool\",\"https://w.openai.azure.com/openai/?x=1\",\"2026-11-30T08:01:00Z\",\"40\",\"0\",\"1\",\"0\",\"1\"],"
        " [\"other\",\"https://o.example/\",\"2026-11-30T08:01:00Z\",\"3\",\"0\",\"0\",\"0\",\"0\"],"
        " [\"eastus-aoai\",\"https://e.openai.azure.com/openai\",\"bad time\",\"7\",\"0\",\"0\",\"0\",\"0\"]]";
    json_t *r = json_loads(rows, 0, NULL);
    assert_non_null(r);
    const char *names[] = {"BackendId", "BackendUrl", "TimeGenerated", "requests", "failed", "throttled",
                           "backend_failed", "backend_throttled"};
    const char *types[] = {"string", "string", "datetime", "long", "long", "long", "long", "long"};
    json_t *cols = json_array();
    for (int i = 0; i < 8; i++)
        json_array_append_new(cols, json_pack("{s:s,s:s}", "name", names[i], "type", types[i]));
    return json_pack("{s:[{s:s,s:o,s:o}]}", "tables", "name", "PrimaryResult", "columns", cols, "rows", r);
}

static json_t *members(void)
{
    return json_pack("[{s:s,s:s},{s:s,s:s}]", "backend_id", "eastus-aoai", "url", "https://e.openai.azure.com/openai",
                     "backend_id", "westeurope-aoai", "url", "https://w.openai.azure.com/openai/");
}

static json_int_t num(json_t *o, const char *a, const char *b)
{
    json_t *v = b ? json_object_get(json_object_get(o, a), b) : json_object_get(o, a);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

static void parses_and_summarises(void **state)
{
    (void)state;
    json_t *a = answer();
    json_t *rows = metrics_parse_drill(a);
    json_decref(a);
    assert_non_null(rows);
    assert_int_equal(json_array_size(rows), 5); /* the row without a readable time is dropped */
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 0), "t")), T0);
    json_t *m = members();

    json_t *w = metrics_drill_window(rows, m, T0, T0 + 60); /* the first minute */
    assert_int_equal(num(w, "requests", NULL), 105);
    assert_int_equal(num(w, "requests_to_backends", NULL), 100);
    assert_int_equal(num(w, "requests_without_backend", NULL), 5);
    assert_int_equal(num(w, "errors_5xx", NULL), 1);
    assert_int_equal(num(w, "errors_429", NULL), 7);
    json_t *by = json_object_get(w, "by_backend");
    assert_true(json_real_value(json_object_get(json_object_get(by, "eastus-aoai"), "share")) > 0.899);
    assert_int_equal(num(by, "eastus-aoai", "errors_429"), 2);
    assert_int_equal(num(w, "minutes_with_data", NULL), 1);
    json_decref(w);

    w = metrics_drill_window(rows, m, T0 + 60, T0 + 120); /* the second: matched by url; "other" apart */
    by = json_object_get(w, "by_backend");
    assert_int_equal(num(by, "westeurope-aoai", "requests"), 40);
    assert_int_equal(num(by, "eastus-aoai", "requests"), 0);
    assert_int_equal(num(w, "requests_other_backends", NULL), 3);
    json_decref(w);

    w = metrics_drill_window(rows, m, T0 + 120, T0 + 180); /* nothing in yet: shares null */
    assert_int_equal(num(w, "minutes_with_data", NULL), 0);
    assert_true(json_is_null(json_object_get(json_object_get(json_object_get(w, "by_backend"), "eastus-aoai"), "share")));
    json_decref(w);
    json_decref(m);
    json_decref(rows);
    assert_null(metrics_parse_drill(NULL));
}

static void the_query_is_the_contracts(void **state)
{
    (void)state;
    assert_non_null(strstr(metrics_kql_drill, "ApiManagementGatewayLogs | where ApiId == '%s' | summarize requests = "
                                              "count(), failed = countif(ResponseCode >= 500)"));
    assert_non_null(strstr(metrics_kql_drill, "by BackendId, BackendUrl, bin(TimeGenerated, 1m)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_and_summarises),
        cmocka_unit_test(the_query_is_the_contracts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
