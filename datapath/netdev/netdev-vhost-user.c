/*
 * vhost-user ports: the backend side of the vhost-user protocol, written
 * natively (no DPDK EAL), in the manner of VPP's vhost_user device.
 *
 * Control thread: the unix socket (listening in server mode, connecting
 * and reconnecting in client mode) and every protocol message run on the
 * daemon's libevent loop.  SET_MEM_TABLE maps the guest's memory from
 * the fds it passes; SET_VRING_* describe the split virtqueues.
 *
 * Workers: each worker queue of the netdev is an epoll fd of its own
 * (queue_fd[q]) holding the kick eventfds of the guest's transmit rings
 * assigned to that worker, plus a "rearm" eventfd.  The worker polls it
 * like a TAP queue (or busy-polls it); 'rx' drains the eventfds and
 * walks the ring.  When it stops with descriptors still waiting (batch
 * limit), it writes the rearm eventfd so that the queue stays readable.
 *
 * Each ring has a spin lock.  A worker takes its receive ring with a
 * trylock (never waits: the control thread holds it only while changing
 * the ring or the memory table) and a guest receive ring with a lock,
 * for one batch, since several workers may send to one guest queue.
 *
 * Everything the guest writes is untrusted: ring indexes, descriptor
 * indexes, lengths, addresses and chain lengths are checked against the
 * ring size and the memory table before any access.  A malformed ring
 * stops the whole port with a named error (vsw_netdev_vhost_user_status)
 * until the frontend reconnects; it never touches memory outside the
 * guest's regions.
 */
#include "netdev-vhost-user.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "packet.h"

/* Protocol (docs.qemu.org, "Vhost-user Protocol"). */
enum {
    VHOST_USER_GET_FEATURES = 1,
    VHOST_USER_SET_FEATURES = 2,
    VHOST_USER_SET_OWNER = 3,
    VHOST_USER_RESET_OWNER = 4,
    VHOST_USER_SET_MEM_TABLE = 5,
    VHOST_USER_SET_LOG_BASE = 6,
    VHOST_USER_SET_LOG_FD = 7,
    VHOST_USER_SET_VRING_NUM = 8,
    VHOST_USER_SET_VRING_ADDR = 9,
    VHOST_USER_SET_VRING_BASE = 10,
    VHOST_USER_GET_VRING_BASE = 11,
    VHOST_USER_SET_VRING_KICK = 12,
    VHOST_USER_SET_VRING_CALL = 13,
    VHOST_USER_SET_VRING_ERR = 14,
    VHOST_USER_GET_PROTOCOL_FEATURES = 15,
    VHOST_USER_SET_PROTOCOL_FEATURES = 16,
    VHOST_USER_GET_QUEUE_NUM = 17,
    VHOST_USER_SET_VRING_ENABLE = 18,
    VHOST_USER_SEND_RARP = 19,
    VHOST_USER_NET_SET_MTU = 20,
};

/* Empty polls of a worker queue before it asks the guest for kicks
 * again and sleeps (rx_rings()). */
#define IDLE_POLLS_BEFORE_SLEEP 8

#define VHOST_USER_VERSION             0x1
#define VHOST_USER_REPLY               0x4
#define VHOST_USER_NEED_REPLY          0x8
#define VHOST_USER_VRING_NOFD          (1ull << 8)
#define VHOST_USER_MAX_REGIONS         8
#define VHOST_USER_MAX_FDS             8
#define VHOST_USER_HDR_SIZE            12
#define VHOST_USER_F_PROTOCOL_FEATURES 30
#define VHOST_F_LOG_ALL                26

#define PROTOCOL_F_MQ        0
#define PROTOCOL_F_LOG_SHMFD 1
#define PROTOCOL_F_REPLY_ACK 3

/* Queue pairs a guest may use; two rings each. */
#define VHOST_MAX_PAIRS     8
#define VHOST_MAX_RINGS     (2 * VHOST_MAX_PAIRS)
#define VHOST_MAX_RING_SIZE 32768
#define LOG_PAGE            4096

#define BIT(n) (1ull << (n))

static const uint64_t supported_features =
    BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) |
    BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6) |
    BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6) |
    BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_NET_F_MQ) |
    BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(VIRTIO_F_VERSION_1) |
    BIT(VHOST_F_LOG_ALL) | BIT(VHOST_USER_F_PROTOCOL_FEATURES);

static const uint64_t supported_protocol_features =
    BIT(PROTOCOL_F_MQ) | BIT(PROTOCOL_F_LOG_SHMFD) | BIT(PROTOCOL_F_REPLY_ACK);

struct vhost_msg_state {
    uint32_t index;
    uint32_t num;
};

struct vhost_msg_addr {
    uint32_t index;
    uint32_t flags;
    uint64_t desc;
    uint64_t used;
    uint64_t avail;
    uint64_t log;
};

struct vhost_msg_region {
    uint64_t guest_addr;
    uint64_t size;
    uint64_t user_addr;
    uint64_t mmap_offset;
};

struct vhost_msg_memory {
    uint32_t n_regions;
    uint32_t padding;
    struct vhost_msg_region regions[VHOST_USER_MAX_REGIONS];
};

struct vhost_msg_log {
    uint64_t size;
    uint64_t offset;
};

/* A message, header and payload apart (on the wire the payload follows
 * the 12-byte header unaligned; it is copied here). */
struct vhost_msg {
    uint32_t request;
    uint32_t flags;
    uint32_t size;
    union {
        uint64_t u64;
        struct vhost_msg_state state;
        struct vhost_msg_addr addr;
        struct vhost_msg_memory memory;
        struct vhost_msg_log log;
        uint8_t raw[256];
    } payload;
};

/* One mapped region of guest memory. */
struct vhost_region {
    uint64_t guest_addr; /* guest physical start */
    uint64_t user_addr;  /* frontend's virtual start (ring addresses) */
    uint64_t size;
    uint8_t *host; /* where the region starts in the daemon */
    void *map;     /* mmap() result (includes mmap_offset) */
    size_t map_size;
};

struct vhost_mem {
    unsigned n;
    struct vhost_region r[VHOST_USER_MAX_REGIONS];
};

/* One split virtqueue. */
struct vhost_ring {
    pthread_spinlock_t lock; /* see the top of the file */
    bool running;            /* addresses, size and kick are set, and
                                the ring is enabled: workers use it */
    bool enabled;            /* SET_VRING_ENABLE (or no protocol
                                features) */
    bool has_addr;
    uint16_t size;       /* entries (power of 2) */
    uint16_t last_avail; /* next avail entry to take */
    uint16_t last_used;  /* next used entry to fill */
    /* Used entries of the batch in progress, written to the used ring
     * together just before the used index is published: the guest
     * polls that index, whose cache line holds the first entries too,
     * so writing them one by one between the copies made the line move
     * between the two cores once per frame. */
    uint16_t n_shadow;  /* entries in 'shadow' */
    uint16_t shadow_at; /* used index of shadow[0] */
    struct vring_used_elem shadow[64];
    struct vring_desc *desc; /* into guest memory */
    struct vring_avail *avail;
    struct vring_used *used;
    struct vhost_msg_addr addr; /* as the frontend gave them */
    int kick_fd;                /* guest -> switch, or -1 */
    int call_fd;                /* switch -> guest, or -1 */
    int err_fd;
    unsigned queue; /* worker queue (transmit rings) */
};

struct vhost_user {
    struct vsw_netdev up;
    char name[64];
    char path[108];
    bool client;
    gid_t group;
    bool has_group;
    struct event_base *base;

    int listen_fd; /* server mode, or -1 */
    int conn_fd;   /* the frontend's connection, or -1 */
    struct event *listen_event;
    struct event *conn_event;
    struct event *retry_timer; /* client mode: reconnect */

    /* Message being received (non-blocking, possibly in pieces): header
     * and payload as on the wire. */
    uint8_t msg_buf[VHOST_USER_HDR_SIZE + sizeof(struct vhost_msg) - 12];
    uint32_t msg_size; /* payload size, once the header is in */
    size_t msg_len;
    int msg_fds[VHOST_USER_MAX_FDS];
    int n_msg_fds;

    uint64_t features;
    uint64_t protocol_features;
    uint32_t hdr_len; /* virtio-net header the guest uses */
    struct vhost_mem mem;
    uint8_t *log_base; /* dirty log (live migration), or NULL */
    size_t log_size;
    void *log_map;
    size_t log_map_size;

    struct vhost_ring rings[VHOST_MAX_RINGS];
    atomic_uint n_rx_pairs; /* guest receive rings running */
    int rearm_fd[VSW_NETDEV_MAX_QUEUES];
    bool rearm_set[VSW_NETDEV_MAX_QUEUES];          /* we left rearm_fd[q]
                                                       signalled (rearm()) */
    uint8_t idle_polls[VSW_NETDEV_MAX_QUEUES];      /* empty polls in a row,
                                                       up to
                                                       IDLE_POLLS_BEFORE_SLEEP */
    atomic_bool direct_poll[VSW_NETDEV_MAX_QUEUES]; /* a busy-polling
                                                       worker calls rx every
                                                       turn: no kicks, no
                                                       rearm */

