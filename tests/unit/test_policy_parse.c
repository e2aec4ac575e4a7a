/*
 * test_policy_parse: the policy layer on real-world shaped documents (tests/fixtures/policies,
 * modelled on Microsoft's AI-Gateway labs): rawxml parsing, byte-exact spans, line/column
 * errors, structure validation, facts, generic edits and the unified diff.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/policy/policy_internal.h"

static const char *const FIXTURES[] = {"per-subscription-choose.xml", "product-branch.xml", "product-per-team.xml",
                                       "shared-unconditional.xml", "pool-retry.xml", "semantic-cache.xml",
                                       "token-metrics-raw.xml", "expressions.xml", "mixed-labs.xml"};

static char *fixture(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/policies/%s", AIGW_TEST_FIXTURES, name);
    char *text = NULL;
    size_t len;
    util_error err = {0};
    if (util_read_file(path, POLICY_MAX_BYTES, &text, &len, &err))
        fail_msg("%s", err.message);
    return text;
}

static policy_doc *parse_ok(const char *text)
{
    util_error err = {0};
    policy_doc *d = policy_parse(text, strlen(text), &err);
    if (!d)
        fail_msg("parse failed: %s", err.message);
    return d;
}

/* The raw attribute text with the predefined entities decoded. */
static char *decode(const char *s, size_t n)
{
    static const struct { const char *e; char c; } ents[] = {
        {"&quot;", '"'}, {"&apos;", '\''}, {"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}};
    char *out = malloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        size_t j = 0;
        for (; j < 5; j++)
            if (strncmp(s + i, ents[j].e, strlen(ents[j].e)) == 0)
                break;
        if (j < 5) {
            out[k++] = ents[j].c;
            i += strlen(ents[j].e);
        } else if (s[i] == '\n' || s[i] == '\t' || s[i] == '\r') {
            out[k++] = ' '; /* attribute-value normalisation */
            i++;
        } else {
            out[k++] = s[i++];
        }
    }
    out[k] = '\0';
    return out;
}

/* Every element and attribute span points at the right bytes of the original text, and the
 * text is kept byte for byte. */
static void test_spans_and_round_trip(void **state)
{
    (void)state;
    for (size_t f = 0; f < sizeof FIXTURES / sizeof FIXTURES[0]; f++) {
        char *text = fixture(FIXTURES[f]);
        policy_doc *d = parse_ok(text);
        assert_int_equal(policy_doc_len(d), strlen(text));
        assert_memory_equal(policy_doc_text(d), text, strlen(text));
        assert_true(d->nelems > 5);
        for (size_t i = 0; i < d->nelems; i++) {
            const pol_elem *e = &d->elems[i];
            const char *name = (const char *)e->node->name;
            assert_int_equal(text[e->start], '<');
            assert_memory_equal(text + e->start + 1, name, strlen(name));
            assert_int_equal(text[e->end - 1], '>');
            if (!e->self_closing) {
                assert_memory_equal(text + e->cend, "</", 2);
                assert_memory_equal(text + e->cend + 2, name, strlen(name));
            }
            for (size_t a = 0; a < e->nattrs; a++) {
                const pol_attr *at = &e->attrs[a];
                assert_int_equal(text[at->vstart - 1], at->quote);
                assert_int_equal(text[at->vend], at->quote);
                char *raw = decode(text + at->vstart, at->vend - at->vstart);
                char *val = pol_attr_dup(e->node, at->name);
                assert_non_null(val);
                assert_string_equal(raw, val);
                free(raw);
                free(val);
            }
        }
        policy_doc_free(d);
        free(text);
    }
}

/* Setting any plain attribute to the value it already has gives back the same bytes. */
static void test_noop_edits_byte_identical(void **state)
{
    (void)state;
    size_t checked = 0;
    for (size_t f = 0; f < sizeof FIXTURES / sizeof FIXTURES[0]; f++) {
        char *text = fixture(FIXTURES[f]);
        policy_doc *d = parse_ok(text);
        for (size_t i = 0; i < d->nelems; i++) {
            const char *name = (const char *)d->elems[i].node->name;
            size_t nth = 0;
            for (size_t k = 0; k < i; k++)
                nth += pol_is(d->elems[k].node, name);
            for (size_t a = 0; a < d->elems[i].nattrs; a++) {
                const pol_attr *at = &d->elems[i].attrs[a];
                char *v = pol_attr_dup(d->elems[i].node, at->name);
                if (strpbrk(v, "\"'<&\n\t") == NULL) {
                    char *out = NULL;
                    util_error err = {0};
                    assert_int_equal(policy_set_attribute(d, name, nth, at->name, v, &out, &err), 0);
                    assert_string_equal(out, text);
                    free(out);
                    checked++;
                }
                free(v);
            }
        }
        policy_doc_free(d);
        free(text);
    }
    print_message("no-op edits checked: %zu\n", checked);
    assert_true(checked > 60);
}

static char *attr_of(policy_doc *d, const char *element, const char *attr)
{
    for (size_t i = 0; i < d->nelems; i++) {
        char *v = pol_is(d->elems[i].node, element) ? pol_attr_dup(d->elems[i].node, attr) : NULL;
        if (v)
            return v;
    }
    return NULL;
}

static void test_rawxml_expressions(void **state)
{
    (void)state;
    char *text = fixture("expressions.xml");
    policy_doc *d = parse_ok(text);
    struct { const char *name, *expect; } cases[] = {
        {"tricky", "@(\"a)b\" + 'c' + @\"say \"\"hi\"\"\" + \"\\\"\" )"},
        {"ok", "@(context.Response == null && !context.Variables.ContainsKey(\"x\"))"},
        {"escaped", "@{ var b = context.Request.Body?.As<JObject>(true); return (b != null && b[\"model\"] != null) "
                    "? b[\"model\"].ToString() : \"unknown\"; }"}};
    for (size_t c = 0; c < 3; c++) {
        bool found = false;
        for (size_t i = 0; i < d->nelems; i++) {
            char *n = pol_attr_dup(d->elems[i].node, "name");
            if (n && strcmp(n, cases[c].name) == 0) {
                char *v = pol_attr_dup(d->elems[i].node, "value");
                assert_string_equal(v, cases[c].expect);
                free(v);
                found = true;
            }
            free(n);
        }
        assert_true(found);
    }
    /* comments inside a code block may hold quotes and parentheses too */
    const char *commented = "<policies><inbound><set-variable name=\"c\" value=\"@{ // don't \"break\" (here\n"
                            "  /* nor \"here\" ) */ return \"ok\"; }\" /></inbound></policies>";
    policy_doc *dc = parse_ok(commented);
    char *cv = attr_of(dc, "set-variable", "value");
    assert_string_equal(cv, "@{ // don't \"break\" (here   /* nor \"here\" ) */ return \"ok\"; }");
    free(cv);
    policy_doc_free(dc);
    char *body = attr_of(d, "set-variable", "value");
    assert_non_null(strstr(body, "As<JObject>(preserveContent:true)"));
    free(body);
    /* text expression with raw < and && read as text */
    xmlNodePtr out = pol_section(d, "outbound");
    xmlChar *content = xmlNodeGetContent(pol_next(pol_first_child(out)));
    assert_string_equal((const char *)content, "@{ var n = 1; if (n < 2 && n > 0) { return \"small\"; } return \"big\"; }");
    xmlFree(content);
    policy_doc_free(d);
    free(text);
}

static void expect_error(const char *text, const char *fragment)
{
    util_error err = {0};
    policy_doc *d = policy_parse(text, strlen(text), &err);
    assert_null(d);
    if (!strstr(err.message, fragment))
        fail_msg("expected '%s' in: %s", fragment, err.message);
}

static void test_errors_with_line_and_column(void **state)
{
    (void)state;
    expect_error("<policies>\n  <inbound>\n    <base />\n  </inbond>\n</policies>\n", "line 4, column 12: Opening and ending tag mismatch");
    /* 20 bytes of escaping happen before the error: the column is still the original one */
    expect_error("<policies>\n    <inbound>\n    <set-variable name=\"x\" value=\"@(\"a\" + \"b\")\" /> <bad attr=x />\n"
                 "</inbound></policies>", "line 3, column 62:");
    /* columns count characters, not bytes */
    expect_error("<!-- ┌──┐ -->\n<policies><inbound><set-variable name=\"x\" value=\"@(\"é\" + \"b\")\" /> <bad attr=x />"
                 "</inbound></policies>", "line 2, column 77:");
    expect_error("<!DOCTYPE p [<!ENTITY a \"b\">]><policies>&a;</policies>", "DOCTYPE");
    expect_error("", "empty");
    util_error err = {0};
    char *big = malloc(POLICY_MAX_BYTES + 2);
    memset(big, ' ', POLICY_MAX_BYTES + 1);
    big[POLICY_MAX_BYTES + 1] = '\0';
    assert_null(policy_parse(big, POLICY_MAX_BYTES + 1, &err));
    assert_int_equal(err.code, UTIL_ELIMIT);
    free(big);
}

static json_t *validate_text(const char *text)
{
    json_t *report = NULL;
    util_error err = {0};
    policy_check(text, strlen(text), &report, &err);
    assert_non_null(report);
    return report;
}

static void test_validation(void **state)
{
    (void)state;
    for (size_t f = 0; f < sizeof FIXTURES / sizeof FIXTURES[0]; f++) {
        char *text = fixture(FIXTURES[f]);
        json_t *r = validate_text(text);
        assert_true(json_is_true(json_object_get(r, "valid")));
        json_decref(r);
        free(text);
    }
    char *pool = fixture("pool-retry.xml");
    json_t *r = validate_text(pool);
    json_t *w = json_array_get(json_object_get(r, "warnings"), 0);
    assert_int_equal(json_array_size(json_object_get(r, "warnings")), 1);
    assert_int_equal(json_integer_value(json_object_get(w, "line")), 6);
    assert_int_equal(json_integer_value(json_object_get(w, "column")), 5);
    assert_non_null(strstr(json_string_value(json_object_get(w, "message")), "<backend> has no <base />"));
    json_decref(r);
    free(pool);

    util_error err = {0};
    const char *bad = "<policies>\n  <inbound><base /></inbound>\n  <inbond />\n  <outbound><choose><when condition=\"@(true)\">"
                      "<base /></when></choose><base /></outbound>\n  <inbound />\n</policies>";
    assert_int_equal(policy_check(bad, strlen(bad), &r, &err), UTIL_EINVAL);
    assert_non_null(strstr(err.message, "line 3, column 3: <inbond> is not a policy section"));
    json_t *errors = json_object_get(r, "errors");
    assert_int_equal(json_array_size(errors), 2);
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(errors, 1), "message")), "appears twice"));
    json_t *warnings = json_object_get(r, "warnings");
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(warnings, 0), "message")), "not inside <when>"));
    assert_int_equal(json_integer_value(json_object_get(json_array_get(warnings, 0), "line")), 4);
    json_decref(r);
    const char *root = "<policy><inbound /></policy>";
    assert_int_equal(policy_check(root, strlen(root), NULL, &err), UTIL_EINVAL);
    assert_non_null(strstr(err.message, "must be <policies>"));
    const char *broken = "<policies>\n<inbound>\n</policies>";
    assert_int_equal(policy_check(broken, strlen(broken), &r, &err), UTIL_EINVAL);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(r, "errors"), 0), "line")), 3);
    json_decref(r);
}

