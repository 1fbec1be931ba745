/*
 * Flow key extraction.
 *
 * The parser walks the frame front to back and checks that every header
 * fits before it reads it, so the only reads are of bytes in
 * [frame, frame + len).  It keeps no state outside the key it fills, so
 * any number of threads may call it at once.
 *
 * Decisions this file makes (flow.h states the contract):
 *
 * - VLAN tags: 0x8100, 0x88a8 and the pre-standard S-tag 0x9100 are tags.
 *   The parser stops at the first tag past VSW_FLOW_MAX_VLANS, so 'eth_type'
 *   is then that tag's TPID and a stack of any height costs the same.  A
 *   tag cut short by the end of the frame has no TCI to record and is not
 *   counted; 'eth_type' stays its TPID, so the frame is never taken for IP
 *   and the VLAN stage never strips a tag that is not there.
 *
 * - Lengths: the IPv4 total length or IPv6 payload length bounds
 *   everything after the IP header.  Bytes past it are Ethernet padding,
 *   flagged and never parsed: reading L4 out of the padding is how a 2020
 *   Open vSwitch CVE let a guard be bypassed.
 *
 * - Frames longer than 65535 bytes (GSO buffers): the 16-bit offsets
 *   cannot point past 65535, so L3 data beyond that offset is treated as
 *   absent and VSW_FLOW_F_L3_CLIPPED says so.  The headers always start far
 *   below it, so only absurdly long IPv6 header chains lose anything.
 *
 * - Incomplete headers: a flag, and the fields of that header stay zero.
 *   A TCP header with a data offset below 5 or options past the end of the
 *   packet leaves the ports zero as well, because no well-formed reading
 *   of it exists.  IPv4 and IPv6 fixed-header fields (addresses, TTL, TOS,
 *   protocol) are filled as soon as the fixed header is present with a
 *   sane version, so ACLs and logs see them even on a malformed packet.
 *
 * - IPv6 'ip_proto' is the last Next Header value the parser read: the
 *   upper-layer protocol when the chain completes, otherwise the header
 *   it stopped at (a later fragment's or a cut-off header's type).
 */
#include "flow.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* The pre-standard S-tag TPID some switches still send. */
#define ETH_TYPE_VLAN_9100 0x9100

#define VLAN_HLEN      4 /* TCI and the encapsulated ethertype */
#define ARP_ETH_IP_LEN 28
#define IPV4_HLEN      20
#define IPV6_HLEN      40
#define IPV6_FRAG_HLEN 8
#define TCP_HLEN       20
#define UDP_HLEN       8
#define ICMP_HLEN      4 /* type, code, checksum */
#define ND_TARGET_OFS  8 /* target address in an ICMPv6 NS or NA */

#define IPV4_MF          0x2000
#define IPV4_FRAG_OFFSET 0x1fff
#define IPV6_FRAG_OFFSET 0xfff8
#define IPV6_FRAG_M      0x0001

/* IP protocol and IPv6 Next Header values from the IANA registry. */
enum {
    IP_PROTO_HOPOPTS = 0,
    IP_PROTO_ICMP = 1,
    IP_PROTO_IPIP = 4,
    IP_PROTO_TCP = 6,
    IP_PROTO_UDP = 17,
    IP_PROTO_DCCP = 33,
    IP_PROTO_IPV6 = 41,
    IP_PROTO_ROUTING = 43,
    IP_PROTO_FRAGMENT = 44,
    IP_PROTO_GRE = 47,
    IP_PROTO_ESP = 50,
    IP_PROTO_AH = 51,
    IP_PROTO_ICMPV6 = 58,
    IP_PROTO_NONE = 59,
    IP_PROTO_DSTOPTS = 60,
    IP_PROTO_EIGRP = 88,
    IP_PROTO_OSPF = 89,
    IP_PROTO_ETHERIP = 97,
    IP_PROTO_PIM = 103,
    IP_PROTO_VRRP = 112,
    IP_PROTO_L2TP = 115,
    IP_PROTO_SCTP = 132,
    IP_PROTO_MH = 135,
    IP_PROTO_UDPLITE = 136,
    IP_PROTO_MPLS = 137,
    IP_PROTO_HIP = 139,
    IP_PROTO_SHIM6 = 140,
    IP_PROTO_ETHERNET = 143,
    IP_PROTO_EXP1 = 253,
    IP_PROTO_EXP2 = 254,
};

