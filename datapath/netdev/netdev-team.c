/*
 * The device of a NIC team port: its members' uplink devices behind one
 * netdev.  See netdev-team.h.
 */
#include "netdev-team.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gso.h"
#include "scheduler.h"
#include "timeutil.h"
#include "trace.h"

/* One member's counter for one queue; one writer each. */
struct team_counter {
    _Atomic uint64_t packets;
    _Atomic uint64_t bytes;
} __attribute__((aligned(64)));

struct vsw_team_netdev {
    struct vsw_netdev up;       /* common part: every member's queues */
    unsigned n_members;         /* members, 1..VSW_LACP_MAX_MEMBERS */
    unsigned queues_per_member; /* queues of each member's uplink */
    /* Their uplinks; NULL for a member whose interface did not exist when
     * the device was opened (the team carries on without it). */
    struct vsw_netdev *members[VSW_LACP_MAX_MEMBERS];
    char names[VSW_LACP_MAX_MEMBERS][IFNAMSIZ]; /* the members' interfaces */
    /* Team queue g * queues_per_member + q is queue q of member
     * queue_member[g]: only present members have queues. */
    uint8_t queue_member[VSW_LACP_MAX_MEMBERS];
    /* Members whose uplink and slow socket a newer device of the team
     * took over (control thread only): not closed with this one. */
    uint32_t handed_over;
    int slow_fd[VSW_LACP_MAX_MEMBERS]; /* control thread: ETH_P_SLOW */
    int ifindex[VSW_LACP_MAX_MEMBERS]; /* for the slow sockets */
    /* Per member: received per member queue, sent per transmit queue. */
    struct team_counter rx[VSW_LACP_MAX_MEMBERS][VSW_NETDEV_MAX_QUEUES];
    struct team_counter tx[VSW_LACP_MAX_MEMBERS][VSW_NETDEV_MAX_QUEUES];
};

static const struct vsw_netdev_class team_class;

struct vsw_team_netdev *
vsw_netdev_team_cast(struct vsw_netdev *netdev)
{
    return netdev && netdev->class == &team_class
               ? (struct vsw_team_netdev *)netdev
               : NULL;
}

/* Leaves the slow protocols to the control thread's socket: the workers'
 * sockets of a member never see a frame of type 0x8809. */
static int
attach_slow_filter(int fd)
{
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_SLOW, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, 0),
        BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),
    };
    struct sock_fprog prog = {.len = sizeof code / sizeof *code,
                              .filter = code};

    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0
               ? -errno
               : 0;
}

/* The control thread's socket on interface 'ifindex' for the slow
 * protocols. */
static int
open_slow_socket(int ifindex)
{
    struct sockaddr_ll sll = {
        .sll_family = AF_PACKET,
        .sll_protocol = htons(ETH_P_SLOW),
        .sll_ifindex = ifindex,
    };
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    htons(ETH_P_SLOW));

    if (fd < 0) {
        return -errno;
    }
    if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
        int error = -errno;

        close(fd);
        return error;
    }
    return fd;
}

static void
team_free(struct vsw_team_netdev *team)
{
    for (unsigned m = 0; m < team->n_members; m++) {
        if ((team->handed_over >> m) & 1) {
            continue;
        }
        if (team->members[m]) {
            vsw_netdev_destroy(team->members[m], false);
        }
        if (team->slow_fd[m] >= 0) {
            close(team->slow_fd[m]);
        }
    }
    free(team);
}

/* Member 'm' of 'old', if it is still the interface 'ifname' and opened
 * as the new device would open it; NULL otherwise. */
static struct vsw_netdev *
reusable_member(const struct vsw_team_netdev *old, unsigned m,
                const char *ifname, unsigned queues_per_member, bool offloads)
{
    if (!old || m >= old->n_members || !old->members[m] ||
        ((old->handed_over >> m) & 1) || strcmp(old->names[m], ifname) ||
        old->queues_per_member != queues_per_member ||
        old->up.offloads != offloads ||
        (int)if_nametoindex(ifname) != old->ifindex[m]) {
        return NULL;
    }
    return old->members[m];
}

int
vsw_netdev_team_open(const char *name, const char members[][IFNAMSIZ],
                     unsigned n_members, unsigned queues_per_member,
                     bool offloads, struct vsw_team_netdev *old,
                     struct vsw_netdev **netdevp, unsigned *bad_member)
{
    struct vsw_team_netdev *team;
    bool first_missing = false;
    unsigned n_present = 0;
    int error = 0;

