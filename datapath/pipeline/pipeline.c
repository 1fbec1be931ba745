#include "pipeline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conntrack.h"
#include "fdb.h"
#include "gso.h"
#include "guard.h"
#include "mirror.h"
#include "netdev-team.h"
#include "pcap-tap.h"
#include "policy.h"
#include "scheduler.h"
#include "shaper.h"
#include "timeutil.h"
#include "flow.h"
#include "trace.h"
#include "vlan.h"
#include "vxlan.h"

/* Frames on the wire for 'pkt': its segments when it is a GSO packet. */
static void
wire_size(const struct vsw_packet *pkt, uint32_t *packets, uint64_t *bytes)
{
    if (pkt->vnet.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
        *packets = 1;
        *bytes = pkt->len;
    } else {
        vsw_gso_wire_size(pkt->data, pkt->len, &pkt->vnet, packets, bytes);
    }
}

/* Counts 'pkt' as dropped for 'reason' on 'stats', in wire frames like
 * every other counter, so that frames in = delivered + dropped holds for
 * GSO packets too. */
void
vsw_pipeline_count_drop(struct vsw_port_stats *stats, int reason,
                        const struct vsw_packet *pkt)
{
    uint32_t segs;
    uint64_t len;

    wire_size(pkt, &segs, &len);
    vsw_counter_add(&stats->drops[reason], segs);
}

/* An ingress stage works on one frame at a time ('run') or, for stages
 * that call extensions, on the batch ('run_batch', with 'ext_class'). */
struct ingress_stage {
    const char *name; /* shown in docs and traces */
    int (*run)(struct vsw_pipeline *pl, struct vsw_packet *pkt);
    uint32_t ext_class; /* VSW_EXT_CLASS_* of a batch stage, else 0 */
};

static int
stage_parse(struct vsw_pipeline *pl, struct vsw_packet *pkt)
{
    (void)pl;
    if (pkt->truncated) {
        return VSW_DROP_OVERSIZE;
    }
    return vsw_flow_extract(pkt->data, pkt->len, &pkt->key)
               ? VSW_DROP_RUNT
               : VSW_STAGE_CONTINUE;
}

/* The VLAN classification 'pkt' carries. */
static struct vsw_vlan_ingress
packet_vlan(const struct vsw_packet *pkt)
{
    struct vsw_vlan_ingress cls = {
        .vlan = pkt->vlan,
        .tag_vid = pkt->tag_vid,
        .pvlan_role = pkt->pvlan_role,
        .pcp = pkt->pcp,
        .tag_len = pkt->ingress_tag_len,
    };

    return cls;
}

static int
stage_vlan_ingress(struct vsw_pipeline *pl, struct vsw_packet *pkt)
{
    struct vsw_vlan_ingress cls;
    int verdict = vsw_vlan_classify(&pl->in_port->vlan, pl->in_port->sw->pvlan,
                                    &pkt->key, &cls);

    if (verdict >= 0) {
        return verdict;
    }
    pkt->vlan = cls.vlan;
    pkt->tag_vid = cls.tag_vid;
    pkt->pvlan_role = cls.pvlan_role;
    pkt->pcp = cls.pcp;
    pkt->ingress_tag_len = cls.tag_len;
    return VSW_STAGE_CONTINUE;
}

/* Drop reasons of the guards' verdicts. */
static const uint8_t guard_drops[VSW_GUARD_N_VERDICTS] = {
    [VSW_GUARD_MAC_SPOOF] = VSW_DROP_MAC_SPOOF,
    [VSW_GUARD_TOO_MANY_VLANS] = VSW_DROP_GUARD_TOO_MANY_VLANS,
    [VSW_GUARD_IP] = VSW_DROP_IP_GUARD,
    [VSW_GUARD_DHCP] = VSW_DROP_DHCP_GUARD,
    [VSW_GUARD_DHCPV6] = VSW_DROP_DHCPV6_GUARD,
    [VSW_GUARD_RA] = VSW_DROP_ROUTER_GUARD,
    [VSW_GUARD_REDIRECT] = VSW_DROP_REDIRECT_GUARD,
    [VSW_GUARD_IPV6_CHAIN] = VSW_DROP_IPV6_CHAIN,
    [VSW_GUARD_IPV6_UNKNOWN_NH] = VSW_DROP_IPV6_UNKNOWN_NH,
    [VSW_GUARD_ND_FRAGMENT] = VSW_DROP_ND_FRAGMENT,
    [VSW_GUARD_STORM] = VSW_DROP_STORM,
    [VSW_GUARD_FRAG_OVERLAP] = VSW_DROP_FRAG_OVERLAP,
};

/* True if 'key' is UDP to or from a DHCP or DHCPv6 port. */
static bool
is_dhcp(const struct vsw_flow_key *key)
{
    if (key->ip_proto != 17) {
        return false;
    }
    for (int i = 0; i < 2; i++) {
        uint16_t port = i ? key->tp_src : key->tp_dst;

        if (port == 67 || port == 68 || port == 546 || port == 547) {
            return true;
        }
    }
    return false;
}

/* Ingress stage "guard": the port's guards, on what the VM sends. */
static int
stage_guard(struct vsw_pipeline *pl, struct vsw_packet *pkt)
{
    const struct vsw_port_policy *policy = pl->in_port->policy;
    enum vsw_guard_verdict verdict;

    if (!policy) {
        /* The default: no 802.1p priority from a VM (FEATURES.md §4); an
         * uplink's priorities are the physical network's. */
        if (vsw_netdev_is_tap(pl->in_port->rt->netdev)) {
            pkt->pcp = 0;
        }
        return VSW_STAGE_CONTINUE;
    }
    /* Guards read what the flow key leaves out: a fragment's verdict
     * depends on what they remember of its datagram, a DHCP message's on
     * its payload. */
    if ((pkt->key.flags & VSW_FLOW_F_FRAGMENT) || is_dhcp(&pkt->key)) {
        pkt->no_cache = 1;
    }
    /* A trace works on a copy of what the guards remember, so it never
     * changes how the port's real fragments are judged. */
    verdict = vsw_guard_check_out(&policy->guard,
                                  pl->trace ? &pl->trace_guard_state
                                            : pl->in_port->rt->guard_state,
                                  &pkt->key, pkt->data, pkt->len);
    if (verdict != VSW_GUARD_OK) {
        return guard_drops[verdict];
    }
    pkt->pcp = vsw_guard_pcp(&policy->guard, pkt->pcp);
    if (pl->trace) {
        vsw_trace_note(pl->trace, "passed; priority %u", pkt->pcp);
    }
    return VSW_STAGE_CONTINUE;
}

/* Counts a frame of 'segs' wire frames and 'len' bytes on rule 'id' of
 * 'counters' (a dense id or index; a NULL entry: no counters), and notes
 * the counters in 'memo' (if any) so that a cache hit counts there too. */
static void
count_rule(struct vsw_pipeline *pl, struct vsw_flow_cache_policy *memo,
           struct vsw_rule_counters **counters, size_t n, uint32_t id,
           uint32_t segs, uint64_t len)
{
    if (pl->trace || id >= n || !counters[id]) {
        return;
    }
    vsw_rule_counters_add(counters[id], pl->worker, segs, len);
    if (memo && memo->n_rules < VSW_FLOW_CACHE_MAX_RULES) {
        memo->rules[memo->n_rules++] = counters[id];
    }
}

