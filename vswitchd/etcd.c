/*
 * The etcd client: etcd's v3 JSON gateway through libcurl's multi
 * interface, driven by the control thread's libevent loop (see etcd.h).
 *
 * A connection to one endpoint goes through these steps:
 *
 *   lease      keepalive of the lease we hold (it survives a member that
 *              goes down), or a new grant when there is none or it expired;
 *   sync       every key of ours put with the lease and every deletion
 *              still owed, in parallel with a range over the prefix at its
 *              current revision R, whose result replaces what was learned
 *              (the difference goes to the listener);
 *   watch      one long-lived stream of the prefix from R+1: the events
 *              arrive as newline-separated JSON texts.
 *
 * A keepalive runs every TTL/3 on the same endpoint, which also proves it
 * alive.  Any failure (a transport error, an HTTP status other than 200,
 * an answer that makes no sense, the stream ending or being canceled by a
 * compaction) cancels every request and starts again on the next endpoint:
 * at once, unless every endpoint failed in a row, then after a backoff
 * that doubles from 250 ms up to 5 s.
 */
#include "etcd.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "timeutil.h"

#define ETCD_CONNECT_TIMEOUT_MS 1000
#define ETCD_REQUEST_TIMEOUT_MS 3000
#define ETCD_BACKOFF_MIN_MS     250
#define ETCD_BACKOFF_MAX_MS     5000
#define ETCD_MAX_RESPONSE       (64u << 20) /* a range of a big prefix */

enum etcd_state {
    ETCD_DISCONNECTED, /* waiting to try the next endpoint */
    ETCD_LEASING,      /* keepalive or grant in flight */
    ETCD_SYNCING,      /* puts and the range in flight */
    ETCD_WATCHING,     /* watch stream open: connected */
};

static const char *const state_names[] = {
    [ETCD_DISCONNECTED] = "unreachable",
    [ETCD_LEASING] = "connecting",
    [ETCD_SYNCING] = "syncing",
    [ETCD_WATCHING] = "connected",
};

enum etcd_req_kind {
    REQ_GRANT,
    REQ_KEEPALIVE,
    REQ_PUT,
    REQ_DELETE,
    REQ_RANGE,
    REQ_WATCH,
};

struct etcd_req {
    struct vsw_etcd *etcd;        /* owner */
    enum etcd_req_kind kind;      /* what to do with the answer */
    CURL *easy;                   /* the transfer */
    char *body;                   /* answer so far (watch: unparsed tail) */
    size_t len, cap;              /* bytes in 'body', its size */
    char *key;                    /* REQ_PUT, REQ_DELETE: our key */
    char *value;                  /* REQ_PUT: the value sent */
    bool aborted;                 /* watch: we stopped it (reason in etcd) */
    struct etcd_req *next;        /* in the owner's list of active requests */
    char errbuf[CURL_ERROR_SIZE]; /* libcurl's message */
};

struct vsw_etcd {
    struct event_base *base;       /* control thread's loop */
    CURLM *multi;                  /* every transfer */
    struct curl_slist *headers;    /* Content-Type: application/json */
    struct event *curl_timer;      /* libcurl's timeout */
    struct event *retry_timer;     /* next connection attempt */
    struct event *keepalive_timer; /* every TTL/3 */
    struct event *flush_event;     /* sends changes of our keys */
    char *endpoints[VSW_ETCD_MAX_ENDPOINTS]; /* URLs, no trailing '/' */
    size_t n_endpoints;                      /* entries in 'endpoints' */
    size_t endpoint;                         /* index in use or to try next */
    size_t failures_in_row; /* endpoints failed since last success */
    int backoff_ms;         /* current backoff, 0 before one */
    char host_id[VSW_ETCD_HOST_ID_MAX + 1]; /* our name in the keys */
    enum etcd_state state;                  /* see enum etcd_state */
    struct etcd_req *reqs;                  /* active requests */
    int64_t lease;                          /* our lease, 0 if none */
    int64_t lease_ttl;                      /* as granted */
    int64_t revision;       /* last revision seen of the prefix */
    unsigned syncs_pending; /* puts, deletes and range of a sync */
    json_t *desired;        /* our keys: key → value text */
    json_t *published;      /* our keys confirmed: key → value */
    json_t *deletions;      /* our keys to delete: key → true */
    json_t *acked;          /* our keys etcd confirmed since the
                               connection: key → value */
    json_t *learned;        /* others' keys: key → [value, rev] */
    uint64_t malformed;     /* values under the prefix refused */
    struct vsw_log_ratelimit malformed_rl; /* their log messages */
    uint64_t reconnects;                   /* connections lost or refused */
    uint64_t resyncs;                      /* ranges after the first */
    uint64_t leases_granted;     /* grants (more than one: re-granted) */
    int64_t connected_since_ms;  /* when the watch opened, 0 if not */
    char last_error[256];        /* why the last connection failed */
    vsw_etcd_listener *listener; /* told of others' mappings */
    void *listener_aux;          /* its argument */
};

static void etcd_connect(struct vsw_etcd *);
static void etcd_fail(struct vsw_etcd *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Base64 (RFC 4648, with padding): the gateway's encoding of bytes. */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Returns 'len' bytes of 'data' in base64, NUL-terminated (free()). */
static char *
b64_encode(const void *data, size_t len)
{
    const unsigned char *in = data;
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    char *p = out;

    if (!out) {
        return NULL;
    }
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;

        if (i + 1 < len) {
            v |= (uint32_t)in[i + 1] << 8;
        }
        if (i + 2 < len) {
            v |= in[i + 2];
        }
        *p++ = b64_alphabet[(v >> 18) & 63];
        *p++ = b64_alphabet[(v >> 12) & 63];
        *p++ = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
        *p++ = i + 2 < len ? b64_alphabet[v & 63] : '=';
    }
    *p = '\0';
    return out;
}

static int
b64_value(char c)
{
    const char *p = c ? strchr(b64_alphabet, c) : NULL;

    return p ? (int)(p - b64_alphabet) : -1;
}

/* Decodes base64 text 'in' into a new NUL-terminated string (free()),
 * storing its length in '*lenp'.  NULL if 'in' is not base64. */
