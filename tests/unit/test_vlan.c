/*
 * Unit tests of the VLAN rules (datapath/policy/vlan.c): classification of
 * arriving frames per port mode, membership, egress tagging, and the VLAN
 * list syntax.  Frames are built byte by byte and parsed by the real
 * parser, so these tests also pin down what the parser hands the VLAN
 * stage.
 */
#include "vlan.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"

/* Builds an Ethernet frame with the 'n' tags (TPID, TCI pairs) of 'tags'
 * followed by an IPv4 ethertype and 46 bytes of payload; parses it into
 * 'key'. */
static void
frame_key(const uint16_t tags[][2], int n, struct vsw_flow_key *key)
{
    uint8_t frame[128] = {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1};
    size_t len = 12;

    for (int i = 0; i < n; i++) {
        frame[len++] = tags[i][0] >> 8;
        frame[len++] = tags[i][0] & 0xff;
        frame[len++] = tags[i][1] >> 8;
        frame[len++] = tags[i][1] & 0xff;
    }
    frame[len++] = 0x08;
    frame[len++] = 0x00;
    len += 46;
    ck_assert_int_eq(vsw_flow_extract(frame, len, key), 0);
}

/* True if an ordinary frame of 'vid' leaves a port 'cfg' tagged. */
static bool
tagged_out(const struct vsw_vlan_config *cfg, uint16_t vid)
{
    struct vsw_vlan_ingress frame = {.vlan = vid, .tag_vid = vid};

    return vsw_vlan_egress_tagged(cfg, &frame);
}

static struct vsw_vlan_config
make_config(enum vsw_vlan_mode mode, uint16_t vid, uint16_t native,
            const char *trunks)
{
    struct vsw_vlan_config cfg;
    char err[128];

    vsw_vlan_config_init(&cfg);
    cfg.mode = mode;
    cfg.vid = vid;
    cfg.native_vid = native;
    if (trunks) {
        ck_assert_int_eq(
            vsw_vlan_set_parse(trunks, &cfg.trunks, err, sizeof err), 0);
    }
    return cfg;
}

START_TEST(test_untagged_port)
{
    struct vsw_vlan_config cfg =
        make_config(VSW_VLAN_MODE_UNTAGGED, 0, 0, NULL);
    static const uint16_t vid20[][2] = {{0x8100, 20}};
    static const uint16_t prio[][2] = {{0x8100, 5 << 13}};
    struct vsw_vlan_ingress in;
    struct vsw_flow_key key;

    frame_key(NULL, 0, &key);
    ck_assert_int_eq(vsw_vlan_classify(&cfg, NULL, &key, &in), -1);
    ck_assert_uint_eq(in.vlan, 0);
    ck_assert_uint_eq(in.tag_len, 0);

    frame_key(vid20, 1, &key);
    ck_assert_int_eq(vsw_vlan_classify(&cfg, NULL, &key, &in),
                     VSW_DROP_VLAN_TAGGED);

    /* A priority tag is accepted; its priority travels with the frame
     * and the tag itself is left out on egress. */
    frame_key(prio, 1, &key);
    ck_assert_int_eq(vsw_vlan_classify(&cfg, NULL, &key, &in), -1);
    ck_assert_uint_eq(in.vlan, 0);
    ck_assert_uint_eq(in.pcp, 5);
    ck_assert_uint_eq(in.tag_len, 4);

    ck_assert(vsw_vlan_is_member(&cfg, 0));
    ck_assert(!vsw_vlan_is_member(&cfg, 1));
    ck_assert(!tagged_out(&cfg, 0));
}
END_TEST

