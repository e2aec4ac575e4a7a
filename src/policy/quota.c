/*
 * policy/quota.c: per-subscription quotas (tools.md section 4, docs/quotas.md). Works out which
 * limit elements run for a subscription's requests (scopes from innermost out while <base />
 * is kept; <choose> evaluated for its id, name and product), its effective tpm/rpm (every
 * element that runs is enforced: the minimum wins), and edits one subscription's tpm/rpm while
 * checking that every other subscription's effective limits stay identical.
 *
 * Counter keys (Learn, llm-token-limit: "For each key value, a single counter is used for all
 * scopes at which the policy is configured"; rate-limit-by-key likewise): only an element whose
 * counter-key is the subscription (optionally joined with string literals) is a team's own
 * limit; one keyed by anything else is a shared pool, reported and never edited; <rate-limit>
 * (per subscription) is valid at product, API and operation scope only, so a global one is
 * flagged, not counted; and an edit never leaves two elements of one kind with the same key
 * running for a subscription at different scopes (a new one gets a scope-specific key).
 */
#include "policy_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { K_NONE = 0, K_TOKEN, K_RATE, K_QUOTA };

typedef struct qhit { size_t doc; xmlNodePtr node; } qhit;

typedef struct qrun {
    qhit *lim;     /* the subscription's own limit elements that run, innermost scope first */
    size_t nlim;
    qhit *whens;   /* <when> / <otherwise> branches taken */
    size_t nwhens;
    qhit *pools;   /* shared pools that run: a limit keyed by something else than the subscription */
    size_t npools;
    qhit *flagged; /* <rate-limit> in the global policy (not valid there): not counted */
    size_t nflagged;
    bool in_global; /* while walking the global policy */
    bool uncertain;
    const struct qctx *q;
} qrun;

/* What one element means for quotas, worked out once per parsed document (not per subscription):
 * its limit kind, whether it is a shared pool, whether it holds limits (for <choose>) and, for a
 * <when>, its parsed condition. */
typedef struct qnode {
    signed char kind;
    bool pool, holds_limit;
    pol_cond cond;
} qnode;

typedef struct qctx {
    const policy_quota_doc *docs;
    size_t ndocs;
    char **texts;     /* current texts (owned), NULL = no policy */
    policy_doc **pd;
    qnode **info;     /* info[doc][element index], parallel to pd[doc]->elems */
    bool plain_remove; /* remove only the element, never its emptied branch */
} qctx;

/* ---- which elements run --------------------------------------------------------------- */

#define SUB_KEY "@(context.Subscription.Id)"

/* The counter-key as compared: whitespace dropped, "?." read as "." (NULL when absent). */
static char *norm_key(xmlNodePtr n)
{
    char *key = pol_attr_dup(n, "counter-key");
    if (!key)
        return NULL;
    size_t w = 0;
    for (size_t r = 0; key[r]; r++) {
        if (key[r] == ' ' || key[r] == '\t' || key[r] == '\n' || key[r] == '\r')
            continue;
        if (key[r] == '?' && key[r + 1] == '.')
            continue;
        key[w++] = key[r];
    }
    key[w] = '\0';
    return key;
}

/* One counter per subscription: @(context.Subscription.Id) (or .Key), alone or joined by + with
 * string literals only (e.g. the scope-specific keys written here). */
static bool key_is_subscription(const char *k)
{
    size_t n = k ? strlen(k) : 0;
    if (n < 4 || strncmp(k, "@(", 2) != 0 || k[n - 1] != ')')
        return false;
    int subjects = 0;
    for (size_t i = 2; i < n - 1;) {
        if (k[i] == '"') {
            for (i++; i < n - 1 && k[i] != '"'; i++)
                if (k[i] == '\\')
                    i++;
            if (i >= n - 1)
                return false;
            i++;
        } else {
            static const char *const subj[] = {"context.Subscription.Id", "context.Subscription.Key"};
            size_t len = 0;
            for (size_t j = 0; j < 2 && !len; j++)
                if (strncmp(k + i, subj[j], strlen(subj[j])) == 0)
                    len = strlen(subj[j]);
            if (!len)
                return false;
            subjects++;
            i += len;
        }
        if (i < n - 1 && k[i++] != '+')
            return false;
    }
    return subjects == 1;
}

static bool keyed_by_subscription(xmlNodePtr n)
{
    char *key = norm_key(n);
    bool yes = key_is_subscription(key);
    free(key);
    return yes;
}

static bool is_token_element(xmlNodePtr n)
{
    return pol_is(n, "llm-token-limit") || pol_is(n, "azure-openai-token-limit");
}

/* The kind of a subscription's own limit element, else K_NONE. */
static int limit_kind(xmlNodePtr n)
{
    if (is_token_element(n))
        return keyed_by_subscription(n) ? K_TOKEN : K_NONE;
    if (pol_is(n, "rate-limit") || (pol_is(n, "rate-limit-by-key") && keyed_by_subscription(n)))
        return K_RATE;
    if (pol_is(n, "quota") || (pol_is(n, "quota-by-key") && keyed_by_subscription(n)))
        return K_QUOTA;
    return K_NONE;
}

/* A limit keyed by something else than the subscription: one counter shared by every request
 * with that key (IP, product, a constant...). */
static bool is_pool(xmlNodePtr n)
{
    return (is_token_element(n) || pol_is(n, "rate-limit-by-key") || pol_is(n, "quota-by-key")) &&
           !keyed_by_subscription(n);
}

static void push(qhit **v, size_t *n, size_t doc, xmlNodePtr node)
{
    *v = realloc(*v, (*n + 1) * sizeof **v);
    if (!*v)
        abort();
    (*v)[(*n)++] = (qhit){doc, node};
}

/* 1 true, 0 false, -1 not understood */
static int eval_when(const pol_cond *c, const policy_quota_sub *s)
{
    const char *subject = c->subject == POL_SUBJ_SUB_ID ? s->id : c->subject == POL_SUBJ_SUB_NAME ? s->name
                          : c->subject == POL_SUBJ_PRODUCT_ID ? s->product_id : NULL;
    int r = c->subject == POL_SUBJ_OTHER ? -1 : 0;
    for (size_t i = 0; r == 0 && subject && i < c->nvalues; i++)
        r = strcmp(subject, c->values[i]) == 0;
    if (r >= 0 && c->negated)
        r = !r;
    return r;
}

static const qnode *node_info(const qctx *q, size_t doc, xmlNodePtr n)
{
    return &q->info[doc][pol_elem_of(n) - q->pd[doc]->elems];
}

static void walk(size_t doc, xmlNodePtr n, const policy_quota_sub *s, qrun *run);

/* Fills info for n's subtree; true when it holds a limit or pool element below n. */
static bool info_fill(const policy_doc *d, qnode *info, xmlNodePtr n)
{
    bool holds = false;
    for (xmlNodePtr c = pol_first_child(n); c; c = pol_next(c)) {
        qnode *qn = &info[pol_elem_of(c) - d->elems];
        qn->kind = (signed char)limit_kind(c);
        qn->pool = is_pool(c);
        if (pol_is(c, "when")) {
            char *expr = pol_attr_dup(c, "condition");
            pol_cond_parse(expr, &qn->cond);
            free(expr);
        }
        qn->holds_limit = info_fill(d, info, c);
        holds |= qn->kind || qn->pool || qn->holds_limit;
    }
    return holds;
}

