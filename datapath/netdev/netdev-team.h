/*
 * The device of a NIC team port (FEATURES.md §9): a set of uplinks, the
 * members, seen by the workers as one netdev.
 *
 * Receive: the team's queues are its present members' AF_PACKET queues,
 * the g-th present member's queue q being team queue
 * g * queues_per_member + q, so workers poll
 * members like any uplink; each frame read is marked with its member
 * (vsw_packet.rx_member) for the team's receive rules (vsw_team_rx_check).
 * The members' worker sockets carry a BPF filter that leaves the slow
 * protocols (0x8809, LACP) to the control thread's socket per member.
 *
 * Transmit: vsw_team_tx() picks a member per frame with balance.c over the
 * snapshot's map and sends on that member's socket of the caller's queue.
 *
 * Counters: per member, received per receive queue (one poller at a time)
 * and sent per transmit queue (one worker each), so no two threads write
 * one counter.
 *
 * Threads: open, destroy, the slow-protocol sockets and the counter sums
 * on the control thread; rx and vsw_team_tx on workers.
 */
#ifndef VSW_NETDEV_TEAM_H
#define VSW_NETDEV_TEAM_H 1

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "balance.h"
#include "netdev.h"
#include "packet.h"

/* One member's counters, summed over queues. */
struct vsw_team_member_counters {
    uint64_t rx_packets;
    uint64_t rx_bytes;
    uint64_t tx_packets;
    uint64_t tx_bytes;
};

/* Opens the team device 'name' over the 'n_members' interfaces of
 * 'members' (each attached like an uplink with 'queues_per_member' queues
 * and 'offloads'), and one slow-protocol socket per member for the control
 * thread.  A member whose interface does not exist is left out (no
 * queues, vsw_netdev_team_member() NULL; '*bad_member' names the first
 * such), so deleting one member's interface does not stop the team.
 * With 'old' (the team's current device, or NULL), members that are still
 * the interfaces 'old' opened are taken over from it with their sockets
 * rather than opened again; 'old' then leaves them open when destroyed.
 * Stores it in '*netdevp' and returns 0, or a negative errno (-ENODEV: no
 * member exists; other errors: '*bad_member' says which failed). */
int vsw_netdev_team_open(const char *name, const char members[][IFNAMSIZ],
                         unsigned n_members, unsigned queues_per_member,
                         bool offloads, struct vsw_team_netdev *old,
                         struct vsw_netdev **netdevp, unsigned *bad_member);

/* The team device behind 'netdev', or NULL if it is no team. */
struct vsw_team_netdev *vsw_netdev_team_cast(struct vsw_netdev *netdev);

/* Member 'm''s uplink netdev, and whether its link is up with carrier. */
struct vsw_netdev *vsw_netdev_team_member(struct vsw_team_netdev *team,
                                          unsigned m);
unsigned vsw_netdev_team_n_members(const struct vsw_team_netdev *team);

/* True if the interfaces of the members are no longer those the device
 * opened: one was deleted (or replaced by another of its name), or a
 * missing one appeared.  The control thread then opens the device again. */
bool vsw_netdev_team_members_moved(const struct vsw_team_netdev *team);

/* The control thread's socket of member 'm' (ETH_P_SLOW: receives LACPDUs
 * and sends LACPDUs and announcements), non-blocking. */
int vsw_netdev_team_slow_fd(const struct vsw_team_netdev *team, unsigned m);

/* Sends the 'len'-byte frame 'frame' on member 'm' from the control
 * thread.  Returns 0 or a negative errno. */
int vsw_netdev_team_send_raw(struct vsw_team_netdev *team, unsigned m,
                             const void *frame, size_t len);

/* Sums member 'm''s counters. */
void vsw_netdev_team_counters(const struct vsw_team_netdev *team, unsigned m,
                              struct vsw_team_member_counters *out);

/* Worker: the receive rules of the team 'map' for 'pkt' (parsed), which
 * arrived on member pkt->rx_member (vsw_team_rx_check()): returns the
 * drop reason, or -1 to take it; with rx-balance, a frame for a member's
 * MAC then gets back the MAC of the VM its IPv4 destination is (the
 * Ethernet destination, and an ARP reply's target hardware address). */
int vsw_team_rx(const struct vsw_team_map *map, struct vsw_packet *pkt,
                const struct vsw_fdb *fdb, uint16_t untagged_vlan,
                int64_t now_ms);

/* Worker: sends the 'n' frames of 'items' of the team 'map' through
 * transmit queue 'queue', each on the member vsw_team_select() picks.
 * Returns and reports as a netdev's tx (frames for which no member is
 * active are refused with ENETDOWN). */
int vsw_team_tx(const struct vsw_team_map *map, unsigned queue,
                const struct vsw_tx_item *items, int n, int *error);

struct vsw_sched;
struct vsw_sched_result;
struct vsw_dp_snapshot;

/* Worker: queues the 'n' frames of 'items' of the team 'map' to its
 * minimum-bandwidth scheduler 'sched' (qos/scheduler.c), each for the
 * member vsw_team_select() picks now, in its class by 'snap'; rx-balance's
 * rewritten ARP frames go straight out through transmit queue 'queue'.
 * Fills '*result' (those ARP frames count as queued) and returns the wire
 * frames refused because no member is active. */
uint64_t vsw_team_sched_enqueue(const struct vsw_team_map *map,
                                struct vsw_sched *sched,
                                const struct vsw_dp_snapshot *snap,
                                unsigned queue,
                                const struct vsw_tx_item *items, int n,
                                struct vsw_sched_result *result);

struct vsw_trace;

/* Trace: a "team" step saying which member a frame leaving through the
 * team 'map' would take and which rule chose it (no side effects). */
void vsw_team_trace(const struct vsw_team_map *map,
                    const struct vsw_packet *pkt, struct vsw_trace *trace);

#endif /* VSW_NETDEV_TEAM_H */
