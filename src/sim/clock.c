/* clock.c: apim-sim's virtual clock — the one time source of everything the simulator dates:
 * the traffic model (configuration changes, faults, the end of the data it reports), metrics, logs
 * and reports windows, access-token lifetimes (issue, expiry checks, client-assertion checks),
 * createdDate stamps and the Date header of every answer. By default it tracks the wall clock
 * (rate 1, no offset), so --demo is unchanged; tests move it with POST /_sim/clock instead of sleeping:
 *   {"advance_s": N}    moves it N seconds forward (N >= 0)
 *   {"set": "ISO 8601"} jumps to that instant (forward or back)
 *   {"freeze": true|false}  stops it (it then moves only when told) or lets it run again
 *   {"rate": R}         while running, R virtual seconds pass per wall second (0 < R <= 3600)
 * GET /_sim/clock answers {now, now_ms, offset_s, frozen, rate}. The state has its own small lock,
 * so any thread may read the time without the state lock. */
#include "sim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CLOCK_MAX_RATE 3600.0

/* Lock held. */
static int64_t now_locked(const sim_state *st)
{
    if (st->clock_frozen)
        return st->clock_base_virtual_ms;
    return st->clock_base_virtual_ms + llround((double)(util_now_ms() - st->clock_base_wall_ms) * st->clock_rate);
}

int64_t sim_now_ms(const sim_state *st)
{
    sim_state *m = (sim_state *)st; /* the clock lock is the only member written */
    pthread_mutex_lock(&m->clock_lock);
    int64_t t = now_locked(st);
    pthread_mutex_unlock(&m->clock_lock);
    return t;
}

int64_t sim_now_s(const sim_state *st) { return sim_now_ms(st) / 1000; }

void sim_http_date(int64_t t_ms, char *out, size_t n)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)(t_ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 || tm.tm_mon > 11) {
        snprintf(out, n, "Thu, 01 Jan 1970 00:00:00 GMT");
        return;
    }
    snprintf(out, n, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
             tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static json_t *clock_json(sim_state *st)
{
    pthread_mutex_lock(&st->clock_lock);
    int64_t now = now_locked(st);
    bool frozen = st->clock_frozen;
    double rate = st->clock_rate;
    pthread_mutex_unlock(&st->clock_lock);
    char iso[32];
    util_time_iso8601(now / 1000, iso, sizeof(iso));
    return json_pack("{s:s,s:I,s:f,s:b,s:f}", "now", iso, "now_ms", (json_int_t)now, "offset_s",
                     (double)(now - util_now_ms()) / 1000.0, "frozen", frozen, "rate", rate);
}

int sim_clock_apply(sim_state *st, json_t *body, util_error *err)
{
    json_t *adv = json_object_get(body, "advance_s"), *set = json_object_get(body, "set");
    json_t *freeze = json_object_get(body, "freeze"), *rate = json_object_get(body, "rate");
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
        if (strcmp(key, "advance_s") && strcmp(key, "set") && strcmp(key, "freeze") && strcmp(key, "rate"))
            return util_error_set(err, UTIL_EINVAL, "clock: unknown member '%s' (advance_s, set, freeze, rate)", key);
    if (adv && (!json_is_number(adv) || json_number_value(adv) < 0 || json_number_value(adv) > 366.0 * 86400))
        return util_error_set(err, UTIL_EINVAL, "clock: advance_s must be a number of seconds from 0 to 31622400");
    if (freeze && !json_is_boolean(freeze))
        return util_error_set(err, UTIL_EINVAL, "clock: freeze must be true or false");
    if (rate && (!json_is_number(rate) || !(json_number_value(rate) > 0) || json_number_value(rate) > CLOCK_MAX_RATE))
        return util_error_set(err, UTIL_EINVAL, "clock: rate must be a number greater than 0 and at most 3600 "
                              "(virtual seconds per wall second)");
    int64_t at = 0;
    if (set && (!json_is_string(set) || util_time_parse_iso8601(json_string_value(set), &at) != 0 || at <= 0))
        return util_error_set(err, UTIL_EINVAL, "clock: set must be an ISO 8601 UTC instant such as "
                              "\"2026-11-30T06:00:00Z\"");
    pthread_mutex_lock(&st->clock_lock);
    /* re-base at the current instant: what follows changes the clock from now on */
    st->clock_base_virtual_ms = now_locked(st);
    st->clock_base_wall_ms = util_now_ms();
    if (freeze)
        st->clock_frozen = json_is_true(freeze);
    if (rate)
        st->clock_rate = json_number_value(rate);
    if (set)
        st->clock_base_virtual_ms = at * 1000;
    if (adv)
        st->clock_base_virtual_ms += (int64_t)(json_number_value(adv) * 1000.0);
    pthread_mutex_unlock(&st->clock_lock);
    return 0;
}

void sim_clock_control(sim_state *st, const sim_request *req, sim_response *resp)
{
    if (!strcmp(req->method, "POST")) {
        json_t *body = json_loadb(req->body, req->body_len, 0, NULL);
        util_error err;
        util_error_clear(&err);
        int rc = json_is_object(body) ? sim_clock_apply(st, body, &err)
                                      : util_error_set(&err, UTIL_EINVAL, "clock: the body must be a JSON object");
        json_decref(body);
        if (rc) {
            sim_response_json(resp, 400, json_pack("{s:{s:s,s:s}}", "error", "code", "BadRequest", "message",
                                                   err.message));
            return;
        }
    } else if (strcmp(req->method, "GET")) {
        sim_response_json(resp, 405, json_pack("{s:{s:s,s:s}}", "error", "code", "MethodNotAllowed", "message",
                                               "GET or POST /_sim/clock"));
        return;
    }
    sim_response_json(resp, 200, clock_json(st));
}
