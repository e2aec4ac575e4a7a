/* auth: credential selection (the SDKs' chain or AZURE_TOKEN_CREDENTIALS), the per-scope token
 * cache, the token requests to Entra ID and to managed identity endpoints, and the translation
 * of Entra errors into sentences (see include/auth.h). Certificates: auth_cert.c; az: auth_cli.c. */
#include "auth.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth_internal.h"
#include "platform.h"

#define AUTH_MAX_SCOPES 4
#define AUTH_MAX_KINDS 2
#define AUTH_TOKEN_BODY_MAX (256 * 1024)
#define AUTH_CLI_TIMEOUT_MS 30000
#define AUTH_IMDS_PROBE_MS 1000
#define AUTH_IMDS_TIMEOUT_MS 10000
#define AUTH_ATTEMPTS 3
#define AUTH_RETRY_DELAY_MS 300

enum auth_kind { AK_SECRET, AK_CERT, AK_WORKLOAD, AK_MI_APP, AK_MI_IMDS, AK_CLI };

static const char *const kind_names[] = {"ClientSecretCredential", "ClientCertificateCredential",
                                         "WorkloadIdentityCredential", "ManagedIdentityCredential",
                                         "ManagedIdentityCredential", "AzureCliCredential"};

struct cached_token {
    char *scope;
    char *token;
    int64_t expires_on; /* epoch seconds */
};

struct auth_credential {
    const struct config *cfg;
    struct http_client *http;
    int kinds[AUTH_MAX_KINDS]; /* tried in order until one is available; then it is kept */
    size_t n_kinds;
    struct cached_token cache[AUTH_MAX_SCOPES];
    unsigned long token_requests;
    /* Threads: `lock` guards the cache, the kinds and the counter, and is held while a token is
     * fetched (one request however many calls need it at once). A replaced token is kept in
     * `retired` until the credential is freed, so a token another thread borrowed stays valid. */
    pthread_mutex_t lock;
    char **retired;
    size_t n_retired;
};

/* ---- selection ------------------------------------------------------------------------ */

static int has(const char *s) { return s && *s; }

static int env_kind(const struct config *c)
{
    if (has(c->tenant_id) && has(c->client_id) && has(c->client_secret))
        return AK_SECRET;
    if (has(c->tenant_id) && has(c->client_id) && has(c->cert_path))
        return AK_CERT;
    return -1;
}

/* The first configured production credential, or -1 (then IMDS is the managed identity). */
static int configured_kind(const struct config *c)
{
    int k = env_kind(c);
    if (k >= 0)
        return k;
    if (has(c->tenant_id) && has(c->client_id) && has(c->federated_token_file))
        return AK_WORKLOAD;
    if (has(c->identity_endpoint) && has(c->identity_header))
        return AK_MI_APP;
    return -1;
}

static int pinned_missing(util_error *err, const char *kind, const char *needs)
{
    return util_error_set(err, UTIL_ECONFIG, "AZURE_TOKEN_CREDENTIALS selects %s, which needs %s; set them or "
                          "choose another credential", kind, needs);
}

