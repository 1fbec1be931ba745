/*
 * Where each port's TAP device is, and getting it back.  TAPs are
 * persistent, so a VM keeps its interface while no daemon runs; their
 * owners may move them to other namespaces and rename them.  The daemon
 * follows each one (namespace pin, name, index, MAC), saves where it is,
 * and a restarted daemon reattaches by that record, or searches the
 * host's namespaces, before it creates a new device.
 *
 * Deleting TAPs: the kernel takes tens of milliseconds to delete one
 * device (it waits for its own grace periods), so the TAPs of ports
 * removed together are deleted together, by one netlink request for a
 * device group: ports deleted by one port.del list go in the time of one.
 * A port deleted alone does not wait at all: its TAP is made
 * non-persistent, taken down and renamed to a private name (which frees
 * its name at once), and a reaper thread closes its fds, when the kernel
 * deletes it (see "Deleting a TAP" in docs/architecture.md).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/rtnetlink.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "manager-private.h"
#include "netns.h"

void
mgr_netns_pin_path(const struct vsw_manager *mgr, const struct mgr_port *port,
                   char *path, size_t size)
{
    snprintf(path, size, "%s/netns/%s", mgr->state_dir, port->name);
}

json_t *
mgr_tap_location_to_json(const struct mgr_port *port)
{
    json_t *location = json_pack(
        "{s:b, s:s, s:i}", "netns-pinned", port->netns_pinned, "ifname",
        port->cur_ifname[0] ? port->cur_ifname : port->cfg.ifname, "ifindex",
        port->cur_ifindex);

    if (port->has_cur_mac) {
        char mac[18];

        vsw_mac_format(port->cur_mac, mac);
        json_object_set_new(location, "mac", json_string(mac));
    }
    return location;
}

/* Reattaches to the TAP of 'port' where 'location' (saved by an earlier
 * daemon) says it is: in the pinned namespace or the daemon's own, found
 * by index (which survives renames) or name.  Returns 0 or a negative
 * errno; -ENODEV if it is not there. */
static int
tap_reattach(struct vsw_manager *mgr, struct mgr_port *port, json_t *location,
             struct vsw_netdev **netdevp)
{
    const char *name = json_string_value(json_object_get(location, "ifname"));
    json_int_t ifindex =
        json_integer_value(json_object_get(location, "ifindex"));
    const char *mac = json_string_value(json_object_get(location, "mac"));
    uint8_t find_mac[6];
    struct vsw_tap_options opts = {
        .ifname = name && strlen(name) < IFNAMSIZ ? name : port->cfg.ifname,
        .netns_fd = -1,
        .must_exist = true,
        .n_queues = vsw_datapath_n_workers(mgr->dp),
        .ifindex = ifindex > 0 && ifindex < INT32_MAX ? (int)ifindex : 0,
        .find_mac = mac && !vsw_mac_parse(mac, find_mac) ? find_mac : NULL,
        .no_offloads = !port->cfg.offloads,
    };
    int error;

    if (json_is_true(json_object_get(location, "netns-pinned"))) {
        char pin[PATH_MAX];

        mgr_netns_pin_path(mgr, port, pin, sizeof pin);
        opts.netns_fd = open(pin, O_RDONLY | O_CLOEXEC);
        if (opts.netns_fd < 0) {
            VSW_WARN("port %s: namespace pin %s: %s", port->name, pin,
                     strerror(errno));
            return -ENODEV;
        }
    }
    error = vsw_netdev_tap_open(&opts, netdevp, NULL);
    if (opts.netns_fd >= 0) {
        close(opts.netns_fd);
    }
    return error;
}

/* Looks for the TAP of 'port' (by the name 'location' last saw, or its
 * configured one) in every other network namespace of the host: named
 * ones (/run/netns) and those of running processes.  Its owner may have
 * moved it while no daemon was watching.  Returns 0 or -ENODEV. */
