/* arm_check: the doctor behind --check — which credential, a token, the APIM service's SKU and
 * region, and whether writes are allowed (a no-op PATCH that cannot pass its If-Match). */
#include <stdio.h>
#include <string.h>

#include "arm_internal.h"

/* An ETag no resource has: the PATCH is authorised (or not) by ARM, then refused by APIM's
 * precondition check (412), so nothing is ever changed. */
#define CHECK_NO_MATCH_ETAG "\"aigw-check-never-matches\""

static int check_token(struct arm_client *c, util_buf *report, util_error *err)
{
    const char *token = NULL;
    int rc = auth_get_token(c->cred, c->cfg->arm_scope, 0, &token, err);
    char who[512]; /* after the token: a chain settles on the credential that answered */
    auth_credential_describe(c->cred, who, sizeof who);
    util_buf_printf(report, "credential: %s — %s\n", auth_credential_name(c->cred), who);
    util_buf_printf(report, "token:      %s\n", rc ? "FAILED" : "ok");
    return rc;
}

static int check_service(struct arm_client *c, util_buf *report, util_error *err)
{
    struct arm_result res;
    int rc = arm_get(c, "", &res, err);
    if (rc == 0) {
        json_t *sku = json_object_get(res.body, "sku");
        const char *name = json_string_value(json_object_get(sku, "name"));
        json_int_t cap = json_integer_value(json_object_get(sku, "capacity"));
        const char *loc = json_string_value(json_object_get(res.body, "location"));
        util_buf_printf(report, "service:    %s (SKU %s, capacity %lld, region %s)\n", c->cfg->service_name,
                        name ? name : "unknown", (long long)cap, loc ? loc : "unknown");
    } else {
        util_buf_printf(report, "service:    %s — FAILED\n", c->cfg->service_name);
    }
    arm_result_free(&res);
    return rc;
}

static void check_writes(struct arm_client *c, util_buf *report)
{
    if (c->cfg->read_only) {
        util_buf_puts(report, "writes:     disabled (read-only mode)\n");
        return;
    }
    json_t *body = json_object();
    struct arm_result res;
    util_error e;
    int rc = arm_patch(c, "", body, CHECK_NO_MATCH_ETAG, &res, &e);
    json_decref(body);
    /* ARM authorises before the resource provider sees the request: any answer of APIM itself
     * (412 for the If-Match, 4xx for the empty body) means the write role is there */
    int st = rc ? e.http_status : 200;
    if (rc == UTIL_EFORBIDDEN)
        util_buf_puts(report, "writes:     NOT allowed — the write tools will fail; grant the API Management "
                              "Service Contributor role, or run with --read-only\n");
    else if (rc == 0 || (st >= 400 && st < 500 && st != 401 && st != 408 && st != 429))
        util_buf_puts(report, "writes:     allowed (the identity may change the APIM service)\n");
    else
        util_buf_printf(report, "writes:     unknown (%s)\n", e.message);
    arm_result_free(&res);
}

int arm_check(struct arm_client *c, util_buf *report, util_error *err)
{
    util_buf_printf(report, "ARM:        %s, APIM service %s\n", c->cfg->arm_endpoint, c->cfg->service_id);
    int rc = check_token(c, report, err);
    if (rc == 0)
        rc = check_service(c, report, err);
    if (rc == 0)
        check_writes(c, report);
    struct arm_stats st;
    arm_get_stats(c, &st);
    util_buf_printf(report, "calls:      %lu ARM request(s), %lu token request(s)\n", st.arm_requests,
                    st.token_requests);
    return rc;
}
