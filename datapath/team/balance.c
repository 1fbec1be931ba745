/*
 * Member selection of a NIC team: the hashes, the choice per frame and
 * the placement of source ports for lb=port.  See balance.h.
 */
#include "balance.h"

#include <stdio.h>
#include <string.h>

/* FNV-1a over 'len' bytes, continuing from 'hash'. */
static uint32_t
hash_bytes(uint32_t hash, const void *data, size_t len)
{
    const uint8_t *p = data;

    for (size_t i = 0; i < len; i++) {
        hash = (hash ^ p[i]) * 16777619u;
    }
    return hash;
}

/* Mixes the bits of 'hash' so that its low bits, which pick the member,
 * depend on all of them. */
static uint32_t
hash_finish(uint32_t hash)
{
    hash ^= hash >> 16;
    hash *= 0x7feb352dU;
    hash ^= hash >> 15;
    hash *= 0x846ca68bU;
    hash ^= hash >> 16;
    return hash;
}

static bool
key_is_ip(const struct vsw_flow_key *key)
{
    return (key->eth_type == VSW_ETH_TYPE_IPV4 ||
            key->eth_type == VSW_ETH_TYPE_IPV6) &&
           key->l3_ofs && !(key->flags & VSW_FLOW_F_L3_MALFORMED);
}

uint32_t
vsw_team_hash_mac(const struct vsw_flow_key *key)
{
    uint32_t hash = 2166136261u;

    hash = hash_bytes(hash, key->eth_src, sizeof key->eth_src);
    hash = hash_bytes(hash, key->eth_dst, sizeof key->eth_dst);
    return hash_finish(hash);
}

uint32_t
vsw_team_hash_ip(const struct vsw_flow_key *key)
{
    uint32_t hash = 2166136261u;

    if (!key_is_ip(key)) {
        return vsw_team_hash_mac(key);
    }
    hash = hash_bytes(hash, key->ip_src, sizeof key->ip_src);
    hash = hash_bytes(hash, key->ip_dst, sizeof key->ip_dst);
    return hash_finish(hash);
}

uint32_t
vsw_team_hash_address(const struct vsw_flow_key *key)
{
    uint32_t hash = 2166136261u;

    /* Fragments go by their addresses alone: the later ones carry no
     * ports, and all of a datagram must take one member. */
    if (!key_is_ip(key) || (key->flags & VSW_FLOW_F_FRAGMENT) ||
        (key->ip_proto != 6 && key->ip_proto != 17) || !key->l4_ofs ||
        (key->flags & VSW_FLOW_F_L4_TRUNCATED)) {
        return vsw_team_hash_ip(key);
    }
    hash = hash_bytes(hash, key->ip_src, sizeof key->ip_src);
    hash = hash_bytes(hash, key->ip_dst, sizeof key->ip_dst);
    hash = hash_bytes(hash, &key->ip_proto, sizeof key->ip_proto);
    hash = hash_bytes(hash, &key->tp_src, sizeof key->tp_src);
    hash = hash_bytes(hash, &key->tp_dst, sizeof key->tp_dst);
    return hash_finish(hash);
}

/* The active member with the least load: its rate at the last sample
 * plus, for each flowlet placed on it since, an average member's rate. */
static uint8_t
least_loaded(const struct vsw_team_map *map,
             struct vsw_team_flowlets *flowlets)
{
    uint64_t total = 0;
    uint64_t share;
    uint64_t best_load = UINT64_MAX;
    uint8_t best = map->active[0];

    for (unsigned i = 0; i < map->n_active; i++) {
        total += atomic_load_explicit(&flowlets->load_bps[map->active[i]],
                                      memory_order_relaxed);
    }
    /* A placed flowlet counts as a member's average rate (at least a
     * nominal 1 Mbit/s, so that placements count when all is idle). */
    share = total / map->n_active + 1000000;
    for (unsigned i = 0; i < map->n_active; i++) {
        uint8_t m = map->active[i];
        uint64_t load = atomic_load_explicit(&flowlets->load_bps[m],
                                             memory_order_relaxed) +
                        share * atomic_load_explicit(&flowlets->placed[m],
                                                     memory_order_relaxed);

        if (load < best_load) {
            best_load = load;
            best = m;
        }
    }
    return best;
}

/* lb=dynamic: the member of the flow with address hash 'hash' at
 * 'now_ns'. */
