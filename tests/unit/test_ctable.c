/*
 * Unit tests of the concurrent table (datapath/core/ctable.c), through a
 * small user of it: entries of a 64-bit key and a value derived from the
 * key, so that a reader can tell a consistent view from a torn one.  The
 * concurrency test is meant for ThreadSanitizer too (build/tsan).
 */
#include "ctable.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "test-util.h"

/* The value every entry of 'key' carries. */
#define VALUE_OF(KEY) ((KEY)*UINT64_C(0x9e3779b97f4a7c15) + 1)

/* An entry of the test table. */
struct test_entry {
    struct vsw_ctable_node node; /* the table's link, first */
    _Atomic uint64_t key;        /* the key */
    _Atomic uint64_t value;      /* VALUE_OF(key) */
};

/* The test table and what its release hook saw. */
struct test_table {
    struct vsw_ctable t;    /* the table */
    size_t n_released;      /* release hook calls */
    uint32_t last_released; /* the index of the last one */
};

/* What a lookup found. */
struct test_hit {
    uint64_t value; /* the entry's value */
};

/* vsw_ctable_release_func: counts the call. */
static void
test_release(void *owner, uint32_t idx)
{
    struct test_table *tt = owner;

    tt->n_released++;
    tt->last_released = idx;
}

/* vsw_ctable_match_func for struct test_entry. */
static bool
test_match(const void *e_, const void *key_, void *hit_)
{
    const struct test_entry *e = e_;
    const uint64_t *key = key_;
    struct test_hit *hit = hit_;

    if (atomic_load_explicit(&e->key, memory_order_acquire) != *key) {
        return false;
    }
    hit->value = atomic_load_explicit(&e->value, memory_order_acquire);
    return true;
}

/* The bucket of 'key': a seeded mix, as the table's users do. */
static size_t
test_bucket(const struct vsw_ctable *t, uint64_t key)
{
    uint64_t h = (key ^ t->seed[0]) * UINT64_C(0x9e3779b97f4a7c15);

    h = (h ^ (h >> 32) ^ t->seed[1]) * UINT64_C(0xd6e8feb86659fd93);
    return (h ^ (h >> 32)) & t->bucket_mask;
}

/* Returns the index of 'key' in chain 'bucket' or VSW_CTABLE_NIL; checks
 * that a found entry's value belongs to its key. */
static uint32_t
test_find(const struct vsw_ctable *t, size_t bucket, uint64_t key)
{
    struct test_hit hit;
    uint32_t idx = vsw_ctable_find(t, bucket, sizeof(struct test_entry),
                                   test_match, &key, &hit);

    if (idx != VSW_CTABLE_NIL) {
        ck_assert_uint_eq(hit.value, VALUE_OF(key));
    }
    return idx;
}

/* With the lock held.  Inserts 'key' into chain 'bucket'.  Returns its
 * index or VSW_CTABLE_NIL if the table is full. */
static uint32_t
test_insert(struct vsw_ctable *t, size_t bucket, uint64_t key)
{
    uint32_t idx = vsw_ctable_insert_begin(t, bucket);

    if (idx != VSW_CTABLE_NIL) {
        struct test_entry *e =
            vsw_ctable_entry(t, idx, sizeof(struct test_entry));
        atomic_store_explicit(&e->key, key, memory_order_release);
        atomic_store_explicit(&e->value, VALUE_OF(key), memory_order_release);
        vsw_ctable_insert_end(t, bucket, idx);
    }
    return idx;
}

/* Makes 'tt' a table of 'max' entries, with its entries' fields set. */
static void
test_init(struct test_table *tt, uint32_t max)
{
    ck_assert_int_eq(vsw_ctable_init(&tt->t, max, sizeof(struct test_entry),
                                     test_release, tt),
                     0);
    for (uint32_t i = 0; i < max; i++) {
        struct test_entry *e =
            vsw_ctable_entry(&tt->t, i, sizeof(struct test_entry));
        atomic_init(&e->key, UINT64_MAX);
        atomic_init(&e->value, 0);
    }
    tt->n_released = 0;
    tt->last_released = VSW_CTABLE_NIL;
}

/* vsw_ctable_visit_func: removes entries whose key is odd. */
static bool
visit_odd(const void *e_, void *n_visited_)
{
    const struct test_entry *e = e_;
    size_t *n_visited = n_visited_;

    (*n_visited)++;
    return atomic_load_explicit(&e->key, memory_order_relaxed) & 1;
}

