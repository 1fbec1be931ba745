/*
 * VXLAN encapsulation and decapsulation in the workers, and the maps
 * they decide the remote VTEP with (vxlan.h).
 */
#include "vxlan.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fdb.h"
#include "pipeline.h"
#include "trace.h"

/* The VXLAN header's flags byte: I, "the VNI is valid". */
#define VXLAN_FLAG_I 0x08

static uint64_t
mac_to_u64(const uint8_t mac[6])
{
    uint64_t v = 0;

    for (int i = 0; i < 6; i++) {
        v = v << 8 | mac[i];
    }
    return v;
}

static int
compare_u32(const void *a_, const void *b_)
{
    uint32_t a = *(const uint32_t *)a_;
    uint32_t b = *(const uint32_t *)b_;

    return a < b ? -1 : a > b;
}

static int
compare_remote(const void *a_, const void *b_)
{
    const struct vsw_vxlan_remote *a = a_;
    const struct vsw_vxlan_remote *b = b_;

    if (a->vni != b->vni) {
        return a->vni < b->vni ? -1 : 1;
    }
    return a->ip < b->ip ? -1 : a->ip > b->ip;
}

static int
compare_mac(const void *a_, const void *b_)
{
    const struct vsw_vxlan_mac *a = a_;
    const struct vsw_vxlan_mac *b = b_;
    uint64_t ma = mac_to_u64(a->mac);
    uint64_t mb = mac_to_u64(b->mac);

    if (a->vni != b->vni) {
        return a->vni < b->vni ? -1 : 1;
    }
    return ma < mb ? -1 : ma > mb;
}

/* Sorts 'n' elements of 'size' at 'base' and drops equal neighbours
 * (for macs: the later of two entries of one key wins).  Returns the
 * count left. */
static size_t
sort_unique(void *base, size_t n, size_t size,
            int (*cmp)(const void *, const void *))
{
    uint8_t *p = base;
    size_t kept = 0;

    if (!n) {
        return 0;
    }
    qsort(base, n, size, cmp);
    for (size_t i = 1; i < n; i++) {
        if (cmp(p + kept * size, p + i * size)) {
            kept++;
        }
        memmove(p + kept * size, p + i * size, size);
    }
    return kept + 1;
}

void
vsw_vxlan_config_sort(struct vsw_vxlan_config *cfg)
{
    cfg->n_vnis =
        sort_unique(cfg->vnis, cfg->n_vnis, sizeof *cfg->vnis, compare_u32);
    cfg->n_remotes = sort_unique(cfg->remotes, cfg->n_remotes,
                                 sizeof *cfg->remotes, compare_remote);
    cfg->n_macs =
        sort_unique(cfg->macs, cfg->n_macs, sizeof *cfg->macs, compare_mac);
}

void
vsw_vxlan_config_destroy(struct vsw_vxlan_config *cfg)
{
    if (cfg) {
        free(cfg->vnis);
        free(cfg->remotes);
        free(cfg->macs);
        free(cfg);
    }
}

bool
vsw_vxlan_serves(const struct vsw_vxlan_config *cfg, uint32_t vni)
{
    return bsearch(&vni, cfg->vnis, cfg->n_vnis, sizeof *cfg->vnis,
                   compare_u32) != NULL;
}

bool
vsw_vxlan_is_remote(const struct vsw_vxlan_config *cfg, uint32_t vni,
                    uint32_t ip)
{
    struct vsw_vxlan_remote key = {vni, ip};

    return bsearch(&key, cfg->remotes, cfg->n_remotes, sizeof key,
                   compare_remote) != NULL;
}

bool
vsw_vxlan_mac_lookup(const struct vsw_vxlan_config *cfg, uint32_t vni,
                     const uint8_t mac[6], uint32_t *ip)
{
    struct vsw_vxlan_mac key = {.vni = vni};
    const struct vsw_vxlan_mac *hit;

    memcpy(key.mac, mac, 6);
    hit = bsearch(&key, cfg->macs, cfg->n_macs, sizeof key, compare_mac);
    if (hit) {
        *ip = hit->ip;
    }
    return hit != NULL;
}

/* The first remote of 'vni' in 'cfg' (index into 'remotes'), or
 * 'n_remotes' if it has none. */
