/*
 * Extended ACL rules of a port (FEATURES.md §2): parsing, the xacl.*
 * methods, restore.  Weighted, first match, 5-tuple, stateful rules; a
 * rule's key is (direction, weight).  The compiled table and the port's
 * policy are built with the basic rules in manager-acl.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "manager-private.h"

/* Parses an extended rule from 'params'. */
static int
xacl_rule_from_params(json_t *params, struct vsw_xacl_rule *rule,
                      struct vsw_rpc_error *err)
{
    static const struct {
        const char *key; /* param */
        int kind;        /* 0 prefix local, 1 prefix remote, 2 ports
                            local, 3 ports remote */
    } fields[] = {
        {"local-ip", 0},
        {"remote-ip", 1},
        {"local-port", 2},
        {"remote-port", 3},
    };
    const char *text = NULL;
    long long v;

    vsw_xacl_rule_init(rule);
    if (vsw_rpc_get_string(params, "action", true, &text, err)) {
        return -1;
    }
    if (vsw_xacl_parse_action(text, &rule->action)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "action must be allow or deny, not '%s'", text);
    }
    if (vsw_rpc_get_string(params, "direction", true, &text, err)) {
        return -1;
    }
    if (vsw_xacl_parse_direction(text, &rule->direction)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "direction must be in or out, not '%s' "
                             "(extended rules have no 'both')",
                             text);
    }
    if (vsw_rpc_get_int(params, "weight", true, 0, 65535, &v, err)) {
        return -1;
    }
    rule->weight = (uint16_t)v;
    text = NULL;
    if (json_is_integer(json_object_get(params, "protocol"))) {
        if (vsw_rpc_get_int(params, "protocol", false, 0, 255, &v, err)) {
            return -1;
        }
        rule->protocol = (int16_t)v;
    } else if (vsw_rpc_get_string(params, "protocol", false, &text, err)) {
        return -1;
    } else if (text && vsw_xacl_parse_protocol(text, &rule->protocol)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "protocol must be tcp, udp, icmp, icmpv6, any "
                             "or 0-255, not '%s'",
                             text);
    }
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        int error;

        text = NULL;
        if (json_is_integer(json_object_get(params, fields[i].key)) &&
            fields[i].kind >= 2) {
            if (vsw_rpc_get_int(params, fields[i].key, false, 0, 65535, &v,
                                err)) {
                return -1;
            }
            if (fields[i].kind == 2) {
                rule->local_port.lo = rule->local_port.hi = (uint16_t)v;
            } else {
                rule->remote_port.lo = rule->remote_port.hi = (uint16_t)v;
            }
            continue;
        }
        if (vsw_rpc_get_string(params, fields[i].key, false, &text, err)) {
            return -1;
        }
        if (!text) {
            continue;
        }
        switch (fields[i].kind) {
        case 0:
            error = vsw_xacl_parse_prefix(text, &rule->local_addr);
            break;
        case 1:
            error = vsw_xacl_parse_prefix(text, &rule->remote_addr);
            break;
        case 2:
            error = vsw_xacl_parse_ports(text, &rule->local_port);
            break;
        default:
            error = vsw_xacl_parse_ports(text, &rule->remote_port);
            break;
        }
        if (error) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "%s: '%s' is not %s", fields[i].key, text,
                                 fields[i].kind < 2
                                     ? "an address, prefix or any"
                                     : "a port, a range such as 49152-49182, "
                                       "or any");
        }
    }
    if (vsw_rpc_get_bool(params, "stateful", false, &rule->stateful, err)) {
        return -1;
    }
    v = rule->idle_timeout_s;
    if (vsw_rpc_get_int(params, "idle-timeout", false, 1,
                        VSW_XACL_MAX_TIMEOUT_S, &v, err)) {
        return -1;
    }
    rule->idle_timeout_s = (uint32_t)v;
    if (json_object_get(params, "idle-timeout") && !rule->stateful) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "idle-timeout applies to stateful rules only");
    }
    v = 0;
    if (vsw_rpc_get_int(params, "isolation-id", false, 0, 4094, &v, err)) {
        return -1;
    }
    rule->isolation_id = (uint16_t)v;
    return 0;
}

