/*
 * Unit tests of the flow state table (datapath/policy/conntrack.c).  Time is
 * whatever the test passes as 'now_ms'; only the concurrency test reads a
 * real clock, and only to know when to stop.  Flow keys are filled in
 * here the way the parser (flow.c) fills them.
 */
#include "conntrack.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test-util.h"

#define SEC(S) ((int64_t)(S)*1000)

/* 'key' for an IPv4 packet 'src' -> 'dst' (host order) of protocol
 * 'proto'; for TCP and UDP 'sport'/'dport' are the ports, for ICMP
 * 'sport' is the type. */
static void
make_v4(struct vsw_flow_key *key, uint32_t src, uint32_t dst, uint8_t proto,
        uint16_t sport, uint16_t dport)
{
    memset(key, 0, sizeof *key);
    key->eth_type = VSW_ETH_TYPE_IPV4;
    key->l3_ofs = 14;
    key->l3_end = 14 + 60;
    key->ip_proto = proto;
    key->ip_src[10] = key->ip_src[11] = 0xff;
    key->ip_dst[10] = key->ip_dst[11] = 0xff;
    for (int i = 0; i < 4; i++) {
        key->ip_src[12 + i] = (uint8_t)(src >> (24 - 8 * i));
        key->ip_dst[12 + i] = (uint8_t)(dst >> (24 - 8 * i));
    }
    if (proto == 6 || proto == 17) {
        key->tp_src = sport;
        key->tp_dst = dport;
        key->l4_ofs = 34;
    } else if (proto == 1) {
        key->icmp_type = (uint8_t)sport;
        key->l4_ofs = 34;
    }
}

/* 'key' for an IPv6 packet from 2001:db8::'src' to 2001:db8::'dst'. */
static void
make_v6(struct vsw_flow_key *key, uint8_t src, uint8_t dst, uint8_t proto,
        uint16_t sport, uint16_t dport)
{
    static const uint8_t prefix[4] = {0x20, 0x01, 0x0d, 0xb8};

    memset(key, 0, sizeof *key);
    key->eth_type = VSW_ETH_TYPE_IPV6;
    key->l3_ofs = 14;
    key->l3_end = 14 + 80;
    key->ip_proto = proto;
    memcpy(key->ip_src, prefix, 4);
    memcpy(key->ip_dst, prefix, 4);
    key->ip_src[15] = src;
    key->ip_dst[15] = dst;
    if (proto == 6 || proto == 17) {
        key->tp_src = sport;
        key->tp_dst = dport;
        key->l4_ofs = 54;
    } else if (proto == 58) {
        key->icmp_type = (uint8_t)sport;
        key->l4_ofs = 54;
    }
}

/* The packet going the other way. */
static void
reverse(struct vsw_flow_key *rev, const struct vsw_flow_key *key)
{
    *rev = *key;
    memcpy(rev->ip_src, key->ip_dst, 16);
    memcpy(rev->ip_dst, key->ip_src, 16);
    rev->tp_src = key->tp_dst;
    rev->tp_dst = key->tp_src;
}

#define VM   0x0a000005u /* 10.0.0.5 */
#define PEER 0xc0000201u /* 192.0.2.1 */

