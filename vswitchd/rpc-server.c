/*
 * JSON-RPC 2.0 over a unix stream socket: framing, limits, access control
 * and dispatch.  Every request, from a socket or from
 * vsw_rpc_server_handle_text(), goes through rpc_answer_text(), so both
 * paths answer identically.
 */
#include "rpc-server.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "log.h"

/* Replies longer than this are followed by malloc_trim(). */
#define LARGE_REPLY (1u << 20)

#define RPC_DEFAULT_MAX_REQUEST (1024 * 1024)
#define RPC_DEFAULT_MAX_OUTPUT  (16 * 1024 * 1024)
#define RPC_DEFAULT_MAX_CLIENTS 128

/* How long a connection being closed may take to flush its last reply
 * before it is dropped anyway, so a client that stops reading cannot keep
 * its slot. */
#define RPC_CLOSE_TIMEOUT_SEC 5

/* How long accepting pauses after accept() fails for lack of resources
 * (EMFILE, ENFILE, ENOMEM): the listening socket stays readable, so
 * retrying at once would spin the control thread. */
#define RPC_ACCEPT_RETRY_MSEC 100

/* What a peer may do. */
enum rpc_access {
    RPC_ACCESS_NONE,       /* every request is refused */
    RPC_ACCESS_READ_ONLY,  /* methods that do not mutate */
    RPC_ACCESS_READ_WRITE, /* every method */
};

/* Who sent a request. */
struct rpc_peer {
    uid_t uid;              /* from SO_PEERCRED, or our own euid */
    pid_t pid;              /* from SO_PEERCRED, or our own pid */
    enum rpc_access access; /* decided at connect time */
};

/* The most supplementary groups of a peer that are looked at; Linux's
 * NGROUPS_MAX is 65536, but a grant that only the 1025th group of a
 * process would match is not worth a large buffer per connection. */
#define RPC_MAX_PEER_GROUPS 1024

/* A registered method. */
struct rpc_method_entry {
    const struct vsw_rpc_method *method; /* the caller's; outlives us */
    void *aux;                           /* passed to 'method->handler' */
};

/* A function vsw_rpc_server_on_close() registered. */
struct rpc_close_hook {
    void (*fn)(uint64_t client, void *aux); /* called as a client goes */
    void *aux;                              /* passed to 'fn' */
};

/* A uid let in by vsw_rpc_server_allow_uid() or a group let in by
 * vsw_rpc_server_allow_gid(). */
struct rpc_uid_grant {
    bool is_group;   /* 'id' is a gid */
    unsigned id;     /* the peer's uid, or a group it belongs to */
    bool read_write; /* false: read-only */
};

/* One connection.  Invariant: 'scanned' <= bytes in the input buffer. */
struct rpc_client {
    struct vsw_rpc_server *server; /* owner */
    struct bufferevent *bev;       /* the connection; owns the socket */
    struct rpc_peer peer;          /* who is connected */
    size_t scanned;                /* leading input bytes known to hold no
                                    * newline, so that a request arriving
                                    * in tiny pieces is scanned once */
    bool closing;                  /* reading stopped; freed once the
                                    * output is flushed */
    uint64_t id;                   /* vsw_rpc_server_current_client() */
    struct rpc_client *prev;       /* in 'server->clients' */
    struct rpc_client *next;       /* in 'server->clients' */
};

struct vsw_rpc_server {
    struct event_base *base;            /* the control thread's loop */
    struct evconnlistener *listener;    /* accepts on 'socket_path' */
    struct event *accept_retry;         /* re-enables 'listener' */
    char *socket_path;                  /* bound by us; removed on destroy */
    struct vsw_rpc_limits limits;       /* defaults filled in */
    struct rpc_method_entry *methods;   /* registered methods */
    size_t n_methods;                   /* entries in 'methods' */
    struct rpc_uid_grant *grants;       /* allowed uids besides root/us */
    size_t n_grants;                    /* entries in 'grants' */
    struct rpc_client *clients;         /* connected clients */
    unsigned n_clients;                 /* length of 'clients' */
    struct vsw_log_ratelimit client_rl; /* for anything a client causes */
    uint64_t next_client_id;            /* ids given so far */
    uint64_t current_client;            /* whose request runs, 0: none */
    struct rpc_close_hook *close_hooks; /* vsw_rpc_server_on_close() */
    size_t n_close_hooks;               /* entries in 'close_hooks' */
    struct vsw_log_ratelimit denied_rl; /* refused calls */
    uint64_t clients_refused;           /* turned away at 'max_clients' */
    uint64_t requests_too_long;         /* over 'max_request' */
    uint64_t slow_readers;              /* cut off over 'max_output' */
};

const char *
vsw_rpc_access_name(enum vsw_rpc_access access)
{
    switch (access) {
    case VSW_RPC_READS:
        return "read";
    case VSW_RPC_WRITES:
        return "write";
    }
    return NULL;
}

/* Cuts the end of 's' if truncation left an incomplete UTF-8 sequence
 * there, since jansson refuses to encode a string that is not UTF-8. */
