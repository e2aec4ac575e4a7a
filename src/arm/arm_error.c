/* arm_error: ARM's error envelope ({"error": {"code", "message", "details"}}) turned into one
 * sentence a human can act on — code, message, x-ms-request-id, and for 403 the missing role. */
#include <stdio.h>
#include <string.h>

#include "arm_internal.h"

#define DETAIL_MAX 3

/* What the request was about, for messages: "apis/x/policies/policy" or "the APIM service NAME".
 * Returns 1 when it is the service itself. */
static int describe(const struct arm_client *c, const struct arm_request *req, char *out, size_t n)
{
    const char *p = req->path;
    const char *ep = c->cfg->arm_endpoint, *sid = c->cfg->service_id;
    if (util_str_starts_with(p, ep))
        p += strlen(ep);
    if (sid && util_str_starts_with(p, sid) && (p[strlen(sid)] == '/' || p[strlen(sid)] == '\0' ||
                                                p[strlen(sid)] == '?'))
        p += strlen(sid) + (p[strlen(sid)] == '/');
    size_t len = strcspn(p, "?");
    if (len == 0)
        snprintf(out, n, "the APIM service %s", c->cfg->service_name ? c->cfg->service_name : "");
    else
        snprintf(out, n, "%.*s", (int)(len > 300 ? 300 : len), p);
    return len == 0;
}

static const char *missing_role(const struct arm_request *req)
{
    int read = strcmp(req->method, "GET") == 0;
    if (req->api == ARM_API_METRICS || req->api == ARM_API_DIAGNOSTICS)
        return read ? "Monitoring Reader" : "Monitoring Contributor";
    if (req->api == ARM_API_LOGS_QUERY || req->api == ARM_API_WORKSPACES)
        return "Log Analytics Reader";
    return read ? "Reader (or API Management Service Reader Role)" : "API Management Service Contributor";
}

/* "code: message (detail; detail)" from an error object. */
static void summarise(json_t *error, char *out, size_t n)
{
    const char *code = json_string_value(json_object_get(error, "code"));
    const char *msg = json_string_value(json_object_get(error, "message"));
    util_buf d;
    util_buf_init(&d, 600);
    json_t *details = json_object_get(error, "details");
    for (size_t i = 0; i < json_array_size(details) && i < DETAIL_MAX; i++) {
        json_t *x = json_array_get(details, i);
        const char *dm = json_string_value(json_object_get(x, "message"));
        const char *dt = json_string_value(json_object_get(x, "target"));
        if (dm)
            util_buf_printf(&d, "%s%s%s%s", d.len ? "; " : "", dt ? dt : "", dt ? ": " : "", dm);
    }
    snprintf(out, n, "%s%s%s%s%s%s", code ? code : "", code && msg ? ": " : "", msg ? msg : "", d.len ? " (" : "",
             d.len ? d.data : "", d.len ? ")" : "");
    util_buf_free(&d);
}

