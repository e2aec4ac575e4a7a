/*
 * demo: --demo mode. Starts the bundled apim-sim (demo scenario, free loopback port) as a child
 * process that exits when this process ends (it reads EOF on a stdin pipe only we hold), and sets this process's environment to
 * the demo identity and endpoints so the rest of the program runs unchanged.
 *
 * Ownership: struct demo is the caller's; demo_stop() stops the child and removes the demo's
 * temporary journal (also removed when a termination signal ends the process).
 */
#ifndef AIGW_DEMO_H
#define AIGW_DEMO_H

#include "util.h"

struct platform_child;

struct demo {
    struct platform_child *sim; /* apim-sim, or NULL */
    int port;              /* the port it listens on */
    char journal_dir[256]; /* temporary journal folder when AIGW_AUDIT_LOG was not set, or "" */
};

/* Starts apim-sim and points the environment at it. Returns 0 or UTIL_EIO with err. */
int demo_start(struct demo *d, util_error *err);
void demo_stop(struct demo *d);

#endif
