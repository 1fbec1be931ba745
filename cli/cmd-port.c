/* vswitch-ctl port ...: add, change, inspect and count ports. */
#include "ctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static bool
port_is_trunk(const json_t *port)
{
    const char *mode = vsw_ctl_member_string(port, "vlan-mode");

    return mode && !strcmp(mode, "trunk");
}

/* The "trunks" of 'port' as text: "all" for a trunk without a list,
 * which is what no list means, else the list as it is. */
static char *
port_trunks_text(const json_t *port)
{
    const json_t *trunks = json_object_get(port, "trunks");

    if (port_is_trunk(port) &&
        (!trunks || json_is_null(trunks) ||
         (json_is_string(trunks) && !json_string_length(trunks)))) {
        return vsw_xstrdup("all");
    }
    return vsw_ctl_member_text(port, "trunks");
}

/* The VLAN untagged frames of 'port' belong to: the access VLAN, or a
 * trunk's native VLAN; "-" for an untagged port. */
static char *
port_vlan_column(const json_t *port)
{
    const char *mode = vsw_ctl_member_string(port, "vlan-mode");

    if (!mode || !strcmp(mode, "untagged")) {
        return vsw_xstrdup("-");
    }
    return vsw_ctl_member_text(port,
                               port_is_trunk(port) ? "native-vlan" : "vlan");
}

static char *
port_trunks_column(const json_t *port)
{
    return port_is_trunk(port) ? port_trunks_text(port) : vsw_xstrdup("-");
}

char *
vsw_ctl_port_vlan_text(const json_t *port)
{
    const char *mode = vsw_ctl_member_string(port, "vlan-mode");
    const json_t *native = json_object_get(port, "native-vlan");
    char *value, *trunks, *text;

    if (!mode || !strcmp(mode, "untagged")) {
        return vsw_xstrdup(mode ? mode : "-");
    }
    if (!strncmp(mode, "pvlan-", 6)) {
        char *primary = vsw_ctl_member_text(port, "pvlan-primary");
        char *secondary = vsw_ctl_member_text(port, "pvlan-secondary");

        text = vsw_xasprintf("%s primary %s, secondary %s", mode, primary,
                             secondary);
        free(primary);
        free(secondary);
        return text;
    }
    if (!port_is_trunk(port)) {
        value = vsw_ctl_member_text(port, "vlan");
        text = vsw_xasprintf("%s %s", mode, value);
        free(value);
        return text;
    }
    trunks = port_trunks_text(port);
    if (!native || json_is_null(native)) {
        text = vsw_xasprintf("trunk %s", trunks);
    } else {
        value = vsw_ctl_value_text(native);
        text = vsw_xasprintf("trunk %s, native %s", trunks, value);
        free(value);
    }
    free(trunks);
    return text;
}

/* --from-file FILE of 'port add' and 'port del', taken out before the
 * global options are parsed; NULL when not given. */
static const char *from_file;

enum vsw_ctl_status
vsw_ctl_port_take_options(int *argc, char *argv[])
{
    static const char option[] = "--from-file";
    int first = 0;
    int kept = 0;

    /* Only the words of 'port': the first word that is no option. */
    while (first < *argc && argv[first][0] == '-') {
        bool takes_value = !strcmp(argv[first], "--socket") ||
                           !strcmp(argv[first], "--format") ||
                           !strcmp(argv[first], "-f") ||
                           !strcmp(argv[first], "--timeout");

        first += takes_value ? 2 : 1;
    }
    if (first >= *argc || strcmp(argv[first], "port")) {
        return VSW_CTL_OK;
    }
    for (int i = 0; i < *argc; i++) {
        if (!strcmp(argv[i], option)) {
            if (i + 1 >= *argc) {
                vsw_ctl_error("port: option '%s' needs a file", option);
                return VSW_CTL_USAGE;
            }
            from_file = argv[++i];
        } else if (!strncmp(argv[i], option, strlen(option)) &&
                   argv[i][strlen(option)] == '=') {
            from_file = argv[i] + strlen(option) + 1;
        } else {
            argv[kept++] = argv[i];
        }
    }
    *argc = kept;
    return VSW_CTL_OK;
}

/* The JSON array in 'from_file' ("-": standard input), whose entries must
 * be objects ('objects') or strings.  Returns NULL after saying why. */
