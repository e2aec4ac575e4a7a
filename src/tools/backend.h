/* backend: what get_backend_pool and update_backend_pool share — the pure part (duration and
 * status-code normalisation, URL / priority / weight checks, circuit breaker mapping between the
 * contract's shape and APIM's 2024-05-01 shape, credential-free views of a backend, model-version
 * warnings) and the read of an API's routing (API + policies, then the routed backend, then every
 * pool member concurrently). Private to src/tools/.
 *
 * Ownership: json_t * results are NEW references; json_t * arguments are borrowed. Strings
 * written into caller buffers are NUL-terminated; char * results are heap memory freed with
 * free(). A tools_backend_snapshot owns everything it points to; free it with tools_backend_snapshot_free().
 */
#ifndef AIGW_TOOLS_BACKEND_H
#define AIGW_TOOLS_BACKEND_H

#include <jansson.h>
#include <stdbool.h>

#include "tools_internal.h"

/* Ranges APIM 2024-05-01 accepts (definitions.json: BackendPoolItem priority / weight "Must be
 * between 0 and 100"; FailureStatusCodeRange min / max 200..599; circuitBreaker.rules max 15). */
#define BACKEND_PRIORITY_MAX 100
#define BACKEND_WEIGHT_MAX 100
#define BACKEND_STATUS_MIN 200
#define BACKEND_STATUS_MAX 599
#define BACKEND_STATUS_RANGES_MAX 10
#define BACKEND_FAILURE_COUNT_MAX 10000
#define BACKEND_DURATION_MAX_SEC 86400 /* a breaker window or trip longer than a day is a typo */
#define BACKEND_URL_MAX 2000
#define BACKEND_MEMBERS_MAX 64         /* pool members we read or write in one call */

/* "PT5M", "5m", "5 min", "5 minutes", "90s", "1h", "1 day" → canonical ISO 8601 ("PT5M").
 * 1 second .. BACKEND_DURATION_MAX_SEC. out needs >= 32 bytes. */
int tools_backend_duration_normalize(const char *what, const char *in, char *out, size_t n, util_error *err);

/* "429" → {429, 429}; "500-599" → {500, 599}; within BACKEND_STATUS_MIN..MAX, min <= max. */
int tools_backend_status_range_parse(const char *s, int *min, int *max, util_error *err);
/* {min, max} → "429" or "500-599". out needs >= 8 bytes. */
void tools_backend_status_range_format(int min, int max, char *out, size_t n);

/* An https:// URL with a host, no user info, no whitespace, at most BACKEND_URL_MAX chars. */
int tools_backend_check_url(const char *what, const char *url, util_error *err);
int tools_backend_check_priority(const char *backend_id, json_int_t priority, util_error *err);
int tools_backend_check_weight(const char *backend_id, json_int_t weight, util_error *err);

/* Contract circuit breaker {failure_count, failure_interval, trip_duration, status_codes?,
 * accept_retry_after?} → APIM {"rules": [{name: "<backend_id>-breaker", failureCondition: {count,
 * interval, statusCodeRanges}, tripDuration, acceptRetryAfter}]}, validated and normalised.
 * status_codes defaults to ["429", "500-599"], accept_retry_after to true. NULL with err. */
json_t *tools_backend_cb_to_apim(const char *backend_id, json_t *cb, util_error *err);
/* Gives apim_cb's rule the name and errorReasons of existing's first rule (the backend's
 * current circuitBreaker, may be NULL), so an update does not rename a rule. */
void tools_backend_cb_keep_identity(json_t *apim_cb, json_t *existing);
/* APIM circuitBreaker → contract shape (its first rule), or json null when there is none. */
json_t *tools_backend_cb_from_apim(json_t *circuit_breaker);

/* Which credentials a backend carries, by name only: {"header": [names], "query": [names],
 * "authorization": "present", "certificates": "present", "proxy_password": "present"} (keys only
 * when present), or json null. Registers every value as a secret so no log can show it. */
json_t *tools_backend_credentials_view(json_t *props);
/* The URL with every query value replaced by "***" (keys kept). */
char *tools_backend_url_redacted(const char *url);
/* The Azure OpenAI deployment name in a URL (".../deployments/NAME/..."), or NULL. */
char *tools_backend_url_deployment(const char *url);
/* Appends to warnings (array of strings) one sentence when the members (array of {backend_id,
 * url}) point at different deployments (model names or versions), as far as URLs show. */
void tools_backend_model_warnings(json_t *members, json_t *warnings);

/* The backend id at the end of a pool service id (".../backends/NAME"), or NULL. */
char *tools_backend_id_from_resource_id(const char *id);

/* ---- reading an API's routing ------------------------------------------------------------ */

struct tools_backend_snapshot {
    json_t *api;              /* the API resource */
    json_t *policy;           /* the API policy body, NULL when the API has none */
    char *policy_etag;
    char *backend_id;         /* the backend the policy routes to; NULL = service_url or dynamic */
    char *service_url;        /* the API's serviceUrl (or a base-url), when no backend id routes it */
    bool dynamic;             /* the backend id is an expression: not followed */
    bool from_global;         /* that routing comes from the global policy through <base /> */
    char *routing;            /* "api policy set-backend-service backend-id=X", "api serviceUrl" */
    json_t *target;           /* the routed backend's body, NULL when routed by serviceUrl */
    char *target_etag;
    bool is_pool;
    json_t *members;          /* object backend_id → {"body": body|null, "etag": str|null}: pool
                                 members and the extra ids asked for (null body = does not exist) */
    json_t *retry;            /* {count, interval, first_fast_retry, on_429, on_5xx, condition} or null */
    json_t *warnings;         /* array of strings */
};

/* Reads API api_id's routing in three round trips: (API, API policy, global policy) together,
 * then the routed backend, then every pool member and every id of extra (array of strings, may
 * be NULL) together. Fails when the API does not exist. */
int tools_backend_snapshot_read(struct arm_client *arm, const char *api_id, json_t *extra,
                                struct tools_backend_snapshot *s, util_error *err);
void tools_backend_snapshot_free(struct tools_backend_snapshot *s);
/* Requests independent of the routing that the caller wants sent along with the first round trip
 * (e.g. the Accounts_List of models.h): results land in res/rcs/errs (parallel arrays of n). */
struct tools_backend_along {
    size_t n;
    const struct arm_request *reqs;
    struct arm_result *res;
    int *rcs;
    util_error *errs;
};
/* tools_backend_snapshot_read, sending along's requests (may be NULL) with its first round trip. */
int tools_backend_snapshot_read_along(struct arm_client *arm, const char *api_id, json_t *extra,
                                      struct tools_backend_along *along, struct tools_backend_snapshot *s,
                                      util_error *err);
/* The pool's services array (borrowed), or NULL when the target is not a pool. */
json_t *tools_backend_snapshot_services(const struct tools_backend_snapshot *s);
/* The members in the contract's shape, in pool order (or the one routed backend, or the serviceUrl
 * as a member without backend_id); a pool member that does not exist adds a warning to s->warnings. */
json_t *tools_backend_snapshot_members(const struct tools_backend_snapshot *s);
/* One member in the contract's shape {backend_id, url, priority, weight, circuit_breaker,
 * credentials}: body is the backend (may be NULL), item its pool service entry (may be NULL). */
json_t *tools_backend_member_view(const char *backend_id, json_t *body, json_t *item);

#endif
