/*
 * policy/edit.c: generic edits spliced into the original text (set an attribute on the nth
 * element of a name, insert an element into a section) and the text helpers they and the quota
 * edits share (indentation, escaping, splicing).
 */
#include "policy_internal.h"

#include <stdlib.h>
#include <string.h>

char *pol_splice(const char *text, size_t len, size_t start, size_t end, const char *repl)
{
    size_t rl = strlen(repl);
    char *out = malloc(len - (end - start) + rl + 1);
    if (!out)
        abort();
    memcpy(out, text, start);
    memcpy(out + start, repl, rl);
    memcpy(out + start + rl, text + end, len - end);
    out[len - (end - start) + rl] = '\0';
    return out;
}

int pol_indent_of(const char *text, size_t off, size_t *line_start)
{
    size_t i = off;
    while (i > 0 && text[i - 1] != '\n')
        i--;
    if (line_start)
        *line_start = i;
    for (size_t k = i; k < off; k++)
        if (text[k] != ' ' && text[k] != '\t')
            return -1;
    return (int)(off - i);
}

char *pol_indent_unit(const policy_doc *d)
{
    static const char *const sections[] = {"inbound", "backend", "outbound", "on-error"};
    for (size_t i = 0; i < 4; i++) {
        xmlNodePtr s = pol_section(d, sections[i]);
        xmlNodePtr c = pol_first_child(s);
        if (!c)
            continue;
        size_t ls, lc;
        int is = pol_indent_of(d->text, pol_elem_of(s)->start, &ls);
        int ic = pol_indent_of(d->text, pol_elem_of(c)->start, &lc);
        if (is >= 0 && ic > is && strncmp(d->text + ls, d->text + lc, (size_t)is) == 0)
            return util_strndup(d->text + lc + is, (size_t)(ic - is));
    }
    return util_strdup("    ");
}

char *pol_xml_escape_attr(const char *s, char quote)
{
    util_buf b;
    util_buf_init(&b, 0);
    for (; *s; s++) {
        if (*s == '&')
            util_buf_puts(&b, "&amp;");
        else if (*s == '<')
            util_buf_puts(&b, "&lt;");
        else if (*s == '"' && quote == '"')
            util_buf_puts(&b, "&quot;");
        else if (*s == '\'' && quote == '\'')
            util_buf_puts(&b, "&apos;");
        else
            util_buf_append(&b, s, 1);
    }
    util_buf_append(&b, "", 0);
    return util_buf_steal(&b);
}

static const pol_elem *nth_elem(const policy_doc *d, const char *name, size_t nth)
{
    for (size_t i = 0; i < d->nelems; i++)
        if (pol_is(d->elems[i].node, name) && nth-- == 0)
            return &d->elems[i];
    return NULL;
}

size_t policy_count_elements(const policy_doc *d, const char *name)
{
    size_t k = 0;
    for (size_t i = 0; i < d->nelems; i++)
        k += pol_is(d->elems[i].node, name);
    return k;
}

size_t pol_new_attr_at(const pol_elem *e, char *quote)
{
    *quote = e->nattrs ? e->attrs[e->nattrs - 1].quote : '"';
    return e->nattrs ? e->attrs[e->nattrs - 1].vend + 1 : e->start + 1 + strlen((const char *)e->node->name);
}

int policy_set_attribute(const policy_doc *d, const char *element, size_t nth, const char *attr,
                         const char *value, char **out, util_error *err)
{
    const pol_elem *e = nth_elem(d, element, nth);
    if (!e)
        return util_error_set(err, UTIL_ENOTFOUND, "the policy has no <%s> number %zu (it has %zu)", element,
                              nth + 1, policy_count_elements(d, element));
    const pol_attr *a = pol_find_attr(e, attr);
    if (a) {
        char *esc = pol_xml_escape_attr(value, a->quote);
        *out = pol_splice(d->text, d->len, a->vstart, a->vend, esc);
        free(esc);
        return 0;
    }
    char q;
    size_t at = pol_new_attr_at(e, &q);
    char *esc = pol_xml_escape_attr(value, q);
    char *ins = util_printf(" %s=%c%s%c", attr, q, esc, q);
    *out = pol_splice(d->text, d->len, at, at, ins);
    free(ins);
    free(esc);
    return 0;
}

