/*
 * policy/parse.c: reading a policy document. A pre-pass turns APIM rawxml into well-formed XML
 * by escaping, inside C# expressions, what XML cannot hold raw (`"` or `'` matching the
 * attribute's quote, `<`, a bare `&`), recording each replacement so offsets map back to the
 * original text. libxml2 then parses that text (no network, no DTD, default size limits), and a
 * lexer over the same text records the byte span of every element and attribute, mapped back
 * to the original, so edits can be spliced into the original text.
 */
#include "policy_internal.h"

#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <stdlib.h>
#include <string.h>

/* ---- sanitizer -------------------------------------------------------------------------- */

typedef struct san_state {
    policy_doc *d;
    const char *s;
    size_t len;
    size_t i;   /* read position in the original */
    util_buf out;
} san_state;

static void map_add(policy_doc *d, size_t san_off, size_t orig_off, size_t san_len)
{
    if (d->nmap == d->capmap) {
        d->capmap = d->capmap ? d->capmap * 2 : 64;
        d->map_san = realloc(d->map_san, d->capmap * sizeof(size_t));
        d->map_orig = realloc(d->map_orig, d->capmap * sizeof(size_t));
        d->map_len = realloc(d->map_len, d->capmap * sizeof(size_t));
        if (!d->map_san || !d->map_orig || !d->map_len)
            abort();
    }
    d->map_san[d->nmap] = san_off;
    d->map_orig[d->nmap] = orig_off;
    d->map_len[d->nmap] = san_len;
    d->nmap++;
}

static int emit(san_state *st, const char *p, size_t n) { return util_buf_append(&st->out, p, n); }

/* Replaces the original byte at st->i by an entity. */
static int emit_entity(san_state *st, const char *ent)
{
    map_add(st->d, st->out.len, st->i, strlen(ent));
    return util_buf_puts(&st->out, ent);
}

/* Length of an entity reference at s (e.g. "&quot;"), 0 when s is a bare '&'; *dec gets the
 * character it stands for when it is one of the five predefined ones, else 'x'. */
