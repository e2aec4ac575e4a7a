/* change: the change pipeline of every write tool (see change.h) — diff, dry run, confirmation by
 * elicitation, writes with If-Match and undo of earlier writes when a later one fails, the journal
 * record and the write-tool result; plus the revert plan of a journal record. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "change.h"
#include "policy.h"

#define CHANGE_TEXT_DIFF_MAX 4000    /* diff bytes shown in the text block */
#define CHANGE_ELICIT_DIFF_MAX 16000 /* diff bytes shown in the confirmation question */

struct change {
    struct tools_ctx *ctx;
    struct mcp_call *call;
    char *tool;
    json_t *args;
    json_t *writes;   /* [{path, label, read_query, before, etag_before, after, before_text, after_text}] */
    json_t *todo;     /* the writes that change something (plan_diff), borrowed items of writes */
    json_t *warnings; /* [string] */
    json_t *extra;    /* extra structuredContent fields */
    json_t *before_view, *after_view;
    char *summary;
    char *reverts;    /* change_id this change reverts, or NULL */
    bool journal_only; /* journaled (and confirmed) even with nothing to write (change_set_journal_only) */
    json_t *record_extra; /* fields added to every journal record of this change, or NULL */
    change_before_write_fn before_write; /* change_set_before_write */
    void *before_write_user;
};

struct change *change_new(struct tools_ctx *ctx, struct mcp_call *call, const char *tool, json_t *args)
{
    struct change *ch = calloc(1, sizeof *ch);
    if (!ch)
        abort();
    ch->ctx = ctx;
    ch->call = call;
    ch->tool = util_strdup(tool);
    ch->args = args ? json_deep_copy(args) : json_object();
    ch->writes = json_array();
    ch->warnings = json_array();
    ch->extra = json_object();
    return ch;
}

void change_free(struct change *ch)
{
    if (!ch)
        return;
    free(ch->tool);
    free(ch->summary);
    free(ch->reverts);
    json_decref(ch->args);
    json_decref(ch->writes);
    json_decref(ch->todo);
    json_decref(ch->warnings);
    json_decref(ch->extra);
    json_decref(ch->before_view);
    json_decref(ch->after_view);
    json_decref(ch->record_extra);
    free(ch);
}

/* ---- helpers ------------------------------------------------------------------------- */

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static const char *jstr(const json_t *o, const char *key) { return json_string_value(json_object_get(o, key)); }

/* The body that puts a resource back as it was read: its properties only (ARM ignores the
 * rest), with format rawxml for policies read as rawxml (APIM does not return the format). */
static json_t *restore_body(const json_t *read, const char *read_query)
{
    json_t *props = json_object_get(read, "properties");
    json_t *p = json_is_object(props) ? json_deep_copy(props) : json_object();
    if (read_query && strstr(read_query, "format=rawxml") && json_object_get(p, "value") &&
        !json_object_get(p, "format"))
        json_object_set_new(p, "format", json_string("rawxml"));
    return json_pack("{s:o}", "properties", p);
}

int change_add(struct change *ch, const struct change_write *w, util_error *err)
{
    if (!w->path || !w->label)
        return util_error_set(err, UTIL_EINTERNAL, "a change write needs a path and a label");
    if (!w->before && !w->after)
        return util_error_set(err, UTIL_EINTERNAL, "a change write of %s deletes what does not exist", w->label);
    json_t *rec = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:s, s:s}", "path", w->path, "label", w->label,
                            "read_query", str_or_null(w->read_query),
                            "before", w->before ? restore_body(w->before, w->read_query) : json_null(),
                            "etag_before", str_or_null(w->before ? w->etag : NULL),
                            "after", w->after ? json_deep_copy(w->after) : json_null(),
                            "before_text", w->before_text ? w->before_text : "",
                            "after_text", w->after_text ? w->after_text : "");
    if (w->api)
        json_object_set_new(rec, "api", json_integer(w->api));
    if (w->no_etag)
        json_object_set_new(rec, "no_etag", json_true());
    json_array_append_new(ch->writes, rec);
    return 0;
}

void change_add_warning(struct change *ch, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    util_buf b;
    util_buf_init(&b, 4096);
    util_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    char *s = util_buf_steal(&b);
    util_text_clean(s); /* a warning may quote a cut error message: keep it valid UTF-8 */
    json_array_append_new(ch->warnings, json_string(s));
    free(s);
}

void change_set_extra(struct change *ch, const char *key, json_t *value) { json_object_set_new(ch->extra, key, value); }

void change_set_before_after(struct change *ch, json_t *before, json_t *after)
{
    json_decref(ch->before_view);
    json_decref(ch->after_view);
    ch->before_view = before;
    ch->after_view = after;
}

void change_set_summary(struct change *ch, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    util_buf b;
    util_buf_init(&b, 4096);
    util_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    free(ch->summary);
    ch->summary = util_buf_steal(&b);
}

static int read_api(struct arm_client *arm, int api, const char *path, const char *query, json_t **body, char **etag,
                    int64_t *date, util_error *err)
{
    *body = NULL;
    *etag = NULL;
    struct arm_request req = {.method = "GET", .path = path, .api = api, .query = query};
    struct arm_result res = {0};
    int rc = arm_call(arm, &req, &res, err);
    if (date && res.date)
        *date = res.date;
    if (rc == 0) {
        *body = res.body;
        *etag = res.etag;
        res.body = NULL;
        res.etag = NULL;
    } else if (rc == UTIL_ENOTFOUND) {
        util_error_clear(err);
        rc = 0;
    }
    arm_result_free(&res);
    return rc;
}

