/*
 * JSON-RPC 2.0 server on a unix stream socket, driven by libevent on the
 * control thread.
 *
 * Framing: each request and each response is one JSON text followed by a
 * newline ("\n"); a request may arrive in any number of writes, and many
 * requests may be pipelined on one connection (answered in order).
 * Notifications (no "id") are executed and not answered.  Batches (JSON
 * arrays) are answered with -32600.
 *
 * Limits protect the daemon from its clients: a request longer than the
 * size cap is answered with an error and the connection is closed after
 * at most the cap has been buffered; a client that does not read its
 * responses is disconnected once its pending output passes the output
 * cap; the number of connections is capped.  None of this ever blocks the
 * datapath, which runs on other threads.
 *
 * Access: the peer's credentials at connect time (SO_PEERCRED, and its
 * supplementary groups from SO_PEERGROUPS) decide.  Root and the daemon's
 * own uid may call every method; uids and groups added with
 * vsw_rpc_server_allow_uid() and vsw_rpc_server_allow_gid() may call every
 * method or only the methods declared VSW_RPC_READS; everyone else is
 * refused.  Every call of a VSW_RPC_WRITES method is logged with the
 * peer's uid and pid and its outcome.
 */
#ifndef VSW_RPC_SERVER_H
#define VSW_RPC_SERVER_H 1

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;

/* JSON-RPC 2.0 error codes, and the ones this daemon adds. */
enum vsw_rpc_code {
    VSW_RPC_PARSE_ERROR = -32700,
    VSW_RPC_INVALID_REQUEST = -32600,
    VSW_RPC_METHOD_NOT_FOUND = -32601,
    VSW_RPC_INVALID_PARAMS = -32602,
    VSW_RPC_INTERNAL_ERROR = -32603,
    VSW_RPC_NOT_FOUND = -32001,    /* named switch/port/... unknown */
    VSW_RPC_EXISTS = -32002,       /* name already taken */
    VSW_RPC_SYSTEM_ERROR = -32003, /* the kernel refused (errno text) */
    VSW_RPC_PERMISSION = -32004,   /* the client may not do this */
    VSW_RPC_TOO_LARGE = -32005,    /* request over the size cap */
    VSW_RPC_CONFLICT = -32006,     /* contradicts current state */
};

#define VSW_RPC_MAX_MESSAGE 256
/* An error a handler reports: a code and a one-line human message. */
struct vsw_rpc_error {
    int code;                          /* enum vsw_rpc_code */
    char message[VSW_RPC_MAX_MESSAGE]; /* NUL-terminated, no newline */
};

/* Fills 'err' and returns 'code' (negative), so a handler can write
 * "return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS, "...", ...);". */
int vsw_rpc_error(struct vsw_rpc_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A method handler.  'params' is the request's params object (an empty
 * object when the request had none; never NULL; borrowed).  On success it
 * returns 0 and stores a new reference in '*result' (NULL means {}).  On
 * failure it returns a negative value after filling 'err', and must have
 * changed nothing. */
typedef int vsw_rpc_handler(json_t *params, json_t **result,
                            struct vsw_rpc_error *err, void *aux);

/* What a method does to the daemon, which decides who may call it.  Every
 * method declares one: there is no default, so that a new method has to
 * decide.  The values skip 0 and 1 on purpose: a method table that leaves
 * the field out, or still fills it with a bool, is refused by
 * vsw_rpc_server_register() instead of silently counting as one kind. */
enum vsw_rpc_access {
    VSW_RPC_READS = 2,  /* only looks: read-only clients may call it */
    VSW_RPC_WRITES = 3, /* changes configuration or state, or has a side
                         * effect (a capture, a live trace): administrators
                         * only, and every call is logged */
};

struct vsw_rpc_method {
    const char *name;           /* "noun.verb" */
    vsw_rpc_handler *handler;   /* called on the control thread */
    enum vsw_rpc_access access; /* who may call it */
};

/* "read" or "write", the name of 'access' in documents and answers; NULL
 * for a value that is neither. */
const char *vsw_rpc_access_name(enum vsw_rpc_access access);

/* Limits; zero fields take the defaults below. */
struct vsw_rpc_limits {
    size_t max_request;   /* bytes of one request, default 1 MiB */
    size_t max_output;    /* pending response bytes, default 16 MiB */
    unsigned max_clients; /* connections, default 128 */
};

struct vsw_rpc_server;

/* Creates a server listening on 'socket_path' (an existing socket file
 * there is replaced; the file is made mode 0660).  Returns 0 and stores
 * the server in '*serverp', or a negative errno. */
int vsw_rpc_server_create(struct event_base *base, const char *socket_path,
                          const struct vsw_rpc_limits *limits,
                          struct vsw_rpc_server **serverp);

/* Stops listening, writes out the replies still queued (as far as each
 * socket takes them without blocking, so that the answer to system.stop
 * reaches its client), closes every connection, removes the socket file
 * and frees 'server'.  NULL is allowed. */
void vsw_rpc_server_destroy(struct vsw_rpc_server *server);

/* Registers the 'n' methods of 'methods' (which must outlive the server),
 * each called with 'aux'.  Returns 0, -EEXIST if a name is taken, or
 * -EINVAL (logged, naming the method) if a method's 'access' is not one
 * of enum vsw_rpc_access. */
