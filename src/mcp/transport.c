/* transport: newline-delimited JSON-RPC on file descriptors. The reader thread splits stdin into
 * lines (CRLF, blank lines, partial reads, lines up to MCP_MAX_LINE), parses them, answers what
 * cannot wait (parse errors, invalid messages, ping), routes cancellations and responses to our
 * own requests, and queues the rest; the writer serialises one frame per line under a lock. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "mcp_internal.h"

#define READ_CHUNK 65536

bool mcp_write(struct mcp_server *srv, json_t *msg)
{
    char *text = msg ? json_dumps(msg, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(15)) : NULL;
    if (!text)
        return false;
    size_t len = strlen(text);
    pthread_mutex_lock(&srv->out_lock);
    const char *p = text;
    size_t left = len;
    bool ok = true;
    while (left > 0 && ok) {
        ssize_t n = write(srv->out_fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        ok = n > 0;
        if (ok) {
            p += n;
            left -= (size_t)n;
        }
    }
    while (ok) {
        ssize_t n = write(srv->out_fd, "\n", 1);
        if (n == 1 || (n < 0 && errno != EINTR))
            break;
    }
    pthread_mutex_unlock(&srv->out_lock);
    free(text);
    return true;
}

/* The last resort when a frame cannot be built: a plain error with the id (an integer or a string
 * jansson parsed, so always encodable). A request is always answered. */
static void write_plain_error(struct mcp_server *srv, json_t *id)
{
    json_t *msg = json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(), "error", "code",
                            MCP_INTERNAL_ERROR, "message", "Internal error: the answer could not be encoded as JSON");
    mcp_write(srv, msg);
    json_decref(msg);
}

void mcp_write_error(struct mcp_server *srv, json_t *id, int code, const char *message)
{
    json_t *msg = json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(), "error",
                            "code", code, "message", message);
    if (!msg) { /* e.g. the message is not valid UTF-8: clean it and try again */
        char text[UTIL_ERROR_MAX + 256];
        util_format(text, sizeof text, "%s", message ? message : "");
        msg = json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(), "error", "code",
                        code, "message", text);
    }
    if (!mcp_write(srv, msg))
        write_plain_error(srv, id);
    json_decref(msg);
}

void mcp_write_result(struct mcp_server *srv, json_t *id, json_t *result)
{
    json_t *msg = result ? json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result) : NULL;
    if (!mcp_write(srv, msg))
        write_plain_error(srv, id);
    json_decref(msg);
}

static void enqueue(struct mcp_server *srv, json_t *msg)
{
    struct mcp_queue_item *it = calloc(1, sizeof *it);
    if (!it) {
        json_decref(msg);
        return;
    }
    it->msg = msg;
    pthread_mutex_lock(&srv->lock);
    if (srv->tail)
        srv->tail->next = it;
    else
        srv->head = it;
    srv->tail = it;
    pthread_cond_broadcast(&srv->cond);
    pthread_mutex_unlock(&srv->lock);
}

json_t *mcp_transport_pop(struct mcp_server *srv)
{
    pthread_mutex_lock(&srv->lock);
    while (!srv->head && !srv->eof)
        pthread_cond_wait(&srv->cond, &srv->lock);
    json_t *msg = NULL;
    if (srv->head) {
        struct mcp_queue_item *it = srv->head;
        srv->head = it->next;
        if (!srv->head)
            srv->tail = NULL;
        msg = it->msg;
        free(it);
    }
    pthread_mutex_unlock(&srv->lock);
    return msg;
}

static bool valid_id(json_t *id) { return json_is_string(id) || json_is_integer(id); }

static bool same_id(json_t *a, json_t *b) { return a && b && json_equal(a, b); }

/* notifications/cancelled: flag the call (running or waiting in its lane), or drop the request if
 * still in the input queue. */
