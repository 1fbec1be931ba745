/*
 * Extended port ACLs; xacl.h holds the contract.
 *
 * The compiled table.  A packet is classified by walking one list of
 * rules, picked by three things known before any rule is looked at:
 *   - the direction;
 *   - the address family, so IPv4 packets walk compact entries and only
 *     IPv6 packets pay for 128-bit address compares, and a rule written
 *     for one family never costs the other anything;
 *   - a protocol class: TCP, UDP, ICMP (1 on IPv4, 58 on IPv6), any other
 *     protocol, or "no L3" for IP packets whose header did not parse.
 * Each list holds, by descending weight, exactly the rules that could
 * match a packet of its kind: a rule for TCP is on no UDP list, a rule
 * with ports is on the TCP and UDP lists only, a rule for any protocol is
 * on all of them.  Rules are copied into every list they belong to, so a
 * walk is a sequential scan of one array.
 *
 * The match.  Every rule is precompiled to values and masks in the
 * packet's frame of reference (source/destination rather than
 * local/remote): ANY is a zero mask, a port range two signed compares,
 * and a packet without ports has port -1, which only ANY (-1..65535)
 * admits.  The lists are stored in blocks of XACL_LANES rules, one vector
 * lane per rule and one vector per field (GCC vector extensions; 16-byte
 * vectors are SSE2 on any x86-64 and NEON on arm64), so a block costs a
 * couple of dozen vector operations and one well-predicted branch
 * whatever matches, and the first matching lane of the first block with
 * a match is the highest-weight match.  Lanes past the end of a list hold
 * a pattern no packet has.  What a match decides (action, weight, timeout)
 * sits in a parallel array that is read only for the winner.
 */
#include "xacl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define IP_PROTO_ICMP   1
#define IP_PROTO_TCP    6
#define IP_PROTO_UDP    17
#define IP_PROTO_ICMPV6 58

/* Highest VLAN id an isolation id may name (4095 is reserved). */
#define XACL_MAX_VLAN 4094

/* Rules per block: 32-bit lanes of a 16-byte vector.  (Wider vectors
 * than the build's instruction set has are compared lane by lane.) */
#define XACL_LANES 4

/* One field of the rules of a block. */
typedef int32_t xacl_vec __attribute__((vector_size(XACL_LANES * 4)));

/* 'meta' of a padding lane, which no packet has: a packet's is at most
 * 0xffffff. */
#define XACL_META_NEVER (-1)

enum xacl_family {
    XACL_V4,
    XACL_V6,
    XACL_N_FAMILIES
};

/* What kind of packet a list is for. */
enum xacl_class {
    XACL_CLASS_TCP,
    XACL_CLASS_UDP,
    XACL_CLASS_ICMP,  /* ICMP on IPv4, ICMPv6 on IPv6 */
    XACL_CLASS_OTHER, /* any other protocol */
    XACL_CLASS_NO_L3, /* an IP packet whose IP header did not parse */
    XACL_N_CLASSES
};

/* The fields of a block that do not depend on the family.  A lane
 * matches when every masked difference is zero and both ports are in
 * range. */
struct xacl_block_l4 {
    xacl_vec meta;      /* VLAN << 8 | IP protocol */
    xacl_vec meta_mask; /* 0xffff00 with an isolation id, | 0xff with a
                           protocol */
    xacl_vec sport_lo;  /* source port range start, -1 for ANY */
    xacl_vec sport_hi;  /* source port range end */
    xacl_vec dport_lo;  /* destination port range start, -1 for ANY */
    xacl_vec dport_hi;  /* destination port range end */
};

/* A block of an IPv4 list. */
struct xacl_block4 {
    xacl_vec src;            /* source address, masked */
    xacl_vec src_mask;       /* source prefix mask, 0 for ANY */
    xacl_vec dst;            /* destination address, masked */
    xacl_vec dst_mask;       /* destination prefix mask */
    struct xacl_block_l4 l4; /* the rest */
};

/* A block of an IPv6 list: addresses as four 32-bit words. */
struct xacl_block6 {
    xacl_vec src[4];         /* source address, masked */
    xacl_vec src_mask[4];    /* source prefix mask */
    xacl_vec dst[4];         /* destination address, masked */
    xacl_vec dst_mask[4];    /* destination prefix mask */
    struct xacl_block_l4 l4; /* the rest */
};

/* What a matching rule decides, one per lane of the blocks. */
struct xacl_decision {
    uint32_t rule_index; /* index in the array given to compile */
    uint32_t timeout_s;  /* idle timeout if stateful, else 0 */
    uint16_t weight;     /* the rule's weight */
    uint8_t action;      /* enum vsw_xacl_action */
    bool stateful;       /* creates flow state */
};

/* One list: 'n' rules in the blocks from 'block'. */
struct xacl_list {
    uint32_t block; /* first block */
    uint32_t n;     /* number of rules */
};

