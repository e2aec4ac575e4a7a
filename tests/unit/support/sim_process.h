/*
 * sim_process: test helper that runs apim-sim as a child process (the binary named by the
 * APIM_SIM_BIN environment variable, set by ctest) on a free loopback port, and talks to its
 * control endpoint (/_sim/...) with a tiny HTTP/1.1 client over a plain socket, so any unit
 * test can use it without linking libcurl.
 *
 * Ownership: sim_start() fills a caller-owned struct sim_process; sim_stop() ends the child
 * (SIGTERM, then waits) and frees nothing else. sim_request() returns the answer's body in
 * *body as heap memory the caller frees (may be NULL when body is NULL).
 */
#ifndef AIGW_TEST_SIM_PROCESS_H
#define AIGW_TEST_SIM_PROCESS_H

#include <sys/types.h>

struct sim_process {
    pid_t pid;
    int port;
    int stdout_fd;     /* read end of the child's stdout (kept open until sim_stop) */
    char base_url[64]; /* "http://127.0.0.1:PORT" */
};

/* Starts apim-sim with "--port 0" and the extra arguments (NULL-terminated, may be NULL).
 * Returns 0, or -1 with a message on stderr (APIM_SIM_BIN unset, spawn failed, no port line). */
int sim_start(struct sim_process *s, const char *const *extra_args);
/* Sends SIGTERM and waits; returns the child's exit status (0 for a clean stop) or -1. */
int sim_stop(struct sim_process *s);

/* One request to the simulator (method, path with query, optional JSON body). Returns the HTTP
 * status, or -1 on a connection failure. */
int sim_request(const struct sim_process *s, const char *method, const char *path, const char *json_body,
                char **body);

#endif
