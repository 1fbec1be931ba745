/*
 * pcap-capture: a capture extension that writes sampled packets of a
 * switch to a pcap file (libpcap) or to a flow log of one text line per
 * sample, in the manner of sFlow.  Configuration, per switch:
 *
 *   {"file": "/abs/path.pcap",   opened by the daemon; required
 *    "format": "pcap",           or "flowlog"
 *    "ports": ["vm1", ...],      absent or empty: every port
 *    "direction": "ingress",     or "egress" or "both"
 *    "sample": 1,                one packet in N, per worker
 *    "snaplen": 128,             bytes kept of each packet
 *    "ring": 4096}               slots per worker ring
 *
 * `ext enable` starts an extension with the configuration {}: with that
 * the capture is idle (nothing is sampled or written) until `ext config`
 * names a file.
 *
 * Direction: the switch shows a packet to capture extensions once on
 * ingress (from its source port) and once per destination on egress.
 * "ingress" (the default) writes each packet once; "egress" writes each
 * copy that leaves; "both" writes both.  "ports" filters on the source
 * port for ingress and on the destination port for egress, so "ports":
 * ["vm1"] with "both" is vm1's traffic in both directions.
 *
 * Sampling counts packets per worker: with "sample": N each worker keeps
 * its every Nth packet, so the total is about packets / N but which ones
 * depends on how packets spread over workers.  "sample": 1 keeps every
 * packet.  A GSO packet (a TCP segment of up to 64 KB) is one packet and
 * one record, with its full length as the original length.
 *
 * Data path: 'process' never blocks, locks or allocates.  Each worker
 * copies the first 'snaplen' bytes of a sampled packet, its length, ports,
 * VLAN and a timestamp into a ring only it writes (single producer); when
 * the ring is full the sample is counted as "ring_full" and lost.  A
 * timer on the main thread drains every ring each 100 ms (single
 * consumer) and writes the records: pcap_dump() then pcap_dump_flush(),
 * or fprintf()ed flow log lines.  Verdicts are always CONTINUE.
 *
 * Files: the pcap file is truncated when capture starts (pcap files have
 * one header), the flow log is appended to.  Files are opened without
 * following a final symlink.  Switches capturing to the same path share
 * the open file.  A new configuration makes a new capture session: new
 * rings, and the file reopened unless the path stays the same.  The old
 * session keeps its rings until no worker can write to them (host
 * defer_free), then is drained and freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <vswitch/extension.h>

#define PC_DRAIN_MS        100
#define PC_RING_DEFAULT    4096
#define PC_RING_MIN        16
#define PC_RING_MAX        65536
#define PC_RING_BYTES_MAX  (64u << 20) /* per worker */
#define PC_SNAPLEN_DEFAULT 128
#define PC_SNAPLEN_MIN     14
#define PC_SNAPLEN_MAX     65535
#define PC_SAMPLE_MAX      (1u << 24)
#define PC_PORTS_MAX       64
#define PC_PCAP_SNAPLEN    262144 /* the file header's: any later snaplen */
#define PC_NAME_CACHE      16

/* What a session writes. */
enum pc_format {
    PC_FORMAT_PCAP,    /* libpcap, nanosecond timestamps */
    PC_FORMAT_FLOWLOG, /* one text line per sample */
};

/* One sample in a ring: a header, then 'cap_len' bytes of the frame. */
struct pc_record {
    uint64_t ts_ns;    /* wall clock when the batch was seen */
    uint32_t orig_len; /* bytes of the packet */
    uint32_t cap_len;  /* bytes kept, <= the session's snaplen */
    uint32_t in_port;  /* source port id (0: originated) */
    uint32_t out_port; /* destination on egress, else 0 */
    uint32_t rate;     /* the sampling rate it was taken with */
    uint16_t vlan;     /* VLAN the switch placed it in */
    uint8_t direction; /* VSW_EXT_DIR_* */
    uint8_t reserved;  /* zero */
    uint8_t data[];    /* the frame's first bytes */
};

/* A single-producer (one worker), single-consumer (the main thread)
 * ring.  'head' and 'tail' run freely and are reduced modulo the slot
 * count, a power of two; each lives on a cache line of its own so the
 * producer and the consumer do not write the same line. */
struct pc_ring {
    alignas(64) _Atomic uint32_t head; /* next slot to fill (producer) */
    alignas(64) _Atomic uint32_t tail; /* next slot to read (consumer) */
    uint8_t *slots;                    /* n_slots * slot_size bytes */
};

