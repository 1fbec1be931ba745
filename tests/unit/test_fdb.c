/*
 * Unit tests of the MAC table (datapath/forward/fdb.c).  Time is whatever
 * the test passes as 'now_ms'; only the concurrency test reads a real
 * clock, and only to know when to stop.
 */
#include "fdb.h"

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test-util.h"

#define AGEING_MS(SEC) ((int64_t)(SEC)*1000)

/* A locally administered unicast MAC numbered 'n' with first byte 'oui'
 * (which must be even and have bit 1 set). */
static void
make_mac(uint8_t mac[6], uint8_t oui, uint32_t n)
{
    mac[0] = oui;
    mac[1] = 0;
    mac[2] = n >> 24;
    mac[3] = n >> 16;
    mac[4] = n >> 8;
    mac[5] = n;
}

START_TEST(test_learn_then_lookup)
{
    struct vsw_fdb *fdb = vsw_fdb_create(16, 300);
    uint8_t a[6], b[6];

    ck_assert_ptr_nonnull(fdb);
    ck_assert_uint_eq(vsw_fdb_get_max_entries(fdb), 16);
    ck_assert_uint_eq(vsw_fdb_get_ageing(fdb), 300);
    make_mac(a, 0x02, 1);
    make_mac(b, 0x02, 2);

    ck_assert_int_eq(vsw_fdb_learn(fdb, 1, a, 7, 0, 1000), VSW_FDB_LEARNED);
    ck_assert_uint_eq(vsw_fdb_lookup(fdb, 1, a, 1000), 7);
    ck_assert_uint_eq(vsw_fdb_lookup(fdb, 1, b, 1000), VSW_FDB_NO_PORT);
    ck_assert_uint_eq(vsw_fdb_count(fdb), 1);
    ck_assert_uint_eq(vsw_fdb_count_port(fdb, 7), 1);
    ck_assert_uint_eq(vsw_fdb_count_port(fdb, 8), 0);

    /* The whole 32-bit port id comes back, and counts go by slot. */
    ck_assert_int_eq(vsw_fdb_learn(fdb, 1, b, 0x30007, 0, 1000),
                     VSW_FDB_LEARNED);
    ck_assert_uint_eq(vsw_fdb_lookup(fdb, 1, b, 1000), 0x30007);
    ck_assert_uint_eq(vsw_fdb_count_port(fdb, 7), 2);
    vsw_fdb_destroy(fdb);
    vsw_fdb_destroy(NULL);
}
END_TEST

START_TEST(test_vlan_isolation)
{
    struct vsw_fdb *fdb = vsw_fdb_create(16, 300);
    uint8_t a[6];

    make_mac(a, 0x02, 42);
    ck_assert_int_eq(vsw_fdb_learn(fdb, 10, a, 1, 0, 0), VSW_FDB_LEARNED);
    ck_assert_int_eq(vsw_fdb_learn(fdb, 20, a, 2, 0, 0), VSW_FDB_LEARNED);
    ck_assert_uint_eq(vsw_fdb_lookup(fdb, 10, a, 0), 1);
    ck_assert_uint_eq(vsw_fdb_lookup(fdb, 20, a, 0), 2);
    ck_assert_uint_eq(vsw_fdb_lookup(fdb, 30, a, 0), VSW_FDB_NO_PORT);
    ck_assert_uint_eq(vsw_fdb_lookup(fdb, 0, a, 0), VSW_FDB_NO_PORT);
    ck_assert_uint_eq(vsw_fdb_count(fdb), 2);
    vsw_fdb_destroy(fdb);
}
END_TEST

START_TEST(test_vni_isolation)
{
    /* The same MAC and VLAN in two tenant networks are two stations. */
    struct vsw_fdb *fdb = vsw_fdb_create(16, 300);
    uint8_t a[6];

    make_mac(a, 0x02, 42);
    ck_assert_int_eq(vsw_fdb_learn_vni(fdb, 5001, 0, a, 1, 0, 0),
                     VSW_FDB_LEARNED);
    ck_assert_int_eq(vsw_fdb_learn_vni(fdb, 5002, 0, a, 2, 0, 0),
                     VSW_FDB_LEARNED);
    ck_assert_uint_eq(vsw_fdb_lookup_vni(fdb, 5001, 0, a, 0), 1);
    ck_assert_uint_eq(vsw_fdb_lookup_vni(fdb, 5002, 0, a, 0), 2);
    ck_assert_uint_eq(vsw_fdb_lookup(fdb, 0, a, 0), VSW_FDB_NO_PORT);
    ck_assert_uint_eq(vsw_fdb_lookup_vni(fdb, 5003, 0, a, 0), VSW_FDB_NO_PORT);
    ck_assert_uint_eq(vsw_fdb_count(fdb), 2);
    vsw_fdb_destroy(fdb);
}
END_TEST