static void walk_choose(size_t doc, xmlNodePtr choose, const policy_quota_sub *s, qrun *run)
{
    bool holds = node_info(run->q, doc, choose)->holds_limit;
    for (xmlNodePtr b = pol_first_child(choose); b; b = pol_next(b)) {
        if (pol_is(b, "otherwise")) {
            push(&run->whens, &run->nwhens, doc, b);
            walk(doc, b, s, run);
            return;
        }
        if (!pol_is(b, "when"))
            continue;
        int r = eval_when(&node_info(run->q, doc, b)->cond, s);
        if (r < 0 && holds)
            run->uncertain = true;
        if (r == 1) {
            push(&run->whens, &run->nwhens, doc, b);
            walk(doc, b, s, run);
            return;
        }
    }
}

static void walk(size_t doc, xmlNodePtr n, const policy_quota_sub *s, qrun *run)
{
    for (xmlNodePtr c = pol_first_child(n); c; c = pol_next(c)) {
        const qnode *qn = node_info(run->q, doc, c);
        if (pol_is(c, "choose"))
            walk_choose(doc, c, s, run);
        else if (run->in_global && pol_is(c, "rate-limit"))
            push(&run->flagged, &run->nflagged, doc, c);
        else if (qn->kind)
            push(&run->lim, &run->nlim, doc, c);
        else if (qn->pool)
            push(&run->pools, &run->npools, doc, c);
        else
            walk(doc, c, s, run);
    }
}

static void run_free(qrun *r)
{
    free(r->lim);
    free(r->whens);
    free(r->pools);
    free(r->flagged);
    memset(r, 0, sizeof *r);
}

static void collect(const qctx *q, const policy_quota_sub *s, qrun *run)
{
    memset(run, 0, sizeof *run);
    run->q = q;
    for (size_t k = s->chain_len; k-- > 0;) {
        const policy_doc *d = q->pd[s->chain[k]];
        if (!d)
            continue;
        xmlNodePtr inbound = pol_section(d, "inbound");
        run->in_global = strcmp(q->docs[s->chain[k]].scope, "global") == 0;
        walk(s->chain[k], inbound, s, run);
        if (inbound && !pol_section_has_base(inbound))
            break;
    }
}

/* ---- effective limits ----------------------------------------------------------------- */

static bool int_attr(xmlNodePtr n, const char *name, int64_t *v)
{
    char *s = pol_attr_dup(n, name), *end = NULL;
    long long x = s ? strtoll(s, &end, 10) : 0;
    bool ok = s && *s && !*end && x > 0;
    free(s);
    if (ok)
        *v = x;
    return ok;
}

static void describe(const qctx *q, qhit h, char *out, size_t n)
{
    const char *branch = "unconditional";
    char *expr = NULL;
    for (xmlNodePtr p = h.node->parent; p && p->type == XML_ELEMENT_NODE; p = p->parent) {
        if (pol_is(p, "otherwise")) {
            branch = "otherwise";
            break;
        }
        if (pol_is(p, "when")) {
            expr = pol_attr_dup(p, "condition");
            break;
        }
    }
    if (expr)
        snprintf(out, n, "%s policy, <%s> in <when condition=\"%s\">", q->docs[h.doc].scope,
                 (const char *)h.node->name, expr);
    else
        snprintf(out, n, "%s policy, <%s> (%s)", q->docs[h.doc].scope, (const char *)h.node->name, branch);
    free(expr);
}

static void note_add(char *note, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note_add(char *note, size_t n, const char *fmt, ...)
{
    size_t used = strlen(note);
    if (used + 2 >= n)
        return;
    if (used)
        note[used++] = ' ', note[used] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(note + used, n - used, fmt, ap);
    va_end(ap);
}

/* Shared pools that run for the sub, as sentences in out->shared_source. */
static void describe_pools(const qctx *q, const qrun *run, policy_limits *out)
{
    for (size_t i = 0; i < run->npools; i++) {
        char where[300];
        describe(q, run->pools[i], where, sizeof where);
        char *key = pol_attr_dup(run->pools[i].node, "counter-key");
        int64_t v = 0;
        bool tok = is_token_element(run->pools[i].node);
        bool has = int_attr(run->pools[i].node, tok ? "tokens-per-minute" : "calls", &v);
        char val[48] = "";
        if (has)
            snprintf(val, sizeof val, " %s=%lld", tok ? "tokens-per-minute" : "calls", (long long)v);
        note_add(out->shared_source, sizeof out->shared_source, "shared pool: %s%s keyed by %s (one counter for "
                 "every request with that key, not this subscription's own limit).", where, val,
                 key ? key : "(no counter-key)");
        free(key);
    }
}

static bool same_family(xmlNodePtr a, xmlNodePtr b)
{
    int ka = limit_kind(a), kb = limit_kind(b);
    return ka == kb && (ka != K_RATE || pol_is(a, "rate-limit-by-key") == pol_is(b, "rate-limit-by-key")) &&
           (ka != K_QUOTA || pol_is(a, "quota-by-key") == pol_is(b, "quota-by-key"));
}

/* Pairs of the sub's own limits of one kind, at different scopes, with the same counter-key. */
static size_t duplicate_pairs(const qrun *run)
{
    size_t n = 0;
    for (size_t i = 0; i < run->nlim; i++)
        for (size_t j = i + 1; j < run->nlim; j++) {
            if (run->lim[i].doc == run->lim[j].doc || !same_family(run->lim[i].node, run->lim[j].node))
                continue;
            char *a = norm_key(run->lim[i].node), *b = norm_key(run->lim[j].node);
            n += a && b && strcmp(a, b) == 0;
            free(a);
            free(b);
        }
    return n;
}

static void effective(const qctx *q, const qrun *run, policy_limits *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < run->nlim; i++) {
        xmlNodePtr n = run->lim[i].node;
        int64_t a, b;
        switch (limit_kind(n)) {
        case K_TOKEN:
            if (int_attr(n, "tokens-per-minute", &a) && (!out->has_tpm || a < out->tpm)) {
                out->has_tpm = true;
                out->tpm = a;
                describe(q, run->lim[i], out->tpm_source, sizeof out->tpm_source);
            }
            if (!out->has_token_quota && int_attr(n, "token-quota", &a)) {
                char *period = pol_attr_dup(n, "token-quota-period");
                out->has_token_quota = true;
                out->token_quota = a;
                snprintf(out->token_quota_period, sizeof out->token_quota_period, "%s", period ? period : "");
                free(period);
            }
            break;
        case K_RATE:
            if (int_attr(n, "calls", &a) && int_attr(n, "renewal-period", &b) &&
                (!out->has_rpm || (double)a * 60.0 / (double)b < out->rpm)) {
                out->has_rpm = true;
                out->rpm = (double)a * 60.0 / (double)b;
                describe(q, run->lim[i], out->rpm_source, sizeof out->rpm_source);
            }
            break;
        case K_QUOTA:
            if (int_attr(n, "calls", &a) && int_attr(n, "renewal-period", &b) && (!out->has_quota || a < out->quota_calls)) {
                out->has_quota = true;
                out->quota_calls = a;
                out->quota_renewal_period = b;
            }
            break;
        }
    }
    out->uncertain = run->uncertain;
    if (run->uncertain)
        note_add(out->note, sizeof out->note, "A <choose> holding limits tests something other than the "
                 "subscription or product id; the limits shown assume those conditions are false.");
    describe_pools(q, run, out);
    for (size_t i = 0; i < run->nflagged; i++)
        note_add(out->note, sizeof out->note, "The global policy's <rate-limit> is not counted: rate-limit is "
                 "valid at product, API and operation scope only; use rate-limit-by-key there.");
    out->duplicate_keys = duplicate_pairs(run) > 0;
    if (out->duplicate_keys)
        note_add(out->note, sizeof out->note, "Two of its limits of one kind at different scopes have the same "
                 "counter-key, so one counter serves both and each request counts against both; give one a "
                 "scope-specific key.");
}

