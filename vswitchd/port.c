/*
 * Ports: their settings table, the operations behind port.add, set and
 * del, and the port.* methods.  Where a port's TAP device lives is
 * tap-track.c's; its private VLANs are checked by pvlan.c; its ACLs are
 * manager-acl.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conntrack.h"
#include "log.h"
#include "manager-private.h"
#include "metering.h"
#include "netns.h"

#define MAC_LIMIT_MAX   (1u << 22)
#define STORM_LIMIT_MAX 100000000
/* QoS: the largest rate a port may be shaped to, and the largest
 * burst. */
#define MAX_BANDWIDTH_MAX 400000000000LL
#define MAX_BURST_MAX     (1LL << 30)

static const char *const port_types[] = {"tap",  "uplink",     "vxlan",
                                         "team", "vhost-user", NULL};
static const char *const vhost_modes[] = {"server", "client", NULL};

/* Minimum bandwidth (qos-sched.c): the largest weight and bit rate. */
#define MIN_BW_WEIGHT_MAX 100
#define MIN_BW_RATE_MAX   1000000000000LL /* 1T */

#define IN_MODE(m) (1u << VSW_VLAN_MODE_##m)
#define PVLAN_MODES                                                           \
    (IN_MODE(PVLAN_ISOLATED) | IN_MODE(PVLAN_COMMUNITY) |                     \
     IN_MODE(PVLAN_PROMISCUOUS))
#define PORT_ROW(KEY, TYPE, MEMBER)                                           \
    VSW_SETTING_ROW(KEY, TYPE, struct mgr_port_cfg, MEMBER)

/* Every setting of a port: add a row here, its effect where the datapath
 * snapshot takes it (mgr_publish(), mgr_port_policy_build()), and a line
 * in the docs' "Port settings" tables. */
