/* clock.c: apim-sim's virtual clock — the one time source of everything the simulator dates:
 * the traffic model (configuration changes, the end of the data it reports), metrics, logs and
 * reports windows, access-token lifetimes (issue, expiry checks, client-assertion checks) and
 * createdDate stamps. By default it tracks the wall clock (offset 0), so --demo is unchanged;
 * tests move it with POST /_sim/clock instead of sleeping:
 *   {"advance_s": N}    moves it N seconds forward (N >= 0)
 *   {"set": "ISO 8601"} jumps to that instant (forward or back)
 *   {"freeze": true|false}  stops it (it then moves only when told) or lets it run again
 * GET /_sim/clock answers {now, now_ms, offset_s, frozen}. The state is two atomics, so any
 * thread may read the time without the lock. */
#include "sim.h"

#include <stdlib.h>
#include <string.h>

int64_t sim_now_ms(const sim_state *st)
{
    int64_t frozen = atomic_load(&st->clock_frozen_ms);
    return frozen ? frozen : util_now_ms() + atomic_load(&st->clock_offset_ms);
}

int64_t sim_now_s(const sim_state *st) { return sim_now_ms(st) / 1000; }

/* Moves the clock to t (ms since the epoch), keeping it frozen or running as it is. */
static void clock_to(sim_state *st, int64_t t)
{
    if (atomic_load(&st->clock_frozen_ms))
        atomic_store(&st->clock_frozen_ms, t);
    else
        atomic_store(&st->clock_offset_ms, t - util_now_ms());
}

static json_t *clock_json(const sim_state *st)
{
    int64_t now = sim_now_ms(st);
    char iso[32];
    util_time_iso8601(now / 1000, iso, sizeof(iso));
    return json_pack("{s:s,s:I,s:f,s:b}", "now", iso, "now_ms", (json_int_t)now, "offset_s",
                     (double)(now - util_now_ms()) / 1000.0, "frozen", atomic_load(&st->clock_frozen_ms) != 0);
}

int sim_clock_apply(sim_state *st, json_t *body, util_error *err)
{
    json_t *adv = json_object_get(body, "advance_s"), *set = json_object_get(body, "set");
    json_t *freeze = json_object_get(body, "freeze");
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
        if (strcmp(key, "advance_s") && strcmp(key, "set") && strcmp(key, "freeze"))
            return util_error_set(err, UTIL_EINVAL, "clock: unknown member '%s' (advance_s, set, freeze)", key);
    if (adv && (!json_is_number(adv) || json_number_value(adv) < 0 || json_number_value(adv) > 366.0 * 86400))
        return util_error_set(err, UTIL_EINVAL, "clock: advance_s must be a number of seconds from 0 to 31622400");
    if (freeze && !json_is_boolean(freeze))
        return util_error_set(err, UTIL_EINVAL, "clock: freeze must be true or false");
    int64_t at = 0;
    if (set && (!json_is_string(set) || util_time_parse_iso8601(json_string_value(set), &at) != 0 || at <= 0))
        return util_error_set(err, UTIL_EINVAL, "clock: set must be an ISO 8601 UTC instant such as "
                              "\"2026-11-30T06:00:00Z\"");
    int64_t now = sim_now_ms(st);
    if (freeze && json_is_true(freeze))
        atomic_store(&st->clock_frozen_ms, now);
    else if (freeze) {
        atomic_store(&st->clock_offset_ms, now - util_now_ms());
        atomic_store(&st->clock_frozen_ms, 0);
    }
    if (set)
        clock_to(st, at * 1000);
    if (adv)
        clock_to(st, sim_now_ms(st) + (int64_t)(json_number_value(adv) * 1000.0));
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
