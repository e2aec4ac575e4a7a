/* test_tools_models: the pure part of src/tools/models.c — which URLs are Azure OpenAI endpoints,
 * capacity_tpm per SKU, the pool warnings drawn from the deployments behind each member (missing
 * deployment, version mismatch, upgrade option, undersized failover group; none for a consistent
 * pool) and the capacity of the best-priority members. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../src/tools/models.h"

static void test_endpoints(void **state)
{
    (void)state;
    assert_true(models_is_endpoint("https://aoai-eastus.openai.azure.com/openai"));
    assert_true(models_is_endpoint("https://X.CognitiveServices.Azure.com/openai/deployments/gpt-4o"));
    assert_true(models_is_endpoint("https://proj.services.ai.azure.com/models"));
    assert_true(models_is_endpoint("https://gov.openai.azure.us/openai"));
    assert_true(models_is_endpoint("https://cn.openai.azure.cn:443/openai"));
    assert_false(models_is_endpoint("https://openai.azure.com/openai")); /* no account label */
    assert_false(models_is_endpoint("https://api.openai.com/v1"));
    assert_false(models_is_endpoint("https://evil.openai.azure.com.example.net/"));
    assert_false(models_is_endpoint(NULL));
    assert_false(models_is_endpoint("not a url"));
}

static void test_capacity_tpm(void **state)
{
    (void)state;
    assert_int_equal(models_capacity_tpm("Standard", 450), 450000);
    assert_int_equal(models_capacity_tpm("GlobalStandard", 1), 1000);
    assert_int_equal(models_capacity_tpm("DataZoneStandard", 30), 30000);
    assert_int_equal(models_capacity_tpm("ProvisionedManaged", 100), -1); /* PTUs, not TPM */
    assert_int_equal(models_capacity_tpm("GlobalBatch", 100), -1);
    assert_int_equal(models_capacity_tpm(NULL, 1), -1);
}

/* A member {backend_id, priority, deployments: [{name, model, model_version, version_upgrade_option,
 * capacity_tpm}]} from "name:version:option:ktpm" items. */
static json_t *member(const char *id, int priority, const char *const *deps)
{
    json_t *list = json_array();
    for (; deps && *deps; deps++) {
        char name[64], version[32], option[64];
        int k = 0;
        assert_int_equal(sscanf(*deps, "%63[^:]:%31[^:]:%63[^:]:%d", name, version, option, &k), 4);
        json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "name", name, "model", name,
                                              "model_version", version, "version_upgrade_option", option, "sku",
                                              "Standard", "capacity_tpm", (json_int_t)k * 1000));
    }
    return json_pack("{s:s,s:i,s:o}", "backend_id", id, "priority", priority, "deployments",
                     deps ? list : (json_decref(list), json_null()));
}

static char *joined(json_t *warnings)
{
    char *s = json_dumps(warnings, 0);
    return s;
}

static void test_demo_warnings(void **state)
{
    (void)state;
    const char *east[] = {"gpt-4o:2024-08-06:OnceNewDefaultVersionAvailable:450", "emb:1:NoAutoUpgrade:120", NULL};
    const char *west[] = {"gpt-4o:2024-05-13:NoAutoUpgrade:150", NULL};
    json_t *members = json_pack("[o,o]", member("eastus-aoai", 1, east), member("westeurope-aoai", 2, west));
    json_t *w = json_array();
    models_pool_warnings(members, w);
    char *s = joined(w);
    assert_non_null(strstr(s, "deployment 'gpt-4o' runs different model versions (gpt-4o 2024-08-06 in eastus-aoai, "
                              "gpt-4o 2024-05-13 in westeurope-aoai)"));
    assert_non_null(strstr(s, "deployment 'gpt-4o' has different versionUpgradeOption (OnceNewDefaultVersionAvailable "
                              "in eastus-aoai, NoAutoUpgrade in westeurope-aoai)"));
    assert_non_null(strstr(s, "failover priority 2 (westeurope-aoai) can serve 150K TPM of 'gpt-4o', the primary "
                              "(eastus-aoai) 450K TPM: on failover up to 300K TPM"));
    assert_non_null(strstr(s, "deployment 'emb' exists in eastus-aoai but not in westeurope-aoai"));
    assert_int_equal(json_array_size(w), 4);
    const char *dep = NULL;
    json_t *ids = json_array();
    assert_int_equal(models_primary_capacity(members, &dep, ids), 450000);
    assert_string_equal(dep, "gpt-4o");
    assert_int_equal(json_array_size(ids), 1);
    free(s);
    json_decref(ids);
    json_decref(w);
    json_decref(members);
}