    atomic_uint_fast64_t rx_invalid; /* frames of the guest not taken:
                                        too long, bad virtio-net header */
    atomic_int broken;               /* a malformed ring stopped the port:
                                        BROKEN_* */
    char error[128];                 /* why; written once, before 'broken'
                                        becomes BROKEN_SHOWN */
};

/* Where a worker is in a guest's memory (see on_sigbus()). */
struct guest_access {
    sigjmp_buf jump;                    /* back to vhost_user_rx/tx */
    struct vhost_ring *volatile locked; /* ring whose lock is held */
    volatile int n;                     /* frames done before this one */
};

static _Thread_local struct guest_access *volatile guest_access;
static pthread_once_t sigbus_once = PTHREAD_ONCE_INIT;

static const struct vsw_netdev_class vhost_user_class;

static struct vhost_user *
vhost_user_cast(const struct vsw_netdev *netdev)
{
    return (struct vhost_user *)netdev;
}

bool
vsw_netdev_is_vhost_user(const struct vsw_netdev *netdev)
{
    return netdev->class == &vhost_user_class;
}

/* ---- Guest memory ---- */

/* True if [addr, addr + len) lies wholly in [base, base + size), checked
 * without overflow (every value comes from the guest). */
static bool
range_inside(uint64_t base, uint64_t size, uint64_t addr, uint64_t len)
{
    return addr >= base && addr - base < size && len <= size - (addr - base);
}

/* Translates the guest physical range [gpa, gpa + len) into a pointer,
 * or NULL if it is not wholly inside one region. */
static void *
gpa_to_host(const struct vhost_mem *mem, uint64_t gpa, uint64_t len)
{
    for (unsigned i = 0; i < mem->n; i++) {
        const struct vhost_region *r = &mem->r[i];

        if (range_inside(r->guest_addr, r->size, gpa, len)) {
            return r->host + (gpa - r->guest_addr);
        }
    }
    return NULL;
}

/* The same for the frontend's virtual addresses (ring addresses). */
static void *
uva_to_host(const struct vhost_mem *mem, uint64_t uva, uint64_t len)
{
    for (unsigned i = 0; i < mem->n; i++) {
        const struct vhost_region *r = &mem->r[i];

        if (range_inside(r->user_addr, r->size, uva, len)) {
            return r->host + (uva - r->user_addr);
        }
    }
    return NULL;
}

static void
mem_unmap(struct vhost_mem *mem)
{
    for (unsigned i = 0; i < mem->n; i++) {
        munmap(mem->r[i].map, mem->r[i].map_size);
    }
    mem->n = 0;
}

/* Marks guest physical [gpa, gpa + len) dirty for live migration. */
static void
log_write(struct vhost_user *vu, uint64_t gpa, uint64_t len)
{
    if (!vu->log_base || !(vu->features & BIT(VHOST_F_LOG_ALL)) || !len) {
        return;
    }
    for (uint64_t page = gpa / LOG_PAGE; page <= (gpa + len - 1) / LOG_PAGE;
         page++) {
        if (page / 8 >= vu->log_size) {
            return;
        }
        __atomic_fetch_or(&vu->log_base[page / 8], (uint8_t)(1u << (page % 8)),
                          __ATOMIC_RELAXED);
    }
}

/* Logs a write into the used ring of 'ring' at byte 'offset'. */
static void
log_used(struct vhost_user *vu, const struct vhost_ring *ring, uint64_t offset,
         uint64_t len)
{
    if (ring->addr.flags & (1u << 0) /* VHOST_VRING_F_LOG */) {
        log_write(vu, ring->addr.log + offset, len);
    }
}

/* ---- Port errors ---- */

enum {
    BROKEN_NO,      /* working */
    BROKEN_WRITING, /* a worker is writing the error */
    BROKEN_SHOWN,   /* stopped; 'error' says why */
};

/* Stops the port (until the frontend reconnects): a worker found the
 * guest's ring malformed.  The first one to get here writes the error;
 * from then on the workers only drain the kicks of the port's rings. */
static void
vhost_user_break(struct vhost_user *vu, const char *format, ...)
{
    int expected = BROKEN_NO;

    if (atomic_compare_exchange_strong(&vu->broken, &expected,
                                       BROKEN_WRITING)) {
        va_list args;

        va_start(args, format);
        vsnprintf(vu->error, sizeof vu->error, format, args);
        va_end(args);
        atomic_store_explicit(&vu->broken, BROKEN_SHOWN, memory_order_release);
    }
}

static bool
vhost_user_is_broken(const struct vhost_user *vu)
{
    return atomic_load_explicit(&vu->broken, memory_order_acquire) !=
           BROKEN_NO;
}

/* ---- Rings (workers) ---- */

static void
drain_eventfd(int fd)
{
    uint64_t value;

    if (fd >= 0 && read(fd, &value, sizeof value) < 0) {
        /* EAGAIN: nothing was signalled. */
    }
}

static uint16_t
avail_idx(const struct vhost_ring *ring)
{
    return atomic_load_explicit((_Atomic uint16_t *)&ring->avail->idx,
                                memory_order_acquire);
}

/* Where the guest wants the next interrupt (EVENT_IDX): used_event is
 * the entry after the avail ring; avail_event the one after used. */
static uint16_t *
used_event_ptr(const struct vhost_ring *ring)
{
    return &ring->avail->ring[ring->size];
}

static uint16_t *
avail_event_ptr(const struct vhost_ring *ring)
{
    return (uint16_t *)&ring->used->ring[ring->size];
}

/* Writes the batch's used entries kept in 'ring->shadow' to the used
 * ring. */
static void
ring_flush_used(struct vhost_user *vu, struct vhost_ring *ring)
{
    for (uint16_t i = 0; i < ring->n_shadow; i++) {
        uint16_t slot = (uint16_t)(ring->shadow_at + i) & (ring->size - 1);

        ring->used->ring[slot] = ring->shadow[i];
        log_used(vu, ring,
                 offsetof(struct vring_used, ring) +
                     slot * sizeof(struct vring_used_elem),
                 sizeof(struct vring_used_elem));
    }
    ring->n_shadow = 0;
}

/* Publishes used entries up to 'ring->last_used' and signals the guest if
 * it asked to be, 'old' being the used index before this batch. */
static void
ring_publish_used(struct vhost_user *vu, struct vhost_ring *ring, uint16_t old)
{
    bool notify;

    ring_flush_used(vu, ring);
    if (ring->last_used == old) {
        /* Nothing consumed: no write to guest memory (nor to the dirty
         * log), no signal. */
        return;
    }
    atomic_store_explicit((_Atomic uint16_t *)&ring->used->idx,
                          ring->last_used, memory_order_release);
    log_used(vu, ring, offsetof(struct vring_used, idx), sizeof(uint16_t));
    atomic_thread_fence(memory_order_seq_cst);
    if (vu->features & BIT(VIRTIO_RING_F_EVENT_IDX)) {
        uint16_t event = *(volatile uint16_t *)used_event_ptr(ring);

        notify = (uint16_t)(ring->last_used - event - 1) <
                 (uint16_t)(ring->last_used - old);
    } else {
        notify = !(*(volatile uint16_t *)&ring->avail->flags &
                   VRING_AVAIL_F_NO_INTERRUPT);
    }
    if (notify && ring->call_fd >= 0 && ring->last_used != old) {
        uint64_t one = 1;

        if (write(ring->call_fd, &one, sizeof one) < 0) {
            /* The counter is saturated: the guest has signals waiting. */
        }
    }
}

/* Adds a used entry for chain 'head' with 'len' bytes written (to the
 * shadow entries; ring_publish_used() writes them out). */
static void
ring_add_used(struct vhost_user *vu, struct vhost_ring *ring, uint16_t head,
              uint32_t len)
{
    if (ring->n_shadow == sizeof ring->shadow / sizeof ring->shadow[0]) {
        ring_flush_used(vu, ring);
    }
    if (!ring->n_shadow) {
        ring->shadow_at = ring->last_used;
    }
    ring->shadow[ring->n_shadow++] =
        (struct vring_used_elem){.id = head, .len = len};
    ring->last_used++;
}

/* Reads the descriptor 'index' of 'ring' into '*desc' (one read of guest
 * memory) and checks it.  Returns false, with the port stopped, if it is
 * malformed. */
