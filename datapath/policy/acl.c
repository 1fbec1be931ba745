/*
 * Basic port ACLs: rule parsing, compilation into tries, classification.
 *
 * acl.h states the semantics and the shape of the data structure; this
 * comment says how the tries are laid out.
 *
 * Tries.  There are eight: one per direction, address family and side
 * (local, remote).  An address is a 128-bit string, bits left-aligned in
 * two uint64_t ('hi', 'lo'); an IPv4 address is the top 32 bits of 'hi'.
 * Each trie holds the distinct prefixes of its rules; a prefix carries the
 * lowest id of each action that uses it ("acl_prefix_rec").  A node
 * indexes the 6 address bits at 'pos': slot s either continues in a child
 * (bit s of 'child_map'; the children of a node are contiguous, in slot
 * order, from 'child_base') or ends in a leaf.  Leaves are stored
 * run-length compressed: bit s of 'leaf_map' is set where a run of equal
 * leaves starts, so slot s's leaf is number popcount(leaf_map & bits 0..s)
 * - 1 from 'leaf_base'.  A leaf holds the answer for every address of its
 * slot: the longest allow/deny prefix (its length and lowest deny and
 * allow ids) and the longest meter prefix, computed at build time by
 * expanding each prefix over the slots it covers, shorter ones first, and
 * handing each slot's answer down to its child as the child's default.
 *
 * Path compression.  Where every prefix below a node is longer than the
 * node's 6 bits and all of them share those bits, the node would have one
 * child and 63 leaves equal to the inherited default.  Such levels are
 * skipped: the next node that is really needed is built at the deeper
 * 'pos' with 'skip' set, 'key' holding the address bits above 'pos' that
 * all its prefixes share, and 'skip_leaf' the inherited default that an
 * address differing in those bits gets.
 *
 * Direct pointing.  A trie with DP_MIN_PREFIXES prefixes or more starts
 * with an array indexed by its first 'dp_bits' address bits instead of a
 * root node: 'dp_bits' is chosen for two to four slots per prefix, and a
 * slot holds its answer inline or the node where the walk goes on.  Most
 * lookups in a big trie end after one slot, like those in a small trie
 * after its root; without it, 10 000 uniformly random rules cost twice
 * what 10 do, with it about 1.4 times (the rest is cache misses).
 *
 * Memory: every prefix of length L creates at most one node per 6 bits of
 * L below the point where it parts from the others, and path compression
 * removes the single-child ones, so a table is O(rules) nodes in practice
 * and O(rules * 22) at worst; direct-pointing slots are at most four per
 * prefix.
 */
#include "acl.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define STRIDE 6 /* address bits per trie node */
#define FANOUT (1u << STRIDE)

/* Everything vsw_acl_classify() calls is inlined into it, so that each of
 * its clones gets its own copy. */
#define ACL_INLINE inline __attribute__((always_inline))

/* A lookup step counts bits twice.  Builds for baseline x86-64 have no
 * POPCNT instruction and call libgcc instead, which costs a third of a
 * lookup: there vsw_acl_classify() is compiled twice and the dynamic
 * loader picks the POPCNT clone on every CPU since 2008. */
/* ThreadSanitizer instruments the clones' resolver, which the loader runs
 * before the sanitizer's runtime is up: no clones in such builds.  Clang
 * (up to 15 at least) names the dispatcher of a C function's clones
 * "vsw_acl_classify.ifunc", so no other file could call it: no clones in
 * clang builds either (the fuzz targets, tests/fuzz/build.sh). */
#if defined(__SANITIZE_THREAD__) || defined(__clang__)
#define ACL_CLASSIFY_CLONES
#elif defined(__x86_64__) && !defined(__POPCNT__)
#define ACL_CLASSIFY_CLONES __attribute__((target_clones("popcnt", "default")))
#else
#define ACL_CLASSIFY_CLONES
#endif

#define ICMPV6_PROTO 58
#define ICMPV6_ND_NS 135
#define ICMPV6_ND_NA 136

enum {
    FAM_V4,
    FAM_V6,
    N_FAMS
};
enum {
    SIDE_LOCAL,
    SIDE_REMOTE,
    N_SIDES
};
#define N_DIRS  2
#define N_TRIES (N_DIRS * N_FAMS * N_SIDES)

/* The lowest rule id of each of the two verdict actions, 0 for none. */
struct acl_ids {
    uint32_t deny_id;  /* lowest deny rule id */
    uint32_t allow_id; /* lowest allow rule id */
};

/* The precomputed answer for a range of addresses of one trie. */
struct acl_leaf {
    struct acl_ids ids; /* allow/deny rules of the longest allow/deny prefix
                           holding the range; both 0 if none does */
    uint32_t meter_id;  /* lowest meter rule id of the longest meter prefix
                           holding the range, 0 if none */
    uint8_t vlen;       /* length of that allow/deny prefix */
    uint8_t mlen;       /* length of that meter prefix */
};

/* One node: see the comment at the top of the file.  64 bytes, one cache
 * line ('nodes' is cache-line aligned), so that a step of a lookup,
 * path compression check included, touches one line. */
struct acl_node {
    uint64_t child_map;  /* slots that continue in a child */
    uint64_t leaf_map;   /* non-child slots that start a run of leaves */
    uint32_t child_base; /* index in 'nodes' of the first child */
    uint32_t leaf_base;  /* index in 'leaves' of the first leaf */
    uint32_t skip_leaf;  /* if 'skip': leaf of the addresses that differ
                            from 'key' */
    uint8_t pos;         /* first address bit this node indexes */
    bool skip;           /* levels above were compressed: check 'key' */
    uint64_t key_hi;     /* if 'skip': the address bits above 'pos' ... */
    uint64_t key_lo;     /* ... (zero from 'pos' on) */
    uint64_t mask_hi;    /* if 'skip': ones above 'pos' ... */
    uint64_t mask_lo;    /* ... zeros from it on */
};

#define CACHE_LINE 64
_Static_assert(sizeof(struct acl_node) == CACHE_LINE,
               "aligned_alloc() sizes are multiples of a node");

/* Direct pointing (Poptrie's name): a trie with at least DP_MIN_PREFIXES
 * prefixes gets a root that indexes its first 'dp_bits' address bits
 * directly (about twice as many slots as prefixes, at most 2^DP_MAX_BITS),
 * each slot holding its answer inline or the node where the walk goes
 * on.  Most lookups in a big trie then end in one slot, as in a small
 * one. */
#define DP_MIN_PREFIXES 32
#define DP_MIN_BITS     8
#define DP_MAX_BITS     16
#define DP_NODE         0xff /* vlen of a slot that continues in a node */

/* A slot of a direct-pointing root. */
union acl_dp_slot {
    struct acl_leaf answer; /* the answer, unless answer.vlen == DP_NODE */
    struct {
        uint32_t node;      /* index in 'nodes' of the node below */
        uint32_t unused[2]; /* overlays answer.ids, answer.meter_id */
        uint8_t vlen;       /* DP_NODE */
    } child;
};