static size_t
first_remote(const struct vsw_vxlan_config *cfg, uint32_t vni)
{
    size_t lo = 0;
    size_t hi = cfg->n_remotes;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (cfg->remotes[mid].vni < vni) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* The learned map's slot for (vni, mac). */
static size_t
learned_slot(uint32_t vni, uint64_t mac)
{
    uint64_t h = (mac ^ (uint64_t)vni << 48) * UINT64_C(0x9e3779b97f4a7c15);

    h ^= h >> 29;
    return (size_t)(h & (VSW_VXLAN_LEARN_SLOTS - 1));
}

void
vsw_vxlan_learn(struct vsw_vxlan_learned *map, uint32_t vni,
                const uint8_t mac[6], uint32_t ip, int64_t now_ms)
{
    uint64_t key = mac_to_u64(mac);
    struct vsw_vxlan_learned_slot *s = &map->slots[learned_slot(vni, key)];
    uint32_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);

    if (seq & 1) {
        return; /* another worker is writing it */
    }
    if (atomic_load_explicit(&s->vni, memory_order_relaxed) == vni &&
        atomic_load_explicit(&s->mac, memory_order_relaxed) == key &&
        atomic_load_explicit(&s->ip, memory_order_relaxed) == ip) {
        /* Known: refresh at most every 100 ms, a relaxed store. */
        if (now_ms - atomic_load_explicit(&s->seen_ms, memory_order_relaxed) >=
            100) {
            atomic_store_explicit(&s->seen_ms, now_ms, memory_order_relaxed);
        }
        return;
    }
    if (!atomic_compare_exchange_strong_explicit(&s->seq, &seq, seq + 1,
                                                 memory_order_acq_rel,
                                                 memory_order_relaxed)) {
        return;
    }
    if (atomic_load_explicit(&s->ip, memory_order_relaxed) &&
        (atomic_load_explicit(&s->vni, memory_order_relaxed) != vni ||
         atomic_load_explicit(&s->mac, memory_order_relaxed) != key)) {
        atomic_fetch_add_explicit(&map->replaced, 1, memory_order_relaxed);
    }
    atomic_store_explicit(&s->vni, vni, memory_order_relaxed);
    atomic_store_explicit(&s->mac, key, memory_order_relaxed);
    atomic_store_explicit(&s->ip, ip, memory_order_relaxed);
    atomic_store_explicit(&s->seen_ms, now_ms, memory_order_relaxed);
    atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
}

size_t
vsw_vxlan_learned_count(const struct vsw_vxlan_learned *map, int64_t now_ms,
                        int64_t ageing_ms)
{
    size_t n = 0;

    for (size_t i = 0; i < VSW_VXLAN_LEARN_SLOTS; i++) {
        const struct vsw_vxlan_learned_slot *s = &map->slots[i];
        int64_t seen = atomic_load_explicit(&s->seen_ms, memory_order_relaxed);

        n += atomic_load_explicit(&s->ip, memory_order_relaxed) &&
             now_ms - seen < ageing_ms;
    }
    return n;
}

uint32_t
vsw_vxlan_learned_lookup(const struct vsw_vxlan_learned *map, uint32_t vni,
                         const uint8_t mac[6], int64_t now_ms,
                         int64_t ageing_ms)
{
    uint64_t key = mac_to_u64(mac);
    const struct vsw_vxlan_learned_slot *s =
        &map->slots[learned_slot(vni, key)];

    for (int tries = 0; tries < 4; tries++) {
        uint32_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
        uint32_t s_vni, ip;
        uint64_t s_mac;
        int64_t seen;

        if (seq & 1) {
            continue;
        }
        s_vni = atomic_load_explicit(&s->vni, memory_order_acquire);
        s_mac = atomic_load_explicit(&s->mac, memory_order_acquire);
        ip = atomic_load_explicit(&s->ip, memory_order_acquire);
        seen = atomic_load_explicit(&s->seen_ms, memory_order_acquire);
        if (atomic_load_explicit(&s->seq, memory_order_acquire) != seq) {
            continue;
        }
        if (s_vni != vni || s_mac != key || !ip ||
            now_ms - seen >= ageing_ms) {
            return 0;
        }
        return ip;
    }
    /* Being rewritten right now: as good as unknown (a flood). */
    return 0;
}

