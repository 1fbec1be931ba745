/* vswitch-ctl acl and xacl: a port's basic and extended ACL rules. */
#include "ctl.h"

#include <stdio.h>
#include <stdlib.h>

#include "util.h"

static const struct vsw_ctl_column acl_columns[] = {
    {"ID", VSW_TABLE_RIGHT, "id", NULL},
    {"ACTION", VSW_TABLE_LEFT, "action", NULL},
    {"DIRECTION", VSW_TABLE_LEFT, "direction", NULL},
    {"LOCAL-IP", VSW_TABLE_LEFT, "local-ip", NULL},
    {"REMOTE-IP", VSW_TABLE_LEFT, "remote-ip", NULL},
    {"LOCAL-MAC", VSW_TABLE_LEFT, "local-mac", NULL},
    {"REMOTE-MAC", VSW_TABLE_LEFT, "remote-mac", NULL},
    {"PACKETS", VSW_TABLE_RIGHT, "packets", NULL},
    {"BYTES", VSW_TABLE_RIGHT, "bytes", NULL},
};

static const struct vsw_ctl_column xacl_columns[] = {
    {"DIRECTION", VSW_TABLE_LEFT, "direction", NULL},
    {"WEIGHT", VSW_TABLE_RIGHT, "weight", NULL},
    {"ACTION", VSW_TABLE_LEFT, "action", NULL},
    {"PROTOCOL", VSW_TABLE_LEFT, "protocol", NULL},
    {"LOCAL-IP", VSW_TABLE_LEFT, "local-ip", NULL},
    {"LOCAL-PORT", VSW_TABLE_LEFT, "local-port", NULL},
    {"REMOTE-IP", VSW_TABLE_LEFT, "remote-ip", NULL},
    {"REMOTE-PORT", VSW_TABLE_LEFT, "remote-port", NULL},
    {"STATEFUL", VSW_TABLE_LEFT, "stateful", NULL},
    {"IDLE-TIMEOUT", VSW_TABLE_RIGHT, "idle-timeout", NULL},
    {"ISOLATION-ID", VSW_TABLE_RIGHT, "isolation-id", NULL},
    {"PACKETS", VSW_TABLE_RIGHT, "packets", NULL},
    {"BYTES", VSW_TABLE_RIGHT, "bytes", NULL},
};

static enum vsw_ctl_status
list_rules(struct vsw_ctl_context *ctx, int argc, char *argv[],
           const struct vsw_ctl_column *columns, size_t n)
{
    enum vsw_ctl_status status;
    json_t *result;
    json_t *rules;

    status = vsw_ctl_query(ctx, argc, argv, &result);
    if (status != VSW_CTL_OK || !result) {
        return status;
    }
    rules = vsw_ctl_result_array(result, ctx->command->method, "rules");
    if (!rules) {
        json_decref(result);
        return VSW_CTL_ERROR;
    }
    vsw_ctl_print_rows(rules, columns, n);
    if (json_object_get(result, "flows")) {
        char *flows = vsw_ctl_member_text(result, "flows");

        printf("%s stateful flow%s\n", flows,
               json_integer_value(json_object_get(result, "flows")) == 1
                   ? ""
                   : "s");
        free(flows);
    }
    json_decref(result);
    return VSW_CTL_OK;
}

static enum vsw_ctl_status
acl_list(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    return list_rules(ctx, argc, argv, acl_columns,
                      sizeof acl_columns / sizeof *acl_columns);
}

static enum vsw_ctl_status
xacl_list(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    return list_rules(ctx, argc, argv, xacl_columns,
                      sizeof xacl_columns / sizeof *xacl_columns);
}

/* "acl add" prints the ids of the rules it made (two for "both"). */
static enum vsw_ctl_status
acl_add(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    enum vsw_ctl_status status;
    json_t *result;
    json_t *ids;

    status = vsw_ctl_query(ctx, argc, argv, &result);
    if (status != VSW_CTL_OK || !result) {
        return status;
    }
    ids = vsw_ctl_result_array(result, "acl.add", "ids");
    if (ids) {
        char *text = vsw_ctl_value_text(ids);

        printf("%s\n", text);
        free(text);
    }
    json_decref(result);
    return ids ? VSW_CTL_OK : VSW_CTL_ERROR;
}

static const char *const port_name[] = {"port", NULL};
static const char *const port_and_id[] = {"port", "id", NULL};

