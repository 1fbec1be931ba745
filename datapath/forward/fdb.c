/*
 * The MAC table; fdb.h holds the contract.
 *
 * Layout.  A pool of 'max_entries' entries is allocated at creation and
 * never freed before destroy, so a lock-free reader that holds a stale
 * index still reads valid memory.  Entries hang off a power-of-two array
 * of hash buckets (about two buckets per entry) in singly linked chains of
 * pool indices.  Each entry is also on exactly one of two lists that only
 * writers touch: the insertion-ordered list of its port slot, or the free
 * list.
 *
 * Readers follow the seqlock protocol per bucket: load the bucket's
 * sequence count (retry while odd), walk the chain, and retry if the count
 * changed.  A writer makes the count odd before it changes the chain or
 * any entry on it and even again after, so every change a reader may have
 * observed, including an entry recycled into another bucket, shows up as
 * a changed count.  The ordering comes from release stores of the data in
 * the writer and acquire loads in the reader, not from fences: a reader
 * that sees a value written after a count became odd is then bound to see
 * that count, and ThreadSanitizer, which does not model fences, can check
 * the scheme.  (On x86 both are plain moves.)  A chain walk is bounded by
 * the pool size, so a reader led astray by a recycled entry always comes
 * back to its count check.
 *
 * Writers serialize on 'mutex'.  Long operations (expire, flush, dump,
 * flush_port) release it every FDB_SWEEP_CHUNK buckets or entries, so a
 * worker learning a new MAC waits for at most one chunk.
 */
#include "fdb.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/random.h>

/* "No entry": ends bucket chains, slot lists and the free list. */
#define FDB_NIL UINT32_MAX

/* A frame from a known MAC on its known port rewrites 'last_seen' only when
 * the stored time is at least this old, so a busy MAC dirties the cache
 * line that every lookup of it reads about ten times a second instead of
 * once per frame.  The price: an entry may age out up to this much before
 * its last frame plus the ageing time. */
#define FDB_REFRESH_MS 100

/* Buckets (sweeps) or entries (flush_port) handled per hold of 'mutex'. */
#define FDB_SWEEP_CHUNK 1024

/* Eviction looks at this many of a slot's earliest learned entries and
 * drops the least recently seen of them: an aged-out one if there is one,
 * and never a busy MAC merely because it was learned first. */
#define FDB_EVICT_WINDOW 8

/* One MAC table entry.  The atomic members are read by lock-free readers
 * and written only under 'mutex', except 'last_seen', which a worker also
 * refreshes without the lock. */
struct fdb_entry {
    _Atomic uint64_t key;      /* fdb_key(vlan, mac) */
    _Atomic int64_t last_seen; /* ms of a recent frame, see FDB_REFRESH_MS */
    _Atomic uint32_t port_id;  /* port the MAC was learned on */
    _Atomic uint32_t next;     /* next entry of the bucket chain or FDB_NIL */
    uint32_t slot_prev;        /* earlier learned entry of the slot */
    uint32_t slot_next;        /* later learned entry, or next free entry */
};

/* One hash bucket. */
struct fdb_bucket {
    _Atomic uint32_t seq;  /* odd while a writer changes this chain */
    _Atomic uint32_t head; /* first entry of the chain or FDB_NIL */
};

/* The entries learned on one port slot, for counts and eviction. */
struct fdb_slot {
    _Atomic uint32_t count; /* entries on the list; atomic for count_port */
    uint32_t oldest;        /* earliest learned entry or FDB_NIL */
    uint32_t newest;        /* latest learned entry or FDB_NIL */
};

/* The table.  Invariants, whenever 'mutex' is free: every pool entry is
 * either on exactly one bucket chain (the one its key hashes to) and on the
 * list of the slot of its port, or on the free list; keys on the chains are
 * unique; 'n_entries' is the sum of the slot counts, and reaches
 * 'max_entries' exactly when the free list is empty. */
