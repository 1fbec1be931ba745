/*
 * Minimum bandwidth on an uplink's egress: a work-conserving deficit round
 * robin (DRR) scheduler, paced at the uplink's configured speed.
 *
 * Classes are the source ports of the frames: a port with a minimum
 * ('min_bw' of its snapshot port) has a class of its own (index: its slot
 * + 1), every other port shares the default class 0, the "default flow".
 * Each class has a FIFO queue and a quantum proportional to its weight
 * (weight mode: 1..100, the default flow 1) or to its guaranteed rate
 * (absolute mode: bits per second, the default flow 10 % of the link).
 * When every class is backlogged each gets the link in proportion to its
 * weight; a class with nothing queued takes no turn, so its share goes to
 * the others.
 *
 * Threads (like a Linux qdisc's root lock and its transmit softirq):
 *   - workers call vsw_sched_enqueue() once per batch for the uplink,
 *     under the scheduler's mutex, copying each frame as it will leave
 *     (tag resolved, virtio-net header included) into a buffer of the
 *     scheduler's own bounded pool: no allocation per packet; a full class
 *     queue or an empty pool drops the frame;
 *   - one thread per scheduler dequeues in DRR order and sends each frame
 *     through a packet socket of its own on the uplink, no earlier than
 *     the link's speed allows (nanosecond departure times; it sleeps on a
 *     condition variable in between and while idle);
 *   - the control thread creates and destroys schedulers, sets the link
 *     speed (an atomic) and reads the statistics (atomics), and never
 *     takes the mutex.
 *
 * A NIC team's scheduler has one link per member, each with a socket of
 * its own: the worker picks each frame's member as it queues it (the
 * team's balancing, datapath/team/balance.c, over the worker's snapshot)
 * and the frame leaves on that member, or, if the member stopped carrying
 * traffic meanwhile, on the first that still does.  The pacing speed is
 * the team's capacity, which the control thread sets as members come and
 * go.
 *
 * The pipeline counts a queued frame as sent on the uplink's port (the
 * scheduler owns it from then on, and sends it even when it is being
 * destroyed), and a refused one as dropped, 'qos-scheduler-full'.
 */
#ifndef VSW_SCHEDULER_H
#define VSW_SCHEDULER_H 1

#include <stdbool.h>
#include <stdint.h>

#include "packet.h"

struct vsw_dp_snapshot;
struct vsw_netdev;
struct vsw_sched;

/* What a port's minimum means on its switch. */
enum vsw_sched_mode {
    VSW_SCHED_WEIGHT,   /* 'min_bw' is a weight, 1..100 */
    VSW_SCHED_ABSOLUTE, /* 'min_bw' is a guaranteed rate in bits/s */
};

/* Links of one scheduler: a team's members at most. */
#define VSW_SCHED_MAX_LINKS 16

/* Classes: the default flow, then one per port slot. */
#define VSW_SCHED_DEFAULT_CLASS 0
#define VSW_SCHED_MAX_CLASSES   (4096 + 1)

/* Creates the scheduler of the uplink 'netdev' (its sending socket is
 * the scheduler's own; 'netdev' is not kept) named 'name' for logs, in
 * 'mode', pacing at 'link_bps' (> 0), and starts its thread.  Stores it
 * in '*schedp' and returns 0, or returns a negative errno.  Control
 * thread. */
int vsw_sched_create(const char *name, const struct vsw_netdev *netdev,
                     enum vsw_sched_mode mode, uint64_t link_bps,
                     struct vsw_sched **schedp);

/* The same for the 'n_links' (1..VSW_SCHED_MAX_LINKS) links of a team:
 * 'links[l]' is member l's uplink, or NULL if its interface is missing
 * (then its frames go to another link).  -ENODEV if all are NULL. */
int vsw_sched_create_links(const char *name,
                           const struct vsw_netdev *const links[],
                           unsigned n_links, enum vsw_sched_mode mode,
                           uint64_t link_bps, struct vsw_sched **schedp);

/* Stops the thread, sends what is still queued, and frees 'sched' (NULL
 * allowed).  Only once no worker can call vsw_sched_enqueue() on it any
 * more: after a grace period.  Control thread. */
void vsw_sched_destroy(struct vsw_sched *sched);

/* Changes the speed the scheduler paces at ('link_bps' > 0).  Control
 * thread. */
void vsw_sched_set_link_speed(struct vsw_sched *sched, uint64_t link_bps);