START_TEST(test_both_directions)
{
    struct vsw_conntrack *ct = vsw_conntrack_create(16, 0);
    struct vsw_flow_key key, rev, other;

    ck_assert_ptr_nonnull(ct);
    ck_assert_uint_eq(vsw_conntrack_get_max_flows(ct), 16);
    make_v4(&key, VM, PEER, 6, 40000, 80);
    reverse(&rev, &key);
    ck_assert(!vsw_conntrack_lookup(ct, 7, 0, &key, 0));
    ck_assert_int_eq(vsw_conntrack_insert(ct, 7, 0, &key, 255, 0), 0);
    ck_assert_uint_eq(vsw_conntrack_count(ct), 1);
    ck_assert_uint_eq(vsw_conntrack_count_port(ct, 7), 1);
    ck_assert_uint_eq(vsw_conntrack_count_port(ct, 8), 0);

    ck_assert(vsw_conntrack_lookup(ct, 7, 0, &key, 10));
    ck_assert(vsw_conntrack_lookup(ct, 7, 0, &rev, 10));

    /* Everything in the key counts. */
    ck_assert(!vsw_conntrack_lookup(ct, 8, 0, &key, 10));
    ck_assert(!vsw_conntrack_lookup(ct, 7, 10, &key, 10));
    make_v4(&other, VM, PEER, 6, 40001, 80);
    ck_assert(!vsw_conntrack_lookup(ct, 7, 0, &other, 10));
    make_v4(&other, VM, PEER, 6, 40000, 81);
    ck_assert(!vsw_conntrack_lookup(ct, 7, 0, &other, 10));
    make_v4(&other, VM, PEER, 17, 40000, 80);
    ck_assert(!vsw_conntrack_lookup(ct, 7, 0, &other, 10));
    make_v4(&other, VM, PEER + 1, 6, 40000, 80);
    ck_assert(!vsw_conntrack_lookup(ct, 7, 0, &other, 10));
    /* Swapping only the addresses, or only the ports, is another flow. */
    make_v4(&other, PEER, VM, 6, 40000, 80);
    ck_assert(!vsw_conntrack_lookup(ct, 7, 0, &other, 10));
    make_v4(&other, VM, PEER, 6, 80, 40000);
    ck_assert(!vsw_conntrack_lookup(ct, 7, 0, &other, 10));

    /* Creating the reply's flow finds the same flow. */
    ck_assert_int_eq(vsw_conntrack_insert(ct, 7, 0, &rev, 255, 20), 0);
    ck_assert_uint_eq(vsw_conntrack_count(ct), 1);

    /* IPv6 too, and a protocol without ports. */
    make_v6(&key, 5, 1, 17, 5353, 53);
    reverse(&rev, &key);
    ck_assert_int_eq(vsw_conntrack_insert(ct, 7, 0, &key, 255, 0), 0);
    ck_assert(vsw_conntrack_lookup(ct, 7, 0, &rev, 10));
    make_v4(&key, VM, PEER, 47, 0, 0);
    reverse(&rev, &key);
    ck_assert_int_eq(vsw_conntrack_insert(ct, 7, 0, &key, 255, 0), 0);
    ck_assert(vsw_conntrack_lookup(ct, 7, 0, &rev, 10));
    ck_assert_uint_eq(vsw_conntrack_count(ct), 3);
    vsw_conntrack_destroy(ct);
    vsw_conntrack_destroy(NULL);
}
END_TEST

/* Echo requests and replies pair up; other messages are other flows. */
START_TEST(test_icmp)
{
    struct vsw_conntrack *ct = vsw_conntrack_create(16, 0);
    struct vsw_flow_key req, reply, unreach;

    make_v4(&req, VM, PEER, 1, 8, 0);
    make_v4(&reply, PEER, VM, 1, 0, 0);
    make_v4(&unreach, PEER, VM, 1, 3, 0);
    ck_assert_int_eq(vsw_conntrack_insert(ct, 1, 0, &req, 10, 0), 0);
    ck_assert(vsw_conntrack_lookup(ct, 1, 0, &reply, 1));
    ck_assert(!vsw_conntrack_lookup(ct, 1, 0, &unreach, 1));
    make_v4(&req, VM, PEER, 1, 13, 0); /* timestamp */
    make_v4(&reply, PEER, VM, 1, 14, 0);
    ck_assert(!vsw_conntrack_lookup(ct, 1, 0, &reply, 1));
    ck_assert_int_eq(vsw_conntrack_insert(ct, 1, 0, &req, 10, 0), 0);
    ck_assert(vsw_conntrack_lookup(ct, 1, 0, &reply, 1));

    make_v6(&req, 5, 1, 58, 128, 0);
    make_v6(&reply, 1, 5, 58, 129, 0);
    make_v6(&unreach, 1, 5, 58, 1, 0);
    ck_assert(!vsw_conntrack_lookup(ct, 1, 0, &reply, 1));
    ck_assert_int_eq(vsw_conntrack_insert(ct, 1, 0, &req, 10, 0), 0);
    ck_assert(vsw_conntrack_lookup(ct, 1, 0, &reply, 1));
    ck_assert(!vsw_conntrack_lookup(ct, 1, 0, &unreach, 1));
    vsw_conntrack_destroy(ct);
}
END_TEST

