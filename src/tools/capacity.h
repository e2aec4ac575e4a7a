/* capacity: the Azure OpenAI capacity behind an API — its routing (backend_read.c), the
 * deployments of its priority-1 members (models.c) — set against the tokens-per-minute limits of the
 * teams whose requests it serves (quota_scope.h): what update_quota warns about before a raise and
 * what list_subscriptions reports per API. Private to src/tools/.
 *
 * Ownership: json_t * results are NEW references; arguments are borrowed.
 */
#ifndef AIGW_TOOLS_CAPACITY_H
#define AIGW_TOOLS_CAPACITY_H

#include <jansson.h>

#include "quota_scope.h"

/* The capacity serving api_id: {"api_id", "deployment", "capacity_tpm", "backends": [ids]} from the
 * deployments of its best-priority members (the largest deployment name's summed capacity), or
 * json null when it cannot be told (no routing to Azure OpenAI, deployments unreadable). Four round
 * trips at most, the accounts and deployments cached (models.h). Never fails. */
json_t *capacity_of_api(struct tools_ctx *ctx, struct arm_client *arm, const char *api_id);

/* The teams' limits on api (each subscription whose primary entry is on api, with its tpm; the
 * subscription `target`'s tpm replaced by new_tpm when new_tpm >= 0) against cap (capacity_of_api,
 * not null): {"teams_tpm": sum, "teams": n, "oversubscribed_tpm": sum - capacity or 0} added to a
 * copy of cap. */
json_t *capacity_vs_teams(json_t *cap, const struct quota_scope *qs, size_t target, long long new_tpm);

/* The warning sentences of a raise of subscription `id` to new_tpm against cap and its teams (the
 * result of capacity_vs_teams): the team's limit beyond the capacity, the teams together beyond it.
 * Appends to warnings (array of strings). */
void capacity_warnings(json_t *vs, const char *id, long long new_tpm, json_t *warnings);

/* list_subscriptions' view: for each distinct primary API of the listed subscriptions (at most
 * CAPACITY_APIS_MAX), capacity_vs_teams of its capacity when known (NEW array, possibly empty). */
#define CAPACITY_APIS_MAX 5
json_t *capacity_for_subscriptions(struct tools_ctx *ctx, struct arm_client *arm, const struct quota_scope *qs);
/* One text line per entry of capacity_for_subscriptions into b. */
void capacity_text(util_buf *b, json_t *list);

struct change;
/* update_quota's check: when subscription qs->subs[t] gets new_tpm, the capacity of its primary
 * API against it and its teams; adds the warnings to ch and "capacity" (capacity_vs_teams, or null)
 * to its result. */
void capacity_check_quota(struct tools_ctx *ctx, struct arm_client *arm, struct change *ch,
                          const struct quota_scope *qs, size_t t, long long new_tpm);

#endif
