/*
 * Parameter helpers for JSON-RPC handlers (rpc-server.h): one place that
 * checks the keys and JSON types of a request's params and words the
 * errors, so that every method refuses bad input the same way.
 */
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "rpc-server.h"

int
vsw_rpc_check_keys(const json_t *params, const char *const known[],
                   struct vsw_rpc_error *err)
{
    json_t *object = (json_t *)params;

    for (void *iter = json_object_iter(object); iter;
         iter = json_object_iter_next(object, iter)) {
        const char *key = json_object_iter_key(iter);
        size_t i;

        for (i = 0; known[i] && strcmp(known[i], key); i++) {
            continue;
        }
        if (!known[i]) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "unknown parameter '%s'", key);
        }
    }
    return 0;
}

/* Stores in '*member' the member 'key' of 'params', NULL if absent.
 * Fails if it is absent and 'required'. */
static int
rpc_get_param(const json_t *params, const char *key, bool required,
              json_t **member, struct vsw_rpc_error *err)
{
    *member = json_object_get(params, key);
    if (!*member && required) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "missing parameter '%s'", key);
    }
    return 0;
}

int
vsw_rpc_get_string(const json_t *params, const char *key, bool required,
                   const char **value, struct vsw_rpc_error *err)
{
    json_t *member;
    int error = rpc_get_param(params, key, required, &member, err);

    if (error || !member) {
        return error;
    }
    if (!json_is_string(member)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "parameter '%s' must be a string", key);
    }
    *value = json_string_value(member);
    return 0;
}

int
vsw_rpc_get_int(const json_t *params, const char *key, bool required,
                long long min, long long max, long long *value,
                struct vsw_rpc_error *err)
{
    json_t *member;
    int error = rpc_get_param(params, key, required, &member, err);

    if (error || !member) {
        return error;
    }
    if (json_is_integer(member) && json_integer_value(member) >= min &&
        json_integer_value(member) <= max) {
        *value = json_integer_value(member);
        return 0;
    }
    if (min == LLONG_MIN && max == LLONG_MAX) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "parameter '%s' must be an integer", key);
    }
    return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                         "parameter '%s' must be an integer between %lld "
                         "and %lld",
                         key, min, max);
}

int
vsw_rpc_get_bool(const json_t *params, const char *key, bool required,
                 bool *value, struct vsw_rpc_error *err)
{
    json_t *member;
    int error = rpc_get_param(params, key, required, &member, err);

    if (error || !member) {
        return error;
    }
    if (!json_is_boolean(member)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "parameter '%s' must be true or false", key);
    }
    *value = json_is_true(member);
    return 0;
}
