/*
 * The command layer of vswitch-ctl: what main (vswitch-ctl.c) and the
 * commands (cmd-*.c) share.  A command is a row of a table that names it,
 * bounds its arguments and carries its help, plus a run function that
 * turns the arguments into JSON-RPC calls and prints the results.
 *
 * Every function that returns an enum vsw_ctl_status has already told the
 * user about a failure, in one line on stderr; its caller only passes the
 * status on to exit().
 */
#ifndef VSW_CTL_H
#define VSW_CTL_H 1

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "table.h"

struct vsw_rpc_client;

/* The exit status of vswitch-ctl. */
enum vsw_ctl_status {
    VSW_CTL_OK = 0,    /* done */
    VSW_CTL_ERROR = 1, /* the daemon refused, or could not be reached */
    VSW_CTL_USAGE = 2, /* the command line is wrong; nothing was sent */
};

enum vsw_ctl_format {
    VSW_CTL_FORMAT_TABLE, /* tables and key/value lines, for people */
    VSW_CTL_FORMAT_JSON,  /* each RPC result as indented JSON, for tools */
};

struct vsw_ctl_context {
    const char *socket_path;               /* daemon's socket; borrowed */
    long long timeout_ms;                  /* bound on the whole exchange */
    enum vsw_ctl_format format;            /* how results are printed */
    const struct vsw_ctl_command *command; /* the command being run */
    struct vsw_rpc_client *client;         /* NULL until the first call */
    json_t *flag_params; /* params the command's flags add (--force...),
                            NULL for none; owned */
    json_t *batch;       /* while commands joined with ' -- ' are read:
                            the operations of their transaction, which
                            vsw_ctl_call() collects instead of calling;
                            else NULL; owned */
};

/* One command.  Tables of them end with a row whose 'verb' is NULL. */
struct vsw_ctl_command {
    const char *noun;         /* "port", or NULL for a command of its own */
    const char *verb;         /* "add" */
    const char *args;         /* synopsis of the arguments, "" for none */
    int min_args;             /* fewest arguments after the verb */
    int max_args;             /* most arguments after the verb, -1: any */
    const char *const *names; /* param keys of the leading arguments,
                               * NULL-terminated; NULL for none */
    bool pairs;               /* arguments past 'names' are key=value */
    const char *method;       /* JSON-RPC method, NULL if not just one */
    const char *summary;      /* one line for command lists, no period */
    const char *help;         /* the rest of --help, lines ending "\n" */
    const char *schema_kind;  /* the schema.get kind whose settings --help
                               * lists after 'help', NULL for none */
    bool creates;             /* creates an object of 'schema_kind', so
                               * fixed settings may be given too */

    /* Runs the command with the 'argc' arguments 'argv' that follow the
     * verb.  Their number is within [min_args, max_args] and, if 'pairs',
     * none of the first 'min_args' contains '='. */
    enum vsw_ctl_status (*run)(struct vsw_ctl_context *ctx, int argc,
                               char *argv[]);
};

extern const struct vsw_ctl_command vsw_ctl_switch_commands[];
extern const struct vsw_ctl_command vsw_ctl_port_commands[];
extern const struct vsw_ctl_command vsw_ctl_fdb_commands[];
extern const struct vsw_ctl_command vsw_ctl_system_commands[];
extern const struct vsw_ctl_command vsw_ctl_dp_commands[];
extern const struct vsw_ctl_command vsw_ctl_acl_commands[];
extern const struct vsw_ctl_command vsw_ctl_trace_commands[];
extern const struct vsw_ctl_command vsw_ctl_ext_commands[];
extern const struct vsw_ctl_command vsw_ctl_stop_commands[];
extern const struct vsw_ctl_command vsw_ctl_qos_commands[];
extern const struct vsw_ctl_command vsw_ctl_capture_commands[];
extern const struct vsw_ctl_command vsw_ctl_team_commands[];

