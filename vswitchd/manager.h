/*
 * The switch manager: the daemon's desired state (switches and ports with
 * their settings), kept in step with three other things on every change:
 *
 *   - the kernel: TAP devices created, reattached and removed, uplinks
 *     attached with AF_PACKET;
 *   - the datapath: a new immutable snapshot is published, so the change
 *     applies atomically to the next batch of frames;
 *   - the config file: saved crash-safely before the change is reported
 *     done, so a restart restores exactly what the last answer said.
 *
 * A change is validated completely before anything is touched, and a
 * failure anywhere leaves all three as they were ("bad input changes
 * nothing").  It also follows each TAP device that its owner moves into
 * another network namespace, pinning that namespace in the state
 * directory so that a restarted daemon can reattach there.
 *
 * Threads: control thread only.
 */
#ifndef VSW_MANAGER_H
#define VSW_MANAGER_H 1

#include <jansson.h>
#include <stdbool.h>

#include "rpc-server.h"

struct event_base;
struct vsw_manager;

struct vsw_manager_options {
    const char *state_dir; /* holds config.json and netns/ (must exist) */
    unsigned n_workers;    /* datapath threads */
    bool busy_poll;        /* workers spin instead of sleeping */
    const char *const *extension_dirs; /* load every *.so in these */
    size_t n_extension_dirs;           /* entries in 'extension_dirs' */
    const char *etcd_endpoints;        /* --etcd, NULL: as config.json says */
    const char *etcd_host_id; /* --host-id, NULL: as config.json says */
};

/* Starts the datapath and restores the configuration saved in the state
 * directory, reattaching every TAP device.  A port that cannot be
 * restored is logged and kept in the configuration (so nothing is lost),
 * without a device.  Returns 0 and stores the manager in '*mgrp', or a
 * negative errno with a message in 'err' ('errlen' bytes). */
int vsw_manager_create(struct event_base *base,
                       const struct vsw_manager_options *opts,
                       struct vsw_manager **mgrp, char *err, size_t errlen);

/* Stops the datapath and frees the manager.  TAP devices and namespace
 * pins stay, for the next daemon to reattach.  NULL is allowed. */
void vsw_manager_destroy(struct vsw_manager *mgr);

/* Registers the JSON-RPC methods (switch.*, port.*, fdb.*, system.*) on
 * 'server'.  Returns 0 or a negative errno. */
int vsw_manager_register_rpc(struct vsw_manager *mgr,
                             struct vsw_rpc_server *server);

/* Values system.status and system.stop report about the daemon itself
 * ('pidfile' may be NULL). */
void vsw_manager_set_identity(struct vsw_manager *mgr, const char *socket,
                              const char *pidfile, long long start_time_ms);

#endif /* VSW_MANAGER_H */
