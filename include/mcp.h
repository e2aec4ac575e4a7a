/*
 * mcp: the Model Context Protocol over stdio — newline-delimited JSON-RPC 2.0, the lifecycle
 * (initialize, version negotiation, ping), a registry of tools and prompts that is data, input
 * validation against each tool's JSON Schema, logging (logging/setLevel, notifications/message),
 * progress, cancellation and elicitation. It knows nothing of Azure.
 *
 * Threads: a reader thread owns stdin. It answers ping at once, routes responses to the
 * server's own requests (elicitation) and notifications/cancelled, and queues everything else for
 * the thread that called mcp_server_run(), which runs one request at a time. Frames are written
 * to stdout under a lock, one line each.
 *
 * Ownership: mcp_server_new() returns a server freed by mcp_server_free(). Tool and prompt
 * definitions are copied by reference: the structs and strings passed to mcp_server_add_tool /
 * mcp_server_add_prompt must outlive the server (static tables). Handlers return a NEW jansson
 * reference to a CallToolResult (build it with mcp_result_*), which the server releases.
 * Arguments handed to handlers are BORROWED, valid for the duration of the call.
 */
#ifndef AIGW_MCP_H
#define AIGW_MCP_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "util.h"

/* JSON-RPC and MCP error codes */
#define MCP_PARSE_ERROR -32700
#define MCP_INVALID_REQUEST -32600
#define MCP_METHOD_NOT_FOUND -32601
#define MCP_INVALID_PARAMS -32602
#define MCP_INTERNAL_ERROR -32603

/* Longest accepted line on stdin; a longer one is answered with an error and skipped. */
#define MCP_MAX_LINE (64u * 1024u * 1024u)

struct mcp_server;
struct mcp_call;

/* Runs the tool. args is the validated arguments object (borrowed, never NULL). Returns a new
 * reference to a CallToolResult object; never NULL. */
typedef json_t *(*mcp_tool_fn)(struct mcp_call *call, json_t *args, void *user);

struct mcp_tool {
    const char *name;
    const char *title;
    const char *description;
    const char *input_schema;  /* JSON Schema text; must be an object schema */
    const char *output_schema; /* JSON Schema text or NULL */
    bool read_only_hint;
    bool destructive_hint;
    bool idempotent_hint;
    bool open_world_hint;
    bool writes;               /* a write tool: not listed nor callable in read-only mode */
    mcp_tool_fn fn;
};

struct mcp_prompt_arg {
    const char *name;
    const char *description;
    bool required;
};

/* Builds the prompt's messages. args: object of string arguments (borrowed). Returns a new
 * reference to a GetPromptResult ({description?, messages:[...]}), or NULL with err filled
 * (the client gets -32602 with err's message). */
typedef json_t *(*mcp_prompt_fn)(json_t *args, void *user, util_error *err);

struct mcp_prompt {
    const char *name;
    const char *title;
    const char *description;
    const struct mcp_prompt_arg *args; /* terminated by an entry with name == NULL */
    mcp_prompt_fn fn;
};

struct mcp_server_info {
    const char *name;
    const char *title;
    const char *version;
    const char *instructions; /* may be NULL */
    bool read_only;           /* hide and refuse tools with writes = true */
};

struct mcp_server *mcp_server_new(const struct mcp_server_info *info);
void mcp_server_free(struct mcp_server *srv);

/* Registers a tool; its schemas are parsed and checked here. Returns 0 or UTIL_EINVAL. */
int mcp_server_add_tool(struct mcp_server *srv, const struct mcp_tool *tool, void *user, util_error *err);
int mcp_server_add_prompt(struct mcp_server *srv, const struct mcp_prompt *prompt, void *user,
                          util_error *err);

/* Serves until in_fd reaches end of file. Returns 0 (clean end) or UTIL_EIO. */
int mcp_server_run(struct mcp_server *srv, int in_fd, int out_fd);

/* Versions we speak, newest first (NULL-terminated). */
extern const char *const mcp_protocol_versions[];

/* ---- inside a tool handler ------------------------------------------------------------- */

