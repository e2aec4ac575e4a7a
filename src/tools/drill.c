/* drill: open failover drills — registry, restore, recovery after a crash, the open-drill note
 * (see drill.h). */
#include "drill.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "change.h"
#include "platform.h"

#define DRILL_OWNER_GRACE_S 120 /* gateway seconds past the deadline before a live owner's drill is taken over */

struct drill_entry {
    char id[37];
    char *pool_path;  /* lower-case "backends/<pool>" */
    json_t *record;   /* its journal record */
    bool running;     /* a rehearse_failover call of this process runs it */
    bool closed;
    bool end_now;     /* restore_now asked */
    char outcome[512];
    struct drill_entry *next;
};

struct drill_state {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct drill_entry *head;
    bool scanned, thread_started, stopping;
    pthread_t thread;
};

static const char *jstr(const json_t *o, const char *key) { return json_string_value(json_object_get(o, key)); }

static json_t *drill_of(const json_t *rec) { return json_object_get(rec, "drill"); }
static json_t *pool_write(const json_t *rec) { return json_array_get(json_object_get(rec, "resources"), 0); }

int64_t drill_deadline(const json_t *rec)
{
    int64_t t = 0;
    const char *d = jstr(drill_of(rec), "deadline");
    return d && util_time_parse_iso8601(d, &t) == 0 ? t : 0;
}

static char *lower(const char *s)
{
    char *l = util_strdup(s ? s : "");
    for (char *p = l; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return l;
}

struct drill_state *drill_state_new(void)
{
    struct drill_state *st = calloc(1, sizeof *st);
    if (!st)
        abort();
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->cond, NULL);
    return st;
}

static struct drill_entry *find(struct drill_state *st, const char *id)
{
    for (struct drill_entry *e = st->head; e; e = e->next)
        if (!strcmp(e->id, id))
            return e;
    return NULL;
}

/* Adds an entry (st->lock held). */
static struct drill_entry *add(struct drill_state *st, const char *id, json_t *rec, bool running)
{
    struct drill_entry *e = calloc(1, sizeof *e);
    if (!e)
        abort();
    snprintf(e->id, sizeof e->id, "%s", id);
    e->pool_path = lower(jstr(pool_write(rec), "path"));
    e->record = json_incref(rec);
    e->running = running;
    struct drill_entry **pp = &st->head;
    while (*pp)
        pp = &(*pp)->next;
    *pp = e;
    return e;
}

static void entry_free(struct drill_entry *e)
{
    json_decref(e->record);
    free(e->pool_path);
    free(e);
}

/* ---- reading and restoring --------------------------------------------------------------- */

int drill_read(struct arm_client *arm, const char *path, json_t **body, char **etag, int64_t *date, util_error *err)
{
    return change_read_dated(arm, path, NULL, body, etag, date, err);
}

/* props without "pool" (NEW). */
static json_t *without_pool(const json_t *props)
{
    json_t *c = json_is_object(props) ? json_deep_copy(props) : json_object();
    json_object_del(c, "pool");
    return c;
}

/* True when cur is the pool as the drill left it: the services it wrote, the rest as before. */
static bool as_taken_out(const json_t *cur, const char *cur_etag, const json_t *w)
{
    const char *etag_after = jstr(w, "etag_after");
    if (etag_after && cur_etag && !strcmp(etag_after, cur_etag))
        return true;
    json_t *cp = json_object_get(cur, "properties");
    json_t *ap = json_object_get(json_object_get(w, "after"), "properties");
    json_t *bp = json_object_get(json_object_get(w, "before"), "properties");
    json_t *a = without_pool(cp), *b = without_pool(bp);
    bool same = json_equal(json_object_get(json_object_get(cp, "pool"), "services"),
                           json_object_get(json_object_get(ap, "pool"), "services")) &&
                json_equal(a, b);
    json_decref(a);
    json_decref(b);
    return same;
}

static bool as_before(const json_t *cur, const json_t *w)
{
    return cur && json_equal(json_object_get(cur, "properties"),
                             json_object_get(json_object_get(w, "before"), "properties"));
}

