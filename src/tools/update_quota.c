/* update_quota: the write tool that changes one subscription's effective tokens-per-minute and/or
 * requests-per-minute limits and leaves every other subscription's limits identical (tools.md
 * §3-4, docs/quotas.md). quota_scope gathers the subscriptions and policies, the policy layer
 * (policy_quota_update) plans the edit and proves the others unchanged, and the change pipeline
 * (change.h) diffs, confirms, writes with If-Match and journals. This file owns the schemas, the
 * argument checks and turning the plan into pipeline writes. */
#include <string.h>

#include "capacity.h"
#include "change.h"
#include "metrics.h"
#include "quota_scope.h"

#define LIMIT_ARG(max) "{\"type\":\"integer\",\"minimum\":1,\"maximum\":" #max "}"

static const char INPUT_SCHEMA[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"subscription_id\"],\"properties\":{"
    "\"subscription_id\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":256},"
    "\"tpm\":" LIMIT_ARG(100000000) ",\"rpm\":" LIMIT_ARG(1000000) ","
    "\"remove_tpm\":{\"type\":\"boolean\"},\"remove_rpm\":{\"type\":\"boolean\"},\"mode\":{\"enum\":[\"enforce\",\"shadow\"]},"
    CHANGE_INPUT_DRY_RUN "}}";

static const char OUTPUT_SCHEMA[] =
    "{\"type\":\"object\",\"required\":[" CHANGE_OUTPUT_REQUIRED ",\"subscription_id\"],\"properties\":{"
    CHANGE_OUTPUT_PROPERTIES ",\"subscription_id\":{\"type\":\"string\"},\"plan\":{\"type\":\"string\"}}}";

/* KEEP when absent, REMOVE with remove_<key>: true, else SET (range already checked by the schema). */
static int read_op(json_t *args, const char *key, int *op, int64_t *v, util_error *err)
{
    json_t *x = json_object_get(args, key);
    char rm[16];
    snprintf(rm, sizeof rm, "remove_%s", key);
    bool remove = json_is_true(json_object_get(args, rm));
    if (x && remove)
        return util_error_set(err, UTIL_EINVAL, "give %s (a new limit) or %s: true (drop this subscription's own "
                              "limit), not both", key, rm);
    *op = remove ? POLICY_QUOTA_REMOVE : x ? POLICY_QUOTA_SET : POLICY_QUOTA_KEEP;
    *v = json_is_integer(x) ? (int64_t)json_integer_value(x) : 0;
    return 0;
}

static void limit_text(util_buf *b, const char *name, bool has, double v)
{
    if (has)
        util_buf_printf(b, "%s %.15g", name, v);
    else
        util_buf_printf(b, "%s none", name);
}

/* "subscription growth: tpm 200000 -> 100000" (only the limits asked for). */
static char *summary(const char *id, const policy_quota_change *want, const policy_limits *a, const policy_limits *b)
{
    util_buf s;
    util_buf_init(&s, 0);
    util_buf_printf(&s, "subscription %s: ", id);
    if (want->tpm_op != POLICY_QUOTA_KEEP) {
        limit_text(&s, "tpm", a->has_tpm, (double)a->tpm);
        limit_text(&s, " ->", b->has_tpm, (double)b->tpm);
    }
    if (want->rpm_op != POLICY_QUOTA_KEEP) {
        util_buf_puts(&s, want->tpm_op != POLICY_QUOTA_KEEP ? ", " : "");
        limit_text(&s, "rpm", a->has_rpm, a->rpm);
        limit_text(&s, " ->", b->has_rpm, b->rpm);
    }
    return util_buf_steal(&s);
}

/* Every entry of every subscription, but only the primary one of the target (*target: its index). */
static policy_quota_sub *plan_subs(const struct quota_scope *qs, size_t t, size_t *n, size_t *target)
{
    policy_quota_sub *subs = calloc(qs->nentries ? qs->nentries : 1, sizeof *subs);
    if (!subs)
        abort();
    *n = 0;
    for (size_t i = 0; i < qs->nsubs; i++)
        for (size_t k = qs->subs[i].first; k < qs->subs[i].first + qs->subs[i].count; k++) {
            if (i == t && k != qs->subs[t].primary)
                continue;
            if (i == t)
                *target = *n;
            subs[(*n)++] = qs->entries[k];
        }
    return subs;
}

