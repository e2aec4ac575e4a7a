/* engine: loads aigw-engine.so on first use and forwards tool calls and --check to it (see
 * include/engine.h). Part of the program, not of a library. */
#include "engine.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools.h"

#define ENGINE_FILE "aigw-engine.so"

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
    struct tools_ctx *(*ctx_new)(const struct config *);
    void (*ctx_free)(struct tools_ctx *);
    json_t *(*call)(struct tools_ctx *, const char *, struct mcp_call *, json_t *);
    int (*check)(struct tools_ctx *, util_buf *, util_error *);
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
        e->ctx_free(e->ctx);
    /* The engine stays mapped until the process ends: unloading libcurl, OpenSSL and libxml2
     * (with their exit handlers and thread-local state) just before exit gains nothing. */
    free(e);
}

/* The engine next to the program (build tree), else in the installed library folder. */
static void *open_engine(char *why, size_t n)
{
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    char *slash = len > 0 ? (self[len] = '\0', strrchr(self, '/')) : NULL;
    if (!slash) {
        snprintf(why, n, "cannot find the program's own folder (/proc/self/exe)");
        return NULL;
    }
    *slash = '\0';
    char *paths[2] = {util_printf("%s/" ENGINE_FILE, self), util_printf("%s/../" AIGW_ENGINE_RELDIR "/" ENGINE_FILE, self)};
    void *dl = NULL;
    for (int i = 0; i < 2 && !dl; i++) {
        dl = dlopen(paths[i], RTLD_NOW | RTLD_LOCAL);
        if (!dl && (i == 0 || access(paths[i], F_OK) == 0 || why[0] == '\0'))
            snprintf(why, n, "%s", dlerror());
    }
    free(paths[0]);
    free(paths[1]);
    return dl;
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
            *(void **)&e->ctx_new = dlsym(e->dl, "tools_ctx_new");
            *(void **)&e->ctx_free = dlsym(e->dl, "tools_ctx_free");
            *(void **)&e->call = dlsym(e->dl, "tools_call");
            *(void **)&e->check = dlsym(e->dl, "tools_check");
            if (e->ctx_new && e->ctx_free && e->call && e->check)
                e->ctx = e->ctx_new(e->cfg);
            else
                snprintf(why, sizeof why, "%s does not export the tools entry points", ENGINE_FILE);
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
    return t->engine->call(t->engine->ctx, t->name, call, args);
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
    return rc ? rc : e->check(e->ctx, report, err);
}
