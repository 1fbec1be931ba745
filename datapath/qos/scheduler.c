#include "scheduler.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "datapath.h"
#include "gso.h"
#include "log.h"
#include "netdev.h"
#include "timeutil.h"

/* The pool: small buffers for plain frames, large ones for GSO packets
 * (a large one also serves when the small ones run out). */
#define SMALL_FRAMES     2048
#define SMALL_FRAME_SIZE 2048
#define LARGE_FRAMES     160
#define LARGE_FRAME_SIZE (VSW_PACKET_MAX_FRAME + 4)
#define N_FRAMES         (SMALL_FRAMES + LARGE_FRAMES)

/* Weight mode: the bytes one unit of weight gives per round, two
 * full-sized frames.  Absolute mode: a class's rate over 8 ms. */
#define WEIGHT_QUANTUM 3028
#define QUANTUM_MIN    64
#define QUANTUM_MAX    (4u << 20)
/* A class queue holds about this much of the link, within bounds: deep
 * enough for TCP to fill its share, shallow enough to keep delay low. */
#define QUEUE_MS        50
#define QUEUE_MIN_BYTES (256u << 10)
#define QUEUE_MAX_BYTES (16u << 20)
/* Departures a late wake-up may catch up on, so that the link's time is
 * not lost to the sleep's jitter. */
#define BURST_NS 2000000
/* Frames taken per lock hold and sent with one sendmmsg. */
#define SEND_BATCH 16
#define NO_FRAME   (-1)

/* A frame waiting in a class queue, or a free buffer. */
struct sched_frame {
    int32_t next;               /* next of its queue or free list */
    uint32_t len;               /* bytes of the frame in 'data' */
    uint32_t wire_packets;      /* frames it stands for on the wire */
    uint32_t wire_bytes;        /* their bytes: what it costs the link */
    uint16_t class;             /* queue it is in */
    uint8_t link;               /* link it leaves on (a team's member) */
    bool large;                 /* 'data' holds LARGE_FRAME_SIZE bytes */
    struct virtio_net_hdr vnet; /* offload metadata it leaves with */
    uint8_t *data;              /* its buffer, in the pool's memory */
};

/* A class: one source port, or the default flow.  Members without
 * _Atomic belong to the holder of the mutex; the atomics are written by
 * the holder too (relaxed stores) and read by the control thread. */
struct sched_class {
    int32_t head;                  /* oldest queued frame */
    int32_t tail;                  /* newest */
    int32_t next_active;           /* next class of the active list */
    bool active;                   /* on the active list: has frames */
    bool turn_started;             /* got its quantum this turn */
    int64_t deficit;               /* bytes it may still send */
    uint32_t quantum;              /* bytes added per turn */
    uint64_t window_bytes;         /* sent in the current rate window */
    _Atomic uint32_t owner_id;     /* port whose frames it holds */
    _Atomic uint64_t weight;       /* weight or bit/s last seen */
    _Atomic uint64_t tx_packets;   /* wire frames sent */
    _Atomic uint64_t tx_bytes;     /* their bytes */
    _Atomic uint64_t drops;        /* wire frames refused */
    _Atomic uint64_t queue_frames; /* frames queued */
    _Atomic uint64_t queue_bytes;  /* their wire bytes */
    _Atomic uint64_t rate_bps;     /* over the last window */
};