START_TEST(test_init_bounds)
{
    struct test_table tt;

    ck_assert_int_eq(vsw_ctable_init(&tt.t, 0, sizeof(struct test_entry),
                                     test_release, &tt),
                     -EINVAL);
    ck_assert_int_eq(vsw_ctable_init(&tt.t, 4, 2, test_release, &tt), -EINVAL);

    /* Two buckets per entry at least, a power of two. */
    test_init(&tt, 5);
    ck_assert_uint_eq(tt.t.bucket_mask + 1, 16);
    ck_assert_uint_eq(vsw_ctable_count(&tt.t), 0);
    ck_assert(!vsw_ctable_is_full(&tt.t));
    ck_assert_uint_eq(vsw_ctable_generation(&tt.t), 0);
    for (size_t b = 0; b <= tt.t.bucket_mask; b++) {
        ck_assert_uint_eq(test_find(&tt.t, b, 7), VSW_CTABLE_NIL);
    }
    vsw_ctable_uninit(&tt.t);
}
END_TEST

/* A chain of three: each found, the middle one removed, the others still
 * found; every write section moves the generation once. */
START_TEST(test_chain)
{
    struct test_table tt;
    uint32_t idx[3];

    test_init(&tt, 8);
    vsw_ctable_lock(&tt.t);
    for (uint64_t key = 0; key < 3; key++) {
        idx[key] = test_insert(&tt.t, 2, key);
        ck_assert_uint_ne(idx[key], VSW_CTABLE_NIL);
    }
    vsw_ctable_unlock(&tt.t);
    ck_assert_uint_eq(vsw_ctable_count(&tt.t), 3);
    ck_assert_uint_eq(vsw_ctable_generation(&tt.t), 3);
    for (uint64_t key = 0; key < 3; key++) {
        ck_assert_uint_eq(test_find(&tt.t, 2, key), idx[key]);
        ck_assert_uint_eq(test_find(&tt.t, 3, key), VSW_CTABLE_NIL);
    }
    ck_assert_uint_eq(test_find(&tt.t, 2, 3), VSW_CTABLE_NIL);

    vsw_ctable_lock(&tt.t);
    vsw_ctable_remove(&tt.t, 2, idx[1]);
    vsw_ctable_unlock(&tt.t);
    ck_assert_uint_eq(tt.n_released, 1);
    ck_assert_uint_eq(tt.last_released, idx[1]);
    ck_assert_uint_eq(vsw_ctable_count(&tt.t), 2);
    ck_assert_uint_eq(vsw_ctable_generation(&tt.t), 4);
    ck_assert_uint_eq(test_find(&tt.t, 2, 0), idx[0]);
    ck_assert_uint_eq(test_find(&tt.t, 2, 1), VSW_CTABLE_NIL);
    ck_assert_uint_eq(test_find(&tt.t, 2, 2), idx[2]);

    /* A write section with no change of the chain still tells readers
     * and generation watchers. */
    vsw_ctable_lock(&tt.t);
    vsw_ctable_write_begin(&tt.t, 2);
    ck_assert_uint_eq(atomic_load(&tt.t.buckets[2].seq) & 1, 1);
    vsw_ctable_write_end(&tt.t, 2);
    vsw_ctable_unlock(&tt.t);
    ck_assert_uint_eq(atomic_load(&tt.t.buckets[2].seq) & 1, 0);
    ck_assert_uint_eq(vsw_ctable_generation(&tt.t), 5);
    vsw_ctable_uninit(&tt.t);
}
END_TEST

/* The pool is the bound: a full table refuses, a removal makes room, and
 * the freed entry is the one reused. */
START_TEST(test_full)
{
    struct test_table tt;
    uint32_t idx[4];

    test_init(&tt, 4);
    vsw_ctable_lock(&tt.t);
    for (uint64_t key = 0; key < 4; key++) {
        idx[key] = test_insert(&tt.t, test_bucket(&tt.t, key), key);
        ck_assert_uint_ne(idx[key], VSW_CTABLE_NIL);
    }
    ck_assert(vsw_ctable_is_full(&tt.t));
    uint64_t gen = vsw_ctable_generation(&tt.t);
    ck_assert_uint_eq(test_insert(&tt.t, test_bucket(&tt.t, 9), 9),
                      VSW_CTABLE_NIL);
    ck_assert_uint_eq(vsw_ctable_generation(&tt.t), gen);

    vsw_ctable_remove(&tt.t, test_bucket(&tt.t, 2), idx[2]);
    ck_assert(!vsw_ctable_is_full(&tt.t));
    ck_assert_uint_eq(test_insert(&tt.t, test_bucket(&tt.t, 9), 9), idx[2]);
    vsw_ctable_unlock(&tt.t);

    ck_assert_uint_eq(vsw_ctable_count(&tt.t), 4);
    ck_assert_uint_eq(test_find(&tt.t, test_bucket(&tt.t, 9), 9), idx[2]);
    ck_assert_uint_eq(test_find(&tt.t, test_bucket(&tt.t, 2), 2),
                      VSW_CTABLE_NIL);
    vsw_ctable_uninit(&tt.t);
}
END_TEST

