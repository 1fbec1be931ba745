/*
 * Unit tests of the extended port ACLs (datapath/policy/xacl.c), with flow
 * state from datapath/policy/conntrack.c.  Packets are real frames run
 * through the frame parser, so the tests see the keys the datapath sees.
 * Time is whatever the test passes as 'now_ms'.
 */
#include "xacl.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test-util.h"

#define SEC(S) ((int64_t)(S)*1000)

#define IN  VSW_XACL_DIR_IN
#define OUT VSW_XACL_DIR_OUT

/* How build_frame() shapes a packet. */
enum {
    FRAG_NONE,  /* whole packet */
    FRAG_FIRST, /* first fragment: L4 header, more fragments follow */
    FRAG_LATER, /* a later fragment: no L4 header */
};

static void
put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* Writes the L4 header of 'proto' at 'p'; 'sport' is the ICMP type.
 * Returns its length (0 for protocols without one here). */
static size_t
put_l4(uint8_t *p, uint8_t proto, uint16_t sport, uint16_t dport)
{
    switch (proto) {
    case 6:
        put16(p, sport);
        put16(p + 2, dport);
        p[12] = 5 << 4;
        p[13] = 0x02; /* SYN */
        return 20;
    case 17:
        put16(p, sport);
        put16(p + 2, dport);
        put16(p + 4, 16);
        return 8;
    case 1:
    case 58:
        p[0] = (uint8_t)sport;
        return 8;
    default:
        return 0;
    }
}

/* Parses the frame of an IP packet 'src' -> 'dst' (both IPv4 or both
 * IPv6 text) of protocol 'proto' into 'key'. */
static void
build_frame(struct vsw_flow_key *key, const char *src, const char *dst,
            uint8_t proto, uint16_t sport, uint16_t dport, int frag)
{
    uint8_t frame[256];
    size_t len = 14, l4_len;
    uint8_t *ip = frame + 14;

    memset(frame, 0, sizeof frame);
    frame[0] = 0x02;
    frame[6] = 0x02;
    frame[11] = 1;
    if (strchr(src, ':')) {
        put16(frame + 12, VSW_ETH_TYPE_IPV6);
        ip[0] = 0x60;
        ip[6] = frag == FRAG_NONE ? proto : 44;
        ip[7] = 64;
        ck_assert_int_eq(inet_pton(AF_INET6, src, ip + 8), 1);
        ck_assert_int_eq(inet_pton(AF_INET6, dst, ip + 24), 1);
        uint8_t *l4 = ip + 40;
        if (frag != FRAG_NONE) {
            l4[0] = proto;
            put16(l4 + 2, frag == FRAG_FIRST ? 0x0001 : 185 << 3);
            l4 += 8;
        }
        l4_len = frag == FRAG_LATER ? 8 : put_l4(l4, proto, sport, dport);
        size_t payload = (size_t)(l4 - (ip + 40)) + l4_len + 8;
        put16(ip + 4, (uint16_t)payload);
        len += 40 + payload;
    } else {
        put16(frame + 12, VSW_ETH_TYPE_IPV4);
        ip[0] = 0x45;
        ip[8] = 64;
        ip[9] = proto;
        put16(ip + 6, frag == FRAG_NONE    ? 0
                      : frag == FRAG_FIRST ? 0x2000
                                           : 185);
        ck_assert_int_eq(inet_pton(AF_INET, src, ip + 12), 1);
        ck_assert_int_eq(inet_pton(AF_INET, dst, ip + 16), 1);
        l4_len = frag == FRAG_LATER ? 8 : put_l4(ip + 20, proto, sport, dport);
        put16(ip + 2, (uint16_t)(20 + l4_len + 8));
        len += 20 + l4_len + 8;
    }
    ck_assert_int_eq(vsw_flow_extract(frame, len, key), 0);
    ck_assert_uint_ne(key->l3_end, 0);
    if (frag == FRAG_LATER) {
        ck_assert(key->flags & VSW_FLOW_F_LATER_FRAGMENT);
    } else if (proto == 6 || proto == 17) {
        ck_assert_uint_eq(key->tp_src, sport);
        ck_assert_uint_eq(key->tp_dst, dport);
    }
}

static void
build_arp(struct vsw_flow_key *key)
{
    uint8_t frame[42] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0,
                         1,    0x08, 0x06, 0,    1,    0x08, 0,    6, 4, 0, 1,
                         0x02, 0,    0,    0,    0,    1,    10,   0, 0, 5, 0,
                         0,    0,    0,    0,    0,    10,   0,    0, 1};

    ck_assert_int_eq(vsw_flow_extract(frame, sizeof frame, key), 0);
    ck_assert_uint_eq(key->eth_type, VSW_ETH_TYPE_ARP);
}

/* A rule from its text fields; NULL means ANY (the default). */
static struct vsw_xacl_rule
rule(const char *action, const char *direction, uint16_t weight,
     const char *protocol, const char *local, const char *lport,
     const char *remote, const char *rport)
{
    struct vsw_xacl_rule r;

    vsw_xacl_rule_init(&r);
    ck_assert_int_eq(vsw_xacl_parse_action(action, &r.action), 0);
    ck_assert_int_eq(vsw_xacl_parse_direction(direction, &r.direction), 0);
    r.weight = weight;
    if (protocol) {
        ck_assert_int_eq(vsw_xacl_parse_protocol(protocol, &r.protocol), 0);
    }
    if (local) {
        ck_assert_int_eq(vsw_xacl_parse_prefix(local, &r.local_addr), 0);
    }
    if (lport) {
        ck_assert_int_eq(vsw_xacl_parse_ports(lport, &r.local_port), 0);
    }
    if (remote) {
        ck_assert_int_eq(vsw_xacl_parse_prefix(remote, &r.remote_addr), 0);
    }
    if (rport) {
        ck_assert_int_eq(vsw_xacl_parse_ports(rport, &r.remote_port), 0);
    }
    return r;
}

static struct vsw_xacl_table *
compile(const struct vsw_xacl_rule *rules, size_t n)
{
    struct vsw_xacl_table *table;
    char err[128];

    ck_assert_msg(!vsw_xacl_compile(rules, n, &table, err, sizeof err), "%s",
                  err);
    ck_assert_uint_eq(vsw_xacl_n_rules(table), n);
    return table;
}

/* Classifies a packet and checks the verdict and, on a match, the
 * weight. */
