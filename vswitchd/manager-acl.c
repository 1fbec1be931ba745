/*
 * Port ACLs in the switch manager: the basic rules of each port and
 * their JSON-RPC methods (acl.*); for basic and extended rules alike, how
 * they are shown and saved, and the compiled policy (ACLs and guards)
 * each snapshot carries.  The extended rules' own parsing and methods
 * are in manager-xacl.c.
 *
 * A change is validated by compiling the port's whole candidate rule set
 * first, so a rule the datapath would refuse never reaches the
 * configuration.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "conntrack.h"
#include "log.h"
#include "manager-private.h"

#define MGR_MAX_ACLS_PER_PORT 16384

/* ---- Text forms ---- */

static const char *const acl_match_keys[] = {
    [VSW_ACL_MATCH_LOCAL_IP] = "local-ip",
    [VSW_ACL_MATCH_REMOTE_IP] = "remote-ip",
    [VSW_ACL_MATCH_LOCAL_MAC] = "local-mac",
    [VSW_ACL_MATCH_REMOTE_MAC] = "remote-mac",
};

static const char *
acl_action_name(uint8_t action)
{
    return action == VSW_ACL_ACTION_ALLOW  ? "allow"
           : action == VSW_ACL_ACTION_DENY ? "deny"
                                           : "meter";
}

const char *
mgr_acl_direction_name(uint8_t direction)
{
    return direction == VSW_ACL_DIR_IN ? "in" : "out";
}

/* An extended rule's prefix in the basic ACLs' text form (the two
 * structures agree field by field). */
static char *
xacl_prefix_format(const struct vsw_xacl_prefix *prefix, char *buf,
                   size_t size)
{
    struct vsw_acl_prefix same;

    same.family = prefix->family;
    same.plen = prefix->plen;
    memcpy(same.addr, prefix->addr, sizeof same.addr);
    return vsw_acl_prefix_format(&same, buf, size);
}

static char *
ports_format(const struct vsw_xacl_ports *ports, char *buf, size_t size)
{
    if (ports->lo == 0 && ports->hi == 65535) {
        snprintf(buf, size, "any");
    } else if (ports->lo == ports->hi) {
        snprintf(buf, size, "%u", ports->lo);
    } else {
        snprintf(buf, size, "%u-%u", ports->lo, ports->hi);
    }
    return buf;
}

static json_t *
protocol_json(int16_t protocol)
{
    switch (protocol) {
    case VSW_XACL_PROTO_ANY:
        return json_string("any");
    case VSW_XACL_PROTO_ICMP:
        return json_string("icmp");
    case 6:
        return json_string("tcp");
    case 17:
        return json_string("udp");
    default:
        return json_integer(protocol);
    }
}

static void
add_counters(json_t *obj, const struct vsw_rule_counters *counters)
{
    uint64_t packets, bytes;

    vsw_rule_counters_get(counters, &packets, &bytes);
    json_object_set_new(obj, "packets", json_integer((json_int_t)packets));
    json_object_set_new(obj, "bytes", json_integer((json_int_t)bytes));
}

static json_t *
acl_to_json(const struct mgr_acl *acl, bool with_counters)
{
    const struct vsw_acl_rule *rule = &acl->rule;
    char text[64];
    json_t *obj =
        json_pack("{s:I, s:s, s:s}", "id", (json_int_t)rule->id, "action",
                  acl_action_name(rule->action), "direction",
                  mgr_acl_direction_name(rule->direction));

    if (rule->match == VSW_ACL_MATCH_LOCAL_IP ||
        rule->match == VSW_ACL_MATCH_REMOTE_IP) {
        vsw_acl_prefix_format(&rule->ip, text, sizeof text);
    } else {
        vsw_acl_mac_format(&rule->mac, text, sizeof text);
    }
    json_object_set_new(obj, acl_match_keys[rule->match], json_string(text));
    if (with_counters) {
        add_counters(obj, acl->counters);
    }
    return obj;
}

