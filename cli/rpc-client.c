#include "rpc-client.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* How long to wait before trying again to connect to a socket whose
 * listen backlog is full. */
#define CONNECT_RETRY_MS 10

/* The first allocation of the reply buffer; it doubles as needed up to
 * VSW_RPC_CLIENT_MAX_REPLY. */
#define REPLY_BUFFER_INITIAL 4096

/* Invariant: 'in' holds 'in_len' received bytes that no reply has
 * consumed yet, none of them belonging to a line already returned. */
struct vsw_rpc_client {
    int fd;                /* connected socket, O_NONBLOCK */
    long long deadline_ms; /* CLOCK_MONOTONIC time when waiting ends */
    json_int_t next_id;    /* "id" of the next request */
    char *in;              /* received bytes, owned */
    size_t in_len;         /* bytes used in 'in' */
    size_t in_allocated;   /* bytes allocated for 'in' */
};

/* Returns the milliseconds left before 'client''s deadline, for poll(2),
 * or -ETIMEDOUT if none are left. */
static int
remaining_ms(const struct vsw_rpc_client *client)
{
    long long left = client->deadline_ms - vsw_monotonic_ms();

    if (left <= 0) {
        return -ETIMEDOUT;
    }
    return left > INT_MAX ? INT_MAX : (int)left;
}

/* Waits until 'client''s socket has one of 'events'.  Returns 0, or
 * -ETIMEDOUT. */
static int
wait_for(const struct vsw_rpc_client *client, short events)
{
    struct pollfd pfd = {.fd = client->fd, .events = events};

    for (;;) {
        int timeout = remaining_ms(client);
        int n;

        if (timeout < 0) {
            return timeout;
        }
        n = poll(&pfd, 1, timeout);
        if (n > 0) {
            return 0;
        }
        if (n < 0 && errno != EINTR) {
            return -errno;
        }
    }
}

/* A unix socket connects at once or, when the listener's backlog is full,
 * fails with EAGAIN without queueing; only retrying helps then. */
static int
connect_until_deadline(struct vsw_rpc_client *client,
                       const struct sockaddr_un *addr)
{
    for (;;) {
        int timeout;

        if (!connect(client->fd, (const struct sockaddr *)addr,
                     sizeof *addr)) {
            return 0;
        }
        if (errno != EAGAIN && errno != EINTR) {
            return -errno;
        }
        timeout = remaining_ms(client);
        if (timeout < 0) {
            return timeout;
        }
        poll(NULL, 0, timeout < CONNECT_RETRY_MS ? timeout : CONNECT_RETRY_MS);
    }
}

int
vsw_rpc_client_open(const char *path, long long timeout_ms,
                    struct vsw_rpc_client **clientp)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    struct vsw_rpc_client *client;
    int retval;

    *clientp = NULL;
    if (strlen(path) >= sizeof addr.sun_path) {
        return -ENAMETOOLONG;
    }
    strcpy(addr.sun_path, path);

    client = vsw_xmalloc(sizeof *client);
    *client = (struct vsw_rpc_client){
        .deadline_ms = vsw_monotonic_ms() + timeout_ms,
        .next_id = 1,
        .in = vsw_xmalloc(REPLY_BUFFER_INITIAL),
        .in_allocated = REPLY_BUFFER_INITIAL,
    };
    client->fd =
        socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (client->fd < 0) {
        retval = -errno;
        vsw_rpc_client_close(client);
        return retval;
    }
    retval = connect_until_deadline(client, &addr);
    if (retval) {
        vsw_rpc_client_close(client);
        return retval;
    }
    *clientp = client;
    return 0;
}

void
vsw_rpc_client_close(struct vsw_rpc_client *client)
{
    if (client) {
        if (client->fd >= 0) {
            close(client->fd);
        }
        free(client->in);
        free(client);
    }
}

/* Sends the 'len' bytes of 'data'.  Returns 0 or a negative errno. */
static int
send_all(struct vsw_rpc_client *client, const char *data, size_t len)
{
    while (len > 0) {
        /* MSG_NOSIGNAL: a daemon that went away is an error to report,
         * not a SIGPIPE that kills the client silently. */
        ssize_t n = send(client->fd, data, len, MSG_NOSIGNAL);

        if (n >= 0) {
            data += n;
            len -= n;
        } else if (errno == EAGAIN) {
            int retval = wait_for(client, POLLOUT);

            if (retval) {
                return retval;
            }
        } else if (errno != EINTR) {
            return -errno;
        }
    }
    return 0;
}

