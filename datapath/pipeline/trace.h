/*
 * Tracing: what the pipeline did with one frame, stage by stage, for
 * `vswitch-ctl trace`.  A traced frame runs through the same stage
 * functions as real traffic, but with side effects off: nothing is
 * learned, counted, queued or sent, and the flow cache is neither read
 * nor filled, so a trace never changes what the switch does next.
 */
#ifndef VSW_TRACE_H
#define VSW_TRACE_H 1

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#define VSW_TRACE_MAX_STEPS   32
#define VSW_TRACE_MAX_OUTPUTS 64
#define VSW_TRACE_TEXT        192

/* One stage's verdict on the frame. */
struct vsw_trace_step {
    char stage[24];              /* stage name, e.g. "vlan-ingress" */
    char verdict[32];            /* "continue", "forward", or a drop
                                    reason's name */
    char detail[VSW_TRACE_TEXT]; /* what decided, for people */
};

/* One port the frame would leave through. */
struct vsw_trace_output {
    uint32_t port_id; /* destination port */
    bool tagged;      /* leaves with an 802.1Q tag */
    uint16_t tci;     /* that tag */
    bool denied;      /* the port's "in" ACLs refused the frame */
};

struct vsw_trace {
    char key[VSW_TRACE_TEXT];                         /* the parsed flow key */
    unsigned n_steps;                                 /* entries in 'steps' */
    struct vsw_trace_step steps[VSW_TRACE_MAX_STEPS]; /* in order */
    unsigned n_outputs; /* entries in 'outputs' */
    struct vsw_trace_output outputs[VSW_TRACE_MAX_OUTPUTS]; /* where it
                                                               goes */
    int drop_reason; /* enum vsw_drop_reason, or -1 */
};

/* Starts an empty trace. */
void vsw_trace_init(struct vsw_trace *trace);

/* Appends a step; 'fmt' and what follows make its detail. */
void vsw_trace_step(struct vsw_trace *trace, const char *stage,
                    const char *verdict, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Appends text to the detail of the last step. */
void vsw_trace_note(struct vsw_trace *trace, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* VSW_TRACE_H */
