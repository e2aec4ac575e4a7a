/* test_arm_client: the ARM client against a real apim-sim (started with --page-size 2) — URL
 * building, one token for many calls, refresh on an expired token, a 429 storm honouring
 * Retry-After, a 503 that gives up, paging, 412 on a stale ETag, 403 naming the missing role,
 * 404 naming the resource, a concurrent batch with a retry in it, cancellation, and --check.
 * It runs at debug level; the last test scans every log line for secrets and tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arm.h"
#include "arm_test_env.h"

#define POLICY "apis/aoai-completions/policies/policy"

static struct sim_process g_sim;
static util_buf g_seen; /* every log line of the run */

static void sink(int level, const char *logger, const char *message, void *user)
{
    util_buf_printf(&g_seen, "%s\n", message);
}

static int setup(void **state)
{
    const char *args[] = {"--page-size", "2", NULL};
    util_buf_init(&g_seen, 0);
    util_log_set_level(UTIL_LOG_DEBUG);
    util_log_set_sink(sink, NULL, UTIL_LOG_DEBUG);
    return sim_start(&g_sim, args);
}

static int teardown(void **state)
{
    util_log_set_sink(NULL, NULL, UTIL_LOG_OFF);
    util_buf_free(&g_seen);
    util_log_free_all();
    return sim_stop(&g_sim) == 0 ? 0 : -1;
}

static struct arm_client *client_as(struct config *cfg, const char *id, const char *secret)
{
    test_cfg_init(cfg, &g_sim);
    test_cfg_secret(cfg, id, secret);
    util_error err;
    struct arm_client *c = arm_client_new(cfg, &err);
    assert_non_null(c);
    struct arm_retry_policy fast = {6, 60000, 50, 2000, 60000};
    arm_set_retry_policy(c, &fast);
    return c;
}

static void test_urls(void **state)
{
    struct config cfg;
    struct arm_client *c = client_as(&cfg, DEMO_CONTRIBUTOR_ID, DEMO_CONTRIBUTOR_SECRET);
    char *u = arm_url(c, "apis/x", ARM_API_APIM, "$top=5");
    char *want = util_printf("%s%s/apis/x?api-version=2024-05-01&$top=5", g_sim.base_url, DEMO_SERVICE_ID);
    assert_string_equal(u, want);
    free(u), free(want);
    u = arm_url(c, "", ARM_API_APIM, NULL);
    want = util_printf("%s%s?api-version=2024-05-01", g_sim.base_url, DEMO_SERVICE_ID);
    assert_string_equal(u, want);
    free(u), free(want);
    u = arm_url(c, DEMO_SERVICE_ID "/providers/Microsoft.Insights/metrics", ARM_API_METRICS, NULL);
    assert_non_null(strstr(u, "/providers/Microsoft.Insights/metrics?api-version=2024-02-01"));
    free(u);
    want = util_printf("%s/next?api-version=2024-05-01&$skip=2", g_sim.base_url);
    u = arm_url(c, want, ARM_API_APIM, NULL);
    assert_string_equal(u, want); /* a nextLink keeps its own api-version */
    free(u), free(want);
    arm_client_free(c);
    config_free(&cfg);
}

