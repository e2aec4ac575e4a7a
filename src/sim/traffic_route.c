/* traffic_route.c: how apim-sim's traffic model routes a request through the backend that
 * set-backend-service names (docs/apim-sim.md, "Routing and failures"):
 *   - a pool sends each request to the group of members with the lowest priority value among those
 *     whose circuit breaker is closed, and within the group by weight (Learn, "Backends in API
 *     Management": load-balanced pool, priority-based and weighted); a Single backend is a pool of one;
 *   - no member closed: the gateway answers 503 itself (Learn: a tripped breaker returns 503);
 *   - backend faults (POST /_sim/faults, scenario "faults") make a backend answer 503 ("5xx"), 429 (with
 *     Retry-After: the seconds left in the fault) or not at all ("timeout": forward-request times out,
 *     the gateway answers 504) during a window;
 *   - the API's <retry> around forward-request retries the statuses its condition names, up to count
 *     times, each retry choosing again from the pool (a timeout is not retried);
 *   - each member's circuitBreaker.rules count the failed attempts whose status lies in
 *     statusCodeRanges (a timeout counts when the rule lists errorReasons or a range holds 504) over
 *     the rule's interval, as a count or a percentage of the attempts; reaching it trips the breaker
 *     for tripDuration (or for the Retry-After of a 429 when acceptRetryAfter is true), after which the
 *     counts start again.
 * The breakers are simulated second by second over the faults' windows only (nothing else fails:
 * deployment-capacity 429s are not fed to breakers or retries), once per change of faults or
 * configuration; the result is a list of open intervals per backend, and the traffic model integrates
 * its rates piecewise between the instants this module lists (sim_traffic_route_breaks). */
#include "traffic.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAULTS_MAX 32
#define FAULT_MAX_S (24 * 3600)      /* one fault lasts at most a day */
#define RULE_WINDOW_MAX_S 3600        /* a rule's interval is modelled up to one hour */
#define TRIP_MAX_S (24 * 3600)
#define RULES_MAX 15
#define TRIPS_MAX 10000               /* trips modelled; past them a breaker stays open to the window's end */

/* ---- faults ----------------------------------------------------------------------------- */

static const char *const fault_kinds[] = {"", "5xx", "429", "timeout", NULL};

static int parse_instant(json_t *v, double *out)
{
    int64_t t;
    if (!json_is_string(v) || util_time_parse_iso8601(json_string_value(v), &t) != 0 || t <= 0)
        return -1;
    *out = (double)t;
    return 0;
}

/* Validates one fault; fills a new normalised object or returns NULL with err. */
static json_t *fault_parse(sim_state *st, json_t *in, util_error *err)
{
    if (!json_is_object(in)) {
        util_error_set(err, UTIL_EINVAL, "faults: a backend fault is an object {backend_id, kind, from?, until | minutes}");
        return NULL;
    }
    const char *key;
    json_t *v;
    json_object_foreach(in, key, v)
        if (strcmp(key, "backend_id") && strcmp(key, "kind") && strcmp(key, "from") && strcmp(key, "until") &&
            strcmp(key, "minutes")) {
            util_error_set(err, UTIL_EINVAL, "faults: unknown member '%.64s' (backend_id, kind, from, until, minutes)", key);
            return NULL;
        }
    const char *backend = json_string_value(json_object_get(in, "backend_id"));
    const char *kind = json_string_value(json_object_get(in, "kind"));
    json_t *minutes = json_object_get(in, "minutes"), *until = json_object_get(in, "until");
    double from = (double)sim_now_s(st), to = 0;
    int k = 0;
    for (int i = 1; kind && fault_kinds[i]; i++)
        if (!strcmp(kind, fault_kinds[i]))
            k = i;
    if (!backend || !*backend || strlen(backend) > 80 || strchr(backend, '/'))
        util_error_set(err, UTIL_EINVAL, "faults: backend_id must be a backend name (1 to 80 characters, no '/')");
    else if (!k)
        util_error_set(err, UTIL_EINVAL, "faults: kind must be \"5xx\", \"429\" or \"timeout\"");
    else if (json_object_get(in, "from") && parse_instant(json_object_get(in, "from"), &from) != 0)
        util_error_set(err, UTIL_EINVAL, "faults: from must be an ISO 8601 UTC instant such as \"2026-11-30T08:00:00Z\"");
    else if ((until != NULL) == (minutes != NULL))
        util_error_set(err, UTIL_EINVAL, "faults: give exactly one of until (ISO 8601) and minutes");
    else if (until && parse_instant(until, &to) != 0)
        util_error_set(err, UTIL_EINVAL, "faults: until must be an ISO 8601 UTC instant such as \"2026-11-30T08:05:00Z\"");
    else if (minutes && (!json_is_number(minutes) || !(json_number_value(minutes) > 0) ||
                         json_number_value(minutes) > FAULT_MAX_S / 60))
        util_error_set(err, UTIL_EINVAL, "faults: minutes must be a number greater than 0 and at most 1440");
    else {
        if (minutes)
            to = from + floor(json_number_value(minutes) * 60.0);
        if (to <= from || to - from > FAULT_MAX_S) {
            util_error_set(err, UTIL_EINVAL, "faults: until must be after from, at most 24 hours later");
            return NULL;
        }
        char f[32], u[32];
        util_time_iso8601((int64_t)from, f, sizeof(f));
        util_time_iso8601((int64_t)to, u, sizeof(u));
        return json_pack("{s:I,s:s,s:s,s:s,s:s,s:f,s:f}", "id", (json_int_t)0, "backend_id", backend, "kind",
                         fault_kinds[k], "from", f, "until", u, "from_s", from, "until_s", to);
    }
    return NULL;
}

