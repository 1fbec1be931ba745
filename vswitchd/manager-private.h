/*
 * Internals of the switch manager, shared by the files of vswitchd/ that
 * hold its model: one file per noun (switch.c, port.c, pvlan.c,
 * tap-track.c, manager-acl.c, manager-xacl.c, manager-ext.c), the
 * configuration file (config.c), the transaction that commits a change
 * (txn.c), and the timers and link events (tick.c, link-monitor.c).  Not for
 * other modules.
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
#include "settings.h"

enum mgr_port_type {
    MGR_PORT_TAP,
    MGR_PORT_UPLINK,
    MGR_PORT_VXLAN,      /* a VXLAN tunnel (tunnel.c) */
    MGR_PORT_TEAM,       /* made by team.add only (team.c) */
    MGR_PORT_VHOST_USER, /* vhost-user (vhost-port.c) */
};

/* A VXLAN tunnel port's own settings (tunnel.c). */
struct mgr_tunnel_cfg {
    struct vsw_setting_ip_list local_ip; /* our VTEP address (one IPv4) */
    uint32_t dst_port;                   /* UDP port, 4789 */
    char underlay[IFNAMSIZ];             /* MTU from this interface, ""
                                            for the one with local_ip */
    struct vsw_setting_vtep_list remote; /* static remote VTEPs per VNI */
    bool learn_unknown_vteps;            /* accept any VTEP and learn it */
};

/* A NIC team's settings (FEATURES.md §9): the team settings table,
 * team.c.  The values of the enums are balance.h's. */
struct mgr_team_cfg {
    struct vsw_setting_ifname_list members; /* the uplinks it joins */
    int mode;                               /* enum vsw_team_mode */
    int lb;                                 /* enum vsw_team_lb */
    int lacp_rate;                          /* 0 fast, 1 slow */
    char standby[IFNAMSIZ];  /* the standby member, "" for none */
    bool rx_balance;         /* receive load balancing (ARP) */
    uint32_t flowlet_gap_us; /* lb=dynamic: the pause that ends a flowlet */
};

/* A port's guards (FEATURES.md §4); all off by default. */
struct mgr_guard_cfg {
    bool mac_spoofing;      /* may send from MACs other than its own */
    bool dhcp_guard;        /* drop DHCP server messages it sends */
    bool router_guard;      /* drop router advertisements, redirects */
    bool ieee_priority_tag; /* keep the 802.1p priority it sets */
    uint32_t storm_limit;   /* broadcast+multicast+unknown pps, 0 off */
    struct vsw_setting_ip_list allowed_ips; /* IP guard; empty = off */
};

/* A port's maximum bandwidth (FEATURES.md §5; datapath/qos/shaper.c). */
struct mgr_qos_cfg {
    uint64_t max_bandwidth;    /* bit/s the port sends, 0 off */
    uint64_t max_bandwidth_in; /* bit/s sent to the port, 0 off */
    uint32_t max_burst;        /* bytes, 0 automatic */
};

/* Rounds the rates of 'qos' down to multiples of 8 (a non-zero rate to
 * at least 8).  Returns 0, or -1 with 'err' set for what the settings
 * table cannot check. */
int mgr_qos_cfg_check(struct mgr_qos_cfg *qos, struct vsw_rpc_error *err);

/* A vhost-user port's socket (vhost-port.c). */
struct mgr_vhost_cfg {
    char socket[108];      /* unix socket path */
    bool client;           /* vhost-mode: connect (client) or listen */
    char socket_group[33]; /* server: group that may connect, "" none */
};

/* What the user asked for one port: everything that is saved.  Each
 * member is filled by a row of the port settings table (port.c), except
 * where noted. */
