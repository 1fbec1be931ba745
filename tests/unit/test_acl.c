/*
 * Unit tests of the basic port ACLs (datapath/policy/acl.c).
 *
 * The precedence tests build real frames and run them through the flow
 * parser, so they also check that the classifier reads the key the way
 * flow.c fills it (IPv4-mapped addresses, ARP and ND fields).  The
 * differential tests compare the compiled tries with a naive reference
 * that walks every rule, written from acl.h's contract alone, on random
 * rule sets built to overlap and random packets built to hit them.  The
 * benchmark prints ns/lookup for 10 and 10 000 rules; it asserts
 * correctness, never time.
 */
#include "acl.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test-util.h"

#define FRAME_MAX 128

/* Rule ids used by the precedence tests. */
enum {
    R1 = 1,
    R2,
    R3,
    R4,
    R5,
    R6,
    R7,
    R8
};

static const uint8_t mac_vm[VSW_ETH_ALEN] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t mac_peer[VSW_ETH_ALEN] = {0x02, 0, 0, 0, 0, 0x02};
static const uint8_t mac_other[VSW_ETH_ALEN] = {0x02, 0, 0, 0, 0, 0x03};
static const uint8_t mac_bcast[VSW_ETH_ALEN] = {0xff, 0xff, 0xff,
                                                0xff, 0xff, 0xff};

/* Rule construction. */

static struct vsw_acl_rule
ip_rule(uint32_t id, uint8_t action, uint8_t direction, uint8_t match,
        const char *prefix)
{
    struct vsw_acl_rule rule;
    char err[256];

    memset(&rule, 0, sizeof rule);
    rule.id = id;
    rule.action = action;
    rule.direction = direction;
    rule.match = match;
    ck_assert_msg(!vsw_acl_parse_prefix(prefix, &rule.ip, err, sizeof err),
                  "%s", err);
    return rule;
}

static struct vsw_acl_rule
mac_rule(uint32_t id, uint8_t action, uint8_t direction, uint8_t match,
         const char *mac)
{
    struct vsw_acl_rule rule;
    char err[256];

    memset(&rule, 0, sizeof rule);
    rule.id = id;
    rule.action = action;
    rule.direction = direction;
    rule.match = match;
    ck_assert_msg(!vsw_acl_parse_mac(mac, &rule.mac, err, sizeof err), "%s",
                  err);
    return rule;
}

static struct vsw_acl_table *
compile(const struct vsw_acl_rule *rules, size_t n)
{
    struct vsw_acl_table *t = NULL;
    char err[256];
    int error = vsw_acl_compile(rules, n, &t, err, sizeof err);

    ck_assert_msg(!error, "compile: %d %s", error, err);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(vsw_acl_n_rules(t), n);
    return t;
}

/* Frame construction: just enough of each protocol for the parser. */

#include "frame-build.h"

static void
put_eth(struct frame *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
    f->len = 0;
    put_bytes(f, dst, VSW_ETH_ALEN);
    put_bytes(f, src, VSW_ETH_ALEN);
    put16(f, type);
}

static void
put_ip4(struct frame *f, const char *text)
{
    uint8_t a[4];

    ck_assert_int_eq(inet_pton(AF_INET, text, a), 1);
    put_bytes(f, a, 4);
}

static void
put_ip6(struct frame *f, const char *text)
{
    uint8_t a[16];

    ck_assert_int_eq(inet_pton(AF_INET6, text, a), 1);
    put_bytes(f, a, 16);
}

static struct vsw_flow_key
extract(const struct frame *f)
{
    struct vsw_flow_key key;

    ck_assert_int_eq(vsw_flow_extract(f->data, f->len, &key), 0);
    return key;
}

/* A UDP/IPv4 packet. */
static struct vsw_flow_key
ipv4_key(const uint8_t *eth_dst, const uint8_t *eth_src, const char *src,
         const char *dst)
{
    static const uint8_t head[12] = {0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17};
    static const uint8_t udp[8] = {0x30, 0x39, 0, 53, 0, 8, 0, 0};
    struct frame f;

    put_eth(&f, eth_dst, eth_src, VSW_ETH_TYPE_IPV4);
    put_bytes(&f, head, sizeof head);
    put_ip4(&f, src);
    put_ip4(&f, dst);
    put_bytes(&f, udp, sizeof udp);
    return extract(&f);
}

/* An IPv6 packet with 'payload' after the header ('nh' its type). */
static struct vsw_flow_key
ipv6_key_with(const uint8_t *eth_dst, const uint8_t *eth_src, const char *src,
              const char *dst, uint8_t nh, const struct frame *payload)
{
    struct frame f;
    uint8_t head[8] = {0x60, 0, 0, 0, 0, (uint8_t)payload->len, nh, 255};

    put_eth(&f, eth_dst, eth_src, VSW_ETH_TYPE_IPV6);
    put_bytes(&f, head, sizeof head);
    put_ip6(&f, src);
    put_ip6(&f, dst);
    put_bytes(&f, payload->data, payload->len);
    return extract(&f);
}

static struct vsw_flow_key
ipv6_key(const uint8_t *eth_dst, const uint8_t *eth_src, const char *src,
         const char *dst)
{
    static const uint8_t udp[8] = {0x30, 0x39, 0, 53, 0, 8, 0, 0};
    struct frame payload = {.len = 0};

    put_bytes(&payload, udp, sizeof udp);
    return ipv6_key_with(eth_dst, eth_src, src, dst, 17, &payload);
}

/* A neighbour solicitation (135) or advertisement (136) for 'target'. */
static struct vsw_flow_key
nd_key(const uint8_t *eth_dst, const uint8_t *eth_src, const char *src,
       const char *dst, uint8_t type, const char *target)
{
    uint8_t head[8] = {type, 0, 0, 0, 0, 0, 0, 0};
    struct frame payload = {.len = 0};
    struct vsw_flow_key key;

    put_bytes(&payload, head, sizeof head);
    put_ip6(&payload, target);
    key = ipv6_key_with(eth_dst, eth_src, src, dst, 58, &payload);
    ck_assert_uint_eq(key.icmp_type, type);
    return key;
}

/* An Ethernet/IPv4 ARP packet. */
static struct vsw_flow_key
arp_key(const uint8_t *eth_dst, const uint8_t *eth_src, uint16_t op,
        const char *spa, const char *tpa)
{
    static const uint8_t head[6] = {0, 1, 8, 0, 6, 4};
    struct frame f;

    put_eth(&f, eth_dst, eth_src, VSW_ETH_TYPE_ARP);
    put_bytes(&f, head, sizeof head);
    put16(&f, op);
    put_bytes(&f, eth_src, VSW_ETH_ALEN);
    put_ip4(&f, spa);
    put_bytes(&f, op == 1 ? (const uint8_t[6]){0} : eth_dst, VSW_ETH_ALEN);
    put_ip4(&f, tpa);
    return extract(&f);
}

/* A frame of some non-IP protocol (local experimental ethertype). */
static struct vsw_flow_key
other_key(const uint8_t *eth_dst, const uint8_t *eth_src)
{
    static const uint8_t payload[46];
    struct frame f;

    put_eth(&f, eth_dst, eth_src, 0x88b5);
    put_bytes(&f, payload, sizeof payload);
    return extract(&f);
}

/* Packets of the VM (mac_vm) going out to a peer and coming in from one. */
static struct vsw_flow_key
out4(const char *src, const char *dst)
{
    return ipv4_key(mac_peer, mac_vm, src, dst);
}

static struct vsw_flow_key
in4(const char *src, const char *dst)
{
    return ipv4_key(mac_vm, mac_peer, src, dst);
}

static struct vsw_acl_result
classify(const struct vsw_acl_table *t, uint8_t direction,
         struct vsw_flow_key key)
{
    struct vsw_acl_result res;

    memset(&res, 0xa5, sizeof res);
    vsw_acl_classify(t, direction, &key, &res);
    ck_assert(res.deny == (res.denied_by != 0));
    return res;
}

/* Asserts the verdict and the IP rule behind it. */
#define ck_assert_ip(RES, DENY, RULE)                                         \
    do {                                                                      \
        struct vsw_acl_result res_ = (RES);                                   \
        ck_assert_msg(res_.deny == (DENY) && res_.ip_rule == (RULE),          \
                      "expected %s by ip rule %u, got %s by ip rule %u",      \
                      (DENY) ? "deny" : "allow", (unsigned)(RULE),            \
                      res_.deny ? "deny" : "allow", (unsigned)res_.ip_rule);  \
    } while (0)

/* Precedence. */

START_TEST(test_no_rules)
{
    struct vsw_acl_table *t = compile(NULL, 0);
    struct vsw_acl_result res;
    const struct vsw_acl_table *tables[2] = {NULL, t};

    for (int i = 0; i < 2; i++) {
        for (uint8_t dir = VSW_ACL_DIR_IN; dir <= VSW_ACL_DIR_OUT; dir++) {
            res = classify(tables[i], dir, out4("10.0.0.1", "10.0.0.2"));
            ck_assert(!res.deny);
            ck_assert_uint_eq(res.denied_by, 0);
            ck_assert_uint_eq(res.ip_rule, VSW_ACL_NO_RULE);
            ck_assert_uint_eq(res.mac_rule, VSW_ACL_NO_RULE);
            ck_assert_uint_eq(res.meter_rule, VSW_ACL_NO_RULE);
            ck_assert_uint_eq(res.judged, VSW_ACL_JUDGED_IPV4);
        }
    }
    res = classify(NULL, VSW_ACL_DIR_IN, other_key(mac_vm, mac_peer));
    ck_assert(!res.deny);
    ck_assert_uint_eq(res.judged, VSW_ACL_JUDGED_MAC_ONLY);
    ck_assert(!vsw_acl_has_meter(t, VSW_ACL_DIR_IN));
    ck_assert(!vsw_acl_has_meter(NULL, VSW_ACL_DIR_IN));
    ck_assert_uint_eq(vsw_acl_n_rules(NULL), 0);
    ck_assert_uint_gt(vsw_acl_memory(t), 0);
    ck_assert_uint_eq(vsw_acl_memory(NULL), 0);
    vsw_acl_destroy(t);
    vsw_acl_destroy(NULL);
}
END_TEST

