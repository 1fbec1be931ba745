/*
 * VXLAN tunnels and tenant networks on the control thread: the tunnel's
 * checks and device, the state other modules program into it, what a
 * snapshot's tunnel port decides with (datapath/tunnel/vxlan.h), and
 * tunnel.show.
 *
 * A tunnel is a port of type "vxlan" (its settings are rows of the port
 * table), so adding, changing, saving and restoring it are port.c's.
 * What is not a setting, remotes and MACs that another module (etcd
 * distribution, migration) programs, lives in 'struct mgr_tunnel_state'
 * and is not saved: whoever programs it programs it again after a
 * restart.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "log.h"
#include "manager-private.h"
#include "timeutil.h"
#include "vxlan.h"

/* What was programmed into a tunnel beyond its settings.  Arrays grow by
 * doubling; bounded by VSW_VXLAN_LEARN_SLOTS entries each. */
struct mgr_tunnel_state {
    size_t n_remotes, max_remotes;
    struct vsw_vxlan_remote *remotes;
    size_t n_macs, max_macs;
    struct vsw_vxlan_mac *macs;
};

int
mgr_tunnel_cfg_check(const struct mgr_port_cfg *cfg, struct vsw_rpc_error *err)
{
    const struct vsw_setting_ip_list *ip = &cfg->tunnel.local_ip;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
                                       0, 0, 0, 0, 0xff, 0xff};

    if (ip->n != 1 || memcmp(ip->addr[0], mapped, sizeof mapped)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "a vxlan tunnel needs local-ip=ONE IPv4 "
                             "address of this host (the underlay is IPv4)");
    }
    return 0;
}

static uint32_t
local_ip(const struct mgr_port *port)
{
    uint32_t ip;

    memcpy(&ip, port->cfg.tunnel.local_ip.addr[0] + 12, 4);
    return ip;
}

int
mgr_tunnel_open_device(struct vsw_manager *mgr, struct mgr_port *port,
                       struct vsw_netdev **netdevp)
{
    int error = vsw_netdev_vxlan_open(
        port->name, local_ip(port), (uint16_t)port->cfg.tunnel.dst_port,
        port->cfg.tunnel.underlay, vsw_datapath_n_workers(mgr->dp), netdevp);

    if (error == -EADDRNOTAVAIL) {
        VSW_WARN("tunnel %s: local-ip is no address of this host", port->name);
    }
    return error;
}

void
mgr_tunnel_port_destroy(struct mgr_port *port)
{
    struct mgr_tunnel_state *st = port->tunnel_state;

    if (st) {
        free(st->remotes);
        free(st->macs);
        free(st);
        port->tunnel_state = NULL;
    }
}

int
mgr_tunnel_fill_port(const struct vsw_manager *mgr,
                     const struct mgr_port *port, struct vsw_dp_port *dport)
{
    const struct mgr_tunnel_state *st = port->tunnel_state;
    const struct vsw_setting_vtep_list *remote = &port->cfg.tunnel.remote;
    struct vsw_netdev_vxlan *dev = vsw_netdev_vxlan_cast(port->rt->netdev);
    struct vsw_vxlan_config *cfg = calloc(1, sizeof *cfg);
    size_t n_ports = 0;
    size_t n_st_remotes = st ? st->n_remotes : 0;
    size_t n_st_macs = st ? st->n_macs : 0;

    (void)mgr;
    if (!cfg) {
        return -ENOMEM;
    }
    for (const struct mgr_port *p = port->sw->ports; p; p = p->next) {
        n_ports++;
    }
    cfg->local_ip = local_ip(port);
    cfg->dst_port = (uint16_t)port->cfg.tunnel.dst_port;
    cfg->underlay_mtu = dev ? dev->underlay_mtu : 1500;
    cfg->learn_unknown = port->cfg.tunnel.learn_unknown_vteps;
    cfg->ageing_ms = (int64_t)port->sw->cfg.mac_ageing * 1000;
    cfg->vnis = calloc(n_ports + 1, sizeof *cfg->vnis);
    cfg->remotes = calloc(remote->n + n_st_remotes + 1, sizeof *cfg->remotes);
    cfg->macs = calloc(n_st_macs + 1, sizeof *cfg->macs);
    if (!cfg->vnis || !cfg->remotes || !cfg->macs) {
        vsw_vxlan_config_destroy(cfg);
        return -ENOMEM;
    }
    for (const struct mgr_port *p = port->sw->ports; p; p = p->next) {
        if (p->cfg.vni) {
            cfg->vnis[cfg->n_vnis++] = p->cfg.vni;
        }
    }
    for (unsigned i = 0; i < remote->n; i++) {
        cfg->remotes[cfg->n_remotes++] =
            (struct vsw_vxlan_remote){remote->vtep[i].vni, remote->vtep[i].ip};
    }
    for (size_t i = 0; i < n_st_remotes; i++) {
        cfg->remotes[cfg->n_remotes++] = st->remotes[i];
    }
    for (size_t i = 0; i < n_st_macs; i++) {
        cfg->macs[cfg->n_macs++] = st->macs[i];
    }
    vsw_vxlan_config_sort(cfg);
    dport->tunnel = cfg;
    return 0;
}

