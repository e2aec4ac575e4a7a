/* test_auth_credentials: every credential kind against a real apim-sim — client secret (and
 * Entra's errors as sentences), certificate PEM and PKCS#12 (generated with the openssl CLI and
 * registered through /_sim/clients), workload identity (token file re-read), managed identity
 * (App Service endpoint and IMDS on loopback), the Azure CLI (a fake `az` on PATH: logged in,
 * not logged in, missing), the default chain falling through to the CLI, and the token cache.
 * Everything runs at debug level with stderr captured; the last test scans every log line,
 * error message and stderr byte for the secrets, tokens and assertions used. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/auth/auth_internal.h"
#include "arm_test_env.h"
#include "auth.h"

#define CERT_APP_ID "aaaaaaaa-0000-0000-0000-0000000000c1"
#define OTHER_CERT_APP_ID "aaaaaaaa-0000-0000-0000-0000000000c2" /* registered with another certificate */
#define P12_PASSWORD "test-p12-password-123"
#define ARM_SCOPE "https://management.azure.com/.default"

static struct sim_process g_sim;
static char g_dir[64];
static char *g_old_path;
static util_buf g_seen;         /* every log line and error message of the run */
static char *g_known[64];       /* secrets and tokens that must never appear */
static size_t g_n_known;
static int g_saved_stderr = -1; /* stderr is captured to g_dir/stderr.log until the scan */

static void seen(const char *text)
{
    util_buf_puts(&g_seen, text);
    util_buf_puts(&g_seen, "\n");
}

static void known(const char *secret)
{
    if (g_n_known < sizeof g_known / sizeof g_known[0])
        g_known[g_n_known++] = util_strdup(secret);
}

static void sink(int level, const char *logger, const char *message, void *user) { seen(message); }

static void write_file(const char *path, const char *text, int mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, (mode_t)mode);
}

static char *path_in(const char *name) { return util_printf("%s/%s", g_dir, name); }

static int run(const char *cmd)
{
    int rc = system(cmd);
    return rc == 0 ? 0 : -1;
}

/* A self-signed RSA certificate: cert.pem, key.pem, both.pem (cert + key) and cert.p12. */
static int make_certificate(void)
{
    char *cmd = util_printf(
        "cd %s && openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 2 "
        "-subj /CN=aigw-test 2>/dev/null && cat cert.pem key.pem > both.pem && "
        "openssl pkcs12 -export -in cert.pem -inkey key.pem -out cert.p12 "
        "-passout pass:" P12_PASSWORD " 2>/dev/null && "
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout other-key.pem -out other.pem -days 2 "
        "-subj /CN=aigw-other 2>/dev/null",
        g_dir);
    int rc = run(cmd);
    free(cmd);
    return rc;
}

static int register_cert_app(const char *client_id, const char *cert_file)
{
    char *pem_path = path_in(cert_file), *pem = NULL;
    util_error err;
    int rc = util_read_file(pem_path, 65536, &pem, NULL, &err);
    free(pem_path);
    if (rc)
        return -1;
    json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "client_id", client_id, "tenant_id", DEMO_TENANT,
                             "certificate_pem", pem, "role", "contributor");
    char *text = json_dumps(body, 0);
    int st = sim_post(&g_sim, "/_sim/clients", text);
    free(text);
    json_decref(body);
    free(pem);
    return st == 200 || st == 201 ? 0 : -1;
}

/* A fake az: records its arguments, then prints answer.json, or fail.txt on stderr (exit 1). */
static int make_fake_az(void)
{
    char *bin = path_in("bin");
    mkdir(bin, 0700);
    char *az = util_printf("%s/az", bin);
    write_file(az,
               "#!/bin/sh\n"
               "d=$(dirname \"$0\")\n"
               "echo \"$@\" > \"$d/args\"\n"
               "if [ -f \"$d/fail.txt\" ]; then cat \"$d/fail.txt\" >&2; exit 1; fi\n"
               "cat \"$d/answer.json\"\n",
               0700);
    free(az);
    free(bin);
    return 0;
}

