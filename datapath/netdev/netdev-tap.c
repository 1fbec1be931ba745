/*
 * TAP ports: the daemon creates a persistent TAP device through
 * /dev/net/tun and keeps its fd; the netdev side belongs to the VM or
 * container, which may move it into its own network namespace.  Traffic
 * keeps flowing through the fd wherever the netdev goes.
 *
 * The device is opened with IFF_VNET_HDR and IFF_MULTI_QUEUE, with one
 * queue per worker: the kernel spreads the VM's flows over the queues,
 * each worker reads its own queue and writes through its own, so no two
 * threads share a queue.  Every frame carries a virtio-net header, and
 * the switch takes TCP segments of up to 64 KB with partial checksums
 * (TUNSETOFFLOAD), which it passes on whole wherever the destination
 * takes them too.  A port with offloads=false opens the device without
 * IFF_VNET_HDR: plain frames both ways, which saves the kernel a header
 * copy per frame (a few percent of a small frame's write) and costs
 * segmentation in software for large ones.
 */
#include "netdev.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netns.h"

#define TAP_FLAGS (IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE)

/* What the switch accepts from the kernel: checksum offload and TCP
 * segmentation, so one read moves up to a 64 KB segment. */
#define TAP_OFFLOADS (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN)

static const struct vsw_netdev_class tap_class;

struct tap_attach {
    const struct vsw_tap_options *opts; /* what to open */
    int fds[VSW_NETDEV_MAX_QUEUES];     /* result: one fd per queue */
    bool existed;                       /* result: device was there */
};

/* Opens one queue of the TAP device 'ifname', with virtio-net headers and
 * offloads unless 'no_offloads'.  The first queue also makes the device
 * persistent.  Returns the fd or a negative errno. */
static int
tap_open_queue(const char *ifname, bool first, bool no_offloads)
{
    int hdr_size = sizeof(struct virtio_net_hdr);
    struct ifreq ifr;
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);

    if (fd < 0) {
        return -errno;
    }
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
    ifr.ifr_flags = TAP_FLAGS | (no_offloads ? 0 : IFF_VNET_HDR);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0 ||
        (first && ioctl(fd, TUNSETPERSIST, 1) < 0) ||
        (!no_offloads && ioctl(fd, TUNSETVNETHDRSZ, &hdr_size) < 0) ||
        ioctl(fd, TUNSETOFFLOAD, no_offloads ? 0 : TAP_OFFLOADS) < 0) {
        int error = -errno;

        close(fd);
        return error;
    }
    return fd;
}

/* Finds the interface of the calling thread's namespace whose MAC is
 * 'mac' and copies its name into 'name'.  Returns true if there is one. */
static bool
find_by_mac(const uint8_t mac[6], char name[IF_NAMESIZE])
{
    struct if_nameindex *list = if_nameindex();
    bool found = false;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    for (struct if_nameindex *i = list; fd >= 0 && i && i->if_index && !found;
         i++) {
        struct ifreq ifr;

        memset(&ifr, 0, sizeof ifr);
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", i->if_name);
        if (!ioctl(fd, SIOCGIFHWADDR, &ifr) &&
            !memcmp(ifr.ifr_hwaddr.sa_data, mac, 6)) {
            snprintf(name, IF_NAMESIZE, "%s", i->if_name);
            found = true;
        }
    }
    if (fd >= 0) {
        close(fd);
    }
    if_freenameindex(list);
    return found;
}

/* Opens (creating if needed) the TAP device and its queues in the calling
 * thread's namespace.  Runs either on the control thread or, for a device
 * in another namespace, on a vsw_netns_call() thread. */
