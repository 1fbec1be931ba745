#include "mirror.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datapath.h"
#include "packet.h"
#include "pipeline.h"
#include "trace.h"

const char *const vsw_mirror_role_names[] = {"none", "source", "destination",
                                             NULL};

void
vsw_dp_switch_mirrors(struct vsw_dp_switch *sw)
{
    bool has_source = false;

    sw->n_mirror_dests = 0;
    sw->mirror_all = 0;
    for (size_t i = 0; i < sw->n_ports; i++) {
        struct vsw_dp_port *port = sw->ports[i];

        if (port->mirror == VSW_MIRROR_SOURCE) {
            has_source = true;
        } else if (port->mirror == VSW_MIRROR_DESTINATION) {
            if (sw->n_mirror_dests == VSW_MIRROR_MAX_DESTINATIONS) {
                port->mirror = VSW_MIRROR_NONE;
                continue;
            }
            port->mirror_index = (uint8_t)sw->n_mirror_dests;
            sw->mirror_all |= 1u << sw->n_mirror_dests;
            sw->mirror_dests[sw->n_mirror_dests++] = port;
        }
    }
    sw->mirroring = has_source && sw->n_mirror_dests;
    if (!sw->mirroring) {
        /* Sources without a destination copy nothing: the pipeline's
         * egress hook tests the port's role alone. */
        for (size_t i = 0; i < sw->n_ports; i++) {
            if (sw->ports[i]->mirror == VSW_MIRROR_SOURCE) {
                sw->ports[i]->mirror = VSW_MIRROR_NONE;
            }
        }
    }
}

/* Queues 'item' as a copy for destination 'index' of the batch's switch,
 * 'dest'.  Each frame gives a destination at most one copy, so the queue
 * (a batch's worth) never overflows. */
static void
push_copy(struct vsw_pipeline *pl, unsigned index,
          const struct vsw_dp_port *dest, const struct vsw_tx_item *item)
{
    struct vsw_txq *txq = pl->mirror_txqs[index];

    if (!txq) {
        /* Once per destination index per worker lifetime. */
        txq = calloc(1, sizeof *txq);
        if (!txq) {
            vsw_pipeline_count_drop(&dest->rt->stats[pl->worker],
                                    VSW_DROP_TX_ERROR, item->pkt);
            return;
        }
        txq->mirror = true;
        pl->mirror_txqs[index] = txq;
    }
    if (!txq->n) {
        txq->port = dest;
        pl->mirror_pending |= 1u << index;
    }
    txq->items[txq->n++] = *item;
}

/* Queues 'item' for every destination of 'sw' that does not have its
 * frame yet; then they all have it. */
static void
copy_to_missing(struct vsw_pipeline *pl, const struct vsw_dp_switch *sw,
                const struct vsw_tx_item *item)
{
    uint32_t missing = sw->mirror_all & ~item->pkt->mirror_has;

    while (missing) {
        unsigned index = (unsigned)__builtin_ctz(missing);

        missing &= missing - 1;
        push_copy(pl, index, sw->mirror_dests[index], item);
    }
    item->pkt->mirror_has = sw->mirror_all;
}

void
vsw_mirror_ingress(struct vsw_pipeline *pl,
                   const struct vsw_packet_batch *batch)
{
    const struct vsw_dp_port *in_port = pl->in_port;
    const struct vsw_dp_switch *sw = in_port->sw;
    /* A destination never gets a copy of what it sent itself. */
    uint32_t own = in_port->mirror == VSW_MIRROR_DESTINATION
                       ? 1u << in_port->mirror_index
                       : 0;

    for (int i = 0; i < batch->count; i++) {
        batch->pkts[i]->mirror_has = own;
        batch->pkts[i]->mirror_forwarded = 0;
    }
    /* Nor a copy of a frame it gets anyway.  Decided here, before its
     * in-ACLs run: a frame they drop is one the port refused, and its
     * copy would be a frame the port's policy let through. */
    for (unsigned d = 0; d < sw->n_mirror_dests; d++) {
        const struct vsw_dp_port *dest = sw->mirror_dests[d];
        const struct vsw_txq *txq = pl->txq_by_slot[VSW_FDB_SLOT(dest->id)];

        if (!txq || !txq->n || txq->port != dest) {
            continue;
        }
        for (int k = 0; k < txq->n; k++) {
            txq->items[k].pkt->mirror_has |= 1u << d;
        }
    }
    if (in_port->mirror != VSW_MIRROR_SOURCE) {
        return;
    }
    /* What the source sent and the switch took: every frame queued for
     * some port.  Copied in the order it was sent, as it was sent. */
    for (unsigned a = 0; a < pl->n_active; a++) {
        const struct vsw_txq *txq = pl->active[a];

        for (int k = 0; k < txq->n; k++) {
            txq->items[k].pkt->mirror_forwarded = 1;
        }
    }
    for (int i = 0; i < batch->count; i++) {
        struct vsw_packet *pkt = batch->pkts[i];
        struct vsw_tx_item copy = {.pkt = pkt, .as_received = 1};

        if (pkt->mirror_forwarded) {
            copy_to_missing(pl, sw, &copy);
        }
    }
}

void
vsw_mirror_egress(struct vsw_pipeline *pl, const struct vsw_txq *txq)
{
    const struct vsw_dp_switch *sw = txq->port->sw;

    /* What the source receives, as it will receive it (its tag). */
    for (int k = 0; k < txq->n; k++) {
        if (txq->items[k].pkt->mirror_has != sw->mirror_all) {
            copy_to_missing(pl, sw, &txq->items[k]);
        }
    }
}

/* Appends the names of the destinations in 'bits' to the trace's last
 * step. */
static void
note_destinations(const struct vsw_dp_switch *sw, uint32_t bits,
                  struct vsw_trace *trace)
{
    const char *sep = "";

    while (bits) {
        unsigned index = (unsigned)__builtin_ctz(bits);

        bits &= bits - 1;
        vsw_trace_note(trace, "%s%s", sep, sw->mirror_dests[index]->name);
        sep = ", ";
    }
}

void
vsw_mirror_trace(const struct vsw_dp_snapshot *snap,
                 const struct vsw_dp_port *in_port, struct vsw_trace *trace)
{
    const struct vsw_dp_switch *sw = in_port->sw;
    const struct vsw_dp_port *source = NULL;
    uint32_t has = 0;

    if (!sw->mirroring) {
        return;
    }
    if (in_port->mirror == VSW_MIRROR_DESTINATION) {
        has |= 1u << in_port->mirror_index;
    }
    for (unsigned i = 0; i < trace->n_outputs; i++) {
        const struct vsw_trace_output *out = &trace->outputs[i];
        const struct vsw_dp_port *port =
            snap->by_slot[VSW_FDB_SLOT(out->port_id)];

        if (!port || port->id != out->port_id) {
            continue;
        }
        if (port->mirror == VSW_MIRROR_DESTINATION) {
            has |= 1u << port->mirror_index;
        } else if (port->mirror == VSW_MIRROR_SOURCE && !out->denied &&
                   !source) {
            source = port;
        }
    }
    if (in_port->mirror == VSW_MIRROR_SOURCE && trace->n_outputs) {
        source = in_port;
    }
    if (!source) {
        return;
    }
    if (!(sw->mirror_all & ~has)) {
        vsw_trace_step(trace, "mirror", "continue",
                       "no copy: every destination gets the frame itself");
        return;
    }
    vsw_trace_step(trace, "mirror", "continue", "copy %s %s to ",
                   source == in_port ? "as received from" : "as sent to",
                   source->name);
    note_destinations(sw, sw->mirror_all & ~has, trace);
}
