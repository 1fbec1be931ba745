/*
 * Unit tests of the port guards (datapath/policy/guard.c).
 *
 * Every frame is assembled byte by byte, parsed by vsw_flow_extract() from
 * a heap buffer of exactly its length (so ASan sees any read past it) and
 * then checked; each evasion of ROBUSTNESS.md's "Frames" list must be
 * dropped with its own verdict, and the legitimate frames next to it must
 * pass.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"

#define FRAME_MAX 2048

#include "frame-build.h"

/* The VM's MAC, another station's, and broadcast. */
static const uint8_t mac_vm[VSW_ETH_ALEN] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t mac_other[VSW_ETH_ALEN] = {0x02, 0, 0, 0, 0, 0x99};
static const uint8_t mac_bcast[VSW_ETH_ALEN] = {0xff, 0xff, 0xff,
                                                0xff, 0xff, 0xff};
static const uint8_t mac_ipv6_mcast[VSW_ETH_ALEN] = {0x33, 0x33, 0, 0, 0, 1};

/* IPv4: the VM, a neighbour, a server, broadcast. */
#define IP4_VM    0x0a000001u /* 10.0.0.1 */
#define IP4_OTHER 0x0a000002u /* 10.0.0.2 */
#define IP4_FAR   0x0a000105u /* 10.0.1.5 */
#define IP4_BCAST 0xffffffffu

/* IPv6: the EUI-64 link-local of mac_vm, another link-local, the VM's
 * global address, all-nodes, All_DHCP_Relay_Agents_and_Servers. */
static const uint8_t ip6_vm_ll[16] = {
    0xfe, 0x80, [11] = 0xff, [12] = 0xfe, [15] = 0x01};
static const uint8_t ip6_other_ll[16] = {0xfe, 0x80, [15] = 2};
static const uint8_t ip6_vm_global[16] = {0x20, 0x01,    0x0d,
                                          0xb8, [7] = 1, [15] = 1};
static const uint8_t ip6_all_nodes[16] = {0xff, 0x02, [15] = 1};
static const uint8_t ip6_dhcp_servers[16] = {0xff, 0x02, [13] = 1, [15] = 2};
static const uint8_t ip6_any[16];

static const uint16_t tpid_ctag[] = {VSW_ETH_TYPE_VLAN};
static const uint16_t tci_10[] = {10};
static const uint16_t tpid_qinq[] = {VSW_ETH_TYPE_QINQ, VSW_ETH_TYPE_VLAN};
static const uint16_t tci_qinq[] = {100, 10};

/* BOOTP ops and DHCP message types. */
#define BOOTREQUEST_OP 1
#define BOOTREPLY_OP   2
enum {
    DHCPDISCOVER = 1,
    DHCPOFFER = 2,
    DHCPREQUEST = 3,
    DHCPACK = 5,
    DHCPNAK = 6,
    DHCPFORCERENEW = 9,
};

/* DHCPv6 message types. */
enum {
    DHCPV6_SOLICIT = 1,
    DHCPV6_ADVERTISE = 2,
    DHCPV6_REQUEST = 3,
    DHCPV6_REPLY = 7,
    DHCPV6_RECONFIGURE = 10,
    DHCPV6_RELAY_FORW = 12,
    DHCPV6_RELAY_REPL = 13,
};

/* IPv6 next header values. */
enum {
    NH_HOPOPTS = 0,
    NH_UDP = 17,
    NH_FRAGMENT = 44,
    NH_ICMPV6 = 58,
    NH_DSTOPTS = 60,
};

/* Frame assembly: protocol headers (the byte writers are in
 * frame-build.h). */

/* Starts 'f' with an Ethernet header from 'src' to 'dst', 'n_tags' tags
 * and 'type'. */
static void
start_eth(struct frame *f, const uint8_t *dst, const uint8_t *src,
          const uint16_t *tpids, const uint16_t *tcis, size_t n_tags,
          uint16_t type)
{
    f->len = 0;
    put_bytes(f, dst, VSW_ETH_ALEN);
    put_bytes(f, src, VSW_ETH_ALEN);
    for (size_t i = 0; i < n_tags; i++) {
        put16(f, tpids[i]);
        put16(f, tcis[i]);
    }
    put16(f, type);
}

/* An IPv4 header with 'opt_words' words of NOP options, id 'id', no
 * fragmentation; finish_ipv4() sets the total length.  Returns its
 * offset. */
static size_t
put_ipv4(struct frame *f, uint8_t proto, uint32_t src, uint32_t dst,
         unsigned opt_words, uint16_t id)
{
    size_t ip = f->len;

    put8(f, (uint8_t)(0x45 + opt_words));
    put8(f, 0);
    put16(f, 0);
    put16(f, id);
    put16(f, 0);
    put8(f, 64);
    put8(f, proto);
    put16(f, 0);
    put32(f, src);
    put32(f, dst);
    put_fill(f, 0x01, opt_words * 4);
    return ip;
}

static void
finish_ipv4(struct frame *f, size_t ip)
{
    set16(f, ip + 2, (uint16_t)(f->len - ip));
}

static size_t
put_ipv6(struct frame *f, uint8_t nh, const uint8_t *src, const uint8_t *dst)
{
    size_t ip = f->len;

    put32(f, 0x60000000);
    put16(f, 0);
    put8(f, nh);
    put8(f, 255);
    put_bytes(f, src, 16);
    put_bytes(f, dst, 16);
    return ip;
}

static void
finish_ipv6(struct frame *f, size_t ip)
{
    set16(f, ip + 4, (uint16_t)(f->len - ip - 40));
}

/* A Hop-by-Hop or Destination Options header of 8 bytes, one PadN. */
static void
put_opts(struct frame *f, uint8_t nh)
{
    put8(f, nh);
    put8(f, 0);
    put8(f, 1);
    put8(f, 4);
    put32(f, 0);
}

static void
put_udp(struct frame *f, uint16_t sport, uint16_t dport, size_t data_len)
{
    put16(f, sport);
    put16(f, dport);
    put16(f, (uint16_t)(8 + data_len));
    put16(f, 0);
}

/* A BOOTP message with 'op'; with a DHCP message type 'dhcp_type' in
 * option 53, or, if 0, a plain BOOTP one with an empty vendor area. */
static void
put_bootp(struct frame *f, uint8_t op, uint8_t dhcp_type)
{
    put8(f, op);
    put8(f, 1);
    put8(f, 6);
    put8(f, 0);
    put32(f, 0x3903f326);
    put16(f, 0);
    put16(f, 0x8000);
    put32(f, 0);                                   /* ciaddr */
    put32(f, op == BOOTREPLY_OP ? 0x0a000032 : 0); /* yiaddr */
    put32(f, 0);                                   /* siaddr */
    put32(f, 0);                                   /* giaddr */
    put_bytes(f, mac_other, VSW_ETH_ALEN);
    put_fill(f, 0, 10 + 64 + 128);
    if (!dhcp_type) {
        put_fill(f, 0, 64);
        return;
    }
    put32(f, 0x63825363);
    put8(f, 53);
    put8(f, 1);
    put8(f, dhcp_type);
    put8(f, 255);
}

/* A DHCPv6 message: type, transaction id, a DUID-LL Client Identifier. */
static void
put_dhcpv6(struct frame *f, uint8_t type)
{
    put8(f, type);
    put8(f, 0x12);
    put16(f, 0x3456);
    put16(f, 1);
    put16(f, 10);
    put16(f, 3);
    put16(f, 1);
    put_bytes(f, mac_vm, VSW_ETH_ALEN);
}

#define DHCPV6_LEN 18

/* An 8-byte ICMP or ICMPv6 header. */
static void
put_icmp(struct frame *f, uint8_t type, uint8_t code)
{
    put8(f, type);
    put8(f, code);
    put16(f, 0);
    put32(f, 0);
}

/* An ICMPv6 NS (135) or NA (136) for 'target' with a link-layer address
 * option. */
static void
put_nd(struct frame *f, uint8_t type, const uint8_t *target)
{
    put_icmp(f, type, 0);
    put_bytes(f, target, 16);
    put8(f, type == 135 ? 1 : 2);
    put8(f, 1);
    put_bytes(f, mac_vm, VSW_ETH_ALEN);
}

/* An RA: header, reachable time and retransmission timer. */
static void
put_ra(struct frame *f)
{
    put_icmp(f, 134, 0);
    put32(f, 0);
    put32(f, 0);
}

/* How an IPv4 frame is sent. */
struct ipv4_spec {
    const uint8_t *eth_dst; /* NULL: broadcast */
    const uint8_t *eth_src; /* NULL: mac_vm */
    const uint16_t *tpids;  /* 'n_tags' tags, outer first */
    const uint16_t *tcis;
    size_t n_tags;
    uint32_t src, dst;  /* addresses */
    unsigned opt_words; /* words of IP options */
    uint16_t id;        /* IP identification */
};

static size_t
start_ipv4(struct frame *f, const struct ipv4_spec *s, uint8_t proto)
{
    start_eth(f, s->eth_dst ? s->eth_dst : mac_bcast,
              s->eth_src ? s->eth_src : mac_vm, s->tpids, s->tcis, s->n_tags,
              VSW_ETH_TYPE_IPV4);
    return put_ipv4(f, proto, s->src, s->dst, s->opt_words, s->id);
}

/* A BOOTP/DHCP message 'op'/'type' over UDP 'sport' -> 'dport'. */
static size_t
build_dhcp4(struct frame *f, const struct ipv4_spec *s, uint16_t sport,
            uint16_t dport, uint8_t op, uint8_t type)
{
    size_t ip = start_ipv4(f, s, 17);

    put_udp(f, sport, dport, type ? 244 : 300);
    put_bootp(f, op, type);
    finish_ipv4(f, ip);
    return ip;
}

