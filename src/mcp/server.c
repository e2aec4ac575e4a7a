/* server: the MCP lifecycle and request dispatch — initialize and version negotiation,
 * tool calls run on worker threads (reads together, writes one at a time in order: see
 * docs/architecture.md "Threads"),
 * tools/list, tools/call with schema validation, prompts, logging/setLevel and
 * notifications/message, progress and elicitation for running calls. */
#include <stdio.h>
#include <string.h>

#include "mcp_internal.h"
#include "platform.h"

const char *const mcp_protocol_versions[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05", NULL};

/* ---- registry -------------------------------------------------------------------------- */

struct mcp_server *mcp_server_new(const struct mcp_server_info *info)
{
    struct mcp_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return NULL;
    srv->info = *info;
    pthread_mutex_init(&srv->out_lock, NULL);
    pthread_mutex_init(&srv->lock, NULL);
    pthread_cond_init(&srv->cond, NULL);
    pthread_cond_init(&srv->work, NULL);
    srv->reads.max = MCP_MAX_READERS;
    srv->writes.max = 1;
    return srv;
}

void mcp_server_free(struct mcp_server *srv)
{
    if (!srv)
        return;
    for (size_t i = 0; i < srv->n_tools; i++) {
        json_decref(srv->tool_input[i]);
        json_decref(srv->tool_output[i]);
    }
    while (srv->head) {
        struct mcp_queue_item *it = srv->head;
        srv->head = it->next;
        json_decref(it->msg);
        free(it);
    }
    pthread_mutex_destroy(&srv->out_lock);
    pthread_mutex_destroy(&srv->lock);
    pthread_cond_destroy(&srv->cond);
    pthread_cond_destroy(&srv->work);
    free(srv);
}

static json_t *parse_schema(const char *text, const char *tool, const char *which, util_error *err)
{
    json_error_t jerr;
    json_t *s = json_loads(text, 0, &jerr);
    if (!s || !json_is_object(s)) {
        util_error_set(err, UTIL_EINVAL, "tool %s: %s schema is not a JSON object (%s, line %d)", tool, which,
                       s ? "not an object" : jerr.text, jerr.line);
        json_decref(s);
        return NULL;
    }
    return s;
}

int mcp_server_add_tool(struct mcp_server *srv, const struct mcp_tool *tool, void *user, util_error *err)
{
    if (srv->n_tools == MCP_MAX_TOOLS)
        return util_error_set(err, UTIL_EINVAL, "too many tools (at most %d)", MCP_MAX_TOOLS);
    json_t *in = parse_schema(tool->input_schema, tool->name, "input", err);
    if (!in)
        return UTIL_EINVAL;
    json_t *out = NULL;
    if (tool->output_schema && !(out = parse_schema(tool->output_schema, tool->name, "output", err))) {
        json_decref(in);
        return UTIL_EINVAL;
    }
    srv->tools[srv->n_tools] = tool;
    srv->tool_user[srv->n_tools] = user;
    srv->tool_input[srv->n_tools] = in;
    srv->tool_output[srv->n_tools] = out;
    srv->n_tools++;
    return 0;
}

int mcp_server_add_prompt(struct mcp_server *srv, const struct mcp_prompt *prompt, void *user, util_error *err)
{
    if (srv->n_prompts == MCP_MAX_PROMPTS)
        return util_error_set(err, UTIL_EINVAL, "too many prompts (at most %d)", MCP_MAX_PROMPTS);
    srv->prompts[srv->n_prompts] = prompt;
    srv->prompt_user[srv->n_prompts] = user;
    srv->n_prompts++;
    return 0;
}

/* ---- results --------------------------------------------------------------------------- */

json_t *mcp_result_ok(json_t *structured, const char *text)
{
    json_t *r = json_pack("{s:[{s:s, s:s}]}", "content", "type", "text", "text", text ? text : "");
    if (!r) { /* not valid UTF-8 (a cut character): the text cleaned, rather than no answer at all */
        char *clean = util_strdup(text);
        util_text_clean(clean);
        r = json_pack("{s:[{s:s, s:s}]}", "content", "type", "text", "text", clean);
        free(clean);
    }
    if (structured)
        json_object_set_new(r, "structuredContent", structured);
    return r;
}

json_t *mcp_result_error(json_t *structured, const char *fmt, ...)
{
    char text[UTIL_ERROR_MAX * 2];
    va_list ap;
    va_start(ap, fmt);
    util_vformat(text, sizeof text, fmt, ap); /* scrubbed, then cut on a character boundary */
    va_end(ap);
    json_t *r = mcp_result_ok(structured, text);
    json_object_set_new(r, "isError", json_true());
    return r;
}

/* ---- call context ---------------------------------------------------------------------- */

bool mcp_call_cancelled(const struct mcp_call *call) { return atomic_load(&call->cancelled) != 0; }
const atomic_int *mcp_call_cancel_flag(struct mcp_call *call) { return &call->cancelled; }
bool mcp_call_commit(struct mcp_call *call)
{
    if (!call)
        return true;
    pthread_mutex_lock(&call->srv->lock);
    bool ok = atomic_load(&call->cancelled) == 0;
    call->committed = ok;
    pthread_mutex_unlock(&call->srv->lock);
    return ok;
}
const char *mcp_call_protocol_version(const struct mcp_call *call) { return call->srv->protocol_version; }

int mcp_call_stop_requested(const struct mcp_call *call)
{
    if (platform_terminate_pending())
        return MCP_STOP_SIGNAL;
    return call && atomic_load(&call->stop) ? MCP_STOP_CANCELLED : MCP_STOP_NONE;
}

void mcp_call_hold_exit(struct mcp_call *call, bool hold)
{
    (void)call;
    platform_terminate_defer(hold);
}
bool mcp_call_can_elicit(const struct mcp_call *call) { return call->srv->client_elicit_form; }

void mcp_call_progress(struct mcp_call *call, double progress, double total, const char *message)
{
    if (!call->progress_token || atomic_load(&call->cancelled))
        return;
    json_t *params = json_pack("{s:O, s:f}", "progressToken", call->progress_token, "progress", progress);
    if (total > 0)
        json_object_set_new(params, "total", json_real(total));
    if (message)
        json_object_set_new(params, "message", json_string(message));
    json_t *msg = json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0", "method", "notifications/progress", "params", params);
    mcp_write(call->srv, msg);
    json_decref(msg);
}

enum mcp_elicit_action mcp_call_elicit(struct mcp_call *call, const char *message, json_t *requested_schema,
                                       json_t **content, util_error *err)
{
    struct mcp_server *srv = call->srv;
    if (content)
        *content = NULL;
    if (!srv->client_elicit_form)
        return MCP_ELICIT_UNSUPPORTED;
    pthread_mutex_lock(&srv->lock);
    snprintf(call->pending_id, sizeof call->pending_id, "aigw-elicit-%u", ++srv->next_request);
    json_t *id = json_string(call->pending_id);
    pthread_mutex_unlock(&srv->lock);

    json_t *req = json_pack("{s:s, s:O, s:s, s:{s:s, s:O}}", "jsonrpc", "2.0", "id", id, "method",
                            "elicitation/create", "params", "message", message, "requestedSchema", requested_schema);
    if (strcmp(srv->protocol_version, "2025-11-25") >= 0)
        json_object_set_new(json_object_get(req, "params"), "mode", json_string("form"));
    mcp_write(srv, req);
    json_decref(req);
    json_decref(id);

    pthread_mutex_lock(&srv->lock);
    while (!call->pending_reply && !atomic_load(&call->cancelled) && !srv->eof)
        pthread_cond_wait(&srv->cond, &srv->lock);
    json_t *reply = call->pending_reply;
    call->pending_reply = NULL;
    call->pending_id[0] = '\0';
    pthread_mutex_unlock(&srv->lock);

    if (!reply)
        return MCP_ELICIT_CANCEL;
    enum mcp_elicit_action action = MCP_ELICIT_CANCEL;
    json_t *result = json_object_get(reply, "result");
    const char *a = json_string_value(json_object_get(result, "action"));
    if (!result) {
        const char *m = json_string_value(json_object_get(json_object_get(reply, "error"), "message"));
        util_error_set(err, UTIL_EREMOTE, "the client could not ask for confirmation: %s", m ? m : "unknown error");
    } else if (a && !strcmp(a, "accept")) {
        action = MCP_ELICIT_ACCEPT;
        if (content)
            *content = json_incref(json_object_get(result, "content"));
    } else if (a && !strcmp(a, "decline")) {
        action = MCP_ELICIT_DECLINE;
    }
    json_decref(reply);
    return action;
}

/* ---- logging bridge -------------------------------------------------------------------- */

static void log_sink(int level, const char *logger, const char *message, void *user)
{
    struct mcp_server *srv = user;
    json_t *msg = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "jsonrpc", "2.0", "method", "notifications/message",
                            "params", "level", util_log_level_name(level), "logger", logger ? logger : "server",
                            "data", message);
    mcp_write(srv, msg);
    json_decref(msg);
}

