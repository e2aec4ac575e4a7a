/* simulate_quota: the read-only what-if of a quota (tools.md §3, docs/quotas.md "What-if"): "if
 * this team had been held to N tokens per minute over the window, how many of its requests would
 * have been refused, and would anyone else's limit move?". It reads the subscriptions and their
 * effective limits (quota_scope), plans the edit update_quota would make and recomputes every
 * other subscription's limits on the planned documents (others), reads the teams' tokens and
 * requests per minute from Log Analytics in ONE query (metrics_minutes_query) and replays them
 * against the proposed limit, counted per minute as llm-token-limit does (metrics_replay). With
 * no limit given it replays the pending shadow proposal update_quota mode "shadow" journaled.
 * Without per-minute data it says what to enable and how long to wait, and computes nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "change.h"
#include "metrics.h"
#include "quota_scope.h"

#define WORST_MINUTES 3

static const char INPUT_SCHEMA[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
    "\"subscription_id\":{\"type\":\"string\",\"maxLength\":256},"
    "\"subscription_ids\":{\"type\":\"array\",\"maxItems\":20,\"items\":{\"type\":\"string\",\"maxLength\":256}},"
    "\"tpm\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100000000},"
    "\"rpm\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000000},"
    "\"since\":{\"type\":\"string\",\"maxLength\":40},\"until\":{\"type\":\"string\",\"maxLength\":40}}}";

/* Top-level shape only: tools/list must stay small (docs/tools.md lists every field). */
static const char OUTPUT_SCHEMA[] =
    "{\"type\":\"object\",\"required\":[\"window\",\"sources\"],\"properties\":{\"results\":{\"type\":\"array\"},"
    "\"sources\":{\"type\":\"array\"}}}";

/* A proposal: the limits to replay and where they came from. */
struct proposal {
    int64_t tpm, rpm; /* 0 = not proposed */
    char from[96];    /* "arguments" or "shadow change <id>" */
};

/* The pending shadow proposal for sub in the journal: the last update_quota record for it, when
 * that record is a shadow one (a later enforced change supersedes it, a revert of it withdraws
 * it). false when none. */
static bool journal_proposal(const char *path, const char *sub, struct proposal *p)
{
    char *text = NULL;
    size_t len = 0;
    util_error err = {0};
    bool found = false;
    if (!path || !*path || util_read_file(path, CHANGE_JOURNAL_MAX_BYTES, &text, &len, &err) != 0)
        return false;
    for (const char *s = text, *end = text + len; s < end;) {
        const char *e = memchr(s, '\n', (size_t)(end - s));
        if (!e)
            e = end;
        size_t l = (size_t)(e - s);
        json_t *rec = l > 1 && (util_memmem(s, l, sub, strlen(sub)) || util_memmem(s, l, "\"reverts\"", 9))
                          ? json_loadb(s, l, 0, NULL) : NULL;
        const char *reverts = json_string_value(json_object_get(rec, "reverts"));
        if (found && reverts && strstr(p->from, reverts))
            found = false;
        json_t *args = json_object_get(rec, "arguments");
        const char *tool = json_string_value(json_object_get(rec, "tool"));
        const char *id = json_string_value(json_object_get(args, "subscription_id"));
        if (tool && !strcmp(tool, "update_quota") && id && !strcmp(id, sub)) {
            const char *mode = json_string_value(json_object_get(args, "mode"));
            found = mode && !strcmp(mode, "shadow");
            p->tpm = json_is_integer(json_object_get(args, "tpm")) ? json_integer_value(json_object_get(args, "tpm")) : 0;
            p->rpm = json_is_integer(json_object_get(args, "rpm")) ? json_integer_value(json_object_get(args, "rpm")) : 0;
            snprintf(p->from, sizeof(p->from), "shadow change %s",
                     json_string_value(json_object_get(rec, "change_id")) ? json_string_value(json_object_get(rec, "change_id")) : "?");
        }
        json_decref(rec);
        s = e + 1;
    }
    free(text);
    return found && (p->tpm || p->rpm);
}

