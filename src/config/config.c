/* config: command line and environment (contract §2), validated into struct config with one
 * sentence per problem. See include/config.h. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"

static const char HELP[] =
    "Usage: azure-ai-gateway-mcp [--read-only] [--demo] [--log-level LEVEL] [--check] [--version] [--help]\n"
    "\n"
    "An MCP server (stdio) that governs an Azure API Management instance used as an AI gateway:\n"
    "per-team token quotas, backend pools with circuit breakers, policies and traffic metrics.\n"
    "\n"
    "Options:\n"
    "  --read-only        list and allow only the read tools (also AIGW_READ_ONLY=1)\n"
    "  --demo             start the bundled apim-sim on a free loopback port and serve against it\n"
    "  --log-level LEVEL  error, warning, info (default) or debug; diagnostics go to stderr only\n"
    "  --check            resolve configuration and credentials, read the APIM service once, print a\n"
    "                     report to stderr and exit 0 when all is well, non-zero otherwise\n"
    "  --version          print the version and exit\n"
    "  --help             print this help and exit\n"
    "\n"
    "Environment:\n"
    "  AZURE_SUBSCRIPTION_ID, APIM_RESOURCE_GROUP, APIM_SERVICE_NAME   the APIM instance to govern\n"
    "  APIM_RESOURCE_ID                  or its full ARM id /subscriptions/.../service/NAME\n"
    "  AZURE_TENANT_ID, AZURE_CLIENT_ID  the service principal (or workload/managed identity client id)\n"
    "  AZURE_CLIENT_SECRET               its client secret\n"
    "  AZURE_CLIENT_CERTIFICATE_PATH     or its certificate (PEM with key, or PKCS#12)\n"
    "  AZURE_CLIENT_CERTIFICATE_PASSWORD password of a PKCS#12 certificate\n"
    "  AZURE_FEDERATED_TOKEN_FILE        workload identity: file holding the federated token\n"
    "  IDENTITY_ENDPOINT, IDENTITY_HEADER managed identity (App Service / Container Apps); else IMDS\n"
    "  IDENTITY_SERVER_THUMBPRINT        with them: managed identity on Service Fabric\n"
    "  AZURE_TOKEN_CREDENTIALS           pin one credential: EnvironmentCredential,\n"
    "                                    WorkloadIdentityCredential, ManagedIdentityCredential,\n"
    "                                    AzureCliCredential, dev or prod (default: the chain)\n"
    "  AZURE_CLOUD                       AzureCloud (default), AzureChinaCloud, AzureUSGovernment\n"
    "  AZURE_AUTHORITY_HOST              Entra endpoint override (http:// only for loopback)\n"
    "  AZURE_RESOURCE_MANAGER_ENDPOINT   ARM endpoint override (http:// only for loopback)\n"
    "  AIGW_LOG_ANALYTICS_ENDPOINT       Logs query API endpoint override (http:// only for loopback)\n"
    "  SSL_CERT_FILE                     CA bundle to trust instead of the system's\n"
    "  AIGW_DEMO                         1: as --demo\n"
    "  AIGW_READ_ONLY                    1: as --read-only\n"
    "  AIGW_CONFIRM                      elicit (default): ask the human before each write when the\n"
    "                                    client can; client: the client's own per-tool approval is the\n"
    "                                    confirmation (unattended use; not with --read-only)\n"
    "  AIGW_MODEL_SUBSCRIPTIONS          comma-separated subscription ids whose Azure OpenAI accounts\n"
    "                                    back the gateway (the gateway's own is always searched)\n"
    "  AIGW_AUDIT_LOG                    change journal path (default\n"
    "                                    $XDG_STATE_HOME/azure-ai-gateway-mcp/audit.jsonl)\n"
    "  AIGW_LOG_LEVEL                    as --log-level\n"
    "  AIGW_DRILL_SPEEDUP                1..3600 (default 1): rehearse_failover's waits are divided by it,\n"
    "                                    for an accelerated gateway clock (apim-sim's rate); 1 for Azure\n"
    "\n"
    "With no option it serves MCP over stdin/stdout until stdin closes.\n";

const char *config_help_text(void) { return HELP; }

static const char *env(config_getenv_fn fn, void *user, const char *name)
{
    const char *v = fn ? fn(name, user) : getenv(name);
    return v && *v ? v : NULL;
}

static void problem(struct config *cfg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct config *cfg, const char *fmt, ...)
{
    if (cfg->n_problems == CONFIG_MAX_PROBLEMS)
        return;
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    util_log_scrub(text);
    cfg->problems[cfg->n_problems++] = util_strdup(text);
}

static char *strip_slash(const char *url)
{
    char *s = util_strdup(url);
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '/')
        s[--n] = '\0';
    return s;
}

bool config_is_loopback_host(const char *h, size_t n)
{
    if ((n == 9 && strncasecmp(h, "localhost", 9) == 0) || (n == 5 && strncmp(h, "[::1]", 5) == 0) ||
        (n == 3 && strncmp(h, "::1", 3) == 0))
        return true;
    if (n < 7 || strncmp(h, "127.", 4) != 0)
        return false;
    /* 127.a.b.c with numeric octets only */
    const char *p = h + 4, *end = h + n;
    for (int part = 0; part < 3; part++) {
        if (p == end || !isdigit((unsigned char)*p))
            return false;
        while (p < end && isdigit((unsigned char)*p))
            p++;
        if (part < 2 && (p == end || *p++ != '.'))
            return false;
    }
    return p == end;
}