/* ---- handlers -------------------------------------------------------------------------- */

static json_t *tool_json(struct mcp_server *srv, size_t i)
{
    const struct mcp_tool *t = srv->tools[i];
    /* tools/list costs every conversation tokens: the title once — top-level from 2025-06-18 on, in
     * annotations for older clients (which know no other) — and readOnlyHint only when true (its
     * default is false) */
    bool top_title = strcmp(srv->protocol_version, "2025-06-18") >= 0;
    json_t *j = json_pack("{s:s}", "name", t->name);
    if (top_title)
        json_object_set_new(j, "title", json_string(t->title));
    json_object_set_new(j, "description", json_string(t->description));
    json_object_set(j, "inputSchema", srv->tool_input[i]);
    if (srv->tool_output[i])
        json_object_set(j, "outputSchema", srv->tool_output[i]);
    json_t *ann = json_pack("{s:b}", "openWorldHint", t->open_world_hint);
    if (!top_title)
        json_object_set_new(ann, "title", json_string(t->title));
    if (t->read_only_hint)
        json_object_set_new(ann, "readOnlyHint", json_true());
    if (!t->read_only_hint) /* idempotentHint only when true (default false: absent reads as the cautious no) */
        json_object_set_new(ann, "destructiveHint", json_boolean(t->destructive_hint));
    if (!t->read_only_hint && t->idempotent_hint)
        json_object_set_new(ann, "idempotentHint", json_true());
    json_object_set_new(j, "annotations", ann);
    return j;
}