static char *
b64_decode(const char *in, size_t *lenp)
{
    size_t n = strlen(in);
    char *out, *p;

    if (n % 4) {
        return NULL;
    }
    out = malloc(n / 4 * 3 + 1);
    if (!out) {
        return NULL;
    }
    p = out;
    for (size_t i = 0; i < n; i += 4) {
        int a = b64_value(in[i]), b = b64_value(in[i + 1]);
        int c = in[i + 2] == '=' ? 0 : b64_value(in[i + 2]);
        int d = in[i + 3] == '=' ? 0 : b64_value(in[i + 3]);
        bool last = i + 4 == n;

        if (a < 0 || b < 0 || c < 0 || d < 0 ||
            (!last && (in[i + 2] == '=' || in[i + 3] == '=')) ||
            (in[i + 2] == '=' && in[i + 3] != '=')) {
            free(out);
            return NULL;
        }
        *p++ = (char)((a << 2) | (b >> 4));
        if (in[i + 2] != '=') {
            *p++ = (char)(((b & 15) << 4) | (c >> 2));
        }
        if (in[i + 3] != '=') {
            *p++ = (char)(((c & 3) << 6) | d);
        }
    }
    *p = '\0';
    *lenp = (size_t)(p - out);
    return out;
}

/* The gateway writes 64-bit integers as strings ("revision":"12"); reads
 * member 'name' of 'obj' either way.  Returns 'def' if absent or bad. */
static int64_t
json_int64(const json_t *obj, const char *name, int64_t def)
{
    const json_t *v = json_object_get(obj, name);
    const char *s;
    char *end;
    long long n;

    if (json_is_integer(v)) {
        return json_integer_value(v);
    }
    if (!json_is_string(v)) {
        return def;
    }
    s = json_string_value(v);
    errno = 0;
    n = strtoll(s, &end, 10);
    return *s && !*end && !errno ? n : def;
}

/* Checks and options. */

int
vsw_etcd_check_endpoints(const char *urls, char *err, size_t errlen)
{
    const char *p = urls;
    size_t n = 0;

    if (!urls || !*urls) {
        snprintf(err, errlen, "no etcd endpoint given");
        return -EINVAL;
    }
    while (*p) {
        size_t len = strcspn(p, ",");
        const char *host;

        if (++n > VSW_ETCD_MAX_ENDPOINTS) {
            snprintf(err, errlen, "more than %d etcd endpoints",
                     VSW_ETCD_MAX_ENDPOINTS);
            return -EINVAL;
        }
        if (!strncmp(p, "http://", 7)) {
            host = p + 7;
        } else if (!strncmp(p, "https://", 8)) {
            host = p + 8;
        } else {
            snprintf(err, errlen,
                     "etcd endpoint '%.*s' is not an http:// or https:// "
                     "URL",
                     (int)(len > 100 ? 100 : len), p);
            return -EINVAL;
        }
        if (len > 200 || host >= p + len || *host == '/' || *host == ':' ||
            strcspn(p, " \t\n\"\\") < len) {
            snprintf(err, errlen,
                     "etcd endpoint '%.*s' has no host, or a space, quote "
                     "or backslash, or is over 200 characters",
                     (int)(len > 100 ? 100 : len), p);
            return -EINVAL;
        }
        p += len;
        if (*p == ',') {
            p++;
            if (!*p) {
                snprintf(err, errlen, "etcd endpoint list ends with ','");
                return -EINVAL;
            }
        }
    }
    return 0;
}

int
vsw_etcd_check_host_id(const char *host_id, char *err, size_t errlen)
{
    size_t len = host_id ? strlen(host_id) : 0;

    if (len < 1 || len > VSW_ETCD_HOST_ID_MAX ||
        strspn(host_id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                        "0123456789._-") != len ||
        !strcmp(host_id, ".") || !strcmp(host_id, "..")) {
        snprintf(err, errlen,
                 "host id '%.80s' is not 1 to %d of letters, digits, '.', "
                 "'_' and '-'",
                 host_id ? host_id : "", VSW_ETCD_HOST_ID_MAX);
        return -EINVAL;
    }
    return 0;
}

/* The key layout. */

static int
parse_vni(const char *s, size_t len, uint32_t *vni)
{
    uint32_t v = 0;

    if (len < 1 || len > 8 || s[0] == '0') {
        return -EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -EINVAL;
        }
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    if (v > 16777215) {
        return -EINVAL;
    }
    *vni = v;
    return 0;
}

/* "aa:bb:cc:dd:ee:ff", lower case (one spelling per MAC, one key). */
static int
parse_mac(const char *s, size_t len, uint8_t mac[6])
{
    if (len != 17) {
        return -EINVAL;
    }
    for (int i = 0; i < 6; i++) {
        unsigned v = 0;

        for (int j = 0; j < 2; j++) {
            char c = s[3 * i + j];

            if (c >= '0' && c <= '9') {
                v = v * 16 + (unsigned)(c - '0');
            } else if (c >= 'a' && c <= 'f') {
                v = v * 16 + (unsigned)(c - 'a' + 10);
            } else {
                return -EINVAL;
            }
        }
        if (i < 5 && s[3 * i + 2] != ':') {
            return -EINVAL;
        }
        mac[i] = (uint8_t)v;
    }
    return 0;
}

static int
parse_host(const char *s, size_t len, char host[VSW_ETCD_HOST_ID_MAX + 1])
{
    char err[160];

    if (len < 1 || len > VSW_ETCD_HOST_ID_MAX) {
        return -EINVAL;
    }
    memcpy(host, s, len);
    host[len] = '\0';
    return vsw_etcd_check_host_id(host, err, sizeof err);
}

/* Splits 'key' at '/' into at most 'max' parts; returns their number, or
 * max + 1 if there are more. */
static size_t
split_key(const char *key, const char *parts[], size_t lens[], size_t max)
{
    size_t n = 0;

    for (const char *p = key;; p++) {
        size_t len = strcspn(p, "/");

        if (n == max) {
            return max + 1;
        }
        parts[n] = p;
        lens[n++] = len;
        p += len;
        if (!*p) {
            return n;
        }
    }
}

