/*
 * Tenant networks through etcd: what this host publishes (its VTEP per
 * VNI, the MACs of its VM ports) and what it programs into its tunnels
 * from what the other hosts publish (remote VTEPs per VNI, (VNI, MAC) →
 * VTEP).  The bridge between the etcd client (etcd.c) and the tunnels
 * (tunnel.c, mgr_tunnel_remote_set() / mgr_tunnel_mac_set()).
 *
 * Publishing is a reconciliation, every second: the keys this host
 * should have are computed from the switches (a switch with a tunnel:
 * every VNI of its other ports, the MACs its MAC table learned on them,
 * each TAP's own MAC) and only the difference with what was published
 * goes to the client.  So a port that goes or a MAC that ages out takes
 * its key with it within a second.
 *
 * Programming is a reconciliation too, per tunnel port: what it should
 * have (every remote VTEP and the winning claim of every MAC learned
 * from etcd) against what this module programmed into it; run after a
 * burst of changes from etcd (a zero-time event, so never from inside
 * the client's callbacks) and every second (a tunnel added later gets
 * everything).  A MAC two hosts claim (a VM migrating) goes to the claim
 * with the higher etcd revision.
 *
 * Threads: control thread only.
 */
#include "etcd-tenant.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "etcd.h"
#include "fdb.h"
#include "log.h"
#include "manager-private.h"
#include "timeutil.h"

struct etcd_tenant {
    struct vsw_manager *mgr; /* owner of the tunnels */
    struct vsw_etcd *client; /* the etcd client */
    struct event *tick;      /* 1 s: publish and program */
    struct event *soon;      /* program after changes from etcd */
    long long since;         /* for the host key */
    json_t *published;       /* key → value, as last handed over */
    json_t *vteps;           /* "vni ip" → hosts claiming it (count) */
    json_t *claims;          /* "vni mac" → {host: [ip, revision]} */
    json_t *programmed;      /* port id → {"r vni ip": true,
                                              "m vni mac": ip} */
};

static void
mac_text(const uint8_t mac[6], char text[18])
{
    snprintf(text, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
             mac[3], mac[4], mac[5]);
}

/* The IPv4 address of tunnel 'port' (its local-ip), 0 if none. */
static uint32_t
tunnel_ip(const struct mgr_port *port)
{
    const struct vsw_setting_ip_list *ip = &port->cfg.tunnel.local_ip;
    uint32_t a;

    if (ip->n != 1) {
        return 0;
    }
    memcpy(&a, &ip->addr[0][12], 4); /* IPv4-mapped */
    return a;
}

static struct mgr_port *
switch_tunnel(const struct mgr_switch *sw)
{
    for (struct mgr_port *p = sw->ports; p; p = p->next) {
        if (p->cfg.type == MGR_PORT_VXLAN && tunnel_ip(p)) {
            return p;
        }
    }
    return NULL;
}

/* ---- Publishing ---- */

static void
want_key(json_t *want, const char *key, const char *vtep)
{
    char value[64];

    snprintf(value, sizeof value, "{\"vtep\":\"%s\"}", vtep);
    json_object_set_new(want, key, json_string(value));
}

/* The keys this host should have now (without the host id). */
static json_t *
wanted_keys(struct etcd_tenant *t)
{
    json_t *want = json_object();
    char host_vtep[INET_ADDRSTRLEN] = "";
    char key[128], host[128];

    for (struct mgr_switch *sw = t->mgr->switches; sw; sw = sw->next) {
        struct mgr_port *tunnel = switch_tunnel(sw);
        struct vsw_fdb_entry_info *entries;
        struct in_addr a;
        char ip[INET_ADDRSTRLEN];
        char mac[18];
        size_t n;

        if (!tunnel) {
            continue;
        }
        a.s_addr = tunnel_ip(tunnel);
        inet_ntop(AF_INET, &a, ip, sizeof ip);
        if (!host_vtep[0]) {
            snprintf(host_vtep, sizeof host_vtep, "%s", ip);
        }
        for (struct mgr_port *p = sw->ports; p; p = p->next) {
            if (p->cfg.type == MGR_PORT_VXLAN || !p->cfg.vni) {
                continue;
            }
            snprintf(key, sizeof key, "vni/%u/vteps/", p->cfg.vni);
            if (!json_object_get(want, key)) {
                want_key(want, key, ip);
            }
            if (p->cfg.type == MGR_PORT_TAP && p->has_cur_mac) {
                mac_text(p->cur_mac, mac);
                snprintf(key, sizeof key, "vni/%u/macs/%s/", p->cfg.vni, mac);
                want_key(want, key, ip);
            }
        }
        entries = calloc(sw->cfg.mac_table_size, sizeof *entries);
        if (!entries) {
            continue;
        }
        n = vsw_fdb_dump(sw->fdb, entries, sw->cfg.mac_table_size,
                         vsw_time_msec());
        for (size_t i = 0; i < n; i++) {
            const struct mgr_port *p =
                t->mgr->by_slot[VSW_FDB_SLOT(entries[i].port_id)];

            if (!entries[i].vni || !p || p->id != entries[i].port_id ||
                p->cfg.type == MGR_PORT_VXLAN) {
                continue; /* not a local VM's */
            }
            mac_text(entries[i].mac, mac);
            snprintf(key, sizeof key, "vni/%u/macs/%s/", entries[i].vni, mac);
            want_key(want, key, ip);
        }
        free(entries);
    }
    if (host_vtep[0]) {
        snprintf(host, sizeof host, "{\"since\":%lld,\"vtep\":\"%s\"}",
                 t->since, host_vtep);
    } else {
        snprintf(host, sizeof host, "{\"since\":%lld}", t->since);
    }
    json_object_set_new(want, "hosts/", json_string(host));
    return want;
}