static void
check(const struct vsw_xacl_table *t, uint8_t dir, uint16_t vlan,
      const struct vsw_flow_key *key, enum vsw_xacl_verdict verdict,
      uint16_t weight)
{
    struct vsw_xacl_result res;

    ck_assert_str_eq(
        vsw_xacl_verdict_to_string(vsw_xacl_classify(t, dir, vlan, key, &res)),
        vsw_xacl_verdict_to_string(verdict));
    ck_assert_uint_eq(res.verdict, verdict);
    if (verdict != VSW_XACL_NO_MATCH) {
        ck_assert_uint_eq(res.weight, weight);
        ck_assert_uint_ne(res.rule_index, VSW_XACL_NO_RULE);
    } else {
        ck_assert_uint_eq(res.rule_index, VSW_XACL_NO_RULE);
    }
}

#define VM     "10.0.0.5"
#define WEB    "192.0.2.1"
#define CLIENT "198.51.100.7"
#define PORT   7

/* Hyper-V's example: deny everything but outbound web, statefully. */
static struct vsw_xacl_table *
web_table(void)
{
    struct vsw_xacl_rule rules[3];

    rules[0] = rule("deny", "in", 1, NULL, NULL, NULL, NULL, NULL);
    rules[1] = rule("deny", "out", 1, NULL, NULL, NULL, NULL, NULL);
    rules[2] = rule("allow", "out", 100, "tcp", NULL, NULL, NULL, "80");
    rules[2].stateful = true;
    return compile(rules, 3);
}

START_TEST(test_web_example)
{
    struct vsw_xacl_table *t = web_table();
    struct vsw_conntrack *ct = vsw_conntrack_create(64, 0);
    struct vsw_flow_key syn, reply, key;
    struct vsw_xacl_result res;
    int64_t now = SEC(1);

    ck_assert(vsw_xacl_has_stateful(t));
    build_frame(&syn, VM, WEB, 6, 40000, 80, FRAG_NONE);
    build_frame(&reply, WEB, VM, 6, 80, 40000, FRAG_NONE);

    /* Before the SYN, the reply is denied. */
    ck_assert_int_eq(vsw_xacl_evaluate(t, ct, PORT, IN, 0, &reply, now, &res),
                     VSW_XACL_DENY);
    ck_assert_uint_eq(res.weight, 1);
    ck_assert_uint_eq(res.rule_index, 0);

    /* The SYN: allowed by weight 100, which creates the flow. */
    uint64_t gen = vsw_conntrack_generation(ct);
    ck_assert_int_eq(vsw_xacl_evaluate(t, ct, PORT, OUT, 0, &syn, now, &res),
                     VSW_XACL_ALLOW);
    ck_assert(!res.by_state);
    ck_assert(res.stateful);
    ck_assert(res.state_created);
    ck_assert_int_eq(res.state_error, 0);
    ck_assert_uint_eq(res.weight, 100);
    ck_assert_uint_eq(res.rule_index, 2);
    ck_assert_uint_eq(res.idle_timeout_s, VSW_XACL_DEFAULT_TIMEOUT_S);
    ck_assert_uint_eq(vsw_conntrack_count(ct), 1);
    ck_assert_uint_ne(vsw_conntrack_generation(ct), gen);

    /* The reply: allowed by state, on this port only. */
    ck_assert_int_eq(vsw_xacl_evaluate(t, ct, PORT, IN, 0, &reply, now, &res),
                     VSW_XACL_ALLOW);
    ck_assert(res.by_state);
    ck_assert_uint_eq(res.rule_index, VSW_XACL_NO_RULE);
    ck_assert_int_eq(
        vsw_xacl_evaluate(t, ct, PORT + 1, IN, 0, &reply, now, &res),
        VSW_XACL_DENY);
    /* Without a flow table the rule still allows, but nothing comes
     * back. */
    ck_assert_int_eq(vsw_xacl_evaluate(t, NULL, PORT, OUT, 0, &syn, now, &res),
                     VSW_XACL_ALLOW);
    ck_assert(!res.state_created);
    ck_assert_int_eq(
        vsw_xacl_evaluate(t, NULL, PORT, IN, 0, &reply, now, &res),
        VSW_XACL_DENY);

    /* A new connection to the VM is denied. */
    build_frame(&key, CLIENT, VM, 6, 5555, 22, FRAG_NONE);
    ck_assert_int_eq(vsw_xacl_evaluate(t, ct, PORT, IN, 0, &key, now, &res),
                     VSW_XACL_DENY);
    ck_assert_uint_eq(res.weight, 1);
    /* Even one from the web server's port 80 to another VM port. */
    build_frame(&key, WEB, VM, 6, 80, 40001, FRAG_NONE);
    ck_assert_int_eq(vsw_xacl_evaluate(t, ct, PORT, IN, 0, &key, now, &res),
                     VSW_XACL_DENY);
    /* Outbound to port 81 is denied, and creates nothing. */
    build_frame(&key, VM, WEB, 6, 40000, 81, FRAG_NONE);
    ck_assert_int_eq(vsw_xacl_evaluate(t, ct, PORT, OUT, 0, &key, now, &res),
                     VSW_XACL_DENY);
    ck_assert_uint_eq(res.rule_index, 1);
    ck_assert_uint_eq(vsw_conntrack_count(ct), 1);
    /* ARP is not the extended ACLs' business. */
    build_arp(&key);
    ck_assert_int_eq(vsw_xacl_evaluate(t, ct, PORT, OUT, 0, &key, now, &res),
                     VSW_XACL_NO_MATCH);
    ck_assert_int_eq(vsw_xacl_evaluate(t, ct, PORT, IN, 0, &key, now, &res),
                     VSW_XACL_NO_MATCH);

    /* Replies keep the flow alive past the timeout of the SYN... */
    now += SEC(200);
    ck_assert_int_eq(vsw_xacl_evaluate(t, ct, PORT, IN, 0, &reply, now, &res),
                     VSW_XACL_ALLOW);
    ck_assert(res.by_state);
    now += SEC(254);
    ck_assert_int_eq(vsw_xacl_evaluate(t, ct, PORT, IN, 0, &reply, now, &res),
                     VSW_XACL_ALLOW);
    ck_assert(res.by_state);

    /* ...but after 255 s of silence, the reply is denied again. */
    now += SEC(255);
    ck_assert_int_eq(vsw_xacl_evaluate(t, ct, PORT, IN, 0, &reply, now, &res),
                     VSW_XACL_DENY);
    ck_assert(!res.by_state);
    ck_assert_uint_eq(res.weight, 1);
    ck_assert_uint_eq(vsw_conntrack_expire(ct, now), 1);

    vsw_conntrack_destroy(ct);
    vsw_xacl_destroy(t);
    vsw_xacl_destroy(NULL);
}
END_TEST

