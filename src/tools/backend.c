/* backend: the pure part of the backend-pool tools — duration and status-code normalisation,
 * URL / priority / weight checks, circuit breaker mapping (contract ↔ APIM 2024-05-01),
 * credential-free views and model-version warnings (see backend.h). The ARM read of an API's
 * routing is in backend_read.c. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backend.h"

/* ---- durations --------------------------------------------------------------------------- */

static const struct {
    const char *name;
    int64_t seconds;
} duration_units[] = {
    {"s", 1},         {"sec", 1},      {"secs", 1},    {"second", 1}, {"seconds", 1},
    {"m", 60},        {"min", 60},     {"mins", 60},   {"minute", 60}, {"minutes", 60},
    {"h", 3600},      {"hr", 3600},    {"hrs", 3600},  {"hour", 3600}, {"hours", 3600},
    {"d", 86400},     {"day", 86400},  {"days", 86400},
};

/* "5m", "5 minutes", " 90 s " → seconds; -1 when not of that form. */
static int64_t friendly_seconds(const char *s)
{
    while (*s == ' ')
        s++;
    if (!isdigit((unsigned char)*s))
        return -1;
    int64_t v = 0;
    int digits = 0;
    for (; isdigit((unsigned char)*s); s++) {
        if (++digits > 9)
            return -1;
        v = v * 10 + (*s - '0');
    }
    while (*s == ' ')
        s++;
    size_t ulen = 0;
    while (isalpha((unsigned char)s[ulen]))
        ulen++;
    for (const char *t = s + ulen; *t; t++)
        if (*t != ' ')
            return -1;
    for (size_t i = 0; ulen && i < sizeof duration_units / sizeof duration_units[0]; i++)
        if (strlen(duration_units[i].name) == ulen && strncasecmp(s, duration_units[i].name, ulen) == 0)
            return v * duration_units[i].seconds;
    return -1;
}

int tools_backend_duration_normalize(const char *what, const char *in, char *out, size_t n, util_error *err)
{
    int64_t secs = -1;
    if (in && in[0] == 'P') {
        if (util_duration_parse_iso8601(in, &secs) != 0)
            secs = -1;
    } else if (in) {
        secs = friendly_seconds(in);
    }
    if (secs < 0)
        return util_error_set(err, UTIL_EINVAL,
                              "%s '%s' is not a duration: give ISO 8601 such as PT1M or PT30S, or a number with a "
                              "unit such as 1m, 30s, 5 minutes",
                              what, in ? in : "");
    if (secs < 1 || secs > BACKEND_DURATION_MAX_SEC)
        return util_error_set(err, UTIL_EINVAL, "%s '%s' must be from 1 second to 1 day", what, in);
    util_duration_format_iso8601(secs, out, n);
    return 0;
}

/* ---- status codes ------------------------------------------------------------------------ */

