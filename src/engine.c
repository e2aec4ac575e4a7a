/* engine: loads aigw-engine.so (.dll) on first use through its one entry point
 * (include/engine_api.h), handing it the program's table of functions, and forwards tool calls
 * and --check to it (see include/engine.h). Part of the program, not of a library. */
#include "engine.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_api.h"
#include "platform.h"
#include "tools.h"

#define ENGINE_FILE AIGW_ENGINE_FILE /* aigw-engine.so, .dll on Windows (CMakeLists.txt) */

struct engine_tool {
    struct engine *engine;
    const char *name;
};

struct engine {
    const struct config *cfg;
    void *dl;
    struct tools_ctx *ctx;
    bool tried;
    char failure[UTIL_ERROR_MAX];
    const struct aigw_engine_api *api;
    struct engine_tool tools[];
};

struct engine *engine_new(const struct config *cfg)
{
    struct engine *e = calloc(1, sizeof *e + engine_catalog_len * sizeof(struct engine_tool));
    if (!e)
        return NULL;
    e->cfg = cfg;
    for (size_t i = 0; i < engine_catalog_len; i++)
        e->tools[i] = (struct engine_tool){e, engine_catalog[i].name};
    return e;
}

void engine_free(struct engine *e)
{
    if (!e)
        return;
    if (e->ctx)
        e->api->ctx_free(e->ctx);
    /* The engine stays mapped until the process ends: unloading libcurl, OpenSSL and libxml2
     * (with their exit handlers and thread-local state) just before exit gains nothing. */
    free(e);
}

/* The engine next to the program (build tree), else in the installed library folder. */
static void *open_engine(char *why, size_t n)
{
    char *self = platform_exe_dir();
    if (!self) {
        snprintf(why, n, "cannot find the program's own folder");
        return NULL;
    }
    char *paths[2] = {util_printf("%s/" ENGINE_FILE, self), util_printf("%s/../" AIGW_ENGINE_RELDIR "/" ENGINE_FILE, self)};
    free(self);
    void *dl = NULL;
    for (int i = 0; i < 2 && !dl; i++) {
        char msg[512] = "";
        dl = platform_module_open(paths[i], msg, sizeof msg);
        if (!dl && (i == 0 || platform_is_file(paths[i]) || why[0] == '\0'))
            snprintf(why, n, "%s", msg);
    }
    free(paths[0]);
    free(paths[1]);
    return dl;
}

/* The program's side of the contract: its own logger, scrubber and MCP functions. */
static const struct aigw_engine_host HOST = {
    .abi = AIGW_ENGINE_ABI,
    .size = sizeof(struct aigw_engine_host),
    .version = AIGW_VERSION,
    .log = util_log,
    .log_scrub = util_log_scrub,
    .log_add_secret = util_log_add_secret,
    .log_add_token = util_log_add_token,
    .call_cancelled = mcp_call_cancelled,
    .call_cancel_flag = mcp_call_cancel_flag,
    .call_commit = mcp_call_commit,
    .call_progress = mcp_call_progress,
    .call_protocol_version = mcp_call_protocol_version,
    .call_stop_requested = mcp_call_stop_requested,
    .call_hold_exit = mcp_call_hold_exit,
    .call_leave_lane = mcp_call_leave_lane,
    .call_can_elicit = mcp_call_can_elicit,
    .call_elicit = mcp_call_elicit,
    .result_ok = mcp_result_ok,
    .result_error = mcp_result_error,
    .server_add_prompt = mcp_server_add_prompt,
    .config_ready = config_ready,
    .config_is_loopback_url = config_is_loopback_url,
    .config_is_loopback_host = config_is_loopback_host,
};

/* The engine's table, or NULL with why filled. */
static const struct aigw_engine_api *open_api(void *dl, char *why, size_t n)
{
    aigw_engine_open_fn open_fn;
    *(void **)&open_fn = platform_module_symbol(dl, AIGW_ENGINE_ENTRY);
    if (!open_fn) {
        snprintf(why, n, "%s does not export %s: it is not an engine of this program, or of an older build",
                 ENGINE_FILE, AIGW_ENGINE_ENTRY);
        return NULL;
    }
    const struct aigw_engine_api *api = open_fn(AIGW_ENGINE_ABI, AIGW_VERSION, &HOST, why, n);
    if (api && (api->abi != AIGW_ENGINE_ABI || api->size != sizeof *api || !api->version ||
                strcmp(api->version, AIGW_VERSION) != 0)) {
        snprintf(why, n, "the tools engine is version %s (interface %u) but the program is version %s (interface %u)",
                 api->version ? api->version : "unknown", (unsigned)api->abi, AIGW_VERSION, AIGW_ENGINE_ABI);
        return NULL;
    }
    if (!api && !why[0])
        snprintf(why, n, "%s refused this program", ENGINE_FILE);
    return api;
}

static int load_locked(struct engine *e, util_error *err)
{
    if (e->ctx)
        return 0;
    if (!e->tried) {
        e->tried = true;
        char why[512] = "";
        e->dl = open_engine(why, sizeof why);
        if (e->dl) {
            why[0] = '\0';
            e->api = open_api(e->dl, why, sizeof why);
            if (e->api)
                e->ctx = e->api->ctx_new(e->cfg);
        }
        if (!e->ctx)
            snprintf(e->failure, sizeof e->failure,
                     "the tools engine could not be loaded (%s); reinstall azure-ai-gateway-mcp so that %s is "
                     "next to the program or in its library folder",
                     why, ENGINE_FILE);
        else
            LOG_DEBUG("engine", "loaded %s", ENGINE_FILE);
    }
    return e->ctx ? 0 : util_error_set(err, UTIL_EINTERNAL, "%s", e->failure);
}

/* Tool calls run on several threads: the first ones may arrive together. */
static int load(struct engine *e, util_error *err)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&lock);
    int rc = load_locked(e, err);
    pthread_mutex_unlock(&lock);
    return rc;
}

json_t *engine_trampoline(struct mcp_call *call, json_t *args, void *user)
{
    struct engine_tool *t = user;
    util_error err;
    util_error_clear(&err);
    if (load(t->engine, &err) != 0)
        return mcp_result_error(NULL, "%s", err.message);
    return t->engine->api->call(t->engine->ctx, t->name, call, args);
}

int engine_register(struct engine *e, struct mcp_server *srv, util_error *err)
{
    for (size_t i = 0; i < engine_catalog_len; i++)
        if (mcp_server_add_tool(srv, &engine_catalog[i], &e->tools[i], err) != 0)
            return UTIL_EINVAL;
    return tools_register_prompts(srv, err);
}

int engine_check(struct engine *e, util_buf *report, util_error *err)
{
    int rc = load(e, err);
    return rc ? rc : e->api->check(e->ctx, report, err);
}
