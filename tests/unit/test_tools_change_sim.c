/* test_tools_change_sim: the change pipeline's multi-resource paths against a real apim-sim
 * child — a later write failing (APIM validation, a 412) undoes the earlier writes in reverse and
 * says so; a two-resource change is journaled once and reverted by change_plan_revert (the
 * created backend deleted, the policy restored). No MCP client: no elicitation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../src/tools/change.h"
#include "arm_test_env.h"

#define LEGACY_POLICY "apis/legacy-chat/policies/policy"

static struct sim_process g_sim;
static struct config g_cfg;
static struct tools_ctx *g_ctx;
static char g_dir[64];

static int setup(void **state)
{
    (void)state;
    if (sim_start(&g_sim, NULL) != 0)
        return -1;
    test_cfg_init(&g_cfg, &g_sim);
    test_cfg_secret(&g_cfg, DEMO_CONTRIBUTOR_ID, DEMO_CONTRIBUTOR_SECRET);
    snprintf(g_dir, sizeof g_dir, "/tmp/aigw-test-undo-XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    g_cfg.audit_log = util_printf("%s/audit.jsonl", g_dir);
    g_ctx = tools_ctx_new(&g_cfg);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tools_ctx_free(g_ctx);
    unlink(g_cfg.audit_log);
    rmdir(g_dir);
    config_free(&g_cfg);
    return sim_stop(&g_sim) == 0 ? 0 : -1;
}

/* The stored resource (NEW reference) or NULL, from /_sim/state. */
static json_t *stored(const char *rel)
{
    char *path = util_printf("/_sim/state?path=%s/%s", DEMO_SERVICE_ID, rel);
    json_t *j = sim_get_json(&g_sim, path);
    free(path);
    return j;
}

static char *stored_value(const char *rel)
{
    json_t *j = stored(rel);
    const char *v = json_string_value(json_object_get(json_object_get(json_object_get(j, "resource"), "properties"),
                                                      "value"));
    char *out = util_strdup(v);
    json_decref(j);
    return out;
}

static long journal_bytes(void)
{
    struct stat st;
    return stat(g_cfg.audit_log, &st) == 0 ? (long)st.st_size : 0;
}

static const char *text_of(json_t *result)
{
    return json_string_value(json_object_get(json_array_get(json_object_get(result, "content"), 0), "text"));
}

/* A change: legacy-chat's policy gets a comment, then backend `backend_id` is created with props. */
static struct change *two_writes(const char *backend_id, json_t *backend_props)
{
    util_error err = {0};
    struct arm_client *arm = tools_arm(g_ctx, &err);
    assert_non_null(arm);
    json_t *body = NULL;
    char *etag = NULL;
    assert_int_equal(change_read(arm, LEGACY_POLICY, "format=rawxml", &body, &etag, &err), 0);
    const char *xml = change_policy_text(body);
    char *new_xml = util_printf("<!-- edited -->\n%s", xml);
    json_t *after = change_policy_body(new_xml);
    struct change *ch = change_new(g_ctx, NULL, "test_tool", NULL);
    assert_int_equal(change_add(ch, &(struct change_write){.path = LEGACY_POLICY, .label = "policy of legacy-chat",
                                                           .read_query = "format=rawxml", .before = body,
                                                           .etag = etag, .after = after, .before_text = xml,
                                                           .after_text = new_xml}, &err), 0);
    char *bpath = util_printf("backends/%s", backend_id), *blabel = util_printf("backend %s", backend_id);
    json_t *bbody = json_pack("{s:O}", "properties", backend_props);
    char *btext = change_json_text(backend_props);
    assert_int_equal(change_add(ch, &(struct change_write){.path = bpath, .label = blabel, .after = bbody,
                                                           .after_text = btext}, &err), 0);
    free(bpath);
    free(blabel);
    free(btext);
    json_decref(bbody);
    json_decref(after);
    json_decref(body);
    free(etag);
    free(new_xml);
    return ch;
}

