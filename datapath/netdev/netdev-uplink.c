/*
 * Uplink ports: an existing interface (a NIC, a veth) attached with an
 * AF_PACKET socket in promiscuous mode.
 *
 * The socket asks for virtio-net headers (PACKET_VNET_HDR) because the
 * kernel hands a packet socket whole GSO super-frames (a veth peer's TCP
 * stack sends 64 KB segments): with the header the switch learns they are
 * segments and can pass them on as such, instead of forwarding one
 * oversized frame.  PACKET_AUXDATA returns the VLAN tag that drivers
 * strip into metadata, which is put back so trunks see their tags.
 */
#include "netdev.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

struct netdev_uplink {
    struct vsw_netdev up; /* common part; a packet socket per queue */
    int ifindex;          /* interface the sockets are bound to */
};

static const struct vsw_netdev_class uplink_class;

static struct netdev_uplink *
netdev_uplink_cast(struct vsw_netdev *netdev)
{
    return (struct netdev_uplink *)netdev;
}

static int
set_int_opt(int fd, int level, int name, int value)
{
    return setsockopt(fd, level, name, &value, sizeof value) < 0 ? -errno : 0;
}

/* Opens one packet socket bound to 'ifindex'.  Returns it or a negative
 * errno. */
static int
uplink_open_socket(int ifindex)
{
    struct packet_mreq mreq;
    struct sockaddr_ll sll;
    int error;
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    htons(ETH_P_ALL));

    if (fd < 0) {
        return -errno;
    }
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = ifindex;
    memset(&mreq, 0, sizeof mreq);
    mreq.mr_ifindex = ifindex;
    mreq.mr_type = PACKET_MR_PROMISC;
    /* Receive always carries the virtio-net header: a veth peer hands a
     * packet socket whole TCP segments, and only the header says so. */
    error = set_int_opt(fd, SOL_PACKET, PACKET_VNET_HDR, 1);
    if (!error) {
        error = set_int_opt(fd, SOL_PACKET, PACKET_AUXDATA, 1);
    }
    if (!error && bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
        error = -errno;
    }
    if (!error && setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq,
                             sizeof mreq) < 0) {
        error = -errno;
    }
    if (error) {
        close(fd);
        return error;
    }
    /* Frames the host itself sends on the interface are not the switch's
     * input; older kernels lack the option and rx filters by pkttype. */
    set_int_opt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1);
    set_int_opt(fd, SOL_SOCKET, SO_RCVBUF, 4 << 20);
    return fd;
}

/* Joins the 'n' sockets of 'fds' into one fanout group that spreads flows
 * over them by hash.  Group ids are shared by the whole namespace, so it
 * looks for one nobody else uses. */
static int
uplink_join_fanout(const int *fds, unsigned n, int ifindex)
{
    unsigned base = ((unsigned)getpid() * 31u + (unsigned)ifindex) & 0xffff;

    for (unsigned attempt = 0; attempt < 64; attempt++) {
        int arg =
            (int)(((base + attempt) & 0xffff) | (PACKET_FANOUT_HASH << 16));
        unsigned joined = 0;

        while (joined < n &&
               !set_int_opt(fds[joined], SOL_PACKET, PACKET_FANOUT, arg)) {
            joined++;
        }
        if (joined == n) {
            return 0;
        }
        if (joined) {
            /* A socket cannot leave a group: the caller starts over. */
            return -EAGAIN;
        }
    }
    return -EADDRINUSE;
}

int
vsw_netdev_uplink_open(const char *ifname, unsigned n_queues, bool offloads,
                       struct vsw_netdev **netdevp)
{
    struct netdev_uplink *uplink;
    int fds[VSW_NETDEV_MAX_QUEUES];
    unsigned opened = 0;
    int ifindex;
    int error = 0;

    if (!ifname[0] || strlen(ifname) >= IFNAMSIZ || !n_queues ||
        n_queues > VSW_NETDEV_MAX_QUEUES) {
        return -EINVAL;
    }
    ifindex = (int)if_nametoindex(ifname);
    if (!ifindex) {
        return -ENODEV;
    }
    for (int tries = 0; tries < 4; tries++) {
        for (opened = 0; opened < n_queues; opened++) {
            fds[opened] = uplink_open_socket(ifindex);
            if (fds[opened] < 0) {
                error = fds[opened];
                break;
            }
        }
        if (opened == n_queues) {
            error =
                n_queues > 1 ? uplink_join_fanout(fds, n_queues, ifindex) : 0;
        }
        if (!error) {
            break;
        }
        while (opened--) {
            close(fds[opened]);
        }
        opened = 0;
        if (error != -EAGAIN) {
            return error;
        }
    }
    if (error) {
        return error;
    }

