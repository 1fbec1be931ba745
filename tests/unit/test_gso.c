/*
 * Unit tests of software segmentation and checksum completion
 * (datapath/netdev/gso.c).
 *
 * Frames are built here byte by byte, the way Linux hands them to a TAP
 * with offloads on (pseudo-header sum in the checksum field,
 * VIRTIO_NET_HDR_F_NEEDS_CSUM), into heap buffers of exactly their length
 * so that an ASan build catches any read past the end.  Every output frame
 * is checked with a reference checksum written here in the plainest way,
 * independent of the code under test.
 */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gso.h"

#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17

#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_ECE 0x40
#define TCP_CWR 0x80

/* What build_packet() assembles. */
struct spec {
    bool ipv6;             /* IPv6 rather than IPv4 */
    bool udp;              /* UDP rather than TCP */
    bool vlan;             /* an 802.1Q tag after the MACs */
    size_t ip_opt_len;     /* IPv4 option bytes, a multiple of 4 */
    bool hbh;              /* an IPv6 Hop-by-Hop header */
    bool routing;          /* an IPv6 Routing header (type 4) */
    uint8_t segments_left; /* its Segments Left */
    size_t tcp_opt_len;    /* TCP option bytes, a multiple of 4 */
    uint8_t tcp_flags;     /* TCP flags of the packet */
    size_t payload;        /* payload bytes */
    uint16_t gso_size;     /* MSS */
    uint8_t gso_type;      /* virtio-net GSO type, ECN bit included */
    uint16_t ipv4_frag;    /* IPv4 flags and fragment offset */
};

/* A packet as a TAP would deliver it. */
struct packet {
    uint8_t *frame;             /* heap buffer of exactly 'len' bytes */
    size_t len;                 /* frame length */
    struct virtio_net_hdr vnet; /* offload metadata */
    size_t l3;                  /* IP header offset */
    size_t l4;                  /* TCP/UDP header offset */
    size_t hdr_len;             /* all headers */
};

