/* change: the change pipeline every write tool goes through (tools.md §3) and the change
 * journal (AIGW_AUDIT_LOG). A change is an ordered list of resource writes; change_run() diffs
 * them, returns the plan on a dry run, asks the human to confirm through elicitation when the
 * client can, writes each resource with If-Match (undoing earlier writes in reverse when a later
 * one fails), appends ONE journal record and builds the tool result
 * {applied, change_id, before, after, diff, warnings, message, ...extra}. Private to src/tools/.
 *
 * Typical use in a write tool:
 *     struct change *ch = change_new(ctx, call, "apply_policy", args);
 *     json_t *body; char *etag;
 *     if (change_read(arm, path, "format=rawxml", &body, &etag, &err)) ... tools_fail
 *     json_t *new_body = change_policy_body(xml);
 *     change_add(ch, &(struct change_write){ .path = path, .label = "policy of API aoai",
 *                .read_query = "format=rawxml", .before = body, .etag = etag, .after = new_body,
 *                .before_text = change_policy_text(body), .after_text = xml });
 *     json_decref(body); json_decref(new_body); free(etag);
 *     return change_run(ch, dry_run);   // frees ch
 *
 * Ownership: change_new() returns a change freed by change_run() (always) or change_free() (when
 * the tool gives up before running it). change_add() COPIES everything it is given (strings
 * duplicated, json bodies deep-copied), so the caller keeps and frees its own. change_set_*()
 * STEAL the json_t they are given. change_run() returns a NEW CallToolResult reference.
 * change_read() gives a NEW body reference and a heap etag. Functions returning char * return
 * heap memory freed with free(); change_policy_text() returns a BORROWED string.
 */
#ifndef AIGW_TOOLS_CHANGE_H
#define AIGW_TOOLS_CHANGE_H

#include <jansson.h>
#include <stdbool.h>

#include "tools_internal.h"

/* Largest journal we read back (revert_change); beyond it we refuse rather than load it. */
#define CHANGE_JOURNAL_MAX_BYTES (64u * 1024u * 1024u)

/* Output-schema properties shared by every write tool, to splice into an output schema's
 * "properties" object: "{...," CHANGE_OUTPUT_PROPERTIES ",...}" and list
 * CHANGE_OUTPUT_REQUIRED in "required". The result's "before"/"after" (a text, an object of texts
 * by label, or null: see change_run), "warnings" and "message" are left out of the schema to keep
 * tools/list small. */
#define CHANGE_OUTPUT_PROPERTIES                                                                     \
    "\"applied\":{\"type\":\"boolean\"},\"change_id\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]}," \
    "\"diff\":{\"type\":\"string\"}"
#define CHANGE_OUTPUT_REQUIRED "\"applied\",\"change_id\",\"diff\""

/* The dry_run input property, to splice into an input schema's "properties". */
#define CHANGE_INPUT_DRY_RUN                                                                         \
    "\"dry_run\":{\"type\":\"boolean\",\"description\":\"diff only\"}"

/* The input properties naming a policy's scope (get_policy, apply_policy); api_id is required
 * by the contract even where the scope does not use it (product, global). */
#define CHANGE_POLICY_SCOPE_PROPS                                                                    \
    "\"api_id\":{\"type\":\"string\"},\"scope\":{\"enum\":[\"api\",\"product\",\"operation\","      \
    "\"global\"]},\"product_id\":{\"type\":\"string\"},\"operation_id\":{\"type\":\"string\"}"

struct change;

