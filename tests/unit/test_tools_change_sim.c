/* test_tools_change_sim: the change pipeline against a real apim-sim child — a later write failing
 * (APIM validation, a 412) undoes the earlier writes in reverse and says so; a two-resource change
 * is journaled once and reverted by change_plan_revert (the created backend deleted, the policy
 * restored). Under faults (issue 14): an unreadable 2xx is an error, no write without an ETag, a
 * write whose answer was lost is read back and journaled, a journal that cannot be written stops
 * the change before any write, a 202 that never finishes is journaled as pending and resolved by
 * a revert, a revert refuses when another field changed, arguments are journaled redacted.
 * No MCP client: no elicitation. */
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

static void faults(const char *rules)
{
    char *body = util_printf("{\"rules\":[%s]}", rules);
    assert_int_equal(sim_post(&g_sim, "/_sim/faults", body), 200);
    free(body);
}

static void clear_faults(void) { sim_request(&g_sim, "DELETE", "/_sim/faults", NULL, NULL); }

/* A change of legacy-chat's policy: a comment added in front (new_xml, heap, when asked). */
static struct change *policy_change(json_t *args, char **new_xml_out)
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
    struct change *ch = change_new(g_ctx, NULL, "test_tool", args);
    assert_int_equal(change_add(ch, &(struct change_write){.path = LEGACY_POLICY, .label = "policy of legacy-chat",
                                                           .read_query = "format=rawxml", .before = body,
                                                           .etag = etag, .after = after, .before_text = xml,
                                                           .after_text = new_xml}, &err), 0);
    json_decref(after);
    json_decref(body);
    free(etag);
    if (new_xml_out)
        *new_xml_out = new_xml;
    else
        free(new_xml);
    return ch;
}

/* Writes (PUT, PATCH, DELETE) in the simulator's request log since the counters were reset. */
static int writes_logged(void)
{
    json_t *log = sim_get_json(&g_sim, "/_sim/requests"), *q;
    size_t i;
    int n = 0;
    json_array_foreach(json_object_get(log, "requests"), i, q)
        n += strcmp(json_string_value(json_object_get(q, "method")), "GET") != 0;
    json_decref(log);
    return n;
}

/* The journal's last record (NEW reference) or NULL. */
static json_t *last_record(void)
{
    char *text = NULL;
    size_t len = 0;
    util_error err = {0};
    if (util_read_file(g_cfg.audit_log, 1 << 24, &text, &len, &err) != 0 || len < 2)
        return free(text), NULL;
    text[len - 1] = '\0';
    char *nl = strrchr(text, '\n');
    json_t *rec = json_loads(nl ? nl + 1 : text, 0, NULL);
    free(text);
    return rec;
}

