/* revert_change: puts back what the journal recorded as `before` for a change, through the change
 * pipeline (dry run, confirmation, If-Match, journal), refusing with a conflict when a resource
 * was changed since that change was applied (change_plan_revert). */
#include <string.h>

#include "change.h"
#include "drill.h"

static json_t *revert_change(struct mcp_call *call, json_t *args, void *user)
{
    struct tools_ctx *ctx = user;
    util_error err = {0};
    const char *id = json_string_value(json_object_get(args, "change_id"));
    json_t *record = NULL;
    struct change *ch = change_new(ctx, call, "revert_change", args);
    struct arm_client *arm = NULL;
    if (change_journal_find(ctx->cfg->audit_log, id, &record, &err) || !(arm = tools_call_arm(ctx, call, &err)) ||
        change_plan_revert(ch, arm, record, &err)) {
        json_decref(record);
        change_free(ch);
        return tools_fail(ctx, &err);
    }
    /* a shadow proposal wrote nothing to Azure: its revert withdraws it, and is journaled all the same */
    const char *mode = json_string_value(json_object_get(json_object_get(record, "arguments"), "mode"));
    if (mode && !strcmp(mode, "shadow"))
        change_set_journal_only(ch);
    change_set_extra(ch, "reverted_change_id", json_string(id));
    change_set_summary(ch, "revert of change %s (%s)", id, json_string_value(json_object_get(record, "tool")));
    bool drill = json_is_object(json_object_get(record, "drill"));
    json_decref(record);
    json_t *r = change_run(ch, json_is_true(json_object_get(args, "dry_run")));
    json_t *sc = json_object_get(r, "structuredContent");
    if (drill && json_is_true(json_object_get(sc, "applied"))) /* the drill's member is back: it is closed */
        drill_closed_by_revert(ctx, id, json_string_value(json_object_get(sc, "change_id")));
    return r;
}

const struct mcp_tool tools_revert_change = {
    .name = "revert_change",
    .title = "Revert a change",
    .description = "Undoes a change a write tool applied, by its change_id: each resource it wrote goes back to "
                   "what it was. Refuses (nothing written) when one was changed since.",
    .input_schema = "{\"type\":\"object\",\"properties\":{\"change_id\":{\"type\":\"string\",\"pattern\":"
                    "\"^[0-9a-f-]{36}$\"}," CHANGE_INPUT_DRY_RUN
                    "},\"required\":[\"change_id\"],\"additionalProperties\":false}",
    .output_schema = "{\"type\":\"object\",\"properties\":{" CHANGE_OUTPUT_PROPERTIES "},\"required\":[" CHANGE_OUTPUT_REQUIRED "]}",
    .destructive_hint = true,
    .idempotent_hint = false,
    .writes = true,
    .fn = revert_change,
};
