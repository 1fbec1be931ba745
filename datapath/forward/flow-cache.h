/*
 * The flow cache: each worker remembers what the pipeline decided for a
 * flow, so the full ingress pipeline runs once per flow and later frames
 * of the flow take the cached decision.
 *
 * Key: the input port and every field of the parsed flow key that any
 * stage decides on (addresses, VLAN tags, protocol, ports, ICMP type, ARP
 * opcode and the structural flags), not lengths or offsets, which change
 * from frame to frame of one flow.
 *
 * Staleness: an entry records the generation of the configuration
 * snapshot and of the input switch's MAC table it was made under, and is
 * only used while both are unchanged.  Any configuration change, and any
 * MAC added, moved or removed, therefore retires every entry it could
 * affect before the next frame is looked up; no frame ever gets a verdict
 * from an older configuration.
 *
 * Size: a fixed number of entries per worker, 4-way set associative with
 * least-recently-filled replacement; a flood of new flows only evicts.
 *
 * Threads: one cache per worker, used by that worker only; no locks.
 */
#ifndef VSW_FLOW_CACHE_H
#define VSW_FLOW_CACHE_H 1

#include <stdbool.h>
#include <stdint.h>

#include "flow.h"

#define VSW_FLOW_CACHE_WAYS 4

/* The part of a flow that decides its fate. */
struct vsw_flow_cache_key {
    uint32_t in_port_id;                    /* input port */
    uint32_t vni;                           /* tenant network (a tunnel
                                               port carries several) */
    uint32_t flags;                         /* structural VSW_FLOW_F_* flags */
    uint8_t eth_dst[6];                     /* destination MAC */
    uint8_t eth_src[6];                     /* source MAC */
    uint16_t eth_type;                      /* ethertype after recorded tags */
    uint8_t n_vlans;                        /* tags seen */
    uint8_t ip_proto;                       /* upper-layer protocol */
    uint16_t vlan_tpid[VSW_FLOW_MAX_VLANS]; /* tag types */
    uint16_t vlan_tci[VSW_FLOW_MAX_VLANS];  /* tag contents */
    uint8_t ip_src[16];                     /* source address */
    uint8_t ip_dst[16];                     /* destination address */
    uint16_t tp_src;                        /* transport source port */
    uint16_t tp_dst;                        /* transport destination port */
    uint16_t arp_op;                        /* ARP opcode */
    uint8_t icmp_type;                      /* ICMP type */
    uint8_t icmp_code;                      /* ICMP code */
    uint8_t arp_sha[6];    /* ARP sender MAC (the MAC guard reads it) */
    uint8_t nd_target[16]; /* ND target (the IP guard reads it) */
};

struct vsw_rule_counters;

/* Most rule counters one frame's ACL verdict touches in one direction:
 * the extended rule, and the basic IP, MAC and meter rules. */
#define VSW_FLOW_CACHE_MAX_RULES 4

/* How a cached ACL verdict depends on flow state (conntrack.h). */
enum vsw_flow_cache_ct_check {
    VSW_FLOW_CACHE_CT_NONE,       /* not at all */
    VSW_FLOW_CACHE_CT_FLOW,       /* admitted by its flow: a hit looks the
                                     flow up, which restarts its idle
                                     timer, and misses if it is gone */
    VSW_FLOW_CACHE_CT_GENERATION, /* the port has stateful rules, and the
                                     verdict came from them without a
                                     flow: right while no flow is made or
                                     removed ('ct_gen' unchanged) */
};

/* What the input port's ACLs ("acl-out"), or the destination's
 * ("acl-in"), did to a flow's frames: the counters a hit adds its frames
 * to, exactly as the stage would.  The
 * pointers are the snapshot's (policy.h), and an entry is only used
 * under the snapshot it was made in. */
struct vsw_flow_cache_policy {
    struct vsw_rule_counters *rules[VSW_FLOW_CACHE_MAX_RULES];
    uint8_t n_rules;  /* entries in 'rules' */
    uint8_t ct_check; /* enum vsw_flow_cache_ct_check */
    uint64_t ct_gen;  /* vsw_conntrack_generation() before the verdict */
};