static uint8_t
select_flowlet(const struct vsw_team_map *map, uint32_t hash, uint64_t now_ns)
{
    struct vsw_team_flowlets *flowlets = map->flowlets;
    struct vsw_team_flowlet *slot =
        &flowlets->slots[hash % VSW_TEAM_FLOWLET_SLOTS];
    uint64_t last = atomic_load_explicit(&slot->last_ns, memory_order_relaxed);
    uint8_t member = atomic_load_explicit(&slot->member, memory_order_relaxed);
    uint8_t chosen;

    if (last &&
        now_ns - last <=
            atomic_load_explicit(&flowlets->gap_ns, memory_order_relaxed) &&
        member < VSW_LACP_MAX_MEMBERS && ((map->active_mask >> member) & 1)) {
        /* Within the flowlet: where its frames went. */
        if (now_ns != last) {
            atomic_store_explicit(&slot->last_ns, now_ns,
                                  memory_order_relaxed);
        }
        return member;
    }
    chosen = least_loaded(map, flowlets);
    if (last && chosen != member) {
        atomic_fetch_add_explicit(&flowlets->moves, 1, memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&flowlets->placed[chosen], 1,
                              memory_order_relaxed);
    atomic_store_explicit(&slot->member, chosen, memory_order_relaxed);
    atomic_store_explicit(&slot->last_ns, now_ns, memory_order_relaxed);
    return chosen;
}

static uint32_t
ipv4_word(const uint8_t ip[4])
{
    return (uint32_t)ip[0] << 24 | (uint32_t)ip[1] << 16 |
           (uint32_t)ip[2] << 8 | ip[3];
}

uint8_t
vsw_team_rlb_member(const struct vsw_team_map *map, const uint8_t ip[4])
{
    if (!map->n_active) {
        return VSW_TEAM_NO_MEMBER;
    }
    return map
        ->active[hash_finish(hash_bytes(2166136261u, ip, 4)) % map->n_active];
}

void
vsw_team_ip_learn(struct vsw_team_ip_table *table, const uint8_t ip[4],
                  const uint8_t mac[6])
{
    uint32_t addr = ipv4_word(ip);
    _Atomic uint64_t *slot =
        table->slots[hash_finish(addr) % VSW_TEAM_RLB_SLOTS];
    uint64_t w0 = (uint64_t)addr << 16 | (uint64_t)mac[0] << 8 | mac[1];
    uint64_t w1 = (uint64_t)addr << 32 | (uint64_t)mac[2] << 24 |
                  (uint64_t)mac[3] << 16 | (uint64_t)mac[4] << 8 | mac[5];

    if (!addr) {
        return;
    }
    if (atomic_load_explicit(&slot[0], memory_order_relaxed) != w0 ||
        atomic_load_explicit(&slot[1], memory_order_relaxed) != w1) {
        atomic_store_explicit(&slot[0], w0, memory_order_relaxed);
        atomic_store_explicit(&slot[1], w1, memory_order_relaxed);
    }
}

/* The entry of 'slot' if both its words carry one address. */
static bool
ip_slot_read(const _Atomic uint64_t *slot, uint32_t *addr, uint8_t mac[6])
{
    uint64_t w0 = atomic_load_explicit(&slot[0], memory_order_relaxed);
    uint64_t w1 = atomic_load_explicit(&slot[1], memory_order_relaxed);

    /* Not one half rewritten for another address (a change of the same
     * address's MAC can mix, which a frame survives as a frame to a moved
     * VM would). */
    if (!w0 || (uint32_t)(w0 >> 16) != (uint32_t)(w1 >> 32)) {
        return false;
    }
    *addr = (uint32_t)(w0 >> 16);
    mac[0] = (uint8_t)(w0 >> 8);
    mac[1] = (uint8_t)w0;
    mac[2] = (uint8_t)(w1 >> 24);
    mac[3] = (uint8_t)(w1 >> 16);
    mac[4] = (uint8_t)(w1 >> 8);
    mac[5] = (uint8_t)w1;
    return true;
}

bool
vsw_team_ip_lookup(const struct vsw_team_ip_table *table, const uint8_t ip[4],
                   uint8_t mac[6])
{
    uint32_t addr = ipv4_word(ip);
    uint32_t found;

    return addr &&
           ip_slot_read(table->slots[hash_finish(addr) % VSW_TEAM_RLB_SLOTS],
                        &found, mac) &&
           found == addr;
}

bool
vsw_team_ip_slot(const struct vsw_team_ip_table *table, unsigned slot,
                 uint8_t ip[4], uint8_t mac[6])
{
    uint32_t addr;

    if (slot >= VSW_TEAM_RLB_SLOTS ||
        !ip_slot_read(table->slots[slot], &addr, mac)) {
        return false;
    }
    ip[0] = (uint8_t)(addr >> 24);
    ip[1] = (uint8_t)(addr >> 16);
    ip[2] = (uint8_t)(addr >> 8);
    ip[3] = (uint8_t)addr;
    return true;
}

void
vsw_team_flowlets_sample(struct vsw_team_flowlets *flowlets,
                         const uint64_t *tx_bps, unsigned n_members)
{
    for (unsigned m = 0; m < n_members && m < VSW_LACP_MAX_MEMBERS; m++) {
        atomic_store_explicit(&flowlets->load_bps[m], tx_bps[m],
                              memory_order_relaxed);
        atomic_store_explicit(&flowlets->placed[m], 0, memory_order_relaxed);
    }
}

uint8_t
vsw_team_select(const struct vsw_team_map *map, const struct vsw_flow_key *key,
                uint32_t in_port_id, uint64_t now_ns)
{
    uint32_t hash;

    if (!map->n_active) {
        return VSW_TEAM_NO_MEMBER;
    }
    if (map->n_active == 1) {
        return map->active[0];
    }
    switch (map->lb) {
    case VSW_TEAM_LB_PORT: {
        uint8_t member = map->pins[VSW_FDB_SLOT(in_port_id)];

        if (member < VSW_LACP_MAX_MEMBERS &&
            (map->active_mask >> member) & 1) {
            return member;
        }
        /* A port the control thread has not placed yet (added with this
         * snapshot): by its slot, until it is. */
        hash = hash_finish(VSW_FDB_SLOT(in_port_id));
        break;
    }
    case VSW_TEAM_LB_MAC_HASH:
        hash = vsw_team_hash_mac(key);
        break;
    case VSW_TEAM_LB_IP_HASH:
        hash = vsw_team_hash_ip(key);
        break;
    case VSW_TEAM_LB_DYNAMIC:
        if (map->flowlets) {
            return select_flowlet(map, vsw_team_hash_address(key), now_ns);
        }
        hash = vsw_team_hash_address(key);
        break;
    default:
        hash = vsw_team_hash_address(key);
        break;
    }
    return map->active[hash % map->n_active];
}

uint8_t
vsw_team_explain(const struct vsw_team_map *map,
                 const struct vsw_flow_key *key, uint32_t in_port_id,
                 uint64_t now_ns, char *why, size_t size)
{
    /* Which hash each lb takes (lb=dynamic: for its flowlet table). */
    static const char *const hash_names[] = {
        [VSW_TEAM_LB_ADDRESS_HASH] = "address-hash (L4 ports, IPs)",
        [VSW_TEAM_LB_IP_HASH] = "ip-hash",
        [VSW_TEAM_LB_MAC_HASH] = "mac-hash",
        [VSW_TEAM_LB_PORT] = "address-hash (L4 ports, IPs)",
        [VSW_TEAM_LB_DYNAMIC] = "address-hash (L4 ports, IPs)",
    };
    const char *hash_name =
        hash_names[map->lb < VSW_TEAM_LB_DYNAMIC ? map->lb
                                                 : VSW_TEAM_LB_DYNAMIC];
    uint32_t hash;

    if (!map->n_active) {
        snprintf(why, size, "no active member");
        return VSW_TEAM_NO_MEMBER;
    }
    if (map->n_active == 1) {
        snprintf(why, size, "the only active member");
        return map->active[0];
    }
    switch (map->lb) {
    case VSW_TEAM_LB_PORT: {
        uint8_t member = map->pins[VSW_FDB_SLOT(in_port_id)];

        if (member < VSW_LACP_MAX_MEMBERS &&
            (map->active_mask >> member) & 1) {
            snprintf(why, size, "lb=port: the source port's pin");
            return member;
        }
        hash = hash_finish(VSW_FDB_SLOT(in_port_id));
        snprintf(why, size,
                 "lb=port: source port not pinned yet, by its slot %u %% %u "
                 "active",
                 VSW_FDB_SLOT(in_port_id), map->n_active);
        return map->active[hash % map->n_active];
    }
    case VSW_TEAM_LB_MAC_HASH:
        hash = vsw_team_hash_mac(key);
        break;
    case VSW_TEAM_LB_IP_HASH:
        hash = vsw_team_hash_ip(key);
        break;
    default:
        hash = vsw_team_hash_address(key);
        break;
    }
    if (map->lb == VSW_TEAM_LB_DYNAMIC && map->flowlets) {
        const struct vsw_team_flowlet *slot =
            &map->flowlets->slots[hash % VSW_TEAM_FLOWLET_SLOTS];
        uint64_t last =
            atomic_load_explicit(&slot->last_ns, memory_order_relaxed);
        uint8_t member =
            atomic_load_explicit(&slot->member, memory_order_relaxed);
        uint64_t gap =
            atomic_load_explicit(&map->flowlets->gap_ns, memory_order_relaxed);

        if (last && now_ns - last <= gap && member < VSW_LACP_MAX_MEMBERS &&
            ((map->active_mask >> member) & 1)) {
            snprintf(why, size,
                     "lb=dynamic: within its flowlet (last frame %llu us "
                     "ago, gap %llu us), %s 0x%08x",
                     (unsigned long long)((now_ns - last) / 1000),
                     (unsigned long long)(gap / 1000), hash_name, hash);
            return member;
        }
        member = least_loaded(map, map->flowlets);
        snprintf(why, size,
                 "lb=dynamic: a new flowlet (no frame of its flow within "
                 "%llu us) goes to the least loaded member, %s 0x%08x",
                 (unsigned long long)(gap / 1000), hash_name, hash);
        return member;
    }
    snprintf(why, size, "%s 0x%08x %% %u active", hash_name, hash,
             map->n_active);
    return map->active[hash % map->n_active];
}

void
vsw_team_pins_rebalance(uint8_t *pins, const bool *used, unsigned n_slots,
                        uint32_t active_mask, bool members_came)
{
    unsigned load[VSW_LACP_MAX_MEMBERS] = {0};
    unsigned n_active = 0;

    for (unsigned m = 0; m < VSW_LACP_MAX_MEMBERS; m++) {
        n_active += (active_mask >> m) & 1;
    }
    /* Slots that are gone or whose member left lose their pin. */
    for (unsigned s = 0; s < n_slots; s++) {
        if (!used[s] || !n_active || pins[s] >= VSW_LACP_MAX_MEMBERS ||
            !((active_mask >> pins[s]) & 1)) {
            pins[s] = VSW_TEAM_NO_MEMBER;
        } else {
            load[pins[s]]++;
        }
    }
    if (!n_active) {
        return;
    }
    for (unsigned s = 0; s < n_slots; s++) {
        unsigned best = VSW_LACP_MAX_MEMBERS;

        if (!used[s] || pins[s] != VSW_TEAM_NO_MEMBER) {
            continue;
        }
        for (unsigned m = 0; m < VSW_LACP_MAX_MEMBERS; m++) {
            if (((active_mask >> m) & 1) &&
                (best == VSW_LACP_MAX_MEMBERS || load[m] < load[best])) {
                best = m;
            }
        }
        pins[s] = (uint8_t)best;
        load[best]++;
    }
    /* Even out: move one slot at a time from the fullest member to the
     * emptiest while they differ by more than one. */
    while (members_came) {
        unsigned most = VSW_LACP_MAX_MEMBERS, least = VSW_LACP_MAX_MEMBERS;

        for (unsigned m = 0; m < VSW_LACP_MAX_MEMBERS; m++) {
            if (!((active_mask >> m) & 1)) {
                continue;
            }
            if (most == VSW_LACP_MAX_MEMBERS || load[m] > load[most]) {
                most = m;
            }
            if (least == VSW_LACP_MAX_MEMBERS || load[m] < load[least]) {
                least = m;
            }
        }
        if (load[most] <= load[least] + 1) {
            break;
        }
        /* The last slot of the fullest member moves. */
        for (unsigned s = n_slots; s-- > 0;) {
            if (used[s] && pins[s] == most) {
                pins[s] = (uint8_t)least;
                load[most]--;
                load[least]++;
                break;
            }
        }
    }
}

int
vsw_team_rx_check(const struct vsw_team_map *map, uint8_t member,
                  const struct vsw_flow_key *key, const struct vsw_fdb *fdb,
                  uint16_t untagged_vlan, int64_t now_ms)
{
    uint32_t learned;
    uint16_t vlan;

    if (member >= VSW_LACP_MAX_MEMBERS ||
        !((map->active_mask >> member) & 1)) {
        return VSW_DROP_TEAM_INACTIVE;
    }
    if (map->mode != VSW_TEAM_SWITCH_INDEPENDENT) {
        /* The physical switch treats the members as one link: it neither
         * floods to two of them nor sends a frame back. */
        return -1;
    }
    if ((key->eth_dst[0] & 1) && member != map->flood_member) {
        return VSW_DROP_TEAM_FLOOD_MEMBER;
    }
    vlan = key->n_vlans ? (uint16_t)(key->vlan_tci[0] & 0xfff) : untagged_vlan;
    learned = vsw_fdb_lookup(fdb, vlan, key->eth_src, now_ms);
    if (learned != VSW_FDB_NO_PORT && learned != map->port_id) {
        return VSW_DROP_TEAM_REFLECTED;
    }
    return -1;
}
