/*
 * Unit tests of VXLAN's pure parts (datapath/tunnel/vxlan.c): the header,
 * the outer source port, the programmed maps and the learned map.
 */
#include "vxlan.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "drop.h"

START_TEST(test_header)
{
    uint8_t dgram[8 + 14] = {0};
    uint32_t vni = 0;

    vsw_vxlan_header_write(dgram, 5001);
    ck_assert_uint_eq(dgram[0], 0x08);
    ck_assert_int_eq(vsw_vxlan_header_check(dgram, sizeof dgram, &vni), -1);
    ck_assert_uint_eq(vni, 5001);
    vsw_vxlan_header_write(dgram, VSW_VXLAN_VNI_MAX);
    ck_assert_int_eq(vsw_vxlan_header_check(dgram, sizeof dgram, &vni), -1);
    ck_assert_uint_eq(vni, VSW_VXLAN_VNI_MAX);
    /* Reserved bits are ignored on receipt (RFC 7348 §5). */
    dgram[0] |= 0x80;
    dgram[7] = 0xff;
    ck_assert_int_eq(vsw_vxlan_header_check(dgram, sizeof dgram, &vni), -1);

    ck_assert_int_eq(vsw_vxlan_header_check(dgram, 7, &vni),
                     VSW_DROP_VXLAN_TRUNCATED);
    ck_assert_int_eq(vsw_vxlan_header_check(dgram, 8 + 13, &vni),
                     VSW_DROP_VXLAN_INNER_RUNT);
    dgram[0] = 0;
    ck_assert_int_eq(vsw_vxlan_header_check(dgram, sizeof dgram, &vni),
                     VSW_DROP_VXLAN_BAD_FLAGS);
}
END_TEST

/* An Ethernet + IPv4 + UDP frame from source port 'sport'. */
static void
udp_frame(uint8_t f[64], uint16_t sport)
{
    memset(f, 0, 64);
    f[12] = 0x08;
    f[14] = 0x45;
    f[23] = 17;
    f[26] = 10, f[29] = 1;
    f[30] = 10, f[33] = 2;
    f[34] = (uint8_t)(sport >> 8);
    f[35] = (uint8_t)sport;
    f[37] = 9;
}

START_TEST(test_source_port)
{
    uint8_t f[64];
    unsigned distinct = 0;
    uint16_t first;

    udp_frame(f, 40000);
    first = vsw_vxlan_source_port(f, sizeof f, 0);
    /* One flow, one port: the underlay keeps it in order. */
    ck_assert_uint_eq(vsw_vxlan_source_port(f, sizeof f, 0), first);
    for (uint16_t sport = 40000; sport < 40064; sport++) {
        uint16_t port;

        udp_frame(f, sport);
        port = vsw_vxlan_source_port(f, sizeof f, 0);
        ck_assert_uint_ge(port, VSW_VXLAN_SPORT_MIN);
        distinct += port != first;
    }
    /* Flows spread. */
    ck_assert_uint_gt(distinct, 48);
    /* Short and odd frames still get a port in the range. */
    ck_assert_uint_ge(vsw_vxlan_source_port(f, 3, 0), VSW_VXLAN_SPORT_MIN);
    ck_assert_uint_ge(vsw_vxlan_source_port(f, 20, 4), VSW_VXLAN_SPORT_MIN);
}
END_TEST

