/* vswitch-ctl stop: stops the daemon and waits until it is gone. */
#include "ctl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rpc-client.h"
#include "util.h"

/* Milliseconds between two looks at whether the daemon is gone. */
#define STOP_POLL_MS 10

/* True once process 'pid' has exited: no such process, or a zombie
 * (which holds no file and no lock any more). */
static bool
process_gone(long pid)
{
    char path[64], state = 0;
    FILE *stat_file;
    int n;

    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    stat_file = fopen(path, "r");
    if (!stat_file) {
        return errno == ENOENT;
    }
    /* "pid (comm) state ...": comm may hold spaces and parentheses. */
    n = fscanf(stat_file, "%*d (%*[^)]) %c", &state);
    fclose(stat_file);
    return n == 1 && (state == 'Z' || state == 'X');
}

/* True once the daemon behind 'ctx' is gone: its socket refuses
 * connections, its pidfile ('pidfile', "" if unknown) is removed and
 * its process ('pid', 0 if unknown) has exited. */
static bool
daemon_gone(const struct vsw_ctl_context *ctx, const char *pidfile, long pid)
{
    struct vsw_rpc_client *client;
    struct stat st;
    int error;

    if ((pidfile[0] && stat(pidfile, &st) == 0) ||
        (pid > 0 && !process_gone(pid))) {
        return false;
    }
    error = vsw_rpc_client_open(ctx->socket_path, STOP_POLL_MS, &client);
    if (!error) {
        vsw_rpc_client_close(client);
        return false;
    }
    return error == -ENOENT || error == -ECONNREFUSED;
}

static enum vsw_ctl_status
stop_cmd(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    const struct timespec pause = {0, STOP_POLL_MS * 1000000L};
    long long deadline = vsw_monotonic_ms() + ctx->timeout_ms;
    enum vsw_ctl_status status;
    const char *pidfile;
    json_t *result;
    long pid;

    (void)argc;
    (void)argv;
    status = vsw_ctl_call(ctx, ctx->command->method, json_object(), &result);
    if (status != VSW_CTL_OK) {
        return status;
    }
    pidfile = vsw_ctl_member_string(result, "pidfile");
    pidfile = pidfile ? pidfile : "";
    pid = (long)json_integer_value(json_object_get(result, "pid"));
    vsw_rpc_client_close(ctx->client);
    ctx->client = NULL;
    while (!daemon_gone(ctx, pidfile, pid)) {
        if (vsw_monotonic_ms() >= deadline) {
            vsw_ctl_error("vswitchd (pid %ld) did not exit within %g s (see "
                          "--timeout)",
                          pid, ctx->timeout_ms / 1000.0);
            json_decref(result);
            return VSW_CTL_ERROR;
        }
        nanosleep(&pause, NULL);
    }
    if (ctx->format == VSW_CTL_FORMAT_JSON) {
        vsw_ctl_print_json(result);
    }
    json_decref(result);
    return VSW_CTL_OK;
}

const struct vsw_ctl_command vsw_ctl_stop_commands[] = {
    {
        .verb = "stop",
        .args = "",
        .min_args = 0,
        .max_args = 0,
        .method = "system.stop",
        .summary = "stop the daemon and wait until it has exited",
        .help = "Stops vswitchd as SIGTERM does: TAP devices stay, for the "
                "next daemon to\nreattach.  Returns once the daemon's socket "
                "refuses connections, its pidfile\nis removed and its "
                "process has exited, so that the next command never meets\n"
                "it; fails if that takes longer than --timeout.\n",
        .run = stop_cmd,
    },
    {.verb = NULL},
};
