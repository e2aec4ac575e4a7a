/* update_backend_pool: changes an API's backend pool in one call — creates or updates member
 * backends (url, circuit breaker), sets priorities and weights, removes members, replaces the
 * member list, and turns a single-backend API into a pool (creating the pool and repointing the
 * API policy). Everything is validated before the first write; the writes go through the change
 * pipeline in a safe order (members, then the pool, then the policy), so a failure midway never
 * leaves the API routed to a pool whose member does not exist, and earlier writes are undone.
 * One journal record per call: revert_change restores members, pool and routing together. */
#include <string.h>

#include "backend.h"
#include "change.h"
#include "drill.h"
#include "policy.h"

/* One entry of "backends", validated. */
struct entry {
    const char *id;
    const char *url;            /* NULL = keep */
    json_t *priority, *weight;  /* borrowed integers, NULL = keep */
    json_t *cb;                 /* APIM circuitBreaker to set (owned), NULL = keep */
    bool cb_remove;             /* remove_circuit_breaker: true */
    bool remove;
};

struct plan {
    struct tools_ctx *ctx;
    const char *api_id;
    struct entry *e;
    size_t n;
    bool replace;
    struct tools_backend_snapshot s;
    char *pool_id;
    bool new_pool;
    json_t *services;      /* the pool's services after the change (full ids) */
    json_t *after_bodies;  /* backend_id → body after the change */
};

/* ---- validation (before anything is read or written) ------------------------------------- */

/* The circuit breaker an entry asks for: its own circuit_breaker / remove_circuit_breaker, else
 * the policies' (the defaults for listed members). */
static int entry_cb(struct entry *e, json_t *item, json_t *policies, util_error *err)
{
    json_t *src = item;
    if (!json_object_get(item, "circuit_breaker") && !json_object_get(item, "remove_circuit_breaker"))
        src = e->remove ? NULL : policies;
    json_t *cb = json_object_get(src, "circuit_breaker");
    bool rm = json_is_true(json_object_get(src, "remove_circuit_breaker"));
    if (cb && rm)
        return util_error_set(err, UTIL_EINVAL, "backend %s: give circuit_breaker or remove_circuit_breaker: true, "
                              "not both", e->id);
    if (rm)
        e->cb_remove = true;
    if (!cb)
        return 0;
    e->cb = tools_backend_cb_to_apim(e->id, cb, err);
    return e->cb ? 0 : err->code;
}

static int parse_entry(struct entry *e, json_t *item, json_t *policies, util_error *err)
{
    e->id = json_string_value(json_object_get(item, "backend_id"));
    e->url = json_string_value(json_object_get(item, "url"));
    e->priority = json_object_get(item, "priority");
    e->weight = json_object_get(item, "weight");
    e->remove = json_is_true(json_object_get(item, "remove"));
    if (tools_check_id("backend_id", e->id, err))
        return err->code;
    if (e->remove && (e->url || e->priority || e->weight || json_object_get(item, "circuit_breaker") ||
                      json_object_get(item, "remove_circuit_breaker")))
        return util_error_set(err, UTIL_EINVAL,
                              "backend %s: remove: true takes the member out of the pool and accepts no url, "
                              "priority, weight or circuit_breaker",
                              e->id);
    char what[300];
    snprintf(what, sizeof what, "url of backend %s", e->id);
    if ((e->url && tools_backend_check_url(what, e->url, err)) ||
        (e->priority && tools_backend_check_priority(e->id, json_integer_value(e->priority), err)) ||
        (e->weight && tools_backend_check_weight(e->id, json_integer_value(e->weight), err)))
        return err->code;
    return entry_cb(e, item, policies, err);
}