size_t
vsw_vxlan_learned_dump(const struct vsw_vxlan_learned *map,
                       struct vsw_vxlan_learned_info *out, size_t max,
                       int64_t now_ms, int64_t ageing_ms)
{
    size_t n = 0;

    for (size_t i = 0; i < VSW_VXLAN_LEARN_SLOTS && n < max; i++) {
        const struct vsw_vxlan_learned_slot *s = &map->slots[i];
        uint32_t ip = atomic_load_explicit(&s->ip, memory_order_acquire);
        int64_t seen = atomic_load_explicit(&s->seen_ms, memory_order_relaxed);
        uint64_t mac = atomic_load_explicit(&s->mac, memory_order_relaxed);

        if (!ip || now_ms - seen >= ageing_ms) {
            continue;
        }
        out[n].vni = atomic_load_explicit(&s->vni, memory_order_relaxed);
        out[n].ip = ip;
        out[n].age_ms = now_ms - seen > 0 ? now_ms - seen : 0;
        for (int b = 0; b < 6; b++) {
            out[n].mac[b] = (uint8_t)(mac >> (40 - 8 * b));
        }
        n++;
    }
    return n;
}

int
vsw_vxlan_header_check(const uint8_t *data, uint32_t len, uint32_t *vni)
{
    if (len < VSW_VXLAN_HLEN) {
        return VSW_DROP_VXLAN_TRUNCATED;
    }
    /* RFC 7348 §5: I must be set; the reserved bits are ignored on
     * receipt. */
    if (!(data[0] & VXLAN_FLAG_I)) {
        return VSW_DROP_VXLAN_BAD_FLAGS;
    }
    if (len - VSW_VXLAN_HLEN < 14) {
        return VSW_DROP_VXLAN_INNER_RUNT;
    }
    *vni = (uint32_t)data[4] << 16 | (uint32_t)data[5] << 8 | data[6];
    return -1;
}

void
vsw_vxlan_header_write(uint8_t hdr[VSW_VXLAN_HLEN], uint32_t vni)
{
    memset(hdr, 0, VSW_VXLAN_HLEN);
    hdr[0] = VXLAN_FLAG_I;
    hdr[4] = (uint8_t)(vni >> 16);
    hdr[5] = (uint8_t)(vni >> 8);
    hdr[6] = (uint8_t)vni;
}

/* FNV-1a over 'n' bytes, continuing from 'h'. */
static uint32_t
fnv(uint32_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 16777619u;
    }
    return h;
}

uint16_t
vsw_vxlan_source_port(const uint8_t *frame, uint32_t len, uint32_t tag_len)
{
    uint32_t h = fnv(2166136261u, frame, len < 12 ? len : 12);
    uint32_t l3 = 14 + tag_len;
    uint16_t type;

    if (len >= l3) {
        type = (uint16_t)(frame[l3 - 2] << 8 | frame[l3 - 1]);
        if (type == 0x0800 && len >= l3 + 20) {
            const uint8_t *ip = frame + l3;
            uint32_t ihl = (ip[0] & 0x0f) * 4u;
            bool first = !((ip[6] & 0x1f) | ip[7]);

            h = fnv(h, ip + 9, 1);
            h = fnv(h, ip + 12, 8);
            if (first && (ip[9] == 6 || ip[9] == 17) && len >= l3 + ihl + 4) {
                h = fnv(h, ip + ihl, 4);
            }
        } else if (type == 0x86dd && len >= l3 + 40) {
            const uint8_t *ip = frame + l3;

            h = fnv(h, ip + 6, 1);
            h = fnv(h, ip + 8, 32);
            if ((ip[6] == 6 || ip[6] == 17) && len >= l3 + 44) {
                h = fnv(h, ip + 40, 4);
            }
        }
    }
    h ^= h >> 16;
    return (uint16_t)(VSW_VXLAN_SPORT_MIN + h % (65536 - VSW_VXLAN_SPORT_MIN));
}

