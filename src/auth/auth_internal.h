/* auth_internal: what the auth module's files share — the JWT client assertion built from a
 * certificate (auth_cert.c) and the Azure CLI runner (auth_cli.c). Private to src/auth. */
#ifndef AIGW_AUTH_INTERNAL_H
#define AIGW_AUTH_INTERNAL_H

#include <stdint.h>

#include "util.h"

#define AUTH_FILE_MAX (1024 * 1024)

/* http_request.tls_setup for Service Fabric's managed identity endpoint: the server's
 * certificate is accepted only when its SHA-1 thumbprint is `thumbprint` (a hex string, the
 * IDENTITY_SERVER_THUMBPRINT, compared case-insensitively); the MITS certificate is
 * self-signed, so this pin replaces the CA check. ssl_ctx is OpenSSL's SSL_CTX. */
int auth_tls_pin_thumbprint(void *ssl_ctx, void *thumbprint);

/* Builds a signed PS256 client assertion (JWT) for client_id and the token endpoint aud from
 * the certificate file (PEM with its private key, or PKCS#12 opened with password, which may
 * be NULL). *assertion is heap memory the caller frees; it is registered as a secret. */
int auth_cert_assertion(const char *cert_path, const char *password, const char *client_id, const char *aud,
                        char **assertion, util_error *err);

/* Runs `az account get-access-token --resource <resource> [--tenant <tenant>] --output json`
 * with a timeout. *token is heap memory (registered as a secret); *expires_on epoch seconds. */
int auth_cli_token(const char *resource, const char *tenant, int timeout_ms, char **token, int64_t *expires_on,
                   util_error *err);

#endif
