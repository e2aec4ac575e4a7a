/* test_tools_backend: the pure part of the backend-pool tools (src/tools/backend.c) — duration
 * normalisation ("1m", "5 minutes", "PT5M" → ISO 8601), status code ranges ("429", "500-599",
 * "5xx" ↔ {min, max}), priority / weight ranges, URL checks, the circuit breaker mapping between
 * the contract's shape and APIM's, credential-free views and model-version warnings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../src/tools/backend.h"

static void expect_duration(const char *in, const char *want)
{
    char out[32];
    util_error err = {0};
    int rc = tools_backend_duration_normalize("d", in, out, sizeof out, &err);
    if (rc)
        fail_msg("'%s' was refused: %s", in, err.message);
    assert_string_equal(out, want);
}

static void refuse_duration(const char *in, const char *why)
{
    char out[32];
    util_error err = {0};
    assert_int_equal(tools_backend_duration_normalize("trip_duration", in, out, sizeof out, &err), UTIL_EINVAL);
    assert_non_null(strstr(err.message, why));
}

static void test_durations(void **state)
{
    (void)state;
    expect_duration("1m", "PT1M");
    expect_duration("5 minutes", "PT5M");
    expect_duration("PT5M", "PT5M");
    expect_duration("PT60S", "PT1M");
    expect_duration("90s", "PT1M30S");
    expect_duration(" 30 Seconds ", "PT30S");
    expect_duration("2 min", "PT2M");
    expect_duration("1h", "PT1H");
    expect_duration("1 day", "P1D");
    refuse_duration("5", "not a duration");          /* no unit: ambiguous */
    refuse_duration("5 fortnights", "not a duration");
    refuse_duration("-1m", "not a duration");
    refuse_duration("1m later", "not a duration");
    refuse_duration("PTXM", "not a duration");
    refuse_duration("", "not a duration");
    refuse_duration("0s", "from 1 second to 1 day");
    refuse_duration("25h", "from 1 second to 1 day");
    refuse_duration("9999999999m", "not a duration"); /* no overflow */
}

static void test_status_ranges(void **state)
{
    (void)state;
    int lo, hi;
    util_error err = {0};
    assert_int_equal(tools_backend_status_range_parse("429", &lo, &hi, &err), 0);
    assert_int_equal(lo, 429);
    assert_int_equal(hi, 429);
    assert_int_equal(tools_backend_status_range_parse("500-599", &lo, &hi, &err), 0);
    assert_int_equal(lo, 500);
    assert_int_equal(hi, 599);
    assert_int_equal(tools_backend_status_range_parse("5xx", &lo, &hi, &err), 0);
    assert_int_equal(lo, 500);
    assert_int_equal(hi, 599);
    const char *bad[] = {"600", "199", "599-500", "42", "abc", "500-", "-500", "4290", "500-599-600", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.code = 0;
        if (tools_backend_status_range_parse(bad[i], &lo, &hi, &err) != UTIL_EINVAL)
            fail_msg("'%s' was accepted", bad[i]);
        assert_true(err.message[0] != '\0');
    }
    char s[16];
    tools_backend_status_range_format(429, 429, s, sizeof s);
    assert_string_equal(s, "429");
    tools_backend_status_range_format(500, 599, s, sizeof s);
    assert_string_equal(s, "500-599");
}

static void test_priority_weight(void **state)
{
    (void)state;
    util_error err = {0};
    assert_int_equal(tools_backend_check_priority("b", 0, &err), 0);
    assert_int_equal(tools_backend_check_priority("b", 100, &err), 0);
    assert_int_equal(tools_backend_check_priority("b", 101, &err), UTIL_EINVAL);
    assert_non_null(strstr(err.message, "from 0 to 100"));
    assert_int_equal(tools_backend_check_priority("b", -1, &err), UTIL_EINVAL);
    assert_int_equal(tools_backend_check_weight("b", 0, &err), 0);
    assert_int_equal(tools_backend_check_weight("b", 100, &err), 0);
    assert_int_equal(tools_backend_check_weight("b", 101, &err), UTIL_EINVAL);
    assert_non_null(strstr(err.message, "weight of b"));
}

