#include "datapath.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "log.h"
#include "rcu.h"
#include "vxlan.h"
#include "worker.h"

/* Rebalancing rounds (about seconds) to wait after moving a queue. */
#define REBALANCE_COOLDOWN 10

struct vsw_datapath {
    unsigned n_workers;                         /* entries in 'workers' */
    struct vsw_worker *workers;                 /* the threads */
    struct vsw_rcu *rcu;                        /* grace periods */
    _Atomic(struct vsw_dp_snapshot *) snapshot; /* published */
    struct vsw_port_rt *rts[VSW_MAX_PORTS];     /* attached ports, by
                                                   slot of id */
    uint64_t generation;                        /* of the last snapshot */
    unsigned move_cooldown;                     /* rebalance calls to skip
                                                   after a move */
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
    port->flood = true;
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
            vsw_port_policy_destroy(sw->ports[j]->policy);
            free(sw->ports[j]->pcap);
            vsw_vxlan_config_destroy(
                (struct vsw_vxlan_config *)sw->ports[j]->tunnel);
            free(sw->ports[j]);
        }
        free(sw->ports);
        free(sw->pvlan);
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
vsw_datapath_create(unsigned n_workers, bool busy_poll,
                    struct vsw_datapath **dpp)
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
        dp->workers[started].busy_poll = busy_poll;
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

unsigned
vsw_datapath_n_counter_slots(const struct vsw_datapath *dp)
{
    return dp->n_workers + 1;
}

void
vsw_datapath_publish(struct vsw_datapath *dp, struct vsw_dp_snapshot *snap)
{
    struct vsw_dp_snapshot *old;

    snap->generation = ++dp->generation;
    /* QoS: spare buffers before the first snapshot that shapes. */
    if (vsw_shaper_snapshot_shapes(snap)) {
        for (unsigned i = 0; i < dp->n_workers; i++) {
            if (vsw_shaper_worker_provision(dp->workers[i].shaper)) {
                VSW_ERR("worker %u: no memory for shaper queues: frames "
                        "over a port's maximum bandwidth are dropped",
                        i);
            }
        }
    }
    old = atomic_exchange_explicit(&dp->snapshot, snap, memory_order_seq_cst);

    vsw_datapath_defer(dp, snapshot_destroy_cb, old);
}

const struct vsw_dp_snapshot *
vsw_datapath_snapshot(const struct vsw_datapath *dp)
{
    return atomic_load_explicit(&dp->snapshot, memory_order_acquire);
}

struct vsw_port_rt *
vsw_port_rt_create(struct vsw_datapath *dp, uint32_t id, const char *name,
                   struct vsw_netdev *netdev)
{
    struct vsw_port_rt *rt = calloc(1, sizeof *rt);

    if (!rt) {
        return NULL;
    }
    snprintf(rt->name, sizeof rt->name, "%s", name);
    rt->rxqs = calloc(netdev->n_queues, sizeof *rt->rxqs);
    rt->guard_state = aligned_alloc(64, sizeof *rt->guard_state);
    if (rt->guard_state) {
        vsw_guard_state_init(rt->guard_state);
    }
    for (int d = 0; d < VSW_SHAPER_N_DIRS; d++) {
        vsw_shaper_state_init(&rt->shaper[d]);
    }
    rt->stats =
        aligned_alloc(_Alignof(struct vsw_port_stats),
                      vsw_datapath_n_counter_slots(dp) * sizeof *rt->stats);
    if (!rt->rxqs || !rt->stats || !rt->guard_state) {
        free(rt->guard_state);
        free(rt->rxqs);
        free(rt->stats);
        free(rt);
        return NULL;
    }
    memset(rt->stats, 0, vsw_datapath_n_counter_slots(dp) * sizeof *rt->stats);
    rt->id = id;
    rt->netdev = netdev;
    rt->n_rxqs = netdev->n_queues;
    for (unsigned q = 0; q < rt->n_rxqs; q++) {
        rt->rxqs[q].rt = rt;
        rt->rxqs[q].queue = q;
    }
    rt->n_stats = vsw_datapath_n_counter_slots(dp);
    return rt;
}

