#include "worker.h"

#include "ext-stage.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pcap-tap.h"
#include "shaper.h"
#include "timeutil.h"

#define EVENTS_PER_WAKEUP 64

/* Busy-poll with queues polled in place: turns in a row that may skip
 * epoll while those queues keep bringing frames and the epoll set had
 * nothing the turn before. */
#define DIRECT_TURNS_PER_EPOLL 16

/* Reads and processes frames waiting on 'rxq', a queue of this worker.
 * '*since' is when the worker started on it (for its load); when frames
 * came, it is set to when the worker finished with them.  Returns the
 * number of frames read. */
static uint64_t
worker_poll_rxq(struct vsw_worker *worker, struct vsw_rxq *rxq, int64_t now_ms,
                int64_t *since)
{
    struct vsw_port_rt *rt = rxq->rt;
    const struct vsw_dp_snapshot *snap;
    const struct vsw_dp_port *port;
    int64_t start = *since;
    uint64_t packets = 0;

    for (int round = 0; round < VSW_WORKER_BATCHES_PER_QUEUE; round++) {
        struct vsw_packet_batch batch;
        int n;

        /* A busy-polling worker reads its queues every turn, mostly
         * finding a few frames or none: resetting all VSW_BATCH_SIZE
         * buffers each time was a tenth of its time. */
        for (int i = 0; i < worker->pool_dirty; i++) {
            vsw_packet_reset(worker->pool[i]);
        }
        n = vsw_netdev_rx(rt->netdev, rxq->queue, worker->pool,
                          VSW_BATCH_SIZE);
        /* The frames read, and the buffer after them, which a read may
         * have filled with a frame it then refused. */
        worker->pool_dirty = n < 0                ? VSW_BATCH_SIZE
                             : n < VSW_BATCH_SIZE ? n + 1
                                                  : VSW_BATCH_SIZE;
        if (n < 0) {
            /* The fd would stay readable with an error forever: stop
             * polling it and let the control thread deal with the port
             * (it notices 'rx_error' on its next tick). */
            epoll_ctl(worker->epoll_fd, EPOLL_CTL_DEL,
                      rt->netdev->queue_fd[rxq->queue], NULL);
            atomic_store_explicit(&rt->rx_error, -n, memory_order_relaxed);
            break;
        }
        if (n == 0) {
            break;
        }
        packets += n;
        /* Loaded after the read: a frame sent after a configuration change
         * was answered is always handled under that configuration. */
        snap = atomic_load_explicit(worker->snapshot, memory_order_acquire);
        port = snap->by_slot[VSW_FDB_SLOT(rt->id)];
        vsw_counter_add(&worker->batches, 1);
        if (!port || port->rt != rt) {
            /* Polled before its snapshot was published or after it was
             * removed from one: no configuration to forward with. */
            uint64_t bytes = 0;

            for (int i = 0; i < n; i++) {
                bytes += worker->pool[i]->len;
            }
            vsw_pipeline_count_drops(worker->index, rt, VSW_DROP_PORT_GONE, n,
                                     bytes);
        } else {
            if (atomic_load_explicit(&rt->capture, memory_order_relaxed)) {
                for (int i = 0; i < n; i++) {
                    vsw_port_rt_capture(rt, worker->pool[i]);
                }
            }
            /* Capture sessions: the frames as the port sent them. */
            if (port->pcap) {
                vsw_pcap_tap_rx(port->pcap, worker->index, port->id,
                                worker->pool, n);
            }
            if (port->shaper[VSW_SHAPER_OUT].rate_bps) {
                /* QoS hook: max-bandwidth shapes what the port sends;
                 * frames over the rate wait in shaper.c. */
                batch.count = vsw_shaper_rx(worker->shaper, port, worker->pool,
                                            n, batch.pkts, vsw_time_nsec());
            } else {
                batch.count = n;
                memcpy(batch.pkts, worker->pool, n * sizeof batch.pkts[0]);
            }
            if (batch.count) {
                vsw_pipeline_process(worker->pipeline, snap, port, &batch,
                                     now_ms);
            }
        }
        if (n < VSW_BATCH_SIZE) {
            break;
        }
    }
    if (packets) {
        uint64_t spent;

        *since = vsw_time_nsec();
        spent = (uint64_t)(*since - start);
        vsw_counter_add(&worker->packets, packets);
        vsw_counter_add(&rxq->packets, packets);
        vsw_counter_add(&rxq->busy_ns, spent);
        vsw_counter_add(&worker->busy_ns, spent);
    }
    return packets;
}

