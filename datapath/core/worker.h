/*
 * Datapath worker threads.  Each worker sleeps in epoll_wait() on the
 * receive queues assigned to it, so an idle switch uses no CPU;
 * when frames arrive it reads them in batches and runs the pipeline.  The
 * control thread adds and removes ports with epoll_ctl(), which is safe
 * across threads, and wakes a worker through its eventfd when it must pass
 * a quiescent point or stop.
 */
#ifndef VSW_WORKER_H
#define VSW_WORKER_H 1

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "datapath.h"
#include "pipeline.h"
#include "rcu.h"

/* Batches one queue may take in a row before other queues get a turn. */
#define VSW_WORKER_BATCHES_PER_QUEUE 4

/* A busy-polling worker's queues that it polls in place, without epoll
 * (netdevs with 'set_direct_poll'): immutable once published; the
 * control thread replaces the whole set and frees the old one after a
 * grace period. */
struct vsw_rxq_set {
    size_t n; /* entries */
    /* Borrowed, each freed only after a grace period that follows its
     * removal.  A removal that could not allocate a smaller set leaves
     * NULL in place of the queue, which the worker skips. */
    _Atomic(struct vsw_rxq *) rxqs[];
};

struct vsw_worker {
    unsigned index;    /* 0..n_workers-1 */
    pthread_t thread;  /* the thread */
    int epoll_fd;      /* rx fds of its ports + wake_fd */
    int wake_fd;       /* eventfd: quiesce or stop */
    _Atomic bool stop; /* set by the control thread */
    _Atomic(struct vsw_dp_snapshot *) *snapshot; /* the datapath's */
    struct vsw_rcu *rcu;                         /* grace periods */
    struct vsw_rcu_reader *reader;           /* this worker's reader state */
    struct vsw_pipeline *pipeline;           /* per-worker pipeline state */
    struct vsw_packet *pool[VSW_BATCH_SIZE]; /* receive buffers */
    int pool_dirty; /* buffers from the start of 'pool' the last read and
                       batch may have changed: the only ones to reset */
    struct vsw_shaper_worker *shaper; /* QoS: queued frames and
                                         spare buffers */
    unsigned n_rxqs;                  /* queues assigned (control thread) */
    bool busy_poll;                   /* spin instead of sleeping */
    _Atomic(struct vsw_rxq_set *) direct; /* busy-poll: queues polled in
                                             place, or NULL */
    _Atomic uint64_t batches;             /* batches processed */
    _Atomic uint64_t packets;             /* frames received */
    _Atomic uint64_t busy_ns;             /* time spent processing them */
    uint64_t sample_busy_ns; /* control thread: 'busy_ns' at the last
                                load sample */
    uint64_t load_ns;        /* busy ns per second, last sample */
    uint64_t sample_cpu_ns;  /* control thread: the thread's CPU time at
                                the last load sample */
    uint64_t cpu_ns;         /* CPU ns per second, last sample */
};

/* Prepares and starts worker 'index'.  Returns 0 or a negative errno. */
int vsw_worker_start(struct vsw_worker *worker, unsigned index,
                     _Atomic(struct vsw_dp_snapshot *) *snapshot,
                     struct vsw_rcu *rcu);

/* Stops and joins the worker and frees what it owns. */
void vsw_worker_stop(struct vsw_worker *worker);

/* Makes a sleeping worker run one loop iteration. */
void vsw_worker_wake(struct vsw_worker *worker);

#endif /* VSW_WORKER_H */
