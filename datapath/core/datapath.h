/*
 * The datapath: worker threads that move frames between ports, and the
 * interface the control plane drives them through.
 *
 * The control plane describes the switches and ports it wants in an
 * immutable snapshot (struct vsw_dp_snapshot) and publishes it with one
 * atomic pointer swap; workers pick it up at their next batch, so a change
 * applies to whole batches, never half of one.  Long-lived runtime state
 * that snapshots point to (a port's netdev and counters, a switch's MAC
 * table) outlives snapshots and is freed through vsw_datapath_defer() once
 * no worker can hold it.
 *
 * Threads: everything here is called on the control thread, except where
 * a comment says "worker".
 */
#ifndef VSW_DATAPATH_H
#define VSW_DATAPATH_H 1

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drop.h"
#include "ext-stage.h"
#include "fdb.h"
#include "mirror.h"
#include "netdev.h"
#include "policy.h"
#include "shaper.h"
#include "vlan.h"

#define VSW_MAX_WORKERS 64
#define VSW_MAX_PORTS   VSW_FDB_MAX_SLOTS
#define VSW_NAME_MAX    64 /* switch and port names, with the NUL */

/* One worker's counters for one port.  Only that worker writes them (with
 * relaxed atomic stores, so readers see whole values); the control thread
 * sums the workers' copies. */
struct vsw_port_stats {
    _Atomic uint64_t rx_packets;        /* frames received */
    _Atomic uint64_t rx_bytes;          /* their bytes */
    _Atomic uint64_t tx_packets;        /* frames sent */
    _Atomic uint64_t tx_bytes;          /* their bytes */
    _Atomic uint64_t mirror_tx_packets; /* of 'tx_packets': mirror copies */
    _Atomic uint64_t mirror_tx_bytes;   /* their bytes */
    _Atomic uint64_t drops[VSW_DROP_N_REASONS]; /* frames dropped, by
                                                   reason */
} __attribute__((aligned(64)));

/* Counters of one port, summed over workers. */
struct vsw_port_counters {
    uint64_t rx_packets;                /* frames received */
    uint64_t rx_bytes;                  /* their bytes */
    uint64_t tx_packets;                /* frames sent */
    uint64_t tx_bytes;                  /* their bytes */
    uint64_t mirror_tx_packets;         /* of 'tx_packets': mirror copies */
    uint64_t mirror_tx_bytes;           /* their bytes */
    uint64_t drops[VSW_DROP_N_REASONS]; /* frames dropped, by reason */
};

struct vsw_port_rt;
struct vsw_sched;

/* One receive queue of a port, polled by one worker at a time.  Load is
 * measured per queue so the control thread can move busy queues between
 * workers. */
struct vsw_rxq {
    struct vsw_port_rt *rt;   /* owner */
    unsigned queue;           /* index among the netdev's queues */
    unsigned worker;          /* worker polling it (control thread) */
    bool polled;              /* in that worker's epoll set or direct
                                 set */
    bool direct;              /* in its direct set (worker.h) */
    bool pinned;              /* placed by the operator: rebalancing
                                 leaves it alone */
    _Atomic uint64_t packets; /* frames read, by the polling worker */
    _Atomic uint64_t busy_ns; /* time the worker spent on them */
    uint64_t sample_packets;  /* control thread: 'packets' at the last
                                 load sample */
    uint64_t sample_busy_ns;  /* control thread: 'busy_ns' then */
    uint64_t load_ns;         /* busy ns per second, last sample */
    uint64_t load_pps;        /* frames per second, last sample */
};

/* A port's runtime: what outlives configuration snapshots. */
struct vsw_port_rt {
    uint32_t id;                           /* unique port id; low bits: slot */
    char name[VSW_NAME_MAX];               /* the port's name, for logs */
    struct vsw_netdev *netdev;             /* owned */
    bool attached;                         /* its queues are being polled */
    _Atomic int rx_error;                  /* errno that made a worker stop
                                              polling (device deleted), or 0 */
    unsigned n_rxqs;                       /* == netdev->n_queues */
    struct vsw_rxq *rxqs;                  /* one per netdev queue */
    unsigned n_stats;                      /* entries in 'stats' */
    struct vsw_port_stats *stats;          /* one per worker */
    struct vsw_guard_state *guard_state;   /* storm bucket and fragment
                                              memory of the port guards */
    _Atomic(struct vsw_capture *) capture; /* frames kept for a live trace, or
                                    NULL (allocated on first use) */
    /* QoS (qos/shaper.c): each direction's token bucket and queue depth */
    struct vsw_shaper_state shaper[VSW_SHAPER_N_DIRS];
};

