/* traffic_model.c: apim-sim's deterministic traffic model (docs/apim-sim.md, "Traffic").
 * Each subscription with demand sends demand_tpm tokens per minute (burst_tpm during the first
 * burst_minutes of every burst_every_min minutes) in requests of tokens_per_request tokens. For
 * each stretch of time with one configuration snapshot: allowed = min(demand, token limit, rpm);
 * the rest is throttled (429); a share `hit` of the allowed requests is served by the semantic
 * cache; the rest (misses) reach the snapshot's backend. When the calls reaching a backend count
 * more tokens per minute (prompt + max_tokens each) than its deployment's capacity
 * (model_accounts, accounts.c), the backend answers the excess share with 429 (Retry-After), as
 * Azure OpenAI does: those calls are throttled too, by the backend, and carry no tokens. A window's counts are differences of the
 * floors of cumulative counts since the epoch, so they are integers and adjacent windows add up
 * exactly — the same numbers whatever API (reports, metrics, Log Analytics) asks. */
#include "traffic.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HIT_MS 60      /* duration of a request served from the semantic cache */
#define THROTTLED_MS 5 /* duration of a 429 answered by the gateway */
#define GATEWAY_MS 20  /* gateway overhead on top of the backend time */

json_t *sim_traffic_scenario(sim_state *st) { return json_object_get(st->scenario, "traffic"); }
json_t *sim_traffic_demand(sim_state *st) { return json_object_get(sim_traffic_scenario(st), "demand_tpm"); }

static double knob(sim_state *st, const char *name, double dflt)
{
    json_t *v = json_object_get(sim_traffic_scenario(st), name);
    return json_is_number(v) && json_number_value(v) > 0 ? json_number_value(v) : dflt;
}

double sim_traffic_backend_latency(sim_state *st, const char *backend)
{
    json_t *l = json_object_get(json_object_get(sim_traffic_scenario(st), "backend_latency_ms"), backend);
    return json_is_number(l) ? json_number_value(l) : knob(st, "default_backend_latency_ms", 700);
}

static json_t *refusals(sim_state *st, json_t *subs);

/* One history entry: the snapshot, timed t, with the share each backend refuses when no backend
 * fault or open breaker disturbs the routing (computed once). */
static json_t *entry(sim_state *st, double t, json_t *snap)
{
    return json_pack("{s:f,s:o,s:o}", "t", t, "subs", snap, "refused", refusals(st, snap));
}

static json_t *history(sim_state *st)
{
    if (!st->traffic_history)
        st->traffic_history = json_pack("[o]", entry(st, 0.0, sim_traffic_snapshot(st)));
    return st->traffic_history;
}

void sim_traffic_before_write(sim_state *st) { history(st); }

void sim_traffic_after_write(sim_state *st)
{
    json_t *h = history(st);
    json_t *snap = sim_traffic_snapshot(st);
    st->traffic_version++; /* a breaker rule may have changed: the breaker timeline is rebuilt */
    if (json_equal(json_object_get(json_array_get(h, json_array_size(h) - 1), "subs"), snap))
        json_decref(snap);
    else
        json_array_append_new(h, entry(st, (double)sim_now_ms(st) / 1000.0, snap));
}

/* Seconds of [0, t] spent in burst minutes. */
static double burst_seconds(sim_state *st, double t)
{
    double period = knob(st, "burst_every_min", 10) * 60, len = knob(st, "burst_minutes", 2) * 60;
    return floor(t / period) * len + fmin(fmod(t, period), len);
}

/* Cumulative counts of one subscription since the epoch; per backend slot, the requests whose final
 * attempt went there: answered (ok; of those the capacity 429s: refused), 5xx, fault 429, timeouts —
 * each its own cumulative count, so a window without failures has exactly none. */