void
vsw_vxlan_decap_batch(struct vsw_pipeline *pl, const struct vsw_dp_port *port,
                      struct vsw_packet_batch *batch,
                      struct vsw_port_stats *stats)
{
    const struct vsw_vxlan_config *cfg = port->tunnel;
    struct vsw_netdev_vxlan *dev = vsw_netdev_vxlan_cast(port->rt->netdev);
    uint32_t max_inner = cfg->underlay_mtu - VSW_VXLAN_OUTER_LEN;
    int kept = 0;

    for (int i = 0; i < batch->count; i++) {
        struct vsw_packet *pkt = batch->pkts[i];
        uint32_t vni = 0;
        int verdict = vsw_vxlan_header_check(pkt->data, pkt->len, &vni);

        if (verdict < 0 && !vsw_vxlan_serves(cfg, vni)) {
            verdict = VSW_DROP_VXLAN_VNI_UNKNOWN;
        }
        if (verdict < 0 && !cfg->learn_unknown &&
            !vsw_vxlan_is_remote(cfg, vni, pkt->tun_src)) {
            verdict = VSW_DROP_VXLAN_UNKNOWN_VTEP;
        }
        if (verdict < 0 && pkt->len - VSW_VXLAN_HLEN > max_inner) {
            verdict = VSW_DROP_VXLAN_TOO_BIG;
        }
        if (verdict >= 0) {
            vsw_pipeline_count_drop(stats, verdict, pkt);
            continue;
        }
        pkt->data += VSW_VXLAN_HLEN;
        pkt->len -= VSW_VXLAN_HLEN;
        pkt->vni = vni;
        /* Where the inner source lives: the VTEP that sent it.  Learned
         * even from a multicast source? No: such a source is no station
         * (the learn stage drops the frame). */
        if (dev && !(pkt->data[6] & 1) && !pl->trace) {
            vsw_vxlan_learn(dev->learned, vni, pkt->data + 6, pkt->tun_src,
                            pl->now_ms);
        }
        batch->pkts[kept++] = pkt;
    }
    batch->count = kept;
}

/* How long the VTEP a MAC's frames came from overrides the one programmed
 * for it (etcd's): a MAC that moved to another host (a migrated VM, which
 * announces itself at once) is reached there right away, while the
 * programmed map follows the move only when the new host's claim has gone
 * round, a second or two later.  Past this, the programmed map decides,
 * so a stale learned mapping never outlives it. */
#define MOVED_MAC_MS 3000

uint32_t
vsw_vxlan_unicast_vtep(const struct vsw_vxlan_config *cfg,
                       const struct vsw_vxlan_learned *learned, uint32_t vni,
                       const uint8_t *dst, int64_t now_ms, const char **how)
{
    uint32_t ip = 0, moved;

    *how = "learned";
    if (dst[0] & 1) {
        return 0;
    }
    if (vsw_vxlan_mac_lookup(cfg, vni, dst, &ip)) {
        moved = learned
                    ? vsw_vxlan_learned_lookup(learned, vni, dst, now_ms,
                                               cfg->ageing_ms < MOVED_MAC_MS
                                                   ? cfg->ageing_ms
                                                   : MOVED_MAC_MS)
                    : 0;
        if (moved && moved != ip) {
            *how = "learned, moved from the programmed VTEP";
            return moved;
        }
        *how = "programmed";
        return ip;
    }
    return learned ? vsw_vxlan_learned_lookup(learned, vni, dst, now_ms,
                                              cfg->ageing_ms)
                   : 0;
}

/* Datagrams one sendmmsg() call takes: a batch's frames, and room for
 * the copies of head-end replication (more are sent in further calls). */
#define TX_MSGS 64

/* The datagrams of one vsw_vxlan_tx() call, sent with sendmmsg(). */
struct tx_batch {
    int n;                                     /* datagrams queued */
    struct mmsghdr msgs[TX_MSGS];              /* one per datagram */
    struct iovec iov[TX_MSGS][VSW_TX_IOV_MAX]; /* headers, then frame */
    uint8_t hdr[TX_MSGS][8 + VSW_VXLAN_HLEN];  /* UDP + VXLAN headers */
    uint8_t tag[TX_MSGS][4];                   /* a VLAN tag pushed */
    struct sockaddr_in to[TX_MSGS];            /* the VTEP */
    int item[TX_MSGS];                         /* the frame it carries */
};

