/*
 * The JSON-RPC server, through vsw_rpc_server_handle_text() and through
 * real client sockets.  The server's event loop runs on the test's own
 * thread: every helper that waits for the server runs one non-blocking
 * loop iteration at a time.
 */
#include "rpc-server.h"

#include <check.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "timeutil.h"

#define TEST_TIMEOUT_MSEC 20000

/* The unprivileged uid the access tests connect as. */
#define NOBODY 65534

static struct event_base *base;
static struct vsw_rpc_server *server;
static char sock_path[108];

/* Calls of the mutating test method, to see that it ran (or did not). */
static int set_calls;

/* Echoes its params. */
static int
method_echo(json_t *params, json_t **result, struct vsw_rpc_error *err,
            void *aux)
{
    (void)err;
    (void)aux;
    *result = json_incref(params);
    return 0;
}

/* Changes something: takes a required "vlan", an optional "name" and
 * "enabled", and returns nothing (so the reply carries {}). */
static int
method_set(json_t *params, json_t **result, struct vsw_rpc_error *err,
           void *aux)
{
    static const char *const known[] = {"vlan", "name", "enabled", NULL};
    const char *name = "none";
    bool enabled = true;
    long long vlan;
    int error;

    (void)aux;
    error = vsw_rpc_check_keys(params, known, err);
    error = error ? error
                  : vsw_rpc_get_int(params, "vlan", true, 1, 4094, &vlan, err);
    error =
        error ? error : vsw_rpc_get_string(params, "name", false, &name, err);
    error = error ? error
                  : vsw_rpc_get_bool(params, "enabled", false, &enabled, err);
    if (error) {
        return error;
    }
    set_calls++;
    *result = NULL;
    return 0;
}

static int
method_fail(json_t *params, json_t **result, struct vsw_rpc_error *err,
            void *aux)
{
    (void)params;
    (void)result;
    (void)aux;
    return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS, "always fails");
}

/* Returns {"data": "xxx..."} of "size" bytes, to fill output buffers. */
static int
method_big(json_t *params, json_t **result, struct vsw_rpc_error *err,
           void *aux)
{
    long long size = 0;
    char *data;
    int error;

    (void)aux;
    error = vsw_rpc_get_int(params, "size", true, 0, 1 << 20, &size, err);
    if (error) {
        return error;
    }
    data = malloc(size + 1);
    memset(data, 'x', size);
    data[size] = '\0';
    *result = json_pack("{s:s}", "data", data);
    free(data);
    return 0;
}

/* Returns a result jansson cannot encode: a string that is not UTF-8
 * (json_string_nocheck() lets a careless handler build one). */
static int
method_unencodable(json_t *params, json_t **result, struct vsw_rpc_error *err,
                   void *aux)
{
    (void)params;
    (void)err;
    (void)aux;
    *result = json_pack("{s:o}", "name", json_string_nocheck("eth\xff"));
    return 0;
}

/* Fails without saying why. */
static int
method_sloppy(json_t *params, json_t **result, struct vsw_rpc_error *err,
              void *aux)
{
    (void)params;
    (void)result;
    (void)err;
    (void)aux;
    return -1;
}

/* Fails with a message that is not UTF-8. */
static int
method_bad_message(json_t *params, json_t **result, struct vsw_rpc_error *err,
                   void *aux)
{
    (void)params;
    (void)result;
    (void)aux;
    err->code = VSW_RPC_SYSTEM_ERROR;
    strcpy(err->message, "no device \xff\xfe");
    return -1;
}

static const struct vsw_rpc_method test_methods[] = {
    {.name = "test.unencodable",
     .handler = method_unencodable,
     .access = VSW_RPC_READS},
    {.name = "test.sloppy", .handler = method_sloppy, .access = VSW_RPC_READS},
    {.name = "test.bad-message",
     .handler = method_bad_message,
     .access = VSW_RPC_READS},
    {.name = "test.echo", .handler = method_echo, .access = VSW_RPC_READS},
    {.name = "test.set", .handler = method_set, .access = VSW_RPC_WRITES},
    {.name = "test.fail", .handler = method_fail, .access = VSW_RPC_READS},
    {.name = "test.big", .handler = method_big, .access = VSW_RPC_READS},
};

static const struct vsw_rpc_limits test_limits = {
    .max_request = 4096,
    .max_output = 65536,
    .max_clients = 4,
};

static void
start_server(const struct vsw_rpc_limits *limits)
{
    static int serial;

    snprintf(sock_path, sizeof sock_path, "/tmp/vsw-test-rpc-%ld-%d.sock",
             (long)getpid(), serial++);
    ck_assert_int_eq(vsw_rpc_server_create(base, sock_path, limits, &server),
                     0);
    ck_assert_int_eq(vsw_rpc_server_register(
                         server, test_methods,
                         sizeof test_methods / sizeof *test_methods, NULL),
                     0);
}

static void
stop_server(void)
{
    vsw_rpc_server_destroy(server);
    server = NULL;
}

static void
setup(void)
{
    base = event_base_new();
    ck_assert_ptr_nonnull(base);
    set_calls = 0;
    start_server(&test_limits);
}

static void
teardown(void)
{
    stop_server();
    event_base_free(base);
}

