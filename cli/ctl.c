#include "ctl.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"
#include "rpc-client.h"
#include "table.h"
#include "util.h"

/* Prints "vswitch-ctl: ", then "'context': " unless 'context' is NULL,
 * then the message. */
static void
verror(const char *context, const char *fmt, va_list args)
{
    char *message = vsw_xvasprintf(fmt, args);

    if (context) {
        fprintf(stderr, "vswitch-ctl: %s: %s\n", context, message);
    } else {
        fprintf(stderr, "vswitch-ctl: %s\n", message);
    }
    free(message);
}

void
vsw_ctl_error(const char *fmt, ...)
{
    va_list args;

    va_start(args, fmt);
    verror(NULL, fmt, args);
    va_end(args);
}

enum vsw_ctl_status
vsw_ctl_usage_error(const struct vsw_ctl_context *ctx, const char *fmt, ...)
{
    char *name = vsw_ctl_command_name(ctx->command);
    va_list args;

    va_start(args, fmt);
    verror(name, fmt, args);
    va_end(args);
    free(name);
    return VSW_CTL_USAGE;
}

char *
vsw_ctl_command_name(const struct vsw_ctl_command *command)
{
    return command->noun ? vsw_xasprintf("%s %s", command->noun, command->verb)
                         : vsw_xstrdup(command->verb);
}

/* Reports why no answer to 'method' came ('error' is a negative errno from
 * vsw_rpc_client_call()). */
static void
report_exchange_failure(const struct vsw_ctl_context *ctx, const char *method,
                        int error)
{
    switch (error) {
    case -ETIMEDOUT:
        vsw_ctl_error("%s: no reply from vswitchd within %g s (see "
                      "--timeout)",
                      method, ctx->timeout_ms / 1000.0);
        break;
    case -ECONNRESET:
    case -EPIPE:
        vsw_ctl_error("%s: vswitchd closed the connection without replying",
                      method);
        break;
    case -EMSGSIZE:
        vsw_ctl_error("%s: reply from vswitchd longer than %u MiB", method,
                      VSW_RPC_CLIENT_MAX_REPLY >> 20);
        break;
    case -EPROTO:
        vsw_ctl_error("%s: reply from vswitchd is not a JSON-RPC response",
                      method);
        break;
    default:
        vsw_ctl_error("%s: %s", method, strerror(-error));
        break;
    }
}

/* Connects 'ctx' to the daemon unless it is already. */
static enum vsw_ctl_status
connect_daemon(struct vsw_ctl_context *ctx)
{
    int retval;

    if (ctx->client) {
        return VSW_CTL_OK;
    }
    retval =
        vsw_rpc_client_open(ctx->socket_path, ctx->timeout_ms, &ctx->client);
    if (retval) {
        /* These two are what a daemon that is not running looks like. */
        bool not_running = retval == -ENOENT || retval == -ECONNREFUSED;

        vsw_ctl_error("cannot connect to %s: %s%s", ctx->socket_path,
                      strerror(-retval),
                      not_running ? " (is vswitchd running?)" : "");
        return VSW_CTL_ERROR;
    }
    return VSW_CTL_OK;
}

enum vsw_ctl_status
vsw_ctl_call(struct vsw_ctl_context *ctx, const char *method, json_t *params,
             json_t **resultp)
{
    enum vsw_ctl_status status;
    json_t *error;
    int retval;

    *resultp = NULL;
    if (ctx->batch) {
        json_array_append_new(ctx->batch, json_pack("{s:s, s:o}", "method",
                                                    method, "params", params));
        return VSW_CTL_OK;
    }
    status = connect_daemon(ctx);
    if (status != VSW_CTL_OK) {
        json_decref(params);
        return status;
    }
    retval = vsw_rpc_client_call(ctx->client, method, params, resultp, &error);
    json_decref(params);
    if (retval) {
        report_exchange_failure(ctx, method, retval);
        return VSW_CTL_ERROR;
    }
    if (error) {
        char *message = vsw_printable_dup(
            json_string_value(json_object_get(error, "message")));

        vsw_ctl_error("%s", message);
        free(message);
        json_decref(error);
        return VSW_CTL_ERROR;
    }
    vsw_ctl_print_notes(*resultp);
    return VSW_CTL_OK;
}

enum vsw_ctl_status
vsw_ctl_query(struct vsw_ctl_context *ctx, int argc, char *argv[],
              json_t **resultp)
{
    enum vsw_ctl_status status;
    json_t *params;

    *resultp = NULL;
    status = vsw_params_from_args(ctx, argc, argv, &params);
    if (status == VSW_CTL_OK) {
        status = vsw_ctl_call(ctx, ctx->command->method, params, resultp);
    }
    if (status == VSW_CTL_OK && *resultp &&
        ctx->format == VSW_CTL_FORMAT_JSON) {
        vsw_ctl_print_json(*resultp);
        json_decref(*resultp);
        *resultp = NULL;
    }
    return status;
}

