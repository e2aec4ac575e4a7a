/* arm: the ARM client (see include/arm.h) — URLs and pinned api-versions, the request engine
 * shared by single calls and batches (token, retries with backoff and Retry-After, 401 refresh,
 * 202 polling), paging and the client's lifecycle. Error sentences: arm_error.c; --check:
 * arm_check.c. */
#include "arm.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arm_internal.h"
#include "auth.h"
#include "http.h"
#include "platform.h"

#define ARM_SLEEP_SLICE_MS 50
#define ARM_MAX_PAGES 100
#define ARM_DEFAULT_MAX_ITEMS 10000
#define ARM_POLL_DEFAULT_MS 1000

/* The one place api-versions are pinned. */
static const char *const api_versions[] = {
    [ARM_API_APIM] = "2024-05-01",
    [ARM_API_METRICS] = "2024-02-01",
    [ARM_API_DIAGNOSTICS] = "2021-05-01-preview",
    [ARM_API_WORKSPACES] = "2025-07-01",
    [ARM_API_COGNITIVE] = "2025-12-01",
    [ARM_API_LOGS_QUERY] = "",
    [ARM_API_AUTHORIZATION] = "2022-04-01",
};

const char *arm_api_version(int api)
{
    if (api < 0 || (size_t)api >= sizeof api_versions / sizeof *api_versions)
        api = ARM_API_APIM;
    return api_versions[api];
}

/* ---- lifecycle ------------------------------------------------------------------------ */

struct arm_client *arm_client_new(const struct config *cfg, util_error *err)
{
    if (config_ready(cfg, err) != 0)
        return NULL;
    struct arm_client *c = calloc(1, sizeof *c);
    if (!c) {
        util_error_set(err, UTIL_ENOMEM, "out of memory creating the ARM client");
        return NULL;
    }
    c->cfg = cfg;
    c->retry = (struct arm_retry_policy){6, 60000, 800, 30000, 300000};
    c->http = http_client_new(cfg->ca_file, err);
    c->cred = c->http ? auth_credential_new(cfg, c->http, err) : NULL;
    if (!c->cred) {
        arm_client_free(c);
        return NULL;
    }
    return c;
}

void arm_client_free(struct arm_client *c)
{
    if (!c)
        return;
    auth_credential_free(c->cred);
    http_client_free(c->http);
    free(c);
}

void arm_set_cancel(struct arm_client *c, const atomic_int *cancel) { http_client_set_cancel(c->http, cancel); }

void arm_set_retry_policy(struct arm_client *c, const struct arm_retry_policy *p) { c->retry = *p; }

void arm_get_stats(const struct arm_client *c, struct arm_stats *out)
{
    struct http_stats hs;
    http_client_stats(c->http, &hs);
    out->arm_requests = c->arm_requests;
    out->retries = c->retries;
    out->token_requests = auth_token_requests(c->cred);
    out->new_connections = hs.new_connections;
}

void arm_result_free(struct arm_result *res)
{
    if (!res)
        return;
    json_decref(res->body);
    free(res->etag);
    free(res->request_id);
    memset(res, 0, sizeof *res);
}

int64_t arm_parse_http_date(const char *s)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char wd[4], mon[4], zone[4];
    int d, y, h, mi, sec, n = 0;
    if (!s || sscanf(s, "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d %3[A-Z]%n", wd, &d, mon, &y, &h, &mi, &sec, zone,
                     &n) != 8 || s[n] != '\0' || strcmp(zone, "GMT") != 0)
        return 0;
    const char *m = strlen(mon) == 3 ? strstr(months, mon) : NULL;
    if (!m || (m - months) % 3 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return 0;
    char iso[80];
    snprintf(iso, sizeof iso, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, (int)((m - months) / 3) + 1, d, h, mi, sec);
    int64_t t = 0;
    return util_time_parse_iso8601(iso, &t) == 0 ? t : 0;
}

/* ---- URLs ----------------------------------------------------------------------------- */