START_TEST(test_access_port_refuses_every_tag)
{
    struct vsw_vlan_config cfg =
        make_config(VSW_VLAN_MODE_ACCESS, 10, 0, NULL);
    static const uint16_t own[][2] = {{0x8100, 10}};
    static const uint16_t other[][2] = {{0x8100, 20}};
    static const uint16_t qinq[][2] = {{0x88a8, 10}, {0x8100, 20}};
    static const uint16_t stag[][2] = {{0x88a8, 20}};
    static const uint16_t q9100[][2] = {{0x9100, 20}};
    static const uint16_t prio_then_tag[][2] = {{0x8100, 0}, {0x8100, 20}};
    struct vsw_vlan_ingress in;
    struct vsw_flow_key key;

    frame_key(NULL, 0, &key);
    ck_assert_int_eq(vsw_vlan_classify(&cfg, NULL, &key, &in), -1);
    ck_assert_uint_eq(in.vlan, 10);

    /* Even the port's own VLAN id: an access port's VM sends untagged. */
    frame_key(own, 1, &key);
    ck_assert_int_eq(vsw_vlan_classify(&cfg, NULL, &key, &in),
                     VSW_DROP_VLAN_TAGGED);
    frame_key(other, 1, &key);
    ck_assert_int_eq(vsw_vlan_classify(&cfg, NULL, &key, &in),
                     VSW_DROP_VLAN_TAGGED);
    frame_key(qinq, 2, &key);
    ck_assert_int_eq(vsw_vlan_classify(&cfg, NULL, &key, &in),
                     VSW_DROP_VLAN_TAGGED);
    frame_key(stag, 1, &key);
    ck_assert_int_eq(vsw_vlan_classify(&cfg, NULL, &key, &in),
                     VSW_DROP_VLAN_TAGGED);
    frame_key(q9100, 1, &key);
    ck_assert_int_eq(vsw_vlan_classify(&cfg, NULL, &key, &in),
                     VSW_DROP_VLAN_TAGGED);
    /* Double tagging hidden behind a priority tag. */
    frame_key(prio_then_tag, 2, &key);
    ck_assert_int_eq(vsw_vlan_classify(&cfg, NULL, &key, &in),
                     VSW_DROP_VLAN_TAGGED);

    ck_assert(vsw_vlan_is_member(&cfg, 10));
    ck_assert(!vsw_vlan_is_member(&cfg, 0));
    ck_assert(!vsw_vlan_is_member(&cfg, 20));
    ck_assert(!tagged_out(&cfg, 10));
}
END_TEST

START_TEST(test_trunk_port)
{
    struct vsw_vlan_config cfg =
        make_config(VSW_VLAN_MODE_TRUNK, 0, 1, "10,20-30");
    static const uint16_t v10[][2] = {{0x8100, 3 << 13 | 10}};
    static const uint16_t v25[][2] = {{0x8100, 25}};
    static const uint16_t v31[][2] = {{0x8100, 31}};
    static const uint16_t v1[][2] = {{0x8100, 1}};
    static const uint16_t prio[][2] = {{0x8100, 0}};
    static const uint16_t stag[][2] = {{0x88a8, 10}};
    struct vsw_vlan_ingress in;
    struct vsw_flow_key key;

    frame_key(v10, 1, &key);
    ck_assert_int_eq(vsw_vlan_classify(&cfg, NULL, &key, &in), -1);
    ck_assert_uint_eq(in.vlan, 10);
    ck_assert_uint_eq(in.pcp, 3);
    ck_assert_uint_eq(in.tag_len, 4);

    frame_key(v25, 1, &key);
    ck_assert_int_eq(vsw_vlan_classify(&cfg, NULL, &key, &in), -1);
    ck_assert_uint_eq(in.vlan, 25);

    frame_key(v31, 1, &key);
    ck_assert_int_eq(vsw_vlan_classify(&cfg, NULL, &key, &in),
                     VSW_DROP_VLAN_NOT_ALLOWED);

    /* Untagged, priority-tagged and tagged-with-native frames all belong
     * to the native VLAN. */
    frame_key(NULL, 0, &key);
    ck_assert_int_eq(vsw_vlan_classify(&cfg, NULL, &key, &in), -1);
    ck_assert_uint_eq(in.vlan, 1);
    ck_assert_uint_eq(in.tag_len, 0);
    frame_key(prio, 1, &key);
    ck_assert_int_eq(vsw_vlan_classify(&cfg, NULL, &key, &in), -1);
    ck_assert_uint_eq(in.vlan, 1);
    frame_key(v1, 1, &key);
    ck_assert_int_eq(vsw_vlan_classify(&cfg, NULL, &key, &in), -1);
    ck_assert_uint_eq(in.vlan, 1);

    /* An S-tag is not a VLAN tag here: the frame travels whole in the
     * native VLAN. */
    frame_key(stag, 1, &key);
    ck_assert_int_eq(vsw_vlan_classify(&cfg, NULL, &key, &in), -1);
    ck_assert_uint_eq(in.vlan, 1);
    ck_assert_uint_eq(in.tag_len, 0);

    ck_assert(vsw_vlan_is_member(&cfg, 1));
    ck_assert(vsw_vlan_is_member(&cfg, 10));
    ck_assert(vsw_vlan_is_member(&cfg, 30));
    ck_assert(!vsw_vlan_is_member(&cfg, 31));
    ck_assert(!vsw_vlan_is_member(&cfg, 0));
    ck_assert(tagged_out(&cfg, 10));
    ck_assert(!tagged_out(&cfg, 1));
}
END_TEST

