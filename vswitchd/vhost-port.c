/*
 * vhost-user ports in the manager: their settings' checks, opening the
 * netdev (datapath/netdev/netdev-vhost-user.c) with the socket the user
 * named, and what port show says about the frontend.  The protocol and
 * the rings are the netdev's; a vhost-user port is otherwise a port like
 * any other.
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>

#include "manager-private.h"
#include "netdev-vhost-user.h"

int
mgr_vhost_cfg_check(const struct mgr_port_cfg *cfg, struct vsw_rpc_error *err)
{
    if (cfg->type != MGR_PORT_VHOST_USER) {
        return 0;
    }
    if (!cfg->vhost.socket[0]) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "a vhost-user port needs socket=/path/to.sock");
    }
    if (cfg->vhost.client && cfg->vhost.socket_group[0]) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "socket-group applies to vhost-mode=server "
                             "only: in client mode the VM creates the "
                             "socket");
    }
    return 0;
}

int
mgr_vhost_open(struct vsw_manager *mgr, struct mgr_port *port,
               struct vsw_netdev **netdevp)
{
    struct vsw_vhost_user_options opts = {
        .name = port->name,
        .socket_path = port->cfg.vhost.socket,
        .client = port->cfg.vhost.client,
        .n_queues = vsw_datapath_n_workers(mgr->dp),
        .base = mgr->base,
    };

    if (port->cfg.vhost.socket_group[0]) {
        struct group *group = getgrnam(port->cfg.vhost.socket_group);

        if (!group) {
            return -ENOENT;
        }
        opts.group = group->gr_gid;
        opts.has_group = true;
    }
    return vsw_netdev_vhost_user_open(&opts, netdevp);
}

void
mgr_vhost_to_json(const struct mgr_port *port, json_t *obj)
{
    struct vsw_vhost_user_status status;
    json_t *vhost;

    if (port->cfg.type != MGR_PORT_VHOST_USER) {
        return;
    }
    if (!port->rt) {
        json_object_set_new(
            obj, "vhost-user",
            json_pack("{s:b, s:i}", "connected", false, "rings", 0));
        return;
    }
    vsw_netdev_vhost_user_status(port->rt->netdev, &status);
    vhost = json_pack("{s:b, s:i, s:I}", "connected", status.connected,
                      "rings", (int)status.n_rings, "rx-invalid",
                      (json_int_t)status.rx_invalid);
    if (status.connected) {
        char features[24];

        snprintf(features, sizeof features, "0x%llx",
                 (unsigned long long)status.features);
        json_object_set_new(vhost, "features", json_string(features));
    }
    if (status.error[0]) {
        json_object_set_new(vhost, "error", json_string(status.error));
        if (!port->last_error[0]) {
            json_object_set_new(obj, "error", json_string(status.error));
        }
    }
    json_object_set_new(obj, "vhost-user", vhost);
}
