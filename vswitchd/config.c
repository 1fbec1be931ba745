/*
 * config.json: save, load (a pure step, see config.h), migration of older
 * formats, and restore, which applies a loaded desired state at start.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config-store.h"
#include "etcd-sync.h"
#include "log.h"

/* ---- Save ---- */

/* The object config.json keeps for 'port'. */
static json_t *
port_to_json(const struct mgr_port *p)
{
    json_t *obj = json_pack("{s:s, s:o}", "name", p->name, "settings",
                            mgr_port_settings_to_json(p));

    if (p->cfg.type == MGR_PORT_TAP) {
        json_object_set_new(obj, "tap-location", mgr_tap_location_to_json(p));
    }
    if (p->cfg.type == MGR_PORT_TEAM) {
        json_object_set_new(obj, "team", mgr_team_settings_to_json(p));
    }
    mgr_acls_to_json(p, obj, false);
    return obj;
}

/* The whole configuration as config.json keeps it.  With 'port_token',
 * each port is the string port_token(p) instead of its object. */
static json_t *
config_to_json(const struct vsw_manager *mgr,
               json_t *(*port_token)(const struct mgr_port *))
{
    json_t *switches = json_array();
    json_t *root, *etcd;

    for (const struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        json_t *settings = json_object();
        json_t *ports = json_array();

        vsw_settings_to_json(&mgr_switch_kind, &sw->cfg, settings);
        for (const struct mgr_port *p = sw->ports; p; p = p->next) {
            json_array_append_new(ports, port_token ? port_token(p)
                                                    : port_to_json(p));
        }
        json_array_append_new(
            switches, json_pack("{s:s, s:o, s:o, s:o}", "name", sw->name,
                                "settings", settings, "ports", ports,
                                "extensions", mgr_ext_switch_to_json(sw)));
    }
    root = json_pack("{s:i, s:o, s:o}", "format", MGR_CONFIG_FORMAT,
                     "switches", switches, "extensions", mgr_ext_to_json(mgr));
    if (root && (etcd = mgr_etcd_to_json(mgr))) {
        json_object_set_new(root, "etcd", etcd);
    }
    return root;
}

/* Each port's part of config.json, kept from the save before: the object
 * and its text (json_dumps() of it alone).  A save dumps only the objects
 * that differ from the kept one; dumping all of them at each commit was
 * most of the cost of adding one port among a thousand.  The text depends
 * on the object alone, so an entry is right whichever port it is found
 * for; entries are kept by port slot.
 *
 * Building and comparing every port's object was most of what was left,
 * so a save whose change is known to touch one port (mgr_config_scope():
 * a port added, ports removed) builds that port's object alone and takes
 * the others' kept texts as they are.  Any other save ('all_dirty')
 * builds every object, as before; debug builds check every save against a
 * whole dump, so a change that forgot to say it touched more than its
 * port aborts the sanitizer tests. */
static struct port_text {
    json_t *obj; /* NULL: none */
    char *text;
    bool dirty;            /* the object must be built again */
    char *indented;        /* 'text' as placed in the document, or NULL */
    size_t indented_len;   /* its length */
    size_t indented_depth; /* the spaces before each of its lines */
} port_texts[VSW_MAX_PORTS];

/* Every port's object must be built again at the next save. */
static bool all_dirty = true;

/* The next mgr_config_save() is scoped (mgr_config_scope()). */
static bool scope_next;

void
mgr_config_port_changed(const struct mgr_port *port)
{
    port_texts[VSW_FDB_SLOT(port->id)].dirty = true;
}

void
mgr_config_scope(const struct mgr_port *port)
{
    if (port) {
        mgr_config_port_changed(port);
    }
    scope_next = true;
}

/* Marks a port's place in the document being dumped: a string no value
 * of a real configuration holds (control characters and a random
 * number), which json_dumps() writes as "\u0001vswNNNNNNNN.SLOT\u0001". */
static uint32_t token_nonce;

static json_t *
port_token(const struct mgr_port *p)
{
    char token[64];

    snprintf(token, sizeof token, "\001vsw%08" PRIx32 ".%" PRIu32 "\001",
             token_nonce, VSW_FDB_SLOT(p->id));
    return json_string(token);
}