static void
rpc_trim_partial_utf8(char *s)
{
    size_t len = strlen(s);
    size_t start = len;
    unsigned char lead;
    size_t need;

    while (start > 0 && len - start < 3 &&
           ((unsigned char)s[start - 1] & 0xc0) == 0x80) {
        start--;
    }
    if (start == 0) {
        return;
    }
    lead = (unsigned char)s[start - 1];
    need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (len - (start - 1) < need) {
        s[start - 1] = '\0';
    }
}

int
vsw_rpc_error(struct vsw_rpc_error *err, int code, const char *fmt, ...)
{
    va_list args;
    int n;

    va_start(args, fmt);
    n = vsnprintf(err->message, sizeof err->message, fmt, args);
    va_end(args);
    if (n < 0) {
        err->message[0] = '\0';
    } else if ((size_t)n >= sizeof err->message) {
        rpc_trim_partial_utf8(err->message);
    }
    for (char *p = err->message; *p; p++) {
        if (*p == '\n' || *p == '\r') {
            *p = ' ';
        }
    }
    err->code = code;
    return code;
}

/* 'message' as a new JSON string.  A handler may have put bytes that are
 * not UTF-8 into it (a kernel interface name, say); those become '?' so
 * that the client still gets its error. */
static json_t *
rpc_message_json(const char *message)
{
    char ascii[VSW_RPC_MAX_MESSAGE];
    json_t *string = json_string(message);
    size_t i;

    if (string) {
        return string;
    }
    for (i = 0; message[i] && i < sizeof ascii - 1; i++) {
        ascii[i] = (unsigned char)message[i] < 0x80 ? message[i] : '?';
    }
    ascii[i] = '\0';
    return json_string(ascii);
}

/* A new reply object for 'id' (borrowed; NULL stands for null), or NULL
 * if out of memory. */
static json_t *
rpc_reply_new(json_t *id)
{
    json_t *reply = json_object();

    if (json_object_set_new(reply, "jsonrpc", json_string("2.0")) ||
        json_object_set(reply, "id", id ? id : json_null())) {
        json_decref(reply);
        return NULL;
    }
    return reply;
}

/* The text of the reply to request 'id' (borrowed; NULL stands for null):
 * 'result' (stolen) when 'err->code' is 0, otherwise the error in 'err'.
 * Returns a malloc'ed string without a newline, or NULL if out of
 * memory. */
static char *
rpc_reply_text(json_t *id, json_t *result, struct vsw_rpc_error *err)
{
    json_t *reply;
    json_t *error;
    char *text;

    if (!err->code) {
        reply = rpc_reply_new(id);
        text = json_object_set_new(reply, "result", result)
                   ? NULL
                   : json_dumps(reply, JSON_COMPACT);
        json_decref(reply);
        if (text) {
            return text;
        }
        /* A result jansson cannot encode (nested too deeply, say) is the
         * handler's bug; the client still deserves an answer. */
        vsw_rpc_error(err, VSW_RPC_INTERNAL_ERROR,
                      "the result could not be encoded");
    }
    reply = rpc_reply_new(id);
    error = json_object();
    if (json_object_set_new(error, "code", json_integer(err->code)) ||
        json_object_set_new(error, "message",
                            rpc_message_json(err->message)) ||
        json_object_set_new(reply, "error", json_incref(error))) {
        text = NULL;
    } else {
        text = json_dumps(reply, JSON_COMPACT);
    }
    json_decref(error);
    json_decref(reply);
    return text;
}

static void
rpc_error_too_large(const struct vsw_rpc_server *server,
                    struct vsw_rpc_error *err)
{
    vsw_rpc_error(err, VSW_RPC_TOO_LARGE, "request larger than %zu bytes",
                  server->limits.max_request);
}

/* Checks the JSON-RPC 2.0 envelope of 'request'.  Stores its "id" in
 * '*idp' (borrowed; NULL for a notification) as soon as the id itself is
 * known to be valid, so that errors about the rest can echo it.  Returns
 * 0, or fills 'err' and returns a negative value. */
static int
rpc_check_envelope(json_t *request, json_t **idp, struct vsw_rpc_error *err)
{
    json_t *version;
    json_t *params;
    json_t *id;

    if (json_is_array(request)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_REQUEST,
                             "batch requests are not supported");
    }
    if (!json_is_object(request)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_REQUEST,
                             "a request must be a JSON object");
    }
    id = json_object_get(request, "id");
    if (id && !json_is_string(id) && !json_is_number(id) &&
        !json_is_null(id)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_REQUEST,
                             "'id' must be a string, a number or null");
    }
    *idp = id;

    version = json_object_get(request, "jsonrpc");
    if (!json_is_string(version) ||
        strcmp(json_string_value(version), "2.0")) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_REQUEST,
                             "'jsonrpc' must be \"2.0\"");
    }
    if (!json_is_string(json_object_get(request, "method"))) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_REQUEST,
                             "'method' must be a string");
    }
    /* An array is a well-formed request with positional parameters, which
     * rpc_call() refuses as invalid parameters. */
    params = json_object_get(request, "params");
    if (params && !json_is_object(params) && !json_is_array(params)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_REQUEST,
                             "'params' must be an object");
    }
    /* A misspelt "params" would otherwise silently call the method
     * without its parameters. */
    for (void *iter = json_object_iter(request); iter;
         iter = json_object_iter_next(request, iter)) {
        const char *key = json_object_iter_key(iter);

        if (strcmp(key, "jsonrpc") && strcmp(key, "method") &&
            strcmp(key, "params") && strcmp(key, "id")) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_REQUEST,
                                 "unknown request member '%s'", key);
        }
    }
    return 0;
}

