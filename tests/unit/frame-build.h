/*
 * Assembling test frames byte by byte, for the unit tests that feed the
 * parser and the stages built on it (flow, guard, ACL tests).
 *
 * A test file may define FRAME_MAX (the largest frame it builds) before
 * including this; every write is bounds-checked with a Check assertion, so
 * a builder that overruns fails the test instead of the process.
 */
#ifndef VSW_TEST_FRAME_BUILD_H
#define VSW_TEST_FRAME_BUILD_H 1

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifndef FRAME_MAX
#define FRAME_MAX 9100
#endif

struct frame {
    uint8_t data[FRAME_MAX]; /* bytes assembled so far */
    size_t len;              /* how many */
};

static inline void
put8(struct frame *f, uint8_t v)
{
    ck_assert_uint_lt(f->len, FRAME_MAX);
    f->data[f->len++] = v;
}

/* Network byte order, like every field the builders write. */
static inline void
put16(struct frame *f, uint16_t v)
{
    put8(f, (uint8_t)(v >> 8));
    put8(f, (uint8_t)v);
}

static inline void
put32(struct frame *f, uint32_t v)
{
    put16(f, (uint16_t)(v >> 16));
    put16(f, (uint16_t)v);
}

static inline void
put_bytes(struct frame *f, const void *p, size_t n)
{
    ck_assert_uint_le(n, FRAME_MAX - f->len);
    memcpy(f->data + f->len, p, n);
    f->len += n;
}

static inline void
put_fill(struct frame *f, uint8_t v, size_t n)
{
    ck_assert_uint_le(n, FRAME_MAX - f->len);
    memset(f->data + f->len, v, n);
    f->len += n;
}

/* Overwrites the 16-bit field at 'ofs' (a length or checksum filled in
 * once the rest is known). */
static inline void
set16(struct frame *f, size_t ofs, uint16_t v)
{
    f->data[ofs] = (uint8_t)(v >> 8);
    f->data[ofs + 1] = (uint8_t)v;
}

#endif /* VSW_TEST_FRAME_BUILD_H */