static int select_kinds(struct auth_credential *a, util_error *err)
{
    const struct config *c = a->cfg;
    int k = configured_kind(c);
    switch (c->cred_kind) {
    case CONFIG_CRED_CLIENT_SECRET:
        if (env_kind(c) != AK_SECRET)
            return pinned_missing(err, "a client secret", "AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET");
        a->kinds[a->n_kinds++] = AK_SECRET;
        return 0;
    case CONFIG_CRED_CLIENT_CERTIFICATE:
        if (!has(c->tenant_id) || !has(c->client_id) || !has(c->cert_path))
            return pinned_missing(err, "a client certificate",
                                  "AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_CERTIFICATE_PATH");
        a->kinds[a->n_kinds++] = AK_CERT;
        return 0;
    case CONFIG_CRED_ENVIRONMENT:
        if (env_kind(c) < 0)
            return pinned_missing(err, "EnvironmentCredential",
                                  "AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET or "
                                  "AZURE_CLIENT_CERTIFICATE_PATH");
        a->kinds[a->n_kinds++] = env_kind(c);
        return 0;
    case CONFIG_CRED_WORKLOAD_IDENTITY:
        if (!has(c->tenant_id) || !has(c->client_id) || !has(c->federated_token_file))
            return pinned_missing(err, "WorkloadIdentityCredential",
                                  "AZURE_FEDERATED_TOKEN_FILE with AZURE_TENANT_ID and AZURE_CLIENT_ID");
        a->kinds[a->n_kinds++] = AK_WORKLOAD;
        return 0;
    case CONFIG_CRED_MANAGED_IDENTITY:
        a->kinds[a->n_kinds++] = has(c->identity_endpoint) && has(c->identity_header) ? AK_MI_APP : AK_MI_IMDS;
        return 0;
    case CONFIG_CRED_AZURE_CLI:
    case CONFIG_CRED_DEV:
        a->kinds[a->n_kinds++] = AK_CLI;
        return 0;
    case CONFIG_CRED_PROD:
        a->kinds[a->n_kinds++] = k >= 0 ? k : AK_MI_IMDS;
        return 0;
    default: /* the default chain: a configured credential is the one; else IMDS, then az */
        if (k >= 0) {
            a->kinds[a->n_kinds++] = k;
        } else {
            a->kinds[a->n_kinds++] = AK_MI_IMDS;
            a->kinds[a->n_kinds++] = AK_CLI;
        }
        return 0;
    }
}

struct auth_credential *auth_credential_new(const struct config *cfg, struct http_client *http, util_error *err)
{
    struct auth_credential *a = calloc(1, sizeof *a);
    if (!a) {
        util_error_set(err, UTIL_ENOMEM, "out of memory creating the credential");
        return NULL;
    }
    a->cfg = cfg;
    a->http = http;
    if (select_kinds(a, err) != 0) {
        free(a);
        return NULL;
    }
    pthread_mutex_init(&a->lock, NULL);
    util_log_add_secret(cfg->client_secret);
    util_log_add_secret(cfg->cert_password);
    util_log_add_secret(cfg->identity_header);
    LOG_DEBUG("auth", "credential: %s%s", kind_names[a->kinds[0]], a->n_kinds > 1 ? " then AzureCliCredential" : "");
    return a;
}

void auth_credential_free(struct auth_credential *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < AUTH_MAX_SCOPES; i++) {
        free(a->cache[i].scope);
        free(a->cache[i].token);
    }
    for (size_t i = 0; i < a->n_retired; i++)
        free(a->retired[i]);
    free(a->retired);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

const char *auth_credential_name(const struct auth_credential *a)
{
    pthread_mutex_lock((pthread_mutex_t *)&a->lock);
    const char *name = kind_names[a->kinds[0]];
    pthread_mutex_unlock((pthread_mutex_t *)&a->lock);
    return name;
}

unsigned long auth_token_requests(const struct auth_credential *a)
{
    pthread_mutex_lock((pthread_mutex_t *)&a->lock);
    unsigned long n = a->token_requests;
    pthread_mutex_unlock((pthread_mutex_t *)&a->lock);
    return n;
}

/* Keeps a replaced string alive until the credential is freed (another thread may hold it). */
static void retire(struct auth_credential *a, char *s)
{
    if (!s)
        return;
    char **r = realloc(a->retired, (a->n_retired + 1) * sizeof *r);
    if (!r)
        abort();
    a->retired = r;
    a->retired[a->n_retired++] = s;
}