struct vsw_fdb {
    struct fdb_entry *pool;      /* 'max_entries' entries */
    struct fdb_bucket *buckets;  /* 'bucket_mask' + 1 buckets */
    size_t bucket_mask;          /* bucket count - 1, a power of two - 1 */
    uint32_t max_entries;        /* the switch-wide cap, >= 1 */
    _Atomic uint32_t ageing_sec; /* read by every lookup, set any time */
    uint64_t seed[2];            /* hash keys, secret so that nobody can
                                    aim many MACs at one bucket */
    pthread_mutex_t mutex;       /* serializes all writers */
    _Atomic uint64_t generation; /* bumped after every change of which
                                    port a MAC maps to */
    _Atomic uint32_t n_entries;  /* entries in the table (live or aged
                                    but not yet removed); atomic for count */
    uint32_t free_head;          /* first free entry or FDB_NIL */
    uint32_t slot_end;           /* 1 + highest slot that may be non-empty,
                                    so the largest slot is found by a scan
                                    of the slots in use only */
    struct fdb_slot slots[VSW_FDB_MAX_SLOTS]; /* per port slot */
};

/* What a lock-free chain walk found. */
struct fdb_hit {
    uint32_t idx;      /* pool index of the entry */
    uint32_t port_id;  /* its port */
    int64_t last_seen; /* its timestamp */
};

/* Decides, for each entry a sweep visits with 'mutex' held, whether the
 * sweep removes it. */
typedef bool fdb_visit_func(const struct fdb_entry *, void *aux);

/* The key of (vlan, mac): vlan << 48 | mac, so that ordering keys orders
 * by VLAN, then MAC. */
static uint64_t
fdb_key(uint16_t vlan, const uint8_t mac[6])
{
    uint64_t key = vlan;

    for (int i = 0; i < 6; i++) {
        key = key << 8 | mac[i];
    }
    return key;
}

/* A multiply-xorshift mix of 'key' under the table's secret seed. */
static struct fdb_bucket *
fdb_bucket(const struct vsw_fdb *fdb, uint64_t key)
{
    uint64_t h = (key ^ fdb->seed[0]) * UINT64_C(0x9e3779b97f4a7c15);

    h = (h ^ (h >> 32) ^ fdb->seed[1]) * UINT64_C(0xd6e8feb86659fd93);
    h ^= h >> 32;
    return &fdb->buckets[h & fdb->bucket_mask];
}

static int64_t
fdb_ageing_ms(const struct vsw_fdb *fdb)
{
    return (int64_t)atomic_load_explicit(&fdb->ageing_sec,
                                         memory_order_relaxed) *
           1000;
}

static bool
fdb_is_aged(int64_t last_seen, int64_t now_ms, int64_t ageing_ms)
{
    return now_ms - last_seen >= ageing_ms;
}

/* Lock-free.  Looks 'key' up; on success fills 'hit' with a consistent
 * view of its entry at one instant. */
static bool
fdb_find(const struct vsw_fdb *fdb, uint64_t key, struct fdb_hit *hit)
{
    const struct fdb_bucket *b = fdb_bucket(fdb, key);

    for (;;) {
        uint32_t seq = atomic_load_explicit(&b->seq, memory_order_acquire);
        if (seq & 1) {
            continue;
        }

        bool found = false;
        uint32_t idx = atomic_load_explicit(&b->head, memory_order_acquire);
        for (uint32_t steps = 0; idx != FDB_NIL && steps < fdb->max_entries;
             steps++) {
            const struct fdb_entry *e = &fdb->pool[idx];
            if (atomic_load_explicit(&e->key, memory_order_acquire) == key) {
                hit->idx = idx;
                hit->port_id =
                    atomic_load_explicit(&e->port_id, memory_order_acquire);
                hit->last_seen =
                    atomic_load_explicit(&e->last_seen, memory_order_acquire);
                found = true;
                break;
            }
            idx = atomic_load_explicit(&e->next, memory_order_acquire);
        }

        if (atomic_load_explicit(&b->seq, memory_order_relaxed) == seq &&
            (found || idx == FDB_NIL)) {
            return found;
        }
    }
}

/* Lock-free.  Records a frame at 'now_ms' on entry 'e', last seen at
 * 'last_seen'.  If 'e' has been recycled since it was found, this only
 * gives some other MAC that timestamp: at worst that MAC ages out early
 * (and is learned again from its next frame) or a little late. */
static void
fdb_refresh(struct fdb_entry *e, int64_t last_seen, int64_t now_ms)
{
    if (now_ms - last_seen >= FDB_REFRESH_MS) {
        atomic_store_explicit(&e->last_seen, now_ms, memory_order_relaxed);
    }
}