struct vsw_sched {
    char name[VSW_NAME_MAX];      /* the uplink's port, for logs */
    enum vsw_sched_mode mode;     /* fixed with the switch */
    unsigned n_links;             /* 1, or a team's members */
    int fds[VSW_SCHED_MAX_LINKS]; /* send-only packet sockets, -1
                                     for a link without a device */
    _Atomic uint32_t up_links;    /* links that may carry frames */
    pthread_t thread;             /* dequeues and sends */
    bool threaded;                /* 'thread' runs (not unpaced) */
    pthread_mutex_t mutex;        /* guards queues, pool, classes */
    pthread_cond_t wake;          /* the thread waits here */
    bool stop;                    /* the thread should exit */
    bool idle;                    /* the thread waits for frames */
    int32_t free_small;           /* free list of small buffers */
    int32_t free_large;           /* free list of large buffers */
    int32_t active_head;          /* classes with frames, in turn */
    int32_t active_tail;          /* where a new one goes */
    int64_t next_departure_ns;    /* the link is busy until then */
    int64_t window_start_ns;      /* of the rate window */
    uint64_t window_bytes;        /* sent in it, all classes */
    _Atomic uint64_t link_bps;    /* pacing speed */
    _Atomic uint64_t n_free;      /* buffers free */
    _Atomic uint64_t pool_empty;  /* frames refused: no buffer */
    _Atomic uint64_t tx_packets;  /* wire frames sent */
    _Atomic uint64_t tx_bytes;    /* their bytes */
    _Atomic uint64_t tx_errors;   /* frames the kernel refused */
    _Atomic uint64_t rate_bps;    /* all classes, last window */
    _Atomic uint64_t link_packets[VSW_SCHED_MAX_LINKS]; /* sent per link */
    _Atomic uint64_t link_bytes[VSW_SCHED_MAX_LINKS];   /* their bytes */
    struct vsw_log_ratelimit send_rl;    /* the thread's send errors */
    struct sched_frame frames[N_FRAMES]; /* the pool */
    uint8_t *memory;                     /* their buffers */
    struct sched_class classes[VSW_SCHED_MAX_CLASSES]; /* by index */
};

/* Adds 'n' to a counter written only under the mutex. */
static void
add(_Atomic uint64_t *counter, uint64_t n)
{
    atomic_store_explicit(
        counter, atomic_load_explicit(counter, memory_order_relaxed) + n,
        memory_order_relaxed);
}

static uint64_t
get(const _Atomic uint64_t *counter)
{
    return atomic_load_explicit(counter, memory_order_relaxed);
}

uint32_t
vsw_sched_quantum(enum vsw_sched_mode mode, uint64_t min_bw, uint64_t link_bps)
{
    uint64_t q;

    if (mode == VSW_SCHED_WEIGHT) {
        return (uint32_t)((min_bw ? min_bw : 1) * WEIGHT_QUANTUM);
    }
    /* The default flow is guaranteed a tenth of the link. */
    q = (min_bw ? min_bw : link_bps / 10) / 1000;
    return (uint32_t)(q < QUANTUM_MIN   ? QUANTUM_MIN
                      : q > QUANTUM_MAX ? QUANTUM_MAX
                                        : q);
}

uint64_t
vsw_sched_queue_limit(uint64_t link_bps)
{
    uint64_t bytes = link_bps / 8 * QUEUE_MS / 1000;

    return bytes < QUEUE_MIN_BYTES   ? QUEUE_MIN_BYTES
           : bytes > QUEUE_MAX_BYTES ? QUEUE_MAX_BYTES
                                     : bytes;
}

/* Link time, in ns, of 'bytes' at 'link_bps'. */
static int64_t
transmit_ns(uint64_t bytes, uint64_t link_bps)
{
    return (int64_t)((unsigned __int128)bytes * 8 * 1000000000u / link_bps);
}

static void
free_frame(struct vsw_sched *s, int32_t index)
{
    struct sched_frame *f = &s->frames[index];
    int32_t *list = f->large ? &s->free_large : &s->free_small;

    f->next = *list;
    *list = index;
    add(&s->n_free, 1);
}

/* A free buffer for 'len' bytes, or NO_FRAME. */
static int32_t
alloc_frame(struct vsw_sched *s, uint32_t len)
{
    int32_t *list = len <= SMALL_FRAME_SIZE && s->free_small != NO_FRAME
                        ? &s->free_small
                        : &s->free_large;
    int32_t index = *list;

    if (index == NO_FRAME) {
        return NO_FRAME;
    }
    *list = s->frames[index].next;
    atomic_store_explicit(&s->n_free, get(&s->n_free) - 1,
                          memory_order_relaxed);
    return index;
}

/* The class of a frame from port 'port_id' and its minimum, from the
 * snapshot the frame was forwarded under. */
static unsigned
classify(const struct vsw_dp_snapshot *snap, uint32_t port_id,
         uint64_t *min_bw)
{
    const struct vsw_dp_port *src = snap->by_slot[VSW_FDB_SLOT(port_id)];

    if (port_id && src && src->id == port_id && src->min_bw) {
        *min_bw = src->min_bw;
        return VSW_FDB_SLOT(port_id) + 1;
    }
    *min_bw = 0;
    return VSW_SCHED_DEFAULT_CLASS;
}