static void
rxq_set_free_cb(void *set)
{
    free(set);
}

/* Publishes a new direct set for 'worker': the current one without
 * 'remove' (if not NULL), plus 'add' (if not NULL).  Returns 0 or
 * -ENOMEM, with the current set left in place. */
static int
direct_set_replace(struct vsw_datapath *dp, struct vsw_worker *worker,
                   struct vsw_rxq *add, const struct vsw_rxq *remove)
{
    struct vsw_rxq_set *old =
        atomic_load_explicit(&worker->direct, memory_order_relaxed);
    size_t n_old = old ? old->n : 0;
    struct vsw_rxq_set *set =
        malloc(sizeof *set + (n_old + 1) * sizeof set->rxqs[0]);

    if (!set) {
        return -ENOMEM;
    }
    set->n = 0;
    for (size_t i = 0; i < n_old; i++) {
        struct vsw_rxq *rxq =
            atomic_load_explicit(&old->rxqs[i], memory_order_relaxed);

        if (rxq && rxq != remove) {
            atomic_init(&set->rxqs[set->n++], rxq);
        }
    }
    if (add) {
        atomic_init(&set->rxqs[set->n++], add);
    }
    atomic_store_explicit(&worker->direct, set, memory_order_release);
    if (old) {
        vsw_datapath_defer(dp, rxq_set_free_cb, old);
    }
    return 0;
}

/* Takes 'rxq' out of its worker's direct set: a new set without it, or,
 * short of memory, a hole where it was. */
static void
direct_set_remove(struct vsw_datapath *dp, struct vsw_rxq *rxq)
{
    struct vsw_worker *worker = &dp->workers[rxq->worker];
    struct vsw_rxq_set *set;

    if (!direct_set_replace(dp, worker, NULL, rxq)) {
        return;
    }
    set = atomic_load_explicit(&worker->direct, memory_order_relaxed);
    for (size_t i = 0; set && i < set->n; i++) {
        if (atomic_load_explicit(&set->rxqs[i], memory_order_relaxed) == rxq) {
            atomic_store_explicit(&set->rxqs[i], NULL, memory_order_release);
        }
    }
}

/* Has worker 'worker' poll 'rxq': in place, every turn, if the worker
 * busy-polls and the netdev's 'rx' only reads memory (docs/architecture.md,
 * "Polled in place"); otherwise through the worker's epoll set. */
static int
rxq_poll_start(struct vsw_datapath *dp, struct vsw_rxq *rxq, unsigned worker)
{
    struct vsw_netdev *netdev = rxq->rt->netdev;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = rxq};

    if (dp->workers[worker].busy_poll && netdev->class->set_direct_poll) {
        netdev->class->set_direct_poll(netdev, rxq->queue, true);
        if (direct_set_replace(dp, &dp->workers[worker], rxq, NULL)) {
            netdev->class->set_direct_poll(netdev, rxq->queue, false);
            return -ENOMEM;
        }
        rxq->direct = true;
    } else if (epoll_ctl(dp->workers[worker].epoll_fd, EPOLL_CTL_ADD,
                         netdev->queue_fd[rxq->queue], &ev) < 0) {
        return -errno;
    }
    dp->workers[worker].n_rxqs++;
    rxq->worker = worker;
    rxq->polled = true;
    return 0;
}

static void
rxq_poll_stop(struct vsw_datapath *dp, struct vsw_rxq *rxq)
{
    struct vsw_netdev *netdev = rxq->rt->netdev;

    if (!rxq->polled) {
        return;
    }
    if (rxq->direct) {
        direct_set_remove(dp, rxq);
        netdev->class->set_direct_poll(netdev, rxq->queue, false);
        rxq->direct = false;
    } else {
        epoll_ctl(dp->workers[rxq->worker].epoll_fd, EPOLL_CTL_DEL,
                  netdev->queue_fd[rxq->queue], NULL);
    }
    dp->workers[rxq->worker].n_rxqs--;
    rxq->polled = false;
}

