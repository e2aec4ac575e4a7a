/*
 * util: generic helpers shared by every module and by apim-sim — the error type, a growable
 * byte buffer, logging to stderr with secret scrubbing, and small string/time helpers.
 * It knows nothing of MCP, Azure or HTTP.
 *
 * Ownership: functions named *_new / *_dup / *_printf return heap memory the caller frees with
 * the matching *_free (or free() where said). util_buf owns its data until util_buf_steal().
 * The logger keeps copies of registered secrets and of nothing else.
 */
#ifndef AIGW_UTIL_H
#define AIGW_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- errors --------------------------------------------------------------------------- */

/* Error codes shared by all modules. A function returns 0 on success or one of these
 * (negated is never used), and fills the caller's util_error with a human sentence. */
enum util_code {
    UTIL_OK = 0,
    UTIL_EINVAL,      /* bad input from the caller / user */
    UTIL_ENOMEM,
    UTIL_EIO,         /* local I/O */
    UTIL_ENET,        /* network, DNS, TLS, timeout */
    UTIL_EAUTH,       /* credential rejected, token unavailable */
    UTIL_EFORBIDDEN,  /* 403: role missing */
    UTIL_ENOTFOUND,   /* 404 */
    UTIL_ECONFLICT,   /* 409/412: ETag mismatch, concurrent change */
    UTIL_ETHROTTLED,  /* 429 after retries */
    UTIL_EREMOTE,     /* any other error answered by the remote service */
    UTIL_ECONFIG,     /* missing or contradictory configuration */
    UTIL_ECANCELLED,  /* the MCP request was cancelled */
    UTIL_ELIMIT,      /* a size cap was exceeded */
    UTIL_EINTERNAL
};

#define UTIL_ERROR_MAX 1024

typedef struct util_error {
    int code;                     /* enum util_code */
    int http_status;              /* remote status when known, else 0 */
    char message[UTIL_ERROR_MAX]; /* one or two sentences: what went wrong, what to do */
} util_error;

/* Sets code and message (printf-style) and returns code, so `return util_error_set(...)` works.
 * err may be NULL. The message is made safe by util_vformat() (scrubbed, then cut). */
