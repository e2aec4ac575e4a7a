/* control.c: the loopback-only /_sim/ control endpoint used by tests and benchmarks —
 * counters, the request log, fault injection, client registration, simulated concurrent edits
 * (/_sim/touch), raw state reads, the virtual clock (/_sim/clock, clock.c), backend faults
 * (/_sim/faults with a backend_id, traffic_route.c) and the ingestion delays of Log Analytics and
 * Azure Monitor (/_sim/ingestion). No authentication: the server only answers loopback. */
#include "sim.h"
#include "traffic.h"

#include <stdlib.h>
#include <string.h>

static void bad_request(sim_response *resp, const char *msg)
{
    sim_response_json(resp, 400, json_pack("{s:{s:s,s:s}}", "error", "code", "BadRequest", "message", msg));
}

static json_t *body_object(const sim_request *req, sim_response *resp)
{
    json_t *body = json_loadb(req->body, req->body_len, 0, NULL);
    if (!json_is_object(body)) {
        json_decref(body);
        bad_request(resp, "The body must be a JSON object.");
        return NULL;
    }
    return body;
}

static void counters(sim_state *st, const sim_request *req, sim_response *resp)
{
    if (strcmp(req->method, "DELETE") == 0) {
        st->token_requests = st->arm_requests = 0;
        json_object_clear(st->routes);
        json_array_clear(st->log);
        sim_response_json(resp, 204, NULL);
        return;
    }
    sim_response_json(resp, 200, json_pack("{s:I,s:I,s:o}", "token_requests", (json_int_t)st->token_requests,
                                           "arm_requests", (json_int_t)st->arm_requests, "routes",
                                           json_deep_copy(st->routes)));
}

/* Validates and normalises one fault rule (new reference, or NULL). */
static json_t *fault_rule(json_t *in)
{
    if (!json_is_object(in))
        return NULL;
    json_t *r = json_deep_copy(in);
    json_t *status = json_object_get(r, "status"), *body = json_object_get(r, "body"), *delay = json_object_get(r, "delay_ms");
    json_t *headers = json_object_get(r, "headers"), *h;
    const char *k;
    bool ok = !status || (json_is_integer(status) && json_integer_value(status) >= 200 && json_integer_value(status) <= 599);
    ok = ok && (!body || json_is_string(body)) && (!delay || (json_is_integer(delay) && json_integer_value(delay) >= 0));
    ok = ok && (!headers || json_is_object(headers));
    json_object_foreach(headers, k, h)
        ok = ok && json_is_string(h);
    if (!ok) {
        json_decref(r);
        return NULL;
    }
    if (!json_object_get(r, "skip"))
        json_object_set_new(r, "skip", json_integer(0));
    if (!json_object_get(r, "count"))
        json_object_set_new(r, "count", json_integer(-1));
    return r;
}

int sim_control_set_faults(sim_state *st, json_t *body, util_error *err)
{
    json_t *latency = json_object_get(body, "latency_ms"), *rules = json_object_get(body, "rules");
    if ((latency && (!json_is_integer(latency) || json_integer_value(latency) < 0)) || (rules && !json_is_array(rules)))
        return util_error_set(err, UTIL_EINVAL, "faults: latency_ms must be a non-negative integer and rules an array");
    json_t *norm = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r) {
        json_t *rule = fault_rule(r);
        if (!rule) {
            json_decref(norm);
            return util_error_set(err, UTIL_EINVAL,
                                  "faults: each rule is an object with optional method, path_contains, status "
                                  "(200..599), body (text), headers (object of strings), delay_ms, retry_after, "
                                  "retry_after_ms, x_ms_retry_after_ms, drop, pass, strip_etag, skip and count");
        }
        json_array_append_new(norm, rule);
    }
    if (latency)
        json_object_set(st->faults, "latency_ms", latency);
    if (rules)
        json_object_set(st->faults, "rules", norm);
    if (json_is_true(json_object_get(body, "expire_tokens")))
        st->expired_upto = st->token_serial;
    json_decref(norm);
    return 0;
}

