/*
 * The transaction every change ends with: the new configuration is saved
 * (crash-safe), then described to the workers as one snapshot, published
 * with one atomic pointer swap; objects the old configuration still names
 * are retired and freed only after a grace period.  Validation and the
 * kernel side come before, in the noun's own file; a failure there
 * changes nothing, and a failed save is undone by the caller.  Inside a
 * transaction of several operations (transact.c) the save and the
 * publish wait for its commit.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "manager-private.h"
#include "metering.h"

/* An object waiting for the snapshot that forgets it. */
struct mgr_retired {
    struct mgr_retired *next; /* younger one */
    void (*fn)(void *arg);    /* frees it */
    void *arg;                /* the object */
};

void
mgr_retire(struct vsw_manager *mgr, void (*fn)(void *arg), void *arg)
{
    struct mgr_retired *r = malloc(sizeof *r);

    if (!r) {
        /* Leaking beats freeing under a worker's feet. */
        VSW_ERR("out of memory: an object of the old configuration stays");
        return;
    }
    r->next = NULL;
    r->fn = fn;
    r->arg = arg;
    *mgr->retired_tail = r;
    mgr->retired_tail = &r->next;
}

bool
mgr_retire_swap(struct vsw_manager *mgr, void *arg, void *instead)
{
    for (struct mgr_retired *r = mgr->retired; r; r = r->next) {
        if (r->arg == arg) {
            r->arg = instead;
            return true;
        }
    }
    return false;
}

/* Starts polling the devices opened since the last publish.  Only now:
 * a frame a worker reads is always forwarded under a snapshot that has
 * its port (frames that came earlier waited in the device's queue), so a
 * new port never counts a frame as 'port-gone'. */
static void
attach_new_devices(struct vsw_manager *mgr)
{
    for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        for (struct mgr_port *p = sw->ports; p; p = p->next) {
            int error;

            if (!p->rt || p->rt->attached) {
                continue;
            }
            error = vsw_datapath_attach(mgr->dp, p->rt);
            if (error) {
                snprintf(p->last_error, sizeof p->last_error,
                         "cannot poll %s: %s", p->cfg.ifname,
                         strerror(-error));
                VSW_ERR("port %s: %s", p->name, p->last_error);
            }
        }
    }
}

/* Hands the retired objects to the datapath's grace periods: called right
 * after a snapshot that no longer names them was published, so no worker
 * can load them again. */
static void
release_retired(struct vsw_manager *mgr)
{
    while (mgr->retired) {
        struct mgr_retired *r = mgr->retired;

        mgr->retired = r->next;
        vsw_datapath_defer(mgr->dp, r->fn, r->arg);
        free(r);
    }
    mgr->retired_tail = &mgr->retired;
    if (mgr_tap_take_reap_due()) {
        /* After the teardowns just deferred: their TAPs go together. */
        vsw_datapath_defer(mgr->dp, mgr_tap_reap, mgr);
    }
}

int
mgr_publish(struct vsw_manager *mgr)
{
    struct vsw_dp_snapshot *snap;

    if (mgr_txn_postpone_publish(mgr)) {
        return 0;
    }
    mgr_metering_sync(mgr);
    snap = vsw_dp_snapshot_create();
    if (!snap) {
        goto nomem;
    }
    snap->conntrack = mgr->conntrack;
    for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        struct vsw_dp_switch *dsw =
            vsw_dp_snapshot_add_switch(snap, sw->name, sw->fdb);

        if (!dsw) {
            goto nomem;
        }
        for (struct mgr_port *p = sw->ports; p; p = p->next) {
            if (vsw_vlan_is_pvlan(&p->cfg.vlan)) {
                struct vsw_rpc_error ignored;

                /* Changes were checked: building cannot fail. */
                dsw->pvlan = malloc(sizeof *dsw->pvlan);
                if (!dsw->pvlan) {
                    goto nomem;
                }
                mgr_pvlan_map_build(sw, NULL, NULL, dsw->pvlan, &ignored);
                break;
            }
        }
        for (struct mgr_port *p = sw->ports; p; p = p->next) {
            struct vsw_dp_port *dport;

            if (!p->rt) {
                mgr_qos_sched_publish(mgr, p, NULL);
                continue;
            }
            dport = vsw_dp_snapshot_add_port(snap, dsw, p->name, p->rt);
            if (!dport) {
                goto nomem;
            }
            if (mgr_port_needs_policy(p)) {
                int error;

                dport->policy = mgr_port_policy_build(mgr, p, &error);
                if (error) {
                    goto nomem;
                }
            }
            dport->vlan = p->cfg.vlan;
            dport->mac_limit = p->cfg.mac_limit;
            dport->flood = p->cfg.flood;
            dport->mirror = (uint8_t)p->cfg.mirror;
            dport->team = mgr_team_publish(mgr, p);
            mgr_qos_sched_publish(mgr, p, dport);
            if (mgr_capture_fill_port(mgr, p, dport)) {
                goto nomem;
            }
            /* QoS: the shapers' rates (datapath/qos/shaper.c). */
            vsw_shaper_config_init(&dport->shaper[VSW_SHAPER_OUT],
                                   p->cfg.qos.max_bandwidth,
                                   p->cfg.qos.max_burst);
            vsw_shaper_config_init(&dport->shaper[VSW_SHAPER_IN],
                                   p->cfg.qos.max_bandwidth_in,
                                   p->cfg.qos.max_burst);
            /* Tenant networks: the port's VNI, a tunnel's VTEPs. */
            dport->vni = p->cfg.vni;
            if (p->cfg.type == MGR_PORT_VXLAN &&
                mgr_tunnel_fill_port(mgr, p, dport)) {
                goto nomem;
            }
        }
        vsw_dp_switch_mirrors(dsw);
        mgr_ext_fill_switch(sw, dsw);
    }
    vsw_datapath_publish(mgr->dp, snap);
    mgr_ext_ports_published(mgr);
    attach_new_devices(mgr);
    release_retired(mgr);
    mgr_reclaim_soon(mgr);
    return 0;

nomem:
    vsw_dp_snapshot_destroy(snap);
    VSW_ERR("out of memory building a datapath snapshot");
    return -ENOMEM;
}

int
mgr_commit(struct vsw_manager *mgr, struct vsw_rpc_error *err)
{
    if (mgr_config_save(mgr, err)) {
        return -1;
    }
    mgr_publish(mgr);
    return 0;
}

void
mgr_settle(struct vsw_manager *mgr)
{
    vsw_datapath_barrier(mgr->dp);
}
