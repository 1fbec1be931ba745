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
