/* util: errors, byte buffers, strings, time and files (see include/util.h). Logging is in log.c. */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "platform.h"

/* ---- errors --------------------------------------------------------------------------- */

int util_error_set(util_error *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    util_vformat(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return code;
}

void util_error_clear(util_error *err)
{
    if (!err)
        return;
    err->code = UTIL_OK;
    err->http_status = 0;
    err->message[0] = '\0';
}

void util_error_prefix(util_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    util_buf b; /* whole, so util_format scrubs before it cuts */
    util_buf_init(&b, 0);
    va_list ap;
    va_start(ap, fmt);
    int rc = util_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (rc == 0)
        rc = util_buf_printf(&b, ": %s", err->message);
    if (rc == 0)
        util_format(err->message, sizeof err->message, "%s", b.data);
    util_buf_free(&b);
}

const char *util_code_name(int code)
{
    static const char *const names[] = {
        "ok", "invalid_input", "out_of_memory", "io_error", "network_error", "authentication_failed",
        "forbidden", "not_found", "conflict", "throttled", "remote_error", "configuration_error",
        "cancelled", "limit_exceeded", "internal_error"};
    if (code < 0 || code >= (int)(sizeof names / sizeof names[0]))
        return "error";
    return names[code];
}

/* ---- safe text ------------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *p)
{
    size_t n = p[0] < 0x80 ? 1 : (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3 : (p[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (n == 0 || (n == 2 && p[0] < 0xc2) || (n == 4 && p[0] > 0xf4))
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if ((n == 3 && p[0] == 0xe0 && p[1] < 0xa0) || (n == 3 && p[0] == 0xed && p[1] > 0x9f) ||
        (n == 4 && p[0] == 0xf0 && p[1] < 0x90) || (n == 4 && p[0] == 0xf4 && p[1] > 0x8f))
        return 0; /* overlong, surrogate, past U+10FFFF */
    return n;
}

void util_text_clean(char *s)
{
    unsigned char *r = (unsigned char *)s, *w = r;
    while (r && *r) {
        if (*r == 0x1b) { /* ESC: CSI "ESC [ params final", OSC "ESC ] ... BEL|ESC \\", or ESC + one char */
            r++;
            if (*r == '[') {
                for (r++; *r && !(*r >= 0x40 && *r <= 0x7e); r++)
                    ;
            } else if (*r == ']') {
                for (r++; *r && *r != 0x07 && !(*r == 0x1b && r[1] == '\\'); r++)
                    ;
                r += *r == 0x1b;
            }
            r += *r != 0;
            continue;
        }
        size_t n = utf8_len(r);
        if (n == 0) {
            *w++ = '?';
            r++;
        } else if ((n == 1 && ((*r < 0x20 && *r != '\n' && *r != '\t') || *r == 0x7f)) ||
                   (n == 2 && r[0] == 0xc2 && r[1] < 0xa0)) {
            r += n; /* C0 / DEL / C1 control */
        } else {
            memmove(w, r, n);
            w += n;
            r += n;
        }
    }
    if (w)
        *w = '\0';
}

void util_utf8_cut(char *s, size_t max)
{
    size_t len = strlen(s);
    if (len <= max)
        return;
    size_t cut = max;
    while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80) /* s[cut] continues a character */
        cut--;
    s[cut] = '\0';
}

void util_vformat(char *out, size_t n, const char *fmt, va_list ap)
{
    if (n == 0)
        return;
    util_buf b;
    util_buf_init(&b, 0);
    if (util_buf_vprintf(&b, fmt, ap) != 0) {
        util_buf_free(&b);
        snprintf(out, n, "(a message could not be formatted)");
        return;
    }
    char *full = util_buf_steal(&b);
    util_log_scrub(full);
    util_text_clean(full);
    util_utf8_cut(full, n - 1);
    memcpy(out, full, strlen(full) + 1);
    free(full);
}

void util_format(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    util_vformat(out, n, fmt, ap);
    va_end(ap);
}

/* ---- buffer --------------------------------------------------------------------------- */

void util_buf_init(util_buf *b, size_t limit)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->limit = limit;
}

