/* text.c: get_metrics' text block — a short report that costs the user's LLM few tokens: one
 * summary line, a table of the most throttled then biggest subscriptions (at most
 * METRICS_MAX_ROWS, then "and N more"), backends, a compact series, and where figures came from. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "metrics.h"

static json_int_t get_int(json_t *o, const char *k) { return json_integer_value(json_object_get(o, k)); }

/* "-" for null, else the integer. */
static void num(char *out, size_t n, json_t *v)
{
    if (json_is_integer(v))
        snprintf(out, n, "%lld", (long long)json_integer_value(v));
    else
        snprintf(out, n, "-");
}

static void human(char *out, size_t n, json_t *v)
{
    double d = json_is_integer(v) ? (double)json_integer_value(v) : -1;
    if (d < 0)
        snprintf(out, n, "-");
    else if (d >= 1e9)
        snprintf(out, n, "%.1fG", d / 1e9);
    else if (d >= 1e6)
        snprintf(out, n, "%.1fM", d / 1e6);
    else if (d >= 1e4)
        snprintf(out, n, "%.1fk", d / 1e3);
    else
        snprintf(out, n, "%.0f", d);
}

static void pct(char *out, size_t n, json_t *v)
{
    if (json_is_number(v))
        snprintf(out, n, "%.1f%%", json_number_value(v) * 100.0);
    else
        snprintf(out, n, "-");
}

/* The subscription's id, or "(N others)" for the row get_metrics summed the rest into. */
static const char *row_name(json_t *r, char *buf, size_t n)
{
    const char *id = json_string_value(json_object_get(r, "subscription_id"));
    if (id)
        return id;
    snprintf(buf, n, "(%lld others)", (long long)get_int(r, "others"));
    return buf;
}

static void summary(util_buf *b, json_t *r)
{
    json_t *t = json_object_get(r, "totals");
    char req[24], thr[24], blk[24], fail[24], hit[16], hits[24], miss[24], lat[24], blat[24], tok[24];
    num(req, sizeof(req), json_object_get(t, "requests"));
    num(thr, sizeof(thr), json_object_get(t, "throttled"));
    num(blk, sizeof(blk), json_object_get(t, "blocked"));
    num(fail, sizeof(fail), json_object_get(t, "failed"));
    pct(hit, sizeof(hit), json_object_get(t, "cache_hit_rate"));
    num(hits, sizeof(hits), json_object_get(t, "cache_hits"));
    num(miss, sizeof(miss), json_object_get(t, "cache_misses"));
    num(lat, sizeof(lat), json_object_get(t, "avg_latency_ms"));
    num(blat, sizeof(blat), json_object_get(t, "avg_backend_latency_ms"));
    human(tok, sizeof(tok), json_object_get(json_object_get(t, "tokens"), "total"));
    util_buf_printf(b, "%s %s..%s: %s req, %s throttled (429), %s blocked, %s failed, cache hit %s (%s hits, %s "
                       "misses), avg %s ms (backend %s), tokens %s\n",
                    json_string_value(json_object_get(r, "api_id")), json_string_value(json_object_get(r, "since")),
                    json_string_value(json_object_get(r, "until")), req, thr, blk, fail, hit, hits, miss, lat, blat, tok);
    json_t *tg = json_object_get(t, "throttled_gateway"), *tb = json_object_get(t, "throttled_backend");
    if (!json_is_integer(tg) || !json_is_integer(tb) || json_integer_value(tg) + json_integer_value(tb) == 0)
        return;
    util_buf_printf(b, "429s: %lld by the gateway's own limits, %lld by Azure OpenAI (deployment capacity)",
                    (long long)json_integer_value(tg), (long long)json_integer_value(tb));
    /* which dominates for each team, and what helps */
    util_buf backend, gateway;
    util_buf_init(&backend, 0);
    util_buf_init(&gateway, 0);
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(r, "by_subscription"), i, row) {
        json_t *g = json_object_get(row, "throttled_gateway"), *k = json_object_get(row, "throttled_backend");
        if (!json_is_integer(g) || !json_is_integer(k) || json_integer_value(g) + json_integer_value(k) == 0)
            continue;
        util_buf *into = json_integer_value(k) > json_integer_value(g) ? &backend : &gateway;
        char name[48];
        util_buf_printf(into, "%s%s", into->len ? ", " : "", row_name(row, name, sizeof name));
    }
    bool by_team = backend.len || gateway.len;
    if (!by_team)
        util_buf_puts(json_integer_value(tb) > json_integer_value(tg) ? &backend : &gateway, "the API");
    if (backend.len)
        util_buf_printf(b, "; Azure OpenAI's capacity dominates for %s: raising a limit will not help, add deployment "
                           "capacity or a region (get_backend_pool shows capacity_tpm)", backend.data);
    if (gateway.len)
        util_buf_printf(b, "; the gateway's limits dominate for %s: raise the limit that needs it (update_quota), "
                           "within the deployments' capacity", gateway.data);
    util_buf_puts(b, "\n");
    util_buf_free(&backend);
    util_buf_free(&gateway);
}

