/*
 * A concurrent hash table of fixed capacity: lookups by any number of
 * threads without a lock, changes by one writer at a time.  The MAC table
 * (fdb.c) and the flow table of stateful ACLs (conntrack.c) are built on
 * it; each keeps its own key, hash, timestamps and eviction policy.
 *
 * The user's entry type embeds struct vsw_ctable_node as its first member
 * and passes its size to vsw_ctable_init(), which allocates a pool of
 * 'max_entries' entries at once.  Entries are named by their pool index.
 * The pool is freed only by vsw_ctable_uninit(): a lock-free reader that
 * holds the index of an entry removed (and perhaps reused) meanwhile still
 * reads valid memory, and learns from its bucket's count that it must
 * retry.  Entries hang off a power-of-two array of buckets (about two per
 * entry, so chains hold about one entry) in singly linked chains of pool
 * indices; a free entry's link is on the free list instead.
 *
 * Readers follow a seqlock protocol per bucket (vsw_ctable_find()): load
 * the bucket's count (retry while odd), walk the chain, and retry if the
 * count changed.  A writer makes the count odd before it changes the chain
 * or any entry on it and even again after (vsw_ctable_write_begin() and
 * _end()), so every change a reader may have observed, including an entry
 * recycled into another bucket or onto the free list, shows up as a
 * changed count.  The ordering comes from release stores of the data in
 * the writer and acquire loads in the reader, not from fences: a reader
 * that sees a value stored after a count became odd is then bound to see
 * that count, and ThreadSanitizer, which does not model fences, can check
 * the scheme.  (On x86 both are plain moves.)  So every field of an entry
 * that a reader looks at must be atomic, written with release stores
 * inside a write section and read with acquire loads.  A chain walk is
 * bounded by the pool size, so a reader led astray by a recycled entry
 * always comes back to its count check.
 *
 * Threads.
 *   - Any thread, no lock: vsw_ctable_find(), vsw_ctable_count(),
 *     vsw_ctable_is_full(), vsw_ctable_generation().
 *   - With the writer lock held (vsw_ctable_lock()): vsw_ctable_find()
 *     too, vsw_ctable_insert_begin() / _end(), vsw_ctable_write_begin() /
 *     _end(), vsw_ctable_remove(), vsw_ctable_sweep_bucket().  The user's
 *     non-atomic entry fields (lists, flags) belong to the lock holder.
 *   - Without the lock: vsw_ctable_sweep(), which takes it for at most
 *     VSW_CTABLE_SWEEP_CHUNK buckets at a time, so a worker that needs the
 *     lock (to learn a MAC, create a flow) waits for at most one chunk.
 *   - No other thread: vsw_ctable_init(), vsw_ctable_uninit().
 *
 * Bounds: 'max_entries' entries, fixed at init; the table never allocates
 * after init.  When the free list is empty, vsw_ctable_insert_begin()
 * fails and the user decides what to evict.
 */
#ifndef VSW_CTABLE_H
#define VSW_CTABLE_H 1

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "No entry": ends bucket chains and the free list. */
#define VSW_CTABLE_NIL UINT32_MAX

/* Buckets handled per hold of the lock by vsw_ctable_sweep(). */
#define VSW_CTABLE_SWEEP_CHUNK 1024

/* The table's part of an entry: the first member of the user's entry. */
struct vsw_ctable_node {
    _Atomic uint32_t next; /* next entry of its chain or of the free list,
                              or VSW_CTABLE_NIL */
};

/* One hash bucket. */
struct vsw_ctable_bucket {
    _Atomic uint32_t seq;  /* odd while a writer changes this chain */
    _Atomic uint32_t head; /* first entry of the chain or VSW_CTABLE_NIL */
};

/* Called with the lock held for each entry the table takes off its chain,
 * just before the entry goes to the free list, so that the user can drop
 * it from its own lists and counts.  'owner' is what vsw_ctable_init()
 * got. */
typedef void vsw_ctable_release_func(void *owner, uint32_t idx);

/* Decides, for each entry a sweep visits with the lock held, whether the
 * sweep removes it. */
typedef bool vsw_ctable_visit_func(const void *entry, void *aux);

