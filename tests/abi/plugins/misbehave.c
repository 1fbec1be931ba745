/*
 * A filter that misbehaves on demand, for the daemon's containment tests:
 * built as misbehave_open.so ("misbehave-open", fail open) and
 * misbehave_closed.so ("misbehave-closed", VSW_EXT_F_FAIL_CLOSED).
 *
 * Per-switch configuration {"mode": M}, changeable with configure:
 *   "ok"           every packet CONTINUE (the default)
 *   "crash"        a write through NULL in 'process' (SIGSEGV in a
 *                  worker, to be attributed to this extension)
 *   "hang"         'process' sleeps for ever
 *   "abort_storm"  'process' writes no verdict (all stay ABORTED)
 *   "error_storm"  set_error() for every packet, verdict CONTINUE
 *
 * RPC "<name>.report" gives {"mode": M, "batches": n, "packets": n}.
 *
 * Also built as misbehave_capture.so and misbehave_forwarding.so (the
 * same behaviour in those classes, -DMISBEHAVE_CLASS; CONTINUE is a valid
 * verdict of every class) for the per-class crash tests, and as
 * misbehave_badinit.so: "misbehave-open" whose 'init' fails
 * (-DMISBEHAVE_FAIL_INIT), a broken new version to reload to.
 */
#include <vswitch/extension.h>

#include "plugin-util.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef MISBEHAVE_NAME
#error "build with -DMISBEHAVE_NAME=\"...\" -DMISBEHAVE_FLAGS=..."
#endif
#ifndef MISBEHAVE_CLASS
#define MISBEHAVE_CLASS VSW_EXT_CLASS_FILTER
#endif

/* What 'process' does. */
enum misbehave_mode {
    MODE_OK,
    MODE_CRASH,
    MODE_HANG,
    MODE_ABORT_STORM,
    MODE_ERROR_STORM,
};

static const char *const mode_names[] = {
    [MODE_OK] = "ok",
    [MODE_CRASH] = "crash",
    [MODE_HANG] = "hang",
    [MODE_ABORT_STORM] = "abort_storm",
    [MODE_ERROR_STORM] = "error_storm",
};

/* The plugin (ext_data). */
struct misbehave {
    struct vsw_ext_handle *h;        /* our name in host calls */
    const struct vsw_ext_host *host; /* the host's services */
    _Atomic int mode;                /* of the last switch configured */
    _Atomic uint64_t batches;        /* 'process' calls */
    _Atomic uint64_t packets;        /* packets seen */
};

/* Per switch (sw_data): just its mode. */
struct misbehave_switch {
    _Atomic int mode; /* enum misbehave_mode */
};

/* Parses {"mode": M} into '*mode'; -EINVAL after set_error() if M is not
 * a mode. */
static int
misbehave_parse(struct misbehave *m, const char *json, int *mode)
{
    char name[32];

    *mode = MODE_OK;
    if (!plug_json_value(json, "mode")) {
        return 0;
    }
    if (plug_json_string(json, "mode", name, sizeof name)) {
        for (size_t i = 0; i < sizeof mode_names / sizeof *mode_names; i++) {
            if (!strcmp(name, mode_names[i])) {
                *mode = (int)i;
                return 0;
            }
        }
    }
    m->host->set_error(m->h, "unknown mode in %s", json);
    return -EINVAL;
}

/* Enabled on a switch. */
static int
misbehave_start(void *ext_data, const struct vsw_ext_switch_info *info,
                const char *config_json, void **sw_data)
{
    struct misbehave *m = ext_data;
    struct misbehave_switch *ms;
    int mode;
    int error;

    (void)info;
    error = misbehave_parse(m, config_json, &mode);
    if (error) {
        return error;
    }
    ms = calloc(1, sizeof *ms);
    if (!ms) {
        return -ENOMEM;
    }
    atomic_init(&ms->mode, mode);
    atomic_store(&m->mode, mode);
    *sw_data = ms;
    return 0;
}

/* Disabled on a switch. */
static void
misbehave_stop(void *ext_data, void *sw_data)
{
    (void)ext_data;
    free(sw_data);
}

/* A new mode, effective from the next batch. */
static int
misbehave_configure(void *ext_data, void *sw_data, const char *config_json)
{
    struct misbehave *m = ext_data;
    struct misbehave_switch *ms = sw_data;
    int mode;
    int error;

    error = misbehave_parse(m, config_json, &mode);
    if (!error) {
        atomic_store(&ms->mode, mode);
        atomic_store(&m->mode, mode);
    }
    return error;
}

/* Misbehaves as the switch's mode says. */
static void
misbehave_process(void *ext_data, void *sw_data,
                  const struct vsw_ext_batch *batch)
{
    struct misbehave *m = ext_data;
    struct misbehave_switch *ms = sw_data;
    volatile int *volatile nowhere = NULL;

    atomic_fetch_add(&m->batches, 1);
    atomic_fetch_add(&m->packets, batch->count);
    switch (atomic_load(&ms->mode)) {
    case MODE_CRASH:
        /* Through a volatile pointer, so the compiler emits the store
         * (a real SIGSEGV), not a trap instruction. */
        *nowhere = 1;
        break;
    case MODE_HANG:
        for (;;) {
            sleep(1);
        }
    case MODE_ABORT_STORM:
        return;
    case MODE_ERROR_STORM:
        for (uint32_t i = 0; i < batch->count; i++) {
            m->host->set_error(m->h, "error storm");
        }
        break;
    default:
        break;
    }
    for (uint32_t i = 0; i < batch->count; i++) {
        batch->verdicts[i] = VSW_EXT_VERDICT_CONTINUE;
    }
}

/* RPC "<name>.report". */
static int
misbehave_report(void *ext_data, const char *params_json,
                 struct vsw_ext_reply *reply)
{
    struct misbehave *m = ext_data;
    char json[160];

    (void)params_json;
    snprintf(json, sizeof json,
             "{\"mode\":\"%s\",\"batches\":%llu,\"packets\":%llu}",
             mode_names[atomic_load(&m->mode)],
             (unsigned long long)atomic_load(&m->batches),
             (unsigned long long)atomic_load(&m->packets));
    return m->host->reply_set(reply, json);
}

/* Frees the plugin. */
static void
misbehave_fini(void *ext_data)
{
    free(ext_data);
}

static const struct vsw_ext_ops misbehave_ops = {
    .size = sizeof(struct vsw_ext_ops),
    .fini = misbehave_fini,
    .start = misbehave_start,
    .stop = misbehave_stop,
    .configure = misbehave_configure,
    .process = misbehave_process,
};

/* Registers the report method. */
static int
misbehave_init(struct vsw_ext_handle *h, const struct vsw_ext_host *host,
               void **ext_data)
{
    struct misbehave *m = calloc(1, sizeof *m);

    if (!m) {
        return -ENOMEM;
    }
    m->h = h;
    m->host = host;
    *ext_data = m;
#ifdef MISBEHAVE_FAIL_INIT
    /* A failed init gets no fini: free what it made. */
    free(m);
    *ext_data = NULL;
    host->set_error(h, "this build refuses to initialise");
    return -EINVAL;
#endif
    return host->rpc_register(h, MISBEHAVE_NAME ".report", misbehave_report,
                              m);
}

VSW_EXTENSION_DESCRIPTOR(MISBEHAVE_CLASS, MISBEHAVE_FLAGS, MISBEHAVE_NAME,
                         "1.0", "misbehaves on demand (containment tests)",
                         &misbehave_ops, misbehave_init);