_Static_assert(offsetof(union acl_dp_slot, answer.vlen) ==
                   offsetof(union acl_dp_slot, child.vlen),
               "DP_NODE must overlay an answer's vlen");

/* Where the walk of one trie starts. */
struct acl_trie {
    uint32_t root;    /* root node, if 'dp_bits' is 0 */
    uint32_t dp_base; /* index in 'dp' of the first slot, if 'dp_bits' */
    uint8_t dp_bits;  /* 0, or DP_MIN_BITS..DP_MAX_BITS */
};

/* One exact MAC of one direction and side with the rules that name it.
 * 'tag' 0 marks an empty slot of the open-addressing table. */
struct acl_mac_entry {
    uint8_t mac[VSW_ETH_ALEN]; /* the address */
    uint8_t tag;               /* 1 + direction * N_SIDES + side, 0: empty */
    struct acl_ids ids;        /* rules naming 'mac' */
};

/* Invariants: immutable after vsw_acl_compile(); every trie starts at a
 * valid node or direct-pointing array; 'macs' is NULL or has 'mac_mask' +
 * 1 slots (a power of 2), at most half of them used. */
struct vsw_acl_table {
    struct acl_node *nodes;         /* every trie's nodes */
    struct acl_leaf *leaves;        /* every trie's leaves */
    struct acl_mac_entry *macs;     /* exact MAC rules, or NULL if none */
    size_t n_nodes;                 /* entries in 'nodes' */
    size_t n_leaves;                /* entries in 'leaves' */
    size_t n_rules;                 /* rules compiled */
    uint32_t mac_mask;              /* slots in 'macs' - 1 */
    union acl_dp_slot *dp;          /* direct-pointing roots of big tries */
    size_t n_dp;                    /* entries in 'dp' */
    struct acl_trie tries[N_TRIES]; /* by trie_index() */
    struct acl_ids mac_any[N_DIRS][N_SIDES]; /* ANY MAC rules */
    bool has_ip[N_DIRS];                     /* direction has IP rules */
    bool has_mac[N_DIRS];                    /* direction has MAC rules */
    bool has_meter[N_DIRS];                  /* direction has meter rules */
};

/* Compilation only: one distinct prefix of one trie. */
struct acl_prefix_rec {
    uint64_t hi;        /* address bits 0..63 */
    uint64_t lo;        /* address bits 64..127 */
    uint8_t trie;       /* trie_index() */
    uint8_t len;        /* prefix length in the family's bits */
    struct acl_ids ids; /* allow/deny rules on this prefix */
    uint32_t meter_id;  /* lowest meter rule id on this prefix */
};

/* Compilation only: the growing node, leaf and direct-pointing arrays. */
struct acl_builder {
    const struct acl_prefix_rec *recs; /* sorted by trie, address, length */
    struct acl_node *nodes;            /* nodes built so far */
    size_t n_nodes;                    /* used entries of 'nodes' */
    size_t cap_nodes;                  /* allocated entries of 'nodes' */
    struct acl_leaf *leaves;           /* leaves built so far */
    size_t n_leaves;                   /* used entries of 'leaves' */
    size_t cap_leaves;                 /* allocated entries of 'leaves' */
    union acl_dp_slot *dp;             /* direct-pointing slots so far */
    size_t n_dp;                       /* used entries of 'dp' */
    size_t cap_dp;                     /* allocated entries of 'dp' */
};

static void __attribute__((format(printf, 3, 4)))
set_error(char *err, size_t errlen, const char *format, ...)
{
    va_list args;

    if (!err || !errlen) {
        return;
    }
    va_start(args, format);
    vsnprintf(err, errlen, format, args);
    va_end(args);
}

/* Appends printf-style text to the 'size'-byte buffer 'buf' that already
 * holds '*len' characters, truncating as snprintf() does. */
static void __attribute__((format(printf, 4, 5)))
append(char *buf, size_t size, size_t *len, const char *format, ...)
{
    va_list args;
    int n;

    if (*len >= size) {
        return;
    }
    va_start(args, format);
    n = vsnprintf(buf + *len, size - *len, format, args);
    va_end(args);
    if (n > 0) {
        *len += (size_t)n;
    }
}

static ACL_INLINE unsigned
trie_index(unsigned dir, unsigned fam, unsigned side)
{
    return (dir * N_FAMS + fam) * N_SIDES + side;
}

static ACL_INLINE unsigned
popcount64(uint64_t x)
{
    return (unsigned)__builtin_popcountll(x);
}

static ACL_INLINE uint64_t
load_be64(const uint8_t *p)
{
    uint64_t x;

    memcpy(&x, p, sizeof x);
    return be64toh(x);
}

/* The trie bits of the 16-byte (IPv4-mapped for FAM_V4) address 'addr'. */
static ACL_INLINE void
addr_to_bits(unsigned fam, const uint8_t addr[16], uint64_t *hi, uint64_t *lo)
{
    if (fam == FAM_V4) {
        *hi = load_be64(addr + 8) << 32;
        *lo = 0;
    } else {
        *hi = load_be64(addr);
        *lo = load_be64(addr + 8);
    }
}

/* The 6 address bits at 'pos' (0..127), zero-padded past bit 127. */
static ACL_INLINE unsigned
chunk_at(uint64_t hi, uint64_t lo, unsigned pos)
{
    /* (lo >> 1) >> (63 - pos) is lo >> (64 - pos) without a shift by 64
     * when 'pos' is 0. */
    uint64_t w =
        pos < 64 ? hi << pos | (lo >> 1) >> (63 - pos) : lo << (pos - 64);

    return (unsigned)(w >> (64 - STRIDE));
}

/* Clears every bit from 'len' on. */
static void
mask_bits(uint64_t *hi, uint64_t *lo, unsigned len)
{
    if (len == 0) {
        *hi = 0;
        *lo = 0;
    } else if (len < 64) {
        *hi &= UINT64_MAX << (64 - len);
        *lo = 0;
    } else if (len < 128) {
        *lo &= len == 64 ? 0 : UINT64_MAX << (128 - len);
    }
}

/* The lower of two rule ids, 0 meaning none. */
static ACL_INLINE uint32_t
min_id(uint32_t a, uint32_t b)
{
    if (!a || !b) {
        return a | b;
    }
    return a < b ? a : b;
}

static ACL_INLINE void
merge_ids(struct acl_ids *into, const struct acl_ids *from)
{
    into->deny_id = min_id(into->deny_id, from->deny_id);
    into->allow_id = min_id(into->allow_id, from->allow_id);
}

static ACL_INLINE bool
ids_empty(const struct acl_ids *ids)
{
    return !ids->deny_id && !ids->allow_id;
}

