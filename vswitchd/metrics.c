/*
 * Prometheus metrics over HTTP (see metrics.h).  Two halves: the HTTP
 * endpoint (evhttp on our own listener, with a connection cap), and the
 * renderer, which calls the daemon's read-only methods in process and
 * turns their JSON answers into metric families.
 */
#include "metrics.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "rpc-server.h"
#include "timeutil.h"

/* evhttp closes a connection that sends no complete request for this
 * long, which is also how long a connection we could not follow may be
 * counted against the cap. */
#define IDLE_TIMEOUT_SEC 10
#define MAX_HEADERS_SIZE 8192
#define MAX_BODY_SIZE    1024

/* One connection counted against the cap.  evhttp announces a new
 * connection (the bufferevent callback) but not its end; its end is known
 * through the close callback, which can only be set once the connection
 * has made a request.  A connection that never makes one is closed by
 * evhttp's idle timeout, so its slot is simply freed after that. */
struct metrics_slot {
    struct bufferevent *bev;         /* the connection's; NULL: free */
    struct evhttp_connection *evcon; /* known from its first request */
    long long expires_msec;          /* when untracked: freed then */
    struct vsw_metrics *metrics;     /* back pointer for callbacks */
};

struct vsw_metrics {
    struct event_base *base;         /* the control thread's loop */
    struct evhttp *http;             /* the server */
    struct evconnlistener *listener; /* ours, disabled at the cap */
    struct event *recheck;           /* while disabled: expire slots */
    struct vsw_rpc_server *source;   /* methods to read; NULL: 503 */
    unsigned n_open;                 /* slots in use */
    struct metrics_slot slots[VSW_METRICS_MAX_CONNECTIONS];
};

/* ---- the renderer ---- */

/* Every metric family, in output order.  The text format wants all the
 * samples of a family together, after its HELP and TYPE lines, so samples
 * are collected per family and written out at the end. */
enum family {
    F_INFO,
    F_UPTIME,
    F_PORT_RX_PACKETS,
    F_PORT_RX_BYTES,
    F_PORT_TX_PACKETS,
    F_PORT_TX_BYTES,
    F_PORT_DROPS,
    F_PORT_MIRROR_TX_PACKETS,
    F_PORT_MIRROR_TX_BYTES,
    F_PORT_SHAPER_QUEUED_FRAMES,
    F_PORT_SHAPER_QUEUED_BYTES,
    F_ACL_RULE_PACKETS,
    F_ACL_RULE_BYTES,
    F_MAC_TABLE_ENTRIES,
    F_MAC_TABLE_CAPACITY,
    F_MAC_TABLE_EVICTIONS,
    F_BOUND_USED,
    F_BOUND_LIMIT,
    F_BOUND_REACHED,
    F_WORKER_LOAD,
    F_WORKER_CPU,
    F_WORKER_RX_QUEUES,
    F_WORKER_BATCHES,
    F_WORKER_PACKETS,
    F_FLOW_CACHE_HITS,
    F_FLOW_CACHE_MISSES,
    F_EXT_RUNNING,
    F_EXT_TRIPPED,
    F_EXT_CALLS,
    F_EXT_PACKETS,
    F_EXT_DROPPED,
    F_EXT_ABORTED,
    F_EXT_REFUSED,
    F_EXT_ERRORS,
    F_EXT_INJECTED,
    F_EXT_SECONDS,
    F_QOS_TX_PACKETS,
    F_QOS_TX_BYTES,
    F_QOS_TX_ERRORS,
    F_QOS_RATE,
    F_QOS_BUFFERS_FREE,
    F_QOS_CLASS_TX_PACKETS,
    F_QOS_CLASS_TX_BYTES,
    F_QOS_CLASS_QUEUE_PACKETS,
    F_QOS_CLASS_QUEUE_BYTES,
    F_QOS_CLASS_DROPS,
    F_QOS_CLASS_RATE,
    F_TEAM_ACTIVE_MEMBERS,
    F_TEAM_FAILOVERS,
    F_TEAM_MEMBER_ACTIVE,
    F_TEAM_MEMBER_CARRIER,
    F_TEAM_MEMBER_RX_PACKETS,
    F_TEAM_MEMBER_RX_BYTES,
    F_TEAM_MEMBER_TX_PACKETS,
    F_TEAM_MEMBER_TX_BYTES,
    F_TUNNEL_REMOTES,
    F_TUNNEL_LEARNED,
    N_FAMILIES
};

struct family_def {
    const char *name; /* with the vswitch_ prefix, unit and _total */
    const char *type; /* "counter" or "gauge" */
    const char *help; /* one line */
};

