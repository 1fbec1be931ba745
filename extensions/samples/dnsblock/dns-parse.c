/*
 * DNS queries in Ethernet frames; dns-parse.h holds the contract.
 */
#include "dns-parse.h"

#include <string.h>

#define ETH_HLEN           14
#define ETH_TYPE_IPV4      0x0800
#define ETH_TYPE_IPV6      0x86dd
#define ETH_TYPE_VLAN      0x8100
#define ETH_TYPE_QINQ      0x88a8
#define IP_PROTO_UDP       17
#define IP6_HOPOPTS        0
#define IP6_ROUTING        43
#define IP6_FRAGMENT       44
#define IP6_AH             51
#define IP6_DSTOPTS        60
#define IP6_EXT_MAX        8 /* extension headers walked before giving up */
#define DNS_PORT           53
#define DNS_HLEN           12
#define DNS_RCODE_NXDOMAIN 3

/* Reads a big-endian 16-bit value at 'p'. */
static inline uint16_t
dns_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* Writes big-endian 16-bit 'v' at 'p'. */
static inline void
dns_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* Walks an IPv6 header's extension chain from 'ofs' (the byte after the
 * fixed header) to the upper-layer header, within 'end'.  Sets '*l4' and
 * '*proto', '*fragmented' if a fragment header says more fragments follow,
 * '*plain' if there was no extension header.  Returns DNS_FRAME_OTHER for
 * a non-first fragment or a chain too long to follow (no UDP header is
 * visible then), DNS_FRAME_MALFORMED if it runs past 'end'. */
static enum dns_frame_kind
dns_ipv6_walk(const uint8_t *frame, uint32_t ofs, uint32_t end, uint8_t nh,
              uint32_t *l4, uint8_t *proto, bool *fragmented, bool *plain)
{
    *plain = true;
    *fragmented = false;
    for (int i = 0; i < IP6_EXT_MAX; i++) {
        uint32_t hlen;

        switch (nh) {
        case IP6_HOPOPTS:
        case IP6_ROUTING:
        case IP6_DSTOPTS:
            if (end - ofs < 2) {
                return DNS_FRAME_MALFORMED;
            }
            hlen = ((uint32_t)frame[ofs + 1] + 1) * 8;
            break;
        case IP6_AH:
            if (end - ofs < 2) {
                return DNS_FRAME_MALFORMED;
            }
            hlen = ((uint32_t)frame[ofs + 1] + 2) * 4;
            break;
        case IP6_FRAGMENT:
            if (end - ofs < 8) {
                return DNS_FRAME_MALFORMED;
            }
            if (dns_be16(frame + ofs + 2) & 0xfff8) {
                return DNS_FRAME_OTHER;
            }
            *fragmented = *fragmented || (frame[ofs + 3] & 1);
            hlen = 8;
            break;
        default:
            *l4 = ofs;
            *proto = nh;
            return DNS_FRAME_QUERY;
        }
        if (end - ofs < hlen) {
            return DNS_FRAME_MALFORMED;
        }
        *plain = false;
        nh = frame[ofs];
        ofs += hlen;
    }
    return DNS_FRAME_OTHER;
}

/* Finds the DNS query in a frame; see dns-parse.h.  Headers are walked
 * with each length checked against what the frame and the enclosing
 * header hold, so a lying length ends the walk instead of a read past
 * the frame. */
