/* fuzz_token: the readers of token endpoint answers in src/auth/auth.c — the success answer
 * (access_token with expires_in or expires_on, as Entra ID, managed identity endpoints and
 * App Service give them) and Entra's error answer turned into a sentence (AADSTS codes, error,
 * error_description). They are static functions, so this file includes auth.c itself (the
 * rest of aigw_auth is linked as usual). Invariants: no crash, no leak; an answer is either a
 * token with an expiry or a non-empty error sentence; an error always has a non-empty sentence.
 * Input: one control byte (status, credential kind), then the answer body. */
#include "../../src/auth/auth.c"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t ctl;
    char *text = fuzz_text(data, size, &ctl);
    if (!text)
        return 0;

    char *token = NULL;
    int64_t expires_on = 0;
    util_error err;
    util_error_clear(&err);
    if (parse_token(text, "Entra ID", &token, &expires_on, &err) == 0) {
        CHECK(token != NULL);
        free(token);
    } else {
        CHECK(token == NULL && err.message[0] != '\0');
    }

    struct config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.tenant_id = "11111111-1111-1111-1111-111111111111";
    cfg.client_id = "aaaaaaaa-0000-0000-0000-000000000001";
    struct auth_credential cred;
    memset(&cred, 0, sizeof cred);
    cred.cfg = &cfg;
    static const long statuses[] = {400, 401, 403, 429, 500, 503};
    util_error_clear(&err);
    int rc = entra_error(&cred, (ctl >> 4) % (AK_CLI + 1), statuses[ctl % 6], text, &err);
    CHECK(rc != 0 && err.message[0] != '\0');
    free(text);
    return 0;
}
