/*
 * Minimum bandwidth on uplinks, the control side (FEATURES.md §5): the
 * check that a port's minimum matches its switch's min-bandwidth-mode,
 * the life of each uplink's scheduler (datapath/qos/scheduler.c), and
 * qos.show.
 *
 * An uplink or a NIC team is scheduled while it has a link-speed and its
 * switch's mode is not none.  A team's link-speed is each member's: its
 * scheduler paces at link-speed times the members that carry traffic,
 * set again at every snapshot (a failover is one), and sends each frame
 * on the member the team's balancing picked (netdev-team.c).  Its scheduler is
 * created when a snapshot that schedules it is built, and retired (freed after
 * the grace period of the next snapshot, which no longer names it) when that
 * ends, when the port goes, or when the port's device is reopened (a scheduler
 * sends through a socket on the device it was made for).  Control thread.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bounds.h"
#include "log.h"
#include "manager-private.h"
#include "netdev-team.h"
#include "scheduler.h"

_Static_assert(VSW_LACP_MAX_MEMBERS <= VSW_SCHED_MAX_LINKS,
               "a team's scheduler has a link per member");

const char *const mgr_min_bw_mode_names[] = {"weight", "absolute", "none",
                                             NULL};

/* The minimum of 'cfg' in its switch's 'mode', 0 for none. */
static uint64_t
port_min_bw(enum mgr_min_bw_mode mode, const struct mgr_port_cfg *cfg)
{
    return mode == MGR_MIN_BW_WEIGHT     ? cfg->min_bw_weight
           : mode == MGR_MIN_BW_ABSOLUTE ? cfg->min_bw_absolute
                                         : 0;
}

int
mgr_qos_sched_port_check(const struct mgr_switch *sw, const char *name,
                         const struct mgr_port_cfg *cfg,
                         struct vsw_rpc_error *err)
{
    enum mgr_min_bw_mode mode = sw->cfg.min_bw_mode;
    const char *key = NULL;
    const char *instead = "";

    if (cfg->min_bw_weight && mode != MGR_MIN_BW_WEIGHT) {
        key = "min-bandwidth-weight";
        instead = mode == MGR_MIN_BW_ABSOLUTE
                      ? "; give min-bandwidth-absolute=BPS instead"
                      : "";
    } else if (cfg->min_bw_absolute && mode != MGR_MIN_BW_ABSOLUTE) {
        key = "min-bandwidth-absolute";
        instead = mode == MGR_MIN_BW_WEIGHT
                      ? "; give min-bandwidth-weight=1..100 instead"
                      : "";
    }
    if (!key) {
        return 0;
    }
    return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                         "port '%s': %s does not apply on switch '%s', whose "
                         "min-bandwidth-mode is %s (fixed when the switch "
                         "was created)%s",
                         name, key, sw->name, mgr_min_bw_mode_names[mode],
                         instead);
}

static void
sched_destroy_cb(void *sched)
{
    vsw_sched_destroy(sched);
}

static void
retire_sched(struct vsw_manager *mgr, struct mgr_port *port)
{
    if (port->sched) {
        mgr_retire(mgr, sched_destroy_cb, port->sched);
        port->sched = NULL;
        port->sched_rt = NULL;
    }
}

/* True if 'port' is of a type that can be scheduled. */
static bool
schedulable(const struct mgr_port *port)
{
    return port->cfg.type == MGR_PORT_UPLINK ||
           port->cfg.type == MGR_PORT_TEAM;
}

/* True if 'port' should have a scheduler. */
static bool
wants_sched(const struct mgr_port *port)
{
    return schedulable(port) && port->cfg.link_speed &&
           port->sw->cfg.min_bw_mode != MGR_MIN_BW_NONE && port->rt;
}

/* The members of team 'port' that carry traffic, counted. */
static unsigned
team_active_members(const struct mgr_port *port)
{
    return (unsigned)__builtin_popcount(mgr_team_active_mask(port));
}

/* The speed 'port' is paced at: an uplink's link-speed; a team's
 * link-speed (each member's) times the members that carry traffic (one
 * while none does, so the speed is never 0). */
static uint64_t
port_capacity(const struct mgr_port *port)
{
    unsigned n =
        port->cfg.type == MGR_PORT_TEAM ? team_active_members(port) : 1;

    return port->cfg.link_speed * (n ? n : 1);
}

