/*
 * The MAC table (forwarding database) of one switch, keyed by (VNI, VLAN,
 * MAC): a tenant network's VNI is part of the L2 domain (0: none).
 *
 * Threads: any number of datapath workers call vsw_fdb_lookup() and
 * vsw_fdb_learn() concurrently; the control thread calls the rest.
 * Lookups take no lock: entries live in a fixed pool that is never freed
 * while the table exists, every field a reader touches is atomic, and each
 * hash bucket carries a sequence count that a writer makes odd while it
 * changes the bucket, so a reader retries instead of trusting a torn read.
 * Writers (learning of a new or moved MAC, expiry, flushes) serialize on
 * one mutex; refreshing the timestamp of a known MAC on the same port is a
 * relaxed atomic store and takes no lock.
 *
 * Bounds: at most 'max_entries' entries (the switch-wide cap).  When the
 * table is full, the oldest entry of the port that holds the most entries
 * is evicted, so a port flooding random source MACs can only push out its
 * own entries.  A per-port cap, passed on each learn, evicts that port's
 * own oldest entry.  Multicast and broadcast MACs are never learned.
 *
 * Ports are named by a 32-bit port id whose low VSW_FDB_SLOT_BITS bits are
 * the port's slot (a small index the datapath assigns); the table keeps
 * per-slot counts and eviction lists.  The caller flushes a slot with
 * vsw_fdb_flush_port() before reusing it for another port.
 */
#ifndef VSW_FDB_H
#define VSW_FDB_H 1

#include <stddef.h>
#include <stdint.h>

#define VSW_FDB_SLOT_BITS     12
#define VSW_FDB_MAX_SLOTS     (1u << VSW_FDB_SLOT_BITS)
#define VSW_FDB_SLOT(PORT_ID) ((PORT_ID) & (VSW_FDB_MAX_SLOTS - 1))

/* Port id that no port has: "not found". */
#define VSW_FDB_NO_PORT 0u

#define VSW_FDB_DEFAULT_MAX_ENTRIES 65536
#define VSW_FDB_DEFAULT_AGEING_SEC  300

/* What vsw_fdb_learn() did. */
enum vsw_fdb_learn_result {
    VSW_FDB_REFRESHED, /* known on this port: timestamp updated */
    VSW_FDB_LEARNED,   /* new entry */
    VSW_FDB_MOVED,     /* known on another port, now on this one */
    VSW_FDB_IGNORED,   /* multicast, broadcast or zero MAC: not learned */
};

/* One entry as vsw_fdb_dump() reports it. */
struct vsw_fdb_entry_info {
    uint16_t vlan;    /* VLAN id, 0 for untagged */
    uint8_t mac[6];   /* the MAC */
    uint32_t port_id; /* port it was learned on */
    uint32_t age_sec; /* seconds since last seen */
    uint32_t vni;     /* tenant network (VXLAN VNI), 0 for none */
};

struct vsw_fdb;

/* Creates an empty table holding at most 'max_entries' (>= 1) entries,
 * ageing entries out after 'ageing_sec' (>= 1) seconds without traffic.
 * Returns NULL on allocation failure.  The caller owns the result. */
struct vsw_fdb *vsw_fdb_create(uint32_t max_entries, uint32_t ageing_sec);

/* Frees 'fdb'; NULL is allowed.  No other thread may use it any more. */
void vsw_fdb_destroy(struct vsw_fdb *fdb);

/* Changes the ageing time; takes effect on the next lookup. */
void vsw_fdb_set_ageing(struct vsw_fdb *fdb, uint32_t ageing_sec);
uint32_t vsw_fdb_get_ageing(const struct vsw_fdb *fdb);
uint32_t vsw_fdb_get_max_entries(const struct vsw_fdb *fdb);
/* How often a new MAC found the table full and pushed out another port's
 * entry (not counting evictions by the per-port cap).  Any thread. */
uint64_t vsw_fdb_full_count(const struct vsw_fdb *fdb);

/* Worker thread.  Records that 'mac' in 'vlan' was seen on 'port_id' at
 * 'now_ms' (a CLOCK_MONOTONIC time in milliseconds).  'port_limit' is the
 * port's own cap, 0 for none.  Never blocks on the control thread for
 * longer than one bounded expiry step. */
enum vsw_fdb_learn_result
vsw_fdb_learn_vni(struct vsw_fdb *fdb, uint32_t vni, uint16_t vlan,
                  const uint8_t mac[6], uint32_t port_id, uint32_t port_limit,
                  int64_t now_ms);

/* vsw_fdb_learn_vni() outside any tenant network (VNI 0). */
static inline enum vsw_fdb_learn_result
vsw_fdb_learn(struct vsw_fdb *fdb, uint16_t vlan, const uint8_t mac[6],
              uint32_t port_id, uint32_t port_limit, int64_t now_ms)
{
    return vsw_fdb_learn_vni(fdb, 0, vlan, mac, port_id, port_limit, now_ms);
}

/* Worker thread, lock-free.  Returns the port id 'mac' in 'vlan' was
 * learned on, or VSW_FDB_NO_PORT if it is unknown or aged out at
 * 'now_ms'. */
uint32_t vsw_fdb_lookup_vni(const struct vsw_fdb *fdb, uint32_t vni,
                            uint16_t vlan, const uint8_t mac[6],
                            int64_t now_ms);

/* vsw_fdb_lookup_vni() outside any tenant network (VNI 0). */
static inline uint32_t
vsw_fdb_lookup(const struct vsw_fdb *fdb, uint16_t vlan, const uint8_t mac[6],
               int64_t now_ms)
{
    return vsw_fdb_lookup_vni(fdb, 0, vlan, mac, now_ms);
}

/* Any thread.  A number that changes whenever an entry is added, moved to
 * another port or removed: a decision made from lookups done after
 * reading generation G stays right while the generation is still G.  (A
 * timestamp refresh changes nothing.) */
uint64_t vsw_fdb_generation(const struct vsw_fdb *fdb);

/* Control thread.  Removes entries aged out at 'now_ms'.  Returns how many
 * it removed. */
size_t vsw_fdb_expire(struct vsw_fdb *fdb, int64_t now_ms);

/* Control thread.  Removes every entry of the port in slot
 * VSW_FDB_SLOT('port_id') (whatever the rest of their id). */
void vsw_fdb_flush_port(struct vsw_fdb *fdb, uint32_t port_id);

/* Control thread.  Removes every entry. */
void vsw_fdb_flush(struct vsw_fdb *fdb);

/* Number of entries now, and number learned on 'port_id''s slot. */
size_t vsw_fdb_count(const struct vsw_fdb *fdb);
size_t vsw_fdb_count_port(const struct vsw_fdb *fdb, uint32_t port_id);

/* Control thread.  Copies up to 'max' live entries into 'out', sorted by
 * (vlan, mac).  Returns the number copied. */
size_t vsw_fdb_dump(struct vsw_fdb *fdb, struct vsw_fdb_entry_info *out,
                    size_t max, int64_t now_ms);

#endif /* VSW_FDB_H */