static int
tap_search(struct vsw_manager *mgr, struct mgr_port *port, json_t *location,
           struct vsw_netdev **netdevp)
{
    const char *seen = json_string_value(json_object_get(location, "ifname"));
    static const char *const dirs[] = {"/run/netns", "/proc"};
    const char *mac = json_string_value(json_object_get(location, "mac"));
    uint8_t find_mac[6];
    bool find_mac_ok = mac && !vsw_mac_parse(mac, find_mac);
    ino_t tried[256];
    size_t n_tried = 0;

    for (size_t d = 0; d < sizeof dirs / sizeof *dirs; d++) {
        DIR *dir = opendir(dirs[d]);
        struct dirent *de;

        while (dir && (de = readdir(dir))) {
            struct vsw_tap_options opts = {
                .netns_fd = -1,
                .must_exist = true,
                .n_queues = vsw_datapath_n_workers(mgr->dp),
                .find_mac = find_mac_ok ? find_mac : NULL,
                .prefer_mac = find_mac_ok,
                .no_offloads = !port->cfg.offloads,
            };
            char path[PATH_MAX];
            ino_t ino;
            int nsfd;
            bool done = false;

            if (de->d_name[0] == '.' ||
                (d == 1 && (de->d_name[0] < '0' || de->d_name[0] > '9'))) {
                continue;
            }
            snprintf(path, sizeof path, d == 0 ? "%s/%s" : "%s/%s/ns/net",
                     dirs[d], de->d_name);
            nsfd = open(path, O_RDONLY | O_CLOEXEC);
            if (nsfd < 0) {
                continue;
            }
            ino = vsw_netns_inode(nsfd);
            for (size_t i = 0; i < n_tried && !done; i++) {
                done = tried[i] == ino;
            }
            if (done || ino == mgr->own_netns_ino ||
                n_tried == sizeof tried / sizeof *tried) {
                close(nsfd);
                continue;
            }
            tried[n_tried++] = ino;
            opts.netns_fd = nsfd;
            for (int name = 0; name < 2 && !done; name++) {
                opts.ifname = name == 0 && seen && strlen(seen) < IFNAMSIZ
                                  ? seen
                                  : port->cfg.ifname;
                done = !vsw_netdev_tap_open(&opts, netdevp, NULL);
            }
            close(nsfd);
            if (done) {
                closedir(dir);
                VSW_INFO("port %s: found its TAP in namespace %s", port->name,
                         path);
                return 0;
            }
        }
        if (dir) {
            closedir(dir);
        }
    }
    return -ENODEV;
}

int
mgr_port_open_device(struct vsw_manager *mgr, struct mgr_port *port,
                     bool restore, json_t *location)
{
    struct vsw_netdev *netdev = NULL;
    int error;

    if (port->cfg.type == MGR_PORT_TEAM) {
        return mgr_team_open_device(mgr, port);
    }
    if (port->cfg.type == MGR_PORT_VXLAN) {
        error = mgr_tunnel_open_device(mgr, port, &netdev);
    } else if (port->cfg.type == MGR_PORT_VHOST_USER) {
        error = mgr_vhost_open(mgr, port, &netdev);
    } else if (port->cfg.type == MGR_PORT_UPLINK) {
        error = vsw_netdev_uplink_open(port->cfg.ifname,
                                       vsw_datapath_n_workers(mgr->dp),
                                       port->cfg.offloads, &netdev);
    } else {
        error = -ENODEV;
        if (location) {
            error = tap_reattach(mgr, port, location, &netdev);
            if (!error) {
                VSW_INFO("port %s: reattached to its TAP", port->name);
            } else {
                char pin[PATH_MAX];

                mgr_netns_pin_path(mgr, port, pin, sizeof pin);
                vsw_netns_unpin(pin);
                error = tap_search(mgr, port, location, &netdev);
                if (error) {
                    VSW_WARN("port %s: TAP not found where it was last seen "
                             "nor in any other namespace; attaching to or "
                             "creating %s in the daemon's namespace",
                             port->name, port->cfg.ifname);
                }
            }
        }
        if (error) {
            struct vsw_tap_options opts = {
                .ifname = port->cfg.ifname,
                .mac = port->cfg.mac.set ? port->cfg.mac.addr : NULL,
                .netns_fd = -1,
                .create_only = !restore,
                .n_queues = vsw_datapath_n_workers(mgr->dp),
                .no_offloads = !port->cfg.offloads,
            };

            error = vsw_netdev_tap_open(&opts, &netdev, NULL);
        }
    }
    if (error) {
        return error;
    }
    port->rt = vsw_port_rt_create(mgr->dp, port->id, port->name, netdev);
    if (!port->rt) {
        vsw_netdev_destroy(netdev, !restore);
        return -ENOMEM;
    }
    /* Polling starts with the next publish (mgr_publish()), once the
     * snapshot has the port. */
    port->last_error[0] = '\0';
    if (port->cfg.type == MGR_PORT_TAP) {
        mgr_port_track(mgr, port);
    }
    return 0;
}

