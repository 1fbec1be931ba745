#include "manager-private.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <dirent.h>
#include <fcntl.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config-store.h"
#include "conntrack.h"
#include "pipeline.h"
#include "log.h"
#include "netns.h"
#include "timeutil.h"

#define CONFIG_FORMAT      1
#define MAC_AGEING_MAX     1000000
#define MAC_TABLE_SIZE_MAX (1u << 22)

/* ---- Names and addresses ---- */

/* Switch and port names end up in file names (netns pins) and in
 * command lines, so they are kept to a safe alphabet. */
static int
check_name(const char *what, const char *name, struct vsw_rpc_error *err)
{
    size_t len = strlen(name);

    if (!len || len >= VSW_NAME_MAX || name[0] == '.' || name[0] == '-') {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "%s name must be 1-%d characters and not start "
                             "with '.' or '-'",
                             what, VSW_NAME_MAX - 1);
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "%s name '%s' may only contain letters, "
                                 "digits, '-', '_' and '.'",
                                 what, name);
        }
    }
    return 0;
}

int
mgr_parse_mac(const char *s, uint8_t mac[6])
{
    unsigned int b[6];
    char extra;

    if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
               &b[4], &b[5], &extra) != 6 ||
        strlen(s) != 17) {
        return -EINVAL;
    }
    for (int i = 0; i < 6; i++) {
        mac[i] = (uint8_t)b[i];
    }
    return 0;
}

void
mgr_format_mac(const uint8_t mac[6], char buf[18])
{
    snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
             mac[3], mac[4], mac[5]);
}

struct mgr_switch *
mgr_find_switch(struct vsw_manager *mgr, const char *name)
{
    for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        if (!strcmp(sw->name, name)) {
            return sw;
        }
    }
    return NULL;
}

struct mgr_port *
mgr_find_port(struct vsw_manager *mgr, const char *name)
{
    for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        for (struct mgr_port *p = sw->ports; p; p = p->next) {
            if (!strcmp(p->name, name)) {
                return p;
            }
        }
    }
    return NULL;
}

static const char *
port_type_name(enum mgr_port_type type)
{
    return type == MGR_PORT_TAP ? "tap" : "uplink";
}

/* ---- Settings: JSON params onto a config, with validation ---- */

static const char *const switch_keys[] = {
    "name", "mac-ageing", "mac-table-size", "ipv6-unknown-next-header", NULL};

/* Applies "ipv6-unknown-next-header" (drop or allow) to '*allowed'. */
static int
unknown_nh_apply(json_t *params, bool *allowed, struct vsw_rpc_error *err)
{
    const char *text = NULL;

    if (vsw_rpc_get_string(params, "ipv6-unknown-next-header", false, &text,
                           err)) {
        return -1;
    }
    if (text && strcmp(text, "drop") && strcmp(text, "allow")) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "ipv6-unknown-next-header must be drop or "
                             "allow, not '%s'",
                             text);
    }
    if (text) {
        *allowed = !strcmp(text, "allow");
    }
    return 0;
}

/* Applies the settable switch keys of 'params' to '*ageing' and '*size'. */
static int
switch_settings_apply(json_t *params, uint32_t *ageing, uint32_t *size,
                      struct vsw_rpc_error *err)
{
    long long v;

    if (vsw_rpc_check_keys(params, switch_keys, err)) {
        return -1;
    }
    v = *ageing;
    if (vsw_rpc_get_int(params, "mac-ageing", false, 1, MAC_AGEING_MAX, &v,
                        err)) {
        return -1;
    }
    *ageing = (uint32_t)v;
    v = *size;
    if (vsw_rpc_get_int(params, "mac-table-size", false, 1, MAC_TABLE_SIZE_MAX,
                        &v, err)) {
        return -1;
    }
    *size = (uint32_t)v;
    return 0;
}

/* Keys port.set accepts; port.add also takes the creation-only ones. */
#define PORT_SETTINGS                                                         \
    "vlan-mode", "vlan", "trunks", "native-vlan", "pvlan-primary",            \
        "pvlan-secondary", "mac-limit", "mac-spoofing", "dhcp-guard",         \
        "router-guard", "storm-limit", "ieee-priority-tag", "allowed-ips"
static const char *const port_set_keys[] = {"name", PORT_SETTINGS, NULL};
static const char *const port_add_keys[] = {
    "switch",      "name",     "type",         "ifname", "mac",
    PORT_SETTINGS, "offloads", "tap-location", NULL};

int
mgr_parse_ip_list(const char *text, struct mgr_guard_cfg *guard,
                  struct vsw_rpc_error *err)
{
    char copy[MGR_MAX_ALLOWED_IPS * 48];
    unsigned n = 0;
    char *save = NULL;

    if (strlen(text) >= sizeof copy) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "allowed-ips: too long");
    }
    if (text[0] == ',' || strstr(text, ",,") ||
        (text[0] && text[strlen(text) - 1] == ',')) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "allowed-ips: empty item in '%s'", text);
    }
    snprintf(copy, sizeof copy, "%s", text);
    for (char *item = strtok_r(copy, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        uint8_t *addr;

        if (n == MGR_MAX_ALLOWED_IPS) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "allowed-ips: at most %d addresses",
                                 MGR_MAX_ALLOWED_IPS);
        }
        addr = guard->allowed_ips[n];
        /* IPv4 is kept IPv4-mapped, as the parser reports it. */
        memset(addr, 0, 16);
        if (inet_pton(AF_INET, item, addr + 12) == 1) {
            addr[10] = addr[11] = 0xff;
        } else if (inet_pton(AF_INET6, item, addr) != 1) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "allowed-ips: '%s' is not an IPv4 or IPv6 "
                                 "address",
                                 item);
        }
        n++;
    }
    guard->n_allowed_ips = n;
    return 0;
}

/* Applies the guard keys of 'params' to 'guard' (FEATURES.md §4). */
static int
guard_settings_apply(json_t *params, struct mgr_guard_cfg *guard,
                     struct vsw_rpc_error *err)
{
    const char *ips = NULL;
    long long v = guard->storm_limit;

    if (vsw_rpc_get_bool(params, "mac-spoofing", false, &guard->mac_spoofing,
                         err) ||
        vsw_rpc_get_bool(params, "dhcp-guard", false, &guard->dhcp_guard,
                         err) ||
        vsw_rpc_get_bool(params, "router-guard", false, &guard->router_guard,
                         err) ||
        vsw_rpc_get_bool(params, "ieee-priority-tag", false,
                         &guard->ieee_priority_tag, err) ||
        vsw_rpc_get_int(params, "storm-limit", false, 0, 100000000, &v, err) ||
        vsw_rpc_get_string(params, "allowed-ips", false, &ips, err)) {
        return -1;
    }
    guard->storm_limit = (uint32_t)v;
    return ips ? mgr_parse_ip_list(ips, guard, err) : 0;
}

