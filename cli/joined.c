/*
 * What ovs-vsctl users expect of a command line: the flags --may-exist,
 * --if-exists and --force of a command, and commands joined with ' -- '
 * into one transaction.
 *
 * Joined commands run their own run functions, so each checks its
 * arguments as it does alone; while ctx->batch is set, vsw_ctl_call()
 * collects the call it would make, and one 'transact' call sends them
 * all.
 */
#include "ctl.h"

#include <stdio.h>
#include <string.h>

/* A command flag: the word, the param it sets to true, and the methods
 * of the commands that take it. */
static const struct ctl_flag {
    unsigned bit;                 /* VSW_CTL_FLAG_* */
    const char *word;             /* as typed */
    const char *param;            /* set to true */
    const char *const methods[5]; /* NULL-terminated */
    const char *help;             /* one line, no period */
} flags[] = {
    {VSW_CTL_FLAG_MAY_EXIST,
     "--may-exist",
     "may-exist",
     {"switch.add", "port.add", NULL},
     "an existing one of that name is no error and stays as it is"},
    {VSW_CTL_FLAG_IF_EXISTS,
     "--if-exists",
     "if-exists",
     {"switch.del", "port.del", "acl.del", "xacl.del", NULL},
     "deleting what does not exist is no error"},
    {VSW_CTL_FLAG_FORCE,
     "--force",
     "force",
     {"switch.del", NULL},
     "delete the switch with its ports"},
    {VSW_CTL_FLAG_FORGET_CONFIG,
     "--forget-config",
     "forget-config",
     {"ext.disable", NULL},
     "forget the extension's configuration on the switch too"},
};

#define N_FLAGS (sizeof flags / sizeof *flags)

unsigned
vsw_ctl_take_flags(int *argc, char *argv[])
{
    unsigned taken = 0;
    int kept = 0;

    for (int i = 0; i < *argc; i++) {
        bool is_flag = false;

        for (size_t f = 0; f < N_FLAGS && !is_flag; f++) {
            if (!strcmp(argv[i], flags[f].word)) {
                taken |= flags[f].bit;
                is_flag = true;
            }
        }
        if (!is_flag) {
            argv[kept++] = argv[i];
        }
    }
    *argc = kept;
    return taken;
}

static bool
method_in(const char *method, const char *const methods[])
{
    for (size_t i = 0; method && methods[i]; i++) {
        if (!strcmp(methods[i], method)) {
            return true;
        }
    }
    return false;
}

enum vsw_ctl_status
vsw_ctl_apply_flags(struct vsw_ctl_context *ctx, unsigned given)
{
    json_decref(ctx->flag_params);
    ctx->flag_params = NULL;
    for (size_t f = 0; f < N_FLAGS; f++) {
        if (!(given & flags[f].bit)) {
            continue;
        }
        if (!method_in(ctx->command->method, flags[f].methods)) {
            return vsw_ctl_usage_error(ctx, "%s does not apply here",
                                       flags[f].word);
        }
        if (!ctx->flag_params) {
            ctx->flag_params = json_object();
        }
        json_object_set_new(ctx->flag_params, flags[f].param, json_true());
    }
    return VSW_CTL_OK;
}

void
vsw_ctl_print_flags_help(const struct vsw_ctl_command *command)
{
    bool any = false;

    for (size_t f = 0; f < N_FLAGS; f++) {
        if (method_in(command->method, flags[f].methods)) {
            printf("%s  %-13s %s\n", any ? "" : "\nFlags (after the verb):\n",
                   flags[f].word, flags[f].help);
            any = true;
        }
    }
    if (vsw_ctl_joinable(command)) {
        printf("\nMay be joined with other changes into one transaction: "
               "CMD ARGS -- CMD ARGS...\n");
    }
}

bool
vsw_ctl_joinable(const struct vsw_ctl_command *command)
{
    static const char *const changes[] = {
        "switch.add", "switch.set", "switch.del", "port.add",
        "port.set",   "port.del",   "acl.add",    "acl.del",
        "xacl.add",   "xacl.del",   NULL,
    };

    return method_in(command->method, changes);
}

void
vsw_ctl_print_notes(const json_t *result)
{
    json_t *note;
    size_t i;

    json_array_foreach(json_object_get(result, "notes"), i, note)
    {
        if (json_is_string(note)) {
            fprintf(stderr, "vswitch-ctl: note: %s\n",
                    json_string_value(note));
        }
    }
}

enum vsw_ctl_status
vsw_ctl_run_batch(struct vsw_ctl_context *ctx)
{
    json_t *params = json_pack("{s:o}", "operations", ctx->batch);
    enum vsw_ctl_status status;
    json_t *result, *results;
    json_t *one;
    size_t i;

    ctx->batch = NULL;
    status = vsw_ctl_call(ctx, "transact", params, &result);
    if (status != VSW_CTL_OK) {
        return status;
    }
    results = vsw_ctl_result_array(result, "transact", "results");
    if (!results) {
        json_decref(result);
        return VSW_CTL_ERROR;
    }
    json_array_foreach(results, i, one)
    {
        vsw_ctl_print_notes(one);
    }
    if (ctx->format == VSW_CTL_FORMAT_JSON) {
        vsw_ctl_print_json(results);
    }
    json_decref(result);
    return VSW_CTL_OK;
}