/* How an IPv6 frame is sent. */
struct ipv6_spec {
    const uint8_t *eth_dst; /* NULL: 33:33:00:00:00:01 */
    const uint16_t *tpids;  /* 'n_tags' tags, outer first */
    const uint16_t *tcis;
    size_t n_tags;
    const uint8_t *src, *dst; /* addresses; NULL: the VM's link-local,
                                 all-nodes */
    bool chain;               /* Hop-by-Hop and Destination Options in
                                 front of the upper layer */
};

/* Starts an IPv6 packet whose upper layer is 'nh'; the caller adds it and
 * calls finish_ipv6() with the returned offset. */
static size_t
start_ipv6(struct frame *f, const struct ipv6_spec *s, uint8_t nh)
{
    size_t ip;

    start_eth(f, s->eth_dst ? s->eth_dst : mac_ipv6_mcast, mac_vm, s->tpids,
              s->tcis, s->n_tags, VSW_ETH_TYPE_IPV6);
    ip = put_ipv6(f, s->chain ? NH_HOPOPTS : nh, s->src ? s->src : ip6_vm_ll,
                  s->dst ? s->dst : ip6_all_nodes);
    if (s->chain) {
        put_opts(f, NH_DSTOPTS);
        put_opts(f, nh);
    }
    return ip;
}

static size_t
build_dhcp6(struct frame *f, const struct ipv6_spec *s, uint16_t sport,
            uint16_t dport, uint8_t type)
{
    size_t ip = start_ipv6(f, s, NH_UDP);

    put_udp(f, sport, dport, DHCPV6_LEN);
    put_dhcpv6(f, type);
    finish_ipv6(f, ip);
    return ip;
}

static size_t
build_icmp6(struct frame *f, const struct ipv6_spec *s, uint8_t type)
{
    size_t ip = start_ipv6(f, s, NH_ICMPV6);

    if (type == 134) {
        put_ra(f);
    } else {
        put_icmp(f, type, 0);
        put_bytes(f, ip6_other_ll, 16);
    }
    finish_ipv6(f, ip);
    return ip;
}

/* Copies into 'out' the fragment of the unfragmented IPv4 packet at 'l3'
 * of 'whole' that holds its payload bytes [off, off + n), with MF set if
 * 'more'. */
static void
fragment_ipv4(const struct frame *whole, size_t l3, size_t off, size_t n,
              bool more, struct frame *out)
{
    size_t hlen = (size_t)(whole->data[l3] & 0x0f) * 4;

    ck_assert_uint_eq(off % 8, 0);
    ck_assert_uint_le(l3 + hlen + off + n, whole->len);
    out->len = 0;
    put_bytes(out, whole->data, l3 + hlen);
    put_bytes(out, whole->data + l3 + hlen + off, n);
    set16(out, l3 + 6, (uint16_t)(off / 8 | (more ? 0x2000 : 0)));
    finish_ipv4(out, l3);
}

/* Copies into 'out' a fragment of the unfragmented IPv6 packet at 'l3' of
 * 'whole': the IPv6 header and the 'unfrag' bytes of one Hop-by-Hop
 * header (0: none) in front, then a Fragment header ('off', 'more', 'id'),
 * then bytes [off, off + n) of what follows them. */
static void
fragment_ipv6(const struct frame *whole, size_t l3, size_t unfrag, size_t off,
              size_t n, bool more, uint32_t id, struct frame *out)
{
    size_t front = l3 + 40 + unfrag;
    size_t nh_at = unfrag ? l3 + 40 : l3 + 6;

    ck_assert_uint_eq(off % 8, 0);
    ck_assert_uint_le(front + off + n, whole->len);
    out->len = 0;
    put_bytes(out, whole->data, front);
    out->data[nh_at] = NH_FRAGMENT;
    put8(out, whole->data[nh_at]);
    put8(out, 0);
    put16(out, (uint16_t)(off | more));
    put32(out, id);
    put_bytes(out, whole->data + front + off, n);
    finish_ipv6(out, l3);
}

/* Parses 'f' from an exact-size heap copy and runs the out-check. */
static enum vsw_guard_verdict
run_guard(const struct vsw_guard_config *cfg, struct vsw_guard_state *state,
          const struct frame *f)
{
    uint8_t *copy = malloc(f->len);
    struct vsw_flow_key key;
    enum vsw_guard_verdict verdict;

    ck_assert_ptr_nonnull(copy);
    memcpy(copy, f->data, f->len);
    ck_assert_int_eq(vsw_flow_extract(copy, f->len, &key), 0);
    verdict = vsw_guard_check_out(cfg, state, &key, copy, f->len);
    free(copy);
    return verdict;
}

static void
expect(const char *what, const struct vsw_guard_config *cfg,
       struct vsw_guard_state *state, const struct frame *f,
       enum vsw_guard_verdict expected)
{
    enum vsw_guard_verdict verdict = run_guard(cfg, state, f);

    ck_assert_msg(verdict == expected, "%s: %s, expected %s", what,
                  vsw_guard_verdict_name(verdict),
                  vsw_guard_verdict_name(expected));
}

/* A port whose VM owns mac_vm, with 'dhcp' and 'router' guards. */
static void
port_config(struct vsw_guard_config *cfg, bool dhcp, bool router)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->has_mac = true;
    memcpy(cfg->mac, mac_vm, VSW_ETH_ALEN);
    cfg->dhcp_guard = dhcp;
    cfg->router_guard = router;
}

static void
allow_ip6(struct vsw_guard_config *cfg, const uint8_t *addr, uint8_t plen)
{
    struct vsw_guard_ip *entry = &cfg->ips[cfg->n_ips++];

    memcpy(entry->addr, addr, 16);
    entry->plen = plen;
}

static void
allow_ip4(struct vsw_guard_config *cfg, uint32_t addr, uint8_t plen)
{
    uint8_t mapped[16] = {[10] = 0xff, [11] = 0xff};

    mapped[12] = (uint8_t)(addr >> 24);
    mapped[13] = (uint8_t)(addr >> 16);
    mapped[14] = (uint8_t)(addr >> 8);
    mapped[15] = (uint8_t)addr;
    allow_ip6(cfg, mapped, (uint8_t)(96 + plen));
}

/* The IP guard's list for the VM: its IPv4 and global IPv6 address (its
 * link-local one comes from its MAC). */
static void
allow_vm_addresses(struct vsw_guard_config *cfg)
{
    allow_ip4(cfg, IP4_VM, 32);
    allow_ip6(cfg, ip6_vm_global, 128);
}

/* The catalogue: frames a VM may send, each case one frame or all the
 * fragments of one datagram, in sending order. */

#define MAX_CASE_FRAMES 3

struct guard_case {
    const char *name;                      /* what the VM does */
    size_t (*build)(struct frame *frames); /* fills the frames, returns
                                              how many */
    enum vsw_guard_verdict expected;       /* verdict for each frame with
                                              the DHCP and router guards
                                              on */
};

/* The VM as a rogue DHCP server: from its address to broadcast. */
static const struct ipv4_spec rogue_server = {
    .src = IP4_VM,
    .dst = IP4_BCAST,
    .id = 0x4242,
};

static size_t
offer(struct frame *f)
{
    build_dhcp4(f, &rogue_server, 67, 68, BOOTREPLY_OP, DHCPOFFER);
    return 1;
}

static size_t
offer_sport_1234(struct frame *f)
{
    build_dhcp4(f, &rogue_server, 1234, 68, BOOTREPLY_OP, DHCPOFFER);
    return 1;
}

static size_t
offer_ip_options(struct frame *f)
{
    struct ipv4_spec s = rogue_server;

    s.opt_words = 10;
    build_dhcp4(f, &s, 67, 68, BOOTREPLY_OP, DHCPOFFER);
    return 1;
}

static size_t
offer_vlan(struct frame *f)
{
    struct ipv4_spec s = rogue_server;

    s.tpids = tpid_ctag;
    s.tcis = tci_10;
    s.n_tags = 1;
    build_dhcp4(f, &s, 67, 68, BOOTREPLY_OP, DHCPOFFER);
    return 1;
}

static size_t
offer_qinq(struct frame *f)
{
    struct ipv4_spec s = rogue_server;

    s.tpids = tpid_qinq;
    s.tcis = tci_qinq;
    s.n_tags = 2;
    build_dhcp4(f, &s, 67, 68, BOOTREPLY_OP, DHCPOFFER);
    return 1;
}

static size_t
offer_three_tags(struct frame *f)
{
    static const uint16_t tpids[] = {VSW_ETH_TYPE_QINQ, VSW_ETH_TYPE_VLAN,
                                     VSW_ETH_TYPE_VLAN};
    static const uint16_t tcis[] = {100, 10, 20};
    struct ipv4_spec s = rogue_server;

    s.tpids = tpids;
    s.tcis = tcis;
    s.n_tags = 3;
    build_dhcp4(f, &s, 67, 68, BOOTREPLY_OP, DHCPOFFER);
    return 1;
}

/* An OFFER in three fragments: the BOOTP header is in the first. */
static size_t
offer_fragmented(struct frame *f)
{
    struct frame whole;
    size_t ip =
        build_dhcp4(&whole, &rogue_server, 67, 68, BOOTREPLY_OP, DHCPOFFER);
    size_t payload = whole.len - ip - 20;

    fragment_ipv4(&whole, ip, 0, 96, true, &f[0]);
    fragment_ipv4(&whole, ip, 96, 96, true, &f[1]);
    fragment_ipv4(&whole, ip, 192, payload - 192, false, &f[2]);
    return 3;
}

/* A first fragment that holds the UDP header and nothing else, to a
 * relay's port 67: the op is in the second fragment. */
