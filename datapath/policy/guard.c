/*
 * Port guards.
 *
 * vsw_guard_check_out() applies the guards in this order; the first one
 * that objects names the verdict:
 *
 * 1. MAC spoofing (the port has a MAC and may not spoof): the Ethernet
 *    source, and the sender MAC inside an ARP packet, must be the port's
 *    MAC.  MAC_SPOOF.  The ARP sender is checked too because it, not the
 *    Ethernet source, is what the other hosts put in their ARP caches.
 *
 * 2. With the IP, DHCP or router guard on, a frame with more VLAN tags
 *    than the parser records (VSW_FLOW_F_TOO_MANY_VLANS) hides its IP
 *    header from them, while a switch past the uplink that pops the outer
 *    tags would deliver it.  TOO_MANY_VLANS.
 *
 * 3. IP guard (a non-empty allowed list): the source of IPv4 and IPv6
 *    packets, the sender of ARP and the target of a Neighbor Advertisement
 *    must be allowed.  An address is allowed if a list entry covers it or,
 *    when the port has a MAC, if it is that MAC's modified-EUI-64
 *    link-local address (fe80::/64), which no other port can own.  Without
 *    a source of its own yet, a host still has to boot, so these pass:
 *    - IPv4 from 0.0.0.0: DHCP client traffic (UDP 68 -> 67) and IGMP;
 *    - ARP from sender 0.0.0.0 (an RFC 5227 probe) whose target is allowed;
 *    - IPv6 from :: : Router Solicitations, MLDv2 reports, and Neighbor
 *      Solicitations for DAD whose target is allowed.
 *    Probes and DAD for someone else's address are refused, because a
 *    host that sees them for its own tentative address gives it up.  An
 *    ARP packet or an IP header the parser could not read has no source
 *    to check and is refused.  Other ethertypes pass.  IP.
 *
 * 4. With the DHCP or router guard on, a later fragment (offset != 0) of a
 *    datagram whose first fragment steps 5-7 dropped: that first
 *    fragment's verdict.  Any fragment, first or later, of a datagram one
 *    of whose fragments overlapped bytes an earlier one carried, from
 *    that fragment on: FRAG_OVERLAP.  See "Fragments" below.
 *
 * 5. DHCP guard (RFC 7610 for DHCPv6).  Whatever the UDP source port, IP
 *    options, VLAN tags or Ethernet padding (the parser has dealt with the
 *    last three):
 *    - UDP to port 68, the DHCPv4 client port: only servers and relays
 *      send there (OFFER, ACK, NAK, FORCERENEW, plain BOOTP replies).
 *      DHCP.
 *    - UDP to port 67 unless the BOOTP op is visible and is BOOTREQUEST: a
 *      BOOTREPLY to a relay agent, or nothing a server would read.  DHCP.
 *    - UDP to port 546, the DHCPv6 client port: everything sent there is
 *      a server or relay message ("meant for a DHCPv6 client", RFC 7610
 *      §5).  DHCPV6.
 *    - UDP to port 547 whose message type is a server's (ADVERTISE,
 *      REPLY, RECONFIGURE, RELAY-REPL, the LEASEQUERY replies,
 *      RECONFIGURE-REPLY, DHCPV4-RESPONSE) or is not visible.  DHCPV6.
 *    - An IPv4 first fragment of UDP too short to hold the UDP header:
 *      too short to tell.  DHCP.  (An IPv6 one is step 7's.)
 *    DISCOVER, REQUEST, SOLICIT and the other client messages pass.
 *
 * 6. Router guard: ICMPv6 Router Advertisement (134) and ICMPv4 Router
 *    Advertisement (9): RA; ICMPv6 (137) and ICMPv4 (5) Redirect:
 *    REDIRECT.  An IPv4 first fragment of ICMP too short for the type:
 *    RA.  Unlike RFC 7113 rules 1 and 2, an RA whose source is not
 *    link-local or whose hop limit is not 255 is dropped too: hosts
 *    ignore such RAs, so dropping them costs nothing and spares a host
 *    that fails to check.
 *
 * 7. IPv6, with the DHCP or router guard on (RFC 7113 §3, RFC 7610 §5,
 *    RFC 6980 §5), over the chain the parser walked whole:
 *    - the chain does not reach a complete upper-layer header
 *      (VSW_FLOW_F_IPV6_CHAIN_INCOMPLETE): a first fragment that breaks
 *      RFC 7112, or a packet whose headers overrun it.  IPV6_CHAIN.
 *    - the chain ends in a next header the parser does not know, unless
 *      the switch allows it.  IPV6_UNKNOWN_NH.
 *    - a first or atomic fragment carrying a Router Solicitation, Router
 *      Advertisement, Neighbor Solicitation or Advertisement, or Redirect:
 *      hosts must ignore fragmented ND.  ND_FRAGMENT.
 *    ESP and No Next Header end a chain like an upper-layer protocol and
 *    pass (RFC 7113 §3).
 *
 * Fragments.  Steps 5-7 see the L4 header only in a first fragment; the
 * rest of a datagram they dropped would still reach the other ports.  So
 * a dropped first fragment leaves a fingerprint of (source, destination,
 * fragment id) and its verdict in the port's table, and step 4 drops the
 * later fragments that match.  Any first fragment reads its own verdict
 * afresh, so a reused fragment id does not condemn a new datagram.
 *
 * A fragment could also rewrite what the guards judged: one that overlaps
 * bytes of the first fragment replaces the UDP ports or the BOOTP op in
 * a receiver that keeps the later copy.  RFC 5722 discards a datagram
 * with overlapping fragments whole; so does the switch, for IPv4 too.
 * The table's entry of a datagram whose fragments pass also holds the
 * parts they have shown (two extents, see frag_track()), and a fragment
 * overlapping them is dropped and marks the datagram: every fragment of
 * it that comes after is dropped too, whatever its offset.
 *
 * The table is direct-mapped with VSW_GUARD_FRAG_SLOTS entries written
 * without locks: a newer datagram takes an older one's entry, and two
 * threads may race for an entry, in which case one is lost.  What escapes
 * then, and any later fragment sent before its first fragment that a
 * guard drops, is a piece of a datagram that can never be reassembled
 * (its first fragment having been dropped), or one whose overlap the
 * receiver meets alone: a sender with more than that many datagrams in
 * fragments at once can make the switch forget one.
 */