START_TEST(test_untrackable)
{
    struct vsw_conntrack *ct = vsw_conntrack_create(16, 0);
    struct vsw_flow_key key;

    make_v4(&key, VM, PEER, 6, 1, 2);
    ck_assert(vsw_conntrack_can_track(&key));

    key.flags |= VSW_FLOW_F_FRAGMENT | VSW_FLOW_F_LATER_FRAGMENT;
    key.l4_ofs = 0;
    key.tp_src = key.tp_dst = 0;
    ck_assert(!vsw_conntrack_can_track(&key));
    ck_assert_int_eq(vsw_conntrack_insert(ct, 1, 0, &key, 10, 0), -EINVAL);

    make_v4(&key, VM, PEER, 6, 1, 2);
    key.l4_ofs = 0; /* TCP header did not fit */
    ck_assert(!vsw_conntrack_can_track(&key));

    make_v4(&key, VM, PEER, 6, 1, 2);
    key.l3_end = 0; /* IP header did not parse */
    ck_assert(!vsw_conntrack_can_track(&key));

    memset(&key, 0, sizeof key);
    key.eth_type = VSW_ETH_TYPE_ARP;
    key.l3_end = 42;
    ck_assert(!vsw_conntrack_can_track(&key));
    ck_assert(!vsw_conntrack_lookup(ct, 1, 0, &key, 0));

    make_v4(&key, VM, PEER, 6, 1, 2);
    ck_assert_int_eq(vsw_conntrack_insert(ct, 1, 0, &key, 0, 0), -EINVAL);
    ck_assert_int_eq(vsw_conntrack_insert(ct, 1, 0, &key,
                                          VSW_CONNTRACK_MAX_TIMEOUT_S + 1, 0),
                     -EINVAL);
    ck_assert_int_eq(
        vsw_conntrack_insert(ct, 1, 0, &key, VSW_CONNTRACK_MAX_TIMEOUT_S, 0),
        0);
    ck_assert_uint_eq(vsw_conntrack_count(ct), 1);
    ck_assert_ptr_null(vsw_conntrack_create(0, 0));
    vsw_conntrack_destroy(ct);
}
END_TEST

START_TEST(test_idle_expiry)
{
    struct vsw_conntrack *ct = vsw_conntrack_create(16, 0);
    struct vsw_flow_key key, rev;

    make_v4(&key, VM, PEER, 17, 1000, 53);
    reverse(&rev, &key);
    ck_assert_int_eq(vsw_conntrack_insert(ct, 1, 0, &key, 10, 0), 0);

    /* Idle means gone at once for lookups, and for dumps... */
    ck_assert(!vsw_conntrack_lookup(ct, 1, 0, &rev, SEC(10)));
    ck_assert_uint_eq(vsw_conntrack_dump(ct, NULL, 0, SEC(10)), 0);
    /* ...but it holds its place until expiry removes it. */
    ck_assert_uint_eq(vsw_conntrack_count(ct), 1);
    ck_assert_uint_eq(vsw_conntrack_expire(ct, SEC(10) - 1), 0);
    ck_assert_uint_eq(vsw_conntrack_count(ct), 1);
    ck_assert_uint_eq(vsw_conntrack_expire(ct, SEC(10)), 1);
    ck_assert_uint_eq(vsw_conntrack_count(ct), 0);
    ck_assert_uint_eq(vsw_conntrack_count_port(ct, 1), 0);
    ck_assert(!vsw_conntrack_lookup(ct, 1, 0, &key, SEC(10)));
    vsw_conntrack_destroy(ct);
}
END_TEST

START_TEST(test_refresh)
{
    struct vsw_conntrack *ct = vsw_conntrack_create(16, 0);
    struct vsw_conntrack_flow_info info;
    struct vsw_flow_key key, rev;

    make_v4(&key, VM, PEER, 6, 40000, 443);
    reverse(&rev, &key);
    ck_assert_int_eq(vsw_conntrack_insert(ct, 1, 0, &key, 10, 0), 0);

    /* Traffic either way restarts the idle timer. */
    ck_assert(vsw_conntrack_lookup(ct, 1, 0, &rev, SEC(8)));
    ck_assert(vsw_conntrack_lookup(ct, 1, 0, &key, SEC(17)));
    ck_assert(vsw_conntrack_lookup(ct, 1, 0, &rev, SEC(26)));
    ck_assert_uint_eq(vsw_conntrack_expire(ct, SEC(35)), 0);
    ck_assert_uint_eq(vsw_conntrack_dump(ct, &info, 1, SEC(35)), 1);
    ck_assert_uint_eq(info.idle_left_s, 1);
    ck_assert_uint_eq(info.idle_timeout_s, 10);
    ck_assert_uint_eq(vsw_conntrack_expire(ct, SEC(36)), 1);

    /* Inserting an existing flow refreshes it. */
    ck_assert_int_eq(vsw_conntrack_insert(ct, 1, 0, &key, 10, SEC(100)), 0);
    ck_assert_int_eq(vsw_conntrack_insert(ct, 1, 0, &rev, 10, SEC(105)), 0);
    ck_assert(vsw_conntrack_lookup(ct, 1, 0, &key, SEC(114)));
    ck_assert_uint_eq(vsw_conntrack_count(ct), 1);
    vsw_conntrack_destroy(ct);
}
END_TEST

