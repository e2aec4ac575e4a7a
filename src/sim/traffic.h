/*
 * traffic.h: private interface of apim-sim's traffic module (src/sim/traffic*.c) — the
 * deterministic traffic model and the routes that report it:
 *   traffic_config.c  reads the CURRENT state (product/API/global policies, backends, pools) into one
 *                     configuration snapshot per subscription (libxml2, demo-like layouts only)
 *   traffic_model.c   the history of snapshots (one per configuration change) and the counters of a
 *                     time window, computed as differences of cumulative integer counts so adjacent
 *                     windows add up exactly
 *   traffic.c         reports API, Azure Monitor metrics, diagnostic settings and GET /_sim/traffic
 *   traffic_logs.c    the Log Analytics workspace (ARM), the retired ARM query route and the Logs
 *                     query API v1 (POST /v1/workspaces/{customerId}/query)
 *   traffic_insights.c  the service's Application Insights logger and the token metrics an
 *                     emit-token-metric policy sends there
 *   traffic_route.c   routing through a backend pool (priority, weight, circuit breakers, the API's
 *                     <retry>), the backend faults of /_sim/faults and the circuit-breaker timeline
 *                     they cause
 * The model is documented in docs/apim-sim.md ("Traffic").
 *
 * Ownership: every function is called with the state lock held. Functions returning json_t *
 * return NEW references. sim_traffic_stats is a plain value.
 */
#ifndef AIGW_SIM_TRAFFIC_H
#define AIGW_SIM_TRAFFIC_H

#include "sim.h"

#define SIM_TRAFFIC_MAX_BACKENDS 8
#define SIM_TRAFFIC_MAX_POINTS 1500 /* data points or rows one traffic answer may hold */

/* Tokens per request split as the model does (prompt, completion). */
void sim_traffic_tokens_per_request(sim_state *st, int64_t *prompt, int64_t *completion);

/* Counters of one subscription (or a sum) over a window. */
typedef struct sim_traffic_stats {
    int64_t requests, allowed, throttled, hits; /* allowed: answered 200; throttled: every 429 */
    int64_t backend_throttled; /* of the throttled, those the backend answered 429 (over its deployment's capacity) */
    int64_t misses;       /* requests past the gateway not served from the cache: the backend calls */
    int64_t cache_misses; /* of those, the ones a cache lookup missed (0 without a lookup) */
    int64_t prompt_tokens, completion_tokens;
    int64_t metric_calls; /* backend calls while a token-metric policy ran (their tokens are emitted) */
    int64_t total_ms, backend_ms;
    int nbackends;
    char backend[SIM_TRAFFIC_MAX_BACKENDS][128];
    int64_t backend_calls[SIM_TRAFFIC_MAX_BACKENDS];
    int64_t backend_refused[SIM_TRAFFIC_MAX_BACKENDS]; /* of those calls, the ones answered 429 */
    /* failures (backend faults, traffic_route.c), all counted in `misses` / backend_calls but for
     * `unavailable`: */
    int64_t failed;       /* answered 5xx: backend 5xx + timeouts + unavailable */
    int64_t backend_failed; /* of those, the backend's own 5xx (BackendResponseCode 5xx) */
    int64_t timeouts;     /* of those, backend timeouts (gateway 504, no backend response) */
    int64_t unavailable;  /* of those, 503 from the gateway: every pool member's breaker open (no backend call) */
    int64_t backend_failed_calls[SIM_TRAFFIC_MAX_BACKENDS]; /* per backend: final attempt answered 5xx */
    int64_t backend_fault_throttled[SIM_TRAFFIC_MAX_BACKENDS]; /* per backend: final attempt 429 by a fault */
    int64_t backend_timeouts[SIM_TRAFFIC_MAX_BACKENDS];
} sim_traffic_stats;

/* ---- routing (traffic_route.c) ---------------------------------------------------------- */

/* The fate of one request that passed the gateway's limits and the cache, at one instant: the
 * shares (summing to 1) that end on each backend as ok / 5xx / 429 / timeout, or that find no
 * member with a closed breaker (`unavailable`); attempts per backend (retries included) and the
 * failed ones, for the circuit breakers. */
typedef struct sim_route {
    int n;
    char name[SIM_TRAFFIC_MAX_BACKENDS][128];
    double ok[SIM_TRAFFIC_MAX_BACKENDS], fail[SIM_TRAFFIC_MAX_BACKENDS], thr[SIM_TRAFFIC_MAX_BACKENDS],
        tmo[SIM_TRAFFIC_MAX_BACKENDS];
    double attempts[SIM_TRAFFIC_MAX_BACKENDS], failed_attempts[SIM_TRAFFIC_MAX_BACKENDS];
    int fault[SIM_TRAFFIC_MAX_BACKENDS]; /* SIM_FAULT_* of the backend at that instant */
    double unavailable;
    double wait_ms; /* the retries' waits and failed attempts' time, per request */
    bool disturbed; /* a member had a fault or an open breaker */
} sim_route;

enum { SIM_FAULT_NONE = 0, SIM_FAULT_5XX, SIM_FAULT_429, SIM_FAULT_TIMEOUT };
#define SIM_FAULT_5XX_STATUS 503  /* what a "5xx" fault answers */
#define SIM_TIMEOUT_STATUS 504    /* the gateway's answer to a backend that timed out */
#define SIM_FORWARD_TIMEOUT_MS 300000 /* forward-request's default timeout (300 s) */

/* Routes a request of the snapshot entry cfg at time t (epoch s; t < 0: no faults); is_open(ctx, name)
 * tells whether a member's breaker is open (NULL: the circuit-breaker timeline). */
