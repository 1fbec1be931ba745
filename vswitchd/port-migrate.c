/*
 * Moving a port's VM to another host: its stateful flows and the
 * announcement of its new place (see port-migrate.h).
 *
 * A flow in the export document:
 *
 *   {"vlan": 0, "proto": 6, "src": "192.0.2.5", "sport": 40000,
 *    "dst": "192.0.2.9", "dport": 80, "from-vm": true,
 *    "idle-timeout": 300, "idle-left": 287}
 *
 * "src" started the flow; "from-vm" says whether that was the port's VM
 * (an "out" rule admitted it) or the far side (an "in" rule).  For ICMP
 * and ICMPv6 both ports are the message kind (8 for an IPv4 ping, 128
 * for an IPv6 one), as conntrack.h keys them; other protocols have 0.
 * One entry stands for both directions.
 */
#include "port-migrate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conntrack.h"
#include "ext-stage.h"
#include "log.h"
#include "manager-private.h"
#include "pipeline.h"
#include "timeutil.h"

/* Most addresses of one family an announcement names. */
#define ANNOUNCE_MAX_ADDRS 16

#define ETH_TYPE_ARP  0x0806
#define ETH_TYPE_RARP 0x8035
#define ETH_TYPE_IPV6 0x86dd

/* The shortest Ethernet frame without its FCS: ARP is padded to it. */
#define ETH_MIN_LEN 60

static const uint8_t ipv4_mapped_prefix[12] = {0, 0, 0, 0, 0,    0,
                                               0, 0, 0, 0, 0xff, 0xff};

static bool
is_ipv4_mapped(const uint8_t addr[16])
{
    return !memcmp(addr, ipv4_mapped_prefix, sizeof ipv4_mapped_prefix);
}

static json_t *
address_to_json(const uint8_t addr[16])
{
    char text[INET6_ADDRSTRLEN];
    bool v4 = is_ipv4_mapped(addr);

    inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? addr + 12 : addr, text,
              sizeof text);
    return json_string(text);
}

/* Parses an IPv4 (kept IPv4-mapped) or IPv6 address. */
static bool
address_from_json(const json_t *value, uint8_t addr[16])
{
    const char *text = json_string_value(value);

    if (!text) {
        return false;
    }
    if (inet_pton(AF_INET, text, addr + 12) == 1) {
        memcpy(addr, ipv4_mapped_prefix, sizeof ipv4_mapped_prefix);
        return true;
    }
    return inet_pton(AF_INET6, text, addr) == 1;
}

json_t *
mgr_migrate_flows_to_json(struct vsw_manager *mgr, struct mgr_port *port)
{
    size_t max = vsw_conntrack_count(mgr->conntrack);
    json_t *flows = json_array();
    struct vsw_conntrack_flow_info *info;
    size_t n;

    if (!max || !vsw_conntrack_count_port(mgr->conntrack, port->id)) {
        return flows;
    }
    /* The dump is sorted by port id, so the whole table is dumped; export
     * is rare and the table bounded. */
    info = calloc(max, sizeof *info);
    if (!info) {
        VSW_WARN("port %s: no memory to export its stateful flows",
                 port->name);
        return flows;
    }
    n = vsw_conntrack_dump(mgr->conntrack, info, max, vsw_time_msec());
    for (size_t i = 0; i < n; i++) {
        const struct vsw_conntrack_flow_info *f = &info[i];

        if (f->port_id != port->id) {
            continue;
        }
        json_array_append_new(
            flows, json_pack("{s:i, s:i, s:o, s:i, s:o, s:i, s:b, s:i, s:i}",
                             "vlan", (int)f->vlan, "proto", (int)f->ip_proto,
                             "src", address_to_json(f->addr_a), "sport",
                             (int)f->port_a, "dst", address_to_json(f->addr_b),
                             "dport", (int)f->port_b, "from-vm", f->from_port,
                             "idle-timeout", (json_int_t)f->idle_timeout_s,
                             "idle-left", (json_int_t)f->idle_left_s));
    }
    free(info);
    return flows;
}

/* Reads integer member 'key' of 'obj' within [min, max] into '*value'. */
static int
get_bounded(const json_t *obj, const char *key, json_int_t min, json_int_t max,
            json_int_t *value, struct vsw_rpc_error *err)
{
    const json_t *v = json_object_get(obj, key);

    if (!json_is_integer(v) || json_integer_value(v) < min ||
        json_integer_value(v) > max) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "'%s' must be an integer from %lld to %lld", key,
                             (long long)min, (long long)max);
    }
    *value = json_integer_value(v);
    return 0;
}

