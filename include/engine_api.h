/*
 * engine_api: the contract between the program (azure-ai-gateway-mcp) and its tools engine
 * (aigw-engine.so / .dll, see include/engine.h). The engine exports one symbol,
 * aigw_engine_open; the program passes it the interface number and version it was built with and
 * a table of its own functions (the one logger and secret scrubber, the MCP call context, the
 * result builders, the configuration checks), and gets back the engine's table. Every other
 * symbol of the engine is hidden, and the engine resolves nothing from the program by name: it
 * links its own copies of the pure utilities (util without the logger, platform) and reaches the
 * program only through the host table.
 *
 * A program and an engine of different builds refuse each other with a sentence naming both
 * versions. Bump AIGW_ENGINE_ABI whenever a table below, or a type passed through it, changes.
 *
 * Ownership: both tables are static and outlive every call; the functions keep the ownership
 * rules of their declarations (include/util.h, include/mcp.h, include/tools.h).
 */
#ifndef AIGW_ENGINE_API_H
#define AIGW_ENGINE_API_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "mcp.h"
#include "util.h"

#define AIGW_ENGINE_ABI 2u
#define AIGW_ENGINE_ENTRY "aigw_engine_open"

#if defined(_WIN32)
#define AIGW_ENGINE_EXPORT __declspec(dllexport)
#else
#define AIGW_ENGINE_EXPORT __attribute__((visibility("default")))
#endif

struct tools_ctx;

/* The program's functions the engine uses (same signatures as their declarations). */
struct aigw_engine_host {
    uint32_t abi;        /* AIGW_ENGINE_ABI */
    uint32_t size;       /* sizeof(struct aigw_engine_host) */
    const char *version; /* AIGW_VERSION */
    void (*log)(int level, const char *logger, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
    void (*log_scrub)(char *s);
    void (*log_add_secret)(const char *secret);
    void (*log_add_token)(const char *token);
    bool (*call_cancelled)(const struct mcp_call *call);
    const atomic_int *(*call_cancel_flag)(struct mcp_call *call);
    bool (*call_commit)(struct mcp_call *call);
    void (*call_progress)(struct mcp_call *call, double progress, double total, const char *message);
    const char *(*call_protocol_version)(const struct mcp_call *call);
    int (*call_stop_requested)(const struct mcp_call *call);
    void (*call_hold_exit)(struct mcp_call *call, bool hold);
    bool (*call_leave_lane)(struct mcp_call *call);
    bool (*call_can_elicit)(const struct mcp_call *call);
    enum mcp_elicit_action (*call_elicit)(struct mcp_call *call, const char *message, json_t *requested_schema,
                                          json_t **content, util_error *err);
    json_t *(*result_ok)(json_t *structured, const char *text);
    json_t *(*result_error)(json_t *structured, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
    int (*server_add_prompt)(struct mcp_server *srv, const struct mcp_prompt *prompt, void *user, util_error *err);
    int (*config_ready)(const struct config *cfg, util_error *err);
    bool (*config_is_loopback_url)(const char *url);
    bool (*config_is_loopback_host)(const char *host, size_t n);
};

/* The engine's entry points (include/tools.h). */
struct aigw_engine_api {
    uint32_t abi;
    uint32_t size;
    const char *version;
    struct tools_ctx *(*ctx_new)(const struct config *cfg);
    void (*ctx_free)(struct tools_ctx *ctx);
    json_t *(*call)(struct tools_ctx *ctx, const char *name, struct mcp_call *call, json_t *args);
    int (*check)(struct tools_ctx *ctx, util_buf *report, util_error *err);
};

/* The one exported symbol. Returns the engine's table, or NULL with a sentence in why (n bytes)
 * when abi, version or host->size differ from the engine's own. Called once per process. */
typedef const struct aigw_engine_api *(*aigw_engine_open_fn)(uint32_t abi, const char *version,
                                                              const struct aigw_engine_host *host, char *why,
                                                              size_t n);
AIGW_ENGINE_EXPORT const struct aigw_engine_api *aigw_engine_open(uint32_t abi, const char *version,
                                                                  const struct aigw_engine_host *host, char *why,
                                                                  size_t n);

#endif
