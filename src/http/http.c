/* http: the libcurl client (see include/http.h) — multi + share handles, request setup,
 * response capture with caps, the loopback-only rule for plain http, concurrent batches and
 * cancellation. */
#include "http.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "platform.h"

#define HTTP_HEADER_VALUE_MAX 8192
#define HTTP_POLL_MS 100
#define HTTP_IDLE_MULTIS 16 /* multi handles (each with its kept-alive connections) kept between calls */

/* Threads: any number of threads may perform requests on one client at once. Each call takes a
 * multi handle from the client's idle stack (or makes one) and gives it back after, so a multi
 * handle (and the connections in its cache) is used by one thread at a time, as libcurl requires;
 * one thread calling again and again gets the same one back (one kept-alive connection). The
 * share handle (DNS cache, TLS sessions) is locked per data kind; stats and the stack are under
 * `lock`; the cancel flag belongs to the calling thread. */
struct http_client {
    CURLSH *share;
    pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
    char *ca_file;
    pthread_mutex_t lock;
    CURLM *idle[HTTP_IDLE_MULTIS];
    size_t n_idle;
    struct http_stats stats;
};

/* The cancel flag of the calling thread, for one client. */
static _Thread_local struct {
    const struct http_client *client;
    const atomic_int *flag;
} tl_cancel;

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *user)
{
    (void)h, (void)access;
    pthread_mutex_lock(&((struct http_client *)user)->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *user)
{
    (void)h;
    pthread_mutex_unlock(&((struct http_client *)user)->share_locks[data]);
}

static CURLM *multi_take(struct http_client *c)
{
    pthread_mutex_lock(&c->lock);
    CURLM *m = c->n_idle ? c->idle[--c->n_idle] : NULL;
    pthread_mutex_unlock(&c->lock);
    if (!m && (m = curl_multi_init()) != NULL)
        curl_multi_setopt(m, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    return m;
}

static void multi_give(struct http_client *c, CURLM *m)
{
    pthread_mutex_lock(&c->lock);
    if (c->n_idle < HTTP_IDLE_MULTIS) {
        c->idle[c->n_idle++] = m;
        m = NULL;
    }
    pthread_mutex_unlock(&c->lock);
    if (m)
        curl_multi_cleanup(m);
}

/* One transfer in flight: its easy handle and what it writes into. */
struct transfer {
    CURL *easy;
    int (*tls_setup)(void *ssl_ctx, void *user);
    void *tls_user;
    struct curl_slist *headers;
    struct http_response *resp;
    size_t max_body;
    int over_limit;
    int done;
    CURLcode result;
    char errbuf[CURL_ERROR_SIZE];
};

struct http_client *http_client_new(const char *ca_file, util_error *err)
{
    /* reference-counted by libcurl (thread-safe since 7.84); undone in http_client_free */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        util_error_set(err, UTIL_EINTERNAL, "libcurl could not be initialised");
        return NULL;
    }
    struct http_client *c = calloc(1, sizeof *c);
    if (!c) {
        curl_global_cleanup();
        util_error_set(err, UTIL_ENOMEM, "out of memory creating the HTTP client");
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&c->share_locks[i], NULL);
    c->share = curl_share_init();
    if (!c->share) {
        http_client_free(c);
        util_error_set(err, UTIL_EINTERNAL, "libcurl could not create its handles");
        return NULL;
    }
    curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    c->ca_file = util_strdup(ca_file);
    return c;
}

void http_client_free(struct http_client *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_idle; i++)
        curl_multi_cleanup(c->idle[i]);
    if (c->share)
        curl_share_cleanup(c->share);
    pthread_mutex_destroy(&c->lock);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&c->share_locks[i]);
    if (tl_cancel.client == c)
        tl_cancel.client = NULL, tl_cancel.flag = NULL;
    free(c->ca_file);
    free(c);
    curl_global_cleanup();
}

void http_client_set_cancel(struct http_client *c, const atomic_int *cancel)
{
    tl_cancel.client = c;
    tl_cancel.flag = cancel;
}

