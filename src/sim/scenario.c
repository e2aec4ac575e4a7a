/* scenario.c: seeds apim-sim's state from a scenario JSON file (format documented in
 * docs/apim-sim.md): identities, the APIM service, APIs with operations and policies, products
 * with policies, subscriptions (with keys), backends and pools, named values and the global
 * policy. Everything is validated as the ARM API would validate it. */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform.h"

#define SCENARIO_MAX (8u * 1024u * 1024u)

/* "<dir of this executable>/../share/azure-ai-gateway-mcp/scenarios" (an installed apim-sim,
 * whatever the prefix), or "" when it cannot be known. New string. */
static char *installed_dir(void)
{
    char *self = platform_exe_dir();
    if (!self)
        return util_strdup("");
    char *dir = util_printf("%s/../share/azure-ai-gateway-mcp/scenarios", self);
    free(self);
    return dir;
}

char *sim_scenario_path(const char *name)
{
    if (strchr(name, '/') || util_str_ends_with(name, ".json"))
        return util_strdup(name);
    char *installed = installed_dir();
    const char *dirs[] = {installed, AIGW_SIM_SOURCE_SCENARIO_DIR, AIGW_SIM_SCENARIO_DIR};
    for (size_t i = 0; i < 3; i++) {
        char *p = util_printf("%s/%s.json", dirs[i], name);
        struct stat sb;
        if (stat(p, &sb) == 0) {
            free(installed);
            return p;
        }
        free(p);
    }
    free(installed);
    return util_printf("%s/%s.json", AIGW_SIM_SCENARIO_DIR, name);
}

/* "/products/aoai" -> "<service id>/products/aoai"; full ids are kept. New string. */
static char *expand_ref(sim_state *st, const char *ref)
{
    if (ref[0] == '/' && !util_str_starts_with(ref, "/subscriptions/"))
        return util_printf("%s%s", st->service_id, ref);
    return util_strdup(ref);
}

static void expand_field(sim_state *st, json_t *obj, const char *field)
{
    const char *v = json_string_value(json_object_get(obj, field));
    if (v) {
        char *full = expand_ref(st, v);
        json_object_set_new(obj, field, json_string(full));
        free(full);
    }
}

static json_t *put(sim_state *st, const char *rel, const char *type, json_t *props)
{
    char *id = util_printf("%s/%s", st->service_id, rel);
    const char *name = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
    json_t *r = json_pack("{s:s,s:s,s:s,s:o}", "id", id, "type", type, "name", name, "properties",
                          json_is_object(props) ? json_deep_copy(props) : json_object());
    json_t *entry = sim_state_put(st, id, r);
    free(id);
    return entry;
}

static int put_policy(sim_state *st, const char *rel, const char *type, json_t *xml, util_error *err)
{
    if (!xml)
        return 0;
    if (!json_is_string(xml))
        return util_error_set(err, UTIL_EINVAL, "scenario: the policy at '%s' must be a string of XML", rel);
    if (sim_validate_policy(json_string_value(xml), "rawxml", err) != 0) {
        util_error_prefix(err, "scenario policy at '%s'", rel);
        return UTIL_EINVAL;
    }
    json_t *props = json_pack("{s:O}", "value", xml);
    json_object_set_new(put(st, rel, type, props), "format", json_string("rawxml"));
    json_decref(props);
    return 0;
}

static const char *item_name(json_t *item, const char *what, util_error *err)
{
    const char *name = json_string_value(json_object_get(item, "name"));
    if (!name || !*name || strchr(name, '/'))
        util_error_set(err, UTIL_EINVAL, "scenario: every entry of '%s' needs a 'name' without '/'", what);
    return name && *name && !strchr(name, '/') ? name : NULL;
}

static int apply_apis(sim_state *st, json_t *apis, util_error *err)
{
    size_t i, j;
    json_t *api, *op;
    json_array_foreach(apis, i, api) {
        const char *name = item_name(api, "apis", err);
        if (!name)
            return UTIL_EINVAL;
        char *rel = util_printf("apis/%s", name);
        put(st, rel, "Microsoft.ApiManagement/service/apis", json_object_get(api, "properties"));
        char *prel = util_printf("%s/policies/policy", rel);
        int rc = put_policy(st, prel, "Microsoft.ApiManagement/service/apis/policies", json_object_get(api, "policy"), err);
        free(prel);
        json_array_foreach(json_object_get(api, "operations"), j, op) {
            const char *oname = rc == 0 ? item_name(op, "operations", err) : NULL;
            if (!oname) {
                rc = rc ? rc : UTIL_EINVAL;
                break;
            }
            char *orel = util_printf("%s/operations/%s", rel, oname);
            char *oprel = util_printf("%s/policies/policy", orel);
            put(st, orel, "Microsoft.ApiManagement/service/apis/operations", json_object_get(op, "properties"));
            rc = put_policy(st, oprel, "Microsoft.ApiManagement/service/apis/operations/policies",
                            json_object_get(op, "policy"), err);
            free(orel);
            free(oprel);
        }
        free(rel);
        if (rc)
            return rc;
    }
    return 0;
}

