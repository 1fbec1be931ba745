/* The settings engine: see settings.h. */
#include "settings.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "vlan.h"

/* ---- Reading and writing a member of the settings struct ---- */

static void *
member(void *cfg, const struct vsw_setting *s)
{
    return (char *)cfg + s->offset;
}

static const void *
member_const(const void *cfg, const struct vsw_setting *s)
{
    return (const char *)cfg + s->offset;
}

/* Stores 'value' in an unsigned member of 1, 2, 4 or 8 bytes (an enum is
 * int-sized, a two-name enum may live in a bool). */
static void
store_uint(void *cfg, const struct vsw_setting *s, uint64_t value)
{
    void *p = member(cfg, s);

    switch (s->size) {
    case 1: {
        uint8_t v = (uint8_t)value;

        memcpy(p, &v, 1);
        break;
    }
    case 2: {
        uint16_t v = (uint16_t)value;

        memcpy(p, &v, 2);
        break;
    }
    case 4: {
        uint32_t v = (uint32_t)value;

        memcpy(p, &v, 4);
        break;
    }
    default:
        memcpy(p, &value, 8);
        break;
    }
}

static uint64_t
load_uint(const void *cfg, const struct vsw_setting *s)
{
    const void *p = member_const(cfg, s);

    switch (s->size) {
    case 1: {
        uint8_t v;

        memcpy(&v, p, 1);
        return v;
    }
    case 2: {
        uint16_t v;

        memcpy(&v, p, 2);
        return v;
    }
    case 4: {
        uint32_t v;

        memcpy(&v, p, 4);
        return v;
    }
    default: {
        uint64_t v;

        memcpy(&v, p, 8);
        return v;
    }
    }
}

/* ---- Bit rates, IP lists, names ---- */

int
vsw_bit_rate_parse(const char *text, uint64_t *bps)
{
    static const struct {
        char suffix;
        double factor;
    } units[] = {{'k', 1e3}, {'K', 1e3}, {'M', 1e6}, {'G', 1e9}, {'T', 1e12}};
    double factor = 1;
    double value;
    char *end;

    /* strtod() would take spaces, signs, hex, exponents, "inf" and
     * "nan". */
    if (!text[0] || !strchr("0123456789", text[0]) ||
        text[strspn(text, "0123456789.kKMGT")]) {
        return -EINVAL;
    }
    value = strtod(text, &end);
    if (end == text) {
        return -EINVAL;
    }
    if (*end) {
        size_t i;

        for (i = 0; i < sizeof units / sizeof *units; i++) {
            if (*end == units[i].suffix) {
                factor = units[i].factor;
                break;
            }
        }
        if (i == sizeof units / sizeof *units || end[1]) {
            return -EINVAL;
        }
    }
    value *= factor;
    if (value >= 18446744073709551616.0) {
        return -ERANGE;
    }
    if (value != (double)(uint64_t)value) {
        return -ERANGE;
    }
    *bps = (uint64_t)value;
    return 0;
}

void
vsw_bit_rate_format(uint64_t bps, char *buf, size_t size)
{
    static const char suffixes[] = "kMGT";
    int unit = -1;

    while (bps && unit < 3 && bps % 1000 == 0) {
        bps /= 1000;
        unit++;
    }
    if (unit < 0) {
        snprintf(buf, size, "%" PRIu64, bps);
    } else {
        snprintf(buf, size, "%" PRIu64 "%c", bps, suffixes[unit]);
    }
}

/* Copies the comma-separated list 'text' into 'copy' (of 'size' bytes)
 * for strtok_r().  Returns 0, or -EINVAL with the reason in 'why' when it
 * does not fit or has an empty item. */
static int
comma_list_copy(const char *text, char *copy, size_t size, char *why,
                size_t why_size)
{
    size_t len = strlen(text);

    if (len >= size) {
        snprintf(why, why_size, "too long");
        return -EINVAL;
    }
    if (text[0] == ',' || strstr(text, ",,") ||
        (len && text[len - 1] == ',')) {
        snprintf(why, why_size, "empty item in '%s'", text);
        return -EINVAL;
    }
    memcpy(copy, text, len + 1);
    return 0;
}