/* The backend faults as listed: {id, backend_id, kind, from, until}. */
static json_t *backend_faults(sim_state *st)
{
    json_t *out = json_array(), *f;
    size_t i;
    json_array_foreach(st->backend_faults, i, f)
        json_array_append_new(out, json_pack("{s:O,s:O,s:O,s:O,s:O}", "id", json_object_get(f, "id"), "backend_id",
                                             json_object_get(f, "backend_id"), "kind", json_object_get(f, "kind"), "from",
                                             json_object_get(f, "from"), "until", json_object_get(f, "until")));
    return out;
}

static void faults(sim_state *st, const sim_request *req, sim_response *resp)
{
    if (strcmp(req->method, "DELETE") == 0) {
        json_object_set_new(st->faults, "latency_ms", json_integer(0));
        json_object_set_new(st->faults, "rules", json_array());
        sim_traffic_faults_clear(st);
        sim_response_json(resp, 204, NULL);
        return;
    }
    if (strcmp(req->method, "GET") == 0) {
        json_t *out = json_deep_copy(st->faults);
        json_object_set_new(out, "backend_faults", backend_faults(st));
        sim_response_json(resp, 200, out);
        return;
    }
    if (strcmp(req->method, "POST") != 0) {
        sim_response_json(resp, 405, json_pack("{s:{s:s,s:s}}", "error", "code", "MethodNotAllowed", "message",
                                               "GET, POST or DELETE /_sim/faults"));
        return;
    }
    json_t *body = body_object(req, resp);
    if (!body)
        return;
    util_error err = {0};
    if (json_object_get(body, "backend_id")) { /* a backend fault (docs/apim-sim.md, "Routing and failures") */
        int64_t id = sim_traffic_fault_add(st, body, &err);
        if (!id)
            bad_request(resp, err.message);
        else {
            json_t *list = backend_faults(st);
            sim_response_json(resp, 201, json_incref(json_array_get(list, json_array_size(list) - 1)));
            json_decref(list);
        }
    } else if (sim_control_set_faults(st, body, &err) != 0)
        bad_request(resp, err.message);
    else
        sim_response_json(resp, 200, json_deep_copy(st->faults));
    json_decref(body);
}

/* GET|POST /_sim/ingestion {"logs_delay_s", "metrics_delay_s"} (0..3600 each). */
static void ingestion(sim_state *st, const sim_request *req, sim_response *resp)
{
    if (!strcmp(req->method, "POST")) {
        json_t *body = body_object(req, resp);
        if (!body)
            return;
        const char *key, *bad = NULL;
        json_t *v;
        json_object_foreach(body, key, v) {
            bool known = !strcmp(key, "logs_delay_s") || !strcmp(key, "metrics_delay_s");
            if (!known || !json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 3600)
                bad = known ? "ingestion: logs_delay_s and metrics_delay_s are integers of seconds from 0 to 3600"
                            : "ingestion: unknown member (logs_delay_s, metrics_delay_s)";
        }
        if (!bad) {
            if (json_object_get(body, "logs_delay_s"))
                st->logs_delay_s = (int)json_integer_value(json_object_get(body, "logs_delay_s"));
            if (json_object_get(body, "metrics_delay_s"))
                st->metrics_delay_s = (int)json_integer_value(json_object_get(body, "metrics_delay_s"));
        }
        json_decref(body);
        if (bad) {
            bad_request(resp, bad);
            return;
        }
    } else if (strcmp(req->method, "GET")) {
        sim_response_json(resp, 405, json_pack("{s:{s:s,s:s}}", "error", "code", "MethodNotAllowed", "message",
                                               "GET or POST /_sim/ingestion"));
        return;
    }
    sim_response_json(resp, 200, json_pack("{s:i,s:i}", "logs_delay_s", st->logs_delay_s, "metrics_delay_s",
                                           st->metrics_delay_s));
}

static void clients(sim_state *st, const sim_request *req, sim_response *resp)
{
    json_t *body = body_object(req, resp);
    if (!body)
        return;
    const char *id = json_string_value(json_object_get(body, "client_id"));
    const char *tenant = json_string_value(json_object_get(body, "tenant_id"));
    const char *role = json_string_value(json_object_get(body, "role"));
    if (!id || !tenant || !role || (strcmp(role, "contributor") != 0 && strcmp(role, "reader") != 0 && strcmp(role, "owner") != 0)) {
        bad_request(resp, "client_id, tenant_id and role (contributor|reader|owner) are required.");
    } else {
        if (!json_object_get(body, "object_id")) {
            char oid[37];
            util_uuid4(oid);
            json_object_set_new(body, "object_id", json_string(oid));
        }
        util_log_add_secret(json_string_value(json_object_get(body, "secret")));
        json_object_set(st->clients, id, body);
        json_object_set_new(st->tenants, tenant, json_true());
        sim_response_json(resp, 201, json_pack("{s:s,s:O}", "client_id", id, "object_id",
                                               json_object_get(body, "object_id")));
    }
    json_decref(body);
}

