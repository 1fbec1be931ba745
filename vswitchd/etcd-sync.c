/*
 * The manager's side of etcd: configuration, the client's life, and the
 * etcd.* methods (see etcd-sync.h).
 */
#include "etcd-sync.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd-tenant.h"
#include "etcd.h"
#include "log.h"
#include "manager-private.h"

#define ENDPOINTS_MAX 2048

struct mgr_etcd {
    char endpoints[ENDPOINTS_MAX];          /* "" when etcd is not used */
    char host_id[VSW_ETCD_HOST_ID_MAX + 1]; /* "" for the default */
    struct vsw_etcd *client;                /* running client, or NULL */
    struct etcd_tenant *tenant;             /* its tunnels' side */
};

static struct mgr_etcd *
etcd_state(struct vsw_manager *mgr)
{
    if (!mgr->etcd) {
        mgr->etcd = calloc(1, sizeof *mgr->etcd);
    }
    return mgr->etcd;
}

/* Checks a configuration: 'endpoints' (non-empty) and 'host_id' (may be
 * NULL or ""). */
static int
check_config(const char *endpoints, const char *host_id, char *err,
             size_t errlen)
{
    if (strlen(endpoints) >= ENDPOINTS_MAX) {
        snprintf(err, errlen, "etcd endpoint list over %d characters",
                 ENDPOINTS_MAX - 1);
        return -EINVAL;
    }
    if (vsw_etcd_check_endpoints(endpoints, err, errlen)) {
        return -EINVAL;
    }
    if (host_id && host_id[0] &&
        vsw_etcd_check_host_id(host_id, err, errlen)) {
        return -EINVAL;
    }
    return 0;
}

