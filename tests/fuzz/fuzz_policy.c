/* fuzz_policy: the policy layer (src/policy) on hostile documents — parse, validate, facts,
 * generic edits and per-subscription quota edits, with the layer's promises as invariants:
 *   - parse/validate/facts never crash, and facts are the same on a second parse (pure);
 *   - policy_doc_text is the input, byte for byte (an unchanged document is byte-identical);
 *   - policy_set_attribute of an attribute APIM ignores: the result parses, the original text
 *     is the result minus one contiguous span holding the new attribute, the facts and the
 *     validation report are unchanged (it differs only where asked), and setting it again
 *     gives the same bytes;
 *   - policy_insert_element: the result parses, with one more element of that name;
 *   - policy_quota_update: every changed document parses, and the target ends with the limit
 *     asked while every other subscription's limits stay as they were.
 * Input: one control byte, then the document (the first "\n<!--doc2-->\n" splits off a
 * product-scope document for the quota edit). */
#include "fuzz.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

static const char *const elements[] = {"set-header", "rate-limit-by-key", "azure-openai-token-limit",
                                       "llm-token-limit", "set-backend-service", "retry", "when", "choose",
                                       "base", "inbound", "quota-by-key", "azure-openai-semantic-cache-lookup"};
#define NELEMENTS (sizeof elements / sizeof elements[0])
static const char *const sections[] = {"inbound", "backend", "outbound", "on-error"};

static json_t *facts_of(const char *text, size_t len)
{
    util_error err;
    policy_doc *d = policy_parse(text, len, &err);
    if (!d)
        return NULL;
    json_t *f = policy_facts(d);
    policy_doc_free(d);
    return f;
}

static void check_set_attribute(const policy_doc *d, json_t *facts, json_t *report, uint8_t ctl)
{
    const char *element = elements[ctl % NELEMENTS];
    size_t count = policy_count_elements(d, element);
    if (count == 0)
        return;
    size_t nth = (size_t)(ctl >> 4) % count;
    /* an attribute no policy reads, with characters that need escaping */
    const char *value = (ctl & 8) ? "a&b<c\"d'e" : "fuzz";
    char *out = NULL, *again = NULL;
    util_error err;
    CHECK(policy_set_attribute(d, element, nth, "data-fuzz", value, &out, &err) == 0);
    const char *old = policy_doc_text(d);
    size_t old_len = policy_doc_len(d), new_len = strlen(out);
    CHECK(new_len > old_len);
    size_t pre = 0;
    while (pre < old_len && old[pre] == out[pre])
        pre++;
    size_t suf = 0;
    while (suf < old_len - pre && old[old_len - 1 - suf] == out[new_len - 1 - suf])
        suf++;
    CHECK(pre + suf == old_len); /* the original is the result minus one span */

    policy_doc *e = policy_parse(out, new_len, &err);
    CHECK(e != NULL);
    CHECK(policy_count_elements(e, element) == count);
    json_t *f2 = policy_facts(e), *r2 = policy_validate(e);
    CHECK(json_equal(facts, f2));
    CHECK(json_equal(report, r2));
    json_decref(f2);
    json_decref(r2);
    CHECK(policy_set_attribute(e, element, nth, "data-fuzz", value, &again, &err) == 0);
    CHECK(strcmp(again, out) == 0);
    policy_doc_free(e);
    free(again);
    free(out);
}

static void check_insert(const policy_doc *d, uint8_t ctl)
{
    static const char xml[] = "<set-header name=\"x-fuzz\" exists-action=\"override\">\n"
                              "    <value>1</value>\n</set-header>";
    char *out = NULL;
    util_error err;
    if (policy_insert_element(d, sections[ctl & 3], xml, ctl & 4, &out, &err) != 0)
        return; /* e.g. the root is not <policies> */
    policy_doc *e = policy_parse(out, strlen(out), &err);
    CHECK(e != NULL);
    CHECK(policy_count_elements(e, "set-header") == policy_count_elements(d, "set-header") + 1);
    policy_doc_free(e);
    free(out);
}