json_t *
mgr_xacl_to_json(const struct mgr_xacl *xacl, bool with_counters)
{
    const struct vsw_xacl_rule *rule = &xacl->rule;
    char local[64], remote[64], lport[16], rport[16];
    json_t *obj = json_pack(
        "{s:s, s:s, s:i, s:o, s:s, s:s, s:s, s:s, s:b, s:i}", "action",
        rule->action == VSW_XACL_ACTION_ALLOW ? "allow" : "deny", "direction",
        mgr_acl_direction_name(rule->direction), "weight", (int)rule->weight,
        "protocol", protocol_json(rule->protocol), "local-ip",
        xacl_prefix_format(&rule->local_addr, local, sizeof local),
        "remote-ip",
        xacl_prefix_format(&rule->remote_addr, remote, sizeof remote),
        "local-port", ports_format(&rule->local_port, lport, sizeof lport),
        "remote-port", ports_format(&rule->remote_port, rport, sizeof rport),
        "stateful", rule->stateful, "isolation-id", (int)rule->isolation_id);

    if (rule->stateful) {
        json_object_set_new(obj, "idle-timeout",
                            json_integer(rule->idle_timeout_s));
    }
    if (with_counters) {
        add_counters(obj, xacl->counters);
    }
    return obj;
}

void
mgr_acls_to_json(const struct mgr_port *port, json_t *obj, bool with_counters)
{
    json_t *acls = json_array();
    json_t *xacls = json_array();

    for (const struct mgr_acl *a = port->acls; a; a = a->next) {
        json_array_append_new(acls, acl_to_json(a, with_counters));
    }
    for (const struct mgr_xacl *x = port->xacls; x; x = x->next) {
        json_array_append_new(xacls, mgr_xacl_to_json(x, with_counters));
    }
    json_object_set_new(obj, "acls", acls);
    json_object_set_new(obj, "xacls", xacls);
}

/* ---- Compiling ---- */

/* Compiles the basic rules of 'port' plus 'extra' ('n_extra' of them)
 * into '*tablep' (NULL when there are none).  Returns 0 or fills
 * 'err'. */
static int
compile_acls(const struct mgr_port *port, const struct vsw_acl_rule *extra,
             size_t n_extra, uint32_t skip_id, struct vsw_acl_table **tablep,
             struct vsw_rpc_error *err)
{
    struct vsw_acl_rule *rules;
    char why[VSW_RPC_MAX_MESSAGE];
    size_t n = 0;
    int error;

    for (const struct mgr_acl *a = port->acls; a; a = a->next) {
        n++;
    }
    *tablep = NULL;
    if (!n && !n_extra) {
        return 0;
    }
    if (n + n_extra > MGR_MAX_ACLS_PER_PORT) {
        return vsw_rpc_error(err, VSW_RPC_CONFLICT,
                             "port '%s' may have at most %d ACL rules",
                             port->name, MGR_MAX_ACLS_PER_PORT);
    }
    rules = malloc((n + n_extra) * sizeof *rules);
    if (!rules) {
        return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR, "out of memory");
    }
    n = 0;
    for (const struct mgr_acl *a = port->acls; a; a = a->next) {
        if (a->rule.id != skip_id) {
            rules[n++] = a->rule;
        }
    }
    if (n_extra) {
        memcpy(rules + n, extra, n_extra * sizeof *extra);
    }
    error = vsw_acl_compile(rules, n + n_extra, tablep, why, sizeof why);
    free(rules);
    if (error) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS, "%s", why);
    }
    return 0;
}

/* Compiles the extended rules of 'port' (without 'skip', with 'extra' if
 * not NULL) into '*tablep' and, if 'counters' is not NULL, the counters
 * by rule index into '*counters'.  Returns 0 or fills 'err'. */
int
mgr_compile_xacls(const struct mgr_port *port, const struct mgr_xacl *skip,
                  const struct vsw_xacl_rule *extra,
                  struct vsw_xacl_table **tablep,
                  struct vsw_rule_counters ***counters, size_t *n_counters,
                  struct vsw_rpc_error *err)
{
    struct vsw_xacl_rule *rules;
    char why[VSW_RPC_MAX_MESSAGE];
    size_t n = 0;
    int error;

