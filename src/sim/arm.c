/* arm.c: the ARM router of apim-sim — bearer-token checks (401 AuthenticationFailed /
 * InvalidAuthenticationToken / ExpiredAuthenticationToken), api-version checks, subscription,
 * resource group and service resolution, role checks (403 AuthorizationFailed), the caller's
 * permissions on the service (Permissions_ListForResource), the common ARM response headers,
 * and dispatch to APIM resources or to the traffic routes. */
#include "sim.h"
#include "traffic.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const apim_versions[] = {"2024-06-01-preview", "2024-05-01", "2023-09-01-preview",
                                            "2023-05-01-preview", "2022-08-01", NULL};
#define APIM_VERSIONS_TEXT "2024-06-01-preview, 2024-05-01, 2023-09-01-preview, 2023-05-01-preview, 2022-08-01"

static const char *const mgmt_audiences[] = {"https://management.azure.com/", "https://management.azure.com",
                                             "https://management.core.windows.net/",
                                             "https://management.core.windows.net", NULL};

typedef struct arm_principal {
    char appid[128];
    char oid[128];
    char role[32];
} arm_principal;

static void auth_failed(sim_response *resp, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void auth_failed(sim_response *resp, const char *code, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sim_response_arm_error(resp, 401, code, NULL, "%s", msg);
    sim_response_header(resp, "WWW-Authenticate",
                        "Bearer authorization_uri=\"https://login.windows.net/\", error=\"invalid_token\", "
                        "error_description=\"The access token is missing, invalid or expired.\"");
}

static const char *role_of(sim_state *st, const char *appid)
{
    json_t *client = json_object_get(st->clients, appid);
    if (client)
        return json_string_value(json_object_get(client, "role"));
    if (util_str_eq_ci(appid, json_string_value(json_object_get(st->managed_identity, "client_id"))))
        return "contributor";
    return NULL;
}

/* Checks the bearer token (lock held). Returns 0 and fills who, or fills resp. */
static int check_bearer(sim_state *st, const sim_request *req, arm_principal *who, sim_response *resp)
{
    const char *h = json_string_value(json_object_get(req->headers, "authorization"));
    if (!h) {
        auth_failed(resp, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.");
        return -1;
    }
    if (strncasecmp(h, "Bearer ", 7) != 0) {
        auth_failed(resp, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is invalid.");
        return -1;
    }
    /* tokens are JWT-shaped: util_log_scrub removes them without registering each one */
    json_t *p = sim_jwt_verify_hs256(h + 7, st->sign_key, sizeof(st->sign_key));
    if (!p) {
        auth_failed(resp, "InvalidAuthenticationToken", "The access token is invalid.");
        return -1;
    }
    int64_t now = sim_now_s(st), exp = json_integer_value(json_object_get(p, "exp"));
    long long serial = atoll(json_string_value(json_object_get(p, "uti")) ? json_string_value(json_object_get(p, "uti")) : "0");
    const char *aud = json_string_value(json_object_get(p, "aud"));
    const char *appid = json_string_value(json_object_get(p, "appid"));
    int rc = -1;
    char t_exp[32], t_now[32];
    util_time_iso8601(exp, t_exp, sizeof(t_exp));
    util_time_iso8601(now, t_now, sizeof(t_now));
    if (exp <= now || serial <= st->expired_upto)
        auth_failed(resp, "ExpiredAuthenticationToken",
                    "The access token expiry UTC time '%s' is earlier than current UTC time '%s'.", t_exp, t_now);
    else if (!sim_in_list(aud, mgmt_audiences))
        auth_failed(resp, "InvalidAuthenticationTokenAudience",
                    "The access token has been obtained for wrong audience or resource '%s'. It should exactly match "
                    "with one of the allowed audiences 'https://management.core.windows.net/','https://"
                    "management.core.windows.net','https://management.azure.com/','https://management.azure.com'.",
                    aud ? aud : "");
    else if (!appid || !role_of(st, appid))
        auth_failed(resp, "InvalidAuthenticationToken", "The access token is from an unknown client '%s'.",
                    appid ? appid : "");
    else {
        snprintf(who->appid, sizeof(who->appid), "%s", appid);
        snprintf(who->oid, sizeof(who->oid), "%s", json_string_value(json_object_get(p, "oid")));
        snprintf(who->role, sizeof(who->role), "%s", role_of(st, appid));
        rc = 0;
    }
    json_decref(p);
    return rc;
}

static int check_api_version(const sim_request *req, sim_response *resp)
{
    const char *v = json_string_value(json_object_get(req->query, "api-version"));
    if (!v) {
        sim_response_arm_error(resp, 400, "MissingApiVersionParameter", NULL,
                               "The api-version query parameter (?api-version=) is required for all requests.");
        return -1;
    }
    if (!sim_in_list(v, apim_versions)) {
        sim_response_arm_error(resp, 400, "InvalidApiVersionParameter", NULL,
                               "The api-version '%s' is invalid. The supported versions are '%s'.", v,
                               APIM_VERSIONS_TEXT);
        return -1;
    }
    return 0;
}

/* "Microsoft.ApiManagement/service/apis/policies/write" for rel "apis/x/policies/policy". */
static char *action_name(const char *method, const char *rel)
{
    util_buf b;
    util_buf_init(&b, 0);
    util_buf_puts(&b, "Microsoft.ApiManagement/service");
    char *copy = util_strdup(rel);
    char *save = NULL, *last = NULL;
    int n = 0;
    for (char *seg = strtok_r(copy, "/", &save); seg; seg = strtok_r(NULL, "/", &save), n++) {
        if (n % 2 == 0)
            util_buf_printf(&b, "/%s", seg);
        last = seg;
    }
    const char *verb = strcmp(method, "DELETE") == 0 ? "delete" : strcmp(method, "POST") == 0 ? "action" : "write";
    if (strcmp(method, "POST") == 0 && last && n % 2 == 1)
        util_buf_puts(&b, "/action");
    else
        util_buf_printf(&b, "/%s", verb);
    free(copy);
    util_buf_puts(&b, "");
    return util_buf_steal(&b);
}

static bool is_write(const char *m) { return strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0; }

static int check_role(const arm_principal *who, const sim_request *req, const char *scope, const char *rel,
                      sim_response *resp)
{
    if (!is_write(req->method) || strcmp(who->role, "reader") != 0)
        return 0;
    char *action = action_name(req->method, rel);
    sim_response_arm_error(resp, 403, "AuthorizationFailed", NULL,
                           "The client '%s' with object id '%s' does not have authorization to perform action '%s' "
                           "over scope '%s' or the scope is invalid. If access was recently granted, please refresh "
                           "your credentials.", who->appid, who->oid, action, scope);
    free(action);
    return -1;
}

/* The permissions of a role at the service scope, as Learn's built-in role definitions list
 * them (learn.microsoft.com/azure/role-based-access-control/built-in-roles): "owner" is Owner;
 * "contributor" is API Management Service Contributor plus Monitoring Reader; "reader" is Reader. */
static json_t *role_permissions(const char *role)
{
    if (strcmp(role, "owner") == 0)
        return json_pack("[{s:[s],s:[],s:[],s:[]}]", "actions", "*", "notActions", "dataActions", "notDataActions");
    if (strcmp(role, "reader") == 0)
        return json_pack("[{s:[s],s:[],s:[],s:[]}]", "actions", "*/read", "notActions", "dataActions",
                         "notDataActions");
    return json_pack("[{s:[s,s,s,s,s,s,s],s:[],s:[],s:[]},{s:[s,s,s],s:[],s:[],s:[]}]", "actions",
                     "Microsoft.ApiManagement/service/*", "Microsoft.Authorization/*/read",
                     "Microsoft.Insights/alertRules/*", "Microsoft.ResourceHealth/availabilityStatuses/read",
                     "Microsoft.Resources/deployments/*", "Microsoft.Resources/subscriptions/resourceGroups/read",
                     "Microsoft.Support/*", "notActions", "dataActions", "notDataActions", "actions", "*/read",
                     "Microsoft.OperationalInsights/workspaces/search/action", "Microsoft.Support/*", "notActions",
                     "dataActions", "notDataActions");
}

/* GET {service}/providers/Microsoft.Authorization/permissions?api-version=2022-04-01: the
 * caller's permissions (a client's own "permissions" array when its entry has one). */
static void permissions_route(sim_state *st, const sim_request *req, const arm_principal *who, sim_response *resp)
{
    const char *v = json_string_value(json_object_get(req->query, "api-version"));
    if (strcmp(req->method, "GET") != 0) {
        sim_response_arm_error(resp, 405, "MethodNotAllowed", NULL, "The requested method is not allowed.");
        return;
    }
    if (!v || strcmp(v, "2022-04-01") != 0) {
        sim_response_arm_error(resp, 400, v ? "InvalidApiVersionParameter" : "MissingApiVersionParameter", NULL,
                               "The api-version '%s' is invalid. The supported versions are '2022-04-01'.",
                               v ? v : "");
        return;
    }
    json_t *own = json_object_get(json_object_get(st->clients, who->appid), "permissions");
    json_t *value = json_is_array(own) ? json_deep_copy(own) : role_permissions(who->role);
    sim_response_json(resp, 200, json_pack("{s:o}", "value", value));
}

/* Splits "/subscriptions/S/resourceGroups/R/providers/Microsoft.ApiManagement/service/N[/rest]" and
 * answers 404 for an unknown subscription, group or service. Returns the offset of rest or -1. */
static int resolve_service(sim_state *st, const char *path, sim_response *resp)
{
    char sub[128] = "", rg[128] = "", svc[128] = "";
    int off = 0;
    sscanf(path, "/subscriptions/%127[^/]%n", sub, &off);
    const char *want = st->service_id; /* /subscriptions/S/resourceGroups/R/providers/Microsoft.ApiManagement/service/N */
    char wsub[128] = "", wrg[128] = "", wsvc[128] = "";
    sscanf(want, "/subscriptions/%127[^/]/resourceGroups/%127[^/]/providers/Microsoft.ApiManagement/service/%127[^/]",
           wsub, wrg, wsvc);
    if (!util_str_eq_ci(sub, wsub)) {
        sim_response_arm_error(resp, 404, "SubscriptionNotFound", NULL, "The subscription '%s' could not be found.", sub);
        return -1;
    }
    int off2 = 0;
    sscanf(path + off, "/resourceGroups/%127[^/]%n", rg, &off2);
    if (!off2 || !util_str_eq_ci(rg, wrg)) {
        sim_response_arm_error(resp, 404, "ResourceGroupNotFound", NULL, "Resource group '%s' could not be found.", rg);
        return -1;
    }
    off += off2;
    int off3 = 0;
    if (strncasecmp(path + off, "/providers/Microsoft.ApiManagement/service/", 43) == 0)
        sscanf(path + off + 43, "%127[^/]%n", svc, &off3);
    if (!off3 || !util_str_eq_ci(svc, wsvc)) {
        sim_response_arm_error(resp, 404, "ResourceNotFound", NULL,
                               "The Resource 'Microsoft.ApiManagement/service/%s' under resource group '%s' was not "
                               "found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
                               svc, rg);
        return -1;
    }
    off += 43 + off3;
    return path[off] == '/' ? off + 1 : off;
}

/* Traffic routes (reports, Azure Monitor metrics, diagnostic settings) belong to the traffic
 * module (src/sim/traffic*.c); the Log Analytics query API is routed before the service checks. */
static bool is_traffic_route(const char *rel)
{
    return util_str_starts_with(rel, "reports/") || strcmp(rel, "reports") == 0 || strcmp(rel, "loggers") == 0 ||
           strncasecmp(rel, "providers/Microsoft.Insights/", 29) == 0;
}

static void add_arm_headers(sim_state *st, const sim_request *req, sim_response *resp)
{
    char id[37], corr[37], buf[32];
    util_uuid4(id);
    util_uuid4(corr);
    sim_response_header(resp, "x-ms-request-id", id);
    const char *given = json_string_value(json_object_get(req->headers, "x-ms-correlation-request-id"));
    sim_response_header(resp, "x-ms-correlation-request-id", given ? given : corr);
    bool write = is_write(req->method);
    int64_t used = write ? ++st->arm_writes : ++st->arm_reads;
    snprintf(buf, sizeof(buf), "%lld", (long long)((write ? 1199 : 11999) - used % (write ? 1200 : 12000)));
    sim_response_header(resp, write ? "x-ms-ratelimit-remaining-subscription-writes"
                                     : "x-ms-ratelimit-remaining-subscription-reads", buf);
}

static void route(sim_state *st, const sim_request *req, sim_response *resp)
{
    arm_principal who;
    if (check_bearer(st, req, &who, resp) != 0)
        return;
    if (sim_traffic_is_external_path(req->path)) { /* a Log Analytics query is a read, even as a POST */
        sim_traffic_external_route(st, req, resp);
        return;
    }
    if (sim_accounts_is_path(req->path)) { /* the Azure OpenAI accounts behind the backends */
        sim_accounts_route(st, req, who.appid, who.oid, resp);
        return;
    }
    int off = resolve_service(st, req->path, resp);
    if (off < 0)
        return;
    const char *rel = req->path + off;
    if (strcasecmp(rel, "providers/Microsoft.Authorization/permissions") == 0) {
        permissions_route(st, req, &who, resp);
        return;
    }
    if (check_role(&who, req, req->path, rel, resp) != 0)
        return;
    if (is_traffic_route(rel))
        sim_traffic_service_route(st, req, rel, resp);
    else if (check_api_version(req, resp) == 0) {
        if (is_write(req->method))
            sim_traffic_before_write(st);
        sim_resources_handle(st, req, rel, resp);
        if (is_write(req->method) && resp->status < 300)
            sim_traffic_after_write(st);
    }
}

bool sim_arm_handle(sim_state *st, const sim_request *req, sim_response *resp)
{
    if (!util_str_starts_with(req->path, "/subscriptions/"))
        return false;
    sim_state_lock(st);
    route(st, req, resp);
    add_arm_headers(st, req, resp);
    sim_state_unlock(st);
    return true;
}