static int is_absolute(const char *p)
{
    return util_str_starts_with(p, "https://") || util_str_starts_with(p, "http://");
}

char *arm_url(const struct arm_client *c, const char *path, int api, const char *query)
{
    util_buf b;
    util_buf_init(&b, 0);
    if (api == ARM_API_LOGS_QUERY) { /* data plane: no api-version */
        util_buf_printf(&b, "%s/v1%s", c->cfg->log_analytics_endpoint ? c->cfg->log_analytics_endpoint : "", path);
        if (query && *query)
            util_buf_printf(&b, "?%s", query);
        return util_buf_steal(&b);
    }
    if (is_absolute(path))
        util_buf_puts(&b, path);
    else if (path[0] == '/')
        util_buf_printf(&b, "%s%s", c->cfg->arm_endpoint, path);
    else
        util_buf_printf(&b, "%s%s%s%s", c->cfg->arm_endpoint, c->cfg->service_id, path[0] ? "/" : "", path);
    char sep = strchr(b.data, '?') ? '&' : '?';
    if (!strstr(b.data, "api-version=")) {
        util_buf_printf(&b, "%capi-version=%s", sep, arm_api_version(api));
        sep = '&';
    }
    if (query && *query)
        util_buf_printf(&b, "%c%s", sep, query);
    return util_buf_steal(&b);
}

/* A URL we send our ARM token to must be on the configured ARM endpoint. */
static int same_origin(const struct arm_client *c, const char *url)
{
    const char *ep = c->cfg->arm_endpoint;
    size_t n = strlen(ep);
    return strncmp(url, ep, n) == 0 && (url[n] == '/' || url[n] == '?' || url[n] == '\0');
}

/* ---- the engine ----------------------------------------------------------------------- */

enum phase { PH_REQUEST, PH_ASYNC, PH_LOCATION, PH_FINAL_GET };

/* One request's progress through attempts, polling and its outcome. */
struct call {
    const struct arm_request *req;
    struct arm_result *res;
    util_error *err;
    int rc;
    int done;
    int phase;
    char *url;        /* current target */
    char *body_text;  /* serialised request body */
    int attempts;     /* sent in the current phase */
    int refreshed;    /* token refreshed once already */
    int64_t start_ms; /* of the request, for the retry bound */
    int64_t due_ms;   /* next send */
};

/* A server's wait is a number from the network: capped (a day) before any arithmetic on it. Any
 * wait this long exceeds every retry and polling budget, so the cap changes no decision. */
#define ARM_SERVER_WAIT_CAP_MS (24L * 3600 * 1000)

static long parse_retry_after(const char *v)
{
    if (!v)
        return -1;
    char *end;
    long s = strtol(v, &end, 10);
    if (end != v && *end == '\0' && s >= 0)
        return s > ARM_SERVER_WAIT_CAP_MS / 1000 ? ARM_SERVER_WAIT_CAP_MS : s * 1000;
    time_t t = curl_getdate(v, NULL);
    if (t < 0)
        return -1;
    int64_t ms = (int64_t)t * 1000 - util_now_ms(); /* curl_getdate stops at year 9999: no overflow */
    return ms <= 0 ? 0 : ms > ARM_SERVER_WAIT_CAP_MS ? ARM_SERVER_WAIT_CAP_MS : (long)ms;
}

static long backoff_ms(const struct arm_retry_policy *p, int attempt)
{
    long d = p->base_delay_ms;
    for (int i = 1; i < attempt && d < p->max_delay_ms; i++)
        d *= 2;
    char hex[5];
    unsigned r = util_random_hex(hex, 2) == 0 ? (unsigned)strtoul(hex, NULL, 16) : 32768u;
    d = d * (80 + (long)(r % 41)) / 100; /* jitter: 80 % to 120 % */
    return d < p->max_delay_ms ? d : p->max_delay_ms;
}

