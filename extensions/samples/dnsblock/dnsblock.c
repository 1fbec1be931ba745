/*
 * dnsblock: a filter extension that drops the DNS queries VMs send for
 * blocked names, and optionally answers them with NXDOMAIN so that clients
 * fail at once instead of after their resolver's timeouts.
 *
 * What is inspected: ingress frames carrying UDP to port 53 over IPv4 or
 * IPv6 (extension headers walked), with or without one or two VLAN tags,
 * whose DNS header is a standard query (QR clear, opcode QUERY).  Every
 * question is read; a query is blocked if any QNAME equals a blocked name
 * or is a subdomain of one, compared without regard to ASCII case.  TCP
 * (DNS over TCP, DoT, DoH) and GSO packets are not DNS over UDP and pass.
 *
 * Malformed queries pass, counted as "malformed": a name that runs past
 * the message, a label type other than length or pointer, a name over 255
 * bytes, more than 16 questions.  A DNS server rejects such a query too
 * (FORMERR), so letting it through resolves nothing, and dropping it would
 * make dnsblock judge traffic it does not understand.  Compression
 * pointers in a question are followed, as servers do, but only backwards
 * and each one below the last, so a name cannot loop.  A later IP
 * fragment shows no UDP header and passes; a first fragment is judged on
 * the questions it holds.
 *
 * Names come from two places: each switch's configuration
 *
 *   {"names": ["ads.example", ...], "answer": "drop" | "nxdomain"}
 *
 * and the RPC methods dnsblock.add / dnsblock.remove, whose names apply to
 * every switch dnsblock runs on and last until the daemon stops (the
 * configuration is what the daemon saves).  dnsblock.list shows both.
 *
 * "answer": "nxdomain" makes dnsblock answer a blocked query itself: a
 * copy of the query becomes the answer (addresses, ports and MACs
 * swapped, RCODE 3, checksums recomputed) and is injected toward the
 * querying port as an originated frame.  Queries in IP fragments or in
 * IPv6 packets with extension headers are dropped without an answer.
 *
 * The names the workers match are an immutable hash set per switch,
 * published with one atomic store; the set it replaces is freed through
 * the host's defer_free once no worker can read it.  Matching hashes the
 * QNAME once, from its end, testing each suffix at a label boundary.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <vswitch/extension.h>

#include "dns-parse.h"

/* Most names one set may hold: the added ones plus a switch's own. */
#define DB_MAX_NAMES 65536

#define DB_FNV_OFFSET 2166136261u
#define DB_FNV_PRIME  16777619u

/* One slot of a name set. */
struct db_slot {
    const char *name; /* normalized name, NULL: empty slot */
    uint32_t hash;    /* db_hash() of 'name' */
    uint32_t len;     /* strlen('name') */
};

/* The names one switch blocks and what to do with their queries.  Never
 * changed once published; owns its names. */
struct db_set {
    struct db_slot *slots; /* open addressing, at most half used */
    uint32_t mask;         /* slots - 1 */
    uint32_t n_names;      /* distinct names */
    bool nxdomain;         /* answer blocked queries with NXDOMAIN */
};

/* Counters of one worker on one switch; only that worker writes them. */
struct db_counters {
    alignas(64) _Atomic uint64_t queries; /* queries inspected */
    _Atomic uint64_t blocked;             /* queries dropped */
    _Atomic uint64_t answered;            /* NXDOMAIN answers injected */
    _Atomic uint64_t malformed;           /* to port 53, unreadable */
    _Atomic uint64_t answer_failed;       /* answer wanted, not sent */
};

/* A list of normalized names (main thread only). */
struct db_names {
    char **names; /* 'n' strings, each owned */
    size_t n;     /* names in use */
    size_t cap;   /* room in 'names' */
};

struct dnsblock;

/* dnsblock on one switch. */
struct db_switch {
    struct dnsblock *db;          /* the extension */
    char name[64];                /* the switch's name */
    struct vsw_ext_switch *sw;    /* the host's handle, for inject() */
    struct db_names config;       /* names of its configuration */
    bool nxdomain;                /* its configuration's "answer" */
    _Atomic(struct db_set *) set; /* what the workers match */
    struct db_counters *counters; /* one per worker */
    uint32_t n_workers;           /* entries of 'counters' */
    struct db_switch *next;       /* next switch of the extension */
};