bool
mgr_port_track(struct vsw_manager *mgr, struct mgr_port *port)
{
    char name[IFNAMSIZ];
    bool changed = false;
    ino_t ino;
    int nsfd;

    if (port->cfg.type != MGR_PORT_TAP || !port->rt) {
        return false;
    }
    nsfd = vsw_netdev_tap_get_netns(port->rt->netdev);
    if (nsfd < 0) {
        return false;
    }
    ino = vsw_netns_inode(nsfd);
    if (ino == mgr->own_netns_ino) {
        if (port->netns_pinned) {
            char pin[PATH_MAX];

            mgr_netns_pin_path(mgr, port, pin, sizeof pin);
            vsw_netns_unpin(pin);
            port->netns_pinned = false;
            changed = true;
        }
    } else if (!port->netns_pinned || ino != port->netns_ino) {
        char pin[PATH_MAX];
        int error;

        mgr_netns_pin_path(mgr, port, pin, sizeof pin);
        error = vsw_netns_pin(nsfd, pin);
        if (error) {
            VSW_ERR("port %s: cannot pin namespace at %s: %s", port->name, pin,
                    strerror(-error));
        } else {
            port->netns_pinned = true;
            changed = true;
        }
    }
    port->netns_ino = ino;
    if (!vsw_netdev_tap_get_name(port->rt->netdev, name) &&
        strcmp(name, port->cur_ifname)) {
        snprintf(port->cur_ifname, sizeof port->cur_ifname, "%s", name);
        changed = true;
    }
    if (!port->has_cur_mac) {
        port->has_cur_mac =
            !vsw_netdev_tap_get_mac(port->rt->netdev, port->cur_mac);
        changed |= port->has_cur_mac;
    }
    if (changed || !port->cur_ifindex) {
        /* Costs a thread for a foreign namespace: only on change. */
        int index = vsw_netdev_tap_get_ifindex(
            port->rt->netdev, ino == mgr->own_netns_ino ? -1 : nsfd);

        if (index > 0 && index != port->cur_ifindex) {
            port->cur_ifindex = index;
            changed = true;
        }
    }
    close(nsfd);
    if (changed) {
        /* Its saved location, whichever save comes next. */
        mgr_config_port_changed(port);
    }
    return changed;
}

void
mgr_track_all(struct vsw_manager *mgr)
{
    bool changed = false;

    for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        for (struct mgr_port *p = sw->ports; p; p = p->next) {
            changed |= mgr_port_track(mgr, p);
        }
    }
    if (changed) {
        mgr_config_save(mgr, NULL);
    }
}

void
mgr_track_links(struct vsw_manager *mgr, const int *ifindexes, size_t n)
{
    bool changed = false;

    for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        for (struct mgr_port *p = sw->ports; p; p = p->next) {
            /* An event in the daemon's namespace names a TAP there by
             * its index (renamed, or gone to another namespace); one that
             * comes back from another namespace may have a new index, so
             * every TAP away is looked at. */
            bool named = p->netns_pinned || !p->cur_ifindex;

            for (size_t i = 0; i < n && !named; i++) {
                named = ifindexes[i] == p->cur_ifindex;
            }
            if (named && p->cfg.type == MGR_PORT_TAP) {
                changed |= mgr_port_track(mgr, p);
            }
        }
    }
    if (changed) {
        mgr_config_save(mgr, NULL);
    }
}