/* Immutable once compiled.  Every list is sorted by descending weight. */
struct vsw_xacl_table {
    struct xacl_list lists[2][XACL_N_FAMILIES][XACL_N_CLASSES]; /* by
                                         direction, family, class */
    struct xacl_block4 *blocks4; /* blocks of the IPv4 lists */
    struct xacl_block6 *blocks6; /* blocks of the IPv6 lists */
    struct xacl_decision *dec4;  /* XACL_LANES per IPv4 block */
    struct xacl_decision *dec6;  /* XACL_LANES per IPv6 block */
    size_t n_rules;              /* rules compiled */
    bool has_stateful;           /* any rule is stateful */
};

static uint32_t
load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* The ICMP protocol of 'family'. */
static uint8_t
xacl_icmp_proto(enum xacl_family family)
{
    return family == XACL_V4 ? IP_PROTO_ICMP : IP_PROTO_ICMPV6;
}

/* The class of a parsed IP packet of protocol 'proto'. */
static enum xacl_class
xacl_class_of(enum xacl_family family, uint8_t proto)
{
    if (proto == IP_PROTO_TCP) {
        return XACL_CLASS_TCP;
    } else if (proto == IP_PROTO_UDP) {
        return XACL_CLASS_UDP;
    } else if (proto == xacl_icmp_proto(family)) {
        return XACL_CLASS_ICMP;
    }
    return XACL_CLASS_OTHER;
}

/* A packet in the form the match functions read: each field in every
 * lane. */
struct xacl_packet {
    xacl_vec src[4]; /* source address words (IPv4: [3] only) */
    xacl_vec dst[4]; /* destination address words */
    xacl_vec sport;  /* source port, -1 if the packet has none */
    xacl_vec dport;  /* destination port, -1 if none */
    xacl_vec meta;   /* VLAN << 8 | IP protocol */
};

/* Sets the lanes of '*miss' in which 'p' fails the family-independent
 * fields of 'b' to nonzero, leaves the others alone.  (Vectors go by
 * pointer: by value, their ABI depends on the instruction set.) */
static inline void
xacl_l4_miss(const struct xacl_block_l4 *b, const struct xacl_packet *p,
             xacl_vec *miss)
{
    *miss |= ((p->meta ^ b->meta) & b->meta_mask) | (p->sport < b->sport_lo) |
             (p->sport > b->sport_hi) | (p->dport < b->dport_lo) |
             (p->dport > b->dport_hi);
}

/* The first lane in which '*miss' is zero, or -1. */
static inline int
xacl_first_hit(const xacl_vec *miss)
{
    union {
        xacl_vec v;
        uint64_t q[XACL_LANES / 2];
        int32_t lane[XACL_LANES];
    } hit = {.v = *miss == 0};
    uint64_t any = 0;

    for (int i = 0; i < XACL_LANES / 2; i++) {
        any |= hit.q[i];
    }
    if (any) {
        for (int i = 0; i < XACL_LANES; i++) {
            if (hit.lane[i]) {
                return i;
            }
        }
    }
    return -1;
}

/* Returns the index of the first of the 'n' rules in the blocks at 'b'
 * that 'p' matches, or 'n'. */
static uint32_t
xacl_walk4(const struct xacl_block4 *b, uint32_t n,
           const struct xacl_packet *p)
{
    for (uint32_t i = 0; i * XACL_LANES < n; i++) {
        xacl_vec miss = ((p->src[3] ^ b[i].src) & b[i].src_mask) |
                        ((p->dst[3] ^ b[i].dst) & b[i].dst_mask);
        xacl_l4_miss(&b[i].l4, p, &miss);
        int lane = xacl_first_hit(&miss);
        if (lane >= 0) {
            return i * XACL_LANES + (uint32_t)lane;
        }
    }
    return n;
}

static uint32_t
xacl_walk6(const struct xacl_block6 *b, uint32_t n,
           const struct xacl_packet *p)
{
    for (uint32_t i = 0; i * XACL_LANES < n; i++) {
        xacl_vec miss = {0};
        for (int w = 0; w < 4; w++) {
            miss |= ((p->src[w] ^ b[i].src[w]) & b[i].src_mask[w]) |
                    ((p->dst[w] ^ b[i].dst[w]) & b[i].dst_mask[w]);
        }
        xacl_l4_miss(&b[i].l4, p, &miss);
        int lane = xacl_first_hit(&miss);
        if (lane >= 0) {
            return i * XACL_LANES + (uint32_t)lane;
        }
    }
    return n;
}

static void
xacl_result_clear(struct vsw_xacl_result *result)
{
    memset(result, 0, sizeof *result);
    result->verdict = VSW_XACL_NO_MATCH;
    result->rule_index = VSW_XACL_NO_RULE;
}

/* The same value in every lane. */
static xacl_vec
xacl_splat(int32_t value)
{
    return (xacl_vec){0} + value;
}

/* Fills 'p' from 'key' of family 'family' in 'vlan' and returns the class
 * of list it walks. */