void auth_credential_describe(const struct auth_credential *a, char *out, size_t n)
{
    const struct config *c = a->cfg;
    switch (a->kinds[0]) {
    case AK_SECRET:
        snprintf(out, n, "client secret of app %s in tenant %s (AZURE_CLIENT_SECRET)", c->client_id, c->tenant_id);
        break;
    case AK_CERT:
        snprintf(out, n, "certificate %s of app %s in tenant %s", c->cert_path, c->client_id, c->tenant_id);
        break;
    case AK_WORKLOAD:
        snprintf(out, n, "workload identity of app %s in tenant %s (token file %s)", c->client_id, c->tenant_id,
                 c->federated_token_file);
        break;
    case AK_MI_APP:
        snprintf(out, n, has(c->identity_server_thumbprint)
                             ? "managed identity through Service Fabric's IDENTITY_ENDPOINT (certificate pinned by "
                               "IDENTITY_SERVER_THUMBPRINT)"
                             : "managed identity through IDENTITY_ENDPOINT");
        break;
    case AK_MI_IMDS:
        snprintf(out, n, "managed identity through the instance metadata service%s",
                 a->n_kinds > 1 ? " (else the Azure CLI login)" : "");
        break;
    default:
        snprintf(out, n, "the Azure CLI login (az account get-access-token)");
        break;
    }
}

/* ---- Entra errors --------------------------------------------------------------------- */

static long aadsts_code(json_t *body)
{
    json_t *codes = json_object_get(body, "error_codes");
    if (json_is_array(codes) && json_is_integer(json_array_get(codes, 0)))
        return (long)json_integer_value(json_array_get(codes, 0));
    const char *d = json_string_value(json_object_get(body, "error_description"));
    const char *p = d ? strstr(d, "AADSTS") : NULL;
    return p ? strtol(p + 6, NULL, 10) : 0;
}

/* The first line of Entra's description, without its "AADSTSnnn: " lead (the code is quoted
 * separately) nor its trace and correlation ids. */
static void first_line(const char *d, char *out, size_t n)
{
    if (d && util_str_starts_with(d, "AADSTS")) {
        const char *p = d + 6;
        while (*p >= '0' && *p <= '9')
            p++;
        if (p[0] == ':' && p[1] == ' ')
            d = p + 2;
    }
    size_t len = d ? strcspn(d, "\r\n") : 0;
    const char *trace = d ? strstr(d, " Trace ID") : NULL;
    if (trace && (size_t)(trace - d) < len)
        len = (size_t)(trace - d);
    snprintf(out, n, "%.*s", (int)len, d ? d : "");
}

/* kind: the credential that asked (assertion rejections read differently for a certificate
 * and for a federated token). */