/* ---- Deleting TAPs together ---- */

/* The runtimes whose TAP the next reap deletes (the daemon has one
 * control thread, and one set of them). */
static struct doomed_taps {
    struct vsw_port_rt **rts; /* their devices still open */
    size_t n, size;           /* entries, room */
    bool reap_due;            /* a publish must schedule a reap */
    struct nl_sock *sock;     /* rtnetlink, opened on first use */
} doomed;

void
mgr_tap_delete_later(void)
{
    doomed.reap_due = true;
}

bool
mgr_tap_take_reap_due(void)
{
    bool due = doomed.reap_due;

    doomed.reap_due = false;
    return due;
}

bool
mgr_tap_doom(struct vsw_port_rt *rt)
{
    if (doomed.n == doomed.size) {
        size_t size = doomed.size ? 2 * doomed.size : 64;
        struct vsw_port_rt **rts = realloc(doomed.rts, size * sizeof *rts);

        if (!rts) {
            return false;
        }
        doomed.rts = rts;
        doomed.size = size;
    }
    doomed.rts[doomed.n++] = rt;
    return true;
}

/* Sends one rtnetlink request for the interface 'ifindex' (0: none)
 * with the 32-bit attribute 'attr' = 'value', and waits for its answer.
 * Returns 0 or a negative libnl error. */
static int
link_request(struct nl_sock *sock, int type, int ifindex, int attr,
             uint32_t value)
{
    struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = ifindex};
    struct nl_msg *msg = nlmsg_alloc_simple(type, NLM_F_REQUEST | NLM_F_ACK);

    if (!msg) {
        return -NLE_NOMEM;
    }
    if (nlmsg_append(msg, &ifi, sizeof ifi, NLMSG_ALIGNTO) < 0 ||
        nla_put_u32(msg, attr, value) < 0) {
        nlmsg_free(msg);
        return -NLE_NOMEM;
    }
    return nl_send_sync(sock, msg); /* frees 'msg' */
}

/* Puts the doomed TAPs that are in the daemon's namespace into a device
 * group of their own and deletes the group: the kernel deletes them all
 * in one go.  The group number is drawn at random once, with the top bit
 * set: no default group, and no other daemon's (a pid would not do, as
 * daemons in two pid namespaces may share a network namespace). */
static uint32_t
tap_group(void)
{
    static uint32_t group;

    while (!group) {
        if (getrandom(&group, sizeof group, 0) != sizeof group) {
            group = (uint32_t)getpid() ^ (uint32_t)time(NULL);
        }
        group |= 0x80000000u;
    }
    return group;
}

static void
delete_group(struct vsw_manager *mgr)
{
    uint32_t group = tap_group();
    size_t n_grouped = 0;

    if (!doomed.sock) {
        doomed.sock = nl_socket_alloc();
        if (!doomed.sock || nl_connect(doomed.sock, NETLINK_ROUTE)) {
            nl_socket_free(doomed.sock);
            doomed.sock = NULL;
            return;
        }
    }
    for (size_t i = 0; i < doomed.n; i++) {
        struct vsw_netdev *netdev = doomed.rts[i]->netdev;
        int nsfd = vsw_netdev_tap_get_netns(netdev);
        bool here = nsfd >= 0 && vsw_netns_inode(nsfd) == mgr->own_netns_ino;
        int ifindex = here ? vsw_netdev_tap_get_ifindex(netdev, -1) : -1;

        if (nsfd >= 0) {
            close(nsfd);
        }
        if (ifindex > 0 && !link_request(doomed.sock, RTM_SETLINK, ifindex,
                                         IFLA_GROUP, group)) {
            n_grouped++;
        }
    }
    if (n_grouped &&
        link_request(doomed.sock, RTM_DELLINK, 0, IFLA_GROUP, group)) {
        /* Closing each device's fds deletes it anyway, one by one. */
        VSW_WARN("cannot delete %zu TAP devices at once: each goes alone",
                 n_grouped);
    }
}