enum vsw_ctl_status
vsw_ctl_run_change(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    json_t *result;
    enum vsw_ctl_status status = vsw_ctl_query(ctx, argc, argv, &result);

    /* Silence is success in table mode, as for cp or ip: the exit status
     * says it all. */
    json_decref(result);
    return status;
}

enum vsw_ctl_status
vsw_ctl_run_set(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    if (argc <= ctx->command->min_args) {
        return vsw_ctl_usage_error(ctx, "nothing to set (give key=value)");
    }
    return vsw_ctl_run_change(ctx, argc, argv);
}

enum vsw_ctl_status
vsw_ctl_run_get(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    enum vsw_ctl_status status;
    json_t *result;

    status = vsw_ctl_query(ctx, argc, argv, &result);
    if (status != VSW_CTL_OK || !result) {
        return status;
    }
    if (!json_is_object(result)) {
        vsw_ctl_error("%s: reply from vswitchd is not an object",
                      ctx->command->method);
        json_decref(result);
        return VSW_CTL_ERROR;
    }
    vsw_ctl_print_object(result);
    json_decref(result);
    return VSW_CTL_OK;
}

json_t *
vsw_ctl_result_array(const json_t *result, const char *method, const char *key)
{
    json_t *array = json_object_get(result, key);

    if (!json_is_array(array)) {
        vsw_ctl_error("%s: reply from vswitchd has no '%s' array", method,
                      key);
        return NULL;
    }
    return array;
}