static struct mgr_tunnel_state *
state_get(struct mgr_port *port)
{
    if (!port->tunnel_state) {
        port->tunnel_state = calloc(1, sizeof *port->tunnel_state);
    }
    return port->tunnel_state;
}

/* Makes room for one more element in '*array' of '*n' used, '*max'
 * allocated.  Returns 0 or -ENOMEM. */
static int
grow(void **array, size_t n, size_t *max, size_t size)
{
    void *bigger;
    size_t new_max;

    if (n < *max) {
        return 0;
    }
    if (n >= VSW_VXLAN_LEARN_SLOTS) {
        return -ENOMEM;
    }
    new_max = *max ? *max * 2 : 16;
    bigger = realloc(*array, new_max * size);
    if (!bigger) {
        return -ENOMEM;
    }
    *array = bigger;
    *max = new_max;
    return 0;
}

int
mgr_tunnel_remote_set(struct vsw_manager *mgr, struct mgr_port *tunnel,
                      uint32_t vni, uint32_t ip, bool present)
{
    struct mgr_tunnel_state *st;

    if (tunnel->cfg.type != MGR_PORT_VXLAN || !vni ||
        vni > VSW_VXLAN_VNI_MAX || !ip) {
        return -EINVAL;
    }
    st = state_get(tunnel);
    if (!st) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < st->n_remotes; i++) {
        if (st->remotes[i].vni == vni && st->remotes[i].ip == ip) {
            if (!present) {
                st->remotes[i] = st->remotes[--st->n_remotes];
                mgr_publish(mgr);
            }
            return 0;
        }
    }
    if (!present) {
        return -ENOENT;
    }
    if (grow((void **)&st->remotes, st->n_remotes, &st->max_remotes,
             sizeof *st->remotes)) {
        return -ENOMEM;
    }
    st->remotes[st->n_remotes++] = (struct vsw_vxlan_remote){vni, ip};
    mgr_publish(mgr);
    return 0;
}

int
mgr_tunnel_mac_set(struct vsw_manager *mgr, struct mgr_port *tunnel,
                   uint32_t vni, const uint8_t mac[6], uint32_t ip,
                   bool present)
{
    struct mgr_tunnel_state *st;

    if (tunnel->cfg.type != MGR_PORT_VXLAN || !vni ||
        vni > VSW_VXLAN_VNI_MAX || (present && !ip)) {
        return -EINVAL;
    }
    st = state_get(tunnel);
    if (!st) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < st->n_macs; i++) {
        if (st->macs[i].vni == vni && !memcmp(st->macs[i].mac, mac, 6)) {
            if (present) {
                st->macs[i].ip = ip;
            } else {
                st->macs[i] = st->macs[--st->n_macs];
            }
            mgr_publish(mgr);
            return 0;
        }
    }
    if (!present) {
        return -ENOENT;
    }
    if (grow((void **)&st->macs, st->n_macs, &st->max_macs,
             sizeof *st->macs)) {
        return -ENOMEM;
    }
    st->macs[st->n_macs] = (struct vsw_vxlan_mac){.vni = vni, .ip = ip};
    memcpy(st->macs[st->n_macs].mac, mac, 6);
    st->n_macs++;
    mgr_publish(mgr);
    return 0;
}

/* ---- tunnel.show ---- */

static json_t *
ip_json(uint32_t ip)
{
    char text[INET_ADDRSTRLEN];
    struct in_addr a = {ip};

    inet_ntop(AF_INET, &a, text, sizeof text);
    return json_string(text);
}

static json_t *
mac_json(const uint8_t mac[6])
{
    char text[18];

    snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0],
             mac[1], mac[2], mac[3], mac[4], mac[5]);
    return json_string(text);
}

static int
compare_learned(const void *a_, const void *b_)
{
    const struct vsw_vxlan_learned_info *a = a_;
    const struct vsw_vxlan_learned_info *b = b_;
    int c = memcmp(a->mac, b->mac, 6);

    if (a->vni != b->vni) {
        return a->vni < b->vni ? -1 : 1;
    }
    return c;
}

