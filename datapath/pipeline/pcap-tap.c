#include "pcap-tap.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* What precedes each frame in a ring.  Records are 8-byte aligned and
 * never wrap: one that would is preceded by a padding record to the
 * ring's end (only 'rec_len' and 'cap_len' written). */
struct ring_record {
    uint32_t rec_len;  /* bytes of the record, this header included,
                          a multiple of 8 */
    uint32_t cap_len;  /* bytes of frame that follow, or RECORD_PAD */
    uint64_t ts_ns;    /* CLOCK_REALTIME at the copy */
    uint32_t wire_len; /* bytes the frame had */
    uint32_t port_id;  /* port it was seen on */
    uint8_t direction; /* VSW_PCAP_DIR_* */
    uint8_t unused[7]; /* keeps the frame 8-byte aligned */
};

#define RECORD_PAD UINT32_MAX

/* One producer (a worker), one consumer (the control thread).
 * 'head' - 'tail' bytes are in use; both only grow. */
struct ring {
    _Atomic uint64_t head __attribute__((aligned(64))); /* bytes produced
                                                           (producer) */
    _Atomic uint64_t copied;                            /* frames copied
                                                           (producer) */
    _Atomic uint64_t drops;                             /* frames with no
                                                           room (producer) */
    _Atomic uint64_t tail __attribute__((aligned(64))); /* bytes consumed
                                                           (consumer) */
    uint8_t *buf;                                       /* 'size' bytes */
};

struct vsw_pcap_session {
    uint32_t snaplen;          /* bytes kept of a frame at most */
    struct bpf_program filter; /* bf_insns NULL: every frame */
    size_t size;               /* bytes of each ring, a multiple of 8 */
    int held_ring;             /* ring of the record the consumer holds,
                                  or -1 */
    uint32_t held_len;         /* its bytes, released at the next read */
    unsigned n_rings;          /* entries in 'rings' */
    struct ring rings[];       /* one per forwarding thread */
};

int
vsw_pcap_session_create(unsigned n_rings, size_t ring_bytes, uint32_t snaplen,
                        struct bpf_program *filter,
                        struct vsw_pcap_session **sessionp)
{
    struct vsw_pcap_session *s;
    size_t bytes = sizeof *s + n_rings * sizeof s->rings[0];

    if (!n_rings || ring_bytes < VSW_PCAP_RING_MIN ||
        ring_bytes > VSW_PCAP_RING_MAX || !snaplen) {
        return -EINVAL;
    }
    s = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (!s) {
        return -ENOMEM;
    }
    memset(s, 0, bytes);
    s->snaplen = snaplen;
    s->size = ring_bytes & ~(size_t)7;
    s->held_ring = -1;
    s->n_rings = n_rings;
    for (unsigned i = 0; i < n_rings; i++) {
        s->rings[i].buf = malloc(s->size);
        if (!s->rings[i].buf) {
            vsw_pcap_session_destroy(s);
            return -ENOMEM;
        }
    }
    if (filter) {
        s->filter = *filter;
        filter->bf_insns = NULL;
        filter->bf_len = 0;
    }
    *sessionp = s;
    return 0;
}

void
vsw_pcap_session_destroy(struct vsw_pcap_session *s)
{
    if (!s) {
        return;
    }
    for (unsigned i = 0; i < s->n_rings; i++) {
        free(s->rings[i].buf);
    }
    if (s->filter.bf_insns) {
        pcap_freecode(&s->filter);
    }
    free(s);
}

/* Producer: appends a frame of 'cap_len' bytes at 'data' to 'ring' of
 * 's', or counts a drop if it has no room.  Never waits. */
static void
ring_push(const struct vsw_pcap_session *s, struct ring *ring,
          const struct ring_record *rec, const uint8_t *data)
{
    uint32_t need = (uint32_t)((sizeof *rec + rec->cap_len + 7) & ~7u);
    uint64_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&ring->tail, memory_order_acquire);
    size_t pos = head % s->size;
    size_t to_end = s->size - pos;
    size_t total = need + (to_end < need ? to_end : 0);
    struct ring_record *out;

    if (total > s->size - (head - tail)) {
        atomic_store_explicit(
            &ring->drops,
            atomic_load_explicit(&ring->drops, memory_order_relaxed) + 1,
            memory_order_relaxed);
        return;
    }
    if (to_end < need) {
        struct ring_record *pad = (struct ring_record *)(ring->buf + pos);

        pad->rec_len = (uint32_t)to_end;
        pad->cap_len = RECORD_PAD;
        head += to_end;
        pos = 0;
    }
    out = (struct ring_record *)(ring->buf + pos);
    *out = *rec;
    out->rec_len = need;
    memcpy(out + 1, data, rec->cap_len);
    atomic_store_explicit(&ring->head, head + need, memory_order_release);
    atomic_store_explicit(
        &ring->copied,
        atomic_load_explicit(&ring->copied, memory_order_relaxed) + 1,
        memory_order_relaxed);
}

static uint64_t
realtime_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Offers the frame of 'wire_len' bytes, of which the 'len' at 'data' are
 * at hand, to every tap of 'taps' in 'direction'. */
