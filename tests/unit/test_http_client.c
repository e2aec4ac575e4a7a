/* test_http_client: the libcurl client against a real apim-sim — the loopback-only rule,
 * connection reuse (one TLS handshake over https with a test CA), certificate verification,
 * concurrent batches (proved by the simulator's request log), cancellation, the body cap, and
 * a refused connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arm_test_env.h"
#include "http.h"

static struct sim_process g_sim;

static int setup(void **state)
{
    return sim_start(&g_sim, NULL);
}

static int teardown(void **state)
{
    util_log_free_all();
    return sim_stop(&g_sim) == 0 ? 0 : -1;
}

static void test_url_rule(void **state)
{
    assert_true(http_url_allowed("https://management.azure.com/x", 0));
    assert_true(http_url_allowed("http://127.0.0.1:8080/x", 0));
    assert_true(http_url_allowed("http://localhost/x", 0));
    assert_false(http_url_allowed("http://management.azure.com/x", 0));
    assert_false(http_url_allowed("http://169.254.169.254/metadata", 0));
    assert_true(http_url_allowed("http://169.254.169.254/metadata", 1));
    assert_false(http_url_allowed("http://169.254.169.254.evil.example/", 1));
    assert_false(http_url_allowed("ftp://127.0.0.1/", 0));
    assert_false(http_url_allowed(NULL, 0));
    /* issue 14 item 9: user information moves the host; the host is compared whole, as libcurl parses it */
    assert_false(http_url_allowed("http://127.0.0.1:1@login.attacker.example/tenant/oauth2/v2.0/token", 0));
    assert_false(http_url_allowed("http://localhost@evil.example/", 0));
    assert_false(http_url_allowed("https://user:pw@management.azure.com/x", 0));
    assert_false(http_url_allowed("http://169.254.169.254:80@evil.example/", 1));
    assert_true(http_url_allowed("http://[::1]:8080/x", 0));

    struct http_client *c = http_client_new(NULL, NULL);
    struct http_request req = {.method = "GET", .url = "http://example.com/"};
    struct http_response resp;
    util_error err;
    assert_int_equal(http_perform(c, &req, &resp, &err), UTIL_EINVAL);
    assert_non_null(strstr(err.message, "only https://"));
    http_response_free(&resp);
    http_client_free(c);
}

static char *url(const char *path)
{
    return util_printf("%s%s", g_sim.base_url, path);
}

static void test_reuse_one_connection(void **state)
{
    struct http_client *c = http_client_new(NULL, NULL);
    char *u = url("/_sim/counters");
    for (int i = 0; i < 20; i++) {
        struct http_request req = {.method = "GET", .url = u};
        struct http_response resp;
        util_error err;
        assert_int_equal(http_perform(c, &req, &resp, &err), 0);
        assert_int_equal(resp.status, 200);
        assert_non_null(strstr(resp.body.data, "token_requests"));
        assert_int_equal(strlen(resp.client_request_id), 36);
        http_response_free(&resp);
    }
    struct http_stats st;
    http_client_stats(c, &st);
    assert_int_equal(st.requests, 20);
    assert_int_equal(st.new_connections, 1);
    free(u);
    http_client_free(c);
}

static void test_batch_runs_concurrently(void **state)
{
    sim_reset(&g_sim);
    assert_int_equal(sim_post(&g_sim, "/_sim/faults", "{\"latency_ms\": 300, \"rules\": []}"), 200);
    struct http_client *c = http_client_new(NULL, NULL);
    enum { N = 4 };
    char *u[N];
    struct http_request reqs[N];
    struct http_response resps[N];
    int rcs[N];
    util_error errs[N];
    memset(reqs, 0, sizeof reqs);
    for (int i = 0; i < N; i++) {
        u[i] = util_printf("%s/subscriptions/x%d/resourceGroups/r/providers/Microsoft.ApiManagement/service/s"
                           "?api-version=2024-05-01", g_sim.base_url, i);
        reqs[i].method = "GET";
        reqs[i].url = u[i];
    }
    assert_int_equal(http_perform_batch(c, N, reqs, resps, rcs, errs), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(rcs[i], 0);
        assert_int_equal(resps[i].status, 401); /* no token: the sim refuses, which is an answer */
        http_response_free(&resps[i]);
        free(u[i]);
    }
    sim_request(&g_sim, "DELETE", "/_sim/faults", NULL, NULL);
    assert_true(sim_requests_overlap(&g_sim, "/subscriptions/x"));
    http_client_free(c);
}

/* issue 15: several threads perform on one client at once (each on its own multi handle); a
 * flag raised for one thread cancels only that thread's request. */
struct performer {
    struct http_client *c;
    const char *url;
    atomic_int *cancel;
    int rc;
    long status;
};

static void *perform_one(void *arg)
{
    struct performer *p = arg;
    http_client_set_cancel(p->c, p->cancel);
    struct http_request req = {.method = "GET", .url = p->url};
    struct http_response resp;
    util_error err;
    p->rc = http_perform(p->c, &req, &resp, &err);
    p->status = resp.status;
    http_response_free(&resp);
    return NULL;
}