/* The tunnel as tunnel.show describes it. */
static json_t *
tunnel_view(struct vsw_manager *mgr, struct mgr_port *port)
{
    const struct mgr_tunnel_state *st = port->tunnel_state;
    struct vsw_netdev_vxlan *dev =
        port->rt ? vsw_netdev_vxlan_cast(port->rt->netdev) : NULL;
    json_t *remotes = json_array();
    json_t *macs = json_array();
    json_t *learned = json_array();
    json_t *vnis = json_array();
    json_t *view;
    uint32_t mtu = dev ? dev->underlay_mtu : 0;

    (void)mgr;
    for (const struct mgr_port *p = port->sw->ports; p; p = p->next) {
        bool seen = false;

        if (!p->cfg.vni) {
            continue;
        }
        for (size_t i = 0; i < json_array_size(vnis); i++) {
            seen |= json_integer_value(json_array_get(vnis, i)) == p->cfg.vni;
        }
        if (!seen) {
            json_array_append_new(vnis, json_integer(p->cfg.vni));
        }
    }
    for (unsigned i = 0; i < port->cfg.tunnel.remote.n; i++) {
        json_array_append_new(
            remotes,
            json_pack("{s:I,s:o,s:s}", "vni",
                      (json_int_t)port->cfg.tunnel.remote.vtep[i].vni, "vtep",
                      ip_json(port->cfg.tunnel.remote.vtep[i].ip), "source",
                      "static"));
    }
    for (size_t i = 0; st && i < st->n_remotes; i++) {
        json_array_append_new(remotes,
                              json_pack("{s:I,s:o,s:s}", "vni",
                                        (json_int_t)st->remotes[i].vni, "vtep",
                                        ip_json(st->remotes[i].ip), "source",
                                        "programmed"));
    }
    for (size_t i = 0; st && i < st->n_macs; i++) {
        json_array_append_new(macs, json_pack("{s:I,s:o,s:o,s:s}", "vni",
                                              (json_int_t)st->macs[i].vni,
                                              "mac", mac_json(st->macs[i].mac),
                                              "vtep", ip_json(st->macs[i].ip),
                                              "source", "programmed"));
    }
    if (dev) {
        enum {
            MAX_SHOWN = 4096
        };
        struct vsw_vxlan_learned_info *info = calloc(MAX_SHOWN, sizeof *info);
        size_t n = info ? vsw_vxlan_learned_dump(
                              dev->learned, info, MAX_SHOWN, vsw_time_msec(),
                              (int64_t)port->sw->cfg.mac_ageing * 1000)
                        : 0;

        qsort(info, n, sizeof *info, compare_learned);
        for (size_t i = 0; i < n; i++) {
            json_array_append_new(
                learned,
                json_pack("{s:I,s:o,s:o,s:I}", "vni", (json_int_t)info[i].vni,
                          "mac", mac_json(info[i].mac), "vtep",
                          ip_json(info[i].ip), "age",
                          (json_int_t)(info[i].age_ms / 1000)));
        }
        free(info);
    }
    view = json_pack(
        "{s:s,s:s,s:o,s:I,s:I,s:I,s:o,s:o,s:o,s:o}", "name", port->name,
        "switch", port->sw->name, "local-ip", ip_json(local_ip(port)),
        "dst-port", (json_int_t)port->cfg.tunnel.dst_port, "underlay-mtu",
        (json_int_t)mtu, "vm-mtu",
        (json_int_t)(mtu ? mtu - VSW_VXLAN_VM_MTU_GAP : 0), "vnis", vnis,
        "remotes", remotes, "macs", macs, "learned", learned);
    return view;
}

static int
rpc_tunnel_show(json_t *params, json_t **result, struct vsw_rpc_error *err,
                void *mgr_)
{
    static const char *const keys[] = {"name", NULL};
    struct vsw_manager *mgr = mgr_;
    struct mgr_port *port;

    if (vsw_rpc_check_keys(params, keys, err) ||
        mgr_rpc_get_port(mgr, params, "name", &port, err)) {
        return -1;
    }
    if (port->cfg.type != MGR_PORT_VXLAN) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "port '%s' is not a tunnel", port->name);
    }
    *result = tunnel_view(mgr, port);
    return 0;
}

