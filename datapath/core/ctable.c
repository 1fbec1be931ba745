/*
 * The concurrent table; ctable.h holds the contract and the read side.
 * Everything here is the writer's side, called with the lock held (or
 * taking it), and off the packet path except for a worker's insertion.
 */
#include "ctable.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* The node of entry 'idx'.  The slow path reads the entry size from the
 * table rather than from the user's type. */
static struct vsw_ctable_node *
ctable_node(const struct vsw_ctable *t, uint32_t idx)
{
    return vsw_ctable_entry(t, idx, t->entry_size);
}

/* Seeds the users' bucket hash.  Without kernel randomness (an old kernel
 * or a seccomp filter), the addresses ASLR picked are still unknown to a
 * remote sender. */
static void
ctable_seed(uint64_t seed[2])
{
    if (getrandom(seed, 2 * sizeof seed[0], 0) == 2 * sizeof seed[0]) {
        return;
    }
    seed[0] = (uint64_t)(uintptr_t)seed * UINT64_C(0x9e3779b97f4a7c15);
    seed[1] = (uint64_t)(uintptr_t)&ctable_seed * UINT64_C(0xd6e8feb86659fd93);
}

/* The pool is calloc()ed once and lives until uninit: see ctable.h for
 * why a removed entry's memory must stay valid. */
int
vsw_ctable_init(struct vsw_ctable *t, uint32_t max_entries, size_t entry_size,
                vsw_ctable_release_func *release, void *owner)
{
    if (!max_entries || entry_size < sizeof(struct vsw_ctable_node) ||
        entry_size > UINT32_MAX) {
        return -EINVAL;
    }

    /* Two buckets per entry keeps chains at about one entry. */
    uint64_t n_buckets = 1;
    while (n_buckets < 2 * (uint64_t)max_entries) {
        n_buckets *= 2;
    }
    t->pool = calloc(max_entries, entry_size);
    t->buckets = n_buckets <= SIZE_MAX / sizeof *t->buckets
                     ? calloc(n_buckets, sizeof *t->buckets)
                     : NULL;
    if (!t->pool || !t->buckets) {
        free(t->pool);
        free(t->buckets);
        return -ENOMEM;
    }

    t->bucket_mask = n_buckets - 1;
    t->max_entries = max_entries;
    t->entry_size = (uint32_t)entry_size;
    ctable_seed(t->seed);
    pthread_mutex_init(&t->mutex, NULL);
    atomic_init(&t->generation, 0);
    atomic_init(&t->n_entries, 0);
    for (size_t i = 0; i < n_buckets; i++) {
        atomic_init(&t->buckets[i].seq, 0);
        atomic_init(&t->buckets[i].head, VSW_CTABLE_NIL);
    }
    for (uint32_t i = 0; i < max_entries; i++) {
        atomic_init(&ctable_node(t, i)->next,
                    i + 1 < max_entries ? i + 1 : VSW_CTABLE_NIL);
    }
    t->free_head = 0;
    t->release = release;
    t->owner = owner;
    return 0;
}

/* Only the memory: the entries hold nothing the table owns. */
void
vsw_ctable_uninit(struct vsw_ctable *t)
{
    pthread_mutex_destroy(&t->mutex);
    free(t->buckets);
    free(t->pool);
}

/* Functions rather than a public mutex, so that users never reach into
 * the table's writer state. */
void
vsw_ctable_lock(struct vsw_ctable *t)
{
    pthread_mutex_lock(&t->mutex);
}

/* Drops the lock vsw_ctable_lock() took. */
void
vsw_ctable_unlock(struct vsw_ctable *t)
{
    pthread_mutex_unlock(&t->mutex);
}

/* Only the lock holder writes 'seq', so a relaxed load-then-store
 * suffices; the odd value needs no release of its own, since the release
 * stores of the data that follow carry it to any reader that sees them. */
void
vsw_ctable_write_begin(struct vsw_ctable *t, size_t bucket)
{
    struct vsw_ctable_bucket *b = &t->buckets[bucket];
    uint32_t seq = atomic_load_explicit(&b->seq, memory_order_relaxed);

    atomic_store_explicit(&b->seq, seq + 1, memory_order_relaxed);
}