struct mgr_port_cfg {
    enum mgr_port_type type;     /* tap or uplink */
    char ifname[IFNAMSIZ];       /* interface created (tap) or attached
                                    (uplink) */
    struct vsw_setting_mac mac;  /* MAC given to a new TAP device */
    struct vsw_vlan_config vlan; /* VLAN mode and membership;
                                    'pvlan_secondary' is derived */
    uint32_t mac_limit;          /* MAC table entries, 0 = switch cap */
    bool offloads;               /* uplink: pass GSO segments whole */
    bool flood;                  /* receives flooded frames */
    struct mgr_guard_cfg guard;  /* port security guards */
    enum vsw_mirror_role mirror; /* mirroring: none, source, destination */
    uint32_t min_bw_weight;      /* QoS: weight on scheduled uplinks,
                                    0 = the default flow */
    uint64_t min_bw_absolute;    /* QoS: guaranteed bit/s there, 0 = the
                                    default flow */
    uint64_t link_speed;         /* QoS, uplink: its capacity in bit/s,
                                    0 = unknown (not scheduled) */
    bool metering;               /* meters count (metering.c) */
    struct mgr_qos_cfg qos;      /* maximum bandwidth */
    uint32_t vni;                /* tenant network (VXLAN VNI), 0 none */
    /* Type vxlan: the tunnel's own settings (tunnel.c). */
    struct mgr_tunnel_cfg tunnel;
    struct mgr_team_cfg team;   /* type team: the team's settings, filled
                                   by the team table (team.c), not the
                                   port table */
    struct mgr_vhost_cfg vhost; /* vhost-user: socket (vhost-port.c) */
};

/* What a port's minimum bandwidth means on a switch (FEATURES.md §5). */
enum mgr_min_bw_mode {
    MGR_MIN_BW_WEIGHT,   /* min-bandwidth-weight, 1..100 */
    MGR_MIN_BW_ABSOLUTE, /* min-bandwidth-absolute, bit/s */
    MGR_MIN_BW_NONE,     /* no minimums, uplinks not scheduled */
};

/* What the user asked for one switch (the switch settings table,
 * switch.c). */
struct mgr_switch_cfg {
    uint32_t mac_ageing;              /* seconds */
    uint32_t mac_table_size;          /* switch-wide MAC cap */
    bool ipv6_unknown_nh_allowed;     /* RFC 7113 knob for the guards */
    enum mgr_min_bw_mode min_bw_mode; /* fixed at creation */
    uint32_t metering_save_interval;  /* seconds between saves of
                                         metering.json (metering.c) */
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

struct mgr_tunnel_state;

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
    struct vsw_sched *sched;   /* QoS, uplink or team: its minimum-bandwidth
                                  scheduler (qos-sched.c), or NULL */
    const struct vsw_port_rt *sched_rt; /* the runtime 'sched' sends for */

    struct mgr_port_meters *meters; /* metering.c's; NULL: never metered */

    /* Type vxlan: what other modules programmed (tunnel.c), or NULL. */
    struct mgr_tunnel_state *tunnel_state;
    struct mgr_team *team; /* type team: its members' state
                              (team.c), NULL until opened */
};

struct mgr_switch {
    char name[VSW_NAME_MAX];     /* unique across the daemon */
    struct mgr_switch *next;     /* next switch of the manager */
    struct mgr_switch_cfg cfg;   /* settings */
    struct vsw_fdb *fdb;         /* shared with the datapath */
    struct mgr_port *ports;      /* in creation order */
    struct vsw_ext_switch *exts; /* extensions enabled on it, in order */
    uint64_t mirror_full;        /* mirror destinations refused at the
                                    bound (port-mirror.c) */
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
    char pidfile[PATH_MAX];         /* for system.stop, "" if unknown */
    struct mgr_txn *txn;            /* the transaction being run
                                       (transact.c), NULL outside one */
    struct mgr_captures *captures;  /* capture sessions (capture.c), NULL
                                       until the methods are registered */
    struct mgr_metering *metering;  /* metering.json state (metering.c),
                                       NULL until restored */
    struct mgr_etcd *etcd;          /* etcd configuration and client
                                       (etcd-sync.c), NULL if never used */
    struct mgr_bounds *bounds;      /* what bounds.c logged, NULL until
                                       the first tick */
};