/* Starts the scheduler of 'port' (wants_sched()) in 'mode' into
 * port->sched.  Returns 0 or a negative errno. */
static int
start_sched(struct mgr_port *port, enum vsw_sched_mode mode)
{
    struct vsw_team_netdev *team = vsw_netdev_team_cast(port->rt->netdev);
    const struct vsw_netdev *links[VSW_SCHED_MAX_LINKS];
    unsigned n_links;

    if (!team) {
        return vsw_sched_create(port->name, port->rt->netdev, mode,
                                port_capacity(port), &port->sched);
    }
    /* A link per member; a missing member's is NULL. */
    n_links = vsw_netdev_team_n_members(team);
    for (unsigned m = 0; m < n_links; m++) {
        links[m] = vsw_netdev_team_member(team, m);
    }
    return vsw_sched_create_links(port->name, links, n_links, mode,
                                  port_capacity(port), &port->sched);
}

void
mgr_qos_sched_publish(struct vsw_manager *mgr, struct mgr_port *port,
                      struct vsw_dp_port *dport)
{
    enum mgr_min_bw_mode mode = port->sw->cfg.min_bw_mode;
    enum vsw_sched_mode sched_mode =
        mode == MGR_MIN_BW_ABSOLUTE ? VSW_SCHED_ABSOLUTE : VSW_SCHED_WEIGHT;
    int error;

    if (!wants_sched(port) || port->sched_rt != port->rt) {
        retire_sched(mgr, port);
    }
    if (!dport) {
        return; /* no device: not in the snapshot */
    }
    dport->min_bw = port_min_bw(mode, &port->cfg);
    if (!wants_sched(port)) {
        return;
    }
    if (port->sched) {
        vsw_sched_set_link_speed(port->sched, port_capacity(port));
    } else {
        error = start_sched(port, sched_mode);
        if (error) {
            /* The port goes on unscheduled; the next change retries. */
            VSW_ERR("port %s: cannot start its QoS scheduler: %s", port->name,
                    strerror(-error));
            port->sched = NULL;
            return;
        }
        port->sched_rt = port->rt;
    }
    if (port->cfg.type == MGR_PORT_TEAM) {
        /* Frames queued for a member that left go out on another. */
        vsw_sched_set_links_up(port->sched, mgr_team_active_mask(port));
    }
    dport->sched = port->sched;
}

void
mgr_qos_sched_port_destroy(struct vsw_manager *mgr, struct mgr_port *port)
{
    retire_sched(mgr, port);
}

/* ---- qos.show ---- */

/* A share of 'total' in whole percent, rounded. */
static json_int_t
share_percent(uint64_t part, uint64_t total)
{
    return total ? (json_int_t)((part * 100.0 / total) + 0.5) : 0;
}

static json_t *
class_json(const char *name, uint64_t minimum,
           const struct vsw_sched_class_stats *c, uint64_t total_rate)
{
    return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "class",
                     name, "minimum", (json_int_t)minimum, "tx-packets",
                     (json_int_t)c->tx_packets, "tx-bytes",
                     (json_int_t)c->tx_bytes, "queue-packets",
                     (json_int_t)c->queue_packets, "queue-bytes",
                     (json_int_t)c->queue_bytes, "drops", (json_int_t)c->drops,
                     "rate", (json_int_t)c->rate_bps, "share",
                     share_percent(c->rate_bps, total_rate));
}

/* Why 'port', an uplink, is not scheduled. */
static const char *
unscheduled_reason(const struct mgr_port *port)
{
    if (port->sw->cfg.min_bw_mode == MGR_MIN_BW_NONE) {
        return "its switch has min-bandwidth-mode=none";
    }
    if (!port->cfg.link_speed) {
        return "link-speed is 0 (unknown)";
    }
    if (!port->rt) {
        return "its device is missing";
    }
    return "its scheduler could not start (see the daemon's log)";
}

