/*
 * Software segmentation and checksum completion.
 *
 * Decisions this file makes (gso.h states the contract):
 *
 * - Headers are located by the switch's one parser, vsw_flow_extract(),
 *   never from 'hdr_len': Linux fills that with the length of the linear
 *   part of the buffer, which may hold payload too.  The parser bounds
 *   every header by the frame and by the IP length fields, and requiring
 *   those fields to match the frame exactly means the segments carry
 *   precisely the payload that the rest of the switch saw described.
 *
 * - Checksums are computed in full for every segment, from the addresses
 *   in the IP header, rather than adjusted from the pseudo-header sum in
 *   the packet as Linux does: senders disagree on whether that sum
 *   includes the length (Linux: yes, DPDK and hardware TSO: no), and a
 *   fresh sum is right for both.  The price is the final destination of
 *   a pending IPv6 Routing header, which only the sender knew to use;
 *   such packets are refused.
 *
 * - CWR is cleared on every segment but the first whether or not the
 *   packet carries VIRTIO_NET_HDR_GSO_ECN, as Linux's tcp_gso_segment()
 *   does: a congestion window reduction is signalled once.
 *
 * - Each segment is assembled by copying the headers and its slice of the
 *   payload, then summing the L4 part while it is hot in the cache.  The
 *   copy keeps the segments contiguous, which a capture or an extension
 *   needs, and costs little next to the system call per frame that a port
 *   without offloads pays anyway.
 */
#include "gso.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"

#define IPV6_HLEN 40
#define TCP_HLEN  20
#define UDP_HLEN  8

/* Offsets of the header fields this file reads or rewrites. */
#define IPV4_TOT_LEN 2
#define IPV4_ID      4
#define IPV4_CSUM    10
#define IPV4_SRC     12
#define IPV4_DST     16
#define IPV6_PLEN    4
#define IPV6_NEXT    6
#define IPV6_SRC     8
#define IPV6_DST     24
#define TCP_SEQ      4
#define TCP_DOFF     12
#define TCP_FLAGS    13
#define TCP_CSUM     16
#define UDP_LEN      4
#define UDP_CSUM     6

#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_CWR 0x80

/* IPv6 extension headers that segmentation copies to every segment, as
 * Linux's ipv6_gso_segment() does. */
#define IPV6_NH_HOPOPTS 0
#define IPV6_NH_ROUTING 43
#define IPV6_NH_DSTOPTS 60

/* Where the headers of a GSO packet lie. */
struct gso_layout {
    size_t l3;      /* IP header */
    size_t l4;      /* TCP or UDP header */
    size_t hdr_len; /* all headers: where the payload starts */
    bool ipv6;      /* IPv6 rather than IPv4 */
    bool tcp;       /* TCP rather than UDP */
};

static uint16_t
get_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void
put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint32_t
get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static void
put_be32(uint8_t *p, uint32_t v)
{
    put_be16(p, (uint16_t)(v >> 16));
    put_be16(p + 2, (uint16_t)v);
}

/* Adds the 'len' bytes at 'p' to 'sum' as 32-bit words.  Carries out of
 * 32 bits pile up in the upper half, to be folded back once at the end:
 * 2^32 words (16 GB) would be needed to overflow. */
static uint64_t
csum_words(const uint8_t *p, size_t len, uint64_t sum)
{
    uint64_t w8;
    uint32_t w4;
    uint16_t w2;

    /* Two independent 8-byte loads per round keep the adds off one
     * dependency chain; memcpy makes unaligned loads safe. */
    while (len >= 16) {
        uint64_t a, b;

        memcpy(&a, p, 8);
        memcpy(&b, p + 8, 8);
        sum += (a & 0xffffffff) + (a >> 32) + (b & 0xffffffff) + (b >> 32);
        p += 16;
        len -= 16;
    }
    if (len >= 8) {
        memcpy(&w8, p, 8);
        sum += (w8 & 0xffffffff) + (w8 >> 32);
        p += 8;
        len -= 8;
    }
    if (len >= 4) {
        memcpy(&w4, p, 4);
        sum += w4;
        p += 4;
        len -= 4;
    }
    if (len >= 2) {
        memcpy(&w2, p, 2);
        sum += w2;
        p += 2;
        len -= 2;
    }
    if (len) {
        /* The odd byte is the first of a word whose second is zero, in
         * memory order, which is right for either host byte order. */
        w2 = 0;
        memcpy(&w2, p, 1);
        sum += w2;
    }
    return sum;
}

/* Folds a 64-bit sum of words into a 32-bit partial sum (2^32 = 1 in
 * ones' complement arithmetic modulo 0xffff). */