START_TEST(test_capacity)
{
    struct vsw_conntrack *ct = vsw_conntrack_create(4, 0);
    struct vsw_flow_key key;

    /* One flow with a short timeout, three long ones. */
    for (uint16_t i = 0; i < 4; i++) {
        make_v4(&key, VM, PEER, 6, 1000 + i, 80);
        ck_assert_int_eq(
            vsw_conntrack_insert(ct, 1, 0, &key, i == 2 ? 1 : 100, 0), 0);
    }
    ck_assert_uint_eq(vsw_conntrack_count(ct), 4);

    /* Full of live flows: refused, and nobody is evicted. */
    uint64_t gen = vsw_conntrack_generation(ct);
    make_v4(&key, VM, PEER, 6, 2000, 80);
    ck_assert_int_eq(vsw_conntrack_insert(ct, 2, 0, &key, 100, 500), -ENOSPC);
    ck_assert(!vsw_conntrack_lookup(ct, 2, 0, &key, 500));
    ck_assert_uint_eq(vsw_conntrack_count(ct), 4);
    ck_assert_uint_eq(vsw_conntrack_generation(ct), gen);
    for (uint16_t i = 0; i < 4; i++) {
        make_v4(&key, VM, PEER, 6, 1000 + i, 80);
        ck_assert(vsw_conntrack_lookup(ct, 1, 0, &key, 0));
    }

    /* Once a flow is idle, its place is taken without waiting for
     * expiry. */
    make_v4(&key, VM, PEER, 6, 2000, 80);
    ck_assert_int_eq(vsw_conntrack_insert(ct, 2, 0, &key, 100, SEC(1)), 0);
    ck_assert(vsw_conntrack_lookup(ct, 2, 0, &key, SEC(1)));
    ck_assert_uint_eq(vsw_conntrack_count(ct), 4);
    ck_assert_uint_eq(vsw_conntrack_count_port(ct, 1), 3);
    ck_assert_uint_eq(vsw_conntrack_count_port(ct, 2), 1);
    make_v4(&key, VM, PEER, 6, 1002, 80);
    ck_assert(!vsw_conntrack_lookup(ct, 1, 0, &key, SEC(1)));
    vsw_conntrack_destroy(ct);
}
END_TEST

START_TEST(test_port_cap)
{
    struct vsw_conntrack *ct = vsw_conntrack_create(16, 2);
    struct vsw_flow_key key;

    for (uint16_t i = 0; i < 3; i++) {
        make_v4(&key, VM, PEER, 17, 1000 + i, 53);
        ck_assert_int_eq(vsw_conntrack_insert(ct, 1, 0, &key, 100, 0),
                         i < 2 ? 0 : -ENOSPC);
    }
    /* Other ports keep their share; the cap goes by slot. */
    ck_assert_int_eq(vsw_conntrack_insert(ct, 2, 0, &key, 100, 0), 0);
    ck_assert_int_eq(
        vsw_conntrack_insert(ct, 1 + VSW_CONNTRACK_MAX_SLOTS, 0, &key, 100, 0),
        -ENOSPC);
    ck_assert_uint_eq(vsw_conntrack_count_port(ct, 1), 2);
    ck_assert_uint_eq(vsw_conntrack_count(ct), 3);

    ck_assert_uint_eq(vsw_conntrack_flush_port(ct, 1), 2);
    ck_assert_uint_eq(vsw_conntrack_count_port(ct, 1), 0);
    ck_assert_uint_eq(vsw_conntrack_count(ct), 1);
    ck_assert_int_eq(vsw_conntrack_insert(ct, 1, 0, &key, 100, 0), 0);
    vsw_conntrack_flush(ct);
    ck_assert_uint_eq(vsw_conntrack_count(ct), 0);
    ck_assert_uint_eq(vsw_conntrack_count_port(ct, 2), 0);
    vsw_conntrack_destroy(ct);
}
END_TEST

