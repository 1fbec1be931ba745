/*
 * vswitch: a CNI plugin (container network interface, spec 1.0.0) that
 * gives a container a port on a vswitchd switch.
 *
 * A container runtime runs it once per operation, with the operation and
 * the container in environment variables (CNI_COMMAND, CNI_CONTAINERID,
 * CNI_NETNS, CNI_IFNAME, CNI_PATH) and the network configuration as JSON
 * on stdin; it answers with one JSON document on stdout: a Result, or an
 * error object with one of the spec's codes.
 *
 * ADD asks the daemon (JSON-RPC, the client vswitch-ctl uses) for a TAP
 * port, moves the TAP into the container's namespace under CNI_IFNAME,
 * applies the port settings and ACL rules of the configuration, gets
 * addresses from the IPAM plugin the configuration names (host-local, run
 * as the spec says: same environment, same stdin) and configures them.
 * DEL undoes it and is idempotent; CHECK compares the container with the
 * Result an earlier ADD gave.  STATUS exists from spec 1.1.0 on only, so
 * this 1.0.0 plugin answers it like any unknown command.
 *
 * The plugin and the daemon run in the same (host) network namespace: the
 * daemon creates the TAP there, and the plugin moves it.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

#include "rpc-client.h"
#include "util.h"

#define CNI_SPEC_VERSION "1.0.0"
#define DEFAULT_SOCKET   "/var/lib/vswitch/vswitchd.sock"
#define RPC_TIMEOUT_MS   10000

/* Error codes of the CNI 1.0.0 specification ("Error" section). */
enum cni_error_code {
    CNI_ERR_INCOMPATIBLE_VERSION = 1,
    CNI_ERR_UNSUPPORTED_FIELD = 2,
    CNI_ERR_UNKNOWN_CONTAINER = 3,
    CNI_ERR_INVALID_ENV = 4,
    CNI_ERR_IO = 5,
    CNI_ERR_DECODE = 6,
    CNI_ERR_INVALID_CONFIG = 7,
    CNI_ERR_TRY_AGAIN_LATER = 11,
    /* 100 and above belong to the plugin. */
    CNI_ERR_DAEMON = 100,
    CNI_ERR_NETLINK = 101,
    CNI_ERR_IPAM = 102,
    CNI_ERR_CHECK = 103,
};

/* What one run of the plugin knows. */
struct cni_run {
    const char *command;
    const char *container_id;
    const char *netns_path;
    const char *ifname;
    const char *cni_path;
    char *stdin_text; /* the network configuration, as given */
    json_t *config;
    const char *switch_name;
    const char *socket_path;
    char port_name[IFNAMSIZ]; /* also the TAP's name in the host */
    struct vsw_rpc_client *rpc;
    bool port_created; /* by this ADD, so a failure deletes it */
};

/* Prints the spec's error object on stdout and exits 1, as the spec asks
 * of a failed plugin.  'details' may be NULL. */
