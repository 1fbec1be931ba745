/*
 * Every bounded table, its bound and its use (bounds.h).  The collectors
 * of tables the manager reaches directly (MAC tables, stateful flows,
 * fragment tables, flow caches, shaper spares, the RPC server) are here;
 * the others are next to their tables and only listed here.
 */
#include "bounds.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conntrack.h"
#include "ext-private.h"
#include "fdb.h"
#include "guard.h"
#include "log.h"
#include "manager-private.h"
#include "rpc-server.h"
#include "timeutil.h"

/* How often a table that keeps reaching its bound is logged again. */
#define BOUNDS_LOG_INTERVAL_MS 60000

/* One row of vsw_bounds_add(). */
struct bound_row {
    const char *table; /* static */
    char owner[96];    /* "switch:sw0" */
    const char *unit;  /* static */
    uint64_t used;
    uint64_t bound;
    uint64_t full;
};

struct vsw_bounds {
    struct bound_row *rows;
    size_t n, allocated;
};

/* What vsw_bounds_tick() remembers of one table. */
struct bound_seen {
    char key[160];        /* "table/owner" */
    uint64_t logged_full; /* its 'full' count when last logged */
    long long logged_ms;  /* when it was last logged, 0: never */
};

/* The memory of vsw_bounds_tick(), kept in the manager: one entry per
 * table of the latest tick, sorted by key. */
struct mgr_bounds {
    struct bound_seen *seen;
    size_t n;
};

void
vsw_bounds_add(struct vsw_bounds *b, const char *table, const char *owner,
               const char *unit, uint64_t used, uint64_t bound, uint64_t full)
{
    struct bound_row *row;

    if (b->n == b->allocated) {
        size_t n = b->allocated ? 2 * b->allocated : 32;
        struct bound_row *rows = reallocarray(b->rows, n, sizeof *rows);

        if (!rows) {
            return; /* the status shows fewer rows, nothing worse */
        }
        b->rows = rows;
        b->allocated = n;
    }
    row = &b->rows[b->n++];
    row->table = table;
    snprintf(row->owner, sizeof row->owner, "%s", owner);
    row->unit = unit;
    row->used = used;
    row->bound = bound;
    row->full = full;
}

/* ---- The collectors of the tables the manager holds ---- */

static void
mac_table_bounds(struct vsw_manager *mgr, struct vsw_bounds *b)
{
    for (const struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        char owner[VSW_NAME_MAX + 8];

        snprintf(owner, sizeof owner, "switch:%s", sw->name);
        vsw_bounds_add(
            b, "mac-table", owner, "entries", vsw_fdb_count(sw->fdb),
            vsw_fdb_get_max_entries(sw->fdb), vsw_fdb_full_count(sw->fdb));
    }
}

static void
stateful_flow_bounds(struct vsw_manager *mgr, struct vsw_bounds *b)
{
    vsw_bounds_add(b, "stateful-flows", "daemon", "flows",
                   vsw_conntrack_count(mgr->conntrack),
                   vsw_conntrack_get_max_flows(mgr->conntrack),
                   vsw_conntrack_full_count(mgr->conntrack));
}

/* The fragment tables of the ports whose guards or ACLs use them: a port
 * without policy never fills them, and a row for each of thousands of
 * plain ports would hide the ones that matter. */
static void
fragment_bounds(struct vsw_manager *mgr, struct vsw_bounds *b)
{
    for (const struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        for (const struct mgr_port *p = sw->ports; p; p = p->next) {
            struct vsw_guard_frag_usage usage;
            char owner[VSW_NAME_MAX + 8];

            if (!p->rt || !p->rt->guard_state || !mgr_port_needs_policy(p)) {
                continue;
            }
            vsw_guard_frag_usage(p->rt->guard_state, &usage);
            snprintf(owner, sizeof owner, "port:%s", p->name);
            vsw_bounds_add(b, "fragment-table", owner, "datagrams", usage.used,
                           usage.size, usage.evictions);
        }
    }
}

/* Per worker: its flow cache and its shaper's spare buffers. */
static void
worker_bounds(struct vsw_manager *mgr, struct vsw_bounds *b)
{
    unsigned n = vsw_datapath_n_workers(mgr->dp);

    for (unsigned i = 0; i < n; i++) {
        struct vsw_worker_info info;
        char owner[32];

        vsw_datapath_worker_info(mgr->dp, i, &info);
        snprintf(owner, sizeof owner, "worker:%u", i);
        vsw_bounds_add(b, "flow-cache", owner, "entries", info.cache_used,
                       info.cache_size, info.cache_evictions);
    }
    for (unsigned i = 0; i < n; i++) {
        struct vsw_worker_info info;
        char owner[32];

        vsw_datapath_worker_info(mgr->dp, i, &info);
        snprintf(owner, sizeof owner, "worker:%u", i);
        vsw_bounds_add(b, "shaper-spares", owner, "buffers", info.spares_used,
                       info.spares_size, info.spares_none);
    }
}

/* Requests and replies are bounded per connection: the rows show the
 * largest use of any connection. */
static void
rpc_bounds(struct vsw_manager *mgr, struct vsw_bounds *b)
{
    struct vsw_rpc_server_bounds rb;

    if (!mgr->rpc) {
        return;
    }
    vsw_rpc_server_get_bounds(mgr->rpc, &rb);
    vsw_bounds_add(b, "rpc-connections", "daemon", "connections", rb.n_clients,
                   rb.max_clients, rb.clients_refused);
    vsw_bounds_add(b, "rpc-request", "connection", "bytes", rb.request_largest,
                   rb.max_request, rb.requests_too_long);
    vsw_bounds_add(b, "rpc-output", "connection", "bytes", rb.output_largest,
                   rb.max_output, rb.slow_readers);
}