/* Runs whatever the server has to do right now. */
static void
pump(void)
{
    event_base_loop(base, EVLOOP_NONBLOCK);
}

/* Lets the server run until 'fd' is ready for 'events' or 1 ms passes. */
static void
pump_and_wait(int fd, short events)
{
    struct pollfd pfd = {.fd = fd, .events = events};

    pump();
    poll(&pfd, 1, 1);
}

/* A client connection with its not yet consumed input. */
struct test_client {
    int fd;     /* non-blocking socket */
    char *buf;  /* received bytes not returned yet */
    size_t len; /* bytes in 'buf' */
    size_t cap; /* allocated bytes of 'buf' */
};

static struct test_client *
client_open(void)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct test_client *c = calloc(1, sizeof *c);

    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(c->fd, 0);
    strcpy(sun.sun_path, sock_path);
    ck_assert_int_eq(connect(c->fd, (struct sockaddr *)&sun, sizeof sun), 0);
    pump();
    return c;
}

static void
client_close(struct test_client *c)
{
    close(c->fd);
    free(c->buf);
    free(c);
    pump();
}

/* Sends all of 'data', letting the server run meanwhile.  Returns 0, or
 * the negative errno of a failed send (the server closed on us). */
static int
client_send(struct test_client *c, const void *data, size_t len)
{
    long long deadline = vsw_time_msec() + TEST_TIMEOUT_MSEC;
    size_t done = 0;

    while (done < len) {
        ssize_t n =
            send(c->fd, (const char *)data + done, len - done, MSG_NOSIGNAL);

        if (n > 0) {
            done += n;
        } else if (errno == EAGAIN) {
            ck_assert_msg(vsw_time_msec() < deadline, "send timed out");
            pump_and_wait(c->fd, POLLOUT);
        } else {
            return -errno;
        }
    }
    pump();
    return 0;
}

static void
client_send_text(struct test_client *c, const char *text)
{
    ck_assert_int_eq(client_send(c, text, strlen(text)), 0);
}

/* Reads one line (returned without its newline; the caller frees it),
 * letting the server run meanwhile.  Returns NULL when the server closed
 * the connection. */
static char *
client_read_line(struct test_client *c)
{
    long long deadline = vsw_time_msec() + TEST_TIMEOUT_MSEC;

    for (;;) {
        char *newline = c->buf ? memchr(c->buf, '\n', c->len) : NULL;
        char chunk[65536];
        ssize_t n;

        if (newline) {
            size_t line_len = newline - c->buf;
            char *line = strndup(c->buf, line_len);

            memmove(c->buf, newline + 1, c->len - line_len - 1);
            c->len -= line_len + 1;
            return line;
        }
        n = recv(c->fd, chunk, sizeof chunk, 0);
        if (n > 0) {
            if (c->len + n > c->cap) {
                c->cap = (c->len + n) * 2;
                c->buf = realloc(c->buf, c->cap);
            }
            memcpy(c->buf + c->len, chunk, n);
            c->len += n;
        } else if (n == 0 || errno == ECONNRESET) {
            return NULL;
        } else {
            ck_assert_int_eq(errno, EAGAIN);
            ck_assert_msg(vsw_time_msec() < deadline, "reply timed out");
            pump_and_wait(c->fd, POLLIN);
        }
    }
}

/* Reads one reply and parses it. */
static json_t *
client_read_reply(struct test_client *c)
{
    char *line = client_read_line(c);
    json_t *reply;

    ck_assert_msg(line != NULL, "connection closed instead of a reply");
    reply = json_loads(line, 0, NULL);
    ck_assert_msg(reply != NULL, "reply is not JSON: %s", line);
    free(line);
    return reply;
}

/* Sends 'text' and a newline, and returns the parsed reply. */
static json_t *
client_call(struct test_client *c, const char *text)
{
    client_send_text(c, text);
    client_send_text(c, "\n");
    return client_read_reply(c);
}

/* Discards replies until the server closes 'c' (fails on a timeout). */
static void
client_expect_close(struct test_client *c)
{
    char *line;

    while ((line = client_read_line(c))) {
        free(line);
    }
}

/* The reply of vsw_rpc_server_handle_text() to 'text', parsed; NULL if
 * there is none. */
static json_t *
handle(const char *text)
{
    char *reply = vsw_rpc_server_handle_text(server, text, strlen(text));
    json_t *json;

    if (!reply) {
        return NULL;
    }
    ck_assert_msg(!strchr(reply, '\n'), "reply has a newline: %s", reply);
    json = json_loads(reply, 0, NULL);
    ck_assert_msg(json != NULL, "reply is not JSON: %s", reply);
    free(reply);
    return json;
}

/* Checks that 'reply' (consumed) is an error 'code' with 'message' (any
 * message if NULL) and the id 'id' (a JSON text). */