START_TEST(test_generation)
{
    struct vsw_conntrack *ct = vsw_conntrack_create(16, 0);
    struct vsw_flow_key key, rev;
    uint64_t gen = vsw_conntrack_generation(ct);

    make_v4(&key, VM, PEER, 6, 40000, 80);
    reverse(&rev, &key);
    ck_assert_int_eq(vsw_conntrack_insert(ct, 1, 0, &key, 10, 0), 0);
    ck_assert_uint_ne(vsw_conntrack_generation(ct), gen);
    gen = vsw_conntrack_generation(ct);

    /* Refreshes and lookups change nothing. */
    ck_assert_int_eq(vsw_conntrack_insert(ct, 1, 0, &rev, 10, SEC(1)), 0);
    ck_assert(vsw_conntrack_lookup(ct, 1, 0, &rev, SEC(2)));
    ck_assert_uint_eq(vsw_conntrack_expire(ct, SEC(3)), 0);
    ck_assert_uint_eq(vsw_conntrack_generation(ct), gen);

    /* Expiry does. */
    ck_assert_uint_eq(vsw_conntrack_expire(ct, SEC(12)), 1);
    ck_assert_uint_ne(vsw_conntrack_generation(ct), gen);
    gen = vsw_conntrack_generation(ct);

    /* So does re-creating an idle flow that expiry has not removed. */
    ck_assert_int_eq(vsw_conntrack_insert(ct, 1, 0, &key, 10, SEC(20)), 0);
    gen = vsw_conntrack_generation(ct);
    ck_assert_int_eq(vsw_conntrack_insert(ct, 1, 0, &key, 10, SEC(30)), 0);
    ck_assert_uint_ne(vsw_conntrack_generation(ct), gen);
    ck_assert_uint_eq(vsw_conntrack_count(ct), 1);
    gen = vsw_conntrack_generation(ct);

    /* And flushes. */
    vsw_conntrack_flush_port(ct, 1);
    ck_assert_uint_ne(vsw_conntrack_generation(ct), gen);
    vsw_conntrack_destroy(ct);
}
END_TEST

START_TEST(test_dump)
{
    struct vsw_conntrack *ct = vsw_conntrack_create(64, 0);
    struct vsw_conntrack_flow_info out[8];
    struct vsw_flow_key key, rev;
    char line[160];

    /* Created by the reply-direction packet first: the dump shows the
     * creating packet's source as 'a'. */
    make_v4(&key, VM, PEER, 6, 40000, 80);
    reverse(&rev, &key);
    ck_assert_int_eq(vsw_conntrack_insert(ct, 3, 10, &rev, 255, 0), 0);
    make_v4(&key, VM, PEER, 17, 5000, 53);
    ck_assert_int_eq(vsw_conntrack_insert(ct, 3, 10, &key, 30, 0), 0);
    make_v6(&key, 5, 1, 58, 128, 0);
    ck_assert_int_eq(vsw_conntrack_insert(ct, 1, 0, &key, 30, 0), 0);
    make_v4(&key, VM, PEER, 47, 0, 0);
    ck_assert_int_eq(vsw_conntrack_insert(ct, 2, 0, &key, 30, 0), 0);

    ck_assert_uint_eq(vsw_conntrack_dump(ct, out, 8, 1500), 4);
    ck_assert_uint_eq(out[0].port_id, 1);
    ck_assert_uint_eq(out[1].port_id, 2);
    ck_assert_uint_eq(out[2].port_id, 3);
    ck_assert_uint_eq(out[2].ip_proto, 6);
    ck_assert_uint_eq(out[3].ip_proto, 17);

    vsw_conntrack_flow_format(&out[0], line, sizeof line);
    ck_assert_str_eq(line, "port 1 vlan 0 icmpv6 2001:db8::5 -> 2001:db8::1 "
                           "type 128 idle-left 29s/30s");
    vsw_conntrack_flow_format(&out[1], line, sizeof line);
    ck_assert_str_eq(line, "port 2 vlan 0 proto 47 10.0.0.5 -> 192.0.2.1 "
                           "idle-left 29s/30s");
    vsw_conntrack_flow_format(&out[2], line, sizeof line);
    ck_assert_str_eq(line, "port 3 vlan 10 tcp 192.0.2.1:80 -> "
                           "10.0.0.5:40000 idle-left 254s/255s");
    vsw_conntrack_flow_format(&out[3], line, sizeof line);
    ck_assert_str_eq(line, "port 3 vlan 10 udp 10.0.0.5:5000 -> "
                           "192.0.2.1:53 idle-left 29s/30s");

    /* A short buffer gets the first flows in order. */
    ck_assert_uint_eq(vsw_conntrack_dump(ct, out, 2, 1500), 2);
    ck_assert_uint_eq(out[0].port_id, 1);
    ck_assert_uint_eq(out[1].port_id, 2);

    /* Idle flows are left out. */
    ck_assert_uint_eq(vsw_conntrack_dump(ct, out, 8, SEC(30)), 1);
    ck_assert_uint_eq(out[0].idle_left_s, 225);
    vsw_conntrack_destroy(ct);
}
END_TEST