/* A change: legacy-chat's policy gets a comment, then backend `backend_id` is created with props. */
static struct change *two_writes(const char *backend_id, json_t *backend_props)
{
    util_error err = {0};
    struct change *ch = policy_change(NULL, NULL);
    char *bpath = util_printf("backends/%s", backend_id), *blabel = util_printf("backend %s", backend_id);
    json_t *bbody = json_pack("{s:O}", "properties", backend_props);
    char *btext = change_json_text(backend_props);
    assert_int_equal(change_add(ch, &(struct change_write){.path = bpath, .label = blabel, .after = bbody,
                                                           .after_text = btext}, &err), 0);
    free(bpath);
    free(blabel);
    free(btext);
    json_decref(bbody);
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

/* also in issue 14: however long the failure's sentence, what became of each earlier write (here:
 * undone) is never cut from the result. */
static void test_undo_report_is_never_cut(void **state)
{
    (void)state;
    /* APIM refuses the backend with many details: the sentence alone nearly fills an error message */
    json_t *details = json_array();
    for (int i = 0; i < 20; i++)
        json_array_append_new(details, json_pack("{s:s, s:s}", "target", "url", "message",
                                                 "this detail is long enough that a few of them fill a message"));
    json_t *body = json_pack("{s:{s:s, s:s, s:o}}", "error", "code", "ValidationError", "message", "invalid",
                             "details", details);
    char *text = json_dumps(body, JSON_COMPACT);
    json_t *rule = json_pack("{s:[{s:s, s:s, s:i, s:s, s:i}]}", "rules", "method", "PUT", "path_contains",
                             "/backends/", "status", 400, "body", text, "count", 1);
    char *rules = json_dumps(rule, JSON_COMPACT);
    assert_int_equal(sim_post(&g_sim, "/_sim/faults", rules), 200);
    free(rules);
    free(text);
    json_decref(rule);
    json_decref(body);
    json_t *props = json_pack("{s:s, s:s}", "url", "https://x.example/openai", "protocol", "http");
    json_t *r = change_run(two_writes("long-failure", props), false);
    json_decref(props);
    clear_faults();
    assert_true(json_is_true(json_object_get(r, "isError")));
    assert_non_null(strstr(text_of(r), "policy of legacy-chat was written and then undone."));
    json_decref(r);
}

/* items 4-5: a write that could not be undone stays in effect and is journaled ("partial"), so
 * revert_change can finish the job. */
static void test_write_that_cannot_be_undone_is_journaled(void **state)
{
    (void)state;
    char *original = stored_value(LEGACY_POLICY);
    /* the backend create is refused; then the undo of the policy write is refused too */
    faults("{\"method\":\"PUT\",\"path_contains\":\"/backends/\",\"status\":400,\"count\":1},"
           "{\"method\":\"PUT\",\"path_contains\":\"/apis/legacy-chat/policies/policy\",\"skip\":1,\"status\":409,"
           "\"count\":1}");
    json_t *props = json_pack("{s:s, s:s}", "url", "https://x.example/openai", "protocol", "http");
    json_t *r = change_run(two_writes("never-made", props), false);
    json_decref(props);
    clear_faults();
    const char *t = text_of(r);
    assert_true(json_is_true(json_object_get(r, "isError")));
    assert_non_null(strstr(t, "policy of legacy-chat was written but could NOT be undone"));
    assert_non_null(strstr(t, "(partial)"));
    json_decref(r);
    json_t *rec = last_record();
    assert_string_equal(json_string_value(json_object_get(rec, "status")), "partial");
    json_t *res = json_object_get(rec, "resources");
    assert_int_equal(json_array_size(res), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(res, 0), "label")), "policy of legacy-chat");
    util_error err = {0};
    struct change *ch = change_new(g_ctx, NULL, "revert_change", NULL);
    assert_int_equal(change_plan_revert(ch, tools_arm(g_ctx, &err), rec, &err), 0);
    r = change_run(ch, false);
    assert_false(json_is_true(json_object_get(r, "isError")));
    json_decref(r);
    json_decref(rec);
    char *now = stored_value(LEGACY_POLICY);
    assert_string_equal(now, original);
    free(now);
    free(original);
}

/* item 4: the PUT reaches APIM but its answer is lost; the retry gets 412 (the ETag moved). The
 * change is live: it is read back, reported applied, and journaled. */
static void test_lost_answer_is_read_back_and_journaled(void **state)
{
    (void)state;
    char *new_xml = NULL;
    struct change *ch = policy_change(NULL, &new_xml);
    faults("{\"method\":\"PUT\",\"path_contains\":\"/apis/legacy-chat/policies/policy\",\"pass\":true,"
           "\"drop\":true,\"count\":1}");
    json_t *r = change_run(ch, false);
    clear_faults();
    const char *t = text_of(r);
    if (json_is_true(json_object_get(r, "isError")))
        fail_msg("%s", t);
    assert_null(strstr(t, "nothing was written"));
    assert_non_null(strstr(t, "was lost"));
    json_t *s = json_object_get(r, "structuredContent");
    assert_true(json_is_true(json_object_get(s, "applied")));
    json_t *rec = last_record();
    assert_string_equal(json_string_value(json_object_get(rec, "change_id")),
                        json_string_value(json_object_get(s, "change_id")));
    assert_string_equal(json_string_value(json_object_get(rec, "status")), "applied");
    assert_non_null(json_string_value(json_object_get(json_array_get(json_object_get(rec, "resources"), 0),
                                                      "etag_after")));
    char *now = stored_value(LEGACY_POLICY);
    assert_string_equal(now, new_xml);
    /* and it can be reverted */
    util_error err = {0};
    ch = change_new(g_ctx, NULL, "revert_change", NULL);
    assert_int_equal(change_plan_revert(ch, tools_arm(g_ctx, &err), rec, &err), 0);
    json_decref(r);
    r = change_run(ch, false);
    assert_false(json_is_true(json_object_get(r, "isError")));
    json_decref(r);
    json_decref(rec);
    free(now);
    free(new_xml);
}

