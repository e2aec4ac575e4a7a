/* get_policy: reads the policy of an API, product, operation or the whole service as written
 * (format=rawxml, so C# expressions come back raw), with its ETag and a compact summary of what it
 * does (limits, backend, retry, semantic cache, token metrics) from policy_facts. */
#include <string.h>

#include "change.h"
#include "policy.h"

#define APPLIES_TO_MAX 160

/* Who an element applies to: "all", "otherwise", "subscription_id == a|b" or "when <expr>". */
static json_t *applies_to(const json_t *fact)
{
    const char *branch = json_string_value(json_object_get(fact, "branch"));
    json_t *cond = json_object_get(fact, "condition");
    if (!branch || !strcmp(branch, "unconditional"))
        return json_string("all");
    if (!strcmp(branch, "otherwise") || !json_is_object(cond))
        return json_string("otherwise");
    const char *subject = json_string_value(json_object_get(cond, "subject"));
    char out[APPLIES_TO_MAX];
    if (subject && strcmp(subject, "other") != 0 && json_array_size(json_object_get(cond, "values"))) {
        util_buf b;
        util_buf_init(&b, 0);
        json_t *v;
        size_t i;
        json_array_foreach(json_object_get(cond, "values"), i, v)
            util_buf_printf(&b, "%s%s", i ? "|" : "", json_string_value(v) ? json_string_value(v) : "?");
        snprintf(out, sizeof out, "%s %s %s", subject,
                 json_is_true(json_object_get(cond, "negated")) ? "!=" : "==", b.data);
        util_buf_free(&b);
    } else {
        snprintf(out, sizeof out, "when %s", json_string_value(json_object_get(cond, "expression")));
    }
    return json_string(out);
}

static bool contains_equal(json_t *array, json_t *item)
{
    json_t *x;
    size_t i;
    json_array_foreach(array, i, x)
        if (json_equal(x, item))
            return true;
    return false;
}

/* Copies the listed keys of every fact in facts[name], adding applies_to; drops repeats (a
 * backend set again inside <retry>). */
static json_t *pick(const json_t *facts, const char *name, const char *const *keys, bool with_applies)
{
    json_t *out = json_array(), *f;
    size_t i;
    json_array_foreach(json_object_get(facts, name), i, f) {
        json_t *o = json_object();
        for (const char *const *k = keys; *k; k++)
            json_object_set(o, *k, json_object_get(f, *k) ? json_object_get(f, *k) : json_null());
        if (with_applies)
            json_object_set_new(o, "applies_to", applies_to(f));
        if (!contains_equal(out, o))
            json_array_append(out, o);
        json_decref(o);
    }
    return out;
}

/* What score-threshold means (Learn, llm-/azure-openai-semantic-cache-lookup: a distance, lower
 * values require higher similarity; start about 0.05; above 0.2 risks mismatches). */
static const char *threshold_note(const json_t *th)
{
    if (json_is_number(th) && json_number_value(th) > 0.2)
        return "score-threshold is a distance: lower values require higher similarity. This value is above "
               "0.2, so the cache serves answers to prompts that are not alike; older samples (such as the 2024 "
               "AI-Gateway lab policy with 0.8) predate Microsoft's clarified text. Start near 0.05 and raise it "
               "in small steps.";
    return "score-threshold is a distance: lower values require higher similarity (fewer, safer hits); start "
           "near 0.05 and raise it in small steps for more hits, staying at or below 0.2.";
}

static json_t *cache_summary(const json_t *facts)
{
    json_t *c = json_object_get(facts, "semantic_cache");
    json_t *lookup = json_array_get(json_object_get(c, "lookups"), 0);
    json_t *store = json_array_get(json_object_get(c, "stores"), 0);
    if (!lookup && !store)
        return json_null();
    json_t *th = json_object_get(lookup, "score_threshold"), *eb = json_object_get(lookup, "embeddings_backend_id");
    json_t *du = json_object_get(store, "duration");
    return json_pack("{s:O, s:O, s:O, s:s}", "score_threshold", th ? th : json_null(), "embeddings_backend_id",
                     eb ? eb : json_null(), "duration", du ? du : json_null(), "threshold_note",
                     threshold_note(th));
}

/* The compact summary of a policy document (NEW reference). */
static json_t *summary_of(const policy_doc *doc)
{
    static const char *const tl[] = {"element", "tokens_per_minute", "token_quota", "token_quota_period",
                                     "counter_key", NULL};
    static const char *const rl[] = {"element", "calls", "renewal_period", "counter_key", NULL};
    static const char *const ql[] = {"element", "calls", "bandwidth", "renewal_period", NULL};
    static const char *const bk[] = {"backend_id", "base_url", NULL};
    static const char *const rt[] = {"count", "interval", "retries_429", "retries_5xx", NULL};
    json_t *facts = policy_facts(doc), *metrics = json_array(), *m, *no_base = json_array(), *sec;
    size_t i;
    json_array_foreach(json_object_get(facts, "token_metrics"), i, m)
        json_array_append(metrics, json_object_get(m, "namespace"));
    const char *name;
    json_object_foreach(json_object_get(facts, "sections"), name, sec)
        if (json_is_true(json_object_get(sec, "present")) && !json_is_true(json_object_get(sec, "base")))
            json_array_append_new(no_base, json_string(name));
    json_t *s = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "token_limits", pick(facts, "token_limits", tl, true),
                          "rate_limits", pick(facts, "rate_limits", rl, true), "quotas", pick(facts, "quotas", ql, true),
                          "backends", pick(facts, "backends", bk, true), "retries", pick(facts, "retries", rt, false),
                          "semantic_cache", cache_summary(facts), "token_metrics", metrics, "sections_without_base",
                          no_base);
    json_decref(facts);
    return s;
}