    if (!n_members || n_members > VSW_LACP_MAX_MEMBERS || !queues_per_member ||
        n_members * queues_per_member > VSW_NETDEV_MAX_QUEUES) {
        return -EINVAL;
    }
    team = calloc(1, sizeof *team);
    if (!team) {
        return -ENOMEM;
    }
    team->up.class = &team_class;
    snprintf(team->up.ifname, sizeof team->up.ifname, "%s", name);
    team->up.max_frame = VSW_PACKET_MAX_FRAME;
    team->up.offloads = offloads;
    team->queues_per_member = queues_per_member;
    team->n_members = n_members;
    for (unsigned m = 0; m < n_members; m++) {
        team->slow_fd[m] = -1;
        snprintf(team->names[m], sizeof team->names[m], "%s", members[m]);
    }
    for (unsigned m = 0; m < n_members && !error; m++) {
        unsigned group = n_present;
        struct vsw_netdev *uplink =
            reusable_member(old, m, members[m], queues_per_member, offloads);

        if (uplink) {
            /* Its sockets carry on: nothing queued in them is lost, and
             * no second set joins the fanout group beside them. */
            old->handed_over |= 1u << m;
            team->members[m] = uplink;
            team->queue_member[group] = (uint8_t)m;
            n_present++;
            team->ifindex[m] = old->ifindex[m];
            team->slow_fd[m] = old->slow_fd[m];
            for (unsigned q = 0; q < queues_per_member; q++) {
                team->up.queue_fd[group * queues_per_member + q] =
                    uplink->queue_fd[q];
            }
            continue;
        }
        error = vsw_netdev_uplink_open(members[m], queues_per_member, offloads,
                                       &uplink);
        if (error == -ENODEV) {
            /* Deleted (or not created yet): the others carry on, and the
             * control thread opens the device again when it is back. */
            if (!first_missing) {
                *bad_member = m;
                first_missing = true;
            }
            error = 0;
            continue;
        }
        if (error) {
            *bad_member = m;
            break;
        }
        team->members[m] = uplink;
        team->queue_member[group] = (uint8_t)m;
        n_present++;
        team->ifindex[m] = (int)if_nametoindex(members[m]);
        for (unsigned q = 0; q < queues_per_member && !error; q++) {
            error = attach_slow_filter(uplink->queue_fd[q]);
            team->up.queue_fd[group * queues_per_member + q] =
                uplink->queue_fd[q];
        }
        if (!error) {
            team->slow_fd[m] = open_slow_socket(team->ifindex[m]);
            error = team->slow_fd[m] < 0 ? team->slow_fd[m] : 0;
        }
        if (error) {
            *bad_member = m;
        }
    }
    if (!error && !n_present) {
        error = -ENODEV;
    }
    team->up.n_queues = n_present * queues_per_member;
    if (error) {
        if (old) {
            /* Whatever was taken over goes back to the old device. */
            for (unsigned m = 0; m < n_members; m++) {
                if (old->members[m] && team->members[m] == old->members[m]) {
                    old->handed_over &= ~(1u << m);
                    team->members[m] = NULL;
                    team->slow_fd[m] = -1;
                }
            }
        }
        team_free(team);
        return error;
    }
    *netdevp = &team->up;
    return 0;
}

struct vsw_netdev *
vsw_netdev_team_member(struct vsw_team_netdev *team, unsigned m)
{
    return m < team->n_members ? team->members[m] : NULL;
}

bool
vsw_netdev_team_members_moved(const struct vsw_team_netdev *team)
{
    for (unsigned m = 0; m < team->n_members; m++) {
        int ifindex = (int)if_nametoindex(team->names[m]);

        if (team->members[m] ? ifindex != team->ifindex[m] : ifindex != 0) {
            return true;
        }
    }
    return false;
}

unsigned
vsw_netdev_team_n_members(const struct vsw_team_netdev *team)
{
    return team->n_members;
}

int
vsw_netdev_team_slow_fd(const struct vsw_team_netdev *team, unsigned m)
{
    return m < team->n_members ? team->slow_fd[m] : -1;
}

int
vsw_netdev_team_send_raw(struct vsw_team_netdev *team, unsigned m,
                         const void *frame, size_t len)
{
    if (m >= team->n_members || team->slow_fd[m] < 0) {
        return -ENETDOWN;
    }
    return send(team->slow_fd[m], frame, len, MSG_DONTWAIT) < 0 ? -errno : 0;
}

