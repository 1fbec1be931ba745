/*
 * Unit tests of a team's member selection (datapath/team/balance.c): the
 * hashes and their fallbacks, the choice among active members, the
 * placement of source ports for lb=port, and the receive rules.
 */
#include "balance.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* The key of a TCP (proto 6), UDP (17) or other IPv4 packet between
 * 10.0.0.'src' and 10.0.1.'dst' with ports 'sport' and 'dport'. */
static struct vsw_flow_key
ipv4_key(uint8_t src, uint8_t dst, uint8_t proto, uint16_t sport,
         uint16_t dport)
{
    struct vsw_flow_key key;

    memset(&key, 0, sizeof key);
    memcpy(key.eth_src, "\x02\x00\x00\x00\x00\x01", 6);
    memcpy(key.eth_dst, "\x02\x00\x00\x00\x00\x02", 6);
    key.eth_type = VSW_ETH_TYPE_IPV4;
    key.l3_ofs = 14;
    key.l4_ofs = 34;
    key.ip_proto = proto;
    /* IPv4-mapped, as the parser stores it. */
    key.ip_src[10] = key.ip_src[11] = 0xff;
    key.ip_dst[10] = key.ip_dst[11] = 0xff;
    key.ip_src[12] = 10;
    key.ip_src[15] = src;
    key.ip_dst[12] = 10;
    key.ip_dst[14] = 1;
    key.ip_dst[15] = dst;
    key.tp_src = sport;
    key.tp_dst = dport;
    return key;
}

/* A map of 'n' members, those of 'active_mask' active. */
static struct vsw_team_map *
make_map(unsigned n, uint32_t active_mask, enum vsw_team_lb lb,
         enum vsw_team_mode mode)
{
    struct vsw_team_map *map = calloc(1, sizeof *map);

    map->n_members = (uint8_t)n;
    map->lb = (uint8_t)lb;
    map->mode = (uint8_t)mode;
    map->port_id = 7;
    map->active_mask = active_mask;
    map->flood_member = VSW_TEAM_NO_MEMBER;
    for (unsigned m = 0; m < n; m++) {
        if ((active_mask >> m) & 1) {
            if (map->flood_member == VSW_TEAM_NO_MEMBER) {
                map->flood_member = (uint8_t)m;
            }
            map->active[map->n_active++] = (uint8_t)m;
        }
    }
    memset(map->pins, VSW_TEAM_NO_MEMBER, sizeof map->pins);
    return map;
}

START_TEST(test_address_hash_spreads_flows_keeps_each_on_one)
{
    struct vsw_team_map *map = make_map(2, 0x3, VSW_TEAM_LB_ADDRESS_HASH,
                                        VSW_TEAM_SWITCH_INDEPENDENT);
    unsigned count[2] = {0};

    for (uint16_t sport = 40000; sport < 40064; sport++) {
        struct vsw_flow_key key = ipv4_key(1, 2, 6, sport, 5201);
        uint8_t m = vsw_team_select(map, &key, 1, 0);

        ck_assert_uint_lt(m, 2);
        count[m]++;
        /* The same flow always takes the same member. */
        ck_assert_uint_eq(vsw_team_select(map, &key, 1, 0), m);
    }
    ck_assert_uint_ge(count[0], 16);
    ck_assert_uint_ge(count[1], 16);
    free(map);
}
END_TEST

START_TEST(test_address_hash_falls_back)
{
    struct vsw_flow_key tcp = ipv4_key(1, 2, 6, 1000, 80);
    struct vsw_flow_key other_ports = ipv4_key(1, 2, 6, 1001, 80);
    struct vsw_flow_key icmp = ipv4_key(1, 2, 1, 0, 0);
    struct vsw_flow_key frag = ipv4_key(1, 2, 17, 1000, 80);
    struct vsw_flow_key arp = ipv4_key(1, 2, 0, 0, 0);

    /* L4 ports count for TCP and UDP. */
    ck_assert_uint_ne(vsw_team_hash_address(&tcp),
                      vsw_team_hash_address(&other_ports));
    /* ICMP: the addresses. */
    ck_assert_uint_eq(vsw_team_hash_address(&icmp), vsw_team_hash_ip(&icmp));
    /* A fragment: the addresses, as its later fragments have no ports. */
    frag.flags = VSW_FLOW_F_FRAGMENT;
    ck_assert_uint_eq(vsw_team_hash_address(&frag), vsw_team_hash_ip(&frag));
    /* Not IP: the MACs. */
    arp.eth_type = VSW_ETH_TYPE_ARP;
    ck_assert_uint_eq(vsw_team_hash_address(&arp), vsw_team_hash_mac(&arp));
    ck_assert_uint_eq(vsw_team_hash_ip(&arp), vsw_team_hash_mac(&arp));
}
END_TEST