#include "guard.h"

#include <string.h>

#define NSEC_PER_SEC 1000000000ull

#define IP_PROTO_ICMP   1
#define IP_PROTO_IGMP   2
#define IP_PROTO_UDP    17
#define IP_PROTO_ICMPV6 58

#define DHCP_SERVER_PORT   67
#define DHCP_CLIENT_PORT   68
#define DHCPV6_CLIENT_PORT 546
#define DHCPV6_SERVER_PORT 547
#define BOOTREQUEST        1

#define ICMP_REDIRECT  5
#define ICMP_ROUTER_AD 9

#define ICMPV6_ND_RS       133
#define ICMPV6_ND_RA       134
#define ICMPV6_ND_NS       135
#define ICMPV6_ND_NA       136
#define ICMPV6_ND_REDIRECT 137
#define ICMPV6_MLD2_REPORT 143

/* The part of a fragment-table slot that holds the verdict. */
#define FRAG_VERDICT_MASK 0xffull

static const char *const verdict_names[] = {
#define VSW_GUARD_NAME(ENUM, NAME, DOC) [VSW_GUARD_##ENUM] = NAME,
    VSW_GUARD_VERDICTS(VSW_GUARD_NAME)
#undef VSW_GUARD_NAME
};

static const char *const verdict_docs[] = {
#define VSW_GUARD_DOC(ENUM, NAME, DOC) [VSW_GUARD_##ENUM] = DOC,
    VSW_GUARD_VERDICTS(VSW_GUARD_DOC)
#undef VSW_GUARD_DOC
};

const char *
vsw_guard_verdict_name(enum vsw_guard_verdict verdict)
{
    return (unsigned)verdict < VSW_GUARD_N_VERDICTS ? verdict_names[verdict]
                                                    : "unknown";
}

const char *
vsw_guard_verdict_doc(enum vsw_guard_verdict verdict)
{
    return (unsigned)verdict < VSW_GUARD_N_VERDICTS ? verdict_docs[verdict]
                                                    : "";
}