/* Notes in 'memo' how the extended ACL verdict 'xres' depends on flow
 * state; a frame whose verdict cannot be cached gets 'no_cache'. */
static void
memo_flow_state(struct vsw_flow_cache_policy *memo,
                const struct vsw_xacl_result *xres, struct vsw_packet *pkt)
{
    if (xres->by_state) {
        memo->ct_check = VSW_FLOW_CACHE_CT_FLOW;
    } else if (xres->state_created || xres->state_error) {
        /* The frame that makes a flow (or failed to) is never cached:
         * the next one finds the flow, or tries again. */
        pkt->no_cache = 1;
    }
}

/* The ACLs of 'port' on 'pkt' travelling 'direction' (xacl.h and acl.h
 * values agree): extended rules first, then the basic ones (FEATURES.md
 * §2).  Returns VSW_STAGE_CONTINUE or the drop reason.  'memo' (NULL:
 * none) gets the counters the frame touched and how its verdict depends on
 * flow state, for the flow cache. */
static int
apply_acls(struct vsw_pipeline *pl, const struct vsw_dp_port *port,
           uint8_t direction, struct vsw_packet *pkt,
           struct vsw_flow_cache_policy *memo)
{
    const struct vsw_port_policy *policy = port->policy;
    struct vsw_conntrack *ct = pl->trace ? NULL : pl->snap->conntrack;
    struct vsw_xacl_result xres;
    struct vsw_acl_result res;
    enum vsw_xacl_verdict xverdict;
    uint32_t segs;
    uint64_t len;

    if (!policy || (!policy->xacl && !policy->acl)) {
        return VSW_STAGE_CONTINUE;
    }
    if (memo) {
        memo->n_rules = 0;
        memo->ct_check = VSW_FLOW_CACHE_CT_NONE;
        /* Read before the verdict: see xacl.h, "Caching verdicts". */
        if (ct && vsw_xacl_has_stateful(policy->xacl)) {
            memo->ct_check = VSW_FLOW_CACHE_CT_GENERATION;
            memo->ct_gen = vsw_conntrack_generation(ct);
        }
    }
    wire_size(pkt, &segs, &len);
    xverdict = vsw_xacl_evaluate(policy->xacl, ct, port->id, direction,
                                 pkt->vlan, &pkt->key, pl->now_ms, &xres);
    if (memo) {
        memo_flow_state(memo, &xres, pkt);
    }
    if (xres.rule_index != VSW_XACL_NO_RULE) {
        count_rule(pl, memo, policy->xacl_counters, policy->n_xacl_counters,
                   xres.rule_index, segs, len);
    }
    if (pl->trace && policy->xacl) {
        vsw_trace_note(pl->trace, "extended: %s%s",
                       vsw_xacl_verdict_to_string(xverdict),
                       xres.by_state ? " (flow state)" : "");
        if (xres.rule_index != VSW_XACL_NO_RULE) {
            vsw_trace_note(pl->trace, " by weight %u", xres.weight);
        }
    }
    if (xverdict == VSW_XACL_DENY) {
        return VSW_DROP_XACL_DENY;
    }
    if (xverdict == VSW_XACL_ALLOW) {
        return VSW_STAGE_CONTINUE;
    }
    vsw_acl_classify(policy->acl, direction, &pkt->key, &res);
    count_rule(pl, memo, policy->acl_counters, policy->n_acl_counters,
               res.ip_rule, segs, len);
    if (res.mac_rule != res.ip_rule) {
        count_rule(pl, memo, policy->acl_counters, policy->n_acl_counters,
                   res.mac_rule, segs, len);
    }
    if (res.meter_rule != res.ip_rule && res.meter_rule != res.mac_rule) {
        count_rule(pl, memo, policy->acl_counters, policy->n_acl_counters,
                   res.meter_rule, segs, len);
    }
    if (pl->trace && policy->acl) {
        char text[128];

        vsw_port_policy_acl_user_ids(policy, &res);
        vsw_trace_note(pl->trace, "%sbasic: %s", policy->xacl ? "; " : "",
                       vsw_acl_result_format(&res, text, sizeof text));
    }
    return res.deny ? VSW_DROP_ACL_DENY : VSW_STAGE_CONTINUE;
}

/* Ingress stage "acl-out": the port's ACLs, direction out. */
static int
stage_acl_out(struct vsw_pipeline *pl, struct vsw_packet *pkt)
{
    return apply_acls(pl, pl->in_port, VSW_ACL_DIR_OUT, pkt, pl->acl_memo);
}

static int
stage_learn(struct vsw_pipeline *pl, struct vsw_packet *pkt)
{
    const uint8_t *src = pkt->key.eth_src;

    /* A multicast source is no station at all: the Linux bridge drops
     * such frames too, and learning them would poison the table. */
    if (vsw_eth_addr_is_multicast(src) || vsw_eth_addr_is_zero(src)) {
        return VSW_DROP_INVALID_SRC_MAC;
    }
    if (pl->trace) {
        vsw_trace_note(pl->trace,
                       "source MAC would be learned on VLAN %u, port %s",
                       pkt->vlan, pl->in_port->name);
        return VSW_STAGE_CONTINUE;
    }
    vsw_fdb_learn_vni(pl->in_port->sw->fdb, pkt->vni, pkt->vlan, src,
                      pl->in_port->id, pl->in_port->mac_limit, pl->now_ms);
    return VSW_STAGE_CONTINUE;
}

void
vsw_pipeline_txq_push(struct vsw_pipeline *pl, const struct vsw_dp_port *port,
                      struct vsw_packet *pkt)
{
    uint32_t slot = VSW_FDB_SLOT(port->id);
    struct vsw_txq *txq = pl->txq_by_slot[slot];

    if (pl->trace) {
        struct vsw_trace *trace = pl->trace;

        if (trace->n_outputs < VSW_TRACE_MAX_OUTPUTS) {
            trace->outputs[trace->n_outputs++].port_id = port->id;
        }
        return;
    }

    if (!txq) {
        /* Once per destination per worker lifetime, not per packet. */
        txq = calloc(1, sizeof *txq);
        if (!txq) {
            vsw_pipeline_count_drop(&port->rt->stats[pl->worker],
                                    VSW_DROP_TX_ERROR, pkt);
            return;
        }
        pl->txq_by_slot[slot] = txq;
    }
    if (!txq->n) {
        txq->port = port;
        pl->active[pl->n_active++] = txq;
    }
    txq->items[txq->n++] = (struct vsw_tx_item){.pkt = pkt};
}

/* The port 'pkt' should go to according to the MAC table, or NULL when
 * it has to be flooded.  The caller checks that the port may take it. */
