/* test_mcp: the protocol core driven over pipes — framing (CRLF, blank lines, partial writes,
 * multi-MiB and oversized lines), every JSON-RPC error code, lifecycle, tools/list and
 * tools/call validation, read-only mode, logging, progress, cancellation, elicitation, prompts,
 * the JSON Schema subset, and concurrent calls (reads together, writes one at a time in order). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mcp.h"

/* ---- test tools ------------------------------------------------------------------------ */

static json_t *echo_tool(struct mcp_call *call, json_t *args, void *user)
{
    mcp_call_progress(call, 1, 2, "half way");
    LOG_INFO("echo", "echo called");
    return mcp_result_ok(json_pack("{s:O}", "echo", args), "echoed");
}

static json_t *wait_tool(struct mcp_call *call, json_t *args, void *user)
{
    mcp_call_progress(call, 0, 1, "waiting"); /* tells a test the call is running (with a progressToken) */
    while (!mcp_call_cancelled(call))
        usleep(1000);
    return mcp_result_ok(NULL, "cancelled");
}

static json_t *confirm_tool(struct mcp_call *call, json_t *args, void *user)
{
    json_t *schema = json_pack("{s:s, s:{s:{s:s}}}", "type", "object", "properties", "confirm", "type", "boolean");
    json_t *content = NULL;
    util_error err;
    util_error_clear(&err);
    enum mcp_elicit_action a = mcp_call_elicit(call, "Apply?", schema, &content, &err);
    json_decref(schema);
    const char *names[] = {"accept", "decline", "cancel", "unsupported"};
    json_t *r = mcp_result_ok(json_pack("{s:s}", "action", names[a]), names[a]);
    json_decref(content);
    return r;
}

/* Starts "writing" (commits), then takes a while: a cancellation meanwhile must not stop it. */
static json_t *commit_tool(struct mcp_call *call, json_t *args, void *user)
{
    if (!mcp_call_commit(call))
        return mcp_result_ok(NULL, "cancelled before writing");
    mcp_call_progress(call, 0, 1, "writing");
    for (int i = 0; i < 200 && !mcp_call_cancelled(call); i++)
        usleep(1000);
    return mcp_result_ok(NULL, mcp_call_cancelled(call) ? "interrupted" : "written");
}

static const struct mcp_tool t_echo = {
    .name = "echo",
    .title = "Echo",
    .description = "Echoes its arguments.",
    .input_schema = "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\",\"minLength\":1},"
                    "\"n\":{\"type\":[\"integer\",\"null\"],\"minimum\":1,\"maximum\":10},"
                    "\"mode\":{\"type\":\"string\",\"enum\":[\"a\",\"b\"]}},"
                    "\"required\":[\"text\"],\"additionalProperties\":false}",
    .output_schema = "{\"type\":\"object\",\"properties\":{\"echo\":{\"type\":\"object\"}}}",
    .read_only_hint = true,
    .fn = echo_tool,
};
static const struct mcp_tool t_wait = {
    .name = "wait", .title = "Wait", .description = "Waits until cancelled.",
    .input_schema = "{\"type\":\"object\",\"properties\":{},\"additionalProperties\":false}",
    .read_only_hint = true, .fn = wait_tool,
};
static const struct mcp_tool t_write = {
    .name = "confirm", .title = "Confirm", .description = "Asks the human.",
    .input_schema = "{\"type\":\"object\",\"properties\":{},\"additionalProperties\":false}",
    .destructive_hint = true, .writes = true, .fn = confirm_tool,
};

static const struct mcp_tool t_commit = {
    .name = "commit", .title = "Commit", .description = "Writes, uncancellably.",
    .input_schema = "{\"type\":\"object\",\"properties\":{},\"additionalProperties\":false}",
    .destructive_hint = true, .writes = true, .fn = commit_tool,
};

/* Concurrency (issue 15): "meet" returns once `want` meet calls run at the same time (true), or
 * after 5 s alone (false); "serial" writes take 50 ms each and record their order and whether
 * another write ran beside them. */
static atomic_int g_meeting, g_writing, g_overlapped, g_order_n;
static int g_order[8];

