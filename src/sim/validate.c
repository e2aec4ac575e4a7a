/* validate.c: pure validation as APIM does it — policy documents (xml / rawxml, with APIM's
 * tolerance for raw quotes inside @(...) attribute expressions) and backend properties
 * (Single and Pool, circuit breaker rules). */
#include "sim.h"

#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <stdlib.h>
#include <string.h>

/* Limits from the 2024-05-01 spec (definitions.json: BackendCircuitBreaker, CircuitBreakerFailureCondition,
 * FailureStatusCodeRange, BackendPool, BackendPoolItem, BackendBaseParameters). */
#define CB_RULES_MAX 15
#define CB_RANGES_MAX 10
#define CB_REASONS_MAX 10
#define CB_REASON_LEN_MAX 200

/* True when s (at '&') starts an entity or character reference like "&quot;" or "&#x9;". */
static bool is_entity_ref(const char *s)
{
    const char *p = s + 1;
    if (*p == '#')
        p++;
    const char *start = p;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))
        p++;
    return p > start && *p == ';';
}

/* Copies one @(...) or @{...} expression starting at s (at '@') inside an attribute delimited
 * by quote, escaping what XML forbids there. Returns the position after the expression. */
static const char *escape_expression(const char *s, char quote, util_buf *out)
{
    char open = s[1], close = open == '(' ? ')' : '}';
    int depth = 0;
    bool in_str = false;
    const char *p = s;
    for (; *p; p++) {
        char c = *p;
        if (in_str && c == '\\' && p[1]) {
            util_buf_append(out, p, 2);
            p++;
            continue;
        }
        if (c == '"' && (in_str || depth > 0))
            in_str = !in_str;
        else if (!in_str && c == open)
            depth++;
        else if (!in_str && c == close)
            depth--;
        if (c == quote && quote == '"')
            util_buf_puts(out, "&quot;");
        else if (c == quote)
            util_buf_puts(out, "&apos;");
        else if (c == '<')
            util_buf_puts(out, "&lt;");
        else if (c == '&' && !is_entity_ref(p))
            util_buf_puts(out, "&amp;");
        else
            util_buf_append(out, p, 1);
        if (depth == 0 && p > s + 1 && !in_str)
            return p + 1;
    }
    return p;
}

char *sim_policy_escape_expressions(const char *xml)
{
    util_buf out;
    util_buf_init(&out, 0);
    const char *p = xml;
    while (*p) {
        if (*p == '=' && (p[1] == '"' || p[1] == '\'') && p[2] == '@' && (p[3] == '(' || p[3] == '{')) {
            util_buf_append(&out, p, 2);
            p = escape_expression(p + 2, p[1], &out);
            continue;
        }
        util_buf_append(&out, p, 1);
        p++;
    }
    util_buf_puts(&out, "");
    return util_buf_steal(&out);
}

