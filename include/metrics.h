/*
 * metrics: traffic figures of an API behind the APIM AI gateway, from whichever Azure sources the
 * service has (tools.md §3 get_metrics). Azure Monitor metrics on the service (every tier;
 * service-wide counts by response code, durations; no subscription dimension), the reports API
 * (classic tiers only, retired 15 March 2027: per-subscription counts of every API, blocked =
 * 401+403+429) and Log Analytics through the Logs query API (when a diagnostic setting sends
 * GatewayLogs to a workspace in resource-specific tables: exact per-subscription 429s, cache
 * outcomes, backends; GatewayLlmLogs: tokens) and Application Insights (the token
 * metrics an llm-/azure-openai-emit-token-metric policy sends through the service's logger). The pure parts — time parsing and
 * validation, grain choice per source, parsing each source's answer, merging them into one
 * result, the compact text report — need no network; metrics_collect() does the ARM calls.
 *
 * Ownership: every json_t * returned is a NEW reference the caller json_decref()s; json_t *
 * arguments are borrowed. char * results are heap strings the caller free()s.
 */
#ifndef AIGW_METRICS_H
#define AIGW_METRICS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "util.h"

struct arm_client;
struct arm_request;
struct arm_result;

enum metrics_group { METRICS_GROUP_SUBSCRIPTION = 0, METRICS_GROUP_TIME, METRICS_GROUP_NONE };

#define METRICS_MONITOR_RETENTION_DAYS 93 /* Azure Monitor platform metrics */
#define METRICS_LA_RETENTION_DAYS 30      /* a workspace's default retention (when it gives none) */
#define METRICS_MONITOR_TOP 500           /* `top` of a Monitor dimension split (Monitor's default is 10) */
#define METRICS_FUTURE_SKEW_SEC 300       /* `until` may be this far ahead of our clock */
#define METRICS_MAX_ROWS 20               /* rows of the text table before "and N more" */

/* ---- time ------------------------------------------------------------------------------- */

/* Parses an ISO 8601 timestamp ("2026-11-25T01:00:00Z", offset allowed) or a relative duration
 * "Nm", "Nh", "Nd" meaning that long before now. 0 or UTIL_EINVAL with a sentence. */
int metrics_parse_time(const char *s, int64_t now, int64_t *out, util_error *err);

struct metrics_window {
    int64_t since, until;   /* validated window, epoch seconds; since clamped to Monitor's retention */
    int64_t asked_since;    /* what the caller asked for */
    bool clamped;           /* since was moved forward */
};

/* Builds the window from the arguments (until NULL = now): until after since, neither beyond
 * now + METRICS_FUTURE_SKEW_SEC, since clamped to METRICS_MONITOR_RETENTION_DAYS. */
int metrics_window_make(const char *since, const char *until, int64_t now, struct metrics_window *w, util_error *err);

/* Grain for Azure Monitor: the smallest of PT1M PT5M PT15M PT30M PT1H PT6H PT12H P1D giving at
 * most max_points points over window seconds (P1D when none does). Seconds. */
int64_t metrics_grain_monitor(int64_t window, int max_points);
/* Grain for the reports API's byTime: the smallest multiple of 15 minutes giving at most
 * max_points rows. Seconds. */
int64_t metrics_grain_reports(int64_t window, int max_points);

/* ---- parsing each source's answer (pure; NULL or a partial object when the shape is off) -- */

/* Monitor Requests split by GatewayResponseCode and BackendResponseCode (aggregation Total) →
 * {"requests","successful","blocked","failed","throttled","throttled_gateway","throttled_backend",
 * "series":[{"t","requests","throttled"}]}: throttled_backend = gateway 429 with backend 429 (Azure
 * OpenAI refused), throttled_gateway = the rest of the 429s (the gateway's own limits); both null when
 * the series do not carry the BackendResponseCode dimension. */
json_t *metrics_parse_monitor_requests(json_t *body);
/* Monitor Duration and BackendDuration (aggregation Average: they support Average, Minimum and
 * Maximum, not Count) → {"avg_latency_ms","avg_backend_latency_ms"} (each null without data): bin
 * averages weighted by the requests of the same bin in requests_series (the "series" of
 * metrics_parse_monitor_requests), or equally when requests_series is NULL. */