    for (const struct mgr_xacl *x = port->xacls; x; x = x->next) {
        n++;
    }
    *tablep = NULL;
    if (!n && !extra) {
        return 0;
    }
    rules = malloc((n + 1) * sizeof *rules);
    if (counters) {
        *counters = calloc(n + 1, sizeof **counters);
    }
    if (!rules || (counters && !*counters)) {
        free(rules);
        if (counters) {
            free(*counters);
        }
        return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR, "out of memory");
    }
    n = 0;
    for (const struct mgr_xacl *x = port->xacls; x; x = x->next) {
        if (x != skip) {
            if (counters) {
                (*counters)[n] = x->counters;
            }
            rules[n++] = x->rule;
        }
    }
    if (extra) {
        rules[n++] = *extra;
    }
    error = vsw_xacl_compile(rules, n, tablep, why, sizeof why);
    free(rules);
    if (counters) {
        *n_counters = n;
    }
    if (error) {
        if (counters) {
            free(*counters);
        }
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS, "%s", why);
    }
    return 0;
}

/* The guard configuration the datapath reads, from what the user set. */
static void
guard_build(const struct mgr_port *port, struct vsw_guard_config *guard)
{
    const struct mgr_guard_cfg *cfg = &port->cfg.guard;

    memset(guard, 0, sizeof *guard);
    guard->mac_spoofing_allowed = cfg->mac_spoofing;
    guard->has_mac = port->cfg.mac.set;
    memcpy(guard->mac, port->cfg.mac.addr, sizeof guard->mac);
    guard->dhcp_guard = cfg->dhcp_guard;
    guard->router_guard = cfg->router_guard;
    /* Priorities from the physical network are kept: the reset is about
     * what VMs claim. */
    guard->ieee_priority_tag =
        cfg->ieee_priority_tag || port->cfg.type == MGR_PORT_UPLINK;
    guard->ipv6_unknown_nh_allowed = port->sw->cfg.ipv6_unknown_nh_allowed;
    guard->storm_limit_pps = cfg->storm_limit;
    guard->n_ips = (uint8_t)cfg->allowed_ips.n;
    for (unsigned i = 0; i < cfg->allowed_ips.n; i++) {
        memcpy(guard->ips[i].addr, cfg->allowed_ips.addr[i], 16);
        guard->ips[i].plen = 128;
    }
}

static int
acl_by_id(const void *a_, const void *b_)
{
    const struct mgr_acl *const *a = a_;
    const struct mgr_acl *const *b = b_;

    return (*a)->rule.id < (*b)->rule.id ? -1 : (*a)->rule.id > (*b)->rule.id;
}

/* Compiles the basic rules of 'port' into 'policy' with dense ids 1..n
 * in the order of the user's ids, with the counters and user ids by dense
 * id.  Returns 0 or -1. */
static int
policy_compile_acls(const struct mgr_port *port,
                    struct vsw_port_policy *policy)
{
    const struct mgr_acl **sorted;
    struct vsw_acl_rule *rules;
    char why[VSW_RPC_MAX_MESSAGE];
    size_t n = 0;
    int error = -1;

    for (const struct mgr_acl *a = port->acls; a; a = a->next) {
        n++;
    }
    sorted = malloc(n * sizeof *sorted);
    rules = malloc(n * sizeof *rules);
    policy->acl_counters = calloc(n + 1, sizeof *policy->acl_counters);
    policy->acl_rule_ids = calloc(n + 1, sizeof *policy->acl_rule_ids);
    if (!sorted || !rules || !policy->acl_counters || !policy->acl_rule_ids) {
        goto out;
    }
    policy->n_acl_counters = n + 1;
    n = 0;
    for (const struct mgr_acl *a = port->acls; a; a = a->next) {
        sorted[n++] = a;
    }
    qsort(sorted, n, sizeof *sorted, acl_by_id);
    for (size_t i = 0; i < n; i++) {
        rules[i] = sorted[i]->rule;
        rules[i].id = (uint32_t)(i + 1);
        policy->acl_counters[i + 1] = sorted[i]->counters;
        policy->acl_rule_ids[i + 1] = sorted[i]->rule.id;
    }
    error = vsw_acl_compile(rules, n, &policy->acl, why, sizeof why);
    if (error) {
        VSW_ERR("port %s: %s", port->name, why);
    }

out:
    free(sorted);
    free(rules);
    return error ? -1 : 0;
}