static void test_consistent_pool_has_no_warnings(void **state)
{
    (void)state;
    const char *a[] = {"gpt-4o:2024-08-06:NoAutoUpgrade:300", NULL};
    const char *b[] = {"gpt-4o:2024-08-06:NoAutoUpgrade:150", NULL};
    /* two priority-1 members of 300K and 150K: 450K primary; a priority-2 member of 450K is enough */
    const char *c[] = {"gpt-4o:2024-08-06:NoAutoUpgrade:450", NULL};
    json_t *members = json_pack("[o,o,o]", member("a", 1, a), member("b", 1, b), member("c", 2, c));
    json_t *w = json_array();
    models_pool_warnings(members, w);
    assert_int_equal(json_array_size(w), 0);
    const char *dep = NULL;
    assert_int_equal(models_primary_capacity(members, &dep, NULL), 450000);
    /* the same failover member at 400K is short of the two primaries together */
    json_object_set_new(json_array_get(json_object_get(json_array_get(members, 2), "deployments"), 0), "capacity_tpm",
                        json_integer(400000));
    models_pool_warnings(members, w);
    assert_int_equal(json_array_size(w), 1);
    assert_non_null(strstr(json_string_value(json_array_get(w, 0)),
                           "failover priority 2 (c) can serve 400K TPM of 'gpt-4o', the primary (a, b) 450K TPM"));
    json_decref(w);
    json_decref(members);
}

static void test_every_member_auto_upgrading_is_warned(void **state)
{
    (void)state;
    const char *a[] = {"gpt-4o:2024-08-06:OnceNewDefaultVersionAvailable:300", NULL};
    const char *b[] = {"gpt-4o:2024-08-06:OnceCurrentVersionExpired:300", NULL};
    json_t *members = json_pack("[o,o]", member("a", 1, a), member("b", 1, a));
    json_t *w = json_array();
    models_pool_warnings(members, w);
    assert_int_equal(json_array_size(w), 1);
    assert_non_null(strstr(json_string_value(json_array_get(w, 0)),
                           "deployment 'gpt-4o' upgrades automatically in every member (OnceNewDefaultVersionAvailable "
                           "in a, OnceNewDefaultVersionAvailable in b)"));
    json_decref(members);
    json_array_clear(w);
    members = json_pack("[o,o]", member("a", 1, a), member("b", 1, b)); /* two options: the difference is warned */
    models_pool_warnings(members, w);
    assert_int_equal(json_array_size(w), 1);
    assert_non_null(strstr(json_string_value(json_array_get(w, 0)), "has different versionUpgradeOption"));
    json_decref(w);
    json_decref(members);
}

static void test_unknown_members_are_not_compared(void **state)
{
    (void)state;
    const char *a[] = {"gpt-4o:2024-08-06:NoAutoUpgrade:300", NULL};
    json_t *members = json_pack("[o,o]", member("a", 1, a), member("b", 2, NULL));
    json_t *w = json_array();
    models_pool_warnings(members, w); /* b's deployments unknown: nothing to compare */
    assert_int_equal(json_array_size(w), 0);
    const char *dep = NULL;
    assert_int_equal(models_primary_capacity(members, &dep, NULL), 300000);
    json_t *none = json_pack("[o]", member("b", 1, NULL));
    assert_int_equal(models_primary_capacity(none, &dep, NULL), -1);
    assert_null(dep);
    json_decref(none);
    json_decref(w);
    json_decref(members);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoints),
        cmocka_unit_test(test_capacity_tpm),
        cmocka_unit_test(test_demo_warnings),
        cmocka_unit_test(test_consistent_pool_has_no_warnings),
        cmocka_unit_test(test_every_member_auto_upgrading_is_warned),
        cmocka_unit_test(test_unknown_members_are_not_compared),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
