/* test_tools_drill: the journal's open failover drills (rehearse_failover) — which records keep a
 * drill open (its open and applied records) and which close it (closes, an applied revert), torn
 * lines skipped, the last record of an id found — and their recovery against a real apim-sim: a
 * drill left open by a dead process is put back once its deadline has passed (background thread
 * of the next process), reported by --check while it has not, and a pool changed meanwhile is
 * reported and never overwritten. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../src/tools/change.h"
#include "../../src/tools/drill.h"
#include "arm_test_env.h"
#include "platform.h"

static char g_dir[64];
static char *g_path;

static int setup_dir(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/aigw-test-drill-XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    g_path = util_printf("%s/audit.jsonl", g_dir);
    return 0;
}

static int teardown_dir(void **state)
{
    (void)state;
    unlink(g_path);
    rmdir(g_dir);
    free(g_path);
    return 0;
}

static void write_journal(const char *text)
{
    FILE *f = fopen(g_path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

#define REC(id, status, extra)                                                                                     \
    "{\"change_id\":\"" id "\",\"status\":\"" status "\",\"tool\":\"rehearse_failover\",\"drill\":{\"pool_id\":"   \
    "\"p\",\"backend_id\":\"m\",\"deadline\":\"2026-01-01T00:00:00Z\"},\"resources\":[{\"path\":\"backends/p\"" extra "}]}\n"

static void test_open_drills_from_the_journal(void **state)
{
    (void)state;
    write_journal("{\"change_id\":\"x\",\"status\":\"applied\",\"tool\":\"apply_policy\",\"resources\":[]}\n"
                  REC("a", "open", "") REC("a", "applied", ",\"etag_after\":\"E2\"")
                  REC("b", "open", "") "{\"change_id\":\"c1\",\"closes\":\"b\",\"outcome\":\"restored\"}\n"
                  REC("c", "open", "") REC("c", "applied", "")
                  "{\"change_id\":\"r1\",\"status\":\"applied\",\"reverts\":\"c\",\"resources\":[]}\n"
                  REC("d", "open", "") "{\"change_id\":\"r2\",\"status\":\"partial\",\"reverts\":\"d\"}\n"
                  "{\"change_id\":\"torn\",\"drill\":{\"pool");
    json_t *open = change_journal_open_drills(g_path);
    /* a: open then applied (the applied record, with the ETag of our write); b: closed; c: reverted;
     * d: a revert that did not apply leaves it open; the torn last line is skipped */
    assert_int_equal(json_array_size(open), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(open, 0), "change_id")), "a");
    assert_string_equal(json_string_value(json_object_get(json_array_get(open, 0), "status")), "applied");
    assert_string_equal(json_string_value(json_object_get(json_array_get(open, 1), "change_id")), "d");
    json_decref(open);

    /* change_journal_find gives the LAST record of an id: the applied one */
    json_t *rec = NULL;
    util_error err = {0};
    assert_int_equal(change_journal_find(g_path, "a", &rec, &err), 0);
    assert_string_equal(json_string_value(json_object_get(rec, "status")), "applied");
    json_decref(rec);
}

static void test_no_drill_no_scan(void **state)
{
    (void)state;
    write_journal("{\"change_id\":\"x\",\"status\":\"applied\",\"tool\":\"apply_policy\",\"resources\":[]}\n");
    json_t *open = change_journal_open_drills(g_path);
    assert_int_equal(json_array_size(open), 0);
    json_decref(open);
    open = change_journal_open_drills("/nonexistent/aigw/audit.jsonl");
    assert_int_equal(json_array_size(open), 0);
    json_decref(open);
    assert_int_equal(drill_deadline(NULL), 0);
}

/* ---- recovery against apim-sim ----------------------------------------------------------- */

#define POOL "backends/aoai-pool"

static struct sim_process g_sim;
static struct config g_cfg;

