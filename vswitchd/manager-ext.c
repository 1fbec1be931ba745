/*
 * Extensions in the switch manager: which are loaded, where each is
 * enabled and with what configuration, the ext.* methods, persistence,
 * quarantine, the circuit breaker and the port-change veto.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ext-private.h"
#include "log.h"
#include "manager-private.h"
#include "rpc-server.h"

/* A call that does not return within this is a hang. */
#define HANG_LIMIT_MS 3000
/* The breaker trips when, within one tick, at least this many failures
 * (aborted or refused verdicts, errors) were more than half the packets. */
#define BREAKER_MIN_FAILURES 100

/* The extension a crash marker named at start, quarantined on restore. */
static char crashed_name[VSW_EXT_NAME_MAX];

static struct vsw_ext_handle *ext_replace_placeholder(struct vsw_manager *,
                                                      struct vsw_ext_handle *,
                                                      struct vsw_rpc_error *);

/* The loaded (or quarantined) extension named 'name', or NULL. */
static struct vsw_ext_handle *
ext_find(const struct vsw_manager *mgr, const char *name)
{
    for (struct vsw_ext_handle *e = mgr->exts; e; e = e->next) {
        if (!strcmp(e->name, name)) {
            return e;
        }
    }
    return NULL;
}

/* The binding of 'ext' on 'sw', or NULL if it is not enabled there. */
static struct vsw_ext_switch *
binding_find(const struct mgr_switch *sw, const struct vsw_ext_handle *ext)
{
    for (struct vsw_ext_switch *b = sw->exts; b; b = b->next) {
        if (b->ext == ext) {
            return b;
        }
    }
    return NULL;
}

/* The state's name in ext.list. */
static const char *
state_name(enum mgr_ext_state state)
{
    switch (state) {
    case MGR_EXT_READY:
        return "ready";
    case MGR_EXT_FAILED:
        return "failed";
    case MGR_EXT_QUARANTINED:
        return "quarantined";
    case MGR_EXT_MISSING:
        return "missing";
    }
    return "?";
}

/* Reads (and removes) the crash marker the last daemon may have left,
 * so that restore quarantines its extension, and starts the guards. */
int
mgr_ext_init(struct vsw_manager *mgr)
{
    char name[VSW_EXT_NAME_MAX] = "";
    char copies[PATH_MAX];
    int error;
    int fd;

    snprintf(mgr->ext_marker, sizeof mgr->ext_marker, "%s/ext-crash",
             mgr->state_dir);
    fd = open(mgr->ext_marker, O_RDONLY);
    if (fd >= 0) {
        ssize_t n = read(fd, name, sizeof name - 1);

        close(fd);
        name[n > 0 ? n : 0] = '\0';
        name[strcspn(name, "\n")] = '\0';
        if (name[0]) {
            VSW_ERR("extension %s crashed or hung the last daemon: it is "
                    "quarantined until `vswitch-ctl ext unquarantine %s`",
                    name, name);
            snprintf(crashed_name, sizeof crashed_name, "%s", name);
        }
        unlink(mgr->ext_marker);
    }
    /* Plugins run from private copies: a `cp` over a loaded file changes
     * nothing until it is loaded again. */
    snprintf(copies, sizeof copies, "%s/ext-loaded", mgr->state_dir);
    error = vsw_ext_loader_set_private_dir(copies);
    if (error) {
        VSW_WARN("%s: %s: plugins are mapped from their own files", copies,
                 strerror(-error));
    }
    return ext_host_start_guards(mgr->ext_marker, HANG_LIMIT_MS);
}

/* Calls the plugin's 'init'.  On failure the extension stays, failed. */
static void
ext_initialise(struct vsw_ext_handle *ext)
{
    int error;

    ext->error[0] = '\0';
    ext_call_begin(ext);
    error = ext->plugin.desc->init(ext, ext_host_table(), &ext->ext_data);
    ext_call_end();
    if (error) {
        if (!ext->error[0]) {
            snprintf(ext->error, sizeof ext->error, "init failed: %s",
                     strerror(error < 0 ? -error : error));
        }
        VSW_ERR("extension %s: %s", ext->name, ext->error);
        ext->state = MGR_EXT_FAILED;
        return;
    }
    ext->state = MGR_EXT_READY;
    VSW_INFO("extension %s %s (%s) loaded from %s", ext->name,
             ext->plugin.version, vsw_ext_class_name(ext->plugin.ext_class),
             ext->path);
}

/* Loads the plugin at 'path' and initialises it.  Returns the new
 * extension, or NULL after filling 'err' (and changing nothing). */
static struct vsw_ext_handle *
ext_load(struct vsw_manager *mgr, const char *path, struct vsw_rpc_error *err)
{
    struct vsw_ext_handle *ext = calloc(1, sizeof *ext);
    struct vsw_ext_handle **tail;
    char msg[512];

    if (!ext) {
        vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR, "out of memory");
        return NULL;
    }
    if (vsw_ext_plugin_open(path, geteuid(), &ext->plugin, msg, sizeof msg)) {
        free(ext);
        vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS, "%s", msg);
        return NULL;
    }
    if (ext_find(mgr, ext->plugin.name)) {
        vsw_rpc_error(err, VSW_RPC_EXISTS,
                      "%s: an extension named '%s' is already loaded", path,
                      ext->plugin.name);
        vsw_ext_plugin_close(&ext->plugin);
        free(ext);
        return NULL;
    }
    ext->mgr = mgr;
    ext->loaded = true;
    snprintf(ext->name, sizeof ext->name, "%s", ext->plugin.name);
    snprintf(ext->path, sizeof ext->path, "%s", path);
    for (tail = &mgr->exts; *tail; tail = &(*tail)->next) {
        continue;
    }
    *tail = ext;
    ext_host_note_mapping(ext);
    ext_initialise(ext);
    return ext;
}

/* An extension known from the configuration that is not loaded
 * (quarantined, or its file failed to load), kept so nothing is lost. */
static struct vsw_ext_handle *
ext_placeholder(struct vsw_manager *mgr, const char *name, const char *path,
                enum mgr_ext_state state, const char *why)
{
    struct vsw_ext_handle *ext = calloc(1, sizeof *ext);
    struct vsw_ext_handle **tail;

    if (!ext) {
        return NULL;
    }
    ext->mgr = mgr;
    ext->state = state;
    snprintf(ext->name, sizeof ext->name, "%s", name);
    snprintf(ext->path, sizeof ext->path, "%s", path);
    snprintf(ext->error, sizeof ext->error, "%s", why);
    for (tail = &mgr->exts; *tail; tail = &(*tail)->next) {
        continue;
    }
    *tail = ext;
    return ext;
}

/* Forgets what the instance of 'b' was told about ports: a new instance
 * hears of every port again (port_added) at the next publish. */
static void
binding_forget_ports(struct vsw_ext_switch *b)
{
    free(b->ports_seen);
    b->ports_seen = NULL;
    b->n_ports_seen = 0;
}

/* Starts binding 'b' (its extension must be ready): the plugin's 'start'
 * with the binding's configuration.  Returns 0 or fills 'err'. */