int util_error_set(util_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void util_error_clear(util_error *err);
/* Prepends "prefix: " to an existing message (keeps code). */
void util_error_prefix(util_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *util_code_name(int code);

/* ---- buffer --------------------------------------------------------------------------- */

typedef struct util_buf {
    char *data;   /* always NUL-terminated when len > 0 or after any append */
    size_t len;
    size_t cap;
    size_t limit; /* 0 = unlimited; appends past it fail with UTIL_ELIMIT */
} util_buf;

void util_buf_init(util_buf *b, size_t limit);
int util_buf_append(util_buf *b, const void *data, size_t n);
int util_buf_puts(util_buf *b, const char *s);
int util_buf_printf(util_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int util_buf_vprintf(util_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void util_buf_reset(util_buf *b);          /* len = 0, keeps memory */
char *util_buf_steal(util_buf *b);         /* returns data (never NULL), buffer becomes empty */
void util_buf_free(util_buf *b);

/* ---- strings -------------------------------------------------------------------------- */

char *util_strdup(const char *s);                 /* NULL -> NULL; aborts on OOM */
char *util_strndup(const char *s, size_t n);
char *util_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool util_str_eq_ci(const char *a, const char *b);
/* Case-insensitive (ASCII) strstr and a memmem, portable (glibc's are extensions). */
char *util_strcasestr(const char *haystack, const char *needle);
const void *util_memmem(const void *haystack, size_t hlen, const void *needle, size_t nlen);
bool util_str_starts_with(const char *s, const char *prefix);
bool util_str_ends_with(const char *s, const char *suffix);
/* Percent-encodes for a URL path segment or query value (RFC 3986 unreserved kept). */
char *util_url_encode(const char *s);
/* The lowercased host of "scheme://host[:port][/...]" into out (n bytes); "" when there is none or it
 * does not fit. */
void util_url_host(const char *url, char *out, size_t n);
/* base64url without padding (RFC 4648 §5), as JWTs use it. Heap string; aborts on OOM. */
char *util_base64url_encode(const void *data, size_t n);
/* Levenshtein distance, capped at cap+1 (for "did you mean"). */
size_t util_edit_distance(const char *a, const char *b, size_t cap);
/* Random hex string of 2*nbytes chars from the system CSPRNG (for ids). Returns 0 or -1. */
int util_random_hex(char *out, size_t nbytes);
/* A UUID v4 string (37 bytes incl. NUL). */
void util_uuid4(char out[37]);

/* Text from outside (Azure error bodies, request ids, Entra error descriptions) made safe to show,
 * in place (never longer): ANSI escape sequences and control characters other than '\n' and '\t'
 * removed (C1 controls too), invalid UTF-8 bytes replaced by '?'. */
void util_text_clean(char *s);
/* Cuts s to at most max bytes (plus the NUL) without splitting a UTF-8 character. */
void util_utf8_cut(char *s, size_t max);
/* printf into out[n]: formatted in full, scrubbed of secrets (util_log_scrub), cleaned
 * (util_text_clean), and only then cut to fit on a character boundary — so a secret straddling the
 * cut is still masked and the result is always valid UTF-8 (a JSON string can be built from it). */
void util_vformat(char *out, size_t n, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
void util_format(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- time ----------------------------------------------------------------------------- */

int64_t util_now_ms(void);          /* wall clock, ms since epoch */
int64_t util_monotonic_ms(void);    /* monotonic clock */
double util_monotonic_sec(void);
/* Formats epoch seconds as ISO 8601 UTC "2026-11-25T02:20:37Z" into out (>= 21 bytes). */
void util_time_iso8601(int64_t epoch_sec, char *out, size_t n);
/* Parses "YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)" to epoch seconds. Returns 0 or -1. */
int util_time_parse_iso8601(const char *s, int64_t *epoch_sec);
/* Parses an ISO 8601 duration (PnDTnHnMnS, PTnM, P1W) into seconds. Returns 0 or -1. */
int util_duration_parse_iso8601(const char *s, int64_t *seconds);
/* Formats seconds as a canonical ISO 8601 duration: 300 -> "PT5M", 90 -> "PT1M30S", 86400 -> "P1D". */
void util_duration_format_iso8601(int64_t seconds, char *out, size_t n);

/* ---- files ---------------------------------------------------------------------------- */

/* Reads a whole file (up to limit bytes; more is an error). *out is NUL-terminated. */
int util_read_file(const char *path, size_t limit, char **out, size_t *len, util_error *err);

/* ---- logging -------------------------------------------------------------------------- */

enum util_log_level { UTIL_LOG_DEBUG = 0, UTIL_LOG_INFO, UTIL_LOG_WARNING, UTIL_LOG_ERROR, UTIL_LOG_OFF };

/* A sink receives every scrubbed line at or above the level (the MCP layer installs one to
 * forward to notifications/message). Called with the logger's lock held: do not log from it. */
typedef void (*util_log_sink)(int level, const char *logger, const char *message, void *user);

/* The logger is the process's one piece of shared state: level, stderr on/off, a sink, secrets. */
void util_log_set_level(int level);
int util_log_get_level(void);
/* Installs (or with NULL removes) the sink and its own threshold, independent of stderr's. */
void util_log_set_sink(util_log_sink sink, void *user, int level);
void util_log_set_stderr(bool on);
void util_log_set_program(const char *name); /* static string, prefix of stderr lines */
/* Parses "debug|info|warning|error" (also "warn", "notice"...) to a level; -1 if unknown. */
int util_log_level_parse(const char *s);
const char *util_log_level_name(int level);
/* Registers a long-lived secret (client secret, password, key; a copy is kept, never forgotten):
 * every later log line and util_error message has each occurrence replaced by "***". Strings
 * shorter than 4 bytes are ignored. */
void util_log_add_secret(const char *secret);
/* The same for a rotating credential (access token, assertion, federated token): the 16 most
 * recent are kept (older ones are expired anyway; JWT-shaped text is masked regardless). */
void util_log_add_token(const char *token);
/* Replaces registered secrets and anything shaped like a bearer token / JWT in s, in place
 * (the result is never longer). */
void util_log_scrub(char *s);
void util_log(int level, const char *logger, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void util_log_free_all(void); /* at exit, for leak checkers */

#define LOG_DEBUG(logger, ...) util_log(UTIL_LOG_DEBUG, logger, __VA_ARGS__)
#define LOG_INFO(logger, ...) util_log(UTIL_LOG_INFO, logger, __VA_ARGS__)
#define LOG_WARN(logger, ...) util_log(UTIL_LOG_WARNING, logger, __VA_ARGS__)
#define LOG_ERROR(logger, ...) util_log(UTIL_LOG_ERROR, logger, __VA_ARGS__)

#endif
