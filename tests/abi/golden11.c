/*
 * The golden plugin of ABI 1.1: a filter built against the frozen 1.1
 * header (tests/abi/1.1) only, that uses every member 1.1 appended and
 * reports what it saw, so that the daemon's side of each is tested:
 *
 *   port_added, port_removed, port_changed   logged as "added:NAME",
 *                                            "removed:NAME", "changed:NAME"
 *                                            (the last 32 events)
 *   vsw_ext_packet 'rx_time_ns'              checked on every batch: set,
 *                                            the same for the whole
 *                                            batch, within a minute of now
 *   rpc_register_switch                      "golden11.where" answers for
 *                                            the switch it is called for
 *   state_save, state_load                   "golden11.save {"state": S}"
 *                                            keeps S; init loads it back
 *
 * RPC "golden11.report" gives {"init_state": S or null, "events": [...],
 * "batches", "rx_time_ok", "rx_time_bad", "old_host"}; "golden11.save"
 * with {"size": N} saves N bytes of 'x' instead (to test the bound) and
 * fails with the host's errno.
 */
#include <vswitch/extension.h>

#include "plugins/plugin-util.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

_Static_assert(VSW_EXT_ABI_MAJOR == 1 && VSW_EXT_ABI_MINOR == 1,
               "golden11.c must be built against the frozen 1.1 header");

#define EVENTS_KEPT 32

struct golden11 {
    struct vsw_ext_handle *h;        /* our name in host calls */
    const struct vsw_ext_host *host; /* the host's services */
    bool old_host;                   /* the host lacks 1.1 services */
    char init_state[256];            /* what state_load gave in init */
    bool had_state;                  /* it gave something */
    char events[EVENTS_KEPT][80];    /* port events, oldest first */
    unsigned n_events;
    _Atomic uint64_t batches;     /* 'process' calls */
    _Atomic uint64_t rx_time_ok;  /* batches whose stamps were right */
    _Atomic uint64_t rx_time_bad; /* and those whose were not */
};

struct golden11_switch {
    char name[64];            /* the switch, from start */
    _Atomic uint64_t packets; /* seen on it */
};

/* Remembers one port event. */
static void
note_event(struct golden11 *g, const char *what,
           const struct vsw_ext_port_info *port)
{
    if (g->n_events == EVENTS_KEPT) {
        memmove(g->events[0], g->events[1],
                sizeof g->events[0] * (EVENTS_KEPT - 1));
        g->n_events--;
    }
    snprintf(g->events[g->n_events++], sizeof g->events[0], "%s:%s", what,
             port->size >= 72 ? port->name : "?");
}

static void
golden11_port_added(void *ext_data, void *sw_data,
                    const struct vsw_ext_port_info *port)
{
    (void)sw_data;
    note_event(ext_data, "added", port);
}

static void
golden11_port_removed(void *ext_data, void *sw_data,
                      const struct vsw_ext_port_info *port)
{
    (void)sw_data;
    note_event(ext_data, "removed", port);
}

static void
golden11_port_changed(void *ext_data, void *sw_data,
                      const struct vsw_ext_port_info *port)
{
    (void)sw_data;
    note_event(ext_data, "changed", port);
}

static int
golden11_start(void *ext_data, const struct vsw_ext_switch_info *sw,
               const char *config_json, void **sw_data)
{
    struct golden11_switch *gs = calloc(1, sizeof *gs);

    (void)ext_data;
    (void)config_json;
    if (!gs) {
        return -ENOMEM;
    }
    snprintf(gs->name, sizeof gs->name, "%s", sw->name);
    *sw_data = gs;
    return 0;
}

static void
golden11_stop(void *ext_data, void *sw_data)
{
    (void)ext_data;
    free(sw_data);
}

/* Passes everything; checks the receive stamps of the batch. */
static void
golden11_process(void *ext_data, void *sw_data,
                 const struct vsw_ext_batch *batch)
{
    struct golden11 *g = ext_data;
    struct golden11_switch *gs = sw_data;
    const struct vsw_ext_packet *first = batch->pkts[0];
    struct timespec ts;
    uint64_t now;
    bool ok = first->size >= 56 && first->rx_time_ns;

    clock_gettime(CLOCK_REALTIME, &ts);
    now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    if (ok && (first->rx_time_ns > now + 60000000000u ||
               first->rx_time_ns + 60000000000u < now)) {
        ok = false;
    }
    for (uint32_t i = 0; i < batch->count; i++) {
        const struct vsw_ext_packet *pkt = batch->pkts[i];

        if (pkt->size < 56 || pkt->rx_time_ns != first->rx_time_ns) {
            ok = false;
        }
        batch->verdicts[i] = VSW_EXT_VERDICT_CONTINUE;
    }
    atomic_fetch_add(&g->batches, 1);
    atomic_fetch_add(ok ? &g->rx_time_ok : &g->rx_time_bad, 1);
    atomic_fetch_add(&gs->packets, batch->count);
}