int64_t sim_traffic_fault_add(sim_state *st, json_t *fault, util_error *err)
{
    if (json_array_size(st->backend_faults) >= FAULTS_MAX) {
        util_error_set(err, UTIL_EINVAL, "faults: at most %d backend faults at a time (DELETE /_sim/faults clears them)",
                       FAULTS_MAX);
        return 0;
    }
    json_t *f = fault_parse(st, fault, err);
    if (!f)
        return 0;
    int64_t id = ++st->fault_seq;
    json_object_set_new(f, "id", json_integer(id));
    json_array_append_new(st->backend_faults, f);
    st->traffic_version++;
    return id;
}

int sim_traffic_faults_set(sim_state *st, json_t *faults, util_error *err)
{
    if (!json_is_array(faults))
        return util_error_set(err, UTIL_EINVAL, "faults: a list of backend faults must be an array");
    sim_traffic_faults_clear(st);
    size_t i;
    json_t *f;
    json_array_foreach(faults, i, f) {
        if (!sim_traffic_fault_add(st, f, err)) {
            util_error_prefix(err, "faults[%zu]", i);
            sim_traffic_faults_clear(st);
            return UTIL_EINVAL;
        }
    }
    return 0;
}

void sim_traffic_faults_clear(sim_state *st)
{
    json_array_clear(st->backend_faults);
    st->traffic_version++;
}

int sim_traffic_fault_at(sim_state *st, const char *backend, double t)
{
    if (t < 0)
        return SIM_FAULT_NONE;
    size_t i;
    json_t *f;
    json_array_foreach(st->backend_faults, i, f) {
        if (t >= json_number_value(json_object_get(f, "from_s")) && t < json_number_value(json_object_get(f, "until_s")) &&
            !strcmp(json_string_value(json_object_get(f, "backend_id")), backend)) {
            const char *k = json_string_value(json_object_get(f, "kind"));
            return !strcmp(k, "5xx") ? SIM_FAULT_5XX : !strcmp(k, "429") ? SIM_FAULT_429 : SIM_FAULT_TIMEOUT;
        }
    }
    return SIM_FAULT_NONE;
}

/* Seconds left in backend's 429 fault at t: the Retry-After it sends (at least 1). */
static double retry_after(sim_state *st, const char *backend, double t)
{
    size_t i;
    json_t *f;
    double best = 1;
    json_array_foreach(st->backend_faults, i, f) {
        double a = json_number_value(json_object_get(f, "from_s")), b = json_number_value(json_object_get(f, "until_s"));
        if (t >= a && t < b && !strcmp(json_string_value(json_object_get(f, "backend_id")), backend))
            best = fmax(best, ceil(b - t));
    }
    return best;
}

/* ---- routing ---------------------------------------------------------------------------- */

