/* vswitch-ctl capture: a port's or a switch's frames into a pcap file. */
#include "ctl.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rpc-client.h"
#include "util.h"

/* How long the loop sleeps when the daemon had nothing: short enough for
 * a live pipe into tcpdump, long enough to cost the daemon nothing. */
#define CAPTURE_POLL_MS 20

/* Frames one capture.read may return. */
#define CAPTURE_READ_MAX 1000

/* The options of the command, taken out before the global options are
 * parsed (vsw_ctl_capture_take_options()); NULL when not given. */
static struct {
    const char *file;      /* -w */
    const char *count;     /* --count, -c */
    const char *direction; /* --direction */
    const char *snaplen;   /* --snaplen, -s */
    const char *buffer;    /* --buffer-size */
} options;

/* Set by SIGINT, SIGTERM and SIGPIPE: end the capture cleanly. */
static volatile sig_atomic_t stop_signal;

/* True if 'word', an option of the global parser, takes the next word as
 * its value. */
static bool
global_option_takes_value(const char *word)
{
    return !strcmp(word, "--socket") || !strcmp(word, "--format") ||
           !strcmp(word, "-f") || !strcmp(word, "--timeout");
}

enum vsw_ctl_status
vsw_ctl_capture_take_options(int *argc, char *argv[])
{
    static const struct {
        const char *word;   /* as typed */
        const char **value; /* where it goes */
    } known[] = {
        {"-w", &options.file},
        {"--count", &options.count},
        {"-c", &options.count},
        {"--direction", &options.direction},
        {"--snaplen", &options.snaplen},
        {"-s", &options.snaplen},
        {"--buffer-size", &options.buffer},
    };
    int first = 0;
    int kept = 0;

    /* Only the words of 'capture': the first word that is no option. */
    while (first < *argc && argv[first][0] == '-') {
        first += global_option_takes_value(argv[first]) ? 2 : 1;
    }
    if (first >= *argc || strcmp(argv[first], "capture")) {
        return VSW_CTL_OK;
    }
    for (int i = 0; i < *argc; i++) {
        size_t k;

        for (k = 0; k < sizeof known / sizeof *known; k++) {
            size_t len = strlen(known[k].word);

            if (!strcmp(argv[i], known[k].word)) {
                if (i + 1 >= *argc) {
                    vsw_ctl_error("capture: option '%s' needs a value",
                                  argv[i]);
                    return VSW_CTL_USAGE;
                }
                *known[k].value = argv[++i];
                break;
            }
            if (!strncmp(argv[i], known[k].word, len) && argv[i][len] == '=' &&
                known[k].word[1] == '-') {
                *known[k].value = argv[i] + len + 1;
                break;
            }
        }
        if (k == sizeof known / sizeof *known) {
            argv[kept++] = argv[i];
        }
    }
    *argc = kept;
    return VSW_CTL_OK;
}

/* Adds the integer option 'text' (NULL: not given) to 'params' as 'key'.
 * Returns false after a usage error if it is no number. */
static bool
add_int_option(struct vsw_ctl_context *ctx, json_t *params, const char *key,
               const char *option, const char *text)
{
    char *end;
    long long value;

    if (!text) {
        return true;
    }
    errno = 0;
    value = strtoll(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || text[0] == '+') {
        vsw_ctl_usage_error(ctx, "%s: expected a number, got '%s'", option,
                            text);
        return false;
    }
    json_object_set_new(params, key, json_integer(value));
    return true;
}

static void
on_stop_signal(int signal)
{
    stop_signal = signal;
}

/* Decodes the base64 text 'in' into 'out' (room for 3/4 of its length).
 * Returns the bytes written, or -1 if it is no base64. */
static long
base64_decode(const char *in, uint8_t *out)
{
    uint32_t bits = 0;
    int n_bits = 0;
    long len = 0;

    for (; *in && *in != '='; in++) {
        const char *digits =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const char *p = strchr(digits, *in);

        if (!p) {
            return -1;
        }
        bits = bits << 6 | (uint32_t)(p - digits);
        n_bits += 6;
        if (n_bits >= 8) {
            n_bits -= 8;
            out[len++] = (uint8_t)(bits >> n_bits);
        }
    }
    return len;
}