/* The manager (manager.c): lookups and names. */

/* For RPC handlers: the switch or port named by param 'key' of
 * 'params'.  Returns 0, or fills 'err' (missing, not a string, or no such
 * name). */
int mgr_rpc_get_switch(struct vsw_manager *, json_t *params, const char *key,
                       struct mgr_switch **swp, struct vsw_rpc_error *err);
int mgr_rpc_get_port(struct vsw_manager *, json_t *params, const char *key,
                     struct mgr_port **portp, struct vsw_rpc_error *err);

/* How a deletion finds its port: mgr_rpc_get_port(), or a kind's own
 * lookup that refuses ports of other kinds. */
typedef int mgr_port_getter(struct vsw_manager *, json_t *params,
                            const char *key, struct mgr_port **portp,
                            struct vsw_rpc_error *err);

/* port.del and the kinds' deletions (team.del): the port "name" names,
 * found by 'get_port'; with "if-exists", a missing one is no error.  In
 * a transaction the deletion is deferred to its commit. */
int mgr_rpc_port_del(struct vsw_manager *, json_t *params,
                     mgr_port_getter *get_port, struct vsw_rpc_error *err);

/* Lookups by name; NULL if there is none. */
struct mgr_switch *mgr_find_switch(struct vsw_manager *, const char *name);
struct mgr_port *mgr_find_port(struct vsw_manager *, const char *name);

/* Checks that 'name' may name a switch or port ('what'): it ends up in
 * file names (netns pins) and command lines.  Returns 0 or fills 'err'. */
int mgr_check_name(const char *what, const char *name,
                   struct vsw_rpc_error *err);

/* Switches (switch.c). */

extern const struct vsw_settings_kind mgr_switch_kind;

/* Operations behind the RPC methods.  Each validates first, returns 0 or
 * a negative value after filling 'err', and changes nothing on
 * failure. */
int mgr_switch_add(struct vsw_manager *, json_t *params,
                   struct mgr_switch **swp, struct vsw_rpc_error *err);
int mgr_switch_set(struct vsw_manager *, struct mgr_switch *sw, json_t *params,
                   struct vsw_rpc_error *err);
int mgr_switch_del(struct vsw_manager *, struct mgr_switch *sw,
                   struct vsw_rpc_error *err);

/* Creates switch 'name' with settings 'cfg' in memory (no save, no
 * publish), at the end of the list. */
int mgr_switch_create(struct vsw_manager *, const char *name,
                      const struct mgr_switch_cfg *cfg,
                      struct mgr_switch **swp, struct vsw_rpc_error *err);

/* Unlinks 'sw' and its ports and schedules their teardown (no save). */
void mgr_switch_destroy(struct vsw_manager *, struct mgr_switch *sw,
                        bool remove_devices);

/* The switch as get and list show it. */
json_t *mgr_switch_to_json(const struct mgr_switch *sw);

/* Registers switch.*. */
int mgr_switch_register_rpc(struct vsw_manager *, struct vsw_rpc_server *);

/* Ports (port.c). */

extern const struct vsw_settings_kind mgr_port_kind;

int mgr_port_add(struct vsw_manager *, struct mgr_switch *sw, json_t *params,
                 struct mgr_port **portp, struct vsw_rpc_error *err);
int mgr_port_set(struct vsw_manager *, struct mgr_port *port, json_t *params,
                 struct vsw_rpc_error *err);
int mgr_port_del(struct vsw_manager *, struct mgr_port *port,
                 struct vsw_rpc_error *err);

/* Fills 'cfg' for a new port 'name' from the settings in 'params' (as
 * port.add takes them; other keys are refused).  Pure: used by port.add
 * and by the config loader.  Returns 0 or fills 'err'. */
int mgr_port_cfg_from_params(const json_t *params, const char *name,
                             struct mgr_port_cfg *cfg,
                             struct vsw_rpc_error *err);