void
vsw_guard_state_init(struct vsw_guard_state *state)
{
    atomic_init(&state->storm.tat_ns, 0);
    memset(state->pad, 0, sizeof state->pad);
    memset(state->pad_end, 0, sizeof state->pad_end);
    for (size_t i = 0; i < VSW_GUARD_FRAG_SLOTS; i++) {
        atomic_init(&state->frag_drops[i], 0);
        atomic_init(&state->frag_seen[i].datagram, 0);
        atomic_init(&state->frag_seen[i].ranges, 0);
    }
    atomic_init(&state->frag_evictions, 0);
}

/* Address predicates and the allowed list. */

static bool
is_ipv4_unspecified(const uint8_t addr[16])
{
    static const uint8_t mapped_any[16] = {[10] = 0xff, [11] = 0xff};

    return !memcmp(addr, mapped_any, sizeof mapped_any);
}

static bool
is_ipv6_unspecified(const uint8_t addr[16])
{
    static const uint8_t any[16];

    return !memcmp(addr, any, sizeof any);
}

/* True if 'addr' is the modified-EUI-64 link-local address (RFC 4291
 * appendix A) of 'mac'. */
static bool
is_eui64_link_local(const uint8_t mac[VSW_ETH_ALEN], const uint8_t addr[16])
{
    const uint8_t ll[16] = {
        0xfe,       0x80,   0,      0,    0,    0,      0,      0,
        mac[0] ^ 2, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5],
    };

    return !memcmp(addr, ll, sizeof ll);
}

static bool
prefix_covers(const struct vsw_guard_ip *prefix, const uint8_t addr[16])
{
    unsigned plen = prefix->plen < 128 ? prefix->plen : 128;
    unsigned bytes = plen / 8, bits = plen % 8;

    if (memcmp(prefix->addr, addr, bytes)) {
        return false;
    }
    if (bits) {
        uint8_t mask = (uint8_t)(0xff << (8 - bits));

        return !((prefix->addr[bytes] ^ addr[bytes]) & mask);
    }
    return true;
}

/* True if the port configured as 'cfg' may use 'addr' (IPv6, or
 * IPv4-mapped). */
static bool
ip_is_allowed(const struct vsw_guard_config *cfg, const uint8_t addr[16])
{
    unsigned n =
        cfg->n_ips < VSW_GUARD_MAX_IPS ? cfg->n_ips : VSW_GUARD_MAX_IPS;

    for (unsigned i = 0; i < n; i++) {
        if (prefix_covers(&cfg->ips[i], addr)) {
            return true;
        }
    }
    return cfg->has_mac && is_eui64_link_local(cfg->mac, addr);
}

/* Key predicates. */

/* True if 'key' holds an ICMPv6 header whose type the parser read. */
static bool
has_icmpv6(const struct vsw_flow_key *key)
{
    return vsw_flow_is_ipv6(key) && key->ip_proto == IP_PROTO_ICMPV6 &&
           key->l4_ofs;
}

static bool
is_first_fragment(const struct vsw_flow_key *key)
{
    return (key->flags & VSW_FLOW_F_FRAGMENT) &&
           !(key->flags & VSW_FLOW_F_LATER_FRAGMENT);
}

/* Stores in '*byte' the first byte after the L4 header of 'key' in the
 * 'len'-byte 'frame': the BOOTP op, the DHCPv6 message type.  False if
 * the packet (not its padding) holds no such byte. */
static bool
first_payload_byte(const struct vsw_flow_key *key, const uint8_t *frame,
                   size_t len, uint8_t *byte)
{
    if (!key->l7_ofs || key->l7_ofs >= key->l3_end || key->l7_ofs >= len) {
        return false;
    }
    *byte = frame[key->l7_ofs];
    return true;
}

/* The guards, one function per step of the order at the top. */

static enum vsw_guard_verdict
check_mac(const struct vsw_guard_config *cfg, const struct vsw_flow_key *key)
{
    if (cfg->mac_spoofing_allowed || !cfg->has_mac) {
        return VSW_GUARD_OK;
    }
    if (memcmp(key->eth_src, cfg->mac, VSW_ETH_ALEN)) {
        return VSW_GUARD_MAC_SPOOF;
    }
    if (key->eth_type == VSW_ETH_TYPE_ARP && key->l3_end &&
        memcmp(key->arp_sha, cfg->mac, VSW_ETH_ALEN)) {
        return VSW_GUARD_MAC_SPOOF;
    }
    return VSW_GUARD_OK;
}

