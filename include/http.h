/*
 * http: the one HTTP client of the program, over libcurl. A client holds a curl multi handle
 * (its connection cache gives one kept-alive connection per host, reused across calls) and a
 * share handle (DNS cache, TLS sessions). Every request goes through curl multi, so a single
 * request and a batch of N concurrent ones run the same code, and both stop when the cancel
 * flag is raised. It adds `User-Agent: azure-ai-gateway-mcp/<version>` and a fresh
 * `x-ms-client-request-id` to every request, offers HTTP/2 over TLS, takes proxies from the
 * usual environment (libcurl's default) and refuses plain http:// except for loopback hosts
 * (the one place where that rule is enforced). It knows nothing of Azure's JSON.
 *
 * Ownership: http_client_new() returns a client freed by http_client_free(). Requests borrow
 * every pointer they hold for the duration of the call. A response is filled by the call
 * and owns its body and header copies until http_response_free(); the caller provides the
 * struct (zeroed or not) and frees it after each call, success or failure.
 */
#ifndef AIGW_HTTP_H
#define AIGW_HTTP_H

#include <stdatomic.h>
#include <stddef.h>

#include "util.h"

#define HTTP_DEFAULT_MAX_BODY (16u * 1024u * 1024u) /* response body cap */
#define HTTP_DEFAULT_CONNECT_TIMEOUT_MS 10000
#define HTTP_DEFAULT_TIMEOUT_MS 60000
#define HTTP_MAX_HEADERS 16 /* extra request headers per request */

struct http_client;

struct http_request {
    const char *method;                       /* "GET", "PUT", "PATCH", "DELETE", "POST" */
    const char *url;                          /* https://..., or http:// on a loopback host */
    const char *headers[HTTP_MAX_HEADERS + 1];/* "Name: value" lines, NULL-terminated */
    const char *body;                         /* NULL = no body */
    size_t body_len;
    long connect_timeout_ms;                  /* 0 = HTTP_DEFAULT_CONNECT_TIMEOUT_MS */
    long timeout_ms;                          /* total; 0 = HTTP_DEFAULT_TIMEOUT_MS */
    size_t max_body;                          /* 0 = HTTP_DEFAULT_MAX_BODY */
    int allow_imds;                           /* 1: also allow http://169.254.169.254 (IMDS) */
    /* TLS hook (https only): called with libcurl's OpenSSL SSL_CTX before the handshake; it
     * installs its own check of the server's certificate (e.g. a pinned thumbprint), and the
     * host name is then not checked against the CA store's rules. Non-zero refuses. NULL = none. */
    int (*tls_setup)(void *ssl_ctx, void *user);
    void *tls_user;
};

struct http_response {
    long status;            /* 0 when no answer was received */
    util_buf body;          /* capped at the request's max_body */
    char *etag;             /* headers of interest, NULL when absent */
    char *retry_after;
    char *retry_after_ms;   /* retry-after-ms (milliseconds) */
    char *x_ms_retry_after_ms; /* x-ms-retry-after-ms (milliseconds) */
    char *request_id;       /* x-ms-request-id */
    char *location;
    char *async_operation;  /* Azure-AsyncOperation */
    char *content_type;
    char *date;             /* Date (the server's clock, RFC 7231 IMF-fixdate) */
    char client_request_id[37]; /* the x-ms-client-request-id we sent */
};

struct http_stats {
    unsigned long requests;        /* transfers started */
    unsigned long new_connections; /* connections opened (TCP, and TLS when https) */
};

/* ca_file: PEM bundle to verify servers with (SSL_CERT_FILE), or NULL for the system's. */
struct http_client *http_client_new(const char *ca_file, util_error *err);
void http_client_free(struct http_client *c);

/* The flag checked while requests are in flight and between retries: when *cancel becomes
 * non-zero, in-flight transfers are aborted with UTIL_ECANCELLED. NULL = never cancelled.
 * The pointer is borrowed until replaced. */
void http_client_set_cancel(struct http_client *c, const atomic_int *cancel);
int http_client_cancelled(const struct http_client *c);

void http_client_stats(const struct http_client *c, struct http_stats *out);

/* Performs one request. Returns 0 when an HTTP answer was received, whatever its status (the
 * caller judges it), else UTIL_ENET / UTIL_ELIMIT / UTIL_ECANCELLED / UTIL_EINVAL with err. */
int http_perform(struct http_client *c, const struct http_request *req, struct http_response *resp,
                 util_error *err);

/* Performs n independent requests concurrently. rcs[i] and errs[i] get each one's outcome as
 * http_perform would return it. Returns 0, or UTIL_ECANCELLED if the batch was cancelled. */
int http_perform_batch(struct http_client *c, size_t n, const struct http_request *reqs,
                       struct http_response *resps, int *rcs, util_error *errs);

void http_response_free(struct http_response *resp);

/* True when url may be requested: https://, or http:// on a loopback host (or the IMDS
 * address when allow_imds) — as libcurl's URL parser reads it, and never with user information
 * ("http://127.0.0.1:1@evil.example" is refused). */
int http_url_allowed(const char *url, int allow_imds);

#endif
