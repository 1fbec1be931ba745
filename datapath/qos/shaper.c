#include "shaper.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "datapath.h"
#include "gso.h"
#include "packet.h"
#include "pipeline.h"

#define NS_PER_SEC 1000000000ull
#define NO_NODE    UINT16_MAX

/* A queued frame. */
struct shaper_node {
    struct vsw_packet *pkt; /* a spare buffer's packet, or (out) the
                               received one it was swapped for */
    uint32_t wire_bytes;    /* what it costs */
    uint16_t next;          /* next node of its queue, or NO_NODE */
};

/* The frames one worker holds for one (port slot, direction). */
struct shaper_queue {
    uint32_t port_id; /* the port they belong to */
    uint16_t head;    /* first node, or NO_NODE */
    uint16_t tail;    /* last node */
    uint32_t frames;  /* nodes queued */
    uint64_t bytes;   /* their wire bytes */
    int64_t due_ns;   /* when the head may go, as last computed */
    uint8_t dir;      /* enum vsw_shaper_dir */
    bool active;      /* in the worker's active list */
};

/* What a worker needs once something is shaped: allocated on the control
 * thread, then the worker's alone. */
struct shaper_pool {
    unsigned n_spares;                              /* free buffers */
    struct vsw_packet *spares[VSW_SHAPER_SPARES];   /* their stack */
    struct vsw_packet *owned[VSW_SHAPER_SPARES];    /* the buffers
                                                       first made,
                                                       unused */
    struct shaper_node nodes[VSW_SHAPER_SPARES];    /* queued frames */
    uint16_t free_node;                             /* free list */
    unsigned n_active;                              /* queues with
                                                       frames */
    struct shaper_queue *active[VSW_SHAPER_SPARES]; /* those queues */
    struct shaper_queue queues[VSW_MAX_PORTS][VSW_SHAPER_N_DIRS];
};

struct vsw_shaper_worker {
    unsigned worker;                    /* index, for counters */
    _Atomic(struct shaper_pool *) pool; /* NULL until provisioned */
    int64_t next_due;                   /* earliest 'due_ns' of a queue */
    _Atomic uint64_t spares_used;       /* the pool's, for the status */
    _Atomic uint64_t no_spare;          /* frames dropped for lack of a
                                           spare buffer */
};

/* The worker's figures, for vsw_shaper_worker_usage(); written by the
 * worker only, after each call that takes or returns spares. */
static void
publish_spares(struct vsw_shaper_worker *sw, const struct shaper_pool *pool)
{
    atomic_store_explicit(&sw->spares_used, VSW_SHAPER_SPARES - pool->n_spares,
                          memory_order_relaxed);
}

/* Counts a frame over the rate that found no spare buffer to wait in. */
static void
count_no_spare(struct vsw_shaper_worker *sw, const struct shaper_pool *pool)
{
    if (pool && !pool->n_spares) {
        atomic_store_explicit(
            &sw->no_spare,
            atomic_load_explicit(&sw->no_spare, memory_order_relaxed) + 1,
            memory_order_relaxed);
    }
}

void
vsw_shaper_worker_usage(const struct vsw_shaper_worker *sw, uint64_t *used,
                        uint64_t *size, uint64_t *exhausted)
{
    *used = atomic_load_explicit(&sw->spares_used, memory_order_relaxed);
    *size = VSW_SHAPER_SPARES;
    *exhausted = atomic_load_explicit(&sw->no_spare, memory_order_relaxed);
}

uint64_t
vsw_shaper_effective_burst(uint64_t rate_bps, uint64_t burst_bytes)
{
    if (!burst_bytes) {
        burst_bytes = rate_bps / 8 * VSW_SHAPER_AUTO_BURST_NS / NS_PER_SEC;
        if (burst_bytes < VSW_SHAPER_MIN_BURST) {
            burst_bytes = VSW_SHAPER_MIN_BURST;
        }
    }
    return burst_bytes;
}

