/* rehearse_failover: a failover drill that proves failover works and cannot strand the gateway.
 * It takes one member out of an API's backend pool through the change pipeline (dry run,
 * confirmation, If-Match; the complete undo journaled as an "open" drill with its deadline on the
 * gateway's clock BEFORE the write), then, leaving the write lane so other calls go on, reports
 * every ~30 s (gateway time) what Log Analytics shows per backend, and at the deadline — or at
 * once on cancellation, end of input, SIGTERM/SIGINT or restore_now — puts the member back exactly
 * as it was (drill.c) and returns the evidence: traffic share per backend before, during and
 * after, when the shift became visible, errors during it, and whether the pool reads as before. */
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "change.h"
#include "drill.h"
#include "metrics.h"
#include "platform.h"

#define DRILL_TICK_S 30 /* progress every 30 s of gateway time */
#define DRILL_SLICE_MS 100
#define DRILL_SHIFT_SHARE 0.05 /* the member's share under which the shift counts as visible */

struct drill {
    struct tools_ctx *ctx;
    struct mcp_call *call;
    struct arm_client *arm;
    const char *api_id, *member;
    int minutes;
    int64_t speed;
    char *pool_id, *pool_path;
    json_t *pool;       /* the pool as read (GET body) */
    char *etag;
    int64_t date;       /* gateway clock of the last answer, epoch s */
    int64_t date_mono;  /* util_monotonic_ms() when it was read */
    json_t *members;    /* [{backend_id, url, priority, weight}] before the drill */
    json_t *after;      /* the pool body without the member */
    struct metrics_la la;
    char *la_missing;   /* why traffic cannot be read, or NULL */
    int64_t start, deadline;
    char id[37];
    json_t *record;     /* the drill's journal record */
    bool held;          /* mcp_call_hold_exit taken */
};

static const char *jstr(const json_t *o, const char *key) { return json_string_value(json_object_get(o, key)); }

static int64_t gw_now(const struct drill *d)
{
    return d->date + (util_monotonic_ms() - d->date_mono) * d->speed / 1000;
}

static void set_date(struct drill *d, int64_t date)
{
    if (date) {
        d->date = date;
        d->date_mono = util_monotonic_ms();
    }
}

static char *iso(int64_t t)
{
    char b[32];
    util_time_iso8601(t, b, sizeof b);
    return util_strdup(b);
}

/* ---- planning ------------------------------------------------------------------------------ */

static int read_pool(struct drill *d, util_error *err)
{
    struct tools_backend_snapshot s = {0};
    int rc = tools_backend_snapshot_read(d->arm, d->api_id, NULL, &s, err);
    if (!rc && s.dynamic)
        rc = util_error_set(err, UTIL_EINVAL, "API %s chooses its backend with an expression (%s); a drill needs a "
                            "backend pool named in its policy", d->api_id, s.routing);
    else if (!rc && !s.is_pool)
        rc = util_error_set(err, UTIL_EINVAL, "API %s routes to %s, not to a backend pool; make a pool with "
                            "update_backend_pool first", d->api_id, s.backend_id ? s.backend_id : "its serviceUrl");
    if (rc) {
        tools_backend_snapshot_free(&s);
        return rc;
    }
    d->pool_id = util_strdup(s.backend_id);
    d->pool_path = util_printf("backends/%s", s.backend_id);
    d->members = json_array();
    json_t *svc;
    size_t i;
    json_array_foreach(tools_backend_snapshot_services(&s), i, svc) {
        char *id = tools_backend_id_from_resource_id(jstr(svc, "id"));
        json_t *body = json_object_get(json_object_get(s.members, id ? id : ""), "body");
        const char *url = jstr(json_object_get(body, "properties"), "url");
        json_t *m = json_pack("{s:s, s:s?, s:O?, s:O?, s:b}", "backend_id", id ? id : "?", "url", url, "priority",
                              json_object_get(svc, "priority"), "weight", json_object_get(svc, "weight"), "exists",
                              json_is_object(body));
        json_array_append_new(d->members, m);
        free(id);
    }
    tools_backend_snapshot_free(&s);
    /* the pool again, alone: its ETag and the gateway's clock (Date) for the change */
    int64_t date = 0;
    rc = drill_read(d->arm, d->pool_path, &d->pool, &d->etag, &date, err);
    set_date(d, date);
    if (!rc && !d->pool)
        rc = util_error_set(err, UTIL_ENOTFOUND, "pool %s disappeared while it was read; try again", d->pool_id);
    if (!rc && !d->date)
        d->date = util_now_ms() / 1000, d->date_mono = util_monotonic_ms(); /* no Date header: our clock */
    return rc;
}