struct vsw_port_policy *
mgr_port_policy_build(const struct vsw_manager *mgr,
                      const struct mgr_port *port, int *error)
{
    struct vsw_port_policy *policy = calloc(1, sizeof *policy);
    struct vsw_rpc_error err;

    (void)mgr;
    *error = 0;
    if (!policy) {
        *error = -ENOMEM;
        return NULL;
    }
    guard_build(port, &policy->guard);
    if (port->acls && policy_compile_acls(port, policy)) {
        goto fail;
    }
    if (port->xacls && mgr_compile_xacls(port, NULL, NULL, &policy->xacl,
                                         &policy->xacl_counters,
                                         &policy->n_xacl_counters, &err)) {
        goto fail;
    }
    return policy;

fail:
    /* Every rule set was compiled once already when it was accepted. */
    VSW_ERR("port %s: cannot compile its ACLs", port->name);
    vsw_port_policy_destroy(policy);
    *error = -ENOMEM;
    return NULL;
}

/* ---- Changes ---- */

void
mgr_rule_counters_retired(void *counters)
{
    vsw_rule_counters_destroy(counters);
}

void
mgr_acls_destroy(struct vsw_manager *mgr, struct mgr_port *port)
{
    while (port->acls) {
        struct mgr_acl *a = port->acls;

        port->acls = a->next;
        mgr_retire(mgr, mgr_rule_counters_retired, a->counters);
        free(a);
    }
    while (port->xacls) {
        struct mgr_xacl *x = port->xacls;

        port->xacls = x->next;
        mgr_retire(mgr, mgr_rule_counters_retired, x->counters);
        free(x);
    }
}

/* Parses one basic rule of 'params' (without the id) into 'rule'. */
static int
acl_rule_from_params(json_t *params, struct vsw_acl_rule *rule, bool *both,
                     struct vsw_rpc_error *err)
{
    char why[VSW_RPC_MAX_MESSAGE];
    const char *action = NULL;
    const char *direction = NULL;
    int n_matches = 0;

    memset(rule, 0, sizeof *rule);
    if (vsw_rpc_get_string(params, "action", true, &action, err) ||
        vsw_rpc_get_string(params, "direction", true, &direction, err)) {
        return -1;
    }
    if (vsw_acl_parse_action(action, &rule->action, why, sizeof why)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS, "action: %s", why);
    }
    *both = !strcmp(direction, "both");
    if (!*both && strcmp(direction, "in") && strcmp(direction, "out")) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "direction must be in, out or both, not '%s'",
                             direction);
    }
    rule->direction =
        !strcmp(direction, "in") ? VSW_ACL_DIR_IN : VSW_ACL_DIR_OUT;
    for (int m = 0; m < 4; m++) {
        const char *text = NULL;
        int error;

        if (vsw_rpc_get_string(params, acl_match_keys[m], false, &text, err)) {
            return -1;
        }
        if (!text) {
            continue;
        }
        n_matches++;
        rule->match = (uint8_t)m;
        error = m <= VSW_ACL_MATCH_REMOTE_IP
                    ? vsw_acl_parse_prefix(text, &rule->ip, why, sizeof why)
                    : vsw_acl_parse_mac(text, &rule->mac, why, sizeof why);
        if (error) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS, "%s: %s",
                                 acl_match_keys[m], why);
        }
    }
    if (n_matches != 1) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "give exactly one of local-ip, remote-ip, "
                             "local-mac and remote-mac");
    }
    return 0;
}

