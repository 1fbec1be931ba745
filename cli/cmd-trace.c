/* vswitch-ctl trace: what the switch does with a frame, stage by stage. */
#include "ctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "params.h"
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

/* Prints one trace result in table mode. */
static void
print_trace(const json_t *result)
{
    static const struct vsw_ctl_column columns[] = {
        {"STAGE", VSW_TABLE_LEFT, "stage", NULL},
        {"VERDICT", VSW_TABLE_LEFT, "verdict", NULL},
        {"DETAIL", VSW_TABLE_LEFT, "detail", NULL},
    };
    json_t *stages = json_object_get(result, "stages");
    json_t *outputs = json_object_get(result, "outputs");

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
}

static long long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* "trace SWITCH in-port=PORT live=N": traces the next N frames the port
 * really receives, polling the daemon until they are in or --timeout
 * runs out.  Fails when fewer than N arrived: a script that waited for
 * traffic must learn that it did not come. */
static enum vsw_ctl_status
trace_live(struct vsw_ctl_context *ctx, json_t *params)
{
    long long wanted = json_integer_value(json_object_get(params, "live"));
    long long deadline = now_ms() + ctx->timeout_ms - 500;
    json_t *port = json_incref(json_object_get(params, "in-port"));
    enum vsw_ctl_status status;
    json_t *result = NULL;
    long long got;

    json_object_del(params, "live");
    json_object_set_new(params, "count", json_integer(wanted));
    status = vsw_ctl_call(ctx, "trace.live-start", params, &result);
    json_decref(result);
    result = NULL;
    while (status == VSW_CTL_OK) {
        const struct timespec tick = {0, 100 * 1000 * 1000};
        json_t *traces;

        status = vsw_ctl_call(ctx, "trace.live-results",
                              json_pack("{s:O}", "in-port", port), &result);
        traces = json_object_get(result, "traces");
        if (status != VSW_CTL_OK ||
            (long long)json_array_size(traces) >= wanted ||
            now_ms() >= deadline) {
            break;
        }
        json_decref(result);
        result = NULL;
        nanosleep(&tick, NULL);
    }
    json_decref(port);
    if (status != VSW_CTL_OK) {
        return status;
    }
    got = (long long)json_array_size(json_object_get(result, "traces"));
    if (ctx->format == VSW_CTL_FORMAT_JSON) {
        vsw_ctl_print_json(result);
    } else {
        json_t *traces = json_object_get(result, "traces");

        for (size_t i = 0; i < json_array_size(traces); i++) {
            json_t *trace = json_array_get(traces, i);

            printf("%sFrame %zu (%lld bytes): %s\n", i ? "\n" : "", i + 1,
                   (long long)json_integer_value(
                       json_object_get(trace, "frame-length")),
                   json_string_value(json_object_get(trace, "key")));
            print_trace(trace);
        }
    }
    json_decref(result);
    if (got < wanted) {
        vsw_ctl_error("trace: %lld of %lld frames arrived within %lld s "
                      "(--timeout)",
                      got, wanted, (ctx->timeout_ms + 999) / 1000);
        return VSW_CTL_ERROR;
    }
    return VSW_CTL_OK;
}

/* "trace SWITCH in-port=PORT fields...": one frame described. */
static enum vsw_ctl_status
trace_once(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    enum vsw_ctl_status status;
    json_t *result;

    status = vsw_ctl_query(ctx, argc, argv, &result);
    if (status != VSW_CTL_OK || !result) {
        return status;
    }
    if (!vsw_ctl_result_array(result, "trace", "stages") ||
        !vsw_ctl_result_array(result, "trace", "outputs")) {
        json_decref(result);
        return VSW_CTL_ERROR;
    }
    print_trace(result);
    json_decref(result);
    return VSW_CTL_OK;
}

static enum vsw_ctl_status
trace_cmd(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    json_t *params;

    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "live=", 5)) {
            enum vsw_ctl_status status =
                vsw_params_from_args(ctx, argc, argv, &params);

            return status == VSW_CTL_OK ? trace_live(ctx, params) : status;
        }
    }
    return trace_once(ctx, argc, argv);
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
                "fields\n"
                "  live=N                    instead, trace the next N "
                "frames PORT really\n"
                "                            receives (up to 16), waiting at "
                "most --timeout\n"
                "                            seconds; exits 1 if fewer "
                "arrived\n\n"
                "For example:\n"
                "  vswitch-ctl trace sw0 in-port=vm1 ip-dst=10.0.0.2 "
                "proto=tcp dport=80\n",
        .run = trace_cmd,
    },
    {.verb = NULL},
};