START_TEST(test_group_and_zero_not_learned)
{
    static const uint8_t macs[][6] = {
        {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, /* broadcast */
        {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}, /* IPv4 multicast */
        {0x33, 0x33, 0x00, 0x00, 0x00, 0x01}, /* IPv6 multicast */
        {0x01, 0x80, 0xc2, 0x00, 0x00, 0x00}, /* STP */
        {0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* zero */
    };
    struct vsw_fdb *fdb = vsw_fdb_create(16, 300);
    uint8_t a[6];

    for (size_t i = 0; i < sizeof macs / sizeof macs[0]; i++) {
        ck_assert_int_eq(vsw_fdb_learn(fdb, 1, macs[i], 3, 0, 0),
                         VSW_FDB_IGNORED);
        ck_assert_uint_eq(vsw_fdb_lookup(fdb, 1, macs[i], 0), VSW_FDB_NO_PORT);
    }
    /* A unicast MAC with the zero port id would read back as "unknown". */
    make_mac(a, 0x02, 1);
    ck_assert_int_eq(vsw_fdb_learn(fdb, 1, a, VSW_FDB_NO_PORT, 0, 0),
                     VSW_FDB_IGNORED);
    ck_assert_uint_eq(vsw_fdb_count(fdb), 0);
    ck_assert_uint_eq(vsw_fdb_count_port(fdb, 3), 0);
    vsw_fdb_destroy(fdb);
}
END_TEST

START_TEST(test_refresh_and_move)
{
    struct vsw_fdb *fdb = vsw_fdb_create(16, 10);
    uint8_t a[6];

    make_mac(a, 0x02, 5);
    ck_assert_int_eq(vsw_fdb_learn(fdb, 1, a, 1, 0, 0), VSW_FDB_LEARNED);
    ck_assert_int_eq(vsw_fdb_learn(fdb, 1, a, 1, 0, 5000), VSW_FDB_REFRESHED);
    ck_assert_uint_eq(vsw_fdb_count(fdb), 1);

    /* The refresh at 5 s carries the entry to 15 s, not 10 s. */
    ck_assert_uint_eq(vsw_fdb_lookup(fdb, 1, a, 14999), 1);
    ck_assert_uint_eq(vsw_fdb_lookup(fdb, 1, a, 15000), VSW_FDB_NO_PORT);

    ck_assert_int_eq(vsw_fdb_learn(fdb, 1, a, 2, 0, 6000), VSW_FDB_MOVED);
    ck_assert_uint_eq(vsw_fdb_lookup(fdb, 1, a, 6000), 2);
    ck_assert_uint_eq(vsw_fdb_count(fdb), 1);
    ck_assert_uint_eq(vsw_fdb_count_port(fdb, 1), 0);
    ck_assert_uint_eq(vsw_fdb_count_port(fdb, 2), 1);

    /* Once aged out the MAC is unknown, so seeing it again is learning,
     * on the same port or another. */
    ck_assert_int_eq(vsw_fdb_learn(fdb, 1, a, 2, 0, 16000), VSW_FDB_LEARNED);
    ck_assert_int_eq(vsw_fdb_learn(fdb, 1, a, 3, 0, 26000), VSW_FDB_LEARNED);
    ck_assert_uint_eq(vsw_fdb_lookup(fdb, 1, a, 26000), 3);
    ck_assert_uint_eq(vsw_fdb_count(fdb), 1);
    ck_assert_uint_eq(vsw_fdb_count_port(fdb, 2), 0);
    ck_assert_uint_eq(vsw_fdb_count_port(fdb, 3), 1);
    vsw_fdb_destroy(fdb);
}
END_TEST

START_TEST(test_ageing_exact)
{
    const int64_t t0 = 12345;
    struct vsw_fdb *fdb = vsw_fdb_create(16, 300);
    uint8_t a[6];

    make_mac(a, 0x02, 9);
    ck_assert_int_eq(vsw_fdb_learn(fdb, 1, a, 4, 0, t0), VSW_FDB_LEARNED);
    ck_assert_uint_eq(vsw_fdb_lookup(fdb, 1, a, t0 + AGEING_MS(300) - 1), 4);
    ck_assert_uint_eq(vsw_fdb_lookup(fdb, 1, a, t0 + AGEING_MS(300)),
                      VSW_FDB_NO_PORT);

    ck_assert_uint_eq(vsw_fdb_expire(fdb, t0 + AGEING_MS(300) - 1), 0);
    ck_assert_uint_eq(vsw_fdb_count(fdb), 1);
    ck_assert_uint_eq(vsw_fdb_expire(fdb, t0 + AGEING_MS(300)), 1);
    ck_assert_uint_eq(vsw_fdb_count(fdb), 0);
    ck_assert_uint_eq(vsw_fdb_count_port(fdb, 4), 0);
    vsw_fdb_destroy(fdb);
}
END_TEST

/* Enough entries that expiry runs in several chunks, and freed entries are
 * learned again. */
START_TEST(test_expire_many)
{
    struct vsw_fdb *fdb = vsw_fdb_create(10000, 60);
    uint8_t mac[6];

    for (uint32_t i = 0; i < 10000; i++) {
        make_mac(mac, 0x02, i);
        ck_assert_int_eq(vsw_fdb_learn(fdb, 1, mac, i < 5000 ? 1 : 2, 0,
                                       i < 5000 ? 0 : 1000),
                         VSW_FDB_LEARNED);
    }
    ck_assert_uint_eq(vsw_fdb_count(fdb), 10000);

    ck_assert_uint_eq(vsw_fdb_expire(fdb, AGEING_MS(60)), 5000);
    ck_assert_uint_eq(vsw_fdb_count(fdb), 5000);
    ck_assert_uint_eq(vsw_fdb_count_port(fdb, 1), 0);
    ck_assert_uint_eq(vsw_fdb_count_port(fdb, 2), 5000);
    make_mac(mac, 0x02, 4999);
    ck_assert_uint_eq(vsw_fdb_lookup(fdb, 1, mac, AGEING_MS(60)),
                      VSW_FDB_NO_PORT);
    make_mac(mac, 0x02, 5000);
    ck_assert_uint_eq(vsw_fdb_lookup(fdb, 1, mac, AGEING_MS(60)), 2);

    for (uint32_t i = 0; i < 5000; i++) {
        make_mac(mac, 0x06, i);
        ck_assert_int_eq(vsw_fdb_learn(fdb, 1, mac, 3, 0, AGEING_MS(60)),
                         VSW_FDB_LEARNED);
    }
    ck_assert_uint_eq(vsw_fdb_count(fdb), 10000);
    ck_assert_uint_eq(vsw_fdb_count_port(fdb, 2), 5000);
    ck_assert_uint_eq(vsw_fdb_count_port(fdb, 3), 5000);

    ck_assert_uint_eq(vsw_fdb_expire(fdb, AGEING_MS(61)), 5000);
    ck_assert_uint_eq(vsw_fdb_count_port(fdb, 2), 0);
    ck_assert_uint_eq(vsw_fdb_expire(fdb, AGEING_MS(120)), 5000);
    ck_assert_uint_eq(vsw_fdb_count(fdb), 0);
    vsw_fdb_destroy(fdb);
}
END_TEST

START_TEST(test_set_ageing)
{
    struct vsw_fdb *fdb = vsw_fdb_create(16, 300);
    uint8_t a[6];

    make_mac(a, 0x02, 1);
    vsw_fdb_learn(fdb, 1, a, 1, 0, 0);
    ck_assert_uint_eq(vsw_fdb_lookup(fdb, 1, a, 10000), 1);
    ck_assert_uint_eq(vsw_fdb_expire(fdb, 10000), 0);

    vsw_fdb_set_ageing(fdb, 10);
    ck_assert_uint_eq(vsw_fdb_get_ageing(fdb), 10);
    ck_assert_uint_eq(vsw_fdb_lookup(fdb, 1, a, 9999), 1);
    ck_assert_uint_eq(vsw_fdb_lookup(fdb, 1, a, 10000), VSW_FDB_NO_PORT);
    ck_assert_uint_eq(vsw_fdb_expire(fdb, 10000), 1);
    ck_assert_uint_eq(vsw_fdb_count(fdb), 0);

    /* Lengthening works too, for an entry not yet removed. */
    vsw_fdb_learn(fdb, 1, a, 1, 0, 20000);
    ck_assert_uint_eq(vsw_fdb_lookup(fdb, 1, a, 30000), VSW_FDB_NO_PORT);
    vsw_fdb_set_ageing(fdb, 20);
    ck_assert_uint_eq(vsw_fdb_lookup(fdb, 1, a, 30000), 1);
    vsw_fdb_destroy(fdb);
}
END_TEST

/* The switch-wide cap evicts from the port holding the most entries, so a
 * port flooding new MACs cannot push out another port's.  The flooding
 * port 5 sits between the small ports 2 and 9, so that neither the lowest
 * nor the highest slot is the right answer by accident. */
START_TEST(test_switch_cap)
{
    enum {
        CAP = 1000,
        FEW = 5
    };
    static const uint32_t small_ports[] = {2, 9};
    struct vsw_fdb *fdb = vsw_fdb_create(CAP, 300);
    uint8_t mac[6];

    for (uint32_t i = 0; i < CAP; i++) {
        make_mac(mac, 0x02, i);
        vsw_fdb_learn(fdb, 1, mac, 5, 0, 0);
    }
    ck_assert_uint_eq(vsw_fdb_count(fdb), CAP);
    for (uint32_t p = 0; p < 2; p++) {
        for (uint32_t i = 0; i < FEW; i++) {
            make_mac(mac, 0x06, p * FEW + i);
            ck_assert_int_eq(vsw_fdb_learn(fdb, 1, mac, small_ports[p], 0, 1),
                             VSW_FDB_LEARNED);
        }
    }
    ck_assert_uint_eq(vsw_fdb_count(fdb), CAP);
    ck_assert_uint_eq(vsw_fdb_count_port(fdb, 5), CAP - 2 * FEW);

    for (uint32_t i = 0; i < 10000; i++) {
        make_mac(mac, 0x0a, i);
        ck_assert_int_eq(vsw_fdb_learn(fdb, 1, mac, 5, 0, 2 + i),
                         VSW_FDB_LEARNED);
        ck_assert_uint_le(vsw_fdb_count(fdb), CAP);
        ck_assert_uint_eq(vsw_fdb_lookup(fdb, 1, mac, 2 + i), 5);
    }
    ck_assert_uint_eq(vsw_fdb_count(fdb), CAP);
    ck_assert_uint_eq(vsw_fdb_count_port(fdb, 5), CAP - 2 * FEW);
    for (uint32_t p = 0; p < 2; p++) {
        ck_assert_uint_eq(vsw_fdb_count_port(fdb, small_ports[p]), FEW);
        for (uint32_t i = 0; i < FEW; i++) {
            make_mac(mac, 0x06, p * FEW + i);
            ck_assert_uint_eq(vsw_fdb_lookup(fdb, 1, mac, 10002),
                              small_ports[p]);
        }
    }
    /* Port 5 lost its oldest entries, the first ones it learned. */
    make_mac(mac, 0x02, CAP - 1);
    ck_assert_uint_eq(vsw_fdb_lookup(fdb, 1, mac, 10002), VSW_FDB_NO_PORT);
    make_mac(mac, 0x0a, 9999);
    ck_assert_uint_eq(vsw_fdb_lookup(fdb, 1, mac, 10002), 5);
    vsw_fdb_destroy(fdb);
}
END_TEST

START_TEST(test_port_cap)
{
    struct vsw_fdb *fdb = vsw_fdb_create(100, 300);
    uint8_t m[7][6], other[2][6];

    for (uint32_t i = 0; i < 7; i++) {
        make_mac(m[i], 0x02, i);
    }
    for (uint32_t i = 0; i < 2; i++) {
        make_mac(other[i], 0x06, i);
        vsw_fdb_learn(fdb, 1, other[i], 2, 3, 0);
    }

    for (uint32_t i = 0; i < 3; i++) {
        ck_assert_int_eq(vsw_fdb_learn(fdb, 1, m[i], 1, 3, i),
                         VSW_FDB_LEARNED);
    }
    ck_assert_int_eq(vsw_fdb_learn(fdb, 1, m[3], 1, 3, 3), VSW_FDB_LEARNED);
    ck_assert_uint_eq(vsw_fdb_count_port(fdb, 1), 3);
    ck_assert_uint_eq(vsw_fdb_lookup(fdb, 1, m[0], 3), VSW_FDB_NO_PORT);
    for (uint32_t i = 1; i < 4; i++) {
        ck_assert_uint_eq(vsw_fdb_lookup(fdb, 1, m[i], 3), 1);
    }

    /* "Oldest" means least recently seen: a busy MAC learned early stays. */
    ck_assert_int_eq(vsw_fdb_learn(fdb, 1, m[1], 1, 3, 1000),
                     VSW_FDB_REFRESHED);
    ck_assert_int_eq(vsw_fdb_learn(fdb, 1, m[4], 1, 3, 1001), VSW_FDB_LEARNED);
    ck_assert_uint_eq(vsw_fdb_lookup(fdb, 1, m[1], 1001), 1);
    ck_assert_uint_eq(vsw_fdb_lookup(fdb, 1, m[2], 1001), VSW_FDB_NO_PORT);
    ck_assert_uint_eq(vsw_fdb_count_port(fdb, 1), 3);

    /* A MAC moving onto a full port also evicts that port's oldest. */
    ck_assert_int_eq(vsw_fdb_learn(fdb, 1, m[3], 2, 2, 1002), VSW_FDB_MOVED);
    ck_assert_uint_eq(vsw_fdb_count_port(fdb, 2), 2);
    ck_assert_uint_eq(vsw_fdb_count_port(fdb, 1), 2);
    ck_assert_uint_eq(vsw_fdb_lookup(fdb, 1, other[0], 1002), VSW_FDB_NO_PORT);
    ck_assert_uint_eq(vsw_fdb_lookup(fdb, 1, other[1], 1002), 2);

    /* A lowered limit is reached at once. */
    ck_assert_int_eq(vsw_fdb_learn(fdb, 1, m[5], 1, 1, 1003), VSW_FDB_LEARNED);
    ck_assert_uint_eq(vsw_fdb_count_port(fdb, 1), 1);
    ck_assert_uint_eq(vsw_fdb_lookup(fdb, 1, m[5], 1003), 1);
    ck_assert_uint_eq(vsw_fdb_count(fdb), 3);
    vsw_fdb_destroy(fdb);
}
END_TEST

START_TEST(test_flush)
{
    struct vsw_fdb *fdb = vsw_fdb_create(8192, 300);
    uint8_t mac[6];

    /* Port 1 holds more than one flush chunk; 0x7001 shares its slot. */
    for (uint32_t i = 0; i < 3000; i++) {
        make_mac(mac, 0x02, i);
        vsw_fdb_learn(fdb, 1, mac, i % 2 ? 1 : 0x7001, 0, 0);
    }
    for (uint32_t i = 0; i < 10; i++) {
        make_mac(mac, 0x06, i);
        vsw_fdb_learn(fdb, 1, mac, 2, 0, 0);
    }
    ck_assert_uint_eq(vsw_fdb_count_port(fdb, 1), 3000);
    ck_assert_uint_eq(vsw_fdb_count(fdb), 3010);

    vsw_fdb_flush_port(fdb, 0x5001);
    ck_assert_uint_eq(vsw_fdb_count_port(fdb, 1), 0);
    ck_assert_uint_eq(vsw_fdb_count(fdb), 10);
    make_mac(mac, 0x02, 7);
    ck_assert_uint_eq(vsw_fdb_lookup(fdb, 1, mac, 0), VSW_FDB_NO_PORT);
    make_mac(mac, 0x06, 7);
    ck_assert_uint_eq(vsw_fdb_lookup(fdb, 1, mac, 0), 2);

    vsw_fdb_flush(fdb);
    ck_assert_uint_eq(vsw_fdb_count(fdb), 0);
    ck_assert_uint_eq(vsw_fdb_count_port(fdb, 2), 0);
    ck_assert_uint_eq(vsw_fdb_lookup(fdb, 1, mac, 0), VSW_FDB_NO_PORT);

    /* The table works as new afterwards. */
    ck_assert_int_eq(vsw_fdb_learn(fdb, 1, mac, 3, 0, 0), VSW_FDB_LEARNED);
    ck_assert_uint_eq(vsw_fdb_lookup(fdb, 1, mac, 0), 3);
    ck_assert_uint_eq(vsw_fdb_count(fdb), 1);
    vsw_fdb_destroy(fdb);
}
END_TEST

START_TEST(test_dump)
{
    /* Sorted by (vlan, mac); the test learns them in another order. */
    static const struct vsw_fdb_entry_info expected[] = {
        {1, {0x02, 0, 0, 0, 0, 0x05}, 11, 5, 0},
        {1, {0x02, 0, 0, 0, 0x01, 0x00}, 12, 2, 0},
        {1, {0x06, 0, 0, 0, 0, 0x01}, 11, 2, 0},
        {3, {0x02, 0, 0, 0, 0, 0x05}, 13, 5, 0},
        {5, {0x00, 0x10, 0, 0, 0, 0x09}, 12, 0, 0},
        {4095, {0x02, 0, 0, 0, 0, 0x01}, 14, 2, 0},
    };
    static const size_t order[] = {4, 2, 5, 0, 3, 1};
    static const uint8_t stale[6] = {0x02, 0, 0, 0, 0, 0x03};
    enum {
        N = sizeof expected / sizeof expected[0]
    };
    struct vsw_fdb *fdb = vsw_fdb_create(64, 10);
    struct vsw_fdb_entry_info out[64];

    vsw_fdb_learn(fdb, 1, stale, 15, 0, 0);
    for (size_t i = 0; i < N; i++) {
        const struct vsw_fdb_entry_info *e = &expected[order[i]];
        int64_t seen = 10000 - AGEING_MS(e->age_sec) - 250;
        ck_assert_int_eq(
            vsw_fdb_learn(fdb, e->vlan, e->mac, e->port_id, 0, seen),
            VSW_FDB_LEARNED);
    }
    ck_assert_uint_eq(vsw_fdb_count(fdb), N + 1);

    /* The stale entry is aged at 10 s and left out. */
    ck_assert_uint_eq(vsw_fdb_dump(fdb, out, 64, 10000), N);
    for (size_t i = 0; i < N; i++) {
        ck_assert_uint_eq(out[i].vlan, expected[i].vlan);
        ck_assert_mem_eq(out[i].mac, expected[i].mac, 6);
        ck_assert_uint_eq(out[i].port_id, expected[i].port_id);
        ck_assert_uint_eq(out[i].age_sec, expected[i].age_sec);
    }

    /* A short buffer gets the first entries. */
    memset(out, 0, sizeof out);
    ck_assert_uint_eq(vsw_fdb_dump(fdb, out, 3, 10000), 3);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_uint_eq(out[i].vlan, expected[i].vlan);
        ck_assert_mem_eq(out[i].mac, expected[i].mac, 6);
    }
    ck_assert_uint_eq(vsw_fdb_dump(fdb, NULL, 0, 10000), 0);
    vsw_fdb_destroy(fdb);
}
END_TEST

START_TEST(test_dump_large_sorted)
{
    enum {
        N = 5000
    };
    struct vsw_fdb *fdb = vsw_fdb_create(N, 300);
    struct vsw_fdb_entry_info *out = calloc(N, sizeof *out);
    uint64_t rnd = 0x1234567887654321ull;
    uint8_t mac[6];

    for (uint32_t i = 0; i < N; i++) {
        uint64_t r = next_random(&rnd);
        make_mac(mac, 0x02, (uint32_t)r);
        mac[1] = r >> 32;
        vsw_fdb_learn(fdb, (r >> 40) % 4096, mac, 1 + i % 3, 0, 0);
    }
    size_t n = vsw_fdb_count(fdb);
    ck_assert_uint_ge(n, N - 5); /* random keys may repeat, rarely */
    ck_assert_uint_eq(vsw_fdb_dump(fdb, out, N, 0), n);
    for (size_t i = 1; i < n; i++) {
        int cmp = out[i - 1].vlan != out[i].vlan
                      ? out[i - 1].vlan - out[i].vlan
                      : memcmp(out[i - 1].mac, out[i].mac, 6);
        ck_assert_int_lt(cmp, 0);
    }
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(vsw_fdb_lookup(fdb, out[i].vlan, out[i].mac, 0),
                          out[i].port_id);
    }
    free(out);
    vsw_fdb_destroy(fdb);
}
END_TEST