static const struct family_def families[N_FAMILIES] = {
    [F_INFO] = {"vswitch_info", "gauge", "The daemon's version (always 1)."},
    [F_UPTIME] = {"vswitch_uptime_seconds", "gauge",
                  "Seconds since the daemon started."},
    [F_PORT_RX_PACKETS] = {"vswitch_port_rx_packets_total", "counter",
                           "Packets the switch received from the port."},
    [F_PORT_RX_BYTES] = {"vswitch_port_rx_bytes_total", "counter",
                         "Bytes the switch received from the port."},
    [F_PORT_TX_PACKETS] = {"vswitch_port_tx_packets_total", "counter",
                           "Packets the switch delivered to the port."},
    [F_PORT_TX_BYTES] = {"vswitch_port_tx_bytes_total", "counter",
                         "Bytes the switch delivered to the port."},
    [F_PORT_DROPS] = {"vswitch_port_drops_total", "counter",
                      "Frames dropped, by the port they are counted on "
                      "and the drop reason."},
    [F_PORT_MIRROR_TX_PACKETS] = {"vswitch_port_mirror_tx_packets_total",
                                  "counter",
                                  "Mirror copies sent to the port (part of "
                                  "its tx packets)."},
    [F_PORT_MIRROR_TX_BYTES] = {"vswitch_port_mirror_tx_bytes_total",
                                "counter",
                                "Bytes of mirror copies sent to the port."},
    [F_PORT_SHAPER_QUEUED_FRAMES] = {"vswitch_port_shaper_queued_frames",
                                     "gauge",
                                     "Frames the port's max-bandwidth shaper "
                                     "holds now, by direction."},
    [F_PORT_SHAPER_QUEUED_BYTES] = {"vswitch_port_shaper_queued_bytes",
                                    "gauge",
                                    "Bytes the port's max-bandwidth shaper "
                                    "holds now, by direction."},
    [F_ACL_RULE_PACKETS] = {"vswitch_acl_rule_packets_total", "counter",
                            "Packets an ACL rule decided (table acl: rule "
                            "is the id; xacl: the weight)."},
    [F_ACL_RULE_BYTES] = {"vswitch_acl_rule_bytes_total", "counter",
                          "Bytes of the packets an ACL rule decided."},
    [F_MAC_TABLE_ENTRIES] = {"vswitch_mac_table_entries", "gauge",
                             "MAC addresses in the switch's table."},
    [F_MAC_TABLE_CAPACITY] = {"vswitch_mac_table_capacity_entries", "gauge",
                              "The switch's mac-table-size."},
    [F_MAC_TABLE_EVICTIONS] = {"vswitch_mac_table_full_evictions_total",
                               "counter",
                               "MAC entries evicted because the table was "
                               "full."},
    [F_BOUND_USED] = {"vswitch_bound_used", "gauge",
                      "Use of a bounded table (system.status bounds), in "
                      "its unit."},
    [F_BOUND_LIMIT] = {"vswitch_bound_limit", "gauge",
                       "The bound of a bounded table, in its unit."},
    [F_BOUND_REACHED] = {"vswitch_bound_reached_total", "counter",
                         "Times a bounded table was full."},
    [F_WORKER_LOAD] = {"vswitch_worker_load_ratio", "gauge",
                       "Share of a core the worker spent processing frames "
                       "over the last second."},
    [F_WORKER_CPU] = {"vswitch_worker_cpu_ratio", "gauge",
                      "Share of a core the worker thread used over the "
                      "last second."},
    [F_WORKER_RX_QUEUES] = {"vswitch_worker_rx_queues", "gauge",
                            "Receive queues the worker polls."},
    [F_WORKER_BATCHES] = {"vswitch_worker_batches_total", "counter",
                          "Batches of frames the worker processed."},
    [F_WORKER_PACKETS] = {"vswitch_worker_packets_total", "counter",
                          "Frames the worker received, as read."},
    [F_FLOW_CACHE_HITS] = {"vswitch_flow_cache_hits_total", "counter",
                           "Flow cache lookups that found a decision."},
    [F_FLOW_CACHE_MISSES] = {"vswitch_flow_cache_misses_total", "counter",
                             "Flow cache lookups that found none."},
    [F_EXT_RUNNING] = {"vswitch_extension_running", "gauge",
                       "1 if the extension runs on the switch."},
    [F_EXT_TRIPPED] = {"vswitch_extension_tripped", "gauge",
                       "1 if the extension's circuit breaker is open."},
    [F_EXT_CALLS] = {"vswitch_extension_calls_total", "counter",
                     "Calls of the extension's process (one per batch)."},
    [F_EXT_PACKETS] = {"vswitch_extension_packets_total", "counter",
                       "Frames handed to the extension."},
    [F_EXT_DROPPED] = {"vswitch_extension_dropped_packets_total", "counter",
                       "Frames the extension dropped or excluded."},
    [F_EXT_ABORTED] = {"vswitch_extension_aborted_verdicts_total", "counter",
                       "Verdicts the extension left unset or invalid "
                       "(failures)."},
    [F_EXT_REFUSED] = {"vswitch_extension_refused_verdicts_total", "counter",
                       "Verdicts the extension's class may not give."},
    [F_EXT_ERRORS] = {"vswitch_extension_errors_total", "counter",
                      "Errors the extension reported from process "
                      "(failures)."},
    [F_EXT_INJECTED] = {"vswitch_extension_injected_packets_total", "counter",
                        "Frames the extension originated."},
    [F_EXT_SECONDS] = {"vswitch_extension_process_seconds_total", "counter",
                       "Time spent in the extension's process."},
    [F_QOS_TX_PACKETS] = {"vswitch_qos_scheduler_tx_packets_total", "counter",
                          "Frames an uplink's minimum-bandwidth scheduler "
                          "sent."},
    [F_QOS_TX_BYTES] = {"vswitch_qos_scheduler_tx_bytes_total", "counter",
                        "Bytes an uplink's scheduler sent."},
    [F_QOS_TX_ERRORS] = {"vswitch_qos_scheduler_tx_errors_total", "counter",
                         "Frames the kernel refused from the scheduler."},
    [F_QOS_RATE] = {"vswitch_qos_scheduler_rate_bits_per_second", "gauge",
                    "The scheduler's send rate over the last second."},
    [F_QOS_BUFFERS_FREE] = {"vswitch_qos_scheduler_free_buffers", "gauge",
                            "The scheduler's unused frame buffers."},
    [F_QOS_CLASS_TX_PACKETS] = {"vswitch_qos_class_tx_packets_total",
                                "counter",
                                "Frames a scheduler class sent (class: the "
                                "source port, or default)."},
    [F_QOS_CLASS_TX_BYTES] = {"vswitch_qos_class_tx_bytes_total", "counter",
                              "Bytes a scheduler class sent."},
    [F_QOS_CLASS_QUEUE_PACKETS] = {"vswitch_qos_class_queue_packets", "gauge",
                                   "Frames waiting in a scheduler class."},
    [F_QOS_CLASS_QUEUE_BYTES] = {"vswitch_qos_class_queue_bytes", "gauge",
                                 "Bytes waiting in a scheduler class."},
    [F_QOS_CLASS_DROPS] = {"vswitch_qos_class_drops_total", "counter",
                           "Frames a scheduler class refused (full queue "
                           "or no buffer)."},
    [F_QOS_CLASS_RATE] = {"vswitch_qos_class_rate_bits_per_second", "gauge",
                          "A scheduler class's rate over the last second."},
    [F_TEAM_ACTIVE_MEMBERS] = {"vswitch_team_active_members", "gauge",
                               "Members of the team carrying traffic."},
    [F_TEAM_FAILOVERS] = {"vswitch_team_failovers_total", "counter",
                          "Times a member left the team's active set."},
    [F_TEAM_MEMBER_ACTIVE] = {"vswitch_team_member_active", "gauge",
                              "1 if the member carries traffic."},
    [F_TEAM_MEMBER_CARRIER] = {"vswitch_team_member_carrier", "gauge",
                               "1 if the member has carrier."},
    [F_TEAM_MEMBER_RX_PACKETS] = {"vswitch_team_member_rx_packets_total",
                                  "counter", "Packets the member received."},
    [F_TEAM_MEMBER_RX_BYTES] = {"vswitch_team_member_rx_bytes_total",
                                "counter", "Bytes the member received."},
    [F_TEAM_MEMBER_TX_PACKETS] = {"vswitch_team_member_tx_packets_total",
                                  "counter", "Packets the member sent."},
    [F_TEAM_MEMBER_TX_BYTES] = {"vswitch_team_member_tx_bytes_total",
                                "counter", "Bytes the member sent."},
    [F_TUNNEL_REMOTES] = {"vswitch_tunnel_remote_vteps", "gauge",
                          "Remote VTEPs of the tunnel (static and "
                          "programmed)."},
    [F_TUNNEL_LEARNED] = {"vswitch_tunnel_learned_macs", "gauge",
                          "MACs the tunnel learned behind remote VTEPs."},
};