static bool
ring_read_desc(struct vhost_user *vu, const struct vhost_ring *ring,
               unsigned ring_index, uint32_t index, struct vring_desc *desc,
               void **data)
{
    if (index >= ring->size) {
        vhost_user_break(vu,
                         "ring %u: descriptor index %u out of range (size %u)",
                         ring_index, index, ring->size);
        return false;
    }
    {
        /* One read of each field: the guest may change it meanwhile. */
        const volatile struct vring_desc *shared = &ring->desc[index];

        desc->addr = shared->addr;
        desc->len = shared->len;
        desc->flags = shared->flags;
        desc->next = shared->next;
    }
    if (desc->flags & VRING_DESC_F_INDIRECT) {
        vhost_user_break(vu, "ring %u: indirect descriptor (not negotiated)",
                         ring_index);
        return false;
    }
    *data = gpa_to_host(&vu->mem, desc->addr, desc->len);
    if (!*data) {
        vhost_user_break(vu,
                         "ring %u: descriptor %u address 0x%llx+%u outside "
                         "guest memory",
                         ring_index, index, (unsigned long long)desc->addr,
                         desc->len);
        return false;
    }
    return true;
}

/* True if the virtio-net header the guest gave a frame of 'len' bytes
 * asks only for what was negotiated, with offsets inside the frame: the
 * datapath then trusts it as it trusts a TAP's. */