/* Makes 'b''s count odd: readers of 'b' retry until fdb_write_end().  Every
 * store a reader of 'b' may see until then must be a release store. */
static void
fdb_write_begin(struct fdb_bucket *b)
{
    uint32_t seq = atomic_load_explicit(&b->seq, memory_order_relaxed);

    atomic_store_explicit(&b->seq, seq + 1, memory_order_relaxed);
}

static void
fdb_write_end(struct vsw_fdb *fdb, struct fdb_bucket *b)
{
    uint32_t seq = atomic_load_explicit(&b->seq, memory_order_relaxed);
    uint64_t gen =
        atomic_load_explicit(&fdb->generation, memory_order_relaxed);

    atomic_store_explicit(&b->seq, seq + 1, memory_order_release);
    /* After the change, with release: whoever sees the new generation
     * also sees the change (see vsw_fdb_generation()). */
    atomic_store_explicit(&fdb->generation, gen + 1, memory_order_release);
}

/* The per-slot count is written only under 'mutex', so a plain
 * load-then-store suffices; it is atomic for lock-free count_port. */
static void
fdb_slot_add_count(struct fdb_slot *slot, int delta)
{
    uint32_t count = atomic_load_explicit(&slot->count, memory_order_relaxed);

    atomic_store_explicit(&slot->count, count + delta, memory_order_relaxed);
}

static void
fdb_add_count(struct vsw_fdb *fdb, int delta)
{
    uint32_t n = atomic_load_explicit(&fdb->n_entries, memory_order_relaxed);

    atomic_store_explicit(&fdb->n_entries, n + delta, memory_order_relaxed);
}

static uint32_t
fdb_slot_count(const struct vsw_fdb *fdb, uint32_t slot)
{
    return atomic_load_explicit(&fdb->slots[slot].count, memory_order_relaxed);
}

/* With 'mutex' held.  Appends entry 'idx' to the list of 'slot' as its
 * latest learned entry. */
static void
fdb_slot_append(struct vsw_fdb *fdb, uint32_t idx, uint32_t slot)
{
    struct fdb_slot *s = &fdb->slots[slot];
    struct fdb_entry *e = &fdb->pool[idx];

    e->slot_prev = s->newest;
    e->slot_next = FDB_NIL;
    if (s->newest != FDB_NIL) {
        fdb->pool[s->newest].slot_next = idx;
    } else {
        s->oldest = idx;
    }
    s->newest = idx;
    fdb_slot_add_count(s, 1);
    if (slot >= fdb->slot_end) {
        fdb->slot_end = slot + 1;
    }
}

/* With 'mutex' held.  Takes entry 'idx' off the list of 'slot'. */
static void
fdb_slot_unlink(struct vsw_fdb *fdb, uint32_t idx, uint32_t slot)
{
    struct fdb_slot *s = &fdb->slots[slot];
    struct fdb_entry *e = &fdb->pool[idx];

    if (e->slot_prev != FDB_NIL) {
        fdb->pool[e->slot_prev].slot_next = e->slot_next;
    } else {
        s->oldest = e->slot_next;
    }
    if (e->slot_next != FDB_NIL) {
        fdb->pool[e->slot_next].slot_prev = e->slot_prev;
    } else {
        s->newest = e->slot_prev;
    }
    fdb_slot_add_count(s, -1);
}

static uint32_t
fdb_entry_slot(const struct fdb_entry *e)
{
    return VSW_FDB_SLOT(
        atomic_load_explicit(&e->port_id, memory_order_relaxed));
}

/* With 'mutex' held.  Returns entry 'idx', already off its bucket chain,
 * from its slot list to the free list.  Its atomic fields keep their
 * values: a reader still on it is sent back by its bucket count. */
static void
fdb_release(struct vsw_fdb *fdb, uint32_t idx)
{
    struct fdb_entry *e = &fdb->pool[idx];

    fdb_slot_unlink(fdb, idx, fdb_entry_slot(e));
    e->slot_next = fdb->free_head;
    fdb->free_head = idx;
    fdb_add_count(fdb, -1);
}