/* The authority of an http(s) URL: [s, s + *len). NULL when it holds user information ('@') or
 * a backslash, or its port is not a number (a URL libcurl would read differently). */
static const char *authority(const char *url, size_t *len, size_t *host_len)
{
    const char *s = strstr(url, "://");
    if (!s)
        return NULL;
    s += 3;
    size_t n = strcspn(s, "/?#");
    if (memchr(s, '@', n) || memchr(s, '\\', n))
        return NULL;
    const char *port = s[0] == '[' ? memchr(s, ']', n) : s;
    port = port ? memchr(port, ':', n - (size_t)(port - s)) : NULL;
    size_t hl = port ? (size_t)(port - s) : n;
    for (const char *p = port ? port + 1 : s + n; p < s + n; p++)
        if (!isdigit((unsigned char)*p))
            return NULL;
    *len = n;
    *host_len = hl;
    return s;
}

bool config_url_has_userinfo(const char *url)
{
    const char *s = url ? strstr(url, "://") : NULL;
    return s && memchr(s + 3, '@', strcspn(s + 3, "/?#")) != NULL;
}

bool config_is_loopback_url(const char *url)
{
    size_t n, hl;
    if (!url || strncasecmp(url, "http://", 7) != 0)
        return false;
    const char *a = authority(url, &n, &hl);
    return a && config_is_loopback_host(a, hl);
}

/* An endpoint must be https://, or http:// to a loopback host. */
static bool check_endpoint(struct config *cfg, const char *var, const char *url)
{
    size_t n, hl;
    if (config_url_has_userinfo(url) || (strstr(url, "://") && !authority(url, &n, &hl))) {
        problem(cfg, "%s holds user information ('@'), a backslash or a bad port; expected https://host[:port] "
                     "(credentials are never put in a URL)", var);
        return false;
    }
    if (strncasecmp(url, "https://", 8) == 0 && url[8])
        return true;
    if (config_is_loopback_url(url))
        return true;
    if (strncasecmp(url, "http://", 7) == 0)
        problem(cfg, "%s=%s uses plain http:// to a host that is not loopback; use https:// (plain http is "
                     "accepted only for 127.0.0.0/8, ::1 and localhost)", var, url);
    else
        problem(cfg, "%s=%s is not a URL; expected https://host[:port]", var, url);
    return false;
}

static bool valid_guid(const char *s)
{
    if (strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return false;
    }
    return true;
}

