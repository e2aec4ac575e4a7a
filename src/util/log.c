/* log: the process's logger — level, stderr output, an optional sink (MCP notifications), and
 * the registry of secrets scrubbed from every line. This is the one piece of shared state. */
#include "util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MAX_SECRETS 1024 /* long-lived secrets: never forgotten */
#define LOG_MAX_TOKENS 16    /* rotating tokens: the oldest is forgotten first */
#define LOG_LINE_MAX 4096

static struct {
    pthread_mutex_t lock;
    int level;
    bool to_stderr;
    const char *program;
    util_log_sink sink;
    void *sink_user;
    int sink_level;
    char *secrets[LOG_MAX_SECRETS];
    size_t n_secrets;
    char *tokens[LOG_MAX_TOKENS];
    size_t n_tokens;
} g_log = {PTHREAD_MUTEX_INITIALIZER, UTIL_LOG_INFO, true, "azure-ai-gateway-mcp", NULL, NULL, UTIL_LOG_OFF, {0}, 0, {0}, 0};

void util_log_set_level(int level) { g_log.level = level; }
int util_log_get_level(void) { return g_log.level; }
void util_log_set_stderr(bool on) { g_log.to_stderr = on; }
void util_log_set_program(const char *name) { g_log.program = name; }

void util_log_set_sink(util_log_sink sink, void *user, int level)
{
    pthread_mutex_lock(&g_log.lock);
    g_log.sink = sink;
    g_log.sink_user = user;
    g_log.sink_level = sink ? level : UTIL_LOG_OFF;
    pthread_mutex_unlock(&g_log.lock);
}

int util_log_level_parse(const char *s)
{
    if (!s)
        return -1;
    if (util_str_eq_ci(s, "debug"))
        return UTIL_LOG_DEBUG;
    if (util_str_eq_ci(s, "info") || util_str_eq_ci(s, "notice"))
        return UTIL_LOG_INFO;
    if (util_str_eq_ci(s, "warning") || util_str_eq_ci(s, "warn"))
        return UTIL_LOG_WARNING;
    if (util_str_eq_ci(s, "error") || util_str_eq_ci(s, "critical") || util_str_eq_ci(s, "alert") ||
        util_str_eq_ci(s, "emergency"))
        return UTIL_LOG_ERROR;
    return -1;
}

const char *util_log_level_name(int level)
{
    switch (level) {
    case UTIL_LOG_DEBUG: return "debug";
    case UTIL_LOG_INFO: return "info";
    case UTIL_LOG_WARNING: return "warning";
    default: return "error";
    }
}

static bool known_locked(const char *secret)
{
    for (size_t i = 0; i < g_log.n_secrets; i++)
        if (strcmp(g_log.secrets[i], secret) == 0)
            return true;
    for (size_t i = 0; i < g_log.n_tokens; i++)
        if (strcmp(g_log.tokens[i], secret) == 0)
            return true;
    return false;
}

void util_log_add_secret(const char *secret)
{
    if (!secret || strlen(secret) < 4)
        return;
    pthread_mutex_lock(&g_log.lock);
    if (!known_locked(secret) && g_log.n_secrets < LOG_MAX_SECRETS)
        g_log.secrets[g_log.n_secrets++] = util_strdup(secret);
    pthread_mutex_unlock(&g_log.lock);
}

void util_log_add_token(const char *token)
{
    if (!token || strlen(token) < 4)
        return;
    pthread_mutex_lock(&g_log.lock);
    if (!known_locked(token)) {
        if (g_log.n_tokens == LOG_MAX_TOKENS) {
            free(g_log.tokens[0]);
            memmove(g_log.tokens, g_log.tokens + 1, (LOG_MAX_TOKENS - 1) * sizeof(char *));
            g_log.n_tokens--;
        }
        g_log.tokens[g_log.n_tokens++] = util_strdup(token);
    }
    pthread_mutex_unlock(&g_log.lock);
}

static void replace_all(char *s, const char *needle)
{
    size_t nl = strlen(needle);
    char *p;
    while ((p = strstr(s, needle)) != NULL) {
        memcpy(p, "***", 3);
        memmove(p + 3, p + nl, strlen(p + nl) + 1);
    }
}

static bool b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '=';
}

/* Masks anything shaped like a JWT (eyJ...x.y[.z]) whatever registered it. */
static void mask_jwts(char *s)
{
    char *p = s;
    while ((p = strstr(p, "eyJ")) != NULL) {
        char *q = p;
        int dots = 0;
        while (b64url_char(*q) || (*q == '.' && b64url_char(q[1])))
            dots += *q++ == '.';
        if (dots >= 1 && q - p > 20) {
            memcpy(p, "***", 3);
            memmove(p + 3, q, strlen(q) + 1);
            p += 3;
        } else {
            p += 3;
        }
    }
}

static void scrub_locked(char *s)
{
    for (size_t i = 0; i < g_log.n_secrets; i++)
        replace_all(s, g_log.secrets[i]);
    for (size_t i = 0; i < g_log.n_tokens; i++)
        replace_all(s, g_log.tokens[i]);
    mask_jwts(s);
}

void util_log_scrub(char *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&g_log.lock);
    scrub_locked(s);
    pthread_mutex_unlock(&g_log.lock);
}

void util_log(int level, const char *logger, const char *fmt, ...)
{
    if (level < g_log.level && (!g_log.sink || level < g_log.sink_level))
        return;
    char line[LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    util_vformat(line, sizeof line, fmt, ap); /* scrubbed before it is cut */
    va_end(ap);
    pthread_mutex_lock(&g_log.lock);
    if (g_log.to_stderr && level >= g_log.level)
        fprintf(stderr, "%s %s [%s] %s\n", g_log.program, util_log_level_name(level), logger ? logger : "-",
                line);
    if (g_log.sink && level >= g_log.sink_level)
        g_log.sink(level, logger, line, g_log.sink_user);
    pthread_mutex_unlock(&g_log.lock);
}

void util_log_free_all(void)
{
    pthread_mutex_lock(&g_log.lock);
    for (size_t i = 0; i < g_log.n_secrets; i++)
        free(g_log.secrets[i]);
    g_log.n_secrets = 0;
    for (size_t i = 0; i < g_log.n_tokens; i++)
        free(g_log.tokens[i]);
    g_log.n_tokens = 0;
    g_log.sink = NULL;
    pthread_mutex_unlock(&g_log.lock);
}