void
vsw_ctl_print_json(const json_t *value)
{
    json_dumpf(value, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
    putchar('\n');
}

static bool
is_scalar(const json_t *value)
{
    return !json_is_object(value) && !json_is_array(value);
}

/* Returns the scalar 'value' as text, which the caller frees. */
static char *
scalar_text(const json_t *value)
{
    switch (json_typeof(value)) {
    case JSON_STRING:
        return vsw_xstrdup(json_string_value(value));
    case JSON_INTEGER:
        return vsw_xasprintf("%" JSON_INTEGER_FORMAT,
                             json_integer_value(value));
    case JSON_REAL:
        return vsw_xasprintf("%g", json_real_value(value));
    case JSON_TRUE:
        return vsw_xstrdup("on");
    case JSON_FALSE:
        return vsw_xstrdup("off");
    default:
        return vsw_xstrdup("-");
    }
}

/* Joins the scalars of 'array' with ",". */
static char *
array_text(const json_t *array)
{
    size_t length = 0;
    char *text = NULL;

    for (size_t i = 0; i < json_array_size(array); i++) {
        char *part = scalar_text(json_array_get(array, i));
        size_t part_length = strlen(part);

        text = vsw_xrealloc(text, length + part_length + 2);
        if (i > 0) {
            text[length++] = ',';
        }
        memcpy(text + length, part, part_length + 1);
        length += part_length;
        free(part);
    }
    return text;
}

static bool
all_scalars(const json_t *array)
{
    for (size_t i = 0; i < json_array_size(array); i++) {
        if (!is_scalar(json_array_get(array, i))) {
            return false;
        }
    }
    return true;
}

/* vsw_ctl_value_text() before it is made printable. */
static char *
raw_value_text(const json_t *value)
{
    char *json, *text;

    if (!value || json_is_null(value) ||
        (json_is_string(value) && !json_string_length(value)) ||
        (json_is_array(value) && !json_array_size(value))) {
        return vsw_xstrdup("-");
    }
    if (is_scalar(value)) {
        return scalar_text(value);
    }
    if (json_is_array(value) && all_scalars(value)) {
        return array_text(value);
    }

    /* Nested structure has no natural one-line form; show it as JSON. */
    json = json_dumps(value, JSON_COMPACT);
    text = vsw_xstrdup(json ? json : "-");
    free(json);
    return text;
}

char *
vsw_ctl_value_text(const json_t *value)
{
    char *text = raw_value_text(value);

    vsw_make_printable(text);
    return text;
}

char *
vsw_ctl_member_text(const json_t *object, const char *key)
{
    const json_t *value = json_object_get(object, key);

    /* Every "load" and "cpu" the daemon reports is a share of one core:
     * people read it as a percentage, in every table alike. */
    if ((!strcmp(key, "load") || !strcmp(key, "cpu")) &&
        json_is_number(value)) {
        return vsw_xasprintf("%.0f%%", json_number_value(value) * 100);
    }
    return vsw_ctl_value_text(value);
}

const char *
vsw_ctl_member_string(const json_t *object, const char *key)
{
    return json_string_value(json_object_get(object, key));
}

void
vsw_ctl_print_rows(const json_t *rows, const struct vsw_ctl_column columns[],
                   size_t n)
{
    struct vsw_table *table = vsw_table_create(true);

    for (size_t c = 0; c < n; c++) {
        vsw_table_add_column(table, columns[c].heading, columns[c].align);
    }
    for (size_t i = 0; i < json_array_size(rows); i++) {
        const json_t *row = json_array_get(rows, i);

        vsw_table_add_row(table);
        for (size_t c = 0; c < n; c++) {
            char *text = columns[c].text
                             ? columns[c].text(row)
                             : vsw_ctl_member_text(row, columns[c].key);

            vsw_table_add_cell(table, text);
            free(text);
        }
    }
    vsw_table_print(table, stdout);
    vsw_table_destroy(table);
}

enum vsw_ctl_status
vsw_ctl_run_list(struct vsw_ctl_context *ctx, int argc, char *argv[],
                 const char *key, const struct vsw_ctl_column columns[],
                 size_t n)
{
    enum vsw_ctl_status status;
    json_t *result, *rows;

    status = vsw_ctl_query(ctx, argc, argv, &result);
    if (status != VSW_CTL_OK || !result) {
        return status;
    }
    rows = vsw_ctl_result_array(result, ctx->command->method, key);
    if (!rows) {
        json_decref(result);
        return VSW_CTL_ERROR;
    }
    vsw_ctl_print_rows(rows, columns, n);
    json_decref(result);
    return VSW_CTL_OK;
}

/* True if 'value' is a non-empty array of objects, which reads best as a
 * table. */
static bool
is_object_array(const json_t *value)
{
    if (!json_is_array(value) || !json_array_size(value)) {
        return false;
    }
    for (size_t i = 0; i < json_array_size(value); i++) {
        if (!json_is_object(json_array_get(value, i))) {
            return false;
        }
    }
    return true;
}

/* Prints the objects of 'rows' as a table with a column for each key any
 * of them has, in order of first appearance, headed by the key in
 * capitals. */
static void
print_object_array(const json_t *rows)
{
    /* Ordered set of the keys, each mapped to whether it holds numbers. */
    json_t *keys = json_object();
    struct vsw_table *table = vsw_table_create(true);

    for (size_t i = 0; i < json_array_size(rows); i++) {
        json_t *row = json_array_get(rows, i);

        for (void *iter = json_object_iter(row); iter;
             iter = json_object_iter_next(row, iter)) {
            const char *key = json_object_iter_key(iter);

            if (!json_object_get(keys, key)) {
                json_object_set_new(keys, key,
                                    json_boolean(json_is_number(
                                        json_object_iter_value(iter))));
            }
        }
    }
    for (void *iter = json_object_iter(keys); iter;
         iter = json_object_iter_next(keys, iter)) {
        char *heading = vsw_xstrdup(json_object_iter_key(iter));

        for (char *c = heading; *c; c++) {
            *c = toupper((unsigned char)*c);
        }
        vsw_table_add_column(table, heading,
                             json_is_true(json_object_iter_value(iter))
                                 ? VSW_TABLE_RIGHT
                                 : VSW_TABLE_LEFT);
        free(heading);
    }
    for (size_t i = 0; i < json_array_size(rows); i++) {
        const json_t *row = json_array_get(rows, i);

        vsw_table_add_row(table);
        for (void *iter = json_object_iter(keys); iter;
             iter = json_object_iter_next(keys, iter)) {
            char *text = vsw_ctl_member_text(row, json_object_iter_key(iter));

            vsw_table_add_cell(table, text);
            free(text);
        }
    }
    vsw_table_print(table, stdout);
    vsw_table_destroy(table);
    json_decref(keys);
}

void
vsw_ctl_print_object(json_t *object)
{
    struct vsw_table *table = vsw_table_create(false);

    vsw_table_add_column(table, "KEY", VSW_TABLE_LEFT);
    vsw_table_add_column(table, "VALUE", VSW_TABLE_LEFT);
    for (void *iter = json_object_iter(object); iter;
         iter = json_object_iter_next(object, iter)) {
        const json_t *value = json_object_iter_value(iter);
        char *text = is_object_array(value)
                         ? vsw_xasprintf("%zu", json_array_size(value))
                         : vsw_ctl_value_text(value);

        vsw_table_add_row(table);
        vsw_table_add_cell(table, json_object_iter_key(iter));
        vsw_table_add_cell(table, text);
        free(text);
    }
    vsw_table_print(table, stdout);
    vsw_table_destroy(table);

    for (void *iter = json_object_iter(object); iter;
         iter = json_object_iter_next(object, iter)) {
        const json_t *value = json_object_iter_value(iter);

        if (is_object_array(value)) {
            char *key = vsw_printable_dup(json_object_iter_key(iter));

            printf("\n%s:\n", key);
            free(key);
            print_object_array(value);
        }
    }
}
