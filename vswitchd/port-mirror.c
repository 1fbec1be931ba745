/*
 * Port mirroring, the control plane's side: the check that a switch's
 * destinations fit what the datapath can address.  The setting itself is
 * a row of port.c's table; the datapath's side is
 * datapath/forward/mirror.c.
 */
#include <stdio.h>

#include "bounds.h"
#include "manager-private.h"

/* The destinations of 'sw' other than 'except' (NULL: all of them). */
static unsigned
count_destinations(const struct mgr_switch *sw, const struct mgr_port *except)
{
    unsigned n = 0;

    for (const struct mgr_port *p = sw->ports; p; p = p->next) {
        n += p != except && p->cfg.mirror == VSW_MIRROR_DESTINATION;
    }
    return n;
}

void
mgr_mirror_bounds(struct vsw_manager *mgr, struct vsw_bounds *bounds)
{
    for (const struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        char owner[VSW_NAME_MAX + 8];

        snprintf(owner, sizeof owner, "switch:%s", sw->name);
        vsw_bounds_add(bounds, "mirror-destinations", owner, "ports",
                       count_destinations(sw, NULL),
                       VSW_MIRROR_MAX_DESTINATIONS, sw->mirror_full);
    }
}

int
mgr_mirror_check(struct mgr_switch *sw, const struct mgr_port *port,
                 const struct mgr_port_cfg *cfg, struct vsw_rpc_error *err)
{
    if (cfg->mirror != VSW_MIRROR_DESTINATION ||
        (port && port->cfg.mirror == VSW_MIRROR_DESTINATION)) {
        return 0;
    }
    if (count_destinations(sw, port) >= VSW_MIRROR_MAX_DESTINATIONS) {
        sw->mirror_full++;
        return vsw_rpc_error(err, VSW_RPC_CONFLICT,
                             "switch '%s' already has %d mirror "
                             "destinations, the most it can have",
                             sw->name, VSW_MIRROR_MAX_DESTINATIONS);
    }
    return 0;
}