/* Makes the count even again, after every store of the section. */
void
vsw_ctable_write_end(struct vsw_ctable *t, size_t bucket)
{
    struct vsw_ctable_bucket *b = &t->buckets[bucket];
    uint32_t seq = atomic_load_explicit(&b->seq, memory_order_relaxed);
    uint64_t gen = atomic_load_explicit(&t->generation, memory_order_relaxed);

    atomic_store_explicit(&b->seq, seq + 1, memory_order_release);
    /* After the change, with release: whoever sees the new generation
     * also sees the change (see vsw_ctable_generation()). */
    atomic_store_explicit(&t->generation, gen + 1, memory_order_release);
}

/* n_entries is written only under the lock, so a plain load-then-store
 * suffices; it is atomic for the lock-free counts. */
static void
ctable_add_count(struct vsw_ctable *t, int delta)
{
    uint32_t n = atomic_load_explicit(&t->n_entries, memory_order_relaxed);

    atomic_store_explicit(&t->n_entries, n + delta, memory_order_relaxed);
}

/* The free list is last in, first out: the entry freed last, likely still
 * in the cache, is the one reused. */
uint32_t
vsw_ctable_insert_begin(struct vsw_ctable *t, size_t bucket)
{
    uint32_t idx = t->free_head;

    if (idx == VSW_CTABLE_NIL) {
        return VSW_CTABLE_NIL;
    }
    t->free_head =
        atomic_load_explicit(&ctable_node(t, idx)->next, memory_order_relaxed);
    vsw_ctable_write_begin(t, bucket);
    return idx;
}

/* The entry goes at the head: a reader that loaded the old head walks
 * the old chain, which is still whole. */
void
vsw_ctable_insert_end(struct vsw_ctable *t, size_t bucket, uint32_t idx)
{
    struct vsw_ctable_bucket *b = &t->buckets[bucket];

    atomic_store_explicit(&ctable_node(t, idx)->next,
                          atomic_load_explicit(&b->head, memory_order_relaxed),
                          memory_order_release);
    atomic_store_explicit(&b->head, idx, memory_order_release);
    vsw_ctable_write_end(t, bucket);
    ctable_add_count(t, 1);
}

/* Returns entry 'idx', already off its chain, to the free list, after the
 * user's release hook.  Its link now leads along the free list: a reader
 * still on the entry walks a bounded list of valid indices and is sent
 * back by its bucket's count, which changed before this release store
 * (so a reader that sees the new link sees the count change too).  The
 * user's fields keep their values. */
static void
ctable_release(struct vsw_ctable *t, uint32_t idx)
{
    t->release(t->owner, idx);
    atomic_store_explicit(&ctable_node(t, idx)->next, t->free_head,
                          memory_order_release);
    t->free_head = idx;
    ctable_add_count(t, -1);
}

/* Finds the link that points at 'idx' without a write section (only the
 * lock holder changes links), then opens one just for the store. */
void
vsw_ctable_remove(struct vsw_ctable *t, size_t bucket, uint32_t idx)
{
    _Atomic uint32_t *link = &t->buckets[bucket].head;

    while (atomic_load_explicit(link, memory_order_relaxed) != idx) {
        link =
            &ctable_node(t, atomic_load_explicit(link, memory_order_relaxed))
                 ->next;
    }
    vsw_ctable_write_begin(t, bucket);
    atomic_store_explicit(
        link,
        atomic_load_explicit(&ctable_node(t, idx)->next, memory_order_relaxed),
        memory_order_release);
    vsw_ctable_write_end(t, bucket);
    ctable_release(t, idx);
}

/* One write section for the whole chain rather than one per removal:
 * readers of the chain retry once, and the generation moves once. */
size_t
vsw_ctable_sweep_bucket(struct vsw_ctable *t, size_t bucket,
                        vsw_ctable_visit_func *visit, void *aux)
{
    _Atomic uint32_t *link = &t->buckets[bucket].head;
    bool writing = false;
    size_t n_removed = 0;
    uint32_t idx;

    while ((idx = atomic_load_explicit(link, memory_order_relaxed)) !=
           VSW_CTABLE_NIL) {
        struct vsw_ctable_node *node = ctable_node(t, idx);
        if (!visit(node, aux)) {
            link = &node->next;
            continue;
        }
        if (!writing) {
            vsw_ctable_write_begin(t, bucket);
            writing = true;
        }
        atomic_store_explicit(
            link, atomic_load_explicit(&node->next, memory_order_relaxed),
            memory_order_release);
        ctable_release(t, idx);
        n_removed++;
    }
    if (writing) {
        vsw_ctable_write_end(t, bucket);
    }
    return n_removed;
}