int change_read(struct arm_client *arm, const char *path, const char *query, json_t **body, char **etag,
                util_error *err)
{
    return read_api(arm, ARM_API_APIM, path, query, body, etag, NULL, err);
}

int change_read_dated(struct arm_client *arm, const char *path, const char *query, json_t **body, char **etag,
                      int64_t *date, util_error *err)
{
    return read_api(arm, ARM_API_APIM, path, query, body, etag, date, err);
}

/* The API of a write (enum arm_api, 0: APIM) and whether its resource type has no ETag. */
static int w_api(const json_t *w) { return (int)json_integer_value(json_object_get(w, "api")); }
static bool w_no_etag(const json_t *w) { return json_is_true(json_object_get(w, "no_etag")); }

/* Reads the resource of write w as change_read does, through w's API. */
static int read_w(struct arm_client *arm, const json_t *w, json_t **body, char **etag, util_error *err)
{
    return read_api(arm, w_api(w), json_string_value(json_object_get(w, "path")),
                    json_string_value(json_object_get(w, "read_query")), body, etag, NULL, err);
}

/* PUT body (DELETE when NULL) to w's path through w's API. */
static int send_w(struct arm_client *arm, const json_t *w, json_t *body, const char *if_match, struct arm_result *res,
                  util_error *err)
{
    struct arm_request req = {.method = body ? "PUT" : "DELETE", .path = json_string_value(json_object_get(w, "path")),
                              .api = w_api(w), .body = body, .if_match = if_match};
    return arm_call(arm, &req, res, err);
}

json_t *change_policy_body(const char *xml)
{
    return json_pack("{s:{s:s, s:s}}", "properties", "format", "rawxml", "value", xml ? xml : "");
}

const char *change_policy_text(const json_t *body)
{
    return json_string_value(json_object_get(json_object_get(body, "properties"), "value"));
}

char *change_policy_label(const char *path)
{
    char a[257] = "", b[257] = "";
    int n = 0, len = (int)strlen(path);
    if (sscanf(path, "apis/%256[^/]/operations/%256[^/]/policies/policy%n", a, b, &n) == 2 && n == len)
        return util_printf("policy of operation %s of API %s", b, a);
    if (sscanf(path, "apis/%256[^/]/policies/policy%n", a, &n) == 1 && n == len)
        return util_printf("policy of API %s", a);
    if (sscanf(path, "products/%256[^/]/policies/policy%n", a, &n) == 1 && n == len)
        return util_printf("policy of product %s", a);
    return util_strdup(strcmp(path, "policies/policy") ? path : "global policy");
}