static int apply_products(sim_state *st, json_t *products, util_error *err)
{
    size_t i;
    json_t *p;
    json_array_foreach(products, i, p) {
        const char *name = item_name(p, "products", err);
        if (!name)
            return UTIL_EINVAL;
        char *rel = util_printf("products/%s", name), *prel = util_printf("products/%s/policies/policy", name);
        json_t *entry = put(st, rel, "Microsoft.ApiManagement/service/products", json_object_get(p, "properties"));
        if (json_is_array(json_object_get(p, "apis")))
            json_object_set(entry, "apis", json_object_get(p, "apis"));
        int rc = put_policy(st, prel, "Microsoft.ApiManagement/service/products/policies", json_object_get(p, "policy"), err);
        free(rel);
        free(prel);
        if (rc)
            return rc;
    }
    return 0;
}

static int apply_subscriptions(sim_state *st, json_t *subs, util_error *err)
{
    size_t i;
    json_t *s;
    json_array_foreach(subs, i, s) {
        const char *name = item_name(s, "subscriptions", err);
        if (!name)
            return UTIL_EINVAL;
        json_t *props = json_deep_copy(json_object_get(s, "properties"));
        if (!json_is_object(props) || !json_string_value(json_object_get(props, "scope"))) {
            json_decref(props);
            return util_error_set(err, UTIL_EINVAL, "scenario: subscription '%s' needs properties.scope", name);
        }
        expand_field(st, props, "scope");
        expand_field(st, props, "ownerId");
        char *rel = util_printf("subscriptions/%s", name);
        json_t *entry = put(st, rel, "Microsoft.ApiManagement/service/subscriptions", props);
        const char *k1 = json_string_value(json_object_get(s, "primary_key"));
        const char *k2 = json_string_value(json_object_get(s, "secondary_key"));
        json_object_set_new(entry, "secrets", json_pack("{s:s,s:s}", "primaryKey", k1 ? k1 : "demo-primary-key",
                                                        "secondaryKey", k2 ? k2 : "demo-secondary-key"));
        util_log_add_secret(k1);
        util_log_add_secret(k2);
        free(rel);
        json_decref(props);
    }
    return 0;
}

/* Singles first, then pools, so pool members are validated against existing backends. */
static int apply_backends(sim_state *st, json_t *backends, util_error *err)
{
    for (int pass = 0; pass < 2; pass++) {
        size_t i, j;
        json_t *b, *svc;
        json_array_foreach(backends, i, b) {
            const char *name = item_name(b, "backends", err);
            if (!name)
                return UTIL_EINVAL;
            json_t *props = json_deep_copy(json_object_get(b, "properties"));
            bool pool = util_str_eq_ci(json_string_value(json_object_get(props, "type")), "Pool");
            if (pool != (pass == 1)) {
                json_decref(props);
                continue;
            }
            json_array_foreach(json_object_get(json_object_get(props, "pool"), "services"), j, svc)
                expand_field(st, svc, "id");
            json_t *details = json_array();
            int rc = sim_validate_backend(props, sim_state_is_backend, st, details);
            if (rc == 0) {
                char *rel = util_printf("backends/%s", name);
                put(st, rel, "Microsoft.ApiManagement/service/backends", props);
                free(rel);
            } else {
                util_error_set(err, rc, "scenario: backend '%s' is invalid: %s", name,
                               json_string_value(json_object_get(json_array_get(details, 0), "message")));
            }
            json_decref(details);
            json_decref(props);
            if (rc)
                return rc;
        }
    }
    return 0;
}

static int apply_named_values(sim_state *st, json_t *nvs, util_error *err)
{
    size_t i;
    json_t *nv;
    json_array_foreach(nvs, i, nv) {
        const char *name = item_name(nv, "named_values", err);
        if (!name)
            return UTIL_EINVAL;
        json_t *props = json_deep_copy(json_object_get(nv, "properties"));
        if (!json_is_object(props))
            props = json_object();
        if (!json_object_get(props, "secret"))
            json_object_set_new(props, "secret", json_false());
        if (json_is_true(json_object_get(props, "secret")))
            util_log_add_secret(json_string_value(json_object_get(props, "value")));
        char *rel = util_printf("namedValues/%s", name);
        put(st, rel, "Microsoft.ApiManagement/service/namedValues", props);
        free(rel);
        json_decref(props);
    }
    return 0;
}

