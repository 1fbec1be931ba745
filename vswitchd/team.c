/*
 * NIC teams (FEATURES.md §9): the team settings table, the team.* methods,
 * the members' carrier and failover, and the announcements after it.
 *
 * A team is a port of its switch (type "team"), so every port setting
 * works on it through port.set; this module owns what only a team has:
 * its members and how traffic is spread over them.  The device is
 * datapath/netdev/netdev-team.c's, member selection datapath/team/
 * balance.c's.  Which members carry traffic is part of each snapshot (a
 * struct vsw_team_map per team port); a change of carrier publishes a new
 * one at once.
 *
 * Everything here runs on the control thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <linux/if_packet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "lacp.h"
#include "log.h"
#include "manager-private.h"
#include "netdev-team.h"
#include "scheduler.h"
#include "timeutil.h"

static const char *const team_modes[] = {"switch-independent", "static",
                                         "lacp", NULL};
static const char *const team_lbs[] = {"address-hash", "ip-hash", "mac-hash",
                                       "port",         "dynamic", NULL};
static const char *const lacp_rates[] = {"fast", "slow", NULL};

#define STRINGIFY_(x) #x
#define STRINGIFY(x)  STRINGIFY_(x)

#define TEAM_ROW(KEY, TYPE, MEMBER)                                           \
    VSW_SETTING_ROW(KEY, TYPE, struct mgr_team_cfg, MEMBER)

/* Every setting of a team: a row here, its effect where the team's map is
 * built (mgr_team_publish()), and a line in the docs' "Team settings"
 * tables. */
static const struct vsw_setting team_settings[] = {
    {
        TEAM_ROW("members", VSW_SETTING_IFNAME_LIST, members),
        .flags = VSW_SETTING_REQUIRED,
        .help = "the uplinks the team joins, as eth1,eth2: existing "
                "interfaces of the daemon's namespace that no port uses, "
                "1 to 16",
    },
    {
        TEAM_ROW("mode", VSW_SETTING_ENUM, mode),
        .names = team_modes,
        .default_value = "switch-independent",
        .help = "switch-independent: the physical switch knows nothing; "
                "static: a static link aggregation group there; lacp: "
                "negotiated with LACP",
    },
    {
        TEAM_ROW("lb", VSW_SETTING_ENUM, lb),
        .names = team_lbs,
        .default_value = "address-hash",
        .help = "how frames are spread over the members: by a hash of "
                "their L4 ports, IPs or MACs, or by source port (port)",
    },
    {
        TEAM_ROW("flowlet-gap", VSW_SETTING_INTEGER, flowlet_gap_us),
        .min = VSW_TEAM_FLOWLET_GAP_MIN_US,
        .max = VSW_TEAM_FLOWLET_GAP_MAX_US,
        .default_value = STRINGIFY(VSW_TEAM_FLOWLET_GAP_DEFAULT_US),
        .when_key = "lb",
        .when_values = 1u << VSW_TEAM_LB_DYNAMIC,
        .help = "lb=dynamic: microseconds a flow must pause before it may "
                "move to another member; more than the largest difference "
                "in delay between the members' paths, so nothing is "
                "reordered",
    },
    {
        TEAM_ROW("lacp-rate", VSW_SETTING_ENUM, lacp_rate),
        .names = lacp_rates,
        .default_value = "fast",
        .when_key = "mode",
        .when_values = 1u << VSW_TEAM_LACP,
        .help = "how often the partner is asked to send LACPDUs: every "
                "second (fast) or every 30 s (slow)",
    },
    {
        TEAM_ROW("standby", VSW_SETTING_IFNAME, standby),
        .when_key = "mode",
        .when_values =
            (1u << VSW_TEAM_SWITCH_INDEPENDENT) | (1u << VSW_TEAM_STATIC),
        .help = "a member that carries nothing until another member fails, "
                "or null for none",
    },
    {
        TEAM_ROW("rx-balance", VSW_SETTING_BOOLEAN, rx_balance),
        .default_value = "false",
        .when_key = "mode",
        .when_values = 1u << VSW_TEAM_SWITCH_INDEPENDENT,
        .help = "spread inbound traffic of several peers over the members "
                "by answering ARP with member MACs",
    },
};

const struct vsw_settings_kind mgr_team_kind = {
    .name = "team",
    .settings = team_settings,
    .n_settings = sizeof team_settings / sizeof *team_settings,
    .other_keys = (const char *const[]){"name", NULL},
    .create_keys = (const char *const[]){"switch", NULL},
    .owner = &mgr_switch_kind,
};

struct mgr_team;

/* What the event of a member's slow-protocol socket needs. */
struct team_slow_rx {
    struct mgr_team *team;
    unsigned member;
    struct event *event;
};

/* What a team port keeps beside its settings. */
struct mgr_team {
    struct vsw_manager *mgr; /* owner */
    struct mgr_port *port;   /* the team's port */
    /* mode=lacp: the actor (datapath/team/lacp.c), run by a timer at the
     * time it asks for and by every LACPDU the members' slow-protocol
     * sockets receive; NULL in the other modes. */
    struct vsw_lacp *lacp;
    struct vsw_team_netdev *lacp_netdev; /* whose sockets it uses */
    struct event *lacp_timer;
    bool lacp_fast; /* the rate it was configured with */
    struct team_slow_rx slow_rx[VSW_LACP_MAX_MEMBERS];
    uint8_t member_mac[VSW_LACP_MAX_MEMBERS][6]; /* LACPDUs' source */
    bool carrier[VSW_LACP_MAX_MEMBERS];          /* each member's, last seen */
    uint32_t active_mask;                        /* members carrying traffic */
    uint8_t pins[VSW_FDB_MAX_SLOTS];             /* lb=port: member per source
                                                    port slot */
    bool started;         /* the first active set is known: later changes are
                             failovers and recoveries, logged */
    uint32_t pinned_mask; /* the active set 'pins' was
                             placed for */
    struct vsw_team_map *map;           /* the one the last snapshot
                                           names, or NULL */
    struct vsw_team_flowlets *flowlets; /* lb=dynamic's table, made when
                                           first needed */
    struct vsw_team_rlb *rlb;           /* rx-balance's table, made when first
                                           needed */
    uint32_t announce_vm[VSW_TEAM_RLB_ANNOUNCE];  /* rx-balance: VMs whose
                                                     peers are being told */
    uint8_t announce_left[VSW_TEAM_RLB_ANNOUNCE]; /* times still to tell */
    uint64_t failovers;                           /* times a member left the
                                                     active set */
    uint64_t announced; /* MACs announced after them */
    /* Rates: the counters at the last sample and the rates since. */
    int64_t sample_ms;
    struct vsw_team_member_counters sample[VSW_LACP_MAX_MEMBERS];
    uint64_t rx_bps[VSW_LACP_MAX_MEMBERS];
    uint64_t tx_bps[VSW_LACP_MAX_MEMBERS];
};

