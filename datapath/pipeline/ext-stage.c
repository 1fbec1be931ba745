#include "ext-stage.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fdb.h"
#include "gso.h"
#include "pipeline.h"
#include "timeutil.h"
#include "trace.h"

struct vsw_ext_instance *
vsw_ext_instance_create(unsigned n_counters)
{
    struct vsw_ext_instance *inst = calloc(1, sizeof *inst);

    if (!inst) {
        return NULL;
    }
    inst->counters = aligned_alloc(64, n_counters * sizeof *inst->counters);
    if (!inst->counters) {
        free(inst);
        return NULL;
    }
    memset(inst->counters, 0, n_counters * sizeof *inst->counters);
    inst->n_counters = n_counters;
    return inst;
}

void
vsw_ext_instance_destroy(struct vsw_ext_instance *inst)
{
    if (inst) {
        free(inst->counters);
        free(inst);
    }
}

void
vsw_ext_instance_totals(const struct vsw_ext_instance *inst,
                        struct vsw_ext_totals *t)
{
    memset(t, 0, sizeof *t);
    for (unsigned i = 0; i < inst->n_counters; i++) {
        const struct vsw_ext_counters *c = &inst->counters[i];

#define SUM(FIELD)                                                            \
    t->FIELD += atomic_load_explicit(&c->FIELD, memory_order_relaxed)
        SUM(batches);
        SUM(packets);
        SUM(aborted);
        SUM(dropped);
        SUM(refused);
        SUM(errors);
        SUM(injected);
        SUM(time_ns);
#undef SUM
    }
}

/* Call records of every thread that registered one, for the watchdog. */
#define MAX_CALLS 70
static struct vsw_ext_call *_Atomic calls[MAX_CALLS];
static _Atomic unsigned n_calls;
static _Thread_local struct vsw_ext_call self_call;

struct vsw_ext_call *
vsw_ext_call_self(void)
{
    return &self_call;
}

void
vsw_ext_call_register(struct vsw_ext_call *call)
{
    unsigned i = atomic_fetch_add(&n_calls, 1);

    if (i < MAX_CALLS) {
        atomic_store(&calls[i], call);
    }
}

unsigned
vsw_ext_call_list(struct vsw_ext_call **out, unsigned max)
{
    unsigned n = atomic_load(&n_calls);

    n = n < MAX_CALLS ? n : MAX_CALLS;
    n = n < max ? n : max;
    for (unsigned i = 0; i < n; i++) {
        out[i] = atomic_load(&calls[i]);
    }
    return n;
}

/* A frame with its buffer in one allocation: headroom, then capacity. */
struct ext_frame {
    struct vsw_ext_frame pub; /* what the plugin sees */
    uint8_t *base;            /* start of the buffer (headroom) */
    uint8_t buf[];            /* headroom + capacity bytes */
};

#define FRAME_HEADROOM 64
#define FRAME_MAX      (65535 + 64)

struct vsw_ext_frame *
vsw_ext_frame_alloc(uint32_t len)
{
    struct ext_frame *f;

    if (len > FRAME_MAX) {
        return NULL;
    }
    f = calloc(1, sizeof *f + FRAME_HEADROOM + FRAME_MAX);
    if (!f) {
        return NULL;
    }
    f->base = f->buf;
    f->pub.size = sizeof f->pub;
    f->pub.data = f->buf + FRAME_HEADROOM;
    f->pub.len = len;
    f->pub.capacity = FRAME_MAX;
    f->pub.headroom = FRAME_HEADROOM;
    return &f->pub;
}

struct vsw_ext_frame *
vsw_ext_frame_clone(const struct vsw_ext_packet *pkt)
{
    struct vsw_ext_frame *f = vsw_ext_frame_alloc(pkt ? pkt->len : 0);

    if (f && pkt->len) {
        memcpy(f->data, pkt->data, pkt->len);
    }
    return f;
}

uint8_t *
vsw_ext_frame_push(struct vsw_ext_frame *f, uint32_t n)
{
    if (!f || n > f->headroom) {
        return NULL;
    }
    f->data -= n;
    f->headroom -= n;
    f->len += n;
    f->capacity += n;
    return f->data;
}

uint8_t *
vsw_ext_frame_pull(struct vsw_ext_frame *f, uint32_t n)
{
    if (!f || n > f->len) {
        return NULL;
    }
    f->data += n;
    f->headroom += n;
    f->len -= n;
    f->capacity -= n;
    return f->data;
}

