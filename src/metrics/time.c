/* time.c: get_metrics' time window — ISO 8601 or relative ("15m", "1h", "24h", "7d") bounds,
 * their validation and clamping to Azure Monitor's retention, and the grain each source accepts. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

int metrics_parse_time(const char *s, int64_t now, int64_t *out, util_error *err)
{
    if (!s || !*s)
        return util_error_set(err, UTIL_EINVAL, "a time is empty: give an ISO 8601 timestamp or a duration such as 1h");
    char *end = NULL;
    if (isdigit((unsigned char)s[0])) {
        long long n = strtoll(s, &end, 10);
        int64_t unit = *end == 'm' ? 60 : *end == 'h' ? 3600 : *end == 'd' ? 86400 : 0;
        if (unit && end[1] == '\0') {
            if (n < 1 || n > 3650)
                return util_error_set(err, UTIL_EINVAL, "'%s' is out of range: use 1 to 3650 minutes, hours or days", s);
            *out = now - (int64_t)n * unit;
            return 0;
        }
    }
    if (util_time_parse_iso8601(s, out) == 0)
        return 0;
    return util_error_set(err, UTIL_EINVAL,
                          "'%s' is not a time: use an ISO 8601 timestamp with a zone (2026-11-25T08:00:00Z) or a "
                          "duration ago such as 15m, 1h, 24h, 7d",
                          s);
}

int metrics_window_make(const char *since, const char *until, int64_t now, struct metrics_window *w, util_error *err)
{
    memset(w, 0, sizeof(*w));
    if (metrics_parse_time(since, now, &w->since, err) != 0) {
        util_error_prefix(err, "since");
        return UTIL_EINVAL;
    }
    w->until = now;
    if (until && metrics_parse_time(until, now, &w->until, err) != 0) {
        util_error_prefix(err, "until");
        return UTIL_EINVAL;
    }
    char a[32], b[32];
    util_time_iso8601(w->since, a, sizeof(a));
    util_time_iso8601(w->until, b, sizeof(b));
    if (w->until > now + METRICS_FUTURE_SKEW_SEC)
        return util_error_set(err, UTIL_EINVAL, "until %s is in the future; leave it out to mean now", b);
    if (w->until <= w->since)
        return util_error_set(err, UTIL_EINVAL, "until (%s) must be after since (%s)", b, a);
    if (w->until > now)
        w->until = now;
    w->asked_since = w->since;
    int64_t oldest = now - (int64_t)METRICS_MONITOR_RETENTION_DAYS * 86400;
    if (w->until <= oldest)
        return util_error_set(err, UTIL_EINVAL,
                              "the window ends %s, before the %d days Azure Monitor keeps: ask for a more recent window",
                              b, METRICS_MONITOR_RETENTION_DAYS);
    if (w->since < oldest) {
        w->since = oldest;
        w->clamped = true;
    }
    return 0;
}

int64_t metrics_grain_monitor(int64_t window, int max_points)
{
    static const int64_t grains[] = {60, 300, 900, 1800, 3600, 21600, 43200, 86400};
    for (size_t i = 0; i < sizeof(grains) / sizeof(grains[0]); i++)
        if ((window + grains[i] - 1) / grains[i] <= max_points)
            return grains[i];
    return 86400;
}

int64_t metrics_grain_reports(int64_t window, int max_points)
{
    int64_t per = (window + max_points - 1) / (max_points > 0 ? max_points : 1);
    int64_t n = (per + 899) / 900;
    return (n < 1 ? 1 : n) * 900;
}