/* A sweep over more buckets than one chunk visits every entry once and
 * removes what its visitor says; a one-chain sweep is one write
 * section. */
START_TEST(test_sweep)
{
    enum {
        N = 5000
    };
    struct test_table tt;
    size_t n_visited = 0;

    test_init(&tt, N);
    ck_assert_uint_gt(tt.t.bucket_mask + 1, VSW_CTABLE_SWEEP_CHUNK);
    vsw_ctable_lock(&tt.t);
    for (uint64_t key = 0; key < N; key++) {
        ck_assert_uint_ne(test_insert(&tt.t, test_bucket(&tt.t, key), key),
                          VSW_CTABLE_NIL);
    }
    vsw_ctable_unlock(&tt.t);

    ck_assert_uint_eq(vsw_ctable_sweep(&tt.t, visit_odd, &n_visited), N / 2);
    ck_assert_uint_eq(n_visited, N);
    ck_assert_uint_eq(tt.n_released, N / 2);
    ck_assert_uint_eq(vsw_ctable_count(&tt.t), N / 2);
    for (uint64_t key = 0; key < N; key++) {
        uint32_t idx = test_find(&tt.t, test_bucket(&tt.t, key), key);
        ck_assert(key & 1 ? idx == VSW_CTABLE_NIL : idx != VSW_CTABLE_NIL);
    }

    /* Three odd keys on one chain go in one write section. */
    vsw_ctable_lock(&tt.t);
    for (uint64_t key = 1; key <= 5; key += 2) {
        test_insert(&tt.t, 0, key);
    }
    uint64_t gen = vsw_ctable_generation(&tt.t);
    n_visited = 0;
    ck_assert_uint_eq(vsw_ctable_sweep_bucket(&tt.t, 0, visit_odd, &n_visited),
                      3);
    ck_assert_uint_eq(vsw_ctable_generation(&tt.t), gen + 1);
    gen++;
    ck_assert_uint_eq(vsw_ctable_sweep_bucket(&tt.t, 0, visit_odd, &n_visited),
                      0);
    ck_assert_uint_eq(vsw_ctable_generation(&tt.t), gen);
    vsw_ctable_unlock(&tt.t);

    vsw_ctable_flush(&tt.t);
    ck_assert_uint_eq(vsw_ctable_count(&tt.t), 0);
    ck_assert_uint_eq(tt.n_released, N + 3);
    ck_assert_uint_eq(test_find(&tt.t, test_bucket(&tt.t, 0), 0),
                      VSW_CTABLE_NIL);
    vsw_ctable_uninit(&tt.t);
}
END_TEST

/* qsort()-style order of uint64_t. */
static int
compare_u64(const void *a_, const void *b_)
{
    const uint64_t *a = a_, *b = b_;

    return *a < *b ? -1 : *a > *b;
}

/* A dump keeps the first 'max' of what it is offered, in order, whatever
 * the offering order; a buffer of 0 takes nothing. */
START_TEST(test_dump)
{
    enum {
        N = 1000,
        MAX = 37
    };
    uint64_t out[MAX], none[1];
    struct vsw_ctable_dump dump = {out, MAX, sizeof out[0], 0, compare_u64};
    struct vsw_ctable_dump empty = {none, 0, sizeof none[0], 0, compare_u64};

    for (uint64_t i = 0; i < N; i++) {
        uint64_t value = (i * 7919) % N; /* each of 0..N-1 once */
        vsw_ctable_dump_offer(&dump, &value);
        vsw_ctable_dump_offer(&empty, &value);
    }
    ck_assert_uint_eq(vsw_ctable_dump_finish(&dump), MAX);
    for (uint64_t i = 0; i < MAX; i++) {
        ck_assert_uint_eq(out[i], i);
    }
    ck_assert_uint_eq(vsw_ctable_dump_finish(&empty), 0);
}
END_TEST

/* Concurrency: readers look keys up without a lock while a writer inserts
 * and removes the churning half of the keys (recycling entries between
 * chains) and the main thread sweeps.  The stable half is never removed,
 * so a reader must always find it; any key found must carry its own
 * value, which a torn read would break. */
#define RACE_KEYS   512
#define RACE_STABLE (RACE_KEYS / 2)

/* State the threads share. */
struct race {
    struct test_table *tt;   /* the table */
    _Atomic bool stop;       /* tells the threads to finish */
    _Atomic uint64_t hits;   /* lookups that found their key */
    _Atomic uint64_t lost;   /* stable keys not found */
    _Atomic uint64_t writes; /* insertions and removals */
};