static json_t *facts_of(const char *name)
{
    char *text = fixture(name);
    policy_doc *d = parse_ok(text);
    json_t *f = policy_facts(d);
    policy_doc_free(d);
    free(text);
    return f;
}

static void test_facts(void **state)
{
    (void)state;
    json_t *f = facts_of("per-subscription-choose.xml");
    json_t *tl = json_object_get(f, "token_limits");
    assert_int_equal(json_array_size(tl), 5);
    const char *subjects[] = {"subscription_id", "subscription_id", "subscription_id", "subscription_name", NULL};
    const char *values[] = {"growth", "search", "research", "Billing Team", NULL};
    for (size_t i = 0; i < 5; i++) {
        json_t *c = json_object_get(json_array_get(tl, i), "condition");
        if (!subjects[i]) {
            assert_true(json_is_null(c));
            assert_string_equal(json_string_value(json_object_get(json_array_get(tl, i), "branch")), "otherwise");
            continue;
        }
        assert_string_equal(json_string_value(json_object_get(c, "subject")), subjects[i]);
        assert_string_equal(json_string_value(json_array_get(json_object_get(c, "values"), 0)), values[i]);
    }
    assert_int_equal(json_integer_value(json_object_get(json_array_get(tl, 0), "tokens_per_minute")), 200000);
    json_t *rl = json_array_get(json_object_get(f, "rate_limits"), 0);
    assert_true(json_real_value(json_object_get(rl, "rpm")) == 600.0);
    json_decref(f);

    f = facts_of("product-branch.xml");
    json_t *gold = json_array_get(json_object_get(f, "token_limits"), 1);
    assert_int_equal(json_integer_value(json_object_get(gold, "token_quota")), 1000000);
    assert_string_equal(json_string_value(json_object_get(gold, "token_quota_period")), "Monthly");
    assert_string_equal(json_string_value(json_object_get(json_object_get(gold, "condition"), "subject")), "product_id");
    assert_string_equal(json_string_value(json_array_get(json_object_get(json_object_get(gold, "condition"), "values"), 0)), "gold");
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(f, "token_metrics"), 0), "namespace")), "usage");
    json_decref(f);

    f = facts_of("shared-unconditional.xml");
    rl = json_array_get(json_object_get(f, "rate_limits"), 0);
    assert_string_equal(json_string_value(json_object_get(rl, "element")), "rate-limit-by-key");
    assert_true(json_real_value(json_object_get(rl, "rpm")) == 300.0);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(f, "quotas"), 0), "calls")), 100000);
    json_decref(f);

    f = facts_of("pool-retry.xml");
    json_t *retry = json_array_get(json_object_get(f, "retries"), 0);
    assert_true(json_is_true(json_object_get(retry, "retries_429")));
    assert_true(json_is_true(json_object_get(retry, "retries_5xx")));
    assert_int_equal(json_integer_value(json_object_get(retry, "count")), 1);
    assert_int_equal(json_array_size(json_object_get(f, "backends")), 2);
    assert_false(json_is_true(json_object_get(json_object_get(json_object_get(f, "sections"), "backend"), "base")));
    json_decref(f);

    f = facts_of("semantic-cache.xml");
    json_t *sc = json_object_get(f, "semantic_cache");
    json_t *lookup = json_array_get(json_object_get(sc, "lookups"), 0);
    assert_true(json_real_value(json_object_get(lookup, "score_threshold")) == 0.95);
    assert_string_equal(json_string_value(json_object_get(lookup, "embeddings_backend_id")), "embeddings");
    assert_string_equal(json_string_value(json_array_get(json_object_get(lookup, "vary_by"), 0)), "@(context.Subscription.Id)");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(sc, "stores"), 0), "duration")), 3600);
    json_decref(f);

    f = facts_of("mixed-labs.xml");
    rl = json_array_get(json_object_get(f, "rate_limits"), 0);
    assert_string_equal(json_string_value(json_object_get(rl, "counter_key")), "@(context.Request.IpAddress)");
    tl = json_array_get(json_object_get(f, "token_limits"), 0);
    assert_string_equal(json_string_value(json_object_get(tl, "counter_key")), "@(\"tpm-\" + (string)context.Variables[\"oid\"])");
    retry = json_array_get(json_object_get(f, "retries"), 0);
    assert_string_equal(json_string_value(json_object_get(retry, "count")), "{retry-count}");
    assert_non_null(strstr(json_string_value(json_object_get(retry, "condition")), "!context.Response.StatusReason.Contains(\"Backend pool\")"));
    json_decref(f);

    f = facts_of("token-metrics-raw.xml");
    json_t *dims = json_object_get(json_array_get(json_object_get(f, "token_metrics"), 0), "dimensions");
    assert_int_equal(json_array_size(dims), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(dims, 1), "value")),
                        "@(context.Request.Headers.GetValueOrDefault(\"x-user-id\", \"n/a\"))");
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(f, "backends"), 0), "backend_id")),
                        "{{aoai-backend}}");
    json_decref(f);
}

