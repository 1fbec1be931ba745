/*
 * The daemon-wide JSON-RPC methods: the MAC tables (fdb.*), the datapath
 * (dp.*), traces, system.status and schema.get, and the registration of
 * every module's methods.  switch.*, port.*, acl.* and ext.* live with
 * their nouns.  docs/jsonrpc.md documents
 * each method with an example.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "etcd-sync.h"
#include "bounds.h"
#include "log.h"
#include "metering.h"
#include "frame-builder.h"
#include "manager-private.h"
#include "pipeline.h"
#include "timeutil.h"

static const char *const no_params[] = {NULL};

/* Looks up the switch named by 'key' in 'params'. */
int
mgr_rpc_get_switch(struct vsw_manager *mgr, json_t *params, const char *key,
                   struct mgr_switch **swp, struct vsw_rpc_error *err)
{
    const char *name;

    if (vsw_rpc_get_string(params, key, true, &name, err)) {
        return -1;
    }
    *swp = mgr_find_switch(mgr, name);
    if (!*swp) {
        return vsw_rpc_error(err, VSW_RPC_NOT_FOUND, "no switch named '%s'",
                             name);
    }
    return mgr_txn_check_kept(mgr, *swp, NULL, err);
}

/* Looks up the port named by 'key' in 'params'. */
int
mgr_rpc_get_port(struct vsw_manager *mgr, json_t *params, const char *key,
                 struct mgr_port **portp, struct vsw_rpc_error *err)
{
    const char *name;

    if (vsw_rpc_get_string(params, key, true, &name, err)) {
        return -1;
    }
    *portp = mgr_find_port(mgr, name);
    if (!*portp) {
        return vsw_rpc_error(err, VSW_RPC_NOT_FOUND, "no port named '%s'",
                             name);
    }
    return mgr_txn_check_kept(mgr, NULL, *portp, err);
}

static int
rpc_fdb_show(json_t *params, json_t **result, struct vsw_rpc_error *err,
             void *mgr_)
{
    static const char *const keys[] = {"switch", NULL};
    struct vsw_manager *mgr = mgr_;
    struct vsw_fdb_entry_info *entries;
    struct mgr_switch *sw;
    json_t *list;
    size_t n;

    if (vsw_rpc_check_keys(params, keys, err) ||
        mgr_rpc_get_switch(mgr, params, "switch", &sw, err)) {
        return -1;
    }
    entries = calloc(sw->cfg.mac_table_size, sizeof *entries);
    if (!entries) {
        return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR, "out of memory");
    }
    n = vsw_fdb_dump(sw->fdb, entries, sw->cfg.mac_table_size,
                     vsw_time_msec());
    list = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct mgr_port *port =
            mgr->by_slot[VSW_FDB_SLOT(entries[i].port_id)];
        char mac[18];
        json_t *entry;

        if (!port || port->id != entries[i].port_id) {
            continue; /* learned by a port being removed */
        }
        vsw_mac_format(entries[i].mac, mac);
        entry = json_pack("{s:i, s:s, s:s, s:I}", "vlan", entries[i].vlan,
                          "mac", mac, "port", port->name, "age",
                          (json_int_t)entries[i].age_sec);
        /* Tenant networks: only entries of one carry their VNI. */
        if (entries[i].vni) {
            json_object_set_new(entry, "vni", json_integer(entries[i].vni));
        }
        json_array_append_new(list, entry);
    }
    free(entries);
    *result = json_pack("{s:s, s:I, s:I, s:o}", "switch", sw->name, "count",
                        (json_int_t)json_array_size(list), "max",
                        (json_int_t)sw->cfg.mac_table_size, "entries", list);
    return 0;
}

static int
rpc_fdb_flush(json_t *params, json_t **result, struct vsw_rpc_error *err,
              void *mgr)
{
    static const char *const keys[] = {"switch", "port", NULL};
    struct mgr_switch *sw;
    struct mgr_port *port = NULL;

    (void)result;
    if (vsw_rpc_check_keys(params, keys, err) ||
        mgr_rpc_get_switch(mgr, params, "switch", &sw, err) ||
        (json_object_get(params, "port") &&
         mgr_rpc_get_port(mgr, params, "port", &port, err))) {
        return -1;
    }
    if (port && port->sw != sw) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "port '%s' is on switch '%s', not '%s'",
                             port->name, port->sw->name, sw->name);
    }
    if (port) {
        vsw_fdb_flush_port(sw->fdb, port->id);
    } else {
        vsw_fdb_flush(sw->fdb);
    }
    return 0;
}

