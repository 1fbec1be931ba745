/*
 * The services vswitchd offers extensions (struct vsw_ext_host), and the
 * guards around them: a crash handler and a hang watchdog that name the
 * extension that was running, so that it is quarantined at the next start.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <pthread.h>
#include <signal.h>
#include <ucontext.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bounds.h"
#include "datapath.h"
#include "ext-private.h"
#include "log.h"
#include "manager-private.h"
#include "pipeline.h"
#include "timeutil.h"

/* Deferred frees asked for on a worker wait here for the main thread. */
struct pending_free {
    struct pending_free *next; /* next request */
    void (*fn)(void *arg);     /* the plugin's */
    void *arg;                 /* its argument */
};
static pthread_mutex_t pending_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct pending_free *pending_frees;

/* At most this many wait between two ticks; a request over it is not
 * queued (its memory leaks, which beats freeing it under a worker's
 * feet) and is counted in 'pending_full'.  A plugin that defers this much
 * within a second is broken, and the count says so. */
#define EXT_MAX_PENDING_FREES 65536
static size_t n_pending_frees; /* length of 'pending_frees' */
static uint64_t pending_full;  /* requests refused at the bound */

/* True on the main thread, which has no pipeline of its own. */
static bool
on_main_thread(void)
{
    return vsw_ext_call_self()->pl == NULL;
}

/* Host service log(): a line in the daemon's log, prefixed with the
 * extension's name. */
static void
host_log(struct vsw_ext_handle *h, int level, const char *fmt, ...)
{
    enum vsw_log_level ours = level <= VSW_EXT_LOG_ERROR  ? VSW_LOG_ERR
                              : level <= VSW_EXT_LOG_WARN ? VSW_LOG_WARN
                              : level <= VSW_EXT_LOG_INFO ? VSW_LOG_INFO
                                                          : VSW_LOG_DBG;
    char text[512];
    va_list args;

    if (!vsw_log_enabled(ours)) {
        return;
    }
    va_start(args, fmt);
    vsnprintf(text, sizeof text, fmt, args);
    va_end(args);
    vsw_log(ours, "extension %s: %s", h ? h->name : "?", text);
}

/* Host service set_error(): the error text of a control callback, or,
 * from 'process', an error count for the breaker. */
static void
host_set_error(struct vsw_ext_handle *h, const char *fmt, ...)
{
    struct vsw_ext_call *call = vsw_ext_call_self();
    va_list args;

    if (call->stats) {
        /* From 'process': only counted; a storm trips the breaker. */
        if (call->inst) {
            vsw_counter_add(&call->stats->errors, 1);
        }
        return;
    }
    if (!h || !on_main_thread()) {
        return;
    }
    va_start(args, fmt);
    vsnprintf(h->error, sizeof h->error, fmt, args);
    va_end(args);
}

/* Host service frame_alloc(). */
static struct vsw_ext_frame *
host_frame_alloc(struct vsw_ext_handle *h, uint32_t len)
{
    (void)h;
    return vsw_ext_frame_alloc(len);
}

/* Host service frame_clone(). */
static struct vsw_ext_frame *
host_frame_clone(struct vsw_ext_handle *h, const struct vsw_ext_packet *pkt)
{
    (void)h;
    return pkt ? vsw_ext_frame_clone(pkt) : NULL;
}

/* The pipeline the main thread sends injected frames through, made on
 * first use with the control thread's counter slot. */
static struct vsw_pipeline *
main_pipeline(struct vsw_manager *mgr)
{
    if (!mgr->inject_pl) {
        mgr->inject_pl = vsw_pipeline_create(vsw_datapath_n_workers(mgr->dp));
    }
    return mgr->inject_pl;
}

/* True if port 'id' is a port of 'sw' that the datapath knows. */
static bool
port_on_switch(const struct vsw_dp_snapshot *snap, const char *sw_name,
               uint32_t id)
{
    const struct vsw_dp_port *port = snap->by_slot[VSW_FDB_SLOT(id)];

    return port && port->id == id && !strcmp(port->sw->name, sw_name);
}

