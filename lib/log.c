#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "timeutil.h"

static _Atomic int log_fd = STDERR_FILENO;
static _Atomic int log_threshold = VSW_LOG_INFO;

static const char *const level_names[] = {
    [VSW_LOG_ERR] = "err",
    [VSW_LOG_WARN] = "warn",
    [VSW_LOG_INFO] = "info",
    [VSW_LOG_DBG] = "debug",
};

int
vsw_log_open(const char *path)
{
    int fd = STDERR_FILENO;
    int old;

    if (path) {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0) {
            return -errno;
        }
    }
    old = atomic_load(&log_fd);
    if (old != STDERR_FILENO && fd != STDERR_FILENO) {
        /* Reopen (SIGHUP): the new file takes the old descriptor's
         * number at once, so a signal handler that loaded it writes to
         * one file or the other, never to a closed or reused number. */
        if (dup3(fd, old, O_CLOEXEC) < 0) {
            int error = -errno;

            close(fd);
            return error;
        }
        close(fd);
        return 0;
    }
    old = atomic_exchange(&log_fd, fd);
    if (old != STDERR_FILENO) {
        close(old);
    }
    return 0;
}

bool
vsw_log_write_raw(const char *text, size_t len)
{
    int fd = atomic_load(&log_fd);

    if (fd == STDERR_FILENO) {
        return false;
    }
    if (write(fd, text, len) < 0) {
        /* Nothing more a dying process can do. */
    }
    return true;
}

void
vsw_log_set_level(enum vsw_log_level level)
{
    atomic_store(&log_threshold, (int)level);
}

int
vsw_log_level_from_string(const char *s, enum vsw_log_level *level)
{
    for (size_t i = 0; i < sizeof level_names / sizeof *level_names; i++) {
        if (!strcmp(s, level_names[i])) {
            *level = (enum vsw_log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

bool
vsw_log_enabled(enum vsw_log_level level)
{
    return (int)level <= atomic_load(&log_threshold);
}

static void
log_write(enum vsw_log_level level, const char *suffix, const char *fmt,
          va_list args)
{
    char line[1024];
    struct tm tm;
    time_t now = time(NULL);
    int n;

    gmtime_r(&now, &tm);
    n = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%SZ ", &tm);
    n += snprintf(line + n, sizeof line - n, "%s: ", level_names[level]);
    n += vsnprintf(line + n, sizeof line - n, fmt, args);
    if (n > (int)sizeof line - 2) {
        n = (int)sizeof line - 2;
    }
    if (suffix) {
        n += snprintf(line + n, sizeof line - n, "%s", suffix);
        if (n > (int)sizeof line - 2) {
            n = (int)sizeof line - 2;
        }
    }
    line[n++] = '\n';
    /* A lost log line must never stop the switch, so the result is only
     * checked to keep the compiler quiet. */
    if (write(atomic_load(&log_fd), line, n) < 0) {
        return;
    }
}

void
vsw_log(enum vsw_log_level level, const char *fmt, ...)
{
    va_list args;

    if (!vsw_log_enabled(level)) {
        return;
    }
    va_start(args, fmt);
    log_write(level, NULL, fmt, args);
    va_end(args);
}

void
vsw_log_rl(struct vsw_log_ratelimit *rl, enum vsw_log_level level,
           const char *fmt, ...)
{
    long long now = vsw_time_msec();
    char suffix[64] = "";
    va_list args;

    if (!vsw_log_enabled(level)) {
        return;
    }
    if (now - rl->window_start_ms >= rl->interval_ms) {
        rl->window_start_ms = now;
        rl->used = 0;
    }
    if (rl->used >= rl->burst) {
        rl->suppressed++;
        return;
    }
    rl->used++;
    if (rl->suppressed) {
        snprintf(suffix, sizeof suffix, " (%lu similar messages suppressed)",
                 rl->suppressed);
        rl->suppressed = 0;
    }
    va_start(args, fmt);
    log_write(level, suffix[0] ? suffix : NULL, fmt, args);
    va_end(args);
}
