/*
 * The MAC table; fdb.h holds the contract.
 *
 * Layout.  The entries live in a concurrent table (ctable.h): a pool
 * fixed at creation, hash chains that lock-free readers walk under
 * per-bucket sequence counts, one writer lock.  This file adds the key
 * (VLAN and MAC in one word), the timestamps and ageing, and the port
 * slots: each entry in use is also on the insertion-ordered list of its
 * port slot, which only writers touch, for counts and eviction.
 *
 * Writers serialize on the table's lock.  Long operations (expire, flush,
 * dump, flush_port) release it every VSW_CTABLE_SWEEP_CHUNK buckets or
 * FDB_SWEEP_CHUNK entries, so a worker learning a new MAC waits for at
 * most one chunk.
 */
#include "fdb.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#include "ctable.h"

/* "No entry": ends bucket chains and slot lists. */
#define FDB_NIL VSW_CTABLE_NIL

/* A frame from a known MAC on its known port rewrites 'last_seen' only when
 * the stored time is at least this old, so a busy MAC dirties the cache
 * line that every lookup of it reads about ten times a second instead of
 * once per frame.  The price: an entry may age out up to this much before
 * its last frame plus the ageing time. */
#define FDB_REFRESH_MS 100

/* Entries flush_port removes per hold of the lock. */
#define FDB_SWEEP_CHUNK 1024

/* Eviction looks at this many of a slot's earliest learned entries and
 * drops the least recently seen of them: an aged-out one if there is one,
 * and never a busy MAC merely because it was learned first. */
#define FDB_EVICT_WINDOW 8

/* One MAC table entry.  The atomic members are read by lock-free readers
 * and written only under the lock, except 'last_seen', which a worker
 * also refreshes without the lock. */
struct fdb_entry {
    struct vsw_ctable_node node; /* chain link; first, as ctable.h wants */
    _Atomic uint32_t port_id;    /* port the MAC was learned on */
    _Atomic uint64_t key;        /* fdb_key(vlan, mac) */
    _Atomic uint32_t vni;        /* tenant network, 0 = none: with 'key',
                                    the entry's identity */
    _Atomic int64_t last_seen;   /* ms of a recent frame, FDB_REFRESH_MS */
    uint32_t slot_prev;          /* earlier learned entry of the slot */
    uint32_t slot_next;          /* later learned entry of the slot */
};

_Static_assert(offsetof(struct fdb_entry, node) == 0,
               "ctable.h wants the node first");

/* The entries learned on one port slot, for counts and eviction. */
struct fdb_slot {
    _Atomic uint32_t count; /* entries on the list; atomic for count_port */
    uint32_t oldest;        /* earliest learned entry or FDB_NIL */
    uint32_t newest;        /* latest learned entry or FDB_NIL */
};

/* The MAC table.  Invariants, whenever the lock is free: every entry on
 * a chain is on the chain its key hashes to and on the list of the slot
 * of its port; keys on the chains are unique; the table's count (entries
 * live or aged but not yet removed) is the sum of the slot counts.  What
 * a lookup reads ('ageing_sec' and the table's first members) comes
 * first, within 64 bytes. */
struct vsw_fdb {
    _Atomic uint32_t ageing_sec; /* read by every lookup, set any time */
    struct vsw_ctable table;     /* the entries; its generation is bumped
                                    after every change of which port a MAC
                                    maps to */
    struct fdb_entry *pool;      /* the table's pool, typed */
    uint32_t slot_end;           /* 1 + highest slot that may be non-empty,
                                    so the largest slot is found by a scan
                                    of the slots in use only */
    struct fdb_slot slots[VSW_FDB_MAX_SLOTS]; /* per port slot */
    _Atomic uint64_t full_count;              /* vsw_fdb_full_count() */
};

/* What a lock-free chain walk found. */
struct fdb_hit {
    uint32_t idx;      /* pool index of the entry */
    uint32_t port_id;  /* its port */
    int64_t last_seen; /* its timestamp */
};

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