/* With the flow table full, the SYN is still allowed but its reply meets
 * the rules. */
START_TEST(test_state_table_full)
{
    struct vsw_xacl_table *t = web_table();
    struct vsw_conntrack *ct = vsw_conntrack_create(1, 0);
    struct vsw_flow_key syn, reply;
    struct vsw_xacl_result res;

    build_frame(&syn, VM, WEB, 6, 40000, 80, FRAG_NONE);
    ck_assert_int_eq(vsw_xacl_evaluate(t, ct, PORT, OUT, 0, &syn, 0, &res),
                     VSW_XACL_ALLOW);
    ck_assert(res.state_created);

    build_frame(&syn, VM, WEB, 6, 40001, 80, FRAG_NONE);
    build_frame(&reply, WEB, VM, 6, 80, 40001, FRAG_NONE);
    ck_assert_int_eq(vsw_xacl_evaluate(t, ct, PORT, OUT, 0, &syn, 0, &res),
                     VSW_XACL_ALLOW);
    ck_assert(!res.state_created);
    ck_assert_int_eq(res.state_error, -ENOSPC);
    ck_assert_int_eq(vsw_xacl_evaluate(t, ct, PORT, IN, 0, &reply, 0, &res),
                     VSW_XACL_DENY);
    vsw_conntrack_destroy(ct);
    vsw_xacl_destroy(t);
}
END_TEST

/* Flow state counts only while the port's table has a stateful rule. */
START_TEST(test_state_needs_stateful_rule)
{
    struct vsw_xacl_table *t = web_table();
    struct vsw_conntrack *ct = vsw_conntrack_create(8, 0);
    struct vsw_flow_key syn, reply;
    struct vsw_xacl_result res;
    struct vsw_xacl_rule rules[1];

    build_frame(&syn, VM, WEB, 6, 40000, 80, FRAG_NONE);
    build_frame(&reply, WEB, VM, 6, 80, 40000, FRAG_NONE);
    vsw_xacl_evaluate(t, ct, PORT, OUT, 0, &syn, 0, &res);
    ck_assert(res.state_created);
    vsw_xacl_destroy(t);

    rules[0] = rule("deny", "in", 1, NULL, NULL, NULL, NULL, NULL);
    t = compile(rules, 1);
    ck_assert(!vsw_xacl_has_stateful(t));
    ck_assert_int_eq(vsw_xacl_evaluate(t, ct, PORT, IN, 0, &reply, 1, &res),
                     VSW_XACL_DENY);
    vsw_xacl_destroy(t);

    /* No table: no match, whatever the state. */
    ck_assert_int_eq(vsw_xacl_evaluate(NULL, ct, PORT, IN, 0, &reply, 1, &res),
                     VSW_XACL_NO_MATCH);
    vsw_conntrack_destroy(ct);
}
END_TEST