static json_t *limit_or_null(bool has, double v) { return has ? json_real(v) : json_null(); }

static json_t *limits_json(bool has_tpm, double tpm, bool has_rpm, double rpm)
{
    json_t *o = json_object();
    json_object_set_new(o, "tpm", has_tpm ? json_integer((json_int_t)tpm) : json_null());
    json_object_set_new(o, "rpm", has_rpm && rpm == (double)(int64_t)rpm ? json_integer((json_int_t)rpm)
                                                                          : limit_or_null(has_rpm, rpm));
    return o;
}

/* others: the plan update_quota would make for subs[t] (update_quota_plan). Its invariant is the
 * proof: policy_quota_update recomputes every subscription's limits on the planned documents and
 * refuses when any other one would differ, so a plan made means no other limit changes
 * ({subscription_id, changed: false} each). *plan_note gets the plan's sentence, or why
 * update_quota would refuse (then others is empty). */
static json_t *others_of(const struct quota_scope *qs, size_t t, const struct proposal *p, char *plan_note, size_t n)
{
    policy_quota_change want = {p->tpm ? POLICY_QUOTA_SET : POLICY_QUOTA_KEEP, p->tpm,
                                p->rpm ? POLICY_QUOTA_SET : POLICY_QUOTA_KEEP, p->rpm};
    policy_quota_result res;
    util_error err = {0};
    json_t *others = json_array();
    if (update_quota_plan(qs, t, &want, &res, &err) != 0) {
        snprintf(plan_note, n, "update_quota would refuse this limit: %s", err.message);
        return others;
    }
    snprintf(plan_note, n, "%s", res.note);
    for (size_t i = 0; i < qs->nsubs; i++)
        if (i != t)
            json_array_append_new(others, json_pack("{s:s,s:b}", "subscription_id", qs->subs[i].id, "changed", 0));
    policy_quota_result_free(&res);
    return others;
}

struct target {
    size_t index; /* in qs */
    struct proposal p;
    json_t *out;
};

static json_t *one_result(const struct quota_scope *qs, struct target *tg, const struct metrics_team *teams,
                          size_t nteams, json_t *missing, json_t *window)
{
    const struct quota_sub *s = &qs->subs[tg->index];
    const policy_limits *cur = &qs->entry_lim[s->primary];
    char plan[UTIL_ERROR_MAX + 96] = "";
    json_t *others = others_of(qs, tg->index, &tg->p, plan, sizeof(plan));
    json_t *o = json_pack("{s:s,s:o,s:o,s:O}", "subscription_id", s->id, "current",
                          limits_json(cur->has_tpm, (double)cur->tpm, cur->has_rpm, cur->rpm), "proposed",
                          limits_json(tg->p.tpm != 0, (double)tg->p.tpm, tg->p.rpm != 0, (double)tg->p.rpm), "window",
                          window);
    json_object_set_new(o, "proposed_from", json_string(tg->p.from));
    if (missing) {
        json_object_set_new(o, "minutes_observed", json_integer(0));
        json_object_set(o, "no_data", missing);
    } else {
        const struct metrics_team *team = NULL;
        for (size_t i = 0; i < nteams && !team; i++)
            team = !strcmp(teams[i].sub, s->id) ? &teams[i] : NULL;
        json_t *r = metrics_replay(team ? team->m : NULL, team ? team->n : 0, tg->p.tpm, tg->p.rpm, WORST_MINUTES);
        if (!team) /* a resource-centric query returns only the workspaces the caller may read */
            json_object_set_new(o, "no_data", json_pack("{s:s,s:s,s:s}", "reason", "no log rows of this subscription "
                                "in the window: it sent no requests then, or this identity cannot read the workspace",
                                "enable", "nothing if the team was idle; else Log Analytics Reader on the workspace",
                                "wait", "none"));
        else if (tg->p.tpm && json_integer_value(json_object_get(r, "minutes_observed")) &&
            !json_integer_value(json_object_get(r, "token_requests")))
            json_object_set_new(o, "no_data", json_pack("{s:s,s:s,s:s}", "reason", "the window has requests of this "
                                "subscription but no token rows (ApiManagementGatewayLlmLog) to count tokens with",
                                "enable", "the GatewayLlmLogs category in the diagnostic setting", "wait",
                                "a replay over 24 h needs 24 h of traffic after the change"));
        json_object_del(r, "token_requests");
        json_object_update(o, r);
        json_decref(r);
    }
    json_object_set_new(o, "others", others);
    json_object_set_new(o, "plan", json_string(plan));
    return o;
}