void
vsw_shaper_config_init(struct vsw_shaper_config *cfg, uint64_t rate_bps,
                       uint64_t burst_bytes)
{
    memset(cfg, 0, sizeof *cfg);
    if (!rate_bps) {
        return;
    }
    cfg->rate_bps = rate_bps;
    cfg->burst_bytes = vsw_shaper_effective_burst(rate_bps, burst_bytes);
    /* Bytes to ns: at most 2^32 bytes * 8e9 fits in 64 bits. */
    cfg->tolerance_ns =
        (uint64_t)((__uint128_t)cfg->burst_bytes * 8 * NS_PER_SEC / rate_bps);
    cfg->queue_bytes = rate_bps / 8 * VSW_SHAPER_QUEUE_NS / NS_PER_SEC;
    if (cfg->queue_bytes < cfg->burst_bytes) {
        cfg->queue_bytes = cfg->burst_bytes;
    }
}

void
vsw_shaper_state_init(struct vsw_shaper_state *st)
{
    atomic_init(&st->tat_ns, 0);
    atomic_init(&st->queued_frames, 0);
    atomic_init(&st->queued_bytes, 0);
}

void
vsw_port_rt_get_shaper_depth(const struct vsw_port_rt *rt,
                             struct vsw_shaper_depth *out)
{
    const struct vsw_shaper_state *o = &rt->shaper[VSW_SHAPER_OUT];
    const struct vsw_shaper_state *i = &rt->shaper[VSW_SHAPER_IN];

    out->out_frames =
        atomic_load_explicit(&o->queued_frames, memory_order_relaxed);
    out->out_bytes =
        atomic_load_explicit(&o->queued_bytes, memory_order_relaxed);
    out->in_frames =
        atomic_load_explicit(&i->queued_frames, memory_order_relaxed);
    out->in_bytes =
        atomic_load_explicit(&i->queued_bytes, memory_order_relaxed);
}

struct vsw_shaper_worker *
vsw_shaper_worker_create(unsigned worker)
{
    struct vsw_shaper_worker *sw = calloc(1, sizeof *sw);

    if (sw) {
        sw->worker = worker;
        sw->next_due = INT64_MAX;
        atomic_init(&sw->pool, NULL);
    }
    return sw;
}

void
vsw_shaper_worker_destroy(struct vsw_shaper_worker *sw)
{
    struct shaper_pool *pool;

    if (!sw) {
        return;
    }
    pool = atomic_load(&sw->pool);
    if (pool) {
        /* Buffers moved between the receive pool and the spares: free
         * what the spares and the queues hold now; the receive pool frees
         * its own. */
        for (unsigned i = 0; i < pool->n_spares; i++) {
            vsw_packet_destroy(pool->spares[i]);
        }
        for (unsigned a = 0; a < pool->n_active; a++) {
            struct shaper_queue *q = pool->active[a];

            for (uint16_t n = q->head; n != NO_NODE; n = pool->nodes[n].next) {
                vsw_packet_destroy(pool->nodes[n].pkt);
            }
        }
        free(pool);
    }
    free(sw);
}

int
vsw_shaper_worker_provision(struct vsw_shaper_worker *sw)
{
    struct shaper_pool *pool;

    if (atomic_load_explicit(&sw->pool, memory_order_acquire)) {
        return 0;
    }
    pool = calloc(1, sizeof *pool);
    if (!pool) {
        return -ENOMEM;
    }
    for (unsigned i = 0; i < VSW_SHAPER_SPARES; i++) {
        pool->spares[i] = vsw_packet_create();
        if (!pool->spares[i]) {
            while (i--) {
                vsw_packet_destroy(pool->spares[i]);
            }
            free(pool);
            return -ENOMEM;
        }
        pool->nodes[i].next = i + 1 < VSW_SHAPER_SPARES ? i + 1 : NO_NODE;
    }
    pool->n_spares = VSW_SHAPER_SPARES;
    pool->free_node = 0;
    for (size_t slot = 0; slot < VSW_MAX_PORTS; slot++) {
        for (int d = 0; d < VSW_SHAPER_N_DIRS; d++) {
            pool->queues[slot][d].head = NO_NODE;
        }
    }
    atomic_store_explicit(&sw->pool, pool, memory_order_release);
    return 0;
}

bool
vsw_shaper_snapshot_shapes(const struct vsw_dp_snapshot *snap)
{
    for (size_t s = 0; s < snap->n_switches; s++) {
        const struct vsw_dp_switch *dsw = snap->switches[s];

        for (size_t p = 0; p < dsw->n_ports; p++) {
            for (int d = 0; d < VSW_SHAPER_N_DIRS; d++) {
                if (dsw->ports[p]->shaper[d].rate_bps) {
                    return true;
                }
            }
        }
    }
    return false;
}

