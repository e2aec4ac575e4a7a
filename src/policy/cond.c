/*
 * policy/cond.c: understanding the `<when condition="...">` expressions that select a
 * subscription or a product by equality, in the ways people write them:
 *   context.Subscription.Id == "x"   "x" == context.Subscription.Id   context.Subscription.Id.Equals("x")
 *   context.Subscription.Name == "x" (string)context.Product?.Id == "gold"   context.Product.Id == 'x'
 *   string.Equals(context.Subscription.Id, "x")   a == "x" || a == "y"   a != "x"   !a.Equals("x")
 * Anything else is POL_SUBJ_OTHER (not understood; callers treat it as unknown).
 */
#include "policy_internal.h"

#include <stdlib.h>
#include <string.h>

/* Removes whitespace outside literals, "(string)" casts and "?" of "?.", turns 'x' literals
 * into "x", and drops the @( ) wrapper. */
static char *normalize(const char *expr)
{
    util_buf b;
    util_buf_init(&b, 0);
    const char *p = expr;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    size_t n = strlen(p);
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r' || p[n - 1] == '\n'))
        n--;
    if (n >= 3 && p[0] == '@' && p[1] == '(' && p[n - 1] == ')') {
        p += 2;
        n -= 3;
    }
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '"' || c == '\'') {
            size_t j = i + 1;
            while (j < n && p[j] != c) {
                if (p[j] == '\\' && j + 1 < n)
                    j++;
                j++;
            }
            util_buf_puts(&b, "\"");
            util_buf_append(&b, p + i + 1, (j < n ? j : n) - i - 1);
            util_buf_puts(&b, "\"");
            i = j;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            continue;
        } else if (c == '?' && i + 1 < n && p[i + 1] == '.') {
            continue;
        } else if (strncmp(p + i, "(string)", 8) == 0) {
            i += 7;
        } else {
            util_buf_append(&b, &c, 1);
        }
    }
    util_buf_append(&b, "", 0);
    return util_buf_steal(&b);
}

/* Index of the bracket closing the one at s[0], skipping literals; -1 if none. */
static long closing(const char *s, size_t n)
{
    int depth = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"') {
            for (i++; i < n && s[i] != '"'; i++)
                if (s[i] == '\\')
                    i++;
        } else if (s[i] == '(') {
            depth++;
        } else if (s[i] == ')' && --depth == 0) {
            return (long)i;
        }
    }
    return -1;
}

static void strip_parens(const char **s, size_t *n)
{
    while (*n >= 2 && (*s)[0] == '(' && closing(*s, *n) == (long)*n - 1) {
        (*s)++;
        *n -= 2;
    }
}

static int subject_of(const char *s, size_t n)
{
    static const struct { const char *text; int subject; } subjects[] = {
        {"context.Subscription.Id", POL_SUBJ_SUB_ID},
        {"context.Subscription.Name", POL_SUBJ_SUB_NAME},
        {"context.Product.Id", POL_SUBJ_PRODUCT_ID}};
    for (size_t k = 0; k < sizeof subjects / sizeof subjects[0]; k++)
        if (strlen(subjects[k].text) == n && memcmp(s, subjects[k].text, n) == 0)
            return subjects[k].subject;
    return POL_SUBJ_OTHER;
}

/* A whole "literal" token: returns its content length, or -1. */
static long literal(const char *s, size_t n)
{
    if (n < 2 || s[0] != '"' || s[n - 1] != '"')
        return -1;
    for (size_t i = 1; i + 1 < n; i++)
        if (s[i] == '"')
            return -1;
    return (long)n - 2;
}