static void head_line(util_buf *b, json_t *o)
{
    json_t *cur = json_object_get(o, "current"), *pro = json_object_get(o, "proposed");
    util_buf_printf(b, "%s:", json_string_value(json_object_get(o, "subscription_id")));
    for (int k = 0; k < 2; k++) {
        const char *key = k ? "rpm" : "tpm";
        json_t *c = json_object_get(cur, key), *p = json_object_get(pro, key);
        if (json_is_null(p))
            continue;
        if (json_is_number(c))
            util_buf_printf(b, " %s %.15g -> %.15g", key, json_number_value(c), json_number_value(p));
        else
            util_buf_printf(b, " %s none -> %.15g", key, json_number_value(p));
    }
    json_t *nd = json_object_get(o, "no_data");
    if (nd)
        util_buf_printf(b, ". NO DATA: %s. Enable: %s. Wait: %s\n", json_string_value(json_object_get(nd, "reason")),
                        json_string_value(json_object_get(nd, "enable")), json_string_value(json_object_get(nd, "wait")));
    else
        util_buf_printf(b, ". Over %lld observed minutes: %lld of %lld requests refused (%.2f%%), %lld tokens, in %lld "
                        "minutes; peak %lld TPM, p95 %lld, p50 %lld\n",
                        (long long)json_integer_value(json_object_get(o, "minutes_observed")),
                        (long long)json_integer_value(json_object_get(o, "requests_refused")),
                        (long long)json_integer_value(json_object_get(o, "requests")),
                        json_number_value(json_object_get(o, "share_refused")) * 100.0,
                        (long long)json_integer_value(json_object_get(o, "tokens_refused")),
                        (long long)json_integer_value(json_object_get(o, "minutes_over")),
                        (long long)json_integer_value(json_object_get(o, "peak_tpm")),
                        (long long)json_integer_value(json_object_get(o, "p95_tpm")),
                        (long long)json_integer_value(json_object_get(o, "p50_tpm")));
    size_t changed = 0, i;
    json_t *x;
    json_array_foreach(json_object_get(o, "others"), i, x)
        changed += json_is_true(json_object_get(x, "changed"));
    util_buf_printf(b, "  others: %zu subscription(s), %zu would change. Plan: %s\n",
                    json_array_size(json_object_get(o, "others")), changed,
                    json_string_value(json_object_get(o, "plan")));
}

/* The subscription ids the arguments name (each once), checked: the Logs query is built from them
 * before the subscriptions are listed. */
static int ids_of(json_t *args, const char **ids, size_t *n, util_error *err)
{
    json_t *one = json_object_get(args, "subscription_id"), *many = json_object_get(args, "subscription_ids");
    if (!!one == !!many)
        return util_error_set(err, UTIL_EINVAL, "give subscription_id, or subscription_ids (up to 20), not both");
    if (many && (json_array_size(many) < 1 || json_array_size(many) > METRICS_MINUTES_MAX_SUBS))
        return util_error_set(err, UTIL_EINVAL, "subscription_ids takes 1 to %d ids", METRICS_MINUTES_MAX_SUBS);
    *n = 0;
    for (size_t i = 0; i < (many ? json_array_size(many) : 1); i++) {
        const char *id = json_string_value(many ? json_array_get(many, i) : one);
        if (tools_check_id("subscription_id", id, err))
            return err->code;
        bool dup = false;
        for (size_t k = 0; k < *n && !dup; k++)
            dup = !strcmp(ids[k], id);
        if (!dup)
            ids[(*n)++] = id;
    }
    return 0;
}