int
vsw_etcd_parse_mapping(const char *key, const char *value,
                       struct vsw_etcd_mapping *m)
{
    const char *parts[5];
    size_t lens[5];
    size_t n = split_key(key, parts, lens, 5);
    json_t *root, *vtep;
    int error = 0;

    memset(m, 0, sizeof *m);
    if (n == 2 && lens[0] == 5 && !strncmp(parts[0], "hosts", 5)) {
        m->kind = VSW_ETCD_HOST;
        error = parse_host(parts[1], lens[1], m->host);
    } else if (n == 4 && lens[0] == 3 && !strncmp(parts[0], "vni", 3) &&
               lens[2] == 5 && !strncmp(parts[2], "vteps", 5)) {
        m->kind = VSW_ETCD_VTEP;
        error = parse_vni(parts[1], lens[1], &m->vni);
        if (!error) {
            error = parse_host(parts[3], lens[3], m->host);
        }
    } else if (n == 5 && lens[0] == 3 && !strncmp(parts[0], "vni", 3) &&
               lens[2] == 4 && !strncmp(parts[2], "macs", 4)) {
        m->kind = VSW_ETCD_MAC;
        error = parse_vni(parts[1], lens[1], &m->vni);
        if (!error) {
            error = parse_mac(parts[3], lens[3], m->mac);
        }
        if (!error) {
            error = parse_host(parts[4], lens[4], m->host);
        }
    } else {
        return -EINVAL;
    }
    if (error) {
        return error;
    }

    /* The value: a JSON object; "vtep" (an IPv4 address) is required but
     * for host keys.  Other members are allowed, for later versions. */
    root = json_loads(value, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return -EINVAL;
    }
    vtep = json_object_get(root, "vtep");
    if (vtep) {
        if (!json_is_string(vtep) ||
            inet_pton(AF_INET, json_string_value(vtep), &m->vtep) != 1) {
            error = -EINVAL;
        }
        m->has_vtep = true;
    } else if (m->kind != VSW_ETCD_HOST) {
        error = -EINVAL;
    }
    json_decref(root);
    return error;
}

/* Requests. */

static size_t
req_write_cb(char *data, size_t size, size_t nmemb, void *req_)
{
    struct etcd_req *req = req_;
    size_t n = size * nmemb;

    if (req->len + n + 1 > ETCD_MAX_RESPONSE) {
        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    }
    if (req->len + n + 1 > req->cap) {
        size_t cap = req->cap ? req->cap : 4096;
        char *body;

        while (cap < req->len + n + 1) {
            cap *= 2;
        }
        body = realloc(req->body, cap);
        if (!body) {
            return 0;
        }
        req->body = body;
        req->cap = cap;
    }
    memcpy(req->body + req->len, data, n);
    req->len += n;
    req->body[req->len] = '\0';
    return n;
}

static void watch_consume(struct etcd_req *req);

static size_t
watch_write_cb(char *data, size_t size, size_t nmemb, void *req_)
{
    struct etcd_req *req = req_;
    size_t n = req_write_cb(data, size, nmemb, req_);

    if (n == 0) {
        return 0;
    }
    watch_consume(req);
    return req->aborted ? 0 : n;
}

static void
req_free(struct etcd_req *req)
{
    if (req) {
        if (req->easy) {
            curl_multi_remove_handle(req->etcd->multi, req->easy);
            curl_easy_cleanup(req->easy);
        }
        free(req->body);
        free(req->key);
        free(req->value);
        free(req);
    }
}

static void
req_unlink(struct etcd_req *req)
{
    struct etcd_req **p = &req->etcd->reqs;

    while (*p && *p != req) {
        p = &(*p)->next;
    }
    if (*p) {
        *p = req->next;
    }
}

/* Starts a POST of 'body' (consumed: json_decref()) to 'path' of the
 * endpoint in use.  Returns the request, or NULL (connection failed). */