/* Sets the links that may carry frames (bit l: link l): a frame queued
 * for another leaves on the first of them.  Control thread. */
void vsw_sched_set_links_up(struct vsw_sched *sched, uint32_t up);

/* What vsw_sched_enqueue() did with a batch, in wire frames and bytes
 * (a GSO packet counts the frames it stands for). */
struct vsw_sched_result {
    uint64_t packets; /* queued: the scheduler sends them */
    uint64_t bytes;   /* their bytes */
    uint64_t dropped; /* refused: class queue or pool full */
};

/* Worker: queues the 'n' frames of 'items', bound for the uplink of
 * 'sched', each in the class of its source port in 'snap'.  Takes the
 * mutex once for the whole batch. */
void vsw_sched_enqueue(struct vsw_sched *sched,
                       const struct vsw_dp_snapshot *snap,
                       const struct vsw_tx_item *items, int n,
                       struct vsw_sched_result *result);

/* The same, each frame 'items[i]' to leave on link 'links[i]' (NULL: all
 * on link 0). */
void vsw_sched_enqueue_links(struct vsw_sched *sched,
                             const struct vsw_dp_snapshot *snap,
                             const struct vsw_tx_item *items,
                             const uint8_t *links, int n,
                             struct vsw_sched_result *result);

/* Figures of one class, for qos.show. */
struct vsw_sched_class_stats {
    uint32_t port_id;       /* port whose frames it holds, 0: the
                               default class */
    uint64_t weight;        /* weight, or guaranteed bit/s, last used */
    uint64_t tx_packets;    /* wire frames sent */
    uint64_t tx_bytes;      /* their bytes */
    uint64_t drops;         /* wire frames refused (queue or pool
                               full) */
    uint64_t queue_packets; /* frames (GSO packets count one) waiting */
    uint64_t queue_bytes;   /* their wire bytes */
    uint64_t rate_bps;      /* bits/s sent over the last second */
};

/* Stores the figures of class 'index' in '*stats'.  Returns false if no
 * frame of 'port_id' (0 for the default class) has used the class since
 * the scheduler started: its figures are all zero.  Control thread,
 * without the mutex: each figure is read whole, not all at one instant. */
bool vsw_sched_class_stats(const struct vsw_sched *sched, unsigned index,
                           uint32_t port_id,
                           struct vsw_sched_class_stats *stats);

/* Figures of the whole scheduler. */
struct vsw_sched_stats {
    uint64_t link_bps;    /* the speed it paces at */
    uint64_t tx_packets;  /* wire frames sent, all classes */
    uint64_t tx_bytes;    /* their bytes */
    uint64_t tx_errors;   /* frames the kernel refused when sent */
    uint64_t rate_bps;    /* bits/s sent over the last second */
    uint64_t pool_free;   /* buffers free in the pool */
    uint64_t pool_size;   /* buffers in the pool */
    uint64_t pool_empty;  /* wire frames refused for lack of a buffer */
    uint64_t queue_limit; /* bytes one class may hold */
};
void vsw_sched_get_stats(const struct vsw_sched *sched,
                         struct vsw_sched_stats *stats);

/* The wire frames and bytes sent on link 'link' so far (a team's member
 * counters add them).  Control thread, without the mutex. */
void vsw_sched_link_stats(const struct vsw_sched *sched, unsigned link,
                          uint64_t *packets, uint64_t *bytes);

/* For the unit tests: a scheduler without thread or socket, whose frames
 * vsw_sched_take() takes in DRR order, unpaced.  Returns 0 or -ENOMEM. */
int vsw_sched_create_unpaced(enum vsw_sched_mode mode, uint64_t link_bps,
                             struct vsw_sched **schedp);

/* Takes the next frame of an unpaced scheduler in DRR order, storing its
 * wire bytes in '*wire_bytes'.  Returns its class, or -1 if none waits. */
int vsw_sched_take(struct vsw_sched *sched, uint32_t *wire_bytes);

/* The quantum, in bytes per round, of a class with minimum 'min_bw' (0:
 * the default flow) in 'mode' on a link of 'link_bps'.  Exposed for the
 * unit tests. */
uint32_t vsw_sched_quantum(enum vsw_sched_mode mode, uint64_t min_bw,
                           uint64_t link_bps);

/* The bytes one class may hold queued on a link of 'link_bps': about 50
 * ms of the link, within fixed bounds. */
uint64_t vsw_sched_queue_limit(uint64_t link_bps);

#endif /* VSW_SCHEDULER_H */