/* The gateway's clock (issue 18): the Date header of ARM's answers, parsed as RFC 7231 IMF-fixdate. */
static void test_date_header(void **state)
{
    (void)state;
    assert_int_equal(arm_parse_http_date("Mon, 30 Nov 2026 08:00:00 GMT"), 1796025600);
    assert_int_equal(arm_parse_http_date("Thu, 01 Jan 1970 00:00:01 GMT"), 1);
    assert_int_equal(arm_parse_http_date("Mon, 30 Nov 2026 08:00:00 UTC"), 0);
    assert_int_equal(arm_parse_http_date("Mon, 30 Foo 2026 08:00:00 GMT"), 0);
    assert_int_equal(arm_parse_http_date("Mon, 30 Nov 2026 08:00:00 GMT trailing"), 0);
    assert_int_equal(arm_parse_http_date("2026-11-30T08:00:00Z"), 0);
    assert_int_equal(arm_parse_http_date(NULL), 0);
    /* apim-sim dates its answers with its virtual clock: set it, and an ARM answer carries it */
    char *body = NULL;
    assert_int_equal(sim_request(&g_sim, "POST", "/_sim/clock", "{\"set\":\"2026-11-30T08:00:00Z\",\"freeze\":true}",
                                 &body), 200);
    free(body);
    struct config cfg;
    struct arm_client *c = client_as(&cfg, DEMO_CONTRIBUTOR_ID, DEMO_CONTRIBUTOR_SECRET);
    struct arm_result res = {0};
    util_error err = {0};
    assert_int_equal(arm_get(c, "apis", &res, &err), 0);
    assert_int_equal(res.date, 1796025600);
    arm_result_free(&res);
    arm_client_free(c);
    config_free(&cfg);
    char now[32];
    util_time_iso8601(util_now_ms() / 1000, now, sizeof now);
    char *back = util_printf("{\"set\":\"%s\",\"freeze\":false}", now); /* the wall clock again */
    assert_int_equal(sim_request(&g_sim, "POST", "/_sim/clock", back, &body), 200);
    free(back);
    free(body);
}

static void test_one_token_many_calls(void **state)
{
    struct config cfg;
    struct arm_client *c = client_as(&cfg, DEMO_CONTRIBUTOR_ID, DEMO_CONTRIBUTOR_SECRET);
    sim_reset(&g_sim);
    util_error err;
    for (int i = 0; i < 30; i++) {
        struct arm_result r;
        assert_int_equal(arm_get(c, "", &r, &err), 0);
        assert_int_equal(r.status, 200);
        assert_string_equal(json_string_value(json_object_get(r.body, "name")), DEMO_SERVICE);
        arm_result_free(&r);
    }
    struct arm_stats st;
    arm_get_stats(c, &st);
    assert_int_equal(sim_counter(&g_sim, "token_requests"), 1);
    assert_int_equal(sim_counter(&g_sim, "arm_requests"), 30);
    assert_int_equal(st.token_requests, 1);
    assert_int_equal(st.arm_requests, 30);
    assert_int_equal(st.new_connections, 1); /* Entra and ARM share the simulator's one host */
    arm_client_free(c);
    config_free(&cfg);
}

/* The Logs query API: its own URL (no api-version) and token audience, fetched once and cached
 * beside the ARM token; with no endpoint configured, nothing is sent. */
static void test_logs_query_second_audience(void **state)
{
    struct config cfg;
    struct arm_client *c = client_as(&cfg, DEMO_CONTRIBUTOR_ID, DEMO_CONTRIBUTOR_SECRET);
    test_cfg_set(&cfg.log_analytics_endpoint, g_sim.base_url);
    test_cfg_set(&cfg.log_analytics_scope, "https://api.loganalytics.io/.default");
    char *u = arm_url(c, "/workspaces/w/query", ARM_API_LOGS_QUERY, NULL);
    char *want = util_printf("%s/v1/workspaces/w/query", g_sim.base_url);
    assert_string_equal(u, want);
    free(u), free(want);
    sim_reset(&g_sim);
    json_t *body = json_pack("{s:s,s:s}", "query", "ApiManagementGatewayLogs | take 1", "timespan", "PT1H");
    for (int round = 0; round < 2; round++) {
        struct arm_request reqs[2] = {{"GET", "", ARM_API_APIM, NULL, NULL, NULL},
                                      {"POST", "/workspaces/4a5e8e0c-1d2b-4c3f-9e8a-6b7c8d9e0f1a/query",
                                       ARM_API_LOGS_QUERY, NULL, body, NULL}};
        struct arm_result res[2];
        int rcs[2];
        util_error errs[2];
        arm_batch(c, 2, reqs, res, rcs, errs);
        assert_int_equal(rcs[0], 0);
        assert_int_equal(res[1].status, 400); /* the token was accepted: the sim knows only the client's KQL */
        assert_non_null(strstr(errs[1].message, "SemanticError"));
        arm_result_free(&res[0]);
        arm_result_free(&res[1]);
    }
    assert_int_equal(sim_counter(&g_sim, "token_requests"), 2); /* ARM and Log Analytics, once each */
    free(cfg.log_analytics_endpoint);
    cfg.log_analytics_endpoint = NULL;
    sim_reset(&g_sim);
    struct arm_request r = {"POST", "/workspaces/w/query", ARM_API_LOGS_QUERY, NULL, body, NULL};
    struct arm_result res;
    util_error err;
    assert_int_equal(arm_call(c, &r, &res, &err), UTIL_ECONFIG);
    assert_non_null(strstr(err.message, "AIGW_LOG_ANALYTICS_ENDPOINT is not set"));
    arm_result_free(&res);
    json_t *log = sim_get_json(&g_sim, "/_sim/requests");
    size_t i;
    json_t *q;
    json_array_foreach(json_object_get(log, "requests"), i, q)
        assert_null(strstr(json_string_value(json_object_get(q, "path")), "/v1/"));
    json_decref(log);
    json_decref(body);
    arm_client_free(c);
    config_free(&cfg);
}