/* The concurrency test.  Every MAC names in itself the only two ports it is
 * ever learned on (bytes 1 and 2), so any other answer from a lookup means
 * a torn or stale read. */
enum {
    RACE_MACS = 1024, /* MACs in play, four times the table: constant churn */
    RACE_CAP = 256,   /* table size */
};

struct race {
    struct vsw_fdb *fdb;    /* the table under test */
    _Atomic int64_t now_ms; /* the test's clock, advanced by main */
    _Atomic bool stop;      /* tells the threads to finish */
    _Atomic uint64_t hits;  /* lookups that found a port */
    _Atomic uint64_t bad;   /* lookups that found a wrong port */
    _Atomic uint64_t moves; /* MOVED results */
};

/* The two ports of MAC 'i': 1..50 and 51..97. */
static void
race_mac(uint8_t mac[6], uint32_t i)
{
    mac[0] = 0x02;
    mac[1] = 1 + i % 50;
    mac[2] = 51 + i % 47;
    mac[3] = 0;
    mac[4] = i >> 8;
    mac[5] = i;
}

static uint16_t
race_vlan(uint32_t i)
{
    return i % 3;
}

static void *
race_reader(void *race_)
{
    struct race *race = race_;
    uint64_t rnd = (uintptr_t)&rnd | 1;
    uint64_t hits = 0, bad = 0;
    uint8_t mac[6];

    while (!atomic_load(&race->stop)) {
        uint32_t i = next_random(&rnd) % RACE_MACS;
        race_mac(mac, i);
        uint32_t port = vsw_fdb_lookup(race->fdb, race_vlan(i), mac,
                                       atomic_load(&race->now_ms));
        if (port != VSW_FDB_NO_PORT) {
            hits++;
            bad += port != mac[1] && port != mac[2];
        }
    }
    atomic_fetch_add(&race->hits, hits);
    atomic_fetch_add(&race->bad, bad);
    return NULL;
}

