/*
 * Port guards (FEATURES.md §4): the checks a port applies to the frames
 * its VM sends ("out" of the port), all off by default.
 *
 *   MAC spoofing   a port with an assigned MAC sends only from it
 *   IP guard       ARP, ND and IP only from the port's allowed addresses
 *   DHCP guard     no DHCPv4 or DHCPv6 server messages (RFC 7610)
 *   router guard   no Router Advertisements or Redirects, IPv4 or IPv6
 *   storm limit    broadcast, multicast and unknown unicast per second
 *   priority tag   the 802.1p priority a VM sets is reset unless allowed
 *
 * The checks read the key vsw_flow_extract() made of the frame and, for
 * the DHCP message type, the frame bytes themselves; IPv6 extension
 * chains are the parser's, walked whole (RFC 7113).  They keep state in
 * one place only, a struct vsw_guard_state per port that the caller
 * allocates: the storm limit's token bucket and the table of fragmented
 * datagrams (those whose first fragment a guard dropped, and the parts of
 * the others their fragments have shown).  Every function here
 * may be called by any number of worker threads at once for the same
 * port: no locks, no allocation, atomics only in that state.
 *
 * A verdict depends on bytes outside the flow key (the BOOTP op, the
 * DHCPv6 message type, the ARP sender MAC) and on that state, so it must
 * not be cached by flow; vsw_guard_check_out() is cheap enough to run on
 * every frame.
 */
#ifndef VSW_GUARD_H
#define VSW_GUARD_H 1

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"

/* X(ENUM, "name shown to users", "what it means").  Each verdict but OK
 * is a reason to drop the frame, counted per port like those of drop.h. */
#define VSW_GUARD_VERDICTS(X)                                                 \
    X(OK, "ok", "no guard objects to the frame")                              \
    X(MAC_SPOOF, "mac-spoofing",                                              \
      "source MAC or ARP sender MAC is not the port's MAC")                   \
    X(TOO_MANY_VLANS, "guard-too-many-vlans",                                 \
      "more VLAN tags than the parser reads hide the IP header from the "     \
      "port's guards")                                                        \
    X(IP, "ip-guard", "ARP, ND or IP from an address the port may not use")   \
    X(DHCP, "dhcp-guard", "DHCPv4 server message, or a fragment of one")      \
    X(DHCPV6, "dhcpv6-guard", "DHCPv6 server message, or a fragment of one")  \
    X(RA, "router-guard",                                                     \
      "ICMPv6 or ICMPv4 router advertisement, or a fragment of one")          \
    X(REDIRECT, "router-guard-redirect",                                      \
      "ICMPv6 or ICMPv4 redirect, or a fragment of one")                      \
    X(IPV6_CHAIN, "ipv6-chain-incomplete",                                    \
      "IPv6 first fragment without the whole header chain (RFC 7113)")        \
    X(IPV6_UNKNOWN_NH, "ipv6-unknown-next-header",                            \
      "IPv6 header chain ends in an unknown next header (RFC 7113)")          \
    X(ND_FRAGMENT, "nd-fragment",                                             \
      "fragmented neighbour discovery message (RFC 6980)")                    \
    X(STORM, "storm-limit",                                                   \
      "broadcast, multicast or unknown unicast over the port's limit")        \
    X(FRAG_OVERLAP, "fragment-overlap",                                       \
      "fragment overlapping bytes of its datagram an earlier fragment "       \
      "carried, or any later fragment of that datagram (RFC 5722)")

enum vsw_guard_verdict {
#define VSW_GUARD_ENUM(ENUM, NAME, DOC) VSW_GUARD_##ENUM,
    VSW_GUARD_VERDICTS(VSW_GUARD_ENUM)
#undef VSW_GUARD_ENUM
    VSW_GUARD_N_VERDICTS
};

/* The user-visible name of 'verdict', e.g. "dhcp-guard". */
const char *vsw_guard_verdict_name(enum vsw_guard_verdict verdict);

/* One sentence on what 'verdict' means. */
const char *vsw_guard_verdict_doc(enum vsw_guard_verdict verdict);

#define VSW_GUARD_MAX_IPS 64

/* One allowed source: an address or a prefix.  IPv4 entries are stored
 * IPv4-mapped like the flow key's addresses, so an IPv4 /24 has 'plen'
 * 120; 128 is a single address of either family. */
struct vsw_guard_ip {
    uint8_t addr[16]; /* network byte order, bits past 'plen' zero */
    uint8_t plen;     /* prefix length in the 128-bit space, 0..128 */
};

/*
 * A port's guard configuration.  All zeroes is the default of FEATURES.md
 * §4 (and Hyper-V's): MAC spoofing not allowed (a check only once the
 * port has a MAC), DHCP and router guards off, the VM's 802.1p priority
 * reset to 0, no storm limit, no IP guard.  The guards only read it:
 * the caller publishes a new one instead of changing it under them.
 */