/* IPv4 a host sends before it has an address. */
static bool
ipv4_unspecified_source_ok(const struct vsw_flow_key *key)
{
    if (key->ip_proto == IP_PROTO_IGMP) {
        return true;
    }
    return key->ip_proto == IP_PROTO_UDP && key->l4_ofs &&
           key->tp_src == DHCP_CLIENT_PORT && key->tp_dst == DHCP_SERVER_PORT;
}

/* IPv6 a host sends from :: before its addresses are usable. */
static bool
ipv6_unspecified_source_ok(const struct vsw_guard_config *cfg,
                           const struct vsw_flow_key *key)
{
    if (!has_icmpv6(key)) {
        return false;
    }
    switch (key->icmp_type) {
    case ICMPV6_ND_RS:
    case ICMPV6_MLD2_REPORT:
        return true;
    case ICMPV6_ND_NS:
        return ip_is_allowed(cfg, key->nd_target);
    default:
        return false;
    }
}

static enum vsw_guard_verdict
check_ip(const struct vsw_guard_config *cfg, const struct vsw_flow_key *key)
{
    bool ok;

    switch (key->eth_type) {
    case VSW_ETH_TYPE_ARP:
        if (!key->l3_end) {
            ok = false;
        } else if (is_ipv4_unspecified(key->ip_src)) {
            ok = ip_is_allowed(cfg, key->ip_dst);
        } else {
            ok = ip_is_allowed(cfg, key->ip_src);
        }
        break;
    case VSW_ETH_TYPE_IPV4:
        ok = is_ipv4_unspecified(key->ip_src)
                 ? ipv4_unspecified_source_ok(key)
                 : ip_is_allowed(cfg, key->ip_src);
        break;
    case VSW_ETH_TYPE_IPV6:
        if (is_ipv6_unspecified(key->ip_src)) {
            ok = ipv6_unspecified_source_ok(cfg, key);
        } else {
            ok = ip_is_allowed(cfg, key->ip_src) &&
                 !(has_icmpv6(key) && key->icmp_type == ICMPV6_ND_NA &&
                   !ip_is_allowed(cfg, key->nd_target));
        }
        break;
    default:
        ok = true;
        break;
    }
    return ok ? VSW_GUARD_OK : VSW_GUARD_IP;
}

/* True for the DHCPv6 message types only servers send (RFC 8415 §7.3,
 * RFC 5007, RFC 5460, RFC 6977, RFC 7341). */
static bool
is_dhcpv6_server_type(uint8_t type)
{
    switch (type) {
    case 2:  /* ADVERTISE */
    case 7:  /* REPLY */
    case 10: /* RECONFIGURE */
    case 13: /* RELAY-REPL */
    case 15: /* LEASEQUERY-REPLY */
    case 16: /* LEASEQUERY-DONE */
    case 17: /* LEASEQUERY-DATA */
    case 19: /* RECONFIGURE-REPLY */
    case 21: /* DHCPV4-RESPONSE */
        return true;
    default:
        return false;
    }
}

static enum vsw_guard_verdict
check_dhcp(const struct vsw_flow_key *key, const uint8_t *frame, size_t len)
{
    bool v4 = vsw_flow_is_ipv4(key);
    uint8_t first;

    if (key->ip_proto != IP_PROTO_UDP || (!v4 && !vsw_flow_is_ipv6(key))) {
        return VSW_GUARD_OK;
    }
    if (!key->l4_ofs) {
        return v4 && is_first_fragment(key) ? VSW_GUARD_DHCP : VSW_GUARD_OK;
    }
    if (v4) {
        if (key->tp_dst == DHCP_CLIENT_PORT ||
            (key->tp_dst == DHCP_SERVER_PORT &&
             !(first_payload_byte(key, frame, len, &first) &&
               first == BOOTREQUEST))) {
            return VSW_GUARD_DHCP;
        }
    } else if (key->tp_dst == DHCPV6_CLIENT_PORT ||
               (key->tp_dst == DHCPV6_SERVER_PORT &&
                !(first_payload_byte(key, frame, len, &first) &&
                  !is_dhcpv6_server_type(first)))) {
        return VSW_GUARD_DHCPV6;
    }
    return VSW_GUARD_OK;
}