/* One resource write. All pointers are borrowed for the duration of change_add() only. */
struct change_write {
    const char *path;        /* ARM path relative to the service: "apis/aoai/policies/policy" */
    const char *label;       /* for humans and the diff: "policy of API aoai", "backend westeurope-aoai" */
    const char *read_query;  /* query to read it back as written (revert, conflict checks):
                                "format=rawxml" for policies; NULL for most resources */
    json_t *before;          /* the resource as read (GET body), NULL when it does not exist yet */
    const char *etag;        /* the ETag read with it (If-Match); NULL when before is NULL */
    json_t *after;           /* the body to PUT, NULL to DELETE the resource */
    const char *before_text; /* what to diff: policy XML, or change_json_text() of the relevant */
    const char *after_text;  /*   properties; NULL = "" (absent / deleted) */
    int api;                 /* enum arm_api of path (0: APIM) */
    bool no_etag;            /* a resource type that carries no ETag (diagnostic settings): instead of
                                If-Match, it is read again just before the write and must be as before
                                (else nothing is written), and read back after it; an undo or revert
                                first checks it is still as written. A change made by someone else
                                between that read and the write is not detected (docs/security.md). */
};

/* A new change for tool `tool` called with `args` (copied, for the journal). */
struct change *change_new(struct tools_ctx *ctx, struct mcp_call *call, const char *tool, json_t *args);
void change_free(struct change *ch);

/* Appends a write (in the order they must happen). Returns 0, or UTIL_EINVAL when path or
 * label is missing, or both before and after are NULL. */
int change_add(struct change *ch, const struct change_write *w, util_error *err);