static int
rpc_tunnel_list(json_t *params, json_t **result, struct vsw_rpc_error *err,
                void *mgr_)
{
    static const char *const keys[] = {NULL};
    struct vsw_manager *mgr = mgr_;
    json_t *list = json_array();

    if (vsw_rpc_check_keys(params, keys, err)) {
        json_decref(list);
        return -1;
    }
    for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        for (struct mgr_port *p = sw->ports; p; p = p->next) {
            if (p->cfg.type == MGR_PORT_VXLAN) {
                json_array_append_new(list, tunnel_view(mgr, p));
            }
        }
    }
    *result = json_pack("{s:o}", "tunnels", list);
    return 0;
}

/* Calls the port method 'method' with 'params': a tunnel is a port, and
 * its add, set and del are the port's, checks included. */
static int
call_port_method(struct vsw_manager *mgr, const char *method, json_t *params,
                 json_t **result, struct vsw_rpc_error *err)
{
    void *aux;
    const struct vsw_rpc_method *m =
        mgr->rpc ? vsw_rpc_server_lookup(mgr->rpc, method, &aux) : NULL;

    if (!m) {
        return vsw_rpc_error(err, VSW_RPC_INTERNAL_ERROR, "no method %s",
                             method);
    }
    return m->handler(params, result, err, aux);
}

/* The tunnel named by param 'key' of 'params', which must be one. */
static int
get_tunnel(struct vsw_manager *mgr, json_t *params, const char *key,
           struct mgr_port **portp, struct vsw_rpc_error *err)
{
    if (mgr_rpc_get_port(mgr, params, key, portp, err)) {
        return -1;
    }
    if ((*portp)->cfg.type != MGR_PORT_VXLAN) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "port '%s' is not a tunnel", (*portp)->name);
    }
    return 0;
}

static int
rpc_tunnel_add(json_t *params, json_t **result, struct vsw_rpc_error *err,
               void *mgr_)
{
    json_t *type = json_object_get(params, "type");
    json_t *copy;
    int error;

    if (type &&
        !(json_is_string(type) && !strcmp(json_string_value(type), "vxlan"))) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "a tunnel is type vxlan");
    }
    copy = json_deep_copy(params);
    if (!copy || json_object_set_new(copy, "type", json_string("vxlan"))) {
        json_decref(copy);
        return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR, "out of memory");
    }
    error = call_port_method(mgr_, "port.add", copy, result, err);
    json_decref(copy);
    return error;
}

static int
rpc_tunnel_set(json_t *params, json_t **result, struct vsw_rpc_error *err,
               void *mgr_)
{
    struct mgr_port *port;

    if (get_tunnel(mgr_, params, "name", &port, err)) {
        return -1;
    }
    return call_port_method(mgr_, "port.set", params, result, err);
}

static int
rpc_tunnel_del(json_t *params, json_t **result, struct vsw_rpc_error *err,
               void *mgr)
{
    (void)result;
    return mgr_rpc_port_del(mgr, params, get_tunnel, err);
}

static const struct vsw_rpc_method tunnel_methods[] = {
    {"tunnel.add", rpc_tunnel_add, VSW_RPC_WRITES},
    {"tunnel.set", rpc_tunnel_set, VSW_RPC_WRITES},
    {"tunnel.del", rpc_tunnel_del, VSW_RPC_WRITES},
    {"tunnel.show", rpc_tunnel_show, VSW_RPC_READS},
    {"tunnel.list", rpc_tunnel_list, VSW_RPC_READS},
};

int
mgr_tunnel_register_rpc(struct vsw_manager *mgr, struct vsw_rpc_server *server)
{
    return vsw_rpc_server_register(
        server, tunnel_methods, sizeof tunnel_methods / sizeof *tunnel_methods,
        mgr);
}

/* Each tunnel's learned map: (VNI, MAC) -> VTEP, direct-mapped, so the
 * bound is met when a mapping takes the slot of another. */
void
mgr_tunnel_bounds(struct vsw_manager *mgr, struct vsw_bounds *b)
{
    for (const struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        for (const struct mgr_port *p = sw->ports; p; p = p->next) {
            const struct vsw_netdev_vxlan *dev;
            char owner[VSW_NAME_MAX + 8];

            if (p->cfg.type != MGR_PORT_VXLAN || !p->rt ||
                !(dev = vsw_netdev_vxlan_cast(p->rt->netdev))) {
                continue;
            }
            snprintf(owner, sizeof owner, "tunnel:%s", p->name);
            vsw_bounds_add(
                b, "tunnel-mappings", owner, "mappings",
                vsw_vxlan_learned_count(dev->learned, vsw_time_msec(),
                                        (int64_t)sw->cfg.mac_ageing * 1000),
                VSW_VXLAN_LEARN_SLOTS,
                atomic_load_explicit(&dev->learned->replaced,
                                     memory_order_relaxed));
        }
    }
}