static int parse_entries(struct plan *p, json_t *args, util_error *err)
{
    json_t *items = json_object_get(args, "backends"), *item;
    json_t *policies = json_object_get(args, "policies");
    p->replace = json_is_true(json_object_get(policies, "replace"));
    if (json_array_size(items) > BACKEND_MEMBERS_MAX)
        return util_error_set(err, UTIL_ELIMIT, "list at most %d backends in one call", BACKEND_MEMBERS_MAX);
    p->n = json_array_size(items);
    p->e = calloc(p->n ? p->n : 1, sizeof *p->e);
    size_t i;
    json_array_foreach(items, i, item) {
        if (parse_entry(&p->e[i], item, policies, err))
            return err->code;
        for (size_t j = 0; j < i; j++)
            if (util_str_eq_ci(p->e[j].id, p->e[i].id))
                return util_error_set(err, UTIL_EINVAL, "backend %s is listed twice; list each backend once",
                                      p->e[i].id);
    }
    return 0;
}

/* ---- the new state ----------------------------------------------------------------------- */

/* The backend as read (a member, a listed id, or the single backend routed to), or NULL. */
static json_t *member_body(const struct plan *p, const char *id)
{
    json_t *b = json_object_get(json_object_get(p->s.members, id), "body");
    if (!json_is_object(b) && p->s.backend_id && util_str_eq_ci(id, p->s.backend_id))
        return p->s.target;
    return json_is_object(b) ? b : NULL;
}

static const char *member_etag(const struct plan *p, const char *id)
{
    return json_string_value(json_object_get(json_object_get(p->s.members, id), "etag"));
}

/* Index of backend id in services, or -1. */
static long find_service(json_t *services, const char *id)
{
    size_t i;
    json_t *svc;
    json_array_foreach(services, i, svc) {
        char *sid = tools_backend_id_from_resource_id(json_string_value(json_object_get(svc, "id")));
        bool same = sid && util_str_eq_ci(sid, id); /* APIM ids are case-insensitive */
        free(sid);
        if (same)
            return (long)i;
    }
    return -1;
}

static char *member_list(json_t *services)
{
    util_buf b;
    util_buf_init(&b, 0);
    size_t i;
    json_t *svc;
    json_array_foreach(services, i, svc) {
        char *id = tools_backend_id_from_resource_id(json_string_value(json_object_get(svc, "id")));
        json_t *prio = json_object_get(svc, "priority");
        util_buf_printf(&b, "%s%s", i ? ", " : "", id ? id : "?");
        if (json_is_integer(prio))
            util_buf_printf(&b, " (priority %lld)", (long long)json_integer_value(prio));
        free(id);
    }
    util_buf_puts(&b, "");
    return util_buf_steal(&b);
}

/* Where the pool is: the routed pool, or a new "<api>-pool" around the single backend. */
static int choose_pool(struct plan *p, util_error *err)
{
    if (p->s.dynamic)
        return util_error_set(err, UTIL_EINVAL,
                              "API %s chooses its backend with an expression (%s); change that policy with "
                              "apply_policy instead",
                              p->api_id, p->s.routing);
    if (p->s.is_pool) {
        p->pool_id = util_strdup(p->s.backend_id);
        p->services = json_deep_copy(tools_backend_snapshot_services(&p->s));
        return 0;
    }
    p->new_pool = true;
    p->pool_id = util_printf("%s-pool", p->api_id);
    if (member_body(p, p->pool_id))
        return util_error_set(err, UTIL_ECONFLICT,
                              "API %s routes to a single backend and the pool to create, backend '%s', already "
                              "exists; point the API at it with apply_policy, or remove that backend first",
                              p->api_id, p->pool_id);
    p->services = json_array();
    if (p->s.backend_id) /* the single backend becomes the first member */
        json_array_append_new(p->services, json_pack("{s:o,s:i}", "id",
                                                     json_sprintf("%s/backends/%s", p->ctx->cfg->service_id,
                                                                  p->s.backend_id),
                                                     "priority", 1));
    return 0;
}

