/*
 * Packet buffers and batches.
 *
 * A packet is received into a buffer owned by the worker that read it and
 * stays in that buffer, unmodified, until the batch is finished: flooding
 * and VLAN retagging never copy the frame, they describe the outgoing
 * frame as pieces (see struct vsw_tx_item) that the port writes with one
 * gather call.  Buffers are sized for a 64 KB segment so that offloaded
 * TCP segments (virtio-net GSO) fit once the TAP offloads are switched on.
 */
#ifndef VSW_PACKET_H
#define VSW_PACKET_H 1

#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "flow.h"

#define VSW_BATCH_SIZE 32

/* Bytes before the frame, so a header (virtio-net header, a VLAN tag) can
 * be prepended in place if a later stage needs to. */
#define VSW_PACKET_HEADROOM 128
/* Largest frame a buffer holds: a 64 KB GSO segment plus its headers. */
#define VSW_PACKET_MAX_FRAME (65535 + 64)

struct vsw_packet {
    uint8_t *data;              /* frame start (Ethernet header) */
    uint32_t len;               /* frame length */
    uint32_t in_port_id;        /* port it arrived on */
    struct virtio_net_hdr vnet; /* offload metadata as received; all zero
                                   when the port has no offloads */
    struct vsw_flow_key key;    /* parsed once, by the "parse" stage */
    uint16_t vlan;              /* VLAN the frame belongs to inside the switch;
                                   0 = the untagged domain */
    uint8_t pcp;                /* 802.1p priority carried with the frame */
    uint16_t tag_vid;           /* VLAN id the frame carries on trunks
                                   (a private VLAN's secondary) */
    uint8_t pvlan_role;         /* enum vsw_pvlan_role */
    uint8_t ingress_tag_len;    /* bytes of the ingress VLAN tag at offset 12
                                   that egress leaves out (0 or 4) */
    uint32_t out_port_id;       /* the one destination the "forward" stage
                                   chose, 0 when it flooded */
    uint8_t truncated;          /* the kernel had more than the buffer held:
                                   dropped as oversize */
    uint8_t no_cache;           /* a stage decided from more than the flow
                                   key (payload, state, counters): the
                                   decision must not be cached */
    uint8_t acl_in_judged;      /* the destination's "acl-in" has judged it
                                   already, at the flow cache (pipeline.c):
                                   'acl_in_verdict' holds the verdict */
    int16_t acl_in_verdict;     /* VSW_STAGE_CONTINUE or a drop reason */
    uint8_t injected;           /* an extension injected it */
    uint8_t mirror_forwarded;   /* mirror.c: queued for some port */
    uint8_t rx_member;          /* team ports: the member it arrived on
                                   (netdev-team.c) */
    uint32_t mirror_has;        /* mirror.c: the mirror destinations that
                                   have the frame (or a copy), by bit */
    uint8_t *buf;               /* the buffer 'data' points into (owned by the
                                   worker's pool) */
    uint32_t buf_size;          /* bytes at 'buf' if vsw_packet_create()
                                   made it, 0 if 'buf' is borrowed: a frame
                                   whose 'data' lies inside may be
                                   flattened in place */
    uint32_t vni;               /* tenant network (VXLAN VNI) the frame
                                   belongs to, 0 = none: the input port's,
                                   or the VXLAN header's on decap */
    uint32_t tun_src;           /* from a tunnel: the remote VTEP's IPv4
                                   address (network order), 0 otherwise */
};

/* Up to VSW_BATCH_SIZE packets moving through the pipeline together. */
struct vsw_packet_batch {
    int count;                               /* packets in 'pkts' */
    struct vsw_packet *pkts[VSW_BATCH_SIZE]; /* borrowed */
};

/* One frame to transmit: 'pkt' with its ingress tag left out and, if
 * 'push_tag', an 802.1Q tag carrying 'tci' inserted after the MACs; or,
 * with 'as_received', the frame exactly as it arrived (a mirror copy of
 * what a source sent). */
struct vsw_tx_item {
    struct vsw_packet *pkt; /* borrowed for the duration of the tx call */
    uint16_t tci;           /* tag to insert (PCP and VID) */
    uint8_t push_tag;       /* 1 to insert an 802.1Q tag, 0 for none */
    uint8_t as_received;    /* 1: keep the ingress tag, push none */
};

/* Allocates a packet with a buffer of VSW_PACKET_HEADROOM +
 * VSW_PACKET_MAX_FRAME bytes.  Returns NULL on allocation failure; free
 * with vsw_packet_destroy(). */
struct vsw_packet *vsw_packet_create(void);
void vsw_packet_destroy(struct vsw_packet *pkt);

/* Points 'pkt' at an empty frame at the start of its buffer's usable
 * area, ready for a read of up to VSW_PACKET_MAX_FRAME bytes. */
void vsw_packet_reset(struct vsw_packet *pkt);

/* Bytes of the frame as it will leave with 'item'. */
uint32_t vsw_tx_item_len(const struct vsw_tx_item *item);

/* Gather-list entries vsw_tx_item_iov() may use. */
#define VSW_TX_IOV_MAX 4

/* Describes the frame as it leaves with 'item' for one writev/sendmsg:
 * 'hdr' (filled here: the packet's virtio-net header, its checksum offset
 * moved with the tag change), the MACs, the new tag (written to 'tag') if
 * any, and the rest of the frame after its ingress tag.  Returns the
 * number of entries of 'iov' used. */
int vsw_tx_item_iov(const struct vsw_tx_item *item, struct virtio_net_hdr *hdr,
                    uint8_t tag[4], struct iovec iov[VSW_TX_IOV_MAX]);

/* A frame laid out in one piece for a single write(): see
 * vsw_tx_item_flatten(). */
struct vsw_tx_flat {
    uint8_t *start;     /* virtio-net header, then the frame */
    uint32_t len;       /* bytes from 'start' */
    uint8_t *saved_at;  /* where 'saved' came from (restored afterwards) */
    uint32_t saved_len; /* bytes in 'saved' */
    uint8_t saved[sizeof(struct virtio_net_hdr) + 2 * 6 + 4];
};

/* Lays out the frame as it leaves with 'item', preceded by its
 * virtio-net header if 'vnet', contiguously in the packet's own buffer: the
 * header, MACs and new tag are written just before the rest of the frame
 * (into the headroom, or over the old MACs and ingress tag), so a TAP
 * takes it in one write() instead of a writev() of three or four pieces,
 * which costs the kernel more than the copy of the pieces here.  The
 * bytes overwritten are kept in 'flat' and vsw_tx_item_unflatten() puts
 * them back, so the packet's other destinations see it unchanged.
 * Returns false, changing nothing, if the buffer has too little
 * headroom; the caller then uses vsw_tx_item_iov(). */
bool vsw_tx_item_flatten(const struct vsw_tx_item *item, bool vnet,
                         struct vsw_tx_flat *flat);

/* Undoes vsw_tx_item_flatten() once the frame has been written. */
void vsw_tx_item_unflatten(const struct vsw_tx_flat *flat);

/* Copies the frame as it leaves with 'item' (the same frame
 * vsw_tx_item_iov() describes) into 'out', at most 'max' bytes of it,
 * and its virtio-net header into '*hdr'.  For whoever keeps a frame past
 * its batch (shaper and scheduler queues) or needs it in one piece (a
 * capture filter).  Returns the bytes copied. */
uint32_t vsw_tx_item_copy(const struct vsw_tx_item *item,
                          struct virtio_net_hdr *hdr, uint8_t *out,
                          uint32_t max);

#endif /* VSW_PACKET_H */
