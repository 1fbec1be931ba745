/*
 * Every bounded table of the daemon, with its bound, its use and how often
 * the bound was reached, for `system.status` and the log.
 *
 * Each module that owns a bounded table reports it with a collector, a
 * function that calls vsw_bounds_add() once per table instance (per
 * switch, port, worker, ...).  bounds.c lists the collectors in one array:
 * adding a table is writing its collector next to the table's code and
 * adding one line there.
 *
 * Threads: the control thread only.  Collectors read what the workers
 * count with relaxed atomic loads; a row's figures are each read whole,
 * not all at one instant.
 */
#ifndef VSW_BOUNDS_H
#define VSW_BOUNDS_H 1

#include <jansson.h>
#include <stdint.h>

struct vsw_manager;
struct vsw_bounds;

/* Adds a row: table 'table' ("mac-table") of 'owner' ("switch:sw0",
 * "worker:1", "daemon"; KIND:NAME without spaces, so that it stays one
 * cell of a table), counting in 'unit' ("entries", "bytes"), of
 * which 'used' are in use out of 'bound'; 'full' counts the times the
 * bound was reached (what then happened is the table's own rule: an
 * eviction, a refusal, a drop).  'owner' is copied. */
void vsw_bounds_add(struct vsw_bounds *, const char *table, const char *owner,
                    const char *unit, uint64_t used, uint64_t bound,
                    uint64_t full);

/* A collector: adds the rows of one kind of table. */
typedef void vsw_bounds_collector(struct vsw_manager *, struct vsw_bounds *);

/* Every row, as system.status's "bounds" array (a new reference). */
json_t *vsw_bounds_json(struct vsw_manager *);

/* From the 1 s tick: logs each table whose 'full' count grew since the
 * last tick, the first time at once and then at most once a minute per
 * table, with the count of the times in between. */
void vsw_bounds_tick(struct vsw_manager *);

/* Frees what vsw_bounds_tick() remembers. */
void vsw_bounds_destroy(struct vsw_manager *);

#endif /* VSW_BOUNDS_H */