int
vsw_ip_list_parse(const char *text, struct vsw_setting_ip_list *list,
                  char *why, size_t why_size)
{
    char copy[VSW_SETTING_MAX_IPS * 48];
    char *save = NULL;
    unsigned n = 0;

    if (comma_list_copy(text, copy, sizeof copy, why, why_size)) {
        return -EINVAL;
    }
    for (char *item = strtok_r(copy, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        uint8_t *addr;

        if (n == VSW_SETTING_MAX_IPS) {
            snprintf(why, why_size, "at most %d addresses",
                     VSW_SETTING_MAX_IPS);
            return -EINVAL;
        }
        addr = list->addr[n];
        /* IPv4 is kept IPv4-mapped, as the parser reports it. */
        memset(addr, 0, 16);
        if (inet_pton(AF_INET, item, addr + 12) == 1) {
            addr[10] = addr[11] = 0xff;
        } else if (inet_pton(AF_INET6, item, addr) != 1) {
            snprintf(why, why_size, "'%s' is not an IPv4 or IPv6 address",
                     item);
            return -EINVAL;
        }
        n++;
    }
    list->n = n;
    return 0;
}

int
vsw_vtep_list_parse(const char *text, struct vsw_setting_vtep_list *list,
                    char *why, size_t why_size)
{
    char copy[VSW_SETTING_MAX_VTEPS * 32];
    char *save = NULL;
    unsigned n = 0;

    if (comma_list_copy(text, copy, sizeof copy, why, why_size)) {
        return -EINVAL;
    }
    for (char *item = strtok_r(copy, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(item, ':');
        char *end = NULL;
        unsigned long vni;
        struct in_addr ip;

        if (n == VSW_SETTING_MAX_VTEPS) {
            snprintf(why, why_size, "at most %d remotes",
                     VSW_SETTING_MAX_VTEPS);
            return -EINVAL;
        }
        if (!colon || colon == item || item[0] < '0' || item[0] > '9') {
            snprintf(why, why_size, "'%s' is not VNI:IPv4-address", item);
            return -EINVAL;
        }
        *colon = '\0';
        errno = 0;
        vni = strtoul(item, &end, 10);
        if (errno || *end || vni < 1 || vni > 16777215) {
            snprintf(why, why_size, "VNI '%s' is not in 1..16777215", item);
            return -EINVAL;
        }
        if (inet_pton(AF_INET, colon + 1, &ip) != 1 || !ip.s_addr ||
            ip.s_addr == INADDR_BROADCAST || IN_MULTICAST(ntohl(ip.s_addr))) {
            snprintf(why, why_size,
                     "'%s' is not a unicast IPv4 address (the underlay is "
                     "IPv4)",
                     colon + 1);
            return -EINVAL;
        }
        list->vtep[n].vni = (uint32_t)vni;
        list->vtep[n].ip = ip.s_addr;
        n++;
    }
    list->n = n;
    return 0;
}

/* Formats 'list' as vsw_vtep_list_parse() reads it. */
static void
vtep_list_format(const struct vsw_setting_vtep_list *list, char *buf,
                 size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    for (unsigned i = 0; i < list->n && len < size; i++) {
        char text[INET_ADDRSTRLEN];
        struct in_addr ip = {list->vtep[i].ip};

        inet_ntop(AF_INET, &ip, text, sizeof text);
        len += (size_t)snprintf(buf + len, size - len, "%s%" PRIu32 ":%s",
                                i ? "," : "", list->vtep[i].vni, text);
    }
}

/* Formats 'list' as vsw_ip_list_parse() reads it. */
static void
ip_list_format(const struct vsw_setting_ip_list *list, char *buf, size_t size)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
                                       0, 0, 0, 0, 0xff, 0xff};
    size_t len = 0;

    buf[0] = '\0';
    for (unsigned i = 0; i < list->n && len < size; i++) {
        const uint8_t *a = list->addr[i];
        char text[INET6_ADDRSTRLEN];

        if (!memcmp(a, mapped, sizeof mapped)) {
            inet_ntop(AF_INET, a + 12, text, sizeof text);
        } else {
            inet_ntop(AF_INET6, a, text, sizeof text);
        }
        len += snprintf(buf + len, size - len, "%s%s", i ? "," : "", text);
    }
}