/* Applies "pvlan-secondary" (a VLAN list) to 'vlan'. */
static int
pvlan_secondary_apply(json_t *params, struct vsw_vlan_config *vlan,
                      struct vsw_rpc_error *err)
{
    char why[VSW_RPC_MAX_MESSAGE];
    const char *text = NULL;
    struct vsw_vlan_set set;
    int first = 0;
    int n = 0;

    if (vsw_rpc_get_string(params, "pvlan-secondary", false, &text, err)) {
        return -1;
    }
    if (!text) {
        return 0;
    }
    if (vsw_vlan_set_parse(text, &set, why, sizeof why)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "pvlan-secondary: %s", why);
    }
    for (int v = VSW_VLAN_MAX; v >= 1; v--) {
        if (vsw_vlan_set_contains(&set, (uint16_t)v)) {
            first = v;
            n++;
        }
    }
    vlan->pvlan_secondaries = set;
    vlan->pvlan_secondary = (uint16_t)(n == 1 ? first : 0);
    return 0;
}

/* Checks the private VLAN settings of one port on their own. */
static int
pvlan_check(json_t *params, const struct vsw_vlan_config *vlan,
            struct vsw_rpc_error *err)
{
    const char *mode = vsw_vlan_mode_name(vlan->mode);

    if (!vsw_vlan_is_pvlan(vlan)) {
        if (json_object_get(params, "pvlan-primary") ||
            json_object_get(params, "pvlan-secondary")) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "pvlan-primary and pvlan-secondary apply to "
                                 "the pvlan-* modes; this port is %s",
                                 mode);
        }
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
    if (vsw_vlan_set_is_empty(&vlan->pvlan_secondaries)) {
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

/* Records that VLAN 'vid' is 'role' in primary 'primary', for port
 * 'port'; fails if another port made it something else. */
static int
pvlan_map_set(struct vsw_pvlan_map *map, int vid, uint16_t primary,
              uint8_t role, const struct mgr_port *port,
              struct vsw_rpc_error *err)
{
    static const char *const roles[] = {
        [VSW_PVLAN_PROMISCUOUS] = "the primary",
        [VSW_PVLAN_COMMUNITY] = "a community secondary",
        [VSW_PVLAN_ISOLATED] = "an isolated secondary",
    };

    if (map->primary_of[vid] &&
        (map->primary_of[vid] != primary || map->role_of[vid] != role)) {
        return vsw_rpc_error(err, VSW_RPC_CONFLICT,
                             "port %s would make VLAN %d %s of primary %u, "
                             "but it is already %s of primary %u",
                             port->name, vid, roles[role], primary,
                             roles[map->role_of[vid]], map->primary_of[vid]);
    }
    map->primary_of[vid] = primary;
    map->role_of[vid] = role;
    return 0;
}

/* Adds what port 'p', configured as 'vlan', contributes to 'map' in
 * pass 'pass' of mgr_pvlan_map_build(). */
static int
pvlan_map_add_port(struct vsw_pvlan_map *map, const struct mgr_port *p,
                   const struct vsw_vlan_config *vlan, int pass,
                   struct vsw_rpc_error *err)
{
    uint16_t primary = vlan->pvlan_primary;
    bool promiscuous = vlan->mode == VSW_VLAN_MODE_PVLAN_PROMISCUOUS;

    if (!vsw_vlan_is_pvlan(vlan)) {
        return 0;
    }
    if (pass == 0) {
        uint8_t role = vlan->mode == VSW_VLAN_MODE_PVLAN_ISOLATED
                           ? VSW_PVLAN_ISOLATED
                           : VSW_PVLAN_COMMUNITY;

        if (pvlan_map_set(map, primary, primary, VSW_PVLAN_PROMISCUOUS, p,
                          err) ||
            (!promiscuous && pvlan_map_set(map, vlan->pvlan_secondary, primary,
                                           role, p, err))) {
            return -1;
        }
        return 0;
    }
    for (int v = 1; promiscuous && v <= VSW_VLAN_MAX; v++) {
        if (!vsw_vlan_set_contains(&vlan->pvlan_secondaries, (uint16_t)v)) {
            continue;
        }
        if (!map->primary_of[v]) {
            pvlan_map_set(map, v, primary, VSW_PVLAN_COMMUNITY, p, err);
        } else if (map->primary_of[v] != primary ||
                   map->role_of[v] == VSW_PVLAN_PROMISCUOUS) {
            return vsw_rpc_error(err, VSW_RPC_CONFLICT,
                                 "port %s serves VLAN %d as a secondary of "
                                 "primary %u, but it belongs to primary %u",
                                 p->name, v, primary, map->primary_of[v]);
        }
    }
    return 0;
}

int
mgr_pvlan_map_build(const struct mgr_switch *sw,
                    const struct mgr_port *changed,
                    const struct mgr_port_cfg *candidate,
                    struct vsw_pvlan_map *map, struct vsw_rpc_error *err)
{
    memset(map, 0, sizeof *map);
    /* First the primaries and the secondaries of isolated and community
     * ports; then the secondaries only promiscuous ports name, which
     * count as communities.  The port being changed comes last, so that a
     * conflict is reported as its own. */
    for (int pass = 0; pass < 2; pass++) {
        for (const struct mgr_port *p = sw->ports; p; p = p->next) {
            if (p != changed &&
                pvlan_map_add_port(map, p, &p->cfg.vlan, pass, err)) {
                return -1;
            }
        }
        if (changed &&
            pvlan_map_add_port(map, changed, &candidate->vlan, pass, err)) {
            return -1;
        }
    }
    return 0;
}

/* Applies the VLAN and limit keys of 'params' to 'cfg', then checks that
 * the result is consistent. */
static int
port_settings_apply(json_t *params, struct mgr_port_cfg *cfg,
                    struct vsw_rpc_error *err)
{
    struct vsw_vlan_config *vlan = &cfg->vlan;
    const char *mode = NULL;
    const char *trunks = NULL;
    long long v;

    if (vsw_rpc_get_string(params, "vlan-mode", false, &mode, err)) {
        return -1;
    }
    if (mode) {
        enum vsw_vlan_mode new_mode;

        if (vsw_vlan_mode_from_name(mode, &new_mode)) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "vlan-mode must be untagged, access, trunk, "
                                 "pvlan-isolated, pvlan-community or "
                                 "pvlan-promiscuous, not '%s'",
                                 mode);
        }
        if (new_mode != vlan->mode) {
            /* Settings of the old mode are not saved, so they must not
             * linger either: the port behaves the same before and after
             * a restart (a forgotten trunk list would mean "all"). */
            vsw_vlan_config_init(vlan);
            vlan->mode = new_mode;
        }
    }
    v = vlan->vid;
    if (vsw_rpc_get_int(params, "vlan", false, 1, VSW_VLAN_MAX, &v, err)) {
        return -1;
    }
    vlan->vid = (uint16_t)v;
    v = vlan->native_vid;
    if (vsw_rpc_get_int(params, "native-vlan", false, 0, VSW_VLAN_MAX, &v,
                        err)) {
        return -1;
    }
    vlan->native_vid = (uint16_t)v;
    if (vsw_rpc_get_string(params, "trunks", false, &trunks, err)) {
        return -1;
    }
    if (trunks) {
        char why[VSW_RPC_MAX_MESSAGE];

        if (vsw_vlan_set_parse(trunks, &vlan->trunks, why, sizeof why)) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS, "trunks: %s",
                                 why);
        }
    }
    v = vlan->pvlan_primary;
    if (vsw_rpc_get_int(params, "pvlan-primary", false, 1, VSW_VLAN_MAX, &v,
                        err)) {
        return -1;
    }
    vlan->pvlan_primary = (uint16_t)v;
    if (pvlan_secondary_apply(params, vlan, err)) {
        return -1;
    }
    v = cfg->mac_limit;
    if (vsw_rpc_get_int(params, "mac-limit", false, 0, MAC_TABLE_SIZE_MAX, &v,
                        err)) {
        return -1;
    }
    cfg->mac_limit = (uint32_t)v;
    if (guard_settings_apply(params, &cfg->guard, err)) {
        return -1;
    }

    /* Settings of another mode would silently do nothing: refuse them so
     * the user learns that at once. */
    if (json_object_get(params, "vlan") &&
        vlan->mode != VSW_VLAN_MODE_ACCESS) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "vlan applies to vlan-mode=access; this port is "
                             "%s",
                             vsw_vlan_mode_name(vlan->mode));
    }
    if ((json_object_get(params, "trunks") ||
         json_object_get(params, "native-vlan")) &&
        vlan->mode != VSW_VLAN_MODE_TRUNK) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "trunks and native-vlan apply to "
                             "vlan-mode=trunk; this port is %s",
                             vsw_vlan_mode_name(vlan->mode));
    }
    if (vlan->mode == VSW_VLAN_MODE_ACCESS && !vlan->vid) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "vlan-mode=access needs vlan=1..4094");
    }
    return pvlan_check(params, vlan, err);
}