/* s with `indent` added after every newline. */
char *pol_indent_block(const char *s, const char *indent)
{
    util_buf b;
    util_buf_init(&b, 0);
    for (; *s; s++) {
        util_buf_append(&b, s, 1);
        if (*s == '\n')
            util_buf_puts(&b, indent);
    }
    util_buf_append(&b, "", 0);
    return util_buf_steal(&b);
}

char *pol_indent_str(const policy_doc *d, const pol_elem *e, const char *extra)
{
    size_t ls;
    int n = pol_indent_of(d->text, e->start, &ls);
    return util_printf("%.*s%s", n > 0 ? n : 0, d->text + ls, extra);
}

/* Inserts `xml` on a new line after element `after` (or as the first content of `parent`). */
char *pol_insert_in(const policy_doc *d, const pol_elem *parent, const pol_elem *after, const char *xml)
{
    char *unit = pol_indent_unit(d);
    char *pind = pol_indent_str(d, parent, "");
    char *ind = after ? pol_indent_str(d, after, "") : util_printf("%s%s", pind, unit);
    char *body = pol_indent_block(xml, ind);
    char *ins, *out;
    if (after) {
        ins = util_printf("\n%s%s", ind, body);
        out = pol_splice(d->text, d->len, after->end, after->end, ins);
    } else if (parent->self_closing) {
        const char *name = (const char *)parent->node->name;
        ins = util_printf("<%s>\n%s%s\n%s</%s>", name, ind, body, pind, name);
        out = pol_splice(d->text, d->len, parent->start, parent->end, ins);
    } else {
        ins = util_printf("\n%s%s\n%s", ind, body, pind);
        out = pol_splice(d->text, d->len, parent->cstart, parent->cend, ins);
    }
    free(ins);
    free(body);
    free(ind);
    free(pind);
    free(unit);
    return out;
}

const pol_elem *pol_last_child(xmlNodePtr n)
{
    const pol_elem *last = NULL;
    for (xmlNodePtr c = pol_first_child(n); c; c = pol_next(c))
        last = pol_elem_of(c);
    return last;
}

static int check_fragment(const char *xml, util_error *err)
{
    policy_doc *f = policy_parse(xml, strlen(xml), err);
    if (!f) {
        util_error_prefix(err, "the element to insert is not well-formed");
        return UTIL_EINVAL;
    }
    policy_doc_free(f);
    return 0;
}

int policy_insert_element(const policy_doc *d, const char *section, const char *element_xml, bool after_base,
                          char **out, util_error *err)
{
    if (check_fragment(element_xml, err))
        return UTIL_EINVAL;
    xmlNodePtr root = xmlDocGetRootElement(d->xml);
    if (!pol_is(root, "policies"))
        return util_error_set(err, UTIL_EINVAL, "the document's root is not <policies>; cannot insert into <%s>",
                              section);
    xmlNodePtr sec = pol_section(d, section);
    if (!sec) {
        char *xml = util_printf("<%s>\n    %s\n</%s>", section, element_xml, section);
        *out = pol_insert_in(d, pol_elem_of(root), pol_last_child(root), xml);
        free(xml);
        return 0;
    }
    const pol_elem *after = pol_last_child(sec);
    if (after_base)
        for (xmlNodePtr c = pol_first_child(sec); c; c = pol_next(c))
            if (pol_is(c, "base"))
                after = pol_elem_of(c);
    *out = pol_insert_in(d, pol_elem_of(sec), after, element_xml);
    return 0;
}