/* A share of one core from ns per second, to a tenth of a percent: more
 * would be noise, and tiny values would print as 7.1e-05. */
static double
core_share(uint64_t ns_per_second)
{
    return (double)((ns_per_second + 500000) / 1000000) / 1000;
}

/* One worker as system.status and dp.show show it. */
static json_t *
worker_view(struct vsw_manager *mgr, unsigned index)
{
    struct vsw_worker_info info;

    vsw_datapath_worker_info(mgr->dp, index, &info);
    return json_pack("{s:i, s:f, s:f, s:i, s:I, s:I, s:I, s:I}", "worker",
                     (int)index, "load", core_share(info.load_ns), "cpu",
                     core_share(info.cpu_ns), "queues", (int)info.n_rxqs,
                     "batches", (json_int_t)info.batches, "packets",
                     (json_int_t)info.packets, "cache-lookups",
                     (json_int_t)info.cache_lookups, "cache-hits",
                     (json_int_t)info.cache_hits);
}

struct rxq_view_ctx {
    struct vsw_manager *mgr; /* for port names */
    json_t *workers;         /* dp.show's worker objects, by index */
};

static void
add_rxq_view(const struct vsw_rxq *rxq, void *ctx_)
{
    struct rxq_view_ctx *ctx = ctx_;
    const struct mgr_port *port = ctx->mgr->by_slot[VSW_FDB_SLOT(rxq->rt->id)];
    json_t *worker = json_array_get(ctx->workers, rxq->worker);

    json_array_append_new(
        json_object_get(worker, "rxqs"),
        json_pack("{s:s, s:i, s:f, s:I, s:b}", "port", port ? port->name : "?",
                  "queue", (int)rxq->queue, "load", core_share(rxq->load_ns),
                  "pps", (json_int_t)rxq->load_pps, "pinned", rxq->pinned));
}

static int
rpc_dp_show(json_t *params, json_t **result, struct vsw_rpc_error *err,
            void *mgr_)
{
    struct vsw_manager *mgr = mgr_;
    struct rxq_view_ctx ctx = {.mgr = mgr};

    if (vsw_rpc_check_keys(params, no_params, err)) {
        return -1;
    }
    ctx.workers = json_array();
    for (unsigned i = 0; i < vsw_datapath_n_workers(mgr->dp); i++) {
        json_t *worker = worker_view(mgr, i);

        json_object_set_new(worker, "rxqs", json_array());
        json_array_append_new(ctx.workers, worker);
    }
    vsw_datapath_for_each_rxq(mgr->dp, add_rxq_view, &ctx);
    *result = json_pack("{s:b, s:o}", "busy-poll", mgr->busy_poll, "workers",
                        ctx.workers);
    return 0;
}

static int
rpc_dp_pin_queue(json_t *params, json_t **result, struct vsw_rpc_error *err,
                 void *mgr_)
{
    static const char *const keys[] = {"port", "queue", "worker", NULL};
    struct vsw_manager *mgr = mgr_;
    struct mgr_port *port;
    long long queue = 0;
    long long worker = 0;
    int error;

    (void)result;
    if (vsw_rpc_check_keys(params, keys, err) ||
        mgr_rpc_get_port(mgr, params, "port", &port, err) ||
        vsw_rpc_get_int(params, "queue", true, 0, VSW_NETDEV_MAX_QUEUES - 1,
                        &queue, err) ||
        vsw_rpc_get_int(params, "worker", true, 0,
                        vsw_datapath_n_workers(mgr->dp) - 1, &worker, err)) {
        return -1;
    }
    if (!port->rt) {
        return vsw_rpc_error(err, VSW_RPC_CONFLICT,
                             "port '%s' has no device now", port->name);
    }
    if (queue >= port->rt->n_rxqs) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "port '%s' has queues 0 to %u", port->name,
                             port->rt->n_rxqs - 1);
    }
    error = vsw_datapath_pin_rxq(mgr->dp, port->rt, (unsigned)queue,
                                 (unsigned)worker);
    if (error == -EBUSY) {
        return vsw_rpc_error(err, VSW_RPC_CONFLICT,
                             "queue %lld of port '%s' is being moved; try "
                             "again",
                             queue, port->name);
    }
    if (error) {
        return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR, "%s",
                             strerror(-error));
    }
    VSW_INFO("receive queue %lld of port %s pinned to worker %lld", queue,
             port->name, worker);
    mgr_reclaim_soon(mgr);
    return 0;
}

/* Makes the pipeline and packet traces run on, once.  False if out of
 * memory. */
