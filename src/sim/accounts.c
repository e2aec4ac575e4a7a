/* accounts.c: apim-sim's Microsoft.CognitiveServices reads — Accounts_List
 * (GET /subscriptions/{s}/providers/Microsoft.CognitiveServices/accounts) and Deployments_List
 * (GET /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.CognitiveServices/accounts/{a}/deployments),
 * shaped as cognitiveservices.json 2025-12-01 defines Account and Deployment, from the scenario's
 * "model_accounts" (docs/apim-sim.md). A client whose scenario entry says
 * "cognitive_services_read": false gets ARM's 403 AuthorizationFailed for the read action. The
 * deployments' capacity also feeds the traffic model (sim_accounts_capacity_tpm). Lock held. */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CS_PROVIDER "/providers/Microsoft.CognitiveServices/accounts"

static const char *const cs_versions[] = {"2025-12-01", "2025-06-01", "2024-10-01", "2023-05-01", NULL};
#define CS_VERSIONS_TEXT "2025-12-01, 2025-06-01, 2024-10-01, 2023-05-01"

bool sim_accounts_is_path(const char *path) { return util_strcasestr(path, CS_PROVIDER) != NULL; }

static json_t *accounts(sim_state *st) { return json_object_get(st->scenario, "model_accounts"); }

static const char *account_sub(sim_state *st, json_t *a)
{
    const char *s = json_string_value(json_object_get(a, "subscription_id"));
    return s ? s : json_string_value(json_object_get(json_object_get(st->scenario, "azure"), "subscription_id"));
}

static const char *account_rg(sim_state *st, json_t *a)
{
    const char *rg = json_string_value(json_object_get(a, "resource_group"));
    return rg ? rg : json_string_value(json_object_get(json_object_get(st->scenario, "azure"), "resource_group"));
}

static char *account_id(sim_state *st, json_t *a)
{
    return util_printf("/subscriptions/%s/resourceGroups/%s" CS_PROVIDER "/%s", account_sub(st, a), account_rg(st, a),
                       json_string_value(json_object_get(a, "name")));
}

/* Account (cognitiveservices.json: ProxyResource + kind, sku, location, properties.endpoint(s)). */
static json_t *account_view(sim_state *st, json_t *a)
{
    char *id = account_id(st, a);
    const char *endpoint = json_string_value(json_object_get(a, "endpoint"));
    const char *kind = json_string_value(json_object_get(a, "kind"));
    json_t *endpoints = json_object_get(a, "endpoints");
    json_t *props = json_pack("{s:s,s:s?,s:s}", "provisioningState", "Succeeded", "endpoint", endpoint,
                              "publicNetworkAccess", "Enabled");
    const char *name = json_string_value(json_object_get(a, "name"));
    json_object_set_new(props, "customSubDomainName", json_string(name));
    if (json_is_object(endpoints))
        json_object_set(props, "endpoints", endpoints);
    else if (endpoint)
        json_object_set_new(props, "endpoints", json_pack("{s:s}", "OpenAI Language Model Instance API", endpoint));
    json_t *v = json_pack("{s:s,s:s,s:s,s:s,s:s,s:{s:s},s:o}", "id", id, "name", name, "type",
                          "Microsoft.CognitiveServices/accounts", "kind", kind ? kind : "OpenAI", "location",
                          json_string_value(json_object_get(a, "location")) ? json_string_value(json_object_get(a, "location"))
                                                                          : "eastus",
                          "sku", "name", "S0", "properties", props);
    free(id);
    return v;
}

/* Deployment (cognitiveservices.json: ProxyResource + sku {name, capacity}, properties.model,
 * versionUpgradeOption, currentCapacity). */
static json_t *deployment_view(sim_state *st, json_t *a, json_t *d)
{
    char *aid = account_id(st, a);
    const char *name = json_string_value(json_object_get(d, "name"));
    char *id = util_printf("%s/deployments/%s", aid, name);
    json_int_t cap = json_integer_value(json_object_get(d, "capacity"));
    const char *upgrade = json_string_value(json_object_get(d, "version_upgrade_option"));
    json_t *model = json_pack("{s:s,s:s,s:s}", "format", "OpenAI", "name",
                              json_string_value(json_object_get(d, "model")), "version",
                              json_string_value(json_object_get(d, "version")));
    json_t *props = json_pack("{s:s,s:o,s:s,s:I}", "provisioningState", "Succeeded", "model", model,
                              "versionUpgradeOption", upgrade ? upgrade : "OnceNewDefaultVersionAvailable",
                              "currentCapacity", cap);
    const char *sku = json_string_value(json_object_get(d, "sku"));
    json_t *v = json_pack("{s:s,s:s,s:s,s:{s:s,s:I},s:o}", "id", id, "name", name, "type",
                          "Microsoft.CognitiveServices/accounts/deployments", "sku", "name", sku ? sku : "Standard",
                          "capacity", cap, "properties", props);
    free(id);
    free(aid);
    return v;
}

static bool may_read(sim_state *st, const char *appid)
{
    json_t *c = json_object_get(st->clients, appid);
    return !c || !json_is_false(json_object_get(c, "cognitive_services_read"));
}

