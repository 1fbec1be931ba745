/*
 * The flow state table; conntrack.h holds the contract.
 *
 * Layout.  The flows live in a concurrent table (ctable.h), like the
 * MAC table's entries: a pool fixed at creation, hash chains that
 * lock-free readers walk under per-bucket sequence counts, one writer
 * lock.  This file adds the normalized flow key, the idle timeouts, the
 * per-port counts and caps, and the reclaim of idle flows when full.
 *
 * The flow key is six 64-bit words (two per address, one for port id,
 * VLAN and protocol, one for the ports), each atomic; a reader compares
 * all six inside one read section.
 *
 * Refreshing a flow's timestamp is the one write a reader makes.  It is a
 * compare-and-swap from the value the reader saw, done at most every
 * CT_REFRESH_MS per flow: a busy flow's line is not dirtied by every
 * packet, a late writer never moves the time back, and an entry recycled
 * in between (which has another timestamp) is almost never touched.
 *
 * Writers serialize on the table's lock.  Sweeps (expire, flush, dump)
 * release it every VSW_CTABLE_SWEEP_CHUNK buckets.
 */
#include "conntrack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctable.h"

/* "No entry". */
#define CT_NIL VSW_CTABLE_NIL

#define CT_KEY_WORDS 6

/* A flow's timestamp is rewritten only when at least this old, so a flow
 * may expire up to this much before its last packet plus its timeout. */
#define CT_REFRESH_MS 100

/* When the table is full, an insertion looks at this many pool entries,
 * from where the last such search stopped, for an idle flow to reuse. */
#define CT_RECLAIM_SCAN 64

/* After such a search found nothing, insertions are refused without
 * taking the mutex for this long, or until a flow is removed: a flood of
 * new flows into a full table neither serializes the workers on the mutex
 * nor starves the control thread's expiry. */
#define CT_FULL_BACKOFF_MS 10

#define IP_PROTO_ICMP   1
#define IP_PROTO_TCP    6
#define IP_PROTO_UDP    17
#define IP_PROTO_ICMPV6 58

/* A normalized flow key: both directions of a flow give the same words. */
struct ct_key {
    uint64_t w[CT_KEY_WORDS]; /* see ct_key_init() */
    bool swapped;             /* the packet went from the higher endpoint
                                 to the lower one */
};

/* One flow.  The atomic members are read by lock-free readers and written
 * only under the lock, except 'last_seen', which readers also refresh. */
struct ct_entry {
    struct vsw_ctable_node node;        /* chain link, first (ctable.h) */
    _Atomic uint32_t timeout_ms;        /* idle timeout */
    _Atomic uint64_t key[CT_KEY_WORDS]; /* struct ct_key 'w' */
    _Atomic int64_t last_seen;          /* ms of a recent packet */
    uint32_t bucket;                    /* its bucket's index, while in use */
    bool in_use;                        /* on a chain (else free) */
    bool swapped;                       /* creating packet's 'swapped' */
    bool from_port;                     /* creating packet came from the
                                           port's VM */
};

_Static_assert(offsetof(struct ct_entry, node) == 0,
               "ctable.h wants the node first");

/* The flow table.  Invariants, whenever the lock is free: every flow on a
 * chain is on the chain its key hashes to, recorded in its 'bucket', with
 * 'in_use' set; every other pool entry has 'in_use' clear; keys on the
 * chains are unique; the table's count is the sum of 'slot_count'. */
struct vsw_conntrack {
    struct vsw_ctable table;    /* the flows; its generation is bumped
                                   after every creation and removal */
    struct ct_entry *pool;      /* the table's pool, typed */
    uint32_t max_per_port;      /* the per-slot cap, 0 for none */
    uint32_t reclaim_cursor;    /* where the next reclaim scan starts */
    _Atomic int64_t full_until; /* ms before which a full table refuses
                                   without a reclaim search; 0 after a
                                   removal */
    _Atomic uint32_t slot_count[VSW_CONNTRACK_MAX_SLOTS]; /* flows per port
                                                             slot */
    _Atomic uint64_t refused_full; /* vsw_conntrack_full_count() */
};

