/*
 * Metering: meters per port over the datapath's rule and port counters,
 * their rates, metering.json, and the metering.* methods.  See
 * metering.h for the model.
 *
 * metering.json (format 1), written crash-safely like config.json:
 *
 *   {"format": 1,
 *    "ports": [{"name": "vm1",
 *               "meters": [{"direction": "in", "rule": 7,
 *                           "match": "remote-ip 10.0.0.0/8",
 *                           "bytes": 1234, "packets": 12}, ...]}]}
 *
 * "rule" is the basic ACL rule id, or null for the total of a direction
 * without meter rules ("match": "total").  At start a saved rule meter is
 * given back only to a meter rule with the same id, direction and match;
 * any other entry is logged and left out.
 */
#include "metering.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config-store.h"
#include "log.h"
#include "manager-private.h"
#include "timeutil.h"

#define METERING_FORMAT 1

/* Samples kept per meter: one per tick, enough for a 10 s rate. */
#define RING_SIZE 11

/* One sample of a meter's totals. */
struct meter_sample {
    int64_t ms;       /* when (monotonic) */
    uint64_t bytes;   /* the meter's bytes then */
    uint64_t packets; /* its packets then */
};

/* One meter of a port. */
struct meter {
    uint8_t direction;    /* VSW_ACL_DIR_IN or VSW_ACL_DIR_OUT */
    uint32_t rule_id;     /* the meter rule, or 0 for the direction's total */
    char match[80];       /* "remote-ip 10.0.0.0/8" or "total" */
    bool counting;        /* adds its source's counts (metering on and, for a
                             total, no meter rule in its direction) */
    const void *source;   /* what it read last: rule counters or a port
                             runtime; NULL: none */
    uint64_t raw_bytes;   /* the source's bytes then */
    uint64_t raw_packets; /* the source's packets then */
    uint64_t bytes;       /* the meter's total */
    uint64_t packets;     /* the meter's total */
    struct meter_sample ring[RING_SIZE]; /* newest at ring_head - 1 */
    unsigned ring_head;                  /* next slot to write */
    unsigned ring_n;                     /* samples held */
};

/* The meters of a port (mgr_port.meters). */
struct mgr_port_meters {
    size_t n;             /* entries in 'meters' */
    struct meter *meters; /* in, then out; rules in id order, totals
                             last */
};

/* Daemon-wide metering state (vsw_manager.metering). */
struct mgr_metering {
    char path[PATH_MAX];  /* STATE/metering.json */
    int64_t last_save_ms; /* when it was last written (or read) */
    bool dirty;           /* a count changed since */
};

/* ---- Sources ---- */

/* The source of 'm' on 'port' now, and its counts. */
static const void *
meter_source(const struct mgr_port *port, const struct meter *m,
             uint64_t *bytes, uint64_t *packets)
{
    *bytes = *packets = 0;
    if (m->rule_id) {
        for (const struct mgr_acl *a = port->acls; a; a = a->next) {
            if (a->rule.id == m->rule_id &&
                a->rule.action == VSW_ACL_ACTION_METER &&
                a->rule.direction == m->direction) {
                vsw_rule_counters_get(a->counters, packets, bytes);
                return a->counters;
            }
        }
        return NULL;
    }
    if (port->rt) {
        struct vsw_port_counters c;

        vsw_port_rt_get_counters(port->rt, &c);
        /* In is toward the VM: what the port sent it. */
        *bytes = m->direction == VSW_ACL_DIR_IN ? c.tx_bytes : c.rx_bytes;
        *packets =
            m->direction == VSW_ACL_DIR_IN ? c.tx_packets : c.rx_packets;
    }
    return port->rt;
}

/* Adds what the source of 'm' counted since it was last read, if 'm' is
 * counting, and remembers where the source stands. */
static void
meter_fold(struct vsw_manager *mgr, const struct mgr_port *port,
           struct meter *m)
{
    uint64_t bytes, packets;
    const void *source = meter_source(port, m, &bytes, &packets);

    if (m->counting && source) {
        uint64_t add_bytes = bytes, add_packets = packets;

        /* A new source (a device re-created) started from zero since the
         * last read. */
        if (source == m->source && bytes >= m->raw_bytes &&
            packets >= m->raw_packets) {
            add_bytes -= m->raw_bytes;
            add_packets -= m->raw_packets;
        }
        if ((add_bytes || add_packets) && mgr->metering) {
            mgr->metering->dirty = true;
        }
        m->bytes += add_bytes;
        m->packets += add_packets;
    }
    m->source = source;
    m->raw_bytes = bytes;
    m->raw_packets = packets;
}

