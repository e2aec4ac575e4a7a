/* fuzz_mcp: JSON-RPC framing and dispatch (src/mcp). The input is what a client writes on
 * stdin, served by mcp_server_run (reader thread, queue, dispatch, schema validation of
 * tools/call arguments against the real tools' input schemas, the real guided prompts and a
 * test one, logging, progress, elicitation) over pipes, with this file acting as the client:
 * it answers the server's elicitation requests and closes stdin once every request is answered.
 * Invariants:
 *   - stdout carries only JSON-RPC frames: every line is a JSON object with "jsonrpc":"2.0";
 *   - every request (a well-formed object with a string method and a string or integer id on
 *     a complete line, ping included) gets a response with its id, unless the input holds a
 *     cancellation (then which calls are answered depends on timing): a request left
 *     unanswered for 10 s fails.
 * The tools run a test handler (never the engine): it reports progress, asks for elicitation
 * when the client can answer, logs, and echoes its validated arguments. */
#include "fuzz.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include "mcp.h"
#include "tools.h"

static struct mcp_tool test_tools[32];
static size_t n_test_tools;

static json_t *test_tool(struct mcp_call *call, json_t *args, void *user)
{
    (void)user;
    mcp_call_progress(call, 1, 2, "half way");
    util_log(UTIL_LOG_INFO, "fuzz", "tool called with %zu argument(s)", json_object_size(args));
    if (json_object_get(args, "confirm") && mcp_call_can_elicit(call)) {
        json_t *schema = json_pack("{s:s, s:{s:{s:s}}}", "type", "object", "properties", "confirm", "type", "boolean");
        json_t *content = NULL;
        util_error err;
        util_error_clear(&err);
        mcp_call_elicit(call, "Apply?", schema, &content, &err);
        json_decref(content);
        json_decref(schema);
    }
    if (mcp_call_cancelled(call))
        return mcp_result_error(NULL, "cancelled");
    return mcp_result_ok(json_deep_copy(args), "ok");
}

static const struct mcp_prompt_arg prompt_args[] = {{"team", "the team", true}, {"tpm", "tokens per minute", false},
                                                    {NULL, NULL, false}};

static json_t *test_prompt(json_t *args, void *user, util_error *err)
{
    (void)user;
    const char *team = json_string_value(json_object_get(args, "team"));
    if (!team || strlen(team) > 64) {
        util_error_set(err, UTIL_EINVAL, "team must be at most 64 characters");
        return NULL;
    }
    return json_pack("{s:[{s:s, s:{s:s, s:s}}]}", "messages", "role", "user", "content", "type", "text", "text",
                     team);
}

static const struct mcp_prompt prompt = {"fuzz-prompt", "Fuzz prompt", "A prompt of the fuzz target", prompt_args,
                                         test_prompt};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (const struct mcp_tool *const *t = tools_all(); *t && n_test_tools < 32; t++) {
        test_tools[n_test_tools] = **t;
        test_tools[n_test_tools].fn = test_tool;
        n_test_tools++;
    }
    return 0;
}

static bool valid_id(json_t *id) { return json_is_string(id) || json_is_integer(id); }

/* The requests of the input that must be answered before stdin closes: well-formed requests
 * on complete lines (the transport's framing: '\n', outer blanks and CR trimmed; a last line
 * without '\n' is only read at end of input, where the running call is cancelled). */
static json_t *expected_requests(const char *in, size_t len, bool *has_cancel)
{
    json_t *ids = json_array();
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (in[i] != '\n')
            continue;
        const char *line = in + start;
        size_t n = i - start;
        start = i + 1;
        while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
            n--;
        while (n > 0 && (line[0] == ' ' || line[0] == '\t'))
            line++, n--;
        json_t *msg = n ? json_loadb(line, n, JSON_DECODE_ANY, NULL) : NULL;
        json_t *method = json_object_get(msg, "method");
        if (json_is_string(method) && strstr(json_string_value(method), "cancel"))
            *has_cancel = true;
        json_t *params = json_object_get(msg, "params");
        if (json_is_object(msg) && json_is_string(json_object_get(msg, "jsonrpc")) &&
            !strcmp(json_string_value(json_object_get(msg, "jsonrpc")), "2.0") && json_is_string(method) &&
            valid_id(json_object_get(msg, "id")) && (!params || json_is_object(params) || json_is_array(params)))
            json_array_append(ids, json_object_get(msg, "id"));
        json_decref(msg);
    }
    return ids;
}

static void write_all(int fd, const void *data, size_t size)
{
    const char *p = data;
    while (size > 0) {
        ssize_t n = write(fd, p, size);
        CHECK(n > 0);
        p += n;
        size -= (size_t)n;
    }
}

