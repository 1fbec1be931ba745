/*
 * The golden plugin: built against the frozen ABI 1.0 header only
 * (tests/abi/1.0), it implements every op and calls every host service,
 * so a host that still loads it and drives it through every callback keeps
 * the 1.0 promise.  Built three times, once per class (GOLDEN_CLASS,
 * GOLDEN_NAME): golden_capture.so, golden_filter.so, golden_forwarding.so.
 *
 * Per-switch configuration (flat JSON, "{}" by default):
 *   "verdict": "continue" | "drop" | "forward" | "abort" | "bogus"
 *              what 'process' writes for every packet ("abort" writes 0,
 *              "bogus" a value no host knows); "forward" adds destination
 *              "dest" (a port id) first, and falls back to CONTINUE for a
 *              packet it may not send there (its own source)
 *   "dest": N                  the port id for "forward"
 *   "veto": true               port_check refuses with "golden veto"
 *   "fail_configure": true     configure refuses this configuration (the
 *                              old one stays); start ignores it
 *   "inject_every": N          capture, filter: every Nth ingress packet
 *                              is cloned, grown by 4 bytes and shrunk
 *                              back, and injected on its own in_port
 *
 * RPC methods: "<name>.report" gives every counter below as a JSON
 * object; "<name>.lookup" {"port": NAME} gives {"id", "switch",
 * "is_uplink", "name"} through port_lookup (by name, then by id).
 */
#include <vswitch/extension.h>

#include "plugins/plugin-util.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !defined(GOLDEN_CLASS) || !defined(GOLDEN_NAME)
#error "build with -DGOLDEN_CLASS=VSW_EXT_CLASS_... -DGOLDEN_NAME=\"...\""
#endif

/* This file is the 1.0 plugin: compiled against any other header it
 * would prove nothing. */
_Static_assert(VSW_EXT_ABI_MAJOR == 1 && VSW_EXT_ABI_MINOR == 0,
               "golden.c must be built with -I tests/abi/1.0 only");

/* A verdict that no version of the ABI defines. */
#define GOLDEN_VERDICT_BOGUS 0x7777u

/* What the per-switch configuration says.  Immutable once published:
 * 'process' reads it without a lock, configure replaces it whole. */
struct golden_config {
    struct golden *g;      /* the plugin, for the deferred free */
    uint32_t verdict;      /* written for every packet */
    uint32_t dest;         /* "forward": destination port id */
    bool veto;             /* port_check refuses */
    uint32_t inject_every; /* 0: never inject */
};

/* The plugin (ext_data): its host handle and its counters.  Counters
 * without _Atomic are touched on the main thread only. */
struct golden {
    struct vsw_ext_handle *h;         /* our name in host calls */
    const struct vsw_ext_host *host;  /* the host's services */
    struct vsw_ext_timer *timer;      /* the 100 ms tick */
    uint64_t init;                    /* init calls (1) */
    uint64_t start;                   /* start calls */
    uint64_t stop;                    /* stop calls */
    uint64_t configure;               /* configure calls, also refused */
    uint64_t port_check;              /* port_check calls */
    uint64_t stats;                   /* stats calls */
    uint64_t timer_ticks;             /* timer callbacks */
    uint64_t deferred_freed;          /* configurations freed deferred */
    uint64_t port_lookup_ok;          /* successful port_lookup calls */
    uint64_t frames_allocated;        /* frame_alloc self-tests passed */
    _Atomic uint64_t process_batches; /* 'process' calls */
    _Atomic uint64_t process_packets; /* packets judged */
    _Atomic uint64_t ingress;         /* of them, ingress */
    _Atomic uint64_t egress;          /* of them, egress */
    _Atomic uint64_t frames_cloned;   /* frame_clone successes */
    _Atomic uint64_t push_failed;     /* frame_push without headroom */
    _Atomic uint64_t injected;        /* inject() returned 0 */
    _Atomic uint64_t inject_errors;   /* inject() failed */
    _Atomic uint64_t add_dest_errors; /* add_destination() failed */
    _Atomic uint64_t add_dest_ok;     /* add_destination() succeeded */
    _Atomic int last_inject_error;    /* inject()'s last error, reported
                                         to explain 'inject_errors' */
    _Atomic uint64_t bad_batch;       /* batches breaking the header's
                                         contract: count, worker,
                                         direction, size */
    _Atomic uint64_t bad_in_port;     /* packets not injected whose
                                         in_port is VSW_EXT_NO_PORT */
    _Atomic uint64_t bad_out_port;    /* egress without out_port, or
                                         ingress with one */
};

