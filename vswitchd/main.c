/*
 * vswitchd: the daemon.  Parses options, takes the state directory for
 * itself, starts the switch manager (datapath workers, restored
 * configuration) and serves JSON-RPC on the control thread's libevent
 * loop until SIGTERM or SIGINT.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "etcd.h"
#include "log.h"
#include "manager.h"
#include "metrics.h"
#include "rpc-server.h"
#include "timeutil.h"

#define DEFAULT_STATE_DIR "/var/lib/vswitch"

struct options {
    const char *state_dir;        /* --state-dir */
    char socket[PATH_MAX];        /* --socket, or state_dir/vswitchd.sock */
    char pidfile[PATH_MAX];       /* --pidfile, or state_dir/vswitchd.pid */
    const char *log_file;         /* --log-file, NULL for stderr */
    enum vsw_log_level log_level; /* --log-level */
    unsigned n_workers;           /* --workers, default: one per core */
    bool busy_poll;               /* --busy-poll */
    bool detach;                  /* --detach */
    const char *ext_dirs[16];     /* --extension-dir, repeatable */
    size_t n_ext_dirs;            /* entries in 'ext_dirs' */
    const char *etcd;             /* --etcd URLS, NULL without */
    char host_id[VSW_ETCD_HOST_ID_MAX + 1]; /* --host-id, "" without */
    gid_t rpc_gid;                          /* --rpc-group, -1: none */
    gid_t rpc_readonly_gid;      /* --rpc-readonly-group, -1: none */
    const char *metrics_address; /* --metrics-address, NULL: none */
};

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: vswitchd [OPTIONS]\n"
            "Runs the vswitch daemon: forwards traffic between TAP and "
            "uplink ports\nand serves JSON-RPC on a unix socket.\n\n"
            "  --state-dir DIR     configuration, socket and pidfile live "
            "here\n"
            "                      (default " DEFAULT_STATE_DIR ")\n"
            "  --socket PATH       JSON-RPC socket (default "
            "DIR/vswitchd.sock)\n"
            "  --pidfile[=PATH]    write the pid here (default "
            "DIR/vswitchd.pid)\n"
            "  --detach            run in the background once ready\n"
            "  --log-file PATH     log here instead of stderr\n"
            "  --log-level LEVEL   err, warn, info (default) or debug\n"
            "  --workers N         datapath threads (default: one per "
            "core)\n"
            "  --busy-poll         workers spin instead of sleeping when "
            "idle:\n"
            "                      lower latency, one busy core per "
            "worker\n"
            "  --extension-dir DIR load every *.so in DIR at start "
            "(repeatable)\n"
            "  --etcd URLS         share tenant mappings through etcd "
            "(comma-separated\n"
            "                      http://HOST:PORT of the cluster's "
            "members; saved in\n"
            "                      config.json, so later starts use it "
            "without the option)\n"
            "  --host-id ID        this host's name in etcd (default: the "
            "saved one, else\n"
            "                      the hostname)\n"
            "  --rpc-group GROUP   members of GROUP may use the socket "
            "like root\n"
            "  --rpc-readonly-group GROUP\n"
            "                      members of GROUP may call the methods "
            "that only read\n"
            "  --metrics-address ADDR:PORT\n"
            "                      serve Prometheus metrics at "
            "http://ADDR:PORT/metrics\n"
            "                      (an IPv6 ADDR in brackets; default: "
            "off)\n"
            "  -h, --help          show this help\n"
            "  -V, --version       show the version\n");
}

static void die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
    va_list args;

    fputs("vswitchd: ", stderr);
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    fputc('\n', stderr);
    exit(1);
}

/* The gid of group 'name' (a name or a number), for option 'option';
 * dies if there is no such group. */
static gid_t
group_id(const char *option, const char *name)
{
    struct group *gr = getgrnam(name);
    char *end;
    unsigned long n;

    if (gr) {
        return gr->gr_gid;
    }
    n = strtoul(name, &end, 10);
    if (*name && !*end && n < (gid_t)-1 && getgrgid((gid_t)n)) {
        return (gid_t)n;
    }
    die("%s: no group named '%s'", option, name);
}

/* Lets the groups of --rpc-group and --rpc-readonly-group use 'server'.
 * Returns 0 or a negative errno. */