/* The member list as text for the diff: "id (priority p, weight w)" per line. Heap. */
static char *services_text(json_t *services)
{
    util_buf b;
    util_buf_init(&b, 0);
    json_t *svc;
    size_t i;
    json_array_foreach(services, i, svc) {
        char *id = tools_backend_id_from_resource_id(jstr(svc, "id"));
        util_buf_printf(&b, "%s", id ? id : jstr(svc, "id"));
        if (json_is_integer(json_object_get(svc, "priority")))
            util_buf_printf(&b, " priority %lld", (long long)json_integer_value(json_object_get(svc, "priority")));
        if (json_is_integer(json_object_get(svc, "weight")))
            util_buf_printf(&b, " weight %lld", (long long)json_integer_value(json_object_get(svc, "weight")));
        util_buf_puts(&b, "\n");
        free(id);
    }
    util_buf_puts(&b, "");
    return util_buf_steal(&b);
}

/* Checks the member and what stays, builds the pool without it. *takes_over: who serves (NEW). */
static int plan(struct drill *d, json_t **takes_over, util_error *err)
{
    json_t *services = json_object_get(json_object_get(json_object_get(d->pool, "properties"), "pool"), "services");
    json_t *left = json_array(), *svc, *m;
    size_t i;
    long at = -1;
    json_array_foreach(services, i, svc) {
        char *id = tools_backend_id_from_resource_id(jstr(svc, "id"));
        if (id && util_str_eq_ci(id, d->member))
            at = (long)i;
        else
            json_array_append(left, svc);
        free(id);
    }
    *takes_over = json_array();
    if (at < 0) {
        char *list = services_text(services);
        for (char *p = list; *p; p++)
            if (*p == '\n')
                *p = p[1] ? ';' : '\0';
        util_error_set(err, UTIL_EINVAL, "backend %s is not a member of pool %s (members: %s); nothing was changed",
                       d->member, d->pool_id, *list ? list : "none");
        free(list);
        json_decref(left);
        return UTIL_EINVAL;
    }
    /* who serves without it: the lowest priority value among the remaining members that exist */
    json_int_t best = 1000;
    json_array_foreach(d->members, i, m) {
        json_int_t p = json_is_integer(json_object_get(m, "priority")) ? json_integer_value(json_object_get(m, "priority"))
                                                                       : 1;
        if (!util_str_eq_ci(jstr(m, "backend_id"), d->member) && json_is_true(json_object_get(m, "exists")) &&
            jstr(m, "url") && p < best)
            best = p;
    }
    json_array_foreach(d->members, i, m) {
        json_int_t p = json_is_integer(json_object_get(m, "priority")) ? json_integer_value(json_object_get(m, "priority"))
                                                                       : 1;
        if (!util_str_eq_ci(jstr(m, "backend_id"), d->member) && json_is_true(json_object_get(m, "exists")) &&
            jstr(m, "url") && p == best)
            json_array_append_new(*takes_over, json_string(jstr(m, "backend_id")));
    }
    if (json_array_size(*takes_over) == 0) {
        json_decref(left);
        return util_error_set(err, UTIL_EINVAL, "taking %s out would leave pool %s with no healthy member (none of "
                              "the others exists with a URL); nothing was changed", d->member, d->pool_id);
    }
    json_t *props = json_deep_copy(json_object_get(d->pool, "properties"));
    json_object_set_new(json_object_get(props, "pool"), "services", left);
    d->after = json_pack("{s:o}", "properties", props);
    return 0;
}