/* Chunks of buckets rather than of entries: each hold of the lock has the
 * same bounded cost whatever the table holds. */
size_t
vsw_ctable_sweep(struct vsw_ctable *t, vsw_ctable_visit_func *visit, void *aux)
{
    size_t n_buckets = t->bucket_mask + 1;
    size_t n_removed = 0;

    if (!vsw_ctable_count(t)) {
        /* Nothing to visit: an empty table of many buckets cost each port
         * deletion (its flows flushed) a walk over all of them. */
        return 0;
    }
    for (size_t start = 0; start < n_buckets;
         start += VSW_CTABLE_SWEEP_CHUNK) {
        size_t end = start + VSW_CTABLE_SWEEP_CHUNK;
        if (end > n_buckets) {
            end = n_buckets;
        }
        vsw_ctable_lock(t);
        for (size_t i = start; i < end; i++) {
            n_removed += vsw_ctable_sweep_bucket(t, i, visit, aux);
        }
        vsw_ctable_unlock(t);
    }
    return n_removed;
}

/* vsw_ctable_visit_func: removes every entry. */
static bool
ctable_visit_all(const void *entry, void *aux)
{
    (void)entry;
    (void)aux;
    return true;
}

/* A sweep, so that flushing a big table stalls no worker either. */
void
vsw_ctable_flush(struct vsw_ctable *t)
{
    vsw_ctable_sweep(t, ctable_visit_all, NULL);
}

/* Element 'i' of dump 'd''s buffer. */
static char *
ctable_dump_at(const struct vsw_ctable_dump *d, size_t i)
{
    return (char *)d->out + i * d->size;
}

/* Swaps elements 'i' and 'j' of dump 'd''s buffer, byte by byte: the
 * elements are small and the dump runs on the control thread. */
static void
ctable_dump_swap(struct vsw_ctable_dump *d, size_t i, size_t j)
{
    char *a = ctable_dump_at(d, i);
    char *b = ctable_dump_at(d, j);

    for (size_t k = 0; k < d->size; k++) {
        char tmp = a[k];
        a[k] = b[k];
        b[k] = tmp;
    }
}

/* Moves heap element 'i' up to its place. */
static void
ctable_dump_sift_up(struct vsw_ctable_dump *d, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (d->compare(ctable_dump_at(d, parent), ctable_dump_at(d, i)) >= 0) {
            break;
        }
        ctable_dump_swap(d, parent, i);
        i = parent;
    }
}

/* Moves heap element 'i' down to its place. */
static void
ctable_dump_sift_down(struct vsw_ctable_dump *d, size_t i)
{
    for (;;) {
        size_t largest = i;
        for (size_t child = 2 * i + 1; child <= 2 * i + 2 && child < d->n;
             child++) {
            if (d->compare(ctable_dump_at(d, child),
                           ctable_dump_at(d, largest)) > 0) {
                largest = child;
            }
        }
        if (largest == i) {
            return;
        }
        ctable_dump_swap(d, largest, i);
        i = largest;
    }
}

/* While the buffer has room, every element goes in; then one goes in only
 * if it comes before the largest kept, which it replaces. */
void
vsw_ctable_dump_offer(struct vsw_ctable_dump *d, const void *elem)
{
    if (d->n < d->max) {
        memcpy(ctable_dump_at(d, d->n), elem, d->size);
        ctable_dump_sift_up(d, d->n++);
    } else if (d->n && d->compare(elem, ctable_dump_at(d, 0)) < 0) {
        memcpy(ctable_dump_at(d, 0), elem, d->size);
        ctable_dump_sift_down(d, 0);
    }
}

/* The heap holds the right elements in heap order; one sort puts them in
 * dump order. */
size_t
vsw_ctable_dump_finish(struct vsw_ctable_dump *d)
{
    if (d->n) {
        qsort(d->out, d->n, d->size, d->compare);
    }
    return d->n;
}
