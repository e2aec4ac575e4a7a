/* auth_cert: loading a client certificate (PEM with its key, or PKCS#12) and signing the JWT
 * client assertion with OpenSSL: PS256 (RSASSA-PSS, SHA-256, MGF1 SHA-256, 32-byte salt) with the
 * x5t#S256 header, as Entra's certificate-credentials page asks; claims aud, iss, sub, jti, nbf,
 * iat, exp. */
#include <ctype.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "auth_internal.h"

#define ASSERTION_LIFETIME_SEC 600

static int load_pem(const char *data, size_t len, const char *password, X509 **cert, EVP_PKEY **key)
{
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    bio = BIO_new_mem_buf(data, (int)len);
    *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)(password ? password : "")) : NULL;
    BIO_free(bio);
    return *cert && *key ? 0 : -1;
}

static int load_p12(const char *data, size_t len, const char *password, X509 **cert, EVP_PKEY **key)
{
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    PKCS12 *p12 = bio ? d2i_PKCS12_bio(bio, NULL) : NULL;
    BIO_free(bio);
    if (!p12)
        return -1;
    int ok = PKCS12_parse(p12, password ? password : "", key, cert, NULL);
    PKCS12_free(p12);
    return ok && *cert && *key ? 0 : -2;
}

static int load_cert(const char *path, const char *password, X509 **cert, EVP_PKEY **key, util_error *err)
{
    char *data = NULL;
    size_t len = 0;
    *cert = NULL;
    *key = NULL;
    if (util_read_file(path, AUTH_FILE_MAX, &data, &len, err) != 0) {
        util_error_prefix(err, "AZURE_CLIENT_CERTIFICATE_PATH");
        return UTIL_ECONFIG;
    }
    int rc = 0;
    if (load_pem(data, len, password, cert, key) != 0) {
        X509_free(*cert);
        EVP_PKEY_free(*key);
        *cert = NULL;
        *key = NULL;
        int p = load_p12(data, len, password, cert, key);
        if (p == -2)
            rc = util_error_set(err, UTIL_ECONFIG, "the PKCS#12 file %s (AZURE_CLIENT_CERTIFICATE_PATH) did not open "
                                "with AZURE_CLIENT_CERTIFICATE_PASSWORD, or holds no certificate with its private key",
                                path);
        else if (p != 0)
            rc = util_error_set(err, UTIL_ECONFIG, "%s (AZURE_CLIENT_CERTIFICATE_PATH) is neither a PEM file with a "
                                "certificate and its private key nor a PKCS#12 file", path);
    }
    free(data);
    if (rc == 0 && EVP_PKEY_base_id(*key) != EVP_PKEY_RSA)
        rc = util_error_set(err, UTIL_ECONFIG, "the certificate key in %s is not an RSA key; Entra ID client "
                            "assertions here are signed with PS256 (RSA-PSS), so use an RSA certificate", path);
    if (rc) {
        X509_free(*cert);
        EVP_PKEY_free(*key);
        *cert = NULL;
        *key = NULL;
    }
    return rc;
}

/* SSL_CTX certificate check: the leaf's SHA-1 thumbprint must be the pinned one. */
static int pin_verify(X509_STORE_CTX *store, void *arg)
{
    const char *want = arg;
    X509 *leaf = X509_STORE_CTX_get0_cert(store);
    unsigned char md[20];
    unsigned int n = 0;
    if (!leaf || X509_digest(leaf, EVP_sha1(), md, &n) != 1 || n != sizeof md || strlen(want) != 2 * sizeof md)
        return 0;
    static const char hex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < n; i++)
        if (tolower((unsigned char)want[2 * i]) != hex[md[i] >> 4] ||
            tolower((unsigned char)want[2 * i + 1]) != hex[md[i] & 15])
            return 0;
    return 1;
}

int auth_tls_pin_thumbprint(void *ssl_ctx, void *thumbprint)
{
    SSL_CTX_set_cert_verify_callback(ssl_ctx, pin_verify, thumbprint);
    return 0;
}

static char *json_b64url(json_t *obj)
{
    char *text = json_dumps(obj, JSON_COMPACT);
    char *out = text ? util_base64url_encode(text, strlen(text)) : NULL;
    free(text);
    return out;
}

static char *jwt_header(X509 *cert)
{
    unsigned char s256[32];
    unsigned int n256 = 0;
    X509_digest(cert, EVP_sha256(), s256, &n256);
    char *t256 = util_base64url_encode(s256, n256);
    json_t *h = json_pack("{s:s, s:s, s:s}", "alg", "PS256", "typ", "JWT", "x5t#S256", t256 ? t256 : "");
    char *out = json_b64url(h);
    json_decref(h);
    free(t256);
    return out;
}

static char *jwt_claims(const char *client_id, const char *aud)
{
    char jti[37];
    util_uuid4(jti);
    json_int_t now = (json_int_t)(util_now_ms() / 1000);
    json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "aud", aud, "iss", client_id, "sub", client_id,
                          "jti", jti, "nbf", now, "iat", now, "exp", now + ASSERTION_LIFETIME_SEC);
    char *out = json_b64url(c);
    json_decref(c);
    return out;
}

/* RFC 7518 3.5: PS256 = RSASSA-PSS with SHA-256, MGF1 with SHA-256, salt as long as the hash. */
static char *sign_ps256(EVP_PKEY *key, const char *input)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    size_t siglen = 0;
    unsigned char *sig = NULL;
    char *out = NULL;
    if (md && EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, key) == 1 &&
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) == 1 &&
        EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)input, strlen(input)) == 1 &&
        (sig = malloc(siglen)) != NULL &&
        EVP_DigestSign(md, sig, &siglen, (const unsigned char *)input, strlen(input)) == 1)
        out = util_base64url_encode(sig, siglen);
    free(sig);
    EVP_MD_CTX_free(md);
    return out;
}

int auth_cert_assertion(const char *cert_path, const char *password, const char *client_id, const char *aud,
                        char **assertion, util_error *err)
{
    X509 *cert;
    EVP_PKEY *key;
    *assertion = NULL;
    int rc = load_cert(cert_path, password, &cert, &key, err);
    if (rc)
        return rc;
    char *h = jwt_header(cert), *c = jwt_claims(client_id, aud);
    char *input = h && c ? util_printf("%s.%s", h, c) : NULL;
    char *sig = input ? sign_ps256(key, input) : NULL;
    if (sig) {
        *assertion = util_printf("%s.%s", input, sig);
        util_log_add_token(*assertion);
    } else {
        rc = util_error_set(err, UTIL_EINTERNAL, "could not sign the client assertion with the key in %s",
                            cert_path);
    }
    free(h), free(c), free(input), free(sig);
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}