enum dns_frame_kind
dns_query_find(const uint8_t *frame, uint32_t len, struct dns_query *q)
{
    uint32_t ofs = ETH_HLEN, ip_end, l4, udp_end;
    bool fragmented = false, plain = true;
    uint16_t type, flags;
    uint8_t proto;

    if (len < ETH_HLEN) {
        return DNS_FRAME_OTHER;
    }
    type = dns_be16(frame + 12);
    for (int tags = 0;
         tags < 2 && (type == ETH_TYPE_VLAN || type == ETH_TYPE_QINQ);
         tags++) {
        if (len - ofs < 4) {
            return DNS_FRAME_OTHER;
        }
        type = dns_be16(frame + ofs + 2);
        ofs += 4;
    }

    memset(q, 0, sizeof *q);
    q->l3_ofs = ofs;
    if (type == ETH_TYPE_IPV4) {
        uint32_t ihl, total;
        uint16_t frag;

        if (len - ofs < 20 || frame[ofs] >> 4 != 4) {
            return DNS_FRAME_OTHER;
        }
        ihl = (uint32_t)(frame[ofs] & 0xf) * 4;
        total = dns_be16(frame + ofs + 2);
        proto = frame[ofs + 9];
        frag = dns_be16(frame + ofs + 6);
        if (proto != IP_PROTO_UDP || frag & 0x1fff) {
            /* A later fragment shows no UDP header: nothing to match. */
            return DNS_FRAME_OTHER;
        }
        if (ihl < 20 || total < ihl || total > len - ofs) {
            return DNS_FRAME_MALFORMED;
        }
        fragmented = frag & 0x2000;
        ip_end = ofs + total;
        l4 = ofs + ihl;
        q->ip_version = 4;
    } else if (type == ETH_TYPE_IPV6) {
        enum dns_frame_kind kind;

        if (len - ofs < 40 || frame[ofs] >> 4 != 6) {
            return DNS_FRAME_OTHER;
        }
        if (dns_be16(frame + ofs + 4) > len - ofs - 40) {
            return DNS_FRAME_MALFORMED;
        }
        ip_end = ofs + 40 + dns_be16(frame + ofs + 4);
        kind = dns_ipv6_walk(frame, ofs + 40, ip_end, frame[ofs + 6], &l4,
                             &proto, &fragmented, &plain);
        if (kind != DNS_FRAME_QUERY) {
            return kind;
        }
        if (proto != IP_PROTO_UDP) {
            return DNS_FRAME_OTHER;
        }
        q->ip_version = 6;
    } else {
        return DNS_FRAME_OTHER;
    }

    if (ip_end - l4 < 8) {
        return DNS_FRAME_MALFORMED;
    }
    if (dns_be16(frame + l4 + 2) != DNS_PORT) {
        return DNS_FRAME_OTHER;
    }
    udp_end = l4 + dns_be16(frame + l4 + 4);
    if (udp_end < l4 + 8 || (udp_end > ip_end && !fragmented)) {
        return DNS_FRAME_MALFORMED;
    }
    if (udp_end > ip_end) {
        /* A first fragment: the questions are read from what it holds. */
        udp_end = ip_end;
    }
    if (udp_end - l4 - 8 < DNS_HLEN) {
        return DNS_FRAME_MALFORMED;
    }
    flags = dns_be16(frame + l4 + 8 + 2);
    if (flags & 0x8000 || (flags >> 11 & 0xf) != 0) {
        /* An answer, or a NOTIFY, UPDATE...: no name is being looked up. */
        return DNS_FRAME_OTHER;
    }
    q->n_questions = dns_be16(frame + l4 + 8 + 4);
    if (!q->n_questions) {
        return DNS_FRAME_OTHER;
    }
    q->l4_ofs = l4;
    q->dns_ofs = l4 + 8;
    q->dns_end = udp_end;
    q->answerable = !fragmented && plain;
    return DNS_FRAME_QUERY;
}

/* Reads one name; see dns-parse.h.  'floor' only ever decreases, which
 * is what makes pointer loops impossible. */
int
dns_name_read(const uint8_t *msg, uint32_t msg_len, uint32_t *ofs,
              struct dns_name *name)
{
    uint32_t pos = *ofs;
    uint32_t floor = pos; /* a pointer must point below this */
    uint32_t wire = 1;    /* wire bytes, counting the final zero */
    bool jumped = false;

    name->len = 0;
    name->n_labels = 0;
    name->text[0] = '\0';
    for (;;) {
        uint8_t c;

        if (pos >= msg_len) {
            return -1;
        }
        c = msg[pos];
        if (c == 0) {
            if (!jumped) {
                *ofs = pos + 1;
            }
            return 0;
        }
        if ((c & 0xc0) == 0xc0) {
            uint32_t target;

            if (msg_len - pos < 2) {
                return -1;
            }
            target = (uint32_t)(c & 0x3f) << 8 | msg[pos + 1];
            if (target >= floor) {
                return -1;
            }
            if (!jumped) {
                *ofs = pos + 2;
                jumped = true;
            }
            floor = target;
            pos = target;
            continue;
        }
        if (c & 0xc0) {
            return -1; /* 0x40 and 0x80: extended and reserved types */
        }
        if (msg_len - pos - 1 < c) {
            return -1;
        }
        wire += 1u + c;
        if (wire > 255 || name->n_labels >= DNS_NAME_LABELS_MAX) {
            return -1;
        }
        if (name->n_labels) {
            name->text[name->len++] = '.';
        }
        name->label_ofs[name->n_labels++] = name->len;
        for (uint32_t i = 0; i < c; i++) {
            uint8_t b = msg[pos + 1 + i];

            name->text[name->len++] =
                (char)(b >= 'A' && b <= 'Z' ? b + ('a' - 'A') : b);
        }
        name->text[name->len] = '\0';
        pos += 1u + c;
    }
}