static int setup(void **state)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/aigw-auth-XXXXXX");
    if (!mkdtemp(g_dir) || sim_start(&g_sim, NULL) != 0 || make_certificate() != 0 ||
        register_cert_app(CERT_APP_ID, "cert.pem") != 0 || register_cert_app(OTHER_CERT_APP_ID, "other.pem") != 0)
        return -1;
    g_old_path = util_strdup(getenv("PATH"));
    util_buf_init(&g_seen, 0);
    util_log_set_level(UTIL_LOG_DEBUG);
    util_log_set_sink(sink, NULL, UTIL_LOG_DEBUG);
    char *log = path_in("stderr.log");
    FILE *f = fopen(log, "w");
    free(log);
    if (!f)
        return -1;
    fflush(stderr);
    g_saved_stderr = dup(2);
    dup2(fileno(f), 2);
    fclose(f);
    return make_fake_az();
}

static void restore_stderr(void)
{
    if (g_saved_stderr >= 0) {
        fflush(stderr);
        dup2(g_saved_stderr, 2);
        close(g_saved_stderr);
        g_saved_stderr = -1;
    }
}

static int teardown(void **state)
{
    restore_stderr();
    util_log_set_sink(NULL, NULL, UTIL_LOG_OFF);
    util_buf_free(&g_seen);
    for (size_t i = 0; i < g_n_known; i++)
        free(g_known[i]);
    char *cmd = util_printf("rm -rf %s", g_dir);
    run(cmd);
    free(cmd);
    if (g_old_path)
        setenv("PATH", g_old_path, 1);
    free(g_old_path);
    util_log_free_all();
    return sim_stop(&g_sim) == 0 ? 0 : -1;
}

/* Gets one token with cfg; returns the code and copies the token (or the error message). */
static int get_token(struct config *cfg, char **token_or_msg, unsigned long *requests)
{
    struct http_client *http = http_client_new(NULL, NULL);
    util_error err;
    util_error_clear(&err);
    struct auth_credential *a = auth_credential_new(cfg, http, &err);
    const char *t = NULL;
    int rc = a ? auth_get_token(a, ARM_SCOPE, 0, &t, &err) : err.code;
    *token_or_msg = util_strdup(rc == 0 ? t : err.message);
    if (rc == 0)
        known(t);
    else
        seen(err.message);
    if (requests)
        *requests = a ? auth_token_requests(a) : 0;
    auth_credential_free(a);
    http_client_free(http);
    return rc;
}

/* The token works at ARM: the simulator accepts it for a read of the service. */
static void assert_arm_accepts(const char *token)
{
    struct http_client *http = http_client_new(NULL, NULL);
    char *auth = util_printf("Authorization: Bearer %s", token);
    char *url = util_printf("%s%s?api-version=2024-05-01", g_sim.base_url, DEMO_SERVICE_ID);
    struct http_request req = {.method = "GET", .url = url, .headers = {auth}};
    struct http_response resp;
    util_error err;
    assert_int_equal(http_perform(http, &req, &resp, &err), 0);
    assert_int_equal(resp.status, 200);
    http_response_free(&resp);
    free(auth);
    free(url);
    http_client_free(http);
}

/* issue 14 item 10: a token that could inject a header (CR/LF, spaces, controls) is refused. */
static void test_header_injecting_token_is_refused(void **state)
{
    struct config cfg;
    test_cfg_init(&cfg, &g_sim);
    test_cfg_secret(&cfg, DEMO_CONTRIBUTOR_ID, DEMO_CONTRIBUTOR_SECRET);
    sim_reset(&g_sim);
    struct http_client *http = http_client_new(NULL, NULL);
    struct auth_credential *a = auth_credential_new(&cfg, http, NULL);
    const char *t = NULL;
    util_error err;
    assert_int_equal(sim_post(&g_sim, "/_sim/faults",
                              "{\"rules\": [{\"path_contains\": \"/oauth2/v2.0/token\", \"status\": 200, \"body\": "
                              "\"{\\\"token_type\\\":\\\"Bearer\\\",\\\"expires_in\\\":3600,\\\"access_token\\\":"
                              "\\\"eyJhbGciOi.x\\\\r\\\\nX-Evil: 1\\\"}\", \"count\": 1}]}"), 200);
    assert_int_equal(auth_get_token(a, ARM_SCOPE, 0, &t, &err), UTIL_EAUTH);
    assert_non_null(strstr(err.message, "control character"));
    assert_null(strstr(err.message, "X-Evil"));
    sim_reset(&g_sim);
    assert_int_equal(auth_get_token(a, ARM_SCOPE, 0, &t, &err), 0); /* a good token afterwards is taken */
    assert_int_equal(auth_check_token("abc def", "x", &err), UTIL_EAUTH);
    assert_int_equal(auth_check_token("abc\x01", "x", &err), UTIL_EAUTH);
    assert_int_equal(auth_check_token("", "x", &err), UTIL_EAUTH);
    assert_int_equal(auth_check_token("eyJ0eXAi.eyJzdWIi.c2ln-_", "x", &err), 0);
    auth_credential_free(a);
    http_client_free(http);
    config_free(&cfg);
}

