/*
 * Software segmentation (GSO) and checksum completion.
 *
 * A frame received with a virtio-net header may be a GSO packet (one TCP
 * or UDP packet of up to 64 KB that stands for many wire frames) and may
 * be partially checksummed (VIRTIO_NET_HDR_F_NEEDS_CSUM: the L4 checksum
 * field holds only the pseudo-header sum).  Such frames cross the switch
 * untouched while their destination takes them; before one leaves through
 * a port that cannot (no virtio-net header, a capture, a mirror, an
 * extension that asks for plain frames), this module turns it into the
 * wire frames the kernel would have produced: vsw_gso_segment() for GSO
 * packets, vsw_csum_complete() for a lone partially checksummed frame.
 * vsw_gso_wire_size() tells the counters what a packet amounts to on the
 * wire without segmenting it.
 *
 * Threads: no function keeps state outside its arguments, so any number of
 * workers call them at once; a struct vsw_gso_out belongs to one worker at
 * a time.  Nothing reads or writes outside the frame and buffer lengths
 * passed in, whatever the frame or virtio-net header holds.
 *
 * The virtio-net header fields are read in host byte order, as the ports
 * deliver them (packet.h).
 */
#ifndef VSW_GSO_H
#define VSW_GSO_H 1

#include <linux/virtio_net.h>
#include <stddef.h>
#include <stdint.h>

#include "packet.h"

/* UDP segmentation offload (USO), gso_type 5.  Older uapi headers, such as
 * those of the build hosts, lack it. */
#define VSW_VIRTIO_NET_HDR_GSO_UDP_L4 5

/* Smallest MSS a Linux sender uses (the default of the tcp_min_snd_mss
 * sysctl): the segment limit below lets a 64 KB packet go out at it. */
#define VSW_GSO_MIN_MSS 48

/* Most segments vsw_gso_segment() produces for one packet; a packet that
 * needs more (a gso_size below VSW_GSO_MIN_MSS on a large packet) is
 * refused with -EMSGSIZE. */
#define VSW_GSO_MAX_SEGS                                                      \
    ((VSW_PACKET_MAX_FRAME + VSW_GSO_MIN_MSS - 1) / VSW_GSO_MIN_MSS)

/* Longest headers (Ethernet, VLAN tags, IP with options or extension
 * headers, TCP with options) a segmented packet may have; every segment
 * repeats them, so they bound the output buffer.  Longer: -EMSGSIZE. */
#define VSW_GSO_MAX_HDR_LEN 256

/* An output buffer this large holds the segments of any packet of up to
 * VSW_PACKET_MAX_FRAME bytes that vsw_gso_segment() accepts. */
#define VSW_GSO_BUF_SIZE                                                      \
    (VSW_PACKET_MAX_FRAME + (VSW_GSO_MAX_SEGS - 1) * VSW_GSO_MAX_HDR_LEN)

/* One output frame: 'len' bytes at 'buf' + 'offset'. */
struct vsw_gso_seg {
    uint32_t offset; /* start of the frame in the output buffer */
    uint32_t len;    /* frame length, Ethernet header included */
};

/*
 * Where vsw_gso_segment() writes the wire frames of one packet: complete
 * Ethernet frames, one after the other in 'buf', each described by an
 * entry of 'seg' so that a transmit routine can point one iovec (or one
 * message of a sendmmsg) at each without copying them again.  The frames
 * carry full checksums and need no virtio-net header (or an all-zero one).
 *
 * Invariant after a successful call: 'n' >= 1 and the frames lie within
 * the first 'buf_size' bytes of 'buf', in order, without overlap.  They
 * stay valid until the next call with the same 'out'.
 */
struct vsw_gso_out {
    uint8_t *buf;    /* output buffer: owned by the struct when it comes
                        from vsw_gso_out_create(), else the caller's */
    size_t buf_size; /* bytes at 'buf'; VSW_GSO_BUF_SIZE always suffices */
    size_t n;        /* frames in 'seg' after the last call, 0 on error */
    struct vsw_gso_seg seg[VSW_GSO_MAX_SEGS]; /* the frames, in order */
};

/* Allocates an output area (about 11 KB) with a buffer of
 * VSW_GSO_BUF_SIZE bytes, for one worker to reuse for every packet.
 * Returns NULL on allocation failure; free with vsw_gso_out_destroy().  A
 * caller may instead provide its own struct and buffer. */
struct vsw_gso_out *vsw_gso_out_create(void);

/* Frees 'out' and its buffer; 'out' must come from vsw_gso_out_create().
 * NULL is allowed. */
void vsw_gso_out_destroy(struct vsw_gso_out *out);