START_TEST(test_ip_and_mac_hash_ignore_what_they_do_not_hash)
{
    struct vsw_flow_key a = ipv4_key(1, 2, 6, 1000, 80);
    struct vsw_flow_key b = ipv4_key(1, 2, 6, 2000, 81);
    struct vsw_flow_key c = ipv4_key(3, 4, 6, 1000, 80);

    ck_assert_uint_eq(vsw_team_hash_ip(&a), vsw_team_hash_ip(&b));
    ck_assert_uint_ne(vsw_team_hash_ip(&a), vsw_team_hash_ip(&c));
    ck_assert_uint_eq(vsw_team_hash_mac(&a), vsw_team_hash_mac(&c));
    c.eth_src[5] = 9;
    ck_assert_uint_ne(vsw_team_hash_mac(&a), vsw_team_hash_mac(&c));
}
END_TEST

START_TEST(test_select_uses_active_members_only)
{
    struct vsw_team_map *none =
        make_map(3, 0, VSW_TEAM_LB_ADDRESS_HASH, VSW_TEAM_STATIC);
    struct vsw_team_map *two =
        make_map(3, 0x5, VSW_TEAM_LB_ADDRESS_HASH, VSW_TEAM_STATIC);
    unsigned count[3] = {0};

    for (uint16_t sport = 1; sport < 200; sport++) {
        struct vsw_flow_key key = ipv4_key(1, 2, 17, sport, 53);

        ck_assert_uint_eq(vsw_team_select(none, &key, 1, 0),
                          VSW_TEAM_NO_MEMBER);
        count[vsw_team_select(two, &key, 1, 0)]++;
    }
    ck_assert_uint_eq(count[1], 0);
    ck_assert_uint_gt(count[0], 0);
    ck_assert_uint_gt(count[2], 0);
    free(none);
    free(two);
}
END_TEST

START_TEST(test_port_mode_follows_pins)
{
    struct vsw_team_map *map =
        make_map(2, 0x3, VSW_TEAM_LB_PORT, VSW_TEAM_SWITCH_INDEPENDENT);
    struct vsw_flow_key a = ipv4_key(1, 2, 6, 1000, 80);
    struct vsw_flow_key b = ipv4_key(5, 6, 17, 3000, 53);
    bool used[VSW_FDB_MAX_SLOTS] = {false};

    used[3] = used[4] = true;
    vsw_team_pins_rebalance(map->pins, used, VSW_FDB_MAX_SLOTS, 0x3, true);
    ck_assert_uint_ne(map->pins[3], map->pins[4]);
    /* Every frame of a port, whatever its flow, takes its pin. */
    ck_assert_uint_eq(vsw_team_select(map, &a, (1u << 12) | 3, 0),
                      map->pins[3]);
    ck_assert_uint_eq(vsw_team_select(map, &b, (1u << 12) | 3, 0),
                      map->pins[3]);
    ck_assert_uint_eq(vsw_team_select(map, &a, (2u << 12) | 4, 0),
                      map->pins[4]);
    free(map);
}
END_TEST

static void
count_pins(const uint8_t *pins, unsigned n, unsigned *count)
{
    memset(count, 0, sizeof(unsigned) * VSW_LACP_MAX_MEMBERS);
    for (unsigned s = 0; s < n; s++) {
        if (pins[s] != VSW_TEAM_NO_MEMBER) {
            count[pins[s]]++;
        }
    }
}