static int
binding_start(struct vsw_manager *mgr, struct vsw_ext_switch *b,
              struct vsw_rpc_error *err)
{
    struct vsw_ext_handle *ext = b->ext;
    struct vsw_ext_instance *inst;
    struct vsw_ext_switch_info info = {
        .size = sizeof info,
        /* The main thread's pipeline (injected frames) is one more. */
        .n_workers = vsw_datapath_n_counter_slots(mgr->dp),
        .name = b->sw->name,
        .sw = b,
    };
    void *sw_data = NULL;
    char *config;
    int error = 0;

    if (ext->state != MGR_EXT_READY) {
        return vsw_rpc_error(err, VSW_RPC_CONFLICT, "extension '%s' is %s%s%s",
                             ext->name, state_name(ext->state),
                             ext->error[0] ? ": " : "", ext->error);
    }
    inst = vsw_ext_instance_create(vsw_datapath_n_counter_slots(mgr->dp));
    config = json_dumps(b->config, JSON_COMPACT);
    if (!inst || !config) {
        vsw_ext_instance_destroy(inst);
        free(config);
        return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR, "out of memory");
    }
    if (ext->plugin.ops.start) {
        ext->error[0] = '\0';
        ext_call_begin(ext);
        error = ext->plugin.ops.start(ext->ext_data, &info, config, &sw_data);
        ext_call_end();
    }
    free(config);
    if (error) {
        vsw_ext_instance_destroy(inst);
        return vsw_rpc_error(
            err, VSW_RPC_INVALID_PARAMS,
            "extension '%s' refused to start on '%s': %s", ext->name,
            b->sw->name,
            ext->error[0] ? ext->error : strerror(error < 0 ? -error : error));
    }
    snprintf(inst->name, sizeof inst->name, "%s", ext->name);
    inst->ext_class = ext->plugin.ext_class;
    inst->fail_closed = ext->plugin.flags & VSW_EXT_F_FAIL_CLOSED;
    /* Forwarding extensions judge whole packets (their destinations
     * are per packet). */
    inst->plain_frames = (ext->plugin.flags & VSW_EXT_F_PLAIN_FRAMES) &&
                         ext->plugin.ext_class != VSW_EXT_CLASS_FORWARDING;
    inst->process = ext->plugin.ops.process;
    inst->ext_data = ext->ext_data;
    inst->sw_data = sw_data;
    inst->host = b;
    b->inst = inst;
    binding_forget_ports(b);
    b->tripped = false;
    b->breaker_failures = 0;
    b->breaker_packets = 0;
    return 0;
}

/* Frees a binding nothing points to any more.  NULL is allowed. */
static void
binding_free(struct vsw_ext_switch *b)
{
    if (b) {
        json_decref(b->config);
        free(b->ports_seen);
        free(b);
    }
}

/* What 'stop' needs once the workers let go of an instance. */
struct stopping {
    struct vsw_ext_switch *binding; /* unlinked; freed after 'stop' */
    struct vsw_ext_instance *inst;  /* the instance, freed after 'stop' */
};

/* Deferred: the plugin's 'stop' once no worker can be in its 'process',
 * then the instance and the binding. */
static void
stop_cb(void *s_)
{
    struct stopping *s = s_;
    struct vsw_ext_handle *ext = s->binding->ext;

    if (ext->plugin.ops.stop) {
        ext_call_begin(ext);
        ext->plugin.ops.stop(ext->ext_data, s->inst->sw_data);
        ext_call_end();
    }
    vsw_ext_instance_destroy(s->inst);
    binding_free(s->binding);
    free(s);
}

/* Takes binding 'b', unlinked from its switch, and stops it: after the
 * next publish and a grace period its 'stop' runs (no 'process' call is
 * in flight then), and only then is 'b' freed, so the handle the plugin
 * holds stays valid until 'stop' returns, as the ABI promises.  Until
 * then, inject() on it fails with -ENODEV. */
static void
binding_retire(struct vsw_manager *mgr, struct vsw_ext_switch *b)
{
    struct stopping *s;

    if (!b->inst) {
        binding_free(b);
        return;
    }
    s = malloc(sizeof *s);
    if (!s) {
        VSW_ERR("out of memory: extension %s is never stopped on %s",
                b->ext->name, b->sw->name);
        b->inst = NULL;
        return;
    }
    s->binding = b;
    s->inst = b->inst;
    b->inst = NULL;
    mgr_retire(mgr, stop_cb, s);
}

/* Unlinks 'b' from its switch. */
static void
binding_unlink(struct vsw_ext_switch *b)
{
    struct vsw_ext_switch **pp;

    for (pp = &b->sw->exts; *pp != b; pp = &(*pp)->next) {
        continue;
    }
    *pp = b->next;
    b->next = NULL;
}

/* Inserts 'b' at 'position' (clamped) of its switch's list. */
static void
binding_insert(struct vsw_ext_switch *b, long long position)
{
    struct vsw_ext_switch **pp = &b->sw->exts;

    for (long long i = 0; *pp && (position < 0 || i < position); i++) {
        pp = &(*pp)->next;
    }
    b->next = *pp;
    *pp = b;
}

/* Extensions enabled on 'sw'. */
static unsigned
binding_count(const struct mgr_switch *sw)
{
    unsigned n = 0;

    for (const struct vsw_ext_switch *b = sw->exts; b; b = b->next) {
        n++;
    }
    return n;
}

/* The running bindings of 'sw', in order, with their breaker state. */
void
mgr_ext_fill_switch(const struct mgr_switch *sw, struct vsw_dp_switch *dsw)
{
    dsw->n_exts = 0;
    for (const struct vsw_ext_switch *b = sw->exts; b; b = b->next) {
        if (b->inst && dsw->n_exts < VSW_EXT_MAX_PER_SWITCH) {
            dsw->exts[dsw->n_exts].inst = b->inst;
            dsw->exts[dsw->n_exts].tripped = b->tripped;
            dsw->n_exts++;
        }
    }
}

/* ---- Persistence ---- */

/* config.json's "extensions": path, name and quarantine of each. */
json_t *
mgr_ext_to_json(const struct vsw_manager *mgr)
{
    json_t *list = json_array();

    for (const struct vsw_ext_handle *e = mgr->exts; e; e = e->next) {
        json_t *obj =
            json_pack("{s:s, s:s, s:b}", "name", e->name, "path", e->path,
                      "quarantined", e->state == MGR_EXT_QUARANTINED);

        if (obj && e->kept_configs && json_object_size(e->kept_configs)) {
            json_object_set(obj, "kept-config", e->kept_configs);
        }
        json_array_append_new(list, obj);
    }
    return list;
}

/* A switch's "extensions" in config.json: name and configuration, in
 * order. */
json_t *
mgr_ext_switch_to_json(const struct mgr_switch *sw)
{
    json_t *list = json_array();

    for (const struct vsw_ext_switch *b = sw->exts; b; b = b->next) {
        json_array_append_new(list,
                              json_pack("{s:s, s:O}", "name", b->ext->name,
                                        "config", b->config));
    }
    return list;
}

/* Adds a binding of 'ext' to 'sw' at the end, with 'config' (a new
 * reference is taken), and starts it if the extension is ready. */
static void
restore_binding(struct vsw_manager *mgr, struct mgr_switch *sw,
                struct vsw_ext_handle *ext, json_t *config)
{
    struct vsw_ext_switch *b = calloc(1, sizeof *b);
    struct vsw_rpc_error err;