static const struct vsw_dp_port *
lookup_destination(struct vsw_pipeline *pl, const struct vsw_packet *pkt)
{
    const struct vsw_dp_switch *sw = pl->in_port->sw;
    const struct vsw_dp_port *port;
    uint32_t id;

    if (vsw_eth_addr_is_multicast(pkt->key.eth_dst)) {
        return NULL;
    }
    id = vsw_fdb_lookup_vni(sw->fdb, pkt->vni, pkt->vlan, pkt->key.eth_dst,
                            pl->now_ms);
    if (id == VSW_FDB_NO_PORT) {
        return NULL;
    }
    /* An entry may name a port that has just been removed or whose VLAN
     * changed; such a destination is as good as unknown. */
    port = pl->snap->by_slot[VSW_FDB_SLOT(id)];
    if (!port || port->id != id || port->sw != sw) {
        return NULL;
    }
    return port;
}

static int
stage_forward(struct vsw_pipeline *pl, struct vsw_packet *pkt)
{
    const struct vsw_dp_switch *sw = pl->in_port->sw;
    const struct vsw_dp_port *dst = lookup_destination(pl, pkt);
    struct vsw_vlan_ingress cls = packet_vlan(pkt);
    unsigned n_out = 0;

    if (pl->trace) {
        vsw_trace_note(pl->trace, "%s",
                       vsw_eth_addr_is_multicast(pkt->key.eth_dst)
                           ? "multicast or broadcast destination"
                       : dst ? "destination MAC learned on port "
                             : "destination MAC unknown");
        if (dst && !vsw_eth_addr_is_multicast(pkt->key.eth_dst)) {
            vsw_trace_note(pl->trace, "%s", dst->name);
        }
    }
    if (dst && dst == pl->in_port) {
        return VSW_DROP_HAIRPIN;
    }
    if (dst && vsw_vxlan_port_takes(dst, pkt->vni) &&
        vsw_vlan_admits(&dst->vlan, &cls)) {
        vsw_pipeline_txq_push(pl, dst, pkt);
        pkt->out_port_id = dst->id;
        return VSW_STAGE_CONSUMED;
    }
    if (dst && cls.pvlan_role != VSW_PVLAN_NONE) {
        /* A known station the private VLAN keeps this frame from. */
        return VSW_DROP_PVLAN;
    }
    /* Broadcast, multicast and unknown unicast count against the storm
     * limit of the port that sends them.  The verdict depends on the rate,
     * not the flow: never cached. */
    if (pl->in_port->policy && pl->in_port->policy->guard.storm_limit_pps &&
        !pl->trace) {
        pkt->no_cache = 1;
        if (vsw_guard_check_storm(
                &pl->in_port->policy->guard, pl->in_port->rt->guard_state,
                &pkt->key, false, (uint64_t)vsw_time_nsec()) != VSW_GUARD_OK) {
            return VSW_DROP_STORM;
        }
    }
    /* Unknown, or learned on a port whose VLAN has since changed. */
    for (size_t i = 0; i < sw->n_ports; i++) {
        const struct vsw_dp_port *port = sw->ports[i];

        if (port != pl->in_port && port->flood &&
            vsw_vxlan_port_takes(port, pkt->vni) &&
            vsw_vlan_admits(&port->vlan, &cls)) {
            vsw_pipeline_txq_push(pl, port, pkt);
            n_out++;
        }
    }
    if (pl->trace) {
        vsw_trace_note(pl->trace, "; flooded to %u port%s of VLAN %u", n_out,
                       n_out == 1 ? "" : "s", pkt->vlan);
    }
    if (n_out) {
        return VSW_STAGE_CONSUMED;
    }
    return cls.pvlan_role != VSW_PVLAN_NONE ? VSW_DROP_PVLAN
                                            : VSW_DROP_NO_EGRESS_PORT;
}

/* The ingress stages in their order; a cache entry records the one that
 * decided, so that a hit knows which extension stages came before. */
enum ingress_stage_index {
    STAGE_PARSE,
    STAGE_VLAN_INGRESS,
    STAGE_EXT_CAPTURE,
    STAGE_EXT_FILTER,
    STAGE_GUARD,
    STAGE_ACL_OUT,
    STAGE_LEARN,
    STAGE_EXT_FORWARDING,
    STAGE_FORWARD,
    N_INGRESS_STAGES
};

static const struct ingress_stage ingress_stages[N_INGRESS_STAGES] = {
    [STAGE_PARSE] = {"parse", stage_parse, 0},
    [STAGE_VLAN_INGRESS] = {"vlan-ingress", stage_vlan_ingress, 0},
    [STAGE_EXT_CAPTURE] = {"ext-capture", NULL, VSW_EXT_CLASS_CAPTURE},
    [STAGE_EXT_FILTER] = {"ext-filter", NULL, VSW_EXT_CLASS_FILTER},
    [STAGE_GUARD] = {"guard", stage_guard, 0},
    [STAGE_ACL_OUT] = {"acl-out", stage_acl_out, 0},
    [STAGE_LEARN] = {"learn", stage_learn, 0},
    [STAGE_EXT_FORWARDING] = {"ext-forwarding", NULL,
                              VSW_EXT_CLASS_FORWARDING},
    [STAGE_FORWARD] = {"forward", stage_forward, 0},
};

/* Runs stage 's' on one frame (traces). */
static int
run_one(struct vsw_pipeline *pl, const struct ingress_stage *s,
        struct vsw_packet *pkt)
{
    int verdict;

    if (s->run) {
        return s->run(pl, pkt);
    }
    vsw_ext_stage_ingress(pl, s->ext_class, &pkt, 1, &verdict);
    return verdict;
}

int
vsw_ext_forward(struct vsw_pipeline *pl, struct vsw_packet *pkt,
                const uint32_t *dst, unsigned n)
{
    struct vsw_vlan_ingress cls = packet_vlan(pkt);
    unsigned n_out = 0;

    for (unsigned i = 0; i < n; i++) {
        const struct vsw_dp_port *port =
            pl->snap->by_slot[VSW_FDB_SLOT(dst[i])];

        /* The built-in policy still holds: a destination outside the
         * frame's VLAN or private VLAN reach does not get it. */
        if (port && port->id == dst[i] &&
            vsw_vxlan_port_takes(port, pkt->vni) &&
            vsw_vlan_admits(&port->vlan, &cls)) {
            vsw_pipeline_txq_push(pl, port, pkt);
            n_out++;
        }
    }
    return n_out ? VSW_STAGE_CONSUMED : VSW_DROP_EXT_NO_DESTINATION;
}

/* Egress stage "acl-in": the destination port's ACLs, direction in.
 * Frames they deny are counted on the destination and leave the tx
 * queue. */
static void
stage_acl_in(struct vsw_pipeline *pl, struct vsw_txq *txq)
{
    const struct vsw_port_policy *policy = txq->port->policy;
    int kept = 0;

    if (!policy || (!policy->acl && !policy->xacl)) {
        return;
    }
    for (int i = 0; i < txq->n; i++) {
        struct vsw_packet *pkt = txq->items[i].pkt;
        /* A flow cache entry (or its filling) may have judged it. */
        int verdict =
            pkt->acl_in_judged
                ? pkt->acl_in_verdict
                : apply_acls(pl, txq->port, VSW_ACL_DIR_IN, pkt, NULL);

        if (verdict >= 0) {
            vsw_pipeline_count_drop(&txq->port->rt->stats[pl->worker], verdict,
                                    pkt);
            continue;
        }
        txq->items[kept++] = txq->items[i];
    }
    txq->n = kept;
}