static void
port_fold(struct vsw_manager *mgr, struct mgr_port *port)
{
    if (port->meters) {
        for (size_t i = 0; i < port->meters->n; i++) {
            meter_fold(mgr, port, &port->meters->meters[i]);
        }
    }
}

static void
fold_all(struct vsw_manager *mgr)
{
    for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        for (struct mgr_port *p = sw->ports; p; p = p->next) {
            port_fold(mgr, p);
        }
    }
}

/* ---- The meters a port should have ---- */

static void
rule_match_text(const struct vsw_acl_rule *rule, char *buf, size_t size)
{
    char prefix[64];

    vsw_acl_prefix_format(&rule->ip, prefix, sizeof prefix);
    snprintf(buf, size, "%s %s",
             rule->match == VSW_ACL_MATCH_LOCAL_IP ? "local-ip" : "remote-ip",
             prefix);
}

static struct meter *
find_meter(struct mgr_port_meters *pm, uint8_t direction, uint32_t rule_id)
{
    for (size_t i = 0; pm && i < pm->n; i++) {
        if (pm->meters[i].direction == direction &&
            pm->meters[i].rule_id == rule_id) {
            return &pm->meters[i];
        }
    }
    return NULL;
}

static bool
has_meter_rule(const struct mgr_port *port, uint8_t direction)
{
    for (const struct mgr_acl *a = port->acls; a; a = a->next) {
        if (a->rule.action == VSW_ACL_ACTION_METER &&
            a->rule.direction == direction) {
            return true;
        }
    }
    return false;
}

static int
meter_order(const void *a_, const void *b_)
{
    const struct meter *a = a_, *b = b_;

    if (a->direction != b->direction) {
        return a->direction == VSW_ACL_DIR_IN ? -1 : 1;
    }
    if (!a->rule_id != !b->rule_id) {
        return a->rule_id ? -1 : 1;
    }
    return a->rule_id < b->rule_id ? -1 : a->rule_id > b->rule_id;
}

/* Rebuilds the meter list of 'port' (which has metering state): one per
 * meter rule, a total per direction while it has no meter rule or has a
 * count to keep; meters of rules that are gone go with them.  Counts of
 * meters that stay are kept.  Returns 0 or -ENOMEM (nothing changed). */
static int
port_rebuild(struct mgr_port *port)
{
    struct mgr_port_meters *pm = port->meters;
    size_t n_max = 2;
    struct meter *fresh;
    size_t n = 0;

    for (const struct mgr_acl *a = port->acls; a; a = a->next) {
        n_max += a->rule.action == VSW_ACL_ACTION_METER;
    }
    fresh = calloc(n_max, sizeof *fresh);
    if (!fresh) {
        return -ENOMEM;
    }
    for (const struct mgr_acl *a = port->acls; a; a = a->next) {
        struct meter *old;

        if (a->rule.action != VSW_ACL_ACTION_METER) {
            continue;
        }
        old = find_meter(pm, a->rule.direction, a->rule.id);
        if (old) {
            fresh[n] = *old;
        } else {
            fresh[n].direction = a->rule.direction;
            fresh[n].rule_id = a->rule.id;
        }
        rule_match_text(&a->rule, fresh[n].match, sizeof fresh[n].match);
        n++;
    }
    for (uint8_t dir = VSW_ACL_DIR_IN; dir <= VSW_ACL_DIR_OUT; dir++) {
        struct meter *old = find_meter(pm, dir, 0);
        bool wanted = !has_meter_rule(port, dir);

        if (old && (wanted || old->bytes || old->packets)) {
            fresh[n++] = *old;
        } else if (wanted) {
            fresh[n].direction = dir;
            snprintf(fresh[n].match, sizeof fresh[n].match, "total");
            n++;
        }
    }
    qsort(fresh, n, sizeof *fresh, meter_order);
    free(pm->meters);
    pm->meters = fresh;
    pm->n = n;
    return 0;
}

/* Folds 'port', then brings its meters in line with its rules and its
 * `metering` setting.  A port gets metering state when metering is first
 * turned on and keeps it (and its counts) when it is turned off. */