static enum vsw_guard_verdict
check_router(const struct vsw_flow_key *key)
{
    if (has_icmpv6(key)) {
        switch (key->icmp_type) {
        case ICMPV6_ND_RA:
            return VSW_GUARD_RA;
        case ICMPV6_ND_REDIRECT:
            return VSW_GUARD_REDIRECT;
        default:
            return VSW_GUARD_OK;
        }
    }
    if (!vsw_flow_is_ipv4(key) || key->ip_proto != IP_PROTO_ICMP) {
        return VSW_GUARD_OK;
    }
    if (!key->l4_ofs) {
        return is_first_fragment(key) ? VSW_GUARD_RA : VSW_GUARD_OK;
    }
    switch (key->icmp_type) {
    case ICMP_ROUTER_AD:
        return VSW_GUARD_RA;
    case ICMP_REDIRECT:
        return VSW_GUARD_REDIRECT;
    default:
        return VSW_GUARD_OK;
    }
}

static enum vsw_guard_verdict
check_ipv6_chain(const struct vsw_guard_config *cfg,
                 const struct vsw_flow_key *key)
{
    if (!vsw_flow_is_ipv6(key)) {
        return VSW_GUARD_OK;
    }
    if (key->flags & VSW_FLOW_F_IPV6_CHAIN_INCOMPLETE) {
        return VSW_GUARD_IPV6_CHAIN;
    }
    if ((key->flags & VSW_FLOW_F_IPV6_UNKNOWN_NH) &&
        !cfg->ipv6_unknown_nh_allowed) {
        return VSW_GUARD_IPV6_UNKNOWN_NH;
    }
    if (is_first_fragment(key) && has_icmpv6(key) &&
        key->icmp_type >= ICMPV6_ND_RS &&
        key->icmp_type <= ICMPV6_ND_REDIRECT) {
        return VSW_GUARD_ND_FRAGMENT;
    }
    return VSW_GUARD_OK;
}

/* The fragment table. */

void
vsw_guard_frag_usage(const struct vsw_guard_state *state,
                     struct vsw_guard_frag_usage *usage)
{
    uint64_t used = 0;

    for (size_t i = 0; i < VSW_GUARD_FRAG_SLOTS; i++) {
        used += atomic_load_explicit(&state->frag_drops[i],
                                     memory_order_relaxed) != 0;
        used += atomic_load_explicit(&state->frag_seen[i].datagram,
                                     memory_order_relaxed) != 0;
    }
    usage->used = used;
    usage->size = 2 * VSW_GUARD_FRAG_SLOTS;
    usage->evictions =
        atomic_load_explicit(&state->frag_evictions, memory_order_relaxed);
}

static uint64_t
mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

/* A 64-bit name for the datagram a fragment belongs to, as its receiver
 * reassembles it: addresses and fragment id.  The low 8 bits are left for
 * the verdict. */
static uint64_t
frag_fingerprint(const struct vsw_flow_key *key)
{
    uint64_t words[4];
    uint64_t h = key->frag_id;

    memcpy(words, key->ip_src, 16);
    memcpy(words + 2, key->ip_dst, 16);
    for (size_t i = 0; i < 4; i++) {
        h = mix64(h ^ words[i]);
    }
    return h & ~FRAG_VERDICT_MASK;
}

static _Atomic uint64_t *
frag_slot(struct vsw_guard_state *state, uint64_t fingerprint)
{
    return &state->frag_drops[fingerprint >> 56 & (VSW_GUARD_FRAG_SLOTS - 1)];
}

/* The verdict that dropped the datagram 'fp' (its first fragment, or an
 * overlap), or VSW_GUARD_OK. */
static enum vsw_guard_verdict
frag_lookup(struct vsw_guard_state *state, uint64_t fp)
{
    uint64_t slot =
        atomic_load_explicit(frag_slot(state, fp), memory_order_relaxed);
    uint64_t verdict = slot & FRAG_VERDICT_MASK;

    if ((slot & ~FRAG_VERDICT_MASK) != fp || verdict >= VSW_GUARD_N_VERDICTS) {
        return VSW_GUARD_OK;
    }
    return (enum vsw_guard_verdict)verdict;
}

/* Counts a datagram pushed out of its entry by another: the bounded
 * table was full at that place.  Only on that path, never per frame. */