static json_t *
read_list_file(const struct vsw_ctl_context *ctx, bool objects)
{
    json_error_t error;
    json_t *list;
    size_t i;
    json_t *entry;

    list = !strcmp(from_file, "-")
               ? json_loadf(stdin, JSON_REJECT_DUPLICATES, &error)
               : json_load_file(from_file, JSON_REJECT_DUPLICATES, &error);
    if (!list) {
        vsw_ctl_error("%s: line %d: %s", from_file, error.line, error.text);
        return NULL;
    }
    if (!json_is_array(list) || !json_array_size(list)) {
        vsw_ctl_usage_error(ctx, "%s: expected a JSON array of %s", from_file,
                            objects ? "port objects" : "port names");
        json_decref(list);
        return NULL;
    }
    json_array_foreach(list, i, entry)
    {
        if (objects ? !json_is_object(entry) : !json_is_string(entry)) {
            vsw_ctl_usage_error(ctx, "%s: entry %zu is not %s", from_file, i,
                                objects ? "an object" : "a port name");
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

/* Calls the command's method with the list form: 'params' (taken over)
 * plus "ports": 'list' (taken over). */
static enum vsw_ctl_status
port_call_list(struct vsw_ctl_context *ctx, json_t *params, json_t *list)
{
    enum vsw_ctl_status status;
    json_t *result;

    json_object_set_new(params, "ports", list);
    status = vsw_ctl_call(ctx, ctx->command->method, params, &result);
    if (status == VSW_CTL_OK && result && ctx->format == VSW_CTL_FORMAT_JSON) {
        vsw_ctl_print_json(result);
    }
    json_decref(result);
    return status;
}

/* The type decides whether the daemon creates a device or takes over an
 * existing one: too much to leave to a default, so it is required.  With
 * --from-file, the file has each port's params. */
static enum vsw_ctl_status
port_add(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    if (from_file) {
        json_t *list;

        if (argc != 1 || ctx->flag_params) {
            return vsw_ctl_usage_error(ctx, "with --from-file, give only "
                                            "SWITCH (the file has the rest)");
        }
        list = read_list_file(ctx, true);
        if (!list) {
            return VSW_CTL_USAGE;
        }
        return port_call_list(ctx, json_pack("{s:s}", "switch", argv[0]),
                              list);
    }
    if (argc < 2 || strchr(argv[1], '=')) {
        return vsw_ctl_usage_error(ctx,
                                   "missing arguments (usage: vswitch-ctl "
                                   "port add %s)",
                                   ctx->command->args);
    }
    for (int i = 2; i < argc; i++) {
        if (!strncmp(argv[i], "type=", strlen("type="))) {
            return vsw_ctl_run_change(ctx, argc, argv);
        }
    }
    return vsw_ctl_usage_error(ctx, "missing type=tap|uplink|vhost-user");
}

/* One name: port.del as it is.  Several, or --from-file: the list form,
 * all or nothing. */
static enum vsw_ctl_status
port_del(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    json_t *params, *list;

    if (from_file && argc) {
        return vsw_ctl_usage_error(ctx, "give NAMEs or --from-file, not "
                                        "both");
    }
    if (!from_file && !argc) {
        return vsw_ctl_usage_error(ctx,
                                   "missing arguments (usage: vswitch-ctl "
                                   "port del %s)",
                                   ctx->command->args);
    }
    if (argc == 1) {
        return vsw_ctl_run_change(ctx, argc, argv);
    }
    if (from_file) {
        list = read_list_file(ctx, false);
        if (!list) {
            return VSW_CTL_USAGE;
        }
    } else {
        list = json_array();
        for (int i = 0; i < argc; i++) {
            json_array_append_new(list, json_string(argv[i]));
        }
    }
    params =
        ctx->flag_params ? json_deep_copy(ctx->flag_params) : json_object();
    return port_call_list(ctx, params, list);
}

static enum vsw_ctl_status
port_get(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    struct vsw_table *table;
    enum vsw_ctl_status status;
    json_t *result;

    status = vsw_ctl_query(ctx, argc, argv, &result);
    if (status != VSW_CTL_OK || !result) {
        return status;
    }
    if (!json_is_object(result)) {
        vsw_ctl_error("%s: reply from vswitchd is not a port",
                      ctx->command->method);
        json_decref(result);
        return VSW_CTL_ERROR;
    }

    /* Every member, known or not, so that fields the daemon adds later
     * show without a change here. */
    table = vsw_table_create(false);
    vsw_table_add_column(table, "KEY", VSW_TABLE_LEFT);
    vsw_table_add_column(table, "VALUE", VSW_TABLE_LEFT);
    for (void *iter = json_object_iter(result); iter;
         iter = json_object_iter_next(result, iter)) {
        const char *key = json_object_iter_key(iter);
        char *text = !strcmp(key, "trunks")
                         ? port_trunks_text(result)
                         : vsw_ctl_value_text(json_object_iter_value(iter));

        vsw_table_add_row(table);
        vsw_table_add_cell(table, key);
        vsw_table_add_cell(table, text);
        free(text);
    }
    vsw_table_print(table, stdout);
    vsw_table_destroy(table);
    json_decref(result);
    return VSW_CTL_OK;
}

static enum vsw_ctl_status
port_list(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    static const struct vsw_ctl_column columns[] = {
        {"NAME", VSW_TABLE_LEFT, "name", NULL},
        {"SWITCH", VSW_TABLE_LEFT, "switch", NULL},
        {"TYPE", VSW_TABLE_LEFT, "type", NULL},
        {"IFNAME", VSW_TABLE_LEFT, "ifname", NULL},
        {"VLAN-MODE", VSW_TABLE_LEFT, "vlan-mode", NULL},
        {"VLAN", VSW_TABLE_RIGHT, NULL, port_vlan_column},
        {"TRUNKS", VSW_TABLE_LEFT, NULL, port_trunks_column},
        {"LINK", VSW_TABLE_LEFT, "link", NULL},
    };

    return vsw_ctl_run_list(ctx, argc, argv, "ports", columns,
                            sizeof columns / sizeof *columns);
}

/* Attaches to the current row of 'table' a note for each drop reason of
 * 'port', or only for those with packets unless 'all'. */
static void
add_drop_notes(struct vsw_table *table, const json_t *port, bool all)
{
    json_t *drops = json_object_get(port, "drops");

    for (void *iter = json_object_iter(drops); iter;
         iter = json_object_iter_next(drops, iter)) {
        const json_t *count = json_object_iter_value(iter);

        if (all || !json_is_integer(count) || json_integer_value(count)) {
            char *text = vsw_ctl_value_text(count);

            vsw_table_add_note(table, "  drop %s: %s",
                               json_object_iter_key(iter), text);
            free(text);
        }
    }
}

/* Attaches to the current row of 'table' the depth of 'port''s shaper
 * queues (max-bandwidth), if 'all' or anything is queued. */
static void
add_queue_notes(struct vsw_table *table, const json_t *port, bool all)
{
    static const char *const dirs[] = {"out", "in"};

    for (int d = 0; d < 2; d++) {
        char key[32];
        json_int_t frames, bytes;

        snprintf(key, sizeof key, "queued-%s-frames", dirs[d]);
        frames = json_integer_value(json_object_get(port, key));
        snprintf(key, sizeof key, "queued-%s-bytes", dirs[d]);
        bytes = json_integer_value(json_object_get(port, key));
        if (all || frames || bytes) {
            vsw_table_add_note(table,
                               "  shaper queue %s: %lld frames, %lld bytes",
                               dirs[d], (long long)frames, (long long)bytes);
        }
    }
}

/* Attaches to the current row of 'table' the mirror copies 'port' was
 * sent as a mirror destination, if there were any (a port that is no
 * destination has none, so a line of zeros would only be noise). */
static void
add_mirror_note(struct vsw_table *table, const json_t *port)
{
    json_int_t packets =
        json_integer_value(json_object_get(port, "mirror-tx-packets"));
    json_int_t bytes =
        json_integer_value(json_object_get(port, "mirror-tx-bytes"));

    if (packets || bytes) {
        vsw_table_add_note(table,
                           "  mirror copies sent: %lld packets, %lld "
                           "bytes",
                           (long long)packets, (long long)bytes);
    }
}

static enum vsw_ctl_status
port_stats(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    static const struct vsw_ctl_column columns[] = {
        {"PORT", VSW_TABLE_LEFT, "name", NULL},
        {"RX-PACKETS", VSW_TABLE_RIGHT, "rx-packets", NULL},
        {"RX-BYTES", VSW_TABLE_RIGHT, "rx-bytes", NULL},
        {"TX-PACKETS", VSW_TABLE_RIGHT, "tx-packets", NULL},
        {"TX-BYTES", VSW_TABLE_RIGHT, "tx-bytes", NULL},
        {"DROPS-TOTAL", VSW_TABLE_RIGHT, "drops-total", NULL},
    };
    const size_t n_columns = sizeof columns / sizeof *columns;
    struct vsw_table *table;
    enum vsw_ctl_status status;
    json_t *result, *ports;

    status = vsw_ctl_query(ctx, argc, argv, &result);
    if (status != VSW_CTL_OK || !result) {
        return status;
    }
    ports = vsw_ctl_result_array(result, ctx->command->method, "ports");
    if (!ports) {
        json_decref(result);
        return VSW_CTL_ERROR;
    }

    table = vsw_table_create(true);
    for (size_t c = 0; c < n_columns; c++) {
        vsw_table_add_column(table, columns[c].heading, columns[c].align);
    }
    for (size_t i = 0; i < json_array_size(ports); i++) {
        const json_t *port = json_array_get(ports, i);

        vsw_table_add_row(table);
        for (size_t c = 0; c < n_columns; c++) {
            char *text = vsw_ctl_member_text(port, columns[c].key);

            vsw_table_add_cell(table, text);
            free(text);
        }
        /* Asked about one port, the user wants the whole story, zeros
         * included; in a list, only what went wrong. */
        add_drop_notes(table, port, argc == 1);
        add_queue_notes(table, port, argc == 1);
        add_mirror_note(table, port);
    }
    vsw_table_print(table, stdout);
    vsw_table_destroy(table);
    json_decref(result);
    return VSW_CTL_OK;
}

const struct vsw_ctl_command vsw_ctl_port_commands[] = {
    {
        .noun = "port",
        .verb = "add",
        .args = "SWITCH NAME type=tap|uplink|vhost-user [key=value...] | "
                "SWITCH --from-file FILE",
        .min_args = 1,
        .max_args = -1,
        .names = (const char *const[]){"switch", "name", NULL},
        .pairs = true,
        .method = "port.add",
        .summary = "add a port to a switch",
        .help = "Adds the port NAME to SWITCH.  type= is required:\n\n"
                "  type=tap      a TAP device that vswitchd creates and "
                "holds, for a VM or a\n"
                "                network namespace\n"
                "  type=uplink   an existing netdev (NIC, veth), attached "
                "with AF_PACKET\n\n"
                "Any other setting may be given too, as key=value.\n\n"
                "For example:\n\n"
                "  vswitch-ctl port add sw0 vm1 type=tap "
                "mac=02:00:00:00:00:01\n"
                "  vswitch-ctl port add sw0 up1 type=uplink ifname=eth1 "
                "offloads=off\n\n"
                "Many ports at once, all or nothing in one commit: "
                "--from-file FILE (\"-\":\nstandard input) holds a JSON "
                "array of up to 4096 objects, each the\nparams of one port "
                "(\"name\", \"type\", settings):\n\n"
                "  vswitch-ctl port add sw0 --from-file ports.json\n",
        .schema_kind = "port",
        .creates = true,
        .run = port_add,
    },
    {
        .noun = "port",
        .verb = "del",
        .args = "NAME... | --from-file FILE",
        .min_args = 0,
        .max_args = -1,
        .names = (const char *const[]){"name", NULL},
        .method = "port.del",
        .summary = "remove ports from their switch",
        .help = "Removes the port NAME from its switch.  Several NAMEs, or "
                "--from-file FILE\n(a JSON array of up to 4096 names, \"-\": "
                "standard input), remove them all\nor none, in one commit.\n",
        .run = port_del,
    },
    {
        .noun = "port",
        .verb = "set",
        .args = "NAME key=value...",
        .min_args = 1,
        .max_args = -1,
        .names = (const char *const[]){"name", NULL},
        .pairs = true,
        .method = "port.set",
        .summary = "change settings of a port",
        .help = "Changes settings of the port NAME, given as key=value; "
                "the others keep\ntheir value, except that a new vlan-mode "
                "starts from its defaults.\n\n"
                "For example:\n\n"
                "  vswitch-ctl port set vm1 vlan-mode=access vlan=10\n"
                "  vswitch-ctl port set up1 vlan-mode=trunk trunks=10,20-30 "
                "native-vlan=1\n",
        .schema_kind = "port",
        .run = vsw_ctl_run_set,
    },
    {
        .noun = "port",
        .verb = "get",
        .args = "NAME",
        .min_args = 1,
        .max_args = 1,
        .names = (const char *const[]){"name", NULL},
        .method = "port.get",
        .summary = "show a port's settings and state",
        .help = "Shows every setting and state of the port NAME, one per "
                "line.  A trunk that\ncarries all VLANs shows 'trunks all'; "
                "an unset value shows '-'.\n",
        .run = port_get,
    },
    {
        .noun = "port",
        .verb = "list",
        .args = "[SWITCH]",
        .min_args = 0,
        .max_args = 1,
        .names = (const char *const[]){"switch", NULL},
        .method = "port.list",
        .summary = "list ports",
        .help = "Lists the ports of every switch, or of SWITCH.  VLAN is the "
                "access VLAN or,\nfor a trunk, its native VLAN; TRUNKS is "
                "shown for trunks only.\n",
        .run = port_list,
    },
    {
        .noun = "port",
        .verb = "stats",
        .args = "[NAME]",
        .min_args = 0,
        .max_args = 1,
        .names = (const char *const[]){"name", NULL},
        .method = "port.stats",
        .summary = "show traffic and drop counters",
        .help =
            "Shows the receive (RX) and transmit (TX) packet and byte "
            "counters of each\n"
            "port, and the packets dropped on it (DROPS-TOTAL).  Under a port "
            "with drops, a\n"
            "line per reason that counted any follows.  With NAME, that "
            "port only, with\n"
            "every reason, zeros included.\n",
        .run = port_stats,
    },
    {.verb = NULL},
};
