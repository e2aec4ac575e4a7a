/*
 * policy: the pure APIM policy layer — XML text in, XML text or facts out. No network, no MCP,
 * no ARM. It reads policy documents as APIM's `rawxml` format allows (C# expressions `@(...)` /
 * `@{...}` with raw `"`, `<` or `&&` inside attributes, `{{named-values}}`), validates their
 * structure, extracts facts (limits, backend, retry, semantic cache, token metrics), edits them by
 * splicing changed text into the ORIGINAL source (an unchanged document round-trips byte for
 * byte; comments, attribute order, indentation and quote style are kept), diffs two documents,
 * and computes / edits per-subscription quotas (tools.md section 4, docs/quotas.md).
 *
 * Ownership: policy_parse returns a policy_doc the caller frees with policy_doc_free; the doc
 * keeps its own copy of the text. Every `char **out` receives heap memory the caller free()s.
 * Every json_t * returned is a NEW reference the caller json_decref()s. Strings passed in are
 * borrowed for the duration of the call only.
 *
 * Threads: no state is shared between calls; libxml2 initialises itself on the first parse, so
 * make the first call (any policy_parse) from one thread before using the module from several.
 */
#ifndef AIGW_POLICY_H
#define AIGW_POLICY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Hard cap on a policy document (APIM itself refuses far smaller ones). */
#define POLICY_MAX_BYTES (1024u * 1024u)

typedef struct policy_doc policy_doc;

/* ---- parsing ---------------------------------------------------------------------------- */

/* Parses a policy document (rawxml accepted). On error returns NULL and sets err (UTIL_EINVAL,
 * or UTIL_ELIMIT past POLICY_MAX_BYTES) with "line L, column C: ..." in terms of `text`
 * (1-based, columns counted in characters). */
policy_doc *policy_parse(const char *text, size_t len, util_error *err);
/* Initialises libxml2 once; call before parsing on several threads (parsing is then thread-safe:
 * every call uses its own parser context and document). */
void policy_init(void);
void policy_doc_free(policy_doc *doc);
/* The original text (borrowed, NUL-terminated) and its length. */
const char *policy_doc_text(const policy_doc *doc);
size_t policy_doc_len(const policy_doc *doc);

/* ---- validation ------------------------------------------------------------------------- */

/* Structure check: root <policies>, sections inbound/backend/outbound/on-error at most once
 * each (unknown or duplicate sections are errors), <base /> at most once per section (error),
 * directly in it (nested: warning); a section without it is a warning (outer scopes' policies
 * will not run there), so is a missing section.
 * Returns a new {"valid": bool, "errors": [...], "warnings": [...]}, each item
 * {"line", "column", "message"}. */
json_t *policy_validate(const policy_doc *doc);

/* Parse + validate in one call (what apply_policy needs). Returns 0 when valid (warnings may
 * exist), else UTIL_EINVAL / UTIL_ELIMIT with the first error in err. *report (may be NULL)
 * receives the validate object, or {"valid": false, "errors": [the parse error]} . */
int policy_check(const char *text, size_t len, json_t **report, util_error *err);

/* ---- facts ------------------------------------------------------------------------------ */

/* Facts about what the document does (new reference):
 * {"sections": {"inbound": {"present", "base"}, ...},
 *  "token_limits": [{element, section, tokens_per_minute, token_quota, token_quota_period,
 *                    counter_key, estimate_prompt_tokens, remaining_tokens_variable_name,
 *                    branch, condition, line}],
 *  "rate_limits":  [{element, section, calls, renewal_period, rpm, counter_key, branch, condition, line}],
 *  "quotas":       [{element, section, calls, bandwidth, renewal_period, counter_key, branch, condition, line}],
 *  "backends":     [{section, backend_id, base_url, branch, condition, line}],
 *  "retries":      [{section, condition, count, interval, first_fast_retry, retries_429, retries_5xx, line}],
 *  "semantic_cache": {"lookups": [{element, section, score_threshold, embeddings_backend_id,
 *                                  embeddings_backend_auth, vary_by: [..], line}],
 *                     "stores": [{element, section, duration, line}]},
 *  "token_metrics": [{element, namespace, dimensions: [{name, value}], line}]}
 * Numeric attributes are integers/reals when literal, else the raw string (placeholder,
 * {{named-value}} or expression). `branch` is "unconditional", "when" or "otherwise";
 * `condition` is null or {"expression", "subject" ("subscription_id" | "subscription_name" |
 * "product_id" | "other"), "values": [...], "negated"} for the innermost enclosing branch. */
json_t *policy_facts(const policy_doc *doc);

/* ---- generic edits (return the whole new text in *out) --------------------------------- */

/* Number of elements named `element` in document order. */
size_t policy_count_elements(const policy_doc *doc, const char *element);
/* Sets (or adds) attribute `attr` = `value` (plain text, escaped here) on the nth (0-based)
 * element named `element`. UTIL_ENOTFOUND when there is no such element. */
int policy_set_attribute(const policy_doc *doc, const char *element, size_t nth, const char *attr,
                         const char *value, char **out, util_error *err);
/* Inserts `element_xml` (one well-formed element) into `section` (inbound|backend|outbound|
 * on-error), after its <base /> when `after_base` and there is one, else at its end; indented
 * like its siblings. The section is created when missing. */
int policy_insert_element(const policy_doc *doc, const char *section, const char *element_xml,
                          bool after_base, char **out, util_error *err);