/* What identifies an entry: the VLAN and MAC, and the tenant network
 * (VNI) they belong to, so that two VNIs may use the same MAC. */
struct fdb_id {
    uint64_t key; /* fdb_key(vlan, mac) */
    uint32_t vni; /* 0 = no tenant network */
};

/* A multiply-xorshift mix of 'key' under the table's secret seed.
 * Returns the bucket index. */
static size_t
fdb_bucket(const struct vsw_fdb *fdb, struct fdb_id id)
{
    const struct vsw_ctable *t = &fdb->table;
    uint64_t h = (id.key ^ t->seed[0] ^ (uint64_t)id.vni << 40) *
                 UINT64_C(0x9e3779b97f4a7c15);

    h = (h ^ (h >> 32) ^ t->seed[1]) * UINT64_C(0xd6e8feb86659fd93);
    h ^= h >> 32;
    return h & t->bucket_mask;
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

/* Lock-free (vsw_ctable_match_func).  Whether 'e_' holds the key at
 * 'key_'; if so, copies its port and timestamp into 'hit_'. */
static bool
fdb_match(const void *e_, const void *key_, void *hit_)
{
    const struct fdb_entry *e = e_;
    const struct fdb_id *id = key_;
    struct fdb_hit *hit = hit_;

    if (atomic_load_explicit(&e->key, memory_order_acquire) != id->key ||
        atomic_load_explicit(&e->vni, memory_order_acquire) != id->vni) {
        return false;
    }
    hit->port_id = atomic_load_explicit(&e->port_id, memory_order_acquire);
    hit->last_seen = atomic_load_explicit(&e->last_seen, memory_order_acquire);
    return true;
}

/* Lock-free, or with the lock held.  Looks 'key' up in chain 'bucket' (its
 * hash); on success fills 'hit' with a consistent view of its entry at
 * one instant.  'hit' is written only on success: storing a miss costs a
 * lookup measurably. */
static bool
fdb_find(const struct vsw_fdb *fdb, size_t bucket, struct fdb_id id,
         struct fdb_hit *hit)
{
    uint32_t idx = vsw_ctable_find(
        &fdb->table, bucket, sizeof(struct fdb_entry), fdb_match, &id, hit);
    if (idx == FDB_NIL) {
        return false;
    }
    hit->idx = idx;
    return true;
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

/* The per-slot count is written only under the lock, so a plain
 * load-then-store suffices; it is atomic for lock-free count_port. */
static void
fdb_slot_add_count(struct fdb_slot *slot, int delta)
{
    uint32_t count = atomic_load_explicit(&slot->count, memory_order_relaxed);

    atomic_store_explicit(&slot->count, count + delta, memory_order_relaxed);
}

static uint32_t
fdb_slot_count(const struct vsw_fdb *fdb, uint32_t slot)
{
    return atomic_load_explicit(&fdb->slots[slot].count, memory_order_relaxed);
}

/* With the lock held.  Appends entry 'idx' to the list of 'slot' as its
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

/* With the lock held.  Takes entry 'idx' off the list of 'slot'. */
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

/* With the lock held (vsw_ctable_release_func).  Takes entry 'idx', just
 * taken off its bucket chain, off its slot list. */
static void
fdb_release(void *fdb_, uint32_t idx)
{
    struct vsw_fdb *fdb = fdb_;

    fdb_slot_unlink(fdb, idx, fdb_entry_slot(&fdb->pool[idx]));
}

/* With the lock held.  Removes entry 'idx' from the table. */
static void
fdb_remove(struct vsw_fdb *fdb, uint32_t idx)
{
    struct fdb_id id = {
        atomic_load_explicit(&fdb->pool[idx].key, memory_order_relaxed),
        atomic_load_explicit(&fdb->pool[idx].vni, memory_order_relaxed),
    };

    vsw_ctable_remove(&fdb->table, fdb_bucket(fdb, id), idx);
}

/* The moment a sweep or a learn judges ageing against. */
struct fdb_age_ctx {
    int64_t now_ms;    /* the caller's now */
    int64_t ageing_ms; /* the ageing time, read once */
};

/* vsw_ctable_visit_func: removes the entries aged out. */
static bool
fdb_visit_aged(const void *e_, void *ctx_)
{
    const struct fdb_entry *e = e_;
    const struct fdb_age_ctx *ctx = ctx_;

    return fdb_is_aged(
        atomic_load_explicit(&e->last_seen, memory_order_relaxed), ctx->now_ms,
        ctx->ageing_ms);
}

/* With the lock held.  Evicts the least recently seen of the
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

/* With the lock held.  Returns the slot holding the most entries (the table
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

/* With the lock held.  Evicts entries of 'slot' until it holds fewer than
 * 'port_limit' (0: no limit).  A loop rather than a single eviction so a
 * lowered limit is reached at once. */
static void
fdb_enforce_port_limit(struct vsw_fdb *fdb, uint32_t slot, uint32_t port_limit)
{
    while (port_limit && fdb_slot_count(fdb, slot) >= port_limit) {
        fdb_evict_from_slot(fdb, slot);
    }
}

/* With the lock held.  Moves entry 'idx' of bucket 'b' to 'port_id'. */
static void
fdb_move(struct vsw_fdb *fdb, size_t bucket, uint32_t idx, uint32_t port_id,
         uint32_t port_limit, int64_t now_ms)
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
    vsw_ctable_write_begin(&fdb->table, bucket);
    atomic_store_explicit(&e->port_id, port_id, memory_order_release);
    atomic_store_explicit(&e->last_seen, now_ms, memory_order_release);
    vsw_ctable_write_end(&fdb->table, bucket);
}

/* With the lock held.  Adds 'key' on 'port_id' to bucket 'b', evicting
 * first if a cap requires it. */
static void
fdb_insert(struct vsw_fdb *fdb, size_t bucket, struct fdb_id id,
           uint32_t port_id, uint32_t port_limit, int64_t now_ms)
{
    uint32_t slot = VSW_FDB_SLOT(port_id);

    fdb_enforce_port_limit(fdb, slot, port_limit);
    if (vsw_ctable_is_full(&fdb->table)) {
        fdb_evict_from_slot(fdb, fdb_largest_slot(fdb));
        atomic_fetch_add_explicit(&fdb->full_count, 1, memory_order_relaxed);
    }

    /* Never NIL: the eviction made room.  The entry's fields change inside
     * the write section: a reader of the bucket must not see the entry
     * with its previous key or port. */
    uint32_t idx = vsw_ctable_insert_begin(&fdb->table, bucket);
    struct fdb_entry *e = &fdb->pool[idx];
    atomic_store_explicit(&e->key, id.key, memory_order_release);
    atomic_store_explicit(&e->vni, id.vni, memory_order_release);
    atomic_store_explicit(&e->port_id, port_id, memory_order_release);
    atomic_store_explicit(&e->last_seen, now_ms, memory_order_release);
    vsw_ctable_insert_end(&fdb->table, bucket, idx);

    fdb_slot_append(fdb, idx, slot);
}

/* With the lock held: the part of vsw_fdb_learn() that changes the table. */
static enum vsw_fdb_learn_result
fdb_learn_locked(struct vsw_fdb *fdb, struct fdb_id key, uint32_t port_id,
                 uint32_t port_limit, int64_t now_ms)
{
    size_t bucket = fdb_bucket(fdb, key);
    struct fdb_age_ctx age = {now_ms, fdb_ageing_ms(fdb)};
    struct fdb_hit hit;

    /* Dropping the aged entries of this one chain is nearly free here, and
     * an aged entry of 'key' itself is then simply learned anew. */
    vsw_ctable_sweep_bucket(&fdb->table, bucket, fdb_visit_aged, &age);

    if (!fdb_find(fdb, bucket, key, &hit)) {
        fdb_insert(fdb, bucket, key, port_id, port_limit, now_ms);
        return VSW_FDB_LEARNED;
    }

    uint32_t idx = hit.idx;
    struct fdb_entry *e = &fdb->pool[idx];
    if (atomic_load_explicit(&e->port_id, memory_order_relaxed) == port_id) {
        /* Another worker learned it since our lock-free look. */
        fdb_refresh(e,
                    atomic_load_explicit(&e->last_seen, memory_order_relaxed),
                    now_ms);
        return VSW_FDB_REFRESHED;
    }
    fdb_move(fdb, bucket, idx, port_id, port_limit, now_ms);
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

/* The pool and buckets are the table's; this adds the slot lists. */
struct vsw_fdb *
vsw_fdb_create(uint32_t max_entries, uint32_t ageing_sec)
{
    struct vsw_fdb *fdb = calloc(1, sizeof *fdb);
    if (!fdb) {
        return NULL;
    }
    if (vsw_ctable_init(&fdb->table, max_entries, sizeof(struct fdb_entry),
                        fdb_release, fdb)) {
        free(fdb);
        return NULL;
    }

    fdb->pool = vsw_ctable_entry(&fdb->table, 0, sizeof(struct fdb_entry));
    atomic_init(&fdb->ageing_sec, ageing_sec);
    for (uint32_t i = 0; i < max_entries; i++) {
        struct fdb_entry *e = &fdb->pool[i];
        atomic_init(&e->key, 0);
        atomic_init(&e->vni, 0);
        atomic_init(&e->last_seen, 0);
        atomic_init(&e->port_id, VSW_FDB_NO_PORT);
        e->slot_prev = FDB_NIL;
        e->slot_next = FDB_NIL;
    }
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
        vsw_ctable_uninit(&fdb->table);
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
    return fdb->table.max_entries;
}

uint64_t
vsw_fdb_full_count(const struct vsw_fdb *fdb)
{
    return atomic_load_explicit(&fdb->full_count, memory_order_relaxed);
}

/* The common case, a frame from a MAC already known on its port, takes no
 * lock: a lock-free lookup and at most one relaxed store.  'port_id'
 * VSW_FDB_NO_PORT is ignored, since lookups could not tell it from
 * "unknown". */
enum vsw_fdb_learn_result
vsw_fdb_learn_vni(struct vsw_fdb *fdb, uint32_t vni, uint16_t vlan,
                  const uint8_t mac[6], uint32_t port_id, uint32_t port_limit,
                  int64_t now_ms)
{
    if (!fdb_is_learnable(mac) || port_id == VSW_FDB_NO_PORT) {
        return VSW_FDB_IGNORED;
    }

    struct fdb_id key = {fdb_key(vlan, mac), vni};
    struct fdb_hit hit;
    if (fdb_find(fdb, fdb_bucket(fdb, key), key, &hit) &&
        hit.port_id == port_id &&
        !fdb_is_aged(hit.last_seen, now_ms, fdb_ageing_ms(fdb))) {
        fdb_refresh(&fdb->pool[hit.idx], hit.last_seen, now_ms);
        return VSW_FDB_REFRESHED;
    }

    vsw_ctable_lock(&fdb->table);
    enum vsw_fdb_learn_result result =
        fdb_learn_locked(fdb, key, port_id, port_limit, now_ms);
    vsw_ctable_unlock(&fdb->table);
    return result;
}

uint32_t
vsw_fdb_lookup_vni(const struct vsw_fdb *fdb, uint32_t vni, uint16_t vlan,
                   const uint8_t mac[6], int64_t now_ms)
{
    struct fdb_id key = {fdb_key(vlan, mac), vni};
    struct fdb_hit hit;

    if (!fdb_find(fdb, fdb_bucket(fdb, key), key, &hit) ||
        fdb_is_aged(hit.last_seen, now_ms, fdb_ageing_ms(fdb))) {
        return VSW_FDB_NO_PORT;
    }
    return hit.port_id;
}

size_t
vsw_fdb_expire(struct vsw_fdb *fdb, int64_t now_ms)
{
    struct fdb_age_ctx age = {now_ms, fdb_ageing_ms(fdb)};

    return vsw_ctable_sweep(&fdb->table, fdb_visit_aged, &age);
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
        vsw_ctable_lock(&fdb->table);
        for (int n = 0; n < FDB_SWEEP_CHUNK && slot->oldest != FDB_NIL; n++) {
            fdb_remove(fdb, slot->oldest);
        }
        more = slot->oldest != FDB_NIL;
        vsw_ctable_unlock(&fdb->table);
    } while (more);
}

void
vsw_fdb_flush(struct vsw_fdb *fdb)
{
    vsw_ctable_flush(&fdb->table);
}

/* Counts entries aged out but not yet removed by vsw_fdb_expire(): they
 * still occupy the pool. */
size_t
vsw_fdb_count(const struct vsw_fdb *fdb)
{
    return vsw_ctable_count(&fdb->table);
}

size_t
vsw_fdb_count_port(const struct vsw_fdb *fdb, uint32_t port_id)
{
    return fdb_slot_count(fdb, VSW_FDB_SLOT(port_id));
}

/* State of vsw_fdb_dump(). */
struct fdb_dump_ctx {
    struct vsw_ctable_dump dump; /* the first entries by (vlan, mac) */
    struct fdb_age_ctx age;      /* what counts as live */
};

/* The order of vsw_fdb_dump(), qsort()-style: by key, so by VLAN then
 * MAC. */
static int
fdb_info_compare(const void *a_, const void *b_)
{
    const struct vsw_fdb_entry_info *a = a_;
    const struct vsw_fdb_entry_info *b = b_;
    uint64_t ka = fdb_key(a->vlan, a->mac);
    uint64_t kb = fdb_key(b->vlan, b->mac);

    if (a->vni != b->vni) {
        return a->vni < b->vni ? -1 : 1;
    }
    return ka < kb ? -1 : ka > kb;
}

/* vsw_ctable_visit_func: offers live entries to the dump, removes
 * nothing. */
static bool
fdb_visit_dump(const void *e_, void *ctx_)
{
    const struct fdb_entry *e = e_;
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
        .vni = atomic_load_explicit(&e->vni, memory_order_relaxed),
        .port_id = atomic_load_explicit(&e->port_id, memory_order_relaxed),
        /* A worker's clock may run a little ahead of the caller's. */
        .age_sec = age_ms > 0 ? age_ms / 1000 : 0,
    };
    for (int i = 0; i < 6; i++) {
        info.mac[i] = key >> (40 - 8 * i);
    }
    vsw_ctable_dump_offer(&ctx->dump, &info);
    return false;
}

/* The dump is taken bucket chunk by bucket chunk, so it is not one
 * snapshot: an entry learned or removed meanwhile may or may not be in
 * it, but no key appears twice. */
size_t
vsw_fdb_dump(struct vsw_fdb *fdb, struct vsw_fdb_entry_info *out, size_t max,
             int64_t now_ms)
{
    struct fdb_dump_ctx ctx = {
        .dump = {out, max, sizeof *out, 0, fdb_info_compare},
        .age = {now_ms, fdb_ageing_ms(fdb)},
    };

    vsw_ctable_sweep(&fdb->table, fdb_visit_dump, &ctx);
    return vsw_ctable_dump_finish(&ctx.dump);
}

uint64_t
vsw_fdb_generation(const struct vsw_fdb *fdb)
{
    return vsw_ctable_generation(&fdb->table);
}