/* What a lock-free chain walk found. */
struct ct_hit {
    uint32_t idx;        /* pool index of the entry */
    int64_t last_seen;   /* its timestamp */
    uint32_t timeout_ms; /* its timeout */
};

static uint64_t
load_be64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

static void
store_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static bool ct_is_ipv4_mapped(const uint8_t addr[16]);

/* The "port" both endpoints of an ICMP or ICMPv6 flow get: one value for
 * the two types of a request/reply pair, the type itself otherwise. */
static uint16_t
ct_icmp_kind(uint8_t proto, uint8_t type)
{
    if (proto == IP_PROTO_ICMP) {
        switch (type) {
        case 0: /* echo reply */
            return 8;
        case 14: /* timestamp reply */
        case 16: /* information reply */
        case 18: /* address mask reply */
            return type - 1;
        }
    } else {
        switch (type) {
        case 129: /* echo reply */
        case 140: /* node information reply */
            return type - 1;
        }
    }
    return type;
}

bool
vsw_conntrack_can_track(const struct vsw_flow_key *key)
{
    if ((key->eth_type != VSW_ETH_TYPE_IPV4 &&
         key->eth_type != VSW_ETH_TYPE_IPV6) ||
        !key->l3_end ||
        key->flags &
            (VSW_FLOW_F_LATER_FRAGMENT | VSW_FLOW_F_IPV6_CHAIN_INCOMPLETE)) {
        return false;
    }
    switch (key->ip_proto) {
    case IP_PROTO_TCP:
    case IP_PROTO_UDP:
    case IP_PROTO_ICMP:
    case IP_PROTO_ICMPV6:
        return key->l4_ofs != 0;
    default:
        return true;
    }
}

/* Fills 'k' with the normalized key of packet 'key' on 'port_id' in
 * 'vlan'.  Words: 0 = port id, VLAN, protocol (so that sorted keys sort by
 * them first); 1-2 = the lower endpoint's address; 3-4 = the higher one's;
 * 5 = the lower endpoint's port << 16 | the higher one's.  Returns false
 * if the packet cannot be tracked. */
static bool
ct_key_init(struct ct_key *k, uint32_t port_id, uint16_t vlan,
            const struct vsw_flow_key *key)
{
    uint16_t sport = 0, dport = 0;

    if (!vsw_conntrack_can_track(key)) {
        return false;
    }
    switch (key->ip_proto) {
    case IP_PROTO_TCP:
    case IP_PROTO_UDP:
        sport = key->tp_src;
        dport = key->tp_dst;
        break;
    case IP_PROTO_ICMP:
    case IP_PROTO_ICMPV6:
        sport = dport = ct_icmp_kind(key->ip_proto, key->icmp_type);
        break;
    }

    uint64_t src[2] = {load_be64(key->ip_src), load_be64(key->ip_src + 8)};
    uint64_t dst[2] = {load_be64(key->ip_dst), load_be64(key->ip_dst + 8)};
    int order = src[0] != dst[0]   ? (src[0] < dst[0] ? -1 : 1)
                : src[1] != dst[1] ? (src[1] < dst[1] ? -1 : 1)
                                   : (sport > dport) - (sport < dport);

    k->swapped = order > 0;
    k->w[0] = (uint64_t)port_id << 32 | (uint64_t)vlan << 16 |
              (uint64_t)key->ip_proto << 8;
    if (!k->swapped) {
        k->w[1] = src[0];
        k->w[2] = src[1];
        k->w[3] = dst[0];
        k->w[4] = dst[1];
        k->w[5] = (uint64_t)sport << 16 | dport;
    } else {
        k->w[1] = dst[0];
        k->w[2] = dst[1];
        k->w[3] = src[0];
        k->w[4] = src[1];
        k->w[5] = (uint64_t)dport << 16 | sport;
    }
    return true;
}

static uint32_t
ct_key_port_id(const uint64_t w[CT_KEY_WORDS])
{
    return (uint32_t)(w[0] >> 32);
}

/* A multiply-xorshift mix of the key words under the table's secret
 * seed.  Returns the bucket index. */