/* The extension. */
struct dnsblock {
    struct vsw_ext_handle *h;        /* the host's handle of us */
    const struct vsw_ext_host *host; /* host services */
    struct db_names added;           /* names of dnsblock.add */
    struct db_switch *switches;      /* every switch we are started on */
};

/* FNV-1a of the 'len' bytes at 's', taken from the last byte to the
 * first, so that the hashes of all suffixes of a name come out of one
 * pass over it. */
static uint32_t
db_hash(const char *s, size_t len)
{
    uint32_t h = DB_FNV_OFFSET;

    while (len--) {
        h = (h ^ (uint8_t)s[len]) * DB_FNV_PRIME;
    }
    return h;
}

/* Frees a set.  NULL is allowed.  Also the defer_free callback. */
static void
db_set_free(void *set_)
{
    struct db_set *set = set_;

    if (set) {
        for (uint32_t i = 0; set->slots && i <= set->mask; i++) {
            free((char *)set->slots[i].name);
        }
        free(set->slots);
        free(set);
    }
}

/* True if 'set' holds the 'len' bytes at 's', whose hash is 'hash'. */
static bool
db_set_contains(const struct db_set *set, uint32_t hash, const char *s,
                uint32_t len)
{
    for (uint32_t i = hash & set->mask;; i = (i + 1) & set->mask) {
        const struct db_slot *slot = &set->slots[i];

        if (!slot->name) {
            return false;
        }
        if (slot->hash == hash && slot->len == len &&
            !memcmp(slot->name, s, len)) {
            return true;
        }
    }
}

/* Adds a copy of 'name' to 'set' unless it is there.  Returns 0 or
 * -ENOMEM. */
static int
db_set_insert(struct db_set *set, const char *name)
{
    uint32_t len = (uint32_t)strlen(name);
    uint32_t hash = db_hash(name, len);
    uint32_t i = hash & set->mask;

    if (db_set_contains(set, hash, name, len)) {
        return 0;
    }
    while (set->slots[i].name) {
        i = (i + 1) & set->mask;
    }
    set->slots[i].name = strdup(name);
    if (!set->slots[i].name) {
        return -ENOMEM;
    }
    set->slots[i].hash = hash;
    set->slots[i].len = len;
    set->n_names++;
    return 0;
}

/* Builds the set of switch 'ss': its configured names and the added
 * ones.  Returns it (owned by the caller) or NULL on allocation failure. */
static struct db_set *
db_set_build(const struct db_switch *ss, const struct db_names *config,
             bool nxdomain)
{
    const struct db_names *added = &ss->db->added;
    struct db_set *set = calloc(1, sizeof *set);
    uint32_t n_slots = 16;

    if (!set) {
        return NULL;
    }
    while (n_slots < 2 * (config->n + added->n)) {
        n_slots *= 2;
    }
    set->mask = n_slots - 1;
    set->nxdomain = nxdomain;
    set->slots = calloc(n_slots, sizeof *set->slots);
    if (!set->slots) {
        db_set_free(set);
        return NULL;
    }
    for (size_t i = 0; i < config->n + added->n; i++) {
        const char *name =
            i < config->n ? config->names[i] : added->names[i - config->n];

        if (db_set_insert(set, name)) {
            db_set_free(set);
            return NULL;
        }
    }
    return set;
}

/* True if 'name' or one of its parent domains is in 'set'.  Worker. */
static bool
db_set_match(const struct db_set *set, const struct dns_name *name)
{
    uint32_t h = DB_FNV_OFFSET;
    int label = (int)name->n_labels - 1;

    if (!set->n_names) {
        return false;
    }
    for (int i = (int)name->len - 1; i >= 0 && label >= 0; i--) {
        h = (h ^ (uint8_t)name->text[i]) * DB_FNV_PRIME;
        if (i == name->label_ofs[label]) {
            if (db_set_contains(set, h, name->text + i,
                                (uint32_t)(name->len - i))) {
                return true;
            }
            label--;
        }
    }
    return false;
}

