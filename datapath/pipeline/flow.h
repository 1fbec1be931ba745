/*
 * Flow key extraction: the one frame parser of the switch.
 *
 * Every decision the datapath makes (VLAN classification, learning,
 * forwarding, and later ACLs, guards, hashing, tracing and the flow cache)
 * reads the key this module fills in, so a frame is parsed exactly once.
 * The parser never reads outside [frame, frame + len): every header is
 * bounds-checked before it is touched, Ethernet padding past the IP total
 * length or IPv6 payload length is ignored, and a header that does not fit
 * leaves a flag instead of a guess.
 */
#ifndef VSW_FLOW_H
#define VSW_FLOW_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VSW_ETH_ALEN 6
#define VSW_ETH_HLEN 14

/* Ethertypes and TPIDs the parser knows, host byte order. */
#define VSW_ETH_TYPE_IPV4    0x0800
#define VSW_ETH_TYPE_ARP     0x0806
#define VSW_ETH_TYPE_VLAN    0x8100 /* 802.1Q C-tag */
#define VSW_ETH_TYPE_QINQ    0x88a8 /* 802.1ad S-tag */
#define VSW_ETH_TYPE_IPV6    0x86dd
#define VSW_ETH_TYPE_MPLS    0x8847
#define VSW_ETH_TYPE_MPLS_MC 0x8848

/* VLAN tags the key records; more are counted, not recorded. */
#define VSW_FLOW_MAX_VLANS 2

/* 'flags' bits: what the parser found unusual.  A flag never means the
 * parser read out of bounds; it means it stopped where the frame lied. */
enum {
    VSW_FLOW_F_L3_TRUNCATED = 1 << 0,   /* L3 header claimed more than the
                                           frame holds */
    VSW_FLOW_F_L4_TRUNCATED = 1 << 1,   /* L4 header does not fit */
    VSW_FLOW_F_IP_OPTIONS = 1 << 2,     /* IPv4 IHL > 5 */
    VSW_FLOW_F_FRAGMENT = 1 << 3,       /* IPv4 MF/offset or IPv6 Fragment
                                           header present */
    VSW_FLOW_F_LATER_FRAGMENT = 1 << 4, /* fragment offset != 0: no L4 */
    VSW_FLOW_F_IPV6_CHAIN_INCOMPLETE = 1 << 5, /* first fragment does not
                                                  hold the whole chain
                                                  (RFC 7112) */
    VSW_FLOW_F_IPV6_UNKNOWN_NH = 1 << 6,  /* chain ended in an unknown next
                                             header */
    VSW_FLOW_F_TOO_MANY_VLANS = 1 << 7,   /* more tags than recorded; L3 not
                                             parsed */
    VSW_FLOW_F_PADDED = 1 << 8,           /* bytes after the L3 length */
    VSW_FLOW_F_L3_MALFORMED = 1 << 9,     /* bad version, IHL < 5, total
                                             length < header, ... */
    VSW_FLOW_F_L4_MALFORMED = 1 << 10,    /* e.g. TCP data offset < 5 */
    VSW_FLOW_F_ATOMIC_FRAGMENT = 1 << 11, /* IPv6 fragment header with
                                             offset 0 and M clear */
    VSW_FLOW_F_L3_CLIPPED = 1 << 12,      /* L3 data runs past offset 65535,
                                             which the 16-bit offsets cannot
                                             express: l3_end is clamped there
                                             and nothing past it is parsed */
};

/*
 * The parsed key.  Addresses are in network byte order, every other
 * integer in host byte order.  IPv4 addresses are stored IPv4-mapped
 * (::ffff:a.b.c.d) so one prefix matcher serves both families.
 * Offsets are from the start of the frame; 0 means "absent".
 */