static void cancel_request(struct mcp_server *srv, json_t *request_id)
{
    pthread_mutex_lock(&srv->lock);
    struct mcp_call *call = srv->calls;
    while (call && !same_id(call->id, request_id))
        call = call->next_call;
    if (call) { /* running, or waiting in its lane (then it never starts) */
        atomic_store(&call->stop, 1);
        if (call->committed)
            LOG_WARN("mcp", "a cancellation arrived while a change was being written; the write completes (or is "
                     "undone) and its outcome is reported");
        else
            atomic_store(&call->cancelled, 1);
        pthread_cond_broadcast(&srv->cond);
    } else {
        struct mcp_queue_item **pp = &srv->head, *prev = NULL;
        while (*pp) {
            struct mcp_queue_item *it = *pp;
            if (same_id(json_object_get(it->msg, "id"), request_id) && json_object_get(it->msg, "method")) {
                *pp = it->next;
                if (srv->tail == it)
                    srv->tail = prev;
                json_decref(it->msg);
                free(it);
                break;
            }
            prev = it;
            pp = &it->next;
        }
    }
    pthread_mutex_unlock(&srv->lock);
}

/* A response from the client: the answer to a call's pending elicitation, handed over (msg is
 * stolen: the waiting call owns it from here, the reader never touches it again), or stray
 * (ignored, freed). */
static void deliver_response(struct mcp_server *srv, json_t *msg)
{
    json_t *id = json_object_get(msg, "id");
    pthread_mutex_lock(&srv->lock);
    for (struct mcp_call *c = srv->calls; c && json_is_string(id); c = c->next_call)
        if (c->pending_id[0] && strcmp(json_string_value(id), c->pending_id) == 0 && !c->pending_reply) {
            c->pending_reply = msg;
            msg = NULL;
            pthread_cond_broadcast(&srv->cond);
            break;
        }
    pthread_mutex_unlock(&srv->lock);
    json_decref(msg);
}