/* Splits an APIM resource id into its parts; returns false if it is not one. */
static bool parse_resource_id(const char *id, char **sub, char **rg, char **name)
{
    char *copy = util_strdup(id);
    char *parts[16] = {0};
    int n = 0;
    for (char *save = NULL, *t = strtok_r(copy, "/", &save); t && n < 16; t = strtok_r(NULL, "/", &save))
        parts[n++] = t;
    bool ok = n == 8 && util_str_eq_ci(parts[0], "subscriptions") && util_str_eq_ci(parts[2], "resourceGroups") &&
              util_str_eq_ci(parts[4], "providers") && util_str_eq_ci(parts[5], "Microsoft.ApiManagement") &&
              util_str_eq_ci(parts[6], "service");
    if (ok) {
        *sub = util_strdup(parts[1]);
        *rg = util_strdup(parts[3]);
        *name = util_strdup(parts[7]);
    }
    free(copy);
    return ok;
}

static void load_instance(struct config *cfg, config_getenv_fn fn, void *user)
{
    const char *rid = env(fn, user, "APIM_RESOURCE_ID");
    const char *sub = env(fn, user, "AZURE_SUBSCRIPTION_ID");
    const char *rg = env(fn, user, "APIM_RESOURCE_GROUP");
    const char *name = env(fn, user, "APIM_SERVICE_NAME");
    if (rid) {
        char *s = NULL, *r = NULL, *n = NULL;
        if (!parse_resource_id(rid, &s, &r, &n)) {
            problem(cfg, "APIM_RESOURCE_ID=%s is not an API Management resource id; expected "
                         "/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.ApiManagement/service/<name>",
                    rid);
            return;
        }
        if ((sub && strcasecmp(sub, s)) || (rg && strcasecmp(rg, r)) || (name && strcasecmp(name, n)))
            problem(cfg, "APIM_RESOURCE_ID names %s/%s/%s but AZURE_SUBSCRIPTION_ID/APIM_RESOURCE_GROUP/"
                         "APIM_SERVICE_NAME say otherwise; set one or the other, or make them agree",
                    s, r, n);
        cfg->subscription_id = s;
        cfg->resource_group = r;
        cfg->service_name = n;
    } else {
        if (!sub)
            problem(cfg, "AZURE_SUBSCRIPTION_ID is not set; set it to the Azure subscription id (a GUID) that "
                         "holds the API Management instance, or set APIM_RESOURCE_ID");
        if (!rg)
            problem(cfg, "APIM_RESOURCE_GROUP is not set; set it to the resource group of the API Management "
                         "instance, or set APIM_RESOURCE_ID");
        if (!name)
            problem(cfg, "APIM_SERVICE_NAME is not set; set it to the name of the API Management instance, or "
                         "set APIM_RESOURCE_ID");
        if (!sub || !rg || !name)
            return;
        cfg->subscription_id = util_strdup(sub);
        cfg->resource_group = util_strdup(rg);
        cfg->service_name = util_strdup(name);
    }
    if (!valid_guid(cfg->subscription_id))
        problem(cfg, "the Azure subscription id '%s' is not a GUID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
                cfg->subscription_id);
    cfg->service_id = util_printf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ApiManagement/service/%s",
                                  cfg->subscription_id, cfg->resource_group, cfg->service_name);
}

#define CRED_NOT_HERE (-2)

/* AZURE_TOKEN_CREDENTIALS, read as azure-identity reads it (trimmed, case-insensitive): "prod",
 * "dev" or one credential name of @azure/identity's DefaultAzureCredential. Of those, the
 * Visual Studio Code, PowerShell and Developer CLI credentials are not implemented here
 * (CRED_NOT_HERE). ClientSecretCredential and ClientCertificateCredential are our extensions. */
static int parse_cred_kind(const char *raw)
{
    static const struct {
        const char *name;
        int kind;
    } kinds[] = {{"prod", CONFIG_CRED_PROD},
                 {"dev", CONFIG_CRED_DEV},
                 {"EnvironmentCredential", CONFIG_CRED_ENVIRONMENT},
                 {"WorkloadIdentityCredential", CONFIG_CRED_WORKLOAD_IDENTITY},
                 {"ManagedIdentityCredential", CONFIG_CRED_MANAGED_IDENTITY},
                 {"AzureCliCredential", CONFIG_CRED_AZURE_CLI},
                 {"VisualStudioCodeCredential", CRED_NOT_HERE},
                 {"AzurePowerShellCredential", CRED_NOT_HERE},
                 {"AzureDeveloperCliCredential", CRED_NOT_HERE},
                 {"ClientSecretCredential", CONFIG_CRED_CLIENT_SECRET},        /* extension */
                 {"ClientCertificateCredential", CONFIG_CRED_CLIENT_CERTIFICATE}}; /* extension */
    while (*raw == ' ' || *raw == '\t')
        raw++;
    size_t n = strlen(raw);
    while (n > 0 && (raw[n - 1] == ' ' || raw[n - 1] == '\t' || raw[n - 1] == '\r' || raw[n - 1] == '\n'))
        n--;
    char *v = util_strndup(raw, n);
    int kind = -1;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0] && kind == -1; i++)
        if (util_str_eq_ci(v, kinds[i].name))
            kind = kinds[i].kind;
    free(v);
    return kind;
}