/* A value-less <dimension> named like a default dimension is that dimension (llm-emit-token-metric). */
static void test_token_metric_default_dimensions(void **state)
{
    (void)state;
    const char *xml = "<policies><inbound><base /><llm-emit-token-metric namespace=\"openai\">"
                      "<dimension name=\"Subscription ID\" /><dimension name=\"api id\" />"
                      "<dimension name=\"Team\" /><dimension name=\"User\" value=\"@(context.User.Id)\" />"
                      "</llm-emit-token-metric></inbound><backend><base /></backend><outbound><base /></outbound>"
                      "<on-error><base /></on-error></policies>";
    util_error err = {0};
    policy_doc *d = policy_parse(xml, strlen(xml), &err);
    assert_non_null(d);
    json_t *f = policy_facts(d);
    json_t *dims = json_object_get(json_array_get(json_object_get(f, "token_metrics"), 0), "dimensions");
    assert_int_equal(json_array_size(dims), 4);
    assert_true(json_is_true(json_object_get(json_array_get(dims, 0), "default")));
    assert_true(json_is_null(json_object_get(json_array_get(dims, 0), "value")));
    assert_true(json_is_true(json_object_get(json_array_get(dims, 1), "default"))); /* names match case-insensitively */
    assert_null(json_object_get(json_array_get(dims, 2), "default")); /* not a default dimension */
    assert_null(json_object_get(json_array_get(dims, 3), "default")); /* has a value */
    json_decref(f);
    policy_doc_free(d);
}

