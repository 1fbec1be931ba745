/*
 * rtnetlink link events (libnl-3): an interface appeared, vanished or
 * changed, so a TAP may have left for another namespace; the ports are
 * tracked at once rather than at the next tick.
 */
#include <errno.h>
#include <event2/event.h>
#include <linux/rtnetlink.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "manager-private.h"

/* The interfaces one read of link messages names: only their ports are
 * looked at, not all (a thousand TAPs would cost a thousand ioctls per
 * event, and adding one sends several events). */
#define LINK_BATCH_MAX 64

static struct link_batch {
    int ifindex[LINK_BATCH_MAX]; /* each named once */
    size_t n;                    /* entries in 'ifindex' */
    bool overflow;               /* more than fit: look at every port */
} batch;                         /* one link socket per daemon */

static int
link_msg_cb(struct nl_msg *msg, void *arg)
{
    const struct nlmsghdr *nlh = nlmsg_hdr(msg);
    const struct ifinfomsg *ifi;

    (void)arg;
    if ((nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK) ||
        nlh->nlmsg_len < NLMSG_LENGTH(sizeof *ifi)) {
        return NL_OK;
    }
    ifi = nlmsg_data(nlh);
    for (size_t i = 0; i < batch.n; i++) {
        if (batch.ifindex[i] == ifi->ifi_index) {
            return NL_OK;
        }
    }
    if (batch.n < LINK_BATCH_MAX) {
        batch.ifindex[batch.n++] = ifi->ifi_index;
    } else {
        batch.overflow = true;
    }
    return NL_OK;
}

/* An interface appeared, vanished or changed: a TAP may have left for
 * another namespace, so look now rather than at the next tick. */
static void
link_event_cb(evutil_socket_t fd, short what, void *mgr_)
{
    struct vsw_manager *mgr = mgr_;

    (void)fd;
    (void)what;
    batch.n = 0;
    batch.overflow = false;
    nl_recvmsgs_default(mgr->link_sock);
    if (batch.overflow) {
        mgr_track_all(mgr);
    } else {
        mgr_track_links(mgr, batch.ifindex, batch.n);
    }
    mgr_team_link_event(mgr);
}

int
mgr_link_monitor_start(struct vsw_manager *mgr)
{
    mgr->link_sock = nl_socket_alloc();
    if (!mgr->link_sock) {
        return -ENOMEM;
    }
    nl_socket_disable_seq_check(mgr->link_sock);
    nl_socket_modify_cb(mgr->link_sock, NL_CB_VALID, NL_CB_CUSTOM, link_msg_cb,
                        NULL);
    if (nl_connect(mgr->link_sock, NETLINK_ROUTE) ||
        nl_socket_add_membership(mgr->link_sock, RTNLGRP_LINK) ||
        nl_socket_set_nonblocking(mgr->link_sock)) {
        return -EIO;
    }
    mgr->link_event = event_new(mgr->base, nl_socket_get_fd(mgr->link_sock),
                                EV_READ | EV_PERSIST, link_event_cb, mgr);
    if (!mgr->link_event || event_add(mgr->link_event, NULL)) {
        return -ENOMEM;
    }
    return 0;
}