/* Egress stage "vlan-egress": the tag each frame leaves 'port' with. */
static void
stage_vlan_egress(struct vsw_txq *txq)
{
    const struct vsw_vlan_config *vlan = &txq->port->vlan;

    for (int i = 0; i < txq->n; i++) {
        struct vsw_tx_item *item = &txq->items[i];
        const struct vsw_packet *pkt = item->pkt;

        struct vsw_vlan_ingress cls = packet_vlan(pkt);

        item->push_tag = vsw_vlan_egress_tagged(vlan, &cls);
        item->tci = (uint16_t)(pkt->pcp << 13 | pkt->tag_vid);
    }
}

/* Hands 'n' items of 'items' to the port's device; returns how many it
 * took (in '*packets' and '*bytes' their wire frames and bytes) and
 * counts a drop for each refusal. */
static int
tx_to_netdev(struct vsw_pipeline *pl, struct vsw_txq *txq,
             const struct vsw_tx_item *items, int n, uint64_t *packets,
             uint64_t *bytes)
{
    struct vsw_port_stats *stats = &txq->port->rt->stats[pl->worker];
    struct vsw_netdev *netdev = txq->port->rt->netdev;
    int error;
    int sent;

    /* A tunnel port encapsulates: its destinations are remote VTEPs, and
     * it counts what it sends and drops itself. */
    if (txq->port->tunnel) {
        return vsw_vxlan_tx(pl, txq->port, items, n, packets, bytes);
    }
    sent = txq->port->team
               ? vsw_team_tx(txq->port->team, pl->worker % netdev->n_queues,
                             items, n, &error)
               : vsw_netdev_tx(netdev, pl->worker % netdev->n_queues, items, n,
                               &error);

    for (int i = 0; i < sent; i++) {
        int delta = (int)vsw_tx_item_len(&items[i]) - (int)items[i].pkt->len;
        uint32_t segs;
        uint64_t len;

        wire_size(items[i].pkt, &segs, &len);
        *packets += segs;
        *bytes += len + (int64_t)delta * segs;
    }
    for (int i = sent; i < n; i++) {
        /* A TAP whose interface the VM has taken down refuses frames
         * with EIO; that is the VM's choice, not a switch failure. */
        vsw_pipeline_count_drop(
            stats, error == EIO ? VSW_DROP_PORT_DOWN : VSW_DROP_TX_ERROR,
            items[i].pkt);
    }
    return sent;
}

/* Sends 'n' items of 'items' through 'txq''s port and counts the result:
 * wire packets and bytes for what went out, a drop for each refusal.  A
 * scheduled uplink's frames go to its scheduler (qos/scheduler.c), which
 * sends them at the link's speed: queued counts as sent. */
static void
tx_items(struct vsw_pipeline *pl, struct vsw_txq *txq,
         const struct vsw_tx_item *items, int n)
{
    struct vsw_port_stats *stats = &txq->port->rt->stats[pl->worker];
    uint64_t packets = 0;
    uint64_t bytes = 0;
    int taken;

    if (txq->port->sched) {
        struct vsw_sched_result r;

        if (txq->port->team) {
            /* A team: each frame queued for the member it will leave on
             * (netdev-team.c). */
            vsw_counter_add(&stats->drops[VSW_DROP_TX_ERROR],
                            vsw_team_sched_enqueue(
                                txq->port->team, txq->port->sched, pl->snap,
                                pl->worker % txq->port->rt->netdev->n_queues,
                                items, n, &r));
        } else {
            vsw_sched_enqueue(txq->port->sched, pl->snap, items, n, &r);
        }
        vsw_counter_add(&stats->drops[VSW_DROP_QOS_SCHED_FULL], r.dropped);
        packets = r.packets;
        bytes = r.bytes;
        taken = n;
    } else {
        taken = tx_to_netdev(pl, txq, items, n, &packets, &bytes);
    }
    /* Capture sessions: what the port took, as it left. */
    if (txq->port->pcap && taken > 0) {
        vsw_pcap_tap_tx(txq->port->pcap, pl->worker, txq->port->id, items,
                        taken, pl->pcap_linear);
    }
    vsw_counter_add(&stats->tx_packets, packets);
    vsw_counter_add(&stats->tx_bytes, bytes);
    if (txq->mirror) {
        vsw_counter_add(&stats->mirror_tx_packets, packets);
        vsw_counter_add(&stats->mirror_tx_bytes, bytes);
    }
}

/* Sends a GSO packet through a port without offloads: as the wire frames
 * it stands for, segmented and checksummed in software. */
static void
tx_segmented(struct vsw_pipeline *pl, struct vsw_txq *txq,
             const struct vsw_tx_item *item)
{
    const struct vsw_packet *pkt = item->pkt;
    struct vsw_gso_out *out = pl->gso;
    struct vsw_tx_item items[VSW_BATCH_SIZE];

    if (vsw_gso_segment(pkt->data, pkt->len, &pkt->vnet, out)) {
        vsw_pipeline_count_drop(&txq->port->rt->stats[pl->worker],
                                VSW_DROP_SEGMENTATION, pkt);
        return;
    }
    for (size_t done = 0; done < out->n;) {
        int n = 0;

        for (; n < VSW_BATCH_SIZE && done < out->n; n++, done++) {
            struct vsw_packet *seg = &pl->segments[n];

            seg->data = out->buf + out->seg[done].offset;
            seg->len = out->seg[done].len;
            seg->ingress_tag_len = pkt->ingress_tag_len;
            seg->vni = pkt->vni; /* a tunnel encapsulates by it */
            memset(&seg->vnet, 0, sizeof seg->vnet);
            items[n] = *item;
            items[n].pkt = seg;
        }
        tx_items(pl, txq, items, n);
    }
}

/* Egress stage "tx".  A port without offloads gets plain frames: GSO
 * packets segmented, partial checksums completed. */
static void
stage_tx(struct vsw_pipeline *pl, struct vsw_txq *txq)
{
    struct vsw_netdev *netdev = txq->port->rt->netdev;
    int kept = 0;

    if (netdev->offloads) {
        tx_items(pl, txq, txq->items, txq->n);
        return;
    }
    for (int i = 0; i < txq->n; i++) {
        struct vsw_packet *pkt = txq->items[i].pkt;

        if (pkt->vnet.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
            tx_segmented(pl, txq, &txq->items[i]);
            continue;
        }
        /* Completing in place is right for every destination of a
         * flooded frame: a full checksum is valid everywhere. */
        if (vsw_csum_complete(pkt->data, pkt->len, &pkt->vnet)) {
            vsw_pipeline_count_drop(&txq->port->rt->stats[pl->worker],
                                    VSW_DROP_SEGMENTATION, pkt);
            continue;
        }
        txq->items[kept++] = txq->items[i];
    }
    tx_items(pl, txq, txq->items, kept);
}

/* Mirroring: sends the copies the batch queued (mirror.c), after its
 * normal frames. */
static void
flush_mirror_copies(struct vsw_pipeline *pl)
{
    while (pl->mirror_pending) {
        unsigned index = (unsigned)__builtin_ctz(pl->mirror_pending);
        struct vsw_txq *txq = pl->mirror_txqs[index];

        pl->mirror_pending &= pl->mirror_pending - 1;
        stage_tx(pl, txq);
        txq->n = 0;
    }
}