START_TEST(test_trunk_without_list_allows_all)
{
    struct vsw_vlan_config cfg = make_config(VSW_VLAN_MODE_TRUNK, 0, 0, NULL);
    static const uint16_t v4094[][2] = {{0x8100, 4094}};
    static const uint16_t v4095[][2] = {{0x8100, 4095}};
    struct vsw_vlan_ingress in;
    struct vsw_flow_key key;

    frame_key(v4094, 1, &key);
    ck_assert_int_eq(vsw_vlan_classify(&cfg, NULL, &key, &in), -1);
    ck_assert_uint_eq(in.vlan, 4094);
    frame_key(v4095, 1, &key);
    ck_assert_int_eq(vsw_vlan_classify(&cfg, NULL, &key, &in),
                     VSW_DROP_VLAN_NOT_ALLOWED);
    /* Native VLAN 0: untagged frames meet the untagged ports. */
    frame_key(NULL, 0, &key);
    ck_assert_int_eq(vsw_vlan_classify(&cfg, NULL, &key, &in), -1);
    ck_assert_uint_eq(in.vlan, 0);
    ck_assert(vsw_vlan_is_member(&cfg, 0));
    ck_assert(!tagged_out(&cfg, 0));
    ck_assert(tagged_out(&cfg, 7));
}
END_TEST

START_TEST(test_truncated_tag_is_runt)
{
    struct vsw_vlan_config cfg =
        make_config(VSW_VLAN_MODE_ACCESS, 10, 0, NULL);
    uint8_t frame[16] = {0x02, 0, 0, 0, 0,    2,    0x02, 0,
                         0,    0, 0, 1, 0x81, 0x00, 0x00, 0x14};
    struct vsw_vlan_ingress in;
    struct vsw_flow_key key;

    ck_assert_int_eq(vsw_flow_extract(frame, sizeof frame, &key), 0);
    ck_assert_int_eq(vsw_vlan_classify(&cfg, NULL, &key, &in), VSW_DROP_RUNT);
}
END_TEST

/* A port of private VLAN primary 100: isolated and community ports have
 * one secondary, the promiscuous port serves 'secondaries'. */
static struct vsw_vlan_config
pvlan_port(enum vsw_vlan_mode mode, uint16_t secondary,
           const char *secondaries)
{
    struct vsw_vlan_config cfg = make_config(mode, 0, 0, NULL);
    char err[128];

    cfg.pvlan_primary = 100;
    cfg.pvlan_secondary = secondary;
    if (secondaries) {
        ck_assert_int_eq(vsw_vlan_set_parse(secondaries,
                                            &cfg.pvlan_secondaries, err,
                                            sizeof err),
                         0);
    }
    return cfg;
}

START_TEST(test_pvlan_matrix)
{
    /* promiscuous P, community A (101), community B (102), isolated
     * (103), and a second isolated port on the same secondary. */
    struct vsw_vlan_config ports[5] = {
        pvlan_port(VSW_VLAN_MODE_PVLAN_PROMISCUOUS, 0, "101-103"),
        pvlan_port(VSW_VLAN_MODE_PVLAN_COMMUNITY, 101, NULL),
        pvlan_port(VSW_VLAN_MODE_PVLAN_COMMUNITY, 102, NULL),
        pvlan_port(VSW_VLAN_MODE_PVLAN_ISOLATED, 103, NULL),
        pvlan_port(VSW_VLAN_MODE_PVLAN_ISOLATED, 103, NULL),
    };
    /* FEATURES.md §3, rows: from; columns: to. */
    static const bool reaches[5][5] = {
        {true, true, true, true, true},     {true, true, false, false, false},
        {true, false, true, false, false},  {true, false, false, false, false},
        {true, false, false, false, false},
    };
    struct vsw_flow_key key;

    frame_key(NULL, 0, &key);
    for (int from = 0; from < 5; from++) {
        struct vsw_vlan_ingress in;

        ck_assert_int_eq(vsw_vlan_classify(&ports[from], NULL, &key, &in), -1);
        ck_assert_uint_eq(in.vlan, 100);
        for (int to = 0; to < 5; to++) {
            if (to == from) {
                continue;
            }
            ck_assert_msg(vsw_vlan_admits(&ports[to], &in) ==
                              reaches[from][to],
                          "from %d to %d", from, to);
        }
    }
}
END_TEST