static bool
vnet_is_sane(const struct vhost_user *vu, struct virtio_net_hdr *vnet,
             uint32_t len)
{
    uint8_t gso = vnet->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;

    if (!(vnet->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
        gso == VIRTIO_NET_HDR_GSO_NONE) {
        memset(vnet, 0, sizeof *vnet);
        return true;
    }
    if (!(vu->features & BIT(VIRTIO_NET_F_CSUM)) ||
        !(vnet->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) ||
        (uint32_t)vnet->csum_start + vnet->csum_offset + 2 > len) {
        return false;
    }
    switch (gso) {
    case VIRTIO_NET_HDR_GSO_NONE:
        return true;
    case VIRTIO_NET_HDR_GSO_TCPV4:
        return (vu->features & BIT(VIRTIO_NET_F_HOST_TSO4)) &&
               vnet->gso_size && vnet->hdr_len <= len;
    case VIRTIO_NET_HDR_GSO_TCPV6:
        return (vu->features & BIT(VIRTIO_NET_F_HOST_TSO6)) &&
               vnet->gso_size && vnet->hdr_len <= len;
    default:
        return false;
    }
}

/* Prefetching: while a worker copies one frame, the guest's next
 * descriptors and buffers (written by the guest's core, so cold in this
 * one) are brought in.  Entry 'pos' + 2 of the avail ring gets its
 * descriptor prefetched, entry 'pos' + 1 (whose descriptor the previous
 * round prefetched) its first buffer.  Guest values here are only hints:
 * the descriptor index is checked against the ring, the buffer address
 * goes through the memory table, and a prefetch never faults; the copy
 * itself reads and checks everything again. */
static const volatile struct vring_desc *
ring_peek_desc(const struct vhost_ring *ring, uint16_t pos)
{
    uint16_t head =
        *(volatile uint16_t *)&ring->avail->ring[pos & (ring->size - 1)];

    return head < ring->size ? &ring->desc[head] : NULL;
}

static void
ring_prefetch_ahead(const struct vhost_user *vu, const struct vhost_ring *ring,
                    uint16_t avail, bool for_write)
{
    uint16_t waiting = (uint16_t)(avail - ring->last_avail);
    const volatile struct vring_desc *desc;

    if (waiting > 2 && (desc = ring_peek_desc(ring, ring->last_avail + 2))) {
        __builtin_prefetch((const void *)desc);
    }
    if (waiting > 1 && (desc = ring_peek_desc(ring, ring->last_avail + 1))) {
        uint64_t addr = desc->addr;
        uint32_t len = desc->len;
        const void *data = gpa_to_host(&vu->mem, addr, len < 64 ? len : 64);

        if (data && for_write) {
            __builtin_prefetch(data, 1);
        } else if (data) {
            __builtin_prefetch(data, 0);
        }
    }
}

/* Reads the chain starting at avail entry 'ring->last_avail' into 'pkt'.
 * Returns 1 if a frame was read, 0 if the chain was dropped (too long a
 * frame), -1 if the ring is malformed. */
static int
ring_read_chain(struct vhost_user *vu, struct vhost_ring *ring,
                unsigned ring_index, uint16_t head, struct vsw_packet *pkt)
{
    uint32_t skip = vu->hdr_len; /* header bytes still to read */
    uint32_t hdr_got = 0;
    uint8_t hdr[sizeof(struct virtio_net_hdr_mrg_rxbuf)];
    uint32_t len = 0;
    bool too_long = false;
    uint32_t index = head;

    for (unsigned n = 0;; n++) {
        struct vring_desc desc;
        void *data;
        const uint8_t *p;
        uint32_t left;

        if (n >= ring->size) {
            vhost_user_break(vu, "ring %u: descriptor chain loops (head %u)",
                             ring_index, head);
            return -1;
        }
        if (!ring_read_desc(vu, ring, ring_index, index, &desc, &data)) {
            return -1;
        }
        p = data;
        left = desc.len;
        if (skip) {
            uint32_t take = left < skip ? left : skip;

            memcpy(hdr + hdr_got, p, take);
            hdr_got += take;
            skip -= take;
            p += take;
            left -= take;
        }
        if (left) {
            if (left > vu->up.max_frame - len) {
                too_long = true;
            } else {
                memcpy(pkt->data + len, p, left);
                len += left;
            }
        }
        if (!(desc.flags & VRING_DESC_F_NEXT)) {
            break;
        }
        index = desc.next;
    }
    if (too_long || hdr_got < vu->hdr_len || len < 14) {
        return 0;
    }
    memcpy(&pkt->vnet, hdr, sizeof pkt->vnet);
    pkt->len = len;
    return vnet_is_sane(vu, &pkt->vnet, len) ? 1 : 0;
}

static void ring_set_no_notify(struct vhost_user *vu, struct vhost_ring *ring,
                               bool set);

/* The guest's transmit ring 'ring' is empty: asks the guest to kick
 * for what it adds next.  The kick eventfd is drained first, so a kick
 * after this stays pending and wakes the worker; the caller then looks
 * at the avail index once more, since the guest may have added entries
 * before it saw avail_event. */
static void
ring_await_kick(struct vhost_user *vu, struct vhost_ring *ring)
{
    drain_eventfd(ring->kick_fd);
    if (vu->features & BIT(VIRTIO_RING_F_EVENT_IDX)) {
        if (*(volatile uint16_t *)avail_event_ptr(ring) != ring->last_avail) {
            *(volatile uint16_t *)avail_event_ptr(ring) = ring->last_avail;
            log_used(vu, ring,
                     offsetof(struct vring_used, ring) +
                         ring->size * sizeof(struct vring_used_elem),
                     sizeof(uint16_t));
        }
    } else {
        ring_set_no_notify(vu, ring, false);
    }
    atomic_thread_fence(memory_order_seq_cst);
}

/* Without EVENT_IDX, a busy guest transmit ring is told not to kick
 * (VRING_USED_F_NO_NOTIFY) until it runs empty: a guest that checks the
 * flag (DPDK's virtio driver does) saves a syscall per burst. */
static void
ring_set_no_notify(struct vhost_user *vu, struct vhost_ring *ring, bool set)
{
    volatile uint16_t *flags = &ring->used->flags;
    uint16_t want = set ? (uint16_t)(*flags | VRING_USED_F_NO_NOTIFY)
                        : (uint16_t)(*flags & ~VRING_USED_F_NO_NOTIFY);

    if (*flags != want) {
        *flags = want;
        log_used(vu, ring, offsetof(struct vring_used, flags),
                 sizeof(uint16_t));
    }
}

/* Keeps worker queue 'queue' readable while its rings have work ('more')
 * and lets it go quiet once they have none.  While a queue stays busy,
 * the rearm eventfd stays signalled: no write and read of it per batch,
 * only at the edges between busy and idle.  Only the worker polling the
 * queue calls this; the control thread's writes (ring_update()) are
 * drained on the next idle call. */
static void
rearm(struct vhost_user *vu, unsigned queue, bool more)
{
    uint64_t one = 1;

    if (!more) {
        drain_eventfd(vu->rearm_fd[queue]);
        vu->rearm_set[queue] = false;
    } else if (!vu->rearm_set[queue]) {
        if (write(vu->rearm_fd[queue], &one, sizeof one) < 0) {
            /* Already signalled. */
        }
        vu->rearm_set[queue] = true;
    }
}

static int
rx_rings(struct vhost_user *vu, unsigned queue, struct vsw_packet *pkts[],
         int max, struct guest_access *access)
{
    struct vsw_netdev *netdev = &vu->up;
    bool direct =
        atomic_load_explicit(&vu->direct_poll[queue], memory_order_relaxed);
    bool settle = !direct && vu->idle_polls[queue] >= IDLE_POLLS_BEFORE_SLEEP;
    bool more = false;
    int n = 0;

    if (vhost_user_is_broken(vu) && direct) {
        /* Nobody waits on the eventfds: let the kicks be. */
        return 0;
    }
    if (vhost_user_is_broken(vu)) {
        /* Stopped: swallow the guest's kicks so they do not keep the
         * worker awake. */
        drain_eventfd(vu->rearm_fd[queue]);
        vu->rearm_set[queue] = false;
        for (unsigned pair = queue; pair < VHOST_MAX_PAIRS;
             pair += netdev->n_queues) {
            struct vhost_ring *ring = &vu->rings[2 * pair + 1];

            if (!pthread_spin_trylock(&ring->lock)) {
                drain_eventfd(ring->kick_fd);
                pthread_spin_unlock(&ring->lock);
            }
        }
        return 0;
    }
    for (unsigned pair = queue; pair < VHOST_MAX_PAIRS && n < max;
         pair += netdev->n_queues) {
        unsigned ring_index = 2 * pair + 1;
        struct vhost_ring *ring = &vu->rings[ring_index];
        uint16_t old_used;
        uint16_t avail;
        bool busy;

        if (pthread_spin_trylock(&ring->lock)) {
            more = true;
            continue;
        }
        access->locked = ring;
        if (!ring->running || vhost_user_is_broken(vu)) {
            pthread_spin_unlock(&ring->lock);
            continue;
        }
        old_used = ring->last_used;
        avail = avail_idx(ring);
        if ((uint16_t)(avail - ring->last_avail) > ring->size) {
            vhost_user_break(vu, "ring %u: avail index %u runs %u ahead",
                             ring_index, avail,
                             (uint16_t)(avail - ring->last_avail));
            pthread_spin_unlock(&ring->lock);
            return n;
        }
        while (ring->last_avail != avail && n < max) {
            uint16_t head = *(volatile uint16_t *)&ring->avail
                                 ->ring[ring->last_avail & (ring->size - 1)];
            int r;

            ring_prefetch_ahead(vu, ring, avail, false);
            access->n = n;
            r = ring_read_chain(vu, ring, ring_index, head, pkts[n]);

            if (r < 0) {
                pthread_spin_unlock(&ring->lock);
                return n;
            }
            ring->last_avail++;
            ring_add_used(vu, ring, head, 0);
            if (!r) {
                atomic_fetch_add_explicit(&vu->rx_invalid, 1,
                                          memory_order_relaxed);
            }
            n += r;
        }
        ring_publish_used(vu, ring, old_used);
        busy = ring->last_avail != avail || avail_idx(ring) != avail;
        if (busy || direct) {
            /* Still busy, or polled every turn anyway: we come back
             * without a kick, so the guest need not make one.  With
             * EVENT_IDX, avail_event stays behind what the guest adds
             * (or where the ring last slept, which the guest passes
             * once) and it does not kick; earlier kicks stay in the
             * eventfd, harmless. */
            more = more || busy;
            if (!(vu->features & BIT(VIRTIO_RING_F_EVENT_IDX))) {
                ring_set_no_notify(vu, ring, true);
            }
        } else if (settle) {
            ring_await_kick(vu, ring);
            if (avail_idx(ring) != ring->last_avail) {
                more = true;
            }
        }
        pthread_spin_unlock(&ring->lock);
    }
    /* A queue that just ran dry is likely to get frames again at once:
     * it stays awake (rearm signalled, kicks suppressed) for a few empty
     * polls before it asks for kicks and sleeps, so that a stream with
     * short gaps costs no syscalls at all.  Rings the batch limit kept us
     * from visiting may be busy with their kicks suppressed: come back
     * for them too. */
    if (direct) {
        return n;
    }
    if (more || n) {
        vu->idle_polls[queue] = 0;
    } else if (!settle) {
        vu->idle_polls[queue]++;
    }
    rearm(vu, queue, more || n >= max || !settle);
    return n;
}

/* Takes one descriptor chain of the guest receive ring 'ring' and
 * reports its writable buffers: up to 'max' of them in 'bufs'/'lens'.
 * Returns the number of buffers, or -1 if the ring is malformed. */
static int
ring_take_rx_chain(struct vhost_user *vu, struct vhost_ring *ring,
                   unsigned ring_index, uint16_t head, uint8_t **bufs,
                   uint32_t *lens, uint64_t *gpas, int max)
{
    uint32_t index = head;
    int n = 0;

    for (unsigned hops = 0;; hops++) {
        struct vring_desc desc;
        void *data;

        if (hops >= ring->size) {
            vhost_user_break(vu, "ring %u: descriptor chain loops (head %u)",
                             ring_index, head);
            return -1;
        }
        if (!ring_read_desc(vu, ring, ring_index, index, &desc, &data)) {
            return -1;
        }
        if (!(desc.flags & VRING_DESC_F_WRITE)) {
            vhost_user_break(vu,
                             "ring %u: read-only descriptor %u in a receive "
                             "ring",
                             ring_index, index);
            return -1;
        }
        if (n < max && desc.len) {
            bufs[n] = data;
            lens[n] = desc.len;
            gpas[n] = desc.addr;
            n++;
        }
        if (!(desc.flags & VRING_DESC_F_NEXT)) {
            return n;
        }
        index = desc.next;
    }
}

#define RX_MAX_BUFS 64

/* Copies one frame into the guest receive ring.  Returns 1 if sent, 0 if
 * the guest has no room (nothing consumed), -1 if the ring is
 * malformed. */
static int
ring_put_frame(struct vhost_user *vu, struct vhost_ring *ring,
               unsigned ring_index, const struct vsw_tx_item *item,
               uint16_t avail)
{
    struct virtio_net_hdr_mrg_rxbuf hdr;
    struct iovec iov[VSW_TX_IOV_MAX];
    uint8_t tag[4];
    int iovcnt = vsw_tx_item_iov(item, &hdr.hdr, tag, iov);
    bool mergeable = vu->features & BIT(VIRTIO_NET_F_MRG_RXBUF);
    uint32_t total = vu->hdr_len;
    uint32_t copied = 0;
    uint16_t *num_buffers = NULL;
    uint64_t num_buffers_gpa = 0;
    uint16_t n_heads = 0;
    int cur = 0; /* iov entry being copied; 0 = header */
    size_t cur_off = 0;

    if (!(vu->features & BIT(VIRTIO_NET_F_GUEST_CSUM))) {
        /* The pipeline completed checksums for a port without offloads. */
        memset(&hdr.hdr, 0, sizeof hdr.hdr);
    }
    hdr.num_buffers = 1;
    iov[0].iov_base = &hdr;
    iov[0].iov_len = vu->hdr_len;
    for (int i = 1; i < iovcnt; i++) {
        total += (uint32_t)iov[i].iov_len;
    }
    ring_prefetch_ahead(vu, ring, avail, true);
    while (copied < total) {
        uint8_t *bufs[RX_MAX_BUFS];
        uint32_t lens[RX_MAX_BUFS];
        uint64_t gpas[RX_MAX_BUFS];
        uint32_t written = 0;
        uint16_t head;
        int nb;

        if (ring->last_avail == avail || (!mergeable && n_heads)) {
            /* No room: give the taken buffers back (each took one avail
             * and one used entry).  Not by saving both indexes at the
             * start: the compiler read them in one 4-byte load, which
             * the last frame's two 2-byte stores cannot forward to, so
             * every frame waited for the previous one's writes into
             * guest memory to drain (a quarter of the worker's time in
             * the loop benchmark). */
            ring->last_avail -= n_heads;
            ring->last_used -= n_heads;
            ring->n_shadow =
                ring->n_shadow > n_heads ? ring->n_shadow - n_heads : 0;
            return 0;
        }
        head = *(volatile uint16_t *)&ring->avail
                    ->ring[ring->last_avail & (ring->size - 1)];
        nb = ring_take_rx_chain(vu, ring, ring_index, head, bufs, lens, gpas,
                                RX_MAX_BUFS);
        if (nb < 0) {
            return -1;
        }
        ring->last_avail++;
        for (int b = 0; b < nb && copied < total; b++) {
            uint32_t room = lens[b];
            uint8_t *dst = bufs[b];

            if (!num_buffers && copied == 0 && room >= vu->hdr_len &&
                mergeable) {
                num_buffers = (uint16_t *)(dst + 10);
                num_buffers_gpa = gpas[b] + 10;
            }
            while (room && cur < iovcnt) {
                size_t left = iov[cur].iov_len - cur_off;
                size_t take = left < room ? left : room;

                memcpy(dst, (uint8_t *)iov[cur].iov_base + cur_off, take);
                log_write(vu, gpas[b] + (lens[b] - room), take);
                dst += take;
                room -= (uint32_t)take;
                cur_off += take;
                copied += (uint32_t)take;
                written += (uint32_t)take;
                if (cur_off == iov[cur].iov_len) {
                    cur++;
                    cur_off = 0;
                }
            }
        }
        ring_add_used(vu, ring, head, written);
        n_heads++;
    }
    if (mergeable && n_heads > 1) {
        if (!num_buffers) {
            /* The header straddled buffers: too small to be a guest's. */
            vhost_user_break(vu,
                             "ring %u: receive buffer smaller than the "
                             "virtio-net header",
                             ring_index);
            return -1;
        }
        *num_buffers = n_heads;
        log_write(vu, num_buffers_gpa, sizeof *num_buffers);
    }
    return 1;
}

static int
tx_ring(struct vhost_user *vu, unsigned queue, const struct vsw_tx_item *items,
        int n, int *error, struct guest_access *access)
{
    unsigned n_pairs =
        atomic_load_explicit(&vu->n_rx_pairs, memory_order_relaxed);
    unsigned ring_index = 2 * (n_pairs ? queue % n_pairs : 0);
    struct vhost_ring *ring = &vu->rings[ring_index];
    uint16_t old_used;
    uint16_t avail;
    int sent = 0;

    *error = 0;
    if (vhost_user_is_broken(vu)) {
        *error = EIO;
        return 0;
    }
    pthread_spin_lock(&ring->lock);
    access->locked = ring;
    if (!ring->running) {
        pthread_spin_unlock(&ring->lock);
        *error = EIO; /* counted as port-down: the guest's choice */
        return 0;
    }
    old_used = ring->last_used;
    avail = avail_idx(ring);
    if ((uint16_t)(avail - ring->last_avail) > ring->size) {
        vhost_user_break(vu, "ring %u: avail index %u runs %u ahead",
                         ring_index, avail,
                         (uint16_t)(avail - ring->last_avail));
        pthread_spin_unlock(&ring->lock);
        *error = EIO;
        return 0;
    }
    for (; sent < n; sent++) {
        int r;

        access->n = sent;
        r = ring_put_frame(vu, ring, ring_index, &items[sent], avail);

        if (r <= 0) {
            *error = r < 0 ? EIO : ENOBUFS;
            break;
        }
    }
    /* The guest's receive buffers are taken when frames come, never on a
     * kick: avail_event stays where it is (0, passed once per 64 K
     * buffers) and VRING_USED_F_NO_NOTIFY is set (ring_update()). */
    ring_publish_used(vu, ring, old_used);
    pthread_spin_unlock(&ring->lock);
    return sent;
}

/* A guest may shrink the file behind its memory after sharing it: the
 * next access then raises SIGBUS in the worker.  While a worker walks a
 * guest's rings, 'guest_access' points at where to jump back to, so that
 * the fault stops that port (as a malformed ring does) and nothing
 * else. */
static void
on_sigbus(int signo, siginfo_t *info, void *context)
{
    struct guest_access *access = guest_access;

    (void)info;
    (void)context;
    if (access) {
        guest_access = NULL;
        siglongjmp(access->jump, 1);
    }
    /* Not in a guest's memory: what SIGBUS would have done. */
    signal(signo, SIG_DFL);
    raise(signo);
}

static void
install_sigbus_handler(void)
{
    struct sigaction sa = {
        .sa_sigaction = on_sigbus,
        /* No mask to restore after the jump (sigsetjmp(..., 0)). */
        .sa_flags = SA_SIGINFO | SA_NODEFER,
    };

    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, NULL);
}

