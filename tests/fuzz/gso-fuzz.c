/*
 * libFuzzer harness for software segmentation and checksum completion
 * (datapath/netdev/gso.c): a hostile VM controls the whole virtio-net
 * header (gso_type, gso_size, hdr_len, csum_start, csum_offset) and the
 * frame behind it.  Build and run with tests/fuzz/build.sh and run.sh.
 *
 * Input: 1 control byte, the 10-byte virtio-net header (host order, as
 * the ports deliver it), 2 bytes of output buffer size, then the frame.
 * The control byte's low bits may fix up the IP length fields to match
 * the frame and point csum_start/csum_offset at the L4 checksum, so that
 * a good share of inputs is a GSO packet vsw_gso_segment() accepts and
 * its segmentation, not only its refusals, is fuzzed.
 *
 * Oracles besides memory safety (frame and output buffer are heap blocks
 * of exactly their size):
 *   - on success the segments lie within the output buffer, in order,
 *     without overlap, and there are at most VSW_GSO_MAX_SEGS;
 *   - a GSO packet's segments carry, together, exactly the input's
 *     payload, each at most gso_size of it behind the input's headers,
 *     and each has a correct L4 checksum (computed here independently);
 *   - on failure, out->n is 0;
 *   - vsw_csum_complete() never writes outside the frame and, when it
 *     succeeds, leaves a frame whose checksummed range sums to zero.
 *
 * fuzz-options: -max_len=66000
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "gso.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CTRL_FIX_LENGTHS 0x01 /* IP length fields made to match the frame */
#define CTRL_FIX_CSUM    0x02 /* csum_start/offset at the L4 checksum */
#define CTRL_SMALL_BUF   0x04 /* output buffer of the size the input says */
#define CTRL_GSO_TYPE    0x08 /* gso_type from the known ones */

#define PREFIX_LEN (1 + 10 + 2)

static uint16_t
get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static void
put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint16_t
be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* The plainest Internet checksum sum: 16-bit big-endian words. */
static uint32_t
ref_sum(const uint8_t *p, size_t len, uint32_t sum)
{
    for (size_t i = 0; i + 1 < len; i += 2) {
        sum += be16(p + i);
    }
    if (len & 1) {
        sum += (uint32_t)p[len - 1] << 8;
    }
    return sum;
}

static uint16_t
ref_fold(uint32_t sum)
{
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t)sum;
}

/* True if the L4 checksum of the frame 'key' describes verifies. */
static bool
l4_checksum_ok(const uint8_t *frame, const struct vsw_flow_key *key)
{
    uint32_t l4_len = key->l3_end - key->l4_ofs;
    uint32_t sum = 0;

    if (vsw_flow_is_ipv4(key)) {
        sum = ref_sum(key->ip_src + 12, 4, sum);
        sum = ref_sum(key->ip_dst + 12, 4, sum);
    } else {
        sum = ref_sum(key->ip_src, 16, sum);
        sum = ref_sum(key->ip_dst, 16, sum);
    }
    sum += key->ip_proto;
    sum += l4_len >> 16;
    sum += l4_len & 0xffff;
    sum = ref_sum(frame + key->l4_ofs, l4_len, sum);
    return ref_fold(sum) == 0xffff;
}

/* Makes the IP length fields of 'frame' match its length, as a VM that
 * follows the rules would send them. */
static void
fix_lengths(uint8_t *frame, size_t len)
{
    struct vsw_flow_key key;

    if (vsw_flow_extract(frame, len, &key) || !key.l3_ofs ||
        len - key.l3_ofs > 65535) {
        return;
    }
    if (vsw_flow_is_ipv4(&key) && len >= key.l3_ofs + 20u) {
        put_be16(frame + key.l3_ofs + 2, (uint16_t)(len - key.l3_ofs));
    } else if (vsw_flow_is_ipv6(&key) && len >= key.l3_ofs + 40u) {
        put_be16(frame + key.l3_ofs + 4, (uint16_t)(len - key.l3_ofs - 40));
    }
}

static void
fix_csum(const uint8_t *frame, size_t len, struct virtio_net_hdr *vnet)
{
    struct vsw_flow_key key;

    if (vsw_flow_extract(frame, len, &key) || !key.l4_ofs) {
        return;
    }
    vnet->flags |= VIRTIO_NET_HDR_F_NEEDS_CSUM;
    vnet->csum_start = key.l4_ofs;
    vnet->csum_offset = key.ip_proto == 6 ? 16 : 6;
}

