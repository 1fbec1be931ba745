/*
 * libFuzzer harness for the JSON-RPC request path on a real manager: the
 * daemon's own vsw_manager_create() (datapath worker, state directory,
 * config.json) with its methods registered on a real server, and a switch
 * "sw0" with a port "p0" to act on.  Build and run with
 * tests/fuzz/build.sh and run.sh.
 *
 * The process first moves into a network namespace of its own (it needs
 * root, as CI has), so the TAP devices that accepted port.add requests
 * create vanish with it and never meet the host's.  Without root it still
 * runs, on the methods that need no device.  Inputs naming system.stop
 * (ends the loop) or ext.load (would dlopen whatever path the input
 * names) are skipped.
 *
 * Input: 1 byte choosing the path, then the bytes:
 *   - even: one request text through vsw_rpc_server_handle_text(), the
 *     envelope and every method's parameter handling;
 *   - odd: the bytes written to a real client connection in chunks (the
 *     framing: partial, pipelined, oversized, garbage), then the
 *     connection closed.
 *
 * Oracles besides memory safety:
 *   - the answer to a request is JSON-RPC 2.0: an object with "jsonrpc",
 *     and exactly one of "result" and "error";
 *   - a request that is refused leaves config.json byte for byte as it
 *     was (ROBUSTNESS.md: bad input changes nothing);
 *   - after any input the daemon still answers system.status.
 *
 * fuzz-options: -max_len=8192 -timeout=30
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "manager.h"
#include "rpc-server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct event_base *base;
static struct vsw_manager *mgr;
static struct vsw_rpc_server *server;
static char state_dir[64];
static char config_path[128];
static char socket_path[128];

/* config.json as it is now (NULL if absent); '*len' its size. */
static char *
read_config(size_t *len)
{
    int fd = open(config_path, O_RDONLY);
    struct stat st;
    char *text;

    *len = 0;
    if (fd < 0) {
        return NULL;
    }
    if (fstat(fd, &st) < 0) {
        abort();
    }
    text = malloc((size_t)st.st_size + 1);
    if (!text || read(fd, text, (size_t)st.st_size) != st.st_size) {
        abort();
    }
    close(fd);
    *len = (size_t)st.st_size;
    return text;
}

static void
pump(void)
{
    for (int i = 0; i < 4; i++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
    }
}

/* Sends 'text' and returns the answer, which must be JSON-RPC. */
static json_t *
call(const char *text, size_t len)
{
    char *answer = vsw_rpc_server_handle_text(server, text, len);
    json_t *reply;

    if (!answer) {
        return NULL; /* a notification */
    }
    reply = json_loads(answer, 0, NULL);
    free(answer);
    if (!json_is_object(reply) ||
        !json_is_string(json_object_get(reply, "jsonrpc")) ||
        !json_object_get(reply, "result") ==
            !json_object_get(reply, "error")) {
        abort(); /* not a JSON-RPC response */
    }
    return reply;
}

static void
remove_state_dir(void)
{
    char cmd[160];

    vsw_rpc_server_destroy(server);
    vsw_manager_destroy(mgr);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", state_dir);
    if (system(cmd)) {
        /* Nothing more to do on the way out. */
    }
}

static void
setup(void)
{
    static const char *const requests[] = {
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"switch.add\","
        "\"params\":{\"name\":\"sw0\"}}",
        "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"port.add\","
        "\"params\":{\"switch\":\"sw0\",\"name\":\"p0\",\"type\":\"tap\"}}",
        "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"acl.add\","
        "\"params\":{\"port\":\"p0\",\"action\":\"deny\","
        "\"direction\":\"in\",\"remote-ip\":\"10.9.0.0/16\"}}",
    };
    struct vsw_manager_options opts = {.n_workers = 1};
    char err[512];

    /* A network namespace of our own for the TAPs; fine if not root. */
    if (unshare(CLONE_NEWNET) < 0) {
        fprintf(stderr,
                "rpc-fuzz: no network namespace of its own (%s): "
                "port.add will fail\n",
                strerror(errno));
    }
    /* tmpfs when there is one: every accepted change saves with fsync. */
    snprintf(state_dir, sizeof state_dir, "%s/vsw-rpc-fuzz.XXXXXX",
             access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm");
    if (!mkdtemp(state_dir)) {
        abort();
    }
    snprintf(config_path, sizeof config_path, "%s/config.json", state_dir);
    snprintf(socket_path, sizeof socket_path, "%s/rpc.sock", state_dir);
    vsw_log_open("/dev/null");
    base = event_base_new();
    opts.state_dir = state_dir;
    if (!base || vsw_manager_create(base, &opts, &mgr, err, sizeof err) ||
        vsw_rpc_server_create(base, socket_path, NULL, &server) ||
        vsw_manager_register_rpc(mgr, server)) {
        fprintf(stderr, "rpc-fuzz: cannot start a manager: %s\n", err);
        abort();
    }
    vsw_manager_set_identity(mgr, socket_path, NULL, 0);
    atexit(remove_state_dir);
    for (size_t i = 0; i < sizeof requests / sizeof *requests; i++) {
        json_t *reply = call(requests[i], strlen(requests[i]));

        if (json_object_get(reply, "error")) {
            char *text = json_dumps(reply, 0);

            fprintf(stderr, "rpc-fuzz: setup: %s\n", text);
            free(text);
            if (i == 0) {
                abort(); /* no switch to fuzz */
            }
        }
        json_decref(reply);
    }
    pump();
}

static bool
names_unsafe_method(const uint8_t *data, size_t size)
{
    static const char *const unsafe[] = {"system.stop", "ext.load"};

    for (size_t i = 0; i < sizeof unsafe / sizeof *unsafe; i++) {
        if (memmem(data, size, unsafe[i], strlen(unsafe[i]))) {
            return true;
        }
    }
    return false;
}

static void
one_request(const uint8_t *data, size_t size)
{
    size_t before_len, after_len;
    char *before = read_config(&before_len);
    json_t *reply = call((const char *)data, size);
    char *after;

    pump();
    after = read_config(&after_len);
    if (reply && json_object_get(reply, "error") &&
        (before_len != after_len || !before != !after ||
         (before && memcmp(before, after, before_len)))) {
        abort(); /* a refused request changed the configuration */
    }
    json_decref(reply);
    free(before);
    free(after);
}

static void
through_socket(const uint8_t *data, size_t size)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    size_t chunk = 1 + size % 97;
    char sink[4096];

    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        abort();
    }
    pump();
    for (size_t done = 0; done < size;) {
        size_t n = size - done < chunk ? size - done : chunk;
        ssize_t w = write(fd, data + done, n);

        if (w < 0 && errno != EAGAIN) {
            break; /* the server closed it: a refused framing */
        }
        done += w > 0 ? (size_t)w : 0;
        pump();
        while (read(fd, sink, sizeof sink) > 0) {
            continue;
        }
    }
    shutdown(fd, SHUT_WR);
    pump();
    while (read(fd, sink, sizeof sink) > 0) {
        continue;
    }
    close(fd);
    pump();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char status[] =
        "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"system.status\"}";
    static bool initialized;
    json_t *reply;

    if (!initialized) {
        setup();
        initialized = true;
    }
    if (size < 1 || names_unsafe_method(data, size)) {
        return 0;
    }
    if (data[0] % 2 == 0) {
        one_request(data + 1, size - 1);
    } else {
        through_socket(data + 1, size - 1);
    }
    reply = call(status, strlen(status));
    if (!reply || !json_object_get(reply, "result")) {
        abort(); /* the daemon no longer answers */
    }
    json_decref(reply);
    return 0;
}