    if (!b) {
        VSW_ERR("out of memory restoring extension %s on %s", ext->name,
                sw->name);
        return;
    }
    b->ext = ext;
    b->sw = sw;
    b->config = json_is_object(config) ? json_incref(config) : json_object();
    binding_insert(b, -1);
    if (ext->state == MGR_EXT_READY && binding_start(mgr, b, &err)) {
        VSW_ERR("%s (kept in the configuration, not running)", err.message);
    }
}

/* Loads the saved extensions (a quarantined or missing one is kept as a
 * placeholder, so the configuration loses nothing) and enables them on
 * their switches in the saved order. */
void
mgr_ext_restore(struct vsw_manager *mgr, json_t *root)
{
    json_t *obj;
    size_t i;

    json_array_foreach(json_object_get(root, "extensions"), i, obj)
    {
        const char *name = json_string_value(json_object_get(obj, "name"));
        const char *path = json_string_value(json_object_get(obj, "path"));
        bool quarantined = json_is_true(json_object_get(obj, "quarantined")) ||
                           (name && !strcmp(name, crashed_name));
        struct vsw_ext_handle *ext;
        struct vsw_rpc_error err;

        if (!name || !path || ext_find(mgr, name)) {
            VSW_ERR("config: dropping an unusable extension entry");
            continue;
        }
        if (quarantined) {
            ext = ext_placeholder(mgr, name, path, MGR_EXT_QUARANTINED,
                                  "quarantined after a crash or hang");
            if (ext && json_is_object(json_object_get(obj, "kept-config"))) {
                ext->kept_configs =
                    json_deep_copy(json_object_get(obj, "kept-config"));
            }
            continue;
        }
        if (access(path, F_OK) && errno == ENOENT) {
            /* Removed on purpose more often than not: one warning, and
             * the configuration waits for the file or an unload. */
            VSW_WARN("config: extension %s: %s is missing; kept as "
                     "'missing' (`vswitch-ctl ext load %s` once it is back, "
                     "`vswitch-ctl ext unload %s` to forget it)",
                     name, path, path, name);
            ext = ext_placeholder(mgr, name, path, MGR_EXT_MISSING,
                                  "its file is missing");
        } else if (!(ext = ext_load(mgr, path, &err))) {
            VSW_ERR("config: extension %s: %s", name, err.message);
            ext =
                ext_placeholder(mgr, name, path, MGR_EXT_FAILED, err.message);
        }
        if (ext && json_is_object(json_object_get(obj, "kept-config"))) {
            ext->kept_configs =
                json_deep_copy(json_object_get(obj, "kept-config"));
        }
    }
    json_array_foreach(json_object_get(root, "switches"), i, obj)
    {
        struct mgr_switch *sw = mgr_find_switch(
            mgr, json_string_value(json_object_get(obj, "name")) ?: "");
        json_t *bobj;
        size_t j;

        if (!sw) {
            continue;
        }
        json_array_foreach(json_object_get(obj, "extensions"), j, bobj)
        {
            const char *name =
                json_string_value(json_object_get(bobj, "name"));
            struct vsw_ext_handle *ext = name ? ext_find(mgr, name) : NULL;

            if (!ext || binding_find(sw, ext)) {
                VSW_ERR("config: switch %s: dropping extension entry %s",
                        sw->name, name ? name : "(no name)");
                continue;
            }
            restore_binding(mgr, sw, ext, json_object_get(bobj, "config"));
        }
    }
}

/* See manager-private.h. */
bool
mgr_ext_quarantined_at_start(const struct vsw_manager *mgr)
{
    struct vsw_ext_handle *ext =
        crashed_name[0] ? ext_find(mgr, crashed_name) : NULL;

    return ext && ext->state == MGR_EXT_QUARANTINED;
}

/* Loads every *.so of 'dir' that is not loaded yet; a plugin the crash
 * marker names becomes a quarantined placeholder instead. */
void
mgr_ext_load_dir(struct vsw_manager *mgr, const char *dir)
{
    struct dirent *de;
    DIR *d = opendir(dir);

    if (!d) {
        VSW_ERR("extension directory %s: %s", dir, strerror(errno));
        return;
    }
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        char path[PATH_MAX];
        struct vsw_rpc_error err;
        bool known = false;

        if (len < 4 || strcmp(de->d_name + len - 3, ".so")) {
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        for (struct vsw_ext_handle *e = mgr->exts; e; e = e->next) {
            known |= !strcmp(e->path, path);
        }
        if (known) {
            continue;
        }
        if (crashed_name[0]) {
            /* Peek at the name first: a crashed extension stays out. */
            struct vsw_ext_plugin probe;
            char msg[256];

            if (!vsw_ext_plugin_open(path, geteuid(), &probe, msg,
                                     sizeof msg)) {
                bool crashed = !strcmp(probe.name, crashed_name);

                vsw_ext_plugin_close(&probe);
                if (crashed && !ext_find(mgr, crashed_name)) {
                    ext_placeholder(mgr, crashed_name, path,
                                    MGR_EXT_QUARANTINED,
                                    "quarantined after a crash or hang");
                    continue;
                }
            }
        }
        if (!ext_load(mgr, path, &err)) {
            VSW_ERR("%s", err.message);
        }
    }
    closedir(d);
}

/* ---- Veto, breaker, shutdown ---- */

/* Asks each running extension of 'sw' with a port_check op; the first
 * veto wins and becomes the request's error. */
int
mgr_ext_port_check(struct vsw_manager *mgr, const struct mgr_switch *sw,
                   const char *port, uint32_t kind, json_t *params,
                   struct vsw_rpc_error *err)
{
    char *text = NULL;

    (void)mgr;
    for (struct vsw_ext_switch *b = sw->exts; b; b = b->next) {
        struct vsw_ext_handle *ext = b->ext;
        struct vsw_ext_port_change change;
        int error;

        if (!b->inst || !ext->plugin.ops.port_check) {
            continue;
        }
        if (!text) {
            text = json_dumps(params, JSON_COMPACT);
            if (!text) {
                return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR,
                                     "out of memory");
            }
        }
        change = (struct vsw_ext_port_change){
            .size = sizeof change,
            .kind = kind,
            .port = port,
            .params_json = text,
        };
        ext->error[0] = '\0';
        ext_call_begin(ext);
        error = ext->plugin.ops.port_check(ext->ext_data, b->inst->sw_data,
                                           &change);
        ext_call_end();
        if (error) {
            free(text);
            return vsw_rpc_error(err, VSW_RPC_CONFLICT,
                                 "extension '%s' vetoed the change of port "
                                 "'%s': %s",
                                 ext->name, port,
                                 ext->error[0] ? ext->error : "refused");
        }
    }
    free(text);
    return 0;
}

/* Retires every binding of 'sw' (being deleted). */
void
mgr_ext_switch_destroy(struct vsw_manager *mgr, struct mgr_switch *sw)
{
    while (sw->exts) {
        struct vsw_ext_switch *b = sw->exts;

        binding_unlink(b);
        binding_retire(mgr, b);
    }
}

/* Once a second: the circuit breakers (failures since the last tick
 * against packets), and deferred frees that workers asked for. */