static int parse_code(const char *s, size_t len)
{
    if (len != 3)
        return -1;
    for (size_t i = 0; i < 3; i++)
        if (!isdigit((unsigned char)s[i]))
            return -1;
    return (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
}

int tools_backend_status_range_parse(const char *s, int *min, int *max, util_error *err)
{
    size_t len = s ? strlen(s) : 0;
    const char *dash = s ? strchr(s, '-') : NULL;
    if (len == 3 && (s[1] == 'x' || s[1] == 'X') && (s[2] == 'x' || s[2] == 'X') && isdigit((unsigned char)s[0])) {
        *min = (s[0] - '0') * 100;
        *max = *min + 99;
    } else if (dash) {
        *min = parse_code(s, (size_t)(dash - s));
        *max = parse_code(dash + 1, strlen(dash + 1));
    } else {
        *min = *max = parse_code(s, len);
    }
    if (*min < 0 || *max < 0)
        return util_error_set(err, UTIL_EINVAL,
                              "status code '%s' is not valid: give one code such as \"429\", a range such as "
                              "\"500-599\", or a class such as \"5xx\"",
                              s ? s : "");
    if (*min < BACKEND_STATUS_MIN || *max > BACKEND_STATUS_MAX || *min > *max)
        return util_error_set(err, UTIL_EINVAL,
                              "status codes '%s' must lie within %d-%d with the smaller code first (APIM counts "
                              "only answers from %d to %d as failures)",
                              s, BACKEND_STATUS_MIN, BACKEND_STATUS_MAX, BACKEND_STATUS_MIN, BACKEND_STATUS_MAX);
    return 0;
}

void tools_backend_status_range_format(int min, int max, char *out, size_t n)
{
    if (min == max)
        snprintf(out, n, "%d", min);
    else
        snprintf(out, n, "%d-%d", min, max);
}

/* ---- checks ------------------------------------------------------------------------------ */

int tools_backend_check_url(const char *what, const char *url, util_error *err)
{
    size_t len = url ? strlen(url) : 0;
    if (len == 0 || len > BACKEND_URL_MAX)
        return util_error_set(err, UTIL_EINVAL, "%s must be a URL of 1 to %d characters", what, BACKEND_URL_MAX);
    if (strncasecmp(url, "https://", 8) != 0)
        return util_error_set(err, UTIL_EINVAL,
                              "%s must start with https:// (an Azure OpenAI backend is reached over TLS); got '%.80s'",
                              what, url);
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return util_error_set(err, UTIL_EINVAL, "%s must not contain spaces or control characters", what);
    size_t host = strcspn(url + 8, "/?#");
    if (host == 0)
        return util_error_set(err, UTIL_EINVAL, "%s '%.80s' has no host name after https://", what, url);
    if (memchr(url + 8, '@', host))
        return util_error_set(err, UTIL_EINVAL,
                              "%s must not carry a user name or password; give backend credentials in APIM "
                              "(named values) instead",
                              what);
    return 0;
}

int tools_backend_check_priority(const char *backend_id, json_int_t priority, util_error *err)
{
    if (priority < 0 || priority > BACKEND_PRIORITY_MAX)
        return util_error_set(err, UTIL_EINVAL,
                              "priority of %s must be an integer from 0 to %d (lower runs first), got %lld",
                              backend_id, BACKEND_PRIORITY_MAX, (long long)priority);
    return 0;
}

int tools_backend_check_weight(const char *backend_id, json_int_t weight, util_error *err)
{
    if (weight < 0 || weight > BACKEND_WEIGHT_MAX)
        return util_error_set(err, UTIL_EINVAL,
                              "weight of %s must be an integer from 0 to %d (share of traffic within its "
                              "priority), got %lld",
                              backend_id, BACKEND_WEIGHT_MAX, (long long)weight);
    return 0;
}

/* ---- circuit breaker --------------------------------------------------------------------- */

static json_t *status_ranges(json_t *codes, util_error *err)
{
    json_t *ranges = json_array();
    if (!codes) {
        json_array_append_new(ranges, json_pack("{s:i,s:i}", "min", 429, "max", 429));
        json_array_append_new(ranges, json_pack("{s:i,s:i}", "min", 500, "max", 599));
        return ranges;
    }
    if (json_array_size(codes) == 0 || json_array_size(codes) > BACKEND_STATUS_RANGES_MAX) {
        json_decref(ranges);
        util_error_set(err, UTIL_EINVAL, "status_codes must list 1 to %d codes or ranges, e.g. [\"429\", \"500-599\"]",
                       BACKEND_STATUS_RANGES_MAX);
        return NULL;
    }
    size_t i;
    json_t *c;
    json_array_foreach(codes, i, c) {
        int lo, hi;
        if (tools_backend_status_range_parse(json_string_value(c), &lo, &hi, err) != 0) {
            json_decref(ranges);
            return NULL;
        }
        json_array_append_new(ranges, json_pack("{s:i,s:i}", "min", lo, "max", hi));
    }
    return ranges;
}

/* The contract's fields and their JSON types (the tool schema only says "object"). */
static const struct {
    const char *key;
    json_type type;
} cb_fields[] = {{"failure_count", JSON_INTEGER},
                 {"failure_interval", JSON_STRING},
                 {"trip_duration", JSON_STRING},
                 {"status_codes", JSON_ARRAY},
                 {"accept_retry_after", JSON_TRUE}};

static int check_cb_fields(const char *backend_id, json_t *cb, util_error *err)
{
    const char *key;
    json_t *v;
    if (!json_is_object(cb))
        return util_error_set(err, UTIL_EINVAL, "circuit_breaker of %s must be an object or null", backend_id);
    json_object_foreach(cb, key, v) {
        size_t i = 0;
        while (i < sizeof cb_fields / sizeof cb_fields[0] && strcmp(cb_fields[i].key, key) != 0)
            i++;
        if (i == sizeof cb_fields / sizeof cb_fields[0])
            return util_error_set(err, UTIL_EINVAL,
                                  "circuit_breaker of %s has no field '%s'; its fields are failure_count, "
                                  "failure_interval, trip_duration, status_codes, accept_retry_after",
                                  backend_id, key);
        bool ok = cb_fields[i].type == JSON_TRUE ? json_is_boolean(v) : json_typeof(v) == cb_fields[i].type;
        if (!ok)
            return util_error_set(err, UTIL_EINVAL, "circuit_breaker.%s of %s must be %s", key, backend_id,
                                  cb_fields[i].type == JSON_INTEGER  ? "an integer"
                                  : cb_fields[i].type == JSON_STRING ? "a string such as \"1m\" or \"PT1M\""
                                  : cb_fields[i].type == JSON_ARRAY  ? "an array such as [\"429\", \"500-599\"]"
                                                                     : "true or false");
    }
    return 0;
}

json_t *tools_backend_cb_to_apim(const char *backend_id, json_t *cb, util_error *err)
{
    if (check_cb_fields(backend_id, cb, err))
        return NULL;
    json_int_t count = json_integer_value(json_object_get(cb, "failure_count"));
    if (count < 1 || count > BACKEND_FAILURE_COUNT_MAX) {
        util_error_set(err, UTIL_EINVAL, "circuit_breaker.failure_count of %s must be from 1 to %d", backend_id,
                       BACKEND_FAILURE_COUNT_MAX);
        return NULL;
    }
    char interval[32], trip[32], what_interval[300], what_trip[300];
    snprintf(what_interval, sizeof what_interval, "circuit_breaker.failure_interval of %s", backend_id);
    snprintf(what_trip, sizeof what_trip, "circuit_breaker.trip_duration of %s", backend_id);
    if (tools_backend_duration_normalize(what_interval, json_string_value(json_object_get(cb, "failure_interval")),
                                         interval, sizeof interval, err) != 0 ||
        tools_backend_duration_normalize(what_trip, json_string_value(json_object_get(cb, "trip_duration")), trip,
                                         sizeof trip, err) != 0)
        return NULL;
    json_t *ranges = status_ranges(json_object_get(cb, "status_codes"), err);
    if (!ranges) {
        util_error_prefix(err, "circuit_breaker of %s", backend_id);
        return NULL;
    }
    json_t *accept = json_object_get(cb, "accept_retry_after");
    char *name = util_printf("%s-breaker", backend_id);
    json_t *fc =
        json_pack("{s:I,s:s,s:o}", "count", (json_int_t)count, "interval", interval, "statusCodeRanges", ranges);
    json_t *rule = json_pack("{s:s,s:o,s:s,s:b}", "name", name, "failureCondition", fc, "tripDuration", trip,
                             "acceptRetryAfter", accept ? json_is_true(accept) : 1);
    free(name);
    return json_pack("{s:[o]}", "rules", rule);
}

void tools_backend_cb_keep_identity(json_t *apim_cb, json_t *existing)
{
    json_t *rule = json_array_get(json_object_get(apim_cb, "rules"), 0);
    json_t *old = json_array_get(json_object_get(existing, "rules"), 0);
    json_t *name = json_object_get(old, "name");
    json_t *reasons = json_object_get(json_object_get(old, "failureCondition"), "errorReasons");
    if (json_is_string(name))
        json_object_set(rule, "name", name);
    if (reasons)
        json_object_set(json_object_get(rule, "failureCondition"), "errorReasons", reasons);
}

json_t *tools_backend_cb_from_apim(json_t *circuit_breaker)
{
    json_t *rule = json_array_get(json_object_get(circuit_breaker, "rules"), 0);
    if (!json_is_object(rule))
        return json_null();
    json_t *fc = json_object_get(rule, "failureCondition");
    json_t *codes = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(fc, "statusCodeRanges"), i, r) {
        char s[16];
        tools_backend_status_range_format((int)json_integer_value(json_object_get(r, "min")),
                                          (int)json_integer_value(json_object_get(r, "max")), s, sizeof s);
        json_array_append_new(codes, json_string(s));
    }
    json_t *count = json_object_get(fc, "count"), *interval = json_object_get(fc, "interval");
    json_t *trip = json_object_get(rule, "tripDuration");
    return json_pack("{s:O,s:O,s:O,s:o,s:b}", "failure_count", json_is_integer(count) ? count : json_null(),
                     "failure_interval", json_is_string(interval) ? interval : json_null(), "trip_duration",
                     json_is_string(trip) ? trip : json_null(), "status_codes", codes, "accept_retry_after",
                     json_is_true(json_object_get(rule, "acceptRetryAfter")));
}