/* One pipeline write per document the plan changed. */
static int add_writes(struct change *ch, const struct quota_scope *qs, const policy_quota_result *res,
                      util_error *err)
{
    for (size_t i = 0; i < res->ndocs; i++) {
        if (!res->texts[i])
            continue;
        const struct quota_doc *d = &qs->docs[i];
        json_t *after = change_policy_body(res->texts[i]);
        int rc = change_add(ch, &(struct change_write){.path = d->path, .label = d->label,
                                                       .read_query = "format=rawxml", .before = d->body,
                                                       .etag = d->etag, .after = after,
                                                       .before_text = qs->pdocs[i].text,
                                                       .after_text = res->texts[i]}, err);
        json_decref(after);
        if (rc)
            return rc;
    }
    return 0;
}

int update_quota_plan(const struct quota_scope *qs, size_t t, const policy_quota_change *want,
                      policy_quota_result *res, util_error *err)
{
    size_t n = 0, target = 0;
    policy_quota_sub *subs = plan_subs(qs, t, &n, &target);
    int rc = policy_quota_update(qs->pdocs, qs->ndocs, subs, n, target, want, res, err);
    free(subs);
    return rc;
}

static int plan_change(struct change *ch, const struct quota_scope *qs, size_t t,
                           const policy_quota_change *want, util_error *err)
{
    policy_quota_result res;
    int rc = update_quota_plan(qs, t, want, &res, err);
    if (!rc)
        rc = add_writes(ch, qs, &res, err);
    if (rc) {
        policy_quota_result_free(&res);
        return rc;
    }
    const struct quota_sub *s = &qs->subs[t];
    bool differ = false;
    for (size_t k = s->first + 1; k < s->first + s->count; k++)
        differ |= !policy_limits_equal(&qs->entry_lim[k], &qs->entry_lim[s->first]);
    if (differ)
        change_add_warning(ch, "subscription %s's limits differ between the APIs of product %s; the edit was "
                           "planned for its requests to API %s (see by_api in list_subscriptions)", s->id,
                           s->scope_id, qs->entry_api[s->primary]);
    change_set_extra(ch, "subscription_id", json_string(s->id));
    char *plan = util_printf("%s The %zu other subscription(s) keep their effective limits (checked)", res.note,
                             qs->nsubs - 1);
    char *line = summary(s->id, want, &res.before, &res.after);
    /* the pipeline ends the summary with '.', in the applied message and the confirmation question */
    change_set_summary(ch, "%s. %s", line, plan);
    change_set_extra(ch, "plan", json_sprintf("%s.", plan));
    free(plan);
    free(line);
    change_set_before_after(ch, policy_limits_json(&res.before), policy_limits_json(&res.after));
    policy_quota_result_free(&res);
    return 0;
}

/* Enables category in a diagnostic setting's logs (adds it when absent). */
static void enable_category(json_t *props, const char *category)
{
    json_t *logs = json_object_get(props, "logs"), *l;
    size_t i;
    bool found = false;
    if (!json_is_array(logs))
        json_object_set_new(props, "logs", logs = json_array());
    json_array_foreach(logs, i, l) {
        const char *c = json_string_value(json_object_get(l, "category"));
        if (c && !strcmp(c, category)) {
            json_object_set_new(l, "enabled", json_true());
            found = true;
        }
    }
    if (!found)
        json_array_append_new(logs, json_pack("{s:s,s:b}", "category", category, "enabled", 1));
}

/* The categories shadow mode enables on la's setting: "GatewayLogs", "GatewayLlmLogs", both, or NULL. */
static const char *missing_categories(const struct metrics_la *la, bool tokens)
{
    if (!la->workspace || !la->dedicated)
        return NULL;
    bool llm = tokens && !la->llm_logs;
    return !la->gateway_logs ? (llm ? "GatewayLogs and GatewayLlmLogs" : "GatewayLogs") : llm ? "GatewayLlmLogs" : NULL;
}

/* The write that enables the categories (missing_categories) on that setting (no ETag: see
 * change_write.no_etag). */
