/*
 * tools: the MCP tools of azure-ai-gateway-mcp (contract §3 of shared/design/tools.md). Each tool
 * is a static `struct mcp_tool` in its own file under src/tools/, listed in registry.c; handlers
 * turn arguments into ARM calls (arm), policy edits (policy) and metrics queries (metrics), and
 * every answer into structuredContent plus one compact text block.
 *
 * The module is built twice: as a static library for unit tests, and inside aigw-engine.so,
 * which the program loads on the first tool call (include/engine.h) so that starting and
 * answering initialize never pays for libcurl, OpenSSL and libxml2. The functions below are the
 * engine's entry points, handed to the program in the table of include/engine_api.h.
 *
 * Ownership: tools_ctx_new() returns a context freed by tools_ctx_free(); it borrows the config,
 * which must outlive it, and owns the ARM client it creates on first use. tools_call returns a
 * NEW reference; args is borrowed.
 */
#ifndef AIGW_TOOLS_H
#define AIGW_TOOLS_H

#include <pthread.h>

#include "config.h"
#include "mcp.h"

struct arm_client;

struct tools_ctx {
    const struct config *cfg;
    struct arm_client *arm; /* created by tools_arm() on first use; NULL before */
    bool demo;              /* results are marked as coming from the simulator */
    pthread_mutex_t lock;   /* tool calls run on several threads: guards the creation of arm */
    json_t *models;         /* cache of Azure OpenAI accounts and deployments (src/tools/models.c), or NULL */
    pthread_mutex_t models_lock; /* guards models (recursive) */
    struct drill_state *drills;  /* open failover drills (src/tools/drill.c) */
};

struct tools_ctx *tools_ctx_new(const struct config *cfg);
void tools_ctx_free(struct tools_ctx *ctx);

/* Every tool's definition, NULL-terminated (the catalog generator turns it into the program's
 * tools/list at build time; unit tests register it directly). Borrowed, static. */
const struct mcp_tool *const *tools_all(void);

/* Runs the tool called name with arguments already validated against its input schema. */
json_t *tools_call(struct tools_ctx *ctx, const char *name, struct mcp_call *call, json_t *args);

/* The guided prompts (prompts.c, no network: registered by the program itself). */
int tools_register_prompts(struct mcp_server *srv, util_error *err);

/* The ARM client, created on first use; NULL with err filled when configuration or credentials
 * are missing (the sentence names the variable and what is expected). Borrowed. */
struct arm_client *tools_arm(struct tools_ctx *ctx, util_error *err);

/* --check: resolve configuration and credentials, read the service, write a report to `report`.
 * Returns 0 when all is well. */
int tools_check(struct tools_ctx *ctx, util_buf *report, util_error *err);

#endif
