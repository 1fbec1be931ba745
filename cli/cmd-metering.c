/* vswitch-ctl metering ... and port export/import: a port's meters, and
 * its whole profile as a document for live migration. */
#include "ctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Most bytes "port import" reads from its standard input. */
#define IMPORT_MAX_BYTES (64u << 20)

static char *
meter_rule_text(const json_t *meter)
{
    const json_t *rule = json_object_get(meter, "rule");

    return json_is_integer(rule) ? vsw_ctl_member_text(meter, "rule")
                                 : vsw_xstrdup("total");
}

static const struct vsw_ctl_column meter_columns[] = {
    {"DIRECTION", VSW_TABLE_LEFT, "direction", NULL},
    {"RULE", VSW_TABLE_RIGHT, NULL, meter_rule_text},
    {"MATCH", VSW_TABLE_LEFT, "match", NULL},
    {"COUNTING", VSW_TABLE_LEFT, "counting", NULL},
    {"PACKETS", VSW_TABLE_RIGHT, "packets", NULL},
    {"BYTES", VSW_TABLE_RIGHT, "bytes", NULL},
    {"MEGABYTES", VSW_TABLE_RIGHT, "megabytes", NULL},
    {"BPS-1S", VSW_TABLE_RIGHT, "bps-1s", NULL},
    {"BPS-10S", VSW_TABLE_RIGHT, "bps-10s", NULL},
    {"PPS-1S", VSW_TABLE_RIGHT, "pps-1s", NULL},
    {"PPS-10S", VSW_TABLE_RIGHT, "pps-10s", NULL},
};

/* "metering show": whether the port meters, then a row per meter. */
static enum vsw_ctl_status
metering_show(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    enum vsw_ctl_status status;
    json_t *result;
    json_t *meters;

    status = vsw_ctl_query(ctx, argc, argv, &result);
    if (status != VSW_CTL_OK || !result) {
        return status;
    }
    meters = vsw_ctl_result_array(result, "metering.show", "meters");
    if (meters) {
        char *port = vsw_ctl_member_text(result, "port");
        char *on = vsw_ctl_member_text(result, "metering");

        printf("port %s: metering %s\n", port, on);
        free(port);
        free(on);
        if (json_array_size(meters)) {
            vsw_ctl_print_rows(meters, meter_columns,
                               sizeof meter_columns / sizeof *meter_columns);
        }
    }
    json_decref(result);
    return meters ? VSW_CTL_OK : VSW_CTL_ERROR;
}

/* "port export": the document, as JSON in both formats (it is meant for
 * a file and "port import"). */
static enum vsw_ctl_status
port_export(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    enum vsw_ctl_status status;
    json_t *result;

    status = vsw_ctl_query(ctx, argc, argv, &result);
    if (status == VSW_CTL_OK && result) {
        vsw_ctl_print_json(result);
    }
    json_decref(result);
    return status;
}

/* Reads all of standard input as one JSON document into '*docp'. */
static enum vsw_ctl_status
read_document(json_t **docp)
{
    size_t size = 0, cap = 65536;
    char *text = vsw_xmalloc(cap);
    json_error_t jerr;
    size_t n;

    while ((n = fread(text + size, 1, cap - size, stdin)) > 0) {
        size += n;
        if (size == cap) {
            if (cap >= IMPORT_MAX_BYTES) {
                free(text);
                vsw_ctl_error("port import: standard input is over %u MiB",
                              IMPORT_MAX_BYTES >> 20);
                return VSW_CTL_ERROR;
            }
            cap *= 2;
            text = vsw_xrealloc(text, cap);
        }
    }
    if (ferror(stdin)) {
        free(text);
        vsw_ctl_error("port import: cannot read standard input");
        return VSW_CTL_ERROR;
    }
    *docp = json_loadb(text, size, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!*docp) {
        vsw_ctl_error("port import: standard input: line %d column %d: %s "
                      "(expected what 'port export' wrote)",
                      jerr.line, jerr.column, jerr.text);
        return VSW_CTL_ERROR;
    }
    return VSW_CTL_OK;
}