/* ---- Settings ---- */

/* The index of member 'ifname' in 'cfg', or -1. */
static int
member_index(const struct mgr_team_cfg *cfg, const char *ifname)
{
    for (unsigned m = 0; m < cfg->members.n; m++) {
        if (!strcmp(cfg->members.names[m], ifname)) {
            return (int)m;
        }
    }
    return -1;
}

/* Checks what the table cannot: the settings together, and what this
 * build does not do yet. */
static int
team_cfg_check(const struct mgr_team_cfg *cfg, struct vsw_rpc_error *err)
{
    if (cfg->standby[0] && member_index(cfg, cfg->standby) < 0) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "standby %s must be one of the members",
                             cfg->standby);
    }
    if (cfg->standby[0] && cfg->members.n < 2) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "standby %s needs another member to stand by "
                             "for",
                             cfg->standby);
    }
    return 0;
}

int
mgr_team_cfg_from_params(const json_t *params, struct mgr_team_cfg *cfg,
                         struct vsw_rpc_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    vsw_settings_init(&mgr_team_kind, cfg);
    if (vsw_settings_apply(&mgr_team_kind, cfg, params, true, err)) {
        return -1;
    }
    return team_cfg_check(cfg, err);
}

json_t *
mgr_team_settings_to_json(const struct mgr_port *port)
{
    json_t *obj = json_object();

    vsw_settings_to_json(&mgr_team_kind, &port->cfg.team, obj);
    return obj;
}

/* ---- Members ---- */

struct mgr_port *
mgr_team_of_member(struct vsw_manager *mgr, const char *ifname)
{
    for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        for (struct mgr_port *p = sw->ports; p; p = p->next) {
            if (p->cfg.type == MGR_PORT_TEAM &&
                member_index(&p->cfg.team, ifname) >= 0) {
                return p;
            }
        }
    }
    return NULL;
}

bool
mgr_team_is_up(const struct mgr_port *port)
{
    return port->team && port->team->active_mask && port->rt;
}

uint32_t
mgr_team_active_mask(const struct mgr_port *port)
{
    return port->team ? port->team->active_mask : 0;
}

/* Refuses members of 'cfg' that do not exist or that another port or team
 * than 'self' (NULL: a new team) uses. */
static int
check_members(struct vsw_manager *mgr, const struct mgr_port *self,
              const struct mgr_team_cfg *cfg, struct vsw_rpc_error *err)
{
    unsigned workers = vsw_datapath_n_workers(mgr->dp);

    if (cfg->members.n * workers > VSW_NETDEV_MAX_QUEUES) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "%u members with %u workers need %u queues; a "
                             "port has at most %d",
                             cfg->members.n, workers, cfg->members.n * workers,
                             VSW_NETDEV_MAX_QUEUES);
    }
    for (unsigned m = 0; m < cfg->members.n; m++) {
        const char *name = cfg->members.names[m];
        struct mgr_port *team = mgr_team_of_member(mgr, name);

        if (!if_nametoindex(name)) {
            return vsw_rpc_error(err, VSW_RPC_NOT_FOUND,
                                 "member %s: no such interface in the "
                                 "daemon's network namespace",
                                 name);
        }
        if (team && team != self) {
            return vsw_rpc_error(err, VSW_RPC_CONFLICT,
                                 "member %s already belongs to team '%s'",
                                 name, team->name);
        }
        for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
            for (struct mgr_port *p = sw->ports; p; p = p->next) {
                if (p->cfg.type != MGR_PORT_TEAM &&
                    !strcmp(p->cfg.ifname, name)) {
                    return vsw_rpc_error(err, VSW_RPC_CONFLICT,
                                         "member %s already belongs to port "
                                         "'%s'",
                                         name, p->name);
                }
            }
        }
    }
    return 0;
}

static struct vsw_team_netdev *
team_netdev(const struct mgr_port *port)
{
    return port->rt ? vsw_netdev_team_cast(port->rt->netdev) : NULL;
}

/* Member 'm''s counters: what the workers sent and received on it, and
 * what the team's minimum-bandwidth scheduler (qos-sched.c) sent on it. */
static void
member_counters(const struct mgr_port *port, struct vsw_team_netdev *netdev,
                unsigned m, struct vsw_team_member_counters *c)
{
    vsw_netdev_team_counters(netdev, m, c);
    if (port->sched && port->sched_rt == port->rt) {
        uint64_t packets, bytes;

        vsw_sched_link_stats(port->sched, m, &packets, &bytes);
        c->tx_packets += packets;
        c->tx_bytes += bytes;
    }
}

/* 'now' minus 'before', or 0 if the counter started again (a new device
 * or scheduler). */
static uint64_t
counter_delta(uint64_t now, uint64_t before)
{
    return now >= before ? now - before : 0;
}

/* ---- LACP ---- */

/* The MAC of interface 'ifname' into 'mac'; zero if unknown. */
static void
read_mac(const char *ifname, uint8_t mac[6])
{
    char path[64];
    char text[32] = "";
    FILE *f;

    memset(mac, 0, 6);
    snprintf(path, sizeof path, "/sys/class/net/%s/address", ifname);
    f = fopen(path, "r");
    if (!f) {
        return;
    }
    if (fgets(text, sizeof text, f)) {
        text[strcspn(text, "\n")] = '\0';
        if (vsw_mac_parse(text, mac)) {
            memset(mac, 0, 6);
        }
    }
    fclose(f);
}

static void
lacp_settings(const struct mgr_team *team, struct vsw_lacp_settings *s)
{
    memset(s, 0, sizeof *s);
    s->system_priority = 32768;
    /* Our system id: the first member's MAC, which no other system has. */
    memcpy(s->system_mac, team->member_mac[0], 6);
    /* One key per team of the daemon. */
    s->key = (uint16_t)(VSW_FDB_SLOT(team->port->id) + 1);
    s->fast = team->port->cfg.team.lacp_rate == 0;
    s->active = true;
}

/* vsw_lacp_run()'s sender: the LACPDU in an Ethernet frame from the
 * member's MAC, through its slow-protocol socket. */
static void
lacp_send(unsigned member, const uint8_t *pdu, size_t len, void *team_)
{
    struct mgr_team *team = team_;
    uint8_t frame[14 + VSW_LACP_PDU_LEN];
    int error;

    if (len > VSW_LACP_PDU_LEN || !team->lacp_netdev) {
        return;
    }
    memcpy(frame, vsw_lacp_dst_mac, 6);
    memcpy(frame + 6, team->member_mac[member], 6);
    frame[12] = VSW_LACP_ETHERTYPE >> 8;
    frame[13] = VSW_LACP_ETHERTYPE & 0xff;
    memcpy(frame + 14, pdu, len);
    error =
        vsw_netdev_team_send_raw(team->lacp_netdev, member, frame, 14 + len);
    if (error) {
        VSW_DBG("team %s: LACPDU on member %u: %s", team->port->name, member,
                strerror(-error));
    }
}

