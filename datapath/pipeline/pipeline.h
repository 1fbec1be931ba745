/*
 * The packet pipeline: named stages a batch of frames passes through.
 *
 * Ingress (per batch received on one port):
 *   parse         flow key extraction (flow.c)
 *   vlan-ingress  VLAN and private VLAN classification (vlan.c)
 *   guard         the port's guards (guard.c); 802.1p priority reset
 *   acl-out       the port's extended, then basic ACLs, direction out
 *                 (xacl.c, acl.c)
 *   learn         source MAC learning (fdb.c)
 *   forward       MAC table lookup or flood (storm limit, private VLAN
 *                 reachability); queues the frame on every destination
 *                 port's tx queue
 * Egress (per destination port, after the whole batch went through
 * ingress):
 *   acl-in        the destination's ACLs, direction in
 *   vlan-egress   VLAN tag to send with
 *   tx            one gather write per frame; software segmentation for
 *                 ports without offloads (gso.c)
 *
 * A stage returns VSW_STAGE_CONTINUE, VSW_STAGE_CONSUMED (the frame went
 * into tx queues), or a drop reason, which the pipeline counts on the
 * port; so every frame ends delivered or counted.  New features (policy,
 * QoS, mirroring, extensions) are new stages in these tables.
 *
 * Mirroring (mirror.h) hooks in after ingress and after vlan-egress, on
 * switches that mirror only; it works on the tx queues, so frames the
 * flow cache forwarded are mirrored like the others.
 *
 * The flow cache (flow-cache.h) sits between "parse" and the other
 * ingress stages: a frame whose flow has a valid entry skips the built-in
 * ones and takes the cached verdict (a drop, or one destination); the
 * others run the stages, and their verdicts fill the cache.  Floods are
 * not cached, nor frames a stage judged by more than the flow key
 * (payload, rates, the frame that creates flow state, an extension's
 * choice: 'no_cache').  An entry of a port with ACLs holds the rule
 * counters the verdict touched and how it depends on flow state, and a
 * hit counts on them as the stage would.  On switches with extensions a
 * hit still runs the extension stages that come before the stage that
 * decided, in order, and their drops and choices win.
 */
#ifndef VSW_PIPELINE_H
#define VSW_PIPELINE_H 1

#include <stdbool.h>
#include <stdint.h>

#include "datapath.h"
#include "flow-cache.h"
#include "gso.h"
#include "trace.h"
#include "packet.h"

#define VSW_STAGE_CONTINUE (-1)
#define VSW_STAGE_CONSUMED (-2)

/* Frames queued for one destination port during one batch. */
struct vsw_txq {
    const struct vsw_dp_port *port;           /* destination */
    bool mirror;                              /* holds mirror copies */
    int n;                                    /* items queued */
    struct vsw_tx_item items[VSW_BATCH_SIZE]; /* at most one per frame */
};

/* A batch as an extension's 'process' gets it, with the host's side:
 * the metadata it points to and the destinations a forwarding extension
 * adds (vsw_ext_add_destination() finds them from 'pub'). */
struct vsw_ext_host_batch {
    struct vsw_ext_batch pub; /* first: what the plugin
                                 sees */
    struct vsw_pipeline *pl;  /* the calling pipeline */
    const struct vsw_ext_packet *md_ptrs[VSW_BATCH_SIZE]; /* -> 'md' */
    struct vsw_ext_packet md[VSW_BATCH_SIZE];             /* per packet */
    uint32_t verdicts[VSW_BATCH_SIZE];                    /* the plugin's */
    uint8_t n_dst[VSW_BATCH_SIZE]; /* destinations added */
    uint32_t dst[VSW_BATCH_SIZE][VSW_EXT_MAX_DESTINATIONS]; /* their ids */
    uint64_t rx_time_ns; /* the batch's receive time (CLOCK_REALTIME),
                            read by the first extension call; 0: not
                            read yet */
};

/* A frame an extension injected during a batch, sent after it. */
struct vsw_injected {
    struct vsw_ext_frame *frame; /* owned until sent */
    uint32_t in_port;            /* enters as if from here, or 0 */
    uint32_t out_port;           /* originated: goes out here */
    unsigned skip;               /* extensions it has passed */
};

/* Frames injected during one batch at most; more get -ENOBUFS. */
#define VSW_MAX_INJECTED 64
/* Injected frames that inject in turn: how deep that may go. */
#define VSW_MAX_INJECT_DEPTH 4

