/*
 * A capture extension that counts what it sees, for the daemon's tests of
 * pipeline order (a capture after a filter that drops must not see the
 * dropped packets) and of plain frames.  RPC "<name>.report" gives
 * {"ingress": n, "egress": n, "icmp_ingress": n, "icmp_egress": n,
 * "gso": n, "csum_partial": n, "max_len": n}: all packets, the IPv4 ICMP
 * ones, per direction; packets flagged GSO or partially checksummed; the
 * longest frame.  Built as order_capture.so ("order-capture") and, with
 * VSW_EXT_F_PLAIN_FRAMES, order_capture_plain.so ("order-capture-plain").
 */
#include <vswitch/extension.h>

#include "plugin-util.h"

#include <stdatomic.h>
#include <stdio.h>

#ifndef ORDER_CAPTURE_NAME
#define ORDER_CAPTURE_NAME  "order-capture"
#define ORDER_CAPTURE_FLAGS 0
#endif

/* Packets seen, by [icmp][direction - 1]. */
static _Atomic uint64_t order_capture_seen[2][2];
/* Packets flagged GSO, and partially checksummed. */
static _Atomic uint64_t order_capture_gso, order_capture_partial;
/* The longest frame seen. */
static _Atomic uint32_t order_capture_max_len;

/* The host's services, saved by init. */
static const struct vsw_ext_host *order_capture_host;

/* Counts and passes every packet on. */
static void
order_capture_process(void *ext_data, void *sw_data,
                      const struct vsw_ext_batch *batch)
{
    unsigned dir = batch->direction == VSW_EXT_DIR_EGRESS;

    (void)ext_data;
    (void)sw_data;
    for (uint32_t i = 0; i < batch->count; i++) {
        const struct vsw_ext_packet *pkt = batch->pkts[i];

        uint32_t max = atomic_load(&order_capture_max_len);

        while (pkt->len > max && !atomic_compare_exchange_weak(
                                     &order_capture_max_len, &max, pkt->len)) {
            continue;
        }
        if (pkt->flags & VSW_EXT_PKT_F_GSO) {
            atomic_fetch_add(&order_capture_gso, 1);
        }
        if (pkt->flags & VSW_EXT_PKT_F_CSUM_PARTIAL) {
            atomic_fetch_add(&order_capture_partial, 1);
        }
        atomic_fetch_add(&order_capture_seen[0][dir], 1);
        if (plug_is_ipv4_icmp(pkt->data, pkt->len)) {
            atomic_fetch_add(&order_capture_seen[1][dir], 1);
        }
        batch->verdicts[i] = VSW_EXT_VERDICT_CONTINUE;
    }
}

/* RPC "order-capture.report". */
static int
order_capture_report(void *ext_data, const char *params_json,
                     struct vsw_ext_reply *reply)
{
    char json[256];

    (void)ext_data;
    (void)params_json;
    snprintf(json, sizeof json,
             "{\"ingress\":%llu,\"egress\":%llu,\"icmp_ingress\":%llu,"
             "\"icmp_egress\":%llu,\"gso\":%llu,\"csum_partial\":%llu,"
             "\"max_len\":%u}",
             (unsigned long long)atomic_load(&order_capture_seen[0][0]),
             (unsigned long long)atomic_load(&order_capture_seen[0][1]),
             (unsigned long long)atomic_load(&order_capture_seen[1][0]),
             (unsigned long long)atomic_load(&order_capture_seen[1][1]),
             (unsigned long long)atomic_load(&order_capture_gso),
             (unsigned long long)atomic_load(&order_capture_partial),
             (unsigned)atomic_load(&order_capture_max_len));
    return order_capture_host->reply_set(reply, json);
}

static const struct vsw_ext_ops order_capture_ops = {
    .size = sizeof(struct vsw_ext_ops),
    .process = order_capture_process,
};

/* Registers the report method. */
static int
order_capture_init(struct vsw_ext_handle *h, const struct vsw_ext_host *host,
                   void **ext_data)
{
    order_capture_host = host;
    *ext_data = NULL;
    return host->rpc_register(h, ORDER_CAPTURE_NAME ".report",
                              order_capture_report, NULL);
}

VSW_EXTENSION_DESCRIPTOR(VSW_EXT_CLASS_CAPTURE, ORDER_CAPTURE_FLAGS,
                         ORDER_CAPTURE_NAME, "1.0",
                         "counts the packets it sees, per direction",
                         &order_capture_ops, order_capture_init);
