/* schema: validation of tool arguments against the JSON Schema subset our tools declare, with
 * one precise sentence for the first violation found (see mcp_schema_validate in mcp.h). */
#include "mcp.h"
#include "platform.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *json_type_name(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

static bool is_type(json_t *v, const char *type)
{
    if (!strcmp(type, "object")) return json_is_object(v);
    if (!strcmp(type, "array")) return json_is_array(v);
    if (!strcmp(type, "string")) return json_is_string(v);
    if (!strcmp(type, "boolean")) return json_is_boolean(v);
    if (!strcmp(type, "null")) return json_is_null(v);
    if (!strcmp(type, "number")) return json_is_number(v);
    if (!strcmp(type, "integer")) {
        if (json_is_integer(v))
            return true;
        if (json_is_real(v)) {
            double d = json_real_value(v);
            return d == floor(d) && fabs(d) < 9e15;
        }
        return false;
    }
    return false;
}

/* A short rendering of a value for error messages (strings quoted, long values cut). */
static void render(json_t *v, char *out, size_t n)
{
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!s) {
        snprintf(out, n, "?");
        return;
    }
    bool cut = strlen(s) > 60;
    util_utf8_cut(s, 57); /* never inside a character: the message must stay valid UTF-8 */
    snprintf(out, n, "%s%s", s, cut ? "..." : "");
    free(s);
}

static const char *where(const char *path) { return *path ? path : "the arguments"; }

static int check_type(json_t *schema, json_t *inst, const char *path, util_error *err)
{
    json_t *type = json_object_get(schema, "type");
    if (!type)
        return 0;
    char expected[128] = "";
    if (json_is_string(type)) {
        if (is_type(inst, json_string_value(type)))
            return 0;
        snprintf(expected, sizeof expected, "%s", json_string_value(type));
    } else if (json_is_array(type)) {
        size_t i;
        json_t *t;
        json_array_foreach(type, i, t) {
            if (json_is_string(t) && is_type(inst, json_string_value(t)))
                return 0;
            size_t l = strlen(expected);
            snprintf(expected + l, sizeof expected - l, "%s%s", i ? " or " : "", json_string_value(t));
        }
    } else {
        return 0;
    }
    char got[80];
    render(inst, got, sizeof got);
    return util_error_set(err, UTIL_EINVAL, "%s must be of type %s, got %s %s", where(path), expected,
                          json_type_name(inst), got);
}

static int check_enum(json_t *schema, json_t *inst, const char *path, util_error *err)
{
    json_t *en = json_object_get(schema, "enum");
    json_t *cst = json_object_get(schema, "const");
    if (cst && !json_equal(cst, inst)) {
        char want[80];
        render(cst, want, sizeof want);
        return util_error_set(err, UTIL_EINVAL, "%s must be %s", where(path), want);
    }
    if (!json_is_array(en))
        return 0;
    size_t i;
    json_t *e;
    util_buf list;
    util_buf_init(&list, 512);
    json_array_foreach(en, i, e) {
        if (json_equal(e, inst)) {
            util_buf_free(&list);
            return 0;
        }
        char r[80];
        render(e, r, sizeof r);
        util_buf_printf(&list, "%s%s", i ? ", " : "", r);
    }
    char got[80];
    render(inst, got, sizeof got);
    util_error_set(err, UTIL_EINVAL, "%s must be one of %s; got %s", where(path), list.data ? list.data : "",
                   got);
    util_buf_free(&list);
    return UTIL_EINVAL;
}

/* "%g" prints 100000000 as 1e+08: whole numbers are printed whole. */
static const char *num(double v, char *buf, size_t n)
{
    if (v == floor(v) && fabs(v) < 9e15)
        snprintf(buf, n, "%.0f", v);
    else
        snprintf(buf, n, "%.15g", v);
    return buf;
}