static json_t *backend_props(sim_state *st, const char *name)
{
    char *id = util_printf("%s/backends/%s", st->service_id, name);
    json_t *p = json_object_get(json_object_get(sim_state_get(st, id), "resource"), "properties");
    free(id);
    return p;
}

const char *sim_traffic_backend_url(sim_state *st, const char *backend)
{
    const char *url = backend ? json_string_value(json_object_get(backend_props(st, backend), "url")) : NULL;
    return url ? url : "";
}

static bool timeline_open(void *ctx, const char *backend);

struct open_at {
    sim_state *st;
    double t;
};

static bool retryable(json_t *retry, int fault)
{
    return (fault == SIM_FAULT_5XX && json_is_true(json_object_get(retry, "on5xx"))) ||
           (fault == SIM_FAULT_429 && json_is_true(json_object_get(retry, "on429")));
}

void sim_traffic_route(sim_state *st, json_t *cfg, double t, sim_route_open_fn is_open, void *ctx, sim_route *out)
{
    memset(out, 0, sizeof(*out));
    struct open_at oa = {st, t};
    if (!is_open) {
        is_open = timeline_open;
        ctx = &oa;
    }
    json_t *pool = json_object_get(cfg, "pool"), *retry = json_object_get(cfg, "retry");
    size_t i;
    json_t *m;
    /* the lowest priority value among closed members */
    json_int_t best = 0;
    bool any = false;
    json_array_foreach(pool, i, m) {
        if (out->n >= SIM_TRAFFIC_MAX_BACKENDS)
            break;
        const char *name = json_string_value(json_array_get(m, 0));
        if (!name)
            continue;
        snprintf(out->name[out->n], sizeof(out->name[0]), "%s", name);
        out->fault[out->n] = sim_traffic_fault_at(st, name, t);
        json_int_t prio = json_integer_value(json_array_get(m, 1));
        bool open = is_open(ctx, name);
        out->disturbed = out->disturbed || open || out->fault[out->n] != SIM_FAULT_NONE;
        if (!open && (!any || prio < best)) {
            best = prio;
            any = true;
        }
        out->n++;
    }
    if (!any) {
        out->unavailable = 1;
        return;
    }
    double p[SIM_TRAFFIC_MAX_BACKENDS] = {0}, wsum = 0;
    int members = 0;
    for (int k = 0; k < out->n; k++) {
        json_t *mk = json_array_get(pool, (size_t)k);
        if (json_integer_value(json_array_get(mk, 1)) != best || is_open(ctx, out->name[k]))
            continue;
        p[k] = (double)json_integer_value(json_array_get(mk, 2));
        p[k] = p[k] > 0 ? p[k] : 0;
        wsum += p[k];
        members++;
    }
    for (int k = 0; k < out->n; k++) { /* weights all 0: equal shares */
        json_t *mk = json_array_get(pool, (size_t)k);
        bool in = json_integer_value(json_array_get(mk, 1)) == best && !is_open(ctx, out->name[k]);
        p[k] = !in ? 0 : wsum > 0 ? p[k] / wsum : 1.0 / members;
    }
    /* q: the chance one attempt fails with a status the retry condition names */
    int count = retry ? (int)json_integer_value(json_object_get(retry, "count")) : 0;
    double q = 0;
    for (int k = 0; k < out->n; k++)
        if (retryable(retry, out->fault[k]))
            q += p[k];
    double s = 0, qj = 1; /* s: expected attempts = sum of q^j, j = 0..count */
    for (int j = 0; j <= count; j++, qj *= q)
        s += qj;
    double qc = pow(q, count), interval_ms = json_number_value(json_object_get(retry, "interval")) * 1000.0;
    bool ff = json_is_true(json_object_get(retry, "first_fast"));
    qj = q;
    for (int j = 1; j <= count; j++, qj *= q) /* the wait before retry j, reached with chance q^j */
        out->wait_ms += qj * (j == 1 && ff ? 0 : interval_ms);
    for (int k = 0; k < out->n; k++) {
        double lat = sim_traffic_backend_latency(st, out->name[k]);
        out->attempts[k] = p[k] * s;
        if (out->fault[k] == SIM_FAULT_NONE) {
            out->ok[k] = p[k] * s;
            continue;
        }
        out->failed_attempts[k] = p[k] * s;
        double final = retryable(retry, out->fault[k]) ? p[k] * qc : p[k] * s;
        /* every failed attempt but the final one adds its time to the request */
        double t_attempt = out->fault[k] == SIM_FAULT_TIMEOUT ? SIM_FORWARD_TIMEOUT_MS : lat;
        out->wait_ms += (p[k] * s - final) * t_attempt;
        if (out->fault[k] == SIM_FAULT_5XX)
            out->fail[k] = final;
        else if (out->fault[k] == SIM_FAULT_429)
            out->thr[k] = final;
        else
            out->tmo[k] = final;
    }
}