/* item 2: a 2xx whose body cannot be read is an error, never "absent" or "empty". */
static void test_unreadable_2xx_is_an_error(void **state)
{
    (void)state;
    util_error err = {0};
    struct arm_client *arm = tools_arm(g_ctx, &err);
    json_t *body = NULL, *items = NULL;
    char *etag = NULL;
    const char *bodies[] = {"\"body\":\"{\\\"properties\\\":\"", "\"body\":\"\"", "\"body\":\"<html>ok</html>\""};
    for (size_t i = 0; i < 3; i++) {
        char *rule = util_printf("{\"method\":\"GET\",\"path_contains\":\"/apis/legacy-chat/policies/policy\","
                                 "\"status\":200,%s,\"count\":1}", bodies[i]);
        faults(rule);
        free(rule);
        assert_int_equal(change_read(arm, LEGACY_POLICY, "format=rawxml", &body, &etag, &err), UTIL_EREMOTE);
        assert_null(body);
        assert_non_null(strstr(err.message, "answered HTTP 200 with"));
    }
    faults("{\"method\":\"GET\",\"path_contains\":\"/apis\",\"status\":200,\"body\":\"{\\\"value\\\":[\",\"count\":1}");
    assert_int_equal(arm_list(arm, "apis", ARM_API_APIM, NULL, 0, &items, &err), UTIL_EREMOTE);
    assert_null(items);
    faults("{\"method\":\"GET\",\"path_contains\":\"/apis\",\"status\":200,\"body\":\"{}\",\"count\":1}");
    assert_int_equal(arm_list(arm, "apis", ARM_API_APIM, NULL, 0, &items, &err), UTIL_EREMOTE);
    assert_non_null(strstr(err.message, "\"value\" array"));
    clear_faults();
    assert_int_equal(arm_list(arm, "apis", ARM_API_APIM, NULL, 0, &items, &err), 0);
    assert_true(json_array_size(items) > 0);
    json_decref(items);
}

/* item 3: a resource read without an ETag is not written (If-Match could not protect it). */
static void test_no_etag_no_write(void **state)
{
    (void)state;
    char *original = stored_value(LEGACY_POLICY);
    long journal = journal_bytes();
    faults("{\"method\":\"GET\",\"path_contains\":\"/apis/legacy-chat/policies/policy\",\"pass\":true,"
           "\"strip_etag\":true,\"count\":1}");
    struct change *ch = policy_change(NULL, NULL);
    clear_faults();
    sim_request(&g_sim, "DELETE", "/_sim/counters", NULL, NULL);
    json_t *r = change_run(ch, false);
    assert_true(json_is_true(json_object_get(r, "isError")));
    assert_non_null(strstr(text_of(r), "without an ETag"));
    assert_non_null(strstr(text_of(r), "nothing was written"));
    json_decref(r);
    assert_int_equal(writes_logged(), 0);
    char *now = stored_value(LEGACY_POLICY);
    assert_string_equal(now, original);
    assert_int_equal(journal_bytes(), journal);
    free(now);
    free(original);
}