static int check_inputs(size_t ndocs, const policy_quota_sub *s, util_error *err)
{
    if (!s || !s->id || !*s->id)
        return util_error_set(err, UTIL_EINVAL, "a subscription id is required");
    if (s->chain_len > POLICY_CHAIN_MAX || s->home >= ndocs)
        return util_error_set(err, UTIL_EINVAL, "subscription %s: its policy chain is invalid (at most %d "
                              "scopes, home within the %zu documents)", s->id, POLICY_CHAIN_MAX, ndocs);
    for (size_t k = 0; k < s->chain_len; k++)
        if (s->chain[k] >= ndocs)
            return util_error_set(err, UTIL_EINVAL, "subscription %s: chain entry %zu is not one of the %zu "
                                  "policy documents", s->id, s->chain[k], ndocs);
    return 0;
}

static void qctx_drop_parsed(qctx *q)
{
    for (size_t i = 0; q->pd && i < q->ndocs; i++) {
        for (size_t k = 0; q->pd[i] && q->info[i] && k < q->pd[i]->nelems; k++)
            pol_cond_free(&q->info[i][k].cond);
        free(q->info[i]);
        policy_doc_free(q->pd[i]);
    }
    free(q->pd);
    free(q->info);
    q->pd = NULL;
    q->info = NULL;
}

/* Parses texts[i] into pd[i] and works out its elements' facts once; NULL when unreadable. */
static policy_doc *qctx_parse_one(qctx *q, size_t i, util_error *err)
{
    q->pd[i] = policy_parse(q->texts[i], strlen(q->texts[i]), err);
    if (!q->pd[i])
        return NULL;
    q->info[i] = calloc(q->pd[i]->nelems ? q->pd[i]->nelems : 1, sizeof **q->info);
    if (!q->info[i])
        abort();
    info_fill(q->pd[i], q->info[i], xmlDocGetRootElement(q->pd[i]->xml));
    return q->pd[i];
}

static int qctx_parse(qctx *q, util_error *err)
{
    qctx_drop_parsed(q);
    q->pd = calloc(q->ndocs ? q->ndocs : 1, sizeof *q->pd);
    q->info = calloc(q->ndocs ? q->ndocs : 1, sizeof *q->info);
    if (!q->pd || !q->info)
        abort();
    for (size_t i = 0; i < q->ndocs; i++) {
        if (!q->texts[i])
            continue;
        if (!qctx_parse_one(q, i, err)) {
            util_error_prefix(err, "the %s policy cannot be read", q->docs[i].scope);
            return err && err->code ? err->code : UTIL_EINVAL;
        }
    }
    return 0;
}

/* After an edit of texts[i]: only that document is parsed anew (the others' trees, and their facts,
 * are unchanged), so a plan parses each document once plus once per edit. */
static int qctx_reparse(qctx *q, size_t i, util_error *err)
{
    for (size_t k = 0; q->pd[i] && q->info[i] && k < q->pd[i]->nelems; k++)
        pol_cond_free(&q->info[i][k].cond);
    free(q->info[i]);
    policy_doc_free(q->pd[i]);
    q->pd[i] = NULL;
    q->info[i] = NULL;
    if (q->texts[i] && !qctx_parse_one(q, i, err)) {
        util_error_prefix(err, "the %s policy cannot be read", q->docs[i].scope);
        return err && err->code ? err->code : UTIL_EINVAL;
    }
    return 0;
}

static int qctx_init(qctx *q, const policy_quota_doc *docs, size_t ndocs, util_error *err)
{
    q->docs = docs;
    q->ndocs = ndocs;
    q->pd = NULL;
    q->info = NULL;
    q->plain_remove = false;
    q->texts = calloc(ndocs ? ndocs : 1, sizeof *q->texts);
    if (!q->texts)
        abort();
    for (size_t i = 0; i < ndocs; i++)
        q->texts[i] = util_strdup(docs[i].text);
    return qctx_parse(q, err);
}

static void qctx_free(qctx *q)
{
    qctx_drop_parsed(q);
    for (size_t i = 0; q->texts && i < q->ndocs; i++)
        free(q->texts[i]);
    free(q->texts);
}

static void limits_of(const qctx *q, const policy_quota_sub *s, policy_limits *out)
{
    qrun run;
    collect(q, s, &run);
    effective(q, &run, out);
    run_free(&run);
}

int policy_quota_effective_all(const policy_quota_doc *docs, size_t ndocs, const policy_quota_sub *subs,
                               size_t nsubs, policy_limits *out, util_error *err)
{
    for (size_t i = 0; i < nsubs; i++) {
        int rc = check_inputs(ndocs, &subs[i], err);
        if (rc)
            return rc;
    }
    qctx q;
    int rc = qctx_init(&q, docs, ndocs, err);
    for (size_t i = 0; !rc && i < nsubs; i++)
        limits_of(&q, &subs[i], &out[i]);
    qctx_free(&q);
    return rc;
}

int policy_quota_effective(const policy_quota_doc *docs, size_t ndocs, const policy_quota_sub *sub,
                           policy_limits *out, util_error *err)
{
    return policy_quota_effective_all(docs, ndocs, sub, 1, out, err);
}

json_t *policy_limits_json(const policy_limits *l)
{
    util_buf b;
    util_buf_init(&b, 0);
    if (l->has_tpm && l->has_rpm && strcmp(l->tpm_source, l->rpm_source) != 0)
        util_buf_printf(&b, "tpm: %s; rpm: %s", l->tpm_source, l->rpm_source);
    else if (l->has_tpm || l->has_rpm)
        util_buf_puts(&b, l->has_tpm ? l->tpm_source : l->rpm_source);
    if (l->shared_source[0])
        util_buf_printf(&b, "%s%s", b.len ? "; " : "", l->shared_source);
    json_t *src = b.len ? json_stringn(b.data, b.len) : json_null();
    util_buf_free(&b);
    json_t *rpm = !l->has_rpm ? json_null()
                  : l->rpm == (double)(json_int_t)l->rpm ? json_integer((json_int_t)l->rpm) : json_real(l->rpm);
    json_t *o = json_pack("{s:o, s:o, s:o}", "tpm", l->has_tpm ? json_integer(l->tpm) : json_null(), "rpm", rpm,
                          "quota_source", src ? src : json_null());
    if (l->has_token_quota) {
        json_object_set_new(o, "token_quota", json_integer(l->token_quota));
        json_object_set_new(o, "token_quota_period", json_string(l->token_quota_period));
    }
    if (l->has_quota) {
        json_object_set_new(o, "quota_calls", json_integer(l->quota_calls));
        json_object_set_new(o, "quota_renewal_period", json_integer(l->quota_renewal_period));
    }
    if (l->note[0])
        json_object_set_new(o, "note", json_string(l->note));
    return o;
}

static bool same_rate(double a, double b) { return a - b < 1e-9 && b - a < 1e-9; }

bool policy_limits_equal(const policy_limits *a, const policy_limits *b)
{
    return a->has_tpm == b->has_tpm && (!a->has_tpm || a->tpm == b->tpm) && a->has_rpm == b->has_rpm &&
           (!a->has_rpm || same_rate(a->rpm, b->rpm)) && a->has_token_quota == b->has_token_quota &&
           (!a->has_token_quota || (a->token_quota == b->token_quota &&
                                    strcmp(a->token_quota_period, b->token_quota_period) == 0)) &&
           a->has_quota == b->has_quota &&
           (!a->has_quota || (a->quota_calls == b->quota_calls && a->quota_renewal_period == b->quota_renewal_period));
}

