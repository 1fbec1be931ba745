/*
 * The settings part of the help of 'switch add', 'port set' and the like:
 * the keys a kind of object takes, with type, range or values, default
 * and meaning, as the running daemon's schema.get declares them.  The
 * daemon owns the one list of settings; a help text of our own would
 * drift from it.
 *
 * Help always succeeds: when the daemon cannot be reached, a line says
 * why in place of the list, on stdout like the rest of the help.
 */
#include "ctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc-client.h"
#include "table.h"
#include "util.h"

/* Returns the "settings" array of the entry of 'kind' in the schema.get
 * result 'result' (borrowed from it), or NULL if there is none. */
static json_t *
kind_settings(const json_t *result, const char *kind)
{
    const json_t *kinds = json_object_get(result, "kinds");

    for (size_t i = 0; i < json_array_size(kinds); i++) {
        const json_t *entry = json_array_get(kinds, i);
        const char *name = vsw_ctl_member_string(entry, "kind");
        json_t *settings = json_object_get(entry, "settings");

        if (name && !strcmp(name, kind) && json_is_array(settings)) {
            return settings;
        }
    }
    return NULL;
}

/* Asks the daemon of 'ctx' for the settings of 'kind', connecting first if
 * needed.  Returns them, a new reference the caller releases, or NULL
 * after storing in '*reasonp' why not, in a string the caller frees.
 * Unlike vsw_ctl_call() it reports nothing: a daemon out of reach is no
 * error for help. */
static json_t *
fetch_settings(struct vsw_ctl_context *ctx, const char *kind, char **reasonp)
{
    json_t *params, *result, *error, *settings = NULL;
    int retval;

    *reasonp = NULL;
    if (!ctx->client) {
        retval = vsw_rpc_client_open(ctx->socket_path, ctx->timeout_ms,
                                     &ctx->client);
        if (retval) {
            *reasonp = vsw_xasprintf("cannot connect to %s: %s",
                                     ctx->socket_path, strerror(-retval));
            return NULL;
        }
    }
    params = json_pack("{s:s}", "kind", kind);
    retval = vsw_rpc_client_call(ctx->client, "schema.get", params, &result,
                                 &error);
    json_decref(params);
    if (retval) {
        *reasonp = vsw_xasprintf("schema.get: %s", strerror(-retval));
    } else if (error) {
        const char *message = vsw_ctl_member_string(error, "message");

        *reasonp = vsw_xasprintf("schema.get: %s", message ? message : "?");
        json_decref(error);
    } else {
        settings = json_incref(kind_settings(result, kind));
        if (!settings) {
            *reasonp = vsw_xasprintf("schema.get: no settings of kind '%s' "
                                     "in the reply",
                                     kind);
        }
        json_decref(result);
    }
    return settings;
}

/* Returns 'array' of strings joined with 'separator', in a string the
 * caller frees; members that are not strings are left out. */
static char *
join_strings(const json_t *array, const char *separator)
{
    char *text = vsw_xstrdup("");

    for (size_t i = 0; i < json_array_size(array); i++) {
        const char *value = json_string_value(json_array_get(array, i));
        char *longer;

        if (value) {
            longer =
                vsw_xasprintf("%s%s%s", text, text[0] ? separator : "", value);
            free(text);
            text = longer;
        }
    }
    return text;
}

/* Appends 'part' to the "; "-separated list '*text' (NULL when empty). */
static void
append_part(char **text, char *part)
{
    char *longer;

    if (!*text) {
        *text = part;
        return;
    }
    longer = vsw_xasprintf("%s; %s", *text, part);
    free(*text);
    free(part);
    *text = longer;
}

/* Returns what else a person must know about 'setting' beyond its type,
 * default and help line: its range or values, the mode it applies to,
 * and whether it is fixed at creation ('at_creation': the help is that of
 * an add).  The caller frees the string; NULL if there is nothing. */