void
mgr_ext_tick(struct vsw_manager *mgr)
{
    bool changed = false;

    ext_host_flush_deferred(mgr);
    for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        for (struct vsw_ext_switch *b = sw->exts; b; b = b->next) {
            struct vsw_ext_totals t;
            uint64_t failures;
            uint64_t df;
            uint64_t dp;

            if (!b->inst || b->tripped) {
                continue;
            }
            vsw_ext_instance_totals(b->inst, &t);
            failures = t.aborted + t.refused + t.errors;
            df = failures - b->breaker_failures;
            dp = t.packets - b->breaker_packets;
            b->breaker_failures = failures;
            b->breaker_packets = t.packets;
            if (df >= BREAKER_MIN_FAILURES && df * 2 > dp) {
                b->tripped = true;
                changed = true;
                VSW_ERR("extension %s on %s: %llu failures in %llu packets "
                        "within a second: circuit breaker open (fail %s); "
                        "`vswitch-ctl ext reset %s %s` closes it",
                        b->ext->name, sw->name, (unsigned long long)df,
                        (unsigned long long)dp,
                        b->inst->fail_closed ? "closed: its traffic drops"
                                             : "open: it is bypassed",
                        b->ext->name, sw->name);
            }
        }
    }
    if (changed) {
        struct vsw_rpc_error ignored;

        mgr_commit(mgr, &ignored);
    }
}

/* Calls each ready extension's 'fini' and frees the handles; the
 * bindings were retired with their switches already. */
void
mgr_ext_shutdown(struct vsw_manager *mgr)
{
    while (mgr->exts) {
        struct vsw_ext_handle *ext = mgr->exts;

        mgr->exts = ext->next;
        if (ext->state == MGR_EXT_READY && ext->plugin.ops.fini) {
            ext_call_begin(ext);
            ext->plugin.ops.fini(ext->ext_data);
            ext_call_end();
        }
        ext_host_cancel_timers(ext);
        /* The RPC server is gone already; the plugin stays mapped (never
         * unmapping code that may still be referenced is the rule), its
         * private copy need not stay named. */
        if (ext->loaded && ext->plugin.copy[0]) {
            unlink(ext->plugin.copy);
        }
        while (ext->methods) {
            struct ext_method *m = ext->methods;

            ext->methods = m->next;
            free(m);
        }
        json_decref(ext->kept_configs);
        free(ext);
    }
    /* A daemon that stopped cleanly leaves no private copies behind. */
    {
        char copies[PATH_MAX];

        snprintf(copies, sizeof copies, "%s/ext-loaded", mgr->state_dir);
        rmdir(copies);
    }
}

/* 'sum' += 'more'. */
static void
totals_add(struct vsw_ext_totals *sum, const struct vsw_ext_totals *more)
{
    sum->batches += more->batches;
    sum->packets += more->packets;
    sum->aborted += more->aborted;
    sum->dropped += more->dropped;
    sum->refused += more->refused;
    sum->errors += more->errors;
    sum->injected += more->injected;
    sum->time_ns += more->time_ns;
}

/* ---- ext.* methods ---- */

/* ext.load: see docs/jsonrpc.md. */
static int
rpc_ext_load(json_t *params, json_t **result, struct vsw_rpc_error *err,
             void *mgr_)
{
    static const char *const keys[] = {"path", NULL};
    struct vsw_manager *mgr = mgr_;
    struct vsw_ext_handle *ext;
    const char *path;

    if (vsw_rpc_check_keys(params, keys, err) ||
        vsw_rpc_get_string(params, "path", true, &path, err)) {
        return -1;
    }
    for (ext = mgr->exts; ext; ext = ext->next) {
        if (!strcmp(ext->path, path)) {
            break;
        }
    }
    if (ext && ext->state == MGR_EXT_QUARANTINED) {
        return vsw_rpc_error(err, VSW_RPC_CONFLICT,
                             "%s: extension '%s' is quarantined; `ext "
                             "unquarantine %s` loads it again",
                             path, ext->name, ext->name);
    } else if (ext && ext->loaded) {
        return vsw_rpc_error(err, VSW_RPC_EXISTS, "%s: already loaded as '%s'",
                             path, ext->name);
    }
    /* A missing file that is back, or one that failed to load at start:
     * it takes the place (switches, configuration) the placeholder kept. */
    ext = ext ? ext_replace_placeholder(mgr, ext, err)
              : ext_load(mgr, path, err);
    if (!ext) {
        return -1;
    }
    if (mgr_commit(mgr, err)) {
        return -1;
    }
    *result = json_pack("{s:s, s:s, s:s, s:s}", "name", ext->name, "class",
                        vsw_ext_class_name(ext->plugin.ext_class), "version",
                        ext->plugin.version, "state", state_name(ext->state));
    if (ext->state != MGR_EXT_READY) {
        json_object_set_new(*result, "error", json_string(ext->error));
    }
    return 0;
}

/* One entry of ext.list. */
static json_t *
ext_to_json(const struct vsw_manager *mgr, const struct vsw_ext_handle *ext)
{
    json_t *switches = json_array();
    json_t *obj;

    for (const struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        unsigned position = 0;

        for (const struct vsw_ext_switch *b = sw->exts; b;
             b = b->next, position++) {
            if (b->ext == ext) {
                json_array_append_new(
                    switches,
                    json_pack("{s:s, s:i, s:b, s:b}", "switch", sw->name,
                              "position", (int)position, "running",
                              b->inst != NULL, "tripped", b->tripped));
            }
        }
    }
    obj =
        json_pack("{s:s, s:s, s:s, s:o}", "name", ext->name, "path", ext->path,
                  "state", state_name(ext->state), "switches", switches);
    if (ext->loaded) {
        char abi[16];

        snprintf(abi, sizeof abi, "%u.%u", ext->plugin.abi_major,
                 ext->plugin.abi_minor);
        json_object_set_new(
            obj, "class",
            json_string(vsw_ext_class_name(ext->plugin.ext_class)));
        json_object_set_new(obj, "version", json_string(ext->plugin.version));
        json_object_set_new(obj, "description",
                            json_string(ext->plugin.description));
        json_object_set_new(obj, "abi", json_string(abi));
        json_object_set_new(
            obj, "fail",
            json_string(ext->plugin.flags & VSW_EXT_F_FAIL_CLOSED ? "closed"
                                                                  : "open"));
    }
    if (ext->state != MGR_EXT_READY && ext->error[0]) {
        json_object_set_new(obj, "error", json_string(ext->error));
    }
    return obj;
}

/* ext.list. */
static int
rpc_ext_list(json_t *params, json_t **result, struct vsw_rpc_error *err,
             void *mgr_)
{
    static const char *const keys[] = {NULL};
    struct vsw_manager *mgr = mgr_;
    json_t *list;

    if (vsw_rpc_check_keys(params, keys, err)) {
        return -1;
    }
    list = json_array();
    for (const struct vsw_ext_handle *e = mgr->exts; e; e = e->next) {
        json_array_append_new(list, ext_to_json(mgr, e));
    }
    *result = json_pack("{s:o}", "extensions", list);
    return 0;
}

/* The extension named by "name" in 'params', or NULL after filling
 * 'err'. */