/* What the pipeline decided for a flow. */
struct vsw_flow_cache_action {
    int16_t drop_reason;  /* enum vsw_drop_reason, or -1: forward */
    uint16_t vlan;        /* VLAN the frames belong to */
    uint16_t tag_vid;     /* VLAN id they carry on trunks */
    uint8_t pvlan_role;   /* enum vsw_pvlan_role */
    uint8_t pcp;          /* their priority */
    uint8_t tag_len;      /* ingress tag bytes left out on egress */
    uint8_t stage;        /* index of the ingress stage that decided: a
                             hit still runs the extension stages before
                             it */
    uint32_t out_port_id; /* the one destination port, when forwarding */
    struct vsw_flow_cache_policy policy; /* ACL counters and flow state */
    /* The destination's ACLs ("acl-in"), when it has any: */
    uint8_t in_judged;                      /* 1: the two below hold */
    int16_t in_verdict;                     /* -1 (pass) or drop reason */
    struct vsw_flow_cache_policy policy_in; /* its counters, flow state */
};

struct vsw_flow_cache_entry {
    struct vsw_flow_cache_key key;       /* the flow */
    uint64_t hash;                       /* hash of 'key', 0 = empty */
    uint64_t snap_gen;                   /* snapshot generation */
    uint64_t fdb_gen;                    /* MAC table generation */
    int64_t learned_ms;                  /* when its source MAC was last
                                            (re)learned */
    struct vsw_flow_cache_action action; /* the decision */
};

struct vsw_flow_cache;

/* Creates a cache of 'n_sets' (a power of two) sets of
 * VSW_FLOW_CACHE_WAYS entries.  Returns NULL on allocation failure. */
struct vsw_flow_cache *vsw_flow_cache_create(uint32_t n_sets);
void vsw_flow_cache_destroy(struct vsw_flow_cache *cache);

/* Fills 'key' from the parsed 'flow' of a frame received on 'in_port_id'
 * and returns its hash (never 0). */
uint64_t vsw_flow_cache_key_init(struct vsw_flow_cache_key *key,
                                 const struct vsw_flow_key *flow,
                                 uint32_t in_port_id);
/* The same for a frame of tenant network 'vni' (a tunnel port receives
 * several). */
uint64_t vsw_flow_cache_key_init_vni(struct vsw_flow_cache_key *key,
                                     const struct vsw_flow_key *flow,
                                     uint32_t in_port_id, uint32_t vni);

/* The entry for 'key' made under generations 'snap_gen' and 'fdb_gen', or
 * NULL on a miss. */
struct vsw_flow_cache_entry *
vsw_flow_cache_lookup(struct vsw_flow_cache *cache,
                      const struct vsw_flow_cache_key *key, uint64_t hash,
                      uint64_t snap_gen, uint64_t fdb_gen);

/* Records 'action' for 'key', replacing an older entry of its set.
 * Returns the entry. */
struct vsw_flow_cache_entry *
vsw_flow_cache_insert(struct vsw_flow_cache *cache,
                      const struct vsw_flow_cache_key *key, uint64_t hash,
                      uint64_t snap_gen, uint64_t fdb_gen, int64_t now_ms,
                      const struct vsw_flow_cache_action *action);

/* Lookups, hits and insertions so far. */
struct vsw_flow_cache_stats {
    uint64_t lookups;   /* vsw_flow_cache_lookup() calls */
    uint64_t hits;      /* of which found a valid entry */
    uint64_t inserts;   /* vsw_flow_cache_insert() calls */
    uint64_t used;      /* entries filled (an entry is reused, never
                           emptied) */
    uint64_t size;      /* entries in all */
    uint64_t evictions; /* insertions that replaced another flow's entry:
                           its set was full */
};
void vsw_flow_cache_get_stats(const struct vsw_flow_cache *cache,
                              struct vsw_flow_cache_stats *stats);

#endif /* VSW_FLOW_CACHE_H */