static void
frag_count_eviction(struct vsw_guard_state *state)
{
    atomic_fetch_add_explicit(&state->frag_evictions, 1, memory_order_relaxed);
}

static void
frag_remember(struct vsw_guard_state *state, uint64_t fp,
              enum vsw_guard_verdict verdict)
{
    _Atomic uint64_t *slot = frag_slot(state, fp);
    uint64_t old = atomic_load_explicit(slot, memory_order_relaxed);

    if (old && (old & ~FRAG_VERDICT_MASK) != fp) {
        frag_count_eviction(state);
    }
    atomic_store_explicit(slot, fp | verdict, memory_order_relaxed);
}

/* Forgets the dropped datagram 'fp', whose id a passing first fragment
 * reuses. */
static void
frag_forget(struct vsw_guard_state *state, uint64_t fp)
{
    _Atomic uint64_t *slot = frag_slot(state, fp);
    uint64_t old = atomic_load_explicit(slot, memory_order_relaxed);

    if (old && (old & ~FRAG_VERDICT_MASK) == fp) {
        atomic_compare_exchange_strong_explicit(
            slot, &old, 0, memory_order_relaxed, memory_order_relaxed);
    }
}

/*
 * The parts of a passing datagram its fragments have shown, in 8-octet
 * units ('frag_seen'): two extents [start, end), 14 bits per bound (a
 * datagram ends by 65535 + 8 octets, 8193 units; an extent with end 0 is
 * unused), a bit set once the last fragment was among them, and a 7-bit
 * tag from the datagram's fingerprint that ties the word to its entry
 * (the two words of an entry are written one after the other).
 * Fragments that touch an extent grow it.  A third piece apart from both
 * is not remembered unless it is the first fragment, which replaces the
 * second extent: the first fragment holds the headers the guards judged,
 * so its bytes are the ones always watched.  Once one extent runs from 0
 * to the end the last fragment showed, the datagram is whole, as its
 * receiver reassembles it, and the entry is free again.
 */
#define FRAG_BOUND_BITS 14
#define FRAG_BOUND_MASK ((1ull << FRAG_BOUND_BITS) - 1)
#define FRAG_LAST_BIT   (1ull << (4 * FRAG_BOUND_BITS))
#define FRAG_TAG_SHIFT  (4 * FRAG_BOUND_BITS + 1)

struct frag_extent {
    uint32_t start, end;
};

static uint64_t
frag_tag(uint64_t fp)
{
    return (fp >> 8 & 0x7f) << FRAG_TAG_SHIFT;
}

static struct frag_extent
extent_get(uint64_t ranges, int i)
{
    struct frag_extent e;

    e.start =
        (uint32_t)(ranges >> (2 * i * FRAG_BOUND_BITS) & FRAG_BOUND_MASK);
    e.end = (uint32_t)(ranges >> ((2 * i + 1) * FRAG_BOUND_BITS) &
                       FRAG_BOUND_MASK);
    return e;
}

static uint64_t
ranges_make(uint64_t fp, struct frag_extent a, struct frag_extent b, bool last)
{
    return frag_tag(fp) | (last ? FRAG_LAST_BIT : 0) | a.start |
           (uint64_t)a.end << FRAG_BOUND_BITS |
           (uint64_t)b.start << (2 * FRAG_BOUND_BITS) |
           (uint64_t)b.end << (3 * FRAG_BOUND_BITS);
}

static bool
extents_overlap(struct frag_extent a, struct frag_extent b)
{
    return a.end && b.end && a.start < b.end && b.start < a.end;
}

static bool
extents_touch(struct frag_extent a, struct frag_extent b)
{
    return a.end && b.end && (a.start == b.end || b.start == a.end);
}

static struct frag_extent
extents_join(struct frag_extent a, struct frag_extent b)
{
    struct frag_extent j = {a.start < b.start ? a.start : b.start,
                            a.end > b.end ? a.end : b.end};

    return j;
}

/* The part of its datagram the fragment 'key' carries (an unused extent
 * if it carries nothing). */
static struct frag_extent
frag_extent(const struct vsw_flow_key *key)
{
    struct frag_extent e = {0, 0};
    uint32_t len;

    if (key->frag_data_ofs >= key->l3_end) {
        return e;
    }
    len = (uint32_t)(key->l3_end - key->frag_data_ofs);
    e.start = key->frag_offset;
    e.end = e.start + (len + 7) / 8;
    return e;
}