/* Host service inject(): from a worker, queued behind the current batch;
 * from the main thread, sent at once through its own pipeline. */
static int
host_inject(struct vsw_ext_switch *sw, struct vsw_ext_frame *f,
            uint32_t in_port, uint32_t out_port)
{
    struct vsw_ext_call *call = vsw_ext_call_self();
    struct vsw_ext_instance *inst;
    struct vsw_pipeline *pl;
    unsigned skip = 0;
    int error;

    if (!f) {
        return -EINVAL;
    }
    /* On a worker, 'sw' is only compared, never followed: the main thread
     * may be retiring it.  The instance running is the one the call
     * record names, alive until after the grace period. */
    inst = call->pl ? call->inst : sw ? sw->inst : NULL;
    if (!sw || !inst || inst->host != sw) {
        vsw_ext_frame_free(f);
        return -ENODEV;
    }
    if (inst->ext_class == VSW_EXT_CLASS_FORWARDING) {
        vsw_ext_frame_free(f);
        return -EPERM;
    }
    if (!in_port && !out_port) {
        vsw_ext_frame_free(f);
        return -ENODEV;
    }
    if (call->pl) {
        /* From 'process': only for the switch of the batch, after the
         * batch; the frame resumes after the injecting extension. */
        pl = call->pl;
        if (!port_on_switch(pl->snap, pl->in_port->sw->name,
                            in_port ? in_port : out_port)) {
            vsw_ext_frame_free(f);
            return -ENODEV;
        }
        skip = call->position + 1;
        error = vsw_pipeline_inject(pl, f, in_port, out_port, skip);
        if (!error) {
            vsw_counter_add(&call->stats->injected, 1);
        }
        return error;
    } else {
        struct vsw_manager *mgr = sw->ext->mgr;
        const struct vsw_dp_snapshot *snap = vsw_datapath_snapshot(mgr->dp);
        const struct vsw_dp_switch *dsw = NULL;

        pl = main_pipeline(mgr);
        if (!pl) {
            vsw_ext_frame_free(f);
            return -ENOMEM;
        }
        if (!port_on_switch(snap, sw->sw->name,
                            in_port ? in_port : out_port)) {
            vsw_ext_frame_free(f);
            return -ENODEV;
        }
        /* Resume after this extension's place on the switch. */
        dsw = snap->by_slot[VSW_FDB_SLOT(in_port ? in_port : out_port)]->sw;
        for (unsigned i = 0; i < dsw->n_exts; i++) {
            if (dsw->exts[i].inst == inst) {
                skip = i + 1;
            }
        }
        error = vsw_pipeline_inject(pl, f, in_port, out_port, skip);
        if (error) {
            return error;
        }
        vsw_counter_add(&inst->counters[inst->n_counters - 1].injected, 1);
        vsw_pipeline_run_injected(pl, snap, vsw_time_msec());
        return 0;
    }
}

/* Host service port_lookup() (main thread: it reads the manager). */
static int
host_port_lookup(struct vsw_ext_handle *h, const char *name, uint32_t id,
                 struct vsw_ext_port_info *info)
{
    struct vsw_ext_port_info out;
    struct mgr_port *port = NULL;

    if (!h || !info || !on_main_thread() || info->size < 8) {
        return -EINVAL;
    }
    if (name) {
        port = mgr_find_port(h->mgr, name);
    } else if (id) {
        port = h->mgr->by_slot[VSW_FDB_SLOT(id)];
        if (port && port->id != id) {
            port = NULL;
        }
    }
    if (!port) {
        return -ENOENT;
    }
    ext_host_port_info(port, &out);
    out.size = info->size < sizeof out ? info->size : (uint32_t)sizeof out;
    memcpy(info, &out, out.size);
    return 0;
}

/* See ext-private.h. */
void
ext_host_port_info(const struct mgr_port *port, struct vsw_ext_port_info *info)
{
    memset(info, 0, sizeof *info);
    info->size = sizeof *info;
    info->id = port->id;
    snprintf(info->name, sizeof info->name, "%s", port->name);
    snprintf(info->switch_name, sizeof info->switch_name, "%s",
             port->sw->name);
    if (port->cfg.type == MGR_PORT_TAP && port->has_cur_mac) {
        memcpy(info->mac, port->cur_mac, 6);
    }
    info->is_uplink = port->cfg.type == MGR_PORT_UPLINK;
}