/* Makes 'c' the class of 'port_id', starting its figures afresh if it
 * held another port's frames (a slot reused by a new port). */
static void
class_claim(struct sched_class *c, uint32_t port_id)
{
    if (atomic_load_explicit(&c->owner_id, memory_order_relaxed) == port_id) {
        return;
    }
    atomic_store_explicit(&c->owner_id, port_id, memory_order_relaxed);
    atomic_store_explicit(&c->tx_packets, 0, memory_order_relaxed);
    atomic_store_explicit(&c->tx_bytes, 0, memory_order_relaxed);
    atomic_store_explicit(&c->drops, 0, memory_order_relaxed);
    atomic_store_explicit(&c->rate_bps, 0, memory_order_relaxed);
    c->window_bytes = 0;
}

static void
activate(struct vsw_sched *s, unsigned index)
{
    struct sched_class *c = &s->classes[index];

    c->active = true;
    c->turn_started = false;
    c->deficit = 0;
    c->next_active = NO_FRAME;
    if (s->active_head == NO_FRAME) {
        s->active_head = (int32_t)index;
    } else {
        s->classes[s->active_tail].next_active = (int32_t)index;
    }
    s->active_tail = (int32_t)index;
}

/* Copies 'item' as it leaves (tag resolved) into frame 'f'. */
static void
copy_frame(struct sched_frame *f, const struct vsw_tx_item *item)
{
    f->len = vsw_tx_item_copy(item, &f->vnet, f->data,
                              f->large ? LARGE_FRAME_SIZE : SMALL_FRAME_SIZE);
}

void
vsw_sched_enqueue(struct vsw_sched *s, const struct vsw_dp_snapshot *snap,
                  const struct vsw_tx_item *items, int n,
                  struct vsw_sched_result *result)
{
    vsw_sched_enqueue_links(s, snap, items, NULL, n, result);
}

void
vsw_sched_enqueue_links(struct vsw_sched *s,
                        const struct vsw_dp_snapshot *snap,
                        const struct vsw_tx_item *items, const uint8_t *links,
                        int n, struct vsw_sched_result *result)
{
    uint64_t link_bps = get(&s->link_bps);
    uint64_t limit = vsw_sched_queue_limit(link_bps);

    memset(result, 0, sizeof *result);
    pthread_mutex_lock(&s->mutex);
    for (int i = 0; i < n; i++) {
        const struct vsw_packet *pkt = items[i].pkt;
        uint32_t len = vsw_tx_item_len(&items[i]);
        int delta = (int)len - (int)pkt->len;
        uint64_t min_bw, bytes;
        uint32_t segs;
        unsigned index = classify(snap, pkt->in_port_id, &min_bw);
        struct sched_class *c = &s->classes[index];
        struct sched_frame *f;
        int32_t fi;

        if (pkt->vnet.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
            segs = 1;
            bytes = pkt->len;
        } else {
            vsw_gso_wire_size(pkt->data, pkt->len, &pkt->vnet, &segs, &bytes);
        }
        bytes += (int64_t)delta * segs;
        class_claim(c, index ? pkt->in_port_id : 0);
        atomic_store_explicit(&c->weight, min_bw, memory_order_relaxed);
        c->quantum = vsw_sched_quantum(s->mode, min_bw, link_bps);
        fi = NO_FRAME;
        if (get(&c->queue_bytes) + bytes <= limit && len <= LARGE_FRAME_SIZE) {
            fi = alloc_frame(s, len);
            if (fi == NO_FRAME) {
                add(&s->pool_empty, segs);
            }
        }
        if (fi == NO_FRAME) {
            add(&c->drops, segs);
            result->dropped += segs;
            continue;
        }
        f = &s->frames[fi];
        copy_frame(f, &items[i]);
        f->wire_packets = segs;
        f->wire_bytes = (uint32_t)bytes;
        f->class = (uint16_t)index;
        f->link = links && links[i] < s->n_links ? links[i] : 0;
        f->next = NO_FRAME;
        if (c->head == NO_FRAME) {
            c->head = fi;
        } else {
            s->frames[c->tail].next = fi;
        }
        c->tail = fi;
        add(&c->queue_frames, 1);
        add(&c->queue_bytes, bytes);
        if (!c->active) {
            activate(s, index);
        }
        result->packets += segs;
        result->bytes += bytes;
    }
    if (s->idle && s->active_head != NO_FRAME) {
        pthread_cond_signal(&s->wake);
    }
    pthread_mutex_unlock(&s->mutex);
}

