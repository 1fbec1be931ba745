/*
 * Port export and import: a port's whole profile as one JSON document,
 * for the live migration of its VM to another switch or another daemon
 * (FEATURES.md §11).  port.export writes it; port.import creates the port
 * from it, all or nothing.
 *
 * The document (version 1):
 *
 *   {"format": "vswitch-port", "version": 1,
 *    "name": "vm1", "switch": "sw1",        where it came from
 *    "settings": {...},                      as port.get shows them
 *    "acls": [...], "xacls": [...],          as config.json keeps them
 *    "meters": [...],                        metering.c's, with counts
 *    "flows": [...]}                         its stateful ACL flows
 *                                            (port-migrate.c)
 *
 * Decisions (ours): export leaves the source port as it is (the
 * orchestrator deletes it once the import has succeeded, so the VM never
 * loses its port); an imported tap port gets a new TAP device named after
 * the port (the exported "ifname" names the old host's device), with the
 * exported MAC; an uplink keeps its "ifname".  Basic rules keep their ids,
 * so the meters and anything that names a rule by id stay valid.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "manager-private.h"
#include "metering.h"
#include "port-migrate.h"

#define EXPORT_FORMAT  "vswitch-port"
#define EXPORT_VERSION 1

static int
rpc_port_export(json_t *params, json_t **result, struct vsw_rpc_error *err,
                void *mgr_)
{
    static const char *const keys[] = {"name", NULL};
    struct vsw_manager *mgr = mgr_;
    struct mgr_port *port;
    json_t *doc;

    if (vsw_rpc_check_keys(params, keys, err) ||
        mgr_rpc_get_port(mgr, params, "name", &port, err)) {
        return -1;
    }
    doc =
        json_pack("{s:s, s:i, s:s, s:s, s:o}", "format", EXPORT_FORMAT,
                  "version", EXPORT_VERSION, "name", port->name, "switch",
                  port->sw->name, "settings", mgr_port_settings_to_json(port));
    mgr_acls_to_json(port, doc, false);
    json_object_set_new(doc, "meters", mgr_metering_port_to_json(mgr, port));
    json_object_set_new(doc, "flows", mgr_migrate_flows_to_json(mgr, port));
    *result = doc;
    return 0;
}

/* Prefixes the message of 'err' with "document: " and 'what' (if not
 * NULL); returns -1. */
static int
in_document(struct vsw_rpc_error *err, const char *what)
{
    char why[VSW_RPC_MAX_MESSAGE];

    snprintf(why, sizeof why, "%s", err->message);
    return vsw_rpc_error(err, err->code ? err->code : VSW_RPC_INVALID_PARAMS,
                         "document: %s%s%s", what ? what : "",
                         what ? ": " : "", why);
}

/* Checks the rule lists of 'doc' rule by rule (a set that does not
 * compile together is caught when the rules are added). */
static int
check_rules(const json_t *doc, struct vsw_rpc_error *err)
{
    const json_t *acls = json_object_get(doc, "acls");
    const json_t *xacls = json_object_get(doc, "xacls");
    const json_t *rule;
    char what[32];
    size_t i;

    if ((acls && !json_is_array(acls)) || (xacls && !json_is_array(xacls))) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "document: acls and xacls must be arrays");
    }
    json_array_foreach(acls, i, rule)
    {
        json_t *id = json_object_get(rule, "id");

        snprintf(what, sizeof what, "acls[%zu]", i);
        if (!json_is_integer(id) || json_integer_value(id) < 1 ||
            json_integer_value(id) > UINT32_MAX) {
            vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                          "a rule needs its id, a positive integer");
            return in_document(err, what);
        }
        for (size_t j = 0; j < i; j++) {
            if (json_equal(id,
                           json_object_get(json_array_get(acls, j), "id"))) {
                vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                              "id %lld appears twice",
                              (long long)json_integer_value(id));
                return in_document(err, what);
            }
        }
        if (mgr_acl_rule_check(rule, false, err)) {
            return in_document(err, what);
        }
    }
    json_array_foreach(xacls, i, rule)
    {
        snprintf(what, sizeof what, "xacls[%zu]", i);
        if (mgr_acl_rule_check(rule, true, err)) {
            return in_document(err, what);
        }
        for (size_t j = 0; j < i; j++) {
            const json_t *other = json_array_get(xacls, j);

            if (json_equal(json_object_get(rule, "direction"),
                           json_object_get(other, "direction")) &&
                json_equal(json_object_get(rule, "weight"),
                           json_object_get(other, "weight"))) {
                vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                              "a second rule with the same direction and "
                              "weight");
                return in_document(err, what);
            }
        }
    }
    return 0;
}

/* Checks 'doc' as a whole and fills the settings port.add takes for a
 * port 'name' into '*settingsp' (a new object).  Returns 0 or fills
 * 'err'; nothing exists yet. */