/* An open output file, shared by the sessions that name its path.  Main
 * thread only. */
struct pc_writer {
    struct pc_writer *next; /* next writer of the extension */
    int refs;               /* sessions using it */
    enum pc_format format;  /* what it holds */
    char path[PATH_MAX];    /* as configured */
    pcap_t *dead;           /* pcap: the handle the dumper needs */
    pcap_dumper_t *dumper;  /* pcap: writes and owns the FILE */
    FILE *log;              /* flowlog: the stream */
};

struct pc_switch;

/* One configuration of a switch's capture: never changed once
 * published, except the rings' positions. */
struct pc_session {
    struct pc_switch *ps;         /* owner (holds a reference) */
    struct pc_writer *writer;     /* output (holds a reference) */
    uint32_t dir_mask;            /* bit VSW_EXT_DIR_* set: captured */
    uint32_t sample;              /* 1 in 'sample' packets */
    uint32_t snaplen;             /* bytes kept per packet */
    uint32_t n_ports;             /* 0: every port */
    uint32_t ports[PC_PORTS_MAX]; /* port ids to capture */
    uint32_t n_slots;             /* per ring, a power of two */
    uint32_t slot_size;           /* bytes per slot, a multiple of 8 */
    uint32_t n_rings;             /* one per worker */
    struct pc_ring *rings;        /* 'n_rings' rings */
};

/* Per-worker state of a switch.  'seen' only the worker touches; the
 * atomics it writes and the main thread reads. */
struct pc_worker {
    alignas(64) uint64_t seen;  /* packets eligible, for sampling */
    _Atomic uint64_t sampled;   /* packets chosen by sampling */
    _Atomic uint64_t ring_full; /* chosen but lost: ring full */
};

struct pcap_capture;

/* The extension on one switch.  Reference counted (main thread): by the
 * extension while started, and by each session, so a session retired by
 * a reconfiguration can still be drained after the switch stopped. */
struct pc_switch {
    struct pcap_capture *pc;              /* the extension */
    char name[64];                        /* switch name */
    int refs;                             /* see above */
    _Atomic(struct pc_session *) session; /* what the workers use */
    struct pc_worker *workers;            /* 'n_workers' entries */
    uint32_t n_workers;                   /* workers of the switch */
    uint64_t written;                     /* records written (main) */
    uint64_t write_errors;                /* failed writes (main) */
    struct pc_switch *next;               /* next started switch */
};

/* A port name looked up for the flow log, valid for one drain. */
struct pc_name {
    uint32_t id;   /* port id, 0: unused */
    char name[64]; /* its name */
};

/* The extension. */
struct pcap_capture {
    struct vsw_ext_handle *h;            /* the host's handle of us */
    const struct vsw_ext_host *host;     /* host services */
    struct pc_switch *switches;          /* started switches */
    struct pc_writer *writers;           /* open files */
    struct vsw_ext_timer *drain;         /* the 100 ms drain */
    struct pc_name names[PC_NAME_CACHE]; /* flow log name cache */
};

/* Parsed configuration, before a session is made of it. */
struct pc_config {
    const char *file;             /* absolute path; NULL: idle */
    enum pc_format format;        /* output format */
    uint32_t dir_mask;            /* directions */
    uint32_t sample;              /* rate */
    uint32_t snaplen;             /* bytes kept */
    uint32_t n_slots;             /* ring slots, a power of two */
    uint32_t n_ports;             /* port filter */
    uint32_t ports[PC_PORTS_MAX]; /* their ids */
};

/* Reads a big-endian 16-bit value at 'p'. */
static inline uint16_t
pc_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* Opens 'path' for 'format': truncated for pcap, appended to for a flow
 * log, never through a symlink.  Returns the writer (one reference) or
 * NULL after set_error(). */
static struct pc_writer *
pc_writer_open(struct pcap_capture *pc, const char *path,
               enum pc_format format)
{
    struct pc_writer *w = calloc(1, sizeof *w);
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW;
    FILE *file = NULL;
    int fd;

