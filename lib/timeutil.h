/* Clocks, in the units the switch uses. */
#ifndef VSW_TIMEUTIL_H
#define VSW_TIMEUTIL_H 1

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds and nanoseconds. */
int64_t vsw_time_msec(void);
int64_t vsw_time_nsec(void);

/* CLOCK_REALTIME in milliseconds, for timestamps shown to people. */
int64_t vsw_time_wall_msec(void);

#endif /* VSW_TIMEUTIL_H */
