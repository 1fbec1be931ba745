/*
 * Unit tests of the frame parser (datapath/pipeline/flow.c).
 *
 * Every frame is assembled byte by byte here and handed to the parser in a
 * heap buffer of exactly its length, so that an ASan build catches any
 * read past the end, however small.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"

/* Largest frame the builder assembles; the > 64 KiB tests use their own
 * buffer. */
#define FRAME_MAX 9100

#include "frame-build.h"

static const uint8_t mac_a[VSW_ETH_ALEN] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t mac_b[VSW_ETH_ALEN] = {0x02, 0, 0, 0, 0, 0x02};
static const uint8_t mac_bcast[VSW_ETH_ALEN] = {0xff, 0xff, 0xff,
                                                0xff, 0xff, 0xff};

/* 10.0.0.1, 10.0.0.2 and their IPv4-mapped forms. */
#define IP4_A 0x0a000001u
#define IP4_B 0x0a000002u
static const uint8_t mapped_a[16] = {0, 0, 0,    0,    0,  0, 0, 0,
                                     0, 0, 0xff, 0xff, 10, 0, 0, 1};
static const uint8_t mapped_b[16] = {0, 0, 0,    0,    0,  0, 0, 0,
                                     0, 0, 0xff, 0xff, 10, 0, 0, 2};

/* fe80::1, fe80::2 and ff02::1. */
static const uint8_t ip6_a[16] = {0xfe, 0x80, [15] = 1};
static const uint8_t ip6_b[16] = {0xfe, 0x80, [15] = 2};
static const uint8_t ip6_all_nodes[16] = {0xff, 0x02, [15] = 1};

static const uint8_t zero16[16];

/* Frame assembly: protocol headers (the byte writers are in
 * frame-build.h). */

/* Destination and source MAC; the caller adds tags and the ethertype. */
static void
put_macs(struct frame *f, const uint8_t *dst, const uint8_t *src)
{
    put_bytes(f, dst, VSW_ETH_ALEN);
    put_bytes(f, src, VSW_ETH_ALEN);
}

static void
put_tag(struct frame *f, uint16_t tpid, uint16_t tci)
{
    put16(f, tpid);
    put16(f, tci);
}

/* An IPv4 header with 'n_opt_words' 4-byte words of NOP options and a
 * zero total length that finish_ipv4() fills in.  Returns its offset. */
static size_t
put_ipv4(struct frame *f, uint8_t proto, uint32_t src, uint32_t dst,
         unsigned n_opt_words)
{
    size_t ip = f->len;

    put8(f, (uint8_t)(0x45 + n_opt_words));
    put8(f, 0x2e); /* DSCP AF11-ish, ECN 2 */
    put16(f, 0);
    put16(f, 0x1234);
    put16(f, 0);
    put8(f, 64);
    put8(f, proto);
    put16(f, 0);
    put32(f, src);
    put32(f, dst);
    put_fill(f, 0x01, n_opt_words * 4);
    return ip;
}

/* Sets the total length of the IPv4 header at 'ip' to end at f->len. */
static void
finish_ipv4(struct frame *f, size_t ip)
{
    set16(f, ip + 2, (uint16_t)(f->len - ip));
}

static size_t
put_ipv6(struct frame *f, uint8_t nh, const uint8_t *src, const uint8_t *dst)
{
    size_t ip = f->len;

    put32(f, 0x6b812345); /* traffic class 0xb8, flow label 0x12345 */
    put16(f, 0);
    put8(f, nh);
    put8(f, 255);
    put_bytes(f, src, 16);
    put_bytes(f, dst, 16);
    return ip;
}

/* Sets the payload length of the IPv6 header at 'ip' to end at f->len. */
static void
finish_ipv6(struct frame *f, size_t ip)
{
    set16(f, ip + 4, (uint16_t)(f->len - ip - 40));
}

/* A Hop-by-Hop, Destination Options or Routing-like header of
 * ('units' + 1) * 8 bytes, filled with one PadN option. */
static void
put_ext(struct frame *f, uint8_t nh, uint8_t units)
{
    size_t total = ((size_t)units + 1) * 8;

    put8(f, nh);
    put8(f, units);
    put8(f, 1);
    put8(f, (uint8_t)(total - 4));
    put_fill(f, 0, total - 4);
}

/* An AH header with 'words' + 2 four-octet words. */
static void
put_ah(struct frame *f, uint8_t nh, uint8_t words)
{
    put8(f, nh);
    put8(f, words);
    put16(f, 0);
    put32(f, 0x100);                            /* SPI */
    put32(f, 1);                                /* sequence */
    put_fill(f, 0xaa, ((size_t)words - 1) * 4); /* ICV */
}

static void
put_frag6(struct frame *f, uint8_t nh, uint16_t offset, bool more)
{
    put8(f, nh);
    put8(f, 0);
    put16(f, (uint16_t)(offset | more));
    put32(f, 0xdeadbeef);
}

static void
put_udp(struct frame *f, uint16_t sport, uint16_t dport, uint16_t data_len)
{
    put16(f, sport);
    put16(f, dport);
    put16(f, (uint16_t)(8 + data_len));
    put16(f, 0);
}

/* A TCP header of 'doff' words, options being NOPs. */
static void
put_tcp(struct frame *f, uint16_t sport, uint16_t dport, uint8_t flags,
        unsigned doff)
{
    put16(f, sport);
    put16(f, dport);
    put32(f, 1000);
    put32(f, 0);
    put8(f, (uint8_t)(doff << 4));
    put8(f, flags);
    put16(f, 65535);
    put32(f, 0);
    if (doff > 5) {
        put_fill(f, 0x01, (doff - 5) * 4);
    }
}

/* An 8-byte ICMP or ICMPv6 header. */
static void
put_icmp(struct frame *f, uint8_t type, uint8_t code)
{
    put8(f, type);
    put8(f, code);
    put16(f, 0);
    put32(f, 0);
}

/* An ICMPv6 NS (135) or NA (136) for 'target' with a source/target
 * link-layer address option. */
static void
put_nd(struct frame *f, uint8_t type, const uint8_t *target)
{
    put_icmp(f, type, 0);
    put_bytes(f, target, 16);
    put8(f, type == 135 ? 1 : 2);
    put8(f, 1);
    put_bytes(f, mac_a, VSW_ETH_ALEN);
}

/* A BOOTP/DHCP DISCOVER from 'chaddr': fixed part, cookie, option 53. */
static void
put_dhcp_discover(struct frame *f, const uint8_t *chaddr)
{
    put8(f, 1); /* BOOTREQUEST */
    put8(f, 1);
    put8(f, 6);
    put8(f, 0);
    put32(f, 0x3903f326);
    put16(f, 0);
    put16(f, 0x8000);
    put_fill(f, 0, 16); /* ciaddr, yiaddr, siaddr, giaddr */
    put_bytes(f, chaddr, VSW_ETH_ALEN);
    put_fill(f, 0, 10 + 64 + 128);
    put32(f, 0x63825363);
    put8(f, 53);
    put8(f, 1);
    put8(f, 1);
    put8(f, 255);
}

#define DHCP_DISCOVER_LEN 244

/* Runs the parser on the first 'len' bytes of 'data', copied into a heap
 * buffer of exactly that size. */
static int
extract_bytes(const uint8_t *data, size_t len, struct vsw_flow_key *key)
{
    uint8_t *copy = malloc(len);
    int error;

    ck_assert(copy != NULL || len == 0);
    if (len) {
        memcpy(copy, data, len);
    }
    /* Poison the key so a field the parser forgets to reset shows. */
    memset(key, 0xa5, sizeof *key);
    error = vsw_flow_extract(copy, len, key);
    free(copy);
    return error;
}

static int
extract_len(const struct frame *f, size_t len, struct vsw_flow_key *key)
{
    return extract_bytes(f->data, len, key);
}

static void
extract(const struct frame *f, struct vsw_flow_key *key)
{
    ck_assert_int_eq(extract_len(f, f->len, key), 0);
}

static bool
key_is_zero(const struct vsw_flow_key *key)
{
    static const struct vsw_flow_key zero;

    return !memcmp(key, &zero, sizeof zero);
}

/* Ethernet, optional tags and IPv4/UDP 68->67 carrying a DHCP DISCOVER. */
static void
build_dhcp_discover(struct frame *f, const uint16_t *tpids,
                    const uint16_t *tcis, size_t n_tags)
{
    size_t ip;

    f->len = 0;
    put_macs(f, mac_bcast, mac_a);
    for (size_t i = 0; i < n_tags; i++) {
        put_tag(f, tpids[i], tcis[i]);
    }
    put16(f, VSW_ETH_TYPE_IPV4);
    ip = put_ipv4(f, 17, 0, 0xffffffff, 0);
    put_udp(f, 68, 67, DHCP_DISCOVER_LEN);
    put_dhcp_discover(f, mac_a);
    finish_ipv4(f, ip);
}

/* Plain Ethernet + IPv4 + UDP 'sport'->'dport' with 'data_len' bytes. */
static void
build_ipv4_udp(struct frame *f, unsigned n_opt_words, uint16_t data_len)
{
    size_t ip;

    f->len = 0;
    put_macs(f, mac_b, mac_a);
    put16(f, VSW_ETH_TYPE_IPV4);
    ip = put_ipv4(f, 17, IP4_A, IP4_B, n_opt_words);
    put_udp(f, 5000, 53, data_len);
    put_fill(f, 0x5a, data_len);
    finish_ipv4(f, ip);
}

/* Ethernet + IPv6 from fe80::1 to ff02::1; the caller adds the chain and
 * calls finish_ipv6() with the returned offset. */
static size_t
start_ipv6(struct frame *f, uint8_t nh)
{
    f->len = 0;
    put_macs(f, mac_bcast, mac_a);
    put16(f, VSW_ETH_TYPE_IPV6);
    return put_ipv6(f, nh, ip6_a, ip6_all_nodes);
}

