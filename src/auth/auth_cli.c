/* auth_cli: the Azure CLI credential — runs `az account get-access-token` as a child process
 * (platform_spawn: stdout/stderr captured with caps, killed after a timeout) and parses its
 * JSON (accessToken, expires_on or expiresOn). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth_internal.h"
#include "platform.h"

#define CLI_OUT_MAX (64 * 1024)

/* Collects stdout (stream 0) and stderr (stream 1), each up to its buffer's cap. */
static int collect(int stream, const char *data, size_t n, void *user)
{
    util_buf *buf = user;
    util_buf_append(&buf[stream], data, n); /* past the cap the rest is dropped */
    return 0;
}

/* expiresOn is local time "YYYY-MM-DD HH:MM:SS.ffffff" in older az versions. */
static int64_t parse_local_time(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!s || sscanf(s, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                     &tm.tm_sec) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_isdst = -1;
    return (int64_t)mktime(&tm);
}

static int parse_cli(const char *text, char **token, int64_t *expires_on, util_error *err)
{
    json_t *o = json_loads(text ? text : "", 0, NULL);
    const char *t = json_string_value(json_object_get(o, "accessToken"));
    json_t *on = json_object_get(o, "expires_on");
    int64_t exp = json_is_integer(on) ? (int64_t)json_integer_value(on)
                                      : parse_local_time(json_string_value(json_object_get(o, "expiresOn")));
    int rc = 0;
    if (!t || exp <= 0) {
        rc = util_error_set(err, UTIL_EAUTH, "az account get-access-token printed no accessToken and expiry; update "
                            "the Azure CLI (az upgrade)");
    } else {
        util_log_add_token(t);
        *token = util_strdup(t);
        *expires_on = exp;
    }
    json_decref(o);
    return rc;
}

/* code: az's exit code, -1 when a signal ended it, 127 when it was not found. */
static int cli_failure(int code, const char *stderr_text, util_error *err)
{
    const char *s = stderr_text ? stderr_text : "";
    if (code == 127)
        return util_error_set(err, UTIL_ECONFIG, "the Azure CLI (az) was not found on PATH; install it and run "
                              "az login, or configure another credential (AZURE_CLIENT_ID and AZURE_CLIENT_SECRET…)");
    if (strstr(s, "az login") || strstr(s, "AADSTS70043") || strstr(s, "refresh token"))
        return util_error_set(err, UTIL_EAUTH, "the Azure CLI is not logged in (or its login expired); run "
                              "az login, or configure another credential");
    size_t len = strcspn(s, "\r\n");
    return util_error_set(err, UTIL_EAUTH, "az account get-access-token failed (exit %d)%s%.*s",
                          code, len ? ": " : "", (int)(len > 300 ? 300 : len),
                          s);
}

int auth_cli_token(const char *resource, const char *tenant, int timeout_ms, char **token, int64_t *expires_on,
                   util_error *err)
{
    const char *argv[] = {"az", "account", "get-access-token", "--output", "json", "--resource", resource,
                          tenant && *tenant ? "--tenant" : NULL, tenant, NULL};
    util_buf buf[2];
    util_buf_init(&buf[0], CLI_OUT_MAX);
    util_buf_init(&buf[1], CLI_OUT_MAX);
    struct platform_child *child = NULL;
    int rc = platform_spawn(argv, PLATFORM_SPAWN_CAPTURE_STDERR | PLATFORM_SPAWN_SCRIPT, &child);
    if (rc == ENOENT) {
        rc = cli_failure(127, NULL, err);
    } else if (rc != 0) {
        rc = util_error_set(err, UTIL_EIO, "could not run the Azure CLI (az): %s", strerror(rc));
    } else {
        int timed_out = platform_child_read(child, util_monotonic_ms() + timeout_ms, collect, buf) != 0;
        if (timed_out)
            platform_child_kill(child);
        int code = -1;
        platform_child_wait(child, &code);
        platform_child_free(child);
        if (timed_out)
            rc = util_error_set(err, UTIL_EAUTH, "az account get-access-token did not finish within %d s; check "
                                "that the Azure CLI works (az account show)", timeout_ms / 1000);
        else if (code == 0)
            rc = parse_cli(buf[0].data, token, expires_on, err);
        else
            rc = cli_failure(code, buf[1].data, err);
    }
    util_buf_free(&buf[0]);
    util_buf_free(&buf[1]);
    return rc;
}