/* True once the client sent notifications/cancelled for this call (or stdin closed). */
bool mcp_call_cancelled(const struct mcp_call *call);
/* A flag that becomes non-zero on cancellation, for lower layers to poll (http multi loop). */
const atomic_int *mcp_call_cancel_flag(struct mcp_call *call);
/* Marks the call as past the point of no return (a write is about to start): from then on
 * notifications/cancelled and the end of stdin are ignored for it, and its result is sent
 * (MCP lets a receiver ignore the cancellation of a request that cannot be cancelled). Returns
 * false, committing nothing, when the call was already cancelled. call may be NULL (true). */
bool mcp_call_commit(struct mcp_call *call);
/* True once the call should stop what it is waiting for: notifications/cancelled for it or the end
 * of input (even after mcp_call_commit), or a termination signal held by mcp_call_hold_exit.
 * For long calls that must undo their work before ending (a failover drill). */
enum { MCP_STOP_NONE = 0, MCP_STOP_CANCELLED = 1, MCP_STOP_SIGNAL = 2 };
int mcp_call_stop_requested(const struct mcp_call *call); /* MCP_STOP_*: why (a signal first) */
/* hold true: SIGTERM/SIGINT/SIGHUP only flag mcp_call_stop_requested until the matching release
 * (hold false), which then ends the process as the signal would have. Pairs must match. */
void mcp_call_hold_exit(struct mcp_call *call, bool hold);
/* Lets a long call stop counting in its lane (write tools run one at a time): later calls of that
 * lane start beside it. False (nothing changed) when the call does not run on a worker or too many
 * calls have left their lanes (MCP_MAX_DETACHED). The call is answered as usual when it returns. */
bool mcp_call_leave_lane(struct mcp_call *call);
/* Sends notifications/progress when the request carried a progressToken; no-op otherwise. */
void mcp_call_progress(struct mcp_call *call, double progress, double total, const char *message);
/* The protocol version agreed at initialize. */
const char *mcp_call_protocol_version(const struct mcp_call *call);

enum mcp_elicit_action { MCP_ELICIT_ACCEPT = 0, MCP_ELICIT_DECLINE, MCP_ELICIT_CANCEL, MCP_ELICIT_UNSUPPORTED };

/* True when the client declared the elicitation capability (form mode). */
bool mcp_call_can_elicit(const struct mcp_call *call);
/* Asks the human through the client (elicitation/create) and waits for the answer.
 * requested_schema is borrowed. On MCP_ELICIT_ACCEPT *content (if content != NULL) receives a
 * new reference to the answer object. Returns the action; MCP_ELICIT_UNSUPPORTED when the
 * client cannot elicit, MCP_ELICIT_CANCEL when the call is cancelled or stdin closes, and
 * MCP_ELICIT_CANCEL with err filled when the client answered with an error. */
enum mcp_elicit_action mcp_call_elicit(struct mcp_call *call, const char *message, json_t *requested_schema,
                                       json_t **content, util_error *err);

/* ---- results --------------------------------------------------------------------------- */

/* {content:[{type:text,text}], structuredContent: structured}. Steals structured (may be NULL). */
json_t *mcp_result_ok(json_t *structured, const char *text);
/* {content:[{type:text,text:message}], isError:true}, with structuredContent when given (stolen). */
json_t *mcp_result_error(json_t *structured, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- schema validation (exposed for tests) --------------------------------------------- */

/* Validates instance against a JSON Schema subset (type incl. unions, properties, required,
 * additionalProperties false, enum, const, minimum, maximum, exclusiveMinimum/Maximum,
 * minLength, maxLength, pattern, items, minItems, maxItems, anyOf/oneOf of simple types).
 * On failure fills err with a sentence naming the path ("backends[1].priority must be ...").
 * A whole number sent as a real (5e4) where an integer is expected passes and is turned into a
 * JSON integer in place. Returns 0 or UTIL_EINVAL. */
int mcp_schema_validate(json_t *schema, json_t *instance, util_error *err);

#endif