/* Every bounded table, in the order the status shows them.  A new table
 * is one line here (and its collector next to its code). */
static vsw_bounds_collector *const collectors[] = {
    mac_table_bounds,     /* forward/fdb.c, per switch */
    stateful_flow_bounds, /* policy/conntrack.c, the daemon's */
    fragment_bounds,      /* policy/guard.c, per port with policy */
    worker_bounds,        /* flow caches and shaper spares, per worker */
    mgr_mirror_bounds,    /* port-mirror.c, per switch */
    mgr_qos_sched_bounds, /* qos-sched.c, per scheduled uplink */
    mgr_team_bounds,      /* team.c: members, LACP partners, rx-balance */
    mgr_tunnel_bounds,    /* tunnel.c: each tunnel's learned mappings */
    mgr_capture_bounds,   /* capture.c: sessions, and each one's rings */
    ext_host_bounds,      /* ext-host.c: deferred frees */
    rpc_bounds,           /* rpc-server.c */
};

static void
bounds_collect(struct vsw_manager *mgr, struct vsw_bounds *b)
{
    for (size_t i = 0; i < sizeof collectors / sizeof *collectors; i++) {
        collectors[i](mgr, b);
    }
}

json_t *
vsw_bounds_json(struct vsw_manager *mgr)
{
    struct vsw_bounds b = {0};
    json_t *rows = json_array();

    bounds_collect(mgr, &b);
    for (size_t i = 0; i < b.n; i++) {
        const struct bound_row *r = &b.rows[i];

        json_array_append_new(rows, json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}",
                                              "table", r->table, "owner",
                                              r->owner, "unit", r->unit,
                                              "used", (json_int_t)r->used,
                                              "bound", (json_int_t)r->bound,
                                              "full", (json_int_t)r->full));
    }
    free(b.rows);
    return rows;
}

/* ---- Logging a bound reached ---- */

static int
row_key_cmp(const struct bound_row *a, const struct bound_row *b)
{
    int c = strcmp(a->table, b->table);

    return c ? c : strcmp(a->owner, b->owner);
}

static int
row_cmp(const void *a, const void *b)
{
    return row_key_cmp(a, b);
}

static void
row_key(const struct bound_row *r, char *key, size_t size)
{
    snprintf(key, size, "%s/%s", r->table, r->owner);
}

/* Logs 'r' if its 'full' count grew since it was last logged, the first
 * time at once, then at most once per BOUNDS_LOG_INTERVAL_MS. */
static void
bounds_log(struct bound_seen *seen, const struct bound_row *r, long long now)
{
    char owner[sizeof r->owner];
    char *colon;

    if (r->full <= seen->logged_full ||
        (seen->logged_ms && now - seen->logged_ms < BOUNDS_LOG_INTERVAL_MS)) {
        return;
    }
    /* "switch:sw0" reads "switch sw0" in a sentence. */
    snprintf(owner, sizeof owner, "%s", r->owner);
    colon = strchr(owner, ':');
    if (colon) {
        *colon = ' ';
    }
    if (!seen->logged_ms) {
        VSW_WARN("bound reached: %s of %s is full (%" PRIu64 " of %" PRIu64
                 " %s in use); counted as \"full\" in vswitch-ctl status",
                 r->table, owner, r->used, r->bound, r->unit);
    } else {
        VSW_WARN("bound reached: %s of %s, %" PRIu64
                 " more times since it was last logged (%" PRIu64
                 " of %" PRIu64 " %s in use)",
                 r->table, owner, r->full - seen->logged_full, r->used,
                 r->bound, r->unit);
    }
    seen->logged_ms = now;
    seen->logged_full = r->full;
}

/* Both the rows and what was seen are sorted by key, so that matching
 * them is one merge, whatever the number of ports. */
void
vsw_bounds_tick(struct vsw_manager *mgr)
{
    struct mgr_bounds *mb = mgr->bounds;
    struct vsw_bounds b = {0};
    long long now = vsw_time_msec();
    struct bound_seen *next;
    size_t j = 0;

    if (!mb) {
        mb = mgr->bounds = calloc(1, sizeof *mb);
        if (!mb) {
            return;
        }
    }
    bounds_collect(mgr, &b);
    qsort(b.rows, b.n, sizeof *b.rows, row_cmp);
    next = b.n ? calloc(b.n, sizeof *next) : NULL;
    if (b.n && !next) {
        free(b.rows);
        return;
    }
    for (size_t i = 0; i < b.n; i++) {
        const struct bound_row *r = &b.rows[i];
        struct bound_seen *seen = &next[i];
        int c = 1;

        row_key(r, seen->key, sizeof seen->key);
        /* Tables that are gone (a switch deleted) are skipped, and so
         * forgotten. */
        while (j < mb->n && (c = strcmp(mb->seen[j].key, seen->key)) < 0) {
            j++;
        }
        if (j < mb->n && !c) {
            *seen = mb->seen[j++];
        }
        bounds_log(seen, r, now);
    }
    free(mb->seen);
    mb->seen = next;
    mb->n = b.n;
    free(b.rows);
}

void
vsw_bounds_destroy(struct vsw_manager *mgr)
{
    if (mgr->bounds) {
        free(mgr->bounds->seen);
        free(mgr->bounds);
        mgr->bounds = NULL;
    }
}
