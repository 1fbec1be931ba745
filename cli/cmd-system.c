/* vswitch-ctl status, show and call: the daemon as a whole, and raw
 * JSON-RPC for what the other commands do not cover. */
#include "ctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Prints "'key': 'text'" indented by 'indent' spaces.  Takes ownership of
 * 'text'. */
static void
print_field(int indent, const char *key, char *text)
{
    char *printable_key = vsw_printable_dup(key);

    printf("%*s%s: %s\n", indent, "", printable_key, text);
    free(printable_key);
    free(text);
}

static void
show_port(const json_t *port)
{
    const char *mac = vsw_ctl_member_string(port, "mac");
    const char *netns = vsw_ctl_member_string(port, "netns");
    const char *error = vsw_ctl_member_string(port, "error");
    char *name = vsw_ctl_member_text(port, "name");

    printf("    Port %s\n", name);
    free(name);
    print_field(8, "type", vsw_ctl_member_text(port, "type"));
    print_field(8, "ifname", vsw_ctl_member_text(port, "ifname"));
    /* An unset MAC, namespace or error says nothing worth a line. */
    if (mac && mac[0]) {
        print_field(8, "mac", vsw_ctl_member_text(port, "mac"));
    }
    print_field(8, "vlan", vsw_ctl_port_vlan_text(port));
    print_field(8, "link", vsw_ctl_member_text(port, "link"));
    if (netns && netns[0]) {
        print_field(8, "netns", vsw_ctl_member_text(port, "netns"));
    }
    if (error && error[0]) {
        print_field(8, "error", vsw_ctl_member_text(port, "error"));
    }
}

/* Prints each switch of 'switches' with its settings, and under it each
 * port of 'ports' that belongs to it. */
static void
show_overview(const json_t *switches, const json_t *ports)
{
    for (size_t i = 0; i < json_array_size(switches); i++) {
        json_t *sw = json_array_get(switches, i);
        const char *sw_name = vsw_ctl_member_string(sw, "name");
        char *name = vsw_ctl_member_text(sw, "name");

        printf("Switch %s\n", name);
        free(name);
        /* Every setting, so new ones show without a change here; the
         * port list is shown as the ports themselves. */
        for (void *iter = json_object_iter(sw); iter;
             iter = json_object_iter_next(sw, iter)) {
            const char *key = json_object_iter_key(iter);

            if (strcmp(key, "name") && strcmp(key, "ports")) {
                print_field(4, key,
                            vsw_ctl_value_text(json_object_iter_value(iter)));
            }
        }
        for (size_t j = 0; j < json_array_size(ports); j++) {
            const json_t *port = json_array_get(ports, j);
            const char *port_sw = vsw_ctl_member_string(port, "switch");

            if (sw_name && port_sw && !strcmp(sw_name, port_sw)) {
                show_port(port);
            }
        }
    }
}

static enum vsw_ctl_status
show_cmd(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    json_t *switch_result = NULL, *port_result = NULL;
    json_t *switches = NULL, *ports = NULL;
    enum vsw_ctl_status status;

    (void)argc;
    (void)argv;
    status = vsw_ctl_call(ctx, "switch.list", json_object(), &switch_result);
    if (status == VSW_CTL_OK) {
        status = vsw_ctl_call(ctx, "port.list", json_object(), &port_result);
    }
    if (status == VSW_CTL_OK) {
        switches =
            vsw_ctl_result_array(switch_result, "switch.list", "switches");
        ports = switches
                    ? vsw_ctl_result_array(port_result, "port.list", "ports")
                    : NULL;
        status = ports ? VSW_CTL_OK : VSW_CTL_ERROR;
    }
    if (status == VSW_CTL_OK) {
        if (ctx->format == VSW_CTL_FORMAT_JSON) {
            json_t *both =
                json_pack("{s:O, s:O}", "switches", switches, "ports", ports);

            vsw_ctl_print_json(both);
            json_decref(both);
        } else {
            show_overview(switches, ports);
        }
    }
    json_decref(switch_result);
    json_decref(port_result);
    return status;
}

static enum vsw_ctl_status
call_cmd(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    enum vsw_ctl_status status;
    json_t *method, *params, *result;
    json_error_t error;

    method = json_string(argv[0]);
    if (!method) {
        return vsw_ctl_usage_error(ctx, "method name is not valid UTF-8");
    }
    json_decref(method);
    if (argc > 1) {
        params = json_loads(argv[1], 0, &error);
        if (!params) {
            return vsw_ctl_usage_error(ctx, "params: %s", error.text);
        }
    } else {
        params = json_object();
    }
    status = vsw_ctl_call(ctx, argv[0], params, &result);
    if (status == VSW_CTL_OK) {
        /* Whatever --format says: a raw call has no table to fill. */
        vsw_ctl_print_json(result);
        json_decref(result);
    }
    return status;
}

const struct vsw_ctl_command vsw_ctl_system_commands[] = {
    {
        .verb = "status",
        .args = "",
        .min_args = 0,
        .max_args = 0,
        .method = "system.status",
        .summary = "show the daemon's version, uptime and size",
        .help = "Shows the daemon's version, pid, uptime in seconds, state "
                "directory, socket,\nnumber of worker threads, and how many "
                "switches and ports it has; then each\nworker's figures, and "
                "every bounded table (per switch, port, worker or the\n"
                "daemon) with its use, its bound and FULL, how many times "
                "the bound was\nreached (an eviction, a refusal or a drop, "
                "as the table's own rule says).\n",
        .run = vsw_ctl_run_get,
    },
    {
        .verb = "methods",
        .args = "",
        .min_args = 0,
        .max_args = 0,
        .method = "system.methods",
        .summary = "list every JSON-RPC method and who may call it",
        .help = "Lists every JSON-RPC method the daemon serves with its "
                "access: \"read\" methods\nonly look, and members of "
                "--rpc-readonly-group may call them; \"write\"\nmethods "
                "change something and are for root, the daemon's user and "
                "--rpc-group.\n",
        .run = vsw_ctl_run_get,
    },
    {
        .verb = "show",
        .args = "",
        .min_args = 0,
        .max_args = 0,
        .summary = "show every switch and its ports",
        .help = "Shows every switch with its settings and, under it, each of "
                "its ports with\nits type, netdev, VLAN configuration and "
                "link state.\n\nWith --format json, prints {\"switches\": "
                "[...], \"ports\": [...]}, the results\nof the switch.list "
                "and port.list methods.\n",
        .run = show_cmd,
    },
    {
        .verb = "call",
        .args = "METHOD [PARAMS]",
        .min_args = 1,
        .max_args = 2,
        .summary = "call a JSON-RPC method directly",
        .help = "Calls METHOD with PARAMS, a JSON object or array (default "
                "{}), and prints the\nresult as JSON whatever --format "
                "says.  For methods no other command covers\nyet, and for "
                "scripts.  For example:\n\n"
                "  vswitch-ctl call port.get '{\"name\": \"vm1\"}'\n",
        .run = call_cmd,
    },
    {.verb = NULL},
};