static void __attribute__((noreturn, format(printf, 3, 4)))
cni_fail(enum cni_error_code code, const char *details, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    char *msg = vsw_xvasprintf(fmt, args);
    va_end(args);

    json_t *error = json_pack("{s:s, s:i, s:s}", "cniVersion",
                              CNI_SPEC_VERSION, "code", (int)code, "msg", msg);
    if (details) {
        json_object_set_new(error, "details", json_string(details));
    }
    json_dumpf(error, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
    fflush(stdout);
    exit(1);
}

static const char *
getenv_nonempty(const char *name)
{
    const char *value = getenv(name);
    return value && value[0] ? value : NULL;
}

static const char *
require_env(const char *name)
{
    const char *value = getenv_nonempty(name);
    if (!value) {
        cni_fail(CNI_ERR_INVALID_ENV, NULL, "%s is not set", name);
    }
    return value;
}

static char *
read_all(FILE *stream)
{
    size_t allocated = 4096, used = 0;
    char *text = vsw_xmalloc(allocated);
    size_t n;

    while ((n = fread(text + used, 1, allocated - used - 1, stream)) > 0) {
        used += n;
        if (allocated - used < 2) {
            allocated *= 2;
            text = vsw_xrealloc(text, allocated);
        }
    }
    if (ferror(stream)) {
        cni_fail(CNI_ERR_IO, NULL, "cannot read the network configuration");
    }
    text[used] = '\0';
    return text;
}

/* The port's name, from the container and interface, so that every
 * operation on one attachment finds the same port without any state of
 * its own: "cni" and 12 hex digits of an FNV-1a hash (15 characters, the
 * longest interface name). */
static void
derive_port_name(const char *container_id, const char *ifname, char *name)
{
    uint64_t hash = 0xcbf29ce484222325ULL;
    const char *parts[] = {container_id, ifname};

    for (size_t i = 0; i < 2; i++) {
        for (const unsigned char *p = (const unsigned char *)parts[i];; p++) {
            hash ^= *p; /* the final NUL separates the parts */
            hash *= 0x100000001b3ULL;
            if (!*p) {
                break;
            }
        }
    }
    snprintf(name, IFNAMSIZ, "cni%012llx",
             (unsigned long long)(hash & 0xffffffffffffULL));
}

static void
parse_config(struct cni_run *run)
{
    json_error_t jerr;
    run->config = json_loads(run->stdin_text, 0, &jerr);
    if (!run->config || !json_is_object(run->config)) {
        cni_fail(CNI_ERR_DECODE, NULL,
                 "the network configuration is not a JSON object: %s",
                 run->config ? "not an object" : jerr.text);
    }

    const char *version =
        json_string_value(json_object_get(run->config, "cniVersion"));
    if (!version) {
        cni_fail(CNI_ERR_INVALID_CONFIG, NULL,
                 "the network configuration has no cniVersion");
    }
    if (strcmp(version, CNI_SPEC_VERSION)) {
        cni_fail(CNI_ERR_INCOMPATIBLE_VERSION, NULL,
                 "cniVersion %s is not supported; this plugin speaks %s",
                 version, CNI_SPEC_VERSION);
    }

    run->switch_name =
        json_string_value(json_object_get(run->config, "switch"));
    if (!run->switch_name || !run->switch_name[0]) {
        cni_fail(CNI_ERR_INVALID_CONFIG, NULL,
                 "the network configuration needs \"switch\", a string");
    }

    json_t *socket = json_object_get(run->config, "socket");
    if (socket && !json_is_string(socket)) {
        cni_fail(CNI_ERR_INVALID_CONFIG, NULL, "\"socket\" must be a string");
    }
    run->socket_path = socket ? json_string_value(socket) : DEFAULT_SOCKET;

    json_t *port = json_object_get(run->config, "port");
    if (port && !json_is_object(port)) {
        cni_fail(CNI_ERR_INVALID_CONFIG, NULL,
                 "\"port\" must be an object of port settings");
    }
    const char *fixed[] = {"switch", "name", "type", "ifname", "may-exist"};
    for (size_t i = 0; port && i < sizeof fixed / sizeof *fixed; i++) {
        if (json_object_get(port, fixed[i])) {
            cni_fail(CNI_ERR_UNSUPPORTED_FIELD, NULL,
                     "\"port\" may not set \"%s\": the plugin chooses it",
                     fixed[i]);
        }
    }

    json_t *acl = json_object_get(run->config, "acl");
    if (acl && !json_is_array(acl)) {
        cni_fail(CNI_ERR_INVALID_CONFIG, NULL,
                 "\"acl\" must be an array of acl.add rules");
    }
    json_t *xacl = json_object_get(run->config, "xacl");
    size_t i;
    json_t *rule;
    if (xacl && !json_is_array(xacl)) {
        cni_fail(CNI_ERR_INVALID_CONFIG, NULL,
                 "\"xacl\" must be an array of xacl.add rules");
    }
    json_array_foreach(xacl, i, rule)
    {
        if (!json_is_object(rule) || json_object_get(rule, "port")) {
            cni_fail(CNI_ERR_INVALID_CONFIG, NULL,
                     "xacl[%zu] must be an object of xacl.add params "
                     "without \"port\"",
                     i);
        }
    }

    json_t *ipam = json_object_get(run->config, "ipam");
    if (ipam && (!json_is_object(ipam) ||
                 !json_is_string(json_object_get(ipam, "type")))) {
        cni_fail(CNI_ERR_INVALID_CONFIG, NULL,
                 "\"ipam\" must be an object with a \"type\" string");
    }
}

/* ---- The daemon. ---- */

static void
rpc_connect(struct cni_run *run)
{
    int error =
        vsw_rpc_client_open(run->socket_path, RPC_TIMEOUT_MS, &run->rpc);
    if (error) {
        cni_fail(CNI_ERR_TRY_AGAIN_LATER, strerror(-error),
                 "vswitchd does not answer on %s: %s", run->socket_path,
                 strerror(-error));
    }
}

/* Calls 'method' (params stolen).  Returns the result, or NULL with the
 * daemon's error in '*errorp' when it refused.  Fails the run when the
 * daemon did not answer. */
static json_t *
rpc_call(struct cni_run *run, const char *method, json_t *params,
         json_t **errorp)
{
    json_t *result = NULL, *error = NULL;
    int status =
        vsw_rpc_client_call(run->rpc, method, params, &result, &error);
    json_decref(params);
    if (status) {
        cni_fail(CNI_ERR_TRY_AGAIN_LATER, strerror(-status),
                 "vswitchd did not answer %s: %s", method, strerror(-status));
    }
    *errorp = error;
    return result;
}

static const char *
rpc_error_message(const json_t *error)
{
    const char *msg = json_string_value(json_object_get(error, "message"));
    return msg ? msg : "unknown error";
}

/* The daemon's "invalid params" and "not found" errors come from the
 * configuration; anything else is the daemon's. */
static enum cni_error_code
rpc_error_code(const json_t *error)
{
    json_int_t code = json_integer_value(json_object_get(error, "code"));
    return code == -32602 || code == -32001 || code == -32006
               ? CNI_ERR_INVALID_CONFIG
               : CNI_ERR_DAEMON;
}

/* Deletes the port; no such port is no error.  Returns false if the
 * daemon refused, with its message in '*msgp' (the caller frees). */
static bool
delete_port(struct cni_run *run, char **msgp)
{
    json_t *error;
    json_t *result = rpc_call(
        run, "port.del",
        json_pack("{s:s, s:b}", "name", run->port_name, "if-exists", true),
        &error);
    json_decref(result);
    if (error) {
        *msgp = vsw_xstrdup(rpc_error_message(error));
        json_decref(error);
        return false;
    }
    return true;
}

/* ---- The IPAM plugin. ---- */

/* Runs the IPAM plugin of the configuration for the current command (the
 * environment is passed on unchanged, the configuration on stdin) and
 * returns what it printed, parsed; NULL for a DEL that printed nothing.
 * When it fails and 'fail' is set, the run fails with its error. */
static json_t *
run_ipam(struct cni_run *run, bool fail)
{
    const char *type = json_string_value(
        json_object_get(json_object_get(run->config, "ipam"), "type"));
    char *binary = NULL;

    if (strchr(type, '/')) {
        cni_fail(CNI_ERR_INVALID_CONFIG, NULL,
                 "ipam type '%s' must be a plugin name, not a path", type);
    }
    char *paths = vsw_xstrdup(run->cni_path);
    for (char *save, *dir = strtok_r(paths, ":", &save); dir;
         dir = strtok_r(NULL, ":", &save)) {
        char *candidate = vsw_xasprintf("%s/%s", dir, type);
        if (!access(candidate, X_OK)) {
            binary = candidate;
            break;
        }
        free(candidate);
    }
    free(paths);
    if (!binary) {
        if (!fail) {
            return NULL;
        }
        cni_fail(CNI_ERR_INVALID_CONFIG, NULL,
                 "IPAM plugin '%s' not found in CNI_PATH %s", type,
                 run->cni_path);
    }

    char in_tmpl[] = "/tmp/vswitch-cni-XXXXXX";
    int in_fd = mkstemp(in_tmpl);
    int out_pipe[2];
    if (in_fd < 0 || pipe(out_pipe)) {
        cni_fail(CNI_ERR_IO, NULL, "cannot run IPAM plugin: %s",
                 strerror(errno));
    }
    unlink(in_tmpl);
    size_t len = strlen(run->stdin_text);
    if (write(in_fd, run->stdin_text, len) != (ssize_t)len ||
        lseek(in_fd, 0, SEEK_SET)) {
        cni_fail(CNI_ERR_IO, NULL, "cannot pass the configuration on: %s",
                 strerror(errno));
    }

    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        cni_fail(CNI_ERR_IO, NULL, "fork: %s", strerror(errno));
    }
    if (!pid) {
        dup2(in_fd, STDIN_FILENO);
        dup2(out_pipe[1], STDOUT_FILENO);
        close(in_fd);
        close(out_pipe[0]);
        close(out_pipe[1]);
        execl(binary, type, (char *)NULL);
        _exit(127);
    }
    close(in_fd);
    close(out_pipe[1]);
    FILE *out = fdopen(out_pipe[0], "r");
    char *text = read_all(out);
    fclose(out);
    int wstatus;
    while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
    free(binary);

    json_t *answer = text[0] ? json_loads(text, 0, NULL) : NULL;
    bool ok = WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;
    if (!ok && fail) {
        const char *msg = json_string_value(json_object_get(answer, "msg"));
        json_int_t code = json_integer_value(json_object_get(answer, "code"));
        cni_fail(code ? (enum cni_error_code)code : CNI_ERR_IPAM, text,
                 "IPAM plugin %s failed: %s", type,
                 msg ? msg : "no error message");
    }
    if (ok && text[0] && !json_is_object(answer) && fail) {
        cni_fail(CNI_ERR_IPAM, text, "IPAM plugin %s printed no JSON object",
                 type);
    }
    free(text);
    if (!ok) {
        json_decref(answer);
        return NULL;
    }
    return answer;
}

