/*
 * Transactions: the method 'transact' runs several changes of switches,
 * ports and ACLs all or nothing, as one change.
 *
 * Each operation runs through its method's own handler, so it is checked
 * exactly as alone.  While a transaction runs, mgr_config_save() and
 * mgr_publish() only note that a save or a publish is due, so the workers
 * and config.json never see half of it.  Every operation that changes the
 * model records how to undo it; if one fails, the ones before are undone
 * newest first and the answer names the failing operation.
 *
 * Deletions are checked when they come but carried out at commit, after
 * every other operation succeeded: a deleted TAP device cannot be brought
 * back.  At commit the deleted objects are unlinked, the configuration is
 * saved once (a failed save relinks them and undoes everything), then
 * they are torn down, one snapshot is published and the answer waits for
 * the teardowns, as port.del does alone.
 *
 * Threads: the control thread, like every handler.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "manager-private.h"

#define TXN_MAX_OPERATIONS 1024

/* How to undo one operation that succeeded. */
enum txn_undo_kind {
    UNDO_SWITCH_ADD, /* destroy 'sw' */
    UNDO_PORT_ADD,   /* destroy 'port' and its new device */
    UNDO_SWITCH_SET, /* give 'sw' back its settings and MAC table */
    UNDO_PORT_SET,   /* give 'port' back its settings */
    UNDO_ACL_ADD,    /* remove the basic rules of 'port' after 'acl_tail' */
    UNDO_XACL_ADD,   /* remove the extended rules after 'xacl_tail' */
};

struct txn_undo {
    enum txn_undo_kind kind;
    struct mgr_switch *sw; /* switch ops: the switch */
    struct mgr_port *port; /* port and ACL ops: the port */
    union {
        struct {
            struct mgr_switch_cfg cfg; /* settings before */
            struct vsw_fdb *fdb;       /* MAC table before */
        } sw;
        struct mgr_port_cfg port_cfg; /* settings before */
        struct {
            struct mgr_acl *tail; /* last rule before, NULL if none */
            uint32_t next_id;     /* 'next_acl_id' before */
        } acl;
        struct mgr_xacl *xacl_tail; /* last rule before, NULL if none */
    } old;
};

/* A deletion waiting for the commit, and where it was unlinked from. */
struct txn_delete {
    enum mgr_txn_delete_kind kind;
    size_t op;             /* index of the operation that asked */
    struct mgr_port *port; /* owner of an ACL rule; the port deleted */
    union {
        struct mgr_switch *sw;
        struct mgr_acl *acl;
        struct mgr_xacl *xacl;
    } obj;
    union {
        struct mgr_switch **sw;
        struct mgr_port **port;
        struct mgr_acl **acl;
        struct mgr_xacl **xacl;
    } link; /* the pointer that pointed to it, while unlinked */
};

struct mgr_txn {
    size_t op;               /* index of the operation running */
    bool save_due;           /* an operation saved the configuration */
    bool publish_due;        /* an operation published a snapshot */
    struct txn_undo *undo;   /* one per change made, oldest first */
    size_t n_undo;           /* entries in 'undo' */
    struct txn_delete *dels; /* deletions waiting, in order */
    size_t n_dels;           /* entries in 'dels' */
};

bool
mgr_txn_postpone_save(struct vsw_manager *mgr)
{
    if (!mgr->txn) {
        return false;
    }
    mgr->txn->save_due = true;
    return true;
}

bool
mgr_txn_postpone_publish(struct vsw_manager *mgr)
{
    if (!mgr->txn) {
        return false;
    }
    mgr->txn->publish_due = true;
    return true;
}

/* The deletion of 'obj' the transaction holds, or NULL. */
static const struct txn_delete *
find_delete(const struct mgr_txn *txn, const void *obj)
{
    for (size_t i = 0; i < txn->n_dels; i++) {
        const struct txn_delete *d = &txn->dels[i];

        if (d->obj.sw == obj ||
            (d->kind == MGR_TXN_DELETE_PORT && d->port == obj)) {
            return d;
        }
    }
    return NULL;
}

int
mgr_txn_defer_delete(struct vsw_manager *mgr, enum mgr_txn_delete_kind kind,
                     void *obj, struct mgr_port *port,
                     struct vsw_rpc_error *err)
{
    struct mgr_txn *txn = mgr->txn;
    const struct txn_delete *already;
    struct txn_delete *dels, *d;