/* Journals {"closes": id} and marks the entry closed. */
static void close_drill(struct tools_ctx *ctx, const char *id, bool restored, const char *outcome, const char *why)
{
    char now[32], rid[37];
    util_time_iso8601(util_now_ms() / 1000, now, sizeof now);
    util_uuid4(rid);
    json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "time", now, "change_id", rid, "closes", id, "outcome",
                            outcome, "restored", restored, "reason", why ? why : "");
    util_error e = {0};
    if (change_journal_append(ctx->cfg->audit_log, rec, &e) != 0)
        LOG_WARN("drill", "drill %s is closed (%s) but that could not be journaled: %s", id, outcome, e.message);
    json_decref(rec);
    struct drill_state *st = ctx->drills;
    pthread_mutex_lock(&st->lock);
    struct drill_entry *en = find(st, id);
    if (en) {
        en->closed = true;
        snprintf(en->outcome, sizeof en->outcome, "%s", outcome);
    }
    pthread_cond_broadcast(&st->cond);
    pthread_mutex_unlock(&st->lock);
}

json_t *drill_restore(struct tools_ctx *ctx, struct arm_client *arm, json_t *rec, const char *why)
{
    const char *id = jstr(rec, "change_id");
    json_t *w = pool_write(rec), *d = drill_of(rec);
    const char *path = jstr(w, "path"), *member = jstr(d, "backend_id"), *pool = jstr(d, "pool_id");
    json_t *cur = NULL;
    char *etag = NULL;
    int64_t date = 0;
    util_error err = {0};
    bool restored = false, closed = true;
    char *outcome = NULL;
    arm_set_cancel(arm, NULL); /* putting the member back is never cancelled */
    if (drill_read(arm, path, &cur, &etag, &date, &err) != 0) {
        closed = false;
        outcome = util_printf("pool %s could not be read (%s); %s stays out and the drill stays open", pool,
                              err.message, member);
    } else if (as_before(cur, w)) {
        restored = true;
        outcome = util_printf("pool %s was already as before the drill (%s in it)", pool, member);
    } else if (!cur || !as_taken_out(cur, etag, w)) {
        outcome = util_printf("NOT restored: pool %s was changed by someone else during the drill, so it was not "
                              "overwritten; %s is still out of it: add it back with update_backend_pool (its entry "
                              "before the drill is in the journal, change %s)", pool, member, id);
    } else {
        struct arm_result res = {0};
        json_t *before = json_object_get(w, "before");
        if (arm_put(arm, path, before, etag, &res, &err) != 0) {
            closed = err.code == UTIL_ECONFLICT;
            outcome = closed ? util_printf("NOT restored: pool %s was changed by someone else just now (%s); it was "
                                           "not overwritten and %s is still out: add it back with update_backend_pool",
                                           pool, err.message, member)
                             : util_printf("putting %s back into pool %s failed (%s); the drill stays open and is "
                                           "retried", member, pool, err.message);
        } else {
            if (res.date)
                date = res.date;
            json_t *now = NULL;
            char *etag2 = NULL;
            util_error e2 = {0};
            restored = drill_read(arm, path, &now, &etag2, &date, &e2) == 0 && as_before(now, w);
            outcome = restored ? util_printf("%s is back in pool %s; the pool reads as before the drill", member, pool)
                               : util_printf("%s was written back into pool %s, but the pool does not read as before "
                                             "the drill (%s): check it with get_backend_pool", member, pool,
                                             e2.code ? e2.message : "it differs");
            json_decref(now);
            free(etag2);
        }
        arm_result_free(&res);
    }
    util_text_clean(outcome);
    if (closed)
        close_drill(ctx, id, restored, outcome, why);
    json_t *r = json_pack("{s:s, s:b, s:b, s:s, s:I}", "change_id", id, "restored", restored, "closed", closed,
                          "outcome", outcome, "date", (json_int_t)date);
    free(outcome);
    json_decref(cur);
    free(etag);
    return r;
}

/* ---- the registry ------------------------------------------------------------------------ */

