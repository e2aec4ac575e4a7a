/* demo: --demo mode — starts the bundled apim-sim with its demo scenario on a free loopback port
 * as a child process (stopped when we exit; when we are killed it reads EOF on the stdin pipe only
 * we hold and exits by itself), and points this process's environment at it with the demo
 * identity, so that configuration, credentials and tools run exactly as against Azure. The demo's
 * temporary journal folder is removed on exit and on SIGTERM/SIGINT/SIGHUP. Part of the program
 * (main.c), not of a library. */
#include "demo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"

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
    char *self = platform_exe_dir();
    if (self) {
        char *p = util_printf("%s/apim-sim%s", self, PLATFORM_EXE_SUFFIX);
        free(self);
        if (platform_is_file(p))
            return p;
        free(p);
    }
    return util_strdup("apim-sim");
}

/* The temporary journal, for the termination handler (which may only unlink and rmdir). */
static char g_journal_dir[sizeof((struct demo *)0)->journal_dir];
static char g_journal_file[sizeof g_journal_dir + 16];

static void remove_journal(void)
{
    if (g_journal_dir[0]) {
        platform_remove(g_journal_file);
        platform_remove(g_journal_dir);
        g_journal_dir[0] = '\0';
    }
}

/* Reads apim-sim's first stdout line (its port) into line. */
static int read_port_line(int stream, const char *data, size_t n, void *user)
{
    char *line = user;
    size_t len = strlen(line);
    size_t take = n < 31 - len ? n : 31 - len;
    memcpy(line + len, data, take);
    line[len + take] = '\0';
    return stream == 0 && (strchr(line, '\n') || len + take >= 31);
}

/* A temporary folder for the demo's journal, removed by demo_stop and on termination signals. */
static void make_journal(struct demo *d)
{
    char *tmp = platform_temp_dir();
    char *dir = tmp ? platform_make_temp_dir(tmp, "aigw-demo-") : NULL;
    free(tmp);
    if (!dir || strlen(dir) >= sizeof d->journal_dir) {
        free(dir);
        return;
    }
    snprintf(d->journal_dir, sizeof d->journal_dir, "%s", dir);
    free(dir);
    snprintf(g_journal_dir, sizeof g_journal_dir, "%s", d->journal_dir);
    snprintf(g_journal_file, sizeof g_journal_file, "%s/audit.jsonl", d->journal_dir);
    platform_on_terminate(remove_journal);
    platform_setenv("AIGW_AUDIT_LOG", g_journal_file);
}

int demo_start(struct demo *d, util_error *err)
{
    memset(d, 0, sizeof *d);
    char *sim = find_sim();
    const char *argv[] = {sim, "--port", "0", "--scenario", "demo", "--log-level", "warning", "--exit-on-stdin-eof",
                          NULL};
    int rc = platform_spawn(argv, PLATFORM_SPAWN_STDIN_LIFELINE, &d->sim);
    free(sim);
    if (rc != 0)
        return util_error_set(err, UTIL_EIO, "--demo: cannot start apim-sim: %s (it should be installed next to "
                              "azure-ai-gateway-mcp or on PATH)", strerror(rc));

    /* the first line apim-sim prints is its port */
    char line[32] = "";
    platform_child_read(d->sim, util_monotonic_ms() + 10000, read_port_line, line);
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
        platform_setenv(CLEARED[i], NULL);
    for (size_t i = 0; i < sizeof DEMO_ENV / sizeof DEMO_ENV[0]; i++)
        platform_setenv(DEMO_ENV[i][0], DEMO_ENV[i][1]);
    platform_setenv("AZURE_AUTHORITY_HOST", url);
    platform_setenv("AZURE_RESOURCE_MANAGER_ENDPOINT", url);
    platform_setenv("AIGW_LOG_ANALYTICS_ENDPOINT", url);
    /* the demo's journal never mixes with a real one */
    if (!getenv("AIGW_AUDIT_LOG"))
        make_journal(d);
    LOG_WARN("demo",
             "DEMO MODE: serving a SIMULATED API Management (apim-sim on %s, demo scenario); nothing here touches "
             "Azure",
             url);
    return 0;
}

void demo_stop(struct demo *d)
{
    if (d->sim) {
        platform_child_stop(d->sim);
        platform_child_free(d->sim);
        d->sim = NULL;
    }
    if (d->journal_dir[0]) {
        platform_on_terminate(NULL);
        remove_journal();
        d->journal_dir[0] = '\0';
    }
}
