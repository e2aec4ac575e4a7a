/* test_sim_jwt: client assertion verification — RS256 and PS256 signatures against a certificate
 * made here with OpenSSL, x5t#S256 / x5t thumbprints, tampering, and the claim checks (aud, iss,
 * sub, exp, nbf, jti). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define TENANT "11111111-1111-1111-1111-111111111111"
#define CLIENT "dddddddd-0000-0000-0000-000000000001"

typedef struct keypair {
    EVP_PKEY *key;
    X509 *cert;
    char *pem;
} keypair;

static void make_keypair(keypair *kp)
{
    kp->key = EVP_RSA_gen(2048);
    kp->cert = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(kp->cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(kp->cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(kp->cert), 3600);
    X509_set_pubkey(kp->cert, kp->key);
    X509_NAME *name = X509_get_subject_name(kp->cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"test", -1, -1, 0);
    X509_set_issuer_name(kp->cert, name);
    X509_sign(kp->cert, kp->key, EVP_sha256());
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, kp->cert);
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    kp->pem = util_strndup(data, (size_t)n);
    BIO_free(bio);
}

static void free_keypair(keypair *kp)
{
    EVP_PKEY_free(kp->key);
    X509_free(kp->cert);
    free(kp->pem);
}

static char *b64json(json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    char *out = util_base64url_encode((unsigned char *)text, strlen(text));
    free(text);
    return out;
}

/* Builds a signed assertion; thumb_of decides which certificate the header names. */
static char *make_assertion(const keypair *signer, const keypair *thumb_of, const char *alg, bool s256, json_t *payload)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len;
    X509_digest(thumb_of->cert, s256 ? EVP_sha256() : EVP_sha1(), md, &md_len);
    char *thumb = util_base64url_encode(md, md_len);
    json_t *header = json_pack("{s:s,s:s,s:s}", "alg", alg, "typ", "JWT", s256 ? "x5t#S256" : "x5t", thumb);
    char *h = b64json(header), *p = b64json(payload);
    char *input = util_printf("%s.%s", h, p);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, signer->key);
    if (strcmp(alg, "PS256") == 0) {
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32);
    }
    size_t sig_len = 0;
    EVP_DigestSign(ctx, NULL, &sig_len, (unsigned char *)input, strlen(input));
    unsigned char *sig = malloc(sig_len);
    EVP_DigestSign(ctx, sig, &sig_len, (unsigned char *)input, strlen(input));
    char *s = util_base64url_encode(sig, sig_len);
    char *token = util_printf("%s.%s", input, s);
    EVP_MD_CTX_free(ctx);
    free(sig);
    free(s);
    free(input);
    free(h);
    free(p);
    free(thumb);
    json_decref(header);
    return token;
}

static json_t *claims(int64_t now)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:I,s:I}", "aud", "https://login.microsoftonline.com/" TENANT "/oauth2/v2.0/token",
                     "iss", CLIENT, "sub", CLIENT, "jti", "j-1", "nbf", (json_int_t)(now - 10), "exp",
                     (json_int_t)(now + 600));
}

static int verify(const char *token, const char *pem, int64_t now, util_error *err)
{
    sim_jwt jwt;
    int rc = sim_jwt_parse(token, &jwt, err);
    if (rc == 0)
        rc = sim_jwt_verify_cert(&jwt, pem, err);
    if (rc == 0)
        rc = sim_jwt_check_assertion_claims(&jwt, TENANT, CLIENT, now, err);
    if (jwt.header)
        sim_jwt_free(&jwt);
    return rc;
}

static void test_assertions(void **state)
{
    (void)state;
    keypair a, b;
    make_keypair(&a);
    make_keypair(&b);
    int64_t now = util_now_ms() / 1000;
    util_error err = {0};
    json_t *c = claims(now);
    char *t;

    t = make_assertion(&a, &a, "RS256", true, c);
    assert_int_equal(verify(t, a.pem, now, &err), 0);
    assert_int_not_equal(verify(t, b.pem, now, &err), 0); /* thumbprint names another cert */
    assert_non_null(strstr(err.message, "thumbprint"));
    t[strlen(t) - 3] ^= 1;
    assert_int_not_equal(verify(t, a.pem, now, &err), 0);
    free(t);

    t = make_assertion(&a, &a, "PS256", false, c);
    assert_int_equal(verify(t, a.pem, now, &err), 0);
    free(t);

    t = make_assertion(&b, &a, "RS256", true, c); /* signed by b, names a's cert */
    assert_int_not_equal(verify(t, a.pem, now, &err), 0);
    assert_non_null(strstr(err.message, "signature"));
    free(t);

    t = make_assertion(&a, &a, "RS256", true, c);
    assert_int_equal(verify(t, a.pem, now + 601, &err), UTIL_EAUTH); /* expired */
    assert_int_equal(verify(t, a.pem, now - 400, &err), UTIL_EAUTH); /* not yet valid */
    free(t);

    json_object_set_new(c, "aud", json_string("https://login.microsoftonline.com/other/oauth2/v2.0/token"));
    t = make_assertion(&a, &a, "RS256", true, c);
    assert_int_equal(verify(t, a.pem, now, &err), UTIL_EINVAL);
    assert_non_null(strstr(err.message, "audience"));
    free(t);
    json_decref(c);

    c = claims(now);
    json_object_set_new(c, "sub", json_string("someone-else"));
    t = make_assertion(&a, &a, "RS256", true, c);
    assert_int_equal(verify(t, a.pem, now, &err), UTIL_EINVAL);
    free(t);
    json_object_set_new(c, "sub", json_string(CLIENT));
    json_object_del(c, "jti");
    t = make_assertion(&a, &a, "RS256", true, c);
    assert_int_equal(verify(t, a.pem, now, &err), UTIL_EINVAL);
    assert_non_null(strstr(err.message, "jti"));
    free(t);

    t = make_assertion(&a, &a, "HS256", true, c);
    assert_int_equal(verify(t, a.pem, now, &err), UTIL_EINVAL);
    free(t);
    assert_int_equal(verify("a.b", a.pem, now, &err), UTIL_EINVAL);
    json_decref(c);
    free_keypair(&a);
    free_keypair(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_assertions)};
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    util_log_free_all();
    return rc;
}
