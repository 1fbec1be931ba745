/*
 * Command-line words to JSON-RPC params.
 *
 * The daemon is strict about JSON types, so the JSON type of a key=value
 * word comes from a table of the keys known to take integers or booleans
 * (params.c); any other key is sent as a string, and the daemon decides
 * whether it knows it.  Keys are the daemon's own names, kebab-case.
 */
#ifndef VSW_PARAMS_H
#define VSW_PARAMS_H 1

#include <jansson.h>

#include "ctl.h"

/* Builds the params of the command 'ctx' runs from its 'argc' arguments
 * 'argv': the leading ones become string members named by the command's
 * 'names', the rest, if the command takes 'pairs', key=value members
 * converted to the key's type, and the members of ctx->flag_params.
 * Stores a new object, which the caller
 * releases, in '*paramsp', or fails, as a usage error, on a word without
 * '=', a key given twice, a value that does not fit its key's type, or
 * text that is not UTF-8, and stores NULL. */
enum vsw_ctl_status vsw_params_from_args(const struct vsw_ctl_context *ctx,
                                         int argc, char *const argv[],
                                         json_t **paramsp);

#endif /* VSW_PARAMS_H */