static struct vsw_ext_handle *
get_ext(struct vsw_manager *mgr, json_t *params, struct vsw_rpc_error *err)
{
    const char *name;
    struct vsw_ext_handle *ext;

    if (vsw_rpc_get_string(params, "name", true, &name, err)) {
        return NULL;
    }
    ext = ext_find(mgr, name);
    if (!ext) {
        vsw_rpc_error(err, VSW_RPC_NOT_FOUND, "no extension '%s' is loaded",
                      name);
    }
    return ext;
}

/* ext.enable: starts the extension on the switch at a position, or moves
 * it there if it runs already. */
static int
rpc_ext_enable(json_t *params, json_t **result, struct vsw_rpc_error *err,
               void *mgr_)
{
    static const char *const keys[] = {"switch", "name", "position", NULL};
    struct vsw_manager *mgr = mgr_;
    long long position = -1;
    struct vsw_ext_handle *ext;
    struct vsw_ext_switch *b;
    struct mgr_switch *sw;
    json_t *kept;

    (void)result;
    if (vsw_rpc_check_keys(params, keys, err) ||
        mgr_rpc_get_switch(mgr, params, "switch", &sw, err) ||
        !(ext = get_ext(mgr, params, err)) ||
        vsw_rpc_get_int(params, "position", false, 0,
                        VSW_EXT_MAX_PER_SWITCH - 1, &position, err)) {
        return -1;
    }
    b = binding_find(sw, ext);
    if (b) {
        if (position < 0) {
            return vsw_rpc_error(err, VSW_RPC_EXISTS,
                                 "extension '%s' is already enabled on '%s' "
                                 "(give a position to move it)",
                                 ext->name, sw->name);
        }
        /* Reorder: the next snapshot has the new order; 'process' keeps
         * running throughout. */
        binding_unlink(b);
        binding_insert(b, position);
        return mgr_commit(mgr, err);
    }
    if (binding_count(sw) >= VSW_EXT_MAX_PER_SWITCH) {
        return vsw_rpc_error(err, VSW_RPC_CONFLICT,
                             "switch '%s' has %d extensions enabled already",
                             sw->name, VSW_EXT_MAX_PER_SWITCH);
    }
    if (ext->loaded && ext->plugin.ext_class == VSW_EXT_CLASS_FORWARDING) {
        for (b = sw->exts; b; b = b->next) {
            if (b->ext->loaded &&
                b->ext->plugin.ext_class == VSW_EXT_CLASS_FORWARDING) {
                return vsw_rpc_error(
                    err, VSW_RPC_CONFLICT,
                    "switch '%s' already has forwarding extension '%s' "
                    "enabled; a switch has at most one",
                    sw->name, b->ext->name);
            }
        }
    }
    b = calloc(1, sizeof *b);
    if (!b) {
        return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR, "out of memory");
    }
    b->ext = ext;
    b->sw = sw;
    /* What a disable kept, so that a filter comes back as it was. */
    kept = ext->kept_configs ? json_object_get(ext->kept_configs, sw->name)
                             : NULL;
    b->config = json_is_object(kept) ? json_incref(kept) : json_object();
    if (binding_start(mgr, b, err)) {
        binding_free(b);
        return -1;
    }
    binding_insert(b, position);
    if (json_is_object(kept)) {
        /* It is the binding's now (saved with the switch). */
        json_object_del(ext->kept_configs, sw->name);
    }
    if (mgr_commit(mgr, err)) {
        if (json_is_object(kept)) {
            json_object_set(ext->kept_configs, sw->name, b->config);
        }
        binding_unlink(b);
        binding_retire(mgr, b);
        return -1;
    }
    return 0;
}

/* The binding of "name" on "switch" in 'params', or NULL after filling
 * 'err'. */
static struct vsw_ext_switch *
get_binding(struct vsw_manager *mgr, json_t *params, struct vsw_rpc_error *err)
{
    struct vsw_ext_handle *ext;
    struct vsw_ext_switch *b;
    struct mgr_switch *sw;

    if (mgr_rpc_get_switch(mgr, params, "switch", &sw, err) ||
        !(ext = get_ext(mgr, params, err))) {
        return NULL;
    }
    b = binding_find(sw, ext);
    if (!b) {
        vsw_rpc_error(err, VSW_RPC_NOT_FOUND,
                      "extension '%s' is not enabled on '%s'", ext->name,
                      sw->name);
    }
    return b;
}

/* ext.disable: the configuration is kept for the next enable on the
 * switch (a security filter must not come back open), unless
 * "forget-config". */
static int
rpc_ext_disable(json_t *params, json_t **result, struct vsw_rpc_error *err,
                void *mgr_)
{
    static const char *const keys[] = {"switch", "name", "forget-config",
                                       NULL};
    struct vsw_manager *mgr = mgr_;
    struct vsw_ext_switch *b;
    bool forget = false;

    (void)result;
    if (vsw_rpc_check_keys(params, keys, err) ||
        vsw_rpc_get_bool(params, "forget-config", false, &forget, err) ||
        !(b = get_binding(mgr, params, err))) {
        return -1;
    }
    if (forget) {
        if (b->ext->kept_configs) {
            json_object_del(b->ext->kept_configs, b->sw->name);
        }
    } else {
        if (!b->ext->kept_configs) {
            b->ext->kept_configs = json_object();
        }
        if (!b->ext->kept_configs ||
            json_object_set(b->ext->kept_configs, b->sw->name, b->config)) {
            return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR, "out of memory");
        }
    }
    binding_unlink(b);
    binding_retire(mgr, b);
    return mgr_commit(mgr, err);
}

/* ext.config: the extension's configure first; only if it accepts is the
 * configuration kept and saved. */
static int
rpc_ext_config(json_t *params, json_t **result, struct vsw_rpc_error *err,
               void *mgr_)
{
    static const char *const keys[] = {"switch", "name", "config", NULL};
    struct vsw_manager *mgr = mgr_;
    json_t *config = json_object_get(params, "config");
    struct vsw_ext_handle *ext;
    struct vsw_ext_switch *b;
    json_t *old;

    (void)result;
    if (vsw_rpc_check_keys(params, keys, err) ||
        !(b = get_binding(mgr, params, err))) {
        return -1;
    }
    if (!json_is_object(config)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "'config' must be a JSON object");
    }
    ext = b->ext;
    if (b->inst) {
        char *text;
        int error = 0;

        if (!ext->plugin.ops.configure) {
            return vsw_rpc_error(err, VSW_RPC_CONFLICT,
                                 "extension '%s' has no 'configure' "
                                 "callback: it takes no configuration",
                                 ext->name);
        }
        text = json_dumps(config, JSON_COMPACT);
        if (!text) {
            return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR, "out of memory");
        }
        ext->error[0] = '\0';
        ext_call_begin(ext);
        error =
            ext->plugin.ops.configure(ext->ext_data, b->inst->sw_data, text);
        ext_call_end();
        free(text);
        if (error) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "extension '%s' refused the configuration: "
                                 "%s",
                                 ext->name,
                                 ext->error[0] ? ext->error : "invalid");
        }
    }
    old = b->config;
    b->config = json_incref(config);
    json_decref(old);
    return mgr_commit(mgr, err);
}

