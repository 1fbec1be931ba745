/*
 * vswitch extension ABI: the one public header for capture, filter and
 * forwarding extensions (".so" plugins) of vswitchd.
 *
 * An extension is a shared object that exports exactly one symbol, the
 * descriptor made by VSW_EXTENSION_DESCRIPTOR().  The daemon checks the
 * descriptor before it runs any of the plugin's code, then calls 'init'
 * with a table of host services, and from then on drives the plugin
 * through the callbacks of its ops table.  This header includes standard
 * headers only; JSON crosses it as text.
 *
 * VERSIONING
 *   The ABI version (VSW_EXT_ABI_MAJOR.VSW_EXT_ABI_MINOR) is separate from
 *   the daemon's release version.  The load rule: a plugin loads iff its
 *   major equals the host's and its minor is not newer than the host's.
 *   A minor bump only appends: members at the end of a struct, function
 *   pointers at the end of a table, new constants and flag bits.  Anything
 *   else is a new major.  Every struct that crosses the ABI starts with
 *   its 'size'; the host zero-fills what an older plugin's smaller struct
 *   lacks and refuses a plugin struct with non-zero bytes past the host's
 *   own size.  A plugin must check 'size' before reading a member that a
 *   later minor added ("Since" below).
 *
 * THREADS
 *   "main":   the daemon's control thread.  All control callbacks (init,
 *             fini, start, stop, configure, port_check, stats, timers,
 *             RPC methods) run there, one at a time, never concurrently
 *             with each other.
 *   "worker": a datapath thread.  'process' runs on every worker at once,
 *             for different batches; 'batch->worker' (< 'n_workers' given
 *             at start) indexes per-worker state.  'process' must not
 *             block, sleep or take a lock a control callback holds for
 *             long: every frame of the batch waits for it.
 *   "any":    callable from either.
 *   After 'stop' is called no 'process' call for that switch is in flight,
 *   nor will one start.
 *
 * OWNERSHIP
 *   The host owns packets.  A plugin borrows a batch for the duration of
 *   'process' and must not keep a pointer into it; to keep or change a
 *   frame it clones it (frame_clone) into a vsw_ext_frame it then owns
 *   until it injects or frees it.  Strings the host passes are valid for
 *   the call only.  Strings in the descriptor are the plugin's and must
 *   stay valid while it is loaded (they are string literals in practice).
 *
 * CHANGELOG
 *   1.0  First stable ABI.
 *   1.1  vsw_ext_packet 'rx_time_ns'; ops port_added, port_removed,
 *        port_changed; host services rpc_register_switch (methods that
 *        receive the switch they are called for), state_save and
 *        state_load (a small blob kept in the state directory, across
 *        restarts and `ext reload`).
 */
#ifndef VSWITCH_EXTENSION_H
#define VSWITCH_EXTENSION_H 1

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VSW_EXT_ABI_MAJOR 1
#define VSW_EXT_ABI_MINOR 1

/* First member of every descriptor: "VSWX" read as a little-endian word. */
#define VSW_EXT_MAGIC 0x58575356u

/* The descriptor's symbol, the only one a plugin exports. */
#define VSW_EXT_DESCRIPTOR_SYMBOL "vsw_extension_descriptor"

/* Extension classes (descriptor 'ext_class'), after Hyper-V's extensible
 * switch.  The host enforces what each may do:
 *   CAPTURE     observes packets and may originate new ones; its verdicts
 *               are CONTINUE only (a DROP is refused and counted).
 *   FILTER      may drop a packet on ingress, exclude a destination on
 *               egress, and clone, modify and reinject a packet.
 *   FORWARDING  chooses each packet's destinations (or leaves the choice
 *               to the switch's MAC table); at most one is enabled per
 *               switch.
 * Since 1.0. */
#define VSW_EXT_CLASS_CAPTURE    1u
#define VSW_EXT_CLASS_FILTER     2u
#define VSW_EXT_CLASS_FORWARDING 3u

/* Descriptor 'flags'.  Since 1.0.
 * FAIL_CLOSED: when the circuit breaker trips (the extension aborts or
 * reports errors in a storm), packets that would have passed through it
 * are dropped instead of bypassing it (the default, fail open). */