    if (!txn) {
        return 0;
    }
    already = find_delete(txn, obj);
    if (already) {
        return vsw_rpc_error(err, VSW_RPC_CONFLICT,
                             "operation %zu deletes it already", already->op);
    }
    dels = realloc(txn->dels, (txn->n_dels + 1) * sizeof *dels);
    if (!dels) {
        return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR, "out of memory");
    }
    txn->dels = dels;
    d = &dels[txn->n_dels++];
    memset(d, 0, sizeof *d);
    d->kind = kind;
    d->op = txn->op;
    if (kind == MGR_TXN_DELETE_PORT) {
        d->port = obj;
    } else {
        d->port = port;
        d->obj.sw = obj;
    }
    return 1;
}

int
mgr_txn_check_kept(const struct vsw_manager *mgr, const struct mgr_switch *sw,
                   const struct mgr_port *port, struct vsw_rpc_error *err)
{
    const struct txn_delete *d;

    if (!mgr->txn) {
        return 0;
    }
    d = port ? find_delete(mgr->txn, port) : NULL;
    if (!d) {
        d = find_delete(mgr->txn, port ? port->sw : sw);
    }
    if (!d) {
        return 0;
    }
    if (port) {
        return vsw_rpc_error(err, VSW_RPC_CONFLICT,
                             "port '%s' is deleted by operation %zu of this "
                             "transaction",
                             port->name, d->op);
    }
    return vsw_rpc_error(err, VSW_RPC_CONFLICT,
                         "switch '%s' is deleted by operation %zu of this "
                         "transaction",
                         sw->name, d->op);
}

/* ---- Undo ---- */

/* The object named by the string 'key' of 'params', if it exists. */
static struct mgr_switch *
param_switch(struct vsw_manager *mgr, const json_t *params, const char *key)
{
    const char *name = json_string_value(json_object_get(params, key));

    return name ? mgr_find_switch(mgr, name) : NULL;
}

static struct mgr_port *
param_port(struct vsw_manager *mgr, const json_t *params, const char *key)
{
    const char *name = json_string_value(json_object_get(params, key));

    return name ? mgr_find_port(mgr, name) : NULL;
}

static struct mgr_acl *
last_acl(const struct mgr_port *port)
{
    struct mgr_acl *a = port->acls;

    while (a && a->next) {
        a = a->next;
    }
    return a;
}

static struct mgr_xacl *
last_xacl(const struct mgr_port *port)
{
    struct mgr_xacl *x = port->xacls;

    while (x && x->next) {
        x = x->next;
    }
    return x;
}

/* Before 'method' runs with 'params': fills 'u' with what undoing it
 * needs.  Returns false if the method will change nothing to undo (a
 * may-exist add of an object that exists) or fail on its own (an unknown
 * name). */
static bool
undo_prepare(struct vsw_manager *mgr, const char *method, const json_t *params,
             struct txn_undo *u)
{
    memset(u, 0, sizeof *u);
    if (!strcmp(method, "switch.add")) {
        u->kind = UNDO_SWITCH_ADD;
        return !param_switch(mgr, params, "name");
    } else if (!strcmp(method, "port.add")) {
        u->kind = UNDO_PORT_ADD;
        return !param_port(mgr, params, "name");
    } else if (!strcmp(method, "switch.set")) {
        u->kind = UNDO_SWITCH_SET;
        u->sw = param_switch(mgr, params, "name");
        if (u->sw) {
            u->old.sw.cfg = u->sw->cfg;
            u->old.sw.fdb = u->sw->fdb;
        }
        return u->sw != NULL;
    } else if (!strcmp(method, "port.set")) {
        u->kind = UNDO_PORT_SET;
        u->port = param_port(mgr, params, "name");
        if (u->port) {
            u->old.port_cfg = u->port->cfg;
        }
        return u->port != NULL;
    }
    u->port = param_port(mgr, params, "port");
    if (!u->port) {
        return false;
    } else if (!strcmp(method, "acl.add")) {
        u->kind = UNDO_ACL_ADD;
        u->old.acl.tail = last_acl(u->port);
        u->old.acl.next_id = u->port->next_acl_id;
        return true;
    } else if (!strcmp(method, "xacl.add")) {
        u->kind = UNDO_XACL_ADD;
        u->old.xacl_tail = last_xacl(u->port);
        return true;
    }
    return false; /* a deletion: nothing happens before the commit */
}