/* ext.stats: the host's counters and the extension's own figures. */
static int
rpc_ext_stats(json_t *params, json_t **result, struct vsw_rpc_error *err,
              void *mgr_)
{
    static const char *const keys[] = {"name", NULL};
    struct vsw_manager *mgr = mgr_;
    const char *name = NULL;
    json_t *list;

    if (vsw_rpc_check_keys(params, keys, err) ||
        vsw_rpc_get_string(params, "name", false, &name, err)) {
        return -1;
    }
    if (name && !ext_find(mgr, name)) {
        return vsw_rpc_error(err, VSW_RPC_NOT_FOUND,
                             "no extension '%s' is loaded", name);
    }
    list = json_array();
    for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        for (struct vsw_ext_switch *b = sw->exts; b; b = b->next) {
            struct vsw_ext_handle *ext = b->ext;
            struct vsw_ext_totals t = {0};
            json_t *obj;

            if (name && strcmp(name, ext->name)) {
                continue;
            }
            if (b->inst) {
                vsw_ext_instance_totals(b->inst, &t);
            }
            totals_add(&t, &b->carried);
            obj = json_pack(
                "{s:s, s:s, s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
                "s:I}",
                "name", ext->name, "switch", sw->name, "running",
                b->inst != NULL, "tripped", b->tripped, "batches",
                (json_int_t)t.batches, "packets", (json_int_t)t.packets,
                "aborted", (json_int_t)t.aborted, "dropped",
                (json_int_t)t.dropped, "refused", (json_int_t)t.refused,
                "errors", (json_int_t)t.errors, "injected",
                (json_int_t)t.injected, "time-ns", (json_int_t)t.time_ns);
            if (b->inst && ext->plugin.ops.stats) {
                struct vsw_ext_reply reply = {NULL};
                int error;

                ext_call_begin(ext);
                error = ext->plugin.ops.stats(ext->ext_data, b->inst->sw_data,
                                              &reply);
                ext_call_end();
                if (!error && reply.result) {
                    json_object_set(obj, "ext", reply.result);
                }
                json_decref(reply.result);
            }
            json_array_append_new(list, obj);
        }
    }
    *result = json_pack("{s:o}", "stats", list);
    return 0;
}

/* Loads the file of placeholder 'ext' (quarantined, missing, or failed
 * to load) for real and moves its switches and kept configurations over
 * to the new extension, starting it where it is enabled; frees 'ext'.
 * Returns the new extension, or NULL after filling 'err' with 'ext'
 * left as it was. */
static struct vsw_ext_handle *
ext_replace_placeholder(struct vsw_manager *mgr, struct vsw_ext_handle *ext,
                        struct vsw_rpc_error *err)
{
    struct vsw_ext_handle **pp;
    struct vsw_ext_handle *loaded;
    char path[PATH_MAX];

    snprintf(path, sizeof path, "%s", ext->path);
    for (pp = &mgr->exts; *pp != ext; pp = &(*pp)->next) {
        continue;
    }
    *pp = ext->next;
    loaded = ext_load(mgr, path, err);
    if (!loaded) {
        ext->next = *pp;
        *pp = ext;
        return NULL;
    }
    if (strcmp(loaded->name, ext->name)) {
        VSW_WARN("%s now holds extension '%s', not '%s'", path, loaded->name,
                 ext->name);
    }
    loaded->kept_configs = ext->kept_configs;
    for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        for (struct vsw_ext_switch *b = sw->exts; b; b = b->next) {
            if (b->ext == ext) {
                struct vsw_rpc_error start_err;

                b->ext = loaded;
                if (binding_start(mgr, b, &start_err)) {
                    VSW_ERR("%s", start_err.message);
                }
            }
        }
    }
    free(ext);
    return loaded;
}

/* ext.unquarantine: loads the extension for real and restarts it on the
 * switches it is still enabled on. */
static int
rpc_ext_unquarantine(json_t *params, json_t **result,
                     struct vsw_rpc_error *err, void *mgr_)
{
    static const char *const keys[] = {"name", NULL};
    struct vsw_manager *mgr = mgr_;
    struct vsw_ext_handle *ext;

    (void)result;
    if (vsw_rpc_check_keys(params, keys, err) ||
        !(ext = get_ext(mgr, params, err))) {
        return -1;
    }
    if (ext->state != MGR_EXT_QUARANTINED) {
        return vsw_rpc_error(err, VSW_RPC_CONFLICT,
                             "extension '%s' is not quarantined", ext->name);
    }
    if (!ext_replace_placeholder(mgr, ext, err)) {
        return -1;
    }
    crashed_name[0] = '\0';
    return mgr_commit(mgr, err);
}

/* Deferred after the unload's grace period and after the frees the
 * plugin asked for: nothing can run its code any more. */
static void
unload_unmap_cb(void *ext_)
{
    struct vsw_ext_handle *ext = ext_;

    VSW_INFO("extension %s unloaded", ext->name);
    ext_host_forget_mapping(ext);
    vsw_ext_plugin_close(&ext->plugin);
    free(ext);
}

/* After the grace period that follows the unload's publish (and after
 * every binding's 'stop', queued earlier): the plugin's 'fini', then the
 * unmap once the frees it may still have asked for have run. */
static void
unload_fini_cb(void *ext_)
{
    struct vsw_ext_handle *ext = ext_;
    struct vsw_manager *mgr = ext->mgr;

    if (ext->state == MGR_EXT_READY && ext->plugin.ops.fini) {
        ext_call_begin(ext);
        ext->plugin.ops.fini(ext->ext_data);
        ext_call_end();
    }
    /* 'fini' may have set timers or methods; they go with it. */
    ext_host_cancel_timers(ext);
    ext_host_forget_methods(ext, mgr->rpc);
    if (!ext->loaded) {
        free(ext);
        return;
    }
    ext_host_flush_deferred(mgr);
    vsw_datapath_defer(mgr->dp, unload_unmap_cb, ext);
    mgr_reclaim_soon(mgr);
}

/* ext.unload: disables the extension everywhere, forgets it in the
 * configuration, and once no worker is inside it: 'stop' per switch,
 * 'fini', dlclose.  Works in every state. */
static int
rpc_ext_unload(json_t *params, json_t **result, struct vsw_rpc_error *err,
               void *mgr_)
{
    static const char *const keys[] = {"name", NULL};
    struct vsw_manager *mgr = mgr_;
    struct vsw_ext_handle *ext;
    struct vsw_ext_handle **pp;

    (void)result;
    if (vsw_rpc_check_keys(params, keys, err) ||
        !(ext = get_ext(mgr, params, err))) {
        return -1;
    }
    for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        struct vsw_ext_switch *b = binding_find(sw, ext);

        if (b) {
            binding_unlink(b);
            binding_retire(mgr, b);
        }
    }
    /* Its methods are unknown from now on.  Its timers live until
     * 'fini' (its 'stop' may cancel them). */
    ext_host_forget_methods(ext, mgr->rpc);
    for (pp = &mgr->exts; *pp != ext; pp = &(*pp)->next) {
        continue;
    }
    *pp = ext->next;
    ext->next = NULL;
    if (!strcmp(crashed_name, ext->name)) {
        crashed_name[0] = '\0';
    }
    json_decref(ext->kept_configs);
    ext->kept_configs = NULL;
    ext_host_state_delete(mgr, ext->name);
    /* Queued after the bindings' 'stop': they still need the handle. */
    mgr_retire(mgr, unload_fini_cb, ext);
    return mgr_commit(mgr, err);
}

