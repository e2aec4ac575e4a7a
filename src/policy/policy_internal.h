/*
 * policy_internal.h: private to src/policy/. The parsed document (original text, the
 * well-formed "sanitized" text libxml2 parsed, the offset map between them, the libxml2 tree and
 * the byte spans of every element and attribute in the ORIGINAL text) and helpers shared by the
 * module's files. All memory belongs to the policy_doc and is freed by policy_doc_free.
 */
#ifndef AIGW_POLICY_INTERNAL_H
#define AIGW_POLICY_INTERNAL_H

#include "policy.h"

#include <libxml/tree.h>

typedef struct pol_attr {
    char *name;
    size_t vstart, vend; /* value inside the quotes, original offsets */
    char quote;          /* '"' or '\'' */
} pol_attr;

typedef struct pol_elem {
    xmlNodePtr node;
    size_t start;      /* '<' of the start tag */
    size_t tag_close;  /* the "/>" or ">" closing the start tag (where new attributes go) */
    size_t cstart;     /* content: after the start tag's '>' ... */
    size_t cend;       /* ... up to the end tag's '<' (cstart == cend when self-closing) */
    size_t end;        /* just after the element's last '>' */
    bool self_closing;
    pol_attr *attrs;
    size_t nattrs;
} pol_elem;

struct policy_doc {
    char *text; /* original, NUL-terminated */
    size_t len;
    char *san;  /* what libxml2 parsed */
    size_t san_len;
    /* sanitized-to-original map: one entry per original byte replaced by an entity */
    size_t *map_san, *map_orig, *map_len;
    size_t nmap, capmap;
    xmlDocPtr xml;
    pol_elem *elems; /* document order; elems[i].node->_private == &elems[i] */
    size_t nelems;
};

/* offsets and positions */
size_t pol_san_to_orig(const policy_doc *d, size_t san_off);
void pol_line_col(const char *text, size_t off, int *line, int *col);

/* tree helpers (names compared exactly; attribute values decoded by libxml2) */
pol_elem *pol_elem_of(xmlNodePtr n);
bool pol_is(xmlNodePtr n, const char *name);
xmlNodePtr pol_first_child(xmlNodePtr n);  /* first element child or NULL */
xmlNodePtr pol_next(xmlNodePtr n);         /* next element sibling or NULL */
char *pol_attr_dup(xmlNodePtr n, const char *name); /* decoded value (malloc) or NULL */
xmlNodePtr pol_section(const policy_doc *d, const char *name);
bool pol_section_has_base(xmlNodePtr section);
const pol_attr *pol_find_attr(const pol_elem *e, const char *name);
size_t pol_new_attr_at(const pol_elem *e, char *quote); /* where a new attribute goes, and its quote */

/* text helpers */
int pol_indent_of(const char *text, size_t off, size_t *line_start); /* whitespace before off on its line; -1 if not only whitespace */
char *pol_indent_unit(const policy_doc *d); /* "    " or "\t" guessed from the document */
char *pol_xml_escape_attr(const char *s, char quote);

char *pol_indent_block(const char *s, const char *indent); /* indent added after every newline */
char *pol_indent_str(const policy_doc *d, const pol_elem *e, const char *extra); /* e's line indent + extra */
/* Inserts xml on a new line after `after` (or as first content of `parent`), indented like it. */
char *pol_insert_in(const policy_doc *d, const pol_elem *parent, const pol_elem *after, const char *xml);
const pol_elem *pol_last_child(xmlNodePtr n);

/* splice: text with [start,end) replaced by repl */
char *pol_splice(const char *text, size_t len, size_t start, size_t end, const char *repl);

/* conditions (cond.c) */
enum pol_subject { POL_SUBJ_OTHER = 0, POL_SUBJ_SUB_ID, POL_SUBJ_SUB_NAME, POL_SUBJ_PRODUCT_ID };
typedef struct pol_cond {
    int subject;   /* enum pol_subject */
    bool negated;  /* != or ! ...Equals */
    char **values; /* equality with any of them (|| chains) */
    size_t nvalues;
} pol_cond;
void pol_cond_parse(const char *expr, pol_cond *c);
void pol_cond_free(pol_cond *c);
json_t *pol_cond_json(const char *expr, const pol_cond *c);

#endif
