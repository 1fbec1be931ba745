/*
 * Switches: their settings table, the operations behind switch.add, set
 * and del, and those methods.  A switch owns its MAC table and its ports
 * (port.c); its extensions are manager-ext.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "manager-private.h"
#include "metering.h"

#define MAC_AGEING_MAX     1000000
#define MAC_TABLE_SIZE_MAX (1u << 22)

#define STRINGIFY_(x) #x
#define STRINGIFY(x)  STRINGIFY_(x)

static const char *const unknown_nh_names[] = {"drop", "allow", NULL};

/* Every setting of a switch: add a row here, its effect where the
 * snapshot or the MAC table takes it (mgr_publish(), mgr_switch_set()),
 * and a line in the docs' "Switch settings" tables. */
static const struct vsw_setting switch_settings[] = {
    {
        VSW_SETTING_ROW("mac-ageing", VSW_SETTING_INTEGER,
                        struct mgr_switch_cfg, mac_ageing),
        .min = 1,
        .max = MAC_AGEING_MAX,
        .default_value = STRINGIFY(VSW_FDB_DEFAULT_AGEING_SEC),
        .help = "seconds a learned MAC address stays without traffic",
    },
    {
        VSW_SETTING_ROW("mac-table-size", VSW_SETTING_INTEGER,
                        struct mgr_switch_cfg, mac_table_size),
        .min = 1,
        .max = MAC_TABLE_SIZE_MAX,
        .default_value = STRINGIFY(VSW_FDB_DEFAULT_MAX_ENTRIES),
        .help = "most MAC addresses the switch learns; a change empties "
                "the table",
    },
    {
        VSW_SETTING_ROW("ipv6-unknown-next-header", VSW_SETTING_ENUM,
                        struct mgr_switch_cfg, ipv6_unknown_nh_allowed),
        .names = unknown_nh_names,
        .default_value = "drop",
        .help = "what guards do with IPv6 packets whose header chain ends "
                "in an unknown header (RFC 7113)",
    },
    {
        VSW_SETTING_ROW("min-bandwidth-mode", VSW_SETTING_ENUM,
                        struct mgr_switch_cfg, min_bw_mode),
        .names = mgr_min_bw_mode_names,
        .default_value = "weight",
        .flags = VSW_SETTING_FIXED,
        .help = "what ports' minimum bandwidth on uplinks is: "
                "min-bandwidth-weight (weight), min-bandwidth-absolute "
                "(absolute), or nothing (none)",
    },
    {
        VSW_SETTING_ROW("metering-save-interval", VSW_SETTING_INTEGER,
                        struct mgr_switch_cfg, metering_save_interval),
        .min = 1,
        .max = MGR_METERING_SAVE_INTERVAL_MAX,
        .default_value = STRINGIFY(MGR_METERING_SAVE_INTERVAL_DEFAULT),
        .help = "seconds between saves of its ports' meter counts; a kill "
                "-9 loses at most this much counting",
    },
};

const struct vsw_settings_kind mgr_switch_kind = {
    .name = "switch",
    .settings = switch_settings,
    .n_settings = sizeof switch_settings / sizeof *switch_settings,
    .other_keys = (const char *const[]){"name", NULL},
    .create_keys = (const char *const[]){"may-exist", NULL},
};

int
mgr_switch_create(struct vsw_manager *mgr, const char *name,
                  const struct mgr_switch_cfg *cfg, struct mgr_switch **swp,
                  struct vsw_rpc_error *err)
{
    struct mgr_switch *sw = calloc(1, sizeof *sw);
    struct mgr_switch **tail;

    if (sw) {
        sw->fdb = vsw_fdb_create(cfg->mac_table_size, cfg->mac_ageing);
    }
    if (!sw || !sw->fdb) {
        free(sw);
        return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR,
                             "out of memory for a MAC table of %u entries",
                             cfg->mac_table_size);
    }
    snprintf(sw->name, sizeof sw->name, "%s", name);
    sw->cfg = *cfg;
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