    if (!w) {
        pc->host->set_error(pc->h, "out of memory");
        return NULL;
    }
    flags |= format == PC_FORMAT_PCAP ? O_TRUNC : O_APPEND;
    fd = open(path, flags, 0640);
    if (fd < 0 || !(file = fdopen(fd, format == PC_FORMAT_PCAP ? "w" : "a"))) {
        pc->host->set_error(pc->h, "%s: %s", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        free(w);
        return NULL;
    }
    if (format == PC_FORMAT_PCAP) {
        w->dead = pcap_open_dead_with_tstamp_precision(
            DLT_EN10MB, PC_PCAP_SNAPLEN, PCAP_TSTAMP_PRECISION_NANO);
        w->dumper = w->dead ? pcap_dump_fopen(w->dead, file) : NULL;
        if (!w->dumper) {
            pc->host->set_error(pc->h, "%s: %s", path,
                                w->dead ? pcap_geterr(w->dead)
                                        : "pcap_open_dead failed");
            if (w->dead) {
                pcap_close(w->dead);
            }
            fclose(file);
            free(w);
            return NULL;
        }
        pcap_dump_flush(w->dumper); /* the header, at once */
    } else {
        w->log = file;
    }
    w->refs = 1;
    w->format = format;
    snprintf(w->path, sizeof w->path, "%s", path);
    w->next = pc->writers;
    pc->writers = w;
    return w;
}

/* Drops a reference to 'w'; the last one closes the file. */
static void
pc_writer_unref(struct pcap_capture *pc, struct pc_writer *w)
{
    if (!w || --w->refs > 0) {
        return;
    }
    for (struct pc_writer **p = &pc->writers; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            break;
        }
    }
    if (w->dumper) {
        pcap_dump_close(w->dumper);
        pcap_close(w->dead);
    }
    if (w->log) {
        fclose(w->log);
    }
    free(w);
}

/* The writer for 'path', shared if one is open.  Returns it with a new
 * reference, or NULL after set_error(). */
static struct pc_writer *
pc_writer_get(struct pcap_capture *pc, const char *path, enum pc_format format)
{
    for (struct pc_writer *w = pc->writers; w; w = w->next) {
        if (!strcmp(w->path, path)) {
            if (w->format != format) {
                pc->host->set_error(pc->h,
                                    "%s is being written in the other "
                                    "format",
                                    path);
                return NULL;
            }
            w->refs++;
            return w;
        }
    }
    return pc_writer_open(pc, path, format);
}

/* Name of port 'id' for the flow log, "-" for none. */
static const char *
pc_port_name(struct pcap_capture *pc, uint32_t id, char buf[16])
{
    struct vsw_ext_port_info info;
    struct pc_name *slot;

    if (id == VSW_EXT_NO_PORT) {
        return "-";
    }
    slot = &pc->names[id % PC_NAME_CACHE];
    if (slot->id == id) {
        return slot->name;
    }
    memset(&info, 0, sizeof info);
    info.size = sizeof info;
    if (pc->host->port_lookup(pc->h, NULL, id, &info)) {
        snprintf(buf, 16, "#%" PRIu32, id); /* gone since the sample */
        return buf;
    }
    slot->id = id;
    snprintf(slot->name, sizeof slot->name, "%s", info.name);
    return slot->name;
}

/* Formats the Ethernet address at 'p'. */
static void
pc_mac_format(const uint8_t *p, char buf[18])
{
    snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", p[0], p[1], p[2], p[3],
             p[4], p[5]);
}

/* Writes record 'r' as a flow log line: time, direction, ports, sampling
 * rate, VLAN, MACs, ethertype, then what the kept bytes show of IPv4,
 * IPv6 or ARP addresses, protocol and TCP/UDP ports ("-": not shown),
 * and the packet's length. */