/* ---- The reaper: closing hidden TAPs off the control thread ---- */

/* A runtime whose TAP was hidden, waiting for its fds to be closed. */
struct reaped_rt {
    struct reaped_rt *next;
    struct vsw_port_rt *rt;
    int ifindex;         /* of its device when it was hidden */
    char name[IFNAMSIZ]; /* its private name */
};

/* The reaper thread, started with the first TAP it gets; it closes them
 * in the order they came and ends, having closed every one, when the
 * daemon stops (mgr_tap_reaper_stop()). */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;     /* work came, or stop */
    struct reaped_rt *head;  /* oldest first */
    struct reaped_rt **tail; /* where the next one goes */
    bool started, stop;
    pthread_t thread;
    struct nl_sock *sock; /* the reaper's rtnetlink, on first use */
    uint32_t group;       /* its device group, set by the control thread */
} reaper = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .tail = &reaper.head,
};

/* Deletes the devices of the batch 'list' (more than one) with one
 * request, as delete_group() does, so the reaper keeps up with ports
 * deleted one request each: every device alone would cost it the
 * kernel's wait.  A device is grouped only if it still has the private
 * name and index it was given (not moved away, not deleted by hand). */
static void
reaper_delete_group(struct reaped_rt *list, uint32_t group)
{
    size_t n_grouped = 0;

    if (!reaper.sock) {
        reaper.sock = nl_socket_alloc();
        if (!reaper.sock || nl_connect(reaper.sock, NETLINK_ROUTE)) {
            nl_socket_free(reaper.sock);
            reaper.sock = NULL;
            return;
        }
    }
    for (struct reaped_rt *r = list; r; r = r->next) {
        char name[IFNAMSIZ];

        if (!vsw_netdev_tap_get_name(r->rt->netdev, name) &&
            !strcmp(name, r->name) &&
            (int)if_nametoindex(name) == r->ifindex &&
            !link_request(reaper.sock, RTM_SETLINK, r->ifindex, IFLA_GROUP,
                          group)) {
            n_grouped++;
        }
    }
    if (n_grouped > 1) {
        /* Closing the fds deletes them anyway, one by one. */
        link_request(reaper.sock, RTM_DELLINK, 0, IFLA_GROUP, group);
    }
}

static void *
reaper_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&reaper.lock);
    for (;;) {
        struct reaped_rt *list = reaper.head;
        uint32_t group = reaper.group;

        if (!list) {
            if (reaper.stop) {
                break;
            }
            pthread_cond_wait(&reaper.wake, &reaper.lock);
            continue;
        }
        /* All that came while the last batch went. */
        reaper.head = NULL;
        reaper.tail = &reaper.head;
        pthread_mutex_unlock(&reaper.lock);
        if (list->next) {
            reaper_delete_group(list, group);
        }
        while (list) {
            struct reaped_rt *r = list;

            list = r->next;
            /* The last close unregisters the device and waits for the
             * kernel's grace periods: the wait this thread exists for. */
            vsw_port_rt_destroy(r->rt, true);
            free(r);
        }
        pthread_mutex_lock(&reaper.lock);
    }
    pthread_mutex_unlock(&reaper.lock);
    nl_socket_free(reaper.sock);
    reaper.sock = NULL;
    return NULL;
}

/* Hands 'rt' to the reaper.  False if it cannot take it (out of memory,
 * no thread): the caller closes it. */
static bool
reaper_add(struct vsw_port_rt *rt, int ifindex, const char *name)
{
    struct reaped_rt *r = malloc(sizeof *r);

    if (!r) {
        return false;
    }
    r->next = NULL;
    r->rt = rt;
    r->ifindex = ifindex;
    snprintf(r->name, sizeof r->name, "%s", name);
    pthread_mutex_lock(&reaper.lock);
    /* Not the control thread's group: its list deletions do not take
     * the reaper's devices, nor the reaper theirs. */
    reaper.group = tap_group() ^ 1;
    if (!reaper.started) {
        if (pthread_create(&reaper.thread, NULL, reaper_main, NULL)) {
            pthread_mutex_unlock(&reaper.lock);
            free(r);
            return false;
        }
        reaper.started = true;
    }
    *reaper.tail = r;
    reaper.tail = &r->next;
    pthread_cond_signal(&reaper.wake);
    pthread_mutex_unlock(&reaper.lock);
    return true;
}

