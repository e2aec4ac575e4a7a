/* test_tools_change: the pure parts of the change pipeline — the journal (file and directory
 * modes, one line per record, lookup by change_id, torn or foreign lines skipped), the stable JSON
 * rendering for diffs, policy bodies, and the plan a dry run returns (unchanged writes dropped,
 * one diff section per resource, before/after views) without any network. */
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

static char *temp_dir(void)
{
    char tmpl[] = "/tmp/aigw-test-change-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return util_strdup(d);
}

static void test_journal_append_and_find(void **state)
{
    (void)state;
    char *dir = temp_dir();
    char *path = util_printf("%s/nested/deeper/audit.jsonl", dir);
    util_error err = {0};
    json_t *r1 = json_pack("{s:s, s:s, s:{s:s}}", "change_id", "11111111-1111-4111-8111-111111111111", "tool", "a",
                           "arguments", "policy_xml", "<policies>\n</policies>");
    json_t *r2 = json_pack("{s:s, s:s}", "change_id", "22222222-2222-4222-8222-222222222222", "tool", "b");
    assert_int_equal(change_journal_append(path, r1, &err), 0);
    assert_int_equal(change_journal_append(path, r2, &err), 0);

    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char *parent = util_printf("%s/nested/deeper", dir);
    assert_int_equal(stat(parent, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);

    char *text = NULL;
    size_t len = 0;
    assert_int_equal(util_read_file(path, 1 << 20, &text, &len, &err), 0);
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    assert_int_equal(lines, 2); /* one line per record: the newline inside the XML is escaped */
    assert_true(text[len - 1] == '\n');
    free(text);

    json_t *found = NULL;
    assert_int_equal(change_journal_find(path, "22222222-2222-4222-8222-222222222222", &found, &err), 0);
    assert_string_equal(json_string_value(json_object_get(found, "tool")), "b");
    json_decref(found);
    assert_int_equal(change_journal_find(path, "33333333-3333-4333-8333-333333333333", &found, &err),
                     UTIL_ENOTFOUND);
    assert_null(found);
    assert_non_null(strstr(err.message, "no change 33333333-3333-4333-8333-333333333333"));

    json_decref(r1);
    json_decref(r2);
    unlink(path);
    free(path);
    free(parent);
    free(dir);
}

static void test_journal_skips_torn_and_foreign_lines(void **state)
{
    (void)state;
    char *dir = temp_dir();
    char *path = util_printf("%s/audit.jsonl", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    /* a torn line that mentions the id, a record whose arguments mention it, then the real one */
    fputs("{\"change_id\":\"44444444-4444-4444-8444-444444444444\",\"tool\":\"x\n", f);
    fputs("{\"change_id\":\"other\",\"arguments\":{\"change_id\":\"44444444-4444-4444-8444-444444444444\"}}\n", f);
    fputs("{\"change_id\":\"44444444-4444-4444-8444-444444444444\",\"tool\":\"real\"}\n", f);
    fclose(f);
    util_error err = {0};
    json_t *found = NULL;
    assert_int_equal(change_journal_find(path, "44444444-4444-4444-8444-444444444444", &found, &err), 0);
    assert_string_equal(json_string_value(json_object_get(found, "tool")), "real");
    json_decref(found);
    unlink(path);
    assert_int_equal(change_journal_find(path, "44444444-4444-4444-8444-444444444444", &found, &err),
                     UTIL_ENOTFOUND);
    json_t *empty = json_object();
    assert_int_equal(change_journal_append(NULL, empty, &err), UTIL_ECONFIG);
    json_decref(empty);
    free(path);
    free(dir);
}

/* issue 14 item 6: a journal whose last line was cut (crash, full disk) gets the next record on a
 * line of its own, and a journal that cannot be written is found out before any write. */
static void test_journal_repairs_a_partial_tail(void **state)
{
    (void)state;
    char *dir = temp_dir();
    char *path = util_printf("%s/audit.jsonl", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"change_id\":\"55555555-5555-4555-8555-555555555555\",\"tool\":\"cut in the mid", f); /* no '\n' */
    fclose(f);
    util_error err = {0};
    json_t *rec = json_pack("{s:s, s:s}", "change_id", "66666666-6666-4666-8666-666666666666", "tool", "next");
    assert_int_equal(change_journal_append(path, rec, &err), 0);
    json_t *found = NULL;
    assert_int_equal(change_journal_find(path, "66666666-6666-4666-8666-666666666666", &found, &err), 0);
    assert_string_equal(json_string_value(json_object_get(found, "tool")), "next");
    json_decref(found);
    /* a well-ended journal gets no blank line */
    assert_int_equal(change_journal_append(path, rec, &err), 0);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(util_read_file(path, 1 << 20, &text, &len, &err), 0);
    assert_null(strstr(text, "\n\n"));
    free(text);
    json_decref(rec);
    /* writability: a directory, a missing setting */
    assert_int_equal(change_journal_check(path, &err), 0);
    assert_int_equal(change_journal_check(dir, &err), UTIL_EIO);
    assert_non_null(strstr(err.message, "cannot open the change journal"));
    assert_int_equal(change_journal_check(NULL, &err), UTIL_ECONFIG);
    unlink(path);
    rmdir(dir);
    free(path);
    free(dir);
}

/* issue 14 item 1: no id can change the path it is put in. */
static void test_ids_cannot_move_the_path(void **state)
{
    (void)state;
    util_error err = {0};
    const char *bad[] = {".", "..", "...", "a/b", "a%2e", "a+b", "a?b", "a#b", "a b", "a\\b", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(tools_check_id("api_id", bad[i], &err), UTIL_EINVAL);
    assert_int_equal(tools_check_id("api_id", "..", &err), UTIL_EINVAL);
    assert_non_null(strstr(err.message, "dots only"));
    const char *good[] = {"aoai", "a.b", "..a", "a..", "v1;rev=2", "team_a-1"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_int_equal(tools_check_id("api_id", good[i], &err), 0);
    char *p = tools_policy_path("api", "..", NULL, NULL, &err);
    assert_null(p);
    p = tools_policy_path("operation", "aoai", NULL, ".", &err);
    assert_null(p);
    p = tools_policy_path("product", "x", "..", NULL, &err);
    assert_null(p);
}

/* issue 14 item 14: the diff shown in the text block is capped on a character boundary; a cut
 * inside a UTF-8 character made the whole result unencodable (an applied change's answer lost). */
static void test_capped_diff_stays_utf8(void **state)
{
    (void)state;
    struct config cfg = {0};
    struct tools_ctx *ctx = tools_ctx_new(&cfg);
    util_error err = {0};
    json_t *before = json_pack("{s:{s:s}}", "properties", "value", "<a/>");
    for (int shift = 0; shift < 2; shift++) { /* one of the two puts the cap inside a character */
        util_buf x;
        util_buf_init(&x, 0);
        util_buf_puts(&x, shift ? "<a>x" : "<a>");
        for (int i = 0; i < 3000; i++)
            util_buf_puts(&x, "\xc3\xa9");
        util_buf_puts(&x, "</a>\n");
        json_t *after = change_policy_body(x.data);
        struct change *ch = change_new(ctx, NULL, "test_tool", NULL);
        assert_int_equal(change_add(ch, &(struct change_write){.path = "apis/x/policies/policy", .label = "policy",
                                                               .before = before, .etag = "\"e\"", .after = after,
                                                               .before_text = "<a/>\n", .after_text = x.data},
                                    &err), 0);
        json_t *r = change_run(ch, true);
        assert_non_null(r);
        const char *text = json_string_value(json_object_get(json_array_get(json_object_get(r, "content"), 0), "text"));
        assert_non_null(text);
        assert_non_null(strstr(text, "diff truncated"));
        json_decref(r);
        json_decref(after);
        util_buf_free(&x);
    }
    json_decref(before);
    tools_ctx_free(ctx);
}

static void test_json_text_and_policy_body(void **state)
{
    (void)state;
    json_t *v = json_pack("{s:i, s:{s:s, s:i}}", "weight", 100, "circuit", "b", "x", "a", 2);
    char *t = change_json_text(v);
    assert_string_equal(t, "{\n  \"circuit\": {\n    \"a\": 2,\n    \"b\": \"x\"\n  },\n  \"weight\": 100\n}\n");
    free(t);
    json_decref(v);
    t = change_json_text(NULL);
    assert_string_equal(t, "");
    free(t);

    json_t *body = change_policy_body("<policies />");
    assert_string_equal(change_policy_text(body), "<policies />");
    assert_string_equal(json_string_value(json_object_get(json_object_get(body, "properties"), "format")), "rawxml");
    json_decref(body);
    assert_null(change_policy_text(NULL));

    static const char *const labels[][2] = {
        {"apis/aoai/policies/policy", "policy of API aoai"},
        {"apis/aoai/operations/chat/policies/policy", "policy of operation chat of API aoai"},
        {"products/gold/policies/policy", "policy of product gold"},
        {"policies/policy", "global policy"},
        {"apis/aoai/policies/policyx", "apis/aoai/policies/policyx"},
    };
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++) {
        char *l = change_policy_label(labels[i][0]);
        assert_string_equal(l, labels[i][1]);
        free(l);
    }
}

static json_t *structured(json_t *result) { return json_object_get(result, "structuredContent"); }

static void test_dry_run_plan(void **state)
{
    (void)state;
    struct config cfg = {0};
    struct tools_ctx *ctx = tools_ctx_new(&cfg);
    util_error err = {0};
    json_t *args = json_pack("{s:b}", "dry_run", 1);
    struct change *ch = change_new(ctx, NULL, "test_tool", args);
    json_t *before = json_pack("{s:s, s:{s:s}}", "name", "policy", "properties", "value", "<a>\n1\n</a>");
    json_t *after = change_policy_body("<a>\n2\n</a>");
    json_t *same = json_pack("{s:{s:s}}", "properties", "url", "https://x");
    assert_int_equal(change_add(ch, &(struct change_write){.path = "apis/x/policies/policy", .label = "policy of x",
                                                           .before = before, .etag = "\"e1\"", .after = after,
                                                           .before_text = "<a>\n1\n</a>\n",
                                                           .after_text = "<a>\n2\n</a>\n"}, &err), 0);
    /* unchanged: dropped from the plan */
    assert_int_equal(change_add(ch, &(struct change_write){.path = "backends/b", .label = "backend b", .before = same,
                                                           .etag = "\"e2\"", .after = same, .before_text = "u\n",
                                                           .after_text = "u\n"}, &err), 0);
    /* created */
    assert_int_equal(change_add(ch, &(struct change_write){.path = "backends/c", .label = "backend c", .after = same,
                                                           .after_text = "url: https://x\n"}, &err), 0);
    assert_int_equal(change_add(ch, &(struct change_write){.path = "backends/d", .label = "backend d"}, &err),
                     UTIL_EINTERNAL);
    change_add_warning(ch, "careful with %s", "x");
    change_set_extra(ch, "subscription_id", json_string("growth"));
    json_t *r = change_run(ch, true);
    json_t *s = structured(r);
    assert_false(json_is_true(json_object_get(r, "isError")));
    assert_false(json_is_true(json_object_get(s, "applied")));
    assert_true(json_is_null(json_object_get(s, "change_id")));
    const char *diff = json_string_value(json_object_get(s, "diff"));
    assert_non_null(strstr(diff, "# policy of x\n"));
    assert_non_null(strstr(diff, "-1\n+2\n"));
    assert_non_null(strstr(diff, "# backend c\n"));
    assert_null(strstr(diff, "backend b"));
    json_t *bv = json_object_get(s, "before"), *av = json_object_get(s, "after");
    assert_int_equal(json_object_size(bv), 3); /* the views show every resource, changed or not */
    assert_string_equal(json_string_value(json_object_get(bv, "backend b")), "u\n");
    assert_true(json_is_null(json_object_get(bv, "backend c")));
    assert_string_equal(json_string_value(json_object_get(av, "backend c")), "url: https://x\n");
    assert_string_equal(json_string_value(json_array_get(json_object_get(s, "warnings"), 0)), "careful with x");
    assert_string_equal(json_string_value(json_object_get(s, "subscription_id")), "growth");
    json_decref(r);

    /* nothing differs: applied false, empty diff, single-resource views are the texts */
    ch = change_new(ctx, NULL, "test_tool", args);
    assert_int_equal(change_add(ch, &(struct change_write){.path = "backends/b", .label = "backend b", .before = same,
                                                           .etag = "\"e2\"", .after = same, .before_text = "u\n",
                                                           .after_text = "u\n"}, &err), 0);
    r = change_run(ch, false);
    s = structured(r);
    assert_string_equal(json_string_value(json_object_get(s, "diff")), "");
    assert_false(json_is_true(json_object_get(s, "applied")));
    assert_string_equal(json_string_value(json_object_get(s, "before")), "u\n");
    assert_string_equal(json_string_value(json_object_get(s, "after")), "u\n");
    json_decref(r);

    json_decref(before);
    json_decref(after);
    json_decref(same);
    json_decref(args);
    tools_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_journal_append_and_find),
        cmocka_unit_test(test_journal_skips_torn_and_foreign_lines),
        cmocka_unit_test(test_journal_repairs_a_partial_tail),
        cmocka_unit_test(test_ids_cannot_move_the_path),
        cmocka_unit_test(test_capped_diff_stays_utf8),
        cmocka_unit_test(test_json_text_and_policy_body),
        cmocka_unit_test(test_dry_run_plan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