static const struct vsw_setting port_settings[] = {
    {
        PORT_ROW("type", VSW_SETTING_ENUM, type),
        .names = port_types,
        .flags = VSW_SETTING_FIXED | VSW_SETTING_REQUIRED,
        .help = "tap: a TAP device the daemon creates for a VM or "
                "container; uplink: an existing netdev, attached with "
                "AF_PACKET; vxlan: a VXLAN tunnel (vswitch-ctl tunnel add); "
                "team: made by team add; vhost-user: a VM's virtio-net "
                "device served over a unix socket",
    },
    {
        PORT_ROW("socket", VSW_SETTING_PATH, vhost.socket),
        .when_key = "type",
        .when_values = 1u << MGR_PORT_VHOST_USER,
        .flags = VSW_SETTING_FIXED,
        .help = "vhost-user: the unix socket the daemon creates (server) "
                "or connects to (client); required",
    },
    {
        PORT_ROW("vhost-mode", VSW_SETTING_ENUM, vhost.client),
        .names = vhost_modes,
        .default_value = "server",
        .when_key = "type",
        .when_values = 1u << MGR_PORT_VHOST_USER,
        .flags = VSW_SETTING_FIXED,
        .help = "vhost-user: server (the daemon listens) or client (it "
                "connects to the VM's socket and reconnects)",
    },
    {
        PORT_ROW("socket-group", VSW_SETTING_GROUP, vhost.socket_group),
        .when_key = "type",
        .when_values = 1u << MGR_PORT_VHOST_USER,
        .flags = VSW_SETTING_FIXED,
        .help = "vhost-user, server: the group the socket (mode 0660) is "
                "given to, so that its members may connect; default: the "
                "daemon's",
    },
    {
        PORT_ROW("ifname", VSW_SETTING_IFNAME, ifname),
        .when_key = "type",
        .when_values = (1u << MGR_PORT_TAP) | (1u << MGR_PORT_UPLINK),
        .flags = VSW_SETTING_FIXED,
        .help = "the interface created (tap) or attached (uplink); "
                "default: the port's name",
    },
    {
        PORT_ROW("mac", VSW_SETTING_MAC, mac),
        .when_key = "type",
        .when_values = 1u << MGR_PORT_TAP,
        .flags = VSW_SETTING_FIXED,
        .help = "the MAC address a new TAP device gets; with mac-spoofing "
                "off, the only source address it may use",
    },
    {
        PORT_ROW("offloads", VSW_SETTING_BOOLEAN, offloads),
        .default_value = "true",
        .when_key = "type",
        .when_values = (1u << MGR_PORT_TAP) | (1u << MGR_PORT_UPLINK) |
                       (1u << MGR_PORT_TEAM),
        .flags = VSW_SETTING_FIXED,
        .help = "pass TCP segments whole (true) or segment and checksum "
                "them in software (false; a TAP then carries plain frames, "
                "without virtio-net headers)",
    },
    {
        PORT_ROW("vlan-mode", VSW_SETTING_ENUM, vlan.mode),
        .names = vsw_vlan_mode_names,
        .default_value = "untagged",
        .help = "how the port tags its frames; uplinks default to trunk",
    },
    {
        PORT_ROW("vlan", VSW_SETTING_INTEGER, vlan.vid),
        .min = 1,
        .max = VSW_VLAN_MAX,
        .when_key = "vlan-mode",
        .when_values = IN_MODE(ACCESS),
        .help = "the VLAN of an access port (required there)",
    },
    {
        PORT_ROW("trunks", VSW_SETTING_VLAN_SET, vlan.trunks),
        .when_key = "vlan-mode",
        .when_values = IN_MODE(TRUNK),
        .help = "VLANs a trunk carries, as 10,20-30; empty for all",
    },
    {
        PORT_ROW("native-vlan", VSW_SETTING_INTEGER, vlan.native_vid),
        .min = 0,
        .max = VSW_VLAN_MAX,
        .default_value = "0",
        .when_key = "vlan-mode",
        .when_values = IN_MODE(TRUNK),
        .help = "the VLAN of a trunk's untagged frames; 0 for none",
    },
    {
        PORT_ROW("pvlan-primary", VSW_SETTING_INTEGER, vlan.pvlan_primary),
        .min = 1,
        .max = VSW_VLAN_MAX,
        .when_key = "vlan-mode",
        .when_values = PVLAN_MODES,
        .help = "the primary VLAN of a private VLAN port (required there)",
    },
    {
        PORT_ROW("pvlan-secondary", VSW_SETTING_VLAN_SET,
                 vlan.pvlan_secondaries),
        .when_key = "vlan-mode",
        .when_values = PVLAN_MODES,
        .help = "the secondary VLAN of an isolated or community port, or "
                "the secondaries a promiscuous port serves",
    },
    {
        PORT_ROW("mac-limit", VSW_SETTING_INTEGER, mac_limit),
        .min = 0,
        .max = MAC_LIMIT_MAX,
        .default_value = "0",
        .help = "most MAC addresses learned on the port; 0 for the "
                "switch's limit only",
    },
    {
        PORT_ROW("flood", VSW_SETTING_BOOLEAN, flood),
        .default_value = "true",
        .help = "receive the broadcast, multicast and unknown unicast "
                "frames the switch floods (false: only frames for MACs "
                "learned on the port)",
    },
    {
        PORT_ROW("mac-spoofing", VSW_SETTING_BOOLEAN, guard.mac_spoofing),
        .default_value = "false",
        .help = "may send from MAC addresses other than its own (false: "
                "the MAC-spoofing guard is on)",
    },
    {
        PORT_ROW("mac-spoofing-guard", VSW_SETTING_BOOLEAN,
                 guard.mac_spoofing),
        .default_value = "true",
        .flags = VSW_SETTING_ALIAS | VSW_SETTING_INVERTED,
        .alias_of = "mac-spoofing",
        .help = "the MAC-spoofing guard: drop frames from MAC addresses "
                "other than the port's own; mac-spoofing=false, said the "
                "right way round",
    },
    {
        PORT_ROW("dhcp-guard", VSW_SETTING_BOOLEAN, guard.dhcp_guard),
        .default_value = "false",
        .help = "drop DHCP server messages the port sends",
    },
    {
        PORT_ROW("router-guard", VSW_SETTING_BOOLEAN, guard.router_guard),
        .default_value = "false",
        .help = "drop router advertisements and redirects the port sends",
    },
    {
        PORT_ROW("storm-limit", VSW_SETTING_INTEGER, guard.storm_limit),
        .min = 0,
        .max = STORM_LIMIT_MAX,
        .default_value = "0",
        .help = "broadcast, multicast and unknown unicast packets per "
                "second the port may send; 0 for no limit",
    },
    {
        PORT_ROW("ieee-priority-tag", VSW_SETTING_BOOLEAN,
                 guard.ieee_priority_tag),
        .default_value = "false",
        .help = "keep the 802.1p priority the port sets (false: reset to 0)",
    },
    {
        PORT_ROW("allowed-ips", VSW_SETTING_IP_LIST, guard.allowed_ips),
        .help = "the only IPv4 and IPv6 addresses the port may use, "
                "comma-separated; empty for any",
    },
    {
        PORT_ROW("max-bandwidth", VSW_SETTING_BIT_RATE, qos.max_bandwidth),
        .min = 0,
        .max = MAX_BANDWIDTH_MAX,
        .default_value = "0",
        .help = "bits per second the port may send, shaped (frames over "
                "the rate wait in a bounded queue); rounded down to a "
                "multiple of 8; 0 for no limit",
    },
    {
        PORT_ROW("max-bandwidth-in", VSW_SETTING_BIT_RATE,
                 qos.max_bandwidth_in),
        .min = 0,
        .max = MAX_BANDWIDTH_MAX,
        .default_value = "0",
        .help = "bits per second the switch may send to the port, shaped "
                "the same way; rounded down to a multiple of 8; 0 for no "
                "limit",
    },
    {
        PORT_ROW("max-burst", VSW_SETTING_INTEGER, qos.max_burst),
        .min = 0,
        .max = MAX_BURST_MAX,
        .default_value = "0",
        .help = "bytes a shaped port may send at once after idling, both "
                "directions; 0 for 5 ms at the rate, at least 98304",
    },
    {
        PORT_ROW("min-bandwidth-weight", VSW_SETTING_INTEGER, min_bw_weight),
        .min = 0,
        .max = MIN_BW_WEIGHT_MAX,
        .default_value = "0",
        .owner_key = "min-bandwidth-mode",
        .owner_values = 1u << MGR_MIN_BW_WEIGHT,
        .help = "the port's share of a congested uplink, 1..100, on a "
                "switch with min-bandwidth-mode=weight; 0 for the default "
                "flow (weight 1)",
    },
    {
        PORT_ROW("min-bandwidth-absolute", VSW_SETTING_BIT_RATE,
                 min_bw_absolute),
        .min = 0,
        .max = MIN_BW_RATE_MAX,
        .default_value = "0",
        .owner_key = "min-bandwidth-mode",
        .owner_values = 1u << MGR_MIN_BW_ABSOLUTE,
        .help = "bit/s the port is guaranteed on a congested uplink, on a "
                "switch with min-bandwidth-mode=absolute; 0 for the default "
                "flow (10 % of the uplink)",
    },
    {
        PORT_ROW("link-speed", VSW_SETTING_BIT_RATE, link_speed),
        .min = 0,
        .max = MIN_BW_RATE_MAX,
        .default_value = "0",
        .when_key = "type",
        .when_values = 1u << MGR_PORT_UPLINK | 1u << MGR_PORT_TEAM,
        .help = "the uplink's capacity in bit/s (a team: each member's), "
                "which minimum bandwidth is enforced at; 0 for unknown (not "
                "scheduled)",
    },
    {
        PORT_ROW("mirror", VSW_SETTING_ENUM, mirror),
        .names = vsw_mirror_role_names,
        .default_value = "none",
        .help = "port mirroring: a source's sent and received frames are "
                "copied to every destination of its switch",
    },
    {
        PORT_ROW("metering", VSW_SETTING_BOOLEAN, metering),
        .default_value = "false",
        .help = "count bytes and packets per meter ACL rule and direction, "
                "or in total without meter rules (metering show)",
    },
    /* Tenant networks and VXLAN tunnels (tunnel.c). */
    {
        PORT_ROW("vni", VSW_SETTING_INTEGER, vni),
        .min = 0,
        .max = 16777215,
        .default_value = "0",
        .when_key = "type",
        .when_values = 1u << MGR_PORT_TAP | 1u << MGR_PORT_UPLINK,
        .help = "the tenant network (VXLAN VNI) the port is in, "
                "1..16777215: it exchanges frames only with ports of the "
                "same VNI and the switch's tunnels; 0 for none",
    },
    {
        PORT_ROW("local-ip", VSW_SETTING_IP_LIST, tunnel.local_ip),
        .when_key = "type",
        .when_values = 1u << MGR_PORT_VXLAN,
        .flags = VSW_SETTING_FIXED,
        .help = "the tunnel's own VTEP address: one IPv4 address of the "
                "host (required)",
    },
    {
        PORT_ROW("dst-port", VSW_SETTING_INTEGER, tunnel.dst_port),
        .min = 1,
        .max = 65535,
        .default_value = "4789",
        .when_key = "type",
        .when_values = 1u << MGR_PORT_VXLAN,
        .flags = VSW_SETTING_FIXED,
        .help = "the UDP port VXLAN datagrams are sent to and received on",
    },
    {
        PORT_ROW("underlay", VSW_SETTING_IFNAME, tunnel.underlay),
        .when_key = "type",
        .when_values = 1u << MGR_PORT_VXLAN,
        .flags = VSW_SETTING_FIXED | VSW_SETTING_OPTIONAL,
        .help = "the interface whose MTU limits the encapsulated frames; "
                "default: the one holding local-ip",
    },
    {
        PORT_ROW("remote", VSW_SETTING_VTEPS, tunnel.remote),
        .when_key = "type",
        .when_values = 1u << MGR_PORT_VXLAN,
        .help = "static remote VTEPs as VNI:IPv4,...: where unknown "
                "unicast, broadcast and multicast of each VNI go, and the "
                "only VTEPs accepted",
    },
    {
        PORT_ROW("learn-unknown-vteps", VSW_SETTING_BOOLEAN,
                 tunnel.learn_unknown_vteps),
        .default_value = "false",
        .when_key = "type",
        .when_values = 1u << MGR_PORT_VXLAN,
        .help = "accept datagrams from VTEPs that are not remotes of their "
                "VNI, and learn the MACs behind them",
    },
};