/* A worker's pipeline state; touched by that worker only. */
struct vsw_pipeline {
    unsigned worker;                            /* index, for counters */
    const struct vsw_dp_snapshot *snap;         /* snapshot of this batch */
    const struct vsw_dp_port *in_port;          /* port the batch came from */
    int64_t now_ms;                             /* time of this batch */
    struct vsw_txq *txq_by_slot[VSW_MAX_PORTS]; /* allocated on first use */
    unsigned n_active;                          /* txqs with frames queued */
    struct vsw_txq *active[VSW_MAX_PORTS];      /* those txqs */
    struct vsw_gso_out *gso;                    /* software segmentation
                                                   output */
    struct vsw_packet segments[VSW_BATCH_SIZE]; /* views of its frames */
    struct vsw_flow_cache *cache;               /* decisions per flow */
    struct vsw_flow_cache_policy *acl_memo;     /* where "acl-out" notes
                                                   what the frame it runs on
                                                   touched, for the cache */
    struct vsw_trace *trace;                    /* set while tracing: every
                                                   side effect off */
    struct vsw_guard_state trace_guard_state;   /* guard memory a trace
                                                   works on */
    uint64_t fdb_gen;                           /* input switch's MAC table
                                                   generation, read before
                                                   this batch's lookups */
    unsigned ext_skip;                          /* extensions of the switch
                                                   this batch has passed
                                                   (injected frames) */
    bool trace_ext_noted;                       /* a trace step named an
                                                   extension already */
    struct vsw_ext_host_batch ext_batch;        /* what 'process' gets */
    unsigned n_injected;                        /* frames in 'injected' */
    struct vsw_injected injected[VSW_MAX_INJECTED]; /* sent after the
                                                       batch */
    unsigned inject_depth;                          /* nesting of injected
                                                       batches */
    struct vsw_packet inject_pkt;                   /* view of the frame being
                                                       sent */
    struct vsw_txq *mirror_txqs[VSW_MIRROR_MAX_DESTINATIONS]; /* copies for
                                  each mirror destination of the batch's
                                  switch (mirror.c), allocated on first use */
    uint32_t mirror_pending; /* those with copies queued */
    uint8_t *pcap_linear;    /* a retagged frame put together for capture
                                filters (VSW_PCAP_LINEAR_BYTES) */
    struct vsw_shaper_worker *shaper; /* QoS: the worker's shaper queues,
                                         NULL on the control thread */
};

/* Creates the state for worker 'worker'.  Returns NULL on allocation
 * failure. */
struct vsw_pipeline *vsw_pipeline_create(unsigned worker);
void vsw_pipeline_destroy(struct vsw_pipeline *pl);

/* Worker: runs the ingress stages over 'batch', received on 'in_port' of
 * 'snap', then the egress stages for every destination, and transmits. */
void vsw_pipeline_process(struct vsw_pipeline *pl,
                          const struct vsw_dp_snapshot *snap,
                          const struct vsw_dp_port *in_port,
                          struct vsw_packet_batch *batch, int64_t now_ms);

/* Control thread: runs 'pkt' (parsed here) as if it had arrived on
 * 'in_port' of 'snap', with every side effect off, and records each
 * stage's verdict and the destinations in 'trace'.  'pl' must be a
 * pipeline of its own, not a worker's. */
void vsw_pipeline_trace(struct vsw_pipeline *pl,
                        const struct vsw_dp_snapshot *snap,
                        const struct vsw_dp_port *in_port,
                        struct vsw_packet *pkt, struct vsw_trace *trace,
                        int64_t now_ms);

/* Worker: counts 'n' frames of 'bytes' received on 'rt' and dropped for
 * 'reason' before any stage ran (e.g. the port is being removed). */
void vsw_pipeline_count_drops(unsigned worker, struct vsw_port_rt *rt,
                              enum vsw_drop_reason reason, unsigned n,
                              uint64_t bytes);

/* Counts 'pkt' as dropped for 'reason' on 'stats', in wire frames. */
void vsw_pipeline_count_drop(struct vsw_port_stats *stats, int reason,
                             const struct vsw_packet *pkt);

/* Queues 'pkt' for 'port' (in the batch's snapshot). */
void vsw_pipeline_txq_push(struct vsw_pipeline *pl,
                           const struct vsw_dp_port *port,
                           struct vsw_packet *pkt);

/* Worker, QoS: transmits the 'n' frames 'pkts' (each as it leaves:
 * tagged already) through 'port', as the "tx" stage does. */
void vsw_pipeline_transmit(struct vsw_pipeline *pl,
                           const struct vsw_dp_port *port,
                           struct vsw_packet **pkts, int n);

/* Extension stages (ext-stage.c). */

/* Runs the 'ext_class' extensions of the input switch on the 'n' frames
 * of 'pkts' and stores each frame's verdict in 'verdicts':
 * VSW_STAGE_CONTINUE, VSW_STAGE_CONSUMED (a forwarding extension sent
 * it), or a drop reason. */
void vsw_ext_stage_ingress(struct vsw_pipeline *pl, uint32_t ext_class,
                           struct vsw_packet **pkts, int n, int verdicts[]);

/* Runs the 'ext_class' extensions on the frames queued on 'txq'; frames
 * they drop are counted on the destination and leave the queue. */
void vsw_ext_stage_egress(struct vsw_pipeline *pl, struct vsw_txq *txq,
                          uint32_t ext_class);

/* Sends 'pkt' to the 'n' destinations a forwarding extension chose (that
 * its VLAN admits).  Returns VSW_STAGE_CONSUMED or a drop reason. */
int vsw_ext_forward(struct vsw_pipeline *pl, struct vsw_packet *pkt,
                    const uint32_t *dst, unsigned n);

/* Queues a frame injected from 'process' on this pipeline (see
 * vsw_ext_host's inject).  Takes 'frame' in every case.  Returns 0 or a
 * negative errno. */
int vsw_pipeline_inject(struct vsw_pipeline *pl, struct vsw_ext_frame *frame,
                        uint32_t in_port, uint32_t out_port, unsigned skip);

/* Control thread: sends the frames queued on 'pl' (a pipeline of the
 * control thread's own) through 'snap'. */
void vsw_pipeline_run_injected(struct vsw_pipeline *pl,
                               const struct vsw_dp_snapshot *snap,
                               int64_t now_ms);

/* Adds 'n' to a counter that only the calling worker writes. */
static inline void
vsw_counter_add(_Atomic uint64_t *counter, uint64_t n)
{
    atomic_store_explicit(
        counter, atomic_load_explicit(counter, memory_order_relaxed) + n,
        memory_order_relaxed);
}

#endif /* VSW_PIPELINE_H */