static struct etcd_req *
req_start(struct vsw_etcd *etcd, enum etcd_req_kind kind, const char *path,
          json_t *body)
{
    struct etcd_req *req = calloc(1, sizeof *req);
    char url[512];
    char *text = json_dumps(body, JSON_COMPACT);

    json_decref(body);
    if (!req || !text || !(req->easy = curl_easy_init())) {
        free(text);
        free(req);
        etcd_fail(etcd, "out of memory");
        return NULL;
    }
    req->etcd = etcd;
    req->kind = kind;
    snprintf(url, sizeof url, "%s%s", etcd->endpoints[etcd->endpoint], path);
    curl_easy_setopt(req->easy, CURLOPT_URL, url);
    curl_easy_setopt(req->easy, CURLOPT_COPYPOSTFIELDS, text);
    curl_easy_setopt(req->easy, CURLOPT_HTTPHEADER, etcd->headers);
    curl_easy_setopt(req->easy, CURLOPT_PRIVATE, req);
    curl_easy_setopt(req->easy, CURLOPT_WRITEDATA, req);
    curl_easy_setopt(req->easy, CURLOPT_WRITEFUNCTION,
                     kind == REQ_WATCH ? watch_write_cb : req_write_cb);
    curl_easy_setopt(req->easy, CURLOPT_ERRORBUFFER, req->errbuf);
    curl_easy_setopt(req->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(req->easy, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)ETCD_CONNECT_TIMEOUT_MS);
    /* The watch lives as long as the connection; the keepalive on the
     * same endpoint tells whether that endpoint still answers. */
    if (kind != REQ_WATCH) {
        curl_easy_setopt(req->easy, CURLOPT_TIMEOUT_MS,
                         (long)ETCD_REQUEST_TIMEOUT_MS);
    }
    curl_easy_setopt(req->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    free(text);
    if (curl_multi_add_handle(etcd->multi, req->easy) != CURLM_OK) {
        req_free(req);
        etcd_fail(etcd, "cannot start a transfer");
        return NULL;
    }
    req->next = etcd->reqs;
    etcd->reqs = req;
    return req;
}

static void
cancel_all(struct vsw_etcd *etcd)
{
    while (etcd->reqs) {
        struct etcd_req *req = etcd->reqs;

        etcd->reqs = req->next;
        req_free(req);
    }
}

/* Another host's mappings. */

static void
tell_listener(struct vsw_etcd *etcd, const char *key, const char *value,
              int64_t rev, bool present)
{
    struct vsw_etcd_mapping m;

    if (etcd->listener && !vsw_etcd_parse_mapping(key, value, &m)) {
        m.mod_revision = rev;
        etcd->listener(etcd->listener_aux, &m, present);
    }
}

/* Forgets 'key' (deleted, expired, or now malformed). */
static void
learned_remove(struct vsw_etcd *etcd, const char *key)
{
    json_t *old = json_object_get(etcd->learned, key);
    char *copy;

    if (old) {
        /* 'key' may be the learned set's own copy, freed by the del. */
        copy = strdup(key);
        json_incref(old);
        json_object_del(etcd->learned, key);
        if (copy) {
            tell_listener(etcd, copy,
                          json_string_value(json_array_get(old, 0)),
                          json_integer_value(json_array_get(old, 1)), false);
        }
        free(copy);
        json_decref(old);
    }
}

/* Is 'key' (relative) one of ours?  Ours end with "/<host-id>" and are
 * not learned: we know them better than etcd does. */
static bool
key_is_ours(const struct vsw_etcd *etcd, const char *key)
{
    size_t klen = strlen(key), hlen = strlen(etcd->host_id);

    return klen > hlen && key[klen - hlen - 1] == '/' &&
           !strcmp(key + klen - hlen, etcd->host_id);
}

/* Logs a malformed key (another tool's, so possibly anything: its bytes
 * that are not printable ASCII become '?', and a flood is rate-limited). */
static void
log_malformed(struct vsw_etcd *etcd, const char *key)
{
    char clean[201];
    size_t i;

    for (i = 0; key[i] && i < sizeof clean - 1; i++) {
        clean[i] = key[i] >= 0x20 && key[i] < 0x7f ? key[i] : '?';
    }
    clean[i] = '\0';
    vsw_log_rl(&etcd->malformed_rl, VSW_LOG_WARN,
               "etcd: ignoring the malformed key or value of %s", clean);
}

/* One key/value under the prefix, from a range or a watch event, into
 * 'into' (the learned set being built, or the live one).  Returns false
 * for a malformed one, which is counted and left out. */
static bool
learn_kv(struct vsw_etcd *etcd, json_t *into, const json_t *kv, bool tell)
{
    const char *key64 = json_string_value(json_object_get(kv, "key"));
    const char *value64 = json_string_value(json_object_get(kv, "value"));
    int64_t rev = json_int64(kv, "mod_revision", 0);
    struct vsw_etcd_mapping m;
    char *key = NULL, *value = NULL;
    const char *rel;
    json_t *old;
    size_t klen, vlen = 0;
    bool ok = false;

    key = key64 ? b64_decode(key64, &klen) : NULL;
    if (!key || strlen(key) != klen ||
        strncmp(key, VSW_ETCD_PREFIX, strlen(VSW_ETCD_PREFIX))) {
        goto out; /* not under the prefix: not for us */
    }
    rel = key + strlen(VSW_ETCD_PREFIX);
    if (key_is_ours(etcd, rel)) {
        ok = true;
        goto out;
    }
    value = b64_decode(value64 ? value64 : "", &vlen);
    if (!value || strlen(value) != vlen ||
        vsw_etcd_parse_mapping(rel, value, &m)) {
        etcd->malformed++;
        log_malformed(etcd, key);
        if (tell) {
            learned_remove(etcd, rel);
        }
        goto out;
    }
    old = json_object_get(into, rel);
    if (!old || strcmp(json_string_value(json_array_get(old, 0)), value)) {
        if (tell && old) {
            learned_remove(etcd, rel); /* the listener forgets the old */
        }
        json_object_set_new(into, rel,
                            json_pack("[sI]", value, (json_int_t)rev));
        if (tell) {
            tell_listener(etcd, rel, value, rev, true);
        }
    }
    ok = true;
out:
    free(key);
    free(value);
    return ok;
}

/* A watch DELETE event (also a lease that expired). */
static void
forget_kv(struct vsw_etcd *etcd, const json_t *kv)
{
    const char *key64 = json_string_value(json_object_get(kv, "key"));
    char *key;
    size_t klen;

    key = key64 ? b64_decode(key64, &klen) : NULL;
    if (key && strlen(key) == klen &&
        !strncmp(key, VSW_ETCD_PREFIX, strlen(VSW_ETCD_PREFIX))) {
        learned_remove(etcd, key + strlen(VSW_ETCD_PREFIX));
    }
    free(key);
}

/* Replaces the learned set by 'fresh' (a complete range), telling the
 * listener only what changed. */
static void
learned_replace(struct vsw_etcd *etcd, json_t *fresh)
{
    const char *key;
    json_t *value, *old;
    void *tmp;

    json_object_foreach_safe(etcd->learned, tmp, key, value)
    {
        if (!json_object_get(fresh, key)) {
            learned_remove(etcd, key);
        }
    }
    json_object_foreach(fresh, key, value)
    {
        const char *text = json_string_value(json_array_get(value, 0));

        old = json_object_get(etcd->learned, key);
        if (!old || strcmp(json_string_value(json_array_get(old, 0)), text)) {
            if (old) {
                learned_remove(etcd, key);
            }
            json_object_set(etcd->learned, key, value);
            tell_listener(etcd, key, text,
                          json_integer_value(json_array_get(value, 1)), true);
        }
    }
}

/* The steps of a connection. */

static json_t *
b64_json(const char *s)
{
    char *enc = b64_encode(s, strlen(s));
    json_t *j = json_string(enc ? enc : "");

    free(enc);
    return j;
}

/* The range end of our prefix: the prefix with its last byte plus one
 * ("/vswitch/v1/" → "/vswitch/v10"), i.e. every key that starts with it. */
static json_t *
prefix_range(bool with_end)
{
    char end[sizeof VSW_ETCD_PREFIX];
    json_t *body = json_object();

    json_object_set_new(body, "key", b64_json(VSW_ETCD_PREFIX));
    if (with_end) {
        memcpy(end, VSW_ETCD_PREFIX, sizeof end);
        end[sizeof end - 2]++;
        json_object_set_new(body, "range_end", b64_json(end));
    }
    return body;
}

static void
send_put(struct vsw_etcd *etcd, const char *key, const char *value)
{
    char full[512];
    json_t *body = json_object();
    struct etcd_req *req;

    snprintf(full, sizeof full, "%s%s", VSW_ETCD_PREFIX, key);
    json_object_set_new(body, "key", b64_json(full));
    if (value) {
        char lease[32];

        snprintf(lease, sizeof lease, "%lld", (long long)etcd->lease);
        json_object_set_new(body, "value", b64_json(value));
        json_object_set_new(body, "lease", json_string(lease));
    }
    req = req_start(etcd, value ? REQ_PUT : REQ_DELETE,
                    value ? "/v3/kv/put" : "/v3/kv/deleterange", body);
    if (req) {
        req->key = strdup(key);
        req->value = value ? strdup(value) : NULL;
        etcd->syncs_pending++;
    }
}

/* Puts every key of ours that etcd does not have as we want it, and
 * deletes those we owe.  Only once the lease is known. */
static void
flush_changes(struct vsw_etcd *etcd)
{
    const char *key;
    json_t *value;

    if (etcd->state != ETCD_SYNCING && etcd->state != ETCD_WATCHING) {
        return;
    }
    json_object_foreach(etcd->deletions, key, value)
    {
        send_put(etcd, key, NULL);
        if (etcd->state == ETCD_DISCONNECTED) {
            return;
        }
    }
    json_object_foreach(etcd->desired, key, value)
    {
        json_t *done = json_object_get(etcd->published, key);

        if (!done || !json_equal(done, value)) {
            /* Mark it as sent so a second flush does not send it again;
             * the answer confirms or the failure starts over. */
            json_object_set(etcd->published, key, value);
            send_put(etcd, key, json_string_value(value));
            if (etcd->state == ETCD_DISCONNECTED) {
                return;
            }
        }
    }
}

static void
flush_event_cb(evutil_socket_t fd, short what, void *etcd_)
{
    (void)fd;
    (void)what;
    flush_changes(etcd_);
}

static void
start_watch(struct vsw_etcd *etcd)
{
    json_t *create = prefix_range(true);
    json_t *body = json_object();

    json_object_set_new(create, "start_revision",
                        json_integer(etcd->revision + 1));
    json_object_set_new(body, "create_request", create);
    req_start(etcd, REQ_WATCH, "/v3/watch", body);
}

static void
sync_step_done(struct vsw_etcd *etcd)
{
    if (etcd->state == ETCD_SYNCING && etcd->syncs_pending == 0) {
        start_watch(etcd);
    }
}

static void
start_sync(struct vsw_etcd *etcd)
{
    etcd->state = ETCD_SYNCING;
    etcd->syncs_pending = 1; /* the range */
    json_object_clear(etcd->published);
    json_object_clear(etcd->acked);
    flush_changes(etcd);
    if (etcd->state == ETCD_SYNCING) {
        req_start(etcd, REQ_RANGE, "/v3/kv/range", prefix_range(true));
    }
}

static void
schedule_keepalive(struct vsw_etcd *etcd)
{
    int64_t ttl = etcd->lease_ttl > 0 ? etcd->lease_ttl : VSW_ETCD_LEASE_TTL;
    struct timeval tv = {.tv_sec = ttl / 3, .tv_usec = ttl % 3 * 333333};

    evtimer_add(etcd->keepalive_timer, &tv);
}

static void
send_keepalive(struct vsw_etcd *etcd)
{
    char id[32];
    json_t *body = json_object();

    snprintf(id, sizeof id, "%lld", (long long)etcd->lease);
    json_object_set_new(body, "ID", json_string(id));
    req_start(etcd, REQ_KEEPALIVE, "/v3/lease/keepalive", body);
}

static void
send_grant(struct vsw_etcd *etcd)
{
    json_t *body = json_pack("{sI}", "TTL", (json_int_t)VSW_ETCD_LEASE_TTL);

    req_start(etcd, REQ_GRANT, "/v3/lease/grant", body);
}

static void
keepalive_timer_cb(evutil_socket_t fd, short what, void *etcd_)
{
    struct vsw_etcd *etcd = etcd_;

    (void)fd;
    (void)what;
    if (etcd->state == ETCD_SYNCING || etcd->state == ETCD_WATCHING) {
        send_keepalive(etcd);
    }
}

/* The connection steps' answers. */

static void
lease_granted(struct vsw_etcd *etcd, json_t *answer)
{
    int64_t id = json_int64(answer, "ID", 0);
    int64_t ttl = json_int64(answer, "TTL", 0);

    if (id == 0 || ttl <= 0) {
        etcd_fail(etcd, "lease grant refused");
        return;
    }
    etcd->lease = id;
    etcd->lease_ttl = ttl;
    etcd->leases_granted++;
    VSW_INFO("etcd: lease %llx granted for %llds on %s", (long long)id,
             (long long)ttl, etcd->endpoints[etcd->endpoint]);
    schedule_keepalive(etcd);
    start_sync(etcd);
}

static void
lease_kept(struct vsw_etcd *etcd, json_t *answer)
{
    json_t *result = json_object_get(answer, "result");
    int64_t ttl = json_int64(result, "TTL", 0);

    if (ttl <= 0) {
        /* The lease expired (we were away longer than the TTL): our keys
         * went with it; a new lease, and everything put again. */
        VSW_WARN("etcd: lease %llx expired, asking for a new one",
                 (long long)etcd->lease);
        etcd->lease = 0;
        if (etcd->state == ETCD_LEASING) {
            send_grant(etcd);
        } else {
            etcd->state = ETCD_LEASING;
            cancel_all(etcd);
            send_grant(etcd);
        }
        return;
    }
    etcd->lease_ttl = ttl;
    schedule_keepalive(etcd);
    if (etcd->state == ETCD_LEASING) {
        start_sync(etcd);
    }
}

static void
range_done(struct vsw_etcd *etcd, json_t *answer)
{
    json_t *fresh = json_object();
    json_t *kvs = json_object_get(answer, "kvs");
    int64_t rev =
        json_int64(json_object_get(answer, "header"), "revision", -1);
    json_t *kv;
    size_t i;

    if (rev < 0) {
        json_decref(fresh);
        etcd_fail(etcd, "range answer without a revision");
        return;
    }
    if (etcd->revision) {
        etcd->resyncs++;
    }
    etcd->revision = rev;
    json_array_foreach(kvs, i, kv)
    {
        learn_kv(etcd, fresh, kv, false);
    }
    learned_replace(etcd, fresh);
    json_decref(fresh);
    etcd->syncs_pending--;
    sync_step_done(etcd);
}

static void
put_done(struct vsw_etcd *etcd, struct etcd_req *req)
{
    json_t *want = json_object_get(etcd->desired, req->key);

    etcd->syncs_pending--;
    if (req->kind == REQ_DELETE) {
        json_object_del(etcd->deletions, req->key);
    } else if (want && !strcmp(json_string_value(want), req->value)) {
        json_object_set(etcd->acked, req->key, want);
    }
    sync_step_done(etcd);
}

/* One JSON text of the watch stream. */
static void
watch_message(struct etcd_req *req, json_t *msg)
{
    struct vsw_etcd *etcd = req->etcd;
    json_t *result = json_object_get(msg, "result");
    json_t *events, *ev;
    int64_t rev;
    size_t i;

    if (!json_is_object(result)) {
        const char *why = json_string_value(
            json_object_get(json_object_get(msg, "error"), "message"));

        snprintf(etcd->last_error, sizeof etcd->last_error, "watch: %.200s",
                 why ? why : "answer without a result");
        req->aborted = true;
        return;
    }
    if (json_is_true(json_object_get(result, "canceled"))) {
        snprintf(etcd->last_error, sizeof etcd->last_error,
                 "watch canceled (compacted at revision %lld): resync",
                 (long long)json_int64(result, "compact_revision", 0));
        req->aborted = true;
        return;
    }
    if (json_is_true(json_object_get(result, "created")) &&
        etcd->state == ETCD_SYNCING) {
        etcd->state = ETCD_WATCHING;
        etcd->connected_since_ms = vsw_time_msec();
        etcd->failures_in_row = 0;
        etcd->backoff_ms = 0;
        VSW_INFO("etcd: connected to %s, watching from revision %lld",
                 etcd->endpoints[etcd->endpoint],
                 (long long)etcd->revision + 1);
    }
    events = json_object_get(result, "events");
    json_array_foreach(events, i, ev)
    {
        const json_t *kv = json_object_get(ev, "kv");
        const char *type = json_string_value(json_object_get(ev, "type"));

        if (type && !strcmp(type, "DELETE")) {
            forget_kv(etcd, kv);
        } else {
            learn_kv(etcd, etcd->learned, kv, true);
        }
        rev = json_int64(kv, "mod_revision", 0);
        if (rev > etcd->revision) {
            etcd->revision = rev;
        }
    }
    rev = json_int64(json_object_get(result, "header"), "revision", 0);
    if (rev > etcd->revision && !json_array_size(events)) {
        etcd->revision = rev;
    }
}

/* Parses the complete lines of the watch stream seen so far. */
static void
watch_consume(struct etcd_req *req)
{
    char *line = req->body;
    char *nl;

    while (!req->aborted &&
           (nl = memchr(line, '\n', req->len - (size_t)(line - req->body)))) {
        json_t *msg;

        *nl = '\0';
        msg = json_loads(line, 0, NULL);
        if (!msg) {
            snprintf(req->etcd->last_error, sizeof req->etcd->last_error,
                     "watch: a message that is not JSON");
            req->aborted = true;
        } else {
            watch_message(req, msg);
            json_decref(msg);
        }
        line = nl + 1;
    }
    req->len -= (size_t)(line - req->body);
    memmove(req->body, line, req->len);
    req->body[req->len] = '\0';
}

/* A finished transfer. */
static void
req_done(struct etcd_req *req, CURLcode code)
{
    struct vsw_etcd *etcd = req->etcd;
    long status = 0;
    json_t *answer;

    req_unlink(req);
    curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &status);
    if (req->kind == REQ_WATCH) {
        if (req->aborted && strstr(etcd->last_error, "resync")) {
            etcd_fail(etcd, "%s", etcd->last_error);
        } else if (req->aborted) {
            etcd_fail(etcd, "%s", etcd->last_error);
        } else {
            etcd_fail(
                etcd, "watch stream ended: %s",
                code != CURLE_OK
                    ? (req->errbuf[0] ? req->errbuf : curl_easy_strerror(code))
                    : "closed by the server");
        }
        req_free(req);
        return;
    }
    if (code != CURLE_OK) {
        etcd_fail(etcd, "%s",
                  req->errbuf[0] ? req->errbuf : curl_easy_strerror(code));
        req_free(req);
        return;
    }
    answer = req->body ? json_loads(req->body, 0, NULL) : NULL;
    if (status != 200 || !json_is_object(answer)) {
        const char *msg =
            json_string_value(json_object_get(answer, "message"));

        etcd_fail(etcd, "HTTP %ld%s%s", status, msg ? ": " : "",
                  msg ? msg : "");
        json_decref(answer);
        req_free(req);
        return;
    }
    switch (req->kind) {
    case REQ_GRANT:
        lease_granted(etcd, answer);
        break;
    case REQ_KEEPALIVE:
        lease_kept(etcd, answer);
        break;
    case REQ_RANGE:
        range_done(etcd, answer);
        break;
    case REQ_PUT:
    case REQ_DELETE:
        put_done(etcd, req);
        break;
    case REQ_WATCH:
        break;
    }
    json_decref(answer);
    req_free(req);
}