/* After a SIGBUS in guest memory: stops the port and lets go of the ring
 * the worker held. */
static void
guest_memory_lost(struct vhost_user *vu, struct guest_access *access)
{
    struct vhost_ring *ring = (struct vhost_ring *)access->locked;

    vhost_user_break(vu, "ring %u: guest memory went away (SIGBUS)",
                     ring ? (unsigned)(ring - vu->rings) : 0);
    if (ring) {
        pthread_spin_unlock(&ring->lock);
    }
}

static int
vhost_user_rx(struct vsw_netdev *netdev, unsigned queue,
              struct vsw_packet *pkts[], int max)
{
    struct vhost_user *vu = vhost_user_cast(netdev);
    struct guest_access access = {.locked = NULL, .n = 0};
    int n;

    if (sigsetjmp(access.jump, 0)) {
        guest_memory_lost(vu, &access);
        return access.n;
    }
    guest_access = &access;
    n = rx_rings(vu, queue, pkts, max, &access);
    guest_access = NULL;
    return n;
}

static int
vhost_user_tx(struct vsw_netdev *netdev, unsigned queue,
              const struct vsw_tx_item *items, int n, int *error)
{
    struct vhost_user *vu = vhost_user_cast(netdev);
    struct guest_access access = {.locked = NULL, .n = 0};
    int sent;

    if (sigsetjmp(access.jump, 0)) {
        guest_memory_lost(vu, &access);
        *error = EIO;
        return access.n;
    }
    guest_access = &access;
    sent = tx_ring(vu, queue, items, n, error, &access);
    guest_access = NULL;
    return sent;
}

/* ---- Ring setup (control thread) ---- */

static void
lock_all_rings(struct vhost_user *vu)
{
    for (unsigned i = 0; i < VHOST_MAX_RINGS; i++) {
        pthread_spin_lock(&vu->rings[i].lock);
    }
}

static void
unlock_all_rings(struct vhost_user *vu)
{
    for (unsigned i = 0; i < VHOST_MAX_RINGS; i++) {
        pthread_spin_unlock(&vu->rings[i].lock);
    }
}

static void
count_rx_pairs(struct vhost_user *vu)
{
    unsigned n = 0;

    while (n < VHOST_MAX_PAIRS && vu->rings[2 * n].running) {
        n++;
    }
    atomic_store_explicit(&vu->n_rx_pairs, n, memory_order_relaxed);
}

/* Points the ring at guest memory and starts it if it has all it needs.
 * Called with the ring's lock held.  Returns false if the addresses are
 * outside guest memory. */
static bool
ring_update(struct vhost_user *vu, unsigned index)
{
    struct vhost_ring *ring = &vu->rings[index];
    bool was_running = ring->running;
    uint64_t size = ring->size;
    bool fits = true;

    ring->running = false;
    ring->desc = NULL;
    ring->avail = NULL;
    ring->used = NULL;
    if (ring->has_addr && size && vu->mem.n) {
        ring->desc = uva_to_host(&vu->mem, ring->addr.desc,
                                 size * sizeof(struct vring_desc));
        ring->avail = uva_to_host(&vu->mem, ring->addr.avail,
                                  sizeof(struct vring_avail) +
                                      (size + 1) * sizeof(uint16_t));
        ring->used = uva_to_host(&vu->mem, ring->addr.used,
                                 sizeof(struct vring_used) +
                                     size * sizeof(struct vring_used_elem) +
                                     sizeof(uint16_t));
        if (!ring->desc || !ring->avail || !ring->used) {
            ring->desc = NULL;
            ring->avail = NULL;
            ring->used = NULL;
            fits = false;
        }
    }
    ring->running = ring->desc && ring->kick_fd >= 0 && ring->enabled;
    if (ring->running && !(index & 1)) {
        /* A guest receive ring: its kicks are of no use (see the end of
         * vhost_user_tx()). */
        ring->used->flags |= VRING_USED_F_NO_NOTIFY;
        log_used(vu, ring, offsetof(struct vring_used, flags),
                 sizeof(uint16_t));
    }
    if ((index & 1) && ring->running != was_running && ring->kick_fd >= 0) {
        struct epoll_event ev = {.events = EPOLLIN};

        epoll_ctl(vu->up.queue_fd[ring->queue],
                  ring->running ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, ring->kick_fd,
                  &ev);
        if (ring->running) {
            /* Frames may be waiting already. */
            uint64_t one = 1;

            if (write(vu->rearm_fd[ring->queue], &one, sizeof one) < 0) {
                /* Already signalled. */
            }
        }
    }
    return fits;
}

static void
ring_stop(struct vhost_user *vu, unsigned index)
{
    struct vhost_ring *ring = &vu->rings[index];

    pthread_spin_lock(&ring->lock);
    if (ring->running && (index & 1)) {
        epoll_ctl(vu->up.queue_fd[ring->queue], EPOLL_CTL_DEL, ring->kick_fd,
                  NULL);
    }
    ring->running = false;
    ring->has_addr = false;
    ring->desc = NULL;
    ring->avail = NULL;
    ring->used = NULL;
    if (ring->kick_fd >= 0) {
        close(ring->kick_fd);
        ring->kick_fd = -1;
    }
    pthread_spin_unlock(&ring->lock);
}

static void
ring_reset(struct vhost_user *vu, unsigned index)
{
    struct vhost_ring *ring = &vu->rings[index];

    ring_stop(vu, index);
    pthread_spin_lock(&ring->lock);
    if (ring->call_fd >= 0) {
        close(ring->call_fd);
    }
    if (ring->err_fd >= 0) {
        close(ring->err_fd);
    }
    ring->call_fd = ring->err_fd = -1;
    ring->size = 0;
    ring->last_avail = ring->last_used = 0;
    ring->n_shadow = 0;
    ring->enabled = false;
    pthread_spin_unlock(&ring->lock);
}

