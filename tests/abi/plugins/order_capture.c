/*
 * A capture extension that counts what it sees, for the daemon's tests of
 * pipeline order (a capture after a filter that drops must not see the
 * dropped packets).  RPC "order-capture.report" gives {"ingress": n,
 * "egress": n, "icmp_ingress": n, "icmp_egress": n}: all packets, and the
 * IPv4 ICMP ones, per direction.
 */
#include <vswitch/extension.h>

#include "plugin-util.h"

#include <stdatomic.h>
#include <stdio.h>

/* Packets seen, by [icmp][direction - 1]. */
static _Atomic uint64_t order_capture_seen[2][2];

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
    char json[160];

    (void)ext_data;
    (void)params_json;
    snprintf(json, sizeof json,
             "{\"ingress\":%llu,\"egress\":%llu,\"icmp_ingress\":%llu,"
             "\"icmp_egress\":%llu}",
             (unsigned long long)atomic_load(&order_capture_seen[0][0]),
             (unsigned long long)atomic_load(&order_capture_seen[0][1]),
             (unsigned long long)atomic_load(&order_capture_seen[1][0]),
             (unsigned long long)atomic_load(&order_capture_seen[1][1]));
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
    return host->rpc_register(h, "order-capture.report", order_capture_report,
                              NULL);
}

VSW_EXTENSION_DESCRIPTOR(VSW_EXT_CLASS_CAPTURE, 0, "order-capture", "1.0",
                         "counts the packets it sees, per direction",
                         &order_capture_ops, order_capture_init);