int
vsw_mac_parse(const char *text, uint8_t mac[6])
{
    unsigned int b[6];
    char extra;

    if (sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
               &b[4], &b[5], &extra) != 6 ||
        strlen(text) != 17) {
        return -EINVAL;
    }
    for (int i = 0; i < 6; i++) {
        mac[i] = (uint8_t)b[i];
    }
    return 0;
}

void
vsw_mac_format(const uint8_t mac[6], char buf[18])
{
    snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
             mac[3], mac[4], mac[5]);
}

/* True if 'name' can name a network interface: what the kernel takes. */
static bool
ifname_is_valid(const char *name)
{
    return name[0] && strlen(name) < IFNAMSIZ && !strchr(name, '/') &&
           !strchr(name, ' ') && strcmp(name, ".") && strcmp(name, "..");
}

/* Parses "eth1,eth2" into 'list': 1 to VSW_SETTING_MAX_IFNAMES valid,
 * distinct names.  Returns 0, or fills 'why' and returns -EINVAL. */
static int
ifname_list_parse(const char *text, struct vsw_setting_ifname_list *list,
                  char *why, size_t why_size)
{
    const char *p = text;

    memset(list, 0, sizeof *list);
    for (;;) {
        size_t len = strcspn(p, ",");
        char name[IFNAMSIZ + 1];

        if (!len || len >= IFNAMSIZ) {
            snprintf(why, why_size,
                     "'%.40s' is not a list of interface names such as "
                     "eth1,eth2 (each 1-15 characters)",
                     text);
            return -EINVAL;
        }
        memcpy(name, p, len);
        name[len] = '\0';
        if (!ifname_is_valid(name)) {
            snprintf(why, why_size, "'%s' is not a valid interface name",
                     name);
            return -EINVAL;
        }
        for (unsigned i = 0; i < list->n; i++) {
            if (!strcmp(list->names[i], name)) {
                snprintf(why, why_size, "%s is named twice", name);
                return -EINVAL;
            }
        }
        if (list->n == VSW_SETTING_MAX_IFNAMES) {
            snprintf(why, why_size, "at most %d interfaces",
                     VSW_SETTING_MAX_IFNAMES);
            return -EINVAL;
        }
        memcpy(list->names[list->n++], name, len + 1);
        if (!p[len]) {
            return 0;
        }
        p += len + 1;
    }
}

size_t
vsw_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a);
    size_t lb = strlen(b);
    size_t d[33][33];

    /* Keys are short; longer words are simply far from everything. */
    if (la > 32 || lb > 32) {
        return SIZE_MAX;
    }
    for (size_t i = 0; i <= la; i++) {
        d[i][0] = i;
    }
    for (size_t j = 0; j <= lb; j++) {
        d[0][j] = j;
    }
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t best = d[i - 1][j - 1] + cost;

            if (d[i - 1][j] + 1 < best) {
                best = d[i - 1][j] + 1;
            }
            if (d[i][j - 1] + 1 < best) {
                best = d[i][j - 1] + 1;
            }
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
                a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best) {
                best = d[i - 2][j - 2] + 1;
            }
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

/* ---- Lookups ---- */

/* Returns the row of 'key' in 'kind', or NULL. */
static const struct vsw_setting *
setting_lookup(const struct vsw_settings_kind *kind, const char *key)
{
    for (size_t i = 0; i < kind->n_settings; i++) {
        if (!strcmp(kind->settings[i].key, key)) {
            return &kind->settings[i];
        }
    }
    return NULL;
}

/* True if 'key' is in the NULL-terminated 'keys' (may be NULL). */
static bool
key_in(const char *const *keys, const char *key)
{
    for (size_t i = 0; keys && keys[i]; i++) {
        if (!strcmp(keys[i], key)) {
            return true;
        }
    }
    return false;
}

/* True if some row depends on 'key': it selects a mode. */
static bool
is_mode_key(const struct vsw_settings_kind *kind, const char *key)
{
    for (size_t i = 0; i < kind->n_settings; i++) {
        const char *when = kind->settings[i].when_key;

        if (when && !strcmp(when, key)) {
            return true;
        }
    }
    return false;
}