int
vsw_datapath_attach(struct vsw_datapath *dp, struct vsw_port_rt *rt)
{
    for (unsigned q = 0; q < rt->n_rxqs; q++) {
        unsigned best = 0;
        int error;

        for (unsigned i = 1; i < dp->n_workers; i++) {
            if (dp->workers[i].n_rxqs < dp->workers[best].n_rxqs) {
                best = i;
            }
        }
        error = rxq_poll_start(dp, &rt->rxqs[q], best);
        if (error) {
            while (q--) {
                rxq_poll_stop(dp, &rt->rxqs[q]);
            }
            return error;
        }
    }
    rt->attached = true;
    dp->rts[VSW_FDB_SLOT(rt->id)] = rt;
    return 0;
}

void
vsw_datapath_detach(struct vsw_datapath *dp, struct vsw_port_rt *rt)
{
    for (unsigned q = 0; q < rt->n_rxqs; q++) {
        rxq_poll_stop(dp, &rt->rxqs[q]);
    }
    rt->attached = false;
    if (dp->rts[VSW_FDB_SLOT(rt->id)] == rt) {
        dp->rts[VSW_FDB_SLOT(rt->id)] = NULL;
    }
}

/* A queue on its way from one worker to another. */
struct rxq_move {
    struct vsw_datapath *dp; /* owner */
    struct vsw_rxq *rxq;     /* the queue */
    unsigned to;             /* its new worker */
};

static void
rxq_move_finish(void *move_)
{
    struct rxq_move *move = move_;

    /* The port may have been detached during the grace period; its
     * teardown is deferred behind this callback, so 'rxq' is valid. */
    if (move->rxq->rt->attached &&
        rxq_poll_start(move->dp, move->rxq, move->to)) {
        VSW_ERR("cannot move receive queue %u of port %s to worker %u",
                move->rxq->queue, move->rxq->rt->name, move->to);
    }
    free(move);
}

/* Stops polling 'rxq' now and has worker 'to' start after a grace
 * period.  Returns 0 or -ENOMEM. */
static int
rxq_move(struct vsw_datapath *dp, struct vsw_rxq *rxq, unsigned to)
{
    struct rxq_move *move = malloc(sizeof *move);

    if (!move) {
        return -ENOMEM;
    }
    move->dp = dp;
    move->rxq = rxq;
    move->to = to;
    rxq_poll_stop(dp, rxq);
    vsw_datapath_defer(dp, rxq_move_finish, move);
    return 0;
}

/* Samples the load of every queue and worker over 'interval_ns'. */
static void
sample_loads(struct vsw_datapath *dp, uint64_t interval_ns,
             struct vsw_rxq **rxqs, size_t *n_rxqs, size_t max)
{
    *n_rxqs = 0;
    for (unsigned w = 0; w < dp->n_workers; w++) {
        struct vsw_worker *worker = &dp->workers[w];
        uint64_t busy =
            atomic_load_explicit(&worker->busy_ns, memory_order_relaxed);

        clockid_t clock;
        struct timespec ts;

        worker->load_ns =
            (busy - worker->sample_busy_ns) * 1000000000 / interval_ns;
        worker->sample_busy_ns = busy;
        /* What the thread costs, packets or not: with busy-poll a whole
         * core, whatever share of it the packets took. */
        if (!pthread_getcpuclockid(worker->thread, &clock) &&
            !clock_gettime(clock, &ts)) {
            uint64_t cpu = (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;

            worker->cpu_ns =
                (cpu - worker->sample_cpu_ns) * 1000000000 / interval_ns;
            worker->sample_cpu_ns = cpu;
        }
    }
    for (size_t slot = 0; slot < VSW_MAX_PORTS; slot++) {
        struct vsw_port_rt *rt = dp->rts[slot];

        for (unsigned q = 0; rt && q < rt->n_rxqs; q++) {
            struct vsw_rxq *rxq = &rt->rxqs[q];
            uint64_t busy =
                atomic_load_explicit(&rxq->busy_ns, memory_order_relaxed);
            uint64_t packets =
                atomic_load_explicit(&rxq->packets, memory_order_relaxed);

            rxq->load_ns =
                (busy - rxq->sample_busy_ns) * 1000000000 / interval_ns;
            rxq->load_pps =
                (packets - rxq->sample_packets) * 1000000000 / interval_ns;
            rxq->sample_busy_ns = busy;
            rxq->sample_packets = packets;
            if (rxq->polled && *n_rxqs < max) {
                rxqs[(*n_rxqs)++] = rxq;
            }
        }
    }
}

struct vsw_rxq *
vsw_rebalance_choose(const uint64_t *worker_load, unsigned n_workers,
                     struct vsw_rxq *const *rxqs, size_t n_rxqs, unsigned *to)
{
    /* A worker busier than this share of a second is overloaded, and a
     * move must narrow the gap between two workers by at least this. */
    const uint64_t overloaded = 600000000;
    const uint64_t worthwhile = 200000000;
    struct vsw_rxq *best = NULL;
    unsigned hot = 0, cold = 0;
    uint64_t gap;