static uint32_t
ct_hash(const struct vsw_conntrack *ct, const uint64_t w[CT_KEY_WORDS])
{
    uint64_t h = ct->table.seed[0];

    for (int i = 0; i < CT_KEY_WORDS; i++) {
        h = (h ^ w[i]) * UINT64_C(0x9e3779b97f4a7c15);
        h ^= h >> 29;
    }
    h = (h ^ ct->table.seed[1]) * UINT64_C(0xd6e8feb86659fd93);
    h ^= h >> 32;
    return (uint32_t)(h & ct->table.bucket_mask);
}

static bool
ct_is_idle(int64_t last_seen, uint32_t timeout_ms, int64_t now_ms)
{
    return now_ms - last_seen >= (int64_t)timeout_ms;
}

/* Lock-free.  Whether entry 'e' holds key 'w', by acquire loads. */
static bool
ct_entry_matches(const struct ct_entry *e, const uint64_t w[CT_KEY_WORDS])
{
    for (int i = 0; i < CT_KEY_WORDS; i++) {
        if (atomic_load_explicit(&e->key[i], memory_order_acquire) != w[i]) {
            return false;
        }
    }
    return true;
}

/* Lock-free (vsw_ctable_match_func).  Whether 'e_' holds the key words
 * at 'w_'; if so, copies its timestamp and timeout into 'hit_'. */
static bool
ct_match(const void *e_, const void *w_, void *hit_)
{
    const struct ct_entry *e = e_;
    struct ct_hit *hit = hit_;

    if (!ct_entry_matches(e, w_)) {
        return false;
    }
    hit->last_seen = atomic_load_explicit(&e->last_seen, memory_order_acquire);
    hit->timeout_ms =
        atomic_load_explicit(&e->timeout_ms, memory_order_acquire);
    return true;
}

/* Lock-free, or with the lock held.  Looks 'k' up in chain 'bucket' (its
 * hash); on success fills 'hit' with a consistent view of its entry at
 * one instant.  'hit' is written only on success: storing a miss costs a
 * lookup measurably.  Inline so that the packet path, the lookup, has
 * the walk in place rather than behind a call. */
static inline __attribute__((always_inline)) bool
ct_find(const struct vsw_conntrack *ct, uint32_t bucket,
        const struct ct_key *k, struct ct_hit *hit)
{
    uint32_t idx = vsw_ctable_find(&ct->table, bucket, sizeof(struct ct_entry),
                                   ct_match, k->w, hit);

    if (idx == CT_NIL) {
        return false;
    }
    hit->idx = idx;
    return true;
}

/* Lock-free.  Records a packet at 'now_ms' on entry 'e', which the caller
 * saw last seen at 'last_seen'. */
static void
ct_refresh(struct ct_entry *e, int64_t last_seen, int64_t now_ms)
{
    if (now_ms - last_seen >= CT_REFRESH_MS) {
        atomic_compare_exchange_strong_explicit(&e->last_seen, &last_seen,
                                                now_ms, memory_order_relaxed,
                                                memory_order_relaxed);
    }
}

/* The per-slot count is written only under the lock: a plain
 * load-then-store suffices; it is atomic for the lock-free counts. */
static void
ct_add_slot_count(struct vsw_conntrack *ct, uint32_t port_id, int delta)
{
    _Atomic uint32_t *slot = &ct->slot_count[VSW_CONNTRACK_SLOT(port_id)];

    atomic_store_explicit(
        slot, atomic_load_explicit(slot, memory_order_relaxed) + delta,
        memory_order_relaxed);
}

static uint32_t
ct_entry_port_id(const struct ct_entry *e)
{
    return (uint32_t)(atomic_load_explicit(&e->key[0], memory_order_relaxed) >>
                      32);
}

/* With the lock held (vsw_ctable_release_func).  Uncounts flow 'idx',
 * just taken off its chain, and lets insertions try again. */
static void
ct_release(void *ct_, uint32_t idx)
{
    struct vsw_conntrack *ct = ct_;
    struct ct_entry *e = &ct->pool[idx];

    ct_add_slot_count(ct, ct_entry_port_id(e), -1);
    atomic_store_explicit(&ct->full_until, 0, memory_order_relaxed);
    e->in_use = false;
}