static void
check_error(json_t *reply, int code, const char *message, const char *id)
{
    json_t *error = json_object_get(reply, "error");
    json_t *expected_id = json_loads(id, JSON_DECODE_ANY, NULL);

    ck_assert_ptr_nonnull(reply);
    ck_assert_str_eq(json_string_value(json_object_get(reply, "jsonrpc")),
                     "2.0");
    ck_assert_ptr_null(json_object_get(reply, "result"));
    ck_assert_ptr_nonnull(error);
    ck_assert_int_eq(json_object_size(reply), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(error, "code")), code);
    ck_assert_ptr_nonnull(
        json_string_value(json_object_get(error, "message")));
    if (message) {
        ck_assert_str_eq(json_string_value(json_object_get(error, "message")),
                         message);
    }
    ck_assert(json_equal(json_object_get(reply, "id"), expected_id));
    json_decref(expected_id);
    json_decref(reply);
}

/* Checks that 'reply' (consumed) is a success carrying the result 'result'
 * (a JSON text) for the id 'id' (a JSON text). */
static void
check_result(json_t *reply, const char *result, const char *id)
{
    json_t *expected_result = json_loads(result, JSON_DECODE_ANY, NULL);
    json_t *expected_id = json_loads(id, JSON_DECODE_ANY, NULL);

    ck_assert_ptr_nonnull(reply);
    ck_assert_str_eq(json_string_value(json_object_get(reply, "jsonrpc")),
                     "2.0");
    ck_assert_ptr_null(json_object_get(reply, "error"));
    ck_assert_int_eq(json_object_size(reply), 3);
    ck_assert(json_equal(json_object_get(reply, "result"), expected_result));
    ck_assert(json_equal(json_object_get(reply, "id"), expected_id));
    json_decref(expected_result);
    json_decref(expected_id);
    json_decref(reply);
}

/* Dispatch, through vsw_rpc_server_handle_text(). */

START_TEST(test_valid_call)
{
    check_result(handle("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
                        "\"test.echo\",\"params\":{\"a\":[1,2]}}"),
                 "{\"a\":[1,2]}", "1");
    check_result(handle("{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":"
                        "\"test.echo\"}"),
                 "{}", "\"x\"");
    check_result(handle("{\"id\":null,\"method\":\"test.set\",\"params\":"
                        "{\"vlan\":10},\"jsonrpc\":\"2.0\"}"),
                 "{}", "null");
    check_result(handle("{\"jsonrpc\":\"2.0\",\"id\":2.5,\"method\":"
                        "\"test.echo\"}\r\n"),
                 "{}", "2.5");
    ck_assert_int_eq(set_calls, 1);
}
END_TEST

START_TEST(test_notification)
{
    ck_assert_ptr_null(handle("{\"jsonrpc\":\"2.0\",\"method\":"
                              "\"test.set\",\"params\":{\"vlan\":3}}"));
    ck_assert_int_eq(set_calls, 1);
    /* Failing notifications are not answered either. */
    ck_assert_ptr_null(handle("{\"jsonrpc\":\"2.0\",\"method\":\"nope\"}"));
    ck_assert_ptr_null(
        handle("{\"jsonrpc\":\"2.0\",\"method\":\"test.fail\"}"));
    ck_assert_ptr_null(handle("  \r\n"));
}
END_TEST

START_TEST(test_parse_errors)
{
    check_error(handle("{"), VSW_RPC_PARSE_ERROR, NULL, "null");
    check_error(handle("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"} x"),
                VSW_RPC_PARSE_ERROR, NULL, "null");
    check_error(handle("{\"jsonrpc\":\"2.0\",\"jsonrpc\":\"2.0\"}"),
                VSW_RPC_PARSE_ERROR, NULL, "null");
    /* Invalid UTF-8 in a string and outside one; an overlong encoding. */
    check_error(handle("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
                       "\"test.echo\",\"params\":{\"a\":\"\xff\"}}"),
                VSW_RPC_PARSE_ERROR, NULL, "null");
    check_error(handle("\xc3\x28"), VSW_RPC_PARSE_ERROR, NULL, "null");
    check_error(handle("{\"a\":\"\xc0\xaf\"}"), VSW_RPC_PARSE_ERROR, NULL,
                "null");
    /* Integers beyond 64 bits. */
    check_error(handle("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
                       "\"test.set\",\"params\":{\"vlan\":"
                       "9223372036854775808}}"),
                VSW_RPC_PARSE_ERROR, NULL, "null");
}
END_TEST

START_TEST(test_invalid_requests)
{
    check_error(handle("42"), VSW_RPC_INVALID_REQUEST, NULL, "null");
    check_error(handle("\"text\""), VSW_RPC_INVALID_REQUEST, NULL, "null");
    check_error(handle("null"), VSW_RPC_INVALID_REQUEST, NULL, "null");
    check_error(handle("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"}]"),
                VSW_RPC_INVALID_REQUEST, "batch requests are not supported",
                "null");
    /* Missing method; the id is echoed once it is valid. */
    check_error(handle("{\"jsonrpc\":\"2.0\",\"id\":7}"),
                VSW_RPC_INVALID_REQUEST, "'method' must be a string", "7");
    check_error(handle("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":5}"),
                VSW_RPC_INVALID_REQUEST, "'method' must be a string", "7");
    check_error(handle("{\"id\":1,\"method\":\"test.echo\"}"),
                VSW_RPC_INVALID_REQUEST, NULL, "1");
    check_error(handle("{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"x\"}"),
                VSW_RPC_INVALID_REQUEST, NULL, "1");
    check_error(handle("{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"x\"}"),
                VSW_RPC_INVALID_REQUEST, NULL, "null");
    check_error(handle("{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"x\"}"),
                VSW_RPC_INVALID_REQUEST, NULL, "null");
    check_error(handle("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\","
                       "\"params\":\"a\"}"),
                VSW_RPC_INVALID_REQUEST, NULL, "1");
    check_error(handle("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
                       "\"test.echo\",\"param\":{}}"),
                VSW_RPC_INVALID_REQUEST, "unknown request member 'param'",
                "1");
    /* Invalid requests are answered even without an id. */
    check_error(handle("{\"jsonrpc\":\"2.0\",\"method\":1}"),
                VSW_RPC_INVALID_REQUEST, NULL, "null");
}
END_TEST