int drill_register(struct tools_ctx *ctx, const char *id, json_t *record, util_error *err)
{
    struct drill_state *st = ctx->drills;
    char busy[37];
    if (drill_pool_busy(ctx, jstr(pool_write(record), "path"), busy))
        return util_error_set(err, UTIL_ECONFLICT, "pool %s already has a failover drill running (change %s); "
                              "one drill per pool at a time", jstr(drill_of(record), "pool_id"), busy);
    pthread_mutex_lock(&st->lock);
    add(st, id, record, true);
    pthread_mutex_unlock(&st->lock);
    return 0;
}

void drill_update_record(struct tools_ctx *ctx, const char *id, json_t *record)
{
    struct drill_state *st = ctx->drills;
    pthread_mutex_lock(&st->lock);
    struct drill_entry *e = find(st, id);
    if (e && record) {
        json_decref(e->record);
        e->record = json_incref(record);
    }
    pthread_mutex_unlock(&st->lock);
}

void drill_unregister(struct tools_ctx *ctx, const char *id)
{
    struct drill_state *st = ctx->drills;
    pthread_mutex_lock(&st->lock);
    for (struct drill_entry **pp = &st->head; *pp; pp = &(*pp)->next)
        if (!strcmp((*pp)->id, id)) {
            struct drill_entry *e = *pp;
            *pp = e->next;
            entry_free(e);
            break;
        }
    pthread_mutex_unlock(&st->lock);
}

bool drill_pool_busy(struct tools_ctx *ctx, const char *pool_path, char *id_out)
{
    drill_startup(ctx);
    struct drill_state *st = ctx->drills;
    char *key = lower(pool_path);
    bool busy = false;
    pthread_mutex_lock(&st->lock);
    for (struct drill_entry *e = st->head; e && !busy; e = e->next)
        if (!e->closed && !strcmp(e->pool_path, key)) {
            busy = true;
            snprintf(id_out, 37, "%s", e->id);
        }
    pthread_mutex_unlock(&st->lock);
    free(key);
    return busy;
}

bool drill_should_end(struct tools_ctx *ctx, const char *id, bool *closed, char *outcome, size_t n)
{
    struct drill_state *st = ctx->drills;
    pthread_mutex_lock(&st->lock);
    struct drill_entry *e = find(st, id);
    *closed = e && e->closed;
    bool end = !e || e->closed || e->end_now;
    if (e && e->closed)
        snprintf(outcome, n, "%s", e->outcome);
    pthread_mutex_unlock(&st->lock);
    return end;
}

void drill_closed_by_revert(struct tools_ctx *ctx, const char *id, const char *revert_id)
{
    struct drill_state *st = ctx->drills;
    pthread_mutex_lock(&st->lock);
    struct drill_entry *e = find(st, id);
    if (e) {
        e->closed = true;
        snprintf(e->outcome, sizeof e->outcome, "put back by revert_change (change %s)", revert_id);
    }
    pthread_cond_broadcast(&st->cond);
    pthread_mutex_unlock(&st->lock);
}

/* ---- recovery ------------------------------------------------------------------------------ */

