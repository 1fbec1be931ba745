/*
 * The switch manager: the desired state of the daemon (switches, ports
 * and their policy) and how it reaches the kernel, the datapath and the
 * configuration file.  This file holds the manager's life cycle and its
 * lookups; each noun has its own file (see manager-private.h).
 */
#include "manager-private.h"

#include <errno.h>
#include <event2/event.h>
#include <netlink/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounds.h"
#include "conntrack.h"
#include "etcd-sync.h"
#include "log.h"
#include "metering.h"
#include "pipeline.h"
#include "timeutil.h"

/* ---- Names and addresses ---- */

int
mgr_check_name(const char *what, const char *name, struct vsw_rpc_error *err)
{
    size_t len = strlen(name);

    if (!len || len >= VSW_NAME_MAX || name[0] == '.' || name[0] == '-') {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "%s name must be 1-%d characters and not start "
                             "with '.' or '-'",
                             what, VSW_NAME_MAX - 1);
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "%s name '%s' may only contain letters, "
                                 "digits, '-', '_' and '.'",
                                 what, name);
        }
    }
    return 0;
}

struct mgr_switch *
mgr_find_switch(struct vsw_manager *mgr, const char *name)
{
    for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        if (!strcmp(sw->name, name)) {
            return sw;
        }
    }
    return NULL;
}

struct mgr_port *
mgr_find_port(struct vsw_manager *mgr, const char *name)
{
    for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        for (struct mgr_port *p = sw->ports; p; p = p->next) {
            if (!strcmp(p->name, name)) {
                return p;
            }
        }
    }
    return NULL;
}

/* ---- Life cycle ---- */

int
vsw_manager_create(struct event_base *base,
                   const struct vsw_manager_options *opts,
                   struct vsw_manager **mgrp, char *err, size_t errlen)
{
    struct vsw_manager *mgr = calloc(1, sizeof *mgr);
    char netns_dir[PATH_MAX];
    struct stat st;
    int error;

    if (!mgr) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    mgr->retired_tail = &mgr->retired;
    mgr->base = base;
    snprintf(mgr->state_dir, sizeof mgr->state_dir, "%s", opts->state_dir);
    snprintf(mgr->config_path, sizeof mgr->config_path, "%s/config.json",
             opts->state_dir);
    snprintf(netns_dir, sizeof netns_dir, "%s/netns", opts->state_dir);
    if (mkdir(netns_dir, 0700) < 0 && errno != EEXIST) {
        error = -errno;
        snprintf(err, errlen, "cannot create %s: %s", netns_dir,
                 strerror(errno));
        goto fail;
    }
    if (stat("/proc/self/ns/net", &st) < 0) {
        error = -errno;
        snprintf(err, errlen, "cannot read /proc/self/ns/net: %s",
                 strerror(errno));
        goto fail;
    }
    mgr->own_netns_ino = st.st_ino;
    mgr->last_tick_ms = vsw_time_msec();
    mgr->busy_poll = opts->busy_poll;

    mgr->conntrack = vsw_conntrack_create(VSW_CONNTRACK_DEFAULT_MAX_FLOWS, 0);
    if (!mgr->conntrack) {
        snprintf(err, errlen, "out of memory for the flow table");
        error = -ENOMEM;
        goto fail;
    }
    error = vsw_datapath_create(opts->n_workers, opts->busy_poll, &mgr->dp);
    if (error) {
        snprintf(err, errlen, "cannot start %u datapath workers: %s",
                 opts->n_workers, strerror(-error));
        goto fail;
    }
    error = mgr_tick_start(mgr);
    if (error) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    error = mgr_link_monitor_start(mgr);
    if (error) {
        snprintf(err, errlen, "cannot listen to rtnetlink: %s",
                 strerror(-error));
        goto fail;
    }
    error = mgr_ext_init(mgr);
    if (error) {
        snprintf(err, errlen, "cannot start the extension watchdog: %s",
                 strerror(-error));
        goto fail;
    }
    error = mgr_config_restore(mgr, err, errlen);
    if (error) {
        goto fail;
    }
    mgr_metering_restore(mgr);
    error = mgr_etcd_start(mgr, opts->etcd_endpoints, opts->etcd_host_id, err,
                           errlen);
    if (error) {
        goto fail;
    }
    for (size_t i = 0; i < opts->n_extension_dirs; i++) {
        mgr_ext_load_dir(mgr, opts->extension_dirs[i]);
    }
    if (mgr_ext_quarantined_at_start(mgr)) {
        mgr_config_save(mgr, NULL);
    }
    mgr_publish(mgr);
    /* Record where every TAP is now, in case it moved while no daemon
     * was watching. */
    mgr_track_all(mgr);
    *mgrp = mgr;
    return 0;

fail:
    vsw_manager_destroy(mgr);
    return error;
}

void
vsw_manager_destroy(struct vsw_manager *mgr)
{
    if (!mgr) {
        return;
    }
    mgr_etcd_stop(mgr);
    mgr_metering_shutdown(mgr);
    while (mgr->switches) {
        mgr_switch_destroy(mgr, mgr->switches, false);
    }
    if (mgr->dp) {
        /* An empty snapshot lets go of everything retired above. */
        mgr_publish(mgr);
        vsw_datapath_barrier(mgr->dp);
        vsw_datapath_destroy(mgr->dp);
    }
    /* The TAPs of deleted ports are gone before the daemon is. */
    mgr_tap_reaper_stop();
    mgr_capture_destroy(mgr);
    mgr_ext_shutdown(mgr);
    vsw_pipeline_destroy(mgr->inject_pl);
    if (mgr->tick) {
        event_free(mgr->tick);
    }
    if (mgr->reclaim) {
        event_free(mgr->reclaim);
    }
    if (mgr->link_event) {
        event_free(mgr->link_event);
    }
    nl_socket_free(mgr->link_sock);
    vsw_pipeline_destroy(mgr->trace_pl);
    vsw_conntrack_destroy(mgr->conntrack);
    vsw_packet_destroy(mgr->trace_pkt);
    vsw_bounds_destroy(mgr);
    free(mgr);
}

void
vsw_manager_set_identity(struct vsw_manager *mgr, const char *socket,
                         const char *pidfile, long long start_time_ms)
{
    char cwd[PATH_MAX];

    snprintf(mgr->socket_path, sizeof mgr->socket_path, "%s", socket);
    /* Absolute, for a client that waits for it to go away from its own
     * working directory. */
    if (pidfile && pidfile[0] != '/' && getcwd(cwd, sizeof cwd)) {
        snprintf(mgr->pidfile, sizeof mgr->pidfile, "%.*s/%s",
                 (int)(sizeof mgr->pidfile / 2), cwd, pidfile);
    } else {
        snprintf(mgr->pidfile, sizeof mgr->pidfile, "%s",
                 pidfile ? pidfile : "");
    }
    mgr->start_time_ms = start_time_ms;
}