static int add_logs_write(struct change *ch, const struct metrics_la *la, const char *categories, util_error *err)
{
    char *name = util_url_encode(la->setting);
    char *path = util_printf("providers/Microsoft.Insights/diagnosticSettings/%s", name);
    char *label = util_printf("diagnostic setting %s", la->setting);
    json_t *props = json_deep_copy(json_object_get(la->item, "properties"));
    if (!json_is_object(props)) {
        json_decref(props);
        props = json_object();
    }
    if (strstr(categories, "GatewayLogs"))
        enable_category(props, "GatewayLogs");
    if (strstr(categories, "GatewayLlmLogs"))
        enable_category(props, "GatewayLlmLogs");
    json_t *after = json_pack("{s:o}", "properties", props);
    char *before_text = change_json_text(json_object_get(la->item, "properties"));
    char *after_text = change_json_text(json_object_get(after, "properties"));
    int rc = change_add(ch, &(struct change_write){.path = path, .label = label, .before = la->item, .after = after,
                                                   .before_text = before_text, .after_text = after_text,
                                                   .api = ARM_API_DIAGNOSTICS, .no_etag = true}, err);
    free(name), free(path), free(label), free(before_text), free(after_text);
    json_decref(after);
    return rc;
}

/* mode "shadow": APIM has no log-only limit, so nothing is enforced. The plan is made (the proposal
 * must be one update_quota would apply) and journaled, and the per-minute data simulate_quota
 * replays is made sure of: a diagnostic setting sending to a workspace in resource-specific tables
 * but without GatewayLogs (the requests) or, for tpm, GatewayLlmLogs (the tokens) gets them enabled
 * (one write through the pipeline: diff, confirmation, journal, revert). No such setting, or
 * AzureDiagnostics tables: it says what to do and writes nothing (creating or switching a setting
 * moves where the service's logs go: the human's call). The result says when 24 hours of this
 * team's data will exist. settings: the DiagnosticSettings_List answer (rc, e its outcome). */
static int plan_shadow(struct change *ch, struct tools_ctx *ctx, struct arm_client *arm, const struct quota_scope *qs,
                       size_t t, const policy_quota_change *want, json_t *settings, int settings_rc,
                       const util_error *settings_err, util_error *err)
{
    policy_quota_result res;
    int rc = update_quota_plan(qs, t, want, &res, err);
    if (rc)
        return rc;
    const struct quota_sub *s = &qs->subs[t];
    struct metrics_la la;
    metrics_la_read(settings, &la);
    bool tokens = want->tpm_op != POLICY_QUOTA_KEEP;
    const char *enable = missing_categories(&la, tokens);
    json_t *missing = enable ? NULL : metrics_minutes_missing(&la, tokens);
    struct metrics_team *teams = NULL;
    size_t nteams = 0, minutes = 0;
    if (settings_rc) {
        *err = *settings_err;
        util_error_prefix(err, "reading the diagnostic settings (where the gateway logs go); nothing was written");
        rc = err->code;
    } else if (missing) {
        rc = util_error_set(err, UTIL_EINVAL, "shadow mode needs the per-minute data simulate_quota replays, and "
                            "it is not collected: %s. Enable %s, then run shadow mode again (this tool does not "
                            "create or switch a diagnostic setting: that moves where the service's logs go); "
                            "nothing was written or journaled", json_string_value(json_object_get(missing, "reason")),
                            json_string_value(json_object_get(missing, "enable")));
    } else if (enable) {
        rc = add_logs_write(ch, &la, enable, err);
    }
    int64_t now = util_now_ms() / 1000, first = now;
    util_error qerr = {0}; /* no answer: no minutes counted, the data is ready 24 h from now */
    if (!rc && !enable &&
        metrics_minutes_query(arm, ctx->cfg->service_id, &s->id, 1, now - 86400, now, &teams, &nteams, &qerr) == 0)
        for (size_t i = 0; i < nteams; i++)
            for (size_t k = 0; k < teams[i].n; k++, minutes++)
                first = teams[i].m[k].t < first ? teams[i].m[k].t : first;
    if (!rc) {
        char ready[32];
        util_time_iso8601(first + 86400 > now ? first + 86400 : now, ready, sizeof(ready));
        change_set_journal_only(ch);
        change_set_extra(ch, "subscription_id", json_string(s->id));
        change_set_extra(ch, "mode", json_string("shadow"));
        change_set_extra(ch, "proposed", policy_limits_json(&res.after));
        change_set_extra(ch, "data_ready_at", json_string(ready));
        change_set_extra(ch, "plan", json_sprintf("%s.", res.note));
        char *line = summary(s->id, want, &res.before, &res.after);
        if (enable)
            change_set_summary(ch, "shadow proposal %s (recorded in the journal; NO limit changes: APIM has no "
                               "log-only limit), and %s enabled in diagnostic setting %s (workspace, "
                               "resource-specific tables) so that the per-minute traffic is logged; a 24 h replay "
                               "with simulate_quota is possible from %s", line, enable, la.setting, ready);
        else
            change_set_summary(ch, "shadow proposal %s (recorded in the journal; NO limit changes: APIM has no "
                               "log-only limit). Per-minute data: Log Analytics, %zu minute(s) of this team in the "
                               "last 24 h; a 24 h replay with simulate_quota is possible from %s", line, minutes, ready);
        change_set_before_after(ch, policy_limits_json(&res.before), policy_limits_json(&res.before));
        free(line);
    }
    metrics_teams_free(teams, nteams);
    json_decref(missing);
    metrics_la_free(&la);
    policy_quota_result_free(&res);
    return rc;
}