/* Runs LACP's machines now and sets the timer to the time they ask. */
static void
lacp_poll(struct mgr_team *team)
{
    uint64_t now = (uint64_t)vsw_time_nsec();
    uint64_t next = vsw_lacp_run(team->lacp, now, lacp_send, team);
    uint64_t wait = next > now ? next - now : 0;
    struct timeval tv = {
        .tv_sec = (time_t)(wait / 1000000000),
        .tv_usec = (suseconds_t)(wait % 1000000000 / 1000),
    };

    evtimer_add(team->lacp_timer, &tv);
}

static bool team_update_active(struct mgr_port *port, bool *lost);

/* After LACP ran: publishes if the members that carry traffic changed. */
static void
lacp_changed(struct mgr_team *team)
{
    bool lost;

    if (team_update_active(team->port, &lost)) {
        if (lost) {
            team->failovers++;
        }
        mgr_publish(team->mgr);
    }
}

static void
lacp_timer_cb(evutil_socket_t fd, short what, void *team_)
{
    struct mgr_team *team = team_;

    (void)fd;
    (void)what;
    lacp_poll(team);
    lacp_changed(team);
}

/* A member's slow-protocol socket is readable: LACPDUs for the actor. */
static void
slow_rx_cb(evutil_socket_t fd, short what, void *rx_)
{
    struct team_slow_rx *rx = rx_;
    struct mgr_team *team = rx->team;
    bool received = false;

    (void)what;
    for (int i = 0; i < 64; i++) {
        uint8_t frame[1518];
        struct sockaddr_ll from;
        socklen_t fromlen = sizeof from;
        ssize_t n = recvfrom(fd, frame, sizeof frame, MSG_DONTWAIT,
                             (struct sockaddr *)&from, &fromlen);

        if (n < 0) {
            break;
        }
        if (from.sll_pkttype == PACKET_OUTGOING || n < 15 ||
            frame[12] != (VSW_LACP_ETHERTYPE >> 8) ||
            frame[13] != (VSW_LACP_ETHERTYPE & 0xff)) {
            continue;
        }
        vsw_lacp_receive(team->lacp, rx->member, frame + 14, (size_t)n - 14,
                         (uint64_t)vsw_time_nsec());
        received = true;
    }
    if (received) {
        lacp_poll(team);
        lacp_changed(team);
    }
}

/* Stops listening on the members' slow-protocol sockets. */
static void
team_lacp_unlisten(struct mgr_team *team)
{
    for (unsigned m = 0; m < VSW_LACP_MAX_MEMBERS; m++) {
        if (team->slow_rx[m].event) {
            event_free(team->slow_rx[m].event);
            team->slow_rx[m].event = NULL;
        }
    }
    team->lacp_netdev = NULL;
}

/* The actor hears and speaks through the slow-protocol sockets of
 * 'netdev''s members (a missing member has none). */
static void
team_lacp_listen(struct mgr_team *team, struct vsw_team_netdev *netdev)
{
    team_lacp_unlisten(team);
    team->lacp_netdev = netdev;
    for (unsigned m = 0; m < team->port->cfg.team.members.n; m++) {
        struct team_slow_rx *rx = &team->slow_rx[m];
        int fd = vsw_netdev_team_slow_fd(netdev, m);

        rx->team = team;
        rx->member = m;
        rx->event = fd < 0 ? NULL
                           : event_new(team->mgr->base, fd,
                                       EV_READ | EV_PERSIST, slow_rx_cb, rx);
        if (rx->event) {
            event_add(rx->event, NULL);
        }
    }
}

static void
team_lacp_stop(struct mgr_team *team)
{
    if (!team->lacp) {
        return;
    }
    team_lacp_unlisten(team);
    event_free(team->lacp_timer);
    team->lacp_timer = NULL;
    vsw_lacp_destroy(team->lacp);
    team->lacp = NULL;
    team->lacp_netdev = NULL;
}

/* Starts or stops LACP as the team's mode and device say: it runs while
 * mode=lacp has a device, over that device's sockets. */
static void
team_lacp_sync(struct mgr_port *port)
{
    struct mgr_team *team = port->team;
    struct vsw_team_netdev *netdev =
        port->rt ? vsw_netdev_team_cast(port->rt->netdev) : NULL;
    bool wanted = port->cfg.team.mode == VSW_TEAM_LACP && netdev;
    struct vsw_lacp_settings settings;
    uint64_t now = (uint64_t)vsw_time_nsec();

    if (!team) {
        return;
    }
    if (team->lacp && !wanted) {
        team_lacp_stop(team);
    }
    if (!wanted) {
        return;
    }
    if (team->lacp && team->lacp_netdev != netdev) {
        /* The device was opened again over the same members (one's
         * interface went or came back): the actor keeps its state. */
        team_lacp_listen(team, netdev);
    }
    if (team->lacp) {
        lacp_settings(team, &settings);
        if (settings.fast != team->lacp_fast) {
            /* team.set changed lacp-rate. */
            team->lacp_fast = settings.fast;
            vsw_lacp_configure(team->lacp, &settings);
            lacp_poll(team);
        }
        return;
    }
    for (unsigned m = 0; m < port->cfg.team.members.n; m++) {
        read_mac(port->cfg.team.members.names[m], team->member_mac[m]);
    }
    lacp_settings(team, &settings);
    team->lacp_fast = settings.fast;
    team->lacp = vsw_lacp_create(&settings);
    team->lacp_timer =
        team->lacp ? evtimer_new(team->mgr->base, lacp_timer_cb, team) : NULL;
    if (!team->lacp_timer) {
        VSW_ERR("team %s: out of memory starting LACP", port->name);
        vsw_lacp_destroy(team->lacp);
        team->lacp = NULL;
        return;
    }
    for (unsigned m = 0; m < port->cfg.team.members.n; m++) {
        vsw_lacp_member_add(team->lacp, m, (uint16_t)(m + 1), 32768);
        vsw_lacp_member_set_carrier(team->lacp, m, team->carrier[m], now);
    }
    team_lacp_listen(team, netdev);
    lacp_poll(team);
}

/* Which members carry traffic, from their carrier: every member with
 * carrier but the standby, which joins only while another member is
 * down (or none is up). */
static uint32_t
team_active_mask(const struct mgr_port *port, const bool *carrier)
{
    const struct mgr_team_cfg *cfg = &port->cfg.team;
    int standby = cfg->standby[0] ? member_index(cfg, cfg->standby) : -1;
    bool other_down = false;
    uint32_t mask = 0;

    for (unsigned m = 0; m < cfg->members.n; m++) {
        if ((int)m == standby) {
            continue;
        }
        if (carrier[m]) {
            mask |= 1u << m;
        } else {
            other_down = true;
        }
    }
    if (standby >= 0 && carrier[standby] && (other_down || !mask)) {
        mask |= 1u << standby;
    }
    return mask;
}