/* Writer 0 learns each MAC on its first port, writer 1 on its second, so
 * MACs keep moving; writer 1 also applies a per-port cap. */
struct race_writer {
    struct race *race; /* shared state */
    int which;         /* 0 or 1 */
};

static void *
race_writer(void *writer_)
{
    const struct race_writer *writer = writer_;
    struct race *race = writer->race;
    uint64_t rnd = (uintptr_t)&rnd | 1;
    uint64_t moves = 0;
    uint8_t mac[6];

    while (!atomic_load(&race->stop)) {
        uint32_t i = next_random(&rnd) % RACE_MACS;
        race_mac(mac, i);
        enum vsw_fdb_learn_result result =
            vsw_fdb_learn(race->fdb, race_vlan(i), mac, mac[1 + writer->which],
                          writer->which ? 4 : 0, atomic_load(&race->now_ms));
        moves += result == VSW_FDB_MOVED;
    }
    atomic_fetch_add(&race->moves, moves);
    return NULL;
}

START_TEST(test_concurrency)
{
    struct race race = {.fdb = vsw_fdb_create(RACE_CAP, 1)};
    struct race_writer writers[2] = {{&race, 0}, {&race, 1}};
    struct vsw_fdb_entry_info out[RACE_CAP];
    pthread_t threads[4];
    uint64_t n_expired = 0;

    atomic_init(&race.now_ms, 0);
    atomic_init(&race.stop, false);
    atomic_init(&race.hits, 0);
    atomic_init(&race.bad, 0);
    atomic_init(&race.moves, 0);
    pthread_create(&threads[0], NULL, race_reader, &race);
    pthread_create(&threads[1], NULL, race_reader, &race);
    pthread_create(&threads[2], NULL, race_writer, &writers[0]);
    pthread_create(&threads[3], NULL, race_writer, &writers[1]);

    int64_t deadline = real_msec() + 1000;
    for (int round = 0; real_msec() < deadline; round++) {
        /* Mostly small steps; now and then a whole ageing time, so that
         * expiry has work however fast the writers refresh. */
        int64_t step = round % 32 == 31 ? AGEING_MS(1) : 7;
        int64_t now = atomic_fetch_add(&race.now_ms, step) + step;
        n_expired += vsw_fdb_expire(race.fdb, now);
        ck_assert_uint_le(vsw_fdb_count(race.fdb), RACE_CAP);
        if (round % 16 == 0) {
            size_t n = vsw_fdb_dump(race.fdb, out, RACE_CAP, now);
            for (size_t i = 0; i < n; i++) {
                ck_assert(out[i].port_id == out[i].mac[1] ||
                          out[i].port_id == out[i].mac[2]);
            }
        }
        if (round % 64 == 0) {
            vsw_fdb_flush_port(race.fdb, 1 + round % 50);
        }
    }
    atomic_store(&race.stop, true);
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
    }

    ck_assert_uint_eq(atomic_load(&race.bad), 0);
    ck_assert_uint_gt(atomic_load(&race.hits), 0);
    ck_assert_uint_gt(atomic_load(&race.moves), 0);
    ck_assert_uint_gt(n_expired, 0);

    /* Quiescent now: the counts must add up. */
    size_t sum = 0;
    for (uint32_t port = 1; port <= 100; port++) {
        ck_assert_uint_le(vsw_fdb_count_port(race.fdb, port), RACE_CAP);
        sum += vsw_fdb_count_port(race.fdb, port);
    }
    ck_assert_uint_eq(sum, vsw_fdb_count(race.fdb));
    vsw_fdb_flush(race.fdb);
    ck_assert_uint_eq(vsw_fdb_count(race.fdb), 0);
    vsw_fdb_destroy(race.fdb);
}
END_TEST

