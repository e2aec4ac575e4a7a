/* test_tools_paging: the list tools' shared paging (issue 15) — limit defaults and bounds, the
 * cursor round trip, a cursor refused when it is made up or belongs to other filters (match
 * included, case-insensitively), match on id or display name, and the row byte cost. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../src/tools/paging.h"

static json_t *args(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    return j;
}

static void test_limit(void **state)
{
    struct tools_page pg;
    util_error err;
    json_t *a = args("{}");
    assert_int_equal(tools_page_read(a, "", &pg, &err), 0);
    assert_int_equal(pg.limit, TOOLS_PAGE_DEFAULT);
    assert_int_equal(pg.offset, 0);
    assert_null(pg.match);
    json_decref(a);
    a = args("{\"limit\":500}");
    assert_int_equal(tools_page_read(a, "", &pg, &err), 0);
    assert_int_equal(pg.limit, 500);
    json_decref(a);
    a = args("{\"limit\":501}");
    assert_int_equal(tools_page_read(a, "", &pg, &err), UTIL_EINVAL);
    assert_non_null(strstr(err.message, "from 1 to 500"));
    json_decref(a);
}

static void test_cursor_round_trip(void **state)
{
    struct tools_page pg, next;
    util_error err;
    json_t *a = args("{\"match\":\"Team\"}");
    assert_int_equal(tools_page_read(a, "aoai|active", &pg, &err), 0);
    char *c = tools_page_cursor(&pg, 1234);
    json_object_set_new(a, "cursor", json_string(c));
    assert_int_equal(tools_page_read(a, "aoai|active", &next, &err), 0);
    assert_int_equal(next.offset, 1234);
    /* the same match in other case is the same listing */
    json_object_set_new(a, "match", json_string("tEAM"));
    assert_int_equal(tools_page_read(a, "aoai|active", &next, &err), 0);
    /* other filters, or another match: refused */
    assert_int_equal(tools_page_read(a, "aoai|suspended", &next, &err), UTIL_EINVAL);
    assert_non_null(strstr(err.message, "other filters"));
    json_object_set_new(a, "match", json_string("growth"));
    assert_int_equal(tools_page_read(a, "aoai|active", &next, &err), UTIL_EINVAL);
    free(c);
    json_decref(a);
}

static void test_bad_cursor(void **state)
{
    static const char *const bad[] = {"x", "p", "p12", "p12.", "p12.zz", "p12.abc trailing", "q1.2", "pffffffff.0"};
    struct tools_page pg;
    util_error err;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *a = json_pack("{s:s}", "cursor", bad[i]);
        assert_int_equal(tools_page_read(a, "", &pg, &err), UTIL_EINVAL);
        assert_non_null(strstr(err.message, "not one this tool gave"));
        json_decref(a);
    }
}

static void test_match(void **state)
{
    struct tools_page pg;
    util_error err;
    json_t *a = args("{\"match\":\"GROW\"}");
    assert_int_equal(tools_page_read(a, "", &pg, &err), 0);
    assert_true(tools_page_matches(&pg, "growth", NULL));
    assert_true(tools_page_matches(&pg, "t1", "Team growth"));
    assert_false(tools_page_matches(&pg, "search", "Team search"));
    assert_false(tools_page_matches(&pg, "gro", NULL));
    json_decref(a);
    a = args("{\"match\":\"\"}"); /* empty: no filter */
    assert_int_equal(tools_page_read(a, "", &pg, &err), 0);
    assert_true(tools_page_matches(&pg, "anything", NULL));
    json_decref(a);
}

static void test_row_bytes(void **state)
{
    json_t *row = args("{\"id\":\"growth\"}");
    assert_int_equal(tools_page_row_bytes(row, 10), strlen("{\"id\":\"growth\"}") + 10 + 16);
    json_decref(row);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit), cmocka_unit_test(test_cursor_round_trip), cmocka_unit_test(test_bad_cursor),
        cmocka_unit_test(test_match), cmocka_unit_test(test_row_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