static void
log_unmap(struct vhost_user *vu)
{
    if (vu->log_map) {
        munmap(vu->log_map, vu->log_map_size);
    }
    vu->log_map = NULL;
    vu->log_base = NULL;
    vu->log_size = 0;
}

/* Forgets everything the frontend set up. */
static void
session_reset(struct vhost_user *vu)
{
    for (unsigned i = 0; i < VHOST_MAX_RINGS; i++) {
        ring_reset(vu, i);
    }
    lock_all_rings(vu);
    mem_unmap(&vu->mem);
    log_unmap(vu);
    vu->features = 0;
    vu->protocol_features = 0;
    vu->hdr_len = sizeof(struct virtio_net_hdr);
    vu->up.offloads = false;
    atomic_store(&vu->n_rx_pairs, 0);
    unlock_all_rings(vu);
    atomic_store(&vu->broken, BROKEN_NO);
    vu->error[0] = '\0';
}

/* ---- Messages (control thread) ---- */

static void connection_close(struct vhost_user *vu);
static void connect_retry_cb(evutil_socket_t fd, short what, void *vu_);

static int
send_reply(struct vhost_user *vu, const struct vhost_msg *request,
           const void *payload, uint32_t size)
{
    uint32_t header[3] = {request->request,
                          VHOST_USER_VERSION | VHOST_USER_REPLY, size};
    uint8_t reply[VHOST_USER_HDR_SIZE + 64];
    size_t len = VHOST_USER_HDR_SIZE + size;

    memcpy(reply, header, sizeof header);
    memcpy(reply + VHOST_USER_HDR_SIZE, payload, size);
    return send(vu->conn_fd, reply, len, MSG_NOSIGNAL) == (ssize_t)len ? 0
                                                                       : -1;
}

static int
reply_u64(struct vhost_user *vu, const struct vhost_msg *request,
          uint64_t value)
{
    return send_reply(vu, request, &value, sizeof value);
}

/* Takes the one fd a message carries (closing extras), or -1. */
static int
take_fd(struct vhost_user *vu)
{
    int fd = vu->n_msg_fds ? vu->msg_fds[0] : -1;

    for (int i = 1; i < vu->n_msg_fds; i++) {
        close(vu->msg_fds[i]);
    }
    vu->n_msg_fds = 0;
    return fd;
}

/* Returns the ring a SET_VRING_* message names, or NULL (logged). */
static struct vhost_ring *
msg_ring(struct vhost_user *vu, uint32_t index)
{
    if (index >= VHOST_MAX_RINGS) {
        VSW_WARN("vhost-user %s: ring %u out of range", vu->name, index);
        return NULL;
    }
    return &vu->rings[index];
}

static int
handle_set_mem_table(struct vhost_user *vu, const struct vhost_msg *msg)
{
    const struct vhost_msg_memory *m = &msg->payload.memory;
    struct vhost_mem mem = {.n = 0};
    int error = 0;

    if (msg->size < 8 || m->n_regions > VHOST_USER_MAX_REGIONS ||
        msg->size < 8 + m->n_regions * sizeof m->regions[0] ||
        (int)m->n_regions != vu->n_msg_fds) {
        vhost_user_break(vu, "memory table: %u regions with %d fds",
                         m->n_regions, vu->n_msg_fds);
        VSW_WARN("vhost-user %s: %s", vu->name, vu->error);
        return -1;
    }
    for (unsigned i = 0; i < m->n_regions && !error; i++) {
        const struct vhost_msg_region *in = &m->regions[i];
        struct vhost_region *r = &mem.r[i];
        struct stat st;
        uint64_t end;

        if (!in->size ||
            __builtin_add_overflow(in->mmap_offset, in->size, &end) ||
            in->guest_addr + in->size < in->guest_addr ||
            in->user_addr + in->size < in->user_addr ||
            fstat(vu->msg_fds[i], &st) ||
            (S_ISREG(st.st_mode) && (uint64_t)st.st_size < end)) {
            vhost_user_break(vu, "memory table: region %u does not fit its fd",
                             i);
            VSW_WARN("vhost-user %s: %s", vu->name, vu->error);
            error = -1;
            break;
        }
        r->map = mmap(NULL, end, PROT_READ | PROT_WRITE, MAP_SHARED,
                      vu->msg_fds[i], 0);
        if (r->map == MAP_FAILED) {
            vhost_user_break(vu, "memory table: cannot map region %u: %s", i,
                             strerror(errno));
            VSW_WARN("vhost-user %s: %s", vu->name, vu->error);
            error = -1;
            break;
        }
        r->map_size = end;
        r->host = (uint8_t *)r->map + in->mmap_offset;
        r->guest_addr = in->guest_addr;
        r->user_addr = in->user_addr;
        r->size = in->size;
        mem.n = i + 1;
    }
    for (int i = 0; i < vu->n_msg_fds; i++) {
        close(vu->msg_fds[i]);
    }
    vu->n_msg_fds = 0;
    if (error) {
        mem_unmap(&mem);
        return -1;
    }
    lock_all_rings(vu);
    mem_unmap(&vu->mem);
    vu->mem = mem;
    for (unsigned i = 0; i < VHOST_MAX_RINGS; i++) {
        if (!ring_update(vu, i)) {
            VSW_WARN("vhost-user %s: ring %u outside the new memory table",
                     vu->name, i);
        }
    }
    count_rx_pairs(vu);
    unlock_all_rings(vu);
    return 0;
}

static int
handle_set_log_base(struct vhost_user *vu, const struct vhost_msg *msg)
{
    int fd = take_fd(vu);
    uint64_t end;
    void *map;

    if (fd < 0 || msg->size < sizeof msg->payload.log ||
        __builtin_add_overflow(msg->payload.log.size, msg->payload.log.offset,
                               &end) ||
        !msg->payload.log.size) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    map = mmap(NULL, end, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        return -1;
    }
    lock_all_rings(vu);
    log_unmap(vu);
    vu->log_map = map;
    vu->log_map_size = end;
    vu->log_base = (uint8_t *)map + msg->payload.log.offset;
    vu->log_size = msg->payload.log.size;
    unlock_all_rings(vu);
    return 0;
}

/* Handles one complete message.  Returns 0, or -1 to drop the
 * connection. */