static void
publish_all(struct etcd_tenant *t)
{
    json_t *want = wanted_keys(t);
    const char *key;
    json_t *value;
    void *tmp;

    json_object_foreach_safe(t->published, tmp, key, value)
    {
        if (!json_object_get(want, key)) {
            vsw_etcd_publish(t->client, key, NULL);
            json_object_del(t->published, key);
        }
    }
    json_object_foreach(want, key, value)
    {
        json_t *old = json_object_get(t->published, key);

        if (!old || !json_equal(old, value)) {
            vsw_etcd_publish(t->client, key, json_string_value(value));
            json_object_set(t->published, key, value);
        }
    }
    json_decref(want);
}

/* ---- Programming ---- */

/* What every tunnel should have: "r VNI IP" → true, "m VNI MAC" → IP. */
static json_t *
wanted_program(const struct etcd_tenant *t)
{
    json_t *want = json_object();
    const char *key;
    json_t *value;
    char k[64];

    json_object_foreach(t->vteps, key, value)
    {
        snprintf(k, sizeof k, "r %s", key);
        json_object_set_new(want, k, json_true());
    }
    json_object_foreach(t->claims, key, value)
    {
        const char *host;
        json_t *claim, *best = NULL;

        json_object_foreach(value, host, claim)
        {
            if (!best || json_integer_value(json_array_get(claim, 1)) >
                             json_integer_value(json_array_get(best, 1))) {
                best = claim;
            }
        }
        if (best) {
            snprintf(k, sizeof k, "m %s", key);
            json_object_set(want, k, json_array_get(best, 0));
        }
    }
    return want;
}

/* Programs entry 'key' ("r VNI IP" or "m VNI MAC") with 'ip' (for a MAC)
 * into 'tunnel', or removes it. */
static void
program_one(struct vsw_manager *mgr, struct mgr_port *tunnel, const char *key,
            uint32_t ip, bool present)
{
    unsigned vni, m[6];
    char text[INET_ADDRSTRLEN];
    struct in_addr a;

    if (key[0] == 'r' && sscanf(key + 2, "%u %15s", &vni, text) == 2 &&
        inet_pton(AF_INET, text, &a) == 1) {
        mgr_tunnel_remote_set(mgr, tunnel, vni, a.s_addr, present);
    } else if (key[0] == 'm' &&
               sscanf(key + 2, "%u %x:%x:%x:%x:%x:%x", &vni, &m[0], &m[1],
                      &m[2], &m[3], &m[4], &m[5]) == 7) {
        uint8_t mac[6];

        for (int i = 0; i < 6; i++) {
            mac[i] = (uint8_t)m[i];
        }
        mgr_tunnel_mac_set(mgr, tunnel, vni, mac, ip, present);
    }
}

static uint32_t
ip_of(const json_t *value)
{
    struct in_addr a = {0};

    if (json_is_string(value)) {
        inet_pton(AF_INET, json_string_value(value), &a);
    }
    return a.s_addr;
}

static void
program_tunnel(struct etcd_tenant *t, struct mgr_port *tunnel,
               const json_t *want, bool remove_all)
{
    char id[16];
    json_t *done;
    const char *key;
    json_t *value;
    void *tmp;

    snprintf(id, sizeof id, "%u", tunnel->id);
    done = json_object_get(t->programmed, id);
    if (!done) {
        done = json_object();
        json_object_set_new(t->programmed, id, done);
    }
    json_object_foreach_safe(done, tmp, key, value)
    {
        if (remove_all || !json_object_get(want, key)) {
            program_one(t->mgr, tunnel, key, ip_of(value), false);
            json_object_del(done, key);
        }
    }
    if (remove_all) {
        return;
    }
    json_object_foreach((json_t *)want, key, value)
    {
        json_t *old = json_object_get(done, key);

        if (!old || !json_equal(old, value)) {
            program_one(t->mgr, tunnel, key, ip_of(value), true);
            json_object_set(done, key, value);
        }
    }
}

