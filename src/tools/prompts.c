/* prompts: the three guided use cases offered as MCP prompts — per-team token quotas,
 * multi-region failover, semantic caching. Each turns its arguments into step-by-step
 * instructions that lead the assistant through the tools, pitfalls included. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tools.h"

static const char *arg(json_t *args, const char *name)
{
    const char *v = json_string_value(json_object_get(args, name));
    return v && *v ? v : NULL;
}

static json_t *one_message(const char *description, char *text)
{
    json_t *r = json_pack("{s:s, s:[{s:s, s:{s:s, s:s}}]}", "description", description, "messages", "role", "user",
                          "content", "type", "text", "text", text);
    free(text);
    return r;
}

static bool parse_positive(const char *s, long long max, long long *out)
{
    if (!s || !isdigit((unsigned char)*s)) /* digits first: no sign, space, "nan" or hex */
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    /* accept "100k" / "1m" as people say them (the multiplication cannot overflow: v is bounded first) */
    long long unit = *end == 'k' || *end == 'K' ? 1000 : *end == 'm' || *end == 'M' ? 1000000 : 1;
    end += unit > 1;
    if (errno == ERANGE || *end || v < 1 || v > max / unit)
        return false;
    v *= unit;
    *out = v;
    return true;
}

static json_t *quota_prompt(json_t *args, void *user, util_error *err)
{
    const char *team = arg(args, "team");
    long long tpm;
    if (!parse_positive(arg(args, "tpm"), 100000000, &tpm)) {
        util_error_set(err, UTIL_EINVAL, "tpm must be a whole number of tokens per minute from 1 to 100000000 "
                                         "(100k and 1m are understood), got '%s'",
                       arg(args, "tpm") ? arg(args, "tpm") : "");
        return NULL;
    }
    char *text = util_printf(
        "Set the token quota of team '%s' to %lld tokens per minute on our Azure API Management AI gateway, "
        "without changing any other team's limits.\n\n"
        "1. Review: call list_subscriptions and find the subscription of team '%s' (match its id or display name; "
        "ask me if several match). Note its current tpm, rpm and quota_source, and every other team's limits.\n"
        "2. Simulate: call simulate_quota with subscription_id and tpm=%lld (the last 24 h), then again one step "
        "gentler (halfway between its current tpm and %lld). Show me requests_refused, share_refused, "
        "peak/p95/p50 TPM and worst_minutes for both, and that no entry of others has changed=true.\n"
        "3. Shadow if there is no data: if simulate_quota answers no_data, call update_quota with mode='shadow' "
        "and tpm=%lld (dry_run first; show me its diff). APIM has no log-only limit: shadow changes no limit, it "
        "records the proposal and enables GatewayLogs/GatewayLlmLogs when a resource-specific workspace setting "
        "lacks them, else it tells me what to enable; call simulate_quota again (no tpm needed) after data_ready_at.\n"
        "4. Dry run: call update_quota with subscription_id, tpm=%lld (or the gentler step I choose) and "
        "dry_run=true. Show me the diff and the plan sentence; confirm that only this team's element changes.\n"
        "5. Apply: after I agree, call update_quota again without dry_run. Keep the change_id. Call "
        "list_subscriptions again and check that every OTHER team's tpm and rpm are exactly as before.\n"
        "6. Watch: call get_metrics (since='15m') and compare each team's 429s (by_subscription throttled) with "
        "the prediction. Roll cuts out gradually. revert_change with the change_id undoes the change.\n"
        "7. Capacity: list_subscriptions' `capacity` and update_quota's dry-run warnings set the teams' limits "
        "against the TPM of the Azure OpenAI deployments behind the API (capacity_tpm); a limit above it only "
        "moves the 429s to Azure OpenAI. If 429s persist after RAISING a quota, answer with numbers: "
        "get_metrics' throttled_gateway vs throttled_backend for the team (backend = Azure OpenAI out of "
        "capacity), its limit, and get_backend_pool's capacity_tpm of the priority-1 deployment; when "
        "throttled_backend dominates, the fix is deployment capacity or a region, not a higher limit.",
        team, tpm, team, tpm, tpm, tpm, tpm);
    return one_message("Enforce a per-team token quota", text);
}

