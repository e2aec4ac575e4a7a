/* registry: the list of tools the server offers and the tools context (config, lazily created
 * ARM client, see common.c). A tool is listed here only once it really works end to end. */
#include <stdlib.h>

#include "tools_internal.h"

static const struct mcp_tool *const all_tools[] = {
    /* TOOLS: one line per tool, e.g. &tools_list_apis, */
    &tools_list_apis,
    &tools_get_policy,
    &tools_apply_policy,
    &tools_revert_change,
    &tools_list_subscriptions,
    &tools_update_quota,
    &tools_get_backend_pool,
    &tools_update_backend_pool,
    &tools_get_metrics,
    NULL,
};

struct tools_ctx *tools_ctx_new(const struct config *cfg)
{
    struct tools_ctx *ctx = calloc(1, sizeof *ctx);
    if (ctx) {
        ctx->cfg = cfg;
        ctx->demo = cfg->demo;
    }
    return ctx;
}

void tools_ctx_free(struct tools_ctx *ctx)
{
    if (!ctx)
        return;
    arm_client_free(ctx->arm);
    free(ctx);
}

int tools_register_all(struct mcp_server *srv, struct tools_ctx *ctx, util_error *err)
{
    for (size_t i = 0; all_tools[i]; i++)
        if (mcp_server_add_tool(srv, all_tools[i], ctx, err) != 0)
            return UTIL_EINVAL;
    return tools_register_prompts(srv, ctx, err);
}