static bool tool_visible(struct mcp_server *srv, size_t i) { return !(srv->info.read_only && srv->tools[i]->writes); }

static void handle_initialize(struct mcp_server *srv, json_t *id, json_t *params)
{
    const char *asked = json_string_value(json_object_get(params, "protocolVersion"));
    if (!asked) {
        mcp_write_error(srv, id, MCP_INVALID_PARAMS, "initialize: params.protocolVersion (a string) is required");
        return;
    }
    const char *agreed = mcp_protocol_versions[0];
    for (size_t i = 0; mcp_protocol_versions[i]; i++)
        if (!strcmp(asked, mcp_protocol_versions[i]))
            agreed = mcp_protocol_versions[i];
    snprintf(srv->protocol_version, sizeof srv->protocol_version, "%s", agreed);

    json_t *elicit = json_object_get(json_object_get(params, "capabilities"), "elicitation");
    /* form mode is implied by an empty object; a client naming only "url" cannot show forms */
    srv->client_elicit_form =
        json_is_object(elicit) && (json_object_size(elicit) == 0 || json_object_get(elicit, "form"));

    json_t *caps = json_pack("{s:{s:b}, s:{}}", "tools", "listChanged", 0, "logging");
    if (srv->n_prompts)
        json_object_set_new(caps, "prompts", json_pack("{s:b}", "listChanged", 0));
    json_t *result = json_pack("{s:s, s:o, s:{s:s, s:s, s:s}}", "protocolVersion", agreed, "capabilities", caps,
                               "serverInfo", "name", srv->info.name, "title", srv->info.title, "version",
                               srv->info.version);
    if (srv->info.instructions)
        json_object_set_new(result, "instructions", json_string(srv->info.instructions));
    srv->initialized = true;
    mcp_write_result(srv, id, result);
}

static void handle_tools_list(struct mcp_server *srv, json_t *id)
{
    json_t *tools = json_array();
    for (size_t i = 0; i < srv->n_tools; i++)
        if (tool_visible(srv, i))
            json_array_append_new(tools, tool_json(srv, i));
    mcp_write_result(srv, id, json_pack("{s:o}", "tools", tools));
}