/* Fills 'cfg' from port.add params (everything but the switch). */
static int
port_cfg_from_params(json_t *params, const char *name,
                     struct mgr_port_cfg *cfg, struct vsw_rpc_error *err)
{
    const char *type = NULL;
    const char *ifname = NULL;
    const char *mac = NULL;

    memset(cfg, 0, sizeof *cfg);
    vsw_vlan_config_init(&cfg->vlan);
    if (vsw_rpc_get_string(params, "type", true, &type, err) ||
        vsw_rpc_get_string(params, "ifname", false, &ifname, err) ||
        vsw_rpc_get_string(params, "mac", false, &mac, err)) {
        return -1;
    }
    if (!strcmp(type, "tap")) {
        cfg->type = MGR_PORT_TAP;
    } else if (!strcmp(type, "uplink")) {
        cfg->type = MGR_PORT_UPLINK;
    } else {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "type must be tap or uplink, not '%s'", type);
    }
    if (!ifname) {
        ifname = name;
    }
    if (!ifname[0] || strlen(ifname) >= IFNAMSIZ || strchr(ifname, '/') ||
        strchr(ifname, ' ') || !strcmp(ifname, ".") || !strcmp(ifname, "..")) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "ifname '%s' is not a valid interface name "
                             "(1-15 characters, no '/' or spaces)%s",
                             ifname,
                             json_object_get(params, "ifname")
                                 ? ""
                                 : "; give one with ifname=");
    }
    snprintf(cfg->ifname, sizeof cfg->ifname, "%s", ifname);
    cfg->offloads = true;
    if (json_object_get(params, "offloads") && cfg->type != MGR_PORT_UPLINK) {
        /* A TAP always takes the VM's segments whole. */
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "offloads applies to uplink ports only");
    }
    if (vsw_rpc_get_bool(params, "offloads", false, &cfg->offloads, err)) {
        return -1;
    }
    if (cfg->type == MGR_PORT_UPLINK) {
        /* Uplinks are trunks (FEATURES.md §1): every VLAN, untagged
         * frames in the untagged domain, unless told otherwise. */
        cfg->vlan.mode = VSW_VLAN_MODE_TRUNK;
    }
    if (mac) {
        if (cfg->type != MGR_PORT_TAP) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "mac applies to tap ports only");
        }
        if (mgr_parse_mac(mac, cfg->mac) ||
            vsw_eth_addr_is_multicast(cfg->mac) ||
            vsw_eth_addr_is_zero(cfg->mac)) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "mac '%s' is not a unicast MAC such as "
                                 "02:00:00:00:00:01",
                                 mac);
        }
        cfg->has_mac = true;
    }
    return port_settings_apply(params, cfg, err);
}

/* ---- JSON views ---- */

json_t *
mgr_switch_to_json(const struct mgr_switch *sw)
{
    json_t *ports = json_array();

    for (const struct mgr_port *p = sw->ports; p; p = p->next) {
        json_array_append_new(ports, json_string(p->name));
    }
    return json_pack(
        "{s:s, s:I, s:I, s:s, s:I, s:o}", "name", sw->name, "mac-ageing",
        (json_int_t)sw->mac_ageing, "mac-table-size",
        (json_int_t)sw->mac_table_size, "ipv6-unknown-next-header",
        sw->ipv6_unknown_nh_allowed ? "allow" : "drop", "mac-count",
        (json_int_t)vsw_fdb_count(sw->fdb), "ports", ports);
}