void
vsw_ext_frame_free(struct vsw_ext_frame *f)
{
    free(f); /* 'pub' is the first member of struct ext_frame */
}

int
vsw_ext_add_destination(const struct vsw_ext_batch *batch, uint32_t index,
                        uint32_t port)
{
    struct vsw_ext_host_batch *hb = (struct vsw_ext_host_batch *)batch;
    const struct vsw_dp_port *dst;

    if (!batch || index >= batch->count || !hb->pl) {
        return -EINVAL;
    }
    dst = hb->pl->snap->by_slot[VSW_FDB_SLOT(port)];
    if (!dst || dst->id != port || dst->sw != hb->pl->in_port->sw ||
        dst == hb->pl->in_port) {
        return -EINVAL;
    }
    if (hb->n_dst[index] >= VSW_EXT_MAX_DESTINATIONS) {
        return -ENOSPC;
    }
    hb->dst[index][hb->n_dst[index]++] = port;
    return 0;
}

/* Fills the metadata of 'pkt' for an extension. */
static void
describe(struct vsw_ext_packet *md, const struct vsw_packet *pkt,
         uint32_t out_port, uint64_t rx_time_ns)
{
    memset(md, 0, sizeof *md);
    md->size = sizeof *md;
    md->data = pkt->data;
    md->len = pkt->len;
    md->wire_packets = 1;
    if (pkt->vnet.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
        uint64_t bytes;

        md->flags |= VSW_EXT_PKT_F_GSO;
        md->gso_size = pkt->vnet.gso_size;
        vsw_gso_wire_size(pkt->data, pkt->len, &pkt->vnet, &md->wire_packets,
                          &bytes);
    }
    if (pkt->vnet.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
        md->flags |= VSW_EXT_PKT_F_CSUM_PARTIAL;
    }
    if (pkt->injected) {
        md->flags |= VSW_EXT_PKT_F_INJECTED;
    }
    md->in_port = pkt->in_port_id;
    md->out_port = out_port;
    md->vlan = pkt->vlan;
    md->pcp = pkt->pcp;
    md->rx_time_ns = rx_time_ns;
}

/* The receive time of the batch 'hb' belongs to: one clock read per
 * batch, by the first extension that runs on it (ABI 1.1). */
static uint64_t
batch_rx_time(struct vsw_ext_host_batch *hb)
{
    if (!hb->rx_time_ns) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        hb->rx_time_ns =
            (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    }
    return hb->rx_time_ns;
}

/* Calls 'ext''s 'process' on the 'n' packets of 'pkts' and leaves its
 * verdicts in pl->ext_batch.verdicts. */
static void
call_process(struct vsw_pipeline *pl, unsigned position,
             const struct vsw_dp_ext *ext, struct vsw_packet **pkts, int n,
             uint32_t direction, uint32_t out_port)
{
    struct vsw_ext_host_batch *hb = &pl->ext_batch;
    struct vsw_ext_instance *inst = ext->inst;
    struct vsw_ext_counters *stats = &inst->counters[pl->worker];
    struct vsw_ext_call *call = vsw_ext_call_self();
    /* The main thread may be inside another extension already (an RPC
     * method that injected a frame): put that back afterwards. */
    struct vsw_ext_call outer = {
        .name = atomic_load_explicit(&call->name, memory_order_relaxed),
        .pl = call->pl,
        .inst = call->inst,
        .position = call->position,
        .stats = call->stats,
    };
    int64_t outer_since =
        atomic_load_explicit(&call->since_ns, memory_order_relaxed);
    uint64_t rx_time_ns = batch_rx_time(hb);
    int64_t start;

    for (int i = 0; i < n; i++) {
        describe(&hb->md[i], pkts[i], out_port, rx_time_ns);
        hb->md_ptrs[i] = &hb->md[i];
        hb->verdicts[i] = VSW_EXT_VERDICT_ABORTED;
        hb->n_dst[i] = 0;
    }
    hb->pub.size = sizeof hb->pub;
    hb->pub.count = (uint32_t)n;
    hb->pub.worker = pl->worker;
    hb->pub.direction = direction;
    hb->pub.pkts = hb->md_ptrs;
    hb->pub.verdicts = hb->verdicts;
    hb->pl = pl;

    atomic_store_explicit(&call->name, inst->name, memory_order_relaxed);
    call->pl = pl;
    call->inst = inst;
    call->position = position;
    call->stats = stats;
    start = vsw_time_nsec();
    atomic_store_explicit(&call->since_ns, start, memory_order_relaxed);
    inst->process(inst->ext_data, inst->sw_data, &hb->pub);
    atomic_store_explicit(&call->since_ns, outer_since, memory_order_relaxed);
    atomic_store_explicit(&call->name, outer.name, memory_order_relaxed);
    call->pl = outer.pl;
    call->inst = outer.inst;
    call->position = outer.position;
    call->stats = outer.stats;
    vsw_counter_add(&stats->time_ns, (uint64_t)(vsw_time_nsec() - start));
    vsw_counter_add(&stats->batches, 1);
    vsw_counter_add(&stats->packets, (uint64_t)n);
}