static struct mgr_xacl *
xacl_find(const struct mgr_port *port, uint8_t direction, uint16_t weight)
{
    for (struct mgr_xacl *x = port->xacls; x; x = x->next) {
        if (x->rule.direction == direction && x->rule.weight == weight) {
            return x;
        }
    }
    return NULL;
}

/* Validates and adds one extended rule to 'port' in memory. */
static int
xacl_add(struct vsw_manager *mgr, struct mgr_port *port,
         const struct vsw_xacl_rule *rule, struct mgr_xacl **addedp,
         struct vsw_rpc_error *err)
{
    struct vsw_xacl_table *table;
    struct mgr_xacl *added;
    struct mgr_xacl **tail;

    if (xacl_find(port, rule->direction, rule->weight)) {
        return vsw_rpc_error(err, VSW_RPC_EXISTS,
                             "port '%s' already has an extended rule of "
                             "weight %u for direction %s",
                             port->name, rule->weight,
                             mgr_acl_direction_name(rule->direction));
    }
    if (mgr_compile_xacls(port, NULL, rule, &table, NULL, NULL, err)) {
        return -1;
    }
    vsw_xacl_destroy(table);
    added = calloc(1, sizeof *added);
    if (added) {
        added->counters =
            vsw_rule_counters_create(vsw_datapath_n_counter_slots(mgr->dp));
    }
    if (!added || !added->counters) {
        free(added);
        return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR, "out of memory");
    }
    added->rule = *rule;
    for (tail = &port->xacls; *tail; tail = &(*tail)->next) {
        continue;
    }
    *tail = added;
    *addedp = added;
    return 0;
}

static void
xacl_unlink(struct mgr_port *port, struct mgr_xacl *xacl)
{
    struct mgr_xacl **pp;

    for (pp = &port->xacls; *pp != xacl; pp = &(*pp)->next) {
        continue;
    }
    *pp = xacl->next;
}

static const char *const xacl_keys[] = {
    "port",         "action",       "direction",  "weight",      "protocol",
    "local-ip",     "remote-ip",    "local-port", "remote-port", "stateful",
    "idle-timeout", "isolation-id", NULL};

static int
rpc_xacl_add(json_t *params, json_t **result, struct vsw_rpc_error *err,
             void *mgr_)
{
    struct vsw_manager *mgr = mgr_;
    struct vsw_xacl_rule rule;
    struct mgr_xacl *added;
    struct mgr_port *port;

    if (vsw_rpc_check_keys(params, xacl_keys, err) ||
        mgr_rpc_get_port(mgr, params, "port", &port, err) ||
        mgr_ext_port_check(mgr, port->sw, port->name, VSW_EXT_PORT_POLICY,
                           params, err) ||
        xacl_rule_from_params(params, &rule, err) ||
        xacl_add(mgr, port, &rule, &added, err)) {
        return -1;
    }
    if (mgr_commit(mgr, err)) {
        xacl_unlink(port, added);
        vsw_rule_counters_destroy(added->counters);
        free(added);
        return -1;
    }
    *result = mgr_xacl_to_json(added, false);
    return 0;
}

void
mgr_xacl_destroy(struct vsw_manager *mgr, struct mgr_port *port,
                 struct mgr_xacl *xacl)
{
    xacl_unlink(port, xacl);
    mgr_retire(mgr, mgr_rule_counters_retired, xacl->counters);
    free(xacl);
}