static int entra_error(const struct auth_credential *a, int kind, long status, const char *text, util_error *err)
{
    const struct config *c = a->cfg;
    json_t *body = json_loads(text ? text : "", 0, NULL);
    long code = aadsts_code(body);
    char desc[400];
    first_line(json_string_value(json_object_get(body, "error_description")), desc, sizeof desc);
    const char *oauth_error = json_string_value(json_object_get(body, "error"));
    int rc = UTIL_EAUTH;
    switch (code) {
    case 7000215:
        util_error_set(err, rc, "the client secret for AZURE_CLIENT_ID %s was rejected (AADSTS7000215); create a new "
                       "one under the app registration's Certificates & secrets and set AZURE_CLIENT_SECRET to its "
                       "value (not its id)", c->client_id);
        break;
    case 7000222:
        util_error_set(err, rc, "the client secret for AZURE_CLIENT_ID %s has expired (AADSTS7000222); create a new "
                       "one and set AZURE_CLIENT_SECRET", c->client_id);
        break;
    case 700016:
        util_error_set(err, rc, "no application with AZURE_CLIENT_ID %s exists in tenant %s (AADSTS700016); check "
                       "AZURE_CLIENT_ID and AZURE_TENANT_ID, or ask an administrator to add the app to this tenant",
                       c->client_id, c->tenant_id);
        break;
    case 90002:
    case 90023:
        util_error_set(err, rc, "tenant %s was not found (AADSTS%ld); check AZURE_TENANT_ID and, for a sovereign "
                       "cloud, AZURE_CLOUD or AZURE_AUTHORITY_HOST", c->tenant_id, code);
        break;
    case 65001:
        util_error_set(err, rc, "app %s has not been granted consent in tenant %s (AADSTS65001); an administrator "
                       "must grant admin consent to the app registration", c->client_id, c->tenant_id);
        break;
    case 700027:
        if (kind == AK_WORKLOAD) {
            util_error_set(err, rc, "Entra ID rejected the federated token in AZURE_FEDERATED_TOKEN_FILE for app %s "
                           "(AADSTS700027: %s); check the app's federated identity credential and that the file "
                           "is current", c->client_id, desc);
            break;
        }
        util_error_set(err, rc, "the certificate in AZURE_CLIENT_CERTIFICATE_PATH is not registered on app %s "
                       "(AADSTS700027); upload its public certificate under the app registration's Certificates "
                       "& secrets", c->client_id);
        break;
    case 700024:
        util_error_set(err, rc, "the federated token in AZURE_FEDERATED_TOKEN_FILE is expired or not yet valid "
                       "(AADSTS700024); check that the platform keeps the file refreshed");
        break;
    case 70021:
        util_error_set(err, rc, "no federated identity credential of app %s matches the token in "
                       "AZURE_FEDERATED_TOKEN_FILE (AADSTS70021); add one with this issuer and subject",
                       c->client_id);
        break;
    default:
        rc = status >= 500 || status == 429 ? UTIL_EREMOTE : UTIL_EAUTH;
        char codebuf[32] = "";
        if (code)
            snprintf(codebuf, sizeof codebuf, ", AADSTS%ld", code);
        util_error_set(err, rc, "Entra ID refused the token request (HTTP %ld%s%s%s)%s%s; check AZURE_TENANT_ID, "
                       "AZURE_CLIENT_ID and the credential", status, oauth_error ? ", " : "", oauth_error ? oauth_error : "", codebuf,
                       desc[0] ? ": " : "", desc);
        break;
    }
    json_decref(body);
    if (err)
        err->http_status = (int)status;
    return rc;
}

/* ---- token endpoint answers ----------------------------------------------------------- */

static int64_t json_epoch(json_t *v)
{
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_string(v))
        return strtoll(json_string_value(v), NULL, 10);
    return 0;
}

/* Parses {access_token, expires_in | expires_on}. */
static int parse_token(const char *text, const char *who, char **token, int64_t *expires_on, util_error *err)
{
    json_t *body = json_loads(text ? text : "", 0, NULL);
    const char *t = json_string_value(json_object_get(body, "access_token"));
    int64_t on = json_epoch(json_object_get(body, "expires_on"));
    int64_t in = json_epoch(json_object_get(body, "expires_in"));
    int rc = 0;
    if (!t || (!on && !in)) {
        rc = util_error_set(err, UTIL_EREMOTE, "%s answered without an access_token and expiry; is the endpoint "
                            "right?", who);
    } else {
        util_log_add_token(t);
        *token = util_strdup(t);
        *expires_on = on ? on : util_now_ms() / 1000 + in;
    }
    json_decref(body);
    return rc;
}

/* Sends a token request, retrying a transient failure (429, 5xx and, when retry_network, a
 * network error) up to AUTH_ATTEMPTS times in all, as the SDKs do. */
static int send_token_request(struct auth_credential *a, const struct http_request *req, struct http_response *resp,
                              int retry_network, util_error *err)
{
    for (int attempt = 1;; attempt++) {
        a->token_requests++;
        int rc = http_perform(a->http, req, resp, err);
        int transient = rc == UTIL_ENET ? retry_network : rc == 0 && (resp->status == 429 || resp->status >= 500);
        if (!transient || attempt == AUTH_ATTEMPTS || http_client_cancelled(a->http))
            return rc;
        LOG_DEBUG("auth", "token request failed (%s); trying again", rc ? "network" : "server busy");
        http_response_free(resp);
        platform_sleep_ms((int64_t)AUTH_RETRY_DELAY_MS * attempt);
    }
}