static size_t entity_len(const char *s, size_t n, char *dec)
{
    static const struct { const char *e; char c; } pre[] = {
        {"&quot;", '"'}, {"&apos;", '\''}, {"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}};
    for (size_t k = 0; k < sizeof pre / sizeof pre[0]; k++) {
        size_t el = strlen(pre[k].e);
        if (n >= el && memcmp(s, pre[k].e, el) == 0) {
            *dec = pre[k].c;
            return el;
        }
    }
    size_t j = 1;
    if (j < n && s[j] == '#') {
        j++;
        if (j < n && (s[j] == 'x' || s[j] == 'X'))
            j++;
        size_t d0 = j;
        while (j < n && ((s[j] >= '0' && s[j] <= '9') || (s[j] >= 'a' && s[j] <= 'f') || (s[j] >= 'A' && s[j] <= 'F')))
            j++;
        if (j == d0)
            return 0;
    } else {
        size_t n0 = j;
        while (j < n && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z') || (s[j] >= '0' && s[j] <= '9') ||
                         s[j] == '-' || s[j] == '_' || s[j] == '.'))
            j++;
        if (j == n0)
            return 0;
    }
    if (j < n && s[j] == ';') {
        *dec = 'x';
        return j + 1;
    }
    return 0;
}

/* Copies one logical character from the original, escaping it when XML cannot take it raw
 * here (quote: the attribute's quote char, 0 in text). Returns the decoded char in *c. */
static int copy_char(san_state *st, char quote, char *c)
{
    const char *p = st->s + st->i;
    if (*p == '&') {
        size_t el = entity_len(p, st->len - st->i, c);
        if (el) {
            st->i += el;
            return emit(st, p, el);
        }
        *c = '&';
        int rc = emit_entity(st, "&amp;");
        st->i++;
        return rc;
    }
    *c = *p;
    int rc;
    if (*p == '<')
        rc = emit_entity(st, "&lt;");
    else if (quote && *p == quote)
        rc = emit_entity(st, quote == '"' ? "&quot;" : "&apos;");
    else
        rc = emit(st, p, 1);
    st->i++;
    return rc;
}

static char peek_logical(const san_state *st, size_t at)
{
    if (at >= st->len)
        return '\0';
    char c = st->s[at];
    if (c == '&') {
        char dec;
        if (entity_len(st->s + at, st->len - at, &dec))
            return dec;
    }
    return c;
}

enum { EX_CODE, EX_STR, EX_VERBATIM, EX_CHAR, EX_LINE_COMMENT, EX_BLOCK_COMMENT };

/* Scans a C# expression starting at "@(" or "@{" until its brackets balance. Returns 0 when it
 * closed, 1 when the input ended first (caller falls back), or an error code. */
static int scan_expression(san_state *st, char quote)
{
    int depth = 0, mode = EX_CODE;
    char c;
    int rc = copy_char(st, quote, &c); /* '@' */
    while (!rc && st->i < st->len) {
        char next = peek_logical(st, st->i);
        if (mode == EX_CODE && next == '@' && peek_logical(st, st->i + 1) == '"') {
            rc = copy_char(st, quote, &c);
            if (!rc)
                rc = copy_char(st, quote, &c);
            mode = EX_VERBATIM;
            continue;
        }
        rc = copy_char(st, quote, &c);
        if (rc)
            break;
        char after = peek_logical(st, st->i);
        switch (mode) {
        case EX_CODE:
            if (c == '(' || c == '{' || c == '[')
                depth++;
            else if (c == ')' || c == '}' || c == ']') {
                if (--depth == 0)
                    return 0;
            } else if (c == '"')
                mode = EX_STR;
            else if (c == '\'')
                mode = EX_CHAR;
            else if (c == '/' && after == '/')
                mode = EX_LINE_COMMENT;
            else if (c == '/' && after == '*')
                mode = EX_BLOCK_COMMENT;
            break;
        case EX_STR:
        case EX_CHAR:
            if (c == '\\' && st->i < st->len)
                rc = copy_char(st, quote, &c);
            else if (c == (mode == EX_STR ? '"' : '\''))
                mode = EX_CODE;
            break;
        case EX_VERBATIM:
            if (c == '"' && after == '"')
                rc = copy_char(st, quote, &c);
            else if (c == '"')
                mode = EX_CODE;
            break;
        case EX_LINE_COMMENT:
            if (c == '\n')
                mode = EX_CODE;
            break;
        case EX_BLOCK_COMMENT:
            if (c == '*' && after == '/') {
                rc = copy_char(st, quote, &c);
                mode = EX_CODE;
            }
            break;
        }
    }
    return rc ? rc : 1;
}

static bool starts_expression(const san_state *st)
{
    return st->i + 1 < st->len && st->s[st->i] == '@' && (st->s[st->i + 1] == '(' || st->s[st->i + 1] == '{');
}

/* Runs scan_expression; on an unbalanced expression restores the state so the caller copies
 * the text plainly (libxml2 will then report whatever is wrong). */
static int try_expression(san_state *st, char quote)
{
    size_t i0 = st->i, out0 = st->out.len, map0 = st->d->nmap;
    int rc = scan_expression(st, quote);
    if (rc == 1) {
        st->i = i0;
        st->out.len = out0;
        st->d->nmap = map0;
        return 0;
    }
    return rc;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
static bool is_name_char(char c)
{
    return !is_space(c) && c != '=' && c != '>' && c != '/' && c != '<' && c != '"' && c != '\'' && c != '\0';
}

static int copy_raw(san_state *st, size_t n)
{
    if (st->i + n > st->len)
        n = st->len - st->i;
    int rc = emit(st, st->s + st->i, n);
    st->i += n;
    return rc;
}

/* Copies up to and including `until` (or to the end). */
static int copy_until(san_state *st, const char *until)
{
    const char *hit = strstr(st->s + st->i, until);
    size_t n = hit ? (size_t)(hit - (st->s + st->i)) + strlen(until) : st->len - st->i;
    return copy_raw(st, n);
}

static int scan_attr_value(san_state *st, char quote)
{
    int rc = copy_raw(st, 1); /* opening quote */
    if (!rc && starts_expression(st))
        rc = try_expression(st, quote);
    while (!rc && st->i < st->len && st->s[st->i] != quote) {
        char c;
        rc = copy_char(st, 0, &c);
    }
    if (!rc && st->i < st->len)
        rc = copy_raw(st, 1);
    return rc;
}

static int scan_start_tag(san_state *st)
{
    int rc = copy_raw(st, 1);
    while (!rc && st->i < st->len && is_name_char(st->s[st->i]))
        rc = copy_raw(st, 1);
    while (!rc && st->i < st->len) {
        char c = st->s[st->i];
        if (c == '>')
            return copy_raw(st, 1);
        if (c == '<') /* broken tag: let libxml2 report it */
            return 0;
        if (c == '"' || c == '\'')
            rc = scan_attr_value(st, c);
        else
            rc = copy_raw(st, 1);
    }
    return rc;
}

/* Text content: an expression right after a tag ("<set-body>@(...)") may hold raw < and &. */
static int scan_text_char(san_state *st)
{
    if (starts_expression(st)) {
        size_t k = st->out.len;
        while (k > 0 && is_space(st->out.data[k - 1]))
            k--;
        if (k > 0 && st->out.data[k - 1] == '>') {
            size_t i0 = st->i;
            int rc = try_expression(st, 0);
            if (rc || st->i != i0)
                return rc;
        }
    }
    return copy_raw(st, 1);
}

static int sanitize(policy_doc *d, util_error *err)
{
    san_state st = {.d = d, .s = d->text, .len = d->len, .i = 0};
    util_buf_init(&st.out, (size_t)POLICY_MAX_BYTES * 4);
    int rc = 0;
    while (!rc && st.i < st.len) {
        const char *p = st.s + st.i;
        if (*p != '<')
            rc = scan_text_char(&st);
        else if (strncmp(p, "<!--", 4) == 0)
            rc = copy_until(&st, "-->");
        else if (strncmp(p, "<![CDATA[", 9) == 0)
            rc = copy_until(&st, "]]>");
        else if (strncmp(p, "<?", 2) == 0)
            rc = copy_until(&st, "?>");
        else if (p[1] == '!' || p[1] == '/')
            rc = copy_until(&st, ">");
        else
            rc = scan_start_tag(&st);
    }
    if (!rc && st.out.len == 0)
        rc = util_buf_append(&st.out, "", 0);
    if (rc) {
        util_buf_free(&st.out);
        return util_error_set(err, UTIL_ELIMIT, "the policy document is too large once its expressions are "
                              "escaped (limit %u bytes)", POLICY_MAX_BYTES * 4);
    }
    d->san_len = st.out.len;
    d->san = util_buf_steal(&st.out);
    return 0;
}

/* ---- offsets ---------------------------------------------------------------------------- */

size_t pol_san_to_orig(const policy_doc *d, size_t s)
{
    size_t lo = 0, hi = d->nmap; /* first entry with map_san > s */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (d->map_san[mid] <= s)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return s;
    size_t k = lo - 1;
    if (s < d->map_san[k] + d->map_len[k])
        return d->map_orig[k];
    return d->map_orig[k] + 1 + (s - d->map_san[k] - d->map_len[k]);
}

void pol_line_col(const char *text, size_t off, int *line, int *col)
{
    int l = 1, c = 1;
    for (size_t i = 0; i < off && text[i]; i++) {
        if (text[i] == '\n') {
            l++;
            c = 1;
        } else if (((unsigned char)text[i] & 0xC0) != 0x80)
            c++;
    }
    *line = l;
    *col = c;
}

/* libxml2 reports line and column (in characters) of the sanitized text. */
static size_t san_offset(const policy_doc *d, int line, int col)
{
    size_t i = 0;
    for (int l = 1; l < line && i < d->san_len; i++)
        if (d->san[i] == '\n')
            l++;
    for (int c = 1; c < col && i < d->san_len && d->san[i] != '\n'; c++) {
        i++;
        while (i < d->san_len && ((unsigned char)d->san[i] & 0xC0) == 0x80)
            i++;
    }
    return i;
}

/* ---- lexer: element spans --------------------------------------------------------------- */

typedef struct lex_state {
    policy_doc *d;
    size_t cap;
    size_t *stack;
    size_t depth;
} lex_state;

static size_t skip_to(const policy_doc *d, size_t i, const char *until)
{
    const char *hit = strstr(d->san + i, until);
    return hit ? (size_t)(hit - d->san) + strlen(until) : d->san_len;
}

static void lex_attrs(policy_doc *d, pol_elem *e, size_t *pi)
{
    const char *s = d->san;
    size_t i = *pi;
    for (;;) {
        while (is_space(s[i]))
            i++;
        if (s[i] == '>' || s[i] == '/' || s[i] == '\0')
            break;
        size_t n0 = i;
        while (is_name_char(s[i]))
            i++;
        char *name = util_strndup(s + n0, i - n0);
        while (is_space(s[i]) || s[i] == '=')
            i++;
        char q = s[i];
        size_t v0 = ++i;
        while (s[i] && s[i] != q)
            i++;
        e->attrs = realloc(e->attrs, (e->nattrs + 1) * sizeof *e->attrs);
        if (!e->attrs)
            abort();
        e->attrs[e->nattrs++] = (pol_attr){name, pol_san_to_orig(d, v0), pol_san_to_orig(d, i), q};
        i++;
    }
    *pi = i;
}

static void lex_start(lex_state *lx, size_t *pi)
{
    policy_doc *d = lx->d;
    if (d->nelems == lx->cap) {
        lx->cap = lx->cap ? lx->cap * 2 : 32;
        d->elems = realloc(d->elems, lx->cap * sizeof *d->elems);
        lx->stack = realloc(lx->stack, lx->cap * sizeof *lx->stack);
        if (!d->elems || !lx->stack)
            abort();
    }
    pol_elem *e = &d->elems[d->nelems];
    memset(e, 0, sizeof *e);
    e->start = pol_san_to_orig(d, *pi);
    size_t i = *pi + 1;
    while (is_name_char(d->san[i]))
        i++;
    lex_attrs(d, e, &i);
    e->tag_close = pol_san_to_orig(d, i);
    e->self_closing = d->san[i] == '/';
    i = skip_to(d, i, ">");
    e->cstart = pol_san_to_orig(d, i);
    if (e->self_closing) {
        e->cend = e->cstart;
        e->end = e->cstart;
    } else {
        lx->stack[lx->depth++] = d->nelems;
    }
    d->nelems++;
    *pi = i;
}

static void lex_end(lex_state *lx, size_t *pi)
{
    policy_doc *d = lx->d;
    size_t i = skip_to(d, *pi, ">");
    if (lx->depth > 0) {
        pol_elem *e = &d->elems[lx->stack[--lx->depth]];
        e->cend = pol_san_to_orig(d, *pi);
        e->end = pol_san_to_orig(d, i);
    }
    *pi = i;
}

static void lex(policy_doc *d)
{
    lex_state lx = {.d = d};
    size_t i = 0;
    while (i < d->san_len) {
        const char *p = d->san + i;
        if (*p != '<')
            i++;
        else if (strncmp(p, "<!--", 4) == 0)
            i = skip_to(d, i, "-->");
        else if (strncmp(p, "<![CDATA[", 9) == 0)
            i = skip_to(d, i, "]]>");
        else if (strncmp(p, "<?", 2) == 0)
            i = skip_to(d, i, "?>");
        else if (p[1] == '!')
            i = skip_to(d, i, ">");
        else if (p[1] == '/')
            lex_end(&lx, &i);
        else
            lex_start(&lx, &i);
    }
    free(lx.stack);
}

static size_t count_nodes(xmlNodePtr n)
{
    size_t k = 0;
    for (; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE)
            k += 1 + count_nodes(n->children);
    return k;
}

static void bind_nodes(policy_doc *d, xmlNodePtr n, size_t *k)
{
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        d->elems[*k].node = n;
        n->_private = &d->elems[*k];
        (*k)++;
        bind_nodes(d, n->children, k);
    }
}

/* ---- parse ------------------------------------------------------------------------------ */

/* Keeps the FIRST error (the last one is often a consequence of it). */
static void first_error(void *user, xmlErrorPtr e)
{
    xmlParserCtxtPtr ctxt = user;
    xmlError *keep = ctxt->_private;
    if (keep && e && e->level >= XML_ERR_ERROR && keep->code == 0)
        xmlCopyError(e, keep);
}

static int xml_error(policy_doc *d, xmlParserCtxtPtr ctxt, util_error *err)
{
    const xmlError *xe = ctxt->_private;
    if (!xe || xe->code == 0)
        xe = xmlCtxtGetLastError(ctxt);
    int line = 1, col = 1;
    char msg[512] = "the document is not well-formed XML";
    if (xe) {
        size_t off = pol_san_to_orig(d, san_offset(d, xe->line, xe->int2 > 0 ? xe->int2 : 1));
        pol_line_col(d->text, off, &line, &col);
        if (xe->message) {
            snprintf(msg, sizeof msg, "%s", xe->message);
            size_t n = strlen(msg);
            while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
                msg[--n] = '\0';
        }
    }
    return util_error_set(err, UTIL_EINVAL, "line %d, column %d: %s; fix the policy XML there (APIM "
                          "expressions may hold raw quotes, but tags and attributes must be closed)",
                          line, col, msg);
}

static int parse_xml(policy_doc *d, util_error *err)
{
    xmlInitParser();
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt)
        return util_error_set(err, UTIL_ENOMEM, "out of memory creating the XML parser");
    xmlError first;
    memset(&first, 0, sizeof first);
    ctxt->_private = &first;
    ctxt->sax->serror = first_error;
    d->xml = xmlCtxtReadMemory(ctxt, d->san, (int)d->san_len, "policy.xml", "UTF-8",
                               XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    int rc = 0;
    if (!d->xml)
        rc = xml_error(d, ctxt, err);
    else if (d->xml->intSubset)
        rc = util_error_set(err, UTIL_EINVAL, "line 1, column 1: a DOCTYPE is not allowed in an APIM "
                            "policy; remove it");
    xmlFreeParserCtxt(ctxt);
    xmlResetError(&first);
    return rc;
}

void policy_init(void) { xmlInitParser(); }

policy_doc *policy_parse(const char *text, size_t len, util_error *err)
{
    if (!text)
        len = 0;
    if (len > POLICY_MAX_BYTES) {
        util_error_set(err, UTIL_ELIMIT, "the policy document is %zu bytes; the limit is %u bytes",
                       len, POLICY_MAX_BYTES);
        return NULL;
    }
    if (len == 0 || memchr(text, '\0', len)) {
        util_error_set(err, UTIL_EINVAL, "the policy document is empty or contains a NUL byte; "
                       "pass the <policies> XML text");
        return NULL;
    }
    policy_doc *d = calloc(1, sizeof *d);
    if (!d)
        abort();
    d->text = util_strndup(text, len);
    d->len = len;
    if (sanitize(d, err) || parse_xml(d, err)) {
        policy_doc_free(d);
        return NULL;
    }
    lex(d);
    size_t k = 0;
    if (count_nodes(xmlDocGetRootElement(d->xml)) != d->nelems) {
        util_error_set(err, UTIL_EINTERNAL, "could not locate the elements of the policy in its text; "
                       "please report this document");
        policy_doc_free(d);
        return NULL;
    }
    bind_nodes(d, xmlDocGetRootElement(d->xml), &k);
    return d;
}

void policy_doc_free(policy_doc *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nelems; i++) {
        for (size_t j = 0; j < d->elems[i].nattrs; j++)
            free(d->elems[i].attrs[j].name);
        free(d->elems[i].attrs);
    }
    free(d->elems);
    if (d->xml)
        xmlFreeDoc(d->xml);
    free(d->map_san);
    free(d->map_orig);
    free(d->map_len);
    free(d->san);
    free(d->text);
    free(d);
}

