/* mcp_internal: the server's private state shared by transport.c (stdin reader thread, stdout
 * writer, message queue) and server.c (lifecycle and dispatch). Not part of the public API. */
#ifndef AIGW_MCP_INTERNAL_H
#define AIGW_MCP_INTERNAL_H

#include <pthread.h>

#include "mcp.h"

#define MCP_MAX_TOOLS 32
#define MCP_MAX_PROMPTS 16

struct mcp_queue_item {
    json_t *msg; /* owned */
    struct mcp_queue_item *next;
};

struct mcp_call {
    struct mcp_server *srv;
    json_t *id;             /* borrowed from the request */
    json_t *progress_token; /* borrowed, may be NULL */
    atomic_int cancelled;  /* set by the reader thread (notifications/cancelled, end of input) */
    bool committed;        /* guarded by srv->lock: a write started, cancellation is ignored */
};

struct mcp_server {
    struct mcp_server_info info;

    const struct mcp_tool *tools[MCP_MAX_TOOLS];
    void *tool_user[MCP_MAX_TOOLS];
    json_t *tool_input[MCP_MAX_TOOLS];  /* parsed schemas, owned */
    json_t *tool_output[MCP_MAX_TOOLS];
    size_t n_tools;
    const struct mcp_prompt *prompts[MCP_MAX_PROMPTS];
    void *prompt_user[MCP_MAX_PROMPTS];
    size_t n_prompts;

    int out_fd;
    pthread_mutex_t out_lock;

    /* guarded by lock: queue, current call, elicitation slot, eof */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct mcp_queue_item *head, *tail;
    bool eof;
    bool io_error;
    struct mcp_call *current;
    char pending_id[48];    /* id of our outstanding elicitation request, "" when none */
    json_t *pending_reply;  /* owned when set */
    unsigned next_request;

    /* touched by the dispatch thread only */
    bool initialized;
    bool client_elicit_form;
    char protocol_version[16];
};

/* transport.c */
int mcp_transport_start(struct mcp_server *srv, int in_fd, pthread_t *thread);
json_t *mcp_transport_pop(struct mcp_server *srv); /* blocks; NULL at end of input */
bool mcp_write(struct mcp_server *srv, json_t *msg); /* msg borrowed; false when it cannot be serialised */
void mcp_write_error(struct mcp_server *srv, json_t *id, int code, const char *message);
void mcp_write_result(struct mcp_server *srv, json_t *id, json_t *result); /* result stolen */

#endif
