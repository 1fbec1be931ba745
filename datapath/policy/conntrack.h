/*
 * Flow state of the stateful extended ACL rules: the table that lets the
 * reply of an allowed connection back in.
 *
 * A stateful allow rule that matches a packet records its flow here
 * (vsw_conntrack_insert()); from then on every packet of that flow, in
 * either direction, is admitted by vsw_conntrack_lookup() before any
 * weighted rule is looked at, until no packet has passed either way for
 * the idle timeout of the rule that created it.  xacl.h's
 * vsw_xacl_evaluate() is the one caller on the packet path.
 *
 * The flow.  A flow is (port id, VLAN, IP protocol, the two endpoints),
 * with an endpoint being an address and a port, normalized so that a
 * packet and its reply give the same flow:
 *   - TCP and UDP: the transport ports.
 *   - ICMP and ICMPv6: the frame parser keeps no echo identifier, so both
 *     endpoints' "port" is the message kind: the request type of a
 *     request/reply pair (echo, timestamp, information and address mask
 *     for ICMP; echo and node information for ICMPv6), the type itself
 *     for every other message.  A ping therefore creates one flow per
 *     address pair, which admits echo requests and replies both ways;
 *     ICMP errors about a TCP or UDP flow are not related to it (allow
 *     them with a rule if needed).
 *   - Any other protocol: no ports; the flow is the address pair.
 * The VLAN is part of the flow so that state made under one isolation id
 * never admits traffic of another on a trunk port.
 *
 * Packets that cannot carry state (vsw_conntrack_can_track() is false):
 * non-IP frames, IP packets whose IP header did not parse or whose IPv6
 * extension header chain is incomplete, later fragments (they have no
 * ports), and TCP, UDP or ICMP packets whose L4 header did not fit.  They
 * are never found and never create flows; the weighted rules alone decide
 * them.
 *
 * Scope: one table serves any number of ports; the daemon keeps one for
 * all its switches (port ids are unique daemon-wide).  Ports are named by
 * a 32-bit id whose low VSW_CONNTRACK_SLOT_BITS bits are the port's slot,
 * the same small index the MAC table uses (fdb.h); per-port counts and
 * limits go by slot.
 *
 * Bounds: at most 'max_flows' flows, fixed at creation.  When the table
 * is full, an insertion first reclaims a flow whose idle time has run out
 * but that vsw_conntrack_expire() has not removed yet; failing that, the
 * new flow is refused (-ENOSPC) and the packet's own verdict is unchanged,
 * but its replies meet the weighted rules, which may deny them.  After
 * such a failure, insertions are refused without taking the lock for
 * 10 ms or until a flow is removed, so a flood of new flows into a full
 * table does not serialize the workers.  Live flows are never evicted: a
 * VM opening connections cannot break the established ones of other VMs.
 * An optional per-port cap keeps one port from taking the whole table.
 *
 * Time is a CLOCK_MONOTONIC time in milliseconds passed in by the caller.
 *
 * Threads: any number of datapath workers call vsw_conntrack_lookup() and
 * vsw_conntrack_insert() concurrently; the control thread calls the rest.
 * Lookups take no lock and never allocate.  Insertions, expiry, flushes
 * and dumps serialize on one mutex, which the long operations release
 * every bounded chunk of work, so a worker inserting a flow waits for at
 * most one chunk.
 */
#ifndef VSW_CONNTRACK_H
#define VSW_CONNTRACK_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"

#define VSW_CONNTRACK_SLOT_BITS     12
#define VSW_CONNTRACK_MAX_SLOTS     (1u << VSW_CONNTRACK_SLOT_BITS)
#define VSW_CONNTRACK_SLOT(PORT_ID) ((PORT_ID) & (VSW_CONNTRACK_MAX_SLOTS - 1))

#define VSW_CONNTRACK_DEFAULT_MAX_FLOWS 65536

/* Longest idle timeout a flow may have, in seconds (one day). */
#define VSW_CONNTRACK_MAX_TIMEOUT_S 86400

/* One flow as vsw_conntrack_dump() reports it.  The endpoints are in the
 * order of the packet that created the flow: 'addr_a' sent it. */
struct vsw_conntrack_flow_info {
    uint32_t port_id;        /* port the flow belongs to */
    uint16_t vlan;           /* VLAN id it was created in */
    uint8_t ip_proto;        /* IP protocol */
    uint8_t addr_a[16];      /* initiator, IPv4-mapped for IPv4 */
    uint8_t addr_b[16];      /* responder, IPv4-mapped for IPv4 */
    uint16_t port_a;         /* initiator's port; ICMP: message kind */
    uint16_t port_b;         /* responder's port; ICMP: message kind */
    uint32_t idle_timeout_s; /* the flow's idle timeout */
    uint32_t idle_left_s;    /* seconds until it expires, rounded up */
    bool from_port;          /* the initiator is the port's VM (false:
                                unknown or the far side) */
};

struct vsw_conntrack;

/* Creates an empty table holding at most 'max_flows' (>= 1) flows, of
 * which at most 'max_flows_per_port' per port slot (0: no per-port cap).
 * Returns NULL on allocation failure or 'max_flows' 0.  The caller owns
 * the result. */
struct vsw_conntrack *vsw_conntrack_create(uint32_t max_flows,
                                           uint32_t max_flows_per_port);

/* Frees 'ct'; NULL is allowed.  No other thread may use it any more. */
void vsw_conntrack_destroy(struct vsw_conntrack *ct);

