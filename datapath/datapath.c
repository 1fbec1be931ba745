#include "datapath.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "log.h"
#include "rcu.h"
#include "worker.h"

struct vsw_datapath {
    unsigned n_workers;                         /* entries in 'workers' */
    struct vsw_worker *workers;                 /* the threads */
    struct vsw_rcu *rcu;                        /* grace periods */
    _Atomic(struct vsw_dp_snapshot *) snapshot; /* published */
};

struct vsw_dp_snapshot *
vsw_dp_snapshot_create(void)
{
    return calloc(1, sizeof(struct vsw_dp_snapshot));
}

/* Appends 'item' to the array '*items' of '*n' pointers. */
static int
append_ptr(void ***items, size_t *n, void *item)
{
    void **grown = realloc(*items, (*n + 1) * sizeof **items);

    if (!grown) {
        return -ENOMEM;
    }
    grown[(*n)++] = item;
    *items = grown;
    return 0;
}

struct vsw_dp_switch *
vsw_dp_snapshot_add_switch(struct vsw_dp_snapshot *snap, const char *name,
                           struct vsw_fdb *fdb)
{
    struct vsw_dp_switch *sw = calloc(1, sizeof *sw);

    if (!sw || append_ptr((void ***)&snap->switches, &snap->n_switches, sw)) {
        free(sw);
        return NULL;
    }
    snprintf(sw->name, sizeof sw->name, "%s", name);
    sw->fdb = fdb;
    return sw;
}

struct vsw_dp_port *
vsw_dp_snapshot_add_port(struct vsw_dp_snapshot *snap,
                         struct vsw_dp_switch *sw, const char *name,
                         struct vsw_port_rt *rt)
{
    struct vsw_dp_port *port = calloc(1, sizeof *port);

    if (!port || append_ptr((void ***)&sw->ports, &sw->n_ports, port)) {
        free(port);
        return NULL;
    }
    snprintf(port->name, sizeof port->name, "%s", name);
    port->id = rt->id;
    port->rt = rt;
    port->sw = sw;
    vsw_vlan_config_init(&port->vlan);
    snap->by_slot[VSW_FDB_SLOT(rt->id)] = port;
    return port;
}

void
vsw_dp_snapshot_destroy(struct vsw_dp_snapshot *snap)
{
    if (!snap) {
        return;
    }
    for (size_t i = 0; i < snap->n_switches; i++) {
        struct vsw_dp_switch *sw = snap->switches[i];

        for (size_t j = 0; j < sw->n_ports; j++) {
            free(sw->ports[j]);
        }
        free(sw->ports);
        free(sw);
    }
    free(snap->switches);
    free(snap);
}

static void
snapshot_destroy_cb(void *snap)
{
    vsw_dp_snapshot_destroy(snap);
}

static void
wake_workers(void *dp_)
{
    struct vsw_datapath *dp = dp_;

    for (unsigned i = 0; i < dp->n_workers; i++) {
        vsw_worker_wake(&dp->workers[i]);
    }
}

int
vsw_datapath_create(unsigned n_workers, struct vsw_datapath **dpp)
{
    struct vsw_dp_snapshot *empty = vsw_dp_snapshot_create();
    struct vsw_datapath *dp = calloc(1, sizeof *dp);
    unsigned started = 0;
    int error = -ENOMEM;

    if (!n_workers || n_workers > VSW_MAX_WORKERS) {
        free(empty);
        free(dp);
        return -EINVAL;
    }
    if (!dp || !empty) {
        goto fail;
    }
    dp->n_workers = n_workers;
    dp->workers = calloc(n_workers, sizeof *dp->workers);
    dp->rcu = vsw_rcu_create(n_workers, wake_workers, dp);
    if (!dp->workers || !dp->rcu) {
        goto fail;
    }
    atomic_init(&dp->snapshot, empty);
    empty = NULL;
    for (; started < n_workers; started++) {
        error = vsw_worker_start(&dp->workers[started], started, &dp->snapshot,
                                 dp->rcu);
        if (error) {
            goto fail;
        }
    }
    *dpp = dp;
    return 0;

fail:
    while (started--) {
        vsw_worker_stop(&dp->workers[started]);
    }
    if (dp) {
        vsw_rcu_destroy(dp->rcu);
        vsw_dp_snapshot_destroy(atomic_load(&dp->snapshot));
        free(dp->workers);
    }
    vsw_dp_snapshot_destroy(empty);
    free(dp);
    return error;
}

void
vsw_datapath_destroy(struct vsw_datapath *dp)
{
    if (!dp) {
        return;
    }
    for (unsigned i = 0; i < dp->n_workers; i++) {
        vsw_worker_stop(&dp->workers[i]);
    }
    /* With the workers gone every grace period is over. */
    vsw_rcu_destroy(dp->rcu);
    vsw_dp_snapshot_destroy(atomic_load(&dp->snapshot));
    free(dp->workers);
    free(dp);
}