char *change_json_text(const json_t *value)
{
    if (!value)
        return util_strdup("");
    char *s = json_dumps(value, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    char *out = util_printf("%s\n", s ? s : "");
    free(s);
    return out;
}

/* ---- the pipeline -------------------------------------------------------------------- */

/* A write the human did not confirm is not a success (issue 20): the result says nothing was
 * written and how to go on, and is an error, so an unattended client (one that cancels every
 * elicitation, as `claude -p` does) never mistakes it for a done change. */
static json_t *not_confirmed(json_t *r)
{
    json_object_set_new(r, "isError", json_true());
    json_t *text = json_object_get(json_array_get(json_object_get(r, "content"), 0), "text");
    const char *t = json_string_value(text);
    const char *next = "\nTo apply it, call the tool again and accept the confirmation. Where no human can answer "
                       "(a headless client), the user can set AIGW_CONFIRM=client so that the client's own per-tool "
                       "approval is the confirmation (docs/clients.md).";
    size_t nl = t ? strcspn(t, "\n") : 0;
    if (t) { /* the next step goes after the first line (the message), before the warnings and the diff */
        char *s = util_printf("%.*s%s%s", (int)nl, t, next, t + nl);
        json_string_set(text, s);
        free(s);
    }
    json_t *msg = json_object_get(json_object_get(r, "structuredContent"), "message");
    if (json_string_value(msg)) {
        char *s = util_printf("%s %s", json_string_value(msg), next + 1);
        json_string_set(msg, s);
        free(s);
    }
    return r;
}

/* Keeps in todo the writes that change something and builds the whole diff (a "# label" line
 * before each resource's section when there are several). Heap memory. */
static char *plan_diff(struct change *ch)
{
    util_buf b;
    util_buf_init(&b, 0);
    json_t *w;
    size_t i;
    ch->todo = json_array();
    json_array_foreach(ch->writes, i, w) {
        char *d = policy_diff(jstr(w, "before_text"), jstr(w, "after_text"));
        bool same_body = json_equal(json_object_get(w, "before"), json_object_get(w, "after"));
        if (*d || !same_body)
            json_array_append(ch->todo, w);
        if (*d)
            json_object_set_new(w, "diff", json_string(d));
        free(d);
    }
    json_array_foreach(ch->todo, i, w) {
        const char *d = jstr(w, "diff");
        if (d && json_array_size(ch->todo) > 1)
            util_buf_printf(&b, "# %s\n", jstr(w, "label"));
        if (d)
            util_buf_puts(&b, d);
    }
    util_buf_puts(&b, "");
    return util_buf_steal(&b);
}

static const char *default_summary(struct change *ch, util_buf *b)
{
    json_t *w;
    size_t i;
    json_array_foreach(ch->todo, i, w)
        util_buf_printf(b, "%s%s", i ? ", " : "", jstr(w, "label"));
    util_buf_puts(b, "");
    return ch->summary ? ch->summary : b->data;
}

/* The first max bytes of s, cut on a UTF-8 character boundary (a cut character would make the
 * whole result unencodable). Heap. */
static char *capped(const char *s, size_t max)
{
    char *c = util_strndup(s, max);
    util_utf8_cut(c, max);
    return c;
}

/* before/after of the result: the tool's, or the texts of the writes. NEW references. */
static void result_views(struct change *ch, json_t **before, json_t **after)
{
    if (ch->before_view) {
        *before = json_incref(ch->before_view);
        *after = json_incref(ch->after_view ? ch->after_view : json_null());
        return;
    }
    size_t n = json_array_size(ch->writes);
    if (n == 1) {
        json_t *w = json_array_get(ch->writes, 0);
        *before = json_is_null(json_object_get(w, "before")) ? json_null() : json_string(jstr(w, "before_text"));
        *after = json_is_null(json_object_get(w, "after")) ? json_null() : json_string(jstr(w, "after_text"));
        return;
    }
    *before = json_object();
    *after = json_object();
    json_t *w;
    size_t i;
    json_array_foreach(ch->writes, i, w) {
        const char *label = jstr(w, "label");
        json_object_set_new(*before, label, json_is_null(json_object_get(w, "before"))
                                                ? json_null() : json_string(jstr(w, "before_text")));
        json_object_set_new(*after, label, json_is_null(json_object_get(w, "after"))
                                               ? json_null() : json_string(jstr(w, "after_text")));
    }
}

/* The result: structured fields plus a text block (message, warnings, diff capped). */
static json_t *result(struct change *ch, bool applied, const char *change_id, const char *diff, const char *message)
{
    json_t *before, *after;
    result_views(ch, &before, &after);
    json_t *s = json_pack("{s:b, s:o, s:o, s:o, s:s, s:O, s:s}", "applied", applied, "change_id",
                          str_or_null(change_id), "before", before, "after", after, "diff", diff, "warnings",
                          ch->warnings, "message", message);
    json_object_update(s, ch->extra);
    util_buf t;
    util_buf_init(&t, 0);
    util_buf_puts(&t, message);
    json_t *w;
    size_t i;
    json_array_foreach(ch->warnings, i, w)
        util_buf_printf(&t, "\nwarning: %s", json_string_value(w));
    size_t dl = strlen(diff);
    char *shown = capped(diff, CHANGE_TEXT_DIFF_MAX);
    if (dl)
        util_buf_printf(&t, "\n%s%s", shown,
                        dl > CHANGE_TEXT_DIFF_MAX ? "\n... (diff truncated; see structuredContent.diff)" : "");
    free(shown);
    json_t *r = tools_ok(ch->ctx, s, t.data);
    util_buf_free(&t);
    return r;
}

/* Asks the human to confirm. 0 = go ahead; else fills *why with the answer, nothing to write. */
static int confirm(struct change *ch, const char *diff, char *why, size_t n)
{
    if (!ch->call || !mcp_call_can_elicit(ch->call) || ch->ctx->cfg->confirm_client)
        return 0; /* AIGW_CONFIRM=client: the client's per-tool approval of this call was the confirmation */
    util_buf m, sb;
    util_buf_init(&m, 0);
    util_buf_init(&sb, 0);
    util_buf_printf(&m, "%s wants to change %s.", ch->tool, default_summary(ch, &sb));
    json_t *w;
    size_t i;
    json_array_foreach(ch->warnings, i, w)
        util_buf_printf(&m, "\nWarning: %s", json_string_value(w));
    char *shown = capped(diff, CHANGE_ELICIT_DIFF_MAX);
    util_buf_printf(&m, "\n\n%s%s\nApply this change?", shown,
                    strlen(diff) > CHANGE_ELICIT_DIFF_MAX ? "\n... (diff truncated)" : "");
    free(shown);
    json_t *schema = json_pack("{s:s, s:{s:{s:s, s:s, s:s, s:b}}}", "type", "object", "properties", "confirm", "type",
                               "boolean", "title", "Apply", "description", "Apply the change shown above", "default",
                               1);
    json_t *content = NULL;
    util_error err = {0};
    int action = mcp_call_elicit(ch->call, m.data, schema, &content, &err);
    json_decref(schema);
    util_buf_free(&m);
    util_buf_free(&sb);
    /* consent is only a literal yes: action "accept" with confirm JSON true ("true", 1, "yes" are not) */
    bool yes = json_is_true(json_object_get(content, "confirm"));
    json_decref(content);
    if (action == MCP_ELICIT_ACCEPT && yes)
        return 0;
    if (action == MCP_ELICIT_UNSUPPORTED)
        return 0;
    if (action == MCP_ELICIT_ACCEPT)
        snprintf(why, n, "The change was not confirmed (the answer did not set confirm to true); nothing was "
                 "written.");
    else if (err.code)
        snprintf(why, n, "The confirmation failed (%s); nothing was written.", err.message);
    else
        snprintf(why, n, "The change was %s; nothing was written.",
                 action == MCP_ELICIT_CANCEL ? "cancelled at the confirmation" : "declined at the confirmation");
    return 1;
}

/* APIM refused w (400): err becomes "APIM rejected LABEL (CODE: message):" and one line per
 * detail ("- target: message"), so the caller sees every problem at once. */
static void rejected(const json_t *w, const struct arm_result *res, util_error *err)
{
    json_t *e = json_object_get(res->body, "error"), *d;
    if (!json_is_object(e))
        return;
    util_buf b;
    util_buf_init(&b, UTIL_ERROR_MAX - 1);
    util_buf_printf(&b, "APIM rejected the %s (%s: %s)", jstr(w, "label"), jstr(e, "code") ? jstr(e, "code") : "400",
                    jstr(e, "message") ? jstr(e, "message") : "no message");
    if (res->request_id)
        util_buf_printf(&b, " [x-ms-request-id %.40s]", res->request_id);
    size_t i;
    json_array_foreach(json_object_get(e, "details"), i, d)
        util_buf_printf(&b, "\n- %s%s%s", jstr(d, "target") ? jstr(d, "target") : "", jstr(d, "target") ? ": " : "",
                        jstr(d, "message") ? jstr(d, "message") : "");
    util_buf_puts(&b, "");
    util_error_set(err, UTIL_EINVAL, "%s", b.data);
    err->http_status = 400;
    util_buf_free(&b);
}

static bool contains(const json_t *have, const json_t *want);
static bool matches(const json_t *have, const json_t *want, const json_t *old, bool every_field);

/* For a resource without ETag: true when cur is still, in every field, as w's before. */
static bool same_as_before(const json_t *w, const json_t *cur)
{
    json_t *before = json_object_get(json_object_get(w, "before"), "properties");
    return cur && matches(json_object_get(cur, "properties"), before, before, true);
}

static bool is_written(const json_t *w, const json_t *cur);

/* A write of a resource without ETag (w's no_etag): it must read as before just before the write.
 * 0, or UTIL_ECONFLICT (nothing written) or the read's error. */
static int no_etag_guard(struct arm_client *arm, const json_t *w, util_error *err)
{
    json_t *cur = NULL;
    char *etag = NULL;
    int rc = read_w(arm, w, &cur, &etag, err);
    if (rc == 0 && !same_as_before(w, cur))
        rc = util_error_set(err, UTIL_ECONFLICT, "the %s was changed by someone else since it was read (it carries "
                            "no ETag, so it was compared field by field just before the write)", jstr(w, "label"));
    json_decref(cur);
    free(etag);
    return rc;
}

/* After a write of a resource without ETag: it must read back as written. */
static int no_etag_check(struct arm_client *arm, const json_t *w, util_error *err)
{
    json_t *cur = NULL;
    char *etag = NULL;
    int rc = read_w(arm, w, &cur, &etag, err);
    if (rc == 0 && !is_written(w, cur))
        rc = util_error_set(err, UTIL_ECONFLICT, "the %s does not read back as written: someone else changed it at "
                            "the same time", jstr(w, "label"));
    json_decref(cur);
    free(etag);
    return rc;
}

/* One write of w: PUT after with If-Match etag_before (checking absence first for a create), or
 * DELETE. Records etag_after. On failure *refused is true when the failure proves that nothing
 * was written: checked before sending, or refused by ARM/APIM at the first and only attempt. A
 * 412 proves nothing: libcurl itself resends a request whose connection died without an answer,
 * so the 412 may answer the resend of a write that did land. */
static int write_one(struct arm_client *arm, json_t *w, bool *refused, util_error *err)
{
    const char *etag = jstr(w, "etag_before");
    json_t *after = json_object_get(w, "after");
    struct arm_result res = {0};
    int rc;
    *refused = true;
    if (json_is_null(json_object_get(w, "before"))) {
        json_t *cur = NULL;
        char *cur_etag = NULL;
        rc = read_w(arm, w, &cur, &cur_etag, err);
        if (rc == 0 && cur)
            rc = util_error_set(err, UTIL_ECONFLICT, "%s was created by someone else since it was read (ETag %s)",
                                jstr(w, "label"), cur_etag ? cur_etag : "none");
        json_decref(cur);
        free(cur_etag);
        if (rc)
            return rc;
    } else if (w_no_etag(w) && (rc = no_etag_guard(arm, w, err)) != 0) {
        return rc;
    }
    rc = send_w(arm, w, json_is_null(after) ? NULL : after, etag, &res, err);
    int s = err->http_status;
    *refused = rc != 0 && (res.attempts == 0 || (res.attempts == 1 && (s == 400 || s == 401 || s == 403 ||
                                                                          s == 404 || s == 409)));
    if (rc == UTIL_ECONFLICT && s == 412)
        util_error_set(err, UTIL_ECONFLICT, "%s was changed by someone else since it was read (ETag %s)",
                       jstr(w, "label"), etag ? etag : "none");
    if (rc == UTIL_EINVAL && s == 400)
        rejected(w, &res, err);
    if (rc == 0)
        json_object_set_new(w, "etag_after", str_or_null(res.etag));
    arm_result_free(&res);
    if (rc == 0 && w_no_etag(w) && (rc = no_etag_check(arm, w, err)) != 0)
        *refused = false;
    return rc;
}

/* What a write whose answer was not a clear refusal did, found by reading the resource again. */
enum outcome {
    OUTCOME_LIVE,        /* the resource is as we wrote it: the write happened */
    OUTCOME_UNCHANGED,   /* the resource is as it was read: proven that nothing was written */
    OUTCOME_OTHER,       /* someone else changed it: what we wrote is not live */
    OUTCOME_UNKNOWN,     /* it cannot be read back */
    OUTCOME_PENDING      /* accepted (202) and not finished: it may still complete */
};

/* True when cur (with cur_etag) is as w's write leaves it: deleted, or every written property
 * there ("format" aside, APIM does not return it). */
static bool is_written(const json_t *w, const json_t *cur)
{
    json_t *after = json_object_get(w, "after");
    if (json_is_null(after))
        return cur == NULL;
    return cur && contains(json_object_get(cur, "properties"), json_object_get(after, "properties"));
}

static enum outcome settle(struct arm_client *arm, json_t *w, const util_error *why)
{
    json_t *cur = NULL;
    char *etag = NULL;
    util_error e = {0};
    bool accepted = why->http_status == 202;
    const char *etag_before = jstr(w, "etag_before");
    enum outcome o;
    if (read_w(arm, w, &cur, &etag, &e) != 0)
        o = accepted ? OUTCOME_PENDING : OUTCOME_UNKNOWN;
    else if (is_written(w, cur))
        o = OUTCOME_LIVE;
    else if (accepted)
        o = OUTCOME_PENDING;
    else if (json_is_null(json_object_get(w, "before")) ? cur == NULL
             : w_no_etag(w) ? same_as_before(w, cur)
                            : etag && etag_before && strcmp(etag, etag_before) == 0)
        o = OUTCOME_UNCHANGED;
    else
        o = OUTCOME_OTHER;
    if (o == OUTCOME_LIVE)
        json_object_set_new(w, "etag_after", str_or_null(etag));
    json_decref(cur);
    free(etag);
    return o;
}

/* Undoes writes [0, k) in reverse; appends what happened to out. The writes that could not be
 * undone stay live: they are marked "live" for the journal. Returns how many stay live. */
static size_t undo(struct arm_client *arm, json_t *writes, size_t k, util_buf *out)
{
    size_t live = 0;
    for (size_t j = k; j-- > 0;) {
        json_t *w = json_array_get(writes, j);
        json_t *before = json_object_get(w, "before");
        const char *etag = jstr(w, "etag_after");
        struct arm_result res = {0};
        util_error err = {0};
        int rc = w_no_etag(w) ? no_etag_check(arm, w, &err)
                 : !etag      ? util_error_set(&err, UTIL_ECONFLICT, "its write was answered without an ETag, and "
                                               "no write goes without one") : 0;
        if (rc == 0)
            rc = send_w(arm, w, json_is_null(before) ? NULL : before, etag, &res, &err);
        arm_result_free(&res);
        if (rc) {
            util_buf_printf(out, " %s was written but could NOT be undone (%.300s): check it by hand.",
                            jstr(w, "label"), err.message);
            json_object_set_new(w, "live", json_true());
            live++;
        } else {
            util_buf_printf(out, " %s was written and then undone.", jstr(w, "label"));
        }
    }
    return live;
}

/* Who made the change, for the journal: the app's client id, or the credential kind. */
static const char *principal(const struct config *cfg)
{
    if (cfg->client_id && *cfg->client_id)
        return cfg->client_id;
    if (cfg->identity_endpoint)
        return "managed identity";
    return "default credential (Azure CLI or managed identity)";
}

/* Backend credentials (header and query values, authorization parameters), proxy passwords and
 * URL query strings never reach the journal: they are replaced by markers. Our tools never change
 * them, so a revert takes them from the resource as it is now (restore_secrets). */
#define CHANGE_REDACTED "[redacted: secrets are never journaled]"

#define CHANGE_REDACTED_QUERY "?[redacted query]"

static bool is_redacted(const json_t *v)
{
    return json_is_string(v) && strcmp(json_string_value(v), CHANGE_REDACTED) == 0;
}

/* A URL whose query was redacted: its base (up to '?') matches have's base. */
static bool redacted_url_matches(const json_t *want, const json_t *have)
{
    const char *w = json_string_value(want), *h = json_string_value(have);
    if (!w || !h || !util_str_ends_with(w, CHANGE_REDACTED_QUERY))
        return false;
    size_t base = strlen(w) - strlen(CHANGE_REDACTED_QUERY);
    return strncmp(w, h, base) == 0 && (h[base] == '?' || h[base] == '\0');
}

/* url with its query replaced by the marker (query values may be keys, e.g. ?code=); NULL when
 * it is not an http(s) URL with a query. Heap. */
static char *redacted_url(const char *url)
{
    const char *q = url ? strchr(url, '?') : NULL;
    if (!q || !(util_str_starts_with(url, "https://") || util_str_starts_with(url, "http://")))
        return NULL;
    return util_printf("%.*s" CHANGE_REDACTED_QUERY, (int)(q - url), url);
}

static void redact_body(json_t *body)
{
    json_t *props = json_object_get(body, "properties");
    char *redacted = redacted_url(json_string_value(json_object_get(props, "url")));
    if (redacted)
        json_object_set_new(props, "url", json_string(redacted));
    free(redacted);
    if (json_object_get(props, "credentials"))
        json_object_set_new(props, "credentials", json_string(CHANGE_REDACTED));
    json_t *proxy = json_object_get(props, "proxy");
    if (json_object_get(proxy, "password"))
        json_object_set_new(proxy, "password", json_string(CHANGE_REDACTED));
}

/* A journaled body made writable again: redacted secrets come from cur (the resource now).
 * NEW reference, or NULL with err when the secrets cannot be restored. */
static json_t *restore_secrets(const json_t *journaled, const json_t *cur, const char *label, util_error *err)
{
    json_t *body = json_deep_copy(journaled);
    json_t *props = json_object_get(body, "properties");
    json_t *cur_props = json_object_get(cur, "properties");
    json_t *url = json_object_get(props, "url");
    if (json_is_string(url) && util_str_ends_with(json_string_value(url), CHANGE_REDACTED_QUERY)) {
        if (!redacted_url_matches(url, json_object_get(cur_props, "url"))) {
            json_decref(body);
            util_error_set(err, UTIL_ECONFLICT, "the %s's URL had a query, which the journal does not keep, and the "
                           "URL has changed since; restore it by hand", label);
            return NULL;
        }
        json_object_set(props, "url", json_object_get(cur_props, "url"));
    }
    if (is_redacted(json_object_get(props, "credentials"))) {
        json_t *c = json_object_get(cur_props, "credentials");
        if (!c) {
            json_decref(body);
            util_error_set(err, UTIL_ECONFLICT, "the %s had credentials, which the journal does not keep, and it no "
                           "longer has any to carry over; restore it by hand", label);
            return NULL;
        }
        json_object_set(props, "credentials", c);
    }
    json_t *proxy = json_object_get(props, "proxy");
    if (is_redacted(json_object_get(proxy, "password"))) {
        json_t *pw = json_object_get(json_object_get(cur_props, "proxy"), "password");
        if (pw)
            json_object_set(proxy, "password", pw);
        else
            json_object_del(proxy, "password");
    }
    return body;
}

/* Tool arguments as journaled: URL queries and the values of secret-named keys redacted, as the
 * resource bodies are (a backend URL may carry ?api-key=...). In place. */
static void redact_args(json_t *v)
{
    const char *key;
    json_t *x;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach(v, key, x) {
            bool secret = util_strcasestr(key, "secret") || util_strcasestr(key, "password") || util_strcasestr(key, "token") ||
                          util_strcasestr(key, "credential") || util_strcasestr(key, "api_key") || util_strcasestr(key, "apikey");
            if (secret && !json_is_null(x))
                json_object_set_new(v, key, json_string(CHANGE_REDACTED));
            else if (json_is_string(x)) {
                char *r = redacted_url(json_string_value(x));
                if (r)
                    json_object_set_new(v, key, json_string(r));
                free(r);
            } else
                redact_args(x);
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, x) {
            char *r = json_is_string(x) ? redacted_url(json_string_value(x)) : NULL;
            if (r)
                json_array_set_new(v, i, json_string(r));
            else
                redact_args(x);
            free(r);
        }
    }
}

