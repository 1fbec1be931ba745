#include "netdev.h"

#include <errno.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netdev-vhost-user.h"
#include "netns.h"

void
vsw_netdev_destroy(struct vsw_netdev *netdev, bool remove)
{
    if (netdev) {
        netdev->class->destroy(netdev, remove);
    }
}

/* Reads the flags of the interface named in 'ifr_' in the calling
 * thread's namespace. */
static int
get_if_flags(void *ifr_)
{
    struct ifreq *ifr = ifr_;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int error = 0;

    if (fd < 0) {
        return -errno;
    }
    if (ioctl(fd, SIOCGIFFLAGS, ifr) < 0) {
        error = -errno;
    }
    close(fd);
    return error;
}

bool
vsw_netdev_link_is_up(const struct vsw_netdev *netdev)
{
    struct ifreq ifr;
    int nsfd = -1;
    int error;

    if (vsw_netdev_is_vhost_user(netdev)) {
        /* No kernel interface: up while a frontend runs its rings. */
        struct vsw_vhost_user_status status;

        vsw_netdev_vhost_user_status(netdev, &status);
        return status.connected && status.n_rings && !status.error[0];
    }
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", netdev->ifname);
    if (vsw_netdev_is_tap(netdev)) {
        /* The VM may have renamed its interface or moved it into its own
         * namespace: ask the fd where and what it is now. */
        if (ioctl(netdev->queue_fd[0], TUNGETIFF, &ifr) < 0) {
            return false;
        }
        nsfd = vsw_netdev_tap_get_netns(netdev);
    }
    error = nsfd >= 0 ? vsw_netns_call(nsfd, get_if_flags, &ifr)
                      : get_if_flags(&ifr);
    if (nsfd >= 0) {
        close(nsfd);
    }
    return !error && (ifr.ifr_flags & IFF_UP) && (ifr.ifr_flags & IFF_RUNNING);
}
