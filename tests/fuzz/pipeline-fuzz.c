/*
 * libFuzzer harness for the whole ingress and egress pipeline
 * (datapath/pipeline/pipeline.c) on a configured switch, built in-process
 * from the datapath's snapshot API as the manager would publish it:
 *
 *   vm1  access VLAN 10; DHCP and router guards; basic ACLs (deny out to
 *        10.9.0.0/16, deny in from a MAC, a meter); extended ACLs (allow
 *        out TCP statefully, deny in TCP, deny out UDP to port 53)
 *   vm2  access VLAN 10; a MAC of its own (no spoofing) and an IP guard
 *   trk  trunk of VLANs 10, 20, 100-102, native VLAN 20
 *   iso  private VLAN 100, isolated secondary 101
 *   prm  private VLAN 100, promiscuous for 101 and 102
 *   com  private VLAN 100, community secondary 102
 *
 * with a MAC table, the flow cache, and the flow state of stateful rules
 * carried across inputs, as a running switch carries them.  Build and run
 * with tests/fuzz/build.sh and run.sh.
 *
 * Input: 1 byte of batch size (1 to 4), then frames, each as 1 byte
 * naming the port it enters on, 2 bytes of length (little endian, capped
 * by what is left) and the frame.  Consecutive frames form a batch, which
 * takes the port of its first frame.  Each frame is in a heap block of
 * exactly its size; the ports' devices are a stand-in that records what
 * they are given.
 *
 * The oracle is the accounting of drop.h: every frame ends delivered to
 * at least one port or counted under exactly one named reason.
 *   - Batches of one frame: exactly one of (a) one drop counted on the
 *     input port under one reason, nothing sent anywhere; (b) the frame
 *     sent to, or counted as dropped at, each destination at most once
 *     and at least one destination, never back to the input port.
 *   - Larger batches: received == counted; and drops at the input plus
 *     frames sent lie between what was received and that plus the drops
 *     at destinations (a flood's copies may each be dropped there).
 *   - Every frame a device gets is one of the batch's, and the frame as
 *     it leaves (vsw_tx_item_copy()) is read whole, so ASan checks it.
 *
 * fuzz-options: -max_len=20000
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conntrack.h"
#include "datapath.h"
#include "fdb.h"
#include "netdev.h"
#include "pipeline.h"
#include "policy.h"
#include "xacl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_PORTS      6
#define MAX_BATCH    4
#define WORKER       0
#define MAX_FRAME_IN 9018

/* A port's device: counts what it was given during the current batch. */
struct fake_netdev {
    struct vsw_netdev up;
    int n_sent;
    const struct vsw_packet *sent[VSW_BATCH_SIZE * MAX_BATCH];
};

static struct vsw_dp_snapshot *snap;
static struct vsw_pipeline *pipeline;
static struct vsw_port_rt *rts[N_PORTS];
static struct vsw_dp_port *ports[N_PORTS];
static struct fake_netdev netdevs[N_PORTS];
static uint8_t tx_copy[VSW_PACKET_MAX_FRAME + 4];
static int64_t now_ms = 1000000;

static int
fake_rx(struct vsw_netdev *netdev, unsigned queue, struct vsw_packet *pkts[],
        int max)
{
    (void)netdev;
    (void)queue;
    (void)pkts;
    (void)max;
    return 0;
}

static int
fake_tx(struct vsw_netdev *netdev_, unsigned queue,
        const struct vsw_tx_item *items, int n, int *error)
{
    struct fake_netdev *netdev = (struct fake_netdev *)netdev_;

    (void)queue;
    *error = 0;
    for (int i = 0; i < n; i++) {
        struct virtio_net_hdr hdr;
        uint32_t len = vsw_tx_item_len(&items[i]);

        if (len > sizeof tx_copy || vsw_tx_item_copy(&items[i], &hdr, tx_copy,
                                                     sizeof tx_copy) != len) {
            abort();
        }
        if (netdev->n_sent >=
            (int)(sizeof netdev->sent / sizeof *netdev->sent)) {
            abort(); /* more frames than the batch had */
        }
        netdev->sent[netdev->n_sent++] = items[i].pkt;
    }
    return n;
}

static void
fake_destroy(struct vsw_netdev *netdev, bool remove)
{
    (void)netdev;
    (void)remove;
}

static const struct vsw_netdev_class fake_class = {
    .type = "fake",
    .rx = fake_rx,
    .tx = fake_tx,
    .destroy = fake_destroy,
};

static void
set_prefix4(struct vsw_acl_prefix *p, uint8_t a, uint8_t b, uint8_t c,
            uint8_t d, uint8_t plen)
{
    memset(p, 0, sizeof *p);
    p->family = 4;
    p->addr[10] = p->addr[11] = 0xff;
    p->addr[12] = a;
    p->addr[13] = b;
    p->addr[14] = c;
    p->addr[15] = d;
    p->plen = plen;
}