/* With 'mutex' held.  Removes entry 'idx' from the table. */
static void
fdb_remove(struct vsw_fdb *fdb, uint32_t idx)
{
    struct fdb_entry *e = &fdb->pool[idx];
    struct fdb_bucket *b =
        fdb_bucket(fdb, atomic_load_explicit(&e->key, memory_order_relaxed));
    _Atomic uint32_t *link = &b->head;

    while (atomic_load_explicit(link, memory_order_relaxed) != idx) {
        link =
            &fdb->pool[atomic_load_explicit(link, memory_order_relaxed)].next;
    }
    fdb_write_begin(b);
    atomic_store_explicit(link,
                          atomic_load_explicit(&e->next, memory_order_relaxed),
                          memory_order_release);
    fdb_write_end(fdb, b);
    fdb_release(fdb, idx);
}

/* With 'mutex' held.  Removes the entries of 'b' for which 'visit' says
 * so, in one write section.  Returns how many it removed. */
static size_t
fdb_sweep_bucket(struct vsw_fdb *fdb, struct fdb_bucket *b,
                 fdb_visit_func *visit, void *aux)
{
    _Atomic uint32_t *link = &b->head;
    bool writing = false;
    size_t n_removed = 0;
    uint32_t idx;

    while ((idx = atomic_load_explicit(link, memory_order_relaxed)) !=
           FDB_NIL) {
        struct fdb_entry *e = &fdb->pool[idx];
        if (!visit(e, aux)) {
            link = &e->next;
            continue;
        }
        if (!writing) {
            fdb_write_begin(b);
            writing = true;
        }
        atomic_store_explicit(
            link, atomic_load_explicit(&e->next, memory_order_relaxed),
            memory_order_release);
        fdb_release(fdb, idx);
        n_removed++;
    }
    if (writing) {
        fdb_write_end(fdb, b);
    }
    return n_removed;
}

/* Runs fdb_sweep_bucket() over every bucket, FDB_SWEEP_CHUNK buckets per
 * hold of 'mutex'.  Returns how many entries it removed. */
static size_t
fdb_sweep(struct vsw_fdb *fdb, fdb_visit_func *visit, void *aux)
{
    size_t n_buckets = fdb->bucket_mask + 1;
    size_t n_removed = 0;

    for (size_t start = 0; start < n_buckets; start += FDB_SWEEP_CHUNK) {
        size_t end = start + FDB_SWEEP_CHUNK;
        if (end > n_buckets) {
            end = n_buckets;
        }
        pthread_mutex_lock(&fdb->mutex);
        for (size_t i = start; i < end; i++) {
            n_removed += fdb_sweep_bucket(fdb, &fdb->buckets[i], visit, aux);
        }
        pthread_mutex_unlock(&fdb->mutex);
    }
    return n_removed;
}

/* The moment a sweep or a learn judges ageing against. */
struct fdb_age_ctx {
    int64_t now_ms;    /* the caller's now */
    int64_t ageing_ms; /* the ageing time, read once */
};

static bool
fdb_visit_aged(const struct fdb_entry *e, void *ctx_)
{
    const struct fdb_age_ctx *ctx = ctx_;

    return fdb_is_aged(
        atomic_load_explicit(&e->last_seen, memory_order_relaxed), ctx->now_ms,
        ctx->ageing_ms);
}

static bool
fdb_visit_all(const struct fdb_entry *e, void *aux)
{
    (void)e;
    (void)aux;
    return true;
}

/* With 'mutex' held.  Evicts the least recently seen of the
 * FDB_EVICT_WINDOW earliest learned entries of non-empty 'slot'. */
static void
fdb_evict_from_slot(struct vsw_fdb *fdb, uint32_t slot)
{
    uint32_t victim = fdb->slots[slot].oldest;
    int64_t victim_seen = atomic_load_explicit(&fdb->pool[victim].last_seen,
                                               memory_order_relaxed);
    uint32_t idx = fdb->pool[victim].slot_next;

    for (int n = 1; n < FDB_EVICT_WINDOW && idx != FDB_NIL; n++) {
        int64_t seen = atomic_load_explicit(&fdb->pool[idx].last_seen,
                                            memory_order_relaxed);
        if (seen < victim_seen) {
            victim = idx;
            victim_seen = seen;
        }
        idx = fdb->pool[idx].slot_next;
    }
    fdb_remove(fdb, victim);
}

/* With 'mutex' held.  Returns the slot holding the most entries (the table
 * must not be empty), and shrinks 'slot_end' past empty slots on the way. */
