/* registry: the list of tools the server offers and the tools context (config, lazily created
 * ARM client, see common.c), and the engine's entry points (include/tools.h). A tool is listed
 * here only once it really works end to end. */
#include <stdlib.h>
#include <string.h>

#include "drill.h"
#include "policy.h"
#include "quota_scope.h"
#include "tools_internal.h"

static const struct mcp_tool *const all_tools[] = {
    /* TOOLS: one line per tool, e.g. &tools_list_apis, */
    &tools_list_apis,
    &tools_get_policy,
    &tools_apply_policy,
    &tools_revert_change,
    &tools_list_subscriptions,
    &tools_update_quota,
    &tools_simulate_quota,
    &tools_get_backend_pool,
    &tools_update_backend_pool,
    &tools_get_metrics,
    &tools_rehearse_failover,
    NULL,
};

struct tools_ctx *tools_ctx_new(const struct config *cfg)
{
    struct tools_ctx *ctx = calloc(1, sizeof *ctx);
    if (ctx) {
        ctx->cfg = cfg;
        ctx->demo = cfg->demo;
        pthread_mutex_init(&ctx->lock, NULL);
        pthread_mutexattr_t rec;
        pthread_mutexattr_init(&rec);
        pthread_mutexattr_settype(&rec, PTHREAD_MUTEX_RECURSIVE);
        pthread_mutex_init(&ctx->models_lock, &rec);
        pthread_mutexattr_destroy(&rec);
        ctx->drills = drill_state_new();
        /* before tool calls run on several threads: jansson's hash seed and libxml2's globals */
        json_object_seed(0);
        policy_init();
    }
    return ctx;
}

void tools_ctx_free(struct tools_ctx *ctx)
{
    if (!ctx)
        return;
    drill_state_free(ctx); /* puts back the left-over drills it holds: needs the ARM client */
    arm_client_free(ctx->arm);
    quota_scope_forget();
    pthread_mutex_destroy(&ctx->lock);
    pthread_mutex_destroy(&ctx->models_lock);
    json_decref(ctx->models);
    free(ctx);
}

const struct mcp_tool *const *tools_all(void) { return all_tools; }

json_t *tools_call(struct tools_ctx *ctx, const char *name, struct mcp_call *call, json_t *args)
{
    for (size_t i = 0; all_tools[i]; i++)
        if (strcmp(all_tools[i]->name, name) == 0) {
            drill_startup(ctx); /* the first call finds the drills a dead process left open */
            return drill_annotate(ctx, all_tools[i]->fn(call, args, ctx), NULL);
        }
    return mcp_result_error(NULL, "internal error: the engine has no tool '%s'; reinstall azure-ai-gateway-mcp", name);
}