/* Waits for frames, a wake-up, or (QoS) the first queued frame's due
 * time, with nanosecond precision. */
static int
worker_wait(struct vsw_worker *worker, struct epoll_event *events, int max)
{
    int64_t due = vsw_shaper_next_due(worker->shaper);
    int64_t wait;
    struct timespec timeout;

    if (worker->busy_poll || due == INT64_MAX) {
        return epoll_wait(worker->epoll_fd, events, max,
                          worker->busy_poll ? 0 : -1);
    }
    wait = due - vsw_time_nsec();
    if (wait < 0) {
        wait = 0;
    }
    timeout.tv_sec = wait / 1000000000;
    timeout.tv_nsec = wait % 1000000000;
    return epoll_pwait2(worker->epoll_fd, events, max, &timeout, NULL);
}

/* Busy-poll: polls every queue of the worker's direct set once.  Returns
 * the frames read.  One clock reading for the turn, and one more per
 * queue that had frames: most polls find none, and a clock reading
 * around each was a twentieth of the worker's time.  (A queue's load then
 * includes the empty polls of the queues before it in the turn, a few
 * nanoseconds each.) */
static uint64_t
worker_poll_direct(struct vsw_worker *worker)
{
    const struct vsw_rxq_set *set =
        atomic_load_explicit(&worker->direct, memory_order_acquire);
    int64_t since = vsw_time_nsec();
    int64_t now_ms = since / 1000000;
    uint64_t packets = 0;

    for (size_t i = 0; set && i < set->n; i++) {
        struct vsw_rxq *rxq =
            atomic_load_explicit(&set->rxqs[i], memory_order_acquire);

        if (rxq &&
            !atomic_load_explicit(&rxq->rt->rx_error, memory_order_relaxed)) {
            packets += worker_poll_rxq(worker, rxq, now_ms, &since);
        }
    }
    return packets;
}

/* QoS hook: sends the frames the shapers hold whose time has come. */
static void
worker_run_shapers(struct vsw_worker *worker)
{
    if (vsw_shaper_next_due(worker->shaper) != INT64_MAX) {
        vsw_shaper_run(
            worker->shaper, worker->pipeline,
            atomic_load_explicit(worker->snapshot, memory_order_acquire),
            vsw_time_nsec());
    }
}