static int
rpc_xacl_del(json_t *params, json_t **result, struct vsw_rpc_error *err,
             void *mgr_)
{
    static const char *const keys[] = {"port", "direction", "weight",
                                       "if-exists", NULL};
    struct vsw_manager *mgr = mgr_;
    bool if_exists = false;
    const char *direction;
    struct mgr_xacl *xacl;
    struct mgr_port *port;
    long long weight;
    int deferred;
    uint8_t dir;

    (void)result;
    if (vsw_rpc_check_keys(params, keys, err) ||
        vsw_rpc_get_string(params, "direction", true, &direction, err) ||
        vsw_rpc_get_int(params, "weight", true, 0, 65535, &weight, err)) {
        return -1;
    }
    if (vsw_xacl_parse_direction(direction, &dir)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "direction must be in or out, not '%s'",
                             direction);
    }
    port = mgr_acl_del_port_lookup(mgr, params, &if_exists, err);
    if (!port) {
        return err->code ? -1 : 0;
    }
    xacl = xacl_find(port, dir, (uint16_t)weight);
    if (!xacl && if_exists) {
        return 0;
    }
    if (!xacl) {
        return vsw_rpc_error(err, VSW_RPC_NOT_FOUND,
                             "port '%s' has no extended rule of weight %lld "
                             "for direction %s",
                             port->name, weight, direction);
    }
    deferred = mgr_txn_defer_delete(mgr, MGR_TXN_DELETE_XACL, xacl, port, err);
    if (deferred) {
        return deferred < 0 ? -1 : 0;
    }
    xacl_unlink(port, xacl);
    if (mgr_commit(mgr, err)) {
        xacl->next = port->xacls;
        port->xacls = xacl;
        return -1;
    }
    /* Published already: no snapshot names the rule any more. */
    vsw_datapath_defer(mgr->dp, mgr_rule_counters_retired, xacl->counters);
    free(xacl);
    return 0;
}

static int
rpc_xacl_list(json_t *params, json_t **result, struct vsw_rpc_error *err,
              void *mgr_)
{
    static const char *const keys[] = {"port", NULL};
    struct vsw_manager *mgr = mgr_;
    struct mgr_port *port;
    json_t *obj;

    if (vsw_rpc_check_keys(params, keys, err) ||
        mgr_rpc_get_port(mgr, params, "port", &port, err)) {
        return -1;
    }
    obj = json_object();
    mgr_acls_to_json(port, obj, true);
    *result = json_pack(
        "{s:s, s:O, s:I}", "port", port->name, "rules",
        json_object_get(obj, "xacls"), "flows",
        (json_int_t)vsw_conntrack_count_port(mgr->conntrack, port->id));
    json_decref(obj);
    return 0;
}

int
mgr_xacls_restore(struct vsw_manager *mgr, struct mgr_port *port, json_t *obj)
{
    struct vsw_rpc_error err;
    int result = 0;
    json_t *item;
    size_t i;

    json_array_foreach(json_object_get(obj, "xacls"), i, item)
    {
        struct vsw_xacl_rule rule;
        struct mgr_xacl *added;

        if (xacl_rule_from_params(item, &rule, &err) ||
            xacl_add(mgr, port, &rule, &added, &err)) {
            VSW_ERR("config: port %s: dropping extended ACL entry: %s",
                    port->name, err.message);
            result = -1;
        }
    }
    return result;
}

int
mgr_xacl_rule_check(const json_t *obj, struct vsw_rpc_error *err)
{
    json_t *params = json_deep_copy(obj);
    struct vsw_xacl_rule rule;
    int error;

    error = params ? xacl_rule_from_params(params, &rule, err)
                   : vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR, "out of memory");
    json_decref(params);
    if (!error) {
        /* What only the compiler refuses (deny and stateful). */
        struct vsw_xacl_table *table;
        char why[VSW_RPC_MAX_MESSAGE];

        if (vsw_xacl_compile(&rule, 1, &table, why, sizeof why)) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS, "%s", why);
        }
        vsw_xacl_destroy(table);
    }
    return error ? -1 : 0;
}

static const struct vsw_rpc_method xacl_methods[] = {
    {"xacl.add", rpc_xacl_add, VSW_RPC_WRITES},
    {"xacl.del", rpc_xacl_del, VSW_RPC_WRITES},
    {"xacl.list", rpc_xacl_list, VSW_RPC_READS},
};

int
mgr_xacl_register_rpc(struct vsw_manager *mgr, struct vsw_rpc_server *server)
{
    return vsw_rpc_server_register(
        server, xacl_methods, sizeof xacl_methods / sizeof *xacl_methods, mgr);
}
