/* quota_scope: what list_subscriptions and update_quota both need — the subscriptions (never their
 * keys), every policy document that runs for their requests (global, each product, each API a
 * product includes or a subscription is scoped to), fetched ONCE each and concurrently, and one
 * policy_quota_sub "entry" per (subscription, API it can call) for the policy layer.
 *
 * A product subscription's requests run global → product → API policy, and the API depends on
 * the call: it gets one entry per API of its product (chain global, product, api). Its reported
 * limits are those of its PRIMARY entry: the first API (in the product's order) where a
 * tokens-per-minute limit runs for it, else the first with a request rate, else the first API;
 * when the APIs give different limits the row carries `by_api`. An API subscription's chain is
 * global → api; an all-APIs subscription gets one entry per API of the service (global → api; its
 * new limits go into the global policy). Operation-level policies are not read.
 *
 * Ownership: quota_scope_gather() fills a caller-owned struct that quota_scope_free() releases;
 * everything inside is owned by it. Returned json_t * are NEW references; char * are heap.
 */
#ifndef AIGW_TOOLS_QUOTA_SCOPE_H
#define AIGW_TOOLS_QUOTA_SCOPE_H

#include <jansson.h>
#include <stddef.h>

#include "policy.h"
#include "tools_internal.h"

/* Most subscriptions one call considers (ARM listing cap). */
#define QUOTA_SCOPE_MAX_SUBS 10000u

struct quota_doc {
    char *scope;  /* "global", "product:aoai", "api:aoai-completions" (labels in quota_source) */
    char *path;   /* ARM path relative to the service */
    char *label;  /* "policy of product aoai" (for diffs and the journal) */
    json_t *body; /* GET body, NULL when there is no policy at that scope */
    char *etag;   /* read with the body, NULL when none */
};

struct quota_sub {
    const char *id;           /* resource name = context.Subscription.Id (borrowed from `listed`) */
    const char *display_name; /* may be NULL */
    const char *state;
    const char *scope_type;   /* "product", "api" or "all_apis" (static) */
    char *scope_id;           /* product or API id; NULL for all_apis */
    size_t first, count;      /* its entries: entries[first .. first+count) */
    size_t primary;           /* the entry whose limits are reported */
};

struct quota_scope {
    json_t *listed;            /* the subscriptions as ARM listed them */
    struct quota_doc *docs;
    policy_quota_doc *pdocs;   /* {scope, text} views of docs for the policy layer */
    size_t ndocs;
    struct quota_sub *subs;
    size_t nsubs;
    policy_quota_sub *entries; /* one per (subscription, API) */
    const char **entry_api;    /* the API id of each entry (borrowed from docs), NULL = none */
    policy_limits *entry_lim;  /* each entry's effective limits */
    size_t nentries;
};

/* Lists the subscriptions (all, one product's, and/or one state's), fetches the policies that
 * run for them and computes every entry's limits, in at most three rounds of concurrent reads (the
 * subscriptions; the product and API-scope policies and the products' API lists; the policies of
 * those APIs) — one when the previous gathering's reads, sent with the first round, cover what the
 * listing needs (quota_scope_forget). 0 or an util_code with err. */
int quota_scope_gather(struct arm_client *arm, const char *product_id, const char *state, struct quota_scope *qs,
                       util_error *err);

/* What a caller adds to the gathering (simulate_quota, update_quota mode "shadow"): requests that
 * need nothing from it go out in its FIRST round (n of them: reqs borrowed; res, rcs, errs are
 * the caller's arrays of n, filled as arm_batch fills them, to free with arm_result_free), and
 * with eager_api_policies the service's API list joins that round too, so that every API's
 * policy is read in the second round with the products' (no third round), when the service has
 * at most QUOTA_SCOPE_EAGER_APIS APIs in one page (more: the third round as usual, for the APIs
 * needed); the policies of APIs no subscription reaches are then dropped. */
#define QUOTA_SCOPE_EAGER_APIS 64u
struct quota_scope_extra {
    size_t n;
    const struct arm_request *reqs;
    struct arm_result *res;
    int *rcs;
    util_error *errs;
    bool eager_api_policies;
};
int quota_scope_gather_with(struct arm_client *arm, const char *product_id, const char *state,
                            const struct quota_scope_extra *extra, struct quota_scope *qs, util_error *err);
void quota_scope_free(struct quota_scope *qs);
/* A gathering sends the reads the previous one of this process needed after its first round
 * (policies, products' API lists) with its own first round, and uses their answers where its
 * listing needs them: a repeated call is one round trip. Only paths are remembered, never an
 * answer. quota_scope_forget drops them (tests; the memory at exit). Thread-safe. */
void quota_scope_forget(void);

/* Every subscription's index, in id order (heap, *n entries): stable pages. */
size_t *quota_scope_sorted(const struct quota_scope *qs, size_t *n);

/* Index of the subscription with this id, or (size_t)-1. */
size_t quota_scope_find(const struct quota_scope *qs, const char *id);
/* Fills err (UTIL_ENOTFOUND) for an unknown subscription id, suggesting close matches. */
int quota_scope_not_found(const struct quota_scope *qs, const char *id, util_error *err);

/* The list_subscriptions row of subs[i]: {id, display_name, state, scope_type, scope_id, tpm, rpm,
 * quota_source, extras..., by_api?}. */
json_t *quota_scope_row(const struct quota_scope *qs, size_t i);

/* update_quota.c: the plan update_quota makes for subs[t] (policy_quota_update over every entry, the
 * target's primary one only); simulate_quota replays the same plan. Free res with
 * policy_quota_result_free on success. */
int update_quota_plan(const struct quota_scope *qs, size_t t, const policy_quota_change *want,
                      policy_quota_result *res, util_error *err);

#endif
