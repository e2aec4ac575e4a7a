/* test_config: command line and environment parsing — every variable of the contract, the
 * problems reported for missing or contradictory settings, loopback-only plain http, sovereign
 * clouds, credential pinning, and secrets kept out of problem sentences. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "config.h"

/* A fake environment: NULL-terminated pairs. */
static const char *fake_getenv(const char *name, void *user)
{
    const char *const *kv = user;
    for (size_t i = 0; kv[i]; i += 2)
        if (!strcmp(kv[i], name))
            return kv[i + 1];
    return NULL;
}

static void load(struct config *cfg, const char *const *env, int argc, char **argv)
{
    bool exit_now;
    util_buf out;
    util_buf_init(&out, 0);
    util_error err;
    util_error_clear(&err);
    char *def[] = {"azure-ai-gateway-mcp", NULL};
    assert_int_equal(config_load(cfg, argv ? argc : 1, argv ? argv : def, fake_getenv, (void *)env, &exit_now, &out,
                                 &err), 0);
    assert_false(exit_now);
    util_buf_free(&out);
}

static bool has_problem(const struct config *cfg, const char *needle)
{
    for (size_t i = 0; i < cfg->n_problems; i++)
        if (strstr(cfg->problems[i], needle))
            return true;
    return false;
}

static const char *const GOOD[] = {
    "AZURE_SUBSCRIPTION_ID", "11111111-2222-3333-4444-555555555555", "APIM_RESOURCE_GROUP", "rg",
    "APIM_SERVICE_NAME", "apim", "AZURE_TENANT_ID", "11111111-1111-1111-1111-111111111111",
    "AZURE_CLIENT_ID", "aaaaaaaa-0000-0000-0000-000000000001", "AZURE_CLIENT_SECRET", "s3cr3t-value-for-tests",
    "HOME", "/home/u", NULL};

static void test_complete_configuration(void **state)
{
    struct config cfg;
    load(&cfg, GOOD, 0, NULL);
    assert_int_equal(cfg.n_problems, 0);
    assert_string_equal(cfg.service_id,
                        "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg/providers/"
                        "Microsoft.ApiManagement/service/apim");
    assert_string_equal(cfg.arm_endpoint, "https://management.azure.com");
    assert_string_equal(cfg.authority_host, "https://login.microsoftonline.com");
    assert_string_equal(cfg.arm_scope, "https://management.azure.com/.default");
    assert_string_equal(cfg.audit_log, "/home/u/.local/state/azure-ai-gateway-mcp/audit.jsonl");
    assert_int_equal(cfg.log_level, UTIL_LOG_INFO);
    assert_false(cfg.read_only);
    util_error err;
    assert_int_equal(config_ready(&cfg, &err), 0);
    config_free(&cfg);
}

static void test_missing_everything(void **state)
{
    const char *const env[] = {NULL};
    struct config cfg;
    load(&cfg, env, 0, NULL);
    assert_true(has_problem(&cfg, "AZURE_SUBSCRIPTION_ID is not set"));
    assert_true(has_problem(&cfg, "APIM_RESOURCE_GROUP is not set"));
    assert_true(has_problem(&cfg, "APIM_SERVICE_NAME is not set"));
    assert_true(has_problem(&cfg, "AIGW_AUDIT_LOG"));
    util_error err;
    assert_int_equal(config_ready(&cfg, &err), UTIL_ECONFIG);
    assert_non_null(strstr(err.message, "AZURE_SUBSCRIPTION_ID is not set"));
    config_free(&cfg);
}

