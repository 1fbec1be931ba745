#include "util.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
out_of_memory(void)
{
    fputs("vswitch-ctl: out of memory\n", stderr);
    exit(1);
}

void *
vsw_xmalloc(size_t size)
{
    /* malloc(0) may return NULL, which must not read as exhaustion. */
    void *p = malloc(size ? size : 1);

    if (!p) {
        out_of_memory();
    }
    return p;
}

void *
vsw_xrealloc(void *p, size_t size)
{
    p = realloc(p, size ? size : 1);
    if (!p) {
        out_of_memory();
    }
    return p;
}

char *
vsw_xstrdup(const char *s)
{
    size_t size = strlen(s) + 1;

    return memcpy(vsw_xmalloc(size), s, size);
}

char *
vsw_xvasprintf(const char *fmt, va_list args)
{
    char *s;

    if (vasprintf(&s, fmt, args) < 0) {
        out_of_memory();
    }
    return s;
}

char *
vsw_xasprintf(const char *fmt, ...)
{
    va_list args;
    char *s;

    va_start(args, fmt);
    s = vsw_xvasprintf(fmt, args);
    va_end(args);
    return s;
}

void *
vsw_xgrow(void *p, size_t *allocated, size_t elem_size)
{
    size_t n = *allocated ? *allocated * 2 : 8;

    if (n > SIZE_MAX / elem_size) {
        out_of_memory();
    }
    *allocated = n;
    return vsw_xrealloc(p, n * elem_size);
}

void
vsw_make_printable(char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            *s = '?';
        }
    }
}

char *
vsw_printable_dup(const char *s)
{
    char *copy = vsw_xstrdup(s);

    vsw_make_printable(copy);
    return copy;
}

long long
vsw_monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}
