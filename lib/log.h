/*
 * Logging for the daemon and the datapath: one line per message, to
 * stderr or a file, with a level threshold.  Safe to call from any thread;
 * each message is written with one write(2), so lines never interleave.
 */
#ifndef VSW_LOG_H
#define VSW_LOG_H 1

#include <stdbool.h>
#include <stddef.h>

enum vsw_log_level {
    VSW_LOG_ERR,
    VSW_LOG_WARN,
    VSW_LOG_INFO,
    VSW_LOG_DBG,
};

/* Sends further messages to the file at 'path' (appended, created 0640),
 * or back to stderr if 'path' is NULL.  Returns 0 or a negative errno. */
int vsw_log_open(const char *path);

/* Writes 'len' bytes of 'text' as they are to the log file (and not to
 * stderr, which a caller writes itself); nothing if the log is stderr.
 * Async-signal-safe: for a fatal signal handler.  Returns true if the
 * log is a file. */
bool vsw_log_write_raw(const char *text, size_t len);

/* Messages above 'level' are discarded. */
void vsw_log_set_level(enum vsw_log_level level);

/* Parses "err", "warn", "info" or "debug" into '*level'.  Returns 0, or
 * -EINVAL for any other string. */
int vsw_log_level_from_string(const char *s, enum vsw_log_level *level);

/* True if a message at 'level' would be written. */
bool vsw_log_enabled(enum vsw_log_level level);

void vsw_log(enum vsw_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define VSW_ERR(...)  vsw_log(VSW_LOG_ERR, __VA_ARGS__)
#define VSW_WARN(...) vsw_log(VSW_LOG_WARN, __VA_ARGS__)
#define VSW_INFO(...) vsw_log(VSW_LOG_INFO, __VA_ARGS__)
#define VSW_DBG(...)  vsw_log(VSW_LOG_DBG, __VA_ARGS__)

/* A rate limit for messages that bad input could repeat endlessly: at
 * most 'burst' messages per 'interval_ms'; the rest are counted and the
 * count is reported with the next message that passes. */
struct vsw_log_ratelimit {
    int interval_ms;           /* window length */
    int burst;                 /* messages allowed per window */
    long long window_start_ms; /* start of the current window */
    int used;                  /* messages passed in this window */
    unsigned long suppressed;  /* messages dropped since the last pass */
};

#define VSW_LOG_RATELIMIT_INIT(INTERVAL_MS, BURST)                            \
    {                                                                         \
        .interval_ms = (INTERVAL_MS), .burst = (BURST)                        \
    }

/* Logs like vsw_log() unless 'rl' says too many were logged lately.  Not
 * thread-safe on one 'rl': give each thread its own. */
void vsw_log_rl(struct vsw_log_ratelimit *rl, enum vsw_log_level level,
                const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* VSW_LOG_H */