START_TEST(test_port_range)
{
    struct vsw_xacl_rule rules[3];
    struct vsw_flow_key key;

    rules[0] = rule("deny", "in", 1, NULL, NULL, NULL, NULL, NULL);
    rules[1] = rule("allow", "in", 10, "tcp", NULL, "49152-49182", NULL, NULL);
    rules[2] =
        rule("allow", "out", 10, "udp", NULL, NULL, NULL, "49152-49182");
    struct vsw_xacl_table *t = compile(rules, 3);

    static const struct {
        uint16_t port;
        bool inside;
    } cases[] = {
        {0, false},    {49151, false}, {49152, true},  {49153, true},
        {49181, true}, {49182, true},  {49183, false}, {65535, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t port = cases[i].port;

        /* Inbound: the local port is the destination. */
        build_frame(&key, CLIENT, VM, 6, 1234, port, FRAG_NONE);
        check(t, IN, 0, &key, cases[i].inside ? VSW_XACL_ALLOW : VSW_XACL_DENY,
              cases[i].inside ? 10 : 1);
        /* ...not the source. */
        build_frame(&key, CLIENT, VM, 6, port, 1234, FRAG_NONE);
        check(t, IN, 0, &key, VSW_XACL_DENY, 1);

        /* Outbound: the remote port is the destination. */
        build_frame(&key, VM, CLIENT, 17, 1234, port, FRAG_NONE);
        check(t, OUT, 0, &key,
              cases[i].inside ? VSW_XACL_ALLOW : VSW_XACL_NO_MATCH, 10);
        build_frame(&key, VM, CLIENT, 17, port, 1234, FRAG_NONE);
        check(t, OUT, 0, &key, VSW_XACL_NO_MATCH, 0);
    }
    /* The UDP rule says nothing about TCP. */
    build_frame(&key, VM, CLIENT, 6, 1234, 49160, FRAG_NONE);
    check(t, OUT, 0, &key, VSW_XACL_NO_MATCH, 0);
    vsw_xacl_destroy(t);
}
END_TEST

START_TEST(test_protocols)
{
    struct vsw_xacl_rule rules[6];
    struct vsw_flow_key key;

    rules[0] = rule("allow", "out", 1, NULL, NULL, NULL, NULL, NULL);
    rules[1] = rule("deny", "out", 10, "47", NULL, NULL, NULL, NULL);
    rules[2] = rule("deny", "out", 20, "1", NULL, NULL, NULL, NULL);
    rules[3] = rule("deny", "in", 30, "icmp", NULL, NULL, NULL, NULL);
    rules[4] = rule("deny", "in", 40, NULL, NULL, NULL, NULL, "7");
    rules[5] = rule("deny", "out", 50, "58", NULL, NULL, NULL, NULL);
    struct vsw_xacl_table *t = compile(rules, 6);

    build_frame(&key, VM, WEB, 47, 0, 0, FRAG_NONE);
    check(t, OUT, 0, &key, VSW_XACL_DENY, 10);
    build_frame(&key, VM, WEB, 50, 0, 0, FRAG_NONE);
    check(t, OUT, 0, &key, VSW_XACL_ALLOW, 1);
    build_frame(&key, VM, WEB, 17, 1000, 47, FRAG_NONE);
    check(t, OUT, 0, &key, VSW_XACL_ALLOW, 1);

    /* A number is exactly that protocol, whatever the family. */
    build_frame(&key, VM, WEB, 1, 8, 0, FRAG_NONE);
    check(t, OUT, 0, &key, VSW_XACL_DENY, 20);
    build_frame(&key, "2001:db8::5", "2001:db8::1", 58, 128, 0, FRAG_NONE);
    check(t, OUT, 0, &key, VSW_XACL_DENY, 50);
    build_frame(&key, VM, WEB, 58, 0, 0, FRAG_NONE);
    check(t, OUT, 0, &key, VSW_XACL_DENY, 50);
    build_frame(&key, "2001:db8::5", "2001:db8::1", 17, 1, 1, FRAG_NONE);
    check(t, OUT, 0, &key, VSW_XACL_ALLOW, 1);

    /* "icmp" is ICMP on IPv4 and ICMPv6 on IPv6, not protocol 58 on
     * IPv4. */
    build_frame(&key, WEB, VM, 1, 0, 0, FRAG_NONE);
    check(t, IN, 0, &key, VSW_XACL_DENY, 30);
    build_frame(&key, "2001:db8::1", "2001:db8::5", 58, 129, 0, FRAG_NONE);
    check(t, IN, 0, &key, VSW_XACL_DENY, 30);
    build_frame(&key, WEB, VM, 58, 0, 0, FRAG_NONE);
    check(t, IN, 0, &key, VSW_XACL_NO_MATCH, 0);

    /* A port with protocol ANY: TCP and UDP, nothing else. */
    build_frame(&key, WEB, VM, 6, 7, 7, FRAG_NONE);
    check(t, IN, 0, &key, VSW_XACL_DENY, 40);
    build_frame(&key, WEB, VM, 17, 7, 7, FRAG_NONE);
    check(t, IN, 0, &key, VSW_XACL_DENY, 40);
    build_frame(&key, WEB, VM, 6, 8, 7, FRAG_NONE);
    check(t, IN, 0, &key, VSW_XACL_NO_MATCH, 0);
    build_frame(&key, WEB, VM, 132, 7, 7, FRAG_NONE);
    check(t, IN, 0, &key, VSW_XACL_NO_MATCH, 0);
    vsw_xacl_destroy(t);
}
END_TEST

START_TEST(test_weight_order)
{
    struct vsw_xacl_rule rules[4];
    struct vsw_flow_key one, two, other;

    /* Given lowest weight first, so that order of the array is not what
     * decides. */
    rules[0] = rule("deny", "in", 5, NULL, NULL, NULL, NULL, NULL);
    rules[1] =
        rule("allow", "in", 200, "tcp", NULL, NULL, "192.0.2.0/24", NULL);
    rules[2] = rule("deny", "in", 300, "tcp", NULL, NULL, WEB, NULL);
    rules[3] = rule("allow", "out", 300, NULL, NULL, NULL, NULL, NULL);
    struct vsw_xacl_table *t = compile(rules, 4);
    build_frame(&one, WEB, VM, 6, 80, 1000, FRAG_NONE);
    build_frame(&two, "192.0.2.2", VM, 6, 80, 1000, FRAG_NONE);
    build_frame(&other, CLIENT, VM, 6, 80, 1000, FRAG_NONE);
    check(t, IN, 0, &one, VSW_XACL_DENY, 300);
    check(t, IN, 0, &two, VSW_XACL_ALLOW, 200);
    check(t, IN, 0, &other, VSW_XACL_DENY, 5);
    vsw_xacl_destroy(t);

    /* Swap the weights: the allow for the /24 now comes first. */
    rules[1].weight = 300;
    rules[2].weight = 200;
    t = compile(rules, 4);
    check(t, IN, 0, &one, VSW_XACL_ALLOW, 300);
    check(t, IN, 0, &two, VSW_XACL_ALLOW, 300);
    check(t, IN, 0, &other, VSW_XACL_DENY, 5);

    struct vsw_xacl_result res;
    vsw_xacl_classify(t, IN, 0, &one, &res);
    ck_assert_uint_eq(res.rule_index, 1);
    vsw_xacl_destroy(t);
}
END_TEST

/* Compiles 'n' rules expecting -EINVAL with 'needle' in the message. */
static void
check_error(const struct vsw_xacl_rule *rules, size_t n, const char *needle)
{
    struct vsw_xacl_table *t = (struct vsw_xacl_table *)&t;
    char err[160];

    ck_assert_int_eq(vsw_xacl_compile(rules, n, &t, err, sizeof err), -EINVAL);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(err, needle), "\"%s\" lacks \"%s\"", err, needle);
}

START_TEST(test_compile_errors)
{
    struct vsw_xacl_rule rules[3];
    struct vsw_xacl_table *t;

    /* The same weight in both directions is fine; twice in one is not. */
    rules[0] = rule("deny", "in", 5, NULL, NULL, NULL, NULL, NULL);
    rules[1] = rule("deny", "out", 5, NULL, NULL, NULL, NULL, NULL);
    rules[2] = rule("allow", "in", 5, "tcp", NULL, "80", NULL, NULL);
    t = compile(rules, 2);
    vsw_xacl_destroy(t);
    check_error(rules, 3,
                "rule 2: weight 5 is already used by rule 0 in "
                "direction in");

    rules[0] = rule("deny", "in", 5, NULL, NULL, NULL, NULL, NULL);
    rules[0].stateful = true;
    check_error(rules, 1, "only allow rules can be stateful");

    rules[0] = rule("allow", "in", 5, NULL, NULL, NULL, NULL, NULL);
    rules[0].stateful = true;
    rules[0].idle_timeout_s = 0;
    check_error(rules, 1, "idle timeout");
    rules[0].idle_timeout_s = VSW_XACL_MAX_TIMEOUT_S + 1;
    check_error(rules, 1, "idle timeout");
    rules[0].idle_timeout_s = 1;
    t = compile(rules, 1);
    vsw_xacl_destroy(t);
    /* A stateless rule's timeout is not looked at. */
    rules[0].stateful = false;
    rules[0].idle_timeout_s = 0;
    t = compile(rules, 1);
    vsw_xacl_destroy(t);

    rules[0] = rule("allow", "in", 5, "icmp", NULL, "80", NULL, NULL);
    check_error(rules, 1, "ports need protocol");
    rules[0] = rule("allow", "in", 5, "47", NULL, NULL, NULL, "80");
    check_error(rules, 1, "ports need protocol");
    rules[0] = rule("allow", "in", 5, "17", NULL, NULL, NULL, "80");
    t = compile(rules, 1);
    vsw_xacl_destroy(t);

    rules[0] = rule("allow", "in", 5, NULL, "10.0.0.0/8", NULL,
                    "2001:db8::/32", NULL);
    check_error(rules, 1, "different families");

    rules[0] = rule("allow", "in", 5, NULL, NULL, NULL, NULL, NULL);
    rules[0].isolation_id = 4095;
    check_error(rules, 1, "isolation id");
    rules[0].isolation_id = 0;
    rules[0].direction = 2;
    check_error(rules, 1, "direction");
    rules[0].direction = IN;
    rules[0].protocol = 256;
    check_error(rules, 1, "protocol");
    rules[0].protocol = VSW_XACL_PROTO_ANY;
    rules[0].local_addr.family = 4;
    rules[0].local_addr.plen = 33;
    check_error(rules, 1, "prefix length");

    struct vsw_xacl_rule *many = calloc(VSW_XACL_MAX_RULES + 1, sizeof *many);
    for (size_t i = 0; i <= VSW_XACL_MAX_RULES; i++) {
        vsw_xacl_rule_init(&many[i]);
        many[i].direction = i & 1;
        many[i].weight = (uint16_t)(i / 2);
    }
    t = compile(many, VSW_XACL_MAX_RULES);
    vsw_xacl_destroy(t);
    check_error(many, VSW_XACL_MAX_RULES + 1, "at most");
    free(many);

    /* No rules: a table that matches nothing. */
    t = compile(NULL, 0);
    struct vsw_flow_key key;
    build_frame(&key, VM, WEB, 6, 1, 2, FRAG_NONE);
    check(t, OUT, 0, &key, VSW_XACL_NO_MATCH, 0);
    vsw_xacl_destroy(t);
}
END_TEST