static int buf_reserve(util_buf *b, size_t extra)
{
    if (b->limit && b->len + extra > b->limit)
        return UTIL_ELIMIT;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return UTIL_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int util_buf_append(util_buf *b, const void *data, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int util_buf_puts(util_buf *b, const char *s) { return util_buf_append(b, s, strlen(s)); }

int util_buf_vprintf(util_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return UTIL_EINTERNAL;
    int rc = buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int util_buf_printf(util_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = util_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void util_buf_reset(util_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *util_buf_steal(util_buf *b)
{
    char *p = b->data ? b->data : util_strdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void util_buf_free(util_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ---- strings -------------------------------------------------------------------------- */

static void *oom(void)
{
    fputs("azure-ai-gateway-mcp: out of memory\n", stderr);
    abort();
}

char *util_strdup(const char *s)
{
    if (!s)
        return NULL;
    char *p = strdup(s);
    return p ? p : oom();
}

char *util_strndup(const char *s, size_t n)
{
    if (!s)
        return NULL;
    size_t len = strnlen(s, n);
    char *p = malloc(len + 1);
    if (!p)
        return oom();
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *util_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    util_buf b;
    util_buf_init(&b, 0);
    int rc = util_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    return rc ? oom() : util_buf_steal(&b);
}

char *util_strcasestr(const char *haystack, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *h = haystack; *h; h++)
        if (strncasecmp(h, needle, n) == 0)
            return (char *)h;
    return n == 0 ? (char *)haystack : NULL;
}

const void *util_memmem(const void *haystack, size_t hlen, const void *needle, size_t nlen)
{
    const unsigned char *h = haystack, *nd = needle;
    if (nlen == 0)
        return haystack;
    for (size_t i = 0; nlen <= hlen && i <= hlen - nlen; i++)
        if (h[i] == nd[0] && memcmp(h + i, nd, nlen) == 0)
            return h + i;
    return NULL;
}

bool util_str_eq_ci(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcasecmp(a, b) == 0;
}

bool util_str_starts_with(const char *s, const char *prefix)
{
    return s && prefix && strncmp(s, prefix, strlen(prefix)) == 0;
}

bool util_str_ends_with(const char *s, const char *suffix)
{
    if (!s || !suffix)
        return false;
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

void util_url_host(const char *url, char *out, size_t n)
{
    out[0] = '\0';
    const char *p = url ? strstr(url, "://") : NULL;
    if (!p)
        return;
    p += 3;
    size_t len = strcspn(p, "/:?#");
    if (len >= n)
        return;
    for (size_t i = 0; i < len; i++)
        out[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] - 'A' + 'a' : p[i]);
    out[len] = '\0';
}

char *util_url_encode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    util_buf b;
    util_buf_init(&b, 0);
    util_buf_append(&b, "", 0);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            util_buf_append(&b, p, 1);
        } else {
            char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            util_buf_append(&b, enc, 3);
        }
    }
    return util_buf_steal(&b);
}

char *util_base64url_encode(const void *data, size_t n)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *in = data;
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (!out)
        return oom();
    char *o = out;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        size_t chars = n - i >= 3 ? 4 : n - i + 1;
        for (size_t k = 0; k < chars; k++)
            *o++ = alphabet[(v >> (18 - 6 * k)) & 63];
    }
    *o = '\0';
    return out;
}

size_t util_edit_distance(const char *a, const char *b, size_t cap)
{
    size_t la = strlen(a), lb = strlen(b);
    if ((la > lb ? la - lb : lb - la) > cap)
        return cap + 1;
    size_t *row = calloc(lb + 1, sizeof *row);
    if (!row)
        return cap + 1;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t sub = prev + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            size_t del = row[j] + 1, ins = row[j - 1] + 1;
            row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
            prev = cur;
        }
    }
    size_t d = row[lb];
    free(row);
    return d > cap ? cap + 1 : d;
}

int util_random_hex(char *out, size_t nbytes)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[64];
    if (nbytes > sizeof raw)
        return -1;
    if (platform_random_bytes(raw, nbytes) != 0)
        return -1;
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[2 * nbytes] = '\0';
    return 0;
}