/* Right before the take-out: the deadline on the gateway clock, the drill in the journal record,
 * registered (a second drill on the pool is refused here, under the registry's lock). */
static int before_write(struct change *ch, const char *id, void *user, util_error *err)
{
    struct drill *d = user;
    d->start = gw_now(d);
    d->deadline = d->start + (int64_t)d->minutes * 60;
    char *s = iso(d->start), *e = iso(d->deadline);
    json_t *drill = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:I, s:I}", "api_id", d->api_id, "pool_id",
                              d->pool_id, "backend_id", d->member, "minutes", d->minutes, "start", s, "deadline", e,
                              "speedup", (json_int_t)d->speed, "pid", (json_int_t)platform_pid());
    free(s);
    free(e);
    d->record = json_pack("{s:s, s:O, s:[{s:s, s:{s:O}, s:s?, s:O}]}", "change_id", id, "drill", drill, "resources",
                          "path", d->pool_path, "before", "properties", json_object_get(d->pool, "properties"),
                          "etag_before", d->etag, "after", d->after);
    int rc = drill_register(d->ctx, id, d->record, err);
    if (rc == 0) {
        /* from the write on, SIGTERM/SIGINT wait for the member to be back (released in the tool) */
        mcp_call_hold_exit(d->call, true);
        d->held = true;
        snprintf(d->id, sizeof d->id, "%s", id);
        change_set_record_extra(ch, "drill", drill);
    } else {
        json_decref(drill);
    }
    return rc;
}

/* ---- traffic ----------------------------------------------------------------------------- */

static int64_t minute_floor(int64_t t) { return t - ((t % 60) + 60) % 60; }

/* The rows since the before window, or NULL (d->la_missing says why, or the error is noted). */
static json_t *traffic(struct drill *d, int64_t until, char *why, size_t n)
{
    if (d->la_missing) {
        snprintf(why, n, "%s", d->la_missing);
        return NULL;
    }
    int64_t before_s = (d->minutes < 5 ? 5 : d->minutes) * 60;
    json_t *rows = NULL;
    util_error err = {0};
    if (metrics_drill_query(d->arm, d->ctx->cfg->service_id, d->api_id, minute_floor(d->start) - before_s, until, &rows, &err) != 0)
        snprintf(why, n, "the Log Analytics query failed: %.900s", err.message);
    return rows;
}

/* Share of the remaining members in a window (1 - the member's share), or -1 without traffic. */
static double remaining_share(const struct drill *d, json_t *win)
{
    json_t *m = json_object_get(json_object_get(win, "by_backend"), d->member);
    json_t *share = json_object_get(m, "share");
    return json_is_number(share) ? 1.0 - json_number_value(share) : -1;
}

static void window_text(util_buf *b, const json_t *win)
{
    const char *id;
    json_t *v;
    bool first = true;
    json_object_foreach(json_object_get(win, "by_backend"), id, v) {
        json_t *share = json_object_get(v, "share");
        util_buf_printf(b, "%s%s %lld", first ? "" : ", ", id, (long long)json_integer_value(json_object_get(v, "requests")));
        if (json_is_number(share))
            util_buf_printf(b, " (%.0f%%)", 100 * json_number_value(share));
        first = false;
    }
    util_buf_printf(b, "; 5xx %lld, 429 %lld (from backends %lld)",
                    (long long)json_integer_value(json_object_get(win, "errors_5xx")),
                    (long long)json_integer_value(json_object_get(win, "errors_429")),
                    (long long)json_integer_value(json_object_get(win, "errors_429_from_backends")));
}