/* The text of 'p' (kept in port_texts), or NULL if out of memory. */
static const char *
port_text(const struct mgr_port *p)
{
    struct port_text *pt = &port_texts[VSW_FDB_SLOT(p->id)];
    json_t *obj;
    char *text;

    if (!all_dirty && !pt->dirty && pt->text) {
        return pt->text;
    }
    obj = port_to_json(p);
    if (!obj) {
        return NULL;
    }
    if (pt->obj && json_equal(pt->obj, obj)) {
        json_decref(obj);
        pt->dirty = false;
        return pt->text;
    }
    text = json_dumps(obj, VSW_CONFIG_DUMP_FLAGS);
    if (!text) {
        json_decref(obj);
        return NULL;
    }
    json_decref(pt->obj);
    free(pt->text);
    free(pt->indented);
    pt->indented = NULL;
    pt->obj = obj;
    pt->text = text;
    pt->dirty = false;
    return text;
}

/* The text of 'p' as json_dumps() places it in the document: 'depth'
 * spaces after each of its newlines (kept, as long as neither the text
 * nor the depth change).  NULL if out of memory. */
static const char *
port_text_indented(const struct mgr_port *p, size_t depth, size_t *lenp)
{
    struct port_text *pt = &port_texts[VSW_FDB_SLOT(p->id)];
    const char *text = port_text(p);
    size_t n_lines = 1, len;
    char *out;

    if (!text) {
        return NULL;
    }
    if (pt->indented && pt->indented_depth == depth) {
        *lenp = pt->indented_len;
        return pt->indented;
    }
    for (const char *c = text; *c; c++) {
        n_lines += *c == '\n';
    }
    out = malloc(strlen(text) + n_lines * depth + 1);
    if (!out) {
        return NULL;
    }
    len = 0;
    for (const char *c = text; *c; c++) {
        out[len++] = *c;
        if (*c == '\n') {
            memset(out + len, ' ', depth);
            len += depth;
        }
    }
    out[len] = '\0';
    free(pt->indented);
    pt->indented = out;
    pt->indented_len = len;
    pt->indented_depth = depth;
    *lenp = len;
    return out;
}

/* A growing string. */
struct text_buf {
    char *s;
    size_t len, size;
    bool nomem;
};