typedef struct cumul {
    double req, allowed, lookups, metric, unavail, wait_ms;
    double ok[SIM_TRAFFIC_MAX_BACKENDS], refused[SIM_TRAFFIC_MAX_BACKENDS], fail[SIM_TRAFFIC_MAX_BACKENDS],
        thr[SIM_TRAFFIC_MAX_BACKENDS], tmo[SIM_TRAFFIC_MAX_BACKENDS];
} cumul;

struct rates {
    double req, allowed, lookups, miss; /* per minute */
};

static struct rates rates_at(double tpm, double tpr, json_t *cfg)
{
    struct rates r = {tpm / tpr, tpm / tpr, 0, 0};
    double limit = json_number_value(json_object_get(cfg, "limit_tpm")), rpm = json_number_value(json_object_get(cfg, "rpm"));
    if (limit > 0)
        r.allowed = fmin(r.allowed, limit / tpr);
    if (rpm > 0)
        r.allowed = fmin(r.allowed, rpm);
    bool cache = json_is_true(json_object_get(cfg, "cache"));
    r.lookups = cache ? r.allowed : 0;
    r.miss = r.allowed * (cache ? 1 - json_number_value(json_object_get(cfg, "hit")) : 1);
    return r;
}

static int backend_slot(sim_traffic_stats *names, const char *backend)
{
    const char *b = backend ? backend : "(none)";
    for (int i = 0; i < names->nbackends; i++)
        if (!strcmp(names->backend[i], b))
            return i;
    if (names->nbackends == SIM_TRAFFIC_MAX_BACKENDS)
        return SIM_TRAFFIC_MAX_BACKENDS - 1;
    snprintf(names->backend[names->nbackends], sizeof(names->backend[0]), "%s", b);
    return names->nbackends++;
}

/* A subscription's demand in tokens per minute, outside and inside bursts. */
static void demand_of(sim_state *st, const char *sub, double *tpm, double *btpm)
{
    *tpm = json_number_value(json_object_get(sim_traffic_demand(st), sub));
    json_t *burst = json_object_get(json_object_get(sim_traffic_scenario(st), "burst_tpm"), sub);
    *btpm = json_is_number(burst) ? json_number_value(burst) : *tpm;
}

json_t *sim_traffic_cfg_at(sim_state *st, const char *sub, double t)
{
    json_t *h = history(st), *cfg = NULL;
    for (size_t k = 0; k < json_array_size(h); k++) {
        if (json_number_value(json_object_get(json_array_get(h, k), "t")) > t)
            break;
        cfg = json_object_get(json_object_get(json_array_get(h, k), "subs"), sub);
    }
    return cfg;
}

double sim_traffic_miss_rate(sim_state *st, const char *sub, json_t *cfg, double t)
{
    double tpm, btpm, period = knob(st, "burst_every_min", 10) * 60, len = knob(st, "burst_minutes", 2) * 60;
    demand_of(st, sub, &tpm, &btpm);
    return rates_at(fmod(t, period) < len ? btpm : tpm, knob(st, "tokens_per_request", 1000), cfg).miss;
}

double sim_traffic_horizon(sim_state *st) { return (double)sim_now_ms(st) / 1000.0 - st->traffic_cut_s; }

/* Tokens one request counts against a deployment's tokens-per-minute limit: its prompt tokens plus
 * its max_tokens (scenario traffic.max_tokens_share x tokens_per_request; default: the completion
 * tokens it gets). */
static double counted_tokens(sim_state *st)
{
    int64_t prompt, completion;
    sim_traffic_tokens_per_request(st, &prompt, &completion);
    double tpr = knob(st, "tokens_per_request", 1000);
    return (double)prompt + knob(st, "max_tokens_share", (double)completion / tpr) * tpr;
}

/* Tokens per minute the deployment behind backend can serve (0 = not known: no limit). */
static double backend_capacity(sim_state *st, const char *backend)
{
    if (!backend)
        return 0;
    return sim_accounts_capacity_tpm(st, sim_traffic_backend_url(st, backend),
                                     json_string_value(json_object_get(sim_traffic_scenario(st), "deployment")));
}