/* True if 'setting' applies to 'cfg' (its mode). */
static bool
setting_applies(const struct vsw_settings_kind *kind,
                const struct vsw_setting *setting, const void *cfg)
{
    const struct vsw_setting *mode;

    if (!setting->when_key) {
        return true;
    }
    mode = setting_lookup(kind, setting->when_key);
    return mode && (setting->when_values >> load_uint(cfg, mode)) & 1;
}

/* Writes "vlan-mode=trunk" or "vlan-mode=pvlan-isolated, pvlan-community
 * or pvlan-promiscuous": where 'setting' applies. */
static void
format_when(const struct vsw_settings_kind *kind,
            const struct vsw_setting *setting, char *buf, size_t size)
{
    const struct vsw_setting *mode = setting_lookup(kind, setting->when_key);
    unsigned n = __builtin_popcount(setting->when_values);
    unsigned done = 0;
    size_t len;

    len = (size_t)snprintf(buf, size, "%s=", setting->when_key);
    for (unsigned i = 0; mode->names[i] && len < size; i++) {
        if (!((setting->when_values >> i) & 1)) {
            continue;
        }
        done++;
        len += (size_t)snprintf(buf + len, size - len, "%s%s",
                                done == 1   ? ""
                                : done == n ? " or "
                                            : ", ",
                                mode->names[i]);
    }
}

/* ---- Values ---- */

static int
error_integer(const struct vsw_setting *s, struct vsw_rpc_error *err)
{
    return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                         "parameter '%s' must be an integer between %lld "
                         "and %lld",
                         s->key, s->min, s->max);
}

/* Stores 'value' in setting 's' of 'cfg', or refuses it, naming the
 * key. */
static int
setting_parse(const struct vsw_setting *s, void *cfg, const json_t *value,
              struct vsw_rpc_error *err)
{
    const char *text = json_string_value(value);
    char why[VSW_RPC_MAX_MESSAGE];