static json_t *failover_prompt(json_t *args, void *user, util_error *err)
{
    const char *api = arg(args, "api_id");
    const char *url = arg(args, "secondary_url");
    if (strncmp(url, "https://", 8) != 0) {
        util_error_set(err, UTIL_EINVAL, "secondary_url must be an https:// Azure OpenAI endpoint, got '%s'", url);
        return NULL;
    }
    char *text = util_printf(
        "Configure multi-region failover for API '%s' on our Azure API Management AI gateway, with %s as the "
        "secondary region.\n\n"
        "1. Call get_backend_pool with api_id='%s': tell me how many backends there are, their priorities, "
        "weights and circuit breakers, and any retry policy (failover needs a retry on 429 and 5xx).\n"
        "2. Pitfall: every member of a pool must serve the SAME model name and version, and a failover region "
        "must carry the primary's load. get_backend_pool lists each member's Azure OpenAI deployments (model, "
        "model_version, version_upgrade_option, capacity_tpm) and warns of version mismatches, deployments "
        "missing in a member, upgrade options that let one region move alone, and a failover member smaller "
        "than its primary: quote those numbers to me and ask before mixing versions or adding a smaller region. "
        "If deployments_unavailable says a role is missing, tell me which.\n"
        "3. Call update_backend_pool with api_id='%s', dry_run=true, adding a member with url='%s', priority 2 "
        "(keep the current primary at priority 1), and a circuit breaker such as 5 failures in 1 minute on "
        "429 and 500-599, tripping for 5 minutes, accept_retry_after=true. Show me every resource the diff "
        "touches.\n"
        "4. After I agree, apply it without dry_run and keep the change_id.\n"
        "5. End with a failover drill: call rehearse_failover with api_id='%s', the primary's backend_id, "
        "minutes=2 and dry_run=true, show me the plan (who serves meanwhile), and after I agree run it without "
        "dry_run. Relay its progress, then report its evidence: each backend's share of the traffic before, "
        "during and after, how long until the shift was visible, the 5xx and 429 errors during it, and "
        "restored: true (the pool as it was). Say which figures are not in Log Analytics yet rather than "
        "guessing them. If the drill is interrupted, rehearse_failover restore_now=true (or revert_change with "
        "its change_id) puts the primary back at once.",
        api, url, api, api, url, api);
    return one_message("Configure multi-region failover", text);
}

/* Reads the threshold argument. APIM's score-threshold is a distance (Learn,
 * llm-/azure-openai-semantic-cache-lookup: lower values require higher similarity; start about
 * 0.05; above 0.2 risks mismatches). "similarity 0.95", or any value of 0.5 or more, is read as a
 * similarity and translated to 1 - similarity (*similarity holds it, else -1). */
static bool parse_threshold(const char *th, double *out, double *similarity)
{
    *similarity = -1;
    *out = 0.05;
    if (!th)
        return true;
    bool said = strncasecmp(th, "similarity", 10) == 0;
    if (said)
        for (th += 10; *th == ' ' || *th == ':' || *th == '='; th++)
            ;
    char *end;
    double v = strtod(th, &end);
    /* a plain decimal only: strtod also takes "nan", "inf" and hex, which are no thresholds */
    if (end == th || *end || th[strspn(th, "0123456789.")] || !(v > 0) || v >= 1)
        return false;
    if (said || v >= 0.5) {
        *similarity = v;
        v = 1 - v;
    }
    *out = round(v * 1000) / 1000;
    return *out > 0;
}