static bool never_open(void *ctx, const char *backend)
{
    (void)ctx;
    (void)backend;
    return false;
}

/* The share (0..1) of backend's calls its deployment answers 429 while every subscription of subs
 * sends at its base (peak false) or burst rate, routed as at t (t < 0: undisturbed): what exceeds
 * the capacity. at(sub) gives each subscription's snapshot entry. */
static double refused_share(sim_state *st, json_t *subs, const char *backend, bool peak, double t)
{
    double cap = backend_capacity(st, backend), load = 0, tpr = knob(st, "tokens_per_request", 1000);
    if (cap <= 0)
        return 0;
    const char *name;
    json_t *v;
    json_object_foreach(subs ? subs : sim_traffic_demand(st), name, v) {
        json_t *cfg = subs ? v : sim_traffic_cfg_at(st, name, t);
        if (!cfg)
            continue;
        sim_route r;
        sim_traffic_route(st, cfg, t, t < 0 ? never_open : NULL, NULL, &r);
        for (int k = 0; k < r.n; k++) {
            if (strcmp(r.name[k], backend) != 0)
                continue;
            double tpm, btpm;
            demand_of(st, name, &tpm, &btpm);
            load += rates_at(peak ? btpm : tpm, tpr, cfg).miss * r.ok[k];
        }
    }
    load *= counted_tokens(st);
    return load > cap ? 1 - cap / load : 0;
}

/* {backend: [base share, burst share]} of every backend of the snapshot subs, undisturbed. */
static json_t *refusals(sim_state *st, json_t *subs)
{
    json_t *out = json_object(), *cfg;
    const char *name;
    json_object_foreach(subs, name, cfg) {
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(cfg, "pool"), i, m) {
            const char *b = json_string_value(json_array_get(m, 0));
            if (b && !json_object_get(out, b))
                json_object_set_new(out, b, json_pack("[f,f]", refused_share(st, subs, b, false, -1),
                                                      refused_share(st, subs, b, true, -1)));
        }
    }
    return out;
}

/* Adds the piece [from, to) of history entry e (the subscription's cfg) to c. */
static void cumulate_piece(sim_state *st, const char *sub, json_t *e, json_t *cfg, double from, double to,
                           sim_traffic_stats *names, cumul *c)
{
    double tpm, btpm, tpr = knob(st, "tokens_per_request", 1000);
    demand_of(st, sub, &tpm, &btpm);
    double bs = burst_seconds(st, to) - burst_seconds(st, from), ns = (to - from) - bs;
    struct rates base = rates_at(tpm, tpr, cfg), peak = rates_at(btpm, tpr, cfg);
    c->req += (ns * base.req + bs * peak.req) / 60;
    c->allowed += (ns * base.allowed + bs * peak.allowed) / 60;
    c->lookups += (ns * base.lookups + bs * peak.lookups) / 60;
    double miss = (ns * base.miss + bs * peak.miss) / 60;
    sim_route r;
    sim_traffic_route(st, cfg, from, NULL, NULL, &r);
    if (!json_array_size(json_object_get(cfg, "pool"))) { /* no backend: as before, calls to "(none)" */
        c->ok[backend_slot(names, NULL)] += miss;
        if (json_is_object(json_object_get(cfg, "metric")))
            c->metric += miss;
        return;
    }
    c->unavail += miss * r.unavailable;
    c->wait_ms += miss * r.wait_ms;
    for (int k = 0; k < r.n; k++) {
        int slot = backend_slot(names, r.name[k]);
        double base_share, peak_share;
        if (!r.disturbed) {
            json_t *shares = json_object_get(json_object_get(e, "refused"), r.name[k]);
            base_share = json_number_value(json_array_get(shares, 0));
            peak_share = json_number_value(json_array_get(shares, 1));
        } else {
            base_share = r.ok[k] > 0 ? refused_share(st, NULL, r.name[k], false, from) : 0;
            peak_share = r.ok[k] > 0 ? refused_share(st, NULL, r.name[k], true, from) : 0;
        }
        c->ok[slot] += miss * r.ok[k];
        c->refused[slot] += r.ok[k] * (ns * base.miss * base_share + bs * peak.miss * peak_share) / 60;
        c->fail[slot] += miss * r.fail[k];
        c->thr[slot] += miss * r.thr[k];
        c->tmo[slot] += miss * r.tmo[k];
        if (json_is_object(json_object_get(cfg, "metric")))
            c->metric += miss * r.ok[k];
    }
}

