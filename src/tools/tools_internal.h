/* tools_internal: what the tool files of src/tools/ share — the ARM client for a call, results
 * marked for demo mode, errors as tool results, policy scope paths. The change pipeline that
 * every write tool calls is declared in change.h. Private to src/tools/.
 *
 * Ownership: functions returning json_t * return NEW references; char * results are freed by
 * the caller with free(). */
#ifndef AIGW_TOOLS_INTERNAL_H
#define AIGW_TOOLS_INTERNAL_H

#include <jansson.h>

#include "arm.h"
#include "mcp.h"
#include "tools.h"

/* The ARM client wired to this call's cancel flag; NULL with err when not configured. */
struct arm_client *tools_call_arm(struct tools_ctx *ctx, struct mcp_call *call, util_error *err);

/* A successful result: structured (stolen) gets "simulated": true in demo mode, and text gets
 * a "[simulator] " prefix there, so no one mistakes the demo for production. */
json_t *tools_ok(const struct tools_ctx *ctx, json_t *structured, const char *text);

/* A tool error result (isError) from err: its sentence, WITHOUT structuredContent — the MCP SDK
 * client validates any structuredContent against the tool's outputSchema, errors included, so an
 * {error: ...} object there would turn every tool error into a client-side -32602. */
json_t *tools_fail(const struct tools_ctx *ctx, const util_error *err);

/* The ARM path (relative to the service) of the policy at a scope: "global" → "policies/policy",
 * "product" → "products/{product_id}/policies/policy", "api" → "apis/{api_id}/policies/policy",
 * "operation" → "apis/{api_id}/operations/{operation_id}/policies/policy". NULL with err when a
 * needed id is missing or contains a character that cannot be in an APIM id. */
char *tools_policy_path(const char *scope, const char *api_id, const char *product_id, const char *operation_id,
                        util_error *err);

/* Checks an APIM resource id given by the user (api, product, backend, operation, subscription):
 * 1..256 characters, not only dots ("." / ".." are path segments), none of '/', '?', '#', '%',
 * '&', ':', '*', '+', '\\', '<', '>', whitespace or control chars (the 2024-05-01 spec's
 * name pattern ^[^*#&+:<>?]+$, plus what would change a URL path). */
int tools_check_id(const char *what, const char *id, util_error *err);

/* The tools, one per file (src/tools/<name>.c), listed in registry.c once they work. */
extern const struct mcp_tool tools_list_apis, tools_get_policy, tools_apply_policy, tools_revert_change,
    tools_list_subscriptions, tools_update_quota, tools_get_backend_pool, tools_update_backend_pool,
    tools_get_metrics, tools_simulate_quota, tools_rehearse_failover;

#endif