/* The decision of one list (IP or MAC) under construction, fed one
 * judgment at a time (acl.h, "Reported rules"). */
struct acl_outcome {
    uint32_t rule; /* deciding rule so far, 0 for none */
    unsigned len;  /* its prefix length (MAC: 1 exact, 0 ANY) */
    bool deny;     /* a judgment denied: 'rule' is the first denier */
};

/* Folds in the judgment of one address: the rules in 'ids' share the
 * longest matching prefix, of length 'len'.  Returns true if it
 * denies. */
static ACL_INLINE bool
outcome_add(struct acl_outcome *o, const struct acl_ids *ids, unsigned len)
{
    if (ids->deny_id) {
        if (!o->deny) {
            o->deny = true;
            o->rule = ids->deny_id;
            o->len = len;
        }
        return true;
    }
    if (ids->allow_id && !o->deny &&
        (!o->rule || len > o->len ||
         (len == o->len && ids->allow_id < o->rule))) {
        o->rule = ids->allow_id;
        o->len = len;
    }
    return false;
}

/* Parsers. */

int
vsw_acl_parse_action(const char *s, uint8_t *action, char *err, size_t errlen)
{
    static const char *const names[] = {
        [VSW_ACL_ACTION_ALLOW] = "allow",
        [VSW_ACL_ACTION_DENY] = "deny",
        [VSW_ACL_ACTION_METER] = "meter",
    };

    for (size_t i = 0; s && i < sizeof names / sizeof names[0]; i++) {
        if (!strcasecmp(s, names[i])) {
            *action = (uint8_t)i;
            return 0;
        }
    }
    set_error(err, errlen, "'%s' is not an ACL action (allow, deny, meter)",
              s ? s : "");
    return -EINVAL;
}

/* Parses the prefix length 's' (1 to 3 decimal digits, at most 'max') into
 * '*plen'. */
static int
parse_plen(const char *s, unsigned max, unsigned *plen)
{
    unsigned value = 0;
    size_t n = strlen(s);

    if (n == 0 || n > 3) {
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -EINVAL;
        }
        value = value * 10 + (unsigned)(s[i] - '0');
    }
    if (value > max) {
        return -ERANGE;
    }
    *plen = value;
    return 0;
}

static bool
is_v4_mapped(const uint8_t addr[16])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
                                       0, 0, 0, 0, 0xff, 0xff};

    return !memcmp(addr, mapped, sizeof mapped);
}

/* Clears the bits of 'addr' past 'bits' (counted from the first byte). */
static void
clear_host_bits(uint8_t addr[16], unsigned bits)
{
    for (unsigned i = 0; i < 16; i++) {
        if (bits >= 8 * (i + 1)) {
            continue;
        }
        addr[i] &= bits > 8 * i ? (uint8_t)(0xff << (8 - (bits - 8 * i))) : 0;
    }
}

int
vsw_acl_parse_prefix(const char *s, struct vsw_acl_prefix *prefix, char *err,
                     size_t errlen)
{
    char text[INET6_ADDRSTRLEN];
    struct vsw_acl_prefix p;
    const char *slash;
    size_t addr_len;
    unsigned max, plen;
    int error;

    if (!s || !*s) {
        set_error(err, errlen,
                  "empty IP address (an address, a prefix "
                  "such as 10.0.0.0/8, or any)");
        return -EINVAL;
    }
    if (!strcasecmp(s, "any")) {
        memset(prefix, 0, sizeof *prefix);
        return 0;
    }
    slash = strchr(s, '/');
    addr_len = slash ? (size_t)(slash - s) : strlen(s);
    if (addr_len == 3 && !strncasecmp(s, "any", 3)) {
        set_error(err, errlen, "'%s': any takes no prefix length", s);
        return -EINVAL;
    }

    memset(&p, 0, sizeof p);
    if (addr_len >= sizeof text) {
        goto bad_address;
    }
    memcpy(text, s, addr_len);
    text[addr_len] = '\0';
    if (inet_pton(AF_INET, text, p.addr + 12) == 1) {
        p.family = 4;
        p.addr[10] = 0xff;
        p.addr[11] = 0xff;
        max = 32;
    } else if (inet_pton(AF_INET6, text, p.addr) == 1) {
        p.family = 6;
        max = 128;
    } else {
        goto bad_address;
    }

    plen = max;
    if (slash) {
        error = parse_plen(slash + 1, max, &plen);
        if (error == -ERANGE) {
            set_error(err, errlen,
                      "'%s': prefix length %s is longer than the %u bits of "
                      "an IPv%u address",
                      s, slash + 1, max, p.family);
            return -EINVAL;
        } else if (error) {
            set_error(err, errlen,
                      "'%s': prefix length must be a number from 0 to %u", s,
                      max);
            return -EINVAL;
        }
    }
    if (p.family == 6 && is_v4_mapped(p.addr) && plen >= 96) {
        p.family = 4;
        plen -= 96;
    }
    p.plen = (uint8_t)plen;
    clear_host_bits(p.addr, p.family == 4 ? 96 + plen : plen);
    if (p.family == 4) {
        p.addr[10] = 0xff;
        p.addr[11] = 0xff;
    }
    *prefix = p;
    return 0;

bad_address:
    set_error(err, errlen,
              "'%s' is not an IPv4 or IPv6 address or prefix (such as "
              "10.1.2.3, 10.0.0.0/8, 2001:db8::/32) or any",
              s);
    return -EINVAL;
}

static int
hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int
vsw_acl_parse_mac(const char *s, struct vsw_acl_mac *mac, char *err,
                  size_t errlen)
{
    uint8_t addr[VSW_ETH_ALEN];
    size_t n = s ? strlen(s) : 0;
    size_t step;
    char sep = 0;

    if (n && !strcasecmp(s, "any")) {
        memset(mac, 0, sizeof *mac);
        mac->any = true;
        return 0;
    }
    if (n == 17) {
        sep = s[2];
        step = 3;
        if (sep != ':' && sep != '-') {
            goto bad;
        }
    } else if (n == 12) {
        step = 2;
    } else {
        goto bad;
    }
    for (size_t i = 0; i < VSW_ETH_ALEN; i++) {
        const char *p = s + i * step;
        int h = hex_value(p[0]);
        int l = hex_value(p[1]);

        if (h < 0 || l < 0 || (sep && i < VSW_ETH_ALEN - 1 && p[2] != sep)) {
            goto bad;
        }
        addr[i] = (uint8_t)(h << 4 | l);
    }
    memset(mac, 0, sizeof *mac);
    memcpy(mac->addr, addr, sizeof addr);
    return 0;

bad:
    set_error(err, errlen,
              "'%s' is not a MAC address (six hex pairs such as "
              "02:00:5e:00:00:01 or 02-00-5E-00-00-01, twelve hex digits, "
              "or any)",
              s ? s : "");
    return -EINVAL;
}

