/* fuzz_sim: apim-sim's request handling (src/sim) without the socket — the token endpoints,
 * the ARM router (api-version, bearer and role checks, resources, paging, $filter, policy and
 * backend validation, traffic routes) and the control endpoint, in the order the server's
 * dispatch tries them, on a state seeded from the demo scenario; plus the pure parsers on the
 * body ($filter on every stored resource, policy XML in both formats, backend properties, JWT).
 * Invariants: no crash, no leak; every answer has a status in 200..599 and a body that
 * serialises; an ARM error (4xx/5xx under /subscriptions/) carries the envelope
 * {"error":{"code","message"}}.
 * Input: "METHOD /path?query" line, header lines "name: value", an empty line, the body.
 * Without an authorization header, a valid Contributor bearer token is sent. */
#include "fuzz.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define DEMO_TENANT "11111111-1111-1111-1111-111111111111"
#define BASE_URL "http://127.0.0.1:1"

static char *percent_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1), *o = out;
    CHECK(out);
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n + 0 && sscanf(s + i + 1, "%1x%1x", (unsigned *)&hi, (unsigned *)&lo) == 2) {
            *o++ = (char)(hi * 16 + lo);
            i += 2;
        } else {
            *o++ = s[i] == '+' ? ' ' : s[i];
        }
    }
    *o = '\0';
    return out;
}

static json_t *parse_query(const char *q)
{
    json_t *obj = json_object();
    while (q && *q) {
        size_t n = strcspn(q, "&");
        const char *eq = memchr(q, '=', n);
        char *k = percent_decode(q, eq ? (size_t)(eq - q) : n);
        char *v = eq ? percent_decode(eq + 1, n - (size_t)(eq - q) - 1) : strdup("");
        json_t *js = json_string(v);
        if (js)
            json_object_set_new(obj, k, js);
        free(k);
        free(v);
        q += n + (q[n] == '&');
    }
    return obj;
}

/* A fresh copy of the demo scenario, parsed once (reading it is most of a run's time). */
static json_t *scenario_copy(void)
{
    static json_t *doc;
    if (!doc) {
        char *path = sim_scenario_path("demo");
        doc = json_load_file(path, 0, NULL);
        free(path);
        CHECK(doc != NULL);
    }
    return json_deep_copy(doc);
}

static void check_answer(const sim_request *req, const sim_response *resp)
{
    if (resp->drop)
        return;
    CHECK(resp->status >= 200 && resp->status <= 599);
    if (resp->body) {
        char *s = json_dumps(resp->body, JSON_COMPACT | JSON_ENCODE_ANY);
        CHECK(s != NULL);
        free(s);
    }
    if (resp->status >= 400 && util_str_starts_with(req->path, "/subscriptions/")) {
        json_t *e = json_object_get(resp->body, "error");
        CHECK(json_is_string(json_object_get(e, "code")) && json_is_string(json_object_get(e, "message")));
    }
}

/* What the server's dispatch does, faults aside. */
static void handle(sim_state *st, const sim_request *req, sim_response *resp)
{
    if (sim_control_handle(st, req, resp))
        return;
    if (sim_entra_handle(st, req, resp))
        return;
    if (sim_arm_handle(st, req, resp))
        return;
    sim_response_arm_error(resp, 404, "NotFound", NULL, "apim-sim serves no route for %s %s.", req->method,
                           req->path);
}

static char *contributor_token(sim_state *st)
{
    json_t *q = json_object(), *h = json_object();
    static const char form[] = "grant_type=client_credentials&client_id=aaaaaaaa-0000-0000-0000-000000000001"
                               "&client_secret=demo-contributor-secret&scope=https://management.azure.com/.default";
    sim_request req = {.method = "POST", .path = "/" DEMO_TENANT "/oauth2/v2.0/token", .query = q, .headers = h,
                       .body = form, .body_len = sizeof form - 1, .base_url = BASE_URL};
    sim_response resp;
    sim_response_init(&resp);
    CHECK(sim_entra_handle(st, &req, &resp) && resp.status == 200);
    char *token = util_printf("Bearer %s", json_string_value(json_object_get(resp.body, "access_token")));
    sim_response_clear(&resp);
    json_decref(q);
    json_decref(h);
    return token;
}