const struct vsw_settings_kind mgr_port_kind = {
    .name = "port",
    .settings = port_settings,
    .n_settings = sizeof port_settings / sizeof *port_settings,
    .other_keys = (const char *const[]){"name", NULL},
    .create_keys = (const char *const[]){"switch", "may-exist", NULL},
    .owner = &mgr_switch_kind,
};

/* ---- Settings ---- */

int
mgr_qos_cfg_check(struct mgr_qos_cfg *qos, struct vsw_rpc_error *err)
{
    uint64_t *rates[] = {&qos->max_bandwidth, &qos->max_bandwidth_in};

    /* Rates are whole bytes per second (FEATURES.md §5): rounded down,
     * so a cap is never above what was asked, but never to 0, which would
     * turn a cap off.  A burst smaller than a frame is no burst at all:
     * every frame waits for its whole cost. */
    (void)err;
    for (int i = 0; i < 2; i++) {
        if (*rates[i] && *rates[i] < 8) {
            *rates[i] = 8;
        }
        *rates[i] -= *rates[i] % 8;
    }
    return 0;
}

/* Checks what the table cannot: settings that only make sense together.
 * Derives 'pvlan_secondary' from the list. */
static int
port_cfg_check(struct mgr_port_cfg *cfg, struct vsw_rpc_error *err)
{
    struct vsw_vlan_config *vlan = &cfg->vlan;
    const char *mode = vsw_vlan_mode_name(vlan->mode);
    int first = 0;
    int n = 0;

    if (mgr_qos_cfg_check(&cfg->qos, err)) {
        return -1;
    }
    if (cfg->type == MGR_PORT_VXLAN && mgr_tunnel_cfg_check(cfg, err)) {
        return -1;
    }
    if (mgr_vhost_cfg_check(cfg, err)) {
        return -1;
    }

    if (vlan->mode == VSW_VLAN_MODE_ACCESS && !vlan->vid) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "vlan-mode=access needs vlan=1..4094");
    }
    for (int v = VSW_VLAN_MAX; v >= 1; v--) {
        if (vsw_vlan_set_contains(&vlan->pvlan_secondaries, (uint16_t)v)) {
            first = v;
            n++;
        }
    }
    vlan->pvlan_secondary = (uint16_t)(n == 1 ? first : 0);
    if (!vsw_vlan_is_pvlan(vlan)) {
        return 0;
    }
    if (!vlan->pvlan_primary) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "vlan-mode=%s needs pvlan-primary=1..4094", mode);
    }
    if (vlan->mode != VSW_VLAN_MODE_PVLAN_PROMISCUOUS &&
        !vlan->pvlan_secondary) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "vlan-mode=%s needs exactly one pvlan-secondary",
                             mode);
    }
    if (!n) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "vlan-mode=%s needs pvlan-secondary (for a "
                             "promiscuous port, the secondaries it serves)",
                             mode);
    }
    if (vsw_vlan_set_contains(&vlan->pvlan_secondaries, vlan->pvlan_primary)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "VLAN %u cannot be both the primary and a "
                             "secondary",
                             vlan->pvlan_primary);
    }
    return 0;
}