static void test_urls(void **state)
{
    (void)state;
    util_error err = {0};
    assert_int_equal(tools_backend_check_url("url", "https://aoai-westeurope.openai.azure.com/openai", &err), 0);
    assert_int_equal(tools_backend_check_url("url", "HTTPS://x.example", &err), 0);
    assert_int_equal(tools_backend_check_url("url", "http://aoai.openai.azure.com/openai", &err), UTIL_EINVAL);
    assert_non_null(strstr(err.message, "https://"));
    assert_int_equal(tools_backend_check_url("url", "https:///openai", &err), UTIL_EINVAL);
    assert_non_null(strstr(err.message, "no host"));
    assert_int_equal(tools_backend_check_url("url", "https://user:pw@x.example/", &err), UTIL_EINVAL);
    assert_non_null(strstr(err.message, "user name or password"));
    assert_int_equal(tools_backend_check_url("url", "https://x.example/a b", &err), UTIL_EINVAL);
    assert_int_equal(tools_backend_check_url("url", "", &err), UTIL_EINVAL);
    char *long_url = calloc(1, BACKEND_URL_MAX + 32);
    memcpy(long_url, "https://x.example/", 18);
    memset(long_url + 18, 'a', BACKEND_URL_MAX);
    assert_int_equal(tools_backend_check_url("url", long_url, &err), UTIL_EINVAL);
    free(long_url);
}

static void test_cb_mapping(void **state)
{
    (void)state;
    util_error err = {0};
    json_t *in =
        json_loads("{\"failure_count\":5,\"failure_interval\":\"1m\",\"trip_duration\":\"5 minutes\"}", 0, NULL);
    json_t *apim = tools_backend_cb_to_apim("westeurope-aoai", in, &err);
    assert_non_null(apim);
    json_t *want = json_loads("{\"rules\":[{\"name\":\"westeurope-aoai-breaker\",\"failureCondition\":{\"count\":5,"
                              "\"interval\":\"PT1M\",\"statusCodeRanges\":[{\"min\":429,\"max\":429},{\"min\":500,"
                              "\"max\":599}]},\"tripDuration\":\"PT5M\",\"acceptRetryAfter\":true}]}",
                              0, NULL);
    assert_true(json_equal(apim, want));

    /* an existing rule lends its name and error reasons */
    json_t *existing = json_loads("{\"rules\":[{\"name\":\"we-breaker\",\"failureCondition\":{\"errorReasons\":"
                                  "[\"Server errors\"]}}]}",
                                  0, NULL);
    tools_backend_cb_keep_identity(apim, existing);
    json_t *rule = json_array_get(json_object_get(apim, "rules"), 0);
    assert_string_equal(json_string_value(json_object_get(rule, "name")), "we-breaker");
    assert_non_null(json_object_get(json_object_get(rule, "failureCondition"), "errorReasons"));

    /* and back to the contract's shape */
    json_t *back = tools_backend_cb_from_apim(apim);
    json_t *want_back = json_loads("{\"failure_count\":5,\"failure_interval\":\"PT1M\",\"trip_duration\":\"PT5M\","
                                   "\"status_codes\":[\"429\",\"500-599\"],\"accept_retry_after\":true}",
                                   0, NULL);
    assert_true(json_equal(back, want_back));
    json_t *none = tools_backend_cb_from_apim(NULL);
    assert_true(json_is_null(none));

    /* explicit codes and accept_retry_after false; bad codes and durations are refused */
    json_t *in2 = json_loads("{\"failure_count\":2,\"failure_interval\":\"PT30S\",\"trip_duration\":\"2m\","
                             "\"status_codes\":[\"5xx\"],\"accept_retry_after\":false}",
                             0, NULL);
    json_t *apim2 = tools_backend_cb_to_apim("b", in2, &err);
    json_t *rule2 = json_array_get(json_object_get(apim2, "rules"), 0);
    assert_true(json_is_false(json_object_get(rule2, "acceptRetryAfter")));
    json_t *fc2 = json_object_get(rule2, "failureCondition");
    assert_int_equal(json_array_size(json_object_get(fc2, "statusCodeRanges")), 1);
    json_object_set_new(in2, "status_codes", json_pack("[s]", "700"));
    assert_null(tools_backend_cb_to_apim("b", in2, &err));
    assert_non_null(strstr(err.message, "700"));
    json_object_set_new(in2, "status_codes", json_array());
    assert_null(tools_backend_cb_to_apim("b", in2, &err));
    json_object_del(in2, "status_codes");
    json_object_set_new(in2, "trip_duration", json_string("forever"));
    assert_null(tools_backend_cb_to_apim("b", in2, &err));
    assert_non_null(strstr(err.message, "circuit_breaker.trip_duration of b 'forever'"));
    json_object_set_new(in2, "trip_duration", json_string("1m"));
    json_object_set_new(in2, "tripDuration", json_string("1m"));
    assert_null(tools_backend_cb_to_apim("b", in2, &err));
    assert_non_null(strstr(err.message, "has no field 'tripDuration'"));
    json_object_del(in2, "tripDuration");
    json_object_set_new(in2, "failure_count", json_string("5"));
    assert_null(tools_backend_cb_to_apim("b", in2, &err));
    assert_non_null(strstr(err.message, "failure_count of b must be an integer"));
    json_object_set_new(in2, "failure_count", json_integer(0));
    assert_null(tools_backend_cb_to_apim("b", in2, &err));
    assert_non_null(strstr(err.message, "failure_count"));

    json_decref(in), json_decref(apim), json_decref(want), json_decref(existing), json_decref(back);
    json_decref(want_back), json_decref(none), json_decref(in2), json_decref(apim2);
}