/* Writes the frames of a capture.read 'result' to 'dumper'.  Returns the
 * number written, or -1 if a frame is malformed. */
static long
write_frames(pcap_dumper_t *dumper, const json_t *result)
{
    const json_t *frames = json_object_get(result, "frames");
    long written = 0;

    for (size_t i = 0; i < json_array_size(frames); i++) {
        const json_t *frame = json_array_get(frames, i);
        const char *data = vsw_ctl_member_string(frame, "data");
        long long ts = json_integer_value(json_object_get(frame, "ts"));
        struct pcap_pkthdr hdr;
        uint8_t *bytes;
        long len;

        if (!data) {
            return -1;
        }
        bytes = vsw_xmalloc(strlen(data) / 4 * 3 + 3);
        len = base64_decode(data, bytes);
        if (len < 0) {
            free(bytes);
            return -1;
        }
        hdr.ts.tv_sec = (time_t)(ts / 1000000000);
        hdr.ts.tv_usec = (suseconds_t)(ts % 1000000000 / 1000);
        hdr.caplen = (bpf_u_int32)len;
        hdr.len =
            (bpf_u_int32)json_integer_value(json_object_get(frame, "len"));
        pcap_dump((u_char *)dumper, &hdr, bytes);
        free(bytes);
        written++;
    }
    return written;
}

/* Opens where the frames go: 'file', or stdout for "-". */
static pcap_dumper_t *
open_output(pcap_t *dead, const char *file)
{
    pcap_dumper_t *dumper = !strcmp(file, "-") ? pcap_dump_fopen(dead, stdout)
                                               : pcap_dump_open(dead, file);

    if (!dumper) {
        vsw_ctl_error("capture: %s", pcap_geterr(dead));
    }
    return dumper;
}

/* Prints what the capture did: on stderr, or in JSON on stdout unless the
 * frames go there. */