START_TEST(test_programmed_maps)
{
    struct vsw_vxlan_config *cfg = calloc(1, sizeof *cfg);
    uint8_t mac[6] = {2, 0, 0, 0, 0, 1};
    uint32_t ip = 0;

    ck_assert_ptr_nonnull(cfg);
    cfg->vnis = calloc(4, sizeof *cfg->vnis);
    cfg->remotes = calloc(4, sizeof *cfg->remotes);
    cfg->macs = calloc(2, sizeof *cfg->macs);
    ck_assert_ptr_nonnull(cfg->vnis);
    ck_assert_ptr_nonnull(cfg->remotes);
    ck_assert_ptr_nonnull(cfg->macs);
    cfg->vnis[cfg->n_vnis++] = 5002;
    cfg->vnis[cfg->n_vnis++] = 5001;
    cfg->vnis[cfg->n_vnis++] = 5002;
    cfg->remotes[cfg->n_remotes++] = (struct vsw_vxlan_remote){5002, 7};
    cfg->remotes[cfg->n_remotes++] = (struct vsw_vxlan_remote){5001, 9};
    cfg->remotes[cfg->n_remotes++] = (struct vsw_vxlan_remote){5001, 9};
    cfg->macs[cfg->n_macs] = (struct vsw_vxlan_mac){.vni = 5001, .ip = 9};
    memcpy(cfg->macs[cfg->n_macs++].mac, mac, 6);
    vsw_vxlan_config_sort(cfg);

    /* Sorted, duplicates gone. */
    ck_assert_uint_eq(cfg->n_vnis, 2);
    ck_assert_uint_eq(cfg->n_remotes, 2);
    ck_assert(vsw_vxlan_serves(cfg, 5001));
    ck_assert(!vsw_vxlan_serves(cfg, 5003));
    ck_assert(vsw_vxlan_is_remote(cfg, 5001, 9));
    ck_assert(!vsw_vxlan_is_remote(cfg, 5002, 9));
    ck_assert(vsw_vxlan_mac_lookup(cfg, 5001, mac, &ip));
    ck_assert_uint_eq(ip, 9);
    ck_assert(!vsw_vxlan_mac_lookup(cfg, 5002, mac, &ip));

    /* Where unicast goes: the programmed VTEP, unless the MAC's frames
     * came from another one in the last 3 s (it moved); the learned map
     * alone where nothing is programmed. */
    struct vsw_vxlan_learned *map = calloc(1, sizeof *map);
    uint8_t other[6] = {2, 0, 0, 0, 0, 2};
    const char *how;

    ck_assert_ptr_nonnull(map);
    cfg->ageing_ms = 300000;
    ck_assert_uint_eq(vsw_vxlan_unicast_vtep(cfg, map, 5001, mac, 0, &how), 9);
    ck_assert_str_eq(how, "programmed");
    vsw_vxlan_learn(map, 5001, mac, 9, 1000);
    ck_assert_uint_eq(vsw_vxlan_unicast_vtep(cfg, map, 5001, mac, 1000, &how),
                      9);
    vsw_vxlan_learn(map, 5001, mac, 11, 2000);
    ck_assert_uint_eq(vsw_vxlan_unicast_vtep(cfg, map, 5001, mac, 4999, &how),
                      11);
    ck_assert_str_eq(how, "learned, moved from the programmed VTEP");
    ck_assert_uint_eq(vsw_vxlan_unicast_vtep(cfg, map, 5001, mac, 5000, &how),
                      9);
    ck_assert_uint_eq(vsw_vxlan_unicast_vtep(cfg, NULL, 5001, mac, 0, &how),
                      9);
    vsw_vxlan_learn(map, 5001, other, 11, 2000);
    ck_assert_uint_eq(
        vsw_vxlan_unicast_vtep(cfg, map, 5001, other, 200000, &how), 11);
    ck_assert_str_eq(how, "learned");
    ck_assert_uint_eq(
        vsw_vxlan_unicast_vtep(cfg, map, 5001, other, 302000, &how), 0);
    other[0] = 1; /* multicast: always flooded */
    ck_assert_uint_eq(vsw_vxlan_unicast_vtep(cfg, map, 5001, other, 0, &how),
                      0);
    free(map);
    vsw_vxlan_config_destroy(cfg);
}
END_TEST

START_TEST(test_learned_map)
{
    struct vsw_vxlan_learned *map = calloc(1, sizeof *map);
    struct vsw_vxlan_learned_info info[4];
    uint8_t mac[6] = {2, 0, 0, 0, 0, 7};

    ck_assert_ptr_nonnull(map);
    ck_assert_uint_eq(vsw_vxlan_learned_lookup(map, 5001, mac, 0, 1000), 0);
    vsw_vxlan_learn(map, 5001, mac, htonl(0x0a000002), 100);
    ck_assert_uint_eq(vsw_vxlan_learned_lookup(map, 5001, mac, 500, 1000),
                      htonl(0x0a000002));
    /* Per VNI, and aged out after the switch's ageing. */
    ck_assert_uint_eq(vsw_vxlan_learned_lookup(map, 5002, mac, 500, 1000), 0);
    ck_assert_uint_eq(vsw_vxlan_learned_lookup(map, 5001, mac, 1100, 1000), 0);
    /* A station that moved is found behind its new VTEP. */
    vsw_vxlan_learn(map, 5001, mac, htonl(0x0a000003), 1200);
    ck_assert_uint_eq(vsw_vxlan_learned_lookup(map, 5001, mac, 1300, 1000),
                      htonl(0x0a000003));
    ck_assert_uint_eq(vsw_vxlan_learned_dump(map, info, 4, 1300, 1000), 1);
    ck_assert_uint_eq(info[0].vni, 5001);
    ck_assert_mem_eq(info[0].mac, mac, 6);
    ck_assert_int_eq(info[0].age_ms, 100);
    free(map);
}
END_TEST

static Suite *
vxlan_suite(void)
{
    Suite *s = suite_create("vxlan");
    TCase *tc = tcase_create("basic");

    tcase_add_test(tc, test_header);
    tcase_add_test(tc, test_source_port);
    tcase_add_test(tc, test_programmed_maps);
    tcase_add_test(tc, test_learned_map);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *runner = srunner_create(vxlan_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