static void test_condition_forms(void **state)
{
    (void)state;
    struct { const char *cond; const char *subject; const char *value; bool negated; } cases[] = {
        {"@(context.Subscription.Id == \"x\")", "subscription_id", "x", false},
        {"@(context.Subscription.Id.Equals(\"x\"))", "subscription_id", "x", false},
        {"@(\"x\" == context.Subscription.Id)", "subscription_id", "x", false},
        {"@( context.Subscription?.Id  ==  \"x\" )", "subscription_id", "x", false},
        {"@(context.Subscription.Name == \"Team X\")", "subscription_name", "Team X", false},
        {"@((string)context.Product?.Id == \"gold\")", "product_id", "gold", false},
        {"@(context.Product.Id == 'x')", "product_id", "x", false},
        {"@(string.Equals(context.Subscription.Id, \"x\"))", "subscription_id", "x", false},
        {"@(context.Subscription.Id != \"x\")", "subscription_id", "x", true},
        {"@(!context.Subscription.Id.Equals(\"x\"))", "subscription_id", "x", true},
        {"@(context.Subscription.Id == \"x\" || context.Subscription.Id == \"y\")", "subscription_id", "x", false},
        {"@(context.Subscription.Id == \"x\" || context.Product.Id == \"y\")", "other", NULL, false},
        {"@(context.Subscription.Id == \"x\" && context.Request.IpAddress == \"y\")", "other", NULL, false},
        {"@(context.Request.Headers.GetValueOrDefault(\"team\") == \"x\")", "other", NULL, false}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pol_cond c;
        pol_cond_parse(cases[i].cond, &c);
        json_t *j = pol_cond_json(cases[i].cond, &c);
        assert_string_equal(json_string_value(json_object_get(j, "subject")), cases[i].subject);
        if (cases[i].value)
            assert_string_equal(c.values[0], cases[i].value);
        assert_int_equal(c.negated, cases[i].negated);
        json_decref(j);
        pol_cond_free(&c);
    }
    pol_cond c;
    pol_cond_parse("@(context.Subscription.Id == \"x\" || context.Subscription.Id == \"y\")", &c);
    assert_int_equal(c.nvalues, 2);
    assert_string_equal(c.values[1], "y");
    pol_cond_free(&c);
}