/* The journal record of the writes in `writes` (all of them, or those whose "live" or "pending"
 * mark says they are in effect); status "applied", "partial" (a failed change some of whose
 * writes could not be undone) or "pending" (a write's outcome is unknown). */
static json_t *journal_record(struct change *ch, const char *change_id, json_t *writes, const char *status)
{
    char now[32];
    util_time_iso8601(util_now_ms() / 1000, now, sizeof now);
    json_t *res = json_array(), *w;
    size_t i;
    json_array_foreach(writes, i, w) {
        json_t *r = json_deep_copy(w);
        json_object_del(r, "diff");
        json_object_del(r, "live");
        redact_body(json_object_get(r, "before"));
        redact_body(json_object_get(r, "after"));
        json_array_append_new(res, r);
    }
    json_t *args = json_deep_copy(ch->args);
    redact_args(args);
    json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:o}", "time", now, "change_id", change_id, "status",
                            status, "tool", ch->tool, "arguments", args, "principal", principal(ch->ctx->cfg),
                            "resources", res);
    if (ch->reverts)
        json_object_set_new(rec, "reverts", json_string(ch->reverts));
    if (ch->record_extra)
        json_object_update(rec, ch->record_extra);
    return rec;
}

/* A failed change's result: isError, the text not truncated (what happened to every write must
 * reach the human), scrubbed of secrets. */