static const struct rpc_method_entry *
rpc_lookup(const struct vsw_rpc_server *server, const char *name)
{
    for (size_t i = 0; i < server->n_methods; i++) {
        if (!strcmp(server->methods[i].method->name, name)) {
            return &server->methods[i];
        }
    }
    return NULL;
}

/* Runs the method that 'request' (a valid envelope) names, if 'peer' may.
 * On success stores the result (a new reference, never NULL) in
 * '*resultp' and leaves 'err->code' 0; on failure fills 'err'. */
static void
rpc_call(struct vsw_rpc_server *server, const struct rpc_peer *peer,
         json_t *request, json_t **resultp, struct vsw_rpc_error *err)
{
    const char *name = json_string_value(json_object_get(request, "method"));
    json_t *params = json_object_get(request, "params");
    const struct rpc_method_entry *entry;
    json_t *empty = NULL;
    json_t *result = NULL;
    bool writes;
    int error;

    if (peer->access == RPC_ACCESS_NONE) {
        vsw_rpc_error(err, VSW_RPC_PERMISSION, "permission denied for uid %ju",
                      (uintmax_t)peer->uid);
        return;
    }
    if (json_is_array(params)) {
        vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                      "params must be an object (named parameters)");
        return;
    }
    entry = rpc_lookup(server, name);
    if (!entry) {
        vsw_rpc_error(err, VSW_RPC_METHOD_NOT_FOUND, "unknown method '%s'",
                      name);
        return;
    }
    if (entry->method->access != VSW_RPC_READS &&
        peer->access != RPC_ACCESS_READ_WRITE) {
        vsw_rpc_error(err, VSW_RPC_PERMISSION,
                      "permission denied: %s changes the configuration; "
                      "uid %ju is read-only",
                      name, (uintmax_t)peer->uid);
        vsw_log_rl(&server->denied_rl, VSW_LOG_INFO,
                   "rpc: uid %ju pid %jd: %s refused (read-only)",
                   (uintmax_t)peer->uid, (intmax_t)peer->pid, name);
        return;
    }
    if (!params) {
        params = empty = json_object();
        if (!params) {
            vsw_rpc_error(err, VSW_RPC_INTERNAL_ERROR, "out of memory");
            return;
        }
    }

    /* Read before the call: a handler may register methods (an extension
     * being loaded), which moves 'entry'. */
    writes = entry->method->access != VSW_RPC_READS;
    error = entry->method->handler(params, &result, err, entry->aux);
    json_decref(empty);
    /* Whatever the handler left in 'err' must be a usable error. */
    err->message[sizeof err->message - 1] = '\0';
    if (error) {
        json_decref(result);
        if (!err->code) {
            err->code = VSW_RPC_INTERNAL_ERROR;
        }
        if (!err->message[0]) {
            vsw_rpc_error(err, err->code, "method '%s' failed", name);
        }
    }
    if (writes) {
        /* Who changed what is worth a line each time, failures too: an
         * audit trail of the configuration. */
        if (error) {
            VSW_INFO("rpc: uid %ju pid %jd: %s failed: %s",
                     (uintmax_t)peer->uid, (intmax_t)peer->pid, name,
                     err->message);
        } else {
            VSW_INFO("rpc: uid %ju pid %jd: %s ok", (uintmax_t)peer->uid,
                     (intmax_t)peer->pid, name);
        }
    }
    if (error) {
        return;
    }
    err->code = 0;
    *resultp = result ? result : json_object();
    if (!*resultp) {
        vsw_rpc_error(err, VSW_RPC_INTERNAL_ERROR, "out of memory");
    }
}

static bool
rpc_is_blank(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!text[i] || !strchr(" \t\r\n", text[i])) {
            return false;
        }
    }
    return true;
}

/* The one path every request takes: parses 'text' ('len' bytes holding
 * one JSON text), runs it for 'peer' and stores in '*replyp' the reply
 * (malloc'ed, without the newline; the caller frees it), or NULL when
 * nothing is to be answered (blank text, a notification).  Returns 0, or
 * -ENOMEM if no reply could be built. */
static int
rpc_answer_text(struct vsw_rpc_server *server, const struct rpc_peer *peer,
                const char *text, size_t len, char **replyp)
{
    struct vsw_rpc_error err = {.code = 0};
    json_t *request = NULL;
    json_t *result = NULL;
    json_t *id = NULL;
    json_error_t jerr;

    *replyp = NULL;
    if (rpc_is_blank(text, len)) {
        return 0;
    }
    if (len > server->limits.max_request) {
        rpc_error_too_large(server, &err);
    } else if (!(request = json_loadb(text, len,
                                      JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                                      &jerr))) {
        /* This covers invalid UTF-8 and nesting deeper than jansson's
         * limit as well as plain syntax errors. */
        vsw_rpc_error(&err, VSW_RPC_PARSE_ERROR, "%s", jerr.text);
    } else if (!rpc_check_envelope(request, &id, &err)) {
        rpc_call(server, peer, request, &result, &err);
        if (!id) {
            json_decref(result);
            json_decref(request);
            return 0;
        }
    }
    *replyp = rpc_reply_text(id, result, &err);
    json_decref(request);
    return *replyp ? 0 : -ENOMEM;
}