/* Formatting. */

char *
vsw_acl_prefix_format(const struct vsw_acl_prefix *prefix, char *buf,
                      size_t size)
{
    char text[INET6_ADDRSTRLEN];
    unsigned max;

    if (prefix->family == 4) {
        inet_ntop(AF_INET, prefix->addr + 12, text, sizeof text);
        max = 32;
    } else if (prefix->family == 6) {
        inet_ntop(AF_INET6, prefix->addr, text, sizeof text);
        max = 128;
    } else {
        snprintf(buf, size, "any");
        return buf;
    }
    if (prefix->plen == max) {
        snprintf(buf, size, "%s", text);
    } else {
        snprintf(buf, size, "%s/%u", text, prefix->plen);
    }
    return buf;
}

char *
vsw_acl_mac_format(const struct vsw_acl_mac *mac, char *buf, size_t size)
{
    const uint8_t *a = mac->addr;

    if (mac->any) {
        snprintf(buf, size, "any");
    } else {
        snprintf(buf, size, "%02x:%02x:%02x:%02x:%02x:%02x", a[0], a[1], a[2],
                 a[3], a[4], a[5]);
    }
    return buf;
}

char *
vsw_acl_rule_format(const struct vsw_acl_rule *rule, char *buf, size_t size)
{
    static const char *const actions[] = {"allow", "deny", "meter"};
    static const char *const matches[] = {"local-ip", "remote-ip", "local-mac",
                                          "remote-mac"};
    char addr[INET6_ADDRSTRLEN + 8];
    bool is_mac = rule->match == VSW_ACL_MATCH_LOCAL_MAC ||
                  rule->match == VSW_ACL_MATCH_REMOTE_MAC;

    if (is_mac) {
        vsw_acl_mac_format(&rule->mac, addr, sizeof addr);
    } else {
        vsw_acl_prefix_format(&rule->ip, addr, sizeof addr);
    }
    snprintf(
        buf, size, "rule %" PRIu32 " %s %s %s %s", rule->id,
        rule->action <= VSW_ACL_ACTION_METER ? actions[rule->action] : "?",
        rule->direction == VSW_ACL_DIR_IN    ? "in"
        : rule->direction == VSW_ACL_DIR_OUT ? "out"
                                             : "?",
        rule->match <= VSW_ACL_MATCH_REMOTE_MAC ? matches[rule->match] : "?",
        addr);
    return buf;
}

char *
vsw_acl_result_format(const struct vsw_acl_result *result, char *buf,
                      size_t size)
{
    const char *sep = " ";
    size_t len = 0;

    if (!size) {
        return buf;
    }
    buf[0] = '\0';
    append(buf, size, &len, "%s:", result->deny ? "deny" : "allow");
    if (result->ip_rule) {
        append(buf, size, &len, " ip rule %" PRIu32 " %s", result->ip_rule,
               result->denied_by & VSW_ACL_DENIED_BY_IP ? "denied"
               : result->denied_by & VSW_ACL_DENIED_BY_ND_TARGET
                   ? "denied the nd target"
                   : "allowed");
        sep = ", ";
    }
    if (result->mac_rule) {
        append(buf, size, &len, "%smac rule %" PRIu32 " %s", sep,
               result->mac_rule,
               result->denied_by & VSW_ACL_DENIED_BY_MAC ? "denied"
                                                         : "allowed");
        sep = ", ";
    }
    if (!result->ip_rule && !result->mac_rule) {
        append(buf, size, &len, " no rule");
        sep = ", ";
    }
    if (result->meter_rule) {
        append(buf, size, &len, "%smeter rule %" PRIu32, sep,
               result->meter_rule);
    }
    return buf;
}

/* Compilation. */

/* Checks rule number 'i' against the invariants of acl.h. */
static int
check_rule(const struct vsw_acl_rule *rule, size_t i, char *err, size_t errlen)
{
    const struct vsw_acl_prefix *p = &rule->ip;
    static const uint8_t zero[16];
    unsigned max;

    if (rule->id == VSW_ACL_NO_RULE) {
        set_error(err, errlen, "rule %zu: id 0 is reserved", i);
        return -EINVAL;
    }
    if (rule->action > VSW_ACL_ACTION_METER) {
        set_error(err, errlen, "rule %zu (id %" PRIu32 "): unknown action %u",
                  i, rule->id, rule->action);
        return -EINVAL;
    }
    if (rule->direction > VSW_ACL_DIR_OUT) {
        set_error(err, errlen,
                  "rule %zu (id %" PRIu32 "): unknown direction %u", i,
                  rule->id, rule->direction);
        return -EINVAL;
    }
    if (rule->match > VSW_ACL_MATCH_REMOTE_MAC) {
        set_error(err, errlen, "rule %zu (id %" PRIu32 "): unknown match %u",
                  i, rule->id, rule->match);
        return -EINVAL;
    }
    if (rule->match >= VSW_ACL_MATCH_LOCAL_MAC) {
        if (rule->action == VSW_ACL_ACTION_METER) {
            set_error(err, errlen,
                      "rule %zu (id %" PRIu32 "): a meter rule must match an "
                      "IP address or any, not a MAC",
                      i, rule->id);
            return -EINVAL;
        }
        return 0;
    }

    switch (p->family) {
    case 0:
        if (p->plen || memcmp(p->addr, zero, sizeof zero)) {
            set_error(err, errlen,
                      "rule %zu (id %" PRIu32 "): an any address with a "
                      "prefix length or address bits",
                      i, rule->id);
            return -EINVAL;
        }
        return 0;
    case 4:
        if (!is_v4_mapped(p->addr)) {
            set_error(err, errlen,
                      "rule %zu (id %" PRIu32 "): IPv4 address not in "
                      "IPv4-mapped form (::ffff:a.b.c.d)",
                      i, rule->id);
            return -EINVAL;
        }
        max = 32;
        break;
    case 6:
        max = 128;
        break;
    default:
        set_error(err, errlen,
                  "rule %zu (id %" PRIu32 "): unknown address family %u", i,
                  rule->id, p->family);
        return -EINVAL;
    }
    if (p->plen > max) {
        set_error(err, errlen,
                  "rule %zu (id %" PRIu32 "): prefix length %u is longer "
                  "than the %u bits of an IPv%u address",
                  i, rule->id, p->plen, max, p->family);
        return -EINVAL;
    }

    uint8_t masked[16];

    memcpy(masked, p->addr, sizeof masked);
    clear_host_bits(masked, p->family == 4 ? 96u + p->plen : p->plen);
    if (memcmp(masked, p->addr, sizeof masked)) {
        set_error(err, errlen,
                  "rule %zu (id %" PRIu32 "): address bits set past the /%u "
                  "prefix",
                  i, rule->id, p->plen);
        return -EINVAL;
    }
    return 0;
}