static void
flush_egress(struct vsw_pipeline *pl)
{
    for (unsigned i = 0; i < pl->n_active; i++) {
        struct vsw_txq *txq = pl->active[i];

        stage_acl_in(pl, txq);
        if (txq->port->sw->n_exts) {
            vsw_ext_stage_egress(pl, txq, VSW_EXT_CLASS_FILTER);
            vsw_ext_stage_egress(pl, txq, VSW_EXT_CLASS_CAPTURE);
        }
        stage_vlan_egress(txq);
        /* Mirroring: what a source receives (a role only mirroring
         * switches' ports have), before its shaper delays any of it. */
        if (txq->port->mirror == VSW_MIRROR_SOURCE) {
            vsw_mirror_egress(pl, txq);
        }
        /* QoS hook: max-bandwidth-in shapes what leaves (shaper.c). */
        if (txq->port->shaper[VSW_SHAPER_IN].rate_bps && pl->shaper) {
            vsw_shaper_tx(pl->shaper, txq, vsw_time_nsec());
        }
        stage_tx(pl, txq);
        txq->n = 0;
    }
    pl->n_active = 0;
    if (pl->mirror_pending) {
        flush_mirror_copies(pl);
    }
}

void
vsw_pipeline_transmit(struct vsw_pipeline *pl, const struct vsw_dp_port *port,
                      struct vsw_packet **pkts, int n)
{
    struct vsw_txq txq = {.port = port, .n = n};

    for (int i = 0; i < n; i++) {
        txq.items[i] = (struct vsw_tx_item){.pkt = pkts[i]};
    }
    stage_tx(pl, &txq);
}

/* Whether the flow state that the cached ACL verdict 'policy' of port
 * 'port_id' relied on is still as it was for 'pkt' in 'vlan'. */
static bool
flow_state_holds(struct vsw_pipeline *pl,
                 const struct vsw_flow_cache_policy *policy, uint32_t port_id,
                 uint16_t vlan, const struct vsw_packet *pkt)
{
    struct vsw_conntrack *ct = pl->snap->conntrack;

    switch (policy->ct_check) {
    case VSW_FLOW_CACHE_CT_FLOW:
        return ct &&
               vsw_conntrack_lookup(ct, port_id, vlan, &pkt->key, pl->now_ms);
    case VSW_FLOW_CACHE_CT_GENERATION:
        return ct && vsw_conntrack_generation(ct) == policy->ct_gen;
    default:
        return true;
    }
}

/* Adds 'pkt' to the rule counters of 'policy'. */
static void
count_cached_rules(struct vsw_pipeline *pl,
                   const struct vsw_flow_cache_policy *policy,
                   const struct vsw_packet *pkt)
{
    uint32_t segs;
    uint64_t len;

    if (!policy->n_rules) {
        return;
    }
    wire_size(pkt, &segs, &len);
    for (unsigned i = 0; i < policy->n_rules; i++) {
        vsw_rule_counters_add(policy->rules[i], pl->worker, segs, len);
    }
}

/* Whether the cached decision 'e' still holds for 'pkt': its destination
 * is still in the snapshot, and the flow state its ACL verdict depends on
 * is unchanged.  A flow that admitted the frame is looked up, which
 * restarts its idle timer as the ACL stage would.  If not, the frame must
 * go through the stages. */
static bool
cached_usable(struct vsw_pipeline *pl, const struct vsw_flow_cache_entry *e,
              const struct vsw_packet *pkt)
{
    const struct vsw_flow_cache_action *action = &e->action;

    if (action->drop_reason < 0) {
        const struct vsw_dp_port *dst =
            pl->snap->by_slot[VSW_FDB_SLOT(action->out_port_id)];

        if (!dst || dst->id != action->out_port_id) {
            return false;
        }
    }
    return flow_state_holds(pl, &action->policy, pl->in_port->id, action->vlan,
                            pkt) &&
           (!action->in_judged ||
            flow_state_holds(pl, &action->policy_in, action->out_port_id,
                             action->vlan, pkt));
}

/* The cached classification of 'e' on 'pkt', as "vlan-ingress" and
 * "guard" would have left it. */
static void
cached_classify(const struct vsw_flow_cache_entry *e, struct vsw_packet *pkt)
{
    pkt->vlan = e->action.vlan;
    pkt->tag_vid = e->action.tag_vid;
    pkt->pvlan_role = e->action.pvlan_role;
    pkt->pcp = e->action.pcp;
    pkt->ingress_tag_len = e->action.tag_len;
}

/* What "acl-out" and "learn" did to the flow's frames, done for 'pkt':
 * its wire frames and bytes on each rule counter the verdict touched, and
 * its source MAC kept from ageing out. */
static void
cached_effects(struct vsw_pipeline *pl, struct vsw_flow_cache_entry *e,
               const struct vsw_packet *pkt)
{
    count_cached_rules(pl, &e->action.policy, pkt);
    /* Once a second is plenty. */
    if (e->action.drop_reason < 0 && pl->now_ms - e->learned_ms >= 1000) {
        vsw_fdb_learn_vni(pl->in_port->sw->fdb, pkt->vni, pkt->vlan,
                          pkt->key.eth_src, pl->in_port->id,
                          pl->in_port->mac_limit, pl->now_ms);
        e->learned_ms = pl->now_ms;
    }
}

/* The cached verdict of 'e' on 'pkt': a drop counted on 'stats', or its
 * destination's tx queue (cached_usable() checked that it is there) with
 * the verdict of the destination's ACLs, which "acl-in" then applies. */
static void
cached_finish(struct vsw_pipeline *pl, struct vsw_port_stats *stats,
              const struct vsw_flow_cache_entry *e, struct vsw_packet *pkt)
{
    const struct vsw_flow_cache_action *action = &e->action;

    if (action->drop_reason >= 0) {
        vsw_pipeline_count_drop(stats, action->drop_reason, pkt);
        return;
    }
    if (action->in_judged) {
        count_cached_rules(pl, &action->policy_in, pkt);
        pkt->acl_in_judged = 1;
        pkt->acl_in_verdict = action->in_verdict;
    }
    vsw_pipeline_txq_push(
        pl, pl->snap->by_slot[VSW_FDB_SLOT(action->out_port_id)], pkt);
}

/* A frame whose flow the cache knows. */
struct cache_hit {
    struct vsw_packet *pkt;
    struct vsw_flow_cache_entry *entry;
};

/* Runs the extension stage 'stage' on the 'n' hits of 'hits' that
 * reached it before their cached verdict, and keeps in 'hits' those it
 * let through (and those it does not concern).  Returns how many are
 * left. */
static int
hits_run_ext_stage(struct vsw_pipeline *pl, struct vsw_port_stats *stats,
                   struct cache_hit *hits, int n, unsigned stage)
{
    struct vsw_packet *pkts[VSW_BATCH_SIZE];
    int verdicts[VSW_BATCH_SIZE];
    int position[VSW_BATCH_SIZE];
    int n_pkts = 0;
    int kept = 0;