static uint32_t
fdb_largest_slot(struct vsw_fdb *fdb)
{
    uint32_t largest = 0, largest_count = 0, end = 0;

    for (uint32_t slot = 0; slot < fdb->slot_end; slot++) {
        uint32_t count = fdb_slot_count(fdb, slot);
        if (count) {
            end = slot + 1;
            if (count > largest_count) {
                largest = slot;
                largest_count = count;
            }
        }
    }
    fdb->slot_end = end;
    return largest;
}

/* With 'mutex' held.  Evicts entries of 'slot' until it holds fewer than
 * 'port_limit' (0: no limit).  A loop rather than a single eviction so a
 * lowered limit is reached at once. */
static void
fdb_enforce_port_limit(struct vsw_fdb *fdb, uint32_t slot, uint32_t port_limit)
{
    while (port_limit && fdb_slot_count(fdb, slot) >= port_limit) {
        fdb_evict_from_slot(fdb, slot);
    }
}

/* With 'mutex' held.  Returns the index of 'key' on the chain of 'b', or
 * FDB_NIL. */
static uint32_t
fdb_chain_find(const struct vsw_fdb *fdb, const struct fdb_bucket *b,
               uint64_t key)
{
    uint32_t idx = atomic_load_explicit(&b->head, memory_order_relaxed);

    while (idx != FDB_NIL &&
           atomic_load_explicit(&fdb->pool[idx].key, memory_order_relaxed) !=
               key) {
        idx = atomic_load_explicit(&fdb->pool[idx].next, memory_order_relaxed);
    }
    return idx;
}

/* With 'mutex' held.  Moves entry 'idx' of bucket 'b' to 'port_id'. */
static void
fdb_move(struct vsw_fdb *fdb, struct fdb_bucket *b, uint32_t idx,
         uint32_t port_id, uint32_t port_limit, int64_t now_ms)
{
    struct fdb_entry *e = &fdb->pool[idx];
    uint32_t old_slot = fdb_entry_slot(e);
    uint32_t new_slot = VSW_FDB_SLOT(port_id);

    if (old_slot != new_slot) {
        fdb_enforce_port_limit(fdb, new_slot, port_limit);
        fdb_slot_unlink(fdb, idx, old_slot);
        fdb_slot_append(fdb, idx, new_slot);
    }
    /* In a write section so that no reader pairs the new port with the old
     * timestamp, which may be aged. */
    fdb_write_begin(b);
    atomic_store_explicit(&e->port_id, port_id, memory_order_release);
    atomic_store_explicit(&e->last_seen, now_ms, memory_order_release);
    fdb_write_end(fdb, b);
}

/* With 'mutex' held.  Adds 'key' on 'port_id' to bucket 'b', evicting
 * first if a cap requires it. */
static void
fdb_insert(struct vsw_fdb *fdb, struct fdb_bucket *b, uint64_t key,
           uint32_t port_id, uint32_t port_limit, int64_t now_ms)
{
    uint32_t slot = VSW_FDB_SLOT(port_id);

    fdb_enforce_port_limit(fdb, slot, port_limit);
    if (atomic_load_explicit(&fdb->n_entries, memory_order_relaxed) >=
        fdb->max_entries) {
        fdb_evict_from_slot(fdb, fdb_largest_slot(fdb));
    }

    uint32_t idx = fdb->free_head;
    struct fdb_entry *e = &fdb->pool[idx];
    fdb->free_head = e->slot_next;

    /* The entry's fields change inside the write section too: a reader of
     * 'b' must not see the entry with its previous key or port. */
    fdb_write_begin(b);
    atomic_store_explicit(&e->key, key, memory_order_release);
    atomic_store_explicit(&e->port_id, port_id, memory_order_release);
    atomic_store_explicit(&e->last_seen, now_ms, memory_order_release);
    atomic_store_explicit(&e->next,
                          atomic_load_explicit(&b->head, memory_order_relaxed),
                          memory_order_release);
    atomic_store_explicit(&b->head, idx, memory_order_release);
    fdb_write_end(fdb, b);

    fdb_slot_append(fdb, idx, slot);
    fdb_add_count(fdb, 1);
}