/* See ext-private.h. */
void
ext_call_begin(struct vsw_ext_handle *ext)
{
    struct vsw_ext_call *call = vsw_ext_call_self();

    atomic_store_explicit(&call->name, ext->name, memory_order_relaxed);
    atomic_store_explicit(&call->since_ns, vsw_time_nsec(),
                          memory_order_relaxed);
}

/* See ext-private.h. */
void
ext_call_end(void)
{
    struct vsw_ext_call *call = vsw_ext_call_self();

    atomic_store_explicit(&call->since_ns, 0, memory_order_relaxed);
    atomic_store_explicit(&call->name, NULL, memory_order_relaxed);
}

/* libevent callback of an extension's timer: the call is recorded like
 * every other call into the extension. */
static void
timer_fire(evutil_socket_t fd, short what, void *t_)
{
    struct vsw_ext_timer *t = t_;

    (void)fd;
    (void)what;
    ext_call_begin(t->ext);
    t->fn(t->arg);
    ext_call_end();
}

/* Host service timer_add(). */
static struct vsw_ext_timer *
host_timer_add(struct vsw_ext_handle *h, uint32_t interval_ms, int repeat,
               void (*fn)(void *arg), void *arg)
{
    struct vsw_ext_timer *t;
    struct timeval tv;

    if (!h || !fn || !on_main_thread()) {
        return NULL;
    }
    t = calloc(1, sizeof *t);
    if (!t) {
        return NULL;
    }
    t->ext = h;
    t->fn = fn;
    t->arg = arg;
    t->interval_ms = interval_ms;
    t->repeat = repeat != 0;
    t->event =
        event_new(h->mgr->base, -1, t->repeat ? EV_PERSIST : 0, timer_fire, t);
    tv.tv_sec = interval_ms / 1000;
    tv.tv_usec = (interval_ms % 1000) * 1000;
    if (!t->event || event_add(t->event, &tv)) {
        if (t->event) {
            event_free(t->event);
        }
        free(t);
        return NULL;
    }
    t->next = h->timers;
    h->timers = t;
    return t;
}

/* Host service timer_cancel(). */
static void
host_timer_cancel(struct vsw_ext_timer *t)
{
    struct vsw_ext_timer **pp;

    if (!t) {
        return;
    }
    for (pp = &t->ext->timers; *pp && *pp != t; pp = &(*pp)->next) {
        continue;
    }
    if (*pp) {
        *pp = t->next;
    }
    event_free(t->event);
    free(t);
}

/* See ext-private.h. */
void
ext_host_cancel_timers(struct vsw_ext_handle *ext)
{
    while (ext->timers) {
        host_timer_cancel(ext->timers);
    }
}

/* Calls per-switch method 'm' for the switch the request names and
 * returns the plugin's result.  When the request names no switch the
 * extension runs on, fills 'err', sets '*refused' and returns -1 without
 * calling the plugin. */
static int
call_switch_method(struct ext_method *m, json_t *params, const char *text,
                   struct vsw_ext_reply *reply, struct vsw_rpc_error *err,
                   bool *refused)
{
    struct vsw_ext_handle *ext = m->ext;
    struct vsw_manager *mgr = ext->mgr;
    const char *name = NULL;
    struct mgr_switch *sw;
    struct vsw_ext_switch *b = NULL;
    int error;

    if (vsw_rpc_get_string(params, "switch", true, &name, err)) {
        *refused = true;
        return -1;
    }
    sw = mgr_find_switch(mgr, name);
    if (!sw) {
        vsw_rpc_error(err, VSW_RPC_NOT_FOUND, "no switch named '%s'", name);
        *refused = true;
        return -1;
    }
    for (b = sw->exts; b && b->ext != ext; b = b->next) {
        continue;
    }
    if (!b || !b->inst) {
        vsw_rpc_error(err, VSW_RPC_CONFLICT,
                      "extension '%s' is not running on switch '%s'",
                      ext->name, name);
        *refused = true;
        return -1;
    }
    *refused = false;
    {
        struct vsw_ext_switch_info info = {
            .size = sizeof info,
            .n_workers = vsw_datapath_n_counter_slots(mgr->dp),
            .name = sw->name,
            .sw = b,
        };

        ext_call_begin(ext);
        error = m->sw_fn(m->arg, b->inst->sw_data, &info, text, reply);
        ext_call_end();
    }
    return error;
}