/* One comparison "subject OP literal" in any order; fills *subject, *value, *neg. */
static bool comparison(const char *s, size_t n, int *subject, char **value, bool *neg)
{
    strip_parens(&s, &n);
    *neg = false;
    if (n > 0 && s[0] == '!' && (n < 2 || s[1] != '=')) {
        *neg = true;
        s++;
        n--;
        strip_parens(&s, &n);
    }
    const char *a = NULL, *b = NULL;
    size_t an = 0, bn = 0;
    const char *op = NULL;
    for (size_t i = 0; i + 1 < n && !op; i++) {
        if (s[i] == '"')
            for (i++; i < n && s[i] != '"'; i++)
                ;
        else if ((s[i] == '=' || s[i] == '!') && s[i + 1] == '=')
            op = s + i;
    }
    if (op && !*neg) {
        *neg = op[0] == '!';
        a = s, an = (size_t)(op - s), b = op + 2, bn = n - an - 2;
    } else if (!op && n > 15 && strncmp(s, "string.Equals(", 14) == 0 && s[n - 1] == ')') {
        const char *comma = memchr(s + 14, ',', n - 15);
        if (!comma)
            return false;
        a = s + 14, an = (size_t)(comma - a), b = comma + 1, bn = (size_t)(s + n - 1 - b);
    } else if (!op) {
        const char *eq = strstr(s, ".Equals(");
        if (!eq || (size_t)(eq - s) >= n || s[n - 1] != ')')
            return false;
        a = s, an = (size_t)(eq - s), b = eq + 8, bn = (size_t)(s + n - 1 - b);
    } else {
        return false;
    }
    long lit = literal(b, bn);
    if (lit < 0) { /* literal first */
        const char *t = a; size_t tn = an;
        a = b, an = bn, b = t, bn = tn;
        lit = literal(b, bn);
    }
    strip_parens(&a, &an);
    *subject = subject_of(a, an);
    if (lit < 0 || *subject == POL_SUBJ_OTHER)
        return false;
    *value = util_strndup(b + 1, (size_t)lit);
    return true;
}

static void add_value(pol_cond *c, char *v)
{
    c->values = realloc(c->values, (c->nvalues + 1) * sizeof *c->values);
    if (!c->values)
        abort();
    c->values[c->nvalues++] = v;
}

void pol_cond_parse(const char *expr, pol_cond *c)
{
    memset(c, 0, sizeof *c);
    if (!expr)
        return;
    char *norm = normalize(expr);
    const char *s = norm;
    size_t n = strlen(s);
    strip_parens(&s, &n);
    int subject = POL_SUBJ_OTHER;
    bool ok = n > 0;
    size_t start = 0;
    for (size_t i = 0; ok && i <= n; i++) {
        if (i < n && s[i] == '"') {
            for (i++; i < n && s[i] != '"'; i++)
                ;
            continue;
        }
        if (i < n && s[i] == '(') {
            long k = closing(s + i, n - i);
            if (k < 0)
                ok = false;
            else
                i += (size_t)k;
            continue;
        }
        if (i < n && !(s[i] == '|' && i + 1 < n && s[i + 1] == '|'))
            continue;
        int subj;
        char *value = NULL;
        bool neg;
        ok = comparison(s + start, i - start, &subj, &value, &neg) &&
             (c->nvalues == 0 || (subj == subject && !neg && !c->negated));
        if (value && ok)
            add_value(c, value);
        else
            free(value);
        subject = subj;
        c->negated = neg;
        start = i + 2;
        i++;
    }
    free(norm);
    if (!ok || (c->negated && c->nvalues > 1)) {
        pol_cond_free(c);
        return;
    }
    c->subject = subject;
}

void pol_cond_free(pol_cond *c)
{
    for (size_t i = 0; i < c->nvalues; i++)
        free(c->values[i]);
    free(c->values);
    memset(c, 0, sizeof *c);
}

json_t *pol_cond_json(const char *expr, const pol_cond *c)
{
    static const char *const names[] = {"other", "subscription_id", "subscription_name", "product_id"};
    json_t *values = json_array();
    for (size_t i = 0; i < c->nvalues; i++)
        json_array_append_new(values, json_string(c->values[i]));
    return json_pack("{s:s, s:s, s:o, s:b}", "expression", expr ? expr : "", "subject", names[c->subject],
                     "values", values, "negated", c->negated);
}