START_TEST(test_pins_even_and_moved_only_when_members_change)
{
    enum {
        SLOTS = 64
    };
    uint8_t pins[SLOTS], before[SLOTS];
    bool used[SLOTS] = {false};
    unsigned count[VSW_LACP_MAX_MEMBERS];

    memset(pins, VSW_TEAM_NO_MEMBER, sizeof pins);
    for (unsigned s = 0; s < 10; s++) {
        used[s * 3] = true;
    }
    vsw_team_pins_rebalance(pins, used, SLOTS, 0x3, true);
    count_pins(pins, SLOTS, count);
    ck_assert_uint_eq(count[0], 5);
    ck_assert_uint_eq(count[1], 5);

    /* Nothing changed: nothing moves. */
    memcpy(before, pins, sizeof pins);
    vsw_team_pins_rebalance(pins, used, SLOTS, 0x3, false);
    ck_assert_mem_eq(before, pins, sizeof pins);

    /* Member 1 fails: its ports go to member 0, member 0's stay. */
    vsw_team_pins_rebalance(pins, used, SLOTS, 0x1, false);
    count_pins(pins, SLOTS, count);
    ck_assert_uint_eq(count[0], 10);
    for (unsigned s = 0; s < SLOTS; s++) {
        if (before[s] == 0) {
            ck_assert_uint_eq(pins[s], 0);
        }
    }

    /* It comes back: half move back. */
    vsw_team_pins_rebalance(pins, used, SLOTS, 0x3, true);
    count_pins(pins, SLOTS, count);
    ck_assert_uint_eq(count[0], 5);
    ck_assert_uint_eq(count[1], 5);

    /* A third member: 4/3/3, moving 3 ports. */
    memcpy(before, pins, sizeof pins);
    vsw_team_pins_rebalance(pins, used, SLOTS, 0x7, true);
    count_pins(pins, SLOTS, count);
    ck_assert_uint_le(count[0], 4);
    ck_assert_uint_le(count[1], 4);
    ck_assert_uint_ge(count[2], 3);
    {
        unsigned moved = 0;

        for (unsigned s = 0; s < SLOTS; s++) {
            moved += before[s] != pins[s];
        }
        ck_assert_uint_eq(moved, 3);
    }

    /* A port removed loses its pin; the others keep theirs. */
    memcpy(before, pins, sizeof pins);
    used[0] = false;
    vsw_team_pins_rebalance(pins, used, SLOTS, 0x7, false);
    ck_assert_uint_eq(pins[0], VSW_TEAM_NO_MEMBER);
    for (unsigned s = 1; s < SLOTS; s++) {
        ck_assert_uint_eq(pins[s], before[s]);
    }
    /* A new port goes to the member with the fewest. */
    count_pins(pins, SLOTS, count);
    used[1] = true;
    vsw_team_pins_rebalance(pins, used, SLOTS, 0x7, false);
    ck_assert_uint_eq(count[pins[1]],
                      count[0] < count[1]
                          ? (count[0] < count[2] ? count[0] : count[2])
                          : (count[1] < count[2] ? count[1] : count[2]));
}
END_TEST