/* Hyper-V's example: deny ANY + allow 10.0.0.0/8 admits only 10/8. */
START_TEST(test_deny_any_allow_prefix)
{
    const struct vsw_acl_rule rules[] = {
        ip_rule(R1, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_REMOTE_IP, "any"),
        ip_rule(R2, VSW_ACL_ACTION_ALLOW, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_REMOTE_IP, "10.0.0.0/8"),
    };
    struct vsw_acl_table *t = compile(rules, 2);

    ck_assert_ip(classify(t, VSW_ACL_DIR_OUT, out4("192.168.0.1", "10.1.1.1")),
                 false, R2);
    ck_assert_ip(classify(t, VSW_ACL_DIR_OUT, out4("192.168.0.1", "11.1.1.1")),
                 true, R1);
    ck_assert_ip(
        classify(t, VSW_ACL_DIR_OUT, out4("192.168.0.1", "9.255.1.1")), true,
        R1);
    /* ANY covers IPv6 too. */
    ck_assert_ip(
        classify(t, VSW_ACL_DIR_OUT,
                 ipv6_key(mac_peer, mac_vm, "2001:db8::1", "2001:db8::2")),
        true, R1);
    ck_assert(
        classify(t, VSW_ACL_DIR_OUT, out4("1.1.1.1", "11.1.1.1")).denied_by ==
        VSW_ACL_DENIED_BY_IP);
    vsw_acl_destroy(t);
}
END_TEST

/* A longer deny inside an allow wins, and a longer allow inside that. */
START_TEST(test_nested_prefixes)
{
    const struct vsw_acl_rule rules[] = {
        ip_rule(R1, VSW_ACL_ACTION_ALLOW, VSW_ACL_DIR_IN,
                VSW_ACL_MATCH_REMOTE_IP, "10.0.0.0/8"),
        ip_rule(R2, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_IN,
                VSW_ACL_MATCH_REMOTE_IP, "10.1.0.0/16"),
        ip_rule(R3, VSW_ACL_ACTION_ALLOW, VSW_ACL_DIR_IN,
                VSW_ACL_MATCH_REMOTE_IP, "10.1.2.0/24"),
        ip_rule(R4, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_IN,
                VSW_ACL_MATCH_REMOTE_IP, "10.1.2.3"),
    };
    struct vsw_acl_table *t = compile(rules, 4);

    ck_assert_ip(classify(t, VSW_ACL_DIR_IN, in4("10.2.0.1", "192.168.0.1")),
                 false, R1);
    ck_assert_ip(classify(t, VSW_ACL_DIR_IN, in4("10.1.0.1", "192.168.0.1")),
                 true, R2);
    ck_assert_ip(classify(t, VSW_ACL_DIR_IN, in4("10.1.255.1", "192.168.0.1")),
                 true, R2);
    ck_assert_ip(classify(t, VSW_ACL_DIR_IN, in4("10.1.2.4", "192.168.0.1")),
                 false, R3);
    ck_assert_ip(classify(t, VSW_ACL_DIR_IN, in4("10.1.2.3", "192.168.0.1")),
                 true, R4);
    /* Nothing matches: allowed by default, no rule reported. */
    ck_assert_ip(classify(t, VSW_ACL_DIR_IN, in4("11.0.0.1", "192.168.0.1")),
                 false, VSW_ACL_NO_RULE);
    vsw_acl_destroy(t);
}
END_TEST

/* At equal length deny wins: the same prefix, a local and a remote prefix
 * of one length, and ANY against 0.0.0.0/0. */
START_TEST(test_equal_length_deny_wins)
{
    const struct vsw_acl_rule same[] = {
        ip_rule(R1, VSW_ACL_ACTION_ALLOW, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_REMOTE_IP, "10.0.0.0/8"),
        ip_rule(R2, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_REMOTE_IP, "10.0.0.0/8"),
        ip_rule(R3, VSW_ACL_ACTION_ALLOW, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_REMOTE_IP, "10.0.0.0/8"),
    };
    const struct vsw_acl_rule sides[] = {
        ip_rule(R5, VSW_ACL_ACTION_ALLOW, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_LOCAL_IP, "192.168.1.0/24"),
        ip_rule(R4, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_REMOTE_IP, "10.9.9.0/24"),
        ip_rule(R3, VSW_ACL_ACTION_ALLOW, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_REMOTE_IP, "10.0.0.0/8"),
        ip_rule(R2, VSW_ACL_ACTION_ALLOW, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_REMOTE_IP, "10.8.8.0/24"),
    };
    const struct vsw_acl_rule zero[] = {
        ip_rule(R1, VSW_ACL_ACTION_ALLOW, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_REMOTE_IP, "any"),
        ip_rule(R2, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_REMOTE_IP, "0.0.0.0/0"),
    };
    struct vsw_acl_table *t = compile(same, 3);

    ck_assert_ip(classify(t, VSW_ACL_DIR_OUT, out4("1.1.1.1", "10.1.1.1")),
                 true, R2);
    vsw_acl_destroy(t);

    t = compile(sides, 4);
    /* Local /24 allow, remote /24 deny: the remote side denies. */
    ck_assert_ip(classify(t, VSW_ACL_DIR_OUT, out4("192.168.1.5", "10.9.9.9")),
                 true, R4);
    /* Both sides allow: the longer rule is reported, at equal length the
     * lower id. */
    ck_assert_ip(classify(t, VSW_ACL_DIR_OUT, out4("192.168.1.5", "10.7.0.1")),
                 false, R5);
    ck_assert_ip(classify(t, VSW_ACL_DIR_OUT, out4("192.168.1.5", "10.8.8.8")),
                 false, R2);
    /* No local rule matches; the remote deny decides. */
    ck_assert_ip(classify(t, VSW_ACL_DIR_OUT, out4("192.168.2.5", "10.9.9.9")),
                 true, R4);
    vsw_acl_destroy(t);

    t = compile(zero, 2);
    ck_assert_ip(classify(t, VSW_ACL_DIR_OUT, out4("1.1.1.1", "2.2.2.2")),
                 true, R2);
    /* 0.0.0.0/0 is IPv4 only: IPv6 gets the ANY allow. */
    ck_assert_ip(classify(t, VSW_ACL_DIR_OUT,
                          ipv6_key(mac_peer, mac_vm, "2001:db8::1", "::2")),
                 false, R1);
    vsw_acl_destroy(t);
}
END_TEST

/* Local and remote are judged apart: an allow on one side never
 * overrides a deny on the other, however long its prefix. */
START_TEST(test_sides_independent)
{
    const struct vsw_acl_rule rules[] = {
        /* The VM owns 10.0.0.5 and may talk to 10/8 only. */
        ip_rule(R1, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_LOCAL_IP, "any"),
        ip_rule(R2, VSW_ACL_ACTION_ALLOW, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_LOCAL_IP, "10.0.0.5"),
        ip_rule(R3, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_REMOTE_IP, "any"),
        ip_rule(R4, VSW_ACL_ACTION_ALLOW, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_REMOTE_IP, "10.0.0.0/8"),
    };
    struct vsw_acl_table *t = compile(rules, 4);
    struct vsw_acl_result res;

    ck_assert_ip(classify(t, VSW_ACL_DIR_OUT, out4("10.0.0.5", "10.1.1.1")),
                 false, R2);
    /* The local /32 allow does not admit a remote the remote rules deny. */
    ck_assert_ip(classify(t, VSW_ACL_DIR_OUT, out4("10.0.0.5", "11.1.1.1")),
                 true, R3);
    /* The remote /8 allow does not admit a spoofed source. */
    ck_assert_ip(classify(t, VSW_ACL_DIR_OUT, out4("10.0.0.99", "10.1.1.1")),
                 true, R1);
    /* Both sides deny: the local rule is reported. */
    res = classify(t, VSW_ACL_DIR_OUT, out4("10.0.0.99", "11.1.1.1"));
    ck_assert_ip(res, true, R1);
    ck_assert_uint_eq(res.denied_by, VSW_ACL_DENIED_BY_IP);
    /* The same with ARP: a reply claiming a stolen address toward an
     * allowed peer. */
    ck_assert_ip(
        classify(t, VSW_ACL_DIR_OUT,
                 arp_key(mac_peer, mac_vm, 2, "10.0.0.99", "10.0.0.1")),
        true, R1);
    vsw_acl_destroy(t);
}
END_TEST

/* Rules of one family never judge the other; ANY judges both. */
START_TEST(test_family_separation)
{
    const struct vsw_acl_rule rules[] = {
        ip_rule(R1, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_REMOTE_IP, "::/0"),
        ip_rule(R2, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_REMOTE_IP, "::/8"),
        ip_rule(R3, VSW_ACL_ACTION_ALLOW, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_REMOTE_IP, "2001:db8::/32"),
        ip_rule(R4, VSW_ACL_ACTION_ALLOW, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_REMOTE_IP, "0.0.0.0/0"),
        ip_rule(R5, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_REMOTE_IP, "10.0.0.0/8"),
        ip_rule(R6, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_REMOTE_IP, "any"),
    };
    struct vsw_acl_table *t = compile(rules, 6);

    /* IPv4: ::/0 and ::/8 (which holds ::ffff:0:0/96) do not apply. */
    ck_assert_ip(classify(t, VSW_ACL_DIR_OUT, out4("1.1.1.1", "8.8.8.8")),
                 true, R6);
    ck_assert_ip(classify(t, VSW_ACL_DIR_OUT, out4("1.1.1.1", "10.0.0.1")),
                 true, R5);
    vsw_acl_destroy(t);

    /* Without the IPv4/ANY deny tie, 0.0.0.0/0 allows IPv4. */
    t = compile(rules, 5);
    ck_assert_ip(classify(t, VSW_ACL_DIR_OUT, out4("1.1.1.1", "8.8.8.8")),
                 false, R4);
    /* An IPv6 /32 is longer than the IPv4 /8 yet never meets it. */
    ck_assert_ip(classify(t, VSW_ACL_DIR_OUT,
                          ipv6_key(mac_peer, mac_vm, "::1", "2001:db8::1")),
                 false, R3);
    ck_assert_ip(classify(t, VSW_ACL_DIR_OUT,
                          ipv6_key(mac_peer, mac_vm, "::1", "2001:db9::1")),
                 true, R1);
    ck_assert_ip(classify(t, VSW_ACL_DIR_OUT,
                          ipv6_key(mac_peer, mac_vm, "::1", "::ffff:8.8.8.8")),
                 true, R2);
    vsw_acl_destroy(t);
}
END_TEST

/* Local vs remote, in vs out: a rule applies to its direction and side
 * only. */
