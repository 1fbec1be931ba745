/*
 * VXLAN (RFC 7348) tunnels: the workers' encapsulation and
 * decapsulation, the remote VTEPs and MAC mappings they decide with.
 *
 * A tunnel is a port of type "vxlan" (netdev-vxlan.c opens its sockets).
 * Decapsulation runs on each batch read from a tunnel port, before
 * "parse": each datagram is checked (header, VNI served by a local port,
 * VTEP a remote of that VNI), its (VNI, inner source MAC) learned against
 * the VTEP, and its header stripped, so the inner frame goes through the
 * pipeline with its VNI.  Encapsulation runs where the pipeline hands
 * frames to the tunnel port's device: the destination (VNI, MAC) maps to
 * one VTEP, or the frame is replicated to every remote VTEP of its VNI.
 *
 * Two maps decide the VTEP:
 *   - the programmed state, in the snapshot (struct vsw_vxlan_config,
 *     immutable): remote VTEPs per VNI and (VNI, MAC) -> VTEP entries,
 *     built by the control thread from the tunnel's settings and from
 *     whatever module programs it (vswitchd/tunnel.c's API);
 *   - the learned map, in the tunnel's device (it outlives snapshots):
 *     a bounded direct-mapped table written by the workers on decap.
 *
 * IPv4 underlay only.
 */
#ifndef VSW_VXLAN_H
#define VSW_VXLAN_H 1

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "datapath.h"
#include "netdev.h"
#include "packet.h"

#define VSW_VXLAN_PORT    4789     /* IANA's VXLAN port */
#define VSW_VXLAN_HLEN    8        /* the VXLAN header */
#define VSW_VXLAN_VNI_MAX 16777215 /* 24 bits */
/* What the underlay adds to an inner frame: outer IPv4 (20), UDP (8)
 * and VXLAN (8) headers.  An inner frame fits when its length (with its
 * Ethernet header) is at most the underlay MTU minus this; a VM's MTU is
 * then the underlay's minus 50 (the inner Ethernet header too). */
#define VSW_VXLAN_OUTER_LEN  36
#define VSW_VXLAN_VM_MTU_GAP 50
/* The outer UDP source port range (RFC 7348 §5). */
#define VSW_VXLAN_SPORT_MIN 49152

/* A remote VTEP of one VNI. */
struct vsw_vxlan_remote {
    uint32_t vni; /* tenant network */
    uint32_t ip;  /* its IPv4 address, network order */
};

/* A programmed mapping: frames for 'mac' in 'vni' go to 'ip'. */
struct vsw_vxlan_mac {
    uint32_t vni;   /* tenant network */
    uint8_t mac[6]; /* a station's MAC */
    uint32_t ip;    /* the VTEP behind it, network order */
};

/* What a tunnel port decides with, in one snapshot.  Owned by the
 * snapshot's port; arrays sorted (vsw_vxlan_config_sort()). */
struct vsw_vxlan_config {
    uint32_t local_ip;     /* our VTEP address, network order */
    uint16_t dst_port;     /* UDP destination port, host order */
    uint32_t underlay_mtu; /* bytes of an outer IP packet */
    bool learn_unknown;    /* accept datagrams from VTEPs that are not
                              remotes of their VNI (and learn them) */
    int64_t ageing_ms;     /* learned mappings older than this are
                              ignored (the switch's MAC ageing) */
    size_t n_vnis;         /* entries in 'vnis' */
    uint32_t *vnis;        /* VNIs the switch's other ports are in */
    size_t n_remotes;      /* entries in 'remotes' */
    struct vsw_vxlan_remote *remotes; /* by (vni, ip) */
    size_t n_macs;                    /* entries in 'macs' */
    struct vsw_vxlan_mac *macs;       /* by (vni, mac) */
};

/* Control thread: sorts the arrays of 'cfg' and removes duplicates. */
void vsw_vxlan_config_sort(struct vsw_vxlan_config *cfg);
/* Frees 'cfg' and its arrays (NULL allowed). */
void vsw_vxlan_config_destroy(struct vsw_vxlan_config *cfg);