static json_t *meet_tool(struct mcp_call *call, json_t *args, void *user)
{
    int want = (int)json_integer_value(json_object_get(args, "want"));
    atomic_fetch_add(&g_meeting, 1);
    bool met = false;
    for (int i = 0; i < 5000 && !met; i++) {
        met = atomic_load(&g_meeting) >= want;
        if (!met)
            usleep(1000);
    }
    return mcp_result_ok(json_pack("{s:b}", "met", met), met ? "met" : "alone");
}

static json_t *serial_tool(struct mcp_call *call, json_t *args, void *user)
{
    if (atomic_fetch_add(&g_writing, 1) != 0)
        atomic_store(&g_overlapped, 1);
    usleep(50000);
    int k = atomic_fetch_add(&g_order_n, 1);
    if (k < 8)
        g_order[k] = (int)json_integer_value(json_object_get(args, "n"));
    atomic_fetch_sub(&g_writing, 1);
    return mcp_result_ok(NULL, "written");
}

static const struct mcp_tool t_meet = {
    .name = "meet", .title = "Meet", .description = "Waits for company.",
    .input_schema = "{\"type\":\"object\",\"properties\":{\"want\":{\"type\":\"integer\"}},\"additionalProperties\":false}",
    .read_only_hint = true, .fn = meet_tool,
};
static const struct mcp_tool t_serial = {
    .name = "serial", .title = "Serial", .description = "Writes slowly.",
    .input_schema = "{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\"}},\"additionalProperties\":false}",
    .destructive_hint = true, .writes = true, .fn = serial_tool,
};

static json_t *prompt_fn(json_t *args, void *user, util_error *err)
{
    return json_pack("{s:[{s:s, s:{s:s, s:s}}]}", "messages", "role", "user", "content", "type", "text", "text",
                     json_string_value(json_object_get(args, "team")));
}
static const struct mcp_prompt_arg p_args[] = {{"team", "the team", true}, {NULL, NULL, false}};
static const struct mcp_prompt p_quota = {"quota", "Quota", "Guides a quota change", p_args, prompt_fn};

/* ---- harness --------------------------------------------------------------------------- */

struct harness {
    struct mcp_server *srv;
    int to_srv, from_srv; /* our ends */
    int srv_in, srv_out;
    pthread_t thread;
    int rc;
    util_buf in; /* bytes read from the server, not yet returned */
};

static void *run_server(void *arg)
{
    struct harness *h = arg;
    h->rc = mcp_server_run(h->srv, h->srv_in, h->srv_out);
    close(h->srv_out);
    return NULL;
}

static struct harness *start_with(bool read_only, const struct mcp_tool *extra1, const struct mcp_tool *extra2)
{
    struct harness *h = calloc(1, sizeof *h);
    int a[2], b[2];
    assert_int_equal(pipe(a), 0);
    assert_int_equal(pipe(b), 0);
    h->srv_in = a[0];
    h->to_srv = a[1];
    h->from_srv = b[0];
    h->srv_out = b[1];
    struct mcp_server_info info = {"test", "Test", "1.0", NULL, read_only};
    h->srv = mcp_server_new(&info);
    util_error err;
    assert_int_equal(mcp_server_add_tool(h->srv, &t_echo, NULL, &err), 0);
    assert_int_equal(mcp_server_add_tool(h->srv, &t_wait, NULL, &err), 0);
    assert_int_equal(mcp_server_add_tool(h->srv, &t_write, NULL, &err), 0);
    assert_int_equal(mcp_server_add_tool(h->srv, &t_commit, NULL, &err), 0);
    assert_int_equal(mcp_server_add_prompt(h->srv, &p_quota, NULL, &err), 0);
    if (extra1)
        assert_int_equal(mcp_server_add_tool(h->srv, extra1, NULL, &err), 0);
    if (extra2)
        assert_int_equal(mcp_server_add_tool(h->srv, extra2, NULL, &err), 0);
    pthread_create(&h->thread, NULL, run_server, h);
    return h;
}

static struct harness *start(bool read_only) { return start_with(read_only, NULL, NULL); }