/* One port sends from 100 000 random MACs: the table stays at its cap, and
 * the other ports keep their entries, under either cap. */
START_TEST(test_random_flood)
{
    enum {
        CAP = 4096,
        OTHERS = 10
    };
    for (int per_port = 0; per_port < 2; per_port++) {
        struct vsw_fdb *fdb =
            vsw_fdb_create(per_port ? VSW_FDB_DEFAULT_MAX_ENTRIES : CAP, 300);
        uint64_t rnd = 0x9e3779b97f4a7c15ull;
        uint8_t mac[6];

        for (uint32_t i = 0; i < OTHERS; i++) {
            make_mac(mac, 0x02, i);
            vsw_fdb_learn(fdb, 1, mac, 2, 0, 0);
            vsw_fdb_learn(fdb, 2, mac, 3, 0, 0);
        }
        for (uint32_t i = 0; i < 100000; i++) {
            uint64_t r = next_random(&rnd);
            make_mac(mac, 0x0a, (uint32_t)r);
            mac[1] = r >> 32;
            vsw_fdb_learn(fdb, 1, mac, 1, per_port ? CAP : 0, i / 100);
        }
        size_t flooder = per_port ? CAP : CAP - 2 * OTHERS;
        size_t total = per_port ? CAP + 2 * OTHERS : CAP;
        ck_assert_uint_eq(vsw_fdb_count_port(fdb, 1), flooder);
        ck_assert_uint_eq(vsw_fdb_count(fdb), total);
        for (uint32_t i = 0; i < OTHERS; i++) {
            make_mac(mac, 0x02, i);
            ck_assert_uint_eq(vsw_fdb_lookup(fdb, 1, mac, 1000), 2);
            ck_assert_uint_eq(vsw_fdb_lookup(fdb, 2, mac, 1000), 3);
        }
        vsw_fdb_destroy(fdb);
    }
}
END_TEST

