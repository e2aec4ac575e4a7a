/* test_sim_routing: apim-sim's routing arithmetic without HTTP (traffic_route.c) — the snapshot's pool
 * members and <retry>; priority first among closed breakers, weights within a priority, 503 when every
 * breaker is open; the retry's shares; the circuit-breaker timeline of a fault window (count rule and
 * tripDuration, percentage rule, acceptRetryAfter with a 429's Retry-After, timeouts); counts of
 * adjacent windows still adding up with failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "traffic.h"

#define SVC "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-aigw-demo/providers/Microsoft.ApiManagement/service/apim-aigw-demo"
#define T0 1796018400.0 /* 2026-11-30T06:00:00Z, a day before the frozen clock */
#define EAST "eastus-aoai"
#define WEST "westeurope-aoai"

static int setup(void **state)
{
    sim_state *st = calloc(1, sizeof(*st));
    sim_options o = {.scenario = "demo", .host = "127.0.0.1", .token_lifetime = 60, .page_size = 100};
    util_error err = {0};
    json_t *clock = json_pack("{s:s,s:b}", "set", "2026-12-01T07:00:00Z", "freeze", 1);
    if (sim_state_init(st, &o, &err) != 0 || sim_scenario_load(st, "demo", &err) != 0 ||
        sim_clock_apply(st, clock, &err) != 0) {
        print_message("setup: %s\n", err.message);
        json_decref(clock);
        return -1;
    }
    json_decref(clock);
    *state = st;
    return 0;
}

static int teardown(void **state)
{
    sim_state_free(*state);
    free(*state);
    return 0;
}

static void add_fault(sim_state *st, const char *backend, const char *kind, double from, double minutes)
{
    char f[32];
    util_time_iso8601((int64_t)from, f, sizeof(f));
    json_t *j = json_pack("{s:s,s:s,s:s,s:f}", "backend_id", backend, "kind", kind, "from", f, "minutes", minutes);
    util_error err = {0};
    assert_true(sim_traffic_fault_add(st, j, &err) > 0);
    json_decref(j);
}

static json_t *timeline(sim_state *st)
{
    int n = 0;
    free(sim_traffic_route_breaks(st, 0, 1, &n));
    return st->traffic_open;
}

static int slot(const sim_route *r, const char *name)
{
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->name[i], name))
            return i;
    fail_msg("%s is not routed", name);
    return -1;
}

static void snapshot_has_the_pool_and_the_retry(void **state)
{
    json_t *snap = sim_traffic_snapshot(*state);
    json_t *cfg = json_object_get(snap, "growth");
    json_t *want = json_pack("[[s,i,i],[s,i,i]]", EAST, 1, 100, WEST, 2, 100);
    assert_true(json_equal(json_object_get(cfg, "pool"), want));
    json_t *retry = json_object_get(cfg, "retry");
    assert_int_equal(json_integer_value(json_object_get(retry, "count")), 1);
    assert_true(json_is_true(json_object_get(retry, "on429")));
    assert_true(json_is_true(json_object_get(retry, "on5xx")));
    assert_true(json_is_true(json_object_get(retry, "first_fast")));
    json_decref(want);
    json_decref(snap);
}

static const char *open_names[4];
static bool open_fn(void *ctx, const char *backend)
{
    (void)ctx;
    for (int i = 0; i < 4 && open_names[i]; i++)
        if (!strcmp(open_names[i], backend))
            return true;
    return false;
}

static void priority_first_among_closed_breakers(void **state)
{
    sim_state *st = *state;
    json_t *snap = sim_traffic_snapshot(st);
    json_t *cfg = json_object_get(snap, "growth");
    sim_route r;
    memset(open_names, 0, sizeof(open_names));
    sim_traffic_route(st, cfg, T0, open_fn, NULL, &r);
    assert_true(r.ok[slot(&r, EAST)] == 1.0 && r.ok[slot(&r, WEST)] == 0.0 && !r.disturbed);
    open_names[0] = EAST; /* the primary's breaker open: the next priority */
    sim_traffic_route(st, cfg, T0, open_fn, NULL, &r);
    assert_true(r.ok[slot(&r, WEST)] == 1.0 && r.ok[slot(&r, EAST)] == 0.0 && r.disturbed);
    open_names[1] = WEST; /* all open: the gateway answers 503 */
    sim_traffic_route(st, cfg, T0, open_fn, NULL, &r);
    assert_true(r.unavailable == 1.0 && r.ok[0] == 0 && r.ok[1] == 0);
    memset(open_names, 0, sizeof(open_names));
    json_decref(snap);
}