/* Adds the part 'e' of datagram 'fp' ('last': its last fragment) to
 * 'ranges', the datagram's word.  Returns the new word, or 0 if 'e'
 * overlaps what 'ranges' holds. */
static uint64_t
ranges_add(uint64_t ranges, uint64_t fp, struct frag_extent e, bool last)
{
    struct frag_extent a = extent_get(ranges, 0);
    struct frag_extent b = extent_get(ranges, 1);
    bool kept = true;

    if (extents_overlap(a, e) || extents_overlap(b, e)) {
        return 0;
    }
    if (!a.end || extents_touch(a, e)) {
        a = a.end ? extents_join(a, e) : e;
        if (extents_touch(a, b)) {
            a = extents_join(a, b);
            b.start = b.end = 0;
        }
    } else if (!b.end || extents_touch(b, e)) {
        b = b.end ? extents_join(b, e) : e;
        if (extents_touch(a, b)) {
            a = extents_join(a, b);
            b.start = b.end = 0;
        }
    } else if (e.start == 0) {
        b = e;
    } else {
        kept = false;
    }
    return ranges_make(fp, a, b, (ranges & FRAG_LAST_BIT) || (last && kept));
}

/* True if 'ranges' shows a whole datagram. */
static bool
ranges_whole(uint64_t ranges)
{
    struct frag_extent a = extent_get(ranges, 0);
    struct frag_extent b = extent_get(ranges, 1);

    return (ranges & FRAG_LAST_BIT) && a.end && a.start == 0 && !b.end;
}

/* Records the part of the datagram 'fp' that the passing fragment 'key'
 * carries, in the entry of 'frag_seen' that becomes the datagram's if it
 * was another's.  Returns false if that part overlaps one an earlier
 * fragment carried. */
static bool
frag_track(struct vsw_guard_state *state, uint64_t fp,
           const struct vsw_flow_key *key)
{
    struct vsw_guard_frag *slot =
        &state->frag_seen[fp >> 56 & (VSW_GUARD_FRAG_SLOTS - 1)];
    struct frag_extent e = frag_extent(key);
    struct frag_extent none = {0, 0};
    uint64_t old, new;

    if (!e.end) {
        return true;
    }
    old = atomic_load_explicit(&slot->datagram, memory_order_relaxed);
    if (old != fp) {
        /* A datagram new to the table: it takes the entry. */
        if (old) {
            frag_count_eviction(state);
        }
        atomic_store_explicit(&slot->ranges,
                              ranges_make(fp, e, none, key->frag_last),
                              memory_order_relaxed);
        atomic_store_explicit(&slot->datagram, fp, memory_order_relaxed);
        return true;
    }
    old = atomic_load_explicit(&slot->ranges, memory_order_relaxed);
    do {
        if ((old & ~(FRAG_LAST_BIT | (FRAG_LAST_BIT - 1))) != frag_tag(fp)) {
            /* Another datagram's, from a race for the entry. */
            new = ranges_make(fp, e, none, key->frag_last);
        } else {
            new = ranges_add(old, fp, e, key->frag_last);
            if (!new) {
                return false;
            }
        }
    } while (!atomic_compare_exchange_weak_explicit(
        &slot->ranges, &old, new, memory_order_relaxed, memory_order_relaxed));
    if (ranges_whole(new)) {
        uint64_t mine = fp;

        atomic_compare_exchange_strong_explicit(&slot->datagram, &mine, 0,
                                                memory_order_relaxed,
                                                memory_order_relaxed);
    }
    return true;
}