/* Adds the guard settings of 'guard' to 'obj'. */
static void
guard_to_json(const struct mgr_guard_cfg *guard, json_t *obj)
{
    char ips[MGR_MAX_ALLOWED_IPS * 48] = "";
    size_t len = 0;

    for (unsigned i = 0; i < guard->n_allowed_ips; i++) {
        const uint8_t *a = guard->allowed_ips[i];
        char text[INET6_ADDRSTRLEN];
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
                                           0, 0, 0, 0, 0xff, 0xff};

        if (!memcmp(a, mapped, sizeof mapped)) {
            inet_ntop(AF_INET, a + 12, text, sizeof text);
        } else {
            inet_ntop(AF_INET6, a, text, sizeof text);
        }
        len +=
            snprintf(ips + len, sizeof ips - len, "%s%s", i ? "," : "", text);
    }
    json_object_set_new(obj, "mac-spoofing",
                        json_boolean(guard->mac_spoofing));
    json_object_set_new(obj, "dhcp-guard", json_boolean(guard->dhcp_guard));
    json_object_set_new(obj, "router-guard",
                        json_boolean(guard->router_guard));
    json_object_set_new(obj, "ieee-priority-tag",
                        json_boolean(guard->ieee_priority_tag));
    json_object_set_new(obj, "storm-limit", json_integer(guard->storm_limit));
    json_object_set_new(obj, "allowed-ips", json_string(ips));
}

/* The saved settings of 'port', exactly what port.add would take: only
 * the keys that apply to its VLAN mode. */
static json_t *
port_cfg_to_json(const struct mgr_port *port)
{
    const struct mgr_port_cfg *cfg = &port->cfg;
    json_t *obj =
        json_pack("{s:s, s:s, s:s, s:s, s:I}", "name", port->name, "type",
                  port_type_name(cfg->type), "ifname", cfg->ifname,
                  "vlan-mode", vsw_vlan_mode_name(cfg->vlan.mode), "mac-limit",
                  (json_int_t)cfg->mac_limit);

    if (cfg->has_mac) {
        char mac[18];

        mgr_format_mac(cfg->mac, mac);
        json_object_set_new(obj, "mac", json_string(mac));
    }
    if (cfg->type == MGR_PORT_UPLINK) {
        json_object_set_new(obj, "offloads", json_boolean(cfg->offloads));
    }
    guard_to_json(&cfg->guard, obj);
    if (cfg->vlan.mode == VSW_VLAN_MODE_ACCESS) {
        json_object_set_new(obj, "vlan", json_integer(cfg->vlan.vid));
    } else if (vsw_vlan_is_pvlan(&cfg->vlan)) {
        char secondaries[4096 * 5];

        vsw_vlan_set_format(&cfg->vlan.pvlan_secondaries, secondaries,
                            sizeof secondaries);
        json_object_set_new(obj, "pvlan-primary",
                            json_integer(cfg->vlan.pvlan_primary));
        json_object_set_new(obj, "pvlan-secondary", json_string(secondaries));
    } else if (cfg->vlan.mode == VSW_VLAN_MODE_TRUNK) {
        char trunks[4096 * 5];

        vsw_vlan_set_format(&cfg->vlan.trunks, trunks, sizeof trunks);
        json_object_set_new(obj, "trunks", json_string(trunks));
        json_object_set_new(obj, "native-vlan",
                            json_integer(cfg->vlan.native_vid));
    }
    return obj;
}

json_t *
mgr_port_to_json(const struct vsw_manager *mgr, const struct mgr_port *port)
{
    json_t *obj = port_cfg_to_json(port);
    const char *link = "absent";
    char netns[64];

    (void)mgr;
    if (port->rt) {
        link = vsw_netdev_link_is_up(port->rt->netdev) ? "up" : "down";
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
    return obj;
}

/* ---- Persistence ---- */

static void
netns_pin_path(const struct vsw_manager *mgr, const struct mgr_port *port,
               char *path, size_t size)
{
    snprintf(path, size, "%s/netns/%s", mgr->state_dir, port->name);
}

static json_t *
config_to_json(const struct vsw_manager *mgr)
{
    json_t *switches = json_array();

    for (const struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        json_t *ports = json_array();

        for (const struct mgr_port *p = sw->ports; p; p = p->next) {
            json_t *obj = port_cfg_to_json(p);

            if (p->cfg.type == MGR_PORT_TAP) {
                json_object_set_new(
                    obj, "tap-location",
                    json_pack("{s:b, s:s, s:i}", "netns-pinned",
                              p->netns_pinned, "ifname",
                              p->cur_ifname[0] ? p->cur_ifname : p->cfg.ifname,
                              "ifindex", p->cur_ifindex));
                if (p->has_cur_mac) {
                    char mac[18];

                    mgr_format_mac(p->cur_mac, mac);
                    json_object_set_new(json_object_get(obj, "tap-location"),
                                        "mac", json_string(mac));
                }
            }
            mgr_acls_to_json(p, obj, false);
            json_array_append_new(ports, obj);
        }
        json_array_append_new(
            switches,
            json_pack("{s:s, s:I, s:I, s:s, s:o, s:o}", "name", sw->name,
                      "mac-ageing", (json_int_t)sw->mac_ageing,
                      "mac-table-size", (json_int_t)sw->mac_table_size,
                      "ipv6-unknown-next-header",
                      sw->ipv6_unknown_nh_allowed ? "allow" : "drop", "ports",
                      ports, "extensions", mgr_ext_switch_to_json(sw)));
    }
    return json_pack("{s:i, s:o, s:o}", "format", CONFIG_FORMAT, "switches",
                     switches, "extensions", mgr_ext_to_json(mgr));
}

static int
save_config(struct vsw_manager *mgr, struct vsw_rpc_error *err)
{
    json_t *root = config_to_json(mgr);
    int error = root ? vsw_config_save(mgr->config_path, root) : -ENOMEM;

    json_decref(root);
    if (error) {
        VSW_ERR("saving %s: %s", mgr->config_path, strerror(-error));
        if (err) {
            vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR,
                          "cannot save the configuration: %s",
                          strerror(-error));
        }
    }
    return error;
}

/* Fails, filling 'err', if the switch's private VLANs would contradict
 * each other with port 'port' (NULL: a new port) set to 'cfg'. */
static int
check_pvlan_conflicts(const struct mgr_switch *sw, const struct mgr_port *port,
                      const char *new_name, const struct mgr_port_cfg *cfg,
                      struct vsw_rpc_error *err)
{
    struct vsw_pvlan_map *map;
    struct mgr_port extra;
    int error;

    if (!vsw_vlan_is_pvlan(&cfg->vlan)) {
        return 0;
    }
    map = malloc(sizeof *map);
    if (!map) {
        return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR, "out of memory");
    }
    if (!port) {
        /* A new port: judged as if it were there already. */
        memset(&extra, 0, sizeof extra);
        snprintf(extra.name, sizeof extra.name, "%s", new_name);
        extra.cfg = *cfg;
        port = &extra;
    }
    error = mgr_pvlan_map_build(sw, port, cfg, map, err);
    free(map);
    return error;
}