/* The keys of acl.add with one rule; those of a rule alone (an element
 * of "rules") are the same without "port". */
static const char *const acl_add_keys[] = {
    "port",      "action",    "direction",  "local-ip",
    "remote-ip", "local-mac", "remote-mac", NULL};
static const char *const *const acl_rule_keys = acl_add_keys + 1;

/* Frees rules not linked to a port yet. */
static void
acls_free(struct mgr_acl **acls, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (acls[i]) {
            vsw_rule_counters_destroy(acls[i]->counters);
            free(acls[i]);
        }
    }
}

static int
compare_ids(const void *a_, const void *b_)
{
    const uint32_t *a = a_;
    const uint32_t *b = b_;

    return *a < *b ? -1 : *a > *b;
}

/* Checks that the 'n' ids of 'rules' and those of the rules of 'port'
 * are all different.  Returns 0 or fills 'err'. */
static int
check_ids_unique(const struct mgr_port *port, const struct vsw_acl_rule *rules,
                 size_t n, struct vsw_rpc_error *err)
{
    size_t n_ids = n;
    uint32_t *ids;
    int error = 0;

    for (const struct mgr_acl *a = port->acls; a; a = a->next) {
        n_ids++;
    }
    ids = malloc(n_ids * sizeof *ids);
    if (!ids) {
        return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR, "out of memory");
    }
    n_ids = 0;
    for (const struct mgr_acl *a = port->acls; a; a = a->next) {
        ids[n_ids++] = a->rule.id;
    }
    for (size_t i = 0; i < n; i++) {
        ids[n_ids++] = rules[i].id;
    }
    qsort(ids, n_ids, sizeof *ids, compare_ids);
    for (size_t i = 1; i < n_ids && !error; i++) {
        if (ids[i] == ids[i - 1]) {
            error = vsw_rpc_error(err, VSW_RPC_CONFLICT,
                                  "port '%s': ACL rule id %" PRIu32
                                  " is used twice",
                                  port->name, ids[i]);
        }
    }
    free(ids);
    return error;
}

/* Adds the 'n_objs' rules of 'objs' (each as acl.add takes one; "both"
 * makes two) to 'port' in memory, validated together with one compile;
 * stores the first new one in '*first'.  A rule keeps its id from
 * 'saved_ids' (a restore; not NULL, nonzero) or takes the port's next
 * one: ids only grow, so a deleted rule's id is not given again.  Nothing
 * is saved or published; on failure nothing changed.  With more than one
 * rule, an error names the rule ("rules[3]: ..."). */
static int
acl_add(struct vsw_manager *mgr, struct mgr_port *port, json_t *const *objs,
        const uint32_t *saved_ids, size_t n_objs, struct mgr_acl **first,
        struct vsw_rpc_error *err)
{
    struct vsw_acl_rule *rules = calloc(2 * n_objs, sizeof *rules);
    struct mgr_acl **added = calloc(2 * n_objs, sizeof *added);
    uint32_t next_id = port->next_acl_id;
    struct vsw_acl_table *table;
    struct mgr_acl **tail;
    size_t n = 0;
    int error = -1;