/* With 'mutex' held: the part of vsw_fdb_learn() that changes the table. */
static enum vsw_fdb_learn_result
fdb_learn_locked(struct vsw_fdb *fdb, uint64_t key, uint32_t port_id,
                 uint32_t port_limit, int64_t now_ms)
{
    struct fdb_bucket *b = fdb_bucket(fdb, key);
    struct fdb_age_ctx age = {now_ms, fdb_ageing_ms(fdb)};

    /* Dropping the aged entries of this one chain is nearly free here, and
     * an aged entry of 'key' itself is then simply learned anew. */
    fdb_sweep_bucket(fdb, b, fdb_visit_aged, &age);

    uint32_t idx = fdb_chain_find(fdb, b, key);
    if (idx == FDB_NIL) {
        fdb_insert(fdb, b, key, port_id, port_limit, now_ms);
        return VSW_FDB_LEARNED;
    }

    struct fdb_entry *e = &fdb->pool[idx];
    if (atomic_load_explicit(&e->port_id, memory_order_relaxed) == port_id) {
        /* Another worker learned it since our lock-free look. */
        fdb_refresh(e,
                    atomic_load_explicit(&e->last_seen, memory_order_relaxed),
                    now_ms);
        return VSW_FDB_REFRESHED;
    }
    fdb_move(fdb, b, idx, port_id, port_limit, now_ms);
    return VSW_FDB_MOVED;
}

/* Whether 'mac' may be learned: not multicast (which includes broadcast)
 * and not all zeros. */
static bool
fdb_is_learnable(const uint8_t mac[6])
{
    return !(mac[0] & 1) &&
           (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]);
}

/* Seeds the bucket hash.  Without kernel randomness (an old kernel or a
 * seccomp filter), the addresses ASLR picked are still unknown to a
 * remote sender. */
static void
fdb_seed(uint64_t seed[2])
{
    if (getrandom(seed, 2 * sizeof seed[0], 0) == 2 * sizeof seed[0]) {
        return;
    }
    seed[0] = (uint64_t)(uintptr_t)seed * UINT64_C(0x9e3779b97f4a7c15);
    seed[1] = (uint64_t)(uintptr_t)&fdb_seed * UINT64_C(0xd6e8feb86659fd93);
}

struct vsw_fdb *
vsw_fdb_create(uint32_t max_entries, uint32_t ageing_sec)
{
    if (!max_entries) {
        return NULL;
    }

    struct vsw_fdb *fdb = calloc(1, sizeof *fdb);
    if (!fdb) {
        return NULL;
    }

    /* Two buckets per entry keeps chains at about one entry. */
    uint64_t n_buckets = 1;
    while (n_buckets < 2 * (uint64_t)max_entries) {
        n_buckets *= 2;
    }
    fdb->pool = calloc(max_entries, sizeof *fdb->pool);
    fdb->buckets = n_buckets <= SIZE_MAX / sizeof *fdb->buckets
                       ? calloc(n_buckets, sizeof *fdb->buckets)
                       : NULL;
    if (!fdb->pool || !fdb->buckets) {
        free(fdb->pool);
        free(fdb->buckets);
        free(fdb);
        return NULL;
    }

    fdb->bucket_mask = n_buckets - 1;
    fdb->max_entries = max_entries;
    atomic_init(&fdb->ageing_sec, ageing_sec);
    fdb_seed(fdb->seed);
    pthread_mutex_init(&fdb->mutex, NULL);
    atomic_init(&fdb->n_entries, 0);
    atomic_init(&fdb->generation, 0);
    for (size_t i = 0; i < n_buckets; i++) {
        atomic_init(&fdb->buckets[i].seq, 0);
        atomic_init(&fdb->buckets[i].head, FDB_NIL);
    }
    for (uint32_t i = 0; i < max_entries; i++) {
        struct fdb_entry *e = &fdb->pool[i];
        atomic_init(&e->key, 0);
        atomic_init(&e->last_seen, 0);
        atomic_init(&e->port_id, VSW_FDB_NO_PORT);
        atomic_init(&e->next, FDB_NIL);
        e->slot_prev = FDB_NIL;
        e->slot_next = i + 1 < max_entries ? i + 1 : FDB_NIL;
    }
    fdb->free_head = 0;
    for (uint32_t slot = 0; slot < VSW_FDB_MAX_SLOTS; slot++) {
        atomic_init(&fdb->slots[slot].count, 0);
        fdb->slots[slot].oldest = FDB_NIL;
        fdb->slots[slot].newest = FDB_NIL;
    }
    fdb->slot_end = 0;
    return fdb;
}