static json_t *cache_prompt(json_t *args, void *user, util_error *err)
{
    const char *api = arg(args, "api_id");
    const char *th = arg(args, "threshold");
    const char *ttl_s = arg(args, "ttl_seconds");
    double threshold, similarity;
    if (!parse_threshold(th, &threshold, &similarity)) {
        util_error_set(err, UTIL_EINVAL, "threshold must be APIM's score-threshold, a distance above 0 and below 1 "
                                         "(lower is stricter; start at 0.05), or 'similarity 0.95'; got '%s'", th);
        return NULL;
    }
    long long ttl = 3600;
    if (ttl_s && !parse_positive(ttl_s, 31536000, &ttl)) {
        util_error_set(err, UTIL_EINVAL, "ttl_seconds must be a whole number of seconds from 1 to 31536000, got '%s'",
                       ttl_s);
        return NULL;
    }
    char said[512] = "";
    size_t n = 0;
    if (similarity > 0)
        n = (size_t)snprintf(said, sizeof said,
                             "Note: %g reads as a similarity; APIM's score-threshold is a distance (lower is stricter), "
                             "so a similarity of %g is score-threshold %g. Tell me this translation.\n",
                             similarity, similarity, threshold);
    if (threshold > 0.2 && n < sizeof said) /* a translated value is warned about too */
        snprintf(said + n, sizeof said - n,
                 "Note: score-threshold %g is above 0.2, so the cache will serve answers to prompts that are not "
                 "alike; warn me and ask before applying it.\n", threshold);
    char *text = util_printf(
        "Deploy semantic caching on API '%s' of our Azure API Management AI gateway with score-threshold %g "
        "and a cache lifetime of %lld seconds.\n%s\n"
        "1. Call get_policy with api_id='%s' and read its summary: is there already a semantic-cache lookup "
        "(and its threshold note), and which embeddings backend exists (the cache needs one)?\n"
        "2. Write the new policy: keep everything, add in <inbound> after <base /> an "
        "<azure-openai-semantic-cache-lookup score-threshold=\"%g\" embeddings-backend-id=\"...\" "
        "embeddings-backend-auth=\"system-assigned\" /> and in <outbound> an "
        "<azure-openai-semantic-cache-store duration=\"%lld\" />.\n"
        "3. Call apply_policy with dry_run=true and show me the diff and any warnings; then apply it after I "
        "agree, keeping the change_id.\n"
        "4. Pitfall: score-threshold is a distance, not a similarity: LOWER is STRICTER (Microsoft: lower values "
        "require higher semantic similarity). Start low (0.05) and raise it in small steps only for more hits, "
        "checking answer quality; above 0.2 the cache serves answers to prompts that are not alike. Check the "
        "hit rate with get_metrics (since='1h'): a hit rate of 0%% usually means the embeddings backend is not "
        "configured.\n"
        "5. revert_change with the change_id removes the cache again.",
        api, threshold, ttl, said, api, threshold, ttl);
    return one_message("Deploy semantic caching", text);
}

static const struct mcp_prompt_arg quota_args[] = {
    {"team", "the team: its subscription id or display name", true},
    {"tpm", "the new limit in tokens per minute (100000 or 100k)", true},
    {NULL, NULL, false}};
static const struct mcp_prompt_arg failover_args[] = {
    {"api_id", "the API to protect (see list_apis)", true},
    {"secondary_url", "https:// endpoint of the secondary region's Azure OpenAI resource", true},
    {NULL, NULL, false}};
static const struct mcp_prompt_arg cache_args[] = {
    {"api_id", "the API to cache (see list_apis)", true},
    {"threshold", "score-threshold, a distance: lower is stricter (default 0.05); 'similarity 0.95' is translated",
     false},
    {"ttl_seconds", "how long answers stay cached, in seconds (default 3600)", false},
    {NULL, NULL, false}};

static const struct mcp_prompt prompts[] = {
    {"enforce_team_quotas", "Enforce per-team token quotas",
     "Change one team's tokens-per-minute limit safely: review, simulate, shadow if no data, dry run, apply, "
     "watch 429s.",
     quota_args, quota_prompt},
    {"configure_failover", "Configure multi-region failover",
     "Add a secondary region to an API's backend pool with a circuit breaker, then prove it with a failover "
     "drill.",
     failover_args, failover_prompt},
    {"deploy_semantic_caching", "Deploy semantic caching",
     "Add a semantic cache to an API's policy, starting at a strict (low) score-threshold, and measure its hit "
     "rate.",
     cache_args, cache_prompt},
};

int tools_register_prompts(struct mcp_server *srv, util_error *err)
{
    for (size_t i = 0; i < sizeof prompts / sizeof prompts[0]; i++)
        if (mcp_server_add_prompt(srv, &prompts[i], NULL, err) != 0)
            return UTIL_EINVAL;
    return 0;
}