/* Moves the class at the head of the active list to its tail. */
static void
rotate(struct vsw_sched *s)
{
    int32_t index = s->active_head;
    struct sched_class *c = &s->classes[index];

    c->turn_started = false;
    if (c->next_active == NO_FRAME) {
        return; /* alone: it stays, and starts a new turn */
    }
    s->active_head = c->next_active;
    c->next_active = NO_FRAME;
    s->classes[s->active_tail].next_active = index;
    s->active_tail = index;
}

/* When a whole round passed without a class affording its next frame
 * (quanta much smaller than frames), gives every class the rounds it
 * would take the first of them to afford one, at once. */
static void
skip_rounds(struct vsw_sched *s)
{
    int64_t rounds = INT64_MAX;

    for (int32_t i = s->active_head; i != NO_FRAME;
         i = s->classes[i].next_active) {
        const struct sched_class *c = &s->classes[i];
        int64_t need = (int64_t)s->frames[c->head].wire_bytes - c->deficit;
        int64_t r = (need + c->quantum - 1) / c->quantum;

        if (r < rounds) {
            rounds = r;
        }
    }
    if (rounds > 1) {
        for (int32_t i = s->active_head; i != NO_FRAME;
             i = s->classes[i].next_active) {
            s->classes[i].deficit +=
                (rounds - 1) * (int64_t)s->classes[i].quantum;
        }
    }
}

/* Takes the next frame in DRR order off its queue, or returns NO_FRAME
 * when none is queued. */
static int32_t
dequeue(struct vsw_sched *s)
{
    unsigned tries = 0;

    while (s->active_head != NO_FRAME) {
        int32_t index = s->active_head;
        struct sched_class *c = &s->classes[index];
        struct sched_frame *f = &s->frames[c->head];
        int32_t fi = c->head;

        if (!c->turn_started) {
            c->deficit += c->quantum;
            c->turn_started = true;
        }
        if (c->deficit < (int64_t)f->wire_bytes) {
            rotate(s);
            if (++tries > 64) {
                skip_rounds(s);
                tries = 0;
            }
            continue;
        }
        c->deficit -= f->wire_bytes;
        c->head = f->next;
        atomic_store_explicit(&c->queue_frames, get(&c->queue_frames) - 1,
                              memory_order_relaxed);
        atomic_store_explicit(&c->queue_bytes,
                              get(&c->queue_bytes) - f->wire_bytes,
                              memory_order_relaxed);
        if (c->head == NO_FRAME) {
            /* Empty: it leaves the list, and keeps no credit. */
            c->active = false;
            c->deficit = 0;
            s->active_head = c->next_active;
            if (s->active_head == NO_FRAME) {
                s->active_tail = NO_FRAME;
            }
        }
        return fi;
    }
    return NO_FRAME;
}

/* Ends the rate window if a second has passed. */
static void
rotate_window(struct vsw_sched *s, int64_t now)
{
    int64_t elapsed = now - s->window_start_ns;

    if (elapsed < 1000000000) {
        return;
    }
    for (unsigned i = 0; i < VSW_SCHED_MAX_CLASSES; i++) {
        struct sched_class *c = &s->classes[i];

        if (c->window_bytes || get(&c->rate_bps)) {
            atomic_store_explicit(
                &c->rate_bps,
                (uint64_t)((unsigned __int128)c->window_bytes * 8 *
                           1000000000u / (uint64_t)elapsed),
                memory_order_relaxed);
            c->window_bytes = 0;
        }
    }
    atomic_store_explicit(&s->rate_bps,
                          (uint64_t)((unsigned __int128)s->window_bytes * 8 *
                                     1000000000u / (uint64_t)elapsed),
                          memory_order_relaxed);
    s->window_bytes = 0;
    s->window_start_ns = now;
}

/* The link frame 'f' leaves on: its own while that may carry frames,
 * else the first that may (a team member failed since the frame was
 * queued: the survivors take what was waiting for it). */
static unsigned
frame_link(const struct vsw_sched *s, const struct sched_frame *f)
{
    uint32_t up = atomic_load_explicit(&s->up_links, memory_order_relaxed);

    if ((up >> f->link) & 1) {
        return f->link;
    }
    for (unsigned l = 0; l < s->n_links; l++) {
        if (((up >> l) & 1) && s->fds[l] >= 0) {
            return l;
        }
    }
    return f->link;
}