static void text_limits(util_buf *t, const json_t *items, const char *what, const char *key)
{
    json_t *x;
    size_t i;
    json_array_foreach(items, i, x) {
        char *v = json_dumps(json_object_get(x, key), JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
        util_buf_printf(t, "\n%s: %s=%s (%s)", what, json_string_value(json_object_get(x, "element")), v,
                        json_string_value(json_object_get(x, "applies_to")));
        free(v);
    }
}

static char *text_of(const char *label, const char *etag, const json_t *summary, const char *xml)
{
    util_buf t;
    util_buf_init(&t, 0);
    util_buf_printf(&t, "%s, ETag %s", label, etag ? etag : "none");
    text_limits(&t, json_object_get(summary, "token_limits"), "token limit", "tokens_per_minute");
    text_limits(&t, json_object_get(summary, "rate_limits"), "rate limit", "calls");
    json_t *b;
    size_t i;
    json_array_foreach(json_object_get(summary, "backends"), i, b)
        util_buf_printf(&t, "\nbackend: %s", json_string_value(json_object_get(b, "backend_id"))
                                                 ? json_string_value(json_object_get(b, "backend_id"))
                                                 : json_string_value(json_object_get(b, "base_url")));
    json_t *c = json_object_get(summary, "semantic_cache");
    if (json_is_object(c)) {
        char *th = json_dumps(json_object_get(c, "score_threshold"), JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
        char *du = json_dumps(json_object_get(c, "duration"), JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
        util_buf_printf(&t, "\nsemantic cache: score-threshold %s, duration %s s (%s)", th, du,
                        json_string_value(json_object_get(c, "threshold_note")));
        free(th);
        free(du);
    }
    util_buf_printf(&t, "\n%s", xml);
    return util_buf_steal(&t);
}

/* When a policy is absent: 0 when what it belongs to exists, else UTIL_ENOTFOUND naming it. */
static int check_parent(struct arm_client *arm, const char *path, util_error *err)
{
    if (!strcmp(path, "policies/policy"))
        return 0;
    char *parent = util_strndup(path, strlen(path) - strlen("/policies/policy"));
    struct arm_result res = {0};
    int rc = arm_get(arm, parent, &res, err);
    if (rc == UTIL_ENOTFOUND)
        util_error_set(err, rc, "%s does not exist in the APIM service; list_apis shows the ids", parent);
    arm_result_free(&res);
    free(parent);
    return rc;
}

static json_t *get_policy(struct mcp_call *call, json_t *args, void *user)
{
    struct tools_ctx *ctx = user;
    util_error err = {0};
    const char *scope = json_string_value(json_object_get(args, "scope"));
    char *path = tools_policy_path(scope, json_string_value(json_object_get(args, "api_id")),
                                   json_string_value(json_object_get(args, "product_id")),
                                   json_string_value(json_object_get(args, "operation_id")), &err);
    struct arm_client *arm = path ? tools_call_arm(ctx, call, &err) : NULL;
    json_t *body = NULL;
    char *etag = NULL;
    if (!arm || change_read(arm, path, "format=rawxml", &body, &etag, &err) || (!body && check_parent(arm, path, &err))) {
        free(path);
        return tools_fail(ctx, &err);
    }
    const char *xml = change_policy_text(body);
    policy_doc *doc = xml ? policy_parse(xml, strlen(xml), &err) : NULL;
    json_t *summary = doc ? summary_of(doc) : json_null();
    policy_doc_free(doc);
    char *label = change_policy_label(path);
    json_t *s = json_pack("{s:s, s:s, s:b, s:s, s:o, s:o}", "scope", scope ? scope : "api", "path", path, "exists",
                          body != NULL, "policy_xml", xml ? xml : "", "etag", etag ? json_string(etag) : json_null(),
                          "summary", summary);
    if (xml && !doc)
        json_object_set_new(s, "parse_error", json_string(err.message));
    char *text = body ? text_of(label, etag, summary, xml ? xml : "")
                      : util_printf("%s does not exist: only outer scopes' policies apply.", label);
    json_t *r = tools_ok(ctx, s, text);
    free(text);
    free(label);
    free(path);
    free(etag);
    json_decref(body);
    return r;
}

const struct mcp_tool tools_get_policy = {
    .name = "get_policy",
    .title = "Read a policy",
    .description = "Reads the policy XML at a scope (api by default, product, operation, global) as written, "
                   "with its ETag and a summary: token and rate limits and whom they apply to, backend, retry, "
                   "semantic cache, token metrics.",
    .input_schema = "{\"type\":\"object\",\"properties\":{" CHANGE_POLICY_SCOPE_PROPS "},\"required\":[\"api_id\"],"
                    "\"additionalProperties\":false}",
    .output_schema = "{\"type\":\"object\",\"properties\":{\"exists\":{\"type\":\"boolean\"},\"policy_xml\":{\"type\":\"string\"},\"etag\":"
                     "{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]},\"summary\":{\"anyOf\":[{\"type\":\"object\"},{\"type\":\"null\"}]}},\"required\":"
                     "[\"exists\",\"policy_xml\",\"etag\",\"summary\"]}",
    .read_only_hint = true,
    .idempotent_hint = true,
    .fn = get_policy,
};