/* ---- Datapath snapshot ---- */

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
}

/* True if 'port' has guards or ACLs for the datapath to apply; without
 * any, the datapath only resets 802.1p priorities (the default). */
static bool
port_needs_policy(const struct mgr_port *port)
{
    const struct mgr_guard_cfg *g = &port->cfg.guard;

    return port->acls || port->xacls || port->cfg.has_mac || g->mac_spoofing ||
           g->dhcp_guard || g->router_guard || g->ieee_priority_tag ||
           g->storm_limit || g->n_allowed_ips;
}

/* Describes the whole model to the workers.  On allocation failure the
 * old snapshot stays (and an error says so). */
static int
publish(struct vsw_manager *mgr)
{
    struct vsw_dp_snapshot *snap = vsw_dp_snapshot_create();

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
                continue;
            }
            dport = vsw_dp_snapshot_add_port(snap, dsw, p->name, p->rt);
            if (!dport) {
                goto nomem;
            }
            if (port_needs_policy(p)) {
                int error;

                dport->policy = mgr_port_policy_build(mgr, p, &error);
                if (error) {
                    goto nomem;
                }
            }
            dport->vlan = p->cfg.vlan;
            dport->mac_limit = p->cfg.mac_limit;
        }
        mgr_ext_fill_switch(sw, dsw);
    }
    vsw_datapath_publish(mgr->dp, snap);
    release_retired(mgr);
    event_active(mgr->reclaim, 0, 0);
    return 0;

nomem:
    vsw_dp_snapshot_destroy(snap);
    VSW_ERR("out of memory building a datapath snapshot");
    return -ENOMEM;
}

int
mgr_commit(struct vsw_manager *mgr, struct vsw_rpc_error *err)
{
    if (save_config(mgr, err)) {
        return -1;
    }
    publish(mgr);
    return 0;
}

/* ---- Port devices ---- */

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
        .find_mac = mac && !mgr_parse_mac(mac, find_mac) ? find_mac : NULL,
    };
    int error;

    if (json_is_true(json_object_get(location, "netns-pinned"))) {
        char pin[PATH_MAX];

        netns_pin_path(mgr, port, pin, sizeof pin);
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
    bool find_mac_ok = mac && !mgr_parse_mac(mac, find_mac);
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

/* Opens the device of 'port' and starts polling it.  'restore' allows
 * reattaching to an existing TAP, first where 'location' (may be NULL)
 * says it was, then by its configured name in the daemon's namespace. */
static int
port_open_device(struct vsw_manager *mgr, struct mgr_port *port, bool restore,
                 json_t *location)
{
    struct vsw_netdev *netdev = NULL;
    int error;

    if (port->cfg.type == MGR_PORT_UPLINK) {
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

                netns_pin_path(mgr, port, pin, sizeof pin);
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
                .mac = port->cfg.has_mac ? port->cfg.mac : NULL,
                .netns_fd = -1,
                .create_only = !restore,
                .n_queues = vsw_datapath_n_workers(mgr->dp),
            };

            error = vsw_netdev_tap_open(&opts, &netdev, NULL);
        }
    }
    if (error) {
        return error;
    }
    port->rt = vsw_port_rt_create(mgr->dp, port->id, netdev);
    if (!port->rt) {
        vsw_netdev_destroy(netdev, !restore);
        return -ENOMEM;
    }
    error = vsw_datapath_attach(mgr->dp, port->rt);
    if (error) {
        vsw_port_rt_destroy(port->rt, !restore);
        port->rt = NULL;
        return error;
    }
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

            netns_pin_path(mgr, port, pin, sizeof pin);
            vsw_netns_unpin(pin);
            port->netns_pinned = false;
            changed = true;
        }
    } else if (!port->netns_pinned || ino != port->netns_ino) {
        char pin[PATH_MAX];
        int error;

        netns_pin_path(mgr, port, pin, sizeof pin);
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
    return changed;
}

/* What mgr_retire() runs for a removed port, once no worker can
 * send to it any more. */
struct port_teardown {
    struct vsw_manager *mgr; /* owner of the slot */
    struct vsw_fdb *fdb;     /* table to forget the port in */
    struct vsw_port_rt *rt;  /* runtime to free, may be NULL */
    uint32_t id;             /* the port's id */
    bool remove_device;      /* delete the TAP device */
    char pin[PATH_MAX];      /* namespace pin to remove, or "" */
};

static void
port_teardown_cb(void *td_)
{
    struct port_teardown *td = td_;
    uint32_t slot = VSW_FDB_SLOT(td->id);

    vsw_fdb_flush_port(td->fdb, td->id);
    vsw_port_rt_destroy(td->rt, td->remove_device);
    if (td->pin[0]) {
        vsw_netns_unpin(td->pin);
    }
    vsw_conntrack_flush_port(td->mgr->conntrack, td->id);
    free(td->mgr->by_slot[slot]);
    td->mgr->by_slot[slot] = NULL;
    free(td);
}

/* Unlinks 'port' from its switch (the caller publishes afterwards) and
 * schedules its teardown. */
static void
port_destroy(struct vsw_manager *mgr, struct mgr_port *port,
             bool remove_device)
{
    struct port_teardown *td = calloc(1, sizeof *td);
    struct mgr_port **pp;

    for (pp = &port->sw->ports; *pp != port; pp = &(*pp)->next) {
        continue;
    }
    *pp = port->next;
    mgr_acls_destroy(mgr, port);
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
        netns_pin_path(mgr, port, td->pin, sizeof td->pin);
    }
    mgr_retire(mgr, port_teardown_cb, td);
}

/* ---- Operations ---- */

/* Creates a switch in memory (no save, no publish). */
static int
switch_create(struct vsw_manager *mgr, const char *name, uint32_t ageing,
              uint32_t size, struct mgr_switch **swp,
              struct vsw_rpc_error *err)
{
    struct mgr_switch *sw = calloc(1, sizeof *sw);
    struct mgr_switch **tail;

    if (sw) {
        sw->fdb = vsw_fdb_create(size, ageing);
    }
    if (!sw || !sw->fdb) {
        free(sw);
        return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR,
                             "out of memory for a MAC table of %u entries",
                             size);
    }
    snprintf(sw->name, sizeof sw->name, "%s", name);
    sw->mac_ageing = ageing;
    sw->mac_table_size = size;
    for (tail = &mgr->switches; *tail; tail = &(*tail)->next) {
        continue;
    }
    *tail = sw;
    *swp = sw;
    return 0;
}