/* Sends one request line.  Returns 0 or a negative errno. */
static int
send_request(struct vsw_rpc_client *client, json_int_t id, const char *method,
             json_t *params)
{
    json_t *request;
    char *text;
    char *line;
    int retval;

    request = json_pack("{s:s, s:I, s:s, s:O}", "jsonrpc", "2.0", "id", id,
                        "method", method, "params", params);
    if (!request) {
        return -EINVAL;
    }
    /* Compact output never contains a newline, which would end the line
     * early: newlines inside strings are escaped. */
    text = json_dumps(request, JSON_COMPACT);
    json_decref(request);
    if (!text) {
        return -EINVAL;
    }
    line = vsw_xasprintf("%s\n", text);
    free(text);
    retval = send_all(client, line, strlen(line));
    free(line);
    return retval;
}

/* Receives until 'client->in' holds a whole line, and stores its length
 * without the "\n" in '*line_len'.  Returns 0 or a negative errno. */
static int
receive_line(struct vsw_rpc_client *client, size_t *line_len)
{
    size_t scanned = 0;

    for (;;) {
        char *newline =
            memchr(client->in + scanned, '\n', client->in_len - scanned);
        size_t room;
        ssize_t n;

        if (newline) {
            *line_len = newline - client->in;
            return 0;
        }
        scanned = client->in_len;
        if (client->in_len >= VSW_RPC_CLIENT_MAX_REPLY) {
            return -EMSGSIZE;
        }
        if (client->in_len == client->in_allocated) {
            size_t size = client->in_allocated * 2;

            if (size > VSW_RPC_CLIENT_MAX_REPLY) {
                size = VSW_RPC_CLIENT_MAX_REPLY;
            }
            client->in = vsw_xrealloc(client->in, size);
            client->in_allocated = size;
        }
        room = client->in_allocated - client->in_len;
        n = recv(client->fd, client->in + client->in_len, room, 0);
        if (n > 0) {
            client->in_len += n;
        } else if (n == 0) {
            return -ECONNRESET;
        } else if (errno == EAGAIN) {
            int retval = wait_for(client, POLLIN);

            if (retval) {
                return retval;
            }
        } else if (errno != EINTR) {
            return -errno;
        }
    }
}

/* True if 'id' answers request 'expected'.  A null id answers too: the
 * daemon uses it for an error about a request it could not read. */
static bool
id_matches(const json_t *id, json_int_t expected)
{
    return json_is_null(id) ||
           (json_is_integer(id) && json_integer_value(id) == expected);
}

/* Splits 'response' into '*resultp' or '*errorp' (new references).
 * Returns 0, or -EPROTO if 'response' does not answer request 'id'. */
static int
parse_response(const json_t *response, json_int_t id, json_t **resultp,
               json_t **errorp)
{
    const json_t *result = json_object_get(response, "result");
    const json_t *error = json_object_get(response, "error");

    if (!json_is_object(response) ||
        !id_matches(json_object_get(response, "id"), id)) {
        return -EPROTO;
    }
    if (result && !error && !json_is_null(json_object_get(response, "id"))) {
        *resultp = json_incref((json_t *)result);
        return 0;
    }
    if (!result && json_is_object(error) &&
        json_is_integer(json_object_get(error, "code")) &&
        json_is_string(json_object_get(error, "message"))) {
        *errorp = json_incref((json_t *)error);
        return 0;
    }
    return -EPROTO;
}

int
vsw_rpc_client_call(struct vsw_rpc_client *client, const char *method,
                    json_t *params, json_t **resultp, json_t **errorp)
{
    json_int_t id = client->next_id++;
    json_t *response;
    size_t line_len = 0;
    int retval;

    *resultp = NULL;
    *errorp = NULL;
    retval = send_request(client, id, method, params);
    if (retval) {
        return retval;
    }
    retval = receive_line(client, &line_len);
    if (retval) {
        return retval;
    }
    response = json_loadb(client->in, line_len, 0, NULL);
    client->in_len -= line_len + 1;
    memmove(client->in, client->in + line_len + 1, client->in_len);
    if (!response) {
        return -EPROTO;
    }
    retval = parse_response(response, id, resultp, errorp);
    json_decref(response);
    return retval;
}

void
vsw_rpc_client_set_timeout(struct vsw_rpc_client *client, long long timeout_ms)
{
    client->deadline_ms = vsw_monotonic_ms() + timeout_ms;
}
