/*
 * Port mirroring, the control plane's side: the check that a switch's
 * destinations fit what the datapath can address.  The setting itself is
 * a row of port.c's table; the datapath's side is
 * datapath/forward/mirror.c.
 */
#include "manager-private.h"

int
mgr_mirror_check(const struct mgr_switch *sw, const struct mgr_port *port,
                 const struct mgr_port_cfg *cfg, struct vsw_rpc_error *err)
{
    unsigned n = 0;

    if (cfg->mirror != VSW_MIRROR_DESTINATION ||
        (port && port->cfg.mirror == VSW_MIRROR_DESTINATION)) {
        return 0;
    }
    for (const struct mgr_port *p = sw->ports; p; p = p->next) {
        n += p != port && p->cfg.mirror == VSW_MIRROR_DESTINATION;
    }
    if (n >= VSW_MIRROR_MAX_DESTINATIONS) {
        return vsw_rpc_error(err, VSW_RPC_CONFLICT,
                             "switch '%s' already has %d mirror "
                             "destinations, the most it can have",
                             sw->name, VSW_MIRROR_MAX_DESTINATIONS);
    }
    return 0;
}