START_TEST(test_local_remote_direction)
{
    const struct vsw_acl_rule in_local[] = {
        ip_rule(R1, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_IN,
                VSW_ACL_MATCH_LOCAL_IP, "10.0.0.5"),
    };
    const struct vsw_acl_rule out_local[] = {
        ip_rule(R2, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_LOCAL_IP, "10.0.0.5"),
    };
    const struct vsw_acl_rule in_remote[] = {
        ip_rule(R3, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_IN,
                VSW_ACL_MATCH_REMOTE_IP, "10.0.0.5"),
    };
    const struct vsw_acl_rule out_remote[] = {
        ip_rule(R4, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_REMOTE_IP, "10.0.0.5"),
    };
    struct vsw_acl_table *t;

    /* in: local = destination. */
    t = compile(in_local, 1);
    ck_assert_ip(classify(t, VSW_ACL_DIR_IN, in4("1.1.1.1", "10.0.0.5")), true,
                 R1);
    ck_assert_ip(classify(t, VSW_ACL_DIR_IN, in4("10.0.0.5", "1.1.1.1")),
                 false, 0);
    ck_assert_ip(classify(t, VSW_ACL_DIR_OUT, out4("10.0.0.5", "1.1.1.1")),
                 false, 0);
    ck_assert_ip(classify(t, VSW_ACL_DIR_OUT, out4("1.1.1.1", "10.0.0.5")),
                 false, 0);
    vsw_acl_destroy(t);

    /* out: local = source. */
    t = compile(out_local, 1);
    ck_assert_ip(classify(t, VSW_ACL_DIR_OUT, out4("10.0.0.5", "1.1.1.1")),
                 true, R2);
    ck_assert_ip(classify(t, VSW_ACL_DIR_OUT, out4("1.1.1.1", "10.0.0.5")),
                 false, 0);
    ck_assert_ip(classify(t, VSW_ACL_DIR_IN, in4("1.1.1.1", "10.0.0.5")),
                 false, 0);
    vsw_acl_destroy(t);

    /* in: remote = source. */
    t = compile(in_remote, 1);
    ck_assert_ip(classify(t, VSW_ACL_DIR_IN, in4("10.0.0.5", "1.1.1.1")), true,
                 R3);
    ck_assert_ip(classify(t, VSW_ACL_DIR_IN, in4("1.1.1.1", "10.0.0.5")),
                 false, 0);
    ck_assert_ip(classify(t, VSW_ACL_DIR_OUT, out4("1.1.1.1", "10.0.0.5")),
                 false, 0);
    vsw_acl_destroy(t);

    /* out: remote = destination. */
    t = compile(out_remote, 1);
    ck_assert_ip(classify(t, VSW_ACL_DIR_OUT, out4("1.1.1.1", "10.0.0.5")),
                 true, R4);
    ck_assert_ip(classify(t, VSW_ACL_DIR_OUT, out4("10.0.0.5", "1.1.1.1")),
                 false, 0);
    ck_assert_ip(classify(t, VSW_ACL_DIR_IN, in4("10.0.0.5", "1.1.1.1")),
                 false, 0);
    vsw_acl_destroy(t);
}
END_TEST

/* The MAC and IP lists are independent: an allow in one never overrides a
 * deny in the other. */
START_TEST(test_mac_list_independent)
{
    const struct vsw_acl_rule ip_deny_mac_allow[] = {
        ip_rule(R1, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_REMOTE_IP, "any"),
        mac_rule(R2, VSW_ACL_ACTION_ALLOW, VSW_ACL_DIR_OUT,
                 VSW_ACL_MATCH_LOCAL_MAC, "02:00:00:00:00:01"),
    };
    const struct vsw_acl_rule ip_allow_mac_deny[] = {
        ip_rule(R1, VSW_ACL_ACTION_ALLOW, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_REMOTE_IP, "any"),
        mac_rule(R2, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_OUT,
                 VSW_ACL_MATCH_REMOTE_MAC, "02:00:00:00:00:02"),
    };
    struct vsw_acl_table *t;
    struct vsw_acl_result res;

    t = compile(ip_deny_mac_allow, 2);
    res = classify(t, VSW_ACL_DIR_OUT, out4("10.0.0.1", "10.0.0.2"));
    ck_assert(res.deny);
    ck_assert_uint_eq(res.denied_by, VSW_ACL_DENIED_BY_IP);
    ck_assert_uint_eq(res.ip_rule, R1);
    ck_assert_uint_eq(res.mac_rule, R2);
    /* A non-IP frame is judged by the MAC list alone. */
    res = classify(t, VSW_ACL_DIR_OUT, other_key(mac_peer, mac_vm));
    ck_assert(!res.deny);
    ck_assert_uint_eq(res.judged, VSW_ACL_JUDGED_MAC_ONLY);
    ck_assert_uint_eq(res.ip_rule, VSW_ACL_NO_RULE);
    ck_assert_uint_eq(res.mac_rule, R2);
    vsw_acl_destroy(t);

    t = compile(ip_allow_mac_deny, 2);
    res = classify(t, VSW_ACL_DIR_OUT, out4("10.0.0.1", "10.0.0.2"));
    ck_assert(res.deny);
    ck_assert_uint_eq(res.denied_by, VSW_ACL_DENIED_BY_MAC);
    ck_assert_uint_eq(res.ip_rule, R1);
    ck_assert_uint_eq(res.mac_rule, R2);
    res = classify(t, VSW_ACL_DIR_OUT, other_key(mac_peer, mac_vm));
    ck_assert_uint_eq(res.denied_by, VSW_ACL_DENIED_BY_MAC);
    /* Another peer, or the same MAC in the other direction: no match. */
    res = classify(t, VSW_ACL_DIR_OUT,
                   ipv4_key(mac_other, mac_vm, "10.0.0.1", "10.0.0.2"));
    ck_assert(!res.deny);
    ck_assert_uint_eq(res.mac_rule, VSW_ACL_NO_RULE);
    res = classify(t, VSW_ACL_DIR_IN, in4("10.0.0.2", "10.0.0.1"));
    ck_assert(!res.deny);
    vsw_acl_destroy(t);
}
END_TEST

/* MAC precedence: exact beats ANY; deny wins at equal specificity. */
START_TEST(test_mac_precedence)
{
    const struct vsw_acl_rule rules[] = {
        mac_rule(R1, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_IN,
                 VSW_ACL_MATCH_REMOTE_MAC, "any"),
        mac_rule(R2, VSW_ACL_ACTION_ALLOW, VSW_ACL_DIR_IN,
                 VSW_ACL_MATCH_REMOTE_MAC, "02-00-00-00-00-02"),
        mac_rule(R3, VSW_ACL_ACTION_ALLOW, VSW_ACL_DIR_IN,
                 VSW_ACL_MATCH_LOCAL_MAC, "020000000001"),
        mac_rule(R4, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_IN,
                 VSW_ACL_MATCH_REMOTE_MAC, "02:00:00:00:00:03"),
        mac_rule(R5, VSW_ACL_ACTION_ALLOW, VSW_ACL_DIR_IN,
                 VSW_ACL_MATCH_LOCAL_MAC, "any"),
    };
    struct vsw_acl_table *t = compile(rules, 5);
    struct vsw_acl_result res;
    const uint8_t mac_x[VSW_ETH_ALEN] = {0x02, 0, 0, 0, 0, 0x09};

    /* Exact remote allow beats ANY deny; the exact local allow ties. */
    res = classify(t, VSW_ACL_DIR_IN, other_key(mac_vm, mac_peer));
    ck_assert(!res.deny);
    ck_assert_uint_eq(res.mac_rule, R2);
    /* Exact local allow vs exact remote deny: deny. */
    res = classify(t, VSW_ACL_DIR_IN, other_key(mac_vm, mac_other));
    ck_assert(res.deny);
    ck_assert_uint_eq(res.mac_rule, R4);
    /* No exact match: local ANY allows, remote ANY denies. */
    res = classify(t, VSW_ACL_DIR_IN, other_key(mac_bcast, mac_x));
    ck_assert(res.deny);
    ck_assert_uint_eq(res.mac_rule, R1);
    /* Local side is the destination on in: the VM's MAC as source is not
     * the local MAC. */
    res = classify(t, VSW_ACL_DIR_IN, other_key(mac_x, mac_vm));
    ck_assert(res.deny);
    ck_assert_uint_eq(res.mac_rule, R1);
    vsw_acl_destroy(t);
}
END_TEST

/* MAC ties on one side: deny wins between equal exact rules and between
 * ANY rules. */
START_TEST(test_mac_ties)
{
    const struct vsw_acl_rule rules[] = {
        mac_rule(R3, VSW_ACL_ACTION_ALLOW, VSW_ACL_DIR_OUT,
                 VSW_ACL_MATCH_REMOTE_MAC, "02:00:00:00:00:02"),
        mac_rule(R4, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_OUT,
                 VSW_ACL_MATCH_REMOTE_MAC, "02:00:00:00:00:02"),
        mac_rule(R5, VSW_ACL_ACTION_ALLOW, VSW_ACL_DIR_OUT,
                 VSW_ACL_MATCH_LOCAL_MAC, "any"),
        mac_rule(R6, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_OUT,
                 VSW_ACL_MATCH_LOCAL_MAC, "any"),
        mac_rule(R2, VSW_ACL_ACTION_ALLOW, VSW_ACL_DIR_OUT,
                 VSW_ACL_MATCH_LOCAL_MAC, "02:00:00:00:00:01"),
    };
    struct vsw_acl_table *t = compile(rules, 5);
    struct vsw_acl_result res;

    /* Local exact allow; remote exact allow and deny tie: deny. */
    res = classify(t, VSW_ACL_DIR_OUT, other_key(mac_peer, mac_vm));
    ck_assert(res.deny);
    ck_assert_uint_eq(res.mac_rule, R4);
    /* Local ANY allow and deny tie: deny. */
    res = classify(t, VSW_ACL_DIR_OUT, other_key(mac_other, mac_other));
    ck_assert(res.deny);
    ck_assert_uint_eq(res.mac_rule, R6);
    /* The local exact allow beats the ANY deny. */
    res = classify(t, VSW_ACL_DIR_OUT, other_key(mac_other, mac_vm));
    ck_assert(!res.deny);
    ck_assert_uint_eq(res.mac_rule, R2);
    vsw_acl_destroy(t);
}
END_TEST

