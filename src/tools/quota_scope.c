/* quota_scope: gathers the subscriptions and every policy document that runs for their requests,
 * each fetched once and concurrently, and works out each subscription's effective limits through
 * the policy layer (see quota_scope.h). Shared by list_subscriptions and update_quota. */
#include "quota_scope.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "change.h"

#define QS_NONE ((size_t)-1)

/* ---- the speculative first round ------------------------------------------------------ */

/* The reads the previous gathering of this process needed after its first round (policies and
 * products' API lists: at most QS_HINT_MAX paths). The next gathering sends them WITH its first
 * round and takes their answers wherever its own listing turns out to need them (each is a read
 * made during this call, as fresh as a later one); what was not foreseen is read in the next round
 * as before, and what is no longer needed is dropped. A repeated call (the usual flow: review,
 * simulate, dry run, apply) thus costs one round trip instead of two or three. Only which reads go
 * out early is remembered, never an answer. */
#define QS_HINT_MAX 64u
static pthread_mutex_t hint_lock = PTHREAD_MUTEX_INITIALIZER;
static char *hint_paths[QS_HINT_MAX];
static size_t hint_n;

struct prefetch {
    char *path;
    struct arm_result res;
    int rc;
    util_error err;
    bool taken;
};
struct prefetch_set {
    struct prefetch *v;
    size_t n;
};

static bool is_policy_path(const char *path)
{
    size_t n = strlen(path);
    return strcmp(path, "policies/policy") == 0 || (n > 16 && strcmp(path + n - 16, "/policies/policy") == 0);
}

/* The hints for a gathering of one product's subscriptions (product_id) or of all (NULL): another
 * product's documents are not read for it. */
static void prefetch_load(struct prefetch_set *pf, const char *product_id)
{
    char *own = product_id ? util_printf("products/%s/", product_id) : NULL;
    pthread_mutex_lock(&hint_lock);
    pf->n = 0;
    pf->v = calloc(hint_n ? hint_n : 1, sizeof *pf->v);
    if (!pf->v)
        abort();
    for (size_t i = 0; i < hint_n; i++)
        if (!own || !util_str_starts_with(hint_paths[i], "products/") || util_str_starts_with(hint_paths[i], own))
            pf->v[pf->n++].path = util_strdup(hint_paths[i]);
    pthread_mutex_unlock(&hint_lock);
    free(own);
}

/* Moves the prefetched answer of path into res/rc/e; false when it was not prefetched. */
static bool prefetch_take(struct prefetch_set *pf, const char *path, struct arm_result *res, int *rc, util_error *e)
{
    for (size_t i = 0; pf && i < pf->n; i++) {
        if (!pf->v[i].taken && strcmp(pf->v[i].path, path) == 0) {
            pf->v[i].taken = true;
            *res = pf->v[i].res;
            memset(&pf->v[i].res, 0, sizeof pf->v[i].res);
            *rc = pf->v[i].rc;
            *e = pf->v[i].err;
            return true;
        }
    }
    return false;
}

static void prefetch_free(struct prefetch_set *pf)
{
    for (size_t i = 0; i < pf->n; i++) {
        arm_result_free(&pf->v[i].res);
        free(pf->v[i].path);
    }
    free(pf->v);
    memset(pf, 0, sizeof *pf);
}

static void *grow(void *p, size_t n, size_t size)
{
    p = realloc(p, (n ? n : 1) * size);
    if (!p)
        abort();
    return p;
}

/* ---- documents ------------------------------------------------------------------------ */

/* ARM ids are case-insensitive: "api:AOAI" and "api:aoai" are one document. */
static size_t doc_find(const struct quota_scope *qs, const char *scope)
{
    for (size_t i = 0; i < qs->ndocs; i++)
        if (util_str_eq_ci(qs->docs[i].scope, scope))
            return i;
    return QS_NONE;
}

/* The document of scope kind "global", "product" or "api" (with its id), added when new. */
static size_t doc_add(struct quota_scope *qs, const char *kind, const char *id, util_error *err)
{
    char *scope = id ? util_printf("%s:%s", kind, id) : util_strdup(kind);
    size_t i = doc_find(qs, scope);
    if (i != QS_NONE) {
        free(scope);
        return i;
    }
    char *path = tools_policy_path(kind, id, id, NULL, err);
    if (!path) {
        free(scope);
        return QS_NONE;
    }
    qs->docs = grow(qs->docs, qs->ndocs + 1, sizeof *qs->docs);
    qs->docs[qs->ndocs] = (struct quota_doc){
        .scope = scope,
        .path = path,
        .label = id ? util_printf("policy of %s %s", kind, id) : util_strdup("global policy"),
    };
    return qs->ndocs++;
}