/* Wire bytes of 'pkt' leaving with 'extra' more bytes per segment (a tag
 * pushed, or fewer for one removed); its wire frames in '*segs'. */
static uint64_t
wire_bytes(const struct vsw_packet *pkt, int extra, uint32_t *segs)
{
    uint64_t bytes = pkt->len;

    *segs = 1;
    if (pkt->vnet.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
        vsw_gso_wire_size(pkt->data, pkt->len, &pkt->vnet, segs, &bytes);
    }
    return bytes + (int64_t)extra * *segs;
}

/* Takes 'bytes' of credit from 'st' at 'cfg''s rate if it has them at
 * 'now'; otherwise stores when it will have them in '*due'.  The bucket
 * holds the burst: a frame may go if, with it, the port is at most the
 * burst ahead of its rate.  A frame larger than the burst still goes
 * when the port is not ahead at all, and the next ones wait it off. */
static bool
admit(struct vsw_shaper_state *st, const struct vsw_shaper_config *cfg,
      uint64_t bytes, int64_t now, int64_t *due)
{
    uint64_t cost =
        (uint64_t)((__uint128_t)bytes * 8 * NS_PER_SEC / cfg->rate_bps);
    uint64_t tat = atomic_load_explicit(&st->tat_ns, memory_order_relaxed);

    for (;;) {
        uint64_t start = tat > (uint64_t)now ? tat : (uint64_t)now;

        if (start > (uint64_t)now &&
            start + cost - (uint64_t)now > cfg->tolerance_ns) {
            uint64_t when = start + cost - cfg->tolerance_ns;

            *due = (int64_t)(when < start ? when : start);
            return false;
        }
        if (atomic_compare_exchange_weak_explicit(
                &st->tat_ns, &tat, start + cost, memory_order_relaxed,
                memory_order_relaxed)) {
            return true;
        }
    }
}

/* The queue of 'port' in direction 'dir', emptied of frames of a port
 * that had its slot before. */
static struct shaper_queue *
queue_of(struct shaper_pool *pool, const struct vsw_dp_port *port, int dir)
{
    struct shaper_queue *q = &pool->queues[VSW_FDB_SLOT(port->id)][dir];

    if (q->port_id != port->id) {
        /* Frames of an earlier port of this slot: it is gone. */
        while (q->head != NO_NODE) {
            uint16_t n = q->head;

            q->head = pool->nodes[n].next;
            pool->spares[pool->n_spares++] = pool->nodes[n].pkt;
            pool->nodes[n].next = pool->free_node;
            pool->free_node = n;
        }
        q->frames = 0;
        q->bytes = 0;
        q->port_id = port->id;
        q->dir = (uint8_t)dir;
    }
    return q;
}

/* Appends 'pkt' of 'bytes' to 'q', which has room; the caller took a
 * spare buffer for it. */
static void
enqueue(struct vsw_shaper_worker *sw, struct shaper_pool *pool,
        struct shaper_queue *q, struct vsw_shaper_state *st,
        struct vsw_packet *pkt, uint64_t bytes, int64_t due)
{
    uint16_t n = pool->free_node;

    pool->free_node = pool->nodes[n].next;
    pool->nodes[n] = (struct shaper_node){
        .pkt = pkt, .wire_bytes = (uint32_t)bytes, .next = NO_NODE};
    if (q->head == NO_NODE) {
        q->head = n;
        q->due_ns = due;
    } else {
        pool->nodes[q->tail].next = n;
    }
    q->tail = n;
    q->frames++;
    q->bytes += bytes;
    if (!q->active) {
        q->active = true;
        pool->active[pool->n_active++] = q;
    }
    if (q->due_ns < sw->next_due) {
        sw->next_due = q->due_ns;
    }
    atomic_fetch_add_explicit(&st->queued_frames, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->queued_bytes, bytes, memory_order_relaxed);
}

/* True if 'q' has room for a frame of 'bytes' and a spare buffer is
 * free. */
static bool
has_room(const struct shaper_pool *pool, const struct shaper_queue *q,
         const struct vsw_shaper_config *cfg, uint64_t bytes)
{
    return pool && pool->n_spares && q->frames < VSW_SHAPER_QUEUE_FRAMES &&
           (!q->frames || q->bytes + bytes <= cfg->queue_bytes);
}

