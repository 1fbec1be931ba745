/*
 * Capture sessions, the control side: capture.start, capture.read,
 * capture.stop and capture.list.
 *
 * capture.start checks the request, compiles the filter with libpcap's
 * BPF compiler (a bad expression is refused, nothing started), creates
 * the datapath session (its rings, datapath/pipeline/pcap-tap.c) and
 * publishes a snapshot in which the captured ports point to it.  The
 * client then polls capture.read, which takes what the rings hold now,
 * oldest first.  A session belongs to the connection that started it:
 * it ends with capture.stop or when that connection closes.  It also
 * stops capturing when its port or switch is removed or, with a count,
 * once that many frames were read; it then stays, with its status, until
 * its client stops it or goes, so that the client learns why.
 *
 * Threads: all of it runs on the control thread.  A session leaves the
 * snapshot first and is freed only after a grace period (mgr_retire()).
 */
#include <errno.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "log.h"
#include "manager-private.h"
#include "pcap-tap.h"
#include "rpc-server.h"

/* Defaults and bounds of capture.start. */
#define CAPTURE_SNAPLEN_MAX     262144 /* tcpdump's "whole frame" */
#define CAPTURE_BUFFER_DEFAULT  (1024 * 1024)
#define CAPTURE_READ_MAX_FRAMES 10000
/* Frame bytes one capture.read returns at most, far below the RPC
 * output cap once encoded. */
#define CAPTURE_READ_MAX_BYTES (4 * 1024 * 1024)

enum capture_status {
    CAPTURE_RUNNING,        /* capturing */
    CAPTURE_COUNT_REACHED,  /* 'count' frames were read */
    CAPTURE_PORT_REMOVED,   /* its port was removed */
    CAPTURE_SWITCH_REMOVED, /* its switch was removed */
};

static const char *const status_names[] = {
    [CAPTURE_RUNNING] = "running",
    [CAPTURE_COUNT_REACHED] = "count-reached",
    [CAPTURE_PORT_REMOVED] = "port-removed",
    [CAPTURE_SWITCH_REMOVED] = "switch-removed",
};

struct capture_session {
    struct capture_session *next; /* in 'mgr_captures.sessions' */
    uint64_t id;                  /* capture.start's answer */
    uint64_t client;              /* connection that owns it */
    char target[VSW_NAME_MAX];    /* the port or switch named */
    const struct mgr_port *port;  /* captured port, or NULL */
    const struct mgr_switch *sw;  /* captured switch, or NULL */
    bool is_switch;               /* the target is a switch */
    uint8_t directions;           /* VSW_PCAP_DIR_* */
    char *filter;                 /* expression, "" for none */
    uint32_t snaplen;             /* bytes kept of a frame */
    uint64_t count;               /* frames to read, 0: no limit */
    size_t buffer;                /* bytes of each ring */
    uint64_t read;                /* frames capture.read returned */
    enum capture_status status;   /* why it stopped, if it did */
    struct vsw_pcap_session *dp;  /* rings and filter (datapath) */
};

struct mgr_captures {
    struct vsw_rpc_server *server;    /* tells whose request runs */
    struct capture_session *sessions; /* newest first */
    unsigned n_sessions;              /* length of 'sessions' */
    uint64_t next_id;                 /* ids given so far */
    uint64_t refused_full;            /* starts refused at the bound */
};

static bool
session_active(const struct capture_session *s)
{
    return s->status == CAPTURE_RUNNING;
}

int
mgr_capture_fill_port(const struct vsw_manager *mgr,
                      const struct mgr_port *port, struct vsw_dp_port *dport)
{
    struct vsw_pcap_taps *taps = NULL;

    if (!mgr->captures) {
        return 0;
    }
    for (struct capture_session *s = mgr->captures->sessions; s; s = s->next) {
        if (!session_active(s) || (s->port != port && s->sw != port->sw)) {
            continue;
        }
        if (!taps) {
            taps = calloc(1, sizeof *taps);
            if (!taps) {
                return -ENOMEM;
            }
        }
        taps->tap[taps->n].session = s->dp;
        taps->tap[taps->n].directions = s->directions;
        taps->directions |= s->directions;
        taps->n++;
    }
    dport->pcap = taps;
    return 0;
}

