/*
 * tools: the MCP tools of azure-ai-gateway-mcp (contract §3 of shared/design/tools.md). Each tool
 * is a static `struct mcp_tool` in its own file under src/tools/, listed in registry.c; handlers
 * turn arguments into ARM calls (arm), policy edits (policy) and metrics queries (metrics), and
 * every answer into structuredContent plus one compact text block.
 *
 * Ownership: tools_ctx_new() returns a context freed by tools_ctx_free(); it borrows the config,
 * which must outlive it, and owns the ARM client it creates on first use.
 */
#ifndef AIGW_TOOLS_H
#define AIGW_TOOLS_H

#include "config.h"
#include "mcp.h"

struct arm_client;

struct tools_ctx {
    const struct config *cfg;
    struct arm_client *arm; /* created by tools_arm() on first use; NULL before */
    bool demo;              /* results are marked as coming from the simulator */
};

struct tools_ctx *tools_ctx_new(const struct config *cfg);
void tools_ctx_free(struct tools_ctx *ctx);

/* Registers every tool (and the guided prompts) with the server. Returns 0 or UTIL_EINVAL. */
int tools_register_all(struct mcp_server *srv, struct tools_ctx *ctx, util_error *err);

/* The ARM client, created on first use; NULL with err filled when configuration or credentials
 * are missing (the sentence names the variable and what is expected). Borrowed. */
struct arm_client *tools_arm(struct tools_ctx *ctx, util_error *err);

/* --check: resolve configuration and credentials, read the service, write a report to `report`.
 * Returns 0 when all is well. */
int tools_check(struct tools_ctx *ctx, util_buf *report, util_error *err);

#endif