/* Cumulative counts at checkpoints, so a window does not integrate from the epoch each time: the
 * boundaries are the history's instants and the routing breaks (faults, breaker trips); every
 * CHECKPOINT_EVERY-th boundary keeps each subscription's cumulative counts. Rebuilt when the
 * configuration, the faults or the history change. */
#define CHECKPOINT_EVERY 32

typedef struct cum_cache {
    uint64_t version;
    size_t hist_n;
    int nb;              /* boundaries */
    double *b;           /* sorted, b[0] = 0 */
    int nsubs;
    char (*sub)[128];
    sim_traffic_stats names; /* the cache's backend slots */
    cumul *c;            /* c[s * ((nb - 1) / CHECKPOINT_EVERY + 1) + k]: sub s at b[k * CHECKPOINT_EVERY] */
} cum_cache;

void sim_traffic_free_caches(sim_state *st)
{
    cum_cache *cc = st->traffic_cache;
    if (cc) {
        free(cc->b);
        free(cc->sub);
        free(cc->c);
        free(cc);
    }
    st->traffic_cache = NULL;
    free(st->traffic_open_iv);
    st->traffic_open_iv = NULL;
    st->traffic_open_n = 0;
}

/* The history entry in force at t. */
static json_t *entry_at(json_t *h, double t)
{
    json_t *e = json_array_get(h, 0);
    for (size_t k = 1; k < json_array_size(h); k++) {
        json_t *x = json_array_get(h, k);
        if (json_number_value(json_object_get(x, "t")) > t)
            break;
        e = x;
    }
    return e;
}

static void add_piece(sim_state *st, json_t *h, const char *sub, double from, double to, sim_traffic_stats *names,
                      cumul *c)
{
    json_t *e = entry_at(h, from);
    json_t *cfg = json_object_get(json_object_get(e, "subs"), sub);
    if (cfg && to > from)
        cumulate_piece(st, sub, e, cfg, from, to, names, c);
}

