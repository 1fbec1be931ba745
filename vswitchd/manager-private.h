/*
 * Internals of the switch manager shared by manager.c (the model and how
 * it reaches the kernel, the datapath and the config file) and
 * manager-rpc.c (the JSON-RPC methods).  Not for other modules.
 */
#ifndef VSW_MANAGER_PRIVATE_H
#define VSW_MANAGER_PRIVATE_H 1

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "datapath.h"
#include "manager.h"

enum mgr_port_type {
    MGR_PORT_TAP,
    MGR_PORT_UPLINK,
};

#define MGR_MAX_ALLOWED_IPS 64

/* A port's guards (FEATURES.md §4); all off by default. */
struct mgr_guard_cfg {
    bool mac_spoofing;      /* may send from MACs other than its own */
    bool dhcp_guard;        /* drop DHCP server messages it sends */
    bool router_guard;      /* drop router advertisements, redirects */
    bool ieee_priority_tag; /* keep the 802.1p priority it sets */
    uint32_t storm_limit;   /* broadcast+multicast+unknown pps, 0 off */
    unsigned n_allowed_ips; /* IP guard: addresses in 'allowed_ips', 0
                               = off */
    uint8_t allowed_ips[MGR_MAX_ALLOWED_IPS][16]; /* IPv4-mapped or v6 */
};

/* What the user asked for one port: everything that is saved. */
struct mgr_port_cfg {
    enum mgr_port_type type;     /* tap or uplink */
    char ifname[IFNAMSIZ];       /* interface created (tap) or attached
                                    (uplink) */
    bool has_mac;                /* 'mac' was given */
    uint8_t mac[6];              /* MAC given to a new TAP device */
    struct vsw_vlan_config vlan; /* VLAN mode and membership */
    uint32_t mac_limit;          /* MAC table entries, 0 = switch cap */
    bool offloads;               /* uplink: pass GSO segments whole */
    struct mgr_guard_cfg guard;  /* port security guards */
};

struct mgr_switch;

/* A basic ACL rule of a port ("both" is two of these). */
struct mgr_acl {
    struct mgr_acl *next;               /* next rule of the port */
    struct vsw_acl_rule rule;           /* rule.id: unique in the port */
    struct vsw_rule_counters *counters; /* shared with the datapath */
};

/* An extended ACL rule; (direction, weight) is its key. */
struct mgr_xacl {
    struct mgr_xacl *next;              /* next rule of the port */
    struct vsw_xacl_rule rule;          /* as configured */
    struct vsw_rule_counters *counters; /* shared with the datapath */
};

struct mgr_port {
    char name[VSW_NAME_MAX]; /* unique across the daemon */
    struct mgr_switch *sw;   /* owner */
    struct mgr_port *next;   /* next port of 'sw' */
    struct mgr_port_cfg cfg; /* settings */
    uint32_t id;             /* datapath id (slot in low bits) */
    struct vsw_port_rt *rt;  /* runtime, NULL while the device is
                                missing */
    /* Where the TAP device is now, so that a restarted daemon finds it
     * even after its owner moved or renamed it. */
    bool netns_pinned;         /* lives in another namespace, pinned
                                  at netns/<name> in the state dir */
    ino_t netns_ino;           /* inode of that namespace */
    char cur_ifname[IFNAMSIZ]; /* name it has there */
    int cur_ifindex;           /* its index there, 0 if unknown */
    bool has_cur_mac;          /* cur_mac is known */
    uint8_t cur_mac[6];        /* its MAC, to find it after a rename */
    char last_error[128];      /* why the device is missing, or "" */
    struct mgr_acl *acls;      /* basic ACL rules, in the order added */
    struct mgr_xacl *xacls;    /* extended ACL rules */
    uint32_t next_acl_id;      /* id for the next basic rule */
};

struct mgr_switch {
    char name[VSW_NAME_MAX];      /* unique across the daemon */
    struct mgr_switch *next;      /* next switch of the manager */
    uint32_t mac_ageing;          /* seconds */
    uint32_t mac_table_size;      /* switch-wide MAC cap */
    bool ipv6_unknown_nh_allowed; /* RFC 7113 knob for the guards */
    struct vsw_fdb *fdb;          /* shared with the datapath */
    struct mgr_port *ports;       /* in creation order */
    struct vsw_ext_switch *exts;  /* extensions enabled on it, in order */
};

