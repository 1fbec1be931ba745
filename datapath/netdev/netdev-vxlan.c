/*
 * The device of a VXLAN tunnel port: UDP sockets that receive the
 * underlay's datagrams (one per queue, SO_REUSEPORT, so the kernel spreads
 * the flows over the workers) and a raw IPv4 socket that sends them with
 * a UDP header we write, so the outer source port can be the inner flow's
 * hash.  The kernel builds the IP header, routes and resolves neighbours;
 * DF is set (IP_PMTUDISC_DO): nothing is ever fragmented.  Encapsulation
 * itself is tunnel/vxlan.c's; this file only moves datagrams.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/filter.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netdev.h"
#include "vxlan.h"

static const struct vsw_netdev_class vxlan_class;

struct vsw_netdev_vxlan *
vsw_netdev_vxlan_cast(struct vsw_netdev *netdev)
{
    return netdev && netdev->class == &vxlan_class
               ? (struct vsw_netdev_vxlan *)netdev
               : NULL;
}

static int
vxlan_rx(struct vsw_netdev *netdev, unsigned queue, struct vsw_packet *pkts[],
         int max)
{
    struct sockaddr_in from[VSW_BATCH_SIZE];
    struct mmsghdr msgs[VSW_BATCH_SIZE];
    struct iovec iov[VSW_BATCH_SIZE];
    int n;

    if (max > VSW_BATCH_SIZE) {
        max = VSW_BATCH_SIZE;
    }
    memset(msgs, 0, sizeof msgs[0] * max);
    for (int i = 0; i < max; i++) {
        iov[i] = (struct iovec){pkts[i]->data, netdev->max_frame};
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &from[i];
        msgs[i].msg_hdr.msg_namelen = sizeof from[i];
    }
    do {
        n = recvmmsg(netdev->queue_fd[queue], msgs, max, MSG_DONTWAIT, NULL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return errno == EAGAIN ? 0 : -errno;
    }
    for (int i = 0; i < n; i++) {
        struct vsw_packet *pkt = pkts[i];

        pkt->len = msgs[i].msg_len;
        pkt->truncated = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
        pkt->tun_src = from[i].sin_addr.s_addr;
        memset(&pkt->vnet, 0, sizeof pkt->vnet);
    }
    return n;
}

/* Frames reach a tunnel through vsw_vxlan_tx(), which knows the VTEPs;
 * this device cannot send on its own. */
static int
vxlan_tx(struct vsw_netdev *netdev, unsigned queue,
         const struct vsw_tx_item *items, int n, int *error)
{
    (void)netdev;
    (void)queue;
    (void)items;
    (void)n;
    *error = EINVAL;
    return 0;
}

static void
vxlan_destroy(struct vsw_netdev *netdev, bool remove)
{
    struct vsw_netdev_vxlan *dev = vsw_netdev_vxlan_cast(netdev);

    (void)remove;
    for (unsigned q = 0; q < netdev->n_queues; q++) {
        if (netdev->queue_fd[q] >= 0) {
            close(netdev->queue_fd[q]);
        }
    }
    if (dev->tx_fd >= 0) {
        close(dev->tx_fd);
    }
    free(dev->learned);
    free(dev);
}

static const struct vsw_netdev_class vxlan_class = {
    .type = "vxlan",
    .rx = vxlan_rx,
    .tx = vxlan_tx,
    .destroy = vxlan_destroy,
};

/* The MTU of 'ifname', or of the interface holding 'ip' if 'ifname' is
 * empty.  Returns it, or a negative errno. */