    switch (s->type) {
    case VSW_SETTING_INTEGER: {
        long long v;

        if (!json_is_integer(value)) {
            return error_integer(s, err);
        }
        v = json_integer_value(value);
        if (v < s->min || v > s->max) {
            return error_integer(s, err);
        }
        store_uint(cfg, s, (uint64_t)v);
        return 0;
    }
    case VSW_SETTING_BIT_RATE: {
        uint64_t bps = 0;

        /* A number of bits per second, or text such as "10M". */
        if (json_is_integer(value) && json_integer_value(value) >= 0) {
            bps = (uint64_t)json_integer_value(value);
        } else if (!text || vsw_bit_rate_parse(text, &bps)) {
            bps = UINT64_MAX;
        }
        if (bps == UINT64_MAX || bps < (uint64_t)s->min ||
            bps > (uint64_t)s->max) {
            char lo[24], hi[24];

            vsw_bit_rate_format((uint64_t)s->min, lo, sizeof lo);
            vsw_bit_rate_format((uint64_t)s->max, hi, sizeof hi);
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "parameter '%s' must be a bit rate from %s "
                                 "to %s bit/s, such as 10M, 1.5G or 800k",
                                 s->key, lo, hi);
        }
        store_uint(cfg, s, bps);
        return 0;
    }
    case VSW_SETTING_BOOLEAN: {
        if (!json_is_boolean(value)) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "parameter '%s' must be true or false",
                                 s->key);
        }
        /* An inverted alias says the same the other way round. */
        *(bool *)member(cfg, s) =
            json_is_true(value) != !!(s->flags & VSW_SETTING_INVERTED);
        return 0;
    }
    case VSW_SETTING_ENUM: {
        char names[VSW_RPC_MAX_MESSAGE] = "";
        size_t len = 0;
        unsigned n = 0;

        while (s->names[n]) {
            n++;
        }
        for (unsigned i = 0; json_is_string(value) && i < n; i++) {
            if (!strcmp(text, s->names[i])) {
                store_uint(cfg, s, i);
                return 0;
            }
        }
        for (unsigned i = 0; i < n && len < sizeof names; i++) {
            len += (size_t)snprintf(names + len, sizeof names - len, "%s%s",
                                    i == 0       ? ""
                                    : i == n - 1 ? " or "
                                                 : ", ",
                                    s->names[i]);
        }
        if (json_is_string(value)) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "%s must be %s, not '%.40s'", s->key, names,
                                 text);
        }
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS, "%s must be %s",
                             s->key, names);
    }
    case VSW_SETTING_MAC: {
        struct vsw_setting_mac *mac = member(cfg, s);

        if (!text || vsw_mac_parse(text, mac->addr) || (mac->addr[0] & 1) ||
            !(mac->addr[0] | mac->addr[1] | mac->addr[2] | mac->addr[3] |
              mac->addr[4] | mac->addr[5])) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "%s '%.40s' is not a unicast MAC such as "
                                 "02:00:00:00:00:01",
                                 s->key, text ? text : "");
        }
        mac->set = true;
        return 0;
    }
    case VSW_SETTING_VLAN_SET:
        if (!json_is_string(value)) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "parameter '%s' must be a VLAN list such "
                                 "as 10,20-30",
                                 s->key);
        }
        if (vsw_vlan_set_parse(text, member(cfg, s), why, sizeof why)) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS, "%s: %s", s->key,
                                 why);
        }
        return 0;
    case VSW_SETTING_IP_LIST:
        if (!json_is_string(value)) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "parameter '%s' must be a string of "
                                 "comma-separated addresses",
                                 s->key);
        }
        if (vsw_ip_list_parse(text, member(cfg, s), why, sizeof why)) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS, "%s: %s", s->key,
                                 why);
        }
        return 0;
    case VSW_SETTING_VTEPS:
        if (!json_is_string(value)) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "parameter '%s' must be a string such as "
                                 "5001:192.0.2.1,5002:192.0.2.7",
                                 s->key);
        }
        if (vsw_vtep_list_parse(text, member(cfg, s), why, sizeof why)) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS, "%s: %s", s->key,
                                 why);
        }
        return 0;
    case VSW_SETTING_IFNAME_LIST: {
        struct vsw_setting_ifname_list *list = member(cfg, s);

        if (!json_is_string(value)) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "parameter '%s' must be a string of "
                                 "comma-separated interface names",
                                 s->key);
        }
        if (ifname_list_parse(text, list, why, sizeof why)) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS, "%s: %s", s->key,
                                 why);
        }
        return 0;
    }
    case VSW_SETTING_IFNAME:
        if (!json_is_string(value) || !ifname_is_valid(text)) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "%s '%.40s' is not a valid interface name "
                                 "(1-15 characters, no '/' or spaces)",
                                 s->key, text ? text : "");
        }
        snprintf(member(cfg, s), s->size, "%s", text);
        return 0;
    case VSW_SETTING_PATH:
        if (json_is_null(value)) {
            ((char *)member(cfg, s))[0] = '\0'; /* unset, as get shows */
            return 0;
        }
        if (!json_is_string(value) || text[0] != '/' ||
            strlen(text) >= s->size || strlen(text) >= 108) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "%s '%.40s' is not an absolute path of at "
                                 "most 107 characters",
                                 s->key, text ? text : "");
        }
        snprintf(member(cfg, s), s->size, "%s", text);
        return 0;
    case VSW_SETTING_GROUP:
        if (json_is_null(value)) {
            ((char *)member(cfg, s))[0] = '\0';
            return 0;
        }
        if (!json_is_string(value) || !text[0] || strlen(text) >= s->size ||
            !getgrnam(text)) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "%s '%.40s' is not a group of this system",
                                 s->key, text ? text : "");
        }
        snprintf(member(cfg, s), s->size, "%s", text);
        return 0;
    }
    return vsw_rpc_error(err, VSW_RPC_INTERNAL_ERROR, "bad setting type");
}

/* The default of 's' as a JSON value of its type (the tables write it as
 * text), or NULL if it has none. */
static json_t *
default_json(const struct vsw_setting *s)
{
    if (!s->default_value) {
        return NULL;
    }
    switch (s->type) {
    case VSW_SETTING_INTEGER:
        return json_integer(strtoll(s->default_value, NULL, 10));
    case VSW_SETTING_BOOLEAN:
        return json_boolean(!strcmp(s->default_value, "true"));
    default:
        return json_string(s->default_value);
    }
}

/* Puts setting 's' of 'cfg' back to its default. */
static void
setting_reset(const struct vsw_setting *s, void *cfg)
{
    json_t *value = default_json(s);
    struct vsw_rpc_error ignored;

    memset(member(cfg, s), 0, s->size);
    if (value) {
        /* The tables' defaults are tested to parse. */
        setting_parse(s, cfg, value, &ignored);
        json_decref(value);
    }
}