int
mgr_port_cfg_from_params(const json_t *params, const char *name,
                         struct mgr_port_cfg *cfg, struct vsw_rpc_error *err)
{
    const char *type = json_string_value(json_object_get(params, "type"));
    bool has_ifname = json_object_get(params, "ifname") != NULL;
    json_t *all;
    int error;

    memset(cfg, 0, sizeof *cfg);
    vsw_settings_init(&mgr_port_kind, cfg);
    vsw_vlan_config_init(&cfg->vlan);
    if (type && (!strcmp(type, "uplink") || !strcmp(type, "team"))) {
        /* Uplinks are trunks (FEATURES.md §1): every VLAN, untagged
         * frames in the untagged domain, unless told otherwise. */
        cfg->vlan.mode = VSW_VLAN_MODE_TRUNK;
    }
    /* The interface is named after the port unless told otherwise (a
     * team has members instead, tunnels and vhost-user ports have sockets and
     * no interface). */
    all = json_copy((json_t *)params);
    if (type && (!strcmp(type, "team") || !strcmp(type, "vxlan") ||
                 !strcmp(type, "vhost-user"))) {
        has_ifname = true;
    }
    if (!all || (!has_ifname &&
                 json_object_set_new(all, "ifname", json_string(name)))) {
        json_decref(all);
        return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR, "out of memory");
    }
    error = vsw_settings_apply(&mgr_port_kind, cfg, all, true, err);
    json_decref(all);
    if (error) {
        if (!has_ifname && !strncmp(err->message, "ifname ", 7)) {
            size_t len = strlen(err->message);

            snprintf(err->message + len, sizeof err->message - len,
                     "; give one with ifname=");
        }
        return -1;
    }
    return port_cfg_check(cfg, err);
}

/* ---- Life cycle ---- */

/* Takes a free slot and a new generation for a port id: a reused slot
 * gets another id, so that stale MAC entries never match. */
static int
alloc_port_id(struct vsw_manager *mgr, uint32_t *id)
{
    /* Slot 0 with generation 0 would be VSW_FDB_NO_PORT; generations
     * start at 1 and skip 0 on wrap-around. */
    for (uint32_t slot = 0; slot < VSW_MAX_PORTS; slot++) {
        if (!mgr->by_slot[slot]) {
            if (!mgr->next_generation) {
                mgr->next_generation = 1;
            }
            *id = (mgr->next_generation++ << VSW_FDB_SLOT_BITS) | slot;
            if (*id == VSW_FDB_NO_PORT) {
                continue;
            }
            return 0;
        }
    }
    return -ENOSPC;
}

int
mgr_port_create(struct vsw_manager *mgr, struct mgr_switch *sw,
                const char *name, const struct mgr_port_cfg *cfg, bool restore,
                json_t *location, struct mgr_port **portp,
                struct vsw_rpc_error *err)
{
    struct mgr_port *port = calloc(1, sizeof *port);
    struct mgr_port **tail;
    int error;

    if (!port) {
        return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR, "out of memory");
    }
    if (alloc_port_id(mgr, &port->id)) {
        free(port);
        return vsw_rpc_error(err, VSW_RPC_CONFLICT,
                             "the daemon already has %d ports", VSW_MAX_PORTS);
    }
    snprintf(port->name, sizeof port->name, "%s", name);
    port->sw = sw;
    port->cfg = *cfg;
    error = mgr_port_open_device(mgr, port, restore, location);
    if (error && !restore) {
        free(port);
        if (error == -EEXIST) {
            return vsw_rpc_error(err, VSW_RPC_EXISTS,
                                 "interface '%s' already exists; a tap port "
                                 "creates its own device",
                                 cfg->ifname);
        }
        if (cfg->type == MGR_PORT_TEAM) {
            return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR,
                                 "cannot attach to the members of team "
                                 "'%s': %s",
                                 name, strerror(-error));
        }
        return vsw_rpc_error(
            err, VSW_RPC_SYSTEM_ERROR, "cannot %s '%s': %s",
            cfg->type == MGR_PORT_TAP          ? "create TAP interface"
            : cfg->type == MGR_PORT_VXLAN      ? "open tunnel"
            : cfg->type == MGR_PORT_VHOST_USER ? "open vhost-user socket"
                                               : "attach to interface",
            cfg->type == MGR_PORT_VHOST_USER ? cfg->vhost.socket
            : cfg->type == MGR_PORT_VXLAN    ? name
                                             : cfg->ifname,
            strerror(-error));
    }
    if (error) {
        snprintf(port->last_error, sizeof port->last_error,
                 "cannot open %s: %s", cfg->ifname, strerror(-error));
        VSW_ERR("port %s: %s (kept in the configuration; retrying every "
                "second)",
                name, port->last_error);
        if (json_is_true(json_object_get(location, "netns-pinned"))) {
            /* Keep the pin: the namespace it holds is where the TAP
             * should come back. */
            port->netns_pinned = true;
        }
    }
    mgr->by_slot[VSW_FDB_SLOT(port->id)] = port;
    for (tail = &sw->ports; *tail; tail = &(*tail)->next) {
        continue;
    }
    *tail = port;
    *portp = port;
    return 0;
}