/* ARP sender and target addresses are judged by the IP rules. */
START_TEST(test_arp)
{
    const struct vsw_acl_rule rules[] = {
        /* Anti-spoofing for a VM owning 10.0.0.5. */
        ip_rule(R1, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_LOCAL_IP, "any"),
        ip_rule(R2, VSW_ACL_ACTION_ALLOW, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_LOCAL_IP, "10.0.0.5"),
        /* Nobody may resolve or claim 10.0.0.66 toward the VM. */
        ip_rule(R3, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_IN,
                VSW_ACL_MATCH_REMOTE_IP, "10.0.0.66"),
        ip_rule(R4, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_IN,
                VSW_ACL_MATCH_LOCAL_IP, "10.0.0.77"),
        ip_rule(R5, VSW_ACL_ACTION_METER, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_REMOTE_IP, "any"),
    };
    struct vsw_acl_table *t = compile(rules, 5);
    struct vsw_acl_result res;

    /* A reply claiming the VM's own address passes; one claiming another
     * address (ARP spoofing) is denied. */
    res = classify(t, VSW_ACL_DIR_OUT,
                   arp_key(mac_peer, mac_vm, 2, "10.0.0.5", "10.0.0.1"));
    ck_assert_uint_eq(res.judged, VSW_ACL_JUDGED_ARP);
    ck_assert_ip(res, false, R2);
    ck_assert_uint_eq(res.meter_rule, VSW_ACL_NO_RULE); /* ARP: no meter */
    res = classify(t, VSW_ACL_DIR_OUT,
                   arp_key(mac_peer, mac_vm, 2, "10.0.0.99", "10.0.0.1"));
    ck_assert_ip(res, true, R1);
    ck_assert_uint_eq(res.denied_by, VSW_ACL_DENIED_BY_IP);
    /* Gratuitous ARP for a stolen address, too. */
    ck_assert_ip(
        classify(t, VSW_ACL_DIR_OUT,
                 arp_key(mac_bcast, mac_vm, 1, "10.0.0.1", "10.0.0.1")),
        true, R1);

    /* In: the sender is remote, the target local. */
    ck_assert_ip(
        classify(t, VSW_ACL_DIR_IN,
                 arp_key(mac_vm, mac_peer, 2, "10.0.0.66", "10.0.0.5")),
        true, R3);
    ck_assert_ip(
        classify(t, VSW_ACL_DIR_IN,
                 arp_key(mac_bcast, mac_peer, 1, "10.0.0.1", "10.0.0.77")),
        true, R4);
    ck_assert_ip(
        classify(t, VSW_ACL_DIR_IN,
                 arp_key(mac_bcast, mac_peer, 1, "10.0.0.1", "10.0.0.5")),
        false, 0);
    vsw_acl_destroy(t);
}
END_TEST

/* ND targets are judged on top of the IPv6 header. */
START_TEST(test_nd_target)
{
    const struct vsw_acl_rule rules[] = {
        /* Anti-spoofing for a VM owning 2001:db8::5 and fe80::5. */
        ip_rule(R1, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_LOCAL_IP, "any"),
        ip_rule(R2, VSW_ACL_ACTION_ALLOW, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_LOCAL_IP, "2001:db8::5"),
        ip_rule(R3, VSW_ACL_ACTION_ALLOW, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_LOCAL_IP, "fe80::5"),
        ip_rule(R4, VSW_ACL_ACTION_ALLOW, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_LOCAL_IP, "::"),
        /* The VM may only talk to 2001:db8::/64 and link-local peers. */
        ip_rule(R5, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_REMOTE_IP, "2001:db8:1::/48"),
        /* Toward the VM: nobody may claim 2001:db8::66, and nobody may
         * resolve 2001:db8::77 at the VM. */
        ip_rule(R6, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_IN,
                VSW_ACL_MATCH_REMOTE_IP, "2001:db8::66"),
        ip_rule(R7, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_IN,
                VSW_ACL_MATCH_LOCAL_IP, "2001:db8::77"),
    };
    struct vsw_acl_table *t = compile(rules, 7);
    struct vsw_acl_result res;

    /* NA from the VM's link-local address announcing its own global one. */
    res = classify(
        t, VSW_ACL_DIR_OUT,
        nd_key(mac_peer, mac_vm, "fe80::5", "ff02::1", 136, "2001:db8::5"));
    ck_assert_uint_eq(res.judged, VSW_ACL_JUDGED_ND);
    ck_assert_ip(res, false, R2); /* source and target /128s: lower id */
    ck_assert_uint_eq(res.denied_by, 0);
    /* NA announcing someone else's address: denied by the target alone. */
    res = classify(
        t, VSW_ACL_DIR_OUT,
        nd_key(mac_peer, mac_vm, "fe80::5", "ff02::1", 136, "2001:db8::99"));
    ck_assert_ip(res, true, R1);
    ck_assert_uint_eq(res.denied_by, VSW_ACL_DENIED_BY_ND_TARGET);
    /* NS resolving the router: the target is the remote side. */
    ck_assert_ip(classify(t, VSW_ACL_DIR_OUT,
                          nd_key(mac_bcast, mac_vm, "2001:db8::5",
                                 "ff02::1:ff00:1", 135, "2001:db8::1")),
                 false, R2);
    /* NS resolving a forbidden remote address. */
    res = classify(t, VSW_ACL_DIR_OUT,
                   nd_key(mac_bcast, mac_vm, "2001:db8::5", "ff02::1:ff00:9",
                          135, "2001:db8:1::9"));
    ck_assert_ip(res, true, R5);
    ck_assert_uint_eq(res.denied_by, VSW_ACL_DENIED_BY_ND_TARGET);
    /* Duplicate address detection (source ::) claims the target. */
    ck_assert_ip(classify(t, VSW_ACL_DIR_OUT,
                          nd_key(mac_bcast, mac_vm, "::", "ff02::1:ff00:5",
                                 135, "2001:db8::5")),
                 false, R2);
    res = classify(t, VSW_ACL_DIR_OUT,
                   nd_key(mac_bcast, mac_vm, "::", "ff02::1:ff00:99", 135,
                          "2001:db8::99"));
    ck_assert_ip(res, true, R1);
    ck_assert_uint_eq(res.denied_by, VSW_ACL_DENIED_BY_ND_TARGET);
    /* Both the header and the target deny: the header's rule is shown. */
    res = classify(
        t, VSW_ACL_DIR_OUT,
        nd_key(mac_peer, mac_vm, "fe80::9", "ff02::1", 136, "2001:db8::99"));
    ck_assert_ip(res, true, R1);
    ck_assert_uint_eq(res.denied_by,
                      VSW_ACL_DENIED_BY_IP | VSW_ACL_DENIED_BY_ND_TARGET);

    /* In: an NA's target is remote, an NS's target local. */
    res = classify(
        t, VSW_ACL_DIR_IN,
        nd_key(mac_vm, mac_peer, "fe80::2", "fe80::5", 136, "2001:db8::66"));
    ck_assert_ip(res, true, R6);
    ck_assert_uint_eq(res.denied_by, VSW_ACL_DENIED_BY_ND_TARGET);
    ck_assert_ip(classify(t, VSW_ACL_DIR_IN,
                          nd_key(mac_vm, mac_peer, "fe80::2", "fe80::5", 136,
                                 "2001:db8::77")),
                 false, 0);
    ck_assert_ip(classify(t, VSW_ACL_DIR_IN,
                          nd_key(mac_bcast, mac_peer, "fe80::2",
                                 "ff02::1:ff00:77", 135, "2001:db8::77")),
                 true, R7);
    ck_assert_ip(classify(t, VSW_ACL_DIR_IN,
                          nd_key(mac_bcast, mac_peer, "fe80::2",
                                 "ff02::1:ff00:66", 135, "2001:db8::66")),
                 false, 0);
    vsw_acl_destroy(t);
}
END_TEST

/* Meter rules are reported (longest match) and never deny. */
START_TEST(test_meter)
{
    const struct vsw_acl_rule rules[] = {
        ip_rule(R1, VSW_ACL_ACTION_METER, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_REMOTE_IP, "any"),
        ip_rule(R2, VSW_ACL_ACTION_METER, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_REMOTE_IP, "10.0.0.0/8"),
        ip_rule(R3, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_REMOTE_IP, "10.1.0.0/16"),
        ip_rule(R4, VSW_ACL_ACTION_METER, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_LOCAL_IP, "192.168.0.0/16"),
        ip_rule(R5, VSW_ACL_ACTION_METER, VSW_ACL_DIR_IN,
                VSW_ACL_MATCH_LOCAL_IP, "2001:db8::/32"),
    };
    struct vsw_acl_table *t = compile(rules, 5);
    struct vsw_acl_result res;

    ck_assert(vsw_acl_has_meter(t, VSW_ACL_DIR_OUT));
    ck_assert(vsw_acl_has_meter(t, VSW_ACL_DIR_IN));
    res = classify(t, VSW_ACL_DIR_OUT, out4("1.1.1.1", "10.2.0.1"));
    ck_assert_ip(res, false, 0);
    ck_assert_uint_eq(res.meter_rule, R2);
    res = classify(t, VSW_ACL_DIR_OUT, out4("1.1.1.1", "8.8.8.8"));
    ck_assert_ip(res, false, 0);
    ck_assert_uint_eq(res.meter_rule, R1);
    /* Denied packets still report their meter; the caller decides. */
    res = classify(t, VSW_ACL_DIR_OUT, out4("1.1.1.1", "10.1.0.1"));
    ck_assert_ip(res, true, R3);
    ck_assert_uint_eq(res.meter_rule, R2);
    /* Local /16 meter beats remote /8 meter. */
    res = classify(t, VSW_ACL_DIR_OUT, out4("192.168.3.3", "10.2.0.1"));
    ck_assert_uint_eq(res.meter_rule, R4);
    /* Direction and family. */
    res = classify(t, VSW_ACL_DIR_IN, in4("10.2.0.1", "1.1.1.1"));
    ck_assert_uint_eq(res.meter_rule, VSW_ACL_NO_RULE);
    res = classify(t, VSW_ACL_DIR_IN,
                   ipv6_key(mac_vm, mac_peer, "2001:db9::1", "2001:db8::5"));
    ck_assert_ip(res, false, 0);
    ck_assert_uint_eq(res.meter_rule, R5);
    res = classify(t, VSW_ACL_DIR_OUT, other_key(mac_peer, mac_vm));
    ck_assert_uint_eq(res.meter_rule, VSW_ACL_NO_RULE);
    vsw_acl_destroy(t);

    /* Meter rules alone never deny and have no verdict rule. */
    t = compile(rules, 2);
    ck_assert(!vsw_acl_has_meter(t, VSW_ACL_DIR_IN));
    res = classify(t, VSW_ACL_DIR_OUT, out4("1.1.1.1", "10.2.0.1"));
    ck_assert_ip(res, false, 0);
    ck_assert_uint_eq(res.meter_rule, R2);
    vsw_acl_destroy(t);
}
END_TEST

/* Addresses the parser could not read are judged as unspecified. */
START_TEST(test_unreadable_addresses)
{
    const struct vsw_acl_rule rules[] = {
        ip_rule(R1, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_REMOTE_IP, "any"),
        ip_rule(R2, VSW_ACL_ACTION_ALLOW, VSW_ACL_DIR_OUT,
                VSW_ACL_MATCH_REMOTE_IP, "10.0.0.0/8"),
    };
    struct vsw_acl_table *t = compile(rules, 2);
    struct vsw_flow_key key;
    struct frame f;

    /* An IPv4 header cut short. */
    put_eth(&f, mac_peer, mac_vm, VSW_ETH_TYPE_IPV4);
    put_bytes(&f, (const uint8_t[10]){0x45}, 10);
    key = extract(&f);
    ck_assert(key.flags & VSW_FLOW_F_L3_TRUNCATED);
    ck_assert_ip(classify(t, VSW_ACL_DIR_OUT, key), true, R1);
    vsw_acl_destroy(t);
}
END_TEST

/* Compilation errors. */

