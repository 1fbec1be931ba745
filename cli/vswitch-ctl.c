/*
 * vswitch-ctl, the command-line client of vswitchd: reads the global
 * options, finds the command the remaining words name, checks its number
 * of arguments and runs it, or prints help.  The commands themselves live
 * in cmd-*.c, each described by a row of the table that file exports.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "rpc-client.h"
#include "table.h"
#include "util.h"

/* Where vswitchd listens unless --socket or $VSWITCH_SOCKET says
 * otherwise. */
#define DEFAULT_SOCKET "/var/lib/vswitch/vswitchd.sock"

/* Seconds the exchange with vswitchd may take unless --timeout says
 * otherwise. */
#define DEFAULT_TIMEOUT_S 30

/* The longest --timeout, a year: enough for any wait, and small enough
 * that milliseconds never overflow. */
#define MAX_TIMEOUT_S (365.0 * 24 * 3600)

static enum vsw_ctl_status help_cmd(struct vsw_ctl_context *ctx, int argc,
                                    char *argv[]);

static const struct vsw_ctl_command help_commands[] = {
    {
        .verb = "help",
        .args = "[COMMAND...]",
        .min_args = 0,
        .max_args = -1,
        .summary = "show help on a command",
        .help = "Describes COMMAND (such as 'port' or 'port add'), or lists "
                "the commands.\n'vswitch-ctl COMMAND --help' does the "
                "same.\n",
        .run = help_cmd,
    },
    {.verb = NULL},
};

/* Every command, in the order help lists them. */
static const struct vsw_ctl_command *const command_tables[] = {
    vsw_ctl_switch_commands,   vsw_ctl_port_commands,
    vsw_ctl_team_commands,     vsw_ctl_tunnel_commands,
    vsw_ctl_etcd_commands,     vsw_ctl_fdb_commands,
    vsw_ctl_acl_commands,      vsw_ctl_dp_commands,
    vsw_ctl_trace_commands,    vsw_ctl_ext_commands,
    vsw_ctl_capture_commands,  vsw_ctl_qos_commands,
    vsw_ctl_metering_commands, vsw_ctl_system_commands,
    vsw_ctl_stop_commands,     help_commands,
};

/* A position in 'command_tables'; zeroed, it is before the first command. */
struct command_iter {
    size_t table; /* index in 'command_tables' */
    size_t row;   /* index in that table of the next command */
};

/* Returns the command after 'iter' and advances it, or returns NULL after
 * the last. */
static const struct vsw_ctl_command *
next_command(struct command_iter *iter)
{
    const size_t n_tables = sizeof command_tables / sizeof *command_tables;

    while (iter->table < n_tables) {
        const struct vsw_ctl_command *command =
            &command_tables[iter->table][iter->row++];

        if (command->verb) {
            return command;
        }
        iter->table++;
        iter->row = 0;
    }
    return NULL;
}

static bool
is_noun(const char *word)
{
    struct command_iter iter = {0};
    const struct vsw_ctl_command *command;

    while ((command = next_command(&iter))) {
        if (command->noun && !strcmp(command->noun, word)) {
            return true;
        }
    }
    return false;
}

/* Returns the command 'noun' 'verb', or the one named 'verb' alone if
 * 'noun' is NULL, or NULL if there is none.  The command is static. */
static const struct vsw_ctl_command *
lookup_command(const char *noun, const char *verb)
{
    struct command_iter iter = {0};
    const struct vsw_ctl_command *command;

    while ((command = next_command(&iter))) {
        bool same_noun = noun ? command->noun && !strcmp(command->noun, noun)
                              : !command->noun;

        if (same_noun && !strcmp(command->verb, verb)) {
            return command;
        }
    }
    return NULL;
}