static void
check_done(struct vsw_etcd *etcd)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(etcd->multi, &left))) {
        if (msg->msg == CURLMSG_DONE) {
            struct etcd_req *req = NULL;
            CURLcode code = msg->data.result;

            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
                              (char **)&req);
            req_done(req, code);
        }
    }
}

/* libcurl on libevent: one event per socket libcurl watches, one timer. */

static void
socket_event_cb(evutil_socket_t fd, short what, void *etcd_)
{
    struct vsw_etcd *etcd = etcd_;
    int flags = (what & EV_READ ? CURL_CSELECT_IN : 0) |
                (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
    int running;

    curl_multi_socket_action(etcd->multi, fd, flags, &running);
    check_done(etcd);
}

static int
curl_socket_cb(CURL *easy, curl_socket_t s, int what, void *etcd_,
               void *socketp)
{
    struct vsw_etcd *etcd = etcd_;
    struct event *ev = socketp;
    short events = 0;

    (void)easy;
    if (ev) {
        event_free(ev);
        ev = NULL;
    }
    if (what != CURL_POLL_REMOVE) {
        events = EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) |
                 (what & CURL_POLL_OUT ? EV_WRITE : 0);
        ev = event_new(etcd->base, s, events, socket_event_cb, etcd);
        if (ev) {
            event_add(ev, NULL);
        }
    }
    curl_multi_assign(etcd->multi, s, ev);
    return 0;
}

