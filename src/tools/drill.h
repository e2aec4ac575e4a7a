/* drill: the failover drills of this process and of the journal (rehearse_failover) — the registry
 * of open drills (one per pool), putting a drilled member back (If-Match on the pool as the drill
 * left it; a pool changed meanwhile is reported, never overwritten; a {"closes"} record is
 * journaled), the recovery of drills a dead process left open (at the first tool call and at
 * --check: put back once their deadline on the gateway clock has passed, by a background thread
 * while it has not, and at once when this process ends), and the note every tool result carries
 * while a drill is open. Private to src/tools/.
 *
 * Ownership: drill_state_new() returns the state tools_ctx owns (freed by drill_state_free()).
 * json_t * results are NEW references; json_t * arguments are borrowed.
 */
#ifndef AIGW_TOOLS_DRILL_H
#define AIGW_TOOLS_DRILL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "tools_internal.h"

struct drill_state *drill_state_new(void);
/* Stops the recovery thread, putting back at once every drill it still held open. */
void drill_state_free(struct tools_ctx *ctx);

/* Once per process (cheap afterwards): reads the journal's open drills and starts the recovery
 * thread for them. */
void drill_startup(struct tools_ctx *ctx);
/* Adds to a tool result a text block per open drill (member, pool, deadline, how to close it). */
json_t *drill_annotate(struct tools_ctx *ctx, json_t *result, const char *skip_id);

/* Registers drill id (record: its journal record with "drill" and "resources") as running in this
 * process. UTIL_ECONFLICT when its pool already has an open drill. */
int drill_register(struct tools_ctx *ctx, const char *id, json_t *record, util_error *err);
/* Replaces a registered drill's record (the applied one, with the ETag after our write). */
void drill_update_record(struct tools_ctx *ctx, const char *id, json_t *record);
/* Forgets a registered drill whose take-out was not written. */
void drill_unregister(struct tools_ctx *ctx, const char *id);
/* The open drill of the pool at path ("backends/<id>", case-insensitive), copied into id_out (37
 * bytes); false when none. */
bool drill_pool_busy(struct tools_ctx *ctx, const char *pool_path, char *id_out);
/* For the running drill: true once it should end now — closed by someone else (revert_change,
 * outcome copied) or asked to restore at once (restore_now). */
bool drill_should_end(struct tools_ctx *ctx, const char *id, bool *closed, char *outcome, size_t n);

/* Puts the member of drill record rec back (see top), journals {"closes": id, outcome, restored}
 * and marks it closed. Returns {restored: bool, closed: bool, outcome: sentence, date: gateway
 * epoch seconds of the last answer (0 = none)}; closed false when the pool could not be read or
 * written (the drill stays open, to retry). */
json_t *drill_restore(struct tools_ctx *ctx, struct arm_client *arm, json_t *rec, const char *why);
/* revert_change restored drill id: it is closed. */
void drill_closed_by_revert(struct tools_ctx *ctx, const char *id, const char *revert_id);

/* restore_now: every open drill of API api_id is ended at once — a running one is told to restore and
 * awaited, a left-over one restored here. Returns [{change_id, restored, outcome}] (NEW). */
json_t *drill_restore_now(struct tools_ctx *ctx, struct arm_client *arm, const char *api_id);

/* --check: restores the open drills whose deadline has passed and reports every open one. */
void drill_check(struct tools_ctx *ctx, struct arm_client *arm, util_buf *report);

/* The gateway clock: the pool's GET (body, ETag, Date). 0 with *body NEW (NULL on 404). */
int drill_read(struct arm_client *arm, const char *path, json_t **body, char **etag, int64_t *date, util_error *err);
/* The deadline of a drill record, epoch seconds on the gateway clock (0 when unreadable). */
int64_t drill_deadline(const json_t *rec);

#endif