static void pure_parsers(sim_state *st, const char *body, size_t len, json_t *query)
{
    util_error err;
    const char *filter = json_string_value(json_object_get(query, "$filter"));
    const char *key;
    json_t *entry;
    size_t n = 0;
    json_object_foreach(st->resources, key, entry) {
        if (filter && n++ < 64) {
            int m = sim_filter_match(filter, json_object_get(entry, "resource"), &err);
            CHECK(m == 0 || m == 1 || (m == -1 && err.message[0]));
        }
    }
    char *fallback = NULL;
    if (!filter && len > 0 && len < 512) {
        fallback = strndup(body, len);
        json_t *r = json_object_get(json_object_iter_value(json_object_iter(st->resources)), "resource");
        if (r && fallback)
            (void)sim_filter_match(fallback, r, &err);
    }
    free(fallback);
    (void)sim_validate_policy(body, "rawxml", &err);
    (void)sim_validate_policy(body, "xml", &err);
    char *esc = sim_policy_escape_expressions(body);
    free(esc);
    json_t *doc = json_loadb(body, len, 0, NULL);
    json_t *props = json_object_get(doc, "properties");
    if (json_is_object(props)) {
        json_t *details = json_array();
        (void)sim_validate_backend(props, sim_state_is_backend, st, details);
        json_decref(details);
    }
    json_decref(doc);
    sim_jwt jwt;
    memset(&jwt, 0, sizeof jwt);
    if (sim_jwt_parse(body, &jwt, &err) == 0)
        sim_jwt_free(&jwt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 1);
    CHECK(in);
    memcpy(in, data, size);
    in[size] = '\0';
    char *line_end = strchr(in, '\n');
    char *request_line = in, *rest = line_end ? line_end + 1 : in + size;
    if (line_end)
        *line_end = '\0';
    char *sp = strchr(request_line, ' ');
    if (!sp || sp[1] != '/') {
        free(in);
        return 0;
    }
    *sp = '\0';
    char *target = sp + 1;
    char *qmark = strchr(target, '?');
    if (qmark)
        *qmark = '\0';
    char *path = percent_decode(target, strlen(target));
    json_t *query = parse_query(qmark ? qmark + 1 : NULL);
    json_t *headers = json_object();
    /* header lines up to an empty line */
    while (*rest && *rest != '\n') {
        char *nl = strchr(rest, '\n');
        if (nl)
            *nl = '\0';
        char *colon = strchr(rest, ':');
        if (colon) {
            *colon = '\0';
            char *v = colon + 1;
            while (*v == ' ')
                v++;
            char *lower = sim_lower(rest);
            json_t *js = json_string(v);
            if (lower && js)
                json_object_set_new(headers, lower, js);
            else
                json_decref(js);
            free(lower);
        }
        rest = nl ? nl + 1 : rest + strlen(rest);
    }
    if (*rest == '\n')
        rest++;
    const char *body = rest;
    size_t body_len = size - (size_t)(rest - in);

    sim_options opt = {.scenario = "demo", .host = "127.0.0.1", .token_lifetime = 3599, .page_size = 3};
    sim_state st;
    util_error err;
    CHECK(sim_state_init(&st, &opt, &err) == 0);
    json_t *scenario = scenario_copy();
    CHECK(sim_scenario_apply(&st, scenario, &err) == 0);
    json_decref(scenario); /* borrowed by apply, which keeps its own reference */
    /* one signing key and token for every run (issuing a token is a third of a run's time) */
    static unsigned char key[sizeof st.sign_key];
    static char *token;
    if (!token) {
        token = contributor_token(&st);
        memcpy(key, st.sign_key, sizeof key);
    }
    memcpy(st.sign_key, key, sizeof key);
    if (!json_object_get(headers, "authorization"))
        json_object_set_new(headers, "authorization", json_string(token));
    sim_request req = {.method = request_line, .path = path, .query = query, .headers = headers, .body = body,
                       .body_len = body_len, .base_url = BASE_URL};
    sim_response resp;
    sim_response_init(&resp);
    handle(&st, &req, &resp);
    check_answer(&req, &resp);
    sim_response_clear(&resp);
    char *route = sim_route_key(req.method, req.path);
    CHECK(route != NULL);
    free(route);
    pure_parsers(&st, body, body_len, query);

    sim_state_free(&st);
    json_decref(query);
    json_decref(headers);
    free(path);
    free(in);
    return 0;
}