void
mgr_tap_reaper_stop(void)
{
    pthread_mutex_lock(&reaper.lock);
    reaper.stop = true;
    pthread_cond_signal(&reaper.wake);
    pthread_mutex_unlock(&reaper.lock);
    if (reaper.started) {
        pthread_join(reaper.thread, NULL);
        reaper.started = false;
    }
    reaper.stop = false;
}

/* Takes the TAP of 'rt' out of the way without waiting for the kernel to
 * delete it: no longer persistent (if the daemon dies now, the kernel
 * deletes it when it closes the fds), down (a device that is up cannot be
 * renamed), and renamed to a private name "vswdelNNNNNNNN", so its name is
 * free for a new device at once and no frame reaches it; then hands it to
 * the reaper.  Only a TAP in the daemon's namespace.  Returns false if it
 * was not renamed: the caller deletes it by closing it. */
static bool
tap_hide(struct vsw_manager *mgr, struct vsw_port_rt *rt)
{
    static uint32_t seq;
    static int sock = -1;
    struct vsw_netdev *netdev = rt->netdev;
    int nsfd = vsw_netdev_tap_get_netns(netdev);
    bool here = nsfd >= 0 && vsw_netns_inode(nsfd) == mgr->own_netns_ino;
    struct ifreq ifr;

    if (nsfd >= 0) {
        close(nsfd);
    }
    if (!here || vsw_netdev_tap_unpersist(netdev)) {
        return false;
    }
    if (sock < 0) {
        /* Interface ioctls go through any socket of the namespace. */
        sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (sock < 0) {
            return false;
        }
    }
    while (!seq && getrandom(&seq, sizeof seq, 0) != sizeof seq) {
        seq = (uint32_t)getpid() ^ (uint32_t)time(NULL);
    }
    memset(&ifr, 0, sizeof ifr);
    if (vsw_netdev_tap_get_name(netdev, ifr.ifr_name) ||
        ioctl(sock, SIOCGIFFLAGS, &ifr) < 0) {
        return false;
    }
    if (ifr.ifr_flags & IFF_UP) {
        ifr.ifr_flags &= ~IFF_UP;
        if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0) {
            return false;
        }
    }
    for (int attempt = 0; attempt < 8; attempt++) {
        /* Another daemon's or an earlier run's name: the next number. */
        snprintf(ifr.ifr_newname, sizeof ifr.ifr_newname, "vswdel%08" PRIx32,
                 seq++);
        if (!ioctl(sock, SIOCSIFNAME, &ifr)) {
            int ifindex = (int)if_nametoindex(ifr.ifr_newname);

            /* Renamed: only closing it is left, whoever does it. */
            if (!reaper_add(rt, ifindex, ifr.ifr_newname)) {
                vsw_port_rt_destroy(rt, true);
            }
            return true;
        }
        if (errno != EEXIST) {
            break;
        }
    }
    VSW_WARN("cannot rename TAP %s before deleting it: %s", ifr.ifr_name,
             strerror(errno));
    return false;
}

void
mgr_tap_reap(void *mgr_)
{
    struct vsw_manager *mgr = mgr_;

    if (doomed.n > 1) {
        delete_group(mgr);
    }
    for (size_t i = 0; i < doomed.n; i++) {
        struct vsw_port_rt *rt = doomed.rts[i];

        /* A group is deleted already; closing its TAPs costs little. */
        if (doomed.n > 1 || !tap_hide(mgr, rt)) {
            vsw_port_rt_destroy(rt, true);
        }
    }
    doomed.n = 0;
}