char *
vsw_rpc_server_handle_text(struct vsw_rpc_server *server, const char *request,
                           size_t len)
{
    const struct rpc_peer self = {
        .uid = geteuid(),
        .pid = getpid(),
        .access = RPC_ACCESS_READ_WRITE,
    };
    char *reply;

    if (rpc_answer_text(server, &self, request, len, &reply)) {
        VSW_WARN("rpc: out of memory building a reply");
    }
    return reply;
}

/* Connections. */

static void
rpc_client_destroy(struct rpc_client *client)
{
    struct vsw_rpc_server *server = client->server;

    /* What the connection owned (a capture session) goes with it. */
    for (size_t i = 0; i < server->n_close_hooks; i++) {
        server->close_hooks[i].fn(client->id, server->close_hooks[i].aux);
    }
    if (client->prev) {
        client->prev->next = client->next;
    } else {
        server->clients = client->next;
    }
    if (client->next) {
        client->next->prev = client->prev;
    }
    server->n_clients--;
    bufferevent_free(client->bev);
    free(client);
}

/* Writes what 'client' has queued, as far as its socket takes it without
 * blocking: the last words of a daemon that stops.  (The bufferevent
 * drains its output only from its own callbacks, so the bytes are
 * copied.) */
static void
rpc_client_flush(struct rpc_client *client)
{
    struct evbuffer *output = bufferevent_get_output(client->bev);
    size_t len = evbuffer_get_length(output);
    const unsigned char *data = len ? evbuffer_pullup(output, -1) : NULL;

    if (data) {
        ssize_t written = send(bufferevent_getfd(client->bev), data, len,
                               MSG_DONTWAIT | MSG_NOSIGNAL);

        (void)written; /* a client that went away misses nothing */
    }
}

/* Stops reading from 'client' and frees it once its output is flushed,
 * or after RPC_CLOSE_TIMEOUT_SEC without progress. */
static void
rpc_client_start_closing(struct rpc_client *client)
{
    const struct timeval timeout = {.tv_sec = RPC_CLOSE_TIMEOUT_SEC};
    struct evbuffer *input = bufferevent_get_input(client->bev);

    client->closing = true;
    bufferevent_disable(client->bev, EV_READ);
    evbuffer_drain(input, evbuffer_get_length(input));
    client->scanned = 0;
    bufferevent_set_timeouts(client->bev, NULL, &timeout);
}

/* Queues 'reply' (a reply text, freed here) on 'client'.  Returns false,
 * having destroyed 'client', if that puts it over the output cap or out
 * of memory. */
static bool
rpc_client_send(struct rpc_client *client, char *reply)
{
    struct vsw_rpc_server *server = client->server;
    struct evbuffer *output = bufferevent_get_output(client->bev);
    int error;

    size_t len = strlen(reply);

    error = evbuffer_add(output, reply, len) || evbuffer_add(output, "\n", 1);
    free(reply);
    if (len > LARGE_REPLY) {
        /* A large reply (a big MAC table) leaves tens of MiB of freed JSON
         * in the allocator's free lists: give them back to the system. */
        malloc_trim(0);
    }
    if (error) {
        vsw_log_rl(&server->client_rl, VSW_LOG_WARN,
                   "rpc: out of memory queueing a reply to uid %ju, "
                   "closing the connection",
                   (uintmax_t)client->peer.uid);
        rpc_client_destroy(client);
        return false;
    }
    if (evbuffer_get_length(output) > server->limits.max_output) {
        server->slow_readers++;
        vsw_log_rl(&server->client_rl, VSW_LOG_INFO,
                   "rpc: uid %ju does not read its replies (over %zu bytes "
                   "pending), closing the connection",
                   (uintmax_t)client->peer.uid, server->limits.max_output);
        rpc_client_destroy(client);
        return false;
    }
    return true;
}

/* Answers the request in the first 'line_len' bytes of 'input' and
 * consumes it with its 'eol_len'-byte terminator.  Returns false if
 * 'client' was destroyed. */
static bool
rpc_client_answer(struct rpc_client *client, struct evbuffer *input,
                  size_t line_len, size_t eol_len)
{
    char *reply = NULL;
    int error = 0;

    if (line_len) {
        const char *line = (const char *)evbuffer_pullup(input, line_len);

        client->server->current_client = client->id;
        error = line ? rpc_answer_text(client->server, &client->peer, line,
                                       line_len, &reply)
                     : -ENOMEM;
        client->server->current_client = 0;
    }
    evbuffer_drain(input, line_len + eol_len);
    if (error) {
        vsw_log_rl(&client->server->client_rl, VSW_LOG_WARN,
                   "rpc: out of memory answering uid %ju, closing the "
                   "connection",
                   (uintmax_t)client->peer.uid);
        rpc_client_destroy(client);
        return false;
    }
    return reply ? rpc_client_send(client, reply) : true;
}

/* Answers every complete line in the input.  The read high watermark
 * keeps at most max_request + 1 bytes buffered, so a line without its
 * newline by then is over the cap. */