void
vsw_fdb_destroy(struct vsw_fdb *fdb)
{
    if (fdb) {
        pthread_mutex_destroy(&fdb->mutex);
        free(fdb->buckets);
        free(fdb->pool);
        free(fdb);
    }
}

void
vsw_fdb_set_ageing(struct vsw_fdb *fdb, uint32_t ageing_sec)
{
    atomic_store_explicit(&fdb->ageing_sec, ageing_sec, memory_order_relaxed);
}

uint32_t
vsw_fdb_get_ageing(const struct vsw_fdb *fdb)
{
    return atomic_load_explicit(&fdb->ageing_sec, memory_order_relaxed);
}

uint32_t
vsw_fdb_get_max_entries(const struct vsw_fdb *fdb)
{
    return fdb->max_entries;
}

/* The common case, a frame from a MAC already known on its port, takes no
 * lock: a lock-free lookup and at most one relaxed store.  'port_id'
 * VSW_FDB_NO_PORT is ignored, since lookups could not tell it from
 * "unknown". */
enum vsw_fdb_learn_result
vsw_fdb_learn(struct vsw_fdb *fdb, uint16_t vlan, const uint8_t mac[6],
              uint32_t port_id, uint32_t port_limit, int64_t now_ms)
{
    if (!fdb_is_learnable(mac) || port_id == VSW_FDB_NO_PORT) {
        return VSW_FDB_IGNORED;
    }

    uint64_t key = fdb_key(vlan, mac);
    struct fdb_hit hit;
    if (fdb_find(fdb, key, &hit) && hit.port_id == port_id &&
        !fdb_is_aged(hit.last_seen, now_ms, fdb_ageing_ms(fdb))) {
        fdb_refresh(&fdb->pool[hit.idx], hit.last_seen, now_ms);
        return VSW_FDB_REFRESHED;
    }

    pthread_mutex_lock(&fdb->mutex);
    enum vsw_fdb_learn_result result =
        fdb_learn_locked(fdb, key, port_id, port_limit, now_ms);
    pthread_mutex_unlock(&fdb->mutex);
    return result;
}

uint32_t
vsw_fdb_lookup(const struct vsw_fdb *fdb, uint16_t vlan, const uint8_t mac[6],
               int64_t now_ms)
{
    struct fdb_hit hit;

    if (!fdb_find(fdb, fdb_key(vlan, mac), &hit) ||
        fdb_is_aged(hit.last_seen, now_ms, fdb_ageing_ms(fdb))) {
        return VSW_FDB_NO_PORT;
    }
    return hit.port_id;
}

size_t
vsw_fdb_expire(struct vsw_fdb *fdb, int64_t now_ms)
{
    struct fdb_age_ctx age = {now_ms, fdb_ageing_ms(fdb)};

    return fdb_sweep(fdb, fdb_visit_aged, &age);
}

/* Takes entries from the front of the slot's list in chunks.  A worker
 * still learning on the port could keep the loop going, but the caller
 * flushes a port only once workers no longer receive on it. */
void
vsw_fdb_flush_port(struct vsw_fdb *fdb, uint32_t port_id)
{
    struct fdb_slot *slot = &fdb->slots[VSW_FDB_SLOT(port_id)];
    bool more;

    do {
        pthread_mutex_lock(&fdb->mutex);
        for (int n = 0; n < FDB_SWEEP_CHUNK && slot->oldest != FDB_NIL; n++) {
            fdb_remove(fdb, slot->oldest);
        }
        more = slot->oldest != FDB_NIL;
        pthread_mutex_unlock(&fdb->mutex);
    } while (more);
}

void
vsw_fdb_flush(struct vsw_fdb *fdb)
{
    fdb_sweep(fdb, fdb_visit_all, NULL);
}

/* Counts entries aged out but not yet removed by vsw_fdb_expire(): they
 * still occupy the pool. */
size_t
vsw_fdb_count(const struct vsw_fdb *fdb)
{
    return atomic_load_explicit(&fdb->n_entries, memory_order_relaxed);
}

size_t
vsw_fdb_count_port(const struct vsw_fdb *fdb, uint32_t port_id)
{
    return fdb_slot_count(fdb, VSW_FDB_SLOT(port_id));
}