static json_t *failure_result(const struct change *ch, const char *text)
{
    char *t = util_printf("%s%s", ch->ctx->demo ? "[simulator] " : "", text);
    util_log_scrub(t);
    util_text_clean(t); /* the causes were cut to 700 bytes: no half character may remain */
    json_t *r = mcp_result_ok(NULL, t);
    json_object_set_new(r, "isError", json_true());
    free(t);
    return r;
}

/* Write k of the change failed with err and outcome o: undoes what can be undone, journals what
 * stays in effect (with change_id id) and says what happened to every write. */
static json_t *failed(struct change *ch, struct arm_client *arm, const char *id, size_t k, enum outcome o,
                      const util_error *err)
{
    json_t *w = json_array_get(ch->todo, k);
    size_t n = json_array_size(ch->todo);
    const char *label = jstr(w, "label"), *status = "partial";
    util_buf m;
    util_buf_init(&m, 0);
    if (o == OUTCOME_PENDING || o == OUTCOME_UNKNOWN) {
        /* it may be live or become live: keep the earlier writes, journal them all as pending */
        status = "pending";
        util_buf_printf(&m, "The outcome of the write of %s is unknown: %.700s%s", label, err->message,
                        o == OUTCOME_UNKNOWN ? " (and it could not be read back to check)." : ".");
        json_object_set_new(w, "live", json_true());
        for (size_t j = 0; j < k; j++) {
            json_object_set_new(json_array_get(ch->todo, j), "live", json_true());
            util_buf_printf(&m, " %s was written.", jstr(json_array_get(ch->todo, j), "label"));
        }
        for (size_t j = k + 1; j < n; j++)
            util_buf_printf(&m, " %s was not written.", jstr(json_array_get(ch->todo, j), "label"));
    } else {
        bool nothing = k == 0 && o == OUTCOME_UNCHANGED;
        util_buf_printf(&m, "%.700s%s", err->message,
                        nothing ? "; nothing was written." : o == OUTCOME_OTHER ? "; this change is not in effect "
                                                                                  "there (checked by reading it "
                                                                                  "again)." : ".");
        if (err->code == UTIL_ECONFLICT || o == OUTCOME_OTHER)
            util_buf_puts(&m, " Read it again and retry.");
        undo(arm, ch->todo, k, &m);
    }
    json_t *writes = json_array(), *x;
    size_t i;
    json_array_foreach(ch->todo, i, x)
        if (json_is_true(json_object_get(x, "live")))
            json_array_append(writes, x);
    if (json_array_size(writes)) {
        json_t *rec = journal_record(ch, id, writes, status);
        util_error je = {0};
        if (change_journal_append(ch->ctx->cfg->audit_log, rec, &je) == 0)
            util_buf_printf(&m, " What may be in effect is journaled as change %s (%s): revert_change with that "
                            "change_id undoes what of it is live.", id, status);
        else
            util_buf_printf(&m, " It could NOT be journaled (%.300s): note change %s by hand.", je.message, id);
        json_decref(rec);
    }
    json_decref(writes);
    json_t *r = failure_result(ch, m.data);
    util_buf_free(&m);
    return r;
}