START_TEST(test_isolation_id)
{
    struct vsw_xacl_rule rules[2];
    struct vsw_flow_key key;

    rules[0] = rule("deny", "in", 10, NULL, NULL, NULL, NULL, NULL);
    rules[0].isolation_id = 10;
    rules[1] = rule("allow", "in", 5, NULL, NULL, NULL, NULL, NULL);
    rules[1].isolation_id = 20;
    struct vsw_xacl_table *t = compile(rules, 2);

    build_frame(&key, WEB, VM, 17, 53, 1000, FRAG_NONE);
    check(t, IN, 10, &key, VSW_XACL_DENY, 10);
    check(t, IN, 20, &key, VSW_XACL_ALLOW, 5);
    check(t, IN, 0, &key, VSW_XACL_NO_MATCH, 0);
    check(t, IN, 30, &key, VSW_XACL_NO_MATCH, 0);
    vsw_xacl_destroy(t);

    /* Flow state made in one VLAN does not admit another's traffic. */
    struct vsw_conntrack *ct = vsw_conntrack_create(8, 0);
    struct vsw_xacl_result res;
    struct vsw_flow_key reply;
    rules[0] = rule("allow", "out", 10, "udp", NULL, NULL, NULL, "53");
    rules[0].isolation_id = 10;
    rules[0].stateful = true;
    rules[1] = rule("deny", "in", 1, NULL, NULL, NULL, NULL, NULL);
    t = compile(rules, 2);
    build_frame(&key, VM, WEB, 17, 1000, 53, FRAG_NONE);
    build_frame(&reply, WEB, VM, 17, 53, 1000, FRAG_NONE);
    ck_assert_int_eq(vsw_xacl_evaluate(t, ct, PORT, OUT, 20, &key, 0, &res),
                     VSW_XACL_NO_MATCH);
    ck_assert_int_eq(vsw_xacl_evaluate(t, ct, PORT, OUT, 10, &key, 0, &res),
                     VSW_XACL_ALLOW);
    ck_assert(res.state_created);
    ck_assert_int_eq(vsw_xacl_evaluate(t, ct, PORT, IN, 10, &reply, 0, &res),
                     VSW_XACL_ALLOW);
    ck_assert(res.by_state);
    ck_assert_int_eq(vsw_xacl_evaluate(t, ct, PORT, IN, 20, &reply, 0, &res),
                     VSW_XACL_DENY);
    vsw_conntrack_destroy(ct);
    vsw_xacl_destroy(t);
}
END_TEST

START_TEST(test_non_ip)
{
    struct vsw_xacl_rule rules[2];
    struct vsw_flow_key key;
    uint8_t frame[60] = {0};

    rules[0] = rule("deny", "in", 1, NULL, NULL, NULL, NULL, NULL);
    rules[1] = rule("deny", "out", 1, NULL, NULL, NULL, NULL, NULL);
    struct vsw_xacl_table *t = compile(rules, 2);

    build_arp(&key);
    check(t, IN, 0, &key, VSW_XACL_NO_MATCH, 0);
    check(t, OUT, 0, &key, VSW_XACL_NO_MATCH, 0);

    /* LLDP. */
    frame[0] = 0x01;
    frame[6] = 0x02;
    put16(frame + 12, 0x88cc);
    ck_assert_int_eq(vsw_flow_extract(frame, sizeof frame, &key), 0);
    check(t, OUT, 0, &key, VSW_XACL_NO_MATCH, 0);

    /* An IPv4 ethertype whose header does not parse is IP: only rules
     * with everything ANY apply. */
    put16(frame + 12, VSW_ETH_TYPE_IPV4);
    frame[14] = 0x35; /* version 3 */
    ck_assert_int_eq(vsw_flow_extract(frame, sizeof frame, &key), 0);
    check(t, OUT, 0, &key, VSW_XACL_DENY, 1);
    vsw_xacl_destroy(t);

    rules[0] = rule("deny", "out", 10, NULL, NULL, NULL, "0.0.0.0", NULL);
    rules[1] = rule("allow", "out", 5, NULL, NULL, NULL, NULL, NULL);
    t = compile(rules, 2);
    check(t, OUT, 0, &key, VSW_XACL_ALLOW, 5);
    vsw_xacl_destroy(t);
}
END_TEST

