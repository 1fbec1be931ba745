/*
 * Unit tests of the flow cache (datapath/forward/flow-cache.c): what makes two
 * frames one flow, when an entry stops being valid, and that the cache
 * stays within its size.
 */
#include "flow-cache.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* A parsed IPv4/UDP flow from 02:..:01 to 02:..:02. */
static struct vsw_flow_key
udp_flow(uint16_t sport)
{
    struct vsw_flow_key flow;

    memset(&flow, 0, sizeof flow);
    memcpy(flow.eth_src, "\x02\x00\x00\x00\x00\x01", 6);
    memcpy(flow.eth_dst, "\x02\x00\x00\x00\x00\x02", 6);
    flow.eth_type = VSW_ETH_TYPE_IPV4;
    flow.ip_proto = 17;
    flow.ip_src[15] = 1;
    flow.ip_dst[15] = 2;
    flow.tp_src = sport;
    flow.tp_dst = 53;
    flow.l3_ofs = 14;
    flow.l4_ofs = 34;
    flow.l3_end = 80;
    return flow;
}

static const struct vsw_flow_cache_action forward_to_7 = {
    .drop_reason = -1,
    .vlan = 10,
    .out_port_id = 7,
};

START_TEST(test_hit_after_insert)
{
    struct vsw_flow_cache *cache = vsw_flow_cache_create(64);
    struct vsw_flow_key flow = udp_flow(1000);
    struct vsw_flow_cache_key key;
    struct vsw_flow_cache_entry *e;
    struct vsw_flow_cache_stats stats;
    uint64_t hash = vsw_flow_cache_key_init(&key, &flow, 3);

    ck_assert_ptr_null(vsw_flow_cache_lookup(cache, &key, hash, 1, 1));
    vsw_flow_cache_insert(cache, &key, hash, 1, 1, 500, &forward_to_7);
    e = vsw_flow_cache_lookup(cache, &key, hash, 1, 1);
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(e->action.out_port_id, 7);
    ck_assert_uint_eq(e->action.vlan, 10);
    ck_assert_int_eq(e->learned_ms, 500);

    vsw_flow_cache_get_stats(cache, &stats);
    ck_assert_uint_eq(stats.lookups, 2);
    ck_assert_uint_eq(stats.hits, 1);
    ck_assert_uint_eq(stats.inserts, 1);
    vsw_flow_cache_destroy(cache);
}
END_TEST

START_TEST(test_entry_keeps_policy_references)
{
    struct vsw_flow_cache *cache = vsw_flow_cache_create(64);
    struct vsw_flow_key flow = udp_flow(1000);
    struct vsw_flow_cache_key key;
    struct vsw_flow_cache_action action = forward_to_7;
    struct vsw_flow_cache_entry *e;
    uint64_t hash = vsw_flow_cache_key_init(&key, &flow, 3);
    /* Stand-ins: the cache stores the pointers, never follows them. */
    struct vsw_rule_counters *rule_a = (struct vsw_rule_counters *)&key;
    struct vsw_rule_counters *rule_b = (struct vsw_rule_counters *)&flow;

    action.stage = 8;
    action.policy.rules[0] = rule_a;
    action.policy.rules[1] = rule_b;
    action.policy.n_rules = 2;
    action.policy.ct_check = VSW_FLOW_CACHE_CT_GENERATION;
    action.policy.ct_gen = 41;
    vsw_flow_cache_insert(cache, &key, hash, 1, 1, 0, &action);
    e = vsw_flow_cache_lookup(cache, &key, hash, 1, 1);
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(e->action.stage, 8);
    ck_assert_uint_eq(e->action.policy.n_rules, 2);
    ck_assert_ptr_eq(e->action.policy.rules[0], rule_a);
    ck_assert_ptr_eq(e->action.policy.rules[1], rule_b);
    ck_assert_uint_eq(e->action.policy.ct_check, VSW_FLOW_CACHE_CT_GENERATION);
    ck_assert_uint_eq(e->action.policy.ct_gen, 41);

    /* Refilled without policy: no counter of the old verdict is left. */
    vsw_flow_cache_insert(cache, &key, hash, 2, 1, 0, &forward_to_7);
    e = vsw_flow_cache_lookup(cache, &key, hash, 2, 1);
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(e->action.policy.n_rules, 0);
    ck_assert_uint_eq(e->action.policy.ct_check, VSW_FLOW_CACHE_CT_NONE);
    vsw_flow_cache_destroy(cache);
}
END_TEST

START_TEST(test_generations_retire_entries)
{
    struct vsw_flow_cache *cache = vsw_flow_cache_create(64);
    struct vsw_flow_key flow = udp_flow(1000);
    struct vsw_flow_cache_key key;
    uint64_t hash = vsw_flow_cache_key_init(&key, &flow, 3);

    vsw_flow_cache_insert(cache, &key, hash, 5, 9, 0, &forward_to_7);
    /* A newer configuration snapshot or MAC table: no stale verdict. */
    ck_assert_ptr_null(vsw_flow_cache_lookup(cache, &key, hash, 6, 9));
    ck_assert_ptr_null(vsw_flow_cache_lookup(cache, &key, hash, 5, 10));
    ck_assert_ptr_nonnull(vsw_flow_cache_lookup(cache, &key, hash, 5, 9));
    /* Refilling under the new generations replaces the old entry. */
    vsw_flow_cache_insert(cache, &key, hash, 6, 10, 0, &forward_to_7);
    ck_assert_ptr_nonnull(vsw_flow_cache_lookup(cache, &key, hash, 6, 10));
    ck_assert_ptr_null(vsw_flow_cache_lookup(cache, &key, hash, 5, 9));
    vsw_flow_cache_destroy(cache);
}
END_TEST