static int
underlay_mtu(const char *ifname, uint32_t ip)
{
    char name[IFNAMSIZ] = "";
    struct ifreq ifr;
    int fd;
    int mtu;

    if (ifname && ifname[0]) {
        snprintf(name, sizeof name, "%s", ifname);
    } else {
        struct ifaddrs *ifas;

        if (getifaddrs(&ifas)) {
            return -errno;
        }
        for (struct ifaddrs *a = ifas; a; a = a->ifa_next) {
            if (a->ifa_addr && a->ifa_addr->sa_family == AF_INET &&
                ((struct sockaddr_in *)a->ifa_addr)->sin_addr.s_addr == ip) {
                snprintf(name, sizeof name, "%s", a->ifa_name);
                break;
            }
        }
        freeifaddrs(ifas);
        if (!name[0]) {
            return -EADDRNOTAVAIL;
        }
    }
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    mtu = ioctl(fd, SIOCGIFMTU, &ifr) ? -errno : ifr.ifr_mtu;
    close(fd);
    return mtu;
}

/* A UDP socket bound to local_ip:dst_port, sharing the port with the
 * tunnel's other queues. */
static int
open_rx_socket(uint32_t local_ip, uint16_t dst_port)
{
    struct sockaddr_in sin = {
        .sin_family = AF_INET,
        .sin_port = htons(dst_port),
        .sin_addr.s_addr = local_ip,
    };
    int one = 1;
    int buf = 4 << 20;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        return -errno;
    }
    /* A bigger buffer absorbs bursts while the worker is busy; the kernel
     * caps it at rmem_max. */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) ||
        bind(fd, (struct sockaddr *)&sin, sizeof sin)) {
        int error = -errno;

        close(fd);
        return error;
    }
    return fd;
}

/* The raw socket that sends: it would also get a copy of every UDP
 * datagram the host receives, so a filter that accepts nothing keeps its
 * queue empty. */
static int
open_tx_socket(uint32_t local_ip)
{
    struct sock_filter reject = BPF_STMT(BPF_RET | BPF_K, 0);
    struct sock_fprog prog = {.len = 1, .filter = &reject};
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = local_ip};
    int pmtu = IP_PMTUDISC_DO;
    int buf = 4 << 20;
    int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_UDP);

    if (fd < 0) {
        return -errno;
    }
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) ||
        setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu) ||
        bind(fd, (struct sockaddr *)&sin, sizeof sin)) {
        int error = -errno;

        close(fd);
        return error;
    }
    return fd;
}

int
vsw_netdev_vxlan_open(const char *name, uint32_t local_ip, uint16_t dst_port,
                      const char *underlay, unsigned n_queues,
                      struct vsw_netdev **netdevp)
{
    struct vsw_netdev_vxlan *dev;
    int mtu = underlay_mtu(underlay, local_ip);

    if (mtu < 0) {
        return mtu;
    }
    if (mtu < VSW_VXLAN_OUTER_LEN + 64) {
        return -EINVAL;
    }
    if (n_queues < 1 || n_queues > VSW_NETDEV_MAX_QUEUES) {
        return -EINVAL;
    }
    dev = calloc(1, sizeof *dev);
    if (!dev) {
        return -ENOMEM;
    }
    dev->learned = calloc(1, sizeof *dev->learned);
    dev->up.class = &vxlan_class;
    snprintf(dev->up.ifname, sizeof dev->up.ifname, "%s", name);
    dev->up.n_queues = n_queues;
    dev->up.max_frame = VSW_PACKET_MAX_FRAME;
    dev->up.offloads = false;
    dev->local_ip = local_ip;
    dev->dst_port = dst_port;
    dev->underlay_mtu = (uint32_t)mtu;
    dev->tx_fd = -1;
    for (unsigned q = 0; q < VSW_NETDEV_MAX_QUEUES; q++) {
        dev->up.queue_fd[q] = -1;
    }
    if (!dev->learned) {
        vxlan_destroy(&dev->up, true);
        return -ENOMEM;
    }
    for (unsigned q = 0; q < n_queues; q++) {
        int fd = open_rx_socket(local_ip, dst_port);

        if (fd < 0) {
            vxlan_destroy(&dev->up, true);
            return fd;
        }
        dev->up.queue_fd[q] = fd;
    }
    dev->tx_fd = open_tx_socket(local_ip);
    if (dev->tx_fd < 0) {
        int error = dev->tx_fd;

        vxlan_destroy(&dev->up, true);
        return error;
    }
    *netdevp = &dev->up;
    return 0;
}