static struct vsw_rule_counters **
counters_array(size_t n)
{
    struct vsw_rule_counters **array = calloc(n, sizeof *array);

    for (size_t i = 0; array && i < n; i++) {
        /* Borrowed by the policy: they live as long as the process. */
        array[i] = vsw_rule_counters_create(1);
        if (!array[i]) {
            abort();
        }
    }
    if (!array) {
        abort();
    }
    return array;
}

/* vm1's ACLs, guards and extended ACLs. */
static struct vsw_port_policy *
vm1_policy(void)
{
    static const uint8_t blocked_mac[VSW_ETH_ALEN] = {0x02, 0, 0, 0, 0, 0x66};
    struct vsw_port_policy *policy = calloc(1, sizeof *policy);
    struct vsw_acl_rule acl[3];
    struct vsw_xacl_rule xacl[3];
    char err[256];

    if (!policy) {
        abort();
    }
    policy->guard.dhcp_guard = true;
    policy->guard.router_guard = true;

    memset(acl, 0, sizeof acl);
    acl[0].id = 1;
    acl[0].action = VSW_ACL_ACTION_DENY;
    acl[0].direction = VSW_ACL_DIR_OUT;
    acl[0].match = VSW_ACL_MATCH_REMOTE_IP;
    set_prefix4(&acl[0].ip, 10, 9, 0, 0, 16);
    acl[1].id = 2;
    acl[1].action = VSW_ACL_ACTION_DENY;
    acl[1].direction = VSW_ACL_DIR_IN;
    acl[1].match = VSW_ACL_MATCH_REMOTE_MAC;
    memcpy(acl[1].mac.addr, blocked_mac, sizeof blocked_mac);
    acl[2].id = 3;
    acl[2].action = VSW_ACL_ACTION_METER;
    acl[2].direction = VSW_ACL_DIR_OUT;
    acl[2].match = VSW_ACL_MATCH_REMOTE_IP;
    set_prefix4(&acl[2].ip, 0, 0, 0, 0, 0);
    if (vsw_acl_compile(acl, 3, &policy->acl, err, sizeof err)) {
        abort();
    }
    policy->n_acl_counters = 4;
    policy->acl_counters = counters_array(4);
    policy->acl_rule_ids = calloc(4, sizeof *policy->acl_rule_ids);
    if (!policy->acl_rule_ids) {
        abort();
    }
    for (uint32_t i = 1; i < 4; i++) {
        policy->acl_rule_ids[i] = i;
    }

    for (int i = 0; i < 3; i++) {
        vsw_xacl_rule_init(&xacl[i]);
    }
    xacl[0].action = VSW_XACL_ACTION_ALLOW;
    xacl[0].direction = VSW_XACL_DIR_OUT;
    xacl[0].weight = 10;
    xacl[0].protocol = 6;
    xacl[0].stateful = true;
    xacl[0].idle_timeout_s = 60;
    xacl[1].action = VSW_XACL_ACTION_DENY;
    xacl[1].direction = VSW_XACL_DIR_IN;
    xacl[1].weight = 20;
    xacl[1].protocol = 6;
    xacl[2].action = VSW_XACL_ACTION_DENY;
    xacl[2].direction = VSW_XACL_DIR_OUT;
    xacl[2].weight = 30;
    xacl[2].protocol = 17;
    if (vsw_xacl_parse_ports("53", &xacl[2].remote_port) ||
        vsw_xacl_compile(xacl, 3, &policy->xacl, err, sizeof err)) {
        abort();
    }
    policy->n_xacl_counters = 3;
    policy->xacl_counters = counters_array(3);
    return policy;
}

static struct vsw_port_policy *
vm2_policy(void)
{
    struct vsw_port_policy *policy = calloc(1, sizeof *policy);
    struct vsw_guard_ip *ip;

    if (!policy) {
        abort();
    }
    policy->guard.has_mac = true;
    memcpy(policy->guard.mac, (uint8_t[]){0x02, 0, 0, 0, 0, 0x02}, 6);
    ip = &policy->guard.ips[policy->guard.n_ips++];
    ip->addr[10] = ip->addr[11] = 0xff;
    memcpy(ip->addr + 12, (uint8_t[]){10, 0, 0, 2}, 4);
    ip->plen = 128;
    return policy;
}