static enum xacl_class
xacl_packet_init(struct xacl_packet *p, enum xacl_family family, uint16_t vlan,
                 const struct vsw_flow_key *key)
{
    bool has_l3 = key->l3_end != 0;
    int32_t sport = -1, dport = -1;

    /* Without an IP header (it did not parse) nothing but the VLAN is
     * known: the NO_L3 lists hold only rules that ask for no more, and the
     * zero addresses meet only zero masks. */
    for (int w = family == XACL_V4 ? 3 : 0; w < 4; w++) {
        p->src[w] =
            xacl_splat(has_l3 ? (int32_t)load_be32(key->ip_src + 4 * w) : 0);
        p->dst[w] =
            xacl_splat(has_l3 ? (int32_t)load_be32(key->ip_dst + 4 * w) : 0);
    }
    /* The parser sets 'l4_ofs' only for a whole TCP/UDP/ICMP header of a
     * first (or only) fragment. */
    if (has_l3 &&
        (key->ip_proto == IP_PROTO_TCP || key->ip_proto == IP_PROTO_UDP) &&
        key->l4_ofs) {
        sport = key->tp_src;
        dport = key->tp_dst;
    }
    p->sport = xacl_splat(sport);
    p->dport = xacl_splat(dport);
    p->meta = xacl_splat((int32_t)vlan << 8 | (has_l3 ? key->ip_proto : 0));
    return has_l3 ? xacl_class_of(family, key->ip_proto) : XACL_CLASS_NO_L3;
}

enum vsw_xacl_verdict
vsw_xacl_classify(const struct vsw_xacl_table *table, uint8_t direction,
                  uint16_t vlan, const struct vsw_flow_key *key,
                  struct vsw_xacl_result *result)
{
    enum xacl_family family;
    struct xacl_packet p;
    uint32_t i;
    const struct xacl_decision *dec;

    xacl_result_clear(result);
    if (!table || direction > VSW_XACL_DIR_OUT) {
        return VSW_XACL_NO_MATCH;
    }
    if (key->eth_type == VSW_ETH_TYPE_IPV4) {
        family = XACL_V4;
    } else if (key->eth_type == VSW_ETH_TYPE_IPV6) {
        family = XACL_V6;
    } else {
        return VSW_XACL_NO_MATCH;
    }

    enum xacl_class cls = xacl_packet_init(&p, family, vlan, key);
    const struct xacl_list *list = &table->lists[direction][family][cls];
    if (family == XACL_V4) {
        i = xacl_walk4(table->blocks4 + list->block, list->n, &p);
        dec = table->dec4 + (size_t)list->block * XACL_LANES + i;
    } else {
        i = xacl_walk6(table->blocks6 + list->block, list->n, &p);
        dec = table->dec6 + (size_t)list->block * XACL_LANES + i;
    }
    if (i == list->n) {
        return VSW_XACL_NO_MATCH;
    }

    result->verdict =
        dec->action == VSW_XACL_ACTION_ALLOW ? VSW_XACL_ALLOW : VSW_XACL_DENY;
    result->stateful = dec->stateful;
    result->weight = dec->weight;
    result->rule_index = dec->rule_index;
    result->idle_timeout_s = dec->timeout_s;
    return result->verdict;
}

enum vsw_xacl_verdict
vsw_xacl_evaluate(const struct vsw_xacl_table *table, struct vsw_conntrack *ct,
                  uint32_t port_id, uint8_t direction, uint16_t vlan,
                  const struct vsw_flow_key *key, int64_t now_ms,
                  struct vsw_xacl_result *result)
{
    xacl_result_clear(result);
    if (!table || (key->eth_type != VSW_ETH_TYPE_IPV4 &&
                   key->eth_type != VSW_ETH_TYPE_IPV6)) {
        return VSW_XACL_NO_MATCH;
    }

    if (ct && table->has_stateful &&
        vsw_conntrack_lookup(ct, port_id, vlan, key, now_ms)) {
        result->verdict = VSW_XACL_ALLOW;
        result->by_state = true;
        return VSW_XACL_ALLOW;
    }

    enum vsw_xacl_verdict verdict =
        vsw_xacl_classify(table, direction, vlan, key, result);
    if (verdict == VSW_XACL_ALLOW && result->stateful && ct &&
        vsw_conntrack_can_track(key)) {
        result->state_error = vsw_conntrack_insert_dir(
            ct, port_id, vlan, key, direction == VSW_XACL_DIR_OUT,
            result->idle_timeout_s, now_ms);
        result->state_created = !result->state_error;
    }
    return verdict;
}

const char *
vsw_xacl_verdict_to_string(enum vsw_xacl_verdict verdict)
{
    switch (verdict) {
    case VSW_XACL_NO_MATCH:
        return "no-match";
    case VSW_XACL_ALLOW:
        return "allow";
    case VSW_XACL_DENY:
        return "deny";
    }
    return "unknown";
}

