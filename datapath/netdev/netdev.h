/*
 * Network devices a port sends and receives through: the provider
 * interface, in the manner of Open vSwitch's netdev-provider.h.
 *
 * A netdev is created and destroyed on the control thread.  Once it is
 * attached to a worker, that worker alone calls 'rx' on it; any worker may
 * call 'tx' concurrently, so 'tx' keeps no unsynchronized state (each
 * frame goes out in its own system call, which the kernel serializes).
 */
#ifndef VSW_NETDEV_H
#define VSW_NETDEV_H 1

#include <stdbool.h>
#include <stdint.h>

#include "packet.h"

struct vsw_netdev;

/* Queues a netdev may have: one per worker at most. */
#define VSW_NETDEV_MAX_QUEUES 64

struct vsw_netdev_class {
    const char *type; /* "tap" or "uplink": the port type users name */

    /* Reads up to 'max' frames of queue 'queue' (without blocking) into
     * the packets of 'pkts', which the caller has reset; fills data, len
     * and vnet of each.  Returns the number read (0 when nothing is
     * waiting), or a negative errno when the device is gone for good
     * (deleted under the fd), after which the caller stops polling it.
     * Called by the one worker that polls the queue; never NULL. */
    int (*rx)(struct vsw_netdev *netdev, unsigned queue,
              struct vsw_packet *pkts[], int max);

    /* Sends the 'n' frames of 'items' through queue 'queue'.  Returns the
     * number the kernel accepted; the rest (from the first refused one
     * on) are the caller's to count as dropped.  '*error' receives the
     * errno of the first refusal, 0 if none.  Any worker, each with its
     * own queue, so a queue is never written by two threads at once;
     * never NULL. */
    int (*tx)(struct vsw_netdev *netdev, unsigned queue,
              const struct vsw_tx_item *items, int n, int *error);

    /* Optional (NULL for devices read through system calls).  Non-NULL
     * for a netdev whose 'rx' only reads memory (a vhost-user ring), so
     * that calling it on an idle queue costs a few loads: a busy-polling
     * worker then calls 'rx' on the queue every turn instead of waiting
     * for 'queue_fd', and says so here with 'direct' true before its
     * first such call (false once it stops).  While direct, the netdev
     * need not keep 'queue_fd' readable nor ask its peer for wake-ups.
     * Control thread. */
    void (*set_direct_poll)(struct vsw_netdev *netdev, unsigned queue,
                            bool direct);

    /* Frees the netdev.  For a TAP, 'remove' decides whether the kernel
     * device is deleted (port removed) or left in place for the next
     * daemon to reattach (daemon exit).  Control thread; never NULL. */
    void (*destroy)(struct vsw_netdev *netdev, bool remove);
};

/* Common part of every netdev; providers embed it first. */
struct vsw_netdev {
    const struct vsw_netdev_class *class; /* provider */
    char ifname[16];                     /* kernel interface name (IFNAMSIZ) */
    unsigned n_queues;                   /* receive/transmit queues, >= 1 */
    int queue_fd[VSW_NETDEV_MAX_QUEUES]; /* per queue: polls readable when
                                            frames wait */
    uint32_t max_frame; /* largest frame rx accepts, without vnet header */
    bool offloads;      /* takes and gives GSO segments and partially
                           checksummed frames (virtio-net header) */
};

/* Receive and send: thin wrappers over the class. */
static inline int
vsw_netdev_rx(struct vsw_netdev *netdev, unsigned queue,
              struct vsw_packet *pkts[], int max)
{
    return netdev->class->rx(netdev, queue, pkts, max);
}

static inline int
vsw_netdev_tx(struct vsw_netdev *netdev, unsigned queue,
              const struct vsw_tx_item *items, int n, int *error)
{
    return netdev->class->tx(netdev, queue, items, n, error);
}

/* Destroys 'netdev' (NULL allowed); see 'destroy' for 'remove'. */
void vsw_netdev_destroy(struct vsw_netdev *netdev, bool remove);

/* TAP ports (netdev-tap.c). */