static void
buf_add(struct text_buf *b, const char *s, size_t n)
{
    if (b->nomem) {
        return;
    }
    if (b->len + n + 1 > b->size) {
        size_t size = (b->len + n + 1) * 2;
        char *grown = realloc(b->s, size);

        if (!grown) {
            b->nomem = true;
            return;
        }
        b->s = grown;
        b->size = size;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

/* config.json's text: the document dumped with a token for each port,
 * each token then replaced by the port's text, indented as json_dumps()
 * would indent it there.  The same bytes as dumping the whole document,
 * for a fraction of the work.  NULL if out of memory. */
static char *
config_text(const struct vsw_manager *mgr)
{
    /* The last text's length: room for the next one at once, rather than
     * copying a growing megabyte again and again. */
    static size_t last_len;
    struct text_buf out = {0};
    json_t *root;
    const char *pos;
    char *skeleton;

    while (!token_nonce) {
        token_nonce = (uint32_t)random() ^ (uint32_t)getpid();
    }
    root = config_to_json(mgr, port_token);
    skeleton = root ? json_dumps(root, VSW_CONFIG_DUMP_FLAGS) : NULL;
    json_decref(root);
    if (!skeleton) {
        return NULL;
    }
    out.size = last_len + last_len / 8 + strlen(skeleton) + 1;
    out.s = malloc(out.size);
    out.nomem = !out.s;
    pos = skeleton;
    for (const struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        for (const struct mgr_port *p = sw->ports; p; p = p->next) {
            const char *text, *at, *line;
            char token[64];
            size_t len;

            snprintf(token, sizeof token,
                     "\"\\u0001vsw%08" PRIx32 ".%" PRIu32 "\\u0001\"",
                     token_nonce, VSW_FDB_SLOT(p->id));
            at = strstr(pos, token);
            if (!at) {
                free(skeleton);
                free(out.s);
                return NULL;
            }
            for (line = at; line > skeleton && line[-1] == ' '; line--) {
                continue;
            }
            text = port_text_indented(p, (size_t)(at - line), &len);
            if (!text) {
                free(skeleton);
                free(out.s);
                return NULL;
            }
            buf_add(&out, pos, (size_t)(at - pos));
            buf_add(&out, text, len);
            pos = at + strlen(token);
        }
    }
    buf_add(&out, pos, strlen(pos));
    free(skeleton);
    if (out.nomem) {
        free(out.s);
        return NULL;
    }
    all_dirty = false;
    last_len = out.len;
#ifndef NDEBUG
    /* Debug builds (the sanitizer tests) check the bytes against a dump of
     * the whole document. */
    root = config_to_json(mgr, NULL);
    skeleton = json_dumps(root, VSW_CONFIG_DUMP_FLAGS);
    if (skeleton && strcmp(skeleton, out.s)) {
        VSW_ERR("config.json: the text of the kept ports differs from a "
                "whole dump");
        abort();
    }
    free(skeleton);
    json_decref(root);
#endif
    return out.s;
}

int
mgr_config_save(struct vsw_manager *mgr, struct vsw_rpc_error *err)
{
    char *text;
    int error;

    if (!scope_next) {
        all_dirty = true;
    }
    scope_next = false;
    if (mgr_txn_postpone_save(mgr)) {
        return 0;
    }
    text = config_text(mgr);
    error = text ? vsw_config_save_text(mgr->config_path, text) : -ENOMEM;
    free(text);
    if (error) {
        /* The caller puts back what it changed, so the kept texts may
         * describe a change that is undone: the next save builds all. */
        all_dirty = true;
        VSW_ERR("saving %s: %s", mgr->config_path, strerror(-error));
        if (err) {
            vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR,
                          "cannot save the configuration: %s",
                          strerror(-error));
        }
    }
    return error;
}

/* ---- Migration ---- */

/* Moves every member of 'obj' but the NULL-terminated 'keep' into a new
 * member "settings". */
static void
move_into_settings(json_t *obj, const char *const keep[])
{
    json_t *settings = json_object();
    const char *key;
    json_t *value;
    void *tmp;

    json_object_foreach_safe(obj, tmp, key, value)
    {
        bool kept = false;

        for (size_t i = 0; keep[i] && !kept; i++) {
            kept = !strcmp(keep[i], key);
        }
        if (!kept) {
            json_object_set(settings, key, value);
            json_object_del(obj, key);
        }
    }
    json_object_set_new(obj, "settings", settings);
}

/* Format 1 → 2: settings move from beside a switch's or port's name,
 * ports and state into its "settings". */
static void
migrate_1_to_2(json_t *root)
{
    static const char *const switch_keep[] = {"name", "ports", "extensions",
                                              NULL};
    static const char *const port_keep[] = {"name", "tap-location", "acls",
                                            "xacls", NULL};
    json_t *sw;
    size_t i;

    json_array_foreach(json_object_get(root, "switches"), i, sw)
    {
        json_t *port;
        size_t j;

        if (!json_is_object(sw)) {
            continue;
        }
        move_into_settings(sw, switch_keep);
        json_array_foreach(json_object_get(sw, "ports"), j, port)
        {
            if (json_is_object(port)) {
                move_into_settings(port, port_keep);
            }
        }
    }
}

/* Each step takes a document of format 'from' to 'from' + 1. */
static void (*const migrations[])(json_t *root) = {
    [1] = migrate_1_to_2,
};

/* ---- Load ---- */

void
mgr_desired_destroy(struct mgr_desired *desired)
{
    if (!desired) {
        return;
    }
    for (size_t i = 0; i < desired->n_switches; i++) {
        struct mgr_desired_switch *sw = &desired->switches[i];

        for (size_t j = 0; j < sw->n_ports; j++) {
            json_decref(sw->ports[j].tap_location);
            json_decref(sw->ports[j].acls);
            json_decref(sw->ports[j].xacls);
        }
        free(sw->ports);
    }
    free(desired->switches);
    json_decref(desired->document);
    free(desired);
}

/* True if a port named 'name' is in 'desired' already (the switch being
 * parsed, at index 'n_switches', included). */
static bool
desired_has_port(const struct mgr_desired *desired, const char *name)
{
    for (size_t i = 0; i <= desired->n_switches; i++) {
        const struct mgr_desired_switch *sw = &desired->switches[i];

        for (size_t j = 0; j < sw->n_ports; j++) {
            if (!strcmp(sw->ports[j].name, name)) {
                return true;
            }
        }
    }
    return false;
}

struct saved_id {
    json_int_t id;
    size_t index; /* in the port's "acls" */
};

static int
compare_saved_ids(const void *a_, const void *b_)
{
    const struct saved_id *a = a_;
    const struct saved_id *b = b_;

    if (a->id != b->id) {
        return a->id < b->id ? -1 : 1;
    }
    return a->index < b->index ? -1 : a->index > b->index;
}

/* Marks in 'twice' (by index in 'rules') every basic rule whose saved id
 * an earlier rule has already: an id names one rule (its counters, a
 * meter).  Returns 0 or -ENOMEM. */
static int
find_reused_ids(const json_t *rules, bool *twice)
{
    size_t n = json_array_size(rules);
    struct saved_id *ids = malloc((n ? n : 1) * sizeof *ids);
    size_t n_ids = 0;

    if (!ids) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *id = json_object_get(json_array_get(rules, i), "id");

        if (mgr_acl_id_valid(id)) {
            ids[n_ids].id = json_integer_value(id);
            ids[n_ids++].index = i;
        }
    }
    qsort(ids, n_ids, sizeof *ids, compare_saved_ids);
    for (size_t i = 1; i < n_ids; i++) {
        twice[ids[i].index] = ids[i].id == ids[i - 1].id;
    }
    free(ids);
    return 0;
}