START_TEST(test_rx_rules)
{
    struct vsw_team_map *si = make_map(2, 0x3, VSW_TEAM_LB_ADDRESS_HASH,
                                       VSW_TEAM_SWITCH_INDEPENDENT);
    struct vsw_team_map *st =
        make_map(2, 0x1, VSW_TEAM_LB_ADDRESS_HASH, VSW_TEAM_STATIC);
    struct vsw_fdb *fdb = vsw_fdb_create(1024, 300);
    struct vsw_flow_key key = ipv4_key(1, 2, 6, 1000, 80);
    struct vsw_flow_key bcast = key;
    const uint32_t vm_port = (1u << 12) | 5;

    memset(bcast.eth_dst, 0xff, 6);
    /* Unicast on any active member; broadcast on the flood member only. */
    ck_assert_int_eq(vsw_team_rx_check(si, 0, &key, fdb, 0, 1000), -1);
    ck_assert_int_eq(vsw_team_rx_check(si, 1, &key, fdb, 0, 1000), -1);
    ck_assert_int_eq(vsw_team_rx_check(si, 0, &bcast, fdb, 0, 1000), -1);
    ck_assert_int_eq(vsw_team_rx_check(si, 1, &bcast, fdb, 0, 1000),
                     VSW_DROP_TEAM_FLOOD_MEMBER);
    /* The source learned on another port: a reflection.  Learned on the
     * team itself: fine. */
    vsw_fdb_learn(fdb, 0, key.eth_src, vm_port, 0, 1000);
    ck_assert_int_eq(vsw_team_rx_check(si, 0, &key, fdb, 0, 1000),
                     VSW_DROP_TEAM_REFLECTED);
    /* In another VLAN it is another MAC. */
    ck_assert_int_eq(vsw_team_rx_check(si, 0, &key, fdb, 10, 1000), -1);
    vsw_fdb_learn(fdb, 0, key.eth_src, si->port_id, 0, 1001);
    ck_assert_int_eq(vsw_team_rx_check(si, 0, &key, fdb, 0, 1001), -1);
    /* A static team: the physical switch treats the members as one link.
     * An inactive member takes nothing. */
    vsw_fdb_learn(fdb, 0, key.eth_src, vm_port, 0, 1002);
    ck_assert_int_eq(vsw_team_rx_check(st, 0, &key, fdb, 0, 1002), -1);
    ck_assert_int_eq(vsw_team_rx_check(st, 1, &key, fdb, 0, 1002),
                     VSW_DROP_TEAM_INACTIVE);
    ck_assert_int_eq(vsw_team_rx_check(si, 9, &key, fdb, 0, 1002),
                     VSW_DROP_TEAM_INACTIVE);
    vsw_fdb_destroy(fdb);
    free(si);
    free(st);
}
END_TEST

START_TEST(test_dynamic_moves_flows_only_after_a_gap)
{
    struct vsw_team_map *map =
        make_map(2, 0x3, VSW_TEAM_LB_DYNAMIC, VSW_TEAM_SWITCH_INDEPENDENT);
    struct vsw_team_flowlets *fl = calloc(1, sizeof *fl);
    struct vsw_flow_key a = ipv4_key(1, 2, 6, 1000, 80);
    struct vsw_flow_key b = ipv4_key(1, 2, 6, 1001, 80);
    const uint64_t gap = VSW_TEAM_FLOWLET_GAP_NS;
    uint64_t busy_on_0[2] = {900000000, 0};
    uint64_t busy_on_1[2] = {0, 900000000};
    uint64_t t = 1000000000;
    uint8_t ma, mb;

    fl->gap_ns = gap;
    map->flowlets = fl;
    /* Member 0 is busy: a new flow goes to member 1. */
    vsw_team_flowlets_sample(fl, busy_on_0, 2);
    ma = vsw_team_select(map, &a, 1, t);
    ck_assert_uint_eq(ma, 1);
    /* A second new flow counts the first one's placement as the average
     * rate (450M): member 1 is still the lighter one. */
    mb = vsw_team_select(map, &b, 1, t);
    ck_assert_uint_eq(mb, 1);
    /* The load turns around: flows without a pause stay where they are,
     * frame after frame, so nothing is reordered. */
    vsw_team_flowlets_sample(fl, busy_on_1, 2);
    for (int i = 0; i < 100; i++) {
        t += gap / 2;
        ck_assert_uint_eq(vsw_team_select(map, &a, 1, t), ma);
    }
    ck_assert_uint_eq(atomic_load(&fl->moves), 0);
    /* After a pause longer than the gap, 'a' starts a new flowlet on the
     * lighter member. */
    t += gap + 1;
    ck_assert_uint_eq(vsw_team_select(map, &a, 1, t), 0);
    ck_assert_uint_eq(atomic_load(&fl->moves), 1);
    /* A member that fails loses its flows at once, pause or not. */
    free(map);
    map = make_map(2, 0x2, VSW_TEAM_LB_DYNAMIC, VSW_TEAM_SWITCH_INDEPENDENT);
    map->flowlets = fl;
    ck_assert_uint_eq(vsw_team_select(map, &a, 1, t + 1), 1);
    free(map);
    free(fl);
}
END_TEST

