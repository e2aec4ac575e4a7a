/* backend_read: how an API reaches its backends, read from ARM in three round trips — the API,
 * its policy and the global policy together (with any request the caller sends along, such as
 * the Azure OpenAI accounts list); then the backend the policy routes to; then every pool member
 * (and any extra backend the caller names) together (see backend.h). */
#include <string.h>

#include "backend.h"
#include "change.h"
#include "policy.h"

/* Facts of a policy body, or NULL (no policy). A policy that cannot be parsed is an error. */
static int facts_of(json_t *body, const char *scope, json_t **facts, util_error *err)
{
    *facts = NULL;
    const char *text = change_policy_text(body);
    if (!text)
        return 0;
    policy_doc *doc = policy_parse(text, strlen(text), err);
    if (!doc) {
        util_error_prefix(err, "the %s policy could not be read", scope);
        return err->code;
    }
    *facts = policy_facts(doc);
    policy_doc_free(doc);
    return 0;
}

/* The set-backend-service that applies in facts: its backend-id (or base-url), or NULL. Adds a
 * warning when the policy names several different backends. */
static json_t *route_of(json_t *facts, const char *scope, json_t *warnings)
{
    json_t *first = NULL, *b;
    size_t i;
    json_array_foreach(json_object_get(facts, "backends"), i, b) {
        json_t *id = json_object_get(b, "backend_id"), *first_id = json_object_get(first, "backend_id");
        if (!first) {
            first = b;
        } else if (json_is_string(id) && !json_equal(id, first_id)) {
            json_array_append_new(warnings, json_sprintf("the %s policy sets more than one backend (%s, %s, ...); "
                                                         "showing the first",
                                                         scope, json_is_string(first_id) ? json_string_value(first_id)
                                                                                         : "a base-url",
                                                         json_string_value(id)));
            break;
        }
    }
    const char *branch = json_string_value(json_object_get(first, "branch"));
    if (branch && strcmp(branch, "unconditional") != 0)
        json_array_append_new(warnings, json_sprintf("the %s policy sets its backend inside a <choose> branch; other "
                                                     "requests may go elsewhere",
                                                     scope));
    return first;
}

static json_t *retry_of(json_t *facts)
{
    json_t *r;
    size_t i;
    json_array_foreach(json_object_get(facts, "retries"), i, r) {
        if (!json_is_true(json_object_get(r, "retries_429")) && !json_is_true(json_object_get(r, "retries_5xx")))
            continue;
        return json_pack("{s:O?,s:O?,s:O?,s:O?,s:O?,s:O?}", "count", json_object_get(r, "count"), "interval",
                         json_object_get(r, "interval"), "first_fast_retry", json_object_get(r, "first_fast_retry"),
                         "on_429", json_object_get(r, "retries_429"), "on_5xx", json_object_get(r, "retries_5xx"),
                         "condition", json_object_get(r, "condition"));
    }
    return json_null();
}

/* Sets backend_id / routing from the API policy, else the global one through <base />, else the
 * API's serviceUrl. */
static void resolve_route(struct tools_backend_snapshot *s, json_t *api_facts, json_t *global_facts)
{
    json_t *route = route_of(api_facts, "API", s->warnings);
    bool keeps_base = !api_facts || json_is_true(json_object_get(
                                        json_object_get(json_object_get(api_facts, "sections"), "inbound"), "base"));
    if (!route && keeps_base && (route = route_of(global_facts, "global", s->warnings)))
        s->from_global = true;
    const char *scope = s->from_global ? "global" : "api";
    const char *id = json_string_value(json_object_get(route, "backend_id"));
    const char *base_url = json_string_value(json_object_get(route, "base_url"));
    if (id && (id[0] == '@' || strchr(id, '{'))) {
        s->routing =
            util_printf("%s policy set-backend-service backend-id=%s (an expression, not followed)", scope, id);
        s->dynamic = true;
    } else if (id) {
        s->backend_id = util_strdup(id);
        s->routing = util_printf("%s policy set-backend-service backend-id=%s", scope, id);
    } else if (base_url) {
        s->service_url = util_strdup(base_url);
        s->routing = util_printf("%s policy set-backend-service base-url", scope);
    } else {
        const char *url = json_string_value(json_object_get(json_object_get(s->api, "properties"), "serviceUrl"));
        s->service_url = util_strdup(url);
        s->routing = util_strdup("api serviceUrl");
    }
}