/* vsw_ctable_visit_func: removes the flows idle at '*now_ms_'. */
static bool
ct_visit_idle(const void *e_, void *now_ms_)
{
    const struct ct_entry *e = e_;
    const int64_t *now_ms = now_ms_;

    return ct_is_idle(
        atomic_load_explicit(&e->last_seen, memory_order_relaxed),
        atomic_load_explicit(&e->timeout_ms, memory_order_relaxed), *now_ms);
}

/* vsw_ctable_visit_func: removes the flows of the slot of
 * '*port_id_'. */
static bool
ct_visit_slot(const void *e_, void *port_id_)
{
    const struct ct_entry *e = e_;
    const uint32_t *port_id = port_id_;

    return VSW_CONNTRACK_SLOT(ct_entry_port_id(e)) ==
           VSW_CONNTRACK_SLOT(*port_id);
}

/* With the lock held and the table full.  Removes one flow idle at
 * 'now_ms' among the next CT_RECLAIM_SCAN pool entries.  Returns whether
 * it found one. */
static bool
ct_reclaim(struct vsw_conntrack *ct, int64_t now_ms)
{
    uint32_t max_flows = ct->table.max_entries;
    uint32_t n = max_flows < CT_RECLAIM_SCAN ? max_flows : CT_RECLAIM_SCAN;

    for (uint32_t i = 0; i < n; i++) {
        uint32_t idx = ct->reclaim_cursor;
        struct ct_entry *e = &ct->pool[idx];

        ct->reclaim_cursor = idx + 1 < max_flows ? idx + 1 : 0;
        if (e->in_use && ct_visit_idle(e, &now_ms)) {
            vsw_ctable_remove(&ct->table, e->bucket, idx);
            return true;
        }
    }
    return false;
}

/* Whether the slot of 'port_id' holds its cap of flows. */
static bool
ct_port_is_full(const struct vsw_conntrack *ct, uint32_t port_id)
{
    return ct->max_per_port &&
           atomic_load_explicit(&ct->slot_count[VSW_CONNTRACK_SLOT(port_id)],
                                memory_order_relaxed) >= ct->max_per_port;
}

/* Lock-free.  Whether an insertion at 'now_ms' on 'port_id' is bound to
 * fail for lack of room (a stale answer only delays or hastens the
 * verdict of the locked path by a moment). */
static bool
ct_is_full(const struct vsw_conntrack *ct, uint32_t port_id, int64_t now_ms)
{
    return ct_port_is_full(ct, port_id) ||
           (vsw_ctable_is_full(&ct->table) &&
            now_ms <
                atomic_load_explicit(&ct->full_until, memory_order_relaxed));
}

/* With the lock held: the part of vsw_conntrack_insert() and
 * vsw_conntrack_restore() that changes the table.  A new flow counts as
 * last seen at 'last_seen' (at most 'now_ms'). */
static int
ct_insert_locked(struct vsw_conntrack *ct, const struct ct_key *k,
                 bool from_port, uint32_t timeout_ms, int64_t last_seen,
                 int64_t now_ms)
{
    uint32_t bucket = ct_hash(ct, k->w);
    uint32_t port_id = ct_key_port_id(k->w);
    struct ct_hit hit;

    /* Dropping the idle flows of this one chain is nearly free here, and
     * an idle flow of 'k' itself is then simply created anew. */
    vsw_ctable_sweep_bucket(&ct->table, bucket, ct_visit_idle, &now_ms);

    if (ct_find(ct, bucket, k, &hit)) {
        /* Another worker created it since our lock-free look. */
        struct ct_entry *e = &ct->pool[hit.idx];
        ct_refresh(e,
                   atomic_load_explicit(&e->last_seen, memory_order_relaxed),
                   now_ms);
        return 0;
    }

    if (ct_port_is_full(ct, port_id)) {
        return -ENOSPC;
    }
    if (vsw_ctable_is_full(&ct->table) && !ct_reclaim(ct, now_ms)) {
        atomic_store_explicit(&ct->full_until, now_ms + CT_FULL_BACKOFF_MS,
                              memory_order_relaxed);
        return -ENOSPC;
    }

    /* Not NIL: there is room.  The entry's fields change inside the write
     * section: a reader of the bucket must not see the entry with its
     * previous key. */
    uint32_t idx = vsw_ctable_insert_begin(&ct->table, bucket);
    struct ct_entry *e = &ct->pool[idx];
    e->in_use = true;
    e->bucket = bucket;
    e->swapped = k->swapped;
    e->from_port = from_port;
    for (int i = 0; i < CT_KEY_WORDS; i++) {
        atomic_store_explicit(&e->key[i], k->w[i], memory_order_release);
    }
    atomic_store_explicit(&e->last_seen, last_seen, memory_order_release);
    atomic_store_explicit(&e->timeout_ms, timeout_ms, memory_order_release);
    vsw_ctable_insert_end(&ct->table, bucket, idx);

    ct_add_slot_count(ct, port_id, 1);
    return 0;
}

