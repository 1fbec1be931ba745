/*
 * Small helpers the unit tests share: a deterministic pseudo-random
 * sequence (so a failing random test fails the same way again) and a
 * real clock for the concurrency tests, which read it only to know when
 * to stop.
 */
#ifndef VSW_TEST_UTIL_H
#define VSW_TEST_UTIL_H 1

#include <stdint.h>
#include <time.h>

/* Xorshift64: the next number of the sequence in '*state' (never 0). */
static inline uint64_t
next_random(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

/* CLOCK_MONOTONIC in milliseconds. */
static inline int64_t
real_msec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif /* VSW_TEST_UTIL_H */