/* Refuses the saved id of the basic rule 'rule' if it is not 1 to
 * UINT32_MAX or ('twice') an earlier rule has it.  A rule without an id
 * takes a new one. */
static int
saved_id_refused(const json_t *rule, bool twice, struct vsw_rpc_error *err)
{
    const json_t *id = json_object_get(rule, "id");

    if (!json_is_object(rule) || !id) {
        return 0;
    }
    if (!json_is_integer(id)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "its id is not an integer");
    }
    if (!mgr_acl_id_valid(id)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "id %" JSON_INTEGER_FORMAT
                             " is not from 1 to %" PRIu32,
                             json_integer_value(id), UINT32_MAX);
    }
    if (twice) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "id %" JSON_INTEGER_FORMAT
                             " is given to an earlier rule too",
                             json_integer_value(id));
    }
    return 0;
}

/* The rules of 'rules' (an array, or absent) that parse on their own, as
 * a new array; logs and counts the others. */
static json_t *
usable_rules(struct mgr_desired *desired, const char *port,
             const json_t *rules, bool extended)
{
    json_t *usable = json_array();
    bool *twice = calloc(json_array_size(rules) + 1, sizeof *twice);
    json_t *rule;
    size_t i;

    if (!twice || (!extended && find_reused_ids(rules, twice))) {
        /* Not even that much memory: nothing of the port's rules. */
        VSW_ERR("config: port %s: out of memory for its ACLs", port);
        desired->n_rejected++;
        free(twice);
        return usable;
    }
    json_array_foreach(rules, i, rule)
    {
        struct vsw_rpc_error err;

        if (!extended && saved_id_refused(rule, twice[i], &err)) {
            VSW_ERR("config: port %s: dropping ACL entry: %s", port,
                    err.message);
            desired->n_rejected++;
            continue;
        }
        if (mgr_acl_rule_check(rule, extended, &err)) {
            VSW_ERR("config: port %s: dropping %sACL entry: %s", port,
                    extended ? "extended " : "", err.message);
            desired->n_rejected++;
            continue;
        }
        json_array_append(usable, rule);
    }
    free(twice);
    return usable;
}

/* Adds the port entry 'obj' to 'sw', or logs why it is unusable. */
static void
parse_port(struct mgr_desired *desired, struct mgr_desired_switch *sw,
           const json_t *obj)
{
    const char *name = json_string_value(json_object_get(obj, "name"));
    const json_t *settings = json_object_get(obj, "settings");
    struct mgr_desired_port *port = &sw->ports[sw->n_ports];
    struct vsw_rpc_error err;

    snprintf(err.message, sizeof err.message, "no settings");
    if (!name || mgr_check_name("port", name, &err) ||
        !json_is_object(settings) ||
        mgr_port_cfg_from_params(settings, name, &port->cfg, &err)) {
        VSW_ERR("config: switch %s: dropping port entry %s: %s", sw->name,
                name ? name : "(no name)", name ? err.message : "no name");
        desired->n_rejected++;
        return;
    }
    if (port->cfg.type == MGR_PORT_TEAM &&
        mgr_team_cfg_from_params(json_object_get(obj, "team"), &port->cfg.team,
                                 &err)) {
        VSW_ERR("config: switch %s: dropping team %s: %s", sw->name, name,
                err.message);
        desired->n_rejected++;
        return;
    }
    if (desired_has_port(desired, name)) {
        VSW_ERR("config: port %s appears twice; keeping the first", name);
        desired->n_rejected++;
        return;
    }
    snprintf(port->name, sizeof port->name, "%s", name);
    port->tap_location = json_deep_copy(json_object_get(obj, "tap-location"));
    port->acls =
        usable_rules(desired, name, json_object_get(obj, "acls"), false);
    port->xacls =
        usable_rules(desired, name, json_object_get(obj, "xacls"), true);
    sw->n_ports++;
}