/* ---- The container's namespace, through rtnetlink (libnl). ---- */

static int
open_netns(const char *path, bool fail)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && fail) {
        cni_fail(CNI_ERR_UNKNOWN_CONTAINER, NULL,
                 "cannot open the network namespace %s: %s", path,
                 strerror(errno));
    }
    return fd;
}

static struct nl_sock *
netlink_open(void)
{
    struct nl_sock *sock = nl_socket_alloc();
    if (!sock || nl_connect(sock, NETLINK_ROUTE)) {
        cni_fail(CNI_ERR_NETLINK, NULL, "cannot open rtnetlink");
    }
    return sock;
}

/* Undoes a failed ADD (the runtime calls no DEL for it): the port goes,
 * and its address back to the pool. */
static void
rollback_add(struct cni_run *run)
{
    if (run->port_created) {
        char *msg = NULL;
        delete_port(run, &msg);
        free(msg);
    }
    if (json_object_get(run->config, "ipam")) {
        setenv("CNI_COMMAND", "DEL", 1);
        json_decref(run_ipam(run, false));
    }
}

static void __attribute__((noreturn))
netlink_fail(struct cni_run *run, const char *what, int nl_error)
{
    if (!strcmp(run->command, "ADD")) {
        rollback_add(run);
    }
    cni_fail(CNI_ERR_NETLINK, NULL, "%s: %s", what, nl_geterror(nl_error));
}