/* Waits up to ms on the state's condition (st->lock held). */
static void timed_wait(struct drill_state *st, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = ts.tv_nsec + (ms % 1000) * 1000000;
    ts.tv_sec += (time_t)(ms / 1000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    pthread_cond_timedwait(&st->cond, &st->lock, &ts);
}

/* One left-over drill: restored when its deadline passed on the gateway clock (or now is true);
 * else the wall time until it will have, in ms. */
static int64_t recover_one(struct tools_ctx *ctx, struct arm_client *arm, json_t *rec, bool now)
{
    /* a drill whose process still runs (another server on the same journal) is that process's to end:
     * never cut short here, and taken over only a while after its deadline (that process hangs) */
    json_int_t pid = json_integer_value(json_object_get(drill_of(rec), "pid"));
    bool owner_alive = pid > 0 && (unsigned long)pid != platform_pid() && platform_process_alive((unsigned long)pid);
    if (owner_alive && now)
        return 0;
    int64_t grace = owner_alive ? DRILL_OWNER_GRACE_S : 0;
    json_t *w = pool_write(rec), *cur = NULL;
    char *etag = NULL;
    int64_t date = 0, deadline = drill_deadline(rec);
    util_error err = {0};
    int rc = now ? 0 : drill_read(arm, jstr(w, "path"), &cur, &etag, &date, &err);
    json_decref(cur);
    free(etag);
    if (rc)
        return 5000;
    if (!now && date && deadline && date < deadline + grace) {
        int64_t speed = ctx->cfg->drill_speedup > 0 ? ctx->cfg->drill_speedup : 1;
        return (deadline + grace - date) * 1000 / speed + 50;
    }
    json_t *r = drill_restore(ctx, arm, rec, now ? "the server ended before the drill's deadline"
                                                 : "the drill's deadline passed after its server ended");
    bool closed = json_is_true(json_object_get(r, "closed"));
    LOG_INFO("drill", "left-over failover drill %s: %s", jstr(rec, "change_id"), jstr(r, "outcome"));
    json_decref(r);
    return closed ? 0 : 5000;
}

static void *recovery_main(void *arg)
{
    struct tools_ctx *ctx = arg;
    struct drill_state *st = ctx->drills;
    pthread_mutex_lock(&st->lock);
    for (;;) {
        json_t *todo = json_array();
        for (struct drill_entry *e = st->head; e; e = e->next)
            if (!e->running && !e->closed)
                json_array_append(todo, e->record);
        bool stopping = st->stopping;
        pthread_mutex_unlock(&st->lock);
        int64_t wait = 60000;
        util_error err = {0};
        struct arm_client *arm = json_array_size(todo) ? tools_arm(ctx, &err) : NULL;
        json_t *rec;
        size_t i;
        json_array_foreach(todo, i, rec) {
            if (!arm)
                break;
            int64_t next = recover_one(ctx, arm, rec, stopping);
            if (next > 0 && next < wait)
                wait = next;
        }
        size_t n = json_array_size(todo);
        json_decref(todo);
        pthread_mutex_lock(&st->lock);
        if (stopping || (n == 0 && !st->stopping))
            break;
        if (!st->stopping)
            timed_wait(st, wait);
    }
    st->thread_started = false;
    pthread_mutex_unlock(&st->lock);
    return NULL;
}

/* Starts the recovery thread when a left-over drill needs it (st->lock held). */
static void start_recovery(struct tools_ctx *ctx)
{
    struct drill_state *st = ctx->drills;
    if (st->thread_started || st->stopping)
        return;
    bool need = false;
    for (struct drill_entry *e = st->head; e; e = e->next)
        need = need || (!e->running && !e->closed);
    if (!need)
        return;
    if (st->thread && pthread_join(st->thread, NULL) == 0)
        st->thread = 0;
    st->thread_started = pthread_create(&st->thread, NULL, recovery_main, ctx) == 0;
}

void drill_startup(struct tools_ctx *ctx)
{
    struct drill_state *st = ctx->drills;
    pthread_mutex_lock(&st->lock);
    if (st->scanned) {
        pthread_mutex_unlock(&st->lock);
        return;
    }
    st->scanned = true;
    pthread_mutex_unlock(&st->lock);
    json_t *open = change_journal_open_drills(ctx->cfg->audit_log), *rec;
    size_t i;
    pthread_mutex_lock(&st->lock);
    json_array_foreach(open, i, rec) {
        const char *id = jstr(rec, "change_id");
        if (!find(st, id))
            add(st, id, rec, false);
    }
    start_recovery(ctx);
    pthread_mutex_unlock(&st->lock);
    json_decref(open);
}

void drill_state_free(struct tools_ctx *ctx)
{
    struct drill_state *st = ctx->drills;
    if (!st)
        return;
    pthread_mutex_lock(&st->lock);
    st->stopping = true;
    bool running = st->thread_started;
    pthread_cond_broadcast(&st->cond);
    pthread_mutex_unlock(&st->lock);
    if (running || st->thread)
        pthread_join(st->thread, NULL);
    while (st->head) {
        struct drill_entry *e = st->head;
        st->head = e->next;
        entry_free(e);
    }
    pthread_mutex_destroy(&st->lock);
    pthread_cond_destroy(&st->cond);
    free(st);
    ctx->drills = NULL;
}

json_t *drill_restore_now(struct tools_ctx *ctx, struct arm_client *arm, const char *api_id)
{
    drill_startup(ctx);
    struct drill_state *st = ctx->drills;
    json_t *mine = json_array(), *left = json_array(), *out = json_array();
    pthread_mutex_lock(&st->lock);
    for (struct drill_entry *e = st->head; e; e = e->next) {
        if (e->closed || !util_str_eq_ci(jstr(drill_of(e->record), "api_id"), api_id))
            continue;
        if (e->running) {
            e->end_now = true;
            json_array_append_new(mine, json_string(e->id));
        } else {
            json_array_append(left, e->record);
        }
    }
    pthread_cond_broadcast(&st->cond);
    /* a running drill restores within its next poll (100 ms): wait for it (bounded) */
    for (int64_t t0 = util_now_ms(); util_now_ms() - t0 < 60000;) {
        bool all = true;
        json_t *v;
        size_t i;
        json_array_foreach(mine, i, v) {
            struct drill_entry *e = find(st, json_string_value(v));
            all = all && (!e || e->closed);
        }
        if (all)
            break;
        timed_wait(st, 200);
    }
    json_t *v;
    size_t i;
    json_array_foreach(mine, i, v) {
        struct drill_entry *e = find(st, json_string_value(v));
        json_array_append_new(out, json_pack("{s:s, s:b, s:s}", "change_id", json_string_value(v), "restored",
                                             e && e->closed && strncmp(e->outcome, "NOT", 3) != 0, "outcome",
                                             e && e->closed ? e->outcome : "still running: not yet put back"));
    }
    pthread_mutex_unlock(&st->lock);
    json_array_foreach(left, i, v) {
        json_t *r = drill_restore(ctx, arm, v, "restore_now was asked");
        json_object_del(r, "date");
        json_object_del(r, "closed");
        json_array_append_new(out, r);
    }
    json_decref(mine);
    json_decref(left);
    return out;
}

void drill_check(struct tools_ctx *ctx, struct arm_client *arm, util_buf *report)
{
    json_t *open = change_journal_open_drills(ctx->cfg->audit_log), *rec;
    size_t i;
    json_array_foreach(open, i, rec) {
        json_t *d = drill_of(rec);
        int64_t wait = recover_one(ctx, arm, rec, false);
        json_t *still = change_journal_open_drills(ctx->cfg->audit_log), *x;
        size_t j;
        bool open_now = false;
        json_array_foreach(still, j, x)
            open_now = open_now || !strcmp(jstr(x, "change_id"), jstr(rec, "change_id"));
        json_decref(still);
        if (!open_now)
            util_buf_printf(report, "failover drill %s: %s was out of pool %s past its deadline; it was put back "
                            "(see the journal)\n", jstr(rec, "change_id"), jstr(d, "backend_id"), jstr(d, "pool_id"));
        else
            util_buf_printf(report, "OPEN failover drill %s: %s is out of pool %s until %s (gateway clock)%s; "
                            "rehearse_failover restore_now: true puts it back at once\n", jstr(rec, "change_id"),
                            jstr(d, "backend_id"), jstr(d, "pool_id"), jstr(d, "deadline"),
                            wait > 0 ? ", then the next server start puts it back" : "");
    }
    json_decref(open);
}

json_t *drill_annotate(struct tools_ctx *ctx, json_t *result, const char *skip_id)
{
    struct drill_state *st = ctx->drills;
    json_t *content = json_object_get(result, "content");
    if (!st || !json_is_array(content))
        return result;
    pthread_mutex_lock(&st->lock);
    for (struct drill_entry *e = st->head; e; e = e->next) {
        if (e->closed || (skip_id && !strcmp(skip_id, e->id)))
            continue;
        json_t *d = drill_of(e->record);
        char *t = util_printf("Open failover drill %s: backend %s is out of pool %s (API %s) until %s on the "
                              "gateway's clock, then it is put back automatically; rehearse_failover with "
                              "restore_now: true (or revert_change with this change_id) puts it back now.",
                              e->id, jstr(d, "backend_id"), jstr(d, "pool_id"), jstr(d, "api_id"),
                              jstr(d, "deadline"));
        json_array_append_new(content, json_pack("{s:s, s:s}", "type", "text", "text", t));
        free(t);
    }
    pthread_mutex_unlock(&st->lock);
    return result;
}
