/*
 * Maximum bandwidth of a port, by shaping (FEATURES.md §5).
 *
 * Each port has up to two shapers: "out" (what the port sends into the
 * switch, shaped right after the frames are read, before any stage) and
 * "in" (what the switch sends to the port, shaped after the egress policy
 * stages, just before tx).  A shaper is a GCRA token bucket in
 * nanoseconds: one "theoretical arrival time" per port and direction,
 * shared by all workers and moved with compare-and-swap.  A frame costing
 * C ns (its wire bytes * 8e9 / rate; a GSO packet costs every segment it
 * stands for, headers included) may go when TAT + C - burst <= now (or
 * TAT <= now, for a frame larger than the burst), and then
 * TAT = max(TAT, now) + C: after idling, 'burst' bytes go at once.
 *
 * A frame that may not go yet waits in a bounded FIFO of its worker, one
 * per (port, direction), in a spare buffer of that worker: the out
 * direction swaps the received buffer for a spare, so the worker's
 * receive pool stays whole; the in direction copies the frame as it will
 * leave (tags already applied).  A frame that does not fit the queue (its
 * bytes or frame bound) or finds no spare buffer is dropped as
 * "qos-queue-full".  The worker wakes when the first queued frame is due
 * (vsw_shaper_next_due()) and sends it on: out frames run the ingress
 * pipeline as a batch of their port, in frames are transmitted.
 *
 * Threads: the configuration is in the snapshot's port (immutable), the
 * shared state in the port's runtime (atomics), the queues and spare
 * buffers in a per-worker struct vsw_shaper_worker that only its worker
 * touches, except vsw_shaper_worker_provision() (control thread, before
 * the first snapshot that shapes is published).  Queued frames name their
 * port by id only, so nothing a grace period frees is held across
 * quiescent points.
 */
#ifndef VSW_SHAPER_H
#define VSW_SHAPER_H 1

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct vsw_dp_port;
struct vsw_port_rt;
struct vsw_dp_snapshot;
struct vsw_packet;
struct vsw_pipeline;
struct vsw_txq;

/* Directions, from the port's point of view. */
enum vsw_shaper_dir {
    VSW_SHAPER_OUT, /* port -> switch (max-bandwidth) */
    VSW_SHAPER_IN,  /* switch -> port (max-bandwidth-in) */
    VSW_SHAPER_N_DIRS
};

/* Spare buffers per worker, for all its queued frames. */
#define VSW_SHAPER_SPARES 256
/* Frames one (port, direction) queue of a worker may hold. */
#define VSW_SHAPER_QUEUE_FRAMES 128
/* Smallest burst: a whole 64 KB GSO packet with the headers of its
 * segments fits, so a large segment never waits longer than its cost. */
#define VSW_SHAPER_MIN_BURST (96 * 1024)
/* Burst when none is given: this much time at the rate (at least
 * VSW_SHAPER_MIN_BURST). */
#define VSW_SHAPER_AUTO_BURST_NS 5000000
/* Queue bound: this much time at the rate (at least the burst). */
#define VSW_SHAPER_QUEUE_NS 20000000

/* One direction's shaper as a snapshot sees it (immutable). */
struct vsw_shaper_config {
    uint64_t rate_bps;     /* bits per second; 0: not shaped */
    uint64_t burst_bytes;  /* bytes that may go at once after idling */
    uint64_t tolerance_ns; /* the burst as time at the rate */
    uint64_t queue_bytes;  /* bound of each worker's queue */
};

/* Fills 'cfg' for 'rate_bps' (0 = off) and 'burst_bytes' (0 = automatic:
 * VSW_SHAPER_AUTO_BURST_NS at the rate, at least VSW_SHAPER_MIN_BURST). */
void vsw_shaper_config_init(struct vsw_shaper_config *cfg, uint64_t rate_bps,
                            uint64_t burst_bytes);

/* The burst 'burst_bytes' stands for at 'rate_bps' (resolves 0). */
uint64_t vsw_shaper_effective_burst(uint64_t rate_bps, uint64_t burst_bytes);

/* One direction's shared state, in the port's runtime: survives
 * snapshots. */
struct vsw_shaper_state {
    _Atomic uint64_t tat_ns;        /* theoretical arrival time */
    _Atomic uint64_t queued_frames; /* frames waiting, all workers */
    _Atomic uint64_t queued_bytes;  /* their wire bytes */
};

void vsw_shaper_state_init(struct vsw_shaper_state *st);

/* What a port's shapers hold now, over all workers. */
struct vsw_shaper_depth {
    uint64_t out_frames, out_bytes; /* waiting to enter the switch */
    uint64_t in_frames, in_bytes;   /* waiting to leave toward the port */
};

/* Any thread: the queue depths of 'rt''s shapers. */
void vsw_port_rt_get_shaper_depth(const struct vsw_port_rt *rt,
                                  struct vsw_shaper_depth *out);

struct vsw_shaper_worker;

/* Creates the (small) shaper state of worker 'worker'; the spare buffers
 * come later, from vsw_shaper_worker_provision().  NULL on allocation
 * failure. */
struct vsw_shaper_worker *vsw_shaper_worker_create(unsigned worker);
/* Frees 'sw' with its spare buffers and queued frames (the worker has
 * stopped).  NULL allowed. */
void vsw_shaper_worker_destroy(struct vsw_shaper_worker *sw);

/* Control thread: gives 'sw' its spare buffers and queues if it has none
 * yet.  Returns 0 or -ENOMEM (then every frame over the rate is dropped as
 * qos-queue-full). */
int vsw_shaper_worker_provision(struct vsw_shaper_worker *sw);

/* Any thread: the spare buffers of 'sw' holding queued frames, how many
 * it has, and how many frames over their rate found none free and were
 * dropped (qos-queue-full). */
void vsw_shaper_worker_usage(const struct vsw_shaper_worker *sw,
                             uint64_t *used, uint64_t *size,
                             uint64_t *exhausted);

/* True if a port of 'snap' is shaped in either direction. */
bool vsw_shaper_snapshot_shapes(const struct vsw_dp_snapshot *snap);

/* Worker: shapes the 'n' frames just read from 'port' in 'rx' (the
 * worker's receive buffers).  Frames that may go now are stored in 'pass'
 * (their count returned); the others are queued, their slot in 'rx'
 * taking a spare buffer, or dropped and counted. */
int vsw_shaper_rx(struct vsw_shaper_worker *sw, const struct vsw_dp_port *port,
                  struct vsw_packet **rx, int n, struct vsw_packet **pass,
                  int64_t now_ns);

/* Worker: shapes the frames queued on 'txq' (after vlan-egress): frames
 * that may go now stay, the others are copied into spare buffers and
 * queued, or dropped and counted. */
void vsw_shaper_tx(struct vsw_shaper_worker *sw, struct vsw_txq *txq,
                   int64_t now_ns);

/* Worker: sends the queued frames whose time has come (all of them for a
 * shaper turned off; drops those of a port that is gone). */
void vsw_shaper_run(struct vsw_shaper_worker *sw, struct vsw_pipeline *pl,
                    const struct vsw_dp_snapshot *snap, int64_t now_ns);

/* Worker: when the first queued frame is due (CLOCK_MONOTONIC ns), or
 * INT64_MAX when nothing is queued. */
int64_t vsw_shaper_next_due(const struct vsw_shaper_worker *sw);

#endif /* VSW_SHAPER_H */