static int setup_sim(void **state)
{
    if (setup_dir(state) || sim_start(&g_sim, NULL) != 0)
        return -1;
    test_cfg_init(&g_cfg, &g_sim);
    test_cfg_secret(&g_cfg, DEMO_CONTRIBUTOR_ID, DEMO_CONTRIBUTOR_SECRET);
    g_cfg.audit_log = util_strdup(g_path);
    g_cfg.drill_speedup = 1;
    return 0;
}

static int teardown_sim(void **state)
{
    config_free(&g_cfg);
    int rc = sim_stop(&g_sim);
    return teardown_dir(state) || rc ? -1 : 0;
}

static size_t members(struct arm_client *arm)
{
    struct arm_result res = {0};
    util_error err = {0};
    assert_int_equal(arm_get(arm, POOL, &res, &err), 0);
    size_t n = json_array_size(json_object_get(json_object_get(json_object_get(res.body, "properties"), "pool"),
                                               "services"));
    arm_result_free(&res);
    return n;
}

/* Takes the first member out as a drill would, journals its open + applied records with the
 * given deadline (seconds from the gateway's now), and returns the drill id (static). */
static const char *take_out(struct arm_client *arm, int64_t deadline_from_now)
{
    static char id[37];
    util_uuid4(id);
    struct arm_result res = {0};
    util_error err = {0};
    assert_int_equal(arm_get(arm, POOL, &res, &err), 0);
    assert_true(res.date > 0); /* the gateway's clock: apim-sim's Date header */
    json_t *before = json_pack("{s:O}", "properties", json_object_get(res.body, "properties"));
    json_t *after = json_deep_copy(before);
    json_array_remove(json_object_get(json_object_get(json_object_get(after, "properties"), "pool"), "services"), 0);
    char deadline[32];
    util_time_iso8601(res.date + deadline_from_now, deadline, sizeof deadline);
    json_t *rec = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:[{s:s, s:O, s:s, s:O}]}", "change_id", id,
                            "status", "open", "tool", "rehearse_failover", "drill", "api_id", "aoai-completions",
                            "pool_id", "aoai-pool", "backend_id", "eastus-aoai", "deadline", deadline, "resources",
                            "path", POOL, "before", before, "etag_before", res.etag, "after", after);
    assert_int_equal(change_journal_append(g_path, rec, &err), 0);
    struct arm_result put = {0};
    assert_int_equal(arm_put(arm, POOL, after, res.etag, &put, &err), 0);
    json_object_set_new(rec, "status", json_string("applied"));
    json_object_set_new(json_array_get(json_object_get(rec, "resources"), 0), "etag_after", json_string(put.etag));
    assert_int_equal(change_journal_append(g_path, rec, &err), 0);
    arm_result_free(&put);
    arm_result_free(&res);
    json_decref(rec);
    json_decref(before);
    json_decref(after);
    return id;
}

static bool closed(const char *id)
{
    json_t *open = change_journal_open_drills(g_path), *r;
    size_t i;
    bool found = false;
    json_array_foreach(open, i, r)
        found = found || !strcmp(json_string_value(json_object_get(r, "change_id")), id);
    json_decref(open);
    return !found;
}