static void weights_within_a_priority_and_the_retry_shares(void **state)
{
    sim_state *st = *state;
    json_t *snap = sim_traffic_snapshot(st);
    json_t *cfg = json_deep_copy(json_object_get(snap, "growth"));
    json_object_set_new(cfg, "pool", json_pack("[[s,i,i],[s,i,i]]", EAST, 1, 30, WEST, 1, 10));
    json_object_set_new(cfg, "retry", json_pack("{s:i,s:b,s:b,s:b,s:f}", "count", 2, "on429", 0, "on5xx", 1,
                                                "first_fast", 1, "interval", 2.0));
    memset(open_names, 0, sizeof(open_names));
    sim_route r;
    sim_traffic_route(st, cfg, T0, open_fn, NULL, &r);
    assert_true(fabs(r.ok[slot(&r, EAST)] - 0.75) < 1e-12 && fabs(r.ok[slot(&r, WEST)] - 0.25) < 1e-12);
    add_fault(st, EAST, "5xx", T0, 10);
    sim_traffic_route(st, cfg, T0 + 1, open_fn, NULL, &r);
    int e = slot(&r, EAST), w = slot(&r, WEST);
    /* 3/4 pick East US, which fails; each retry picks again: 0.75^3 end failed there */
    assert_true(fabs(r.fail[e] - 0.421875) < 1e-12);
    assert_true(fabs(r.ok[w] - 0.25 * (1 + 0.75 + 0.5625)) < 1e-12);
    assert_true(fabs(r.ok[w] + r.fail[e] - 1.0) < 1e-12);
    assert_true(fabs(r.failed_attempts[e] - 0.75 * (1 + 0.75 + 0.5625)) < 1e-12);
    /* waits: the first retry is fast, the second waits interval (2 s) with chance 0.75^2 */
    double lat = sim_traffic_backend_latency(st, EAST);
    assert_true(fabs(r.wait_ms - (0.5625 * 2000 + (r.failed_attempts[e] - r.fail[e]) * lat)) < 1e-6);
    /* a 429 fault is not retried by this condition: all of East US's share fails */
    sim_traffic_faults_clear(st);
    add_fault(st, EAST, "429", T0, 10);
    sim_traffic_route(st, cfg, T0 + 1, open_fn, NULL, &r);
    assert_true(fabs(r.thr[e] - 0.75) < 1e-12 && fabs(r.ok[w] - 0.25) < 1e-12);
    /* timeouts are not retried either */
    sim_traffic_faults_clear(st);
    add_fault(st, EAST, "timeout", T0, 10);
    sim_traffic_route(st, cfg, T0 + 1, open_fn, NULL, &r);
    assert_true(fabs(r.tmo[e] - 0.75) < 1e-12);
    json_decref(cfg);
    json_decref(snap);
}

static double num(json_t *o, const char *k) { return json_number_value(json_object_get(o, k)); }

/* The demo rule: 3 failures (429, 5xx) within PT1M trip East US for PT1M; ~1 request/s reaches it. */
static void a_fault_window_trips_the_count_rule_for_trip_duration(void **state)
{
    sim_state *st = *state;
    add_fault(st, EAST, "5xx", T0, 10);
    json_t *open = timeline(st);
    assert_true(json_array_size(open) >= 9);
    json_t *first = json_array_get(open, 0);
    assert_string_equal(json_string_value(json_object_get(first, "backend")), EAST);
    assert_true(num(first, "from") > T0 && num(first, "from") <= T0 + 3);
    assert_true(num(first, "until") - num(first, "from") == 60);
    size_t i;
    json_t *o;
    json_array_foreach(open, i, o) /* no trip after the fault */
        assert_true(num(o, "from") < T0 + 600 + 1);
    /* while open, the secondary serves */
    sim_traffic_stats s;
    memset(&s, 0, sizeof(s));
    sim_traffic_window(st, NULL, "aoai-completions", num(first, "from"), num(first, "until"), &s);
    for (int k = 0; k < s.nbackends; k++)
        if (!strcmp(s.backend[k], EAST))
            assert_int_equal(s.backend_calls[k], 0);
    assert_int_equal(s.failed, 0);
    /* a configuration change rebuilds the timeline: a rule of 1000 failures never trips */
    json_t *props = json_object_get(json_object_get(sim_state_get(st, SVC "/backends/" EAST), "resource"), "properties");
    json_t *fc = json_object_get(json_array_get(json_object_get(json_object_get(props, "circuitBreaker"), "rules"), 0),
                                 "failureCondition");
    json_object_set_new(fc, "count", json_integer(1000));
    sim_traffic_after_write(st);
    assert_int_equal(json_array_size(timeline(st)), 0);
}

static void set_rule(sim_state *st, json_t *rule)
{
    json_t *props = json_object_get(json_object_get(sim_state_get(st, SVC "/backends/" EAST), "resource"), "properties");
    json_object_set_new(props, "circuitBreaker", json_pack("{s:[o]}", "rules", rule));
    sim_traffic_after_write(st);
}

static void the_percentage_rule_trips_at_once_on_all_failures(void **state)
{
    sim_state *st = *state;
    set_rule(st, json_pack("{s:s,s:{s:i,s:s,s:[{s:i,s:i}]},s:s}", "name", "pct", "failureCondition", "percentage", 50,
                           "interval", "PT1M", "statusCodeRanges", "min", 500, "max", 599, "tripDuration", "PT2M"));
    add_fault(st, EAST, "5xx", T0, 1);
    json_t *open = timeline(st);
    assert_int_equal(json_array_size(open), 1);
    assert_true(num(json_array_get(open, 0), "from") == T0 + 1);
    assert_true(num(json_array_get(open, 0), "until") == T0 + 121);
}