    for (int i = 0; i < n; i++) {
        if (hits[i].entry->action.stage > stage) {
            position[n_pkts] = i;
            pkts[n_pkts++] = hits[i].pkt;
        }
    }
    if (!n_pkts) {
        return n;
    }
    vsw_ext_stage_ingress(pl, ingress_stages[stage].ext_class, pkts, n_pkts,
                          verdicts);
    for (int j = 0; j < n_pkts; j++) {
        if (verdicts[j] != VSW_STAGE_CONTINUE) {
            if (verdicts[j] >= 0) {
                vsw_pipeline_count_drop(stats, verdicts[j], pkts[j]);
            }
            hits[position[j]].pkt = NULL;
        }
    }
    for (int i = 0; i < n; i++) {
        if (hits[i].pkt) {
            hits[kept++] = hits[i];
        }
    }
    return kept;
}

/* Takes the cached decisions of 'hits'.  On a switch with extensions the
 * frames still go through the extension stages that came before the
 * stage that decided, in order, and an extension's drop or choice wins;
 * only the built-in stages are skipped. */
static void
take_hits(struct vsw_pipeline *pl, struct vsw_port_stats *stats,
          struct cache_hit *hits, int n)
{
    if (!pl->in_port->sw->n_exts) {
        for (int i = 0; i < n; i++) {
            cached_classify(hits[i].entry, hits[i].pkt);
            cached_effects(pl, hits[i].entry, hits[i].pkt);
            cached_finish(pl, stats, hits[i].entry, hits[i].pkt);
        }
        return;
    }
    for (int i = 0; i < n; i++) {
        cached_classify(hits[i].entry, hits[i].pkt);
    }
    n = hits_run_ext_stage(pl, stats, hits, n, STAGE_EXT_CAPTURE);
    n = hits_run_ext_stage(pl, stats, hits, n, STAGE_EXT_FILTER);
    for (int i = 0; i < n; i++) {
        cached_effects(pl, hits[i].entry, hits[i].pkt);
    }
    n = hits_run_ext_stage(pl, stats, hits, n, STAGE_EXT_FORWARDING);
    for (int i = 0; i < n; i++) {
        cached_finish(pl, stats, hits[i].entry, hits[i].pkt);
    }
}

/* Runs the ingress stages after "parse" over 'batch'.  Each frame's
 * verdict lands in 'verdicts', the stage that gave it in 'stages', and
 * what "acl-out" touched in 'memos' (all by position in the batch as
 * given; 'memos' zeroed by the caller). */
static void
run_stages(struct vsw_pipeline *pl, struct vsw_port_stats *stats,
           struct vsw_packet_batch *batch, int verdicts[], uint8_t stages[],
           struct vsw_flow_cache_policy memos[])
{
    struct vsw_packet *pkts[VSW_BATCH_SIZE];
    int index[VSW_BATCH_SIZE];
    int n = batch->count;

    memcpy(pkts, batch->pkts, n * sizeof *pkts);
    for (int i = 0; i < n; i++) {
        index[i] = i;
        verdicts[i] = VSW_STAGE_CONTINUE;
        stages[i] = STAGE_FORWARD;
    }
    for (size_t s = 1; s < N_INGRESS_STAGES; s++) {
        const struct ingress_stage *stage = &ingress_stages[s];
        int stage_verdicts[VSW_BATCH_SIZE];
        int kept = 0;

        if (!stage->run) {
            if (!pl->in_port->sw->n_exts || !n) {
                continue;
            }
            vsw_ext_stage_ingress(pl, stage->ext_class, pkts, n,
                                  stage_verdicts);
        }
        for (int i = 0; i < n; i++) {
            int verdict;

            if (stage->run) {
                pl->acl_memo = &memos[index[i]];
                verdict = stage->run(pl, pkts[i]);
            } else {
                verdict = stage_verdicts[i];
                /* An extension's drop or choice is its own, per frame. */
                if (verdict != VSW_STAGE_CONTINUE) {
                    pkts[i]->no_cache = 1;
                }
            }
            if (verdict == VSW_STAGE_CONTINUE) {
                pkts[kept] = pkts[i];
                index[kept++] = index[i];
                continue;
            }
            verdicts[index[i]] = verdict;
            stages[index[i]] = (uint8_t)s;
            if (verdict >= 0) {
                vsw_pipeline_count_drop(stats, verdict, pkts[i]);
            }
        }
        n = kept;
    }
    pl->acl_memo = NULL;
}

/* For a frame about to fill the cache with one destination: runs the
 * destination's ACLs ("acl-in") now rather than at egress, noting their
 * verdict on the frame (for "acl-in") and with the counters and flow
 * state it relied on in 'action', so that hits take it too. */
static void
judge_acl_in(struct vsw_pipeline *pl, struct vsw_packet *pkt,
             struct vsw_flow_cache_action *action)
{
    const struct vsw_dp_port *dst =
        pl->snap->by_slot[VSW_FDB_SLOT(pkt->out_port_id)];

    if (!dst || dst->id != pkt->out_port_id || !dst->policy ||
        (!dst->policy->acl && !dst->policy->xacl)) {
        return;
    }
    pkt->acl_in_verdict =
        (int16_t)apply_acls(pl, dst, VSW_ACL_DIR_IN, pkt, &action->policy_in);
    pkt->acl_in_judged = 1;
    action->in_judged = 1;
    action->in_verdict = pkt->acl_in_verdict;
}

/* The VLAN of a team port's untagged frames, for its receive rules. */
static uint16_t
team_untagged_vlan(const struct vsw_vlan_config *vlan)
{
    return vlan->mode == VSW_VLAN_MODE_ACCESS  ? vlan->vid
           : vlan->mode == VSW_VLAN_MODE_TRUNK ? vlan->native_vid
                                               : 0;
}

/* Runs 'batch' from 'in_port' through the stages and transmits it. */
static void
process_batch(struct vsw_pipeline *pl, const struct vsw_dp_snapshot *snap,
              const struct vsw_dp_port *in_port,
              struct vsw_packet_batch *batch, int64_t now_ms)
{
    struct vsw_port_stats *stats = &in_port->rt->stats[pl->worker];
    struct vsw_flow_cache_key keys[VSW_BATCH_SIZE];
    struct vsw_flow_cache_policy memos[VSW_BATCH_SIZE];
    uint64_t hashes[VSW_BATCH_SIZE];
    struct vsw_packet_batch misses = {.count = 0};
    struct cache_hit hits[VSW_BATCH_SIZE];
    int verdicts[VSW_BATCH_SIZE];
    uint8_t stages[VSW_BATCH_SIZE];
    uint64_t packets = 0;
    uint64_t bytes = 0;
    int n_hits = 0;

    pl->snap = snap;
    pl->in_port = in_port;
    pl->now_ms = now_ms;
    /* Before any lookup of this batch: see vsw_fdb_generation(). */
    pl->fdb_gen = vsw_fdb_generation(in_port->sw->fdb);
    for (int i = 0; i < batch->count; i++) {
        uint32_t segs;
        uint64_t len;

        wire_size(batch->pkts[i], &segs, &len);
        packets += segs;
        bytes += len;
        batch->pkts[i]->in_port_id = in_port->id;
        batch->pkts[i]->vni = in_port->vni;
    }
    vsw_counter_add(&stats->rx_packets, packets);
    vsw_counter_add(&stats->rx_bytes, bytes);
    /* A tunnel's frames are VXLAN datagrams: checked, learned from and
     * stripped to the inner frame with its VNI (tunnel/vxlan.c). */
    if (in_port->tunnel) {
        vsw_vxlan_decap_batch(pl, in_port, batch, stats);
    }