/* ---- subscriptions -------------------------------------------------------------------- */

static int take_apis(struct arm_client *arm, const char *product, json_t *body, json_t *apis, util_error *err);

/* The pages after the first at once: Subscription_List and Product_ListSubscriptions take $top
 * and $skip, and their collection's `count` is the "total record count number across all pages"
 * (apimsubscriptions.json, apimproducts.json, 2024-05-01), so once page one says how many there
 * are, the others need not wait for each nextLink in turn. Without a count: nextLink, one by one. */
static int list_rest(struct arm_client *arm, const char *path, const char *filter, json_t *first, json_t *all,
                     util_error *err)
{
    json_t *value = json_object_get(first, "value");
    const char *link = json_string_value(json_object_get(first, "nextLink"));
    json_t *count = json_object_get(first, "count");
    size_t have = json_array_size(value), total = json_is_integer(count) ? (size_t)json_integer_value(count) : 0;
    json_array_extend(all, value);
    if (!link || !*link)
        return 0;
    if (have == 0 || total <= have) {
        json_t *more = NULL;
        int rc = arm_list(arm, link, ARM_API_APIM, NULL, QUOTA_SCOPE_MAX_SUBS - have, &more, err);
        if (!rc)
            json_array_extend(all, more);
        json_decref(more);
        return rc;
    }
    if (total > QUOTA_SCOPE_MAX_SUBS)
        return util_error_set(err, UTIL_ELIMIT, "the service has %zu subscriptions, more than the %u this tool reads; "
                              "narrow the request with product_id or state", total, QUOTA_SCOPE_MAX_SUBS);
    size_t n = (total - have + have - 1) / have;
    struct arm_request *reqs = calloc(n, sizeof *reqs);
    struct arm_result *res = calloc(n, sizeof *res);
    int *rcs = calloc(n, sizeof *rcs);
    util_error *errs = calloc(n, sizeof *errs);
    char **queries = calloc(n, sizeof *queries);
    if (!reqs || !res || !rcs || !errs || !queries)
        abort();
    for (size_t i = 0; i < n; i++) {
        queries[i] = util_printf("%s%s%%24top=%zu&%%24skip=%zu", filter ? filter : "", filter ? "&" : "", have,
                                 have * (i + 1));
        reqs[i] = (struct arm_request){.method = "GET", .path = path, .api = ARM_API_APIM, .query = queries[i]};
    }
    arm_batch(arm, n, reqs, res, rcs, errs);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (!rc && rcs[i]) {
            *err = errs[i];
            rc = rcs[i];
        }
        if (!rc)
            json_array_extend(all, json_object_get(res[i].body, "value"));
        arm_result_free(&res[i]);
        free(queries[i]);
    }
    free(reqs), free(res), free(rcs), free(errs), free(queries);
    if (rc == 0 && json_array_size(all) != total) {
        /* a page held fewer than asked, or the list changed meanwhile: read it again the slow way,
         * page after page by nextLink, rather than report a partial list */
        LOG_DEBUG("tools", "the subscription pages held %zu items, the first said %zu; listing again by nextLink",
                  json_array_size(all), total);
        json_t *again = NULL;
        json_array_clear(all);
        rc = arm_list(arm, path, ARM_API_APIM, filter, QUOTA_SCOPE_MAX_SUBS, &again, err);
        if (!rc)
            json_array_extend(all, again);
        json_decref(again);
    }
    return rc;
}

/* The first round: the subscriptions' first page and, when asked, the service's API list (into
 * apis[""]) and the caller's requests, all at once; then the other pages of the subscriptions. */
