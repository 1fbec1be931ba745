/*
 * Port mirroring (FEATURES.md §6): every frame a source port sends or
 * receives is copied once to every destination port of its switch.
 *
 * Where it sits in the pipeline (pipeline.c calls these three hooks, and
 * only on a switch whose snapshot says it mirrors):
 *
 *   mirror-in   after ingress (stages or a flow cache hit), before
 *               egress: for each frame of the batch, notes which
 *               destinations already have it (the port it came from, the
 *               ports it is queued for as a normal frame), then, if the
 *               input port is a source, queues a copy of each forwarded
 *               frame, as it was received, for every other destination;
 *   mirror-out  per destination port that is a source, after its acl-in
 *               and vlan-egress: a copy of each frame it takes, as it
 *               will leave, for the destinations that have none yet;
 *   tx          the copies go out after the normal frames of the batch.
 *
 * A copy is a tx item over the frame's buffer, never a copy of the
 * bytes.  What is decided per frame is a bit mask of destinations
 * ('mirror_has'), so a frame sent from one source to another, or
 * flooded to several sources, is copied once to each destination.  A
 * frame dropped on its way in (guards, out-ACLs, no destination) never
 * reaches mirror-in's copy; one the receiving source's in-ACLs drop
 * never reaches mirror-out.
 *
 * Copies ignore the destination's VLAN membership and policy: a
 * destination is an analyzer's port.  It still forwards as a normal port.
 */
#ifndef VSW_MIRROR_H
#define VSW_MIRROR_H 1

#include <stdbool.h>
#include <stdint.h>

/* A port's part in mirroring (the port setting "mirror"). */
enum vsw_mirror_role {
    VSW_MIRROR_NONE,
    VSW_MIRROR_SOURCE,
    VSW_MIRROR_DESTINATION,
};

/* The setting's values, by enum vsw_mirror_role, NULL-terminated. */
extern const char *const vsw_mirror_role_names[];

/* Destination ports one switch may have: one bit each in a frame's
 * 'mirror_has' mask. */
#define VSW_MIRROR_MAX_DESTINATIONS 32

struct vsw_pipeline;
struct vsw_packet_batch;
struct vsw_txq;
struct vsw_trace;
struct vsw_packet;
struct vsw_dp_port;
struct vsw_dp_snapshot;

/* Worker: the mirror-in hook, after every frame of 'batch' went through
 * ingress and before egress. */
void vsw_mirror_ingress(struct vsw_pipeline *pl,
                        const struct vsw_packet_batch *batch);

/* Worker: the mirror-out hook for 'txq', whose port is a source, after
 * its vlan-egress. */
void vsw_mirror_egress(struct vsw_pipeline *pl, const struct vsw_txq *txq);

/* Control thread: the "mirror" step of a trace of a frame from
 * 'in_port' of 'snap', whose outputs 'trace' already lists. */
void vsw_mirror_trace(const struct vsw_dp_snapshot *snap,
                      const struct vsw_dp_port *in_port,
                      struct vsw_trace *trace);

#endif /* VSW_MIRROR_H */