/* Adds the switch entry 'obj' and its ports to 'desired', or logs why it
 * is unusable. */
static void
parse_switch(struct mgr_desired *desired, const json_t *obj)
{
    const char *name = json_string_value(json_object_get(obj, "name"));
    const json_t *settings = json_object_get(obj, "settings");
    const json_t *ports = json_object_get(obj, "ports");
    struct mgr_desired_switch *sw = &desired->switches[desired->n_switches];
    struct vsw_rpc_error err;
    const json_t *port;
    size_t i;

    snprintf(err.message, sizeof err.message, "no settings");
    vsw_settings_init(&mgr_switch_kind, &sw->cfg);
    if (!name || mgr_check_name("switch", name, &err) ||
        !json_is_object(settings) ||
        vsw_settings_apply(&mgr_switch_kind, &sw->cfg, settings, true, &err)) {
        VSW_ERR("config: dropping switch entry %s: %s",
                name ? name : "(no name)", name ? err.message : "no name");
        desired->n_rejected++;
        return;
    }
    for (i = 0; i < desired->n_switches; i++) {
        if (!strcmp(desired->switches[i].name, name)) {
            VSW_ERR("config: switch %s appears twice; keeping the first",
                    name);
            desired->n_rejected++;
            return;
        }
    }
    snprintf(sw->name, sizeof sw->name, "%s", name);
    sw->ports = calloc(json_array_size(ports) + 1, sizeof *sw->ports);
    if (!sw->ports) {
        VSW_ERR("config: switch %s: out of memory", name);
        desired->n_rejected++;
        return;
    }
    json_array_foreach(ports, i, port)
    {
        parse_port(desired, sw, port);
    }
    desired->n_switches++;
}

int
mgr_config_parse(const json_t *root, const char *origin,
                 struct mgr_desired **desiredp, char *err, size_t errlen)
{
    json_t *format = json_object_get(root, "format");
    struct mgr_desired *desired;
    const json_t *switches;
    const json_t *sw;
    json_int_t from;
    size_t i;

    *desiredp = NULL;
    if (!json_is_object(root) || !json_is_integer(format) ||
        !json_is_array(json_object_get(root, "switches"))) {
        snprintf(err, errlen,
                 "%s: not a vswitch configuration (no \"format\" number or "
                 "no \"switches\" list); move it away to start empty",
                 origin);
        return -EINVAL;
    }
    from = json_integer_value(format);
    if (from < 1 || from > MGR_CONFIG_FORMAT) {
        snprintf(err, errlen,
                 "%s: configuration format %lld, but this vswitchd reads "
                 "formats 1 to %d; run the vswitchd that wrote it, or move "
                 "the file away to start empty",
                 origin, (long long)from, MGR_CONFIG_FORMAT);
        return -EINVAL;
    }
    desired = calloc(1, sizeof *desired);
    if (!desired) {
        snprintf(err, errlen, "%s: out of memory", origin);
        return -ENOMEM;
    }
    desired->format = (int)from;
    desired->document = json_deep_copy(root);
    for (json_int_t f = from; f < MGR_CONFIG_FORMAT; f++) {
        migrations[f](desired->document);
    }
    json_object_set_new(desired->document, "format",
                        json_integer(MGR_CONFIG_FORMAT));
    switches = json_object_get(desired->document, "switches");
    desired->switches =
        calloc(json_array_size(switches) + 1, sizeof *desired->switches);
    if (!desired->switches) {
        mgr_desired_destroy(desired);
        snprintf(err, errlen, "%s: out of memory", origin);
        return -ENOMEM;
    }
    json_array_foreach(switches, i, sw)
    {
        parse_switch(desired, sw);
    }
    *desiredp = desired;
    return 0;
}