static void touch(sim_state *st, const sim_request *req, sim_response *resp)
{
    json_t *body = body_object(req, resp);
    if (!body)
        return;
    const char *path = json_string_value(json_object_get(body, "path"));
    json_t *entry = path ? sim_state_get(st, path) : NULL;
    if (!entry) {
        sim_response_json(resp, 404, json_pack("{s:{s:s,s:s}}", "error", "code", "NotFound", "message",
                                               "No stored resource has that path."));
    } else {
        json_t *props = json_object_get(json_object_get(entry, "resource"), "properties");
        const char *value = json_string_value(json_object_get(props, "value"));
        if (value && strstr(json_string_value(json_object_get(json_object_get(entry, "resource"), "type")), "policies")) {
            char *changed = util_printf("%s\n<!-- concurrent edit simulated by apim-sim -->", value);
            json_object_set_new(props, "value", json_string(changed));
            free(changed);
        }
        /* another field edited by someone else: {"properties": {...}} is merged in */
        if (json_is_object(json_object_get(body, "properties")) && json_is_object(props))
            json_object_update(props, json_object_get(body, "properties"));
        char *etag = sim_state_next_etag(st);
        json_object_set_new(entry, "etag", json_string(etag));
        st->traffic_version++; /* a breaker rule may have changed (traffic_route.c) */
        sim_response_json(resp, 200, json_pack("{s:s}", "etag", etag));
        free(etag);
    }
    json_decref(body);
}

static void state_read(sim_state *st, const sim_request *req, sim_response *resp)
{
    const char *path = json_string_value(json_object_get(req->query, "path"));
    json_t *entry = path ? sim_state_get(st, path) : NULL;
    if (!entry) {
        sim_response_json(resp, 404, json_pack("{s:{s:s,s:s}}", "error", "code", "NotFound", "message",
                                               "No stored resource has that path."));
        return;
    }
    json_t *out = json_pack("{s:O,s:o}", "etag", json_object_get(entry, "etag"), "resource",
                            json_deep_copy(json_object_get(entry, "resource")));
    if (json_object_get(entry, "format"))
        json_object_set(out, "format", json_object_get(entry, "format"));
    sim_response_json(resp, 200, out);
}

bool sim_control_handle(sim_state *st, const sim_request *req, sim_response *resp)
{
    if (!util_str_starts_with(req->path, "/_sim/"))
        return false;
    const char *what = req->path + strlen("/_sim/");
    const char *m = req->method;
    sim_state_lock(st);
    if (strcmp(what, "counters") == 0 && (strcmp(m, "GET") == 0 || strcmp(m, "DELETE") == 0))
        counters(st, req, resp);
    else if (strcmp(what, "requests") == 0 && strcmp(m, "GET") == 0)
        sim_response_json(resp, 200, json_pack("{s:o}", "requests", json_deep_copy(st->log)));
    else if (strcmp(what, "faults") == 0)
        faults(st, req, resp);
    else if (strcmp(what, "clients") == 0 && strcmp(m, "POST") == 0)
        clients(st, req, resp);
    else if (strcmp(what, "touch") == 0 && strcmp(m, "POST") == 0)
        touch(st, req, resp);
    else if (strcmp(what, "state") == 0 && strcmp(m, "GET") == 0)
        state_read(st, req, resp);
    else if (strcmp(what, "traffic") == 0 && strcmp(m, "GET") == 0)
        sim_traffic_control(st, req, resp);
    else if (strcmp(what, "clock") == 0)
        sim_clock_control(st, req, resp);
    else if (strcmp(what, "ingestion") == 0)
        ingestion(st, req, resp);
    else
        sim_response_json(resp, 404, json_pack("{s:{s:s,s:s}}", "error", "code", "NotFound", "message",
                                               "Unknown control route: see docs/apim-sim.md."));
    sim_state_unlock(st);
    return true;
}