static void test_client_secret_and_cache(void **state)
{
    struct config cfg;
    test_cfg_init(&cfg, &g_sim);
    test_cfg_secret(&cfg, DEMO_CONTRIBUTOR_ID, DEMO_CONTRIBUTOR_SECRET);
    sim_reset(&g_sim);
    struct http_client *http = http_client_new(NULL, NULL);
    struct auth_credential *a = auth_credential_new(&cfg, http, NULL);
    assert_non_null(a);
    assert_string_equal(auth_credential_name(a), "ClientSecretCredential");
    const char *first = NULL, *t = NULL;
    util_error err;
    for (int i = 0; i < 25; i++) {
        assert_int_equal(auth_get_token(a, ARM_SCOPE, 0, &t, &err), 0);
        if (!first) {
            first = t;
            known(t);
        }
        assert_ptr_equal(t, first);
    }
    assert_int_equal(auth_token_requests(a), 1);
    assert_int_equal(sim_counter(&g_sim, "token_requests"), 1);
    assert_arm_accepts(t);
    assert_int_equal(auth_get_token(a, ARM_SCOPE, 1, &t, &err), 0); /* forced refresh */
    assert_int_equal(sim_counter(&g_sim, "token_requests"), 2);
    /* a transient Entra failure is retried */
    assert_int_equal(sim_post(&g_sim, "/_sim/faults",
                              "{\"rules\": [{\"path_contains\": \"/oauth2/v2.0/token\", \"status\": 503, "
                              "\"count\": 1}]}"), 200);
    assert_int_equal(auth_get_token(a, ARM_SCOPE, 1, &t, &err), 0);
    assert_int_equal(auth_token_requests(a), 4);
    sim_reset(&g_sim);
    auth_credential_free(a);
    http_client_free(http);
    config_free(&cfg);
}

static void test_entra_errors_are_sentences(void **state)
{
    struct config cfg;
    test_cfg_init(&cfg, &g_sim);
    char *msg;
    test_cfg_secret(&cfg, DEMO_CONTRIBUTOR_ID, "wrong-secret-value");
    assert_int_equal(get_token(&cfg, &msg, NULL), UTIL_EAUTH);
    assert_non_null(strstr(msg, "the client secret for AZURE_CLIENT_ID " DEMO_CONTRIBUTOR_ID " was rejected"));
    assert_non_null(strstr(msg, "AADSTS7000215"));
    assert_non_null(strstr(msg, "create a new one"));
    assert_null(strstr(msg, "wrong-secret-value"));
    free(msg);
    test_cfg_secret(&cfg, "aaaaaaaa-0000-0000-0000-00000000dead", "whatever-secret");
    assert_int_equal(get_token(&cfg, &msg, NULL), UTIL_EAUTH);
    assert_non_null(strstr(msg, "AADSTS700016"));
    assert_non_null(strstr(msg, "aaaaaaaa-0000-0000-0000-00000000dead"));
    free(msg);
    test_cfg_secret(&cfg, DEMO_CONTRIBUTOR_ID, DEMO_CONTRIBUTOR_SECRET);
    test_cfg_set(&cfg.tenant_id, "99999999-9999-9999-9999-999999999999");
    assert_int_equal(get_token(&cfg, &msg, NULL), UTIL_EAUTH);
    assert_non_null(strstr(msg, "AADSTS90002"));
    assert_non_null(strstr(msg, "AZURE_TENANT_ID"));
    free(msg);
    config_free(&cfg);
}