const struct vsw_ctl_command vsw_ctl_acl_commands[] = {
    {
        .noun = "acl",
        .verb = "add",
        .args = "PORT action=A direction=D MATCH=VALUE",
        .min_args = 1,
        .max_args = -1,
        .names = port_name,
        .pairs = true,
        .method = "acl.add",
        .summary = "add a port ACL rule",
        .help = "Adds a basic ACL rule to PORT and prints its id (two ids "
                "for direction=both).\n\n"
                "  action=allow|deny|meter\n"
                "  direction=in|out|both   in: toward the VM; out: from it\n"
                "  and exactly one of:\n"
                "  local-ip=PREFIX         the VM's address: 10.0.0.5, "
                "10.0.0.0/8, 2001:db8::/32,\n"
                "                          or ANY (both families)\n"
                "  remote-ip=PREFIX        the peer's address\n"
                "  local-mac=MAC|ANY       the VM's MAC\n"
                "  remote-mac=MAC|ANY      the peer's MAC\n\n"
                "Among IP rules the longest prefix wins and deny wins at "
                "equal length; MAC and\nIP rules are judged separately and "
                "a frame passes only if neither denies.\nMeter rules only "
                "count.  Extended rules (xacl) are judged first.\n",
        .run = acl_add,
    },
    {
        .noun = "acl",
        .verb = "del",
        .args = "PORT ID",
        .min_args = 2,
        .max_args = 2,
        .names = port_and_id,
        .method = "acl.del",
        .summary = "remove a port ACL rule",
        .help = "Removes the basic ACL rule ID (as 'acl list' shows it) from "
                "PORT.\n",
        .run = vsw_ctl_run_change,
    },
    {
        .noun = "acl",
        .verb = "list",
        .args = "PORT",
        .min_args = 1,
        .max_args = 1,
        .names = port_name,
        .method = "acl.list",
        .summary = "list a port's ACL rules and their counters",
        .help = "Lists the basic ACL rules of PORT with the packets and bytes "
                "each decided or\nmetered.\n",
        .run = acl_list,
    },
    {
        .noun = "xacl",
        .verb = "add",
        .args = "PORT action=A direction=D weight=W [key=value...]",
        .min_args = 1,
        .max_args = -1,
        .names = port_name,
        .pairs = true,
        .method = "xacl.add",
        .summary = "add an extended ACL rule",
        .help = "Adds an extended ACL rule to PORT.  Rules are checked by "
                "descending weight\nand the first match decides; no match "
                "leaves the frame to the basic rules.\n\n"
                "  action=allow|deny\n"
                "  direction=in|out\n"
                "  weight=0-65535          unique per port and direction: "
                "the rule's key\n"
                "  protocol=tcp|udp|icmp|N\n"
                "  local-ip=PREFIX remote-ip=PREFIX      or ANY\n"
                "  local-port=P remote-port=P            a port, a range "
                "such as 49152-49182,\n"
                "                                        or ANY\n"
                "  stateful=on|off         allow rules: admit the replies "
                "of matched flows\n"
                "  idle-timeout=SECONDS    how long an idle flow stays "
                "(default 255)\n"
                "  isolation-id=VID        the rule applies to this VLAN "
                "only (0: all)\n\n"
                "For example, outbound web only:\n"
                "  vswitch-ctl xacl add vm1 action=deny direction=in "
                "weight=1\n"
                "  vswitch-ctl xacl add vm1 action=deny direction=out "
                "weight=1\n"
                "  vswitch-ctl xacl add vm1 action=allow direction=out "
                "weight=100 \\\n"
                "      protocol=tcp remote-port=80 stateful=on "
                "idle-timeout=60\n",
        .run = vsw_ctl_run_change,
    },
    {
        .noun = "xacl",
        .verb = "del",
        .args = "PORT direction=D weight=W",
        .min_args = 1,
        .max_args = -1,
        .names = port_name,
        .pairs = true,
        .method = "xacl.del",
        .summary = "remove an extended ACL rule",
        .help = "Removes the extended rule of PORT with that direction and "
                "weight.\n",
        .run = vsw_ctl_run_set,
    },
    {
        .noun = "xacl",
        .verb = "list",
        .args = "PORT",
        .min_args = 1,
        .max_args = 1,
        .names = port_name,
        .method = "xacl.list",
        .summary = "list extended ACL rules, counters and flows",
        .help = "Lists the extended ACL rules of PORT with their counters, "
                "and how many\nstateful flows it has now.\n",
        .run = xacl_list,
    },
    {.verb = NULL},
};