/* The member's backend after the change: created, updated, or as it was. */
static int member_after(struct plan *p, const struct entry *e, util_error *err)
{
    json_t *body = member_body(p, e->id);
    if (!body && !e->url)
        return util_error_set(err, UTIL_ENOTFOUND,
                              "backend %s does not exist; give its url to create it "
                              "(https://...openai.azure.com/openai)",
                              e->id);
    json_t *props = body ? json_deep_copy(json_object_get(body, "properties")) : json_object();
    if (util_str_eq_ci(json_string_value(json_object_get(props, "type")), "Pool")) {
        json_decref(props);
        return util_error_set(err, UTIL_EINVAL, "backend %s is itself a pool; a pool's members must be single backends",
                              e->id);
    }
    if (!body) {
        json_object_set_new(props, "description", json_sprintf("Created by update_backend_pool for API %s", p->api_id));
        json_object_set_new(props, "protocol", json_string("http"));
        json_object_set_new(props, "type", json_string("Single"));
    }
    if (e->url)
        json_object_set_new(props, "url", json_string(e->url));
    if (e->cb) {
        json_t *cb = json_deep_copy(e->cb);
        tools_backend_cb_keep_identity(cb, json_object_get(props, "circuitBreaker"));
        json_object_set_new(props, "circuitBreaker", cb);
    }
    if (e->cb_remove)
        json_object_del(props, "circuitBreaker");
    json_object_set_new(p->after_bodies, e->id, json_pack("{s:o}", "properties", props));
    return 0;
}

/* Applies one entry to the member list. */
static int apply_entry(struct plan *p, const struct entry *e, util_error *err)
{
    long at = find_service(p->services, e->id);
    if (e->remove) {
        if (at < 0) {
            char *list = member_list(p->services);
            util_error_set(err, UTIL_EINVAL, "backend %s is not a member of pool %s (members: %s); nothing was changed",
                           e->id, p->pool_id, *list ? list : "none");
            free(list);
            return UTIL_EINVAL;
        }
        json_array_remove(p->services, (size_t)at);
        return 0;
    }
    if (member_after(p, e, err))
        return err->code;
    json_t *svc = at >= 0 ? json_array_get(p->services, (size_t)at) : NULL;
    if (!svc) {
        svc = json_pack("{s:o}", "id", json_sprintf("%s/backends/%s", p->ctx->cfg->service_id, e->id));
        json_array_append_new(p->services, svc);
    }
    if (e->priority)
        json_object_set(svc, "priority", e->priority);
    if (e->weight)
        json_object_set(svc, "weight", e->weight);
    return 0;
}

static bool listed(const struct plan *p, const char *id)
{
    for (size_t i = 0; i < p->n; i++)
        if (util_str_eq_ci(p->e[i].id, id))
            return true;
    return false;
}

static int build_members(struct plan *p, util_error *err)
{
    for (size_t i = 0; i < p->n; i++)
        if (apply_entry(p, &p->e[i], err))
            return err->code;
    for (size_t i = json_array_size(p->services); p->replace && i-- > 0;) {
        char *id = tools_backend_id_from_resource_id(
            json_string_value(json_object_get(json_array_get(p->services, i), "id")));
        if (!id || !listed(p, id))
            json_array_remove(p->services, i);
        free(id);
    }
    if (json_array_size(p->services) == 0)
        return util_error_set(err, UTIL_EINVAL,
                              "this change would leave pool %s with no member, and a pool needs at least one "
                              "backend; keep or add one. Nothing was changed",
                              p->pool_id);
    if (json_array_size(p->services) > BACKEND_MEMBERS_MAX)
        return util_error_set(err, UTIL_ELIMIT, "a pool of more than %d members is not supported here",
                              BACKEND_MEMBERS_MAX);
    return 0;
}

/* ---- views and writes -------------------------------------------------------------------- */

/* The members in the contract's shape, with bodies from `bodies` (after) or the snapshot. */
static json_t *members_view(const struct plan *p, json_t *services, json_t *bodies)
{
    json_t *out = json_array(), *svc;
    size_t i;
    json_array_foreach(services, i, svc) {
        char *id = tools_backend_id_from_resource_id(json_string_value(json_object_get(svc, "id")));
        if (!id)
            continue;
        json_t *body = bodies ? json_object_get(bodies, id) : NULL;
        json_array_append_new(out, tools_backend_member_view(id, body ? body : member_body(p, id), svc));
        free(id);
    }
    return out;
}