/* Reads each member's carrier and recomputes the active set.  Returns true
 * if it changed; '*lost' says whether a member left it. */
static bool
team_update_active(struct mgr_port *port, bool *lost)
{
    struct vsw_team_netdev *netdev = team_netdev(port);
    struct mgr_team *team = port->team;
    bool carrier_changed = false;
    uint32_t mask;

    *lost = false;
    if (!team) {
        return false;
    }
    for (unsigned m = 0; m < port->cfg.team.members.n; m++) {
        struct vsw_netdev *member =
            netdev ? vsw_netdev_team_member(netdev, m) : NULL;
        bool carrier = member && vsw_netdev_link_is_up(member);

        if (team->lacp && carrier != team->carrier[m]) {
            vsw_lacp_member_set_carrier(team->lacp, m, carrier,
                                        (uint64_t)vsw_time_nsec());
            carrier_changed = true;
        }
        team->carrier[m] = carrier;
    }
    if (carrier_changed) {
        lacp_poll(team);
    }
    if (!netdev) {
        mask = 0;
    } else if (port->cfg.team.mode == VSW_TEAM_LACP) {
        /* Only members that are collecting and distributing. */
        mask = 0;
        for (unsigned m = 0; team->lacp && m < port->cfg.team.members.n; m++) {
            if (team->carrier[m] &&
                vsw_lacp_member_distributing(team->lacp, m)) {
                mask |= 1u << m;
            }
        }
    } else {
        mask = team_active_mask(port, team->carrier);
    }
    if (mask == team->active_mask) {
        return false;
    }
    *lost = (team->active_mask & ~mask) != 0;
    if (team->started) {
        /* A failover or a recovery: worth a line of the log each. */
        for (unsigned m = 0; m < port->cfg.team.members.n; m++) {
            bool was = (team->active_mask >> m) & 1;
            bool is = (mask >> m) & 1;

            if (was != is) {
                VSW_INFO("team %s: member %s %s", port->name,
                         port->cfg.team.members.names[m],
                         is ? "carries traffic"
                         : team->carrier[m]
                             ? "stopped carrying traffic"
                             : "stopped carrying traffic: no carrier");
            }
        }
    }
    team->active_mask = mask;
    return true;
}

/* Opens the team's device over the members that exist now.  'keep' is
 * the team's current device when the members are the same (a member's
 * interface came or went): the new one takes over its members that are
 * still there, sockets and all, and LACP and the members' state carry on
 * across the change; without it (a new team, new members) they start
 * over. */
static int
team_open_device(struct vsw_manager *mgr, struct mgr_port *port,
                 struct vsw_team_netdev *keep)
{
    const struct mgr_team_cfg *cfg = &port->cfg.team;
    struct vsw_netdev *netdev;
    unsigned bad = VSW_LACP_MAX_MEMBERS;
    bool lost;
    int error;

    if (!port->team) {
        port->team = calloc(1, sizeof *port->team);
        if (!port->team) {
            return -ENOMEM;
        }
        memset(port->team->pins, VSW_TEAM_NO_MEMBER, sizeof port->team->pins);
        port->team->mgr = mgr;
        port->team->port = port;
    }
    error =
        vsw_netdev_team_open(port->name, cfg->members.names, cfg->members.n,
                             vsw_datapath_n_workers(mgr->dp),
                             port->cfg.offloads, keep, &netdev, &bad);
    if (error) {
        VSW_WARN("team %s: cannot open member %s: %s", port->name,
                 bad < cfg->members.n ? cfg->members.names[bad] : "?",
                 strerror(-error));
        return error;
    }
    if (bad < cfg->members.n) {
        VSW_WARN("team %s: member %s is missing; the team carries on "
                 "without it and takes it back when it returns",
                 port->name, cfg->members.names[bad]);
    }
    port->rt = vsw_port_rt_create(mgr->dp, port->id, port->name, netdev);
    if (!port->rt) {
        vsw_netdev_destroy(netdev, false);
        return -ENOMEM;
    }
    for (unsigned m = 0; m < cfg->members.n; m++) {
        read_mac(cfg->members.names[m], port->team->member_mac[m]);
    }
    /* The new device counts from zero. */
    port->team->sample_ms = vsw_time_msec();
    memset(port->team->sample, 0, sizeof port->team->sample);
    if (keep) {
        /* The actor moves to the new device's sockets (team_lacp_sync());
         * a member that went or came is a carrier change like any, which
         * the caller's team_update_active() finds. */
        team_lacp_sync(port);
        return 0;
    }
    /* A new device: LACP starts over on its sockets. */
    team_lacp_stop(port->team);
    memset(port->team->carrier, 0, sizeof port->team->carrier);
    port->team->active_mask = 0;
    port->team->started = false;
    team_update_active(port, &lost);
    port->team->started = true;
    team_lacp_sync(port);
    return 0;
}

int
mgr_team_open_device(struct vsw_manager *mgr, struct mgr_port *port)
{
    return team_open_device(mgr, port, NULL);
}

/* ---- Snapshot ---- */

static void
rt_retired(void *rt)
{
    vsw_port_rt_destroy(rt, false);
}

static void
map_retired(void *map)
{
    free(map);
}

const struct vsw_team_map *
mgr_team_publish(struct vsw_manager *mgr, struct mgr_port *port)
{
    struct mgr_team *team = port->team;
    bool used[VSW_FDB_MAX_SLOTS] = {false};
    struct vsw_team_map *map;

    if (port->cfg.type != MGR_PORT_TEAM || !team || !team_netdev(port)) {
        return NULL;
    }
    map = calloc(1, sizeof *map);
    if (!map) {
        VSW_ERR("team %s: out of memory publishing its members", port->name);
        return NULL;
    }
    map->netdev = team_netdev(port);
    map->port_id = port->id;
    map->mode = (uint8_t)port->cfg.team.mode;
    map->lb = (uint8_t)port->cfg.team.lb;
    map->n_members = (uint8_t)port->cfg.team.members.n;
    map->active_mask = team->active_mask;
    map->flood_member = VSW_TEAM_NO_MEMBER;
    for (unsigned m = 0; m < map->n_members; m++) {
        if ((team->active_mask >> m) & 1) {
            if (map->flood_member == VSW_TEAM_NO_MEMBER) {
                map->flood_member = (uint8_t)m;
            }
            map->active[map->n_active++] = (uint8_t)m;
        }
    }
    /* lb=port: every other port of the switch is a source to place. */
    for (const struct mgr_port *p = port->sw->ports; p; p = p->next) {
        if (p != port) {
            used[VSW_FDB_SLOT(p->id)] = true;
        }
    }
    vsw_team_pins_rebalance(team->pins, used, VSW_FDB_MAX_SLOTS,
                            team->active_mask,
                            (team->active_mask & ~team->pinned_mask) != 0);
    team->pinned_mask = team->active_mask;
    memcpy(map->pins, team->pins, sizeof map->pins);
    if (port->cfg.team.lb == VSW_TEAM_LB_DYNAMIC) {
        if (!team->flowlets) {
            team->flowlets = calloc(1, sizeof *team->flowlets);
        }
        if (team->flowlets) {
            /* team.set may have changed it; the workers read it relaxed. */
            atomic_store_explicit(&team->flowlets->gap_ns,
                                  (uint64_t)port->cfg.team.flowlet_gap_us *
                                      1000,
                                  memory_order_relaxed);
        }
        /* Without its table (no memory), dynamic is address-hash. */
        map->flowlets = team->flowlets;
    }
    memcpy(map->member_mac, team->member_mac, sizeof map->member_mac);
    if (port->cfg.team.rx_balance &&
        port->cfg.team.mode == VSW_TEAM_SWITCH_INDEPENDENT) {
        if (!team->rlb) {
            team->rlb = calloc(1, sizeof *team->rlb);
        }
        /* Without its table (no memory), no receive balancing. */
        map->rlb = team->rlb;
    }
    if (team->map) {
        mgr_retire(mgr, map_retired, team->map);
    }
    team->map = map;
    return map;
}