static int apply_identities(sim_state *st, json_t *ids, const char *tenant, util_error *err)
{
    size_t i;
    json_t *c;
    json_object_set_new(st->tenants, tenant, json_true());
    json_array_foreach(json_object_get(ids, "clients"), i, c) {
        const char *id = json_string_value(json_object_get(c, "client_id"));
        if (!id || !json_string_value(json_object_get(c, "role")))
            return util_error_set(err, UTIL_EINVAL, "scenario: each identities.clients entry needs client_id and role");
        json_t *copy = json_deep_copy(c);
        if (!json_object_get(copy, "tenant_id"))
            json_object_set_new(copy, "tenant_id", json_string(tenant));
        json_object_set_new(st->tenants, json_string_value(json_object_get(copy, "tenant_id")), json_true());
        util_log_add_secret(json_string_value(json_object_get(c, "secret")));
        json_object_set_new(st->clients, id, copy);
    }
    json_t *mi = json_object_get(ids, "managed_identity");
    if (mi) {
        json_object_update(st->managed_identity, mi);
        if (!json_object_get(mi, "tenant_id"))
            json_object_set_new(st->managed_identity, "tenant_id", json_string(tenant));
        util_log_add_secret(json_string_value(json_object_get(mi, "identity_header")));
    }
    return 0;
}

static int apply_service(sim_state *st, json_t *doc, util_error *err)
{
    json_t *azure = json_object_get(doc, "azure"), *svc = json_object_get(doc, "service");
    const char *sub = json_string_value(json_object_get(azure, "subscription_id"));
    const char *rg = json_string_value(json_object_get(azure, "resource_group"));
    const char *name = json_string_value(json_object_get(svc, "name"));
    if (!sub || !rg || !name)
        return util_error_set(err, UTIL_EINVAL,
                              "scenario: azure.subscription_id, azure.resource_group and service.name are required");
    snprintf(st->service_id, sizeof(st->service_id),
             "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ApiManagement/service/%s", sub, rg, name);
    json_t *props = json_deep_copy(json_object_get(svc, "properties"));
    if (!json_is_object(props))
        props = json_object();
    char *gw = util_printf("https://%s.azure-api.net", name);
    if (!json_object_get(props, "gatewayUrl"))
        json_object_set_new(props, "gatewayUrl", json_string(gw));
    if (!json_object_get(props, "provisioningState"))
        json_object_set_new(props, "provisioningState", json_string("Succeeded"));
    free(gw);
    json_t *sku = json_object_get(svc, "sku");
    json_t *r = json_pack("{s:s,s:s,s:s,s:s,s:O,s:o}", "id", st->service_id, "name", name, "type",
                          "Microsoft.ApiManagement/service", "location",
                          json_string_value(json_object_get(svc, "location")) ? json_string_value(json_object_get(svc, "location")) : "eastus",
                          "sku", sku ? sku : json_null(), "properties", props);
    sim_state_put(st, st->service_id, r);
    return 0;
}

int sim_scenario_apply(sim_state *st, json_t *doc, util_error *err)
{
    const char *tenant = json_string_value(json_object_get(json_object_get(doc, "azure"), "tenant_id"));
    if (!tenant)
        return util_error_set(err, UTIL_EINVAL, "scenario: azure.tenant_id is required");
    int rc = apply_service(st, doc, err);
    if (!rc) rc = apply_identities(st, json_object_get(doc, "identities"), tenant, err);
    if (!rc) rc = apply_named_values(st, json_object_get(doc, "named_values"), err);
    if (!rc) rc = apply_backends(st, json_object_get(doc, "backends"), err);
    if (!rc) rc = apply_apis(st, json_object_get(doc, "apis"), err);
    if (!rc) rc = apply_products(st, json_object_get(doc, "products"), err);
    if (!rc) rc = apply_subscriptions(st, json_object_get(doc, "subscriptions"), err);
    if (!rc) rc = put_policy(st, "policies/policy", "Microsoft.ApiManagement/service/policies",
                             json_object_get(doc, "global_policy"), err);
    /* "faults": an object of HTTP faults ({latency_ms, rules}), or an array of backend faults (dated
     * by the scenario's clock, so after it) */
    json_t *faults = json_object_get(doc, "faults");
    if (!rc && faults && !json_is_array(faults))
        rc = sim_control_set_faults(st, faults, err);
    if (!rc && json_is_object(json_object_get(doc, "clock")))
        rc = sim_clock_apply(st, json_object_get(doc, "clock"), err);
    if (!rc && json_is_array(faults))
        rc = sim_traffic_faults_set(st, faults, err);
    if (!rc) {
        json_decref(st->scenario);
        st->scenario = json_incref(doc);
    }
    return rc;
}

int sim_scenario_load(sim_state *st, const char *name, util_error *err)
{
    char *path = sim_scenario_path(name), *text = NULL;
    size_t len;
    int rc = util_read_file(path, SCENARIO_MAX, &text, &len, err);
    json_error_t jerr;
    json_t *doc = rc ? NULL : json_loadb(text, len, 0, &jerr);
    if (!rc && !json_is_object(doc))
        rc = util_error_set(err, UTIL_EINVAL, "scenario %s is not a JSON object: %s (line %d)", path,
                            doc ? "wrong type" : jerr.text, jerr.line);
    if (!rc)
        rc = sim_scenario_apply(st, doc, err);
    if (rc && err)
        util_error_prefix(err, "cannot load scenario '%s'", path);
    json_decref(doc);
    free(text);
    free(path);
    return rc;
}