/* The first minute bin of "during" at gateway time `until`: the first whole minute after the take-out
 * once it has begun, else the take-out's own minute (which also holds requests from before it). */
static int64_t first_minute_out(const struct drill *d, int64_t until)
{
    int64_t s0 = minute_floor(d->start);
    return d->start > s0 && s0 + 60 < until ? s0 + 60 : s0;
}

static void progress(struct drill *d, int64_t now)
{
    char why[UTIL_ERROR_MAX];
    json_t *rows = traffic(d, now + 60, why, sizeof why);
    util_buf b;
    util_buf_init(&b, 0);
    util_buf_printf(&b, "drill %llds of %ds, %s out of %s: ", (long long)(now - d->start), d->minutes * 60, d->member,
                    d->pool_id);
    if (!rows) {
        util_buf_printf(&b, "traffic not readable (%s)", why);
    } else {
        /* per-minute rows: the minute of the take-out mixes before and after, so it counts only
         * until a whole minute without the member has begun */
        int64_t from = first_minute_out(d, now);
        json_t *win = metrics_drill_window(rows, d->members, from, now + 60);
        if (json_integer_value(json_object_get(win, "requests_to_backends")) == 0) {
            util_buf_puts(&b, "no traffic in Log Analytics for the drill yet (ingestion takes minutes)");
        } else {
            window_text(&b, win);
            util_buf_printf(&b, "; remaining members served %.0f%%%s", 100 * remaining_share(d, win),
                            from == minute_floor(d->start) ? " (the minute of the take-out included)" : "");
        }
        json_decref(win);
    }
    json_decref(rows);
    mcp_call_progress(d->call, (double)(now - d->start), (double)d->minutes * 60, b.data);
    util_buf_free(&b);
}

/* ---- the run ----------------------------------------------------------------------------- */

/* Waits until the gateway clock reaches `until` (wall time divided by the speed-up), in slices;
 * true when the drill must end now (stop asked, closed, restore_now). */
static bool wait_until(struct drill *d, int64_t until, const char **reason)
{
    int64_t wall_end = util_monotonic_ms() + (until - gw_now(d)) * 1000 / d->speed;
    for (;;) {
        bool closed;
        char outcome[8];
        int stop = mcp_call_stop_requested(d->call);
        if (stop) {
            *reason = stop == MCP_STOP_SIGNAL ? "the server was asked to stop" : "the drill was cancelled or its client left";
            return true;
        }
        if (drill_should_end(d->ctx, d->id, &closed, outcome, sizeof outcome)) {
            *reason = closed ? "closed by revert_change" : "restore_now was asked";
            return true;
        }
        int64_t left = wall_end - util_monotonic_ms();
        if (left <= 0)
            return false;
        platform_sleep_ms(left < DRILL_SLICE_MS ? left : DRILL_SLICE_MS);
    }
}

/* The minute the member's share fell under DRILL_SHIFT_SHARE: seconds from the start to the end
 * of that minute, or -1. */
static int64_t shift_visible(struct drill *d, json_t *rows, int64_t end)
{
    for (int64_t m = minute_floor(d->start); m < end; m += 60) {
        json_t *w = metrics_drill_window(rows, d->members, m, m + 60);
        double rem = json_integer_value(json_object_get(w, "requests_to_backends")) ? remaining_share(d, w) : -1;
        json_decref(w);
        if (rem >= 0 && 1 - rem < DRILL_SHIFT_SHARE)
            return m + 60 - d->start;
    }
    return -1;
}

/* Requests per member and minute: [{t, requests: {id: n}}] (NEW). */
static json_t *series(struct drill *d, json_t *rows, int64_t from, int64_t to)
{
    json_t *out = json_array();
    for (int64_t m = minute_floor(from); m < to; m += 60) {
        json_t *w = metrics_drill_window(rows, d->members, m, m + 60), *per = json_object(), *v;
        const char *id;
        json_object_foreach(json_object_get(w, "by_backend"), id, v)
            json_object_set(per, id, json_object_get(v, "requests"));
        char *t = iso(m);
        json_array_append_new(out, json_pack("{s:s, s:o}", "t", t, "requests", per));
        free(t);
        json_decref(w);
    }
    return out;
}