static int
pc_flowlog_write(struct pcap_capture *pc, FILE *out, const struct pc_record *r)
{
    const uint8_t *p = r->data;
    uint32_t len = r->cap_len, ofs = 14, l4 = 0;
    char src_mac[18] = "-", dst_mac[18] = "-";
    char src_ip[INET6_ADDRSTRLEN] = "-", dst_ip[INET6_ADDRSTRLEN] = "-";
    char sport[8] = "-", dport[8] = "-", proto[8] = "-";
    char in_buf[16], out_buf[16];
    unsigned int type = 0;
    int ip_proto = -1; /* IPv4 protocol or IPv6 next header */

    if (len >= 14) {
        pc_mac_format(p, dst_mac);
        pc_mac_format(p + 6, src_mac);
        type = pc_be16(p + 12);
        while ((type == 0x8100 || type == 0x88a8) && len - ofs >= 4) {
            type = pc_be16(p + ofs + 2);
            ofs += 4;
        }
    }
    if (type == 0x0800 && len - ofs >= 20 && p[ofs] >> 4 == 4) {
        uint32_t ihl = (uint32_t)(p[ofs] & 0xf) * 4;

        inet_ntop(AF_INET, p + ofs + 12, src_ip, sizeof src_ip);
        inet_ntop(AF_INET, p + ofs + 16, dst_ip, sizeof dst_ip);
        snprintf(proto, sizeof proto, "%u", p[ofs + 9]);
        if (!(pc_be16(p + ofs + 6) & 0x1fff) && ihl >= 20) {
            l4 = ofs + ihl;
        }
        ip_proto = p[ofs + 9];
    } else if (type == 0x86dd && len - ofs >= 40) {
        inet_ntop(AF_INET6, p + ofs + 8, src_ip, sizeof src_ip);
        inet_ntop(AF_INET6, p + ofs + 24, dst_ip, sizeof dst_ip);
        snprintf(proto, sizeof proto, "%u", p[ofs + 6]);
        l4 = ofs + 40;
        ip_proto = p[ofs + 6];
    } else if (type == 0x0806 && len - ofs >= 28 &&
               pc_be16(p + ofs + 2) == 0x0800 && p[ofs + 5] == 4) {
        inet_ntop(AF_INET, p + ofs + 14, src_ip, sizeof src_ip);
        inet_ntop(AF_INET, p + ofs + 24, dst_ip, sizeof dst_ip);
    }
    if (l4 && (ip_proto == 6 || ip_proto == 17) && l4 < len && len - l4 >= 4) {
        snprintf(sport, sizeof sport, "%u", pc_be16(p + l4));
        snprintf(dport, sizeof dport, "%u", pc_be16(p + l4 + 2));
    }
    return fprintf(out,
                   "%" PRIu64 ".%09" PRIu64
                   " dir=%s in=%s out=%s rate=%" PRIu32
                   " vlan=%u src_mac=%s dst_mac=%s ethertype=0x%04x "
                   "src_ip=%s dst_ip=%s proto=%s sport=%s dport=%s "
                   "len=%" PRIu32 "\n",
                   r->ts_ns / 1000000000u, r->ts_ns % 1000000000u,
                   r->direction == VSW_EXT_DIR_INGRESS ? "ingress" : "egress",
                   pc_port_name(pc, r->in_port, in_buf),
                   pc_port_name(pc, r->out_port, out_buf), r->rate, r->vlan,
                   src_mac, dst_mac, type, src_ip, dst_ip, proto, sport, dport,
                   r->orig_len) < 0
               ? -EIO
               : 0;
}

/* Writes record 'r' to 'w'.  Returns 0 or -EIO. */
static int
pc_record_write(struct pcap_capture *pc, struct pc_writer *w,
                const struct pc_record *r)
{
    if (w->format == PC_FORMAT_PCAP) {
        struct pcap_pkthdr hdr;

        memset(&hdr, 0, sizeof hdr);
        hdr.ts.tv_sec = (time_t)(r->ts_ns / 1000000000u);
        /* Nanoseconds: the dumper was opened with that precision. */
        hdr.ts.tv_usec = (suseconds_t)(r->ts_ns % 1000000000u);
        hdr.caplen = r->cap_len;
        hdr.len = r->orig_len;
        pcap_dump((u_char *)w->dumper, &hdr, r->data);
        return 0;
    }
    return pc_flowlog_write(pc, w->log, r);
}

/* Main thread: writes what the rings of 'session' hold, then flushes. */
static void
pc_session_drain(struct pc_session *session)
{
    struct pc_switch *ps = session->ps;
    struct pcap_capture *pc = ps->pc;
    struct pc_writer *w = session->writer;
    FILE *file;

    if (!w) {
        return; /* idle */
    }
    for (uint32_t i = 0; i < session->n_rings; i++) {
        struct pc_ring *ring = &session->rings[i];
        uint32_t tail =
            atomic_load_explicit(&ring->tail, memory_order_relaxed);
        uint32_t head =
            atomic_load_explicit(&ring->head, memory_order_acquire);

        for (; tail != head; tail++) {
            const struct pc_record *r =
                (const void *)(ring->slots +
                               (size_t)(tail & (session->n_slots - 1)) *
                                   session->slot_size);

            if (pc_record_write(pc, w, r)) {
                ps->write_errors++;
            } else {
                ps->written++;
            }
        }
        /* The slots read may be filled again from now on. */
        atomic_store_explicit(&ring->tail, tail, memory_order_release);
    }
    if (w->format == PC_FORMAT_PCAP) {
        file = pcap_dump_file(w->dumper);
        if (pcap_dump_flush(w->dumper) || ferror(file)) {
            ps->write_errors++;
            clearerr(file);
        }
    } else if (fflush(w->log) || ferror(w->log)) {
        ps->write_errors++;
        clearerr(w->log);
    }
    memset(pc->names, 0, sizeof pc->names);
}