static void test_set_attribute(void **state)
{
    (void)state;
    char *text = fixture("pool-retry.xml");
    policy_doc *d = parse_ok(text);
    util_error err = {0};
    char *out = NULL;
    assert_int_equal(policy_count_elements(d, "set-backend-service"), 2);
    assert_int_equal(policy_set_attribute(d, "set-backend-service", 1, "backend-id", "new-pool", &out, &err), 0);
    char *diff = policy_diff(text, out);
    assert_string_equal(diff, "--- before\n+++ after\n@@ -7,7 +7,7 @@\n"
                              "         <!--Retry on the pool: one less than its member count.-->\n"
                              "         <retry count=\"1\" interval=\"0\" first-fast-retry=\"true\" condition=\"@(context.Response.StatusCode == 429 || context.Response.StatusCode >= 500)\">\n"
                              "             <!--Back to the pool, which skips a tripped member -->\n"
                              "-            <set-backend-service backend-id=\"aoai-pool\" />\n"
                              "+            <set-backend-service backend-id=\"new-pool\" />\n"
                              "             <forward-request buffer-request-body=\"true\" />\n"
                              "         </retry>\n"
                              "     </backend>\n");
    free(diff);
    free(out);
    /* an absent attribute is added after the last one, in its quote style */
    assert_int_equal(policy_set_attribute(d, "forward-request", 0, "timeout", "120", &out, &err), 0);
    assert_non_null(strstr(out, "<forward-request buffer-request-body=\"true\" timeout=\"120\" />"));
    free(out);
    assert_int_equal(policy_set_attribute(d, "set-backend-service", 2, "backend-id", "x", &out, &err), UTIL_ENOTFOUND);
    policy_doc_free(d);
    free(text);
    /* raw-quote documents keep their raw expressions when an unrelated attribute changes */
    text = fixture("token-metrics-raw.xml");
    d = parse_ok(text);
    assert_int_equal(policy_set_attribute(d, "set-backend-service", 0, "backend-id", "a\"b", &out, &err), 0);
    diff = policy_diff(text, out);
    assert_string_equal(diff, "--- before\n+++ after\n@@ -1,7 +1,7 @@\n <policies>\n     <inbound>\n         <base />\n"
                              "-\t\t<set-backend-service backend-id=\"{{aoai-backend}}\" />\n"
                              "+\t\t<set-backend-service backend-id=\"a&quot;b\" />\n"
                              " \t\t<llm-emit-token-metric namespace=\"aigw\">\n"
                              " \t\t\t<dimension name=\"Subscription ID\" value=\"@(context.Subscription.Id)\" />\n"
                              " \t\t\t<dimension name=\"User\" value=\"@(context.Request.Headers.GetValueOrDefault(\"x-user-id\", \"n/a\"))\" />\n");
    free(diff);
    free(out);
    policy_doc_free(d);
    free(text);
}