static int
handle_msg(struct vhost_user *vu, const struct vhost_msg *msg)
{
    struct vhost_ring *ring;
    uint64_t u64 = msg->payload.u64;
    bool replied = false;
    int error = 0;
    int fd;

    switch (msg->request) {
    case VHOST_USER_GET_FEATURES:
        return reply_u64(vu, msg, supported_features);
    case VHOST_USER_SET_FEATURES:
        if (u64 & ~supported_features) {
            VSW_WARN("vhost-user %s: unsupported features 0x%llx", vu->name,
                     (unsigned long long)(u64 & ~supported_features));
            return -1;
        }
        lock_all_rings(vu);
        vu->features = u64;
        vu->hdr_len =
            u64 & (BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_F_VERSION_1))
                ? sizeof(struct virtio_net_hdr_mrg_rxbuf)
                : sizeof(struct virtio_net_hdr);
        /* GSO segments go whole to a guest that takes them. */
        vu->up.offloads = (u64 & BIT(VIRTIO_NET_F_GUEST_CSUM)) &&
                          (u64 & BIT(VIRTIO_NET_F_GUEST_TSO4)) &&
                          (u64 & BIT(VIRTIO_NET_F_GUEST_TSO6));
        if (!(u64 & BIT(VHOST_USER_F_PROTOCOL_FEATURES))) {
            for (unsigned i = 0; i < VHOST_MAX_RINGS; i++) {
                vu->rings[i].enabled = true;
                ring_update(vu, i);
            }
            count_rx_pairs(vu);
        }
        unlock_all_rings(vu);
        break;
    case VHOST_USER_GET_PROTOCOL_FEATURES:
        return reply_u64(vu, msg, supported_protocol_features);
    case VHOST_USER_SET_PROTOCOL_FEATURES:
        vu->protocol_features = u64 & supported_protocol_features;
        break;
    case VHOST_USER_GET_QUEUE_NUM:
        return reply_u64(vu, msg, VHOST_MAX_PAIRS);
    case VHOST_USER_SET_OWNER:
        break;
    case VHOST_USER_RESET_OWNER:
        session_reset(vu);
        break;
    case VHOST_USER_SET_MEM_TABLE:
        error = handle_set_mem_table(vu, msg);
        break;
    case VHOST_USER_SET_LOG_BASE:
        error = handle_set_log_base(vu, msg);
        /* The frontend waits for this reply whatever REPLY_ACK says. */
        reply_u64(vu, msg, 0);
        replied = true;
        break;
    case VHOST_USER_SET_LOG_FD:
        fd = take_fd(vu);
        if (fd >= 0) {
            close(fd);
        }
        break;
    case VHOST_USER_SET_VRING_NUM:
        ring = msg_ring(vu, msg->payload.state.index);
        if (!ring || !msg->payload.state.num ||
            msg->payload.state.num > VHOST_MAX_RING_SIZE ||
            (msg->payload.state.num & (msg->payload.state.num - 1))) {
            error = -1;
            break;
        }
        pthread_spin_lock(&ring->lock);
        ring->size = (uint16_t)msg->payload.state.num;
        ring_update(vu, msg->payload.state.index);
        pthread_spin_unlock(&ring->lock);
        break;
    case VHOST_USER_SET_VRING_ADDR:
        ring = msg_ring(vu, msg->payload.addr.index);
        if (!ring) {
            error = -1;
            break;
        }
        pthread_spin_lock(&ring->lock);
        ring->addr = msg->payload.addr;
        ring->has_addr = true;
        if (!ring_update(vu, msg->payload.addr.index)) {
            vhost_user_break(vu, "ring %u: addresses outside guest memory",
                             msg->payload.addr.index);
            VSW_WARN("vhost-user %s: %s", vu->name, vu->error);
            ring->has_addr = false;
            error = -1;
        } else if (ring->used && ring->used->idx != ring->last_used) {
            /* A frontend that kept running while the backend restarted
             * (client mode, daemon killed) gives base 0, but its used
             * ring says how far the last backend got: resume there, as
             * DPDK's and QEMU's backends do. */
            VSW_INFO("vhost-user %s: ring %u resumes at used index %u",
                     vu->name, msg->payload.addr.index, ring->used->idx);
            ring->last_used = ring->last_avail = ring->used->idx;
            ring->n_shadow = 0;
        }
        pthread_spin_unlock(&ring->lock);
        lock_all_rings(vu);
        count_rx_pairs(vu);
        unlock_all_rings(vu);
        break;
    case VHOST_USER_SET_VRING_BASE:
        ring = msg_ring(vu, msg->payload.state.index);
        if (!ring) {
            error = -1;
            break;
        }
        pthread_spin_lock(&ring->lock);
        ring->last_avail = ring->last_used = (uint16_t)msg->payload.state.num;
        ring->n_shadow = 0;
        pthread_spin_unlock(&ring->lock);
        break;
    case VHOST_USER_GET_VRING_BASE: {
        struct vhost_msg_state state = msg->payload.state;

        ring = msg_ring(vu, state.index);
        if (!ring) {
            return -1;
        }
        ring_stop(vu, state.index);
        lock_all_rings(vu);
        count_rx_pairs(vu);
        unlock_all_rings(vu);
        state.num = ring->last_avail;
        return send_reply(vu, msg, &state, sizeof state);
    }
    case VHOST_USER_SET_VRING_KICK:
    case VHOST_USER_SET_VRING_CALL:
    case VHOST_USER_SET_VRING_ERR:
        fd = take_fd(vu);
        ring = msg_ring(vu, (uint32_t)(u64 & 0xff));
        if (!ring || (!(u64 & VHOST_USER_VRING_NOFD) && fd < 0)) {
            if (fd >= 0) {
                close(fd);
            }
            error = -1;
            break;
        }
        if (u64 & VHOST_USER_VRING_NOFD) {
            /* Polling mode: not supported for kicks, the worker sleeps. */
            if (fd >= 0) {
                close(fd);
            }
            fd = -1;
        }
        if (msg->request == VHOST_USER_SET_VRING_KICK) {
            unsigned index = (unsigned)(u64 & 0xff);

            ring_stop(vu, index);
            lock_all_rings(vu);
            ring->kick_fd = fd;
            if (fd >= 0) {
                fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
            }
            if (!(vu->features & BIT(VHOST_USER_F_PROTOCOL_FEATURES))) {
                ring->enabled = true;
            }
            ring->has_addr = ring->addr.desc || ring->addr.used;
            ring_update(vu, index);
            count_rx_pairs(vu);
            unlock_all_rings(vu);
        } else {
            int *slot = msg->request == VHOST_USER_SET_VRING_CALL
                            ? &ring->call_fd
                            : &ring->err_fd;

            pthread_spin_lock(&ring->lock);
            if (*slot >= 0) {
                close(*slot);
            }
            *slot = fd;
            pthread_spin_unlock(&ring->lock);
        }
        break;
    case VHOST_USER_SET_VRING_ENABLE:
        ring = msg_ring(vu, msg->payload.state.index);
        if (!ring) {
            error = -1;
            break;
        }
        lock_all_rings(vu);
        ring->enabled = msg->payload.state.num != 0;
        ring_update(vu, msg->payload.state.index);
        count_rx_pairs(vu);
        unlock_all_rings(vu);
        break;
    case VHOST_USER_SEND_RARP:
    case VHOST_USER_NET_SET_MTU:
        break;
    default:
        VSW_WARN("vhost-user %s: unknown request %u ignored", vu->name,
                 msg->request);
        error = -1;
        break;
    }
    if (!replied && (msg->flags & VHOST_USER_NEED_REPLY) &&
        (vu->protocol_features & BIT(PROTOCOL_F_REPLY_ACK))) {
        reply_u64(vu, msg, error ? 1 : 0);
        return 0;
    }
    /* A bad message without a reply to carry the failure: the frontend
     * is out of step, so hang up (it reconnects). */
    return msg->request == VHOST_USER_SET_MEM_TABLE ||
                   msg->request == VHOST_USER_SET_VRING_ADDR ||
                   msg->request == VHOST_USER_SET_VRING_NUM
               ? error
               : 0;
}

/* Reads what the socket has of the current message; handles it when
 * complete.  Returns 0, or -1 when the connection is over. */
static int
receive_some(struct vhost_user *vu)
{
    size_t want = vu->msg_len < VHOST_USER_HDR_SIZE
                      ? VHOST_USER_HDR_SIZE
                      : VHOST_USER_HDR_SIZE + vu->msg_size;
    char control[CMSG_SPACE(VHOST_USER_MAX_FDS * sizeof(int))];
    struct iovec iov = {vu->msg_buf + vu->msg_len, want - vu->msg_len};
    struct msghdr mh = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = control,
        .msg_controllen = sizeof control,
    };
    ssize_t r = recvmsg(vu->conn_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    struct vhost_msg msg;
    int error;

    if (r < 0) {
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    }
    if (r == 0) {
        return -1;
    }
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            int fds[VHOST_USER_MAX_FDS];

            if (n > VHOST_USER_MAX_FDS) {
                n = VHOST_USER_MAX_FDS; /* control holds no more */
            }
            memcpy(fds, CMSG_DATA(c), n * sizeof(int));
            for (int i = 0; i < n; i++) {
                if (vu->n_msg_fds < VHOST_USER_MAX_FDS) {
                    vu->msg_fds[vu->n_msg_fds++] = fds[i];
                } else {
                    close(fds[i]);
                }
            }
        }
    }
    vu->msg_len += (size_t)r;
    if (vu->msg_len == VHOST_USER_HDR_SIZE) {
        memcpy(&vu->msg_size, vu->msg_buf + 8, sizeof vu->msg_size);
        if (vu->msg_size > sizeof msg.payload) {
            VSW_WARN("vhost-user %s: message of %u bytes refused", vu->name,
                     vu->msg_size);
            return -1;
        }
    }
    if (vu->msg_len < VHOST_USER_HDR_SIZE ||
        vu->msg_len < VHOST_USER_HDR_SIZE + vu->msg_size) {
        return 0;
    }
    /* Short payloads read as zeros, never as the last message. */
    memset(&msg, 0, sizeof msg);
    memcpy(&msg.request, vu->msg_buf, 4);
    memcpy(&msg.flags, vu->msg_buf + 4, 4);
    msg.size = vu->msg_size;
    memcpy(&msg.payload, vu->msg_buf + VHOST_USER_HDR_SIZE, msg.size);
    vu->msg_len = 0;
    vu->msg_size = 0;
    error = handle_msg(vu, &msg);
    for (int i = 0; i < vu->n_msg_fds; i++) {
        close(vu->msg_fds[i]);
    }
    vu->n_msg_fds = 0;
    return error;
}

static void
conn_cb(evutil_socket_t fd, short what, void *vu_)
{
    struct vhost_user *vu = vu_;

    (void)fd;
    (void)what;
    /* One read per wake-up: the event is level-triggered, so the loop
     * comes back while more waits, and other work interleaves. */
    if (receive_some(vu)) {
        VSW_INFO("vhost-user %s: frontend disconnected", vu->name);
        connection_close(vu);
    }
}

static void
connection_open(struct vhost_user *vu, int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    session_reset(vu);
    vu->conn_fd = fd;
    vu->msg_len = 0;
    vu->conn_event =
        event_new(vu->base, fd, EV_READ | EV_PERSIST, conn_cb, vu);
    event_add(vu->conn_event, NULL);
    VSW_INFO("vhost-user %s: frontend connected", vu->name);
}