static int
grant_rpc_groups(struct vsw_rpc_server *server, const struct options *opts)
{
    gid_t admin = opts->rpc_gid;
    gid_t readonly = opts->rpc_readonly_gid;
    char dir[PATH_MAX];
    const char *note;
    struct stat st;
    int error;

    if (admin == (gid_t)-1 && readonly == (gid_t)-1) {
        return 0;
    }
    if ((admin != (gid_t)-1 &&
         vsw_rpc_server_allow_gid(server, admin, true)) ||
        (readonly != (gid_t)-1 &&
         vsw_rpc_server_allow_gid(server, readonly, false))) {
        return -ENOMEM;
    }
    error = vsw_rpc_server_set_socket_groups(server, admin, readonly, &note);
    if (error) {
        return error;
    }
    if (note) {
        VSW_WARN("%s", note);
    }
    /* The default state directory is 0700: the groups could not reach a
     * socket inside it. */
    snprintf(dir, sizeof dir, "%s", opts->socket);
    if (!stat(dirname(dir), &st) && !(st.st_mode & S_IXOTH)) {
        VSW_WARN("the socket's directory %s is mode %04o: members of the "
                 "RPC groups cannot reach the socket (see --socket)",
                 dir, (unsigned)(st.st_mode & 07777));
    }
    return 0;
}

static void
parse_options(int argc, char *argv[], struct options *opts)
{
    enum {
        OPT_STATE_DIR = 256,
        OPT_SOCKET,
        OPT_PIDFILE,
        OPT_DETACH,
        OPT_LOG_FILE,
        OPT_LOG_LEVEL,
        OPT_WORKERS,
        OPT_BUSY_POLL,
        OPT_EXTENSION_DIR,
        OPT_ETCD,
        OPT_HOST_ID,
        OPT_RPC_GROUP,
        OPT_RPC_READONLY_GROUP,
        OPT_METRICS_ADDRESS,
    };
    static const struct option longopts[] = {
        {"state-dir", required_argument, NULL, OPT_STATE_DIR},
        {"socket", required_argument, NULL, OPT_SOCKET},
        {"pidfile", optional_argument, NULL, OPT_PIDFILE},
        {"detach", no_argument, NULL, OPT_DETACH},
        {"log-file", required_argument, NULL, OPT_LOG_FILE},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"workers", required_argument, NULL, OPT_WORKERS},
        {"busy-poll", no_argument, NULL, OPT_BUSY_POLL},
        {"extension-dir", required_argument, NULL, OPT_EXTENSION_DIR},
        {"etcd", required_argument, NULL, OPT_ETCD},
        {"host-id", required_argument, NULL, OPT_HOST_ID},
        {"rpc-group", required_argument, NULL, OPT_RPC_GROUP},
        {"rpc-readonly-group", required_argument, NULL,
         OPT_RPC_READONLY_GROUP},
        {"metrics-address", required_argument, NULL, OPT_METRICS_ADDRESS},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *socket = NULL;
    const char *pidfile = NULL;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int c;

    opts->state_dir = DEFAULT_STATE_DIR;
    opts->log_level = VSW_LOG_INFO;
    opts->rpc_gid = opts->rpc_readonly_gid = (gid_t)-1;
    opts->n_workers = cores > 0 ? (unsigned)cores : 1;
    while ((c = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
        char msg[256];
        char *end;
        long n;

        switch (c) {
        case OPT_STATE_DIR:
            opts->state_dir = optarg;
            break;
        case OPT_SOCKET:
            socket = optarg;
            break;
        case OPT_PIDFILE:
            pidfile = optarg ? optarg : "";
            break;
        case OPT_DETACH:
            opts->detach = true;
            break;
        case OPT_LOG_FILE:
            opts->log_file = optarg;
            break;
        case OPT_LOG_LEVEL:
            if (vsw_log_level_from_string(optarg, &opts->log_level)) {
                die("--log-level: '%s' is not err, warn, info or debug",
                    optarg);
            }
            break;
        case OPT_WORKERS:
            n = strtol(optarg, &end, 10);
            if (*end || end == optarg || n < 1 || n > 64) {
                die("--workers: '%s' is not a number from 1 to 64", optarg);
            }
            opts->n_workers = (unsigned)n;
            break;
        case OPT_EXTENSION_DIR:
            if (optarg[0] != '/') {
                die("--extension-dir needs an absolute path, not '%s'",
                    optarg);
            }
            if (opts->n_ext_dirs >=
                sizeof opts->ext_dirs / sizeof *opts->ext_dirs) {
                die("too many --extension-dir options");
            }
            opts->ext_dirs[opts->n_ext_dirs++] = optarg;
            break;
        case OPT_BUSY_POLL:
            opts->busy_poll = true;
            break;
        case OPT_ETCD:
            if (vsw_etcd_check_endpoints(optarg, msg, sizeof msg)) {
                die("--etcd: %s", msg);
            }
            opts->etcd = optarg;
            break;
        case OPT_HOST_ID:
            if (vsw_etcd_check_host_id(optarg, msg, sizeof msg)) {
                die("--host-id: %s", msg);
            }
            snprintf(opts->host_id, sizeof opts->host_id, "%s", optarg);
            break;
        case OPT_RPC_GROUP:
            opts->rpc_gid = group_id("--rpc-group", optarg);
            break;
        case OPT_RPC_READONLY_GROUP:
            opts->rpc_readonly_gid = group_id("--rpc-readonly-group", optarg);
            break;
        case OPT_METRICS_ADDRESS:
            if (vsw_metrics_check_address(optarg, msg, sizeof msg)) {
                die("--metrics-address: %s", msg);
            }
            opts->metrics_address = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case 'V':
            printf("vswitchd %s\n", VSW_VERSION);
            exit(0);
        default:
            usage(stderr);
            exit(2);
        }
    }
    if (optind < argc) {
        die("unexpected argument '%s' (see --help)", argv[optind]);
    }
    if (opts->rpc_gid != (gid_t)-1 &&
        opts->rpc_gid == opts->rpc_readonly_gid) {
        die("--rpc-readonly-group names the --rpc-group's group");
    }
    if (strlen(opts->state_dir) > PATH_MAX / 2) {
        die("--state-dir: path too long");
    }
    if (opts->state_dir[0] != '/') {
        die("--state-dir must be an absolute path, not '%s'", opts->state_dir);
    }
    snprintf(opts->socket, sizeof opts->socket, "%s", socket ? socket : "");
    if (!socket) {
        snprintf(opts->socket, sizeof opts->socket, "%s/vswitchd.sock",
                 opts->state_dir);
    }
    if (!pidfile || !pidfile[0]) {
        snprintf(opts->pidfile, sizeof opts->pidfile, "%s/vswitchd.pid",
                 opts->state_dir);
    } else {
        snprintf(opts->pidfile, sizeof opts->pidfile, "%s", pidfile);
    }
}

/* Creates 'dir' and its parents (mode 0700 for the last one). */
static int
make_dirs(const char *dir)
{
    char path[PATH_MAX];

    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(path, 0755) < 0 && errno != EEXIST) {
                return -errno;
            }
            *p = '/';
        }
    }
    if (mkdir(path, 0700) < 0 && errno != EEXIST) {
        return -errno;
    }
    return 0;
}

