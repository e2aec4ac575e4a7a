/*
 * auth: Entra ID credentials and the access-token cache. A credential is chosen from the
 * configuration the way the Azure SDKs' EnvironmentCredential / DefaultAzureCredential do
 * (client secret, client certificate, workload identity, managed identity — App Service /
 * Container Apps endpoint then IMDS — and the Azure CLI), or pinned by AZURE_TOKEN_CREDENTIALS.
 * Tokens are cached per scope and reused until 5 minutes before they expire. Every secret,
 * assertion and token is registered with util_log_add_secret() as soon as it is read.
 *
 * Ownership: auth_credential_new() borrows cfg and http for the credential's whole life (the
 * caller keeps both alive until auth_credential_free()). Tokens returned by auth_get_token()
 * are borrowed from the cache: valid until the next auth_get_token() or auth_credential_free().
 */
#ifndef AIGW_AUTH_H
#define AIGW_AUTH_H

#include <stdint.h>

#include "config.h"
#include "http.h"
#include "util.h"

#define AUTH_REFRESH_MARGIN_SEC 300 /* refresh a token this long before it expires */

struct auth_credential;

/* Chooses the credential(s) to use. Fails with UTIL_ECONFIG when the pinned kind lacks a
 * setting (err names the variable). Nothing is contacted yet. */
struct auth_credential *auth_credential_new(const struct config *cfg, struct http_client *http,
                                            util_error *err);
void auth_credential_free(struct auth_credential *cred);

/* A bearer token for scope (e.g. "https://management.azure.com/.default"): the cached one
 * while it has more than AUTH_REFRESH_MARGIN_SEC left and force_refresh is 0, else a new one.
 * Errors are UTIL_EAUTH (credential rejected: err says what to fix), UTIL_ENET, UTIL_ECONFIG. */
int auth_get_token(struct auth_credential *cred, const char *scope, int force_refresh, const char **token,
                   util_error *err);

/* Name of the credential in use as the Azure SDKs call it ("ClientSecretCredential", ...);
 * before the first token in a chain, the first one that will be tried. Static string. */
const char *auth_credential_name(const struct auth_credential *cred);
/* One line describing it for humans, without secrets ("client secret of app <id> in tenant <t>"). */
void auth_credential_describe(const struct auth_credential *cred, char *out, size_t n);

/* Number of token requests sent (to Entra, a managed identity endpoint, or az runs). */
/* Checks a token before it goes into an Authorization header: 1..16384 printable ASCII
 * characters, no space or control character (a CR/LF would add a header). 0 or UTIL_EAUTH. */
int auth_check_token(const char *token, const char *who, util_error *err);

unsigned long auth_token_requests(const struct auth_credential *cred);

#endif