/* Live tracing: the next frames a port receives, copied by the worker
 * that reads them, for the control thread to trace. */
#define VSW_CAPTURE_FRAMES 16
#define VSW_CAPTURE_BYTES  2048

struct vsw_capture {
    _Atomic int budget;     /* frames still to take */
    _Atomic unsigned taken; /* frames taken so far (slots used) */
    struct {
        _Atomic bool done;               /* copied: the rest is valid */
        uint32_t len;                    /* bytes kept */
        uint32_t wire_len;               /* bytes the frame had */
        uint8_t data[VSW_CAPTURE_BYTES]; /* its first bytes */
    } frames[VSW_CAPTURE_FRAMES];
};

/* Control thread: starts keeping the next 'count' (<= VSW_CAPTURE_FRAMES)
 * frames 'rt' receives, forgetting earlier ones.  Returns 0 or -ENOMEM. */
int vsw_port_rt_capture_start(struct vsw_port_rt *rt, unsigned count);

/* Worker: keeps 'pkt' if a live trace of 'rt' still wants frames. */
void vsw_port_rt_capture(struct vsw_port_rt *rt, const struct vsw_packet *pkt);

struct vsw_dp_switch;
struct vsw_pcap_taps;
struct vsw_vxlan_config;
struct vsw_team_map;

/* A port as one snapshot sees it. */
struct vsw_dp_port {
    char name[VSW_NAME_MAX];        /* unique across the daemon */
    uint32_t id;                    /* == rt->id */
    struct vsw_port_rt *rt;         /* runtime (not owned) */
    const struct vsw_dp_switch *sw; /* switch in the same snapshot */
    struct vsw_vlan_config vlan;    /* VLAN mode and membership */
    uint32_t mac_limit;             /* per-port MAC table cap, 0 = none */
    bool flood;                     /* takes flooded frames */
    struct vsw_port_policy *policy; /* ACLs and guards (owned by the
                                       snapshot), NULL: none at all */
    uint8_t mirror;                 /* enum vsw_mirror_role in effect: a
                                       source only while its switch has a
                                       destination (vsw_dp_switch_mirrors) */
    uint8_t mirror_index;           /* a destination's bit in 'mirror_has'
                                       (mirror.h) */
    struct vsw_sched *sched;        /* QoS: an uplink's minimum-bandwidth
                                       scheduler (not owned), NULL: its
                                       frames go straight out */
    uint64_t min_bw;                /* QoS: the weight or guaranteed bit/s
                                       of this port's frames on scheduled
                                       uplinks, 0: the default flow */
    struct vsw_pcap_taps *pcap;     /* capture sessions that see it
                                       (owned by the snapshot, pcap-tap.h),
                                       NULL: nobody captures it */
    /* QoS: max-bandwidth (out) and max-bandwidth-in; rate 0 = off */
    struct vsw_shaper_config shaper[VSW_SHAPER_N_DIRS];
    uint32_t vni; /* tenant network of its frames, 0 = none */
    const struct vsw_vxlan_config *tunnel; /* a VXLAN tunnel port: its
                                              remotes and maps (owned by the
                                              snapshot, vxlan.h); NULL for
                                              other ports */
    const struct vsw_team_map *team;       /* a team port's members and
                                              balancing (balance.h; not owned,
                                              retired by the team module), NULL:
                                              no team */
};

/* A switch as one snapshot sees it. */
struct vsw_dp_switch {
    char name[VSW_NAME_MAX];     /* unique across the daemon */
    struct vsw_fdb *fdb;         /* MAC table (not owned) */
    struct vsw_pvlan_map *pvlan; /* its private VLANs (owned), NULL if it
                                    has none */
    size_t n_ports;              /* entries in 'ports' */
    struct vsw_dp_port **ports;  /* owned by the snapshot */
    unsigned n_exts;             /* entries in 'exts' */
    struct vsw_dp_ext exts[VSW_EXT_MAX_PER_SWITCH]; /* enabled extensions,
                                                       in order */
    bool mirroring;          /* has a mirror source and destination */
    unsigned n_mirror_dests; /* entries in 'mirror_dests' */
    uint32_t mirror_all;     /* a bit for each of them */
    const struct vsw_dp_port *mirror_dests[VSW_MIRROR_MAX_DESTINATIONS];
};