static void *
worker_main(void *worker_)
{
    struct vsw_worker *worker = worker_;
    struct epoll_event events[EVENTS_PER_WAKEUP];
    unsigned turns_without_epoll = 0;
    bool epoll_had_work = true;

    /* So the watchdog sees this thread's calls into extensions. */
    vsw_ext_call_register(vsw_ext_call_self());
    while (!atomic_load(&worker->stop)) {
        int64_t now_ms;
        int n;

        /* Holding nothing from the previous round. */
        vsw_rcu_quiesce(worker->rcu, worker->reader);
        if (worker->busy_poll) {
            /* Queues polled in place first; epoll for the others only
             * when those brought nothing, when it had work last time, or
             * every DIRECT_TURNS_PER_EPOLL turns, so that a busy
             * vhost-user queue costs no epoll_wait per turn and a busy
             * TAP still gets every turn. */
            if (worker_poll_direct(worker) && !epoll_had_work &&
                ++turns_without_epoll < DIRECT_TURNS_PER_EPOLL) {
                worker_run_shapers(worker);
                continue;
            }
            turns_without_epoll = 0;
        }
        n = worker_wait(worker, events, EVENTS_PER_WAKEUP);
        if (n < 0) {
            if (errno != EINTR) {
                VSW_ERR("worker %u: epoll_wait: %s", worker->index,
                        strerror(errno));
            }
            continue;
        }
        now_ms = vsw_time_msec();
        for (int i = 0; i < n; i++) {
            struct vsw_rxq *rxq = events[i].data.ptr;

            if (!rxq) {
                uint64_t count;

                if (read(worker->wake_fd, &count, sizeof count) < 0) {
                    continue; /* another wake-up already drained it */
                }
                continue;
            }
            int64_t since = vsw_time_nsec();

            worker_poll_rxq(worker, rxq, now_ms, &since);
        }
        /* The wake-up eventfd alone is no work for a kernel queue. */
        epoll_had_work = n > 1 || (n == 1 && events[0].data.ptr);
        worker_run_shapers(worker);
    }
    return NULL;
}

int
vsw_worker_start(struct vsw_worker *worker, unsigned index,
                 _Atomic(struct vsw_dp_snapshot *) *snapshot,
                 struct vsw_rcu *rcu)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    int error;

    worker->index = index;
    worker->snapshot = snapshot;
    worker->rcu = rcu;
    worker->reader = vsw_rcu_reader(rcu, index);
    worker->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    worker->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    worker->pipeline = vsw_pipeline_create(index);
    worker->shaper = vsw_shaper_worker_create(index);
    if (worker->epoll_fd < 0 || worker->wake_fd < 0 || !worker->pipeline ||
        !worker->shaper) {
        error = worker->pipeline && worker->shaper ? -errno : -ENOMEM;
        goto fail;
    }
    worker->pipeline->shaper = worker->shaper;
    worker->pool_dirty = VSW_BATCH_SIZE;
    for (int i = 0; i < VSW_BATCH_SIZE; i++) {
        worker->pool[i] = vsw_packet_create();
        if (!worker->pool[i]) {
            error = -ENOMEM;
            goto fail;
        }
    }
    if (epoll_ctl(worker->epoll_fd, EPOLL_CTL_ADD, worker->wake_fd, &ev)) {
        error = -errno;
        goto fail;
    }
    error = -pthread_create(&worker->thread, NULL, worker_main, worker);
    if (error) {
        goto fail;
    }
    return 0;

fail:
    for (int i = 0; i < VSW_BATCH_SIZE; i++) {
        vsw_packet_destroy(worker->pool[i]);
        worker->pool[i] = NULL;
    }
    vsw_pipeline_destroy(worker->pipeline);
    worker->pipeline = NULL;
    vsw_shaper_worker_destroy(worker->shaper);
    worker->shaper = NULL;
    if (worker->epoll_fd >= 0) {
        close(worker->epoll_fd);
    }
    if (worker->wake_fd >= 0) {
        close(worker->wake_fd);
    }
    return error;
}

void
vsw_worker_wake(struct vsw_worker *worker)
{
    uint64_t one = 1;

    /* A full eventfd counter already guarantees a wake-up. */
    if (write(worker->wake_fd, &one, sizeof one) < 0) {
        return;
    }
}

void
vsw_worker_stop(struct vsw_worker *worker)
{
    atomic_store(&worker->stop, true);
    vsw_worker_wake(worker);
    pthread_join(worker->thread, NULL);
    for (int i = 0; i < VSW_BATCH_SIZE; i++) {
        vsw_packet_destroy(worker->pool[i]);
    }
    vsw_pipeline_destroy(worker->pipeline);
    vsw_shaper_worker_destroy(worker->shaper);
    free(atomic_load(&worker->direct));
    close(worker->epoll_fd);
    close(worker->wake_fd);
}
