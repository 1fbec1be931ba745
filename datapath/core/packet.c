#include "packet.h"

#include <stdlib.h>
#include <string.h>

struct vsw_packet *
vsw_packet_create(void)
{
    struct vsw_packet *pkt = calloc(1, sizeof *pkt);

    if (!pkt) {
        return NULL;
    }
    pkt->buf = malloc(VSW_PACKET_HEADROOM + VSW_PACKET_MAX_FRAME);
    if (!pkt->buf) {
        free(pkt);
        return NULL;
    }
    pkt->buf_size = VSW_PACKET_HEADROOM + VSW_PACKET_MAX_FRAME;
    vsw_packet_reset(pkt);
    return pkt;
}

void
vsw_packet_destroy(struct vsw_packet *pkt)
{
    if (pkt) {
        free(pkt->buf);
        free(pkt);
    }
}

void
vsw_packet_reset(struct vsw_packet *pkt)
{
    pkt->data = pkt->buf + VSW_PACKET_HEADROOM;
    pkt->len = 0;
    pkt->ingress_tag_len = 0;
    pkt->truncated = 0;
    pkt->out_port_id = 0;
    pkt->no_cache = 0;
    pkt->vlan = 0;
    pkt->pcp = 0;
    memset(&pkt->vnet, 0, sizeof pkt->vnet);
}

uint32_t
vsw_tx_item_len(const struct vsw_tx_item *item)
{
    if (item->as_received) {
        return item->pkt->len;
    }
    return item->pkt->len - item->pkt->ingress_tag_len +
           (item->push_tag ? 4 : 0);
}

int
vsw_tx_item_iov(const struct vsw_tx_item *item, struct virtio_net_hdr *hdr,
                uint8_t tag[4], struct iovec iov[VSW_TX_IOV_MAX])
{
    const struct vsw_packet *pkt = item->pkt;
    uint32_t rest = 2 * VSW_ETH_ALEN + pkt->ingress_tag_len;
    int n = 0;

    *hdr = pkt->vnet;
    if (item->as_received) {
        iov[n++] = (struct iovec){hdr, sizeof *hdr};
        iov[n++] = (struct iovec){pkt->data, pkt->len};
        return n;
    }
    if (hdr->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
        /* Checksum offsets count from the frame start, which moves with
         * the tags. */
        hdr->csum_start =
            hdr->csum_start - pkt->ingress_tag_len + (item->push_tag ? 4 : 0);
    }
    iov[n++] = (struct iovec){hdr, sizeof *hdr};
    iov[n++] = (struct iovec){pkt->data, 2 * VSW_ETH_ALEN};
    if (item->push_tag) {
        tag[0] = VSW_ETH_TYPE_VLAN >> 8;
        tag[1] = VSW_ETH_TYPE_VLAN & 0xff;
        tag[2] = item->tci >> 8;
        tag[3] = item->tci & 0xff;
        iov[n++] = (struct iovec){tag, 4};
    }
    iov[n++] = (struct iovec){pkt->data + rest, pkt->len - rest};
    return n;
}

bool
vsw_tx_item_flatten(const struct vsw_tx_item *item, bool vnet,
                    struct vsw_tx_flat *flat)
{
    const struct vsw_packet *pkt = item->pkt;
    struct virtio_net_hdr hdr;
    struct iovec iov[VSW_TX_IOV_MAX];
    uint8_t tag[4];
    uint8_t prefix[sizeof flat->saved];
    int n = vsw_tx_item_iov(item, &hdr, tag, iov);
    const struct iovec *rest = &iov[n - 1];
    uint32_t prefix_len = 0;

    /* The pieces before the rest of the frame go to a scratch copy
     * first: the MACs may overlap where they are going. */
    for (int i = vnet ? 0 : 1; i < n - 1; i++) {
        memcpy(prefix + prefix_len, iov[i].iov_base, iov[i].iov_len);
        prefix_len += (uint32_t)iov[i].iov_len;
    }
    /* Only inside a buffer of our own: a packet that is a view of
     * someone else's frame (an injected one, a GSO segment, a team's
     * rewritten copy) may have 'data' elsewhere. */
    uintptr_t buf = (uintptr_t)pkt->buf;
    uintptr_t at = (uintptr_t)rest->iov_base;

    if (!pkt->buf_size || at < buf + prefix_len || at > buf + pkt->buf_size) {
        return false;
    }
    flat->start = (uint8_t *)rest->iov_base - prefix_len;
    flat->len = prefix_len + (uint32_t)rest->iov_len;
    flat->saved_at = flat->start;
    flat->saved_len = prefix_len;
    memcpy(flat->saved, flat->start, prefix_len);
    memcpy(flat->start, prefix, prefix_len);
    return true;
}

void
vsw_tx_item_unflatten(const struct vsw_tx_flat *flat)
{
    memcpy(flat->saved_at, flat->saved, flat->saved_len);
}

uint32_t
vsw_tx_item_copy(const struct vsw_tx_item *item, struct virtio_net_hdr *hdr,
                 uint8_t *out, uint32_t max)
{
    struct iovec iov[VSW_TX_IOV_MAX];
    uint8_t tag[4];
    uint32_t len = 0;
    int n = vsw_tx_item_iov(item, hdr, tag, iov);

    /* iov[0] is the virtio-net header, already in '*hdr'. */
    for (int i = 1; i < n && len < max; i++) {
        size_t take = iov[i].iov_len < max - len ? iov[i].iov_len : max - len;

        memcpy(out + len, iov[i].iov_base, take);
        len += (uint32_t)take;
    }
    return len;
}