int
vsw_shaper_rx(struct vsw_shaper_worker *sw, const struct vsw_dp_port *port,
              struct vsw_packet **rx, int n, struct vsw_packet **pass,
              int64_t now_ns)
{
    const struct vsw_shaper_config *cfg = &port->shaper[VSW_SHAPER_OUT];
    struct vsw_shaper_state *st = &port->rt->shaper[VSW_SHAPER_OUT];
    struct shaper_pool *pool =
        atomic_load_explicit(&sw->pool, memory_order_acquire);
    struct shaper_queue *q =
        pool ? queue_of(pool, port, VSW_SHAPER_OUT) : NULL;
    int n_pass = 0;

    for (int i = 0; i < n; i++) {
        struct vsw_packet *pkt = rx[i];
        uint32_t segs;
        uint64_t bytes = wire_bytes(pkt, 0, &segs);
        int64_t due = now_ns;

        /* Behind frames already waiting, a frame waits too. */
        if ((!q || q->head == NO_NODE) &&
            admit(st, cfg, bytes, now_ns, &due)) {
            pass[n_pass++] = pkt;
            continue;
        }
        if (q && has_room(pool, q, cfg, bytes)) {
            /* The received buffer waits; a spare takes its place in the
             * worker's receive pool. */
            rx[i] = pool->spares[--pool->n_spares];
            enqueue(sw, pool, q, st, pkt, bytes, due);
            continue;
        }
        /* Never seen by the pipeline: counted as received here, in wire
         * frames like every counter. */
        count_no_spare(sw, pool);
        vsw_pipeline_count_drops(sw->worker, port->rt, VSW_DROP_QOS_QUEUE_FULL,
                                 segs, bytes);
    }
    if (pool) {
        publish_spares(sw, pool);
    }
    return n_pass;
}

void
vsw_shaper_tx(struct vsw_shaper_worker *sw, struct vsw_txq *txq,
              int64_t now_ns)
{
    const struct vsw_dp_port *port = txq->port;
    const struct vsw_shaper_config *cfg = &port->shaper[VSW_SHAPER_IN];
    struct vsw_shaper_state *st = &port->rt->shaper[VSW_SHAPER_IN];
    struct vsw_port_stats *stats = &port->rt->stats[sw->worker];
    struct shaper_pool *pool =
        atomic_load_explicit(&sw->pool, memory_order_acquire);
    struct shaper_queue *q = pool ? queue_of(pool, port, VSW_SHAPER_IN) : NULL;
    int kept = 0;

    for (int i = 0; i < txq->n; i++) {
        const struct vsw_tx_item *item = &txq->items[i];
        int extra = (int)vsw_tx_item_len(item) - (int)item->pkt->len;
        uint32_t segs;
        uint64_t bytes = wire_bytes(item->pkt, extra, &segs);
        int64_t due = now_ns;
        struct vsw_packet *copy;

        if ((!q || q->head == NO_NODE) &&
            admit(st, cfg, bytes, now_ns, &due)) {
            txq->items[kept++] = *item;
            continue;
        }
        if (!q || !has_room(pool, q, cfg, bytes)) {
            count_no_spare(sw, pool);
            vsw_pipeline_count_drop(stats, VSW_DROP_QOS_QUEUE_FULL, item->pkt);
            continue;
        }
        /* The frame as it will leave: tags applied, the checksum offset
         * moved with them; it leaves later as it is. */
        copy = pool->spares[--pool->n_spares];
        vsw_packet_reset(copy);
        /* A pushed tag may make it 4 bytes longer than any received
         * frame: start it earlier in the headroom. */
        copy->data = copy->buf + VSW_PACKET_HEADROOM / 2;
        copy->len = vsw_tx_item_copy(item, &copy->vnet, copy->data,
                                     VSW_PACKET_MAX_FRAME + 4);
        copy->in_port_id = item->pkt->in_port_id;
        enqueue(sw, pool, q, st, copy, bytes, due);
    }
    txq->n = kept;
    if (pool) {
        publish_spares(sw, pool);
    }
}