/* Any thread: whether 'cfg' serves 'vni' / has 'ip' as a remote of
 * 'vni' / maps (vni, mac) (then '*ip' is its VTEP). */
bool vsw_vxlan_serves(const struct vsw_vxlan_config *cfg, uint32_t vni);
bool vsw_vxlan_is_remote(const struct vsw_vxlan_config *cfg, uint32_t vni,
                         uint32_t ip);
bool vsw_vxlan_mac_lookup(const struct vsw_vxlan_config *cfg, uint32_t vni,
                          const uint8_t mac[6], uint32_t *ip);

/* The learned map: (VNI, MAC) -> VTEP, 65536 slots, direct-mapped. */
#define VSW_VXLAN_LEARN_SLOTS 65536
struct vsw_vxlan_learned_slot {
    _Atomic uint32_t seq;    /* odd while a writer changes the slot */
    _Atomic uint32_t vni;    /* its key ... */
    _Atomic uint64_t mac;    /* ... (MAC in the low 48 bits) */
    _Atomic uint32_t ip;     /* the VTEP, network order; 0 = empty */
    _Atomic int64_t seen_ms; /* last datagram that confirmed it */
};
struct vsw_vxlan_learned {
    struct vsw_vxlan_learned_slot slots[VSW_VXLAN_LEARN_SLOTS];
    _Atomic uint64_t replaced; /* mappings overwritten by another (VNI,
                                  MAC) of their slot: the bound met */
};

/* Worker: records that (vni, mac) is behind VTEP 'ip' at 'now_ms'.  Skips
 * the update if another writer holds the slot (the next frame learns).
 * Never blocks, never allocates. */
void vsw_vxlan_learn(struct vsw_vxlan_learned *map, uint32_t vni,
                     const uint8_t mac[6], uint32_t ip, int64_t now_ms);
/* Any thread: the VTEP learned for (vni, mac) within 'ageing_ms' of
 * 'now_ms', or 0. */
uint32_t vsw_vxlan_learned_lookup(const struct vsw_vxlan_learned *map,
                                  uint32_t vni, const uint8_t mac[6],
                                  int64_t now_ms, int64_t ageing_ms);

/* Any thread: the VTEP a unicast frame to (vni, 'dst') goes to, or 0 to
 * flood it to every remote of the VNI; '*how' names the source.  The
 * programmed map (etcd's) decides, except for a MAC whose frames came from
 * another VTEP in the last 3 s (a moved VM, which announces itself at
 * once; the programmed map follows a second or two later); without a
 * programmed entry, the learned map ('learned' may be NULL). */
uint32_t vsw_vxlan_unicast_vtep(const struct vsw_vxlan_config *cfg,
                                const struct vsw_vxlan_learned *learned,
                                uint32_t vni, const uint8_t *dst,
                                int64_t now_ms, const char **how);

/* A learned mapping as vsw_vxlan_learned_dump() reports it. */
struct vsw_vxlan_learned_info {
    uint32_t vni;   /* tenant network */
    uint8_t mac[6]; /* station */
    uint32_t ip;    /* VTEP, network order */
    int64_t age_ms; /* since last confirmed */
};
/* Control thread: copies up to 'max' live mappings into 'out'; returns
 * how many. */
size_t vsw_vxlan_learned_dump(const struct vsw_vxlan_learned *map,
                              struct vsw_vxlan_learned_info *out, size_t max,
                              int64_t now_ms, int64_t ageing_ms);

/* Control thread: the live mappings (confirmed within 'ageing_ms' of
 * 'now_ms'), for the bounds in the status. */
size_t vsw_vxlan_learned_count(const struct vsw_vxlan_learned *map,
                               int64_t now_ms, int64_t ageing_ms);