START_TEST(test_runt)
{
    struct vsw_flow_key key;
    struct frame f;

    memset(&key, 0xa5, sizeof key);
    ck_assert_int_eq(vsw_flow_extract(NULL, 0, &key), -EINVAL);
    ck_assert(key_is_zero(&key));

    build_ipv4_udp(&f, 0, 4);
    for (size_t len = 0; len < VSW_ETH_HLEN; len++) {
        ck_assert_int_eq(extract_len(&f, len, &key), -EINVAL);
        ck_assert(key_is_zero(&key));
    }
    ck_assert_int_eq(extract_len(&f, VSW_ETH_HLEN, &key), 0);
    ck_assert_uint_eq(key.eth_type, VSW_ETH_TYPE_IPV4);
    ck_assert_uint_eq(key.l3_ofs, 14);
    ck_assert_uint_eq(key.flags, VSW_FLOW_F_L3_TRUNCATED);
}
END_TEST

START_TEST(test_ipv4_udp)
{
    struct vsw_flow_key key;
    struct frame f;

    build_ipv4_udp(&f, 0, 18);
    ck_assert_uint_eq(f.len, 60);
    extract(&f, &key);
    ck_assert_mem_eq(key.eth_dst, mac_b, VSW_ETH_ALEN);
    ck_assert_mem_eq(key.eth_src, mac_a, VSW_ETH_ALEN);
    ck_assert_uint_eq(key.eth_type, VSW_ETH_TYPE_IPV4);
    ck_assert_uint_eq(key.n_vlans, 0);
    ck_assert_uint_eq(key.l3_ofs, 14);
    ck_assert_uint_eq(key.l4_ofs, 34);
    ck_assert_uint_eq(key.l7_ofs, 42);
    ck_assert_uint_eq(key.l3_end, 60);
    ck_assert_mem_eq(key.ip_src, mapped_a, 16);
    ck_assert_mem_eq(key.ip_dst, mapped_b, 16);
    ck_assert_uint_eq(key.ip_proto, 17);
    ck_assert_uint_eq(key.ip_tos, 0x2e);
    ck_assert_uint_eq(key.ip_ttl, 64);
    ck_assert_uint_eq(key.tp_src, 5000);
    ck_assert_uint_eq(key.tp_dst, 53);
    ck_assert_uint_eq(key.ipv6_ext_count, 0);
    ck_assert_uint_eq(key.flags, 0);
    ck_assert(vsw_flow_is_ipv4(&key));
    ck_assert(!vsw_flow_is_ipv6(&key));
}
END_TEST

START_TEST(test_dhcp_discover_vlan)
{
    static const uint16_t tpids[] = {VSW_ETH_TYPE_VLAN};
    static const uint16_t tcis[] = {0xa00a}; /* PCP 5, VID 10 */
    struct vsw_flow_key key;
    struct frame f;

    build_dhcp_discover(&f, tpids, tcis, 1);
    extract(&f, &key);
    ck_assert_uint_eq(key.n_vlans, 1);
    ck_assert_uint_eq(key.vlan_tpid[0], VSW_ETH_TYPE_VLAN);
    ck_assert_uint_eq(key.vlan_tci[0], 0xa00a);
    ck_assert_uint_eq(key.eth_type, VSW_ETH_TYPE_IPV4);
    ck_assert(vsw_flow_is_ipv4(&key));
    ck_assert(vsw_eth_addr_is_broadcast(key.eth_dst));
    ck_assert_uint_eq(key.l3_ofs, 18);
    ck_assert_uint_eq(key.l4_ofs, 38);
    ck_assert_uint_eq(key.l7_ofs, 46);
    ck_assert_uint_eq(key.l3_end, 46 + DHCP_DISCOVER_LEN);
    ck_assert_uint_eq(key.ip_proto, 17);
    ck_assert_uint_eq(key.tp_src, 68);
    ck_assert_uint_eq(key.tp_dst, 67);
    ck_assert_uint_eq(key.ip_dst[15], 0xff);
    ck_assert_uint_eq(key.flags, 0);
    /* The DHCP guard reads the BOOTP op from l7_ofs. */
    ck_assert_uint_eq(f.data[key.l7_ofs], 1);
}
END_TEST

START_TEST(test_dhcp_discover_qinq)
{
    static const uint16_t tpids[][2] = {
        {VSW_ETH_TYPE_QINQ, VSW_ETH_TYPE_VLAN},
        {0x9100, VSW_ETH_TYPE_VLAN},
        {VSW_ETH_TYPE_VLAN, VSW_ETH_TYPE_VLAN},
    };
    static const uint16_t tcis[] = {100, 0x2014};
    struct vsw_flow_key key;
    struct frame f;

    for (size_t i = 0; i < sizeof tpids / sizeof tpids[0]; i++) {
        build_dhcp_discover(&f, tpids[i], tcis, 2);
        extract(&f, &key);
        ck_assert_uint_eq(key.n_vlans, 2);
        ck_assert_uint_eq(key.vlan_tpid[0], tpids[i][0]);
        ck_assert_uint_eq(key.vlan_tpid[1], tpids[i][1]);
        ck_assert_uint_eq(key.vlan_tci[0], 100);
        ck_assert_uint_eq(key.vlan_tci[1], 0x2014);
        ck_assert_uint_eq(key.eth_type, VSW_ETH_TYPE_IPV4);
        ck_assert_uint_eq(key.l3_ofs, 22);
        ck_assert_uint_eq(key.l4_ofs, 42);
        ck_assert_uint_eq(key.tp_src, 68);
        ck_assert_uint_eq(key.tp_dst, 67);
        ck_assert_uint_eq(key.flags, 0);
    }
}
END_TEST

START_TEST(test_ipv4_options)
{
    struct vsw_flow_key key;
    struct frame f;

    for (unsigned words = 1; words <= 10; words++) {
        build_ipv4_udp(&f, words, 10);
        extract(&f, &key);
        ck_assert_uint_eq(key.flags, VSW_FLOW_F_IP_OPTIONS);
        ck_assert_uint_eq(key.l4_ofs, 34 + words * 4);
        ck_assert_uint_eq(key.l7_ofs, 42 + words * 4);
        ck_assert_uint_eq(key.l3_end, f.len);
        ck_assert_uint_eq(key.tp_src, 5000);
        ck_assert_uint_eq(key.tp_dst, 53);
    }
}
END_TEST

START_TEST(test_ipv4_fragments)
{
    struct vsw_flow_key key;
    struct frame f;

    /* First fragment: MF set, offset 0.  L4 is parsed. */
    build_ipv4_udp(&f, 0, 100);
    set16(&f, 14 + 6, 0x2000);
    extract(&f, &key);
    ck_assert_uint_eq(key.flags, VSW_FLOW_F_FRAGMENT);
    ck_assert_uint_eq(key.tp_src, 5000);
    ck_assert_uint_eq(key.tp_dst, 53);
    ck_assert_uint_eq(key.l4_ofs, 34);

    /* Later fragment whose data happens to look like a UDP header. */
    set16(&f, 14 + 6, 0x2000 | 185);
    extract(&f, &key);
    ck_assert_uint_eq(key.flags,
                      VSW_FLOW_F_FRAGMENT | VSW_FLOW_F_LATER_FRAGMENT);
    ck_assert_uint_eq(key.ip_proto, 17);
    ck_assert_uint_eq(key.l4_ofs, 0);
    ck_assert_uint_eq(key.l7_ofs, 0);
    ck_assert_uint_eq(key.tp_src, 0);
    ck_assert_uint_eq(key.tp_dst, 0);
    ck_assert_uint_eq(key.l3_end, f.len);

    /* Last fragment: MF clear, offset != 0. */
    set16(&f, 14 + 6, 370);
    extract(&f, &key);
    ck_assert_uint_eq(key.flags,
                      VSW_FLOW_F_FRAGMENT | VSW_FLOW_F_LATER_FRAGMENT);
    ck_assert_uint_eq(key.tp_dst, 0);

    /* DF alone is not a fragment. */
    set16(&f, 14 + 6, 0x4000);
    extract(&f, &key);
    ck_assert_uint_eq(key.flags, 0);
    ck_assert_uint_eq(key.tp_dst, 53);
}
END_TEST

START_TEST(test_ethernet_padding)
{
    struct vsw_flow_key plain, padded;
    struct frame f;

    build_dhcp_discover(&f, NULL, NULL, 0);
    extract(&f, &plain);
    ck_assert_uint_eq(plain.flags, 0);
    put_fill(&f, 0xff, 300);
    extract(&f, &padded);
    ck_assert_uint_eq(padded.flags, VSW_FLOW_F_PADDED);
    padded.flags = 0;
    ck_assert_mem_eq(&padded, &plain, sizeof plain);
    ck_assert_uint_eq(padded.l3_end, f.len - 300);

    /* The 2020 OVS CVE: an IPv4 header alone, with TCP-looking padding
     * after it.  The padding must not become ports. */
    f.len = 0;
    put_macs(&f, mac_b, mac_a);
    put16(&f, VSW_ETH_TYPE_IPV4);
    finish_ipv4(&f, put_ipv4(&f, 6, IP4_A, IP4_B, 0));
    put_tcp(&f, 1234, 22, 0x02, 5);
    put_fill(&f, 0, 300);
    extract(&f, &padded);
    ck_assert_uint_eq(padded.flags,
                      VSW_FLOW_F_PADDED | VSW_FLOW_F_L4_TRUNCATED);
    ck_assert_uint_eq(padded.ip_proto, 6);
    ck_assert_uint_eq(padded.l3_end, 34);
    ck_assert_uint_eq(padded.l4_ofs, 0);
    ck_assert_uint_eq(padded.tp_src, 0);
    ck_assert_uint_eq(padded.tp_dst, 0);
    ck_assert_uint_eq(padded.tcp_flags, 0);

    /* The same for IPv6: a DHCPv6 SOLICIT with 300 bytes of padding. */
    size_t ip = start_ipv6(&f, 17);
    put_udp(&f, 546, 547, 4);
    put32(&f, 0x01000001);
    finish_ipv6(&f, ip);
    extract(&f, &plain);
    ck_assert_uint_eq(plain.flags, 0);
    ck_assert_uint_eq(plain.tp_dst, 547);
    put_fill(&f, 0x11, 300);
    extract(&f, &padded);
    ck_assert_uint_eq(padded.flags, VSW_FLOW_F_PADDED);
    padded.flags = 0;
    ck_assert_mem_eq(&padded, &plain, sizeof plain);
}
END_TEST

