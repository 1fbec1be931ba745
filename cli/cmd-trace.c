/* vswitch-ctl trace: what the switch does with a frame, stage by stage. */
#include "ctl.h"

#include <stdio.h>
#include <stdlib.h>

#include "util.h"

static char *
output_text(const json_t *row)
{
    return vsw_xasprintf(
        "%s (%s %lld)", json_string_value(json_object_get(row, "port")),
        json_is_true(json_object_get(row, "tagged")) ? "tagged VLAN"
                                                     : "untagged, VLAN",
        (long long)json_integer_value(json_object_get(row, "vlan")));
}

static enum vsw_ctl_status
trace_cmd(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    static const struct vsw_ctl_column columns[] = {
        {"STAGE", VSW_TABLE_LEFT, "stage", NULL},
        {"VERDICT", VSW_TABLE_LEFT, "verdict", NULL},
        {"DETAIL", VSW_TABLE_LEFT, "detail", NULL},
    };
    enum vsw_ctl_status status;
    json_t *result;
    json_t *stages;
    json_t *outputs;

    status = vsw_ctl_query(ctx, argc, argv, &result);
    if (status != VSW_CTL_OK || !result) {
        return status;
    }
    stages = vsw_ctl_result_array(result, "trace", "stages");
    outputs = vsw_ctl_result_array(result, "trace", "outputs");
    if (!stages || !outputs) {
        json_decref(result);
        return VSW_CTL_ERROR;
    }
    vsw_ctl_print_rows(stages, columns, sizeof columns / sizeof *columns);
    if (json_array_size(outputs)) {
        printf("\nOutput:");
        for (size_t i = 0; i < json_array_size(outputs); i++) {
            char *text = output_text(json_array_get(outputs, i));

            printf(" %s%s", text, i + 1 < json_array_size(outputs) ? "," : "");
            free(text);
        }
        printf("\n");
    } else {
        char *reason = vsw_ctl_member_text(result, "drop-reason");

        printf("\nDropped: %s\n", reason);
        free(reason);
    }
    json_decref(result);
    return VSW_CTL_OK;
}

static const char *const trace_names[] = {"switch", NULL};

const struct vsw_ctl_command vsw_ctl_trace_commands[] = {
    {
        .verb = "trace",
        .args = "SWITCH in-port=PORT [field=value...]",
                .min_args = 1,
        .max_args = -1,
        .names = trace_names,
        .pairs = true,
        .method = "trace",
        .summary = "show what the switch does with a frame, stage by stage",
        .help = "Builds a frame from the fields given and runs it through "
                "the pipeline as if\nit had arrived on PORT, with no side "
                "effect: nothing is learned, counted or\nsent.  Prints each "
                "stage's verdict and why, then where the frame would go.\n\n"
                "  eth-src=MAC eth-dst=MAC   addresses (defaults: the port's "
                "MAC, broadcast)\n"
                "  vlan=VID                  an 802.1Q tag on the frame\n"
                "  ip-src=IP ip-dst=IP       IPv4 or IPv6 addresses\n"
                "  proto=P                   tcp, udp, icmp, icmpv6 or a "
                "number\n"
                "  sport=N dport=N           transport ports\n"
                "  icmp-type=N               ICMP or ICMPv6 type\n"
                "  dhcp-op=1|2               a DHCP request or reply\n"
                "  arp-op=1|2                an ARP request or reply\n"
                "  frame=HEX                 the whole frame instead of "
                "fields\n\n"
                "For example:\n"
                "  vswitch-ctl trace sw0 in-port=vm1 ip-dst=10.0.0.2 "
                "proto=tcp dport=80\n",
        .run = trace_cmd,
    },
    {.verb = NULL},
};