static int
check_document(struct vsw_manager *mgr, const json_t *doc, const char *name,
               json_t **settingsp, struct vsw_rpc_error *err)
{
    static const char *const keys[] = {
        "format", "version", "name",   "switch", "settings",
        "acls",   "xacls",   "meters", "flows",  NULL};
    const json_t *version = json_object_get(doc, "version");
    const char *format = json_string_value(json_object_get(doc, "format"));
    json_t *settings = json_object_get(doc, "settings");
    struct mgr_port_cfg cfg;
    const char *type;
    json_t *copy;

    *settingsp = NULL;
    if (!json_is_object(doc)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "document must be a JSON object (what port "
                             "export wrote)");
    }
    if (!format || strcmp(format, EXPORT_FORMAT)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "document: format must be \"%s\": not a port "
                             "export",
                             EXPORT_FORMAT);
    }
    if (!json_is_integer(version) ||
        json_integer_value(version) != EXPORT_VERSION) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "document: version must be %d, the version "
                             "this daemon reads",
                             EXPORT_VERSION);
    }
    if (vsw_rpc_check_keys(doc, keys, err)) {
        return in_document(err, "keys");
    }
    if (!json_is_object(settings)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "document: settings must be an object");
    }
    if (check_rules(doc, err) ||
        (json_object_get(doc, "meters") &&
         mgr_metering_check_json(json_object_get(doc, "meters"),
                                 json_object_get(doc, "acls"), err) &&
         in_document(err, NULL)) ||
        mgr_migrate_flows_check(mgr, json_object_get(doc, "flows"), err)) {
        return -1;
    }
    copy = json_deep_copy(settings);
    if (!copy) {
        return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR, "out of memory");
    }
    /* A new TAP device, named after the port; an uplink attaches to the
     * netdev it names. */
    type = json_string_value(json_object_get(copy, "type"));
    if (type && !strcmp(type, "tap")) {
        json_object_del(copy, "ifname");
    }
    if (mgr_port_cfg_from_params(copy, name, &cfg, err)) {
        json_decref(copy);
        return in_document(err, "settings");
    }
    *settingsp = copy;
    return 0;
}

static size_t
count_rules(const struct mgr_port *port)
{
    size_t n = 0;

    for (const struct mgr_acl *a = port->acls; a; a = a->next) {
        n++;
    }
    for (const struct mgr_xacl *x = port->xacls; x; x = x->next) {
        n++;
    }
    return n;
}

static int
rpc_port_import(json_t *params, json_t **result, struct vsw_rpc_error *err,
                void *mgr_)
{
    static const char *const keys[] = {"switch", "name", "document", NULL};
    struct vsw_manager *mgr = mgr_;
    json_t *doc = json_object_get(params, "document");
    struct vsw_rpc_error ignored;
    const char *name = NULL;
    struct mgr_switch *sw;
    struct mgr_port *port;
    json_t *settings;
    size_t n_rules, n_flows;
    int error;

    if (vsw_rpc_check_keys(params, keys, err) ||
        vsw_rpc_get_string(params, "name", false, &name, err) ||
        mgr_rpc_get_switch(mgr, params, "switch", &sw, err)) {
        return -1;
    }
    if (mgr->txn) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "port.import cannot be part of a transaction");
    }
    if (!doc) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "missing parameter 'document'");
    }
    if (!name) {
        name = json_string_value(json_object_get(doc, "name"));
        if (!name) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "document: no port name; give one with "
                                 "'name'");
        }
    }
    if (mgr_check_name("port", name, err) ||
        check_document(mgr, doc, name, &settings, err)) {
        return -1;
    }
    /* port.add's own checks and creation: name and interface free,
     * private VLANs, extensions' vetoes; saved and published. */
    json_object_set_new(settings, "name", json_string(name));
    error = mgr_port_add(mgr, sw, settings, &port, err);
    json_decref(settings);
    if (error) {
        return -1;
    }
    n_rules = json_array_size(json_object_get(doc, "acls")) +
              json_array_size(json_object_get(doc, "xacls"));
    if (mgr_acls_restore(mgr, port, doc) || count_rules(port) != n_rules) {
        mgr_port_del(mgr, port, &ignored);
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "document: its ACL rules do not go together on "
                             "one port (the daemon's log names the rule); "
                             "nothing was imported");
    }
    if (mgr_commit(mgr, err)) {
        mgr_port_del(mgr, port, &ignored);
        return -1;
    }
    mgr_metering_port_import(mgr, port, json_object_get(doc, "meters"));
    /* Live state last: the flows, then the announcement (which may
     * already meet traffic of the restored flows). */
    n_flows =
        mgr_migrate_flows_restore(mgr, port, json_object_get(doc, "flows"));
    *result = mgr_port_to_json(mgr, port);
    json_object_set_new(*result, "flows-restored", json_integer(n_flows));
    json_object_set_new(
        *result, "announced",
        mgr_migrate_announce(mgr, port, json_object_get(doc, "flows")));
    return 0;
}

static const struct vsw_rpc_method export_methods[] = {
    {"port.export", rpc_port_export, VSW_RPC_READS},
    {"port.import", rpc_port_import, VSW_RPC_WRITES},
};

int
mgr_port_export_register_rpc(struct vsw_manager *mgr,
                             struct vsw_rpc_server *server)
{
    return vsw_rpc_server_register(
        server, export_methods, sizeof export_methods / sizeof *export_methods,
        mgr);
}
