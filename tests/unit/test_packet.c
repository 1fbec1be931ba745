/*
 * Unit tests of the transmit views of a packet (datapath/core/packet.c):
 * vsw_tx_item_flatten() must lay out exactly the bytes vsw_tx_item_iov()
 * describes, for every way a frame leaves (as it is, tagged, untagged,
 * as received), and give the packet back unchanged afterwards, since the
 * same packet goes on to its other destinations.
 */
#include "packet.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* A packet holding a 60-byte frame: MACs, an 802.1Q tag of VLAN 7 if
 * 'tagged' (then 'ingress_tag_len' 4), IPv4 ethertype, a counting
 * payload; and a virtio-net header asking for a checksum. */
static struct vsw_packet *
make_packet(bool tagged)
{
    struct vsw_packet *pkt = vsw_packet_create();
    uint8_t *p;

    ck_assert_ptr_nonnull(pkt);
    p = pkt->data;
    for (int i = 0; i < 12; i++) {
        p[i] = (uint8_t)(0xa0 + i);
    }
    pkt->len = 12;
    if (tagged) {
        memcpy(p + pkt->len, (uint8_t[]){0x81, 0x00, 0x00, 0x07}, 4);
        pkt->len += 4;
        pkt->ingress_tag_len = 4;
    }
    p[pkt->len++] = 0x08;
    p[pkt->len++] = 0x00;
    while (pkt->len < 60) {
        p[pkt->len] = (uint8_t)pkt->len;
        pkt->len++;
    }
    pkt->vnet.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    pkt->vnet.csum_start = (uint16_t)(pkt->len - 20);
    pkt->vnet.csum_offset = 6;
    return pkt;
}

/* The bytes vsw_tx_item_iov() describes, joined into 'out'.  Returns
 * their number. */
static size_t
iov_bytes(const struct vsw_tx_item *item, uint8_t *out)
{
    struct virtio_net_hdr hdr;
    struct iovec iov[VSW_TX_IOV_MAX];
    uint8_t tag[4];
    int n = vsw_tx_item_iov(item, &hdr, tag, iov);
    size_t len = 0;

    for (int i = 0; i < n; i++) {
        memcpy(out + len, iov[i].iov_base, iov[i].iov_len);
        len += iov[i].iov_len;
    }
    return len;
}

/* Flattens 'item', with and without the virtio-net header, and checks
 * the result against the gather list, then that unflattening restores
 * the whole buffer. */
static void
check_flatten(const struct vsw_tx_item *item)
{
    struct vsw_packet *pkt = item->pkt;
    size_t size = pkt->buf_size;
    uint8_t *before = malloc(size);
    uint8_t want[256];
    size_t want_len = iov_bytes(item, want);
    size_t hdr = sizeof(struct virtio_net_hdr);

    ck_assert_ptr_nonnull(before);
    memcpy(before, pkt->buf, size);
    for (int vnet = 1; vnet >= 0; vnet--) {
        size_t skip = vnet ? 0 : hdr;
        struct vsw_tx_flat flat;

        ck_assert(vsw_tx_item_flatten(item, vnet, &flat));
        ck_assert_uint_eq(flat.len, want_len - skip);
        ck_assert_uint_eq(flat.len, (vnet ? hdr : 0) + vsw_tx_item_len(item));
        ck_assert_mem_eq(flat.start, want + skip, want_len - skip);
        ck_assert(flat.start >= pkt->buf);
        ck_assert(flat.start + flat.len <= pkt->buf + size);
        vsw_tx_item_unflatten(&flat);
        ck_assert_mem_eq(pkt->buf, before, size);
    }
    free(before);
}

START_TEST(test_flatten_untouched_frame)
{
    struct vsw_packet *pkt = make_packet(false);

    check_flatten(&(struct vsw_tx_item){.pkt = pkt});
    vsw_packet_destroy(pkt);
}
END_TEST

START_TEST(test_flatten_pushes_a_tag)
{
    struct vsw_packet *pkt = make_packet(false);

    check_flatten(
        &(struct vsw_tx_item){.pkt = pkt, .push_tag = 1, .tci = 0x2064});
    vsw_packet_destroy(pkt);
}
END_TEST

START_TEST(test_flatten_removes_the_ingress_tag)
{
    struct vsw_packet *pkt = make_packet(true);

    check_flatten(&(struct vsw_tx_item){.pkt = pkt});
    /* and replaces it with another */
    check_flatten(
        &(struct vsw_tx_item){.pkt = pkt, .push_tag = 1, .tci = 0x0009});
    vsw_packet_destroy(pkt);
}
END_TEST

START_TEST(test_flatten_as_received)
{
    struct vsw_packet *pkt = make_packet(true);

    check_flatten(&(struct vsw_tx_item){.pkt = pkt, .as_received = 1});
    vsw_packet_destroy(pkt);
}
END_TEST

START_TEST(test_flatten_needs_headroom_of_its_own)
{
    struct vsw_packet *pkt = make_packet(false);
    struct vsw_packet view = *pkt;
    uint8_t elsewhere[128];
    struct vsw_tx_flat flat;

    /* No room before the frame. */
    memmove(pkt->buf, pkt->data, pkt->len);
    pkt->data = pkt->buf;
    ck_assert(
        !vsw_tx_item_flatten(&(struct vsw_tx_item){.pkt = pkt}, true, &flat));
    /* A view whose frame is not in the buffer it names. */
    memcpy(elsewhere + 64, pkt->data, 60);
    view.data = elsewhere + 64;
    ck_assert(!vsw_tx_item_flatten(&(struct vsw_tx_item){.pkt = &view}, true,
                                   &flat));
    /* A borrowed buffer. */
    view.data = pkt->buf + VSW_PACKET_HEADROOM;
    view.buf_size = 0;
    ck_assert(!vsw_tx_item_flatten(&(struct vsw_tx_item){.pkt = &view}, true,
                                   &flat));
    vsw_packet_destroy(pkt);
}
END_TEST

int
main(void)
{
    Suite *suite = suite_create("packet");
    TCase *tc = tcase_create("tx views");
    SRunner *runner;
    int failed;

    tcase_add_test(tc, test_flatten_untouched_frame);
    tcase_add_test(tc, test_flatten_pushes_a_tag);
    tcase_add_test(tc, test_flatten_removes_the_ingress_tag);
    tcase_add_test(tc, test_flatten_as_received);
    tcase_add_test(tc, test_flatten_needs_headroom_of_its_own);
    suite_add_tcase(suite, tc);
    runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
