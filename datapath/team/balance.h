/*
 * Member selection of a NIC team (FEATURES.md §9): which member a frame
 * leaves on, and which frames a member may hand the switch.
 *
 * The control thread describes a team in a struct vsw_team_map: its mode,
 * balancing, the members carrying traffic now and, for lb=port, which
 * member each source port slot is pinned to.  A map is immutable once a
 * snapshot names it (vsw_dp_port.team); a change (a member fails, comes
 * back, a port is added) makes a new one.  The selection functions are
 * pure: the workers call them per frame on the transmit path, traces and
 * unit tests call them alike.
 */
#ifndef VSW_TEAM_BALANCE_H
#define VSW_TEAM_BALANCE_H 1

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "drop.h"
#include "fdb.h"
#include "flow.h"
#include "lacp.h"

/* Values of the "mode" setting. */
enum vsw_team_mode {
    VSW_TEAM_SWITCH_INDEPENDENT, /* no help from the physical switch */
    VSW_TEAM_STATIC,             /* a static link aggregation group */
    VSW_TEAM_LACP,               /* negotiated with LACP (802.1AX) */
};

/* Values of the "lb" setting. */
enum vsw_team_lb {
    VSW_TEAM_LB_ADDRESS_HASH, /* L4 ports, else IP addresses, else MACs */
    VSW_TEAM_LB_IP_HASH,      /* IP addresses, else MACs */
    VSW_TEAM_LB_MAC_HASH,     /* MAC addresses */
    VSW_TEAM_LB_PORT,         /* each source port pinned to a member */
    VSW_TEAM_LB_DYNAMIC,      /* flowlets, to the least loaded member */
};

/* No member (a pin for a slot nobody uses, or no active member). */
#define VSW_TEAM_NO_MEMBER 0xff

struct vsw_team_netdev;

/* lb=dynamic: flowlets.  A flow (its address hash) keeps its member while
 * its frames come less than 'gap_ns' apart; after a longer pause (longer
 * than any queueing difference between the members, so the frames on the
 * old member have left before the first on the new one) its next frame
 * starts a new flowlet, placed on the least loaded active member.  One
 * table per team, outliving snapshots; workers update it with relaxed
 * atomics (no lock, no allocation); a slot two flows share is one flow
 * to it, which only makes their flowlets shorter. */
#define VSW_TEAM_FLOWLET_SLOTS  4096
#define VSW_TEAM_FLOWLET_GAP_NS 500000 /* 500 us, the default */
/* The team setting flowlet-gap (µs): the gap must exceed the largest
 * difference in delay between the members' paths (queues, links,
 * switches) or a flowlet's first frame may overtake its predecessor's
 * last one; too long and flows rarely get the chance to move.  Veths and
 * one NIC's queues differ by microseconds, two switches' paths by tens to
 * hundreds: 500 µs is safe for a LAN; the range stops at 1 s. */
#define VSW_TEAM_FLOWLET_GAP_DEFAULT_US 500
#define VSW_TEAM_FLOWLET_GAP_MIN_US     10
#define VSW_TEAM_FLOWLET_GAP_MAX_US     1000000

struct vsw_team_flowlet {
    _Atomic uint64_t last_ns; /* when the flow last sent, 0: never */
    _Atomic uint8_t member;   /* where its current flowlet goes */
};

/* rx-balance (switch-independent): the VMs' ARP leaving the team carries,
 * per peer, the MAC of one member (vsw_team_rlb_member() of the peer's
 * address) instead of the VM's, and leaves through that member, so each
 * peer sends to the VM through "its" member and inbound traffic of
 * several peers spreads over the members.  A frame that arrives for a
 * member's MAC is given back the VM's MAC, found by its IPv4 destination
 * in 'vms', which the ARP leaving fills.  A VM's broadcast ARP request
 * reaches every peer, which all take the one MAC it carries: the workers
 * note the VM in 'announce', and the control thread then tells each peer
 * of 'peers' (filled from the ARP that arrives) its own member's MAC for
 * that VM, in a unicast ARP reply.  One table set per team, outliving
 * snapshots; an address table's slots are two words that both carry the
 * address, so a reader never takes half of another entry. */
#define VSW_TEAM_RLB_SLOTS    1024
#define VSW_TEAM_RLB_ANNOUNCE 16

struct vsw_team_ip_table {
    _Atomic uint64_t slots[VSW_TEAM_RLB_SLOTS][2];
};

struct vsw_team_rlb {
    struct vsw_team_ip_table vms;   /* VM address -> its MAC */
    struct vsw_team_ip_table peers; /* peer address -> its MAC */
    _Atomic uint32_t announce[VSW_TEAM_RLB_ANNOUNCE]; /* VM addresses
                                                         (host order) whose
                                                         peers need telling,
                                                         0: none */
};

struct vsw_team_flowlets {
    _Atomic uint64_t gap_ns; /* the pause that ends a flowlet (the team's
                                flowlet-gap, set at each publish) */
    /* Control thread, each second: bit/s each member sent. */
    _Atomic uint64_t load_bps[VSW_LACP_MAX_MEMBERS];
    /* Workers: flowlets placed on each member since that sample, each
     * counting as a share of the load, so that a burst of new flowlets
     * does not all land on the member that was idlest a second ago. */
    _Atomic uint32_t placed[VSW_LACP_MAX_MEMBERS];
    _Atomic uint64_t moves; /* flowlets that changed member */
    struct vsw_team_flowlet slots[VSW_TEAM_FLOWLET_SLOTS];
};