int http_client_cancelled(const struct http_client *c)
{
    return tl_cancel.client == c && tl_cancel.flag && atomic_load(tl_cancel.flag);
}

void http_client_stats(const struct http_client *c, struct http_stats *out)
{
    pthread_mutex_lock((pthread_mutex_t *)&c->lock);
    *out = c->stats;
    pthread_mutex_unlock((pthread_mutex_t *)&c->lock);
}

static void clear_headers(struct http_response *r)
{
    char **slots[] = {&r->etag,     &r->retry_after,     &r->retry_after_ms, &r->x_ms_retry_after_ms,
                      &r->request_id, &r->location, &r->async_operation, &r->content_type, &r->date};
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
        free(*slots[i]);
        *slots[i] = NULL;
    }
}

void http_response_free(struct http_response *resp)
{
    if (!resp)
        return;
    util_buf_free(&resp->body);
    clear_headers(resp);
    resp->status = 0;
}

int http_url_allowed(const char *url, int allow_imds)
{
    /* parsed by libcurl itself, so the host judged is the host connected to */
    CURLU *u = url ? curl_url() : NULL;
    char *scheme = NULL, *host = NULL, *user = NULL, *password = NULL, *port = NULL;
    int ok = 0;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_NO_USER &&
        curl_url_get(u, CURLUPART_PASSWORD, &password, 0) == CURLUE_NO_PASSWORD) {
        int has_port = curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK;
        if (strcmp(scheme, "https") == 0)
            ok = 1;
        else if (strcmp(scheme, "http") == 0)
            ok = config_is_loopback_host(host, strlen(host)) ||
                 (allow_imds && !has_port && strcmp(host, "169.254.169.254") == 0);
    }
    curl_free(scheme), curl_free(host), curl_free(user), curl_free(password), curl_free(port);
    curl_url_cleanup(u);
    return ok;
}

/* ---- callbacks ------------------------------------------------------------------------ */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *user)
{
    struct transfer *t = user;
    size_t n = size * nmemb;
    util_buf *b = &t->resp->body;
    if (b->len + n > t->max_body) {
        t->over_limit = 1;
        return 0;
    }
    return util_buf_append(b, ptr, n) == 0 ? n : 0;
}

static char *header_value(const char *line, size_t len, const char *name)
{
    size_t nl = strlen(name);
    if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return NULL;
    const char *v = line + nl + 1;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    if ((size_t)(end - v) > HTTP_HEADER_VALUE_MAX)
        return NULL;
    return util_strndup(v, (size_t)(end - v));
}

static void keep_header(char **slot, const char *line, size_t len, const char *name)
{
    char *v = header_value(line, len, name);
    if (v) {
        free(*slot);
        *slot = v;
    }
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *user)
{
    struct transfer *t = user;
    struct http_response *r = t->resp;
    size_t len = size * nmemb;
    if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* a new response head (after 100 Continue): forget the previous one's headers */
        util_buf_reset(&r->body);
        clear_headers(r);
        return len;
    }
    keep_header(&r->etag, line, len, "ETag");
    keep_header(&r->retry_after, line, len, "Retry-After");
    keep_header(&r->retry_after_ms, line, len, "retry-after-ms");
    keep_header(&r->x_ms_retry_after_ms, line, len, "x-ms-retry-after-ms");
    keep_header(&r->request_id, line, len, "x-ms-request-id");
    keep_header(&r->location, line, len, "Location");
    keep_header(&r->async_operation, line, len, "Azure-AsyncOperation");
    keep_header(&r->content_type, line, len, "Content-Type");
    keep_header(&r->date, line, len, "Date");
    return len;
}

/* ---- transfer setup ------------------------------------------------------------------- */

static CURLcode on_ssl_ctx(CURL *easy, void *ssl_ctx, void *user)
{
    (void)easy;
    const struct transfer *t = user;
    return t->tls_setup(ssl_ctx, t->tls_user) == 0 ? CURLE_OK : CURLE_SSL_CERTPROBLEM;
}