/* Three subscriptions of one product; docs: global, product (fuzzed), api (fuzzed). */
static void check_quota(const char *global, const char *product, const char *api, uint8_t ctl)
{
    policy_quota_doc docs[3] = {{"global", global}, {"product:aoai", product}, {"api:aoai", api}};
    policy_quota_sub subs[3] = {
        {.id = "growth", .name = "Growth", .product_id = "aoai", .chain = {0, 1, 2}, .chain_len = 3, .home = 1},
        {.id = "search", .name = NULL, .product_id = "aoai", .chain = {0, 1, 2}, .chain_len = 3, .home = 1},
        {.id = "ops", .name = "Ops", .product_id = NULL, .chain = {0, 2}, .chain_len = 2, .home = 2}};
    policy_limits before[3], after[3];
    util_error err;
    if (policy_quota_effective_all(docs, 3, subs, 3, before, &err) != 0)
        return;
    for (size_t i = 0; i < 3; i++) {
        json_t *j = policy_limits_json(&before[i]);
        CHECK(j != NULL);
        json_decref(j);
    }
    size_t target = ctl % 3;
    policy_quota_change ch = {.tpm_op = (ctl & 4) ? POLICY_QUOTA_REMOVE : POLICY_QUOTA_SET,
                              .tpm = 1000 + (ctl >> 3) * 500,
                              .rpm_op = (ctl & 0x40) ? POLICY_QUOTA_SET : POLICY_QUOTA_KEEP,
                              .rpm = 60};
    policy_quota_result res;
    memset(&res, 0, sizeof res);
    if (policy_quota_update(docs, 3, subs, 3, target, &ch, &res, &err) != 0)
        return; /* refused: nothing changed */
    policy_quota_doc edited[3];
    for (size_t i = 0; i < 3; i++) {
        edited[i] = docs[i];
        if (res.texts[i]) {
            CHECK(policy_check(res.texts[i], strlen(res.texts[i]), NULL, &err) == 0 || docs[i].text != NULL);
            policy_doc *p = policy_parse(res.texts[i], strlen(res.texts[i]), &err);
            CHECK(p != NULL);
            policy_doc_free(p);
            edited[i].text = res.texts[i];
        }
    }
    CHECK(policy_quota_effective_all(edited, 3, subs, 3, after, &err) == 0);
    for (size_t i = 0; i < 3; i++)
        if (i != target)
            CHECK(policy_limits_equal(&before[i], &after[i]));
    if (ch.tpm_op == POLICY_QUOTA_SET)
        CHECK(after[target].has_tpm && after[target].tpm == ch.tpm);
    policy_quota_result_free(&res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t ctl;
    char *text = fuzz_text(data, size, &ctl);
    if (!text)
        return 0;
    size_t len = size - 1;

    util_error err;
    policy_doc *d = policy_parse(text, len, &err);
    if (d) {
        CHECK(policy_doc_len(d) == len && memcmp(policy_doc_text(d), text, len) == 0);
        json_t *facts = policy_facts(d);
        json_t *report = policy_validate(d);
        CHECK(facts && report);
        json_t *again = facts_of(text, len);
        CHECK(json_equal(facts, again));
        json_decref(again);
        check_set_attribute(d, facts, report, ctl);
        check_insert(d, ctl);
        char *diff = policy_diff(text, text);
        CHECK(diff && diff[0] == '\0');
        free(diff);
        json_decref(facts);
        json_decref(report);
        policy_doc_free(d);
    } else {
        CHECK(err.message[0] != '\0');
    }

    /* the quota edit: text = global, split off a product document if present */
    char *split = strstr(text, "\n<!--doc2-->\n");
    const char *product = NULL;
    if (split) {
        *split = '\0';
        product = split + strlen("\n<!--doc2-->\n");
    }
    check_quota(text, product, (ctl & 0x80) ? text : NULL, ctl);
    free(text);
    return 0;
}