static bool still_as_before(const json_t *w, const json_t *cur, const char *cur_etag);

/* The next change settles what earlier changes left pending: each of their writes whose outcome
 * was unknown is read again; a record {"resolves": id, "outcome"} is journaled and the result
 * warns. Unreadable ones stay pending. */
static void resolve_pending(struct change *ch, struct arm_client *arm)
{
    json_t *pending = change_journal_pending(ch->ctx->cfg->audit_log), *rec;
    size_t i;
    json_array_foreach(pending, i, rec) {
        const char *id = jstr(rec, "change_id"), *outcome = "took effect";
        json_t *w;
        size_t j;
        bool readable = true;
        json_array_foreach(json_object_get(rec, "resources"), j, w) {
            if (jstr(w, "etag_after") || !readable)
                continue; /* written and answered: not in doubt */
            json_t *cur = NULL;
            char *etag = NULL;
            util_error e = {0};
            readable = read_w(arm, w, &cur, &etag, &e) == 0;
            if (readable && !is_written(w, cur))
                outcome = still_as_before(w, cur, etag) ? "never took effect" : "was changed since (check it by hand)";
            json_decref(cur);
            free(etag);
        }
        if (!readable)
            continue;
        char now[32], rid[37];
        util_time_iso8601(util_now_ms() / 1000, now, sizeof now);
        util_uuid4(rid);
        json_t *note = json_pack("{s:s, s:s, s:s, s:s}", "time", now, "change_id", rid, "resolves", id, "outcome",
                                 outcome);
        util_error je = {0};
        if (change_journal_append(ch->ctx->cfg->audit_log, note, &je) == 0)
            change_add_warning(ch, "change %s, left pending earlier, %s; this is journaled", id, outcome);
        json_decref(note);
    }
    json_decref(pending);
}