static int setup_headers(struct transfer *t, const struct http_request *req)
{
    char line[80];
    snprintf(line, sizeof line, "x-ms-client-request-id: %s", t->resp->client_request_id);
    struct curl_slist *h = curl_slist_append(NULL, line);
    for (size_t i = 0; h && i < HTTP_MAX_HEADERS && req->headers[i]; i++) {
        struct curl_slist *n = curl_slist_append(h, req->headers[i]);
        if (!n) {
            curl_slist_free_all(h);
            return UTIL_ENOMEM;
        }
        h = n;
    }
    /* no "Expect: 100-continue" round trip for bodies */
    struct curl_slist *n = h ? curl_slist_append(h, "Expect:") : NULL;
    if (!n) {
        curl_slist_free_all(h);
        return UTIL_ENOMEM;
    }
    t->headers = n;
    return 0;
}

static int transfer_setup(struct http_client *c, struct transfer *t, const struct http_request *req,
                          struct http_response *resp, util_error *err)
{
    memset(t, 0, sizeof *t);
    memset(resp, 0, sizeof *resp);
    t->resp = resp;
    t->max_body = req->max_body ? req->max_body : HTTP_DEFAULT_MAX_BODY;
    util_buf_init(&resp->body, t->max_body);
    util_uuid4(resp->client_request_id);
    if (!req->method || !http_url_allowed(req->url, req->allow_imds))
        return util_error_set(err, UTIL_EINVAL,
                              "refusing to send a request to %s: only https:// URLs are allowed "
                              "(plain http:// only on a loopback host such as 127.0.0.1)",
                              req->url ? req->url : "(no URL)");
    if (setup_headers(t, req) != 0 || !(t->easy = curl_easy_init()))
        return util_error_set(err, UTIL_ENOMEM, "out of memory preparing an HTTP request");
    CURL *e = t->easy;
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    /* the path is sent as built: no "/../" or "/./" folding, so no id can move a request elsewhere */
    curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
    if (strcmp(req->method, "GET") == 0)
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    if (req->body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body);
    } else if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "DELETE") != 0) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "azure-ai-gateway-mcp/" AIGW_VERSION);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     req->connect_timeout_ms ? req->connect_timeout_ms : (long)HTTP_DEFAULT_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms ? req->timeout_ms : (long)HTTP_DEFAULT_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, req->tls_setup ? 0L : 2L);
    if (req->tls_setup) { /* the hook's own certificate check decides (a pinned thumbprint) */
        t->tls_setup = req->tls_setup;
        t->tls_user = req->tls_user;
        curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
        curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, t);
        curl_easy_setopt(e, CURLOPT_SSL_SESSIONID_CACHE, 0L); /* a resumed session would skip it */
    }
    if (c->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
    else if (platform_tls_system_store()) /* Windows: its certificate store, not a CA file */
        curl_easy_setopt(e, CURLOPT_SSL_OPTIONS, (long)CURLSSLOPT_NATIVE_CA);
    curl_easy_setopt(e, CURLOPT_SHARE, c->share);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    return 0;
}

/* Host part of a URL for messages (never the query, which could carry a secret). */
static void url_origin(const char *url, char *out, size_t n)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t len = strcspn(p, "/?#");
    snprintf(out, n, "%.*s", (int)len, p);
}