/* Adds the 16-bit big-endian words of 'len' bytes at 'p' to 'sum'. */
static uint32_t
dns_csum_add(uint32_t sum, const uint8_t *p, uint32_t len)
{
    for (uint32_t i = 0; i + 1 < len; i += 2) {
        sum += dns_be16(p + i);
    }
    if (len & 1) {
        sum += (uint32_t)p[len - 1] << 8;
    }
    return sum;
}

/* Folds 'sum' into a ones' complement checksum. */
static uint16_t
dns_csum_fold(uint32_t sum)
{
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t)~sum;
}

/* Swaps 'n' bytes at 'a' and 'b'. */
static void
dns_swap(uint8_t *a, uint8_t *b, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        uint8_t t = a[i];

        a[i] = b[i];
        b[i] = t;
    }
}

/* Rewrites a copy of a query into its NXDOMAIN answer; see dns-parse.h. */
uint32_t
dns_make_nxdomain(uint8_t *frame, const struct dns_query *q,
                  uint32_t questions_end)
{
    uint8_t *ip = frame + q->l3_ofs;
    uint8_t *udp = frame + q->l4_ofs;
    uint8_t *dns = frame + q->dns_ofs;
    uint16_t udp_len = (uint16_t)(questions_end - q->l4_ofs);
    uint16_t flags = dns_be16(dns + 2);
    uint32_t sum;

    dns_swap(frame, frame + 6, 6);

    /* QR, the opcode (QUERY), RD and CD of the query, RA, NXDOMAIN. */
    flags =
        (uint16_t)(0x8000 | (flags & 0x0110) | 0x0080 | DNS_RCODE_NXDOMAIN);
    dns_put_be16(dns + 2, flags);
    memset(dns + 6, 0, 6); /* ANCOUNT, NSCOUNT, ARCOUNT */

    dns_swap(udp, udp + 2, 2);
    dns_put_be16(udp + 4, udp_len);
    dns_put_be16(udp + 6, 0);

    if (q->ip_version == 4) {
        uint32_t ihl = (uint32_t)(ip[0] & 0xf) * 4;

        dns_swap(ip + 12, ip + 16, 4);
        dns_put_be16(ip + 2, (uint16_t)(questions_end - q->l3_ofs));
        ip[8] = 64;
        dns_put_be16(ip + 10, 0);
        dns_put_be16(ip + 10, dns_csum_fold(dns_csum_add(0, ip, ihl)));
        sum = dns_csum_add(0, ip + 12, 8);
    } else {
        dns_swap(ip + 8, ip + 24, 16);
        dns_put_be16(ip + 4, udp_len);
        ip[7] = 64;
        sum = dns_csum_add(0, ip + 8, 32);
    }
    sum += IP_PROTO_UDP + udp_len;
    sum = dns_csum_add(sum, udp, udp_len);
    /* 0 means "no checksum" in UDP over IPv4 and is invalid over IPv6. */
    dns_put_be16(udp + 6, dns_csum_fold(sum) ? dns_csum_fold(sum) : 0xffff);
    return questions_end;
}

/* Normalizes an operator's name; see dns-parse.h.  Labels are checked
 * here so that the set never holds a name no query could carry. */
int
dns_name_normalize(const char *in, char *out)
{
    size_t len = strlen(in);
    size_t label = 0;

    if (len && in[len - 1] == '.') {
        len--;
    }
    if (!len || len > 253) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];

        if (c <= ' ' || c == 0x7f) {
            return -1;
        }
        if (c == '.') {
            if (!label) {
                return -1;
            }
            label = 0;
        } else if (++label > 63) {
            return -1;
        }
        out[i] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    }
    out[len] = '\0';
    return 0;
}