/* ---- credential-free views --------------------------------------------------------------- */

/* Registers every string under v (arrays of values, or one string) as a secret. */
static void add_secrets(json_t *v)
{
    size_t i;
    json_t *x;
    if (json_is_string(v))
        util_log_add_secret(json_string_value(v));
    json_array_foreach(v, i, x)
        add_secrets(x);
}

/* The names of a credentials header / query object, registering their values as secrets. */
static json_t *names_of(json_t *obj)
{
    json_t *names = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        json_array_append_new(names, json_string(k));
        add_secrets(v);
    }
    return names;
}

json_t *tools_backend_credentials_view(json_t *props)
{
    json_t *cred = json_object_get(props, "credentials"), *out = json_object();
    if (json_object_size(json_object_get(cred, "header")))
        json_object_set_new(out, "header", names_of(json_object_get(cred, "header")));
    if (json_object_size(json_object_get(cred, "query")))
        json_object_set_new(out, "query", names_of(json_object_get(cred, "query")));
    json_t *auth = json_object_get(cred, "authorization");
    if (json_is_object(auth)) {
        add_secrets(json_object_get(auth, "parameter"));
        json_object_set_new(out, "authorization", json_string("present"));
    }
    if (json_array_size(json_object_get(cred, "certificate")) ||
        json_array_size(json_object_get(cred, "certificateIds")))
        json_object_set_new(out, "certificates", json_string("present"));
    json_t *proxy_password = json_object_get(json_object_get(props, "proxy"), "password");
    if (proxy_password) {
        add_secrets(proxy_password);
        json_object_set_new(out, "proxy_password", json_string("present"));
    }
    if (json_object_size(out))
        return out;
    json_decref(out);
    return json_null();
}