static void
tap_frame(const struct vsw_pcap_taps *taps, unsigned ring, uint32_t port_id,
          uint8_t direction, const uint8_t *data, uint32_t len,
          uint32_t wire_len)
{
    struct ring_record rec = {
        .wire_len = wire_len,
        .port_id = port_id,
        .direction = direction,
    };

    for (unsigned i = 0; i < taps->n; i++) {
        struct vsw_pcap_session *s = taps->tap[i].session;

        if (!(taps->tap[i].directions & direction)) {
            continue;
        }
        /* bpf_filter() is libpcap's interpreter: no allocation, no
         * state, safe on any thread. */
        if (s->filter.bf_insns &&
            !bpf_filter(s->filter.bf_insns, data, wire_len, len)) {
            continue;
        }
        if (!rec.ts_ns) {
            rec.ts_ns = realtime_ns();
        }
        rec.cap_len = len < s->snaplen ? len : s->snaplen;
        ring_push(s, &s->rings[ring], &rec, data);
    }
}

void
vsw_pcap_tap_rx(const struct vsw_pcap_taps *taps, unsigned ring,
                uint32_t port_id, struct vsw_packet *const pkts[], int n)
{
    if (!(taps->directions & VSW_PCAP_DIR_OUT)) {
        return;
    }
    for (int i = 0; i < n; i++) {
        tap_frame(taps, ring, port_id, VSW_PCAP_DIR_OUT, pkts[i]->data,
                  pkts[i]->len, pkts[i]->len);
    }
}

void
vsw_pcap_tap_tx(const struct vsw_pcap_taps *taps, unsigned ring,
                uint32_t port_id, const struct vsw_tx_item *items, int n,
                uint8_t *linear)
{
    if (!(taps->directions & VSW_PCAP_DIR_IN)) {
        return;
    }
    for (int i = 0; i < n; i++) {
        const struct vsw_packet *pkt = items[i].pkt;
        struct virtio_net_hdr hdr;
        uint32_t len;

        if (!items[i].push_tag && !pkt->ingress_tag_len) {
            tap_frame(taps, ring, port_id, VSW_PCAP_DIR_IN, pkt->data,
                      pkt->len, pkt->len);
            continue;
        }
        /* Retagged: the filter must see the frame as it left, so it is
         * put together from the pieces the port was given. */
        len = vsw_tx_item_copy(&items[i], &hdr, linear, VSW_PCAP_LINEAR_BYTES);
        tap_frame(taps, ring, port_id, VSW_PCAP_DIR_IN, linear, len,
                  vsw_tx_item_len(&items[i]));
    }
}

/* Consumer: releases the record held since the last read. */
static void
release_held(struct vsw_pcap_session *s)
{
    if (s->held_ring >= 0) {
        struct ring *ring = &s->rings[s->held_ring];
        uint64_t tail =
            atomic_load_explicit(&ring->tail, memory_order_relaxed);

        atomic_store_explicit(&ring->tail, tail + s->held_len,
                              memory_order_release);
        s->held_ring = -1;
    }
}

/* Consumer: the first frame record of 'ring', skipping padding, or NULL
 * if it is empty. */
static const struct ring_record *
ring_peek(const struct vsw_pcap_session *s, struct ring *ring)
{
    uint64_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    uint64_t head = atomic_load_explicit(&ring->head, memory_order_acquire);

    while (tail != head) {
        const struct ring_record *rec =
            (const struct ring_record *)(ring->buf + tail % s->size);

        if (rec->cap_len != RECORD_PAD) {
            return rec;
        }
        tail += rec->rec_len;
        atomic_store_explicit(&ring->tail, tail, memory_order_release);
    }
    return NULL;
}

bool
vsw_pcap_session_next(struct vsw_pcap_session *s,
                      struct vsw_pcap_record *record)
{
    const struct ring_record *best = NULL;
    int best_ring = -1;

    release_held(s);
    /* The oldest of the rings' first frames, so the file is in time
     * order across workers. */
    for (unsigned i = 0; i < s->n_rings; i++) {
        const struct ring_record *rec = ring_peek(s, &s->rings[i]);

        if (rec && (!best || rec->ts_ns < best->ts_ns)) {
            best = rec;
            best_ring = (int)i;
        }
    }
    if (!best) {
        return false;
    }
    s->held_ring = best_ring;
    s->held_len = best->rec_len;
    record->ts_ns = best->ts_ns;
    record->wire_len = best->wire_len;
    record->cap_len = best->cap_len;
    record->port_id = best->port_id;
    record->direction = best->direction;
    record->data = (const uint8_t *)(best + 1);
    return true;
}

uint64_t
vsw_pcap_session_copied(const struct vsw_pcap_session *s)
{
    uint64_t copied = 0;

    for (unsigned i = 0; i < s->n_rings; i++) {
        copied +=
            atomic_load_explicit(&s->rings[i].copied, memory_order_relaxed);
    }
    return copied;
}

void
vsw_pcap_session_usage(const struct vsw_pcap_session *s, uint64_t *used,
                       uint64_t *size)
{
    uint64_t waiting = 0;

    for (unsigned i = 0; i < s->n_rings; i++) {
        /* 'tail' first: the consumer's own, so head - tail never goes
         * below zero when the producer moves on in between. */
        uint64_t tail =
            atomic_load_explicit(&s->rings[i].tail, memory_order_acquire);
        uint64_t head =
            atomic_load_explicit(&s->rings[i].head, memory_order_acquire);

        waiting += head - tail;
    }
    *used = waiting;
    *size = (uint64_t)s->size * s->n_rings;
}

uint64_t
vsw_pcap_session_drops(const struct vsw_pcap_session *s)
{
    uint64_t drops = 0;

    for (unsigned i = 0; i < s->n_rings; i++) {
        drops +=
            atomic_load_explicit(&s->rings[i].drops, memory_order_relaxed);
    }
    return drops;
}