/* The pool and buckets are the table's; this adds the per-port counts. */
struct vsw_conntrack *
vsw_conntrack_create(uint32_t max_flows, uint32_t max_flows_per_port)
{
    if (max_flows == CT_NIL) {
        return NULL;
    }

    struct vsw_conntrack *ct = calloc(1, sizeof *ct);
    if (!ct) {
        return NULL;
    }
    if (vsw_ctable_init(&ct->table, max_flows, sizeof(struct ct_entry),
                        ct_release, ct)) {
        free(ct);
        return NULL;
    }

    ct->pool = vsw_ctable_entry(&ct->table, 0, sizeof(struct ct_entry));
    ct->max_per_port = max_flows_per_port;
    atomic_init(&ct->full_until, 0);
    for (uint32_t i = 0; i < max_flows; i++) {
        struct ct_entry *e = &ct->pool[i];
        for (int w = 0; w < CT_KEY_WORDS; w++) {
            atomic_init(&e->key[w], 0);
        }
        atomic_init(&e->last_seen, 0);
        atomic_init(&e->timeout_ms, 0);
    }
    for (uint32_t slot = 0; slot < VSW_CONNTRACK_MAX_SLOTS; slot++) {
        atomic_init(&ct->slot_count[slot], 0);
    }
    return ct;
}

void
vsw_conntrack_destroy(struct vsw_conntrack *ct)
{
    if (ct) {
        vsw_ctable_uninit(&ct->table);
        free(ct);
    }
}

uint32_t
vsw_conntrack_get_max_flows(const struct vsw_conntrack *ct)
{
    return ct->table.max_entries;
}

bool
vsw_conntrack_lookup(struct vsw_conntrack *ct, uint32_t port_id, uint16_t vlan,
                     const struct vsw_flow_key *key, int64_t now_ms)
{
    struct ct_key k;
    struct ct_hit hit;

    if (!ct_key_init(&k, port_id, vlan, key) ||
        !ct_find(ct, ct_hash(ct, k.w), &k, &hit) ||
        ct_is_idle(hit.last_seen, hit.timeout_ms, now_ms)) {
        return false;
    }
    ct_refresh(&ct->pool[hit.idx], hit.last_seen, now_ms);
    return true;
}

/* The common race, two workers creating the same flow, is settled under
 * the mutex: the second only refreshes.  A full table refuses without the
 * mutex for a while (CT_FULL_BACKOFF_MS). */
/* Counts a refused flow when the whole table is full (a port at its own
 * cap is not the table's bound).  Only on the refusal path. */
static void
ct_count_refusal(struct vsw_conntrack *ct)
{
    if (vsw_ctable_is_full(&ct->table)) {
        atomic_fetch_add_explicit(&ct->refused_full, 1, memory_order_relaxed);
    }
}

int
vsw_conntrack_insert(struct vsw_conntrack *ct, uint32_t port_id, uint16_t vlan,
                     const struct vsw_flow_key *key, uint32_t idle_timeout_s,
                     int64_t now_ms)
{
    return vsw_conntrack_insert_dir(ct, port_id, vlan, key, false,
                                    idle_timeout_s, now_ms);
}