void
vsw_settings_init(const struct vsw_settings_kind *kind, void *cfg)
{
    for (size_t i = 0; i < kind->n_settings; i++) {
        setting_reset(&kind->settings[i], cfg);
    }
}

/* True if 's' has an unset state, which JSON writes as null: a MAC not
 * given, an empty list. */
static bool
may_be_null(const struct vsw_setting *s)
{
    return s->type == VSW_SETTING_MAC || s->type == VSW_SETTING_VLAN_SET ||
           s->type == VSW_SETTING_IP_LIST || s->type == VSW_SETTING_VTEPS ||
           (s->flags & VSW_SETTING_OPTIONAL) ||
           (s->type == VSW_SETTING_IFNAME && !s->default_value &&
            !(s->flags & VSW_SETTING_REQUIRED) &&
            !(s->flags & VSW_SETTING_FIXED));
}

/* Sets 'key' of 'cfg' from 'value'; null unsets what may be unset. */
static int
apply_one(const struct vsw_setting *s, void *cfg, const json_t *value,
          struct vsw_rpc_error *err)
{
    if (json_is_null(value) && may_be_null(s)) {
        memset(member(cfg, s), 0, s->size);
        return 0;
    }
    return setting_parse(s, cfg, value, err);
}

/* Refuses what 'params' cannot mean for 'kind': unknown keys (naming the
 * nearest known one), fixed keys after creation, missing required keys at
 * creation. */
static int
check_keys(const struct vsw_settings_kind *kind, const json_t *params,
           bool creating, struct vsw_rpc_error *err)
{
    const char *key;
    json_t *value;

    json_object_foreach((json_t *)params, key, value)
    {
        const struct vsw_setting *s = setting_lookup(kind, key);
        const char *nearest = NULL;
        size_t best = SIZE_MAX;

        if (s && (s->flags & VSW_SETTING_ALIAS) &&
            json_object_get(params, s->alias_of)) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "%s and %s are one setting (the other way "
                                 "round); give one of them",
                                 key, s->alias_of);
        }
        if (s) {
            if ((s->flags & VSW_SETTING_FIXED) && !creating) {
                return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                     "%s is fixed when the %s is created", key,
                                     kind->name);
            }
            continue;
        }
        if (key_in(kind->other_keys, key)) {
            continue;
        }
        if (key_in(kind->create_keys, key)) {
            if (!creating) {
                return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                     "%s applies when the %s is created "
                                     "only",
                                     key, kind->name);
            }
            continue;
        }
        for (size_t i = 0; i < kind->n_settings; i++) {
            size_t d = vsw_edit_distance(key, kind->settings[i].key);

            if (d < best) {
                best = d;
                nearest = kind->settings[i].key;
            }
        }
        if (nearest && best <= 1 + strlen(key) / 4) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "unknown parameter '%.60s'; did you mean "
                                 "'%s'?",
                                 key, nearest);
        }
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "unknown parameter '%.60s'", key);
    }
    for (size_t i = 0; creating && i < kind->n_settings; i++) {
        const struct vsw_setting *s = &kind->settings[i];

        if ((s->flags & VSW_SETTING_REQUIRED) &&
            !json_object_get(params, s->key)) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "missing parameter '%s'", s->key);
        }
    }
    return 0;
}

int
vsw_settings_apply(const struct vsw_settings_kind *kind, void *cfg,
                   const json_t *params, bool creating,
                   struct vsw_rpc_error *err)
{
    if (check_keys(kind, params, creating, err)) {
        return -1;
    }