/* Options for vsw_netdev_tap_open(). */
struct vsw_tap_options {
    const char *ifname;      /* name to create or reattach to */
    const uint8_t *mac;      /* MAC to give a newly created device, or NULL
                                for a kernel-chosen one */
    int netns_fd;            /* namespace to find an existing device in, or
                                -1 for the daemon's own */
    bool create_only;        /* fail with -EEXIST rather than attach to an
                                interface that already exists */
    bool must_exist;         /* fail with -ENODEV rather than create */
    int ifindex;             /* if non-zero, the device's index in its
                                namespace: it finds the device even after
                                its owner renamed it */
    unsigned n_queues;       /* queues to open, 1..VSW_NETDEV_MAX_QUEUES */
    const uint8_t *find_mac; /* if neither 'ifindex' nor 'ifname' finds
                            the device, look for the interface with
                            this MAC (it was renamed while nobody
                            watched), or NULL */
    bool prefer_mac;         /* with 'find_mac': the MAC alone identifies
                                the device (searching other namespaces,
                                where a name proves nothing) */
    bool no_offloads;        /* plain frames, no virtio-net header: the
                                kernel segments and checksums what the VM
                                sends, the switch what it receives (the
                                port's offloads=false) */
};

/* Creates the persistent TAP device 'opts->ifname' or reattaches to it if
 * it exists (in 'opts->netns_fd' when given).  On success stores the
 * netdev (owned by the caller) in '*netdevp' and returns 0; sets
 * '*reattached' to whether the device already existed.  Returns a
 * negative errno on failure.  Control thread. */
int vsw_netdev_tap_open(const struct vsw_tap_options *opts,
                        struct vsw_netdev **netdevp, bool *reattached);

/* Returns a new fd for the network namespace the TAP device of 'netdev'
 * lives in now (TUNGETDEVNETNS), or a negative errno.  Control thread. */
int vsw_netdev_tap_get_netns(const struct vsw_netdev *netdev);

/* Copies the name the TAP device of 'netdev' has now (its owner may have
 * renamed it) into 'name' (IFNAMSIZ bytes).  Returns 0 or a negative
 * errno.  Control thread. */
int vsw_netdev_tap_get_name(const struct vsw_netdev *netdev, char *name);

/* The interface index of the TAP device of 'netdev' in the namespace
 * 'nsfd' it lives in (-1: the daemon's own), or a negative errno.
 * Control thread. */
int vsw_netdev_tap_get_ifindex(const struct vsw_netdev *netdev, int nsfd);

/* Copies the MAC of the TAP device of 'netdev' into 'mac'.  Returns 0 or
 * a negative errno.  Control thread. */
int vsw_netdev_tap_get_mac(const struct vsw_netdev *netdev, uint8_t mac[6]);

/* Clears the persist flag of the TAP device of 'netdev': the kernel
 * deletes it when its last fd closes, by vsw_netdev_destroy() or the
 * daemon's exit.  Returns 0 or a negative errno.  Control thread. */
int vsw_netdev_tap_unpersist(const struct vsw_netdev *netdev);

/* True if 'netdev' is a TAP. */
bool vsw_netdev_is_tap(const struct vsw_netdev *netdev);

/* Uplink ports (netdev-uplink.c). */

/* Attaches to the existing interface 'ifname' of the daemon's namespace
 * with 'n_queues' AF_PACKET sockets (a fanout group spreading flows over
 * them when more than one), in promiscuous mode.  With 'offloads' the
 * sockets exchange virtio-net headers, so GSO segments pass whole.
 * Stores the netdev in '*netdevp' and returns 0, or returns a negative
 * errno (-ENODEV if there is no such interface).  Control thread. */
int vsw_netdev_uplink_open(const char *ifname, unsigned n_queues,
                           bool offloads, struct vsw_netdev **netdevp);

/* Opens a packet socket that only sends, on the interface of the uplink
 * 'netdev', for a thread other than the workers (the QoS scheduler, which
 * must not share a worker's socket): blocking, exchanging virtio-net
 * headers like the port's own sockets.  Returns it (the caller closes
 * it), or -EINVAL if 'netdev' is no uplink, or another negative errno. */
int vsw_netdev_uplink_open_tx(const struct vsw_netdev *netdev);

/* Sends the 'n' frames of 'items' through 'fd' (from
 * vsw_netdev_uplink_open_tx()), waiting for room in the socket's buffer.
 * Returns and reports as the class's 'tx'.  Any one thread per 'fd'. */
int vsw_netdev_uplink_send(int fd, const struct vsw_tx_item *items, int n,
                           int *error);

/* Interface state, for "link" in the API: true if the interface of
 * 'netdev' is up with carrier.  Control thread. */
bool vsw_netdev_link_is_up(const struct vsw_netdev *netdev);

#endif /* VSW_NETDEV_H */