/* Drops a reference to 'ps'; the last one frees it. */
static void
pc_switch_unref(struct pc_switch *ps)
{
    if (ps && --ps->refs == 0) {
        free(ps->workers);
        free(ps);
    }
}

/* Frees a session (its rings must be drained, or be given up) and drops
 * its references.  NULL is allowed. */
static void
pc_session_free(struct pc_session *session)
{
    if (session) {
        for (uint32_t i = 0; session->rings && i < session->n_rings; i++) {
            free(session->rings[i].slots);
        }
        free(session->rings);
        if (session->writer) {
            pc_writer_unref(session->ps->pc, session->writer);
        }
        pc_switch_unref(session->ps);
        free(session);
    }
}

/* defer_free callback: no worker can write to the session's rings any
 * more; writes what they hold and frees it. */
static void
pc_session_retire(void *session_)
{
    struct pc_session *session = session_;

    pc_session_drain(session);
    pc_session_free(session);
}

/* Resolves port name 'name' on switch 'ps' into '*id'.  Returns 0 or
 * -ENOENT after set_error(). */
static int
pc_port_resolve(struct pc_switch *ps, const char *name, uint32_t *id)
{
    struct pcap_capture *pc = ps->pc;
    struct vsw_ext_port_info info;

    memset(&info, 0, sizeof info);
    info.size = sizeof info;
    if (pc->host->port_lookup(pc->h, name, 0, &info) ||
        strcmp(info.switch_name, ps->name)) {
        pc->host->set_error(pc->h, "no port \"%s\" on switch %s", name,
                            ps->name);
        return -ENOENT;
    }
    *id = info.id;
    return 0;
}

/* Reads optional integer 'key' of 'config' into '*out', which keeps its
 * default when the key is absent.  Returns 0 or -EINVAL after
 * set_error(). */
static int
pc_config_uint(struct pcap_capture *pc, json_t *config, const char *key,
               uint32_t min, uint32_t max, uint32_t *out)
{
    json_t *value = json_object_get(config, key);

    if (!value) {
        return 0;
    }
    if (!json_is_integer(value) || json_integer_value(value) < min ||
        json_integer_value(value) > max) {
        pc->host->set_error(pc->h, "\"%s\" is an integer from %u to %u", key,
                            min, max);
        return -EINVAL;
    }
    *out = (uint32_t)json_integer_value(value);
    return 0;
}

/* Parses 'config' (a JSON object) for switch 'ps' into '*cfg'.  Strings
 * in '*cfg' point into 'config'.  Returns 0 or a negative errno after
 * set_error(). */