/* Everything the workers decide with.  Immutable once published. */
struct vsw_dp_snapshot {
    struct vsw_conntrack *conntrack; /* flow state of stateful ACLs (not
                                        owned), NULL: none */
    uint64_t generation;             /* set when published;
                                        higher = newer */
    size_t n_switches;               /* entries in 'switches' */
    struct vsw_dp_switch **switches; /* owned */
    struct vsw_dp_port *by_slot[VSW_MAX_PORTS]; /* ports by slot of id */
};

/* Snapshot construction (before publishing).  Each returns NULL on
 * allocation failure.  The snapshot owns what the adders return. */
struct vsw_dp_snapshot *vsw_dp_snapshot_create(void);
struct vsw_dp_switch *vsw_dp_snapshot_add_switch(struct vsw_dp_snapshot *,
                                                 const char *name,
                                                 struct vsw_fdb *fdb);
/* Adds a port to 'sw' of the same snapshot, with 'rt' (borrowed) and
 * default settings that the caller then fills in. */
struct vsw_dp_port *vsw_dp_snapshot_add_port(struct vsw_dp_snapshot *,
                                             struct vsw_dp_switch *sw,
                                             const char *name,
                                             struct vsw_port_rt *rt);
/* Derives the mirroring fields of 'sw' from its ports' 'mirror' roles,
 * once every port is added: destinations beyond
 * VSW_MIRROR_MAX_DESTINATIONS get none (the manager refuses them). */
void vsw_dp_switch_mirrors(struct vsw_dp_switch *sw);
/* Frees an unpublished snapshot (NULL allowed). */
void vsw_dp_snapshot_destroy(struct vsw_dp_snapshot *snap);

struct vsw_datapath;

/* Starts 'n_workers' (1..VSW_MAX_WORKERS) worker threads with an empty
 * snapshot.  With 'busy_poll' the workers spin instead of sleeping when
 * idle (lower latency, one core each).  Returns 0 and stores the datapath
 * in '*dpp', or a negative errno. */
int vsw_datapath_create(unsigned n_workers, bool busy_poll,
                        struct vsw_datapath **dpp);

/* Stops the workers and frees everything the datapath owns, running
 * every deferred callback.  Ports must have been detached.  NULL is
 * allowed. */
void vsw_datapath_destroy(struct vsw_datapath *dp);

unsigned vsw_datapath_n_workers(const struct vsw_datapath *dp);

/* Entries of per-thread counter arrays (port counters, rule counters,
 * extension counters): one per worker, and one more for the control
 * thread, which runs frames that extensions inject from there. */
unsigned vsw_datapath_n_counter_slots(const struct vsw_datapath *dp);

/* Publishes 'snap' (taking ownership); the previous one is freed after a
 * grace period. */
void vsw_datapath_publish(struct vsw_datapath *dp,
                          struct vsw_dp_snapshot *snap);

/* The snapshot published last. */
const struct vsw_dp_snapshot *
vsw_datapath_snapshot(const struct vsw_datapath *dp);

/* Creates the runtime for port 'name' with id 'id' over 'netdev'
 * (ownership passes to the runtime).  Returns NULL on allocation failure,
 * in which case 'netdev' is still the caller's. */
struct vsw_port_rt *vsw_port_rt_create(struct vsw_datapath *dp, uint32_t id,
                                       const char *name,
                                       struct vsw_netdev *netdev);

/* Starts polling each receive queue of 'rt', spreading them over the
 * workers with the fewest queues.  Returns 0 or a negative errno. */
int vsw_datapath_attach(struct vsw_datapath *dp, struct vsw_port_rt *rt);

/* Stops polling 'rt'.  Frames in flight may still be sent to it until the
 * snapshot without it has been published and a grace period passed. */