/* Stops 's' capturing for 'status': the next snapshot leaves it out. */
static void
session_end(struct capture_session *s, enum capture_status status)
{
    if (session_active(s)) {
        s->status = status;
        VSW_INFO("capture %llu of %s %s ended: %s", (unsigned long long)s->id,
                 s->is_switch ? "switch" : "port", s->target,
                 status_names[status]);
    }
}

void
mgr_capture_port_removed(struct vsw_manager *mgr, const struct mgr_port *port)
{
    for (struct capture_session *s = mgr->captures ? mgr->captures->sessions
                                                   : NULL;
         s; s = s->next) {
        if (s->port == port) {
            s->port = NULL;
            session_end(s, CAPTURE_PORT_REMOVED);
        }
    }
}

void
mgr_capture_switch_removed(struct vsw_manager *mgr,
                           const struct mgr_switch *sw)
{
    for (struct capture_session *s = mgr->captures ? mgr->captures->sessions
                                                   : NULL;
         s; s = s->next) {
        if (s->sw == sw) {
            s->sw = NULL;
            session_end(s, CAPTURE_SWITCH_REMOVED);
        }
    }
}

static void
session_free(void *s_)
{
    struct capture_session *s = s_;

    vsw_pcap_session_destroy(s->dp);
    free(s->filter);
    free(s);
}

/* Unlinks 's' and frees it once no worker can reach its rings. */
static void
session_delete(struct vsw_manager *mgr, struct capture_session *s)
{
    struct capture_session **pp = &mgr->captures->sessions;

    while (*pp != s) {
        pp = &(*pp)->next;
    }
    *pp = s->next;
    mgr->captures->n_sessions--;
    mgr_retire(mgr, session_free, s);
    mgr_publish(mgr);
}

static void
client_closed(uint64_t client, void *mgr_)
{
    struct vsw_manager *mgr = mgr_;
    struct capture_session *s = mgr->captures->sessions;

    while (s) {
        struct capture_session *next = s->next;

        if (s->client == client) {
            VSW_DBG("capture %llu: its client went away",
                    (unsigned long long)s->id);
            session_delete(mgr, s);
        }
        s = next;
    }
}

void
mgr_capture_destroy(struct vsw_manager *mgr)
{
    if (!mgr->captures) {
        return;
    }
    while (mgr->captures->sessions) {
        struct capture_session *s = mgr->captures->sessions;

        mgr->captures->sessions = s->next;
        session_free(s);
    }
    free(mgr->captures);
    mgr->captures = NULL;
}

static const char *
direction_name(uint8_t directions)
{
    return directions == VSW_PCAP_DIR_IN    ? "in"
           : directions == VSW_PCAP_DIR_OUT ? "out"
                                            : "both";
}

/* Compiles 'expr' into '*program' as libpcap would for an Ethernet
 * capture of 'snaplen'.  Returns 0 or fills 'err' with libpcap's reason. */
static int
compile_filter(const char *expr, uint32_t snaplen, struct bpf_program *program,
               struct vsw_rpc_error *err)
{
    pcap_t *dead = pcap_open_dead(DLT_EN10MB, (int)snaplen);
    int error = 0;

    if (!dead) {
        return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR, "out of memory");
    }
    if (pcap_compile(dead, program, expr, 1, PCAP_NETMASK_UNKNOWN)) {
        error = vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS, "filter '%s': %s",
                              expr, pcap_geterr(dead));
    }
    pcap_close(dead);
    return error;
}

/* The session capture.read or capture.stop names, if the calling
 * connection owns it.  Returns NULL after filling 'err'. */
static struct capture_session *
session_lookup(struct vsw_manager *mgr, json_t *params,
               struct vsw_rpc_error *err)
{
    uint64_t client = vsw_rpc_server_current_client(mgr->captures->server);
    long long id;

