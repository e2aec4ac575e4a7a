/*
 * sim.h: private interface of apim-sim, the local stand-in for Entra ID and the APIM management
 * plane. The library apimsim holds everything but main.c:
 *   server.c    libmicrohttpd wiring, request/response plumbing, faults, counters, request log
 *   state.c     the shared state (resources with ETags, clients, tokens, faults) and its lock
 *   scenario.c  seeding the state from a scenario JSON file (format: docs/apim-sim.md)
 *   jwt.c       base64url, JWT parsing, issuing HS256 access tokens, verifying RS256/PS256 assertions
 *   entra.c     POST /{tenant}/oauth2/v2.0/token and the managed-identity endpoints
 *   arm.c       the ARM router: api-version, bearer and role checks, dispatch to resources
 *   resources.c generic GET/PUT/PATCH/DELETE/list of APIM resources, paging and $filter
 *   validate.c  policy XML and backend validation (pure)
 *   filter.c    the OData $filter subset of list operations (pure)
 *   control.c   the loopback-only /_sim/ control endpoint
 *   accounts.c  Microsoft.CognitiveServices accounts and deployments (the models behind backends)
 *
 * Ownership: sim_response owns its body and headers (json_decref'd by sim_response_clear).
 * sim_request fields are borrowed for the duration of one request. Functions returning json_t *
 * return NEW references unless the comment says "borrowed". sim_state is owned by the server;
 * every access to its json members happens with state->lock held (sim_state_lock/unlock).
 */
#ifndef AIGW_SIM_H
#define AIGW_SIM_H

#include <jansson.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "util.h"

#define SIM_BODY_MAX (4u * 1024u * 1024u) /* request bodies beyond this get 413 */
#define SIM_LOG_MAX 20000                 /* request log entries kept (oldest dropped) */

typedef struct sim_options {
    const char *scenario;  /* "demo" or a path to a JSON file */
    const char *host;      /* must be a loopback address */
    int port;              /* 0 = any free port */
    const char *tls_cert;  /* PEM paths, both or neither */
    const char *tls_key;
    int token_lifetime;    /* seconds, default 3599 */
    int page_size;         /* list page size, default 100 */
    int latency_ms;        /* added to every request */
} sim_options;

/* One parsed HTTP request (all borrowed). */
typedef struct sim_request {
    const char *method;
    const char *path;     /* percent-decoded path without query */
    json_t *query;        /* object name -> string (borrowed) */
    json_t *headers;      /* object lowercase name -> string (borrowed) */
    const char *body;     /* NUL-terminated, may be "" */
    size_t body_len;
    const char *base_url; /* "http://127.0.0.1:PORT" for nextLink and token audiences */
} sim_request;

typedef struct sim_response {
    int status;
    json_t *body;     /* owned; NULL = empty body */
    json_t *headers;  /* owned object name -> string */
    bool drop;        /* close the connection without answering */
    char *raw;        /* owned; when set, sent as the body instead of body (injected faults) */
} sim_response;