#define VSW_EXT_F_FAIL_CLOSED 0x1u
/* PLAIN_FRAMES (capture and filter extensions): the extension sees frames
 * as they are on the wire.  The host hands it the segments of a GSO packet
 * (VSW_EXT_PKT_F_GSO never set), with their checksums complete, and
 * completes partial checksums (VSW_EXT_PKT_F_CSUM_PARTIAL never set).  The
 * verdict of a GSO packet is then the first verdict other than CONTINUE
 * among its segments': a filter that drops one segment drops the packet.
 * Costs a copy of every large segment.  Since 1.0. */
#define VSW_EXT_F_PLAIN_FRAMES 0x2u

/* Verdicts 'process' writes, one per packet.  0 is ABORTED so that a
 * plugin that forgets to write one fails safe; a value the host does not
 * know counts as ABORTED too.  An aborted packet is counted and treated as
 * the extension's failure policy says (fail open: it continues; fail
 * closed: it is dropped).  Since 1.0. */
#define VSW_EXT_VERDICT_ABORTED 0u /* the extension failed on it */
#define VSW_EXT_VERDICT_CONTINUE                                              \
    1u /* pass it on unchanged; for a                                         \
          forwarding extension: let the MAC                                   \
          table choose its destinations */
#define VSW_EXT_VERDICT_DROP                                                  \
    2u /* filter, forwarding: drop it (on                                     \
          egress: exclude this destination) */
#define VSW_EXT_VERDICT_FORWARD                                               \
    3u /* forwarding: send it to the                                          \
          destinations added with                                             \
          add_destination() */

/* Where in the pipeline a batch is.  Since 1.0. */
#define VSW_EXT_DIR_INGRESS 1u /* from its source port into the switch */
#define VSW_EXT_DIR_EGRESS  2u /* toward one destination port */

/* Log levels of host->log().  Since 1.0. */
#define VSW_EXT_LOG_ERROR 3
#define VSW_EXT_LOG_WARN  4
#define VSW_EXT_LOG_INFO  6
#define VSW_EXT_LOG_DEBUG 7

/* vsw_ext_packet 'flags'.  Since 1.0. */
#define VSW_EXT_PKT_F_GSO                                                     \
    0x1u /* a TCP segment of up to 64 KB that                                 \
            stands for 'wire_packets'                                         \
            frames on the wire */
#define VSW_EXT_PKT_F_CSUM_PARTIAL                                            \
    0x2u                            /* its L4 checksum is not filled          \
                                       in yet (offloaded) */
#define VSW_EXT_PKT_F_INJECTED 0x4u /* an extension injected it */

/* Most destinations a forwarding extension may give one packet. */
#define VSW_EXT_MAX_DESTINATIONS 16u

/* Port ids are non-zero; 0 means "no port". */
#define VSW_EXT_NO_PORT 0u

/* One packet as an extension sees it: read-only, valid during 'process'
 * only.  Append-only: later minors add members at the end. */
struct vsw_ext_packet {
    uint32_t size;         /* sizeof as the host built it */
    uint32_t flags;        /* VSW_EXT_PKT_F_* */
    const uint8_t *data;   /* the frame, from its Ethernet header; any
                              802.1Q tag it arrived with is still in it */
    uint32_t len;          /* bytes at 'data' */
    uint32_t wire_packets; /* frames it is on the wire (1 unless GSO) */
    uint32_t in_port;      /* port it came from; VSW_EXT_NO_PORT for a
                              frame an extension originated */
    uint32_t out_port;     /* egress: the destination; ingress: 0 */
    uint16_t vlan;         /* VLAN the switch placed it in (0: the
                              untagged domain) */
    uint16_t gso_size;     /* GSO: payload bytes per wire segment */
    uint8_t pcp;           /* 802.1p priority it carries */
    uint8_t reserved[7];   /* zero */
    /* Since 1.1 (check 'size'): when the batch it came in was received,
     * CLOCK_REALTIME in nanoseconds since the epoch; the same for every
     * packet of a batch (the host reads the clock once per batch).  A
     * frame an extension injected carries the time it was sent. */
    uint64_t rx_time_ns;
};

