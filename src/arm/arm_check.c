/* arm_check: the doctor behind --check — which credential, a token, the APIM service's SKU and
 * region, and what the identity may do there, read (never written) from
 * GET {service}/providers/Microsoft.Authorization/permissions (Permissions_ListForResource,
 * api-version 2022-04-01): actions/notActions with wildcards, per tool family, with a warning
 * when the identity holds far more than the tools need. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arm_internal.h"

#define CHECK_MAX_PERMISSIONS 200

/* The ARM actions each tool family needs (Microsoft.ApiManagement / Microsoft.Insights resource
 * provider operations). Each list ends with NULL. */
static const char *const read_actions[] = {
    "Microsoft.ApiManagement/service/read",          "Microsoft.ApiManagement/service/apis/read",
    "Microsoft.ApiManagement/service/products/read", "Microsoft.ApiManagement/service/subscriptions/read",
    "Microsoft.ApiManagement/service/backends/read", "Microsoft.ApiManagement/service/policies/read",
    "Microsoft.ApiManagement/service/apis/policies/read", "Microsoft.ApiManagement/service/apis/operations/read",
    "Microsoft.ApiManagement/service/apis/operations/policies/read",
    "Microsoft.ApiManagement/service/products/policies/read", "Microsoft.ApiManagement/service/products/apis/read",
    "Microsoft.ApiManagement/service/products/subscriptions/read", NULL};
static const char *const policy_actions[] = {
    "Microsoft.ApiManagement/service/policies/write",          "Microsoft.ApiManagement/service/policies/delete",
    "Microsoft.ApiManagement/service/apis/policies/write",     "Microsoft.ApiManagement/service/apis/policies/delete",
    "Microsoft.ApiManagement/service/products/policies/write", "Microsoft.ApiManagement/service/products/policies/delete",
    "Microsoft.ApiManagement/service/apis/operations/policies/write",
    "Microsoft.ApiManagement/service/apis/operations/policies/delete", NULL};
static const char *const backend_actions[] = {
    "Microsoft.ApiManagement/service/backends/write", "Microsoft.ApiManagement/service/backends/delete",
    "Microsoft.ApiManagement/service/apis/policies/write", NULL};
static const char *const metrics_actions[] = {"Microsoft.Insights/metrics/read",
                                              "Microsoft.Insights/diagnosticSettings/read",
                                              "Microsoft.ApiManagement/service/reports/read",
                                              "Microsoft.ApiManagement/service/loggers/read", NULL};

/* Azure RBAC action match: case-insensitive, '*' matches any run of characters (slashes too). */
static int action_match(const char *pat, const char *s)
{
    for (; *pat; pat++, s++) {
        if (*pat == '*') {
            while (*pat == '*')
                pat++;
            if (!*pat)
                return 1;
            for (; *s; s++)
                if (action_match(pat, s))
                    return 1;
            return 0;
        }
        if (!*s || tolower((unsigned char)*pat) != tolower((unsigned char)*s))
            return 0;
    }
    return *s == '\0';
}

static int any_match(json_t *patterns, const char *action)
{
    size_t i;
    json_t *p;
    json_array_foreach(patterns, i, p)
        if (json_is_string(p) && action_match(json_string_value(p), action))
            return 1;
    return 0;
}

/* One permission entry per role assignment: an action is granted by an entry whose actions
 * match it and whose notActions do not; the entries add up. */
static int allowed(json_t *perms, const char *action)
{
    size_t i;
    json_t *e;
    json_array_foreach(perms, i, e)
        if (any_match(json_object_get(e, "actions"), action) && !any_match(json_object_get(e, "notActions"), action))
            return 1;
    return 0;
}

/* NULL when every action is granted, else the first missing one. */
static const char *first_missing(json_t *perms, const char *const *actions)
{
    for (; *actions; actions++)
        if (!allowed(perms, *actions))
            return *actions;
    return NULL;
}

static int holds_star(json_t *perms)
{
    size_t i, j;
    json_t *e, *a;
    json_array_foreach(perms, i, e)
        json_array_foreach(json_object_get(e, "actions"), j, a)
            if (json_is_string(a) && strcmp(json_string_value(a), "*") == 0)
                return 1;
    return 0;
}

static int check_token(struct arm_client *c, util_buf *report, util_error *err)
{
    const char *token = NULL;
    int rc = auth_get_token(c->cred, c->cfg->arm_scope, 0, &token, err);
    char who[512]; /* after the token: a chain settles on the credential that answered */
    auth_credential_describe(c->cred, who, sizeof who);
    util_buf_printf(report, "credential: %s — %s\n", auth_credential_name(c->cred), who);
    util_buf_printf(report, "token:      %s\n", rc ? "FAILED" : "ok");
    return rc;
}

static int check_service(struct arm_client *c, util_buf *report, util_error *err)
{
    struct arm_result res;
    int rc = arm_get(c, "", &res, err);
    if (rc == 0) {
        json_t *sku = json_object_get(res.body, "sku");
        const char *name = json_string_value(json_object_get(sku, "name"));
        json_int_t cap = json_integer_value(json_object_get(sku, "capacity"));
        const char *loc = json_string_value(json_object_get(res.body, "location"));
        util_buf_printf(report, "service:    %s (SKU %s, capacity %lld, region %s)\n", c->cfg->service_name,
                        name ? name : "unknown", (long long)cap, loc ? loc : "unknown");
    } else {
        util_buf_printf(report, "service:    %s — FAILED\n", c->cfg->service_name);
    }
    arm_result_free(&res);
    return rc;
}

