/* entra.c: the Entra ID v2.0 token endpoint (client_credentials with client_secret or a
 * certificate client_assertion, real AADSTS error bodies) and the managed-identity endpoints
 * (App Service IDENTITY_ENDPOINT style and IMDS style). Tokens are HS256 JWTs signed with the
 * simulator's random key. */
#include "sim.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORM_MAX 65536
#define JTI_MAX 10000

static const char *const valid_scopes[] = {
    "https://management.azure.com/.default",      "https://management.azure.com//.default",
    "https://management.core.windows.net/.default", "https://management.core.windows.net//.default",
    "https://management.usgovcloudapi.net/.default", "https://management.chinacloudapi.cn/.default",
    "https://api.loganalytics.io/.default",        "https://api.loganalytics.us/.default",
    "https://api.loganalytics.azure.cn/.default",  NULL};

static const char *const valid_resources[] = {
    "https://management.azure.com/",     "https://management.azure.com",    "https://management.core.windows.net/",
    "https://management.usgovcloudapi.net/", "https://management.chinacloudapi.cn/", "https://api.loganalytics.io",
    "https://api.loganalytics.us", "https://api.loganalytics.azure.cn", NULL};

/* Parses an application/x-www-form-urlencoded body into an object (new reference). */
static json_t *parse_form(const char *body)
{
    json_t *form = json_object();
    char *copy = util_strndup(body, strnlen(body, FORM_MAX));
    char *save = NULL;
    for (char *pair = strtok_r(copy, "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(pair, '=');
        if (!eq)
            continue;
        *eq = '\0';
        for (char *p = eq + 1; *p; p++)
            *p = *p == '+' ? ' ' : *p;
        MHD_http_unescape(pair);
        MHD_http_unescape(eq + 1);
        json_object_set_new(form, pair, json_string(eq + 1));
    }
    free(copy);
    return form;
}

static void aad_error(sim_response *resp, int status, const char *error, int code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void aad_error(sim_response *resp, int status, const char *error, int code, const char *fmt, ...)
{
    char msg[768], ts[32], trace[37], corr[37];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    util_uuid4(trace);
    util_uuid4(corr);
    util_time_iso8601(util_now_ms() / 1000, ts, sizeof(ts));
    ts[10] = ' ';
    char *desc = util_printf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s", code, msg, trace, corr, ts);
    char *uri = util_printf("https://login.microsoftonline.com/error?code=%d", code);
    sim_response_json(resp, status,
                      json_pack("{s:s,s:s,s:[i],s:s,s:s,s:s,s:s}", "error", error, "error_description", desc,
                                "error_codes", code, "timestamp", ts, "trace_id", trace, "correlation_id", corr,
                                "error_uri", uri));
    free(desc);
    free(uri);
}

/* Issues an access token for a principal (lock held): fills *token (new string) and returns
 * its lifetime in seconds. */
static int issue(sim_state *st, const char *tenant, const char *appid, const char *oid, const char *resource,
                 char **token)
{
    int64_t now = sim_now_s(st);
    int lifetime = st->opt.token_lifetime;
    char serial[32], tenant_iss[160];
    snprintf(serial, sizeof(serial), "%lld", (long long)++st->token_serial);
    snprintf(tenant_iss, sizeof(tenant_iss), "https://sts.windows.net/%s/", tenant);
    json_t *payload = json_pack("{s:s,s:s,s:I,s:I,s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "aud", resource, "iss", tenant_iss,
                                "iat", (json_int_t)now, "nbf", (json_int_t)now, "exp", (json_int_t)(now + lifetime),
                                "appid", appid, "oid", oid, "sub", oid, "tid", tenant, "uti", serial, "ver", "1.0",
                                "idtyp", "app");
    *token = sim_jwt_sign_hs256(payload, st->sign_key, sizeof(st->sign_key));
    json_decref(payload);
    return lifetime;
}

/* Records a used assertion jti until its exp; past JTI_MAX entries, expired ones are dropped. */
static void remember_jti(sim_state *st, const char *jti, json_int_t exp)
{
    if (json_object_size(st->jtis) >= JTI_MAX) {
        const char *key;
        json_t *v;
        void *tmp;
        json_int_t now = sim_now_s(st);
        json_object_foreach_safe(st->jtis, tmp, key, v)
            if (json_integer_value(v) <= now)
                json_object_del(st->jtis, key);
    }
    json_object_set_new(st->jtis, jti, json_integer(exp));
}

/* Checks the client's credential (secret or assertion). Returns 0 or fills resp. */
static int check_credential(sim_state *st, json_t *form, json_t *client, const char *tenant, const char *client_id,
                            sim_response *resp)
{
    const char *secret = json_string_value(json_object_get(form, "client_secret"));
    const char *assertion = json_string_value(json_object_get(form, "client_assertion"));
    if (secret) {
        util_log_add_secret(secret);
        const char *want = json_string_value(json_object_get(client, "secret"));
        if (want && strcmp(want, secret) == 0)
            return 0;
        aad_error(resp, 401, "invalid_client", 7000215,
                  "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
                  "value, not the client secret ID, for a secret added to app '%s'.", client_id);
        return -1;
    }
    if (!assertion) {
        aad_error(resp, 401, "invalid_client", 7000218,
                  "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
        return -1;
    }
    /* the assertion is JWT-shaped: util_log_scrub removes it without registering it */
    const char *atype = json_string_value(json_object_get(form, "client_assertion_type"));
    if (!atype || strcmp(atype, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") != 0) {
        aad_error(resp, 400, "invalid_request", 50027,
                  "client_assertion_type must be 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.");
        return -1;
    }
    sim_jwt jwt;
    util_error err = {0};
    const char *pem = json_string_value(json_object_get(client, "certificate_pem"));
    int rc = sim_jwt_parse(assertion, &jwt, &err);
    if (rc != 0) {
        aad_error(resp, 400, "invalid_request", 50027, "JWT token is invalid or malformed: %s.", err.message);
        return -1;
    }
    int code = 700027;
    const char *lead = "Client assertion failed signature validation.";
    if (!pem)
        rc = util_error_set(&err, UTIL_EAUTH, "no certificate is registered for app '%s'", client_id);
    if (rc == 0)
        rc = sim_jwt_verify_cert(&jwt, pem, &err);
    if (rc == 0) {
        rc = sim_jwt_check_assertion_claims(&jwt, tenant, client_id, sim_now_s(st), &err);
        if (rc != 0 && strstr(err.message, "'iss'")) {
            code = 700021;
            lead = "Client assertion application identifier doesn't match 'client_id' parameter.";
        } else if (rc == UTIL_EAUTH) {
            code = 700024;
            lead = "Client assertion is not within its valid time range.";
        } else if (rc != 0) {
            lead = "Client assertion contains an invalid claim.";
        }
    }
    const char *jti = json_string_value(json_object_get(jwt.payload, "jti"));
    if (rc == 0 && json_object_get(st->jtis, jti)) {
        rc = util_error_set(&err, UTIL_EAUTH, "the client assertion jti '%s' was already used", jti);
        lead = "Client assertion is a replay of an earlier one.";
    }
    if (rc == 0)
        remember_jti(st, jti, json_integer_value(json_object_get(jwt.payload, "exp")));
    sim_jwt_free(&jwt);
    if (rc != 0)
        aad_error(resp, 401, "invalid_client", code, "%s Detail: %s.", lead, err.message);
    return rc == 0 ? 0 : -1;
}

static void token_endpoint(sim_state *st, const sim_request *req, const char *tenant, sim_response *resp)
{
    json_t *form = parse_form(req->body);
    const char *grant = json_string_value(json_object_get(form, "grant_type"));
    const char *scope = json_string_value(json_object_get(form, "scope"));
    const char *client_id = json_string_value(json_object_get(form, "client_id"));
    json_t *client = client_id ? json_object_get(st->clients, client_id) : NULL;
    if (!json_object_get(st->tenants, tenant))
        aad_error(resp, 400, "invalid_request", 90002,
                  "Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the "
                  "correct cloud.", tenant);
    else if (!grant || strcmp(grant, "client_credentials") != 0)
        aad_error(resp, 400, "unsupported_grant_type", 70003,
                  "The app requested an unsupported grant type '%s'.", grant ? grant : "");
    else if (!scope)
        aad_error(resp, 400, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'.");
    else if (!sim_in_list(scope, valid_scopes))
        aad_error(resp, 400, "invalid_scope", 1002012,
                  "The provided value for scope %s is not valid. Client credential flows must have a scope value "
                  "with /.default suffixed to the resource identifier (application ID URI).", scope);
    else if (!client_id)
        aad_error(resp, 400, "invalid_request", 900144,
                  "The request body must contain the following parameter: 'client_id'.");
    else if (!client || !util_str_eq_ci(json_string_value(json_object_get(client, "tenant_id")), tenant))
        aad_error(resp, 400, "unauthorized_client", 700016,
                  "Application with identifier '%s' was not found in the directory '%s'. This can happen if the "
                  "application has not been installed by the administrator of the tenant or consented to by any user "
                  "in the tenant. You may have sent your authentication request to the wrong tenant.", client_id, tenant);
    else if (check_credential(st, form, client, tenant, client_id, resp) == 0) {
        char *resource = util_strndup(scope, strlen(scope) - strlen(".default"));
        char *token;
        int life = issue(st, tenant, client_id,
                                   json_string_value(json_object_get(client, "object_id")), resource, &token);
        sim_response_json(resp, 200, json_pack("{s:s,s:i,s:i,s:s}", "token_type", "Bearer", "expires_in", life,
                                               "ext_expires_in", life, "access_token", token));
        free(resource);
        free(token);
    }
    json_decref(form);
}

static void managed_identity(sim_state *st, const sim_request *req, bool imds, sim_response *resp)
{
    json_t *mi = st->managed_identity;
    const char *resource = json_string_value(json_object_get(req->query, "resource"));
    /* App Service / Container Apps (api-version 2019-08-01, X-IDENTITY-HEADER) or Service Fabric
     * (2019-07-01-preview, the IDENTITY_HEADER in "secret"), as msal-node's sources send them */
    const char *v = json_string_value(json_object_get(req->query, "api-version"));
    bool sf = !imds && v && strcmp(v, "2019-07-01-preview") == 0;
    if (!imds && (!v || (!sf && strcmp(v, "2019-08-01") != 0))) {
        sim_response_json(resp, 400, json_pack("{s:s,s:s}", "error", "invalid_request", "error_description",
                                               "api-version must be 2019-08-01 (App Service) or 2019-07-01-preview "
                                               "(Service Fabric)."));
        return;
    }
    const char *hdr = json_string_value(json_object_get(req->headers, imds ? "metadata" : sf ? "secret"
                                                                                           : "x-identity-header"));
    const char *want = imds ? "true" : json_string_value(json_object_get(mi, "identity_header"));
    if (!hdr || !want || strcmp(hdr, want) != 0) {
        sim_response_json(resp, imds ? 400 : 401,
                          json_pack("{s:s,s:s}", "error", "invalid_request", "error_description",
                                    imds ? "Required metadata header not specified"
                                    : sf ? "The secret header is missing or does not match IDENTITY_HEADER."
                                         : "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER."));
        return;
    }
    if (!sim_in_list(resource, valid_resources)) {
        sim_response_json(resp, 400, json_pack("{s:s,s:s}", "error", "invalid_resource", "error_description",
                                               "AADSTS500011: The resource principal was not found; pass "
                                               "resource=https://management.azure.com/."));
        return;
    }
    char *token, exp[32];
    const char *tenant = json_string_value(json_object_get(mi, "tenant_id"));
    const char *cid = json_string_value(json_object_get(mi, "client_id"));
    int life = issue(st, tenant, cid, json_string_value(json_object_get(mi, "object_id")), resource, &token);
    snprintf(exp, sizeof(exp), "%lld", (long long)(sim_now_s(st) + life));
    sim_response_json(resp, 200, json_pack("{s:s,s:s,s:s,s:s,s:s}", "access_token", token, "expires_on", exp,
                                           "resource", resource, "token_type", "Bearer", "client_id", cid));
    free(token);
}

bool sim_entra_handle(sim_state *st, const sim_request *req, sim_response *resp)
{
    const char *p = req->path;
    bool msi = strcmp(p, "/msi/token") == 0, imds = strcmp(p, "/metadata/identity/oauth2/token") == 0;
    const char *slash = strchr(p + 1, '/');
    bool token = p[0] == '/' && slash && strcmp(slash, "/oauth2/v2.0/token") == 0;
    if (!msi && !imds && !token)
        return false;
    sim_state_lock(st);
    if ((msi || imds) && strcmp(req->method, "GET") == 0) {
        managed_identity(st, req, imds, resp);
    } else if (token && strcmp(req->method, "POST") == 0) {
        char *tenant = util_strndup(p + 1, (size_t)(slash - p - 1));
        token_endpoint(st, req, tenant, resp);
        free(tenant);
    } else {
        sim_response_json(resp, 405, json_pack("{s:s,s:s}", "error", "invalid_request", "error_description",
                                               "Method not allowed on the token endpoint."));
    }
    sim_state_unlock(st);
    return true;
}