/* A warning shown in the result ("warnings"), the text block and the confirmation question. */
void change_add_warning(struct change *ch, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Extra field of structuredContent (value stolen), e.g. "subscription_id". */
void change_set_extra(struct change *ch, const char *key, json_t *value);
/* Overrides the result's "before" / "after" (both stolen; e.g. effective limits {tpm, rpm}).
 * Default: with one write, its before_text / after_text (null when absent); with several, an
 * object {label: text or null}. */
void change_set_before_after(struct change *ch, json_t *before, json_t *after);
/* One line summarising the change for the text block and the confirmation question, e.g.
 * "tpm of team-a: 10000 -> 5000". Default: "N resource(s): label, label". */
void change_set_summary(struct change *ch, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Marks a change that is recorded even when it writes nothing (update_quota mode "shadow": the
 * proposal goes to the journal, no limit changes): dry run, confirmation and journal as usual. */
void change_set_journal_only(struct change *ch);

/* A field added to every journal record of this change (value stolen), e.g. "drill". */
void change_set_record_extra(struct change *ch, const char *key, json_t *value);
/* Called once the change is confirmed and its change_id chosen, right before the first write: it
 * may refuse (non-zero with err: nothing is written, the result says so) and may add record
 * fields (change_set_record_extra). With it, a record of status "open" — the complete undo, before
 * bodies and ETags — is journaled BEFORE the first write (a change that cannot be journaled then
 * writes nothing), then the usual record after. */
typedef int (*change_before_write_fn)(struct change *ch, const char *change_id, void *user, util_error *err);
void change_set_before_write(struct change *ch, change_before_write_fn fn, void *user);

/* Runs the pipeline and frees ch. Result (NEW reference):
 * - nothing differs: applied false, diff "", nothing written nor journaled;
 * - dry_run: applied false, change_id null, the diff;
 * - the human declined / cancelled the confirmation, or answered anything but accept with
 *   confirm true: applied false, a normal (not isError) result whose message says nothing was
 *   written;
 * - a resource to overwrite was read without an ETag, or the journal cannot be opened: isError,
 *   nothing written;
 * - from the first write on the MCP call is committed (mcp_call_commit): cancellation is ignored;
 * - a write failed: isError, the sentence says which writes were applied and undone, which one
 *   failed and why. A failure that is not a clear refusal is settled by reading the resource
 *   again (as written → done, the change goes on); "nothing was written" only when proven. A
 *   write that cannot be undone is journaled (status "partial"); a write whose outcome stays
 *   unknown (202 not finished) keeps the earlier writes and is journaled (status "pending");
 * - applied: applied true, change_id (a UUID), the journal record appended. If the journal
 *   cannot be written after the writes succeeded, the result is isError and says so (the
 *   change IS applied; the sentence gives its change_id and the journal error). */
json_t *change_run(struct change *ch, bool dry_run);

/* ---- helpers for tools --------------------------------------------------------------- */

/* GET path (with query, may be NULL). 0 with *body (NEW) and *etag (heap, may be NULL);
 * a 404 is 0 with *body = NULL and *etag = NULL; other failures: the arm code with err. */
int change_read(struct arm_client *arm, const char *path, const char *query, json_t **body, char **etag,
                util_error *err);
/* change_read, also setting *date to the answer's Date header (epoch s) when it has one. */
int change_read_dated(struct arm_client *arm, const char *path, const char *query, json_t **body, char **etag,
                      int64_t *date, util_error *err);
/* {"properties": {"format": "rawxml", "value": xml}} — NEW reference. */
json_t *change_policy_body(const char *xml);
/* properties.value of a policy body, BORROWED from body; NULL when body is NULL or has none. */
const char *change_policy_text(const json_t *body);
/* A human label for the policy at path (tools_policy_path form): "policy of API aoai",
 * "policy of product gold", "policy of operation chat of API aoai", "global policy". Heap. */
char *change_policy_label(const char *path);
/* Stable pretty rendering of JSON for diffs (keys sorted, 2-space indent, trailing newline);
 * "" for NULL. Heap memory. */
char *change_json_text(const json_t *value);

/* ---- journal (AIGW_AUDIT_LOG) ---------------------------------------------------------- */

/* Appends one record (one line: the compact JSON of record + '\n') with a single write() on a
 * file opened O_APPEND (created 0600, its directory 0700 when missing), then fsync. When the
 * file ends with a partial line, a '\n' is written first (same write) so the record stays whole. */
int change_journal_append(const char *path, const json_t *record, util_error *err);
/* Checks, before the first write of a change, that the journal can be opened for appending
 * (creating it and its directory). 0, or UTIL_ECONFIG / UTIL_EIO with err. */
int change_journal_check(const char *path, util_error *err);
/* Finds the last record whose change_id is id (a drill's "open" record is followed by its applied
 * one); *record is a NEW reference. UTIL_ENOTFOUND when no
 * record has it, UTIL_ELIMIT past CHANGE_JOURNAL_MAX_BYTES, UTIL_EIO when unreadable. */
int change_journal_find(const char *path, const char *id, json_t **record, util_error *err);

/* Journal record fields (one JSON object per line):
 * {time, change_id, status, tool, arguments, principal, reverts?: change_id,
 *  resources: [{path, label, read_query, before, after, before_text, after_text, etag_before,
 *               etag_after}]}
 * before/after are the bodies (before as read, after as PUT; null = absent / deleted), secrets
 * redacted (as are URL queries and secret-named values in arguments). status: "applied";
 * "partial" (a failed change whose listed writes could not be undone); "pending" (the listed
 * writes may be in effect: one's outcome is unknown, e.g. a 202 that did not finish). */

/* The "pending" records of the journal that no later record resolves ({"resolves": change_id}),
 * oldest first (NEW array; empty when there are none or the journal cannot be read). */
json_t *change_journal_pending(const char *path);

/* The failover drills (rehearse_failover) the journal holds open: for each drill change_id (a
 * record with a "drill" object), its last record, unless a later record closes it ({"closes": id})
 * or an applied revert reverts it ({"reverts": id}). Oldest first (NEW array; empty when none or
 * unreadable). */
json_t *change_journal_open_drills(const char *path);

/* For revert_change: a change that puts every resource of `record` back to its `before`. For each
 * resource it reads the current state; unless its ETag equals the record's etag_after or its
 * content still matches the record's after (then its current ETag is used), it fails with UTIL_ECONFLICT
 * ("... was changed since change X was applied; read it with get_policy and apply by hand") and
 * nothing is written. On success fills ch with the restoring writes. */
int change_plan_revert(struct change *ch, struct arm_client *arm, const json_t *record, util_error *err);

#endif