/* Two daemons on one state directory would fight over its TAP devices:
 * the lock, held for the daemon's life, prevents it. */
static int
lock_state_dir(const char *state_dir)
{
    char path[PATH_MAX];
    int fd;

    snprintf(path, sizeof path, "%s/lock", state_dir);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        die("cannot open %s: %s", path, strerror(errno));
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        die("another vswitchd already runs on %s", state_dir);
    }
    return fd;
}

static void
write_pidfile(const char *path)
{
    char tmp[PATH_MAX + 16];
    FILE *f;

    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    f = fopen(tmp, "w");
    if (!f || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) ||
        rename(tmp, path)) {
        die("cannot write pidfile %s: %s", path, strerror(errno));
    }
}

/* Forks; the parent waits until the child reports through a pipe that it
 * is serving (or has failed), then exits with the child's verdict, so
 * "vswitchd --detach && vswitch-ctl ..." works without a sleep. */
static int
detach(void)
{
    int fds[2];
    pid_t pid;
    char status = 1;

    if (pipe(fds) < 0) {
        die("pipe: %s", strerror(errno));
    }
    pid = fork();
    if (pid < 0) {
        die("fork: %s", strerror(errno));
    }
    if (pid > 0) {
        close(fds[1]);
        if (read(fds[0], &status, 1) != 1) {
            status = 1;
        }
        _exit(status);
    }
    close(fds[0]);
    setsid();
    return fds[1];
}

static void
signal_cb(evutil_socket_t sig, short what, void *base)
{
    (void)what;
    VSW_INFO("signal %d: exiting", (int)sig);
    event_base_loopbreak(base);
}

/* SIGHUP: reopen the log file, so that log rotation can move it away. */
static void
sighup_cb(evutil_socket_t sig, short what, void *log_file)
{
    int error;

    (void)sig;
    (void)what;
    if (!log_file) {
        VSW_INFO("SIGHUP: logging to stderr, nothing to reopen");
    } else if ((error = vsw_log_open(log_file))) {
        VSW_ERR("cannot reopen log file %s: %s", (const char *)log_file,
                strerror(-error));
    } else {
        VSW_INFO("SIGHUP: log reopened");
    }
}

