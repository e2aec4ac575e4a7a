/* common: helpers every tool uses — the lazily created ARM client, --check, results and errors,
 * policy scope paths and id checks (see tools_internal.h). */
#include <string.h>

#include "drill.h"
#include "tools_internal.h"

struct arm_client *tools_arm(struct tools_ctx *ctx, util_error *err)
{
    pthread_mutex_lock(&ctx->lock);
    if (!ctx->arm)
        ctx->arm = arm_client_new(ctx->cfg, err);
    struct arm_client *arm = ctx->arm;
    pthread_mutex_unlock(&ctx->lock);
    return arm;
}

struct arm_client *tools_call_arm(struct tools_ctx *ctx, struct mcp_call *call, util_error *err)
{
    struct arm_client *arm = tools_arm(ctx, err);
    if (arm)
        arm_set_cancel(arm, call ? mcp_call_cancel_flag(call) : NULL);
    return arm;
}

int tools_check(struct tools_ctx *ctx, util_buf *report, util_error *err)
{
    struct arm_client *arm = tools_arm(ctx, err);
    if (!arm)
        return err->code ? err->code : UTIL_ECONFIG;
    int rc = arm_check(arm, report, err);
    drill_check(ctx, arm, report); /* a drill a dead process left open is put back or reported */
    return rc;
}

json_t *tools_ok(const struct tools_ctx *ctx, json_t *structured, const char *text)
{
    if (!ctx->demo)
        return mcp_result_ok(structured, text);
    if (structured)
        json_object_set_new(structured, "simulated", json_true());
    char *marked = util_printf("[simulator] %s", text ? text : "");
    json_t *r = mcp_result_ok(structured, marked);
    free(marked);
    return r;
}

json_t *tools_fail(const struct tools_ctx *ctx, const util_error *err)
{
    const char *msg = err && err->message[0] ? err->message : "the tool failed without saying why";
    return mcp_result_error(NULL, "%s%s", ctx->demo ? "[simulator] " : "", msg);
}

int tools_check_id(const char *what, const char *id, util_error *err)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 256)
        return util_error_set(err, UTIL_EINVAL, "%s must be 1 to 256 characters long", what);
    /* "." and ".." are path segments, not names: a URL resolver would move the request to the
     * parent resource (".." as api_id would address the global policy) */
    if (strspn(id, ".") == n)
        return util_error_set(err, UTIL_EINVAL, "%s '%s' is made of dots only, which is not an API Management id; "
                              "use the id as list_apis or list_subscriptions shows it", what, id);
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        if (*p < 0x21 || *p == 0x7f || strchr("/?#%&:*+\\<>", *p))
            return util_error_set(err, UTIL_EINVAL,
                                  "%s '%s' contains '%c', which an API Management id cannot hold; use the id as "
                                  "list_apis or list_subscriptions shows it",
                                  what, id, *p < 0x21 ? ' ' : *p);
    }
    return 0;
}

char *tools_policy_path(const char *scope, const char *api_id, const char *product_id, const char *operation_id,
                        util_error *err)
{
    if (!scope || !strcmp(scope, "api")) {
        if (tools_check_id("api_id", api_id, err))
            return NULL;
        return util_printf("apis/%s/policies/policy", api_id);
    }
    if (!strcmp(scope, "global"))
        return util_strdup("policies/policy");
    if (!strcmp(scope, "product")) {
        if (!product_id) {
            util_error_set(err, UTIL_EINVAL, "scope 'product' needs product_id (see list_apis for each API's products)");
            return NULL;
        }
        if (tools_check_id("product_id", product_id, err))
            return NULL;
        return util_printf("products/%s/policies/policy", product_id);
    }
    if (!strcmp(scope, "operation")) {
        if (!operation_id) {
            util_error_set(err, UTIL_EINVAL, "scope 'operation' needs operation_id as well as api_id");
            return NULL;
        }
        if (tools_check_id("api_id", api_id, err) || tools_check_id("operation_id", operation_id, err))
            return NULL;
        return util_printf("apis/%s/operations/%s/policies/policy", api_id, operation_id);
    }
    util_error_set(err, UTIL_EINVAL, "scope must be one of api, product, operation, global; got '%s'", scope);
    return NULL;
}