static int
compare_recs(const void *a_, const void *b_)
{
    const struct acl_prefix_rec *a = a_;
    const struct acl_prefix_rec *b = b_;

    if (a->trie != b->trie) {
        return a->trie < b->trie ? -1 : 1;
    }
    if (a->hi != b->hi) {
        return a->hi < b->hi ? -1 : 1;
    }
    if (a->lo != b->lo) {
        return a->lo < b->lo ? -1 : 1;
    }
    return (int)a->len - (int)b->len;
}

static bool
leaf_equal(const struct acl_leaf *a, const struct acl_leaf *b)
{
    return a->ids.deny_id == b->ids.deny_id &&
           a->ids.allow_id == b->ids.allow_id && a->meter_id == b->meter_id &&
           a->vlen == b->vlen && a->mlen == b->mlen;
}

/* Makes 'rec' the answer of 'leaf' where it is longer than what 'leaf'
 * holds; callers apply prefixes shortest first. */
static void
leaf_apply(struct acl_leaf *leaf, const struct acl_prefix_rec *rec)
{
    if (!ids_empty(&rec->ids)) {
        leaf->ids = rec->ids;
        leaf->vlen = rec->len;
    }
    if (rec->meter_id) {
        leaf->meter_id = rec->meter_id;
        leaf->mlen = rec->len;
    }
}

/* Returns 'array' (of '*cap' elements of 'size' bytes, 'first' at least
 * when it grows from nothing) reallocated to hold at least 'need'
 * elements, or NULL with 'array' untouched.  Indices stay below
 * UINT32_MAX. */
static void *
grow_array(void *array, size_t *cap, size_t need, size_t size, size_t first)
{
    size_t new_cap = *cap ? *cap : first;

    if (need <= *cap) {
        return array;
    }
    while (new_cap < need) {
        new_cap *= 2;
    }
    if (new_cap >= UINT32_MAX) {
        return NULL;
    }
    array = realloc(array, new_cap * size);
    if (array) {
        *cap = new_cap;
    }
    return array;
}

/* Appends 'n' zeroed nodes; '*first' gets the index of the first. */
static int
add_nodes(struct acl_builder *b, size_t n, uint32_t *first)
{
    struct acl_node *nodes =
        grow_array(b->nodes, &b->cap_nodes, b->n_nodes + n, sizeof *nodes, 64);

    if (!nodes) {
        return -ENOMEM;
    }
    b->nodes = nodes;
    memset(&nodes[b->n_nodes], 0, n * sizeof *nodes);
    *first = (uint32_t)b->n_nodes;
    b->n_nodes += n;
    return 0;
}

/* Appends 'leaf'; '*index' gets its index. */
static int
add_leaf(struct acl_builder *b, const struct acl_leaf *leaf, uint32_t *index)
{
    struct acl_leaf *leaves = grow_array(b->leaves, &b->cap_leaves,
                                         b->n_leaves + 1, sizeof *leaves, 256);

    if (!leaves) {
        return -ENOMEM;
    }
    b->leaves = leaves;
    leaves[b->n_leaves] = *leaf;
    *index = (uint32_t)b->n_leaves++;
    return 0;
}

/* True if the node at 'pos' for the prefixes [first, end) would have a
 * single child and nothing but inherited leaves: all the prefixes longer
 * than 'pos' are longer than 'pos' + STRIDE and agree on the bits at
 * 'pos'.  (Shorter prefixes of the range are ancestors, already in the
 * inherited leaf.) */
static bool
level_is_skippable(const struct acl_builder *b, size_t first, size_t end,
                   unsigned pos)
{
    bool found = false;
    unsigned chunk = 0;

    for (size_t r = first; r < end; r++) {
        const struct acl_prefix_rec *rec = &b->recs[r];
        unsigned c;

        if (rec->len <= pos) {
            continue;
        }
        if (rec->len <= pos + STRIDE) {
            return false;
        }
        c = chunk_at(rec->hi, rec->lo, pos);
        if (found && c != chunk) {
            return false;
        }
        found = true;
        chunk = c;
    }
    return found;
}

/* Builds node 'index' (already allocated) for the prefixes [first, end),
 * which share their first 'pos' bits and are sorted by address; those not
 * longer than 'pos' are ancestors and are ignored.  Addresses of the
 * node's range that no prefix longer than 'pos' holds get 'inherited'. */
static int
build_node(struct acl_builder *b, uint32_t index, size_t first, size_t end,
           unsigned pos, const struct acl_leaf *inherited)
{
    struct acl_leaf slots[FANOUT];
    struct acl_node node;
    unsigned start = pos;
    int error;

    while (level_is_skippable(b, first, end, pos)) {
        pos += STRIDE;
    }

    memset(&node, 0, sizeof node);
    node.pos = (uint8_t)pos;
    if (pos != start) {
        for (size_t r = first; r < end; r++) {
            if (b->recs[r].len > start) {
                node.key_hi = b->recs[r].hi;
                node.key_lo = b->recs[r].lo;
                break;
            }
        }
        node.mask_hi = UINT64_MAX;
        node.mask_lo = UINT64_MAX;
        mask_bits(&node.key_hi, &node.key_lo, pos);
        mask_bits(&node.mask_hi, &node.mask_lo, pos);
        node.skip = true;
        error = add_leaf(b, inherited, &node.skip_leaf);
        if (error) {
            return error;
        }
    }

    /* Expand the prefixes that end within this node over their slots,
     * shortest first so that longer ones overwrite. */
    for (unsigned s = 0; s < FANOUT; s++) {
        slots[s] = *inherited;
    }
    for (unsigned len = pos + 1; len <= pos + STRIDE; len++) {
        for (size_t r = first; r < end; r++) {
            const struct acl_prefix_rec *rec = &b->recs[r];

            if (rec->len == len) {
                unsigned s0 = chunk_at(rec->hi, rec->lo, pos);
                unsigned n = 1u << (pos + STRIDE - len);

                for (unsigned s = s0; s < s0 + n; s++) {
                    leaf_apply(&slots[s], rec);
                }
            }
        }
    }
    for (size_t r = first; r < end; r++) {
        if (b->recs[r].len > pos + STRIDE) {
            node.child_map |= UINT64_C(1)
                              << chunk_at(b->recs[r].hi, b->recs[r].lo, pos);
        }
    }

    /* Leaves, run-length compressed over the non-child slots. */
    node.leaf_base = (uint32_t)b->n_leaves;
    for (unsigned s = 0; s < FANOUT; s++) {
        uint32_t ignored;

        if (node.child_map & (UINT64_C(1) << s)) {
            continue;
        }
        if (!node.leaf_map ||
            !leaf_equal(&slots[s], &b->leaves[b->n_leaves - 1])) {
            error = add_leaf(b, &slots[s], &ignored);
            if (error) {
                return error;
            }
            node.leaf_map |= UINT64_C(1) << s;
        }
    }

    error = add_nodes(b, popcount64(node.child_map), &node.child_base);
    if (error) {
        return error;
    }
    b->nodes[index] = node;

    /* Children, in slot order.  Sorted by address, the prefixes of one
     * slot are contiguous. */
    for (size_t r = first; r < end;) {
        unsigned c = chunk_at(b->recs[r].hi, b->recs[r].lo, pos);
        uint64_t bit = UINT64_C(1) << c;
        size_t e = r + 1;

        while (e < end && chunk_at(b->recs[e].hi, b->recs[e].lo, pos) == c) {
            e++;
        }
        if (node.child_map & bit) {
            uint32_t child =
                node.child_base + popcount64(node.child_map & (bit - 1));

            error = build_node(b, child, r, e, pos + STRIDE, &slots[c]);
            if (error) {
                return error;
            }
        }
        r = e;
    }
    return 0;
}