START_TEST(test_ipv6)
{
    struct vsw_xacl_rule rules[5];
    struct vsw_flow_key key;

    rules[0] = rule("deny", "in", 1, NULL, NULL, NULL, NULL, NULL);
    rules[1] = rule("allow", "in", 10, "tcp", "2001:db8::5", "443",
                    "2001:db8:aa::/48", NULL);
    rules[2] = rule("deny", "in", 20, NULL, NULL, NULL, "0.0.0.0/0", NULL);
    rules[3] = rule("allow", "in", 15, NULL, NULL, NULL, "::/0", NULL);
    rules[4] = rule("allow", "in", 12, NULL, NULL, NULL, "10.0.0.0/8", NULL);
    struct vsw_xacl_table *t = compile(rules, 5);

    /* ::/0 is every IPv6 address and no IPv4 one; 0.0.0.0/0 the other way
     * round. */
    build_frame(&key, "2001:db9::1", "2001:db8::5", 17, 1, 2, FRAG_NONE);
    check(t, IN, 0, &key, VSW_XACL_ALLOW, 15);
    build_frame(&key, "10.1.1.1", VM, 17, 1, 2, FRAG_NONE);
    check(t, IN, 0, &key, VSW_XACL_DENY, 20);
    vsw_xacl_destroy(t);

    t = compile(rules, 2);
    build_frame(&key, "2001:db8:aa:1::9", "2001:db8::5", 6, 50000, 443,
                FRAG_NONE);
    check(t, IN, 0, &key, VSW_XACL_ALLOW, 10);
    build_frame(&key, "2001:db8:ab::9", "2001:db8::5", 6, 50000, 443,
                FRAG_NONE);
    check(t, IN, 0, &key, VSW_XACL_DENY, 1);
    build_frame(&key, "2001:db8:aa::9", "2001:db8::6", 6, 50000, 443,
                FRAG_NONE);
    check(t, IN, 0, &key, VSW_XACL_DENY, 1);
    build_frame(&key, "2001:db8:aa::9", "2001:db8::5", 6, 50000, 444,
                FRAG_NONE);
    check(t, IN, 0, &key, VSW_XACL_DENY, 1);
    /* An IPv6 rule never matches IPv4, whatever the bits. */
    build_frame(&key, "32.1.13.184", "0.0.0.0", 6, 50000, 443, FRAG_NONE);
    check(t, IN, 0, &key, VSW_XACL_DENY, 1);
    vsw_xacl_destroy(t);
}
END_TEST

/* Under deny-all, neighbour discovery needs its own allow rules. */
START_TEST(test_neighbour_discovery)
{
    struct vsw_xacl_rule rules[4];
    struct vsw_flow_key ns, na;

    rules[0] = rule("deny", "in", 1, NULL, NULL, NULL, NULL, NULL);
    rules[1] = rule("deny", "out", 1, NULL, NULL, NULL, NULL, NULL);
    rules[2] = rule("allow", "in", 10, "58", NULL, NULL, NULL, NULL);
    rules[3] = rule("allow", "out", 10, "58", NULL, NULL, NULL, NULL);
    build_frame(&ns, "2001:db8::5", "ff02::1:ff00:1", 58, 135, 0, FRAG_NONE);
    build_frame(&na, "2001:db8::1", "2001:db8::5", 58, 136, 0, FRAG_NONE);

    struct vsw_xacl_table *t = compile(rules, 2);
    check(t, OUT, 0, &ns, VSW_XACL_DENY, 1);
    check(t, IN, 0, &na, VSW_XACL_DENY, 1);
    vsw_xacl_destroy(t);

    t = compile(rules, 4);
    check(t, OUT, 0, &ns, VSW_XACL_ALLOW, 10);
    check(t, IN, 0, &na, VSW_XACL_ALLOW, 10);
    vsw_xacl_destroy(t);
}
END_TEST

START_TEST(test_ipv6_stateful)
{
    struct vsw_xacl_rule rules[2];
    struct vsw_conntrack *ct = vsw_conntrack_create(8, 0);
    struct vsw_flow_key req, reply;
    struct vsw_xacl_result res;

    rules[0] = rule("deny", "in", 1, NULL, NULL, NULL, NULL, NULL);
    rules[1] = rule("allow", "out", 10, "icmp", NULL, NULL, NULL, NULL);
    rules[1].stateful = true;
    rules[1].idle_timeout_s = 5;
    struct vsw_xacl_table *t = compile(rules, 2);

    build_frame(&req, "2001:db8::5", "2001:db8::1", 58, 128, 0, FRAG_NONE);
    build_frame(&reply, "2001:db8::1", "2001:db8::5", 58, 129, 0, FRAG_NONE);
    ck_assert_int_eq(vsw_xacl_evaluate(t, ct, PORT, IN, 0, &reply, 0, &res),
                     VSW_XACL_DENY);
    ck_assert_int_eq(vsw_xacl_evaluate(t, ct, PORT, OUT, 0, &req, 0, &res),
                     VSW_XACL_ALLOW);
    ck_assert(res.state_created);
    ck_assert_int_eq(vsw_xacl_evaluate(t, ct, PORT, IN, 0, &reply, 10, &res),
                     VSW_XACL_ALLOW);
    ck_assert(res.by_state);
    ck_assert_int_eq(
        vsw_xacl_evaluate(t, ct, PORT, IN, 0, &reply, SEC(6), &res),
        VSW_XACL_DENY);
    vsw_conntrack_destroy(ct);
    vsw_xacl_destroy(t);
}
END_TEST

/* Later fragments have no ports: they match only rules with ANY ports,
 * and never create flow state. */
