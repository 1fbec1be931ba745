/*
 * Memory and text helpers for vswitch-ctl.
 *
 * A command-line client has nothing better to do when memory runs out than
 * to say so and stop, so the allocators here print a message and exit(1)
 * instead of returning NULL, and callers never check.  main() makes jansson
 * allocate through them too, so a jansson constructor returns NULL only
 * for bad input (a string that is not UTF-8), never for lack of memory.
 */
#ifndef VSW_CTL_UTIL_H
#define VSW_CTL_UTIL_H 1

#include <stdarg.h>
#include <stddef.h>

/* malloc(), realloc(), strdup() and asprintf() that never return NULL.
 * The caller owns the result and frees it with free(). */
void *vsw_xmalloc(size_t size);
void *vsw_xrealloc(void *p, size_t size);
char *vsw_xstrdup(const char *s);
char *vsw_xasprintf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
char *vsw_xvasprintf(const char *fmt, va_list args)
    __attribute__((format(printf, 1, 0)));

/* Grows the array 'p' of '*allocated' elements of 'elem_size' bytes to
 * hold at least one more, updating '*allocated'.  Returns the array, which
 * may have moved; 'p' may be NULL when '*allocated' is 0. */
void *vsw_xgrow(void *p, size_t *allocated, size_t elem_size);

/* Replaces every control character of 's' by '?': text that comes from
 * the daemon goes to a terminal, where an escape sequence in a port name
 * must not act. */
void vsw_make_printable(char *s);

/* Returns a copy of 's', which the caller frees, made printable. */
char *vsw_printable_dup(const char *s);

/* Milliseconds on the monotonic clock, for deadlines. */
long long vsw_monotonic_ms(void);

#endif /* VSW_CTL_UTIL_H */