static void send_raw(struct harness *h, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(h->to_srv, s, n);
        assert_true(w > 0);
        s += w;
        n -= (size_t)w;
    }
}

static void sendl(struct harness *h, const char *line)
{
    send_raw(h, line, strlen(line));
    send_raw(h, "\n", 1);
}

/* Next frame from the server as JSON (new reference); fails the test after 10 s of silence. */
static json_t *recv_msg(struct harness *h)
{
    for (;;) {
        char *nl = h->in.len ? memchr(h->in.data, '\n', h->in.len) : NULL;
        if (nl) {
            json_error_t e;
            size_t used = (size_t)(nl - h->in.data);
            json_t *j = json_loadb(h->in.data, used, 0, &e);
            if (!j)
                fail_msg("server wrote a line that is not JSON: %.*s", (int)used, h->in.data);
            memmove(h->in.data, h->in.data + used + 1, h->in.len - used - 1);
            h->in.len -= used + 1;
            return j;
        }
        struct pollfd p = {h->from_srv, POLLIN, 0};
        if (poll(&p, 1, 10000) <= 0)
            fail_msg("no answer from the server");
        char chunk[65536];
        ssize_t n = read(h->from_srv, chunk, sizeof chunk);
        if (n <= 0)
            return NULL;
        util_buf_append(&h->in, chunk, (size_t)n);
    }
}

/* Receives until a message with an id (response) arrives; notifications are returned via *notes. */
static json_t *recv_response(struct harness *h, json_t *notes)
{
    for (;;) {
        json_t *m = recv_msg(h);
        if (!m)
            return NULL;
        if (json_object_get(m, "id") && !json_object_get(m, "method"))
            return m;
        if (notes)
            json_array_append(notes, m);
        json_decref(m);
    }
}

static int error_code(json_t *m) { return (int)json_integer_value(json_object_get(json_object_get(m, "error"), "code")); }

static const char *error_message(json_t *m)
{
    return json_string_value(json_object_get(json_object_get(m, "error"), "message"));
}

static void stop(struct harness *h)
{
    close(h->to_srv);
    pthread_join(h->thread, NULL);
    assert_int_equal(h->rc, 0);
    /* nothing left but end of file */
    char c;
    assert_int_equal(read(h->from_srv, &c, 1), 0);
    close(h->from_srv);
    close(h->srv_in);
    util_buf_free(&h->in);
    mcp_server_free(h->srv);
    free(h);
}

static void initialize(struct harness *h, const char *version, const char *caps)
{
    char line[512];
    snprintf(line, sizeof line,
             "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"%s\","
             "\"capabilities\":%s,\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}",
             version, caps);
    sendl(h, line);
    json_t *r = recv_response(h, NULL);
    assert_non_null(json_object_get(r, "result"));
    json_decref(r);
    sendl(h, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
}

/* ---- tests ----------------------------------------------------------------------------- */

static void test_negotiation(void **state)
{
    struct harness *h = start(false);
    sendl(h, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-03-26\","
             "\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}");
    json_t *r = recv_response(h, NULL);
    json_t *res = json_object_get(r, "result");
    assert_string_equal(json_string_value(json_object_get(res, "protocolVersion")), "2025-03-26");
    assert_non_null(json_object_get(json_object_get(res, "capabilities"), "tools"));
    assert_non_null(json_object_get(json_object_get(res, "capabilities"), "logging"));
    assert_non_null(json_object_get(json_object_get(res, "capabilities"), "prompts"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(res, "serverInfo"), "name")), "test");
    json_decref(r);
    stop(h);

    h = start(false);
    sendl(h, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"1999-01-01\","
             "\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}");
    r = recv_response(h, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "result"), "protocolVersion")),
                        mcp_protocol_versions[0]);
    json_decref(r);
    stop(h);
}