/* After the method of 'u' succeeded with 'params': finds what it
 * created. */
static void
undo_complete(struct vsw_manager *mgr, const json_t *params,
              struct txn_undo *u)
{
    if (u->kind == UNDO_SWITCH_ADD) {
        u->sw = param_switch(mgr, params, "name");
    } else if (u->kind == UNDO_PORT_ADD) {
        u->port = param_port(mgr, params, "name");
    }
}

static void
undo_run(struct vsw_manager *mgr, struct txn_undo *u)
{
    switch (u->kind) {
    case UNDO_SWITCH_ADD:
        mgr_switch_destroy(mgr, u->sw, true);
        break;
    case UNDO_PORT_ADD:
        mgr_port_destroy(mgr, u->port, true);
        break;
    case UNDO_SWITCH_SET:
        if (u->sw->fdb != u->old.sw.fdb) {
            /* The new table was never published: it goes, the old one
             * stays. */
            mgr_retire_swap(mgr, u->old.sw.fdb, u->sw->fdb);
            u->sw->fdb = u->old.sw.fdb;
        }
        vsw_fdb_set_ageing(u->sw->fdb, u->old.sw.cfg.mac_ageing);
        u->sw->cfg = u->old.sw.cfg;
        break;
    case UNDO_PORT_SET:
        u->port->cfg = u->old.port_cfg;
        break;
    case UNDO_ACL_ADD: {
        struct mgr_acl **pp =
            u->old.acl.tail ? &u->old.acl.tail->next : &u->port->acls;

        /* Never published: no worker saw them. */
        while (*pp) {
            struct mgr_acl *a = *pp;

            *pp = a->next;
            vsw_rule_counters_destroy(a->counters);
            free(a);
        }
        u->port->next_acl_id = u->old.acl.next_id;
        break;
    }
    case UNDO_XACL_ADD: {
        struct mgr_xacl **pp =
            u->old.xacl_tail ? &u->old.xacl_tail->next : &u->port->xacls;

        while (*pp) {
            struct mgr_xacl *x = *pp;

            *pp = x->next;
            vsw_rule_counters_destroy(x->counters);
            free(x);
        }
        break;
    }
    }
}

/* ---- Deletions at commit ---- */

/* Takes the object of 'd' out of its list, remembering where it was. */
static void
delete_unlink(struct vsw_manager *mgr, struct txn_delete *d)
{
    switch (d->kind) {
    case MGR_TXN_DELETE_SWITCH:
        for (d->link.sw = &mgr->switches; *d->link.sw != d->obj.sw;
             d->link.sw = &(*d->link.sw)->next) {
            continue;
        }
        *d->link.sw = d->obj.sw->next;
        break;
    case MGR_TXN_DELETE_PORT:
        for (d->link.port = &d->port->sw->ports; *d->link.port != d->port;
             d->link.port = &(*d->link.port)->next) {
            continue;
        }
        *d->link.port = d->port->next;
        break;
    case MGR_TXN_DELETE_ACL:
        for (d->link.acl = &d->port->acls; *d->link.acl != d->obj.acl;
             d->link.acl = &(*d->link.acl)->next) {
            continue;
        }
        *d->link.acl = d->obj.acl->next;
        break;
    case MGR_TXN_DELETE_XACL:
        for (d->link.xacl = &d->port->xacls; *d->link.xacl != d->obj.xacl;
             d->link.xacl = &(*d->link.xacl)->next) {
            continue;
        }
        *d->link.xacl = d->obj.xacl->next;
        break;
    }
}

/* Puts the object of 'd' back; deletions are relinked newest first. */
static void
delete_relink(struct txn_delete *d)
{
    switch (d->kind) {
    case MGR_TXN_DELETE_SWITCH:
        *d->link.sw = d->obj.sw;
        break;
    case MGR_TXN_DELETE_PORT:
        *d->link.port = d->port;
        break;
    case MGR_TXN_DELETE_ACL:
        *d->link.acl = d->obj.acl;
        break;
    case MGR_TXN_DELETE_XACL:
        *d->link.xacl = d->obj.xacl;
        break;
    }
}