static void
expect_compile_error(const struct vsw_acl_rule *rules, size_t n, int error,
                     const char *needle)
{
    struct vsw_acl_table *t = (struct vsw_acl_table *)&t;
    char err[256];

    ck_assert_int_eq(vsw_acl_compile(rules, n, &t, err, sizeof err), error);
    ck_assert_ptr_eq(t, (struct vsw_acl_table *)&t);
    ck_assert_msg(strstr(err, needle), "message '%s' lacks '%s'", err, needle);
}

START_TEST(test_compile_errors)
{
    struct vsw_acl_rule good = ip_rule(R1, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_IN,
                                       VSW_ACL_MATCH_LOCAL_IP, "10.0.0.0/8");
    struct vsw_acl_rule rules[2];
    struct vsw_acl_rule *many;

    rules[0] = good;
    rules[1] = mac_rule(R2, VSW_ACL_ACTION_METER, VSW_ACL_DIR_IN,
                        VSW_ACL_MATCH_REMOTE_MAC, "02:00:00:00:00:01");
    expect_compile_error(rules, 2, -EINVAL, "rule 1 (id 2): a meter rule");
    rules[1].mac.any = true;
    expect_compile_error(rules, 2, -EINVAL, "meter");

    rules[1] = good;
    rules[1].ip.plen = 33;
    expect_compile_error(rules, 2, -EINVAL, "prefix length 33");
    rules[1] = ip_rule(R2, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_IN,
                       VSW_ACL_MATCH_LOCAL_IP, "2001:db8::/32");
    rules[1].ip.plen = 129;
    expect_compile_error(rules, 2, -EINVAL, "prefix length 129");
    rules[1].ip.plen = 16;
    expect_compile_error(rules, 2, -EINVAL, "bits set past the /16");
    rules[1] = good;
    rules[1].ip.addr[10] = 0;
    expect_compile_error(rules, 2, -EINVAL, "IPv4-mapped");
    rules[1] = good;
    rules[1].ip.family = 5;
    expect_compile_error(rules, 2, -EINVAL, "family");
    rules[1] = ip_rule(R2, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_IN,
                       VSW_ACL_MATCH_LOCAL_IP, "any");
    rules[1].ip.plen = 8;
    expect_compile_error(rules, 2, -EINVAL, "any");
    rules[1] = good;
    rules[1].id = 0;
    expect_compile_error(rules, 2, -EINVAL, "rule 1: id 0");
    rules[1] = good;
    rules[1].action = 3;
    expect_compile_error(rules, 2, -EINVAL, "action");
    rules[1] = good;
    rules[1].direction = 2;
    expect_compile_error(rules, 2, -EINVAL, "direction");
    rules[1] = good;
    rules[1].match = 4;
    expect_compile_error(rules, 2, -EINVAL, "match");

    many = calloc(VSW_ACL_MAX_RULES + 1, sizeof *many);
    ck_assert_ptr_nonnull(many);
    for (size_t i = 0; i <= VSW_ACL_MAX_RULES; i++) {
        many[i] = good;
    }
    expect_compile_error(many, VSW_ACL_MAX_RULES + 1, -E2BIG, "at most");
    free(many);
}
END_TEST

/* Parsers and formatters. */

static void
expect_prefix(const char *text, uint8_t family, uint8_t plen,
              const char *formatted)
{
    struct vsw_acl_prefix p;
    char err[256], buf[64];

    memset(&p, 0x5a, sizeof p);
    ck_assert_msg(!vsw_acl_parse_prefix(text, &p, err, sizeof err), "%s: %s",
                  text, err);
    ck_assert_uint_eq(p.family, family);
    ck_assert_uint_eq(p.plen, plen);
    ck_assert_str_eq(vsw_acl_prefix_format(&p, buf, sizeof buf), formatted);
    if (family == 4) {
        ck_assert_uint_eq(p.addr[10], 0xff);
        ck_assert_uint_eq(p.addr[11], 0xff);
    }
}

static void
expect_prefix_error(const char *text, const char *needle)
{
    struct vsw_acl_prefix p, before;
    char err[256];

    memset(&p, 0x5a, sizeof p);
    before = p;
    ck_assert_int_eq(vsw_acl_parse_prefix(text, &p, err, sizeof err), -EINVAL);
    ck_assert_mem_eq(&p, &before, sizeof p);
    ck_assert_msg(strstr(err, needle), "'%s': message '%s' lacks '%s'",
                  text ? text : "(null)", err, needle);
}

START_TEST(test_parse_prefix)
{
    expect_prefix("10.0.0.0/8", 4, 8, "10.0.0.0/8");
    expect_prefix("10.1.2.3", 4, 32, "10.1.2.3");
    expect_prefix("10.1.2.3/32", 4, 32, "10.1.2.3");
    expect_prefix("10.1.2.3/8", 4, 8, "10.0.0.0/8");
    expect_prefix("0.0.0.0/0", 4, 0, "0.0.0.0/0");
    expect_prefix("2001:db8::/32", 6, 32, "2001:db8::/32");
    expect_prefix("2001:DB8::1", 6, 128, "2001:db8::1");
    expect_prefix("2001:db8:ffff::1/33", 6, 33, "2001:db8:8000::/33");
    expect_prefix("::/0", 6, 0, "::/0");
    expect_prefix("::", 6, 128, "::");
    expect_prefix("::ffff:10.0.0.0/104", 4, 8, "10.0.0.0/8");
    expect_prefix("::ffff:0:0/80", 6, 80, "::/80");
    expect_prefix("ANY", 0, 0, "any");
    expect_prefix("any", 0, 0, "any");
    expect_prefix("Any", 0, 0, "any");

    expect_prefix_error("", "empty");
    expect_prefix_error(NULL, "empty");
    expect_prefix_error("10.0.0.0/33", "'10.0.0.0/33': prefix length 33 is "
                                       "longer than the 32 bits of an IPv4");
    expect_prefix_error("2001:db8::/129", "129 is longer than the 128 bits");
    expect_prefix_error("10.0.0/8", "'10.0.0/8' is not an IPv4 or IPv6");
    expect_prefix_error("10.0.0.256", "not an IPv4 or IPv6");
    expect_prefix_error("010.0.0.1", "not an IPv4 or IPv6");
    expect_prefix_error(" 10.0.0.1", "not an IPv4 or IPv6");
    expect_prefix_error("hello", "'hello' is not");
    expect_prefix_error("10.0.0.0/", "must be a number from 0 to 32");
    expect_prefix_error("10.0.0.0/a", "must be a number");
    expect_prefix_error("10.0.0.0/-1", "must be a number");
    expect_prefix_error("10.0.0.0/+8", "must be a number");
    expect_prefix_error("10.0.0.0/8 ", "must be a number");
    expect_prefix_error("10.0.0.0/0008", "must be a number");
    expect_prefix_error("10.0.0.0/8/8", "must be a number");
    expect_prefix_error("any/0", "any takes no prefix length");
    expect_prefix_error("2001:db8:::1", "not an IPv4 or IPv6");
    expect_prefix_error("1111:2222:3333:4444:5555:6666:7777:8888:9999/64",
                        "not an IPv4 or IPv6");
}
END_TEST

static void
expect_mac(const char *text, const char *formatted)
{
    struct vsw_acl_mac mac;
    char err[256], buf[32];

    ck_assert_msg(!vsw_acl_parse_mac(text, &mac, err, sizeof err), "%s: %s",
                  text, err);
    ck_assert_str_eq(vsw_acl_mac_format(&mac, buf, sizeof buf), formatted);
}

static void
expect_mac_error(const char *text)
{
    struct vsw_acl_mac mac, before;
    char err[256];

    memset(&mac, 0x5a, sizeof mac);
    before = mac;
    ck_assert_int_eq(vsw_acl_parse_mac(text, &mac, err, sizeof err), -EINVAL);
    ck_assert_mem_eq(&mac, &before, sizeof mac);
    ck_assert_msg(strstr(err, "is not a MAC address"), "%s", err);
    if (text) {
        ck_assert_msg(strstr(err, text), "'%s' not quoted in '%s'", text, err);
    }
}

START_TEST(test_parse_mac_and_action)
{
    uint8_t action = 0xff;
    char err[256];
    struct vsw_acl_mac mac;

    expect_mac("02:00:5e:00:00:01", "02:00:5e:00:00:01");
    expect_mac("02-00-5E-00-00-01", "02:00:5e:00:00:01");
    expect_mac("02005E000001", "02:00:5e:00:00:01");
    expect_mac("ff:ff:ff:ff:ff:ff", "ff:ff:ff:ff:ff:ff");
    expect_mac("ANY", "any");
    ck_assert_int_eq(vsw_acl_parse_mac("any", &mac, err, sizeof err), 0);
    ck_assert(mac.any);
    ck_assert_int_eq(
        vsw_acl_parse_mac("02:00:00:00:00:09", &mac, err, sizeof err), 0);
    ck_assert(!mac.any);
    ck_assert_uint_eq(mac.addr[5], 9);

    expect_mac_error("");
    expect_mac_error(NULL);
    expect_mac_error("02:00:00:00:00");
    expect_mac_error("02:00:00:00:00:0g");
    expect_mac_error("02:00-00:00:00:01");
    expect_mac_error("02:00:00:00:00:01:02");
    expect_mac_error("02.00.00.00.00.01");
    expect_mac_error("02005E00000");
    expect_mac_error("any ");

    ck_assert_int_eq(vsw_acl_parse_action("allow", &action, err, sizeof err),
                     0);
    ck_assert_uint_eq(action, VSW_ACL_ACTION_ALLOW);
    ck_assert_int_eq(vsw_acl_parse_action("DENY", &action, err, sizeof err),
                     0);
    ck_assert_uint_eq(action, VSW_ACL_ACTION_DENY);
    ck_assert_int_eq(vsw_acl_parse_action("Meter", &action, err, sizeof err),
                     0);
    ck_assert_uint_eq(action, VSW_ACL_ACTION_METER);
    ck_assert_int_eq(vsw_acl_parse_action("drop", &action, err, sizeof err),
                     -EINVAL);
    ck_assert_uint_eq(action, VSW_ACL_ACTION_METER);
    ck_assert_str_eq(err, "'drop' is not an ACL action (allow, deny, meter)");
}
END_TEST