/* Writes every resource under a new change id (id, 37 bytes); on failure returns the error result
 * (see failed()), else NULL. A write whose answer was not a clear refusal is settled by reading
 * the resource again. */
static json_t *apply_writes(struct change *ch, struct arm_client *arm, char *id)
{
    /* committed: from the first write on, cancellation is ignored (the change completes or is undone) */
    arm_set_cancel(arm, NULL);
    util_uuid4(id);
    if (ch->before_write) { /* the complete undo is journaled before the first write */
        util_error e = {0};
        json_t *rec = NULL;
        if (ch->before_write(ch, id, ch->before_write_user, &e) == 0) {
            rec = journal_record(ch, id, ch->todo, "open");
            change_journal_append(ch->ctx->cfg->audit_log, rec, &e);
        }
        json_decref(rec);
        if (e.code) {
            char *m = util_printf("%s; nothing was written.", e.message);
            json_t *r = failure_result(ch, m);
            free(m);
            return r;
        }
    }
    resolve_pending(ch, arm);
    size_t n = json_array_size(ch->todo);
    for (size_t k = 0; k < n; k++) {
        json_t *w = json_array_get(ch->todo, k);
        util_error err = {0};
        bool refused;
        if (write_one(arm, w, &refused, &err) == 0)
            continue;
        enum outcome o = refused ? OUTCOME_UNCHANGED : settle(arm, w, &err);
        if (o == OUTCOME_LIVE) {
            change_add_warning(ch, "the answer to the write of %s was lost (%.300s); it was read again and is as "
                               "written", jstr(w, "label"), err.message);
            continue;
        }
        return failed(ch, arm, id, k, o, &err);
    }
    return NULL;
}

/* What must hold before the first write: every resource read with an ETag (no write without
 * one), and a journal that can be written. 0, or an error saying nothing was written. */
static int precheck(const struct change *ch, util_error *err)
{
    json_t *w;
    size_t i;
    json_array_foreach(ch->todo, i, w)
        if (!json_is_null(json_object_get(w, "before")) && !jstr(w, "etag_before") && !w_no_etag(w))
            return util_error_set(err, UTIL_ECONFLICT, "the %s was read without an ETag, so a change made by someone "
                                  "else meanwhile could not be detected; nothing was written. Read it again and "
                                  "retry", jstr(w, "label"));
    if (change_journal_check(ch->ctx->cfg->audit_log, err) != 0) {
        util_error_prefix(err, "nothing was written");
        return err->code;
    }
    return 0;
}

void change_set_journal_only(struct change *ch) { ch->journal_only = true; }

void change_set_record_extra(struct change *ch, const char *key, json_t *value)
{
    if (!ch->record_extra)
        ch->record_extra = json_object();
    json_object_set_new(ch->record_extra, key, value);
}

void change_set_before_write(struct change *ch, change_before_write_fn fn, void *user)
{
    ch->before_write = fn;
    ch->before_write_user = user;
}