void
mgr_team_port_destroy(struct vsw_manager *mgr, struct mgr_port *port)
{
    if (!port->team) {
        return;
    }
    team_lacp_stop(port->team);
    if (port->team->flowlets) {
        mgr_retire(mgr, map_retired, port->team->flowlets);
    }
    if (port->team->rlb) {
        mgr_retire(mgr, map_retired, port->team->rlb);
    }
    if (port->team->map) {
        mgr_retire(mgr, map_retired, port->team->map);
    }
    free(port->team);
    port->team = NULL;
}

/* ---- Failover ---- */

/* Builds a RARP announcing 'mac' in VLAN 'vid' (0: untagged) into 'frame'
 * (at least 64 bytes).  Returns its length. */
static size_t
build_rarp(const uint8_t mac[6], uint16_t vid, uint8_t *frame)
{
    static const uint8_t arp_head[8] = {0, 1, 8, 0, 6, 4, 0, 3};
    size_t len = 0;

    memset(frame, 0, 64);
    memset(frame, 0xff, 6);
    memcpy(frame + 6, mac, 6);
    len = 12;
    if (vid) {
        frame[len++] = 0x81;
        frame[len++] = 0x00;
        frame[len++] = (uint8_t)(vid >> 8);
        frame[len++] = (uint8_t)vid;
    }
    frame[len++] = 0x80; /* reverse ARP */
    frame[len++] = 0x35;
    memcpy(frame + len, arp_head, sizeof arp_head);
    len += sizeof arp_head;
    memcpy(frame + len, mac, 6); /* sender hardware address */
    len += 6 + 4;
    memcpy(frame + len, mac, 6); /* target hardware address */
    len += 6 + 4;
    return len < 60 ? 60 : len;
}

/* After a failover: tells the physical switches where the MACs behind the
 * team are now, a RARP each (as hypervisors do after a migration), sent
 * through the member that carries that MAC's broadcasts now. */
static void
team_announce(struct mgr_port *port)
{
    const struct vsw_team_map *map = port->team ? port->team->map : NULL;
    const struct vsw_vlan_config *vlan = &port->cfg.vlan;
    struct vsw_team_netdev *netdev = team_netdev(port);
    enum {
        MAX_ANNOUNCED = 4096
    };
    struct vsw_fdb_entry_info *entries;
    size_t n;

    if (!map || !netdev || !map->n_active) {
        return;
    }
    entries = calloc(MAX_ANNOUNCED, sizeof *entries);
    if (!entries) {
        return;
    }
    n = vsw_fdb_dump(port->sw->fdb, entries, MAX_ANNOUNCED, vsw_time_msec());
    for (size_t i = 0; i < n; i++) {
        const struct vsw_fdb_entry_info *e = &entries[i];
        struct vsw_flow_key key;
        uint8_t frame[64];
        uint16_t vid = 0;
        size_t len;
        uint8_t m;

        if (e->port_id == port->id) {
            continue;
        }
        if (vlan->mode == VSW_VLAN_MODE_TRUNK) {
            if (e->vlan && e->vlan != vlan->native_vid &&
                !vsw_vlan_is_member(vlan, e->vlan)) {
                continue;
            }
            vid = e->vlan == vlan->native_vid ? 0 : e->vlan;
        } else if (vlan->mode == VSW_VLAN_MODE_ACCESS ? e->vlan != vlan->vid
                                                      : e->vlan != 0) {
            continue;
        }
        len = build_rarp(e->mac, vid, frame);
        vsw_flow_extract(frame, len, &key);
        m = vsw_team_select(map, &key, e->port_id, (uint64_t)vsw_time_nsec());
        if (m != VSW_TEAM_NO_MEMBER &&
            !vsw_netdev_team_send_raw(netdev, m, frame, len)) {
            port->team->announced++;
        }
    }
    free(entries);
}

/* rx-balance: tells each known peer, in a unicast ARP reply, the MAC of
 * its own member for the VM with address 'vm' (host order). */
static void
team_rlb_tell_peers(const struct vsw_team_map *map,
                    struct vsw_team_netdev *netdev, uint32_t vm)
{
    static const uint8_t arp_head[8] = {0, 1, 8, 0, 6, 4, 0, 2};
    uint8_t vm_ip[4] = {(uint8_t)(vm >> 24), (uint8_t)(vm >> 16),
                        (uint8_t)(vm >> 8), (uint8_t)vm};

    for (unsigned s = 0; s < VSW_TEAM_RLB_SLOTS; s++) {
        uint8_t peer_ip[4], peer_mac[6];
        uint8_t frame[60] = {0};
        uint8_t m;

        if (!vsw_team_ip_slot(&map->rlb->peers, s, peer_ip, peer_mac) ||
            !memcmp(peer_ip, vm_ip, 4)) {
            continue;
        }
        m = vsw_team_rlb_member(map, peer_ip);
        if (m == VSW_TEAM_NO_MEMBER) {
            return;
        }
        memcpy(frame, peer_mac, 6);
        memcpy(frame + 6, map->member_mac[m], 6);
        frame[12] = 0x08;
        frame[13] = 0x06;
        memcpy(frame + 14, arp_head, sizeof arp_head);
        memcpy(frame + 22, map->member_mac[m], 6);
        memcpy(frame + 28, vm_ip, 4);
        memcpy(frame + 32, peer_mac, 6);
        memcpy(frame + 38, peer_ip, 4);
        vsw_netdev_team_send_raw(netdev, m, frame, sizeof frame);
    }
}