static int post_form(struct auth_credential *a, int kind, const char *form, char **token, int64_t *expires_on,
                     util_error *err)
{
    const struct config *c = a->cfg;
    char *url = util_printf("%s/%s/oauth2/v2.0/token", c->authority_host, c->tenant_id);
    struct http_request req = {.method = "POST", .url = url, .body = form, .body_len = strlen(form),
                               .headers = {"Content-Type: application/x-www-form-urlencoded",
                                           "Accept: application/json"},
                               .max_body = AUTH_TOKEN_BODY_MAX};
    struct http_response resp;
    int rc = send_token_request(a, &req, &resp, 1, err);
    if (rc == 0 && resp.status == 200)
        rc = parse_token(resp.body.data, "Entra ID", token, expires_on, err);
    else if (rc == 0)
        rc = entra_error(a, kind, resp.status, resp.body.data, err);
    else
        util_error_prefix(err, "cannot reach Entra ID at %s (AZURE_AUTHORITY_HOST)", c->authority_host);
    http_response_free(&resp);
    free(url);
    return rc;
}

static char *form_base(const struct config *c, const char *scope)
{
    char *id = util_url_encode(c->client_id), *sc = util_url_encode(scope);
    char *f = util_printf("grant_type=client_credentials&client_id=%s&scope=%s", id, sc);
    free(id);
    free(sc);
    return f;
}

static int token_secret(struct auth_credential *a, const char *scope, char **token, int64_t *exp, util_error *err)
{
    char *base = form_base(a->cfg, scope), *sec = util_url_encode(a->cfg->client_secret);
    util_log_add_secret(sec);
    char *form = util_printf("%s&client_secret=%s", base, sec);
    int rc = post_form(a, AK_SECRET, form, token, exp, err);
    free(base), free(sec), free(form);
    return rc;
}

static int token_assertion(struct auth_credential *a, int kind, const char *scope, const char *assertion,
                           char **token, int64_t *exp, util_error *err)
{
    char *base = form_base(a->cfg, scope), *as = util_url_encode(assertion);
    char *form = util_printf("%s&client_assertion_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Aclient-assertion-type%%3A"
                             "jwt-bearer&client_assertion=%s", base, as);
    int rc = post_form(a, kind, form, token, exp, err);
    free(base), free(as), free(form);
    return rc;
}

static int token_cert(struct auth_credential *a, const char *scope, char **token, int64_t *exp, util_error *err)
{
    const struct config *c = a->cfg;
    char *aud = util_printf("%s/%s/oauth2/v2.0/token", c->authority_host, c->tenant_id);
    char *assertion = NULL;
    int rc = auth_cert_assertion(c->cert_path, c->cert_password, c->client_id, aud, &assertion, err);
    if (rc == 0)
        rc = token_assertion(a, AK_CERT, scope, assertion, token, exp, err);
    free(aud);
    free(assertion);
    return rc;
}

static int token_workload(struct auth_credential *a, const char *scope, char **token, int64_t *exp, util_error *err)
{
    char *text = NULL;
    size_t len = 0;
    /* re-read every time: the platform rotates the file */
    int rc = util_read_file(a->cfg->federated_token_file, AUTH_FILE_MAX, &text, &len, err);
    if (rc) {
        util_error_prefix(err, "AZURE_FEDERATED_TOKEN_FILE");
        return rc;
    }
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
        text[--len] = '\0';
    util_log_add_token(text);
    if (len == 0)
        rc = util_error_set(err, UTIL_ECONFIG, "AZURE_FEDERATED_TOKEN_FILE %s is empty; it must hold the "
                            "platform's federated token", a->cfg->federated_token_file);
    else
        rc = token_assertion(a, AK_WORKLOAD, scope, text, token, exp, err);
    free(text);
    return rc;
}

/* The resource of a scope: "https://management.azure.com/.default" -> "https://management.azure.com". */
static char *scope_resource(const char *scope)
{
    size_t n = strlen(scope);
    if (util_str_ends_with(scope, "/.default"))
        n -= strlen("/.default");
    return util_strndup(scope, n);
}

