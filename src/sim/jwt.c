/* jwt.c: base64url, JWT parsing, the simulator's own HS256 access tokens, and verification of
 * RS256/PS256 client assertions against a registered certificate (x5t#S256 / x5t thumbprints). */
#include "sim.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#define JWT_MAX 16384

unsigned char *sim_b64url_decode(const char *s, size_t n, size_t *out_len)
{
    while (n > 0 && s[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return NULL;
    size_t padded = (n + 3) / 4 * 4;
    char *tmp = malloc(padded + 1);
    unsigned char *out = malloc(padded / 4 * 3 + 1);
    if (!tmp || !out)
        abort();
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+' || c == '/' || c == '=')
            goto bad;
        tmp[i] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    for (size_t i = n; i < padded; i++)
        tmp[i] = '=';
    tmp[padded] = '\0';
    int len = EVP_DecodeBlock(out, (unsigned char *)tmp, (int)padded);
    if (len < 0)
        goto bad;
    free(tmp);
    *out_len = (size_t)len - (padded - n);
    return out;
bad:
    free(tmp);
    free(out);
    return NULL;
}

static json_t *decode_json_part(const char *s, size_t n)
{
    size_t len;
    unsigned char *raw = sim_b64url_decode(s, n, &len);
    if (!raw)
        return NULL;
    json_t *j = json_loadb((const char *)raw, len, 0, NULL);
    free(raw);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

int sim_jwt_parse(const char *token, sim_jwt *out, util_error *err)
{
    memset(out, 0, sizeof(*out));
    size_t tlen = strlen(token);
    const char *d1 = strchr(token, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (tlen > JWT_MAX || !d1 || !d2 || strchr(d2 + 1, '.'))
        return util_error_set(err, UTIL_EINVAL,
                              "the JWT is malformed: expected three base64url parts separated by dots");
    out->header = decode_json_part(token, (size_t)(d1 - token));
    out->payload = decode_json_part(d1 + 1, (size_t)(d2 - d1 - 1));
    out->sig = sim_b64url_decode(d2 + 1, strlen(d2 + 1), &out->sig_len);
    if (!out->header || !out->payload || !out->sig) {
        sim_jwt_free(out);
        return util_error_set(err, UTIL_EINVAL,
                              "the JWT is malformed: its header, payload or signature is not valid base64url JSON");
    }
    out->signing_input = util_strndup(token, (size_t)(d2 - token));
    return 0;
}

void sim_jwt_free(sim_jwt *jwt)
{
    json_decref(jwt->header);
    json_decref(jwt->payload);
    free(jwt->signing_input);
    free(jwt->sig);
    memset(jwt, 0, sizeof(*jwt));
}

static char *hs256(const char *input, const unsigned char *key, size_t key_len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)input, strlen(input), mac, &mac_len);
    return util_base64url_encode(mac, mac_len);
}

char *sim_jwt_sign_hs256(json_t *payload, const unsigned char *key, size_t key_len)
{
    static const char header[] = "{\"typ\":\"JWT\",\"alg\":\"HS256\"}";
    char *h = util_base64url_encode((const unsigned char *)header, strlen(header));
    char *pj = json_dumps(payload, JSON_COMPACT);
    char *p = util_base64url_encode((const unsigned char *)pj, strlen(pj));
    char *input = util_printf("%s.%s", h, p);
    char *sig = hs256(input, key, key_len);
    char *token = util_printf("%s.%s", input, sig);
    free(h);
    free(pj);
    free(p);
    free(input);
    free(sig);
    return token;
}

json_t *sim_jwt_verify_hs256(const char *token, const unsigned char *key, size_t key_len)
{
    sim_jwt jwt;
    if (sim_jwt_parse(token, &jwt, NULL) != 0)
        return NULL;
    char *expect = hs256(jwt.signing_input, key, key_len);
    const char *sig = strrchr(token, '.') + 1;
    json_t *payload = NULL;
    if (strlen(expect) == strlen(sig) && CRYPTO_memcmp(expect, sig, strlen(sig)) == 0)
        payload = json_incref(jwt.payload);
    free(expect);
    sim_jwt_free(&jwt);
    return payload;
}

static int thumbprint_matches(const sim_jwt *jwt, X509 *cert, util_error *err)
{
    const char *s256 = json_string_value(json_object_get(jwt->header, "x5t#S256"));
    const char *s1 = json_string_value(json_object_get(jwt->header, "x5t"));
    if (!s256 && !s1)
        return util_error_set(err, UTIL_EINVAL,
                              "the client assertion header has neither 'x5t#S256' nor 'x5t': add the certificate thumbprint");
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    X509_digest(cert, s256 ? EVP_sha256() : EVP_sha1(), md, &md_len);
    char *expect = util_base64url_encode(md, md_len);
    bool ok = strcmp(expect, s256 ? s256 : s1) == 0;
    free(expect);
    if (!ok)
        return util_error_set(err, UTIL_EINVAL,
                              "the client assertion's %s thumbprint does not match any certificate registered for the app",
                              s256 ? "x5t#S256" : "x5t");
    return 0;
}

static int verify_signature(const sim_jwt *jwt, X509 *cert, const char *alg, util_error *err)
{
    EVP_PKEY *key = X509_get0_pubkey(cert);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    int ok = key && EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL, key) == 1;
    /* PS256 (RFC 7518 3.5): RSASSA-PSS, SHA-256, MGF1 SHA-256, a salt as long as the hash */
    if (ok && strcmp(alg, "PS256") == 0)
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) == 1;
    ok = ok && EVP_DigestVerify(ctx, jwt->sig, jwt->sig_len, (const unsigned char *)jwt->signing_input,
                                strlen(jwt->signing_input)) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return util_error_set(err, UTIL_EINVAL, "the client assertion failed signature validation (%s)", alg);
    return 0;
}