    if (!rules || !added) {
        vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n_objs; i++) {
        bool both = false;

        if (acl_rule_from_params(objs[i], &rules[n], &both, err)) {
            if (n_objs > 1) {
                char why[VSW_RPC_MAX_MESSAGE];

                snprintf(why, sizeof why, "%s", err->message);
                vsw_rpc_error(err, err->code, "rules[%zu]: %s", i, why);
            }
            goto out;
        }
        rules[n].id = saved_ids ? saved_ids[i] : VSW_ACL_NO_RULE;
        next_id = rules[n].id > next_id ? rules[n].id : next_id;
        n++;
        if (both) {
            rules[n] = rules[n - 1];
            rules[n].direction = VSW_ACL_DIR_IN;
            rules[n].id = VSW_ACL_NO_RULE;
            n++;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (rules[i].id != VSW_ACL_NO_RULE) {
            continue;
        }
        if (next_id == UINT32_MAX) {
            vsw_rpc_error(err, VSW_RPC_CONFLICT,
                          "port '%s' has used up its ACL rule ids (the last "
                          "is %" PRIu32 "); delete the port's rules and "
                          "the port to start again",
                          port->name, next_id);
            goto out;
        }
        rules[i].id = ++next_id;
    }
    if ((saved_ids && check_ids_unique(port, rules, n, err)) ||
        compile_acls(port, rules, n, 0, &table, err)) {
        goto out;
    }
    vsw_acl_destroy(table);
    for (size_t i = 0; i < n; i++) {
        added[i] = calloc(1, sizeof *added[i]);
        if (added[i]) {
            added[i]->counters = vsw_rule_counters_create(
                vsw_datapath_n_counter_slots(mgr->dp));
        }
        if (!added[i] || !added[i]->counters) {
            acls_free(added, i + 1);
            vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR, "out of memory");
            goto out;
        }
        added[i]->rule = rules[i];
    }
    for (tail = &port->acls; *tail; tail = &(*tail)->next) {
        continue;
    }
    for (size_t i = 0; i < n; i++) {
        *tail = added[i];
        tail = &added[i]->next;
    }
    port->next_acl_id = next_id;
    *first = added[0];
    error = 0;

out:
    free(rules);
    free(added);
    return error;
}

/* The rule objects of an acl.add request: "rules" (an array of rule
 * objects, added together) or the request itself (one rule).  Stores a
 * new array of borrowed objects in '*objsp' and their number in '*np';
 * returns 0 or fills 'err'. */
static int
acl_rule_objects(json_t *params, json_t ***objsp, size_t *np,
                 struct vsw_rpc_error *err)
{
    static const char *const batch_keys[] = {"port", "rules", NULL};
    json_t *list = json_object_get(params, "rules");
    json_t **objs;
    size_t n;

    if (!list) {
        if (vsw_rpc_check_keys(params, acl_add_keys, err)) {
            return -1;
        }
        objs = malloc(sizeof *objs);
        if (!objs) {
            return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR, "out of memory");
        }
        objs[0] = params;
        *objsp = objs;
        *np = 1;
        return 0;
    }
    for (size_t i = 0; acl_rule_keys[i]; i++) {
        if (json_object_get(params, acl_rule_keys[i])) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "give either one rule or 'rules', not "
                                 "both ('%s' is a rule's key)",
                                 acl_rule_keys[i]);
        }
    }
    if (vsw_rpc_check_keys(params, batch_keys, err)) {
        return -1;
    }
    n = json_array_size(list);
    if (!json_is_array(list) || !n || n > MGR_MAX_ACLS_PER_PORT) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "'rules' must be an array of 1 to %d rule "
                             "objects",
                             MGR_MAX_ACLS_PER_PORT);
    }
    objs = malloc(n * sizeof *objs);
    if (!objs) {
        return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        objs[i] = json_array_get(list, i);
        if (!json_is_object(objs[i])) {
            free(objs);
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "rules[%zu]: not an object", i);
        }
        if (vsw_rpc_check_keys(objs[i], acl_rule_keys, err)) {
            char why[VSW_RPC_MAX_MESSAGE];

            snprintf(why, sizeof why, "%s", err->message);
            free(objs);
            return vsw_rpc_error(err, err->code, "rules[%zu]: %s", i, why);
        }
    }
    *objsp = objs;
    *np = n;
    return 0;
}

/* Takes 'acl' out of 'port' (the caller frees it). */
static void
acl_unlink(struct mgr_port *port, struct mgr_acl *acl)
{
    struct mgr_acl **pp;

    for (pp = &port->acls; *pp != acl; pp = &(*pp)->next) {
        continue;
    }
    *pp = acl->next;
}

