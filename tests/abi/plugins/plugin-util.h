/*
 * Helpers shared by the test plugins of tests/abi: reading the few keys a
 * plugin needs from its per-switch configuration, and recognising IPv4
 * ICMP.  The plugins link nothing but libc (a plugin may bring its own
 * JSON parser, but these need four flat keys), so this reads JSON text
 * the simple way: the configurations the tests send are flat objects with
 * plain strings, numbers and booleans.  Standard headers only, so that the
 * golden plugin still sees nothing of the current tree but this file.
 */
#ifndef VSW_TEST_PLUGIN_UTIL_H
#define VSW_TEST_PLUGIN_UTIL_H 1

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where the value of "key" starts in 'json' (after the colon and any
 * blanks), or NULL if the key is not there. */
static inline const char *
plug_json_value(const char *json, const char *key)
{
    char quoted[64];
    const char *p = json;
    size_t n;

    if (!json) {
        return NULL;
    }
    snprintf(quoted, sizeof quoted, "\"%s\"", key);
    n = strlen(quoted);
    while ((p = strstr(p, quoted)) != NULL) {
        p += n;
        p += strspn(p, " \t\r\n");
        if (*p == ':') {
            p++;
            return p + strspn(p, " \t\r\n");
        }
    }
    return NULL;
}

/* Copies the string value of "key" into 'out' ('size' bytes); false if
 * the key is missing or its value is not a string that fits. */
static inline bool
plug_json_string(const char *json, const char *key, char *out, size_t size)
{
    const char *v = plug_json_value(json, key);
    const char *end;

    if (!v || *v != '"') {
        return false;
    }
    v++;
    end = strchr(v, '"');
    if (!end || (size_t)(end - v) >= size) {
        return false;
    }
    memcpy(out, v, (size_t)(end - v));
    out[end - v] = '\0';
    return true;
}

/* Reads the number value of "key" into '*out'; false if missing or not a
 * number. */
static inline bool
plug_json_number(const char *json, const char *key, long long *out)
{
    const char *v = plug_json_value(json, key);

    return v && sscanf(v, "%lld", out) == 1;
}

/* True if "key" is there with the value true. */
static inline bool
plug_json_true(const char *json, const char *key)
{
    const char *v = plug_json_value(json, key);

    return v && !strncmp(v, "true", 4);
}

/* True if the Ethernet frame 'data' ('len' bytes) carries IPv4 ICMP,
 * directly or behind one 802.1Q (or 802.1ad) tag. */
static inline bool
plug_is_ipv4_icmp(const uint8_t *data, uint32_t len)
{
    uint32_t l3 = 14;
    uint16_t type;

    if (len < l3) {
        return false;
    }
    type = (uint16_t)(data[12] << 8 | data[13]);
    if (type == 0x8100 || type == 0x88a8) {
        l3 += 4;
        if (len < l3) {
            return false;
        }
        type = (uint16_t)(data[16] << 8 | data[17]);
    }
    /* The protocol is byte 9 of the IPv4 header. */
    return type == 0x0800 && len >= l3 + 20 && (data[l3] >> 4) == 4 &&
           data[l3 + 9] == 1;
}

#endif /* VSW_TEST_PLUGIN_UTIL_H */