static void test_refresh_on_expired_token(void **state)
{
    struct config cfg;
    struct arm_client *c = client_as(&cfg, DEMO_CONTRIBUTOR_ID, DEMO_CONTRIBUTOR_SECRET);
    sim_reset(&g_sim);
    util_error err;
    struct arm_result r;
    assert_int_equal(arm_get(c, "", &r, &err), 0);
    arm_result_free(&r);
    assert_int_equal(sim_post(&g_sim, "/_sim/faults", "{\"expire_tokens\": true}"), 200);
    assert_int_equal(arm_get(c, "", &r, &err), 0);
    assert_int_equal(r.status, 200);
    arm_result_free(&r);
    assert_int_equal(sim_counter(&g_sim, "token_requests"), 2);
    assert_int_equal(sim_counter(&g_sim, "arm_requests"), 3); /* ok, 401, ok */
    arm_client_free(c);
    config_free(&cfg);
}

static void test_429_storm_succeeds(void **state)
{
    struct config cfg;
    struct arm_client *c = client_as(&cfg, DEMO_CONTRIBUTOR_ID, DEMO_CONTRIBUTOR_SECRET);
    sim_reset(&g_sim);
    assert_int_equal(sim_post(&g_sim, "/_sim/faults",
                              "{\"rules\": [{\"method\": \"GET\", \"path_contains\": \"/products\", \"status\": 429, "
                              "\"retry_after\": 1, \"count\": 3}]}"), 200);
    util_error err;
    struct arm_result r;
    assert_int_equal(arm_get(c, "products", &r, &err), 0);
    assert_int_equal(r.status, 200);
    arm_result_free(&r);
    struct arm_stats st;
    arm_get_stats(c, &st);
    assert_int_equal(st.retries, 3);
    assert_int_equal(sim_counter(&g_sim, "arm_requests"), 4);
    arm_client_free(c);
    config_free(&cfg);
}

/* One GET of products against a 429 rule with these wait headers: its outcome and requests. */
static int throttled_get(const char *waits, int *requests, util_error *err)
{
    struct config cfg;
    struct arm_client *c = client_as(&cfg, DEMO_CONTRIBUTOR_ID, DEMO_CONTRIBUTOR_SECRET); /* max_delay 2 s */
    sim_reset(&g_sim);
    char *rules = util_printf("{\"rules\": [{\"method\": \"GET\", \"path_contains\": \"/products\", \"status\": 429, "
                              "%s, \"count\": 1}]}", waits);
    assert_int_equal(sim_post(&g_sim, "/_sim/faults", rules), 200);
    free(rules);
    struct arm_result r;
    int rc = arm_get(c, "products", &r, err);
    arm_result_free(&r);
    *requests = (int)sim_counter(&g_sim, "arm_requests");
    sim_reset(&g_sim);
    arm_client_free(c);
    config_free(&cfg);
    return rc;
}