static int list_subs(struct arm_client *arm, const char *product_id, const char *state,
                     const struct quota_scope_extra *x, struct prefetch_set *pf, json_t *apis, struct quota_scope *qs,
                     util_error *err)
{
    char *path = product_id ? util_printf("products/%s/subscriptions", product_id) : util_strdup("subscriptions");
    char *query = NULL;
    if (state) {
        char *filter = util_printf("state eq '%s'", state), *enc = util_url_encode(filter);
        query = util_printf("%%24filter=%s", enc);
        free(filter);
        free(enc);
    }
    bool eager = x && x->eager_api_policies;
    size_t nx = x ? x->n : 0, n = 1 + eager + nx + pf->n;
    struct arm_request *reqs = calloc(n, sizeof *reqs);
    struct arm_result *res = calloc(n, sizeof *res);
    int *rcs = calloc(n, sizeof *rcs);
    util_error *errs = calloc(n, sizeof *errs);
    if (!reqs || !res || !rcs || !errs)
        abort();
    reqs[0] = (struct arm_request){.method = "GET", .path = path, .api = ARM_API_APIM, .query = query};
    if (eager)
        reqs[1] = (struct arm_request){.method = "GET", .path = "apis", .api = ARM_API_APIM};
    if (nx)
        memcpy(reqs + 1 + eager, x->reqs, nx * sizeof *reqs);
    for (size_t i = 0; i < pf->n; i++)
        reqs[1 + eager + nx + i] = (struct arm_request){.method = "GET", .path = pf->v[i].path, .api = ARM_API_APIM,
                                                       .query = is_policy_path(pf->v[i].path) ? "format=rawxml" : NULL};
    arm_batch(arm, n, reqs, res, rcs, errs);
    for (size_t i = 0; i < nx; i++) {
        x->res[i] = res[1 + eager + i];
        x->rcs[i] = rcs[1 + eager + i];
        x->errs[i] = errs[1 + eager + i];
    }
    for (size_t i = 0; i < pf->n; i++) {
        pf->v[i].res = res[1 + eager + nx + i];
        pf->v[i].rc = rcs[1 + eager + nx + i];
        pf->v[i].err = errs[1 + eager + nx + i];
    }
    int rc = rcs[0];
    if (rc)
        *err = errs[0];
    if (rc == UTIL_ENOTFOUND && product_id)
        util_error_set(err, rc, "product '%s' was not found in the API Management service; list_apis shows the "
                       "products of each API", product_id);
    qs->listed = json_array();
    if (!rc)
        rc = list_rest(arm, path, query, res[0].body, qs->listed, err);
    /* an API list that failed, or is longer than one page or QUOTA_SCOPE_EAGER_APIS, is left out: the
     * APIs are then listed where needed, as without eager */
    const char *more = eager ? json_string_value(json_object_get(res[1].body, "nextLink")) : NULL;
    if (!rc && eager && !rcs[1] && (!more || !*more) &&
        json_array_size(json_object_get(res[1].body, "value")) <= QUOTA_SCOPE_EAGER_APIS &&
        take_apis(arm, "", res[1].body, apis, err) != 0) {
        json_object_clear(apis);
        util_error_clear(err);
    }
    arm_result_free(&res[0]);
    if (eager)
        arm_result_free(&res[1]);
    free(reqs), free(res), free(rcs), free(errs);
    free(path);
    free(query);
    return rc;
}

/* Reads the scope ARM gives ("/subscriptions/…/service/s/products/aoai", "…/apis/x", "…/apis"). */
static void parse_scope(const char *scope, struct quota_sub *s)
{
    const char *end = scope + strlen(scope);
    while (end > scope && end[-1] == '/')
        end--;
    const char *last = end;
    while (last > scope && last[-1] != '/')
        last--;
    const char *prev_end = last > scope ? last - 1 : scope, *prev = prev_end;
    while (prev > scope && prev[-1] != '/')
        prev--;
    size_t plen = (size_t)(prev_end - prev);
    s->scope_type = "all_apis";
    if (last == end)
        return;
    if (plen == 8 && strncmp(prev, "products", 8) == 0)
        s->scope_type = "product";
    else if (plen == 4 && strncmp(prev, "apis", 4) == 0)
        s->scope_type = "api";
    else
        return;
    s->scope_id = util_strndup(last, (size_t)(end - last));
}