START_TEST(test_format)
{
    struct vsw_acl_rule rule;
    struct vsw_acl_result res;
    char buf[128];

    rule = ip_rule(7, VSW_ACL_ACTION_DENY, VSW_ACL_DIR_OUT,
                   VSW_ACL_MATCH_REMOTE_IP, "10.0.0.0/8");
    ck_assert_str_eq(vsw_acl_rule_format(&rule, buf, sizeof buf),
                     "rule 7 deny out remote-ip 10.0.0.0/8");
    rule = mac_rule(8, VSW_ACL_ACTION_ALLOW, VSW_ACL_DIR_IN,
                    VSW_ACL_MATCH_LOCAL_MAC, "any");
    ck_assert_str_eq(vsw_acl_rule_format(&rule, buf, sizeof buf),
                     "rule 8 allow in local-mac any");

    memset(&res, 0, sizeof res);
    ck_assert_str_eq(vsw_acl_result_format(&res, buf, sizeof buf),
                     "allow: no rule");
    res.meter_rule = 9;
    ck_assert_str_eq(vsw_acl_result_format(&res, buf, sizeof buf),
                     "allow: no rule, meter rule 9");
    res.deny = true;
    res.denied_by = VSW_ACL_DENIED_BY_ND_TARGET;
    res.ip_rule = 7;
    res.mac_rule = 3;
    ck_assert_str_eq(vsw_acl_result_format(&res, buf, sizeof buf),
                     "deny: ip rule 7 denied the nd target, mac rule 3 "
                     "allowed, meter rule 9");
    res.denied_by = VSW_ACL_DENIED_BY_MAC;
    res.ip_rule = 0;
    res.meter_rule = 0;
    ck_assert_str_eq(vsw_acl_result_format(&res, buf, sizeof buf),
                     "deny: mac rule 3 denied");
    /* Truncation keeps the buffer terminated. */
    ck_assert_str_eq(vsw_acl_result_format(&res, buf, 6), "deny:");
}
END_TEST

/* Differential testing against a naive reference. */

static uint32_t
random_below(uint64_t *state, uint32_t n)
{
    return (uint32_t)(next_random(state) % n);
}

static void
random_bytes(uint64_t *state, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)next_random(state);
    }
}

/* Copies 'bits' leading bits of 'from' into 'to' (16 bytes each). */
static void
copy_bits(uint8_t *to, const uint8_t *from, unsigned bits)
{
    for (unsigned i = 0; i < 16 && bits; i++) {
        unsigned n = bits < 8 ? bits : 8;
        uint8_t mask = (uint8_t)(0xff << (8 - n));

        to[i] = (uint8_t)((to[i] & ~mask) | (from[i] & mask));
        bits -= n;
    }
}

#define POOL_MAX 256

/* Addresses the generators draw from, so that rules nest and tie.  The
 * pools grow with the rule count so that big rule sets do not saturate
 * every address with a deny. */
struct pool {
    unsigned n_ips;                      /* bases in use in 'v4', 'v6' */
    unsigned n_macs;                     /* MACs in use in 'mac' */
    uint32_t any_odds;                   /* one rule in this many is ANY */
    bool clustered;                      /* most rules on pool bases */
    uint8_t v4[POOL_MAX][16];            /* IPv4-mapped bases */
    uint8_t v6[POOL_MAX][16];            /* IPv6 bases */
    uint8_t mac[POOL_MAX][VSW_ETH_ALEN]; /* MACs */
};

static unsigned
clamp(size_t x, unsigned lo, unsigned hi)
{
    return x < lo ? lo : x > hi ? hi : (unsigned)x;
}

static void
pool_init(struct pool *pool, size_t n_rules, bool clustered, uint64_t *rng)
{
    pool->clustered = clustered;
    pool->n_ips = clamp(n_rules / 64, 8, POOL_MAX);
    pool->n_macs = clamp(n_rules / 8, 8, POOL_MAX);
    pool->any_odds = n_rules < 50 ? 20 : (uint32_t)n_rules / 2;
    for (int i = 0; i < POOL_MAX; i++) {
        memset(pool->v4[i], 0, 16);
        pool->v4[i][10] = 0xff;
        pool->v4[i][11] = 0xff;
        random_bytes(rng, pool->v4[i] + 12, 4);
        random_bytes(rng, pool->v6[i], 16);
        random_bytes(rng, pool->mac[i], VSW_ETH_ALEN);
    }
    /* Bases that differ only deep down, to exercise long shared paths. */
    memcpy(pool->v6[1], pool->v6[0], 15);
    memcpy(pool->v4[1], pool->v4[0], 15);
}

static const uint8_t *
pool_ip(const struct pool *pool, bool v4, uint64_t *rng)
{
    unsigned i = random_below(rng, pool->n_ips);

    return v4 ? pool->v4[i] : pool->v6[i];
}

/* Deny is the rarer action, so that big rule sets still allow. */
static uint8_t
random_action(uint64_t *rng, bool meter)
{
    uint32_t r = random_below(rng, 10);

    if (r < 2) {
        return VSW_ACL_ACTION_DENY;
    }
    return meter && r < 5 ? VSW_ACL_ACTION_METER : VSW_ACL_ACTION_ALLOW;
}

/* A random rule with id 'id' in list 'list' (direction in bit 0, match in
 * bits 1 and 2), or in a random list (a MAC one in four) if 'list' is
 * negative. */
static void
random_rule(struct vsw_acl_rule *rule, uint32_t id, int list,
            const struct pool *pool, uint64_t *rng)
{
    bool any = random_below(rng, pool->any_odds) == 0;

    if (list < 0) {
        list = (int)random_below(rng, 4);
        list |= random_below(rng, 4) ? 0 : 4;
    }
    memset(rule, 0, sizeof *rule);
    rule->id = id;
    rule->direction = (uint8_t)(list & 1);
    rule->match = (uint8_t)(list >> 1);
    if (rule->match >= VSW_ACL_MATCH_LOCAL_MAC) {
        rule->action = random_action(rng, false);
        if (any) {
            rule->mac.any = true;
        } else if (random_below(rng, 10) < 7 && pool->clustered) {
            memcpy(rule->mac.addr, pool->mac[random_below(rng, pool->n_macs)],
                   VSW_ETH_ALEN);
        } else {
            random_bytes(rng, rule->mac.addr, VSW_ETH_ALEN);
        }
    } else if (any) {
        rule->action = random_action(rng, true);
        rule->ip.family = 0;
    } else {
        struct vsw_acl_prefix *p = &rule->ip;
        bool v4 = random_below(rng, 2);
        unsigned max = v4 ? 32 : 128;
        uint32_t kind = random_below(rng, 10);

        rule->action = random_action(rng, true);
        p->family = v4 ? 4 : 6;
        p->plen = (uint8_t)(kind < 2 ? max : random_below(rng, max + 1));
        if (kind < 8 && pool->clustered) {
            memcpy(p->addr, pool_ip(pool, v4, rng), 16);
        } else {
            random_bytes(rng, p->addr, 16);
            if (v4) {
                memset(p->addr, 0, 10);
                p->addr[10] = 0xff;
                p->addr[11] = 0xff;
            }
        }
        if (v4) {
            uint8_t masked[16] = {[10] = 0xff, [11] = 0xff};

            copy_bits(masked, p->addr, 96u + p->plen);
            memcpy(p->addr, masked, 16);
        } else {
            uint8_t masked[16] = {0};

            copy_bits(masked, p->addr, p->plen);
            memcpy(p->addr, masked, 16);
        }
    }
}

/* 'n' random rules; ids repeat now and then.  The first eight cover
 * every list (direction and match), so that small and big sets do the
 * same work per packet. */
static struct vsw_acl_rule *
random_rules(size_t n, const struct pool *pool, uint64_t *rng)
{
    struct vsw_acl_rule *rules = calloc(n ? n : 1, sizeof *rules);

    ck_assert_ptr_nonnull(rules);
    for (size_t i = 0; i < n; i++) {
        uint32_t id = random_below(rng, 8)
                          ? (uint32_t)i + 1
                          : random_below(rng, (uint32_t)n) + 1;

        random_rule(&rules[i], id, i < 8 ? (int)i : -1, pool, rng);
    }
    return rules;
}

/* A random address of 'v4' or IPv6: near a rule's prefix, near a pool
 * base, all zero, or anywhere. */
static void
random_addr(uint8_t addr[16], bool v4, const struct vsw_acl_rule *rules,
            size_t n, const struct pool *pool, uint64_t *rng)
{
    uint32_t r = random_below(rng, 100);
    uint8_t base[16];

    random_bytes(rng, addr, 16);
    if (r < 45 && n) {
        const struct vsw_acl_rule *rule =
            &rules[random_below(rng, (uint32_t)n)];

        if (rule->match <= VSW_ACL_MATCH_REMOTE_IP &&
            rule->ip.family == (v4 ? 4 : 6)) {
            copy_bits(addr, rule->ip.addr,
                      v4 ? 96u + rule->ip.plen : rule->ip.plen);
        }
    } else if (r < 85) {
        memcpy(base, pool_ip(pool, v4, rng), 16);
        copy_bits(addr, base,
                  v4 ? 96 + random_below(rng, 33) : random_below(rng, 129));
    } else if (r < 88) {
        memset(addr, 0, 16);
    }
    if (v4) {
        memset(addr, 0, 10);
        addr[10] = addr[11] = 0xff;
    }
    if (r >= 85 && r < 88) {
        memset(addr, 0, 16);
    }
}

static void
random_mac(uint8_t mac[VSW_ETH_ALEN], const struct vsw_acl_rule *rules,
           size_t n, const struct pool *pool, uint64_t *rng)
{
    uint32_t r = random_below(rng, 100);

    if (r < 30 && n) {
        const struct vsw_acl_rule *rule =
            &rules[random_below(rng, (uint32_t)n)];

        memcpy(mac, rule->mac.addr, VSW_ETH_ALEN);
    } else if (r < 80) {
        memcpy(mac, pool->mac[random_below(rng, pool->n_macs)], VSW_ETH_ALEN);
    } else {
        random_bytes(rng, mac, VSW_ETH_ALEN);
    }
}

/* A random flow key: IPv4, ARP, IPv6, ND (NS, NA, DAD) or non-IP. */
static void
random_key(struct vsw_flow_key *key, const struct vsw_acl_rule *rules,
           size_t n, const struct pool *pool, uint64_t *rng)
{
    uint32_t kind = random_below(rng, 100);
    bool v4;

    memset(key, 0, sizeof *key);
    random_mac(key->eth_src, rules, n, pool, rng);
    random_mac(key->eth_dst, rules, n, pool, rng);
    if (kind < 30) {
        key->eth_type = VSW_ETH_TYPE_IPV4;
        key->ip_proto = (uint8_t)(random_below(rng, 2) ? 17 : 58);
        key->icmp_type = (uint8_t)(135 + random_below(rng, 2));
    } else if (kind < 45) {
        key->eth_type = VSW_ETH_TYPE_ARP;
        key->arp_op = (uint16_t)(1 + random_below(rng, 2));
    } else if (kind < 65) {
        key->eth_type = VSW_ETH_TYPE_IPV6;
        key->ip_proto = (uint8_t)(random_below(rng, 2) ? 6 : 58);
        key->icmp_type = (uint8_t)random_below(rng, 256);
    } else if (kind < 90) {
        key->eth_type = VSW_ETH_TYPE_IPV6;
        key->ip_proto = 58;
        key->icmp_type = (uint8_t)(135 + random_below(rng, 2));
    } else {
        key->eth_type = (uint16_t)(random_below(rng, 2) ? 0x88b5 : 0x8100);
    }
    v4 = key->eth_type != VSW_ETH_TYPE_IPV6;
    random_addr(key->ip_src, v4, rules, n, pool, rng);
    random_addr(key->ip_dst, v4, rules, n, pool, rng);
    random_addr(key->nd_target, false, rules, n, pool, rng);
    if (kind >= 65 && kind < 90 && random_below(rng, 4) == 0) {
        memset(key->ip_src, 0, 16); /* duplicate address detection */
    }
    if (key->eth_type != VSW_ETH_TYPE_IPV4 &&
        key->eth_type != VSW_ETH_TYPE_IPV6 &&
        key->eth_type != VSW_ETH_TYPE_ARP && random_below(rng, 2)) {
        memset(key->ip_src, 0, 16);
        memset(key->ip_dst, 0, 16);
    }
}

