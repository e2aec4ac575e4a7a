/*
 * policy/diff.c: a unified diff between two texts (policy_diff), line based: common prefix and
 * suffix trimmed, longest common subsequence on the rest (bounded; past the bound the middle
 * is shown as replaced), hunks with 3 lines of context.
 */
#include "policy_internal.h"

#include <stdlib.h>
#include <string.h>

#define DIFF_CONTEXT 3
#define DIFF_MAX_CELLS (4u * 1024u * 1024u)

typedef struct line { const char *p; size_t n; } line; /* n includes the '\n' when present */
typedef struct op { char kind; const line *l; } op;    /* ' ', '-', '+' */

static line *split(const char *s, size_t *count)
{
    size_t cap = 16, k = 0;
    line *v = malloc(cap * sizeof *v);
    while (v && *s) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) + 1 : strlen(s);
        if (k == cap)
            v = realloc(v, (cap *= 2) * sizeof *v);
        if (!v)
            break;
        v[k++] = (line){s, n};
        s += n;
    }
    if (!v)
        abort();
    *count = k;
    return v;
}

static bool same(const line *a, const line *b) { return a->n == b->n && memcmp(a->p, b->p, a->n) == 0; }

/* LCS over a[0..n) and b[0..m), appending ops. */
static void lcs(const line *a, size_t n, const line *b, size_t m, op *ops, size_t *k)
{
    if ((n + 1) * (m + 1) > DIFF_MAX_CELLS) {
        for (size_t i = 0; i < n; i++)
            ops[(*k)++] = (op){'-', &a[i]};
        for (size_t j = 0; j < m; j++)
            ops[(*k)++] = (op){'+', &b[j]};
        return;
    }
    unsigned *t = calloc((n + 1) * (m + 1), sizeof *t); /* t[i][j]: LCS of a[i..], b[j..] */
    if (!t)
        abort();
#define T(i, j) t[(i) * (m + 1) + (j)]
    for (size_t i = n; i-- > 0;)
        for (size_t j = m; j-- > 0;)
            T(i, j) = same(&a[i], &b[j]) ? T(i + 1, j + 1) + 1 : (T(i + 1, j) >= T(i, j + 1) ? T(i + 1, j) : T(i, j + 1));
    size_t i = 0, j = 0;
    while (i < n || j < m) {
        if (i < n && j < m && same(&a[i], &b[j]))
            ops[(*k)++] = (op){' ', &a[i++]}, j++;
        else if (i < n && (j == m || T(i + 1, j) >= T(i, j + 1)))
            ops[(*k)++] = (op){'-', &a[i++]};
        else
            ops[(*k)++] = (op){'+', &b[j++]};
    }
#undef T
    free(t);
}

static void print_line(util_buf *out, const op *o)
{
    util_buf_append(out, &o->kind, 1);
    size_t n = o->l->n;
    bool nl = n > 0 && o->l->p[n - 1] == '\n';
    util_buf_append(out, o->l->p, nl ? n - 1 : n);
    util_buf_puts(out, nl ? "\n" : "\n\\ No newline at end of file\n");
}

/* One hunk: ops [s, e); apos/bpos: lines of a/b before ops[s]. */
static void print_hunk(util_buf *out, const op *ops, size_t s, size_t e, size_t apos, size_t bpos)
{
    size_t ac = 0, bc = 0;
    for (size_t i = s; i < e; i++) {
        ac += ops[i].kind != '+';
        bc += ops[i].kind != '-';
    }
    util_buf_printf(out, "@@ -%zu,%zu +%zu,%zu @@\n", ac ? apos + 1 : apos, ac, bc ? bpos + 1 : bpos, bc);
    for (size_t i = s; i < e; i++)
        print_line(out, &ops[i]);
}

static void print_hunks(util_buf *out, const op *ops, size_t k)
{
    size_t apos = 0, bpos = 0, i = 0;
    while (i < k) {
        if (ops[i].kind == ' ') {
            apos++, bpos++, i++;
            continue;
        }
        size_t s = i >= DIFF_CONTEXT ? i - DIFF_CONTEXT : 0;
        size_t hs_a = apos - (i - s), hs_b = bpos - (i - s);
        size_t e = i, equal_run = 0;
        for (; e < k && equal_run <= 2 * DIFF_CONTEXT; e++)
            equal_run = ops[e].kind == ' ' ? equal_run + 1 : 0;
        size_t end = e - equal_run + (equal_run < DIFF_CONTEXT ? equal_run : DIFF_CONTEXT);
        print_hunk(out, ops, s, end, hs_a, hs_b);
        for (; i < end; i++) {
            apos += ops[i].kind != '+';
            bpos += ops[i].kind != '-';
        }
    }
}

char *policy_diff(const char *before, const char *after)
{
    if (!before)
        before = "";
    if (!after)
        after = "";
    if (strcmp(before, after) == 0)
        return util_strdup("");
    size_t n, m;
    line *a = split(before, &n), *b = split(after, &m);
    op *ops = malloc((n + m + 1) * sizeof *ops);
    if (!ops)
        abort();
    size_t k = 0, pre = 0, suf = 0;
    while (pre < n && pre < m && same(&a[pre], &b[pre]))
        ops[k++] = (op){' ', &a[pre++]};
    while (suf < n - pre && suf < m - pre && same(&a[n - 1 - suf], &b[m - 1 - suf]))
        suf++;
    lcs(a + pre, n - pre - suf, b + pre, m - pre - suf, ops, &k);
    for (size_t i = n - suf; i < n; i++)
        ops[k++] = (op){' ', &a[i]};
    util_buf out;
    util_buf_init(&out, 0);
    util_buf_puts(&out, "--- before\n+++ after\n");
    print_hunks(&out, ops, k);
    free(ops);
    free(a);
    free(b);
    return util_buf_steal(&out);
}