/* rx-balance, each second: after a VM's broadcast ARP request (which every
 * peer took the one member MAC of), tells the peers their own member's
 * MAC again, three seconds running: a peer keeps a neighbour entry it
 * just changed for a second (Linux's locktime) whatever it hears. */
static void
team_rlb_announce(struct mgr_port *port)
{
    const struct vsw_team_map *map = port->team ? port->team->map : NULL;
    struct vsw_team_netdev *netdev = team_netdev(port);
    struct mgr_team *team = port->team;

    if (!map || !map->rlb || !netdev) {
        return;
    }
    for (unsigned a = 0; a < VSW_TEAM_RLB_ANNOUNCE; a++) {
        uint32_t vm = atomic_exchange_explicit(&map->rlb->announce[a], 0,
                                               memory_order_relaxed);

        if (vm) {
            team->announce_vm[a] = vm;
            team->announce_left[a] = 3;
        }
        if (team->announce_left[a]) {
            team->announce_left[a]--;
            team_rlb_tell_peers(map, netdev, team->announce_vm[a]);
        }
    }
}

/* Opens the team's device again when a member's interface was deleted
 * (its sockets are dead: the worker polling one stops) or came back, or
 * when the device is missing and a member is back; with 'force', also when
 * the members look unchanged (a worker gave up on one of the sockets).
 * Returns true if the device changed. */
static bool
team_follow_members(struct vsw_manager *mgr, struct mgr_port *port, bool force)
{
    struct vsw_team_netdev *netdev = team_netdev(port);
    struct vsw_port_rt *old_rt = port->rt;

    if (!port->team ||
        (netdev && !force && !vsw_netdev_team_members_moved(netdev))) {
        return false;
    }
    if (!netdev) {
        /* Every member was missing (retry_missing() tries each second);
         * a link event may say one is back. */
        for (unsigned m = 0; m < port->cfg.team.members.n; m++) {
            if (if_nametoindex(port->cfg.team.members.names[m])) {
                break;
            }
            if (m + 1 == port->cfg.team.members.n) {
                return false;
            }
        }
        if (port->rt) {
            return false;
        }
    }
    port->rt = NULL;
    if (team_open_device(mgr, port, netdev)) {
        /* No member left: the port is missing until one is back. */
        snprintf(port->last_error, sizeof port->last_error,
                 "every member's interface is missing");
        memset(port->team->carrier, 0, sizeof port->team->carrier);
    } else {
        VSW_INFO("team %s: members' interfaces changed; device reopened "
                 "over those present",
                 port->name);
    }
    if (old_rt) {
        vsw_datapath_detach(mgr->dp, old_rt);
        mgr_retire(mgr, rt_retired, old_rt);
    }
    return true;
}

/* Follows the carrier of every team's members; publishes at once when a
 * team's active set changed, then announces its MACs if one left. */
static void
teams_follow_carrier(struct vsw_manager *mgr)
{
    bool changed = false;
    bool any_lost = false;

    for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        for (struct mgr_port *p = sw->ports; p; p = p->next) {
            bool lost;

            if (p->cfg.type == MGR_PORT_TEAM &&
                team_follow_members(mgr, p, false)) {
                changed = true;
            }
            if (p->cfg.type == MGR_PORT_TEAM && team_update_active(p, &lost)) {
                changed = true;
                if (lost) {
                    p->team->failovers++;
                    any_lost = true;
                }
            }
        }
    }
    if (!changed) {
        return;
    }
    mgr_publish(mgr);
    if (!any_lost) {
        return;
    }
    for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        for (struct mgr_port *p = sw->ports; p; p = p->next) {
            if (p->cfg.type == MGR_PORT_TEAM) {
                team_announce(p);
            }
        }
    }
}

bool
mgr_team_reopen(struct vsw_manager *mgr, struct mgr_port *port)
{
    return team_follow_members(mgr, port, true);
}

void
mgr_team_link_event(struct vsw_manager *mgr)
{
    teams_follow_carrier(mgr);
}

void
mgr_team_tick(struct vsw_manager *mgr)
{
    int64_t now = vsw_time_msec();

    teams_follow_carrier(mgr);
    for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        for (struct mgr_port *p = sw->ports; p; p = p->next) {
            struct vsw_team_netdev *netdev = team_netdev(p);
            struct mgr_team *team = p->team;
            int64_t dt;

            if (p->cfg.type != MGR_PORT_TEAM || !team) {
                continue;
            }
            /* A device lost or found again, or a mode changed. */
            team_lacp_sync(p);
            team_rlb_announce(p);
            if (!netdev) {
                continue;
            }
            dt = now - team->sample_ms;
            if (dt <= 0) {
                continue;
            }
            for (unsigned m = 0; m < p->cfg.team.members.n; m++) {
                struct vsw_team_member_counters c;

                member_counters(p, netdev, m, &c);
                team->rx_bps[m] =
                    counter_delta(c.rx_bytes, team->sample[m].rx_bytes) *
                    8000 / (uint64_t)dt;
                team->tx_bps[m] =
                    counter_delta(c.tx_bytes, team->sample[m].tx_bytes) *
                    8000 / (uint64_t)dt;
                team->sample[m] = c;
            }
            if (team->flowlets) {
                vsw_team_flowlets_sample(team->flowlets, team->tx_bps,
                                         p->cfg.team.members.n);
            }
            team->sample_ms = now;
        }
    }
}

/* ---- Operations ---- */

static int
team_add(struct vsw_manager *mgr, json_t *params, struct mgr_port **portp,
         struct vsw_rpc_error *err)
{
    struct mgr_switch *sw;
    struct mgr_port_cfg cfg;
    struct mgr_team_cfg team_cfg;
    struct mgr_port *port;
    const char *name;
    json_t *settings;
    json_t *port_params;
    int error;

    if (mgr_rpc_get_switch(mgr, params, "switch", &sw, err) ||
        vsw_rpc_get_string(params, "name", true, &name, err) ||
        mgr_check_name("team", name, err)) {
        return -1;
    }
    settings = json_deep_copy(params);
    json_object_del(settings, "switch");
    error = mgr_team_cfg_from_params(settings, &team_cfg, err);
    json_decref(settings);
    if (error) {
        return -1;
    }
    if (mgr_find_port(mgr, name)) {
        return vsw_rpc_error(err, VSW_RPC_EXISTS,
                             "port '%s' already exists; a team is a port "
                             "and needs a name of its own",
                             name);
    }
    if (check_members(mgr, NULL, &team_cfg, err)) {
        return -1;
    }
    port_params = json_pack("{s:s}", "type", "team");
    error = mgr_port_cfg_from_params(port_params, name, &cfg, err);
    json_decref(port_params);
    if (error) {
        return -1;
    }
    cfg.team = team_cfg;
    if (mgr_ext_port_check(mgr, sw, name, VSW_EXT_PORT_CREATE, params, err) ||
        mgr_port_create(mgr, sw, name, &cfg, false, NULL, &port, err)) {
        return -1;
    }
    if (mgr_config_save(mgr, err)) {
        mgr_port_destroy(mgr, port, true);
        mgr_publish(mgr);
        return -1;
    }
    mgr_publish(mgr);
    *portp = port;
    return 0;
}