START_TEST(test_ipv4_bad_lengths)
{
    struct vsw_flow_key key;
    struct frame f;

    /* IHL 15 (60 bytes) in a frame holding a 20-byte header + UDP. */
    build_ipv4_udp(&f, 0, 0);
    f.data[14] = 0x4f;
    set16(&f, 16, 60);
    extract(&f, &key);
    ck_assert_uint_eq(key.flags,
                      VSW_FLOW_F_IP_OPTIONS | VSW_FLOW_F_L3_TRUNCATED);
    ck_assert_uint_eq(key.l3_end, f.len);
    ck_assert_uint_eq(key.l4_ofs, 0);
    ck_assert_uint_eq(key.tp_dst, 0);
    ck_assert_mem_eq(key.ip_src, mapped_a, 16);

    /* IHL 15 with a total length that does not even cover it. */
    set16(&f, 16, 28);
    extract(&f, &key);
    ck_assert_uint_eq(key.flags,
                      VSW_FLOW_F_IP_OPTIONS | VSW_FLOW_F_L3_MALFORMED);
    ck_assert_uint_eq(key.l3_end, 0);
    ck_assert_uint_eq(key.l4_ofs, 0);

    /* IHL below 5, and a version that is not 4. */
    build_ipv4_udp(&f, 0, 0);
    f.data[14] = 0x44;
    extract(&f, &key);
    ck_assert_uint_eq(key.flags, VSW_FLOW_F_L3_MALFORMED);
    ck_assert_uint_eq(key.ip_proto, 0);
    ck_assert_mem_eq(key.ip_src, zero16, 16);
    f.data[14] = 0x65;
    extract(&f, &key);
    ck_assert_uint_eq(key.flags, VSW_FLOW_F_L3_MALFORMED);
    ck_assert_uint_eq(key.l3_ofs, 14);
    ck_assert_uint_eq(key.l4_ofs, 0);

    /* Total length larger than the frame: L4 is still read from what the
     * frame holds. */
    build_ipv4_udp(&f, 0, 10);
    set16(&f, 16, 1500);
    extract(&f, &key);
    ck_assert_uint_eq(key.flags, VSW_FLOW_F_L3_TRUNCATED);
    ck_assert_uint_eq(key.l3_end, f.len);
    ck_assert_uint_eq(key.tp_src, 5000);
    ck_assert_uint_eq(key.tp_dst, 53);

    /* Total length smaller than the frame, cutting the UDP header. */
    set16(&f, 16, 24);
    extract(&f, &key);
    ck_assert_uint_eq(key.flags, VSW_FLOW_F_PADDED | VSW_FLOW_F_L4_TRUNCATED);
    ck_assert_uint_eq(key.l3_end, 38);
    ck_assert_uint_eq(key.tp_src, 0);
    ck_assert_uint_eq(key.l4_ofs, 0);

    /* Total length smaller than the header. */
    set16(&f, 16, 19);
    extract(&f, &key);
    ck_assert_uint_eq(key.flags, VSW_FLOW_F_L3_MALFORMED);
    ck_assert_uint_eq(key.l3_end, 0);
    ck_assert_uint_eq(key.tp_src, 0);
    set16(&f, 16, 0);
    extract(&f, &key);
    ck_assert_uint_eq(key.flags, VSW_FLOW_F_L3_MALFORMED);

    /* Total length exactly the header: no room for UDP. */
    set16(&f, 16, 20);
    extract(&f, &key);
    ck_assert_uint_eq(key.flags, VSW_FLOW_F_PADDED | VSW_FLOW_F_L4_TRUNCATED);
    ck_assert_uint_eq(key.l3_end, 34);
}
END_TEST

START_TEST(test_ipv4_proto_0)
{
    struct vsw_flow_key key;
    struct frame f;
    size_t ip;

    f.len = 0;
    put_macs(&f, mac_b, mac_a);
    put16(&f, VSW_ETH_TYPE_IPV4);
    ip = put_ipv4(&f, 0, IP4_A, IP4_B, 0);
    put_udp(&f, 1, 2, 0);
    finish_ipv4(&f, ip);
    extract(&f, &key);
    ck_assert_uint_eq(key.ip_proto, 0);
    ck_assert_uint_eq(key.flags, 0);
    ck_assert_uint_eq(key.l3_end, 42);
    ck_assert_uint_eq(key.l4_ofs, 0);
    ck_assert_uint_eq(key.l7_ofs, 0);
    ck_assert_uint_eq(key.tp_src, 0);
    ck_assert_mem_eq(key.ip_dst, mapped_b, 16);
}
END_TEST

START_TEST(test_tcp)
{
    struct vsw_flow_key key;
    struct frame f;
    size_t ip;

    f.len = 0;
    put_macs(&f, mac_b, mac_a);
    put16(&f, VSW_ETH_TYPE_IPV4);
    ip = put_ipv4(&f, 6, IP4_A, IP4_B, 0);
    put_tcp(&f, 40000, 443, 0x12, 8);
    put_fill(&f, 0x77, 5);
    finish_ipv4(&f, ip);
    extract(&f, &key);
    ck_assert_uint_eq(key.flags, 0);
    ck_assert_uint_eq(key.ip_proto, 6);
    ck_assert_uint_eq(key.tp_src, 40000);
    ck_assert_uint_eq(key.tp_dst, 443);
    ck_assert_uint_eq(key.tcp_flags, 0x12);
    ck_assert_uint_eq(key.l4_ofs, 34);
    ck_assert_uint_eq(key.l7_ofs, 34 + 32);
    ck_assert_uint_eq(key.l3_end, 34 + 32 + 5);

    /* Data offset below 5, for every such value. */
    for (uint8_t doff = 0; doff < 5; doff++) {
        f.data[34 + 12] = (uint8_t)(doff << 4);
        extract(&f, &key);
        ck_assert_uint_eq(key.flags, VSW_FLOW_F_L4_MALFORMED);
        ck_assert_uint_eq(key.l4_ofs, 0);
        ck_assert_uint_eq(key.l7_ofs, 0);
        ck_assert_uint_eq(key.tp_src, 0);
        ck_assert_uint_eq(key.tp_dst, 0);
        ck_assert_uint_eq(key.tcp_flags, 0);
    }

    /* Data offset past the end of the packet. */
    f.data[34 + 12] = 15 << 4;
    extract(&f, &key);
    ck_assert_uint_eq(key.flags, VSW_FLOW_F_L4_TRUNCATED);
    ck_assert_uint_eq(key.tp_src, 0);
    ck_assert_uint_eq(key.l4_ofs, 0);
}
END_TEST

START_TEST(test_icmpv4)
{
    struct vsw_flow_key key;
    struct frame f;
    size_t ip;

    f.len = 0;
    put_macs(&f, mac_b, mac_a);
    put16(&f, VSW_ETH_TYPE_IPV4);
    ip = put_ipv4(&f, 1, IP4_A, IP4_B, 0);
    put_icmp(&f, 5, 1); /* redirect for host */
    finish_ipv4(&f, ip);
    extract(&f, &key);
    ck_assert_uint_eq(key.flags, 0);
    ck_assert_uint_eq(key.ip_proto, 1);
    ck_assert_uint_eq(key.icmp_type, 5);
    ck_assert_uint_eq(key.icmp_code, 1);
    ck_assert_uint_eq(key.l4_ofs, 34);
    ck_assert_uint_eq(key.tp_src, 0);

    set16(&f, 16, 23); /* 3 bytes of ICMP */
    extract(&f, &key);
    ck_assert_uint_eq(key.flags, VSW_FLOW_F_PADDED | VSW_FLOW_F_L4_TRUNCATED);
    ck_assert_uint_eq(key.icmp_type, 0);
    ck_assert_uint_eq(key.icmp_code, 0);
}
END_TEST