/* item 6: a journal that cannot be written stops the change before its first write. */
static void test_unwritable_journal_stops_before_writing(void **state)
{
    (void)state;
    char *original = stored_value(LEGACY_POLICY);
    char *saved = g_cfg.audit_log;
    g_cfg.audit_log = util_strdup(g_dir); /* a directory */
    json_t *r = change_run(policy_change(NULL, NULL), false);
    free(g_cfg.audit_log);
    g_cfg.audit_log = saved;
    assert_true(json_is_true(json_object_get(r, "isError")));
    assert_non_null(strstr(text_of(r), "nothing was written"));
    assert_non_null(strstr(text_of(r), "cannot open the change journal"));
    json_decref(r);
    char *now = stored_value(LEGACY_POLICY);
    assert_string_equal(now, original);
    free(now);
    free(original);
}

/* item 8: a 202 whose operation never finishes: outcome unknown, journaled as pending; a revert
 * finds the write never took effect and has nothing to do. */
static void test_unfinished_202_is_journaled_pending(void **state)
{
    (void)state;
    util_error err = {0};
    struct arm_client *arm = tools_arm(g_ctx, &err);
    arm_set_retry_policy(arm, &(struct arm_retry_policy){6, 60000, 800, 30000, 1000});
    char *original = stored_value(LEGACY_POLICY);
    struct change *ch = policy_change(NULL, NULL);
    char *rules = util_printf("{\"method\":\"PUT\",\"path_contains\":\"/apis/legacy-chat/policies/policy\","
                              "\"status\":202,\"headers\":{\"Location\":\"%s/subscriptions/%s/providers/"
                              "Microsoft.ApiManagement/operationResults/op1?api-version=2024-05-01\"},\"count\":1},"
                              "{\"method\":\"GET\",\"path_contains\":\"/operationResults/\",\"status\":202,"
                              "\"headers\":{\"Retry-After\":\"0\"}}", g_sim.base_url, DEMO_SUBSCRIPTION);
    faults(rules);
    free(rules);
    json_t *r = change_run(ch, false);
    clear_faults();
    arm_set_retry_policy(arm, &(struct arm_retry_policy){6, 60000, 800, 30000, 300000});
    const char *t = text_of(r);
    assert_true(json_is_true(json_object_get(r, "isError")));
    assert_non_null(strstr(t, "is unknown"));
    assert_non_null(strstr(t, "(pending)"));
    assert_null(strstr(t, "nothing was written"));
    json_decref(r);
    json_t *rec = last_record();
    assert_string_equal(json_string_value(json_object_get(rec, "status")), "pending");
    assert_int_equal(json_array_size(json_object_get(rec, "resources")), 1);
    ch = change_new(g_ctx, NULL, "revert_change", NULL);
    assert_int_equal(change_plan_revert(ch, arm, rec, &err), 0);
    r = change_run(ch, false);
    assert_false(json_is_true(json_object_get(r, "isError")));
    assert_non_null(strstr(text_of(r), "Nothing would change"));
    assert_non_null(strstr(text_of(r), "never took effect"));
    json_decref(r);
    /* the next change that writes settles the pending one in the journal */
    json_t *open_ones = change_journal_pending(g_cfg.audit_log);
    assert_int_equal(json_array_size(open_ones), 1);
    json_decref(open_ones);
    r = change_run(policy_change(NULL, NULL), false);
    assert_true(json_is_true(json_object_get(json_object_get(r, "structuredContent"), "applied")));
    char *warning = util_printf("change %s, left pending earlier, never took effect",
                                json_string_value(json_object_get(rec, "change_id")));
    assert_non_null(strstr(text_of(r), warning));
    free(warning);
    open_ones = change_journal_pending(g_cfg.audit_log);
    assert_int_equal(json_array_size(open_ones), 0);
    json_decref(open_ones);
    json_decref(rec);
    rec = last_record();
    ch = change_new(g_ctx, NULL, "revert_change", NULL);
    assert_int_equal(change_plan_revert(ch, arm, rec, &err), 0);
    json_decref(r);
    r = change_run(ch, false);
    assert_false(json_is_true(json_object_get(r, "isError")));
    json_decref(r);
    json_decref(rec);
    char *now = stored_value(LEGACY_POLICY);
    assert_string_equal(now, original);
    free(now);
    free(original);
}