json_t *change_run(struct change *ch, bool dry_run)
{
    util_error err = {0};
    char *diff = plan_diff(ch);
    json_t *r = NULL;
    char why[UTIL_ERROR_MAX + 64];
    struct arm_client *arm = NULL;
    char id[37];
    if (json_array_size(ch->todo) == 0 && !ch->journal_only) {
        r = result(ch, false, NULL, "", "Nothing would change: the resource already is as requested.");
    } else if (dry_run) {
        r = result(ch, false, NULL, diff, "Dry run: nothing was written. Call again with dry_run false to apply.");
    } else if (confirm(ch, diff, why, sizeof why)) {
        r = not_confirmed(result(ch, false, NULL, diff, why));
    } else if (!(arm = tools_call_arm(ch->ctx, ch->call, &err)) || precheck(ch, &err)) {
        r = tools_fail(ch->ctx, &err);
    } else if (!mcp_call_commit(ch->call)) {
        r = result(ch, false, NULL, diff, "The change was cancelled before it was written; nothing was written.");
    } else if (!(r = apply_writes(ch, arm, id))) {
        json_t *rec = journal_record(ch, id, ch->todo, "applied");
        if (change_journal_append(ch->ctx->cfg->audit_log, rec, &err) != 0) {
            util_error_prefix(&err, "the change %s WAS applied but could not be journaled", id);
            r = tools_fail(ch->ctx, &err);
        } else {
            util_buf sb, m;
            util_buf_init(&sb, 0);
            util_buf_init(&m, 0);
            util_buf_printf(&m, "Applied change %s: %s.", id, default_summary(ch, &sb));
            r = result(ch, true, id, diff, m.data);
            util_buf_free(&sb);
            util_buf_free(&m);
        }
        json_decref(rec);
    }
    free(diff);
    change_free(ch);
    return r;
}

/* ---- revert -------------------------------------------------------------------------- */

/* True when every member of want (recursively for objects) is equal in have ("format" aside:
 * APIM does not return it; redacted secrets match anything). With every_field, also every other
 * member of have is as it was in old: a member we did not write that someone else changed,
 * added or removed since is a difference. */
static bool matches(const json_t *have, const json_t *want, const json_t *old, bool every_field)
{
    if (!json_is_object(want) || !json_is_object(have))
        return json_equal((json_t *)have, (json_t *)want);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)want, key, v)
        if (strcmp(key, "format") != 0 && !is_redacted(v) && !redacted_url_matches(v, json_object_get(have, key)) &&
            !matches(json_object_get(have, key), v, json_object_get(old, key), every_field))
            return false;
    json_object_foreach((json_t *)have, key, v) {
        json_t *was = json_object_get(old, key);
        if (every_field && !json_object_get(want, key) && strcmp(key, "format") != 0 && !is_redacted(was) &&
            !redacted_url_matches(was, v) && !json_equal(v, was))
            return false;
    }
    return true;
}

static bool contains(const json_t *have, const json_t *want) { return matches(have, want, NULL, false); }

/* True when the resource is still as the recorded change w left it: same ETag, or (re-saved
 * since) the same content as written, in every field. */
static bool still_as_written(const json_t *w, const json_t *cur, const char *cur_etag)
{
    json_t *after = json_object_get(w, "after");
    if (json_is_null(after))
        return cur == NULL;
    if (!cur)
        return false;
    const char *etag = jstr(w, "etag_after");
    if (etag && cur_etag && !strcmp(etag, cur_etag))
        return true;
    return matches(json_object_get(cur, "properties"), json_object_get(after, "properties"),
                   json_object_get(json_object_get(w, "before"), "properties"), true);
}

/* For a pending or partial record: true when the resource is as it was before the change (its
 * write never took effect), so there is nothing of it to revert. */
static bool still_as_before(const json_t *w, const json_t *cur, const char *cur_etag)
{
    json_t *before = json_object_get(w, "before");
    if (json_is_null(before))
        return cur == NULL;
    const char *etag = jstr(w, "etag_before");
    return cur && etag && cur_etag && !strcmp(etag, cur_etag);
}

int change_plan_revert(struct change *ch, struct arm_client *arm, const json_t *record, util_error *err)
{
    const char *id = jstr(record, "change_id"), *status = jstr(record, "status");
    bool unsettled = status && strcmp(status, "applied") != 0;
    json_t *resources = json_object_get(record, "resources");
    free(ch->reverts);
    ch->reverts = util_strdup(id);
    for (size_t i = json_array_size(resources); i-- > 0;) {
        json_t *w = json_array_get(resources, i), *cur = NULL;
        char *etag = NULL;
        const char *label = jstr(w, "label"), *rq = jstr(w, "read_query");
        int rc = read_w(arm, w, &cur, &etag, err);
        bool skip = rc == 0 && unsettled && !still_as_written(w, cur, etag) && still_as_before(w, cur, etag);
        if (skip)
            change_add_warning(ch, "the %s is as it was before change %s: that write never took effect", label, id);
        if (rc == 0 && !skip && !still_as_written(w, cur, etag))
            rc = util_error_set(err, UTIL_ECONFLICT, "the %s was changed since change %s was applied; nothing was "
                                "written. Read it (get_policy for a policy) and apply by hand", label, id);
        json_t *before = json_object_get(w, "before"), *restored = NULL;
        if (rc == 0 && !skip && !json_is_null(before) && !(restored = restore_secrets(before, cur, label, err)))
            rc = err->code;
        if (rc == 0 && !skip)
            rc = change_add(ch, &(struct change_write){.path = jstr(w, "path"), .label = label, .read_query = rq,
                                                       .before = cur, .etag = etag, .after = restored,
                                                       .before_text = jstr(w, "after_text"),
                                                       .after_text = jstr(w, "before_text"), .api = w_api(w),
                                                       .no_etag = w_no_etag(w)}, err);
        json_decref(restored);
        json_decref(cur);
        free(etag);
        if (rc)
            return rc;
    }
    return 0;
}