/* One team as a snapshot sees it. */
struct vsw_team_map {
    struct vsw_team_netdev *netdev;       /* the team's device (not owned) */
    uint32_t port_id;                     /* the team port's id */
    uint8_t mode;                         /* enum vsw_team_mode */
    uint8_t lb;                           /* enum vsw_team_lb */
    uint8_t n_members;                    /* configured members */
    uint8_t n_active;                     /* entries in 'active' */
    uint8_t active[VSW_LACP_MAX_MEMBERS]; /* members carrying traffic, in
                                             member order */
    uint32_t active_mask;                 /* the same, one bit each */
    uint8_t flood_member; /* switch-independent: the one member broadcast
                             and multicast are taken from, or
                             VSW_TEAM_NO_MEMBER */
    uint8_t pins[VSW_FDB_MAX_SLOTS];    /* lb=port: member per source port
                                           slot */
    struct vsw_team_flowlets *flowlets; /* lb=dynamic: the team's table
                                           (not owned), else NULL */
    struct vsw_team_rlb *rlb;           /* rx-balance: the team's table of VM
                                           addresses (not owned), else NULL */
    uint8_t member_mac[VSW_LACP_MAX_MEMBERS][6]; /* each member's MAC */
};

/* rx-balance: the member whose MAC a peer with IPv4 address 'ip' (network
 * order bytes) learns for our VMs. */
uint8_t vsw_team_rlb_member(const struct vsw_team_map *map,
                            const uint8_t ip[4]);

/* rx-balance, any thread: notes that IPv4 address 'ip' has 'mac'. */
void vsw_team_ip_learn(struct vsw_team_ip_table *table, const uint8_t ip[4],
                       const uint8_t mac[6]);

/* rx-balance, any thread: the MAC of IPv4 address 'ip' into 'mac'.
 * Returns false if it is unknown. */
bool vsw_team_ip_lookup(const struct vsw_team_ip_table *table,
                        const uint8_t ip[4], uint8_t mac[6]);

/* rx-balance, control thread: the address and MAC in slot 'slot' of
 * 'table'; false if the slot is empty. */
bool vsw_team_ip_slot(const struct vsw_team_ip_table *table, unsigned slot,
                      uint8_t ip[4], uint8_t mac[6]);

/* The hashes behind the lb modes, over the parsed key of a frame.  Equal
 * for both directions of a flow is not needed: a team only picks the
 * member a frame leaves on. */
uint32_t vsw_team_hash_mac(const struct vsw_flow_key *key);
uint32_t vsw_team_hash_ip(const struct vsw_flow_key *key);
uint32_t vsw_team_hash_address(const struct vsw_flow_key *key);

/* For traces: the member vsw_team_select() would give now, without its
 * side effects (lb=dynamic's flowlet is read, not updated), and in 'why'
 * (at most 'size' bytes) which rule chose it: the pin, the hash and its
 * value, the flowlet. */
uint8_t vsw_team_explain(const struct vsw_team_map *map,
                         const struct vsw_flow_key *key, uint32_t in_port_id,
                         uint64_t now_ns, char *why, size_t size);

/* The member frame 'key' from port 'in_port_id' leaves on at 'now_ns'
 * (CLOCK_MONOTONIC; only lb=dynamic reads it, and updates its flowlet),
 * or VSW_TEAM_NO_MEMBER if no member is active. */
uint8_t vsw_team_select(const struct vsw_team_map *map,
                        const struct vsw_flow_key *key, uint32_t in_port_id,
                        uint64_t now_ns);

/* lb=dynamic: the control thread's sample of each member's rate
 * ('tx_bps', by member index); forgets the flowlets placed since the last
 * one. */
void vsw_team_flowlets_sample(struct vsw_team_flowlets *flowlets,
                              const uint64_t *tx_bps, unsigned n_members);

/* lb=port: places the source port slots marked in 'used' on the members
 * of 'active_mask', moving as few as possible: a slot keeps its member
 * while that member is active; a new slot, or one whose member left,
 * goes to the member with the fewest.  With 'members_came' (a member
 * joined the active set since the last call), slots then move one at a
 * time from the fullest member to the emptiest until their shares differ
 * by at most one; ports that come and go never move the others.  Slots
 * not in 'used' get VSW_TEAM_NO_MEMBER.  'pins' has 'n_slots' entries
 * and is updated in place. */
void vsw_team_pins_rebalance(uint8_t *pins, const bool *used, unsigned n_slots,
                             uint32_t active_mask, bool members_came);

/* The receive rules of a team (FEATURES.md §9), for a frame with parsed
 * 'key' that arrived on member 'member' of the team 'map': returns the
 * drop reason (enum vsw_drop_reason) or -1 to take it.  A member that
 * carries no traffic takes nothing; a switch-independent team takes
 * broadcast and multicast from its flood member only, and drops frames
 * whose source MAC the switch learned on another port ('fdb', where an
 * untagged frame is in VLAN 'untagged_vlan'): the physical switch
 * reflected our own frame.  Worker, lock-free. */
int vsw_team_rx_check(const struct vsw_team_map *map, uint8_t member,
                      const struct vsw_flow_key *key,
                      const struct vsw_fdb *fdb, uint16_t untagged_vlan,
                      int64_t now_ms);

#endif /* VSW_TEAM_BALANCE_H */