static void invalid_params(struct mcp_server *srv, json_t *id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void invalid_params(struct mcp_server *srv, json_t *id, const char *fmt, ...)
{
    char text[UTIL_ERROR_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    util_vformat(text, sizeof text, fmt, ap);
    va_end(ap);
    mcp_write_error(srv, id, MCP_INVALID_PARAMS, text);
}

/* ---- running calls: the lanes and their workers ----------------------------------------- */

/* Runs one call on a worker thread and answers it (unless it was cancelled: then no response,
 * as MCP asks; a committed call, one that started writing, is never flagged). */
static bool call_run(struct mcp_server *srv, struct mcp_call *call)
{
    json_t *result = NULL;
    const char *name = srv->tools[call->tool]->name;
    if (!atomic_load(&call->cancelled))
        result = srv->tools[call->tool]->fn(call, call->args, srv->tool_user[call->tool]);
    pthread_mutex_lock(&srv->lock);
    struct mcp_call **pp = &srv->calls;
    while (*pp != call)
        pp = &(*pp)->next_call;
    *pp = call->next_call;
    bool cancelled = atomic_load(&call->cancelled) != 0, left = call->left_lane;
    pthread_mutex_unlock(&srv->lock);
    if (cancelled) {
        json_decref(result);
    } else {
        if (!result)
            result = mcp_result_error(NULL, "internal error: tool '%s' returned no result", name);
        mcp_write_result(srv, call->id, result);
    }
    json_decref(call->pending_reply);
    json_decref(call->args);
    json_decref(call->msg);
    free(call);
    return left;
}

struct worker_args {
    struct mcp_server *srv;
    struct mcp_lane *lane;
};

static void *worker_main(void *arg)
{
    struct worker_args wa = *(struct worker_args *)arg;
    free(arg);
    struct mcp_server *srv = wa.srv;
    struct mcp_lane *lane = wa.lane;
    pthread_mutex_lock(&srv->lock);
    for (;;) {
        while (!lane->head && !srv->stopping) {
            lane->idle++;
            pthread_cond_wait(&srv->work, &srv->lock);
            lane->idle--;
        }
        struct mcp_call *call = lane->head;
        if (!call)
            break;
        lane->head = call->next_queued;
        if (!lane->head)
            lane->tail = NULL;
        lane->queued--;
        call->on_worker = true;
        pthread_mutex_unlock(&srv->lock);
        bool left = call_run(srv, call);
        pthread_mutex_lock(&srv->lock);
        if (left) { /* its lane already counts a worker less: this thread ends here */
            srv->detached--;
            break;
        }
    }
    pthread_mutex_unlock(&srv->lock);
    return NULL;
}

/* Starts a worker for lane when every one of it is busy and it has room (srv->lock held). */
static void lane_grow(struct mcp_server *srv, struct mcp_lane *lane)
{
    if (lane->queued > lane->idle && lane->threads < lane->max && srv->n_workers < MCP_MAX_WORKERS) {
        struct worker_args *wa = malloc(sizeof *wa);
        if (wa) {
            *wa = (struct worker_args){srv, lane};
            if (pthread_create(&srv->workers[srv->n_workers], NULL, worker_main, wa) == 0) {
                srv->n_workers++;
                lane->threads++;
            } else {
                free(wa);
            }
        }
    }
}

bool mcp_call_leave_lane(struct mcp_call *call)
{
    if (!call)
        return false;
    struct mcp_server *srv = call->srv;
    struct mcp_lane *lane = srv->tools[call->tool]->read_only_hint && !srv->tools[call->tool]->writes ? &srv->reads
                                                                                                      : &srv->writes;
    pthread_mutex_lock(&srv->lock);
    bool ok = call->on_worker && !call->left_lane && srv->detached < MCP_MAX_DETACHED && lane->threads > 0;
    if (ok) {
        call->left_lane = true;
        srv->detached++;
        lane->threads--;
        lane_grow(srv, lane);
        pthread_cond_broadcast(&srv->work);
    }
    pthread_mutex_unlock(&srv->lock);
    return ok;
}

/* Queues an accepted call in its lane (reads or writes) and starts a worker when every one of
 * that lane is busy and the lane has room for another. */
static void call_start(struct mcp_server *srv, struct mcp_call *call)
{
    struct mcp_lane *lane = srv->tools[call->tool]->read_only_hint && !srv->tools[call->tool]->writes ? &srv->reads
                                                                                                      : &srv->writes;
    pthread_mutex_lock(&srv->lock);
    call->next_call = srv->calls;
    srv->calls = call;
    if (lane->tail)
        lane->tail->next_queued = call;
    else
        lane->head = call;
    lane->tail = call;
    lane->queued++;
    lane_grow(srv, lane);
    bool stuck = lane->threads == 0; /* no worker could be started at all */
    pthread_cond_broadcast(&srv->work);
    if (stuck) {
        lane->head = lane->tail = NULL;
        lane->queued = 0;
    }
    pthread_mutex_unlock(&srv->lock);
    if (stuck) /* run it here rather than never */
        call_run(srv, call);
}

/* At the end of input: lets the workers finish what they have, then joins them. */
static void workers_stop(struct mcp_server *srv)
{
    pthread_mutex_lock(&srv->lock);
    srv->stopping = true;
    pthread_cond_broadcast(&srv->work);
    size_t n = srv->n_workers;
    pthread_mutex_unlock(&srv->lock);
    for (size_t i = 0; i < n; i++)
        pthread_join(srv->workers[i], NULL);
}

/* Validates a tools/call and hands it (msg stolen: *taken true) to a lane; answers errors here. */
static void handle_tools_call(struct mcp_server *srv, json_t *msg, json_t *id, json_t *params, bool *taken)
{
    const char *name = json_string_value(json_object_get(params, "name"));
    if (!name) {
        invalid_params(srv, id, "tools/call: params.name (a string naming the tool) is required");
        return;
    }
    size_t i = 0;
    while (i < srv->n_tools && strcmp(srv->tools[i]->name, name) != 0)
        i++;
    if (i == srv->n_tools) {
        util_buf names;
        util_buf_init(&names, 4096);
        for (size_t k = 0; k < srv->n_tools; k++)
            if (tool_visible(srv, k))
                util_buf_printf(&names, "%s%s", names.len ? ", " : "", srv->tools[k]->name);
        invalid_params(srv, id, "Unknown tool '%s'. Available tools: %s", name, names.data ? names.data : "(none)");
        util_buf_free(&names);
        return;
    }
    if (!tool_visible(srv, i)) {
        invalid_params(srv, id,
                       "Tool '%s' changes the gateway and this server runs read-only (--read-only or "
                       "AIGW_READ_ONLY=1); restart it without that setting to allow changes",
                       name);
        return;
    }
    json_t *args = json_object_get(params, "arguments");
    if (args && !json_is_object(args)) {
        invalid_params(srv, id, "Invalid arguments for tool '%s': arguments must be an object", name);
        return;
    }
    json_t *own_args = args ? json_incref(args) : json_object();
    util_error err;
    util_error_clear(&err);
    if (mcp_schema_validate(srv->tool_input[i], own_args, &err) != 0) {
        invalid_params(srv, id, "Invalid arguments for tool '%s': %s", name, err.message);
        json_decref(own_args);
        return;
    }
    struct mcp_call *call = calloc(1, sizeof *call);
    if (!call) {
        json_decref(own_args);
        mcp_write_error(srv, id, MCP_INTERNAL_ERROR, "Internal error: out of memory accepting the call");
        return;
    }
    /* from here the worker owns msg (and the id, arguments and token inside it): jansson's
     * reference counts are not for objects two threads hold */
    *call = (struct mcp_call){.srv = srv, .msg = msg, .id = id, .args = own_args, .tool = i,
                              .progress_token = json_object_get(json_object_get(params, "_meta"), "progressToken")};
    *taken = true;
    call_start(srv, call);
}

static void handle_prompts_list(struct mcp_server *srv, json_t *id)
{
    json_t *list = json_array();
    for (size_t i = 0; i < srv->n_prompts; i++) {
        const struct mcp_prompt *p = srv->prompts[i];
        json_t *args = json_array();
        for (const struct mcp_prompt_arg *a = p->args; a && a->name; a++)
            json_array_append_new(args, json_pack("{s:s, s:s, s:b}", "name", a->name, "description", a->description,
                                                  "required", a->required));
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:o}", "name", p->name, "title", p->title,
                                              "description", p->description, "arguments", args));
    }
    mcp_write_result(srv, id, json_pack("{s:o}", "prompts", list));
}