int sim_validate_policy(const char *xml, const char *format, util_error *err)
{
    bool raw = format && strncmp(format, "rawxml", 6) == 0;
    char *text = raw ? sim_policy_escape_expressions(xml) : util_strdup(xml);
    xmlParserCtxtPtr ctx = xmlNewParserCtxt();
    xmlDocPtr doc = xmlCtxtReadMemory(ctx, text, (int)strlen(text), "policy.xml", NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    int rc = 0;
    if (!doc) {
        const xmlError *e = xmlCtxtGetLastError(ctx);
        char msg[256] = "not well-formed";
        if (e && e->message) {
            snprintf(msg, sizeof(msg), "%s", e->message);
            msg[strcspn(msg, "\n")] = '\0';
        }
        rc = util_error_set(err, UTIL_EINVAL, "'%s' is not a valid policy document: %s (line %d, column %d)",
                            format ? format : "xml", msg, e ? e->line : 0, e ? e->int2 : 0);
    } else {
        xmlNodePtr root = xmlDocGetRootElement(doc);
        if (!root || strcmp((const char *)root->name, "policies") != 0)
            rc = util_error_set(err, UTIL_EINVAL,
                                "the policy document's root element must be <policies>, got <%s>",
                                root ? (const char *)root->name : "");
        xmlFreeDoc(doc);
    }
    xmlFreeParserCtxt(ctx);
    free(text);
    return rc;
}

/* ---- backends ------------------------------------------------------------------------- */

static void detail(json_t *details, const char *target, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void detail(json_t *details, const char *target, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_array_append_new(details, json_pack("{s:s,s:s,s:s}", "code", "ValidationError", "target", target,
                                             "message", msg));
}

static void check_int_range(json_t *v, const char *target, int lo, int hi, json_t *details)
{
    if (!v)
        return;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        detail(details, target, "'%s' must be an integer from %d to %d.", target, lo, hi);
}

static void check_pool(json_t *pool, bool (*exists)(const char *, void *), void *user, json_t *details)
{
    json_t *services = json_object_get(pool, "services");
    if (!json_is_array(services) || json_array_size(services) == 0) {
        detail(details, "pool.services", "A backend of type 'Pool' requires at least one pool service.");
        return;
    }
    size_t i;
    json_t *svc;
    json_array_foreach(services, i, svc) {
        const char *id = json_string_value(json_object_get(svc, "id"));
        if (!id)
            detail(details, "pool.services.id", "Each pool service needs an 'id': the full resource id of a backend.");
        else if (!exists(id, user))
            detail(details, "pool.services.id", "Backend with id '%s' does not exist.", id);
        check_int_range(json_object_get(svc, "priority"), "priority", 0, 100, details);
        check_int_range(json_object_get(svc, "weight"), "weight", 0, 100, details);
    }
}

static void check_duration(json_t *v, const char *target, json_t *details)
{
    int64_t secs;
    if (v && (!json_is_string(v) || util_duration_parse_iso8601(json_string_value(v), &secs) != 0))
        detail(details, target, "'%s' must be an ISO 8601 duration such as 'PT1M'.", target);
}

static void check_rule(json_t *rule, json_t *details)
{
    json_t *fc = json_object_get(rule, "failureCondition");
    check_duration(json_object_get(rule, "tripDuration"), "tripDuration", details);
    if (!fc)
        return;
    check_duration(json_object_get(fc, "interval"), "failureCondition.interval", details);
    check_int_range(json_object_get(fc, "percentage"), "failureCondition.percentage", 1, 100, details);
    size_t i;
    json_t *range, *reason;
    json_t *ranges = json_object_get(fc, "statusCodeRanges"), *reasons = json_object_get(fc, "errorReasons");
    if (json_array_size(ranges) > CB_RANGES_MAX)
        detail(details, "failureCondition.statusCodeRanges", "At most %d status code ranges are allowed.", CB_RANGES_MAX);
    json_array_foreach(ranges, i, range) {
        check_int_range(json_object_get(range, "min"), "statusCodeRanges.min", 200, 599, details);
        check_int_range(json_object_get(range, "max"), "statusCodeRanges.max", 200, 599, details);
    }
    if (json_array_size(reasons) > CB_REASONS_MAX)
        detail(details, "failureCondition.errorReasons", "At most %d error reasons are allowed.", CB_REASONS_MAX);
    json_array_foreach(reasons, i, reason)
        if (!json_is_string(reason) || json_string_length(reason) > CB_REASON_LEN_MAX)
            detail(details, "failureCondition.errorReasons", "Each error reason is a string of at most %d characters.",
                   CB_REASON_LEN_MAX);
}

static void check_length(json_t *props, const char *field, size_t max, json_t *details)
{
    json_t *v = json_object_get(props, field);
    if (v && (!json_is_string(v) || json_string_length(v) < 1 || json_string_length(v) > max))
        detail(details, field, "'%s' must be a string of 1 to %zu characters.", field, max);
}

static void check_circuit_breaker(json_t *cb, json_t *details)
{
    json_t *rules = json_object_get(cb, "rules");
    if (!json_is_array(rules)) {
        detail(details, "circuitBreaker.rules", "'circuitBreaker.rules' must be an array.");
        return;
    }
    if (json_array_size(rules) > CB_RULES_MAX)
        detail(details, "circuitBreaker.rules", "At most %d circuit breaker rules are allowed.", CB_RULES_MAX);
    size_t i;
    json_t *rule;
    json_array_foreach(rules, i, rule)
        check_rule(rule, details);
}

int sim_validate_backend(json_t *props, bool (*exists)(const char *, void *), void *user, json_t *details)
{
    if (!json_is_object(props)) {
        detail(details, "properties", "The request body must have a 'properties' object.");
        return UTIL_EINVAL;
    }
    check_length(props, "title", 300, details);
    check_length(props, "description", 2000, details);
    check_length(props, "url", 2000, details);
    const char *type = json_string_value(json_object_get(props, "type"));
    if (type && strcmp(type, "Single") != 0 && strcmp(type, "Pool") != 0)
        detail(details, "type", "Backend type must be 'Single' or 'Pool', got '%s'.", type);
    if (type && strcmp(type, "Pool") == 0) {
        check_pool(json_object_get(props, "pool"), exists, user, details);
    } else {
        if (!json_string_value(json_object_get(props, "url")))
            detail(details, "url", "Backend 'url' is required for a backend of type 'Single'.");
        const char *proto = json_string_value(json_object_get(props, "protocol"));
        if (!proto || (strcmp(proto, "http") != 0 && strcmp(proto, "soap") != 0))
            detail(details, "protocol", "Backend 'protocol' must be 'http' or 'soap'.");
    }
    json_t *cb = json_object_get(props, "circuitBreaker");
    if (cb)
        check_circuit_breaker(cb, details);
    return json_array_size(details) ? UTIL_EINVAL : 0;
}