/* The plugin on one switch (sw_data). */
struct golden_switch {
    struct golden *g;          /* the plugin */
    struct vsw_ext_switch *sw; /* for inject() */
    uint32_t n_workers;        /* workers that may call 'process' */
    char name[64];             /* switch name, for stats */
    _Atomic(struct golden_config *) config; /* current configuration */
    _Atomic uint64_t ingress_seen;          /* for "inject_every" */
};

/* Parses 'json' into a new configuration for 'g'; NULL after set_error()
 * if it is not acceptable. */
static struct golden_config *
golden_config_parse(struct golden *g, const char *json)
{
    struct golden_config *cfg = calloc(1, sizeof *cfg);
    char verdict[16] = "continue";
    long long n;

    if (!cfg) {
        g->host->set_error(g->h, "out of memory");
        return NULL;
    }
    cfg->g = g;
    if (plug_json_value(json, "verdict") &&
        !plug_json_string(json, "verdict", verdict, sizeof verdict)) {
        verdict[0] = '\0';
    }
    if (!strcmp(verdict, "continue")) {
        cfg->verdict = VSW_EXT_VERDICT_CONTINUE;
    } else if (!strcmp(verdict, "drop")) {
        cfg->verdict = VSW_EXT_VERDICT_DROP;
    } else if (!strcmp(verdict, "forward")) {
        cfg->verdict = VSW_EXT_VERDICT_FORWARD;
    } else if (!strcmp(verdict, "abort")) {
        cfg->verdict = VSW_EXT_VERDICT_ABORTED;
    } else if (!strcmp(verdict, "bogus")) {
        cfg->verdict = GOLDEN_VERDICT_BOGUS;
    } else {
        g->host->set_error(g->h, "golden: unknown verdict \"%s\"", verdict);
        free(cfg);
        return NULL;
    }
    if (plug_json_number(json, "dest", &n) && n > 0 && n <= UINT32_MAX) {
        cfg->dest = (uint32_t)n;
    }
    if (plug_json_number(json, "inject_every", &n) && n > 0 &&
        n <= UINT32_MAX) {
        cfg->inject_every = (uint32_t)n;
    }
    cfg->veto = plug_json_true(json, "veto");
    return cfg;
}

/* defer_free() callback: no worker can still read 'cfg_'. */
static void
golden_config_free_deferred(void *cfg_)
{
    struct golden_config *cfg = cfg_;

    cfg->g->deferred_freed++;
    free(cfg);
}

/* Timer callback, main thread, every 100 ms. */
static void
golden_tick(void *g_)
{
    struct golden *g = g_;

    g->timer_ticks++;
}

/* Appends 's' to 'out' as the body of a JSON string: these names are
 * plain, but a reply must parse whatever the host hands us. */