#define ICMPV6_ND_NS 135
#define ICMPV6_ND_NA 136

static uint16_t
get_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get_be32(const uint8_t *p)
{
    return (uint32_t)get_be16(p) << 16 | get_be16(p + 2);
}

static void
set_ipv4_mapped(uint8_t dst[16], const uint8_t *ipv4)
{
    memset(dst, 0, 10);
    dst[10] = 0xff;
    dst[11] = 0xff;
    memcpy(dst + 12, ipv4, 4);
}

static bool
is_vlan_tpid(uint16_t type)
{
    return type == VSW_ETH_TYPE_VLAN || type == VSW_ETH_TYPE_QINQ ||
           type == ETH_TYPE_VLAN_9100;
}

/* True for the headers of the IANA "IPv6 Extension Header Types" registry
 * that carry a Next Header field, i.e. all but ESP, whose payload is
 * encrypted and so ends the chain like an upper-layer header. */
static bool
is_ipv6_ext_header(uint8_t nh)
{
    switch (nh) {
    case IP_PROTO_HOPOPTS:
    case IP_PROTO_ROUTING:
    case IP_PROTO_FRAGMENT:
    case IP_PROTO_AH:
    case IP_PROTO_DSTOPTS:
    case IP_PROTO_MH:
    case IP_PROTO_HIP:
    case IP_PROTO_SHIM6:
    case IP_PROTO_EXP1:
    case IP_PROTO_EXP2:
        return true;
    default:
        return false;
    }
}

/* True for the upper-layer protocols an IPv6 chain may legitimately end
 * in.  RFC 7113 has RA guards drop any other Next Header by default,
 * because a filter cannot tell an unknown protocol from an extension
 * header it does not know how to skip.  The list holds the transports and
 * tunnels that hosts and routers run over IPv6 today: ICMPv6 and the
 * transports (TCP, UDP, UDP-Lite, SCTP, DCCP), the tunnels (IPv4, IPv6,
 * GRE, EtherIP, L2TPv3, MPLS, Ethernet), the routing and redundancy
 * protocols that have IPv6 versions (OSPFv3, EIGRP, PIM, VRRPv3), ESP and
 * No Next Header.  ICMP (IPv4's) is on it because some stacks misuse it
 * and dropping it would only hide the problem; IGMP is not, since
 * multicast listeners use MLD over ICMPv6. */
static bool
is_known_ipv6_upper_layer(uint8_t nh)
{
    switch (nh) {
    case IP_PROTO_ICMP:
    case IP_PROTO_IPIP:
    case IP_PROTO_TCP:
    case IP_PROTO_UDP:
    case IP_PROTO_DCCP:
    case IP_PROTO_IPV6:
    case IP_PROTO_GRE:
    case IP_PROTO_ESP:
    case IP_PROTO_ICMPV6:
    case IP_PROTO_NONE:
    case IP_PROTO_EIGRP:
    case IP_PROTO_OSPF:
    case IP_PROTO_ETHERIP:
    case IP_PROTO_PIM:
    case IP_PROTO_VRRP:
    case IP_PROTO_L2TP:
    case IP_PROTO_SCTP:
    case IP_PROTO_UDPLITE:
    case IP_PROTO_MPLS:
    case IP_PROTO_ETHERNET:
        return true;
    default:
        return false;
    }
}

/* Records where the L3 data that starts at 'l3' and claims 'l3_len' bytes
 * ends in a 'len'-byte frame, flagging truncation, padding and clipping.
 * Returns the end offset, which never exceeds 'len' or UINT16_MAX. */
