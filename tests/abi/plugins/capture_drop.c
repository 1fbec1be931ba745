/*
 * A capture extension that tries to drop every packet: the host must
 * refuse a capture's DROP (count it and pass the packet on).  It counts
 * what it saw: RPC "capture-drop.report" gives {"seen": n}.
 */
#include <vswitch/extension.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

/* Packets 'process' saw. */
static _Atomic uint64_t capture_drop_seen;

/* The host's services, saved by init. */
static const struct vsw_ext_host *capture_drop_host;

/* Writes DROP, which a capture may not. */
static void
capture_drop_process(void *ext_data, void *sw_data,
                     const struct vsw_ext_batch *batch)
{
    (void)ext_data;
    (void)sw_data;
    atomic_fetch_add(&capture_drop_seen, batch->count);
    for (uint32_t i = 0; i < batch->count; i++) {
        batch->verdicts[i] = VSW_EXT_VERDICT_DROP;
    }
}

/* RPC "capture-drop.report". */
static int
capture_drop_report(void *ext_data, const char *params_json,
                    struct vsw_ext_reply *reply)
{
    char json[64];

    (void)ext_data;
    (void)params_json;
    snprintf(json, sizeof json, "{\"seen\":%llu}",
             (unsigned long long)atomic_load(&capture_drop_seen));
    return capture_drop_host->reply_set(reply, json);
}

static const struct vsw_ext_ops capture_drop_ops = {
    .size = sizeof(struct vsw_ext_ops),
    .process = capture_drop_process,
};

/* Registers the report method. */
static int
capture_drop_init(struct vsw_ext_handle *h, const struct vsw_ext_host *host,
                  void **ext_data)
{
    capture_drop_host = host;
    *ext_data = NULL;
    return host->rpc_register(h, "capture-drop.report", capture_drop_report,
                              NULL);
}

VSW_EXTENSION_DESCRIPTOR(VSW_EXT_CLASS_CAPTURE, 0, "capture-drop", "1.0",
                         "a capture that tries to drop everything",
                         &capture_drop_ops, capture_drop_init);