static int
pc_config_parse(struct pc_switch *ps, json_t *config, struct pc_config *cfg)
{
    static const char *const keys[] = {
        "file", "format", "ports", "direction", "sample", "snaplen", "ring"};
    struct pcap_capture *pc = ps->pc;
    const char *key, *format, *direction;
    json_t *value, *ports;
    uint32_t ring = PC_RING_DEFAULT;
    size_t i;

    memset(cfg, 0, sizeof *cfg);
    cfg->sample = 1;
    cfg->snaplen = PC_SNAPLEN_DEFAULT;
    cfg->dir_mask = 1u << VSW_EXT_DIR_INGRESS;
    if (!json_is_object(config)) {
        pc->host->set_error(pc->h, "configuration is not a JSON object");
        return -EINVAL;
    }
    json_object_foreach(config, key, value)
    {
        bool known = false;

        for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            known = known || !strcmp(key, keys[i]);
        }
        if (!known) {
            pc->host->set_error(pc->h, "unknown key \"%s\"", key);
            return -EINVAL;
        }
    }
    if (!json_object_size(config)) {
        /* `ext enable` starts with {}: idle until `ext config`. */
        cfg->dir_mask = 0;
        return 0;
    }
    cfg->file = json_string_value(json_object_get(config, "file"));
    if (!cfg->file || cfg->file[0] != '/' || strlen(cfg->file) >= PATH_MAX) {
        pc->host->set_error(pc->h, "\"file\" must be an absolute path");
        return -EINVAL;
    }
    format = json_string_value(json_object_get(config, "format"));
    if (json_object_get(config, "format") &&
        (!format || (strcmp(format, "pcap") && strcmp(format, "flowlog")))) {
        pc->host->set_error(pc->h, "\"format\" is \"pcap\" or \"flowlog\"");
        return -EINVAL;
    }
    cfg->format = format && !strcmp(format, "flowlog") ? PC_FORMAT_FLOWLOG
                                                       : PC_FORMAT_PCAP;
    direction = json_string_value(json_object_get(config, "direction"));
    if (direction && !strcmp(direction, "egress")) {
        cfg->dir_mask = 1u << VSW_EXT_DIR_EGRESS;
    } else if (direction && !strcmp(direction, "both")) {
        cfg->dir_mask = 1u << VSW_EXT_DIR_INGRESS | 1u << VSW_EXT_DIR_EGRESS;
    } else if (json_object_get(config, "direction") &&
               (!direction || strcmp(direction, "ingress"))) {
        pc->host->set_error(pc->h, "\"direction\" is \"ingress\", "
                                   "\"egress\" or \"both\"");
        return -EINVAL;
    }
    if (pc_config_uint(pc, config, "sample", 1, PC_SAMPLE_MAX, &cfg->sample) ||
        pc_config_uint(pc, config, "snaplen", PC_SNAPLEN_MIN, PC_SNAPLEN_MAX,
                       &cfg->snaplen) ||
        pc_config_uint(pc, config, "ring", PC_RING_MIN, PC_RING_MAX, &ring)) {
        return -EINVAL;
    }
    for (cfg->n_slots = PC_RING_MIN; cfg->n_slots < ring;) {
        cfg->n_slots *= 2;
    }
    ports = json_object_get(config, "ports");
    if (ports &&
        (!json_is_array(ports) || json_array_size(ports) > PC_PORTS_MAX)) {
        pc->host->set_error(pc->h,
                            "\"ports\" is an array of at most %d "
                            "port names",
                            PC_PORTS_MAX);
        return -EINVAL;
    }
    json_array_foreach(ports, i, value)
    {
        if (!json_is_string(value)) {
            pc->host->set_error(pc->h, "ports[%zu] is not a name", i);
            return -EINVAL;
        }
        if (pc_port_resolve(ps, json_string_value(value),
                            &cfg->ports[cfg->n_ports])) {
            return -ENOENT;
        }
        cfg->n_ports++;
    }
    return 0;
}

/* Makes a session for switch 'ps' from 'config_json'.  Returns it or
 * NULL after set_error(). */
static struct pc_session *
pc_session_create(struct pc_switch *ps, const char *config_json)
{
    struct pcap_capture *pc = ps->pc;
    struct pc_session *session = NULL;
    json_error_t jerr;
    json_t *config = json_loads(config_json, 0, &jerr);
    struct pc_config cfg;
    size_t slot_size;

    if (pc_config_parse(ps, config, &cfg)) {
        goto out;
    }
    slot_size = (sizeof(struct pc_record) + cfg.snaplen + 7) & ~(size_t)7;
    if ((size_t)cfg.n_slots * slot_size > PC_RING_BYTES_MAX) {
        pc->host->set_error(pc->h,
                            "ring of %u slots of %zu bytes is over %u MB "
                            "per worker; lower \"ring\" or \"snaplen\"",
                            cfg.n_slots, slot_size, PC_RING_BYTES_MAX >> 20);
        goto out;
    }
    session = calloc(1, sizeof *session);
    if (!session) {
        pc->host->set_error(pc->h, "out of memory");
        goto out;
    }
    session->ps = ps;
    ps->refs++;
    session->dir_mask = cfg.dir_mask;
    session->sample = cfg.sample;
    session->snaplen = cfg.snaplen;
    session->n_ports = cfg.n_ports;
    memcpy(session->ports, cfg.ports, sizeof cfg.ports);
    session->n_slots = cfg.n_slots;
    session->slot_size = (uint32_t)slot_size;
    if (!cfg.file) {
        goto out; /* idle: no rings, no file */
    }
    session->n_rings = ps->n_workers;
    session->rings = aligned_alloc(alignof(struct pc_ring),
                                   ps->n_workers * sizeof *session->rings);
    if (!session->rings) {
        pc->host->set_error(pc->h, "out of memory");
        pc_session_free(session);
        session = NULL;
        goto out;
    }
    memset(session->rings, 0, ps->n_workers * sizeof *session->rings);
    for (uint32_t i = 0; i < session->n_rings; i++) {
        session->rings[i].slots = malloc(cfg.n_slots * slot_size);
        if (!session->rings[i].slots) {
            pc->host->set_error(pc->h, "out of memory");
            pc_session_free(session);
            session = NULL;
            goto out;
        }
    }
    session->writer = pc_writer_get(pc, cfg.file, cfg.format);
    if (!session->writer) {
        pc_session_free(session);
        session = NULL;
    }
out:
    json_decref(config);
    return session;
}

