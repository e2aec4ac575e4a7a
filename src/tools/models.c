/* models: the Azure OpenAI deployments behind the gateway's backends — accounts found by endpoint
 * (Accounts_List per subscription, cached for the process), their deployments (Deployments_List,
 * cached MODELS_DEPLOYMENTS_TTL_SEC), and the warnings and capacities drawn from them (see
 * models.h). Microsoft.CognitiveServices 2025-12-01 (cognitiveservices.json). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "models.h"

/* ---- pure helpers ------------------------------------------------------------------------ */


static const char *const endpoint_suffixes[] = {
    ".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com",
    ".openai.azure.us",  ".cognitiveservices.azure.us",  ".services.ai.azure.us",
    ".openai.azure.cn",  ".cognitiveservices.azure.cn",  ".services.ai.azure.cn",
    NULL};

/* The length of host's Azure OpenAI suffix, 0 when it has none. */
static size_t endpoint_suffix(const char *host)
{
    size_t hl = strlen(host);
    for (const char *const *s = endpoint_suffixes; *s; s++) {
        size_t sl = strlen(*s);
        if (hl > sl && strcmp(host + hl - sl, *s) == 0)
            return sl;
    }
    return 0;
}

bool models_is_endpoint(const char *url)
{
    char host[256];
    util_url_host(url, host, sizeof host);
    return host[0] && endpoint_suffix(host) > 0;
}

long long models_capacity_tpm(const char *sku, long long capacity)
{
    if (!sku || capacity < 0)
        return -1;
    if (!strcasecmp(sku, "Standard") || !strcasecmp(sku, "GlobalStandard") || !strcasecmp(sku, "DataZoneStandard"))
        return capacity * 1000;
    return -1;
}