/* What mgr_retire() runs for a removed port, once no worker can
 * send to it any more. */
struct port_teardown {
    struct vsw_manager *mgr; /* owner of the slot */
    struct vsw_fdb *fdb;     /* table to forget the port in */
    struct vsw_port_rt *rt;  /* runtime to free, may be NULL */
    uint32_t id;             /* the port's id */
    bool remove_device;      /* delete the TAP device */
    bool batch_delete;       /* with the others: mgr_tap_doom() */
    char pin[PATH_MAX];      /* namespace pin to remove, or "" */
};

static void
port_teardown_cb(void *td_)
{
    struct port_teardown *td = td_;
    uint32_t slot = VSW_FDB_SLOT(td->id);

    vsw_fdb_flush_port(td->fdb, td->id);
    if (!td->batch_delete || !mgr_tap_doom(td->rt)) {
        vsw_port_rt_destroy(td->rt, td->remove_device);
    }
    if (td->pin[0]) {
        vsw_netns_unpin(td->pin);
    }
    vsw_conntrack_flush_port(td->mgr->conntrack, td->id);
    free(td->mgr->by_slot[slot]);
    td->mgr->by_slot[slot] = NULL;
    free(td);
}

void
mgr_port_destroy(struct vsw_manager *mgr, struct mgr_port *port,
                 bool remove_device)
{
    struct port_teardown *td = calloc(1, sizeof *td);
    struct mgr_port **pp;

    for (pp = &port->sw->ports; *pp != port; pp = &(*pp)->next) {
        continue;
    }
    *pp = port->next;
    mgr_capture_port_removed(mgr, port);
    mgr_acls_destroy(mgr, port);
    mgr_qos_sched_port_destroy(mgr, port);
    mgr_metering_port_destroy(port);
    mgr_tunnel_port_destroy(port);
    mgr_team_port_destroy(mgr, port);
    if (port->rt) {
        vsw_datapath_detach(mgr->dp, port->rt);
    }
    if (!td) {
        /* Cannot defer: leak the port rather than free it under a
         * worker's feet. */
        VSW_ERR("out of memory removing port %s", port->name);
        return;
    }
    td->mgr = mgr;
    td->fdb = port->sw->fdb;
    td->rt = port->rt;
    td->id = port->id;
    td->remove_device = remove_device;
    if (remove_device && port->netns_pinned) {
        mgr_netns_pin_path(mgr, port, td->pin, sizeof td->pin);
    } else if (remove_device && port->rt && port->cfg.type == MGR_PORT_TAP) {
        td->batch_delete = true;
        mgr_tap_delete_later();
    }
    mgr_retire(mgr, port_teardown_cb, td);
}

bool
mgr_port_needs_policy(const struct mgr_port *port)
{
    const struct mgr_guard_cfg *g = &port->cfg.guard;

    /* Without any, the datapath only resets 802.1p priorities (the
     * default). */
    return port->acls || port->xacls || port->cfg.mac.set || g->mac_spoofing ||
           g->dhcp_guard || g->router_guard || g->ieee_priority_tag ||
           g->storm_limit || g->allowed_ips.n;
}

/* ---- Operations ---- */

/* port.add with may-exist found 'port': it is the port asked for, left
 * as it is, if it has the same switch ('sw') and type as 'cfg'. */
static int
port_check_same(struct mgr_port *port, const struct mgr_switch *sw,
                const struct mgr_port_cfg *cfg, struct mgr_port **portp,
                struct vsw_rpc_error *err)
{
    if (port->sw != sw) {
        return vsw_rpc_error(err, VSW_RPC_CONFLICT,
                             "port '%s' exists on switch '%s', not '%s'",
                             port->name, port->sw->name, sw->name);
    }
    if (port->cfg.type != cfg->type) {
        return vsw_rpc_error(
            err, VSW_RPC_CONFLICT, "port '%s' exists with type %s, not %s",
            port->name, port_types[port->cfg.type], port_types[cfg->type]);
    }
    *portp = port;
    return 0;
}

int
mgr_port_add(struct vsw_manager *mgr, struct mgr_switch *sw, json_t *params,
             struct mgr_port **portp, struct vsw_rpc_error *err)
{
    struct mgr_port_cfg cfg;
    bool may_exist = false;
    struct mgr_port *port;
    const char *name;