static json_t *run(struct mcp_call *call, json_t *args, void *user)
{
    struct tools_ctx *ctx = user;
    util_error err;
    util_error_clear(&err);
    const char *id = json_string_value(json_object_get(args, "subscription_id"));
    policy_quota_change want;
    if (read_op(args, "tpm", &want.tpm_op, &want.tpm, &err) || read_op(args, "rpm", &want.rpm_op, &want.rpm, &err))
        return tools_fail(ctx, &err);
    if (want.tpm_op == POLICY_QUOTA_KEEP && want.rpm_op == POLICY_QUOTA_KEEP) {
        util_error_set(&err, UTIL_EINVAL, "give tpm or rpm (or both): a positive integer sets this subscription's "
                       "limit; remove_tpm/remove_rpm: true removes its own limit so the shared one applies again");
        return tools_fail(ctx, &err);
    }
    const char *mode = json_string_value(json_object_get(args, "mode"));
    bool shadow = mode && !strcmp(mode, "shadow");
    if (shadow && (want.tpm_op == POLICY_QUOTA_REMOVE || want.rpm_op == POLICY_QUOTA_REMOVE)) {
        util_error_set(&err, UTIL_EINVAL, "mode shadow records a proposed limit: give tpm and/or rpm as positive "
                       "integers (remove_tpm/remove_rpm, removing a limit, has nothing to replay)");
        return tools_fail(ctx, &err);
    }
    if (tools_check_id("subscription_id", id, &err))
        return tools_fail(ctx, &err);
    /* shadow: the diagnostic settings are read with the subscriptions, in the same round */
    struct arm_request diag = {"GET", "providers/Microsoft.Insights/diagnosticSettings", ARM_API_DIAGNOSTICS, NULL,
                               NULL, NULL};
    struct arm_result dres = {0};
    int drc = 0;
    util_error derr = {0};
    struct quota_scope_extra extra = {1, &diag, &dres, &drc, &derr, false};
    struct arm_client *arm = tools_call_arm(ctx, call, &err);
    struct quota_scope qs;
    if (!arm || quota_scope_gather_with(arm, NULL, NULL, shadow ? &extra : NULL, &qs, &err)) {
        arm_result_free(&dres);
        return tools_fail(ctx, &err);
    }
    size_t t = quota_scope_find(&qs, id);
    struct change *ch = t == (size_t)-1 ? NULL : change_new(ctx, call, "update_quota", args);
    int rc = !ch ? quota_scope_not_found(&qs, id, &err)
             : shadow ? plan_shadow(ch, ctx, arm, &qs, t, &want, dres.body, drc, &derr, &err)
                      : plan_change(ch, &qs, t, &want, &err);
    arm_result_free(&dres);
    if (!rc && !shadow && want.tpm_op == POLICY_QUOTA_SET) /* the Azure OpenAI capacity behind the team (issue 16) */
        capacity_check_quota(ctx, arm, ch, &qs, t, want.tpm);
    quota_scope_free(&qs);
    if (rc) {
        change_free(ch);
        return tools_fail(ctx, &err);
    }
    return change_run(ch, json_is_true(json_object_get(args, "dry_run")));
}

const struct mcp_tool tools_update_quota = {
    .name = "update_quota",
    .title = "Change one subscription's quota",
    .description = "Sets tpm and/or rpm of ONE subscription (id from list_subscriptions) by editing "
                   "its product/API policy; remove_tpm/remove_rpm drops its own limit so the shared one applies. "
                   "Refuses if another subscription's limits would change. Returns plan and diff; dry_run first, "
                   "cut gradually, watch 429s with get_metrics. mode shadow: APIM has no log-only limit; none "
                   "changes, proposal journaled, token logs enabled for simulate_quota.",
    .input_schema = INPUT_SCHEMA,
    .output_schema = OUTPUT_SCHEMA,
    .destructive_hint = false,
    .idempotent_hint = true,
    .writes = true,
    .fn = run,
};