static void test_resource_id(void **state)
{
    const char *const env[] = {"APIM_RESOURCE_ID",
                               "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/my-rg/providers/"
                               "Microsoft.ApiManagement/service/gw1",
                               "AIGW_AUDIT_LOG", "/tmp/j.jsonl", NULL};
    struct config cfg;
    load(&cfg, env, 0, NULL);
    assert_int_equal(cfg.n_problems, 0);
    assert_string_equal(cfg.resource_group, "my-rg");
    assert_string_equal(cfg.service_name, "gw1");
    config_free(&cfg);

    const char *const bad[] = {"APIM_RESOURCE_ID", "/subscriptions/x/resourceGroups/y", "AIGW_AUDIT_LOG", "/tmp/j",
                               NULL};
    load(&cfg, bad, 0, NULL);
    assert_true(has_problem(&cfg, "is not an API Management resource id"));
    config_free(&cfg);

    const char *const clash[] = {"APIM_RESOURCE_ID",
                                 "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/my-rg/providers/"
                                 "Microsoft.ApiManagement/service/gw1",
                                 "APIM_SERVICE_NAME", "other", "AIGW_AUDIT_LOG", "/tmp/j", NULL};
    load(&cfg, clash, 0, NULL);
    assert_true(has_problem(&cfg, "say otherwise"));
    config_free(&cfg);
}

static void test_endpoints_and_clouds(void **state)
{
    const char *const env[] = {"AZURE_CLOUD", "AzureUSGovernment", "AZURE_RESOURCE_MANAGER_ENDPOINT",
                               "http://127.0.0.1:8080/", "AZURE_AUTHORITY_HOST", "http://login.example.com",
                               "AIGW_AUDIT_LOG", "/tmp/j", NULL};
    struct config cfg;
    load(&cfg, env, 0, NULL);
    assert_string_equal(cfg.arm_endpoint, "http://127.0.0.1:8080");
    assert_string_equal(cfg.arm_scope, "https://management.usgovcloudapi.net/.default");
    assert_true(has_problem(&cfg, "AZURE_AUTHORITY_HOST=http://login.example.com uses plain http://"));
    assert_string_equal(cfg.authority_host, "https://login.microsoftonline.us");
    config_free(&cfg);

    const char *const china[] = {"AZURE_CLOUD", "AzureChinaCloud", "AIGW_AUDIT_LOG", "/tmp/j", NULL};
    load(&cfg, china, 0, NULL);
    assert_string_equal(cfg.arm_endpoint, "https://management.chinacloudapi.cn");
    assert_string_equal(cfg.authority_host, "https://login.chinacloudapi.cn");
    config_free(&cfg);

    /* issue 14 item 9: the secret would go to login.attacker.example over plain http */
    const char *const userinfo[] = {"AZURE_AUTHORITY_HOST", "http://127.0.0.1:1@login.attacker.example",
                                    "AZURE_RESOURCE_MANAGER_ENDPOINT", "https://user:pw@management.azure.com",
                                    "AIGW_AUDIT_LOG", "/tmp/j", NULL};
    load(&cfg, userinfo, 0, NULL);
    assert_true(has_problem(&cfg, "AZURE_AUTHORITY_HOST holds user information"));
    assert_true(has_problem(&cfg, "AZURE_RESOURCE_MANAGER_ENDPOINT holds user information"));
    assert_string_equal(cfg.authority_host, "https://login.microsoftonline.com");
    config_free(&cfg);

    const char *const unknown[] = {"AZURE_CLOUD", "Mars", "AIGW_AUDIT_LOG", "/tmp/j", NULL};
    load(&cfg, unknown, 0, NULL);
    assert_true(has_problem(&cfg, "AZURE_CLOUD=Mars is unknown"));
    config_free(&cfg);
}

/* Log Analytics' Logs query API: the cloud's endpoint and audience; an override like the other
 * endpoints; none assumed when ARM is overridden (a simulator) and it is not. */