/* Sends the 'n' frames of 'batch' (taken off their queues, the mutex not
 * held), consecutive frames for one link in one call, setting each
 * frame's 'link' to the one it took and 'sent[i]' to whether the kernel
 * took it.  Returns the first error, 0 if none. */
static int
send_frames(struct vsw_sched *s, const int32_t *batch, int n, bool *sent)
{
    struct vsw_packet views[SEND_BATCH];
    struct vsw_tx_item items[SEND_BATCH];
    int first_error = 0;

    for (int i = 0; i < n; i++) {
        struct sched_frame *f = &s->frames[batch[i]];

        memset(&views[i], 0, sizeof views[i]);
        views[i].data = f->data;
        views[i].len = f->len;
        views[i].vnet = f->vnet;
        items[i] = (struct vsw_tx_item){.pkt = &views[i]};
        f->link = (uint8_t)frame_link(s, f);
        sent[i] = false;
    }
    for (int i = 0; i < n;) {
        unsigned link = s->frames[batch[i]].link;
        int fd = s->fds[link];
        int run = 1;
        int error = ENETDOWN;
        int ok = 0;

        while (i + run < n && s->frames[batch[i + run]].link == link) {
            run++;
        }
        if (fd >= 0) {
            ok = vsw_netdev_uplink_send(fd, &items[i], run, &error);
        }
        for (int j = 0; j < ok; j++) {
            sent[i + j] = true;
        }
        if (ok < run && !first_error) {
            first_error = error;
        }
        i += run;
    }
    return first_error;
}

/* Counts the 'n' frames of 'batch' (those 'sent' says went out) and
 * gives their buffers back.  Mutex held. */
static void
account_sent(struct vsw_sched *s, const int32_t *batch, int n,
             const bool *sent)
{
    for (int i = 0; i < n; i++) {
        struct sched_frame *f = &s->frames[batch[i]];
        struct sched_class *c = &s->classes[f->class];

        if (sent[i]) {
            add(&c->tx_packets, f->wire_packets);
            add(&c->tx_bytes, f->wire_bytes);
            add(&s->tx_packets, f->wire_packets);
            add(&s->tx_bytes, f->wire_bytes);
            add(&s->link_packets[f->link], f->wire_packets);
            add(&s->link_bytes[f->link], f->wire_bytes);
            c->window_bytes += f->wire_bytes;
            s->window_bytes += f->wire_bytes;
        } else {
            add(&s->tx_errors, f->wire_packets);
        }
        free_frame(s, batch[i]);
    }
}

/* Waits on the condition variable until 'deadline_ns' (monotonic). */
static void
wait_until(struct vsw_sched *s, int64_t deadline_ns)
{
    struct timespec ts = {
        .tv_sec = deadline_ns / 1000000000,
        .tv_nsec = deadline_ns % 1000000000,
    };

    pthread_cond_timedwait(&s->wake, &s->mutex, &ts);
}

static void *
sched_main(void *s_)
{
    struct vsw_sched *s = s_;

    pthread_mutex_lock(&s->mutex);
    while (!s->stop) {
        int64_t now = vsw_time_nsec();
        uint64_t link_bps = get(&s->link_bps);
        int32_t batch[SEND_BATCH];
        bool sent[SEND_BATCH];
        int n = 0;
        int error;

        rotate_window(s, now);
        if (s->active_head == NO_FRAME) {
            /* Idle: woken by the next batch; once a second anyway, so
             * the rates fall to zero. */
            s->idle = true;
            wait_until(s, s->window_start_ns + 1000000000);
            s->idle = false;
            continue;
        }
        if (s->next_departure_ns > now) {
            wait_until(s, s->next_departure_ns);
            continue;
        }
        if (s->next_departure_ns < now - BURST_NS) {
            /* An idle link keeps no credit beyond the burst. */
            s->next_departure_ns = now - BURST_NS;
        }
        while (n < SEND_BATCH && s->next_departure_ns <= now) {
            int32_t fi = dequeue(s);

            if (fi == NO_FRAME) {
                break;
            }
            batch[n++] = fi;
            s->next_departure_ns +=
                transmit_ns(s->frames[fi].wire_bytes, link_bps);
        }
        pthread_mutex_unlock(&s->mutex);
        error = send_frames(s, batch, n, sent);
        if (error) {
            vsw_log_rl(&s->send_rl, VSW_LOG_WARN,
                       "qos scheduler of %s: send: %s", s->name,
                       strerror(error));
        }
        pthread_mutex_lock(&s->mutex);
        account_sent(s, batch, n, sent);
    }
    pthread_mutex_unlock(&s->mutex);
    return NULL;
}