/* State of vsw_fdb_dump(): while the sweep runs, 'out' is a max-heap by
 * key of the smallest keys seen so far, so the dump needs no allocation
 * and a short buffer receives the first entries in order. */
struct fdb_dump_ctx {
    struct vsw_fdb_entry_info *out; /* the caller's buffer */
    size_t max;                     /* its size */
    size_t n;                       /* entries in it */
    struct fdb_age_ctx age;         /* what counts as live */
};

static uint64_t
fdb_info_key(const struct vsw_fdb_entry_info *info)
{
    return fdb_key(info->vlan, info->mac);
}

static void
fdb_info_swap(struct vsw_fdb_entry_info *a, struct vsw_fdb_entry_info *b)
{
    struct vsw_fdb_entry_info tmp = *a;

    *a = *b;
    *b = tmp;
}

/* Moves heap element 'i' up to its place. */
static void
fdb_heap_sift_up(struct vsw_fdb_entry_info *heap, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (fdb_info_key(&heap[parent]) >= fdb_info_key(&heap[i])) {
            break;
        }
        fdb_info_swap(&heap[parent], &heap[i]);
        i = parent;
    }
}

/* Moves heap element 'i' down to its place in the 'n'-element heap. */
static void
fdb_heap_sift_down(struct vsw_fdb_entry_info *heap, size_t n, size_t i)
{
    for (;;) {
        size_t largest = i;
        for (size_t child = 2 * i + 1; child <= 2 * i + 2 && child < n;
             child++) {
            if (fdb_info_key(&heap[child]) > fdb_info_key(&heap[largest])) {
                largest = child;
            }
        }
        if (largest == i) {
            return;
        }
        fdb_info_swap(&heap[largest], &heap[i]);
        i = largest;
    }
}

static bool
fdb_visit_dump(const struct fdb_entry *e, void *ctx_)
{
    struct fdb_dump_ctx *ctx = ctx_;
    int64_t last_seen =
        atomic_load_explicit(&e->last_seen, memory_order_relaxed);

    if (fdb_is_aged(last_seen, ctx->age.now_ms, ctx->age.ageing_ms)) {
        return false;
    }

    uint64_t key = atomic_load_explicit(&e->key, memory_order_relaxed);
    int64_t age_ms = ctx->age.now_ms - last_seen;
    struct vsw_fdb_entry_info info = {
        .vlan = key >> 48,
        .port_id = atomic_load_explicit(&e->port_id, memory_order_relaxed),
        /* A worker's clock may run a little ahead of the caller's. */
        .age_sec = age_ms > 0 ? age_ms / 1000 : 0,
    };
    for (int i = 0; i < 6; i++) {
        info.mac[i] = key >> (40 - 8 * i);
    }

    if (ctx->n < ctx->max) {
        ctx->out[ctx->n] = info;
        fdb_heap_sift_up(ctx->out, ctx->n++);
    } else if (ctx->n && key < fdb_info_key(&ctx->out[0])) {
        ctx->out[0] = info;
        fdb_heap_sift_down(ctx->out, ctx->n, 0);
    }
    return false;
}

static int
fdb_info_compare(const void *a_, const void *b_)
{
    uint64_t a = fdb_info_key(a_);
    uint64_t b = fdb_info_key(b_);

    return a < b ? -1 : a > b;
}

/* The dump is taken bucket chunk by bucket chunk, so it is not one
 * snapshot: an entry learned or removed meanwhile may or may not be in
 * it, but no key appears twice. */
size_t
vsw_fdb_dump(struct vsw_fdb *fdb, struct vsw_fdb_entry_info *out, size_t max,
             int64_t now_ms)
{
    struct fdb_dump_ctx ctx = {
        .out = out,
        .max = max,
        .n = 0,
        .age = {now_ms, fdb_ageing_ms(fdb)},
    };

    fdb_sweep(fdb, fdb_visit_dump, &ctx);
    if (ctx.n) {
        qsort(out, ctx.n, sizeof *out, fdb_info_compare);
    }
    return ctx.n;
}

uint64_t
vsw_fdb_generation(const struct vsw_fdb *fdb)
{
    return atomic_load_explicit(&fdb->generation, memory_order_acquire);
}