static void test_log_analytics_endpoint(void **state)
{
    (void)state;
    struct config cfg;
    load(&cfg, GOOD, 0, NULL);
    assert_string_equal(cfg.log_analytics_endpoint, "https://api.loganalytics.io");
    assert_string_equal(cfg.log_analytics_scope, "https://api.loganalytics.io/.default");
    config_free(&cfg);
    const char *const gov[] = {"AZURE_CLOUD", "AzureUSGovernment", "AIGW_AUDIT_LOG", "/tmp/j", NULL};
    load(&cfg, gov, 0, NULL);
    assert_string_equal(cfg.log_analytics_endpoint, "https://api.loganalytics.us");
    assert_string_equal(cfg.log_analytics_scope, "https://api.loganalytics.us/.default");
    config_free(&cfg);
    const char *const china[] = {"AZURE_CLOUD", "AzureChinaCloud", "AIGW_AUDIT_LOG", "/tmp/j", NULL};
    load(&cfg, china, 0, NULL);
    assert_string_equal(cfg.log_analytics_endpoint, "https://api.loganalytics.azure.cn");
    config_free(&cfg);
    const char *const sim[] = {"AZURE_RESOURCE_MANAGER_ENDPOINT", "http://127.0.0.1:8080", "AIGW_AUDIT_LOG", "/tmp/j",
                               NULL};
    load(&cfg, sim, 0, NULL);
    assert_null(cfg.log_analytics_endpoint); /* never the public endpoint behind a simulator's back */
    config_free(&cfg);
    const char *const set[] = {"AZURE_RESOURCE_MANAGER_ENDPOINT", "http://127.0.0.1:8080", "AIGW_LOG_ANALYTICS_ENDPOINT",
                               "http://127.0.0.1:8080/", "AIGW_AUDIT_LOG", "/tmp/j", NULL};
    load(&cfg, set, 0, NULL);
    assert_string_equal(cfg.log_analytics_endpoint, "http://127.0.0.1:8080");
    config_free(&cfg);
    const char *const plain[] = {"AIGW_LOG_ANALYTICS_ENDPOINT", "http://logs.example.com", "AIGW_AUDIT_LOG", "/tmp/j",
                                 NULL};
    load(&cfg, plain, 0, NULL);
    assert_true(has_problem(&cfg, "AIGW_LOG_ANALYTICS_ENDPOINT=http://logs.example.com uses plain http://"));
    assert_string_equal(cfg.log_analytics_endpoint, "https://api.loganalytics.io");
    config_free(&cfg);
}

static void test_loopback(void **state)
{
    assert_true(config_is_loopback_url("http://127.0.0.1:1234"));
    assert_true(config_is_loopback_url("http://127.1.2.3/path"));
    assert_true(config_is_loopback_url("http://localhost:80"));
    assert_true(config_is_loopback_url("http://[::1]:9"));
    assert_false(config_is_loopback_url("http://127.0.0.1.evil.com"));
    assert_false(config_is_loopback_url("http://localhost.evil.com"));
    assert_false(config_is_loopback_url("http://10.0.0.1"));
    assert_false(config_is_loopback_url("https://127.0.0.1"));
    /* issue 14 item 9: "127.0.0.1:1@" is user information; the host is login.attacker.example */
    assert_false(config_is_loopback_url("http://127.0.0.1:1@login.attacker.example"));
    assert_false(config_is_loopback_url("http://localhost:80@evil.example/x"));
    assert_false(config_is_loopback_url("http://127.0.0.1:80x/"));
    assert_false(config_is_loopback_url("http://127.0.0.1\\@evil.example/"));
    assert_true(config_is_loopback_url("http://127.0.0.1"));
    assert_true(config_url_has_userinfo("https://u:p@management.azure.com"));
    assert_false(config_url_has_userinfo("https://management.azure.com/a@b"));
}