/* Takes the options of 'capture' (-w FILE, --count N, ...), which the
 * global option parser does not know, out of the '*argc' words 'argv' if
 * they name that command, and keeps them for it.  Returns VSW_CTL_USAGE
 * after saying why if one lacks its value. */
enum vsw_ctl_status vsw_ctl_capture_take_options(int *argc, char *argv[]);

/* The same for 'port' (--from-file FILE of port add and port del). */
enum vsw_ctl_status vsw_ctl_port_take_options(int *argc, char *argv[]);
extern const struct vsw_ctl_command vsw_ctl_metering_commands[];
extern const struct vsw_ctl_command vsw_ctl_tunnel_commands[];
extern const struct vsw_ctl_command vsw_ctl_etcd_commands[];

/* Messages. */

/* Prints "vswitch-ctl: " and the printf-style message, and a newline, to
 * stderr. */
void vsw_ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints a usage error about the command 'ctx' is running, such as
 * "vswitch-ctl: port set: nothing to set", and returns VSW_CTL_USAGE. */
enum vsw_ctl_status vsw_ctl_usage_error(const struct vsw_ctl_context *ctx,
                                        const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Returns "noun verb" or "verb" for 'command', which the caller frees. */
char *vsw_ctl_command_name(const struct vsw_ctl_command *command);

/* Calling the daemon. */

/* Calls 'method' with 'params' (a new reference that this function takes
 * over), connecting first if 'ctx' is not connected yet.  On success
 * stores the result, a new reference the caller releases, in '*resultp',
 * and prints its "notes" on stderr.  On failure, reports it and stores
 * NULL.  While 'ctx' collects a transaction ('batch'), adds the call to
 * it and stores NULL. */
enum vsw_ctl_status vsw_ctl_call(struct vsw_ctl_context *ctx,
                                 const char *method, json_t *params,
                                 json_t **resultp);

/* Calls the method of the command 'ctx' runs, with params made of its
 * 'argc' arguments 'argv' as the command's 'names' and 'pairs' say, and
 * its flags ('flag_params').  In
 * JSON mode, prints the result and stores NULL in '*resultp': nothing is
 * left to do.  In table mode, stores the result, a new reference the
 * caller releases, for the caller to print. */
enum vsw_ctl_status vsw_ctl_query(struct vsw_ctl_context *ctx, int argc,
                                  char *argv[], json_t **resultp);

/* Run functions for commands that change something and print nothing in
 * table mode (the result in JSON mode).  vsw_ctl_run_set() also refuses a
 * command line with no key=value to send. */
enum vsw_ctl_status vsw_ctl_run_change(struct vsw_ctl_context *ctx, int argc,
                                       char *argv[]);
enum vsw_ctl_status vsw_ctl_run_set(struct vsw_ctl_context *ctx, int argc,
                                    char *argv[]);

/* Run function for commands that show one object: every member, in the
 * daemon's order, as "key  value" lines (vsw_ctl_print_object()). */
enum vsw_ctl_status vsw_ctl_run_get(struct vsw_ctl_context *ctx, int argc,
                                    char *argv[]);

/* Returns the array 'key' of the object 'result' (borrowed from 'result'),
 * or reports that 'method' answered without one and returns NULL. */
json_t *vsw_ctl_result_array(const json_t *result, const char *method,
                             const char *key);

/* Commands joined with ' -- ' (joined.c). */

/* Removes the command flags (--may-exist, --if-exists, --force) from the
 * '*argc' words 'argv' and returns them as VSW_CTL_FLAG_* bits. */
#define VSW_CTL_FLAG_MAY_EXIST     0x1
#define VSW_CTL_FLAG_IF_EXISTS     0x2
#define VSW_CTL_FLAG_FORCE         0x4
#define VSW_CTL_FLAG_FORGET_CONFIG 0x8
unsigned vsw_ctl_take_flags(int *argc, char *argv[]);

/* Sets ctx->flag_params to the params the 'flags' given to ctx->command
 * stand for, or reports a flag the command does not take (a usage
 * error). */
enum vsw_ctl_status vsw_ctl_apply_flags(struct vsw_ctl_context *ctx,
                                        unsigned flags);

/* Prints, for the help of 'command', the flags it takes and whether it
 * may be joined into a transaction. */
void vsw_ctl_print_flags_help(const struct vsw_ctl_command *command);

/* True if 'command' may be joined with others into a transaction: an
 * add, set or del of a switch, port or ACL rule. */
bool vsw_ctl_joinable(const struct vsw_ctl_command *command);

/* Sends the transaction 'ctx' collected ('batch', released here) as one
 * 'transact' call.  Prints nothing on success in table mode, the results
 * array in JSON mode; the notes of every result on stderr. */
enum vsw_ctl_status vsw_ctl_run_batch(struct vsw_ctl_context *ctx);

/* Prints each string of the "notes" array of 'result' (if any) as
 * "vswitch-ctl: note: ..." on stderr. */
void vsw_ctl_print_notes(const json_t *result);

/* Printing. */

/* Prints 'value' as JSON indented by 2, and a newline, to stdout. */
void vsw_ctl_print_json(const json_t *value);

/* Returns 'value' as text for a table cell, in a string the caller frees:
 * a string as it is, "-" for NULL, null or an empty string or array,
 * "on"/"off" for a boolean, a number in decimal, an array of scalars
 * joined with ",", anything else as compact JSON; control characters
 * replaced as by vsw_make_printable(). */
char *vsw_ctl_value_text(const json_t *value);

/* vsw_ctl_value_text() of member 'key' of 'object'; a "load" or "cpu" (a
 * share of one core) as a percentage, "35%". */
char *vsw_ctl_member_text(const json_t *object, const char *key);

/* Returns member 'key' of 'object' if it is a string, else NULL.  The
 * string belongs to 'object'. */
const char *vsw_ctl_member_string(const json_t *object, const char *key);

/* A column of a table of objects (vsw_ctl_print_rows()). */
struct vsw_ctl_column {
    const char *heading;        /* in capitals */
    enum vsw_table_align align; /* VSW_TABLE_RIGHT for numbers */
    const char *key;            /* member shown, if 'text' is NULL */

    /* Returns the cell for 'row', in a string the caller frees. */
    char *(*text)(const json_t *row);
};

/* Prints a table with a row for each object of 'rows' and the 'n' columns
 * of 'columns', to stdout. */
void vsw_ctl_print_rows(const json_t *rows,
                        const struct vsw_ctl_column columns[], size_t n);

/* The whole of a "list" command: queries the command's method and prints
 * the array 'key' of its result as a table of the 'n' 'columns' (or, with
 * --format json, the result as it came). */
enum vsw_ctl_status vsw_ctl_run_list(struct vsw_ctl_context *ctx, int argc,
                                     char *argv[], const char *key,
                                     const struct vsw_ctl_column columns[],
                                     size_t n);

/* Prints every member of 'object' (borrowed), in order, as an aligned
 * "key  value" line.  A member that is a list of objects, such as the
 * daemon's workers, shows its length there and a table of its own
 * below. */
void vsw_ctl_print_object(json_t *object);

/* Help. */

/* Prints, for the help of 'command', the settings of its 'schema_kind' as
 * the daemon of 'ctx' declares them (schema.get), connecting first if
 * 'ctx' is not connected yet; or, if the daemon cannot tell, a line
 * saying why.  Writes to stdout only and never fails: help is available
 * without a daemon. */
void vsw_ctl_print_settings_help(struct vsw_ctl_context *ctx,
                                 const struct vsw_ctl_command *command);

/* Ports (cmd-port.c), for the commands that show ports in their own way. */

/* Returns how 'port' (a port object) treats VLANs, such as "untagged",
 * "access 10" or "trunk 10,20-30, native 1", in a string the caller
 * frees. */
char *vsw_ctl_port_vlan_text(const json_t *port);

#endif /* VSW_CTL_H */
