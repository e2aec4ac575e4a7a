/* models: the Azure OpenAI deployments behind the gateway's backends — which
 * Microsoft.CognitiveServices account a backend URL reaches (Accounts_List in the gateway's
 * subscription and those of AIGW_MODEL_SUBSCRIPTIONS, cached for the process), its deployments
 * (Deployments_List, cached for MODELS_DEPLOYMENTS_TTL_SEC), and the facts drawn from them: model
 * versions that differ between pool members, deployments missing in a member, upgrade options that
 * let one region move alone, failover members smaller than their primary, and the capacity that
 * serves a product's teams. Private to src/tools/.
 *
 * Ownership: json_t * results are NEW references; json_t * arguments are borrowed. The cache
 * lives in tools_ctx.models (json_decref'd by tools_ctx_free). A models_prefetch owns its paths and
 * results until models_prefetch_store()/models_prefetch_free().
 */
#ifndef AIGW_TOOLS_MODELS_H
#define AIGW_TOOLS_MODELS_H

#include <jansson.h>
#include <stdbool.h>

#include "tools_internal.h"

#define MODELS_SUBS_MAX 8                /* subscriptions searched for accounts */
#define MODELS_ACCOUNTS_MAX 2000         /* accounts read per subscription */
#define MODELS_DEPLOYMENTS_MAX 500       /* deployments read per account */
#define MODELS_DEPLOYMENTS_TTL_SEC 300   /* a deployment list is read again after this */
#define MODELS_ROLE "Reader on the subscription holding the Azure OpenAI accounts (it grants " \
                    "Microsoft.CognitiveServices/accounts/read and accounts/deployments/read)"

/* True when url's host is an Azure OpenAI / AI Foundry endpoint: *.openai.azure.com,
 * *.cognitiveservices.azure.com, *.services.ai.azure.com and their US Government (.azure.us) and
 * China (.azure.cn) equivalents. */
bool models_is_endpoint(const char *url);

/* Tokens per minute a deployment can serve: capacity x 1000 for the Standard, GlobalStandard and
 * DataZoneStandard SKUs (capacity counts thousands of TPM); -1 for any other SKU (provisioned
 * throughput units, batch). */
long long models_capacity_tpm(const char *sku, long long capacity);

/* Round 1: the Accounts_List requests of the subscriptions not cached yet, to send along with the
 * caller's first batch (reqs/results/rcs/errs parallel arrays of n entries). */
struct models_prefetch {
    size_t n;
    char *subs[MODELS_SUBS_MAX];
    char *paths[MODELS_SUBS_MAX];
    struct arm_request reqs[MODELS_SUBS_MAX];
    struct arm_result res[MODELS_SUBS_MAX];
    int rcs[MODELS_SUBS_MAX];
    util_error errs[MODELS_SUBS_MAX];
};
void models_prefetch_plan(struct tools_ctx *ctx, struct models_prefetch *p);
/* Stores what the prefetch answered in the cache (following nextLink when an answer has one) and
 * frees it. */
void models_prefetch_store(struct tools_ctx *ctx, struct arm_client *arm, struct models_prefetch *p);
void models_prefetch_free(struct models_prefetch *p);

/* For each backend of members (array of {backend_id, url, ...}, borrowed and EDITED in place):
 * sets "account" ({name, id, location} or null), "deployments" (array of {name, model,
 * model_version, version_upgrade_option, sku, capacity, capacity_tpm}) or null with
 * "deployments_unavailable" (why, and the role that fixes it). Reads the accounts not cached (one
 * round trip for every subscription together) and the deployments not cached (one round trip for
 * every account together). */
void models_attach(struct tools_ctx *ctx, struct arm_client *arm, json_t *members);

/* Warnings (appended to warnings, an array of strings) drawn from members as models_attach left
 * them, each member with "priority" (null = 1): deployments missing in a member, one deployment name
 * on different models or versions, upgrade options that differ, a failover priority group with
 * less capacity than the primary group. Pure. */
void models_pool_warnings(json_t *members, json_t *warnings);

/* The capacity (TPM) that serves requests through members (after models_attach): for each
 * deployment name, the sum of capacity_tpm over the members of the best priority that have it; the
 * largest such sum. Sets *deployment to that name (borrowed from members), appends the ids of those
 * members to backends (may be NULL) and returns it; -1 when no member's deployments are known. Pure. */
long long models_primary_capacity(json_t *members, const char **deployment, json_t *backends);

#endif