START_TEST(test_many_vlans)
{
    struct vsw_flow_key key;
    struct frame f;
    size_t ip;

    f.len = 0;
    put_macs(&f, mac_b, mac_a);
    for (uint16_t i = 0; i < 100; i++) {
        put_tag(&f, i % 2 ? VSW_ETH_TYPE_VLAN : VSW_ETH_TYPE_QINQ,
                (uint16_t)(i + 1));
    }
    put16(&f, VSW_ETH_TYPE_IPV4);
    ip = put_ipv4(&f, 17, IP4_A, IP4_B, 0);
    put_udp(&f, 68, 67, 0);
    finish_ipv4(&f, ip);

    extract(&f, &key);
    ck_assert_uint_eq(key.n_vlans, VSW_FLOW_MAX_VLANS + 1);
    ck_assert_uint_eq(key.vlan_tpid[0], VSW_ETH_TYPE_QINQ);
    ck_assert_uint_eq(key.vlan_tci[0], 1);
    ck_assert_uint_eq(key.vlan_tpid[1], VSW_ETH_TYPE_VLAN);
    ck_assert_uint_eq(key.vlan_tci[1], 2);
    ck_assert_uint_eq(key.eth_type, VSW_ETH_TYPE_QINQ);
    ck_assert_uint_eq(key.flags, VSW_FLOW_F_TOO_MANY_VLANS);
    ck_assert_uint_eq(key.l3_ofs, 0);
    ck_assert_uint_eq(key.ip_proto, 0);
    ck_assert_uint_eq(key.tp_dst, 0);
    ck_assert(!vsw_flow_is_ipv4(&key));

    /* Every truncation of the stack. */
    for (size_t len = VSW_ETH_HLEN; len <= f.len; len++) {
        ck_assert_int_eq(extract_len(&f, len, &key), 0);
        if (len < 18) {
            ck_assert_uint_eq(key.n_vlans, 0);
            ck_assert_uint_eq(key.flags, 0);
            ck_assert_uint_eq(key.eth_type, VSW_ETH_TYPE_QINQ);
        } else if (len < 22) {
            ck_assert_uint_eq(key.n_vlans, 1);
            ck_assert_uint_eq(key.flags, 0);
            ck_assert_uint_eq(key.eth_type, VSW_ETH_TYPE_VLAN);
        } else {
            ck_assert_uint_eq(key.n_vlans, 3);
            ck_assert_uint_eq(key.flags, VSW_FLOW_F_TOO_MANY_VLANS);
        }
        ck_assert_uint_eq(key.l3_ofs, 0);
    }

    /* Exactly three tags are already too many. */
    f.len = 0;
    put_macs(&f, mac_b, mac_a);
    put_tag(&f, VSW_ETH_TYPE_QINQ, 1);
    put_tag(&f, VSW_ETH_TYPE_VLAN, 2);
    put_tag(&f, VSW_ETH_TYPE_VLAN, 3);
    put16(&f, VSW_ETH_TYPE_IPV4);
    finish_ipv4(&f, put_ipv4(&f, 0, IP4_A, IP4_B, 0));
    extract(&f, &key);
    ck_assert_uint_eq(key.n_vlans, 3);
    ck_assert_uint_eq(key.flags, VSW_FLOW_F_TOO_MANY_VLANS);
    ck_assert_uint_eq(key.eth_type, VSW_ETH_TYPE_VLAN);
    ck_assert_uint_eq(key.l3_ofs, 0);
}
END_TEST

START_TEST(test_mpls_labels)
{
    struct vsw_flow_key key;
    struct frame f;
    size_t ip;

    f.len = 0;
    put_macs(&f, mac_b, mac_a);
    put16(&f, VSW_ETH_TYPE_MPLS);
    for (uint32_t i = 0; i < 64; i++) {
        put32(&f, (i + 16) << 12 | (i == 63) << 8 | 64);
    }
    ip = put_ipv4(&f, 17, IP4_A, IP4_B, 0);
    put_udp(&f, 68, 67, 0);
    finish_ipv4(&f, ip);

    extract(&f, &key);
    ck_assert_uint_eq(key.eth_type, VSW_ETH_TYPE_MPLS);
    ck_assert_uint_eq(key.n_vlans, 0);
    ck_assert_uint_eq(key.flags, 0);
    ck_assert_uint_eq(key.l3_ofs, 0);
    ck_assert_uint_eq(key.l3_end, 0);
    ck_assert_uint_eq(key.ip_proto, 0);
    ck_assert_uint_eq(key.tp_dst, 0);
    ck_assert_mem_eq(key.ip_src, zero16, 16);
    ck_assert(!vsw_flow_is_ipv4(&key));

    set16(&f, 12, VSW_ETH_TYPE_MPLS_MC);
    extract(&f, &key);
    ck_assert_uint_eq(key.eth_type, VSW_ETH_TYPE_MPLS_MC);
    ck_assert_uint_eq(key.l3_ofs, 0);
    ck_assert_uint_eq(key.tp_dst, 0);
}
END_TEST

START_TEST(test_arp)
{
    struct vsw_flow_key key;
    struct frame f;

    f.len = 0;
    put_macs(&f, mac_bcast, mac_a);
    put16(&f, VSW_ETH_TYPE_ARP);
    put16(&f, 1);
    put16(&f, VSW_ETH_TYPE_IPV4);
    put8(&f, 6);
    put8(&f, 4);
    put16(&f, 1);
    put_bytes(&f, mac_a, VSW_ETH_ALEN);
    put32(&f, IP4_A);
    put_fill(&f, 0, VSW_ETH_ALEN);
    put32(&f, IP4_B);
    put_fill(&f, 0, 18);
    ck_assert_uint_eq(f.len, 60);

    extract(&f, &key);
    ck_assert_uint_eq(key.eth_type, VSW_ETH_TYPE_ARP);
    ck_assert_uint_eq(key.l3_ofs, 14);
    ck_assert_uint_eq(key.l3_end, 42);
    ck_assert_uint_eq(key.flags, VSW_FLOW_F_PADDED);
    ck_assert_uint_eq(key.arp_op, 1);
    ck_assert_mem_eq(key.arp_sha, mac_a, VSW_ETH_ALEN);
    ck_assert(vsw_eth_addr_is_zero(key.arp_tha));
    ck_assert_mem_eq(key.ip_src, mapped_a, 16);
    ck_assert_mem_eq(key.ip_dst, mapped_b, 16);
    ck_assert_uint_eq(key.ip_proto, 0);
    ck_assert(!vsw_flow_is_ipv4(&key));

    /* A reply, exactly 28 bytes of ARP. */
    set16(&f, 20, 2);
    memcpy(f.data + 32, mac_b, VSW_ETH_ALEN);
    ck_assert_int_eq(extract_len(&f, 42, &key), 0);
    ck_assert_uint_eq(key.flags, 0);
    ck_assert_uint_eq(key.arp_op, 2);
    ck_assert_mem_eq(key.arp_tha, mac_b, VSW_ETH_ALEN);

    ck_assert_int_eq(extract_len(&f, 41, &key), 0);
    ck_assert_uint_eq(key.flags, VSW_FLOW_F_L3_TRUNCATED);
    ck_assert_uint_eq(key.arp_op, 0);
    ck_assert_mem_eq(key.ip_src, zero16, 16);

    /* Not Ethernet/IPv4 ARP. */
    f.data[18] = 8;
    extract(&f, &key);
    ck_assert_uint_eq(key.flags, VSW_FLOW_F_L3_MALFORMED);
    ck_assert_uint_eq(key.arp_op, 0);
    ck_assert_mem_eq(key.ip_src, zero16, 16);
}
END_TEST

START_TEST(test_ipv6_ra_behind_options)
{
    struct vsw_flow_key key;
    struct frame f;
    size_t ip;

    ip = start_ipv6(&f, 0);
    put_ext(&f, 60, 0);
    put_ext(&f, 58, 1);
    put_icmp(&f, 134, 0);
    put_fill(&f, 0, 8); /* reachable time, retrans timer */
    finish_ipv6(&f, ip);

    extract(&f, &key);
    ck_assert_uint_eq(key.eth_type, VSW_ETH_TYPE_IPV6);
    ck_assert(vsw_flow_is_ipv6(&key));
    ck_assert(!vsw_flow_is_ipv4(&key));
    ck_assert_uint_eq(key.flags, 0);
    ck_assert_uint_eq(key.l3_ofs, 14);
    ck_assert_uint_eq(key.ipv6_ext_count, 2);
    ck_assert_uint_eq(key.ip_proto, 58);
    ck_assert_uint_eq(key.l4_ofs, 14 + 40 + 8 + 16);
    ck_assert_uint_eq(key.l3_end, f.len);
    ck_assert_uint_eq(key.icmp_type, 134);
    ck_assert_uint_eq(key.icmp_code, 0);
    ck_assert_uint_eq(key.ip_tos, 0xb8);
    ck_assert_uint_eq(key.ip_ttl, 255);
    ck_assert_mem_eq(key.ip_src, ip6_a, 16);
    ck_assert_mem_eq(key.ip_dst, ip6_all_nodes, 16);
}
END_TEST

START_TEST(test_ipv6_long_chain)
{
    static const uint8_t types[] = {43, 60, 51, 135, 139, 140, 253, 254};
    struct vsw_flow_key key;
    struct frame f;
    size_t ip, l4;

    /* Hop-by-Hop then 63 more headers of every kind, then an echo. */
    ip = start_ipv6(&f, 0);
    for (size_t i = 0; i < 64; i++) {
        uint8_t next = i == 63 ? 58 : types[i % sizeof types];

        if (i && types[(i - 1) % sizeof types] == 51) {
            put_ah(&f, next, 4);
        } else {
            put_ext(&f, next, (uint8_t)(i % 3));
        }
    }
    l4 = f.len;
    put_icmp(&f, 128, 0);
    finish_ipv6(&f, ip);

    extract(&f, &key);
    ck_assert_uint_eq(key.flags, 0);
    ck_assert_uint_eq(key.ipv6_ext_count, 64);
    ck_assert_uint_eq(key.ip_proto, 58);
    ck_assert_uint_eq(key.l4_ofs, l4);
    ck_assert_uint_eq(key.icmp_type, 128);

    /* 400 headers: the count saturates, the walk does not stop. */
    ip = start_ipv6(&f, 60);
    for (size_t i = 0; i < 400; i++) {
        put_ext(&f, i == 399 ? 58 : 60, 0);
    }
    l4 = f.len;
    put_icmp(&f, 134, 0);
    finish_ipv6(&f, ip);
    extract(&f, &key);
    ck_assert_uint_eq(key.flags, 0);
    ck_assert_uint_eq(key.ipv6_ext_count, 255);
    ck_assert_uint_eq(key.l4_ofs, l4);
    ck_assert_uint_eq(key.icmp_type, 134);
}
END_TEST