char *tools_backend_url_redacted(const char *url)
{
    if (!url)
        return NULL;
    const char *q = strchr(url, '?');
    if (!q)
        return util_strdup(url);
    util_buf b;
    util_buf_init(&b, 0);
    util_buf_append(&b, url, (size_t)(q - url) + 1);
    for (const char *p = q + 1; *p;) {
        size_t pair = strcspn(p, "&#"), key = strcspn(p, "=&#");
        util_buf_append(&b, p, key);
        if (key < pair)
            util_buf_puts(&b, "=***");
        p += pair;
        if (*p == '#')
            break;
        if (*p == '&')
            util_buf_puts(&b, "&"), p++;
    }
    return util_buf_steal(&b);
}

char *tools_backend_url_deployment(const char *url)
{
    const char *d = url ? strstr(url, "/deployments/") : NULL;
    if (!d)
        return NULL;
    d += strlen("/deployments/");
    size_t n = strcspn(d, "/?#");
    return n ? util_strndup(d, n) : NULL;
}

void tools_backend_model_warnings(json_t *members, json_t *warnings)
{
    util_buf list;
    util_buf_init(&list, 4096);
    char *first = NULL;
    bool differ = false;
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m) {
        char *dep = tools_backend_url_deployment(json_string_value(json_object_get(m, "url")));
        if (!dep)
            continue;
        util_buf_printf(&list, "%s%s: %s", list.len ? ", " : "", json_string_value(json_object_get(m, "backend_id")),
                        dep);
        if (!first)
            first = dep;
        else {
            differ |= strcmp(first, dep) != 0;
            free(dep);
        }
    }
    if (differ)
        json_array_append_new(warnings,
                              json_sprintf("members point at different deployments (%s): a failover changes the "
                                           "model or version that answers; deploy the same model version in every "
                                           "region",
                                           list.data));
    free(first);
    util_buf_free(&list);
}

char *tools_backend_id_from_resource_id(const char *id)
{
    const char *p = NULL;
    for (const char *s = id; s && (s = util_strcasestr(s, "/backends/")); s++)
        p = s;
    if (!p)
        return NULL;
    p += strlen("/backends/");
    if (!*p || strchr(p, '/'))
        return NULL;
    return util_strdup(p);
}

json_t *tools_backend_member_view(const char *backend_id, json_t *body, json_t *item)
{
    json_t *props = json_object_get(body, "properties");
    char *url = tools_backend_url_redacted(json_string_value(json_object_get(props, "url")));
    json_t *prio = json_object_get(item, "priority"), *weight = json_object_get(item, "weight");
    json_t *v = json_pack("{s:s,s:s?,s:O,s:O,s:o}", "backend_id", backend_id, "url", url, "priority",
                          json_is_integer(prio) ? prio : json_null(), "weight",
                          json_is_integer(weight) ? weight : json_null(), "circuit_breaker",
                          tools_backend_cb_from_apim(json_object_get(props, "circuitBreaker")));
    json_t *cred = tools_backend_credentials_view(props);
    if (json_is_null(cred))
        json_decref(cred);
    else
        json_object_set_new(v, "credentials", cred);
    free(url);
    return v;
}