static int by_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static cum_cache *cache(sim_state *st)
{
    json_t *h = history(st);
    cum_cache *cc = st->traffic_cache;
    if (cc && cc->version == st->traffic_version && cc->hist_n == json_array_size(h))
        return cc;
    if (cc) { /* keep the breaker timeline: only the checkpoints are stale */
        free(cc->b);
        free(cc->sub);
        free(cc->c);
        free(cc);
        st->traffic_cache = NULL;
    }
    cc = calloc(1, sizeof(*cc));
    if (!cc)
        abort();
    int nbreaks = 0;
    double *breaks = sim_traffic_route_breaks(st, 0, 1e12, &nbreaks);
    cc->b = calloc((size_t)nbreaks + json_array_size(h) + 1, sizeof(double));
    if (!cc->b)
        abort();
    cc->b[cc->nb++] = 0;
    for (size_t k = 0; k < json_array_size(h); k++)
        cc->b[cc->nb++] = json_number_value(json_object_get(json_array_get(h, k), "t"));
    for (int i = 0; i < nbreaks; i++)
        cc->b[cc->nb++] = breaks[i];
    free(breaks);
    qsort(cc->b, (size_t)cc->nb, sizeof(double), by_double);
    int m = 0;
    for (int i = 0; i < cc->nb; i++)
        if (!m || cc->b[i] != cc->b[m - 1])
            cc->b[m++] = cc->b[i];
    cc->nb = m;
    json_t *demand = sim_traffic_demand(st);
    cc->nsubs = (int)json_object_size(demand);
    int nck = (cc->nb - 1) / CHECKPOINT_EVERY + 1;
    cc->sub = calloc((size_t)(cc->nsubs ? cc->nsubs : 1), sizeof(*cc->sub));
    cc->c = calloc((size_t)(cc->nsubs ? cc->nsubs : 1) * (size_t)nck, sizeof(cumul));
    if (!cc->sub || !cc->c)
        abort();
    const char *sub;
    json_t *v;
    int s = 0;
    json_object_foreach(demand, sub, v) {
        snprintf(cc->sub[s], sizeof(cc->sub[0]), "%s", sub);
        cumul acc;
        memset(&acc, 0, sizeof(acc));
        for (int i = 0; i < cc->nb; i++) {
            if (i % CHECKPOINT_EVERY == 0)
                cc->c[(size_t)s * (size_t)nck + (size_t)(i / CHECKPOINT_EVERY)] = acc;
            if (i + 1 < cc->nb)
                add_piece(st, h, sub, cc->b[i], cc->b[i + 1], &cc->names, &acc);
        }
        s++;
    }
    cc->version = st->traffic_version;
    cc->hist_n = json_array_size(h);
    st->traffic_cache = cc;
    return cc;
}

/* c += x (x's slots named by from, c's by names). */
static void add_cumul(cumul *c, sim_traffic_stats *names, const cumul *x, const sim_traffic_stats *from)
{
    c->req += x->req;
    c->allowed += x->allowed;
    c->lookups += x->lookups;
    c->metric += x->metric;
    c->unavail += x->unavail;
    c->wait_ms += x->wait_ms;
    for (int j = 0; j < from->nbackends; j++) {
        int k = backend_slot(names, from->backend[j]);
        c->ok[k] += x->ok[j];
        c->refused[k] += x->refused[j];
        c->fail[k] += x->fail[j];
        c->thr[k] += x->thr[j];
        c->tmo[k] += x->tmo[j];
    }
}

