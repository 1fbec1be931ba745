/* vswitch-ctl qos ...: quality of service on a port. */
#include "ctl.h"

const struct vsw_ctl_command vsw_ctl_qos_commands[] = {
    {
        .noun = "qos",
        .verb = "show",
        .args = "UPLINK",
        .min_args = 1,
        .max_args = 1,
        .names = (const char *const[]){"port", NULL},
        .method = "qos.show",
        .summary = "show the minimum-bandwidth scheduler of an uplink or team",
        .help = "Shows whether UPLINK's egress is scheduled (its switch's "
                "min-bandwidth-mode\nis not none and it has a link-speed), "
                "what it sent, and a table of its\nclasses: each port with "
                "a minimum and the default flow the others share,\nwith "
                "the MINIMUM (weight, or bit/s in absolute mode), what "
                "was sent, what\nwaits (QUEUE-PACKETS, QUEUE-BYTES), "
                "what the full queue refused (DROPS),\nthe RATE in bit/s "
                "over the last second and the SHARE of the uplink's rate\n"
                "in percent.  UPLINK may be a NIC team: its link-speed is "
                "each member's,\nand it is paced at that times the members "
                "that carry traffic (capacity).\n",
        .run = vsw_ctl_run_get,
    },
    {.verb = NULL},
};