START_TEST(test_ipv6_first_fragment_incomplete)
{
    struct vsw_flow_key key;
    struct frame f;
    size_t ip;

    /* The chain ends exactly where the first fragment does: the ICMPv6
     * header (an RA) is in the second fragment. */
    ip = start_ipv6(&f, 0);
    put_ext(&f, 44, 0);
    put_frag6(&f, 60, 0, true);
    put_ext(&f, 58, 0);
    finish_ipv6(&f, ip);
    extract(&f, &key);
    ck_assert_uint_eq(key.flags, VSW_FLOW_F_FRAGMENT |
                                     VSW_FLOW_F_IPV6_CHAIN_INCOMPLETE |
                                     VSW_FLOW_F_L4_TRUNCATED);
    ck_assert_uint_eq(key.ipv6_ext_count, 3);
    ck_assert_uint_eq(key.ip_proto, 58);
    ck_assert_uint_eq(key.icmp_type, 0);
    ck_assert_uint_eq(key.l4_ofs, 0);
    ck_assert_uint_eq(key.l3_end, f.len);

    /* Two bytes of the ICMPv6 header are not enough either. */
    put16(&f, 134 << 8);
    finish_ipv6(&f, ip);
    extract(&f, &key);
    ck_assert_uint_eq(key.flags, VSW_FLOW_F_FRAGMENT |
                                     VSW_FLOW_F_IPV6_CHAIN_INCOMPLETE |
                                     VSW_FLOW_F_L4_TRUNCATED);
    ck_assert_uint_eq(key.icmp_type, 0);

    /* Destination Options cut by the end of the first fragment. */
    ip = start_ipv6(&f, 44);
    put_frag6(&f, 60, 0, true);
    put_ext(&f, 58, 1);
    f.len -= 8;
    finish_ipv6(&f, ip);
    extract(&f, &key);
    ck_assert_uint_eq(key.flags,
                      VSW_FLOW_F_FRAGMENT | VSW_FLOW_F_IPV6_CHAIN_INCOMPLETE);
    ck_assert_uint_eq(key.ipv6_ext_count, 1);
    ck_assert_uint_eq(key.ip_proto, 60);
    ck_assert_uint_eq(key.l4_ofs, 0);

    /* The same header overrun without a fragment header is a lie. */
    f.data[14 + 6] = 60;
    memmove(f.data + 54, f.data + 62, f.len - 62);
    f.len -= 8;
    finish_ipv6(&f, ip);
    extract(&f, &key);
    ck_assert_uint_eq(key.flags, VSW_FLOW_F_IPV6_CHAIN_INCOMPLETE |
                                     VSW_FLOW_F_L3_MALFORMED);
    ck_assert_uint_eq(key.ipv6_ext_count, 0);

    /* A frame cut short of the payload length is truncated instead. */
    set16(&f, 14 + 4, 100);
    extract(&f, &key);
    ck_assert_uint_eq(key.flags, VSW_FLOW_F_IPV6_CHAIN_INCOMPLETE |
                                     VSW_FLOW_F_L3_TRUNCATED);
}
END_TEST

START_TEST(test_ipv6_fragments)
{
    struct vsw_flow_key key;
    struct frame f;
    size_t ip;

    /* An atomic fragment carrying an RA. */
    ip = start_ipv6(&f, 44);
    put_frag6(&f, 58, 0, false);
    put_icmp(&f, 134, 0);
    finish_ipv6(&f, ip);
    extract(&f, &key);
    ck_assert_uint_eq(key.flags,
                      VSW_FLOW_F_FRAGMENT | VSW_FLOW_F_ATOMIC_FRAGMENT);
    ck_assert_uint_eq(key.ipv6_ext_count, 1);
    ck_assert_uint_eq(key.ip_proto, 58);
    ck_assert_uint_eq(key.icmp_type, 134);
    ck_assert_uint_eq(key.l4_ofs, 62);

    /* A complete first fragment: L4 parsed, not atomic. */
    ip = start_ipv6(&f, 44);
    put_frag6(&f, 17, 0, true);
    put_udp(&f, 547, 546, 0);
    finish_ipv6(&f, ip);
    extract(&f, &key);
    ck_assert_uint_eq(key.flags, VSW_FLOW_F_FRAGMENT);
    ck_assert_uint_eq(key.tp_src, 547);
    ck_assert_uint_eq(key.tp_dst, 546);

    /* A later fragment whose data looks like ICMPv6. */
    ip = start_ipv6(&f, 0);
    put_ext(&f, 44, 0);
    put_frag6(&f, 58, 1448, true);
    put_icmp(&f, 134, 0);
    finish_ipv6(&f, ip);
    extract(&f, &key);
    ck_assert_uint_eq(key.flags,
                      VSW_FLOW_F_FRAGMENT | VSW_FLOW_F_LATER_FRAGMENT);
    ck_assert_uint_eq(key.ipv6_ext_count, 2);
    ck_assert_uint_eq(key.ip_proto, 58);
    ck_assert_uint_eq(key.icmp_type, 0);
    ck_assert_uint_eq(key.l4_ofs, 0);
}
END_TEST

/* The Identification that, with the addresses, names the datagram a
 * fragment belongs to: the guards use it to drop the later fragments of a
 * datagram whose first fragment they dropped. */
START_TEST(test_fragment_ids)
{
    struct vsw_flow_key key;
    struct frame f;
    size_t ip;

    /* IPv4: first and later fragments carry the id, DF alone does not. */
    build_ipv4_udp(&f, 0, 100);
    set16(&f, 14 + 4, 0xbeef);
    set16(&f, 14 + 6, 0x2000);
    extract(&f, &key);
    ck_assert_uint_eq(key.flags, VSW_FLOW_F_FRAGMENT);
    ck_assert_uint_eq(key.frag_id, 0xbeef);
    set16(&f, 14 + 6, 185);
    extract(&f, &key);
    ck_assert(key.flags & VSW_FLOW_F_LATER_FRAGMENT);
    ck_assert_uint_eq(key.frag_id, 0xbeef);
    set16(&f, 14 + 6, 0x4000);
    extract(&f, &key);
    ck_assert_uint_eq(key.flags, 0);
    ck_assert_uint_eq(key.frag_id, 0);

    /* IPv6: first, later and atomic fragments, behind other headers. */
    ip = start_ipv6(&f, 0);
    put_ext(&f, 44, 0);
    put_frag6(&f, 17, 0, true);
    put_udp(&f, 547, 546, 0);
    finish_ipv6(&f, ip);
    extract(&f, &key);
    ck_assert_uint_eq(key.flags, VSW_FLOW_F_FRAGMENT);
    ck_assert_uint_eq(key.frag_id, 0xdeadbeef);
    set16(&f, 14 + 40 + 8 + 2, 1448 | 1);
    extract(&f, &key);
    ck_assert(key.flags & VSW_FLOW_F_LATER_FRAGMENT);
    ck_assert_uint_eq(key.frag_id, 0xdeadbeef);
    set16(&f, 14 + 40 + 8 + 2, 0);
    extract(&f, &key);
    ck_assert(key.flags & VSW_FLOW_F_ATOMIC_FRAGMENT);
    ck_assert_uint_eq(key.frag_id, 0xdeadbeef);

    /* Two Fragment headers: the outer one names the datagram. */
    ip = start_ipv6(&f, 44);
    put_frag6(&f, 44, 0, true);
    put_frag6(&f, 17, 0, true);
    f.data[f.len - 1] = 0xee;
    put_udp(&f, 547, 546, 0);
    finish_ipv6(&f, ip);
    extract(&f, &key);
    ck_assert_uint_eq(key.frag_id, 0xdeadbeef);

    /* A Fragment header cut short has no id to give. */
    ip = start_ipv6(&f, 44);
    put_frag6(&f, 17, 0, true);
    f.len -= 1;
    finish_ipv6(&f, ip);
    extract(&f, &key);
    ck_assert(key.flags & VSW_FLOW_F_IPV6_CHAIN_INCOMPLETE);
    ck_assert(!(key.flags & VSW_FLOW_F_FRAGMENT));
    ck_assert_uint_eq(key.frag_id, 0);

    /* Not a fragment at all. */
    build_ipv4_udp(&f, 0, 10);
    extract(&f, &key);
    ck_assert_uint_eq(key.frag_id, 0);
}
END_TEST

START_TEST(test_ipv6_next_headers)
{
    static const uint8_t known[] = {4,  6,   17,  33,  41,  47,  58,  88, 89,
                                    97, 103, 112, 115, 132, 136, 137, 143};
    static const uint8_t unknown[] = {2, 3, 100, 142, 200, 255};
    struct vsw_flow_key key;
    struct frame f;
    size_t ip;

    for (size_t i = 0; i < sizeof unknown; i++) {
        ip = start_ipv6(&f, 60);
        put_ext(&f, unknown[i], 0);
        put_udp(&f, 547, 546, 0);
        finish_ipv6(&f, ip);
        extract(&f, &key);
        ck_assert_uint_eq(key.flags, VSW_FLOW_F_IPV6_UNKNOWN_NH);
        ck_assert_uint_eq(key.ip_proto, unknown[i]);
        ck_assert_uint_eq(key.ipv6_ext_count, 1);
        ck_assert_uint_eq(key.l4_ofs, 0);
        ck_assert_uint_eq(key.tp_src, 0);
    }
    for (size_t i = 0; i < sizeof known; i++) {
        ip = start_ipv6(&f, known[i]);
        put_tcp(&f, 1, 2, 0, 5);
        finish_ipv6(&f, ip);
        extract(&f, &key);
        ck_assert_uint_eq(key.flags, 0);
        ck_assert_uint_eq(key.ip_proto, known[i]);
        ck_assert_uint_eq(key.ipv6_ext_count, 0);
    }

    /* ESP and No Next Header end the chain without L4. */
    ip = start_ipv6(&f, 0);
    put_ext(&f, 50, 0);
    put_udp(&f, 547, 546, 0);
    finish_ipv6(&f, ip);
    extract(&f, &key);
    ck_assert_uint_eq(key.flags, 0);
    ck_assert_uint_eq(key.ip_proto, 50);
    ck_assert_uint_eq(key.ipv6_ext_count, 1);
    ck_assert_uint_eq(key.l4_ofs, 0);
    ck_assert_uint_eq(key.tp_src, 0);

    f.data[54] = 59;
    extract(&f, &key);
    ck_assert_uint_eq(key.flags, 0);
    ck_assert_uint_eq(key.ip_proto, 59);
    ck_assert_uint_eq(key.tp_src, 0);

    /* A version that is not 6. */
    f.data[14] = 0x45;
    extract(&f, &key);
    ck_assert_uint_eq(key.flags, VSW_FLOW_F_L3_MALFORMED);
    ck_assert_uint_eq(key.ip_ttl, 0);
}
END_TEST