static size_t
set_l3_end(size_t len, size_t l3, size_t l3_len, struct vsw_flow_key *key)
{
    size_t end = l3 + l3_len;

    if (end > len) {
        key->flags |= VSW_FLOW_F_L3_TRUNCATED;
        end = len;
    } else if (end < len) {
        key->flags |= VSW_FLOW_F_PADDED;
    }
    if (end > UINT16_MAX) {
        key->flags |= VSW_FLOW_F_L3_CLIPPED;
        end = UINT16_MAX;
    }
    key->l3_end = (uint16_t)end;
    return end;
}

/* Parses the upper-layer header of protocol 'proto' at offset 'l4' of
 * 'frame', with the L3 data ending at 'end' (l4 <= end).  Returns false if
 * a header the parser knows does not fit, true otherwise (including for
 * protocols it does not parse). */
static bool
parse_l4(const uint8_t *frame, size_t l4, size_t end, uint8_t proto,
         struct vsw_flow_key *key)
{
    const uint8_t *p = frame + l4;
    size_t avail = end - l4;
    size_t hlen;

    switch (proto) {
    case IP_PROTO_TCP:
        if (avail < TCP_HLEN) {
            break;
        }
        hlen = (size_t)(p[12] >> 4) * 4;
        if (hlen < TCP_HLEN) {
            key->flags |= VSW_FLOW_F_L4_MALFORMED;
            return true;
        }
        if (hlen > avail) {
            break;
        }
        key->tp_src = get_be16(p);
        key->tp_dst = get_be16(p + 2);
        key->tcp_flags = p[13];
        key->l4_ofs = (uint16_t)l4;
        key->l7_ofs = (uint16_t)(l4 + hlen);
        return true;

    case IP_PROTO_UDP:
        if (avail < UDP_HLEN) {
            break;
        }
        key->tp_src = get_be16(p);
        key->tp_dst = get_be16(p + 2);
        key->l4_ofs = (uint16_t)l4;
        key->l7_ofs = (uint16_t)(l4 + UDP_HLEN);
        return true;

    case IP_PROTO_ICMP:
    case IP_PROTO_ICMPV6:
        if (avail < ICMP_HLEN) {
            break;
        }
        key->icmp_type = p[0];
        key->icmp_code = p[1];
        key->l4_ofs = (uint16_t)l4;
        if (proto == IP_PROTO_ICMPV6 &&
            (p[0] == ICMPV6_ND_NS || p[0] == ICMPV6_ND_NA) &&
            avail >= ND_TARGET_OFS + sizeof key->nd_target) {
            memcpy(key->nd_target, p + ND_TARGET_OFS, sizeof key->nd_target);
        }
        return true;

    default:
        return true;
    }
    key->flags |= VSW_FLOW_F_L4_TRUNCATED;
    return false;
}

/* Parses the ARP packet at offset 'l3'.  An Ethernet switch carries only
 * Ethernet/IPv4 ARP, so any other kind is flagged malformed rather than
 * passed on with addresses the IP ACLs cannot check. */
static void
parse_arp(const uint8_t *frame, size_t len, size_t l3,
          struct vsw_flow_key *key)
{
    const uint8_t *arp = frame + l3;

    if (len - l3 < ARP_ETH_IP_LEN) {
        key->flags |= VSW_FLOW_F_L3_TRUNCATED;
        return;
    }
    if (get_be16(arp) != 1 || get_be16(arp + 2) != VSW_ETH_TYPE_IPV4 ||
        arp[4] != VSW_ETH_ALEN || arp[5] != 4) {
        key->flags |= VSW_FLOW_F_L3_MALFORMED;
        return;
    }
    set_l3_end(len, l3, ARP_ETH_IP_LEN, key);
    key->arp_op = get_be16(arp + 6);
    memcpy(key->arp_sha, arp + 8, VSW_ETH_ALEN);
    set_ipv4_mapped(key->ip_src, arp + 14);
    memcpy(key->arp_tha, arp + 18, VSW_ETH_ALEN);
    set_ipv4_mapped(key->ip_dst, arp + 24);
}