    if (vsw_rpc_get_int(params, "id", true, 1, INT64_MAX, &id, err)) {
        return NULL;
    }
    for (struct capture_session *s = mgr->captures->sessions; s; s = s->next) {
        if (s->id != (uint64_t)id) {
            continue;
        }
        if (s->client != client) {
            vsw_rpc_error(err, VSW_RPC_PERMISSION,
                          "capture %lld belongs to another connection", id);
            return NULL;
        }
        return s;
    }
    vsw_rpc_error(err, VSW_RPC_NOT_FOUND, "no capture %lld", id);
    return NULL;
}

static json_t *
session_to_json(const struct capture_session *s)
{
    return json_pack(
        "{s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "id",
        (json_int_t)s->id, "target", s->target, "kind",
        s->is_switch ? "switch" : "port", "direction",
        direction_name(s->directions), "filter", s->filter, "snaplen",
        (json_int_t)s->snaplen, "count", (json_int_t)s->count, "buffer",
        (json_int_t)s->buffer, "read", (json_int_t)s->read, "copied",
        (json_int_t)vsw_pcap_session_copied(s->dp), "drops",
        (json_int_t)vsw_pcap_session_drops(s->dp), "status",
        status_names[s->status]);
}

static int
rpc_capture_start(json_t *params, json_t **result, struct vsw_rpc_error *err,
                  void *mgr_)
{
    static const char *const keys[] = {
        "target", "direction", "filter", "snaplen", "count", "buffer", NULL};
    struct vsw_manager *mgr = mgr_;
    struct mgr_captures *captures = mgr->captures;
    struct bpf_program program = {0, NULL};
    const char *direction = NULL;
    const char *filter = "";
    const char *target;
    struct capture_session *s;
    long long snaplen = CAPTURE_SNAPLEN_MAX;
    long long count = 0;
    long long buffer = CAPTURE_BUFFER_DEFAULT;
    struct mgr_port *port;
    struct mgr_switch *sw = NULL;
    uint8_t directions;
    int error;

    if (vsw_rpc_check_keys(params, keys, err) ||
        vsw_rpc_get_string(params, "target", true, &target, err) ||
        vsw_rpc_get_string(params, "direction", false, &direction, err) ||
        vsw_rpc_get_string(params, "filter", false, &filter, err) ||
        vsw_rpc_get_int(params, "snaplen", false, 1, CAPTURE_SNAPLEN_MAX,
                        &snaplen, err) ||
        vsw_rpc_get_int(params, "count", false, 0, INT64_MAX, &count, err) ||
        vsw_rpc_get_int(params, "buffer", false, VSW_PCAP_RING_MIN,
                        VSW_PCAP_RING_MAX, &buffer, err)) {
        return -1;
    }
    /* A port and a switch may share a name; the port is meant then. */
    port = mgr_find_port(mgr, target);
    if (!port) {
        sw = mgr_find_switch(mgr, target);
        if (!sw) {
            return vsw_rpc_error(err, VSW_RPC_NOT_FOUND,
                                 "no port or switch '%s'", target);
        }
    }
    /* A switch's frames, once each by default: as they enter it. */
    if (!direction) {
        directions =
            sw ? VSW_PCAP_DIR_OUT : VSW_PCAP_DIR_IN | VSW_PCAP_DIR_OUT;
    } else if (!strcmp(direction, "in")) {
        directions = VSW_PCAP_DIR_IN;
    } else if (!strcmp(direction, "out")) {
        directions = VSW_PCAP_DIR_OUT;
    } else if (!strcmp(direction, "both")) {
        directions = VSW_PCAP_DIR_IN | VSW_PCAP_DIR_OUT;
    } else {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "direction: expected in, out or both, got '%s'",
                             direction);
    }
    if (captures->n_sessions >= VSW_PCAP_MAX_SESSIONS) {
        captures->refused_full++;
        return vsw_rpc_error(err, VSW_RPC_CONFLICT,
                             "%d captures are running already (the most "
                             "there may be)",
                             VSW_PCAP_MAX_SESSIONS);
    }
    if (filter[0] &&
        compile_filter(filter, (uint32_t)snaplen, &program, err)) {
        return -1;
    }
    s = calloc(1, sizeof *s);
    if (s) {
        s->filter = strdup(filter);
    }
    error = !s || !s->filter
                ? -ENOMEM
                : vsw_pcap_session_create(
                      vsw_datapath_n_counter_slots(mgr->dp), (size_t)buffer,
                      (uint32_t)snaplen, filter[0] ? &program : NULL, &s->dp);
    if (error) {
        if (program.bf_insns) {
            pcap_freecode(&program);
        }
        if (s) {
            free(s->filter);
        }
        free(s);
        return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR, "%s",
                             strerror(-error));
    }
    s->id = ++captures->next_id;
    s->client = vsw_rpc_server_current_client(captures->server);
    snprintf(s->target, sizeof s->target, "%s", target);
    s->port = port;
    s->sw = sw;
    s->is_switch = sw != NULL;
    s->directions = directions;
    s->snaplen = (uint32_t)snaplen;
    s->count = (uint64_t)count;
    s->buffer = (size_t)buffer;
    s->next = captures->sessions;
    captures->sessions = s;
    captures->n_sessions++;
    if (mgr_publish(mgr)) {
        session_delete(mgr, s);
        return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR, "out of memory");
    }
    VSW_INFO("capture %llu of %s %s started (direction %s%s%s)",
             (unsigned long long)s->id, sw ? "switch" : "port", target,
             direction_name(directions), filter[0] ? ", filter " : "", filter);
    *result = json_pack("{s:I, s:s, s:s, s:I, s:I}", "id", (json_int_t)s->id,
                        "kind", sw ? "switch" : "port", "direction",
                        direction_name(directions), "snaplen",
                        (json_int_t)snaplen, "buffer", (json_int_t)buffer);
    return 0;
}