static void
fdb_destroy_cb(void *fdb)
{
    vsw_fdb_destroy(fdb);
}

/* Unlinks 'sw' and its ports and schedules their teardown (no save). */
static void
switch_destroy(struct vsw_manager *mgr, struct mgr_switch *sw,
               bool remove_devices)
{
    struct mgr_switch **pp;

    mgr_ext_switch_destroy(mgr, sw);
    while (sw->ports) {
        port_destroy(mgr, sw->ports, remove_devices);
    }
    for (pp = &mgr->switches; *pp != sw; pp = &(*pp)->next) {
        continue;
    }
    *pp = sw->next;
    /* Deferred callbacks run in order: the ports' teardown (which
     * flushes this table) comes first. */
    mgr_retire(mgr, fdb_destroy_cb, sw->fdb);
    free(sw);
}

int
mgr_switch_add(struct vsw_manager *mgr, json_t *params,
               struct mgr_switch **swp, struct vsw_rpc_error *err)
{
    uint32_t ageing = VSW_FDB_DEFAULT_AGEING_SEC;
    uint32_t size = VSW_FDB_DEFAULT_MAX_ENTRIES;
    bool unknown_nh = false;
    const char *name;
    struct mgr_switch *sw;

    if (vsw_rpc_get_string(params, "name", true, &name, err) ||
        check_name("switch", name, err) ||
        switch_settings_apply(params, &ageing, &size, err) ||
        unknown_nh_apply(params, &unknown_nh, err)) {
        return -1;
    }
    if (mgr_find_switch(mgr, name)) {
        return vsw_rpc_error(err, VSW_RPC_EXISTS, "switch '%s' already exists",
                             name);
    }
    if (switch_create(mgr, name, ageing, size, &sw, err)) {
        return -1;
    }
    sw->ipv6_unknown_nh_allowed = unknown_nh;
    if (save_config(mgr, err)) {
        switch_destroy(mgr, sw, true);
        return -1;
    }
    publish(mgr);
    *swp = sw;
    return 0;
}

int
mgr_switch_set(struct vsw_manager *mgr, struct mgr_switch *sw, json_t *params,
               struct vsw_rpc_error *err)
{
    uint32_t ageing = sw->mac_ageing;
    uint32_t size = sw->mac_table_size;
    uint32_t old_ageing = sw->mac_ageing;
    uint32_t old_size = sw->mac_table_size;
    bool unknown_nh = sw->ipv6_unknown_nh_allowed;
    bool old_unknown_nh = unknown_nh;
    struct vsw_fdb *new_fdb = NULL;

    if (switch_settings_apply(params, &ageing, &size, err) ||
        unknown_nh_apply(params, &unknown_nh, err)) {
        return -1;
    }
    if (size != sw->mac_table_size) {
        new_fdb = vsw_fdb_create(size, ageing);
        if (!new_fdb) {
            return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR,
                                 "out of memory for a MAC table of %u "
                                 "entries",
                                 size);
        }
    }
    sw->mac_ageing = ageing;
    sw->mac_table_size = size;
    sw->ipv6_unknown_nh_allowed = unknown_nh;
    if (save_config(mgr, err)) {
        sw->mac_ageing = old_ageing;
        sw->mac_table_size = old_size;
        sw->ipv6_unknown_nh_allowed = old_unknown_nh;
        vsw_fdb_destroy(new_fdb);
        return -1;
    }
    vsw_fdb_set_ageing(sw->fdb, ageing);
    if (new_fdb) {
        /* A table of another size starts empty: the switch relearns. */
        mgr_retire(mgr, fdb_destroy_cb, sw->fdb);
        sw->fdb = new_fdb;
    }
    if (new_fdb || unknown_nh != old_unknown_nh) {
        publish(mgr);
    }
    return 0;
}

int
mgr_switch_del(struct vsw_manager *mgr, struct mgr_switch *sw,
               struct vsw_rpc_error *err)
{
    struct mgr_switch **pp;
    int error;

    /* Save a configuration without the switch before tearing anything
     * down, so that a failed save leaves everything in place. */
    for (pp = &mgr->switches; *pp != sw; pp = &(*pp)->next) {
        continue;
    }
    *pp = sw->next;
    error = save_config(mgr, err);
    sw->next = *pp;
    *pp = sw;
    if (error) {
        return -1;
    }
    switch_destroy(mgr, sw, true);
    publish(mgr);
    return 0;
}

int
mgr_port_add(struct vsw_manager *mgr, struct mgr_switch *sw, json_t *params,
             struct mgr_port **portp, struct vsw_rpc_error *err)
{
    struct mgr_port_cfg cfg;
    struct mgr_port *port;
    struct mgr_port **tail;
    const char *name;
    int error;

    if (vsw_rpc_check_keys(params, port_add_keys, err) ||
        vsw_rpc_get_string(params, "name", true, &name, err) ||
        check_name("port", name, err) ||
        port_cfg_from_params(params, name, &cfg, err)) {
        return -1;
    }
    if (json_object_get(params, "tap-location")) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "tap-location is set by the daemon only");
    }
    if (mgr_find_port(mgr, name)) {
        return vsw_rpc_error(err, VSW_RPC_EXISTS, "port '%s' already exists",
                             name);
    }
    if (check_pvlan_conflicts(sw, NULL, name, &cfg, err) ||
        mgr_ext_port_check(mgr, sw, name, VSW_EXT_PORT_CREATE, params, err)) {
        return -1;
    }
    for (struct mgr_switch *s = mgr->switches; s; s = s->next) {
        for (struct mgr_port *p = s->ports; p; p = p->next) {
            if (!strcmp(p->cfg.ifname, cfg.ifname)) {
                return vsw_rpc_error(err, VSW_RPC_EXISTS,
                                     "interface '%s' already belongs to "
                                     "port '%s'",
                                     cfg.ifname, p->name);
            }
        }
    }

    port = calloc(1, sizeof *port);
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
    port->cfg = cfg;
    error = port_open_device(mgr, port, false, NULL);
    if (error) {
        free(port);
        if (error == -EEXIST) {
            return vsw_rpc_error(err, VSW_RPC_EXISTS,
                                 "interface '%s' already exists; a tap port "
                                 "creates its own device",
                                 cfg.ifname);
        }
        return vsw_rpc_error(
            err, VSW_RPC_SYSTEM_ERROR, "cannot %s interface '%s': %s",
            cfg.type == MGR_PORT_TAP ? "create TAP" : "attach to", cfg.ifname,
            strerror(-error));
    }
    mgr->by_slot[VSW_FDB_SLOT(port->id)] = port;
    for (tail = &sw->ports; *tail; tail = &(*tail)->next) {
        continue;
    }
    *tail = port;
    if (save_config(mgr, err)) {
        port_destroy(mgr, port, true);
        return -1;
    }
    publish(mgr);
    *portp = port;
    return 0;
}