/* Retry-After is never shortened: a wait beyond the retry budget stops the call and says when
 * to come back; retry-after-ms, then x-ms-retry-after-ms, then Retry-After (azcore's order). */
static void test_retry_after_is_honoured(void **state)
{
    util_error err;
    int n = 0;
    /* 600 s asked, 2 s allowed per wait: no retry (today's code waited 2 s and retried) */
    assert_int_equal(throttled_get("\"retry_after\": 600", &n, &err), UTIL_ETHROTTLED);
    assert_int_equal(n, 1);
    if (!strstr(err.message, "ARM asked to wait 600.0 s before the next try (Retry-After)") ||
        !strstr(err.message, "nothing more was sent: retry after 20"))
        fail_msg("%s", err.message);
    /* x-ms-retry-after-ms alone is read (milliseconds) */
    assert_int_equal(throttled_get("\"x_ms_retry_after_ms\": 600000", &n, &err), UTIL_ETHROTTLED);
    assert_int_equal(n, 1);
    assert_non_null(strstr(err.message, "ARM asked to wait 600.0 s"));
    /* retry-after-ms comes first: 50 ms, although Retry-After says 600 s */
    assert_int_equal(throttled_get("\"retry_after_ms\": 50, \"retry_after\": 600", &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(throttled_get("\"retry_after_ms\": 600000, \"x_ms_retry_after_ms\": 50", &n, &err),
                     UTIL_ETHROTTLED);
    assert_int_equal(n, 1);
    /* then x-ms-retry-after-ms before Retry-After */
    assert_int_equal(throttled_get("\"x_ms_retry_after_ms\": 50, \"retry_after\": 600", &n, &err), 0);
    assert_int_equal(n, 2);
}

static void test_dropped_connection_is_retried(void **state)
{
    struct config cfg;
    struct arm_client *c = client_as(&cfg, DEMO_CONTRIBUTOR_ID, DEMO_CONTRIBUTOR_SECRET);
    sim_reset(&g_sim);
    assert_int_equal(sim_post(&g_sim, "/_sim/faults",
                              "{\"rules\": [{\"method\": \"GET\", \"path_contains\": \"/namedValues\", "
                              "\"drop\": true, \"count\": 2}]}"), 200);
    util_error err;
    struct arm_result r;
    assert_int_equal(arm_get(c, "namedValues", &r, &err), 0);
    assert_int_equal(r.status, 200);
    arm_result_free(&r);
    /* libcurl itself retries once when a reused connection dies; the second drop is ours */
    struct arm_stats st;
    arm_get_stats(c, &st);
    assert_true(st.retries >= 1);
    assert_int_equal(sim_counter(&g_sim, "arm_requests"), 3);
    sim_reset(&g_sim);
    arm_client_free(c);
    config_free(&cfg);
}

static void test_503_gives_up(void **state)
{
    struct config cfg;
    struct arm_client *c = client_as(&cfg, DEMO_CONTRIBUTOR_ID, DEMO_CONTRIBUTOR_SECRET);
    struct arm_retry_policy p = {3, 60000, 50, 1000, 60000};
    arm_set_retry_policy(c, &p);
    sim_reset(&g_sim);
    assert_int_equal(sim_post(&g_sim, "/_sim/faults",
                              "{\"rules\": [{\"path_contains\": \"/backends\", \"status\": 503, "
                              "\"count\": -1}]}"), 200);
    util_error err;
    struct arm_result r;
    assert_int_equal(arm_get(c, "backends", &r, &err), UTIL_EREMOTE);
    assert_int_equal(err.http_status, 503);
    assert_non_null(strstr(err.message, "GET backends"));
    assert_non_null(strstr(err.message, "503"));
    assert_non_null(strstr(err.message, "after 3 attempts"));
    assert_non_null(strstr(err.message, "try again later"));
    arm_result_free(&r);
    assert_int_equal(sim_counter(&g_sim, "arm_requests"), 3);
    sim_reset(&g_sim);
    arm_client_free(c);
    config_free(&cfg);
}

static void test_paging(void **state)
{
    struct config cfg;
    struct arm_client *c = client_as(&cfg, DEMO_CONTRIBUTOR_ID, DEMO_CONTRIBUTOR_SECRET);
    sim_reset(&g_sim);
    util_error err;
    json_t *items = NULL;
    assert_int_equal(arm_list(c, "subscriptions", ARM_API_APIM, NULL, 0, &items, &err), 0);
    size_t n = json_array_size(items);
    assert_true(n >= 3);
    long pages = sim_counter(&g_sim, "arm_requests");
    assert_int_equal(pages, (long)((n + 1) / 2));
    /* every item once */
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            assert_string_not_equal(json_string_value(json_object_get(json_array_get(items, i), "name")),
                                    json_string_value(json_object_get(json_array_get(items, j), "name")));
    json_decref(items);
    assert_int_equal(arm_list(c, "subscriptions", ARM_API_APIM, NULL, 1, &items, &err), UTIL_ELIMIT);
    assert_null(items);
    arm_client_free(c);
    config_free(&cfg);
}

static void test_stale_etag_conflict(void **state)
{
    struct config cfg;
    struct arm_client *c = client_as(&cfg, DEMO_CONTRIBUTOR_ID, DEMO_CONTRIBUTOR_SECRET);
    util_error err;
    struct arm_result r, w;
    assert_int_equal(arm_get(c, POLICY, &r, &err), 0);
    assert_non_null(r.etag);
    const char *xml = json_string_value(json_object_get(json_object_get(r.body, "properties"), "value"));
    assert_non_null(xml);
    json_t *body = json_pack("{s:{s:s, s:s}}", "properties", "format", "rawxml", "value", xml);
    char *touch = util_printf("{\"path\": \"%s/%s\"}", DEMO_SERVICE_ID, POLICY);
    assert_int_equal(sim_post(&g_sim, "/_sim/touch", touch), 200);
    assert_int_equal(arm_put(c, POLICY, body, r.etag, &w, &err), UTIL_ECONFLICT);
    assert_int_equal(err.http_status, 412);
    assert_non_null(strstr(err.message, "changed since it was read"));
    arm_result_free(&w);
    arm_result_free(&r);
    /* read again: the new ETag works */
    assert_int_equal(arm_get(c, POLICY, &r, &err), 0);
    assert_int_equal(arm_put(c, POLICY, body, r.etag, &w, &err), 0);
    assert_non_null(w.etag);
    assert_string_not_equal(w.etag, r.etag);
    arm_result_free(&w);
    arm_result_free(&r);
    /* issue 14: an ETag with CR/LF (from a hostile body "etag") is never sent as If-Match */
    sim_reset(&g_sim);
    assert_int_equal(arm_put(c, POLICY, body, "\"x\"\r\nX-Evil: 1", &w, &err), UTIL_EINVAL);
    assert_non_null(strstr(err.message, "control character"));
    assert_int_equal(sim_counter(&g_sim, "arm_requests"), 0);
    arm_result_free(&w);
    json_decref(body);
    free(touch);
    arm_client_free(c);
    config_free(&cfg);
}

static void test_forbidden_and_not_found(void **state)
{
    struct config cfg;
    struct arm_client *c = client_as(&cfg, DEMO_READER_ID, DEMO_READER_SECRET);
    util_error err;
    struct arm_result r;
    assert_int_equal(arm_get(c, POLICY, &r, &err), 0);
    json_t *body = json_pack("{s:{s:s, s:s}}", "properties", "format", "rawxml", "value", "<policies/>");
    arm_result_free(&r);
    assert_int_equal(arm_put(c, POLICY, body, "*", &r, &err), UTIL_EFORBIDDEN);
    assert_non_null(strstr(err.message, "API Management Service Contributor"));
    assert_non_null(strstr(err.message, "AuthorizationFailed"));
    arm_result_free(&r);
    json_decref(body);
    assert_int_equal(arm_get(c, "apis/no-such-api", &r, &err), UTIL_ENOTFOUND);
    assert_non_null(strstr(err.message, "apis/no-such-api was not found"));
    arm_result_free(&r);
    arm_client_free(c);
    config_free(&cfg);
}

static void test_batch_concurrent_with_retry(void **state)
{
    struct config cfg;
    struct arm_client *c = client_as(&cfg, DEMO_CONTRIBUTOR_ID, DEMO_CONTRIBUTOR_SECRET);
    sim_reset(&g_sim);
    assert_int_equal(sim_post(&g_sim, "/_sim/faults",
                              "{\"latency_ms\": 200, \"rules\": [{\"path_contains\": \"/backends\", \"status\": 429, "
                              "\"retry_after\": 1, \"count\": 1}]}"), 200);
    enum { N = 4 };
    struct arm_request reqs[N] = {{.method = "GET", .path = "apis"},
                                  {.method = "GET", .path = "products"},
                                  {.method = "GET", .path = "backends"},
                                  {.method = "GET", .path = ""}};
    struct arm_result res[N];
    int rcs[N];
    util_error errs[N];
    assert_int_equal(arm_batch(c, N, reqs, res, rcs, errs), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(rcs[i], 0);
        assert_int_equal(res[i].status, 200);
        arm_result_free(&res[i]);
    }
    assert_true(sim_requests_overlap(&g_sim, "/service/"));
    assert_int_equal(sim_counter(&g_sim, "token_requests"), 1);
    assert_int_equal(sim_counter(&g_sim, "arm_requests"), 5);
    sim_reset(&g_sim);
    arm_client_free(c);
    config_free(&cfg);
}

static void test_cancelled(void **state)
{
    struct config cfg;
    struct arm_client *c = client_as(&cfg, DEMO_CONTRIBUTOR_ID, DEMO_CONTRIBUTOR_SECRET);
    atomic_int cancelled = 1;
    arm_set_cancel(c, &cancelled);
    util_error err;
    struct arm_result r;
    assert_int_equal(arm_get(c, "", &r, &err), UTIL_ECANCELLED);
    arm_result_free(&r);
    arm_client_free(c);
    config_free(&cfg);
}

static void check_report(const char *id, const char *secret, int read_only, const char *const *expect,
                         const char *const *absent)
{
    struct config cfg;
    struct arm_client *c = client_as(&cfg, id, secret);
    cfg.read_only = read_only;
    util_buf report;
    util_buf_init(&report, 0);
    util_error err;
    assert_int_equal(sim_request(&g_sim, "DELETE", "/_sim/counters", NULL, NULL), 204);
    assert_int_equal(arm_check(c, &report, &err), 0);
    assert_non_null(strstr(report.data, "ClientSecretCredential"));
    assert_non_null(strstr(report.data, "SKU"));
    assert_non_null(strstr(report.data, "region"));
    for (; expect && *expect; expect++)
        if (!strstr(report.data, *expect))
            fail_msg("report lacks \"%s\":\n%s", *expect, report.data);
    for (; absent && *absent; absent++)
        if (strstr(report.data, *absent))
            fail_msg("report has \"%s\":\n%s", *absent, report.data);
    /* --check never writes: only GETs reached ARM (the permissions list among them) */
    char *body = NULL;
    assert_int_equal(sim_request(&g_sim, "GET", "/_sim/counters", NULL, &body), 200);
    json_t *doc = json_loads(body, 0, NULL);
    json_t *routes = json_object_get(doc, "routes");
    const char *key;
    json_t *v;
    int saw_permissions = 0;
    json_object_foreach(routes, key, v) {
        if (strstr(key, "/subscriptions/") && strncmp(key, "GET ", 4) != 0)
            fail_msg("--check sent %s", key);
        saw_permissions |= strstr(key, "/providers/Microsoft.Authorization/permissions") != NULL;
    }
    assert_true(saw_permissions);
    json_decref(doc);
    free(body);
    util_buf_free(&report);
    arm_client_free(c);
    config_free(&cfg);
}

static void test_check(void **state)
{
    const char *contributor[] = {"read:           allowed", "write policies: allowed", "write backends: allowed",
                                 "read metrics:   allowed", "writes:     allowed", NULL};
    const char *no_warning[] = {"warning:", NULL};
    check_report(DEMO_CONTRIBUTOR_ID, DEMO_CONTRIBUTOR_SECRET, 0, contributor, no_warning);
    const char *reader[] = {"read:           allowed", "write policies: NOT allowed",
                            "write backends: NOT allowed (lacks Microsoft.ApiManagement/service/backends/write; "
                            "grant API Management Service Contributor)",
                            "read metrics:   allowed", "writes:     NOT allowed", NULL};
    check_report(DEMO_READER_ID, DEMO_READER_SECRET, 0, reader, no_warning);
    const char *reader_ro[] = {"writes:     disabled", NULL};
    check_report(DEMO_READER_ID, DEMO_READER_SECRET, 1, reader_ro, no_warning);
    /* an Owner: everything allowed, and a warning naming the least role that would do */
    assert_int_equal(sim_post(&g_sim, "/_sim/clients",
                              "{\"client_id\":\"aaaaaaaa-0000-0000-0000-0000000000e1\",\"tenant_id\":\"" DEMO_TENANT
                              "\",\"secret\":\"owner-secret-for-check\",\"role\":\"owner\"}"),
                     201);
    const char *owner[] = {"writes:     allowed", "warning:    the identity may write role assignments",
                           "API Management Service Contributor on the service, plus Monitoring Reader", NULL};
    check_report("aaaaaaaa-0000-0000-0000-0000000000e1", "owner-secret-for-check", 0, owner, NULL);
    /* Contributor: '*' less Microsoft.Authorization/ * /Write — wildcards in notActions count */
    assert_int_equal(sim_post(&g_sim, "/_sim/clients",
                              "{\"client_id\":\"aaaaaaaa-0000-0000-0000-0000000000e2\",\"tenant_id\":\"" DEMO_TENANT
                              "\",\"secret\":\"contrib-secret-for-check\",\"role\":\"contributor\","
                              "\"permissions\":[{\"actions\":[\"*\"],\"notActions\":[\"Microsoft.Authorization/*/Delete\","
                              "\"Microsoft.Authorization/*/Write\",\"Microsoft.ApiManagement/service/backends/*\"],"
                              "\"dataActions\":[],\"notDataActions\":[]}]}"),
                     201);
    const char *wide[] = {"write policies: allowed", "write backends: NOT allowed", "writes:     partly allowed",
                          "warning:    the identity holds '*'", NULL};
    const char *no_auth[] = {"role assignments", NULL};
    check_report("aaaaaaaa-0000-0000-0000-0000000000e2", "contrib-secret-for-check", 0, wide, no_auth);
    /* a custom role that reads everything but product policies: list_subscriptions could not run */
    assert_int_equal(sim_post(&g_sim, "/_sim/clients",
                              "{\"client_id\":\"aaaaaaaa-0000-0000-0000-0000000000e3\",\"tenant_id\":\"" DEMO_TENANT
                              "\",\"secret\":\"custom-secret-for-check\",\"role\":\"reader\","
                              "\"permissions\":[{\"actions\":[\"*/read\"],\"notActions\":["
                              "\"Microsoft.ApiManagement/service/products/policies/read\"],"
                              "\"dataActions\":[],\"notDataActions\":[]}]}"),
                     201);
    const char *custom[] = {"read:           NOT allowed (lacks Microsoft.ApiManagement/service/products/policies/read", NULL};
    check_report("aaaaaaaa-0000-0000-0000-0000000000e3", "custom-secret-for-check", 0, custom, NULL);
    /* a wrong secret: --check fails with the reason */
    struct config cfg;
    struct arm_client *c = client_as(&cfg, DEMO_CONTRIBUTOR_ID, "bad-secret-for-check");
    util_buf report;
    util_buf_init(&report, 0);
    util_error err;
    assert_int_equal(arm_check(c, &report, &err), UTIL_EAUTH);
    assert_non_null(strstr(err.message, "AADSTS7000215"));
    util_buf_free(&report);
    arm_client_free(c);
    config_free(&cfg);
}

/* The environment of the contract (tools.md §2), read by config_load, drives the client. */
struct env_pair {
    const char *name, *value;
};

static const char *fake_getenv(const char *name, void *user)
{
    for (const struct env_pair *p = user; p->name; p++)
        if (strcmp(p->name, name) == 0)
            return p->value;
    return NULL;
}

static void test_from_environment(void **state)
{
    struct env_pair env[] = {{"AZURE_SUBSCRIPTION_ID", DEMO_SUBSCRIPTION},
                             {"APIM_RESOURCE_GROUP", DEMO_RG},
                             {"APIM_SERVICE_NAME", DEMO_SERVICE},
                             {"AZURE_TENANT_ID", DEMO_TENANT},
                             {"AZURE_CLIENT_ID", DEMO_CONTRIBUTOR_ID},
                             {"AZURE_CLIENT_SECRET", DEMO_CONTRIBUTOR_SECRET},
                             {"AZURE_AUTHORITY_HOST", g_sim.base_url},
                             {"AZURE_RESOURCE_MANAGER_ENDPOINT", g_sim.base_url},
                             {"AIGW_AUDIT_LOG", "/tmp/aigw-test-arm-audit.jsonl"}, /* never written here */
                             {NULL, NULL}};
    char *argv[] = {"azure-ai-gateway-mcp", NULL};
    struct config cfg;
    bool exit_now = false;
    util_error err;
    assert_int_equal(config_load(&cfg, 1, argv, fake_getenv, env, &exit_now, NULL, &err), 0);
    struct arm_client *c = arm_client_new(&cfg, &err);
    if (!c)
        fail_msg("arm_client_new: %s", err.message);
    struct arm_result r;
    assert_int_equal(arm_get(c, "", &r, &err), 0);
    assert_string_equal(json_string_value(json_object_get(r.body, "name")), DEMO_SERVICE);
    arm_result_free(&r);
    arm_client_free(c);
    config_free(&cfg);
}

static void test_logs_hold_no_secret(void **state)
{
    assert_non_null(strstr(g_seen.data, "requesting a token"));
    assert_non_null(strstr(g_seen.data, "retry"));
    assert_null(strstr(g_seen.data, DEMO_CONTRIBUTOR_SECRET));
    assert_null(strstr(g_seen.data, DEMO_READER_SECRET));
    assert_null(strstr(g_seen.data, "bad-secret-for-check"));
    assert_null(strstr(g_seen.data, "eyJ"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_date_header),
        cmocka_unit_test(test_logs_query_second_audience),
        cmocka_unit_test(test_one_token_many_calls),
        cmocka_unit_test(test_refresh_on_expired_token),
        cmocka_unit_test(test_429_storm_succeeds),
        cmocka_unit_test(test_retry_after_is_honoured),
        cmocka_unit_test(test_dropped_connection_is_retried),
        cmocka_unit_test(test_503_gives_up),
        cmocka_unit_test(test_paging),
        cmocka_unit_test(test_stale_etag_conflict),
        cmocka_unit_test(test_forbidden_and_not_found),
        cmocka_unit_test(test_batch_concurrent_with_retry),
        cmocka_unit_test(test_cancelled),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_from_environment),
        cmocka_unit_test(test_logs_hold_no_secret),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