START_TEST(test_ipv6_nd)
{
    struct vsw_flow_key key;
    struct frame f;
    size_t ip;

    for (uint8_t type = 135; type <= 136; type++) {
        ip = start_ipv6(&f, 58);
        put_nd(&f, type, ip6_b);
        finish_ipv6(&f, ip);
        extract(&f, &key);
        ck_assert_uint_eq(key.flags, 0);
        ck_assert_uint_eq(key.icmp_type, type);
        ck_assert_mem_eq(key.nd_target, ip6_b, 16);
        ck_assert_uint_eq(key.l4_ofs, 54);

        /* The target does not fit: type and code still do. */
        set16(&f, 14 + 4, 8 + 15);
        extract(&f, &key);
        ck_assert_uint_eq(key.flags, VSW_FLOW_F_PADDED);
        ck_assert_uint_eq(key.icmp_type, type);
        ck_assert_mem_eq(key.nd_target, zero16, 16);
    }

    /* Only NS and NA have a target. */
    ip = start_ipv6(&f, 58);
    put_nd(&f, 137, ip6_b);
    finish_ipv6(&f, ip);
    extract(&f, &key);
    ck_assert_uint_eq(key.icmp_type, 137);
    ck_assert_mem_eq(key.nd_target, zero16, 16);
}
END_TEST

/* The expected key of every prefix of a tagged IPv4/TCP frame. */
START_TEST(test_truncations_ipv4)
{
    struct vsw_flow_key key, full;
    struct frame f;
    size_t ip, full_len;

    f.len = 0;
    put_macs(&f, mac_b, mac_a);
    put_tag(&f, VSW_ETH_TYPE_VLAN, 100);
    put16(&f, VSW_ETH_TYPE_IPV4);
    ip = put_ipv4(&f, 6, IP4_A, IP4_B, 1);
    put_tcp(&f, 1234, 80, 0x18, 8);
    put_fill(&f, 0x33, 20);
    finish_ipv4(&f, ip);
    full_len = f.len;
    ck_assert_uint_eq(full_len, 94);
    extract(&f, &full);
    put_fill(&f, 0, 200 - f.len);

    for (size_t len = 0; len <= 200; len++) {
        uint32_t trunc = VSW_FLOW_F_L3_TRUNCATED;

        if (len < VSW_ETH_HLEN) {
            ck_assert_int_eq(extract_len(&f, len, &key), -EINVAL);
            ck_assert(key_is_zero(&key));
            continue;
        }
        ck_assert_int_eq(extract_len(&f, len, &key), 0);
        ck_assert_mem_eq(key.eth_src, mac_a, VSW_ETH_ALEN);
        if (len < 18) {
            ck_assert_uint_eq(key.n_vlans, 0);
            ck_assert_uint_eq(key.eth_type, VSW_ETH_TYPE_VLAN);
            ck_assert_uint_eq(key.flags, 0);
            ck_assert_uint_eq(key.l3_ofs, 0);
            continue;
        }
        ck_assert_uint_eq(key.n_vlans, 1);
        ck_assert_uint_eq(key.vlan_tci[0], 100);
        ck_assert_uint_eq(key.eth_type, VSW_ETH_TYPE_IPV4);
        ck_assert_uint_eq(key.l3_ofs, 18);
        if (len < 38) {
            ck_assert_uint_eq(key.flags, trunc);
            ck_assert_uint_eq(key.ip_proto, 0);
            ck_assert_uint_eq(key.l3_end, 0);
        } else if (len < 42) {
            ck_assert_uint_eq(key.flags, trunc | VSW_FLOW_F_IP_OPTIONS);
            ck_assert_uint_eq(key.ip_proto, 6);
            ck_assert_mem_eq(key.ip_src, mapped_a, 16);
            ck_assert_uint_eq(key.l3_end, len);
            ck_assert_uint_eq(key.l4_ofs, 0);
        } else if (len < 74) {
            ck_assert_uint_eq(key.flags, trunc | VSW_FLOW_F_IP_OPTIONS |
                                             VSW_FLOW_F_L4_TRUNCATED);
            ck_assert_uint_eq(key.l3_end, len);
            ck_assert_uint_eq(key.l4_ofs, 0);
            ck_assert_uint_eq(key.tp_src, 0);
            ck_assert_uint_eq(key.tcp_flags, 0);
        } else if (len < full_len) {
            ck_assert_uint_eq(key.flags, trunc | VSW_FLOW_F_IP_OPTIONS);
            ck_assert_uint_eq(key.l3_end, len);
            ck_assert_uint_eq(key.l4_ofs, 42);
            ck_assert_uint_eq(key.l7_ofs, 74);
            ck_assert_uint_eq(key.tp_src, 1234);
            ck_assert_uint_eq(key.tp_dst, 80);
            ck_assert_uint_eq(key.tcp_flags, 0x18);
        } else {
            ck_assert_uint_eq(key.flags,
                              VSW_FLOW_F_IP_OPTIONS |
                                  (len > full_len ? VSW_FLOW_F_PADDED : 0));
            key.flags = full.flags;
            ck_assert_mem_eq(&key, &full, sizeof key);
        }
    }
}
END_TEST

/* The expected key of every prefix of an IPv6 NS behind two options
 * headers. */
START_TEST(test_truncations_ipv6)
{
    struct vsw_flow_key key, full;
    struct frame f;
    size_t ip, full_len;

    ip = start_ipv6(&f, 0);
    put_ext(&f, 60, 0);
    put_ext(&f, 58, 1);
    put_nd(&f, 135, ip6_b);
    finish_ipv6(&f, ip);
    full_len = f.len;
    ck_assert_uint_eq(full_len, 110);
    extract(&f, &full);
    ck_assert_uint_eq(full.flags, 0);
    put_fill(&f, 0, 200 - f.len);

    for (size_t len = VSW_ETH_HLEN; len <= 200; len++) {
        uint32_t trunc = VSW_FLOW_F_L3_TRUNCATED;
        uint32_t incomplete = trunc | VSW_FLOW_F_IPV6_CHAIN_INCOMPLETE;

        ck_assert_int_eq(extract_len(&f, len, &key), 0);
        ck_assert_uint_eq(key.eth_type, VSW_ETH_TYPE_IPV6);
        ck_assert_uint_eq(key.l3_ofs, 14);
        if (len < 54) {
            ck_assert_uint_eq(key.flags, trunc);
            ck_assert_uint_eq(key.ip_ttl, 0);
            ck_assert_uint_eq(key.l3_end, 0);
        } else if (len < 62) {
            ck_assert_uint_eq(key.flags, incomplete);
            ck_assert_uint_eq(key.ip_ttl, 255);
            ck_assert_uint_eq(key.ipv6_ext_count, 0);
            ck_assert_uint_eq(key.l3_end, len);
        } else if (len < 78) {
            ck_assert_uint_eq(key.flags, incomplete);
            ck_assert_uint_eq(key.ipv6_ext_count, 1);
            ck_assert_uint_eq(key.ip_proto, 60);
        } else if (len < 82) {
            ck_assert_uint_eq(key.flags, incomplete | VSW_FLOW_F_L4_TRUNCATED);
            ck_assert_uint_eq(key.ipv6_ext_count, 2);
            ck_assert_uint_eq(key.ip_proto, 58);
            ck_assert_uint_eq(key.icmp_type, 0);
        } else if (len < 102) {
            ck_assert_uint_eq(key.flags, trunc);
            ck_assert_uint_eq(key.icmp_type, 135);
            ck_assert_uint_eq(key.l4_ofs, 78);
            ck_assert_mem_eq(key.nd_target, zero16, 16);
        } else if (len < full_len) {
            ck_assert_uint_eq(key.flags, trunc);
            ck_assert_mem_eq(key.nd_target, ip6_b, 16);
        } else {
            ck_assert_uint_eq(key.flags,
                              len > full_len ? VSW_FLOW_F_PADDED : 0);
            key.flags = 0;
            ck_assert_mem_eq(&key, &full, sizeof key);
        }
    }
}
END_TEST

