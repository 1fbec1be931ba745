/*
 * The etcd client (issue 13, part 2): this host's tenant mappings shared
 * with the other hosts through an etcd v3 cluster.
 *
 * It speaks etcd's v3 JSON gateway (HTTP/1.1 POSTs of JSON with base64
 * keys and values) through libcurl's multi interface, whose sockets and
 * timers are events of the control thread's libevent loop: no thread of
 * its own, no call that blocks.
 *
 * The daemon publishes its keys (the host key, and what the caller adds
 * with vsw_etcd_publish()) attached to one lease, kept alive every TTL/3,
 * so that they vanish when the host dies.  It reads the whole prefix
 * once (range at revision R), then watches it from R+1, so no change is
 * missed; on any failure it moves to the next endpoint, with a bounded
 * backoff once every endpoint has failed, and resynchronises (range
 * again, the difference applied).  While etcd is unreachable nothing
 * learned is forgotten: forwarding goes on with the last known mappings.
 *
 * The key layout is documented in docs/architecture.md ("Sharing tenant
 * mappings through etcd"); every key is relative to the prefix
 * VSW_ETCD_PREFIX.
 *
 * Threads: control thread only.
 */
#ifndef VSW_ETCD_H
#define VSW_ETCD_H 1

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct event_base;
struct vsw_etcd;

#define VSW_ETCD_PREFIX        "/vswitch/v1/"
#define VSW_ETCD_LEASE_TTL     10 /* seconds; kept alive every TTL/3 */
#define VSW_ETCD_MAX_ENDPOINTS 8
#define VSW_ETCD_HOST_ID_MAX   63

struct vsw_etcd_options {
    const char *endpoints; /* "http://IP:PORT[,http://...]" */
    const char *host_id;   /* this host's name in the keys */
};

/* What a key of another host says (vsw_etcd_listener). */
enum vsw_etcd_mapping_kind {
    VSW_ETCD_HOST, /* hosts/<host>: the host is alive */
    VSW_ETCD_VTEP, /* vni/<vni>/vteps/<host>: a VTEP of VNI 'vni' */
    VSW_ETCD_MAC,  /* vni/<vni>/macs/<mac>/<host>: 'mac' of 'vni' is
                      behind VTEP 'vtep' */
};

struct vsw_etcd_mapping {
    enum vsw_etcd_mapping_kind kind;     /* which key shape */
    char host[VSW_ETCD_HOST_ID_MAX + 1]; /* the host that published it */
    uint32_t vni;                        /* VTEP and MAC keys */
    uint8_t mac[6];                      /* MAC keys */
    bool has_vtep;                       /* 'vtep' is set */
    struct in_addr vtep;                 /* the host's tunnel address */
    int64_t mod_revision;                /* etcd revision of the value */
};

/* Called for every change of another host's mapping: 'present' false
 * when it went away (the key was deleted, expired with its lease, or was
 * overwritten by a malformed value); a changed value comes as the old one
 * going, then the new one.  It may be called from inside libcurl's
 * handling of the watch stream: it may call vsw_etcd_publish() (which
 * only schedules the sending) but must not destroy the client. */
typedef void vsw_etcd_listener(void *aux, const struct vsw_etcd_mapping *m,
                               bool present);

/* Checks a --etcd value: 1 to VSW_ETCD_MAX_ENDPOINTS comma-separated
 * http:// or https:// URLs.  Returns 0, or -EINVAL with the reason in
 * 'err'. */
int vsw_etcd_check_endpoints(const char *urls, char *err, size_t errlen);

/* Checks a host id: 1 to VSW_ETCD_HOST_ID_MAX of [A-Za-z0-9._-]. */
int vsw_etcd_check_host_id(const char *host_id, char *err, size_t errlen);

/* Creates the client and starts connecting (in the background).  Returns
 * 0 and stores it in '*etcdp', or a negative errno with a message. */
int vsw_etcd_create(struct event_base *base,
                    const struct vsw_etcd_options *opts,
                    struct vsw_etcd **etcdp, char *err, size_t errlen);

/* Stops every request and frees 'etcd'; the keys stay until the lease
 * expires (a restart within the TTL does not make the host flap).  NULL
 * is allowed. */
void vsw_etcd_destroy(struct vsw_etcd *etcd);

/* Sets the function told about other hosts' mappings; it is first
 * called for every mapping already learned. */
void vsw_etcd_set_listener(struct vsw_etcd *etcd, vsw_etcd_listener *fn,
                           void *aux);

/* Publishes 'value' (a JSON text) under 'key' (relative to the prefix)
 * with this host's lease, or deletes the key if 'value' is NULL.  Sent
 * at once when connected, else at the next connection. */
void vsw_etcd_publish(struct vsw_etcd *etcd, const char *key,
                      const char *value);

/* This host's id (the keys it owns end with it). */
const char *vsw_etcd_host_id(const struct vsw_etcd *etcd);

/* The state etcd.show reports (a new object; NULL if out of memory). */
json_t *vsw_etcd_status(const struct vsw_etcd *etcd);

/* The default host id: the hostname, its characters that a host id may
 * not hold made '-'. */
void vsw_etcd_default_host_id(char *id, size_t size);

/* Parses a key (relative to the prefix) and its value into 'm'.  Returns
 * 0, or -EINVAL for a key or value that is not of the layout. */
int vsw_etcd_parse_mapping(const char *key, const char *value,
                           struct vsw_etcd_mapping *m);

#endif /* VSW_ETCD_H */