static void table_row(util_buf *b, json_t *r)
{
    char req[24], thr[24], blk[24], hit[16], lat[24], tok[24], name[48];
    num(req, sizeof(req), json_object_get(r, "requests"));
    num(thr, sizeof(thr), json_object_get(r, "throttled"));
    json_t *tb = json_object_get(r, "throttled_backend");
    if (json_is_integer(tb) && json_integer_value(tb) > 0)
        snprintf(thr + strlen(thr), sizeof(thr) - strlen(thr), " (%lld)", (long long)json_integer_value(tb));
    num(blk, sizeof(blk), json_object_get(r, "blocked"));
    pct(hit, sizeof(hit), json_object_get(r, "cache_hit_rate"));
    num(lat, sizeof(lat), json_object_get(r, "avg_latency_ms"));
    human(tok, sizeof(tok), json_object_get(json_object_get(r, "tokens"), "total"));
    util_buf_printf(b, "%s | %s | %s | %s | %s | %s | %s\n", row_name(r, name, sizeof name), req, thr, blk, hit, lat,
                    tok);
}

/* The rows (at most METRICS_MAX_ROWS), then the summed row of the others when get_metrics cut them. */
static void table(util_buf *b, json_t *rows)
{
    size_t n = json_array_size(rows);
    if (!n)
        return;
    json_t *last = json_array_get(rows, n - 1);
    bool summed = json_object_get(last, "others") != NULL;
    n -= summed;
    util_buf_puts(b, "subscription | req | 429 (backend) | blocked | cache hit | avg ms | tokens\n");
    for (size_t i = 0; i < n && i < METRICS_MAX_ROWS; i++)
        table_row(b, json_array_get(rows, i));
    if (n > METRICS_MAX_ROWS)
        util_buf_printf(b, "and %zu more\n", n - METRICS_MAX_ROWS);
    if (summed)
        table_row(b, last);
}

static void backends(util_buf *b, json_t *rows)
{
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        char lat[24];
        num(lat, sizeof(lat), json_object_get(r, "avg_backend_latency_ms"));
        util_buf_printf(b, "%s%s %lld req (%s ms)", i ? ", " : "backends: ",
                        json_string_value(json_object_get(r, "backend_id")), (long long)get_int(r, "requests"), lat);
    }
    if (json_array_size(rows))
        util_buf_puts(b, "\n");
}

static void series(util_buf *b, json_t *points)
{
    size_t i;
    json_t *p;
    json_array_foreach(points, i, p) {
        const char *t = json_string_value(json_object_get(p, "t"));
        char thr[24];
        num(thr, sizeof(thr), json_object_get(p, "throttled"));
        util_buf_printf(b, "%s%.16s %lld/%s", i ? ", " : "series (time req/429): ", t ? t : "",
                        (long long)get_int(p, "requests"), thr);
    }
    if (json_array_size(points))
        util_buf_puts(b, "\n");
}

static const char *short_source(const char *long_name)
{
    if (!long_name)
        return "?";
    return strstr(long_name, "Monitor") && !strstr(long_name, "unavailable") ? "Monitor"
           : strstr(long_name, "reports")                                  ? "reports API (all APIs; blocked = 401+403+429)"
           : strstr(long_name, "Log Analytics")                            ? "Log Analytics"
                                                                           : "team rows";
}

/* "sources: Monitor (totals, latency); Log Analytics (cache, ...)" then what is missing. */
static void sources(util_buf *b, json_t *s)
{
    json_t *groups = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(s, "figures"), k, v) {
        const char *src = short_source(json_string_value(v));
        json_t *list = json_object_get(groups, src);
        if (!list)
            json_object_set_new(groups, src, list = json_array());
        json_array_append_new(list, json_string(k));
    }
    int n = 0;
    json_object_foreach(groups, k, v) {
        util_buf_printf(b, "%s%s (", n++ ? "; " : "sources: ", k);
        size_t i;
        json_t *f;
        json_array_foreach(v, i, f) util_buf_printf(b, "%s%s", i ? ", " : "", json_string_value(f));
        util_buf_puts(b, ")");
    }
    json_decref(groups);
    if (n)
        util_buf_puts(b, "\n");
    size_t i;
    json_array_foreach(json_object_get(s, "unavailable"), i, v)
        util_buf_printf(b, "unavailable: %s — %s. Fix: %s\n", json_string_value(json_object_get(v, "source")),
                        json_string_value(json_object_get(v, "reason")), json_string_value(json_object_get(v, "fix")));
    json_array_foreach(json_object_get(s, "notes"), i, v) util_buf_printf(b, "note: %s\n", json_string_value(v));
}

char *metrics_text(json_t *result)
{
    util_buf b;
    util_buf_init(&b, 0);
    summary(&b, result);
    table(&b, json_object_get(result, "by_subscription"));
    backends(&b, json_object_get(result, "by_backend"));
    series(&b, json_object_get(result, "series"));
    sources(&b, json_object_get(result, "sources"));
    if (b.len && b.data[b.len - 1] == '\n')
        b.data[--b.len] = '\0';
    return util_buf_steal(&b);
}
