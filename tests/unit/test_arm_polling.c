/* test_arm_polling: long-running operations (202 + Azure-AsyncOperation or Location), which
 * apim-sim does not produce, and the headers every ARM request carries. Tokens come from a real apim-sim; ARM is a tiny scripted server
 * on a loopback port (one thread, one answer per connection) that records what it was asked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "arm.h"
#include "arm_test_env.h"

#define SCRIPT_MAX 8

struct fake_arm {
    int fd;
    int port;
    pthread_t thread;
    const char *answers[SCRIPT_MAX]; /* full HTTP answers, "@PORT@" replaced by the port */
    size_t n;
    char seen[SCRIPT_MAX][256];      /* request lines received */
    char head[4096];                 /* the first request's whole head */
};

static struct sim_process g_sim;

static void read_request(int c, char *line, size_t n, char *head, size_t head_n)
{
    char buf[8192];
    size_t len = 0;
    while (len < sizeof buf - 1) {
        ssize_t r = read(c, buf + len, sizeof buf - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        const char *cl = strstr(buf, "Content-Length:");
        if (end && (!cl || len >= (size_t)(end + 4 - buf) + strtoul(cl + 15, NULL, 10)))
            break;
    }
    buf[len] = '\0';
    snprintf(line, n, "%.*s", (int)strcspn(buf, "\r\n"), buf);
    if (head) {
        size_t k = len < head_n - 1 ? len : head_n - 1;
        memcpy(head, buf, k);
        head[k] = '\0';
    }
}

static void *serve(void *arg)
{
    struct fake_arm *f = arg;
    for (size_t i = 0; i < f->n; i++) {
        int c = accept(f->fd, NULL, NULL);
        if (c < 0)
            break;
        read_request(c, f->seen[i], sizeof f->seen[i], i == 0 ? f->head : NULL, sizeof f->head);
        const char *a = f->answers[i], *at = strstr(a, "@PORT@");
        char *answer = at ? util_printf("%.*s%d%s", (int)(at - a), a, f->port, at + 6) : util_strdup(a);
        ssize_t w = write(c, answer, strlen(answer));
        (void)w;
        free(answer);
        close(c);
    }
    return NULL;
}

static void fake_start(struct fake_arm *f)
{
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    assert_int_equal(bind(f->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(f->fd, 8), 0);
    getsockname(f->fd, (struct sockaddr *)&a, &len);
    f->port = ntohs(a.sin_port);
    pthread_create(&f->thread, NULL, serve, f);
}

static void fake_stop(struct fake_arm *f)
{
    pthread_join(f->thread, NULL);
    close(f->fd);
}

static const char *answer(const char *status_and_headers, const char *body)
{
    static char store[SCRIPT_MAX * 2][1024];
    static int next;
    char *s = store[next++ % (SCRIPT_MAX * 2)];
    snprintf(s, sizeof store[0], "HTTP/1.1 %s\r\nConnection: close\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n\r\n%s", status_and_headers, strlen(body), body);
    return s;
}

static struct arm_client *client_for(struct config *cfg, const struct fake_arm *f)
{
    test_cfg_init(cfg, &g_sim);
    test_cfg_secret(cfg, DEMO_CONTRIBUTOR_ID, DEMO_CONTRIBUTOR_SECRET);
    char *ep = util_printf("http://127.0.0.1:%d", f->port);
    test_cfg_set(&cfg->arm_endpoint, ep);
    free(ep);
    struct arm_client *c = arm_client_new(cfg, NULL);
    assert_non_null(c);
    return c;
}

static int setup(void **state) { return sim_start(&g_sim, NULL); }

static int teardown(void **state)
{
    util_log_free_all();
    return sim_stop(&g_sim) == 0 ? 0 : -1;
}

static void test_async_operation_then_final_get(void **state)
{
    struct fake_arm f = {.n = 4};
    f.answers[0] = answer("202 Accepted\r\n"
                          "Azure-AsyncOperation: http://127.0.0.1:@PORT@/op/1?api-version=2024-05-01\r\n"
                          "Retry-After: 0", "");
    f.answers[1] = answer("200 OK\r\nRetry-After: 0", "{\"status\": \"InProgress\"}");
    f.answers[2] = answer("200 OK", "{\"status\": \"Succeeded\"}");
    f.answers[3] = answer("200 OK\r\nETag: \"v2\"", "{\"name\": \"b1\", \"properties\": {\"url\": \"https://x\"}}");
    fake_start(&f);
    struct config cfg;
    struct arm_client *c = client_for(&cfg, &f);
    json_t *body = json_pack("{s:{s:s}}", "properties", "url", "https://x");
    struct arm_result r;
    util_error err;
    assert_int_equal(arm_put(c, "backends/b1", body, NULL, &r, &err), 0);
    fake_stop(&f);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.etag, "\"v2\"");
    assert_string_equal(json_string_value(json_object_get(r.body, "name")), "b1");
    assert_true(util_str_starts_with(f.seen[0], "PUT " DEMO_SERVICE_ID "/backends/b1?api-version=2024-05-01"));
    assert_true(util_str_starts_with(f.seen[1], "GET /op/1?api-version=2024-05-01"));
    assert_true(util_str_starts_with(f.seen[2], "GET /op/1?api-version=2024-05-01"));
    assert_true(util_str_starts_with(f.seen[3], "GET " DEMO_SERVICE_ID "/backends/b1?api-version=2024-05-01"));
    arm_result_free(&r);
    json_decref(body);
    arm_client_free(c);
    config_free(&cfg);
}

static void test_location_polling(void **state)
{
    struct fake_arm f = {.n = 3};
    f.answers[0] = answer("202 Accepted\r\nLocation: http://127.0.0.1:@PORT@/loc/7?api-version=2024-05-01\r\n"
                          "Retry-After: 0", "");
    f.answers[1] = answer("202 Accepted\r\nRetry-After: 0", "");
    f.answers[2] = answer("204 No Content", "");
    fake_start(&f);
    struct config cfg;
    struct arm_client *c = client_for(&cfg, &f);
    struct arm_result r;
    util_error err;
    assert_int_equal(arm_delete(c, "backends/b1", "*", &r, &err), 0);
    fake_stop(&f);
    assert_int_equal(r.status, 204);
    assert_true(util_str_starts_with(f.seen[0], "DELETE "));
    /* what every ARM request carries */
    assert_non_null(strstr(f.head, "User-Agent: azure-ai-gateway-mcp/" AIGW_VERSION "\r\n"));
    assert_non_null(strstr(f.head, "x-ms-client-request-id: "));
    assert_non_null(strstr(f.head, "Authorization: Bearer "));
    assert_non_null(strstr(f.head, "If-Match: *\r\n"));
    assert_true(util_str_starts_with(f.seen[1], "GET /loc/7?api-version=2024-05-01"));
    assert_true(util_str_starts_with(f.seen[2], "GET /loc/7"));
    arm_result_free(&r);
    arm_client_free(c);
    config_free(&cfg);
}

static void test_failed_operation_and_foreign_poll_url(void **state)
{
    struct fake_arm f = {.n = 3};
    f.answers[0] = answer("202 Accepted\r\nAzure-AsyncOperation: http://127.0.0.1:@PORT@/op/2\r\nRetry-After: 0", "");
    f.answers[1] = answer("200 OK", "{\"status\": \"Failed\", \"error\": {\"code\": \"ValidationError\", "
                                    "\"message\": \"The url is not reachable.\"}}");
    f.answers[2] = answer("202 Accepted\r\nAzure-AsyncOperation: https://elsewhere.example/op/3", "");
    fake_start(&f);
    struct config cfg;
    struct arm_client *c = client_for(&cfg, &f);
    json_t *body = json_object();
    struct arm_result r;
    util_error err;
    assert_int_equal(arm_put(c, "backends/b2", body, NULL, &r, &err), UTIL_EREMOTE);
    assert_non_null(strstr(err.message, "failed while it ran (ValidationError: The url is not reachable.)"));
    assert_non_null(strstr(err.message, "backends/b2"));
    arm_result_free(&r);
    /* the token is never sent to a poll URL outside the ARM endpoint */
    assert_int_equal(arm_put(c, "backends/b3", body, NULL, &r, &err), UTIL_EREMOTE);
    assert_non_null(strstr(err.message, "refusing to send the token"));
    fake_stop(&f);
    arm_result_free(&r);
    json_decref(body);
    arm_client_free(c);
    config_free(&cfg);
}

/* A 202 whose server asks for absurd waits (overflowing numbers, a year as an HTTP date): the
 * values are capped before any arithmetic (UBSan aborts otherwise) and the poll comes when the
 * polling budget ends, not when the server asked: the call ends "had not finished", it never
 * hangs for the server's day. */
static void test_absurd_retry_after_ends_at_the_polling_budget(void **state)
{
    const char *waits[] = {"Retry-After: 99999999999999999999999", "retry-after-ms: 99999999999999999999999",
                           "x-ms-retry-after-ms: 9223372036854775807", "Retry-After: Fri, 31 Dec 9999 23:59:59 GMT"};
    for (size_t i = 0; i < sizeof waits / sizeof *waits; i++) {
        struct fake_arm f = {.n = 2};
        char first[256];
        snprintf(first, sizeof first, "202 Accepted\r\nLocation: http://127.0.0.1:@PORT@/loc/9\r\n%s", waits[i]);
        f.answers[0] = answer(first, "");
        f.answers[1] = answer("202 Accepted\r\nRetry-After: 86400", "");
        fake_start(&f);
        struct config cfg;
        struct arm_client *c = client_for(&cfg, &f);
        struct arm_retry_policy p = {3, 60000, 50, 1000, 400};
        arm_set_retry_policy(c, &p);
        struct arm_result r;
        util_error err;
        int rc = arm_delete(c, "backends/b9", "*", &r, &err);
        if (rc != UTIL_EREMOTE)
            fail_msg("%s: rc %d: %s", waits[i], rc, err.message);
        fake_stop(&f);
        assert_non_null(strstr(err.message, "had not finished"));
        assert_true(util_str_starts_with(f.seen[1], "GET /loc/9"));
        arm_result_free(&r);
        arm_client_free(c);
        config_free(&cfg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_async_operation_then_final_get),
        cmocka_unit_test(test_location_polling),
        cmocka_unit_test(test_failed_operation_and_foreign_poll_url),
        cmocka_unit_test(test_absurd_retry_after_ends_at_the_polling_budget),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