/* Sends what 'b' holds through 'dev', marking in 'went' each frame of
 * which a copy left and in 'error' the errno of a refused copy. */
static void
tx_flush(struct vsw_netdev_vxlan *dev, struct tx_batch *b, bool went[],
         int error[])
{
    int done = 0;

    while (done < b->n) {
        int r = sendmmsg(dev->tx_fd, b->msgs + done, (unsigned)(b->n - done),
                         MSG_DONTWAIT);

        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            /* This datagram failed; the next call tries the others. */
            error[b->item[done++]] = errno;
            continue;
        }
        for (int i = done; i < done + r; i++) {
            went[b->item[i]] = true;
        }
        done += r;
    }
    b->n = 0;
}

/* Queues in 'b' one encapsulated copy of the frame of 'items[index]' for
 * VTEP 'ip', flushing first if 'b' is full. */
static void
tx_queue(struct vsw_netdev_vxlan *dev, struct tx_batch *b,
         const struct vsw_tx_item *items, int index, uint32_t vni, uint32_t ip,
         uint16_t sport, bool went[], int error[])
{
    const struct vsw_tx_item *item = &items[index];
    struct virtio_net_hdr vnet;
    struct iovec frame[VSW_TX_IOV_MAX];
    uint32_t udp_len;
    uint8_t *hdr;
    int m, n;

    if (b->n == TX_MSGS) {
        tx_flush(dev, b, went, error);
    }
    m = b->n++;
    hdr = b->hdr[m];
    n = vsw_tx_item_iov(item, &vnet, b->tag[m], frame);
    udp_len = sizeof b->hdr[m] + vsw_tx_item_len(item);
    /* UDP header: checksum 0, which RFC 7348 allows over IPv4. */
    hdr[0] = (uint8_t)(sport >> 8);
    hdr[1] = (uint8_t)sport;
    hdr[2] = (uint8_t)(dev->dst_port >> 8);
    hdr[3] = (uint8_t)dev->dst_port;
    hdr[4] = (uint8_t)(udp_len >> 8);
    hdr[5] = (uint8_t)udp_len;
    hdr[6] = hdr[7] = 0;
    vsw_vxlan_header_write(hdr + 8, vni);
    /* frame[0] is the virtio-net header: the tunnel has no offloads, so
     * it says nothing; its place carries ours. */
    b->iov[m][0] = (struct iovec){hdr, sizeof b->hdr[m]};
    for (int i = 1; i < n; i++) {
        b->iov[m][i] = frame[i];
    }
    b->to[m] =
        (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = ip};
    b->msgs[m] = (struct mmsghdr){
        .msg_hdr = {.msg_name = &b->to[m],
                    .msg_namelen = sizeof b->to[m],
                    .msg_iov = b->iov[m],
                    .msg_iovlen = (size_t)n},
    };
    b->item[m] = index;
}