/* One quota_sub per listed item; the documents of their scopes (global first). */
static int parse_subs(struct quota_scope *qs, util_error *err)
{
    if (doc_add(qs, "global", NULL, err) == QS_NONE)
        return UTIL_EINTERNAL;
    qs->subs = grow(NULL, json_array_size(qs->listed), sizeof *qs->subs);
    size_t i;
    json_t *item;
    json_array_foreach(qs->listed, i, item) {
        json_t *props = json_object_get(item, "properties");
        const char *id = json_string_value(json_object_get(item, "name"));
        if (!id)
            continue;
        struct quota_sub *s = &qs->subs[qs->nsubs++];
        *s = (struct quota_sub){.id = id,
                                .display_name = json_string_value(json_object_get(props, "displayName")),
                                .state = json_string_value(json_object_get(props, "state"))};
        const char *scope = json_string_value(json_object_get(props, "scope"));
        parse_scope(scope ? scope : "", s);
        if (s->scope_id && doc_add(qs, s->scope_type, s->scope_id, err) == QS_NONE) {
            util_error_prefix(err, "subscription '%s' has a scope this tool cannot follow", id);
            return UTIL_EREMOTE;
        }
    }
    return 0;
}

/* ---- fetching ------------------------------------------------------------------------- */

static int take_policy(struct quota_doc *d, struct arm_result *res, int rc, const util_error *e, util_error *err)
{
    if (rc == UTIL_ENOTFOUND)
        return 0;
    if (rc) {
        *err = *e;
        util_error_prefix(err, "reading the %s", d->label);
        return rc;
    }
    d->body = res->body;
    d->etag = res->etag;
    res->body = NULL;
    res->etag = NULL;
    return 0;
}

/* Adds the API names of one products/{id}/apis page (and the pages after it) to apis[id]. */
static int take_apis(struct arm_client *arm, const char *product, json_t *body, json_t *apis, util_error *err)
{
    json_t *names = json_array(), *more = NULL, *item;
    json_object_set_new(apis, product, names);
    json_t *value = json_object_get(body, "value");
    if (!json_is_array(value))
        return util_error_set(err, UTIL_EREMOTE, "the API list of product %s came without a \"value\" array; it "
                              "is not taken as empty", product);
    const char *link = json_string_value(json_object_get(body, "nextLink"));
    int rc = link && *link ? arm_list(arm, link, ARM_API_APIM, NULL, 0, &more, err) : 0;
    if (more)
        json_array_extend(value, more);
    json_decref(more);
    size_t i;
    json_array_foreach(value, i, item) {
        const char *name = json_string_value(json_object_get(item, "name"));
        if (name)
            json_array_append_new(names, json_string(name));
    }
    return rc;
}

static bool has_all_apis_sub(const struct quota_scope *qs)
{
    for (size_t i = 0; i < qs->nsubs; i++)
        if (!qs->subs[i].scope_id)
            return true;
    return false;
}

/* GETs, in one concurrent batch, the policies of docs[from..] and, when apis is given, the API
 * list of every product document (into apis: product id -> [api ids]) and, when an all-APIs
 * subscription exists, the service's API list (under the key ""). */
