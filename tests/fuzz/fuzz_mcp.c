/* fuzz_mcp: JSON-RPC framing and dispatch (src/mcp). The input is what a client writes on
 * stdin; it is served by mcp_server_run (reader thread, queue, dispatch, schema validation of
 * tools/call arguments against the real tools' input schemas, a test prompt, logging,
 * progress, elicitation) with stdout captured. Invariants:
 *   - stdout carries only JSON-RPC frames: every line is a JSON object with "jsonrpc":"2.0";
 *   - every request (a well-formed object with a string method and a string or integer id,
 *     ping included) gets a response with its id, when no notifications/cancelled may have
 *     dropped it.
 * The tools run a test handler (never the engine): it reports progress, asks for elicitation
 * when the client can answer, logs, and echoes its validated arguments. */
#include "fuzz.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

static int memfd_with(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz", 0);
    CHECK(fd >= 0);
    size_t off = 0;
    while (off < size) {
        ssize_t n = write(fd, data + off, size - off);
        CHECK(n > 0);
        off += (size_t)n;
    }
    CHECK(lseek(fd, 0, SEEK_SET) == 0);
    return fd;
}

static char *read_all(int fd, size_t *len)
{
    off_t end = lseek(fd, 0, SEEK_END);
    CHECK(end >= 0 && lseek(fd, 0, SEEK_SET) == 0);
    char *buf = malloc((size_t)end + 1);
    CHECK(buf);
    size_t off = 0;
    while (off < (size_t)end) {
        ssize_t n = read(fd, buf + off, (size_t)end - off);
        CHECK(n > 0);
        off += (size_t)n;
    }
    buf[off] = '\0';
    *len = off;
    return buf;
}

static bool valid_id(json_t *id) { return json_is_string(id) || json_is_integer(id); }

/* The requests of the input, as the transport frames them (lines, outer blanks/CR trimmed). */
static json_t *expected_requests(const char *in, size_t len, bool *has_cancel)
{
    json_t *ids = json_array();
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && in[i] != '\n')
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct mcp_server_info info = {"fuzz", "Fuzz", "0", "instructions", false};
    struct mcp_server *srv = mcp_server_new(&info);
    util_error err;
    for (size_t i = 0; i < n_test_tools; i++)
        CHECK(mcp_server_add_tool(srv, &test_tools[i], NULL, &err) == 0);
    CHECK(mcp_server_add_prompt(srv, &prompt, NULL, &err) == 0);
    int in = memfd_with(data, size), out = memfd_create("out", 0);
    CHECK(out >= 0);
    mcp_server_run(srv, in, out);
    mcp_server_free(srv);
    close(in);

    size_t out_len;
    char *text = read_all(out, &out_len);
    close(out);
    CHECK(out_len == 0 || text[out_len - 1] == '\n');
    json_t *answered = json_array();
    for (char *line = text, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        *nl = '\0';
        json_error_t jerr;
        json_t *msg = json_loads(line, 0, &jerr);
        if (!json_is_object(msg) || !json_is_string(json_object_get(msg, "jsonrpc")))
            fprintf(stderr, "fuzz_mcp: not a JSON-RPC frame on stdout: %.200s\n", line);
        CHECK(json_is_object(msg));
        CHECK(!strcmp(json_string_value(json_object_get(msg, "jsonrpc")), "2.0"));
        if (!json_object_get(msg, "method"))
            json_array_append(answered, json_object_get(msg, "id"));
        json_decref(msg);
    }
    free(text);

    bool has_cancel = false;
    json_t *asked = expected_requests((const char *)data, size, &has_cancel);
    if (!has_cancel) {
        size_t i;
        json_t *id;
        json_array_foreach(asked, i, id) {
            size_t k;
            json_t *got;
            bool found = false;
            json_array_foreach(answered, k, got) {
                if (json_equal(got, id)) {
                    json_array_remove(answered, k);
                    found = true;
                    break;
                }
            }
            if (!found) {
                char *s = json_dumps(id, JSON_ENCODE_ANY);
                fprintf(stderr, "fuzz_mcp: request %s was never answered\n", s ? s : "?");
                free(s);
            }
            CHECK(found);
        }
    }
    json_decref(asked);
    json_decref(answered);
    return 0;
}
