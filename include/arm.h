/*
 * arm: the Azure Resource Manager client every tool goes through. It owns the HTTP client and
 * the credential, builds URLs for the configured APIM service with the pinned api-versions (one
 * table, in arm.c), sends GET/PUT/PATCH/DELETE/POST with JSON bodies and If-Match, returns
 * ETags, follows nextLink, retries 408/429/500/502/503/504 and dropped connections with
 * exponential backoff and jitter, never before the server's wait (retry-after-ms,
 * x-ms-retry-after-ms, Retry-After; a wait beyond the budget ends the call saying when to
 * retry) (bounded attempts and total time), polls
 * Azure-AsyncOperation / Location after a 202, refreshes the token once on a 401 for an expired
 * token, runs independent requests concurrently, and turns ARM's error envelope into one
 * sentence (code, message, x-ms-request-id; for 403 the missing role).
 *
 * Paths (ARM_API_LOGS_QUERY: relative to the Logs query API's "{endpoint}/v1" instead; its
 * token is the Log Analytics audience's, cached like the ARM one): a path starting with "/" is an ARM path ("/subscriptions/..."); a path without a
 * leading "/" is relative to the configured APIM service ("apis/aoai/policies/policy"); an
 * "https://" (or loopback "http://") URL is used as given (nextLink, async operations).
 * api-version is added unless the URL already carries one.
 *
 * Ownership: arm_client_new() borrows cfg for the client's life. Requests borrow their
 * strings and body (the body is not stolen). An arm_result owns its body (a NEW jansson
 * reference, NULL when the answer had none) and strings; free it with arm_result_free()
 * after every call, success or failure. arm_list() returns a NEW array reference.
 */
#ifndef AIGW_ARM_H
#define AIGW_ARM_H

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "util.h"

/* The APIs behind ARM we call, each with its pinned api-version. */
enum arm_api {
    ARM_API_APIM = 0,     /* Microsoft.ApiManagement 2024-05-01 */
    ARM_API_METRICS,      /* Microsoft.Insights/metrics 2024-02-01 */
    ARM_API_DIAGNOSTICS,  /* Microsoft.Insights/diagnosticSettings 2021-05-01-preview */
    ARM_API_WORKSPACES,   /* Microsoft.OperationalInsights/workspaces 2025-07-01 */
    ARM_API_LOGS_QUERY,   /* not ARM: the Logs query API v1 (config log_analytics_endpoint, its own token
                           * audience, no api-version); path "/workspaces/{customerId}/query" */
    ARM_API_AUTHORIZATION, /* Microsoft.Authorization/permissions 2022-04-01 (--check) */
    ARM_API_COGNITIVE     /* Microsoft.CognitiveServices 2025-12-01 (accounts, deployments) */
};

struct arm_client;

struct arm_request {
    const char *method;   /* "GET", "PUT", "PATCH", "DELETE", "POST" */
    const char *path;     /* see above */
    int api;              /* enum arm_api */
    const char *query;    /* extra query, already encoded, without '?' (e.g. "$top=10"), or NULL */
    json_t *body;         /* borrowed; NULL = no body */
    const char *if_match; /* ETag to send as If-Match, or NULL */
};

struct arm_result {
    long status;          /* final HTTP status (after retries and polling) */
    json_t *body;         /* NEW reference, or NULL */
    char *etag;           /* ETag header (or body "etag"), or NULL */
    char *request_id;     /* x-ms-request-id of the last answer, or NULL */
    int attempts;         /* times the request itself was sent (retries included, polls not) */
    int64_t date;         /* the answer's Date header (the gateway's clock), epoch seconds; 0 = none */
};

struct arm_retry_policy {
    int max_attempts;       /* per request, including the first (default 6) */
    long max_total_ms;      /* give up once retrying would pass this (default 60000) */
    long base_delay_ms;     /* first backoff (default 800); doubled each time, with jitter */
    long max_delay_ms;      /* cap of one backoff; a longer server wait ends the call (default 30000) */
    long poll_max_ms;       /* bound of 202 polling (default 300000) */
};