void vsw_datapath_detach(struct vsw_datapath *dp, struct vsw_port_rt *rt);

/* Measures each queue's load since the last call ('interval_ns' ago) and,
 * if one worker is overloaded while another has room, moves one queue
 * from the busiest worker to the idlest.  The queue is handed over after a
 * grace period, so two workers never read it at once.  Returns true if it
 * moved a queue.  Call about once a second. */
bool vsw_datapath_rebalance(struct vsw_datapath *dp, uint64_t interval_ns);

/* The rebalancing decision, apart so it can be tested: given each of the
 * 'n_workers' workers' load (busy ns per second) and the 'n_rxqs' polled
 * queues 'rxqs' with their loads, returns the queue to move and stores
 * its new worker in '*to', or returns NULL to leave things be.  A move
 * happens only when a worker is overloaded (> 60 %), the gap to the idlest
 * worker is worth closing (> 20 %), and an unpinned queue fits in half the
 * gap, so that the two workers do not trade places next time. */
struct vsw_rxq *vsw_rebalance_choose(const uint64_t *worker_load,
                                     unsigned n_workers,
                                     struct vsw_rxq *const *rxqs,
                                     size_t n_rxqs, unsigned *to);

/* Moves queue 'queue' of 'rt' to worker 'worker' and pins it there, so
 * that rebalancing leaves it alone (an operator's placement).  Returns 0,
 * -EINVAL for a queue or worker that does not exist, or -EBUSY while the
 * queue is already on its way somewhere. */
int vsw_datapath_pin_rxq(struct vsw_datapath *dp, struct vsw_port_rt *rt,
                         unsigned queue, unsigned worker);

/* Calls 'fn' for every polled receive queue, with the worker's index. */
void vsw_datapath_for_each_rxq(struct vsw_datapath *dp,
                               void (*fn)(const struct vsw_rxq *, void *aux),
                               void *aux);

/* Frees 'rt' and its netdev ('remove_device' as for
 * vsw_netdev_destroy()).  Call only after a grace period, e.g. from a
 * vsw_datapath_defer() callback.  NULL is allowed. */
void vsw_port_rt_destroy(struct vsw_port_rt *rt, bool remove_device);

/* The errno that made the worker give up on 'rt''s device (it was
 * deleted under the daemon), or 0 while it is healthy. */
int vsw_port_rt_rx_error(const struct vsw_port_rt *rt);

/* Sums the workers' counters of 'rt'. */
void vsw_port_rt_get_counters(const struct vsw_port_rt *rt,
                              struct vsw_port_counters *out);

/* Calls 'fn'('arg') once no worker can hold a pointer loaded before this
 * call.  Callbacks run from vsw_datapath_reclaim(), in order. */
void vsw_datapath_defer(struct vsw_datapath *dp, void (*fn)(void *arg),
                        void *arg);

/* Runs callbacks whose grace period is over.  Returns how many wait. */
size_t vsw_datapath_reclaim(struct vsw_datapath *dp);

/* Waits until every deferred callback has run. */
void vsw_datapath_barrier(struct vsw_datapath *dp);

/* Per-worker figures for `system.status`. */
struct vsw_worker_info {
    unsigned n_rxqs;        /* receive queues it polls */
    uint64_t batches;       /* batches processed */
    uint64_t packets;       /* frames received */
    uint64_t load_ns;       /* ns per second spent on packets, last
                               rebalance sample */
    uint64_t cpu_ns;        /* ns per second the thread ran at all, same
                               sample: a whole second under busy-poll */
    uint64_t cache_lookups; /* flow cache lookups */
    uint64_t cache_hits;    /* of which hits */
    /* Bounds, for the status (vswitchd/bounds.c). */
    uint64_t cache_used;      /* flow cache entries filled */
    uint64_t cache_size;      /* its entries */
    uint64_t cache_evictions; /* insertions into a full set */
    uint64_t spares_used;     /* shaper spare buffers holding frames */
    uint64_t spares_size;     /* its spare buffers */
    uint64_t spares_none;     /* frames dropped with no spare free */
};
void vsw_datapath_worker_info(const struct vsw_datapath *dp, unsigned index,
                              struct vsw_worker_info *info);

#endif /* VSW_DATAPATH_H */