/* A lowercase copy (ARM ids compare case-insensitively). */
static char *lower_dup(const char *s)
{
    char *c = util_strdup(s ? s : "");
    for (char *p = c; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    return c;
}

static void human_tpm(long long tpm, char *out, size_t n)
{
    if (tpm >= 1000000 && tpm % 100000 == 0)
        snprintf(out, n, "%.1fM", (double)tpm / 1e6);
    else if (tpm >= 1000 && tpm % 1000 == 0)
        snprintf(out, n, "%lldK", tpm / 1000);
    else
        snprintf(out, n, "%lld", tpm);
}

/* ---- the cache -------------------------------------------------------------------------- */

static json_t *cache(struct tools_ctx *ctx, const char *part)
{
    if (!ctx->models)
        ctx->models = json_pack("{s:{},s:{},s:{}}", "accounts", "deployments", "errors");
    return json_object_get(ctx->models, part);
}

/* The subscriptions to search: the gateway's, then AIGW_MODEL_SUBSCRIPTIONS', each once. */
static size_t subscriptions(struct tools_ctx *ctx, char **out)
{
    size_t n = 0;
    if (ctx->cfg->subscription_id)
        out[n++] = util_strdup(ctx->cfg->subscription_id);
    const char *p = ctx->cfg->model_subscriptions;
    while (p && *p && n < MODELS_SUBS_MAX) {
        size_t len = strcspn(p, ",");
        char *id = util_strndup(p, len);
        bool dup = false;
        for (size_t i = 0; i < n; i++)
            dup |= util_str_eq_ci(out[i], id);
        if (dup)
            free(id);
        else
            out[n++] = id;
        p += len + (p[len] == ',');
    }
    return n;
}

/* The Accounts_List requests of the subscriptions not cached (nor failed in this call when
 * keep_errors: those are reported, not asked again). */
static void plan(struct tools_ctx *ctx, struct models_prefetch *p, bool keep_errors)
{
    memset(p, 0, sizeof *p);
    if (!keep_errors)
        json_object_clear(cache(ctx, "errors"));
    char *subs[MODELS_SUBS_MAX];
    size_t n = subscriptions(ctx, subs);
    json_t *accounts = cache(ctx, "accounts"), *errors = cache(ctx, "errors");
    for (size_t i = 0; i < n; i++) {
        if (json_object_get(accounts, subs[i]) || json_object_get(errors, subs[i])) {
            free(subs[i]);
            continue;
        }
        p->subs[p->n] = subs[i];
        p->paths[p->n] = util_printf("/subscriptions/%s/providers/Microsoft.CognitiveServices/accounts", subs[i]);
        p->reqs[p->n] = (struct arm_request){.method = "GET", .path = p->paths[p->n], .api = ARM_API_COGNITIVE};
        p->n++;
    }
}

void models_prefetch_plan(struct tools_ctx *ctx, struct models_prefetch *p)
{
    pthread_mutex_lock(&ctx->models_lock);
    plan(ctx, p, false);
    pthread_mutex_unlock(&ctx->models_lock);
}

/* A list answer's items, with the pages its nextLink leads to (NEW array), or NULL with err. */
static json_t *all_items(struct arm_client *arm, json_t *body, size_t max, util_error *err)
{
    json_t *items = json_array();
    json_array_extend(items, json_object_get(body, "value"));
    const char *next = json_string_value(json_object_get(body, "nextLink"));
    if (next && *next) {
        json_t *more = NULL;
        if (arm_list(arm, next, ARM_API_COGNITIVE, NULL, max, &more, err) != 0) {
            json_decref(items);
            return NULL;
        }
        json_array_extend(items, more);
        json_decref(more);
    }
    return items;
}

static json_t *error_entry(int rc, const util_error *e)
{
    return json_pack("{s:b,s:s}", "forbidden", rc == UTIL_EFORBIDDEN || rc == UTIL_EAUTH, "message", e->message);
}

static void prefetch_store(struct tools_ctx *ctx, struct arm_client *arm, struct models_prefetch *p);

/* Tool calls run on several threads: the cache is read and filled under ctx->models_lock (a
 * recursive mutex, held across the ARM reads that fill it, so a second call waits for the first's
 * answers instead of asking again). */
void models_prefetch_store(struct tools_ctx *ctx, struct arm_client *arm, struct models_prefetch *p)
{
    pthread_mutex_lock(&ctx->models_lock);
    prefetch_store(ctx, arm, p);
    pthread_mutex_unlock(&ctx->models_lock);
}

static void prefetch_store(struct tools_ctx *ctx, struct arm_client *arm, struct models_prefetch *p)
{
    json_t *accounts = cache(ctx, "accounts"), *errors = cache(ctx, "errors");
    for (size_t i = 0; i < p->n; i++) {
        util_error e = p->errs[i];
        int rc = p->rcs[i];
        json_t *items = rc ? NULL : all_items(arm, p->res[i].body, MODELS_ACCOUNTS_MAX, &e);
        if (items)
            json_object_set_new(accounts, p->subs[i], items);
        else
            json_object_set_new(errors, p->subs[i], error_entry(rc ? rc : e.code, &e));
    }
    models_prefetch_free(p);
}

void models_prefetch_free(struct models_prefetch *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->subs[i]);
        free(p->paths[i]);
        arm_result_free(&p->res[i]);
    }
    memset(p, 0, sizeof *p);
}

static void ensure_accounts(struct tools_ctx *ctx, struct arm_client *arm)
{
    struct models_prefetch p;
    plan(ctx, &p, true);
    if (p.n)
        arm_batch(arm, p.n, p.reqs, p.res, p.rcs, p.errs);
    models_prefetch_store(ctx, arm, &p);
}

/* ---- matching a backend to its account --------------------------------------------------- */

static bool account_has_host(json_t *a, const char *host)
{
    json_t *props = json_object_get(a, "properties");
    char h[256];
    util_url_host(json_string_value(json_object_get(props, "endpoint")), h, sizeof h);
    if (h[0] && !strcmp(h, host))
        return true;
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(props, "endpoints"), k, v) {
        util_url_host(json_string_value(v), h, sizeof h);
        if (h[0] && !strcmp(h, host))
            return true;
    }
    /* a custom subdomain names one account under every Azure OpenAI / Cognitive Services domain */
    const char *sub = json_string_value(json_object_get(props, "customSubDomainName"));
    size_t label = strcspn(host, ".");
    return sub && strlen(sub) == label && !strncasecmp(sub, host, label) && endpoint_suffix(host) == strlen(host) - label;
}

