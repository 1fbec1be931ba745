/*
 * libFuzzer harness for VXLAN decapsulation (datapath/tunnel/vxlan.c):
 * the first bytes of the input describe the tunnel (the VNIs its switch
 * serves, its remotes, whether it learns from unknown VTEPs, the
 * underlay MTU, the sender's address), the rest is one datagram as the
 * tunnel's UDP socket would deliver it, run through
 * vsw_vxlan_decap_batch() exactly as a worker runs it.
 *
 * Besides memory safety it checks what decapsulation promises: a
 * datagram is either dropped under exactly one vxlan-* reason or kept,
 * and a kept one had a valid header, a VNI the switch serves, a sender
 * that is a remote of that VNI (unless learning from unknown VTEPs), an
 * inner frame of at least an Ethernet header and at most the underlay's
 * limit; its data now points at that inner frame, and the learned map
 * then knows its source MAC behind the sender (unicast sources only).
 *
 * Build (clang with libFuzzer, from the top of the tree):
 *
 *   d=datapath; clang -g -O1 -std=gnu11 -D_GNU_SOURCE \
 *     -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
 *     -Wall -Werror -I$d/core -I$d/netdev -I$d/pipeline -I$d/policy \
 *     -I$d/forward -I$d/qos -I$d/team -I$d/tunnel -Iextensions/include \
 *     -Ilib tests/fuzz/vxlan-fuzz.c $d/tunnel/vxlan.c \
 *     -o build/fuzz/vxlan-fuzz
 *
 * The other functions vxlan.c calls (counting, the device, traces, the
 * gather lists of tx) are stubbed here: decapsulation needs none of them
 * but the drop counter and the device's learned map.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"
#include "trace.h"
#include "vxlan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- What decapsulation calls outside vxlan.c ---- */

static int n_drops;
static int last_drop;

void
vsw_pipeline_count_drop(struct vsw_port_stats *stats, int reason,
                        const struct vsw_packet *pkt)
{
    (void)stats;
    (void)pkt;
    n_drops++;
    last_drop = reason;
}

static struct vsw_netdev_vxlan dev;

struct vsw_netdev_vxlan *
vsw_netdev_vxlan_cast(struct vsw_netdev *netdev)
{
    return netdev ? &dev : NULL;
}

void
vsw_trace_step(struct vsw_trace *trace, const char *stage, const char *verdict,
               const char *fmt, ...)
{
    (void)trace;
    (void)stage;
    (void)verdict;
    (void)fmt;
}

void
vsw_trace_note(struct vsw_trace *trace, const char *fmt, ...)
{
    (void)trace;
    (void)fmt;
}

uint32_t
vsw_tx_item_len(const struct vsw_tx_item *item)
{
    return item->pkt->len;
}

int
vsw_tx_item_iov(const struct vsw_tx_item *item, struct virtio_net_hdr *hdr,
                uint8_t tag[4], struct iovec iov[VSW_TX_IOV_MAX])
{
    (void)item;
    (void)hdr;
    (void)tag;
    (void)iov;
    abort(); /* tx is not fuzzed here */
}

/* ---- The harness ---- */

/* Bytes of the input that describe the tunnel. */
#define HEAD 24

static bool
is_remote(const struct vsw_vxlan_remote *remotes, size_t n, uint32_t vni,
          uint32_t ip)
{
    for (size_t i = 0; i < n; i++) {
        if (remotes[i].vni == vni && remotes[i].ip == ip) {
            return true;
        }
    }
    return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t buf[VSW_PACKET_HEADROOM + VSW_PACKET_MAX_FRAME];
    struct vsw_vxlan_remote remotes[4];
    uint32_t vnis[3];
    struct vsw_vxlan_config cfg = {0};
    struct vsw_port_rt rt = {0};
    struct vsw_netdev netdev = {0};
    struct vsw_dp_port port = {0};
    struct vsw_packet pkt = {0};
    struct vsw_packet_batch batch = {.count = 1, .pkts = {&pkt}};
    struct vsw_pipeline *pl = calloc(1, sizeof *pl);
    uint32_t sender;
    uint32_t vni = 0;
    int header;

    if (size < HEAD || size - HEAD > VSW_PACKET_MAX_FRAME || !pl) {
        free(pl);
        return 0;
    }
    if (!dev.learned) {
        dev.learned = calloc(1, sizeof *dev.learned);
        assert(dev.learned);
    }
    /* Small VNIs and addresses, so that the datagram's often match. */
    for (int i = 0; i < 3; i++) {
        vnis[i] = data[i] % 4;
    }
    for (int i = 0; i < 4; i++) {
        remotes[i].vni = data[3 + i] % 4;
        remotes[i].ip = data[7 + i] % 4;
    }
    sender = data[11] % 4;
    cfg.learn_unknown = data[12] & 1;
    cfg.underlay_mtu = 68 + (uint32_t)(data[13] | data[14] << 8);
    cfg.ageing_ms = 300000;
    cfg.vnis = vnis;
    cfg.n_vnis = 3;
    cfg.remotes = remotes;
    cfg.n_remotes = 4;
    vsw_vxlan_config_sort(&cfg);

    rt.netdev = &netdev;
    port.rt = &rt;
    port.tunnel = &cfg;
    pl->now_ms = 1000;

    memcpy(buf + VSW_PACKET_HEADROOM, data + HEAD, size - HEAD);
    pkt.buf = buf;
    pkt.data = buf + VSW_PACKET_HEADROOM;
    pkt.len = (uint32_t)(size - HEAD);
    pkt.tun_src = sender;
    header = vsw_vxlan_header_check(pkt.data, pkt.len, &vni);

    n_drops = 0;
    vsw_vxlan_decap_batch(pl, &port, &batch, NULL);

    assert(batch.count + n_drops == 1);
    if (!batch.count) {
        assert(last_drop >= VSW_DROP_VXLAN_TRUNCATED &&
               last_drop <= VSW_DROP_VXLAN_TOO_BIG);
        if (header >= 0) {
            assert(last_drop == header);
        }
        free(pl);
        return 0;
    }
    assert(header < 0);
    assert(pkt.vni == vni && vsw_vxlan_serves(&cfg, vni));
    assert(cfg.learn_unknown || is_remote(remotes, 4, vni, sender));
    assert(pkt.data == buf + VSW_PACKET_HEADROOM + VSW_VXLAN_HLEN);
    assert(pkt.len == size - HEAD - VSW_VXLAN_HLEN);
    assert(pkt.len >= 14 && pkt.len <= cfg.underlay_mtu - VSW_VXLAN_OUTER_LEN);
    if (!(pkt.data[6] & 1) && sender) {
        assert(vsw_vxlan_learned_lookup(dev.learned, vni, pkt.data + 6,
                                        pl->now_ms, cfg.ageing_ms) == sender);
    }
    /* Any frame hashes to a port in the range RFC 7348 asks for. */
    assert(vsw_vxlan_source_port(pkt.data, pkt.len, data[15] % 2 * 4) >=
           VSW_VXLAN_SPORT_MIN);
    free(pl);
    return 0;
}