/* What stops an instance a reload replaced, after the grace period of
 * the snapshot that swapped it out. */
struct replaced {
    struct vsw_ext_handle *ext;    /* the old version (freed later) */
    struct vsw_ext_instance *inst; /* its instance on one switch */
};

/* Deferred: the old version's 'stop' for one switch, then its instance. */
static void
replaced_stop_cb(void *r_)
{
    struct replaced *r = r_;

    if (r->ext->plugin.ops.stop) {
        ext_call_begin(r->ext);
        r->ext->plugin.ops.stop(r->ext->ext_data, r->inst->sw_data);
        ext_call_end();
    }
    vsw_ext_instance_destroy(r->inst);
    free(r);
}

/* Starts 'nx' on binding 'b' (which keeps running its old instance):
 * returns the new instance in '*instp', or fills 'err'. */
static int
reload_start(struct vsw_manager *mgr, struct vsw_ext_handle *nx,
             struct vsw_ext_switch *b, struct vsw_ext_instance **instp,
             struct vsw_rpc_error *err)
{
    struct vsw_ext_switch saved = *b;
    int error;

    /* binding_start() fills the binding; the old state is put back. */
    b->ext = nx;
    b->inst = NULL;
    error = binding_start(mgr, b, err);
    *instp = b->inst;
    b->ext = saved.ext;
    b->inst = saved.inst;
    b->tripped = saved.tripped;
    b->breaker_failures = saved.breaker_failures;
    b->breaker_packets = saved.breaker_packets;
    return error;
}

/* Undoes a reload that failed after 'nx' was initialised: stops the
 * instances started so far (never published: no worker saw them), then
 * 'fini' and unmaps it. */
static void
reload_abandon(struct vsw_ext_handle *nx, struct vsw_ext_instance **insts,
               size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (insts[i]) {
            if (nx->plugin.ops.stop) {
                ext_call_begin(nx);
                nx->plugin.ops.stop(nx->ext_data, insts[i]->sw_data);
                ext_call_end();
            }
            vsw_ext_instance_destroy(insts[i]);
        }
    }
    if (nx->state == MGR_EXT_READY && nx->plugin.ops.fini) {
        ext_call_begin(nx);
        nx->plugin.ops.fini(nx->ext_data);
        ext_call_end();
    }
    ext_host_cancel_timers(nx);
    ext_host_forget_methods(nx, NULL);
    ext_host_forget_mapping(nx);
    vsw_ext_plugin_close(&nx->plugin);
    free(nx);
}

/* ext.reload: a new version of a running extension (from its path, or
 * 'path'), checked and initialised beside the old one, started with each
 * switch's configuration, then swapped in by one snapshot; the old one
 * is stopped, finished and unmapped after the grace period.  Any failure
 * before the swap leaves the old one running untouched. */
static int
rpc_ext_reload(json_t *params, json_t **result, struct vsw_rpc_error *err,
               void *mgr_)
{
    static const char *const keys[] = {"name", "path", NULL};
    struct vsw_ext_instance *insts[64] = {NULL};
    struct vsw_ext_switch *binds[64];
    struct vsw_manager *mgr = mgr_;
    struct vsw_ext_handle *ext;
    struct vsw_ext_handle *nx;
    struct vsw_ext_handle **pp;
    const char *path = NULL;
    char msg[512];
    size_t n = 0;

    if (vsw_rpc_check_keys(params, keys, err) ||
        !(ext = get_ext(mgr, params, err)) ||
        vsw_rpc_get_string(params, "path", false, &path, err)) {
        return -1;
    }
    if (ext->state != MGR_EXT_READY) {
        return vsw_rpc_error(err, VSW_RPC_CONFLICT,
                             "extension '%s' is %s: `ext unload` it, then "
                             "`ext load` the new file",
                             ext->name, state_name(ext->state));
    }
    if (!path) {
        path = ext->path;
    }
    for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        struct vsw_ext_switch *b = binding_find(sw, ext);

        if (b && b->inst) {
            if (n == sizeof binds / sizeof *binds) {
                return vsw_rpc_error(err, VSW_RPC_CONFLICT,
                                     "extension '%s' runs on too many "
                                     "switches to reload",
                                     ext->name);
            }
            binds[n++] = b;
        }
    }
    nx = calloc(1, sizeof *nx);
    if (!nx) {
        return vsw_rpc_error(err, VSW_RPC_SYSTEM_ERROR, "out of memory");
    }
    if (vsw_ext_plugin_open(path, geteuid(), &nx->plugin, msg, sizeof msg)) {
        free(nx);
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS, "%s", msg);
    }
    nx->loaded = true;
    if (strcmp(nx->plugin.name, ext->name) ||
        nx->plugin.ext_class != ext->plugin.ext_class) {
        vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                      "%s: holds %s extension '%s', not %s extension '%s'",
                      path, vsw_ext_class_name(nx->plugin.ext_class),
                      nx->plugin.name,
                      vsw_ext_class_name(ext->plugin.ext_class), ext->name);
        vsw_ext_plugin_close(&nx->plugin);
        free(nx);
        return -1;
    }
    nx->mgr = mgr;
    nx->staging = true;
    snprintf(nx->name, sizeof nx->name, "%s", ext->name);
    snprintf(nx->path, sizeof nx->path, "%s", path);
    ext_host_note_mapping(nx);
    ext_initialise(nx);
    if (nx->state != MGR_EXT_READY) {
        vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                      "%s: the new version's init refused: %s; the old "
                      "one keeps running",
                      path, nx->error);
        reload_abandon(nx, insts, 0);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (reload_start(mgr, nx, binds[i], &insts[i], err)) {
            reload_abandon(nx, insts, i);
            return -1;
        }
    }

    /* The swap: every binding to its new instance, in one snapshot. */
    for (size_t i = 0; i < n; i++) {
        struct vsw_ext_switch *b = binds[i];
        struct replaced *r = malloc(sizeof *r);
        struct vsw_ext_totals t;

        vsw_ext_instance_totals(b->inst, &t);
        totals_add(&b->carried, &t);
        if (r) {
            r->ext = ext;
            r->inst = b->inst;
            mgr_retire(mgr, replaced_stop_cb, r);
        } else {
            VSW_ERR("out of memory: the old %s is never stopped on %s",
                    ext->name, b->sw->name);
        }
        b->inst = insts[i];
        binding_forget_ports(b);
        b->breaker_failures = 0;
        b->breaker_packets = 0;
    }
    for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        for (struct vsw_ext_switch *b = sw->exts; b; b = b->next) {
            if (b->ext == ext) {
                b->ext = nx;
            }
        }
    }
    for (pp = &mgr->exts; *pp != ext; pp = &(*pp)->next) {
        continue;
    }
    nx->next = ext->next;
    *pp = nx;
    ext->next = NULL;
    nx->kept_configs = ext->kept_configs;
    ext->kept_configs = NULL;
    /* The old version's timers live until its 'fini' (its 'stop' may
     * cancel them); its methods give way to the new one's now. */
    ext_host_forget_methods(ext, mgr->rpc);
    nx->staging = false;
    if (mgr->rpc) {
        ext_host_register_methods(nx, mgr->rpc);
    }
    /* Queued after the old instances' 'stop'. */
    mgr_retire(mgr, unload_fini_cb, ext);
    VSW_INFO("extension %s: %s replaced by %s from %s", nx->name,
             ext->plugin.version, nx->plugin.version, nx->path);
    if (mgr_commit(mgr, err)) {
        return -1;
    }
    *result = json_pack("{s:s, s:s, s:s}", "name", nx->name, "version",
                        nx->plugin.version, "state", state_name(nx->state));
    return 0;
}