/* True if 'session' captures a packet of 'port'. */
static inline bool
pc_port_wanted(const struct pc_session *session, uint32_t port)
{
    if (!session->n_ports) {
        return true;
    }
    for (uint32_t i = 0; i < session->n_ports; i++) {
        if (session->ports[i] == port) {
            return true;
        }
    }
    return false;
}

/* Worker: copies the sampled packets of a batch into the worker's ring.
 * Every verdict is CONTINUE. */
static void
pc_process(void *ext_data, void *sw_data, const struct vsw_ext_batch *batch)
{
    const struct pcap_capture *pc = ext_data;
    struct pc_switch *ps = sw_data;
    const struct pc_session *session =
        atomic_load_explicit(&ps->session, memory_order_acquire);
    bool ingress = batch->direction == VSW_EXT_DIR_INGRESS;
    struct pc_worker *w;
    struct pc_ring *ring;
    uint64_t ts_ns = 0;

    for (uint32_t i = 0; i < batch->count; i++) {
        batch->verdicts[i] = VSW_EXT_VERDICT_CONTINUE;
    }
    if (batch->worker >= ps->n_workers) {
        pc->host->set_error(pc->h, "worker %u of %u", batch->worker,
                            ps->n_workers);
        return;
    }
    if (!session || batch->direction >= 32 ||
        !(session->dir_mask & 1u << batch->direction)) {
        return;
    }
    w = &ps->workers[batch->worker];
    ring = &session->rings[batch->worker];
    for (uint32_t i = 0; i < batch->count; i++) {
        const struct vsw_ext_packet *pkt = batch->pkts[i];
        uint32_t head, tail;
        struct pc_record *r;

        if (!pc_port_wanted(session, ingress ? pkt->in_port : pkt->out_port) ||
            ++w->seen % session->sample) {
            continue;
        }
        atomic_store_explicit(
            &w->sampled,
            atomic_load_explicit(&w->sampled, memory_order_relaxed) + 1,
            memory_order_relaxed);
        head = atomic_load_explicit(&ring->head, memory_order_relaxed);
        tail = atomic_load_explicit(&ring->tail, memory_order_acquire);
        if (head - tail >= session->n_slots) {
            atomic_store_explicit(
                &w->ring_full,
                atomic_load_explicit(&w->ring_full, memory_order_relaxed) + 1,
                memory_order_relaxed);
            continue;
        }
        if (!ts_ns) {
            struct timespec ts;

            clock_gettime(CLOCK_REALTIME, &ts);
            ts_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        }
        r = (struct pc_record *)(ring->slots +
                                 (size_t)(head & (session->n_slots - 1)) *
                                     session->slot_size);
        r->ts_ns = ts_ns;
        r->orig_len = pkt->len;
        r->cap_len = pkt->len < session->snaplen ? pkt->len : session->snaplen;
        r->in_port = pkt->in_port;
        r->out_port = ingress ? VSW_EXT_NO_PORT : pkt->out_port;
        r->rate = session->sample;
        r->vlan = pkt->vlan;
        r->direction = (uint8_t)batch->direction;
        r->reserved = 0;
        memcpy(r->data, pkt->data, r->cap_len);
        /* The record is complete before the consumer can see it. */
        atomic_store_explicit(&ring->head, head + 1, memory_order_release);
    }
}

/* Timer: drains every switch's current session. */
static void
pc_drain_tick(void *pc_)
{
    struct pcap_capture *pc = pc_;

    for (struct pc_switch *ps = pc->switches; ps; ps = ps->next) {
        struct pc_session *session =
            atomic_load_explicit(&ps->session, memory_order_acquire);

        if (session) {
            pc_session_drain(session);
        }
    }
}