static void handle_line(struct mcp_server *srv, const char *line, size_t len)
{
    json_error_t jerr;
    json_t *msg = json_loadb(line, len, JSON_DECODE_ANY, &jerr);
    json_t *with_nul = msg ? NULL : json_loadb(line, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (with_nul) { /* valid JSON, but a string holds U+0000: refuse it, answering to its id */
        json_t *id = json_is_object(with_nul) ? json_object_get(with_nul, "id") : NULL;
        if (id || !json_is_string(json_object_get(with_nul, "method"))) /* never answer a notification */
            mcp_write_error(srv, valid_id(id) ? id : NULL, MCP_INVALID_REQUEST,
                            "Invalid Request: strings must not contain \\u0000");
        json_decref(with_nul);
        return;
    }
    if (!msg) {
        char text[256];
        snprintf(text, sizeof text, "Parse error: %s at line 1, column %d", jerr.text, jerr.column);
        mcp_write_error(srv, NULL, MCP_PARSE_ERROR, text);
        return;
    }
    if (json_is_array(msg)) {
        mcp_write_error(srv, NULL, MCP_INVALID_REQUEST,
                        "Invalid Request: JSON-RPC batches are not supported; send one message per line");
        json_decref(msg);
        return;
    }
    json_t *id = json_is_object(msg) ? json_object_get(msg, "id") : NULL;
    json_t *method = json_is_object(msg) ? json_object_get(msg, "method") : NULL;
    json_t *reply_id = valid_id(id) ? id : NULL;
    const char *problem = NULL;
    if (!json_is_object(msg))
        problem = "Invalid Request: a JSON-RPC message must be an object";
    else if (!json_is_string(json_object_get(msg, "jsonrpc")) ||
             strcmp(json_string_value(json_object_get(msg, "jsonrpc")), "2.0") != 0)
        problem = "Invalid Request: \"jsonrpc\" must be \"2.0\"";
    else if (id && !valid_id(id))
        problem = "Invalid Request: \"id\" must be a string or an integer";
    else if (method && !json_is_string(method))
        problem = "Invalid Request: \"method\" must be a string";
    else if (!method && !(id && (json_object_get(msg, "result") || json_object_get(msg, "error"))))
        problem = "Invalid Request: a message needs \"method\" (request or notification) or \"result\"/\"error\" "
                  "(response)";
    else if (method && json_object_get(msg, "params") && !json_is_object(json_object_get(msg, "params")) &&
             !json_is_array(json_object_get(msg, "params")))
        problem = "Invalid Request: \"params\" must be an object";
    if (problem) {
        /* never answer a notification, even a broken one, unless it has no method at all */
        if (!(method && json_is_string(method) && !id))
            mcp_write_error(srv, reply_id, MCP_INVALID_REQUEST, problem);
        json_decref(msg);
        return;
    }
    if (!method) {
        deliver_response(srv, msg);
        return;
    }
    const char *m = json_string_value(method);
    if (id && strcmp(m, "ping") == 0) {
        mcp_write_result(srv, id, json_object());
        json_decref(msg);
        return;
    }
    if (!id && strcmp(m, "notifications/cancelled") == 0) {
        json_t *rid = json_object_get(json_object_get(msg, "params"), "requestId");
        if (valid_id(rid))
            cancel_request(srv, rid);
        json_decref(msg);
        return;
    }
    enqueue(srv, msg);
}

static void set_eof(struct mcp_server *srv, bool io_error)
{
    pthread_mutex_lock(&srv->lock);
    srv->eof = true;
    srv->io_error = io_error;
    for (struct mcp_call *c = srv->calls; c; c = c->next_call) {
        atomic_store(&c->stop, 1);
        if (!c->committed) /* nobody is left to wait for the answer */
            atomic_store(&c->cancelled, 1);
    }
    pthread_cond_broadcast(&srv->cond);
    pthread_mutex_unlock(&srv->lock);
}

struct reader_args {
    struct mcp_server *srv;
    int fd;
};

static void *reader_main(void *arg)
{
    struct reader_args ra = *(struct reader_args *)arg;
    free(arg);
    struct mcp_server *srv = ra.srv;
    util_buf line;
    util_buf_init(&line, MCP_MAX_LINE);
    bool overflow = false, io_error = false;
    char *chunk = malloc(READ_CHUNK);
    for (;;) {
        ssize_t n = chunk ? read(ra.fd, chunk, READ_CHUNK) : -1;
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            io_error = n < 0;
            break;
        }
        char *p = chunk, *end = chunk + n;
        while (p < end) {
            char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t take = (size_t)((nl ? nl : end) - p);
            if (!overflow && util_buf_append(&line, p, take) != 0) {
                overflow = true;
                util_buf_reset(&line);
            }
            p += take;
            if (!nl)
                break;
            p++; /* past '\n' */
            if (overflow) {
                char text[160];
                snprintf(text, sizeof text, "Invalid Request: message longer than the %u MiB limit; it was ignored",
                         MCP_MAX_LINE >> 20);
                mcp_write_error(srv, NULL, MCP_INVALID_REQUEST, text);
                overflow = false;
            } else {
                size_t len = line.len;
                while (len > 0 && (line.data[len - 1] == '\r' || line.data[len - 1] == ' ' ||
                                   line.data[len - 1] == '\t'))
                    len--;
                size_t start = 0;
                while (start < len && (line.data[start] == ' ' || line.data[start] == '\t'))
                    start++;
                if (len > start)
                    handle_line(srv, line.data + start, len - start);
            }
            util_buf_reset(&line);
        }
    }
    /* a last line without '\n' still counts */
    if (!overflow && line.len > 0) {
        size_t len = line.len;
        while (len > 0 && (line.data[len - 1] == '\r' || line.data[len - 1] == ' '))
            len--;
        if (len > 0)
            handle_line(srv, line.data, len);
    }
    free(chunk);
    util_buf_free(&line);
    set_eof(srv, io_error);
    return NULL;
}

int mcp_transport_start(struct mcp_server *srv, int in_fd, pthread_t *thread)
{
    struct reader_args *ra = malloc(sizeof *ra);
    if (!ra)
        return UTIL_ENOMEM;
    ra->srv = srv;
    ra->fd = in_fd;
    if (pthread_create(thread, NULL, reader_main, ra) != 0) {
        free(ra);
        return UTIL_EIO;
    }
    return 0;
}