/* Collects the distinct prefixes of the IP rules, sorted and merged, into
 * '*recsp' (caller frees) and their number into '*np'. */
static int
collect_prefixes(struct vsw_acl_table *t, const struct vsw_acl_rule *rules,
                 size_t n, struct acl_prefix_rec **recsp, size_t *np)
{
    struct acl_prefix_rec *recs = calloc(2 * n + 1, sizeof *recs);
    size_t n_recs = 0;

    if (!recs) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const struct vsw_acl_rule *rule = &rules[i];
        unsigned side, dir = rule->direction;
        struct acl_prefix_rec rec;

        if (rule->match == VSW_ACL_MATCH_LOCAL_IP) {
            side = SIDE_LOCAL;
        } else if (rule->match == VSW_ACL_MATCH_REMOTE_IP) {
            side = SIDE_REMOTE;
        } else {
            continue;
        }
        t->has_ip[dir] = true;

        memset(&rec, 0, sizeof rec);
        if (rule->action == VSW_ACL_ACTION_DENY) {
            rec.ids.deny_id = rule->id;
        } else if (rule->action == VSW_ACL_ACTION_ALLOW) {
            rec.ids.allow_id = rule->id;
        } else {
            rec.meter_id = rule->id;
            t->has_meter[dir] = true;
        }
        if (rule->ip.family == 0) {
            for (unsigned fam = 0; fam < N_FAMS; fam++) {
                rec.trie = (uint8_t)trie_index(dir, fam, side);
                recs[n_recs++] = rec;
            }
        } else {
            unsigned fam = rule->ip.family == 4 ? FAM_V4 : FAM_V6;

            rec.trie = (uint8_t)trie_index(dir, fam, side);
            rec.len = rule->ip.plen;
            addr_to_bits(fam, rule->ip.addr, &rec.hi, &rec.lo);
            recs[n_recs++] = rec;
        }
    }

    qsort(recs, n_recs, sizeof *recs, compare_recs);
    size_t m = 0;
    for (size_t i = 0; i < n_recs; i++) {
        if (m && !compare_recs(&recs[m - 1], &recs[i])) {
            merge_ids(&recs[m - 1].ids, &recs[i].ids);
            recs[m - 1].meter_id =
                min_id(recs[m - 1].meter_id, recs[i].meter_id);
        } else {
            recs[m++] = recs[i];
        }
    }
    *recsp = recs;
    *np = m;
    return 0;
}

static unsigned
bit_length(size_t x)
{
    unsigned n = 0;

    while (x) {
        n++;
        x >>= 1;
    }
    return n;
}

/* Builds a direct-pointing root of 'bits' bits for the prefixes [first,
 * end) of one trie into '*trie'; 'root_leaf' is the answer of the
 * length-0 prefixes. */
static int
build_dp(struct acl_builder *b, struct acl_trie *trie, size_t first,
         size_t end, const struct acl_leaf *root_leaf, unsigned bits)
{
    size_t n_slots = (size_t)1 << bits;
    union acl_dp_slot *dp;
    int error;

    dp = grow_array(b->dp, &b->cap_dp, b->n_dp + n_slots, sizeof *dp, 1024);
    if (!dp) {
        return -ENOMEM;
    }
    b->dp = dp;
    trie->dp_base = (uint32_t)b->n_dp;
    trie->dp_bits = (uint8_t)bits;
    b->n_dp += n_slots;
    dp += trie->dp_base;

    for (size_t s = 0; s < n_slots; s++) {
        memset(&dp[s], 0, sizeof dp[s]);
        dp[s].answer = *root_leaf;
    }
    for (unsigned len = 1; len <= bits; len++) {
        for (size_t r = first; r < end; r++) {
            const struct acl_prefix_rec *rec = &b->recs[r];

            if (rec->len == len) {
                size_t s0 = rec->hi >> (64 - bits);
                size_t n = (size_t)1 << (bits - len);

                for (size_t s = s0; s < s0 + n; s++) {
                    leaf_apply(&dp[s].answer, rec);
                }
            }
        }
    }

    /* Slots with longer prefixes continue in a node.  Sorted by address,
     * the prefixes of one slot are contiguous. */
    for (size_t r = first; r < end;) {
        size_t s = b->recs[r].hi >> (64 - bits);
        bool deeper = false;
        size_t e = r;

        while (e < end && b->recs[e].hi >> (64 - bits) == s) {
            deeper |= b->recs[e].len > bits;
            e++;
        }
        if (deeper) {
            struct acl_leaf inherited = b->dp[trie->dp_base + s].answer;
            union acl_dp_slot *slot;
            uint32_t node;

            error = add_nodes(b, 1, &node);
            if (!error) {
                error = build_node(b, node, r, e, bits, &inherited);
            }
            if (error) {
                return error;
            }
            slot = &b->dp[trie->dp_base + s];
            memset(slot, 0, sizeof *slot);
            slot->child.node = node;
            slot->child.vlen = DP_NODE;
        }
        r = e;
    }
    return 0;
}