static int
rpc_acl_add(json_t *params, json_t **result, struct vsw_rpc_error *err,
            void *mgr_)
{
    struct vsw_manager *mgr = mgr_;
    struct mgr_acl *first;
    struct mgr_port *port;
    json_t **objs = NULL;
    size_t n_objs = 0;
    json_t *ids;
    int error;

    error = acl_rule_objects(params, &objs, &n_objs, err) ||
            mgr_rpc_get_port(mgr, params, "port", &port, err) ||
            mgr_ext_port_check(mgr, port->sw, port->name, VSW_EXT_PORT_POLICY,
                               params, err) ||
            acl_add(mgr, port, objs, NULL, n_objs, &first, err);
    free(objs);
    if (error) {
        return -1;
    }
    if (mgr_commit(mgr, err)) {
        for (struct mgr_acl *a = first, *next; a; a = next) {
            next = a->next;
            acl_unlink(port, a);
            vsw_rule_counters_destroy(a->counters);
            free(a);
        }
        return -1;
    }
    ids = json_array();
    for (struct mgr_acl *a = first; a; a = a->next) {
        json_array_append_new(ids, json_integer(a->rule.id));
    }
    *result = json_pack("{s:o}", "ids", ids);
    return 0;
}

void
mgr_acl_destroy(struct vsw_manager *mgr, struct mgr_port *port,
                struct mgr_acl *acl)
{
    acl_unlink(port, acl);
    mgr_retire(mgr, mgr_rule_counters_retired, acl->counters);
    free(acl);
}

/* The port of a deletion request ('params' "port"), or NULL with 'err'
 * clear if it has none and the request says "if-exists"; else NULL with
 * 'err' filled. */
struct mgr_port *
mgr_acl_del_port_lookup(struct vsw_manager *mgr, json_t *params,
                        bool *if_exists, struct vsw_rpc_error *err)
{
    struct mgr_port *port = NULL;
    const char *name;

    err->code = 0;
    if (vsw_rpc_get_string(params, "port", true, &name, err) ||
        vsw_rpc_get_bool(params, "if-exists", false, if_exists, err) ||
        (*if_exists && !mgr_find_port(mgr, name)) ||
        mgr_rpc_get_port(mgr, params, "port", &port, err) ||
        mgr_ext_port_check(mgr, port->sw, port->name, VSW_EXT_PORT_POLICY,
                           params, err)) {
        return NULL;
    }
    return port;
}

static int
rpc_acl_del(json_t *params, json_t **result, struct vsw_rpc_error *err,
            void *mgr_)
{
    static const char *const keys[] = {"port", "id", "if-exists", NULL};
    struct vsw_manager *mgr = mgr_;
    struct mgr_acl *acl = NULL;
    bool if_exists = false;
    struct mgr_port *port;
    long long id = 0;
    int deferred;

    (void)result;
    if (vsw_rpc_check_keys(params, keys, err) ||
        vsw_rpc_get_int(params, "id", true, 1, UINT32_MAX, &id, err)) {
        return -1;
    }
    port = mgr_acl_del_port_lookup(mgr, params, &if_exists, err);
    if (!port) {
        return err->code ? -1 : 0;
    }
    for (acl = port->acls; acl && acl->rule.id != id; acl = acl->next) {
        continue;
    }
    if (!acl && if_exists) {
        return 0;
    }
    if (!acl) {
        return vsw_rpc_error(err, VSW_RPC_NOT_FOUND,
                             "port '%s' has no ACL rule %lld", port->name, id);
    }
    deferred = mgr_txn_defer_delete(mgr, MGR_TXN_DELETE_ACL, acl, port, err);
    if (deferred) {
        return deferred < 0 ? -1 : 0;
    }
    acl_unlink(port, acl);
    if (mgr_commit(mgr, err)) {
        acl->next = port->acls;
        port->acls = acl;
        return -1;
    }
    /* Published already: no snapshot names the rule any more. */
    vsw_datapath_defer(mgr->dp, mgr_rule_counters_retired, acl->counters);
    free(acl);
    return 0;
}

