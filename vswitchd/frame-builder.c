#include "frame-builder.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

#include "manager-private.h"

const char *const vsw_frame_builder_keys[] = {
    "frame", "eth-src", "eth-dst",   "vlan",    "ip-src", "ip-dst", "proto",
    "sport", "dport",   "icmp-type", "dhcp-op", "arp-op", NULL};

/* What the fields describe, before it is laid out. */
struct frame_spec {
    uint8_t dst[6];      /* destination MAC */
    uint8_t src[6];      /* source MAC */
    long long vlan;      /* 802.1Q VID, -1 for none */
    int family;          /* AF_INET, AF_INET6 or 0 for no IP */
    uint8_t ip_src[16];  /* source address */
    uint8_t ip_dst[16];  /* destination address */
    int proto;           /* IP protocol, -1 for none */
    long long sport;     /* transport source port */
    long long dport;     /* transport destination port */
    long long icmp_type; /* ICMP or ICMPv6 type */
    long long dhcp_op;   /* BOOTP op, -1 for no DHCP payload */
    long long arp_op;    /* ARP opcode, -1 for no ARP */
};

static void
put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint16_t
checksum(const uint8_t *data, size_t len, uint32_t sum)
{
    for (size_t i = 0; i + 1 < len; i += 2) {
        sum += (uint32_t)data[i] << 8 | data[i + 1];
    }
    if (len & 1) {
        sum += (uint32_t)data[len - 1] << 8;
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t)~sum;
}

static int
get_mac(json_t *params, const char *key, uint8_t mac[6],
        struct vsw_rpc_error *err)
{
    const char *text = NULL;

    if (vsw_rpc_get_string(params, key, false, &text, err)) {
        return -1;
    }
    if (text && vsw_mac_parse(text, mac)) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "%s: '%s' is not a MAC such as "
                             "02:00:00:00:00:01",
                             key, text);
    }
    return 0;
}

static int
get_ip(json_t *params, const char *key, int *family, uint8_t addr[16],
       struct vsw_rpc_error *err)
{
    const char *text = NULL;
    int this_family;

    if (vsw_rpc_get_string(params, key, false, &text, err) || !text) {
        return text ? -1 : 0;
    }
    if (inet_pton(AF_INET, text, addr) == 1) {
        this_family = AF_INET;
    } else if (inet_pton(AF_INET6, text, addr) == 1) {
        this_family = AF_INET6;
    } else {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "%s: '%s' is not an IPv4 or IPv6 address", key,
                             text);
    }
    if (*family && *family != this_family) {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "ip-src and ip-dst must be of one family");
    }
    *family = this_family;
    return 0;
}

static int
get_proto(json_t *params, int family, int *proto, struct vsw_rpc_error *err)
{
    const char *text = NULL;
    json_t *value = json_object_get(params, "proto");
    long long number = -1;

    if (json_is_integer(value)) {
        if (vsw_rpc_get_int(params, "proto", false, 0, 255, &number, err)) {
            return -1;
        }
        *proto = (int)number;
        return 0;
    }
    if (vsw_rpc_get_string(params, "proto", false, &text, err)) {
        return -1;
    }
    if (!text) {
        *proto = family ? 17 : -1;
    } else if (!strcmp(text, "tcp")) {
        *proto = 6;
    } else if (!strcmp(text, "udp")) {
        *proto = 17;
    } else if (!strcmp(text, "icmp")) {
        *proto = family == AF_INET6 ? 58 : 1;
    } else if (!strcmp(text, "icmpv6")) {
        *proto = 58;
    } else if (isdigit((unsigned char)text[0]) && strlen(text) <= 3 &&
               strspn(text, "0123456789") == strlen(text) &&
               atoi(text) <= 255) {
        *proto = atoi(text);
    } else {
        return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                             "proto must be tcp, udp, icmp, icmpv6 or a "
                             "number, not '%s'",
                             text);
    }
    return 0;
}

static int
frame_from_hex(const char *hex, uint8_t *frame, size_t *len,
               struct vsw_rpc_error *err)
{
    size_t n = 0;

    for (const char *p = hex; *p;) {
        unsigned byte;

        if (isspace((unsigned char)*p) || *p == ':') {
            p++;
            continue;
        }
        if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]) ||
            sscanf(p, "%2x", &byte) != 1) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "frame: not hexadecimal at '%.8s'", p);
        }
        if (n == VSW_FRAME_BUILDER_MAX) {
            return vsw_rpc_error(err, VSW_RPC_INVALID_PARAMS,
                                 "frame: longer than %d bytes",
                                 VSW_FRAME_BUILDER_MAX);
        }
        frame[n++] = (uint8_t)byte;
        p += 2;
    }
    *len = n;
    return 0;
}

/* Writes the L4 header (and DHCP payload) for 'spec' at 'p'; returns its
 * length. */
static size_t
put_l4(const struct frame_spec *spec, uint8_t *p)
{
    size_t len = 0;

    if (spec->proto == 6) {
        memset(p, 0, 20);
        put16(p, (unsigned)spec->sport);
        put16(p + 2, (unsigned)spec->dport);
        p[12] = 5 << 4;
        p[13] = 0x02; /* SYN */
        put16(p + 14, 65535);
        len = 20;
    } else if (spec->proto == 17) {
        size_t payload = spec->dhcp_op >= 0 ? 244 : 0;

        memset(p, 0, 8 + payload);
        put16(p, (unsigned)spec->sport);
        put16(p + 2, (unsigned)spec->dport);
        put16(p + 4, (unsigned)(8 + payload));
        if (payload) {
            uint8_t *bootp = p + 8;

            bootp[0] = (uint8_t)spec->dhcp_op;
            bootp[1] = 1; /* Ethernet */
            bootp[2] = 6;
            memcpy(bootp + 28, spec->src, 6);
            memcpy(bootp + 236, "\x63\x82\x53\x63", 4); /* magic cookie */
            bootp[240] = 53;                            /* message type */
            bootp[241] = 1;
            bootp[242] = spec->dhcp_op == 1 ? 1 : 2; /* DISCOVER/OFFER */
            bootp[243] = 255;
        }
        len = 8 + payload;
    } else if (spec->proto == 1 || spec->proto == 58) {
        memset(p, 0, 8);
        p[0] = (uint8_t)(spec->icmp_type >= 0 ? spec->icmp_type
                         : spec->proto == 1   ? 8
                                              : 128);
        len = 8;
    }
    return len;
}