/* Calls 'ext' on the 'n' packets of 'pkts' and stores a verdict per
 * packet in 'verdicts'.  An extension that wants plain frames gets the
 * wire frames of GSO packets, in batches of their own, and the packet's
 * verdict is the first of its segments' that is not CONTINUE. */
static void
run_ext(struct vsw_pipeline *pl, unsigned position,
        const struct vsw_dp_ext *ext, struct vsw_packet **pkts, int n,
        uint32_t direction, uint32_t out_port, uint32_t verdicts[])
{
    struct vsw_packet *plain[VSW_BATCH_SIZE];
    int index[VSW_BATCH_SIZE];
    int n_plain = 0;

    if (!ext->inst->plain_frames) {
        call_process(pl, position, ext, pkts, n, direction, out_port);
        memcpy(verdicts, pl->ext_batch.verdicts, n * sizeof *verdicts);
        return;
    }
    for (int i = 0; i < n; i++) {
        struct vsw_packet *pkt = pkts[i];

        if (pkt->vnet.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
            /* A full checksum is right for every destination too. */
            if ((pkt->vnet.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
                !vsw_csum_complete(pkt->data, pkt->len, &pkt->vnet)) {
                pkt->vnet.flags &= ~VIRTIO_NET_HDR_F_NEEDS_CSUM;
            }
            plain[n_plain] = pkt;
            index[n_plain++] = i;
            continue;
        }
        verdicts[i] = VSW_EXT_VERDICT_CONTINUE;
        if (vsw_gso_segment(pkt->data, pkt->len, &pkt->vnet, pl->gso)) {
            continue; /* malformed: the tx stage counts it */
        }
        for (size_t done = 0; done < pl->gso->n;) {
            struct vsw_packet *segs[VSW_BATCH_SIZE];
            int k = 0;

            for (; k < VSW_BATCH_SIZE && done < pl->gso->n; k++, done++) {
                struct vsw_packet *seg = &pl->segments[k];

                *seg = *pkt;
                seg->data = pl->gso->buf + pl->gso->seg[done].offset;
                seg->len = pl->gso->seg[done].len;
                memset(&seg->vnet, 0, sizeof seg->vnet);
                segs[k] = seg;
            }
            call_process(pl, position, ext, segs, k, direction, out_port);
            for (int j = 0; j < k; j++) {
                if (verdicts[i] == VSW_EXT_VERDICT_CONTINUE) {
                    verdicts[i] = pl->ext_batch.verdicts[j];
                }
            }
        }
    }
    if (n_plain) {
        call_process(pl, position, ext, plain, n_plain, direction, out_port);
        for (int j = 0; j < n_plain; j++) {
            verdicts[index[j]] = pl->ext_batch.verdicts[j];
        }
    }
}

/* What the host makes of verdict 'v' of a 'ext_class' extension at
 * 'direction': VSW_STAGE_CONTINUE, a drop reason, or (forwarding only)
 * VSW_STAGE_CONSUMED for "send to the chosen destinations". */
static int
judge(struct vsw_ext_counters *stats, const struct vsw_dp_ext *ext, uint32_t v,
      uint32_t direction)
{
    uint32_t ext_class = ext->inst->ext_class;

    switch (v) {
    case VSW_EXT_VERDICT_CONTINUE:
        return VSW_STAGE_CONTINUE;
    case VSW_EXT_VERDICT_DROP:
        if (ext_class == VSW_EXT_CLASS_CAPTURE) {
            break;
        }
        vsw_counter_add(&stats->dropped, 1);
        return ext_class == VSW_EXT_CLASS_FILTER ? VSW_DROP_EXT_FILTER
                                                 : VSW_DROP_EXT_FORWARDING;
    case VSW_EXT_VERDICT_FORWARD:
        if (ext_class != VSW_EXT_CLASS_FORWARDING ||
            direction != VSW_EXT_DIR_INGRESS) {
            break;
        }
        return VSW_STAGE_CONSUMED;
    default:
        vsw_counter_add(&stats->aborted, 1);
        return ext->inst->fail_closed ? VSW_DROP_EXT_ABORTED
                                      : VSW_STAGE_CONTINUE;
    }
    /* A verdict the class may not give: refused, the packet goes on. */
    vsw_counter_add(&stats->refused, 1);
    return VSW_STAGE_CONTINUE;
}

/* True if 'ext' takes part in a stage for 'ext_class' of this batch. */
static bool
takes_part(const struct vsw_pipeline *pl, unsigned position,
           const struct vsw_dp_ext *ext, uint32_t ext_class)
{
    return ext->inst->ext_class == ext_class && position >= pl->ext_skip &&
           !(ext->tripped && !ext->inst->fail_closed);
}

void
vsw_ext_stage_ingress(struct vsw_pipeline *pl, uint32_t ext_class,
                      struct vsw_packet **pkts, int n, int verdicts[])
{
    const struct vsw_dp_switch *sw = pl->in_port->sw;
    struct vsw_packet *live[VSW_BATCH_SIZE];
    uint32_t ext_verdicts[VSW_BATCH_SIZE];
    int index[VSW_BATCH_SIZE];
    int n_live = n;

    for (int i = 0; i < n; i++) {
        verdicts[i] = VSW_STAGE_CONTINUE;
        live[i] = pkts[i];
        index[i] = i;
    }
    for (unsigned e = 0; e < sw->n_exts && n_live; e++) {
        const struct vsw_dp_ext *ext = &sw->exts[e];
        int kept = 0;

        if (!takes_part(pl, e, ext, ext_class)) {
            continue;
        }
        if (pl->trace) {
            vsw_trace_note(pl->trace, "%s%s (not run by a trace)",
                           pl->trace_ext_noted ? ", " : "", ext->inst->name);
            pl->trace_ext_noted = true;
            continue;
        }
        if (ext->tripped) {
            /* Fail closed with the breaker open: nothing passes. */
            for (int i = 0; i < n_live; i++) {
                verdicts[index[i]] = VSW_DROP_EXT_FAIL_CLOSED;
            }
            return;
        }
        run_ext(pl, e, ext, live, n_live, VSW_EXT_DIR_INGRESS, 0,
                ext_verdicts);
        for (int i = 0; i < n_live; i++) {
            int v = judge(&ext->inst->counters[pl->worker], ext,
                          ext_verdicts[i], VSW_EXT_DIR_INGRESS);

            if (v == VSW_STAGE_CONSUMED) {
                v = vsw_ext_forward(pl, live[i], pl->ext_batch.dst[i],
                                    pl->ext_batch.n_dst[i]);
            }
            if (v == VSW_STAGE_CONTINUE) {
                live[kept] = live[i];
                index[kept++] = index[i];
            } else {
                verdicts[index[i]] = v;
            }
        }
        n_live = kept;
    }
}

void
vsw_ext_stage_egress(struct vsw_pipeline *pl, struct vsw_txq *txq,
                     uint32_t ext_class)
{
    const struct vsw_dp_switch *sw = txq->port->sw;
    struct vsw_port_stats *port_stats = &txq->port->rt->stats[pl->worker];

    for (unsigned e = 0; e < sw->n_exts && txq->n; e++) {
        const struct vsw_dp_ext *ext = &sw->exts[e];
        struct vsw_packet *pkts[VSW_BATCH_SIZE];
        uint32_t ext_verdicts[VSW_BATCH_SIZE];
        int kept = 0;

        if (!takes_part(pl, e, ext, ext_class)) {
            continue;
        }
        for (int i = 0; i < txq->n; i++) {
            pkts[i] = txq->items[i].pkt;
        }
        if (!ext->tripped) {
            run_ext(pl, e, ext, pkts, txq->n, VSW_EXT_DIR_EGRESS,
                    txq->port->id, ext_verdicts);
        }
        for (int i = 0; i < txq->n; i++) {
            int v = ext->tripped ? VSW_DROP_EXT_FAIL_CLOSED
                                 : judge(&ext->inst->counters[pl->worker], ext,
                                         ext_verdicts[i], VSW_EXT_DIR_EGRESS);

            if (v >= 0) {
                vsw_pipeline_count_drop(port_stats, v, pkts[i]);
                continue;
            }
            txq->items[kept++] = txq->items[i];
        }
        txq->n = kept;
    }
}