static json_t *find_account(struct tools_ctx *ctx, const char *host)
{
    const char *sub;
    json_t *list, *a;
    size_t i;
    json_object_foreach(cache(ctx, "accounts"), sub, list) {
        json_array_foreach(list, i, a)
            if (account_has_host(a, host))
                return a;
    }
    return NULL;
}

/* Why no account was found for host: a subscription we could not read, else not found. */
static char *no_account_reason(struct tools_ctx *ctx, const char *host)
{
    const char *sub;
    json_t *e;
    json_object_foreach(cache(ctx, "errors"), sub, e) {
        if (json_is_true(json_object_get(e, "forbidden")))
            return util_printf("the Azure OpenAI accounts of subscription %s cannot be listed (%s); grant the "
                               "gateway's identity %s",
                               sub, json_string_value(json_object_get(e, "message")), MODELS_ROLE);
        return util_printf("the Azure OpenAI accounts of subscription %s could not be listed: %s", sub,
                           json_string_value(json_object_get(e, "message")));
    }
    util_buf subs;
    util_buf_init(&subs, 0);
    json_t *v;
    json_object_foreach(cache(ctx, "accounts"), sub, v)
        util_buf_printf(&subs, "%s%s", subs.len ? ", " : "", sub);
    char *r = util_printf("no Azure OpenAI account with endpoint %s is visible in subscription(s) %s; if it lives in "
                          "another subscription add that subscription id to AIGW_MODEL_SUBSCRIPTIONS, and grant the "
                          "gateway's identity %s",
                          host, subs.len ? subs.data : "(none)", MODELS_ROLE);
    util_buf_free(&subs);
    return r;
}

/* ---- deployments --------------------------------------------------------------------------- */

static json_t *deployment_view(json_t *d)
{
    json_t *props = json_object_get(d, "properties"), *model = json_object_get(props, "model");
    json_t *sku = json_object_get(d, "sku");
    const char *sku_name = json_string_value(json_object_get(sku, "name"));
    json_t *cap = json_object_get(sku, "capacity");
    long long tpm = json_is_integer(cap) ? models_capacity_tpm(sku_name, json_integer_value(cap)) : -1;
    return json_pack("{s:s?,s:s?,s:s?,s:s?,s:s?,s:O,s:o}", "name", json_string_value(json_object_get(d, "name")),
                     "model", json_string_value(json_object_get(model, "name")), "model_version",
                     json_string_value(json_object_get(model, "version")), "version_upgrade_option",
                     json_string_value(json_object_get(props, "versionUpgradeOption")), "sku", sku_name, "capacity",
                     json_is_integer(cap) ? cap : json_null(), "capacity_tpm",
                     tpm >= 0 ? json_integer(tpm) : json_null());
}

/* Reads the deployments of the accounts (object lowercase id → account) not cached or stale. */
static void ensure_deployments(struct tools_ctx *ctx, struct arm_client *arm, json_t *wanted)
{
    json_t *deps = cache(ctx, "deployments");
    int64_t now = util_now_ms() / 1000;
    size_t n = 0, i = 0;
    const char *id;
    json_t *a;
    json_object_foreach(wanted, id, a) {
        json_t *c = json_object_get(deps, id);
        if (!c || json_object_get(c, "error") || now - json_integer_value(json_object_get(c, "t")) >= MODELS_DEPLOYMENTS_TTL_SEC)
            n++;
    }
    if (!n)
        return;
    struct arm_request *reqs = calloc(n, sizeof *reqs);
    struct arm_result *res = calloc(n, sizeof *res);
    int *rcs = calloc(n, sizeof *rcs);
    util_error *errs = calloc(n, sizeof *errs);
    char **paths = calloc(n, sizeof *paths), **ids = calloc(n, sizeof *ids);
    json_object_foreach(wanted, id, a) {
        json_t *c = json_object_get(deps, id);
        if (c && !json_object_get(c, "error") && now - json_integer_value(json_object_get(c, "t")) < MODELS_DEPLOYMENTS_TTL_SEC)
            continue;
        ids[i] = util_strdup(id);
        paths[i] = util_printf("%s/deployments", json_string_value(json_object_get(a, "id")));
        reqs[i] = (struct arm_request){.method = "GET", .path = paths[i], .api = ARM_API_COGNITIVE};
        i++;
    }
    arm_batch(arm, n, reqs, res, rcs, errs);
    for (i = 0; i < n; i++) {
        util_error e = errs[i];
        json_t *items = rcs[i] ? NULL : all_items(arm, res[i].body, MODELS_DEPLOYMENTS_MAX, &e);
        json_t *entry = json_pack("{s:I}", "t", (json_int_t)now);
        if (items) {
            json_t *views = json_array(), *d;
            size_t j;
            json_array_foreach(items, j, d)
                json_array_append_new(views, deployment_view(d));
            json_object_set_new(entry, "value", views);
            json_decref(items);
        } else {
            json_object_set_new(entry, "error", error_entry(rcs[i] ? rcs[i] : e.code, &e));
        }
        json_object_set_new(deps, ids[i], entry);
        arm_result_free(&res[i]);
        free(paths[i]);
        free(ids[i]);
    }
    free(reqs), free(res), free(rcs), free(errs), free(paths), free(ids);
}