    for (int i = 0; i < batch->count; i++) {
        struct vsw_packet *pkt = batch->pkts[i];
        int verdict = stage_parse(pl, pkt);
        struct vsw_flow_cache_entry *e;
        uint64_t hash;

        pkt->acl_in_judged = 0;

        if (verdict < 0 && in_port->team) {
            /* Before the cache: the member a frame came on decides. */
            verdict = vsw_team_rx(in_port->team, pkt, in_port->sw->fdb,
                                  team_untagged_vlan(&in_port->vlan), now_ms);
        }
        if (verdict >= 0) {
            vsw_pipeline_count_drop(stats, verdict, pkt);
            continue;
        }
        hash = vsw_flow_cache_key_init_vni(&keys[misses.count], &pkt->key,
                                           in_port->id, pkt->vni);
        e = vsw_flow_cache_lookup(pl->cache, &keys[misses.count], hash,
                                  snap->generation, pl->fdb_gen);
        if (e && cached_usable(pl, e, pkt)) {
            hits[n_hits++] = (struct cache_hit){.pkt = pkt, .entry = e};
        } else {
            hashes[misses.count] = hash;
            misses.pkts[misses.count++] = pkt;
        }
    }
    /* Before any insertion, which could reuse a hit's entry. */
    take_hits(pl, stats, hits, n_hits);

    memset(memos, 0, misses.count * sizeof *memos);
    run_stages(pl, stats, &misses, verdicts, stages, memos);
    for (int i = 0; i < misses.count; i++) {
        struct vsw_packet *pkt = misses.pkts[i];
        struct vsw_flow_cache_action action = {
            .drop_reason = (int16_t)(verdicts[i] >= 0 ? verdicts[i] : -1),
            .vlan = pkt->vlan,
            .tag_vid = pkt->tag_vid,
            .pvlan_role = pkt->pvlan_role,
            .pcp = pkt->pcp,
            .tag_len = pkt->ingress_tag_len,
            .stage = stages[i],
            .out_port_id = pkt->out_port_id,
            .policy = memos[i],
        };

        /* A flood's destinations change with every MAC learned: not worth
         * caching. */
        if (pkt->no_cache || (verdicts[i] < 0 && !pkt->out_port_id)) {
            continue;
        }
        if (verdicts[i] < 0) {
            judge_acl_in(pl, pkt, &action);
        }
        if (!pkt->no_cache) {
            vsw_flow_cache_insert(pl->cache, &keys[i], hashes[i],
                                  snap->generation, pl->fdb_gen, now_ms,
                                  &action);
        }
    }
    /* Mirroring: after ingress, cache hits included, before egress. */
    if (in_port->sw->mirroring) {
        vsw_mirror_ingress(pl, batch);
    }
    flush_egress(pl);
}

int
vsw_pipeline_inject(struct vsw_pipeline *pl, struct vsw_ext_frame *frame,
                    uint32_t in_port, uint32_t out_port, unsigned skip)
{
    if (pl->inject_depth >= VSW_MAX_INJECT_DEPTH) {
        vsw_ext_frame_free(frame);
        return -ELOOP;
    }
    if (pl->n_injected >= VSW_MAX_INJECTED) {
        vsw_ext_frame_free(frame);
        return -ENOBUFS;
    }
    pl->injected[pl->n_injected++] = (struct vsw_injected){
        .frame = frame,
        .in_port = in_port,
        .out_port = out_port,
        .skip = skip,
    };
    return 0;
}

/* Sends one injected frame: through the pipeline from its source port,
 * after the extensions it has passed, or (originated) straight out of its
 * output port with no policy. */
static void
send_injected(struct vsw_pipeline *pl, const struct vsw_dp_snapshot *snap,
              const struct vsw_injected *inj, int64_t now_ms)
{
    uint32_t port_id = inj->in_port ? inj->in_port : inj->out_port;
    const struct vsw_dp_port *port = snap->by_slot[VSW_FDB_SLOT(port_id)];
    struct vsw_packet *pkt = &pl->inject_pkt;
    struct vsw_packet_batch batch = {.count = 1, .pkts = {pkt}};

    if (!port || port->id != port_id) {
        return;
    }
    memset(pkt, 0, sizeof *pkt);
    pkt->data = inj->frame->data;
    pkt->len = inj->frame->len;
    pkt->buf = inj->frame->data;
    pkt->in_port_id = inj->in_port;
    pkt->injected = 1;
    if (inj->in_port) {
        pl->ext_skip = inj->skip;
        process_batch(pl, snap, port, &batch, now_ms);
        pl->ext_skip = 0;
        return;
    }
    pl->snap = snap;
    if (vsw_flow_extract(pkt->data, pkt->len, &pkt->key)) {
        vsw_pipeline_count_drop(&port->rt->stats[pl->worker],
                                VSW_DROP_EXT_INJECT, pkt);
        return;
    }
    vsw_pipeline_txq_push(pl, port, pkt);
    for (unsigned i = 0; i < pl->n_active; i++) {
        stage_tx(pl, pl->active[i]);
        pl->active[i]->n = 0;
    }
    pl->n_active = 0;
}

void
vsw_pipeline_run_injected(struct vsw_pipeline *pl,
                          const struct vsw_dp_snapshot *snap, int64_t now_ms)
{
    /* Frames injected while these are sent are sent after them, one level
     * deeper, up to VSW_MAX_INJECT_DEPTH. */
    while (pl->n_injected && pl->inject_depth < VSW_MAX_INJECT_DEPTH) {
        struct vsw_injected batch[VSW_MAX_INJECTED];
        unsigned n = pl->n_injected;

        memcpy(batch, pl->injected, n * sizeof *batch);
        pl->n_injected = 0;
        pl->inject_depth++;
        for (unsigned i = 0; i < n; i++) {
            send_injected(pl, snap, &batch[i], now_ms);
            vsw_ext_frame_free(batch[i].frame);
        }
    }
    for (unsigned i = 0; i < pl->n_injected; i++) {
        vsw_ext_frame_free(pl->injected[i].frame);
    }
    pl->n_injected = 0;
    pl->inject_depth = 0;
    pl->ext_batch.rx_time_ns = 0;
}

void
vsw_pipeline_process(struct vsw_pipeline *pl,
                     const struct vsw_dp_snapshot *snap,
                     const struct vsw_dp_port *in_port,
                     struct vsw_packet_batch *batch, int64_t now_ms)
{
    /* Extensions read the clock once, if they run (ext-stage.c). */
    pl->ext_batch.rx_time_ns = 0;
    process_batch(pl, snap, in_port, batch, now_ms);
    if (pl->n_injected) {
        vsw_pipeline_run_injected(pl, snap, now_ms);
    }
}

/* Copies what the guards of a port remember ('from', which workers keep
 * writing) into 'to'. */