static Suite *
fdb_suite(void)
{
    Suite *s = suite_create("fdb");
    TCase *basic = tcase_create("basic");
    TCase *bounds = tcase_create("bounds");
    TCase *race = tcase_create("concurrency");

    tcase_add_test(basic, test_learn_then_lookup);
    tcase_add_test(basic, test_vlan_isolation);
    tcase_add_test(basic, test_vni_isolation);
    tcase_add_test(basic, test_group_and_zero_not_learned);
    tcase_add_test(basic, test_refresh_and_move);
    tcase_add_test(basic, test_ageing_exact);
    tcase_add_test(basic, test_expire_many);
    tcase_add_test(basic, test_set_ageing);
    tcase_add_test(basic, test_flush);
    tcase_add_test(basic, test_dump);
    tcase_add_test(basic, test_dump_large_sorted);
    suite_add_tcase(s, basic);

    /* Sanitizer builds are several times slower. */
    tcase_set_timeout(bounds, 120);
    tcase_add_test(bounds, test_switch_cap);
    tcase_add_test(bounds, test_port_cap);
    tcase_add_test(bounds, test_random_flood);
    suite_add_tcase(s, bounds);

    tcase_set_timeout(race, 60);
    tcase_add_test(race, test_concurrency);
    suite_add_tcase(s, race);
    return s;
}

int
main(void)
{
    SRunner *runner = srunner_create(fdb_suite());

    srunner_run_all(runner, CK_NORMAL);
    int n_failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return n_failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