/* (Re)starts the client with the state's configuration. */
static int
restart_client(struct vsw_manager *mgr, char *err, size_t errlen)
{
    struct mgr_etcd *st = mgr->etcd;
    char host_id[VSW_ETCD_HOST_ID_MAX + 1];
    struct vsw_etcd_options opts;

    etcd_tenant_destroy(st->tenant, true);
    st->tenant = NULL;
    vsw_etcd_destroy(st->client);
    st->client = NULL;
    if (!st->endpoints[0]) {
        return 0;
    }
    if (st->host_id[0]) {
        snprintf(host_id, sizeof host_id, "%s", st->host_id);
    } else {
        vsw_etcd_default_host_id(host_id, sizeof host_id);
    }
    opts.endpoints = st->endpoints;
    opts.host_id = host_id;
    if (vsw_etcd_create(mgr->base, &opts, &st->client, err, errlen)) {
        return -EINVAL;
    }
    st->tenant = etcd_tenant_create(mgr, st->client);
    if (!st->tenant) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

void
mgr_etcd_restore(struct vsw_manager *mgr, const json_t *document)
{
    const json_t *cfg = json_object_get(document, "etcd");
    const char *endpoints, *host_id;
    struct mgr_etcd *st;
    char err[256];

    if (!cfg) {
        return;
    }
    endpoints = json_string_value(json_object_get(cfg, "endpoints"));
    host_id = json_string_value(json_object_get(cfg, "host-id"));
    if (!json_is_object(cfg) || !endpoints ||
        (json_object_get(cfg, "host-id") && !host_id)) {
        VSW_ERR("config: \"etcd\" is not {\"endpoints\": TEXT, "
                "\"host-id\": TEXT}: ignored");
        return;
    }
    if (check_config(endpoints, host_id, err, sizeof err)) {
        VSW_ERR("config: \"etcd\": %s: ignored", err);
        return;
    }
    st = etcd_state(mgr);
    if (st) {
        snprintf(st->endpoints, sizeof st->endpoints, "%s", endpoints);
        snprintf(st->host_id, sizeof st->host_id, "%s",
                 host_id ? host_id : "");
    }
}

int
mgr_etcd_start(struct vsw_manager *mgr, const char *endpoints,
               const char *host_id, char *err, size_t errlen)
{
    struct mgr_etcd *st = etcd_state(mgr);
    bool changed = false;

    if (!st) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if (endpoints) {
        if (check_config(endpoints, host_id, err, errlen)) {
            return -EINVAL;
        }
        changed = strcmp(st->endpoints, endpoints) != 0;
        snprintf(st->endpoints, sizeof st->endpoints, "%s", endpoints);
    }
    if (host_id) {
        if (vsw_etcd_check_host_id(host_id, err, errlen)) {
            return -EINVAL;
        }
        changed |= strcmp(st->host_id, host_id) != 0;
        snprintf(st->host_id, sizeof st->host_id, "%s", host_id);
    }
    if (changed && st->endpoints[0]) {
        mgr_config_save(mgr, NULL);
    }
    return restart_client(mgr, err, errlen);
}

void
mgr_etcd_stop(struct vsw_manager *mgr)
{
    if (mgr->etcd) {
        etcd_tenant_destroy(mgr->etcd->tenant, false);
        vsw_etcd_destroy(mgr->etcd->client);
        free(mgr->etcd);
        mgr->etcd = NULL;
    }
}

json_t *
mgr_etcd_to_json(const struct vsw_manager *mgr)
{
    const struct mgr_etcd *st = mgr->etcd;
    json_t *obj;

    if (!st || !st->endpoints[0]) {
        return NULL;
    }
    obj = json_pack("{ss}", "endpoints", st->endpoints);
    if (obj && st->host_id[0]) {
        json_object_set_new(obj, "host-id", json_string(st->host_id));
    }
    return obj;
}

/* The methods. */

static int
rpc_etcd_show(json_t *params, json_t **result, struct vsw_rpc_error *err,
              void *mgr_)
{
    static const char *const known[] = {NULL};
    struct vsw_manager *mgr = mgr_;

    if (vsw_rpc_check_keys(params, known, err)) {
        return -1;
    }
    if (!mgr->etcd || !mgr->etcd->client) {
        *result = json_pack("{sbss}", "enabled", false, "state", "disabled");
    } else {
        *result = vsw_etcd_status(mgr->etcd->client);
    }
    if (!*result) {
        return vsw_rpc_error(err, VSW_RPC_INTERNAL_ERROR, "out of memory");
    }
    return 0;
}

/* Sets the configuration to 'endpoints' and 'host_id' ("" for none),
 * saves it and restarts the client; on a failed save, puts everything
 * back. */
static int
apply(struct vsw_manager *mgr, const char *endpoints, const char *host_id,
      struct vsw_rpc_error *err)
{
    struct mgr_etcd *st = etcd_state(mgr);
    struct mgr_etcd old;
    char msg[256];

    if (!st) {
        return vsw_rpc_error(err, VSW_RPC_INTERNAL_ERROR, "out of memory");
    }
    old = *st;
    snprintf(st->endpoints, sizeof st->endpoints, "%s", endpoints);
    snprintf(st->host_id, sizeof st->host_id, "%s", host_id);
    if (mgr_config_save(mgr, err)) {
        snprintf(st->endpoints, sizeof st->endpoints, "%s", old.endpoints);
        snprintf(st->host_id, sizeof st->host_id, "%s", old.host_id);
        return -1;
    }
    if (restart_client(mgr, msg, sizeof msg)) {
        VSW_ERR("etcd: %s", msg);
        return vsw_rpc_error(err, VSW_RPC_INTERNAL_ERROR, "%s", msg);
    }
    return 0;
}

static int
rpc_etcd_set(json_t *params, json_t **result, struct vsw_rpc_error *err,
             void *mgr_)
{
    static const char *const known[] = {"endpoints", "host-id", NULL};
    struct vsw_manager *mgr = mgr_;
    const char *endpoints, *host_id = NULL;
    char msg[256];

    if (vsw_rpc_check_keys(params, known, err) ||
        vsw_rpc_get_string(params, "endpoints", true, &endpoints, err) ||
        vsw_rpc_get_string(params, "host-id", false, &host_id, err)) {
        return -1;
    }
    if (check_config(endpoints, host_id, msg, sizeof msg)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS, "%s", msg);
    }
    if (apply(mgr, endpoints, host_id ? host_id : "", err)) {
        return -1;
    }
    *result = vsw_etcd_status(mgr->etcd->client);
    return 0;
}

static int
rpc_etcd_clear(json_t *params, json_t **result, struct vsw_rpc_error *err,
               void *mgr_)
{
    static const char *const known[] = {NULL};
    struct vsw_manager *mgr = mgr_;

    if (vsw_rpc_check_keys(params, known, err) || apply(mgr, "", "", err)) {
        return -1;
    }
    *result = json_pack("{sbss}", "enabled", false, "state", "disabled");
    return 0;
}

int
mgr_etcd_register_rpc(struct vsw_manager *mgr, struct vsw_rpc_server *server)
{
    static const struct vsw_rpc_method methods[] = {
        {"etcd.show", rpc_etcd_show, VSW_RPC_READS},
        {"etcd.set", rpc_etcd_set, VSW_RPC_WRITES},
        {"etcd.clear", rpc_etcd_clear, VSW_RPC_WRITES},
    };

    return vsw_rpc_server_register(server, methods,
                                   sizeof methods / sizeof *methods, mgr);
}