size_t
vsw_xacl_n_rules(const struct vsw_xacl_table *table)
{
    return table ? table->n_rules : 0;
}

bool
vsw_xacl_has_stateful(const struct vsw_xacl_table *table)
{
    return table && table->has_stateful;
}

void
vsw_xacl_destroy(struct vsw_xacl_table *table)
{
    if (table) {
        free(table->blocks4);
        free(table->blocks6);
        free(table->dec4);
        free(table->dec6);
        free(table);
    }
}

/* Compilation. */

static bool
xacl_ports_any(const struct vsw_xacl_ports *ports)
{
    return ports->lo == 0 && ports->hi == UINT16_MAX;
}

static bool
xacl_rule_has_ports(const struct vsw_xacl_rule *r)
{
    return !xacl_ports_any(&r->local_port) || !xacl_ports_any(&r->remote_port);
}

/* The family of 'r''s addresses: 0 (ANY), 4 or 6.  Valid rules only. */
static uint8_t
xacl_rule_family(const struct vsw_xacl_rule *r)
{
    return r->local_addr.family ? r->local_addr.family : r->remote_addr.family;
}

/* Whether valid rule 'r' belongs on the lists of 'family' and 'cls'
 * (in its own direction). */
static bool
xacl_rule_in_list(const struct vsw_xacl_rule *r, enum xacl_family family,
                  enum xacl_class cls)
{
    uint8_t rule_family = xacl_rule_family(r);

    if (rule_family && rule_family != (family == XACL_V4 ? 4 : 6)) {
        return false;
    }
    if (cls == XACL_CLASS_NO_L3) {
        return r->protocol == VSW_XACL_PROTO_ANY && !rule_family &&
               !xacl_rule_has_ports(r);
    }
    if (r->protocol == VSW_XACL_PROTO_ANY) {
        return !xacl_rule_has_ports(r) || cls == XACL_CLASS_TCP ||
               cls == XACL_CLASS_UDP;
    }
    if (r->protocol == VSW_XACL_PROTO_ICMP) {
        return cls == XACL_CLASS_ICMP;
    }
    return xacl_class_of(family, (uint8_t)r->protocol) == cls;
}

/* Sets lane 'lane' of 'range_lo'/'range_hi' to 'ports', ANY taking in
 * the -1 of packets without ports. */
static void
xacl_compile_ports(const struct vsw_xacl_ports *ports, xacl_vec *range_lo,
                   xacl_vec *range_hi, int lane)
{
    (*range_lo)[lane] = xacl_ports_any(ports) ? -1 : ports->lo;
    (*range_hi)[lane] = ports->hi;
}

/* Fills lane 'lane' of 'b' from valid rule 'r' for lists of 'family'. */
static void
xacl_compile_l4(const struct vsw_xacl_rule *r, enum xacl_family family,
                struct xacl_block_l4 *b, int lane)
{
    bool in = r->direction == VSW_XACL_DIR_IN;
    int32_t meta = 0, mask = 0;

    xacl_compile_ports(in ? &r->remote_port : &r->local_port, &b->sport_lo,
                       &b->sport_hi, lane);
    xacl_compile_ports(in ? &r->local_port : &r->remote_port, &b->dport_lo,
                       &b->dport_hi, lane);
    if (r->isolation_id) {
        meta = (int32_t)r->isolation_id << 8;
        mask = 0xffff00;
    }
    if (r->protocol == VSW_XACL_PROTO_ICMP) {
        meta |= xacl_icmp_proto(family);
        mask |= 0xff;
    } else if (r->protocol != VSW_XACL_PROTO_ANY) {
        meta |= r->protocol;
        mask |= 0xff;
    }
    b->meta[lane] = meta;
    b->meta_mask[lane] = mask;
}

/* Makes every lane of the 'n' blocks at 'blocks', each 'size' bytes with
 * its family-independent part at 'l4_offset', one that no packet
 * matches, until a rule fills it in. */
static void
xacl_blocks_init(void *blocks, size_t n, size_t size, size_t l4_offset)
{
    for (size_t i = 0; i < n; i++) {
        char *block = (char *)blocks + i * size;
        struct xacl_block_l4 *l4 = (struct xacl_block_l4 *)(block + l4_offset);

        memset(block, 0, size);
        for (int lane = 0; lane < XACL_LANES; lane++) {
            l4->meta[lane] = XACL_META_NEVER;
            l4->meta_mask[lane] = XACL_META_NEVER;
        }
    }
}

/* Word 'w' of the mask of a 'plen'-bit prefix. */
static int32_t
xacl_mask_word(int plen, int w)
{
    int bits = plen - 32 * w;

    return (int32_t)(bits <= 0    ? 0
                     : bits >= 32 ? UINT32_MAX
                                  : UINT32_MAX << (32 - bits));
}

/* Sets lane 'lane' of the 'n_words' words at 'addr' and 'mask' to
 * 'prefix': its last 'n_words' address words (1 for IPv4). */