static void
print_general_help(void)
{
    struct vsw_table *table = vsw_table_create(false);
    struct command_iter iter = {0};
    const struct vsw_ctl_command *command;

    printf("Usage: vswitch-ctl [OPTIONS] COMMAND [ARGS...]\n\n"
           "Configures and inspects vswitchd, the userspace virtual "
           "switch, over its\nJSON-RPC socket.\n\nCommands:\n");
    vsw_table_add_column(table, "COMMAND", VSW_TABLE_LEFT);
    vsw_table_add_column(table, "SUMMARY", VSW_TABLE_LEFT);
    while ((command = next_command(&iter))) {
        char *name = vsw_ctl_command_name(command);

        vsw_table_add_row(table);
        vsw_table_add_cellf(table, "  %s", name);
        vsw_table_add_cell(table, command->summary);
        free(name);
    }
    vsw_table_print(table, stdout);
    vsw_table_destroy(table);
    printf("\nOptions:\n"
           "  --socket PATH        vswitchd's socket (default: "
           "$VSWITCH_SOCKET, else\n"
           "                       " DEFAULT_SOCKET ")\n"
           "  -f, --format FORMAT  table (the default) or json\n"
           "  --timeout SECONDS    time allowed for the whole exchange with "
           "vswitchd\n"
           "                       (default %d)\n"
           "  -h, --help           show this help, or a command's\n"
           "  --version            show the version\n\n"
           "'vswitch-ctl help COMMAND' or 'vswitch-ctl COMMAND --help' "
           "describes a command.\n\n"
           "Exit status: 0 on success, 1 if vswitchd refused or could not "
           "be reached,\n2 if the command line is wrong.\n",
           DEFAULT_TIMEOUT_S);
}

static void
print_noun_help(const char *noun)
{
    struct command_iter iter = {0};
    const struct vsw_ctl_command *command;

    printf("Usage: vswitch-ctl [OPTIONS] %s COMMAND [ARGS...]\n\n"
           "Commands:\n",
           noun);
    while ((command = next_command(&iter))) {
        if (command->noun && !strcmp(command->noun, noun)) {
            printf("  %s %s%s%s\n      %s\n", noun, command->verb,
                   command->args[0] ? " " : "", command->args,
                   command->summary);
        }
    }
    printf("\n'vswitch-ctl %s COMMAND --help' describes a command.\n", noun);
}

/* Prints the help of 'command'; its settings, if it has any, come from
 * the daemon of 'ctx'. */
static void
print_command_help(struct vsw_ctl_context *ctx,
                   const struct vsw_ctl_command *command)
{
    char *name = vsw_ctl_command_name(command);

    printf("Usage: vswitch-ctl %s%s%s\n\n%s", name,
           command->args[0] ? " " : "", command->args, command->help);
    if (command->schema_kind) {
        putchar('\n');
        vsw_ctl_print_settings_help(ctx, command);
    }
    vsw_ctl_print_flags_help(command);
    if (command->method) {
        printf("\nJSON-RPC method: %s\n", command->method);
    }
    free(name);
}

/* Returns the command that the first one or two of the 'argc' words 'argv'
 * name, and stores how many words named it in '*n_words'; or reports a
 * usage error and returns NULL. */
static const struct vsw_ctl_command *
find_command(int argc, char *argv[], int *n_words)
{
    const struct vsw_ctl_command *command;

    if (argc == 0) {
        vsw_ctl_error("missing command (try 'vswitch-ctl --help')");
        return NULL;
    }
    if (!is_noun(argv[0])) {
        command = lookup_command(NULL, argv[0]);
        if (!command) {
            vsw_ctl_error("unknown command '%s' (try 'vswitch-ctl --help')",
                          argv[0]);
        }
        *n_words = 1;
        return command;
    }
    if (argc < 2) {
        vsw_ctl_error("%s: missing command (try 'vswitch-ctl %s --help')",
                      argv[0], argv[0]);
        return NULL;
    }
    command = lookup_command(argv[0], argv[1]);
    if (!command) {
        vsw_ctl_error("%s: unknown command '%s' (try 'vswitch-ctl %s "
                      "--help')",
                      argv[0], argv[1], argv[0]);
    }
    *n_words = 2;
    return command;
}