static int
team_set(struct vsw_manager *mgr, struct mgr_port *port, json_t *params,
         struct vsw_rpc_error *err)
{
    struct mgr_team_cfg cfg = port->cfg.team;
    struct mgr_team_cfg old = port->cfg.team;
    struct vsw_port_rt *old_rt = port->rt;
    bool members_changed;
    bool lost;

    if (vsw_settings_apply(&mgr_team_kind, &cfg, params, false, err) ||
        team_cfg_check(&cfg, err) || check_members(mgr, port, &cfg, err)) {
        return -1;
    }
    members_changed = memcmp(&cfg.members, &old.members, sizeof cfg.members);
    port->cfg.team = cfg;
    if (members_changed) {
        int error;

        /* A new device over the new members; the old one goes with the
         * next snapshot. */
        port->rt = NULL;
        error = mgr_team_open_device(mgr, port);
        if (error) {
            port->rt = old_rt;
            port->cfg.team = old;
            return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR,
                                 "cannot open the new members: %s",
                                 strerror(-error));
        }
    }
    if (mgr_config_save(mgr, err)) {
        port->cfg.team = old;
        if (members_changed) {
            team_lacp_stop(port->team);
            vsw_port_rt_destroy(port->rt, false);
            port->rt = old_rt;
            memset(port->team->carrier, 0, sizeof port->team->carrier);
            team_update_active(port, &lost);
            team_lacp_sync(port);
        }
        return -1;
    }
    if (members_changed && old_rt) {
        vsw_datapath_detach(mgr->dp, old_rt);
        mgr_retire(mgr, rt_retired, old_rt);
    }
    team_lacp_sync(port);
    team_update_active(port, &lost);
    mgr_publish(mgr);
    return 0;
}

/* ---- JSON views ---- */

/* The speed of interface 'ifname' in Mb/s, or -1 if unknown (a veth has
 * none of its own). */
static long long
link_speed_mbps(const char *ifname)
{
    char path[64];
    long long speed = -1;
    FILE *f;

    snprintf(path, sizeof path, "/sys/class/net/%s/speed", ifname);
    f = fopen(path, "r");
    if (!f) {
        return -1;
    }
    if (fscanf(f, "%lld", &speed) != 1 || speed <= 0) {
        speed = -1;
    }
    fclose(f);
    return speed;
}

/* One side's LACP information: its system, key, port and state flags
 * (802.1AX names). */
static json_t *
lacp_info_to_json(const struct vsw_lacp_info *info)
{
    static const char *const flags[8] = {
        "activity",   "timeout",      "aggregation", "synchronization",
        "collecting", "distributing", "defaulted",   "expired",
    };
    json_t *state = json_array();
    char mac[18];

    for (int bit = 0; bit < 8; bit++) {
        if ((info->state >> bit) & 1) {
            json_array_append_new(state, json_string(flags[bit]));
        }
    }
    vsw_mac_format(info->system_mac, mac);
    return json_pack("{s:i, s:s, s:i, s:i, s:i, s:o}", "system-priority",
                     info->system_priority, "system", mac, "key", info->key,
                     "port-priority", info->port_priority, "port",
                     info->port_number, "state", state);
}

static json_t *
member_to_json(const struct mgr_port *port, unsigned m)
{
    struct vsw_lacp_member_status lacp;
    const struct mgr_team_cfg *cfg = &port->cfg.team;
    const struct mgr_team *team = port->team;
    struct vsw_team_netdev *netdev = team_netdev(port);
    struct vsw_team_member_counters c = {0};
    const char *name = cfg->members.names[m];
    bool carrier = team && team->carrier[m];
    bool active = team && ((team->active_mask >> m) & 1);
    bool standby = cfg->standby[0] && !strcmp(cfg->standby, name);
    long long speed = link_speed_mbps(name);
    uint64_t rx_bps = team ? team->rx_bps[m] : 0;
    uint64_t tx_bps = team ? team->tx_bps[m] : 0;
    const char *state = "active";
    json_t *obj;

    if (netdev) {
        member_counters(port, netdev, m, &c);
    }
    if (team && team->lacp) {
        vsw_lacp_member_status(team->lacp, m, &lacp);
    }
    if (!(netdev && vsw_netdev_team_member(netdev, m)) &&
        !if_nametoindex(name)) {
        /* Deleted: taken back when an interface of its name returns. */
        state = "missing";
    } else if (!netdev || !carrier) {
        state = "down";
    } else if (!active) {
        state = standby ? "standby" : "inactive";
    }
    obj = json_pack("{s:s, s:s, s:b, s:b}", "name", name, "state", state,
                    "carrier", carrier, "standby", standby);
    if (!strcmp(state, "inactive") && team && team->lacp) {
        json_object_set_new(obj, "why",
                            json_string(vsw_lacp_why_name(lacp.why)));
    }
    if (team && team->lacp) {
        json_object_set_new(
            obj, "lacp",
            json_pack("{s:o, s:o, s:b, s:b, s:b, s:I, s:I, s:I}", "actor",
                      lacp_info_to_json(&lacp.actor), "partner",
                      lacp_info_to_json(&lacp.partner), "current",
                      lacp.current, "selected", lacp.selected, "distributing",
                      lacp.distributing, "rx-lacpdus",
                      (json_int_t)lacp.rx_lacpdus, "rx-bad",
                      (json_int_t)lacp.rx_bad, "tx-lacpdus",
                      (json_int_t)lacp.tx_lacpdus));
    }
    json_object_set_new(obj, "speed-mbps",
                        speed > 0 ? json_integer(speed) : json_null());
    json_object_set_new(obj, "rx-packets",
                        json_integer((json_int_t)c.rx_packets));
    json_object_set_new(obj, "rx-bytes", json_integer((json_int_t)c.rx_bytes));
    json_object_set_new(obj, "tx-packets",
                        json_integer((json_int_t)c.tx_packets));
    json_object_set_new(obj, "tx-bytes", json_integer((json_int_t)c.tx_bytes));
    json_object_set_new(obj, "rx-bps", json_integer((json_int_t)rx_bps));
    json_object_set_new(obj, "tx-bps", json_integer((json_int_t)tx_bps));
    if (speed > 0) {
        uint64_t busiest = rx_bps > tx_bps ? rx_bps : tx_bps;

        /* Of the member's speed, in the busier direction. */
        json_object_set_new(
            obj, "utilization",
            json_integer((json_int_t)(busiest / 10000 / (uint64_t)speed)));
    } else {
        json_object_set_new(obj, "utilization", json_null());
    }
    return obj;
}