/* A batch handed to 'process'.  The host owns everything in it. */
struct vsw_ext_batch {
    uint32_t size;                            /* sizeof as the host built
                                                 it */
    uint32_t count;                           /* packets, 1..32 */
    uint32_t worker;                          /* calling worker's index,
                                                 < n_workers */
    uint32_t direction;                       /* VSW_EXT_DIR_* */
    const struct vsw_ext_packet *const *pkts; /* 'count' packets */
    uint32_t *verdicts;                       /* 'count' verdicts, all 0
                                                 (ABORTED) on entry: the
                                                 plugin writes each */
};

/* A frame an extension owns: made by frame_alloc() or frame_clone(),
 * writable, and handed back with inject() or frame_free(). */
struct vsw_ext_frame {
    uint32_t size;     /* sizeof as the host built it */
    uint32_t len;      /* bytes at 'data' */
    uint8_t *data;     /* the frame; at most 'capacity' bytes */
    uint32_t capacity; /* bytes available from 'data' on */
    uint32_t headroom; /* bytes available before 'data' (frame_push) */
};

/* A port as port_lookup() describes it. */
struct vsw_ext_port_info {
    uint32_t size;        /* sizeof as the caller built it (in) */
    uint32_t id;          /* port id as in vsw_ext_packet */
    char name[64];        /* NUL-terminated */
    char switch_name[64]; /* switch it belongs to */
    uint8_t mac[6];       /* the TAP's MAC (zero for uplinks) */
    uint8_t is_uplink;    /* 1: AF_PACKET uplink, 0: TAP */
    uint8_t reserved;     /* zero */
};

/* The switch an extension is started on. */
struct vsw_ext_switch_info {
    uint32_t size;             /* sizeof as the host built it */
    uint32_t n_workers;        /* 'batch->worker' is below this: the
                                  datapath threads, and one more for
                                  frames the main thread injects */
    const char *name;          /* switch name, valid during 'start' */
    struct vsw_ext_switch *sw; /* the host's handle of this switch for
                                  inject(); valid until 'stop' returns */
};

/* What port_check() is asked to allow. */
#define VSW_EXT_PORT_CREATE 1u /* a new port on the switch */
#define VSW_EXT_PORT_POLICY 2u /* settings or ACLs of a port change */

struct vsw_ext_port_change {
    uint32_t size;           /* sizeof as the host built it */
    uint32_t kind;           /* VSW_EXT_PORT_* */
    const char *port;        /* port name */
    const char *params_json; /* the request's parameters, as JSON text */
};

/* Opaque handles.  A vsw_ext_handle is the host's name for one loaded
 * extension; a vsw_ext_switch for the extension enabled on one switch; a
 * vsw_ext_reply collects an RPC method's or stats' result; a
 * vsw_ext_timer is a running timer. */
struct vsw_ext_handle;
struct vsw_ext_switch;
struct vsw_ext_reply;
struct vsw_ext_timer;

#if defined(__GNUC__)
#define VSW_EXT_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define VSW_EXT_PRINTF(fmt, args)
#endif

/* An RPC method an extension registers: 'params_json' is the request's
 * "params" as JSON text (an object).  It returns 0 after reply_set(), or a
 * negative errno after set_error() for the caller to see.  Main thread. */
typedef int (*vsw_ext_rpc_fn)(void *arg, const char *params_json,
                              struct vsw_ext_reply *reply);

/* Since 1.1: an RPC method called for one switch.  The request's params
 * must have "switch": the name of a switch the extension runs on; the
 * host refuses the call otherwise, without calling the plugin.  'sw_data'
 * is what 'start' stored for that switch, 'sw' describes it (as in
 * 'start', valid during the call).  Main thread. */
typedef int (*vsw_ext_rpc_switch_fn)(void *arg, void *sw_data,
                                     const struct vsw_ext_switch_info *sw,
                                     const char *params_json,
                                     struct vsw_ext_reply *reply);

/* Since 1.1: the largest state blob state_save() keeps. */
#define VSW_EXT_STATE_MAX 65536u

/* The host's services, passed to 'init' and valid until 'fini' returns.
 * Every member exists since 1.0 unless it says otherwise; check 'size'
 * before using a member a later minor added. */