static void test_credentials(void **state)
{
    const char *const env[] = {"AZURE_CLIENT_SECRET", "very-secret-value-1234", "AZURE_TOKEN_CREDENTIALS",
                               "AzureCliCredential", "AIGW_AUDIT_LOG", "/tmp/j", NULL};
    struct config cfg;
    load(&cfg, env, 0, NULL);
    assert_int_equal(cfg.cred_kind, CONFIG_CRED_AZURE_CLI);
    assert_true(has_problem(&cfg, "AZURE_TENANT_ID is not set"));
    assert_true(has_problem(&cfg, "AZURE_CLIENT_ID is not set"));
    for (size_t i = 0; i < cfg.n_problems; i++)
        assert_null(strstr(cfg.problems[i], "very-secret-value-1234"));
    /* the secret is registered with the scrubber */
    char line[128] = "token very-secret-value-1234 here";
    util_log_scrub(line);
    assert_string_equal(line, "token *** here");
    config_free(&cfg);

    /* a tenant is a GUID or a domain name: nothing cmd.exe or a shell would read as syntax */
    const char *const tenants[][2] = {{"contoso.onmicrosoft.com", NULL}, {"a.b&calc", "x"}, {"a.b|x", "x"},
                                      {"a.b^c", "x"}, {"a b.c", "x"}, {"notadomain", "x"}};
    for (size_t i = 0; i < sizeof tenants / sizeof *tenants; i++) {
        const char *const t[] = {"AZURE_TENANT_ID", tenants[i][0], "AIGW_AUDIT_LOG", "/tmp/j", NULL};
        load(&cfg, t, 0, NULL);
        assert_int_equal(has_problem(&cfg, "is neither a GUID nor a domain name"), tenants[i][1] != NULL);
        config_free(&cfg);
    }

    const char *const pinned[] = {"AZURE_TOKEN_CREDENTIALS", "MagicCredential", "AIGW_AUDIT_LOG", "/tmp/j", NULL};
    load(&cfg, pinned, 0, NULL);
    assert_true(has_problem(&cfg, "AZURE_TOKEN_CREDENTIALS=MagicCredential is not a valid value; azure-identity's "
                                  "values are prod, dev, EnvironmentCredential"));
    config_free(&cfg);

    /* exactly azure-identity's values (trimmed, any case), ours beyond them as extensions */
    static const struct {
        const char *value;
        int kind; /* -1: a problem */
        const char *problem;
    } cases[] = {{" prod ", CONFIG_CRED_PROD, NULL},
                 {"DEV", CONFIG_CRED_DEV, NULL},
                 {"environmentcredential", CONFIG_CRED_ENVIRONMENT, NULL},
                 {"WorkloadIdentityCredential\n", CONFIG_CRED_WORKLOAD_IDENTITY, NULL},
                 {"ManagedIdentityCredential", CONFIG_CRED_MANAGED_IDENTITY, NULL},
                 {"AzureCliCredential", CONFIG_CRED_AZURE_CLI, NULL},
                 {"ClientSecretCredential", CONFIG_CRED_CLIENT_SECRET, NULL},
                 {"ClientCertificateCredential", CONFIG_CRED_CLIENT_CERTIFICATE, NULL},
                 {"AzurePowerShellCredential", -1, "is a credential azure-identity knows, but this server does not"},
                 {"VisualStudioCodeCredential", -1, "is a credential azure-identity knows, but this server does not"},
                 {"AzureDeveloperCliCredential", -1, "is a credential azure-identity knows, but this server does not"},
                 {"DefaultAzureCredential", -1, "is not a valid value"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *const one[] = {"AZURE_TOKEN_CREDENTIALS", cases[i].value, "AIGW_AUDIT_LOG", "/tmp/j", NULL};
        load(&cfg, one, 0, NULL);
        if (cases[i].kind >= 0 && (cfg.cred_kind != cases[i].kind || has_problem(&cfg, "AZURE_TOKEN_CREDENTIALS")))
            fail_msg("AZURE_TOKEN_CREDENTIALS='%s' was not read as kind %d", cases[i].value, cases[i].kind);
        if (cases[i].kind < 0 && !has_problem(&cfg, cases[i].problem))
            fail_msg("AZURE_TOKEN_CREDENTIALS='%s' lacks the problem '%s'", cases[i].value, cases[i].problem);
        config_free(&cfg);
    }

    const char *const sf[] = {"IDENTITY_ENDPOINT", "https://10.0.0.4:2377/metadata/identity/oauth2/token",
                              "IDENTITY_HEADER", "h", "IDENTITY_SERVER_THUMBPRINT", "AB:CD", "AIGW_AUDIT_LOG", "/tmp/j",
                              NULL};
    load(&cfg, sf, 0, NULL);
    assert_true(has_problem(&cfg, "IDENTITY_SERVER_THUMBPRINT=AB:CD is not a SHA-1 certificate thumbprint"));
    config_free(&cfg);
    const char *const sf_ok[] = {"IDENTITY_ENDPOINT", "https://10.0.0.4:2377/metadata/identity/oauth2/token",
                                 "IDENTITY_HEADER", "h", "IDENTITY_SERVER_THUMBPRINT",
                                 "0123456789ABCDEF0123456789abcdef01234567", "AIGW_AUDIT_LOG", "/tmp/j", NULL};
    load(&cfg, sf_ok, 0, NULL);
    assert_false(has_problem(&cfg, "IDENTITY_SERVER_THUMBPRINT"));
    assert_string_equal(cfg.identity_server_thumbprint, "0123456789ABCDEF0123456789abcdef01234567");
    config_free(&cfg);

    const char *const wi[] = {"AZURE_FEDERATED_TOKEN_FILE", "/var/run/token", "AIGW_AUDIT_LOG", "/tmp/j", NULL};
    load(&cfg, wi, 0, NULL);
    assert_true(has_problem(&cfg, "workload identity needs all three"));
    config_free(&cfg);
}

static void test_command_line(void **state)
{
    const char *const env[] = {"AIGW_READ_ONLY", "1", "AIGW_LOG_LEVEL", "warning", "AIGW_AUDIT_LOG", "/tmp/j", NULL};
    struct config cfg;
    load(&cfg, env, 0, NULL);
    assert_true(cfg.read_only);
    assert_int_equal(cfg.log_level, UTIL_LOG_WARNING);
    config_free(&cfg);

    char *argv[] = {"x", "--log-level", "debug", "--demo", "--check", NULL};
    load(&cfg, env, 5, argv);
    assert_int_equal(cfg.log_level, UTIL_LOG_DEBUG);
    assert_true(cfg.demo && cfg.check);
    config_free(&cfg);

    bool exit_now;
    util_buf out;
    util_buf_init(&out, 0);
    util_error err;
    char *help[] = {"x", "--help", NULL};
    assert_int_equal(config_load(&cfg, 2, help, fake_getenv, (void *)env, &exit_now, &out, &err), 0);
    assert_true(exit_now);
    assert_non_null(strstr(out.data, "AZURE_RESOURCE_MANAGER_ENDPOINT"));
    util_buf_free(&out);
    config_free(&cfg);

    char *bad[] = {"x", "--log-level", "loud", NULL};
    assert_int_equal(config_load(&cfg, 3, bad, fake_getenv, (void *)env, &exit_now, &out, &err), UTIL_EINVAL);
    assert_non_null(strstr(err.message, "--log-level needs one of"));
    char *unknown[] = {"x", "--wat", NULL};
    assert_int_equal(config_load(&cfg, 2, unknown, fake_getenv, (void *)env, &exit_now, &out, &err), UTIL_EINVAL);
    assert_non_null(strstr(err.message, "unknown option '--wat'"));
}

/* AIGW_CONFIRM (issue 20): elicit by default, client on request, refused with read-only; AIGW_DEMO. */
static void test_confirm(void **state)
{
    struct config cfg;
    const char *const dflt[] = {"AIGW_AUDIT_LOG", "/tmp/j", NULL};
    load(&cfg, dflt, 0, NULL);
    assert_false(cfg.confirm_client);
    config_free(&cfg);
    const char *const client[] = {"AIGW_CONFIRM", "Client", "AIGW_AUDIT_LOG", "/tmp/j", NULL};
    load(&cfg, client, 0, NULL);
    assert_true(cfg.confirm_client);
    assert_false(has_problem(&cfg, "AIGW_CONFIRM"));
    config_free(&cfg);
    char *ro[] = {"x", "--read-only", NULL};
    load(&cfg, client, 2, ro);
    assert_true(has_problem(&cfg, "AIGW_CONFIRM=client and read-only mode are set together"));
    config_free(&cfg);
    const char *const demo[] = {"AIGW_DEMO", "true", "AIGW_AUDIT_LOG", "/tmp/j", NULL};
    load(&cfg, demo, 0, NULL);
    assert_true(cfg.demo);
    config_free(&cfg);
    const char *const nodemo[] = {"AIGW_DEMO", "false", "AIGW_AUDIT_LOG", "/tmp/j", NULL};
    load(&cfg, nodemo, 0, NULL);
    assert_false(cfg.demo || has_problem(&cfg, "AIGW_DEMO"));
    config_free(&cfg);
    const char *const bad[] = {"AIGW_CONFIRM", "yes", "AIGW_AUDIT_LOG", "/tmp/j", NULL};
    load(&cfg, bad, 0, NULL);
    assert_false(cfg.confirm_client);
    assert_true(has_problem(&cfg, "AIGW_CONFIRM=yes is not understood"));
    config_free(&cfg);
}

/* AIGW_DRILL_SPEEDUP (issue 18): an integer 1..3600, default 1; anything else is a problem and 1. */
static void test_drill_speedup(void **state)
{
    (void)state;
    struct config cfg;
    const char *const dflt[] = {"AIGW_AUDIT_LOG", "/tmp/j", NULL};
    load(&cfg, dflt, 0, NULL);
    assert_int_equal(cfg.drill_speedup, 1);
    config_free(&cfg);
    const char *const fast[] = {"AIGW_DRILL_SPEEDUP", "60", "AIGW_AUDIT_LOG", "/tmp/j", NULL};
    load(&cfg, fast, 0, NULL);
    assert_int_equal(cfg.drill_speedup, 60);
    assert_false(has_problem(&cfg, "AIGW_DRILL_SPEEDUP"));
    config_free(&cfg);
    const char *const bad[][5] = {{"AIGW_DRILL_SPEEDUP", "0", "AIGW_AUDIT_LOG", "/tmp/j", NULL},
                                  {"AIGW_DRILL_SPEEDUP", "3601", "AIGW_AUDIT_LOG", "/tmp/j", NULL},
                                  {"AIGW_DRILL_SPEEDUP", "2.5", "AIGW_AUDIT_LOG", "/tmp/j", NULL},
                                  {"AIGW_DRILL_SPEEDUP", "fast", "AIGW_AUDIT_LOG", "/tmp/j", NULL}};
    for (size_t i = 0; i < 4; i++) {
        load(&cfg, bad[i], 0, NULL);
        assert_int_equal(cfg.drill_speedup, 1);
        assert_true(has_problem(&cfg, "AIGW_DRILL_SPEEDUP="));
        config_free(&cfg);
    }
}

static void test_util_time(void **state)
{
    int64_t t;
    assert_int_equal(util_time_parse_iso8601("2026-11-25T02:20:37Z", &t), 0);
    char buf[32];
    util_time_iso8601(t, buf, sizeof buf);
    assert_string_equal(buf, "2026-11-25T02:20:37Z");
    assert_int_equal(util_time_parse_iso8601("2026-11-25T04:20:37+02:00", &t), 0);
    util_time_iso8601(t, buf, sizeof buf);
    assert_string_equal(buf, "2026-11-25T02:20:37Z");
    assert_int_equal(util_time_parse_iso8601("2026-13-01T00:00:00Z", &t), -1);
    int64_t s;
    assert_int_equal(util_duration_parse_iso8601("PT1M30S", &s), 0);
    assert_int_equal(s, 90);
    assert_int_equal(util_duration_parse_iso8601("P1DT2H", &s), 0);
    assert_int_equal(s, 93600);
    assert_int_equal(util_duration_parse_iso8601("PT", &s), -1);
    assert_int_equal(util_duration_parse_iso8601("5m", &s), -1);
    util_duration_format_iso8601(300, buf, sizeof buf);
    assert_string_equal(buf, "PT5M");
    util_duration_format_iso8601(86400, buf, sizeof buf);
    assert_string_equal(buf, "P1D");
    util_duration_format_iso8601(0, buf, sizeof buf);
    assert_string_equal(buf, "PT0S");
    assert_int_equal(util_edit_distance("growth", "grwoth", 3), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_complete_configuration), cmocka_unit_test(test_missing_everything),
        cmocka_unit_test(test_resource_id),            cmocka_unit_test(test_endpoints_and_clouds),
        cmocka_unit_test(test_loopback),               cmocka_unit_test(test_credentials),
        cmocka_unit_test(test_command_line),           cmocka_unit_test(test_util_time),
        cmocka_unit_test(test_confirm),              cmocka_unit_test(test_drill_speedup),
        cmocka_unit_test(test_log_analytics_endpoint),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    util_log_free_all();
    return rc;
}