struct vsw_manager {
    struct event_base *base;           /* control thread's loop */
    char state_dir[PATH_MAX];          /* where config.json and netns/ live */
    char config_path[PATH_MAX];        /* state_dir/config.json */
    struct vsw_datapath *dp;           /* workers */
    struct vsw_conntrack *conntrack;   /* flow state of stateful ACLs */
    struct mgr_retired *retired;       /* objects to free after the next
                                          publish, oldest first */
    struct mgr_retired **retired_tail; /* where the next one goes */
    struct mgr_switch *switches;       /* in creation order */
    struct mgr_port *by_slot[VSW_MAX_PORTS]; /* port owning each slot,
                                                also while it is being
                                                torn down */
    uint32_t next_generation;       /* high bits of the next port id */
    ino_t own_netns_ino;            /* the daemon's network namespace */
    struct event *tick;             /* 1 s: ageing, TAP tracking, retries,
                                       queue rebalancing */
    int64_t last_tick_ms;           /* when 'tick' last ran */
    bool busy_poll;                 /* workers spin (reported by dp.show) */
    struct vsw_pipeline *trace_pl;  /* pipeline for traces, made on first
                                       use */
    struct vsw_packet *trace_pkt;   /* its packet buffer */
    struct event *reclaim;          /* runs deferred frees */
    struct event *link_event;       /* rtnetlink link notifications */
    struct nl_sock *link_sock;      /* socket behind 'link_event' */
    char socket_path[PATH_MAX];     /* for system.status */
    long long start_time_ms;        /* for system.status */
    struct vsw_ext_handle *exts;    /* loaded extensions, in load order */
    struct vsw_rpc_server *rpc;     /* for extensions' own methods */
    struct vsw_pipeline *inject_pl; /* sends frames extensions inject from
                                       the control thread */
    char ext_marker[PATH_MAX];      /* STATE/ext-crash */
};

/* For RPC handlers: the switch or port named by param 'key' of
 * 'params'.  Returns 0, or fills 'err' (missing, not a string, or no such
 * name). */
int mgr_rpc_get_switch(struct vsw_manager *, json_t *params, const char *key,
                       struct mgr_switch **swp, struct vsw_rpc_error *err);
int mgr_rpc_get_port(struct vsw_manager *, json_t *params, const char *key,
                     struct mgr_port **portp, struct vsw_rpc_error *err);

/* Lookups by name; NULL if there is none. */
struct mgr_switch *mgr_find_switch(struct vsw_manager *, const char *name);
struct mgr_port *mgr_find_port(struct vsw_manager *, const char *name);

/* Operations behind the RPC methods.  Each validates first, returns 0 or
 * a negative value after filling 'err', and changes nothing on
 * failure. */
int mgr_switch_add(struct vsw_manager *, json_t *params,
                   struct mgr_switch **swp, struct vsw_rpc_error *err);
int mgr_switch_set(struct vsw_manager *, struct mgr_switch *sw, json_t *params,
                   struct vsw_rpc_error *err);
int mgr_switch_del(struct vsw_manager *, struct mgr_switch *sw,
                   struct vsw_rpc_error *err);
int mgr_port_add(struct vsw_manager *, struct mgr_switch *sw, json_t *params,
                 struct mgr_port **portp, struct vsw_rpc_error *err);
int mgr_port_set(struct vsw_manager *, struct mgr_port *port, json_t *params,
                 struct vsw_rpc_error *err);
int mgr_port_del(struct vsw_manager *, struct mgr_port *port,
                 struct vsw_rpc_error *err);

/* JSON views shared by the API and the config file. */
json_t *mgr_switch_to_json(const struct mgr_switch *sw);
json_t *mgr_port_to_json(const struct vsw_manager *,
                         const struct mgr_port *port);

/* MAC text "02:00:00:00:00:01" to bytes: 0 or -EINVAL. */
int mgr_parse_mac(const char *s, uint8_t mac[6]);
void mgr_format_mac(const uint8_t mac[6], char buf[18]);

/* Parses a comma-separated list of IPv4/IPv6 addresses into the IP
 * guard of 'guard'.  Returns 0 or fills 'err'. */
int mgr_parse_ip_list(const char *text, struct mgr_guard_cfg *guard,
                      struct vsw_rpc_error *err);

