/* apply_policy: replaces the policy at a scope (api, product, operation, global) with the given
 * XML through the change pipeline — checked locally first (errors with line and column, nothing
 * sent; warnings such as a section without <base /> are shown, not blocking), then read with its
 * ETag, diffed, confirmed, written with If-Match and journaled; APIM's own validation errors come
 * back one line per detail. */
#include <string.h>

#include "change.h"
#include "policy.h"

/* Local check: 0, or the first error with line/column. Warnings go to the change. */
static int check_locally(struct change *ch, const char *xml, util_error *err)
{
    json_t *report = NULL, *w;
    int rc = policy_check(xml, strlen(xml), &report, err);
    if (rc) {
        util_error_prefix(err, "the policy XML is not valid, nothing was sent");
    } else {
        size_t i;
        json_array_foreach(json_object_get(report, "warnings"), i, w)
            change_add_warning(ch, "line %lld, column %lld: %s", json_integer_value(json_object_get(w, "line")),
                               json_integer_value(json_object_get(w, "column")),
                               json_string_value(json_object_get(w, "message")));
    }
    json_decref(report);
    return rc;
}

static json_t *apply_policy(struct mcp_call *call, json_t *args, void *user)
{
    struct tools_ctx *ctx = user;
    util_error err = {0};
    const char *xml = json_string_value(json_object_get(args, "policy_xml"));
    const char *scope = json_string_value(json_object_get(args, "scope"));
    struct change *ch = change_new(ctx, call, "apply_policy", args);
    char *path = tools_policy_path(scope, json_string_value(json_object_get(args, "api_id")),
                                   json_string_value(json_object_get(args, "product_id")),
                                   json_string_value(json_object_get(args, "operation_id")), &err);
    struct arm_client *arm = path && !check_locally(ch, xml, &err) ? tools_call_arm(ctx, call, &err) : NULL;
    json_t *body = NULL;
    char *etag = NULL;
    if (!arm || change_read(arm, path, "format=rawxml", &body, &etag, &err)) {
        change_free(ch);
        free(path);
        return tools_fail(ctx, &err);
    }
    char *label = change_policy_label(path);
    json_t *after = change_policy_body(xml);
    int rc = change_add(ch, &(struct change_write){.path = path, .label = label, .read_query = "format=rawxml",
                                                   .before = body, .etag = etag, .after = after,
                                                   .before_text = change_policy_text(body), .after_text = xml},
                        &err);
    change_set_extra(ch, "scope", json_string(scope ? scope : "api"));
    change_set_extra(ch, "path", json_string(path));
    json_decref(after);
    json_decref(body);
    free(etag);
    free(label);
    free(path);
    if (rc) {
        change_free(ch);
        return tools_fail(ctx, &err);
    }
    return change_run(ch, json_is_true(json_object_get(args, "dry_run")));
}

const struct mcp_tool tools_apply_policy = {
    .name = "apply_policy",
    .title = "Apply a policy",
    .description = "Replaces the whole policy XML at a scope (api by default, product, operation, global), "
                   "checked locally first. Read it with get_policy, send the edited document.",
    .input_schema = "{\"type\":\"object\",\"properties\":{" CHANGE_POLICY_SCOPE_PROPS ",\"policy_xml\":{\"type\":"
                    "\"string\",\"maxLength\":1048576}," CHANGE_INPUT_DRY_RUN "},\"required\":"
                    "[\"api_id\",\"policy_xml\"],\"additionalProperties\":false}",
    .output_schema = "{\"type\":\"object\",\"properties\":{" CHANGE_OUTPUT_PROPERTIES "},\"required\":[" CHANGE_OUTPUT_REQUIRED "]}",
    .destructive_hint = true,
    .idempotent_hint = true,
    .writes = true,
    .fn = apply_policy,
};