/* "port import SWITCH [name=NEW] < port.json". */
static enum vsw_ctl_status
port_import(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    enum vsw_ctl_status status;
    json_t *params;
    json_t *result;
    json_t *doc;

    params = json_pack("{s:s}", "switch", argv[0]);
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "name=", 5) || !argv[i][5]) {
            json_decref(params);
            return vsw_ctl_usage_error(ctx, "expected name=NEW, got '%s'",
                                       argv[i]);
        }
        json_object_set_new(params, "name", json_string(argv[i] + 5));
    }
    status = read_document(&doc);
    if (status != VSW_CTL_OK) {
        json_decref(params);
        return status;
    }
    json_object_set_new(params, "document", doc);
    status = vsw_ctl_call(ctx, "port.import", params, &result);
    if (status == VSW_CTL_OK && ctx->format == VSW_CTL_FORMAT_JSON) {
        vsw_ctl_print_json(result);
    }
    json_decref(result);
    return status;
}

static const char *const port_name[] = {"port", NULL};
static const char *const name_only[] = {"name", NULL};

const struct vsw_ctl_command vsw_ctl_metering_commands[] = {
    {
        .noun = "metering",
        .verb = "enable",
        .args = "PORT",
        .min_args = 1,
        .max_args = 1,
        .names = port_name,
        .method = "metering.enable",
        .summary = "start counting a port's traffic",
        .help = "Sets metering=true on PORT: each meter ACL rule counts the "
                "bytes and packets\nit matches, per direction; a direction "
                "without meter rules is counted in\ntotal.  Counts are "
                "saved every metering-save-interval seconds (a switch\n"
                "setting) and at a clean shutdown, and survive restarts.\n",
        .run = vsw_ctl_run_change,
    },
    {
        .noun = "metering",
        .verb = "disable",
        .args = "PORT",
        .min_args = 1,
        .max_args = 1,
        .names = port_name,
        .method = "metering.disable",
        .summary = "stop counting a port's traffic, keeping the counts",
        .help = "Sets metering=false on PORT: its meters stop counting and "
                "keep their values.\n",
        .run = vsw_ctl_run_change,
    },
    {
        .noun = "metering",
        .verb = "reset",
        .args = "PORT",
        .min_args = 1,
        .max_args = 1,
        .names = port_name,
        .method = "metering.reset",
        .summary = "zero a port's meters",
        .help = "Sets every meter of PORT to zero and saves that.\n",
        .run = vsw_ctl_run_change,
    },
    {
        .noun = "metering",
        .verb = "show",
        .args = "PORT",
        .min_args = 1,
        .max_args = 1,
        .names = port_name,
        .method = "metering.show",
        .summary = "show a port's meters and rates",
        .help = "Shows each meter of PORT: its direction (in: toward the "
                "VM; out: from it),\nits meter rule or \"total\", bytes, "
                "packets, megabytes (10^6 bytes), and the\nrate in bits and "
                "packets per second over the last 1 s and 10 s.\n",
        .run = metering_show,
    },
    {
        .noun = "port",
        .verb = "export",
        .args = "PORT",
        .min_args = 1,
        .max_args = 1,
        .names = name_only,
        .method = "port.export",
        .summary = "write a port's whole profile as JSON (migration)",
        .help = "Prints PORT's settings, basic and extended ACL rules and "
                "meters with their\ncounts as one JSON document, for 'port "
                "import' on another switch or daemon:\n"
                "  vswitch-ctl port export vm1 > vm1.json\n"
                "The port stays; delete it once the import succeeded.\n",
        .run = port_export,
    },
    {
        .noun = "port",
        .verb = "import",
        .args = "SWITCH [name=NEW] < port.json",
        .min_args = 1,
        .max_args = 2,
        .method = "port.import",
        .summary = "create a port from an exported profile",
        .help = "Creates the port that 'port export' described (read from "
                "standard input) on\nSWITCH, named as it was or NEW, with "
                "its settings, ACL rules and meter\ncounts: all of it or "
                "nothing.  A tap port gets a new TAP device named after\n"
                "the port, with the exported MAC.\n",
        .run = port_import,
    },
    {.verb = NULL},
};