/* Builds the private VLAN map of 'sw' into 'map', as if port 'changed'
 * (may be NULL) had configuration 'candidate'.  Fails, filling 'err', if
 * two ports contradict each other (a secondary both isolated and
 * community, or in two primaries). */
int mgr_pvlan_map_build(const struct mgr_switch *sw,
                        const struct mgr_port *changed,
                        const struct mgr_port_cfg *candidate,
                        struct vsw_pvlan_map *map, struct vsw_rpc_error *err);

/* Frees 'arg' with 'fn' once no worker can use it: after the next
 * snapshot is published (it no longer names the object) and a grace
 * period has passed.  Every change that retires something publishes. */
void mgr_retire(struct vsw_manager *, void (*fn)(void *arg), void *arg);

/* ACLs (manager-acl.c). */

/* Builds the datapath policy of 'port' for a new snapshot, or NULL when
 * the port has neither guards nor ACLs.  On allocation failure sets
 * '*error'. */
struct vsw_port_policy *mgr_port_policy_build(const struct vsw_manager *,
                                              const struct mgr_port *port,
                                              int *error);

/* Adds the saved ACLs of 'obj' (a port object of config.json) to 'port'
 * at restore.  Returns 0, or -1 after logging what it left out. */
int mgr_acls_restore(struct vsw_manager *, struct mgr_port *port, json_t *obj);

/* Adds "acls" and "xacls" of 'port' to 'obj', as config.json keeps them
 * ('with_counters' for the API). */
void mgr_acls_to_json(const struct mgr_port *port, json_t *obj,
                      bool with_counters);

/* Frees the rules of 'port' (their counters through a grace period). */
void mgr_acls_destroy(struct vsw_manager *, struct mgr_port *port);

/* Registers acl.* and xacl.*. */
int mgr_acl_register_rpc(struct vsw_manager *, struct vsw_rpc_server *);

/* Saves the configuration and publishes a snapshot; on a failed save
 * fills 'err' and returns -1 (used by the ACL methods). */
int mgr_commit(struct vsw_manager *, struct vsw_rpc_error *err);

/* Keeps the TAP location of 'port' current (namespace pin, name);
 * returns true if it changed. */
bool mgr_port_track(struct vsw_manager *, struct mgr_port *port);

/* Extensions (manager-ext.c). */

/* Starts the crash handler and watchdog and quarantines the extension a
 * crash marker names.  Returns 0 or a negative errno. */
int mgr_ext_init(struct vsw_manager *);

/* Loads the extensions 'root' (config.json) lists and enables them on
 * their switches, as saved. */
void mgr_ext_restore(struct vsw_manager *, json_t *root);

/* True if a crash marker quarantined an extension at this start: the
 * configuration must be saved, so that it stays quarantined. */
bool mgr_ext_quarantined_at_start(const struct vsw_manager *);

/* Loads every *.so in directory 'dir' not loaded yet. */
void mgr_ext_load_dir(struct vsw_manager *, const char *dir);

/* config.json's top-level "extensions", and a switch's. */
json_t *mgr_ext_to_json(const struct vsw_manager *);
json_t *mgr_ext_switch_to_json(const struct mgr_switch *sw);

/* Fills the extensions of 'dsw' for a new snapshot. */
void mgr_ext_fill_switch(const struct mgr_switch *sw,
                         struct vsw_dp_switch *dsw);

/* Asks the extensions enabled on 'sw' whether port 'port' may be created
 * or changed (VSW_EXT_PORT_*) as 'params' says.  Returns 0, or -1 after
 * filling 'err' with the veto. */
int mgr_ext_port_check(struct vsw_manager *, const struct mgr_switch *sw,
                       const char *port, uint32_t kind, json_t *params,
                       struct vsw_rpc_error *err);

/* Disables every extension on 'sw' (it is being deleted). */
void mgr_ext_switch_destroy(struct vsw_manager *, struct mgr_switch *sw);

/* Once a second: the circuit breakers, deferred frees from workers. */
void mgr_ext_tick(struct vsw_manager *);

/* Stops every extension and calls 'fini' (daemon shutdown). */
void mgr_ext_shutdown(struct vsw_manager *);

/* Registers ext.* and the extensions' own methods. */
int mgr_ext_register_rpc(struct vsw_manager *, struct vsw_rpc_server *);

#endif /* VSW_MANAGER_PRIVATE_H */