json_t *metrics_parse_monitor_durations(json_t *body, json_t *requests_series);
/* reports/bySubscription → {subscription id: row} with the row counters: "blocked" is callCountBlocked
 * (401, 403 and 429 together), "throttled" (429s alone) null: this source does not tell them apart. */
json_t *metrics_parse_reports(json_t *body);
/* reports/byTime → [{"t", "requests", "blocked" (callCountBlocked), "throttled": null}]: the series when Monitor fails. */
json_t *metrics_parse_reports_series(json_t *body);
/* A Log Analytics query answer → array of objects keyed by column name (first table). Cells of
 * long/int/real columns given as strings (the v1 schema types every cell as a string) become numbers. */
json_t *metrics_parse_la(json_t *body);
/* Application Insights custom metrics "Prompt Tokens", "Completion Tokens", "Total Tokens" split by
 * the subscription dimension sub_dim → the same rows as the Log Analytics tokens query:
 * [{"ApimSubscriptionId", "prompt_tokens", "completion_tokens", "total_tokens"}]. */
json_t *metrics_parse_token_metrics(json_t *body);

/* ---- merging and text --------------------------------------------------------------------- */

/* What each source answered (borrowed; NULL = not queried or failed) and the notes about them. */
struct metrics_inputs {
    json_t *monitor_requests;  /* metrics_parse_monitor_requests */
    json_t *monitor_durations; /* metrics_parse_monitor_durations */
    json_t *reports;           /* metrics_parse_reports */
    json_t *reports_series;    /* metrics_parse_reports_series (group_by time, classic tiers) */
    json_t *la_subscriptions;  /* metrics_parse_la of the per-subscription query */
    json_t *la_backends;       /* metrics_parse_la of the per-backend query */
    json_t *tokens;            /* token rows: the Log Analytics tokens query or metrics_parse_token_metrics */
    const char *tokens_source; /* which of the two */
    json_t *unavailable;       /* array of {source, reason, fix} */
    json_t *notes;             /* array of strings (clamping, fallbacks) */
};

/* The get_metrics result (without api_id/since/until, which the caller adds): totals,
 * by_subscription (unless group_by is none), by_backend, series (group_by time), sources. */
json_t *metrics_merge(const struct metrics_inputs *in, int group_by);

/* The compact text report of a result (metrics_merge's plus api_id/since/until): a header line,
 * a table of at most METRICS_MAX_ROWS subscriptions (most throttled, then biggest first) with
 * "and N more", the series or backends when present, and the sources line. */
char *metrics_text(json_t *result);

/* ---- the network part ------------------------------------------------------------------- */

/* The KQL queries sent to Log Analytics ("%s" = the API id). */
extern const char *const metrics_kql_subscriptions, *const metrics_kql_backends, *const metrics_kql_tokens;

/* Discovers the sources (service SKU, diagnostic settings, loggers, the API's policy), queries the useful
 * ones concurrently, and merges. *result is the full get_metrics result. A source failing is
 * reported in result.sources; only an unknown API or every source failing is an error. */
int metrics_collect(struct arm_client *arm, const char *api_id, const struct metrics_window *w, int group_by,
                    json_t **result, util_error *err);

/* ---- per-minute traffic per subscription (simulate_quota) -------------------------------- */

/* Where the service's gateway logs go (the diagnostic setting chosen as get_metrics chooses it). */
struct metrics_la {
    char *workspace;      /* ARM id of the workspace receiving GatewayLogs, or NULL (heap) */
    char setting[128];    /* the diagnostic setting sending them */
    json_t *item;         /* that setting as listed ({id, name, properties}), NEW reference or NULL */
    bool dedicated;       /* resource-specific tables (logAnalyticsDestinationType "Dedicated") */
    bool gateway_logs;    /* GatewayLogs go there (false: a resource-specific workspace setting without them) */
    bool llm_logs;        /* GatewayLlmLogs go there too */
};
/* Reads a DiagnosticSettings_List answer (body; NULL = none read) into la (no request): the setting
 * get_metrics reads (GatewayLogs to a workspace, resource-specific first), or, when none writes
 * resource-specific tables, a resource-specific workspace setting without GatewayLogs (shadow mode
 * can enable them there). Free with metrics_la_free. */
void metrics_la_read(json_t *settings, struct metrics_la *la);
void metrics_la_free(struct metrics_la *la);

/* What the per-minute replay lacks with this setup, as {reason, enable, wait} (NEW), or NULL when
 * Log Analytics has what it needs (tokens: GatewayLlmLogs too). */
