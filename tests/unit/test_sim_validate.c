/* test_sim_validate: apim-sim's pure pieces — policy XML validation (every real AI-Gateway lab
 * policy accepted, broken XML rejected with line/column), backend validation, the $filter subset,
 * base64url/JWT helpers and counter route keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static void test_policy_examples_accepted(void **state)
{
    (void)state;
    const char *dir = AIGW_TEST_FIXTURES "/third_party/policy-examples";
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("%s is missing (vendored with the sources)", dir);
    int checked = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!util_str_ends_with(e->d_name, ".xml"))
            continue;
        char *path = util_printf("%s/%s", dir, e->d_name), *text = NULL;
        size_t len;
        util_error err = {0};
        assert_int_equal(util_read_file(path, 1 << 20, &text, &len, &err), 0);
        int rc = sim_validate_policy(text, "rawxml", &err);
        if (rc != 0)
            print_message("%s: %s\n", e->d_name, err.message);
        assert_int_equal(rc, 0);
        checked++;
        free(text);
        free(path);
    }
    closedir(d);
    assert_true(checked >= 10);
}

static void test_policy_rejections(void **state)
{
    (void)state;
    util_error err = {0};
    assert_int_equal(sim_validate_policy("<policies>\n  <inbound>\n</policies>", "rawxml", &err), UTIL_EINVAL);
    assert_non_null(strstr(err.message, "line 3"));
    assert_int_equal(sim_validate_policy("<policy><inbound/></policy>", "xml", &err), UTIL_EINVAL);
    assert_non_null(strstr(err.message, "<policies>"));
    /* raw quotes inside @(...) are fine for rawxml but not for xml */
    const char *raw = "<policies><inbound><set-variable name=\"a\" value=\"@(context.Request.Headers.GetValueOrDefault(\"x\", \"\") && true)\" /></inbound></policies>";
    assert_int_equal(sim_validate_policy(raw, "rawxml", &err), 0);
    assert_int_equal(sim_validate_policy(raw, "xml", &err), UTIL_EINVAL);
    /* the escaped form is well-formed XML */
    char *esc = sim_policy_escape_expressions(raw);
    assert_int_equal(sim_validate_policy(esc, "xml", &err), 0);
    assert_non_null(strstr(esc, "&quot;x&quot;"));
    assert_non_null(strstr(esc, "&amp;&amp;"));
    free(esc);
    assert_int_equal(sim_validate_policy("", "rawxml", &err), UTIL_EINVAL);
}

static bool exists_stub_table(const char *id, void *user)
{
    (void)user;
    return util_str_ends_with(id, "/backends/b1") || util_str_ends_with(id, "/backends/b2");
}

static void test_backend_validation(void **state)
{
    (void)state;
    json_t *details = json_array();
    json_t *ok = json_loads("{\"type\":\"Pool\",\"pool\":{\"services\":[{\"id\":\"/x/backends/b1\",\"priority\":1},"
                            "{\"id\":\"/x/backends/b2\",\"priority\":2,\"weight\":50}]}}", 0, NULL);
    assert_int_equal(sim_validate_backend(ok, exists_stub_table, NULL, details), 0);
    json_t *bad = json_loads("{\"type\":\"Pool\",\"pool\":{\"services\":[{\"id\":\"/x/backends/zz\",\"priority\":101},"
                             "{\"id\":\"/x/backends/b2\",\"weight\":-1}]}}", 0, NULL);
    assert_int_equal(sim_validate_backend(bad, exists_stub_table, NULL, details), UTIL_EINVAL);
    assert_int_equal(json_array_size(details), 3);
    json_array_clear(details);
    json_t *single = json_loads("{\"url\":\"https://a\",\"protocol\":\"http\",\"circuitBreaker\":{\"rules\":[{\"name\":\"r\","
                                "\"failureCondition\":{\"count\":1,\"interval\":\"1 minute\",\"statusCodeRanges\":"
                                "[{\"min\":100,\"max\":599}]},\"tripDuration\":\"PT1M\"}]}}", 0, NULL);
    assert_int_equal(sim_validate_backend(single, exists_stub_table, NULL, details), UTIL_EINVAL);
    assert_int_equal(json_array_size(details), 2); /* interval and min */
    json_array_clear(details);
    json_t *nourl = json_loads("{\"type\":\"Single\"}", 0, NULL);
    assert_int_equal(sim_validate_backend(nourl, exists_stub_table, NULL, details), UTIL_EINVAL);
    json_decref(ok);
    json_decref(bad);
    json_decref(single);
    json_decref(nourl);
    json_decref(details);
}

