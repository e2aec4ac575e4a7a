/* test_metrics_time: get_metrics' window — relative and ISO 8601 times, the checks on since/until
 * (order, future skew), clamping to Azure Monitor's retention, and the grain chosen per source. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "metrics.h"

#define NOW 1795000000 /* 2026-11-18T... */

static void relative_and_iso_times(void **state)
{
    (void)state;
    int64_t t;
    util_error err = {0};
    assert_int_equal(metrics_parse_time("15m", NOW, &t, &err), 0);
    assert_int_equal(t, NOW - 900);
    assert_int_equal(metrics_parse_time("24h", NOW, &t, &err), 0);
    assert_int_equal(t, NOW - 86400);
    assert_int_equal(metrics_parse_time("7d", NOW, &t, &err), 0);
    assert_int_equal(t, NOW - 7 * 86400);
    assert_int_equal(metrics_parse_time("2026-11-25T01:00:00Z", NOW, &t, &err), 0);
    assert_int_equal(t, 1795568400);
    assert_int_equal(metrics_parse_time("2026-11-25T02:00:00+01:00", NOW, &t, &err), 0);
    assert_int_equal(t, 1795568400);
    const char *bad[] = {"", "1w", "h", "0h", "-1h", "1h30m", "yesterday", "10000d"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(metrics_parse_time(bad[i], NOW, &t, &err), UTIL_EINVAL);
        assert_true(strlen(err.message) > 20);
    }
}

static void window_checks(void **state)
{
    (void)state;
    struct metrics_window w;
    util_error err = {0};
    assert_int_equal(metrics_window_make("1h", NULL, NOW, &w, &err), 0);
    assert_int_equal(w.since, NOW - 3600);
    assert_int_equal(w.until, NOW);
    assert_false(w.clamped);
    assert_int_equal(metrics_window_make("1h", "2h", NOW, &w, &err), UTIL_EINVAL);
    assert_non_null(strstr(err.message, "must be after since"));
    assert_int_equal(metrics_window_make("1h", "1h", NOW, &w, &err), UTIL_EINVAL);
    assert_int_equal(metrics_window_make("1h", "2026-12-31T00:00:00Z", NOW, &w, &err), UTIL_EINVAL);
    assert_non_null(strstr(err.message, "in the future"));
    /* a clock a little behind the caller's is fine: until is capped at now */
    char soon[32];
    util_time_iso8601(NOW + 60, soon, sizeof(soon));
    assert_int_equal(metrics_window_make("1h", soon, NOW, &w, &err), 0);
    assert_int_equal(w.until, NOW);
    assert_int_equal(metrics_window_make("100d", NULL, NOW, &w, &err), 0);
    assert_true(w.clamped);
    assert_int_equal(w.asked_since, NOW - 100 * 86400);
    assert_int_equal(w.since, NOW - METRICS_MONITOR_RETENTION_DAYS * 86400);
    assert_int_equal(metrics_window_make("200d", "150d", NOW, &w, &err), UTIL_EINVAL);
    assert_non_null(strstr(err.message, "93 days"));
    assert_int_equal(metrics_window_make("soon", NULL, NOW, &w, &err), UTIL_EINVAL);
    assert_true(strncmp(err.message, "since: ", 7) == 0);
}

static void grains(void **state)
{
    (void)state;
    assert_int_equal(metrics_grain_monitor(900, 24), 60);        /* 15m: PT1M, 15 points */
    assert_int_equal(metrics_grain_monitor(3600, 24), 300);      /* 1h: PT5M */
    assert_int_equal(metrics_grain_monitor(86400, 24), 3600);    /* 24h: PT1H */
    assert_int_equal(metrics_grain_monitor(7 * 86400, 24), 43200); /* 7d: PT12H */
    assert_int_equal(metrics_grain_monitor(93 * 86400, 24), 86400); /* nothing coarser than P1D */
    assert_int_equal(metrics_grain_reports(3600, 24), 900);      /* at least 15 minutes */
    assert_int_equal(metrics_grain_reports(86400, 24), 3600);
    assert_int_equal(metrics_grain_reports(7 * 86400, 24), 25200); /* 7h: a multiple of 15 min */
    assert_int_equal(metrics_grain_reports(7 * 86400, 24) % 900, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(relative_and_iso_times),
        cmocka_unit_test(window_checks),
        cmocka_unit_test(grains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