static int fetch(struct arm_client *arm, struct quota_scope *qs, size_t from, json_t *apis, struct prefetch_set *pf,
                 util_error *err)
{
    size_t npol = qs->ndocs - from, n = npol;
    const char **prod = grow(NULL, qs->ndocs + 1, sizeof *prod);
    for (size_t i = 0; apis && i < qs->ndocs; i++)
        if (util_str_starts_with(qs->docs[i].scope, "product:"))
            prod[n++ - npol] = qs->docs[i].scope + strlen("product:");
    if (apis && has_all_apis_sub(qs) && !json_object_get(apis, ""))
        prod[n++ - npol] = "";
    struct arm_request *reqs = grow(NULL, n, sizeof *reqs);
    struct arm_result *res = calloc(n ? n : 1, sizeof *res);
    int *rcs = calloc(n ? n : 1, sizeof *rcs);
    util_error *errs = calloc(n ? n : 1, sizeof *errs);
    char **paths = calloc(n ? n : 1, sizeof *paths);
    if (!res || !rcs || !errs || !paths)
        abort();
    for (size_t i = 0; i < n; i++) {
        bool pol = i < npol;
        paths[i] = pol ? util_strdup(qs->docs[from + i].path)
                 : *prod[i - npol] ? util_printf("products/%s/apis", prod[i - npol]) : util_strdup("apis");
    }
    /* what the first round already read is taken from it; the rest goes out in one batch */
    size_t nnet = 0;
    size_t *net = calloc(n ? n : 1, sizeof *net);
    if (!net)
        abort();
    for (size_t i = 0; i < n; i++)
        if (!prefetch_take(pf, paths[i], &res[i], &rcs[i], &errs[i]))
            net[nnet++] = i;
    struct arm_result *nres = calloc(nnet ? nnet : 1, sizeof *nres);
    int *nrcs = calloc(nnet ? nnet : 1, sizeof *nrcs);
    util_error *nerrs = calloc(nnet ? nnet : 1, sizeof *nerrs);
    if (!nres || !nrcs || !nerrs)
        abort();
    for (size_t k = 0; k < nnet; k++)
        reqs[k] = (struct arm_request){.method = "GET", .path = paths[net[k]], .api = ARM_API_APIM,
                                       .query = net[k] < npol ? "format=rawxml" : NULL};
    if (nnet)
        arm_batch(arm, nnet, reqs, nres, nrcs, nerrs);
    for (size_t k = 0; k < nnet; k++) {
        res[net[k]] = nres[k];
        rcs[net[k]] = nrcs[k];
        errs[net[k]] = nerrs[k];
    }
    free(net), free(nres), free(nrcs), free(nerrs);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && i < npol)
            rc = take_policy(&qs->docs[from + i], &res[i], rcs[i], &errs[i], err);
        else if (rc == 0 && rcs[i]) {
            *err = errs[i];
            util_error_prefix(err, "listing the APIs%s%s", *prod[i - npol] ? " of product " : "", prod[i - npol]);
            rc = rcs[i];
        } else if (rc == 0)
            rc = take_apis(arm, prod[i - npol], res[i].body, apis, err);
        arm_result_free(&res[i]);
        free(paths[i]);
    }
    free(prod), free(reqs), free(res), free(rcs), free(errs), free(paths);
    return rc;
}

static int add_api_docs(struct quota_scope *qs, json_t *apis, util_error *err)
{
    const char *product;
    json_t *names, *name;
    size_t i;
    json_object_foreach(apis, product, names) {
        json_array_foreach(names, i, name) {
            if (doc_add(qs, "api", json_string_value(name), err) == QS_NONE) {
                util_error_prefix(err, "the API list%s%s holds an API this tool cannot follow", *product ? " of product " : "",
                              product);
                return UTIL_EREMOTE;
            }
        }
    }
    return 0;
}

/* ---- entries and limits --------------------------------------------------------------- */

static void entry_push(struct quota_scope *qs, const struct quota_sub *s, const size_t *chain, size_t n,
                       size_t home)
{
    qs->entries = grow(qs->entries, qs->nentries + 1, sizeof *qs->entries);
    qs->entry_api = grow(qs->entry_api, qs->nentries + 1, sizeof *qs->entry_api);
    policy_quota_sub *e = &qs->entries[qs->nentries];
    *e = (policy_quota_sub){.id = s->id, .name = s->display_name, .chain_len = n, .home = home,
                            .product_id = strcmp(s->scope_type, "product") == 0 ? s->scope_id : NULL};
    memcpy(e->chain, chain, n * sizeof *chain);
    const char *last = qs->docs[chain[n - 1]].scope;
    qs->entry_api[qs->nentries++] = util_str_starts_with(last, "api:") ? last + strlen("api:") : NULL;
}

/* One entry per API the subscription can call (chains outermost first: global, product, api). */
static void build_entries(struct quota_scope *qs, json_t *apis)
{
    for (size_t i = 0; i < qs->nsubs; i++) {
        struct quota_sub *s = &qs->subs[i];
        s->first = qs->nentries;
        char *scope = s->scope_id ? util_printf("%s:%s", s->scope_type, s->scope_id) : NULL;
        size_t own = scope ? doc_find(qs, scope) : 0;
        free(scope);
        bool product = strcmp(s->scope_type, "product") == 0;
        const char *key = product ? qs->docs[own].scope + strlen("product:") : !s->scope_id ? "" : NULL;
        json_t *names = key ? json_object_get(apis, key) : NULL;
        size_t k;
        json_t *name;
        json_array_foreach(names, k, name) {
            char *api = util_printf("api:%s", json_string_value(name));
            size_t a = doc_find(qs, api);
            if (product)
                entry_push(qs, s, (size_t[]){0, own, a}, 3, own);
            else
                entry_push(qs, s, (size_t[]){0, a}, 2, 0);
            free(api);
        }
        if (qs->nentries == s->first)
            entry_push(qs, s, (size_t[]){0, own}, own ? 2 : 1, own);
        s->count = qs->nentries - s->first;
    }
}