int
main(int argc, char *argv[])
{
    struct vsw_manager_options mopts;
    struct vsw_rpc_server *server = NULL;
    struct vsw_metrics *metrics = NULL;
    struct vsw_manager *mgr = NULL;
    struct event_base *base;
    struct event *sigterm, *sigint, *sighup;
    char default_log[PATH_MAX + 32];
    struct options opts;
    char err[512] = "";
    long long start = vsw_time_msec();
    int ready_fd = -1;
    int error;

    memset(&opts, 0, sizeof opts);
    parse_options(argc, argv, &opts);
    if (opts.detach && !opts.log_file) {
        /* Detached, stderr goes nowhere: keep the log in the state
         * directory rather than lose it. */
        snprintf(default_log, sizeof default_log, "%s/vswitchd.log",
                 opts.state_dir);
        opts.log_file = default_log;
    }
    vsw_log_set_level(opts.log_level);
    if ((error = make_dirs(opts.state_dir))) {
        die("cannot create state directory %s: %s", opts.state_dir,
            strerror(-error));
    }
    if (opts.log_file && (error = vsw_log_open(opts.log_file))) {
        die("cannot open log file %s: %s", opts.log_file, strerror(-error));
    }
    if (opts.detach) {
        ready_fd = detach();
    }
    lock_state_dir(opts.state_dir);
    signal(SIGPIPE, SIG_IGN);

    base = event_base_new();
    if (!base) {
        die("cannot create the event loop");
    }
    /* Before the manager: a taken port refuses the start before any
     * device is touched. */
    if (opts.metrics_address &&
        vsw_metrics_create(base, opts.metrics_address, &metrics, err,
                           sizeof err)) {
        die("--metrics-address: %s", err);
    }
    mopts.state_dir = opts.state_dir;
    mopts.n_workers = opts.n_workers;
    mopts.busy_poll = opts.busy_poll;
    mopts.extension_dirs = opts.ext_dirs;
    mopts.n_extension_dirs = opts.n_ext_dirs;
    mopts.etcd_endpoints = opts.etcd;
    mopts.etcd_host_id = opts.host_id[0] ? opts.host_id : NULL;
    error = vsw_manager_create(base, &mopts, &mgr, err, sizeof err);
    if (error) {
        die("%s", err);
    }
    vsw_manager_set_identity(mgr, opts.socket, opts.pidfile, start);
    /* The pidfile before the socket: nothing that can fail comes after
     * the socket, so a refused start never leaves a socket behind. */
    write_pidfile(opts.pidfile);
    error = vsw_rpc_server_create(base, opts.socket, NULL, &server);
    if (error) {
        unlink(opts.pidfile);
        die("cannot listen on %s: %s", opts.socket,
            error == -EADDRINUSE ? "another daemon is listening there"
                                 : strerror(-error));
    }
    if (vsw_manager_register_rpc(mgr, server)) {
        die("cannot register the RPC methods");
    }
    vsw_metrics_set_source(metrics, server);
    if ((error = grant_rpc_groups(server, &opts))) {
        vsw_rpc_server_destroy(server);
        unlink(opts.pidfile);
        die("cannot give the socket %s to the RPC groups: %s", opts.socket,
            strerror(-error));
    }

    sigterm = evsignal_new(base, SIGTERM, signal_cb, base);
    sigint = evsignal_new(base, SIGINT, signal_cb, base);
    sighup = evsignal_new(base, SIGHUP, sighup_cb, (void *)opts.log_file);
    if (!sigterm || !sigint || !sighup || evsignal_add(sigterm, NULL) ||
        evsignal_add(sigint, NULL) || evsignal_add(sighup, NULL)) {
        die("cannot install signal handlers");
    }
    VSW_INFO("vswitchd %s ready: state %s, socket %s, workers: %u",
             VSW_VERSION, opts.state_dir, opts.socket, opts.n_workers);
    /* Under systemd (Type=notify): the configuration is restored and the
     * socket listens.  Without NOTIFY_SOCKET this does nothing. */
    sd_notifyf(0, "READY=1\nSTATUS=serving on %s\nMAINPID=%lu", opts.socket,
               (unsigned long)getpid());
    if (ready_fd >= 0) {
        char ok = 0;
        int devnull = open("/dev/null", O_RDWR);

        if (write(ready_fd, &ok, 1) != 1) {
            VSW_WARN("could not tell the parent process we are ready");
        }
        close(ready_fd);
        if (devnull >= 0) {
            dup2(devnull, STDIN_FILENO);
            dup2(devnull, STDOUT_FILENO);
            if (opts.log_file) {
                dup2(devnull, STDERR_FILENO);
            }
            close(devnull);
        }
    }

    event_base_dispatch(base);

    sd_notify(0, "STOPPING=1");
    vsw_metrics_destroy(metrics);
    vsw_rpc_server_destroy(server);
    vsw_manager_destroy(mgr);
    event_free(sigterm);
    event_free(sigint);
    event_free(sighup);
    event_base_free(base);
    unlink(opts.pidfile);
    vsw_log_open(NULL);
    return 0;
}
