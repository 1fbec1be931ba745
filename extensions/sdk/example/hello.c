/*
 * hello: the smallest useful vswitch extension.  A capture extension that
 * counts the packets and bytes entering each switch it is enabled on and
 * shows them in `vswitch-ctl ext stats hello`.  The tutorial in
 * docs/extensions.md builds it from an empty directory.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <vswitch/extension.h>

/* What the extension keeps for its whole life. */
struct hello {
    struct vsw_ext_handle *h;        /* the host's name for us */
    const struct vsw_ext_host *host; /* host services */
};

/* One switch hello is enabled on.  Workers add to the counters at once,
 * so they are atomics; relaxed order is enough for statistics. */
struct hello_switch {
    _Atomic uint64_t packets; /* ingress packets seen */
    _Atomic uint64_t bytes;   /* their bytes */
};

/* Called once after the host checked the plugin: keep the host table. */
static int
hello_init(struct vsw_ext_handle *h, const struct vsw_ext_host *host,
           void **ext_data)
{
    struct hello *hello = calloc(1, sizeof *hello);

    if (!hello) {
        return -ENOMEM;
    }
    hello->h = h;
    hello->host = host;
    *ext_data = hello;
    return 0;
}

/* The daemon shuts down. */
static void
hello_fini(void *ext_data)
{
    free(ext_data);
}

/* Enabled on a switch: counters of its own. */
static int
hello_start(void *ext_data, const struct vsw_ext_switch_info *sw,
            const char *config_json, void **sw_data)
{
    struct hello *hello = ext_data;
    struct hello_switch *hs = calloc(1, sizeof *hs);

    (void)config_json;
    if (!hs) {
        return -ENOMEM;
    }
    hello->host->log(hello->h, VSW_EXT_LOG_INFO, "hello, switch %s", sw->name);
    *sw_data = hs;
    return 0;
}

/* Disabled: no 'process' call is running any more. */
static void
hello_stop(void *ext_data, void *sw_data)
{
    (void)ext_data;
    free(sw_data);
}

/* Worker: counts ingress packets and lets every packet through. */
static void
hello_process(void *ext_data, void *sw_data, const struct vsw_ext_batch *batch)
{
    struct hello_switch *hs = sw_data;
    uint64_t bytes = 0;

    (void)ext_data;
    for (uint32_t i = 0; i < batch->count; i++) {
        bytes += batch->pkts[i]->len;
        batch->verdicts[i] = VSW_EXT_VERDICT_CONTINUE;
    }
    if (batch->direction == VSW_EXT_DIR_INGRESS) {
        atomic_fetch_add_explicit(&hs->packets, batch->count,
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&hs->bytes, bytes, memory_order_relaxed);
    }
}

/* `ext stats`: the counters as a JSON object. */
static int
hello_stats(void *ext_data, void *sw_data, struct vsw_ext_reply *reply)
{
    struct hello *hello = ext_data;
    struct hello_switch *hs = sw_data;
    char json[128];

    snprintf(json, sizeof json,
             "{\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 "}",
             atomic_load_explicit(&hs->packets, memory_order_relaxed),
             atomic_load_explicit(&hs->bytes, memory_order_relaxed));
    return hello->host->reply_set(reply, json);
}

static const struct vsw_ext_ops hello_ops = {
    .size = sizeof(struct vsw_ext_ops),
    .fini = hello_fini,
    .start = hello_start,
    .stop = hello_stop,
    .process = hello_process,
    .stats = hello_stats,
};

VSW_EXTENSION_DESCRIPTOR(VSW_EXT_CLASS_CAPTURE, 0, "hello", "1.0",
                         "counts the packets entering a switch", &hello_ops,
                         hello_init);