/* Parses one flow entry of the document into 'info'. */
static int
flow_from_json(const json_t *obj, struct vsw_conntrack_flow_info *info,
               struct vsw_rpc_error *err)
{
    static const char *const keys[] = {
        "vlan",  "proto",   "src",          "sport",     "dst",
        "dport", "from-vm", "idle-timeout", "idle-left", NULL};
    json_int_t vlan, proto, sport, dport, timeout, left;
    const json_t *from_vm = json_object_get(obj, "from-vm");

    memset(info, 0, sizeof *info);
    if (!json_is_object(obj)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "a flow must be an object");
    }
    if (vsw_rpc_check_keys((json_t *)obj, keys, err) ||
        get_bounded(obj, "vlan", 0, 4095, &vlan, err) ||
        get_bounded(obj, "proto", 0, 255, &proto, err) ||
        get_bounded(obj, "sport", 0, 65535, &sport, err) ||
        get_bounded(obj, "dport", 0, 65535, &dport, err) ||
        get_bounded(obj, "idle-timeout", 1, VSW_CONNTRACK_MAX_TIMEOUT_S,
                    &timeout, err) ||
        get_bounded(obj, "idle-left", 0, timeout, &left, err)) {
        return -1;
    }
    if (!json_is_boolean(from_vm)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "'from-vm' must be true or false");
    }
    if (!address_from_json(json_object_get(obj, "src"), info->addr_a) ||
        !address_from_json(json_object_get(obj, "dst"), info->addr_b)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "'src' and 'dst' must be IP addresses");
    }
    info->vlan = (uint16_t)vlan;
    info->ip_proto = (uint8_t)proto;
    info->port_a = (uint16_t)sport;
    info->port_b = (uint16_t)dport;
    info->from_port = json_is_true(from_vm);
    info->idle_timeout_s = (uint32_t)timeout;
    info->idle_left_s = (uint32_t)left;
    if (!vsw_conntrack_flow_info_is_valid(info)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "not a flow a packet could make (addresses of "
                             "two families, or ports that do not fit the "
                             "protocol: ICMP has the message kind in both)");
    }
    return 0;
}

int
mgr_migrate_flows_check(struct vsw_manager *mgr, const json_t *flows,
                        struct vsw_rpc_error *err)
{
    struct vsw_conntrack_flow_info info;
    const json_t *flow;
    size_t i, room;

    if (!flows) {
        return 0;
    }
    if (!json_is_array(flows)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "document: flows must be an array");
    }
    room = vsw_conntrack_get_max_flows(mgr->conntrack) -
           vsw_conntrack_count(mgr->conntrack);
    if (json_array_size(flows) > MGR_MIGRATE_MAX_FLOWS ||
        json_array_size(flows) > room) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "document: %zu flows, but the flow table has "
                             "room for %zu",
                             json_array_size(flows), room);
    }
    json_array_foreach(flows, i, flow)
    {
        if (flow_from_json(flow, &info, err)) {
            char why[VSW_RPC_MAX_MESSAGE];

            snprintf(why, sizeof why, "%s", err->message);
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "document: flows[%zu]: %s", i, why);
        }
    }
    return 0;
}

size_t
mgr_migrate_flows_restore(struct vsw_manager *mgr, struct mgr_port *port,
                          const json_t *flows)
{
    int64_t now_ms = vsw_time_msec();
    struct vsw_conntrack_flow_info info;
    struct vsw_rpc_error err;
    const json_t *flow;
    size_t i, restored = 0;

    json_array_foreach(flows, i, flow)
    {
        int error;

        if (flow_from_json(flow, &info, &err)) {
            continue; /* checked before: cannot happen */
        }
        if (!info.idle_left_s) {
            continue;
        }
        error = vsw_conntrack_restore(mgr->conntrack, port->id, &info, now_ms);
        if (error) {
            VSW_WARN("port %s: flows[%zu] not restored: %s", port->name, i,
                     strerror(-error));
        } else {
            restored++;
        }
    }
    return restored;
}

/* The addresses of one family to announce. */
struct address_set {
    size_t n;
    uint8_t addr[ANNOUNCE_MAX_ADDRS][16];
};