static void test_error_codes(void **state)
{
    struct harness *h = start(false);
    /* before initialize: ping works, other requests are refused */
    sendl(h, "{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":\"ping\"}");
    json_t *r = recv_response(h, NULL);
    assert_true(json_is_object(json_object_get(r, "result")));
    json_decref(r);
    sendl(h, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
    r = recv_response(h, NULL);
    assert_int_equal(error_code(r), MCP_INVALID_REQUEST);
    assert_non_null(strstr(error_message(r), "initialize"));
    json_decref(r);

    initialize(h, "2025-06-18", "{}");
    sendl(h, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/li");
    r = recv_response(h, NULL);
    assert_int_equal(error_code(r), MCP_PARSE_ERROR);
    assert_true(json_is_null(json_object_get(r, "id")));
    json_decref(r);

    const char *invalid[] = {"42", "[1,2]", "{\"jsonrpc\":\"1.0\",\"id\":4,\"method\":\"ping\"}",
                             "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}",
                             "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":7}", "{\"jsonrpc\":\"2.0\",\"id\":6}"};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        sendl(h, invalid[i]);
        r = recv_response(h, NULL);
        assert_int_equal(error_code(r), MCP_INVALID_REQUEST);
        json_decref(r);
    }
    sendl(h, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"resources/list\"}");
    r = recv_response(h, NULL);
    assert_int_equal(error_code(r), MCP_METHOD_NOT_FOUND);
    assert_int_equal(json_integer_value(json_object_get(r, "id")), 7);
    json_decref(r);

    sendl(h, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":{\"name\":\"nope\"}}");
    r = recv_response(h, NULL);
    assert_int_equal(error_code(r), MCP_INVALID_PARAMS);
    assert_non_null(strstr(error_message(r), "Unknown tool 'nope'"));
    assert_non_null(strstr(error_message(r), "echo"));
    json_decref(r);

    struct {
        const char *args, *needle;
    } bad[] = {
        {"{}", "the argument 'text' is required"},
        {"{\"text\":5}", "text must be of type string, got an integer 5"},
        {"{\"text\":\"\"}", "text must be at least 1 characters long"},
        {"{\"text\":\"x\",\"n\":0}", "n must be at least 1, got 0"},
        {"{\"text\":\"x\",\"n\":11}", "n must be at most 10, got 11"},
        {"{\"text\":\"x\",\"n\":1.5}", "n must be of type integer or null"},
        {"{\"text\":\"x\",\"mode\":\"c\"}", "mode must be one of \"a\", \"b\"; got \"c\""},
        {"{\"text\":\"x\",\"extra\":1}", "unknown property 'extra'"},
        {"[]", "arguments must be an object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char line[512];
        snprintf(line, sizeof line,
                 "{\"jsonrpc\":\"2.0\",\"id\":%zu,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
                 "\"arguments\":%s}}",
                 100 + i, bad[i].args);
        sendl(h, line);
        r = recv_response(h, NULL);
        assert_int_equal(error_code(r), MCP_INVALID_PARAMS);
        if (!strstr(error_message(r), bad[i].needle))
            fail_msg("for %s expected '%s' in '%s'", bad[i].args, bad[i].needle, error_message(r));
        json_decref(r);
    }
    /* notifications never get an answer, even unknown or broken ones; the next answer is for id 9 */
    sendl(h, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/whatever\"}");
    sendl(h, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\"}");
    r = recv_response(h, NULL);
    assert_int_equal(json_integer_value(json_object_get(r, "id")), 9);
    json_decref(r);
    stop(h);
}

static void test_framing(void **state)
{
    struct harness *h = start(false);
    initialize(h, "2025-06-18", "{}");
    /* CRLF, blank lines, whitespace, and a request written one byte at a time */
    const char *crlf = "\r\n\n   \n{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r\n";
    send_raw(h, crlf, strlen(crlf));
    json_t *r = recv_response(h, NULL);
    assert_int_equal(json_integer_value(json_object_get(r, "id")), 1);
    json_decref(r);
    const char *slow = "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\n";
    for (const char *p = slow; *p; p++)
        send_raw(h, p, 1);
    r = recv_response(h, NULL);
    assert_int_equal(json_integer_value(json_object_get(r, "id")), 2);
    json_decref(r);

    /* a 5 MiB argument goes through intact */
    size_t big = 5u << 20;
    char *text = malloc(big + 1);
    memset(text, 'x', big);
    text[big] = '\0';
    char *line = NULL;
    assert_true(asprintf(&line, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
                                "\"arguments\":{\"text\":\"%s\"}}}", text) > 0);
    sendl(h, line);
    free(line);
    r = recv_response(h, NULL);
    json_t *echoed = json_object_get(json_object_get(json_object_get(json_object_get(r, "result"),
                                                                     "structuredContent"), "echo"), "text");
    assert_int_equal(json_string_length(echoed), big);
    json_decref(r);
    free(text);

    /* a line over the limit is refused and skipped; the next line works */
    size_t over = MCP_MAX_LINE + 10;
    char *huge = malloc(over);
    memset(huge, ' ', over);
    huge[0] = '{';
    send_raw(h, huge, over);
    free(huge);
    sendl(h, "");
    r = recv_response(h, NULL);
    assert_int_equal(error_code(r), MCP_INVALID_REQUEST);
    assert_non_null(strstr(error_message(r), "limit"));
    json_decref(r);
    sendl(h, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\"}");
    r = recv_response(h, NULL);
    assert_int_equal(json_integer_value(json_object_get(r, "id")), 4);
    json_decref(r);
    /* a last line without newline still counts */
    const char *last = "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"ping\"}";
    send_raw(h, last, strlen(last));
    close(h->to_srv);
    r = recv_response(h, NULL);
    assert_int_equal(json_integer_value(json_object_get(r, "id")), 5);
    json_decref(r);
    h->to_srv = open("/dev/null", 0);
    stop(h);
}

static void test_tools_list_and_read_only(void **state)
{
    struct harness *h = start(false);
    initialize(h, "2025-06-18", "{}");
    sendl(h, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    json_t *r = recv_response(h, NULL);
    json_t *tools = json_object_get(json_object_get(r, "result"), "tools");
    assert_int_equal(json_array_size(tools), 4);
    json_t *echo = json_array_get(tools, 0);
    assert_string_equal(json_string_value(json_object_get(echo, "title")), "Echo");
    assert_true(json_is_false(json_object_get(json_object_get(json_object_get(echo, "inputSchema"),
                                                              "additionalProperties"), "x")) ||
                json_is_false(json_object_get(json_object_get(echo, "inputSchema"), "additionalProperties")));
    assert_true(json_is_true(json_object_get(json_object_get(echo, "annotations"), "readOnlyHint")));
    assert_non_null(json_object_get(echo, "outputSchema"));
    json_t *confirm = json_array_get(tools, 2);
    assert_true(json_is_true(json_object_get(json_object_get(confirm, "annotations"), "destructiveHint")));
    /* tools/list stays small (issue 18): no annotations.title beside the top-level one (2025-06-18 on),
     * no readOnlyHint false nor idempotentHint false (their defaults, and the cautious reading) */
    assert_null(json_object_get(json_object_get(echo, "annotations"), "title"));
    assert_null(json_object_get(json_object_get(confirm, "annotations"), "readOnlyHint"));
    json_decref(r);
    stop(h);

    /* a 2025-03-26 client knows no top-level title: annotations.title is there for it */
    h = start(false);
    initialize(h, "2025-03-26", "{}");
    sendl(h, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    r = recv_response(h, NULL);
    echo = json_array_get(json_object_get(json_object_get(r, "result"), "tools"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(echo, "annotations"), "title")), "Echo");
    assert_null(json_object_get(echo, "title"));
    json_decref(r);
    stop(h);

    h = start(true);
    initialize(h, "2025-06-18", "{}");
    sendl(h, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    r = recv_response(h, NULL);
    tools = json_object_get(json_object_get(r, "result"), "tools");
    assert_int_equal(json_array_size(tools), 2);
    json_decref(r);
    sendl(h, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"confirm\"}}");
    r = recv_response(h, NULL);
    assert_int_equal(error_code(r), MCP_INVALID_PARAMS);
    assert_non_null(strstr(error_message(r), "read-only"));
    json_decref(r);
    stop(h);
}

static void test_logging_and_progress(void **state)
{
    struct harness *h = start(false);
    initialize(h, "2025-06-18", "{}");
    util_log_set_stderr(false);
    sendl(h, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"logging/setLevel\",\"params\":{\"level\":\"loud\"}}");
    json_t *r = recv_response(h, NULL);
    assert_int_equal(error_code(r), MCP_INVALID_PARAMS);
    json_decref(r);
    sendl(h, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"logging/setLevel\",\"params\":{\"level\":\"debug\"}}");
    r = recv_response(h, NULL);
    assert_non_null(json_object_get(r, "result"));
    json_decref(r);
    sendl(h, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
             "\"arguments\":{\"text\":\"hi\"},\"_meta\":{\"progressToken\":\"tok\"}}}");
    json_t *notes = json_array();
    r = recv_response(h, notes);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(json_object_get(r, "result"),
                                                                                         "content"), 0), "text")),
                        "echoed");
    json_decref(r);
    bool saw_progress = false, saw_log = false;
    size_t i;
    json_t *n;
    json_array_foreach(notes, i, n) {
        const char *m = json_string_value(json_object_get(n, "method"));
        json_t *p = json_object_get(n, "params");
        if (!strcmp(m, "notifications/progress")) {
            saw_progress = true;
            assert_string_equal(json_string_value(json_object_get(p, "progressToken")), "tok");
        }
        if (!strcmp(m, "notifications/message") && strstr(json_string_value(json_object_get(p, "data")), "echo called"))
            saw_log = true;
    }
    assert_true(saw_progress);
    assert_true(saw_log);
    json_decref(notes);
    util_log_set_stderr(true);
    stop(h);
}