static size_t
bootreply_tiny_fragment(struct frame *f)
{
    struct ipv4_spec s = rogue_server;
    struct frame whole;
    size_t ip, payload;

    s.dst = IP4_OTHER;
    s.eth_dst = mac_other;
    ip = build_dhcp4(&whole, &s, 67, 67, BOOTREPLY_OP, DHCPOFFER);
    payload = whole.len - ip - 20;
    fragment_ipv4(&whole, ip, 0, 8, true, &f[0]);
    fragment_ipv4(&whole, ip, 8, payload - 8, false, &f[1]);
    return 2;
}

/* A first fragment without even a UDP header. */
static size_t
udp_fragment_no_header(struct frame *f)
{
    struct frame whole;
    size_t ip =
        build_dhcp4(&whole, &rogue_server, 67, 68, BOOTREPLY_OP, DHCPOFFER);

    fragment_ipv4(&whole, ip, 0, 0, true, &f[0]);
    return 1;
}

static size_t
unicast_ack(struct frame *f)
{
    struct ipv4_spec s = rogue_server;

    s.eth_dst = mac_other;
    s.dst = IP4_OTHER;
    build_dhcp4(f, &s, 67, 68, BOOTREPLY_OP, DHCPACK);
    return 1;
}

static size_t
nak(struct frame *f)
{
    build_dhcp4(f, &rogue_server, 67, 68, BOOTREPLY_OP, DHCPNAK);
    return 1;
}

static size_t
forcerenew(struct frame *f)
{
    struct ipv4_spec s = rogue_server;

    s.eth_dst = mac_other;
    s.dst = IP4_OTHER;
    build_dhcp4(f, &s, 67, 68, BOOTREPLY_OP, DHCPFORCERENEW);
    return 1;
}

static size_t
bootp_reply(struct frame *f)
{
    build_dhcp4(f, &rogue_server, 67, 68, BOOTREPLY_OP, 0);
    return 1;
}

static size_t
offer_padded(struct frame *f)
{
    build_dhcp4(f, &rogue_server, 67, 68, BOOTREPLY_OP, DHCPOFFER);
    put_fill(f, 0, 300);
    return 1;
}

/* A BOOTREPLY to a relay agent, which listens on the server port. */
static size_t
bootreply_to_relay(struct frame *f)
{
    struct ipv4_spec s = rogue_server;

    s.eth_dst = mac_other;
    s.dst = IP4_OTHER;
    build_dhcp4(f, &s, 67, 67, BOOTREPLY_OP, DHCPOFFER);
    return 1;
}

/* UDP to a relay's port 67 that ends with its header: the BOOTREQUEST
 * op after it is Ethernet padding, which no stack reads. */
static size_t
op_in_padding(struct frame *f)
{
    struct ipv4_spec s = rogue_server;
    size_t ip;

    s.eth_dst = mac_other;
    s.dst = IP4_OTHER;
    ip = start_ipv4(f, &s, 17);
    put_udp(f, 67, 67, 0);
    finish_ipv4(f, ip);
    put_bootp(f, BOOTREQUEST_OP, DHCPREQUEST);
    return 1;
}

/* The VM as a rogue DHCPv6 server, answering fe80::2. */
static const struct ipv6_spec rogue_server6 = {
    .eth_dst = mac_other,
    .dst = ip6_other_ll,
};

static const struct ipv6_spec rogue_server6_chain = {
    .eth_dst = mac_other,
    .dst = ip6_other_ll,
    .chain = true,
};

static size_t
advertise(struct frame *f)
{
    build_dhcp6(f, &rogue_server6, 547, 546, DHCPV6_ADVERTISE);
    return 1;
}

static size_t
reply(struct frame *f)
{
    build_dhcp6(f, &rogue_server6, 547, 546, DHCPV6_REPLY);
    return 1;
}

static size_t
advertise_chain(struct frame *f)
{
    build_dhcp6(f, &rogue_server6_chain, 547, 546, DHCPV6_ADVERTISE);
    return 1;
}

static size_t
reply_chain(struct frame *f)
{
    build_dhcp6(f, &rogue_server6_chain, 547, 546, DHCPV6_REPLY);
    return 1;
}

static size_t
reconfigure(struct frame *f)
{
    build_dhcp6(f, &rogue_server6, 547, 546, DHCPV6_RECONFIGURE);
    return 1;
}

static size_t
relay_repl(struct frame *f)
{
    build_dhcp6(f, &rogue_server6, 547, 547, DHCPV6_RELAY_REPL);
    return 1;
}

static size_t
reply_sport_1234_vlan(struct frame *f)
{
    struct ipv6_spec s = rogue_server6;

    s.tpids = tpid_ctag;
    s.tcis = tci_10;
    s.n_tags = 1;
    build_dhcp6(f, &s, 1234, 546, DHCPV6_REPLY);
    return 1;
}

/* A REPLY long enough to fragment, behind Hop-by-Hop and Destination
 * Options; Hop-by-Hop stays unfragmentable. */
static size_t
build_long_dhcp6(struct frame *whole, uint16_t dport, uint8_t type)
{
    size_t ip = start_ipv6(whole, &rogue_server6_chain, NH_UDP);

    put_udp(whole, 547, dport, DHCPV6_LEN + 204);
    put_dhcpv6(whole, type);
    put16(whole, 16); /* Vendor Class option full of zeroes */
    put16(whole, 200);
    put_fill(whole, 0, 200);
    finish_ipv6(whole, ip);
    return ip;
}

static size_t
reply_fragmented(struct frame *f)
{
    struct frame whole;
    size_t ip = build_long_dhcp6(&whole, 546, DHCPV6_REPLY);
    size_t rest = whole.len - ip - 48;

    /* Destination Options, UDP header and the first 8 bytes of REPLY. */
    fragment_ipv6(&whole, ip, 8, 0, 24, true, 0x6001, &f[0]);
    fragment_ipv6(&whole, ip, 8, 24, rest - 24, false, 0x6001, &f[1]);
    return 2;
}

/* The first fragment ends with the UDP header: the message type of a
 * RELAY-REPL to port 547 is in the second. */
static size_t
relay_repl_type_in_second_fragment(struct frame *f)
{
    struct frame whole;
    size_t ip = build_long_dhcp6(&whole, 547, DHCPV6_RELAY_REPL);
    size_t rest = whole.len - ip - 48;

    fragment_ipv6(&whole, ip, 8, 0, 16, true, 0x6002, &f[0]);
    fragment_ipv6(&whole, ip, 8, 16, rest - 16, false, 0x6002, &f[1]);
    return 2;
}

/* The first fragment ends before the UDP header (RFC 7112 forbids). */
static size_t
udp_header_in_second_fragment(struct frame *f)
{
    struct frame whole;
    size_t ip = build_long_dhcp6(&whole, 546, DHCPV6_ADVERTISE);
    size_t rest = whole.len - ip - 48;

    fragment_ipv6(&whole, ip, 8, 0, 8, true, 0x6003, &f[0]);
    fragment_ipv6(&whole, ip, 8, 8, rest - 8, false, 0x6003, &f[1]);
    return 2;
}

/* The VM as a rogue router. */
static const struct ipv6_spec rogue_router = {0};

static const struct ipv6_spec rogue_router_chain = {.chain = true};

static size_t
ra(struct frame *f)
{
    build_icmp6(f, &rogue_router, 134);
    return 1;
}

static size_t
ra_chain(struct frame *f)
{
    build_icmp6(f, &rogue_router_chain, 134);
    return 1;
}

/* Hop-by-Hop | Fragment | Destination Options (first fragment) and the
 * RA's ICMPv6 header (second fragment). */
static size_t
ra_header_in_second_fragment(struct frame *f)
{
    struct frame whole;
    size_t ip = build_icmp6(&whole, &rogue_router_chain, 134);

    fragment_ipv6(&whole, ip, 8, 0, 8, true, 0x7001, &f[0]);
    fragment_ipv6(&whole, ip, 8, 8, 16, false, 0x7001, &f[1]);
    return 2;
}

static size_t
ra_atomic_fragment(struct frame *f)
{
    struct frame whole;
    size_t ip = build_icmp6(&whole, &rogue_router, 134);

    fragment_ipv6(&whole, ip, 0, 0, 16, false, 0x7002, &f[0]);
    return 1;
}

static size_t
ra_unknown_next_header(struct frame *f)
{
    size_t ip = start_ipv6(f, &rogue_router, NH_DSTOPTS);

    put_opts(f, 200);
    put_ra(f);
    finish_ipv6(f, ip);
    return 1;
}

static size_t
ra_vlan(struct frame *f)
{
    struct ipv6_spec s = rogue_router;

    s.tpids = tpid_ctag;
    s.tcis = tci_10;
    s.n_tags = 1;
    build_icmp6(f, &s, 134);
    return 1;
}

static size_t
ra_qinq(struct frame *f)
{
    struct ipv6_spec s = rogue_router;

    s.tpids = tpid_qinq;
    s.tcis = tci_qinq;
    s.n_tags = 2;
    build_icmp6(f, &s, 134);
    return 1;
}

/* Hosts ignore it (RFC 4861 wants a link-local source and hop limit
 * 255), but the guard drops it all the same. */
static size_t
ra_global_source(struct frame *f)
{
    struct ipv6_spec s = rogue_router;
    size_t ip;

    s.src = ip6_vm_global;
    ip = build_icmp6(f, &s, 134);
    f->data[ip + 7] = 64;
    return 1;
}

static size_t
ra_deep_chain(struct frame *f)
{
    size_t ip = start_ipv6(f, &rogue_router, NH_HOPOPTS);

    for (int i = 0; i < 64; i++) {
        put_opts(f, i == 63 ? NH_ICMPV6 : NH_DSTOPTS);
    }
    put_ra(f);
    finish_ipv6(f, ip);
    return 1;
}

static size_t
redirect6(struct frame *f)
{
    struct ipv6_spec s = rogue_router;

    s.eth_dst = mac_other;
    s.dst = ip6_other_ll;
    build_icmp6(f, &s, 137);
    return 1;
}

