/* auth_cli: the Azure CLI credential — runs `az account get-access-token` as a child process
 * (posix_spawnp, stdout/stderr through pipes with caps, killed after a timeout) and parses its
 * JSON (accessToken, expires_on or expiresOn). */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth_internal.h"

#define CLI_OUT_MAX (64 * 1024)

extern char **environ;

struct child_io {
    int fd[2];       /* stdout, stderr read ends; -1 when closed */
    util_buf buf[2];
};

/* Reads both pipes until they close or the deadline passes. Returns 0 or -1 on timeout. */
static int drain(struct child_io *io, int64_t deadline)
{
    while (io->fd[0] >= 0 || io->fd[1] >= 0) {
        int64_t left = deadline - util_monotonic_ms();
        if (left <= 0)
            return -1;
        struct pollfd p[2] = {{io->fd[0], POLLIN, 0}, {io->fd[1], POLLIN, 0}};
        if (poll(p, 2, (int)left) < 0 && errno != EINTR)
            return -1;
        for (int i = 0; i < 2; i++) {
            if (io->fd[i] < 0 || !p[i].revents)
                continue;
            char chunk[4096];
            ssize_t n = read(io->fd[i], chunk, sizeof chunk);
            if (n > 0 && util_buf_append(&io->buf[i], chunk, (size_t)n) == 0)
                continue;
            if (n < 0 && errno == EINTR)
                continue;
            close(io->fd[i]);
            io->fd[i] = -1;
        }
    }
    return 0;
}

static int spawn_az(char *const argv[], struct child_io *io, pid_t *pid)
{
    int out[2], errp[2];
    if (pipe(out) != 0)
        return errno;
    if (pipe(errp) != 0) {
        int e = errno;
        close(out[0]), close(out[1]);
        return e;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", 0, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    posix_spawn_file_actions_addclose(&fa, errp[0]);
    int rc = posix_spawnp(pid, "az", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    close(errp[1]);
    io->fd[0] = out[0];
    io->fd[1] = errp[0];
    if (rc != 0) {
        close(out[0]), close(errp[0]);
        io->fd[0] = io->fd[1] = -1;
    }
    return rc;
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

static int cli_failure(int status, const char *stderr_text, util_error *err)
{
    const char *s = stderr_text ? stderr_text : "";
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return util_error_set(err, UTIL_ECONFIG, "the Azure CLI (az) was not found on PATH; install it and run "
                              "az login, or configure another credential (AZURE_CLIENT_ID and AZURE_CLIENT_SECRET…)");
    if (strstr(s, "az login") || strstr(s, "AADSTS70043") || strstr(s, "refresh token"))
        return util_error_set(err, UTIL_EAUTH, "the Azure CLI is not logged in (or its login expired); run "
                              "az login, or configure another credential");
    size_t len = strcspn(s, "\r\n");
    return util_error_set(err, UTIL_EAUTH, "az account get-access-token failed (exit %d)%s%.*s",
                          WIFEXITED(status) ? WEXITSTATUS(status) : -1, len ? ": " : "", (int)(len > 300 ? 300 : len),
                          s);
}

int auth_cli_token(const char *resource, const char *tenant, int timeout_ms, char **token, int64_t *expires_on,
                   util_error *err)
{
    char *argv[] = {"az", "account", "get-access-token", "--output", "json", "--resource", (char *)resource,
                    tenant && *tenant ? "--tenant" : NULL, (char *)tenant, NULL};
    struct child_io io = {{-1, -1}, {{0}, {0}}};
    util_buf_init(&io.buf[0], CLI_OUT_MAX);
    util_buf_init(&io.buf[1], CLI_OUT_MAX);
    pid_t pid = 0;
    int rc = spawn_az(argv, &io, &pid);
    if (rc == ENOENT) {
        rc = cli_failure(127 << 8, NULL, err);
    } else if (rc != 0) {
        rc = util_error_set(err, UTIL_EIO, "could not run the Azure CLI (az): %s", strerror(rc));
    } else {
        int timed_out = drain(&io, util_monotonic_ms() + timeout_ms) != 0;
        if (timed_out)
            kill(pid, SIGKILL);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        for (int i = 0; i < 2; i++)
            if (io.fd[i] >= 0)
                close(io.fd[i]);
        if (timed_out)
            rc = util_error_set(err, UTIL_EAUTH, "az account get-access-token did not finish within %d s; check "
                                "that the Azure CLI works (az account show)", timeout_ms / 1000);
        else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
            rc = parse_cli(io.buf[0].data, token, expires_on, err);
        else
            rc = cli_failure(status, io.buf[1].data, err);
    }
    util_buf_free(&io.buf[0]);
    util_buf_free(&io.buf[1]);
    return rc;
}
