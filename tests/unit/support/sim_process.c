/* sim_process: runs apim-sim for tests and speaks to its control endpoint (see sim_process.h). */
#include "sim_process.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define SIM_MAX_ARGS 32
#define SIM_ANSWER_MAX (8 * 1024 * 1024)

extern char **environ;

int sim_start(struct sim_process *s, const char *const *extra_args)
{
    memset(s, 0, sizeof *s);
    s->stdout_fd = -1;
    const char *bin = getenv("APIM_SIM_BIN");
    if (!bin || !*bin) {
        fprintf(stderr, "sim_start: APIM_SIM_BIN is not set (run the test through ctest)\n");
        return -1;
    }
    char *argv[SIM_MAX_ARGS + 4] = {(char *)bin, "--port", "0"};
    size_t n = 3;
    for (size_t i = 0; extra_args && extra_args[i] && n < SIM_MAX_ARGS; i++)
        argv[n++] = (char *)extra_args[i];
    argv[n] = NULL;
    int out[2];
    if (pipe(out) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    int rc = posix_spawn(&s->pid, bin, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    if (rc != 0) {
        fprintf(stderr, "sim_start: cannot run %s: %s\n", bin, strerror(rc));
        close(out[0]);
        return -1;
    }
    s->stdout_fd = out[0];
    char line[32];
    size_t len = 0;
    while (len < sizeof line - 1) {
        ssize_t r = read(out[0], line + len, 1);
        if (r <= 0 || line[len] == '\n')
            break;
        len++;
    }
    line[len] = '\0';
    s->port = atoi(line);
    if (s->port <= 0) {
        fprintf(stderr, "sim_start: apim-sim printed no port (got \"%s\")\n", line);
        sim_stop(s);
        return -1;
    }
    snprintf(s->base_url, sizeof s->base_url, "http://127.0.0.1:%d", s->port);
    return 0;
}

int sim_stop(struct sim_process *s)
{
    int status = -1;
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR)
            ;
        s->pid = 0;
    }
    if (s->stdout_fd >= 0)
        close(s->stdout_fd);
    s->stdout_fd = -1;
    return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int sim_request(const struct sim_process *s, const char *method, const char *path, const char *json_body,
                char **body)
{
    if (body)
        *body = NULL;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    size_t blen = json_body ? strlen(json_body) : 0;
    char head[1024];
    int hl = snprintf(head, sizeof head,
                      "%s %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                      method, path, s->port, blen);
    char *ans = malloc(SIM_ANSWER_MAX + 1);
    size_t len = 0;
    int status = -1;
    if (ans && hl > 0 && (size_t)hl < sizeof head && send_all(fd, head, (size_t)hl) == 0 &&
        send_all(fd, json_body ? json_body : "", blen) == 0) {
        for (;;) {
            ssize_t r = len < SIM_ANSWER_MAX ? read(fd, ans + len, SIM_ANSWER_MAX - len) : 0;
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            len += (size_t)r;
        }
        ans[len] = '\0';
        if (sscanf(ans, "HTTP/1.%*d %d", &status) != 1)
            status = -1;
    }
    close(fd);
    char *sep = ans ? strstr(ans, "\r\n\r\n") : NULL;
    if (body && sep && status > 0)
        *body = strdup(sep + 4);
    free(ans);
    return status;
}