/* ext.reset: closes the circuit breaker of the extension on the switch;
 * it goes on running with its configuration. */
static int
rpc_ext_reset(json_t *params, json_t **result, struct vsw_rpc_error *err,
              void *mgr_)
{
    static const char *const keys[] = {"switch", "name", NULL};
    struct vsw_manager *mgr = mgr_;
    struct vsw_ext_totals t;
    struct vsw_ext_switch *b;

    (void)result;
    if (vsw_rpc_check_keys(params, keys, err) ||
        !(b = get_binding(mgr, params, err))) {
        return -1;
    }
    if (!b->inst) {
        return vsw_rpc_error(err, VSW_RPC_CONFLICT,
                             "extension '%s' is not running on '%s' (it is "
                             "%s)",
                             b->ext->name, b->sw->name,
                             state_name(b->ext->state));
    }
    if (!b->tripped) {
        return 0;
    }
    /* Failures before the reset do not count against it. */
    vsw_ext_instance_totals(b->inst, &t);
    b->breaker_failures = t.aborted + t.refused + t.errors;
    b->breaker_packets = t.packets;
    b->tripped = false;
    VSW_INFO("extension %s on %s: circuit breaker closed", b->ext->name,
             b->sw->name);
    return mgr_commit(mgr, err);
}

/* ---- Port events (ABI 1.1) ---- */

/* FNV-1a over 'text'. */
static uint64_t
fingerprint_text(const char *text)
{
    uint64_t hash = 0xcbf29ce484222325u;

    for (; *text; text++) {
        hash = (hash ^ (uint8_t)*text) * 0x100000001b3u;
    }
    return hash;
}

/* What port_changed reports a change of: the port's settings and ACLs
 * as the configuration saves them, and whether its device is there. */
static uint64_t
port_fingerprint(const struct mgr_port *p)
{
    json_t *obj = json_pack("{s:o, s:b}", "settings",
                            mgr_port_settings_to_json(p), "device", !!p->rt);
    uint64_t hash = 0;
    char *text;

    if (!obj) {
        return 0;
    }
    mgr_acls_to_json(p, obj, false);
    text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
    if (text) {
        hash = fingerprint_text(text);
        free(text);
    }
    json_decref(obj);
    return hash;
}

/* Index of the port with id 'id' and name 'name' in 'seen', or -1. */
static long
seen_find(const struct ext_port_seen *seen, size_t n, uint32_t id,
          const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (seen[i].info.id == id && !strcmp(seen[i].info.name, name)) {
            return (long)i;
        }
    }
    return -1;
}

/* Calls one port callback of 'b''s extension, if it has it. */
static void
port_event(struct vsw_ext_switch *b,
           void (*cb)(void *, void *, const struct vsw_ext_port_info *),
           const struct vsw_ext_port_info *info)
{
    if (cb && b->inst) {
        ext_call_begin(b->ext);
        cb(b->ext->ext_data, b->inst->sw_data, info);
        ext_call_end();
    }
}

/* Tells the instance of 'b' what changed in its switch's ports since it
 * was last told (everything, the first time). */
static void
binding_announce_ports(struct vsw_ext_switch *b)
{
    const struct vsw_ext_ops *ops = &b->ext->plugin.ops;
    struct ext_port_seen *now;
    size_t n = 0;

    for (const struct mgr_port *p = b->sw->ports; p; p = p->next) {
        n++;
    }
    now = calloc(n ? n : 1, sizeof *now);
    if (!now) {
        VSW_ERR("out of memory: extension %s misses port events on %s",
                b->ext->name, b->sw->name);
        return;
    }
    n = 0;
    for (const struct mgr_port *p = b->sw->ports; p; p = p->next, n++) {
        ext_host_port_info(p, &now[n].info);
        now[n].fingerprint = port_fingerprint(p);
    }
    for (size_t i = 0; i < b->n_ports_seen; i++) {
        const struct ext_port_seen *old = &b->ports_seen[i];

        if (seen_find(now, n, old->info.id, old->info.name) < 0) {
            port_event(b, ops->port_removed, &old->info);
        }
    }
    for (size_t i = 0; i < n; i++) {
        long old = seen_find(b->ports_seen, b->n_ports_seen, now[i].info.id,
                             now[i].info.name);

        if (old < 0) {
            port_event(b, ops->port_added, &now[i].info);
        } else if (b->ports_seen[old].fingerprint != now[i].fingerprint) {
            port_event(b, ops->port_changed, &now[i].info);
        }
    }
    free(b->ports_seen);
    b->ports_seen = now;
    b->n_ports_seen = n;
}

/* See manager-private.h.  Only extensions with a port callback pay for
 * the comparison. */
void
mgr_ext_ports_published(struct vsw_manager *mgr)
{
    for (struct mgr_switch *sw = mgr->switches; sw; sw = sw->next) {
        for (struct vsw_ext_switch *b = sw->exts; b; b = b->next) {
            const struct vsw_ext_ops *ops = &b->ext->plugin.ops;

            if (b->inst && b->ext->state == MGR_EXT_READY &&
                (ops->port_added || ops->port_removed || ops->port_changed)) {
                binding_announce_ports(b);
            }
        }
    }
}

static const struct vsw_rpc_method ext_methods[] = {
    {"ext.load", rpc_ext_load, VSW_RPC_WRITES},
    {"ext.list", rpc_ext_list, VSW_RPC_READS},
    {"ext.enable", rpc_ext_enable, VSW_RPC_WRITES},
    {"ext.disable", rpc_ext_disable, VSW_RPC_WRITES},
    {"ext.config", rpc_ext_config, VSW_RPC_WRITES},
    {"ext.stats", rpc_ext_stats, VSW_RPC_READS},
    {"ext.unquarantine", rpc_ext_unquarantine, VSW_RPC_WRITES},
    {"ext.unload", rpc_ext_unload, VSW_RPC_WRITES},
    {"ext.reset", rpc_ext_reset, VSW_RPC_WRITES},
    {"ext.reload", rpc_ext_reload, VSW_RPC_WRITES},
};

/* Registers ext.* and the methods extensions registered before the
 * server existed. */
int
mgr_ext_register_rpc(struct vsw_manager *mgr, struct vsw_rpc_server *server)
{
    mgr->rpc = server;
    for (struct vsw_ext_handle *e = mgr->exts; e; e = e->next) {
        ext_host_register_methods(e, server);
    }
    return vsw_rpc_server_register(
        server, ext_methods, sizeof ext_methods / sizeof *ext_methods, mgr);
}
