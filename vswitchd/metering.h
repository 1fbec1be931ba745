/*
 * Metering (FEATURES.md §7): what a port with `metering=true` sent and
 * received, per meter ACL rule and direction, or in total for a direction
 * without meter rules; kept across restarts in STATE/metering.json and
 * carried by port export/import.
 *
 * The datapath counts already: every rule has per-worker counters that
 * outlive snapshots (policy.h) and every port runtime counts what it
 * received and sent.  A meter is a control-plane view of one of those
 * sources: it adds what its source counted since the meter last looked,
 * while metering is on, to a 64-bit total that survives restarts, rule
 * set changes and devices that come and go.  So metering costs the
 * workers nothing beyond the ACL lookup a meter rule needs anyway.
 *
 * Sources: a meter rule's counters (the single longest-matching meter
 * rule of the frame's direction, whether the allow/deny rules then pass
 * it or not); for "total in" the frames the port sent toward the VM
 * (tx), for "total out" the frames it received from the VM (rx).
 *
 * Everything runs on the control thread.  Meters are read ("folded")
 * on every publish, at each 1 s tick (which also samples them for the
 * rates), and before they are shown, saved, reset or exported.
 */
#ifndef VSW_METERING_H
#define VSW_METERING_H 1

#include <jansson.h>
#include <stdint.h>

#include "rpc-server.h"

struct vsw_manager;
struct mgr_port;

/* Default of the switch setting metering-save-interval, in seconds. */
#define MGR_METERING_SAVE_INTERVAL_DEFAULT 10
#define MGR_METERING_SAVE_INTERVAL_MAX     86400

/* Brings every port's meters in line with its rules and its `metering`
 * setting, folding what the sources counted first.  Called at the start
 * of every publish, so a meter starts or stops counting exactly when the
 * change that caused it is published. */
void mgr_metering_sync(struct vsw_manager *);

/* The 1 s tick: folds and samples every meter (rates) and saves
 * metering.json when a switch's metering-save-interval has passed.
 * Called before the tick lets go of lost devices. */
void mgr_metering_tick(struct vsw_manager *, int64_t now_ms);

/* Reads STATE/metering.json at start, after config.json has made the
 * ports and before the first publish.  A missing file means no counts; a
 * corrupt one is logged and kept aside as metering.json.corrupt-<time>,
 * and counting starts from zero. */
void mgr_metering_restore(struct vsw_manager *);

/* Clean shutdown: folds and saves metering.json.  Does nothing if the
 * start did not get as far as mgr_metering_restore(). */
void mgr_metering_shutdown(struct vsw_manager *);

/* Frees the meters of 'port' (it is being destroyed); NULL-safe. */
void mgr_metering_port_destroy(struct mgr_port *port);

/* For port export: the meters of 'port' with their counts, as a new
 * array (empty when the port has none). */
json_t *mgr_metering_port_to_json(struct vsw_manager *, struct mgr_port *port);

/* For port import: checks the array 'meters' against the basic rules
 * 'acls' of the same document (each rule meter must name a meter rule of
 * its direction).  Returns 0 or fills 'err'. */
int mgr_metering_check_json(const json_t *meters, const json_t *acls,
                            struct vsw_rpc_error *err);

/* For port import, after the port and its rules exist: gives 'port' the
 * meters of 'meters' (checked) with their counts and saves
 * metering.json. */
void mgr_metering_port_import(struct vsw_manager *, struct mgr_port *port,
                              const json_t *meters);

/* Registers metering.*. */
int mgr_metering_register_rpc(struct vsw_manager *, struct vsw_rpc_server *);

/* Registers port.export and port.import (port-export.c). */
int mgr_port_export_register_rpc(struct vsw_manager *,
                                 struct vsw_rpc_server *);

#endif /* VSW_METERING_H */
