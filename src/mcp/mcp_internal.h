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

#define MCP_MAX_READERS 16 /* read-only tool calls running at once; more wait in arrival order */
#define MCP_MAX_DETACHED 8 /* long calls that left their lane (mcp_call_leave_lane) at once */
#define MCP_MAX_WORKERS (MCP_MAX_READERS + 1 + MCP_MAX_DETACHED)

/* One accepted tools/call, from validation until its answer is written: queued in its lane,
 * then run by a worker thread. */
struct mcp_call {
    struct mcp_server *srv;
    json_t *msg;            /* the request (owned) */
    json_t *id;             /* borrowed from msg */
    json_t *progress_token; /* borrowed from msg, may be NULL */
    json_t *args;           /* validated arguments (owned) */
    size_t tool;            /* index into srv->tools */
    atomic_int cancelled;  /* set by the reader thread (notifications/cancelled, end of input) */
    atomic_int stop;       /* cancelled or end of input, committed or not (mcp_call_stop_requested) */
    /* guarded by srv->lock */
    bool committed;        /* a write started, cancellation is ignored */
    bool on_worker;        /* run by a lane's worker thread (not the dispatch thread) */
    bool left_lane;        /* mcp_call_leave_lane: its worker no longer counts in the lane */
    char pending_id[48];   /* id of this call's outstanding elicitation request, "" when none */
    json_t *pending_reply; /* owned when set */
    struct mcp_call *next_call;   /* srv->calls: every accepted call, queued or running */
    struct mcp_call *next_queued; /* its lane's queue */
};

/* Read tools run concurrently (up to MCP_MAX_READERS threads); write tools run one at a time in
 * arrival order (one thread: the server talks to one APIM service), never beside another write. */
struct mcp_lane {
    struct mcp_call *head, *tail; /* waiting to start, oldest first */
    size_t queued, idle, threads, max;
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

    /* guarded by lock: queue, calls, lanes, workers, eof */
    pthread_mutex_t lock;
    pthread_cond_t cond;    /* the queue, elicitation replies, cancellations */
    pthread_cond_t work;    /* the lanes */
    struct mcp_queue_item *head, *tail;
    bool eof;
    bool io_error;
    bool stopping;
    struct mcp_call *calls;
    struct mcp_lane reads, writes;
    pthread_t workers[MCP_MAX_WORKERS];
    size_t n_workers;
    size_t detached;        /* workers running a call that left its lane */
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