static void test_credentials_view(void **state)
{
    (void)state;
    json_t *props = json_loads("{\"url\":\"https://x.example\",\"credentials\":{\"header\":{\"api-key\":[\"hv-1234\"]},"
                               "\"query\":{\"sig\":[\"qv-5678\"]},\"authorization\":{\"scheme\":\"Basic\","
                               "\"parameter\":\"ap-9012\"},\"certificate\":[\"THUMB\"]},\"proxy\":{\"url\":"
                               "\"https://p\",\"password\":\"pp-3456\"}}",
                               0, NULL);
    json_t *v = tools_backend_credentials_view(props);
    json_t *want = json_loads("{\"header\":[\"api-key\"],\"query\":[\"sig\"],\"authorization\":\"present\","
                              "\"certificates\":\"present\",\"proxy_password\":\"present\"}",
                              0, NULL);
    assert_true(json_equal(v, want));
    char *dump = json_dumps(v, 0);
    assert_null(strstr(dump, "hv-1234"));
    free(dump);
    /* the values are registered as secrets: scrubbed from any log line or error */
    util_error err = {0};
    util_error_set(&err, UTIL_EINVAL, "values hv-1234 qv-5678 ap-9012 pp-3456");
    assert_string_equal(err.message, "values *** *** *** ***");
    json_t *plain = json_loads("{\"url\":\"https://x.example\"}", 0, NULL);
    json_t *none = tools_backend_credentials_view(plain);
    assert_true(json_is_null(none));
    json_decref(props), json_decref(v), json_decref(want), json_decref(plain), json_decref(none);
}

static void test_urls_shown(void **state)
{
    (void)state;
    char *r = tools_backend_url_redacted("https://f.example/api/x?code=abc&v=1&flag#frag");
    assert_string_equal(r, "https://f.example/api/x?code=***&v=***&flag");
    free(r);
    r = tools_backend_url_redacted("https://f.example/openai");
    assert_string_equal(r, "https://f.example/openai");
    free(r);
    char *d = tools_backend_url_deployment("https://a.openai.azure.com/openai/deployments/gpt-4o-2024-08-06/chat");
    assert_string_equal(d, "gpt-4o-2024-08-06");
    free(d);
    assert_null(tools_backend_url_deployment("https://a.openai.azure.com/openai"));
    char *id = tools_backend_id_from_resource_id("/subscriptions/s/resourceGroups/r/providers/Microsoft.ApiManagement/"
                                                 "service/x/backends/eastus-aoai");
    assert_string_equal(id, "eastus-aoai");
    free(id);
    assert_null(tools_backend_id_from_resource_id("/subscriptions/s/backends/"));
    assert_null(tools_backend_id_from_resource_id("eastus-aoai"));
}

static void test_model_warnings(void **state)
{
    (void)state;
    json_t *same = json_loads("[{\"backend_id\":\"a\",\"url\":\"https://a/openai/deployments/gpt-4o\"},"
                              "{\"backend_id\":\"b\",\"url\":\"https://b/openai/deployments/gpt-4o\"},"
                              "{\"backend_id\":\"c\",\"url\":\"https://c/openai\"}]",
                              0, NULL);
    json_t *w = json_array();
    tools_backend_model_warnings(same, w);
    assert_int_equal(json_array_size(w), 0);
    json_t *differ = json_loads("[{\"backend_id\":\"east\",\"url\":\"https://a/openai/deployments/gpt-4o-2024-08-06\"},"
                                "{\"backend_id\":\"west\",\"url\":\"https://b/openai/deployments/gpt-4o-2024-05-13\"}]",
                                0, NULL);
    tools_backend_model_warnings(differ, w);
    assert_int_equal(json_array_size(w), 1);
    const char *msg = json_string_value(json_array_get(w, 0));
    assert_non_null(strstr(msg, "east: gpt-4o-2024-08-06"));
    assert_non_null(strstr(msg, "west: gpt-4o-2024-05-13"));
    json_decref(same), json_decref(differ), json_decref(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations),      cmocka_unit_test(test_status_ranges),
        cmocka_unit_test(test_priority_weight), cmocka_unit_test(test_urls),
        cmocka_unit_test(test_cb_mapping),     cmocka_unit_test(test_credentials_view),
        cmocka_unit_test(test_urls_shown),     cmocka_unit_test(test_model_warnings),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    util_log_free_all();
    return rc;
}