    uplink = calloc(1, sizeof *uplink);
    if (!uplink) {
        while (opened--) {
            close(fds[opened]);
        }
        return -ENOMEM;
    }
    uplink->up.class = &uplink_class;
    snprintf(uplink->up.ifname, sizeof uplink->up.ifname, "%s", ifname);
    uplink->up.n_queues = n_queues;
    memcpy(uplink->up.queue_fd, fds, n_queues * sizeof *fds);
    uplink->up.max_frame = VSW_PACKET_MAX_FRAME;
    uplink->up.offloads = offloads;
    uplink->ifindex = ifindex;
    *netdevp = &uplink->up;
    return 0;
}

/* Puts back the VLAN tag the driver moved into metadata, using the
 * packet's headroom. */
static void
restore_vlan_tag(struct vsw_packet *pkt, const struct tpacket_auxdata *aux)
{
    uint16_t tpid = aux->tp_status & TP_STATUS_VLAN_TPID_VALID
                        ? aux->tp_vlan_tpid
                        : VSW_ETH_TYPE_VLAN;

    if (pkt->len < 2 * VSW_ETH_ALEN) {
        return;
    }
    memmove(pkt->data - 4, pkt->data, 2 * VSW_ETH_ALEN);
    pkt->data -= 4;
    pkt->len += 4;
    pkt->data[12] = tpid >> 8;
    pkt->data[13] = tpid & 0xff;
    pkt->data[14] = aux->tp_vlan_tci >> 8;
    pkt->data[15] = aux->tp_vlan_tci & 0xff;
    if (pkt->vnet.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
        pkt->vnet.csum_start += 4;
    }
}

/* What a receive error 'error' means.  The kernel reports ENETDOWN both
 * when the interface goes down (it comes back up: keep polling) and when
 * it is deleted (gone for good); only the latter stops the port. */
static int
uplink_rx_error(const struct netdev_uplink *uplink, int error)
{
    char name[IF_NAMESIZE];

    if (error == EAGAIN) {
        return 0;
    }
    if (error == ENETDOWN && if_indextoname(uplink->ifindex, name)) {
        return 0;
    }
    return error == ENETDOWN ? -ENODEV : -error;
}

static int
uplink_rx(struct vsw_netdev *netdev, unsigned queue, struct vsw_packet *pkts[],
          int max)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
    } control[VSW_BATCH_SIZE];
    struct sockaddr_ll from[VSW_BATCH_SIZE];
    struct mmsghdr msgs[VSW_BATCH_SIZE];
    struct iovec iov[VSW_BATCH_SIZE][2];
    int n_ok = 0;
    int n;

    if (max > VSW_BATCH_SIZE) {
        max = VSW_BATCH_SIZE;
    }
    memset(msgs, 0, sizeof msgs[0] * max);
    for (int i = 0; i < max; i++) {
        iov[i][0] = (struct iovec){&pkts[i]->vnet, sizeof pkts[i]->vnet};
        iov[i][1] = (struct iovec){pkts[i]->data, netdev->max_frame};
        msgs[i].msg_hdr.msg_iov = iov[i];
        msgs[i].msg_hdr.msg_iovlen = 2;
        msgs[i].msg_hdr.msg_name = &from[i];
        msgs[i].msg_hdr.msg_namelen = sizeof from[i];
        msgs[i].msg_hdr.msg_control = control[i].buf;
        msgs[i].msg_hdr.msg_controllen = sizeof control[i].buf;
    }
    do {
        n = recvmmsg(netdev->queue_fd[queue], msgs, max, MSG_DONTWAIT, NULL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return uplink_rx_error(netdev_uplink_cast(netdev), errno);
    }

    for (int i = 0; i < n; i++) {
        struct vsw_packet *pkt = pkts[n_ok];
        struct msghdr *mh = &msgs[i].msg_hdr;
        size_t got = msgs[i].msg_len;

        if (from[i].sll_pkttype == PACKET_OUTGOING || got < sizeof pkt->vnet) {
            continue;
        }
        if (pkt != pkts[i]) {
            /* Compact: an earlier message was skipped, so this one's
             * contents move into the free slot. */
            pkt->vnet = pkts[i]->vnet;
            memcpy(pkt->data, pkts[i]->data, got - sizeof pkt->vnet);
        }
        pkt->len = (uint32_t)(got - sizeof pkt->vnet);
        pkt->truncated = (mh->msg_flags & MSG_TRUNC) != 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c;
             c = CMSG_NXTHDR(mh, c)) {
            struct tpacket_auxdata aux;

            if (c->cmsg_level != SOL_PACKET ||
                c->cmsg_type != PACKET_AUXDATA) {
                continue;
            }
            memcpy(&aux, CMSG_DATA(c), sizeof aux);
            if (aux.tp_status & TP_STATUS_VLAN_VALID || aux.tp_vlan_tci) {
                restore_vlan_tag(pkt, &aux);
            }
        }
        n_ok++;
    }
    return n_ok;
}