static int transfer_finish(struct http_client *c, struct transfer *t, const char *method, const char *url,
                           int run_rc, const char *run_why, util_error *err)
{
    long status = 0;
    long connects = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(t->easy, CURLINFO_NUM_CONNECTS, &connects);
    pthread_mutex_lock(&c->lock);
    c->stats.new_connections += (unsigned long)connects;
    pthread_mutex_unlock(&c->lock);
    t->resp->status = status;
    char origin[256];
    url_origin(url, origin, sizeof origin);
    if (t->over_limit)
        return util_error_set(err, UTIL_ELIMIT, "the answer of %s %s exceeded the %zu bytes allowed",
                              method, origin, t->max_body);
    if (!t->done && run_rc == UTIL_ECANCELLED)
        return util_error_set(err, UTIL_ECANCELLED, "%s %s was cancelled", method, origin);
    if (!t->done)
        return util_error_set(err, UTIL_ENET, "%s %s failed: the HTTP engine stopped (%s); it may or may not have "
                              "reached the server", method, origin, run_why);
    if (t->result != CURLE_OK) {
        int timeout = t->result == CURLE_OPERATION_TIMEDOUT;
        return util_error_set(err, UTIL_ENET, "%s %s failed: %s%s", method, origin,
                              t->errbuf[0] ? t->errbuf : curl_easy_strerror(t->result),
                              timeout ? " (timed out; check the network or proxy settings)" : "");
    }
    LOG_DEBUG("http", "%s %s -> %ld (client request id %s, request id %s)", method, origin, status,
              t->resp->client_request_id, t->resp->request_id ? t->resp->request_id : "-");
    return 0;
}

static void transfer_cleanup(CURLM *multi, struct transfer *t)
{
    if (t->easy) {
        curl_multi_remove_handle(multi, t->easy);
        curl_easy_cleanup(t->easy);
    }
    curl_slist_free_all(t->headers);
}

/* ---- the multi loop ------------------------------------------------------------------- */

static void collect_done(CURLM *multi)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct transfer *t = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        t->done = 1;
        t->result = msg->data.result;
    }
}

/* Runs every added transfer to completion or cancellation. Returns 0, UTIL_ECANCELLED, or
 * UTIL_ENET when libcurl's multi engine itself failed (*why says how); transfers not done then
 * failed, they were not cancelled. */
static int run_multi(struct http_client *c, CURLM *multi, const char **why)
{
    int running = 1, rc = 0;
    CURLMcode mc = CURLM_OK;
    while (running && rc == 0) {
        if (http_client_cancelled(c))
            return UTIL_ECANCELLED;
        if ((mc = curl_multi_perform(multi, &running)) != CURLM_OK)
            rc = UTIL_ENET;
        collect_done(multi);
        if (rc == 0 && running && (mc = curl_multi_poll(multi, NULL, 0, HTTP_POLL_MS, NULL)) != CURLM_OK)
            rc = UTIL_ENET;
    }
    collect_done(multi);
    *why = curl_multi_strerror(mc);
    return rc;
}

int http_perform_batch(struct http_client *c, size_t n, const struct http_request *reqs,
                       struct http_response *resps, int *rcs, util_error *errs)
{
    struct transfer *ts = calloc(n ? n : 1, sizeof *ts);
    CURLM *multi = ts ? multi_take(c) : NULL;
    if (!ts || !multi) {
        free(ts);
        for (size_t i = 0; i < n; i++)
            rcs[i] = util_error_set(&errs[i], UTIL_ENOMEM, "out of memory starting HTTP requests");
        return UTIL_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        util_error_clear(&errs[i]);
        rcs[i] = transfer_setup(c, &ts[i], &reqs[i], &resps[i], &errs[i]);
        if (rcs[i] == 0) {
            curl_multi_add_handle(multi, ts[i].easy);
            pthread_mutex_lock(&c->lock);
            c->stats.requests++;
            pthread_mutex_unlock(&c->lock);
        }
    }
    const char *why = "";
    int rc = run_multi(c, multi, &why);
    for (size_t i = 0; i < n; i++) {
        if (rcs[i] == 0)
            rcs[i] = transfer_finish(c, &ts[i], reqs[i].method, reqs[i].url, rc, why, &errs[i]);
        transfer_cleanup(multi, &ts[i]);
    }
    multi_give(c, multi);
    free(ts);
    return rc;
}

int http_perform(struct http_client *c, const struct http_request *req, struct http_response *resp,
                 util_error *err)
{
    int rc = 0;
    util_error e;
    http_perform_batch(c, 1, req, resp, &rc, &e);
    if (rc && err)
        *err = e;
    return rc;
}