static int
tap_attach(void *attach_)
{
    struct tap_attach *attach = attach_;
    const struct vsw_tap_options *opts = attach->opts;
    char by_index[IF_NAMESIZE];
    const char *ifname = opts->ifname;
    struct ifreq ifr;
    int error;

    if (opts->ifindex && if_indextoname(opts->ifindex, by_index)) {
        ifname = by_index;
    } else if ((opts->prefer_mac || !if_nametoindex(ifname)) &&
               opts->find_mac && find_by_mac(opts->find_mac, by_index)) {
        ifname = by_index;
    } else if (opts->prefer_mac && opts->find_mac) {
        /* Only the MAC says a device is ours here. */
        return -ENODEV;
    }
    attach->existed = if_nametoindex(ifname) != 0;
    if (attach->existed && opts->create_only) {
        return -EEXIST;
    }
    if (!attach->existed && opts->must_exist) {
        return -ENODEV;
    }
    for (unsigned q = 0; q < opts->n_queues; q++) {
        attach->fds[q] = tap_open_queue(ifname, q == 0, opts->no_offloads);
        if (attach->fds[q] < 0) {
            error = attach->fds[q];
            goto fail;
        }
    }
    if (!attach->existed && opts->mac) {
        memset(&ifr, 0, sizeof ifr);
        ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
        memcpy(ifr.ifr_hwaddr.sa_data, opts->mac, VSW_ETH_ALEN);
        if (ioctl(attach->fds[0], SIOCSIFHWADDR, &ifr) < 0) {
            error = -errno;
            ioctl(attach->fds[0], TUNSETPERSIST, 0);
            goto fail;
        }
    }
    return 0;

fail:
    for (unsigned q = 0; q < opts->n_queues && attach->fds[q] >= 0; q++) {
        close(attach->fds[q]);
    }
    return error;
}

int
vsw_netdev_tap_open(const struct vsw_tap_options *opts,
                    struct vsw_netdev **netdevp, bool *reattached)
{
    struct tap_attach attach = {.opts = opts};
    struct vsw_netdev *tap;
    int error;

    if (!opts->ifname[0] || strlen(opts->ifname) >= IFNAMSIZ ||
        !opts->n_queues || opts->n_queues > VSW_NETDEV_MAX_QUEUES) {
        return -EINVAL;
    }
    for (unsigned q = 0; q < VSW_NETDEV_MAX_QUEUES; q++) {
        attach.fds[q] = -1;
    }
    error = opts->netns_fd >= 0
                ? vsw_netns_call(opts->netns_fd, tap_attach, &attach)
                : tap_attach(&attach);
    if (error) {
        return error;
    }
    tap = calloc(1, sizeof *tap);
    if (!tap) {
        for (unsigned q = 0; q < opts->n_queues; q++) {
            close(attach.fds[q]);
        }
        return -ENOMEM;
    }
    tap->class = &tap_class;
    snprintf(tap->ifname, sizeof tap->ifname, "%s", opts->ifname);
    tap->n_queues = opts->n_queues;
    memcpy(tap->queue_fd, attach.fds, opts->n_queues * sizeof *attach.fds);
    tap->max_frame = VSW_PACKET_MAX_FRAME;
    tap->offloads = !opts->no_offloads;
    *netdevp = tap;
    if (reattached) {
        *reattached = attach.existed;
    }
    return 0;
}

static int
tap_rx(struct vsw_netdev *netdev, unsigned queue, struct vsw_packet *pkts[],
       int max)
{
    int fd = netdev->queue_fd[queue];
    int n;

    for (n = 0; n < max; n++) {
        struct vsw_packet *pkt = pkts[n];
        struct iovec iov[2] = {
            {.iov_base = &pkt->vnet, .iov_len = sizeof pkt->vnet},
            {.iov_base = pkt->data, .iov_len = netdev->max_frame},
        };
        /* Without offloads, no header: the frame alone (and the
         * packet's header stays as reset, all zero). */
        ssize_t r = netdev->offloads ? readv(fd, iov, 2)
                                     : read(fd, pkt->data, netdev->max_frame);

        if (r >= 0 && !netdev->offloads) {
            r += sizeof pkt->vnet; /* as if a header had come first */
        }

        if (r < 0) {
            if (errno == EINTR) {
                n--;
                continue;
            }
            /* EBADFD: the device was deleted under the fd.  Frames read
             * before that still go through. */
            if (errno != EAGAIN && n == 0) {
                return -errno;
            }
            break;
        }
        if ((size_t)r < sizeof pkt->vnet) {
            n--;
            continue;
        }
        pkt->len = (uint32_t)(r - sizeof pkt->vnet);
    }
    return n;
}

