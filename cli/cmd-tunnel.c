/* vswitch-ctl tunnel ...: VXLAN tunnels, ports of type vxlan. */
#include "ctl.h"

static enum vsw_ctl_status
tunnel_list(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    static const struct vsw_ctl_column columns[] = {
        {"NAME", VSW_TABLE_LEFT, "name", NULL},
        {"SWITCH", VSW_TABLE_LEFT, "switch", NULL},
        {"LOCAL-IP", VSW_TABLE_LEFT, "local-ip", NULL},
        {"DST-PORT", VSW_TABLE_RIGHT, "dst-port", NULL},
        {"UNDERLAY-MTU", VSW_TABLE_RIGHT, "underlay-mtu", NULL},
        {"VM-MTU", VSW_TABLE_RIGHT, "vm-mtu", NULL},
    };

    return vsw_ctl_run_list(ctx, argc, argv, "tunnels", columns,
                            sizeof columns / sizeof *columns);
}

const struct vsw_ctl_command vsw_ctl_tunnel_commands[] = {
    {
        .noun = "tunnel",
        .verb = "add",
        .args = "SWITCH NAME local-ip=ADDR [type=vxlan] [dst-port=4789] "
                "[underlay=IF] [key=value...]",
        .min_args = 2,
        .max_args = -1,
        .names = (const char *const[]){"switch", "name", NULL},
        .pairs = true,
        .method = "tunnel.add",
        .summary = "add a VXLAN tunnel to a switch",
        .help = "Adds the VXLAN tunnel NAME to SWITCH: a port of type "
                "vxlan that carries the\nframes of every VNI of the "
                "switch's ports to remote VTEPs over UDP\n(RFC 7348).  "
                "local-ip= is this host's VTEP address (IPv4).\n\n"
                "For example:\n\n"
                "  vswitch-ctl tunnel add br0 vx0 local-ip=192.0.2.1\n"
                "  vswitch-ctl tunnel set vx0 "
                "remote=5001:192.0.2.2,5001:192.0.2.3\n",
        .schema_kind = "port",
        .creates = true,
        .run = vsw_ctl_run_change, /* tunnel.add sets type=vxlan */
    },
    {
        .noun = "tunnel",
        .verb = "set",
        .args = "NAME key=value...",
        .min_args = 1,
        .max_args = -1,
        .names = (const char *const[]){"name", NULL},
        .pairs = true,
        .method = "tunnel.set",
        .summary = "change settings of a tunnel",
        .help = "Changes settings of the tunnel NAME, e.g. its static "
                "remote VTEPs:\n\n"
                "  vswitch-ctl tunnel set vx0 remote=5001:192.0.2.2\n",
        .schema_kind = "port",
        .run = vsw_ctl_run_set,
    },
    {
        .noun = "tunnel",
        .verb = "del",
        .args = "NAME",
        .min_args = 1,
        .max_args = 1,
        .names = (const char *const[]){"name", NULL},
        .method = "tunnel.del",
        .summary = "remove a tunnel",
        .help = "Removes the tunnel NAME from its switch.\n",
        .run = vsw_ctl_run_change,
    },
    {
        .noun = "tunnel",
        .verb = "show",
        .args = "NAME",
        .min_args = 1,
        .max_args = 1,
        .names = (const char *const[]){"name", NULL},
        .method = "tunnel.show",
        .summary = "show a tunnel, its remote VTEPs and learned MACs",
        .help = "Shows the tunnel NAME: its address, port and MTUs (VM-MTU "
                "is the largest MTU\na VM of a VNI may use), the VNIs of "
                "its switch, its remote VTEPs, the MACs\nprogrammed into "
                "it and those it learned from the VTEPs.\n",
        .run = vsw_ctl_run_get,
    },
    {
        .noun = "tunnel",
        .verb = "list",
        .args = "",
        .min_args = 0,
        .max_args = 0,
        .method = "tunnel.list",
        .summary = "list the tunnels",
        .help = "Lists every tunnel with its switch, address, port and "
                "MTUs.\n",
        .run = tunnel_list,
    },
    {.verb = NULL},
};