struct vsw_ext_host {
    uint32_t size;      /* sizeof as the host built it */
    uint16_t abi_major; /* the host's ABI version */
    uint16_t abi_minor;

    /* Writes a line to the daemon's log, prefixed with the extension's
     * name.  Any thread; rate-limit it from 'process'. */
    void (*log)(struct vsw_ext_handle *h, int level, const char *fmt, ...)
        VSW_EXT_PRINTF(3, 4);

    /* Sets the text explaining the error a callback is about to return
     * (init, start, configure, port_check, an RPC method) and counts an
     * error.  From 'process' (any thread) it only counts: a storm of them
     * trips the circuit breaker. */
    void (*set_error)(struct vsw_ext_handle *h, const char *fmt, ...)
        VSW_EXT_PRINTF(2, 3);

    /* Frames.  Worker or main.  NULL on allocation failure or a length
     * over 65 600 bytes.  frame_alloc() gives 'len' zeroed bytes;
     * frame_clone() a copy of 'pkt' (from 'process' only, during it). */
    struct vsw_ext_frame *(*frame_alloc)(struct vsw_ext_handle *h,
                                         uint32_t len);
    struct vsw_ext_frame *(*frame_clone)(struct vsw_ext_handle *h,
                                         const struct vsw_ext_packet *pkt);
    /* Grows the frame by 'n' bytes at the front (to add a header) and
     * returns the new 'data', or NULL if 'headroom' is too small. */
    uint8_t *(*frame_push)(struct vsw_ext_frame *f, uint32_t n);
    /* Removes 'n' bytes from the front; returns the new 'data', or NULL
     * if the frame is shorter. */
    uint8_t *(*frame_pull)(struct vsw_ext_frame *f, uint32_t n);
    /* Frees a frame the plugin owns.  NULL is allowed. */
    void (*frame_free)(struct vsw_ext_frame *f);

    /* Sends frame 'f' (ownership passes to the host, also on failure).
     * With 'in_port' set it enters the switch as if received on that port,
     * after the calling extension: the extensions after it and the
     * switch's built-in policy see it.  With 'in_port' VSW_EXT_NO_PORT it
     * is an originated frame: it gets no policy and goes out of 'out_port'
     * only.  Only capture and filter extensions may inject, and only on
     * switches they are started on.  From 'process' the frame is sent
     * after the current batch; from the main thread, at once.  Returns 0
     * or a negative errno (-EPERM: the class may not; -ENODEV: no such
     * port on the switch; -ELOOP: injected too deep). */
    int (*inject)(struct vsw_ext_switch *sw, struct vsw_ext_frame *f,
                  uint32_t in_port, uint32_t out_port);

    /* Forwarding extensions, from 'process': adds 'port' to the
     * destinations of packet 'index' of 'batch', whose verdict must then
     * be FORWARD.  Returns 0, -EINVAL (no such port on the switch, or the
     * packet's own source), or -ENOSPC (VSW_EXT_MAX_DESTINATIONS). */
    int (*add_destination)(const struct vsw_ext_batch *batch, uint32_t index,
                           uint32_t port);

    /* Main thread.  Fills 'info' (whose 'size' the caller sets) for the
     * port named 'name' or, with 'name' NULL, the port with id 'id'.
     * Returns 0 or -ENOENT. */
    int (*port_lookup)(struct vsw_ext_handle *h, const char *name, uint32_t id,
                       struct vsw_ext_port_info *info);

    /* Main thread.  Calls 'fn'('arg') on the main thread after
     * 'interval_ms', then every 'interval_ms' if 'repeat'.  Returns NULL on
     * failure.  Cancel with timer_cancel() (NULL allowed), at the latest
     * in 'fini'. */
    struct vsw_ext_timer *(*timer_add)(struct vsw_ext_handle *h,
                                       uint32_t interval_ms, int repeat,
                                       void (*fn)(void *arg), void *arg);
    void (*timer_cancel)(struct vsw_ext_timer *t);