const char *policy_doc_text(const policy_doc *d) { return d->text; }
size_t policy_doc_len(const policy_doc *d) { return d->len; }

/* ---- tree helpers ----------------------------------------------------------------------- */

pol_elem *pol_elem_of(xmlNodePtr n) { return n ? (pol_elem *)n->_private : NULL; }

bool pol_is(xmlNodePtr n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static xmlNodePtr first_element(xmlNodePtr n)
{
    while (n && n->type != XML_ELEMENT_NODE)
        n = n->next;
    return n;
}

xmlNodePtr pol_first_child(xmlNodePtr n) { return n ? first_element(n->children) : NULL; }
xmlNodePtr pol_next(xmlNodePtr n) { return n ? first_element(n->next) : NULL; }

char *pol_attr_dup(xmlNodePtr n, const char *name)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    if (!v)
        return NULL;
    char *s = util_strdup((const char *)v);
    xmlFree(v);
    return s;
}

xmlNodePtr pol_section(const policy_doc *d, const char *name)
{
    xmlNodePtr root = xmlDocGetRootElement(d->xml);
    if (!pol_is(root, "policies"))
        return NULL;
    for (xmlNodePtr c = pol_first_child(root); c; c = pol_next(c))
        if (pol_is(c, name))
            return c;
    return NULL;
}

bool pol_section_has_base(xmlNodePtr section)
{
    for (xmlNodePtr c = pol_first_child(section); c; c = pol_next(c))
        if (pol_is(c, "base"))
            return true;
    return false;
}

const pol_attr *pol_find_attr(const pol_elem *e, const char *name)
{
    for (size_t i = 0; i < e->nattrs; i++)
        if (strcmp(e->attrs[i].name, name) == 0)
            return &e->attrs[i];
    return NULL;
}