static int check_number(json_t *schema, json_t *inst, const char *path, util_error *err)
{
    if (!json_is_number(inst))
        return 0;
    double v = json_number_value(inst);
    json_t *b;
    char x[32], y[32];
    if ((b = json_object_get(schema, "minimum")) && v < json_number_value(b))
        return util_error_set(err, UTIL_EINVAL, "%s must be at least %s, got %s", where(path),
                              num(json_number_value(b), x, sizeof x), num(v, y, sizeof y));
    if ((b = json_object_get(schema, "maximum")) && v > json_number_value(b))
        return util_error_set(err, UTIL_EINVAL, "%s must be at most %s, got %s", where(path),
                              num(json_number_value(b), x, sizeof x), num(v, y, sizeof y));
    if ((b = json_object_get(schema, "exclusiveMinimum")) && json_is_number(b) && v <= json_number_value(b))
        return util_error_set(err, UTIL_EINVAL, "%s must be greater than %s, got %s", where(path),
                              num(json_number_value(b), x, sizeof x), num(v, y, sizeof y));
    if ((b = json_object_get(schema, "exclusiveMaximum")) && json_is_number(b) && v >= json_number_value(b))
        return util_error_set(err, UTIL_EINVAL, "%s must be less than %s, got %s", where(path),
                              num(json_number_value(b), x, sizeof x), num(v, y, sizeof y));
    return 0;
}