static void
guard_state_copy(struct vsw_guard_state *to,
                 const struct vsw_guard_state *from)
{
    atomic_store_explicit(
        &to->storm.tat_ns,
        atomic_load_explicit(&from->storm.tat_ns, memory_order_relaxed),
        memory_order_relaxed);
    for (int i = 0; i < VSW_GUARD_FRAG_SLOTS; i++) {
        atomic_store_explicit(
            &to->frag_drops[i],
            atomic_load_explicit(&from->frag_drops[i], memory_order_relaxed),
            memory_order_relaxed);
        atomic_store_explicit(
            &to->frag_seen[i].datagram,
            atomic_load_explicit(&from->frag_seen[i].datagram,
                                 memory_order_relaxed),
            memory_order_relaxed);
        atomic_store_explicit(&to->frag_seen[i].ranges,
                              atomic_load_explicit(&from->frag_seen[i].ranges,
                                                   memory_order_relaxed),
                              memory_order_relaxed);
    }
}

/* The text a trace shows for a stage's 'verdict'. */
static const char *
verdict_name(int verdict)
{
    return verdict == VSW_STAGE_CONTINUE   ? "continue"
           : verdict == VSW_STAGE_CONSUMED ? "forward"
                                           : vsw_drop_reason_name(verdict);
}

void
vsw_pipeline_trace(struct vsw_pipeline *pl, const struct vsw_dp_snapshot *snap,
                   const struct vsw_dp_port *in_port, struct vsw_packet *pkt,
                   struct vsw_trace *trace, int64_t now_ms)
{
    int verdict = VSW_STAGE_CONTINUE;
    unsigned n_denied = 0;
    int last_denial = -1;

    vsw_trace_init(trace);
    pl->trace_ext_noted = false;
    pl->ext_skip = 0;
    guard_state_copy(&pl->trace_guard_state, in_port->rt->guard_state);
    pl->trace = trace;
    pl->acl_memo = NULL;
    pl->snap = snap;
    pl->in_port = in_port;
    pl->now_ms = now_ms;
    /* A tunnel's own VNI is 0: a trace from it belongs to no tenant. */
    pkt->vni = in_port->vni;
    for (size_t s = 0; s < sizeof ingress_stages / sizeof *ingress_stages &&
                       verdict == VSW_STAGE_CONTINUE;
         s++) {
        struct vsw_trace_step *step;

        if (!ingress_stages[s].run && !in_port->sw->n_exts) {
            continue;
        }
        vsw_trace_step(trace, ingress_stages[s].name, "", "%s", "");
        step = &trace->steps[trace->n_steps - 1];
        verdict = run_one(pl, &ingress_stages[s], pkt);
        snprintf(step->verdict, sizeof step->verdict, "%s",
                 verdict_name(verdict));
        if (verdict >= 0 && !step->detail[0]) {
            vsw_trace_note(trace, "%s", vsw_drop_reason_doc(verdict));
        }
        if (s == 0 && verdict == VSW_STAGE_CONTINUE) {
            vsw_flow_format(&pkt->key, trace->key, sizeof trace->key);
            vsw_trace_note(trace, "%s", trace->key);
        } else if (s == 1 && verdict == VSW_STAGE_CONTINUE) {
            vsw_trace_note(trace, "VLAN %u (port mode %s)%s", pkt->vlan,
                           vsw_vlan_mode_name(in_port->vlan.mode),
                           pkt->pvlan_role ? ", private VLAN" : "");
        }
    }
    if (verdict >= 0) {
        trace->drop_reason = verdict;
    }
    /* Egress: the tag each destination would send with. */
    for (unsigned i = 0; i < trace->n_outputs; i++) {
        struct vsw_trace_output *out = &trace->outputs[i];
        const struct vsw_dp_port *port =
            snap->by_slot[VSW_FDB_SLOT(out->port_id)];
        struct vsw_vlan_ingress cls = packet_vlan(pkt);

        if (port && port->policy &&
            (port->policy->acl || port->policy->xacl)) {
            struct vsw_trace_step *step;
            int in_verdict;

            vsw_trace_step(trace, "acl-in", "", "%s: ", port->name);
            step = &trace->steps[trace->n_steps - 1];
            in_verdict = apply_acls(pl, port, VSW_ACL_DIR_IN, pkt, NULL);
            snprintf(step->verdict, sizeof step->verdict, "%s",
                     verdict_name(in_verdict));
            if (in_verdict >= 0) {
                /* Kept in the list, marked: the frame goes nowhere. */
                out->denied = true;
                n_denied++;
                last_denial = in_verdict;
                continue;
            }
        }
        out->tagged = port && vsw_vlan_egress_tagged(&port->vlan, &cls);
        /* The VLAN a person looks for: the tag it carries when tagged,
         * else the VLAN it belongs to. */
        out->tci = (uint16_t)(pkt->pcp << 13 |
                              (out->tagged ? pkt->tag_vid : pkt->vlan));
        vsw_trace_step(trace, "vlan-egress", "continue", "%s: %s%u",
                       port ? port->name : "?",
                       out->tagged ? "tagged VLAN " : "untagged, VLAN ",
                       out->tagged ? pkt->tag_vid : pkt->vlan);
        if (port && port->tunnel) {
            vsw_vxlan_trace(port, pkt, out->tagged, now_ms, trace);
        }
        if (port && port->team) {
            /* Which member, and why. */
            vsw_team_trace(port->team, pkt, trace);
        }
    }
    if (trace->n_outputs && n_denied == trace->n_outputs) {
        trace->drop_reason = last_denial;
    }
    vsw_mirror_trace(snap, in_port, trace);
    pl->trace = NULL;
}

void
vsw_pipeline_count_drops(unsigned worker, struct vsw_port_rt *rt,
                         enum vsw_drop_reason reason, unsigned n,
                         uint64_t bytes)
{
    struct vsw_port_stats *stats = &rt->stats[worker];

    vsw_counter_add(&stats->rx_packets, n);
    vsw_counter_add(&stats->rx_bytes, bytes);
    vsw_counter_add(&stats->drops[reason], n);
}

/* Sets of the per-worker flow cache: 8192 flows in about 1 MB. */
#define FLOW_CACHE_SETS 2048

struct vsw_pipeline *
vsw_pipeline_create(unsigned worker)
{
    struct vsw_pipeline *pl = calloc(1, sizeof *pl);

    if (!pl) {
        return NULL;
    }
    pl->worker = worker;
    pl->cache = vsw_flow_cache_create(FLOW_CACHE_SETS);
    pl->gso = vsw_gso_out_create();
    pl->pcap_linear = malloc(VSW_PCAP_LINEAR_BYTES);
    if (!pl->cache || !pl->gso || !pl->pcap_linear) {
        vsw_pipeline_destroy(pl);
        return NULL;
    }
    return pl;
}

void
vsw_pipeline_destroy(struct vsw_pipeline *pl)
{
    if (pl) {
        for (size_t i = 0; i < VSW_MAX_PORTS; i++) {
            free(pl->txq_by_slot[i]);
        }
        for (size_t i = 0; i < VSW_MIRROR_MAX_DESTINATIONS; i++) {
            free(pl->mirror_txqs[i]);
        }
        vsw_flow_cache_destroy(pl->cache);
        vsw_gso_out_destroy(pl->gso);
        free(pl->pcap_linear);
        free(pl);
    }
}