static void
rpc_client_read_cb(struct bufferevent *bev, void *client_)
{
    struct rpc_client *client = client_;
    struct vsw_rpc_server *server = client->server;
    struct evbuffer *input = bufferevent_get_input(bev);

    while (!client->closing) {
        struct evbuffer_ptr start;
        struct evbuffer_ptr eol;
        size_t eol_len;
        size_t line_len;
        char *reply;

        evbuffer_ptr_set(input, &start, client->scanned, EVBUFFER_PTR_SET);
        eol = evbuffer_search_eol(input, &start, &eol_len, EVBUFFER_EOL_LF);
        line_len = eol.pos < 0 ? evbuffer_get_length(input) : (size_t)eol.pos;
        if (line_len > server->limits.max_request) {
            struct vsw_rpc_error err;

            server->requests_too_long++;
            vsw_log_rl(&server->client_rl, VSW_LOG_INFO,
                       "rpc: uid %ju sent a request over %zu bytes, closing "
                       "the connection",
                       (uintmax_t)client->peer.uid,
                       server->limits.max_request);
            rpc_error_too_large(server, &err);
            rpc_client_start_closing(client);
            reply = rpc_reply_text(NULL, NULL, &err);
            if (!reply) {
                rpc_client_destroy(client);
                return;
            }
            rpc_client_send(client, reply);
            return;
        }
        if (eol.pos < 0) {
            client->scanned = line_len;
            return;
        }
        client->scanned = 0;
        if (!rpc_client_answer(client, input, line_len, eol_len)) {
            return;
        }
    }
}

static void
rpc_client_write_cb(struct bufferevent *bev, void *client_)
{
    struct rpc_client *client = client_;

    if (client->closing && !evbuffer_get_length(bufferevent_get_output(bev))) {
        rpc_client_destroy(client);
    }
}

static void
rpc_client_event_cb(struct bufferevent *bev, short what, void *client_)
{
    struct rpc_client *client = client_;

    /* A client that shuts down its sending side after its last request
     * still gets the replies. */
    if (what & BEV_EVENT_EOF && !(what & BEV_EVENT_ERROR) &&
        evbuffer_get_length(bufferevent_get_output(bev))) {
        rpc_client_start_closing(client);
        return;
    }
    if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        vsw_log_rl(&client->server->client_rl, VSW_LOG_DBG,
                   "rpc: connection of uid %ju failed (%s)",
                   (uintmax_t)client->peer.uid,
                   what & BEV_EVENT_TIMEOUT ? "timed out"
                                            : strerror(EVUTIL_SOCKET_ERROR()));
    }
    rpc_client_destroy(client);
}

/* Stores in 'groups' (room for RPC_MAX_PEER_GROUPS) the supplementary
 * groups of the peer of 'fd' as they were when it connected, and returns
 * how many; 0 if the kernel cannot tell (then only the primary group
 * counts). */
static size_t
rpc_peer_groups(int fd, gid_t *groups)
{
    socklen_t len = RPC_MAX_PEER_GROUPS * sizeof *groups;

    /* A peer in more groups than fit gets ERANGE: it is then judged by
     * its uid and primary group only, which can only narrow its access. */
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
        return 0;
    }
    return len / sizeof *groups;
}

static bool
rpc_grant_matches(const struct rpc_uid_grant *grant, const struct ucred *cred,
                  const gid_t *groups, size_t n_groups)
{
    if (!grant->is_group) {
        return grant->id == cred->uid;
    }
    if (grant->id == cred->gid) {
        return true;
    }
    for (size_t i = 0; i < n_groups; i++) {
        if (groups[i] == grant->id) {
            return true;
        }
    }
    return false;
}

/* What the peer of 'fd', with credentials 'cred', may do: the widest of
 * the grants that match it. */
static enum rpc_access
rpc_access_for_peer(const struct vsw_rpc_server *server, int fd,
                    const struct ucred *cred)
{
    enum rpc_access access = RPC_ACCESS_NONE;
    gid_t *groups;
    size_t n_groups;

    if (cred->uid == 0 || cred->uid == geteuid()) {
        return RPC_ACCESS_READ_WRITE;
    }
    if (!server->n_grants) {
        return RPC_ACCESS_NONE;
    }
    groups = malloc(RPC_MAX_PEER_GROUPS * sizeof *groups);
    n_groups = groups ? rpc_peer_groups(fd, groups) : 0;
    for (size_t i = 0; i < server->n_grants; i++) {
        const struct rpc_uid_grant *grant = &server->grants[i];

        if (rpc_grant_matches(grant, cred, groups, n_groups)) {
            if (grant->read_write) {
                access = RPC_ACCESS_READ_WRITE;
                break;
            }
            access = RPC_ACCESS_READ_ONLY;
        }
    }
    free(groups);
    return access;
}

/* Starts serving the connected socket 'fd' (taken over) of the peer with
 * credentials 'cred'. */