/* Frames longer than the 16-bit offsets reach. */
START_TEST(test_huge_frames)
{
    size_t size = 70000;
    uint8_t *data = calloc(1, size);
    struct vsw_flow_key key;

    ck_assert_ptr_nonnull(data);
    memcpy(data, mac_b, VSW_ETH_ALEN);
    memcpy(data + 6, mac_a, VSW_ETH_ALEN);
    data[12] = 0x08;
    data[14] = 0x45;
    data[16] = 0xff; /* total length 65535 */
    data[17] = 0xff;
    data[23] = 17;
    data[34 + 1] = 99; /* UDP source port */
    data[34 + 3] = 67;

    ck_assert_int_eq(extract_bytes(data, size, &key), 0);
    ck_assert_uint_eq(key.flags, VSW_FLOW_F_PADDED | VSW_FLOW_F_L3_CLIPPED);
    ck_assert_uint_eq(key.l3_end, 65535);
    ck_assert_uint_eq(key.tp_src, 99);
    ck_assert_uint_eq(key.tp_dst, 67);

    ck_assert_int_eq(extract_bytes(data, 14 + 65535, &key), 0);
    ck_assert_uint_eq(key.flags, VSW_FLOW_F_L3_CLIPPED);
    ck_assert_uint_eq(key.l3_end, 65535);

    data[16] = 0;
    data[17] = 100;
    ck_assert_int_eq(extract_bytes(data, size, &key), 0);
    ck_assert_uint_eq(key.flags, VSW_FLOW_F_PADDED);
    ck_assert_uint_eq(key.l3_end, 114);

    /* An IPv6 chain of 2048-byte headers that crosses offset 65535. */
    memset(data + 12, 0, size - 12);
    data[12] = 0x86;
    data[13] = 0xdd;
    data[14] = 0x60;
    data[18] = 0xff; /* payload length 65535 */
    data[19] = 0xff;
    data[20] = 60;
    for (size_t ofs = 54; ofs + 2 <= size; ofs += 2048) {
        data[ofs] = 60;
        data[ofs + 1] = 255;
    }
    ck_assert_int_eq(extract_bytes(data, size, &key), 0);
    ck_assert_uint_eq(key.flags, VSW_FLOW_F_PADDED | VSW_FLOW_F_L3_CLIPPED |
                                     VSW_FLOW_F_IPV6_CHAIN_INCOMPLETE);
    ck_assert_uint_eq(key.ipv6_ext_count, 31);
    ck_assert_uint_eq(key.l3_end, 65535);
    free(data);
}
END_TEST

START_TEST(test_eth_addr_predicates)
{
    static const uint8_t zero[VSW_ETH_ALEN];
    static const uint8_t mcast[VSW_ETH_ALEN] = {0x01, 0x00, 0x5e, 0, 0, 1};
    static const uint8_t almost_bcast[VSW_ETH_ALEN] = {0xff, 0xff, 0xff,
                                                       0xff, 0xff, 0xfe};

    ck_assert(vsw_eth_addr_is_multicast(mac_bcast));
    ck_assert(vsw_eth_addr_is_multicast(mcast));
    ck_assert(!vsw_eth_addr_is_multicast(mac_a));
    ck_assert(!vsw_eth_addr_is_multicast(zero));
    ck_assert(vsw_eth_addr_is_broadcast(mac_bcast));
    ck_assert(!vsw_eth_addr_is_broadcast(almost_bcast));
    ck_assert(!vsw_eth_addr_is_broadcast(mcast));
    ck_assert(vsw_eth_addr_is_zero(zero));
    ck_assert(!vsw_eth_addr_is_zero(mac_a));
    ck_assert(!vsw_eth_addr_is_zero(mac_bcast));
}
END_TEST

START_TEST(test_format)
{
    static const uint16_t tpids[] = {VSW_ETH_TYPE_QINQ, VSW_ETH_TYPE_VLAN};
    static const uint16_t tcis[] = {0x3064, 10};
    static const char dhcp[] = "eth 02:00:00:00:00:01->ff:ff:ff:ff:ff:ff "
                               "vlan 10 ipv4 0.0.0.0->255.255.255.255 "
                               "proto udp 68->67";
    struct vsw_flow_key key;
    struct frame f;
    char buf[256];
    size_t ip;

    build_dhcp_discover(&f, tpids + 1, tcis + 1, 1);
    extract(&f, &key);
    ck_assert_str_eq(vsw_flow_format(&key, buf, sizeof buf), dhcp);

    build_dhcp_discover(&f, tpids, tcis, 2);
    f.data[22] = 0x46;
    put_fill(&f, 0, 10);
    extract(&f, &key);
    ck_assert_str_eq(vsw_flow_format(&key, buf, sizeof buf),
                     "eth 02:00:00:00:00:01->ff:ff:ff:ff:ff:ff svlan 100 "
                     "vlan 10 ipv4 0.0.0.0->255.255.255.255 proto udp "
                     "252->0 flags=ip-options,padded");

    f.len = 0;
    put_macs(&f, mac_b, mac_a);
    put16(&f, VSW_ETH_TYPE_IPV4);
    ip = put_ipv4(&f, 6, IP4_A, IP4_B, 0);
    put_tcp(&f, 1234, 80, 0x02, 5);
    finish_ipv4(&f, ip);
    extract(&f, &key);
    ck_assert_str_eq(vsw_flow_format(&key, buf, sizeof buf),
                     "eth 02:00:00:00:00:01->02:00:00:00:00:02 ipv4 "
                     "10.0.0.1->10.0.0.2 proto tcp 1234->80 tcp-flags 0x02");

    ip = start_ipv6(&f, 0);
    put_ext(&f, 58, 0);
    put_nd(&f, 135, ip6_b);
    finish_ipv6(&f, ip);
    extract(&f, &key);
    ck_assert_str_eq(vsw_flow_format(&key, buf, sizeof buf),
                     "eth 02:00:00:00:00:01->ff:ff:ff:ff:ff:ff ipv6 "
                     "fe80::1->ff02::1 ext 1 proto icmpv6 type 135 code 0 "
                     "target fe80::2");

    ip = start_ipv6(&f, 44);
    put_frag6(&f, 58, 8, false);
    finish_ipv6(&f, ip);
    extract(&f, &key);
    ck_assert_str_eq(vsw_flow_format(&key, buf, sizeof buf),
                     "eth 02:00:00:00:00:01->ff:ff:ff:ff:ff:ff ipv6 "
                     "fe80::1->ff02::1 ext 1 proto icmpv6 "
                     "flags=fragment,later-fragment");

    f.len = 0;
    put_macs(&f, mac_bcast, mac_a);
    put16(&f, VSW_ETH_TYPE_ARP);
    put16(&f, 1);
    put16(&f, VSW_ETH_TYPE_IPV4);
    put16(&f, 0x0604);
    put16(&f, 1);
    put_bytes(&f, mac_a, VSW_ETH_ALEN);
    put32(&f, IP4_A);
    put_fill(&f, 0, VSW_ETH_ALEN);
    put32(&f, IP4_B);
    extract(&f, &key);
    ck_assert_str_eq(vsw_flow_format(&key, buf, sizeof buf),
                     "eth 02:00:00:00:00:01->ff:ff:ff:ff:ff:ff arp op 1 "
                     "10.0.0.1->10.0.0.2");

    set16(&f, 12, 0x88cc);
    extract(&f, &key);
    ck_assert_str_eq(vsw_flow_format(&key, buf, sizeof buf),
                     "eth 02:00:00:00:00:01->ff:ff:ff:ff:ff:ff type 0x88cc");
}
END_TEST

START_TEST(test_format_bounds)
{
    static const uint16_t tpids[] = {VSW_ETH_TYPE_QINQ, VSW_ETH_TYPE_VLAN};
    static const uint16_t tcis[] = {100, 10};
    struct vsw_flow_key key;
    struct frame f;
    char full[512], buf[512];
    size_t full_len;

    build_dhcp_discover(&f, tpids, tcis, 2);
    f.data[22] = 0x46;
    put_fill(&f, 0, 10);
    extract(&f, &key);
    key.flags = UINT32_MAX;
    vsw_flow_format(&key, full, sizeof full);
    full_len = strlen(full);
    ck_assert_uint_gt(full_len, 100);
    ck_assert_uint_lt(full_len, sizeof full - 1);

    for (size_t size = 0; size <= full_len + 1; size++) {
        memset(buf, '#', sizeof buf);
        ck_assert_ptr_eq(vsw_flow_format(&key, buf, size), buf);
        for (size_t i = size; i < sizeof buf; i++) {
            ck_assert_int_eq(buf[i], '#');
        }
        if (size) {
            size_t n = size - 1 < full_len ? size - 1 : full_len;

            ck_assert_uint_eq(strlen(buf), n);
            ck_assert_int_eq(memcmp(buf, full, n), 0);
        }
    }
    ck_assert_ptr_eq(vsw_flow_format(&key, NULL, 0), NULL);
}
END_TEST