struct arm_stats {
    unsigned long arm_requests;   /* HTTP requests sent to ARM, retries and polls included */
    unsigned long retries;        /* of those, retries */
    unsigned long token_requests; /* token requests (Entra, managed identity, az) */
    unsigned long new_connections;/* connections opened by the HTTP client */
};

/* Creates the client with its own HTTP client and credential. Fails with UTIL_ECONFIG when the
 * configuration is not ready (config_ready) or the credential cannot be chosen. */
struct arm_client *arm_client_new(const struct config *cfg, util_error *err);
void arm_client_free(struct arm_client *c);

/* The cancel flag of the current MCP call (see http_client_set_cancel); NULL = none. */
void arm_set_cancel(struct arm_client *c, const atomic_int *cancel);
void arm_set_retry_policy(struct arm_client *c, const struct arm_retry_policy *p);
void arm_get_stats(const struct arm_client *c, struct arm_stats *out);

const char *arm_api_version(int api);
/* Full URL of path (see above) with api-version and query. Caller frees. */
char *arm_url(const struct arm_client *c, const char *path, int api, const char *query);

/* One request. 2xx → 0 with result filled; otherwise an util_code with err's sentence
 * (UTIL_EFORBIDDEN, UTIL_ENOTFOUND, UTIL_ECONFLICT for 409/412, UTIL_ETHROTTLED, UTIL_EAUTH,
 * UTIL_EREMOTE, UTIL_ENET, UTIL_ECANCELLED) and err->http_status; result is filled as far
 * as known either way. */
int arm_call(struct arm_client *c, const struct arm_request *req, struct arm_result *res, util_error *err);

/* Shorthands for APIM paths. */
int arm_get(struct arm_client *c, const char *path, struct arm_result *res, util_error *err);
int arm_put(struct arm_client *c, const char *path, json_t *body, const char *if_match, struct arm_result *res,
            util_error *err);
int arm_patch(struct arm_client *c, const char *path, json_t *body, const char *if_match, struct arm_result *res,
              util_error *err);
int arm_delete(struct arm_client *c, const char *path, const char *if_match, struct arm_result *res,
               util_error *err);
int arm_post(struct arm_client *c, const char *path, json_t *body, struct arm_result *res, util_error *err);

/* GETs a collection and follows nextLink, collecting the "value" items into *items (NEW
 * array). Stops with UTIL_ELIMIT past max_items (0 = 10000) or 100 pages. */
int arm_list(struct arm_client *c, const char *path, int api, const char *query, size_t max_items, json_t **items,
             util_error *err);

/* Runs n independent requests concurrently (each with its own retries, and a Retry-After on
 * one does not hold back the others). rcs[i], results[i], errs[i] are each request's outcome
 * as arm_call would give it. The token is fetched once before the batch. Returns 0 when all
 * succeeded, else the first failing request's code. */
int arm_batch(struct arm_client *c, size_t n, const struct arm_request *reqs, struct arm_result *results, int *rcs,
              util_error *errs);

void arm_result_free(struct arm_result *res);

/* An HTTP Date header (RFC 7231 IMF-fixdate, "Mon, 30 Nov 2026 08:00:00 GMT") as epoch seconds;
 * 0 when it is not one. */
int64_t arm_parse_http_date(const char *s);

/* The doctor behind --check: gets a token, reads the APIM service, and reads (never writes)
 * the identity's rights on it: GET {service}/providers/Microsoft.Authorization/permissions
 * (Permissions_ListForResource), evaluated per tool family (read, write policies, write
 * backends, read metrics) with actions/notActions wildcards, warning when the identity holds
 * far more than the tools need. Appends a short human report to report (which credential, SKU
 * and region, rights, calls made). Returns 0 when all is well (missing rights are reported,
 * not failed), else the failing step's code with err. */
int arm_check(struct arm_client *c, util_buf *report, util_error *err);

#endif
