/*
 * engine: the program's lazy link to its tools. The tool definitions (names, descriptions,
 * schemas, annotations) are compiled into the program as a catalog generated at build time from
 * src/tools (catalog_gen.c), so initialize and tools/list need nothing else; the first tool call
 * (or --check) loads aigw-engine.so (.dll) — the tools with the ARM client, credentials, HTTP
 * (libcurl, OpenSSL) and the policy layer (libxml2) — and opens it through its one exported,
 * versioned entry point (include/engine_api.h): the program hands it the table of its logger,
 * secret scrubber and MCP call functions, so there is one logger and one secret scrubber, and a
 * program and engine of different builds refuse each other with a clear error.
 *
 * Ownership: engine_new() returns an engine freed by engine_free() after the server that uses
 * it (the loaded library itself stays mapped until the process ends); it borrows the config.
 * The catalog is static.
 */
#ifndef AIGW_ENGINE_H
#define AIGW_ENGINE_H

#include <stddef.h>

#include "config.h"
#include "mcp.h"

struct engine;

/* Generated at build time: every tool's definition with fn = engine_trampoline. */
extern const struct mcp_tool engine_catalog[];
extern const size_t engine_catalog_len;

/* The handler of every catalog entry: loads the engine if needed and runs the tool there. */
json_t *engine_trampoline(struct mcp_call *call, json_t *args, void *user);

struct engine *engine_new(const struct config *cfg);
void engine_free(struct engine *e);

/* Registers the catalog's tools and the guided prompts. Returns 0 or UTIL_EINVAL. */
int engine_register(struct engine *e, struct mcp_server *srv, util_error *err);

/* --check through the engine (see tools_check). */
int engine_check(struct engine *e, util_buf *report, util_error *err);

#endif