static void load_identity(struct config *cfg, config_getenv_fn fn, void *user)
{
    cfg->tenant_id = util_strdup(env(fn, user, "AZURE_TENANT_ID"));
    cfg->client_id = util_strdup(env(fn, user, "AZURE_CLIENT_ID"));
    cfg->client_secret = util_strdup(env(fn, user, "AZURE_CLIENT_SECRET"));
    cfg->cert_path = util_strdup(env(fn, user, "AZURE_CLIENT_CERTIFICATE_PATH"));
    cfg->cert_password = util_strdup(env(fn, user, "AZURE_CLIENT_CERTIFICATE_PASSWORD"));
    cfg->federated_token_file = util_strdup(env(fn, user, "AZURE_FEDERATED_TOKEN_FILE"));
    cfg->identity_endpoint = util_strdup(env(fn, user, "IDENTITY_ENDPOINT"));
    cfg->identity_header = util_strdup(env(fn, user, "IDENTITY_HEADER"));
    cfg->identity_server_thumbprint = util_strdup(env(fn, user, "IDENTITY_SERVER_THUMBPRINT"));
    const char *imds = env(fn, user, "AZURE_POD_IDENTITY_AUTHORITY_HOST");
    cfg->imds_endpoint = util_strdup(imds ? imds : "http://169.254.169.254");
    util_log_add_secret(cfg->client_secret);
    util_log_add_secret(cfg->cert_password);
    util_log_add_secret(cfg->identity_header);

    const char *pin = env(fn, user, "AZURE_TOKEN_CREDENTIALS");
    if (pin) {
        int k = parse_cred_kind(pin);
        if (k == CRED_NOT_HERE)
            problem(cfg, "AZURE_TOKEN_CREDENTIALS=%s is a credential azure-identity knows, but this server does not "
                         "implement it; use prod, dev, EnvironmentCredential, WorkloadIdentityCredential, "
                         "ManagedIdentityCredential or AzureCliCredential",
                    pin);
        else if (k < 0)
            problem(cfg, "AZURE_TOKEN_CREDENTIALS=%s is not a valid value; azure-identity's values are prod, dev, "
                         "EnvironmentCredential, WorkloadIdentityCredential, ManagedIdentityCredential, "
                         "VisualStudioCodeCredential, AzureCliCredential, AzurePowerShellCredential and "
                         "AzureDeveloperCliCredential (this server also accepts ClientSecretCredential and "
                         "ClientCertificateCredential)",
                    pin);
        else
            cfg->cred_kind = k;
    }
    bool wants_sp = cfg->client_secret || cfg->cert_path;
    if (wants_sp && !cfg->tenant_id)
        problem(cfg, "AZURE_TENANT_ID is not set; a service principal (AZURE_CLIENT_SECRET or "
                     "AZURE_CLIENT_CERTIFICATE_PATH) needs the Microsoft Entra tenant id");
    if (wants_sp && !cfg->client_id)
        problem(cfg, "AZURE_CLIENT_ID is not set; a service principal (AZURE_CLIENT_SECRET or "
                     "AZURE_CLIENT_CERTIFICATE_PATH) needs its application (client) id");
    if (cfg->federated_token_file && (!cfg->tenant_id || !cfg->client_id))
        problem(cfg, "AZURE_FEDERATED_TOKEN_FILE is set but AZURE_TENANT_ID and AZURE_CLIENT_ID are not both "
                     "set; workload identity needs all three");
    /* a domain name holds only letters, digits, '-' and '.': nothing a shell or cmd.exe (the Azure CLI
     * credential passes the tenant to `az`) would read as syntax */
    if (cfg->tenant_id && !valid_guid(cfg->tenant_id) &&
        (!strchr(cfg->tenant_id, '.') ||
         cfg->tenant_id[strspn(cfg->tenant_id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")]))
        problem(cfg, "AZURE_TENANT_ID=%s is neither a GUID nor a domain name such as contoso.onmicrosoft.com",
                cfg->tenant_id);
    if (cfg->identity_endpoint && !cfg->identity_header)
        problem(cfg, "IDENTITY_ENDPOINT is set without IDENTITY_HEADER; managed identity needs both");
    const char *tp = cfg->identity_server_thumbprint;
    size_t hex = tp ? strspn(tp, "0123456789abcdefABCDEF") : 0;
    if (tp && (hex != 40 || tp[hex]))
        problem(cfg, "IDENTITY_SERVER_THUMBPRINT=%s is not a SHA-1 certificate thumbprint (40 hexadecimal "
                     "characters); Service Fabric sets it for its managed identity endpoint", tp);
}

static void load_endpoints(struct config *cfg, config_getenv_fn fn, void *user)
{
    static const struct {
        const char *name, *authority, *arm, *logs;
    } clouds[] = {
        [CONFIG_CLOUD_PUBLIC] = {"AzureCloud", "https://login.microsoftonline.com", "https://management.azure.com",
                                 "https://api.loganalytics.io"},
        [CONFIG_CLOUD_CHINA] = {"AzureChinaCloud", "https://login.chinacloudapi.cn",
                                "https://management.chinacloudapi.cn", "https://api.loganalytics.azure.cn"},
        [CONFIG_CLOUD_USGOV] = {"AzureUSGovernment", "https://login.microsoftonline.us",
                                "https://management.usgovcloudapi.net", "https://api.loganalytics.us"},
    };
    const char *cloud = env(fn, user, "AZURE_CLOUD");
    cfg->cloud = CONFIG_CLOUD_PUBLIC;
    if (cloud) {
        int found = -1;
        for (int i = 0; i < 3; i++)
            if (util_str_eq_ci(cloud, clouds[i].name))
                found = i;
        if (util_str_eq_ci(cloud, "AzurePublicCloud"))
            found = CONFIG_CLOUD_PUBLIC;
        if (found < 0)
            problem(cfg, "AZURE_CLOUD=%s is unknown; use AzureCloud, AzureChinaCloud or AzureUSGovernment", cloud);
        else
            cfg->cloud = found;
    }
    const char *auth = env(fn, user, "AZURE_AUTHORITY_HOST");
    const char *arm = env(fn, user, "AZURE_RESOURCE_MANAGER_ENDPOINT");
    if (auth && !check_endpoint(cfg, "AZURE_AUTHORITY_HOST", auth))
        auth = NULL;
    if (arm && !check_endpoint(cfg, "AZURE_RESOURCE_MANAGER_ENDPOINT", arm))
        arm = NULL;
    cfg->authority_host = strip_slash(auth ? auth : clouds[cfg->cloud].authority);
    cfg->arm_endpoint = strip_slash(arm ? arm : clouds[cfg->cloud].arm);
    /* the token audience is the cloud's ARM audience, also when the endpoint is overridden */
    cfg->arm_scope = util_printf("%s/.default", clouds[cfg->cloud].arm);
    /* Logs query API (metrics): its own endpoint and audience. With ARM overridden (a simulator,
     * a proxy) and no override of its own, the cloud's endpoint is not assumed: nothing is sent. */
    const char *logs = env(fn, user, "AIGW_LOG_ANALYTICS_ENDPOINT");
    if (logs && !check_endpoint(cfg, "AIGW_LOG_ANALYTICS_ENDPOINT", logs))
        logs = NULL;
    bool arm_moved = strcasecmp(cfg->arm_endpoint, clouds[cfg->cloud].arm) != 0;
    cfg->log_analytics_endpoint = logs ? strip_slash(logs) : arm_moved ? NULL : util_strdup(clouds[cfg->cloud].logs);
    cfg->log_analytics_scope = util_printf("%s/.default", clouds[cfg->cloud].logs);
    if (cfg->identity_endpoint && !check_endpoint(cfg, "IDENTITY_ENDPOINT", cfg->identity_endpoint)) {
        free(cfg->identity_endpoint);
        cfg->identity_endpoint = NULL;
    }
    cfg->ca_file = util_strdup(env(fn, user, "SSL_CERT_FILE"));
}

/* AIGW_MODEL_SUBSCRIPTIONS: GUIDs separated by commas (spaces allowed), kept as "a,b,c". */
static void load_models(struct config *cfg, config_getenv_fn fn, void *user)
{
    const char *v = env(fn, user, "AIGW_MODEL_SUBSCRIPTIONS");
    if (!v || !*v)
        return;
    util_buf b;
    util_buf_init(&b, 0);
    for (const char *p = v; *p;) {
        p += strspn(p, " ,");
        size_t n = strcspn(p, " ,");
        if (!n)
            break;
        char *id = util_strndup(p, n);
        if (valid_guid(id))
            util_buf_printf(&b, "%s%s", b.len ? "," : "", id);
        else
            problem(cfg, "AIGW_MODEL_SUBSCRIPTIONS names '%.64s', which is not a subscription id (a GUID); give "
                         "subscription ids separated by commas", id);
        free(id);
        p += n;
    }
    cfg->model_subscriptions = b.len ? util_buf_steal(&b) : NULL;
    util_buf_free(&b);
}

static void load_journal(struct config *cfg, config_getenv_fn fn, void *user)
{
    const char *path = env(fn, user, "AIGW_AUDIT_LOG");
    if (path) {
        cfg->audit_log = util_strdup(path);
        return;
    }
    /* the per-user state folder: XDG on Linux, Application Support on macOS, LOCALAPPDATA on Windows */
    const char *missing = "";
    char *dir = platform_state_dir("azure-ai-gateway-mcp", fn, user, &missing);
    if (dir)
        cfg->audit_log = util_printf("%s/audit.jsonl", dir);
    else
        problem(cfg, "neither AIGW_AUDIT_LOG nor %s is set; set AIGW_AUDIT_LOG to the path of the change journal",
                missing);
    free(dir);
}

/* AIGW_CONFIRM: who confirms a write. Read after the command line (--read-only conflicts). */
static void load_confirm(struct config *cfg, config_getenv_fn fn, void *user)
{
    const char *v = env(fn, user, "AIGW_CONFIRM");
    if (!v || util_str_eq_ci(v, "elicit"))
        return;
    if (!util_str_eq_ci(v, "client")) {
        problem(cfg, "AIGW_CONFIRM=%s is not understood; use elicit (ask the human, the default) or client (the "
                     "client's own per-tool approval confirms each write)", v);
        return;
    }
    cfg->confirm_client = true;
    if (cfg->read_only)
        problem(cfg, "AIGW_CONFIRM=client and read-only mode are set together: read-only has no writes to "
                     "confirm, so one of them is a mistake; unset AIGW_CONFIRM or drop --read-only/AIGW_READ_ONLY");
}

/* AIGW_DRILL_SPEEDUP: an integer 1..3600 dividing the failover drill's wall-clock waits. */
static void load_drill_speedup(struct config *cfg, config_getenv_fn fn, void *user)
{
    const char *v = env(fn, user, "AIGW_DRILL_SPEEDUP");
    cfg->drill_speedup = 1;
    if (!v)
        return;
    char *end = NULL;
    long n = strtol(v, &end, 10);
    if (end == v || *end || n < 1 || n > 3600)
        problem(cfg, "AIGW_DRILL_SPEEDUP=%s is not an integer from 1 to 3600; it stays 1 (leave it unset against "
                     "Azure)", v);
    else
        cfg->drill_speedup = (int)n;
}

static bool truthy(const char *v)
{
    return v && (!strcmp(v, "1") || util_str_eq_ci(v, "true") || util_str_eq_ci(v, "yes") || util_str_eq_ci(v, "on"));
}

int config_load(struct config *cfg, int argc, char **argv, config_getenv_fn getenv_fn, void *user, bool *exit_now,
                util_buf *out, util_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    *exit_now = false;
    cfg->log_level = UTIL_LOG_INFO;
    const char *lvl = env(getenv_fn, user, "AIGW_LOG_LEVEL");
    if (lvl) {
        int l = util_log_level_parse(lvl);
        if (l < 0)
            problem(cfg, "AIGW_LOG_LEVEL=%s is unknown; use error, warning, info or debug", lvl);
        else
            cfg->log_level = l;
    }
    const char *demo = env(getenv_fn, user, "AIGW_DEMO");
    cfg->demo = truthy(demo);
    if (demo && !cfg->demo && strcmp(demo, "0") && !util_str_eq_ci(demo, "false"))
        problem(cfg, "AIGW_DEMO=%s is not understood; use 1 (demo) or 0", demo);
    const char *ro = env(getenv_fn, user, "AIGW_READ_ONLY");
    cfg->read_only = truthy(ro);
    if (ro && !cfg->read_only && strcmp(ro, "0") && !util_str_eq_ci(ro, "false"))
        problem(cfg, "AIGW_READ_ONLY=%s is not understood; use 1 (read-only) or 0", ro);

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            util_buf_puts(out, HELP);
            *exit_now = true;
            return 0;
        } else if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
            util_buf_puts(out, "azure-ai-gateway-mcp " AIGW_VERSION "\n");
            *exit_now = true;
            return 0;
        } else if (!strcmp(a, "--read-only")) {
            cfg->read_only = true;
        } else if (!strcmp(a, "--demo")) {
            cfg->demo = true;
        } else if (!strcmp(a, "--check")) {
            cfg->check = true;
        } else if (!strcmp(a, "--log-level") || !strncmp(a, "--log-level=", 12)) {
            const char *v = a[11] == '=' ? a + 12 : (i + 1 < argc ? argv[++i] : NULL);
            int l = util_log_level_parse(v);
            if (l < 0) {
                config_free(cfg);
                return util_error_set(err, UTIL_EINVAL, "--log-level needs one of error, warning, info, debug; got %s",
                                      v ? v : "nothing");
            }
            cfg->log_level = l;
        } else {
            config_free(cfg);
            return util_error_set(err, UTIL_EINVAL, "unknown option '%s'; see --help", a);
        }
    }
    load_instance(cfg, getenv_fn, user);
    load_identity(cfg, getenv_fn, user);
    load_endpoints(cfg, getenv_fn, user);
    load_journal(cfg, getenv_fn, user);
    load_confirm(cfg, getenv_fn, user);
    load_drill_speedup(cfg, getenv_fn, user);
    load_models(cfg, getenv_fn, user);
    return 0;
}

int config_ready(const struct config *cfg, util_error *err)
{
    if (cfg->n_problems == 0)
        return 0;
    util_buf b;
    util_buf_init(&b, UTIL_ERROR_MAX - 1);
    util_buf_puts(&b, "the server is not configured: ");
    for (size_t i = 0; i < cfg->n_problems; i++)
        if (util_buf_printf(&b, "%s%s", i ? "; " : "", cfg->problems[i]) != 0)
            break;
    util_error_set(err, UTIL_ECONFIG, "%s", b.data ? b.data : "configuration problems");
    util_buf_free(&b);
    return UTIL_ECONFIG;
}

void config_free(struct config *cfg)
{
    char **fields[] = {&cfg->subscription_id, &cfg->resource_group, &cfg->service_name, &cfg->service_id,
                       &cfg->tenant_id, &cfg->client_id, &cfg->client_secret, &cfg->cert_path, &cfg->cert_password,
                       &cfg->federated_token_file, &cfg->identity_endpoint, &cfg->identity_header,
                       &cfg->identity_server_thumbprint,
                       &cfg->imds_endpoint, &cfg->authority_host, &cfg->arm_endpoint, &cfg->arm_scope,
                       &cfg->log_analytics_endpoint, &cfg->log_analytics_scope, &cfg->ca_file, &cfg->audit_log,
                       &cfg->model_subscriptions};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        free(*fields[i]);
        *fields[i] = NULL;
    }
    for (size_t i = 0; i < cfg->n_problems; i++)
        free(cfg->problems[i]);
    cfg->n_problems = 0;
}