static void handle_prompts_get(struct mcp_server *srv, json_t *id, json_t *params)
{
    const char *name = json_string_value(json_object_get(params, "name"));
    size_t i = 0;
    while (name && i < srv->n_prompts && strcmp(srv->prompts[i]->name, name) != 0)
        i++;
    if (!name || i == srv->n_prompts) {
        invalid_params(srv, id, "Unknown prompt '%s'", name ? name : "(missing params.name)");
        return;
    }
    const struct mcp_prompt *p = srv->prompts[i];
    json_t *args = json_object_get(params, "arguments");
    if (args && !json_is_object(args)) {
        invalid_params(srv, id, "prompts/get %s: arguments must be an object of strings", name);
        return;
    }
    for (const struct mcp_prompt_arg *a = p->args; a && a->name; a++) {
        json_t *v = json_object_get(args, a->name);
        if (a->required && !(json_is_string(v) && json_string_length(v) > 0)) {
            invalid_params(srv, id, "prompts/get %s: the argument '%s' is required (%s)", name, a->name,
                           a->description);
            return;
        }
    }
    json_t *own = args ? json_incref(args) : json_object();
    util_error err;
    util_error_clear(&err);
    json_t *result = p->fn(own, srv->prompt_user[i], &err);
    json_decref(own);
    if (!result)
        invalid_params(srv, id, "prompts/get %s: %s", name, err.message);
    else
        mcp_write_result(srv, id, result);
}