/* Adds port 'name' with settings 'cfg' to 'sw' and opens its device
 * ('restore': reattach to an existing TAP, first where 'location' says).
 * A port whose device cannot be opened at restore is kept, with the
 * error, and retried.  No save, no publish. */
int mgr_port_create(struct vsw_manager *, struct mgr_switch *sw,
                    const char *name, const struct mgr_port_cfg *cfg,
                    bool restore, json_t *location, struct mgr_port **portp,
                    struct vsw_rpc_error *err);

/* Unlinks 'port' from its switch (the caller publishes afterwards) and
 * schedules its teardown. */
void mgr_port_destroy(struct vsw_manager *, struct mgr_port *port,
                      bool remove_device);

/* The settings of 'port' as config.json keeps them, and the port as get
 * and list show it (settings and state). */
json_t *mgr_port_settings_to_json(const struct mgr_port *port);
json_t *mgr_port_to_json(const struct vsw_manager *,
                         const struct mgr_port *port);

/* True if 'port' has guards or ACLs for the datapath to apply. */
bool mgr_port_needs_policy(const struct mgr_port *port);

/* Registers port.*. */
int mgr_port_register_rpc(struct vsw_manager *, struct vsw_rpc_server *);

/* Private VLANs (pvlan.c). */

/* Builds the private VLAN map of 'sw' into 'map', as if port 'changed'
 * (may be NULL) had configuration 'candidate'.  Fails, filling 'err', if
 * two ports contradict each other (a secondary both isolated and
 * community, or in two primaries). */
int mgr_pvlan_map_build(const struct mgr_switch *sw,
                        const struct mgr_port *changed,
                        const struct mgr_port_cfg *candidate,
                        struct vsw_pvlan_map *map, struct vsw_rpc_error *err);

/* Port mirroring (port-mirror.c): refuses 'cfg' for 'port' (NULL: a
 * new port) of 'sw' when it would be one mirror destination too many,
 * counting the refusal in 'sw->mirror_full'. */
int mgr_mirror_check(struct mgr_switch *sw, const struct mgr_port *port,
                     const struct mgr_port_cfg *cfg,
                     struct vsw_rpc_error *err);

/* Fails, filling 'err', if the switch's private VLANs would contradict
 * each other with port 'port' (NULL: a new port named 'new_name') set to
 * 'cfg'. */
int mgr_pvlan_check_conflicts(const struct mgr_switch *sw,
                              const struct mgr_port *port,
                              const char *new_name,
                              const struct mgr_port_cfg *cfg,
                              struct vsw_rpc_error *err);

/* TAP devices (tap-track.c). */

/* Opens the device of 'port'; the next mgr_publish() starts polling it.
 * 'restore' allows
 * reattaching to an existing TAP, first where 'location' (may be NULL)
 * says it was, then by its configured name in the daemon's namespace.
 * Returns 0 or a negative errno. */
int mgr_port_open_device(struct vsw_manager *, struct mgr_port *port,
                         bool restore, json_t *location);

/* Keeps the TAP location of 'port' current (namespace pin, name);
 * returns true if it changed. */
bool mgr_port_track(struct vsw_manager *, struct mgr_port *port);

/* vhost-user ports (vhost-port.c). */
int mgr_vhost_cfg_check(const struct mgr_port_cfg *, struct vsw_rpc_error *);
int mgr_vhost_open(struct vsw_manager *, struct mgr_port *,
                   struct vsw_netdev **netdevp);
void mgr_vhost_to_json(const struct mgr_port *, json_t *obj);

/* Tracks every port, and saves the configuration if any moved. */
void mgr_track_all(struct vsw_manager *);

/* Deleting the TAPs of removed ports together (tap-track.c): a port's
 * teardown hands its runtime to mgr_tap_doom() (false: out of memory,
 * destroy it alone); mgr_port_destroy() calls mgr_tap_delete_later() so
 * the next publish, which takes mgr_tap_take_reap_due(), defers
 * mgr_tap_reap() behind the teardowns: it deletes the devices of every
 * doomed runtime at once and destroys the runtimes; a runtime doomed
 * alone has its TAP hidden (renamed) and closed by the reaper thread. */
