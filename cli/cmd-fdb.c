/* vswitch-ctl fdb ...: the MAC learning table of a switch. */
#include "ctl.h"

#include <stdio.h>
#include <string.h>
#include <stdlib.h>

static enum vsw_ctl_status
fdb_show(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    static const struct vsw_ctl_column columns[] = {
        {"VLAN", VSW_TABLE_RIGHT, "vlan", NULL},
        {"MAC", VSW_TABLE_LEFT, "mac", NULL},
        {"PORT", VSW_TABLE_LEFT, "port", NULL},
        {"AGE", VSW_TABLE_RIGHT, "age", NULL},
    };
    enum vsw_ctl_status status;
    json_t *result, *entries;
    char *count, *max;

    status = vsw_ctl_query(ctx, argc, argv, &result);
    if (status != VSW_CTL_OK || !result) {
        return status;
    }
    entries = vsw_ctl_result_array(result, ctx->command->method, "entries");
    if (!entries) {
        json_decref(result);
        return VSW_CTL_ERROR;
    }
    vsw_ctl_print_rows(entries, columns, sizeof columns / sizeof *columns);

    /* How full the table is tells whether ageing or the size cap is what
     * keeps an address out. */
    count = vsw_ctl_member_text(result, "count");
    max = vsw_ctl_member_text(result, "max");
    printf("%s %s (max %s)\n", count, strcmp(count, "1") ? "entries" : "entry",
           max);
    free(count);
    free(max);
    json_decref(result);
    return VSW_CTL_OK;
}

const struct vsw_ctl_command vsw_ctl_fdb_commands[] = {
    {
        .noun = "fdb",
        .verb = "show",
        .args = "SWITCH",
        .min_args = 1,
        .max_args = 1,
        .names = (const char *const[]){"switch", NULL},
        .method = "fdb.show",
        .summary = "show the MAC table of a switch",
        .help = "Shows the MAC addresses SWITCH has learned: for each, its "
                "VLAN, the port it\nwas learned on and its AGE in seconds "
                "since it was last seen, then how\nmany entries the table "
                "holds and its size cap.\n",
        .run = fdb_show,
    },
    {
        .noun = "fdb",
        .verb = "flush",
        .args = "SWITCH [port=NAME]",
        .min_args = 1,
        .max_args = 2,
        .names = (const char *const[]){"switch", NULL},
        .pairs = true,
        .method = "fdb.flush",
        .summary = "forget learned MAC addresses",
        .help = "Forgets the MAC addresses SWITCH has learned, or with "
                "port=NAME only those\nlearned on that port.\n",
        .run = vsw_ctl_run_change,
    },
    {.verb = NULL},
};