static int
rpc_client_create(struct vsw_rpc_server *server, int fd,
                  const struct ucred *cred)
{
    uid_t uid = cred->uid;

    struct rpc_client *client = calloc(1, sizeof *client);

    if (!client) {
        close(fd);
        return -ENOMEM;
    }
    client->bev =
        bufferevent_socket_new(server->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!client->bev) {
        close(fd);
        free(client);
        return -ENOMEM;
    }
    client->server = server;
    client->id = ++server->next_client_id;
    client->peer.uid = uid;
    client->peer.pid = cred->pid;
    client->peer.access = rpc_access_for_peer(server, fd, cred);
    client->next = server->clients;
    if (server->clients) {
        server->clients->prev = client;
    }
    server->clients = client;
    server->n_clients++;

    bufferevent_setcb(client->bev, rpc_client_read_cb, rpc_client_write_cb,
                      rpc_client_event_cb, client);
    bufferevent_setwatermark(client->bev, EV_READ, 0,
                             server->limits.max_request + 1);
    if (bufferevent_enable(client->bev, EV_READ)) {
        rpc_client_destroy(client);
        return -ENOMEM;
    }
    if (client->peer.access == RPC_ACCESS_NONE) {
        vsw_log_rl(&server->client_rl, VSW_LOG_INFO,
                   "rpc: uid %ju is not allowed; its requests are refused",
                   (uintmax_t)uid);
    }
    return 0;
}

/* Turns away 'fd' (closed here) with an error line when the server is at
 * its connection limit. */
static void
rpc_refuse_connection(struct vsw_rpc_server *server, int fd)
{
    struct vsw_rpc_error err;
    char line[VSW_RPC_MAX_MESSAGE * 2];
    char *reply;
    int n;

    server->clients_refused++;
    vsw_log_rl(&server->client_rl, VSW_LOG_WARN,
               "rpc: refusing a connection: %u clients connected already",
               server->n_clients);
    vsw_rpc_error(&err, VSW_RPC_SYSTEM_ERROR,
                  "too many connections (at most %u); try again later",
                  server->limits.max_clients);
    reply = rpc_reply_text(NULL, NULL, &err);
    if (reply) {
        n = snprintf(line, sizeof line, "%s\n", reply);
        /* Best effort: the peer may well be gone already. */
        if (n > 0 && (size_t)n < sizeof line) {
            send(fd, line, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        free(reply);
    }
    close(fd);
}

static void
rpc_accept_cb(struct evconnlistener *listener, evutil_socket_t fd,
              struct sockaddr *sa, int socklen, void *server_)
{
    struct vsw_rpc_server *server = server_;
    struct ucred cred;
    socklen_t len = sizeof cred;
    int error;

    (void)listener;
    (void)sa;
    (void)socklen;
    if (server->n_clients >= server->limits.max_clients) {
        rpc_refuse_connection(server, fd);
        return;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
        vsw_log_rl(&server->client_rl, VSW_LOG_WARN,
                   "rpc: cannot identify a client (%s), closing the "
                   "connection",
                   strerror(errno));
        close(fd);
        return;
    }
    error = rpc_client_create(server, fd, &cred);
    if (error) {
        vsw_log_rl(&server->client_rl, VSW_LOG_WARN,
                   "rpc: cannot serve uid %ju (%s)", (uintmax_t)cred.uid,
                   strerror(-error));
    }
}

static void
rpc_accept_error_cb(struct evconnlistener *listener, void *server_)
{
    const struct timeval retry = {.tv_usec = RPC_ACCEPT_RETRY_MSEC * 1000};
    struct vsw_rpc_server *server = server_;

    vsw_log_rl(&server->client_rl, VSW_LOG_WARN,
               "rpc: accept failed (%s); pausing new connections",
               strerror(EVUTIL_SOCKET_ERROR()));
    evconnlistener_disable(listener);
    evtimer_add(server->accept_retry, &retry);
}

static void
rpc_accept_retry_cb(evutil_socket_t fd, short what, void *server_)
{
    struct vsw_rpc_server *server = server_;

    (void)fd;
    (void)what;
    evconnlistener_enable(server->listener);
}

/* Makes room for binding 'path': removes a socket left there (by an
 * earlier run), but never anything else. */
static int
rpc_remove_stale_socket(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct stat st;
    int fd;
    int live;

    if (lstat(path, &st) < 0) {
        return errno == ENOENT ? 0 : -errno;
    }
    if (!S_ISSOCK(st.st_mode)) {
        return -EEXIST;
    }
    /* A socket somebody still accepts on belongs to a running daemon:
     * taking it over would cut that daemon off from its clients. */
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    live = !connect(fd, (struct sockaddr *)&sun, sizeof sun);
    close(fd);
    if (live) {
        return -EADDRINUSE;
    }
    return unlink(path) < 0 ? -errno : 0;
}

/* Binds and listens on 'path' and sets up 'server->listener'. */
static int
rpc_listen(struct vsw_rpc_server *server, const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    char *copy;
    int error;
    int fd;

    if (len >= sizeof sun.sun_path) {
        return -ENAMETOOLONG;
    }
    memcpy(sun.sun_path, path, len + 1);
    error = rpc_remove_stale_socket(path);
    if (error) {
        return error;
    }
    copy = strdup(path);
    if (!copy) {
        return -ENOMEM;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
        error = -errno;
        if (fd >= 0) {
            close(fd);
        }
        free(copy);
        return error;
    }
    server->socket_path = copy;

    /* chmod() after bind() makes the mode independent of the umask; a
     * peer that connects in between is still subject to SO_PEERCRED. */
    if (chmod(path, 0660) < 0 || listen(fd, SOMAXCONN) < 0) {
        error = -errno;
        close(fd);
        return error;
    }
    server->listener = evconnlistener_new(
        server->base, rpc_accept_cb, server,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
    if (!server->listener) {
        close(fd);
        return -ENOMEM;
    }
    evconnlistener_set_error_cb(server->listener, rpc_accept_error_cb);
    return 0;
}

/* Also makes the process ignore SIGPIPE: libevent writes replies with
 * writev(), and a client that disconnects before reading its reply must
 * cost an EPIPE, not the daemon. */
int
vsw_rpc_server_create(struct event_base *base, const char *socket_path,
                      const struct vsw_rpc_limits *limits,
                      struct vsw_rpc_server **serverp)
{
    const struct vsw_log_ratelimit rl = VSW_LOG_RATELIMIT_INIT(10000, 20);
    struct vsw_rpc_server *server;
    int error;

    *serverp = NULL;
    server = calloc(1, sizeof *server);
    if (!server) {
        return -ENOMEM;
    }
    server->base = base;
    if (limits) {
        server->limits = *limits;
    }
    if (!server->limits.max_request) {
        server->limits.max_request = RPC_DEFAULT_MAX_REQUEST;
    }
    if (!server->limits.max_output) {
        server->limits.max_output = RPC_DEFAULT_MAX_OUTPUT;
    }
    if (!server->limits.max_clients) {
        server->limits.max_clients = RPC_DEFAULT_MAX_CLIENTS;
    }
    server->client_rl = rl;
    server->denied_rl = rl;

    server->accept_retry = evtimer_new(base, rpc_accept_retry_cb, server);
    error = server->accept_retry ? rpc_listen(server, socket_path) : -ENOMEM;
    if (error) {
        vsw_rpc_server_destroy(server);
        return error;
    }
    signal(SIGPIPE, SIG_IGN);
    *serverp = server;
    return 0;
}

void
vsw_rpc_server_destroy(struct vsw_rpc_server *server)
{
    if (!server) {
        return;
    }
    while (server->clients) {
        rpc_client_flush(server->clients);
        rpc_client_destroy(server->clients);
    }
    if (server->listener) {
        evconnlistener_free(server->listener);
    }
    if (server->accept_retry) {
        event_free(server->accept_retry);
    }
    if (server->socket_path) {
        unlink(server->socket_path);
        free(server->socket_path);
    }
    free(server->methods);
    free(server->grants);
    free(server->close_hooks);
    free(server);
}

int
vsw_rpc_server_register(struct vsw_rpc_server *server,
                        const struct vsw_rpc_method *methods, size_t n,
                        void *aux)
{
    struct rpc_method_entry *entries;

    if (!n) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!vsw_rpc_access_name(methods[i].access)) {
            VSW_ERR("rpc: method '%s' declares neither VSW_RPC_READS nor "
                    "VSW_RPC_WRITES",
                    methods[i].name);
            return -EINVAL;
        }
        if (rpc_lookup(server, methods[i].name)) {
            return -EEXIST;
        }
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(methods[i].name, methods[j].name)) {
                return -EEXIST;
            }
        }
    }
    entries =
        reallocarray(server->methods, server->n_methods + n, sizeof *entries);
    if (!entries) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        entries[server->n_methods + i].method = &methods[i];
        entries[server->n_methods + i].aux = aux;
    }
    server->methods = entries;
    server->n_methods += n;
    return 0;
}