void mgr_tap_delete_later(void);
bool mgr_tap_take_reap_due(void);
bool mgr_tap_doom(struct vsw_port_rt *);
void mgr_tap_reap(void *mgr);

/* Waits until the reaper thread has closed every TAP handed to it (the
 * kernel has deleted them), and ends it.  At the daemon's exit. */
void mgr_tap_reaper_stop(void);

/* The same after link events in the daemon's namespace that named the
 * 'n' interface indexes 'ifindexes': tracks only the TAPs with one of
 * those indexes, and those in other namespaces. */
void mgr_track_links(struct vsw_manager *, const int *ifindexes, size_t n);

/* Where the namespace of 'port' is pinned: STATE/netns/<port>. */
void mgr_netns_pin_path(const struct vsw_manager *, const struct mgr_port *,
                        char *path, size_t size);

/* The TAP location of 'port' as config.json keeps it. */
json_t *mgr_tap_location_to_json(const struct mgr_port *port);

/* The transaction (txn.c). */

/* Frees 'arg' with 'fn' once no worker can use it: after the next
 * snapshot is published (it no longer names the object) and a grace
 * period has passed.  Every change that retires something publishes. */
void mgr_retire(struct vsw_manager *, void (*fn)(void *arg), void *arg);

/* Takes back 'arg', retired since the last publish, and retires
 * 'instead' with the same function: undoes a replacement (a switch's MAC
 * table) in a transaction that fails.  Returns false if 'arg' is not
 * waiting. */
bool mgr_retire_swap(struct vsw_manager *, void *arg, void *instead);

/* Describes the whole model to the workers.  On allocation failure the
 * old snapshot stays (and an error says so). */
int mgr_publish(struct vsw_manager *);

/* Saves the configuration and publishes a snapshot; on a failed save
 * fills 'err' (may be NULL) and returns -1. */
int mgr_commit(struct vsw_manager *, struct vsw_rpc_error *err);

/* Waits until every deferred free has run: a removed port's TAP device
 * and namespace pin are gone when it returns (port.del, switch.del). */
void mgr_settle(struct vsw_manager *);

/* Transactions (transact.c): the method 'transact' runs several
 * operations all or nothing. */

/* What a deletion method deletes. */
enum mgr_txn_delete_kind {
    MGR_TXN_DELETE_SWITCH, /* a switch and its ports */
    MGR_TXN_DELETE_PORT,   /* a port */
    MGR_TXN_DELETE_ACL,    /* a basic ACL rule (struct mgr_acl) */
    MGR_TXN_DELETE_XACL,   /* an extended ACL rule (struct mgr_xacl) */
};

/* Inside a transaction, mgr_config_save() and mgr_publish() only note
 * that a save or a publish is due at commit and return true; outside one
 * they return false and the caller goes on. */
bool mgr_txn_postpone_save(struct vsw_manager *);
bool mgr_txn_postpone_publish(struct vsw_manager *);

/* For the deletion methods, once they have checked everything.  Inside a
 * transaction records that 'obj' (of 'kind'; 'port' owns an ACL rule, else
 * NULL) is deleted at commit and returns 1: the caller answers without
 * deleting.  Outside one returns 0: the caller deletes now.  Returns -1
 * after filling 'err' if the transaction deletes 'obj' already. */
int mgr_txn_defer_delete(struct vsw_manager *, enum mgr_txn_delete_kind kind,
                         void *obj, struct mgr_port *port,
                         struct vsw_rpc_error *err);

/* Inside a transaction, fails after filling 'err' if it deletes 'sw' or
 * 'port' (either may be NULL, a port also with its switch): a later
 * operation cannot use what is deleted at commit.  Returns 0 otherwise. */
int mgr_txn_check_kept(const struct vsw_manager *, const struct mgr_switch *sw,
                       const struct mgr_port *port, struct vsw_rpc_error *err);