static void
delete_run(struct vsw_manager *mgr, struct txn_delete *d)
{
    switch (d->kind) {
    case MGR_TXN_DELETE_SWITCH:
        mgr_switch_destroy(mgr, d->obj.sw, true);
        break;
    case MGR_TXN_DELETE_PORT:
        mgr_port_destroy(mgr, d->port, true);
        break;
    case MGR_TXN_DELETE_ACL:
        mgr_acl_destroy(mgr, d->port, d->obj.acl);
        break;
    case MGR_TXN_DELETE_XACL:
        mgr_xacl_destroy(mgr, d->port, d->obj.xacl);
        break;
    }
}

/* ---- The method ---- */

/* The methods a transaction may hold: the changes of these nouns. */
static bool
method_allowed(const char *name, const struct vsw_rpc_method *method)
{
    static const char *const nouns[] = {"switch.", "port.", "acl.", "xacl.",
                                        NULL};

    for (size_t i = 0; nouns[i]; i++) {
        if (!strncmp(name, nouns[i], strlen(nouns[i]))) {
            return method->access == VSW_RPC_WRITES;
        }
    }
    return false;
}

/* Runs operation 'op' of the transaction, recording its undo.  Returns 0
 * and stores its result, or fills 'err' (without the operation's
 * index). */
static int
run_operation(struct vsw_manager *mgr, json_t *op, json_t **result,
              const char **namep, struct vsw_rpc_error *err)
{
    static const char *const keys[] = {"method", "params", NULL};
    const struct vsw_rpc_method *method;
    struct mgr_txn *txn = mgr->txn;
    struct txn_undo undo, *grown;
    json_t *params, *empty = NULL;
    const char *name;
    bool undoable;
    void *aux;
    int error;

    *namep = NULL;
    if (!json_is_object(op)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "not an object with \"method\" and \"params\"");
    }
    if (vsw_rpc_check_keys(op, keys, err) ||
        vsw_rpc_get_string(op, "method", true, &name, err)) {
        return -1;
    }
    *namep = name;
    method = vsw_rpc_server_lookup(mgr->rpc, name, &aux);
    if (!method) {
        return vsw_rpc_error(err, VSW_RPC_METHOD_NOT_FOUND,
                             "unknown method '%s'", name);
    }
    if (!method_allowed(name, method)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "'%s' cannot be part of a transaction: only "
                             "add, set and del of switch, port, acl and xacl "
                             "can",
                             name);
    }
    params = json_object_get(op, "params");
    if (params && !json_is_object(params)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "params must be an object");
    }
    if (!params) {
        params = empty = json_object();
    }
    undoable = undo_prepare(mgr, name, params, &undo);
    grown = realloc(txn->undo, (txn->n_undo + 1) * sizeof *grown);
    if (!grown) {
        json_decref(empty);
        return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR, "out of memory");
    }
    txn->undo = grown;
    *result = NULL;
    err->code = 0;
    err->message[0] = '\0';
    error = method->handler(params, result, err, aux);
    if (!error && undoable) {
        undo_complete(mgr, params, &undo);
        txn->undo[txn->n_undo++] = undo;
    }
    json_decref(empty);
    if (error) {
        json_decref(*result);
        *result = NULL;
        if (!err->code) {
            err->code = VSW_RPC_INTERNAL_ERROR;
        }
        return -1;
    }
    if (!*result) {
        *result = json_object();
    }
    return 0;
}

/* Undoes every operation, newest first, and lets go of what they made:
 * the workers get a snapshot like the one they have, and the devices of
 * ports added are gone before the answer. */
static void
rollback(struct vsw_manager *mgr, struct mgr_txn *txn)
{
    while (txn->n_undo) {
        undo_run(mgr, &txn->undo[--txn->n_undo]);
    }
    mgr->txn = NULL;
    if (mgr->retired) {
        mgr_publish(mgr);
        mgr_settle(mgr);
    }
}

/* Every operation succeeded: saves once, carries out the deletions,
 * publishes once. */