int
mgr_port_set(struct vsw_manager *mgr, struct mgr_port *port, json_t *params,
             struct vsw_rpc_error *err)
{
    struct mgr_port_cfg cfg = port->cfg;
    struct mgr_port_cfg old = port->cfg;

    if (vsw_rpc_check_keys(params, port_set_keys, err) ||
        port_settings_apply(params, &cfg, err) ||
        check_pvlan_conflicts(port->sw, port, NULL, &cfg, err) ||
        mgr_ext_port_check(mgr, port->sw, port->name, VSW_EXT_PORT_POLICY,
                           params, err)) {
        return -1;
    }
    port->cfg = cfg;
    if (save_config(mgr, err)) {
        port->cfg = old;
        return -1;
    }
    publish(mgr);
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
    error = save_config(mgr, err);
    port->next = *pp;
    *pp = port;
    if (error) {
        return -1;
    }
    port_destroy(mgr, port, true);
    publish(mgr);
    return 0;
}

/* ---- Restore ---- */

/* Restores one saved port.  Returns 0, or -1 if the entry is unusable
 * and was left out. */
static int
restore_port(struct vsw_manager *mgr, struct mgr_switch *sw, json_t *obj)
{
    struct vsw_rpc_error err;
    struct mgr_port_cfg cfg;
    struct mgr_port *port;
    struct mgr_port **tail;
    json_t *params = json_deep_copy(obj);
    json_t *location = json_incref(json_object_get(obj, "tap-location"));
    const char *name = json_string_value(json_object_get(obj, "name"));
    int result = -1;
    int error;

    if (!params) {
        goto out;
    }
    json_object_del(params, "tap-location");
    json_object_del(params, "acls");
    json_object_del(params, "xacls");
    if (!name || check_name("port", name, &err) ||
        port_cfg_from_params(params, name, &cfg, &err)) {
        VSW_ERR("config: switch %s: dropping a port entry: %s", sw->name,
                name ? err.message : "no name");
        goto out;
    }
    if (mgr_find_port(mgr, name)) {
        VSW_ERR("config: port %s appears twice; keeping the first", name);
        goto out;
    }
    port = calloc(1, sizeof *port);
    if (!port || alloc_port_id(mgr, &port->id)) {
        VSW_ERR("config: no room for port %s", name);
        free(port);
        goto out;
    }
    snprintf(port->name, sizeof port->name, "%s", name);
    port->sw = sw;
    port->cfg = cfg;
    error = port_open_device(mgr, port, true, location);
    if (error) {
        snprintf(port->last_error, sizeof port->last_error,
                 "cannot open %s: %s", cfg.ifname, strerror(-error));
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
    result = mgr_acls_restore(mgr, port, obj);

out:
    json_decref(location);
    json_decref(params);
    return result;
}

static int
restore_config(struct vsw_manager *mgr, char *errbuf, size_t errlen)
{
    json_t *root = NULL;
    bool rejected = false;
    json_t *switches;
    json_t *swobj;
    size_t i;
    int error = vsw_config_load(mgr->config_path, &root, errbuf, errlen);

    if (error == -ENOENT) {
        VSW_INFO("no configuration at %s yet: starting empty",
                 mgr->config_path);
        return 0;
    }
    if (error) {
        if (!errbuf[0] || error != -EINVAL) {
            snprintf(errbuf, errlen, "%s: %s", mgr->config_path,
                     strerror(-error));
        }
        return error;
    }
    switches = json_object_get(root, "switches");
    if (!json_is_array(switches) ||
        json_integer_value(json_object_get(root, "format")) != CONFIG_FORMAT) {
        snprintf(errbuf, errlen,
                 "%s: not a vswitch configuration of format %d; move it "
                 "away to start empty",
                 mgr->config_path, CONFIG_FORMAT);
        json_decref(root);
        return -EINVAL;
    }
    json_array_foreach(switches, i, swobj)
    {
        struct vsw_rpc_error err;
        uint32_t ageing = VSW_FDB_DEFAULT_AGEING_SEC;
        uint32_t size = VSW_FDB_DEFAULT_MAX_ENTRIES;
        bool unknown_nh = false;
        const char *name = json_string_value(json_object_get(swobj, "name"));
        json_t *settings = json_deep_copy(swobj);
        struct mgr_switch *sw;
        json_t *portobj;
        size_t j;

        json_object_del(settings, "ports");
        json_object_del(settings, "extensions");
        snprintf(err.message, sizeof err.message, "%s",
                 "the name appears twice");
        if (!name || check_name("switch", name, &err) ||
            mgr_find_switch(mgr, name) ||
            switch_settings_apply(settings, &ageing, &size, &err) ||
            unknown_nh_apply(settings, &unknown_nh, &err) ||
            switch_create(mgr, name, ageing, size, &sw, &err)) {
            VSW_ERR("config: dropping switch entry %s: %s",
                    name ? name : "(no name)", name ? err.message : "no name");
            json_decref(settings);
            rejected = true;
            continue;
        }
        json_decref(settings);
        sw->ipv6_unknown_nh_allowed = unknown_nh;
        json_array_foreach(json_object_get(swobj, "ports"), j, portobj)
        {
            rejected |= restore_port(mgr, sw, portobj) < 0;
        }
    }
    if (rejected) {
        /* The next save writes only what was usable; keep the original
         * for the operator to inspect. */
        char copy[PATH_MAX + 16];

        snprintf(copy, sizeof copy, "%s.rejected", mgr->config_path);
        vsw_config_save(copy, root);
        VSW_ERR("config: some entries were unusable; the original file is "
                "kept as %s",
                copy);
    }
    mgr_ext_restore(mgr, root);
    json_decref(root);
    return 0;
}

/* ---- Timers and link events ---- */

static void
track_all(struct vsw_manager *mgr)
{
    bool changed = false;

    for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        for (struct mgr_port *p = sw->ports; p; p = p->next) {
            changed |= mgr_port_track(mgr, p);
        }
    }
    if (changed) {
        save_config(mgr, NULL);
    }
}

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
            if (!p->rt && !port_open_device(mgr, p, true, NULL)) {
                VSW_INFO("port %s: device %s is back", p->name, p->cfg.ifname);
                opened = true;
            }
        }
    }
    if (opened) {
        publish(mgr);
    }
}

