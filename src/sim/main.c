/* main.c: the apim-sim executable — parses the command line, starts the simulator on a loopback
 * port, prints the bound port alone on the first stdout line, and stops cleanly on SIGTERM/SIGINT. */
#include "sim.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: apim-sim [--scenario demo|PATH.json] [--port N] [--host 127.0.0.1] [--tls-cert PEM --tls-key PEM]\n"
    "                [--token-lifetime SECONDS] [--page-size N] [--latency-ms N] [--log-level debug|info|warning|error]\n"
    "                [--exit-on-stdin-eof]\n";

/* --exit-on-stdin-eof: the parent holds our stdin pipe; its end (however the parent ends) is EOF. */
static bool g_exit_on_eof;

static void *watch_stdin(void *arg)
{
    (void)arg;
    char buf[256];
    while (fread(buf, 1, sizeof buf, stdin) > 0)
        ;
    kill(getpid(), SIGTERM); /* main's sigwait takes it */
    return NULL;
}

static int parse_int(const char *opt, const char *v, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long n = v ? strtol(v, &end, 10) : 0;
    if (!v || *end || errno || n < lo || n > hi) {
        fprintf(stderr, "apim-sim: %s needs an integer from %d to %d, got '%s'\n", opt, lo, hi, v ? v : "");
        return -1;
    }
    *out = (int)n;
    return 0;
}

static int parse_args(int argc, char **argv, sim_options *o)
{
    for (int i = 1; i < argc; i += 2) { /* every option but --exit-on-stdin-eof takes a value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (strcmp(a, "--exit-on-stdin-eof") == 0) {
            g_exit_on_eof = true;
            i--;
            continue;
        }
        if (strcmp(a, "--scenario") == 0 && v) o->scenario = v;
        else if (strcmp(a, "--host") == 0 && v) o->host = v;
        else if (strcmp(a, "--tls-cert") == 0 && v) o->tls_cert = v;
        else if (strcmp(a, "--tls-key") == 0 && v) o->tls_key = v;
        else if (strcmp(a, "--port") == 0) rc = parse_int(a, v, 0, 65535, &o->port);
        else if (strcmp(a, "--token-lifetime") == 0) rc = parse_int(a, v, 1, 86400, &o->token_lifetime);
        else if (strcmp(a, "--page-size") == 0) rc = parse_int(a, v, 1, 1000, &o->page_size);
        else if (strcmp(a, "--latency-ms") == 0) rc = parse_int(a, v, 0, 600000, &o->latency_ms);
        else if (strcmp(a, "--log-level") == 0 && v && util_log_level_parse(v) >= 0) util_log_set_level(util_log_level_parse(v));
        else {
            fprintf(stderr, "apim-sim: unknown or incomplete option '%s'\n%s", a, usage);
            return -1;
        }
        if (rc)
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    sim_options o = {.scenario = "demo", .host = "127.0.0.1", .token_lifetime = 3599, .page_size = 100};
    util_log_set_program("apim-sim");
    if (parse_args(argc, argv, &o) != 0)
        return 2;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* MHD's threads inherit the mask; we sigwait below */
    signal(SIGPIPE, SIG_IGN);
    util_error err = {0};
    sim_server *srv = sim_server_start(&o, &err);
    if (!srv) {
        LOG_ERROR("apim-sim", "%s", err.message);
        util_log_free_all();
        return 1;
    }
    printf("%d\n", sim_server_port(srv));
    fflush(stdout);
    pthread_t watcher;
    if (g_exit_on_eof && pthread_create(&watcher, NULL, watch_stdin, NULL) == 0)
        pthread_detach(watcher);
    LOG_INFO("apim-sim", "serving scenario '%s' on %s:%d%s", o.scenario, o.host, sim_server_port(srv),
             o.tls_cert ? " (https)" : "");
    int sig = 0;
    sigwait(&set, &sig);
    LOG_INFO("apim-sim", "stopping on signal %d", sig);
    sim_server_stop(srv);
    util_log_free_all();
    return 0;
}