    for (unsigned w = 1; w < n_workers; w++) {
        if (worker_load[w] > worker_load[hot]) {
            hot = w;
        }
        if (worker_load[w] < worker_load[cold]) {
            cold = w;
        }
    }
    if (hot == cold || worker_load[hot] < overloaded) {
        return NULL;
    }
    gap = worker_load[hot] - worker_load[cold];
    if (gap < worthwhile) {
        return NULL;
    }
    /* The busiest queue that, moved, still leaves the hot worker at least
     * as loaded as the cold one: no ping-pong. */
    for (size_t i = 0; i < n_rxqs; i++) {
        struct vsw_rxq *rxq = rxqs[i];

        if (rxq->worker == hot && !rxq->pinned && rxq->load_ns &&
            rxq->load_ns <= gap / 2 &&
            (!best || rxq->load_ns > best->load_ns)) {
            best = rxq;
        }
    }
    if (!best || best->load_ns < worthwhile / 4) {
        return NULL;
    }
    *to = cold;
    return best;
}

bool
vsw_datapath_rebalance(struct vsw_datapath *dp, uint64_t interval_ns)
{
    static struct vsw_rxq *rxqs[VSW_MAX_PORTS * 2];
    uint64_t loads[VSW_MAX_WORKERS];
    struct vsw_rxq *rxq;
    unsigned to;
    size_t n;

    if (!interval_ns) {
        return false;
    }
    sample_loads(dp, interval_ns, rxqs, &n, sizeof rxqs / sizeof *rxqs);
    /* A move needs a few seconds of loads measured after the last one,
     * or the two workers may trade one busy queue back and forth. */
    if (dp->move_cooldown) {
        dp->move_cooldown--;
        return false;
    }
    for (unsigned w = 0; w < dp->n_workers; w++) {
        loads[w] = dp->workers[w].load_ns;
    }
    rxq = vsw_rebalance_choose(loads, dp->n_workers, rxqs, n, &to);
    if (!rxq) {
        return false;
    }
    VSW_INFO("moving receive queue %u of port %s from worker %u to worker "
             "%u (loads %.0f%% and %.0f%%)",
             rxq->queue, rxq->rt->name, rxq->worker, to,
             loads[rxq->worker] / 1e7, loads[to] / 1e7);
    dp->move_cooldown = REBALANCE_COOLDOWN;
    return !rxq_move(dp, rxq, to);
}

int
vsw_datapath_pin_rxq(struct vsw_datapath *dp, struct vsw_port_rt *rt,
                     unsigned queue, unsigned worker)
{
    struct vsw_rxq *rxq;

    if (queue >= rt->n_rxqs || worker >= dp->n_workers) {
        return -EINVAL;
    }
    rxq = &rt->rxqs[queue];
    if (!rxq->polled) {
        return -EBUSY;
    }
    rxq->pinned = true;
    return rxq->worker == worker ? 0 : rxq_move(dp, rxq, worker);
}

void
vsw_datapath_for_each_rxq(struct vsw_datapath *dp,
                          void (*fn)(const struct vsw_rxq *, void *aux),
                          void *aux)
{
    for (size_t slot = 0; slot < VSW_MAX_PORTS; slot++) {
        struct vsw_port_rt *rt = dp->rts[slot];

        for (unsigned q = 0; rt && q < rt->n_rxqs; q++) {
            if (rt->rxqs[q].polled) {
                fn(&rt->rxqs[q], aux);
            }
        }
    }
}

int
vsw_port_rt_capture_start(struct vsw_port_rt *rt, unsigned count)
{
    struct vsw_capture *capture = atomic_load(&rt->capture);

    if (!capture) {
        capture = calloc(1, sizeof *capture);
        if (!capture) {
            return -ENOMEM;
        }
        atomic_store(&rt->capture, capture);
    }
    /* Closing the budget first keeps workers from taking frames while
     * the slots restart.  A worker that took a frame just before may
     * still be copying it into a slot: it only ever writes the slot it
     * was given, and 'done' tells when it has finished. */
    atomic_store(&capture->budget, 0);
    atomic_store(&capture->taken, 0);
    for (unsigned i = 0; i < VSW_CAPTURE_FRAMES; i++) {
        atomic_store(&capture->frames[i].done, false);
    }
    atomic_store(
        &capture->budget,
        (int)(count < VSW_CAPTURE_FRAMES ? count : VSW_CAPTURE_FRAMES));
    return 0;
}

void
vsw_port_rt_capture(struct vsw_port_rt *rt, const struct vsw_packet *pkt)
{
    struct vsw_capture *capture =
        atomic_load_explicit(&rt->capture, memory_order_acquire);
    unsigned slot;
    int budget;

    if (!capture ||
        atomic_load_explicit(&capture->budget, memory_order_relaxed) <= 0) {
        return;
    }
    budget = atomic_fetch_sub(&capture->budget, 1);
    if (budget <= 0) {
        atomic_fetch_add(&capture->budget, 1);
        return;
    }
    slot = atomic_fetch_add(&capture->taken, 1);
    if (slot >= VSW_CAPTURE_FRAMES) {
        return;
    }
    capture->frames[slot].wire_len = pkt->len;
    capture->frames[slot].len =
        pkt->len < VSW_CAPTURE_BYTES ? pkt->len : VSW_CAPTURE_BYTES;
    memcpy(capture->frames[slot].data, pkt->data, capture->frames[slot].len);
    atomic_store_explicit(&capture->frames[slot].done, true,
                          memory_order_release);
}

void
vsw_port_rt_destroy(struct vsw_port_rt *rt, bool remove_device)
{
    if (rt) {
        free(atomic_load(&rt->capture));
        free(rt->guard_state);
        vsw_netdev_destroy(rt->netdev, remove_device);
        free(rt->rxqs);
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
        out->mirror_tx_packets +=
            atomic_load_explicit(&s->mirror_tx_packets, memory_order_relaxed);
        out->mirror_tx_bytes +=
            atomic_load_explicit(&s->mirror_tx_bytes, memory_order_relaxed);
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
    struct vsw_flow_cache_stats cache;

    info->n_rxqs = w->n_rxqs;
    info->load_ns = w->load_ns;
    info->cpu_ns = w->cpu_ns;
    vsw_flow_cache_get_stats(w->pipeline->cache, &cache);
    info->cache_lookups = cache.lookups;
    info->cache_hits = cache.hits;
    info->cache_used = cache.used;
    info->cache_size = cache.size;
    info->cache_evictions = cache.evictions;
    vsw_shaper_worker_usage(w->shaper, &info->spares_used, &info->spares_size,
                            &info->spares_none);
    info->batches = atomic_load_explicit(&w->batches, memory_order_relaxed);
    info->packets = atomic_load_explicit(&w->packets, memory_order_relaxed);
}