static bool
trace_tools_ready(struct vsw_manager *mgr)
{
    if (!mgr->trace_pl) {
        mgr->trace_pl = vsw_pipeline_create(0);
    }
    if (!mgr->trace_pkt) {
        mgr->trace_pkt = vsw_packet_create();
    }
    return mgr->trace_pl && mgr->trace_pkt;
}

/* The source MAC a traced frame of 'port' has unless told otherwise. */
static const uint8_t *
default_source(const struct mgr_port *port)
{
    static const uint8_t fallback[6] = {0x02, 0, 0, 0, 0, 0x01};

    if (port->cfg.mac.set) {
        return port->cfg.mac.addr;
    }
    return port->has_cur_mac ? port->cur_mac : fallback;
}

static json_t *
trace_to_json(const struct vsw_manager *mgr, const struct vsw_trace *trace)
{
    json_t *stages = json_array();
    json_t *outputs = json_array();

    for (unsigned i = 0; i < trace->n_steps; i++) {
        const struct vsw_trace_step *step = &trace->steps[i];

        json_array_append_new(stages,
                              json_pack("{s:s, s:s, s:s}", "stage",
                                        step->stage, "verdict", step->verdict,
                                        "detail", step->detail));
    }
    for (unsigned i = 0; i < trace->n_outputs; i++) {
        const struct vsw_trace_output *out = &trace->outputs[i];
        const struct mgr_port *port = mgr->by_slot[VSW_FDB_SLOT(out->port_id)];

        if (out->denied) {
            continue;
        }

        json_array_append_new(outputs, json_pack("{s:s, s:b, s:i}", "port",
                                                 port ? port->name : "?",
                                                 "tagged", out->tagged, "vlan",
                                                 out->tci & 0xfff));
    }
    return json_pack(
        "{s:s, s:o, s:o, s:s, s:s}", "key", trace->key, "stages", stages,
        "outputs", outputs, "verdict",
        trace->drop_reason >= 0 ? "dropped" : "forwarded", "drop-reason",
        trace->drop_reason >= 0 ? vsw_drop_reason_name(trace->drop_reason)
                                : "");
}

static int
rpc_trace(json_t *params, json_t **result, struct vsw_rpc_error *err,
          void *mgr_)
{
    struct vsw_manager *mgr = mgr_;
    const struct vsw_dp_snapshot *snap = vsw_datapath_snapshot(mgr->dp);
    const struct vsw_dp_port *dport;
    struct vsw_trace *trace;
    struct mgr_switch *sw;
    struct mgr_port *port;
    json_t *frame_params;
    size_t len;
    int error;

    frame_params = json_deep_copy(params);
    json_object_del(frame_params, "switch");
    json_object_del(frame_params, "in-port");
    error = vsw_rpc_check_keys(frame_params, vsw_frame_builder_keys, err);
    if (error || mgr_rpc_get_switch(mgr, params, "switch", &sw, err) ||
        mgr_rpc_get_port(mgr, params, "in-port", &port, err)) {
        json_decref(frame_params);
        return -1;
    }
    if (port->sw != sw) {
        json_decref(frame_params);
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "port '%s' is on switch '%s', not '%s'",
                             port->name, port->sw->name, sw->name);
    }
    dport = snap->by_slot[VSW_FDB_SLOT(port->id)];
    if (!port->rt || !dport || dport->id != port->id) {
        json_decref(frame_params);
        return vsw_rpc_error(err, VSW_RPC_CONFLICT,
                             "port '%s' has no device now", port->name);
    }
    trace = malloc(sizeof *trace);
    if (!trace_tools_ready(mgr) || !trace) {
        json_decref(frame_params);
        free(trace);
        return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR, "out of memory");
    }
    vsw_packet_reset(mgr->trace_pkt);
    error = vsw_frame_build(frame_params, default_source(port),
                            mgr->trace_pkt->data, &len, err);
    json_decref(frame_params);
    if (error) {
        free(trace);
        return -1;
    }
    mgr->trace_pkt->len = (uint32_t)len;
    mgr->trace_pkt->in_port_id = port->id;
    vsw_pipeline_trace(mgr->trace_pl, snap, dport, mgr->trace_pkt, trace,
                       vsw_time_msec());
    *result = trace_to_json(mgr, trace);
    json_object_set_new(*result, "switch", json_string(sw->name));
    json_object_set_new(*result, "in-port", json_string(port->name));
    json_object_set_new(*result, "frame-length",
                        json_integer((json_int_t)len));
    free(trace);
    return 0;
}