static int
rpc_qos_show(json_t *params, json_t **result, struct vsw_rpc_error *err,
             void *mgr_)
{
    static const char *const keys[] = {"port", NULL};
    struct vsw_manager *mgr = mgr_;
    enum mgr_min_bw_mode mode;
    struct vsw_sched_class_stats cs;
    struct vsw_sched_stats st;
    struct mgr_port *port;
    json_t *classes;

    if (vsw_rpc_check_keys(params, keys, err) ||
        mgr_rpc_get_port(mgr, params, "port", &port, err)) {
        return -1;
    }
    if (!schedulable(port)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "port '%s' is no uplink: minimum bandwidth is "
                             "enforced on uplinks and teams only",
                             port->name);
    }
    mode = port->sw->cfg.min_bw_mode;
    *result = json_pack("{s:s, s:s, s:s, s:I}", "port", port->name, "switch",
                        port->sw->name, "min-bandwidth-mode",
                        mgr_min_bw_mode_names[mode], "link-speed",
                        (json_int_t)port->cfg.link_speed);
    if (port->cfg.type == MGR_PORT_TEAM) {
        /* A team's link-speed is each member's. */
        json_object_set_new(*result, "active-members",
                            json_integer(team_active_members(port)));
        json_object_set_new(
            *result, "capacity",
            json_integer(
                (json_int_t)(port->cfg.link_speed ? port_capacity(port) : 0)));
    }
    json_object_set_new(*result, "scheduled", json_boolean(port->sched));
    classes = json_array();
    if (!port->sched) {
        json_object_set_new(*result, "reason",
                            json_string(unscheduled_reason(port)));
        json_object_set_new(*result, "classes", classes);
        return 0;
    }
    vsw_sched_get_stats(port->sched, &st);
    /* Ports with a minimum, in the switch's order, then the default
     * flow that the others share. */
    for (const struct mgr_port *p = port->sw->ports; p; p = p->next) {
        uint64_t min_bw = port_min_bw(mode, &p->cfg);

        if (p == port || !min_bw) {
            continue;
        }
        vsw_sched_class_stats(port->sched, VSW_FDB_SLOT(p->id) + 1, p->id,
                              &cs);
        json_array_append_new(classes,
                              class_json(p->name, min_bw, &cs, st.rate_bps));
    }
    vsw_sched_class_stats(port->sched, VSW_SCHED_DEFAULT_CLASS, 0, &cs);
    json_array_append_new(
        classes,
        class_json("default", mode == MGR_MIN_BW_WEIGHT ? 1 : st.link_bps / 10,
                   &cs, st.rate_bps));
    json_object_set_new(*result, "tx-packets",
                        json_integer((json_int_t)st.tx_packets));
    json_object_set_new(*result, "tx-bytes",
                        json_integer((json_int_t)st.tx_bytes));
    json_object_set_new(*result, "tx-errors",
                        json_integer((json_int_t)st.tx_errors));
    json_object_set_new(*result, "rate",
                        json_integer((json_int_t)st.rate_bps));
    json_object_set_new(*result, "queue-limit",
                        json_integer((json_int_t)st.queue_limit));
    json_object_set_new(*result, "buffers-free",
                        json_integer((json_int_t)st.pool_free));
    json_object_set_new(*result, "buffers",
                        json_integer((json_int_t)st.pool_size));
    json_object_set_new(*result, "classes", classes);
    return 0;
}

void
mgr_qos_sched_bounds(struct vsw_manager *mgr, struct vsw_bounds *bounds)
{
    for (const struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        for (const struct mgr_port *p = sw->ports; p; p = p->next) {
            struct vsw_sched_stats st;
            char owner[VSW_NAME_MAX + 8];

            if (!p->sched) {
                continue;
            }
            vsw_sched_get_stats(p->sched, &st);
            snprintf(owner, sizeof owner, "port:%s", p->name);
            vsw_bounds_add(bounds, "qos-scheduler-pool", owner, "buffers",
                           st.pool_size - st.pool_free, st.pool_size,
                           st.pool_empty);
        }
    }
}

static const struct vsw_rpc_method qos_sched_methods[] = {
    {"qos.show", rpc_qos_show, VSW_RPC_READS},
};

int
mgr_qos_sched_register_rpc(struct vsw_manager *mgr,
                           struct vsw_rpc_server *server)
{
    return vsw_rpc_server_register(
        server, qos_sched_methods,
        sizeof qos_sched_methods / sizeof *qos_sched_methods, mgr);
}