int
vsw_vxlan_tx(struct vsw_pipeline *pl, const struct vsw_dp_port *port,
             const struct vsw_tx_item *items, int n, uint64_t *packets,
             uint64_t *bytes)
{
    const struct vsw_vxlan_config *cfg = port->tunnel;
    struct vsw_port_stats *stats = &port->rt->stats[pl->worker];
    struct vsw_netdev_vxlan *dev = vsw_netdev_vxlan_cast(port->rt->netdev);
    uint32_t max_inner = cfg->underlay_mtu - VSW_VXLAN_OUTER_LEN;
    struct tx_batch b;
    bool went[VSW_BATCH_SIZE];
    int error[VSW_BATCH_SIZE];
    int verdict[VSW_BATCH_SIZE];
    int total = n;

    if (n > VSW_BATCH_SIZE) {
        /* Callers pass batches; a longer list goes in pieces. */
        vsw_vxlan_tx(pl, port, items + VSW_BATCH_SIZE, n - VSW_BATCH_SIZE,
                     packets, bytes);
        n = VSW_BATCH_SIZE;
    }
    b.n = 0;
    for (int i = 0; i < n; i++) {
        const struct vsw_packet *pkt = items[i].pkt;
        uint32_t vni = pkt->vni;
        const char *how; /* for traces only */
        uint32_t ip = 0;
        uint16_t sport;
        size_t r;

        went[i] = false;
        error[i] = 0;
        verdict[i] = -1;
        if (!dev) {
            verdict[i] = VSW_DROP_TX_ERROR;
            continue;
        }
        if (vsw_tx_item_len(&items[i]) > max_inner) {
            verdict[i] = VSW_DROP_VXLAN_TOO_BIG;
            continue;
        }
        sport =
            vsw_vxlan_source_port(pkt->data, pkt->len, pkt->ingress_tag_len);
        ip = vsw_vxlan_unicast_vtep(cfg, dev->learned, vni, pkt->data,
                                    pl->now_ms, &how);
        if (ip) {
            tx_queue(dev, &b, items, i, vni, ip, sport, went, error);
            continue;
        }
        /* Unknown unicast, broadcast, multicast: head-end replication to
         * every remote VTEP of the VNI. */
        r = first_remote(cfg, vni);
        if (r == cfg->n_remotes || cfg->remotes[r].vni != vni) {
            verdict[i] = VSW_DROP_VXLAN_NO_REMOTE;
            continue;
        }
        for (; r < cfg->n_remotes && cfg->remotes[r].vni == vni; r++) {
            tx_queue(dev, &b, items, i, vni, cfg->remotes[r].ip, sport, went,
                     error);
        }
    }
    if (dev) {
        tx_flush(dev, &b, went, error);
    }
    for (int i = 0; i < n; i++) {
        if (went[i]) {
            *packets += 1;
            *bytes += vsw_tx_item_len(&items[i]);
            continue;
        }
        if (verdict[i] < 0) {
            verdict[i] = error[i] == EMSGSIZE ? VSW_DROP_VXLAN_TOO_BIG
                                              : VSW_DROP_TX_ERROR;
        }
        vsw_pipeline_count_drop(stats, verdict[i], items[i].pkt);
    }
    return total;
}

void
vsw_vxlan_trace(const struct vsw_dp_port *port, const struct vsw_packet *pkt,
                bool tagged, int64_t now_ms, struct vsw_trace *trace)
{
    const struct vsw_vxlan_config *cfg = port->tunnel;
    struct vsw_netdev_vxlan *dev = vsw_netdev_vxlan_cast(port->rt->netdev);
    uint32_t len = pkt->len - pkt->ingress_tag_len + (tagged ? 4 : 0);
    uint32_t vni = pkt->vni;
    uint32_t ip = 0;
    const char *how;
    char text[INET_ADDRSTRLEN];
    size_t first;
    unsigned n = 0;

    if (len > cfg->underlay_mtu - VSW_VXLAN_OUTER_LEN) {
        vsw_trace_step(trace, "vxlan-encap", "vxlan-too-big",
                       "%s: VNI %u, a %u-byte frame exceeds underlay MTU %u "
                       "- %u",
                       port->name, vni, len, cfg->underlay_mtu,
                       VSW_VXLAN_OUTER_LEN);
        return;
    }
    ip = vsw_vxlan_unicast_vtep(cfg, dev ? dev->learned : NULL, vni, pkt->data,
                                now_ms, &how);
    if (ip) {
        inet_ntop(AF_INET, &ip, text, sizeof text);
        vsw_trace_step(
            trace, "vxlan-encap", "continue",
            "%s: VNI %u, to VTEP %s (%s), UDP %u -> %u", port->name, vni, text,
            how,
            vsw_vxlan_source_port(pkt->data, pkt->len, pkt->ingress_tag_len),
            cfg->dst_port);
        return;
    }
    first = first_remote(cfg, vni);
    for (size_t r = first; r < cfg->n_remotes && cfg->remotes[r].vni == vni;
         r++) {
        n++;
    }
    if (!n) {
        vsw_trace_step(trace, "vxlan-encap", "vxlan-no-remote",
                       "%s: VNI %u has no remote VTEP", port->name, vni);
        return;
    }
    vsw_trace_step(trace, "vxlan-encap", "continue",
                   "%s: VNI %u, replicated to %u remote VTEP%s:", port->name,
                   vni, n, n == 1 ? "" : "s");
    for (size_t r = first; r < first + n; r++) {
        inet_ntop(AF_INET, &cfg->remotes[r].ip, text, sizeof text);
        vsw_trace_note(trace, " %s", text);
    }
}
