#include "trace.h"

#include <stdio.h>
#include <string.h>

void
vsw_trace_init(struct vsw_trace *trace)
{
    memset(trace, 0, sizeof *trace);
    trace->drop_reason = -1;
}

void
vsw_trace_step(struct vsw_trace *trace, const char *stage, const char *verdict,
               const char *fmt, ...)
{
    struct vsw_trace_step *step;
    va_list args;

    if (trace->n_steps == VSW_TRACE_MAX_STEPS) {
        return;
    }
    step = &trace->steps[trace->n_steps++];
    snprintf(step->stage, sizeof step->stage, "%s", stage);
    snprintf(step->verdict, sizeof step->verdict, "%s", verdict);
    va_start(args, fmt);
    vsnprintf(step->detail, sizeof step->detail, fmt, args);
    va_end(args);
}

void
vsw_trace_note(struct vsw_trace *trace, const char *fmt, ...)
{
    struct vsw_trace_step *step;
    size_t len;
    va_list args;

    if (!trace->n_steps) {
        return;
    }
    step = &trace->steps[trace->n_steps - 1];
    len = strlen(step->detail);
    va_start(args, fmt);
    vsnprintf(step->detail + len, sizeof step->detail - len, fmt, args);
    va_end(args);
}