/* A window's figures, or null with a note when no minute of it is in Log Analytics yet. */
static json_t *window_or_null(struct drill *d, json_t *rows, int64_t from, int64_t to, const char *name,
                              json_t *not_in)
{
    json_t *w = rows && to > from ? metrics_drill_window(rows, d->members, from, to) : NULL;
    if (w && json_integer_value(json_object_get(w, "minutes_with_data")) > 0)
        return w;
    json_decref(w);
    json_array_append_new(not_in, json_string(name));
    return json_null();
}

static json_t *evidence(struct drill *d, int64_t end, int64_t now, util_buf *text)
{
    char why[UTIL_ERROR_MAX];
    json_t *rows = traffic(d, now + 60, why, sizeof why);
    int64_t before_s = (d->minutes < 5 ? 5 : d->minutes) * 60, s0 = minute_floor(d->start);
    json_t *not_in = json_array();
    json_t *before = window_or_null(d, rows, s0 - before_s, s0, "before", not_in);
    /* the minute the member came back in mixes both: it counts in neither during nor after */
    int64_t d1 = minute_floor(end) > s0 ? minute_floor(end) : end;
    int64_t d0 = first_minute_out(d, d1); /* whole minutes without the member, when there are any */
    json_t *during = window_or_null(d, rows, d0, d1, "during", not_in);
    int64_t a0 = minute_floor(end) + 60; /* whole minutes after the member was back */
    json_t *after = window_or_null(d, rows, a0, minute_floor(now), "after", not_in);
    int64_t shift = rows ? shift_visible(d, rows, d1) : -1;
    char *st = iso(d->start), *en = iso(end);
    json_t *ev = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "start", st, "end", en, "before", before, "during",
                           during, "after", after, "shift_visible_within_s", shift >= 0 ? json_integer(shift) : json_null(),
                           "errors_during", json_is_null(during) ? json_null()
                                                                 : json_pack("{s:O, s:O}", "5xx",
                                                                             json_object_get(during, "errors_5xx"),
                                                                             "429", json_object_get(during, "errors_429")));
    char *df = iso(d0);
    json_object_set_new(ev, "during_from", json_string(df)); /* the first minute bin "during" counts */
    free(df);
    if (rows)
        json_object_set_new(ev, "series", series(d, rows, s0 - 60 * 2, minute_floor(now) + 60));
    const char *names[] = {"before", "during", "after"};
    json_t *wins[] = {before, during, after};
    for (int i = 0; i < 3; i++) {
        util_buf_printf(text, "\n%s: ", names[i]);
        if (json_is_null(wins[i]))
            util_buf_puts(text, "not in Log Analytics yet");
        else
            window_text(text, wins[i]);
    }
    if (shift >= 0)
        util_buf_printf(text, "\nshift visible within %llds", (long long)shift);
    if (!rows) {
        json_object_set_new(ev, "note", json_sprintf("traffic could not be read: %s", why));
        util_buf_printf(text, "\ntraffic could not be read: %s", why);
    } else if (json_array_size(rows) == 0) {
        /* a resource-centric query answers no rows, not an error, for a workspace it may not read */
        static const char none[] = "Log Analytics answered no rows at all for this API (not even before the "
                                   "drill): the API was idle, its logs have not arrived yet, or this identity "
                                   "cannot read the workspace the gateway logs go to (Log Analytics Reader, or "
                                   "resource-context access); get_metrics names the cause";
        json_object_set_new(ev, "note", json_string(none));
        util_buf_printf(text, "\n%s", none);
    } else if (json_array_size(not_in)) {
        json_object_set_new(ev, "note", json_sprintf("not in Log Analytics yet (ingestion takes minutes): get_metrics "
                                                     "api_id %s since %s fetches these figures later", d->api_id, st));
        util_buf_printf(text, "\nnot in yet: get_metrics since %s fetches them later", st);
    }
    json_object_set_new(ev, "not_in_yet", not_in);
    free(st);
    free(en);
    json_decref(rows);
    return ev;
}

