/* test_sim_resources: apim-sim's resource layer without HTTP — the demo scenario loads, lists
 * page with count/nextLink/$top/$skip/$filter, PUT/PATCH/DELETE honour If-Match and ETags,
 * subscription keys stay hidden, pools are validated, and deletes cascade. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define SVC "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-aigw-demo/providers/Microsoft.ApiManagement/service/apim-aigw-demo"

typedef struct fixture {
    sim_state st;
    sim_response resp;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    sim_options o = {.scenario = "demo", .host = "127.0.0.1", .token_lifetime = 60, .page_size = 2};
    util_error err = {0};
    if (sim_state_init(&f->st, &o, &err) != 0 || sim_scenario_load(&f->st, "demo", &err) != 0) {
        print_message("setup: %s\n", err.message);
        return -1;
    }
    sim_response_init(&f->resp);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    sim_response_clear(&f->resp);
    sim_state_free(&f->st);
    free(f);
    return 0;
}

/* Runs one request; query is "k=v&k=v" (no escaping), headers "name:value" pairs or NULL. */
static sim_response *call(fixture *f, const char *method, const char *rel, const char *query, const char *if_match,
                          const char *body)
{
    json_t *q = json_object(), *h = json_object();
    json_object_set_new(q, "api-version", json_string("2024-05-01"));
    char *copy = util_strdup(query ? query : ""), *save = NULL;
    for (char *kv = strtok_r(copy, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        *eq = '\0';
        json_object_set_new(q, kv, json_string(eq + 1));
    }
    free(copy);
    if (if_match)
        json_object_set_new(h, "if-match", json_string(if_match));
    char *path = util_printf("%s/%s", SVC, rel);
    sim_request req = {method, path, q, h, body ? body : "", body ? strlen(body) : 0, "http://127.0.0.1:1"};
    sim_response_clear(&f->resp);
    sim_response_init(&f->resp);
    sim_resources_handle(&f->st, &req, rel, &f->resp);
    json_decref(q);
    json_decref(h);
    free(path);
    return &f->resp;
}

static const char *etag_of(sim_response *r) { return json_string_value(json_object_get(r->headers, "ETag")); }

static void test_paging(void **state)
{
    fixture *f = *state;
    sim_response *r = call(f, "GET", "subscriptions", NULL, NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_int_equal(json_array_size(json_object_get(r->body, "value")), 2);
    assert_int_equal(json_integer_value(json_object_get(r->body, "count")), 4);
    const char *next = json_string_value(json_object_get(r->body, "nextLink"));
    assert_non_null(next);
    assert_true(util_str_starts_with(next, "http://127.0.0.1:1" SVC "/subscriptions?api-version=2024-05-01"));
    assert_non_null(strstr(next, "%24skip=2"));
    r = call(f, "GET", "subscriptions", "$skip=2", NULL, NULL);
    assert_int_equal(json_array_size(json_object_get(r->body, "value")), 2);
    assert_null(json_object_get(r->body, "nextLink"));
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r->body, "value"), 1), "name")),
                        "free-experiments");
    r = call(f, "GET", "subscriptions", "$top=1", NULL, NULL);
    assert_int_equal(json_array_size(json_object_get(r->body, "value")), 1);
    assert_null(json_object_get(r->body, "nextLink"));
    r = call(f, "GET", "subscriptions", "$top=3", NULL, NULL);
    assert_non_null(strstr(json_string_value(json_object_get(r->body, "nextLink")), "%24top=1"));
    r = call(f, "GET", "subscriptions", "$filter=state eq 'active' and startswith(name,'g')", NULL, NULL);
    assert_int_equal(json_integer_value(json_object_get(r->body, "count")), 1);
    r = call(f, "GET", "subscriptions", "$top=x", NULL, NULL);
    assert_int_equal(r->status, 400);
    r = call(f, "GET", "subscriptions", "$filter=bogus", NULL, NULL);
    assert_int_equal(r->status, 400);
}

static void test_keys_hidden(void **state)
{
    fixture *f = *state;
    sim_response *r = call(f, "GET", "subscriptions/growth", NULL, NULL, NULL);
    char *text = json_dumps(r->body, 0);
    assert_null(strstr(text, "demo-growth-primary-key"));
    free(text);
    r = call(f, "POST", "subscriptions/growth/listSecrets", NULL, NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(r->body, "primaryKey")), "demo-growth-primary-key");
    r = call(f, "GET", "namedValues/legacy-aoai-key", NULL, NULL, NULL);
    assert_null(json_object_get(json_object_get(r->body, "properties"), "value"));
    r = call(f, "POST", "namedValues/legacy-aoai-key/listValue", NULL, NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(r->body, "value")), "demo-legacy-key-not-real");
}

static void test_etags_and_if_match(void **state)
{
    fixture *f = *state;
    sim_response *r = call(f, "GET", "backends/eastus-aoai", NULL, NULL, NULL);
    char *etag = util_strdup(etag_of(r));
    r = call(f, "PATCH", "backends/eastus-aoai", NULL, "\"nope\"", "{\"properties\":{\"description\":\"x\"}}");
    assert_int_equal(r->status, 412);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r->body, "error"), "code")), "PreconditionFailed");
    r = call(f, "PATCH", "backends/eastus-aoai", NULL, etag, "{\"properties\":{\"description\":\"x\"}}");
    assert_int_equal(r->status, 200);
    assert_string_not_equal(etag_of(r), etag);
    r = call(f, "PUT", "backends/eastus-aoai", NULL, etag, "{\"properties\":{\"url\":\"https://a\",\"protocol\":\"http\"}}");
    assert_int_equal(r->status, 412);
    free(etag);
}

static void test_pool_and_cascade(void **state)
{
    fixture *f = *state;
    sim_response *r = call(f, "PUT", "backends/p", NULL, NULL,
                           "{\"properties\":{\"type\":\"Pool\",\"pool\":{\"services\":[{\"id\":\"" SVC "/backends/none\"}]}}}");
    assert_int_equal(r->status, 400);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r->body, "error"), "code")), "ValidationError");
    r = call(f, "DELETE", "backends/eastus-aoai", NULL, "*", NULL);
    assert_int_equal(r->status, 400); /* in use by aoai-pool */
    r = call(f, "DELETE", "apis/legacy-chat", NULL, "*", NULL);
    assert_int_equal(r->status, 200);
    r = call(f, "GET", "apis/legacy-chat/policies/policy", NULL, NULL, NULL);
    assert_int_equal(r->status, 404);
    assert_null(sim_state_get(&f->st, SVC "/apis/legacy-chat/operations/chat"));
    r = call(f, "GET", "nonsense/x", NULL, NULL, NULL);
    assert_int_equal(r->status, 404);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r->body, "error"), "code")), "InvalidResourceType");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_hidden, setup, teardown),
        cmocka_unit_test_setup_teardown(test_etags_and_if_match, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_and_cascade, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    util_log_free_all();
    return rc;
}