static void test_cancellation(void **state)
{
    struct harness *h = start(false);
    initialize(h, "2025-06-18", "{}");
    sendl(h, "{\"jsonrpc\":\"2.0\",\"id\":\"w1\",\"method\":\"tools/call\",\"params\":{\"name\":\"wait\"}}");
    usleep(20000);
    sendl(h, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":\"w1\"}}");
    sendl(h, "{\"jsonrpc\":\"2.0\",\"id\":\"after\",\"method\":\"tools/list\"}");
    json_t *r = recv_response(h, NULL);
    /* the cancelled call got no response: the first answer is for the next request */
    assert_string_equal(json_string_value(json_object_get(r, "id")), "after");
    json_decref(r);
    stop(h);
}

/* issue 14 item 5: a call that started writing ignores notifications/cancelled and is answered. */
static void test_committed_call_is_answered(void **state)
{
    struct harness *h = start(false);
    initialize(h, "2025-06-18", "{}");
    sendl(h, "{\"jsonrpc\":\"2.0\",\"id\":\"c1\",\"method\":\"tools/call\",\"params\":{\"name\":\"commit\","
             "\"_meta\":{\"progressToken\":\"p\"}}}");
    json_t *note = recv_msg(h); /* committed and writing */
    assert_string_equal(json_string_value(json_object_get(note, "method")), "notifications/progress");
    json_decref(note);
    sendl(h, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":\"c1\"}}");
    json_t *r = recv_response(h, NULL);
    assert_string_equal(json_string_value(json_object_get(r, "id")), "c1");
    const char *text = json_string_value(json_object_get(json_array_get(json_object_get(json_object_get(r, "result"),
                                                                                        "content"), 0), "text"));
    assert_string_equal(text, "written");
    json_decref(r);
    stop(h);
}

