/*
 * arm_test_env: header-only helpers for the http/auth/arm tests — a struct config pointing at
 * a running apim-sim with its demo identities, and readers of the simulator's counters and
 * request log. Header-only (static functions) so tests of modules that do not link config
 * are unaffected.
 *
 * Ownership: test_cfg_init() fills a caller-owned config released with config_free();
 * test_cfg_set() replaces one string field with a copy.
 */
#ifndef AIGW_TEST_ARM_ENV_H
#define AIGW_TEST_ARM_ENV_H

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "sim_process.h"
#include "util.h"

#define DEMO_TENANT "11111111-1111-1111-1111-111111111111"
#define DEMO_CONTRIBUTOR_ID "aaaaaaaa-0000-0000-0000-000000000001"
#define DEMO_CONTRIBUTOR_SECRET "demo-contributor-secret"
#define DEMO_READER_ID "aaaaaaaa-0000-0000-0000-000000000002"
#define DEMO_READER_SECRET "demo-reader-secret"
#define DEMO_IDENTITY_HEADER "demo-identity-header"
#define DEMO_SUBSCRIPTION "11111111-2222-3333-4444-555555555555"
#define DEMO_RG "rg-aigw-demo"
#define DEMO_SERVICE "apim-aigw-demo"
#define DEMO_SERVICE_ID                                                                                            \
    "/subscriptions/" DEMO_SUBSCRIPTION "/resourceGroups/" DEMO_RG "/providers/Microsoft.ApiManagement/service/"   \
    DEMO_SERVICE

static inline void test_cfg_set(char **field, const char *value)
{
    free(*field);
    *field = util_strdup(value);
}

/* The demo service on the simulator, no credential set yet (callers set one). */
static inline void test_cfg_init(struct config *cfg, const struct sim_process *sim)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->log_level = UTIL_LOG_INFO;
    test_cfg_set(&cfg->subscription_id, DEMO_SUBSCRIPTION);
    test_cfg_set(&cfg->resource_group, DEMO_RG);
    test_cfg_set(&cfg->service_name, DEMO_SERVICE);
    test_cfg_set(&cfg->service_id, DEMO_SERVICE_ID);
    test_cfg_set(&cfg->authority_host, sim->base_url);
    test_cfg_set(&cfg->arm_endpoint, sim->base_url);
    test_cfg_set(&cfg->arm_scope, "https://management.azure.com/.default");
    test_cfg_set(&cfg->imds_endpoint, sim->base_url);
}

static inline void test_cfg_secret(struct config *cfg, const char *client_id, const char *secret)
{
    test_cfg_set(&cfg->tenant_id, DEMO_TENANT);
    test_cfg_set(&cfg->client_id, client_id);
    test_cfg_set(&cfg->client_secret, secret);
}

/* A GET of a /_sim/ control path as parsed JSON (new reference), or NULL. */
static inline json_t *sim_get_json(const struct sim_process *sim, const char *path)
{
    char *body = NULL;
    int st = sim_request(sim, "GET", path, NULL, &body);
    json_t *j = st == 200 && body ? json_loads(body, 0, NULL) : NULL;
    free(body);
    return j;
}

/* A counter of GET /_sim/counters ("token_requests", "arm_requests"), or -1. */
static inline long sim_counter(const struct sim_process *sim, const char *name)
{
    json_t *j = sim_get_json(sim, "/_sim/counters");
    long v = json_is_integer(json_object_get(j, name)) ? (long)json_integer_value(json_object_get(j, name)) : -1;
    json_decref(j);
    return v;
}

static inline int sim_post(const struct sim_process *sim, const char *path, const char *json_body)
{
    return sim_request(sim, "POST", path, json_body, NULL);
}

static inline int sim_reset(const struct sim_process *sim)
{
    sim_request(sim, "DELETE", "/_sim/faults", NULL, NULL);
    return sim_request(sim, "DELETE", "/_sim/counters", NULL, NULL);
}

/* True when at least two requests of the log whose path contains needle overlapped in time. */
static inline int sim_requests_overlap(const struct sim_process *sim, const char *needle)
{
    json_t *log = sim_get_json(sim, "/_sim/requests");
    json_t *reqs = json_object_get(log, "requests");
    int overlap = 0;
    for (size_t i = 0; i < json_array_size(reqs); i++)
        for (size_t j = 0; j < json_array_size(reqs); j++) {
            json_t *a = json_array_get(reqs, i), *b = json_array_get(reqs, j);
            const char *pa = json_string_value(json_object_get(a, "path"));
            const char *pb = json_string_value(json_object_get(b, "path"));
            if (i == j || !pa || !pb || !strstr(pa, needle) || !strstr(pb, needle))
                continue;
            json_int_t as = json_integer_value(json_object_get(a, "start_us"));
            json_int_t ae = json_integer_value(json_object_get(a, "end_us"));
            json_int_t bs = json_integer_value(json_object_get(b, "start_us"));
            overlap |= as <= bs && bs < ae;
        }
    json_decref(log);
    return overlap;
}

#endif
