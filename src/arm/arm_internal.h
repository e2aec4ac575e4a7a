/* arm_internal: the client's private state and what the arm module's files share — the error
 * sentences (arm_error.c) used by the engine (arm.c) and the doctor (arm_check.c). */
#ifndef AIGW_ARM_INTERNAL_H
#define AIGW_ARM_INTERNAL_H

#include <jansson.h>

#include "arm.h"
#include "auth.h"
#include "http.h"

struct arm_client {
    const struct config *cfg;
    struct http_client *http;
    struct auth_credential *cred;
    struct arm_retry_policy retry;
    atomic_ulong arm_requests; /* atomics: calls on several threads share the client */
    atomic_ulong retries;
};

/* True when a 401 body is ARM's ExpiredAuthenticationToken. */
int arm_is_expired_token(const char *body);

/* The error sentence for a final non-2xx answer (body: ARM's error envelope, or anything).
 * attempts/elapsed_ms say how hard we tried (for 429/5xx). Returns the util_code. */
int arm_error_from_answer(const struct arm_client *c, const struct arm_request *req, long status, const char *body,
                          const char *request_id, int attempts, long elapsed_ms, util_error *err);
/* A long-running operation that ended "Failed" or "Canceled" with this "error" object. */
int arm_error_from_json(const struct arm_client *c, const struct arm_request *req, json_t *error, util_error *err);
/* A 2xx answer whose body is not JSON (or a GET 200 without a body): an error, never "empty". */
int arm_error_unreadable(const struct arm_client *c, const struct arm_request *req, long status, size_t body_len,
                         const char *request_id, util_error *err);
/* A long-running operation that did not finish within the poll bound: err->http_status is 202
 * (the request WAS accepted; it may still complete). */
int arm_error_timeout(const struct arm_client *c, const struct arm_request *req, util_error *err);

#endif