/* The naive reference: every rule, every time, from acl.h's text. */

/* A ranking under construction: the best length so far and the lowest
 * ids of each action at that length. */
struct ref_rank {
    int len;           /* -1: nothing matched */
    uint32_t deny_id;  /* lowest deny id at 'len' */
    uint32_t allow_id; /* lowest allow (or meter) id at 'len' */
};

static void
ref_rank_add(struct ref_rank *rank, int len, bool deny, uint32_t id)
{
    uint32_t *slot;

    if (len > rank->len) {
        rank->len = len;
        rank->deny_id = 0;
        rank->allow_id = 0;
    } else if (len < rank->len) {
        return;
    }
    slot = deny ? &rank->deny_id : &rank->allow_id;
    if (!*slot || id < *slot) {
        *slot = id;
    }
}

/* Does the rule's prefix hold 'addr' of a packet of 'family'?  An IPv4
 * packet's address is the last 4 bytes, whatever the first 12 hold. */
static bool
ref_prefix_holds(const struct vsw_acl_prefix *p, int family,
                 const uint8_t addr[16])
{
    unsigned skip = family == 4 ? 12 : 0;

    if (p->family == 0) {
        return true;
    }
    if (p->family != family) {
        return false;
    }
    unsigned bytes = p->plen / 8, bits = p->plen % 8;

    if (memcmp(addr + skip, p->addr + skip, bytes)) {
        return false;
    }
    return !bits || !((addr[skip + bytes] ^ p->addr[skip + bytes]) &
                      (0xff << (8 - bits)));
}

/* The rules, bucketed by list (direction and match) so that the reference
 * scans only the list it needs. */
struct ref_rules {
    struct vsw_acl_rule *list[8]; /* by direction | match << 1 */
    size_t n[8];                  /* rules in each */
};

static void
ref_rules_init(struct ref_rules *rr, const struct vsw_acl_rule *rules,
               size_t n)
{
    memset(rr, 0, sizeof *rr);
    for (int l = 0; l < 8; l++) {
        rr->list[l] = calloc(n ? n : 1, sizeof *rules);
        ck_assert_ptr_nonnull(rr->list[l]);
    }
    for (size_t i = 0; i < n; i++) {
        int l = rules[i].direction | rules[i].match << 1;

        rr->list[l][rr->n[l]++] = rules[i];
    }
}

static void
ref_rules_uninit(struct ref_rules *rr)
{
    for (int l = 0; l < 8; l++) {
        free(rr->list[l]);
    }
}

/* Ranks the rules of 'dir' with 'match' (a local or remote IP match)
 * whose prefix holds 'addr': allow/deny rules, or meter rules. */
static struct ref_rank
ref_side(const struct ref_rules *rr, uint8_t dir, uint8_t match, int family,
         const uint8_t *addr, bool meter)
{
    const struct vsw_acl_rule *rules = rr->list[dir | match << 1];
    size_t n = rr->n[dir | match << 1];
    struct ref_rank rank = {-1, 0, 0};

    for (size_t i = 0; i < n; i++) {
        const struct vsw_acl_rule *r = &rules[i];

        if (r->direction == dir && r->match == match &&
            (r->action == VSW_ACL_ACTION_METER) == meter &&
            ref_prefix_holds(&r->ip, family, addr)) {
            ref_rank_add(&rank, r->ip.plen, r->action == VSW_ACL_ACTION_DENY,
                         r->id);
        }
    }
    return rank;
}

/* A list's decision: judgments are folded in the order local, remote,
 * ND target; the first deny names the rule, else the longest allow, the
 * lowest id among equals. */
struct ref_list {
    bool deny;   /* some judgment denied */
    uint32_t id; /* the rule reported */
    int len;     /* its rank */
};

static bool
ref_list_add(struct ref_list *list, const struct ref_rank *rank)
{
    if (rank->len < 0) {
        return false;
    }
    if (rank->deny_id) {
        if (!list->deny) {
            list->deny = true;
            list->id = rank->deny_id;
        }
        return true;
    }
    if (!list->deny &&
        (!list->id || rank->len > list->len ||
         (rank->len == list->len && rank->allow_id < list->id))) {
        list->id = rank->allow_id;
        list->len = rank->len;
    }
    return false;
}

/* Ranks the MAC rules of 'dir' with 'match' against 'mac': ANY ranks 0,
 * an exact MAC 1. */
static struct ref_rank
ref_mac_side(const struct ref_rules *rr, uint8_t dir, uint8_t match,
             const uint8_t *mac)
{
    const struct vsw_acl_rule *rules = rr->list[dir | match << 1];
    size_t n = rr->n[dir | match << 1];
    struct ref_rank rank = {-1, 0, 0};

    for (size_t i = 0; i < n; i++) {
        const struct vsw_acl_rule *r = &rules[i];

        if (r->direction == dir && r->match == match &&
            (r->mac.any || !memcmp(r->mac.addr, mac, VSW_ETH_ALEN))) {
            ref_rank_add(&rank, !r->mac.any, r->action == VSW_ACL_ACTION_DENY,
                         r->id);
        }
    }
    return rank;
}

static void
ref_classify(const struct ref_rules *rr, uint8_t dir,
             const struct vsw_flow_key *key, struct vsw_acl_result *res)
{
    static const uint8_t unspecified[16];
    bool in = dir == VSW_ACL_DIR_IN;
    struct ref_list mac = {false, 0, -1}, ip = {false, 0, -1};
    struct ref_rank rank;
    int family = 0;

    memset(res, 0, sizeof *res);
    rank = ref_mac_side(rr, dir, VSW_ACL_MATCH_LOCAL_MAC,
                        in ? key->eth_dst : key->eth_src);
    ref_list_add(&mac, &rank);
    rank = ref_mac_side(rr, dir, VSW_ACL_MATCH_REMOTE_MAC,
                        in ? key->eth_src : key->eth_dst);
    ref_list_add(&mac, &rank);
    res->mac_rule = mac.id;
    if (mac.deny) {
        res->denied_by |= VSW_ACL_DENIED_BY_MAC;
    }

    switch (key->eth_type) {
    case VSW_ETH_TYPE_IPV4:
        res->judged = VSW_ACL_JUDGED_IPV4;
        family = 4;
        break;
    case VSW_ETH_TYPE_ARP:
        res->judged = VSW_ACL_JUDGED_ARP;
        family = 4;
        break;
    case VSW_ETH_TYPE_IPV6:
        family = 6;
        res->judged = key->ip_proto == 58 &&
                              (key->icmp_type == 135 || key->icmp_type == 136)
                          ? VSW_ACL_JUDGED_ND
                          : VSW_ACL_JUDGED_IPV6;
        break;
    default:
        res->judged = VSW_ACL_JUDGED_MAC_ONLY;
        break;
    }
    if (family) {
        const uint8_t *local = in ? key->ip_dst : key->ip_src;
        const uint8_t *remote = in ? key->ip_src : key->ip_dst;
        struct ref_rank meter_rank = {-1, 0, 0};

        rank = ref_side(rr, dir, VSW_ACL_MATCH_LOCAL_IP, family, local, false);
        ref_list_add(&ip, &rank);
        rank =
            ref_side(rr, dir, VSW_ACL_MATCH_REMOTE_IP, family, remote, false);
        ref_list_add(&ip, &rank);
        if (ip.deny) {
            res->denied_by |= VSW_ACL_DENIED_BY_IP;
        }
        /* Meters: one ranking over both sides. */
        for (uint8_t m = VSW_ACL_MATCH_LOCAL_IP; m <= VSW_ACL_MATCH_REMOTE_IP;
             m++) {
            const struct vsw_acl_rule *rules = rr->list[dir | m << 1];

            for (size_t i = 0; i < rr->n[dir | m << 1]; i++) {
                const struct vsw_acl_rule *r = &rules[i];
                const uint8_t *addr =
                    r->match == VSW_ACL_MATCH_LOCAL_IP ? local : remote;

                if (r->direction == dir && r->action == VSW_ACL_ACTION_METER &&
                    ref_prefix_holds(&r->ip, family, addr)) {
                    ref_rank_add(&meter_rank, r->ip.plen, false, r->id);
                }
            }
        }
        if (res->judged != VSW_ACL_JUDGED_ARP) {
            res->meter_rule = meter_rank.allow_id;
        }
    }
    if (res->judged == VSW_ACL_JUDGED_ND) {
        /* Claimed (NA, DAD): the target stands for the source; resolved
         * (NS): for the destination.  The source is local on out. */
        bool claimed =
            key->icmp_type == 136 || !memcmp(key->ip_src, unspecified, 16);
        bool local = claimed != in;

        rank = ref_side(
            rr, dir, local ? VSW_ACL_MATCH_LOCAL_IP : VSW_ACL_MATCH_REMOTE_IP,
            6, key->nd_target, false);
        if (ref_list_add(&ip, &rank)) {
            res->denied_by |= VSW_ACL_DENIED_BY_ND_TARGET;
        }
    }
    res->ip_rule = ip.id;
    res->deny = res->denied_by != 0;
}

/* Field by field: struct padding is not part of the contract. */
static bool
results_equal(const struct vsw_acl_result *a, const struct vsw_acl_result *b)
{
    return a->deny == b->deny && a->denied_by == b->denied_by &&
           a->judged == b->judged && a->ip_rule == b->ip_rule &&
           a->mac_rule == b->mac_rule && a->meter_rule == b->meter_rule;
}

/* Checks 'n_packets' random packets against the reference for 'n_rules'
 * random rules, 'clustered' or not (see struct pool), all in list 'list'
 * (see random_rule()) unless it is negative. */