static void
parse_ipv4(const uint8_t *frame, size_t len, size_t l3,
           struct vsw_flow_key *key)
{
    const uint8_t *ip = frame + l3;
    size_t hlen, end;
    uint16_t frag;

    if (len - l3 < IPV4_HLEN) {
        key->flags |= VSW_FLOW_F_L3_TRUNCATED;
        return;
    }
    hlen = (size_t)(ip[0] & 0x0f) * 4;
    if (ip[0] >> 4 != 4 || hlen < IPV4_HLEN) {
        key->flags |= VSW_FLOW_F_L3_MALFORMED;
        return;
    }
    key->ip_tos = ip[1];
    key->ip_ttl = ip[8];
    key->ip_proto = ip[9];
    set_ipv4_mapped(key->ip_src, ip + 12);
    set_ipv4_mapped(key->ip_dst, ip + 16);
    if (hlen > IPV4_HLEN) {
        key->flags |= VSW_FLOW_F_IP_OPTIONS;
    }
    if (get_be16(ip + 2) < hlen) {
        key->flags |= VSW_FLOW_F_L3_MALFORMED;
        return;
    }
    end = set_l3_end(len, l3, get_be16(ip + 2), key);
    if (hlen > end - l3) {
        /* The total length covers the header, so the frame is what is
         * short: set_l3_end() flagged it. */
        return;
    }

    frag = get_be16(ip + 6);
    if (frag & (IPV4_MF | IPV4_FRAG_OFFSET)) {
        key->flags |= VSW_FLOW_F_FRAGMENT;
        key->frag_id = get_be16(ip + 4);
        key->frag_data_ofs = (uint16_t)(end < l3 + hlen ? end : l3 + hlen);
        key->frag_offset = frag & IPV4_FRAG_OFFSET;
        key->frag_last = !(frag & IPV4_MF);
        if (frag & IPV4_FRAG_OFFSET) {
            key->flags |= VSW_FLOW_F_LATER_FRAGMENT;
            return;
        }
    }
    parse_l4(frame, l3 + hlen, end, key->ip_proto, key);
}

/* Walks the IPv6 header chain whose first Next Header is 'nh' and whose
 * first header is at 'ofs', up to the end of the L3 data at 'end'.  No
 * depth limit: each header is at least 8 bytes, so the packet length
 * bounds the walk (RFC 7113 asks for the whole chain). */
static void
parse_ipv6_chain(const uint8_t *frame, size_t ofs, size_t end, uint8_t nh,
                 struct vsw_flow_key *key)
{
    bool fragmented = false;

    while (is_ipv6_ext_header(nh)) {
        const uint8_t *h = frame + ofs;
        size_t avail = end - ofs;
        size_t hlen;

        key->ip_proto = nh;
        if (avail < 2) {
            goto incomplete;
        }
        if (nh == IP_PROTO_FRAGMENT) {
            uint16_t frag;

            if (avail < IPV6_FRAG_HLEN) {
                goto incomplete;
            }
            frag = get_be16(h + 2);
            if (!fragmented) {
                /* A receiver reassembles by the outermost header first. */
                key->frag_id = get_be32(h + 4);
                key->frag_data_ofs = (uint16_t)(ofs + IPV6_FRAG_HLEN);
                key->frag_offset = (frag & IPV6_FRAG_OFFSET) >> 3;
                key->frag_last = !(frag & IPV6_FRAG_M);
            }
            fragmented = true;
            key->flags |= VSW_FLOW_F_FRAGMENT;
            if (frag & IPV6_FRAG_OFFSET) {
                key->flags |= VSW_FLOW_F_LATER_FRAGMENT;
                key->ip_proto = h[0];
                if (key->ipv6_ext_count < UINT8_MAX) {
                    key->ipv6_ext_count++;
                }
                return;
            }
            if (!(frag & IPV6_FRAG_M)) {
                key->flags |= VSW_FLOW_F_ATOMIC_FRAGMENT;
            }
            hlen = IPV6_FRAG_HLEN;
        } else if (nh == IP_PROTO_AH) {
            /* AH counts 4-octet units, minus 2 (RFC 4302). */
            hlen = ((size_t)h[1] + 2) * 4;
        } else {
            hlen = ((size_t)h[1] + 1) * 8;
        }
        if (hlen > avail) {
            goto incomplete;
        }
        if (key->ipv6_ext_count < UINT8_MAX) {
            key->ipv6_ext_count++;
        }
        nh = h[0];
        ofs += hlen;
    }

