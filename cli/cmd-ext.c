/* vswitch-ctl ext: load extensions, enable them on switches, configure
 * them, and see what they do. */
#include "ctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* The switches an extension runs on, "sw1#0,sw2#1!" ('!': tripped). */
static char *
switches_text(const json_t *row)
{
    const json_t *switches = json_object_get(row, "switches");
    size_t cap = 1;
    char *text;

    for (size_t i = 0; i < json_array_size(switches); i++) {
        cap +=
            strlen(vsw_ctl_member_string(json_array_get(switches, i), "switch")
                       ?: "") +
            24;
    }
    text = calloc(1, cap);
    if (!text) {
        return NULL;
    }
    for (size_t i = 0; i < json_array_size(switches); i++) {
        const json_t *b = json_array_get(switches, i);
        size_t len = strlen(text);

        snprintf(text + len, cap - len, "%s%s#%lld%s%s", i ? "," : "",
                 vsw_ctl_member_string(b, "switch") ?: "?",
                 (long long)json_integer_value(json_object_get(b, "position")),
                 json_is_true(json_object_get(b, "tripped")) ? "!" : "",
                 json_is_false(json_object_get(b, "running")) ? "(stopped)"
                                                              : "");
    }
    if (!text[0]) {
        free(text);
        return vsw_xasprintf("-");
    }
    return text;
}

/* Calls the command's method and prints array 'key' of its result as a
 * table of 'columns', then a line for each row that carries an "error"
 * (an extension that is not ready, in ext list). */
static enum vsw_ctl_status
print_result_table(struct vsw_ctl_context *ctx, int argc, char *argv[],
                   const char *key, const struct vsw_ctl_column *columns,
                   size_t n_columns)
{
    enum vsw_ctl_status status;
    json_t *result;
    json_t *rows;

    status = vsw_ctl_query(ctx, argc, argv, &result);
    if (status != VSW_CTL_OK || !result) {
        return status;
    }
    rows = vsw_ctl_result_array(result, ctx->command->method, key);
    if (rows) {
        vsw_ctl_print_rows(rows, columns, n_columns);
        for (size_t i = 0; i < json_array_size(rows); i++) {
            const json_t *row = json_array_get(rows, i);
            const char *error = vsw_ctl_member_string(row, "error");

            if (error) {
                printf("%s: %s\n", vsw_ctl_member_string(row, "name"), error);
            }
        }
    }
    json_decref(result);
    return rows ? VSW_CTL_OK : VSW_CTL_ERROR;
}

static enum vsw_ctl_status
ext_list_cmd(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    static const struct vsw_ctl_column columns[] = {
        {"NAME", VSW_TABLE_LEFT, "name", NULL},
        {"CLASS", VSW_TABLE_LEFT, "class", NULL},
        {"VERSION", VSW_TABLE_LEFT, "version", NULL},
        {"ABI", VSW_TABLE_LEFT, "abi", NULL},
        {"FAIL", VSW_TABLE_LEFT, "fail", NULL},
        {"STATE", VSW_TABLE_LEFT, "state", NULL},
        {"SWITCHES", VSW_TABLE_LEFT, NULL, switches_text},
        {"PATH", VSW_TABLE_LEFT, "path", NULL},
    };

    return print_result_table(ctx, argc, argv, "extensions", columns,
                              sizeof columns / sizeof *columns);
}

static enum vsw_ctl_status
ext_stats_cmd(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    static const struct vsw_ctl_column columns[] = {
        {"NAME", VSW_TABLE_LEFT, "name", NULL},
        {"SWITCH", VSW_TABLE_LEFT, "switch", NULL},
        {"TRIPPED", VSW_TABLE_LEFT, "tripped", NULL},
        {"PACKETS", VSW_TABLE_RIGHT, "packets", NULL},
        {"DROPPED", VSW_TABLE_RIGHT, "dropped", NULL},
        {"ABORTED", VSW_TABLE_RIGHT, "aborted", NULL},
        {"REFUSED", VSW_TABLE_RIGHT, "refused", NULL},
        {"ERRORS", VSW_TABLE_RIGHT, "errors", NULL},
        {"INJECTED", VSW_TABLE_RIGHT, "injected", NULL},
        {"TIME-NS", VSW_TABLE_RIGHT, "time-ns", NULL},
        {"EXT", VSW_TABLE_LEFT, "ext", NULL},
    };

    return print_result_table(ctx, argc, argv, "stats", columns,
                              sizeof columns / sizeof *columns);
}

/* ext config SWITCH NAME JSON: the JSON goes as an object, not a
 * string. */
static enum vsw_ctl_status
ext_config_cmd(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    json_error_t error;
    json_t *config = json_loads(argv[2], 0, &error);
    enum vsw_ctl_status status;
    json_t *result;

    (void)argc;
    if (!json_is_object(config)) {
        json_decref(config);
        return vsw_ctl_usage_error(ctx, "the configuration must be a JSON "
                                        "object, e.g. '{\"key\": 1}'");
    }
    status = vsw_ctl_call(ctx, "ext.config",
                          json_pack("{s:s, s:s, s:o}", "switch", argv[0],
                                    "name", argv[1], "config", config),
                          &result);
    if (status == VSW_CTL_OK && ctx->format == VSW_CTL_FORMAT_JSON) {
        vsw_ctl_print_json(result);
    }
    json_decref(result);
    return status;
}

static const char *const load_names[] = {"path", NULL};
static const char *const switch_name_names[] = {"switch", "name", NULL};
static const char *const name_names[] = {"name", NULL};
static const char *const name_switch_names[] = {"name", "switch", NULL};
static const char *const name_path_names[] = {"name", "path", NULL};