void
vsw_netdev_team_counters(const struct vsw_team_netdev *team, unsigned m,
                         struct vsw_team_member_counters *out)
{
    memset(out, 0, sizeof *out);
    if (m >= team->n_members) {
        return;
    }
    for (unsigned q = 0; q < VSW_NETDEV_MAX_QUEUES; q++) {
        out->rx_packets += atomic_load_explicit(&team->rx[m][q].packets,
                                                memory_order_relaxed);
        out->rx_bytes +=
            atomic_load_explicit(&team->rx[m][q].bytes, memory_order_relaxed);
        out->tx_packets += atomic_load_explicit(&team->tx[m][q].packets,
                                                memory_order_relaxed);
        out->tx_bytes +=
            atomic_load_explicit(&team->tx[m][q].bytes, memory_order_relaxed);
    }
}

/* Adds to a counter only the calling thread writes. */
static void
counter_add(_Atomic uint64_t *counter, uint64_t n)
{
    atomic_store_explicit(
        counter, atomic_load_explicit(counter, memory_order_relaxed) + n,
        memory_order_relaxed);
}

static int
team_rx(struct vsw_netdev *netdev, unsigned queue, struct vsw_packet *pkts[],
        int max)
{
    struct vsw_team_netdev *team = (struct vsw_team_netdev *)netdev;
    unsigned m = team->queue_member[queue / team->queues_per_member];
    unsigned q = queue % team->queues_per_member;
    struct team_counter *c = &team->rx[m][q];
    uint64_t bytes = 0;
    int n = vsw_netdev_rx(team->members[m], q, pkts, max);

    for (int i = 0; i < n; i++) {
        pkts[i]->rx_member = (uint8_t)m;
        bytes += pkts[i]->len;
    }
    if (n > 0) {
        counter_add(&c->packets, (uint64_t)n);
        counter_add(&c->bytes, bytes);
    }
    return n;
}

/* Sends 'n' frames that all go to member 'm' and counts them. */
static int
member_tx(struct vsw_team_netdev *team, unsigned m, unsigned queue,
          const struct vsw_tx_item *items, int n, int *error)
{
    struct vsw_netdev *uplink = team->members[m];
    struct team_counter *c = &team->tx[m][queue % VSW_NETDEV_MAX_QUEUES];
    uint64_t bytes = 0;
    int sent;

    if (!uplink) {
        /* Its interface is missing (a snapshot never makes it active). */
        *error = ENETDOWN;
        return 0;
    }
    sent = vsw_netdev_tx(uplink, queue % uplink->n_queues, items, n, error);

    for (int i = 0; i < sent; i++) {
        bytes += vsw_tx_item_len(&items[i]);
    }
    if (sent > 0) {
        counter_add(&c->packets, (uint64_t)sent);
        counter_add(&c->bytes, bytes);
    }
    return sent;
}

/* rx-balance: sends the VM's ARP frame of 'item' through the member whose
 * MAC its peer is to learn, with that MAC as sender (Ethernet source and
 * ARP sender hardware address), and notes the VM's address.  The frame
 * may be on its way to other ports too: the change is made on a copy.
 * Returns 1 if sent, 0 if the kernel refused it ('*error' set). */
static int
rlb_tx_arp(const struct vsw_team_map *map, unsigned queue,
           const struct vsw_tx_item *item, int *error)
{
    const struct vsw_packet *pkt = item->pkt;
    const struct vsw_flow_key *key = &pkt->key;
    uint8_t frame[128];
    struct vsw_packet copy = *pkt;
    struct vsw_tx_item copy_item = *item;
    uint8_t ip[4];
    uint8_t m;

    memcpy(ip, key->ip_dst + 12, 4);
    m = vsw_team_rlb_member(map, ip);
    if (m == VSW_TEAM_NO_MEMBER) {
        *error = ENETDOWN;
        return 0;
    }
    vsw_team_ip_learn(&map->rlb->vms, key->ip_src + 12, key->arp_sha);
    if (key->eth_dst[0] & 1) {
        /* Every peer takes the one MAC a broadcast carries: have the
         * control thread tell each its own member's again. */
        uint32_t vm = (uint32_t)key->ip_src[12] << 24 |
                      (uint32_t)key->ip_src[13] << 16 |
                      (uint32_t)key->ip_src[14] << 8 | key->ip_src[15];

        atomic_store_explicit(&map->rlb->announce[vm % VSW_TEAM_RLB_ANNOUNCE],
                              vm, memory_order_relaxed);
    }
    memcpy(frame, pkt->data, pkt->len);
    memcpy(frame + 6, map->member_mac[m], 6);
    memcpy(frame + key->l3_ofs + 8, map->member_mac[m], 6);
    copy.data = frame;
    copy_item.pkt = &copy;
    return member_tx(map->netdev, m, queue, &copy_item, 1, error);
}