static json_t *run(struct drill *d)
{
    const char *reason = "its deadline passed";
    mcp_call_leave_lane(d->call); /* other writes go on meanwhile; the pool's ETag guards the restore */
    json_t *cur = NULL;
    char *etag = NULL;
    for (int64_t next = d->start + DRILL_TICK_S;; next += DRILL_TICK_S) {
        int64_t until = next < d->deadline ? next : d->deadline;
        if (wait_until(d, until, &reason))
            break;
        if (until == d->deadline) /* the restore reads the pool (and the clock) itself */
            break;
        int64_t date = 0;
        util_error e = {0};
        if (drill_read(d->arm, d->pool_path, &cur, &etag, &date, &e) == 0)
            set_date(d, date);
        json_decref(cur);
        free(etag);
        cur = NULL;
        etag = NULL;
        int64_t now = gw_now(d);
        if (now >= d->deadline) {
            reason = "its deadline passed";
            break;
        }
        progress(d, now);
    }
    /* put back (or find it put back by revert_change) */
    bool closed = false;
    char outcome[512] = "";
    drill_should_end(d->ctx, d->id, &closed, outcome, sizeof outcome);
    json_t *r = NULL;
    if (closed) {
        json_t *body = NULL;
        char *et = NULL;
        int64_t date = 0;
        util_error e = {0};
        bool same = drill_read(d->arm, d->pool_path, &body, &et, &date, &e) == 0 && body &&
                    json_equal(json_object_get(body, "properties"), json_object_get(d->pool, "properties"));
        set_date(d, date);
        r = json_pack("{s:b, s:s}", "restored", same, "outcome", outcome);
        json_decref(body);
        free(et);
    } else {
        r = drill_restore(d->ctx, d->arm, d->record, reason);
        set_date(d, json_integer_value(json_object_get(r, "date")));
    }
    int64_t end = gw_now(d);
    mcp_call_progress(d->call, (double)d->minutes * 60, (double)d->minutes * 60, jstr(r, "outcome"));
    util_buf text;
    util_buf_init(&text, 0);
    bool restored = json_is_true(json_object_get(r, "restored"));
    util_buf_printf(&text, "Failover drill %s on pool %s of API %s: %s was out for %llds (ended: %s). %s%s", d->id,
                    d->pool_id, d->api_id, d->member, (long long)(end - d->start), reason, jstr(r, "outcome"),
                    restored ? "; restored: true." : ".");
    json_t *ev = evidence(d, end, end, &text);
    json_t *s = json_pack("{s:b, s:s, s:s, s:b, s:s, s:s, s:s, s:s, s:o}", "applied", 1, "change_id", d->id, "diff", "",
                          "restored", restored, "outcome", jstr(r, "outcome"), "ended", reason, "pool_id", d->pool_id,
                          "backend_id", d->member, "evidence", ev);
    json_decref(r);
    json_t *res = tools_ok(d->ctx, s, text.data);
    if (!restored)
        json_object_set_new(res, "isError", json_true());
    util_buf_free(&text);
    return res;
}

/* ---- the tool ------------------------------------------------------------------------------ */

static void drill_free(struct drill *d)
{
    free(d->pool_id);
    free(d->pool_path);
    json_decref(d->pool);
    free(d->etag);
    json_decref(d->members);
    json_decref(d->after);
    metrics_la_free(&d->la);
    free(d->la_missing);
    json_decref(d->record);
}