static uint32_t
csum_fold64(uint64_t sum)
{
    sum = (sum & 0xffffffff) + (sum >> 32);
    sum = (sum & 0xffffffff) + (sum >> 32);
    return (uint32_t)sum;
}

uint32_t
vsw_csum_partial(const void *data, size_t len, uint32_t sum)
{
    return csum_fold64(csum_words(data, len, sum));
}

uint32_t
vsw_csum_add(uint32_t a, uint32_t b)
{
    return csum_fold64((uint64_t)a + b);
}

uint16_t
vsw_csum_fold(uint32_t sum)
{
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

uint32_t
vsw_csum_pseudo_ipv4(const uint8_t src[4], const uint8_t dst[4], uint8_t proto,
                     uint16_t l4_len)
{
    uint64_t sum = htonl((uint32_t)proto << 16 | l4_len);

    return csum_fold64(csum_words(dst, 4, csum_words(src, 4, sum)));
}

uint32_t
vsw_csum_pseudo_ipv6(const uint8_t src[16], const uint8_t dst[16],
                     uint8_t proto, uint32_t l4_len)
{
    uint64_t sum = (uint64_t)htonl(l4_len) + htonl(proto);

    return csum_fold64(csum_words(dst, 16, csum_words(src, 16, sum)));
}

/* Stores the checksum of partial sum 'sum' at 'field'.  A result of 0 is
 * sent as 0xffff, its ones' complement twin, because 0 in a UDP checksum
 * means "none"; Linux's skb_checksum_help() does the same for every
 * protocol. */
static void
csum_store(uint8_t *field, uint32_t sum)
{
    uint16_t csum = vsw_csum_fold(sum);

    if (!csum) {
        csum = 0xffff;
    }
    memcpy(field, &csum, sizeof csum);
}

int
vsw_csum_complete(uint8_t *frame, size_t len, struct virtio_net_hdr *vnet)
{
    size_t start = vnet->csum_start;
    size_t field = start + vnet->csum_offset;

    if (!(vnet->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
        return 0;
    }
    if (field > len || len - field < 2) {
        return -EINVAL;
    }
    csum_store(frame + field, vsw_csum_partial(frame + start, len - start, 0));
    vnet->flags &= (uint8_t)~VIRTIO_NET_HDR_F_NEEDS_CSUM;
    return 0;
}

/* Checks the IPv6 extension headers between the fixed header at 'l3' and
 * the upper-layer header at 'l4', which the parser walked already: only
 * those Linux segments through are accepted, and a Routing header must be
 * finished, since the pseudo-header is computed with the destination
 * address as it stands.  The length checks repeat the parser's so that
 * the reads here stay in bounds even if the two ever disagree. */
static int
check_ipv6_chain(const uint8_t *frame, size_t l3, size_t l4)
{
    uint8_t nh = frame[l3 + IPV6_NEXT];
    size_t ofs = l3 + IPV6_HLEN;

    while (ofs < l4) {
        const uint8_t *h = frame + ofs;

        if (l4 - ofs < 8) {
            return -EINVAL;
        }
        switch (nh) {
        case IPV6_NH_ROUTING:
            if (h[3]) {
                return -EOPNOTSUPP;
            }
            break;
        case IPV6_NH_HOPOPTS:
        case IPV6_NH_DSTOPTS:
            break;
        default:
            return -EOPNOTSUPP;
        }
        nh = h[0];
        ofs += ((size_t)h[1] + 1) * 8;
    }
    return ofs == l4 ? 0 : -EINVAL;
}

/* Finds the headers of the 'len'-byte GSO packet at 'frame' of GSO type
 * 'type' (ECN bit removed) and checks that they are what 'vnet' says. */
static int
gso_locate(const uint8_t *frame, size_t len, const struct virtio_net_hdr *vnet,
           uint8_t type, struct gso_layout *lay)
{
    struct vsw_flow_key key;
    uint8_t proto =
        type == VSW_VIRTIO_NET_HDR_GSO_UDP_L4 ? IPPROTO_UDP : IPPROTO_TCP;

    if (vsw_flow_extract(frame, len, &key) || !key.l4_ofs ||
        key.ip_proto != proto ||
        key.flags & (VSW_FLOW_F_FRAGMENT | VSW_FLOW_F_L3_MALFORMED |
                     VSW_FLOW_F_L4_MALFORMED)) {
        return -EINVAL;
    }
    lay->l3 = key.l3_ofs;
    lay->l4 = key.l4_ofs;
    lay->hdr_len = key.l7_ofs;
    lay->ipv6 = vsw_flow_is_ipv6(&key);
    lay->tcp = proto == IPPROTO_TCP;
    if ((type == VIRTIO_NET_HDR_GSO_TCPV4 && lay->ipv6) ||
        (type == VIRTIO_NET_HDR_GSO_TCPV6 && !lay->ipv6)) {
        return -EINVAL;
    }

    if (lay->ipv6) {
        int error;

        if (lay->l3 + IPV6_HLEN + get_be16(frame + lay->l3 + IPV6_PLEN) !=
            len) {
            return -EINVAL;
        }
        error = check_ipv6_chain(frame, lay->l3, lay->l4);
        if (error) {
            return error;
        }
    } else if (lay->l3 + get_be16(frame + lay->l3 + IPV4_TOT_LEN) != len) {
        return -EINVAL;
    }

    if (vnet->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM &&
        (vnet->csum_start != lay->l4 ||
         vnet->csum_offset != (lay->tcp ? TCP_CSUM : UDP_CSUM))) {
        return -EINVAL;
    }
    return 0;
}

/* Turns the copy of the headers at 'seg', now followed by its payload for
 * a 'seg_len'-byte frame, into the headers of segment 'index' of 'n_segs'
 * of a packet cut into 'mss'-byte pieces, and fills in its checksums. */
static void
gso_fix_segment(uint8_t *seg, size_t seg_len, const struct gso_layout *lay,
                size_t index, size_t n_segs, uint16_t mss)
{
    uint8_t *ip = seg + lay->l3;
    uint8_t *l4 = seg + lay->l4;
    size_t l4_len = seg_len - lay->l4;
    uint8_t proto = lay->tcp ? IPPROTO_TCP : IPPROTO_UDP;
    uint32_t sum;

    if (lay->ipv6) {
        put_be16(ip + IPV6_PLEN, (uint16_t)(seg_len - lay->l3 - IPV6_HLEN));
        sum = vsw_csum_pseudo_ipv6(ip + IPV6_SRC, ip + IPV6_DST, proto,
                                   (uint32_t)l4_len);
    } else {
        put_be16(ip + IPV4_TOT_LEN, (uint16_t)(seg_len - lay->l3));
        put_be16(ip + IPV4_ID, (uint16_t)(get_be16(ip + IPV4_ID) + index));
        memset(ip + IPV4_CSUM, 0, 2);
        /* The parser puts L4 right after the IPv4 header and options. */
        csum_store(ip + IPV4_CSUM, vsw_csum_partial(ip, lay->l4 - lay->l3, 0));
        sum = vsw_csum_pseudo_ipv4(ip + IPV4_SRC, ip + IPV4_DST, proto,
                                   (uint16_t)l4_len);
    }

    if (lay->tcp) {
        uint8_t flags = l4[TCP_FLAGS];

        put_be32(l4 + TCP_SEQ,
                 get_be32(l4 + TCP_SEQ) + (uint32_t)(index * mss));
        if (index + 1 < n_segs) {
            flags &= (uint8_t) ~(TCP_FIN | TCP_PSH);
        }
        if (index) {
            flags &= (uint8_t)~TCP_CWR;
        }
        l4[TCP_FLAGS] = flags;
        memset(l4 + TCP_CSUM, 0, 2);
        csum_store(l4 + TCP_CSUM, vsw_csum_partial(l4, l4_len, sum));
    } else {
        put_be16(l4 + UDP_LEN, (uint16_t)l4_len);
        memset(l4 + UDP_CSUM, 0, 2);
        csum_store(l4 + UDP_CSUM, vsw_csum_partial(l4, l4_len, sum));
    }
}

/* Copies a frame that is not a GSO packet into 'out' as its only segment,
 * with its checksum completed. */
static int
gso_pass_through(const uint8_t *frame, size_t len,
                 const struct virtio_net_hdr *vnet, struct vsw_gso_out *out)
{
    struct virtio_net_hdr hdr = *vnet;
    int error;

    if (len > UINT32_MAX) {
        return -EMSGSIZE;
    }
    if (len > out->buf_size) {
        return -ENOSPC;
    }
    memcpy(out->buf, frame, len);
    error = vsw_csum_complete(out->buf, len, &hdr);
    if (error) {
        return error;
    }
    out->seg[0] = (struct vsw_gso_seg){0, (uint32_t)len};
    out->n = 1;
    return 0;
}

/* GSO types (ECN bit removed) that this file segments.  UFO
 * (VIRTIO_NET_HDR_GSO_UDP) is not among them: it stands for IP
 * fragmentation, which Linux stopped offering to guests. */
static bool
gso_type_is_segmented(uint8_t type)
{
    return type == VIRTIO_NET_HDR_GSO_TCPV4 ||
           type == VIRTIO_NET_HDR_GSO_TCPV6 ||
           type == VSW_VIRTIO_NET_HDR_GSO_UDP_L4;
}

int
vsw_gso_segment(const uint8_t *frame, size_t len,
                const struct virtio_net_hdr *vnet, struct vsw_gso_out *out)
{
    uint8_t type = vnet->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
    uint16_t mss = vnet->gso_size;
    struct gso_layout lay;
    size_t payload, n_segs, pos, ofs, i;
    int error;

    out->n = 0;
    if (vnet->gso_type == VIRTIO_NET_HDR_GSO_NONE) {
        return gso_pass_through(frame, len, vnet, out);
    }
    if (type == VIRTIO_NET_HDR_GSO_UDP) {
        return -EOPNOTSUPP;
    }
    if (!gso_type_is_segmented(type) ||
        (vnet->gso_type & VIRTIO_NET_HDR_GSO_ECN &&
         type == VSW_VIRTIO_NET_HDR_GSO_UDP_L4) ||
        !mss || vnet->hdr_len > len) {
        return -EINVAL;
    }
    error = gso_locate(frame, len, vnet, type, &lay);
    if (error) {
        return error;
    }

    payload = len - lay.hdr_len;
    n_segs = payload > mss ? (payload + mss - 1) / mss : 1;
    if (n_segs > VSW_GSO_MAX_SEGS || lay.hdr_len > VSW_GSO_MAX_HDR_LEN) {
        return -EMSGSIZE;
    }
    if (out->buf_size < payload + n_segs * lay.hdr_len) {
        return -ENOSPC;
    }

    for (i = 0, pos = 0, ofs = 0; i < n_segs; i++) {
        size_t piece = payload - pos < mss ? payload - pos : mss;
        size_t seg_len = lay.hdr_len + piece;
        uint8_t *seg = out->buf + ofs;

        memcpy(seg, frame, lay.hdr_len);
        memcpy(seg + lay.hdr_len, frame + lay.hdr_len + pos, piece);
        gso_fix_segment(seg, seg_len, &lay, i, n_segs, mss);
        out->seg[i] = (struct vsw_gso_seg){(uint32_t)ofs, (uint32_t)seg_len};
        pos += piece;
        ofs += seg_len;
    }
    out->n = n_segs;
    return 0;
}

/* Length of the headers of GSO packet 'frame' of type 'type' as its
 * virtio-net header and L4 header tell, or 0 if they do not say. */
static size_t
gso_wire_hdr_len(const uint8_t *frame, size_t len,
                 const struct virtio_net_hdr *vnet, uint8_t type)
{
    size_t l4 = vnet->csum_start;
    struct vsw_flow_key key;

    if (!(vnet->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
        /* Rare (Linux always asks for the checksum with GSO): the parse
         * costs more but keeps the count exact. */
        vsw_flow_extract(frame, len, &key);
        return key.l7_ofs;
    }
    if (type == VSW_VIRTIO_NET_HDR_GSO_UDP_L4) {
        return l4 + UDP_HLEN <= len ? l4 + UDP_HLEN : 0;
    }
    if (l4 + TCP_DOFF < len) {
        size_t doff = (size_t)(frame[l4 + TCP_DOFF] >> 4) * 4;

        return doff >= TCP_HLEN && l4 + doff <= len ? l4 + doff : 0;
    }
    return 0;
}

void
vsw_gso_wire_size(const uint8_t *frame, size_t len,
                  const struct virtio_net_hdr *vnet, uint32_t *packets,
                  uint64_t *bytes)
{
    uint8_t type = vnet->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
    uint16_t mss = vnet->gso_size;
    size_t hdr, payload, n;

    *packets = 1;
    *bytes = len;
    if (!gso_type_is_segmented(type) || !mss || len > UINT32_MAX) {
        return;
    }
    hdr = gso_wire_hdr_len(frame, len, vnet, type);
    if (!hdr || len - hdr <= mss) {
        return;
    }
    payload = len - hdr;
    n = (payload + mss - 1) / mss;
    *packets = (uint32_t)n;
    *bytes = len + (uint64_t)(n - 1) * hdr;
}

struct vsw_gso_out *
vsw_gso_out_create(void)
{
    struct vsw_gso_out *out = calloc(1, sizeof *out);

    if (!out) {
        return NULL;
    }
    out->buf = malloc(VSW_GSO_BUF_SIZE);
    if (!out->buf) {
        free(out);
        return NULL;
    }
    out->buf_size = VSW_GSO_BUF_SIZE;
    return out;
}

void
vsw_gso_out_destroy(struct vsw_gso_out *out)
{
    if (out) {
        free(out->buf);
        free(out);
    }
}