/* The eager first round reads the policy of every API of the service; those no entry runs (APIs of no
 * subscription's product) are dropped, so that each plan parses only the documents that matter. */
static void drop_unused_docs(struct quota_scope *qs)
{
    size_t *map = calloc(qs->ndocs ? qs->ndocs : 1, sizeof *map);
    bool *used = calloc(qs->ndocs ? qs->ndocs : 1, sizeof *used);
    if (!map || !used)
        abort();
    for (size_t e = 0; e < qs->nentries; e++) {
        used[qs->entries[e].home] = true;
        for (size_t k = 0; k < qs->entries[e].chain_len; k++)
            used[qs->entries[e].chain[k]] = true;
    }
    size_t n = 0;
    for (size_t i = 0; i < qs->ndocs; i++) {
        struct quota_doc *d = &qs->docs[i];
        if (!used[i]) {
            free(d->scope), free(d->path), free(d->label), free(d->etag);
            json_decref(d->body);
            continue;
        }
        map[i] = n;
        qs->docs[n++] = *d;
    }
    for (size_t e = 0; e < qs->nentries; e++) {
        qs->entries[e].home = map[qs->entries[e].home];
        for (size_t k = 0; k < qs->entries[e].chain_len; k++)
            qs->entries[e].chain[k] = map[qs->entries[e].chain[k]];
    }
    qs->ndocs = n;
    free(map);
    free(used);
}

static size_t pick_primary(const struct quota_scope *qs, const struct quota_sub *s)
{
    for (size_t k = s->first; k < s->first + s->count; k++)
        if (qs->entry_lim[k].has_tpm)
            return k;
    for (size_t k = s->first; k < s->first + s->count; k++)
        if (qs->entry_lim[k].has_rpm)
            return k;
    return s->first;
}

static int compute(struct quota_scope *qs, util_error *err)
{
    qs->pdocs = grow(NULL, qs->ndocs, sizeof *qs->pdocs);
    for (size_t i = 0; i < qs->ndocs; i++)
        qs->pdocs[i] = (policy_quota_doc){qs->docs[i].scope, change_policy_text(qs->docs[i].body)};
    qs->entry_lim = grow(NULL, qs->nentries, sizeof *qs->entry_lim);
    /* every document parsed once, then each entry evaluated against the parsed trees */
    int rc = policy_quota_effective_all(qs->pdocs, qs->ndocs, qs->entries, qs->nentries, qs->entry_lim, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < qs->nsubs; i++)
        qs->subs[i].primary = pick_primary(qs, &qs->subs[i]);
    return 0;
}

int quota_scope_gather(struct arm_client *arm, const char *product_id, const char *state, struct quota_scope *qs,
                       util_error *err)
{
    return quota_scope_gather_with(arm, product_id, state, NULL, qs, err);
}

/* When the first round prefetched the API list of every product document (and, with an all-APIs
 * subscription, the service's), takes them into apis and returns true; else takes nothing. */
static bool lists_prefetched(struct arm_client *arm, struct quota_scope *qs, json_t *apis, struct prefetch_set *pf,
                             int *rc, util_error *err)
{
    bool all = has_all_apis_sub(qs);
    size_t need = 0, have = 0;
    for (size_t i = 0; i < qs->ndocs; i++) {
        if (!util_str_starts_with(qs->docs[i].scope, "product:"))
            continue;
        need++;
        char *path = util_printf("products/%s/apis", qs->docs[i].scope + strlen("product:"));
        for (size_t k = 0; k < pf->n; k++)
            if (!pf->v[k].taken && !pf->v[k].rc && !strcmp(pf->v[k].path, path)) {
                have++;
                break;
            }
        free(path);
    }
    bool service = !all || json_object_get(apis, "");
    for (size_t k = 0; !service && k < pf->n; k++)
        service = !pf->v[k].taken && !pf->v[k].rc && !strcmp(pf->v[k].path, "apis");
    if (have < need || !service)
        return false;
    if (!all)
        json_object_del(apis, ""); /* the eager service list: only the products' APIs matter */
    for (size_t i = 0; i <= qs->ndocs && !*rc; i++) {
        bool product = i < qs->ndocs && util_str_starts_with(qs->docs[i].scope, "product:");
        if (i < qs->ndocs ? !product : !all || json_object_get(apis, ""))
            continue; /* past the documents: the service's list, when needed and not listed yet */
        const char *id = product ? qs->docs[i].scope + strlen("product:") : "";
        char *path = product ? util_printf("products/%s/apis", id) : util_strdup("apis");
        struct arm_result res = {0};
        int r = 0;
        util_error e = {0};
        if (prefetch_take(pf, path, &res, &r, &e))
            *rc = take_apis(arm, id, res.body, apis, err);
        arm_result_free(&res);
        free(path);
    }
    return true;
}