static int
tap_tx(struct vsw_netdev *netdev, unsigned queue,
       const struct vsw_tx_item *items, int n, int *error)
{
    int fd = netdev->queue_fd[queue];

    *error = 0;
    for (int i = 0; i < n; i++) {
        struct vsw_tx_flat flat;
        ssize_t r;

        /* One contiguous write() when the buffer has room for the
         * header in front: the kernel's writev() path (importing the
         * iovec, copying piece by piece) cost about a fifth more per
         * frame than write() in the guest -> TAP benchmark. */
        if (vsw_tx_item_flatten(&items[i], netdev->offloads, &flat)) {
            while ((r = write(fd, flat.start, flat.len)) < 0 &&
                   errno == EINTR) {
            }
            vsw_tx_item_unflatten(&flat);
        } else {
            struct virtio_net_hdr hdr;
            struct iovec iov[VSW_TX_IOV_MAX];
            uint8_t tag[4];
            int iovcnt = vsw_tx_item_iov(&items[i], &hdr, tag, iov);
            int skip = netdev->offloads ? 0 : 1; /* iov[0]: the header */

            while ((r = writev(fd, iov + skip, iovcnt - skip)) < 0 &&
                   errno == EINTR) {
            }
        }
        if (r < 0) {
            *error = errno;
            return i;
        }
    }
    return n;
}

static void
tap_destroy(struct vsw_netdev *netdev, bool remove)
{
    if (remove) {
        /* Without the persist flag the kernel deletes the device when
         * its last fd closes, in whatever namespace it lives now. */
        ioctl(netdev->queue_fd[0], TUNSETPERSIST, 0);
    }
    for (unsigned q = 0; q < netdev->n_queues; q++) {
        close(netdev->queue_fd[q]);
    }
    free(netdev);
}

int
vsw_netdev_tap_get_netns(const struct vsw_netdev *netdev)
{
    int fd = ioctl(netdev->queue_fd[0], TUNGETDEVNETNS);

    return fd < 0 ? -errno : fd;
}

static int
lookup_ifindex(void *name)
{
    unsigned int index = if_nametoindex(name);

    return index ? (int)index : -errno;
}

int
vsw_netdev_tap_get_ifindex(const struct vsw_netdev *netdev, int nsfd)
{
    char name[IFNAMSIZ];
    int error = vsw_netdev_tap_get_name(netdev, name);

    if (error) {
        return error;
    }
    return nsfd >= 0 ? vsw_netns_call(nsfd, lookup_ifindex, name)
                     : lookup_ifindex(name);
}

int
vsw_netdev_tap_get_mac(const struct vsw_netdev *netdev, uint8_t mac[6])
{
    struct ifreq ifr;

    memset(&ifr, 0, sizeof ifr);
    if (ioctl(netdev->queue_fd[0], SIOCGIFHWADDR, &ifr) < 0) {
        return -errno;
    }
    memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
    return 0;
}

int
vsw_netdev_tap_get_name(const struct vsw_netdev *netdev, char *name)
{
    struct ifreq ifr;

    memset(&ifr, 0, sizeof ifr);
    if (ioctl(netdev->queue_fd[0], TUNGETIFF, &ifr) < 0) {
        return -errno;
    }
    memcpy(name, ifr.ifr_name, IFNAMSIZ);
    name[IFNAMSIZ - 1] = '\0';
    return 0;
}

int
vsw_netdev_tap_unpersist(const struct vsw_netdev *netdev)
{
    return ioctl(netdev->queue_fd[0], TUNSETPERSIST, 0) < 0 ? -errno : 0;
}

bool
vsw_netdev_is_tap(const struct vsw_netdev *netdev)
{
    return netdev->class == &tap_class;
}

static const struct vsw_netdev_class tap_class = {
    .type = "tap",
    .rx = tap_rx,
    .tx = tap_tx,
    .destroy = tap_destroy,
};