/* also in issue 14: stdin closing cancels the running call (the server then ends). */
static void test_end_of_input_cancels_the_running_call(void **state)
{
    struct harness *h = start(false);
    initialize(h, "2025-06-18", "{}");
    sendl(h, "{\"jsonrpc\":\"2.0\",\"id\":\"w1\",\"method\":\"tools/call\",\"params\":{\"name\":\"wait\","
             "\"_meta\":{\"progressToken\":\"p\"}}}");
    json_t *note = recv_msg(h); /* the call is running */
    assert_string_equal(json_string_value(json_object_get(note, "method")), "notifications/progress");
    json_decref(note);
    close(h->to_srv); /* the wait tool returns only once cancelled: else this join never returns */
    pthread_join(h->thread, NULL);
    assert_int_equal(h->rc, 0);
    close(h->from_srv);
    close(h->srv_in);
    util_buf_free(&h->in);
    mcp_server_free(h->srv);
    free(h);
}

/* issue 14 items 14 and 16: a message that would be cut inside a UTF-8 character, and a frame
 * whose strings hold U+0000, are still answered, to their id. */
static void test_every_request_is_answered(void **state)
{
    struct harness *h = start(false);
    initialize(h, "2025-06-18", "{}");
    util_buf b;
    util_buf_init(&b, 0);
    util_buf_puts(&b, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
                      "\"arguments\":{\"text\":\"t\",\"mode\":\"x");
    for (int i = 0; i < 40; i++)
        util_buf_puts(&b, "\xc3\xa9"); /* é: the value shown in the message is cut at 57 bytes */
    util_buf_puts(&b, "\"}}}");
    sendl(h, b.data);
    util_buf_free(&b);
    json_t *r = recv_response(h, NULL);
    assert_int_equal(json_integer_value(json_object_get(r, "id")), 5);
    assert_int_equal(error_code(r), MCP_INVALID_PARAMS);
    assert_non_null(strstr(error_message(r), "mode"));
    json_decref(r);
    sendl(h, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\",\"params\":{\"x\":\"a\\u0000b\"}}");
    r = recv_response(h, NULL);
    assert_int_equal(json_integer_value(json_object_get(r, "id")), 7);
    assert_int_equal(error_code(r), MCP_INVALID_REQUEST);
    json_decref(r);
    stop(h);
}