START_TEST(test_fragments)
{
    struct vsw_xacl_rule rules[4];
    struct vsw_flow_key first, later;

    rules[0] = rule("deny", "in", 1, NULL, NULL, NULL, NULL, NULL);
    rules[1] = rule("allow", "in", 10, "udp", NULL, "5000", NULL, NULL);
    rules[2] = rule("allow", "in", 5, "udp", NULL, NULL, WEB, NULL);
    /* Port 0 is a port: a packet without ports is not in 0-1023. */
    rules[3] = rule("deny", "in", 50, "udp", NULL, NULL, NULL, "0-1023");

    for (int v6 = 0; v6 < 2; v6++) {
        const char *web = v6 ? "2001:db8::1" : WEB;
        const char *client = v6 ? "2001:db8::7" : CLIENT;
        const char *vm = v6 ? "2001:db8::5" : VM;

        if (v6) {
            ck_assert_int_eq(vsw_xacl_parse_prefix(web, &rules[2].remote_addr),
                             0);
        }
        struct vsw_xacl_table *t = compile(rules, 4);

        build_frame(&first, client, vm, 17, 5353, 5000, FRAG_FIRST);
        ck_assert(first.flags & VSW_FLOW_F_FRAGMENT);
        check(t, IN, 0, &first, VSW_XACL_ALLOW, 10);
        build_frame(&later, client, vm, 17, 0, 0, FRAG_LATER);
        check(t, IN, 0, &later, VSW_XACL_DENY, 1);
        build_frame(&later, web, vm, 17, 0, 0, FRAG_LATER);
        check(t, IN, 0, &later, VSW_XACL_ALLOW, 5);
        /* The protocol is still known. */
        build_frame(&later, web, vm, 6, 0, 0, FRAG_LATER);
        check(t, IN, 0, &later, VSW_XACL_DENY, 1);
        vsw_xacl_destroy(t);
    }

    /* A stateful rule with ANY ports admits a later fragment but creates
     * no state from it. */
    struct vsw_conntrack *ct = vsw_conntrack_create(8, 0);
    struct vsw_xacl_result res;
    rules[0] = rule("allow", "out", 10, "udp", NULL, NULL, NULL, NULL);
    rules[0].stateful = true;
    struct vsw_xacl_table *t = compile(rules, 1);
    build_frame(&later, VM, WEB, 17, 0, 0, FRAG_LATER);
    ck_assert_int_eq(vsw_xacl_evaluate(t, ct, PORT, OUT, 0, &later, 0, &res),
                     VSW_XACL_ALLOW);
    ck_assert(!res.state_created);
    ck_assert_int_eq(res.state_error, 0);
    ck_assert_uint_eq(vsw_conntrack_count(ct), 0);
    build_frame(&first, VM, WEB, 17, 1000, 53, FRAG_FIRST);
    ck_assert_int_eq(vsw_xacl_evaluate(t, ct, PORT, OUT, 0, &first, 0, &res),
                     VSW_XACL_ALLOW);
    ck_assert(res.state_created);
    vsw_conntrack_destroy(ct);
    vsw_xacl_destroy(t);
}
END_TEST

START_TEST(test_parsers)
{
    struct vsw_xacl_ports ports;
    struct vsw_xacl_prefix prefix;
    int16_t proto;
    uint8_t u8;

    ck_assert_int_eq(vsw_xacl_parse_ports("49152-49182", &ports), 0);
    ck_assert_uint_eq(ports.lo, 49152);
    ck_assert_uint_eq(ports.hi, 49182);
    ck_assert_int_eq(vsw_xacl_parse_ports("80", &ports), 0);
    ck_assert_uint_eq(ports.lo, 80);
    ck_assert_uint_eq(ports.hi, 80);
    ck_assert_int_eq(vsw_xacl_parse_ports("ANY", &ports), 0);
    ck_assert_uint_eq(ports.lo, 0);
    ck_assert_uint_eq(ports.hi, 65535);
    ck_assert_int_eq(vsw_xacl_parse_ports("0-65535", &ports), 0);
    static const char *const bad_ports[] = {
        "",   "-",   "80-", "-80",   "65536",       "90-80",
        "8a", " 80", "+80", "1-2-3", "99999999999",
    };
    for (size_t i = 0; i < sizeof bad_ports / sizeof bad_ports[0]; i++) {
        ck_assert_msg(vsw_xacl_parse_ports(bad_ports[i], &ports) == -EINVAL,
                      "%s", bad_ports[i]);
    }

    ck_assert_int_eq(vsw_xacl_parse_protocol("TCP", &proto), 0);
    ck_assert_int_eq(proto, 6);
    ck_assert_int_eq(vsw_xacl_parse_protocol("udp", &proto), 0);
    ck_assert_int_eq(proto, 17);
    ck_assert_int_eq(vsw_xacl_parse_protocol("ICMP", &proto), 0);
    ck_assert_int_eq(proto, VSW_XACL_PROTO_ICMP);
    ck_assert_int_eq(vsw_xacl_parse_protocol("icmpv6", &proto), 0);
    ck_assert_int_eq(proto, 58);
    ck_assert_int_eq(vsw_xacl_parse_protocol("any", &proto), 0);
    ck_assert_int_eq(proto, VSW_XACL_PROTO_ANY);
    ck_assert_int_eq(vsw_xacl_parse_protocol("0", &proto), 0);
    ck_assert_int_eq(proto, 0);
    ck_assert_int_eq(vsw_xacl_parse_protocol("255", &proto), 0);
    ck_assert_int_eq(proto, 255);
    ck_assert_int_eq(vsw_xacl_parse_protocol("256", &proto), -EINVAL);
    ck_assert_int_eq(vsw_xacl_parse_protocol("-1", &proto), -EINVAL);
    ck_assert_int_eq(vsw_xacl_parse_protocol("sctp", &proto), -EINVAL);
    ck_assert_int_eq(vsw_xacl_parse_protocol("", &proto), -EINVAL);

    ck_assert_int_eq(vsw_xacl_parse_action("Deny", &u8), 0);
    ck_assert_uint_eq(u8, VSW_XACL_ACTION_DENY);
    ck_assert_int_eq(vsw_xacl_parse_action("meter", &u8), -EINVAL);
    ck_assert_int_eq(vsw_xacl_parse_direction("Outbound", &u8), 0);
    ck_assert_uint_eq(u8, OUT);
    ck_assert_int_eq(vsw_xacl_parse_direction("both", &u8), -EINVAL);

    ck_assert_int_eq(vsw_xacl_parse_prefix("10.1.2.3/8", &prefix), 0);
    ck_assert_uint_eq(prefix.family, 4);
    ck_assert_uint_eq(prefix.plen, 8);
    static const uint8_t ten[16] = {[10] = 0xff, [11] = 0xff, [12] = 10};
    ck_assert_mem_eq(prefix.addr, ten, 16);
    ck_assert_int_eq(vsw_xacl_parse_prefix("::ffff:10.9.9.9/104", &prefix), 0);
    ck_assert_uint_eq(prefix.family, 4);
    ck_assert_uint_eq(prefix.plen, 8);
    ck_assert_mem_eq(prefix.addr, ten, 16);
    ck_assert_int_eq(vsw_xacl_parse_prefix("2001:db8::1", &prefix), 0);
    ck_assert_uint_eq(prefix.family, 6);
    ck_assert_uint_eq(prefix.plen, 128);
    ck_assert_int_eq(vsw_xacl_parse_prefix("Any", &prefix), 0);
    ck_assert_uint_eq(prefix.family, 0);
    static const char *const bad_prefixes[] = {
        "",          "10.0.0.0/33", "1.2.3",        "::/129",
        "10.0.0.0/", "10.0.0.0/-1", "fe80::1%eth0", "host",
    };
    for (size_t i = 0; i < sizeof bad_prefixes / sizeof bad_prefixes[0]; i++) {
        ck_assert_msg(vsw_xacl_parse_prefix(bad_prefixes[i], &prefix) ==
                          -EINVAL,
                      "%s", bad_prefixes[i]);
    }
}
END_TEST