    if (json_object_get(params, "tap-location")) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "tap-location is set by the daemon only");
    }
    if (vsw_rpc_get_string(params, "name", true, &name, err) ||
        vsw_rpc_get_bool(params, "may-exist", false, &may_exist, err) ||
        mgr_check_name("port", name, err) ||
        mgr_port_cfg_from_params(params, name, &cfg, err)) {
        return -1;
    }
    if (cfg.type == MGR_PORT_TEAM) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "a team port is made by team.add (vswitch-ctl "
                             "team add SWITCH %s members=IF1,IF2)",
                             name);
    }
    port = mgr_find_port(mgr, name);
    if (port && may_exist) {
        return port_check_same(port, sw, &cfg, portp, err);
    }
    if (port) {
        return vsw_rpc_error(err, VSW_RPC_EXISTS, "port '%s' already exists",
                             name);
    }
    if (mgr_pvlan_check_conflicts(sw, NULL, name, &cfg, err) ||
        mgr_mirror_check(sw, NULL, &cfg, err) ||
        mgr_qos_sched_port_check(sw, name, &cfg, err) ||
        mgr_ext_port_check(mgr, sw, name, VSW_EXT_PORT_CREATE, params, err)) {
        return -1;
    }
    for (struct mgr_switch *s = mgr->switches; s; s = s->next) {
        for (struct mgr_port *p = s->ports; p; p = p->next) {
            if (cfg.ifname[0] && !strcmp(p->cfg.ifname, cfg.ifname)) {
                return vsw_rpc_error(err, VSW_RPC_EXISTS,
                                     "interface '%s' already belongs to "
                                     "port '%s'",
                                     cfg.ifname, p->name);
            }
        }
    }
    if (cfg.ifname[0] && mgr_team_of_member(mgr, cfg.ifname)) {
        return vsw_rpc_error(
            err, VSW_RPC_EXISTS, "interface '%s' is a member of team '%s'",
            cfg.ifname, mgr_team_of_member(mgr, cfg.ifname)->name);
    }
    if (mgr_port_create(mgr, sw, name, &cfg, false, NULL, &port, err)) {
        return -1;
    }
    mgr_config_scope(port);
    if (mgr_config_save(mgr, err)) {
        mgr_port_destroy(mgr, port, true);
        return -1;
    }
    mgr_publish(mgr);
    *portp = port;
    return 0;
}

int
mgr_port_set(struct vsw_manager *mgr, struct mgr_port *port, json_t *params,
             struct vsw_rpc_error *err)
{
    struct mgr_port_cfg cfg = port->cfg;
    struct mgr_port_cfg old = port->cfg;

    if (vsw_settings_apply(&mgr_port_kind, &cfg, params, false, err) ||
        port_cfg_check(&cfg, err) ||
        mgr_pvlan_check_conflicts(port->sw, port, NULL, &cfg, err) ||
        mgr_mirror_check(port->sw, port, &cfg, err) ||
        mgr_qos_sched_port_check(port->sw, port->name, &cfg, err) ||
        mgr_ext_port_check(mgr, port->sw, port->name, VSW_EXT_PORT_POLICY,
                           params, err)) {
        return -1;
    }
    port->cfg = cfg;
    if (mgr_config_save(mgr, err)) {
        port->cfg = old;
        return -1;
    }
    mgr_publish(mgr);
    return 0;
}

int
mgr_port_del(struct vsw_manager *mgr, struct mgr_port *port,
             struct vsw_rpc_error *err)
{
    struct mgr_port **pp;
    int error;

    for (pp = &port->sw->ports; *pp != port; pp = &(*pp)->next) {
        continue;
    }
    *pp = port->next;
    mgr_config_scope(NULL);
    error = mgr_config_save(mgr, err);
    port->next = *pp;
    *pp = port;
    if (error) {
        return -1;
    }
    mgr_port_destroy(mgr, port, true);
    mgr_publish(mgr);
    mgr_settle(mgr);
    return 0;
}

/* ---- JSON views ---- */

json_t *
mgr_port_settings_to_json(const struct mgr_port *port)
{
    json_t *obj = json_object();

    vsw_settings_to_json(&mgr_port_kind, &port->cfg, obj);
    return obj;
}

json_t *
mgr_port_to_json(const struct vsw_manager *mgr, const struct mgr_port *port)
{
    json_t *obj = json_pack("{s:s}", "name", port->name);
    const char *link = "absent";
    char netns[64];

    (void)mgr;
    vsw_settings_to_json(&mgr_port_kind, &port->cfg, obj);
    if (port->rt && port->cfg.type == MGR_PORT_TEAM) {
        /* A team is up while a member carries traffic. */
        link = mgr_team_is_up(port) ? "up" : "down";
    } else if (port->rt) {
        /* A tunnel has no interface of its own: up while its sockets
         * are open. */
        link = port->cfg.type == MGR_PORT_VXLAN ||
                       vsw_netdev_link_is_up(port->rt->netdev)
                   ? "up"
                   : "down";
    }
    if (port->netns_pinned) {
        snprintf(netns, sizeof netns, "net:[%llu]",
                 (unsigned long long)port->netns_ino);
    } else {
        snprintf(netns, sizeof netns, "daemon");
    }
    json_object_set_new(obj, "switch", json_string(port->sw->name));
    json_object_set_new(obj, "link", json_string(link));
    json_object_set_new(obj, "netns", json_string(netns));
    if (port->cfg.type == MGR_PORT_TAP) {
        json_object_set_new(obj, "current-ifname",
                            json_string(port->cur_ifname[0]
                                            ? port->cur_ifname
                                            : port->cfg.ifname));
    }
    if (port->last_error[0]) {
        json_object_set_new(obj, "error", json_string(port->last_error));
    }
    mgr_vhost_to_json(port, obj);
    return obj;
}

/* ---- JSON-RPC methods ---- */

static const char *const name_only[] = {"name", NULL};

/* The most ports one port.add or port.del list may name: as many as the
 * daemon may have. */
#define PORT_LIST_MAX 4096

/* Checks the "ports" of a list form: an array of 1 to PORT_LIST_MAX
 * entries, each an object (port.add) or a name (port.del), no name twice;
 * and no other key of 'params' but those of 'keys'. */