static const uint8_t ip4_src[4] = {10, 0, 0, 1};
static const uint8_t ip4_dst[4] = {10, 0, 0, 2};
static const uint8_t ip6_src[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
static const uint8_t ip6_dst[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};

#define TCP_SEQ_BASE 0xfffff000u /* wraps within the first packet */
#define IPV4_ID_BASE 0xfff0      /* wraps too */

/* Deterministic pseudo-random numbers (xorshift64), so a failure
 * reproduces. */
static uint64_t
rnd(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

static uint16_t
be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static void
wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void
wr32(uint8_t *p, uint32_t v)
{
    wr16(p, (uint16_t)(v >> 16));
    wr16(p + 2, (uint16_t)v);
}

/* The reference checksum: RFC 1071 as written, big-endian 16-bit words,
 * one at a time. */
static uint32_t
ref_sum(const uint8_t *p, size_t len, uint32_t sum)
{
    size_t i;

    for (i = 0; i + 1 < len; i += 2) {
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
        sum = (sum & 0xffff) + (sum >> 16);
    }
    if (len & 1) {
        sum += (uint32_t)p[len - 1] << 8;
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return sum;
}

static uint32_t
ref_pseudo(bool ipv6, const uint8_t *ip, uint8_t proto, uint32_t l4_len)
{
    uint32_t sum = proto + (l4_len >> 16) + (l4_len & 0xffff);

    if (ipv6) {
        return ref_sum(ip + 8, 32, sum);
    }
    return ref_sum(ip + 12, 8, sum);
}

/* True if the L4 checksum of the 'l4_len' bytes at 'l4' verifies. */
static bool
ref_l4_ok(bool ipv6, const uint8_t *ip, const uint8_t *l4, size_t l4_len,
          uint8_t proto)
{
    return ref_sum(l4, l4_len,
                   ref_pseudo(ipv6, ip, proto, (uint32_t)l4_len)) == 0xffff;
}

static uint8_t
payload_byte(size_t i)
{
    return (uint8_t)(i * 131 + (i >> 8) * 7 + 3);
}

/* Assembles the packet 's' describes, with the L4 checksum field holding
 * the pseudo-header sum as Linux leaves it for the device. */
static struct packet
build_packet(const struct spec *s)
{
    size_t l3 = 14 + (s->vlan ? 4 : 0);
    size_t ext = (s->hbh ? 8 : 0) + (s->routing ? 24 : 0);
    size_t l3_hlen = s->ipv6 ? 40 + ext : 20 + s->ip_opt_len;
    size_t l4 = l3 + l3_hlen;
    size_t l4_hlen = s->udp ? 8 : 20 + s->tcp_opt_len;
    size_t hdr_len = l4 + l4_hlen;
    size_t len = hdr_len + s->payload;
    uint8_t proto = s->udp ? IPPROTO_UDP_ : IPPROTO_TCP_;
    struct packet p = {0};
    uint8_t *f = calloc(1, len);
    uint8_t *ip = f + l3;
    uint8_t *th = f + l4;
    uint16_t pseudo;
    size_t i;

    ck_assert_ptr_nonnull(f);
    memcpy(f, (const uint8_t[]){0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1}, 12);
    if (s->vlan) {
        wr16(f + 12, 0x8100);
        wr16(f + 14, 0x2064); /* PCP 1, VID 100 */
    }
    wr16(f + l3 - 2, s->ipv6 ? 0x86dd : 0x0800);

    if (s->ipv6) {
        uint8_t *h = ip + 40;
        uint8_t *nh = ip + 6;

        wr32(ip, 0x60012345); /* flow label, to see it copied */
        wr16(ip + 4, (uint16_t)(len - l3 - 40));
        ip[7] = 64;
        memcpy(ip + 8, ip6_src, 16);
        memcpy(ip + 24, ip6_dst, 16);
        if (s->hbh) {
            *nh = 0;
            nh = h;
            /* PadN covering the 6 bytes after the first two. */
            h[1] = 0;
            h[2] = 1;
            h[3] = 4;
            h += 8;
        }
        if (s->routing) {
            *nh = 43;
            nh = h;
            h[1] = 2; /* 24 bytes: one segment */
            h[2] = 4; /* Segment Routing Header */
            h[3] = s->segments_left;
            memcpy(h + 8, ip6_dst, 16);
            h += 24;
        }
        *nh = proto;
    } else {
        ip[0] = (uint8_t)(0x40 | (l3_hlen / 4));
        ip[1] = 0x02; /* ECT(0) */
        wr16(ip + 2, (uint16_t)(len - l3));
        wr16(ip + 4, IPV4_ID_BASE);
        wr16(ip + 6, s->ipv4_frag);
        ip[8] = 64;
        ip[9] = proto;
        memcpy(ip + 12, ip4_src, 4);
        memcpy(ip + 16, ip4_dst, 4);
        for (i = 0; i < s->ip_opt_len; i += 4) {
            /* Router Alert options, copied to every segment. */
            memcpy(ip + 20 + i, (const uint8_t[]){0x94, 0x04, 0, 0}, 4);
        }
        wr16(ip + 10, (uint16_t)~ref_sum(ip, l3_hlen, 0));
    }

    if (s->udp) {
        wr16(th, 5000);
        wr16(th + 2, 443);
        wr16(th + 4, (uint16_t)(len - l4));
    } else {
        wr16(th, 40000);
        wr16(th + 2, 80);
        wr32(th + 4, TCP_SEQ_BASE);
        wr32(th + 8, 0x01020304);
        th[12] = (uint8_t)((l4_hlen / 4) << 4);
        th[13] = s->tcp_flags;
        wr16(th + 14, 65535);
        for (i = 0; i < s->tcp_opt_len; i++) {
            th[20 + i] = 1; /* NOP */
        }
    }
    for (i = 0; i < s->payload; i++) {
        f[hdr_len + i] = payload_byte(i);
    }
    pseudo = (uint16_t)ref_pseudo(s->ipv6, ip, proto, (uint32_t)(len - l4));
    wr16(th + (s->udp ? 6 : 16), pseudo);

    p.frame = f;
    p.len = len;
    p.l3 = l3;
    p.l4 = l4;
    p.hdr_len = hdr_len;
    p.vnet.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    p.vnet.gso_type = s->gso_type;
    p.vnet.gso_size = s->gso_size;
    p.vnet.hdr_len = (uint16_t)hdr_len;
    p.vnet.csum_start = (uint16_t)l4;
    p.vnet.csum_offset = s->udp ? 6 : 16;
    return p;
}

static void
free_packet(struct packet *p)
{
    free(p->frame);
    p->frame = NULL;
}

/* Checks every segment in 'out' against the packet 'p' was built from. */
static void
verify_segments(const struct spec *s, const struct packet *p,
                const struct vsw_gso_out *out)
{
    size_t payload = p->len - p->hdr_len;
    size_t expect =
        payload > s->gso_size ? (payload + s->gso_size - 1) / s->gso_size : 1;
    uint8_t *joined = malloc(payload + 1);
    uint8_t proto = s->udp ? IPPROTO_UDP_ : IPPROTO_TCP_;
    size_t pos = 0, end = 0, i;
    uint32_t packets;
    uint64_t bytes, total = 0;

    ck_assert_ptr_nonnull(joined);
    ck_assert_uint_eq(out->n, expect);
    for (i = 0; i < out->n; i++) {
        const uint8_t *f = out->buf + out->seg[i].offset;
        size_t len = out->seg[i].len;
        size_t piece = len - p->hdr_len;
        const uint8_t *ip = f + p->l3;
        const uint8_t *l4 = f + p->l4;
        size_t l4_len = len - p->l4;

        /* In order, without overlap, within the buffer. */
        ck_assert_uint_ge(out->seg[i].offset, end);
        end = out->seg[i].offset + len;
        ck_assert_uint_le(end, out->buf_size);
        ck_assert_uint_ge(len, p->hdr_len);
        ck_assert_uint_le(piece, s->gso_size);
        if (i + 1 < out->n) {
            ck_assert_uint_eq(piece, s->gso_size);
        }
        total += len;

        /* Ethernet and VLAN header copied. */
        ck_assert_mem_eq(f, p->frame, p->l3);

        if (s->ipv6) {
            ck_assert_uint_eq(be16(ip + 4), len - p->l3 - 40);
            ck_assert_mem_eq(ip, p->frame + p->l3, 4);
            ck_assert_mem_eq(ip + 6, p->frame + p->l3 + 6, p->l4 - p->l3 - 6);
        } else {
            size_t ihl = (size_t)(ip[0] & 0x0f) * 4;

            ck_assert_uint_eq(ihl, p->l4 - p->l3);
            ck_assert_uint_eq(ref_sum(ip, ihl, 0), 0xffff);
            ck_assert_uint_eq(be16(ip + 2), len - p->l3);
            ck_assert_uint_eq(be16(ip + 4), (uint16_t)(IPV4_ID_BASE + i));
            /* Flags (DF), TTL, protocol, addresses, options unchanged. */
            ck_assert_mem_eq(ip + 6, p->frame + p->l3 + 6, 4);
            ck_assert_mem_eq(ip + 12, p->frame + p->l3 + 12, ihl - 12);
        }

        ck_assert(ref_l4_ok(s->ipv6, ip, l4, l4_len, proto));
        if (s->udp) {
            ck_assert_mem_eq(l4, p->frame + p->l4, 4);
            ck_assert_uint_eq(be16(l4 + 4), l4_len);
        } else {
            uint8_t flags = s->tcp_flags;

            ck_assert_mem_eq(l4, p->frame + p->l4, 4);
            ck_assert_uint_eq(be32(l4 + 4), (uint32_t)(TCP_SEQ_BASE + pos));
            ck_assert_mem_eq(l4 + 8, p->frame + p->l4 + 8, 5);
            if (i + 1 < out->n) {
                flags &= (uint8_t) ~(TCP_FIN | TCP_PSH);
            }
            if (i) {
                flags &= (uint8_t)~TCP_CWR;
            }
            ck_assert_uint_eq(l4[13], flags);
            ck_assert_mem_eq(l4 + 14, p->frame + p->l4 + 14, 2);
            ck_assert_mem_eq(l4 + 18, p->frame + p->l4 + 18,
                             p->hdr_len - p->l4 - 18);
        }
        memcpy(joined + pos, f + p->hdr_len, piece);
        pos += piece;
    }
    ck_assert_uint_eq(pos, payload);
    ck_assert_mem_eq(joined, p->frame + p->hdr_len, payload);
    free(joined);

    vsw_gso_wire_size(p->frame, p->len, &p->vnet, &packets, &bytes);
    ck_assert_uint_eq(packets, out->n);
    ck_assert_uint_eq(bytes, total);
}

/* Builds the packet of 's', segments it and checks the result. */
static void
check_segmentation(const struct spec *s)
{
    struct vsw_gso_out *out = vsw_gso_out_create();
    struct packet p = build_packet(s);
    struct virtio_net_hdr vnet = p.vnet;

    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(vsw_gso_segment(p.frame, p.len, &p.vnet, out), 0);
    verify_segments(s, &p, out);
    /* The packet without NEEDS_CSUM (checksum field garbage) segments
     * the same, and wire_size then parses instead. */
    p.vnet.flags = 0;
    p.vnet.csum_start = 0;
    p.vnet.csum_offset = 0;
    memset(p.frame + p.l4 + (s->udp ? 6 : 16), 0xa5, 2);
    ck_assert_int_eq(vsw_gso_segment(p.frame, p.len, &p.vnet, out), 0);
    verify_segments(s, &p, out);
    p.vnet = vnet;
    free_packet(&p);
    vsw_gso_out_destroy(out);
}

/* The packet of the task: 64 000 bytes of TCP payload at MSS 1448. */
static struct spec
tcp_spec(bool ipv6)
{
    return (struct spec){
        .ipv6 = ipv6,
        .tcp_opt_len = 12,
        .tcp_flags = TCP_ACK | TCP_PSH | TCP_FIN,
        .payload = 64000,
        .gso_size = 1448,
        .gso_type = ipv6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4,
        .ipv4_frag = 0x4000, /* DF */
    };
}

START_TEST(test_tcp4)
{
    struct spec s = tcp_spec(false);

    check_segmentation(&s);
}
END_TEST

START_TEST(test_tcp4_vlan)
{
    struct spec s = tcp_spec(false);

    s.vlan = true;
    check_segmentation(&s);
}
END_TEST

START_TEST(test_tcp4_options)
{
    struct spec s = tcp_spec(false);

    s.ip_opt_len = 8;
    s.tcp_opt_len = 40;
    s.ipv4_frag = 0;
    check_segmentation(&s);
}
END_TEST

START_TEST(test_tcp4_ecn)
{
    struct spec s = tcp_spec(false);

    s.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
    s.tcp_flags = TCP_ACK | TCP_CWR | TCP_ECE;
    check_segmentation(&s);
}
END_TEST

START_TEST(test_tcp6)
{
    struct spec s = tcp_spec(true);

    check_segmentation(&s);
}
END_TEST

START_TEST(test_tcp6_hbh_vlan)
{
    struct spec s = tcp_spec(true);

    s.hbh = true;
    check_segmentation(&s);
    s.vlan = true;
    check_segmentation(&s);
}
END_TEST

START_TEST(test_tcp6_routing_done)
{
    struct spec s = tcp_spec(true);

    s.hbh = true;
    s.routing = true;
    check_segmentation(&s);
}
END_TEST

/* Payload sizes around the MSS: an exact multiple gives no short last
 * segment, at most one MSS gives one frame (an odd MSS and an empty
 * payload included), and the largest frame a buffer holds. */
START_TEST(test_tcp_sizes)
{
    static const struct {
        size_t payload;
        uint16_t mss;
    } cases[] = {
        {1448 * 10, 1448}, {1448, 1448}, {1, 1448},     {0, 1448},
        {1449, 1448},      {9001, 999},  {500, 88},     {65000, 48},
        {65535 - 52, 536}, {7, 1},       {4000, 65535},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct spec s = tcp_spec(i & 1);

        s.payload = cases[i].payload;
        s.gso_size = cases[i].mss;
        s.tcp_opt_len = 0;
        check_segmentation(&s);
    }
}
END_TEST

START_TEST(test_udp_l4)
{
    struct spec s = {
        .udp = true,
        .payload = 20000,
        .gso_size = 1200,
        .gso_type = VSW_VIRTIO_NET_HDR_GSO_UDP_L4,
    };

    check_segmentation(&s);
    s.ipv6 = true;
    s.vlan = true;
    s.hbh = true;
    check_segmentation(&s);
}
END_TEST

/* A frame that is not a GSO packet comes out as one copy, its checksum
 * completed if asked for. */
START_TEST(test_pass_through)
{
    struct vsw_gso_out *out = vsw_gso_out_create();
    struct spec s = {.udp = true, .payload = 333};
    struct packet p = build_packet(&s);
    const uint8_t *f;
    uint32_t packets;
    uint64_t bytes;

    ck_assert_int_eq(vsw_gso_segment(p.frame, p.len, &p.vnet, out), 0);
    ck_assert_uint_eq(out->n, 1);
    ck_assert_uint_eq(out->seg[0].len, p.len);
    f = out->buf + out->seg[0].offset;
    ck_assert(ref_l4_ok(false, f + p.l3, f + p.l4, p.len - p.l4, 17));
    ck_assert_mem_eq(f, p.frame, p.l4 + 6);
    /* The input stays as it was: partial. */
    ck_assert(
        !ref_l4_ok(false, p.frame + p.l3, p.frame + p.l4, p.len - p.l4, 17));
    vsw_gso_wire_size(p.frame, p.len, &p.vnet, &packets, &bytes);
    ck_assert_uint_eq(packets, 1);
    ck_assert_uint_eq(bytes, p.len);

    p.vnet.flags = 0;
    ck_assert_int_eq(vsw_gso_segment(p.frame, p.len, &p.vnet, out), 0);
    ck_assert_mem_eq(out->buf + out->seg[0].offset, p.frame, p.len);

    free_packet(&p);
    vsw_gso_out_destroy(out);
}
END_TEST

START_TEST(test_csum_complete_udp_tcp)
{
    struct spec specs[] = {
        {.udp = true, .payload = 101},
        {.udp = true, .ipv6 = true, .vlan = true, .payload = 1400},
        {.tcp_opt_len = 12, .tcp_flags = TCP_ACK, .payload = 1447},
        {.ipv6 = true, .hbh = true, .tcp_flags = TCP_ACK, .payload = 64},
    };
    size_t i;

    for (i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        struct packet p = build_packet(&specs[i]);
        uint8_t proto = specs[i].udp ? 17 : 6;

        ck_assert_int_eq(vsw_csum_complete(p.frame, p.len, &p.vnet), 0);
        ck_assert_uint_eq(p.vnet.flags, 0);
        ck_assert(ref_l4_ok(specs[i].ipv6, p.frame + p.l3, p.frame + p.l4,
                            p.len - p.l4, proto));
        /* Without the flag: nothing happens. */
        p.frame[p.l4 + p.vnet.csum_offset] ^= 0xff;
        ck_assert_int_eq(vsw_csum_complete(p.frame, p.len, &p.vnet), 0);
        ck_assert(!ref_l4_ok(specs[i].ipv6, p.frame + p.l3, p.frame + p.l4,
                             p.len - p.l4, proto));
        free_packet(&p);
    }
}
END_TEST

/* A UDP datagram whose checksum computes to 0 goes out as 0xffff, since 0
 * would mean "no checksum". */
START_TEST(test_csum_complete_udp_zero)
{
    struct spec s = {.udp = true, .payload = 20};
    struct packet p = build_packet(&s);
    uint8_t *last = p.frame + p.len - 2;
    uint32_t sum;

    /* Pick the last payload word so that the full sum is 0xffff. */
    memset(last, 0, 2);
    sum = ref_sum(p.frame + p.l4, p.len - p.l4, 0);
    wr16(last, (uint16_t)(0xffff - sum));
    ck_assert_int_eq(vsw_csum_complete(p.frame, p.len, &p.vnet), 0);
    ck_assert_uint_eq(be16(p.frame + p.l4 + 6), 0xffff);
    ck_assert(
        ref_l4_ok(false, p.frame + p.l3, p.frame + p.l4, p.len - p.l4, 17));
    free_packet(&p);
}
END_TEST

START_TEST(test_csum_complete_bounds)
{
    struct spec s = {.udp = true, .payload = 10};
    struct packet p = build_packet(&s);
    uint8_t *copy = malloc(p.len);
    static const struct {
        uint16_t start, offset;
    } bad[] = {
        {60, 0}, {0xffff, 0xffff}, {52, 0},  {51, 0},
        {50, 1}, {0, 51},          {30, 21},
    };
    size_t i;

    ck_assert_ptr_nonnull(copy);
    memcpy(copy, p.frame, p.len);
    ck_assert_uint_eq(p.len, 52);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct virtio_net_hdr vnet = p.vnet;

        vnet.csum_start = bad[i].start;
        vnet.csum_offset = bad[i].offset;
        ck_assert_int_eq(vsw_csum_complete(p.frame, p.len, &vnet), -EINVAL);
        ck_assert_uint_eq(vnet.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
        ck_assert_mem_eq(p.frame, copy, p.len);
    }
    /* The last two bytes are still a valid place for the field. */
    p.vnet.csum_start = 40;
    p.vnet.csum_offset = 10;
    ck_assert_int_eq(vsw_csum_complete(p.frame, p.len, &p.vnet), 0);
    free(copy);
    free_packet(&p);
}
END_TEST

/* The checksum helpers against the reference, over every alignment and
 * odd and even lengths. */
START_TEST(test_csum_helpers)
{
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    uint8_t buf[2100];
    size_t i;

    for (i = 0; i < sizeof buf; i++) {
        buf[i] = (uint8_t)rnd(&seed);
    }
    for (i = 0; i < 3000; i++) {
        size_t ofs = rnd(&seed) % 16;
        size_t len = i < 64 ? i : rnd(&seed) % (sizeof buf - 16);
        uint8_t *copy = malloc(len ? len : 1);
        uint16_t csum;
        uint8_t bytes[2];

        ck_assert_ptr_nonnull(copy);
        memcpy(copy, buf + ofs, len);
        csum = vsw_csum_fold(vsw_csum_partial(copy, len, 0));
        memcpy(bytes, &csum, 2);
        ck_assert_uint_eq(be16(bytes), (uint16_t)~ref_sum(copy, len, 0));
        free(copy);
    }

    /* Sums of even-length pieces add up to the sum of the whole. */
    ck_assert_uint_eq(
        vsw_csum_fold(vsw_csum_add(vsw_csum_partial(buf, 1000, 0),
                                   vsw_csum_partial(buf + 1000, 999, 0))),
        vsw_csum_fold(vsw_csum_partial(buf, 1999, 0)));
    ck_assert_uint_eq(vsw_csum_fold(vsw_csum_add(0xffffffff, 0xffffffff)),
                      vsw_csum_fold(0xffffffff));
}
END_TEST

START_TEST(test_csum_pseudo)
{
    uint8_t ip4[20] = {0}, ip6[40] = {0};
    uint16_t got;
    uint8_t bytes[2];

    memcpy(ip4 + 12, ip4_src, 4);
    memcpy(ip4 + 16, ip4_dst, 4);
    got = vsw_csum_fold(vsw_csum_pseudo_ipv4(ip4_src, ip4_dst, 6, 1234));
    memcpy(bytes, &got, 2);
    ck_assert_uint_eq(be16(bytes), (uint16_t)~ref_pseudo(false, ip4, 6, 1234));

    memcpy(ip6 + 8, ip6_src, 16);
    memcpy(ip6 + 24, ip6_dst, 16);
    got = vsw_csum_fold(vsw_csum_pseudo_ipv6(ip6_src, ip6_dst, 17, 70000));
    memcpy(bytes, &got, 2);
    ck_assert_uint_eq(be16(bytes),
                      (uint16_t)~ref_pseudo(true, ip6, 17, 70000));
}
END_TEST

/* Segments the 'len'-byte prefix of 'p' (in a buffer of exactly that
 * size) with header 'vnet' and returns the result; 'out->n' must be 0 on
 * error. */
static int
segment_copy(const struct packet *p, size_t len,
             const struct virtio_net_hdr *vnet, struct vsw_gso_out *out)
{
    uint8_t *copy = malloc(len ? len : 1);
    uint32_t packets;
    uint64_t bytes;
    int error;

    ck_assert_ptr_nonnull(copy);
    memcpy(copy, p->frame, len);
    error = vsw_gso_segment(copy, len, vnet, out);
    vsw_gso_wire_size(copy, len, vnet, &packets, &bytes);
    ck_assert_uint_ge(packets, 1);
    if (error) {
        ck_assert_uint_eq(out->n, 0);
    }
    free(copy);
    return error;
}

START_TEST(test_malformed)
{
    struct vsw_gso_out *out = vsw_gso_out_create();
    struct spec s = tcp_spec(false);
    struct packet p = build_packet(&s);
    struct virtio_net_hdr v;
    uint8_t saved;
    size_t cut;

    ck_assert_ptr_nonnull(out);

    v = p.vnet;
    v.gso_size = 0;
    ck_assert_int_eq(segment_copy(&p, p.len, &v, out), -EINVAL);

    v = p.vnet;
    v.hdr_len = (uint16_t)(p.len + 1);
    ck_assert_int_eq(segment_copy(&p, p.len, &v, out), -EINVAL);

    v = p.vnet;
    v.csum_start = 0xffff;
    ck_assert_int_eq(segment_copy(&p, p.len, &v, out), -EINVAL);
    v.csum_start = (uint16_t)(p.l4 + 4);
    ck_assert_int_eq(segment_copy(&p, p.len, &v, out), -EINVAL);
    v = p.vnet;
    v.csum_offset = 6;
    ck_assert_int_eq(segment_copy(&p, p.len, &v, out), -EINVAL);

    v = p.vnet;
    v.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
    ck_assert_int_eq(segment_copy(&p, p.len, &v, out), -EINVAL);
    v.gso_type = VSW_VIRTIO_NET_HDR_GSO_UDP_L4;
    ck_assert_int_eq(segment_copy(&p, p.len, &v, out), -EINVAL);
    v.gso_type = VIRTIO_NET_HDR_GSO_ECN;
    ck_assert_int_eq(segment_copy(&p, p.len, &v, out), -EINVAL);
    v.gso_type = 2;
    ck_assert_int_eq(segment_copy(&p, p.len, &v, out), -EINVAL);
    v.gso_type = VIRTIO_NET_HDR_GSO_UDP;
    ck_assert_int_eq(segment_copy(&p, p.len, &v, out), -EOPNOTSUPP);

    /* Too many segments, too little room. */
    v = p.vnet;
    v.gso_size = 1;
    ck_assert_int_eq(segment_copy(&p, p.len, &v, out), -EMSGSIZE);
    v = p.vnet;
    out->buf_size = p.len + 43 * (p.hdr_len);
    ck_assert_int_eq(segment_copy(&p, p.len, &v, out), -ENOSPC);
    out->buf_size = p.len + 44 * (p.hdr_len);
    ck_assert_int_eq(segment_copy(&p, p.len, &v, out), 0);
    out->buf_size = VSW_GSO_BUF_SIZE;

    /* Every truncation: the IP length no longer matches, or the headers
     * are cut. */
    for (cut = 0; cut < p.len; cut += cut < p.hdr_len + 64 ? 1 : 997) {
        ck_assert_int_eq(segment_copy(&p, cut, &p.vnet, out), -EINVAL);
    }

    /* IP length lies, either way. */
    wr16(p.frame + p.l3 + 2, (uint16_t)(p.len - p.l3 - 1));
    ck_assert_int_eq(segment_copy(&p, p.len, &p.vnet, out), -EINVAL);
    wr16(p.frame + p.l3 + 2, (uint16_t)(p.len - p.l3 + 1));
    ck_assert_int_eq(segment_copy(&p, p.len, &p.vnet, out), -EINVAL);
    wr16(p.frame + p.l3 + 2, 0);
    ck_assert_int_eq(segment_copy(&p, p.len, &p.vnet, out), -EINVAL);
    wr16(p.frame + p.l3 + 2, (uint16_t)(p.len - p.l3));

    /* TCP data offset below 5 or past the end of the packet. */
    saved = p.frame[p.l4 + 12];
    p.frame[p.l4 + 12] = 0x40;
    ck_assert_int_eq(segment_copy(&p, p.len, &p.vnet, out), -EINVAL);
    p.frame[p.l4 + 12] = saved;

    /* A fragment is not a TCP packet to cut. */
    wr16(p.frame + p.l3 + 6, 0x2000);
    ck_assert_int_eq(segment_copy(&p, p.len, &p.vnet, out), -EINVAL);
    free_packet(&p);

    /* Not TCP at all. */
    s.udp = true;
    p = build_packet(&s);
    ck_assert_int_eq(segment_copy(&p, p.len, &p.vnet, out), -EINVAL);
    free_packet(&p);

    /* An IPv6 Routing header still to be processed. */
    s = tcp_spec(true);
    s.routing = true;
    s.segments_left = 1;
    p = build_packet(&s);
    ck_assert_int_eq(segment_copy(&p, p.len, &p.vnet, out), -EOPNOTSUPP);
    free_packet(&p);

    /* UDP with ECN. */
    s = (struct spec){.udp = true, .payload = 3000, .gso_size = 1000};
    s.gso_type = VSW_VIRTIO_NET_HDR_GSO_UDP_L4 | VIRTIO_NET_HDR_GSO_ECN;
    p = build_packet(&s);
    ck_assert_int_eq(segment_copy(&p, p.len, &p.vnet, out), -EINVAL);
    free_packet(&p);

    /* A bad checksum field for a pass-through frame. */
    s = (struct spec){.udp = true, .payload = 30};
    p = build_packet(&s);
    p.vnet.csum_offset = 100;
    ck_assert_int_eq(segment_copy(&p, p.len, &p.vnet, out), -EINVAL);
    free_packet(&p);

    vsw_gso_out_destroy(out);
}
END_TEST

START_TEST(test_wire_size)
{
    struct spec s = tcp_spec(false);
    struct packet p = build_packet(&s);
    struct virtio_net_hdr v;
    uint32_t packets;
    uint64_t bytes;

    vsw_gso_wire_size(p.frame, p.len, &p.vnet, &packets, &bytes);
    ck_assert_uint_eq(packets, 45);
    ck_assert_uint_eq(bytes, p.len + 44 * p.hdr_len);

    /* Not GSO, or nothing to go by: one frame. */
    v = p.vnet;
    v.gso_type = VIRTIO_NET_HDR_GSO_NONE;
    vsw_gso_wire_size(p.frame, p.len, &v, &packets, &bytes);
    ck_assert_uint_eq(packets, 1);
    ck_assert_uint_eq(bytes, p.len);
    v = p.vnet;
    v.gso_size = 0;
    vsw_gso_wire_size(p.frame, p.len, &v, &packets, &bytes);
    ck_assert_uint_eq(packets, 1);
    v = p.vnet;
    v.csum_start = 0xfff0;
    vsw_gso_wire_size(p.frame, p.len, &v, &packets, &bytes);
    ck_assert_uint_eq(packets, 1);
    ck_assert_uint_eq(bytes, p.len);
    vsw_gso_wire_size(p.frame, 60, &p.vnet, &packets, &bytes);
    ck_assert_uint_eq(packets, 1);
    ck_assert_uint_eq(bytes, 60);
    free_packet(&p);
}
END_TEST

/* Random virtio-net headers over random and mutated frames: nothing may
 * crash or touch memory outside the buffers (run under ASan), every
 * success obeys the output invariants, and wire_size agrees with what
 * segmentation produced. */
START_TEST(test_random)
{
    uint64_t seed = 0x0123456789abcdefull + (uint64_t)_i;
    struct vsw_gso_out *out = calloc(1, sizeof *out);
    static const uint8_t types[] = {
        VIRTIO_NET_HDR_GSO_NONE,
        VIRTIO_NET_HDR_GSO_TCPV4,
        VIRTIO_NET_HDR_GSO_TCPV6,
        VIRTIO_NET_HDR_GSO_UDP,
        VSW_VIRTIO_NET_HDR_GSO_UDP_L4,
        VIRTIO_NET_HDR_GSO_ECN | 1,
        0x42,
    };
    int iter, ok = 0;

    ck_assert_ptr_nonnull(out);
    for (iter = 0; iter < 4000; iter++) {
        struct spec s = {
            .ipv6 = rnd(&seed) & 1,
            .udp = rnd(&seed) % 4 == 0,
            .vlan = rnd(&seed) & 1,
            .hbh = rnd(&seed) & 1,
            .ip_opt_len = (rnd(&seed) % 3) * 4,
            .tcp_opt_len = (rnd(&seed) % 4) * 4,
            .tcp_flags = (uint8_t)rnd(&seed),
            .payload = rnd(&seed) % 9000,
            .gso_size = (uint16_t)(1 + rnd(&seed) % 2000),
        };
        struct packet p;
        uint8_t *frame;
        size_t len, i, end = 0;
        uint64_t mode = rnd(&seed) % 4;
        uint32_t packets;
        uint64_t bytes, total = 0;
        int error;

        s.gso_type = s.udp    ? VSW_VIRTIO_NET_HDR_GSO_UDP_L4
                     : s.ipv6 ? VIRTIO_NET_HDR_GSO_TCPV6
                              : VIRTIO_NET_HDR_GSO_TCPV4;
        p = build_packet(&s);
        len = p.len;
        if (mode == 0) {
            /* Random bytes. */
            for (i = 0; i < len; i++) {
                p.frame[i] = (uint8_t)rnd(&seed);
            }
        } else if (mode == 1) {
            /* A few header bytes flipped. */
            for (i = 0; i < 3; i++) {
                p.frame[rnd(&seed) % p.hdr_len] ^= (uint8_t)rnd(&seed);
            }
        } else if (mode == 2) {
            len = rnd(&seed) % (len + 1);
        }
        /* A header that is random, or one field of the right one. */
        if (rnd(&seed) & 1) {
            uint64_t r = rnd(&seed);

            p.vnet.flags = (uint8_t)(r & 3);
            p.vnet.gso_type = types[(r >> 8) % sizeof types];
            p.vnet.hdr_len = (uint16_t)(r >> 16);
            p.vnet.gso_size = (uint16_t)(r >> 32);
            p.vnet.csum_start = (uint16_t)(r >> 40) % (len + 8);
            p.vnet.csum_offset = (uint16_t)(r >> 48) % 64;
        } else if (rnd(&seed) & 1) {
            p.vnet.gso_type = types[rnd(&seed) % sizeof types];
        }

        frame = malloc(len ? len : 1);
        ck_assert_ptr_nonnull(frame);
        memcpy(frame, p.frame, len);
        out->buf_size =
            rnd(&seed) % 2 ? VSW_GSO_BUF_SIZE : rnd(&seed) % (2 * len + 1);
        out->buf = malloc(out->buf_size ? out->buf_size : 1);
        ck_assert_ptr_nonnull(out->buf);

        error = vsw_gso_segment(frame, len, &p.vnet, out);
        vsw_gso_wire_size(frame, len, &p.vnet, &packets, &bytes);
        if (error) {
            ck_assert_uint_eq(out->n, 0);
        } else {
            ok++;
            ck_assert_uint_ge(out->n, 1);
            ck_assert_uint_le(out->n, VSW_GSO_MAX_SEGS);
            for (i = 0; i < out->n; i++) {
                ck_assert_uint_ge(out->seg[i].offset, end);
                end = (size_t)out->seg[i].offset + out->seg[i].len;
                ck_assert_uint_le(end, out->buf_size);
                total += out->seg[i].len;
            }
            ck_assert_uint_eq(packets, out->n);
            ck_assert_uint_eq(bytes, total);
        }
        ck_assert_int_le(vsw_csum_complete(frame, len, &p.vnet), 0);

        free(out->buf);
        free(frame);
        free_packet(&p);
    }
    /* The mutations must leave enough packets intact to test successes. */
    ck_assert_int_gt(ok, 500);
    free(out);
}
END_TEST

static Suite *
gso_suite(void)
{
    Suite *s = suite_create("gso");
    TCase *tc = tcase_create("gso");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_tcp4);
    tcase_add_test(tc, test_tcp4_vlan);
    tcase_add_test(tc, test_tcp4_options);
    tcase_add_test(tc, test_tcp4_ecn);
    tcase_add_test(tc, test_tcp6);
    tcase_add_test(tc, test_tcp6_hbh_vlan);
    tcase_add_test(tc, test_tcp6_routing_done);
    tcase_add_test(tc, test_tcp_sizes);
    tcase_add_test(tc, test_udp_l4);
    tcase_add_test(tc, test_pass_through);
    tcase_add_test(tc, test_csum_complete_udp_tcp);
    tcase_add_test(tc, test_csum_complete_udp_zero);
    tcase_add_test(tc, test_csum_complete_bounds);
    tcase_add_test(tc, test_csum_helpers);
    tcase_add_test(tc, test_csum_pseudo);
    tcase_add_test(tc, test_malformed);
    tcase_add_test(tc, test_wire_size);
    tcase_add_loop_test(tc, test_random, 0, 4);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(gso_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