static json_t *
team_to_json(const struct mgr_port *port, bool with_members)
{
    json_t *obj =
        json_pack("{s:s, s:s}", "name", port->name, "switch", port->sw->name);
    unsigned n_active = 0;

    vsw_settings_to_json(&mgr_team_kind, &port->cfg.team, obj);
    for (unsigned m = 0; port->team && m < port->cfg.team.members.n; m++) {
        n_active += (port->team->active_mask >> m) & 1;
    }
    json_object_set_new(obj, "active-members", json_integer(n_active));
    if (with_members) {
        json_t *members = json_array();

        for (unsigned m = 0; m < port->cfg.team.members.n; m++) {
            json_array_append_new(members, member_to_json(port, m));
        }
        json_object_set_new(
            obj, "failovers",
            json_integer(port->team ? (json_int_t)port->team->failovers : 0));
        json_object_set_new(
            obj, "announced",
            json_integer(port->team ? (json_int_t)port->team->announced : 0));
        if (port->team && port->team->flowlets &&
            port->cfg.team.lb == VSW_TEAM_LB_DYNAMIC) {
            json_object_set_new(
                obj, "flowlet-moves",
                json_integer((json_int_t)atomic_load_explicit(
                    &port->team->flowlets->moves, memory_order_relaxed)));
        }
        json_object_set_new(obj, "member-state", members);
    }
    if (port->last_error[0]) {
        json_object_set_new(obj, "error", json_string(port->last_error));
    }
    return obj;
}

/* ---- JSON-RPC methods ---- */

/* The team named by param 'key', or fills 'err'. */
static int
get_team(struct vsw_manager *mgr, json_t *params, const char *key,
         struct mgr_port **portp, struct vsw_rpc_error *err)
{
    const char *name;

    if (vsw_rpc_get_string(params, key, true, &name, err)) {
        return -1;
    }
    *portp = mgr_find_port(mgr, name);
    if (!*portp || (*portp)->cfg.type != MGR_PORT_TEAM) {
        *portp = NULL;
        return vsw_rpc_error(err, VSW_RPC_NOT_FOUND, "no team '%.64s'", name);
    }
    return mgr_txn_check_kept(mgr, NULL, *portp, err);
}

static int
rpc_team_add(json_t *params, json_t **result, struct vsw_rpc_error *err,
             void *mgr)
{
    struct mgr_port *port;

    if (team_add(mgr, params, &port, err)) {
        return -1;
    }
    *result = team_to_json(port, true);
    return 0;
}

static int
rpc_team_set(json_t *params, json_t **result, struct vsw_rpc_error *err,
             void *mgr)
{
    struct mgr_port *port;

    if (get_team(mgr, params, "name", &port, err) ||
        team_set(mgr, port, params, err)) {
        return -1;
    }
    *result = team_to_json(port, true);
    return 0;
}

static int
rpc_team_del(json_t *params, json_t **result, struct vsw_rpc_error *err,
             void *mgr)
{
    (void)result;
    return mgr_rpc_port_del(mgr, params, get_team, err);
}

/* team.show and team.list: every team, or the one "name" names. */
static int
list_teams(struct vsw_manager *mgr, json_t *params, bool with_members,
           json_t **result, struct vsw_rpc_error *err)
{
    static const char *const keys[] = {"name", NULL};
    struct mgr_port *only = NULL;
    json_t *list;

    if (vsw_rpc_check_keys(params, keys, err) ||
        (json_object_get(params, "name") &&
         get_team(mgr, params, "name", &only, err))) {
        return -1;
    }
    list = json_array();
    for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        for (struct mgr_port *p = sw->ports; p; p = p->next) {
            if (p->cfg.type == MGR_PORT_TEAM && (!only || p == only)) {
                json_array_append_new(list, team_to_json(p, with_members));
            }
        }
    }
    *result = json_pack("{s:o}", "teams", list);
    return 0;
}

static int
rpc_team_show(json_t *params, json_t **result, struct vsw_rpc_error *err,
              void *mgr)
{
    return list_teams(mgr, params, true, result, err);
}

static int
rpc_team_list(json_t *params, json_t **result, struct vsw_rpc_error *err,
              void *mgr)
{
    return list_teams(mgr, params, false, result, err);
}

static const struct vsw_rpc_method team_methods[] = {
    {"team.add", rpc_team_add, VSW_RPC_WRITES},
    {"team.set", rpc_team_set, VSW_RPC_WRITES},
    {"team.del", rpc_team_del, VSW_RPC_WRITES},
    {"team.show", rpc_team_show, VSW_RPC_READS},
    {"team.list", rpc_team_list, VSW_RPC_READS},
};

int
mgr_team_register_rpc(struct vsw_manager *mgr, struct vsw_rpc_server *server)
{
    return vsw_rpc_server_register(
        server, team_methods, sizeof team_methods / sizeof *team_methods, mgr);
}

/* The bounded tables of every team: its members (and, with LACP, the
 * partners it knows of them), and rx-balance's address tables, whose
 * slots a new address takes over from an old one that hashes alike. */
static size_t
ip_table_used(const struct vsw_team_ip_table *table)
{
    size_t n = 0;

    for (size_t i = 0; i < VSW_TEAM_RLB_SLOTS; i++) {
        n += atomic_load_explicit(&table->slots[i][0], memory_order_relaxed) !=
             0;
    }
    return n;
}

void
mgr_team_bounds(struct vsw_manager *mgr, struct vsw_bounds *b)
{
    for (const struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        for (const struct mgr_port *p = sw->ports; p; p = p->next) {
            const struct mgr_team *team = p->team;
            char owner[VSW_NAME_MAX + 8];

            if (p->cfg.type != MGR_PORT_TEAM) {
                continue;
            }
            snprintf(owner, sizeof owner, "team:%s", p->name);
            vsw_bounds_add(b, "team-members", owner, "members",
                           p->cfg.team.members.n, VSW_LACP_MAX_MEMBERS, 0);
            if (team && team->lacp) {
                unsigned partners = 0;

                for (unsigned m = 0; m < p->cfg.team.members.n; m++) {
                    struct vsw_lacp_member_status st;

                    partners += !vsw_lacp_member_status(team->lacp, m, &st) &&
                                st.current;
                }
                vsw_bounds_add(b, "lacp-partners", owner, "partners", partners,
                               VSW_LACP_MAX_MEMBERS, 0);
            }
            if (team && team->rlb) {
                vsw_bounds_add(b, "rx-balance-vms", owner, "addresses",
                               ip_table_used(&team->rlb->vms),
                               VSW_TEAM_RLB_SLOTS, 0);
                vsw_bounds_add(b, "rx-balance-peers", owner, "addresses",
                               ip_table_used(&team->rlb->peers),
                               VSW_TEAM_RLB_SLOTS, 0);
            }
        }
    }
}