static void
build_switch(void)
{
    static const char *const names[N_PORTS] = {"vm1", "vm2", "trk",
                                               "iso", "prm", "com"};
    struct vsw_fdb *fdb = vsw_fdb_create(4096, 300);
    struct vsw_dp_switch *sw;
    struct vsw_pvlan_map *pvlan = calloc(1, sizeof *pvlan);

    snap = vsw_dp_snapshot_create();
    pipeline = vsw_pipeline_create(WORKER);
    if (!fdb || !pvlan || !snap || !pipeline) {
        abort();
    }
    snap->generation = 1;
    snap->conntrack = vsw_conntrack_create(1024, 256);
    sw = vsw_dp_snapshot_add_switch(snap, "fuzz", fdb);
    if (!snap->conntrack || !sw) {
        abort();
    }
    for (int i = 0; i < N_PORTS; i++) {
        struct vsw_port_rt *rt = calloc(1, sizeof *rt);

        netdevs[i].up.class = &fake_class;
        netdevs[i].up.n_queues = 1;
        netdevs[i].up.max_frame = VSW_PACKET_MAX_FRAME;
        if (!rt) {
            abort();
        }
        rt->id = (uint32_t)(i + 1) | 7u << VSW_FDB_SLOT_BITS;
        snprintf(rt->name, sizeof rt->name, "%s", names[i]);
        rt->netdev = &netdevs[i].up;
        rt->n_stats = 1;
        rt->stats = aligned_alloc(64, sizeof *rt->stats);
        rt->guard_state = aligned_alloc(64, sizeof *rt->guard_state);
        if (!rt->stats || !rt->guard_state) {
            abort();
        }
        memset(rt->stats, 0, sizeof *rt->stats);
        vsw_guard_state_init(rt->guard_state);
        for (int d = 0; d < VSW_SHAPER_N_DIRS; d++) {
            vsw_shaper_state_init(&rt->shaper[d]);
        }
        rts[i] = rt;
        ports[i] = vsw_dp_snapshot_add_port(snap, sw, names[i], rt);
        if (!ports[i]) {
            abort();
        }
    }
    ports[0]->vlan.mode = VSW_VLAN_MODE_ACCESS;
    ports[0]->vlan.vid = 10;
    ports[0]->policy = vm1_policy();
    ports[1]->vlan.mode = VSW_VLAN_MODE_ACCESS;
    ports[1]->vlan.vid = 10;
    ports[1]->policy = vm2_policy();
    ports[2]->vlan.mode = VSW_VLAN_MODE_TRUNK;
    ports[2]->vlan.native_vid = 20;
    for (uint16_t v = 10; v <= 20; v += 10) {
        vsw_vlan_set_add(&ports[2]->vlan.trunks, v);
    }
    for (uint16_t v = 100; v <= 102; v++) {
        vsw_vlan_set_add(&ports[2]->vlan.trunks, v);
    }
    ports[3]->vlan.mode = VSW_VLAN_MODE_PVLAN_ISOLATED;
    ports[3]->vlan.pvlan_primary = 100;
    ports[3]->vlan.pvlan_secondary = 101;
    ports[4]->vlan.mode = VSW_VLAN_MODE_PVLAN_PROMISCUOUS;
    ports[4]->vlan.pvlan_primary = 100;
    vsw_vlan_set_add(&ports[4]->vlan.pvlan_secondaries, 101);
    vsw_vlan_set_add(&ports[4]->vlan.pvlan_secondaries, 102);
    ports[5]->vlan.mode = VSW_VLAN_MODE_PVLAN_COMMUNITY;
    ports[5]->vlan.pvlan_primary = 100;
    ports[5]->vlan.pvlan_secondary = 102;
    pvlan->primary_of[100] = 100;
    pvlan->role_of[100] = VSW_PVLAN_PROMISCUOUS;
    pvlan->primary_of[101] = 100;
    pvlan->role_of[101] = VSW_PVLAN_ISOLATED;
    pvlan->primary_of[102] = 100;
    pvlan->role_of[102] = VSW_PVLAN_COMMUNITY;
    sw->pvlan = pvlan;
}

/* A port's counters, as the control thread reads them. */
struct port_totals {
    uint64_t rx, tx, drops;
    int n_reasons; /* reasons with drops */
};

static void
read_totals(struct port_totals totals[N_PORTS])
{
    for (int i = 0; i < N_PORTS; i++) {
        const struct vsw_port_stats *s = &rts[i]->stats[WORKER];

        memset(&totals[i], 0, sizeof totals[i]);
        totals[i].rx = atomic_load(&s->rx_packets);
        totals[i].tx = atomic_load(&s->tx_packets);
        for (int r = 0; r < VSW_DROP_N_REASONS; r++) {
            uint64_t n = atomic_load(&s->drops[r]);

            totals[i].drops += n;
        }
    }
}

/* Reasons whose count changed on port 'i' between two readings. */
static int
reasons_changed(int i, const uint64_t before[VSW_DROP_N_REASONS])
{
    int n = 0;

    for (int r = 0; r < VSW_DROP_N_REASONS; r++) {
        if (atomic_load(&rts[i]->stats[WORKER].drops[r]) != before[r]) {
            n++;
        }
    }
    return n;
}