static size_t
build_icmp4(struct frame *f, uint8_t type)
{
    struct ipv4_spec s = rogue_server;
    size_t ip;

    s.eth_dst = mac_other;
    s.dst = IP4_OTHER;
    ip = start_ipv4(f, &s, 1);
    put_icmp(f, type, 0);
    put32(f, IP4_VM);
    finish_ipv4(f, ip);
    return 1;
}

static size_t
redirect4(struct frame *f)
{
    return build_icmp4(f, 5);
}

static size_t
router_ad4(struct frame *f)
{
    return build_icmp4(f, 9);
}

static size_t
ns_atomic_fragment(struct frame *f)
{
    struct frame whole;
    size_t ip = start_ipv6(&whole, &rogue_server6, NH_ICMPV6);

    put_nd(&whole, 135, ip6_other_ll);
    finish_ipv6(&whole, ip);
    fragment_ipv6(&whole, ip, 0, 0, 32, false, 0x8001, &f[0]);
    return 1;
}

/* An NA for the VM's own address, split after its target. */
static size_t
na_fragmented(struct frame *f)
{
    struct frame whole;
    size_t ip = start_ipv6(&whole, &rogue_server6, NH_ICMPV6);

    put_nd(&whole, 136, ip6_vm_ll);
    finish_ipv6(&whole, ip);
    fragment_ipv6(&whole, ip, 0, 0, 24, true, 0x8002, &f[0]);
    fragment_ipv6(&whole, ip, 0, 24, 8, false, 0x8002, &f[1]);
    return 2;
}

static const struct guard_case evasions[] = {
    {"OFFER", offer, VSW_GUARD_DHCP},
    {"OFFER from source port 1234", offer_sport_1234, VSW_GUARD_DHCP},
    {"OFFER with IP options", offer_ip_options, VSW_GUARD_DHCP},
    {"OFFER in an 802.1Q tag", offer_vlan, VSW_GUARD_DHCP},
    {"OFFER in QinQ", offer_qinq, VSW_GUARD_DHCP},
    {"fragmented OFFER", offer_fragmented, VSW_GUARD_DHCP},
    {"unicast ACK", unicast_ack, VSW_GUARD_DHCP},
    {"NAK", nak, VSW_GUARD_DHCP},
    {"FORCERENEW", forcerenew, VSW_GUARD_DHCP},
    {"BOOTP reply without option 53", bootp_reply, VSW_GUARD_DHCP},
    {"OFFER with 300 bytes of padding", offer_padded, VSW_GUARD_DHCP},
    {"BOOTREPLY to a relay agent", bootreply_to_relay, VSW_GUARD_DHCP},
    {"BOOTREPLY whose op is in the second fragment", bootreply_tiny_fragment,
     VSW_GUARD_DHCP},
    {"UDP first fragment without a UDP header", udp_fragment_no_header,
     VSW_GUARD_DHCP},
    {"UDP to port 67 with the op in the padding", op_in_padding,
     VSW_GUARD_DHCP},
    {"ADVERTISE", advertise, VSW_GUARD_DHCPV6},
    {"REPLY", reply, VSW_GUARD_DHCPV6},
    {"ADVERTISE behind Hop-by-Hop and Destination Options", advertise_chain,
     VSW_GUARD_DHCPV6},
    {"REPLY behind Hop-by-Hop and Destination Options", reply_chain,
     VSW_GUARD_DHCPV6},
    {"RECONFIGURE", reconfigure, VSW_GUARD_DHCPV6},
    {"RELAY-REPL to port 547", relay_repl, VSW_GUARD_DHCPV6},
    {"REPLY from source port 1234 in an 802.1Q tag", reply_sport_1234_vlan,
     VSW_GUARD_DHCPV6},
    {"fragmented REPLY", reply_fragmented, VSW_GUARD_DHCPV6},
    {"RELAY-REPL whose type is in the second fragment",
     relay_repl_type_in_second_fragment, VSW_GUARD_DHCPV6},
    {"ADVERTISE whose UDP header is in the second fragment",
     udp_header_in_second_fragment, VSW_GUARD_IPV6_CHAIN},
    {"RA", ra, VSW_GUARD_RA},
    {"RA behind Hop-by-Hop and Destination Options", ra_chain, VSW_GUARD_RA},
    {"RA whose ICMPv6 header is in the second fragment",
     ra_header_in_second_fragment, VSW_GUARD_IPV6_CHAIN},
    {"atomic fragment carrying an RA", ra_atomic_fragment, VSW_GUARD_RA},
    {"RA behind an unknown next header", ra_unknown_next_header,
     VSW_GUARD_IPV6_UNKNOWN_NH},
    {"RA in an 802.1Q tag", ra_vlan, VSW_GUARD_RA},
    {"RA in QinQ", ra_qinq, VSW_GUARD_RA},
    {"RA from a global address with hop limit 64", ra_global_source,
     VSW_GUARD_RA},
    {"RA behind 64 extension headers", ra_deep_chain, VSW_GUARD_RA},
    {"ICMPv6 Redirect", redirect6, VSW_GUARD_REDIRECT},
    {"ICMPv4 Redirect", redirect4, VSW_GUARD_REDIRECT},
    {"ICMPv4 Router Advertisement", router_ad4, VSW_GUARD_RA},
    {"NS in an atomic fragment", ns_atomic_fragment, VSW_GUARD_ND_FRAGMENT},
    {"fragmented NA", na_fragmented, VSW_GUARD_ND_FRAGMENT},
    {"OFFER behind three VLAN tags", offer_three_tags,
     VSW_GUARD_TOO_MANY_VLANS},
};

#define N_EVASIONS (sizeof evasions / sizeof evasions[0])

/* The VM as a DHCP client. */
static const struct ipv4_spec client_init = {
    .src = 0,
    .dst = IP4_BCAST,
    .id = 0x1111,
};

static const struct ipv4_spec client_bound = {
    .eth_dst = mac_other,
    .src = IP4_VM,
    .dst = IP4_OTHER,
    .id = 0x2222,
};

static size_t
discover(struct frame *f)
{
    build_dhcp4(f, &client_init, 68, 67, BOOTREQUEST_OP, DHCPDISCOVER);
    return 1;
}

static size_t
request_init(struct frame *f)
{
    build_dhcp4(f, &client_init, 68, 67, BOOTREQUEST_OP, DHCPREQUEST);
    return 1;
}

static size_t
request_renew(struct frame *f)
{
    build_dhcp4(f, &client_bound, 68, 67, BOOTREQUEST_OP, DHCPREQUEST);
    return 1;
}

static size_t
discover_qinq(struct frame *f)
{
    struct ipv4_spec s = client_init;

    s.tpids = tpid_qinq;
    s.tcis = tci_qinq;
    s.n_tags = 2;
    build_dhcp4(f, &s, 68, 67, BOOTREQUEST_OP, DHCPDISCOVER);
    return 1;
}

static size_t
discover_padded(struct frame *f)
{
    build_dhcp4(f, &client_init, 68, 67, BOOTREQUEST_OP, DHCPDISCOVER);
    put_fill(f, 0xff, 300);
    return 1;
}

static size_t
request_fragmented(struct frame *f)
{
    struct frame whole;
    size_t ip = build_dhcp4(&whole, &client_bound, 68, 67, BOOTREQUEST_OP,
                            DHCPREQUEST);
    size_t payload = whole.len - ip - 20;

    fragment_ipv4(&whole, ip, 0, 96, true, &f[0]);
    fragment_ipv4(&whole, ip, 96, payload - 96, false, &f[1]);
    return 2;
}

/* A 1000-byte DNS-like datagram in three fragments. */
static size_t
udp_fragmented(struct frame *f)
{
    struct frame whole;
    size_t ip = start_ipv4(&whole, &client_bound, 17);

    put_udp(&whole, 5000, 53, 1000);
    put_fill(&whole, 0x5a, 1000);
    finish_ipv4(&whole, ip);
    fragment_ipv4(&whole, ip, 0, 400, true, &f[0]);
    fragment_ipv4(&whole, ip, 400, 400, true, &f[1]);
    fragment_ipv4(&whole, ip, 800, 208, false, &f[2]);
    return 3;
}

static const uint8_t mac_dhcp6_mcast[VSW_ETH_ALEN] = {0x33, 0x33, 0, 1, 0, 2};

static const struct ipv6_spec client6 = {
    .eth_dst = mac_dhcp6_mcast,
    .dst = ip6_dhcp_servers,
};

static const struct ipv6_spec client6_chain = {
    .eth_dst = mac_dhcp6_mcast,
    .dst = ip6_dhcp_servers,
    .chain = true,
};

static size_t
solicit(struct frame *f)
{
    build_dhcp6(f, &client6, 546, 547, DHCPV6_SOLICIT);
    return 1;
}

static size_t
solicit_chain(struct frame *f)
{
    build_dhcp6(f, &client6_chain, 546, 547, DHCPV6_SOLICIT);
    return 1;
}

static size_t
request6(struct frame *f)
{
    build_dhcp6(f, &client6, 546, 547, DHCPV6_REQUEST);
    return 1;
}

static size_t
relay_forw(struct frame *f)
{
    build_dhcp6(f, &client6, 547, 547, DHCPV6_RELAY_FORW);
    return 1;
}

/* The VM talking to fe80::2. */
static const struct ipv6_spec host6 = {
    .eth_dst = mac_other,
    .dst = ip6_other_ll,
};

static const struct ipv6_spec host6_chain = {
    .eth_dst = mac_other,
    .dst = ip6_other_ll,
    .chain = true,
};

static size_t
echo6(struct frame *f)
{
    build_icmp6(f, &host6, 128);
    return 1;
}

static size_t
echo6_chain(struct frame *f)
{
    build_icmp6(f, &host6_chain, 128);
    return 1;
}