void
mgr_switch_destroy(struct vsw_manager *mgr, struct mgr_switch *sw,
                   bool remove_devices)
{
    struct mgr_switch **pp;

    mgr_ext_switch_destroy(mgr, sw);
    mgr_capture_switch_removed(mgr, sw);
    while (sw->ports) {
        mgr_port_destroy(mgr, sw->ports, remove_devices);
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

json_t *
mgr_switch_to_json(const struct mgr_switch *sw)
{
    json_t *ports = json_array();
    json_t *obj = json_pack("{s:s}", "name", sw->name);

    for (const struct mgr_port *p = sw->ports; p; p = p->next) {
        json_array_append_new(ports, json_string(p->name));
    }
    vsw_settings_to_json(&mgr_switch_kind, &sw->cfg, obj);
    json_object_set_new(obj, "mac-count",
                        json_integer((json_int_t)vsw_fdb_count(sw->fdb)));
    json_object_set_new(obj, "ports", ports);
    return obj;
}

int
mgr_switch_add(struct vsw_manager *mgr, json_t *params,
               struct mgr_switch **swp, struct vsw_rpc_error *err)
{
    struct mgr_switch_cfg cfg;
    bool may_exist = false;
    const char *name;
    struct mgr_switch *sw;

    vsw_settings_init(&mgr_switch_kind, &cfg);
    if (vsw_rpc_get_string(params, "name", true, &name, err) ||
        vsw_rpc_get_bool(params, "may-exist", false, &may_exist, err) ||
        mgr_check_name("switch", name, err) ||
        vsw_settings_apply(&mgr_switch_kind, &cfg, params, true, err)) {
        return -1;
    }
    sw = mgr_find_switch(mgr, name);
    if (sw && may_exist) {
        /* Left as it is: the settings given are not applied. */
        *swp = sw;
        return 0;
    }
    if (sw) {
        return vsw_rpc_error(err, VSW_RPC_EXISTS, "switch '%s' already exists",
                             name);
    }
    if (mgr_switch_create(mgr, name, &cfg, &sw, err)) {
        return -1;
    }
    if (mgr_config_save(mgr, err)) {
        mgr_switch_destroy(mgr, sw, true);
        return -1;
    }
    mgr_publish(mgr);
    *swp = sw;
    return 0;
}

int
mgr_switch_set(struct vsw_manager *mgr, struct mgr_switch *sw, json_t *params,
               struct vsw_rpc_error *err)
{
    struct mgr_switch_cfg cfg = sw->cfg;
    struct mgr_switch_cfg old = sw->cfg;
    struct vsw_fdb *new_fdb = NULL;

    if (vsw_settings_apply(&mgr_switch_kind, &cfg, params, false, err)) {
        return -1;
    }
    if (cfg.mac_table_size != old.mac_table_size) {
        new_fdb = vsw_fdb_create(cfg.mac_table_size, cfg.mac_ageing);
        if (!new_fdb) {
            return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR,
                                 "out of memory for a MAC table of %u "
                                 "entries",
                                 cfg.mac_table_size);
        }
    }
    sw->cfg = cfg;
    if (mgr_config_save(mgr, err)) {
        sw->cfg = old;
        vsw_fdb_destroy(new_fdb);
        return -1;
    }
    vsw_fdb_set_ageing(sw->fdb, cfg.mac_ageing);
    if (new_fdb) {
        /* A table of another size starts empty: the switch relearns. */
        mgr_retire(mgr, fdb_destroy_cb, sw->fdb);
        sw->fdb = new_fdb;
    }
    if (new_fdb ||
        cfg.ipv6_unknown_nh_allowed != old.ipv6_unknown_nh_allowed) {
        mgr_publish(mgr);
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
    error = mgr_config_save(mgr, err);
    sw->next = *pp;
    *pp = sw;
    if (error) {
        return -1;
    }
    mgr_switch_destroy(mgr, sw, true);
    mgr_publish(mgr);
    mgr_settle(mgr);
    return 0;
}

/* ---- JSON-RPC methods ---- */

static const char *const name_only[] = {"name", NULL};

/* Refuses to delete 'sw' with its ports unless 'force': a typo in a
 * switch name should not take a whole network down.  Ports the running
 * transaction deletes do not count. */
static int
check_no_ports(const struct vsw_manager *mgr, const struct mgr_switch *sw,
               bool force, struct vsw_rpc_error *err)
{
    char names[VSW_RPC_MAX_MESSAGE / 2] = "";
    struct vsw_rpc_error ignored;
    size_t len = 0;
    int n = 0;

    for (const struct mgr_port *p = sw->ports; p; p = p->next) {
        if (mgr_txn_check_kept(mgr, NULL, p, &ignored)) {
            continue;
        }
        if (n++ < 3 && len < sizeof names) {
            len += (size_t)snprintf(names + len, sizeof names - len, "%s%s",
                                    n > 1 ? ", " : "", p->name);
        }
    }
    if (!n || force) {
        return 0;
    }
    return vsw_rpc_error(err, VSW_RPC_CONFLICT,
                         "switch '%s' has %d port%s (%s%s); delete %s with "
                         "--force (\"force\": true)",
                         sw->name, n, n == 1 ? "" : "s", names,
                         n > 3 ? ", ..." : "", n == 1 ? "it" : "them");
}

static int
rpc_switch_add(json_t *params, json_t **result, struct vsw_rpc_error *err,
               void *mgr)
{
    struct mgr_switch *sw;

    if (mgr_switch_add(mgr, params, &sw, err)) {
        return -1;
    }
    *result = mgr_switch_to_json(sw);
    return 0;
}

static int
rpc_switch_del(json_t *params, json_t **result, struct vsw_rpc_error *err,
               void *mgr)
{
    static const char *const keys[] = {"name", "if-exists", "force", NULL};
    bool if_exists = false;
    bool force = false;
    struct mgr_switch *sw;
    const char *name;
    int deferred;

    (void)result;
    if (vsw_rpc_check_keys(params, keys, err) ||
        vsw_rpc_get_string(params, "name", true, &name, err) ||
        vsw_rpc_get_bool(params, "if-exists", false, &if_exists, err) ||
        vsw_rpc_get_bool(params, "force", false, &force, err)) {
        return -1;
    }
    if (if_exists && !mgr_find_switch(mgr, name)) {
        return 0;
    }
    if (mgr_rpc_get_switch(mgr, params, "name", &sw, err) ||
        check_no_ports(mgr, sw, force, err)) {
        return -1;
    }
    deferred = mgr_txn_defer_delete(mgr, MGR_TXN_DELETE_SWITCH, sw, NULL, err);
    if (deferred) {
        return deferred < 0 ? -1 : 0;
    }
    return mgr_switch_del(mgr, sw, err);
}

static int
rpc_switch_set(json_t *params, json_t **result, struct vsw_rpc_error *err,
               void *mgr)
{
    struct mgr_switch *sw;
    struct vsw_fdb *fdb;

    if (mgr_rpc_get_switch(mgr, params, "name", &sw, err)) {
        return -1;
    }
    fdb = sw->fdb;
    if (mgr_switch_set(mgr, sw, params, err)) {
        return -1;
    }
    *result = mgr_switch_to_json(sw);
    if (sw->fdb != fdb) {
        json_object_set_new(*result, "notes",
                            json_pack("[s]", "mac-table-size changed: the MAC "
                                             "table was emptied and the "
                                             "switch relearns"));
    }
    return 0;
}

static int
rpc_switch_get(json_t *params, json_t **result, struct vsw_rpc_error *err,
               void *mgr)
{
    struct mgr_switch *sw;

    if (vsw_rpc_check_keys(params, name_only, err) ||
        mgr_rpc_get_switch(mgr, params, "name", &sw, err)) {
        return -1;
    }
    *result = mgr_switch_to_json(sw);
    return 0;
}

static int
rpc_switch_list(json_t *params, json_t **result, struct vsw_rpc_error *err,
                void *mgr_)
{
    static const char *const no_params[] = {NULL};
    struct vsw_manager *mgr = mgr_;
    json_t *list;

    if (vsw_rpc_check_keys(params, no_params, err)) {
        return -1;
    }
    list = json_array();
    for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        json_array_append_new(list, mgr_switch_to_json(sw));
    }
    *result = json_pack("{s:o}", "switches", list);
    return 0;
}

static const struct vsw_rpc_method switch_methods[] = {
    {"switch.add", rpc_switch_add, VSW_RPC_WRITES},
    {"switch.del", rpc_switch_del, VSW_RPC_WRITES},
    {"switch.set", rpc_switch_set, VSW_RPC_WRITES},
    {"switch.get", rpc_switch_get, VSW_RPC_READS},
    {"switch.list", rpc_switch_list, VSW_RPC_READS},
};

int
mgr_switch_register_rpc(struct vsw_manager *mgr, struct vsw_rpc_server *server)
{
    return vsw_rpc_server_register(
        server, switch_methods, sizeof switch_methods / sizeof *switch_methods,
        mgr);
}
