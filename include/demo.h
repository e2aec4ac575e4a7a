/*
 * demo: --demo mode. Starts the bundled apim-sim (demo scenario, free loopback port) as a child
 * process that the kernel stops when this process ends, and sets this process's environment to
 * the demo identity and endpoints so the rest of the program runs unchanged.
 *
 * Ownership: struct demo is the caller's; demo_stop() stops the child and removes the demo's
 * temporary journal.
 */
#ifndef AIGW_DEMO_H
#define AIGW_DEMO_H

#include <sys/types.h>

#include "util.h"

struct demo {
    pid_t pid;             /* apim-sim, or -1 */
    int port;              /* the port it listens on */
    char journal_dir[256]; /* temporary journal folder when AIGW_AUDIT_LOG was not set, or "" */
};

/* Starts apim-sim and points the environment at it. Returns 0 or UTIL_EIO with err. */
int demo_start(struct demo *d, util_error *err);
void demo_stop(struct demo *d);

#endif