static size_t
build_nd(struct frame *f, const struct ipv6_spec *s, uint8_t type,
         const uint8_t *target)
{
    size_t ip = start_ipv6(f, s, NH_ICMPV6);

    put_nd(f, type, target);
    finish_ipv6(f, ip);
    return 1;
}

/* Address resolution of fe80::2: the target is not the VM's. */
static size_t
ns(struct frame *f)
{
    return build_nd(f, &host6, 135, ip6_other_ll);
}

static size_t
ns_chain(struct frame *f)
{
    return build_nd(f, &host6_chain, 135, ip6_other_ll);
}

static size_t
na(struct frame *f)
{
    return build_nd(f, &host6, 136, ip6_vm_ll);
}

static size_t
na_chain(struct frame *f)
{
    return build_nd(f, &host6_chain, 136, ip6_vm_ll);
}

/* Duplicate Address Detection of the VM's global address, from ::. */
static const uint8_t ip6_sol_node_vm[16] = {
    0xff, 0x02, [11] = 1, [12] = 0xff, [15] = 1};

static size_t
dad_ns(struct frame *f)
{
    const struct ipv6_spec s = {.src = ip6_any, .dst = ip6_sol_node_vm};

    return build_nd(f, &s, 135, ip6_vm_global);
}

static size_t
rs_unspecified(struct frame *f)
{
    const struct ipv6_spec s = {.src = ip6_any};

    build_icmp6(f, &s, 133);
    return 1;
}

static size_t
mld2_report_unspecified(struct frame *f)
{
    static const uint8_t all_mld2[16] = {0xff, 0x02, [15] = 0x16};
    const struct ipv6_spec s = {.src = ip6_any, .dst = all_mld2};

    build_icmp6(f, &s, 143);
    return 1;
}

/* A 1200-byte echo request in two fragments, the header in the first. */
static size_t
echo6_fragmented(struct frame *f)
{
    struct frame whole;
    size_t ip = start_ipv6(&whole, &host6_chain, NH_ICMPV6);
    size_t rest;

    put_icmp(&whole, 128, 0);
    put_fill(&whole, 0x77, 1192);
    finish_ipv6(&whole, ip);
    rest = whole.len - ip - 48;
    fragment_ipv6(&whole, ip, 8, 0, 608, true, 0x9001, &f[0]);
    fragment_ipv6(&whole, ip, 8, 608, rest - 608, false, 0x9001, &f[1]);
    return 2;
}

static size_t
esp6(struct frame *f)
{
    size_t ip = start_ipv6(f, &host6, 50);

    put32(f, 0x100);
    put32(f, 1);
    put_fill(f, 0xee, 32);
    finish_ipv6(f, ip);
    return 1;
}

static size_t
echo4(struct frame *f)
{
    return build_icmp4(f, 8);
}

static size_t
router_solicitation4(struct frame *f)
{
    return build_icmp4(f, 10);
}

static void
build_arp(struct frame *f, uint16_t op, const uint8_t *sha, uint32_t spa,
          uint32_t tpa)
{
    start_eth(f, mac_bcast, mac_vm, NULL, NULL, 0, VSW_ETH_TYPE_ARP);
    put16(f, 1);
    put16(f, VSW_ETH_TYPE_IPV4);
    put8(f, 6);
    put8(f, 4);
    put16(f, op);
    put_bytes(f, sha, VSW_ETH_ALEN);
    put32(f, spa);
    put_fill(f, 0, VSW_ETH_ALEN);
    put32(f, tpa);
}

static size_t
arp_request(struct frame *f)
{
    build_arp(f, 1, mac_vm, IP4_VM, IP4_OTHER);
    return 1;
}

static size_t
arp_probe(struct frame *f)
{
    build_arp(f, 1, mac_vm, 0, IP4_VM);
    return 1;
}

static size_t
arp_gratuitous(struct frame *f)
{
    build_arp(f, 2, mac_vm, IP4_VM, IP4_VM);
    return 1;
}

static size_t
lldp(struct frame *f)
{
    static const uint8_t lldp_mcast[VSW_ETH_ALEN] = {0x01, 0x80, 0xc2,
                                                     0,    0,    0x0e};

    start_eth(f, lldp_mcast, mac_vm, NULL, NULL, 0, 0x88cc);
    put_fill(f, 0, 46);
    return 1;
}

static const struct guard_case legit[] = {
    {"DISCOVER from 0.0.0.0:68 to 255.255.255.255:67", discover, VSW_GUARD_OK},
    {"REQUEST from 0.0.0.0", request_init, VSW_GUARD_OK},
    {"REQUEST renewing a lease", request_renew, VSW_GUARD_OK},
    {"DISCOVER in QinQ", discover_qinq, VSW_GUARD_OK},
    {"DISCOVER with 300 bytes of padding", discover_padded, VSW_GUARD_OK},
    {"fragmented REQUEST", request_fragmented, VSW_GUARD_OK},
    {"fragmented UDP datagram", udp_fragmented, VSW_GUARD_OK},
    {"SOLICIT", solicit, VSW_GUARD_OK},
    {"SOLICIT behind Hop-by-Hop and Destination Options", solicit_chain,
     VSW_GUARD_OK},
    {"DHCPv6 REQUEST", request6, VSW_GUARD_OK},
    {"RELAY-FORW", relay_forw, VSW_GUARD_OK},
    {"echo request", echo6, VSW_GUARD_OK},
    {"echo request behind Hop-by-Hop and Destination Options", echo6_chain,
     VSW_GUARD_OK},
    {"NS", ns, VSW_GUARD_OK},
    {"NS behind Hop-by-Hop and Destination Options", ns_chain, VSW_GUARD_OK},
    {"NA", na, VSW_GUARD_OK},
    {"NA behind Hop-by-Hop and Destination Options", na_chain, VSW_GUARD_OK},
    {"DAD NS from ::", dad_ns, VSW_GUARD_OK},
    {"RS from ::", rs_unspecified, VSW_GUARD_OK},
    {"MLDv2 report from ::", mld2_report_unspecified, VSW_GUARD_OK},
    {"fragmented echo request", echo6_fragmented, VSW_GUARD_OK},
    {"ESP", esp6, VSW_GUARD_OK},
    {"ICMPv4 echo request", echo4, VSW_GUARD_OK},
    {"ICMPv4 router solicitation", router_solicitation4, VSW_GUARD_OK},
    {"ARP request", arp_request, VSW_GUARD_OK},
    {"ARP probe", arp_probe, VSW_GUARD_OK},
    {"gratuitous ARP", arp_gratuitous, VSW_GUARD_OK},
    {"LLDP", lldp, VSW_GUARD_OK},
};

#define N_LEGIT (sizeof legit / sizeof legit[0])

/* Sends every frame of 'c' through a fresh state; each must get
 * 'expected'. */
static void
expect_case(const struct guard_case *c, const struct vsw_guard_config *cfg,
            enum vsw_guard_verdict expected)
{
    struct frame frames[MAX_CASE_FRAMES];
    struct vsw_guard_state state;
    size_t n = c->build(frames);

    ck_assert_uint_ge(n, 1);
    ck_assert_uint_le(n, MAX_CASE_FRAMES);
    vsw_guard_state_init(&state);
    for (size_t i = 0; i < n; i++) {
        enum vsw_guard_verdict verdict = run_guard(cfg, &state, &frames[i]);

        ck_assert_msg(verdict == expected,
                      "%s, frame %zu of %zu: %s, "
                      "expected %s",
                      c->name, i + 1, n, vsw_guard_verdict_name(verdict),
                      vsw_guard_verdict_name(expected));
    }
}

/* Tests. */

START_TEST(test_verdict_names)
{
    for (int i = 0; i < VSW_GUARD_N_VERDICTS; i++) {
        const char *name = vsw_guard_verdict_name(i);

        ck_assert_str_ne(name, "unknown");
        ck_assert_uint_gt(strlen(name), 0);
        ck_assert_uint_gt(strlen(vsw_guard_verdict_doc(i)), 0);
        for (int j = 0; j < i; j++) {
            ck_assert_str_ne(name, vsw_guard_verdict_name(j));
        }
    }
    ck_assert_str_eq(vsw_guard_verdict_name(VSW_GUARD_OK), "ok");
    ck_assert_str_eq(vsw_guard_verdict_name(VSW_GUARD_MAC_SPOOF),
                     "mac-spoofing");
    ck_assert_str_eq(vsw_guard_verdict_name(VSW_GUARD_IP), "ip-guard");
    ck_assert_str_eq(vsw_guard_verdict_name(VSW_GUARD_DHCP), "dhcp-guard");
    ck_assert_str_eq(vsw_guard_verdict_name(VSW_GUARD_RA), "router-guard");
    ck_assert_str_eq(vsw_guard_verdict_name(VSW_GUARD_STORM), "storm-limit");
    ck_assert_str_eq(vsw_guard_verdict_name(VSW_GUARD_N_VERDICTS), "unknown");
    ck_assert_str_eq(vsw_guard_verdict_doc(VSW_GUARD_N_VERDICTS), "");
}
END_TEST

/* ROBUSTNESS.md's DHCP and RA guard evasions, and more: every frame of
 * every case is dropped, with the verdict that names the rule. */
START_TEST(test_evasions_dropped)
{
    struct vsw_guard_config cfg;

    port_config(&cfg, true, true);
    for (size_t i = 0; i < N_EVASIONS; i++) {
        expect_case(&evasions[i], &cfg, evasions[i].expected);
    }
}
END_TEST

/* With every guard off the same frames pass: the guards, not something
 * else, dropped them. */
START_TEST(test_guards_off)
{
    struct vsw_guard_config cfg;

    memset(&cfg, 0, sizeof cfg);
    for (size_t i = 0; i < N_EVASIONS; i++) {
        expect_case(&evasions[i], &cfg, VSW_GUARD_OK);
    }
    for (size_t i = 0; i < N_LEGIT; i++) {
        expect_case(&legit[i], &cfg, VSW_GUARD_OK);
    }
    /* A MAC alone turns on nothing but the spoofing check, which the
     * VM's own frames pass. */
    port_config(&cfg, false, false);
    for (size_t i = 0; i < N_EVASIONS; i++) {
        expect_case(&evasions[i], &cfg, VSW_GUARD_OK);
    }
}
END_TEST