/* A method's list form (port.add and port.del with "ports"): runs
 * 'method' once with each params object of the array 'list', all or
 * nothing, as one transaction (one save, one publish).  Stores the array
 * of their results in '*resultsp'.  An error names the entry
 * ("ports[3]: ...") and nothing changed. */
int mgr_txn_run_list(struct vsw_manager *, const char *method, json_t *list,
                     const char *list_key, json_t **resultsp,
                     struct vsw_rpc_error *err);

/* Registers transact. */
int mgr_txn_register_rpc(struct vsw_manager *, struct vsw_rpc_server *);

/* Configuration file (config.c). */

/* Writes config.json.  Returns 0 or a negative errno, after logging and
 * filling 'err' (may be NULL). */
int mgr_config_save(struct vsw_manager *, struct vsw_rpc_error *err);

/* Says that the change the next mgr_config_save() saves touched no port
 * but 'port' (just added; NULL: none), apart from ports it removed: that
 * save builds the object of 'port' alone and keeps the others' texts.
 * Without it a save builds every port's object. */
void mgr_config_scope(const struct mgr_port *port);

/* Says that the object config.json keeps for 'port' changed, for a save
 * that may come later and be scoped to another port (the device's
 * location, found while retrying it). */
void mgr_config_port_changed(const struct mgr_port *port);

/* Reads config.json (migrating an older format) and applies it: the
 * start of the daemon.  A missing file means an empty configuration.
 * Returns 0, or a negative errno after writing why to 'errbuf'. */
int mgr_config_restore(struct vsw_manager *, char *errbuf, size_t errlen);

/* Timers and link events (tick.c, link-monitor.c). */

/* Starts the 1 s tick and the deferred-free event. */
int mgr_tick_start(struct vsw_manager *);

/* Runs the deferred frees now (after a publish). */
void mgr_reclaim_soon(struct vsw_manager *);

/* Listens to rtnetlink link events. */
int mgr_link_monitor_start(struct vsw_manager *);

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
/* True if 'id' is usable as a basic rule's saved id: 1 to UINT32_MAX. */
bool mgr_acl_id_valid(const json_t *id);

/* Checks a saved basic ('extended' false) or extended ACL rule on its
 * own, as the config loader does before anything runs.  Returns 0 or
 * fills 'err'. */
int mgr_acl_rule_check(const json_t *obj, bool extended,
                       struct vsw_rpc_error *err);

/* Adds "acls" and "xacls" of 'port' to 'obj', as config.json keeps them
 * ('with_counters' for the API). */
void mgr_acls_to_json(const struct mgr_port *port, json_t *obj,
                      bool with_counters);

/* Takes one rule out of 'port' and frees it (its counters through a
 * grace period): a deletion a transaction commits. */
void mgr_acl_destroy(struct vsw_manager *, struct mgr_port *port,
                     struct mgr_acl *acl);
void mgr_xacl_destroy(struct vsw_manager *, struct mgr_port *port,
                      struct mgr_xacl *xacl);

/* Frees the rules of 'port' (their counters through a grace period). */
void mgr_acls_destroy(struct vsw_manager *, struct mgr_port *port);

/* Registers acl.*. */
int mgr_acl_register_rpc(struct vsw_manager *, struct vsw_rpc_server *);

/* What the basic and extended rules share (manager-acl.c). */

/* "in" or "out". */
const char *mgr_acl_direction_name(uint8_t direction);

/* An extended rule as xacl.list and config.json show it. */
json_t *mgr_xacl_to_json(const struct mgr_xacl *xacl, bool with_counters);

/* Compiles the extended rules of 'port' (without 'skip', with 'extra' if
 * not NULL) into '*tablep' and, if 'counters' is not NULL, the counters
 * by rule index into '*counters'.  Returns 0 or fills 'err'. */
int mgr_compile_xacls(const struct mgr_port *port, const struct mgr_xacl *skip,
                      const struct vsw_xacl_rule *extra,
                      struct vsw_xacl_table **tablep,
                      struct vsw_rule_counters ***counters, size_t *n_counters,
                      struct vsw_rpc_error *err);