int
vsw_conntrack_insert_dir(struct vsw_conntrack *ct, uint32_t port_id,
                         uint16_t vlan, const struct vsw_flow_key *key,
                         bool from_port, uint32_t idle_timeout_s,
                         int64_t now_ms)
{
    struct ct_key k;

    if (!idle_timeout_s || idle_timeout_s > VSW_CONNTRACK_MAX_TIMEOUT_S ||
        !ct_key_init(&k, port_id, vlan, key)) {
        return -EINVAL;
    }
    if (ct_is_full(ct, port_id, now_ms)) {
        ct_count_refusal(ct);
        return -ENOSPC;
    }

    vsw_ctable_lock(&ct->table);
    int error = ct_insert_locked(ct, &k, from_port, idle_timeout_s * 1000,
                                 now_ms, now_ms);
    vsw_ctable_unlock(&ct->table);
    if (error == -ENOSPC) {
        ct_count_refusal(ct);
    }
    return error;
}

/* Builds the normalized key of the flow 'info' describes, the way
 * ct_key_init() does from its creating packet: 'a' is the source. */
static void
ct_key_from_info(struct ct_key *k, uint32_t port_id,
                 const struct vsw_conntrack_flow_info *info)
{
    uint64_t src[2] = {load_be64(info->addr_a), load_be64(info->addr_a + 8)};
    uint64_t dst[2] = {load_be64(info->addr_b), load_be64(info->addr_b + 8)};
    uint16_t sport = info->port_a, dport = info->port_b;
    int order = src[0] != dst[0]   ? (src[0] < dst[0] ? -1 : 1)
                : src[1] != dst[1] ? (src[1] < dst[1] ? -1 : 1)
                                   : (sport > dport) - (sport < dport);

    k->swapped = order > 0;
    k->w[0] = (uint64_t)port_id << 32 | (uint64_t)info->vlan << 16 |
              (uint64_t)info->ip_proto << 8;
    k->w[1] = k->swapped ? dst[0] : src[0];
    k->w[2] = k->swapped ? dst[1] : src[1];
    k->w[3] = k->swapped ? src[0] : dst[0];
    k->w[4] = k->swapped ? src[1] : dst[1];
    k->w[5] = k->swapped ? (uint64_t)dport << 16 | sport
                         : (uint64_t)sport << 16 | dport;
}

/* The flow must look like one a packet could have made: otherwise a
 * restored flow could admit traffic no rule ever allowed, e.g. an ICMP
 * flow keyed by ports, which no lookup would find anyway. */
int
vsw_conntrack_restore(struct vsw_conntrack *ct, uint32_t port_id,
                      const struct vsw_conntrack_flow_info *info,
                      int64_t now_ms)
{
    uint32_t timeout_ms, left_ms;
    struct ct_key k;

    if (!info->idle_timeout_s ||
        info->idle_timeout_s > VSW_CONNTRACK_MAX_TIMEOUT_S ||
        info->idle_left_s > info->idle_timeout_s ||
        !vsw_conntrack_flow_info_is_valid(info)) {
        return -EINVAL;
    }
    if (!info->idle_left_s) {
        return 0; /* expired on the way: nothing to carry over */
    }
    timeout_ms = info->idle_timeout_s * 1000;
    left_ms = info->idle_left_s * 1000;
    ct_key_from_info(&k, port_id, info);

    vsw_ctable_lock(&ct->table);
    int error =
        ct_insert_locked(ct, &k, info->from_port, timeout_ms,
                         now_ms - (int64_t)(timeout_ms - left_ms), now_ms);
    vsw_ctable_unlock(&ct->table);
    return error;
}

bool
vsw_conntrack_flow_info_is_valid(const struct vsw_conntrack_flow_info *info)
{
    bool v4_a = ct_is_ipv4_mapped(info->addr_a);
    bool v4_b = ct_is_ipv4_mapped(info->addr_b);

    if (v4_a != v4_b || info->vlan > 4095) {
        return false;
    }
    switch (info->ip_proto) {
    case IP_PROTO_TCP:
    case IP_PROTO_UDP:
        return true;
    case IP_PROTO_ICMP:
    case IP_PROTO_ICMPV6:
        return v4_a == (info->ip_proto == IP_PROTO_ICMP) &&
               info->port_a == info->port_b && info->port_a <= UINT8_MAX &&
               ct_icmp_kind(info->ip_proto, (uint8_t)info->port_a) ==
                   info->port_a;
    default:
        return !info->port_a && !info->port_b;
    }
}