/* What a well-behaved VM sends passes every guard, the IP guard too. */
START_TEST(test_legit_pass)
{
    struct vsw_guard_config cfg;

    port_config(&cfg, true, true);
    for (size_t i = 0; i < N_LEGIT; i++) {
        expect_case(&legit[i], &cfg, VSW_GUARD_OK);
    }
    allow_vm_addresses(&cfg);
    cfg.storm_limit_pps = 10;
    for (size_t i = 0; i < N_LEGIT; i++) {
        expect_case(&legit[i], &cfg, VSW_GUARD_OK);
    }
}
END_TEST

/* Each guard catches its own frames only. */
START_TEST(test_one_guard_at_a_time)
{
    struct vsw_guard_config dhcp_only, router_only;

    port_config(&dhcp_only, true, false);
    port_config(&router_only, false, true);
    expect_case(&evasions[0], &dhcp_only, VSW_GUARD_DHCP);
    expect_case(&evasions[0], &router_only, VSW_GUARD_OK);
    for (size_t i = 0; i < N_EVASIONS; i++) {
        const struct guard_case *c = &evasions[i];

        switch (c->expected) {
        case VSW_GUARD_DHCP:
        case VSW_GUARD_DHCPV6:
            expect_case(c, &dhcp_only, c->expected);
            expect_case(c, &router_only, VSW_GUARD_OK);
            break;
        case VSW_GUARD_RA:
        case VSW_GUARD_REDIRECT:
            if (!strstr(c->name, "fragment")) {
                expect_case(c, &dhcp_only, VSW_GUARD_OK);
            }
            expect_case(c, &router_only, c->expected);
            break;
        default:
            /* RFC 7113's structural rules serve both guards. */
            expect_case(c, &dhcp_only, c->expected);
            expect_case(c, &router_only, c->expected);
            break;
        }
    }
    /* Without the router guard an RA in an atomic fragment is still
     * fragmented ND, which no host may accept. */
    expect_case(&(struct guard_case){"", ra_atomic_fragment, 0}, &dhcp_only,
                VSW_GUARD_ND_FRAGMENT);
}
END_TEST

START_TEST(test_unknown_next_header)
{
    struct vsw_guard_config cfg;
    struct vsw_guard_state state;
    struct frame f;
    size_t ip;

    vsw_guard_state_init(&state);
    port_config(&cfg, false, true);
    ra_unknown_next_header(&f);
    expect("unknown next header", &cfg, &state, &f, VSW_GUARD_IPV6_UNKNOWN_NH);
    cfg.ipv6_unknown_nh_allowed = true;
    expect("unknown next header, allowed", &cfg, &state, &f, VSW_GUARD_OK);

    /* Straight after the IPv6 header, under the DHCP guard alone. */
    port_config(&cfg, true, false);
    ip = start_ipv6(&f, &host6, 142);
    put_udp(&f, 547, 546, 0);
    finish_ipv6(&f, ip);
    expect("next header 142", &cfg, &state, &f, VSW_GUARD_IPV6_UNKNOWN_NH);
    cfg.ipv6_unknown_nh_allowed = true;
    expect("next header 142, allowed", &cfg, &state, &f, VSW_GUARD_OK);
    cfg.dhcp_guard = false;
    cfg.ipv6_unknown_nh_allowed = false;
    expect("next header 142, guards off", &cfg, &state, &f, VSW_GUARD_OK);
}
END_TEST

/* The later fragments of a dropped datagram stay dropped whatever
 * legitimate fragmented traffic passes in between, and a passing first
 * fragment that reuses the datagram's id clears it. */
START_TEST(test_fragment_table)
{
    struct frame offer_frags[MAX_CASE_FRAMES], udp_frags[MAX_CASE_FRAMES];
    struct vsw_guard_config cfg;
    struct vsw_guard_state state;
    struct frame whole;
    size_t ip;

    port_config(&cfg, true, true);
    vsw_guard_state_init(&state);
    offer_fragmented(offer_frags);
    expect("OFFER first fragment", &cfg, &state, &offer_frags[0],
           VSW_GUARD_DHCP);
    for (uint16_t id = 1; id <= 500; id++) {
        struct ipv4_spec s = client_bound;

        s.id = id;
        ip = start_ipv4(&whole, &s, 17);
        put_udp(&whole, 5000, 53, 100);
        put_fill(&whole, 0, 100);
        finish_ipv4(&whole, ip);
        fragment_ipv4(&whole, ip, 0, 56, true, &udp_frags[0]);
        fragment_ipv4(&whole, ip, 56, 52, false, &udp_frags[1]);
        expect("UDP first fragment", &cfg, &state, &udp_frags[0],
               VSW_GUARD_OK);
        expect("UDP last fragment", &cfg, &state, &udp_frags[1], VSW_GUARD_OK);
    }
    expect("OFFER second fragment", &cfg, &state, &offer_frags[1],
           VSW_GUARD_DHCP);

    /* A datagram between the same addresses with the same id. */
    ip = start_ipv4(&whole, &rogue_server, 17);
    put_udp(&whole, 5000, 53, 200);
    put_fill(&whole, 0, 200);
    finish_ipv4(&whole, ip);
    fragment_ipv4(&whole, ip, 0, 104, true, &udp_frags[0]);
    fragment_ipv4(&whole, ip, 104, 104, false, &udp_frags[1]);
    expect("reused id, first fragment", &cfg, &state, &udp_frags[0],
           VSW_GUARD_OK);
    expect("reused id, last fragment", &cfg, &state, &udp_frags[1],
           VSW_GUARD_OK);

    /* A later fragment whose first fragment the port never saw: it can
     * never be reassembled, and passes. */
    vsw_guard_state_init(&state);
    expect("orphan later fragment", &cfg, &state, &offer_frags[2],
           VSW_GUARD_OK);

    /* The table only remembers what a guard dropped. */
    cfg.dhcp_guard = false;
    expect("OFFER first fragment, guard off", &cfg, &state, &offer_frags[0],
           VSW_GUARD_OK);
    cfg.dhcp_guard = true;
    expect("OFFER second fragment, guard on", &cfg, &state, &offer_frags[1],
           VSW_GUARD_OK);
}
END_TEST

/* Fragments that overlap what earlier fragments of their datagram
 * showed (RFC 5722): the datagram is dropped from that fragment on,
 * whichever order they come in, IPv4 and IPv6. */
START_TEST(test_fragment_overlap)
{
    struct vsw_guard_config cfg;
    struct vsw_guard_state state;
    struct frame request, forged, f[4];
    size_t ip, payload;

    port_config(&cfg, true, true);

    /* A REQUEST to a relay's port 67, then a fragment at octet 8 that
     * turns its op into a BOOTREPLY, which the DHCP guard drops whole. */
    vsw_guard_state_init(&state);
    ip = build_dhcp4(&request, &client_bound, 68, 67, BOOTREQUEST_OP,
                     DHCPREQUEST);
    build_dhcp4(&forged, &client_bound, 68, 67, BOOTREPLY_OP, DHCPOFFER);
    payload = request.len - ip - 20;
    fragment_ipv4(&request, ip, 0, 16, true, &f[0]);
    fragment_ipv4(&forged, ip, 8, 64, true, &f[1]);
    fragment_ipv4(&request, ip, 16, 56, true, &f[2]);
    fragment_ipv4(&request, ip, 72, payload - 72, false, &f[3]);
    expect("REQUEST first fragment", &cfg, &state, &f[0], VSW_GUARD_OK);
    expect("op rewritten", &cfg, &state, &f[1], VSW_GUARD_FRAG_OVERLAP);
    expect("after the overlap", &cfg, &state, &f[2], VSW_GUARD_FRAG_OVERLAP);
    expect("last, after the overlap", &cfg, &state, &f[3],
           VSW_GUARD_FRAG_OVERLAP);
    expect("first fragment again", &cfg, &state, &f[0],
           VSW_GUARD_FRAG_OVERLAP);

    /* The rewriting fragment first: the first fragment overlaps it. */
    vsw_guard_state_init(&state);
    expect("rewriting fragment first", &cfg, &state, &f[1], VSW_GUARD_OK);
    expect("first fragment after it", &cfg, &state, &f[0],
           VSW_GUARD_FRAG_OVERLAP);

    /* The same fragments without the overlap pass in any order, and the
     * id can be used again once the datagram was whole. */
    vsw_guard_state_init(&state);
    fragment_ipv4(&request, ip, 16, 56, true, &f[1]);
    for (int round = 0; round < 2; round++) {
        expect("last", &cfg, &state, &f[3], VSW_GUARD_OK);
        expect("middle", &cfg, &state, &f[1], VSW_GUARD_OK);
        expect("first", &cfg, &state, &f[0], VSW_GUARD_OK);
    }
    /* Many datagrams in order, each whole before the next. */
    for (uint16_t id = 1; id <= 200; id++) {
        struct ipv4_spec spec = client_bound;
        struct frame whole;

        spec.id = id;
        ip = start_ipv4(&whole, &spec, 17);
        put_udp(&whole, 5000, 53, 300);
        put_fill(&whole, 0, 300);
        finish_ipv4(&whole, ip);
        fragment_ipv4(&whole, ip, 0, 104, true, &f[0]);
        fragment_ipv4(&whole, ip, 104, 104, true, &f[1]);
        fragment_ipv4(&whole, ip, 208, 100, false, &f[2]);
        for (int i = 0; i < 3; i++) {
            expect("in order", &cfg, &state, &f[i], VSW_GUARD_OK);
        }
    }

    /* IPv6: Destination Options in front of UDP put the UDP header at
     * octet 8 of the fragmentable part, where a later fragment can turn
     * a SOLICIT to port 547 into a REPLY to a client's port 546. */
    vsw_guard_state_init(&state);
    ip = build_long_dhcp6(&request, 547, DHCPV6_SOLICIT);
    build_long_dhcp6(&forged, 546, DHCPV6_REPLY);
    payload = request.len - ip - 40 - 8;
    fragment_ipv6(&request, ip, 8, 0, 40, true, 77, &f[0]);
    fragment_ipv6(&forged, ip, 8, 8, 32, true, 77, &f[1]);
    fragment_ipv6(&request, ip, 8, 40, payload - 40, false, 77, &f[2]);
    expect("IPv6 SOLICIT first fragment", &cfg, &state, &f[0], VSW_GUARD_OK);
    expect("IPv6 UDP header rewritten", &cfg, &state, &f[1],
           VSW_GUARD_FRAG_OVERLAP);
    expect("IPv6 after the overlap", &cfg, &state, &f[2],
           VSW_GUARD_FRAG_OVERLAP);
    /* Another id, without the overlap, passes. */
    fragment_ipv6(&request, ip, 8, 0, 40, true, 78, &f[0]);
    fragment_ipv6(&request, ip, 8, 40, payload - 40, false, 78, &f[2]);
    expect("IPv6 first fragment", &cfg, &state, &f[0], VSW_GUARD_OK);
    expect("IPv6 last fragment", &cfg, &state, &f[2], VSW_GUARD_OK);
}
END_TEST