static int
check_port_list(const json_t *params, const char *const keys[],
                bool names_only, struct vsw_rpc_error *err)
{
    const json_t *list = json_object_get(params, "ports");
    const char *key;
    json_t *value;
    size_t i;

    json_object_foreach((json_t *)params, key, value)
    {
        bool known = false;

        for (size_t k = 0; keys[k] && !known; k++) {
            known = !strcmp(keys[k], key);
        }
        if (!known) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "give either one port or 'ports', not both "
                                 "('%s' belongs in each entry of 'ports')",
                                 key);
        }
    }
    if (!json_is_array(list) || !json_array_size(list) ||
        json_array_size(list) > PORT_LIST_MAX) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "'ports' must be an array of 1 to %d %s",
                             PORT_LIST_MAX,
                             names_only ? "port names" : "port objects");
    }
    json_array_foreach(list, i, value)
    {
        const char *name;

        if (names_only ? !json_is_string(value) : !json_is_object(value)) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "ports[%zu]: not %s", i,
                                 names_only ? "a port name (a string)"
                                            : "an object (one port's params)");
        }
        name = names_only ? json_string_value(value)
                          : json_string_value(json_object_get(value, "name"));
        for (size_t j = 0; name && j < i; j++) {
            const json_t *other = json_array_get(list, j);
            const char *other_name =
                names_only ? json_string_value(other)
                           : json_string_value(json_object_get(other, "name"));

            if (other_name && !strcmp(name, other_name)) {
                return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                     "ports[%zu]: '%s' is ports[%zu] already",
                                     i, name, j);
            }
        }
    }
    return 0;
}

/* port.add with "ports": every port of the list added to one switch, all
 * or nothing, with one configuration save and one snapshot. */
static int
port_add_list(struct vsw_manager *mgr, json_t *params, json_t **result,
              struct vsw_rpc_error *err)
{
    static const char *const keys[] = {"switch", "ports", NULL};
    json_t *list = json_object_get(params, "ports");
    json_t *entries, *entry, *ports;
    struct mgr_switch *sw;
    size_t i;
    int error;

    if (mgr_rpc_get_switch(mgr, params, "switch", &sw, err) ||
        check_port_list(params, keys, false, err)) {
        return -1;
    }
    entries = json_array();
    json_array_foreach(list, i, entry)
    {
        json_t *copy;

        if (json_object_get(entry, "switch")) {
            json_decref(entries);
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "ports[%zu]: 'switch' is given once, beside "
                                 "'ports'",
                                 i);
        }
        copy = json_copy(entry);
        json_object_set_new(copy, "switch", json_string(sw->name));
        json_array_append_new(entries, copy);
    }
    error = mgr_txn_run_list(mgr, "port.add", entries, "ports", &ports, err);
    json_decref(entries);
    if (error) {
        return -1;
    }
    *result = json_pack("{s:o}", "ports", ports);
    return 0;
}

static int
rpc_port_add(json_t *params, json_t **result, struct vsw_rpc_error *err,
             void *mgr)
{
    struct mgr_switch *sw;
    struct mgr_port *port;
    json_t *settings;
    int error;

    if (json_object_get(params, "ports")) {
        return port_add_list(mgr, params, result, err);
    }
    if (mgr_rpc_get_switch(mgr, params, "switch", &sw, err)) {
        return -1;
    }
    settings = json_deep_copy(params);
    json_object_del(settings, "switch");
    error = mgr_port_add(mgr, sw, settings, &port, err);
    json_decref(settings);
    if (error) {
        return -1;
    }
    *result = mgr_port_to_json(mgr, port);
    return 0;
}

int
mgr_rpc_port_del(struct vsw_manager *mgr, json_t *params,
                 mgr_port_getter *get_port, struct vsw_rpc_error *err)
{
    static const char *const keys[] = {"name", "if-exists", NULL};
    bool if_exists = false;
    struct mgr_port *port;
    const char *name;
    int deferred;

    if (vsw_rpc_check_keys(params, keys, err) ||
        vsw_rpc_get_string(params, "name", true, &name, err) ||
        vsw_rpc_get_bool(params, "if-exists", false, &if_exists, err)) {
        return -1;
    }
    if (if_exists && !mgr_find_port(mgr, name)) {
        return 0;
    }
    if (get_port(mgr, params, "name", &port, err)) {
        return -1;
    }
    deferred = mgr_txn_defer_delete(mgr, MGR_TXN_DELETE_PORT, port, NULL, err);
    if (deferred) {
        return deferred < 0 ? -1 : 0;
    }
    return mgr_port_del(mgr, port, err);
}

/* The port 'key' names, unless it is a team, which team.del deletes
 * (its members go back with it). */
static int
get_port_not_team(struct vsw_manager *mgr, json_t *params, const char *key,
                  struct mgr_port **portp, struct vsw_rpc_error *err)
{
    if (mgr_rpc_get_port(mgr, params, key, portp, err)) {
        return -1;
    }
    if ((*portp)->cfg.type == MGR_PORT_TEAM) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "'%s' is a team: delete it with team.del "
                             "(vswitch-ctl team del %s)",
                             (*portp)->name, (*portp)->name);
    }
    return 0;
}

/* port.del with "ports": every port named deleted, all or nothing; the
 * answer comes when their devices are gone, as for one. */
static int
port_del_list(struct vsw_manager *mgr, json_t *params,
              struct vsw_rpc_error *err)
{
    static const char *const keys[] = {"ports", "if-exists", NULL};
    json_t *list = json_object_get(params, "ports");
    json_t *entries, *name, *results;
    bool if_exists = false;
    size_t i;
    int error;