/* Prints the help on what the 'argc' words 'argv' name (a noun, or a
 * command followed by any arguments), or the general help if there are
 * none.  'ctx' says which daemon to ask for settings. */
static enum vsw_ctl_status
print_help(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    const struct vsw_ctl_command *command;
    int n_words;

    if (argc == 0) {
        print_general_help();
    } else if (argc == 1 && is_noun(argv[0])) {
        print_noun_help(argv[0]);
    } else {
        command = find_command(argc, argv, &n_words);
        if (!command) {
            return VSW_CTL_USAGE;
        }
        print_command_help(ctx, command);
    }
    return VSW_CTL_OK;
}

static enum vsw_ctl_status
help_cmd(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    return print_help(ctx, argc, argv);
}

/* Finds the command the 'argc' words 'argv' name, given 'flags'
 * (VSW_CTL_FLAG_*), and checks its arguments; sets ctx->command and
 * ctx->flag_params, and stores where its arguments start in '*n_words'. */
static enum vsw_ctl_status
prepare_command(struct vsw_ctl_context *ctx, int argc, char *argv[],
                unsigned flags, int *n_words)
{
    const struct vsw_ctl_command *command;
    enum vsw_ctl_status status;
    bool names_ok;

    command = find_command(argc, argv, n_words);
    if (!command) {
        return VSW_CTL_USAGE;
    }
    ctx->command = command;
    argc -= *n_words;
    argv += *n_words;
    status = vsw_ctl_apply_flags(ctx, flags);
    if (status != VSW_CTL_OK) {
        return status;
    }

    names_ok = argc >= command->min_args;
    for (int i = 0; names_ok && command->pairs && i < command->min_args; i++) {
        /* "switch add ageing=5" lacks NAME rather than naming a switch
         * "ageing=5". */
        names_ok = !strchr(argv[i], '=');
    }
    if (!names_ok || (command->max_args >= 0 && argc > command->max_args)) {
        char *name = vsw_ctl_command_name(command);

        vsw_ctl_usage_error(ctx, "%s arguments (usage: vswitch-ctl %s%s%s)",
                            names_ok ? "too many" : "missing", name,
                            command->args[0] ? " " : "", command->args);
        free(name);
        return VSW_CTL_USAGE;
    }
    return VSW_CTL_OK;
}

/* A command of a command line: its words, without its flags. */
struct segment {
    int argc;       /* words */
    char **argv;    /* the first one */
    unsigned flags; /* VSW_CTL_FLAG_* */
};

/* Runs the command of 'seg' in 'ctx'. */
static enum vsw_ctl_status
run_command(struct vsw_ctl_context *ctx, const struct segment *seg)
{
    enum vsw_ctl_status status;
    int n_words;

    status = prepare_command(ctx, seg->argc, seg->argv, seg->flags, &n_words);
    if (status != VSW_CTL_OK) {
        return status;
    }
    return ctx->command->run(ctx, seg->argc - n_words, seg->argv + n_words);
}

/* Runs the 'n' commands of 'segs', joined with ' -- ', as one
 * transaction: each command collects its call, then one 'transact' call
 * sends them all. */
static enum vsw_ctl_status
run_joined(struct vsw_ctl_context *ctx, const struct segment *segs, size_t n)
{
    enum vsw_ctl_status status = VSW_CTL_OK;

    ctx->batch = json_array();
    for (size_t i = 0; i < n && status == VSW_CTL_OK; i++) {
        int n_words;

        status = prepare_command(ctx, segs[i].argc, segs[i].argv,
                                 segs[i].flags, &n_words);
        if (status == VSW_CTL_OK && !vsw_ctl_joinable(ctx->command)) {
            status = vsw_ctl_usage_error(
                ctx, "cannot be joined with ' -- ' (only add, set and del "
                     "of switch, port, acl and xacl can)");
        }
        if (status == VSW_CTL_OK) {
            status = ctx->command->run(ctx, segs[i].argc - n_words,
                                       segs[i].argv + n_words);
        }
    }
    if (status != VSW_CTL_OK) {
        json_decref(ctx->batch);
        ctx->batch = NULL;
        return status;
    }
    return vsw_ctl_run_batch(ctx);
}