static void test_certificate_pem_and_p12(void **state)
{
    struct config cfg;
    test_cfg_init(&cfg, &g_sim);
    test_cfg_set(&cfg.tenant_id, DEMO_TENANT);
    test_cfg_set(&cfg.client_id, CERT_APP_ID);
    char *both = path_in("both.pem"), *p12 = path_in("cert.p12"), *tok;
    test_cfg_set(&cfg.cert_path, both);
    assert_int_equal(get_token(&cfg, &tok, NULL), 0);
    assert_arm_accepts(tok);
    free(tok);

    test_cfg_set(&cfg.cert_path, p12);
    test_cfg_set(&cfg.cert_password, P12_PASSWORD);
    assert_int_equal(get_token(&cfg, &tok, NULL), 0);
    assert_arm_accepts(tok);
    free(tok);

    test_cfg_set(&cfg.cert_password, "not-the-password");
    assert_int_equal(get_token(&cfg, &tok, NULL), UTIL_ECONFIG);
    assert_non_null(strstr(tok, "AZURE_CLIENT_CERTIFICATE_PASSWORD"));
    assert_null(strstr(tok, "not-the-password"));
    free(tok);

    /* a certificate the app does not know: Entra's AADSTS700027 */
    test_cfg_set(&cfg.cert_path, both);
    test_cfg_set(&cfg.client_id, OTHER_CERT_APP_ID);
    assert_int_equal(get_token(&cfg, &tok, NULL), UTIL_EAUTH);
    assert_non_null(strstr(tok, "AADSTS700027"));
    free(tok);
    free(both);
    free(p12);
    config_free(&cfg);
}

