/* vswitch-ctl switch ...: create, change, delete and list switches. */
#include "ctl.h"

static enum vsw_ctl_status
switch_list(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    static const struct vsw_ctl_column columns[] = {
        {"NAME", VSW_TABLE_LEFT, "name", NULL},
        {"MAC-AGEING", VSW_TABLE_RIGHT, "mac-ageing", NULL},
        {"MAC-TABLE-SIZE", VSW_TABLE_RIGHT, "mac-table-size", NULL},
        {"MAC-COUNT", VSW_TABLE_RIGHT, "mac-count", NULL},
        {"PORTS", VSW_TABLE_LEFT, "ports", NULL},
    };

    return vsw_ctl_run_list(ctx, argc, argv, "switches", columns,
                            sizeof columns / sizeof *columns);
}

const struct vsw_ctl_command vsw_ctl_switch_commands[] = {
    {
        .noun = "switch",
        .verb = "add",
        .args = "NAME [key=value...]",
        .min_args = 1,
        .max_args = -1,
        .names = (const char *const[]){"name", NULL},
        .pairs = true,
        .method = "switch.add",
        .summary = "create a switch",
        .help = "Creates the switch NAME, a learning L2 bridge.  Settings may "
                "be given at\nonce, as key=value.\n\n"
                "For example:\n\n"
                "  vswitch-ctl switch add sw1 mac-ageing=60\n",
        .schema_kind = "switch",
        .creates = true,
        .run = vsw_ctl_run_change,
    },
    {
        .noun = "switch",
        .verb = "del",
        .args = "NAME",
        .min_args = 1,
        .max_args = 1,
        .names = (const char *const[]){"name", NULL},
        .method = "switch.del",
        .summary = "delete a switch",
        .help = "Deletes the switch NAME and its ports.\n",
        .run = vsw_ctl_run_change,
    },
    {
        .noun = "switch",
        .verb = "set",
        .args = "NAME key=value...",
        .min_args = 1,
        .max_args = -1,
        .names = (const char *const[]){"name", NULL},
        .pairs = true,
        .method = "switch.set",
        .summary = "change settings of a switch",
        .help = "Changes settings of the switch NAME, given as key=value; "
                "the others keep\ntheir value.\n\n"
                "For example:\n\n"
                "  vswitch-ctl switch set sw0 mac-ageing=60 "
                "ipv6-unknown-next-header=allow\n",
        .schema_kind = "switch",
        .run = vsw_ctl_run_set,
    },
    {
        .noun = "switch",
        .verb = "get",
        .args = "NAME",
        .min_args = 1,
        .max_args = 1,
        .names = (const char *const[]){"name", NULL},
        .method = "switch.get",
        .summary = "show a switch's settings and state",
        .help = "Shows every setting and state of the switch NAME, one per "
                "line.\n",
        .run = vsw_ctl_run_get,
    },
    {
        .noun = "switch",
        .verb = "list",
        .args = "",
        .min_args = 0,
        .max_args = 0,
        .method = "switch.list",
        .summary = "list switches",
        .help = "Lists the switches with their settings, the number of MAC "
                "addresses each\nhas learned (MAC-COUNT) and their ports.\n",
        .run = switch_list,
    },
    {.verb = NULL},
};