unsigned
vsw_datapath_n_workers(const struct vsw_datapath *dp)
{
    return dp->n_workers;
}

void
vsw_datapath_publish(struct vsw_datapath *dp, struct vsw_dp_snapshot *snap)
{
    struct vsw_dp_snapshot *old =
        atomic_exchange_explicit(&dp->snapshot, snap, memory_order_seq_cst);

    vsw_datapath_defer(dp, snapshot_destroy_cb, old);
}

const struct vsw_dp_snapshot *
vsw_datapath_snapshot(const struct vsw_datapath *dp)
{
    return atomic_load_explicit(&dp->snapshot, memory_order_acquire);
}

struct vsw_port_rt *
vsw_port_rt_create(struct vsw_datapath *dp, uint32_t id,
                   struct vsw_netdev *netdev)
{
    struct vsw_port_rt *rt = calloc(1, sizeof *rt);

    if (!rt) {
        return NULL;
    }
    rt->stats = aligned_alloc(_Alignof(struct vsw_port_stats),
                              dp->n_workers * sizeof *rt->stats);
    if (!rt->stats) {
        free(rt);
        return NULL;
    }
    memset(rt->stats, 0, dp->n_workers * sizeof *rt->stats);
    rt->id = id;
    rt->netdev = netdev;
    rt->n_stats = dp->n_workers;
    return rt;
}

int
vsw_datapath_attach(struct vsw_datapath *dp, struct vsw_port_rt *rt)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = rt};
    unsigned best = 0;

    for (unsigned i = 1; i < dp->n_workers; i++) {
        if (dp->workers[i].n_ports < dp->workers[best].n_ports) {
            best = i;
        }
    }
    if (epoll_ctl(dp->workers[best].epoll_fd, EPOLL_CTL_ADD, rt->netdev->rx_fd,
                  &ev) < 0) {
        return -errno;
    }
    dp->workers[best].n_ports++;
    rt->worker = best;
    rt->attached = true;
    return 0;
}

void
vsw_datapath_detach(struct vsw_datapath *dp, struct vsw_port_rt *rt)
{
    if (!rt->attached) {
        return;
    }
    epoll_ctl(dp->workers[rt->worker].epoll_fd, EPOLL_CTL_DEL,
              rt->netdev->rx_fd, NULL);
    dp->workers[rt->worker].n_ports--;
    rt->attached = false;
}

void
vsw_port_rt_destroy(struct vsw_port_rt *rt, bool remove_device)
{
    if (rt) {
        vsw_netdev_destroy(rt->netdev, remove_device);
        free(rt->stats);
        free(rt);
    }
}

int
vsw_port_rt_rx_error(const struct vsw_port_rt *rt)
{
    return atomic_load_explicit(&rt->rx_error, memory_order_relaxed);
}

void
vsw_port_rt_get_counters(const struct vsw_port_rt *rt,
                         struct vsw_port_counters *out)
{
    memset(out, 0, sizeof *out);
    for (unsigned w = 0; w < rt->n_stats; w++) {
        const struct vsw_port_stats *s = &rt->stats[w];

        out->rx_packets +=
            atomic_load_explicit(&s->rx_packets, memory_order_relaxed);
        out->rx_bytes +=
            atomic_load_explicit(&s->rx_bytes, memory_order_relaxed);
        out->tx_packets +=
            atomic_load_explicit(&s->tx_packets, memory_order_relaxed);
        out->tx_bytes +=
            atomic_load_explicit(&s->tx_bytes, memory_order_relaxed);
        for (int r = 0; r < VSW_DROP_N_REASONS; r++) {
            out->drops[r] +=
                atomic_load_explicit(&s->drops[r], memory_order_relaxed);
        }
    }
}

void
vsw_datapath_defer(struct vsw_datapath *dp, void (*fn)(void *arg), void *arg)
{
    if (vsw_rcu_defer(dp->rcu, fn, arg)) {
        VSW_WARN("out of memory: freed synchronously after a grace period");
    }
}

size_t
vsw_datapath_reclaim(struct vsw_datapath *dp)
{
    return vsw_rcu_reclaim(dp->rcu);
}

void
vsw_datapath_barrier(struct vsw_datapath *dp)
{
    vsw_rcu_barrier(dp->rcu);
}

void
vsw_datapath_worker_info(const struct vsw_datapath *dp, unsigned index,
                         struct vsw_worker_info *info)
{
    const struct vsw_worker *w = &dp->workers[index];

    info->n_ports = w->n_ports;
    info->batches = atomic_load_explicit(&w->batches, memory_order_relaxed);
    info->packets = atomic_load_explicit(&w->packets, memory_order_relaxed);
}
