/*
 * static-forward: a forwarding extension for locked-down tenants.  The
 * switch forwards only between the MAC addresses an operator declared:
 *
 *   {"entries": [{"mac": "02:00:00:00:00:01", "port": "vm1"}, ...],
 *    "flood": true}
 *
 *   - a frame whose source MAC is not declared for the port it came from
 *     is dropped ("spoofed"; this covers ports with no entry at all);
 *   - a unicast frame to a declared MAC goes to that MAC's port only
 *     ("forwarded"); to any other MAC it is dropped ("unknown");
 *   - a broadcast or multicast frame goes to every declared port but its
 *     source when "flood" is true (the default; "flooded"), and is dropped
 *     otherwise ("flood_blocked"; neighbours then need static entries).
 * Nothing is learned, so the MAC table plays no part.  The built-in
 * policy still runs before (guards, ACLs) and after (the destination's
 * ACLs, VLAN tagging) the choice made here.
 *
 * Ports are named in the configuration and resolved to ids when it is
 * applied and again every second, so an entry follows its port when the
 * port is deleted and created again; an entry whose port does not exist
 * is inactive (it matches as if absent) and `static-forward.show` lists it
 * with port_id 0.
 *
 * The table the workers read is immutable: a change builds a new one,
 * publishes it with one atomic store and frees the old one through the
 * host's defer_free once no worker can still read it.  Counters are per
 * worker, so workers never write a shared cache line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <vswitch/extension.h>

/* Most entries one switch's configuration may declare. */
#define SF_MAX_ENTRIES 4096

/* Re-resolution of port names, in milliseconds. */
#define SF_RESOLVE_MS 1000

/* One declared MAC. */
struct sf_entry {
    uint64_t mac;  /* the 48-bit address, first octet most significant */
    uint32_t port; /* port id, or VSW_EXT_NO_PORT while it does not exist */
    char name[64]; /* the port's name as configured */
};

/* The table of one switch.  Never changed once published. */
struct sf_table {
    struct sf_entry *entries; /* in configuration order */
    uint32_t n_entries;       /* entries in use */
    uint32_t *slots;          /* hash of MACs: entry index + 1, 0 = empty */
    uint32_t mask;            /* slots - 1 (a power of two minus one) */
    uint32_t *ports;          /* distinct active ports, the flood set */
    uint32_t n_ports;         /* ports in use */
    bool flood;               /* flood broadcast and multicast */
};

/* Counters of one worker on one switch.  Only that worker writes them;
 * the main thread reads them for `ext stats`.  A cache line each. */
struct sf_counters {
    alignas(64) _Atomic uint64_t forwarded; /* unicast to a declared MAC */
    _Atomic uint64_t flooded;               /* broadcast/multicast sent */
    _Atomic uint64_t unknown;               /* unicast to another MAC */
    _Atomic uint64_t spoofed;               /* source MAC not declared for
                                               the source port */
    _Atomic uint64_t flood_blocked;         /* broadcast/multicast dropped
                                               with "flood": false */
    _Atomic uint64_t hairpin;               /* to a MAC of its own port */
};

struct static_forward;

/* The extension on one switch. */
struct sf_switch {
    struct static_forward *sf;        /* the extension */
    char name[64];                    /* the switch's name */
    _Atomic(struct sf_table *) table; /* what the workers read */
    struct sf_counters *counters;     /* one per worker */
    uint32_t n_workers;               /* entries of 'counters' */
    struct sf_switch *next;           /* next switch of the extension */
};

/* The extension. */
struct static_forward {
    struct vsw_ext_handle *h;        /* the host's handle of us */
    const struct vsw_ext_host *host; /* host services */
    struct sf_switch *switches;      /* every switch we are started on */
    struct vsw_ext_timer *resolve;   /* re-resolves port names */
};

/* Reads a 48-bit MAC at 'p' as an integer. */
static inline uint64_t
sf_mac_load(const uint8_t *p)
{
    uint64_t mac = 0;

    for (int i = 0; i < 6; i++) {
        mac = (mac << 8) | p[i];
    }
    return mac;
}