static int
rpc_trace_live_start(json_t *params, json_t **result,
                     struct vsw_rpc_error *err, void *mgr_)
{
    static const char *const keys[] = {"switch", "in-port", "count", NULL};
    struct vsw_manager *mgr = mgr_;
    struct mgr_switch *sw;
    struct mgr_port *port;
    long long count = 1;

    (void)result;
    if (vsw_rpc_check_keys(params, keys, err) ||
        mgr_rpc_get_switch(mgr, params, "switch", &sw, err) ||
        mgr_rpc_get_port(mgr, params, "in-port", &port, err) ||
        vsw_rpc_get_int(params, "count", false, 1, VSW_CAPTURE_FRAMES, &count,
                        err)) {
        return -1;
    }
    if (port->sw != sw || !port->rt) {
        return vsw_rpc_error(err, VSW_RPC_CONFLICT,
                             "port '%s' is not a working port of switch '%s'",
                             port->name, sw->name);
    }
    if (vsw_port_rt_capture_start(port->rt, (unsigned)count)) {
        return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR, "out of memory");
    }
    return 0;
}

static int
rpc_trace_live_results(json_t *params, json_t **result,
                       struct vsw_rpc_error *err, void *mgr_)
{
    static const char *const keys[] = {"in-port", NULL};
    struct vsw_manager *mgr = mgr_;
    const struct vsw_dp_snapshot *snap = vsw_datapath_snapshot(mgr->dp);
    const struct vsw_dp_port *dport;
    struct vsw_capture *capture;
    struct mgr_port *port;
    struct vsw_trace *trace;
    json_t *traces;
    unsigned taken;

    if (vsw_rpc_check_keys(params, keys, err) ||
        mgr_rpc_get_port(mgr, params, "in-port", &port, err)) {
        return -1;
    }
    capture = port->rt ? atomic_load(&port->rt->capture) : NULL;
    dport = snap->by_slot[VSW_FDB_SLOT(port->id)];
    if (!capture || !dport || dport->id != port->id) {
        return vsw_rpc_error(err, VSW_RPC_CONFLICT,
                             "no live trace started on port '%s'", port->name);
    }
    trace = malloc(sizeof *trace);
    if (!trace_tools_ready(mgr) || !trace) {
        free(trace);
        return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR, "out of memory");
    }
    traces = json_array();
    taken = atomic_load(&capture->taken);
    for (unsigned i = 0; i < taken && i < VSW_CAPTURE_FRAMES; i++) {
        json_t *one;

        if (!atomic_load_explicit(&capture->frames[i].done,
                                  memory_order_acquire)) {
            break;
        }
        /* Traced now, against the configuration of now: what the switch
         * does with that frame, told stage by stage. */
        vsw_packet_reset(mgr->trace_pkt);
        memcpy(mgr->trace_pkt->data, capture->frames[i].data,
               capture->frames[i].len);
        mgr->trace_pkt->len = capture->frames[i].len;
        vsw_pipeline_trace(mgr->trace_pl, snap, dport, mgr->trace_pkt, trace,
                           vsw_time_msec());
        one = trace_to_json(mgr, trace);
        json_object_set_new(one, "frame-length",
                            json_integer(capture->frames[i].wire_len));
        json_array_append_new(traces, one);
    }
    free(trace);
    *result = json_pack("{s:s, s:i, s:o}", "in-port", port->name, "pending",
                        atomic_load(&capture->budget), "traces", traces);
    return 0;
}

static int
rpc_system_status(json_t *params, json_t **result, struct vsw_rpc_error *err,
                  void *mgr_)
{
    struct vsw_manager *mgr = mgr_;
    unsigned n_workers = vsw_datapath_n_workers(mgr->dp);
    json_t *workers = json_array();
    size_t n_switches = 0;
    size_t n_ports = 0;

    if (vsw_rpc_check_keys(params, no_params, err)) {
        json_decref(workers);
        return -1;
    }
    for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        n_switches++;
        for (struct mgr_port *p = sw->ports; p; p = p->next) {
            n_ports++;
        }
    }
    for (unsigned i = 0; i < n_workers; i++) {
        json_array_append_new(workers, worker_view(mgr, i));
    }
    *result = json_pack(
        "{s:s, s:i, s:I, s:s, s:s, s:o, s:I, s:I, s:o}", "version",
        VSW_VERSION, "pid", (int)getpid(), "uptime",
        (json_int_t)((vsw_time_msec() - mgr->start_time_ms) / 1000),
        "state-dir", mgr->state_dir, "socket", mgr->socket_path, "workers",
        workers, "switches", (json_int_t)n_switches, "ports",
        (json_int_t)n_ports, "bounds", vsw_bounds_json(mgr));
    return 0;
}