int
vsw_team_rx(const struct vsw_team_map *map, struct vsw_packet *pkt,
            const struct vsw_fdb *fdb, uint16_t untagged_vlan, int64_t now_ms)
{
    struct vsw_flow_key *key = &pkt->key;
    int verdict = vsw_team_rx_check(map, pkt->rx_member, key, fdb,
                                    untagged_vlan, now_ms);
    uint8_t vm_mac[6];
    bool to_member = false;

    if (verdict >= 0 || !map->rlb) {
        return verdict;
    }
    for (unsigned m = 0; m < map->n_members; m++) {
        if (!memcmp(key->eth_src, map->member_mac[m], 6)) {
            /* Our own rewritten ARP, flooded back by the physical
             * switch. */
            return VSW_DROP_TEAM_REFLECTED;
        }
    }
    if (key->eth_type == VSW_ETH_TYPE_ARP && key->l3_ofs) {
        /* A peer: told its member's MAC after a VM's broadcast. */
        vsw_team_ip_learn(&map->rlb->peers, key->ip_src + 12, key->arp_sha);
    }
    if (key->eth_dst[0] & 1) {
        return verdict;
    }
    for (unsigned m = 0; m < map->n_members && !to_member; m++) {
        to_member = !memcmp(key->eth_dst, map->member_mac[m], 6);
    }
    if (!to_member ||
        (key->eth_type != VSW_ETH_TYPE_IPV4 &&
         key->eth_type != VSW_ETH_TYPE_ARP) ||
        !key->l3_ofs ||
        !vsw_team_ip_lookup(&map->rlb->vms, key->ip_dst + 12, vm_mac)) {
        return verdict;
    }
    memcpy(pkt->data, vm_mac, 6);
    memcpy(key->eth_dst, vm_mac, 6);
    if (key->eth_type == VSW_ETH_TYPE_ARP && key->l3_ofs + 28u <= pkt->len &&
        !memcmp(key->arp_tha,
                map->member_mac[pkt->rx_member < VSW_LACP_MAX_MEMBERS
                                    ? pkt->rx_member
                                    : 0],
                6)) {
        memcpy(pkt->data + key->l3_ofs + 18, vm_mac, 6);
        memcpy(key->arp_tha, vm_mac, 6);
    }
    return verdict;
}

/* True if 'pkt' is an ARP frame of a VM that rx-balance rewrites. */
static bool
rlb_takes(const struct vsw_team_map *map, const struct vsw_packet *pkt)
{
    return map->rlb && pkt->key.eth_type == VSW_ETH_TYPE_ARP &&
           pkt->key.l3_ofs && pkt->len <= 128 &&
           pkt->key.l3_ofs + 28u <= pkt->len &&
           pkt->in_port_id != map->port_id;
}

int
vsw_team_tx(const struct vsw_team_map *map, unsigned queue,
            const struct vsw_tx_item *items, int n, int *error)
{
    struct vsw_team_netdev *team = map->netdev;
    /* One clock read per call, for the flowlets of lb=dynamic. */
    uint64_t now = map->flowlets ? (uint64_t)vsw_time_nsec() : 0;
    int done = 0;

    *error = 0;
    while (done < n) {
        const struct vsw_packet *first = items[done].pkt;
        uint8_t m = vsw_team_select(map, &first->key, first->in_port_id, now);
        int run = 1;
        int sent;

        if (rlb_takes(map, items[done].pkt)) {
            if (!rlb_tx_arp(map, queue, &items[done], error)) {
                return done;
            }
            done++;
            continue;
        }

        if (m == VSW_TEAM_NO_MEMBER || m >= team->n_members) {
            *error = ENETDOWN;
            return done;
        }
        /* Consecutive frames for the same member go in one call. */
        while (done + run < n) {
            const struct vsw_packet *pkt = items[done + run].pkt;

            if (rlb_takes(map, items[done + run].pkt) ||
                vsw_team_select(map, &pkt->key, pkt->in_port_id, now) != m) {
                break;
            }
            run++;
        }
        sent = member_tx(team, m, queue, &items[done], run, error);
        done += sent;
        if (sent < run) {
            return done;
        }
    }
    return done;
}