static void family(util_buf *report, const char *label, const char *missing, const char *role)
{
    if (!missing)
        util_buf_printf(report, "%-16sallowed\n", label);
    else
        util_buf_printf(report, "%-16sNOT allowed (lacks %s; grant %s)\n", label, missing, role);
}

static void check_rights(struct arm_client *c, util_buf *report)
{
    json_t *perms = NULL;
    util_error e;
    if (arm_list(c, "providers/Microsoft.Authorization/permissions", ARM_API_AUTHORIZATION, NULL,
                 CHECK_MAX_PERMISSIONS, &perms, &e) != 0) {
        util_buf_printf(report, "rights:     unknown (%s)\n", e.message);
        return;
    }
    int ro = c->cfg->read_only;
    const char *m_read = first_missing(perms, read_actions), *m_pol = first_missing(perms, policy_actions),
               *m_back = first_missing(perms, backend_actions), *m_met = first_missing(perms, metrics_actions);
    family(report, "read:", m_read, "API Management Service Reader Role");
    family(report, "write policies:", m_pol, "API Management Service Contributor");
    family(report, "write backends:", m_back, "API Management Service Contributor");
    family(report, "read metrics:", m_met, "Monitoring Reader");
    if (ro)
        util_buf_puts(report, "writes:     disabled (read-only mode)\n");
    else if (!m_pol && !m_back)
        util_buf_puts(report, "writes:     allowed (the identity may change policies and backends)\n");
    else if (m_pol && m_back)
        util_buf_puts(report, "writes:     NOT allowed — the write tools will fail; grant the API Management "
                              "Service Contributor role on the service, or run with --read-only\n");
    else
        util_buf_printf(report, "writes:     partly allowed — %s will fail; grant the API Management Service "
                                "Contributor role on the service\n",
                        m_pol ? "apply_policy, update_quota and revert_change" : "update_backend_pool");
    const char *least = ro ? "API Management Service Reader Role" : "API Management Service Contributor";
    if (allowed(perms, "Microsoft.Authorization/roleAssignments/write"))
        util_buf_printf(report, "warning:    the identity may write role assignments (Microsoft.Authorization/*/write): "
                                "it could grant itself anything; never use Owner or User Access Administrator "
                                "here. The least that would do: %s on the service, plus Monitoring Reader for "
                                "get_metrics\n", least);
    else if (holds_star(perms))
        util_buf_printf(report, "warning:    the identity holds '*' (every action, as Contributor does), far more "
                                "than the tools need. The least that would do: %s on the service, plus "
                                "Monitoring Reader for get_metrics\n", least);
    json_decref(perms);
}

/* The model-deployments family (get_backend_pool deployments, capacity in list_subscriptions and
 * update_quota): the Azure OpenAI accounts live outside the service's scope, so its permissions do
 * not tell; Accounts_List in each subscription searched does (a read, never a write). */
static void check_models(struct arm_client *c, util_buf *report)
{
    char subs[1024];
    snprintf(subs, sizeof subs, "%s%s%s", c->cfg->subscription_id, c->cfg->model_subscriptions ? "," : "",
             c->cfg->model_subscriptions ? c->cfg->model_subscriptions : "");
    for (char *save = NULL, *sub = strtok_r(subs, ",", &save); sub; sub = strtok_r(NULL, ",", &save)) {
        char *path = util_printf("/subscriptions/%s/providers/Microsoft.CognitiveServices/accounts", sub);
        json_t *items = NULL;
        util_error e;
        int rc = arm_list(c, path, ARM_API_COGNITIVE, NULL, 2000, &items, &e);
        if (!rc)
            util_buf_printf(report, "%-16sallowed (%zu Cognitive Services account(s) visible in subscription %s)\n",
                            "read models:", json_array_size(items), sub);
        else if (rc == UTIL_EFORBIDDEN)
            util_buf_printf(report, "%-16sNOT allowed in subscription %s (lacks Microsoft.CognitiveServices/"
                                    "accounts/read; grant Reader on that subscription) — get_backend_pool shows "
                                    "no deployments\n", "read models:", sub);
        else
            util_buf_printf(report, "%-16sunknown in subscription %s (%s)\n", "read models:", sub, e.message);
        json_decref(items);
        free(path);
    }
}

int arm_check(struct arm_client *c, util_buf *report, util_error *err)
{
    util_buf_printf(report, "ARM:        %s, APIM service %s\n", c->cfg->arm_endpoint, c->cfg->service_id);
    int rc = check_token(c, report, err);
    if (rc == 0)
        rc = check_service(c, report, err);
    if (rc == 0)
        check_rights(c, report);
    if (rc == 0 && c->cfg->subscription_id)
        check_models(c, report);
    struct arm_stats st;
    arm_get_stats(c, &st);
    util_buf_printf(report, "calls:      %lu ARM request(s), %lu token request(s)\n", st.arm_requests,
                    st.token_requests);
    return rc;
}