struct scrape {
    struct vsw_rpc_server *server;        /* methods to call */
    struct evbuffer *samples[N_FAMILIES]; /* sample lines per family */
    bool failed;                          /* out of memory */
};

/* Calls read-only method 'method' with 'params' (a reference is stolen;
 * NULL for none) and returns its result (the caller owns it), or NULL if
 * it failed, which only leaves its series out of the scrape. */
static json_t *
call(struct scrape *s, const char *method, json_t *params)
{
    const struct vsw_rpc_method *m;
    struct vsw_rpc_error err;
    json_t *result = NULL;
    void *aux;

    if (!params) {
        params = json_object();
    }
    m = vsw_rpc_server_lookup(s->server, method, &aux);
    if (!params || !m || m->access != VSW_RPC_READS) {
        json_decref(params);
        return NULL;
    }
    memset(&err, 0, sizeof err);
    if (m->handler(params, &result, &err, aux) < 0) {
        VSW_DBG("metrics: %s failed: %s", method, err.message);
        result = NULL;
    } else if (!result) {
        result = json_object();
    }
    json_decref(params);
    return result;
}

/* Appends 'value' to 'out' as a label value: backslash, double quote and
 * newline escaped, as the text format requires. */
static void
append_label_value(struct evbuffer *out, const char *value)
{
    for (const char *p = value; *p; p++) {
        if (*p == '\\') {
            evbuffer_add(out, "\\\\", 2);
        } else if (*p == '"') {
            evbuffer_add(out, "\\\"", 2);
        } else if (*p == '\n') {
            evbuffer_add(out, "\\n", 2);
        } else {
            evbuffer_add(out, p, 1);
        }
    }
}

/* Adds one sample of 'family' with value text 'value' and the labels in
 * 'labels': name, value, name, value, ..., NULL.  A label whose value is
 * NULL is left out. */