static void
xacl_compile_prefix(const struct vsw_xacl_prefix *prefix, xacl_vec *addr,
                    xacl_vec *mask, int n_words, int lane)
{
    int plen = prefix->family ? prefix->plen : 0;

    for (int w = 0; w < n_words; w++) {
        int32_t m = xacl_mask_word(plen, w);
        uint32_t word = load_be32(prefix->addr + 4 * (4 - n_words + w));

        mask[w][lane] = m;
        addr[w][lane] = (int32_t)word & m;
    }
}

static void
xacl_compile_decision(const struct vsw_xacl_rule *r, uint32_t rule_index,
                      struct xacl_decision *dec)
{
    dec->rule_index = rule_index;
    dec->weight = r->weight;
    dec->action = r->action;
    dec->stateful = r->stateful;
    dec->timeout_s = r->stateful ? r->idle_timeout_s : 0;
}

/* Fills entry 'at' of the lists of 'family' in 'table' from valid rule
 * 'r', rule 'rule_index' of the caller's array. */
static void
xacl_compile_entry(struct vsw_xacl_table *table, enum xacl_family family,
                   size_t at, const struct vsw_xacl_rule *r,
                   uint32_t rule_index)
{
    bool in = r->direction == VSW_XACL_DIR_IN;
    const struct vsw_xacl_prefix *src = in ? &r->remote_addr : &r->local_addr;
    const struct vsw_xacl_prefix *dst = in ? &r->local_addr : &r->remote_addr;
    int lane = (int)(at % XACL_LANES);

    if (family == XACL_V4) {
        struct xacl_block4 *b = &table->blocks4[at / XACL_LANES];
        xacl_compile_prefix(src, &b->src, &b->src_mask, 1, lane);
        xacl_compile_prefix(dst, &b->dst, &b->dst_mask, 1, lane);
        xacl_compile_l4(r, family, &b->l4, lane);
        xacl_compile_decision(r, rule_index, &table->dec4[at]);
    } else {
        struct xacl_block6 *b = &table->blocks6[at / XACL_LANES];
        xacl_compile_prefix(src, b->src, b->src_mask, 4, lane);
        xacl_compile_prefix(dst, b->dst, b->dst_mask, 4, lane);
        xacl_compile_l4(r, family, &b->l4, lane);
        xacl_compile_decision(r, rule_index, &table->dec6[at]);
    }
}

static void
xacl_error(char *err, size_t errlen, const char *fmt, ...)
{
    va_list args;

    if (errlen) {
        va_start(args, fmt);
        vsnprintf(err, errlen, fmt, args);
        va_end(args);
    }
}

static const char *
xacl_direction_name(uint8_t direction)
{
    return direction == VSW_XACL_DIR_IN ? "in" : "out";
}

static bool
xacl_prefix_is_valid(const struct vsw_xacl_prefix *prefix)
{
    switch (prefix->family) {
    case 0:
        return true;
    case 4:
        return prefix->plen <= 32;
    case 6:
        return prefix->plen <= 128;
    default:
        return false;
    }
}

/* Checks rule 'i' on its own.  Returns 0 or -EINVAL with a message. */
static int
xacl_check_rule(const struct vsw_xacl_rule *r, size_t i, char *err,
                size_t errlen)
{
    const char *problem = NULL;

    if (r->action > VSW_XACL_ACTION_DENY) {
        problem = "unknown action";
    } else if (r->direction > VSW_XACL_DIR_OUT) {
        problem = "unknown direction (extended rules are \"in\" or \"out\")";
    } else if (r->protocol < VSW_XACL_PROTO_ICMP || r->protocol > 255) {
        problem = "protocol out of range";
    } else if (r->isolation_id > XACL_MAX_VLAN) {
        problem = "isolation id out of range (0..4094)";
    } else if (!xacl_prefix_is_valid(&r->local_addr) ||
               !xacl_prefix_is_valid(&r->remote_addr)) {
        problem = "bad address family or prefix length";
    } else if (r->local_addr.family && r->remote_addr.family &&
               r->local_addr.family != r->remote_addr.family) {
        problem = "local and remote addresses of different families";
    } else if (r->local_port.lo > r->local_port.hi ||
               r->remote_port.lo > r->remote_port.hi) {
        problem = "port range ends before it starts";
    } else if (xacl_rule_has_ports(r) && r->protocol != VSW_XACL_PROTO_ANY &&
               r->protocol != IP_PROTO_TCP && r->protocol != IP_PROTO_UDP) {
        problem = "ports need protocol tcp, udp or any";
    } else if (r->stateful && r->action != VSW_XACL_ACTION_ALLOW) {
        problem = "only allow rules can be stateful";
    } else if (r->stateful && (r->idle_timeout_s < 1 ||
                               r->idle_timeout_s > VSW_XACL_MAX_TIMEOUT_S)) {
        problem = "idle timeout out of range (1..86400 s)";
    }
    if (problem) {
        xacl_error(err, errlen, "rule %zu (weight %" PRIu16 "): %s", i,
                   r->weight, problem);
        return -EINVAL;
    }
    return 0;
}