static void
address_set_add(struct address_set *set, const uint8_t addr[16])
{
    static const uint8_t zero[16];

    if (!memcmp(addr, zero, 16) ||
        (is_ipv4_mapped(addr) && !memcmp(addr + 12, zero, 4))) {
        return;
    }
    for (size_t i = 0; i < set->n; i++) {
        if (!memcmp(set->addr[i], addr, 16)) {
            return;
        }
    }
    if (set->n < ANNOUNCE_MAX_ADDRS) {
        memcpy(set->addr[set->n++], addr, 16);
    }
}

/* Whether 'addr' may name one VM: no multicast, no IPv4 broadcast. */
static bool
is_unicast(const uint8_t addr[16])
{
    if (is_ipv4_mapped(addr)) {
        return addr[12] < 224;
    }
    return addr[0] != 0xff;
}

/* The addresses the VM behind 'port' is known by: its allowed-ips, and
 * its own end of each carried flow. */
static void
known_addresses(const struct mgr_port *port, const json_t *flows,
                struct address_set *v4, struct address_set *v6)
{
    const struct vsw_setting_ip_list *allowed = &port->cfg.guard.allowed_ips;
    struct vsw_conntrack_flow_info info;
    struct vsw_rpc_error err;
    const json_t *flow;
    size_t i;

    for (unsigned j = 0; j < allowed->n; j++) {
        if (is_unicast(allowed->addr[j])) {
            address_set_add(is_ipv4_mapped(allowed->addr[j]) ? v4 : v6,
                            allowed->addr[j]);
        }
    }
    json_array_foreach(flows, i, flow)
    {
        const uint8_t *vm;

        if (flow_from_json(flow, &info, &err)) {
            continue;
        }
        vm = info.from_port ? info.addr_a : info.addr_b;
        if (is_unicast(vm)) {
            address_set_add(is_ipv4_mapped(vm) ? v4 : v6, vm);
        }
    }
}

static void
put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void
put_eth(uint8_t *frame, const uint8_t dst[6], const uint8_t src[6],
        unsigned type)
{
    memcpy(frame, dst, 6);
    memcpy(frame + 6, src, 6);
    put16(frame + 12, type);
}

/* An ARP-format body at 'p': Ethernet/IPv4, operation 'op'. */
static void
put_arp(uint8_t *p, unsigned op, const uint8_t sha[6], const uint8_t spa[4],
        const uint8_t tha[6], const uint8_t tpa[4])
{
    put16(p, 1);
    put16(p + 2, 0x0800);
    p[4] = 6;
    p[5] = 4;
    put16(p + 6, op);
    memcpy(p + 8, sha, 6);
    memcpy(p + 14, spa, 4);
    memcpy(p + 18, tha, 6);
    memcpy(p + 24, tpa, 4);
}

/* A gratuitous ARP request for 'ip' (sender and target both 'ip',
 * RFC 5227 §3), the form every stack updates its cache from. */
static size_t
build_garp(uint8_t *frame, const uint8_t mac[6], const uint8_t ip[4])
{
    static const uint8_t broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t zero[6];

    memset(frame, 0, ETH_MIN_LEN);
    put_eth(frame, broadcast, mac, ETH_TYPE_ARP);
    put_arp(frame + 14, 1, mac, ip, zero, ip);
    return ETH_MIN_LEN;
}

/* A RARP request (RFC 903) asking for 'mac''s own address: what a
 * hypervisor sends for a VM whose address it does not know. */
static size_t
build_rarp(uint8_t *frame, const uint8_t mac[6])
{
    static const uint8_t broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t zero[4];

    memset(frame, 0, ETH_MIN_LEN);
    put_eth(frame, broadcast, mac, ETH_TYPE_RARP);
    put_arp(frame + 14, 3, mac, zero, mac, zero);
    return ETH_MIN_LEN;
}

/* An unsolicited neighbour advertisement for 'ip' to all nodes, with
 * the override flag and the target link-layer address (RFC 4861 §7.2.6). */