static size_t utf8_length(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int check_string(json_t *schema, json_t *inst, const char *path, util_error *err)
{
    if (!json_is_string(inst))
        return 0;
    const char *s = json_string_value(inst);
    size_t len = utf8_length(s);
    json_t *b;
    if ((b = json_object_get(schema, "minLength")) && len < (size_t)json_integer_value(b))
        return util_error_set(err, UTIL_EINVAL, "%s must be at least %lld characters long%s", where(path),
                              (long long)json_integer_value(b), len ? "" : " (it is empty)");
    if ((b = json_object_get(schema, "maxLength")) && len > (size_t)json_integer_value(b))
        return util_error_set(err, UTIL_EINVAL, "%s must be at most %lld characters long, got %zu", where(path),
                              (long long)json_integer_value(b), len);
    /* a pattern that does not compile is not enforced, as before */
    if ((b = json_object_get(schema, "pattern")) && json_is_string(b) &&
        platform_regex_match(json_string_value(b), s) == 0) {
        char got[80];
        render(inst, got, sizeof got);
        return util_error_set(err, UTIL_EINVAL, "%s must match the pattern %s, got %s", where(path),
                              json_string_value(b), got);
    }
    return 0;
}

static int validate_at(json_t *schema, json_t *inst, const char *path, util_error *err);

/* A whole number sent as a real (5e4, 50000.0) where the schema wants an integer, as a JSON
 * integer (NEW reference), so handlers reading integers see 50000, not 0. NULL otherwise. */
static json_t *as_integer(json_t *schema, json_t *v)
{
    json_t *type = json_object_get(schema, "type"), *t;
    bool integer = json_is_string(type) && !strcmp(json_string_value(type), "integer");
    size_t i;
    json_array_foreach(type, i, t)
        integer = integer || (json_is_string(t) && !strcmp(json_string_value(t), "integer"));
    if (!integer || !json_is_real(v) || !is_type(v, "integer"))
        return NULL;
    return json_integer((json_int_t)json_real_value(v));
}


static int check_object(json_t *schema, json_t *inst, const char *path, util_error *err)
{
    if (!json_is_object(inst))
        return 0;
    json_t *props = json_object_get(schema, "properties");
    json_t *req = json_object_get(schema, "required");
    size_t i;
    json_t *r;
    json_array_foreach(req, i, r) {
        if (json_is_string(r) && !json_object_get(inst, json_string_value(r))) {
            if (*path)
                return util_error_set(err, UTIL_EINVAL, "%s.%s is required", path, json_string_value(r));
            return util_error_set(err, UTIL_EINVAL, "the argument '%s' is required", json_string_value(r));
        }
    }
    json_t *addl = json_object_get(schema, "additionalProperties");
    const char *key;
    json_t *val;
    json_object_foreach(inst, key, val) {
        json_t *ps = props ? json_object_get(props, key) : NULL;
        char sub[512];
        if (*path)
            snprintf(sub, sizeof sub, "%s.%s", path, key);
        else
            snprintf(sub, sizeof sub, "%s", key);
        if (!ps) {
            if (json_is_false(addl)) {
                util_buf names;
                util_buf_init(&names, 512);
                const char *k;
                json_t *unused;
                json_object_foreach(props, k, unused) util_buf_printf(&names, "%s%s", names.len ? ", " : "", k);
                util_error_set(err, UTIL_EINVAL, "unknown property '%s'%s%s; expected one of: %s", key,
                               *path ? " in " : "", path, names.data ? names.data : "(none)");
                util_buf_free(&names);
                return UTIL_EINVAL;
            }
            if (json_is_object(addl) && validate_at(addl, val, sub, err))
                return UTIL_EINVAL;
            continue;
        }
        if (validate_at(ps, val, sub, err))
            return UTIL_EINVAL;
        json_t *whole = as_integer(ps, val);
        if (whole)
            json_object_set_new(inst, key, whole);
    }
    json_t *b;
    if ((b = json_object_get(schema, "minProperties")) && json_object_size(inst) < (size_t)json_integer_value(b))
        return util_error_set(err, UTIL_EINVAL, "%s must have at least %lld properties", where(path),
                              (long long)json_integer_value(b));
    return 0;
}

static int check_array(json_t *schema, json_t *inst, const char *path, util_error *err)
{
    if (!json_is_array(inst))
        return 0;
    json_t *b;
    size_t n = json_array_size(inst);
    if ((b = json_object_get(schema, "minItems")) && n < (size_t)json_integer_value(b))
        return util_error_set(err, UTIL_EINVAL, "%s must have at least %lld items, got %zu", where(path),
                              (long long)json_integer_value(b), n);
    if ((b = json_object_get(schema, "maxItems")) && n > (size_t)json_integer_value(b))
        return util_error_set(err, UTIL_EINVAL, "%s must have at most %lld items, got %zu", where(path),
                              (long long)json_integer_value(b), n);
    json_t *items = json_object_get(schema, "items");
    if (!json_is_object(items))
        return 0;
    size_t i;
    json_t *v;
    json_array_foreach(inst, i, v) {
        char sub[512];
        snprintf(sub, sizeof sub, "%s[%zu]", *path ? path : "item", i);
        if (validate_at(items, v, sub, err))
            return UTIL_EINVAL;
        json_t *whole = as_integer(items, v);
        if (whole)
            json_array_set_new(inst, i, whole);
    }
    return 0;
}

/* anyOf/oneOf: passes when one alternative passes; else reports the first alternative's error. */
static int check_alternatives(json_t *schema, json_t *inst, const char *path, util_error *err)
{
    json_t *alts = json_object_get(schema, "anyOf");
    if (!alts)
        alts = json_object_get(schema, "oneOf");
    if (!json_is_array(alts) || json_array_size(alts) == 0)
        return 0;
    util_error first;
    util_error_clear(&first);
    size_t i;
    json_t *a;
    json_array_foreach(alts, i, a) {
        util_error tmp;
        util_error_clear(&tmp);
        if (validate_at(a, inst, path, &tmp) == 0)
            return 0;
        if (i == 0)
            first = tmp;
    }
    if (err)
        *err = first;
    return UTIL_EINVAL;
}

static int validate_at(json_t *schema, json_t *inst, const char *path, util_error *err)
{
    if (!json_is_object(schema))
        return 0;
    if (check_type(schema, inst, path, err) || check_enum(schema, inst, path, err) ||
        check_number(schema, inst, path, err) || check_string(schema, inst, path, err) ||
        check_object(schema, inst, path, err) || check_array(schema, inst, path, err) ||
        check_alternatives(schema, inst, path, err))
        return UTIL_EINVAL;
    return 0;
}

int mcp_schema_validate(json_t *schema, json_t *instance, util_error *err)
{
    return validate_at(schema, instance, "", err);
}