/* The RPC server's handler for every extension method. */
static int
ext_method_handler(json_t *params, json_t **result, struct vsw_rpc_error *err,
                   void *m_)
{
    struct ext_method *m = m_;
    struct vsw_ext_handle *ext = m->ext;
    struct vsw_ext_reply reply = {NULL};
    char *text = json_dumps(params, JSON_COMPACT);
    int error;

    if (!text) {
        return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR, "out of memory");
    }
    if (ext->state != MGR_EXT_READY) {
        free(text);
        return vsw_rpc_error(err, VSW_RPC_CONFLICT,
                             "extension '%s' is not ready", ext->name);
    }
    ext->error[0] = '\0';
    if (m->sw_fn) {
        bool refused;

        error = call_switch_method(m, params, text, &reply, err, &refused);
        if (refused) {
            free(text);
            return -1;
        }
    } else {
        ext_call_begin(ext);
        error = m->fn(m->arg, text, &reply);
        ext_call_end();
    }
    free(text);
    if (error) {
        json_decref(reply.result);
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS, "%s: %s", ext->name,
                             ext->error[0] ? ext->error : strerror(-error));
    }
    *result = reply.result;
    return 0;
}

/* True if 'verb' is a sensible method verb: [a-z0-9_-]+. */
static bool
verb_valid(const char *verb)
{
    if (!*verb) {
        return false;
    }
    for (; *verb; verb++) {
        if (!((*verb >= 'a' && *verb <= 'z') ||
              (*verb >= '0' && *verb <= '9') || *verb == '_' ||
              *verb == '-')) {
            return false;
        }
    }
    return true;
}

/* Registers 'method' of 'h', which calls 'fn' or, for one switch,
 * 'sw_fn' (exactly one is set): with the RPC server now, or when the
 * server exists. */
static int
method_register(struct vsw_ext_handle *h, const char *method,
                vsw_ext_rpc_fn fn, vsw_ext_rpc_switch_fn sw_fn, void *arg)
{
    size_t len;
    struct ext_method *m;

    if (!h || !method || (!fn == !sw_fn) || !on_main_thread()) {
        return -EINVAL;
    }
    len = strlen(h->name);
    if (strncmp(method, h->name, len) || method[len] != '.' ||
        !verb_valid(method + len + 1) || strlen(method) >= sizeof m->name) {
        return -EINVAL;
    }
    for (m = h->methods; m; m = m->next) {
        if (!strcmp(m->name, method)) {
            return -EEXIST;
        }
    }
    m = calloc(1, sizeof *m);
    if (!m) {
        return -ENOMEM;
    }
    m->ext = h;
    snprintf(m->name, sizeof m->name, "%s", method);
    m->fn = fn;
    m->sw_fn = sw_fn;
    m->arg = arg;
    m->method.name = m->name;
    m->method.handler = ext_method_handler;
    /* An extension's method may change its state: not for read-only
     * clients. */
    m->method.access = VSW_RPC_WRITES;
    m->next = h->methods;
    h->methods = m;
    if (h->mgr->rpc && !h->staging) {
        ext_host_register_methods(h, h->mgr->rpc);
    }
    return 0;
}

/* Host service rpc_register(). */
static int
host_rpc_register(struct vsw_ext_handle *h, const char *method,
                  vsw_ext_rpc_fn fn, void *arg)
{
    return fn ? method_register(h, method, fn, NULL, arg) : -EINVAL;
}

/* Host service rpc_register_switch() (ABI 1.1). */
static int
host_rpc_register_switch(struct vsw_ext_handle *h, const char *method,
                         vsw_ext_rpc_switch_fn fn, void *arg)
{
    return fn ? method_register(h, method, NULL, fn, arg) : -EINVAL;
}