/* Removes one id equal to id from ids; false when there is none. */
static bool take(json_t *ids, json_t *id)
{
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) {
        if (json_equal(v, id)) {
            json_array_remove(ids, i);
            return true;
        }
    }
    return false;
}

/* One stdout frame: checks it, answers an elicitation as a client would, and crosses off the
 * request a response answers. */
static void on_frame(const char *line, int in_w, json_t *pending)
{
    json_t *msg = json_loads(line, 0, NULL);
    if (!json_is_object(msg) || !json_is_string(json_object_get(msg, "jsonrpc")))
        fprintf(stderr, "fuzz_mcp: not a JSON-RPC frame on stdout: %.200s\n", line);
    CHECK(json_is_object(msg));
    CHECK(!strcmp(json_string_value(json_object_get(msg, "jsonrpc")), "2.0"));
    const char *method = json_string_value(json_object_get(msg, "method"));
    json_t *id = json_object_get(msg, "id");
    if (method && id && !strcmp(method, "elicitation/create") && in_w >= 0) {
        json_t *reply = json_pack("{s:s, s:O, s:{s:s, s:{s:b}}}", "jsonrpc", "2.0", "id", id, "result", "action",
                                  "accept", "content", "confirm", 1);
        char *text = json_dumps(reply, JSON_COMPACT);
        write_all(in_w, text, strlen(text));
        write_all(in_w, "\n", 1);
        free(text);
        json_decref(reply);
    } else if (!method) {
        CHECK(id != NULL);
        take(pending, id);
    }
    json_decref(msg);
}

struct run_args {
    struct mcp_server *srv;
    int in_r, out_w;
};

static void *serve(void *arg)
{
    struct run_args *a = arg;
    mcp_server_run(a->srv, a->in_r, a->out_w);
    close(a->out_w);
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct mcp_server_info info = {"fuzz", "Fuzz", "0", "instructions", false};
    if (size > 512 * 1024)
        return 0; /* the whole input must fit in the pipe (sized 1 MiB below) */
    bool has_cancel = false;
    json_t *pending = expected_requests((const char *)data, size, &has_cancel);
    struct mcp_server *srv = mcp_server_new(&info);
    util_error err;
    for (size_t i = 0; i < n_test_tools; i++)
        CHECK(mcp_server_add_tool(srv, &test_tools[i], NULL, &err) == 0);
    CHECK(mcp_server_add_prompt(srv, &prompt, NULL, &err) == 0);
    CHECK(tools_register_prompts(srv, &err) == 0);
    int in[2], out[2];
    CHECK(pipe(in) == 0 && pipe(out) == 0);
    fcntl(in[1], F_SETPIPE_SZ, 1 << 20);
    fcntl(out[1], F_SETPIPE_SZ, 1 << 20);
    write_all(in[1], data, size);
    /* with a cancellation in the input, which requests get answered depends on timing */
    int in_w = in[1];
    if (has_cancel) {
        close(in_w);
        in_w = -1;
    }
    struct run_args args = {srv, in[0], out[1]};
    pthread_t server;
    CHECK(pthread_create(&server, NULL, serve, &args) == 0);

    /* read stdout as a client would; close stdin once every request is answered */
    util_buf line;
    util_buf_init(&line, 0);
    char chunk[65536];
    for (;;) {
        if (in_w >= 0 && json_array_size(pending) == 0) {
            close(in_w);
            in_w = -1;
        }
        struct pollfd pfd = {.fd = out[0], .events = POLLIN};
        int ready = poll(&pfd, 1, 10000);
        if (ready == 0) {
            size_t i;
            json_t *id;
            json_array_foreach(pending, i, id) {
                char *s = json_dumps(id, JSON_ENCODE_ANY);
                fprintf(stderr, "fuzz_mcp: request %s was never answered\n", s ? s : "?");
                free(s);
            }
            CHECK(!"every request is answered");
        }
        ssize_t n = read(out[0], chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (ssize_t k = 0; k < n; k++) {
            if (chunk[k] != '\n') {
                util_buf_append(&line, &chunk[k], 1);
                continue;
            }
            on_frame(line.data ? line.data : "", in_w, pending);
            util_buf_reset(&line);
        }
    }
    CHECK(line.len == 0); /* every frame ends with a newline */
    util_buf_free(&line);
    pthread_join(server, NULL);
    mcp_server_free(srv);
    if (in_w >= 0)
        close(in_w);
    close(in[0]);
    close(out[0]);
    if (!has_cancel)
        CHECK(json_array_size(pending) == 0);
    json_decref(pending);
    return 0;
}