START_TEST(test_call_errors)
{
    check_error(handle("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"nope\"}"),
                VSW_RPC_METHOD_NOT_FOUND, "unknown method 'nope'", "1");
    check_error(handle("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
                       "\"test.echo\",\"params\":[1,2]}"),
                VSW_RPC_INVALID_PARAMS,
                "params must be an object (named parameters)", "1");
    check_error(handle("{\"jsonrpc\":\"2.0\",\"id\":\"f\",\"method\":"
                       "\"test.fail\"}"),
                VSW_RPC_INVALID_PARAMS, "always fails", "\"f\"");
    check_error(handle("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
                       "\"test.set\",\"params\":{\"vlan\":0}}"),
                VSW_RPC_INVALID_PARAMS,
                "parameter 'vlan' must be an integer between 1 and 4094", "1");
    check_error(handle("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
                       "\"test.set\",\"params\":{\"vlan\":1,\"foo\":1}}"),
                VSW_RPC_INVALID_PARAMS, "unknown parameter 'foo'", "1");
    ck_assert_int_eq(set_calls, 0);
}
END_TEST

/* Handlers that break their contract still produce a valid reply. */
START_TEST(test_handler_contract)
{
    check_error(handle("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
                       "\"test.unencodable\"}"),
                VSW_RPC_INTERNAL_ERROR, "the result could not be encoded",
                "1");
    check_error(handle("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
                       "\"test.sloppy\"}"),
                VSW_RPC_INTERNAL_ERROR, "method 'test.sloppy' failed", "1");
    check_error(handle("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
                       "\"test.bad-message\"}"),
                VSW_RPC_SYSTEM_ERROR, "no device ??", "1");
}
END_TEST

/* A method name longer than an error message, ending in a multi-byte
 * character that truncation splits: the reply is still valid UTF-8. */
START_TEST(test_long_method_name)
{
    char request[1024];
    char name[600];

    memset(name, 'a', sizeof name);
    /* "unknown method '" is 16 bytes: put a 2-byte "é" across byte 255. */
    name[238] = '\xc3';
    name[239] = '\xa9';
    name[sizeof name - 1] = '\0';
    snprintf(request, sizeof request,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\"}", name);
    check_error(handle(request), VSW_RPC_METHOD_NOT_FOUND, NULL, "1");
}
END_TEST

START_TEST(test_deep_nesting)
{
    const size_t depth = 100000;
    char *text = malloc(depth + 2);
    struct test_client *c;

    stop_server();
    start_server(NULL);
    memset(text, '[', depth);
    text[depth] = '\0';
    check_error(handle(text), VSW_RPC_PARSE_ERROR, NULL, "null");
    memset(text, '{', 1);
    check_error(handle(text), VSW_RPC_PARSE_ERROR, NULL, "null");

    c = client_open();
    text[depth] = '\n';
    text[depth + 1] = '\0';
    client_send_text(c, text);
    check_error(client_read_reply(c), VSW_RPC_PARSE_ERROR, NULL, "null");
    check_result(client_call(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
                                "\"test.echo\"}"),
                 "{}", "1");
    client_close(c);
    free(text);
}
END_TEST

/* Random bytes never crash the server, and every non-blank text gets
 * exactly one well-formed reply. */
START_TEST(test_random_bytes)
{
    unsigned seed = 12345;

    for (int i = 0; i < 5000; i++) {
        size_t len = rand_r(&seed) % 256;
        char text[256];
        char *reply;

        for (size_t j = 0; j < len; j++) {
            /* Mostly JSON punctuation, so the parser gets somewhere. */
            static const char alphabet[] = "{}[]\":,0123 -.etrufalsn\\";

            text[j] = rand_r(&seed) % 2
                          ? alphabet[rand_r(&seed) % (sizeof alphabet - 1)]
                          : (char)rand_r(&seed);
        }
        reply = vsw_rpc_server_handle_text(server, text, len);
        if (reply) {
            json_t *json = json_loads(reply, 0, NULL);

            ck_assert_ptr_nonnull(json);
            ck_assert_ptr_nonnull(json_object_get(json, "error"));
            json_decref(json);
            free(reply);
        }
    }
}
END_TEST