int
mgr_config_parse_text(const char *text, size_t len, const char *origin,
                      struct mgr_desired **desiredp, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root;
    int error;

    /* A key given twice would leave it to chance which value wins. */
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        *desiredp = NULL;
        snprintf(err, errlen, "%s: line %d column %d: %s", origin, jerr.line,
                 jerr.column, jerr.text);
        return -EINVAL;
    }
    error = mgr_config_parse(root, origin, desiredp, err, errlen);
    json_decref(root);
    return error;
}

/* ---- Restore ---- */

/* Keeps the file of an older format as config.json.v<format>, before the
 * first save overwrites it: a hard link, so it is the original byte for
 * byte.  An earlier start may have kept it already. */
static void
keep_original(const struct vsw_manager *mgr, int format)
{
    char copy[PATH_MAX + 16];

    snprintf(copy, sizeof copy, "%s.v%d", mgr->config_path, format);
    if (link(mgr->config_path, copy) < 0 && errno != EEXIST) {
        VSW_ERR("config: cannot keep the original as %s: %s", copy,
                strerror(errno));
        return;
    }
    VSW_INFO("config: migrated %s from format %d to format %d; the "
             "original is kept as %s",
             mgr->config_path, format, MGR_CONFIG_FORMAT, copy);
}

/* Creates the switches and ports of 'desired', with their ACLs. */
static void
apply_desired(struct vsw_manager *mgr, const struct mgr_desired *desired)
{
    for (size_t i = 0; i < desired->n_switches; i++) {
        const struct mgr_desired_switch *dsw = &desired->switches[i];
        struct vsw_rpc_error err;
        struct mgr_switch *sw;

        if (mgr_switch_create(mgr, dsw->name, &dsw->cfg, &sw, &err)) {
            VSW_ERR("config: switch %s: %s", dsw->name, err.message);
            continue;
        }
        for (size_t j = 0; j < dsw->n_ports; j++) {
            const struct mgr_desired_port *dp = &dsw->ports[j];
            struct mgr_port *port;
            json_t *rules;

            if (mgr_port_create(mgr, sw, dp->name, &dp->cfg, true,
                                dp->tap_location, &port, &err)) {
                VSW_ERR("config: port %s: %s", dp->name, err.message);
                continue;
            }
            rules =
                json_pack("{s:O, s:O}", "acls", dp->acls, "xacls", dp->xacls);
            mgr_acls_restore(mgr, port, rules);
            json_decref(rules);
        }
    }
}

int
mgr_config_restore(struct vsw_manager *mgr, char *errbuf, size_t errlen)
{
    struct mgr_desired *desired;
    json_t *root = NULL;
    int error = vsw_config_load(mgr->config_path, &root, errbuf, errlen);

    if (error == -ENOENT) {
        VSW_INFO("no configuration at %s yet: starting empty",
                 mgr->config_path);
        return 0;
    }
    if (error) {
        if (!errbuf[0] || error != -EINVAL) {
            snprintf(errbuf, errlen, "%s: %s", mgr->config_path,
                     strerror(-error));
        }
        return error;
    }
    error = mgr_config_parse(root, mgr->config_path, &desired, errbuf, errlen);
    if (error) {
        json_decref(root);
        return error;
    }
    if (desired->format < MGR_CONFIG_FORMAT) {
        keep_original(mgr, desired->format);
    }
    if (desired->n_rejected) {
        /* The next save writes only what was usable; keep the original
         * for the operator to inspect. */
        char copy[PATH_MAX + 16];

        snprintf(copy, sizeof copy, "%s.rejected", mgr->config_path);
        vsw_config_save(copy, root);
        VSW_ERR("config: %u entries were unusable; the original file is "
                "kept as %s",
                desired->n_rejected, copy);
    }
    json_decref(root);
    apply_desired(mgr, desired);
    mgr_ext_restore(mgr, desired->document);
    mgr_etcd_restore(mgr, desired->document);
    if (desired->format < MGR_CONFIG_FORMAT) {
        mgr_config_save(mgr, NULL);
    }
    mgr_desired_destroy(desired);
    return 0;
}