/* Moves the host's TAP of the port into the container's namespace and
 * enters that namespace; from then on this process's netlink socket and
 * every call see the container's view. */
static void
move_tap_into_container(struct cni_run *run, int nsfd)
{
    struct nl_sock *sock = netlink_open();
    struct rtnl_link *link = NULL;
    int err = rtnl_link_get_kernel(sock, 0, run->port_name, &link);
    if (err < 0) {
        netlink_fail(run, "the daemon's TAP is not in this namespace", err);
    }
    struct rtnl_link *change = rtnl_link_alloc();
    rtnl_link_set_ns_fd(change, nsfd);
    err = rtnl_link_change(sock, link, change, 0);
    if (err < 0) {
        netlink_fail(run, "cannot move the TAP into the container", err);
    }
    rtnl_link_put(change);
    rtnl_link_put(link);
    nl_socket_free(sock);

    if (setns(nsfd, CLONE_NEWNET)) {
        cni_fail(CNI_ERR_UNKNOWN_CONTAINER, NULL,
                 "cannot enter the network namespace %s: %s", run->netns_path,
                 strerror(errno));
    }
}

static struct nl_addr *
parse_prefix(const char *text, const char *what)
{
    struct nl_addr *addr;
    if (!text || nl_addr_parse(text, AF_UNSPEC, &addr) < 0) {
        cni_fail(CNI_ERR_IPAM, NULL, "IPAM gave a bad %s: %s", what,
                 text ? text : "(none)");
    }
    return addr;
}