/* ---- State blobs (ABI 1.1): STATE/ext-state/<name> ---- */

/* Writes the path of the state blob of extension 'name' (with 'suffix')
 * into 'path'; false if it does not fit. */
static bool
state_path(const struct vsw_manager *mgr, const char *name, const char *suffix,
           char *path, size_t size)
{
    int n = snprintf(path, size, "%s/ext-state/%s%s", mgr->state_dir, name,
                     suffix);

    return n > 0 && (size_t)n < size;
}

/* Writes all 'len' bytes of 'data' to 'fd'; 0 or a negative errno. */
static int
write_all(int fd, const void *data, size_t len)
{
    const char *p = data;

    while (len) {
        ssize_t n = write(fd, p, len);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Host service state_save(): written to "<name>.tmp", synced, renamed
 * over "<name>" and the directory synced, so that a crash at any point
 * leaves the old blob or the new one. */
static int
host_state_save(struct vsw_ext_handle *h, const void *data, uint32_t len)
{
    char dir[PATH_MAX], tmp[PATH_MAX], path[PATH_MAX];
    int fd;
    int error;

    if (!h || (len && !data) || !on_main_thread()) {
        return -EINVAL;
    }
    if (len > VSW_EXT_STATE_MAX) {
        return -E2BIG;
    }
    if (!state_path(h->mgr, h->name, "", path, sizeof path) ||
        !state_path(h->mgr, h->name, ".tmp", tmp, sizeof tmp)) {
        return -ENAMETOOLONG;
    }
    if (!len) {
        return unlink(path) && errno != ENOENT ? -errno : 0;
    }
    snprintf(dir, sizeof dir, "%s/ext-state", h->mgr->state_dir);
    if (mkdir(dir, 0700) && errno != EEXIST) {
        return -errno;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return -errno;
    }
    error = write_all(fd, data, len);
    if (!error && fsync(fd)) {
        error = -errno;
    }
    if (close(fd) && !error) {
        error = -errno;
    }
    if (!error && rename(tmp, path)) {
        error = -errno;
    }
    if (error) {
        unlink(tmp);
        return error;
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    return 0;
}

/* Host service state_load(). */
static int32_t
host_state_load(struct vsw_ext_handle *h, void *buf, uint32_t capacity)
{
    char path[PATH_MAX];
    struct stat st;
    ssize_t n;
    int fd;

    if (!h || (capacity && !buf) || !on_main_thread()) {
        return -EINVAL;
    }
    if (!state_path(h->mgr, h->name, "", path, sizeof path)) {
        return -ENAMETOOLONG;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    if (fstat(fd, &st) || st.st_size > VSW_EXT_STATE_MAX) {
        close(fd);
        return -EIO;
    }
    n = 0;
    while ((size_t)n < capacity && n < st.st_size) {
        ssize_t r = pread(fd, (char *)buf + n, capacity - (size_t)n, n);

        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        n += r;
    }
    close(fd);
    return (int32_t)st.st_size;
}

/* See ext-private.h. */
void
ext_host_state_delete(struct vsw_manager *mgr, const char *name)
{
    char path[PATH_MAX];

    if (state_path(mgr, name, "", path, sizeof path) && unlink(path) &&
        errno != ENOENT) {
        VSW_WARN("%s: %s", path, strerror(errno));
    }
}

/* See ext-private.h. */
void
ext_host_forget_methods(struct vsw_ext_handle *ext,
                        struct vsw_rpc_server *server)
{
    while (ext->methods) {
        struct ext_method *m = ext->methods;

        ext->methods = m->next;
        if (server && m->registered) {
            vsw_rpc_server_unregister(server, m->name);
        }
        free(m);
    }
}

/* See ext-private.h. */
void
ext_host_register_methods(struct vsw_ext_handle *ext,
                          struct vsw_rpc_server *server)
{
    for (struct ext_method *m = ext->methods; m; m = m->next) {
        if (!m->registered) {
            if (vsw_rpc_server_register(server, &m->method, 1, m)) {
                VSW_WARN("extension %s: method %s is taken", ext->name,
                         m->name);
            }
            m->registered = true;
        }
    }
}

/* Host service reply_set(): the JSON text is parsed, so a reply is
 * always valid JSON. */
static int
host_reply_set(struct vsw_ext_reply *reply, const char *json)
{
    json_t *value;

    if (!reply || !json) {
        return -EINVAL;
    }
    value = json_loads(json, JSON_DECODE_ANY, NULL);
    if (!value) {
        return -EINVAL;
    }
    json_decref(reply->result);
    reply->result = value;
    return 0;
}

/* Host service defer_free(): from a worker the request waits on a
 * list for the main thread's next tick. */
static void
host_defer_free(struct vsw_ext_handle *h, void (*fn)(void *arg), void *arg)
{
    struct pending_free *p;

    if (!h || !fn) {
        return;
    }
    if (on_main_thread()) {
        vsw_datapath_defer(h->mgr->dp, fn, arg);
        event_active(h->mgr->reclaim, 0, 0);
        return;
    }
    p = malloc(sizeof *p);
    if (!p) {
        return; /* leaking beats freeing under a worker's feet */
    }
    p->fn = fn;
    p->arg = arg;
    pthread_mutex_lock(&pending_mutex);
    if (n_pending_frees >= EXT_MAX_PENDING_FREES) {
        pending_full++;
        pthread_mutex_unlock(&pending_mutex);
        free(p);
        return;
    }
    p->next = pending_frees;
    pending_frees = p;
    n_pending_frees++;
    pthread_mutex_unlock(&pending_mutex);
}

/* See ext-private.h. */
void
ext_host_bounds(struct vsw_manager *mgr, struct vsw_bounds *bounds)
{
    size_t used;
    uint64_t full;

    (void)mgr;
    pthread_mutex_lock(&pending_mutex);
    used = n_pending_frees;
    full = pending_full;
    pthread_mutex_unlock(&pending_mutex);
    vsw_bounds_add(bounds, "ext-deferred-frees", "daemon", "requests", used,
                   EXT_MAX_PENDING_FREES, full);
}

/* Main thread: hands the deferred frees workers asked for to the
 * datapath.  Called from the manager's tick. */
void
ext_host_flush_deferred(struct vsw_manager *mgr)
{
    struct pending_free *list;

    pthread_mutex_lock(&pending_mutex);
    list = pending_frees;
    pending_frees = NULL;
    n_pending_frees = 0;
    pthread_mutex_unlock(&pending_mutex);
    while (list) {
        struct pending_free *next = list->next;

        vsw_datapath_defer(mgr->dp, list->fn, list->arg);
        free(list);
        list = next;
    }
}

/* See ext-private.h. */
const struct vsw_ext_host *
ext_host_table(void)
{
    static const struct vsw_ext_host host = {
        .size = sizeof host,
        .abi_major = VSW_EXT_ABI_MAJOR,
        .abi_minor = VSW_EXT_ABI_MINOR,
        .log = host_log,
        .set_error = host_set_error,
        .frame_alloc = host_frame_alloc,
        .frame_clone = host_frame_clone,
        .frame_push = vsw_ext_frame_push,
        .frame_pull = vsw_ext_frame_pull,
        .frame_free = vsw_ext_frame_free,
        .inject = host_inject,
        .add_destination = vsw_ext_add_destination,
        .port_lookup = host_port_lookup,
        .timer_add = host_timer_add,
        .timer_cancel = host_timer_cancel,
        .rpc_register = host_rpc_register,
        .reply_set = host_reply_set,
        .defer_free = host_defer_free,
        .rpc_register_switch = host_rpc_register_switch,
        .state_save = host_state_save,
        .state_load = host_state_load,
    };

    return &host;
}

/* ---- Crash handler and watchdog ---- */

static char marker_path[PATH_MAX];
static unsigned hang_limit_ms;

/* Writes 'name' to the marker file.  Async-signal-safe. */
static void
write_marker(const char *name)
{
    int fd = open(marker_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    if (fd >= 0) {
        size_t len = strnlen(name, VSW_EXT_NAME_MAX);

        /* One line, as text files end. */
        if (write(fd, name, len) < 0 || write(fd, "\n", 1) < 0) {
            /* Nothing more a dying process can do. */
        }
        close(fd);
    }
}

/* Where each loaded plugin is mapped, for the crash handler: written on
 * the main thread, read (lock-free) by a signal handler. */
#define MAX_MAPPINGS 64
static struct mapping {
    _Atomic uintptr_t start;     /* 0: free */
    _Atomic uintptr_t end;       /* one past */
    char name[VSW_EXT_NAME_MAX]; /* set before 'start' */
} mappings[MAX_MAPPINGS];

/* See ext-private.h. */
void
ext_host_note_mapping(const struct vsw_ext_handle *ext)
{
    if (!ext->loaded || !ext->plugin.map_start) {
        return;
    }
    for (size_t i = 0; i < MAX_MAPPINGS; i++) {
        if (!atomic_load(&mappings[i].start)) {
            snprintf(mappings[i].name, sizeof mappings[i].name, "%s",
                     ext->name);
            atomic_store(&mappings[i].end, ext->plugin.map_end);
            atomic_store(&mappings[i].start, ext->plugin.map_start);
            return;
        }
    }
}

/* See ext-private.h. */
void
ext_host_forget_mapping(const struct vsw_ext_handle *ext)
{
    for (size_t i = 0; ext->loaded && i < MAX_MAPPINGS; i++) {
        if (atomic_load(&mappings[i].start) == ext->plugin.map_start) {
            atomic_store(&mappings[i].start, 0);
        }
    }
}

/* The extension mapped at 'addr', or NULL.  Async-signal-safe. */
static const char *
mapping_at(uintptr_t addr)
{
    for (size_t i = 0; addr && i < MAX_MAPPINGS; i++) {
        uintptr_t start = atomic_load(&mappings[i].start);

        if (start && addr >= start && addr < atomic_load(&mappings[i].end)) {
            return mappings[i].name;
        }
    }
    return NULL;
}

/* The faulting instruction's address in a signal's 'context', or 0. */
static uintptr_t
context_pc(const void *context)
{
    const ucontext_t *uc = context;

    if (!uc) {
        return 0;
    }
#if defined(__x86_64__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (uintptr_t)uc->uc_mcontext.pc;
#else
    return 0;
#endif
}

/* A line being built in a signal handler (no stdio there). */
struct crash_line {
    char buf[256];
    size_t len;
};

static void
line_add(struct crash_line *l, const char *s, size_t n)
{
    for (size_t i = 0; i < n && s[i] && l->len < sizeof l->buf - 1; i++) {
        l->buf[l->len++] = s[i];
    }
}

static void
line_str(struct crash_line *l, const char *s)
{
    line_add(l, s, SIZE_MAX);
}

static void
line_uint(struct crash_line *l, unsigned long long v, unsigned base)
{
    char digits[24];
    size_t n = 0;

    do {
        digits[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v && n < sizeof digits);
    while (n) {
        line_add(l, &digits[--n], 1);
    }
}

/* Writes the line, with its newline, to stderr and the log file. */
static void
line_emit(struct crash_line *l)
{
    line_str(l, "\n");
    vsw_log_write_raw(l->buf, l->len);
    if (write(STDERR_FILENO, l->buf, l->len) < 0) {
        /* Best effort. */
    }
}

/* The fatal signals the crash handler watches, and the actions they had
 * before it (a sanitizer's report, or the default). */
static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
static struct sigaction
    previous_actions[sizeof fatal_signals / sizeof *fatal_signals];
static bool handlers_installed;

/* Fatal signal handler: names the extension the thread was in (if
 * any) in the marker file, then hands the signal on to the action it had
 * before, so that a sanitizer still reports the error with its stack and
 * otherwise the process dies of it (with a core if the system keeps
 * them). */
static void
crash_handler(int sig, siginfo_t *info, void *context)
{
    struct vsw_ext_call *call = vsw_ext_call_self();
    const char *name = atomic_load_explicit(&call->name, memory_order_relaxed);
    uintptr_t pc = context_pc(context);
    uintptr_t addr = (uintptr_t)info->si_addr;
    const char *by_pc = mapping_at(pc);
    const char *by_addr = mapping_at(addr);
    struct crash_line line = {.len = 0};

    if (!atomic_load_explicit(&call->since_ns, memory_order_relaxed)) {
        name = NULL;
    }
    /* The one quarantined: the extension the thread was in, else the one
     * whose code faulted, else the one whose memory was hit. */
    if (name || by_pc || by_addr) {
        write_marker(name ? name : by_pc ? by_pc : by_addr);
    }
    line_str(&line, "vswitchd: signal ");
    line_uint(&line, (unsigned)sig, 10);
    if (name) {
        /* The words tests and operators grep for. */
        line_str(&line, ": fatal signal inside extension ");
        line_str(&line, name);
    }
    line_str(&line, "; pc 0x");
    line_uint(&line, pc, 16);
    if (by_pc) {
        line_str(&line, " in extension ");
        line_str(&line, by_pc);
    }
    if (sig == SIGSEGV || sig == SIGBUS) {
        line_str(&line, ", address 0x");
        line_uint(&line, addr, 16);
        if (by_addr) {
            line_str(&line, " in extension ");
            line_str(&line, by_addr);
        }
    }
    if (!name && !by_pc && !by_addr) {
        line_str(&line, "; not in an extension");
    }
    line_emit(&line);
    for (size_t i = 0; i < sizeof fatal_signals / sizeof *fatal_signals; i++) {
        if (fatal_signals[i] == sig) {
            sigaction(sig, &previous_actions[i], NULL);
        }
    }
    /* A fault the kernel raised happens again when the handler returns,
     * now with the previous action and the real context; a signal sent
     * (abort(), kill) is sent again. */
    if (info->si_code <= 0 || sig == SIGABRT) {
        raise(sig);
    }
}

/* The watchdog thread: every 200 ms, any thread inside an extension for
 * longer than the limit is a hang. */
static void *
watchdog_main(void *arg)
{
    (void)arg;
    for (;;) {
        struct vsw_ext_call *calls[80];
        unsigned n = vsw_ext_call_list(calls, 80);
        int64_t now = vsw_time_nsec();

        for (unsigned i = 0; i < n; i++) {
            int64_t since;
            const char *name;

            if (!calls[i]) {
                /* A thread between taking its slot and filling it. */
                continue;
            }
            since = atomic_load_explicit(&calls[i]->since_ns,
                                         memory_order_relaxed);
            name = atomic_load_explicit(&calls[i]->name, memory_order_relaxed);
            if (since && name &&
                now - since > (int64_t)hang_limit_ms * 1000000) {
                /* A thread stuck in a plugin cannot be taken back, and
                 * the grace periods it blocks would stall every change:
                 * record the culprit and restart clean without it. */
                write_marker(name);
                VSW_ERR("extension %s has not returned for %u ms: "
                        "quarantining it and aborting",
                        name, hang_limit_ms);
                signal(SIGABRT, SIG_DFL);
                abort();
            }
        }
        usleep(200 * 1000);
    }
    return NULL;
}

/* See ext-private.h. */
int
ext_host_start_guards(const char *path, unsigned hang_ms)
{
    struct sigaction sa;
    pthread_t thread;
    int error;

    snprintf(marker_path, sizeof marker_path, "%s", path);
    hang_limit_ms = hang_ms;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = crash_handler;
    /* On the alternate stack if the thread has one (a sanitizer's, for a
     * stack overflow). */
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    /* Once per process: a second manager must not save the crash
     * handler as its own previous action. */
    for (size_t i = 0; i < sizeof fatal_signals / sizeof *fatal_signals &&
                       !handlers_installed;
         i++) {
        sigaction(fatal_signals[i], &sa, &previous_actions[i]);
    }
    handlers_installed = true;
    vsw_ext_call_register(vsw_ext_call_self());
    error = pthread_create(&thread, NULL, watchdog_main, NULL);
    if (error) {
        return -error;
    }
    pthread_detach(thread);
    return 0;
}