/* qsort() context: the rules being compiled. */
struct xacl_sort_entry {
    const struct vsw_xacl_rule *rule; /* the rule */
    uint32_t index;                   /* its index in the caller's array */
};

/* By direction, then descending weight. */
static int
xacl_sort_compare(const void *a_, const void *b_)
{
    const struct vsw_xacl_rule *a = ((const struct xacl_sort_entry *)a_)->rule;
    const struct vsw_xacl_rule *b = ((const struct xacl_sort_entry *)b_)->rule;

    if (a->direction != b->direction) {
        return a->direction < b->direction ? -1 : 1;
    }
    return (a->weight < b->weight) - (a->weight > b->weight);
}

/* Places the rules of 'sorted' (n) on the lists of 'table', whose arrays
 * are allocated and initialized. */
static void
xacl_fill_lists(struct vsw_xacl_table *table,
                const struct xacl_sort_entry *sorted, size_t n)
{
    uint32_t next_block[XACL_N_FAMILIES] = {0, 0};

    for (int dir = 0; dir < 2; dir++) {
        for (int fam = 0; fam < XACL_N_FAMILIES; fam++) {
            for (int cls = 0; cls < XACL_N_CLASSES; cls++) {
                struct xacl_list *list = &table->lists[dir][fam][cls];

                list->block = next_block[fam];
                for (size_t i = 0; i < n; i++) {
                    const struct vsw_xacl_rule *r = sorted[i].rule;
                    if (r->direction == dir &&
                        xacl_rule_in_list(r, fam, cls)) {
                        size_t at =
                            (size_t)list->block * XACL_LANES + list->n++;
                        xacl_compile_entry(table, fam, at, r, sorted[i].index);
                    }
                }
                next_block[fam] += (list->n + XACL_LANES - 1) / XACL_LANES;
            }
        }
    }
}

/* Blocks the lists of each family need for the 'n' rules at 'rules'. */
static void
xacl_count_blocks(const struct vsw_xacl_rule *rules, size_t n,
                  size_t blocks[XACL_N_FAMILIES])
{
    for (int dir = 0; dir < 2; dir++) {
        for (int fam = 0; fam < XACL_N_FAMILIES; fam++) {
            for (int cls = 0; cls < XACL_N_CLASSES; cls++) {
                size_t count = 0;
                for (size_t i = 0; i < n; i++) {
                    count += rules[i].direction == dir &&
                             xacl_rule_in_list(&rules[i], fam, cls);
                }
                blocks[fam] += (count + XACL_LANES - 1) / XACL_LANES;
            }
        }
    }
}

/* Allocates 'n' (at least one) blocks of 'size' bytes, aligned for the
 * vectors in them, and their decisions in '*dec'. */
static void *
xacl_alloc_blocks(size_t n, size_t size, struct xacl_decision **dec)
{
    n = n ? n : 1;
    *dec = calloc(n * XACL_LANES, sizeof **dec);
    return aligned_alloc(_Alignof(xacl_vec), n * size);
}

/* Rules are checked one by one first, so that the message names the
 * first bad rule in the caller's order, then for duplicate weights. */
int
vsw_xacl_compile(const struct vsw_xacl_rule *rules, size_t n,
                 struct vsw_xacl_table **tablep, char *err, size_t errlen)
{
    struct vsw_xacl_table *table = NULL;
    struct xacl_sort_entry *sorted = NULL;
    size_t blocks[XACL_N_FAMILIES] = {0, 0};
    int error;

    *tablep = NULL;
    xacl_error(err, errlen, "%s", "");
    if (n > VSW_XACL_MAX_RULES) {
        xacl_error(err, errlen, "%zu rules, at most %d allowed", n,
                   VSW_XACL_MAX_RULES);
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        error = xacl_check_rule(&rules[i], i, err, errlen);
        if (error) {
            return error;
        }
    }

    sorted = calloc(n ? n : 1, sizeof *sorted);
    table = calloc(1, sizeof *table);
    if (!sorted || !table) {
        goto nomem;
    }
    for (size_t i = 0; i < n; i++) {
        sorted[i].rule = &rules[i];
        sorted[i].index = (uint32_t)i;
    }
    qsort(sorted, n, sizeof *sorted, xacl_sort_compare);
    for (size_t i = 1; i < n; i++) {
        const struct vsw_xacl_rule *a = sorted[i - 1].rule;
        const struct vsw_xacl_rule *b = sorted[i].rule;
        if (a->direction == b->direction && a->weight == b->weight) {
            uint32_t first = sorted[i - 1].index < sorted[i].index
                                 ? sorted[i - 1].index
                                 : sorted[i].index;
            uint32_t second = sorted[i - 1].index ^ sorted[i].index ^ first;
            xacl_error(err, errlen,
                       "rule %" PRIu32 ": weight %" PRIu16
                       " is already used by rule %" PRIu32 " in direction %s",
                       second, b->weight, first,
                       xacl_direction_name(b->direction));
            free(sorted);
            free(table);
            return -EINVAL;
        }
    }