int
vsw_rpc_server_unregister(struct vsw_rpc_server *server, const char *name)
{
    for (size_t i = 0; i < server->n_methods; i++) {
        if (!strcmp(server->methods[i].method->name, name)) {
            /* rpc_call() reads nothing of the entry after the handler
             * returns, so moving the tail is safe even from a handler. */
            memmove(&server->methods[i], &server->methods[i + 1],
                    (server->n_methods - i - 1) * sizeof *server->methods);
            server->n_methods--;
            return 0;
        }
    }
    return -ENOENT;
}

/* Takes effect for connections made afterwards. */
const struct vsw_rpc_method *
vsw_rpc_server_lookup(const struct vsw_rpc_server *server, const char *name,
                      void **auxp)
{
    const struct rpc_method_entry *entry = rpc_lookup(server, name);

    if (!entry) {
        return NULL;
    }
    *auxp = entry->aux;
    return entry->method;
}

static int
rpc_grant(struct vsw_rpc_server *server, bool is_group, unsigned id,
          bool read_write)
{
    struct rpc_uid_grant *grants;

    for (size_t i = 0; i < server->n_grants; i++) {
        if (server->grants[i].is_group == is_group &&
            server->grants[i].id == id) {
            server->grants[i].read_write = read_write;
            return 0;
        }
    }
    grants =
        reallocarray(server->grants, server->n_grants + 1, sizeof *grants);
    if (!grants) {
        return -ENOMEM;
    }
    grants[server->n_grants] = (struct rpc_uid_grant){
        .is_group = is_group, .id = id, .read_write = read_write};
    server->grants = grants;
    server->n_grants++;
    return 0;
}

void
vsw_rpc_server_allow_uid(struct vsw_rpc_server *server, uid_t uid,
                         bool read_write)
{
    if (rpc_grant(server, false, uid, read_write)) {
        VSW_WARN("rpc: out of memory; uid %ju stays refused", (uintmax_t)uid);
    }
}

