/*
 * The control thread's 1 s tick: MAC and flow ageing, TAP tracking,
 * devices that were lost or are still missing, the extensions' breakers,
 * queue rebalancing; and the event that runs deferred frees after each
 * publish.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <string.h>

#include "bounds.h"
#include "conntrack.h"
#include "log.h"
#include "manager-private.h"
#include "metering.h"
#include "timeutil.h"

static void
rt_destroy_cb(void *rt)
{
    vsw_port_rt_destroy(rt, false);
}

/* Lets go of devices that were deleted under the daemon (the worker that
 * polled one noticed and stopped).  Returns true if any was. */
static bool
drop_lost_devices(struct vsw_manager *mgr)
{
    bool lost = false;

    for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        for (struct mgr_port *p = sw->ports; p; p = p->next) {
            int error = p->rt ? vsw_port_rt_rx_error(p->rt) : 0;

            if (!error) {
                continue;
            }
            if (p->cfg.type == MGR_PORT_TEAM) {
                /* One member's socket failed (its interface deleted or
                 * taken down): the team reopens over the members there,
                 * keeping its LACP actor, rather than starting over. */
                lost |= mgr_team_reopen(mgr, p);
                continue;
            }
            snprintf(p->last_error, sizeof p->last_error,
                     "device %s was deleted (%s)", p->cfg.ifname,
                     strerror(error));
            VSW_WARN("port %s: %s; recreating or reattaching it every "
                     "second",
                     p->name, p->last_error);
            vsw_datapath_detach(mgr->dp, p->rt);
            mgr_retire(mgr, rt_destroy_cb, p->rt);
            p->rt = NULL;
            lost = true;
        }
    }
    return lost;
}

/* Retries ports without a device: an uplink whose interface appeared
 * later, a TAP somebody deleted. */
static void
retry_missing(struct vsw_manager *mgr)
{
    bool opened = drop_lost_devices(mgr);

    for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        for (struct mgr_port *p = sw->ports; p; p = p->next) {
            if (!p->rt && !mgr_port_open_device(mgr, p, true, NULL)) {
                VSW_INFO("port %s: device %s is back", p->name, p->cfg.ifname);
                opened = true;
            }
        }
    }
    if (opened) {
        mgr_publish(mgr);
    }
}

static void
tick_cb(evutil_socket_t fd, short what, void *mgr_)
{
    struct vsw_manager *mgr = mgr_;
    int64_t now = vsw_time_msec();

    (void)fd;
    (void)what;
    /* Before lost devices are let go: their last counts are read. */
    mgr_metering_tick(mgr, now);
    for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        vsw_fdb_expire(sw->fdb, now);
    }
    vsw_conntrack_expire(mgr->conntrack, now);
    mgr_track_all(mgr);
    retry_missing(mgr);
    mgr_team_tick(mgr);
    mgr_ext_tick(mgr);
    if (vsw_datapath_rebalance(mgr->dp, (uint64_t)(now - mgr->last_tick_ms) *
                                            1000000)) {
        mgr_reclaim_soon(mgr);
    }
    mgr->last_tick_ms = now;
    vsw_bounds_tick(mgr);
}

static void
reclaim_cb(evutil_socket_t fd, short what, void *mgr_)
{
    struct vsw_manager *mgr = mgr_;
    const struct timeval again = {0, 2000};

    (void)fd;
    (void)what;
    if (vsw_datapath_reclaim(mgr->dp)) {
        event_add(mgr->reclaim, &again);
    }
}

void
mgr_reclaim_soon(struct vsw_manager *mgr)
{
    event_active(mgr->reclaim, 0, 0);
}

int
mgr_tick_start(struct vsw_manager *mgr)
{
    const struct timeval one_second = {1, 0};

    mgr->reclaim = event_new(mgr->base, -1, 0, reclaim_cb, mgr);
    mgr->tick = event_new(mgr->base, -1, EV_PERSIST, tick_cb, mgr);
    if (!mgr->reclaim || !mgr->tick || event_add(mgr->tick, &one_second)) {
        return -ENOMEM;
    }
    return 0;
}