/* Frees rule counters (a mgr_retire() callback). */
void mgr_rule_counters_retired(void *counters);

/* The port of a deletion request ('params' "port"), or NULL with 'err'
 * clear if it has none and the request says "if-exists"; else NULL with
 * 'err' filled. */
struct mgr_port *mgr_acl_del_port_lookup(struct vsw_manager *, json_t *params,
                                         bool *if_exists,
                                         struct vsw_rpc_error *err);

/* Extended ACLs (manager-xacl.c). */

/* Adds the saved extended rules of 'obj' to 'port' at restore.  Returns
 * 0, or -1 after logging what it left out. */
int mgr_xacls_restore(struct vsw_manager *, struct mgr_port *port,
                      json_t *obj);

/* Checks a saved extended rule on its own.  Returns 0 or fills 'err'. */
int mgr_xacl_rule_check(const json_t *obj, struct vsw_rpc_error *err);

/* Registers xacl.*. */
int mgr_xacl_register_rpc(struct vsw_manager *, struct vsw_rpc_server *);

/* Minimum bandwidth on uplinks (qos-sched.c). */

/* The names of enum mgr_min_bw_mode, for the switch settings table. */
extern const char *const mgr_min_bw_mode_names[];

/* Fails, filling 'err', if port 'name' with settings 'cfg' asks for a
 * minimum that the mode of 'sw' does not have. */
int mgr_qos_sched_port_check(const struct mgr_switch *sw, const char *name,
                             const struct mgr_port_cfg *cfg,
                             struct vsw_rpc_error *err);

/* Fills the QoS members of 'dport', the snapshot's 'port' (NULL while
 * the port has no device), starting, replacing or retiring the port's
 * scheduler as its settings and device say. */
void mgr_qos_sched_publish(struct vsw_manager *, struct mgr_port *port,
                           struct vsw_dp_port *dport);

/* Retires the scheduler of 'port' (being removed). */
void mgr_qos_sched_port_destroy(struct vsw_manager *, struct mgr_port *port);

/* Registers qos.show. */
int mgr_qos_sched_register_rpc(struct vsw_manager *, struct vsw_rpc_server *);

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
/* After a snapshot is published: tells extensions with port callbacks
 * (ABI 1.1) which ports of their switches were added, removed or
 * changed. */
void mgr_ext_ports_published(struct vsw_manager *);

/* NIC teams (team.c). */

extern const struct vsw_settings_kind mgr_team_kind;

/* Fills 'cfg' from the team settings of 'params' (as team.add takes them
 * and config.json keeps them) and checks them together.  Pure: used by
 * team.add and the config loader.  Returns 0 or fills 'err'. */
int mgr_team_cfg_from_params(const json_t *params, struct mgr_team_cfg *cfg,
                             struct vsw_rpc_error *err);

/* The team settings of 'port' as config.json keeps them. */
json_t *mgr_team_settings_to_json(const struct mgr_port *port);

/* Opens the device of team port 'port' (its members).  Returns 0 or a
 * negative errno. */
int mgr_team_open_device(struct vsw_manager *, struct mgr_port *port);

/* The map of team port 'port' for the snapshot being built (NULL for
 * other ports or on allocation failure); the previous one is retired. */
const struct vsw_team_map *mgr_team_publish(struct vsw_manager *,
                                            struct mgr_port *port);

/* Frees the team state of 'port' (being removed). */
void mgr_team_port_destroy(struct vsw_manager *, struct mgr_port *port);

/* True if a member of team port 'port' carries traffic. */
bool mgr_team_is_up(const struct mgr_port *port);

/* The members of team port 'port' that carry traffic (bit m: member m of
 * its 'members'). */
uint32_t mgr_team_active_mask(const struct mgr_port *port);

/* The team port whose members include interface 'ifname', or NULL. */
struct mgr_port *mgr_team_of_member(struct vsw_manager *, const char *ifname);