static void
add_sample(struct scrape *s, enum family family, const char *value,
           const char *const labels[])
{
    struct evbuffer *out = s->samples[family];
    bool first = true;

    evbuffer_add_printf(out, "%s", families[family].name);
    for (size_t i = 0; labels[i]; i += 2) {
        if (!labels[i + 1]) {
            continue;
        }
        evbuffer_add_printf(out, "%s%s=\"", first ? "{" : ",", labels[i]);
        append_label_value(out, labels[i + 1]);
        evbuffer_add(out, "\"", 1);
        first = false;
    }
    if (evbuffer_add_printf(out, "%s %s\n", first ? "" : "}", value) < 0) {
        s->failed = true;
    }
}

#define SAMPLE(S, FAMILY, VALUE, ...)                                         \
    add_sample(S, FAMILY, VALUE, (const char *const[]){__VA_ARGS__, NULL})

/* The sample value of JSON 'v' in 'buf': integers as they are, reals in
 * full precision, booleans as 1 and 0.  NULL if 'v' is no number. */
static const char *
number_text(const json_t *v, char *buf, size_t size)
{
    if (json_is_integer(v)) {
        snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (json_is_real(v)) {
        snprintf(buf, size, "%.17g", json_real_value(v));
    } else if (json_is_boolean(v)) {
        snprintf(buf, size, "%d", json_is_true(v) ? 1 : 0);
    } else {
        return NULL;
    }
    return buf;
}

/* Adds the member 'key' of 'obj' as a sample of 'family', if it is a
 * number; two labels at most (a NULL name ends the list early). */
static void
sample_member(struct scrape *s, enum family family, const json_t *obj,
              const char *key, const char *l1, const char *v1, const char *l2,
              const char *v2, const char *l3, const char *v3)
{
    char buf[64];
    const char *text = number_text(json_object_get(obj, key), buf, sizeof buf);

    if (text) {
        add_sample(s, family, text,
                   (const char *const[]){l1, v1, l2, v2, l3, v3, NULL});
    }
}

static const char *
string_member(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static void
render_ports(struct scrape *s)
{
    json_t *result = call(s, "port.stats", NULL);
    json_t *port;
    size_t i;

    json_array_foreach(json_object_get(result, "ports"), i, port)
    {
        const char *sw = string_member(port, "switch");
        const char *name = string_member(port, "name");
        const char *reason;
        json_t *count;

        if (!sw || !name) {
            continue;
        }
#define PORT_SERIES(FAMILY, KEY)                                              \
    sample_member(s, FAMILY, port, KEY, "switch", sw, "port", name, NULL, NULL)
        PORT_SERIES(F_PORT_RX_PACKETS, "rx-packets");
        PORT_SERIES(F_PORT_RX_BYTES, "rx-bytes");
        PORT_SERIES(F_PORT_TX_PACKETS, "tx-packets");
        PORT_SERIES(F_PORT_TX_BYTES, "tx-bytes");
        PORT_SERIES(F_PORT_MIRROR_TX_PACKETS, "mirror-tx-packets");
        PORT_SERIES(F_PORT_MIRROR_TX_BYTES, "mirror-tx-bytes");
#undef PORT_SERIES
        json_object_foreach(json_object_get(port, "drops"), reason, count)
        {
            char buf[64];
            const char *text = number_text(count, buf, sizeof buf);

            if (text) {
                SAMPLE(s, F_PORT_DROPS, text, "switch", sw, "port", name,
                       "reason", reason);
            }
        }
        sample_member(s, F_PORT_SHAPER_QUEUED_FRAMES, port,
                      "queued-out-frames", "switch", sw, "port", name,
                      "direction", "out");
        sample_member(s, F_PORT_SHAPER_QUEUED_FRAMES, port, "queued-in-frames",
                      "switch", sw, "port", name, "direction", "in");
        sample_member(s, F_PORT_SHAPER_QUEUED_BYTES, port, "queued-out-bytes",
                      "switch", sw, "port", name, "direction", "out");
        sample_member(s, F_PORT_SHAPER_QUEUED_BYTES, port, "queued-in-bytes",
                      "switch", sw, "port", name, "direction", "in");
    }
    json_decref(result);
}

/* The rules of one port of 'table' ("acl" or "xacl"); a basic rule is
 * named by its id, an extended one by its weight (unique per port and
 * direction). */
static void
render_port_rules(struct scrape *s, const char *table, const char *sw,
                  const char *port)
{
    char method[16];
    json_t *result, *rule;
    size_t i;

    snprintf(method, sizeof method, "%s.list", table);
    result = call(s, method, json_pack("{s:s}", "port", port));
    json_array_foreach(json_object_get(result, "rules"), i, rule)
    {
        const char *direction = string_member(rule, "direction");
        const char *action = string_member(rule, "action");
        json_t *id = json_object_get(rule, "id");
        char rule_name[32];
        char packets[64], bytes[64];

        if (!json_is_integer(id)) {
            id = json_object_get(rule, "weight");
        }
        if (!json_is_integer(id) ||
            !number_text(json_object_get(rule, "packets"), packets,
                         sizeof packets) ||
            !number_text(json_object_get(rule, "bytes"), bytes,
                         sizeof bytes)) {
            continue;
        }
        snprintf(rule_name, sizeof rule_name, "%" JSON_INTEGER_FORMAT,
                 json_integer_value(id));
        SAMPLE(s, F_ACL_RULE_PACKETS, packets, "switch", sw, "port", port,
               "table", table, "rule", rule_name, "direction", direction,
               "action", action);
        SAMPLE(s, F_ACL_RULE_BYTES, bytes, "switch", sw, "port", port, "table",
               table, "rule", rule_name, "direction", direction, "action",
               action);
    }
    json_decref(result);
}

/* Per-port series that need a method call per port: ACL rule counters,
 * and the minimum-bandwidth scheduler of each uplink. */
static void
render_port_details(struct scrape *s)
{
    json_t *result = call(s, "port.list", NULL);
    json_t *port;
    size_t i;

    json_array_foreach(json_object_get(result, "ports"), i, port)
    {
        const char *sw = string_member(port, "switch");
        const char *name = string_member(port, "name");
        const char *type = string_member(port, "type");
        json_t *qos, *class;
        size_t j;

        if (!sw || !name) {
            continue;
        }
        render_port_rules(s, "acl", sw, name);
        render_port_rules(s, "xacl", sw, name);
        if (!type || strcmp(type, "uplink")) {
            continue;
        }
        qos = call(s, "qos.show", json_pack("{s:s}", "port", name));
        if (json_is_true(json_object_get(qos, "scheduled"))) {
#define QOS_SERIES(FAMILY, KEY)                                               \
    sample_member(s, FAMILY, qos, KEY, "switch", sw, "port", name, NULL, NULL)
            QOS_SERIES(F_QOS_TX_PACKETS, "tx-packets");
            QOS_SERIES(F_QOS_TX_BYTES, "tx-bytes");
            QOS_SERIES(F_QOS_TX_ERRORS, "tx-errors");
            QOS_SERIES(F_QOS_RATE, "rate");
            QOS_SERIES(F_QOS_BUFFERS_FREE, "buffers-free");
#undef QOS_SERIES
            json_array_foreach(json_object_get(qos, "classes"), j, class)
            {
                const char *cname = string_member(class, "class");
#define CLASS_SERIES(FAMILY, KEY)                                             \
    sample_member(s, FAMILY, class, KEY, "switch", sw, "port", name, "class", \
                  cname)
                CLASS_SERIES(F_QOS_CLASS_TX_PACKETS, "tx-packets");
                CLASS_SERIES(F_QOS_CLASS_TX_BYTES, "tx-bytes");
                CLASS_SERIES(F_QOS_CLASS_QUEUE_PACKETS, "queue-packets");
                CLASS_SERIES(F_QOS_CLASS_QUEUE_BYTES, "queue-bytes");
                CLASS_SERIES(F_QOS_CLASS_DROPS, "drops");
                CLASS_SERIES(F_QOS_CLASS_RATE, "rate");
#undef CLASS_SERIES
            }
        }
        json_decref(qos);
    }
    json_decref(result);
}

/* The daemon, its workers (load, flow cache) and its bounded tables (the
 * MAC tables among them), all from system.status. */
static void
render_status(struct scrape *s)
{
    json_t *result = call(s, "system.status", NULL);
    json_t *worker, *bound;
    size_t i;

    if (string_member(result, "version")) {
        SAMPLE(s, F_INFO, "1", "version", string_member(result, "version"));
    }
    sample_member(s, F_UPTIME, result, "uptime", NULL, NULL, NULL, NULL, NULL,
                  NULL);
    json_array_foreach(json_object_get(result, "workers"), i, worker)
    {
        json_t *id = json_object_get(worker, "worker");
        json_t *lookups = json_object_get(worker, "cache-lookups");
        json_t *hits = json_object_get(worker, "cache-hits");
        char wname[32], misses[32];

        if (!json_is_integer(id)) {
            continue;
        }
        snprintf(wname, sizeof wname, "%" JSON_INTEGER_FORMAT,
                 json_integer_value(id));
#define WORKER_SERIES(FAMILY, KEY)                                            \
    sample_member(s, FAMILY, worker, KEY, "worker", wname, NULL, NULL, NULL,  \
                  NULL)
        WORKER_SERIES(F_WORKER_LOAD, "load");
        WORKER_SERIES(F_WORKER_CPU, "cpu");
        WORKER_SERIES(F_WORKER_RX_QUEUES, "queues");
        WORKER_SERIES(F_WORKER_BATCHES, "batches");
        WORKER_SERIES(F_WORKER_PACKETS, "packets");
        WORKER_SERIES(F_FLOW_CACHE_HITS, "cache-hits");
#undef WORKER_SERIES
        if (json_is_integer(lookups) && json_is_integer(hits)) {
            snprintf(misses, sizeof misses, "%" JSON_INTEGER_FORMAT,
                     json_integer_value(lookups) - json_integer_value(hits));
            SAMPLE(s, F_FLOW_CACHE_MISSES, misses, "worker", wname);
        }
    }
    json_array_foreach(json_object_get(result, "bounds"), i, bound)
    {
        const char *table = string_member(bound, "table");
        const char *owner = string_member(bound, "owner");
        const char *unit = string_member(bound, "unit");

        if (!table || !owner) {
            continue;
        }
        if (!strcmp(table, "mac-table") && !strncmp(owner, "switch:", 7)) {
            const char *sw = owner + 7;

            sample_member(s, F_MAC_TABLE_ENTRIES, bound, "used", "switch", sw,
                          NULL, NULL, NULL, NULL);
            sample_member(s, F_MAC_TABLE_CAPACITY, bound, "bound", "switch",
                          sw, NULL, NULL, NULL, NULL);
            sample_member(s, F_MAC_TABLE_EVICTIONS, bound, "full", "switch",
                          sw, NULL, NULL, NULL, NULL);
        }
        sample_member(s, F_BOUND_USED, bound, "used", "table", table, "owner",
                      owner, "unit", unit);
        sample_member(s, F_BOUND_LIMIT, bound, "bound", "table", table,
                      "owner", owner, "unit", unit);
        sample_member(s, F_BOUND_REACHED, bound, "full", "table", table,
                      "owner", owner, "unit", unit);
    }
    json_decref(result);
}

static void
render_extensions(struct scrape *s)
{
    json_t *result = call(s, "ext.stats", NULL);
    json_t *ext;
    size_t i;

    json_array_foreach(json_object_get(result, "stats"), i, ext)
    {
        const char *name = string_member(ext, "name");
        const char *sw = string_member(ext, "switch");
        json_t *ns = json_object_get(ext, "time-ns");
        char seconds[64];

        if (!name || !sw) {
            continue;
        }
#define EXT_SERIES(FAMILY, KEY)                                               \
    sample_member(s, FAMILY, ext, KEY, "extension", name, "switch", sw, NULL, \
                  NULL)
        EXT_SERIES(F_EXT_RUNNING, "running");
        EXT_SERIES(F_EXT_TRIPPED, "tripped");
        EXT_SERIES(F_EXT_CALLS, "batches");
        EXT_SERIES(F_EXT_PACKETS, "packets");
        EXT_SERIES(F_EXT_DROPPED, "dropped");
        EXT_SERIES(F_EXT_ABORTED, "aborted");
        EXT_SERIES(F_EXT_REFUSED, "refused");
        EXT_SERIES(F_EXT_ERRORS, "errors");
        EXT_SERIES(F_EXT_INJECTED, "injected");
#undef EXT_SERIES
        if (json_is_integer(ns)) {
            snprintf(seconds, sizeof seconds, "%.9f",
                     (double)json_integer_value(ns) / 1e9);
            SAMPLE(s, F_EXT_SECONDS, seconds, "extension", name, "switch", sw);
        }
    }
    json_decref(result);
}

static void
render_teams(struct scrape *s)
{
    json_t *result = call(s, "team.show", NULL);
    json_t *team, *member;
    size_t i, j;

    json_array_foreach(json_object_get(result, "teams"), i, team)
    {
        const char *sw = string_member(team, "switch");
        const char *name = string_member(team, "name");

        if (!sw || !name) {
            continue;
        }
        sample_member(s, F_TEAM_ACTIVE_MEMBERS, team, "active-members",
                      "switch", sw, "team", name, NULL, NULL);
        sample_member(s, F_TEAM_FAILOVERS, team, "failovers", "switch", sw,
                      "team", name, NULL, NULL);
        json_array_foreach(json_object_get(team, "member-state"), j, member)
        {
            const char *mname = string_member(member, "name");
            const char *state = string_member(member, "state");

            if (!mname) {
                continue;
            }
            if (state) {
                SAMPLE(s, F_TEAM_MEMBER_ACTIVE,
                       !strcmp(state, "active") ? "1" : "0", "switch", sw,
                       "team", name, "member", mname);
            }
#define MEMBER_SERIES(FAMILY, KEY)                                            \
    sample_member(s, FAMILY, member, KEY, "switch", sw, "team", name,         \
                  "member", mname)
            MEMBER_SERIES(F_TEAM_MEMBER_CARRIER, "carrier");
            MEMBER_SERIES(F_TEAM_MEMBER_RX_PACKETS, "rx-packets");
            MEMBER_SERIES(F_TEAM_MEMBER_RX_BYTES, "rx-bytes");
            MEMBER_SERIES(F_TEAM_MEMBER_TX_PACKETS, "tx-packets");
            MEMBER_SERIES(F_TEAM_MEMBER_TX_BYTES, "tx-bytes");
#undef MEMBER_SERIES
        }
    }
    json_decref(result);
}

static void
render_tunnels(struct scrape *s)
{
    json_t *result = call(s, "tunnel.list", NULL);
    json_t *tunnel;
    size_t i;

    json_array_foreach(json_object_get(result, "tunnels"), i, tunnel)
    {
        const char *sw = string_member(tunnel, "switch");
        const char *name = string_member(tunnel, "name");
        char count[32];

        if (!sw || !name) {
            continue;
        }
        snprintf(count, sizeof count, "%zu",
                 json_array_size(json_object_get(tunnel, "remotes")));
        SAMPLE(s, F_TUNNEL_REMOTES, count, "switch", sw, "tunnel", name);
        snprintf(count, sizeof count, "%zu",
                 json_array_size(json_object_get(tunnel, "learned")));
        SAMPLE(s, F_TUNNEL_LEARNED, count, "switch", sw, "tunnel", name);
    }
    json_decref(result);
}

char *
vsw_metrics_render(struct vsw_rpc_server *server)
{
    struct scrape s = {.server = server};
    struct evbuffer *out = evbuffer_new();
    char *text = NULL;
    size_t len;

    for (size_t i = 0; i < N_FAMILIES; i++) {
        s.samples[i] = evbuffer_new();
        s.failed |= !s.samples[i];
    }
    if (out && !s.failed) {
        render_status(&s);
        render_ports(&s);
        render_port_details(&s);
        render_extensions(&s);
        render_teams(&s);
        render_tunnels(&s);
        /* A family without samples is left out: HELP and TYPE alone
         * would announce series that do not exist. */
        for (size_t i = 0; i < N_FAMILIES && !s.failed; i++) {
            if (!evbuffer_get_length(s.samples[i])) {
                continue;
            }
            evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n",
                                families[i].name, families[i].help,
                                families[i].name, families[i].type);
            s.failed |= evbuffer_add_buffer(out, s.samples[i]) < 0;
        }
    }
    if (out && !s.failed) {
        len = evbuffer_get_length(out);
        text = malloc(len + 1);
        if (text) {
            evbuffer_remove(out, text, len);
            text[len] = '\0';
        }
    }
    for (size_t i = 0; i < N_FAMILIES; i++) {
        if (s.samples[i]) {
            evbuffer_free(s.samples[i]);
        }
    }
    if (out) {
        evbuffer_free(out);
    }
    return text;
}

/* ---- the HTTP endpoint ---- */

static void
slot_free(struct metrics_slot *slot)
{
    struct vsw_metrics *m = slot->metrics;

    if (!slot->bev) {
        return;
    }
    slot->bev = NULL;
    slot->evcon = NULL;
    m->n_open--;
    if (m->n_open < VSW_METRICS_MAX_CONNECTIONS && m->listener) {
        evconnlistener_enable(m->listener);
        evtimer_del(m->recheck);
    }
}

/* Frees the slots of connections that never made a request and that
 * evhttp's idle timeout has closed by now. */
static void
expire_slots(struct vsw_metrics *m)
{
    long long now = vsw_time_msec();

    for (size_t i = 0; i < VSW_METRICS_MAX_CONNECTIONS; i++) {
        struct metrics_slot *slot = &m->slots[i];

        if (slot->bev && !slot->evcon && now >= slot->expires_msec) {
            slot_free(slot);
        }
    }
}

static void
recheck_cb(evutil_socket_t fd, short what, void *m_)
{
    struct vsw_metrics *m = m_;
    struct timeval second = {1, 0};

    (void)fd;
    (void)what;
    expire_slots(m);
    if (m->n_open >= VSW_METRICS_MAX_CONNECTIONS) {
        evtimer_add(m->recheck, &second);
    }
}

/* evhttp asks for the bufferevent of each connection it accepts: the
 * moment to count it, and to stop accepting at the cap (further clients
 * wait in the listen backlog). */
static struct bufferevent *
new_connection_cb(struct event_base *base, void *m_)
{
    struct vsw_metrics *m = m_;
    struct bufferevent *bev =
        bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    struct metrics_slot *free_slot = NULL;
    struct timeval second = {1, 0};

    if (!bev) {
        return NULL;
    }
    for (size_t i = 0; i < VSW_METRICS_MAX_CONNECTIONS; i++) {
        struct metrics_slot *slot = &m->slots[i];

        /* A new bufferevent at the address of an old one means that the
         * old connection is gone. */
        if (slot->bev == bev) {
            slot_free(slot);
        }
        if (!slot->bev && !free_slot) {
            free_slot = slot;
        }
    }
    if (free_slot) {
        free_slot->bev = bev;
        free_slot->evcon = NULL;
        free_slot->expires_msec =
            vsw_time_msec() + (IDLE_TIMEOUT_SEC + 1) * 1000LL;
        m->n_open++;
    }
    if (m->n_open >= VSW_METRICS_MAX_CONNECTIONS) {
        evconnlistener_disable(m->listener);
        evtimer_add(m->recheck, &second);
    }
    return bev;
}

static void
connection_closed_cb(struct evhttp_connection *evcon, void *slot_)
{
    struct metrics_slot *slot = slot_;

    if (slot->evcon == evcon) {
        slot_free(slot);
    }
}

/* From a connection's first request on, its end is known exactly. */
static void
track_connection(struct vsw_metrics *m, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev =
        evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;

    for (size_t i = 0; bev && i < VSW_METRICS_MAX_CONNECTIONS; i++) {
        struct metrics_slot *slot = &m->slots[i];

        if (slot->bev == bev && !slot->evcon) {
            slot->evcon = evcon;
            evhttp_connection_set_closecb(evcon, connection_closed_cb, slot);
        }
    }
}

static void
send_text(struct evhttp_request *req, int code, const char *reason,
          const char *text)
{
    struct evbuffer *body = evbuffer_new();
    struct evkeyvalq *headers = evhttp_request_get_output_headers(req);

    evhttp_add_header(headers, "Content-Type", "text/plain; charset=utf-8");
    if (body) {
        evbuffer_add(body, text, strlen(text));
    }
    evhttp_send_reply(req, code, reason, body);
    if (body) {
        evbuffer_free(body);
    }
}

/* Frees a rendered text once evhttp has written the last byte of it. */
static void
free_text_cb(const void *text, size_t len, void *aux)
{
    (void)len;
    (void)aux;
    free((void *)text);
}

static void
request_cb(struct evhttp_request *req, void *m_)
{
    struct vsw_metrics *m = m_;
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
    struct evbuffer *body;
    char *text;

    track_connection(m, req);
    if (!path || strcmp(path, "/metrics")) {
        send_text(req, HTTP_NOTFOUND, "Not Found",
                  "not found: the metrics are at /metrics\n");
        return;
    }
    if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
        evhttp_add_header(headers, "Allow", "GET, HEAD");
        send_text(req, HTTP_BADMETHOD, "Method Not Allowed",
                  "method not allowed: use GET\n");
        return;
    }
    if (!m->source) {
        send_text(req, HTTP_SERVUNAVAIL, "Service Unavailable",
                  "the daemon is starting\n");
        return;
    }
    text = vsw_metrics_render(m->source);
    body = text ? evbuffer_new() : NULL;
    if (!body || evbuffer_add_reference(body, text, strlen(text), free_text_cb,
                                        NULL) < 0) {
        if (body) {
            evbuffer_free(body);
        }
        free(text);
        send_text(req, HTTP_INTERNAL, "Internal Server Error",
                  "out of memory\n");
        return;
    }
    evhttp_add_header(headers, "Content-Type",
                      "text/plain; version=0.0.4; charset=utf-8");
    /* The body's chain, and with it 'text', moves to the connection's
     * output buffer, which frees 'text' once it is written. */
    evhttp_send_reply(req, HTTP_OK, "OK", body);
    evbuffer_free(body);
}

