/*
 * The client side of vswitchd's JSON-RPC 2.0 protocol: a unix stream
 * socket, one request at a time, each request and each response one JSON
 * text on one line ending in "\n".
 *
 * All the waiting a client does (connecting, sending, reading replies)
 * shares one deadline, fixed when it is opened, so a command's whole
 * exchange with the daemon is bounded however many calls it makes and
 * however slowly the daemon answers.
 */
#ifndef VSW_RPC_CLIENT_H
#define VSW_RPC_CLIENT_H 1

#include <jansson.h>

/* A response line longer than this is refused rather than buffered. */
#define VSW_RPC_CLIENT_MAX_REPLY (64u * 1024 * 1024)

struct vsw_rpc_client;

/* Connects to the socket at 'path' (copied), waiting at most 'timeout_ms'
 * milliseconds; the same deadline bounds every later call.  Returns 0 and
 * stores a client that the caller closes with vsw_rpc_client_close() in
 * '*clientp', or returns a negative errno: -ENAMETOOLONG if 'path' does
 * not fit a socket address, -ETIMEDOUT, or the error of connect(2). */
int vsw_rpc_client_open(const char *path, long long timeout_ms,
                        struct vsw_rpc_client **clientp);

/* Closes the connection and frees 'client'.  NULL is allowed. */
void vsw_rpc_client_close(struct vsw_rpc_client *client);

/* Gives 'client' 'timeout_ms' from now for what it does next: for a
 * command that runs for long, one call at a time (capture). */
void vsw_rpc_client_set_timeout(struct vsw_rpc_client *client,
                                long long timeout_ms);

/* Calls 'method' with 'params' (an object or array; borrowed) and waits
 * for the response.
 *
 * Returns 0 when the daemon answered.  Then exactly one of '*resultp' (the
 * result, which may be JSON null) and '*errorp' (the error object, with an
 * integer "code" and a string "message") is a new reference the caller
 * releases, and the other is NULL.
 *
 * Returns a negative errno when no answer came, with both set to NULL:
 * -EINVAL if 'method' is not UTF-8, -ETIMEDOUT past the deadline,
 * -ECONNRESET if the daemon closed the connection first, -EMSGSIZE for a
 * response line over VSW_RPC_CLIENT_MAX_REPLY bytes, -EPROTO for one that
 * is not a JSON-RPC response to this request, or the error of send(2) or
 * recv(2).  The client is then of no further use but must still be
 * closed. */
int vsw_rpc_client_call(struct vsw_rpc_client *client, const char *method,
                        json_t *params, json_t **resultp, json_t **errorp);

#endif /* VSW_RPC_CLIENT_H */