static void handle_set_level(struct mcp_server *srv, json_t *id, json_t *params)
{
    const char *lvl = json_string_value(json_object_get(params, "level"));
    int level = util_log_level_parse(lvl);
    if (level < 0) {
        invalid_params(srv, id,
                       "logging/setLevel: level must be one of debug, info, notice, warning, error, critical, alert, "
                       "emergency; got '%s'",
                       lvl ? lvl : "(missing)");
        return;
    }
    util_log_set_sink(log_sink, srv, level);
    mcp_write_result(srv, id, json_object());
}

/* Handles one message; true when a worker took it over (the caller must not free it). */
static bool dispatch(struct mcp_server *srv, json_t *msg)
{
    bool taken = false;
    const char *method = json_string_value(json_object_get(msg, "method"));
    json_t *id = json_object_get(msg, "id");
    json_t *params = json_object_get(msg, "params");
    if (!json_is_object(params))
        params = NULL;
    if (!id) /* notifications: initialized, roots changes... nothing to answer */
        return false;
    if (!strcmp(method, "initialize")) {
        handle_initialize(srv, id, params ? params : json_null());
        return false;
    }
    if (!srv->initialized) {
        char text[256];
        util_format(text, sizeof text, "Invalid Request: '%.64s' before initialize; send initialize first", method);
        mcp_write_error(srv, id, MCP_INVALID_REQUEST, text);
        return false;
    }
    if (!strcmp(method, "tools/list"))
        handle_tools_list(srv, id);
    else if (!strcmp(method, "tools/call"))
        handle_tools_call(srv, msg, id, params, &taken);
    else if (!strcmp(method, "prompts/list") && srv->n_prompts)
        handle_prompts_list(srv, id);
    else if (!strcmp(method, "prompts/get") && srv->n_prompts)
        handle_prompts_get(srv, id, params);
    else if (!strcmp(method, "logging/setLevel"))
        handle_set_level(srv, id, params);
    else {
        char text[256];
        util_format(text, sizeof text, "Method not found: '%.64s'", method);
        mcp_write_error(srv, id, MCP_METHOD_NOT_FOUND, text);
    }
    return taken;
}

int mcp_server_run(struct mcp_server *srv, int in_fd, int out_fd)
{
    platform_ignore_sigpipe();
    srv->out_fd = out_fd;
    pthread_t reader;
    if (mcp_transport_start(srv, in_fd, &reader) != 0)
        return UTIL_EIO;
    json_t *msg;
    while ((msg = mcp_transport_pop(srv)) != NULL)
        if (!dispatch(srv, msg))
            json_decref(msg);
    workers_stop(srv);
    pthread_join(reader, NULL);
    util_log_set_sink(NULL, NULL, UTIL_LOG_OFF);
    return srv->io_error ? UTIL_EIO : 0;
}