static void
port_sync(struct vsw_manager *mgr, struct mgr_port *port)
{
    port_fold(mgr, port);
    if (!port->meters) {
        if (!port->cfg.metering) {
            return;
        }
        port->meters = calloc(1, sizeof *port->meters);
        if (!port->meters) {
            VSW_ERR("port %s: out of memory for its meters", port->name);
            return;
        }
    }
    if (port_rebuild(port)) {
        VSW_ERR("port %s: out of memory for its meters", port->name);
    }
    if (mgr->metering) {
        mgr->metering->dirty = true;
    }
    for (size_t i = 0; i < port->meters->n; i++) {
        struct meter *m = &port->meters->meters[i];
        bool counting = port->cfg.metering &&
                        (m->rule_id || !has_meter_rule(port, m->direction));

        if (counting && !m->counting) {
            /* Counting starts from where the source stands now. */
            m->source = meter_source(port, m, &m->raw_bytes, &m->raw_packets);
        }
        m->counting = counting;
    }
}

void
mgr_metering_sync(struct vsw_manager *mgr)
{
    for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        for (struct mgr_port *p = sw->ports; p; p = p->next) {
            port_sync(mgr, p);
        }
    }
}

void
mgr_metering_port_destroy(struct mgr_port *port)
{
    if (port && port->meters) {
        free(port->meters->meters);
        free(port->meters);
        port->meters = NULL;
    }
}

/* ---- Rates ---- */

static void
meter_sample(struct meter *m, int64_t now_ms)
{
    m->ring[m->ring_head] = (struct meter_sample){
        .ms = now_ms, .bytes = m->bytes, .packets = m->packets};
    m->ring_head = (m->ring_head + 1) % RING_SIZE;
    if (m->ring_n < RING_SIZE) {
        m->ring_n++;
    }
}

/* The rate of 'm' over the last 'seconds' samples (fewer if it has not
 * that many): bits and packets per second.  0 without two samples. */
static void
meter_rate(const struct meter *m, unsigned seconds, uint64_t *bps,
           uint64_t *pps)
{
    const struct meter_sample *newest, *oldest;
    unsigned back;
    int64_t dt;

    *bps = *pps = 0;
    if (m->ring_n < 2) {
        return;
    }
    back = seconds < m->ring_n - 1 ? seconds : m->ring_n - 1;
    newest = &m->ring[(m->ring_head + RING_SIZE - 1) % RING_SIZE];
    oldest = &m->ring[(m->ring_head + RING_SIZE - 1 - back) % RING_SIZE];
    dt = newest->ms - oldest->ms;
    if (dt <= 0 || newest->bytes < oldest->bytes) {
        return;
    }
    *bps = (newest->bytes - oldest->bytes) * 8000 / (uint64_t)dt;
    *pps = (newest->packets - oldest->packets) * 1000 / (uint64_t)dt;
}

static void
meter_clear_ring(struct meter *m)
{
    m->ring_head = m->ring_n = 0;
}

/* ---- JSON ---- */

static json_t *
meter_to_json(const struct meter *m)
{
    return json_pack("{s:s, s:o, s:s, s:I, s:I}", "direction",
                     mgr_acl_direction_name(m->direction), "rule",
                     m->rule_id ? json_integer(m->rule_id) : json_null(),
                     "match", m->match, "bytes", (json_int_t)m->bytes,
                     "packets", (json_int_t)m->packets);
}

json_t *
mgr_metering_port_to_json(struct vsw_manager *mgr, struct mgr_port *port)
{
    json_t *list = json_array();

    port_fold(mgr, port);
    for (size_t i = 0; port->meters && i < port->meters->n; i++) {
        json_array_append_new(list, meter_to_json(&port->meters->meters[i]));
    }
    return list;
}

/* One saved or exported meter: its direction, rule id (0: total), match
 * and counts.  Returns 0 or fills 'err'. */
