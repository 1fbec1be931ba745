#include "flow-cache.h"

#include <assert.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Flags that say something about the frame's structure and so may change
 * a decision; length-related ones (padding, truncation of a frame that
 * is otherwise the flow's) are left out so that frames of one flow share
 * an entry. */
#define DECISION_FLAGS                                                        \
    (VSW_FLOW_F_IP_OPTIONS | VSW_FLOW_F_FRAGMENT |                            \
     VSW_FLOW_F_LATER_FRAGMENT | VSW_FLOW_F_IPV6_CHAIN_INCOMPLETE |           \
     VSW_FLOW_F_IPV6_UNKNOWN_NH | VSW_FLOW_F_TOO_MANY_VLANS |                 \
     VSW_FLOW_F_L3_MALFORMED | VSW_FLOW_F_L4_MALFORMED |                      \
     VSW_FLOW_F_ATOMIC_FRAGMENT | VSW_FLOW_F_L3_TRUNCATED |                   \
     VSW_FLOW_F_L4_TRUNCATED)

struct vsw_flow_cache {
    uint32_t set_mask;                    /* sets - 1 */
    struct vsw_flow_cache_entry *entries; /* sets * WAYS */
    uint8_t *next_victim;                 /* per set: way to replace next */
    _Atomic uint64_t lookups;             /* statistics, read by the */
    _Atomic uint64_t hits;                /* control thread */
    _Atomic uint64_t inserts;
    _Atomic uint64_t used;      /* ways ever filled (none is emptied) */
    _Atomic uint64_t evictions; /* valid entries of other flows replaced */
};

struct vsw_flow_cache *
vsw_flow_cache_create(uint32_t n_sets)
{
    struct vsw_flow_cache *cache;

    if (!n_sets || (n_sets & (n_sets - 1))) {
        return NULL;
    }
    cache = calloc(1, sizeof *cache);
    if (!cache) {
        return NULL;
    }
    cache->set_mask = n_sets - 1;
    cache->entries =
        calloc((size_t)n_sets * VSW_FLOW_CACHE_WAYS, sizeof *cache->entries);
    cache->next_victim = calloc(n_sets, 1);
    if (!cache->entries || !cache->next_victim) {
        vsw_flow_cache_destroy(cache);
        return NULL;
    }
    return cache;
}

void
vsw_flow_cache_destroy(struct vsw_flow_cache *cache)
{
    if (cache) {
        free(cache->entries);
        free(cache->next_victim);
        free(cache);
    }
}

/* The runs of struct vsw_flow_key that hash_flow() reads whole: each
 * holds key fields only, so two flows with equal cache keys hash
 * equally. */
static_assert(offsetof(struct vsw_flow_key, eth_dst) == 0 &&
                  offsetof(struct vsw_flow_key, ip_proto) == 15,
              "MACs, ethertype, tag count and protocol fill bytes 0..15");
static_assert(offsetof(struct vsw_flow_key, vlan_tci) ==
                      offsetof(struct vsw_flow_key, vlan_tpid) + 4 &&
                  VSW_FLOW_MAX_VLANS == 2,
              "the tags fill 8 bytes");
static_assert(offsetof(struct vsw_flow_key, ip_dst) ==
                  offsetof(struct vsw_flow_key, ip_src) + 16,
              "the addresses fill 32 bytes");
static_assert(offsetof(struct vsw_flow_key, tp_dst) ==
                      offsetof(struct vsw_flow_key, tp_src) + 2 &&
                  offsetof(struct vsw_flow_key, icmp_type) ==
                      offsetof(struct vsw_flow_key, tp_src) + 4 &&
                  offsetof(struct vsw_flow_key, icmp_code) ==
                      offsetof(struct vsw_flow_key, tp_src) + 5 &&
                  offsetof(struct vsw_flow_key, arp_op) ==
                      offsetof(struct vsw_flow_key, tp_src) + 6,
              "ports, ICMP type and code and ARP opcode fill 8 bytes");

/* The 8 bytes of 'flow' at 'offset': a run of fields read whole, from
 * the start of the struct (not from a member array, which ends sooner). */
static uint64_t
load64(const struct vsw_flow_key *flow, size_t offset)
{
    uint64_t word;

    memcpy(&word, (const uint8_t *)flow + offset, sizeof word);
    return word;
}

#define FLOW_WORD(FLOW, MEMBER, PLUS)                                         \
    load64(FLOW, offsetof(struct vsw_flow_key, MEMBER) + (PLUS))

static uint64_t
mix(uint64_t lane, uint64_t word)
{
    lane = (lane ^ word) * UINT64_C(0xff51afd7ed558ccd);
    return lane ^ lane >> 32;
}

/* The hash of the cache key vsw_flow_cache_key_init_vni() makes of
 * 'flow', 'in_port_id' and 'vni', computed from the flow itself in four
 * independent multiply-xorshift lanes.  It reads the flow, which the
 * parser wrote long before, not the key just written field by field:
 * wide loads of freshly stored narrow fields stall until the stores
 * drain, and that and a single chain of dependent multiplies made the
 * key a tenth of a worker's time in the vhost-user loop benchmark.  The
 * ARP sender and ND target are left out (equal keys still hash equally;
 * the lookup compares whole keys). */
static uint64_t
hash_flow(const struct vsw_flow_key *flow, uint32_t in_port_id, uint32_t vni)
{
    uint64_t a = UINT64_C(0x9e3779b97f4a7c15);
    uint64_t b = UINT64_C(0xc2b2ae3d27d4eb4f);
    uint64_t c = UINT64_C(0x165667b19e3779f9);
    uint64_t d = UINT64_C(0x27d4eb2f165667c5);
    uint64_t h;

    a = mix(a, (uint64_t)in_port_id << 32 | vni);
    b = mix(b, FLOW_WORD(flow, eth_dst, 0));
    c = mix(c, FLOW_WORD(flow, eth_dst, 8));
    d = mix(d, FLOW_WORD(flow, vlan_tpid, 0));
    a = mix(a, FLOW_WORD(flow, ip_src, 0));
    b = mix(b, FLOW_WORD(flow, ip_src, 8));
    c = mix(c, FLOW_WORD(flow, ip_dst, 0));
    d = mix(d, FLOW_WORD(flow, ip_dst, 8));
    a = mix(a, FLOW_WORD(flow, tp_src, 0));
    b = mix(b, flow->flags & DECISION_FLAGS);
    h = a ^ (b << 17 | b >> 47) ^ (c << 31 | c >> 33) ^ (d << 47 | d >> 17);
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    return h ? h : 1;
}

uint64_t
vsw_flow_cache_key_init(struct vsw_flow_cache_key *key,
                        const struct vsw_flow_key *flow, uint32_t in_port_id)
{
    return vsw_flow_cache_key_init_vni(key, flow, in_port_id, 0);
}

uint64_t
vsw_flow_cache_key_init_vni(struct vsw_flow_cache_key *key,
                            const struct vsw_flow_key *flow,
                            uint32_t in_port_id, uint32_t vni)
{
    /* Zeroed first so that padding bytes compare and hash equal. */
    memset(key, 0, sizeof *key);
    key->in_port_id = in_port_id;
    key->vni = vni;
    key->flags = flow->flags & DECISION_FLAGS;
    memcpy(key->eth_dst, flow->eth_dst, sizeof key->eth_dst);
    memcpy(key->eth_src, flow->eth_src, sizeof key->eth_src);
    key->eth_type = flow->eth_type;
    key->n_vlans = flow->n_vlans;
    key->ip_proto = flow->ip_proto;
    memcpy(key->vlan_tpid, flow->vlan_tpid, sizeof key->vlan_tpid);
    memcpy(key->vlan_tci, flow->vlan_tci, sizeof key->vlan_tci);
    memcpy(key->ip_src, flow->ip_src, sizeof key->ip_src);
    memcpy(key->ip_dst, flow->ip_dst, sizeof key->ip_dst);
    key->tp_src = flow->tp_src;
    key->tp_dst = flow->tp_dst;
    key->arp_op = flow->arp_op;
    key->icmp_type = flow->icmp_type;
    key->icmp_code = flow->icmp_code;
    memcpy(key->arp_sha, flow->arp_sha, sizeof key->arp_sha);
    memcpy(key->nd_target, flow->nd_target, sizeof key->nd_target);
    return hash_flow(flow, in_port_id, vni);
}

static struct vsw_flow_cache_entry *
cache_set(struct vsw_flow_cache *cache, uint64_t hash)
{
    return &cache->entries[(hash & cache->set_mask) * VSW_FLOW_CACHE_WAYS];
}

/* Only the owning worker writes the statistics. */
static void
count(_Atomic uint64_t *counter)
{
    atomic_store_explicit(
        counter, atomic_load_explicit(counter, memory_order_relaxed) + 1,
        memory_order_relaxed);
}

struct vsw_flow_cache_entry *
vsw_flow_cache_lookup(struct vsw_flow_cache *cache,
                      const struct vsw_flow_cache_key *key, uint64_t hash,
                      uint64_t snap_gen, uint64_t fdb_gen)
{
    struct vsw_flow_cache_entry *set = cache_set(cache, hash);

    count(&cache->lookups);
    for (int way = 0; way < VSW_FLOW_CACHE_WAYS; way++) {
        struct vsw_flow_cache_entry *e = &set[way];

        if (e->hash == hash && e->snap_gen == snap_gen &&
            e->fdb_gen == fdb_gen && !memcmp(&e->key, key, sizeof *key)) {
            count(&cache->hits);
            return e;
        }
    }
    return NULL;
}

struct vsw_flow_cache_entry *
vsw_flow_cache_insert(struct vsw_flow_cache *cache,
                      const struct vsw_flow_cache_key *key, uint64_t hash,
                      uint64_t snap_gen, uint64_t fdb_gen, int64_t now_ms,
                      const struct vsw_flow_cache_action *action)
{
    uint32_t set_index = (uint32_t)(hash & cache->set_mask);
    struct vsw_flow_cache_entry *set = cache_set(cache, hash);
    struct vsw_flow_cache_entry *e = NULL;

    /* Reuse the flow's own stale entry or an empty way before evicting. */
    for (int way = 0; way < VSW_FLOW_CACHE_WAYS && !e; way++) {
        if (!set[way].hash || (set[way].hash == hash &&
                               !memcmp(&set[way].key, key, sizeof *key))) {
            e = &set[way];
        }
    }
    /* Counted on insertion only, which runs once per new flow. */
    if (e && !e->hash) {
        count(&cache->used);
    } else if (!e) {
        count(&cache->evictions);
        e = &set[cache->next_victim[set_index]];
        cache->next_victim[set_index] =
            (cache->next_victim[set_index] + 1) % VSW_FLOW_CACHE_WAYS;
    }
    count(&cache->inserts);
    memcpy(&e->key, key, sizeof e->key);
    e->hash = hash;
    e->snap_gen = snap_gen;
    e->fdb_gen = fdb_gen;
    e->learned_ms = now_ms;
    e->action = *action;
    return e;
}

void
vsw_flow_cache_get_stats(const struct vsw_flow_cache *cache,
                         struct vsw_flow_cache_stats *stats)
{
    stats->lookups =
        atomic_load_explicit(&cache->lookups, memory_order_relaxed);
    stats->hits = atomic_load_explicit(&cache->hits, memory_order_relaxed);
    stats->inserts =
        atomic_load_explicit(&cache->inserts, memory_order_relaxed);
    stats->used = atomic_load_explicit(&cache->used, memory_order_relaxed);
    stats->size = (uint64_t)(cache->set_mask + 1) * VSW_FLOW_CACHE_WAYS;
    stats->evictions =
        atomic_load_explicit(&cache->evictions, memory_order_relaxed);
}