static void unavailable(json_t *m, char *why)
{
    json_object_set_new(m, "deployments", json_null());
    json_object_set_new(m, "deployments_unavailable", json_string(why));
    free(why);
}

static void attach(struct tools_ctx *ctx, struct arm_client *arm, json_t *members);

void models_attach(struct tools_ctx *ctx, struct arm_client *arm, json_t *members)
{
    pthread_mutex_lock(&ctx->models_lock);
    attach(ctx, arm, members);
    pthread_mutex_unlock(&ctx->models_lock);
}

static void attach(struct tools_ctx *ctx, struct arm_client *arm, json_t *members)
{
    size_t i;
    json_t *m;
    bool any = false;
    json_array_foreach(members, i, m)
        any |= models_is_endpoint(json_string_value(json_object_get(m, "url")));
    if (any)
        ensure_accounts(ctx, arm);
    json_t *wanted = json_object();
    json_array_foreach(members, i, m) {
        char host[256];
        util_url_host(json_string_value(json_object_get(m, "url")), host, sizeof host);
        json_t *a = any && host[0] && endpoint_suffix(host) ? find_account(ctx, host) : NULL;
        if (a) {
            char *id = lower_dup(json_string_value(json_object_get(a, "id")));
            json_object_set(wanted, id, a);
            free(id);
        }
    }
    ensure_deployments(ctx, arm, wanted);
    json_array_foreach(members, i, m) {
        const char *url = json_string_value(json_object_get(m, "url"));
        char host[256];
        util_url_host(url, host, sizeof host);
        json_object_set_new(m, "account", json_null());
        if (!url || !host[0] || !endpoint_suffix(host)) {
            unavailable(m, util_printf("%s is not an Azure OpenAI endpoint (*.openai.azure.com, "
                                       "*.cognitiveservices.azure.com, *.services.ai.azure.com)",
                                       url ? "the backend URL" : "the backend has no URL: it"));
            continue;
        }
        json_t *a = find_account(ctx, host);
        if (!a) {
            unavailable(m, no_account_reason(ctx, host));
            continue;
        }
        json_object_set_new(m, "account", json_pack("{s:o,s:o,s:o}", "name", json_deep_copy(json_object_get(a, "name")),
                                                    "id", json_deep_copy(json_object_get(a, "id")), "location",
                                                    json_deep_copy(json_object_get(a, "location"))));
        char *id = lower_dup(json_string_value(json_object_get(a, "id")));
        json_t *c = json_object_get(cache(ctx, "deployments"), id);
        free(id);
        json_t *e = json_object_get(c, "error");
        if (json_is_array(json_object_get(c, "value"))) {
            /* a copy: the cache is shared by calls on other threads, a result is not */
            json_object_set_new(m, "deployments", json_deep_copy(json_object_get(c, "value")));
        } else if (json_is_true(json_object_get(e, "forbidden"))) {
            unavailable(m, util_printf("the deployments of account %s cannot be read (%s); grant the gateway's "
                                       "identity %s",
                                       json_string_value(json_object_get(a, "name")),
                                       json_string_value(json_object_get(e, "message")), MODELS_ROLE));
        } else {
            unavailable(m, util_printf("the deployments of account %s could not be read: %s",
                                       json_string_value(json_object_get(a, "name")),
                                       e ? json_string_value(json_object_get(e, "message")) : "no answer"));
        }
    }
    json_decref(wanted);
    json_object_clear(cache(ctx, "errors")); /* failures are asked again next call */
}