/* item 7: someone else edited another field of the resource we changed: the revert refuses. */
static void test_revert_refuses_when_another_field_changed(void **state)
{
    (void)state;
    util_error err = {0};
    struct arm_client *arm = tools_arm(g_ctx, &err);
    json_t *body = NULL;
    char *etag = NULL;
    assert_int_equal(change_read(arm, "backends/legacy-aoai", NULL, &body, &etag, &err), 0);
    json_t *after = json_pack("{s:O}", "properties", json_object_get(body, "properties"));
    json_object_set_new(json_object_get(after, "properties"), "description", json_string("ours"));
    struct change *ch = change_new(g_ctx, NULL, "test_tool", NULL);
    assert_int_equal(change_add(ch, &(struct change_write){.path = "backends/legacy-aoai", .label = "backend legacy-aoai",
                                                           .before = body, .etag = etag, .after = after,
                                                           .before_text = "a\n", .after_text = "b\n"}, &err), 0);
    json_decref(after);
    json_decref(body);
    free(etag);
    json_t *r = change_run(ch, false);
    assert_true(json_is_true(json_object_get(json_object_get(r, "structuredContent"), "applied")));
    json_decref(r);
    json_t *rec = last_record();
    /* a re-save (new ETag, same content) does not block the revert */
    assert_int_equal(sim_post(&g_sim, "/_sim/touch", "{\"path\":\"" DEMO_SERVICE_ID "/backends/legacy-aoai\"}"), 200);
    ch = change_new(g_ctx, NULL, "revert_change", NULL);
    assert_int_equal(change_plan_revert(ch, arm, rec, &err), 0);
    change_free(ch);
    /* another field edited by someone else does */
    assert_int_equal(sim_post(&g_sim, "/_sim/touch", "{\"path\":\"" DEMO_SERVICE_ID "/backends/legacy-aoai\","
                              "\"properties\":{\"title\":\"someone else's\"}}"), 200);
    ch = change_new(g_ctx, NULL, "revert_change", NULL);
    assert_int_equal(change_plan_revert(ch, arm, rec, &err), UTIL_ECONFLICT);
    assert_non_null(strstr(err.message, "was changed since change"));
    change_free(ch);
    json_decref(rec);
}

/* item 11: arguments are journaled with URL queries and secret-named values redacted. */
static void test_journaled_arguments_are_redacted(void **state)
{
    (void)state;
    json_t *args = json_pack("{s:[{s:s, s:s}], s:s, s:{s:s}}", "backends", "backend_id", "b1", "url",
                             "https://aoai.example/openai?api-key=SECRETKEY12345", "client_secret", "hush-hush-1234",
                             "nested", "url", "https://x.example/?sig=SIGNATURE999");
    json_t *r = change_run(policy_change(args, NULL), false);
    json_decref(args);
    assert_true(json_is_true(json_object_get(json_object_get(r, "structuredContent"), "applied")));
    json_decref(r);
    char *text = NULL;
    size_t len = 0;
    util_error err = {0};
    assert_int_equal(util_read_file(g_cfg.audit_log, 1 << 24, &text, &len, &err), 0);
    assert_null(strstr(text, "SECRETKEY12345"));
    assert_null(strstr(text, "hush-hush-1234"));
    assert_null(strstr(text, "SIGNATURE999"));
    assert_non_null(strstr(text, "https://aoai.example/openai?[redacted query]"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rejected_second_write_undoes_first),
        cmocka_unit_test(test_conflict_on_second_write_undoes_first),
        cmocka_unit_test(test_applied_then_reverted),
        cmocka_unit_test(test_undo_report_is_never_cut),
        cmocka_unit_test(test_write_that_cannot_be_undone_is_journaled),
        cmocka_unit_test(test_lost_answer_is_read_back_and_journaled),
        cmocka_unit_test(test_unreadable_2xx_is_an_error),
        cmocka_unit_test(test_no_etag_no_write),
        cmocka_unit_test(test_unwritable_journal_stops_before_writing),
        cmocka_unit_test(test_unfinished_202_is_journaled_pending),
        cmocka_unit_test(test_revert_refuses_when_another_field_changed),
        cmocka_unit_test(test_journaled_arguments_are_redacted),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
