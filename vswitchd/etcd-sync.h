/*
 * The manager's side of etcd (issue 13, part 2): which etcd cluster the
 * daemon uses (--etcd, or the "etcd" member of config.json, so it
 * survives a restart; etcd.set and etcd.clear change it), the client's
 * life, and etcd.show.  The client itself is etcd.c.
 *
 * Why daemon-wide and not a switch setting: one host has one identity in
 * etcd (its host id and one lease for all its keys), whatever number of
 * switches it runs.
 *
 * Threads: control thread only.
 */
#ifndef VSW_ETCD_SYNC_H
#define VSW_ETCD_SYNC_H 1

#include <jansson.h>

#include "rpc-server.h"

struct vsw_manager;

/* Reads the "etcd" member of the configuration document 'document'
 * (borrowed) at start; a bad one is logged and ignored. */
void mgr_etcd_restore(struct vsw_manager *, const json_t *document);

/* Starts the client once the configuration is restored: with
 * 'endpoints' and 'host_id' from the command line when given (NULL if
 * not; they are then saved), else with what config.json says, else not
 * at all.  Returns 0 or a negative errno with a message in 'err'. */
int mgr_etcd_start(struct vsw_manager *, const char *endpoints,
                   const char *host_id, char *err, size_t errlen);

/* Stops the client (the keys expire with the lease).  NULL-safe state. */
void mgr_etcd_stop(struct vsw_manager *);

/* The "etcd" member config.json keeps, or NULL when etcd is not used. */
json_t *mgr_etcd_to_json(const struct vsw_manager *);

/* etcd.show, etcd.set, etcd.clear. */
int mgr_etcd_register_rpc(struct vsw_manager *, struct vsw_rpc_server *);

#endif /* VSW_ETCD_SYNC_H */