static void *
race_reader(void *race_)
{
    struct race *race = race_;
    const struct vsw_ctable *t = &race->tt->t;
    uint64_t rnd = (uintptr_t)&rnd | 1;
    uint64_t hits = 0, lost = 0;

    while (!atomic_load(&race->stop)) {
        uint64_t key = next_random(&rnd) % RACE_KEYS;
        struct test_hit hit;
        uint32_t idx =
            vsw_ctable_find(t, test_bucket(t, key), sizeof(struct test_entry),
                            test_match, &key, &hit);
        if (idx != VSW_CTABLE_NIL) {
            /* Not ck_assert: Check's failure path is not thread-safe. */
            hits++;
            lost += hit.value != VALUE_OF(key);
        } else {
            lost += key < RACE_STABLE;
        }
    }
    atomic_fetch_add(&race->hits, hits);
    atomic_fetch_add(&race->lost, lost);
    return NULL;
}

static void *
race_writer(void *race_)
{
    struct race *race = race_;
    struct vsw_ctable *t = &race->tt->t;
    uint64_t rnd = (uintptr_t)&rnd | 1;
    uint64_t writes = 0;

    while (!atomic_load(&race->stop)) {
        uint64_t key = RACE_STABLE + next_random(&rnd) % RACE_STABLE;
        size_t bucket = test_bucket(t, key);
        struct test_hit hit;

        vsw_ctable_lock(t);
        uint32_t idx = vsw_ctable_find(t, bucket, sizeof(struct test_entry),
                                       test_match, &key, &hit);
        if (idx != VSW_CTABLE_NIL) {
            vsw_ctable_remove(t, bucket, idx);
            writes++;
        } else if (test_insert(t, bucket, key) != VSW_CTABLE_NIL) {
            writes++;
        }
        vsw_ctable_unlock(t);
    }
    atomic_fetch_add(&race->writes, writes);
    return NULL;
}

/* vsw_ctable_visit_func: removes churning keys divisible by 3. */
static bool
visit_churn_third(const void *e_, void *aux)
{
    const struct test_entry *e = e_;
    uint64_t key = atomic_load_explicit(&e->key, memory_order_relaxed);

    (void)aux;
    return key >= RACE_STABLE && key % 3 == 0;
}

START_TEST(test_concurrency)
{
    struct test_table tt;
    struct race race = {.tt = &tt};
    pthread_t threads[3];
    size_t n_swept = 0;

    /* Room for every key: a full table would only refuse insertions. */
    test_init(&tt, RACE_KEYS);
    vsw_ctable_lock(&tt.t);
    for (uint64_t key = 0; key < RACE_STABLE; key++) {
        test_insert(&tt.t, test_bucket(&tt.t, key), key);
    }
    vsw_ctable_unlock(&tt.t);

    atomic_init(&race.stop, false);
    atomic_init(&race.hits, 0);
    atomic_init(&race.lost, 0);
    atomic_init(&race.writes, 0);
    pthread_create(&threads[0], NULL, race_reader, &race);
    pthread_create(&threads[1], NULL, race_reader, &race);
    pthread_create(&threads[2], NULL, race_writer, &race);

    int64_t deadline = real_msec() + 1000;
    while (real_msec() < deadline) {
        n_swept += vsw_ctable_sweep(&tt.t, visit_churn_third, NULL);
        ck_assert_uint_le(vsw_ctable_count(&tt.t), RACE_KEYS);
    }
    atomic_store(&race.stop, true);
    for (int i = 0; i < 3; i++) {
        pthread_join(threads[i], NULL);
    }

    ck_assert_uint_eq(atomic_load(&race.lost), 0);
    ck_assert_uint_gt(atomic_load(&race.hits), 0);
    ck_assert_uint_gt(atomic_load(&race.writes), 0);
    ck_assert_uint_gt(n_swept, 0);

    /* Quiescent now: every stable key is there, and the count is right. */
    size_t n = 0;
    for (uint64_t key = 0; key < RACE_KEYS; key++) {
        if (test_find(&tt.t, test_bucket(&tt.t, key), key) != VSW_CTABLE_NIL) {
            n++;
        } else {
            ck_assert_uint_ge(key, RACE_STABLE);
        }
    }
    ck_assert_uint_eq(n, vsw_ctable_count(&tt.t));
    vsw_ctable_uninit(&tt.t);
}
END_TEST

static Suite *
ctable_suite(void)
{
    Suite *s = suite_create("ctable");
    TCase *basics = tcase_create("basics");
    TCase *race = tcase_create("race");

    tcase_add_test(basics, test_init_bounds);
    tcase_add_test(basics, test_chain);
    tcase_add_test(basics, test_full);
    tcase_add_test(basics, test_sweep);
    tcase_add_test(basics, test_dump);
    suite_add_tcase(s, basics);
    tcase_add_test(race, test_concurrency);
    tcase_set_timeout(race, 60);
    suite_add_tcase(s, race);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(ctable_suite());

    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