/* ---- diff ------------------------------------------------------------------------------- */

/* Unified diff ("--- before" / "+++ after", @@ hunks, 3 lines of context). "" when equal.
 * Returns heap memory (never NULL). */
char *policy_diff(const char *before, const char *after);

/* ---- per-subscription quotas (tools.md section 4) -------------------------------------- */

#define POLICY_CHAIN_MAX 4
#define POLICY_TPM_MAX 100000000LL
#define POLICY_RPM_MAX 1000000LL

/* A policy document at one scope. scope is a label used in sources, e.g. "global",
 * "product:gold", "api:aoai". text NULL = no policy there (behaves as <base /> only). */
typedef struct policy_quota_doc {
    const char *scope;
    const char *text;
} policy_quota_doc;

/* A subscription: id is what context.Subscription.Id returns (the resource name), name its
 * display name (context.Subscription.Name, may be NULL), product_id (context.Product.Id, NULL
 * when scoped to an API or all APIs). chain: indexes into the docs that run for its requests,
 * OUTERMOST FIRST (e.g. global, product, api); a scope runs only when every inner scope's
 * inbound keeps <base />. home: index into docs where a new limit for it is added (its product
 * policy, or the API / global policy for api / all_apis subscriptions). */
typedef struct policy_quota_sub {
    const char *id;
    const char *name;
    const char *product_id;
    size_t chain[POLICY_CHAIN_MAX];
    size_t chain_len;
    size_t home;
} policy_quota_sub;

/* Effective limits of one subscription. tpm/rpm are the minimum over every element of its OWN
 * that runs for it (counter-key the subscription; all are enforced); *_source says "scope element
 * (branch)". Limits keyed by anything else are shared pools, described in shared_source and not
 * counted; a global <rate-limit> is not counted (note). uncertain: a <when> whose condition could
 * not be evaluated came before the chosen branch (reported in note). */
typedef struct policy_limits {
    bool has_tpm, has_rpm, has_token_quota, has_quota;
    int64_t tpm;
    double rpm;
    int64_t token_quota;
    char token_quota_period[32];
    int64_t quota_calls, quota_renewal_period;
    char tpm_source[256], rpm_source[256];
    char shared_source[768]; /* shared pools that also run for it (keyed by something else), or "" */
    bool uncertain;
    bool duplicate_keys;     /* two own limits of one kind at different scopes share a counter-key */
    char note[512];          /* uncertain branches, a global <rate-limit> not counted, shared keys */
} policy_limits;

int policy_quota_effective(const policy_quota_doc *docs, size_t ndocs, const policy_quota_sub *sub,
                           policy_limits *out, util_error *err);
/* The same for nsubs subscriptions at once (each document parsed once); out has nsubs entries.
 * UTIL_EINVAL when a document cannot be read or a chain is invalid. */
int policy_quota_effective_all(const policy_quota_doc *docs, size_t ndocs, const policy_quota_sub *subs,
                               size_t nsubs, policy_limits *out, util_error *err);
/* {"tpm", "rpm", "quota_source", "token_quota", "token_quota_period", "quota_calls",
 *  "quota_renewal_period", "note"} — extras only when present; tpm/rpm null when it has no limit
 * of its own; quota_source is one string ("tpm: ...; rpm: ..." when they differ, then the shared
 * pools), null when there is neither. rpm is an integer when whole. New reference. */
json_t *policy_limits_json(const policy_limits *lim);
/* true when the enforced values (not the sources) are identical. */
bool policy_limits_equal(const policy_limits *a, const policy_limits *b);

enum policy_quota_op { POLICY_QUOTA_KEEP = 0, POLICY_QUOTA_SET, POLICY_QUOTA_REMOVE };

typedef struct policy_quota_change {
    int tpm_op; /* enum policy_quota_op */
    int64_t tpm;
    int rpm_op;
    int64_t rpm;
} policy_quota_change;

typedef struct policy_quota_result {
    char **texts;          /* ndocs entries: the new text, or NULL when that doc is unchanged
                              (set where docs[i].text was NULL: that scope's policy is created) */
    size_t ndocs;
    policy_limits before;  /* the target's effective limits before and after */
    policy_limits after;
    char note[512];        /* what was done, in a sentence or two */
} policy_quota_result;

/* Changes subs[target]'s tpm/rpm only (docs/quotas.md). Validates values (1..POLICY_TPM_MAX /
 * POLICY_RPM_MAX); for each limit element of that kind that runs for it: edits its own branch,
 * or the product-level element when only this subscription runs it (said in note), or adds a
 * branch for it before the shared one (the old element kept for the others, e.g. as
 * <otherwise>); with none, adds a limit for it alone in its home scope. REMOVE deletes its own
 * element (and the emptied branch). Then recomputes every sub's limits on the new documents and
 * refuses (UTIL_EINVAL, nothing changed) when another sub's limits would differ (naming them),
 * when the target would not end with the value asked, when its other limit would move, or when
 * a <choose> holding limits for it tests something else than subscription/product id.
 * subs must list EVERY known subscription. On success fills *res (texts[i] NULL = unchanged;
 * all NULL = nothing to do, see note); free with policy_quota_result_free. */
int policy_quota_update(const policy_quota_doc *docs, size_t ndocs, const policy_quota_sub *subs,
                        size_t nsubs, size_t target, const policy_quota_change *change,
                        policy_quota_result *res, util_error *err);
void policy_quota_result_free(policy_quota_result *res);

#endif
