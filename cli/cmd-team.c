/* vswitch-ctl team ...: NIC teams, several uplinks joined into one port. */
#include <stdio.h>

#include "ctl.h"

static enum vsw_ctl_status
team_list(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    static const struct vsw_ctl_column columns[] = {
        {"NAME", VSW_TABLE_LEFT, "name", NULL},
        {"SWITCH", VSW_TABLE_LEFT, "switch", NULL},
        {"MEMBERS", VSW_TABLE_LEFT, "members", NULL},
        {"MODE", VSW_TABLE_LEFT, "mode", NULL},
        {"LB", VSW_TABLE_LEFT, "lb", NULL},
        {"STANDBY", VSW_TABLE_LEFT, "standby", NULL},
        {"ACTIVE-MEMBERS", VSW_TABLE_RIGHT, "active-members", NULL},
    };

    return vsw_ctl_run_list(ctx, argc, argv, "teams", columns,
                            sizeof columns / sizeof *columns);
}

static enum vsw_ctl_status
team_show(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    enum vsw_ctl_status status;
    json_t *result, *teams, *team;
    size_t i;

    status = vsw_ctl_query(ctx, argc, argv, &result);
    if (status != VSW_CTL_OK || !result) {
        return status;
    }
    teams = vsw_ctl_result_array(result, ctx->command->method, "teams");
    if (!teams) {
        json_decref(result);
        return VSW_CTL_ERROR;
    }
    json_array_foreach(teams, i, team)
    {
        if (i) {
            printf("\n");
        }
        vsw_ctl_print_object(team);
    }
    json_decref(result);
    return VSW_CTL_OK;
}

const struct vsw_ctl_command vsw_ctl_team_commands[] = {
    {
        .noun = "team",
        .verb = "add",
        .args = "SWITCH TEAM members=IF1,IF2 [key=value...]",
        .min_args = 2,
        .max_args = -1,
        .names = (const char *const[]){"switch", "name", NULL},
        .pairs = true,
        .method = "team.add",
        .summary = "join uplinks into one port of a switch",
        .help = "Creates the team TEAM on SWITCH: a port (type team) whose "
                "frames go out and\ncome in through its members, existing "
                "interfaces that no port uses.  Every\nport setting works "
                "on it (vswitch-ctl port set TEAM ...).\n\n"
                "For example:\n\n"
                "  vswitch-ctl team add sw0 team0 members=eth1,eth2 "
                "lb=address-hash\n",
        .schema_kind = "team",
        .creates = true,
        .run = vsw_ctl_run_change,
    },
    {
        .noun = "team",
        .verb = "del",
        .args = "TEAM",
        .min_args = 1,
        .max_args = 1,
        .names = (const char *const[]){"name", NULL},
        .method = "team.del",
        .summary = "delete a team",
        .help = "Deletes the team TEAM, its port, and lets go of its "
                "members.\n",
        .run = vsw_ctl_run_change,
    },
    {
        .noun = "team",
        .verb = "set",
        .args = "TEAM key=value...",
        .min_args = 1,
        .max_args = -1,
        .names = (const char *const[]){"name", NULL},
        .pairs = true,
        .method = "team.set",
        .summary = "change settings of a team",
        .help = "Changes settings of the team TEAM, given as key=value; the "
                "others keep their\nvalue.  Port settings (VLANs, QoS, "
                "mirroring) are changed with port set.\n\n"
                "For example:\n\n"
                "  vswitch-ctl team set team0 lb=port standby=eth2\n",
        .schema_kind = "team",
        .run = vsw_ctl_run_set,
    },
    {
        .noun = "team",
        .verb = "show",
        .args = "[TEAM]",
        .min_args = 0,
        .max_args = 1,
        .names = (const char *const[]){"name", NULL},
        .method = "team.show",
        .summary = "show teams and the state of their members",
        .help =
            "Shows the settings of TEAM (or of every team) and a table "
            "of its members:\ntheir STATE (active, standby, inactive, "
            "down, missing), CARRIER, what each received\nand sent, the rates "
            "over the last second in bit/s and the UTILIZATION in\n"
            "percent of the member's speed when the interface reports "
            "one.\n",
        .run = team_show,
    },
    {
        .noun = "team",
        .verb = "list",
        .args = "",
        .min_args = 0,
        .max_args = 0,
        .method = "team.list",
        .summary = "list teams",
        .help = "Lists the teams with their switch, members, mode, "
                "balancing, standby member\nand how many members carry "
                "traffic now.\n",
        .run = team_list,
    },
    {.verb = NULL},
};
