/* drill: the per-backend, per-minute traffic of one API that rehearse_failover reads from Log
 * Analytics (the query of notes/contract18.md item 3) and its pure summary over a time window:
 * requests, share and errors per pool member (matched by BackendId, else by BackendUrl). */
#include <stdlib.h>
#include <string.h>

#include "arm.h"
#include "metrics.h"

const char *const metrics_kql_drill =
    "ApiManagementGatewayLogs | where ApiId == '%s' | summarize requests = count(), failed = countif(ResponseCode >= "
    "500), throttled = countif(ResponseCode == 429), backend_failed = countif(BackendResponseCode >= 500), "
    "backend_throttled = countif(BackendResponseCode == 429) by BackendId, BackendUrl, bin(TimeGenerated, 1m)";

static int64_t num(const json_t *row, const char *key)
{
    json_t *v = json_object_get(row, key);
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_real(v))
        return (int64_t)json_real_value(v);
    if (json_is_string(v))
        return strtoll(json_string_value(v), NULL, 10);
    return 0;
}

json_t *metrics_parse_drill(json_t *body)
{
    json_t *rows = metrics_parse_la(body), *row, *out;
    if (!rows)
        return NULL;
    out = json_array();
    size_t i;
    json_array_foreach(rows, i, row) {
        int64_t t = 0;
        const char *tg = json_string_value(json_object_get(row, "TimeGenerated"));
        if (!tg || util_time_parse_iso8601(tg, &t) != 0)
            continue;
        const char *id = json_string_value(json_object_get(row, "BackendId"));
        const char *url = json_string_value(json_object_get(row, "BackendUrl"));
        json_array_append_new(out, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "backend_id", id ? id : "",
                                             "url", url ? url : "", "t", (json_int_t)t, "requests",
                                             (json_int_t)num(row, "requests"), "failed", (json_int_t)num(row, "failed"),
                                             "throttled", (json_int_t)num(row, "throttled"), "backend_failed",
                                             (json_int_t)num(row, "backend_failed"), "backend_throttled",
                                             (json_int_t)num(row, "backend_throttled")));
    }
    json_decref(rows);
    return out;
}

int metrics_drill_query(struct arm_client *arm, const char *resource_id, const char *api_id, int64_t since,
                        int64_t until, json_t **rows, util_error *err)
{
    *rows = NULL;
    if (strpbrk(api_id, "'\"\\"))
        return util_error_set(err, UTIL_EINVAL, "API id '%s' cannot contain quotes or backslashes", api_id);
    const char *hole = strstr(metrics_kql_drill, "%s");
    char *kql = util_printf("%.*s%s%s", (int)(hole - metrics_kql_drill), metrics_kql_drill, api_id, hole + 2);
    char a[32], b[32];
    util_time_iso8601(since, a, sizeof a);
    util_time_iso8601(until, b, sizeof b);
    char *span = util_printf("%s/%s", a, b), *path = util_printf("%s/query", resource_id);
    json_t *body = json_pack("{s:s,s:s}", "query", kql, "timespan", span);
    struct arm_request req = {"POST", path, ARM_API_LOGS_QUERY, NULL, body, NULL};
    struct arm_result res = {0};
    int rc = arm_call(arm, &req, &res, err);
    if (!rc && !(*rows = metrics_parse_drill(res.body)))
        rc = util_error_set(err, UTIL_EREMOTE, "the Log Analytics answer did not have the documented shape");
    arm_result_free(&res);
    json_decref(body);
    free(kql);
    free(span);
    free(path);
    return rc;
}

/* A URL without its query and trailing slashes, for matching a row to a member. Heap. */
static char *url_key(const char *url)
{
    size_t n = strcspn(url ? url : "", "?");
    while (n > 0 && url[n - 1] == '/')
        n--;
    return util_strndup(url ? url : "", n);
}

/* The member (index into members) a row belongs to: by BackendId, else by BackendUrl; -1 none. */
static long member_of(json_t *members, const json_t *row)
{
    const char *id = json_string_value(json_object_get(row, "backend_id"));
    json_t *m;
    size_t i;
    json_array_foreach(members, i, m)
        if (id && *id && util_str_eq_ci(id, json_string_value(json_object_get(m, "backend_id"))))
            return (long)i;
    char *u = url_key(json_string_value(json_object_get(row, "url")));
    long found = -1;
    json_array_foreach(members, i, m) {
        char *mu = url_key(json_string_value(json_object_get(m, "url")));
        if (*u && util_str_eq_ci(u, mu))
            found = (long)i;
        free(mu);
        if (found >= 0)
            break;
    }
    free(u);
    return found;
}

json_t *metrics_drill_window(json_t *rows, json_t *members, int64_t since, int64_t until)
{
    size_t n = json_array_size(members);
    int64_t *req = calloc(n + 1, sizeof *req), *failed = calloc(n + 1, sizeof *failed),
            *thr = calloc(n + 1, sizeof *thr);
    int64_t total = 0, to_members = 0, no_backend = 0, other = 0, f_all = 0, t_all = 0, bt_all = 0, last = 0, minutes = 0;
    int64_t seen[64];
    size_t nseen = 0;
    json_t *row;
    size_t i;
    json_array_foreach(rows, i, row) {
        int64_t t = num(row, "t");
        if (t < since || t >= until)
            continue;
        int64_t r = num(row, "requests"), f = num(row, "failed"), th = num(row, "throttled");
        total += r;
        f_all += f;
        t_all += th;
        bt_all += num(row, "backend_throttled");
        last = t > last ? t : last;
        bool dup = false;
        for (size_t k = 0; k < nseen; k++)
            dup = dup || seen[k] == t;
        if (!dup && nseen < 64)
            seen[nseen++] = t;
        const char *id = json_string_value(json_object_get(row, "backend_id"));
        const char *url = json_string_value(json_object_get(row, "url"));
        if ((!id || !*id) && (!url || !*url)) {
            no_backend += r;
            continue;
        }
        long m = member_of(members, row);
        if (m < 0) {
            other += r;
            continue;
        }
        req[m] += r;
        failed[m] += f;
        thr[m] += th;
        to_members += r;
    }
    minutes = (int64_t)nseen;
    json_t *by = json_object(), *mem;
    json_array_foreach(members, i, mem) {
        json_t *share = to_members ? json_real((double)req[i] / (double)to_members) : json_null();
        json_object_set_new(by, json_string_value(json_object_get(mem, "backend_id")),
                            json_pack("{s:I, s:o, s:I, s:I}", "requests", (json_int_t)req[i], "share", share, "errors_5xx",
                                      (json_int_t)failed[i], "errors_429", (json_int_t)thr[i]));
    }
    json_t *out = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:I}", "requests", (json_int_t)total,
                            "requests_to_backends", (json_int_t)to_members, "requests_without_backend",
                            (json_int_t)no_backend, "requests_other_backends", (json_int_t)other, "errors_5xx",
                            (json_int_t)f_all, "errors_429", (json_int_t)t_all, "errors_429_from_backends",
                            (json_int_t)bt_all, "by_backend", by, "minutes_with_data", (json_int_t)minutes);
    if (last)
        json_object_set_new(out, "last_minute", json_integer(last));
    free(req);
    free(failed);
    free(thr);
    return out;
}