void sim_response_init(sim_response *r);
void sim_response_clear(sim_response *r);
/* Sets status and body (steals body). */
void sim_response_json(sim_response *r, int status, json_t *body);
void sim_response_header(sim_response *r, const char *name, const char *value);
/* The ARM error envelope {"error":{"code","message"[,"details"]}}; details is stolen (may be NULL). */
void sim_response_arm_error(sim_response *r, int status, const char *code, json_t *details,
                            const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* ---- state ---------------------------------------------------------------------------- */

typedef struct sim_state {
    pthread_mutex_t lock;
    sim_options opt;
    json_t *scenario;    /* the loaded scenario document (read-only after load) */
    json_t *resources;   /* lowercase resource id -> {"etag": "\"...\"", "resource": {...}} */
    json_t *clients;     /* client id -> {tenant_id, secret?, certificate_pem?, role, object_id} */
    json_t *tenants;     /* tenant id -> true */
    json_t *jtis;        /* client assertion jti -> exp (replay protection) */
    json_t *faults;      /* {"latency_ms": n, "rules": [...]} */
    json_t *routes;      /* route key -> count */
    json_t *log;         /* array of request records */
    json_t *managed_identity; /* {identity_header, object_id, client_id} */
    json_t *traffic_history;  /* traffic model: [{"t": epoch sec, "subs": snapshot, "refused": shares}] (traffic.h) */
    char service_id[512];     /* /subscriptions/.../service/NAME (original case) */
    int64_t token_requests;
    int64_t arm_requests;
    int64_t arm_reads;
    int64_t arm_writes;
    uint64_t etag_seq;
    int64_t token_serial;     /* serial of the last issued access token */
    int64_t expired_upto;     /* tokens with serial <= this are expired */
    unsigned char sign_key[32];
    /* virtual clock (clock.c), guarded by clock_lock (any thread, without the state lock): while
     * running, now = clock_base_virtual_ms + (wall - clock_base_wall_ms) x clock_rate */
    pthread_mutex_t clock_lock;
    int64_t clock_base_virtual_ms, clock_base_wall_ms;
    double clock_rate;  /* virtual seconds per wall second (0 < rate <= 3600, default 1) */
    bool clock_frozen;  /* frozen: now = clock_base_virtual_ms */
    /* ingestion delays (POST /_sim/ingestion): rows and metric points later than now - delay are
     * not returned yet; traffic_cut_s is the delay of the route being answered (lock held) */
    int logs_delay_s, metrics_delay_s;
    double traffic_cut_s;
    /* backend faults (POST /_sim/faults with backend_id, scenario "faults": [...]):
     * [{id, backend_id, kind, from, until}] (epoch seconds), and the circuit-breaker timeline the
     * traffic model derives from them (traffic_route.c), rebuilt when traffic_version changes */
    json_t *backend_faults;
    int64_t fault_seq;
    uint64_t traffic_version, traffic_open_version;
    json_t *traffic_open;
    void *traffic_open_iv;      /* the same intervals as a sorted C array (traffic_route.c) */
    size_t traffic_open_n;
    double traffic_open_maxlen; /* the longest of them (s) */
    void *traffic_cache;        /* cumulative counts at checkpoints (traffic_model.c), owned */
} sim_state;

int sim_state_init(sim_state *st, const sim_options *opt, util_error *err);
void sim_state_free(sim_state *st);
void sim_state_lock(sim_state *st);
void sim_state_unlock(sim_state *st);
/* A fresh quoted ETag like "\"AAAAAAAAB9E=\"" (lock held). Returns a new string. */
char *sim_state_next_etag(sim_state *st);
/* Stores resource (stolen) under id with a fresh ETag; returns the entry (borrowed). Lock held. */
json_t *sim_state_put(sim_state *st, const char *id, json_t *resource);
/* Looks up the entry {"etag","resource"} by id, case-insensitively (borrowed, or NULL). */
json_t *sim_state_get(sim_state *st, const char *id);
int sim_state_delete(sim_state *st, const char *id);
/* True when id names a stored backend; st is the sim_state (for sim_validate_backend). Lock held. */
bool sim_state_is_backend(const char *id, void *st);
/* Lowercase copy of an id (new string). */
char *sim_lower(const char *s);
/* True when s equals one of the strings of the NULL-terminated list (s may be NULL). */
bool sim_in_list(const char *s, const char *const *list);

/* ---- virtual clock (clock.c) --------------------------------------------------------- */

/* The simulator's time: the wall clock by default, moved by POST /_sim/clock. Any thread. */
int64_t sim_now_ms(const sim_state *st);
int64_t sim_now_s(const sim_state *st);
/* Applies {"advance_s", "set", "freeze", "rate"} (borrowed), as POST /_sim/clock and a scenario's "clock" do. */
int sim_clock_apply(sim_state *st, json_t *body, util_error *err);
/* GET|POST /_sim/clock (lock held). */
void sim_clock_control(sim_state *st, const sim_request *req, sim_response *resp);
/* t (ms since the epoch) as an RFC 7231 IMF-fixdate, "Mon, 30 Nov 2026 08:00:00 GMT" (n >= 30). */
void sim_http_date(int64_t t_ms, char *out, size_t n);

/* ---- scenario ------------------------------------------------------------------------- */

/* Resolves "demo" to the bundled file, otherwise returns a copy of the path (new string). */
char *sim_scenario_path(const char *name);
/* Seeds st from the scenario document (borrowed). Lock not needed (called before serving). */
int sim_scenario_apply(sim_state *st, json_t *doc, util_error *err);
int sim_scenario_load(sim_state *st, const char *name, util_error *err);

/* ---- JWT ------------------------------------------------------------------------------ */

/* Decodes base64url (padding optional) into a new buffer; NULL on bad input. */
unsigned char *sim_b64url_decode(const char *s, size_t n, size_t *out_len);

typedef struct sim_jwt {
    json_t *header;    /* owned */
    json_t *payload;   /* owned */
    char *signing_input; /* "header.payload" */
    unsigned char *sig;
    size_t sig_len;
} sim_jwt;

int sim_jwt_parse(const char *token, sim_jwt *out, util_error *err);
void sim_jwt_free(sim_jwt *jwt);
/* HS256 token over payload (borrowed) with key; returns a new string. */
char *sim_jwt_sign_hs256(json_t *payload, const unsigned char *key, size_t key_len);
/* Checks an HS256 token's signature and returns its payload (new reference) or NULL. */
json_t *sim_jwt_verify_hs256(const char *token, const unsigned char *key, size_t key_len);
/* Verifies an RS256/PS256 client assertion against a PEM certificate: x5t#S256 or x5t header
 * must match the certificate thumbprint, and the signature must verify. */
int sim_jwt_verify_cert(const sim_jwt *jwt, const char *cert_pem, util_error *err);
/* Checks the assertion claims: aud ends with "/{tenant}/oauth2/v2.0/token", iss == sub ==
 * client_id, nbf <= now + 300, exp > now, jti present. */
int sim_jwt_check_assertion_claims(const sim_jwt *jwt, const char *tenant, const char *client_id,
                                   int64_t now, util_error *err);

/* ---- validation (pure) ---------------------------------------------------------------- */

/* Validates a policy document as APIM would for the given format ("xml" or "rawxml"): well-formed
 * (rawxml tolerates raw quotes, '<' and '&' inside @(...) / @{...} attribute expressions), root
 * <policies>. On failure fills err with a line/column sentence and returns UTIL_EINVAL. */
int sim_validate_policy(const char *xml, const char *format, util_error *err);
/* Returns rawxml text with @(...) attribute expressions escaped so libxml2 accepts it (new). */
char *sim_policy_escape_expressions(const char *xml);
/* Validates a backend's properties (borrowed). exists(id, user) tells whether a pool member's
 * backend id exists. Fills details (array, borrowed) with {code,target,message} entries. */
int sim_validate_backend(json_t *props, bool (*exists)(const char *id, void *user), void *user,
                         json_t *details);

/* ---- handlers ------------------------------------------------------------------------- */

/* Each returns true when it handled the request (filled resp). */
bool sim_entra_handle(sim_state *st, const sim_request *req, sim_response *resp);
bool sim_control_handle(sim_state *st, const sim_request *req, sim_response *resp);
/* Sets faults from {"latency_ms", "rules", "expire_tokens"} (borrowed), as POST /_sim/faults does
 * and as a scenario's "faults" member does at start-up. Lock held (or not serving yet). */
int sim_control_set_faults(sim_state *st, json_t *body, util_error *err);
bool sim_arm_handle(sim_state *st, const sim_request *req, sim_response *resp);
/* Backend faults (traffic_route.c): validates one {"backend_id", "kind": "5xx"|"429"|"timeout",
 * "from"?, "until" | "minutes"} (borrowed) and adds it; returns its id (>0) or 0 with err filled.
 * sim_traffic_faults_set replaces them all with an array (a scenario's "faults"). Lock held. */
int64_t sim_traffic_fault_add(sim_state *st, json_t *fault, util_error *err);
int sim_traffic_faults_set(sim_state *st, json_t *faults, util_error *err);
void sim_traffic_faults_clear(sim_state *st);
/* Frees the traffic model's caches (state.c, at the end). */
void sim_traffic_free_caches(sim_state *st);
/* POST /v1/workspaces/{customerId}/query, the Logs query API (src/sim/traffic_logs.c); takes the lock. */
bool sim_traffic_logs_handle(sim_state *st, const sim_request *req, sim_response *resp);

/* accounts.c: true for a .../providers/Microsoft.CognitiveServices/accounts path; its route
 * (Accounts_List, Deployments_List) for the principal appid/oid. Lock held. */
bool sim_accounts_is_path(const char *path);
void sim_accounts_route(sim_state *st, const sim_request *req, const char *appid, const char *oid,
                        sim_response *resp);
/* Tokens per minute the deployment (NULL = the first with a TPM SKU) of the account whose endpoint
 * has backend_url's host can serve: capacity x 1000 for Standard, GlobalStandard and
 * DataZoneStandard SKUs; 0 when unknown (no limit). Lock held. */
double sim_accounts_capacity_tpm(sim_state *st, const char *backend_url, const char *deployment);

/* Resource operations under the APIM service, called by the ARM router with the lock held.
 * rel is the path relative to the service id ("" for the service itself, "apis/x", ...). */
void sim_resources_handle(sim_state *st, const sim_request *req, const char *rel,
                          sim_response *resp);

/* Applies a $filter expression to one resource (borrowed). Returns 1 match, 0 no match,
 * -1 unsupported filter (err filled). */
int sim_filter_match(const char *filter, json_t *resource, util_error *err);

/* The route key for counters: method + path with variable segments replaced by "{}" (new). */
char *sim_route_key(const char *method, const char *path);

/* ---- server --------------------------------------------------------------------------- */

typedef struct sim_server sim_server;

sim_server *sim_server_start(const sim_options *opt, util_error *err);
int sim_server_port(const sim_server *srv);
void sim_server_stop(sim_server *srv);

#endif