/* A link changed (rtnetlink) or a second passed: members' carrier,
 * failover, rates. */
void mgr_team_link_event(struct vsw_manager *);
void mgr_team_tick(struct vsw_manager *);

/* A worker gave up on one of team port 'port''s sockets: reopens the team
 * over the members present, keeping its LACP actor.  Returns true if the
 * device changed (the caller publishes). */
bool mgr_team_reopen(struct vsw_manager *, struct mgr_port *port);

/* Registers team.*. */
int mgr_team_register_rpc(struct vsw_manager *, struct vsw_rpc_server *);

/* Capture sessions (capture.c). */

/* Points 'dport' (of a snapshot being built) to the capture sessions that
 * see 'port', if any.  Returns 0 or -ENOMEM. */
int mgr_capture_fill_port(const struct vsw_manager *,
                          const struct mgr_port *port,
                          struct vsw_dp_port *dport);

/* Ends the captures of 'port' or 'sw', being removed (the caller
 * publishes). */
void mgr_capture_port_removed(struct vsw_manager *,
                              const struct mgr_port *port);
void mgr_capture_switch_removed(struct vsw_manager *,
                                const struct mgr_switch *sw);

/* Frees every session; the workers must be gone. */
void mgr_capture_destroy(struct vsw_manager *);

/* Registers capture.*, and ends a session when its connection closes. */
int mgr_capture_register_rpc(struct vsw_manager *, struct vsw_rpc_server *);

/* Tenant networks and VXLAN tunnels (tunnel.c). */

/* The tunnel's settings a table cannot check (one IPv4 local-ip, no
 * VNI on the tunnel itself). */
int mgr_tunnel_cfg_check(const struct mgr_port_cfg *cfg,
                         struct vsw_rpc_error *err);

/* Opens the device of tunnel port 'port'.  Returns 0 or a negative
 * errno. */
int mgr_tunnel_open_device(struct vsw_manager *, struct mgr_port *port,
                           struct vsw_netdev **netdevp);

/* Gives 'dport' (tunnel port 'port' in a snapshot being built) its
 * remotes, programmed MACs and the VNIs its switch serves.  Returns 0 or
 * -ENOMEM. */
int mgr_tunnel_fill_port(const struct vsw_manager *,
                         const struct mgr_port *port,
                         struct vsw_dp_port *dport);

/* Frees what was programmed into 'port' (any port: NULL state is
 * nothing). */
void mgr_tunnel_port_destroy(struct mgr_port *port);

/* The control-thread API through which another module (etcd
 * distribution, migration) programs a tunnel beyond its settings:
 * 'present' adds or removes a remote VTEP 'ip' (IPv4, network order) of
 * 'vni', or a mapping (vni, mac) -> 'ip'.  Each call publishes.  Returns
 * 0, -EINVAL (not a tunnel, bad VNI), -ENOENT (nothing to remove) or
 * -ENOMEM. */
int mgr_tunnel_remote_set(struct vsw_manager *, struct mgr_port *tunnel,
                          uint32_t vni, uint32_t ip, bool present);
int mgr_tunnel_mac_set(struct vsw_manager *, struct mgr_port *tunnel,
                       uint32_t vni, const uint8_t mac[6], uint32_t ip,
                       bool present);

/* Registers tunnel.show. */
int mgr_tunnel_register_rpc(struct vsw_manager *, struct vsw_rpc_server *);

/* Collectors of bounded tables (bounds.h; bounds.c lists them). */
struct vsw_bounds;
void mgr_capture_bounds(struct vsw_manager *, struct vsw_bounds *);
void mgr_mirror_bounds(struct vsw_manager *, struct vsw_bounds *);
void mgr_qos_sched_bounds(struct vsw_manager *, struct vsw_bounds *);
void mgr_team_bounds(struct vsw_manager *, struct vsw_bounds *);
void mgr_tunnel_bounds(struct vsw_manager *, struct vsw_bounds *);

#endif /* VSW_MANAGER_PRIVATE_H */