/* The diff text of one backend (url, circuit breaker, credentials by name). Heap memory. */
static char *backend_text(json_t *body)
{
    if (!body)
        return NULL;
    json_t *v = tools_backend_member_view("", body, NULL);
    json_object_del(v, "backend_id");
    json_object_del(v, "priority");
    json_object_del(v, "weight");
    char *t = change_json_text(v);
    json_decref(v);
    return t;
}

static char *pool_text(json_t *services)
{
    json_t *v = json_array(), *svc;
    size_t i;
    json_array_foreach(services, i, svc) {
        char *id = tools_backend_id_from_resource_id(json_string_value(json_object_get(svc, "id")));
        json_t *item = json_pack("{s:s?}", "backend_id", id);
        if (json_object_get(svc, "priority"))
            json_object_set(item, "priority", json_object_get(svc, "priority"));
        if (json_object_get(svc, "weight"))
            json_object_set(item, "weight", json_object_get(svc, "weight"));
        json_array_append_new(v, item);
        free(id);
    }
    char *t = change_json_text(v);
    json_decref(v);
    return t;
}

static int add_backend_writes(struct plan *p, struct change *ch, util_error *err)
{
    const char *id;
    json_t *after;
    json_object_foreach(p->after_bodies, id, after) {
        char *path = util_printf("backends/%s", id), *label = util_printf("backend %s", id);
        json_t *before = member_body(p, id);
        char *bt = backend_text(before), *at = backend_text(after);
        int rc = change_add(ch, &(struct change_write){.path = path, .label = label, .before = before,
                                                       .etag = member_etag(p, id), .after = after,
                                                       .before_text = bt, .after_text = at}, err);
        free(path), free(label), free(bt), free(at);
        if (rc)
            return rc;
    }
    return 0;
}

static int add_pool_write(struct plan *p, struct change *ch, util_error *err)
{
    json_t *props = p->new_pool ? json_pack("{s:s,s:s}", "description", "Backend pool created by update_backend_pool",
                                            "type", "Pool")
                                : json_deep_copy(json_object_get(p->s.target, "properties"));
    json_object_set_new(props, "pool", json_pack("{s:O}", "services", p->services));
    json_t *after = json_pack("{s:o}", "properties", props);
    char *path = util_printf("backends/%s", p->pool_id), *label = util_printf("pool %s", p->pool_id);
    char *bt = p->new_pool ? NULL : pool_text(tools_backend_snapshot_services(&p->s)), *at = pool_text(p->services);
    struct change_write w = {.path = path, .label = label, .before = p->new_pool ? NULL : p->s.target,
                             .etag = p->new_pool ? NULL : p->s.target_etag, .after = after,
                             .before_text = bt, .after_text = at};
    int rc = change_add(ch, &w, err);
    free(path), free(label), free(bt), free(at);
    json_decref(after);
    return rc;
}

/* The API policy routed to the new pool: every set-backend-service naming the old backend is
 * repointed; without one, a set-backend-service is added to inbound after <base />. */
static int routed_policy(struct plan *p, char **out, util_error *err)
{
    const char *text = change_policy_text(p->s.policy);
    char *cur = util_strdup(text ? text : "<policies>\n    <inbound>\n        <base />\n    </inbound>\n    <backend>\n"
                                          "        <base />\n    </backend>\n    <outbound>\n        <base />\n"
                                          "    </outbound>\n    <on-error>\n        <base />\n    </on-error>\n"
                                          "</policies>");
    policy_doc *doc = policy_parse(cur, strlen(cur), err);
    json_t *facts = doc ? policy_facts(doc) : NULL, *b;
    size_t i, edits = 0;
    int rc = doc ? 0 : err->code;
    json_array_foreach(json_object_get(facts, "backends"), i, b) {
        const char *bid = json_string_value(json_object_get(b, "backend_id"));
        if (rc || p->s.from_global || !p->s.backend_id || !bid || !util_str_eq_ci(bid, p->s.backend_id))
            continue;
        char *next = NULL;
        rc = policy_set_attribute(doc, "set-backend-service", i, "backend-id", p->pool_id, &next, err);
        policy_doc_free(doc);
        free(cur);
        cur = next;
        doc = rc ? NULL : policy_parse(cur, strlen(cur), err);
        rc = rc ? rc : (doc ? 0 : err->code);
        edits++;
    }
    if (!rc && edits == 0) {
        char *el = util_printf("<set-backend-service backend-id=\"%s\" />", p->pool_id), *next = NULL;
        rc = policy_insert_element(doc, "inbound", el, true, &next, err);
        free(el);
        free(cur);
        cur = next;
    }
    json_decref(facts);
    policy_doc_free(doc);
    if (rc)
        free(cur);
    *out = rc ? NULL : cur;
    return rc;
}

