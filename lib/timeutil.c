#include "timeutil.h"

#include <time.h>

static int64_t
clock_nsec(clockid_t clock)
{
    struct timespec ts;

    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
vsw_time_nsec(void)
{
    return clock_nsec(CLOCK_MONOTONIC);
}

int64_t
vsw_time_msec(void)
{
    return clock_nsec(CLOCK_MONOTONIC) / 1000000;
}

int64_t
vsw_time_wall_msec(void)
{
    return clock_nsec(CLOCK_REALTIME) / 1000000;
}
