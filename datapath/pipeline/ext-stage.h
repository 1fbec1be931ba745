/*
 * Extension stages: where the datapath calls the plugins' 'process'.
 *
 * The control plane describes each extension enabled on a switch with a
 * struct vsw_ext_instance, which outlives snapshots (its counters are
 * written by the workers), and lists the switch's instances, in order,
 * in the snapshot (struct vsw_dp_ext).  The pipeline calls:
 *   ingress, after vlan-ingress:  capture extensions, then filters;
 *   ingress, before forward:      the forwarding extension;
 *   egress, after acl-in:         filters (a drop excludes the
 *                                 destination), then capture extensions.
 * The host enforces the class's capability matrix on every verdict, and
 * the failure policy when a verdict is ABORTED or the breaker tripped.
 *
 * Frames the plugins own (struct vsw_ext_frame) are made and freed here
 * too, so that the pipeline can free injected frames after sending them.
 *
 * Threads: the stages run on workers (and on the control thread for
 * frames injected from there); instances are made by the control thread.
 */
#ifndef VSW_EXT_STAGE_H
#define VSW_EXT_STAGE_H 1

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <vswitch/extension.h>

/* Most extensions enabled on one switch. */
#define VSW_EXT_MAX_PER_SWITCH 16

/* One worker's counters of one extension on one switch; only that
 * worker writes them. */
struct vsw_ext_counters {
    _Atomic uint64_t batches;  /* 'process' calls */
    _Atomic uint64_t packets;  /* packets handed to it */
    _Atomic uint64_t aborted;  /* verdicts ABORTED or unknown */
    _Atomic uint64_t dropped;  /* packets it dropped or excluded */
    _Atomic uint64_t refused;  /* verdicts its class may not give */
    _Atomic uint64_t errors;   /* set_error() calls from 'process' */
    _Atomic uint64_t injected; /* frames it injected */
    _Atomic uint64_t time_ns;  /* time spent in 'process' */
} __attribute__((aligned(64)));

/* Counters summed over workers. */
struct vsw_ext_totals {
    uint64_t batches;  /* as in struct vsw_ext_counters */
    uint64_t packets;  /* ... */
    uint64_t aborted;  /* ... */
    uint64_t dropped;  /* ... */
    uint64_t refused;  /* ... */
    uint64_t errors;   /* ... */
    uint64_t injected; /* ... */
    uint64_t time_ns;  /* ... */
};

/* An extension enabled on one switch.  Made and freed (after a grace
 * period) by the control plane. */
struct vsw_ext_instance {
    char name[32];      /* extension name, for traces and logs */
    uint32_t ext_class; /* VSW_EXT_CLASS_* */
    bool fail_closed;   /* drop, rather than bypass, on failure */
    bool plain_frames;  /* sees wire frames: GSO packets segmented,
                           checksums completed */
    void (*process)(void *ext_data, void *sw_data,
                    const struct vsw_ext_batch *batch); /* the plugin's */
    void *ext_data;                    /* the plugin's, from init */
    void *sw_data;                     /* the plugin's, from start */
    struct vsw_ext_switch *host;       /* the host's handle for inject */
    unsigned n_counters;               /* workers + the control thread */
    struct vsw_ext_counters *counters; /* one per entry */
};

/* An extension as one snapshot sees it. */
struct vsw_dp_ext {
    struct vsw_ext_instance *inst; /* not owned */
    bool tripped;                  /* breaker open: bypassed if fail
                                      open, drops if fail closed */
};

/* Control thread: an instance with 'n_counters' counter slots.  NULL on
 * allocation failure.  Free with vsw_ext_instance_destroy() after a
 * grace period. */
struct vsw_ext_instance *vsw_ext_instance_create(unsigned n_counters);
void vsw_ext_instance_destroy(struct vsw_ext_instance *inst);
void vsw_ext_instance_totals(const struct vsw_ext_instance *inst,
                             struct vsw_ext_totals *totals);

/* What the thread is running now: set around every call into a plugin,
 * so that host services know their caller and the crash handler and the
 * watchdog know whom to blame. */
struct vsw_ext_call {
    const char *_Atomic name;       /* extension running, NULL: none
                                       (read by the watchdog) */
    _Atomic int64_t since_ns;       /* when the call began, 0: none */
    struct vsw_pipeline *pl;        /* worker pipeline, NULL: main */
    struct vsw_ext_instance *inst;  /* instance in 'process', or NULL */
    unsigned position;              /* its index in the switch's list */
    struct vsw_ext_counters *stats; /* the thread's counters of 'inst' */
};

/* This thread's call record (every thread has one). */
struct vsw_ext_call *vsw_ext_call_self(void);

/* Registers 'call' so the watchdog sees it; up to 70 threads. */
void vsw_ext_call_register(struct vsw_ext_call *call);

/* The registered records, for the watchdog: fills 'calls' (up to 'max')
 * and returns how many there are. */
unsigned vsw_ext_call_list(struct vsw_ext_call **calls, unsigned max);

/* Frames plugins own.  Any thread. */
struct vsw_ext_frame *vsw_ext_frame_alloc(uint32_t len);
struct vsw_ext_frame *vsw_ext_frame_clone(const struct vsw_ext_packet *pkt);
uint8_t *vsw_ext_frame_push(struct vsw_ext_frame *f, uint32_t n);
uint8_t *vsw_ext_frame_pull(struct vsw_ext_frame *f, uint32_t n);
void vsw_ext_frame_free(struct vsw_ext_frame *f);

/* Host service add_destination(). */
int vsw_ext_add_destination(const struct vsw_ext_batch *batch, uint32_t index,
                            uint32_t port);

#endif /* VSW_EXT_STAGE_H */
