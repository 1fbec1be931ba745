/* vswitch-ctl tunnel ...: VXLAN tunnels, ports of type vxlan. */
#include "ctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* A tunnel is a port of type vxlan; the type may be left out. */
static enum vsw_ctl_status
tunnel_add(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    char **args = calloc((size_t)argc + 1, sizeof *args);
    enum vsw_ctl_status status;
    bool has_type = false;

    if (!args) {
        vsw_ctl_error("out of memory");
        return VSW_CTL_ERROR;
    }
    for (int i = 0; i < argc; i++) {
        args[i] = argv[i];
        if (i >= ctx->command->min_args &&
            !strncmp(argv[i], "type=", strlen("type="))) {
            if (strcmp(argv[i], "type=vxlan")) {
                free(args);
                return vsw_ctl_usage_error(ctx, "a tunnel is type=vxlan");
            }
            has_type = true;
        }
    }
    if (!has_type) {
        args[argc++] = "type=vxlan";
    }
    status = vsw_ctl_run_change(ctx, argc, args);
    free(args);
    return status;
}

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
    enum vsw_ctl_status status;
    json_t *result, *tunnels;

    status = vsw_ctl_query(ctx, argc, argv, &result);
    if (status != VSW_CTL_OK || !result) {
        return status;
    }
    tunnels = vsw_ctl_result_array(result, ctx->command->method, "tunnels");
    if (!tunnels) {
        json_decref(result);
        return VSW_CTL_ERROR;
    }
    vsw_ctl_print_rows(tunnels, columns, sizeof columns / sizeof *columns);
    json_decref(result);
    return VSW_CTL_OK;
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
        .run = tunnel_add,
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