    key->ip_proto = nh;
    if (!is_known_ipv6_upper_layer(nh)) {
        key->flags |= VSW_FLOW_F_IPV6_UNKNOWN_NH;
        return;
    }
    /* RFC 7112 counts the upper-layer header as part of the chain. */
    if (!parse_l4(frame, ofs, end, nh, key)) {
        key->flags |= VSW_FLOW_F_IPV6_CHAIN_INCOMPLETE;
    }
    return;

incomplete:
    key->flags |= VSW_FLOW_F_IPV6_CHAIN_INCOMPLETE;
    /* Outside a fragment, a header longer than the payload length that
     * the frame does hold is a lie of the packet, not of the frame. */
    if (!fragmented &&
        !(key->flags & (VSW_FLOW_F_L3_TRUNCATED | VSW_FLOW_F_L3_CLIPPED))) {
        key->flags |= VSW_FLOW_F_L3_MALFORMED;
    }
}

static void
parse_ipv6(const uint8_t *frame, size_t len, size_t l3,
           struct vsw_flow_key *key)
{
    const uint8_t *ip = frame + l3;
    size_t end;

    if (len - l3 < IPV6_HLEN) {
        key->flags |= VSW_FLOW_F_L3_TRUNCATED;
        return;
    }
    if (ip[0] >> 4 != 6) {
        key->flags |= VSW_FLOW_F_L3_MALFORMED;
        return;
    }
    key->ip_tos = (uint8_t)(get_be16(ip) >> 4);
    key->ip_ttl = ip[7];
    memcpy(key->ip_src, ip + 8, 16);
    memcpy(key->ip_dst, ip + 24, 16);
    end = set_l3_end(len, l3, IPV6_HLEN + (size_t)get_be16(ip + 4), key);
    parse_ipv6_chain(frame, l3 + IPV6_HLEN, end, ip[6], key);
}

/* Fills 'key' from the 'len'-byte frame at 'frame'; see flow.h and the
 * comment at the top of this file for what each flag and field means on
 * a frame that is not what it claims to be. */
int
vsw_flow_extract(const uint8_t *frame, size_t len, struct vsw_flow_key *key)
{
    size_t ofs = VSW_ETH_HLEN;
    uint16_t type;

    memset(key, 0, sizeof *key);
    if (len < VSW_ETH_HLEN) {
        return -EINVAL;
    }
    memcpy(key->eth_dst, frame, VSW_ETH_ALEN);
    memcpy(key->eth_src, frame + VSW_ETH_ALEN, VSW_ETH_ALEN);
    type = get_be16(frame + 2 * VSW_ETH_ALEN);

    while (is_vlan_tpid(type)) {
        if (key->n_vlans == VSW_FLOW_MAX_VLANS) {
            /* A stack this deep is an attack on whoever parses the
             * innermost header differently: stop before L3. */
            key->n_vlans++;
            key->flags |= VSW_FLOW_F_TOO_MANY_VLANS;
            break;
        }
        if (len - ofs < VLAN_HLEN) {
            break;
        }
        key->vlan_tpid[key->n_vlans] = type;
        key->vlan_tci[key->n_vlans] = get_be16(frame + ofs);
        key->n_vlans++;
        type = get_be16(frame + ofs + 2);
        ofs += VLAN_HLEN;
    }
    key->eth_type = type;
    if (is_vlan_tpid(type)) {
        return 0;
    }

    switch (type) {
    case VSW_ETH_TYPE_IPV4:
        key->l3_ofs = (uint16_t)ofs;
        parse_ipv4(frame, len, ofs, key);
        break;
    case VSW_ETH_TYPE_IPV6:
        key->l3_ofs = (uint16_t)ofs;
        parse_ipv6(frame, len, ofs, key);
        break;
    case VSW_ETH_TYPE_ARP:
        key->l3_ofs = (uint16_t)ofs;
        parse_arp(frame, len, ofs, key);
        break;
    default:
        /* MPLS and everything else stays plain L2: whatever follows a
         * label stack cannot be known without the label bindings. */
        break;
    }
    return 0;
}