static int token_mi(struct auth_credential *a, int kind, const char *scope, char **token, int64_t *exp,
                    util_error *err)
{
    const struct config *c = a->cfg;
    char *res = scope_resource(scope), *enc = util_url_encode(res);
    /* a user-assigned identity is chosen by AZURE_CLIENT_ID, as the SDKs do */
    char *id = has(c->client_id) ? util_url_encode(c->client_id) : NULL;
    char *q = util_printf("resource=%s%s%s", enc, id ? "&client_id=" : "", id ? id : "");
    char *hdr = NULL, *url;
    struct http_request req = {.method = "GET", .max_body = AUTH_TOKEN_BODY_MAX};
    if (kind == AK_MI_APP && has(c->identity_server_thumbprint)) {
        /* Service Fabric, as msal-node's ServiceFabric source: api-version 2019-07-01-preview, the
         * IDENTITY_HEADER in a "secret" header, and a self-signed server certificate pinned by
         * IDENTITY_SERVER_THUMBPRINT */
        url = util_printf("%s?api-version=2019-07-01-preview&%s", c->identity_endpoint, q);
        hdr = util_printf("secret: %s", c->identity_header);
        req.headers[0] = hdr;
        req.tls_setup = auth_tls_pin_thumbprint;
        req.tls_user = c->identity_server_thumbprint;
    } else if (kind == AK_MI_APP) {
        url = util_printf("%s?api-version=2019-08-01&%s", c->identity_endpoint, q);
        hdr = util_printf("X-IDENTITY-HEADER: %s", c->identity_header);
        req.headers[0] = hdr;
    } else {
        url = util_printf("%s/metadata/identity/oauth2/token?api-version=2018-02-01&%s",
                          has(c->imds_endpoint) ? c->imds_endpoint : "http://169.254.169.254", q);
        req.headers[0] = "Metadata: true";
        req.allow_imds = 1;
        req.connect_timeout_ms = AUTH_IMDS_PROBE_MS;
        req.timeout_ms = AUTH_IMDS_TIMEOUT_MS;
    }
    req.url = url;
    const char *who = kind == AK_MI_APP ? "the managed identity endpoint (IDENTITY_ENDPOINT)"
                                        : "the instance metadata service (IMDS)";
    struct http_response resp;
    /* an IMDS that does not answer is "no managed identity here": no retry, the chain moves on */
    int rc = send_token_request(a, &req, &resp, kind == AK_MI_APP, err);
    if (rc == 0 && resp.status == 200) {
        rc = parse_token(resp.body.data, who, token, exp, err);
    } else if (rc == 0) {
        json_t *b = json_loads(resp.body.data ? resp.body.data : "", 0, NULL);
        json_t *e = json_object_get(b, "error");
        const char *msg = json_string_value(json_is_object(e) ? json_object_get(e, "message")
                                                              : json_object_get(b, "error_description"));
        rc = util_error_set(err, UTIL_EAUTH, "%s refused the token request (HTTP %ld)%s%s; check that a managed "
                            "identity is assigned to this resource%s", who, resp.status, msg ? ": " : "",
                            msg ? msg : "", kind == AK_MI_APP ? " and IDENTITY_HEADER is current" : "");
        json_decref(b);
    } else {
        util_error_prefix(err, "cannot reach %s", who);
    }
    http_response_free(&resp);
    free(res), free(enc), free(id), free(q), free(hdr), free(url);
    return rc;
}

static int fetch(struct auth_credential *a, int kind, const char *scope, char **token, int64_t *exp,
                 util_error *err)
{
    LOG_DEBUG("auth", "requesting a token for %s with %s", scope, kind_names[kind]);
    switch (kind) {
    case AK_SECRET: return token_secret(a, scope, token, exp, err);
    case AK_CERT: return token_cert(a, scope, token, exp, err);
    case AK_WORKLOAD: return token_workload(a, scope, token, exp, err);
    case AK_MI_APP:
    case AK_MI_IMDS: return token_mi(a, kind, scope, token, exp, err);
    default: {
        char *res = scope_resource(scope);
        a->token_requests++;
        int rc = auth_cli_token(res, a->cfg->tenant_id, AUTH_CLI_TIMEOUT_MS, token, exp, err);
        free(res);
        return rc;
    }
    }
}