static int
meter_from_json(const json_t *obj, struct meter *m, struct vsw_rpc_error *err)
{
    static const char *const keys[] = {"direction", "rule",    "match",
                                       "bytes",     "packets", NULL};
    const char *direction = NULL;
    const char *match = NULL;
    json_t *rule = json_object_get(obj, "rule");
    long long bytes, packets;

    memset(m, 0, sizeof *m);
    if (!json_is_object(obj)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "a meter must be an object");
    }
    if (vsw_rpc_check_keys(obj, keys, err) ||
        vsw_rpc_get_string(obj, "direction", true, &direction, err) ||
        vsw_rpc_get_string(obj, "match", true, &match, err) ||
        vsw_rpc_get_int(obj, "bytes", true, 0, INT64_MAX, &bytes, err) ||
        vsw_rpc_get_int(obj, "packets", true, 0, INT64_MAX, &packets, err)) {
        return -1;
    }
    if (strcmp(direction, "in") && strcmp(direction, "out")) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "meter direction must be in or out, not '%s'",
                             direction);
    }
    if (!rule || (!json_is_null(rule) &&
                  (!json_is_integer(rule) || json_integer_value(rule) < 1 ||
                   json_integer_value(rule) > UINT32_MAX))) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "meter rule must be a rule id or null (the "
                             "total)");
    }
    m->direction = !strcmp(direction, "in") ? VSW_ACL_DIR_IN : VSW_ACL_DIR_OUT;
    m->rule_id = json_is_null(rule) ? 0 : (uint32_t)json_integer_value(rule);
    if (!m->rule_id && strcmp(match, "total")) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "a meter without a rule must have match "
                             "\"total\"");
    }
    snprintf(m->match, sizeof m->match, "%s", match);
    m->bytes = (uint64_t)bytes;
    m->packets = (uint64_t)packets;
    return 0;
}

/* Gives 'port' the counts of the saved or imported meter 'saved' if it
 * has that meter (a rule meter: a meter rule with the same id, direction
 * and match).  Returns false if it has not. */
static bool
port_take_meter(struct mgr_port *port, const struct meter *saved)
{
    struct meter *m =
        find_meter(port->meters, saved->direction, saved->rule_id);

    if (!m && !saved->rule_id && port->meters) {
        /* A total superseded by a meter rule still has a count. */
        struct meter *grown = realloc(port->meters->meters,
                                      (port->meters->n + 1) * sizeof *grown);

        if (!grown) {
            return false;
        }
        port->meters->meters = grown;
        m = &grown[port->meters->n++];
        memset(m, 0, sizeof *m);
        m->direction = saved->direction;
        snprintf(m->match, sizeof m->match, "total");
        qsort(grown, port->meters->n, sizeof *grown, meter_order);
        m = find_meter(port->meters, saved->direction, 0);
    }
    if (!m || strcmp(m->match, saved->match)) {
        return false;
    }
    m->bytes = saved->bytes;
    m->packets = saved->packets;
    meter_clear_ring(m);
    return true;
}

/* Creates the metering state of 'port' if it has none (a port restored
 * or imported with counts but metering off keeps them). */
static bool
port_ensure_meters(struct mgr_port *port)
{
    if (!port->meters) {
        port->meters = calloc(1, sizeof *port->meters);
        if (!port->meters || port_rebuild(port)) {
            mgr_metering_port_destroy(port);
            return false;
        }
    }
    return true;
}

int
mgr_metering_check_json(const json_t *meters, const json_t *acls,
                        struct vsw_rpc_error *err)
{
    const json_t *obj;
    size_t i;

    if (!json_is_array(meters)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "meters must be an array");
    }
    json_array_foreach(meters, i, obj)
    {
        struct meter m;
        const json_t *acl;
        bool found = false;
        size_t j;

        if (meter_from_json(obj, &m, err)) {
            char why[VSW_RPC_MAX_MESSAGE];

            snprintf(why, sizeof why, "%s", err->message);
            return vsw_rpc_error(err, err->code, "meters[%zu]: %s", i, why);
        }
        for (size_t k = 0; k < i; k++) {
            struct meter other;

            meter_from_json(json_array_get(meters, k), &other, err);
            if (other.direction == m.direction && other.rule_id == m.rule_id) {
                return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                     "meters[%zu]: a second meter for the "
                                     "same rule and direction",
                                     i);
            }
        }
        if (!m.rule_id) {
            continue;
        }
        json_array_foreach(acls, j, acl)
        {
            const char *action =
                json_string_value(json_object_get(acl, "action"));
            const char *dir =
                json_string_value(json_object_get(acl, "direction"));

            if (json_integer_value(json_object_get(acl, "id")) == m.rule_id &&
                action && !strcmp(action, "meter") && dir &&
                !strcmp(dir, mgr_acl_direction_name(m.direction))) {
                found = true;
            }
        }
        if (!found) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "meters[%zu]: rule %u is not a meter rule "
                                 "of direction %s in acls",
                                 i, m.rule_id,
                                 mgr_acl_direction_name(m.direction));
        }
    }
    return 0;
}