/* Allocates a scheduler with its pool and classes, without thread or
 * sockets (one link, no socket).  Returns NULL on allocation failure. */
static struct vsw_sched *
sched_alloc(enum vsw_sched_mode mode, uint64_t link_bps)
{
    pthread_condattr_t attr;
    struct vsw_sched *s = calloc(1, sizeof *s);

    if (!s) {
        return NULL;
    }
    s->memory = malloc((size_t)SMALL_FRAMES * SMALL_FRAME_SIZE +
                       (size_t)LARGE_FRAMES * LARGE_FRAME_SIZE);
    if (!s->memory) {
        free(s);
        return NULL;
    }
    for (unsigned l = 0; l < VSW_SCHED_MAX_LINKS; l++) {
        s->fds[l] = -1;
    }
    s->n_links = 1;
    atomic_init(&s->up_links, 1);
    s->mode = mode;
    s->send_rl = (struct vsw_log_ratelimit)VSW_LOG_RATELIMIT_INIT(1000, 5);
    atomic_init(&s->link_bps, link_bps);
    s->free_small = s->free_large = NO_FRAME;
    for (int32_t i = N_FRAMES - 1; i >= 0; i--) {
        struct sched_frame *f = &s->frames[i];

        f->large = i >= SMALL_FRAMES;
        f->data = f->large
                      ? s->memory + (size_t)SMALL_FRAMES * SMALL_FRAME_SIZE +
                            (size_t)(i - SMALL_FRAMES) * LARGE_FRAME_SIZE
                      : s->memory + (size_t)i * SMALL_FRAME_SIZE;
        free_frame(s, i);
    }
    for (unsigned i = 0; i < VSW_SCHED_MAX_CLASSES; i++) {
        s->classes[i].head = s->classes[i].tail = NO_FRAME;
        s->classes[i].next_active = NO_FRAME;
    }
    s->active_head = s->active_tail = NO_FRAME;
    s->window_start_ns = vsw_time_nsec();
    pthread_mutex_init(&s->mutex, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &attr);
    pthread_condattr_destroy(&attr);
    return s;
}

/* Frees 's' (its thread stopped) and the frames still queued. */
static void
sched_free(struct vsw_sched *s)
{
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->mutex);
    for (unsigned l = 0; l < VSW_SCHED_MAX_LINKS; l++) {
        if (s->fds[l] >= 0) {
            close(s->fds[l]);
        }
    }
    free(s->memory);
    free(s);
}

int
vsw_sched_create(const char *name, const struct vsw_netdev *netdev,
                 enum vsw_sched_mode mode, uint64_t link_bps,
                 struct vsw_sched **schedp)
{
    return vsw_sched_create_links(name, &netdev, 1, mode, link_bps, schedp);
}

int
vsw_sched_create_links(const char *name,
                       const struct vsw_netdev *const links[],
                       unsigned n_links, enum vsw_sched_mode mode,
                       uint64_t link_bps, struct vsw_sched **schedp)
{
    struct vsw_sched *s;
    uint32_t up = 0;
    int error;

    if (!link_bps || !n_links || n_links > VSW_SCHED_MAX_LINKS) {
        return -EINVAL;
    }
    s = sched_alloc(mode, link_bps);
    if (!s) {
        return -ENOMEM;
    }
    snprintf(s->name, sizeof s->name, "%s", name);
    s->n_links = n_links;
    for (unsigned l = 0; l < n_links; l++) {
        if (!links[l]) {
            continue; /* a team member whose interface is missing */
        }
        s->fds[l] = vsw_netdev_uplink_open_tx(links[l]);
        if (s->fds[l] < 0) {
            error = s->fds[l];
            s->fds[l] = -1;
            sched_free(s);
            return error;
        }
        up |= 1u << l;
    }
    if (!up) {
        sched_free(s);
        return -ENODEV;
    }
    atomic_store_explicit(&s->up_links, up, memory_order_relaxed);
    s->threaded = true;
    error = -pthread_create(&s->thread, NULL, sched_main, s);
    if (error) {
        sched_free(s);
        return error;
    }
    *schedp = s;
    return 0;
}

