#include "params.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

enum param_type {
    PARAM_INTEGER, /* decimal, sent as a JSON integer */
    PARAM_BOOLEAN, /* on|off|true|false, sent as a JSON boolean */
};

/* The keys whose values are not strings.  When the daemon gains a key of
 * one of these types (storm-limit, max-bandwidth, weight, idle-timeout,
 * position...), add a row here, or it is sent as a string and refused. */
static const struct param_key {
    const char *key;      /* as the daemon names it */
    enum param_type type; /* what the value must be converted to */
} param_keys[] = {
    {"vlan", PARAM_INTEGER},
    {"native-vlan", PARAM_INTEGER},
    {"mac-ageing", PARAM_INTEGER},
    {"mac-table-size", PARAM_INTEGER},
    {"mac-limit", PARAM_INTEGER},
    {"offloads", PARAM_BOOLEAN},
    {"storm-limit", PARAM_INTEGER},
    {"pvlan-primary", PARAM_INTEGER},
    {"mac-spoofing", PARAM_BOOLEAN},
    {"mac-spoofing-guard", PARAM_BOOLEAN},
    {"dhcp-guard", PARAM_BOOLEAN},
    {"flood", PARAM_BOOLEAN},
    {"router-guard", PARAM_BOOLEAN},
    {"ieee-priority-tag", PARAM_BOOLEAN},
    {"sport", PARAM_INTEGER},
    {"dport", PARAM_INTEGER},
    {"icmp-type", PARAM_INTEGER},
    {"dhcp-op", PARAM_INTEGER},
    {"weight", PARAM_INTEGER},
    {"idle-timeout", PARAM_INTEGER},
    {"isolation-id", PARAM_INTEGER},
    {"stateful", PARAM_BOOLEAN},
    {"id", PARAM_INTEGER},
    {"arp-op", PARAM_INTEGER},
    {"live", PARAM_INTEGER},
    {"queue", PARAM_INTEGER},
    {"worker", PARAM_INTEGER},
    {"position", PARAM_INTEGER},
    {"min-bandwidth-weight", PARAM_INTEGER},
    {"metering", PARAM_BOOLEAN},
    {"metering-save-interval", PARAM_INTEGER},
    {"max-burst", PARAM_INTEGER},
    {"vni", PARAM_INTEGER},
    {"dst-port", PARAM_INTEGER},
    {"learn-unknown-vteps", PARAM_BOOLEAN},
    {"rx-balance", PARAM_BOOLEAN},
    {"flowlet-gap", PARAM_INTEGER},
};

static const struct param_key *
param_key_lookup(const char *key)
{
    for (size_t i = 0; i < sizeof param_keys / sizeof *param_keys; i++) {
        if (!strcmp(param_keys[i].key, key)) {
            return &param_keys[i];
        }
    }
    return NULL;
}

/* Stores the integer 'text' in '*value'.  Returns 0, -EINVAL if 'text' is
 * not a decimal integer, or -ERANGE if it does not fit. */
static int
parse_integer(const char *text, long long *value)
{
    char *end;

    /* strtoll() would accept leading spaces and an empty string. */
    if (!text[0] || !strchr("+-0123456789", text[0])) {
        return -EINVAL;
    }
    errno = 0;
    *value = strtoll(text, &end, 10);
    if (*end || end == text) {
        return -EINVAL;
    }
    return errno == ERANGE ? -ERANGE : 0;
}

/* Returns 'text' converted to the JSON type of 'key', as a new reference,
 * or reports why it cannot be and returns NULL. */
static json_t *
convert_value(const char *key, const char *text)
{
    const struct param_key *known = param_key_lookup(key);
    long long integer;
    json_t *value;
    int retval;

    if (!known) {
        value = json_string(text);
        if (!value) {
            vsw_ctl_error("%s: value is not valid UTF-8", key);
        }
        return value;
    }
    if (known->type == PARAM_BOOLEAN) {
        if (!strcmp(text, "on") || !strcmp(text, "true")) {
            return json_true();
        } else if (!strcmp(text, "off") || !strcmp(text, "false")) {
            return json_false();
        }
        vsw_ctl_error("%s: expected on or off, got '%s'", key, text);
        return NULL;
    }

    retval = parse_integer(text, &integer);
    if (retval == -ERANGE) {
        vsw_ctl_error("%s: integer out of range: '%s'", key, text);
        return NULL;
    } else if (retval) {
        vsw_ctl_error("%s: expected an integer, got '%s'", key, text);
        return NULL;
    }
    return json_integer(integer);
}

/* Sets member 'key' of 'params' to 'value' (taken over), refusing a key
 * that is already there. */
static enum vsw_ctl_status
add_member(const struct vsw_ctl_context *ctx, json_t *params, const char *key,
           json_t *value)
{
    if (json_object_get(params, key)) {
        json_decref(value);
        return vsw_ctl_usage_error(ctx, "'%s' given twice", key);
    }
    if (json_object_set_new(params, key, value)) {
        return vsw_ctl_usage_error(ctx, "key is not valid UTF-8");
    }
    return VSW_CTL_OK;
}

/* Adds the 'n' key=value words of 'words' to 'params'. */
static enum vsw_ctl_status
add_pairs(const struct vsw_ctl_context *ctx, json_t *params, int n,
          char *const words[])
{
    for (int i = 0; i < n; i++) {
        const char *equals = strchr(words[i], '=');
        enum vsw_ctl_status status;
        json_t *value;
        char *key;

        if (!equals || equals == words[i]) {
            return vsw_ctl_usage_error(ctx, "expected key=value, got '%s'",
                                       words[i]);
        }
        key = vsw_xstrdup(words[i]);
        key[equals - words[i]] = '\0';
        value = convert_value(key, equals + 1);
        status = value ? add_member(ctx, params, key, value) : VSW_CTL_USAGE;
        free(key);
        if (status != VSW_CTL_OK) {
            return status;
        }
    }
    return VSW_CTL_OK;
}

enum vsw_ctl_status
vsw_params_from_args(const struct vsw_ctl_context *ctx, int argc,
                     char *const argv[], json_t **paramsp)
{
    const char *const *names = ctx->command->names;
    json_t *params = json_object();
    enum vsw_ctl_status status = VSW_CTL_OK;
    int i = 0;

    for (; names && names[i] && i < argc; i++) {
        /* Positional arguments convert like key=value ones, so that
         * "dp pin-queue vm1 0 1" sends numbers. */
        json_t *value = convert_value(names[i], argv[i]);

        if (!value) {
            status = VSW_CTL_USAGE;
            break;
        }
        json_object_set_new(params, names[i], value);
    }
    if (status == VSW_CTL_OK && i < argc) {
        assert(ctx->command->pairs);
        status = add_pairs(ctx, params, argc - i, argv + i);
    }
    if (status == VSW_CTL_OK && ctx->flag_params) {
        const char *key;
        json_t *value;

        json_object_foreach(ctx->flag_params, key, value)
        {
            status = add_member(ctx, params, key, json_incref(value));
            if (status != VSW_CTL_OK) {
                break;
            }
        }
    }
    if (status != VSW_CTL_OK) {
        json_decref(params);
        params = NULL;
    }
    *paramsp = params;
    return status;
}