static void
differential_list(size_t n_rules, bool clustered, int list, size_t n_packets,
                  uint64_t seed)
{
    uint64_t rng = seed;
    struct pool pool;
    struct vsw_acl_rule *rules;
    struct vsw_acl_table *t;
    struct ref_rules rr;
    size_t denies = 0, ip_hits = 0, meters = 0, nd_denies = 0;

    pool_init(&pool, n_rules, clustered, &rng);
    rules = random_rules(n_rules, &pool, &rng);
    for (size_t i = 0; list >= 0 && i < n_rules; i++) {
        random_rule(&rules[i], (uint32_t)i + 1, list, &pool, &rng);
    }
    t = compile(rules, n_rules);
    ref_rules_init(&rr, rules, n_rules);
    for (size_t i = 0; i < n_packets; i++) {
        struct vsw_acl_result got, want;
        struct vsw_flow_key key;
        uint8_t dir =
            list >= 0 ? (uint8_t)(list & 1) : (uint8_t)random_below(&rng, 2);

        random_key(&key, rules, n_rules, &pool, &rng);
        vsw_acl_classify(t, dir, &key, &got);
        ref_classify(&rr, dir, &key, &want);
        if (!results_equal(&got, &want)) {
            char g[128], w[128], k[512];

            ck_abort_msg("%zu rules, seed %llu, packet %zu (%s, dir %u): "
                         "got '%s' judged %u, want '%s' judged %u",
                         n_rules, (unsigned long long)seed, i,
                         vsw_flow_format(&key, k, sizeof k), dir,
                         vsw_acl_result_format(&got, g, sizeof g), got.judged,
                         vsw_acl_result_format(&want, w, sizeof w),
                         want.judged);
        }
        denies += want.deny;
        ip_hits += want.ip_rule != 0;
        meters += want.meter_rule != 0;
        nd_denies += (want.denied_by & VSW_ACL_DENIED_BY_ND_TARGET) != 0;
    }
    /* The generators must exercise every path, or the test proves
     * little. */
    if (n_rules >= 100 && list < 0) {
        printf("acl differential: %zu rules, %zu packets agree with the "
               "reference: %zu denied, %zu with an ip rule, %zu metered, %zu "
               "denied by an nd target\n",
               n_rules, n_packets, denies, ip_hits, meters, nd_denies);
        fflush(stdout);
        ck_assert_uint_gt(denies, n_packets / 20);
        ck_assert_uint_lt(denies, n_packets - n_packets / 20);
        ck_assert_uint_gt(ip_hits, n_packets / 10);
        ck_assert_uint_gt(meters, n_packets / 20);
        ck_assert_uint_gt(nd_denies, n_packets / 100);
    }
    ref_rules_uninit(&rr);
    vsw_acl_destroy(t);
    free(rules);
}

static void
differential(size_t n_rules, size_t n_packets, uint64_t seed)
{
    differential_list(n_rules, true, -1, n_packets, seed);
}

START_TEST(test_differential_small)
{
    static const size_t sizes[] = {1, 2, 3, 5, 10, 20, 50};

    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (uint64_t seed = 1; seed <= 40; seed++) {
            differential(sizes[i], 2000, seed * 7919 + sizes[i]);
        }
    }
}
END_TEST

/* Tries of one list around the size where they get a direct-pointing
 * root, and ones big enough for the largest (16 bits: over 16 384
 * prefixes in one trie). */
START_TEST(test_differential_one_list)
{
    static const size_t sizes[] = {31, 32, 33, 64, 200, 2000};
    /* Out (bit 0), remote IP (match 1). */
    const int list = 1 | VSW_ACL_MATCH_REMOTE_IP << 1;
    struct vsw_acl_rule *rules;
    struct vsw_acl_table *t;
    uint64_t rng = 0xd1ec7;
    struct pool pool;
    size_t n = 34000;

    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (uint64_t seed = 1; seed <= 5; seed++) {
            /* Half the rules are IPv4: 2 * sizes[i] for that many in the
             * IPv4 trie. */
            differential_list(2 * sizes[i], seed & 1, list, 5000,
                              seed + sizes[i]);
        }
    }
    differential_list(n, false, list, 4000, 0xb16);

    /* The biggest roots: 2^16 slots of 16 bytes in each family's trie. */
    pool_init(&pool, n, false, &rng);
    rules = random_rules(n, &pool, &rng);
    for (size_t i = 0; i < n; i++) {
        random_rule(&rules[i], (uint32_t)i + 1, list, &pool, &rng);
    }
    t = compile(rules, n);
    ck_assert_uint_ge(vsw_acl_memory(t), (size_t)2 * 16 << 16);
    vsw_acl_destroy(t);
    free(rules);
}
END_TEST

START_TEST(test_differential_10)
{
    differential(10, 100000, 0x5eed0010);
}
END_TEST

START_TEST(test_differential_1000)
{
    differential(1000, 100000, 0x5eed1000);
}
END_TEST

START_TEST(test_differential_10000)
{
    differential(10000, 100000, 0x5eed10000);
}
END_TEST

/* Benchmark. */

#define BENCH_KEYS 1024 /* keys cycled through, a power of 2 */

static double
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* A table of random rules and packets for it. */
struct bench {
    struct vsw_acl_table *table; /* compiled rules */
    struct vsw_flow_key *keys;   /* BENCH_KEYS packets */
    size_t memory;               /* vsw_acl_memory() */
    double best_ns;              /* fastest run so far, per lookup */
};

static void
bench_init(struct bench *b, size_t n_rules, bool clustered, uint64_t seed)
{
    uint64_t rng = seed;
    struct pool pool;
    struct vsw_acl_rule *rules;
    struct ref_rules rr;

    pool_init(&pool, n_rules, clustered, &rng);
    rules = random_rules(n_rules, &pool, &rng);
    b->table = compile(rules, n_rules);
    b->memory = vsw_acl_memory(b->table);
    b->keys = calloc(BENCH_KEYS, sizeof *b->keys);
    b->best_ns = 1e30;
    ck_assert_ptr_nonnull(b->keys);
    ref_rules_init(&rr, rules, n_rules);
    for (size_t i = 0; i < BENCH_KEYS; i++) {
        struct vsw_acl_result got, want;

        random_key(&b->keys[i], rules, n_rules, &pool, &rng);
        vsw_acl_classify(b->table, i & 1, &b->keys[i], &got);
        ref_classify(&rr, i & 1, &b->keys[i], &want);
        ck_assert(results_equal(&got, &want));
    }
    ref_rules_uninit(&rr);
    free(rules);
}

/* One timed run of 'iters' lookups; keeps the fastest.  Thread CPU time
 * leaves out time the thread was not running. */
static void
bench_run(struct bench *b, size_t iters)
{
    double start = now_ns(), ns;
    uint32_t sink = 0;

    for (size_t i = 0; i < iters; i++) {
        struct vsw_acl_result res;

        vsw_acl_classify(b->table, i & 1, &b->keys[i & (BENCH_KEYS - 1)],
                         &res);
        sink += res.ip_rule + res.mac_rule + res.meter_rule + res.deny;
    }
    ns = (now_ns() - start) / (double)iters;
    b->best_ns = ns < b->best_ns ? ns : b->best_ns;
    ck_assert_uint_ne(sink, 0);
}

static void
bench_uninit(struct bench *b)
{
    vsw_acl_destroy(b->table);
    free(b->keys);
}

/* ns/lookup for 10 and 10 000 rules, both uniformly random and clustered
 * (prefixes of every length nested on shared bases: the deepest tries).
 * Runs alternate between the tables and the fastest of each is kept, so
 * that load from other processes affects all of them alike. */
START_TEST(test_benchmark)
{
    static const size_t sizes[] = {10, 10000};
    struct bench b[2][2];

    for (int c = 0; c < 2; c++) {
        for (int i = 0; i < 2; i++) {
            bench_init(&b[c][i], sizes[i], c, 0xbe4c0010 + c);
        }
    }
    for (int round = 0; round < 15; round++) {
        for (int c = 0; c < 2; c++) {
            for (int i = 0; i < 2; i++) {
                bench_run(&b[c][i], 200000);
            }
        }
    }
    for (int c = 0; c < 2; c++) {
        printf("acl benchmark, %s rules: 10 rules %.1f ns/lookup (%zu "
               "bytes), 10000 rules %.1f ns/lookup (%zu bytes), ratio "
               "%.2f%s\n",
               c ? "clustered" : "uniform", b[c][0].best_ns, b[c][0].memory,
               b[c][1].best_ns, b[c][1].memory,
               b[c][1].best_ns / b[c][0].best_ns,
#if defined(__SANITIZE_ADDRESS__)
               " [sanitizer build: times inflated]"
#else
               ""
#endif
        );
        ck_assert_uint_gt(b[c][1].memory, b[c][0].memory);
        bench_uninit(&b[c][0]);
        bench_uninit(&b[c][1]);
    }
    fflush(stdout);
}
END_TEST

static Suite *
acl_suite(void)
{
    Suite *s = suite_create("acl");
    TCase *precedence = tcase_create("precedence");
    TCase *config = tcase_create("config");
    TCase *diff = tcase_create("differential");
    TCase *perf = tcase_create("benchmark");

    tcase_add_test(precedence, test_no_rules);
    tcase_add_test(precedence, test_deny_any_allow_prefix);
    tcase_add_test(precedence, test_nested_prefixes);
    tcase_add_test(precedence, test_equal_length_deny_wins);
    tcase_add_test(precedence, test_sides_independent);
    tcase_add_test(precedence, test_family_separation);
    tcase_add_test(precedence, test_local_remote_direction);
    tcase_add_test(precedence, test_mac_list_independent);
    tcase_add_test(precedence, test_mac_precedence);
    tcase_add_test(precedence, test_mac_ties);
    tcase_add_test(precedence, test_arp);
    tcase_add_test(precedence, test_nd_target);
    tcase_add_test(precedence, test_meter);
    tcase_add_test(precedence, test_unreadable_addresses);
    suite_add_tcase(s, precedence);

    tcase_add_test(config, test_compile_errors);
    tcase_add_test(config, test_parse_prefix);
    tcase_add_test(config, test_parse_mac_and_action);
    tcase_add_test(config, test_format);
    suite_add_tcase(s, config);

    /* Sanitizer builds are several times slower. */
    tcase_set_timeout(diff, 280);
    tcase_add_test(diff, test_differential_small);
    tcase_add_test(diff, test_differential_one_list);
    tcase_add_test(diff, test_differential_10);
    tcase_add_test(diff, test_differential_1000);
    tcase_add_test(diff, test_differential_10000);
    suite_add_tcase(s, diff);

    tcase_set_timeout(perf, 120);
    tcase_add_test(perf, test_benchmark);
    suite_add_tcase(s, perf);
    return s;
}

int
main(void)
{
    SRunner *runner = srunner_create(acl_suite());

    srunner_run_all(runner, CK_NORMAL);
    int n_failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return n_failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