START_TEST(test_pvlan_on_trunks)
{
    struct vsw_vlan_config trunk =
        make_config(VSW_VLAN_MODE_TRUNK, 0, 0, "100-103");
    struct vsw_vlan_config isolated =
        pvlan_port(VSW_VLAN_MODE_PVLAN_ISOLATED, 103, NULL);
    struct vsw_vlan_config promiscuous =
        pvlan_port(VSW_VLAN_MODE_PVLAN_PROMISCUOUS, 0, "101-103");
    struct vsw_pvlan_map *map = calloc(1, sizeof *map);
    static const uint16_t v103[][2] = {{0x8100, 103}};
    static const uint16_t v100[][2] = {{0x8100, 100}};
    struct vsw_vlan_ingress in;
    struct vsw_flow_key key;

    map->primary_of[100] = 100;
    map->role_of[100] = VSW_PVLAN_PROMISCUOUS;
    map->primary_of[103] = 100;
    map->role_of[103] = VSW_PVLAN_ISOLATED;

    /* Isolated frames leave a trunk tagged with the secondary,
     * promiscuous ones with the primary. */
    frame_key(NULL, 0, &key);
    ck_assert_int_eq(vsw_vlan_classify(&isolated, map, &key, &in), -1);
    ck_assert(vsw_vlan_admits(&trunk, &in));
    ck_assert(vsw_vlan_egress_tagged(&trunk, &in));
    ck_assert_uint_eq(in.tag_vid, 103);
    ck_assert_int_eq(vsw_vlan_classify(&promiscuous, map, &key, &in), -1);
    ck_assert_uint_eq(in.tag_vid, 100);

    /* From a trunk, a frame tagged with an isolated secondary reaches
     * only promiscuous ports; tagged with the primary, everybody. */
    frame_key(v103, 1, &key);
    ck_assert_int_eq(vsw_vlan_classify(&trunk, map, &key, &in), -1);
    ck_assert_uint_eq(in.vlan, 100);
    ck_assert_uint_eq(in.pvlan_role, VSW_PVLAN_ISOLATED);
    ck_assert(!vsw_vlan_admits(&isolated, &in));
    ck_assert(vsw_vlan_admits(&promiscuous, &in));
    frame_key(v100, 1, &key);
    ck_assert_int_eq(vsw_vlan_classify(&trunk, map, &key, &in), -1);
    ck_assert(vsw_vlan_admits(&isolated, &in));

    /* A different primary never meets this one. */
    isolated.pvlan_primary = 200;
    ck_assert(!vsw_vlan_admits(&isolated, &in));
    free(map);
}
END_TEST

START_TEST(test_list_parse_and_format)
{
    static const struct {
        const char *in;  /* list as typed */
        const char *out; /* canonical form, NULL if invalid */
    } cases[] = {
        {"10", "10"},         {"10,20-30", "10,20-30"},
        {"30-20", NULL},      {"20-30,10,11,12", "10-12,20-30"},
        {"1-4094", "1-4094"}, {"0", NULL},
        {"4095", NULL},       {"1,,2", NULL},
        {"1,", NULL},         {",1", NULL},
        {"a", NULL},          {"1-", NULL},
        {"5 ", NULL},         {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct vsw_vlan_set set;
        char err[256] = "";
        char buf[64];
        int r = vsw_vlan_set_parse(cases[i].in, &set, err, sizeof err);

        if (!cases[i].out) {
            ck_assert_msg(r == -EINVAL, "'%s' accepted", cases[i].in);
            ck_assert_msg(err[0], "no message for '%s'", cases[i].in);
            continue;
        }
        ck_assert_msg(r == 0, "'%s' refused: %s", cases[i].in, err);
        ck_assert_int_eq(vsw_vlan_set_format(&set, buf, sizeof buf), 0);
        ck_assert_str_eq(buf, cases[i].out);
    }
}
END_TEST

START_TEST(test_format_reports_overflow)
{
    struct vsw_vlan_set set;
    char small[8];

    memset(&set, 0, sizeof set);
    for (uint16_t v = 2; v < 40; v += 2) {
        vsw_vlan_set_add(&set, v);
    }
    ck_assert_int_eq(vsw_vlan_set_format(&set, small, sizeof small), -ENOSPC);
    ck_assert_uint_lt(strlen(small), sizeof small);
}
END_TEST

START_TEST(test_mode_names)
{
    enum vsw_vlan_mode mode;

    ck_assert_int_eq(vsw_vlan_mode_from_name("trunk", &mode), 0);
    ck_assert_int_eq(mode, VSW_VLAN_MODE_TRUNK);
    ck_assert_str_eq(vsw_vlan_mode_name(VSW_VLAN_MODE_ACCESS), "access");
    ck_assert_int_eq(vsw_vlan_mode_from_name("Trunk", &mode), -EINVAL);
}
END_TEST

int
main(void)
{
    Suite *suite = suite_create("vlan");
    TCase *tc = tcase_create("rules");
    SRunner *runner;
    int failed;

    tcase_add_test(tc, test_untagged_port);
    tcase_add_test(tc, test_access_port_refuses_every_tag);
    tcase_add_test(tc, test_trunk_port);
    tcase_add_test(tc, test_trunk_without_list_allows_all);
    tcase_add_test(tc, test_truncated_tag_is_runt);
    tcase_add_test(tc, test_pvlan_matrix);
    tcase_add_test(tc, test_pvlan_on_trunks);
    tcase_add_test(tc, test_list_parse_and_format);
    tcase_add_test(tc, test_format_reports_overflow);
    tcase_add_test(tc, test_mode_names);
    suite_add_tcase(suite, tc);
    runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
