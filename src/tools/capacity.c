/* capacity: an API's Azure OpenAI capacity (routing + the deployments of its best-priority members)
 * against the tokens-per-minute limits of the teams it serves (see capacity.h). */
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "capacity.h"
#include "change.h"
#include "models.h"

json_t *capacity_of_api(struct tools_ctx *ctx, struct arm_client *arm, const char *api_id)
{
    if (!api_id)
        return json_null();
    struct models_prefetch pre;
    models_prefetch_plan(ctx, &pre);
    struct tools_backend_along along = {pre.n, pre.reqs, pre.res, pre.rcs, pre.errs};
    struct tools_backend_snapshot s;
    util_error err = {0};
    int rc = tools_backend_snapshot_read_along(arm, api_id, NULL, &along, &s, &err);
    models_prefetch_store(ctx, arm, &pre);
    json_t *out = json_null();
    if (!rc) {
        json_t *members = tools_backend_snapshot_members(&s);
        models_attach(ctx, arm, members);
        const char *dep = NULL;
        json_t *ids = json_array();
        long long cap = models_primary_capacity(members, &dep, ids);
        if (cap > 0) {
            json_decref(out);
            out = json_pack("{s:s,s:s,s:I,s:O}", "api_id", api_id, "deployment", dep, "capacity_tpm",
                            (json_int_t)cap, "backends", ids);
        }
        json_decref(ids);
        json_decref(members);
    }
    tools_backend_snapshot_free(&s);
    return out;
}

json_t *capacity_vs_teams(json_t *cap, const struct quota_scope *qs, size_t target, long long new_tpm)
{
    const char *api = json_string_value(json_object_get(cap, "api_id"));
    long long sum = 0;
    size_t n = 0;
    for (size_t i = 0; i < qs->nsubs; i++) {
        const struct quota_sub *s = &qs->subs[i];
        const char *on = qs->entry_api[s->primary];
        if (!on || !api || strcmp(on, api) != 0 || strcmp(s->state ? s->state : "active", "active") != 0)
            continue;
        const policy_limits *l = &qs->entry_lim[s->primary];
        long long tpm = i == target && new_tpm >= 0 ? new_tpm : l->has_tpm ? (long long)l->tpm : -1;
        if (tpm < 0)
            continue;
        sum += tpm;
        n++;
    }
    long long c = json_integer_value(json_object_get(cap, "capacity_tpm"));
    json_t *out = json_deep_copy(cap);
    json_object_set_new(out, "teams_tpm", json_integer(sum));
    json_object_set_new(out, "teams", json_integer((json_int_t)n));
    json_object_set_new(out, "oversubscribed_tpm", json_integer(sum > c ? sum - c : 0));
    return out;
}

static void k(long long tpm, char *out, size_t n)
{
    if (tpm % 1000 == 0)
        snprintf(out, n, "%lldK", tpm / 1000);
    else
        snprintf(out, n, "%lld", tpm);
}

void capacity_warnings(json_t *vs, const char *id, long long new_tpm, json_t *warnings)
{
    long long c = json_integer_value(json_object_get(vs, "capacity_tpm"));
    long long sum = json_integer_value(json_object_get(vs, "teams_tpm"));
    const char *api = json_string_value(json_object_get(vs, "api_id"));
    const char *dep = json_string_value(json_object_get(vs, "deployment"));
    char cs[32], ls[32], over[32], ss[32];
    k(c, cs, sizeof cs);
    if (new_tpm > c) {
        k(new_tpm, ls, sizeof ls);
        k(new_tpm - c, over, sizeof over);
        json_array_append_new(warnings, json_sprintf("%s's new limit %s TPM exceeds by %s TPM the %s TPM that "
                                                     "deployment '%s' behind API %s (its priority-1 backends) can "
                                                     "serve: past that Azure OpenAI answers 429 whatever the "
                                                     "gateway allows; add capacity or a region first "
                                                     "(get_backend_pool)",
                                                     id, ls, over, cs, dep, api));
    }
    if (sum > c) {
        k(sum, ss, sizeof ss);
        k(sum - c, over, sizeof over);
        json_array_append_new(warnings,
                              json_sprintf("the %lld teams on API %s may together send %s TPM, %s TPM more than the "
                                           "%s TPM of deployment '%s' behind it: when they peak together Azure "
                                           "OpenAI answers the excess with 429 (get_metrics shows them as "
                                           "throttled_backend)",
                                           (long long)json_integer_value(json_object_get(vs, "teams")), api, ss, over,
                                           cs, dep));
    }
}

void capacity_check_quota(struct tools_ctx *ctx, struct arm_client *arm, struct change *ch,
                          const struct quota_scope *qs, size_t t, long long new_tpm)
{
    json_t *cap = capacity_of_api(ctx, arm, qs->entry_api[qs->subs[t].primary]);
    if (json_is_null(cap)) {
        change_set_extra(ch, "capacity", cap);
        return;
    }
    json_t *vs = capacity_vs_teams(cap, qs, t, new_tpm);
    json_t *warnings = json_array(), *w;
    size_t i;
    capacity_warnings(vs, qs->subs[t].id, new_tpm, warnings);
    json_array_foreach(warnings, i, w)
        change_add_warning(ch, "%s", json_string_value(w));
    json_decref(warnings);
    json_decref(cap);
    change_set_extra(ch, "capacity", vs);
}

json_t *capacity_for_subscriptions(struct tools_ctx *ctx, struct arm_client *arm, const struct quota_scope *qs)
{
    json_t *seen = json_object(), *out = json_array();
    for (size_t i = 0; i < qs->nsubs && json_object_size(seen) < CAPACITY_APIS_MAX; i++) {
        const char *api = qs->entry_api[qs->subs[i].primary];
        if (!api || json_object_get(seen, api))
            continue;
        json_object_set_new(seen, api, json_true());
        json_t *cap = capacity_of_api(ctx, arm, api);
        if (!json_is_null(cap))
            json_array_append_new(out, capacity_vs_teams(cap, qs, (size_t)-1, -1));
        json_decref(cap);
    }
    json_decref(seen);
    return out;
}

void capacity_text(util_buf *b, json_t *list)
{
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c) {
        char cap[32], sum[32], over[32];
        k(json_integer_value(json_object_get(c, "capacity_tpm")), cap, sizeof cap);
        k(json_integer_value(json_object_get(c, "teams_tpm")), sum, sizeof sum);
        k(json_integer_value(json_object_get(c, "oversubscribed_tpm")), over, sizeof over);
        util_buf_printf(b, "capacity: API %s -> deployment %s %s TPM (priority 1); its %lld teams' limits sum %s TPM%s%s\n",
                        json_string_value(json_object_get(c, "api_id")),
                        json_string_value(json_object_get(c, "deployment")), cap,
                        (long long)json_integer_value(json_object_get(c, "teams")), sum,
                        json_integer_value(json_object_get(c, "oversubscribed_tpm")) ? ", oversubscribed by " : "",
                        json_integer_value(json_object_get(c, "oversubscribed_tpm")) ? over : "");
    }
}