    /* Main thread, from 'init'.  Registers JSON-RPC method 'method', which
     * must be "<extension name>.<verb>".  Returns 0, -EINVAL (bad name) or
     * -EEXIST. */
    int (*rpc_register)(struct vsw_ext_handle *h, const char *method,
                        vsw_ext_rpc_fn fn, void *arg);
    /* Sets the result of an RPC method or of 'stats' to 'json' (copied;
     * must parse as JSON).  Returns 0 or -EINVAL. */
    int (*reply_set)(struct vsw_ext_reply *reply, const char *json);

    /* Any thread.  Calls 'fn'('arg') on the main thread once no worker can
     * still hold a pointer it loaded before this call: the way to free
     * state that 'process' reads after publishing its replacement. */
    void (*defer_free)(struct vsw_ext_handle *h, void (*fn)(void *arg),
                       void *arg);

    /* Since 1.1.  Main thread, from 'init' (or later: the method appears
     * at once).  Registers 'method' ("<extension name>.<verb>") as
     * rpc_register() does, but called for one switch: see
     * vsw_ext_rpc_switch_fn.  Returns 0, -EINVAL or -EEXIST. */
    int (*rpc_register_switch)(struct vsw_ext_handle *h, const char *method,
                               vsw_ext_rpc_switch_fn fn, void *arg);

    /* Since 1.1.  Main thread.  Keeps 'len' bytes (at most
     * VSW_EXT_STATE_MAX) as the extension's state: written to a file of
     * the daemon's state directory and renamed into place, so that a
     * crash leaves the old blob or the new one, never a mix.  The blob
     * survives daemon restarts and `ext reload` (the new version's 'init'
     * reads what the old one saved last); `ext unload` deletes it.
     * 'len' 0 deletes it too.  Returns 0 or a negative errno (-E2BIG,
     * -EIO ...). */
    int (*state_save)(struct vsw_ext_handle *h, const void *data,
                      uint32_t len);
    /* Since 1.1.  Main thread.  Copies the saved blob into 'buf' (at most
     * 'capacity' bytes) and returns its full length, which may exceed
     * 'capacity' (then call again with a larger buffer); -ENOENT when
     * nothing is saved. */
    int32_t (*state_load)(struct vsw_ext_handle *h, void *buf,
                          uint32_t capacity);
};

/* The callbacks of an extension.  Every member may be NULL unless it
 * says otherwise.  Append-only. */
struct vsw_ext_ops {
    uint32_t size;     /* sizeof(struct vsw_ext_ops) as the plugin was built */
    uint32_t reserved; /* zero */

    /* Main thread, once, after every 'stop': when the daemon shuts down,
     * at `ext unload`, or for the old version replaced by `ext reload`.
     * Frees what 'init' made and cancels its timers; the plugin is
     * unmapped afterwards.  Not called when 'init' failed. */
    void (*fini)(void *ext_data);

    /* Main thread: the extension is enabled on a switch.  'config_json' is
     * its configuration for that switch (an object, "{}" by default).
     * Stores per-switch state in '*sw_data'.  Returns 0, or a negative
     * errno after set_error() to refuse. */
    int (*start)(void *ext_data, const struct vsw_ext_switch_info *sw,
                 const char *config_json, void **sw_data);

    /* Main thread: disabled on that switch (or shutting down).  No
     * 'process' call is in flight, and none will come. */
    void (*stop)(void *ext_data, void *sw_data);

    /* Main thread: a new configuration for a switch it runs on, while
     * 'process' keeps running on the workers.  Returns 0, or a negative
     * errno after set_error(); then the old configuration stays. */
    int (*configure)(void *ext_data, void *sw_data, const char *config_json);

    /* Worker: judges a batch, writing one verdict per packet.  Required.
     * Forwarding extensions see ingress batches only. */
    void (*process)(void *ext_data, void *sw_data,
                    const struct vsw_ext_batch *batch);

    /* Main thread: may veto a change of a port on a switch it runs on.
     * Returns 0 to allow, or a negative errno after set_error(). */
    int (*port_check)(void *ext_data, void *sw_data,
                      const struct vsw_ext_port_change *change);

    /* Main thread: the extension's own figures for `ext stats`, as a JSON
     * object set with reply_set().  Returns 0 or a negative errno. */
    int (*stats)(void *ext_data, void *sw_data, struct vsw_ext_reply *reply);

