/* state.c: apim-sim's shared state — the resource store with ETags, registered clients and
 * tenants, faults, counters and the request log — and the lock that guards it. */
#include "sim.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

int sim_state_init(sim_state *st, const sim_options *opt, util_error *err)
{
    memset(st, 0, sizeof(*st));
    if (pthread_mutex_init(&st->lock, NULL) != 0)
        return util_error_set(err, UTIL_EINTERNAL, "cannot create the state lock");
    st->opt = *opt;
    st->resources = json_object();
    st->clients = json_object();
    st->tenants = json_object();
    st->jtis = json_object();
    st->faults = json_pack("{s:i,s:[]}", "latency_ms", 0, "rules");
    st->routes = json_object();
    st->log = json_array();
    st->managed_identity = json_object();
    st->backend_faults = json_array();
    if (pthread_mutex_init(&st->clock_lock, NULL) != 0)
        return util_error_set(err, UTIL_EINTERNAL, "cannot create the clock lock");
    st->clock_rate = 1.0;
    st->clock_base_virtual_ms = st->clock_base_wall_ms = util_now_ms();
    st->etag_seq = (uint64_t)util_now_ms() * 16u;
    char hex[65];
    if (util_random_hex(hex, sizeof(st->sign_key)) != 0)
        return util_error_set(err, UTIL_EINTERNAL, "cannot get random bytes from the system for the token signing key");
    memcpy(st->sign_key, hex, sizeof(st->sign_key));
    return 0;
}

void sim_state_free(sim_state *st)
{
    json_decref(st->scenario);
    json_decref(st->resources);
    json_decref(st->clients);
    json_decref(st->tenants);
    json_decref(st->jtis);
    json_decref(st->faults);
    json_decref(st->routes);
    json_decref(st->log);
    json_decref(st->managed_identity);
    json_decref(st->traffic_history);
    json_decref(st->backend_faults);
    json_decref(st->traffic_open);
    sim_traffic_free_caches(st);
    pthread_mutex_destroy(&st->clock_lock);
    pthread_mutex_destroy(&st->lock);
}

void sim_state_lock(sim_state *st) { pthread_mutex_lock(&st->lock); }
void sim_state_unlock(sim_state *st) { pthread_mutex_unlock(&st->lock); }

bool sim_in_list(const char *s, const char *const *list)
{
    for (; s && *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

char *sim_lower(const char *s)
{
    char *out = util_strdup(s);
    for (char *p = out; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return out;
}

char *sim_state_next_etag(sim_state *st)
{
    unsigned char raw[8];
    uint64_t v = ++st->etag_seq;
    for (int i = 7; i >= 0; i--, v >>= 8)
        raw[i] = (unsigned char)(v & 0xff);
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char b64[16];
    int o = 0;
    for (int i = 0; i < 8; i += 3) {
        uint32_t n = (uint32_t)raw[i] << 16;
        if (i + 1 < 8) n |= (uint32_t)raw[i + 1] << 8;
        if (i + 2 < 8) n |= raw[i + 2];
        b64[o++] = tbl[(n >> 18) & 63];
        b64[o++] = tbl[(n >> 12) & 63];
        b64[o++] = i + 1 < 8 ? tbl[(n >> 6) & 63] : '=';
        b64[o++] = i + 2 < 8 ? tbl[n & 63] : '=';
    }
    b64[o] = '\0';
    return util_printf("\"%s\"", b64);
}

json_t *sim_state_put(sim_state *st, const char *id, json_t *resource)
{
    char *key = sim_lower(id);
    char *etag = sim_state_next_etag(st);
    json_t *entry = json_pack("{s:s,s:o}", "etag", etag, "resource", resource);
    json_object_set_new(st->resources, key, entry);
    free(etag);
    free(key);
    return entry;
}

json_t *sim_state_get(sim_state *st, const char *id)
{
    char *key = sim_lower(id);
    json_t *entry = json_object_get(st->resources, key);
    free(key);
    return entry;
}

int sim_state_delete(sim_state *st, const char *id)
{
    char *key = sim_lower(id);
    int rc = json_object_del(st->resources, key);
    free(key);
    return rc == 0 ? 0 : UTIL_ENOTFOUND;
}

bool sim_state_is_backend(const char *id, void *st)
{
    json_t *entry = sim_state_get(st, id);
    const char *type = json_string_value(json_object_get(json_object_get(entry, "resource"), "type"));
    return type && strcmp(type, "Microsoft.ApiManagement/service/backends") == 0;
}