/* Many flows: every one is found from both sides, and expiry takes them
 * all in its bounded chunks. */
START_TEST(test_many)
{
    enum {
        N = 50000
    };
    struct vsw_conntrack *ct = vsw_conntrack_create(N, 0);
    struct vsw_flow_key key, rev;

    for (uint32_t i = 0; i < N; i++) {
        make_v4(&key, VM + (i >> 16), PEER, 6, (uint16_t)i, 80);
        ck_assert_int_eq(vsw_conntrack_insert(ct, 1, 0, &key, 60, 0), 0);
    }
    make_v4(&key, VM, PEER + 1, 6, 1, 80);
    ck_assert_int_eq(vsw_conntrack_insert(ct, 1, 0, &key, 60, 0), -ENOSPC);
    for (uint32_t i = 0; i < N; i++) {
        make_v4(&key, VM + (i >> 16), PEER, 6, (uint16_t)i, 80);
        reverse(&rev, &key);
        ck_assert(vsw_conntrack_lookup(ct, 1, 0, &rev, 1));
    }
    ck_assert_uint_eq(vsw_conntrack_expire(ct, SEC(61)), N);
    ck_assert_uint_eq(vsw_conntrack_count(ct), 0);
    vsw_conntrack_destroy(ct);
}
END_TEST

/* The race: two readers look up pinned flows (which must always be found,
 * whatever happens in their buckets, and whose timestamps they refresh)
 * and flows never created (which must never be found); one writer
 * creates short-lived churning flows, which nobody refreshes, in a table
 * kept nearly full; the main thread moves the clock, expires, dumps and
 * flushes. */
enum {
    RACE_CAP = 64,
    RACE_PINNED = 16,
    RACE_CHURN_KEYS = 512,
};

struct race {
    struct vsw_conntrack *ct;     /* the table */
    _Atomic int64_t now_ms;       /* the test's clock */
    _Atomic bool stop;            /* set when time is up */
    _Atomic uint64_t lookups;     /* lookups done by readers */
    _Atomic uint64_t bad;         /* wrong answers */
    _Atomic uint64_t created;     /* successful churn inserts */
    _Atomic uint64_t refused;     /* -ENOSPC churn inserts */
    _Atomic uint64_t bad_inserts; /* inserts with another error */
};

static void
race_pinned_key(struct vsw_flow_key *key, uint32_t i)
{
    make_v4(key, VM, PEER, 6, (uint16_t)(10000 + i), 443);
}

static void
race_churn_key(struct vsw_flow_key *key, uint32_t i)
{
    make_v4(key, VM + 1, PEER, 17, (uint16_t)(20000 + i), 53);
}

static void
race_ghost_key(struct vsw_flow_key *key, uint32_t i)
{
    make_v4(key, VM + 2, PEER, 17, (uint16_t)(30000 + i), 53);
}

static void *
race_reader(void *race_)
{
    struct race *race = race_;
    uint64_t rnd = (uint64_t)(uintptr_t)&rnd | 1;
    uint64_t last_gen = 0, n = 0, bad = 0;
    struct vsw_flow_key key, rev;

    while (!atomic_load(&race->stop)) {
        int64_t now =
            atomic_load_explicit(&race->now_ms, memory_order_relaxed);
        uint64_t gen = vsw_conntrack_generation(race->ct);
        uint32_t r = (uint32_t)next_random(&rnd);

        bad += gen < last_gen;
        last_gen = gen;

        race_pinned_key(&key, r % RACE_PINNED);
        reverse(&rev, &key);
        bad += !vsw_conntrack_lookup(race->ct, 1, 0, r & 1 ? &key : &rev, now);
        race_ghost_key(&key, (r >> 16) % RACE_CHURN_KEYS);
        bad += vsw_conntrack_lookup(race->ct, 2, 0, &key, now);
        n += 2;
    }
    atomic_fetch_add(&race->lookups, n);
    atomic_fetch_add(&race->bad, bad);
    return NULL;
}

static void *
race_writer(void *race_)
{
    struct race *race = race_;
    uint64_t rnd = 0x9e3779b97f4a7c15ull;
    struct vsw_flow_key key;

    while (!atomic_load(&race->stop)) {
        int64_t now =
            atomic_load_explicit(&race->now_ms, memory_order_relaxed);
        uint32_t r = (uint32_t)next_random(&rnd);

        race_churn_key(&key, r % RACE_CHURN_KEYS);
        int error = vsw_conntrack_insert(race->ct, 2, 0, &key, 1, now);
        if (!error) {
            atomic_fetch_add(&race->created, 1);
        } else if (error == -ENOSPC) {
            atomic_fetch_add(&race->refused, 1);
        } else {
            atomic_fetch_add(&race->bad_inserts, 1);
        }
    }
    return NULL;
}