typedef bool (*sim_route_open_fn)(void *ctx, const char *backend);
void sim_traffic_route(sim_state *st, json_t *cfg, double t, sim_route_open_fn is_open, void *ctx, sim_route *out);
/* The fault kind of backend at t. */
int sim_traffic_fault_at(sim_state *st, const char *backend, double t);
/* Sorted distinct instants in (a, b) where routing may change (fault edges, breaker trips and
 * resets): a new array (free it) of *count values. */
double *sim_traffic_route_breaks(sim_state *st, double a, double b, int *count);
/* The backend's url (borrowed, "" when unknown). */
const char *sim_traffic_backend_url(sim_state *st, const char *backend);
/* traffic_model.c: the snapshot entry of sub in force at t (borrowed, NULL when none) and the rate of
 * its requests reaching the backend stage at t (per minute). */
json_t *sim_traffic_cfg_at(sim_state *st, const char *sub, double t);
double sim_traffic_miss_rate(sim_state *st, const char *sub, json_t *cfg, double t);
/* The (virtual) instant up to which data is reported: now - the ingestion delay of the route being
 * answered (st->traffic_cut_s). */
double sim_traffic_horizon(sim_state *st);

/* The configuration snapshot of every subscription with demand, from the current state:
 * {"sub": {"product", "api", "limit_tpm", "rpm", "cache", "hit", "backend",
 *          "metric": null | {"namespace", "sub_dim", "api_dim"}}} (new reference). */
json_t *sim_traffic_snapshot(sim_state *st);

/* Called by the ARM router around every write: before (records the initial snapshot once) and
 * after a successful one (records a new snapshot, timed now, when the configuration changed). */
void sim_traffic_before_write(sim_state *st);
void sim_traffic_after_write(sim_state *st);

/* Counters of subscription sub (NULL = every subscription) for API api (NULL = any) over
 * [from, to) epoch seconds. Adds to *out (zero it first). */
void sim_traffic_window(sim_state *st, const char *sub, const char *api, double from, double to,
                        sim_traffic_stats *out);
/* Subscriptions with demand (borrowed object sub -> tpm), the scenario's traffic object (borrowed). */
json_t *sim_traffic_demand(sim_state *st);
json_t *sim_traffic_scenario(sim_state *st);
/* The backend latency of the model (scenario traffic.backend_latency_ms, default 700 ms). */
double sim_traffic_backend_latency(sim_state *st, const char *backend);

/* The routes. rel is the path relative to the service (reports/..., providers/Microsoft.Insights/...). */
void sim_traffic_service_route(sim_state *st, const sim_request *req, const char *rel, sim_response *resp);
/* True for resources outside the service the traffic module serves: a Log Analytics workspace
 * (.../Microsoft.OperationalInsights/workspaces/{ws}/api/query) and an Application Insights
 * component (.../microsoft.insights/components/{name}/providers/Microsoft.Insights/metrics). */
bool sim_traffic_is_external_path(const char *path);
void sim_traffic_external_route(sim_state *st, const sim_request *req, sim_response *resp);
/* traffic_logs.c: GET .../workspaces/{ws} (Workspaces_Get) and the retired POST .../api/query (410). */
void sim_traffic_workspace_route(sim_state *st, const sim_request *req, sim_response *resp);
/* The scenario's workspace customerId, and its diagnostic setting's logAnalyticsDestinationType
 * ("Dedicated" by default; NULL when the scenario gives null: AzureDiagnostics). */
const char *sim_traffic_customer_id(sim_state *st);
const char *sim_traffic_destination_type(sim_state *st);
/* traffic_insights.c: GET {service}/loggers (the scenario's Application Insights logger) and the
 * component's custom token metrics emitted by llm-/azure-openai-emit-token-metric. */
void sim_traffic_loggers_route(sim_state *st, const sim_request *req, sim_response *resp);
void sim_traffic_insights_route(sim_state *st, const sim_request *req, sim_response *resp);

/* Helpers shared by the routes: api-version in ok (else a 400 in resp); "START/END" → [from, to);
 * a supported Monitor interval → seconds. */
bool sim_traffic_version_ok(const sim_request *req, const char *const *ok, sim_response *resp);
/* The one child resource a route serves: the path's ".../<segment>/<name><rest>" must name
 * `expected` (case-insensitively; `type` is its ARM type for the 404) and be `method` on `route`,
 * with an api-version in versions. Fills resp with the ARM error and returns false otherwise. */
bool sim_traffic_child_ok(const sim_request *req, const char *segment, const char *type, const char *expected,
                          const char *method, const char *route, const char *const *versions, sim_response *resp);
/* Walks a metrics $filter "<dimension> eq '<value>' [and ...]" (dimension names may hold
 * spaces), calling fn for each clause; fn returns 0, or -1 for a clause it does not support.
 * Returns 0, or -1 with the offending clause copied into bad. */
typedef int (*sim_traffic_clause_fn)(const char *dim, const char *value, void *user);
int sim_traffic_filter_each(const char *filter, sim_traffic_clause_fn fn, void *user, char *bad, size_t nbad);
int sim_traffic_timespan(const char *s, double *from, double *to);
/* Metrics `top` (default 10, as Monitor's) and `orderby` ("<aggregation> asc|desc": order 1 / -1, 0
 * when absent); false with a 400 in resp when malformed. A split's series are then sorted by their
 * sum and cut to top (sim_traffic_limit_series). */
bool sim_traffic_top(const sim_request *req, int *top, int *order, sim_response *resp);
void sim_traffic_limit_series(json_t *timeseries, int top, int order);
bool sim_traffic_interval(const char *interval, int64_t *step);
/* GET /_sim/traffic?since=ISO&until=ISO[&api_id=] */
void sim_traffic_control(sim_state *st, const sim_request *req, sim_response *resp);

#endif