/* ---- circuit breakers ------------------------------------------------------------------- */

typedef struct rule {
    double count, percentage; /* one of them > 0 */
    int window;               /* seconds */
    double trip;              /* seconds */
    bool accept_retry_after, on5xx, on429, on_timeout;
    double *fail, *total;     /* ring buffers of `window` seconds */
    double sum_fail, sum_total;
} rule;

typedef struct breaker {
    char name[128];
    int nrules;
    rule rules[RULES_MAX];
    double open_until; /* epoch s; closed when <= now */
} breaker;

static bool range_holds(json_t *ranges, int status)
{
    size_t i;
    json_t *r;
    json_array_foreach(ranges, i, r)
        if (status >= json_integer_value(json_object_get(r, "min")) && status <= json_integer_value(json_object_get(r, "max")))
            return true;
    return false;
}

static double duration_s(json_t *v, double dflt)
{
    int64_t d;
    return json_is_string(v) && util_duration_parse_iso8601(json_string_value(v), &d) == 0 && d > 0 ? (double)d : dflt;
}

/* The backend's circuitBreaker.rules (its CURRENT properties). */
static void breaker_load(sim_state *st, const char *name, breaker *b)
{
    memset(b, 0, sizeof(*b));
    snprintf(b->name, sizeof(b->name), "%s", name);
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(json_object_get(backend_props(st, name), "circuitBreaker"), "rules"), i, r) {
        if (b->nrules >= RULES_MAX)
            break;
        json_t *fc = json_object_get(r, "failureCondition"), *ranges = json_object_get(fc, "statusCodeRanges");
        rule *x = &b->rules[b->nrules];
        x->count = json_is_integer(json_object_get(fc, "count")) ? (double)json_integer_value(json_object_get(fc, "count")) : 0;
        x->percentage = json_is_integer(json_object_get(fc, "percentage"))
                            ? (double)json_integer_value(json_object_get(fc, "percentage")) : 0;
        if (x->count <= 0 && x->percentage <= 0)
            continue; /* no condition: never trips */
        x->window = (int)fmin(duration_s(json_object_get(fc, "interval"), 60), RULE_WINDOW_MAX_S);
        x->trip = fmin(duration_s(json_object_get(r, "tripDuration"), 60), TRIP_MAX_S);
        x->accept_retry_after = json_is_true(json_object_get(r, "acceptRetryAfter"));
        bool ranged = json_array_size(ranges) > 0;
        /* without statusCodeRanges a rule counts server errors (5xx): apim-sim's safe reading */
        x->on5xx = ranged ? range_holds(ranges, SIM_FAULT_5XX_STATUS) : true;
        x->on429 = ranged && range_holds(ranges, 429);
        x->on_timeout = json_array_size(json_object_get(fc, "errorReasons")) > 0 || range_holds(ranges, SIM_TIMEOUT_STATUS) ||
                        !ranged;
        x->fail = calloc((size_t)x->window, sizeof(double));
        x->total = calloc((size_t)x->window, sizeof(double));
        if (!x->fail || !x->total)
            abort();
        b->nrules++;
    }
}

static void breaker_reset(breaker *b)
{
    for (int i = 0; i < b->nrules; i++) {
        memset(b->rules[i].fail, 0, (size_t)b->rules[i].window * sizeof(double));
        memset(b->rules[i].total, 0, (size_t)b->rules[i].window * sizeof(double));
        b->rules[i].sum_fail = b->rules[i].sum_total = 0;
    }
}

static void breaker_free(breaker *b)
{
    for (int i = 0; i < b->nrules; i++) {
        free(b->rules[i].fail);
        free(b->rules[i].total);
    }
}

struct sim_ctx {
    breaker *b;
    int n;
    double now;
};