static bool has_path(char *const *v, size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i], path))
            return true;
    return false;
}

/* Remembers the reads qs needed after the first round (its documents and its products' API lists)
 * for the next gathering's first round, with the earlier hints this gathering did not try (another
 * product's, when it was one product's); the ones it tried and did not need are dropped. */
static void hint_store(const struct quota_scope *qs, const struct prefetch_set *pf)
{
    char *paths[QS_HINT_MAX];
    size_t n = 0;
    for (size_t i = 0; i < qs->ndocs && n < QS_HINT_MAX; i++)
        paths[n++] = util_strdup(qs->docs[i].path);
    for (size_t i = 0; i < qs->ndocs && n < QS_HINT_MAX; i++)
        if (util_str_starts_with(qs->docs[i].scope, "product:"))
            paths[n++] = util_printf("products/%s/apis", qs->docs[i].scope + strlen("product:"));
    if (has_all_apis_sub(qs) && n < QS_HINT_MAX)
        paths[n++] = util_strdup("apis");
    pthread_mutex_lock(&hint_lock);
    for (size_t i = 0; i < hint_n; i++) {
        bool tried = false;
        for (size_t k = 0; k < pf->n && !tried; k++)
            tried = !strcmp(pf->v[k].path, hint_paths[i]);
        if (!tried && n < QS_HINT_MAX && !has_path(paths, n, hint_paths[i]))
            paths[n++] = hint_paths[i];
        else
            free(hint_paths[i]);
    }
    memcpy(hint_paths, paths, n * sizeof *paths);
    hint_n = n;
    pthread_mutex_unlock(&hint_lock);
}

void quota_scope_forget(void)
{
    pthread_mutex_lock(&hint_lock);
    for (size_t i = 0; i < hint_n; i++)
        free(hint_paths[i]);
    hint_n = 0;
    pthread_mutex_unlock(&hint_lock);
}

int quota_scope_gather_with(struct arm_client *arm, const char *product_id, const char *state,
                            const struct quota_scope_extra *extra, struct quota_scope *qs, util_error *err)
{
    memset(qs, 0, sizeof *qs);
    json_t *apis = json_object();
    struct prefetch_set pf;
    prefetch_load(&pf, product_id);
    for (size_t i = 0; extra && extra->eager_api_policies && i < pf.n; i++)
        if (!strcmp(pf.v[i].path, "apis")) { /* the eager first round lists the APIs anyway */
            free(pf.v[i].path);
            pf.v[i--] = pf.v[--pf.n];
        }
    int rc = list_subs(arm, product_id, state, extra, &pf, apis, qs, err);
    if (!rc)
        rc = parse_subs(qs, err);
    if (!rc && pf.n && lists_prefetched(arm, qs, apis, &pf, &rc, err)) {
        /* every list the plan needs came with the first round: only policies may be missing */
        if (!rc)
            rc = add_api_docs(qs, apis, err);
        if (!rc)
            rc = fetch(arm, qs, 0, NULL, &pf, err);
    } else {
        /* eager: every API of the service is a document now, read in the same round as the products' */
        if (!rc && json_object_get(apis, "")) {
            json_t *service = json_pack("{s:O}", "", json_object_get(apis, ""));
            rc = add_api_docs(qs, service, err);
            json_decref(service);
        }
        if (!rc)
            rc = fetch(arm, qs, 0, apis, &pf, err);
        size_t known = qs->ndocs;
        if (!rc)
            rc = add_api_docs(qs, apis, err);
        if (!rc && qs->ndocs > known)
            rc = fetch(arm, qs, known, NULL, &pf, err);
    }
    if (!rc) {
        build_entries(qs, apis);
        drop_unused_docs(qs);
        rc = compute(qs, err);
    }
    if (!rc)
        hint_store(qs, &pf);
    prefetch_free(&pf);
    json_decref(apis);
    if (rc)
        quota_scope_free(qs);
    return rc;
}