START_TEST(test_register_duplicate)
{
    static const struct vsw_rpc_method dup[] = {
        {.name = "test.echo", .handler = method_echo, .access = VSW_RPC_READS},
    };
    static const struct vsw_rpc_method twice[] = {
        {.name = "test.new", .handler = method_echo, .access = VSW_RPC_READS},
        {.name = "test.new", .handler = method_echo, .access = VSW_RPC_READS},
    };

    ck_assert_int_eq(vsw_rpc_server_register(server, dup, 1, NULL), -EEXIST);
    ck_assert_int_eq(vsw_rpc_server_register(server, twice, 2, NULL), -EEXIST);
    check_error(handle("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
                       "\"test.new\"}"),
                VSW_RPC_METHOD_NOT_FOUND, NULL, "1");
}
END_TEST

/* A method must say whether it only reads: one that leaves it out (or
 * still gives a bool) is refused, and nothing of its table is added. */
START_TEST(test_register_unclassified)
{
    static const struct vsw_rpc_method silent[] = {
        {.name = "test.fine", .handler = method_echo, .access = VSW_RPC_READS},
        {.name = "test.silent", .handler = method_echo},
    };
    static const struct vsw_rpc_method boolean[] = {
        {"test.bool", method_echo, true},
    };

    ck_assert_int_eq(vsw_rpc_server_register(server, silent, 2, NULL),
                     -EINVAL);
    ck_assert_int_eq(vsw_rpc_server_register(server, boolean, 1, NULL),
                     -EINVAL);
    check_error(handle("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
                       "\"test.fine\"}"),
                VSW_RPC_METHOD_NOT_FOUND, NULL, "1");
    for (size_t i = 0; i < vsw_rpc_server_n_methods(server); i++) {
        ck_assert_ptr_nonnull(
            vsw_rpc_access_name(vsw_rpc_server_method_at(server, i)->access));
    }
}
END_TEST

/* Parameter helpers. */

START_TEST(test_param_helpers)
{
    static const char *const known[] = {"name", "vlan", "on", NULL};
    json_t *params = json_pack("{s:s, s:i, s:b, s:f, s:n}", "name", "eth0",
                               "vlan", 100, "on", 1, "real", 1.0, "null");
    struct vsw_rpc_error err = {0};
    const char *name = "dflt";
    long long vlan = -1;
    bool on = false;

    ck_assert_int_eq(vsw_rpc_check_keys(params, known, &err),
                     VSW_RPC_INVALID_PARAMS);
    ck_assert_int_eq(err.code, VSW_RPC_INVALID_PARAMS);
    ck_assert_str_eq(err.message, "unknown parameter 'real'");
    json_object_del(params, "real");
    json_object_del(params, "null");
    ck_assert_int_eq(vsw_rpc_check_keys(params, known, &err), 0);

    ck_assert_int_eq(vsw_rpc_get_string(params, "name", true, &name, &err), 0);
    ck_assert_str_eq(name, "eth0");
    name = "dflt";
    ck_assert_int_eq(vsw_rpc_get_string(params, "x", false, &name, &err), 0);
    ck_assert_str_eq(name, "dflt");
    ck_assert_int_lt(vsw_rpc_get_string(params, "x", true, &name, &err), 0);
    ck_assert_str_eq(err.message, "missing parameter 'x'");
    ck_assert_int_lt(vsw_rpc_get_string(params, "vlan", true, &name, &err), 0);
    ck_assert_str_eq(err.message, "parameter 'vlan' must be a string");

    ck_assert_int_eq(
        vsw_rpc_get_int(params, "vlan", true, 1, 4094, &vlan, &err), 0);
    ck_assert_int_eq(vlan, 100);
    ck_assert_int_lt(vsw_rpc_get_int(params, "vlan", true, 1, 99, &vlan, &err),
                     0);
    ck_assert_str_eq(err.message,
                     "parameter 'vlan' must be an integer between 1 and 99");
    ck_assert_int_eq(vlan, 100);
    ck_assert_int_lt(
        vsw_rpc_get_int(params, "name", true, 1, 4094, &vlan, &err), 0);
    ck_assert_str_eq(err.message,
                     "parameter 'name' must be an integer between 1 and "
                     "4094");
    ck_assert_int_lt(vsw_rpc_get_int(params, "name", true, LLONG_MIN,
                                     LLONG_MAX, &vlan, &err),
                     0);
    ck_assert_str_eq(err.message, "parameter 'name' must be an integer");
    ck_assert_int_eq(vsw_rpc_get_int(params, "x", false, 1, 4094, &vlan, &err),
                     0);
    ck_assert_int_eq(vlan, 100);
    ck_assert_int_lt(vsw_rpc_get_int(params, "x", true, 1, 4094, &vlan, &err),
                     0);
    ck_assert_str_eq(err.message, "missing parameter 'x'");

    /* 1.0 is a JSON number but not an integer. */
    json_object_set_new(params, "vlan", json_real(1.0));
    ck_assert_int_lt(
        vsw_rpc_get_int(params, "vlan", true, 1, 4094, &vlan, &err), 0);

    ck_assert_int_eq(vsw_rpc_get_bool(params, "on", true, &on, &err), 0);
    ck_assert(on);
    ck_assert_int_lt(vsw_rpc_get_bool(params, "name", true, &on, &err), 0);
    ck_assert_str_eq(err.message, "parameter 'name' must be true or false");
    json_decref(params);
}
END_TEST