static int sentence(const struct arm_client *c, const struct arm_request *req, long status, const char *what,
                    const char *request_id, int attempts, long elapsed_ms, util_error *err)
{
    char target[320], rid[80] = "";
    int is_service = describe(c, req, target, sizeof target);
    if (request_id)
        snprintf(rid, sizeof rid, " [x-ms-request-id %.40s]", request_id);
    const char *w = what[0] ? what : "no details";
    int rc;
    if (status == 403)
        rc = util_error_set(err, UTIL_EFORBIDDEN, "%s %s was refused (403 %s); the identity needs the %s role on "
                            "the APIM service %s or its resource group%s", req->method, target, w, missing_role(req),
                            c->cfg->service_name, rid);
    else if (status == 404 && is_service)
        rc = util_error_set(err, UTIL_ENOTFOUND, "%s was not found (404 %s); check AZURE_SUBSCRIPTION_ID, "
                            "APIM_RESOURCE_GROUP and APIM_SERVICE_NAME%s", target, w, rid);
    else if (status == 404)
        rc = util_error_set(err, UTIL_ENOTFOUND, "%s was not found in the APIM service %s (404 %s)%s", target,
                            c->cfg->service_name, w, rid);
    else if (status == 412)
        rc = util_error_set(err, UTIL_ECONFLICT, "%s changed since it was read (412 %s); read it again and reapply "
                            "the change%s", target, w, rid);
    else if (status == 409)
        rc = util_error_set(err, UTIL_ECONFLICT, "%s %s conflicts with the current state (409 %s)%s", req->method,
                            target, w, rid);
    else if (status == 401)
        rc = util_error_set(err, UTIL_EAUTH, "ARM rejected the access token for %s %s (401 %s); check that "
                            "AZURE_TENANT_ID is the subscription's tenant%s", req->method, target, w, rid);
    else if (status == 429)
        rc = util_error_set(err, UTIL_ETHROTTLED, "ARM kept throttling %s %s (429 %s) after %d attempts over %.1f s; "
                            "wait a minute and try again%s", req->method, target, w, attempts, elapsed_ms / 1000.0,
                            rid);
    else if (status >= 500)
        rc = util_error_set(err, UTIL_EREMOTE, "ARM kept failing %s %s (HTTP %ld %s) after %d attempts over %.1f s; "
                            "try again later%s", req->method, target, status, w, attempts, elapsed_ms / 1000.0, rid);
    else
        rc = util_error_set(err, status == 400 ? UTIL_EINVAL : UTIL_EREMOTE, "%s %s was rejected (HTTP %ld %s)%s",
                            req->method, target, status, w, rid);
    if (err)
        err->http_status = (int)status;
    return rc;
}

int arm_error_from_json(const struct arm_client *c, const struct arm_request *req, json_t *error, util_error *err)
{
    char what[700], target[320];
    summarise(error, what, sizeof what);
    describe(c, req, target, sizeof target);
    return util_error_set(err, UTIL_EREMOTE, "%s %s was accepted but failed while it ran (%s); nothing more was "
                          "done, check the resource before retrying", req->method, target,
                          what[0] ? what : "no details");
}

int arm_error_from_answer(const struct arm_client *c, const struct arm_request *req, long status, const char *body,
                          const char *request_id, int attempts, long elapsed_ms, util_error *err)
{
    json_t *b = body ? json_loads(body, 0, NULL) : NULL;
    json_t *e = json_object_get(b, "error");
    char what[700];
    summarise(json_is_object(e) ? e : b, what, sizeof what);
    json_decref(b);
    return sentence(c, req, status, what, request_id, attempts, elapsed_ms, err);
}

int arm_error_timeout(const struct arm_client *c, const struct arm_request *req, util_error *err)
{
    char target[320];
    describe(c, req, target, sizeof target);
    int rc = util_error_set(err, UTIL_EREMOTE, "%s %s was accepted but had not finished after %ld s (it may still "
                            "complete); check the resource before retrying", req->method, target,
                            c->retry.poll_max_ms / 1000);
    if (err)
        err->http_status = 202;
    return rc;
}

int arm_error_unreadable(const struct arm_client *c, const struct arm_request *req, long status, size_t body_len,
                         const char *request_id, util_error *err)
{
    char target[320], rid[80] = "";
    describe(c, req, target, sizeof target);
    if (request_id)
        snprintf(rid, sizeof rid, " [x-ms-request-id %.40s]", request_id);
    int rc = util_error_set(err, UTIL_EREMOTE, "%s %s answered HTTP %ld with %s; the answer cannot be trusted, so "
                            "it is not taken as empty%s", req->method, target, status,
                            body_len ? "a body that is not valid JSON" : "no body", rid);
    if (err)
        err->http_status = (int)status;
    return rc;
}

int arm_is_expired_token(const char *body)
{
    json_t *b = body ? json_loads(body, 0, NULL) : NULL;
    const char *code = json_string_value(json_object_get(json_object_get(b, "error"), "code"));
    int expired = code && strcmp(code, "ExpiredAuthenticationToken") == 0;
    json_decref(b);
    return expired;
}