/* Where the gateway's logs are, or why they cannot be read (d->la_missing). */
static void find_logs(struct drill *d)
{
    util_error err = {0};
    struct arm_request req = {"GET", "providers/Microsoft.Insights/diagnosticSettings", ARM_API_DIAGNOSTICS, NULL,
                              NULL, NULL};
    struct arm_result res = {0};
    if (arm_call(d->arm, &req, &res, &err) != 0) {
        d->la_missing = util_printf("the diagnostic settings could not be read (%s)", err.message);
    } else {
        metrics_la_read(res.body, &d->la);
        if (!d->la.workspace || !d->la.dedicated || !d->la.gateway_logs)
            d->la_missing = util_strdup("the service sends no gateway logs to a Log Analytics workspace (a diagnostic "
                                        "setting sending GatewayLogs, resource-specific tables)");
    }
    arm_result_free(&res);
}

static json_t *restore_now(struct tools_ctx *ctx, struct arm_client *arm, const char *api_id)
{
    json_t *list = drill_restore_now(ctx, arm, api_id), *x;
    size_t i;
    util_buf b;
    util_buf_init(&b, 0);
    bool all = true;
    json_array_foreach(list, i, x) {
        util_buf_printf(&b, "%sdrill %s: %s", i ? "\n" : "", jstr(x, "change_id"), jstr(x, "outcome"));
        all = all && json_is_true(json_object_get(x, "restored"));
    }
    if (!json_array_size(list))
        util_buf_printf(&b, "API %s has no open failover drill; nothing to restore.", api_id);
    json_t *s = json_pack("{s:b, s:n, s:s, s:b, s:o}", "applied", json_array_size(list) > 0, "change_id", "diff", "",
                          "restored", all, "drills", list);
    json_t *r = tools_ok(ctx, s, b.data);
    util_buf_free(&b);
    return r;
}