/* 'len' bytes of 'data' in base64, as a new JSON string. */
static json_t *
base64_json(const uint8_t *data, size_t len)
{
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *text = malloc((len + 2) / 3 * 4 + 1);
    json_t *string;
    size_t o = 0;

    if (!text) {
        return NULL;
    }
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;

        v |= i + 1 < len ? (uint32_t)data[i + 1] << 8 : 0;
        v |= i + 2 < len ? data[i + 2] : 0;
        text[o++] = digits[v >> 18 & 63];
        text[o++] = digits[v >> 12 & 63];
        text[o++] = i + 1 < len ? digits[v >> 6 & 63] : '=';
        text[o++] = i + 2 < len ? digits[v & 63] : '=';
    }
    string = json_stringn(text, o);
    free(text);
    return string;
}

/* The name of port 'id', or NULL if it is gone. */
static const char *
port_name(const struct vsw_manager *mgr, uint32_t id)
{
    const struct mgr_port *port = mgr->by_slot[VSW_FDB_SLOT(id)];

    return port && port->id == id ? port->name : NULL;
}

static int
rpc_capture_read(json_t *params, json_t **result, struct vsw_rpc_error *err,
                 void *mgr_)
{
    static const char *const keys[] = {"id", "max", NULL};
    struct vsw_manager *mgr = mgr_;
    struct vsw_pcap_record rec;
    struct capture_session *s;
    long long max = 1000;
    size_t bytes = 0;
    json_t *frames;

    if (vsw_rpc_check_keys(params, keys, err) ||
        !(s = session_lookup(mgr, params, err)) ||
        vsw_rpc_get_int(params, "max", false, 1, CAPTURE_READ_MAX_FRAMES, &max,
                        err)) {
        return -1;
    }
    frames = json_array();
    while (json_array_size(frames) < (size_t)max &&
           bytes < CAPTURE_READ_MAX_BYTES &&
           (!s->count || s->read < s->count) &&
           vsw_pcap_session_next(s->dp, &rec)) {
        const char *name = port_name(mgr, rec.port_id);

        json_array_append_new(
            frames, json_pack("{s:I, s:s?, s:s, s:I, s:o}", "ts",
                              (json_int_t)rec.ts_ns, "port", name, "direction",
                              direction_name(rec.direction), "len",
                              (json_int_t)rec.wire_len, "data",
                              base64_json(rec.data, rec.cap_len)));
        bytes += rec.cap_len;
        s->read++;
    }
    if (s->count && s->read >= s->count && session_active(s)) {
        session_end(s, CAPTURE_COUNT_REACHED);
        mgr_publish(mgr);
    }
    *result = json_pack("{s:o, s:I, s:I, s:I, s:s}", "frames", frames, "read",
                        (json_int_t)s->read, "copied",
                        (json_int_t)vsw_pcap_session_copied(s->dp), "drops",
                        (json_int_t)vsw_pcap_session_drops(s->dp), "status",
                        status_names[s->status]);
    return 0;
}