/* Hash slot of 'mac' in a table with 'mask'. */
static inline uint32_t
sf_mac_hash(uint64_t mac, uint32_t mask)
{
    return (uint32_t)((mac * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

/* Value of hex digit 'c', or -1. */
static int
sf_hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Parses "02:00:00:00:00:01" (or with '-') into '*mac'.  Returns 0 or
 * -EINVAL. */
static int
sf_mac_parse(const char *s, uint64_t *mac)
{
    if (strlen(s) != 17) {
        return -EINVAL;
    }
    *mac = 0;
    for (int i = 0; i < 6; i++) {
        int hi = sf_hex_digit(s[3 * i]);
        int lo = sf_hex_digit(s[3 * i + 1]);

        if (hi < 0 || lo < 0 ||
            (i < 5 && s[3 * i + 2] != ':' && s[3 * i + 2] != '-')) {
            return -EINVAL;
        }
        *mac = (*mac << 8) | (uint64_t)(hi << 4 | lo);
    }
    return 0;
}

/* Formats 'mac' into 'buf' (18 bytes). */
static void
sf_mac_format(uint64_t mac, char buf[18])
{
    snprintf(
        buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x",
        (unsigned int)(mac >> 40) & 0xff, (unsigned int)(mac >> 32) & 0xff,
        (unsigned int)(mac >> 24) & 0xff, (unsigned int)(mac >> 16) & 0xff,
        (unsigned int)(mac >> 8) & 0xff, (unsigned int)mac & 0xff);
}

/* Frees a table.  NULL is allowed.  Also the defer_free callback. */
static void
sf_table_free(void *table_)
{
    struct sf_table *table = table_;

    if (table) {
        free(table->entries);
        free(table->slots);
        free(table->ports);
        free(table);
    }
}

/* Returns the entry of 'mac' in 'table', or NULL.  Any thread. */
static const struct sf_entry *
sf_table_lookup(const struct sf_table *table, uint64_t mac)
{
    for (uint32_t i = sf_mac_hash(mac, table->mask);;
         i = (i + 1) & table->mask) {
        uint32_t slot = table->slots[i];

        if (!slot) {
            return NULL;
        }
        if (table->entries[slot - 1].mac == mac) {
            return &table->entries[slot - 1];
        }
    }
}

/* Fills the hash and the flood set of 'table' from its entries, whose
 * ports are resolved.  Returns 0 or -ENOMEM. */
static int
sf_table_index(struct sf_table *table)
{
    uint32_t n_slots = 8;

    while (n_slots < 2 * table->n_entries) {
        n_slots *= 2;
    }
    table->mask = n_slots - 1;
    table->slots = calloc(n_slots, sizeof *table->slots);
    table->ports = calloc(table->n_entries + 1, sizeof *table->ports);
    if (!table->slots || !table->ports) {
        return -ENOMEM;
    }
    for (uint32_t e = 0; e < table->n_entries; e++) {
        const struct sf_entry *entry = &table->entries[e];
        uint32_t i = sf_mac_hash(entry->mac, table->mask);
        bool seen = false;

        /* The sum of probes stays below n_slots: at most half are used. */
        while (table->slots[i]) {
            i = (i + 1) & table->mask;
        }
        if (entry->port != VSW_EXT_NO_PORT) {
            table->slots[i] = e + 1;
        }
        for (uint32_t p = 0; p < table->n_ports; p++) {
            seen = seen || table->ports[p] == entry->port;
        }
        if (!seen && entry->port != VSW_EXT_NO_PORT) {
            table->ports[table->n_ports++] = entry->port;
        }
    }
    return 0;
}

/* Resolves the port names of 'table''s entries to ids of switch 'ss'
 * (VSW_EXT_NO_PORT when absent or on another switch).  Returns true if
 * any id differs from 'old' (NULL: compared with nothing). */
static bool
sf_table_resolve(const struct sf_switch *ss, struct sf_table *table,
                 const struct sf_table *old)
{
    const struct static_forward *sf = ss->sf;
    bool changed = false;

    for (uint32_t e = 0; e < table->n_entries; e++) {
        struct sf_entry *entry = &table->entries[e];
        struct vsw_ext_port_info info;

        memset(&info, 0, sizeof info);
        info.size = sizeof info;
        entry->port = VSW_EXT_NO_PORT;
        if (!sf->host->port_lookup(sf->h, entry->name, 0, &info) &&
            !strcmp(info.switch_name, ss->name)) {
            entry->port = info.id;
        }
        if (!old || old->entries[e].port != entry->port) {
            changed = true;
        }
    }
    return changed;
}

/* Builds a table for switch 'ss' from configuration 'config_json'.
 * Returns it (owned by the caller) or NULL after set_error(). */
static struct sf_table *
sf_table_from_config(struct sf_switch *ss, const char *config_json)
{
    const struct static_forward *sf = ss->sf;
    struct sf_table *table = NULL;
    json_error_t jerr;
    json_t *config = json_loads(config_json, 0, &jerr);
    json_t *entries, *flood, *item;
    const char *key;
    json_t *value;
    size_t i;

    if (!json_is_object(config)) {
        sf->host->set_error(sf->h, "configuration is not a JSON object");
        goto fail;
    }
    json_object_foreach(config, key, value)
    {
        if (strcmp(key, "entries") && strcmp(key, "flood")) {
            sf->host->set_error(sf->h, "unknown key \"%s\" (entries, flood)",
                                key);
            goto fail;
        }
    }
    entries = json_object_get(config, "entries");
    flood = json_object_get(config, "flood");
    if (entries && !json_is_array(entries)) {
        sf->host->set_error(sf->h, "\"entries\" is not an array");
        goto fail;
    }
    if (flood && !json_is_boolean(flood)) {
        sf->host->set_error(sf->h, "\"flood\" is not true or false");
        goto fail;
    }
    if (json_array_size(entries) > SF_MAX_ENTRIES) {
        sf->host->set_error(sf->h, "more than %d entries", SF_MAX_ENTRIES);
        goto fail;
    }
    table = calloc(1, sizeof *table);
    if (!table) {
        goto nomem;
    }
    table->flood = !flood || json_is_true(flood);
    table->entries =
        calloc(json_array_size(entries) + 1, sizeof *table->entries);
    if (!table->entries) {
        goto nomem;
    }
    json_array_foreach(entries, i, item)
    {
        struct sf_entry *entry = &table->entries[table->n_entries];
        const char *mac = json_string_value(json_object_get(item, "mac"));
        const char *port = json_string_value(json_object_get(item, "port"));

        if (!json_is_object(item) || json_object_size(item) != 2 || !mac ||
            !port) {
            sf->host->set_error(sf->h,
                                "entry %zu: want {\"mac\": \"..\", "
                                "\"port\": \"..\"} and nothing else",
                                i);
            goto fail;
        }
        if (sf_mac_parse(mac, &entry->mac)) {
            sf->host->set_error(sf->h, "entry %zu: bad MAC \"%s\"", i, mac);
            goto fail;
        }
        if ((entry->mac >> 40) & 1 || !entry->mac) {
            sf->host->set_error(
                sf->h, "entry %zu: %s is not a unicast address", i, mac);
            goto fail;
        }
        if (!*port || strlen(port) >= sizeof entry->name) {
            sf->host->set_error(sf->h, "entry %zu: bad port name", i);
            goto fail;
        }
        for (uint32_t e = 0; e < table->n_entries; e++) {
            if (table->entries[e].mac == entry->mac) {
                sf->host->set_error(sf->h, "entry %zu: %s is listed twice", i,
                                    mac);
                goto fail;
            }
        }
        strcpy(entry->name, port);
        table->n_entries++;
    }
    sf_table_resolve(ss, table, NULL);
    for (uint32_t e = 0; e < table->n_entries; e++) {
        if (table->entries[e].port == VSW_EXT_NO_PORT) {
            sf->host->log(sf->h, VSW_EXT_LOG_WARN,
                          "switch %s: no port %s yet; its entries wait for "
                          "it",
                          ss->name, table->entries[e].name);
        }
    }
    if (sf_table_index(table)) {
        goto nomem;
    }
    json_decref(config);
    return table;

nomem:
    sf->host->set_error(sf->h, "out of memory");
fail:
    json_decref(config);
    sf_table_free(table);
    return NULL;
}

/* Makes a copy of 'old' with its ports resolved again, if any changed.
 * Returns the copy, or NULL if nothing changed or memory ran out. */
static struct sf_table *
sf_table_refresh(struct sf_switch *ss, const struct sf_table *old)
{
    struct sf_table *table = calloc(1, sizeof *table);

    if (!table) {
        return NULL;
    }
    table->flood = old->flood;
    table->n_entries = old->n_entries;
    table->entries = calloc(old->n_entries + 1, sizeof *table->entries);
    if (!table->entries) {
        sf_table_free(table);
        return NULL;
    }
    memcpy(table->entries, old->entries,
           old->n_entries * sizeof *table->entries);
    if (!sf_table_resolve(ss, table, old) || sf_table_index(table)) {
        sf_table_free(table);
        return NULL;
    }
    return table;
}

/* Publishes 'table' on 'ss' and hands the table it replaces to the host,
 * to be freed once no worker can read it. */
static void
sf_switch_publish(struct sf_switch *ss, struct sf_table *table)
{
    struct sf_table *old =
        atomic_exchange_explicit(&ss->table, table, memory_order_acq_rel);

    if (old) {
        ss->sf->host->defer_free(ss->sf->h, sf_table_free, old);
    }
}

/* Timer: follows ports deleted and created again. */
static void
sf_resolve_tick(void *sf_)
{
    struct static_forward *sf = sf_;

    for (struct sf_switch *ss = sf->switches; ss; ss = ss->next) {
        struct sf_table *table = sf_table_refresh(
            ss, atomic_load_explicit(&ss->table, memory_order_acquire));

        if (table) {
            sf->host->log(sf->h, VSW_EXT_LOG_INFO,
                          "switch %s: port ids changed, table updated",
                          ss->name);
            sf_switch_publish(ss, table);
        }
    }
}

/* Adds 'n' to counter 'c', which only the calling worker writes. */
static inline void
sf_count(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* Decides packet 'i' of 'batch' with 'table'; counts in 'c'. */
static uint32_t
sf_decide(const struct static_forward *sf, const struct sf_table *table,
          const struct vsw_ext_batch *batch, uint32_t i, struct sf_counters *c)
{
    const struct vsw_ext_packet *pkt = batch->pkts[i];
    const struct sf_entry *src, *dst;
    uint64_t dst_mac;
    uint32_t added = 0;

    if (pkt->len < 14) {
        sf_count(&c->spoofed, 1);
        return VSW_EXT_VERDICT_DROP;
    }
    src = sf_table_lookup(table, sf_mac_load(pkt->data + 6));
    if (!src || src->port != pkt->in_port) {
        sf_count(&c->spoofed, 1);
        return VSW_EXT_VERDICT_DROP;
    }
    if (pkt->data[0] & 1) {
        if (!table->flood) {
            sf_count(&c->flood_blocked, 1);
            return VSW_EXT_VERDICT_DROP;
        }
        for (uint32_t p = 0; p < table->n_ports; p++) {
            if (table->ports[p] != pkt->in_port &&
                !sf->host->add_destination(batch, i, table->ports[p])) {
                added++;
            }
        }
        if (!added) {
            sf_count(&c->flood_blocked, 1);
            return VSW_EXT_VERDICT_DROP;
        }
        sf_count(&c->flooded, 1);
        return VSW_EXT_VERDICT_FORWARD;
    }
    dst_mac = sf_mac_load(pkt->data);
    dst = sf_table_lookup(table, dst_mac);
    if (!dst) {
        sf_count(&c->unknown, 1);
        return VSW_EXT_VERDICT_DROP;
    }
    if (dst->port == pkt->in_port) {
        sf_count(&c->hairpin, 1);
        return VSW_EXT_VERDICT_DROP;
    }
    if (sf->host->add_destination(batch, i, dst->port)) {
        /* The port left the switch since the table was resolved. */
        sf_count(&c->unknown, 1);
        return VSW_EXT_VERDICT_DROP;
    }
    sf_count(&c->forwarded, 1);
    return VSW_EXT_VERDICT_FORWARD;
}

/* Worker: chooses the destinations of an ingress batch. */
static void
sf_process(void *ext_data, void *sw_data, const struct vsw_ext_batch *batch)
{
    const struct static_forward *sf = ext_data;
    struct sf_switch *ss = sw_data;
    const struct sf_table *table =
        atomic_load_explicit(&ss->table, memory_order_acquire);

    if (batch->worker >= ss->n_workers) {
        /* Verdicts stay ABORTED: the host broke its contract. */
        sf->host->set_error(sf->h, "worker %u of %u", batch->worker,
                            ss->n_workers);
        return;
    }
    for (uint32_t i = 0; i < batch->count; i++) {
        batch->verdicts[i] =
            sf_decide(sf, table, batch, i, &ss->counters[batch->worker]);
    }
}

/* Frees a switch's state.  NULL is allowed. */
static void
sf_switch_free(struct sf_switch *ss)
{
    if (ss) {
        sf_table_free(atomic_load(&ss->table));
        free(ss->counters);
        free(ss);
    }
}

/* Enabled on a switch: builds its table from 'config_json'. */
static int
sf_start(void *ext_data, const struct vsw_ext_switch_info *sw,
         const char *config_json, void **sw_data)
{
    struct static_forward *sf = ext_data;
    struct sf_switch *ss = calloc(1, sizeof *ss);
    struct sf_table *table;
    uint32_t n_workers = sw->n_workers ? sw->n_workers : 1;

    if (!ss) {
        sf->host->set_error(sf->h, "out of memory");
        return -ENOMEM;
    }
    ss->sf = sf;
    snprintf(ss->name, sizeof ss->name, "%s", sw->name);
    ss->n_workers = n_workers;
    ss->counters =
        aligned_alloc(alignof(struct sf_counters),
                      (size_t)n_workers * sizeof(struct sf_counters));
    if (!ss->counters) {
        sf->host->set_error(sf->h, "out of memory");
        sf_switch_free(ss);
        return -ENOMEM;
    }
    memset(ss->counters, 0, (size_t)n_workers * sizeof *ss->counters);
    table = sf_table_from_config(ss, config_json);
    if (!table) {
        sf_switch_free(ss);
        return -EINVAL;
    }
    atomic_init(&ss->table, table);
    ss->next = sf->switches;
    sf->switches = ss;
    *sw_data = ss;
    return 0;
}

/* Disabled on a switch: no worker runs 'process' for it any more. */
static void
sf_stop(void *ext_data, void *sw_data)
{
    struct static_forward *sf = ext_data;
    struct sf_switch *ss = sw_data;

    for (struct sf_switch **p = &sf->switches; *p; p = &(*p)->next) {
        if (*p == ss) {
            *p = ss->next;
            break;
        }
    }
    sf_switch_free(ss);
}

/* A new configuration: a new table, or an error and the old one stays. */
static int
sf_configure(void *ext_data, void *sw_data, const char *config_json)
{
    struct sf_switch *ss = sw_data;
    struct sf_table *table = sf_table_from_config(ss, config_json);

    (void)ext_data;
    if (!table) {
        return -EINVAL;
    }
    sf_switch_publish(ss, table);
    return 0;
}

/* `ext stats`: the sums of the workers' counters. */
static int
sf_stats(void *ext_data, void *sw_data, struct vsw_ext_reply *reply)
{
    const struct static_forward *sf = ext_data;
    const struct sf_switch *ss = sw_data;
    uint64_t sum[6] = {0};
    char json[256];

    for (uint32_t w = 0; w < ss->n_workers; w++) {
        const struct sf_counters *c = &ss->counters[w];

        sum[0] += atomic_load_explicit(&c->forwarded, memory_order_relaxed);
        sum[1] += atomic_load_explicit(&c->flooded, memory_order_relaxed);
        sum[2] += atomic_load_explicit(&c->unknown, memory_order_relaxed);
        sum[3] += atomic_load_explicit(&c->spoofed, memory_order_relaxed);
        sum[4] +=
            atomic_load_explicit(&c->flood_blocked, memory_order_relaxed);
        sum[5] += atomic_load_explicit(&c->hairpin, memory_order_relaxed);
    }
    snprintf(json, sizeof json,
             "{\"forwarded\":%" PRIu64 ",\"flooded\":%" PRIu64
             ",\"unknown\":%" PRIu64 ",\"spoofed\":%" PRIu64
             ",\"flood_blocked\":%" PRIu64 ",\"hairpin\":%" PRIu64 "}",
             sum[0], sum[1], sum[2], sum[3], sum[4], sum[5]);
    return sf->host->reply_set(reply, json);
}

/* RPC static-forward.show {}: every switch's table with port ids. */
static int
sf_rpc_show(void *sf_, const char *params_json, struct vsw_ext_reply *reply)
{
    struct static_forward *sf = sf_;
    json_t *result = json_object();
    json_t *switches = json_array();
    char *text = NULL;
    int error = -ENOMEM;

    (void)params_json;
    if (!result || !switches ||
        json_object_set_new(result, "switches", switches)) {
        goto out;
    }
    for (const struct sf_switch *ss = sf->switches; ss; ss = ss->next) {
        const struct sf_table *table =
            atomic_load_explicit(&ss->table, memory_order_acquire);
        json_t *entries = json_array();
        json_t *sw = json_pack("{s:s, s:b, s:o*}", "switch", ss->name, "flood",
                               table->flood, "entries", entries);

        if (!sw || json_array_append_new(switches, sw)) {
            json_decref(sw);
            goto out;
        }
        for (uint32_t e = 0; e < table->n_entries; e++) {
            const struct sf_entry *entry = &table->entries[e];
            char mac[18];

            sf_mac_format(entry->mac, mac);
            if (json_array_append_new(entries,
                                      json_pack("{s:s, s:s, s:I}", "mac", mac,
                                                "port", entry->name, "port_id",
                                                (json_int_t)entry->port))) {
                goto out;
            }
        }
    }
    text = json_dumps(result, JSON_COMPACT);
    error = text ? sf->host->reply_set(reply, text) : -ENOMEM;
out:
    if (error) {
        sf->host->set_error(sf->h, "out of memory");
    }
    free(text);
    json_decref(result);
    return error;
}

/* Called once when the daemon shuts down. */
static void
sf_fini(void *ext_data)
{
    struct static_forward *sf = ext_data;

    sf->host->timer_cancel(sf->resolve);
    while (sf->switches) {
        struct sf_switch *ss = sf->switches;

        sf->switches = ss->next;
        sf_switch_free(ss);
    }
    free(sf);
}

/* Called once after the host checked the plugin. */
static int
sf_init(struct vsw_ext_handle *h, const struct vsw_ext_host *host,
        void **ext_data)
{
    struct static_forward *sf = calloc(1, sizeof *sf);
    int error;

    if (!sf) {
        host->set_error(h, "out of memory");
        return -ENOMEM;
    }
    sf->h = h;
    sf->host = host;
    sf->resolve = host->timer_add(h, SF_RESOLVE_MS, 1, sf_resolve_tick, sf);
    if (!sf->resolve) {
        host->set_error(h, "cannot add a timer");
        free(sf);
        return -ENOMEM;
    }
    /* Last: once registered, the method may be called with 'sf'. */
    error = host->rpc_register(h, "static-forward.show", sf_rpc_show, sf);
    if (error) {
        host->set_error(h, "cannot register static-forward.show");
        host->timer_cancel(sf->resolve);
        free(sf);
        return error;
    }
    *ext_data = sf;
    return 0;
}

static const struct vsw_ext_ops sf_ops = {
    .size = sizeof(struct vsw_ext_ops),
    .fini = sf_fini,
    .start = sf_start,
    .stop = sf_stop,
    .configure = sf_configure,
    .process = sf_process,
    .stats = sf_stats,
};

VSW_EXTENSION_DESCRIPTOR(VSW_EXT_CLASS_FORWARDING, VSW_EXT_F_FAIL_CLOSED,
                         "static-forward", "1.0",
                         "forwards only between declared MACs and ports",
                         &sf_ops, sf_init);