static void test_threads_share_one_client(void **state)
{
    sim_reset(&g_sim);
    assert_int_equal(sim_post(&g_sim, "/_sim/faults", "{\"latency_ms\": 300, \"rules\": []}"), 200);
    struct http_client *c = http_client_new(NULL, NULL);
    enum { N = 4 };
    pthread_t t[N];
    struct performer p[N];
    char *u[N];
    atomic_int stop_last = 0;
    for (int i = 0; i < N; i++) {
        u[i] = util_printf("%s/subscriptions/t%d/resourceGroups/r/providers/Microsoft.ApiManagement/service/s"
                           "?api-version=2024-05-01", g_sim.base_url, i);
        p[i] = (struct performer){.c = c, .url = u[i], .cancel = i == N - 1 ? &stop_last : NULL};
        pthread_create(&t[i], NULL, perform_one, &p[i]);
    }
    usleep(100000);
    atomic_store(&stop_last, 1);
    for (int i = 0; i < N; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < N - 1; i++) {
        assert_int_equal(p[i].rc, 0);
        assert_int_equal(p[i].status, 401);
        free(u[i]);
    }
    assert_int_equal(p[N - 1].rc, UTIL_ECANCELLED);
    free(u[N - 1]);
    sim_request(&g_sim, "DELETE", "/_sim/faults", NULL, NULL);
    assert_true(sim_requests_overlap(&g_sim, "/subscriptions/t"));
    struct http_stats st;
    http_client_stats(c, &st);
    assert_int_equal(st.requests, N);
    http_client_free(c);
}

struct canceller {
    atomic_int *flag;
};

static void *cancel_soon(void *arg)
{
    struct canceller *k = arg;
    struct timespec ts = {0, 200 * 1000000L};
    nanosleep(&ts, NULL);
    *k->flag = 1;
    return NULL;
}

static void test_cancel_aborts(void **state)
{
    /* the simulator holds the answer for 3 s; the flag is raised after 0.2 s */
    assert_int_equal(sim_request(&g_sim, "POST", "/_sim/faults", "{\"latency_ms\": 3000, \"rules\": []}", NULL), 200);
    struct http_client *c = http_client_new(NULL, NULL);
    atomic_int cancelled = 0;
    http_client_set_cancel(c, &cancelled);
    char *u = url("/subscriptions/x/resourceGroups/r/providers/Microsoft.ApiManagement/service/s"
                  "?api-version=2024-05-01");
    struct http_request req = {.method = "GET", .url = u};
    struct http_response resp;
    util_error err;
    struct canceller k = {&cancelled};
    pthread_t t;
    pthread_create(&t, NULL, cancel_soon, &k);
    int rc = http_perform(c, &req, &resp, &err);
    pthread_join(t, NULL);
    assert_int_equal(rc, UTIL_ECANCELLED);
    assert_int_equal(resp.status, 0);
    assert_non_null(strstr(err.message, "cancelled"));
    http_response_free(&resp);
    free(u);
    http_client_free(c);
    sim_request(&g_sim, "DELETE", "/_sim/faults", NULL, NULL);
}

static void test_body_cap(void **state)
{
    struct http_client *c = http_client_new(NULL, NULL);
    char *u = url("/_sim/counters"); /* {"token_requests": ..., "routes": ...}: more than 16 bytes */
    struct http_request req = {.method = "GET", .url = u, .max_body = 16};
    struct http_response resp;
    util_error err;
    assert_int_equal(http_perform(c, &req, &resp, &err), UTIL_ELIMIT);
    assert_non_null(strstr(err.message, "16 bytes"));
    http_response_free(&resp);
    free(u);
    http_client_free(c);
}

static void test_refused_connection(void **state)
{
    struct sim_process other;
    assert_int_equal(sim_start(&other, NULL), 0);
    char *u = util_printf("%s/_sim/counters", other.base_url);
    assert_int_equal(sim_stop(&other), 0);
    struct http_client *c = http_client_new(NULL, NULL);
    struct http_request req = {.method = "GET", .url = u};
    struct http_response resp;
    util_error err;
    assert_int_equal(http_perform(c, &req, &resp, &err), UTIL_ENET);
    assert_non_null(strstr(err.message, "127.0.0.1"));
    http_response_free(&resp);
    free(u);
    http_client_free(c);
}

static void test_tls_one_handshake_and_verification(void **state)
{
    char dir[] = "/tmp/aigw-http-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *cmd = util_printf("cd %s && openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem "
                            "-days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    char *cert = util_printf("%s/cert.pem", dir), *key = util_printf("%s/key.pem", dir);
    const char *args[] = {"--tls-cert", cert, "--tls-key", key, NULL};
    struct sim_process tls;
    assert_int_equal(sim_start(&tls, args), 0);
    char *u = util_printf("https://127.0.0.1:%d/_sim/counters", tls.port);

    struct http_client *c = http_client_new(cert, NULL); /* the test CA, as SSL_CERT_FILE would give */
    for (int i = 0; i < 10; i++) {
        struct http_request req = {.method = "GET", .url = u};
        struct http_response resp;
        util_error err;
        assert_int_equal(http_perform(c, &req, &resp, &err), 0);
        assert_int_equal(resp.status, 200);
        http_response_free(&resp);
    }
    struct http_stats st;
    http_client_stats(c, &st);
    assert_int_equal(st.new_connections, 1);
    http_client_free(c);

    /* without the CA the self-signed certificate is refused */
    c = http_client_new(NULL, NULL);
    struct http_request req = {.method = "GET", .url = u};
    struct http_response resp;
    util_error err;
    assert_int_equal(http_perform(c, &req, &resp, &err), UTIL_ENET);
    assert_non_null(strstr(err.message, "certificate"));
    http_response_free(&resp);
    http_client_free(c);

    assert_int_equal(sim_stop(&tls), 0);
    cmd = util_printf("rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd), free(u), free(cert), free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_rule),
        cmocka_unit_test(test_reuse_one_connection),
        cmocka_unit_test(test_batch_runs_concurrently),
        cmocka_unit_test(test_threads_share_one_client),
        cmocka_unit_test(test_cancel_aborts),
        cmocka_unit_test(test_body_cap),
        cmocka_unit_test(test_refused_connection),
        cmocka_unit_test(test_tls_one_handshake_and_verification),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