/* ---- metering.json ---- */

static json_t *
metering_to_json(struct vsw_manager *mgr)
{
    json_t *ports = json_array();

    for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        for (struct mgr_port *p = sw->ports; p; p = p->next) {
            if (p->meters) {
                json_array_append_new(
                    ports, json_pack("{s:s, s:o}", "name", p->name, "meters",
                                     mgr_metering_port_to_json(mgr, p)));
            }
        }
    }
    return json_pack("{s:i, s:o}", "format", METERING_FORMAT, "ports", ports);
}

static bool
any_meters(const struct vsw_manager *mgr)
{
    for (const struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        for (const struct mgr_port *p = sw->ports; p; p = p->next) {
            if (p->meters) {
                return true;
            }
        }
    }
    return false;
}

/* Folds every meter and writes metering.json, or removes it when no port
 * has meters (a daemon that never meters keeps no such file).  Returns 0
 * or a negative errno (logged). */
static int
metering_save(struct vsw_manager *mgr)
{
    json_t *root;
    int error;

    fold_all(mgr);
    if (!any_meters(mgr)) {
        error =
            unlink(mgr->metering->path) < 0 && errno != ENOENT ? -errno : 0;
    } else {
        root = metering_to_json(mgr);
        error = root ? vsw_config_save(mgr->metering->path, root) : -ENOMEM;
        json_decref(root);
    }
    if (error) {
        VSW_ERR("saving %s: %s", mgr->metering->path, strerror(-error));
        return error;
    }
    mgr->metering->last_save_ms = vsw_time_msec();
    mgr->metering->dirty = false;
    return 0;
}

void
mgr_metering_tick(struct vsw_manager *mgr, int64_t now_ms)
{
    bool due = false;

    for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        for (struct mgr_port *p = sw->ports; p; p = p->next) {
            port_fold(mgr, p);
            for (size_t i = 0; p->meters && i < p->meters->n; i++) {
                meter_sample(&p->meters->meters[i], now_ms);
            }
        }
        if (mgr->metering &&
            now_ms - mgr->metering->last_save_ms >=
                (int64_t)sw->cfg.metering_save_interval * 1000) {
            due = true;
        }
    }
    if (due && mgr->metering->dirty) {
        metering_save(mgr);
    }
}

/* Moves a corrupt metering.json aside, so that its counts are never lost
 * without a trace and the next save does not overwrite them. */
static void
keep_corrupt(const struct mgr_metering *metering, const char *why)
{
    char aside[PATH_MAX + 32];

    snprintf(aside, sizeof aside, "%s.corrupt-%lld", metering->path,
             (long long)time(NULL));
    if (rename(metering->path, aside) < 0) {
        VSW_ERR("metering: %s; cannot move it aside to %s (%s): counting "
                "starts from zero and the next save replaces it",
                why, aside, strerror(errno));
        return;
    }
    VSW_ERR("metering: %s; kept as %s, counting starts from zero", why, aside);
}

/* Checks the whole document 'root' before anything is taken from it.
 * Returns 0 or writes why into 'why'. */
static int
metering_check(const json_t *root, char *why, size_t size)
{
    const json_t *ports = json_object_get(root, "ports");
    const json_t *entry;
    size_t i;

    if (json_integer_value(json_object_get(root, "format")) !=
            METERING_FORMAT ||
        !json_is_array(ports)) {
        snprintf(why, size,
                 "not a format %d metering file (no \"format\": "
                 "%d or no \"ports\" list)",
                 METERING_FORMAT, METERING_FORMAT);
        return -1;
    }
    json_array_foreach(ports, i, entry)
    {
        const json_t *meters = json_object_get(entry, "meters");
        const json_t *obj;
        size_t j;

        if (!json_is_string(json_object_get(entry, "name")) ||
            !json_is_array(meters)) {
            snprintf(why, size, "ports[%zu]: no name or no meters list", i);
            return -1;
        }
        json_array_foreach(meters, j, obj)
        {
            struct vsw_rpc_error err;
            struct meter m;

            if (meter_from_json(obj, &m, &err)) {
                snprintf(why, size, "ports[%zu].meters[%zu]: %s", i, j,
                         err.message);
                return -1;
            }
        }
    }
    return 0;
}