/* ---- warnings ------------------------------------------------------------------------------- */

static json_int_t prio_of(json_t *m)
{
    json_t *p = json_object_get(m, "priority");
    return json_is_integer(p) ? json_integer_value(p) : 1;
}

static json_t *deployment_named(json_t *m, const char *name)
{
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(m, "deployments"), i, d)
        if (util_str_eq_ci(json_string_value(json_object_get(d, "name")), name))
            return d;
    return NULL;
}

static const char *id_of(json_t *m) { return json_string_value(json_object_get(m, "backend_id")); }

/* Every deployment name of the members with known deployments, each once (NEW object name → true). */
static json_t *names_of(json_t *members)
{
    json_t *names = json_object(), *m, *d;
    size_t i, j;
    json_array_foreach(members, i, m)
        json_array_foreach(json_object_get(m, "deployments"), j, d)
            if (json_string_value(json_object_get(d, "name")))
                json_object_set_new(names, json_string_value(json_object_get(d, "name")), json_true());
    return names;
}

static void warn_missing(json_t *members, const char *name, json_t *warnings)
{
    util_buf have, lack;
    util_buf_init(&have, 0);
    util_buf_init(&lack, 0);
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m) {
        if (!json_is_array(json_object_get(m, "deployments")))
            continue;
        util_buf *b = deployment_named(m, name) ? &have : &lack;
        util_buf_printf(b, "%s%s", b->len ? ", " : "", id_of(m));
    }
    if (have.len && lack.len)
        json_array_append_new(warnings, json_sprintf("deployment '%s' exists in %s but not in %s: a request for it "
                                                     "that the pool sends there (failover or load balancing) fails "
                                                     "with 404 DeploymentNotFound; deploy it in every member",
                                                     name, have.data, lack.data));
    util_buf_free(&have);
    util_buf_free(&lack);
}

/* "A: v1 (opt), B: v2 (opt)" of one key of the deployment name in each member; true when they differ. */
static bool differ(json_t *members, const char *name, const char *k1, const char *k2, util_buf *list)
{
    char *first = NULL;
    bool diff = false;
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m) {
        json_t *d = deployment_named(m, name);
        if (!d)
            continue;
        const char *a = json_string_value(json_object_get(d, k1)), *b = k2 ? json_string_value(json_object_get(d, k2)) : NULL;
        char *v = util_printf("%s%s%s", a ? a : "?", b ? " " : "", b ? b : "");
        util_buf_printf(list, "%s%s in %s", list->len ? ", " : "", v, id_of(m));
        if (!first)
            first = v;
        else {
            diff |= strcmp(first, v) != 0;
            free(v);
        }
    }
    free(first);
    return diff;
}

/* Sum of capacity_tpm of deployment name over the members of priority p that have it; -1 when one
 * of them has no TPM capacity, 0 when none has it. ids lists them. */
static long long group_capacity(json_t *members, const char *name, json_int_t p, util_buf *ids)
{
    long long sum = 0;
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m) {
        json_t *d = prio_of(m) == p ? deployment_named(m, name) : NULL;
        if (!d)
            continue;
        json_t *c = json_object_get(d, "capacity_tpm");
        if (!json_is_integer(c))
            return -1;
        sum += json_integer_value(c);
        if (ids)
            util_buf_printf(ids, "%s%s", ids->len ? ", " : "", id_of(m));
    }
    return sum;
}