static void test_next_process_restores_after_the_deadline(void **state)
{
    (void)state;
    struct tools_ctx *dead = tools_ctx_new(&g_cfg); /* the process that "dies" */
    util_error err = {0};
    struct arm_client *arm = tools_arm(dead, &err);
    assert_non_null(arm);
    const char *id = take_out(arm, 2); /* the deadline: 2 s from now on the gateway clock */
    assert_int_equal(members(arm), 1);

    /* --check before the deadline: reported, not restored */
    struct tools_ctx *check = tools_ctx_new(&g_cfg);
    util_buf report;
    util_buf_init(&report, 0);
    drill_check(check, tools_arm(check, &err), &report);
    assert_non_null(strstr(report.data, "OPEN failover drill"));
    assert_non_null(strstr(report.data, id));
    util_buf_free(&report);
    tools_ctx_free(check);
    assert_int_equal(members(arm), 1);

    /* the next process: its first call finds the drill; every result carries the note until it is closed */
    struct tools_ctx *next = tools_ctx_new(&g_cfg);
    drill_startup(next);
    json_t *r = drill_annotate(next, mcp_result_ok(NULL, "x"), NULL);
    assert_int_equal(json_array_size(json_object_get(r, "content")), 2);
    json_decref(r);
    for (int i = 0; i < 100 && !closed(id); i++)
        platform_sleep_ms(100);
    assert_true(closed(id));
    assert_int_equal(members(arm), 2);
    r = drill_annotate(next, mcp_result_ok(NULL, "x"), NULL);
    assert_int_equal(json_array_size(json_object_get(r, "content")), 1);
    json_decref(r);
    tools_ctx_free(next);
    tools_ctx_free(dead);
}

static void test_check_restores_past_the_deadline(void **state)
{
    (void)state;
    struct tools_ctx *ctx = tools_ctx_new(&g_cfg);
    util_error err = {0};
    struct arm_client *arm = tools_arm(ctx, &err);
    const char *id = take_out(arm, -5); /* its deadline passed while no server ran */
    assert_int_equal(members(arm), 1);
    util_buf report;
    util_buf_init(&report, 0);
    drill_check(ctx, arm, &report);
    assert_non_null(strstr(report.data, "it was put back"));
    util_buf_free(&report);
    assert_int_equal(members(arm), 2);
    assert_true(closed(id));
    tools_ctx_free(ctx);
}

static void test_a_pool_changed_meanwhile_is_not_overwritten(void **state)
{
    (void)state;
    struct tools_ctx *ctx = tools_ctx_new(&g_cfg);
    util_error err = {0};
    struct arm_client *arm = tools_arm(ctx, &err);
    const char *id = take_out(arm, -1); /* already past its deadline */
    /* someone changes the pool's description meanwhile */
    struct arm_result res = {0};
    assert_int_equal(arm_get(arm, POOL, &res, &err), 0);
    json_t *body = json_pack("{s:O}", "properties", json_object_get(res.body, "properties"));
    json_object_set_new(json_object_get(body, "properties"), "description", json_string("changed by someone"));
    struct arm_result put = {0};
    assert_int_equal(arm_put(arm, POOL, body, res.etag, &put, &err), 0);
    arm_result_free(&put);
    arm_result_free(&res);
    json_decref(body);

    json_t *open = change_journal_open_drills(g_path);
    json_t *out = drill_restore(ctx, arm, json_array_get(open, json_array_size(open) - 1), "test");
    assert_false(json_is_true(json_object_get(out, "restored")));
    assert_true(json_is_true(json_object_get(out, "closed")));
    assert_non_null(strstr(json_string_value(json_object_get(out, "outcome")), "NOT restored"));
    assert_int_equal(members(arm), 1); /* not overwritten */
    assert_true(closed(id));
    json_decref(out);
    json_decref(open);
    tools_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest journal[] = {
        cmocka_unit_test_setup_teardown(test_open_drills_from_the_journal, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_no_drill_no_scan, setup_dir, teardown_dir),
    };
    const struct CMUnitTest sim[] = {
        cmocka_unit_test_setup_teardown(test_next_process_restores_after_the_deadline, setup_sim, teardown_sim),
        cmocka_unit_test_setup_teardown(test_check_restores_past_the_deadline, setup_sim, teardown_sim),
        cmocka_unit_test_setup_teardown(test_a_pool_changed_meanwhile_is_not_overwritten, setup_sim, teardown_sim),
    };
    int failed = cmocka_run_group_tests_name("journal", journal, NULL, NULL);
    return failed + cmocka_run_group_tests_name("recovery", sim, NULL, NULL);
}