/* Gives the ports the counts of 'root' (checked). */
static void
metering_apply(struct vsw_manager *mgr, const json_t *root)
{
    const json_t *entry;
    size_t i;

    json_array_foreach(json_object_get(root, "ports"), i, entry)
    {
        const char *name = json_string_value(json_object_get(entry, "name"));
        struct mgr_port *port = mgr_find_port(mgr, name);
        const json_t *obj;
        size_t j;

        if (!port) {
            VSW_WARN("metering: port %s is no longer configured; its saved "
                     "meters are left out",
                     name);
            continue;
        }
        if (!port_ensure_meters(port)) {
            VSW_ERR("port %s: out of memory for its meters", name);
            continue;
        }
        json_array_foreach(json_object_get(entry, "meters"), j, obj)
        {
            struct vsw_rpc_error ignored;
            struct meter m;

            meter_from_json(obj, &m, &ignored);
            if (!port_take_meter(port, &m)) {
                VSW_WARN("metering: port %s: saved meter %s %s (rule %u) "
                         "matches no meter rule any more; its %llu bytes, "
                         "%llu packets are left out",
                         name, mgr_acl_direction_name(m.direction), m.match,
                         m.rule_id, (unsigned long long)m.bytes,
                         (unsigned long long)m.packets);
            }
        }
    }
}

void
mgr_metering_restore(struct vsw_manager *mgr)
{
    char why[512] = "";
    json_t *root = NULL;
    int error;

    mgr->metering = calloc(1, sizeof *mgr->metering);
    if (!mgr->metering) {
        VSW_ERR("metering: out of memory; meters are off");
        return;
    }
    snprintf(mgr->metering->path, sizeof mgr->metering->path,
             "%s/metering.json", mgr->state_dir);
    mgr->metering->last_save_ms = vsw_time_msec();
    error = vsw_config_load(mgr->metering->path, &root, why, sizeof why);
    if (error == -ENOENT) {
        return;
    }
    if (error == -EINVAL ||
        (!error && metering_check(root, why, sizeof why))) {
        keep_corrupt(mgr->metering, why);
    } else if (error) {
        /* Unreadable but maybe intact: leave it and never overwrite it. */
        VSW_ERR("metering: cannot read %s: %s; meters are not saved until "
                "it is readable",
                mgr->metering->path, strerror(-error));
        free(mgr->metering);
        mgr->metering = NULL;
    } else {
        metering_apply(mgr, root);
    }
    json_decref(root);
}

void
mgr_metering_shutdown(struct vsw_manager *mgr)
{
    if (mgr->metering) {
        metering_save(mgr);
        free(mgr->metering);
        mgr->metering = NULL;
    }
}

void
mgr_metering_port_import(struct vsw_manager *mgr, struct mgr_port *port,
                         const json_t *meters)
{
    const json_t *obj;
    size_t i;

    if (!json_array_size(meters)) {
        return;
    }
    port_sync(mgr, port);
    if (!port_ensure_meters(port)) {
        VSW_ERR("port %s: out of memory for its meters", port->name);
        return;
    }
    json_array_foreach(meters, i, obj)
    {
        struct vsw_rpc_error ignored;
        struct meter m;

        meter_from_json(obj, &m, &ignored);
        port_take_meter(port, &m);
    }
    if (mgr->metering) {
        mgr->metering->dirty = true;
        metering_save(mgr);
    }
}

/* ---- Methods ---- */

static const char *const port_only[] = {"port", NULL};

/* Sets the `metering` setting of the port of 'params' through port.set's
 * own path (checked, saved, published: the publish starts or stops the
 * meters), then saves the counts as they stand. */
static int
rpc_metering_switch(json_t *params, json_t **result, struct vsw_rpc_error *err,
                    struct vsw_manager *mgr, bool on)
{
    struct mgr_port *port;
    json_t *set;
    int error;