int
vsw_sched_create_unpaced(enum vsw_sched_mode mode, uint64_t link_bps,
                         struct vsw_sched **schedp)
{
    *schedp = sched_alloc(mode, link_bps);
    return *schedp ? 0 : -ENOMEM;
}

int
vsw_sched_take(struct vsw_sched *s, uint32_t *wire_bytes)
{
    int32_t fi = dequeue(s);
    int class;

    if (fi == NO_FRAME) {
        return -1;
    }
    class = s->frames[fi].class;
    *wire_bytes = s->frames[fi].wire_bytes;
    account_sent(s, &fi, 1, &(bool){true});
    return class;
}

void
vsw_sched_destroy(struct vsw_sched *s)
{
    int32_t batch[SEND_BATCH];
    bool sent[SEND_BATCH];

    if (!s) {
        return;
    }
    if (s->threaded) {
        pthread_mutex_lock(&s->mutex);
        s->stop = true;
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->mutex);
        pthread_join(s->thread, NULL);
    }

    /* Frames the pipeline counted as sent go out, unpaced. */
    for (;;) {
        int n = 0;

        while (n < SEND_BATCH) {
            int32_t fi = dequeue(s);

            if (fi == NO_FRAME) {
                break;
            }
            batch[n++] = fi;
        }
        if (!n) {
            break;
        }
        if (s->threaded) {
            send_frames(s, batch, n, sent);
        } else {
            memset(sent, 0, sizeof sent);
        }
        account_sent(s, batch, n, sent);
    }
    sched_free(s);
}

void
vsw_sched_set_link_speed(struct vsw_sched *s, uint64_t link_bps)
{
    if (link_bps) {
        atomic_store_explicit(&s->link_bps, link_bps, memory_order_relaxed);
    }
}

void
vsw_sched_set_links_up(struct vsw_sched *s, uint32_t up)
{
    uint32_t have = 0;

    for (unsigned l = 0; l < s->n_links; l++) {
        have |= (uint32_t)(s->fds[l] >= 0) << l;
    }
    atomic_store_explicit(&s->up_links, up & have, memory_order_relaxed);
}

void
vsw_sched_link_stats(const struct vsw_sched *s, unsigned link,
                     uint64_t *packets, uint64_t *bytes)
{
    *packets = link < VSW_SCHED_MAX_LINKS ? get(&s->link_packets[link]) : 0;
    *bytes = link < VSW_SCHED_MAX_LINKS ? get(&s->link_bytes[link]) : 0;
}

bool
vsw_sched_class_stats(const struct vsw_sched *s, unsigned index,
                      uint32_t port_id, struct vsw_sched_class_stats *stats)
{
    const struct sched_class *c;

    memset(stats, 0, sizeof *stats);
    stats->port_id = port_id;
    if (index >= VSW_SCHED_MAX_CLASSES) {
        return false;
    }
    c = &s->classes[index];
    if (atomic_load_explicit(&c->owner_id, memory_order_relaxed) != port_id) {
        return false;
    }
    stats->weight = get(&c->weight);
    stats->tx_packets = get(&c->tx_packets);
    stats->tx_bytes = get(&c->tx_bytes);
    stats->drops = get(&c->drops);
    stats->queue_packets = get(&c->queue_frames);
    stats->queue_bytes = get(&c->queue_bytes);
    stats->rate_bps = get(&c->rate_bps);
    return true;
}

void
vsw_sched_get_stats(const struct vsw_sched *s, struct vsw_sched_stats *stats)
{
    stats->link_bps = get(&s->link_bps);
    stats->tx_packets = get(&s->tx_packets);
    stats->tx_bytes = get(&s->tx_bytes);
    stats->tx_errors = get(&s->tx_errors);
    stats->rate_bps = get(&s->rate_bps);
    stats->pool_free = get(&s->n_free);
    stats->pool_size = N_FRAMES;
    stats->pool_empty = get(&s->pool_empty);
    stats->queue_limit = vsw_sched_queue_limit(stats->link_bps);
}
