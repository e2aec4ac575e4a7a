/* demo: --demo mode — starts the bundled apim-sim with its demo scenario on a free loopback port
 * as a child process (stopped when we exit, and by the kernel when we are killed), and points
 * this process's environment at it with the demo identity, so that configuration, credentials
 * and tools run exactly as against Azure. Part of the program (main.c), not of a library. */
#include "demo.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The demo scenario's identity and instance (fake, test-only values; docs/apim-sim.md). */
static const char *const DEMO_ENV[][2] = {
    {"AZURE_TENANT_ID", "11111111-1111-1111-1111-111111111111"},
    {"AZURE_CLIENT_ID", "aaaaaaaa-0000-0000-0000-000000000001"},
    {"AZURE_CLIENT_SECRET", "demo-contributor-secret"},
    {"AZURE_SUBSCRIPTION_ID", "11111111-2222-3333-4444-555555555555"},
    {"APIM_RESOURCE_GROUP", "rg-aigw-demo"},
    {"APIM_SERVICE_NAME", "apim-aigw-demo"},
};
/* Settings of a real environment that would contradict the demo's. */
static const char *const CLEARED[] = {"APIM_RESOURCE_ID", "AZURE_CLIENT_CERTIFICATE_PATH",
                                      "AZURE_CLIENT_CERTIFICATE_PASSWORD", "AZURE_FEDERATED_TOKEN_FILE",
                                      "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "AZURE_TOKEN_CREDENTIALS",
                                      "AZURE_CLOUD", "SSL_CERT_FILE"};

/* apim-sim next to our own executable (build tree and install), else on PATH. */
static char *find_sim(void)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            char *p = util_printf("%s/apim-sim", self);
            if (access(p, X_OK) == 0)
                return p;
            free(p);
        }
    }
    return util_strdup("apim-sim");
}

int demo_start(struct demo *d, util_error *err)
{
    memset(d, 0, sizeof *d);
    d->pid = -1;
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0)
        return util_error_set(err, UTIL_EIO, "--demo: cannot create a pipe: %s", strerror(errno));
    char *sim = find_sim();
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        free(sim);
        close(out[0]);
        close(out[1]);
        return util_error_set(err, UTIL_EIO, "--demo: cannot start apim-sim: %s", strerror(errno));
    }
    if (pid == 0) {
        /* the simulator dies with us, however we end */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        dup2(out[1], STDOUT_FILENO);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, STDIN_FILENO);
        execlp(sim, sim, "--port", "0", "--scenario", "demo", "--log-level", "warning", (char *)NULL);
        dprintf(STDERR_FILENO, "azure-ai-gateway-mcp: --demo: cannot run %s: %s\n", sim, strerror(errno));
        _exit(127);
    }
    free(sim);
    close(out[1]);
    d->pid = pid;

    /* the first line apim-sim prints is its port */
    char line[32] = "";
    size_t len = 0;
    int64_t deadline = util_monotonic_ms() + 10000;
    while (len < sizeof line - 1 && !memchr(line, '\n', len)) {
        struct pollfd p = {out[0], POLLIN, 0};
        int left = (int)(deadline - util_monotonic_ms());
        if (left <= 0 || poll(&p, 1, left) <= 0)
            break;
        ssize_t r = read(out[0], line + len, sizeof line - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        line[len] = '\0';
    }
    close(out[0]);
    d->port = atoi(line);
    if (d->port <= 0 || d->port > 65535) {
        demo_stop(d);
        return util_error_set(err, UTIL_EIO,
                              "--demo: apim-sim did not start (it should be installed next to azure-ai-gateway-mcp "
                              "or on PATH)");
    }
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", d->port);
    for (size_t i = 0; i < sizeof CLEARED / sizeof CLEARED[0]; i++)
        unsetenv(CLEARED[i]);
    for (size_t i = 0; i < sizeof DEMO_ENV / sizeof DEMO_ENV[0]; i++)
        setenv(DEMO_ENV[i][0], DEMO_ENV[i][1], 1);
    setenv("AZURE_AUTHORITY_HOST", url, 1);
    setenv("AZURE_RESOURCE_MANAGER_ENDPOINT", url, 1);
    setenv("AIGW_LOG_ANALYTICS_ENDPOINT", url, 1);
    /* the demo's journal never mixes with a real one */
    if (!getenv("AIGW_AUDIT_LOG")) {
        snprintf(d->journal_dir, sizeof d->journal_dir, "%s/aigw-demo-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (mkdtemp(d->journal_dir)) {
            char *j = util_printf("%s/audit.jsonl", d->journal_dir);
            setenv("AIGW_AUDIT_LOG", j, 1);
            free(j);
        } else {
            d->journal_dir[0] = '\0';
        }
    }
    LOG_WARN("demo",
             "DEMO MODE: serving a SIMULATED API Management (apim-sim on %s, demo scenario); nothing here touches "
             "Azure",
             url);
    return 0;
}

void demo_stop(struct demo *d)
{
    if (d->pid > 0) {
        kill(d->pid, SIGTERM);
        int status;
        while (waitpid(d->pid, &status, 0) < 0 && errno == EINTR)
            ;
        d->pid = -1;
    }
    if (d->journal_dir[0]) {
        char *j = util_printf("%s/audit.jsonl", d->journal_dir);
        unlink(j);
        free(j);
        rmdir(d->journal_dir);
        d->journal_dir[0] = '\0';
    }
}