static bool
in_batch(const struct vsw_packet *pkt, struct vsw_packet *const pkts[], int n)
{
    for (int i = 0; i < n; i++) {
        if (pkts[i] == pkt) {
            return true;
        }
    }
    return false;
}

static void
run_batch(int in, struct vsw_packet *pkts[], int n)
{
    struct vsw_packet_batch batch = {.count = n};
    struct port_totals before[N_PORTS], after[N_PORTS];
    uint64_t in_reasons[VSW_DROP_N_REASONS];
    uint64_t received, in_drops, dest_drops = 0, sent_frames = 0;
    int distinct_sent = 0;

    for (int r = 0; r < VSW_DROP_N_REASONS; r++) {
        in_reasons[r] = atomic_load(&rts[in]->stats[WORKER].drops[r]);
    }
    for (int i = 0; i < n; i++) {
        batch.pkts[i] = pkts[i];
    }
    for (int i = 0; i < N_PORTS; i++) {
        netdevs[i].n_sent = 0;
    }
    read_totals(before);
    vsw_pipeline_process(pipeline, snap, ports[in], &batch, now_ms);
    read_totals(after);
    now_ms += 7;

    received = after[in].rx - before[in].rx;
    in_drops = after[in].drops - before[in].drops;
    if (received != (uint64_t)n || after[in].tx != before[in].tx ||
        netdevs[in].n_sent) {
        abort(); /* miscounted, or sent back where it came from */
    }
    for (int p = 0; p < N_PORTS; p++) {
        if (p == in) {
            continue;
        }
        if (after[p].rx != before[p].rx ||
            after[p].tx - before[p].tx != (uint64_t)netdevs[p].n_sent) {
            abort(); /* a device's count disagrees with what it got */
        }
        dest_drops += after[p].drops - before[p].drops;
        sent_frames += (uint64_t)netdevs[p].n_sent;
        for (int k = 0; k < netdevs[p].n_sent; k++) {
            if (!in_batch(netdevs[p].sent[k], pkts, n)) {
                abort(); /* a frame from nowhere */
            }
            for (int j = 0; j < k; j++) {
                if (netdevs[p].sent[j] == netdevs[p].sent[k]) {
                    abort(); /* the same frame twice to one port */
                }
            }
        }
    }
    for (int i = 0; i < n; i++) {
        for (int p = 0; p < N_PORTS; p++) {
            if (in_batch(pkts[i], (struct vsw_packet *const *)netdevs[p].sent,
                         netdevs[p].n_sent)) {
                distinct_sent++;
                break;
            }
        }
    }

    if (n == 1) {
        if (in_drops == 1) {
            if (reasons_changed(in, in_reasons) != 1 || sent_frames ||
                dest_drops) {
                abort(); /* dropped, and yet went on */
            }
        } else if (in_drops != 0 || sent_frames + dest_drops == 0 ||
                   sent_frames + dest_drops > N_PORTS - 1) {
            abort(); /* neither delivered nor dropped by name */
        }
        return;
    }
    if (in_drops + (uint64_t)distinct_sent > received ||
        in_drops + (uint64_t)distinct_sent + dest_drops < received) {
        abort(); /* frames lost or counted twice */
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool initialized;
    struct vsw_packet *pkts[MAX_BATCH];
    struct vsw_packet pkt_structs[MAX_BATCH];
    int batch_size, n = 0, in = 0;
    size_t pos = 1;

    if (!initialized) {
        build_switch();
        initialized = true;
    }
    if (size < 1) {
        return 0;
    }
    batch_size = 1 + data[0] % MAX_BATCH;
    while (pos + 3 <= size) {
        size_t len = (size_t)(data[pos + 1] | data[pos + 2] << 8);
        struct vsw_packet *pkt = &pkt_structs[n];

        if (n == 0) {
            in = data[pos] % N_PORTS;
        }
        pos += 3;
        if (len > size - pos) {
            len = size - pos;
        }
        if (len > MAX_FRAME_IN) {
            len = MAX_FRAME_IN;
        }
        memset(pkt, 0, sizeof *pkt);
        pkt->buf = malloc(len ? len : 1);
        if (!pkt->buf) {
            abort();
        }
        memcpy(pkt->buf, data + pos, len);
        pkt->data = pkt->buf;
        pkt->len = (uint32_t)len;
        pkts[n++] = pkt;
        pos += len;
        if (n == batch_size || pos + 3 > size) {
            run_batch(in, pkts, n);
            for (int i = 0; i < n; i++) {
                free(pkts[i]->buf);
            }
            n = 0;
        }
    }
    return 0;
}