static void
print_summary(const struct vsw_ctl_context *ctx, long long id,
              long long written, long long drops, const char *status,
              const char *target)
{
    bool to_stdout = strcmp(options.file, "-") != 0;

    if (ctx->format == VSW_CTL_FORMAT_JSON) {
        json_t *summary = json_pack(
            "{s:I, s:s, s:s, s:I, s:I, s:s}", "id", (json_int_t)id, "target",
            target, "file", options.file, "written", (json_int_t)written,
            "drops", (json_int_t)drops, "status", status);
        char *text = json_dumps(summary, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

        fprintf(to_stdout ? stdout : stderr, "%s\n", text);
        free(text);
        json_decref(summary);
        return;
    }
    fprintf(stderr,
            "capture of %s: %lld frame%s written, %lld dropped by the "
            "capture buffer (%s)\n",
            target, written, written == 1 ? "" : "s", drops, status);
}

static enum vsw_ctl_status
capture_cmd(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    const struct timespec pause = {0, CAPTURE_POLL_MS * 1000000L};
    struct sigaction sa = {.sa_handler = on_stop_signal};
    enum vsw_ctl_status status;
    char end_status[32] = "stopped";
    pcap_dumper_t *dumper = NULL;
    long long written = 0;
    long long drops = 0;
    pcap_t *dead = NULL;
    json_t *params;
    json_t *result;
    long long id;
    char *filter;
    size_t filter_len = 1;

    if (!options.file) {
        return vsw_ctl_usage_error(ctx, "-w FILE is missing (-w - for "
                                        "stdout)");
    }
    if (!strcmp(options.file, "-") && isatty(STDOUT_FILENO)) {
        return vsw_ctl_usage_error(ctx, "-w -: stdout is a terminal; pipe it "
                                        "into tcpdump -r -");
    }
    params = json_pack("{s:s}", "target", argv[0]);
    if (options.direction) {
        json_object_set_new(params, "direction",
                            json_string(options.direction));
    }
    /* The filter may come as one word or as several, as for tcpdump. */
    for (int i = 1; i < argc; i++) {
        filter_len += strlen(argv[i]) + 1;
    }
    filter = vsw_xmalloc(filter_len);
    filter[0] = '\0';
    for (int i = 1; i < argc; i++) {
        strcat(filter, argv[i]);
        if (i + 1 < argc) {
            strcat(filter, " ");
        }
    }
    if (filter[0]) {
        json_object_set_new(params, "filter", json_string(filter));
    }
    free(filter);
    if (!add_int_option(ctx, params, "count", "--count", options.count) ||
        !add_int_option(ctx, params, "snaplen", "--snaplen",
                        options.snaplen) ||
        !add_int_option(ctx, params, "buffer", "--buffer-size",
                        options.buffer)) {
        json_decref(params);
        return VSW_CTL_USAGE;
    }

    status = vsw_ctl_call(ctx, "capture.start", params, &result);
    if (status != VSW_CTL_OK) {
        return status;
    }
    id = json_integer_value(json_object_get(result, "id"));
    dead = pcap_open_dead(DLT_EN10MB, (int)json_integer_value(
                                          json_object_get(result, "snaplen")));
    json_decref(result);
    dumper = dead ? open_output(dead, options.file) : NULL;
    if (!dumper) {
        status = VSW_CTL_ERROR;
        goto stop;
    }
    /* The header now, so that a reader of a pipe starts at once. */
    pcap_dump_flush(dumper);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGPIPE, &sa, NULL);

    for (;;) {
        const char *state;
        long n;

        vsw_rpc_client_set_timeout(ctx->client, ctx->timeout_ms);
        status = vsw_ctl_call(ctx, "capture.read",
                              json_pack("{s:I, s:i}", "id", (json_int_t)id,
                                        "max", CAPTURE_READ_MAX),
                              &result);
        if (status != VSW_CTL_OK) {
            snprintf(end_status, sizeof end_status, "failed");
            break;
        }
        n = write_frames(dumper, result);
        drops = json_integer_value(json_object_get(result, "drops"));
        state = vsw_ctl_member_string(result, "status");
        if (n < 0) {
            vsw_ctl_error("capture: the daemon sent a malformed frame");
            status = VSW_CTL_ERROR;
            snprintf(end_status, sizeof end_status, "failed");
            json_decref(result);
            break;
        }
        written += n;
        if (pcap_dump_flush(dumper) || ferror(pcap_dump_file(dumper))) {
            /* The reader of the pipe is gone: that ends the capture. */
            snprintf(end_status, sizeof end_status, "output-closed");
            json_decref(result);
            break;
        }
        if (state && !strcmp(state, "count-reached")) {
            snprintf(end_status, sizeof end_status, "%s", state);
            json_decref(result);
            break;
        }
        if (state && strcmp(state, "running") && !n) {
            /* Ended under us (its port went): what it had is written. */
            vsw_ctl_error("capture of %s ended: %s", argv[0], state);
            snprintf(end_status, sizeof end_status, "%s", state);
            status = VSW_CTL_ERROR;
            json_decref(result);
            break;
        }
        json_decref(result);
        if (stop_signal) {
            snprintf(end_status, sizeof end_status, "%s",
                     stop_signal == SIGPIPE ? "output-closed" : "stopped");
            break;
        }
        if (!n) {
            nanosleep(&pause, NULL);
        }
    }

stop:
    signal(SIGPIPE, SIG_IGN);
    if (ctx->client && status != VSW_CTL_ERROR) {
        vsw_rpc_client_set_timeout(ctx->client, ctx->timeout_ms);
        if (vsw_ctl_call(ctx, "capture.stop",
                         json_pack("{s:I}", "id", (json_int_t)id),
                         &result) == VSW_CTL_OK) {
            drops = json_integer_value(json_object_get(result, "drops"));
            json_decref(result);
        }
    }
    if (dumper) {
        bool to_stdout = !strcmp(options.file, "-");

        pcap_dump_flush(dumper);
        if (to_stdout) {
            /* The caller's stdout stays open for main to check. */
            clearerr(stdout);
        } else {
            pcap_dump_close(dumper);
        }
        print_summary(ctx, id, written, drops, end_status, argv[0]);
    }
    if (dead) {
        pcap_close(dead);
    }
    return status;
}