json_t *metrics_minutes_missing(const struct metrics_la *la, bool tokens);

/* The KQL of tokens and requests per minute and subscription: "%s" = a list of quoted ids. */
extern const char *const metrics_kql_minutes;
#define METRICS_MINUTES_MAX_SUBS 20
#define METRICS_MINUTES_MAX_DAYS 7

/* One minute of one subscription: t (epoch seconds, a whole minute), its requests (429s included),
 * the requests with a token row, and their tokens. */
struct metrics_minute {
    int64_t t, requests, token_requests, tokens;
};
struct metrics_team {
    char sub[257];
    struct metrics_minute *m; /* heap, n entries, in no particular order */
    size_t n;
};
void metrics_teams_free(struct metrics_team *teams, size_t n);

/* The minutes of the subscriptions ids[0..n) over [since, until), in ONE resource-centric Logs query
 * ("Querying logs for Azure resources": POST {endpoint}/v1/{resource_id}/query reads every workspace
 * the resource's diagnostic settings send to, so no workspace need be looked up first). The request
 * (method, path, api, body) is built into *req for the caller to send, alone or in a batch with
 * other reads; free it with metrics_minutes_request_free. ids must hold no quote or backslash. */
int metrics_minutes_request(const char *resource_id, const char *const *ids, size_t n, int64_t since, int64_t until,
                            struct arm_request *req, util_error *err);
void metrics_minutes_request_free(struct arm_request *req);
/* The teams of the answer to that request (rc and e: its outcome as arm_call gives it): *teams (heap,
 * *nteams entries; subscriptions without rows are absent). 0 or an error. */
int metrics_minutes_take(const struct arm_result *res, int rc, const util_error *e, struct metrics_team **teams,
                         size_t *nteams, util_error *err);
/* Both in one call (arm_call). */
int metrics_minutes_query(struct arm_client *arm, const char *resource_id, const char *const *ids, size_t n,
                          int64_t since, int64_t until, struct metrics_team **teams, size_t *nteams, util_error *err);
/* The teams of an already received answer (pure; NULL when the shape is off). */
struct metrics_team *metrics_parse_minutes(json_t *body, size_t *nteams);
/* Replays one subscription's minutes against a tokens-per-minute limit tpm and a requests-per-minute
 * limit rpm (0 = none), each counted per minute as llm-token-limit and rate-limit-by-key count
 * (docs/quotas.md "What-if"): a minute's requests are admitted up to the limit, the rest refused; a
 * minute's token demand is its requests times its mean tokens per logged request. {minutes_observed,
 * minutes_over, requests, requests_refused, tokens_refused, share_refused, peak_tpm, p95_tpm,
 * p50_tpm, worst_minutes: [{at, tokens}] (at most worst), token_requests} (NEW). Pure. */
json_t *metrics_replay(const struct metrics_minute *m, size_t n, int64_t tpm, int64_t rpm, size_t worst);

/* ---- per-backend traffic per minute (rehearse_failover) ---------------------------------- */

/* The KQL of requests and errors per backend and minute of one API ("%s" = the API id). */
extern const char *const metrics_kql_drill;
/* A Log Analytics answer of metrics_kql_drill → [{backend_id, url, t (epoch s, a whole minute), requests,
 * failed (gateway 5xx), throttled (gateway 429), backend_failed, backend_throttled}] (NEW), or NULL
 * when the shape is off. Pure. */
json_t *metrics_parse_drill(json_t *body);
/* The rows of api_id over [since, until) in one resource-centric Logs query of the service resource_id
 * (as metrics_minutes_request: no workspace to look up). *rows NEW. */
int metrics_drill_query(struct arm_client *arm, const char *resource_id, const char *api_id, int64_t since,
                        int64_t until, json_t **rows, util_error *err);
/* The rows with t in [since, until) summed per member of members ([{backend_id, url}], matched by
 * BackendId, else by url without query): {requests, requests_to_backends, requests_without_backend
 * (cache hits, gateway 429), requests_other_backends, errors_5xx, errors_429 (every 429 the gateway
 * answered, its own token limits' included), errors_429_from_backends, minutes_with_data,
 * last_minute?, by_backend: {id: {requests, share (of requests_to_backends, null when none),
 * errors_5xx, errors_429}}} (NEW). Pure. */
json_t *metrics_drill_window(json_t *rows, json_t *members, int64_t since, int64_t until);

#endif