/* Tries the chain: with nothing configured, a managed identity that does not answer (no IMDS
 * here, or no identity assigned) passes to the Azure CLI; the first that gives a token is kept
 * for the process's life, as the SDKs do. */
static int fetch_chain(struct auth_credential *a, const char *scope, char **token, int64_t *exp, util_error *err)
{
    int rc = fetch(a, a->kinds[0], scope, token, exp, err);
    if (rc != 0 && rc != UTIL_ECANCELLED && a->n_kinds > 1) {
        LOG_DEBUG("auth", "no managed identity answered (%s); trying the Azure CLI", err ? err->message : "");
        util_error_clear(err);
        rc = fetch(a, a->kinds[1], scope, token, exp, err);
        if (rc == 0)
            a->kinds[0] = a->kinds[1];
        else
            util_error_prefix(err, "no credential is configured (AZURE_CLIENT_ID with AZURE_CLIENT_SECRET, "
                                   "AZURE_CLIENT_CERTIFICATE_PATH or AZURE_FEDERATED_TOKEN_FILE), no managed "
                                   "identity answered, and the Azure CLI gave no token");
    }
    if (rc == 0)
        a->n_kinds = 1;
    return rc;
}

static struct cached_token *slot_for(struct auth_credential *a, const char *scope)
{
    for (size_t i = 0; i < AUTH_MAX_SCOPES; i++)
        if (a->cache[i].scope && strcmp(a->cache[i].scope, scope) == 0)
            return &a->cache[i];
    for (size_t i = 0; i < AUTH_MAX_SCOPES; i++)
        if (!a->cache[i].scope) {
            a->cache[i].scope = util_strdup(scope);
            return &a->cache[i];
        }
    return &a->cache[0]; /* more scopes than slots: reuse the first */
}

int auth_check_token(const char *token, const char *who, util_error *err)
{
    size_t n = token ? strlen(token) : 0;
    for (size_t i = 0; i < n && n <= 16384; i++)
        if (token[i] < 0x21 || token[i] > 0x7e)
            return util_error_set(err, UTIL_EAUTH, "%s returned an access token containing a space or control "
                                  "character (at byte %zu); it was refused so it cannot inject request headers",
                                  who, i);
    if (n == 0 || n > 16384)
        return util_error_set(err, UTIL_EAUTH, "%s returned an access token of %zu bytes; expected 1 to 16384",
                              who, n);
    return 0;
}

static int get_token_locked(struct auth_credential *a, const char *scope, int force_refresh, const char **token,
                            util_error *err)
{
    struct cached_token *s = slot_for(a, scope);
    int64_t now = util_now_ms() / 1000;
    if (!force_refresh && s->token && strcmp(s->scope, scope) == 0 && now < s->expires_on - AUTH_REFRESH_MARGIN_SEC) {
        *token = s->token;
        return 0;
    }
    char *fresh = NULL;
    int64_t exp = 0;
    int rc = fetch_chain(a, scope, &fresh, &exp, err);
    if (rc == 0 && (rc = auth_check_token(fresh, kind_names[a->kinds[0]], err)) != 0)
        free(fresh);
    if (rc)
        return rc;
    retire(a, s->token);
    if (strcmp(s->scope, scope) != 0) {
        retire(a, s->scope);
        s->scope = util_strdup(scope);
    }
    s->token = fresh;
    s->expires_on = exp;
    LOG_DEBUG("auth", "got a token for %s from %s, valid for %lld s", scope, kind_names[a->kinds[0]],
              (long long)(exp - now));
    *token = s->token;
    return 0;
}

int auth_get_token(struct auth_credential *a, const char *scope, int force_refresh, const char **token,
                   util_error *err)
{
    pthread_mutex_lock(&a->lock);
    int rc = get_token_locked(a, scope, force_refresh, token, err);
    pthread_mutex_unlock(&a->lock);
    return rc;
}