/* Lock-free.  Whether 'entry' holds 'key'; if so, copies what the caller
 * needs of it into 'hit'.  Reads the entry's fields with acquire loads
 * only: vsw_ctable_find() validates them afterwards. */
typedef bool vsw_ctable_match_func(const void *entry, const void *key,
                                   void *hit);

/* The table, embedded in its user's structure.  The members up to 'seed'
 * are what a lookup reads; they never change after init.  Invariants,
 * whenever the lock is free: every pool entry is either on exactly one
 * chain (the one its user's hash names) or on the free list;
 * 'n_entries' reaches 'max_entries' exactly when the free list is
 * empty. */
struct vsw_ctable {
    char *pool;                        /* 'max_entries' entries */
    struct vsw_ctable_bucket *buckets; /* 'bucket_mask' + 1 buckets */
    size_t bucket_mask;                /* bucket count - 1 */
    uint32_t max_entries;              /* the cap, >= 1 */
    uint32_t entry_size;               /* bytes per pool entry */
    uint64_t seed[2];                  /* hash keys for the user's hash,
                                          secret so that nobody can aim
                                          many keys at one bucket */
    pthread_mutex_t mutex;             /* serializes all writers */
    _Atomic uint64_t generation;       /* bumped after every write
                                          section */
    _Atomic uint32_t n_entries;        /* entries on chains; atomic for
                                          lock-free counts */
    uint32_t free_head;                /* first free entry or NIL */
    vsw_ctable_release_func *release;  /* the user's release hook */
    void *owner;                       /* its argument */
};

/* No other thread.  Makes 't' an empty table of 'max_entries' (>= 1)
 * entries of 'entry_size' bytes, each starting with a struct
 * vsw_ctable_node; the user initializes its own fields of the entries
 * after this (vsw_ctable_entry()).  'release' (not NULL) is called with
 * 'owner' for every entry removed.  Returns 0, -EINVAL for no entries or
 * an entry smaller than the node, or -ENOMEM; on failure 't' needs no
 * uninit. */
int vsw_ctable_init(struct vsw_ctable *t, uint32_t max_entries,
                    size_t entry_size, vsw_ctable_release_func *release,
                    void *owner);

/* No other thread.  Frees what vsw_ctable_init() allocated. */
void vsw_ctable_uninit(struct vsw_ctable *t);

/* Take and drop the writer lock. */
void vsw_ctable_lock(struct vsw_ctable *t);
void vsw_ctable_unlock(struct vsw_ctable *t);

/* With the lock held.  Opens a write section on chain 'bucket' (readers
 * of it retry until vsw_ctable_write_end()), for changing the fields of an
 * entry on it that readers see; every such store must be a release store.
 * _end() closes it and bumps the generation. */
void vsw_ctable_write_begin(struct vsw_ctable *t, size_t bucket);
void vsw_ctable_write_end(struct vsw_ctable *t, size_t bucket);

/* With the lock held.  Takes an entry off the free list and opens a write
 * section on chain 'bucket'; returns the entry's index, or VSW_CTABLE_NIL
 * (and no section) if the table is full.  The caller then stores the
 * entry's fields (release stores: a reader may still be on the entry's
 * previous chain) and calls vsw_ctable_insert_end(), which puts it at the
 * head of the chain, closes the section and counts it. */
uint32_t vsw_ctable_insert_begin(struct vsw_ctable *t, size_t bucket);
void vsw_ctable_insert_end(struct vsw_ctable *t, size_t bucket, uint32_t idx);

/* With the lock held.  Takes entry 'idx' off chain 'bucket', where it
 * must be, in a write section of its own; then releases it. */
void vsw_ctable_remove(struct vsw_ctable *t, size_t bucket, uint32_t idx);

/* With the lock held.  Removes the entries of chain 'bucket' for which
 * 'visit' says so, in one write section (none if it removes nothing).
 * Returns how many it removed. */
size_t vsw_ctable_sweep_bucket(struct vsw_ctable *t, size_t bucket,
                               vsw_ctable_visit_func *visit, void *aux);

/* Without the lock.  vsw_ctable_sweep_bucket() over every chain, taking
 * the lock for VSW_CTABLE_SWEEP_CHUNK chains at a time.  Not one
 * snapshot: an entry inserted or removed meanwhile may or may not be
 * visited, but each chain is visited once, so no key is visited twice.
 * Returns how many entries it removed. */