    if (check_port_list(params, keys, true, err) ||
        vsw_rpc_get_bool(params, "if-exists", false, &if_exists, err)) {
        return -1;
    }
    entries = json_array();
    json_array_foreach(list, i, name)
    {
        json_array_append_new(entries, json_pack("{s:O, s:b}", "name", name,
                                                 "if-exists", if_exists));
    }
    error = mgr_txn_run_list(mgr, "port.del", entries, "ports", &results, err);
    json_decref(entries);
    if (error) {
        return -1;
    }
    json_decref(results);
    return 0;
}

static int
rpc_port_del(json_t *params, json_t **result, struct vsw_rpc_error *err,
             void *mgr)
{
    (void)result;
    if (json_object_get(params, "ports")) {
        return port_del_list(mgr, params, err);
    }
    return mgr_rpc_port_del(mgr, params, get_port_not_team, err);
}

static int
rpc_port_set(json_t *params, json_t **result, struct vsw_rpc_error *err,
             void *mgr)
{
    struct mgr_port *port;

    if (mgr_rpc_get_port(mgr, params, "name", &port, err) ||
        mgr_port_set(mgr, port, params, err)) {
        return -1;
    }
    *result = mgr_port_to_json(mgr, port);
    return 0;
}

static int
rpc_port_get(json_t *params, json_t **result, struct vsw_rpc_error *err,
             void *mgr)
{
    struct mgr_port *port;

    if (vsw_rpc_check_keys(params, name_only, err) ||
        mgr_rpc_get_port(mgr, params, "name", &port, err)) {
        return -1;
    }
    mgr_port_track(mgr, port);
    *result = mgr_port_to_json(mgr, port);
    return 0;
}

/* Calls 'fn' for every port selected by the optional "name" (a port) or
 * "switch" params, adding what it returns to a new array. */
static int
select_ports(struct vsw_manager *mgr, json_t *params,
             json_t *(*fn)(struct vsw_manager *, struct mgr_port *),
             json_t **list, struct vsw_rpc_error *err)
{
    static const char *const keys[] = {"name", "switch", NULL};
    struct mgr_switch *only_sw = NULL;
    struct mgr_port *only_port = NULL;

    if (vsw_rpc_check_keys(params, keys, err) ||
        (json_object_get(params, "name") &&
         mgr_rpc_get_port(mgr, params, "name", &only_port, err)) ||
        (json_object_get(params, "switch") &&
         mgr_rpc_get_switch(mgr, params, "switch", &only_sw, err))) {
        return -1;
    }
    *list = json_array();
    for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        if (only_sw && sw != only_sw) {
            continue;
        }
        for (struct mgr_port *p = sw->ports; p; p = p->next) {
            if (!only_port || p == only_port) {
                json_array_append_new(*list, fn(mgr, p));
            }
        }
    }
    return 0;
}

static json_t *
port_view(struct vsw_manager *mgr, struct mgr_port *port)
{
    return mgr_port_to_json(mgr, port);
}

static int
rpc_port_list(json_t *params, json_t **result, struct vsw_rpc_error *err,
              void *mgr)
{
    json_t *list;

    if (select_ports(mgr, params, port_view, &list, err)) {
        return -1;
    }
    *result = json_pack("{s:o}", "ports", list);
    return 0;
}

static json_t *
port_stats(struct vsw_manager *mgr, struct mgr_port *port)
{
    struct vsw_port_counters c;
    struct vsw_shaper_depth q = {0};
    json_t *drops = json_object();
    uint64_t total = 0;

    (void)mgr;
    if (port->rt) {
        vsw_port_rt_get_counters(port->rt, &c);
        vsw_port_rt_get_shaper_depth(port->rt, &q);
    } else {
        memset(&c, 0, sizeof c);
    }
    for (int r = 0; r < VSW_DROP_N_REASONS; r++) {
        json_object_set_new(drops, vsw_drop_reason_name(r),
                            json_integer((json_int_t)c.drops[r]));
        total += c.drops[r];
    }
    return json_pack(
        "{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:I, s:I, s:I, "
        "s:I}",
        "name", port->name, "switch", port->sw->name, "rx-packets",
        (json_int_t)c.rx_packets, "rx-bytes", (json_int_t)c.rx_bytes,
        "tx-packets", (json_int_t)c.tx_packets, "tx-bytes",
        (json_int_t)c.tx_bytes, "drops-total", (json_int_t)total, "drops",
        drops, "mirror-tx-packets", (json_int_t)c.mirror_tx_packets,
        "mirror-tx-bytes", (json_int_t)c.mirror_tx_bytes, "queued-out-frames",
        (json_int_t)q.out_frames, "queued-out-bytes", (json_int_t)q.out_bytes,
        "queued-in-frames", (json_int_t)q.in_frames, "queued-in-bytes",
        (json_int_t)q.in_bytes);
}

static int
rpc_port_stats(json_t *params, json_t **result, struct vsw_rpc_error *err,
               void *mgr)
{
    json_t *list;

    if (select_ports(mgr, params, port_stats, &list, err)) {
        return -1;
    }
    *result = json_pack("{s:o}", "ports", list);
    return 0;
}

static const struct vsw_rpc_method port_methods[] = {
    {"port.add", rpc_port_add, VSW_RPC_WRITES},
    {"port.del", rpc_port_del, VSW_RPC_WRITES},
    {"port.set", rpc_port_set, VSW_RPC_WRITES},
    {"port.get", rpc_port_get, VSW_RPC_READS},
    {"port.list", rpc_port_list, VSW_RPC_READS},
    {"port.stats", rpc_port_stats, VSW_RPC_READS},
};

int
mgr_port_register_rpc(struct vsw_manager *mgr, struct vsw_rpc_server *server)
{
    return vsw_rpc_server_register(
        server, port_methods, sizeof port_methods / sizeof *port_methods, mgr);
}
