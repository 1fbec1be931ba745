/*
 * Capture sessions: copies of the frames a port sends and receives, kept
 * for the control thread to write to a pcap file (vswitchd/capture.c).
 *
 * A capture session owns one bounded ring per thread that forwards frames
 * (each worker, and the control thread for frames extensions inject).  A
 * worker that sees a frame of a captured port runs the session's BPF
 * filter on it and, if it matches, copies it into its own ring: one
 * producer per ring, so the copy needs no lock and no wait.  A ring with no
 * room for the copy counts it as a capture drop and forwarding goes on.
 * The control thread is every ring's one consumer.
 *
 * Which sessions see a port is part of the snapshot: struct vsw_dp_port's
 * 'pcap' points to the port's taps, NULL when nobody captures it, so a
 * port without a capture costs one predictable branch per batch.
 *
 * Hooks: vsw_pcap_tap_rx() right after a worker read a batch (direction
 * out: what the port sends into the switch, as it sent it), and
 * vsw_pcap_tap_tx() for the frames a port accepted (direction in: what the
 * switch sent to it, with the tag it left with).
 *
 * Not to be confused with the live trace's struct vsw_capture
 * (datapath.h), which keeps a few frames for `trace`.
 */
#ifndef VSW_PCAP_TAP_H
#define VSW_PCAP_TAP_H 1

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet.h"

struct bpf_program;

/* Capture sessions at once, daemon-wide: the taps of one port hold at
 * most this many. */
#define VSW_PCAP_MAX_SESSIONS 16

/* Directions, seen from the port (as tcpdump on the VM's interface). */
#define VSW_PCAP_DIR_IN  0x1 /* toward the port: what the switch sent it */
#define VSW_PCAP_DIR_OUT 0x2 /* from the port: what it sent the switch */

/* The longest frame a capture copies: the largest buffer plus a tag that
 * egress may add. */
#define VSW_PCAP_MAX_FRAME (VSW_PACKET_MAX_FRAME + 4)

/* Bounds of one ring's size in bytes (vsw_pcap_session_create()). */
#define VSW_PCAP_RING_MIN (4u * 1024)
#define VSW_PCAP_RING_MAX (16u * 1024 * 1024)

struct vsw_pcap_session;

/* The capture sessions that see one port, in a snapshot. */
struct vsw_pcap_taps {
    unsigned n;         /* entries of 'tap' used */
    uint8_t directions; /* VSW_PCAP_DIR_* any of them wants */
    struct {
        struct vsw_pcap_session *session; /* not owned */
        uint8_t directions;               /* VSW_PCAP_DIR_* it takes */
    } tap[VSW_PCAP_MAX_SESSIONS];
};

/* A frame as the consumer reads it. */
struct vsw_pcap_record {
    uint64_t ts_ns;      /* CLOCK_REALTIME when it was copied */
    uint32_t wire_len;   /* bytes the frame had */
    uint32_t cap_len;    /* bytes kept (at most the snap length) */
    uint32_t port_id;    /* port it was seen on */
    uint8_t direction;   /* VSW_PCAP_DIR_IN or _OUT */
    const uint8_t *data; /* 'cap_len' bytes, valid until the next call
                            on the session */
};

/* Creates a session with 'n_rings' rings (one per counter slot of the
 * datapath) of 'ring_bytes' each (VSW_PCAP_RING_MIN..VSW_PCAP_RING_MAX),
 * keeping at most 'snaplen' bytes of each frame.  'filter' (may be NULL:
 * every frame) is taken over: its instructions are freed with the
 * session.  Returns 0 and stores the session in '*sessionp', or -EINVAL or
 * -ENOMEM (then 'filter' is still the caller's).  Control thread. */
int vsw_pcap_session_create(unsigned n_rings, size_t ring_bytes,
                            uint32_t snaplen, struct bpf_program *filter,
                            struct vsw_pcap_session **sessionp);

/* Frees 'session' (NULL allowed).  Only once no worker can reach it: a
 * snapshot without it published and a grace period passed. */
void vsw_pcap_session_destroy(struct vsw_pcap_session *session);

/* Consumer (control thread): the oldest frame waiting in any ring, in
 * '*record'; returns false when the rings are empty.  Each call releases
 * the frame the previous call returned. */
bool vsw_pcap_session_next(struct vsw_pcap_session *session,
                           struct vsw_pcap_record *record);

/* Frames copied so far, and frames the rings had no room for. */
uint64_t vsw_pcap_session_copied(const struct vsw_pcap_session *session);
uint64_t vsw_pcap_session_drops(const struct vsw_pcap_session *session);
/* Bytes waiting in the rings of 'session' for the reader, and the bytes
 * of all its rings; any thread, each ring read whole. */
void vsw_pcap_session_usage(const struct vsw_pcap_session *session,
                            uint64_t *used, uint64_t *size);

/* Bytes a tx hook needs as scratch space to see a retagged frame whole. */
#define VSW_PCAP_LINEAR_BYTES VSW_PCAP_MAX_FRAME

/* Worker (ring 'ring'): copies each of the 'n' frames of 'pkts', just
 * received on port 'port_id', into the sessions of 'taps' that take
 * direction out and whose filter matches. */
void vsw_pcap_tap_rx(const struct vsw_pcap_taps *taps, unsigned ring,
                     uint32_t port_id, struct vsw_packet *const pkts[], int n);

/* Worker (ring 'ring'): the same for the 'n' frames of 'items' that port
 * 'port_id' accepted, direction in, each as it left (tag added or
 * removed).  'linear' (VSW_PCAP_LINEAR_BYTES) is scratch space for a
 * retagged frame. */
void vsw_pcap_tap_tx(const struct vsw_pcap_taps *taps, unsigned ring,
                     uint32_t port_id, const struct vsw_tx_item *items, int n,
                     uint8_t *linear);

#endif /* VSW_PCAP_TAP_H */