uint64_t
vsw_conntrack_full_count(const struct vsw_conntrack *ct)
{
    return atomic_load_explicit(&ct->refused_full, memory_order_relaxed);
}

uint64_t
vsw_conntrack_generation(const struct vsw_conntrack *ct)
{
    return vsw_ctable_generation(&ct->table);
}

size_t
vsw_conntrack_expire(struct vsw_conntrack *ct, int64_t now_ms)
{
    return vsw_ctable_sweep(&ct->table, ct_visit_idle, &now_ms);
}

size_t
vsw_conntrack_flush_port(struct vsw_conntrack *ct, uint32_t port_id)
{
    return vsw_ctable_sweep(&ct->table, ct_visit_slot, &port_id);
}

void
vsw_conntrack_flush(struct vsw_conntrack *ct)
{
    vsw_ctable_flush(&ct->table);
}

/* Counts flows idle but not yet removed by vsw_conntrack_expire(): they
 * still occupy the pool. */
size_t
vsw_conntrack_count(const struct vsw_conntrack *ct)
{
    return vsw_ctable_count(&ct->table);
}

size_t
vsw_conntrack_count_port(const struct vsw_conntrack *ct, uint32_t port_id)
{
    return atomic_load_explicit(&ct->slot_count[VSW_CONNTRACK_SLOT(port_id)],
                                memory_order_relaxed);
}

/* The order of vsw_conntrack_dump(), qsort()-style: port id, VLAN,
 * protocol, then the endpoints as the creating packet had them. */
static int
ct_info_compare(const void *a_, const void *b_)
{
    const struct vsw_conntrack_flow_info *a = a_;
    const struct vsw_conntrack_flow_info *b = b_;
    int c;

    if (a->port_id != b->port_id) {
        return a->port_id < b->port_id ? -1 : 1;
    }
    if (a->vlan != b->vlan) {
        return a->vlan < b->vlan ? -1 : 1;
    }
    if (a->ip_proto != b->ip_proto) {
        return a->ip_proto < b->ip_proto ? -1 : 1;
    }
    if ((c = memcmp(a->addr_a, b->addr_a, sizeof a->addr_a))) {
        return c;
    }
    if (a->port_a != b->port_a) {
        return a->port_a < b->port_a ? -1 : 1;
    }
    if ((c = memcmp(a->addr_b, b->addr_b, sizeof a->addr_b))) {
        return c;
    }
    return (a->port_b > b->port_b) - (a->port_b < b->port_b);
}

/* State of vsw_conntrack_dump(). */
struct ct_dump_ctx {
    struct vsw_ctable_dump dump; /* the first flows in dump order */
    int64_t now_ms;              /* what counts as live */
};

/* With the lock held.  Describes live entry 'e' at 'now_ms'. */
static void
ct_entry_info(const struct ct_entry *e, int64_t now_ms,
              struct vsw_conntrack_flow_info *info)
{
    uint64_t w[CT_KEY_WORDS];
    int64_t last_seen =
        atomic_load_explicit(&e->last_seen, memory_order_relaxed);
    uint32_t timeout_ms =
        atomic_load_explicit(&e->timeout_ms, memory_order_relaxed);
    int64_t left_ms = last_seen + timeout_ms - now_ms;

    for (int i = 0; i < CT_KEY_WORDS; i++) {
        w[i] = atomic_load_explicit(&e->key[i], memory_order_relaxed);
    }
    memset(info, 0, sizeof *info);
    info->port_id = ct_key_port_id(w);
    info->vlan = (uint16_t)(w[0] >> 16);
    info->ip_proto = (uint8_t)(w[0] >> 8);