int sim_jwt_verify_cert(const sim_jwt *jwt, const char *cert_pem, util_error *err)
{
    const char *alg = json_string_value(json_object_get(jwt->header, "alg"));
    if (!alg || (strcmp(alg, "RS256") != 0 && strcmp(alg, "PS256") != 0))
        return util_error_set(err, UTIL_EINVAL, "the client assertion 'alg' must be RS256 or PS256, got '%s'",
                              alg ? alg : "(none)");
    BIO *bio = BIO_new_mem_buf(cert_pem, -1);
    X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (!cert)
        return util_error_set(err, UTIL_EINVAL, "the app's registered certificate is not a PEM X.509 certificate");
    int rc = thumbprint_matches(jwt, cert, err);
    if (rc == 0)
        rc = verify_signature(jwt, cert, alg, err);
    X509_free(cert);
    return rc;
}

static bool claim_eq(json_t *payload, const char *name, const char *want)
{
    const char *v = json_string_value(json_object_get(payload, name));
    return v && strcmp(v, want) == 0;
}

int sim_jwt_check_assertion_claims(const sim_jwt *jwt, const char *tenant, const char *client_id,
                                   int64_t now, util_error *err)
{
    json_t *p = jwt->payload;
    const char *aud = json_string_value(json_object_get(p, "aud"));
    char *suffix = util_printf("/%s/oauth2/v2.0/token", tenant);
    bool aud_ok = aud && util_str_ends_with(aud, suffix);
    free(suffix);
    if (!aud_ok)
        return util_error_set(err, UTIL_EINVAL,
                              "the client assertion audience '%s' is not the token endpoint of tenant '%s'",
                              aud ? aud : "(none)", tenant);
    if (!claim_eq(p, "iss", client_id) || !claim_eq(p, "sub", client_id))
        return util_error_set(err, UTIL_EINVAL, "the client assertion 'iss' and 'sub' must both be the client id '%s'",
                              client_id);
    json_t *exp = json_object_get(p, "exp"), *nbf = json_object_get(p, "nbf");
    if (!json_is_integer(exp) || json_integer_value(exp) <= now)
        return util_error_set(err, UTIL_EAUTH, "the client assertion has expired or has no 'exp' claim");
    if (json_is_integer(nbf) && json_integer_value(nbf) > now + 300)
        return util_error_set(err, UTIL_EAUTH, "the client assertion is not valid yet ('nbf' is in the future)");
    if (!json_string_value(json_object_get(p, "jti")))
        return util_error_set(err, UTIL_EINVAL, "the client assertion has no 'jti' claim");
    return 0;
}