static struct mgr_port *
port_by_id(struct vsw_manager *mgr, uint32_t id)
{
    struct mgr_port *p = mgr->by_slot[VSW_FDB_SLOT(id)];

    return p && p->id == id ? p : NULL;
}

static void
program_all(struct etcd_tenant *t, bool remove_all)
{
    json_t *want = remove_all ? json_object() : wanted_program(t);
    const char *id;
    json_t *value;
    void *tmp;

    /* Forget tunnels that went (their state went with them). */
    json_object_foreach_safe(t->programmed, tmp, id, value)
    {
        struct mgr_port *p = port_by_id(t->mgr, (uint32_t)atoll(id));

        if (!p || p->cfg.type != MGR_PORT_VXLAN) {
            json_object_del(t->programmed, id);
        }
    }
    for (struct mgr_switch *sw = t->mgr->switches; sw; sw = sw->next) {
        for (struct mgr_port *p = sw->ports; p; p = p->next) {
            if (p->cfg.type == MGR_PORT_VXLAN) {
                program_tunnel(t, p, want, remove_all);
            }
        }
    }
    json_decref(want);
}

/* ---- Events ---- */

static void
listener(void *t_, const struct vsw_etcd_mapping *m, bool present)
{
    static const struct timeval now = {0, 0};
    struct etcd_tenant *t = t_;
    char ip[INET_ADDRSTRLEN], key[64], mac[18];

    if (!m->has_vtep) {
        return;
    }
    inet_ntop(AF_INET, &m->vtep, ip, sizeof ip);
    if (m->kind == VSW_ETCD_VTEP) {
        json_int_t n;

        snprintf(key, sizeof key, "%u %s", m->vni, ip);
        n = json_integer_value(json_object_get(t->vteps, key)) +
            (present ? 1 : -1);
        if (n > 0) {
            json_object_set_new(t->vteps, key, json_integer(n));
        } else {
            json_object_del(t->vteps, key);
        }
    } else if (m->kind == VSW_ETCD_MAC) {
        json_t *hosts;

        mac_text(m->mac, mac);
        snprintf(key, sizeof key, "%u %s", m->vni, mac);
        hosts = json_object_get(t->claims, key);
        if (present) {
            if (!hosts) {
                hosts = json_object();
                json_object_set_new(t->claims, key, hosts);
            }
            json_object_set_new(
                hosts, m->host,
                json_pack("[sI]", ip, (json_int_t)m->mod_revision));
        } else if (hosts) {
            json_object_del(hosts, m->host);
            if (!json_object_size(hosts)) {
                json_object_del(t->claims, key);
            }
        }
    } else {
        return;
    }
    evtimer_add(t->soon, &now);
}

static void
soon_cb(evutil_socket_t fd, short what, void *t_)
{
    (void)fd;
    (void)what;
    program_all(t_, false);
}

static void
tick_cb(evutil_socket_t fd, short what, void *t_)
{
    (void)fd;
    (void)what;
    publish_all(t_);
    program_all(t_, false);
}

struct etcd_tenant *
etcd_tenant_create(struct vsw_manager *mgr, struct vsw_etcd *client)
{
    struct etcd_tenant *t = calloc(1, sizeof *t);
    struct timeval second = {1, 0};

    if (!t) {
        return NULL;
    }
    t->mgr = mgr;
    t->client = client;
    t->since = (long long)time(NULL);
    t->published = json_object();
    t->vteps = json_object();
    t->claims = json_object();
    t->programmed = json_object();
    t->tick = event_new(mgr->base, -1, EV_PERSIST, tick_cb, t);
    t->soon = evtimer_new(mgr->base, soon_cb, t);
    if (!t->published || !t->vteps || !t->claims || !t->programmed ||
        !t->tick || !t->soon) {
        etcd_tenant_destroy(t, false);
        return NULL;
    }
    event_add(t->tick, &second);
    vsw_etcd_set_listener(client, listener, t);
    publish_all(t);
    return t;
}

void
etcd_tenant_destroy(struct etcd_tenant *t, bool unprogram)
{
    if (!t) {
        return;
    }
    if (unprogram) {
        program_all(t, true);
    }
    if (t->tick) {
        event_free(t->tick);
    }
    if (t->soon) {
        event_free(t->soon);
    }
    json_decref(t->published);
    json_decref(t->vteps);
    json_decref(t->claims);
    json_decref(t->programmed);
    free(t);
}