/* "golden11.report". */
static int
golden11_report(void *ext_data, const char *params_json,
                struct vsw_ext_reply *reply)
{
    struct golden11 *g = ext_data;
    char json[4096];
    size_t n;

    (void)params_json;
    n = (size_t)snprintf(json, sizeof json, "{\"init_state\":");
    if (g->had_state) {
        n += (size_t)snprintf(json + n, sizeof json - n, "\"%s\"",
                              g->init_state);
    } else {
        n += (size_t)snprintf(json + n, sizeof json - n, "null");
    }
    n += (size_t)snprintf(json + n, sizeof json - n, ",\"events\":[");
    for (unsigned i = 0; i < g->n_events; i++) {
        n += (size_t)snprintf(json + n, sizeof json - n, "%s\"%s\"",
                              i ? "," : "", g->events[i]);
    }
    snprintf(json + n, sizeof json - n,
             "],\"batches\":%llu,\"rx_time_ok\":%llu,\"rx_time_bad\":%llu,"
             "\"old_host\":%s}",
             (unsigned long long)atomic_load(&g->batches),
             (unsigned long long)atomic_load(&g->rx_time_ok),
             (unsigned long long)atomic_load(&g->rx_time_bad),
             g->old_host ? "true" : "false");
    return g->host->reply_set(reply, json);
}

/* "golden11.where": called for one switch. */
static int
golden11_where(void *arg, void *sw_data, const struct vsw_ext_switch_info *sw,
               const char *params_json, struct vsw_ext_reply *reply)
{
    struct golden11 *g = arg;
    struct golden11_switch *gs = sw_data;
    char json[256];

    (void)params_json;
    snprintf(json, sizeof json,
             "{\"switch\":\"%s\",\"started_on\":\"%s\",\"packets\":%llu,"
             "\"n_workers\":%u}",
             sw->name, gs->name, (unsigned long long)atomic_load(&gs->packets),
             sw->n_workers);
    return g->host->reply_set(reply, json);
}

/* "golden11.save": {"state": S} or {"size": N}. */
static int
golden11_save(void *ext_data, const char *params_json,
              struct vsw_ext_reply *reply)
{
    struct golden11 *g = ext_data;
    char state[256];
    long long size;
    int error;

    if (plug_json_number(params_json, "size", &size)) {
        char *big;

        if (size < 0 || size > 1 << 20) {
            g->host->set_error(g->h, "bad size");
            return -EINVAL;
        }
        big = malloc((size_t)size + 1);
        if (!big) {
            return -ENOMEM;
        }
        memset(big, 'x', (size_t)size);
        error = g->host->state_save(g->h, big, (uint32_t)size);
        free(big);
    } else if (plug_json_string(params_json, "state", state, sizeof state)) {
        error = g->host->state_save(g->h, state, (uint32_t)strlen(state));
    } else {
        g->host->set_error(g->h, "give \"state\" or \"size\"");
        return -EINVAL;
    }
    if (error) {
        g->host->set_error(g->h, "state_save: %s", strerror(-error));
        return error;
    }
    return g->host->reply_set(reply, "{}");
}

static void
golden11_fini(void *ext_data)
{
    free(ext_data);
}

static const struct vsw_ext_ops golden11_ops = {
    .size = sizeof(struct vsw_ext_ops),
    .fini = golden11_fini,
    .start = golden11_start,
    .stop = golden11_stop,
    .process = golden11_process,
    .port_added = golden11_port_added,
    .port_removed = golden11_port_removed,
    .port_changed = golden11_port_changed,
};

/* Loads the state the last version saved and registers the methods. */
static int
golden11_init(struct vsw_ext_handle *h, const struct vsw_ext_host *host,
              void **ext_data)
{
    struct golden11 *g = calloc(1, sizeof *g);
    int32_t len;
    int error;

    if (!g) {
        return -ENOMEM;
    }
    g->h = h;
    g->host = host;
    *ext_data = g;
    /* A 1.0 host has none of what this plugin is for. */
    if (host->size <
        offsetof(struct vsw_ext_host, state_load) + sizeof host->state_load) {
        g->old_host = true;
        host->set_error(h, "needs a 1.1 host");
        return -ENOTSUP;
    }
    len = host->state_load(h, g->init_state, sizeof g->init_state - 1);
    if (len >= 0) {
        g->had_state = true;
        g->init_state[len < (int32_t)sizeof g->init_state - 1
                          ? len
                          : (int32_t)sizeof g->init_state - 1] = '\0';
    } else if (len != -ENOENT) {
        host->set_error(h, "state_load: %s", strerror(-len));
        return len;
    }
    error = host->rpc_register(h, "golden11.report", golden11_report, g);
    if (!error) {
        error = host->rpc_register(h, "golden11.save", golden11_save, g);
    }
    if (!error) {
        error =
            host->rpc_register_switch(h, "golden11.where", golden11_where, g);
    }
    return error;
}

VSW_EXTENSION_DESCRIPTOR(VSW_EXT_CLASS_FILTER, 0, "golden11", "1.1.0",
                         "golden 1.1 plugin: every 1.1 addition",
                         &golden11_ops, golden11_init);