/* Lays out 'spec' into 'frame'. */
static size_t
lay_out(const struct frame_spec *spec, uint8_t *frame)
{
    uint8_t *p = frame;
    uint8_t *l3;
    size_t l4_len;

    memcpy(p, spec->dst, 6);
    memcpy(p + 6, spec->src, 6);
    p += 12;
    if (spec->vlan >= 0) {
        put16(p, 0x8100);
        put16(p + 2, (unsigned)spec->vlan);
        p += 4;
    }
    if (spec->arp_op >= 0 || (!spec->family && spec->proto < 0)) {
        uint8_t spa[4] = {0}, tpa[4] = {0};

        if (spec->family == AF_INET) {
            memcpy(spa, spec->ip_src, 4);
            memcpy(tpa, spec->ip_dst, 4);
        }
        put16(p, 0x0806);
        p += 2;
        memcpy(p, "\x00\x01\x08\x00\x06\x04", 6);
        put16(p + 6, (unsigned)(spec->arp_op >= 0 ? spec->arp_op : 1));
        memcpy(p + 8, spec->src, 6);
        memcpy(p + 14, spa, 4);
        memset(p + 18, 0, 6);
        memcpy(p + 24, tpa, 4);
        return (size_t)(p + 28 - frame);
    }
    l3 = p + 2;
    if (spec->family == AF_INET6) {
        put16(p, 0x86dd);
        memset(l3, 0, 40);
        l3[0] = 0x60;
        l3[6] = (uint8_t)spec->proto;
        l3[7] = 64;
        memcpy(l3 + 8, spec->ip_src, 16);
        memcpy(l3 + 24, spec->ip_dst, 16);
        l4_len = put_l4(spec, l3 + 40);
        put16(l3 + 4, (unsigned)l4_len);
        return (size_t)(l3 + 40 + l4_len - frame);
    }
    put16(p, 0x0800);
    memset(l3, 0, 20);
    l3[0] = 0x45;
    l3[8] = 64;
    l3[9] = (uint8_t)spec->proto;
    memcpy(l3 + 12, spec->ip_src, 4);
    memcpy(l3 + 16, spec->ip_dst, 4);
    l4_len = put_l4(spec, l3 + 20);
    put16(l3 + 2, (unsigned)(20 + l4_len));
    put16(l3 + 10, checksum(l3, 20, 0));
    return (size_t)(l3 + 20 + l4_len - frame);
}

int
vsw_frame_build(json_t *params, const uint8_t default_src[6], uint8_t *frame,
                size_t *len, struct vsw_rpc_error *err)
{
    struct frame_spec spec = {
        .dst = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
        .vlan = -1,
        .proto = -1,
        .sport = -1,
        .dport = -1,
        .icmp_type = -1,
        .dhcp_op = -1,
        .arp_op = -1,
    };
    const char *hex = NULL;

    if (vsw_rpc_get_string(params, "frame", false, &hex, err)) {
        return -1;
    }
    if (hex) {
        return frame_from_hex(hex, frame, len, err);
    }
    memcpy(spec.src, default_src, 6);
    if (get_mac(params, "eth-src", spec.src, err) ||
        get_mac(params, "eth-dst", spec.dst, err) ||
        vsw_rpc_get_int(params, "vlan", false, 0, 4095, &spec.vlan, err) ||
        get_ip(params, "ip-src", &spec.family, spec.ip_src, err) ||
        get_ip(params, "ip-dst", &spec.family, spec.ip_dst, err) ||
        get_proto(params, spec.family, &spec.proto, err) ||
        vsw_rpc_get_int(params, "sport", false, 0, 65535, &spec.sport, err) ||
        vsw_rpc_get_int(params, "dport", false, 0, 65535, &spec.dport, err) ||
        vsw_rpc_get_int(params, "icmp-type", false, 0, 255, &spec.icmp_type,
                        err) ||
        vsw_rpc_get_int(params, "dhcp-op", false, 1, 2, &spec.dhcp_op, err) ||
        vsw_rpc_get_int(params, "arp-op", false, 1, 2, &spec.arp_op, err)) {
        return -1;
    }
    if (spec.proto >= 0 && !spec.family) {
        /* A protocol needs an IP header: default addresses will do. */
        spec.family = spec.proto == 58 ? AF_INET6 : AF_INET;
    }
    if (spec.dhcp_op >= 0) {
        spec.proto = 17;
        if (spec.sport < 0) {
            spec.sport = spec.dhcp_op == 1 ? 68 : 67;
        }
        if (spec.dport < 0) {
            spec.dport = spec.dhcp_op == 1 ? 67 : 68;
        }
    }
    spec.sport = spec.sport < 0 ? 1024 : spec.sport;
    spec.dport = spec.dport < 0 ? 80 : spec.dport;
    *len = lay_out(&spec, frame);
    return 0;
}