static void test_assertion_claims(void **state)
{
    char *both = path_in("both.pem"), *jwt = NULL;
    util_error err;
    const char *aud = "https://login.example/" DEMO_TENANT "/oauth2/v2.0/token";
    assert_int_equal(auth_cert_assertion(both, NULL, CERT_APP_ID, aud, &jwt, &err), 0);
    /* header.payload.signature, and the payload carries the claims */
    char *dot1 = strchr(jwt, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    assert_non_null(dot2);
    char *cmd = util_printf("printf '%%s' '%.*s' | tr '_-' '/+' | base64 -d 2>/dev/null > %s/claims.json; "
                            "printf '%%s' '%.*s' | tr '_-' '/+' | base64 -d 2>/dev/null > %s/header.json; true",
                            (int)(dot2 - dot1 - 1), dot1 + 1, g_dir, (int)(dot1 - jwt), jwt, g_dir);
    run(cmd);
    free(cmd);
    char *cp = path_in("claims.json"), *hp = path_in("header.json"), *claims = NULL, *header = NULL;
    assert_int_equal(util_read_file(cp, 65536, &claims, NULL, &err), 0);
    assert_int_equal(util_read_file(hp, 65536, &header, NULL, &err), 0);
    assert_non_null(strstr(claims, aud));
    assert_non_null(strstr(claims, "\"iss\":\"" CERT_APP_ID "\""));
    assert_non_null(strstr(claims, "\"sub\":\"" CERT_APP_ID "\""));
    assert_non_null(strstr(claims, "\"jti\""));
    assert_non_null(strstr(claims, "\"nbf\""));
    assert_non_null(strstr(claims, "\"exp\""));
    /* Entra: the algorithm "should be PS256", with the x5t#S256 thumbprint (no SHA-1 x5t) */
    assert_non_null(strstr(header, "\"alg\":\"PS256\""));
    assert_non_null(strstr(header, "\"x5t#S256\""));
    assert_null(strstr(header, "\"x5t\""));
    free(claims), free(header), free(cp), free(hp), free(jwt), free(both);
}

/* Writes a fresh federated token (an assertion signed with the registered certificate). */
static void write_federated_token(const char *path, const char *aud)
{
    char *both = path_in("both.pem"), *jwt = NULL;
    util_error err;
    assert_int_equal(auth_cert_assertion(both, NULL, CERT_APP_ID, aud, &jwt, &err), 0);
    write_file(path, jwt, 0600);
    known(jwt);
    free(jwt);
    free(both);
}

static void test_workload_identity_rereads_file(void **state)
{
    struct config cfg;
    test_cfg_init(&cfg, &g_sim);
    test_cfg_set(&cfg.tenant_id, DEMO_TENANT);
    test_cfg_set(&cfg.client_id, CERT_APP_ID);
    char *file = path_in("federated-token"), *aud = util_printf("%s/%s/oauth2/v2.0/token", g_sim.base_url, DEMO_TENANT);
    test_cfg_set(&cfg.federated_token_file, file);
    write_federated_token(file, aud);
    struct http_client *http = http_client_new(NULL, NULL);
    util_error err;
    struct auth_credential *a = auth_credential_new(&cfg, http, &err);
    assert_non_null(a);
    assert_string_equal(auth_credential_name(a), "WorkloadIdentityCredential");
    const char *t;
    assert_int_equal(auth_get_token(a, ARM_SCOPE, 0, &t, &err), 0);
    assert_arm_accepts(t);
    /* the platform rotates the file: the next token request must send the new content (the
     * simulator refuses a reused assertion, so success proves the file was read again) */
    write_federated_token(file, aud);
    assert_int_equal(auth_get_token(a, ARM_SCOPE, 1, &t, &err), 0);
    /* the same content again is refused by Entra (jti replay) and reported as such */
    known(t);
    assert_int_equal(auth_get_token(a, ARM_SCOPE, 1, &t, &err), UTIL_EAUTH);
    seen(err.message);
    if (!strstr(err.message, "AZURE_FEDERATED_TOKEN_FILE"))
        fail_msg("unexpected error: %s", err.message);
    auth_credential_free(a);
    http_client_free(http);
    free(file);
    free(aud);
    config_free(&cfg);
}

static void test_managed_identity(void **state)
{
    struct config cfg;
    test_cfg_init(&cfg, &g_sim);
    char *ep = util_printf("%s/msi/token", g_sim.base_url), *tok;
    test_cfg_set(&cfg.identity_endpoint, ep);
    test_cfg_set(&cfg.identity_header, DEMO_IDENTITY_HEADER);
    assert_int_equal(get_token(&cfg, &tok, NULL), 0);
    assert_arm_accepts(tok);
    free(tok);
    /* a user-assigned identity named by AZURE_CLIENT_ID */
    test_cfg_set(&cfg.client_id, "bbbbbbbb-0000-0000-0000-000000000001");
    assert_int_equal(get_token(&cfg, &tok, NULL), 0);
    free(tok);
    json_t *log = sim_get_json(&g_sim, "/_sim/requests");
    char *text = json_dumps(log, 0);
    assert_non_null(strstr(text, "client_id=bbbbbbbb-0000-0000-0000-000000000001"));
    free(text);
    json_decref(log);
    free(cfg.client_id);
    cfg.client_id = NULL;
    test_cfg_set(&cfg.identity_header, "wrong-identity-header");
    assert_int_equal(get_token(&cfg, &tok, NULL), UTIL_EAUTH);
    assert_non_null(strstr(tok, "IDENTITY_HEADER"));
    assert_null(strstr(tok, "wrong-identity-header"));
    free(tok);
    /* IMDS (on the simulator's loopback port, never 169.254.169.254 in tests) */
    free(cfg.identity_endpoint), free(cfg.identity_header);
    cfg.identity_endpoint = cfg.identity_header = NULL;
    cfg.cred_kind = CONFIG_CRED_MANAGED_IDENTITY;
    assert_int_equal(get_token(&cfg, &tok, NULL), 0);
    assert_arm_accepts(tok);
    free(tok);
    free(ep);
    config_free(&cfg);
}

/* Service Fabric (IDENTITY_SERVER_THUMBPRINT set): api-version 2019-07-01-preview and the
 * IDENTITY_HEADER in a "secret" header, as msal-node sends them (the simulator refuses anything
 * else); over https the self-signed server certificate is accepted only with that thumbprint. */
static void test_managed_identity_service_fabric(void **state)
{
    struct config cfg;
    test_cfg_init(&cfg, &g_sim);
    char *ep = util_printf("%s/msi/token", g_sim.base_url), *tok;
    test_cfg_set(&cfg.identity_endpoint, ep);
    test_cfg_set(&cfg.identity_header, DEMO_IDENTITY_HEADER);
    test_cfg_set(&cfg.identity_server_thumbprint, "0123456789abcdef0123456789abcdef01234567");
    assert_int_equal(sim_request(&g_sim, "DELETE", "/_sim/counters", NULL, NULL), 204);
    assert_int_equal(get_token(&cfg, &tok, NULL), 0);
    assert_arm_accepts(tok);
    free(tok);
    json_t *log = sim_get_json(&g_sim, "/_sim/requests");
    char *text = json_dumps(log, 0);
    if (!strstr(text, "api-version=2019-07-01-preview"))
        fail_msg("%s", text);
    free(text);
    json_decref(log);

    /* https with a self-signed certificate (openssl s_server): pinned by its SHA-1 thumbprint */
    char *cmd = util_printf("cd %s && (openssl s_server -accept 127.0.0.1:0 -cert cert.pem -key key.pem -www "
                            "> sserver.out 2>&1 & echo $! > sserver.pid) && openssl x509 -in cert.pem -noout "
                            "-fingerprint -sha1 | sed 's/.*=//; s/://g' | tr -d '\\n' > thumb.txt; "
                            "for i in $(seq 50); do grep -q ACCEPT sserver.out && break; sleep 0.1; done", g_dir);
    assert_int_equal(run(cmd), 0);
    free(cmd);
    char *out_path = path_in("sserver.out"), *thumb_path = path_in("thumb.txt"), *out = NULL, *thumb = NULL;
    util_error err;
    assert_int_equal(util_read_file(out_path, 65536, &out, NULL, &err), 0);
    assert_int_equal(util_read_file(thumb_path, 65536, &thumb, NULL, &err), 0);
    const char *port = strstr(out, "127.0.0.1:");
    assert_non_null(port);
    char *https = util_printf("https://127.0.0.1:%d/msi/token", atoi(port + 10));
    test_cfg_set(&cfg.identity_endpoint, https);
    test_cfg_set(&cfg.identity_server_thumbprint, thumb);
    /* the pin holds: the TLS handshake passes and the server's (non-token) answer is judged */
    assert_int_not_equal(get_token(&cfg, &tok, NULL), 0);
    if (!strstr(tok, "answered without an access_token"))
        fail_msg("pinned certificate refused: %s", tok);
    free(tok);
    /* another thumbprint: the connection is refused before anything is sent */
    test_cfg_set(&cfg.identity_server_thumbprint, "0123456789abcdef0123456789abcdef01234567");
    assert_int_not_equal(get_token(&cfg, &tok, NULL), 0);
    if (!strstr(tok, "SSL certificate verification failed"))
        fail_msg("a wrong thumbprint was accepted: %s", tok);
    free(tok);
    cmd = util_printf("kill $(cat %s/sserver.pid)", g_dir);
    run(cmd);
    free(cmd);
    free(https), free(out), free(thumb), free(out_path), free(thumb_path), free(ep);
    config_free(&cfg);
}

static void use_fake_az(void)
{
    char *p = util_printf("%s/bin:%s", g_dir, g_old_path);
    setenv("PATH", p, 1);
    free(p);
}

static void test_azure_cli(void **state)
{
    /* a real token from the simulator for the fake az to print */
    struct config cfg;
    test_cfg_init(&cfg, &g_sim);
    test_cfg_secret(&cfg, DEMO_CONTRIBUTOR_ID, DEMO_CONTRIBUTOR_SECRET);
    char *real;
    assert_int_equal(get_token(&cfg, &real, NULL), 0);
    config_free(&cfg);

    char *answer = util_printf("{\"accessToken\": \"%s\", \"expiresOn\": \"2099-01-01 00:00:00.000000\", "
                               "\"expires_on\": 4070908800, \"subscription\": \"" DEMO_SUBSCRIPTION "\", "
                               "\"tenant\": \"" DEMO_TENANT "\", \"tokenType\": \"Bearer\"}\n", real);
    char *ans_path = util_printf("%s/bin/answer.json", g_dir), *fail_path = util_printf("%s/bin/fail.txt", g_dir);
    char *args_path = util_printf("%s/bin/args", g_dir);
    write_file(ans_path, answer, 0600);
    use_fake_az();
    test_cfg_init(&cfg, &g_sim);
    cfg.cred_kind = CONFIG_CRED_AZURE_CLI;
    char *tok, *args = NULL;
    util_error err;
    assert_int_equal(get_token(&cfg, &tok, NULL), 0);
    assert_string_equal(tok, real);
    free(tok);
    assert_int_equal(util_read_file(args_path, 4096, &args, NULL, &err), 0);
    assert_non_null(strstr(args, "account get-access-token"));
    assert_non_null(strstr(args, "--resource https://management.azure.com"));
    free(args);

    /* the default chain with nothing configured: IMDS does not answer (a closed loopback
     * port), so the Azure CLI is used */
    struct sim_process dead;
    assert_int_equal(sim_start(&dead, NULL), 0);
    test_cfg_set(&cfg.imds_endpoint, dead.base_url);
    assert_int_equal(sim_stop(&dead), 0);
    cfg.cred_kind = CONFIG_CRED_AUTO;
    unsigned long n = 0;
    assert_int_equal(get_token(&cfg, &tok, &n), 0);
    assert_string_equal(tok, real);
    assert_int_equal(n, 2); /* one IMDS probe, one az run */
    free(tok);
    cfg.cred_kind = CONFIG_CRED_AZURE_CLI;

    write_file(fail_path, "ERROR: Please run 'az login' to setup account.\n", 0600);
    assert_int_equal(get_token(&cfg, &tok, NULL), UTIL_EAUTH);
    assert_non_null(strstr(tok, "not logged in"));
    assert_non_null(strstr(tok, "az login"));
    free(tok);
    cfg.cred_kind = CONFIG_CRED_AUTO; /* the whole chain fails: both reasons are given */
    assert_int_equal(get_token(&cfg, &tok, NULL), UTIL_EAUTH);
    assert_non_null(strstr(tok, "no managed identity answered"));
    assert_non_null(strstr(tok, "not logged in"));
    free(tok);
    cfg.cred_kind = CONFIG_CRED_AZURE_CLI;
    unlink(fail_path);

    setenv("PATH", "/nonexistent-aigw-dir", 1);
    assert_int_equal(get_token(&cfg, &tok, NULL), UTIL_ECONFIG);
    assert_non_null(strstr(tok, "not found on PATH"));
    free(tok);
    setenv("PATH", g_old_path, 1);

    config_free(&cfg);
    free(real), free(answer), free(ans_path), free(fail_path), free(args_path);
}

static void test_pinned_kind_needs_settings(void **state)
{
    struct config cfg;
    test_cfg_init(&cfg, &g_sim);
    cfg.cred_kind = CONFIG_CRED_WORKLOAD_IDENTITY;
    util_error err;
    struct http_client *http = http_client_new(NULL, NULL);
    assert_null(auth_credential_new(&cfg, http, &err));
    seen(err.message);
    assert_int_equal(err.code, UTIL_ECONFIG);
    assert_non_null(strstr(err.message, "AZURE_FEDERATED_TOKEN_FILE"));
    http_client_free(http);
    config_free(&cfg);
}

/* Runs last: nothing secret reached a log line, an error message or stderr. */
static void test_secret_scan(void **state)
{
    restore_stderr();
    char *log_path = path_in("stderr.log"), *err_text = NULL;
    util_error err;
    assert_int_equal(util_read_file(log_path, 64 * 1024 * 1024, &err_text, NULL, &err), 0);
    free(log_path);
    const char *fixed[] = {DEMO_CONTRIBUTOR_SECRET, "wrong-secret-value", "whatever-secret", P12_PASSWORD,
                           "not-the-password", DEMO_IDENTITY_HEADER, "wrong-identity-header"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        known(fixed[i]);
    /* every credential kind was driven at debug level */
    const char *kinds[] = {"ClientSecretCredential", "ClientCertificateCredential", "WorkloadIdentityCredential",
                           "ManagedIdentityCredential", "AzureCliCredential"};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strstr(g_seen.data, kinds[i]))
            fail_msg("no debug line mentions %s", kinds[i]);
    assert_true(g_n_known > 10);
    for (size_t i = 0; i < g_n_known; i++) {
        if (strstr(g_seen.data, g_known[i]) || strstr(err_text, g_known[i]))
            fail_msg("secret #%zu (%zu bytes) appeared in the output", i, strlen(g_known[i]));
    }
    /* nothing JWT-shaped (tokens, assertions) either */
    assert_null(strstr(g_seen.data, "eyJ"));
    assert_null(strstr(err_text, "eyJ"));
    fputs(err_text, stderr); /* what the run logged, now that it is known to be clean */
    free(err_text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_secret_and_cache),
        cmocka_unit_test(test_header_injecting_token_is_refused),
        cmocka_unit_test(test_entra_errors_are_sentences),
        cmocka_unit_test(test_certificate_pem_and_p12),
        cmocka_unit_test(test_assertion_claims),
        cmocka_unit_test(test_workload_identity_rereads_file),
        cmocka_unit_test(test_managed_identity),
        cmocka_unit_test(test_managed_identity_service_fabric),
        cmocka_unit_test(test_azure_cli),
        cmocka_unit_test(test_pinned_kind_needs_settings),
        cmocka_unit_test(test_secret_scan),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