/* Sends the 'n' frames of 'items' through packet socket 'fd' with
 * sendmmsg 'flags'.  Returns the number the kernel accepted; '*error'
 * receives the errno of the first refusal, 0 if none. */
static int
uplink_send(int fd, const struct vsw_tx_item *items, int n, int flags,
            int *error)
{
    struct virtio_net_hdr hdrs[VSW_BATCH_SIZE];
    struct mmsghdr msgs[VSW_BATCH_SIZE];
    struct iovec iov[VSW_BATCH_SIZE][VSW_TX_IOV_MAX];
    uint8_t tags[VSW_BATCH_SIZE][4];
    int sent = 0;

    *error = 0;
    while (sent < n) {
        int chunk = n - sent < VSW_BATCH_SIZE ? n - sent : VSW_BATCH_SIZE;
        int r;

        memset(msgs, 0, sizeof msgs[0] * chunk);
        for (int i = 0; i < chunk; i++) {
            msgs[i].msg_hdr.msg_iovlen =
                vsw_tx_item_iov(&items[sent + i], &hdrs[i], tags[i], iov[i]);
            msgs[i].msg_hdr.msg_iov = iov[i];
        }
        r = sendmmsg(fd, msgs, chunk, flags);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            *error = errno;
            return sent;
        }
        sent += r;
        if (r < chunk) {
            /* The next sendmmsg reports why the kernel stopped. */
            continue;
        }
    }
    return sent;
}

static int
uplink_tx(struct vsw_netdev *netdev, unsigned queue,
          const struct vsw_tx_item *items, int n, int *error)
{
    return uplink_send(netdev->queue_fd[queue], items, n, MSG_DONTWAIT, error);
}

int
vsw_netdev_uplink_open_tx(const struct vsw_netdev *netdev)
{
    struct sockaddr_ll sll;
    int error;
    /* Protocol 0: the socket receives nothing, so no frame of the
     * interface is copied to a reader that never reads. */
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);

    if (netdev->class != &uplink_class) {
        if (fd >= 0) {
            close(fd);
        }
        return -EINVAL;
    }
    if (fd < 0) {
        return -errno;
    }
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = netdev_uplink_cast((struct vsw_netdev *)netdev)->ifindex;
    error = set_int_opt(fd, SOL_PACKET, PACKET_VNET_HDR, 1);
    if (!error && bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
        error = -errno;
    }
    if (error) {
        close(fd);
        return error;
    }
    return fd;
}

int
vsw_netdev_uplink_send(int fd, const struct vsw_tx_item *items, int n,
                       int *error)
{
    return uplink_send(fd, items, n, 0, error);
}

static void
uplink_destroy(struct vsw_netdev *netdev, bool remove)
{
    (void)remove; /* the interface is not ours to delete */
    for (unsigned q = 0; q < netdev->n_queues; q++) {
        close(netdev->queue_fd[q]);
    }
    free(netdev_uplink_cast(netdev));
}

static const struct vsw_netdev_class uplink_class = {
    .type = "uplink",
    .rx = uplink_rx,
    .tx = uplink_tx,
    .destroy = uplink_destroy,
};