    /* The lower endpoint is 'a' unless the creating packet went the other
     * way. */
    uint8_t *lo = e->swapped ? info->addr_b : info->addr_a;
    uint8_t *hi = e->swapped ? info->addr_a : info->addr_b;
    store_be64(lo, w[1]);
    store_be64(lo + 8, w[2]);
    store_be64(hi, w[3]);
    store_be64(hi + 8, w[4]);
    uint16_t lo_port = (uint16_t)(w[5] >> 16);
    uint16_t hi_port = (uint16_t)w[5];
    info->port_a = e->swapped ? hi_port : lo_port;
    info->port_b = e->swapped ? lo_port : hi_port;

    info->from_port = e->from_port;
    info->idle_timeout_s = timeout_ms / 1000;
    /* A worker's clock may run a little ahead of the caller's. */
    info->idle_left_s = left_ms > 0 ? (uint32_t)((left_ms + 999) / 1000) : 0;
}

/* vsw_ctable_visit_func: offers live flows to the dump, removes
 * nothing. */
static bool
ct_visit_dump(const void *e_, void *ctx_)
{
    const struct ct_entry *e = e_;
    struct ct_dump_ctx *ctx = ctx_;
    struct vsw_conntrack_flow_info info;

    if (ct_visit_idle(e, &ctx->now_ms)) {
        return false;
    }
    ct_entry_info(e, ctx->now_ms, &info);
    vsw_ctable_dump_offer(&ctx->dump, &info);
    return false;
}

size_t
vsw_conntrack_dump(struct vsw_conntrack *ct,
                   struct vsw_conntrack_flow_info *out, size_t max,
                   int64_t now_ms)
{
    struct ct_dump_ctx ctx = {
        .dump = {out, max, sizeof *out, 0, ct_info_compare},
        .now_ms = now_ms,
    };

    vsw_ctable_sweep(&ct->table, ct_visit_dump, &ctx);
    return vsw_ctable_dump_finish(&ctx.dump);
}

static bool
ct_is_ipv4_mapped(const uint8_t addr[16])
{
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0,    0,
                                       0, 0, 0, 0, 0xff, 0xff};

    return !memcmp(addr, prefix, sizeof prefix);
}

/* Formats 'addr', and 'port' if 'with_port', into 'buf' ('size'
 * bytes). */
static void
ct_format_endpoint(const uint8_t addr[16], uint16_t port, bool with_port,
                   char *buf, size_t size)
{
    char text[INET6_ADDRSTRLEN];
    bool v4 = ct_is_ipv4_mapped(addr);

    inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? addr + 12 : addr, text,
              sizeof text);
    if (!with_port) {
        snprintf(buf, size, "%s", text);
    } else if (v4) {
        snprintf(buf, size, "%s:%" PRIu16, text, port);
    } else {
        snprintf(buf, size, "[%s]:%" PRIu16, text, port);
    }
}

char *
vsw_conntrack_flow_format(const struct vsw_conntrack_flow_info *info,
                          char *buf, size_t size)
{
    char a[INET6_ADDRSTRLEN + 8], b[INET6_ADDRSTRLEN + 8];
    char number[16], extra[24] = "";
    const char *proto = number;
    bool ports = false;

    switch (info->ip_proto) {
    case IP_PROTO_TCP:
        proto = "tcp";
        ports = true;
        break;
    case IP_PROTO_UDP:
        proto = "udp";
        ports = true;
        break;
    case IP_PROTO_ICMP:
    case IP_PROTO_ICMPV6:
        proto = info->ip_proto == IP_PROTO_ICMP ? "icmp" : "icmpv6";
        snprintf(extra, sizeof extra, " type %" PRIu16, info->port_a);
        break;
    default:
        snprintf(number, sizeof number, "proto %" PRIu8, info->ip_proto);
        break;
    }
    ct_format_endpoint(info->addr_a, info->port_a, ports, a, sizeof a);
    ct_format_endpoint(info->addr_b, info->port_b, ports, b, sizeof b);
    snprintf(buf, size,
             "port %" PRIu32 " vlan %" PRIu16 " %s %s -> %s%s idle-left "
             "%" PRIu32 "s/%" PRIu32 "s",
             info->port_id, info->vlan, proto, a, b, extra, info->idle_left_s,
             info->idle_timeout_s);
    return buf;
}