    xacl_count_blocks(rules, n, blocks);
    table->blocks4 = xacl_alloc_blocks(blocks[XACL_V4], sizeof *table->blocks4,
                                       &table->dec4);
    table->blocks6 = xacl_alloc_blocks(blocks[XACL_V6], sizeof *table->blocks6,
                                       &table->dec6);
    if (!table->blocks4 || !table->dec4 || !table->blocks6 || !table->dec6) {
        goto nomem;
    }
    xacl_blocks_init(table->blocks4, blocks[XACL_V4], sizeof *table->blocks4,
                     offsetof(struct xacl_block4, l4));
    xacl_blocks_init(table->blocks6, blocks[XACL_V6], sizeof *table->blocks6,
                     offsetof(struct xacl_block6, l4));
    xacl_fill_lists(table, sorted, n);
    table->n_rules = n;
    for (size_t i = 0; i < n; i++) {
        table->has_stateful |= rules[i].stateful;
    }
    free(sorted);
    *tablep = table;
    return 0;

nomem:
    free(sorted);
    vsw_xacl_destroy(table);
    xacl_error(err, errlen, "out of memory");
    return -ENOMEM;
}

/* Rules and their text forms. */

void
vsw_xacl_rule_init(struct vsw_xacl_rule *rule)
{
    memset(rule, 0, sizeof *rule);
    rule->action = VSW_XACL_ACTION_ALLOW;
    rule->direction = VSW_XACL_DIR_IN;
    rule->protocol = VSW_XACL_PROTO_ANY;
    rule->local_port.hi = UINT16_MAX;
    rule->remote_port.hi = UINT16_MAX;
    rule->idle_timeout_s = VSW_XACL_DEFAULT_TIMEOUT_S;
}

/* Parses the decimal number in [s, end) (no sign, no spaces, at least one
 * digit) into '*value' if it is at most 'max'. */
static int
xacl_parse_number(const char *s, const char *end, uint32_t max,
                  uint32_t *value)
{
    uint32_t v = 0;

    if (s == end) {
        return -EINVAL;
    }
    for (; s < end; s++) {
        if (*s < '0' || *s > '9') {
            return -EINVAL;
        }
        v = v * 10 + (uint32_t)(*s - '0');
        if (v > max) {
            return -EINVAL;
        }
    }
    *value = v;
    return 0;
}

int
vsw_xacl_parse_action(const char *s, uint8_t *action)
{
    if (!strcasecmp(s, "allow")) {
        *action = VSW_XACL_ACTION_ALLOW;
    } else if (!strcasecmp(s, "deny")) {
        *action = VSW_XACL_ACTION_DENY;
    } else {
        return -EINVAL;
    }
    return 0;
}

/* Hyper-V's own spellings, "Inbound" and "Outbound", are accepted too. */
int
vsw_xacl_parse_direction(const char *s, uint8_t *direction)
{
    if (!strcasecmp(s, "in") || !strcasecmp(s, "inbound")) {
        *direction = VSW_XACL_DIR_IN;
    } else if (!strcasecmp(s, "out") || !strcasecmp(s, "outbound")) {
        *direction = VSW_XACL_DIR_OUT;
    } else {
        return -EINVAL;
    }
    return 0;
}

int
vsw_xacl_parse_protocol(const char *s, int16_t *protocol)
{
    static const struct {
        const char *name;
        int16_t protocol;
    } names[] = {
        {"any", VSW_XACL_PROTO_ANY}, {"tcp", IP_PROTO_TCP},
        {"udp", IP_PROTO_UDP},       {"icmp", VSW_XACL_PROTO_ICMP},
        {"icmpv6", IP_PROTO_ICMPV6},
    };
    uint32_t number;

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!strcasecmp(s, names[i].name)) {
            *protocol = names[i].protocol;
            return 0;
        }
    }
    if (xacl_parse_number(s, s + strlen(s), 255, &number)) {
        return -EINVAL;
    }
    *protocol = (int16_t)number;
    return 0;
}

int
vsw_xacl_parse_ports(const char *s, struct vsw_xacl_ports *ports)
{
    const char *dash = strchr(s, '-');
    const char *end = s + strlen(s);
    uint32_t lo, hi;

    if (!strcasecmp(s, "any")) {
        ports->lo = 0;
        ports->hi = UINT16_MAX;
        return 0;
    }
    if (xacl_parse_number(s, dash ? dash : end, UINT16_MAX, &lo) ||
        xacl_parse_number(dash ? dash + 1 : s, end, UINT16_MAX, &hi) ||
        lo > hi) {
        return -EINVAL;
    }
    ports->lo = (uint16_t)lo;
    ports->hi = (uint16_t)hi;
    return 0;
}