START_TEST(test_mac_spoofing)
{
    struct vsw_guard_config cfg;
    struct vsw_guard_state state;
    struct frame f;

    vsw_guard_state_init(&state);
    port_config(&cfg, false, false);
    arp_request(&f);
    expect("own MAC", &cfg, &state, &f, VSW_GUARD_OK);
    memcpy(f.data + 6, mac_other, VSW_ETH_ALEN);
    expect("other source MAC", &cfg, &state, &f, VSW_GUARD_MAC_SPOOF);
    cfg.mac_spoofing_allowed = true;
    expect("other source MAC, spoofing allowed", &cfg, &state, &f,
           VSW_GUARD_OK);
    cfg.mac_spoofing_allowed = false;
    cfg.has_mac = false;
    expect("other source MAC, port without a MAC", &cfg, &state, &f,
           VSW_GUARD_OK);

    /* An ARP packet that poisons caches with another MAC. */
    port_config(&cfg, false, false);
    build_arp(&f, 2, mac_other, IP4_VM, IP4_OTHER);
    expect("ARP sender MAC", &cfg, &state, &f, VSW_GUARD_MAC_SPOOF);
    cfg.mac_spoofing_allowed = true;
    expect("ARP sender MAC, spoofing allowed", &cfg, &state, &f, VSW_GUARD_OK);

    /* Spoofing is checked first: a spoofed OFFER counts as spoofing. */
    port_config(&cfg, true, true);
    offer(&f);
    memcpy(f.data + 6, mac_other, VSW_ETH_ALEN);
    expect("spoofed OFFER", &cfg, &state, &f, VSW_GUARD_MAC_SPOOF);
}
END_TEST

START_TEST(test_ip_guard)
{
    static const uint8_t ip6_prefix[16] = {0x20, 0x01, 0x0d, 0xb8, [7] = 2};
    static const uint8_t ip6_in_prefix[16] = {
        0x20, 0x01, 0x0d, 0xb8, [7] = 2, [14] = 0xab, [15] = 0xcd};
    static const uint8_t ip6_outside[16] = {0x20, 0x01,    0x0d,
                                            0xb8, [7] = 3, [15] = 1};
    struct vsw_guard_config cfg;
    struct vsw_guard_state state;
    struct ipv4_spec s4;
    struct ipv6_spec s6;
    struct frame f;
    size_t ip;

    vsw_guard_state_init(&state);
    port_config(&cfg, false, false);
    allow_vm_addresses(&cfg);
    allow_ip4(&cfg, 0x0a000100, 28);
    allow_ip6(&cfg, ip6_prefix, 64);

    /* ARP. */
    build_arp(&f, 2, mac_vm, IP4_OTHER, IP4_VM);
    expect("ARP reply claiming another IP", &cfg, &state, &f, VSW_GUARD_IP);
    build_arp(&f, 1, mac_vm, IP4_OTHER, IP4_OTHER);
    expect("gratuitous ARP for another IP", &cfg, &state, &f, VSW_GUARD_IP);
    build_arp(&f, 1, mac_vm, 0, IP4_OTHER);
    expect("ARP probe for another IP", &cfg, &state, &f, VSW_GUARD_IP);
    build_arp(&f, 2, mac_vm, IP4_FAR, IP4_OTHER);
    expect("ARP reply inside the allowed /28", &cfg, &state, &f, VSW_GUARD_OK);
    build_arp(&f, 2, mac_vm, IP4_FAR + 16, IP4_OTHER);
    expect("ARP reply past the allowed /28", &cfg, &state, &f, VSW_GUARD_IP);
    build_arp(&f, 2, mac_vm, IP4_FAR + 0x100, IP4_OTHER);
    expect("ARP reply in another /24", &cfg, &state, &f, VSW_GUARD_IP);
    build_arp(&f, 2, mac_vm, IP4_VM, IP4_OTHER);
    set16(&f, 14, 6); /* IEEE 802 hardware: Linux accepts it */
    expect("ARP the parser cannot read", &cfg, &state, &f, VSW_GUARD_IP);

    /* IPv4. */
    s4 = client_bound;
    s4.src = IP4_OTHER;
    build_dhcp4(&f, &s4, 68, 67, BOOTREQUEST_OP, DHCPREQUEST);
    expect("IPv4 from another address", &cfg, &state, &f, VSW_GUARD_IP);
    s4.src = 0;
    ip = start_ipv4(&f, &s4, 17);
    put_udp(&f, 68, 5000, 0);
    finish_ipv4(&f, ip);
    expect("UDP from 0.0.0.0, not DHCP", &cfg, &state, &f, VSW_GUARD_IP);
    ip = start_ipv4(&f, &s4, 2);
    put_fill(&f, 0, 8);
    finish_ipv4(&f, ip);
    expect("IGMP from 0.0.0.0", &cfg, &state, &f, VSW_GUARD_OK);
    start_eth(&f, mac_other, mac_vm, NULL, NULL, 0, VSW_ETH_TYPE_IPV4);
    put_fill(&f, 0x45, 12);
    expect("IPv4 header cut short", &cfg, &state, &f, VSW_GUARD_IP);

    /* IPv6. */
    s6 = host6;
    s6.src = ip6_other_ll;
    build_icmp6(&f, &s6, 128);
    expect("IPv6 from another link-local", &cfg, &state, &f, VSW_GUARD_IP);
    s6.src = ip6_in_prefix;
    build_icmp6(&f, &s6, 128);
    expect("IPv6 inside the allowed /64", &cfg, &state, &f, VSW_GUARD_OK);
    s6.src = ip6_outside;
    build_icmp6(&f, &s6, 128);
    expect("IPv6 outside the allowed /64", &cfg, &state, &f, VSW_GUARD_IP);
    build_nd(&f, &host6, 136, ip6_other_ll);
    expect("NA for another address", &cfg, &state, &f, VSW_GUARD_IP);
    build_nd(&f, &host6_chain, 136, ip6_other_ll);
    expect("NA for another address behind options", &cfg, &state, &f,
           VSW_GUARD_IP);
    s6 = host6;
    s6.src = ip6_any;
    build_nd(&f, &s6, 135, ip6_other_ll);
    expect("DAD for another address", &cfg, &state, &f, VSW_GUARD_IP);
    build_icmp6(&f, &s6, 128);
    expect("echo request from ::", &cfg, &state, &f, VSW_GUARD_IP);

    /* The link-local address comes from the port's MAC. */
    echo6(&f);
    expect("IPv6 from the EUI-64 link-local", &cfg, &state, &f, VSW_GUARD_OK);
    cfg.has_mac = false;
    expect("EUI-64 link-local, port without a MAC", &cfg, &state, &f,
           VSW_GUARD_IP);

    /* Other ethertypes carry no address to check. */
    lldp(&f);
    expect("LLDP", &cfg, &state, &f, VSW_GUARD_OK);

    /* A stack too deep for the parser hides the source. */
    offer_three_tags(&f);
    expect("three VLAN tags", &cfg, &state, &f, VSW_GUARD_TOO_MANY_VLANS);

    /* An empty list is no IP guard. */
    cfg.n_ips = 0;
    build_arp(&f, 2, mac_vm, IP4_OTHER, IP4_VM);
    expect("ARP spoofing, IP guard off", &cfg, &state, &f, VSW_GUARD_OK);
    offer_three_tags(&f);
    expect("three VLAN tags, guards off", &cfg, &state, &f, VSW_GUARD_OK);
}
END_TEST

START_TEST(test_priority_tag)
{
    struct vsw_guard_config cfg;

    memset(&cfg, 0, sizeof cfg);
    for (uint8_t pcp = 0; pcp < 8; pcp++) {
        ck_assert_uint_eq(vsw_guard_pcp(&cfg, pcp), 0);
    }
    cfg.ieee_priority_tag = true;
    for (uint8_t pcp = 0; pcp < 8; pcp++) {
        ck_assert_uint_eq(vsw_guard_pcp(&cfg, pcp), pcp);
    }
    ck_assert_uint_eq(vsw_guard_pcp(&cfg, 0xff), 7);
}
END_TEST

#define NSEC_PER_SEC 1000000000ull

/* Offers frames to a fresh bucket limited to 'pps' for 'seconds', 'load'
 * times the limit, evenly spaced; returns how many it admitted.  If
 * 'max_window' is not NULL, stores there the most admitted in any one
 * second. */