/* ---- edits ---------------------------------------------------------------------------- */

/* ---- edits ---------------------------------------------------------------------------- */

typedef struct repl { size_t start, end; char *text; } repl;
typedef struct repls { repl *v; size_t n; } repls;

static void repls_add(repls *r, size_t start, size_t end, char *text)
{
    r->v = realloc(r->v, (r->n + 1) * sizeof *r->v);
    if (!r->v)
        abort();
    r->v[r->n++] = (repl){start, end, text};
}

static void repls_free(repls *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i].text);
    free(r->v);
    r->v = NULL;
    r->n = 0;
}

/* A single-quoted attribute value, quotes included — 'prefix"LIT"suffix' — written as Microsoft's
 * labs write expressions (raw double quotes; the document is sent as rawxml, "non XML encoded"),
 * LIT escaped for a C# string (\\, \") and for the attribute (&amp; &lt; &apos;). */
static char *sq_expr(const char *prefix, const char *lit, const char *suffix)
{
    util_buf b;
    util_buf_init(&b, 0);
    util_buf_printf(&b, "'%s\"", prefix);
    for (const char *p = lit; *p; p++) {
        if (*p == '\\' || *p == '"')
            util_buf_puts(&b, *p == '"' ? "\\\"" : "\\\\");
        else if (*p == '&' || *p == '<')
            util_buf_puts(&b, *p == '&' ? "&amp;" : "&lt;");
        else if (*p == '\'')
            util_buf_puts(&b, "&apos;");
        else
            util_buf_append(&b, p, 1);
    }
    util_buf_printf(&b, "\"%s'", suffix);
    return util_buf_steal(&b);
}

/* condition='@(context.Subscription.Id == "ID")' (the value with its quotes). */
static char *sub_condition(const char *id) { return sq_expr("@(context.Subscription.Id == ", id, ")"); }

/* ---- counter keys of new elements ------------------------------------------------------- */

enum { F_OTHER = 0, F_TOKEN, F_RATE_KEY, F_QUOTA_KEY };

static int family_of(xmlNodePtr n)
{
    return is_token_element(n) ? F_TOKEN : pol_is(n, "rate-limit-by-key") ? F_RATE_KEY
                                 : pol_is(n, "quota-by-key") ? F_QUOTA_KEY : F_OTHER;
}

/* Whether an own element of family f keyed `key` (normalised) runs for the sub outside doc. */
static bool key_elsewhere(const qrun *run, int f, size_t doc, const char *key)
{
    bool yes = false;
    for (size_t i = 0; i < run->nlim && !yes; i++) {
        if (run->lim[i].doc == doc || family_of(run->lim[i].node) != f)
            continue;
        char *k = norm_key(run->lim[i].node);
        yes = k && key && strcmp(k, key) == 0;
        free(k);
    }
    return yes;
}

/* The counter-key attribute values (quotes included) for new own elements in document doc: the
 * subscription's key, or — when an element of that kind keyed so already runs for the sub at
 * another scope, where one counter would serve both — a scope-specific one,
 * '@(context.Subscription.Id + ":SCOPE")' (':' is not allowed in subscription names). */
typedef struct qkeys {
    char *attr[3];   /* [F_TOKEN], [F_RATE_KEY] */
    bool scoped[3];
    const char *scope;
} qkeys;

static void keys_for(const qctx *q, const qrun *run, size_t doc, qkeys *k)
{
    memset(k, 0, sizeof *k);
    k->scope = q->docs[doc].scope;
    char *lit = util_printf(":%s", k->scope);
    for (int f = F_TOKEN; f <= F_RATE_KEY; f++) {
        k->scoped[f] = key_elsewhere(run, f, doc, SUB_KEY);
        k->attr[f] = k->scoped[f] ? sq_expr("@(context.Subscription.Id + ", lit, ")") : util_strdup("\"" SUB_KEY "\"");
    }
    free(lit);
}

static void keys_free(qkeys *k)
{
    for (int f = 0; f < 3; f++)
        free(k->attr[f]);
}

/* Says in the plan when a new element got a scope-specific key. */
static void keys_note(const qkeys *k, int f, char *note, size_t nn)
{
    if (k->scoped[f])
        note_add(note, nn, "Its new %s in the %s policy counts on its own key %s: another limit keyed by the "
                 "subscription already applies to it at another scope, and one counter per key serves every "
                 "scope.", f == F_TOKEN ? "token limit" : "rate limit", k->scope, k->attr[f]);
}