/* Steps 4-7 of the order at the top. */
static enum vsw_guard_verdict
check_l4_guards(const struct vsw_guard_config *cfg,
                struct vsw_guard_state *state, const struct vsw_flow_key *key,
                const uint8_t *frame, size_t len)
{
    bool fragment = (key->flags & VSW_FLOW_F_FRAGMENT) &&
                    !(key->flags & VSW_FLOW_F_ATOMIC_FRAGMENT);
    enum vsw_guard_verdict verdict = VSW_GUARD_OK;
    enum vsw_guard_verdict earlier = VSW_GUARD_OK;
    uint64_t fp = 0;

    if (fragment) {
        fp = frag_fingerprint(key);
        earlier = frag_lookup(state, fp);
    }
    if (key->flags & VSW_FLOW_F_LATER_FRAGMENT) {
        verdict = earlier;
    } else {
        if (cfg->dhcp_guard) {
            verdict = check_dhcp(key, frame, len);
        }
        if (!verdict && cfg->router_guard) {
            verdict = check_router(key);
        }
        if (!verdict) {
            verdict = check_ipv6_chain(cfg, key);
        }
        if (fragment && verdict) {
            frag_remember(state, fp, verdict);
        } else if (earlier == VSW_GUARD_FRAG_OVERLAP) {
            /* RFC 5722: the whole datagram goes, whichever part comes. */
            verdict = earlier;
        } else if (earlier) {
            /* A first fragment that passes: the id is in use again. */
            frag_forget(state, fp);
        }
    }
    if (fragment && !verdict && !frag_track(state, fp, key)) {
        frag_remember(state, fp, VSW_GUARD_FRAG_OVERLAP);
        verdict = VSW_GUARD_FRAG_OVERLAP;
    }
    return verdict;
}

/* See the order at the top of this file. */
enum vsw_guard_verdict
vsw_guard_check_out(const struct vsw_guard_config *cfg,
                    struct vsw_guard_state *state,
                    const struct vsw_flow_key *key, const uint8_t *frame,
                    size_t len)
{
    bool l4_guards = cfg->dhcp_guard || cfg->router_guard;
    bool ip_guard = cfg->n_ips > 0;
    enum vsw_guard_verdict verdict = check_mac(cfg, key);

    if (verdict) {
        return verdict;
    }
    if ((l4_guards || ip_guard) && (key->flags & VSW_FLOW_F_TOO_MANY_VLANS)) {
        return VSW_GUARD_TOO_MANY_VLANS;
    }
    if (ip_guard) {
        verdict = check_ip(cfg, key);
        if (verdict) {
            return verdict;
        }
    }
    return l4_guards ? check_l4_guards(cfg, state, key, frame, len)
                     : VSW_GUARD_OK;
}

/* The storm limit is a GCRA, the single-word form of a token bucket: the
 * bucket is empty at 'tat_ns' and each frame moves that one interval
 * later; a frame arriving more than the burst before it is over the limit
 * and changes nothing.  The interval is rounded to whole nanoseconds,
 * which keeps the rate within 0.05 % up to 1 Mpps.  The burst of 1/20 s
 * bounds what any one-second window admits to 1.05 times the limit. */
bool
vsw_guard_storm_admit(struct vsw_guard_storm *bucket, uint32_t limit_pps,
                      uint64_t now_ns)
{
    uint64_t interval, burst, tolerance, tat, next;

    if (!limit_pps) {
        return true;
    }
    interval = (NSEC_PER_SEC + limit_pps / 2) / limit_pps;
    if (!interval) {
        interval = 1;
    }
    burst = limit_pps / 20 ? limit_pps / 20 : 1;
    tolerance = (burst - 1) * interval;

    tat = atomic_load_explicit(&bucket->tat_ns, memory_order_relaxed);
    do {
        if (tat > now_ns + tolerance) {
            return false;
        }
        next = (tat > now_ns ? tat : now_ns) + interval;
    } while (!atomic_compare_exchange_weak_explicit(&bucket->tat_ns, &tat,
                                                    next, memory_order_relaxed,
                                                    memory_order_relaxed));
    return true;
}

enum vsw_guard_verdict
vsw_guard_check_storm(const struct vsw_guard_config *cfg,
                      struct vsw_guard_state *state,
                      const struct vsw_flow_key *key, bool dst_known,
                      uint64_t now_ns)
{
    if (!cfg->storm_limit_pps ||
        (dst_known && !vsw_eth_addr_is_multicast(key->eth_dst))) {
        return VSW_GUARD_OK;
    }
    return vsw_guard_storm_admit(&state->storm, cfg->storm_limit_pps, now_ns)
               ? VSW_GUARD_OK
               : VSW_GUARD_STORM;
}

uint8_t
vsw_guard_pcp(const struct vsw_guard_config *cfg, uint8_t frame_pcp)
{
    return cfg->ieee_priority_tag ? frame_pcp & 7 : 0;
}