bool
vsw_flow_is_ipv4(const struct vsw_flow_key *key)
{
    return key->eth_type == VSW_ETH_TYPE_IPV4;
}

bool
vsw_flow_is_ipv6(const struct vsw_flow_key *key)
{
    return key->eth_type == VSW_ETH_TYPE_IPV6;
}

bool
vsw_eth_addr_is_multicast(const uint8_t mac[VSW_ETH_ALEN])
{
    return mac[0] & 1;
}

bool
vsw_eth_addr_is_broadcast(const uint8_t mac[VSW_ETH_ALEN])
{
    static const uint8_t bcast[VSW_ETH_ALEN] = {0xff, 0xff, 0xff,
                                                0xff, 0xff, 0xff};

    return !memcmp(mac, bcast, VSW_ETH_ALEN);
}

bool
vsw_eth_addr_is_zero(const uint8_t mac[VSW_ETH_ALEN])
{
    static const uint8_t zero[VSW_ETH_ALEN];

    return !memcmp(mac, zero, VSW_ETH_ALEN);
}

/* A bounded output buffer: appends stop at the end and keep the text
 * NUL-terminated, so callers need no length arithmetic. */
struct fmt_buf {
    char *buf;   /* start of the caller's buffer */
    size_t size; /* its size, > 0 */
    size_t len;  /* characters written so far, < size */
};