START_TEST(test_concurrency)
{
    struct race race = {.ct = vsw_conntrack_create(RACE_CAP, 0)};
    struct vsw_conntrack_flow_info out[RACE_CAP];
    struct vsw_flow_key key;
    pthread_t threads[3];
    uint64_t n_expired = 0, n_flushed = 0;
    int round;

    atomic_init(&race.now_ms, 0);
    atomic_init(&race.stop, false);
    atomic_init(&race.lookups, 0);
    atomic_init(&race.bad, 0);
    atomic_init(&race.created, 0);
    atomic_init(&race.refused, 0);
    atomic_init(&race.bad_inserts, 0);
    for (uint32_t i = 0; i < RACE_PINNED; i++) {
        race_pinned_key(&key, i);
        ck_assert_int_eq(vsw_conntrack_insert(race.ct, 1, 0, &key,
                                              VSW_CONNTRACK_MAX_TIMEOUT_S, 0),
                         0);
    }
    pthread_create(&threads[0], NULL, race_reader, &race);
    pthread_create(&threads[1], NULL, race_reader, &race);
    pthread_create(&threads[2], NULL, race_writer, &race);

    int64_t deadline = real_msec() + 1000;
    for (round = 0; real_msec() < deadline; round++) {
        /* A fifth of the churn timeout per round: the churning flows
         * turn over every few rounds, so that entries are recycled from
         * chain to chain under the readers all the time. */
        int64_t now = atomic_fetch_add(&race.now_ms, 200) + 200;
        n_expired += vsw_conntrack_expire(race.ct, now);
        ck_assert_uint_le(vsw_conntrack_count(race.ct), RACE_CAP);
        if (round % 16 == 0) {
            size_t n = vsw_conntrack_dump(race.ct, out, RACE_CAP, now);
            ck_assert_uint_ge(n, RACE_PINNED);
            for (size_t i = 0; i < n; i++) {
                ck_assert(out[i].port_id == 1 || out[i].port_id == 2);
            }
        }
        if (round % 64 == 40) {
            n_flushed += vsw_conntrack_flush_port(race.ct, 2);
        }
    }
    atomic_store(&race.stop, true);
    for (int i = 0; i < 3; i++) {
        pthread_join(threads[i], NULL);
    }

    uint64_t bad = atomic_load(&race.bad);
    uint64_t bad_inserts = atomic_load(&race.bad_inserts);
    uint64_t lookups = atomic_load(&race.lookups);
    uint64_t created = atomic_load(&race.created);
    ck_assert_uint_eq(bad, 0);
    ck_assert_uint_eq(bad_inserts, 0);
    ck_assert_uint_gt(lookups, 0);
    ck_assert_uint_gt(created, 0);
    ck_assert_uint_gt(n_expired + n_flushed, 0);

    /* Quiescent now: the counts must add up, and only the pinned flows
     * outlive the churn's timeout. */
    ck_assert_uint_eq(vsw_conntrack_count_port(race.ct, 1) +
                          vsw_conntrack_count_port(race.ct, 2),
                      vsw_conntrack_count(race.ct));
    int64_t later = atomic_load(&race.now_ms) + SEC(2);
    vsw_conntrack_expire(race.ct, later);
    ck_assert_uint_eq(vsw_conntrack_count(race.ct), RACE_PINNED);
    ck_assert_uint_eq(vsw_conntrack_dump(race.ct, out, RACE_CAP, later),
                      RACE_PINNED);
    printf("conntrack race: %d rounds, %llu lookups, %llu created, "
           "%llu refused, %llu expired, %llu flushed\n",
           round, (unsigned long long)lookups, (unsigned long long)created,
           (unsigned long long)atomic_load(&race.refused),
           (unsigned long long)n_expired, (unsigned long long)n_flushed);
    vsw_conntrack_destroy(race.ct);
}
END_TEST

/* A flow dumped from one table and restored into another under another
 * port id (a port migrating to another daemon) admits both directions,
 * keeps who started it, and expires when it would have in the first. */