/* Clears the bits of 'addr' past 'plen'. */
static void
xacl_clear_host_bits(uint8_t addr[16], unsigned plen)
{
    for (unsigned bit = plen; bit < 128; bit++) {
        addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
    }
}

static bool
xacl_is_ipv4_mapped(const uint8_t addr[16])
{
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0,    0,
                                       0, 0, 0, 0, 0xff, 0xff};

    return !memcmp(addr, prefix, sizeof prefix);
}

int
vsw_xacl_parse_prefix(const char *s, struct vsw_xacl_prefix *prefix)
{
    char text[INET6_ADDRSTRLEN];
    const char *slash = strchr(s, '/');
    size_t len = slash ? (size_t)(slash - s) : strlen(s);
    struct vsw_xacl_prefix p;
    uint32_t plen;

    memset(&p, 0, sizeof p);
    if (!strcasecmp(s, "any")) {
        *prefix = p;
        return 0;
    }
    if (len >= sizeof text) {
        return -EINVAL;
    }
    memcpy(text, s, len);
    text[len] = '\0';

    if (inet_pton(AF_INET, text, p.addr + 12) == 1) {
        p.family = 4;
        p.addr[10] = p.addr[11] = 0xff;
        plen = 32;
    } else if (inet_pton(AF_INET6, text, p.addr) == 1) {
        p.family = 6;
        plen = 128;
    } else {
        return -EINVAL;
    }
    if (slash &&
        xacl_parse_number(slash + 1, slash + strlen(slash), plen, &plen)) {
        return -EINVAL;
    }

    if (p.family == 6 && plen >= 96 && xacl_is_ipv4_mapped(p.addr)) {
        p.family = 4;
        plen -= 96;
    }
    p.plen = (uint8_t)plen;
    xacl_clear_host_bits(p.addr, p.family == 4 ? 96 + plen : plen);
    *prefix = p;
    return 0;
}

static void
xacl_format_prefix(const struct vsw_xacl_prefix *prefix, char *buf,
                   size_t size)
{
    char text[INET6_ADDRSTRLEN];

    if (!prefix->family) {
        snprintf(buf, size, "any");
        return;
    }
    inet_ntop(prefix->family == 4 ? AF_INET : AF_INET6,
              prefix->family == 4 ? prefix->addr + 12 : prefix->addr, text,
              sizeof text);
    if (prefix->plen == (prefix->family == 4 ? 32 : 128)) {
        snprintf(buf, size, "%s", text);
    } else {
        snprintf(buf, size, "%s/%" PRIu8, text, prefix->plen);
    }
}

static void
xacl_format_ports(const struct vsw_xacl_ports *ports, char *buf, size_t size)
{
    if (xacl_ports_any(ports)) {
        snprintf(buf, size, "any");
    } else if (ports->lo == ports->hi) {
        snprintf(buf, size, "%" PRIu16, ports->lo);
    } else {
        snprintf(buf, size, "%" PRIu16 "-%" PRIu16, ports->lo, ports->hi);
    }
}

static void
xacl_format_protocol(int16_t protocol, char *buf, size_t size)
{
    switch (protocol) {
    case VSW_XACL_PROTO_ANY:
        snprintf(buf, size, "any");
        break;
    case VSW_XACL_PROTO_ICMP:
        snprintf(buf, size, "icmp");
        break;
    case IP_PROTO_TCP:
        snprintf(buf, size, "tcp");
        break;
    case IP_PROTO_UDP:
        snprintf(buf, size, "udp");
        break;
    default:
        snprintf(buf, size, "%" PRId16, protocol);
        break;
    }
}

char *
vsw_xacl_rule_format(const struct vsw_xacl_rule *rule, char *buf, size_t size)
{
    char local[INET6_ADDRSTRLEN + 4], remote[INET6_ADDRSTRLEN + 4];
    char lport[12], rport[12], proto[8], extra[48] = "";
    int n = 0;

    xacl_format_prefix(&rule->local_addr, local, sizeof local);
    xacl_format_prefix(&rule->remote_addr, remote, sizeof remote);
    xacl_format_ports(&rule->local_port, lport, sizeof lport);
    xacl_format_ports(&rule->remote_port, rport, sizeof rport);
    xacl_format_protocol(rule->protocol, proto, sizeof proto);
    if (rule->isolation_id) {
        n = snprintf(extra, sizeof extra, " isolation-id %" PRIu16,
                     rule->isolation_id);
    }
    if (rule->stateful && n >= 0 && (size_t)n < sizeof extra) {
        snprintf(extra + n, sizeof extra - (size_t)n,
                 " stateful idle-timeout %" PRIu32, rule->idle_timeout_s);
    }
    snprintf(buf, size,
             "weight %" PRIu16 " %s %s %s local %s port %s remote %s "
             "port %s%s",
             rule->weight, xacl_direction_name(rule->direction),
             rule->action == VSW_XACL_ACTION_ALLOW ? "allow" : "deny", proto,
             local, lport, remote, rport, extra);
    return buf;
}