static void test_insert_element(void **state)
{
    (void)state;
    char *text = fixture("semantic-cache.xml");
    policy_doc *d = parse_ok(text);
    util_error err = {0};
    char *out = NULL;
    assert_int_equal(policy_insert_element(d, "inbound", "<llm-emit-token-metric namespace=\"aigw\">\n    <dimension name=\"Subscription ID\" value=\"@(context.Subscription.Id)\" />\n</llm-emit-token-metric>", true, &out, &err), 0);
    char *diff = policy_diff(text, out);
    assert_string_equal(diff, "--- before\n+++ after\n@@ -1,6 +1,9 @@\n <policies>\n     <inbound>\n         <base />\n"
                              "+        <llm-emit-token-metric namespace=\"aigw\">\n"
                              "+            <dimension name=\"Subscription ID\" value=\"@(context.Subscription.Id)\" />\n"
                              "+        </llm-emit-token-metric>\n"
                              "         <set-backend-service backend-id=\"aoai-pool\" />\n"
                              "         <llm-semantic-cache-lookup\n"
                              "             score-threshold=\"0.95\"\n");
    free(diff);
    free(out);
    assert_int_equal(policy_insert_element(d, "outbound", "<set-header name=\"x\" exists-action=\"delete\" />", false, &out, &err), 0);
    assert_non_null(strstr(out, "        <llm-semantic-cache-store duration=\"3600\" />\n        <set-header name=\"x\" exists-action=\"delete\" />\n    </outbound>"));
    free(out);
    assert_int_equal(policy_insert_element(d, "outbound", "<set-header name=\"x\">", false, &out, &err), UTIL_EINVAL);
    assert_non_null(strstr(err.message, "not well-formed"));
    policy_doc_free(d);
    free(text);
    const char *bare = "<policies><inbound /></policies>";
    d = parse_ok(bare);
    assert_int_equal(policy_insert_element(d, "inbound", "<base />", true, &out, &err), 0);
    assert_string_equal(out, "<policies><inbound>\n    <base />\n</inbound></policies>");
    free(out);
    assert_int_equal(policy_insert_element(d, "backend", "<forward-request />", true, &out, &err), 0);
    assert_string_equal(out, "<policies><inbound />\n<backend>\n    <forward-request />\n</backend></policies>");
    free(out);
    policy_doc_free(d);
}