    /* Since 1.1.  Main thread, after the change is in effect (the
     * datapath already forwards with it).  port_added: a port joined a
     * switch the extension runs on; right after 'start' it is called once
     * for every port the switch already has.  port_removed: a port left
     * it (not called when the extension stops or the switch goes away).
     * port_changed: a setting or an ACL of the port changed, or its
     * device came or went.  'port' is valid for the call only; its 'size'
     * is the host's. */
    void (*port_added)(void *ext_data, void *sw_data,
                       const struct vsw_ext_port_info *port);
    void (*port_removed)(void *ext_data, void *sw_data,
                         const struct vsw_ext_port_info *port);
    void (*port_changed)(void *ext_data, void *sw_data,
                         const struct vsw_ext_port_info *port);
};

/* The one exported object, made by VSW_EXTENSION_DESCRIPTOR().  The host
 * reads its first members from the file itself, before it maps the
 * plugin or runs any of its code, and refuses a plugin whose magic,
 * version or size is wrong. */
struct vsw_ext_descriptor {
    uint32_t magic;                /* VSW_EXT_MAGIC */
    uint16_t abi_major;            /* VSW_EXT_ABI_MAJOR it was built with */
    uint16_t abi_minor;            /* VSW_EXT_ABI_MINOR it was built with */
    uint32_t size;                 /* sizeof(struct vsw_ext_descriptor) */
    uint32_t ext_class;            /* VSW_EXT_CLASS_* */
    uint32_t flags;                /* VSW_EXT_F_* */
    uint32_t reserved;             /* zero */
    const char *name;              /* unique: [a-z0-9][a-z0-9_-]{0,30}; also
                                      the prefix of its RPC methods */
    const char *version;           /* the plugin's own version, for people */
    const char *description;       /* one line, for `ext list` */
    const struct vsw_ext_ops *ops; /* callbacks; required */

    /* Main thread, once, after the checks: sets '*ext_data' and may
     * register RPC methods and timers.  'h' identifies the extension in
     * host calls; 'host' stays valid until 'fini' returns.  Returns 0, or
     * a negative errno after set_error() (the extension then stays
     * loaded but unusable, and 'fini' is not called: free what was made
     * before returning).  Required. */
    int (*init)(struct vsw_ext_handle *h, const struct vsw_ext_host *host,
                void **ext_data);
};

/* Defines the descriptor.  Use once per plugin, at file scope:
 *
 *   VSW_EXTENSION_DESCRIPTOR(VSW_EXT_CLASS_FILTER, 0, "dnsblock", "1.0",
 *                            "drops DNS queries for blocked names",
 *                            &dnsblock_ops, dnsblock_init);
 */
#ifdef __cplusplus
#define VSW_EXT_DESCRIPTOR_LINKAGE extern "C"
#else
#define VSW_EXT_DESCRIPTOR_LINKAGE extern
#endif
/* Declared first, so that the definition has external linkage in C++ too
 * (a namespace-scope const would otherwise be private to its file). */
#define VSW_EXTENSION_DESCRIPTOR(CLASS, FLAGS, NAME, VERSION, DESCRIPTION,    \
                                 OPS, INIT)                                   \
    VSW_EXT_DESCRIPTOR_LINKAGE __attribute__((visibility("default")))         \
    const struct vsw_ext_descriptor vsw_extension_descriptor;                 \
    const struct vsw_ext_descriptor vsw_extension_descriptor = {              \
        .magic = VSW_EXT_MAGIC,                                               \
        .abi_major = VSW_EXT_ABI_MAJOR,                                       \
        .abi_minor = VSW_EXT_ABI_MINOR,                                       \
        .size = sizeof(struct vsw_ext_descriptor),                            \
        .ext_class = (CLASS),                                                 \
        .flags = (FLAGS),                                                     \
        .reserved = 0,                                                        \
        .name = (NAME),                                                       \
        .version = (VERSION),                                                 \
        .description = (DESCRIPTION),                                         \
        .ops = (OPS),                                                         \
        .init = (INIT),                                                       \
    }

#ifdef __cplusplus
}
#endif

#endif /* VSWITCH_EXTENSION_H */