/* The wire frames 'item' stands for (a GSO packet: its segments). */
static uint64_t
wire_frames(const struct vsw_tx_item *item)
{
    const struct vsw_packet *pkt = item->pkt;
    uint32_t segs;
    uint64_t bytes;

    if (pkt->vnet.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
        return 1;
    }
    vsw_gso_wire_size(pkt->data, pkt->len, &pkt->vnet, &segs, &bytes);
    return segs;
}

uint64_t
vsw_team_sched_enqueue(const struct vsw_team_map *map, struct vsw_sched *sched,
                       const struct vsw_dp_snapshot *snap, unsigned queue,
                       const struct vsw_tx_item *items, int n,
                       struct vsw_sched_result *result)
{
    struct vsw_tx_item queued[VSW_BATCH_SIZE];
    uint8_t links[VSW_BATCH_SIZE];
    uint64_t now = map->flowlets ? (uint64_t)vsw_time_nsec() : 0;
    uint64_t refused = 0;
    int k = 0;

    memset(result, 0, sizeof *result);
    for (int i = 0; i < n; i++) {
        const struct vsw_packet *pkt = items[i].pkt;
        uint8_t m;
        int error;

        if (rlb_takes(map, pkt)) {
            /* A small ARP frame rewritten per peer: straight out, past
             * the queues. */
            if (rlb_tx_arp(map, queue, &items[i], &error)) {
                result->packets++;
                result->bytes += vsw_tx_item_len(&items[i]);
            } else {
                refused++;
            }
            continue;
        }
        m = vsw_team_select(map, &pkt->key, pkt->in_port_id, now);
        if (m == VSW_TEAM_NO_MEMBER || m >= map->n_members) {
            refused += wire_frames(&items[i]);
            continue;
        }
        queued[k] = items[i];
        links[k++] = m;
        if (k == VSW_BATCH_SIZE) {
            struct vsw_sched_result r;

            vsw_sched_enqueue_links(sched, snap, queued, links, k, &r);
            result->packets += r.packets;
            result->bytes += r.bytes;
            result->dropped += r.dropped;
            k = 0;
        }
    }
    if (k) {
        struct vsw_sched_result r;

        vsw_sched_enqueue_links(sched, snap, queued, links, k, &r);
        result->packets += r.packets;
        result->bytes += r.bytes;
        result->dropped += r.dropped;
    }
    return refused;
}

void
vsw_team_trace(const struct vsw_team_map *map, const struct vsw_packet *pkt,
               struct vsw_trace *trace)
{
    const struct vsw_team_netdev *team = map->netdev;
    char why[VSW_TRACE_TEXT];
    uint8_t m;

    if (rlb_takes(map, pkt)) {
        uint8_t ip[4];

        memcpy(ip, pkt->key.ip_dst + 12, 4);
        m = vsw_team_rlb_member(map, ip);
        snprintf(why, sizeof why,
                 "rx-balance: a VM's ARP, through the member its target "
                 "learns, with that member's MAC");
    } else {
        m = vsw_team_explain(map, &pkt->key, pkt->in_port_id,
                             (uint64_t)vsw_time_nsec(), why, sizeof why);
    }
    if (m == VSW_TEAM_NO_MEMBER || m >= team->n_members) {
        vsw_trace_step(trace, "team", "team-inactive", "%s", why);
        return;
    }
    vsw_trace_step(trace, "team", "continue", "member %s: %s", team->names[m],
                   why);
}

/* A team's device used without its map (nothing in the pipeline does):
 * its first present member. */
static int
team_tx(struct vsw_netdev *netdev, unsigned queue,
        const struct vsw_tx_item *items, int n, int *error)
{
    struct vsw_team_netdev *team = (struct vsw_team_netdev *)netdev;

    return member_tx(team, team->queue_member[0], queue, items, n, error);
}

static void
team_destroy(struct vsw_netdev *netdev, bool remove)
{
    (void)remove; /* the members are not ours to delete */
    team_free((struct vsw_team_netdev *)netdev);
}

static const struct vsw_netdev_class team_class = {
    .type = "team",
    .rx = team_rx,
    .tx = team_tx,
    .destroy = team_destroy,
};