static int retriable_status(long s)
{
    return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

/* The server's wait in ms, read as azcore does (retry-after-ms, then x-ms-retry-after-ms, both in
 * milliseconds, then Retry-After in seconds or as an HTTP date); -1 when none. */
static long server_wait_ms(const struct http_response *r)
{
    const char *ms[] = {r->retry_after_ms, r->x_ms_retry_after_ms};
    for (size_t i = 0; i < 2; i++) {
        char *end;
        long v = ms[i] ? strtol(ms[i], &end, 10) : -1;
        if (ms[i] && end != ms[i] && *end == '\0' && v >= 0)
            return v > ARM_SERVER_WAIT_CAP_MS ? ARM_SERVER_WAIT_CAP_MS : v;
    }
    return parse_retry_after(r->retry_after);
}

/* Schedules another attempt if the policy allows it; returns 0 when scheduled. The server's
 * wait (server_ms >= 0) is never shortened: when it is longer than one backoff may be
 * (max_delay_ms) or than the time left, no retry is made (azcore: "the retry-after delay exceeds
 * the cap so don't retry") and *wait_ms says how long the server asked for. */
static int schedule_retry(struct arm_client *c, struct call *k, long server_ms, long *wait_ms)
{
    int64_t now = util_monotonic_ms();
    long delay = server_ms >= 0 ? server_ms : backoff_ms(&c->retry, k->attempts);
    *wait_ms = -1;
    if (server_ms > c->retry.max_delay_ms || k->attempts >= c->retry.max_attempts ||
        now + delay - k->start_ms > c->retry.max_total_ms) {
        *wait_ms = server_ms;
        return -1;
    }
    k->due_ms = now + delay;
    c->retries++;
    LOG_DEBUG("arm", "%s %s: retry %d in %ld ms", k->req->method, k->req->path, k->attempts, delay);
    return 0;
}

/* Appends when the server said to come back (it asked for a wait we do not make). */
static void say_when_to_retry(util_error *err, long wait_ms)
{
    char at[32];
    util_time_iso8601((util_now_ms() + wait_ms + 999) / 1000, at, sizeof at);
    size_t n = strlen(err->message);
    snprintf(err->message + n, sizeof err->message - n, ". ARM asked to wait %.1f s before the next try "
             "(Retry-After), more than this client's retry budget allows, so nothing more was sent: retry after %s",
             wait_ms / 1000.0, at);
}

static void finish(struct call *k, int rc)
{
    k->rc = rc;
    k->done = 1;
}

static void keep_answer(struct call *k, const struct http_response *r)
{
    json_decref(k->res->body);
    k->res->body = r->body.len ? json_loadb(r->body.data, r->body.len, 0, NULL) : NULL;
    k->res->status = r->status;
    free(k->res->request_id);
    k->res->request_id = util_strdup(r->request_id);
    int64_t date = arm_parse_http_date(r->date);
    if (date)
        k->res->date = date;
    const char *etag = r->etag ? r->etag : json_string_value(json_object_get(k->res->body, "etag"));
    if (etag || k->phase == PH_REQUEST || k->phase == PH_FINAL_GET) {
        free(k->res->etag);
        k->res->etag = util_strdup(etag);
    }
}

/* The next poll comes when the server asked, but never after the polling budget ends: a 202 asking
 * for a longer wait is then read once more and, still unfinished, reported as pending (a committed
 * write cannot be cancelled, so an unbounded wait would hold the call and the server). */
static void start_poll(const struct arm_client *c, struct call *k, int phase, const char *url, long wait_ms)
{
    char *next = util_strdup(url); /* url may be k->url itself */
    free(k->url);
    k->url = next;
    k->phase = phase;
    k->attempts = 0;
    int64_t now = util_monotonic_ms();
    int64_t wait = wait_ms >= 0 ? wait_ms : ARM_POLL_DEFAULT_MS;
    int64_t left = (int64_t)c->retry.poll_max_ms - (now - k->start_ms);
    k->due_ms = now + (wait < left ? wait : left > 0 ? left : 0);
}

static int poll_overdue(const struct arm_client *c, const struct call *k)
{
    return util_monotonic_ms() - k->start_ms >= c->retry.poll_max_ms; /* >=: start_poll's last poll is due at the bound */
}

/* A 202/201 that starts a long-running operation: poll its Azure-AsyncOperation or Location. */
static void on_accepted(struct arm_client *c, struct call *k, const struct http_response *r)
{
    keep_answer(k, r);
    const char *u = r->async_operation ? r->async_operation : r->location;
    if (same_origin(c, u))
        start_poll(c, k, r->async_operation ? PH_ASYNC : PH_LOCATION, u, server_wait_ms(r));
    else
        finish(k, util_error_set(k->err, UTIL_EREMOTE, "ARM asked to poll %s, which is not on the ARM endpoint %s; "
                                 "refusing to send the token there", u, c->cfg->arm_endpoint));
}

/* An Azure-AsyncOperation status answer: still running, failed, or done (then the final GET
 * of the resource for PUT/PATCH). */
static void on_async_status(struct arm_client *c, struct call *k, const struct http_response *r)
{
    json_t *b = r->body.len ? json_loadb(r->body.data, r->body.len, 0, NULL) : NULL;
    const char *st = json_string_value(json_object_get(b, "status"));
    const char *m = k->req->method;
    if (st && util_str_eq_ci(st, "Succeeded") && (strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0)) {
        char *orig = arm_url(c, k->req->path, k->req->api, k->req->query);
        start_poll(c, k, PH_FINAL_GET, orig, 0);
        free(orig);
    } else if (st && util_str_eq_ci(st, "Succeeded")) {
        finish(k, 0);
    } else if (st && (util_str_eq_ci(st, "Failed") || util_str_eq_ci(st, "Canceled"))) {
        finish(k, arm_error_from_json(c, k->req, json_object_get(b, "error"), k->err));
    } else if (poll_overdue(c, k)) {
        finish(k, arm_error_timeout(c, k->req, k->err));
    } else {
        start_poll(c, k, PH_ASYNC, k->url, server_wait_ms(r));
    }
    json_decref(b);
}

/* Handles a 2xx answer: done, or polling starts or continues. */
static void on_success(struct arm_client *c, struct call *k, const struct http_response *r)
{
    int accepted = r->status == 202 || r->status == 201;
    if (k->phase == PH_REQUEST && strcmp(k->req->method, "GET") != 0 && accepted &&
        (r->async_operation || (r->status == 202 && r->location)))
        on_accepted(c, k, r);
    else if (k->phase == PH_ASYNC)
        on_async_status(c, k, r);
    else if (k->phase == PH_LOCATION && r->status == 202 && poll_overdue(c, k))
        finish(k, arm_error_timeout(c, k->req, k->err));
    else if (k->phase == PH_LOCATION && r->status == 202)
        start_poll(c, k, PH_LOCATION, k->url, server_wait_ms(r));
    else {
        keep_answer(k, r);
        /* an answer we cannot read is not an answer: never "no policy", never "0 items" */
        int unreadable = r->body.len ? !k->res->body : strcmp(k->req->method, "GET") == 0 && r->status == 200;
        finish(k, unreadable ? arm_error_unreadable(c, k->req, r->status, r->body.len, r->request_id, k->err) : 0);
    }
}

/* Which token a round found expired (bits), each refreshed for its own audience. */
#define REFRESH_ARM 1
#define REFRESH_LOGS 2

/* Judges one attempt's outcome. Returns REFRESH_ARM or REFRESH_LOGS when the call needs a fresh
 * token, else 0. */
static int judge(struct arm_client *c, struct call *k, int hrc, const util_error *herr,
                 const struct http_response *r)
{
    if (hrc != 0) {
        long ignored;
        if (hrc == UTIL_ENET && strcmp(k->req->method, "POST") != 0 && schedule_retry(c, k, -1, &ignored) == 0)
            return 0;
        *k->err = *herr;
        finish(k, hrc);
        return 0;
    }
    if (r->status >= 200 && r->status < 300) {
        on_success(c, k, r);
        return 0;
    }
    if (r->status == 401 && !k->refreshed && arm_is_expired_token(r->body.data)) {
        k->refreshed = 1;
        k->attempts--;
        k->due_ms = util_monotonic_ms();
        return k->req->api == ARM_API_LOGS_QUERY ? REFRESH_LOGS : REFRESH_ARM;
    }
    long wait = -1;
    if (retriable_status(r->status) && schedule_retry(c, k, server_wait_ms(r), &wait) == 0)
        return 0;
    keep_answer(k, r);
    finish(k, arm_error_from_answer(c, k->req, r->status, r->body.data, r->request_id, k->attempts,
                                    util_monotonic_ms() - k->start_ms, k->err));
    if (wait >= 0)
        say_when_to_retry(k->err, wait);
    return 0;
}

static void build_http(const struct call *k, struct http_request *h, char **hdrs)
{
    memset(h, 0, sizeof *h);
    int polling = k->phase != PH_REQUEST;
    h->method = polling ? "GET" : k->req->method;
    h->url = k->url;
    h->headers[0] = hdrs[0];
    h->headers[1] = "Accept: application/json";
    size_t i = 2;
    if (!polling && k->body_text) {
        h->headers[i++] = "Content-Type: application/json";
        h->body = k->body_text;
        h->body_len = strlen(k->body_text);
    }
    if (!polling && hdrs[1])
        h->headers[i++] = hdrs[1];
}

static int sleep_until(struct arm_client *c, int64_t due)
{
    for (;;) {
        if (http_client_cancelled(c->http))
            return UTIL_ECANCELLED;
        int64_t left = due - util_monotonic_ms();
        if (left <= 0)
            return 0;
        platform_sleep_ms(left > ARM_SLEEP_SLICE_MS ? ARM_SLEEP_SLICE_MS : left);
    }
}

/* Sends every call that is due, concurrently. Returns the REFRESH_ bits of the tokens that
 * expired, -1 when out of memory. */
static int run_round(struct arm_client *c, struct call *ks, size_t n, char *const *auth_hdr)
{
    int64_t now = util_monotonic_ms();
    size_t m = 0;
    size_t *idx = calloc(n, sizeof *idx);
    struct http_request *hr = calloc(n, sizeof *hr);
    struct http_response *hs = calloc(n, sizeof *hs);
    int *rcs = calloc(n, sizeof *rcs);
    util_error *errs = calloc(n, sizeof *errs);
    char **ifm = calloc(n, sizeof *ifm);
    int refresh = -1;
    if (!idx || !hr || !hs || !rcs || !errs || !ifm)
        goto out;
    refresh = 0;
    for (size_t i = 0; i < n; i++) {
        if (ks[i].done || ks[i].due_ms > now)
            continue;
        ifm[m] = ks[i].req->if_match ? util_printf("If-Match: %s", ks[i].req->if_match) : NULL;
        char *hdrs[2] = {(char *)auth_hdr[ks[i].req->api == ARM_API_LOGS_QUERY], ifm[m]};
        build_http(&ks[i], &hr[m], hdrs);
        ks[i].attempts++;
        ks[i].res->attempts += ks[i].phase == PH_REQUEST;
        idx[m++] = i;
    }
    c->arm_requests += m;
    http_perform_batch(c->http, m, hr, hs, rcs, errs);
    for (size_t j = 0; j < m; j++) {
        refresh |= judge(c, &ks[idx[j]], rcs[j], &errs[j], &hs[j]);
        http_response_free(&hs[j]);
        free(ifm[j]);
    }
out:
    free(idx), free(hr), free(hs), free(rcs), free(errs), free(ifm);
    return refresh;
}

static int get_auth_header(struct arm_client *c, const char *scope, int force, char **hdr, util_error *err)
{
    const char *token = NULL;
    int rc = auth_get_token(c->cred, scope, force, &token, err);
    free(*hdr);
    *hdr = rc == 0 ? util_printf("Authorization: Bearer %s", token) : NULL;
    return rc;
}

static int64_t next_due(const struct call *ks, size_t n)
{
    int64_t due = INT64_MAX;
    for (size_t i = 0; i < n; i++)
        if (!ks[i].done && ks[i].due_ms < due)
            due = ks[i].due_ms;
    return due;
}

static void fail_pending(struct call *ks, size_t n, int rc, const util_error *e)
{
    for (size_t i = 0; i < n; i++)
        if (!ks[i].done) {
            *ks[i].err = *e;
            finish(&ks[i], rc);
        }
}

static void init_call(struct arm_client *c, struct call *k, const struct arm_request *req, struct arm_result *res,
                      util_error *err)
{
    memset(k, 0, sizeof *k);
    memset(res, 0, sizeof *res);
    util_error_clear(err);
    k->req = req;
    k->res = res;
    k->err = err;
    k->url = arm_url(c, req->path, req->api, req->query);
    k->body_text = req->body ? json_dumps(req->body, JSON_COMPACT) : NULL;
    k->start_ms = k->due_ms = util_monotonic_ms();
    if (req->api == ARM_API_LOGS_QUERY && !c->cfg->log_analytics_endpoint)
        finish(k, util_error_set(err, UTIL_ECONFIG, "AIGW_LOG_ANALYTICS_ENDPOINT is not set while "
                                 "AZURE_RESOURCE_MANAGER_ENDPOINT is overridden: the Logs query API is not called"));
    else if (req->api == ARM_API_LOGS_QUERY ? is_absolute(req->path) : is_absolute(req->path) && !same_origin(c, k->url))
        finish(k, util_error_set(err, UTIL_EINVAL, "refusing to send the ARM token to %s: it is not on the ARM "
                                 "endpoint %s", req->path, c->cfg->arm_endpoint));
    /* an ETag comes from the remote side: one with a control character would add a header */
    for (const char *p = req->if_match; p && *p && !k->done; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            finish(k, util_error_set(err, UTIL_EINVAL, "refusing to send %s %s: its ETag holds a control character",
                                     req->method, req->path));
}

int arm_batch(struct arm_client *c, size_t n, const struct arm_request *reqs, struct arm_result *results, int *rcs,
              util_error *errs)
{
    if (n == 0)
        return 0;
    struct call *ks = calloc(n, sizeof *ks);
    if (!ks)
        return UTIL_ENOMEM;
    for (size_t i = 0; i < n; i++)
        init_call(c, &ks[i], &reqs[i], &results[i], &errs[i]);
    char *auth_hdr[2] = {NULL, NULL}; /* ARM, Logs query API (only when a request goes there) */
    util_error e;
    util_error_clear(&e);
    int rc = get_auth_header(c, c->cfg->arm_scope, 0, &auth_hdr[0], &e);
    util_error le;
    util_error_clear(&le);
    int lrc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) /* a Logs query token failing fails only those requests */
        if (reqs[i].api == ARM_API_LOGS_QUERY && !ks[i].done) {
            if (!auth_hdr[1] && !lrc)
                lrc = get_auth_header(c, c->cfg->log_analytics_scope, 0, &auth_hdr[1], &le);
            if (lrc) {
                *ks[i].err = le;
                finish(&ks[i], lrc);
            }
        }
    while (rc == 0 && next_due(ks, n) != INT64_MAX) {
        if ((rc = sleep_until(c, next_due(ks, n))) != 0) {
            util_error_set(&e, rc, "the request was cancelled");
            break;
        }
        int round = run_round(c, ks, n, auth_hdr);
        if (round < 0)
            rc = util_error_set(&e, UTIL_ENOMEM, "out of memory sending ARM requests");
        else {
            if (round & REFRESH_ARM)
                rc = get_auth_header(c, c->cfg->arm_scope, 1, &auth_hdr[0], &e);
            if (rc == 0 && (round & REFRESH_LOGS))
                rc = get_auth_header(c, c->cfg->log_analytics_scope, 1, &auth_hdr[1], &e);
        }
    }
    if (rc)
        fail_pending(ks, n, rc, &e);
    int first = 0;
    for (size_t i = 0; i < n; i++) {
        rcs[i] = ks[i].rc;
        first = first ? first : ks[i].rc;
        free(ks[i].url);
        free(ks[i].body_text);
    }
    free(auth_hdr[0]);
    free(auth_hdr[1]);
    free(ks);
    return first;
}

int arm_call(struct arm_client *c, const struct arm_request *req, struct arm_result *res, util_error *err)
{
    int rc = 0;
    util_error e;
    arm_batch(c, 1, req, res, &rc, &e);
    if (err)
        *err = e;
    return rc;
}

/* ---- shorthands and paging ------------------------------------------------------------ */

static int call_simple(struct arm_client *c, const char *method, const char *path, json_t *body,
                       const char *if_match, struct arm_result *res, util_error *err)
{
    struct arm_request r = {.method = method, .path = path, .api = ARM_API_APIM, .body = body, .if_match = if_match};
    return arm_call(c, &r, res, err);
}

int arm_get(struct arm_client *c, const char *path, struct arm_result *res, util_error *err)
{
    return call_simple(c, "GET", path, NULL, NULL, res, err);
}

int arm_put(struct arm_client *c, const char *path, json_t *body, const char *if_match, struct arm_result *res,
            util_error *err)
{
    return call_simple(c, "PUT", path, body, if_match, res, err);
}

int arm_patch(struct arm_client *c, const char *path, json_t *body, const char *if_match, struct arm_result *res,
              util_error *err)
{
    return call_simple(c, "PATCH", path, body, if_match, res, err);
}

int arm_delete(struct arm_client *c, const char *path, const char *if_match, struct arm_result *res, util_error *err)
{
    return call_simple(c, "DELETE", path, NULL, if_match, res, err);
}

int arm_post(struct arm_client *c, const char *path, json_t *body, struct arm_result *res, util_error *err)
{
    return call_simple(c, "POST", path, body, NULL, res, err);
}

int arm_list(struct arm_client *c, const char *path, int api, const char *query, size_t max_items, json_t **items,
             util_error *err)
{
    size_t cap = max_items ? max_items : ARM_DEFAULT_MAX_ITEMS;
    json_t *all = json_array();
    char *next = NULL;
    int rc = 0;
    for (int page = 0; rc == 0; page++) {
        if (page == ARM_MAX_PAGES) {
            rc = util_error_set(err, UTIL_ELIMIT, "listing %s needed more than %d pages; narrow the request",
                                path, ARM_MAX_PAGES);
            break;
        }
        struct arm_request r = {.method = "GET", .path = next ? next : path, .api = api,
                                .query = next ? NULL : query};
        struct arm_result res;
        rc = arm_call(c, &r, &res, err);
        json_t *value = json_object_get(res.body, "value");
        if (rc == 0 && !json_is_array(value))
            rc = util_error_set(err, UTIL_EREMOTE, "listing %s answered without a \"value\" array; the answer cannot "
                                "be trusted, so it is not taken as an empty list", path);
        if (rc == 0 && json_array_size(all) + json_array_size(value) > cap)
            rc = util_error_set(err, UTIL_ELIMIT, "listing %s returned more than %zu items; narrow the request",
                                path, cap);
        if (rc == 0)
            json_array_extend(all, value);
        free(next);
        const char *link = json_string_value(json_object_get(res.body, "nextLink"));
        next = rc == 0 && link && *link ? util_strdup(link) : NULL;
        arm_result_free(&res);
        if (!next)
            break;
    }
    free(next);
    if (rc) {
        json_decref(all);
        all = NULL;
    }
    *items = all;
    return rc;
}