/* Frees the names of 'list' and empties it. */
static void
db_names_clear(struct db_names *list)
{
    for (size_t i = 0; i < list->n; i++) {
        free(list->names[i]);
    }
    free(list->names);
    memset(list, 0, sizeof *list);
}

/* Index of 'name' in 'list', or -1. */
static long
db_names_find(const struct db_names *list, const char *name)
{
    for (size_t i = 0; i < list->n; i++) {
        if (!strcmp(list->names[i], name)) {
            return (long)i;
        }
    }
    return -1;
}

/* Appends a copy of 'name' to 'list' unless it is there.  Returns 0 or
 * -ENOMEM. */
static int
db_names_add(struct db_names *list, const char *name)
{
    if (db_names_find(list, name) >= 0) {
        return 0;
    }
    if (list->n == list->cap) {
        size_t cap = list->cap ? 2 * list->cap : 8;
        char **names = realloc(list->names, cap * sizeof *names);

        if (!names) {
            return -ENOMEM;
        }
        list->names = names;
        list->cap = cap;
    }
    list->names[list->n] = strdup(name);
    if (!list->names[list->n]) {
        return -ENOMEM;
    }
    list->n++;
    return 0;
}

/* Adds 'n' to counter 'c', which only the calling worker writes. */
static inline void
db_count(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* Sends the NXDOMAIN answer to query 'pkt' (found as 'q', its questions
 * ending at 'questions_end' in the frame) back to its port. */
static void
db_answer(const struct db_switch *ss, const struct vsw_ext_packet *pkt,
          const struct dns_query *q, uint32_t questions_end,
          struct db_counters *c)
{
    const struct dnsblock *db = ss->db;
    struct vsw_ext_frame *f = db->host->frame_clone(db->h, pkt);

    if (!f || f->len < questions_end) {
        db->host->frame_free(f);
        db_count(&c->answer_failed, 1);
        return;
    }
    f->len = dns_make_nxdomain(f->data, q, questions_end);
    if (db->host->inject(ss->sw, f, VSW_EXT_NO_PORT, pkt->in_port)) {
        db_count(&c->answer_failed, 1);
        return;
    }
    db_count(&c->answered, 1);
}

/* Judges one ingress packet with 'set'.  Returns its verdict. */
static uint32_t
db_judge(const struct db_switch *ss, const struct db_set *set,
         const struct vsw_ext_packet *pkt, struct db_counters *c)
{
    struct dns_query q;
    struct dns_name name;
    const uint8_t *msg;
    uint32_t msg_len, ofs = 12;
    bool blocked = false;

    if (pkt->flags & VSW_EXT_PKT_F_GSO) {
        return VSW_EXT_VERDICT_CONTINUE;
    }
    switch (dns_query_find(pkt->data, pkt->len, &q)) {
    case DNS_FRAME_OTHER:
        return VSW_EXT_VERDICT_CONTINUE;
    case DNS_FRAME_MALFORMED:
        db_count(&c->malformed, 1);
        return VSW_EXT_VERDICT_CONTINUE;
    case DNS_FRAME_QUERY:
        break;
    }
    db_count(&c->queries, 1);
    msg = pkt->data + q.dns_ofs;
    msg_len = q.dns_end - q.dns_ofs;
    for (uint32_t i = 0; i < q.n_questions; i++) {
        if (i == DNS_QUESTIONS_MAX ||
            dns_name_read(msg, msg_len, &ofs, &name) || msg_len - ofs < 4) {
            if (!blocked) {
                db_count(&c->malformed, 1);
                return VSW_EXT_VERDICT_CONTINUE;
            }
            /* Blocked already; a broken rest gets no answer. */
            db_count(&c->blocked, 1);
            return VSW_EXT_VERDICT_DROP;
        }
        ofs += 4; /* QTYPE, QCLASS */
        blocked = blocked || db_set_match(set, &name);
    }
    if (!blocked) {
        return VSW_EXT_VERDICT_CONTINUE;
    }
    db_count(&c->blocked, 1);
    if (set->nxdomain) {
        if (q.answerable && pkt->in_port != VSW_EXT_NO_PORT) {
            db_answer(ss, pkt, &q, q.dns_ofs + ofs, c);
        } else {
            db_count(&c->answer_failed, 1);
        }
    }
    return VSW_EXT_VERDICT_DROP;
}

/* Worker: drops blocked queries of an ingress batch; egress passes. */
static void
db_process(void *ext_data, void *sw_data, const struct vsw_ext_batch *batch)
{
    const struct dnsblock *db = ext_data;
    struct db_switch *ss = sw_data;
    const struct db_set *set =
        atomic_load_explicit(&ss->set, memory_order_acquire);

    if (batch->worker >= ss->n_workers) {
        /* Verdicts stay ABORTED: the host broke its contract. */
        db->host->set_error(db->h, "worker %u of %u", batch->worker,
                            ss->n_workers);
        return;
    }
    for (uint32_t i = 0; i < batch->count; i++) {
        batch->verdicts[i] = batch->direction == VSW_EXT_DIR_INGRESS
                                 ? db_judge(ss, set, batch->pkts[i],
                                            &ss->counters[batch->worker])
                                 : VSW_EXT_VERDICT_CONTINUE;
    }
}

/* Reads configuration 'config_json' into '*names' and '*nxdomain'.
 * Returns 0, or -EINVAL or -ENOMEM after set_error(). */
static int
db_parse_config(const struct dnsblock *db, const char *config_json,
                struct db_names *names, bool *nxdomain)
{
    json_error_t jerr;
    json_t *config = json_loads(config_json, 0, &jerr);
    json_t *list, *item, *value;
    const char *key, *answer;
    size_t i;
    int error = -EINVAL;

    memset(names, 0, sizeof *names);
    if (!json_is_object(config)) {
        db->host->set_error(db->h, "configuration is not a JSON object");
        goto out;
    }
    json_object_foreach(config, key, value)
    {
        if (strcmp(key, "names") && strcmp(key, "answer")) {
            db->host->set_error(db->h, "unknown key \"%s\" (names, answer)",
                                key);
            goto out;
        }
    }
    list = json_object_get(config, "names");
    if (list && !json_is_array(list)) {
        db->host->set_error(db->h, "\"names\" is not an array");
        goto out;
    }
    if (json_array_size(list) > DB_MAX_NAMES / 2) {
        db->host->set_error(db->h, "more than %d names", DB_MAX_NAMES / 2);
        goto out;
    }
    answer = json_string_value(json_object_get(config, "answer"));
    if (json_object_get(config, "answer") &&
        (!answer || (strcmp(answer, "drop") && strcmp(answer, "nxdomain")))) {
        db->host->set_error(db->h, "\"answer\" is \"drop\" or \"nxdomain\"");
        goto out;
    }
    *nxdomain = answer && !strcmp(answer, "nxdomain");
    json_array_foreach(list, i, item)
    {
        char name[DNS_NAME_TEXT_MAX];

        if (!json_is_string(item) ||
            dns_name_normalize(json_string_value(item), name)) {
            db->host->set_error(db->h, "names[%zu] is not a domain name", i);
            goto out;
        }
        if (db_names_add(names, name)) {
            db->host->set_error(db->h, "out of memory");
            error = -ENOMEM;
            goto out;
        }
    }
    error = 0;
out:
    if (error) {
        db_names_clear(names);
    }
    json_decref(config);
    return error;
}

/* Publishes a new set for 'ss' from its configuration and the added
 * names.  Returns 0 or -ENOMEM. */
static int
db_switch_rebuild(struct db_switch *ss)
{
    struct db_set *set = db_set_build(ss, &ss->config, ss->nxdomain);
    struct db_set *old;

    if (!set) {
        return -ENOMEM;
    }
    old = atomic_exchange_explicit(&ss->set, set, memory_order_acq_rel);
    if (old) {
        ss->db->host->defer_free(ss->db->h, db_set_free, old);
    }
    return 0;
}

/* Frees a switch's state.  NULL is allowed. */
static void
db_switch_free(struct db_switch *ss)
{
    if (ss) {
        db_set_free(atomic_load(&ss->set));
        db_names_clear(&ss->config);
        free(ss->counters);
        free(ss);
    }
}

/* Enabled on a switch. */
static int
db_start(void *ext_data, const struct vsw_ext_switch_info *sw,
         const char *config_json, void **sw_data)
{
    struct dnsblock *db = ext_data;
    struct db_switch *ss = calloc(1, sizeof *ss);
    uint32_t n_workers = sw->n_workers ? sw->n_workers : 1;
    int error;

    if (!ss) {
        db->host->set_error(db->h, "out of memory");
        return -ENOMEM;
    }
    ss->db = db;
    ss->sw = sw->sw;
    snprintf(ss->name, sizeof ss->name, "%s", sw->name);
    ss->n_workers = n_workers;
    ss->counters =
        aligned_alloc(alignof(struct db_counters),
                      (size_t)n_workers * sizeof(struct db_counters));
    if (!ss->counters) {
        db->host->set_error(db->h, "out of memory");
        db_switch_free(ss);
        return -ENOMEM;
    }
    memset(ss->counters, 0, (size_t)n_workers * sizeof *ss->counters);
    error = db_parse_config(db, config_json, &ss->config, &ss->nxdomain);
    if (!error) {
        error = db_switch_rebuild(ss);
        if (error) {
            db->host->set_error(db->h, "out of memory");
        }
    }
    if (error) {
        db_switch_free(ss);
        return error;
    }
    ss->next = db->switches;
    db->switches = ss;
    *sw_data = ss;
    return 0;
}

/* Disabled on a switch: no worker runs 'process' for it any more. */
static void
db_stop(void *ext_data, void *sw_data)
{
    struct dnsblock *db = ext_data;
    struct db_switch *ss = sw_data;

    for (struct db_switch **p = &db->switches; *p; p = &(*p)->next) {
        if (*p == ss) {
            *p = ss->next;
            break;
        }
    }
    db_switch_free(ss);
}

/* A new configuration; on error the old one stays. */
static int
db_configure(void *ext_data, void *sw_data, const char *config_json)
{
    struct dnsblock *db = ext_data;
    struct db_switch *ss = sw_data;
    struct db_names config, old_config = ss->config;
    bool nxdomain, old_nxdomain = ss->nxdomain;
    int error = db_parse_config(db, config_json, &config, &nxdomain);

    if (error) {
        return error;
    }
    ss->config = config;
    ss->nxdomain = nxdomain;
    if (db_switch_rebuild(ss)) {
        ss->config = old_config;
        ss->nxdomain = old_nxdomain;
        db_names_clear(&config);
        db->host->set_error(db->h, "out of memory");
        return -ENOMEM;
    }
    db_names_clear(&old_config);
    return 0;
}

/* `ext stats`: the sums of the workers' counters. */
static int
db_stats(void *ext_data, void *sw_data, struct vsw_ext_reply *reply)
{
    const struct dnsblock *db = ext_data;
    const struct db_switch *ss = sw_data;
    const struct db_set *set =
        atomic_load_explicit(&ss->set, memory_order_acquire);
    uint64_t sum[5] = {0};
    char json[320];

    for (uint32_t w = 0; w < ss->n_workers; w++) {
        const struct db_counters *c = &ss->counters[w];

        sum[0] += atomic_load_explicit(&c->queries, memory_order_relaxed);
        sum[1] += atomic_load_explicit(&c->blocked, memory_order_relaxed);
        sum[2] += atomic_load_explicit(&c->answered, memory_order_relaxed);
        sum[3] += atomic_load_explicit(&c->malformed, memory_order_relaxed);
        sum[4] +=
            atomic_load_explicit(&c->answer_failed, memory_order_relaxed);
    }
    snprintf(json, sizeof json,
             "{\"queries\":%" PRIu64 ",\"blocked\":%" PRIu64
             ",\"answered\":%" PRIu64 ",\"malformed\":%" PRIu64
             ",\"answer_failed\":%" PRIu64 ",\"names\":%" PRIu32 "}",
             sum[0], sum[1], sum[2], sum[3], sum[4], set->n_names);
    return db->host->reply_set(reply, json);
}

/* Reads the one parameter "name" of an add or remove request into 'out'
 * (normalized).  Returns 0 or -EINVAL after set_error(). */
static int
db_rpc_name(const struct dnsblock *db, const char *params_json, char *out)
{
    json_error_t jerr;
    json_t *params = json_loads(params_json, 0, &jerr);
    const char *name = json_string_value(json_object_get(params, "name"));
    int error = 0;

    if (!name || json_object_size(params) != 1) {
        db->host->set_error(db->h, "want {\"name\": \"<domain>\"}");
        error = -EINVAL;
    } else if (dns_name_normalize(name, out)) {
        db->host->set_error(db->h, "\"%s\" is not a domain name", name);
        error = -EINVAL;
    }
    json_decref(params);
    return error;
}

/* Rebuilds the set of every switch after the added names changed.
 * Returns 0 or -ENOMEM after set_error(). */
static int
db_rebuild_all(struct dnsblock *db)
{
    for (struct db_switch *ss = db->switches; ss; ss = ss->next) {
        if (db_switch_rebuild(ss)) {
            db->host->set_error(db->h, "out of memory");
            return -ENOMEM;
        }
    }
    return 0;
}

/* RPC dnsblock.add {"name"}: blocks a name on every switch. */
static int
db_rpc_add(void *db_, const char *params_json, struct vsw_ext_reply *reply)
{
    struct dnsblock *db = db_;
    char name[DNS_NAME_TEXT_MAX];
    char json[DNS_NAME_TEXT_MAX + 64];
    bool known;
    int error = db_rpc_name(db, params_json, name);

    if (error) {
        return error;
    }
    known = db_names_find(&db->added, name) >= 0;
    if (!known && db->added.n >= DB_MAX_NAMES / 2) {
        db->host->set_error(db->h, "already %d names", DB_MAX_NAMES / 2);
        return -ENOSPC;
    }
    if (db_names_add(&db->added, name)) {
        db->host->set_error(db->h, "out of memory");
        return -ENOMEM;
    }
    error = db_rebuild_all(db);
    if (error) {
        return error;
    }
    /* Normalized names hold no quote, backslash or control byte. */
    snprintf(json, sizeof json, "{\"name\":\"%s\",\"added\":%s}", name,
             known ? "false" : "true");
    return db->host->reply_set(reply, json);
}

/* RPC dnsblock.remove {"name"}: unblocks a name dnsblock.add blocked. */
static int
db_rpc_remove(void *db_, const char *params_json, struct vsw_ext_reply *reply)
{
    struct dnsblock *db = db_;
    char name[DNS_NAME_TEXT_MAX];
    char json[DNS_NAME_TEXT_MAX + 64];
    long i;
    int error = db_rpc_name(db, params_json, name);

    if (error) {
        return error;
    }
    i = db_names_find(&db->added, name);
    if (i < 0) {
        for (const struct db_switch *ss = db->switches; ss; ss = ss->next) {
            if (db_names_find(&ss->config, name) >= 0) {
                db->host->set_error(db->h,
                                    "%s is in the configuration of switch "
                                    "%s: change that with ext config",
                                    name, ss->name);
                return -ENOENT;
            }
        }
        db->host->set_error(db->h, "%s is not blocked", name);
        return -ENOENT;
    }
    free(db->added.names[i]);
    db->added.names[i] = db->added.names[--db->added.n];
    error = db_rebuild_all(db);
    if (error) {
        return error;
    }
    snprintf(json, sizeof json, "{\"name\":\"%s\",\"removed\":true}", name);
    return db->host->reply_set(reply, json);
}

/* qsort comparison of two strings. */
static int
db_strcmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A sorted JSON array of the names of 'list', or NULL. */
static json_t *
db_names_json(const struct db_names *list)
{
    json_t *array = json_array();
    char **sorted = malloc((list->n + 1) * sizeof *sorted);

    if (!array || !sorted) {
        free(sorted);
        json_decref(array);
        return NULL;
    }
    memcpy(sorted, list->names, list->n * sizeof *sorted);
    qsort(sorted, list->n, sizeof *sorted, db_strcmp);
    for (size_t i = 0; i < list->n; i++) {
        if (json_array_append_new(array, json_string(sorted[i]))) {
            free(sorted);
            json_decref(array);
            return NULL;
        }
    }
    free(sorted);
    return array;
}

/* RPC dnsblock.list {}: every blocked name ("names"), the added ones
 * ("added"), each switch's own and the queries blocked in all. */
static int
db_rpc_list(void *db_, const char *params_json, struct vsw_ext_reply *reply)
{
    struct dnsblock *db = db_;
    struct db_names all = {0};
    json_t *result = json_object(), *switches = json_array();
    uint64_t blocked = 0;
    char *text = NULL;
    int error = -ENOMEM;

    (void)params_json;
    if (!result || !switches ||
        json_object_set_new(result, "switches", switches)) {
        json_decref(switches);
        goto out;
    }
    for (size_t i = 0; i < db->added.n; i++) {
        if (db_names_add(&all, db->added.names[i])) {
            goto out;
        }
    }
    for (const struct db_switch *ss = db->switches; ss; ss = ss->next) {
        uint64_t n = 0;

        for (size_t i = 0; i < ss->config.n; i++) {
            if (db_names_add(&all, ss->config.names[i])) {
                goto out;
            }
        }
        for (uint32_t w = 0; w < ss->n_workers; w++) {
            n += atomic_load_explicit(&ss->counters[w].blocked,
                                      memory_order_relaxed);
        }
        blocked += n;
        if (json_array_append_new(
                switches,
                json_pack("{s:s, s:o*, s:s, s:I}", "switch", ss->name, "names",
                          db_names_json(&ss->config), "answer",
                          ss->nxdomain ? "nxdomain" : "drop", "blocked",
                          (json_int_t)n))) {
            goto out;
        }
    }
    if (json_object_set_new(result, "names", db_names_json(&all)) ||
        json_object_set_new(result, "added", db_names_json(&db->added)) ||
        json_object_set_new(result, "blocked", json_integer(blocked))) {
        goto out;
    }
    text = json_dumps(result, JSON_COMPACT);
    error = text ? db->host->reply_set(reply, text) : -ENOMEM;
out:
    if (error) {
        db->host->set_error(db->h, "out of memory");
    }
    free(text);
    db_names_clear(&all);
    json_decref(result);
    return error;
}

/* Called once when the daemon shuts down. */
static void
db_fini(void *ext_data)
{
    struct dnsblock *db = ext_data;

    while (db->switches) {
        struct db_switch *ss = db->switches;

        db->switches = ss->next;
        db_switch_free(ss);
    }
    db_names_clear(&db->added);
    free(db);
}

/* Called once after the host checked the plugin: the RPC methods. */
static int
db_init(struct vsw_ext_handle *h, const struct vsw_ext_host *host,
        void **ext_data)
{
    static const struct {
        const char *method; /* full method name */
        vsw_ext_rpc_fn fn;  /* its handler */
    } methods[] = {
        {"dnsblock.add", db_rpc_add},
        {"dnsblock.remove", db_rpc_remove},
        {"dnsblock.list", db_rpc_list},
    };
    struct dnsblock *db = calloc(1, sizeof *db);

    if (!db) {
        host->set_error(h, "out of memory");
        return -ENOMEM;
    }
    db->h = h;
    db->host = host;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        int error =
            host->rpc_register(h, methods[i].method, methods[i].fn, db);

        if (error) {
            /* Methods registered so far keep 'db': it stays allocated. */
            host->set_error(h, "cannot register %s", methods[i].method);
            *ext_data = db;
            return error;
        }
    }
    *ext_data = db;
    return 0;
}

static const struct vsw_ext_ops db_ops = {
    .size = sizeof(struct vsw_ext_ops),
    .fini = db_fini,
    .start = db_start,
    .stop = db_stop,
    .configure = db_configure,
    .process = db_process,
    .stats = db_stats,
};

VSW_EXTENSION_DESCRIPTOR(VSW_EXT_CLASS_FILTER, 0, "dnsblock", "1.0",
                         "drops DNS queries for blocked names", &db_ops,
                         db_init);