static void fmt_append(struct fmt_buf *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
fmt_append(struct fmt_buf *f, const char *fmt, ...)
{
    va_list args;
    int n;

    va_start(args, fmt);
    n = vsnprintf(f->buf + f->len, f->size - f->len, fmt, args);
    va_end(args);
    if (n > 0) {
        f->len += (size_t)n;
        if (f->len >= f->size) {
            f->len = f->size - 1;
        }
    }
}

static void
fmt_mac(struct fmt_buf *f, const uint8_t mac[VSW_ETH_ALEN])
{
    fmt_append(f, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
               mac[3], mac[4], mac[5]);
}

/* Appends 'addr' as IPv4 if 'mapped' (it holds ::ffff:a.b.c.d), else as
 * IPv6. */
static void
fmt_ip(struct fmt_buf *f, const uint8_t addr[16], bool mapped)
{
    char text[INET6_ADDRSTRLEN];

    if (mapped) {
        inet_ntop(AF_INET, addr + 12, text, sizeof text);
    } else {
        inet_ntop(AF_INET6, addr, text, sizeof text);
    }
    fmt_append(f, "%s", text);
}

static const char *
ip_proto_name(uint8_t proto)
{
    switch (proto) {
    case IP_PROTO_ICMP:
        return "icmp";
    case IP_PROTO_TCP:
        return "tcp";
    case IP_PROTO_UDP:
        return "udp";
    case IP_PROTO_GRE:
        return "gre";
    case IP_PROTO_ESP:
        return "esp";
    case IP_PROTO_ICMPV6:
        return "icmpv6";
    case IP_PROTO_SCTP:
        return "sctp";
    default:
        return NULL;
    }
}

/* Names of the VSW_FLOW_F_* bits, indexed by bit number. */
static const char *const flag_names[] = {
    "l3-truncated",
    "l4-truncated",
    "ip-options",
    "fragment",
    "later-fragment",
    "ipv6-chain-incomplete",
    "ipv6-unknown-next-header",
    "too-many-vlans",
    "padded",
    "l3-malformed",
    "l4-malformed",
    "atomic-fragment",
    "l3-clipped",
};

static void
fmt_l4(struct fmt_buf *f, const struct vsw_flow_key *key)
{
    const char *name = ip_proto_name(key->ip_proto);

    if (name) {
        fmt_append(f, " proto %s", name);
    } else {
        fmt_append(f, " proto %u", key->ip_proto);
    }
    if (!key->l4_ofs) {
        return;
    }
    switch (key->ip_proto) {
    case IP_PROTO_TCP:
        fmt_append(f, " %u->%u tcp-flags 0x%02x", key->tp_src, key->tp_dst,
                   key->tcp_flags);
        break;
    case IP_PROTO_UDP:
        fmt_append(f, " %u->%u", key->tp_src, key->tp_dst);
        break;
    default:
        fmt_append(f, " type %u code %u", key->icmp_type, key->icmp_code);
        if (key->ip_proto == IP_PROTO_ICMPV6 &&
            (key->icmp_type == ICMPV6_ND_NS ||
             key->icmp_type == ICMPV6_ND_NA)) {
            fmt_append(f, " target ");
            fmt_ip(f, key->nd_target, false);
        }
        break;
    }
}

/* Writes one line such as "eth 02:00:00:00:00:01->ff:ff:ff:ff:ff:ff vlan
 * 10 ipv4 10.0.0.1->10.0.0.2 proto udp 68->67 flags=padded": the L2 part,
 * then whatever the parser found above it.  A 'size' of 0 writes
 * nothing. */
char *
vsw_flow_format(const struct vsw_flow_key *key, char *buf, size_t size)
{
    struct fmt_buf f = {.buf = buf, .size = size, .len = 0};
    size_t i;

    if (!size) {
        return buf;
    }
    buf[0] = '\0';

    fmt_append(&f, "eth ");
    fmt_mac(&f, key->eth_src);
    fmt_append(&f, "->");
    fmt_mac(&f, key->eth_dst);
    for (i = 0; i < key->n_vlans && i < VSW_FLOW_MAX_VLANS; i++) {
        fmt_append(&f, " %s %u",
                   key->vlan_tpid[i] == VSW_ETH_TYPE_VLAN ? "vlan" : "svlan",
                   key->vlan_tci[i] & 0x0fff);
    }

    if (!key->l3_ofs) {
        fmt_append(&f, " type 0x%04x", key->eth_type);
    } else if (key->eth_type == VSW_ETH_TYPE_ARP) {
        fmt_append(&f, " arp op %u ", key->arp_op);
        fmt_ip(&f, key->ip_src, true);
        fmt_append(&f, "->");
        fmt_ip(&f, key->ip_dst, true);
    } else {
        bool v4 = key->eth_type == VSW_ETH_TYPE_IPV4;

        fmt_append(&f, v4 ? " ipv4 " : " ipv6 ");
        fmt_ip(&f, key->ip_src, v4);
        fmt_append(&f, "->");
        fmt_ip(&f, key->ip_dst, v4);
        if (key->ipv6_ext_count) {
            fmt_append(&f, " ext %u", key->ipv6_ext_count);
        }
        fmt_l4(&f, key);
    }

    if (key->flags) {
        const char *sep = " flags=";

        for (i = 0; i < sizeof flag_names / sizeof flag_names[0]; i++) {
            if (key->flags & (1u << i)) {
                fmt_append(&f, "%s%s", sep, flag_names[i]);
                sep = ",";
            }
        }
    }
    return buf;
}