/* Renames the TAP (now in the container) to CNI_IFNAME, gives it the
 * IPAM addresses and routes, and brings it up.  Returns its MAC. */
static char *
configure_interface(struct cni_run *run, json_t *ipam_result)
{
    struct nl_sock *sock = netlink_open();
    struct rtnl_link *link = NULL;
    int err = rtnl_link_get_kernel(sock, 0, run->port_name, &link);
    if (err < 0) {
        netlink_fail(run, "the TAP did not arrive in the container", err);
    }
    int ifindex = rtnl_link_get_ifindex(link);

    struct rtnl_link *change = rtnl_link_alloc();
    rtnl_link_set_name(change, run->ifname);
    err = rtnl_link_change(sock, link, change, 0);
    if (err < 0) {
        netlink_fail(run, "cannot rename the TAP to CNI_IFNAME", err);
    }
    rtnl_link_put(change);

    size_t i;
    json_t *ip;
    json_array_foreach(json_object_get(ipam_result, "ips"), i, ip)
    {
        struct nl_addr *local = parse_prefix(
            json_string_value(json_object_get(ip, "address")), "address");
        struct rtnl_addr *addr = rtnl_addr_alloc();
        rtnl_addr_set_ifindex(addr, ifindex);
        rtnl_addr_set_local(addr, local);
        err = rtnl_addr_add(sock, addr, 0);
        if (err < 0) {
            netlink_fail(run, "cannot add an address", err);
        }
        rtnl_addr_put(addr);
        nl_addr_put(local);
    }

    change = rtnl_link_alloc();
    rtnl_link_set_flags(change, IFF_UP);
    err = rtnl_link_change(sock, link, change, 0);
    if (err < 0) {
        netlink_fail(run, "cannot bring the interface up", err);
    }
    rtnl_link_put(change);

    json_t *route;
    json_array_foreach(json_object_get(ipam_result, "routes"), i, route)
    {
        struct nl_addr *dst = parse_prefix(
            json_string_value(json_object_get(route, "dst")), "route");
        const char *gw_text = json_string_value(json_object_get(route, "gw"));
        if (!gw_text) {
            /* Without a gateway of its own, a route goes through the
             * first address's gateway of the same family. */
            json_t *first;
            size_t j;
            json_array_foreach(json_object_get(ipam_result, "ips"), j, first)
            {
                const char *gw =
                    json_string_value(json_object_get(first, "gateway"));
                if (gw && (strchr(gw, ':') != NULL) ==
                              (nl_addr_get_family(dst) == AF_INET6)) {
                    gw_text = gw;
                    break;
                }
            }
        }
        struct rtnl_route *rt = rtnl_route_alloc();
        struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
        rtnl_route_set_family(rt, nl_addr_get_family(dst));
        rtnl_route_set_dst(rt, dst);
        rtnl_route_nh_set_ifindex(nh, ifindex);
        if (gw_text) {
            struct nl_addr *gw = parse_prefix(gw_text, "gateway");
            rtnl_route_nh_set_gateway(nh, gw);
            nl_addr_put(gw);
        }
        rtnl_route_add_nexthop(rt, nh);
        err = rtnl_route_add(sock, rt, NLM_F_CREATE | NLM_F_EXCL);
        if (err < 0) {
            netlink_fail(run, "cannot add a route", err);
        }
        rtnl_route_put(rt);
        nl_addr_put(dst);
    }

    char mac[32] = "";
    struct nl_addr *lladdr = rtnl_link_get_addr(link);
    if (lladdr) {
        nl_addr2str(lladdr, mac, sizeof mac);
    }
    rtnl_link_put(link);
    nl_socket_free(sock);
    return vsw_xstrdup(mac);
}

/* ---- The commands. ---- */