static void
curl_timer_event_cb(evutil_socket_t fd, short what, void *etcd_)
{
    struct vsw_etcd *etcd = etcd_;
    int running;

    (void)fd;
    (void)what;
    curl_multi_socket_action(etcd->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(etcd);
}

static int
curl_timer_cb(CURLM *multi, long timeout_ms, void *etcd_)
{
    struct vsw_etcd *etcd = etcd_;

    (void)multi;
    if (timeout_ms < 0) {
        evtimer_del(etcd->curl_timer);
    } else {
        struct timeval tv = {.tv_sec = timeout_ms / 1000,
                             .tv_usec = timeout_ms % 1000 * 1000};

        evtimer_add(etcd->curl_timer, &tv);
    }
    return 0;
}

/* Connections. */

static void
etcd_connect(struct vsw_etcd *etcd)
{
    etcd->state = ETCD_LEASING;
    if (etcd->lease) {
        send_keepalive(etcd); /* the lease may well have survived */
    } else {
        send_grant(etcd);
    }
}

static void
retry_timer_cb(evutil_socket_t fd, short what, void *etcd_)
{
    (void)fd;
    (void)what;
    etcd_connect(etcd_);
}

/* Drops the connection and tries the next endpoint: at once while some
 * endpoint has not failed yet, then after a growing backoff.  What was
 * learned stays (forwarding goes on with it). */
static void
etcd_fail(struct vsw_etcd *etcd, const char *fmt, ...)
{
    struct timeval tv;
    va_list args;
    char msg[sizeof etcd->last_error];

    va_start(args, fmt);
    vsnprintf(msg, sizeof msg, fmt, args);
    va_end(args);
    if (etcd->state == ETCD_DISCONNECTED) {
        return; /* the first failure already started over */
    }
    snprintf(etcd->last_error, sizeof etcd->last_error, "%s: %s",
             etcd->endpoints[etcd->endpoint], msg);
    VSW_WARN("etcd: %s", etcd->last_error);
    etcd->state = ETCD_DISCONNECTED;
    etcd->connected_since_ms = 0;
    etcd->reconnects++;
    evtimer_del(etcd->keepalive_timer);
    cancel_all(etcd);
    etcd->endpoint = (etcd->endpoint + 1) % etcd->n_endpoints;
    if (++etcd->failures_in_row >= etcd->n_endpoints) {
        etcd->backoff_ms =
            etcd->backoff_ms ? etcd->backoff_ms * 2 : ETCD_BACKOFF_MIN_MS;
        if (etcd->backoff_ms > ETCD_BACKOFF_MAX_MS) {
            etcd->backoff_ms = ETCD_BACKOFF_MAX_MS;
        }
        etcd->failures_in_row = 0;
    }
    tv.tv_sec = etcd->backoff_ms / 1000;
    tv.tv_usec = etcd->backoff_ms % 1000 * 1000;
    evtimer_add(etcd->retry_timer, &tv);
}

/* Life cycle. */

static void
publish_host_key(struct vsw_etcd *etcd)
{
    char value[64];

    snprintf(value, sizeof value, "{\"since\":%lld}", (long long)time(NULL));
    vsw_etcd_publish(etcd, "hosts/", value);
}

int
vsw_etcd_create(struct event_base *base, const struct vsw_etcd_options *opts,
                struct vsw_etcd **etcdp, char *err, size_t errlen)
{
    struct vsw_etcd *etcd;
    const char *p;
    int error;

    if ((error = vsw_etcd_check_endpoints(opts->endpoints, err, errlen)) ||
        (error = vsw_etcd_check_host_id(opts->host_id, err, errlen))) {
        return error;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
        snprintf(err, errlen, "cannot initialise libcurl");
        return -ENOMEM;
    }
    etcd = calloc(1, sizeof *etcd);
    if (!etcd) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    etcd->base = base;
    etcd->malformed_rl =
        (struct vsw_log_ratelimit)VSW_LOG_RATELIMIT_INIT(10000, 10);
    snprintf(etcd->host_id, sizeof etcd->host_id, "%s", opts->host_id);
    for (p = opts->endpoints; *p;) {
        size_t len = strcspn(p, ",");

        while (len > 1 && p[len - 1] == '/') {
            len--; /* our paths start with '/' */
        }
        etcd->endpoints[etcd->n_endpoints++] = strndup(p, len);
        p += strcspn(p, ",");
        p += *p == ',';
    }
    etcd->multi = curl_multi_init();
    etcd->headers = curl_slist_append(NULL, "Content-Type: application/json");
    etcd->curl_timer = evtimer_new(base, curl_timer_event_cb, etcd);
    etcd->retry_timer = evtimer_new(base, retry_timer_cb, etcd);
    etcd->keepalive_timer = evtimer_new(base, keepalive_timer_cb, etcd);
    etcd->flush_event = evtimer_new(base, flush_event_cb, etcd);
    etcd->desired = json_object();
    etcd->published = json_object();
    etcd->deletions = json_object();
    etcd->acked = json_object();
    etcd->learned = json_object();
    if (!etcd->multi || !etcd->headers || !etcd->curl_timer ||
        !etcd->retry_timer || !etcd->keepalive_timer || !etcd->flush_event ||
        !etcd->desired || !etcd->published || !etcd->deletions ||
        !etcd->acked || !etcd->learned) {
        vsw_etcd_destroy(etcd);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < etcd->n_endpoints; i++) {
        if (!etcd->endpoints[i]) {
            vsw_etcd_destroy(etcd);
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
    }
    curl_multi_setopt(etcd->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
    curl_multi_setopt(etcd->multi, CURLMOPT_SOCKETDATA, etcd);
    curl_multi_setopt(etcd->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
    curl_multi_setopt(etcd->multi, CURLMOPT_TIMERDATA, etcd);
    publish_host_key(etcd);
    VSW_INFO("etcd: host id %s, %zu endpoint(s), first %s", etcd->host_id,
             etcd->n_endpoints, etcd->endpoints[0]);
    etcd_connect(etcd);
    *etcdp = etcd;
    return 0;
}

void
vsw_etcd_destroy(struct vsw_etcd *etcd)
{
    if (!etcd) {
        return;
    }
    if (etcd->multi) {
        cancel_all(etcd);
        curl_multi_cleanup(etcd->multi);
    }
    curl_slist_free_all(etcd->headers);
    if (etcd->curl_timer) {
        event_free(etcd->curl_timer);
    }
    if (etcd->retry_timer) {
        event_free(etcd->retry_timer);
    }
    if (etcd->keepalive_timer) {
        event_free(etcd->keepalive_timer);
    }
    if (etcd->flush_event) {
        event_free(etcd->flush_event);
    }
    json_decref(etcd->desired);
    json_decref(etcd->published);
    json_decref(etcd->deletions);
    json_decref(etcd->acked);
    json_decref(etcd->learned);
    for (size_t i = 0; i < etcd->n_endpoints; i++) {
        free(etcd->endpoints[i]);
    }
    free(etcd);
    curl_global_cleanup();
}

void
vsw_etcd_set_listener(struct vsw_etcd *etcd, vsw_etcd_listener *fn, void *aux)
{
    const char *key;
    json_t *value;

    etcd->listener = fn;
    etcd->listener_aux = aux;
    json_object_foreach(etcd->learned, key, value)
    {
        tell_listener(etcd, key, json_string_value(json_array_get(value, 0)),
                      json_integer_value(json_array_get(value, 1)), true);
    }
}

void
vsw_etcd_publish(struct vsw_etcd *etcd, const char *key, const char *value)
{
    char full[256];
    static const struct timeval now = {0, 0};

    /* Every key of ours ends with our host id ("hosts/" + id, or
     * ".../<id>"), which is how we tell ours from the others'. */
    snprintf(full, sizeof full, "%s%s", key, etcd->host_id);
    if (value) {
        json_object_set_new(etcd->desired, full, json_string(value));
        json_object_del(etcd->deletions, full);
    } else if (json_object_get(etcd->desired, full)) {
        json_object_del(etcd->desired, full);
        json_object_del(etcd->published, full);
        json_object_del(etcd->acked, full);
        json_object_set_new(etcd->deletions, full, json_true());
    }
    evtimer_add(etcd->flush_event, &now);
}

const char *
vsw_etcd_host_id(const struct vsw_etcd *etcd)
{
    return etcd->host_id;
}

/* Status. */

static int
count_kind(const struct vsw_etcd *etcd, enum vsw_etcd_mapping_kind kind)
{
    const char *key;
    json_t *value;
    int n = 0;

    json_object_foreach(etcd->learned, key, value)
    {
        struct vsw_etcd_mapping m;

        if (!vsw_etcd_parse_mapping(
                key, json_string_value(json_array_get(value, 0)), &m) &&
            m.kind == kind) {
            n++;
        }
    }
    return n;
}

json_t *
vsw_etcd_status(const struct vsw_etcd *etcd)
{
    json_t *endpoints = json_array();
    char lease[32];
    int n_vteps = count_kind(etcd, VSW_ETCD_VTEP);
    int n_macs = count_kind(etcd, VSW_ETCD_MAC);
    json_t *r;

    for (size_t i = 0; i < etcd->n_endpoints; i++) {
        json_array_append_new(endpoints, json_string(etcd->endpoints[i]));
    }
    snprintf(lease, sizeof lease, "%llx", (long long)etcd->lease);
    r = json_pack(
        "{sb ss ss so ss sI sI sI si si si si sI sI sI ss}", "enabled", true,
        "state", state_names[etcd->state], "host-id", etcd->host_id,
        "endpoints", endpoints, "endpoint",
        etcd->state == ETCD_WATCHING ? etcd->endpoints[etcd->endpoint] : "",
        "lease-ttl", (json_int_t)etcd->lease_ttl, "revision",
        (json_int_t)etcd->revision, "keys-published",
        (json_int_t)json_object_size(etcd->acked), "hosts",
        count_kind(etcd, VSW_ETCD_HOST), "remote-vteps", n_vteps,
        "remote-macs", n_macs, "mappings-learned", n_vteps + n_macs,
        "malformed", (json_int_t)etcd->malformed, "reconnects",
        (json_int_t)etcd->reconnects, "resyncs", (json_int_t)etcd->resyncs,
        "last-error", etcd->last_error);
    if (r) {
        json_object_set_new(r, "lease",
                            etcd->lease ? json_string(lease) : json_null());
        json_object_set_new(r, "leases-granted",
                            json_integer((json_int_t)etcd->leases_granted));
    }
    return r;
}

void
vsw_etcd_default_host_id(char *id, size_t size)
{
    char name[256] = "";

    if (gethostname(name, sizeof name - 1) || !name[0]) {
        snprintf(name, sizeof name, "localhost");
    }
    snprintf(id, size, "%s", name);
    for (char *p = id; *p; p++) {
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                    "0123456789._-",
                    *p)) {
            *p = '-';
        }
    }
}