/* One page of items (stolen) from ?$skiptoken=N, with a nextLink when more remain. */
static void page(sim_state *st, const sim_request *req, json_t *items, sim_response *resp)
{
    const char *tok = json_string_value(json_object_get(req->query, "$skiptoken"));
    int skip = tok ? atoi(tok) : 0, size = st->opt.page_size > 0 ? st->opt.page_size : 100;
    int total = (int)json_array_size(items);
    skip = skip < 0 ? 0 : skip > total ? total : skip;
    json_t *value = json_array();
    for (int k = skip; k < total && k < skip + size; k++)
        json_array_append(value, json_array_get(items, (size_t)k));
    json_t *body = json_pack("{s:o}", "value", value);
    if (skip + size < total) {
        char *link = util_printf("%s%s?api-version=%s&$skiptoken=%d", req->base_url, req->path,
                                 json_string_value(json_object_get(req->query, "api-version")), skip + size);
        json_object_set_new(body, "nextLink", json_string(link));
        free(link);
    }
    json_decref(items);
    sim_response_json(resp, 200, body);
}

void sim_accounts_route(sim_state *st, const sim_request *req, const char *appid, const char *oid,
                        sim_response *resp)
{
    char sub[128] = "", rg[128] = "", name[128] = "", rest[256] = "";
    int n = 0;
    const char *v = json_string_value(json_object_get(req->query, "api-version"));
    if (strcmp(req->method, "GET") != 0) {
        sim_response_arm_error(resp, 405, "MethodNotAllowed", NULL, "apim-sim serves only reads of %s.",
                               "Microsoft.CognitiveServices accounts");
        return;
    }
    if (!v) {
        sim_response_arm_error(resp, 400, "MissingApiVersionParameter", NULL,
                               "The api-version query parameter (?api-version=) is required for all requests.");
        return;
    }
    if (!sim_in_list(v, cs_versions)) {
        sim_response_arm_error(resp, 400, "InvalidApiVersionParameter", NULL,
                               "The api-version '%s' is invalid. The supported versions are '%s'.", v, CS_VERSIONS_TEXT);
        return;
    }
    bool list = sscanf(req->path, "/subscriptions/%127[^/]" CS_PROVIDER "%n", sub, &n) == 1 && n > 0 && !req->path[n];
    int m = 0;
    bool deps = !list && sscanf(req->path, "/subscriptions/%127[^/]/resourceGroups/%127[^/]" CS_PROVIDER "/%127[^/]%n",
                                sub, rg, name, &m) == 3 && m > 0 && sscanf(req->path + m, "%255s", rest) == 1 &&
                strcmp(rest, "/deployments") == 0;
    if (!list && !deps) {
        sim_response_arm_error(resp, 404, "NotFound", NULL, "apim-sim does not serve '%s'.", req->path);
        return;
    }
    if (!may_read(st, appid)) {
        char *scope = list ? util_printf("/subscriptions/%s", sub)
                           : util_printf("/subscriptions/%s/resourceGroups/%s" CS_PROVIDER "/%s", sub, rg, name);
        sim_response_arm_error(resp, 403, "AuthorizationFailed", NULL,
                               "The client '%s' with object id '%s' does not have authorization to perform action "
                               "'Microsoft.CognitiveServices/accounts/%sread' over scope '%s' or the scope is invalid. "
                               "If access was recently granted, please refresh your credentials.",
                               appid, oid, list ? "" : "deployments/", scope);
        free(scope);
        return;
    }
    json_t *items = json_array(), *a;
    size_t i;
    bool found = false;
    json_array_foreach(accounts(st), i, a) {
        if (!util_str_eq_ci(account_sub(st, a), sub))
            continue;
        if (list) {
            json_array_append_new(items, account_view(st, a));
        } else if (util_str_eq_ci(account_rg(st, a), rg) &&
                   util_str_eq_ci(json_string_value(json_object_get(a, "name")), name)) {
            size_t j;
            json_t *d;
            found = true;
            json_array_foreach(json_object_get(a, "deployments"), j, d)
                json_array_append_new(items, deployment_view(st, a, d));
        }
    }
    if (deps && !found) {
        json_decref(items);
        sim_response_arm_error(resp, 404, "ResourceNotFound", NULL,
                               "The Resource 'Microsoft.CognitiveServices/accounts/%s' under resource group '%s' was "
                               "not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
                               name, rg);
        return;
    }
    page(st, req, items, resp);
}


double sim_accounts_capacity_tpm(sim_state *st, const char *backend_url, const char *deployment)
{
    char want[256], have[256];
    util_url_host(backend_url, want, sizeof want);
    if (!want[0])
        return 0;
    size_t i, j;
    json_t *a, *d;
    json_array_foreach(accounts(st), i, a) {
        util_url_host(json_string_value(json_object_get(a, "endpoint")), have, sizeof have);
        if (strcmp(want, have) != 0)
            continue;
        json_array_foreach(json_object_get(a, "deployments"), j, d) {
            const char *sku = json_string_value(json_object_get(d, "sku"));
            bool tpm_sku = !sku || !strcasecmp(sku, "Standard") || !strcasecmp(sku, "GlobalStandard") ||
                           !strcasecmp(sku, "DataZoneStandard");
            if (tpm_sku && (!deployment || util_str_eq_ci(json_string_value(json_object_get(d, "name")), deployment)))
                return (double)json_integer_value(json_object_get(d, "capacity")) * 1000.0;
        }
    }
    return 0;
}