void util_uuid4(char out[37])
{
    char h[33];
    if (util_random_hex(h, 16) != 0) {
        /* no system randomness: fall back to time and pid, still unique enough for ids */
        snprintf(h, sizeof h, "%016llx%08x%08x", (unsigned long long)util_now_ms(), (unsigned)platform_pid(),
                 (unsigned)util_monotonic_ms());
    }
    h[12] = '4';
    h[16] = "89ab"[h[16] % 4];
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

/* ---- time ----------------------------------------------------------------------------- */

int64_t util_now_ms(void) { return platform_now_ms(); }

int64_t util_monotonic_ms(void) { return platform_monotonic_ns() / 1000000; }

double util_monotonic_sec(void) { return (double)platform_monotonic_ns() / 1e9; }

void util_time_iso8601(int64_t epoch_sec, char *out, size_t n)
{
    struct tm tm;
    if (platform_gmtime(epoch_sec, &tm) != 0) {
        snprintf(out, n, "%s", "1970-01-01T00:00:00Z");
        return;
    }
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int parse_digits(const char **p, int count, int *out)
{
    int v = 0;
    for (int i = 0; i < count; i++) {
        if (!isdigit((unsigned char)**p))
            return -1;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    *out = v;
    return 0;
}

int util_time_parse_iso8601(const char *s, int64_t *epoch_sec)
{
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0;
    if (!s || parse_digits(&p, 4, &y) || *p++ != '-' || parse_digits(&p, 2, &mo) || *p++ != '-' ||
        parse_digits(&p, 2, &d))
        return -1;
    int64_t offset = 0;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (parse_digits(&p, 2, &h) || *p++ != ':' || parse_digits(&p, 2, &mi))
            return -1;
        if (*p == ':') {
            p++;
            if (parse_digits(&p, 2, &sec))
                return -1;
            if (*p == '.')
                for (p++; isdigit((unsigned char)*p); p++)
                    ;
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
            if (parse_digits(&p, 2, &oh))
                return -1;
            if (*p == ':')
                p++;
            if (*p && parse_digits(&p, 2, &om))
                return -1;
            offset = sign * (oh * 3600 + om * 60);
        }
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    /* days from civil (Howard Hinnant) */
    int yy = y - (mo <= 2);
    int era = (yy >= 0 ? yy : yy - 399) / 400;
    unsigned yoe = (unsigned)(yy - era * 400);
    unsigned doy = (unsigned)((153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1);
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = (int64_t)era * 146097 + (int64_t)doe - 719468;
    *epoch_sec = days * 86400 + h * 3600 + mi * 60 + sec - offset;
    return 0;
}

int util_duration_parse_iso8601(const char *s, int64_t *seconds)
{
    if (!s || (*s != 'P' && *s != 'p'))
        return -1;
    const char *p = s + 1;
    int64_t total = 0;
    bool in_time = false, any = false;
    while (*p) {
        if (*p == 'T' || *p == 't') {
            if (in_time)
                return -1;
            in_time = true;
            p++;
            continue;
        }
        if (!isdigit((unsigned char)*p))
            return -1;
        int64_t v = 0;
        while (isdigit((unsigned char)*p)) {
            v = v * 10 + (*p - '0');
            if (v > 100000000)
                return -1;
            p++;
        }
        char u = (char)toupper((unsigned char)*p++);
        if (!in_time && u == 'D')
            total += v * 86400;
        else if (!in_time && u == 'W')
            total += v * 7 * 86400;
        else if (in_time && u == 'H')
            total += v * 3600;
        else if (in_time && u == 'M')
            total += v * 60;
        else if (in_time && u == 'S')
            total += v;
        else
            return -1;
        any = true;
    }
    if (!any)
        return -1;
    *seconds = total;
    return 0;
}

void util_duration_format_iso8601(int64_t seconds, char *out, size_t n)
{
    int64_t d = seconds / 86400, h = (seconds % 86400) / 3600, m = (seconds % 3600) / 60, s = seconds % 60;
    util_buf b;
    util_buf_init(&b, 0);
    util_buf_puts(&b, "P");
    if (d)
        util_buf_printf(&b, "%lldD", (long long)d);
    if (h || m || s || !d) {
        util_buf_puts(&b, "T");
        if (h)
            util_buf_printf(&b, "%lldH", (long long)h);
        if (m)
            util_buf_printf(&b, "%lldM", (long long)m);
        if (s || (!h && !m))
            util_buf_printf(&b, "%lldS", (long long)s);
    }
    snprintf(out, n, "%s", b.data);
    util_buf_free(&b);
}

/* ---- files ---------------------------------------------------------------------------- */

int util_read_file(const char *path, size_t limit, char **out, size_t *len, util_error *err)
{
    *out = NULL;
    if (len)
        *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return util_error_set(err, UTIL_EIO, "cannot open %s: %s", path, strerror(errno));
    util_buf b;
    util_buf_init(&b, limit);
    char chunk[8192];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if ((rc = util_buf_append(&b, chunk, n)) != 0)
            break;
    }
    bool failed = ferror(f);
    fclose(f);
    if (rc == UTIL_ELIMIT) {
        util_buf_free(&b);
        return util_error_set(err, UTIL_ELIMIT, "%s is larger than the %zu bytes allowed", path, limit);
    }
    if (rc || failed) {
        util_buf_free(&b);
        return util_error_set(err, UTIL_EIO, "cannot read %s", path);
    }
    if (len)
        *len = b.len;
    *out = util_buf_steal(&b);
    return 0;
}