/* Reads the API, its policy and the global policy together (with along's requests). */
static int read_api(struct arm_client *arm, const char *api_id, struct tools_backend_along *along,
                    struct tools_backend_snapshot *s, json_t **global, util_error *err)
{
    char *api_path = util_printf("apis/%s", api_id), *policy_path = util_printf("apis/%s/policies/policy", api_id);
    size_t n = 3 + (along ? along->n : 0);
    struct arm_request *reqs = calloc(n, sizeof *reqs);
    struct arm_result *res = calloc(n, sizeof *res);
    int *rcs = calloc(n, sizeof *rcs);
    util_error *errs = calloc(n, sizeof *errs);
    reqs[0] = (struct arm_request){.method = "GET", .path = api_path, .api = ARM_API_APIM};
    reqs[1] = (struct arm_request){.method = "GET", .path = policy_path, .api = ARM_API_APIM, .query = "format=rawxml"};
    reqs[2] = (struct arm_request){.method = "GET", .path = "policies/policy", .api = ARM_API_APIM, .query = "format=rawxml"};
    for (size_t i = 3; i < n; i++)
        reqs[i] = along->reqs[i - 3];
    arm_batch(arm, n, reqs, res, rcs, errs);
    for (size_t i = 3; i < n; i++) {
        along->res[i - 3] = res[i];
        along->rcs[i - 3] = rcs[i];
        along->errs[i - 3] = errs[i];
    }
    int rc = 0;
    for (int i = 0; i < 3 && !rc; i++)
        if (rcs[i] && !(i > 0 && rcs[i] == UTIL_ENOTFOUND))
            *err = errs[i], rc = rcs[i];
    if (rcs[0] == UTIL_ENOTFOUND)
        util_error_set(err, UTIL_ENOTFOUND, "API '%s' does not exist; call list_apis to see the API ids", api_id);
    if (!rc) {
        s->api = json_incref(res[0].body);
        s->policy = rcs[1] ? NULL : json_incref(res[1].body);
        s->policy_etag = rcs[1] ? NULL : util_strdup(res[1].etag);
        *global = rcs[2] ? NULL : json_incref(res[2].body);
    }
    for (int i = 0; i < 3; i++)
        arm_result_free(&res[i]);
    free(reqs), free(res), free(rcs), free(errs);
    free(api_path);
    free(policy_path);
    return rc;
}

static void add_secrets_of(json_t *body)
{
    json_decref(tools_backend_credentials_view(json_object_get(body, "properties")));
}

static int read_target(struct arm_client *arm, const char *api_id, struct tools_backend_snapshot *s, util_error *err)
{
    char *path = util_printf("backends/%s", s->backend_id);
    struct arm_result res = {0};
    int rc = arm_get(arm, path, &res, err);
    if (rc == UTIL_ENOTFOUND)
        util_error_set(err, rc,
                       "API '%s' is routed (%s) to backend '%s', which does not exist; create it or fix the policy "
                       "with apply_policy",
                       api_id, s->routing, s->backend_id);
    if (!rc) {
        s->target = json_incref(res.body);
        s->target_etag = util_strdup(res.etag);
        s->is_pool = util_str_eq_ci(json_string_value(json_object_get(json_object_get(res.body, "properties"), "type")),
                                    "Pool");
        add_secrets_of(res.body);
    }
    arm_result_free(&res);
    free(path);
    return rc;
}

/* The ids to read: pool members (by their short id) then extra, each once. */
static int member_ids(struct tools_backend_snapshot *s, json_t *extra, json_t *ids, util_error *err)
{
    size_t i;
    json_t *svc, *x;
    json_array_foreach(tools_backend_snapshot_services(s), i, svc) {
        char *id = tools_backend_id_from_resource_id(json_string_value(json_object_get(svc, "id")));
        if (id && tools_check_id("backend id", id, NULL) == 0)
            json_object_set_new(ids, id, json_true());
        else
            json_array_append_new(s->warnings, json_sprintf("pool member '%s' is not a backend id; skipped",
                                                            json_string_value(json_object_get(svc, "id"))));
        free(id);
    }
    json_array_foreach(extra, i, x)
        json_object_set_new(ids, json_string_value(x), json_true());
    if (json_object_size(ids) > BACKEND_MEMBERS_MAX)
        return util_error_set(err, UTIL_ELIMIT, "a pool of more than %d members is not supported here",
                              BACKEND_MEMBERS_MAX);
    return 0;
}