/* issue 15: read calls run together (each "meet" returns only when all are running), writes one
 * at a time in arrival order while a read answers beside them. */
static void test_concurrent_calls(void **state)
{
    struct harness *h = start_with(false, &t_meet, &t_serial);
    initialize(h, "2025-06-18", "{}");
    atomic_store(&g_meeting, 0);
    for (int i = 0; i < 10; i++) {
        char line[160];
        snprintf(line, sizeof line, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":"
                 "\"meet\",\"arguments\":{\"want\":10}}}", i);
        sendl(h, line);
    }
    for (int i = 0; i < 10; i++) {
        json_t *r = recv_response(h, NULL);
        assert_true(json_is_true(json_object_get(json_object_get(json_object_get(r, "result"), "structuredContent"),
                                                 "met")));
        json_decref(r);
    }
    atomic_store(&g_writing, 0), atomic_store(&g_overlapped, 0), atomic_store(&g_order_n, 0);
    for (int i = 0; i < 4; i++) {
        char line[160];
        snprintf(line, sizeof line, "{\"jsonrpc\":\"2.0\",\"id\":\"w%d\",\"method\":\"tools/call\",\"params\":{\"name\":"
                 "\"serial\",\"arguments\":{\"n\":%d}}}", i, i);
        sendl(h, line);
    }
    sendl(h, "{\"jsonrpc\":\"2.0\",\"id\":\"r\",\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
             "\"arguments\":{\"text\":\"x\"}}}");
    const char *ids[5];
    for (int i = 0; i < 5; i++) {
        json_t *r = recv_response(h, NULL);
        ids[i] = json_string_value(json_object_get(r, "id"))[0] == 'r' ? "r" : "w";
        json_decref(r);
    }
    assert_string_equal(ids[0], "r"); /* the read did not wait behind the four writes */
    assert_int_equal(atomic_load(&g_overlapped), 0);
    assert_int_equal(atomic_load(&g_order_n), 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(g_order[i], i);
    stop(h);
}

static void test_elicitation(void **state)
{
    const char *replies[] = {"{\"action\":\"accept\",\"content\":{\"confirm\":true}}", "{\"action\":\"decline\"}"};
    const char *expect[] = {"accept", "decline"};
    for (int k = 0; k < 2; k++) {
        struct harness *h = start(false);
        initialize(h, "2025-06-18", "{\"elicitation\":{}}");
        sendl(h, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"confirm\"}}");
        json_t *req = recv_msg(h);
        assert_string_equal(json_string_value(json_object_get(req, "method")), "elicitation/create");
        assert_string_equal(json_string_value(json_object_get(json_object_get(req, "params"), "message")), "Apply?");
        char line[512];
        char *id = json_dumps(json_object_get(req, "id"), JSON_ENCODE_ANY);
        snprintf(line, sizeof line, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":%s}", id, replies[k]);
        free(id);
        json_decref(req);
        sendl(h, line);
        json_t *r = recv_response(h, NULL);
        assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(r, "result"),
                                                                              "structuredContent"), "action")),
                            expect[k]);
        json_decref(r);
        stop(h);
    }
    /* a client without the capability is never asked */
    struct harness *h = start(false);
    initialize(h, "2025-06-18", "{}");
    sendl(h, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"confirm\"}}");
    json_t *r = recv_response(h, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(r, "result"),
                                                                          "structuredContent"), "action")),
                        "unsupported");
    json_decref(r);
    stop(h);
}