static int
rpc_capture_stop(json_t *params, json_t **result, struct vsw_rpc_error *err,
                 void *mgr_)
{
    static const char *const keys[] = {"id", NULL};
    struct vsw_manager *mgr = mgr_;
    struct capture_session *s;

    if (vsw_rpc_check_keys(params, keys, err) ||
        !(s = session_lookup(mgr, params, err))) {
        return -1;
    }
    session_end(s, s->status);
    *result = session_to_json(s);
    session_delete(mgr, s);
    return 0;
}

static int
rpc_capture_list(json_t *params, json_t **result, struct vsw_rpc_error *err,
                 void *mgr_)
{
    static const char *const keys[] = {NULL};
    struct vsw_manager *mgr = mgr_;
    json_t *list;

    if (vsw_rpc_check_keys(params, keys, err)) {
        return -1;
    }
    list = json_array();
    /* Oldest first: the list is kept newest first. */
    for (const struct capture_session *s = mgr->captures->sessions; s;
         s = s->next) {
        json_array_insert_new(list, 0, session_to_json(s));
    }
    *result = json_pack("{s:o, s:i}", "captures", list, "max",
                        VSW_PCAP_MAX_SESSIONS);
    return 0;
}

void
mgr_capture_bounds(struct vsw_manager *mgr, struct vsw_bounds *bounds)
{
    const struct mgr_captures *captures = mgr->captures;

    if (!captures) {
        return;
    }
    vsw_bounds_add(bounds, "capture-sessions", "daemon", "sessions",
                   captures->n_sessions, VSW_PCAP_MAX_SESSIONS,
                   captures->refused_full);
    for (const struct capture_session *s = captures->sessions; s;
         s = s->next) {
        char owner[32];
        uint64_t used, size;

        if (!s->dp) {
            continue;
        }
        vsw_pcap_session_usage(s->dp, &used, &size);
        snprintf(owner, sizeof owner, "capture:%" PRIu64, s->id);
        vsw_bounds_add(bounds, "capture-buffer", owner, "bytes", used, size,
                       vsw_pcap_session_drops(s->dp));
    }
}

static const struct vsw_rpc_method capture_methods[] = {
    {"capture.start", rpc_capture_start, VSW_RPC_WRITES},
    {"capture.read", rpc_capture_read, VSW_RPC_READS},
    {"capture.stop", rpc_capture_stop, VSW_RPC_WRITES},
    {"capture.list", rpc_capture_list, VSW_RPC_READS},
};

int
mgr_capture_register_rpc(struct vsw_manager *mgr,
                         struct vsw_rpc_server *server)
{
    mgr->captures = calloc(1, sizeof *mgr->captures);
    if (!mgr->captures) {
        return -ENOMEM;
    }
    mgr->captures->server = server;
    if (vsw_rpc_server_on_close(server, client_closed, mgr)) {
        return -ENOMEM;
    }
    return vsw_rpc_server_register(
        server, capture_methods,
        sizeof capture_methods / sizeof *capture_methods, mgr);
}