START_TEST(test_what_makes_a_flow)
{
    struct vsw_flow_key base = udp_flow(1000);
    struct vsw_flow_key other;
    struct vsw_flow_cache_key a, b;
    uint64_t ha = vsw_flow_cache_key_init(&a, &base, 3);
    uint64_t hb;

    /* Lengths, offsets and padding differ from frame to frame of one
     * flow: same key. */
    other = base;
    other.l3_end = 1400;
    other.l7_ofs = 42;
    other.ip_ttl = 3;
    other.flags |= VSW_FLOW_F_PADDED;
    hb = vsw_flow_cache_key_init(&b, &other, 3);
    ck_assert_uint_eq(ha, hb);
    ck_assert_int_eq(memcmp(&a, &b, sizeof a), 0);

    /* Anything a decision can depend on: another key. */
    other = base;
    other.tp_src = 1001;
    vsw_flow_cache_key_init(&b, &other, 3);
    ck_assert_int_ne(memcmp(&a, &b, sizeof a), 0);
    vsw_flow_cache_key_init(&b, &base, 4);
    ck_assert_int_ne(memcmp(&a, &b, sizeof a), 0);
    other = base;
    other.n_vlans = 1;
    other.vlan_tpid[0] = VSW_ETH_TYPE_VLAN;
    other.vlan_tci[0] = 20;
    vsw_flow_cache_key_init(&b, &other, 3);
    ck_assert_int_ne(memcmp(&a, &b, sizeof a), 0);
    other = base;
    other.flags |= VSW_FLOW_F_FRAGMENT;
    vsw_flow_cache_key_init(&b, &other, 3);
    ck_assert_int_ne(memcmp(&a, &b, sizeof a), 0);
    other = base;
    other.eth_src[5] = 9;
    vsw_flow_cache_key_init(&b, &other, 3);
    ck_assert_int_ne(memcmp(&a, &b, sizeof a), 0);
}
END_TEST

START_TEST(test_bounded_size)
{
    struct vsw_flow_cache *cache = vsw_flow_cache_create(4);
    struct vsw_flow_cache_stats stats;
    int found = 0;

    ck_assert_ptr_nonnull(cache);
    for (uint16_t port = 0; port < 1000; port++) {
        struct vsw_flow_key flow = udp_flow(port);
        struct vsw_flow_cache_key key;
        uint64_t hash = vsw_flow_cache_key_init(&key, &flow, 3);

        vsw_flow_cache_insert(cache, &key, hash, 1, 1, 0, &forward_to_7);
    }
    for (uint16_t port = 0; port < 1000; port++) {
        struct vsw_flow_key flow = udp_flow(port);
        struct vsw_flow_cache_key key;
        uint64_t hash = vsw_flow_cache_key_init(&key, &flow, 3);

        found += vsw_flow_cache_lookup(cache, &key, hash, 1, 1) != NULL;
    }
    /* 4 sets of VSW_FLOW_CACHE_WAYS entries hold at most that many. */
    ck_assert_int_le(found, 4 * VSW_FLOW_CACHE_WAYS);
    ck_assert_int_gt(found, 0);
    vsw_flow_cache_get_stats(cache, &stats);
    ck_assert_uint_eq(stats.inserts, 1000);
    vsw_flow_cache_destroy(cache);
}
END_TEST

START_TEST(test_create_rejects_bad_sizes)
{
    ck_assert_ptr_null(vsw_flow_cache_create(0));
    ck_assert_ptr_null(vsw_flow_cache_create(3));
    vsw_flow_cache_destroy(NULL);
}
END_TEST

/* The low bits of the hash pick a set: flows that differ in one field
 * only (a source port, an address byte, the input port) must still
 * spread over the sets, or they would evict each other. */
static void
check_spread(unsigned field)
{
    enum {
        BUCKETS = 1024,
        FLOWS = 4096
    };
    static bool used[BUCKETS];
    unsigned n_used = 0;

    memset(used, 0, sizeof used);
    for (unsigned i = 0; i < FLOWS; i++) {
        struct vsw_flow_key flow = udp_flow(field == 0 ? (uint16_t)i : 1000);
        struct vsw_flow_cache_key key;
        uint64_t hash;

        if (field == 1) {
            flow.ip_src[14] = (uint8_t)(i >> 8);
            flow.ip_src[15] = (uint8_t)i;
        }
        hash = vsw_flow_cache_key_init(&key, &flow, field == 2 ? i : 3);
        n_used += !used[hash % BUCKETS];
        used[hash % BUCKETS] = true;
    }
    /* 4 flows a bucket on average leave about 2 % of buckets empty. */
    ck_assert_uint_ge(n_used, BUCKETS * 95 / 100);
}

START_TEST(test_hash_spreads_flows)
{
    check_spread(0); /* transport source port */
    check_spread(1); /* IPv4 source address */
    check_spread(2); /* input port */
}
END_TEST

int
main(void)
{
    Suite *suite = suite_create("flow-cache");
    TCase *tc = tcase_create("cache");
    SRunner *runner;
    int failed;

    tcase_add_test(tc, test_hit_after_insert);
    tcase_add_test(tc, test_entry_keeps_policy_references);
    tcase_add_test(tc, test_generations_retire_entries);
    tcase_add_test(tc, test_what_makes_a_flow);
    tcase_add_test(tc, test_bounded_size);
    tcase_add_test(tc, test_create_rejects_bad_sizes);
    tcase_add_test(tc, test_hash_spreads_flows);
    suite_add_tcase(suite, tc);
    runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
