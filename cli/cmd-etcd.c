/* vswitch-ctl etcd show: the state of the daemon's etcd client (tenant
 * mappings shared between hosts). */
#include "ctl.h"

const struct vsw_ctl_command vsw_ctl_etcd_commands[] = {
    {
        .noun = "etcd",
        .verb = "show",
        .args = "",
        .min_args = 0,
        .max_args = 0,
        .method = "etcd.show",
        .summary = "show the etcd client's state",
        .help = "Shows whether the daemon shares tenant mappings through "
                "etcd (vswitchd --etcd),\nand if so: its state (connecting, "
                "syncing, connected, unreachable), the\nendpoint in use, "
                "its lease and the lease's TTL, the last revision seen, the\n"
                "keys it published, the hosts, remote VTEPs and MACs it "
                "learned, the\nmalformed keys it ignored, reconnections, "
                "resyncs and the last error.\n",
        .run = vsw_ctl_run_get,
    },
    {.verb = NULL},
};
