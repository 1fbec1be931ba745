/*
 * Tenant networks through etcd (see etcd-tenant.c): this host's VTEPs and
 * VM MACs published, the other hosts' programmed into the tunnels.
 *
 * Threads: control thread only.
 */
#ifndef VSW_ETCD_TENANT_H
#define VSW_ETCD_TENANT_H 1

#include <stdbool.h>

struct vsw_manager;
struct vsw_etcd;
struct etcd_tenant;

/* Starts publishing through 'client' and programming from it (it becomes
 * the client's listener).  NULL if out of memory. */
struct etcd_tenant *etcd_tenant_create(struct vsw_manager *,
                                       struct vsw_etcd *client);

/* Stops; with 'unprogram', first removes from the tunnels everything it
 * programmed (etcd is no longer used), else leaves it (the daemon is
 * stopping).  NULL is allowed. */
void etcd_tenant_destroy(struct etcd_tenant *, bool unprogram);

#endif /* VSW_ETCD_TENANT_H */