    /* Modes first, so that a mode and its settings can come in one
     * request.  A new mode starts from its defaults: nothing of the old
     * one lingers (a restart, which saves only what applies, would drop
     * it anyway), even where two modes share a setting. */
    for (size_t i = 0; i < kind->n_settings; i++) {
        const struct vsw_setting *s = &kind->settings[i];
        const json_t *value = json_object_get(params, s->key);
        uint64_t old;

        if (!value || !is_mode_key(kind, s->key)) {
            continue;
        }
        old = load_uint(cfg, s);
        if (apply_one(s, cfg, value, err)) {
            return -1;
        }
        if (load_uint(cfg, s) == old) {
            continue;
        }
        for (size_t j = 0; j < kind->n_settings; j++) {
            const struct vsw_setting *t = &kind->settings[j];

            if (t->when_key && !strcmp(t->when_key, s->key)) {
                setting_reset(t, cfg);
            }
        }
    }
    for (size_t i = 0; i < kind->n_settings; i++) {
        const struct vsw_setting *s = &kind->settings[i];
        const json_t *value = json_object_get(params, s->key);

        if (value && !is_mode_key(kind, s->key) &&
            apply_one(s, cfg, value, err)) {
            return -1;
        }
    }

    /* A setting of another mode would silently do nothing: refuse it so
     * that the user learns that at once. */
    for (size_t i = 0; i < kind->n_settings; i++) {
        const struct vsw_setting *s = &kind->settings[i];
        const json_t *value = json_object_get(params, s->key);
        const struct vsw_setting *mode;
        char where[128];

        if (!value || json_is_null(value) || setting_applies(kind, s, cfg)) {
            continue;
        }
        mode = setting_lookup(kind, s->when_key);
        format_when(kind, s, where, sizeof where);
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "%s applies to %s; this %s is %s=%s", s->key,
                             where, kind->name, mode->key,
                             mode->names[load_uint(cfg, mode)]);
    }
    return 0;
}

/* ---- Output ---- */

/* Setting 's' of 'cfg' as JSON. */
static json_t *
setting_to_json(const struct vsw_setting *s, const void *cfg)
{
    switch (s->type) {
    case VSW_SETTING_INTEGER:
    case VSW_SETTING_BIT_RATE:
        return json_integer((json_int_t)load_uint(cfg, s));
    case VSW_SETTING_BOOLEAN:
        return json_boolean(*(const bool *)member_const(cfg, s) !=
                            !!(s->flags & VSW_SETTING_INVERTED));
    case VSW_SETTING_ENUM:
        return json_string(s->names[load_uint(cfg, s)]);
    case VSW_SETTING_MAC: {
        const struct vsw_setting_mac *mac = member_const(cfg, s);
        char text[18];

        if (!mac->set) {
            return json_null();
        }
        vsw_mac_format(mac->addr, text);
        return json_string(text);
    }
    case VSW_SETTING_VLAN_SET: {
        char text[4096 * 5];

        if (vsw_vlan_set_is_empty(member_const(cfg, s))) {
            return json_null();
        }
        vsw_vlan_set_format(member_const(cfg, s), text, sizeof text);
        return json_string(text);
    }
    case VSW_SETTING_IP_LIST: {
        const struct vsw_setting_ip_list *list = member_const(cfg, s);
        char text[VSW_SETTING_MAX_IPS * 48];

        if (!list->n) {
            return json_null();
        }
        ip_list_format(list, text, sizeof text);
        return json_string(text);
    }
    case VSW_SETTING_IFNAME: {
        const char *name = member_const(cfg, s);

        return name[0] ? json_string(name) : json_null();
    }
    case VSW_SETTING_VTEPS: {
        const struct vsw_setting_vtep_list *list = member_const(cfg, s);
        char text[VSW_SETTING_MAX_VTEPS * 32];

        if (!list->n) {
            return json_null();
        }
        vtep_list_format(list, text, sizeof text);
        return json_string(text);
    }
    case VSW_SETTING_IFNAME_LIST: {
        const struct vsw_setting_ifname_list *list = member_const(cfg, s);
        char text[VSW_SETTING_MAX_IFNAMES * IFNAMSIZ] = "";
        size_t len = 0;

        for (unsigned i = 0; i < list->n; i++) {
            len += (size_t)snprintf(text + len, sizeof text - len, "%s%s",
                                    i ? "," : "", list->names[i]);
        }
        return json_string(text);
    }
    case VSW_SETTING_PATH:
    case VSW_SETTING_GROUP: {
        const char *text = member_const(cfg, s);

        return text[0] ? json_string(text) : json_null();
    }
    }
    return json_null();
}