/* The tunnel's device (netdev-vxlan.c). */
struct vsw_netdev_vxlan {
    struct vsw_netdev up;              /* class "vxlan"; queue_fd[]: the
                                          UDP sockets, one per queue */
    int tx_fd;                         /* raw IPv4 socket (IPPROTO_UDP) */
    uint32_t local_ip;                 /* bound address, network order */
    uint16_t dst_port;                 /* host order */
    uint32_t underlay_mtu;             /* of the underlay interface */
    struct vsw_vxlan_learned *learned; /* owned */
};

/* Opens a tunnel device: UDP sockets bound to 'local_ip':'dst_port' (one
 * per queue, SO_REUSEPORT), and the raw socket that sends.  'underlay' is
 * the interface whose MTU sizes the outer header, or NULL/"" for the one
 * that holds 'local_ip'.  Returns 0 and stores it in '*netdevp', or a
 * negative errno.  Control thread. */
int vsw_netdev_vxlan_open(const char *name, uint32_t local_ip,
                          uint16_t dst_port, const char *underlay,
                          unsigned n_queues, struct vsw_netdev **netdevp);

/* The tunnel device behind 'netdev', or NULL if it is not one. */
struct vsw_netdev_vxlan *vsw_netdev_vxlan_cast(struct vsw_netdev *netdev);

/* Pure: checks the VXLAN datagram 'data' of 'len' bytes; on success
 * stores its VNI in '*vni' and returns -1, otherwise returns the drop
 * reason (vxlan-truncated, vxlan-bad-flags, vxlan-inner-runt).  The inner
 * frame starts VSW_VXLAN_HLEN bytes in. */
int vsw_vxlan_header_check(const uint8_t *data, uint32_t len, uint32_t *vni);

/* Writes the VXLAN header of 'vni' into 'hdr'. */
void vsw_vxlan_header_write(uint8_t hdr[VSW_VXLAN_HLEN], uint32_t vni);

/* The outer UDP source port for an inner frame: its flow's hash, in
 * 49152..65535, so the underlay spreads the flows and keeps each in
 * order. */
uint16_t vsw_vxlan_source_port(const uint8_t *frame, uint32_t len,
                               uint32_t tag_len);

struct vsw_pipeline;

/* Worker: the decapsulation of a batch read from tunnel port 'port':
 * drops (counted on 'stats') what fails a check, learns from and strips
 * the rest, which stay in 'batch' in order, with their VNI. */
void vsw_vxlan_decap_batch(struct vsw_pipeline *pl,
                           const struct vsw_dp_port *port,
                           struct vsw_packet_batch *batch,
                           struct vsw_port_stats *stats);

/* Worker: sends the 'n' frames of 'items' out of tunnel port 'port',
 * each encapsulated towards its VTEP (or each remote VTEP of its VNI),
 * adding to '*packets' and '*bytes' the frames that went (once, however
 * many VTEPs got a copy) and counting the others on the port under their
 * drop reason.  Returns 'n': nothing is left for the caller to count. */
int vsw_vxlan_tx(struct vsw_pipeline *pl, const struct vsw_dp_port *port,
                 const struct vsw_tx_item *items, int n, uint64_t *packets,
                 uint64_t *bytes);

struct vsw_trace;

/* Control thread (traces): appends the step "vxlan-encap" to 'trace':
 * the VNI and the VTEP(s) frame 'pkt' would go to through tunnel port
 * 'port' ('tagged': with a VLAN tag pushed), or why it would not go. */
void vsw_vxlan_trace(const struct vsw_dp_port *port,
                     const struct vsw_packet *pkt, bool tagged, int64_t now_ms,
                     struct vsw_trace *trace);

/* Whether 'port' may get a frame of tenant network 'vni': a tunnel
 * carries every VNI but none (0), any other port only its own. */
static inline bool
vsw_vxlan_port_takes(const struct vsw_dp_port *port, uint32_t vni)
{
    return port->tunnel ? vni != 0 : port->vni == vni;
}

#endif /* VSW_VXLAN_H */