static void
golden_json_escape(const char *s, char *out, size_t size)
{
    size_t n = 0;

    for (; *s && n + 7 < size; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(out + n, size - n, "\\u%04x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n] = '\0';
}

/* RPC "<name>.report": every counter. */
static int
golden_rpc_report(void *g_, const char *params_json,
                  struct vsw_ext_reply *reply)
{
    struct golden *g = g_;
    char json[1536];

    (void)params_json;
    snprintf(json, sizeof json,
             "{\"init\":%llu,\"start\":%llu,\"stop\":%llu,"
             "\"configure\":%llu,\"process_batches\":%llu,"
             "\"process_packets\":%llu,\"ingress\":%llu,\"egress\":%llu,"
             "\"port_check\":%llu,\"stats\":%llu,\"timer\":%llu,"
             "\"frames_cloned\":%llu,\"injected\":%llu,"
             "\"inject_errors\":%llu,\"deferred_freed\":%llu,"
             "\"port_lookup_ok\":%llu,\"frames_allocated\":%llu,"
             "\"push_failed\":%llu,\"add_dest_ok\":%llu,"
             "\"add_dest_errors\":%llu,\"last_inject_error\":%d,"
             "\"bad_batch\":%llu,\"bad_in_port\":%llu,"
             "\"bad_out_port\":%llu}",
             (unsigned long long)g->init, (unsigned long long)g->start,
             (unsigned long long)g->stop, (unsigned long long)g->configure,
             (unsigned long long)atomic_load(&g->process_batches),
             (unsigned long long)atomic_load(&g->process_packets),
             (unsigned long long)atomic_load(&g->ingress),
             (unsigned long long)atomic_load(&g->egress),
             (unsigned long long)g->port_check, (unsigned long long)g->stats,
             (unsigned long long)g->timer_ticks,
             (unsigned long long)atomic_load(&g->frames_cloned),
             (unsigned long long)atomic_load(&g->injected),
             (unsigned long long)atomic_load(&g->inject_errors),
             (unsigned long long)g->deferred_freed,
             (unsigned long long)g->port_lookup_ok,
             (unsigned long long)g->frames_allocated,
             (unsigned long long)atomic_load(&g->push_failed),
             (unsigned long long)atomic_load(&g->add_dest_ok),
             (unsigned long long)atomic_load(&g->add_dest_errors),
             atomic_load(&g->last_inject_error),
             (unsigned long long)atomic_load(&g->bad_batch),
             (unsigned long long)atomic_load(&g->bad_in_port),
             (unsigned long long)atomic_load(&g->bad_out_port));
    return g->host->reply_set(reply, json);
}

/* RPC "<name>.lookup" {"port": NAME}: the port as port_lookup() sees it,
 * looked up by name and then by the id that gave. */
static int
golden_rpc_lookup(void *g_, const char *params_json,
                  struct vsw_ext_reply *reply)
{
    struct golden *g = g_;
    struct vsw_ext_port_info by_name, by_id;
    char port[64];
    char name[160], sw[160];
    char json[512];
    int error;

    if (!plug_json_string(params_json, "port", port, sizeof port)) {
        g->host->set_error(g->h, "golden: want {\"port\": NAME}");
        return -EINVAL;
    }
    memset(&by_name, 0, sizeof by_name);
    by_name.size = sizeof by_name;
    error = g->host->port_lookup(g->h, port, 0, &by_name);
    if (error) {
        g->host->set_error(g->h, "golden: no port %s", port);
        return error;
    }
    g->port_lookup_ok++;
    memset(&by_id, 0, sizeof by_id);
    by_id.size = sizeof by_id;
    error = g->host->port_lookup(g->h, NULL, by_name.id, &by_id);
    if (error || strcmp(by_id.name, by_name.name)) {
        g->host->set_error(g->h, "golden: port id %u does not look up as %s",
                           by_name.id, port);
        return error ? error : -EPROTO;
    }
    g->port_lookup_ok++;
    by_name.name[sizeof by_name.name - 1] = '\0';
    by_name.switch_name[sizeof by_name.switch_name - 1] = '\0';
    golden_json_escape(by_name.name, name, sizeof name);
    golden_json_escape(by_name.switch_name, sw, sizeof sw);
    snprintf(json, sizeof json,
             "{\"id\":%u,\"switch\":\"%s\",\"is_uplink\":%s,\"name\":\"%s\"}",
             by_name.id, sw, by_name.is_uplink ? "true" : "false", name);
    return g->host->reply_set(reply, json);
}

/* Checks that frame_alloc() gives zeroed bytes and that push and pull
 * move 'data' as they should; counts a passed round in
 * 'frames_allocated'.  Main thread. */
static void
golden_frame_selftest(struct golden *g)
{
    struct vsw_ext_frame *f = g->host->frame_alloc(g->h, 60);
    uint8_t *data;
    bool ok = true;

    if (!f) {
        return;
    }
    for (uint32_t i = 0; i < f->len; i++) {
        ok = ok && !f->data[i];
    }
    ok = ok && f->len == 60 && f->capacity >= 60;
    data = f->data;
    if (f->headroom >= 4) {
        ok = ok && g->host->frame_push(f, 4) == data - 4 && f->len == 64;
        ok = ok && g->host->frame_pull(f, 4) == data && f->len == 60;
    }
    g->host->frame_free(f);
    g->host->frame_free(NULL);
    if (ok) {
        g->frames_allocated++;
    } else {
        g->host->log(g->h, VSW_EXT_LOG_WARN, "frame_alloc self-test failed");
    }
}

/* Every op below implements the contract comment of struct vsw_ext_ops
 * in the 1.0 header, and counts its calls. */

/* Frees the plugin; the timer may not outlive 'fini'. */
static void
golden_fini(void *ext_data)
{
    struct golden *g = ext_data;

    g->host->timer_cancel(g->timer);
    g->host->log(g->h, VSW_EXT_LOG_INFO, "fini");
    free(g);
}

/* Enabled on a switch: parse its configuration and self-test the frame
 * services. */
static int
golden_start(void *ext_data, const struct vsw_ext_switch_info *info,
             const char *config_json, void **sw_data)
{
    struct golden *g = ext_data;
    struct golden_switch *gs;
    struct golden_config *cfg;

    g->start++;
    cfg = golden_config_parse(g, config_json);
    if (!cfg) {
        return -EINVAL;
    }
    gs = calloc(1, sizeof *gs);
    if (!gs) {
        free(cfg);
        g->host->set_error(g->h, "out of memory");
        return -ENOMEM;
    }
    gs->g = g;
    gs->sw = info->sw;
    snprintf(gs->name, sizeof gs->name, "%s", info->name);
    gs->n_workers = info->n_workers;
    atomic_init(&gs->config, cfg);
    golden_frame_selftest(g);
    g->host->log(g->h, VSW_EXT_LOG_INFO, "started on %s (%u workers)",
                 gs->name, info->n_workers);
    *sw_data = gs;
    return 0;
}

/* Disabled: no 'process' call is in flight, so the configuration can go
 * at once. */
static void
golden_stop(void *ext_data, void *sw_data)
{
    struct golden *g = ext_data;
    struct golden_switch *gs = sw_data;

    g->stop++;
    g->host->log(g->h, VSW_EXT_LOG_INFO, "stopped on %s", gs->name);
    free(atomic_load(&gs->config));
    free(gs);
}

/* A new configuration, published while the workers run; the old one is
 * freed once no worker can still be reading it. */
static int
golden_configure(void *ext_data, void *sw_data, const char *config_json)
{
    struct golden *g = ext_data;
    struct golden_switch *gs = sw_data;
    struct golden_config *cfg, *old;

    g->configure++;
    if (plug_json_true(config_json, "fail_configure")) {
        g->host->set_error(g->h, "golden: fail_configure is set; keeping "
                                 "the old configuration");
        return -EINVAL;
    }
    cfg = golden_config_parse(g, config_json);
    if (!cfg) {
        return -EINVAL;
    }
    old = atomic_exchange(&gs->config, cfg);
    g->host->defer_free(g->h, golden_config_free_deferred, old);
    return 0;
}

/* Clones 'pkt', pushes and pulls 4 bytes (the frame must come back as it
 * was) and injects the copy on the packet's own port. */
static void
golden_inject_copy(struct golden_switch *gs, const struct vsw_ext_packet *pkt)
{
    struct golden *g = gs->g;
    struct vsw_ext_frame *f = g->host->frame_clone(g->h, pkt);
    uint8_t *head;
    int error;

    if (!f) {
        atomic_fetch_add(&g->inject_errors, 1);
        return;
    }
    atomic_fetch_add(&g->frames_cloned, 1);
    head = g->host->frame_push(f, 4);
    if (head) {
        memset(head, 0xee, 4);
        if (!g->host->frame_pull(f, 4)) {
            g->host->frame_free(f);
            atomic_fetch_add(&g->inject_errors, 1);
            return;
        }
    } else {
        atomic_fetch_add(&g->push_failed, 1);
    }
    error = g->host->inject(gs->sw, f, pkt->in_port, VSW_EXT_NO_PORT);
    atomic_fetch_add(error ? &g->inject_errors : &g->injected, 1);
    if (error) {
        atomic_store(&g->last_inject_error, error);
    }
}

/* Writes the configured verdict for every packet of the batch. */
static void
golden_process(void *ext_data, void *sw_data,
               const struct vsw_ext_batch *batch)
{
    struct golden *g = ext_data;
    struct golden_switch *gs = sw_data;
    const struct golden_config *cfg =
        atomic_load_explicit(&gs->config, memory_order_acquire);
    bool ingress = batch->direction == VSW_EXT_DIR_INGRESS;

    if (batch->size < sizeof *batch || !batch->count || batch->count > 32 ||
        batch->worker >= gs->n_workers ||
        (batch->direction != VSW_EXT_DIR_INGRESS &&
         batch->direction != VSW_EXT_DIR_EGRESS)) {
        atomic_fetch_add(&g->bad_batch, 1);
    }
    atomic_fetch_add(&g->process_batches, 1);
    atomic_fetch_add(&g->process_packets, batch->count);
    atomic_fetch_add(ingress ? &g->ingress : &g->egress, batch->count);
    for (uint32_t i = 0; i < batch->count; i++) {
        const struct vsw_ext_packet *pkt = batch->pkts[i];
        uint32_t verdict = cfg->verdict;

        if (pkt->in_port == VSW_EXT_NO_PORT &&
            !(pkt->flags & VSW_EXT_PKT_F_INJECTED)) {
            atomic_fetch_add(&g->bad_in_port, 1);
        }
        if ((pkt->out_port == VSW_EXT_NO_PORT) == !ingress) {
            atomic_fetch_add(&g->bad_out_port, 1);
        }
        if (verdict == VSW_EXT_VERDICT_FORWARD) {
            if (g->host->add_destination(batch, i, cfg->dest)) {
                /* Its own source, or no such port: the MAC table picks. */
                atomic_fetch_add(&g->add_dest_errors, 1);
                verdict = VSW_EXT_VERDICT_CONTINUE;
            } else {
                atomic_fetch_add(&g->add_dest_ok, 1);
            }
        }
        if (GOLDEN_CLASS != VSW_EXT_CLASS_FORWARDING && ingress &&
            cfg->inject_every && !(pkt->flags & VSW_EXT_PKT_F_INJECTED) &&
            (atomic_fetch_add(&gs->ingress_seen, 1) + 1) % cfg->inject_every ==
                0) {
            golden_inject_copy(gs, pkt);
        }
        batch->verdicts[i] = verdict;
    }
}

/* Allows every port change unless the configuration says "veto". */
static int
golden_port_check(void *ext_data, void *sw_data,
                  const struct vsw_ext_port_change *change)
{
    struct golden *g = ext_data;
    struct golden_switch *gs = sw_data;
    const struct golden_config *cfg = atomic_load(&gs->config);

    g->port_check++;
    g->host->log(g->h, VSW_EXT_LOG_DEBUG, "port_check %s %s: %s",
                 change->kind == VSW_EXT_PORT_CREATE ? "create" : "policy",
                 change->port, change->params_json);
    if (cfg->veto) {
        g->host->set_error(g->h, "golden veto");
        return -EPERM;
    }
    return 0;
}

/* The plugin's figures for `ext stats`. */
static int
golden_stats(void *ext_data, void *sw_data, struct vsw_ext_reply *reply)
{
    struct golden *g = ext_data;
    struct golden_switch *gs = sw_data;
    const struct golden_config *cfg = atomic_load(&gs->config);
    char json[256];

    g->stats++;
    snprintf(json, sizeof json,
             "{\"packets\":%llu,\"injected\":%llu,\"verdict\":%u}",
             (unsigned long long)atomic_load(&g->process_packets),
             (unsigned long long)atomic_load(&g->injected), cfg->verdict);
    return g->host->reply_set(reply, json);
}

static const struct vsw_ext_ops golden_ops = {
    .size = sizeof(struct vsw_ext_ops),
    .fini = golden_fini,
    .start = golden_start,
    .stop = golden_stop,
    .configure = golden_configure,
    .process = golden_process,
    .port_check = golden_port_check,
    .stats = golden_stats,
};

/* Registers the RPC methods and the timer. */
static int
golden_init(struct vsw_ext_handle *h, const struct vsw_ext_host *host,
            void **ext_data)
{
    struct golden *g;
    int error;

    if (host->size < sizeof *host || host->abi_major != 1) {
        /* Not a host this plugin was written for. */
        return -EPROTO;
    }
    g = calloc(1, sizeof *g);
    if (!g) {
        host->set_error(h, "out of memory");
        return -ENOMEM;
    }
    g->h = h;
    g->host = host;
    g->init = 1;
    /* From here on 'g' is the host's too (a registered method or a timer
     * points at it): on failure it stays, for 'fini' to free. */
    *ext_data = g;
    g->timer = host->timer_add(h, 100, 1, golden_tick, g);
    if (!g->timer) {
        host->set_error(h, "golden: timer_add failed");
        return -ENOMEM;
    }
    error = host->rpc_register(h, GOLDEN_NAME ".report", golden_rpc_report, g);
    if (!error) {
        error =
            host->rpc_register(h, GOLDEN_NAME ".lookup", golden_rpc_lookup, g);
    }
    if (error) {
        host->set_error(h, "golden: rpc_register: %d", error);
        return error;
    }
    host->log(h, VSW_EXT_LOG_INFO, "init (host ABI %u.%u)", host->abi_major,
              host->abi_minor);
    return 0;
}

VSW_EXTENSION_DESCRIPTOR(GOLDEN_CLASS, 0, GOLDEN_NAME, "1.0.0",
                         "golden 1.0 plugin: every op, every service",
                         &golden_ops, golden_init);
