/*
 * vhost-user ports (netdev-vhost-user.c): a VM's virtio-net device
 * served straight from the switch over a unix socket, with the guest's
 * rings and memory mapped into the daemon.
 */
#ifndef VSW_NETDEV_VHOST_USER_H
#define VSW_NETDEV_VHOST_USER_H 1

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "netdev.h"

struct event_base;

/* Options for vsw_netdev_vhost_user_open(). */
struct vsw_vhost_user_options {
    const char *name;        /* port name, for logs */
    const char *socket_path; /* unix socket to create or connect to */
    bool client;             /* connect to 'socket_path' (reconnecting)
                                rather than listen on it */
    gid_t group;             /* server: group the socket is given to */
    bool has_group;          /* false: the daemon's own group */
    unsigned n_queues;       /* worker queues, 1..VSW_NETDEV_MAX_QUEUES */
    struct event_base *base; /* the control thread's loop */
};

/* Creates a vhost-user netdev: in server mode binds and listens on the
 * socket (mode 0660), in client mode starts connecting (and keeps
 * retrying every second while the frontend is away).  Control thread.
 * Returns 0 with '*netdevp' set, or a negative errno. */
int vsw_netdev_vhost_user_open(const struct vsw_vhost_user_options *opts,
                               struct vsw_netdev **netdevp);

/* True if 'netdev' is a vhost-user netdev. */
bool vsw_netdev_is_vhost_user(const struct vsw_netdev *netdev);

/* What "port show" reports about a vhost-user netdev. */
struct vsw_vhost_user_status {
    bool connected;      /* a frontend is attached */
    unsigned n_rings;    /* rings running (kick and addresses set) */
    uint64_t features;   /* virtio features the frontend acked */
    uint64_t rx_invalid; /* frames of the guest not taken (larger than
                            64 KB, or a virtio-net header asking for what
                            was not negotiated or pointing outside the
                            frame), since the port was opened */
    char error[128];     /* why the port stopped (malformed ring), or "" */
};

/* Fills '*status'.  Control thread. */
void vsw_netdev_vhost_user_status(const struct vsw_netdev *netdev,
                                  struct vsw_vhost_user_status *status);

#endif /* VSW_NETDEV_VHOST_USER_H */
