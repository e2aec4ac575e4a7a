/* engine_entry: the engine's side of include/engine_api.h — aigw_engine_open, which checks that
 * the program is of the same build, and the engine's definitions of the logger, MCP call and
 * configuration functions, which forward to the program's through its host table (one logger, one secret
 * scrubber, one MCP server). Linked into aigw-engine only, never into the program or the tests. */
#include "engine_api.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools.h"

/* The build's version; the tests build an engine with another one (tests/CMakeLists.txt). */
#ifndef AIGW_ENGINE_BUILD_VERSION
#define AIGW_ENGINE_BUILD_VERSION AIGW_VERSION
#endif

static const struct aigw_engine_host *g_host;

static const struct aigw_engine_api g_api = {
    .abi = AIGW_ENGINE_ABI,
    .size = sizeof(struct aigw_engine_api),
    .version = AIGW_ENGINE_BUILD_VERSION,
    .ctx_new = tools_ctx_new,
    .ctx_free = tools_ctx_free,
    .call = tools_call,
    .check = tools_check,
};

AIGW_ENGINE_EXPORT const struct aigw_engine_api *aigw_engine_open(uint32_t abi, const char *version,
                                                                  const struct aigw_engine_host *host, char *why,
                                                                  size_t n)
{
    if (abi != AIGW_ENGINE_ABI || !version || strcmp(version, AIGW_ENGINE_BUILD_VERSION) != 0 || !host ||
        host->abi != AIGW_ENGINE_ABI || host->size != sizeof(struct aigw_engine_host)) {
        snprintf(why, n,
                 "the tools engine is version %s (interface %u) but the program is version %s (interface %u): they "
                 "come from different builds",
                 AIGW_ENGINE_BUILD_VERSION, AIGW_ENGINE_ABI, version ? version : "unknown", (unsigned)abi);
        return NULL;
    }
    g_host = host;
    return &g_api;
}

/* ---- the program's functions, as the engine's code calls them -------------------------- */

/* Formatted whole on the heap and handed over uncut: the program's side scrubs secrets first and
 * only then cuts, so no secret straddling a cut can leave its head behind. */
static char *format_whole(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static char *format_whole(const char *fmt, va_list ap)
{
    util_buf b;
    util_buf_init(&b, 0);
    if (util_buf_vprintf(&b, fmt, ap) != 0) {
        util_buf_free(&b);
        return NULL;
    }
    return util_buf_steal(&b);
}

void util_log(int level, const char *logger, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = format_whole(fmt, ap);
    va_end(ap);
    g_host->log(level, logger, "%s", msg ? msg : "(a log message could not be formatted)");
    free(msg);
}

void util_log_scrub(char *s) { g_host->log_scrub(s); }
void util_log_add_secret(const char *secret) { g_host->log_add_secret(secret); }
void util_log_add_token(const char *token) { g_host->log_add_token(token); }

bool mcp_call_cancelled(const struct mcp_call *call) { return g_host->call_cancelled(call); }
const atomic_int *mcp_call_cancel_flag(struct mcp_call *call) { return g_host->call_cancel_flag(call); }
bool mcp_call_commit(struct mcp_call *call) { return g_host->call_commit(call); }
void mcp_call_progress(struct mcp_call *call, double progress, double total, const char *message)
{
    g_host->call_progress(call, progress, total, message);
}
const char *mcp_call_protocol_version(const struct mcp_call *call) { return g_host->call_protocol_version(call); }
int mcp_call_stop_requested(const struct mcp_call *call) { return g_host->call_stop_requested(call); }
void mcp_call_hold_exit(struct mcp_call *call, bool hold) { g_host->call_hold_exit(call, hold); }
bool mcp_call_leave_lane(struct mcp_call *call) { return g_host->call_leave_lane(call); }
bool mcp_call_can_elicit(const struct mcp_call *call) { return g_host->call_can_elicit(call); }
enum mcp_elicit_action mcp_call_elicit(struct mcp_call *call, const char *message, json_t *requested_schema,
                                       json_t **content, util_error *err)
{
    return g_host->call_elicit(call, message, requested_schema, content, err);
}

json_t *mcp_result_ok(json_t *structured, const char *text) { return g_host->result_ok(structured, text); }

json_t *mcp_result_error(json_t *structured, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = format_whole(fmt, ap);
    va_end(ap);
    json_t *r = g_host->result_error(structured, "%s", text ? text : "(an error message could not be formatted)");
    free(text);
    return r;
}

int mcp_server_add_prompt(struct mcp_server *srv, const struct mcp_prompt *prompt, void *user, util_error *err)
{
    return g_host->server_add_prompt(srv, prompt, user, err);
}

int config_ready(const struct config *cfg, util_error *err) { return g_host->config_ready(cfg, err); }
bool config_is_loopback_url(const char *url) { return g_host->config_is_loopback_url(url); }
bool config_is_loopback_host(const char *host, size_t n) { return g_host->config_is_loopback_host(host, n); }