static void cumulate(sim_state *st, const char *sub, double t, sim_traffic_stats *names, cumul *c)
{
    memset(c, 0, sizeof(*c));
    cum_cache *cc = cache(st);
    int s = 0;
    while (s < cc->nsubs && strcmp(cc->sub[s], sub) != 0)
        s++;
    if (s == cc->nsubs)
        return;
    int lo = 0, hi = cc->nb; /* the last boundary <= t */
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (cc->b[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    int nck = (cc->nb - 1) / CHECKPOINT_EVERY + 1, k0 = lo / CHECKPOINT_EVERY;
    add_cumul(c, names, &cc->c[(size_t)s * (size_t)nck + (size_t)k0], &cc->names);
    json_t *h = history(st);
    for (int i = k0 * CHECKPOINT_EVERY; i < lo; i++)
        add_piece(st, h, sub, cc->b[i], cc->b[i + 1], names, c);
    add_piece(st, h, sub, cc->b[lo], t, names, c);
}

static bool sub_on_api(sim_state *st, const char *sub, const char *api)
{
    if (!api)
        return true;
    json_t *h = history(st);
    json_t *cfg = json_object_get(json_object_get(json_array_get(h, json_array_size(h) - 1), "subs"), sub);
    return util_str_eq_ci(json_string_value(json_object_get(cfg, "api")), api);
}

void sim_traffic_tokens_per_request(sim_state *st, int64_t *prompt, int64_t *completion)
{
    double tpr = knob(st, "tokens_per_request", 1000);
    *prompt = (int64_t)llround(tpr * knob(st, "prompt_share", 0.7));
    *completion = (int64_t)llround(tpr) - *prompt;
}

/* floor(b) - floor(a), within [0, hi] */
static int64_t diff(double a, double b, int64_t hi)
{
    int64_t n = (int64_t)(floor(b) - floor(a));
    return n < 0 ? 0 : n > hi ? hi : n;
}

static void add_sub(sim_state *st, const char *sub, double from, double to, sim_traffic_stats *out)
{
    cumul a, b;
    cumulate(st, sub, from, out, &a);
    cumulate(st, sub, to, out, &b);
    int64_t prompt_per_req, completion_per_req;
    sim_traffic_tokens_per_request(st, &prompt_per_req, &completion_per_req);
    int64_t req = (int64_t)(floor(b.req) - floor(a.req));
    int64_t allowed = (int64_t)(floor(b.allowed) - floor(a.allowed));
    allowed = allowed > req ? req : allowed;
    int64_t misses = 0, refused = 0, failed = 0, fthr = 0, tmo = 0;
    for (int i = 0; i < out->nbackends; i++) {
        int64_t left = allowed - misses;
        int64_t f = diff(a.fail[i], b.fail[i], left);
        int64_t th = diff(a.thr[i], b.thr[i], left - f);
        int64_t tm = diff(a.tmo[i], b.tmo[i], left - f - th);
        int64_t ok = diff(a.ok[i], b.ok[i], left - f - th - tm);
        int64_t n = ok + f + th + tm;
        int64_t r = diff(a.refused[i], b.refused[i], ok);
        out->backend_refused[i] += r + th;
        out->backend_failed_calls[i] += f;
        out->backend_fault_throttled[i] += th;
        out->backend_timeouts[i] += tm;
        refused += r;
        failed += f;
        fthr += th;
        tmo += tm;
        double lat = sim_traffic_backend_latency(st, out->backend[i]);
        out->backend_calls[i] += n;
        out->backend_ms += (n - tm) * (int64_t)lat + tm * (int64_t)SIM_FORWARD_TIMEOUT_MS;
        out->total_ms += (n - tm) * ((int64_t)lat + GATEWAY_MS) + tm * ((int64_t)SIM_FORWARD_TIMEOUT_MS + GATEWAY_MS);
        misses += n;
    }
    int64_t unavail = diff(a.unavail, b.unavail, allowed - misses);
    int64_t hits = allowed - misses - unavail, served = misses - refused - failed - fthr - tmo;
    out->requests += req;
    out->allowed += served + hits;
    out->throttled += req - allowed + refused + fthr;
    out->backend_throttled += refused + fthr;
    out->failed += failed + tmo + unavail;
    out->backend_failed += failed;
    out->timeouts += tmo;
    out->unavailable += unavail;
    out->misses += misses;
    int64_t lookups = (int64_t)(floor(b.lookups) - floor(a.lookups));
    lookups = lookups < hits ? hits : lookups > allowed ? allowed : lookups;
    out->hits += hits;
    out->cache_misses += lookups - hits;
    int64_t wait = (int64_t)(floor(b.wait_ms) - floor(a.wait_ms));
    out->total_ms += hits * HIT_MS + (req - allowed + unavail) * THROTTLED_MS + (wait > 0 ? wait : 0);
    int64_t metric = (int64_t)(floor(b.metric) - floor(a.metric));
    out->metric_calls += metric > served ? served : metric < 0 ? 0 : metric;
    out->prompt_tokens += served * prompt_per_req;
    out->completion_tokens += served * completion_per_req;
}

void sim_traffic_window(sim_state *st, const char *sub, const char *api, double from, double to,
                        sim_traffic_stats *out)
{
    from = fmax(from, 0);
    to = fmin(to, sim_traffic_horizon(st)); /* no traffic after the (virtual) clock's now (- an ingestion delay) */
    if (to <= from)
        return;
    const char *name;
    json_t *tpm;
    json_object_foreach(sim_traffic_demand(st), name, tpm) {
        if ((!sub || !strcmp(sub, name)) && sub_on_api(st, name, api))
            add_sub(st, name, from, to, out);
    }
}