/* Takes the head of 'q' off, returning its packet. */
static struct vsw_packet *
dequeue(struct shaper_pool *pool, struct shaper_queue *q,
        struct vsw_shaper_state *st)
{
    uint16_t n = q->head;
    struct shaper_node *node = &pool->nodes[n];

    q->head = node->next;
    q->frames--;
    q->bytes -= node->wire_bytes;
    if (st) {
        atomic_fetch_sub_explicit(&st->queued_frames, 1, memory_order_relaxed);
        atomic_fetch_sub_explicit(&st->queued_bytes, node->wire_bytes,
                                  memory_order_relaxed);
    }
    node->next = pool->free_node;
    pool->free_node = n;
    return node->pkt;
}

/* Sends the 'n' released frames 'pkts' of 'port' on their way, then
 * returns their buffers to the spares. */
static void
send_released(struct shaper_pool *pool, struct vsw_pipeline *pl,
              const struct vsw_dp_snapshot *snap,
              const struct vsw_dp_port *port, int dir,
              struct vsw_packet **pkts, int n, int64_t now_ns)
{
    if (dir == VSW_SHAPER_OUT) {
        struct vsw_packet_batch batch = {.count = n};

        memcpy(batch.pkts, pkts, n * sizeof *pkts);
        vsw_pipeline_process(pl, snap, port, &batch, now_ns / 1000000);
    } else {
        vsw_pipeline_transmit(pl, port, pkts, n);
    }
    for (int i = 0; i < n; i++) {
        pool->spares[pool->n_spares++] = pkts[i];
    }
}

/* Releases what 'q' may send at 'now'.  Returns true if it is empty. */
static bool
run_queue(struct shaper_pool *pool, struct shaper_queue *q,
          struct vsw_pipeline *pl, const struct vsw_dp_snapshot *snap,
          int64_t now_ns)
{
    const struct vsw_dp_port *port = snap->by_slot[VSW_FDB_SLOT(q->port_id)];
    struct vsw_packet *pkts[VSW_BATCH_SIZE];
    int n = 0;

    if (!port || port->id != q->port_id) {
        /* The port was removed (its runtime with its counters may be
         * gone too): its frames go nowhere. */
        while (q->head != NO_NODE) {
            pool->spares[pool->n_spares++] = dequeue(pool, q, NULL);
        }
        return true;
    }
    while (q->head != NO_NODE) {
        const struct vsw_shaper_config *cfg = &port->shaper[q->dir];
        struct vsw_shaper_state *st = &port->rt->shaper[q->dir];
        int64_t due;

        /* Turned off (or lowered, raised): the current rate decides. */
        if (cfg->rate_bps &&
            !admit(st, cfg, pool->nodes[q->head].wire_bytes, now_ns, &due)) {
            q->due_ns = due;
            break;
        }
        pkts[n++] = dequeue(pool, q, st);
        if (n == VSW_BATCH_SIZE) {
            send_released(pool, pl, snap, port, q->dir, pkts, n, now_ns);
            n = 0;
        }
    }
    if (n) {
        send_released(pool, pl, snap, port, q->dir, pkts, n, now_ns);
    }
    return q->head == NO_NODE;
}

void
vsw_shaper_run(struct vsw_shaper_worker *sw, struct vsw_pipeline *pl,
               const struct vsw_dp_snapshot *snap, int64_t now_ns)
{
    struct shaper_pool *pool =
        atomic_load_explicit(&sw->pool, memory_order_relaxed);
    unsigned kept = 0;

    sw->next_due = INT64_MAX;
    if (!pool) {
        return;
    }
    /* Every queue is tried, due or not: a rate changed (or turned off)
     * since its due time was computed applies at once.  Sending a
     * released "out" frame runs the pipeline, which may queue frames "in"
     * on queues of this worker: those are appended after 'n_active' and
     * compaction only writes below 'a', so the loop sees them too. */
    for (unsigned a = 0; a < pool->n_active; a++) {
        struct shaper_queue *q = pool->active[a];

        if (run_queue(pool, q, pl, snap, now_ns)) {
            q->active = false;
            continue;
        }
        pool->active[kept++] = q;
        if (q->due_ns < sw->next_due) {
            sw->next_due = q->due_ns;
        }
    }
    pool->n_active = kept;
    publish_spares(sw, pool);
}

int64_t
vsw_shaper_next_due(const struct vsw_shaper_worker *sw)
{
    return sw->next_due;
}
