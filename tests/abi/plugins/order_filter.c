/*
 * A filter that drops IPv4 ICMP (also behind an 802.1Q tag) in one
 * direction, for the daemon's tests of pipeline order.  Per-switch
 * configuration {"drop": "ingress" | "egress" | "none"} ("none" by
 * default).  RPC "order-filter.report" gives {"ingress": n, "egress": n,
 * "dropped": n}: the IPv4 ICMP packets it saw per direction, and how many
 * of them it dropped.
 */
#include <vswitch/extension.h>

#include "plugin-util.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* IPv4 ICMP packets seen, by direction - 1, and dropped. */
static _Atomic uint64_t order_filter_seen[2];
static _Atomic uint64_t order_filter_dropped;

/* The host's services and our handle, saved by init. */
static const struct vsw_ext_host *order_filter_host;
static struct vsw_ext_handle *order_filter_handle;

/* Per switch (sw_data): the direction to drop in. */
struct order_filter_switch {
    _Atomic uint32_t drop_dir; /* VSW_EXT_DIR_*, or 0 for none */
};

/* Parses {"drop": ...} into '*dir'; -EINVAL after set_error(). */
static int
order_filter_parse(const char *json, uint32_t *dir)
{
    char value[16] = "none";

    if (plug_json_value(json, "drop") &&
        !plug_json_string(json, "drop", value, sizeof value)) {
        value[0] = '\0';
    }
    if (!strcmp(value, "ingress")) {
        *dir = VSW_EXT_DIR_INGRESS;
    } else if (!strcmp(value, "egress")) {
        *dir = VSW_EXT_DIR_EGRESS;
    } else if (!strcmp(value, "none")) {
        *dir = 0;
    } else {
        order_filter_host->set_error(order_filter_handle,
                                     "\"drop\" must be ingress, egress or "
                                     "none");
        return -EINVAL;
    }
    return 0;
}

/* Enabled on a switch. */
static int
order_filter_start(void *ext_data, const struct vsw_ext_switch_info *info,
                   const char *config_json, void **sw_data)
{
    struct order_filter_switch *fs;
    uint32_t dir;
    int error;

    (void)ext_data;
    (void)info;
    error = order_filter_parse(config_json, &dir);
    if (error) {
        return error;
    }
    fs = calloc(1, sizeof *fs);
    if (!fs) {
        return -ENOMEM;
    }
    atomic_init(&fs->drop_dir, dir);
    *sw_data = fs;
    return 0;
}

/* Disabled on a switch. */
static void
order_filter_stop(void *ext_data, void *sw_data)
{
    (void)ext_data;
    free(sw_data);
}

/* A new direction, effective from the next batch. */
static int
order_filter_configure(void *ext_data, void *sw_data, const char *config_json)
{
    struct order_filter_switch *fs = sw_data;
    uint32_t dir;
    int error;

    (void)ext_data;
    error = order_filter_parse(config_json, &dir);
    if (!error) {
        atomic_store(&fs->drop_dir, dir);
    }
    return error;
}

/* Drops IPv4 ICMP in the configured direction. */
static void
order_filter_process(void *ext_data, void *sw_data,
                     const struct vsw_ext_batch *batch)
{
    struct order_filter_switch *fs = sw_data;
    uint32_t drop_dir = atomic_load(&fs->drop_dir);

    (void)ext_data;
    for (uint32_t i = 0; i < batch->count; i++) {
        const struct vsw_ext_packet *pkt = batch->pkts[i];
        uint32_t verdict = VSW_EXT_VERDICT_CONTINUE;

        if (plug_is_ipv4_icmp(pkt->data, pkt->len)) {
            atomic_fetch_add(
                &order_filter_seen[batch->direction == VSW_EXT_DIR_EGRESS], 1);
            if (batch->direction == drop_dir) {
                atomic_fetch_add(&order_filter_dropped, 1);
                verdict = VSW_EXT_VERDICT_DROP;
            }
        }
        batch->verdicts[i] = verdict;
    }
}

/* RPC "order-filter.report". */
static int
order_filter_report(void *ext_data, const char *params_json,
                    struct vsw_ext_reply *reply)
{
    char json[128];

    (void)ext_data;
    (void)params_json;
    snprintf(json, sizeof json,
             "{\"ingress\":%llu,\"egress\":%llu,\"dropped\":%llu}",
             (unsigned long long)atomic_load(&order_filter_seen[0]),
             (unsigned long long)atomic_load(&order_filter_seen[1]),
             (unsigned long long)atomic_load(&order_filter_dropped));
    return order_filter_host->reply_set(reply, json);
}

static const struct vsw_ext_ops order_filter_ops = {
    .size = sizeof(struct vsw_ext_ops),
    .start = order_filter_start,
    .stop = order_filter_stop,
    .configure = order_filter_configure,
    .process = order_filter_process,
};

/* Registers the report method. */
static int
order_filter_init(struct vsw_ext_handle *h, const struct vsw_ext_host *host,
                  void **ext_data)
{
    order_filter_host = host;
    order_filter_handle = h;
    *ext_data = NULL;
    return host->rpc_register(h, "order-filter.report", order_filter_report,
                              NULL);
}

VSW_EXTENSION_DESCRIPTOR(VSW_EXT_CLASS_FILTER, 0, "order-filter", "1.0",
                         "drops IPv4 ICMP in one direction", &order_filter_ops,
                         order_filter_init);