static void
connection_close(struct vhost_user *vu)
{
    if (vu->conn_event) {
        event_free(vu->conn_event);
        vu->conn_event = NULL;
    }
    for (int i = 0; i < vu->n_msg_fds; i++) {
        close(vu->msg_fds[i]);
    }
    vu->n_msg_fds = 0;
    if (vu->conn_fd >= 0) {
        close(vu->conn_fd);
        vu->conn_fd = -1;
    }
    {
        int broken = atomic_load(&vu->broken);
        char error[sizeof vu->error];

        /* The error stays visible until a new frontend connects. */
        memcpy(error, vu->error, sizeof error);
        session_reset(vu);
        if (broken == BROKEN_SHOWN) {
            memcpy(vu->error, error, sizeof error);
            atomic_store(&vu->broken, BROKEN_SHOWN);
        }
    }
    if (vu->client && vu->retry_timer) {
        struct timeval second = {1, 0};

        evtimer_add(vu->retry_timer, &second);
    }
}

static void
accept_cb(evutil_socket_t fd, short what, void *vu_)
{
    struct vhost_user *vu = vu_;
    int conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

    (void)what;
    if (conn < 0) {
        return;
    }
    if (vu->conn_fd >= 0) {
        VSW_WARN("vhost-user %s: second frontend refused", vu->name);
        close(conn);
        return;
    }
    connection_open(vu, conn);
}

static void
connect_retry_cb(evutil_socket_t fd, short what, void *vu_)
{
    struct vhost_user *vu = vu_;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int s;

    (void)fd;
    (void)what;
    if (vu->conn_fd >= 0) {
        return;
    }
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", vu->path);
    s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s >= 0 && !connect(s, (struct sockaddr *)&sun, sizeof sun)) {
        connection_open(vu, s);
        return;
    }
    if (s >= 0) {
        close(s);
    }
    {
        struct timeval second = {1, 0};

        evtimer_add(vu->retry_timer, &second);
    }
}

static int
server_listen(struct vhost_user *vu)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct stat st;
    int fd;

    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", vu->path);
    if (!lstat(vu->path, &st)) {
        if (!S_ISSOCK(st.st_mode)) {
            return -EEXIST;
        }
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool alive =
            probe >= 0 && !connect(probe, (struct sockaddr *)&sun, sizeof sun);

        if (probe >= 0) {
            close(probe);
        }
        if (alive) {
            return -EADDRINUSE;
        }
        /* A socket left by an earlier daemon. */
        unlink(vu->path);
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return -errno;
    }
    /* Mode before bind (Linux takes the socket inode's mode), so that the
     * socket is never reachable by others, then again after. */
    if (fchmod(fd, 0660) || bind(fd, (struct sockaddr *)&sun, sizeof sun) ||
        chmod(vu->path, 0660) ||
        (vu->has_group && chown(vu->path, (uid_t)-1, vu->group)) ||
        listen(fd, 4)) {
        int error = -errno;

        close(fd);
        unlink(vu->path);
        return error;
    }
    vu->listen_fd = fd;
    vu->listen_event =
        event_new(vu->base, fd, EV_READ | EV_PERSIST, accept_cb, vu);
    event_add(vu->listen_event, NULL);
    return 0;
}

int
vsw_netdev_vhost_user_open(const struct vsw_vhost_user_options *opts,
                           struct vsw_netdev **netdevp)
{
    struct vhost_user *vu;
    int error = 0;

    if (!opts->socket_path || !opts->socket_path[0] ||
        strlen(opts->socket_path) >= sizeof vu->path || !opts->n_queues ||
        opts->n_queues > VSW_NETDEV_MAX_QUEUES) {
        return -EINVAL;
    }
    vu = calloc(1, sizeof *vu);
    if (!vu) {
        return -ENOMEM;
    }
    pthread_once(&sigbus_once, install_sigbus_handler);
    vu->up.class = &vhost_user_class;
    snprintf(vu->up.ifname, sizeof vu->up.ifname, "%s", opts->name);
    snprintf(vu->name, sizeof vu->name, "%s", opts->name);
    snprintf(vu->path, sizeof vu->path, "%s", opts->socket_path);
    vu->up.n_queues = opts->n_queues;
    vu->up.max_frame = VSW_PACKET_MAX_FRAME;
    vu->client = opts->client;
    vu->group = opts->group;
    vu->has_group = opts->has_group;
    vu->base = opts->base;
    vu->listen_fd = vu->conn_fd = -1;
    vu->hdr_len = sizeof(struct virtio_net_hdr);
    for (unsigned q = 0; q < VSW_NETDEV_MAX_QUEUES; q++) {
        vu->up.queue_fd[q] = vu->rearm_fd[q] = -1;
    }
    for (unsigned i = 0; i < VHOST_MAX_RINGS; i++) {
        struct vhost_ring *ring = &vu->rings[i];

        pthread_spin_init(&ring->lock, PTHREAD_PROCESS_PRIVATE);
        ring->kick_fd = ring->call_fd = ring->err_fd = -1;
        ring->queue = (i / 2) % opts->n_queues;
    }
    for (unsigned q = 0; q < opts->n_queues && !error; q++) {
        struct epoll_event ev = {.events = EPOLLIN};

        vu->up.queue_fd[q] = epoll_create1(EPOLL_CLOEXEC);
        vu->rearm_fd[q] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (vu->up.queue_fd[q] < 0 || vu->rearm_fd[q] < 0 ||
            epoll_ctl(vu->up.queue_fd[q], EPOLL_CTL_ADD, vu->rearm_fd[q],
                      &ev)) {
            error = -errno;
        }
    }
    if (!error && !vu->client) {
        error = server_listen(vu);
    }
    if (error) {
        vsw_netdev_destroy(&vu->up, true);
        return error;
    }
    if (vu->client) {
        vu->retry_timer = evtimer_new(vu->base, connect_retry_cb, vu);
        connect_retry_cb(-1, 0, vu);
    }
    *netdevp = &vu->up;
    return 0;
}

/* A busy-polling worker polls 'queue' in place from now on ('direct'),
 * or goes back to waiting for its queue_fd: then the queue is made
 * readable once, so that the worker looks at the rings and settles them
 * the usual way (asking for kicks before it sleeps). */
static void
vhost_user_set_direct_poll(struct vsw_netdev *netdev, unsigned queue,
                           bool direct)
{
    struct vhost_user *vu = vhost_user_cast(netdev);
    uint64_t one = 1;

    atomic_store_explicit(&vu->direct_poll[queue], direct,
                          memory_order_relaxed);
    if (!direct && write(vu->rearm_fd[queue], &one, sizeof one) < 0) {
        /* Already signalled. */
    }
}

static void
vhost_user_destroy(struct vsw_netdev *netdev, bool remove)
{
    struct vhost_user *vu = vhost_user_cast(netdev);

    (void)remove;
    if (vu->retry_timer) {
        event_free(vu->retry_timer);
        vu->retry_timer = NULL;
    }
    connection_close(vu);
    if (vu->listen_event) {
        event_free(vu->listen_event);
    }
    if (vu->listen_fd >= 0) {
        close(vu->listen_fd);
        unlink(vu->path);
    }
    for (unsigned i = 0; i < VHOST_MAX_RINGS; i++) {
        ring_reset(vu, i);
        pthread_spin_destroy(&vu->rings[i].lock);
    }
    for (unsigned q = 0; q < VSW_NETDEV_MAX_QUEUES; q++) {
        if (vu->up.queue_fd[q] >= 0) {
            close(vu->up.queue_fd[q]);
        }
        if (vu->rearm_fd[q] >= 0) {
            close(vu->rearm_fd[q]);
        }
    }
    free(vu);
}

void
vsw_netdev_vhost_user_status(const struct vsw_netdev *netdev,
                             struct vsw_vhost_user_status *status)
{
    const struct vhost_user *vu = vhost_user_cast(netdev);

    memset(status, 0, sizeof *status);
    status->connected = vu->conn_fd >= 0;
    status->rx_invalid =
        atomic_load_explicit(&vu->rx_invalid, memory_order_relaxed);
    status->features = vu->features;
    for (unsigned i = 0; i < VHOST_MAX_RINGS; i++) {
        status->n_rings += vu->rings[i].running;
    }
    if (atomic_load_explicit(&vu->broken, memory_order_acquire) ==
        BROKEN_SHOWN) {
        snprintf(status->error, sizeof status->error, "%s", vu->error);
    }
}

static const struct vsw_netdev_class vhost_user_class = {
    .type = "vhost-user",
    .rx = vhost_user_rx,
    .tx = vhost_user_tx,
    .set_direct_poll = vhost_user_set_direct_poll,
    .destroy = vhost_user_destroy,
};