/* Splits the 'argc' words 'argv' at each "--" into 'segs' (room for
 * 'argc' + 1), taking each command's flags out.  An empty first command
 * is skipped, as ovs-vsctl skips the "--" after the options.  Returns how
 * many commands there are, or -1 after reporting an empty one. */
static int
split_commands(int argc, char *argv[], struct segment *segs)
{
    int start = 0;
    int n = 0;

    for (int i = 0; i <= argc; i++) {
        struct segment *seg = &segs[n];

        if (i < argc && strcmp(argv[i], "--")) {
            continue;
        }
        seg->argv = argv + start;
        seg->argc = i - start;
        seg->flags = vsw_ctl_take_flags(&seg->argc, seg->argv);
        start = i + 1;
        if (!seg->argc && !seg->flags && !n && i < argc) {
            continue;
        }
        if (!seg->argc && (n || i < argc)) {
            vsw_ctl_error("empty command between ' -- ' (try 'vswitch-ctl "
                          "--help')");
            return -1;
        }
        n += seg->argc > 0;
    }
    return n;
}

/* Parses the --timeout argument 'text' into '*ms'.  Returns 0 or
 * -EINVAL. */
static int
parse_timeout(const char *text, long long *ms)
{
    double seconds, milliseconds;
    char *end;

    errno = 0;
    seconds = strtod(text, &end);
    /* The comparisons are false for NaN, so it fails too. */
    if (errno || end == text || *end || !(seconds > 0) ||
        !(seconds <= MAX_TIMEOUT_S)) {
        return -EINVAL;
    }
    /* Round up, so that a tiny timeout still allows one wait. */
    milliseconds = seconds * 1000;
    *ms = (long long)milliseconds;
    if (*ms < milliseconds) {
        (*ms)++;
    }
    return 0;
}

/* Parses the options of 'argv' into 'ctx', '*help' and '*version', leaving
 * 'optind' at the first word that is not an option.  Options may come
 * anywhere: getopt moves the words that are not options to the end. */