static void test_diff(void **state)
{
    (void)state;
    char *d = policy_diff("a\nb\nc\n", "a\nb\nc\n");
    assert_string_equal(d, "");
    free(d);
    d = policy_diff("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n", "1\n2\nX\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n15\n");
    assert_string_equal(d, "--- before\n+++ after\n@@ -1,6 +1,6 @@\n 1\n 2\n-3\n+X\n 4\n 5\n 6\n"
                           "@@ -11,5 +11,4 @@\n 11\n 12\n 13\n-14\n 15\n");
    free(d);
    d = policy_diff("a\nb", "a\nb\n");
    assert_string_equal(d, "--- before\n+++ after\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n");
    free(d);
    d = policy_diff("", "x\n");
    assert_string_equal(d, "--- before\n+++ after\n@@ -0,0 +1,1 @@\n+x\n");
    free(d);
}

/* Every lab policy Microsoft publishes parses (well-formed or rawxml) and validates. */
static void test_vendored_examples(void **state)
{
    (void)state;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/third_party/policy-examples", AIGW_TEST_FIXTURES);
    DIR *dh = opendir(dir);
    if (!dh)
        fail_msg("%s is missing (vendored with the sources)", dir);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(dh))) {
        if (!util_str_ends_with(de->d_name, ".xml"))
            continue;
        char path[1024], *text;
        size_t len;
        util_error err = {0};
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        assert_int_equal(util_read_file(path, POLICY_MAX_BYTES, &text, &len, &err), 0);
        json_t *r = NULL;
        if (policy_check(text, len, &r, &err))
            fail_msg("%s: %s", de->d_name, err.message);
        json_decref(r);
        free(text);
        n++;
    }
    closedir(dh);
    assert_true(n >= 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spans_and_round_trip), cmocka_unit_test(test_noop_edits_byte_identical),
        cmocka_unit_test(test_rawxml_expressions),
        cmocka_unit_test(test_errors_with_line_and_column), cmocka_unit_test(test_validation),
        cmocka_unit_test(test_facts), cmocka_unit_test(test_condition_forms),
        cmocka_unit_test(test_token_metric_default_dimensions),
        cmocka_unit_test(test_set_attribute), cmocka_unit_test(test_insert_element),
        cmocka_unit_test(test_diff), cmocka_unit_test(test_vendored_examples)};
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    xmlCleanupParser();
    return rc;
}