struct vsw_guard_config {
    bool mac_spoofing_allowed;    /* any source MAC may be sent */
    bool has_mac;                 /* 'mac' is the port's assigned MAC */
    uint8_t mac[VSW_ETH_ALEN];    /* with 'has_mac': the MAC the VM owns */
    bool dhcp_guard;              /* drop DHCPv4/DHCPv6 server messages */
    bool router_guard;            /* drop RAs and Redirects */
    bool ieee_priority_tag;       /* keep the VM's 802.1p priority; false:
                                     reset it to 0 */
    bool ipv6_unknown_nh_allowed; /* the switch's RFC 7113 knob: pass an
                                     IPv6 chain ending in an unknown next
                                     header when a guard is on */
    uint8_t n_ips;                /* entries in 'ips'; 0 = IP guard off */
    uint32_t storm_limit_pps;     /* flooded frames per second; 0 = off */
    struct vsw_guard_ip ips[VSW_GUARD_MAX_IPS]; /* IP guard: allowed
                                                   sources */
};

/* Fragmented datagrams remembered per port; a power of 2. */
#define VSW_GUARD_FRAG_SLOTS 64

/* One port's storm-limit token bucket, kept as the theoretical arrival
 * time of the next frame (GCRA): a single 64-bit word that worker threads
 * update by compare-and-swap. */
struct vsw_guard_storm {
    _Atomic uint64_t tat_ns; /* when the bucket is empty again; a frame
                                arriving more than the burst before it is
                                over the limit */
};

/* A fragmented datagram whose fragments a port's guards let pass so far.
 * 'datagram' is 0 or the datagram's fingerprint; 'ranges' holds the parts
 * of it those fragments have shown (the layout is guard.c's), with a tag
 * that ties it to 'datagram'. */
struct vsw_guard_frag {
    _Atomic uint64_t datagram;
    _Atomic uint64_t ranges;
};

/* A port's guard state, shared by every worker thread sending for the
 * port.  Invariant: each 'frag_drops' slot is 0 or the fingerprint of a
 * datagram whose first fragment was dropped or whose fragments
 * overlapped, with the verdict in its low 8 bits.  Allocated and freed by
 * the caller; vsw_guard_state_init() before first use (all zeroes is also
 * a valid initial state). */
struct vsw_guard_state {
    struct vsw_guard_storm storm;                          /* storm limit */
    uint8_t pad[64 - sizeof(struct vsw_guard_storm)];      /* keeps the bucket,
                                                              written per flooded
                                                              frame, off the
                                                              table's cache
                                                              line */
    _Atomic uint64_t frag_drops[VSW_GUARD_FRAG_SLOTS];     /* dropped
                                                              datagrams */
    struct vsw_guard_frag frag_seen[VSW_GUARD_FRAG_SLOTS]; /* passing
                                                              ones */
    _Atomic uint64_t frag_evictions;        /* entries of a datagram still
                                               tracked that another one took:
                                               the table was full there */
    uint8_t pad_end[64 - sizeof(uint64_t)]; /* keeps the size a multiple of
                                               the alignment aligned_alloc()
                                               is given */
};
_Static_assert(sizeof(struct vsw_guard_state) % 64 == 0,
               "aligned_alloc(64, ...) needs a multiple of 64");

/* Sets 'state' to "no frames seen". */
void vsw_guard_state_init(struct vsw_guard_state *state);

/* How full a port's fragment tables are, for the status: entries in use
 * (dropped and passing datagrams), their number, and how often a datagram
 * took the entry of another one still tracked.  Any thread; each figure
 * is read whole, not all at one instant. */
struct vsw_guard_frag_usage {
    uint64_t used;
    uint64_t size;
    uint64_t evictions;
};
void vsw_guard_frag_usage(const struct vsw_guard_state *state,
                          struct vsw_guard_frag_usage *usage);

/* Checks a frame the VM behind a port sends: 'key' as vsw_flow_extract()
 * filled it from the 'len' bytes at 'frame', against the port's 'cfg'.
 * Returns VSW_GUARD_OK or why the frame must be dropped; order and rules
 * are at the top of guard.c.  Updates the fragment table in 'state'.
 * A frame refused for MAC spoofing must not be learned either: the caller
 * checks before it learns. */
enum vsw_guard_verdict vsw_guard_check_out(const struct vsw_guard_config *cfg,
                                           struct vsw_guard_state *state,
                                           const struct vsw_flow_key *key,
                                           const uint8_t *frame, size_t len);

/* The storm limit, for a frame that passed vsw_guard_check_out() and
 * whose destination is now known: 'dst_known' is false when the MAC table
 * has no entry for a unicast destination (the frame would be flooded).
 * Broadcast, multicast and unknown-unicast frames each take one token of
 * the bucket in 'state', at time 'now_ns' (any clock that only goes
 * forward, e.g. CLOCK_MONOTONIC).  Returns VSW_GUARD_OK or
 * VSW_GUARD_STORM. */
enum vsw_guard_verdict vsw_guard_check_storm(
    const struct vsw_guard_config *cfg, struct vsw_guard_state *state,
    const struct vsw_flow_key *key, bool dst_known, uint64_t now_ns);

/* Takes one token from 'bucket', which refills at 'limit_pps' tokens per
 * second and holds a burst of a 20th of a second (at least one token).
 * True if there was one, false if the frame is over the limit.  A
 * 'limit_pps' of 0 admits everything. */
bool vsw_guard_storm_admit(struct vsw_guard_storm *bucket, uint32_t limit_pps,
                           uint64_t now_ns);

/* The 802.1p priority a frame from the VM leaves with, given the
 * 'frame_pcp' its tag carried (0 if untagged): unchanged when the port's
 * IEEE priority tag setting is on, else 0. */
uint8_t vsw_guard_pcp(const struct vsw_guard_config *cfg, uint8_t frame_pcp);

#endif /* VSW_GUARD_H */