int vsw_rpc_server_register(struct vsw_rpc_server *server,
                            const struct vsw_rpc_method *methods, size_t n,
                            void *aux);

/* Removes the method registered as 'name' (an unloaded extension's), so
 * that calls fail as unknown and the name can be registered again.
 * Returns 0 or -ENOENT.  Safe from inside a handler. */
int vsw_rpc_server_unregister(struct vsw_rpc_server *server, const char *name);

/* Returns the method registered as 'name', storing its 'aux' in
 * '*auxp', or NULL if there is none: for a method that runs others
 * (transact).  The method belongs to its registrant. */
const struct vsw_rpc_method *
vsw_rpc_server_lookup(const struct vsw_rpc_server *server, const char *name,
                      void **auxp);

/* The connection whose request the running handler answers: an id that
 * no other connection of 'server' ever has, or 0 for a request from
 * vsw_rpc_server_handle_text().  Meaningful only inside a handler. */
uint64_t vsw_rpc_server_current_client(const struct vsw_rpc_server *server);

/* Calls 'fn'('client', 'aux') whenever a connection closes, with its id
 * (vsw_rpc_server_current_client()), so that what it owned can go with
 * it; also for every connection vsw_rpc_server_destroy() closes.
 * Returns 0 or -ENOMEM. */
int vsw_rpc_server_on_close(struct vsw_rpc_server *server,
                            void (*fn)(uint64_t client, void *aux), void *aux);

/* Lets 'uid' connect, read-only unless 'read_write'.  Takes effect for
 * connections made afterwards. */
void vsw_rpc_server_allow_uid(struct vsw_rpc_server *server, uid_t uid,
                              bool read_write);

/* Lets every member of group 'gid' (primary or supplementary) connect,
 * read-only unless 'read_write'.  A peer that several grants match gets
 * the widest.  Takes effect for connections made afterwards.  Returns 0
 * or -ENOMEM. */
int vsw_rpc_server_allow_gid(struct vsw_rpc_server *server, gid_t gid,
                             bool read_write);

/* Gives the socket file to group 'admin_gid' (mode 0660), so that its
 * members can connect, and lets the members of 'readonly_gid' connect as
 * well, through an access-control entry on the file.  Either may be -1
 * for none.  Returns 0 or a negative errno; '*note' is set to a sentence
 * for the log when the file system has no ACLs and the file had to be
 * made 0666 instead (the credentials still decide), else to NULL. */
int vsw_rpc_server_set_socket_groups(struct vsw_rpc_server *server,
                                     gid_t admin_gid, gid_t readonly_gid,
                                     const char **note);

/* The number of registered methods, and the 'i'th of them (in
 * registration order), for listing them. */
size_t vsw_rpc_server_n_methods(const struct vsw_rpc_server *server);
const struct vsw_rpc_method *
vsw_rpc_server_method_at(const struct vsw_rpc_server *server, size_t i);

/* The bounds of the server and their use, for the status. */
struct vsw_rpc_server_bounds {
    unsigned n_clients;         /* connected now */
    unsigned max_clients;       /* the cap */
    uint64_t clients_refused;   /* connections turned away at the cap */
    size_t request_largest;     /* bytes of the largest request being
                                   received (unanswered input) */
    size_t max_request;         /* bytes of one request */
    uint64_t requests_too_long; /* requests over it */
    size_t output_largest;      /* reply bytes waiting for the client
                                   with the most */
    size_t max_output;          /* per client */
    uint64_t slow_readers;      /* clients cut off over it */
};
void vsw_rpc_server_get_bounds(const struct vsw_rpc_server *server,
                               struct vsw_rpc_server_bounds *bounds);

/* Handles one request text outside any connection, exactly as a client
 * with full access would have it handled.  Returns the response text
 * (caller frees it with free()), or NULL for a notification.  For tests
 * and for the daemon's own use. */
char *vsw_rpc_server_handle_text(struct vsw_rpc_server *server,
                                 const char *request, size_t len);

/* Parameter helpers for handlers.  Each returns 0, or fills 'err' with
 * VSW_RPC_INVALID_PARAMS and a message naming the parameter and returns
 * a negative value. */

/* Fails if 'params' has a key not in the NULL-terminated 'known'. */
int vsw_rpc_check_keys(const json_t *params, const char *const known[],
                       struct vsw_rpc_error *err);
/* '*value' = the string 'key' (borrowed from 'params'); unchanged when
 * absent and not 'required'. */
int vsw_rpc_get_string(const json_t *params, const char *key, bool required,
                       const char **value, struct vsw_rpc_error *err);
/* '*value' = the integer 'key' within [min, max]; unchanged when absent
 * and not 'required'. */
int vsw_rpc_get_int(const json_t *params, const char *key, bool required,
                    long long min, long long max, long long *value,
                    struct vsw_rpc_error *err);
/* '*value' = the boolean 'key'; unchanged when absent and not
 * 'required'. */
int vsw_rpc_get_bool(const json_t *params, const char *key, bool required,
                     bool *value, struct vsw_rpc_error *err);

#endif /* VSW_RPC_SERVER_H */