static void test_rejected_second_write_undoes_first(void **state)
{
    (void)state;
    char *original = stored_value(LEGACY_POLICY);
    json_t *bad = json_pack("{s:s, s:s}", "type", "Single", "protocol", "http"); /* no url: APIM refuses */
    struct change *ch = two_writes("bad-one", bad);
    json_decref(bad);
    json_t *r = change_run(ch, false);
    assert_true(json_is_true(json_object_get(r, "isError")));
    const char *t = text_of(r);
    assert_non_null(strstr(t, "APIM rejected the backend bad-one"));
    assert_non_null(strstr(t, "\n- url: "));
    assert_non_null(strstr(t, "policy of legacy-chat was written and then undone"));
    json_decref(r);
    char *now = stored_value(LEGACY_POLICY);
    assert_string_equal(now, original);
    json_t *b = stored("backends/bad-one");
    assert_null(b);
    assert_int_equal(journal_bytes(), 0); /* nothing journaled (the journal is created, empty, before writing) */
    free(now);
    free(original);
}

static void test_conflict_on_second_write_undoes_first(void **state)
{
    (void)state;
    char *original = stored_value(LEGACY_POLICY);
    assert_int_equal(sim_post(&g_sim, "/_sim/faults",
                              "{\"rules\":[{\"method\":\"PUT\",\"path_contains\":\"/backends/\",\"status\":412,"
                              "\"count\":1}]}"), 200);
    json_t *props = json_pack("{s:s, s:s}", "url", "https://x.example/openai", "protocol", "http");
    json_t *r = change_run(two_writes("conflicted", props), false);
    json_decref(props);
    sim_request(&g_sim, "DELETE", "/_sim/faults", NULL, NULL);
    assert_true(json_is_true(json_object_get(r, "isError")));
    const char *t = text_of(r);
    assert_non_null(strstr(t, "backend conflicted was changed by someone else since it was read"));
    assert_non_null(strstr(t, "Read it again and retry."));
    assert_non_null(strstr(t, "policy of legacy-chat was written and then undone"));
    json_decref(r);
    char *now = stored_value(LEGACY_POLICY);
    assert_string_equal(now, original);
    free(now);
    free(original);
}

static void test_applied_then_reverted(void **state)
{
    (void)state;
    char *original = stored_value(LEGACY_POLICY);
    json_t *props = json_pack("{s:s, s:s}", "url", "https://new.example/openai", "protocol", "http");
    json_t *r = change_run(two_writes("new-backend", props), false);
    json_decref(props);
    assert_false(json_is_true(json_object_get(r, "isError")));
    json_t *s = json_object_get(r, "structuredContent");
    assert_true(json_is_true(json_object_get(s, "applied")));
    char *id = util_strdup(json_string_value(json_object_get(s, "change_id")));
    json_decref(r);
    json_t *b = stored("backends/new-backend");
    assert_non_null(b);
    json_decref(b);

    util_error err = {0};
    json_t *rec = NULL;
    assert_int_equal(change_journal_find(g_cfg.audit_log, id, &rec, &err), 0);
    assert_int_equal(json_array_size(json_object_get(rec, "resources")), 2);
    struct change *ch = change_new(g_ctx, NULL, "revert_change", NULL);
    assert_int_equal(change_plan_revert(ch, tools_arm(g_ctx, &err), rec, &err), 0);
    json_decref(rec);
    r = change_run(ch, false);
    assert_false(json_is_true(json_object_get(r, "isError")));
    json_decref(r);
    char *now = stored_value(LEGACY_POLICY);
    assert_string_equal(now, original);
    assert_null(stored("backends/new-backend"));

    /* reverting the same change again: the policy no longer is as that change left it */
    assert_int_equal(change_journal_find(g_cfg.audit_log, id, &rec, &err), 0);
    ch = change_new(g_ctx, NULL, "revert_change", NULL);
    assert_int_equal(change_plan_revert(ch, tools_arm(g_ctx, &err), rec, &err), UTIL_ECONFLICT);
    assert_non_null(strstr(err.message, "was changed since change"));
    change_free(ch);
    json_decref(rec);
    free(now);
    free(id);
    free(original);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rejected_second_write_undoes_first),
        cmocka_unit_test(test_conflict_on_second_write_undoes_first),
        cmocka_unit_test(test_applied_then_reverted),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
