/*
 * Moving a port's VM to another host (issue 13, part 3): the parts of
 * port.export and port.import (port-export.c) that carry live state
 * rather than configuration.
 *
 *   - The stateful ACL flows of the port (conntrack.h), both directions
 *     in one entry, with their remaining idle time, so that a connection
 *     a stateful rule admitted is not cut on the new host.
 *   - The announcement of the VM's new place: once the port exists on
 *     the new host, frames "from the VM" (gratuitous ARP, IPv6
 *     unsolicited neighbour advertisement, or RARP) go through the
 *     switch from the port, so that the local MAC table and, by head-end
 *     replication, every remote VTEP of the port's VNI learn where the
 *     MAC lives now.
 *
 * Control thread only.
 */
#ifndef VSW_PORT_MIGRATE_H
#define VSW_PORT_MIGRATE_H 1

#include <jansson.h>

#include "rpc-server.h"

struct vsw_manager;
struct mgr_port;

/* Most flows one document may carry (the daemon's whole table). */
#define MGR_MIGRATE_MAX_FLOWS 65536

/* The live stateful flows of 'port' as a JSON array for port.export. */
json_t *mgr_migrate_flows_to_json(struct vsw_manager *, struct mgr_port *port);

/* Checks the "flows" array of an export document ('flows' may be NULL:
 * none) before anything is created, including that the daemon's table
 * has room for them.  Returns 0 or fills 'err' (the message names the
 * entry). */
int mgr_migrate_flows_check(struct vsw_manager *, const json_t *flows,
                            struct vsw_rpc_error *err);

/* Recreates the checked 'flows' on 'port'.  Returns how many are in the
 * table now (an entry that expired on the way, or that no longer finds
 * room, is left out and logged). */
size_t mgr_migrate_flows_restore(struct vsw_manager *, struct mgr_port *port,
                                 const json_t *flows);

/* Announces the VM behind 'port' (just imported) from the port into its
 * switch: a gratuitous ARP for each IPv4 address and an unsolicited
 * neighbour advertisement for each IPv6 address known for it (its
 * allowed-ips, and the address common to all of the carried 'flows'),
 * or a RARP when none is known.  Returns what was sent, as
 * {"mac": ..., "ipv4": [...], "ipv6": [...], "rarp": bool}; "mac" is
 * null (and nothing sent) when the port's MAC is unknown. */
json_t *mgr_migrate_announce(struct vsw_manager *, struct mgr_port *port,
                             const json_t *flows);

#endif /* VSW_PORT_MIGRATE_H */
