/*
 * Private VLANs across the ports of one switch (FEATURES.md §3): the map
 * of which VLAN is whose primary or secondary, built from the ports'
 * settings, and the check that a change keeps it consistent.
 */
#include <stdlib.h>
#include <string.h>

#include "manager-private.h"

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

int
mgr_pvlan_check_conflicts(const struct mgr_switch *sw,
                          const struct mgr_port *port, const char *new_name,
                          const struct mgr_port_cfg *cfg,
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
