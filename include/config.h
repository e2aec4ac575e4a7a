/*
 * config: the program's configuration — command-line flags and the environment variables of
 * the contract (shared/design/tools.md §2) — read once, validated, and kept with one sentence
 * per problem (which variable, what was wrong, what is expected). Reading never fails: the
 * server must start and answer initialize even when configuration is wrong; problems are
 * reported at the first tool call and by --check.
 *
 * Ownership: config_load() fills a caller-owned struct config whose strings it owns;
 * config_free() releases them. Secret values (client secret, certificate password) are
 * registered with the logger's scrubber as they are read.
 */
#ifndef AIGW_CONFIG_H
#define AIGW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

enum config_cloud { CONFIG_CLOUD_PUBLIC = 0, CONFIG_CLOUD_CHINA, CONFIG_CLOUD_USGOV };

/* Which credential kinds may be tried, in chain order (AZURE_TOKEN_CREDENTIALS pins one). */
enum config_cred_kind {
    CONFIG_CRED_AUTO = 0,          /* the environment/default chain */
    CONFIG_CRED_CLIENT_SECRET,
    CONFIG_CRED_CLIENT_CERTIFICATE,
    CONFIG_CRED_WORKLOAD_IDENTITY,
    CONFIG_CRED_MANAGED_IDENTITY,
    CONFIG_CRED_AZURE_CLI,
    CONFIG_CRED_ENVIRONMENT,       /* EnvironmentCredential: client secret, else certificate */
    CONFIG_CRED_PROD,              /* "prod": environment, workload identity, managed identity */
    CONFIG_CRED_DEV,               /* "dev": developer tools only (the Azure CLI here) */
};

#define CONFIG_MAX_PROBLEMS 16

struct config {
    /* command line */
    bool read_only;      /* --read-only or AIGW_READ_ONLY=1 */
    bool demo;           /* --demo */
    bool check;          /* --check */
    bool confirm_client; /* AIGW_CONFIRM=client: the client's per-tool approval confirms writes (no elicitation) */
    int log_level;       /* enum util_log_level: --log-level, else AIGW_LOG_LEVEL, else info */
    int drill_speedup;   /* AIGW_DRILL_SPEEDUP (1..3600, default 1): rehearse_failover's wall-clock waits are
                            divided by it, for an accelerated gateway clock (apim-sim's rate) */

    /* the APIM instance */
    char *subscription_id;   /* AZURE_SUBSCRIPTION_ID or parsed from APIM_RESOURCE_ID */
    char *resource_group;    /* APIM_RESOURCE_GROUP */
    char *service_name;      /* APIM_SERVICE_NAME */
    char *service_id;        /* "/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.ApiManagement/service/{n}" */

    /* identity */
    char *tenant_id;         /* AZURE_TENANT_ID */
    char *client_id;         /* AZURE_CLIENT_ID */
    char *client_secret;     /* AZURE_CLIENT_SECRET (secret) */
    char *cert_path;         /* AZURE_CLIENT_CERTIFICATE_PATH */
    char *cert_password;     /* AZURE_CLIENT_CERTIFICATE_PASSWORD (secret) */
    char *federated_token_file; /* AZURE_FEDERATED_TOKEN_FILE */
    char *identity_endpoint; /* IDENTITY_ENDPOINT */
    char *identity_header;   /* IDENTITY_HEADER (secret) */
    char *identity_server_thumbprint; /* IDENTITY_SERVER_THUMBPRINT: Service Fabric's MITS certificate */
    char *imds_endpoint;     /* AZURE_POD_IDENTITY_AUTHORITY_HOST or IMDS default; override for tests */
    int cred_kind;           /* enum config_cred_kind (AZURE_TOKEN_CREDENTIALS) */

    /* endpoints */
    int cloud;               /* enum config_cloud (AZURE_CLOUD) */
    char *authority_host;    /* AZURE_AUTHORITY_HOST or the cloud's, no trailing slash */
    char *arm_endpoint;      /* AZURE_RESOURCE_MANAGER_ENDPOINT or the cloud's, no trailing slash */
    char *arm_scope;         /* "<arm audience>/.default" */
    char *log_analytics_endpoint; /* AIGW_LOG_ANALYTICS_ENDPOINT or the cloud's Logs query API; NULL when
                                   * AZURE_RESOURCE_MANAGER_ENDPOINT is overridden and this is not set */
    char *log_analytics_scope;    /* "<cloud's Log Analytics audience>/.default" */
    char *ca_file;           /* SSL_CERT_FILE, if set */

    /* Azure OpenAI accounts behind the backends: AIGW_MODEL_SUBSCRIPTIONS, GUIDs joined by ',' (NULL = none) */
    char *model_subscriptions;

    /* journal */
    char *audit_log;         /* AIGW_AUDIT_LOG or $XDG_STATE_HOME/azure-ai-gateway-mcp/audit.jsonl */

    /* problems found while loading: shown by --check and at the first tool call */
    size_t n_problems;
    char *problems[CONFIG_MAX_PROBLEMS];
};

/* Environment lookup, injectable for tests (NULL = getenv). */
typedef const char *(*config_getenv_fn)(const char *name, void *user);

/* Parses argv and the environment. Returns 0, or UTIL_EINVAL for a bad command line (err says
 * what; the caller prints usage and exits 2). *exit_now is set for --help/--version, whose
 * text is written to out. Environment problems never fail the load: they go to problems[]. */
int config_load(struct config *cfg, int argc, char **argv, config_getenv_fn getenv_fn, void *user,
                bool *exit_now, util_buf *out, util_error *err);
void config_free(struct config *cfg);

/* 0 when the configuration is complete enough to call Azure, else UTIL_ECONFIG with every
 * problem joined into err (at most UTIL_ERROR_MAX bytes). */
int config_ready(const struct config *cfg, util_error *err);

/* True for http://127.x.x.x, http://[::1], http://localhost (any port/path), without user
 * information ("http://127.0.0.1:1@evil.example" is a URL of evil.example). */
bool config_is_loopback_url(const char *url);
/* True when host[0..n) is 127.a.b.c, localhost, ::1 or [::1] (a parsed URL host: compared whole). */
bool config_is_loopback_host(const char *host, size_t n);
/* True when the URL's authority holds user information ("user:pass@host"). */
bool config_url_has_userinfo(const char *url);

/* The --help text (lists every flag and environment variable). */
const char *config_help_text(void);

#endif