/* The targets of ids (from ids_of), each with its proposal (arguments, else the journal). */
static int targets_of(struct tools_ctx *ctx, json_t *args, const struct quota_scope *qs, const char *const *ids,
                      size_t nids, struct target *tg, size_t *n, util_error *err)
{
    *n = 0;
    for (size_t i = 0; i < nids; i++) {
        size_t at = quota_scope_find(qs, ids[i]);
        if (at == (size_t)-1)
            return quota_scope_not_found(qs, ids[i], err);
        struct target *t = &tg[(*n)++];
        memset(t, 0, sizeof(*t));
        t->index = at;
        json_t *tpm = json_object_get(args, "tpm"), *rpm = json_object_get(args, "rpm");
        if (tpm || rpm) {
            t->p.tpm = json_integer_value(tpm);
            t->p.rpm = json_integer_value(rpm);
            snprintf(t->p.from, sizeof(t->p.from), "arguments");
        } else if (!journal_proposal(ctx->cfg->audit_log, ids[i], &t->p)) {
            return util_error_set(err, UTIL_EINVAL, "give tpm and/or rpm to simulate, or record a proposal for %s "
                                  "with update_quota mode \"shadow\" (none is pending in the change journal)", ids[i]);
        }
    }
    return 0;
}

static json_t *run(struct mcp_call *call, json_t *args, void *user)
{
    struct tools_ctx *ctx = user;
    util_error err = {0};
    int64_t now = util_now_ms() / 1000;
    struct metrics_window w;
    const char *since = json_string_value(json_object_get(args, "since"));
    if (metrics_window_make(since ? since : "24h", json_string_value(json_object_get(args, "until")), now, &w, &err))
        return tools_fail(ctx, &err);
    if (!since) /* the default window is the 24 hours before until */
        w.since = w.asked_since = w.until - 86400;
    if (w.until - w.since > (int64_t)METRICS_MINUTES_MAX_DAYS * 86400) {
        util_error_set(&err, UTIL_EINVAL, "the window is longer than %d days: a per-minute replay reads one row per "
                       "team and minute; ask for a shorter window", METRICS_MINUTES_MAX_DAYS);
        return tools_fail(ctx, &err);
    }
    /* ONE round for the traffic: the ids are the arguments', so the Logs query (resource-centric: no
     * workspace to look up) and the diagnostic settings (what to enable when there is no data) go
     * out with the subscription listing, and every API policy with the products' (two rounds). */
    const char *ids[METRICS_MINUTES_MAX_SUBS];
    size_t nids = 0;
    if (ids_of(args, ids, &nids, &err))
        return tools_fail(ctx, &err);
    struct arm_request reqs[2] = {{"GET", "providers/Microsoft.Insights/diagnosticSettings", ARM_API_DIAGNOSTICS,
                                   NULL, NULL, NULL}};
    if (metrics_minutes_request(ctx->cfg->service_id, ids, nids, w.since, w.until, &reqs[1], &err))
        return tools_fail(ctx, &err);
    struct arm_result res[2];
    int rcs[2] = {0, 0};
    util_error errs[2];
    memset(res, 0, sizeof(res));
    memset(errs, 0, sizeof(errs));
    struct quota_scope_extra extra = {2, reqs, res, rcs, errs, true};
    struct arm_client *arm = tools_call_arm(ctx, call, &err);
    struct quota_scope qs;
    int rc = !arm ? err.code : quota_scope_gather_with(arm, NULL, NULL, &extra, &qs, &err);
    metrics_minutes_request_free(&reqs[1]);
    if (rc) {
        arm_result_free(&res[0]);
        arm_result_free(&res[1]);
        return tools_fail(ctx, &err);
    }
    struct target tg[METRICS_MINUTES_MAX_SUBS];
    size_t n = 0;
    struct metrics_la la;
    json_t *missing = NULL;
    struct metrics_team *teams = NULL;
    size_t nteams = 0;
    rc = targets_of(ctx, args, &qs, ids, nids, tg, &n, &err);
    bool tokens = false;
    for (size_t i = 0; i < n; i++)
        tokens |= tg[i].p.tpm != 0;
    metrics_la_read(res[0].body, &la);
    if (!rc && rcs[0]) {
        err = errs[0];
        util_error_prefix(&err, "reading the diagnostic settings (where the gateway logs go)");
        rc = err.code;
    }
    if (!rc && !(missing = metrics_minutes_missing(&la, tokens)))
        rc = metrics_minutes_take(&res[1], rcs[1], &errs[1], &teams, &nteams, &err);
    arm_result_free(&res[0]);
    arm_result_free(&res[1]);
    json_t *out = NULL;
    if (!rc) {
        char a[32], b[32];
        util_time_iso8601(w.since, a, sizeof(a));
        util_time_iso8601(w.until, b, sizeof(b));
        json_t *window = json_pack("{s:s,s:s,s:I,s:s}", "since", a, "until", b, "minutes",
                                   (json_int_t)((w.until - w.since) / 60), "counting",
                                   "per minute: each minute's requests are admitted up to the limit, the rest get 429");
        json_t *results = json_array();
        util_buf text;
        util_buf_init(&text, 0);
        for (size_t i = 0; i < n; i++) {
            json_t *r = one_result(&qs, &tg[i], teams, nteams, missing, window);
            head_line(&text, r);
            json_array_append_new(results, r);
        }
        json_t *sources = json_array();
        json_array_append_new(sources, json_string(missing ? "none: no per-minute data (see no_data)"
                                                           : "Log Analytics: ApiManagementGatewayLogs left-joined to "
                                                             "ApiManagementGatewayLlmLog on CorrelationId, per minute "
                                                             "and ApimSubscriptionId"));
        json_array_append_new(sources, json_string("limits: the subscriptions' policies (as list_subscriptions)"));
        if (n == 1 && !json_object_get(args, "subscription_ids")) {
            out = json_incref(json_array_get(results, 0));
            json_object_del(out, "window");
            json_object_set(out, "window", window);
        } else {
            out = json_pack("{s:O,s:O}", "results", results, "window", window);
        }
        json_object_set_new(out, "sources", sources);
        util_buf_printf(&text, "window %s .. %s, counted per minute as llm-token-limit counts; source: %s", a, b,
                        missing ? "none" : "Log Analytics");
        json_t *r = tools_ok(ctx, out, text.data);
        util_buf_free(&text);
        json_decref(results);
        json_decref(window);
        out = r;
    }
    metrics_teams_free(teams, nteams);
    json_decref(missing);
    metrics_la_free(&la);
    quota_scope_free(&qs);
    return rc ? tools_fail(ctx, &err) : out;
}

const struct mcp_tool tools_simulate_quota = {
    .name = "simulate_quota",
    .title = "What-if of a quota",
    .description = "What-if before update_quota: replays teams' per-minute traffic (default last 24h) against a "
                   "tpm/rpm as APIM counts it: requests and tokens refused, peak/p95/p50 TPM, others unchanged. "
                   "No limit given: the pending shadow proposal. No data: what to enable.",
    .input_schema = INPUT_SCHEMA,
    .output_schema = OUTPUT_SCHEMA,
    .read_only_hint = true,
    .idempotent_hint = true,
    .fn = run,
};