START_TEST(test_rpc_error_message)
{
    struct vsw_rpc_error err;
    char longer[400];

    ck_assert_int_eq(vsw_rpc_error(&err, VSW_RPC_CONFLICT, "a\nb\r%d", 5),
                     VSW_RPC_CONFLICT);
    ck_assert_int_eq(err.code, VSW_RPC_CONFLICT);
    ck_assert_str_eq(err.message, "a b 5");

    memset(longer, 'z', sizeof longer);
    longer[sizeof longer - 1] = '\0';
    vsw_rpc_error(&err, VSW_RPC_INTERNAL_ERROR, "%s", longer);
    ck_assert_uint_eq(strlen(err.message), VSW_RPC_MAX_MESSAGE - 1);

    /* A 3-byte character cut by truncation is dropped whole. */
    longer[VSW_RPC_MAX_MESSAGE - 2] = '\xe2';
    longer[VSW_RPC_MAX_MESSAGE - 1] = '\x82';
    longer[VSW_RPC_MAX_MESSAGE] = '\xac';
    vsw_rpc_error(&err, VSW_RPC_INTERNAL_ERROR, "%s", longer);
    ck_assert_uint_eq(strlen(err.message), VSW_RPC_MAX_MESSAGE - 2);
}
END_TEST

/* Sockets. */