static json_t *rehearse_failover(struct mcp_call *call, json_t *args, void *user)
{
    struct tools_ctx *ctx = user;
    util_error err = {0};
    struct drill d = {.ctx = ctx, .call = call, .api_id = jstr(args, "api_id"), .member = jstr(args, "backend_id"),
                      .minutes = (int)json_integer_value(json_object_get(args, "minutes")),
                      .speed = ctx->cfg->drill_speedup > 0 ? ctx->cfg->drill_speedup : 1};
    bool dry = json_is_true(json_object_get(args, "dry_run"));
    json_t *takes_over = NULL, *r = NULL;
    char busy[37];
    if (tools_check_id("api_id", d.api_id, &err) || !(d.arm = tools_call_arm(ctx, call, &err)))
        goto fail;
    if (json_is_true(json_object_get(args, "restore_now")))
        return restore_now(ctx, d.arm, d.api_id);
    if (!d.member || !d.minutes) {
        util_error_set(&err, UTIL_EINVAL, "give backend_id (the pool member to take out) and minutes (1-30), or "
                       "restore_now: true to end the API's open drill");
        goto fail;
    }
    if (tools_check_id("backend_id", d.member, &err) || read_pool(&d, &err))
        goto fail;
    if (drill_pool_busy(ctx, d.pool_path, busy)) {
        util_error_set(&err, UTIL_ECONFLICT, "pool %s already has an open failover drill (change %s); one at a time. "
                       "restore_now: true ends it", d.pool_id, busy);
        goto fail;
    }
    if (plan(&d, &takes_over, &err))
        goto fail;
    if (!dry)
        find_logs(&d);
    struct change *ch = change_new(ctx, call, "rehearse_failover", args);
    char *bt = services_text(json_object_get(json_object_get(json_object_get(d.pool, "properties"), "pool"), "services"));
    char *at = services_text(json_object_get(json_object_get(json_object_get(d.after, "properties"), "pool"), "services"));
    char *label = util_printf("pool %s", d.pool_id);
    change_add(ch, &(struct change_write){.path = d.pool_path, .label = label, .before = d.pool, .etag = d.etag,
                                          .after = d.after, .before_text = bt, .after_text = at}, &err);
    free(bt), free(at), free(label);
    char *who = json_dumps(takes_over, JSON_COMPACT);
    change_set_summary(ch, "pool %s of API %s: %s out for %d minute(s) of gateway time, then back as it was "
                       "(serving meanwhile: %s)", d.pool_id, d.api_id, d.member, d.minutes, who);
    change_add_warning(ch, "%s is put back automatically after %d minute(s), or at once when the drill is cancelled "
                       "or the server stops; after a crash the next start puts it back", d.member, d.minutes);
    free(who);
    change_set_extra(ch, "plan", json_pack("{s:s, s:s, s:i, s:O, s:i}", "pool_id", d.pool_id, "backend_id", d.member,
                                           "minutes", d.minutes, "serving", takes_over, "progress_every_s",
                                           DRILL_TICK_S));
    if (!dry)
        change_set_before_write(ch, before_write, &d);
    r = change_run(ch, dry);
    json_t *sc = json_object_get(r, "structuredContent");
    if (dry || !json_is_true(json_object_get(sc, "applied"))) {
        if (d.id[0]) { /* journaled as open but the take-out did not happen (or is unknown): settle it now */
            json_t *x = drill_restore(ctx, d.arm, d.record, "the take-out write failed");
            json_decref(x);
            drill_unregister(ctx, d.id);
        }
        goto done;
    }
    json_decref(r);
    json_t *rec = NULL;
    if (change_journal_find(ctx->cfg->audit_log, d.id, &rec, &err) == 0) { /* with the ETag after our write */
        json_object_set_new(rec, "change_id", json_string(d.id));
        json_decref(d.record);
        d.record = rec;
        drill_update_record(ctx, d.id, rec);
    }
    util_error_clear(&err);
    json_t *now_body = NULL;
    char *now_etag = NULL;
    int64_t date = 0;
    if (drill_read(d.arm, d.pool_path, &now_body, &now_etag, &date, &err) == 0 && date) {
        /* the gateway's time right after the take-out: the drill's window starts here (the journal's
         * deadline, estimated before the write, is the earlier bound a recovery uses) */
        set_date(&d, date);
        d.start = date;
        d.deadline = d.start + (int64_t)d.minutes * 60;
    }
    json_decref(now_body);
    free(now_etag);
    util_error_clear(&err);
    r = run(&d);
    drill_unregister(ctx, d.id);
    goto done;
fail:
    r = tools_fail(ctx, &err);
done:
    if (d.held) /* a SIGTERM/SIGINT that arrived meanwhile ends the process here, the member back */
        mcp_call_hold_exit(call, false);
    json_decref(takes_over);
    drill_free(&d);
    return r;
}

const struct mcp_tool tools_rehearse_failover = {
    .name = "rehearse_failover",
    .title = "Rehearse failover",
    .description = "Failover drill: takes backend_id out of the API's pool for minutes, reports traffic per "
                   "backend as progress, puts it back as it was (also if cancelled or stopped) and returns the "
                   "evidence. restore_now ends an open drill.",
    .input_schema = "{\"type\":\"object\",\"properties\":{\"api_id\":{\"type\":\"string\"},\"backend_id\":{\"type\":"
                    "\"string\"},\"minutes\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":30},\"restore_now\":{"
                    "\"type\":\"boolean\"}," CHANGE_INPUT_DRY_RUN "},\"required\":[\"api_id\"],"
                    "\"additionalProperties\":false}",
    .output_schema = "{\"type\":\"object\",\"properties\":{" CHANGE_OUTPUT_PROPERTIES ",\"restored\":{\"type\":"
                     "\"boolean\"}},\"required\":[" CHANGE_OUTPUT_REQUIRED "]}",
    .destructive_hint = true,
    .idempotent_hint = false,
    .writes = true,
    .fn = rehearse_failover,
};