static size_t
build_unsolicited_na(uint8_t *frame, const uint8_t mac[6],
                     const uint8_t ip[16])
{
    static const uint8_t all_nodes_mac[6] = {0x33, 0x33, 0, 0, 0, 1};
    static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 1};
    const size_t icmp_len = 32; /* header, flags, target, one option */
    uint8_t *ip6 = frame + 14;
    uint8_t *icmp = ip6 + 40;
    uint32_t sum = 0;

    memset(frame, 0, 14 + 40 + icmp_len);
    put_eth(frame, all_nodes_mac, mac, ETH_TYPE_IPV6);
    ip6[0] = 0x60;
    put16(ip6 + 4, (unsigned)icmp_len);
    ip6[6] = 58;  /* ICMPv6 */
    ip6[7] = 255; /* hop limit ND requires */
    memcpy(ip6 + 8, ip, 16);
    memcpy(ip6 + 24, all_nodes, 16);
    icmp[0] = 136;  /* neighbour advertisement */
    icmp[4] = 0x20; /* override */
    memcpy(icmp + 8, ip, 16);
    icmp[24] = 2; /* target link-layer address option */
    icmp[25] = 1; /* 8 bytes */
    memcpy(icmp + 26, mac, 6);

    /* Checksum over the pseudo-header and the message. */
    for (int i = 8; i < 40; i += 2) {
        sum += (uint32_t)ip6[i] << 8 | ip6[i + 1];
    }
    sum += (uint32_t)icmp_len + 58;
    for (size_t i = 0; i < icmp_len; i += 2) {
        sum += (uint32_t)icmp[i] << 8 | icmp[i + 1];
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    put16(icmp + 2, ~sum & 0xffff);
    return 14 + 40 + icmp_len;
}

/* The pipeline the control thread sends frames through: the one
 * extensions' injections use (ext-host.c), made on first use. */
static struct vsw_pipeline *
control_pipeline(struct vsw_manager *mgr)
{
    if (!mgr->inject_pl) {
        mgr->inject_pl = vsw_pipeline_create(vsw_datapath_n_workers(mgr->dp));
    }
    return mgr->inject_pl;
}

/* Sends 'frame' into the switch as if 'port''s VM had sent it: the
 * port's ingress policy, learning and forwarding all apply. */
static int
send_from_port(struct vsw_manager *mgr, struct mgr_port *port,
               const uint8_t *frame, size_t len)
{
    struct vsw_pipeline *pl = control_pipeline(mgr);
    struct vsw_ext_frame *f;
    int error;

    if (!pl) {
        return -ENOMEM;
    }
    f = vsw_ext_frame_alloc((uint32_t)len);
    if (!f) {
        return -ENOMEM;
    }
    memcpy(f->data, frame, len);
    error = vsw_pipeline_inject(pl, f, port->id, 0, 0);
    if (!error) {
        vsw_pipeline_run_injected(pl, vsw_datapath_snapshot(mgr->dp),
                                  vsw_time_msec());
    }
    return error;
}

json_t *
mgr_migrate_announce(struct vsw_manager *mgr, struct mgr_port *port,
                     const json_t *flows)
{
    struct address_set v4 = {0}, v6 = {0};
    uint8_t frame[128];
    const uint8_t *mac;
    json_t *ipv4 = json_array();
    json_t *ipv6 = json_array();
    char mac_text[18];
    bool rarp = false;
    int error = 0;

    if (port->cfg.mac.set) {
        mac = port->cfg.mac.addr;
    } else if (port->has_cur_mac) {
        mac = port->cur_mac;
    } else {
        return json_pack("{s:n, s:o, s:o, s:b}", "mac", "ipv4", ipv4, "ipv6",
                         ipv6, "rarp", false);
    }
    snprintf(mac_text, sizeof mac_text, "%02x:%02x:%02x:%02x:%02x:%02x",
             mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);

    known_addresses(port, flows, &v4, &v6);
    for (size_t i = 0; i < v4.n && !error; i++) {
        error = send_from_port(mgr, port, frame,
                               build_garp(frame, mac, v4.addr[i] + 12));
        json_array_append_new(ipv4, address_to_json(v4.addr[i]));
    }
    for (size_t i = 0; i < v6.n && !error; i++) {
        error = send_from_port(mgr, port, frame,
                               build_unsolicited_na(frame, mac, v6.addr[i]));
        json_array_append_new(ipv6, address_to_json(v6.addr[i]));
    }
    if (!v4.n && !v6.n && !error) {
        error = send_from_port(mgr, port, frame, build_rarp(frame, mac));
        rarp = true;
    }
    if (error) {
        VSW_WARN("port %s: announcing %s failed: %s", port->name, mac_text,
                 strerror(-error));
    } else {
        VSW_INFO("port %s: announced %s (%zu IPv4, %zu IPv6 addresses%s)",
                 port->name, mac_text, v4.n, v6.n, rarp ? ", RARP" : "");
    }
    return json_pack("{s:s, s:o, s:o, s:b}", "mac", mac_text, "ipv4", ipv4,
                     "ipv6", ipv6, "rarp", rarp);
}