static void test_filter(void **state)
{
    (void)state;
    json_t *r = json_loads("{\"name\":\"growth\",\"properties\":{\"state\":\"active\",\"displayName\":\"Team Growth\"}}",
                           0, NULL);
    util_error err = {0};
    assert_int_equal(sim_filter_match("name eq 'growth'", r, &err), 1);
    assert_int_equal(sim_filter_match("name eq 'search'", r, &err), 0);
    assert_int_equal(sim_filter_match("properties/state eq 'active' and name ne 'x'", r, &err), 1);
    assert_int_equal(sim_filter_match("state eq 'suspended'", r, &err), 0);
    assert_int_equal(sim_filter_match("contains(displayName,'growth')", r, &err), 1);
    assert_int_equal(sim_filter_match("startswith(name, 'gro') and endswith(name,'wth')", r, &err), 1);
    assert_int_equal(sim_filter_match("colour eq 'red'", r, &err), -1);
    assert_non_null(strstr(err.message, "Invalid filter clause"));
    assert_int_equal(sim_filter_match("name eq growth", r, &err), -1);
    assert_int_equal(sim_filter_match("name eq 'a' or name eq 'b'", r, &err), -1);
    json_decref(r);
}

static void test_b64url_and_hs256(void **state)
{
    (void)state;
    const unsigned char data[] = {0xfb, 0xff, 0x00, 0x41};
    char *enc = util_base64url_encode(data, sizeof(data));
    assert_string_equal(enc, "-_8AQQ");
    size_t n;
    unsigned char *dec = sim_b64url_decode(enc, strlen(enc), &n);
    assert_int_equal(n, 4);
    assert_memory_equal(dec, data, 4);
    free(enc);
    free(dec);
    assert_null(sim_b64url_decode("a+b/", 4, &n));
    const unsigned char key[] = "k1k1k1k1";
    json_t *p = json_pack("{s:s}", "appid", "x");
    char *tok = sim_jwt_sign_hs256(p, key, 8);
    json_t *back = sim_jwt_verify_hs256(tok, key, 8);
    assert_non_null(back);
    assert_string_equal(json_string_value(json_object_get(back, "appid")), "x");
    json_decref(back);
    assert_null(sim_jwt_verify_hs256(tok, (const unsigned char *)"other-key", 9));
    tok[strlen(tok) - 2] ^= 1;
    assert_null(sim_jwt_verify_hs256(tok, key, 8));
    free(tok);
    json_decref(p);
}

static void test_route_key(void **state)
{
    (void)state;
    char *k = sim_route_key("GET", "/subscriptions/s/resourceGroups/r/providers/Microsoft.ApiManagement/service/n/apis/a");
    assert_string_equal(k, "GET /subscriptions/{}/resourceGroups/{}/providers/Microsoft.ApiManagement/service/{}/apis/{}");
    free(k);
    k = sim_route_key("POST", "/t1/oauth2/v2.0/token");
    assert_string_equal(k, "POST /{}/oauth2/v2.0/token");
    free(k);
    k = sim_route_key("GET", "/subscriptions/s/resourceGroups/r/providers/Microsoft.ApiManagement/service/n/providers/Microsoft.Insights/metrics");
    assert_string_equal(k, "GET /subscriptions/{}/resourceGroups/{}/providers/Microsoft.ApiManagement/service/{}/providers/Microsoft.Insights/metrics");
    free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_examples_accepted), cmocka_unit_test(test_policy_rejections),
        cmocka_unit_test(test_backend_validation),       cmocka_unit_test(test_filter),
        cmocka_unit_test(test_b64url_and_hs256),         cmocka_unit_test(test_route_key),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    util_log_free_all();
    return rc;
}