/*
 * Writes the wire frames of the 'len'-byte frame at 'frame', received with
 * virtio-net header 'vnet', to 'out' (see struct vsw_gso_out).  'frame'
 * and 'vnet' are only read and stay the caller's.
 *
 * GSO packets (gso_type VIRTIO_NET_HDR_GSO_TCPV4 or _TCPV6, either with
 * VIRTIO_NET_HDR_GSO_ECN, or VSW_VIRTIO_NET_HDR_GSO_UDP_L4), behind up to
 * two VLAN tags, with IPv4 options or IPv6 Hop-by-Hop, Destination
 * Options and finished (Segments Left 0) Routing headers, become frames
 * of the headers plus at most 'gso_size' bytes of payload, as Linux
 * segments them: IPv4 total length and header checksum rewritten and the
 * ID incremented per frame from the original (DF and options copied);
 * IPv6 payload length rewritten; TCP sequence numbers advanced, FIN and
 * PSH kept on the last frame only and CWR on the first only; UDP length
 * rewritten.  The L4 checksum of every frame is computed in full from the
 * IP addresses, whatever the packet's checksum field held.  A GSO packet
 * with no more than 'gso_size' bytes of payload gives one frame.
 *
 * Anything else passes through: the frame is copied as the only segment
 * and, if VIRTIO_NET_HDR_F_NEEDS_CSUM is set, its checksum completed as
 * vsw_csum_complete() does.
 *
 * The header lengths are found by parsing the frame (vsw_flow_extract());
 * 'hdr_len' is only a hint (Linux sets it to more than the headers at
 * times) and must not exceed 'len'.  With NEEDS_CSUM, 'csum_start' and
 * 'csum_offset' must designate the L4 checksum field.  The IP length
 * fields must match 'len' exactly.
 *
 * Returns 0, or a negative errno with 'out->n' = 0:
 *   -EINVAL      malformed: 'gso_size' 0, lengths or offsets that do not
 *                match the frame, headers missing, cut short or not of the
 *                type 'gso_type' names, an IP fragment, unknown gso_type
 *                or ECN on a non-TCP type;
 *   -EOPNOTSUPP  well formed but not segmented here: UFO
 *                (VIRTIO_NET_HDR_GSO_UDP), IPv6 extension headers other
 *                than those above (AH, Mobility, ...), a Routing header
 *                still to be processed (the pseudo-header would need its
 *                final destination);
 *   -EMSGSIZE    more than VSW_GSO_MAX_SEGS frames or headers longer than
 *                VSW_GSO_MAX_HDR_LEN;
 *   -ENOSPC      'out->buf_size' too small.
 */
int vsw_gso_segment(const uint8_t *frame, size_t len,
                    const struct virtio_net_hdr *vnet,
                    struct vsw_gso_out *out);

/*
 * Counts what the 'len'-byte frame at 'frame' with virtio-net header
 * 'vnet' amounts to on the wire: stores the number of frames in
 * '*packets' and their total length in '*bytes'.  1 and 'len' for a
 * frame that is not a TCP or UDP GSO packet.
 *
 * Cheap enough for every packet: with NEEDS_CSUM set (always so for the
 * GSO packets Linux sends) it reads only the L4 header length at
 * 'csum_start'; otherwise it parses the frame.  Exact for every packet
 * vsw_gso_segment() accepts; for one it refuses, a bounded estimate.
 */
void vsw_gso_wire_size(const uint8_t *frame, size_t len,
                       const struct virtio_net_hdr *vnet, uint32_t *packets,
                       uint64_t *bytes);

/*
 * If 'vnet' has VIRTIO_NET_HDR_F_NEEDS_CSUM, completes the checksum of the
 * 'len'-byte frame at 'frame' in place: the ones' complement sum of
 * [csum_start, len), whose checksum field holds the pseudo-header sum, is
 * written at csum_start + csum_offset (0 becomes 0xffff, which UDP needs
 * and TCP accepts), and the flag is cleared in '*vnet'.  Returns 0, or
 * -EINVAL (nothing written) if the field does not lie within the frame.
 * Other frames are left alone (returns 0).
 *
 * For a GSO packet this sums the packet as one frame, which is only right
 * if it leaves as one; vsw_gso_segment() completes each segment itself.
 */
int vsw_csum_complete(uint8_t *frame, size_t len, struct virtio_net_hdr *vnet);

/*
 * Internet checksum (RFC 1071) arithmetic.
 *
 * A "partial sum" is an unfolded 32-bit ones' complement sum of 16-bit
 * words as they lie in memory, in host order: the sum is independent of
 * byte order (RFC 1071 §2(B)), so storing the folded result with memcpy
 * puts the right bytes on the wire on any host.  Partial sums of blocks
 * that start at even offsets of the checksummed data add with plain
 * ones' complement addition (vsw_csum_add()).
 */

/* Returns 'sum' plus the sum of the 'len' bytes at 'data' (no alignment
 * needed; an odd last byte counts as followed by a zero byte). */
uint32_t vsw_csum_partial(const void *data, size_t len, uint32_t sum);

/* Ones' complement sum of two partial sums. */
uint32_t vsw_csum_add(uint32_t a, uint32_t b);

/* Folds partial sum 'sum' to 16 bits and complements it: the value to
 * store (with memcpy) in a checksum field. */
uint16_t vsw_csum_fold(uint32_t sum);

/* Partial sum of the TCP/UDP pseudo-header of IPv4 addresses 'src' and
 * 'dst' (network byte order), protocol 'proto' and L4 length 'l4_len'. */
uint32_t vsw_csum_pseudo_ipv4(const uint8_t src[4], const uint8_t dst[4],
                              uint8_t proto, uint16_t l4_len);

/* The same for IPv6 (RFC 8200 §8.1). */
uint32_t vsw_csum_pseudo_ipv6(const uint8_t src[16], const uint8_t dst[16],
                              uint8_t proto, uint32_t l4_len);

#endif /* VSW_GSO_H */