static enum vsw_ctl_status
parse_options(int argc, char *argv[], struct vsw_ctl_context *ctx, bool *help,
              bool *version)
{
    enum {
        OPT_SOCKET = UCHAR_MAX + 1,
        OPT_TIMEOUT,
        OPT_VERSION,
    };
    static const struct option long_options[] = {
        {"socket", required_argument, NULL, OPT_SOCKET},
        {"format", required_argument, NULL, 'f'},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    int option;

    /* The messages of getopt itself would start with argv[0], a path. */
    opterr = 0;
    while ((option = getopt_long(argc, argv, ":f:h", long_options, NULL)) !=
           -1) {
        switch (option) {
        case OPT_SOCKET:
            ctx->socket_path = optarg;
            break;
        case 'f':
            if (!strcmp(optarg, "table")) {
                ctx->format = VSW_CTL_FORMAT_TABLE;
            } else if (!strcmp(optarg, "json")) {
                ctx->format = VSW_CTL_FORMAT_JSON;
            } else {
                vsw_ctl_error("--format: expected table or json, got '%s'",
                              optarg);
                return VSW_CTL_USAGE;
            }
            break;
        case OPT_TIMEOUT:
            if (parse_timeout(optarg, &ctx->timeout_ms)) {
                vsw_ctl_error("--timeout: expected a positive number of "
                              "seconds, got '%s'",
                              optarg);
                return VSW_CTL_USAGE;
            }
            break;
        case 'h':
            *help = true;
            break;
        case OPT_VERSION:
            *version = true;
            break;
        case ':':
            vsw_ctl_error("option '%s' needs an argument (try 'vswitch-ctl "
                          "--help')",
                          argv[optind - 1]);
            return VSW_CTL_USAGE;
        default:
            /* optopt is the unknown short option, or 0 for an unknown
             * long one, or the value of a long option that takes no
             * argument but was given one ("--help=x"). */
            if (optopt == 'h' || optopt == OPT_VERSION) {
                vsw_ctl_error("option '%s' takes no argument",
                              argv[optind - 1]);
            } else if (optopt) {
                vsw_ctl_error("unknown option '-%c' (try 'vswitch-ctl "
                              "--help')",
                              optopt);
            } else {
                vsw_ctl_error("unknown option '%s' (try 'vswitch-ctl "
                              "--help')",
                              argv[optind - 1]);
            }
            return VSW_CTL_USAGE;
        }
    }
    return VSW_CTL_OK;
}

int
main(int argc, char *argv[])
{
    const char *env_socket = getenv("VSWITCH_SOCKET");
    struct vsw_ctl_context ctx = {
        .socket_path =
            env_socket && env_socket[0] ? env_socket : DEFAULT_SOCKET,
        .timeout_ms = DEFAULT_TIMEOUT_S * 1000LL,
        .format = VSW_CTL_FORMAT_TABLE,
    };
    bool help = false, version = false;
    struct segment none = {0, argv, 0};
    enum vsw_ctl_status status;
    struct segment *segs;
    int first_sep = 1;
    char **words;
    int n_words = 0;
    int n_first;
    unsigned flags;
    int n_segs;

    json_set_alloc_funcs(vsw_xmalloc, free);
    /* Options come before the first "--"; the command flags there are
     * taken out first, since getopt does not know them. */
    while (first_sep < argc && strcmp(argv[first_sep], "--")) {
        first_sep++;
    }
    n_first = first_sep - 1;
    if (vsw_ctl_capture_take_options(&n_first, argv + 1) != VSW_CTL_OK ||
        vsw_ctl_port_take_options(&n_first, argv + 1) != VSW_CTL_OK) {
        return VSW_CTL_USAGE;
    }
    flags = vsw_ctl_take_flags(&n_first, argv + 1);
    status = parse_options(n_first + 1, argv, &ctx, &help, &version);
    if (status != VSW_CTL_OK) {
        return status;
    }
    /* The first command's words, then everything from the first "--". */
    words = vsw_xmalloc((size_t)(argc + 1) * sizeof *words);
    for (int i = optind; i < n_first + 1; i++) {
        words[n_words++] = argv[i];
    }
    for (int i = first_sep; i < argc; i++) {
        words[n_words++] = argv[i];
    }
    segs = vsw_xmalloc((size_t)(argc + 1) * sizeof *segs);
    n_segs = split_commands(n_words, words, segs);
    if (n_segs > 0) {
        segs[0].flags |= flags;
    } else {
        none.flags = flags;
    }
    if (n_segs < 0) {
        status = VSW_CTL_USAGE;
    } else if (version) {
        printf("vswitch-ctl (vswitch) %s\n", VSW_VERSION);
    } else if (help) {
        status = print_help(&ctx, n_segs ? segs[0].argc : 0,
                            n_segs ? segs[0].argv : NULL);
    } else if (n_segs <= 1) {
        status = run_command(&ctx, n_segs ? &segs[0] : &none);
    } else {
        status = run_joined(&ctx, segs, (size_t)n_segs);
    }
    free(segs);
    free(words);
    json_decref(ctx.flag_params);
    vsw_rpc_client_close(ctx.client);

    /* A full disk or a closed pipe must not pass for success. */
    if (fflush(stdout) == EOF || ferror(stdout)) {
        vsw_ctl_error("cannot write output: %s", strerror(errno));
        if (status == VSW_CTL_OK) {
            status = VSW_CTL_ERROR;
        }
    }
    return status;
}