static void
print_json(json_t *doc)
{
    json_dumpf(doc, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
}

static void
cmd_add(struct cni_run *run)
{
    run->netns_path = require_env("CNI_NETNS");
    int nsfd = open_netns(run->netns_path, true);

    rpc_connect(run);
    /* Addresses first: a pool that is full fails the ADD before the
     * switch changes. */
    json_t *ipam = NULL;
    if (json_object_get(run->config, "ipam")) {
        ipam = run_ipam(run, true);
    }

    json_t *params = json_deep_copy(json_object_get(run->config, "port"));
    if (!params) {
        params = json_object();
    }
    json_object_set_new(params, "switch", json_string(run->switch_name));
    json_object_set_new(params, "name", json_string(run->port_name));
    json_object_set_new(params, "ifname", json_string(run->port_name));
    json_object_set_new(params, "type", json_string("tap"));

    json_t *error;
    json_t *port = rpc_call(run, "port.add", params, &error);
    if (error) {
        enum cni_error_code code = rpc_error_code(error);
        char *text = vsw_xstrdup(rpc_error_message(error));
        rollback_add(run);
        cni_fail(code, NULL, "port.add %s on switch %s: %s", run->port_name,
                 run->switch_name, text);
    }
    run->port_created = true;
    json_decref(port);

    json_t *rules = json_object_get(run->config, "acl");
    if (rules && json_array_size(rules)) {
        json_t *result = rpc_call(
            run, "acl.add",
            json_pack("{s:s, s:O}", "port", run->port_name, "rules", rules),
            &error);
        json_decref(result);
        if (error) {
            enum cni_error_code code = rpc_error_code(error);
            char *text = vsw_xstrdup(rpc_error_message(error));
            rollback_add(run);
            cni_fail(code, NULL, "acl.add on port %s: %s", run->port_name,
                     text);
        }
    }

    /* Extended rules have no batch form: one xacl.add each. */
    size_t n;
    json_t *rule;
    json_array_foreach(json_object_get(run->config, "xacl"), n, rule)
    {
        json_t *rule_params = json_deep_copy(rule);
        json_object_set_new(rule_params, "port", json_string(run->port_name));
        json_t *result = rpc_call(run, "xacl.add", rule_params, &error);
        json_decref(result);
        if (error) {
            enum cni_error_code code = rpc_error_code(error);
            char *text = vsw_xstrdup(rpc_error_message(error));
            rollback_add(run);
            cni_fail(code, NULL, "xacl[%zu]: xacl.add on port %s: %s", n,
                     run->port_name, text);
        }
    }

    move_tap_into_container(run, nsfd);
    char *mac = configure_interface(run, ipam);

    json_t *result =
        json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "cniVersion", CNI_SPEC_VERSION,
                  "interfaces", "name", run->ifname, "mac", mac, "sandbox",
                  run->netns_path);
    if (ipam) {
        json_t *ips = json_deep_copy(json_object_get(ipam, "ips"));
        size_t i;
        json_t *ip;
        json_array_foreach(ips, i, ip)
        {
            json_object_set_new(ip, "interface", json_integer(0));
        }
        json_object_set_new(result, "ips", ips ? ips : json_array());
        json_t *routes = json_object_get(ipam, "routes");
        if (routes) {
            json_object_set(result, "routes", routes);
        }
        json_t *dns = json_object_get(ipam, "dns");
        if (dns) {
            json_object_set(result, "dns", dns);
        }
    }
    print_json(result);
    json_decref(result);
    json_decref(ipam);
    free(mac);
}

static void
cmd_del(struct cni_run *run)
{
    /* The address goes back to the pool even when the daemon is down, so
     * IPAM comes first. */
    if (json_object_get(run->config, "ipam")) {
        json_decref(run_ipam(run, true));
    }

    rpc_connect(run);
    char *msg = NULL;
    if (!delete_port(run, &msg)) {
        cni_fail(CNI_ERR_DAEMON, NULL, "port.del %s: %s", run->port_name, msg);
    }
}

/* True if the interface of the container ('ifname' in the current
 * namespace) has address 'want' ("198.18.0.2/24"). */
static bool
interface_has_address(struct nl_sock *sock, int ifindex, const char *want)
{
    struct nl_cache *cache;
    bool found = false;
    if (rtnl_addr_alloc_cache(sock, &cache) < 0) {
        return false;
    }
    for (struct nl_object *obj = nl_cache_get_first(cache); obj;
         obj = nl_cache_get_next(obj)) {
        struct rtnl_addr *addr = (struct rtnl_addr *)obj;
        char text[INET6_ADDRSTRLEN + 8];
        if (rtnl_addr_get_ifindex(addr) != ifindex) {
            continue;
        }
        nl_addr2str(rtnl_addr_get_local(addr), text, sizeof text);
        if (!strcmp(text, want)) {
            found = true;
            break;
        }
    }
    nl_cache_free(cache);
    return found;
}