START_TEST(test_restore)
{
    struct vsw_conntrack *from = vsw_conntrack_create(16, 0);
    struct vsw_conntrack *to = vsw_conntrack_create(16, 0);
    struct vsw_conntrack_flow_info out[4], info;
    struct vsw_flow_key key, rev, ping;

    make_v4(&key, VM, PEER, 6, 40000, 443);
    reverse(&rev, &key);
    make_v4(&ping, PEER, VM, 1, 8, 0);
    ck_assert_int_eq(vsw_conntrack_insert_dir(from, 3, 7, &key, true, 60, 0),
                     0);
    ck_assert_int_eq(
        vsw_conntrack_insert_dir(from, 3, 7, &ping, false, 30, SEC(10)), 0);
    ck_assert_uint_eq(vsw_conntrack_dump(from, out, 4, SEC(20)), 2);

    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(vsw_conntrack_restore(to, 9, &out[i], SEC(1000)), 0);
    }
    ck_assert_uint_eq(vsw_conntrack_count_port(to, 9), 2);
    /* Both directions, under the new id only. */
    ck_assert(vsw_conntrack_lookup(to, 9, 7, &rev, SEC(1001)));
    ck_assert(!vsw_conntrack_lookup(to, 3, 7, &rev, SEC(1001)));
    ck_assert(!vsw_conntrack_lookup(to, 9, 0, &rev, SEC(1001)));
    /* The ping flow had 20 of its 30 s left: it goes 20 s after the
     * restore, without traffic; the TCP flow was refreshed at 1001 s. */
    ck_assert_uint_eq(vsw_conntrack_dump(to, out, 4, SEC(1019)), 2);
    ck_assert(out[0].ip_proto == 1 && !out[0].from_port);
    ck_assert_uint_eq(out[0].idle_left_s, 1);
    ck_assert(out[1].ip_proto == 6 && out[1].from_port);
    ck_assert_uint_eq(out[1].port_a, 40000);
    ck_assert_uint_eq(out[1].idle_left_s, 42);
    ck_assert_uint_eq(vsw_conntrack_expire(to, SEC(1019)), 0);
    ck_assert_uint_eq(vsw_conntrack_expire(to, SEC(1020)), 1);
    ck_assert(vsw_conntrack_lookup(to, 9, 7, &key, SEC(1020)));
    ck_assert(!vsw_conntrack_lookup(to, 9, 7, &ping, SEC(1020)));

    /* Out of range or impossible: refused, nothing added. */
    info = out[1];
    info.idle_left_s = 61;
    ck_assert_int_eq(vsw_conntrack_restore(to, 9, &info, 0), -EINVAL);
    info = out[1];
    info.idle_timeout_s = 0;
    ck_assert_int_eq(vsw_conntrack_restore(to, 9, &info, 0), -EINVAL);
    info = out[1];
    info.ip_proto = 1; /* ICMP keyed by TCP ports */
    ck_assert_int_eq(vsw_conntrack_restore(to, 9, &info, 0), -EINVAL);
    info = out[1];
    info.addr_b[10] = 0; /* no longer IPv4-mapped: two families */
    ck_assert_int_eq(vsw_conntrack_restore(to, 9, &info, 0), -EINVAL);
    ck_assert_uint_eq(vsw_conntrack_count_port(to, 9), 1);
    /* No time left: nothing to carry, not an error. */
    info = out[1];
    info.idle_left_s = 0;
    info.port_a = 40001;
    ck_assert_int_eq(vsw_conntrack_restore(to, 9, &info, SEC(2000)), 0);
    ck_assert_uint_eq(vsw_conntrack_count_port(to, 9), 1);

    vsw_conntrack_destroy(from);
    vsw_conntrack_destroy(to);
}
END_TEST

static Suite *
conntrack_suite(void)
{
    Suite *s = suite_create("conntrack");
    TCase *basic = tcase_create("basic");
    TCase *bounds = tcase_create("bounds");
    TCase *race = tcase_create("concurrency");

    tcase_add_test(basic, test_both_directions);
    tcase_add_test(basic, test_icmp);
    tcase_add_test(basic, test_untrackable);
    tcase_add_test(basic, test_idle_expiry);
    tcase_add_test(basic, test_refresh);
    tcase_add_test(basic, test_generation);
    tcase_add_test(basic, test_dump);
    tcase_add_test(basic, test_restore);
    suite_add_tcase(s, basic);

    tcase_set_timeout(bounds, 120);
    tcase_add_test(bounds, test_capacity);
    tcase_add_test(bounds, test_port_cap);
    tcase_add_test(bounds, test_many);
    suite_add_tcase(s, bounds);

    tcase_set_timeout(race, 60);
    tcase_add_test(race, test_concurrency);
    suite_add_tcase(s, race);
    return s;
}

int
main(void)
{
    SRunner *runner = srunner_create(conntrack_suite());

    srunner_run_all(runner, CK_NORMAL);
    int n_failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return n_failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