uint32_t vsw_conntrack_get_max_flows(const struct vsw_conntrack *ct);
/* How many new flows were refused because the table was full.  Any
 * thread. */
uint64_t vsw_conntrack_full_count(const struct vsw_conntrack *ct);

/* Any thread.  Whether a packet with 'key' can be part of a flow (see
 * above); only such packets are found or create flows. */
bool vsw_conntrack_can_track(const struct vsw_flow_key *key);

/* Worker thread, lock-free, no allocation.  Returns true if the packet
 * 'key' seen on 'port_id' in 'vlan' belongs, in either direction, to a
 * flow that has not been idle for its timeout at 'now_ms', and then
 * restarts the flow's idle timer.  (The timer's start moves in steps of
 * 100 ms, so a flow may expire up to 100 ms early.) */
bool vsw_conntrack_lookup(struct vsw_conntrack *ct, uint32_t port_id,
                          uint16_t vlan, const struct vsw_flow_key *key,
                          int64_t now_ms);

/* Worker thread.  Creates the flow of packet 'key' on 'port_id' in 'vlan'
 * at 'now_ms', expiring after 'idle_timeout_s' (1 ..
 * VSW_CONNTRACK_MAX_TIMEOUT_S) seconds without traffic.  If the flow
 * exists already (another worker created it meanwhile), only refreshes
 * it.  Returns 0 (the flow exists), -EINVAL for a packet that cannot be
 * tracked or a bad timeout, or -ENOSPC when the table or the port's share
 * of it is full of live flows. */
int vsw_conntrack_insert(struct vsw_conntrack *ct, uint32_t port_id,
                         uint16_t vlan, const struct vsw_flow_key *key,
                         uint32_t idle_timeout_s, int64_t now_ms);

/* Control thread.  Recreates on 'port_id' the flow 'info' describes (as
 * vsw_conntrack_dump() reported it, perhaps on another daemon, where the
 * port had another id: 'info->port_id' is ignored), with
 * 'info->idle_left_s' of its idle timeout left at 'now_ms'.  A flow that
 * exists already is only refreshed; one with no time left is skipped.
 * Port migration uses it (port-export.c).  Returns 0, -EINVAL if 'info'
 * describes no flow a packet could make or its times are out of range,
 * or -ENOSPC as vsw_conntrack_insert(). */
int vsw_conntrack_restore(struct vsw_conntrack *ct, uint32_t port_id,
                          const struct vsw_conntrack_flow_info *info,
                          int64_t now_ms);

/* Any thread.  Whether 'info' could describe a flow that packets made:
 * both addresses of one family, VLAN 0..4095, and for ICMP and ICMPv6
 * (of the matching family) both "ports" the same message kind, for
 * protocols without ports both 0. */
bool
vsw_conntrack_flow_info_is_valid(const struct vsw_conntrack_flow_info *info);

/* vsw_conntrack_insert() that also records whether the packet came
 * from the port's VM ('from_port'), so that a dump tells which endpoint
 * is the VM's (port migration announces its addresses). */
int vsw_conntrack_insert_dir(struct vsw_conntrack *ct, uint32_t port_id,
                             uint16_t vlan, const struct vsw_flow_key *key,
                             bool from_port, uint32_t idle_timeout_s,
                             int64_t now_ms);

/* Any thread.  A number that changes whenever a flow is created or
 * removed, read with acquire semantics: a verdict made from lookups done
 * after reading generation G stays right while the generation is still
 * G, except that a flow idle for its timeout counts as gone at once but
 * changes the generation only when vsw_conntrack_expire() removes it.
 * (A refresh by traffic changes nothing.) */
uint64_t vsw_conntrack_generation(const struct vsw_conntrack *ct);

/* Control thread, about once a second.  Removes the flows idle for their
 * timeout at 'now_ms'.  Returns how many it removed. */
size_t vsw_conntrack_expire(struct vsw_conntrack *ct, int64_t now_ms);

/* Control thread.  Removes every flow of the port in slot
 * VSW_CONNTRACK_SLOT('port_id'), e.g. when the port goes away or its
 * stateful rules change.  Returns how many it removed. */
size_t vsw_conntrack_flush_port(struct vsw_conntrack *ct, uint32_t port_id);

/* Control thread.  Removes every flow. */
void vsw_conntrack_flush(struct vsw_conntrack *ct);

/* Any thread.  Flows in the table (including idle ones not yet removed),
 * and those of 'port_id''s slot. */
size_t vsw_conntrack_count(const struct vsw_conntrack *ct);
size_t vsw_conntrack_count_port(const struct vsw_conntrack *ct,
                                uint32_t port_id);

/* Control thread.  Copies up to 'max' flows live at 'now_ms' into 'out',
 * sorted by port id, VLAN, protocol and endpoints; when more are live,
 * the first 'max' in that order.  Returns the number copied.  Not one
 * snapshot: a flow created or removed meanwhile may or may not be in it,
 * but none appears twice. */
size_t vsw_conntrack_dump(struct vsw_conntrack *ct,
                          struct vsw_conntrack_flow_info *out, size_t max,
                          int64_t now_ms);

/* Formats 'info' as one line for logs and the CLI, e.g.
 * "port 3 vlan 10 tcp 10.0.0.5:40000 -> 192.0.2.1:80 idle-left 254s/255s",
 * into 'buf' (at most 'size' bytes, always NUL-terminated).  Returns
 * 'buf'. */
char *vsw_conntrack_flow_format(const struct vsw_conntrack_flow_info *info,
                                char *buf, size_t size);

#endif /* VSW_CONNTRACK_H */