static void
cmd_check(struct cni_run *run)
{
    run->netns_path = require_env("CNI_NETNS");
    json_t *prev = json_object_get(run->config, "prevResult");
    if (!json_is_object(prev)) {
        cni_fail(CNI_ERR_INVALID_CONFIG, NULL,
                 "CHECK needs the prevResult of the ADD");
    }

    rpc_connect(run);
    json_t *error;
    json_t *port = rpc_call(
        run, "port.get", json_pack("{s:s}", "name", run->port_name), &error);
    if (error) {
        cni_fail(CNI_ERR_CHECK, NULL, "port %s: %s", run->port_name,
                 rpc_error_message(error));
    }
    const char *sw = json_string_value(json_object_get(port, "switch"));
    if (!sw || strcmp(sw, run->switch_name)) {
        cni_fail(CNI_ERR_CHECK, NULL, "port %s is on switch %s, not %s",
                 run->port_name, sw ? sw : "(none)", run->switch_name);
    }
    json_decref(port);

    int nsfd = open_netns(run->netns_path, true);
    if (setns(nsfd, CLONE_NEWNET)) {
        cni_fail(CNI_ERR_UNKNOWN_CONTAINER, NULL,
                 "cannot enter the network namespace %s: %s", run->netns_path,
                 strerror(errno));
    }
    struct nl_sock *sock = netlink_open();
    struct rtnl_link *link = NULL;
    if (rtnl_link_get_kernel(sock, 0, run->ifname, &link) < 0) {
        cni_fail(CNI_ERR_CHECK, NULL, "the container has no interface %s",
                 run->ifname);
    }
    if (!(rtnl_link_get_flags(link) & IFF_UP)) {
        cni_fail(CNI_ERR_CHECK, NULL, "interface %s is down", run->ifname);
    }
    size_t i;
    json_t *ip;
    json_array_foreach(json_object_get(prev, "ips"), i, ip)
    {
        const char *want = json_string_value(json_object_get(ip, "address"));
        if (want &&
            !interface_has_address(sock, rtnl_link_get_ifindex(link), want)) {
            cni_fail(CNI_ERR_CHECK, NULL, "interface %s has lost address %s",
                     run->ifname, want);
        }
    }
    rtnl_link_put(link);
    nl_socket_free(sock);

    if (json_object_get(run->config, "ipam")) {
        json_decref(run_ipam(run, true));
    }
}

int
main(void)
{
    struct cni_run run = {0};

    run.command = getenv_nonempty("CNI_COMMAND");
    if (!run.command) {
        cni_fail(CNI_ERR_INVALID_ENV, NULL, "CNI_COMMAND is not set");
    }
    if (!strcmp(run.command, "VERSION")) {
        json_t *answer =
            json_pack("{s:s, s:[s]}", "cniVersion", CNI_SPEC_VERSION,
                      "supportedVersions", CNI_SPEC_VERSION);
        print_json(answer);
        json_decref(answer);
        return 0;
    }
    if (strcmp(run.command, "ADD") && strcmp(run.command, "DEL") &&
        strcmp(run.command, "CHECK")) {
        cni_fail(CNI_ERR_INVALID_ENV, NULL,
                 "CNI_COMMAND %s is not one of ADD, DEL, CHECK, VERSION "
                 "(spec %s)",
                 run.command, CNI_SPEC_VERSION);
    }

    run.container_id = require_env("CNI_CONTAINERID");
    run.ifname = require_env("CNI_IFNAME");
    run.cni_path = require_env("CNI_PATH");
    if (strlen(run.ifname) >= IFNAMSIZ || strchr(run.ifname, '/')) {
        cni_fail(CNI_ERR_INVALID_ENV, NULL,
                 "CNI_IFNAME '%s' is not an interface name", run.ifname);
    }
    derive_port_name(run.container_id, run.ifname, run.port_name);

    run.stdin_text = read_all(stdin);
    parse_config(&run);

    if (!strcmp(run.command, "ADD")) {
        cmd_add(&run);
    } else if (!strcmp(run.command, "DEL")) {
        cmd_del(&run);
    } else {
        cmd_check(&run);
    }
    vsw_rpc_client_close(run.rpc);
    json_decref(run.config);
    free(run.stdin_text);
    return 0;
}