struct vsw_flow_key {
    uint8_t eth_dst[VSW_ETH_ALEN]; /* destination MAC */
    uint8_t eth_src[VSW_ETH_ALEN]; /* source MAC */
    uint16_t eth_type;             /* ethertype after all recorded VLAN tags */
    uint8_t n_vlans;  /* tags seen, capped at VSW_FLOW_MAX_VLANS + 1 */
    uint8_t ip_proto; /* IPv4 protocol or IPv6 upper-layer header */
    uint16_t vlan_tpid[VSW_FLOW_MAX_VLANS]; /* outer tag first */
    uint16_t vlan_tci[VSW_FLOW_MAX_VLANS];  /* PCP, DEI and VID */
    uint16_t l3_ofs;                        /* start of the IP/ARP header */
    uint16_t l4_ofs;        /* start of TCP/UDP/ICMP/ICMPv6 header */
    uint16_t l7_ofs;        /* first byte after the L4 header */
    uint16_t l3_end;        /* end of L3 data (IP total length), excludes
                               Ethernet padding */
    uint8_t ip_src[16];     /* IP source, or ARP sender protocol address */
    uint8_t ip_dst[16];     /* IP destination, or ARP target protocol addr */
    uint8_t ip_tos;         /* DSCP and ECN */
    uint8_t ip_ttl;         /* TTL or hop limit */
    uint8_t ipv6_ext_count; /* IPv6 extension headers walked */
    uint8_t tcp_flags;      /* low 8 TCP flag bits */
    uint16_t tp_src;        /* TCP/UDP source port */
    uint16_t tp_dst;        /* TCP/UDP destination port */
    uint8_t icmp_type;      /* ICMP or ICMPv6 type */
    uint8_t icmp_code;      /* ICMP or ICMPv6 code */
    uint16_t arp_op;        /* ARP opcode */
    uint8_t arp_sha[VSW_ETH_ALEN]; /* ARP sender hardware address */
    uint8_t arp_tha[VSW_ETH_ALEN]; /* ARP target hardware address */
    uint8_t nd_target[16];         /* ND NS/NA target address */
    uint32_t flags;                /* VSW_FLOW_F_* */
    uint32_t frag_id; /* with VSW_FLOW_F_FRAGMENT: the IPv4 Identification
                         or the first IPv6 Fragment header's
                         Identification, which with the addresses names the
                         datagram a fragment belongs to; else 0 */
    uint16_t frag_data_ofs; /* with VSW_FLOW_F_FRAGMENT: where the
                               fragment's share of the datagram (what
                               follows the IPv4 header or the first IPv6
                               Fragment header) starts in the frame */
    uint16_t frag_offset;   /* with VSW_FLOW_F_FRAGMENT: that share's place
                               in the datagram, in 8-octet units */
    bool frag_last;         /* with VSW_FLOW_F_FRAGMENT: More Fragments is
                               clear, the share ends the datagram */
};

/* Extracts the key of the 'len'-byte Ethernet frame at 'frame' into 'key'
 * (fully overwritten).  Returns 0, or -EINVAL when the frame is shorter
 * than an Ethernet header, in which case only 'flags' is meaningful.
 * Never reads outside the frame.  Malformed L3/L4 content is reported
 * through 'flags' and leaves the L2 part valid. */
int vsw_flow_extract(const uint8_t *frame, size_t len,
                     struct vsw_flow_key *key);

/* True if 'key' carries an IPv4 packet (including one inside VLAN tags). */
bool vsw_flow_is_ipv4(const struct vsw_flow_key *key);
/* True if 'key' carries an IPv6 packet. */
bool vsw_flow_is_ipv6(const struct vsw_flow_key *key);

/* Predicates on MAC addresses. */
bool vsw_eth_addr_is_multicast(const uint8_t mac[VSW_ETH_ALEN]);
bool vsw_eth_addr_is_broadcast(const uint8_t mac[VSW_ETH_ALEN]);
bool vsw_eth_addr_is_zero(const uint8_t mac[VSW_ETH_ALEN]);

/* Formats 'key' as one human-readable line into 'buf' (at most 'size'
 * bytes, always NUL-terminated).  Returns 'buf'.  Used by tracing and
 * logs. */
char *vsw_flow_format(const struct vsw_flow_key *key, char *buf, size_t size);

#endif /* VSW_FLOW_H */