/* Every registered method and who may call it ("read": read-only clients
 * too; "write": administrators), in registration order. */
static int
rpc_system_methods(json_t *params, json_t **result, struct vsw_rpc_error *err,
                   void *mgr_)
{
    struct vsw_manager *mgr = mgr_;
    size_t n = mgr->rpc ? vsw_rpc_server_n_methods(mgr->rpc) : 0;
    json_t *list = json_array();

    if (vsw_rpc_check_keys(params, no_params, err)) {
        json_decref(list);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const struct vsw_rpc_method *m = vsw_rpc_server_method_at(mgr->rpc, i);

        json_array_append_new(list, json_pack("{s:s, s:s}", "name", m->name,
                                              "access",
                                              vsw_rpc_access_name(m->access)));
    }
    *result = json_pack("{s:o}", "methods", list);
    return 0;
}

/* Stops the daemon as SIGTERM does (TAP devices stay for the next one),
 * once this answer is written: the loop ends after the current events,
 * and the server writes queued answers out before it closes. */
static int
rpc_system_stop(json_t *params, json_t **result, struct vsw_rpc_error *err,
                void *mgr_)
{
    struct vsw_manager *mgr = mgr_;

    if (vsw_rpc_check_keys(params, no_params, err)) {
        return -1;
    }
    VSW_INFO("system.stop: exiting");
    event_base_loopexit(mgr->base, NULL);
    *result =
        json_pack("{s:i, s:s}", "pid", (int)getpid(), "pidfile", mgr->pidfile);
    return 0;
}

/* The settings of every kind of object, from their tables. */
static const struct vsw_settings_kind *const kinds[] = {
    &mgr_switch_kind,
    &mgr_port_kind,
    &mgr_team_kind,
};

static int
rpc_schema_get(json_t *params, json_t **result, struct vsw_rpc_error *err,
               void *mgr)
{
    static const char *const keys[] = {"kind", NULL};
    const char *only = NULL;
    json_t *list;

    (void)mgr;
    if (vsw_rpc_check_keys(params, keys, err) ||
        vsw_rpc_get_string(params, "kind", false, &only, err)) {
        return -1;
    }
    list = json_array();
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        if (!only || !strcmp(only, kinds[i]->name)) {
            json_array_append_new(list, vsw_settings_schema(kinds[i]));
        }
    }
    if (!json_array_size(list)) {
        json_decref(list);
        return vsw_rpc_error(err, VSW_RPC_NOT_FOUND,
                             "no kind of object named '%s' (switch or port)",
                             only);
    }
    *result = json_pack("{s:o}", "kinds", list);
    return 0;
}

static const struct vsw_rpc_method manager_methods[] = {
    {"schema.get", rpc_schema_get, VSW_RPC_READS},
    {"fdb.show", rpc_fdb_show, VSW_RPC_READS},
    {"fdb.flush", rpc_fdb_flush, VSW_RPC_WRITES},
    {"system.status", rpc_system_status, VSW_RPC_READS},
    {"system.stop", rpc_system_stop, VSW_RPC_WRITES},
    {"system.methods", rpc_system_methods, VSW_RPC_READS},
    {"dp.show", rpc_dp_show, VSW_RPC_READS},
    {"dp.pin-queue", rpc_dp_pin_queue, VSW_RPC_WRITES},
    {"trace", rpc_trace, VSW_RPC_READS},
    {"trace.live-start", rpc_trace_live_start, VSW_RPC_WRITES},
    {"trace.live-results", rpc_trace_live_results, VSW_RPC_READS},
};

int
vsw_manager_register_rpc(struct vsw_manager *mgr,
                         struct vsw_rpc_server *server)
{
    /* Each module registers its own methods. */
    if (mgr_switch_register_rpc(mgr, server) ||
        mgr_port_register_rpc(mgr, server) ||
        mgr_acl_register_rpc(mgr, server) ||
        mgr_xacl_register_rpc(mgr, server) ||
        mgr_ext_register_rpc(mgr, server) ||
        mgr_txn_register_rpc(mgr, server) ||
        mgr_qos_sched_register_rpc(mgr, server) ||
        mgr_capture_register_rpc(mgr, server) ||
        mgr_team_register_rpc(mgr, server) ||
        mgr_metering_register_rpc(mgr, server) ||
        mgr_tunnel_register_rpc(mgr, server) ||
        mgr_port_export_register_rpc(mgr, server) ||
        mgr_etcd_register_rpc(mgr, server)) {
        return -1;
    }
    return vsw_rpc_server_register(
        server, manager_methods,
        sizeof manager_methods / sizeof *manager_methods, mgr);
}