static int
build_tries(struct vsw_acl_table *t, const struct vsw_acl_rule *rules,
            size_t n)
{
    struct acl_builder b;
    struct acl_prefix_rec *recs;
    size_t n_recs, first = 0;
    int error;

    error = collect_prefixes(t, rules, n, &recs, &n_recs);
    if (error) {
        return error;
    }
    memset(&b, 0, sizeof b);
    b.recs = recs;
    for (unsigned trie = 0; trie < N_TRIES; trie++) {
        struct acl_leaf root_leaf;
        size_t end = first;

        while (end < n_recs && recs[end].trie == trie) {
            end++;
        }
        /* Length-0 prefixes (ANY, 0.0.0.0/0, ::/0) hold every address:
         * they are the default the root hands down. */
        memset(&root_leaf, 0, sizeof root_leaf);
        for (size_t r = first; r < end && recs[r].len == 0; r++) {
            leaf_apply(&root_leaf, &recs[r]);
        }
        if (end - first >= DP_MIN_PREFIXES) {
            unsigned bits = bit_length(end - first) + 1;

            bits = bits < DP_MIN_BITS   ? DP_MIN_BITS
                   : bits > DP_MAX_BITS ? DP_MAX_BITS
                                        : bits;
            error =
                build_dp(&b, &t->tries[trie], first, end, &root_leaf, bits);
        } else {
            error = add_nodes(&b, 1, &t->tries[trie].root);
            if (!error) {
                error = build_node(&b, t->tries[trie].root, first, end, 0,
                                   &root_leaf);
            }
        }
        if (error) {
            break;
        }
        first = end;
    }
    free(recs);
    if (!error) {
        /* Cache-line aligned copy of the nodes (realloc() only aligns to
         * 16 bytes). */
        size_t size = b.n_nodes * sizeof *b.nodes;

        /* At least one line: a table whose tries are all direct-pointing
         * slots has no node. */
        t->nodes = aligned_alloc(CACHE_LINE, size ? size : CACHE_LINE);
        if (t->nodes) {
            memcpy(t->nodes, b.nodes, size);
            t->n_nodes = b.n_nodes;
        } else {
            error = -ENOMEM;
        }
    }
    free(b.nodes);
    if (error) {
        free(b.leaves);
        free(b.dp);
        return error;
    }
    t->dp = b.dp;
    t->n_dp = b.n_dp;
    t->leaves = b.leaves;
    t->n_leaves = b.n_leaves;
    return 0;
}

static ACL_INLINE uint32_t
mac_hash(unsigned tag, const uint8_t mac[VSW_ETH_ALEN])
{
    uint64_t k = (uint64_t)tag << 48;

    for (int i = 0; i < VSW_ETH_ALEN; i++) {
        k |= (uint64_t)mac[i] << (8 * (VSW_ETH_ALEN - 1 - i));
    }
    return (uint32_t)((k * UINT64_C(0x9e3779b97f4a7c15)) >> 32);
}

static ACL_INLINE unsigned
mac_tag(unsigned dir, unsigned side)
{
    return 1 + dir * N_SIDES + side;
}

/* The entry of 'mac' with 'tag' in the exact-MAC table, or the empty slot
 * where it would go. */
static ACL_INLINE struct acl_mac_entry *
mac_slot(struct acl_mac_entry *macs, uint32_t mask, unsigned tag,
         const uint8_t mac[VSW_ETH_ALEN])
{
    for (uint32_t i = mac_hash(tag, mac) & mask;; i = (i + 1) & mask) {
        struct acl_mac_entry *e = &macs[i];

        if (!e->tag || (e->tag == tag && !memcmp(e->mac, mac, VSW_ETH_ALEN))) {
            return e;
        }
    }
}

static int
build_macs(struct vsw_acl_table *t, const struct vsw_acl_rule *rules, size_t n)
{
    size_t n_exact = 0, cap = 8;

    for (size_t i = 0; i < n; i++) {
        const struct vsw_acl_rule *rule = &rules[i];

        if (rule->match == VSW_ACL_MATCH_LOCAL_MAC ||
            rule->match == VSW_ACL_MATCH_REMOTE_MAC) {
            n_exact += !rule->mac.any;
        }
    }
    if (n_exact) {
        while (cap < 2 * n_exact) {
            cap *= 2;
        }
        t->macs = calloc(cap, sizeof *t->macs);
        if (!t->macs) {
            return -ENOMEM;
        }
        t->mac_mask = (uint32_t)(cap - 1);
    }

    for (size_t i = 0; i < n; i++) {
        const struct vsw_acl_rule *rule = &rules[i];
        unsigned dir = rule->direction;
        struct acl_ids ids = {0, 0};
        struct acl_mac_entry *e;
        unsigned side;

        if (rule->match == VSW_ACL_MATCH_LOCAL_MAC) {
            side = SIDE_LOCAL;
        } else if (rule->match == VSW_ACL_MATCH_REMOTE_MAC) {
            side = SIDE_REMOTE;
        } else {
            continue;
        }
        t->has_mac[dir] = true;
        if (rule->action == VSW_ACL_ACTION_DENY) {
            ids.deny_id = rule->id;
        } else {
            ids.allow_id = rule->id;
        }
        if (rule->mac.any) {
            merge_ids(&t->mac_any[dir][side], &ids);
            continue;
        }
        e = mac_slot(t->macs, t->mac_mask, mac_tag(dir, side), rule->mac.addr);
        if (!e->tag) {
            e->tag = (uint8_t)mac_tag(dir, side);
            memcpy(e->mac, rule->mac.addr, VSW_ETH_ALEN);
        }
        merge_ids(&e->ids, &ids);
    }
    return 0;
}

int
vsw_acl_compile(const struct vsw_acl_rule *rules, size_t n,
                struct vsw_acl_table **tablep, char *err, size_t errlen)
{
    struct vsw_acl_table *t;
    int error;

    set_error(err, errlen, "%s", "");
    if (n > VSW_ACL_MAX_RULES) {
        set_error(err, errlen, "%zu rules: a port may have at most %d", n,
                  VSW_ACL_MAX_RULES);
        return -E2BIG;
    }
    for (size_t i = 0; i < n; i++) {
        error = check_rule(&rules[i], i, err, errlen);
        if (error) {
            return error;
        }
    }

    t = calloc(1, sizeof *t);
    if (!t) {
        goto nomem;
    }
    t->n_rules = n;
    error = build_tries(t, rules, n);
    if (!error) {
        error = build_macs(t, rules, n);
    }
    if (error) {
        vsw_acl_destroy(t);
        goto nomem;
    }
    *tablep = t;
    return 0;

nomem:
    set_error(err, errlen, "out of memory compiling %zu ACL rules", n);
    return -ENOMEM;
}

void
vsw_acl_destroy(struct vsw_acl_table *table)
{
    if (table) {
        free(table->nodes);
        free(table->leaves);
        free(table->dp);
        free(table->macs);
        free(table);
    }
}

size_t
vsw_acl_n_rules(const struct vsw_acl_table *table)
{
    return table ? table->n_rules : 0;
}

bool
vsw_acl_has_meter(const struct vsw_acl_table *table, uint8_t direction)
{
    return table && direction < N_DIRS && table->has_meter[direction];
}

size_t
vsw_acl_memory(const struct vsw_acl_table *table)
{
    if (!table) {
        return 0;
    }
    return sizeof *table + table->n_nodes * sizeof *table->nodes +
           table->n_leaves * sizeof *table->leaves +
           table->n_dp * sizeof *table->dp +

           (table->macs ? (table->mac_mask + 1) * sizeof *table->macs : 0);
}

/* Classification. */