START_TEST(test_socket_file)
{
    struct vsw_rpc_server *other;
    struct stat st;
    char path[128];
    int fd;

    ck_assert_int_eq(stat(sock_path, &st), 0);
    ck_assert(S_ISSOCK(st.st_mode));
    ck_assert_int_eq(st.st_mode & 07777, 0660);

    /* A stale socket is replaced... */
    stop_server();
    umask(0);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    {
        struct sockaddr_un sun = {.sun_family = AF_UNIX};

        strcpy(sun.sun_path, sock_path);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
    }
    close(fd);
    ck_assert_int_eq(vsw_rpc_server_create(base, sock_path, NULL, &other), 0);
    ck_assert_int_eq(stat(sock_path, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0660);
    vsw_rpc_server_destroy(other);
    /* ...and removed on destroy. */
    ck_assert_int_eq(stat(sock_path, &st), -1);

    /* Anything else is left alone. */
    snprintf(path, sizeof path, "%s.file", sock_path);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(vsw_rpc_server_create(base, path, NULL, &other), -EEXIST);
    ck_assert_ptr_null(other);
    ck_assert_int_eq(unlink(path), 0);

    memset(path, 'a', sizeof path - 1);
    path[0] = '/';
    path[sizeof path - 1] = '\0';
    ck_assert_int_eq(vsw_rpc_server_create(base, path, NULL, &other),
                     -ENAMETOOLONG);
    vsw_rpc_server_destroy(NULL);
    start_server(&test_limits);
}
END_TEST

START_TEST(test_socket_call)
{
    struct test_client *c = client_open();

    check_result(client_call(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
                                "\"test.echo\",\"params\":{\"a\":\"b\"}}"),
                 "{\"a\":\"b\"}", "1");
    /* Notifications, blank lines and CRLF. */
    client_send_text(c, "{\"jsonrpc\":\"2.0\",\"method\":\"test.set\","
                        "\"params\":{\"vlan\":5}}\n\n\r\n  \n");
    check_result(client_call(c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":"
                                "\"test.echo\"}\r"),
                 "{}", "2");
    ck_assert_int_eq(set_calls, 1);
    /* Errors keep the connection usable. */
    check_error(client_call(c, "{"), VSW_RPC_PARSE_ERROR, NULL, "null");
    check_error(client_call(c, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":"
                               "\"test.echo\",\"params\":{\"a\":\"\xfe\"}}"),
                VSW_RPC_PARSE_ERROR, NULL, "null");
    check_error(client_call(c, "[]"), VSW_RPC_INVALID_REQUEST, NULL, "null");
    check_error(client_call(c, "{\"jsonrpc\":\"2.0\",\"id\":4}"),
                VSW_RPC_INVALID_REQUEST, NULL, "4");
    check_error(client_call(c, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":"
                               "\"x\"}"),
                VSW_RPC_METHOD_NOT_FOUND, "unknown method 'x'", "5");
    check_error(client_call(c, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":"
                               "\"test.echo\",\"params\":[]}"),
                VSW_RPC_INVALID_PARAMS, NULL, "6");
    check_error(client_call(c, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":"
                               "\"test.fail\"}"),
                VSW_RPC_INVALID_PARAMS, "always fails", "7");
    check_result(client_call(c, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":"
                                "\"test.echo\"}"),
                 "{}", "8");
    client_close(c);
}
END_TEST

START_TEST(test_socket_byte_writes)
{
    const char *text = "{\"jsonrpc\":\"2.0\",\"id\":\"one\",\"method\":"
                       "\"test.echo\",\"params\":{\"k\":[true,null]}}\n";
    struct test_client *c = client_open();

    for (size_t i = 0; text[i]; i++) {
        ck_assert_int_eq(client_send(c, &text[i], 1), 0);
        pump();
    }
    check_result(client_read_reply(c), "{\"k\":[true,null]}", "\"one\"");
    client_close(c);
}
END_TEST

START_TEST(test_socket_pipelined)
{
    struct test_client *c = client_open();
    char *text = malloc(100 * 128);
    size_t len = 0;

    for (int i = 0; i < 100; i++) {
        len += sprintf(text + len,
                       "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":"
                       "\"test.echo\",\"params\":{\"i\":%d}}\n",
                       i, i);
    }
    ck_assert_int_eq(client_send(c, text, len), 0);
    for (int i = 0; i < 100; i++) {
        char id[16];
        char result[32];

        snprintf(id, sizeof id, "%d", i);
        snprintf(result, sizeof result, "{\"i\":%d}", i);
        check_result(client_read_reply(c), result, id);
    }
    free(text);
    client_close(c);
}
END_TEST

/* A client that closes its sending side after the request still gets the
 * reply. */
START_TEST(test_socket_half_close)
{
    struct test_client *c = client_open();
    char *line;

    client_send_text(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
                        "\"test.echo\"}\n");
    ck_assert_int_eq(shutdown(c->fd, SHUT_WR), 0);
    check_result(client_read_reply(c), "{}", "1");
    line = client_read_line(c);
    ck_assert_ptr_null(line);
    client_close(c);
}
END_TEST

/* Limits. */

START_TEST(test_request_too_large)
{
    const size_t size = 1 << 20;
    struct test_client *c = client_open();
    char *junk = malloc(size);
    int error;

    memset(junk, 'x', size);
    error = client_send(c, junk, size);
    /* The server stopped reading long before 1 MiB. */
    ck_assert_msg(error == -EPIPE || error == -ECONNRESET, "send returned %d",
                  error);
    check_error(client_read_reply(c), VSW_RPC_TOO_LARGE,
                "request larger than 4096 bytes", "null");
    client_expect_close(c);
    client_close(c);

    /* Exactly the cap is fine. */
    c = client_open();
    memset(junk, ' ', 4096);
    memcpy(junk, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test.echo\"}",
           45);
    ck_assert_int_eq(client_send(c, junk, 4096), 0);
    check_result(client_call(c, ""), "{}", "1");
    client_close(c);
    free(junk);
}
END_TEST

/* A client that never reads its replies is disconnected, and another one
 * is served meanwhile. */
START_TEST(test_output_cap)
{
    const char *big = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
                      "\"test.big\",\"params\":{\"size\":20000}}\n";
    struct test_client *idle = client_open();
    struct test_client *busy = client_open();
    int error = 0;
    int i;

    for (i = 0; i < 1000 && !error; i++) {
        error = client_send(idle, big, strlen(big));
        pump();
        if (i % 10 == 0) {
            check_result(client_call(busy, "{\"jsonrpc\":\"2.0\",\"id\":2,"
                                           "\"method\":\"test.echo\"}"),
                         "{}", "2");
        }
    }
    ck_assert_msg(error == -EPIPE || error == -ECONNRESET,
                  "idle client not disconnected (%d)", error);
    /* 65536 bytes of output cap + the socket buffers: far from 20 MB. */
    ck_assert_int_lt(i, 1000);
    check_result(client_call(busy, "{\"jsonrpc\":\"2.0\",\"id\":3,"
                                   "\"method\":\"test.echo\"}"),
                 "{}", "3");
    client_close(idle);
    client_close(busy);
}
END_TEST

START_TEST(test_max_clients)
{
    struct test_client *clients[4];
    struct test_client *extra;

    for (int i = 0; i < 4; i++) {
        clients[i] = client_open();
        check_result(client_call(clients[i], "{\"jsonrpc\":\"2.0\",\"id\":1,"
                                             "\"method\":\"test.echo\"}"),
                     "{}", "1");
    }
    extra = client_open();
    check_error(client_read_reply(extra), VSW_RPC_SYSTEM_ERROR, NULL, "null");
    client_expect_close(extra);
    client_close(extra);

    client_close(clients[0]);
    clients[0] = client_open();
    check_result(client_call(clients[0], "{\"jsonrpc\":\"2.0\",\"id\":1,"
                                         "\"method\":\"test.echo\"}"),
                 "{}", "1");
    for (int i = 0; i < 4; i++) {
        client_close(clients[i]);
    }
}
END_TEST

/* Access control. */

/* Connects as 'uid' in a child process, sends 'requests' (newline
 * separated, newline terminated) and returns the replies it got, one per
 * line (the caller frees them). */
static char *
calls_as_uid(uid_t uid, const char *requests, int n_replies)
{
    long long deadline = vsw_time_msec() + TEST_TIMEOUT_MSEC;
    char *replies = calloc(1, 65536);
    size_t len = 0;
    int pipefd[2];
    pid_t pid;
    int status;

    ck_assert_int_eq(pipe(pipefd), 0);
    ck_assert_int_eq(fcntl(pipefd[0], F_SETFL, O_NONBLOCK), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (!pid) {
        /* Only async-signal-safe calls and _exit() here: a Check
         * assertion or an exit handler in this process would confuse the
         * test runner. */
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        const struct timeval timeout = {.tv_sec = 10};
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        char buf[4096];
        int lines = 0;
        ssize_t n;

        strcpy(sun.sun_path, sock_path);
        if (setgid(uid) || setuid(uid) ||
            connect(fd, (struct sockaddr *)&sun, sizeof sun) ||
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout,
                       sizeof timeout) ||
            write(fd, requests, strlen(requests)) < 0) {
            _exit(1);
        }
        while (lines < n_replies && (n = read(fd, buf, sizeof buf)) > 0) {
            for (ssize_t i = 0; i < n; i++) {
                lines += buf[i] == '\n';
            }
            if (write(pipefd[1], buf, n) != n) {
                _exit(1);
            }
        }
        _exit(0);
    }
    close(pipefd[1]);
    for (;;) {
        ssize_t n;

        ck_assert_msg(vsw_time_msec() < deadline, "child timed out");
        pump_and_wait(pipefd[0], POLLIN);
        n = read(pipefd[0], replies + len, 65535 - len);
        if (n == 0) {
            break;
        }
        if (n > 0) {
            len += n;
        } else {
            ck_assert_int_eq(errno, EAGAIN);
        }
    }
    close(pipefd[0]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return replies;
}

/* The first line of 'text' as JSON; advances '*text' past it. */
static json_t *
next_reply(char **text)
{
    char *newline = strchr(*text, '\n');
    json_t *json;

    ck_assert_ptr_nonnull(newline);
    *newline = '\0';
    json = json_loads(*text, 0, NULL);
    ck_assert_msg(json != NULL, "not JSON: %s", *text);
    *text = newline + 1;
    return json;
}

static const char access_requests[] =
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test.echo\"}\n"
    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"test.set\","
    "\"params\":{\"vlan\":1}}\n";

START_TEST(test_access_refused)
{
    char *replies;
    char *p;

    ck_assert_int_eq(chmod(sock_path, 0666), 0);
    p = replies = calls_as_uid(NOBODY, access_requests, 2);
    check_error(next_reply(&p), VSW_RPC_PERMISSION,
                "permission denied for uid 65534", "1");
    check_error(next_reply(&p), VSW_RPC_PERMISSION,
                "permission denied for uid 65534", "2");
    ck_assert_int_eq(set_calls, 0);
    free(replies);
}
END_TEST

START_TEST(test_access_read_only)
{
    char *replies;
    char *p;

    ck_assert_int_eq(chmod(sock_path, 0666), 0);
    vsw_rpc_server_allow_uid(server, NOBODY, false);
    p = replies = calls_as_uid(NOBODY, access_requests, 2);
    check_result(next_reply(&p), "{}", "1");
    check_error(next_reply(&p), VSW_RPC_PERMISSION,
                "permission denied: test.set changes the configuration; "
                "uid 65534 is read-only",
                "2");
    ck_assert_int_eq(set_calls, 0);
    free(replies);
}
END_TEST

START_TEST(test_access_read_write)
{
    char *replies;
    char *p;

    ck_assert_int_eq(chmod(sock_path, 0666), 0);
    vsw_rpc_server_allow_uid(server, NOBODY, false);
    vsw_rpc_server_allow_uid(server, NOBODY, true);
    p = replies = calls_as_uid(NOBODY, access_requests, 2);
    check_result(next_reply(&p), "{}", "1");
    check_result(next_reply(&p), "{}", "2");
    ck_assert_int_eq(set_calls, 1);
    free(replies);
}
END_TEST

static TCase *
tcase(const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    return tc;
}

static Suite *
rpc_suite(void)
{
    Suite *s = suite_create("rpc");
    TCase *tc;

    tc = tcase("dispatch");
    tcase_add_test(tc, test_valid_call);
    tcase_add_test(tc, test_notification);
    tcase_add_test(tc, test_parse_errors);
    tcase_add_test(tc, test_invalid_requests);
    tcase_add_test(tc, test_call_errors);
    tcase_add_test(tc, test_handler_contract);
    tcase_add_test(tc, test_long_method_name);
    tcase_add_test(tc, test_deep_nesting);
    tcase_add_test(tc, test_random_bytes);
    tcase_add_test(tc, test_register_duplicate);
    tcase_add_test(tc, test_register_unclassified);
    suite_add_tcase(s, tc);

    tc = tcase("helpers");
    tcase_add_test(tc, test_param_helpers);
    tcase_add_test(tc, test_rpc_error_message);
    suite_add_tcase(s, tc);

    tc = tcase("socket");
    tcase_add_test(tc, test_socket_file);
    tcase_add_test(tc, test_socket_call);
    tcase_add_test(tc, test_socket_byte_writes);
    tcase_add_test(tc, test_socket_pipelined);
    tcase_add_test(tc, test_socket_half_close);
    suite_add_tcase(s, tc);

    tc = tcase("limits");
    tcase_add_test(tc, test_request_too_large);
    tcase_add_test(tc, test_output_cap);
    tcase_add_test(tc, test_max_clients);
    suite_add_tcase(s, tc);

    /* Switching uid needs root. */
    if (geteuid() == 0) {
        tc = tcase("access");
        tcase_add_test(tc, test_access_refused);
        tcase_add_test(tc, test_access_read_only);
        tcase_add_test(tc, test_access_read_write);
        suite_add_tcase(s, tc);
    }
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(rpc_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