START_TEST(test_format)
{
    struct vsw_xacl_rule r;
    char line[200];

    r = rule("allow", "out", 100, "tcp", NULL, NULL, NULL, "80");
    r.stateful = true;
    ck_assert_str_eq(vsw_xacl_rule_format(&r, line, sizeof line),
                     "weight 100 out allow tcp local any port any remote any "
                     "port 80 stateful idle-timeout 255");
    r = rule("deny", "in", 7, "47", "10.0.0.0/8", "1-2", "2001:db8::1", NULL);
    r.isolation_id = 12;
    ck_assert_str_eq(vsw_xacl_rule_format(&r, line, sizeof line),
                     "weight 7 in deny 47 local 10.0.0.0/8 port 1-2 remote "
                     "2001:db8::1 port any isolation-id 12");
}
END_TEST

/* CPU time of this thread: other load on the machine does not count. */
static double
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* 'n' - 1 inbound IPv4 rules with random prefixes and ports that the
 * test packets (from 198.18.0.0/15) never match, over a deny-all at
 * weight 0, so that every lookup walks the whole list of its class; and
 * one stateful outbound rule, so that evaluation looks up flow state. */
static struct vsw_xacl_table *
bench_table(size_t n)
{
    struct vsw_xacl_rule *rules = calloc(n, sizeof *rules);
    uint64_t rnd = 0x2545f4914f6cdd1dull;
    char text[32];

    for (size_t i = 0; i < n; i++) {
        uint32_t r = (uint32_t)next_random(&rnd);
        vsw_xacl_rule_init(&rules[i]);
        rules[i].weight = (uint16_t)i;
        rules[i].direction = IN;
        if (i == 0) {
            rules[i].action = VSW_XACL_ACTION_DENY;
            continue;
        }
        rules[i].protocol = r % 10 < 5   ? 6
                            : r % 10 < 8 ? 17
                                         : VSW_XACL_PROTO_ANY;
        snprintf(text, sizeof text, "%u.%u.%u.0/%u", 1 + (r >> 8) % 100,
                 (r >> 16) & 0xff, (r >> 24) & 0xff, 16 + r % 17);
        ck_assert_int_eq(vsw_xacl_parse_prefix(text, &rules[i].remote_addr),
                         0);
        if (rules[i].protocol >= 0 && r % 3) {
            rules[i].local_port.lo = (uint16_t)(1 + r % 60000);
            rules[i].local_port.hi = rules[i].local_port.lo + r % 100;
        }
    }
    rules[1].direction = OUT;
    rules[1].stateful = true;
    struct vsw_xacl_table *t = compile(rules, n);
    free(rules);
    return t;
}

/* Not a pass/fail test: prints the cost of a lookup. */
START_TEST(test_bench)
{
    static const size_t sizes[] = {10, 1000};
    enum {
        N_KEYS = 256
    };
    struct vsw_flow_key *keys = calloc(N_KEYS, sizeof *keys);
    uint64_t rnd = 42;
    char src[32];

    for (int i = 0; i < N_KEYS; i++) {
        uint32_t r = (uint32_t)next_random(&rnd);
        snprintf(src, sizeof src, "198.%u.%u.%u", 18 + (r & 1),
                 (r >> 8) & 0xff, (r >> 16) & 0xff);
        build_frame(&keys[i], src, VM, i % 2 ? 6 : 17, 1024 + (uint16_t)r,
                    (uint16_t)(r >> 16), FRAG_NONE);
    }
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        struct vsw_xacl_table *t = bench_table(sizes[s]);
        struct vsw_conntrack *ct = vsw_conntrack_create(1024, 0);
        struct vsw_xacl_result res;
        int iters = sizes[s] > 100 ? 200000 : 2000000;
        unsigned denied = 0;

        double start = now_ns();
        for (int i = 0; i < iters; i++) {
            denied += vsw_xacl_classify(t, IN, 0, &keys[i % N_KEYS], &res) ==
                      VSW_XACL_DENY;
        }
        double classify_ns = (now_ns() - start) / iters;
        ck_assert_int_eq(denied, iters);

        start = now_ns();
        for (int i = 0; i < iters; i++) {
            vsw_xacl_evaluate(t, ct, PORT, IN, 0, &keys[i % N_KEYS], 0, &res);
        }
        double evaluate_ns = (now_ns() - start) / iters;

        printf("xacl %zu rules: classify %.1f ns/lookup, evaluate with a "
               "flow state miss %.1f ns/lookup (worst case: only the last "
               "rule matches)\n",
               sizes[s], classify_ns, evaluate_ns);
        vsw_conntrack_destroy(ct);
        vsw_xacl_destroy(t);
    }
    free(keys);
}
END_TEST

static Suite *
xacl_suite(void)
{
    Suite *s = suite_create("xacl");
    TCase *semantics = tcase_create("semantics");
    TCase *compile_ = tcase_create("compile");
    TCase *bench = tcase_create("bench");

    tcase_add_test(semantics, test_web_example);
    tcase_add_test(semantics, test_state_table_full);
    tcase_add_test(semantics, test_state_needs_stateful_rule);
    tcase_add_test(semantics, test_port_range);
    tcase_add_test(semantics, test_protocols);
    tcase_add_test(semantics, test_weight_order);
    tcase_add_test(semantics, test_isolation_id);
    tcase_add_test(semantics, test_non_ip);
    tcase_add_test(semantics, test_ipv6);
    tcase_add_test(semantics, test_neighbour_discovery);
    tcase_add_test(semantics, test_ipv6_stateful);
    tcase_add_test(semantics, test_fragments);
    suite_add_tcase(s, semantics);

    tcase_add_test(compile_, test_compile_errors);
    tcase_add_test(compile_, test_parsers);
    tcase_add_test(compile_, test_format);
    suite_add_tcase(s, compile_);

    tcase_set_timeout(bench, 120);
    tcase_add_test(bench, test_bench);
    suite_add_tcase(s, bench);
    return s;
}

int
main(void)
{
    SRunner *runner = srunner_create(xacl_suite());

    srunner_run_all(runner, CK_NORMAL);
    int n_failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return n_failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