static uint64_t
flood(uint32_t pps, unsigned load, unsigned seconds, uint64_t *max_window)
{
    struct vsw_guard_storm bucket;
    uint64_t step = NSEC_PER_SEC / ((uint64_t)pps * load);
    uint64_t end = seconds * NSEC_PER_SEC;
    uint64_t admitted = 0, *times = NULL, first = 0, best = 0;

    atomic_init(&bucket.tat_ns, 0);
    if (max_window) {
        times = malloc(sizeof *times * ((uint64_t)pps * (seconds + 1) + 1));
        ck_assert_ptr_nonnull(times);
    }
    for (uint64_t now = 0; now < end; now += step) {
        if (!vsw_guard_storm_admit(&bucket, pps, now)) {
            continue;
        }
        if (times) {
            times[admitted] = now;
            while (times[first] + NSEC_PER_SEC <= now) {
                first++;
            }
            best = admitted + 1 - first > best ? admitted + 1 - first : best;
        }
        admitted++;
    }
    if (max_window) {
        *max_window = best;
        free(times);
    }
    return admitted;
}

static void
assert_within_10_percent(uint64_t got, uint64_t want, const char *what,
                         uint32_t pps)
{
    ck_assert_msg(got * 10 >= want * 9 && got * 10 <= want * 11,
                  "%s at %u pps: %llu, expected %llu +- 10 %%", what, pps,
                  (unsigned long long)got, (unsigned long long)want);
}

START_TEST(test_storm_rates)
{
    static const uint32_t rates[] = {10, 1000, 100000, 1000000};

    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        uint32_t pps = rates[i];
        uint64_t window;
        uint64_t admitted = flood(pps, 4, 2, pps <= 100000 ? &window : NULL);

        assert_within_10_percent(admitted, 2ull * pps, "2 s flood", pps);
        if (pps <= 100000) {
            ck_assert_msg(window * 10 <= pps * 11ull,
                          "%u pps: %llu in one second", pps,
                          (unsigned long long)window);
        }
        /* At the limit, evenly spaced, nothing is lost. */
        ck_assert_uint_eq(flood(pps, 1, 2, NULL), 2ull * pps);
    }
}
END_TEST

/* A port that floods in bursts gets the limit too, not the bursts: here
 * every 10 ms, four times what 10 ms allow at once.  (Bursts further
 * apart than the bucket's 50 ms get less than the limit: the price of a
 * bucket small enough to hold every one-second window near it.) */
START_TEST(test_storm_bursts)
{
    static const uint32_t rates[] = {10, 1000, 100000, 1000000};

    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        uint32_t pps = rates[i];
        uint32_t per_burst = pps / 25 ? pps / 25 : 1;
        struct vsw_guard_storm bucket;
        uint64_t admitted = 0;

        atomic_init(&bucket.tat_ns, 0);
        for (uint64_t now = 0; now < 2 * NSEC_PER_SEC;
             now += NSEC_PER_SEC / 100) {
            for (uint32_t n = 0; n < per_burst; n++) {
                admitted += vsw_guard_storm_admit(&bucket, pps, now);
            }
        }
        assert_within_10_percent(admitted, 2ull * pps, "bursts", pps);
    }
}
END_TEST

START_TEST(test_storm_check)
{
    struct vsw_guard_config cfg;
    struct vsw_guard_state state;
    struct vsw_flow_key bcast, mcast, ucast;
    struct frame f;
    int admitted;

    memset(&cfg, 0, sizeof cfg);
    vsw_guard_state_init(&state);
    arp_request(&f);
    ck_assert_int_eq(vsw_flow_extract(f.data, f.len, &bcast), 0);
    ra(&f);
    ck_assert_int_eq(vsw_flow_extract(f.data, f.len, &mcast), 0);
    echo6(&f);
    ck_assert_int_eq(vsw_flow_extract(f.data, f.len, &ucast), 0);

    /* Off: no limit. */
    for (int i = 0; i < 1000; i++) {
        ck_assert_int_eq(vsw_guard_check_storm(&cfg, &state, &bcast, false, 0),
                         VSW_GUARD_OK);
    }

    /* 20 pps: a burst of one frame, then one per 50 ms.  Known unicast
     * never counts. */
    cfg.storm_limit_pps = 20;
    admitted = 0;
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(
            vsw_guard_check_storm(&cfg, &state, &ucast, true, 1000),
            VSW_GUARD_OK);
        admitted += vsw_guard_check_storm(&cfg, &state, &bcast, true, 1000) ==
                    VSW_GUARD_OK;
    }
    ck_assert_int_eq(admitted, 1);
    ck_assert_int_eq(vsw_guard_check_storm(&cfg, &state, &mcast, true, 1000),
                     VSW_GUARD_STORM);
    ck_assert_int_eq(vsw_guard_check_storm(&cfg, &state, &ucast, false, 1000),
                     VSW_GUARD_STORM);
    ck_assert_int_eq(
        vsw_guard_check_storm(&cfg, &state, &mcast, true, 50001000),
        VSW_GUARD_OK);
    ck_assert_int_eq(
        vsw_guard_check_storm(&cfg, &state, &ucast, false, 100001000),
        VSW_GUARD_OK);
    ck_assert_int_eq(
        vsw_guard_check_storm(&cfg, &state, &bcast, false, 100001000),
        VSW_GUARD_STORM);
}
END_TEST

/* Worker threads of one port share its bucket and a simulated clock. */
struct storm_shared {
    struct vsw_guard_storm bucket; /* the port's bucket */
    _Atomic uint64_t clock_ns;     /* simulated time, advanced per frame */
    uint64_t step_ns;              /* between two frames */
    uint64_t end_ns;               /* when the flood stops */
    uint32_t pps;                  /* the limit */
};

static void *
storm_thread(void *shared_)
{
    struct storm_shared *shared = shared_;
    uintptr_t admitted = 0;

    for (;;) {
        uint64_t now = atomic_fetch_add(&shared->clock_ns, shared->step_ns);

        if (now >= shared->end_ns) {
            break;
        }
        admitted += vsw_guard_storm_admit(&shared->bucket, shared->pps, now);
    }
    return (void *)admitted;
}

START_TEST(test_storm_concurrent)
{
    static const uint32_t rates[] = {1000, 100000};

    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        struct storm_shared shared = {
            .step_ns = NSEC_PER_SEC / (rates[i] * 4ull),
            .end_ns = 2 * NSEC_PER_SEC,
            .pps = rates[i],
        };
        pthread_t threads[2];
        uint64_t admitted = 0;

        atomic_init(&shared.bucket.tat_ns, 0);
        atomic_init(&shared.clock_ns, 0);
        for (size_t t = 0; t < 2; t++) {
            ck_assert_int_eq(
                pthread_create(&threads[t], NULL, storm_thread, &shared), 0);
        }
        for (size_t t = 0; t < 2; t++) {
            void *n;

            ck_assert_int_eq(pthread_join(threads[t], &n), 0);
            admitted += (uintptr_t)n;
        }
        assert_within_10_percent(admitted, 2ull * rates[i], "2 threads",
                                 rates[i]);
    }
}
END_TEST

/* Threads checking frames of one port at once, sharing its config and
 * state, get the verdicts one thread gets. */
struct check_shared {
    struct vsw_guard_config cfg;  /* the port */
    struct vsw_guard_state state; /* its state */
};

static void *
check_thread(void *shared_)
{
    struct check_shared *shared = shared_;
    struct frame frames[MAX_CASE_FRAMES];
    uintptr_t mismatches = 0;

    for (int round = 0; round < 50; round++) {
        for (size_t i = 0; i < N_EVASIONS + N_LEGIT; i++) {
            const struct guard_case *c =
                i < N_EVASIONS ? &evasions[i] : &legit[i - N_EVASIONS];

            /* Fragment trains of different threads may evict each other
             * from the table (guard.c says when that is harmless). */
            if (c->build(frames) != 1) {
                continue;
            }
            mismatches += run_guard(&shared->cfg, &shared->state,
                                    &frames[0]) != c->expected;
        }
    }
    return (void *)mismatches;
}

START_TEST(test_check_concurrent)
{
    struct check_shared *shared = calloc(1, sizeof *shared);
    pthread_t threads[4];

    ck_assert_ptr_nonnull(shared);
    port_config(&shared->cfg, true, true);
    allow_vm_addresses(&shared->cfg);
    vsw_guard_state_init(&shared->state);
    for (size_t t = 0; t < 4; t++) {
        ck_assert_int_eq(
            pthread_create(&threads[t], NULL, check_thread, shared), 0);
    }
    for (size_t t = 0; t < 4; t++) {
        void *mismatches;

        ck_assert_int_eq(pthread_join(threads[t], &mismatches), 0);
        ck_assert_ptr_null(mismatches);
    }
    free(shared);
}
END_TEST

static Suite *
guard_suite(void)
{
    Suite *s = suite_create("guard");
    TCase *tc = tcase_create("guard");

    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_verdict_names);
    tcase_add_test(tc, test_evasions_dropped);
    tcase_add_test(tc, test_guards_off);
    tcase_add_test(tc, test_legit_pass);
    tcase_add_test(tc, test_one_guard_at_a_time);
    tcase_add_test(tc, test_unknown_next_header);
    tcase_add_test(tc, test_fragment_table);
    tcase_add_test(tc, test_fragment_overlap);
    tcase_add_test(tc, test_mac_spoofing);
    tcase_add_test(tc, test_ip_guard);
    tcase_add_test(tc, test_priority_tag);
    tcase_add_test(tc, test_storm_rates);
    tcase_add_test(tc, test_storm_bursts);
    tcase_add_test(tc, test_storm_check);
    tcase_add_test(tc, test_storm_concurrent);
    tcase_add_test(tc, test_check_concurrent);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(guard_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