static int
commit(struct vsw_manager *mgr, struct mgr_txn *txn, struct vsw_rpc_error *err)
{
    bool removals_only = true;

    for (size_t i = 0; i < txn->n_dels; i++) {
        delete_unlink(mgr, &txn->dels[i]);
        removals_only &= txn->dels[i].kind == MGR_TXN_DELETE_SWITCH ||
                         txn->dels[i].kind == MGR_TXN_DELETE_PORT;
    }
    mgr->txn = NULL;
    if (removals_only && (txn->save_due || txn->n_dels)) {
        /* Deleted rules change their port's object; deleted switches and
         * ports only leave the document, and each operation's own save
         * said what it changed. */
        mgr_config_scope(NULL);
    }
    if ((txn->save_due || txn->n_dels) && mgr_config_save(mgr, err)) {
        for (size_t i = txn->n_dels; i-- > 0;) {
            delete_relink(&txn->dels[i]);
        }
        mgr->txn = txn;
        rollback(mgr, txn);
        return -1;
    }
    for (size_t i = txn->n_dels; i-- > 0;) {
        delete_relink(&txn->dels[i]);
    }
    for (size_t i = 0; i < txn->n_dels; i++) {
        delete_run(mgr, &txn->dels[i]);
    }
    if (txn->publish_due || txn->n_dels || mgr->retired) {
        mgr_publish(mgr);
    }
    if (txn->n_dels) {
        mgr_settle(mgr);
    }
    return 0;
}

/* Runs the operations of the array 'ops' all or nothing.  An error
 * names the failing operation: "operation 3 (port.add): ..." without
 * 'list_key', "ports[3]: ..." with it (a method's list form). */
static int
txn_execute(struct vsw_manager *mgr, json_t *ops, const char *list_key,
            json_t **resultsp, struct vsw_rpc_error *err)
{
    struct mgr_txn txn;
    json_t *results;
    int error = 0;

    if (mgr->txn && list_key) {
        return vsw_rpc_error(err, VSW_RPC_CONFLICT,
                             "a list of '%s' cannot be part of a transaction",
                             list_key);
    }
    if (mgr->txn) {
        return vsw_rpc_error(err, VSW_RPC_CONFLICT,
                             "a transaction is running already");
    }
    memset(&txn, 0, sizeof txn);
    results = json_array();
    mgr->txn = &txn;
    for (txn.op = 0; txn.op < json_array_size(ops); txn.op++) {
        json_t *op_result;
        const char *name;

        if (run_operation(mgr, json_array_get(ops, txn.op), &op_result, &name,
                          err)) {
            char why[VSW_RPC_MAX_MESSAGE];

            snprintf(why, sizeof why, "%s", err->message);
            if (list_key) {
                vsw_rpc_error(err, err->code, "%s[%zu]: %s", list_key, txn.op,
                              why);
            } else {
                vsw_rpc_error(err, err->code, "operation %zu (%s): %s", txn.op,
                              name ? name : "?", why);
            }
            rollback(mgr, &txn);
            error = -1;
            break;
        }
        json_array_append_new(results, op_result);
    }
    if (!error) {
        error = commit(mgr, &txn, err);
    }
    mgr->txn = NULL;
    free(txn.undo);
    free(txn.dels);
    if (error) {
        json_decref(results);
        return -1;
    }
    *resultsp = results;
    return 0;
}

int
mgr_txn_run_list(struct vsw_manager *mgr, const char *method, json_t *list,
                 const char *list_key, json_t **resultsp,
                 struct vsw_rpc_error *err)
{
    json_t *ops = json_array();
    json_t *params;
    size_t i;
    int error;

    json_array_foreach(list, i, params)
    {
        json_array_append_new(
            ops, json_pack("{s:s, s:O}", "method", method, "params", params));
    }
    error = txn_execute(mgr, ops, list_key, resultsp, err);
    json_decref(ops);
    return error;
}

static int
rpc_transact(json_t *params, json_t **result, struct vsw_rpc_error *err,
             void *mgr_)
{
    static const char *const keys[] = {"operations", NULL};
    struct vsw_manager *mgr = mgr_;
    json_t *ops = json_object_get(params, "operations");
    json_t *results;

    if (vsw_rpc_check_keys(params, keys, err)) {
        return -1;
    }
    if (!json_is_array(ops) || !json_array_size(ops) ||
        json_array_size(ops) > TXN_MAX_OPERATIONS) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "operations must be an array of 1 to %d "
                             "operations",
                             TXN_MAX_OPERATIONS);
    }
    if (txn_execute(mgr, ops, NULL, &results, err)) {
        return -1;
    }
    *result = json_pack("{s:o}", "results", results);
    return 0;
}

static const struct vsw_rpc_method txn_methods[] = {
    {"transact", rpc_transact, VSW_RPC_WRITES},
};

int
mgr_txn_register_rpc(struct vsw_manager *mgr, struct vsw_rpc_server *server)
{
    return vsw_rpc_server_register(
        server, txn_methods, sizeof txn_methods / sizeof *txn_methods, mgr);
}