const struct vsw_ctl_command vsw_ctl_ext_commands[] = {
    {
        .noun = "ext",
        .verb = "load",
        .args = "PATH",
        .min_args = 1,
        .max_args = 1,
        .names = load_names,
        .method = "ext.load",
        .summary = "load an extension (.so) into the daemon",
        .help = "Loads the extension at PATH, an absolute path to a file "
                "owned by root or the\ndaemon's user and writable by no one "
                "else.  The daemon checks the file and\nits descriptor "
                "(magic, ABI version, size) before it runs any of its "
                "code,\nthen calls its init.  A loaded extension does "
                "nothing until it is enabled\non a switch.  It stays "
                "loaded across restarts.\n",
        .run = vsw_ctl_run_change,
    },
    {
        .noun = "ext",
        .verb = "list",
        .args = "",
        .min_args = 0,
        .max_args = 0,
        .method = "ext.list",
        .summary = "list loaded extensions and where they are enabled",
        .help = "Lists every extension with its class (capture, filter, "
                "forwarding), version,\nABI, failure policy, state (ready, "
                "failed, quarantined) and the switches it\nis enabled on "
                "as SWITCH#POSITION ('!' after it: circuit breaker open).\n",
        .run = ext_list_cmd,
    },
    {
        .noun = "ext",
        .verb = "enable",
        .args = "SWITCH NAME [position=N]",
        .min_args = 2,
        .max_args = 3,
        .names = switch_name_names,
        .pairs = true,
        .method = "ext.enable",
        .summary = "enable an extension on a switch, or move it",
        .help = "Enables extension NAME on SWITCH, at position N of the "
                "switch's extensions\n(0 is first; default: last).  Within "
                "each class, extensions see packets in\nthis order.  On an "
                "extension that is already enabled, position=N moves it.\n"
                "Traffic keeps flowing throughout.  A switch has at most "
                "one forwarding\nextension.\n",
        .run = vsw_ctl_run_change,
    },
    {
        .noun = "ext",
        .verb = "disable",
        .args = "SWITCH NAME",
        .min_args = 2,
        .max_args = 2,
        .names = switch_name_names,
        .method = "ext.disable",
        .summary = "disable an extension on a switch",
        .help = "Disables extension NAME on SWITCH.  Its configuration "
                "there is kept for the\nnext enable on SWITCH, unless "
                "--forget-config is given.  The extension\nstays loaded.\n",
        .run = vsw_ctl_run_change,
    },
    {
        .noun = "ext",
        .verb = "config",
        .args = "SWITCH NAME JSON",
        .min_args = 3,
        .max_args = 3,
        .method = "ext.config",
        .summary = "configure an extension on a switch",
        .help = "Gives extension NAME on SWITCH the configuration JSON (an "
                "object; its keys\nare the extension's, see its "
                "documentation).  If the extension refuses it,\nthe old "
                "configuration stays.  The configuration is saved.\n",
        .run = ext_config_cmd,
    },
    {
        .noun = "ext",
        .verb = "stats",
        .args = "[NAME]",
        .min_args = 0,
        .max_args = 1,
        .names = name_names,
        .method = "ext.stats",
        .summary = "show what extensions did with packets",
        .help = "Shows, per extension and switch: packets handed to it, "
                "packets it dropped,\nverdicts it aborted, verdicts its "
                "class may not give (refused), errors it\nreported, frames "
                "it injected, time spent in it, and the extension's own\n"
                "figures.\n",
        .run = ext_stats_cmd,
    },
    {
        .noun = "ext",
        .verb = "unquarantine",
        .args = "NAME",
        .min_args = 1,
        .max_args = 1,
        .names = name_names,
        .method = "ext.unquarantine",
        .summary = "load again an extension that crashed or hung",
        .help = "An extension that crashed the daemon or hung a thread is "
                "quarantined at the\nnext start: not loaded, its switches "
                "kept in the configuration.  This loads\nit again and "
                "restarts it on those switches.\n",
        .run = vsw_ctl_run_change,
    },
    {
        .noun = "ext",
        .verb = "unload",
        .args = "NAME",
        .min_args = 1,
        .max_args = 1,
        .names = name_names,
        .method = "ext.unload",
        .summary = "disable an extension everywhere and unload it",
        .help = "Disables extension NAME on every switch, forgets it in the "
                "configuration,\nand once no worker is inside it calls its "
                "stop and fini and unmaps it.\nWorks on ready, failed, "
                "missing and quarantined extensions.\n",
        .run = vsw_ctl_run_change,
    },
    {
        .noun = "ext",
        .verb = "reset",
        .args = "NAME SWITCH",
        .min_args = 2,
        .max_args = 2,
        .names = name_switch_names,
        .method = "ext.reset",
        .summary = "close an extension's circuit breaker on a switch",
        .help = "Closes the circuit breaker of extension NAME on SWITCH: it "
                "processes packets\nagain, with the configuration it has.  "
                "Nothing is restarted or forgotten.\n",
        .run = vsw_ctl_run_change,
    },
    {
        .noun = "ext",
        .verb = "reload",
        .args = "NAME [PATH]",
        .min_args = 1,
        .max_args = 2,
        .names = name_path_names,
        .method = "ext.reload",
        .summary = "replace a running extension by a new build, live",
        .help = "Loads the file at PATH (default: the path NAME was loaded "
                "from) with every\nload check, initialises it, starts it "
                "with each switch's configuration and\nswaps it in between "
                "two batches of frames; the old version is stopped and\n"
                "unloaded once no worker is inside it.  If anything fails, "
                "the old version\nkeeps running unchanged.\n",
        .run = vsw_ctl_run_change,
    },
    {.verb = NULL},
};