static void accept_retry_after_holds_the_breaker_for_the_429s_retry_after(void **state)
{
    sim_state *st = *state;
    add_fault(st, EAST, "429", T0, 5); /* Retry-After: the seconds left in the fault */
    json_t *open = timeline(st);
    assert_int_equal(json_array_size(open), 1);
    assert_true(num(json_array_get(open, 0), "until") == T0 + 301);
    /* without acceptRetryAfter: tripDuration (PT1M), and it trips again while the fault lasts */
    set_rule(st, json_pack("{s:s,s:{s:i,s:s,s:[{s:i,s:i}]},s:s,s:b}", "name", "r", "failureCondition", "count", 3,
                           "interval", "PT1M", "statusCodeRanges", "min", 429, "max", 429, "tripDuration", "PT1M",
                           "acceptRetryAfter", 0));
    open = timeline(st);
    assert_true(json_array_size(open) >= 4);
    assert_true(num(json_array_get(open, 0), "until") - num(json_array_get(open, 0), "from") == 60);
    /* a rule whose ranges hold no 429 never trips on them */
    set_rule(st, json_pack("{s:s,s:{s:i,s:s,s:[{s:i,s:i}]},s:s}", "name", "r", "failureCondition", "count", 1,
                           "interval", "PT1M", "statusCodeRanges", "min", 500, "max", 599, "tripDuration", "PT1M"));
    assert_int_equal(json_array_size(timeline(st)), 0);
}

static void a_timeout_counts_for_a_rule_with_error_reasons(void **state)
{
    sim_state *st = *state;
    add_fault(st, EAST, "timeout", T0, 2); /* the demo rule lists errorReasons */
    assert_true(json_array_size(timeline(st)) >= 1);
}

static void adjacent_windows_add_up_with_failures(void **state)
{
    sim_state *st = *state;
    add_fault(st, EAST, "5xx", T0 + 100, 3);
    add_fault(st, WEST, "timeout", T0 + 130, 1);
    sim_traffic_stats whole;
    memset(&whole, 0, sizeof(whole));
    sim_traffic_window(st, NULL, "aoai-completions", T0, T0 + 900, &whole);
    assert_true(whole.failed > 0 && whole.timeouts > 0);
    int64_t req = 0, failed = 0, calls = 0, hits = 0, ok = 0, thr = 0;
    for (double t = T0; t < T0 + 900; t += 37) {
        sim_traffic_stats p;
        memset(&p, 0, sizeof(p));
        sim_traffic_window(st, NULL, "aoai-completions", t, fmin(t + 37, T0 + 900), &p);
        req += p.requests;
        failed += p.failed;
        calls += p.misses;
        hits += p.hits;
        ok += p.allowed;
        thr += p.throttled;
        assert_int_equal(p.requests, p.allowed + p.throttled + p.failed);
    }
    assert_int_equal(req, whole.requests);
    assert_int_equal(failed, whole.failed);
    assert_int_equal(calls, whole.misses);
    assert_int_equal(hits, whole.hits);
    assert_int_equal(ok, whole.allowed);
    assert_int_equal(thr, whole.throttled);
}

static void bad_faults_are_refused_with_a_reason(void **state)
{
    sim_state *st = *state;
    util_error err = {0};
    json_t *bad = json_pack("[{s:s,s:s,s:i}]", "backend_id", EAST, "kind", "5xx", "minutes", 2000);
    assert_int_not_equal(sim_traffic_faults_set(st, bad, &err), 0);
    assert_non_null(strstr(err.message, "faults[0]"));
    assert_non_null(strstr(err.message, "at most 1440"));
    assert_int_equal(json_array_size(st->backend_faults), 0);
    json_decref(bad);
    for (int i = 0; i < 32; i++)
        add_fault(st, EAST, "5xx", T0 + i * 60, 1);
    json_t *one = json_pack("{s:s,s:s,s:i}", "backend_id", EAST, "kind", "5xx", "minutes", 1);
    assert_int_equal(sim_traffic_fault_add(st, one, &err), 0);
    assert_non_null(strstr(err.message, "at most 32"));
    json_decref(one);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(snapshot_has_the_pool_and_the_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(priority_first_among_closed_breakers, setup, teardown),
        cmocka_unit_test_setup_teardown(weights_within_a_priority_and_the_retry_shares, setup, teardown),
        cmocka_unit_test_setup_teardown(a_fault_window_trips_the_count_rule_for_trip_duration, setup, teardown),
        cmocka_unit_test_setup_teardown(the_percentage_rule_trips_at_once_on_all_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(accept_retry_after_holds_the_breaker_for_the_429s_retry_after, setup, teardown),
        cmocka_unit_test_setup_teardown(a_timeout_counts_for_a_rule_with_error_reasons, setup, teardown),
        cmocka_unit_test_setup_teardown(adjacent_windows_add_up_with_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_faults_are_refused_with_a_reason, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