/* Columns of 'vswitch-ctl captures'. */
static enum vsw_ctl_status
captures_cmd(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    static const struct vsw_ctl_column columns[] = {
        {"ID", VSW_TABLE_RIGHT, "id", NULL},
        {"TARGET", VSW_TABLE_LEFT, "target", NULL},
        {"KIND", VSW_TABLE_LEFT, "kind", NULL},
        {"DIRECTION", VSW_TABLE_LEFT, "direction", NULL},
        {"FILTER", VSW_TABLE_LEFT, "filter", NULL},
        {"READ", VSW_TABLE_RIGHT, "read", NULL},
        {"DROPS", VSW_TABLE_RIGHT, "drops", NULL},
        {"STATUS", VSW_TABLE_LEFT, "status", NULL},
    };
    enum vsw_ctl_status status;
    json_t *result;
    json_t *rows;

    status = vsw_ctl_query(ctx, argc, argv, &result);
    if (status != VSW_CTL_OK || !result) {
        return status;
    }
    rows = vsw_ctl_result_array(result, ctx->command->method, "captures");
    if (rows) {
        vsw_ctl_print_rows(rows, columns, sizeof columns / sizeof *columns);
    }
    json_decref(result);
    return rows ? VSW_CTL_OK : VSW_CTL_ERROR;
}

const struct vsw_ctl_command vsw_ctl_capture_commands[] = {
    {
        .verb = "capture",
        .args = "PORT|SWITCH -w FILE [--count N] [--direction in|out|both] "
                "[--snaplen N] [--buffer-size BYTES] [FILTER]",
        .min_args = 1,
        .max_args = -1,
        .method = "capture.start",
        .summary = "write a port's or a switch's frames to a pcap file",
        .help =
            "Writes the frames of PORT, or of every port of SWITCH, to FILE "
            "in pcap format\n(Ethernet), readable by tcpdump and "
            "Wireshark; '-w -' writes the stream to\nstdout, flushed after "
            "each batch, for 'vswitch-ctl capture vm1 -w - | tcpdump\n-r -'. "
            " Stops after --count frames, or on SIGINT, SIGTERM or when the\n"
            "reader of stdout goes; the file is closed cleanly and a summary "
            "(frames\nwritten, frames the capture buffer had no room for) "
            "goes to stderr.\n\n"
            "Directions are seen from the port: 'out' is what it sends into "
            "the switch (as\nit sent it), 'in' what the switch sends it (as "
            "it left, with its tag); 'both',\nthe default for a port, is "
            "both in time order.  For a SWITCH the default is\n'out': every "
            "frame any of its ports sends, each once; 'in' is every frame "
            "the\nswitch delivers (a flooded frame once per port it reaches), "
            "and 'both' shows a\nforwarded frame twice, entering and "
            "leaving.\n\n"
            "FILTER is a libpcap filter expression ('icmp', 'tcp port 80', "
            "'host 10.0.0.1'),\ncompiled by the daemon; only matching frames "
            "are copied.  --snaplen keeps the\nfirst N bytes of each frame "
            "(default: all); --buffer-size sets the capture\nbuffer of each "
            "worker, 4096..16777216 bytes (default 1048576): frames that\n"
            "find it full are counted as drops, never delay forwarding.  At "
            "most 16\ncaptures run at once; a capture ends when its port or "
            "switch is removed (exit\nstatus 1) or when this command exits.\n",
        .run = capture_cmd,
    },
    {
        .verb = "captures",
        .args = "",
        .min_args = 0,
        .max_args = 0,
        .method = "capture.list",
        .summary = "list the captures running",
        .help = "Lists the captures running, with their frames read and "
                "dropped.\n",
        .run = captures_cmd,
    },
    {.verb = NULL},
};