static void
tick_cb(evutil_socket_t fd, short what, void *mgr_)
{
    struct vsw_manager *mgr = mgr_;
    int64_t now = vsw_time_msec();

    (void)fd;
    (void)what;
    for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        vsw_fdb_expire(sw->fdb, now);
    }
    vsw_conntrack_expire(mgr->conntrack, now);
    track_all(mgr);
    retry_missing(mgr);
    mgr_ext_tick(mgr);
    if (vsw_datapath_rebalance(mgr->dp, (uint64_t)(now - mgr->last_tick_ms) *
                                            1000000)) {
        event_active(mgr->reclaim, 0, 0);
    }
    mgr->last_tick_ms = now;
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

static int
link_msg_cb(struct nl_msg *msg, void *arg)
{
    (void)msg;
    (void)arg;
    return NL_OK;
}

/* An interface appeared, vanished or changed: a TAP may have left for
 * another namespace, so look now rather than at the next tick. */
static void
link_event_cb(evutil_socket_t fd, short what, void *mgr_)
{
    struct vsw_manager *mgr = mgr_;

    (void)fd;
    (void)what;
    nl_recvmsgs_default(mgr->link_sock);
    track_all(mgr);
}

static int
link_monitor_start(struct vsw_manager *mgr)
{
    mgr->link_sock = nl_socket_alloc();
    if (!mgr->link_sock) {
        return -ENOMEM;
    }
    nl_socket_disable_seq_check(mgr->link_sock);
    nl_socket_modify_cb(mgr->link_sock, NL_CB_VALID, NL_CB_CUSTOM, link_msg_cb,
                        NULL);
    if (nl_connect(mgr->link_sock, NETLINK_ROUTE) ||
        nl_socket_add_membership(mgr->link_sock, RTNLGRP_LINK) ||
        nl_socket_set_nonblocking(mgr->link_sock)) {
        return -EIO;
    }
    mgr->link_event = event_new(mgr->base, nl_socket_get_fd(mgr->link_sock),
                                EV_READ | EV_PERSIST, link_event_cb, mgr);
    if (!mgr->link_event || event_add(mgr->link_event, NULL)) {
        return -ENOMEM;
    }
    return 0;
}

/* ---- Life cycle ---- */

int
vsw_manager_create(struct event_base *base,
                   const struct vsw_manager_options *opts,
                   struct vsw_manager **mgrp, char *err, size_t errlen)
{
    const struct timeval one_second = {1, 0};
    struct vsw_manager *mgr = calloc(1, sizeof *mgr);
    char netns_dir[PATH_MAX];
    struct stat st;
    int error;

    if (!mgr) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    mgr->retired_tail = &mgr->retired;
    mgr->base = base;
    snprintf(mgr->state_dir, sizeof mgr->state_dir, "%s", opts->state_dir);
    snprintf(mgr->config_path, sizeof mgr->config_path, "%s/config.json",
             opts->state_dir);
    snprintf(netns_dir, sizeof netns_dir, "%s/netns", opts->state_dir);
    if (mkdir(netns_dir, 0700) < 0 && errno != EEXIST) {
        error = -errno;
        snprintf(err, errlen, "cannot create %s: %s", netns_dir,
                 strerror(errno));
        goto fail;
    }
    if (stat("/proc/self/ns/net", &st) < 0) {
        error = -errno;
        snprintf(err, errlen, "cannot read /proc/self/ns/net: %s",
                 strerror(errno));
        goto fail;
    }
    mgr->own_netns_ino = st.st_ino;
    mgr->last_tick_ms = vsw_time_msec();
    mgr->busy_poll = opts->busy_poll;

    mgr->conntrack = vsw_conntrack_create(VSW_CONNTRACK_DEFAULT_MAX_FLOWS, 0);
    if (!mgr->conntrack) {
        snprintf(err, errlen, "out of memory for the flow table");
        error = -ENOMEM;
        goto fail;
    }
    error = vsw_datapath_create(opts->n_workers, opts->busy_poll, &mgr->dp);
    if (error) {
        snprintf(err, errlen, "cannot start %u datapath workers: %s",
                 opts->n_workers, strerror(-error));
        goto fail;
    }
    mgr->reclaim = event_new(base, -1, 0, reclaim_cb, mgr);
    mgr->tick = event_new(base, -1, EV_PERSIST, tick_cb, mgr);
    if (!mgr->reclaim || !mgr->tick || event_add(mgr->tick, &one_second)) {
        error = -ENOMEM;
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    error = link_monitor_start(mgr);
    if (error) {
        snprintf(err, errlen, "cannot listen to rtnetlink: %s",
                 strerror(-error));
        goto fail;
    }
    error = mgr_ext_init(mgr);
    if (error) {
        snprintf(err, errlen, "cannot start the extension watchdog: %s",
                 strerror(-error));
        goto fail;
    }
    error = restore_config(mgr, err, errlen);
    if (error) {
        goto fail;
    }
    for (size_t i = 0; i < opts->n_extension_dirs; i++) {
        mgr_ext_load_dir(mgr, opts->extension_dirs[i]);
    }
    if (mgr_ext_quarantined_at_start(mgr)) {
        save_config(mgr, NULL);
    }
    publish(mgr);
    /* Record where every TAP is now, in case it moved while no daemon
     * was watching. */
    track_all(mgr);
    *mgrp = mgr;
    return 0;

fail:
    vsw_manager_destroy(mgr);
    return error;
}

void
vsw_manager_destroy(struct vsw_manager *mgr)
{
    if (!mgr) {
        return;
    }
    while (mgr->switches) {
        switch_destroy(mgr, mgr->switches, false);
    }
    if (mgr->dp) {
        /* An empty snapshot lets go of everything retired above. */
        publish(mgr);
        vsw_datapath_barrier(mgr->dp);
        vsw_datapath_destroy(mgr->dp);
    }
    mgr_ext_shutdown(mgr);
    vsw_pipeline_destroy(mgr->inject_pl);
    if (mgr->tick) {
        event_free(mgr->tick);
    }
    if (mgr->reclaim) {
        event_free(mgr->reclaim);
    }
    if (mgr->link_event) {
        event_free(mgr->link_event);
    }
    nl_socket_free(mgr->link_sock);
    vsw_pipeline_destroy(mgr->trace_pl);
    vsw_conntrack_destroy(mgr->conntrack);
    vsw_packet_destroy(mgr->trace_pkt);
    free(mgr);
}

void
vsw_manager_set_identity(struct vsw_manager *mgr, const char *socket,
                         long long start_time_ms)
{
    snprintf(mgr->socket_path, sizeof mgr->socket_path, "%s", socket);
    mgr->start_time_ms = start_time_ms;
}