size_t vsw_ctable_sweep(struct vsw_ctable *t, vsw_ctable_visit_func *visit,
                        void *aux);

/* Without the lock.  Removes every entry, as vsw_ctable_sweep() would. */
void vsw_ctable_flush(struct vsw_ctable *t);

/* A dump in progress, for a sweep that reports entries in some order:
 * the first 'max' elements in 'compare' order of those offered so far,
 * kept in the caller's buffer as a max-heap, so that the dump needs no
 * allocation and a short buffer still receives the first elements in
 * order.  The caller fills in every member, 'n' with 0. */
struct vsw_ctable_dump {
    void *out;   /* the caller's buffer of 'max' elements */
    size_t max;  /* its size, in elements */
    size_t size; /* bytes per element */
    size_t n;    /* elements in it */
    int (*compare)(const void *, const void *); /* qsort()-style order */
};

/* Offers a copy of 'elem' to dump 'd'. */
void vsw_ctable_dump_offer(struct vsw_ctable_dump *d, const void *elem);

/* Sorts dump 'd''s buffer.  Returns the number of elements in it. */
size_t vsw_ctable_dump_finish(struct vsw_ctable_dump *d);

/* Any thread.  Entries on chains now. */
static inline size_t
vsw_ctable_count(const struct vsw_ctable *t)
{
    return atomic_load_explicit(&t->n_entries, memory_order_relaxed);
}

/* Any thread.  Whether the free list is empty (a stale answer without the
 * lock). */
static inline bool
vsw_ctable_is_full(const struct vsw_ctable *t)
{
    return vsw_ctable_count(t) >= t->max_entries;
}

/* Any thread.  A number that changes after every write section, read with
 * acquire semantics: whoever reads a new generation also sees the change
 * that made it (write_end stores it with release after the data). */
static inline uint64_t
vsw_ctable_generation(const struct vsw_ctable *t)
{
    return atomic_load_explicit(&t->generation, memory_order_acquire);
}

/* Any thread.  The entry at pool index 'idx', for entries of
 * 'entry_size' bytes: memory the table owns, valid until uninit. */
static inline void *
vsw_ctable_entry(const struct vsw_ctable *t, uint32_t idx, size_t entry_size)
{
    return t->pool + (size_t)idx * entry_size;
}

/* Any thread, lock-free; also with the lock held.  Looks for the entry
 * of chain 'bucket' that 'match' accepts for 'key'; returns its index,
 * with 'hit' filled from one consistent view of it, or VSW_CTABLE_NIL.
 *
 * Inline on purpose, with 'entry_size' a constant sizeof of the caller:
 * the lookup is on every packet's path, and so it compiles to the same
 * code a hand-written walk over the caller's typed pool would, with
 * 'match' inlined and the pool indexed by a shift rather than a
 * multiply. */
static inline __attribute__((always_inline)) uint32_t
vsw_ctable_find(const struct vsw_ctable *t, size_t bucket, size_t entry_size,
                vsw_ctable_match_func *match, const void *key, void *hit)
{
    const struct vsw_ctable_bucket *b = &t->buckets[bucket];

    for (;;) {
        uint32_t seq = atomic_load_explicit(&b->seq, memory_order_acquire);
        if (seq & 1) {
            continue;
        }

        bool found = false;
        uint32_t idx = atomic_load_explicit(&b->head, memory_order_acquire);
        for (uint32_t steps = 0;
             idx != VSW_CTABLE_NIL && steps < t->max_entries; steps++) {
            const struct vsw_ctable_node *node =
                vsw_ctable_entry(t, idx, entry_size);
            if (match(node, key, hit)) {
                found = true;
                break;
            }
            idx = atomic_load_explicit(&node->next, memory_order_acquire);
        }

        /* Relaxed is enough: the acquire loads above keep this load after
         * them, and a changed count means a writer was here. */
        if (atomic_load_explicit(&b->seq, memory_order_relaxed) == seq &&
            (found || idx == VSW_CTABLE_NIL)) {
            return idx;
        }
    }
}

#endif /* VSW_CTABLE_H */