static void test_prompts(void **state)
{
    struct harness *h = start(false);
    initialize(h, "2025-06-18", "{}");
    sendl(h, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"prompts/list\"}");
    json_t *r = recv_response(h, NULL);
    assert_int_equal(json_array_size(json_object_get(json_object_get(r, "result"), "prompts")), 1);
    json_decref(r);
    sendl(h, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"prompts/get\",\"params\":{\"name\":\"quota\"}}");
    r = recv_response(h, NULL);
    assert_int_equal(error_code(r), MCP_INVALID_PARAMS);
    assert_non_null(strstr(error_message(r), "'team' is required"));
    json_decref(r);
    sendl(h, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"prompts/get\",\"params\":{\"name\":\"quota\","
             "\"arguments\":{\"team\":\"growth\"}}}");
    r = recv_response(h, NULL);
    char *dump = json_dumps(r, 0);
    assert_non_null(strstr(dump, "growth"));
    free(dump);
    json_decref(r);
    stop(h);
}

static void test_schema(void **state)
{
    json_t *schema = json_loads(
        "{\"type\":\"object\",\"properties\":{\"backends\":{\"type\":\"array\",\"minItems\":1,\"items\":{"
        "\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\",\"pattern\":\"^[a-z-]+$\"},"
        "\"priority\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100}},\"required\":[\"id\"],"
        "\"additionalProperties\":false}}},\"additionalProperties\":false}",
        0, NULL);
    struct {
        const char *inst, *needle;
    } cases[] = {
        {"{\"backends\":[]}", "backends must have at least 1 items"},
        {"{\"backends\":[{\"id\":\"a\"},{\"id\":\"b\",\"priority\":0}]}", "backends[1].priority must be at least 1"},
        {"{\"backends\":[{\"id\":\"A_1\"}]}", "backends[0].id must match the pattern"},
        {"{\"backends\":[{}]}", "backends[0].id is required"},
        {"{\"backends\":[{\"id\":\"a\",\"url\":\"x\"}]}", "unknown property 'url' in backends[0]"},
        {"{\"backends\":[{\"id\":\"a\",\"priority\":3}]}", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *inst = json_loads(cases[i].inst, 0, NULL);
        util_error err;
        util_error_clear(&err);
        int rc = mcp_schema_validate(schema, inst, &err);
        if (!cases[i].needle) {
            assert_int_equal(rc, 0);
        } else {
            assert_int_equal(rc, UTIL_EINVAL);
            if (!strstr(err.message, cases[i].needle))
                fail_msg("expected '%s' in '%s'", cases[i].needle, err.message);
        }
        json_decref(inst);
    }
    json_decref(schema);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_negotiation),   cmocka_unit_test(test_error_codes),
        cmocka_unit_test(test_framing),       cmocka_unit_test(test_tools_list_and_read_only),
        cmocka_unit_test(test_logging_and_progress), cmocka_unit_test(test_cancellation),
        cmocka_unit_test(test_elicitation),   cmocka_unit_test(test_prompts),
        cmocka_unit_test(test_schema),
        cmocka_unit_test(test_committed_call_is_answered),
        cmocka_unit_test(test_end_of_input_cancels_the_running_call),
        cmocka_unit_test(test_every_request_is_answered),
        cmocka_unit_test(test_concurrent_calls),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    util_log_free_all();
    return rc;
}