static bool sim_open(void *ctx, const char *backend)
{
    struct sim_ctx *c = ctx;
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->b[i].name, backend))
            return c->b[i].open_until > c->now;
    return false;
}

static int breaker_slot(sim_state *st, breaker *bs, int *n, const char *name)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp(bs[i].name, name))
            return i;
    if (*n >= SIM_TRAFFIC_MAX_BACKENDS * 2)
        return -1;
    breaker_load(st, name, &bs[*n]);
    return (*n)++;
}

/* Records one second (s) of attempts on breaker b; trips it when a rule's condition is reached.
 * fault is the backend's fault kind during that second. */
static void breaker_second(sim_state *st, breaker *b, double s, double attempts, double failed, int fault, json_t *open,
                           double end)
{
    for (int i = 0; i < b->nrules; i++) {
        rule *r = &b->rules[i];
        bool counts = (fault == SIM_FAULT_5XX && r->on5xx) || (fault == SIM_FAULT_429 && r->on429) ||
                      (fault == SIM_FAULT_TIMEOUT && r->on_timeout);
        int slot = (int)fmod(s, (double)r->window);
        r->sum_fail += (counts ? failed : 0) - r->fail[slot];
        r->sum_total += attempts - r->total[slot];
        r->fail[slot] = counts ? failed : 0;
        r->total[slot] = attempts;
        /* small epsilon: the counts are sums of fractions */
        bool trip = r->count > 0 ? r->sum_fail + 1e-9 >= r->count
                                 : r->sum_fail > 1e-9 && r->sum_fail * 100.0 + 1e-9 >= r->percentage * r->sum_total;
        if (!trip)
            continue;
        double d = r->accept_retry_after && fault == SIM_FAULT_429 ? retry_after(st, b->name, s) : r->trip;
        if (json_array_size(open) >= TRIPS_MAX - 1)
            d = fmax(d, end - s - 1);
        b->open_until = s + 1 + d;
        json_array_append_new(open, json_pack("{s:s,s:f,s:f}", "backend", b->name, "from", s + 1, "until", s + 1 + d));
        breaker_reset(b);
        return;
    }
}

/* The windows to simulate: each fault's [from, until + the longest trip + 2 s), merged. */
static int fault_windows(sim_state *st, double (*w)[2], int max)
{
    int n = 0;
    size_t i;
    json_t *f;
    json_array_foreach(st->backend_faults, i, f) {
        if (n >= max)
            break;
        breaker b;
        breaker_load(st, json_string_value(json_object_get(f, "backend_id")), &b);
        double longest = 0;
        for (int k = 0; k < b.nrules; k++)
            longest = fmax(longest, b.rules[k].trip);
        breaker_free(&b);
        w[n][0] = json_number_value(json_object_get(f, "from_s"));
        w[n][1] = json_number_value(json_object_get(f, "until_s")) + longest + 2;
        n++;
    }
    for (int a = 1; a < n; a++) /* insertion sort by start */
        for (int b = a; b > 0 && w[b][0] < w[b - 1][0]; b--) {
            double t0 = w[b][0], t1 = w[b][1];
            w[b][0] = w[b - 1][0];
            w[b][1] = w[b - 1][1];
            w[b - 1][0] = t0;
            w[b - 1][1] = t1;
        }
    int m = 0;
    for (int a = 0; a < n; a++) {
        if (m && w[a][0] <= w[m - 1][1])
            w[m - 1][1] = fmax(w[m - 1][1], w[a][1]);
        else {
            w[m][0] = w[a][0];
            w[m][1] = w[a][1];
            m++;
        }
    }
    return m;
}