/* A fast, seeded generator so that a failure reproduces. */
static uint64_t
rng_next(uint64_t *state)
{
    uint64_t x = *state;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

static uint32_t
rng_below(uint64_t *state, uint32_t n)
{
    return (uint32_t)(rng_next(state) % n);
}

#define RANDOM_MAX 9018

/* Fills 'data' (RANDOM_MAX bytes) with random bytes shaped, most of the
 * time, like a tagged IPv4, IPv6 or ARP frame with plausible lengths, so
 * that the deep paths of the parser see random input too.  Returns the
 * length to parse. */
static size_t
random_frame(uint64_t *rng, uint8_t *data)
{
    static const uint16_t types[] = {
        VSW_ETH_TYPE_IPV4, VSW_ETH_TYPE_IPV6, VSW_ETH_TYPE_ARP,
        VSW_ETH_TYPE_VLAN, VSW_ETH_TYPE_QINQ, 0x9100,
        VSW_ETH_TYPE_MPLS,
    };
    /* Ten extension headers, then upper layers, one of them unknown. */
    static const uint8_t nhs[] = {0,   43, 44, 51, 60, 135, 139, 140, 253,
                                  254, 58, 6,  17, 1,  50,  59,  200};
    uint32_t shape = rng_below(rng, 8);
    size_t ofs = 12, l3, l3_len, end;
    uint16_t type;

    for (size_t i = 0; i < RANDOM_MAX; i += 8) {
        uint64_t r = rng_next(rng);

        memcpy(data + i, &r, RANDOM_MAX - i < 8 ? RANDOM_MAX - i : 8);
    }
    if (shape == 0) {
        return rng_below(rng, RANDOM_MAX + 1);
    }

    for (uint32_t n = rng_below(rng, 4); n > 0; n--) {
        data[ofs] = 0x81;
        data[ofs + 1] = 0x00;
        ofs += 4;
    }
    type = types[rng_below(rng, sizeof types / sizeof types[0])];
    data[ofs] = (uint8_t)(type >> 8);
    data[ofs + 1] = (uint8_t)type;
    l3 = ofs + 2;
    l3_len = rng_below(rng, 600);

    if (type == VSW_ETH_TYPE_IPV4) {
        if (rng_below(rng, 4)) {
            data[l3] = 0x45;
        }
        data[l3 + 2] = (uint8_t)(l3_len >> 8);
        data[l3 + 3] = (uint8_t)l3_len;
        if (rng_below(rng, 2)) {
            data[l3 + 6] = 0;
            data[l3 + 7] = 0;
        }
        data[l3 + 9] = nhs[10 + rng_below(rng, 4)];
        end = l3 + l3_len;
    } else if (type == VSW_ETH_TYPE_IPV6) {
        uint8_t *nh = &data[l3 + 6];

        data[l3] = 0x60;
        ofs = l3 + 40;
        for (uint32_t n = rng_below(rng, 12);; n--) {
            uint8_t ext =
                n ? nhs[rng_below(rng, 10)] : nhs[10 + rng_below(rng, 7)];
            size_t hlen;

            *nh = ext;
            if (!n) {
                break;
            }
            nh = &data[ofs];
            if (ext == 44) {
                if (rng_below(rng, 2)) {
                    data[ofs + 2] = 0;
                    data[ofs + 3] &= 1;
                }
                hlen = 8;
            } else {
                data[ofs + 1] &= 3;
                hlen = ext == 51 ? ((size_t)data[ofs + 1] + 2) * 4
                                 : ((size_t)data[ofs + 1] + 1) * 8;
            }
            ofs += hlen;
        }
        l3_len += ofs - l3 - 40;
        data[l3 + 4] = (uint8_t)(l3_len >> 8);
        data[l3 + 5] = (uint8_t)l3_len;
        end = l3 + 40 + l3_len;
    } else {
        if (type == VSW_ETH_TYPE_ARP && rng_below(rng, 4)) {
            memcpy(data + l3, "\x00\x01\x08\x00\x06\x04", 6);
        }
        end = l3 + 28 + l3_len;
    }

    if (shape <= 2) {
        return rng_below(rng, RANDOM_MAX + 1);
    }
    /* Around the claimed end, where the bounds checks live. */
    end = (end > 64 ? end - 64 : 0) + rng_below(rng, 129);
    return end > RANDOM_MAX ? RANDOM_MAX : end;
}

/* The structural promises of a key for a 'len'-byte frame. */
static bool
key_is_consistent(const struct vsw_flow_key *key, size_t len)
{
    if (key->n_vlans > VSW_FLOW_MAX_VLANS + 1 || key->l3_end > len) {
        return false;
    }
    if (key->l3_end && key->l3_ofs >= key->l3_end) {
        return false;
    }
    if (key->l4_ofs &&
        (key->l4_ofs <= key->l3_ofs || key->l4_ofs + 4 > key->l3_end)) {
        return false;
    }
    if (key->l7_ofs && (!key->l4_ofs || key->l7_ofs <= key->l4_ofs ||
                        key->l7_ofs > key->l3_end)) {
        return false;
    }
    if ((key->flags & (VSW_FLOW_F_LATER_FRAGMENT | VSW_FLOW_F_L4_TRUNCATED |
                       VSW_FLOW_F_L4_MALFORMED)) &&
        (key->l4_ofs || key->tp_src || key->tp_dst || key->icmp_type)) {
        return false;
    }
    if ((key->flags & VSW_FLOW_F_TOO_MANY_VLANS) && key->l3_ofs) {
        return false;
    }
    if ((key->flags & VSW_FLOW_F_LATER_FRAGMENT) &&
        !(key->flags & VSW_FLOW_F_FRAGMENT)) {
        return false;
    }
    if (key->frag_id && !(key->flags & VSW_FLOW_F_FRAGMENT)) {
        return false;
    }
    return true;
}

START_TEST(test_random_frames)
{
    uint8_t *data = malloc(RANDOM_MAX);
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    size_t n_l4_v4 = 0, n_l4_v6 = 0, n_chain = 0, n_arp = 0;
    uint32_t flags_seen = 0;
    struct vsw_flow_key key, again;
    char text[64];

    ck_assert_ptr_nonnull(data);
    for (long i = 0; i < 200000; i++) {
        size_t len = random_frame(&rng, data);
        int error = extract_bytes(data, len, &key);

        if (error != (len < VSW_ETH_HLEN ? -EINVAL : 0) ||
            !key_is_consistent(&key, len)) {
            ck_abort_msg("frame %ld (%zu bytes): bad key", i, len);
        }
        /* No hidden state: the same frame gives the same key. */
        if (extract_bytes(data, len, &again) != error ||
            memcmp(&key, &again, sizeof key)) {
            ck_abort_msg("frame %ld: key differs on reparse", i);
        }
        if (strlen(vsw_flow_format(&key, text, sizeof text)) >= sizeof text) {
            ck_abort_msg("frame %ld: format overran", i);
        }
        n_l4_v4 += key.l4_ofs && vsw_flow_is_ipv4(&key);
        n_l4_v6 += key.l4_ofs && vsw_flow_is_ipv6(&key);
        n_chain += key.ipv6_ext_count >= 4;
        n_arp += key.arp_op != 0;
        flags_seen |= key.flags;
    }
    free(data);
    /* The generator reached the deep paths, not just the L2 ones. */
    ck_assert_uint_gt(n_l4_v4, 3000);
    ck_assert_uint_gt(n_l4_v6, 4000);
    ck_assert_uint_gt(n_chain, 5000);
    ck_assert_uint_gt(n_arp, 6000);
    /* Every verdict but clipping (which needs > 64 KiB) came up. */
    ck_assert_uint_eq(flags_seen, VSW_FLOW_F_L3_CLIPPED - 1);
}
END_TEST

/* Frames and the keys a single thread extracted from them, shared
 * read-only by the threads of test_concurrent. */
#define N_SHARED_FRAMES 64
struct shared_frames {
    uint8_t *data[N_SHARED_FRAMES];                /* the frames */
    size_t len[N_SHARED_FRAMES];                   /* their lengths */
    struct vsw_flow_key expected[N_SHARED_FRAMES]; /* single-thread keys */
};

/* Parses every shared frame many times; returns how many keys differed
 * from the single-threaded ones (as a pointer-sized integer). */
static void *
parse_shared_frames(void *shared_)
{
    const struct shared_frames *shared = shared_;
    uintptr_t mismatches = 0;

    for (int round = 0; round < 500; round++) {
        for (size_t i = 0; i < N_SHARED_FRAMES; i++) {
            struct vsw_flow_key key;

            vsw_flow_extract(shared->data[i], shared->len[i], &key);
            mismatches += !!memcmp(&key, &shared->expected[i], sizeof key);
        }
    }
    return (void *)mismatches;
}

/* The datapath workers call the parser concurrently: it must keep no
 * state between calls. */
START_TEST(test_concurrent)
{
    struct shared_frames *shared = calloc(1, sizeof *shared);
    uint8_t *scratch = malloc(RANDOM_MAX);
    uint64_t rng = 12345;
    pthread_t threads[4];

    ck_assert_ptr_nonnull(shared);
    ck_assert_ptr_nonnull(scratch);
    for (size_t i = 0; i < N_SHARED_FRAMES; i++) {
        shared->len[i] = random_frame(&rng, scratch);
        shared->data[i] = malloc(shared->len[i] + 1);
        ck_assert_ptr_nonnull(shared->data[i]);
        memcpy(shared->data[i], scratch, shared->len[i]);
        vsw_flow_extract(shared->data[i], shared->len[i],
                         &shared->expected[i]);
    }
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_eq(
            pthread_create(&threads[i], NULL, parse_shared_frames, shared), 0);
    }
    for (size_t i = 0; i < 4; i++) {
        void *mismatches;

        ck_assert_int_eq(pthread_join(threads[i], &mismatches), 0);
        ck_assert_ptr_null(mismatches);
    }
    for (size_t i = 0; i < N_SHARED_FRAMES; i++) {
        free(shared->data[i]);
    }
    free(shared);
    free(scratch);
}
END_TEST

static Suite *
flow_suite(void)
{
    Suite *s = suite_create("flow");
    TCase *tc = tcase_create("extract");

    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_runt);
    tcase_add_test(tc, test_ipv4_udp);
    tcase_add_test(tc, test_dhcp_discover_vlan);
    tcase_add_test(tc, test_dhcp_discover_qinq);
    tcase_add_test(tc, test_ipv4_options);
    tcase_add_test(tc, test_ipv4_fragments);
    tcase_add_test(tc, test_ethernet_padding);
    tcase_add_test(tc, test_ipv4_bad_lengths);
    tcase_add_test(tc, test_ipv4_proto_0);
    tcase_add_test(tc, test_tcp);
    tcase_add_test(tc, test_icmpv4);
    tcase_add_test(tc, test_many_vlans);
    tcase_add_test(tc, test_mpls_labels);
    tcase_add_test(tc, test_arp);
    tcase_add_test(tc, test_ipv6_ra_behind_options);
    tcase_add_test(tc, test_ipv6_long_chain);
    tcase_add_test(tc, test_ipv6_first_fragment_incomplete);
    tcase_add_test(tc, test_ipv6_fragments);
    tcase_add_test(tc, test_fragment_ids);
    tcase_add_test(tc, test_ipv6_next_headers);
    tcase_add_test(tc, test_ipv6_nd);
    tcase_add_test(tc, test_truncations_ipv4);
    tcase_add_test(tc, test_truncations_ipv6);
    tcase_add_test(tc, test_huge_frames);
    tcase_add_test(tc, test_eth_addr_predicates);
    tcase_add_test(tc, test_format);
    tcase_add_test(tc, test_format_bounds);
    tcase_add_test(tc, test_random_frames);
    tcase_add_test(tc, test_concurrent);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(flow_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