void quota_scope_free(struct quota_scope *qs)
{
    for (size_t i = 0; i < qs->ndocs; i++) {
        struct quota_doc *d = &qs->docs[i];
        free(d->scope), free(d->path), free(d->label), free(d->etag);
        json_decref(d->body);
    }
    for (size_t i = 0; i < qs->nsubs; i++)
        free(qs->subs[i].scope_id);
    free(qs->docs), free(qs->pdocs), free(qs->subs), free(qs->entries), free(qs->entry_api), free(qs->entry_lim);
    json_decref(qs->listed);
    memset(qs, 0, sizeof *qs);
}

/* ---- lookups and rows ----------------------------------------------------------------- */

struct id_index { const char *id; size_t i; };

static int id_cmp(const void *a, const void *b)
{
    return strcmp(((const struct id_index *)a)->id, ((const struct id_index *)b)->id);
}

size_t *quota_scope_sorted(const struct quota_scope *qs, size_t *n)
{
    struct id_index *v = grow(NULL, qs->nsubs, sizeof *v);
    for (size_t i = 0; i < qs->nsubs; i++)
        v[i] = (struct id_index){qs->subs[i].id, i};
    qsort(v, qs->nsubs, sizeof *v, id_cmp);
    size_t *out = grow(NULL, qs->nsubs, sizeof *out);
    for (size_t i = 0; i < qs->nsubs; i++)
        out[i] = v[i].i;
    free(v);
    *n = qs->nsubs;
    return out;
}

size_t quota_scope_find(const struct quota_scope *qs, const char *id)
{
    for (size_t i = 0; i < qs->nsubs; i++)
        if (strcmp(qs->subs[i].id, id) == 0)
            return i;
    return QS_NONE;
}

int quota_scope_not_found(const struct quota_scope *qs, const char *id, util_error *err)
{
    size_t best = QS_NONE, best_d = 4;
    for (size_t i = 0; i < qs->nsubs; i++) {
        size_t d = util_str_eq_ci(id, qs->subs[i].id) ? 0 : util_edit_distance(id, qs->subs[i].id, 3);
        if (d < best_d && d < strlen(qs->subs[i].id)) {
            best = i;
            best_d = d;
        }
    }
    if (best != QS_NONE)
        return util_error_set(err, UTIL_ENOTFOUND, "subscription '%s' was not found; did you mean '%s'? "
                              "list_subscriptions shows every subscription id", id, qs->subs[best].id);
    return util_error_set(err, UTIL_ENOTFOUND, "subscription '%s' was not found among the %zu subscriptions of "
                          "the service; call list_subscriptions to see their ids", id, qs->nsubs);
}

static json_t *by_api(const struct quota_scope *qs, const struct quota_sub *s)
{
    bool differ = false;
    for (size_t k = s->first + 1; k < s->first + s->count; k++)
        differ |= !policy_limits_equal(&qs->entry_lim[k], &qs->entry_lim[s->first]);
    if (!differ)
        return NULL;
    json_t *arr = json_array();
    for (size_t k = s->first; k < s->first + s->count; k++) {
        json_t *o = policy_limits_json(&qs->entry_lim[k]);
        json_object_set_new(o, "api_id", json_string(qs->entry_api[k]));
        json_array_append_new(arr, o);
    }
    return arr;
}

json_t *quota_scope_row(const struct quota_scope *qs, size_t i)
{
    const struct quota_sub *s = &qs->subs[i];
    json_t *row = policy_limits_json(&qs->entry_lim[s->primary]);
    json_object_set_new(row, "id", json_string(s->id));
    json_object_set_new(row, "display_name", s->display_name ? json_string(s->display_name) : json_null());
    json_object_set_new(row, "state", json_string(s->state ? s->state : "unknown"));
    json_object_set_new(row, "scope_type", json_string(s->scope_type));
    json_object_set_new(row, "scope_id", s->scope_id ? json_string(s->scope_id) : json_null());
    json_t *apis = by_api(qs, s);
    if (apis)
        json_object_set_new(row, "by_api", apis);
    return row;
}