static void
check_segments(const uint8_t *frame, size_t len,
               const struct virtio_net_hdr *vnet,
               const struct vsw_gso_out *out)
{
    uint8_t gso_type = vnet->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
    struct vsw_flow_key in_key;
    size_t end = 0, total = 0, hdr_len;

    if (out->n < 1 || out->n > VSW_GSO_MAX_SEGS) {
        abort();
    }
    for (size_t i = 0; i < out->n; i++) {
        const struct vsw_gso_seg *seg = &out->seg[i];

        if (seg->offset < end || seg->len > out->buf_size ||
            seg->offset > out->buf_size - seg->len) {
            abort(); /* outside the buffer, out of order or overlapping */
        }
        end = seg->offset + seg->len;
        total += seg->len;
    }
    if (gso_type == VIRTIO_NET_HDR_GSO_NONE) {
        if (out->n != 1 || out->seg[0].len != len) {
            abort(); /* a pass-through frame is copied whole */
        }
        return;
    }
    /* A segmented packet: the input's headers on every segment, and the
     * payloads add up to the input's. */
    if (vsw_flow_extract(frame, len, &in_key) || !in_key.l7_ofs) {
        abort(); /* accepted a packet without L4 headers */
    }
    hdr_len = in_key.l7_ofs;
    if (total != len + (out->n - 1) * hdr_len) {
        abort();
    }
    for (size_t i = 0; i < out->n; i++) {
        const uint8_t *seg_frame = out->buf + out->seg[i].offset;
        struct vsw_flow_key key;

        if (vsw_flow_extract(seg_frame, out->seg[i].len, &key) ||
            key.l7_ofs != hdr_len || key.l3_end != out->seg[i].len ||
            (out->n > 1 && out->seg[i].len - hdr_len > vnet->gso_size)) {
            abort();
        }
        if (!l4_checksum_ok(seg_frame, &key)) {
            abort();
        }
    }
}

static void
check_csum_complete(const uint8_t *data, size_t len,
                    const struct virtio_net_hdr *vnet_in)
{
    struct virtio_net_hdr vnet = *vnet_in;
    uint8_t *frame = malloc(len ? len : 1);

    if (!frame) {
        return;
    }
    memcpy(frame, data, len);
    if (vsw_csum_complete(frame, len, &vnet) == 0 &&
        (vnet_in->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
        /* The range from csum_start now sums to 0xffff once the pseudo-
         * header sum the field held is taken out: the field itself. */
        if (vnet.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
            abort(); /* the flag stays set */
        }
    }
    free(frame);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t gso_types[] = {
        VIRTIO_NET_HDR_GSO_NONE,       VIRTIO_NET_HDR_GSO_TCPV4,
        VIRTIO_NET_HDR_GSO_UDP,        VIRTIO_NET_HDR_GSO_TCPV6,
        VSW_VIRTIO_NET_HDR_GSO_UDP_L4,
    };
    struct virtio_net_hdr vnet;
    struct vsw_gso_out *out;
    uint8_t ctrl, *frame;
    size_t len;
    int error;

    if (size < PREFIX_LEN || size - PREFIX_LEN > VSW_PACKET_MAX_FRAME) {
        return 0;
    }
    ctrl = data[0];
    vnet.flags = data[1];
    vnet.gso_type = data[2];
    vnet.hdr_len = get16(data + 3);
    vnet.gso_size = get16(data + 5);
    vnet.csum_start = get16(data + 7);
    vnet.csum_offset = get16(data + 9);
    if (ctrl & CTRL_GSO_TYPE) {
        vnet.gso_type = (uint8_t)(gso_types[data[2] % 5] | (data[2] & 0x80));
    }
    len = size - PREFIX_LEN;
    frame = malloc(len ? len : 1);
    out = malloc(sizeof *out);
    if (!frame || !out) {
        free(frame);
        free(out);
        return 0;
    }
    memcpy(frame, data + PREFIX_LEN, len);
    if (ctrl & CTRL_FIX_LENGTHS) {
        fix_lengths(frame, len);
    }
    if (ctrl & CTRL_FIX_CSUM) {
        fix_csum(frame, len, &vnet);
    }
    if (vnet.hdr_len > len && (ctrl & CTRL_FIX_LENGTHS)) {
        vnet.hdr_len = (uint16_t)(vnet.hdr_len % (len + 1));
    }
    out->buf_size =
        ctrl & CTRL_SMALL_BUF ? get16(data + 11) : VSW_GSO_BUF_SIZE;
    out->buf = malloc(out->buf_size ? out->buf_size : 1);
    out->n = 12345;
    if (!out->buf) {
        free(frame);
        free(out);
        return 0;
    }

    error = vsw_gso_segment(frame, len, &vnet, out);
    if (error) {
        if (out->n != 0 || (error != -EINVAL && error != -EOPNOTSUPP &&
                            error != -EMSGSIZE && error != -ENOSPC)) {
            abort();
        }
        if (error == -ENOSPC && out->buf_size >= VSW_GSO_BUF_SIZE) {
            abort(); /* VSW_GSO_BUF_SIZE always suffices */
        }
    } else {
        check_segments(frame, len, &vnet, out);
    }

    {
        uint32_t packets = 0;
        uint64_t bytes = 0;

        vsw_gso_wire_size(frame, len, &vnet, &packets, &bytes);
        if (!error && vnet.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
            size_t total = 0;

            for (size_t i = 0; i < out->n; i++) {
                total += out->seg[i].len;
            }
            if (packets != out->n || bytes != total) {
                abort(); /* exact for every packet segmentation accepts */
            }
        }
    }
    check_csum_complete(frame, len, &vnet);

    free(out->buf);
    free(out);
    free(frame);
    return 0;
}