static int read_members(struct arm_client *arm, struct tools_backend_snapshot *s, json_t *extra, util_error *err)
{
    json_t *ids = json_object();
    int rc = member_ids(s, extra, ids, err);
    size_t n = json_object_size(ids);
    if (rc || n == 0) {
        json_decref(ids);
        return rc;
    }
    struct arm_request *reqs = calloc(n, sizeof *reqs);
    struct arm_result *res = calloc(n, sizeof *res);
    int *rcs = calloc(n, sizeof *rcs);
    util_error *errs = calloc(n, sizeof *errs);
    char **paths = calloc(n, sizeof *paths);
    const char *key;
    json_t *v;
    size_t i = 0;
    json_object_foreach(ids, key, v) {
        paths[i] = util_printf("backends/%s", key);
        reqs[i] = (struct arm_request){.method = "GET", .path = paths[i], .api = ARM_API_APIM};
        i++;
    }
    arm_batch(arm, n, reqs, res, rcs, errs);
    i = 0;
    json_object_foreach(ids, key, v) {
        if (!rc && rcs[i] && rcs[i] != UTIL_ENOTFOUND)
            rc = rcs[i], *err = errs[i];
        add_secrets_of(res[i].body);
        json_object_set_new(s->members, key, json_pack("{s:O,s:s?}", "body", rcs[i] ? json_null() : res[i].body,
                                                       "etag", rcs[i] ? NULL : res[i].etag));
        arm_result_free(&res[i]);
        free(paths[i++]);
    }
    free(reqs), free(res), free(rcs), free(errs), free(paths);
    json_decref(ids);
    return rc;
}

int tools_backend_snapshot_read(struct arm_client *arm, const char *api_id, json_t *extra,
                                struct tools_backend_snapshot *s, util_error *err)
{
    return tools_backend_snapshot_read_along(arm, api_id, extra, NULL, s, err);
}

int tools_backend_snapshot_read_along(struct arm_client *arm, const char *api_id, json_t *extra,
                                      struct tools_backend_along *along, struct tools_backend_snapshot *s,
                                      util_error *err)
{
    memset(s, 0, sizeof *s);
    s->members = json_object();
    s->warnings = json_array();
    s->retry = json_null();
    json_t *global = NULL, *api_facts = NULL, *global_facts = NULL;
    int rc = read_api(arm, api_id, along, s, &global, err);
    if (!rc)
        rc = facts_of(s->policy, "API", &api_facts, err);
    if (!rc)
        rc = facts_of(global, "global", &global_facts, err);
    if (!rc) {
        json_decref(s->retry);
        s->retry = retry_of(api_facts);
        resolve_route(s, api_facts, global_facts);
    }
    if (!rc && s->backend_id)
        rc = read_target(arm, api_id, s, err);
    if (!rc)
        rc = read_members(arm, s, extra, err);
    json_decref(global);
    json_decref(api_facts);
    json_decref(global_facts);
    return rc;
}

json_t *tools_backend_snapshot_members(const struct tools_backend_snapshot *s)
{
    json_t *out = json_array(), *svc;
    size_t i;
    if (!s->backend_id) {
        char *url = tools_backend_url_redacted(s->service_url);
        json_array_append_new(out, json_pack("{s:n,s:s?,s:n,s:n,s:n}", "backend_id", "url", url, "priority", "weight",
                                             "circuit_breaker"));
        free(url);
        return out;
    }
    if (!s->is_pool) {
        json_array_append_new(out, tools_backend_member_view(s->backend_id, s->target, NULL));
        return out;
    }
    json_array_foreach(tools_backend_snapshot_services(s), i, svc) {
        char *id = tools_backend_id_from_resource_id(json_string_value(json_object_get(svc, "id")));
        if (!id)
            continue;
        json_t *body = json_object_get(json_object_get(s->members, id), "body");
        if (!json_is_object(body))
            json_array_append_new(s->warnings, json_sprintf("pool member '%s' does not exist", id));
        json_array_append_new(out, tools_backend_member_view(id, json_is_object(body) ? body : NULL, svc));
        free(id);
    }
    return out;
}

json_t *tools_backend_snapshot_services(const struct tools_backend_snapshot *s)
{
    if (!s->is_pool)
        return NULL;
    return json_object_get(json_object_get(json_object_get(s->target, "properties"), "pool"), "services");
}

void tools_backend_snapshot_free(struct tools_backend_snapshot *s)
{
    json_decref(s->api);
    json_decref(s->policy);
    free(s->policy_etag);
    free(s->backend_id);
    free(s->service_url);
    free(s->routing);
    json_decref(s->target);
    free(s->target_etag);
    json_decref(s->members);
    json_decref(s->retry);
    json_decref(s->warnings);
    memset(s, 0, sizeof *s);
}