int
vsw_rpc_server_allow_gid(struct vsw_rpc_server *server, gid_t gid,
                         bool read_write)
{
    return rpc_grant(server, true, gid, read_write);
}

/* The Linux POSIX ACL extended attribute ("system.posix_acl_access"),
 * written by hand so that the daemon needs no libacl. */
#define RPC_ACL_VERSION   2
#define RPC_ACL_USER_OBJ  0x01
#define RPC_ACL_GROUP_OBJ 0x04
#define RPC_ACL_GROUP     0x08
#define RPC_ACL_MASK      0x10
#define RPC_ACL_OTHER     0x20
#define RPC_ACL_RW        6
#define RPC_ACL_NO_ID     UINT32_MAX

struct rpc_acl_entry {
    uint16_t tag;
    uint16_t perm;
    uint32_t id;
};

/* Lets group 'gid' read and write 'path' besides its owner and owning
 * group (rw-rw----), through an ACL entry.  Returns 0 or a negative
 * errno (-EOPNOTSUPP where the file system has no ACLs). */
static int
rpc_acl_add_group(const char *path, gid_t gid)
{
    /* The kernel wants the entries sorted by tag, then id. */
    struct {
        uint32_t version;
        struct rpc_acl_entry entries[5];
    } acl = {
        .version = RPC_ACL_VERSION,
        .entries =
            {
                {RPC_ACL_USER_OBJ, RPC_ACL_RW, RPC_ACL_NO_ID},
                {RPC_ACL_GROUP_OBJ, RPC_ACL_RW, RPC_ACL_NO_ID},
                {RPC_ACL_GROUP, RPC_ACL_RW, gid},
                {RPC_ACL_MASK, RPC_ACL_RW, RPC_ACL_NO_ID},
                {RPC_ACL_OTHER, 0, RPC_ACL_NO_ID},
            },
    };

    return setxattr(path, "system.posix_acl_access", &acl, sizeof acl, 0) < 0
               ? -errno
               : 0;
}

int
vsw_rpc_server_set_socket_groups(struct vsw_rpc_server *server,
                                 gid_t admin_gid, gid_t readonly_gid,
                                 const char **note)
{
    const char *path = server->socket_path;
    gid_t owner = admin_gid != (gid_t)-1 ? admin_gid : readonly_gid;
    int error;

    *note = NULL;
    if (owner == (gid_t)-1) {
        return 0;
    }
    if (chown(path, (uid_t)-1, owner) < 0 || chmod(path, 0660) < 0) {
        return -errno;
    }
    if (admin_gid == (gid_t)-1 || readonly_gid == (gid_t)-1 ||
        readonly_gid == admin_gid) {
        return 0;
    }
    error = rpc_acl_add_group(path, readonly_gid);
    if (error == -EOPNOTSUPP) {
        /* Without ACLs a file has one group; the peer's credentials are
         * checked at connect time anyway, so opening the file to everyone
         * still keeps every other user out of every method. */
        *note = "the socket's file system has no ACLs: the socket is 0666 "
                "and other users are refused by their credentials";
        return chmod(path, 0666) < 0 ? -errno : 0;
    }
    return error;
}

size_t
vsw_rpc_server_n_methods(const struct vsw_rpc_server *server)
{
    return server->n_methods;
}

const struct vsw_rpc_method *
vsw_rpc_server_method_at(const struct vsw_rpc_server *server, size_t i)
{
    return i < server->n_methods ? server->methods[i].method : NULL;
}

void
vsw_rpc_server_get_bounds(const struct vsw_rpc_server *server,
                          struct vsw_rpc_server_bounds *bounds)
{
    size_t input = 0;
    size_t output = 0;

    /* The request being answered is whole: only the ones still arriving
     * count against the request bound. */
    for (const struct rpc_client *c = server->clients; c; c = c->next) {
        size_t in = c->id == server->current_client
                        ? 0
                        : evbuffer_get_length(bufferevent_get_input(c->bev));
        size_t out = evbuffer_get_length(bufferevent_get_output(c->bev));

        input = in > input ? in : input;
        output = out > output ? out : output;
    }
    *bounds = (struct vsw_rpc_server_bounds){
        .n_clients = server->n_clients,
        .max_clients = server->limits.max_clients,
        .clients_refused = server->clients_refused,
        .request_largest = input,
        .max_request = server->limits.max_request,
        .requests_too_long = server->requests_too_long,
        .output_largest = output,
        .max_output = server->limits.max_output,
        .slow_readers = server->slow_readers,
    };
}

uint64_t
vsw_rpc_server_current_client(const struct vsw_rpc_server *server)
{
    return server->current_client;
}

int
vsw_rpc_server_on_close(struct vsw_rpc_server *server,
                        void (*fn)(uint64_t client, void *aux), void *aux)
{
    struct rpc_close_hook *hooks =
        realloc(server->close_hooks,
                (server->n_close_hooks + 1) * sizeof *server->close_hooks);

    if (!hooks) {
        return -ENOMEM;
    }
    hooks[server->n_close_hooks++] = (struct rpc_close_hook){fn, aux};
    server->close_hooks = hooks;
    return 0;
}