static void simulate_window(sim_state *st, double from, double to, json_t *open)
{
    breaker bs[SIM_TRAFFIC_MAX_BACKENDS * 2];
    struct sim_ctx c = {bs, 0, from};
    json_t *demand = sim_traffic_demand(st);
    for (double s = floor(from); s < to; s++) {
        double att[SIM_TRAFFIC_MAX_BACKENDS * 2] = {0}, fail[SIM_TRAFFIC_MAX_BACKENDS * 2] = {0};
        int fault[SIM_TRAFFIC_MAX_BACKENDS * 2] = {0};
        c.now = s;
        const char *sub;
        json_t *v;
        json_object_foreach(demand, sub, v) {
            json_t *cfg = sim_traffic_cfg_at(st, sub, s + 0.5);
            double rate = cfg ? sim_traffic_miss_rate(st, sub, cfg, s + 0.5) / 60.0 : 0;
            if (rate <= 0)
                continue;
            sim_route r;
            sim_traffic_route(st, cfg, s + 0.5, sim_open, &c, &r);
            for (int k = 0; k < r.n; k++) {
                int slot = breaker_slot(st, bs, &c.n, r.name[k]);
                if (slot < 0)
                    continue;
                att[slot] += rate * r.attempts[k];
                fail[slot] += rate * r.failed_attempts[k];
                fault[slot] = r.fault[k];
            }
        }
        for (int i = 0; i < c.n; i++)
            if (bs[i].open_until <= s && bs[i].nrules)
                breaker_second(st, &bs[i], s, att[i], fail[i], fault[i], open, to);
    }
    for (int i = 0; i < c.n; i++)
        breaker_free(&bs[i]);
}

typedef struct open_iv {
    double from, until;
    char backend[128];
} open_iv;

/* The open intervals [{backend, from, until}] (sorted by from), rebuilt when faults or configuration
 * changed; also kept as a C array for lookups. */
static json_t *timeline(sim_state *st)
{
    if (st->traffic_open && st->traffic_open_version == st->traffic_version)
        return st->traffic_open;
    json_decref(st->traffic_open);
    free(st->traffic_open_iv);
    st->traffic_open = json_array();
    st->traffic_open_version = st->traffic_version;
    double w[FAULTS_MAX][2];
    int n = fault_windows(st, w, FAULTS_MAX);
    for (int i = 0; i < n; i++)
        simulate_window(st, w[i][0], w[i][1], st->traffic_open);
    size_t k = json_array_size(st->traffic_open);
    open_iv *iv = calloc(k ? k : 1, sizeof(*iv));
    if (!iv)
        abort();
    st->traffic_open_maxlen = 0;
    for (size_t i = 0; i < k; i++) {
        json_t *o = json_array_get(st->traffic_open, i);
        iv[i].from = json_number_value(json_object_get(o, "from"));
        iv[i].until = json_number_value(json_object_get(o, "until"));
        snprintf(iv[i].backend, sizeof(iv[i].backend), "%s", json_string_value(json_object_get(o, "backend")));
        st->traffic_open_maxlen = fmax(st->traffic_open_maxlen, iv[i].until - iv[i].from);
    }
    st->traffic_open_iv = iv;
    st->traffic_open_n = k;
    return st->traffic_open;
}

static bool timeline_open(void *ctx, const char *backend)
{
    struct open_at *oa = ctx;
    timeline(oa->st);
    const open_iv *iv = oa->st->traffic_open_iv;
    size_t lo = 0, hi = oa->st->traffic_open_n; /* the first interval starting after t */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (iv[mid].from <= oa->t)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i-- > 0 && iv[i].from >= oa->t - oa->st->traffic_open_maxlen;)
        if (oa->t < iv[i].until && !strcmp(iv[i].backend, backend))
            return true;
    return false;
}

static int add_break(double *out, int n, int max, double a, double b, double t)
{
    if (t <= a || t >= b || n >= max)
        return n;
    for (int i = 0; i < n; i++)
        if (out[i] == t)
            return n;
    out[n] = t;
    return n + 1;
}

static int by_value(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

double *sim_traffic_route_breaks(sim_state *st, double a, double b, int *count)
{
    int n = 0, max = (int)(2 * (json_array_size(st->backend_faults) + json_array_size(timeline(st))));
    double *out = calloc((size_t)max + 1, sizeof(double));
    if (!out)
        abort();
    size_t i;
    json_t *f;
    json_array_foreach(st->backend_faults, i, f) {
        n = add_break(out, n, max, a, b, json_number_value(json_object_get(f, "from_s")));
        n = add_break(out, n, max, a, b, json_number_value(json_object_get(f, "until_s")));
    }
    json_array_foreach(timeline(st), i, f) {
        n = add_break(out, n, max, a, b, json_number_value(json_object_get(f, "from")));
        n = add_break(out, n, max, a, b, json_number_value(json_object_get(f, "until")));
    }
    qsort(out, (size_t)n, sizeof(double), by_value);
    *count = n;
    return out;
}