    if (vsw_rpc_check_keys(params, port_only, err) ||
        mgr_rpc_get_port(mgr, params, "port", &port, err)) {
        return -1;
    }
    set = json_pack("{s:b}", "metering", on);
    error = mgr_port_set(mgr, port, set, err);
    json_decref(set);
    if (error) {
        return -1;
    }
    if (mgr->metering) {
        metering_save(mgr);
    }
    *result = json_pack("{s:s, s:b}", "port", port->name, "metering", on);
    return 0;
}

static int
rpc_metering_enable(json_t *params, json_t **result, struct vsw_rpc_error *err,
                    void *mgr)
{
    return rpc_metering_switch(params, result, err, mgr, true);
}

static int
rpc_metering_disable(json_t *params, json_t **result,
                     struct vsw_rpc_error *err, void *mgr)
{
    return rpc_metering_switch(params, result, err, mgr, false);
}

static int
rpc_metering_reset(json_t *params, json_t **result, struct vsw_rpc_error *err,
                   void *mgr_)
{
    struct vsw_manager *mgr = mgr_;
    struct mgr_port *port;

    (void)result;
    if (vsw_rpc_check_keys(params, port_only, err) ||
        mgr_rpc_get_port(mgr, params, "port", &port, err)) {
        return -1;
    }
    port_fold(mgr, port);
    for (size_t i = 0; port->meters && i < port->meters->n; i++) {
        struct meter *m = &port->meters->meters[i];

        m->bytes = m->packets = 0;
        meter_clear_ring(m);
    }
    if (!port->cfg.metering) {
        /* Off and zero: nothing left to keep. */
        mgr_metering_port_destroy(port);
    }
    /* Totals a meter rule superseded go now that they hold nothing. */
    port_sync(mgr, port);
    if (mgr->metering && metering_save(mgr)) {
        return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR,
                             "the counters are reset, but %s could not be "
                             "saved (see the log)",
                             mgr->metering->path);
    }
    return 0;
}

static json_t *
meter_show_json(const struct meter *m)
{
    json_t *obj = meter_to_json(m);
    uint64_t centi_mb = m->bytes / 10000 + (m->bytes % 10000 >= 5000);
    uint64_t bps1, pps1, bps10, pps10;
    char mb[32];

    meter_rate(m, 1, &bps1, &pps1);
    meter_rate(m, 10, &bps10, &pps10);
    /* Megabytes (10^6 bytes) as text, rounded to two decimals: a JSON
     * real would print with 17 digits. */
    snprintf(mb, sizeof mb, "%llu.%02llu",
             (unsigned long long)(centi_mb / 100),
             (unsigned long long)(centi_mb % 100));
    json_object_set_new(obj, "megabytes", json_string(mb));
    json_object_set_new(obj, "counting", json_boolean(m->counting));
    json_object_set_new(obj, "bps-1s", json_integer((json_int_t)bps1));
    json_object_set_new(obj, "pps-1s", json_integer((json_int_t)pps1));
    json_object_set_new(obj, "bps-10s", json_integer((json_int_t)bps10));
    json_object_set_new(obj, "pps-10s", json_integer((json_int_t)pps10));
    return obj;
}

static int
rpc_metering_show(json_t *params, json_t **result, struct vsw_rpc_error *err,
                  void *mgr_)
{
    struct vsw_manager *mgr = mgr_;
    struct mgr_port *port;
    json_t *list;

    if (vsw_rpc_check_keys(params, port_only, err) ||
        mgr_rpc_get_port(mgr, params, "port", &port, err)) {
        return -1;
    }
    port_fold(mgr, port);
    list = json_array();
    for (size_t i = 0; port->meters && i < port->meters->n; i++) {
        json_array_append_new(list, meter_show_json(&port->meters->meters[i]));
    }
    *result = json_pack("{s:s, s:b, s:o}", "port", port->name, "metering",
                        port->cfg.metering, "meters", list);
    return 0;
}

static const struct vsw_rpc_method metering_methods[] = {
    {"metering.enable", rpc_metering_enable, VSW_RPC_WRITES},
    {"metering.disable", rpc_metering_disable, VSW_RPC_WRITES},
    {"metering.reset", rpc_metering_reset, VSW_RPC_WRITES},
    {"metering.show", rpc_metering_show, VSW_RPC_READS},
};

int
mgr_metering_register_rpc(struct vsw_manager *mgr,
                          struct vsw_rpc_server *server)
{
    return vsw_rpc_server_register(
        server, metering_methods,
        sizeof metering_methods / sizeof *metering_methods, mgr);
}