/* A trace's explanation names the member vsw_team_select() picks, and the
 * rule, without moving a flowlet. */
START_TEST(test_explain_matches_select_without_side_effects)
{
    static const enum vsw_team_lb lbs[] = {
        VSW_TEAM_LB_ADDRESS_HASH, VSW_TEAM_LB_IP_HASH, VSW_TEAM_LB_MAC_HASH,
        VSW_TEAM_LB_PORT};
    struct vsw_team_flowlets *fl = calloc(1, sizeof *fl);
    struct vsw_flow_key a = ipv4_key(1, 2, 6, 1000, 80);
    uint64_t t = 1000000000;
    struct vsw_team_map *map;
    char why[192];

    for (unsigned i = 0; i < sizeof lbs / sizeof *lbs; i++) {
        map = make_map(3, 0x7, lbs[i], VSW_TEAM_STATIC);
        for (uint16_t sport = 1000; sport < 1064; sport++) {
            struct vsw_flow_key k = ipv4_key(1, 2, 17, sport, 53);

            ck_assert_uint_eq(
                vsw_team_explain(map, &k, sport, t, why, sizeof why),
                vsw_team_select(map, &k, sport, t));
        }
        ck_assert_ptr_nonnull(strstr(
            why, lbs[i] == VSW_TEAM_LB_PORT ? "lb=port" : "% 3 active"));
        free(map);
    }

    map = make_map(2, 0x3, VSW_TEAM_LB_DYNAMIC, VSW_TEAM_SWITCH_INDEPENDENT);
    fl->gap_ns = VSW_TEAM_FLOWLET_GAP_NS;
    map->flowlets = fl;
    /* A new flowlet: explained, and still new afterwards (nothing
     * recorded). */
    vsw_team_explain(map, &a, 1, t, why, sizeof why);
    ck_assert_ptr_nonnull(strstr(why, "a new flowlet"));
    ck_assert_uint_eq(
        atomic_load(&fl->placed[0]) + atomic_load(&fl->placed[1]), 0);
    /* Within a real flowlet: the member its frames take. */
    uint8_t m = vsw_team_select(map, &a, 1, t);
    ck_assert_uint_eq(vsw_team_explain(map, &a, 1, t + 1000, why, sizeof why),
                      m);
    ck_assert_ptr_nonnull(strstr(why, "within its flowlet"));
    free(map);

    map = make_map(2, 0x2, VSW_TEAM_LB_ADDRESS_HASH, VSW_TEAM_STATIC);
    ck_assert_uint_eq(vsw_team_explain(map, &a, 1, t, why, sizeof why), 1);
    ck_assert_str_eq(why, "the only active member");
    free(map);
    map = make_map(2, 0, VSW_TEAM_LB_ADDRESS_HASH, VSW_TEAM_STATIC);
    ck_assert_uint_eq(vsw_team_explain(map, &a, 1, t, why, sizeof why),
                      VSW_TEAM_NO_MEMBER);
    free(map);
    free(fl);
}
END_TEST

int
main(void)
{
    Suite *suite = suite_create("team_balance");
    TCase *tc = tcase_create("balance");
    SRunner *runner;
    int failed;

    tcase_add_test(tc, test_address_hash_spreads_flows_keeps_each_on_one);
    tcase_add_test(tc, test_address_hash_falls_back);
    tcase_add_test(tc, test_ip_and_mac_hash_ignore_what_they_do_not_hash);
    tcase_add_test(tc, test_select_uses_active_members_only);
    tcase_add_test(tc, test_port_mode_follows_pins);
    tcase_add_test(tc, test_pins_even_and_moved_only_when_members_change);
    tcase_add_test(tc, test_rx_rules);
    tcase_add_test(tc, test_dynamic_moves_flows_only_after_a_gap);
    tcase_add_test(tc, test_explain_matches_select_without_side_effects);
    suite_add_tcase(suite, tc);
    runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