static void warn_failover(json_t *members, const char *name, json_t *warnings)
{
    json_int_t best = -1;
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m)
        if (deployment_named(m, name) && (best < 0 || prio_of(m) < best))
            best = prio_of(m);
    util_buf pids;
    util_buf_init(&pids, 0);
    long long primary = best < 0 ? -1 : group_capacity(members, name, best, &pids);
    json_t *seen = json_object();
    json_array_foreach(members, i, m) {
        json_int_t p = prio_of(m);
        char key[32];
        snprintf(key, sizeof key, "%lld", (long long)p);
        if (primary <= 0 || p == best || !deployment_named(m, name) || json_object_get(seen, key))
            continue;
        json_object_set_new(seen, key, json_true());
        util_buf ids;
        util_buf_init(&ids, 0);
        long long cap = group_capacity(members, name, p, &ids);
        if (cap >= 0 && cap < primary) {
            char a[32], b[32], gap[32];
            human_tpm(cap, a, sizeof a);
            human_tpm(primary, b, sizeof b);
            human_tpm(primary - cap, gap, sizeof gap);
            json_array_append_new(warnings,
                                  json_sprintf("failover priority %lld (%s) can serve %s TPM of '%s', the primary (%s) "
                                               "%s TPM: on failover up to %s TPM more than it can serve gets 429s "
                                               "from Azure OpenAI; raise its deployment's capacity or add a region",
                                               (long long)p, ids.data, a, name, pids.data, b, gap));
        }
        util_buf_free(&ids);
    }
    json_decref(seen);
    util_buf_free(&pids);
}

/* True when at least two members have deployment name and none of them says NoAutoUpgrade. */
static bool all_auto_upgrade(json_t *members, const char *name)
{
    size_t i, n = 0;
    json_t *m;
    json_array_foreach(members, i, m) {
        json_t *d = deployment_named(m, name);
        if (!d)
            continue;
        const char *o = json_string_value(json_object_get(d, "version_upgrade_option"));
        if (!o || !strcmp(o, "NoAutoUpgrade"))
            return false;
        n++;
    }
    return n >= 2;
}

void models_pool_warnings(json_t *members, json_t *warnings)
{
    size_t known = 0, i;
    json_t *m;
    json_array_foreach(members, i, m)
        known += json_is_array(json_object_get(m, "deployments"));
    if (known < 2)
        return;
    json_t *names = names_of(members);
    const char *name;
    json_t *v;
    json_object_foreach(names, name, v) {
        warn_missing(members, name, warnings);
        util_buf list;
        util_buf_init(&list, 0);
        if (differ(members, name, "model", "model_version", &list))
            json_array_append_new(warnings, json_sprintf("deployment '%s' runs different model versions (%s): the "
                                                         "answer changes with the region that serves it; deploy one "
                                                         "version everywhere",
                                                         name, list.data));
        util_buf_free(&list);
        util_buf_init(&list, 0);
        if (differ(members, name, "version_upgrade_option", NULL, &list))
            json_array_append_new(warnings, json_sprintf("deployment '%s' has different versionUpgradeOption (%s): one "
                                                         "region can move to a new model version alone; give every "
                                                         "member the same option (NoAutoUpgrade, then upgrade them "
                                                         "together)",
                                                         name, list.data));
        else if (all_auto_upgrade(members, name))
            json_array_append_new(warnings, json_sprintf("deployment '%s' upgrades automatically in every member (%s): "
                                                         "nothing promises the regions move at the same moment; "
                                                         "NoAutoUpgrade, then upgrading them together, keeps one "
                                                         "version",
                                                         name, list.data));
        util_buf_free(&list);
        warn_failover(members, name, warnings);
    }
    json_decref(names);
}

long long models_primary_capacity(json_t *members, const char **deployment, json_t *backends)
{
    json_int_t best = -1;
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m)
        if (json_is_array(json_object_get(m, "deployments")) && (best < 0 || prio_of(m) < best))
            best = prio_of(m);
    *deployment = NULL;
    if (best < 0)
        return -1;
    json_t *names = names_of(members);
    long long top = -1;
    const char *name;
    json_t *v;
    json_object_foreach(names, name, v) {
        long long cap = group_capacity(members, name, best, NULL);
        if (cap > top) {
            top = cap;
            json_array_foreach(members, i, m) {
                json_t *d = deployment_named(m, name);
                if (d) {
                    *deployment = json_string_value(json_object_get(d, "name"));
                    break;
                }
            }
        }
    }
    json_decref(names);
    json_array_foreach(members, i, m)
        if (backends && top > 0 && prio_of(m) == best && deployment_named(m, *deployment))
            json_array_append(backends, json_object_get(m, "backend_id"));
    return top > 0 ? top : -1;
}