/* The answer for 'hi'/'lo' in 'trie'. */
static ACL_INLINE const struct acl_leaf *
trie_lookup(const struct vsw_acl_table *t, const struct acl_trie *trie,
            uint64_t hi, uint64_t lo)
{
    const struct acl_node *node;

    if (trie->dp_bits) {
        const union acl_dp_slot *slot =
            &t->dp[trie->dp_base + (hi >> (64 - trie->dp_bits))];

        if (slot->answer.vlen != DP_NODE) {
            return &slot->answer;
        }
        node = &t->nodes[slot->child.node];
    } else {
        node = &t->nodes[trie->root];
    }
    for (;;) {
        uint64_t bit;

        if (node->skip && (((hi & node->mask_hi) ^ node->key_hi) |
                           ((lo & node->mask_lo) ^ node->key_lo))) {
            return &t->leaves[node->skip_leaf];
        }
        bit = UINT64_C(1) << chunk_at(hi, lo, node->pos);
        if (!(node->child_map & bit)) {
            return &t->leaves[node->leaf_base +
                              popcount64(node->leaf_map & (bit | (bit - 1))) -
                              1];
        }
        node = &t->nodes[node->child_base +
                         popcount64(node->child_map & (bit - 1))];
    }
}

/* The longest meter match of two leaves, the lower id at equal length. */
static ACL_INLINE uint32_t
pick_meter(const struct acl_leaf *a, const struct acl_leaf *b)
{
    if (!b->meter_id || (a->meter_id && a->mlen > b->mlen)) {
        return a->meter_id;
    }
    if (!a->meter_id || b->mlen > a->mlen) {
        return b->meter_id;
    }
    return min_id(a->meter_id, b->meter_id);
}

static ACL_INLINE uint8_t
judged_kind(const struct vsw_flow_key *key)
{
    switch (key->eth_type) {
    case VSW_ETH_TYPE_IPV4:
        return VSW_ACL_JUDGED_IPV4;
    case VSW_ETH_TYPE_ARP:
        return VSW_ACL_JUDGED_ARP;
    case VSW_ETH_TYPE_IPV6:
        if (key->ip_proto == ICMPV6_PROTO &&
            (key->icmp_type == ICMPV6_ND_NS ||
             key->icmp_type == ICMPV6_ND_NA)) {
            return VSW_ACL_JUDGED_ND;
        }
        return VSW_ACL_JUDGED_IPV6;
    default:
        return VSW_ACL_JUDGED_MAC_ONLY;
    }
}

static ACL_INLINE bool
is_unspecified(const uint8_t addr[16])
{
    static const uint8_t zero[16];

    return !memcmp(addr, zero, sizeof zero);
}

/* The exact-MAC rules of 'mac' on 'side', or else the side's ANY rules,
 * with the length that ranks them. */
static ACL_INLINE const struct acl_ids *
mac_rules(const struct vsw_acl_table *t, unsigned dir, unsigned side,
          const uint8_t mac[VSW_ETH_ALEN], unsigned *len)
{
    if (t->macs) {
        const struct acl_mac_entry *e;

        e = mac_slot(t->macs, t->mac_mask, mac_tag(dir, side), mac);
        if (e->tag) {
            *len = 1;
            return &e->ids;
        }
    }
    *len = 0;
    return &t->mac_any[dir][side];
}

static ACL_INLINE void
judge_mac(const struct vsw_acl_table *t, unsigned dir, bool in,
          const struct vsw_flow_key *key, struct vsw_acl_result *res)
{
    struct acl_outcome o = {0, 0, false};
    const struct acl_ids *ids;
    unsigned len;

    ids =
        mac_rules(t, dir, SIDE_LOCAL, in ? key->eth_dst : key->eth_src, &len);
    outcome_add(&o, ids, len);
    ids =
        mac_rules(t, dir, SIDE_REMOTE, in ? key->eth_src : key->eth_dst, &len);
    outcome_add(&o, ids, len);
    res->mac_rule = o.rule;
    if (o.deny) {
        res->denied_by |= VSW_ACL_DENIED_BY_MAC;
    }
}

static ACL_INLINE void
judge_ip(const struct vsw_acl_table *t, unsigned dir, bool in,
         const struct vsw_flow_key *key, struct vsw_acl_result *res)
{
    unsigned fam = res->judged <= VSW_ACL_JUDGED_ARP ? FAM_V4 : FAM_V6;
    unsigned src_side = in ? SIDE_REMOTE : SIDE_LOCAL;
    unsigned dst_side = in ? SIDE_LOCAL : SIDE_REMOTE;
    const struct acl_leaf *src, *dst;
    struct acl_outcome o = {0, 0, false};
    uint64_t hi, lo;

    addr_to_bits(fam, key->ip_src, &hi, &lo);
    src = trie_lookup(t, &t->tries[trie_index(dir, fam, src_side)], hi, lo);
    addr_to_bits(fam, key->ip_dst, &hi, &lo);
    dst = trie_lookup(t, &t->tries[trie_index(dir, fam, dst_side)], hi, lo);

    /* Local first: it names the rule when both sides deny. */
    outcome_add(&o, in ? &dst->ids : &src->ids, in ? dst->vlen : src->vlen);
    outcome_add(&o, in ? &src->ids : &dst->ids, in ? src->vlen : dst->vlen);
    if (o.deny) {
        res->denied_by |= VSW_ACL_DENIED_BY_IP;
    }
    if (res->judged != VSW_ACL_JUDGED_ARP) {
        res->meter_rule = pick_meter(src, dst);
    }

    if (res->judged == VSW_ACL_JUDGED_ND) {
        /* acl.h: a claimed target (NA, DAD) is judged as a source, a
         * resolved one (NS) as a destination. */
        bool claimed =
            key->icmp_type == ICMPV6_ND_NA || is_unspecified(key->ip_src);
        unsigned side = claimed ? src_side : dst_side;
        const struct acl_leaf *target;

        addr_to_bits(fam, key->nd_target, &hi, &lo);
        target = trie_lookup(t, &t->tries[trie_index(dir, fam, side)], hi, lo);
        if (outcome_add(&o, &target->ids, target->vlen)) {
            res->denied_by |= VSW_ACL_DENIED_BY_ND_TARGET;
        }
    }
    res->ip_rule = o.rule;
}

ACL_CLASSIFY_CLONES void
vsw_acl_classify(const struct vsw_acl_table *table, uint8_t direction,
                 const struct vsw_flow_key *key, struct vsw_acl_result *result)
{
    unsigned dir = direction == VSW_ACL_DIR_OUT;
    bool in = !dir;

    memset(result, 0, sizeof *result);
    result->judged = judged_kind(key);
    if (!table) {
        return;
    }
    if (table->has_mac[dir]) {
        judge_mac(table, dir, in, key, result);
    }
    if (table->has_ip[dir] && result->judged != VSW_ACL_JUDGED_MAC_ONLY) {
        judge_ip(table, dir, in, key, result);
    }
    result->deny = result->denied_by != 0;
}