/* Enabled on a switch: a first session from 'config_json'. */
static int
pc_start(void *ext_data, const struct vsw_ext_switch_info *sw,
         const char *config_json, void **sw_data)
{
    struct pcap_capture *pc = ext_data;
    struct pc_switch *ps = calloc(1, sizeof *ps);
    struct pc_session *session;
    uint32_t n_workers = sw->n_workers ? sw->n_workers : 1;

    if (!ps) {
        pc->host->set_error(pc->h, "out of memory");
        return -ENOMEM;
    }
    ps->pc = pc;
    ps->refs = 1;
    snprintf(ps->name, sizeof ps->name, "%s", sw->name);
    ps->n_workers = n_workers;
    ps->workers = aligned_alloc(alignof(struct pc_worker),
                                n_workers * sizeof *ps->workers);
    if (!ps->workers) {
        pc->host->set_error(pc->h, "out of memory");
        free(ps);
        return -ENOMEM;
    }
    memset(ps->workers, 0, n_workers * sizeof *ps->workers);
    session = pc_session_create(ps, config_json);
    if (!session) {
        pc_switch_unref(ps);
        return -EINVAL;
    }
    atomic_init(&ps->session, session);
    ps->next = pc->switches;
    pc->switches = ps;
    *sw_data = ps;
    return 0;
}

/* Disabled on a switch: no 'process' call is running, so the current
 * session is drained and closed at once. */
static void
pc_stop(void *ext_data, void *sw_data)
{
    struct pcap_capture *pc = ext_data;
    struct pc_switch *ps = sw_data;
    struct pc_session *session =
        atomic_exchange_explicit(&ps->session, NULL, memory_order_acq_rel);

    for (struct pc_switch **p = &pc->switches; *p; p = &(*p)->next) {
        if (*p == ps) {
            *p = ps->next;
            break;
        }
    }
    if (session) {
        pc_session_retire(session);
    }
    pc_switch_unref(ps);
}

/* A new configuration: a new session; the old one is retired once no
 * worker can write to it. */
static int
pc_configure(void *ext_data, void *sw_data, const char *config_json)
{
    struct pcap_capture *pc = ext_data;
    struct pc_switch *ps = sw_data;
    struct pc_session *session = pc_session_create(ps, config_json);
    struct pc_session *old;

    if (!session) {
        return -EINVAL;
    }
    old =
        atomic_exchange_explicit(&ps->session, session, memory_order_acq_rel);
    if (old) {
        pc->host->defer_free(pc->h, pc_session_retire, old);
    }
    return 0;
}

/* `ext stats`: sampled, written and lost records of a switch. */
static int
pc_stats(void *ext_data, void *sw_data, struct vsw_ext_reply *reply)
{
    const struct pcap_capture *pc = ext_data;
    const struct pc_switch *ps = sw_data;
    uint64_t sampled = 0, ring_full = 0;
    char json[256];

    for (uint32_t i = 0; i < ps->n_workers; i++) {
        sampled += atomic_load_explicit(&ps->workers[i].sampled,
                                        memory_order_relaxed);
        ring_full += atomic_load_explicit(&ps->workers[i].ring_full,
                                          memory_order_relaxed);
    }
    snprintf(json, sizeof json,
             "{\"sampled\":%" PRIu64 ",\"written\":%" PRIu64
             ",\"ring_full\":%" PRIu64 ",\"write_errors\":%" PRIu64 "}",
             sampled, ps->written, ring_full, ps->write_errors);
    return pc->host->reply_set(reply, json);
}

/* Called once when the daemon shuts down; every switch stopped before. */
static void
pc_fini(void *ext_data)
{
    struct pcap_capture *pc = ext_data;

    pc->host->timer_cancel(pc->drain);
    while (pc->switches) {
        pc_stop(pc, pc->switches);
    }
    free(pc);
}

/* Called once after the host checked the plugin: the drain timer. */
static int
pc_init(struct vsw_ext_handle *h, const struct vsw_ext_host *host,
        void **ext_data)
{
    struct pcap_capture *pc = calloc(1, sizeof *pc);

    if (!pc) {
        host->set_error(h, "out of memory");
        return -ENOMEM;
    }
    pc->h = h;
    pc->host = host;
    pc->drain = host->timer_add(h, PC_DRAIN_MS, 1, pc_drain_tick, pc);
    if (!pc->drain) {
        host->set_error(h, "cannot add a timer");
        free(pc);
        return -ENOMEM;
    }
    *ext_data = pc;
    return 0;
}

static const struct vsw_ext_ops pc_ops = {
    .size = sizeof(struct vsw_ext_ops),
    .fini = pc_fini,
    .start = pc_start,
    .stop = pc_stop,
    .configure = pc_configure,
    .process = pc_process,
    .stats = pc_stats,
};

VSW_EXTENSION_DESCRIPTOR(VSW_EXT_CLASS_CAPTURE, 0, "pcap-capture", "1.0",
                         "writes sampled packets to a pcap file or flow log",
                         &pc_ops, pc_init);