static int
rpc_acl_list(json_t *params, json_t **result, struct vsw_rpc_error *err,
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
    *result = json_pack("{s:s, s:O}", "port", port->name, "rules",
                        json_object_get(obj, "acls"));
    json_decref(obj);
    return 0;
}

/* The saved id of the basic rule 'item', or VSW_ACL_NO_RULE if it has
 * none usable (it then takes a new one). */
static uint32_t
saved_acl_id(const json_t *item)
{
    const json_t *id = json_object_get(item, "id");

    return mgr_acl_id_valid(id) ? (uint32_t)json_integer_value(id)
                                : VSW_ACL_NO_RULE;
}

bool
mgr_acl_id_valid(const json_t *id)
{
    return json_is_integer(id) && json_integer_value(id) >= 1 &&
           json_integer_value(id) <= UINT32_MAX;
}

int
mgr_acls_restore(struct vsw_manager *mgr, struct mgr_port *port, json_t *obj)
{
    json_t *acls = json_object_get(obj, "acls");
    size_t n = json_array_size(acls);
    json_t **items = calloc(n ? n : 1, sizeof *items);
    uint32_t *ids = calloc(n ? n : 1, sizeof *ids);
    struct vsw_rpc_error err;
    struct mgr_acl *added;
    int result = 0;

    if (!items || !ids) {
        VSW_ERR("config: port %s: out of memory for its ACLs", port->name);
        free(items);
        free(ids);
        return -1;
    }
    /* A rule keeps its saved id, its name; rules without one are numbered
     * after the highest. */
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(acls, i);

        items[i] = json_deep_copy(item);
        json_object_del(items[i], "id");
        ids[i] = saved_acl_id(item);
        port->next_acl_id =
            ids[i] > port->next_acl_id ? ids[i] : port->next_acl_id;
    }
    /* All in one compile (a port's thousands of rules restore in one go,
     * not one compile per rule), or, if that fails, one by one, dropping
     * only the unusable ones. */
    if (n && acl_add(mgr, port, items, ids, n, &added, &err)) {
        for (size_t i = 0; i < n; i++) {
            if (acl_add(mgr, port, &items[i], &ids[i], 1, &added, &err)) {
                VSW_ERR("config: port %s: dropping ACL entry: %s", port->name,
                        err.message);
                result = -1;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        json_decref(items[i]);
    }
    free(items);
    free(ids);
    result |= mgr_xacls_restore(mgr, port, obj);
    return result;
}

int
mgr_acl_rule_check(const json_t *obj, bool extended, struct vsw_rpc_error *err)
{
    json_t *params;
    struct vsw_acl_rule rule;
    bool both;
    int error;

    if (!json_is_object(obj)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "a rule must be a JSON object");
    }
    if (extended) {
        return mgr_xacl_rule_check(obj, err);
    }
    /* The saved id is the rule's name, kept at restore. */
    params = json_deep_copy(obj);
    json_object_del(params, "id");
    error = vsw_rpc_check_keys(params, acl_rule_keys, err) ||
            acl_rule_from_params(params, &rule, &both, err);
    json_decref(params);
    if (!error) {
        /* What only the compiler refuses (a meter on a MAC). */
        struct vsw_acl_table *table;
        char why[VSW_RPC_MAX_MESSAGE];

        rule.id = 1;
        if (vsw_acl_compile(&rule, 1, &table, why, sizeof why)) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS, "%s", why);
        }
        vsw_acl_destroy(table);
    }
    return error ? -1 : 0;
}

static const struct vsw_rpc_method acl_methods[] = {
    {"acl.add", rpc_acl_add, VSW_RPC_WRITES},
    {"acl.del", rpc_acl_del, VSW_RPC_WRITES},
    {"acl.list", rpc_acl_list, VSW_RPC_READS},
};

int
mgr_acl_register_rpc(struct vsw_manager *mgr, struct vsw_rpc_server *server)
{
    return vsw_rpc_server_register(
        server, acl_methods, sizeof acl_methods / sizeof *acl_methods, mgr);
}