static int add_policy_write(struct plan *p, struct change *ch, util_error *err)
{
    char *xml = NULL;
    if (routed_policy(p, &xml, err)) {
        util_error_prefix(err, "the policy of API %s could not be repointed to pool %s", p->api_id, p->pool_id);
        return err->code;
    }
    char *path = util_printf("apis/%s/policies/policy", p->api_id), *label = util_printf("policy of API %s", p->api_id);
    json_t *after = change_policy_body(xml);
    int rc = change_add(ch, &(struct change_write){.path = path, .label = label, .read_query = "format=rawxml",
                                                   .before = p->s.policy, .etag = p->s.policy_etag, .after = after,
                                                   .before_text = change_policy_text(p->s.policy),
                                                   .after_text = xml}, err);
    free(path), free(label), free(xml);
    json_decref(after);
    return rc;
}

static void describe(struct plan *p, struct change *ch)
{
    json_t *before_services = p->new_pool ? NULL : tools_backend_snapshot_services(&p->s);
    json_t *before = json_pack("{s:s?,s:o}", "pool_id", p->new_pool ? NULL : p->pool_id, "backends",
                               p->new_pool && p->s.backend_id
                                   ? json_pack("[o]", tools_backend_member_view(p->s.backend_id, p->s.target, NULL))
                                   : members_view(p, before_services, NULL));
    json_t *after =
        json_pack("{s:s,s:o}", "pool_id", p->pool_id, "backends", members_view(p, p->services, p->after_bodies));
    json_t *w;
    size_t i;
    json_t *warnings = json_deep_copy(p->s.warnings);
    tools_backend_model_warnings(json_object_get(after, "backends"), warnings);
    if (p->s.from_global && !p->new_pool)
        json_array_append_new(warnings, json_sprintf("pool %s is set by the global policy: this changes every API "
                                                     "that inherits it", p->pool_id));
    if (p->new_pool && !p->s.backend_id)
        json_array_append_new(warnings, json_sprintf("API %s used its serviceUrl; it now routes to pool %s instead",
                                                     p->api_id, p->pool_id));
    json_array_foreach(warnings, i, w)
        change_add_warning(ch, "%s", json_string_value(w));
    json_decref(warnings);
    char *pool_path = util_printf("backends/%s", p->pool_id), drill_id[37];
    if (!p->new_pool && drill_pool_busy(p->ctx, pool_path, drill_id))
        change_add_warning(ch, "pool %s has an open failover drill (change %s): after this change the drill will "
                           "not put its member back (it never overwrites a pool changed meanwhile); end the drill "
                           "first with rehearse_failover restore_now: true", p->pool_id, drill_id);
    free(pool_path);
    char *b = before_services ? member_list(before_services)
                              : util_strdup(p->s.backend_id ? p->s.backend_id : "serviceUrl");
    char *a = member_list(p->services);
    change_set_summary(ch, "%s %s of API %s: %s -> %s", p->new_pool ? "new pool" : "pool", p->pool_id, p->api_id, b, a);
    free(b), free(a);
    change_set_before_after(ch, before, after);
    change_set_extra(ch, "api_id", json_string(p->api_id));
    change_set_extra(ch, "pool_id", json_string(p->pool_id));
}

static json_t *extra_ids(const struct plan *p)
{
    json_t *ids = json_array();
    for (size_t i = 0; i < p->n; i++)
        json_array_append_new(ids, json_string(p->e[i].id));
    json_array_append_new(ids, json_sprintf("%s-pool", p->api_id));
    return ids;
}