void
vsw_settings_to_json(const struct vsw_settings_kind *kind, const void *cfg,
                     json_t *obj)
{
    for (size_t i = 0; i < kind->n_settings; i++) {
        const struct vsw_setting *s = &kind->settings[i];

        json_t *value;

        if (!setting_applies(kind, s, cfg)) {
            continue;
        }
        if (s->flags & VSW_SETTING_ALIAS) {
            continue;
        }
        value = setting_to_json(s, cfg);
        json_object_set_new(obj, s->key, value);
    }
}

static const char *
type_name(enum vsw_setting_type type)
{
    static const char *const names[] = {
        [VSW_SETTING_INTEGER] = "integer",
        [VSW_SETTING_BIT_RATE] = "bit-rate",
        [VSW_SETTING_BOOLEAN] = "boolean",
        [VSW_SETTING_ENUM] = "enum",
        [VSW_SETTING_MAC] = "mac",
        [VSW_SETTING_VLAN_SET] = "vlan-set",
        [VSW_SETTING_IP_LIST] = "ip-list",
        [VSW_SETTING_IFNAME] = "ifname",
        [VSW_SETTING_IFNAME_LIST] = "ifname-list",
        [VSW_SETTING_VTEPS] = "vtep-list",
        [VSW_SETTING_PATH] = "path",
        [VSW_SETTING_GROUP] = "group",
    };

    return names[type];
}

json_t *
vsw_settings_schema(const struct vsw_settings_kind *kind)
{
    json_t *rows = json_array();

    for (size_t i = 0; i < kind->n_settings; i++) {
        const struct vsw_setting *s = &kind->settings[i];
        json_t *row =
            json_pack("{s:s, s:s}", "key", s->key, "type", type_name(s->type));
        json_t *dflt = json_null();

        if (s->default_value) {
            /* The default as the setting's own output shows it. */
            void *scratch = calloc(1, s->offset + s->size);
            struct vsw_rpc_error ignored;
            json_t *value = default_json(s);

            if (scratch && !setting_parse(s, scratch, value, &ignored)) {
                json_decref(dflt);
                dflt = setting_to_json(s, scratch);
            }
            json_decref(value);
            free(scratch);
        }
        json_object_set_new(row, "default", dflt);
        if (s->type == VSW_SETTING_INTEGER ||
            s->type == VSW_SETTING_BIT_RATE) {
            json_object_set_new(row, "min", json_integer(s->min));
            json_object_set_new(row, "max", json_integer(s->max));
        } else if (s->type == VSW_SETTING_ENUM) {
            json_t *values = json_array();

            for (size_t j = 0; s->names[j]; j++) {
                json_array_append_new(values, json_string(s->names[j]));
            }
            json_object_set_new(row, "values", values);
        }
        if (s->when_key) {
            const struct vsw_setting *mode = setting_lookup(kind, s->when_key);
            json_t *values = json_array();

            for (size_t j = 0; mode->names[j]; j++) {
                if ((s->when_values >> j) & 1) {
                    json_array_append_new(values, json_string(mode->names[j]));
                }
            }
            json_object_set_new(
                row, "applies-to",
                json_pack("{s:s, s:o}", "key", s->when_key, "values", values));
        } else {
            json_object_set_new(row, "applies-to", json_null());
        }
        if (s->owner_key && kind->owner) {
            const struct vsw_setting *mode =
                setting_lookup(kind->owner, s->owner_key);
            json_t *values = json_array();

            for (size_t j = 0; mode->names[j]; j++) {
                if ((s->owner_values >> j) & 1) {
                    json_array_append_new(values, json_string(mode->names[j]));
                }
            }
            json_object_set_new(row, "applies-to-owner",
                                json_pack("{s:s, s:s, s:o}", "kind",
                                          kind->owner->name, "key",
                                          s->owner_key, "values", values));
        }
        json_object_set_new(row, "fixed",
                            json_boolean(s->flags & VSW_SETTING_FIXED));
        if (s->flags & VSW_SETTING_ALIAS) {
            json_object_set_new(row, "alias-of", json_string(s->alias_of));
            json_object_set_new(row, "inverted",
                                json_boolean(s->flags & VSW_SETTING_INVERTED));
        }
        json_object_set_new(row, "help", json_string(s->help));
        json_array_append_new(rows, row);
    }
    return json_pack("{s:s, s:o}", "kind", kind->name, "settings", rows);
}