static char *
setting_details(const json_t *setting, bool at_creation)
{
    const char *type = vsw_ctl_member_string(setting, "type");
    const json_t *applies = json_object_get(setting, "applies-to");
    const json_t *owner = json_object_get(setting, "applies-to-owner");
    const json_t *min = json_object_get(setting, "min");
    const json_t *max = json_object_get(setting, "max");
    char *details = NULL;

    if (json_is_integer(min) && json_is_integer(max)) {
        append_part(&details,
                    vsw_xasprintf("range %" JSON_INTEGER_FORMAT
                                  "-%" JSON_INTEGER_FORMAT "%s",
                                  json_integer_value(min),
                                  json_integer_value(max),
                                  type && !strcmp(type, "bit-rate")
                                      ? " bit/s, as 800k, 10M or 1.5G"
                                      : ""));
    }
    if (json_is_array(json_object_get(setting, "values"))) {
        char *values = join_strings(json_object_get(setting, "values"), ", ");

        append_part(&details, vsw_xasprintf("values: %s", values));
        free(values);
    }
    if (json_is_object(applies)) {
        const char *mode = vsw_ctl_member_string(applies, "key");
        char *values = join_strings(json_object_get(applies, "values"), "|");

        append_part(&details, vsw_xasprintf("only with %s=%s",
                                            mode ? mode : "?", values));
        free(values);
    }
    if (json_is_object(owner)) {
        const char *kind = vsw_ctl_member_string(owner, "kind");
        const char *mode = vsw_ctl_member_string(owner, "key");
        char *values = join_strings(json_object_get(owner, "values"), "|");

        append_part(&details,
                    vsw_xasprintf("only on a %s with %s=%s", kind ? kind : "?",
                                  mode ? mode : "?", values));
        free(values);
    }
    if (at_creation && json_is_true(json_object_get(setting, "fixed"))) {
        append_part(&details, vsw_xstrdup("fixed once created"));
    }
    return details;
}

/* Prints a table of 'settings' (a schema.get settings array): the fixed
 * ones too if 'at_creation', else only those a set may change, followed
 * by a line naming the fixed ones. */
static void
print_settings(const json_t *settings, const char *kind, bool at_creation)
{
    struct vsw_table *table = vsw_table_create(true);
    json_t *fixed = json_array();

    vsw_table_add_column(table, "  KEY", VSW_TABLE_LEFT);
    vsw_table_add_column(table, "TYPE", VSW_TABLE_LEFT);
    vsw_table_add_column(table, "DEFAULT", VSW_TABLE_LEFT);
    for (size_t i = 0; i < json_array_size(settings); i++) {
        const json_t *setting = json_array_get(settings, i);
        const char *key = vsw_ctl_member_string(setting, "key");
        const char *help = vsw_ctl_member_string(setting, "help");
        char *type, *value, *details;

        if (!key) {
            continue;
        }
        if (!at_creation && json_is_true(json_object_get(setting, "fixed"))) {
            json_array_append_new(fixed, json_string(key));
            continue;
        }
        type = vsw_ctl_member_text(setting, "type");
        value = vsw_ctl_member_text(setting, "default");
        vsw_table_add_row(table);
        vsw_table_add_cellf(table, "  %s", key);
        vsw_table_add_cell(table, type);
        vsw_table_add_cell(table, value);
        if (help) {
            vsw_table_add_note(table, "      %s", help);
        }
        details = setting_details(setting, at_creation);
        if (details) {
            vsw_table_add_note(table, "      %s", details);
        }
        free(details);
        free(value);
        free(type);
    }
    printf("Settings, as the running vswitchd declares them:\n\n");
    vsw_table_print(table, stdout);
    vsw_table_destroy(table);
    if (json_array_size(fixed)) {
        char *names = join_strings(fixed, ", ");

        vsw_make_printable(names);
        printf("\nFixed when the %s is created (see 'vswitch-ctl %s add "
               "--help'):\n  %s\n",
               kind, kind, names);
        free(names);
    }
    json_decref(fixed);
}

void
vsw_ctl_print_settings_help(struct vsw_ctl_context *ctx,
                            const struct vsw_ctl_command *command)
{
    const char *kind = command->schema_kind;
    char *reason;
    json_t *settings = fetch_settings(ctx, kind, &reason);

    if (!settings) {
        vsw_make_printable(reason);
        printf("Settings: the list comes from the running vswitchd, which "
               "cannot tell now (%s).\n",
               reason);
        free(reason);
        return;
    }
    print_settings(settings, kind, command->creates);
    json_decref(settings);
}