static void plan_free(struct plan *p)
{
    for (size_t i = 0; i < p->n; i++)
        json_decref(p->e[i].cb);
    free(p->e);
    tools_backend_snapshot_free(&p->s);
    free(p->pool_id);
    json_decref(p->services);
    json_decref(p->after_bodies);
}

/* Reads, plans and queues the writes; 0 with ch filled, else err. */
static int plan_change(struct plan *p, struct arm_client *arm, struct change *ch, util_error *err)
{
    json_t *ids = extra_ids(p);
    int rc = tools_backend_snapshot_read(arm, p->api_id, ids, &p->s, err);
    json_decref(ids);
    if (rc || choose_pool(p, err) || build_members(p, err) || add_backend_writes(p, ch, err) ||
        add_pool_write(p, ch, err) || (p->new_pool && add_policy_write(p, ch, err)))
        return err->code ? err->code : UTIL_EINTERNAL;
    describe(p, ch);
    return 0;
}

static json_t *update_backend_pool(struct mcp_call *call, json_t *args, void *user)
{
    struct tools_ctx *ctx = user;
    util_error err = {0};
    struct plan p = {.ctx = ctx, .api_id = json_string_value(json_object_get(args, "api_id")),
                     .after_bodies = json_object()};
    struct arm_client *arm = NULL;
    struct change *ch = NULL;
    if (tools_check_id("api_id", p.api_id, &err) || parse_entries(&p, args, &err) ||
        !(arm = tools_call_arm(ctx, call, &err)))
        goto fail;
    ch = change_new(ctx, call, "update_backend_pool", args);
    if (plan_change(&p, arm, ch, &err))
        goto fail;
    plan_free(&p);
    return change_run(ch, json_is_true(json_object_get(args, "dry_run")));
fail:
    change_free(ch);
    plan_free(&p);
    return tools_fail(ctx, &err);
}

/* The circuit breaker's fields are checked by tools_backend_cb_to_apim (kept out of the schema
 * to keep tools/list small; the description names them). */
#define CB_IN "{\"type\":\"object\"},\"remove_circuit_breaker\":{\"type\":\"boolean\"}"

const struct mcp_tool tools_update_backend_pool = {
    .name = "update_backend_pool",
    .title = "Update backend pool",
    .description = "Changes an API's backend pool. Each backends entry adds or updates a member (url creates it; "
                   "lower priority first; circuit_breaker {failure_count, failure_interval, trip_duration, "
                   "status_codes?, accept_retry_after?}, durations like '1m'; remove_circuit_breaker: true drops "
                   "it) or takes it out (remove: true). A single-backend API gets a pool.",
    .input_schema =
        "{\"type\":\"object\",\"properties\":{\"api_id\":{\"type\":\"string\"},"
        "\"backends\":{\"type\":\"array\",\"minItems\":1,\"items\":{\"type\":\"object\","
        "\"properties\":{\"backend_id\":{\"type\":\"string\"},\"url\":{\"type\":\"string\"},\"priority\":{"
        "\"type\":\"integer\",\"minimum\":0,\"maximum\":100},\"weight\":{\"type\":\"integer\",\"minimum\":0,"
        "\"maximum\":100},\"circuit_breaker\":" CB_IN
        ",\"remove\":{\"type\":\"boolean\"}},\"required\":[\"backend_id\"],\"additionalProperties\":false}},"
        "\"policies\":{\"type\":\"object\",\"description\":\"defaults for listed members\",\"properties\":{\"circuit_breaker\":" CB_IN
        ",\"replace\":{\"type\":\"boolean\",\"description\":\"the list is the whole pool\"}},"
        "\"additionalProperties\":false}," CHANGE_INPUT_DRY_RUN
        "},\"required\":[\"api_id\",\"backends\"],\"additionalProperties\":false}",
    .output_schema = "{\"type\":\"object\",\"properties\":{" CHANGE_OUTPUT_PROPERTIES
                     ",\"api_id\":{\"type\":\"string\"},\"pool_id\":{\"type\":\"string\"}},\"required\":["
                     CHANGE_OUTPUT_REQUIRED "]}",
    .destructive_hint = true,
    .idempotent_hint = true,
    .writes = true,
    .fn = update_backend_pool,
};