static int repl_cmp(const void *a, const void *b)
{
    const repl *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* text[start, end) with the replacements (inside that range) applied. */
static char *copy_with(const policy_doc *d, size_t start, size_t end, repls *r)
{
    if (r->n)
        qsort(r->v, r->n, sizeof *r->v, repl_cmp);
    util_buf b;
    util_buf_init(&b, 0);
    size_t at = start;
    for (size_t i = 0; i < r->n; i++) {
        util_buf_append(&b, d->text + at, r->v[i].start - at);
        util_buf_puts(&b, r->v[i].text);
        at = r->v[i].end;
    }
    util_buf_append(&b, d->text + at, end - at);
    return util_buf_steal(&b);
}

static void set_attr_repl(const pol_elem *e, const char *name, const char *value, repls *r)
{
    const pol_attr *a = pol_find_attr(e, name);
    if (a) {
        repls_add(r, a->vstart, a->vend, pol_xml_escape_attr(value, a->quote));
        return;
    }
    char q;
    size_t at = pol_new_attr_at(e, &q);
    char *esc = pol_xml_escape_attr(value, q);
    repls_add(r, at, at, util_printf(" %s=%c%s%c", name, q, esc, q));
    free(esc);
}

/* Sets attribute `name` to `quoted` (a value with its quotes, as written). */
static void set_attr_quoted(const pol_elem *e, const char *name, const char *quoted, repls *r)
{
    const pol_attr *a = pol_find_attr(e, name);
    if (a) {
        repls_add(r, a->vstart - 1, a->vend + 1, util_strdup(quoted));
        return;
    }
    char q;
    repls_add(r, pol_new_attr_at(e, &q), pol_new_attr_at(e, &q), util_printf(" %s=%s", name, quoted));
}

/* Replacements setting element e's limit to v (tpm, or rpm as calls per renewal period);
 * key_attr: its new counter-key (quotes included), NULL to keep it. */
static void limit_repls(const pol_elem *e, int kind, int64_t v, const char *key_attr, repls *r)
{
    char num[32];
    if (kind == K_TOKEN) {
        snprintf(num, sizeof num, "%lld", (long long)v);
        set_attr_repl(e, "tokens-per-minute", num, r);
    } else {
        int64_t period = 0;
        if (int_attr(e->node, "renewal-period", &period) && (v * period) % 60 == 0) {
            snprintf(num, sizeof num, "%lld", (long long)(v * period / 60));
            set_attr_repl(e, "calls", num, r);
        } else {
            snprintf(num, sizeof num, "%lld", (long long)v);
            set_attr_repl(e, "calls", num, r);
            set_attr_repl(e, "renewal-period", "60", r);
        }
    }
    if (key_attr)
        set_attr_quoted(e, "counter-key", key_attr, r);
}

/* In a copy of [start, end): every <rate-limit> becomes <rate-limit-by-key counter-key=KEY> (the
 * same per-subscription limit), so the document never holds <rate-limit> twice. */
static void rekey_rate_limits(const policy_doc *d, size_t start, size_t end, const char *key_attr, repls *r)
{
    static const char NAME[] = "rate-limit";
    for (size_t i = 0; i < d->nelems; i++) {
        const pol_elem *e = &d->elems[i];
        if (e->start < start || e->end > end || !pol_is(e->node, NAME))
            continue;
        repls_add(r, e->start + 1, e->start + sizeof NAME, util_strdup("rate-limit-by-key"));
        if (!e->self_closing)
            repls_add(r, e->cend + 2, e->cend + 1 + sizeof NAME, util_strdup("rate-limit-by-key"));
        set_attr_quoted(e, "counter-key", key_attr, r);
    }
}

/* A copy of [start, end) for this sub alone: e's limit set to v (and its key scope-specific when
 * k says so), rate-limits re-keyed. */
static char *copy_for_sub(const policy_doc *d, size_t start, size_t end, const pol_elem *e, int kind, int64_t v,
                          const qkeys *k)
{
    repls r = {0};
    if (e)
        limit_repls(e, kind, v, k->scoped[family_of(e->node)] ? k->attr[family_of(e->node)] : NULL, &r);
    if (strcmp(k->scope, "global") != 0) /* a global <rate-limit> is not counted: its copy stays as it is */
        rekey_rate_limits(d, start, end, k->attr[F_RATE_KEY], &r);
    char *out = copy_with(d, start, end, &r);
    repls_free(&r);
    return out;
}

static char *set_in_place(const policy_doc *d, const pol_elem *e, int kind, int64_t v, const char *key_attr)
{
    repls r = {0};
    limit_repls(e, kind, v, key_attr, &r);
    char *out = copy_with(d, 0, d->len, &r);
    repls_free(&r);
    return out;
}

/* Replaces a shared element E by <choose><when this sub>E'</when><otherwise>E</otherwise></choose>. */
static char *wrap_in_choose(const policy_doc *d, const pol_elem *e, int kind, int64_t v, const char *id,
                            const qkeys *k)
{
    char *unit = pol_indent_unit(d), *ind = pol_indent_str(d, e, "");
    char *two = util_printf("%s%s", unit, unit), *cond = sub_condition(id);
    char *mine = copy_for_sub(d, e->start, e->end, e, kind, v, k);
    char *old = util_strndup(d->text + e->start, e->end - e->start);
    char *mine_i = pol_indent_block(mine, two), *old_i = pol_indent_block(old, two);
    char *text = util_printf("<choose>\n%s%s<when condition=%s>\n%s%s%s\n%s%s</when>\n%s%s<otherwise>\n%s%s%s\n"
                             "%s%s</otherwise>\n%s</choose>", ind, unit, cond, ind, two, mine_i, ind, unit, ind,
                             unit, ind, two, old_i, ind, unit, ind);
    char *out = pol_splice(d->text, d->len, e->start, e->end, text);
    free(unit), free(ind), free(two), free(cond), free(mine), free(old), free(mine_i), free(old_i), free(text);
    return out;
}

/* Inserts, before branch B (holding E), a <when> for this sub with a copy of B's content. */
static char *branch_before(const policy_doc *d, const pol_elem *b, const pol_elem *e, int kind, int64_t v,
                           const char *id, const qkeys *k)
{
    char *content = copy_for_sub(d, b->cstart, b->cend, e, kind, v, k), *cond = sub_condition(id);
    char *ind = pol_indent_str(d, b, "");
    bool own_line = pol_indent_of(d->text, b->start, NULL) >= 0;
    char *text = util_printf("<when condition=%s>%s</when>%s%s", cond, content, own_line ? "\n" : "",
                             own_line ? ind : "");
    char *out = pol_splice(d->text, d->len, b->start, b->start, text);
    free(content), free(cond), free(ind), free(text);
    return out;
}

static bool own_when(xmlNodePtr when, const char *id)
{
    if (!pol_is(when, "when"))
        return false;
    char *expr = pol_attr_dup(when, "condition");
    pol_cond c;
    pol_cond_parse(expr, &c);
    free(expr);
    bool yes = c.subject == POL_SUBJ_SUB_ID && !c.negated && c.nvalues == 1 && strcmp(c.values[0], id) == 0;
    pol_cond_free(&c);
    return yes;
}

static bool per_sub_choose(xmlNodePtr choose)
{
    size_t whens = 0;
    for (xmlNodePtr b = pol_first_child(choose); b; b = pol_next(b)) {
        if (!pol_is(b, "when"))
            continue;
        char *expr = pol_attr_dup(b, "condition");
        pol_cond c;
        pol_cond_parse(expr, &c);
        free(expr);
        bool sub = c.subject == POL_SUBJ_SUB_ID;
        pol_cond_free(&c);
        if (!sub)
            return false;
        whens++;
    }
    return whens > 0;
}

static const char *DEFAULT_POLICY = "<policies>\n    <inbound>\n        <base />\n    </inbound>\n    <backend>\n"
                                    "        <base />\n    </backend>\n    <outbound>\n        <base />\n"
                                    "    </outbound>\n    <on-error>\n        <base />\n    </on-error>\n</policies>\n";

static const char *token_element_name(const qctx *q)
{
    for (size_t i = 0; i < q->ndocs; i++)
        for (size_t k = 0; q->pd[i] && q->info[i] && k < q->pd[i]->nelems; k++)
            if (pol_is(q->pd[i]->elems[k].node, "azure-openai-token-limit"))
                return "azure-openai-token-limit";
    return "llm-token-limit";
}

/* Before branch W (which the sub takes today, shared with others), a <when> for the sub alone
 * with a copy of W's content plus `elem`, so it keeps everything else W gives it. */
static char *branch_with(const policy_doc *d, const pol_elem *w, const char *elem, const char *cond, const qkeys *k)
{
    const pol_elem *last = pol_last_child(w->node);
    size_t split = last ? last->end : w->cstart;
    char *ind = last ? pol_indent_str(d, last, "") : util_strdup("");
    bool own_line = pol_indent_of(d->text, w->start, NULL) >= 0;
    char *wind = pol_indent_str(d, w, "");
    char *head = copy_for_sub(d, w->cstart, split, NULL, 0, 0, k), *tail = copy_for_sub(d, split, w->cend, NULL, 0, 0, k);
    char *text = util_printf("<when condition=%s>%s%s%s%s%s</when>%s%s", cond, head, last ? "\n" : "", ind, elem,
                             tail, own_line ? "\n" : "", own_line ? wind : "");
    char *out = pol_splice(d->text, d->len, w->start, w->start, text);
    free(ind), free(wind), free(text), free(head), free(tail);
    return out;
}

/* Where a new limit goes: its home scope, unless an inner scope drops <base /> so that the home
 * policy does not run; then the outermost scope that still runs. */
static size_t home_doc(const qctx *q, const policy_quota_sub *s)
{
    size_t last = s->home;
    for (size_t k = s->chain_len; k-- > 0;) {
        size_t i = s->chain[k];
        if (i == s->home)
            return i;
        last = i;
        xmlNodePtr inbound = q->pd[i] ? pol_section(q->pd[i], "inbound") : NULL;
        if (inbound && !pol_section_has_base(inbound))
            break;
    }
    return last;
}

/* A new <when> for the sub in an existing per-subscription choose: before the branch it takes
 * today (with a copy of that branch), else after the last <when>. */
static char *add_to_choose(const policy_doc *d, size_t doc, xmlNodePtr choose, const qrun *run, const char *elem,
                           const char *cond, const qkeys *k)
{
    for (size_t i = 0; i < run->nwhens; i++)
        if (run->whens[i].doc == doc && run->whens[i].node->parent == choose)
            return branch_with(d, pol_elem_of(run->whens[i].node), elem, cond, k);
    const pol_elem *last = NULL;
    for (xmlNodePtr b = pol_first_child(choose); b; b = pol_next(b))
        if (pol_is(b, "when"))
            last = pol_elem_of(b);
    char *unit = pol_indent_unit(d), *when = util_printf("<when condition=%s>\n%s%s\n</when>", cond, unit, elem);
    char *out = pol_insert_in(d, pol_elem_of(choose), last, when);
    free(unit), free(when);
    return out;
}

/* A new limit for this sub alone in document `doc` (no branch of its own there). */
static char *add_in_doc(const policy_doc *d, size_t doc, const qrun *run, const char *elem, const char *cond,
                        const qkeys *k, util_error *err)
{
    xmlNodePtr inbound = pol_section(d, "inbound");
    for (xmlNodePtr c = pol_first_child(inbound); c; c = pol_next(c))
        if (pol_is(c, "choose") && per_sub_choose(c))
            return add_to_choose(d, doc, c, run, elem, cond, k);
    char *unit = pol_indent_unit(d), *out = NULL;
    char *xml = util_printf("<choose>\n%s<when condition=%s>\n%s%s%s\n%s</when>\n</choose>", unit, cond, unit,
                            unit, elem, unit);
    if (policy_insert_element(d, "inbound", xml, true, &out, err))
        out = NULL;
    free(xml), free(unit);
    return out;
}

/* A new limit for this sub alone, when none of this kind runs for it: into its own branch if it
 * has one, else in its home scope (whose policy is created when missing). */
static char *add_limit(qctx *q, const policy_quota_sub *s, const qrun *run, int kind, int64_t v, size_t *doc,
                       char *note, size_t nn, util_error *err)
{
    const qhit *own = NULL;
    for (size_t i = 0; i < run->nwhens && !own; i++)
        if (own_when(run->whens[i].node, s->id))
            own = &run->whens[i];
    *doc = own ? own->doc : home_doc(q, s);
    qkeys k;
    keys_for(q, run, *doc, &k);
    int f = kind == K_TOKEN ? F_TOKEN : F_RATE_KEY;
    char *elem = kind == K_TOKEN
                     ? util_printf("<%s counter-key=%s tokens-per-minute=\"%lld\" estimate-prompt-tokens=\"false\" />",
                                   token_element_name(q), k.attr[f], (long long)v)
                     : util_printf("<rate-limit-by-key calls=\"%lld\" renewal-period=\"60\" counter-key=%s />",
                                   (long long)v, k.attr[f]);
    char *out = NULL;
    if (own) {
        out = pol_insert_in(q->pd[*doc], pol_elem_of(own->node), pol_last_child(own->node), elem);
    } else {
        if (!q->texts[*doc]) { /* only this document is parsed anew: run's nodes stay valid */
            q->texts[*doc] = util_strdup(DEFAULT_POLICY);
            qctx_parse_one(q, *doc, err);
        }
        char *cond = sub_condition(s->id);
        out = q->pd[*doc] ? add_in_doc(q->pd[*doc], *doc, run, elem, cond, &k, err) : NULL;
        free(cond);
    }
    if (out)
        keys_note(&k, f, note, nn);
    keys_free(&k);
    free(elem);
    return out;
}

/* [start, end) widened to whole lines when the element is alone on them. */
static char *remove_span(const policy_doc *d, size_t start, size_t end)
{
    size_t ls, e = end;
    if (pol_indent_of(d->text, start, &ls) >= 0) {
        while (e < d->len && (d->text[e] == ' ' || d->text[e] == '\t' || d->text[e] == '\r'))
            e++;
        if (e == d->len || d->text[e] == '\n')
            return pol_splice(d->text, d->len, ls, e < d->len ? e + 1 : e, "");
    }
    return pol_splice(d->text, d->len, start, end, "");
}

/* The choose left without any <when>: replaced by its <otherwise>'s content, dedented. */
static char *unwrap_choose(const policy_doc *d, xmlNodePtr choose)
{
    const pol_elem *c = pol_elem_of(choose), *o = NULL;
    for (xmlNodePtr b = pol_first_child(choose); b; b = pol_next(b))
        if (pol_is(b, "otherwise"))
            o = pol_elem_of(b);
    xmlNodePtr first = o ? pol_first_child(o->node) : NULL;
    if (!first)
        return remove_span(d, c->start, c->end);
    size_t s = pol_elem_of(first)->start, e = pol_last_child(o->node)->end;
    int ic = pol_indent_of(d->text, c->start, NULL), ifirst = pol_indent_of(d->text, s, NULL);
    int shift = ic >= 0 && ifirst > ic ? ifirst - ic : 0;
    util_buf b;
    util_buf_init(&b, 0);
    for (size_t i = s; i < e; i++) {
        util_buf_append(&b, d->text + i, 1);
        if (d->text[i] == '\n')
            for (int k = 0; k < shift && i + 1 < e && (d->text[i + 1] == ' ' || d->text[i + 1] == '\t'); k++)
                i++;
    }
    util_buf_append(&b, "", 0);
    char *out = pol_splice(d->text, d->len, c->start, c->end, b.data);
    util_buf_free(&b);
    return out;
}

/* Removes this sub's own element E (and its branch, and the choose, when they become empty). */
static char *remove_own(const policy_doc *d, xmlNodePtr e)
{
    xmlNodePtr when = e->parent, choose = when->parent;
    if (pol_first_child(when) != e || pol_next(e))
        return remove_span(d, pol_elem_of(e)->start, pol_elem_of(e)->end);
    size_t whens = 0;
    for (xmlNodePtr b = pol_first_child(choose); b; b = pol_next(b))
        whens += pol_is(b, "when");
    if (whens > 1)
        return remove_span(d, pol_elem_of(when)->start, pol_elem_of(when)->end);
    return unwrap_choose(d, choose);
}

static bool runs_for(const qctx *q, const policy_quota_sub *s, qhit h)
{
    qrun run;
    collect(q, s, &run);
    bool yes = false;
    for (size_t i = 0; i < run.nlim && !yes; i++)
        yes = run.lim[i].doc == h.doc && run.lim[i].node == h.node;
    run_free(&run);
    return yes;
}

static bool exclusive(const qctx *q, const policy_quota_sub *subs, size_t nsubs, size_t target, qhit h)
{
    for (size_t i = 0; i < nsubs; i++)
        if (i != target && runs_for(q, &subs[i], h))
            return false;
    return true;
}

static bool limit_is(xmlNodePtr n, int kind, int64_t v)
{
    int64_t a, b;
    if (kind == K_TOKEN)
        return int_attr(n, "tokens-per-minute", &a) && a == v;
    return int_attr(n, "calls", &a) && int_attr(n, "renewal-period", &b) && a * 60 == v * b;
}

/* Computes the new text of one document for one step of the edit of one kind of limit (for a
 * value: the first element running for the sub that does not say it yet); *doc gets its index,
 * *out stays NULL when there is nothing (more) to do. */
static int edit_text(qctx *q, const policy_quota_sub *subs, size_t nsubs, size_t target, int kind, int op,
                     int64_t v, size_t *doc, char **out, char *note, size_t nn, util_error *err)
{
    const policy_quota_sub *s = &subs[target];
    const char *what = kind == K_TOKEN ? "tokens-per-minute limit" : "request rate limit";
    qrun run;
    collect(q, s, &run);
    qhit first = {0, NULL}, home = {0, NULL}, own = {0, NULL};
    bool any = false;
    for (size_t i = 0; i < run.nlim; i++) {
        qhit h = run.lim[i];
        if (limit_kind(h.node) != kind)
            continue;
        any = true;
        if (op == POLICY_QUOTA_SET && limit_is(h.node, kind, v))
            continue;
        if (!first.node)
            first = h;
        if (!own.node && own_when(h.node->parent, s->id))
            own = h;
        if (!home.node && op == POLICY_QUOTA_SET && !pol_is(h.node->parent, "otherwise") &&
            exclusive(q, subs, nsubs, target, h))
            home = h;
    }
    char where[320];
    *out = NULL;
    if (op == POLICY_QUOTA_REMOVE) {
        if (!own.node) {
            note_add(note, nn, "Subscription %s has no %s of its own; nothing to remove.", s->id, what);
            run_free(&run);
            return 0;
        }
        *doc = own.doc;
        describe(q, own, where, sizeof where);
        note_add(note, nn, "Removed its own %s (%s); it now falls back to the shared limit, if any.", what, where);
        *out = q->plain_remove ? remove_span(q->pd[own.doc], pol_elem_of(own.node)->start, pol_elem_of(own.node)->end)
                               : remove_own(q->pd[own.doc], own.node);
    } else if (home.node) {
        *doc = home.doc;
        describe(q, home, where, sizeof where);
        if (home.node != own.node)
            note_add(note, nn, "The %s (%s) applies to subscription %s alone (no other subscription runs it, "
                     "e.g. its product has only this subscription), so it was edited in place; a subscription "
                     "added there later would get the same limit.", what, where, s->id);
        else
            note_add(note, nn, "Edited its own %s (%s).", what, where);
        /* it is this sub's alone: when another of its limits of that kind has the same key at
         * another scope (one counter for both), this one gets a scope-specific key */
        char *key = norm_key(home.node);
        qkeys k;
        keys_for(q, &run, home.doc, &k);
        int f = family_of(home.node);
        bool rekey = f != F_OTHER && key_elsewhere(&run, f, home.doc, key);
        *out = set_in_place(q->pd[home.doc], pol_elem_of(home.node), kind, v, rekey ? k.attr[f] : NULL);
        if (rekey)
            note_add(note, nn, "Its key became %s: another of its limits of that kind at another scope had the "
                     "same key, and one counter per key serves every scope.", k.attr[f]);
        keys_free(&k);
        free(key);
    } else if (first.node) {
        *doc = first.doc;
        describe(q, first, where, sizeof where);
        xmlNodePtr p = first.node->parent;
        bool in_branch = pol_is(p, "when") || pol_is(p, "otherwise");
        note_add(note, nn, "The %s it shares with other subscriptions (%s) was kept for them; a branch for "
                 "subscription %s was added %s it.", what, where, s->id, in_branch ? "before the branch holding" :
                 "around");
        qkeys k;
        keys_for(q, &run, first.doc, &k);
        *out = in_branch ? branch_before(q->pd[first.doc], pol_elem_of(p), pol_elem_of(first.node), kind, v, s->id, &k)
                         : wrap_in_choose(q->pd[first.doc], pol_elem_of(first.node), kind, v, s->id, &k);
        keys_note(&k, kind == K_TOKEN ? F_TOKEN : F_RATE_KEY, note, nn);
        keys_free(&k);
    } else if (any) {
        if (!*note)
            note_add(note, nn, "Subscription %s's %s is already %lld; nothing to change.", s->id, what, (long long)v);
        run_free(&run);
        return 0; /* every element that runs for it already says v */
    } else {
        *out = add_limit(q, s, &run, kind, v, doc, note, nn, err);
        if (*out)
            note_add(note, nn, "It had no %s; one was added for subscription %s alone in the %s policy.", what,
                     s->id, q->docs[*doc].scope);
    }
    run_free(&run);
    if (!*out)
        return err && err->code ? err->code : util_error_set(err, UTIL_EINTERNAL, "could not edit the policy");
    return 0;
}

/* Removes the sub's own element, with its branch when that becomes empty, unless dropping the
 * branch would send it to another branch that changes its other limit: then only the element. */
static int remove_kind(qctx *q, const policy_quota_sub *subs, size_t nsubs, size_t target, int kind, char *note,
                       size_t nn, util_error *err)
{
    policy_limits was, now;
    limits_of(q, &subs[target], &was);
    for (int plain = 0; plain < 2; plain++) {
        size_t doc = 0, len = strlen(note);
        char *out = NULL;
        q->plain_remove = plain;
        int rc = edit_text(q, subs, nsubs, target, kind, POLICY_QUOTA_REMOVE, 0, &doc, &out, note, nn, err);
        if (rc || !out)
            return rc;
        char *old = q->texts[doc];
        q->texts[doc] = out;
        rc = qctx_reparse(q, doc, err);
        if (!rc)
            limits_of(q, &subs[target], &now);
        bool other_same = kind == K_TOKEN ? (was.has_rpm == now.has_rpm && was.rpm == now.rpm)
                                          : (was.has_tpm == now.has_tpm && was.tpm == now.tpm);
        if (rc || other_same || plain) {
            free(old);
            return rc;
        }
        free(q->texts[doc]);
        q->texts[doc] = old;
        note[len] = '\0';
        rc = qctx_reparse(q, doc, err);
        if (rc)
            return rc;
    }
    return 0;
}

static int apply_kind(qctx *q, const policy_quota_sub *subs, size_t nsubs, size_t target, int kind, int op,
                      int64_t v, char *note, size_t nn, util_error *err)
{
    if (op == POLICY_QUOTA_KEEP)
        return 0;
    if (op == POLICY_QUOTA_REMOVE)
        return remove_kind(q, subs, nsubs, target, kind, note, nn, err);
    /* every element that runs for it is enforced: each one must say v (or be its own) */
    for (int step = 0; step < 8; step++) {
        size_t doc = 0;
        char *out = NULL;
        int rc = edit_text(q, subs, nsubs, target, kind, op, v, &doc, &out, note, nn, err);
        if (rc || !out)
            return rc;
        free(q->texts[doc]);
        q->texts[doc] = out;
        rc = qctx_reparse(q, doc, err);
        if (rc)
            return rc;
    }
    return 0;
}

static int check_change(const policy_quota_sub *subs, size_t nsubs, size_t target, const policy_quota_change *c,
                        size_t ndocs, util_error *err)
{
    if (target >= nsubs)
        return util_error_set(err, UTIL_EINVAL, "the subscription to change is not in the list of subscriptions");
    for (size_t i = 0; i < nsubs; i++) {
        int rc = check_inputs(ndocs, &subs[i], err);
        if (rc)
            return rc;
    }
    if (c->tpm_op == POLICY_QUOTA_KEEP && c->rpm_op == POLICY_QUOTA_KEEP)
        return util_error_set(err, UTIL_EINVAL, "give tpm or rpm (a positive integer) or remove one (the "
                              "subscription's own limit)");
    if (c->tpm_op == POLICY_QUOTA_SET && (c->tpm < 1 || c->tpm > POLICY_TPM_MAX))
        return util_error_set(err, UTIL_EINVAL, "tpm must be an integer from 1 to %lld, got %lld",
                              (long long)POLICY_TPM_MAX, (long long)c->tpm);
    if (c->rpm_op == POLICY_QUOTA_SET && (c->rpm < 1 || c->rpm > POLICY_RPM_MAX))
        return util_error_set(err, UTIL_EINVAL, "rpm must be an integer from 1 to %lld, got %lld",
                              (long long)POLICY_RPM_MAX, (long long)c->rpm);
    return 0;
}

/* The target must end with the value asked for (another element may still bind it), and the
 * limit not asked about must stay as it was. */
static int check_target(const policy_quota_sub *s, const policy_quota_change *c, const policy_limits *before,
                        const policy_limits *after, util_error *err)
{
    if ((c->tpm_op == POLICY_QUOTA_KEEP && (before->has_tpm != after->has_tpm || before->tpm != after->tpm)) ||
        (c->rpm_op == POLICY_QUOTA_KEEP && (before->has_rpm != after->has_rpm || before->rpm != after->rpm)))
        return util_error_set(err, UTIL_EINVAL, "refused: this edit would also change subscription %s's %s, "
                              "which was not asked; nothing was changed", s->id,
                              c->tpm_op == POLICY_QUOTA_KEEP ? "tokens-per-minute limit" : "request rate limit");
    if (c->tpm_op == POLICY_QUOTA_SET && (!after->has_tpm || after->tpm != c->tpm))
        return after->has_tpm
                   ? util_error_set(err, UTIL_EINVAL, "after this edit subscription %s would still be held to %lld "
                                    "tokens per minute by %s, which also runs for it; change that limit by hand "
                                    "with apply_policy", s->id, (long long)after->tpm, after->tpm_source)
                   : util_error_set(err, UTIL_EINVAL, "could not give subscription %s a tokens-per-minute limit "
                                    "that runs for its requests in this policy layout; add it by hand with "
                                    "apply_policy", s->id);
    if (c->rpm_op == POLICY_QUOTA_SET && (!after->has_rpm || !same_rate(after->rpm, (double)c->rpm)))
        return after->has_rpm
                   ? util_error_set(err, UTIL_EINVAL, "after this edit subscription %s would still be held to %g "
                                    "requests per minute by %s, which also runs for it; change that limit by hand "
                                    "with apply_policy", s->id, after->rpm, after->rpm_source)
                   : util_error_set(err, UTIL_EINVAL, "could not give subscription %s a request rate limit that "
                                    "runs for its requests in this policy layout; add it by hand with "
                                    "apply_policy", s->id);
    return 0;
}

static void limits_text(const policy_limits *l, char *out, size_t n)
{
    char tpm[32] = "none", rpm[32] = "none";
    if (l->has_tpm)
        snprintf(tpm, sizeof tpm, "%lld", (long long)l->tpm);
    if (l->has_rpm)
        snprintf(rpm, sizeof rpm, "%g", l->rpm);
    snprintf(out, n, "tpm %s, rpm %s%s", tpm, rpm, l->has_token_quota || l->has_quota ? " (+quotas)" : "");
}

static size_t dup_count(const qctx *q, const policy_quota_sub *s)
{
    qrun run;
    collect(q, s, &run);
    size_t n = duplicate_pairs(&run);
    run_free(&run);
    return n;
}

/* No subscription may end with more pairs of same-kind limits sharing one counter-key across
 * scopes than it had. */
static int check_keys(const qctx *q, const policy_quota_sub *subs, size_t nsubs, const size_t *dups,
                      util_error *err)
{
    for (size_t i = 0; i < nsubs; i++)
        if (dup_count(q, &subs[i]) > dups[i])
            return util_error_set(err, UTIL_EINVAL, "refused: this edit would leave two limits of one kind with "
                                  "the same counter-key running for subscription %s at different scopes (one "
                                  "counter would serve both); nothing was changed. Edit the policy by hand with "
                                  "apply_policy", subs[i].id);
    return 0;
}

/* Every other subscription's effective limits must be identical. */
static int check_others(const qctx *q, const policy_quota_sub *subs, size_t nsubs, size_t target,
                        const policy_limits *before, util_error *err)
{
    char who[600] = "";
    size_t changed = 0;
    for (size_t i = 0; i < nsubs; i++) {
        policy_limits now;
        if (i == target)
            continue;
        limits_of(q, &subs[i], &now);
        if (policy_limits_equal(&before[i], &now))
            continue;
        if (changed++ < 3) {
            char a[96], b[96];
            limits_text(&before[i], a, sizeof a);
            limits_text(&now, b, sizeof b);
            note_add(who, sizeof who, "%s (%s -> %s)", subs[i].id, a, b);
        }
    }
    if (!changed)
        return 0;
    return util_error_set(err, UTIL_EINVAL, "refused: this edit would also change the effective limits of %zu "
                          "other subscription(s): %s%s; nothing was changed. Edit the policy by hand with "
                          "apply_policy, or report this layout", changed, who, changed > 3 ? " ..." : "");
}

static void fill_result(qctx *q, const policy_quota_doc *docs, policy_quota_result *res)
{
    res->ndocs = q->ndocs;
    res->texts = calloc(q->ndocs ? q->ndocs : 1, sizeof *res->texts);
    if (!res->texts)
        abort();
    for (size_t i = 0; i < q->ndocs; i++) {
        bool same = (!docs[i].text && !q->texts[i]) ||
                    (docs[i].text && q->texts[i] && strcmp(docs[i].text, q->texts[i]) == 0);
        if (!same) {
            res->texts[i] = q->texts[i];
            q->texts[i] = NULL;
        }
    }
}

int policy_quota_update(const policy_quota_doc *docs, size_t ndocs, const policy_quota_sub *subs, size_t nsubs,
                        size_t target, const policy_quota_change *change, policy_quota_result *res, util_error *err)
{
    memset(res, 0, sizeof *res);
    int rc = check_change(subs, nsubs, target, change, ndocs, err);
    if (rc)
        return rc;
    qctx q;
    rc = qctx_init(&q, docs, ndocs, err);
    policy_limits *before = calloc(nsubs, sizeof *before);
    size_t *dups = calloc(nsubs ? nsubs : 1, sizeof *dups);
    if (!before || !dups)
        abort();
    for (size_t i = 0; !rc && i < nsubs; i++) {
        limits_of(&q, &subs[i], &before[i]);
        dups[i] = dup_count(&q, &subs[i]);
    }
    if (!rc && before[target].uncertain)
        rc = util_error_set(err, UTIL_EINVAL, "refused: a <choose> that holds limits for subscription %s tests "
                            "something other than the subscription or product id, so which limit applies to it "
                            "cannot be known here; edit that policy by hand with apply_policy", subs[target].id);
    if (!rc)
        rc = apply_kind(&q, subs, nsubs, target, K_TOKEN, change->tpm_op, change->tpm, res->note, sizeof res->note, err);
    if (!rc)
        rc = apply_kind(&q, subs, nsubs, target, K_RATE, change->rpm_op, change->rpm, res->note, sizeof res->note, err);
    if (!rc) {
        res->before = before[target];
        limits_of(&q, &subs[target], &res->after);
        rc = check_target(&subs[target], change, &before[target], &res->after, err);
    }
    if (!rc)
        rc = check_others(&q, subs, nsubs, target, before, err);
    if (!rc)
        rc = check_keys(&q, subs, nsubs, dups, err);
    if (!rc)
        fill_result(&q, docs, res);
    free(dups);
    free(before);
    qctx_free(&q);
    if (rc)
        res->note[0] = '\0';
    return rc;
}

void policy_quota_result_free(policy_quota_result *res)
{
    if (!res)
        return;
    for (size_t i = 0; res->texts && i < res->ndocs; i++)
        free(res->texts[i]);
    free(res->texts);
    res->texts = NULL;
    res->ndocs = 0;
}