int
vsw_metrics_check_address(const char *address, char *err, size_t size)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    in_port_t port;

    if (evutil_parse_sockaddr_port(address, (struct sockaddr *)&ss, &len) <
        0) {
        snprintf(err, size,
                 "'%s' is not ADDRESS:PORT (an IPv4 address, or an IPv6 "
                 "one in brackets)",
                 address);
        return -EINVAL;
    }
    port = ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                   : ((struct sockaddr_in6 *)&ss)->sin6_port;
    if (!port) {
        snprintf(err, size, "'%s' has no port (1 to 65535)", address);
        return -EINVAL;
    }
    return 0;
}

int
vsw_metrics_create(struct event_base *base, const char *address,
                   struct vsw_metrics **metricsp, char *err, size_t size)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    struct vsw_metrics *m;
    int error;

    *metricsp = NULL;
    if ((error = vsw_metrics_check_address(address, err, size))) {
        return error;
    }
    evutil_parse_sockaddr_port(address, (struct sockaddr *)&ss, &len);
    m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, size, "out of memory");
        return -ENOMEM;
    }
    m->base = base;
    for (size_t i = 0; i < VSW_METRICS_MAX_CONNECTIONS; i++) {
        m->slots[i].metrics = m;
    }
    m->http = evhttp_new(base);
    m->recheck = evtimer_new(base, recheck_cb, m);
    if (!m->http || !m->recheck) {
        vsw_metrics_destroy(m);
        snprintf(err, size, "out of memory");
        return -ENOMEM;
    }
    m->listener =
        evconnlistener_new_bind(base, NULL, NULL,
                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
                                    LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_DISABLED,
                                64, (struct sockaddr *)&ss, len);
    if (!m->listener) {
        error = -errno;
        vsw_metrics_destroy(m);
        snprintf(err, size, "cannot listen on %s: %s", address,
                 strerror(-error));
        return error ? error : -EIO;
    }
    evhttp_set_timeout(m->http, IDLE_TIMEOUT_SEC);
    evhttp_set_max_headers_size(m->http, MAX_HEADERS_SIZE);
    evhttp_set_max_body_size(m->http, MAX_BODY_SIZE);
    /* Every method reaches request_cb, which answers 405 with Allow
     * rather than evhttp's bare 501. */
    evhttp_set_allowed_methods(
        m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                     EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                     EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(m->http, request_cb, m);
    evhttp_set_bevcb(m->http, new_connection_cb, m);
    if (!evhttp_bind_listener(m->http, m->listener)) {
        evconnlistener_free(m->listener);
        m->listener = NULL;
        vsw_metrics_destroy(m);
        snprintf(err, size, "cannot serve HTTP on %s", address);
        return -ENOMEM;
    }
    evconnlistener_enable(m->listener);
    VSW_INFO("metrics: serving http://%s/metrics", address);
    *metricsp = m;
    return 0;
}

void
vsw_metrics_set_source(struct vsw_metrics *metrics,
                       struct vsw_rpc_server *server)
{
    if (metrics) {
        metrics->source = server;
    }
}

void
vsw_metrics_destroy(struct vsw_metrics *metrics)
{
    if (!metrics) {
        return;
    }
    if (metrics->http) {
        /* Frees the bound listener and every connection; their close
         * callbacks still find the slots. */
        metrics->listener = NULL;
        evhttp_free(metrics->http);
    } else if (metrics->listener) {
        evconnlistener_free(metrics->listener);
    }
    if (metrics->recheck) {
        event_free(metrics->recheck);
    }
    free(metrics);
}
