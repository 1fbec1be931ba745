/* The settings engine (vswitchd/settings.c) and the real tables of the
 * switch and port kinds. */
#include "settings.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manager-private.h"

/* Applies the JSON text 'params' to a copy of 'cfg' ('creating' as for
 * add) and returns the engine's result; the message goes to 'err'. */
static int
apply(const struct vsw_settings_kind *kind, void *cfg, const char *params,
      bool creating, struct vsw_rpc_error *err)
{
    json_t *obj = json_loads(params, 0, NULL);
    int error;

    ck_assert_ptr_nonnull(obj);
    memset(err, 0, sizeof *err);
    error = vsw_settings_apply(kind, cfg, obj, creating, err);
    json_decref(obj);
    return error;
}

/* A port's settings from port.add params 'params', for port "p1". */
static int
port_from(const char *params, struct mgr_port_cfg *cfg,
          struct vsw_rpc_error *err)
{
    json_t *obj = json_loads(params, 0, NULL);
    int error;

    ck_assert_ptr_nonnull(obj);
    memset(err, 0, sizeof *err);
    error = mgr_port_cfg_from_params(obj, "p1", cfg, err);
    json_decref(obj);
    return error;
}

START_TEST(test_bit_rate_parse)
{
    static const struct {
        const char *text;
        int error;
        uint64_t bps;
    } cases[] = {
        {"10M", 0, 10000000},
        {"1.5G", 0, 1500000000},
        {"800k", 0, 800000},
        {"800K", 0, 800000},
        {"0", 0, 0},
        {"123", 0, 123},
        {"2T", 0, 2000000000000},
        {"1.2345k", -ERANGE, 0}, /* a fraction of a bit */
        {"", -EINVAL, 0},
        {"M", -EINVAL, 0},
        {"-1M", -EINVAL, 0},
        {" 1M", -EINVAL, 0},
        {"1MB", -EINVAL, 0},
        {"1m", -EINVAL, 0}, /* milli is not a rate */
        {"inf", -EINVAL, 0},
        {"nan", -EINVAL, 0},
        {"0x10", -EINVAL, 0},
        {"99999999T", -ERANGE, 0},
    };

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint64_t bps = 42;
        int error = vsw_bit_rate_parse(cases[i].text, &bps);

        ck_assert_msg(error == cases[i].error, "'%s': %d", cases[i].text,
                      error);
        if (!error) {
            ck_assert_uint_eq(bps, cases[i].bps);
        }
    }
}
END_TEST

START_TEST(test_bit_rate_format)
{
    static const struct {
        uint64_t bps;
        const char *text;
    } cases[] = {
        {0, "0"},
        {999, "999"},
        {1000, "1k"},
        {1500000, "1500k"},
        {10000000, "10M"},
        {1500000000, "1500M"},
        {2000000000000, "2T"},
    };
    char buf[24];

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint64_t back;

        vsw_bit_rate_format(cases[i].bps, buf, sizeof buf);
        ck_assert_str_eq(buf, cases[i].text);
        ck_assert_int_eq(vsw_bit_rate_parse(buf, &back), 0);
        ck_assert_uint_eq(back, cases[i].bps);
    }
}
END_TEST

START_TEST(test_edit_distance)
{
    ck_assert_uint_eq(vsw_edit_distance("vlan-mode", "vlan-mode"), 0);
    ck_assert_uint_eq(vsw_edit_distance("vlan-mod", "vlan-mode"), 1);
    ck_assert_uint_eq(vsw_edit_distance("valn-mode", "vlan-mode"), 1);
    ck_assert_uint_eq(vsw_edit_distance("trunk", "trunks"), 1);
    ck_assert_uint_eq(vsw_edit_distance("", "abc"), 3);
}
END_TEST

/* Every default in the real tables parses, and fills what init gives. */
START_TEST(test_defaults)
{
    const struct vsw_settings_kind *kinds[] = {&mgr_switch_kind,
                                               &mgr_port_kind};
    struct mgr_switch_cfg sw;
    struct mgr_port_cfg port;
    struct vsw_rpc_error err;

    for (size_t k = 0; k < 2; k++) {
        json_t *schema = vsw_settings_schema(kinds[k]);
        json_t *row;
        size_t i;

        json_array_foreach(json_object_get(schema, "settings"), i, row)
        {
            const struct vsw_setting *s = &kinds[k]->settings[i];

            ck_assert_str_eq(json_string_value(json_object_get(row, "key")),
                             s->key);
            ck_assert_msg(!s->default_value ||
                              !json_is_null(json_object_get(row, "default")),
                          "default of %s does not parse", s->key);
            ck_assert(s->help && s->help[0]);
        }
        json_decref(schema);
    }
    vsw_settings_init(&mgr_switch_kind, &sw);
    ck_assert_uint_eq(sw.mac_ageing, 300);
    ck_assert(!sw.ipv6_unknown_nh_allowed);
    ck_assert_int_eq(port_from("{\"type\": \"tap\"}", &port, &err), 0);
    ck_assert_str_eq(port.ifname, "p1");
    ck_assert_int_eq(port.vlan.mode, VSW_VLAN_MODE_UNTAGGED);
    ck_assert(!port.mac.set);
    ck_assert_int_eq(port_from("{\"type\": \"uplink\"}", &port, &err), 0);
    ck_assert_int_eq(port.vlan.mode, VSW_VLAN_MODE_TRUNK);
    ck_assert(port.offloads);
}
END_TEST

START_TEST(test_unknown_key_suggests)
{
    struct mgr_port_cfg cfg;
    struct vsw_rpc_error err;

    ck_assert_int_eq(port_from("{\"type\": \"tap\"}", &cfg, &err), 0);
    ck_assert_int_lt(
        apply(&mgr_port_kind, &cfg, "{\"vlan-mod\": \"access\"}", false, &err),
        0);
    ck_assert_str_eq(err.message, "unknown parameter 'vlan-mod'; did you "
                                  "mean 'vlan-mode'?");
    ck_assert_int_lt(
        apply(&mgr_port_kind, &cfg, "{\"colour\": \"blue\"}", false, &err), 0);
    ck_assert_str_eq(err.message, "unknown parameter 'colour'");
}
END_TEST

START_TEST(test_fixed_and_required)
{
    struct mgr_port_cfg cfg;
    struct vsw_rpc_error err;

    ck_assert_int_lt(port_from("{}", &cfg, &err), 0);
    ck_assert_str_eq(err.message, "missing parameter 'type'");
    ck_assert_int_eq(port_from("{\"type\": \"tap\"}", &cfg, &err), 0);
    ck_assert_int_lt(apply(&mgr_port_kind, &cfg,
                           "{\"mac\": \"02:00:00:00:00:01\"}", false, &err),
                     0);
    ck_assert_str_eq(err.message, "mac is fixed when the port is created");
    ck_assert_int_lt(
        apply(&mgr_port_kind, &cfg, "{\"type\": \"uplink\"}", false, &err), 0);
    ck_assert_str_eq(err.message, "type is fixed when the port is created");
    /* Keys of port.add that are not settings belong to creation too. */
    ck_assert_int_lt(
        apply(&mgr_port_kind, &cfg, "{\"switch\": \"sw1\"}", false, &err), 0);
    ck_assert_str_eq(err.message,
                     "switch applies when the port is created only");
    ck_assert_int_eq(apply(&mgr_port_kind, &cfg,
                           "{\"type\": \"tap\", \"may-exist\": true}", true,
                           &err),
                     0);
}
END_TEST

START_TEST(test_types_and_ranges)
{
    static const struct {
        const char *params;
        const char *message;
    } bad[] = {
        {"{\"mac-limit\": -1}",
         "parameter 'mac-limit' must be an integer between 0 and 4194304"},
        {"{\"mac-limit\": true}",
         "parameter 'mac-limit' must be an integer between 0 and 4194304"},
        {"{\"dhcp-guard\": \"maybe\"}",
         "parameter 'dhcp-guard' must be true or false"},
        {"{\"dhcp-guard\": 1}",
         "parameter 'dhcp-guard' must be true or false"},
        {"{\"vlan-mode\": \"hybrid\"}",
         "vlan-mode must be untagged, access, trunk, pvlan-isolated, "
         "pvlan-community or pvlan-promiscuous, not 'hybrid'"},
        {"{\"allowed-ips\": \"10.0.0.1,,10.0.0.2\"}",
         "allowed-ips: empty item in '10.0.0.1,,10.0.0.2'"},
        {"{\"allowed-ips\": \"10.0.0.300\"}",
         "allowed-ips: '10.0.0.300' is not an IPv4 or IPv6 address"},
    };
    struct mgr_port_cfg cfg;
    struct vsw_rpc_error err;

    ck_assert_int_eq(port_from("{\"type\": \"tap\"}", &cfg, &err), 0);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct mgr_port_cfg copy = cfg;

        ck_assert_int_lt(
            apply(&mgr_port_kind, &copy, bad[i].params, false, &err), 0);
        ck_assert_str_eq(err.message, bad[i].message);
    }
}
END_TEST

/* JSON types are strict: tools get their mistakes back, not guesses. */
START_TEST(test_json_types_are_strict)
{
    static const char *const bad[] = {
        "{\"mac-limit\": \"12\"}", "{\"mac-limit\": null}",
        "{\"mac-limit\": 1.5}",    "{\"dhcp-guard\": \"on\"}",
        "{\"dhcp-guard\": null}",  "{\"trunks\": 10}",
        "{\"vlan-mode\": 2}",
    };
    struct mgr_port_cfg cfg;
    struct vsw_rpc_error err;
    json_t *obj;

    ck_assert_int_eq(port_from("{\"type\": \"tap\"}", &cfg, &err), 0);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct mgr_port_cfg copy = cfg;

        ck_assert_int_lt(apply(&mgr_port_kind, &copy, bad[i], false, &err), 0);
        ck_assert_int_eq(err.code, VSW_RPC_INVALID_PARAMS);
    }
    ck_assert_int_eq(apply(&mgr_port_kind, &cfg,
                           "{\"mac-limit\": 12, \"dhcp-guard\": true, "
                           "\"vlan-mode\": \"access\", \"vlan\": 10}",
                           false, &err),
                     0);
    obj = json_object();
    vsw_settings_to_json(&mgr_port_kind, &cfg, obj);
    ck_assert_int_eq(json_integer_value(json_object_get(obj, "vlan")), 10);
    ck_assert(json_is_true(json_object_get(obj, "dhcp-guard")));
    ck_assert(json_is_null(json_object_get(obj, "mac")));
    /* Keys of other modes are not shown. */
    ck_assert_ptr_null(json_object_get(obj, "trunks"));
    ck_assert_ptr_null(json_object_get(obj, "socket"));
    json_decref(obj);
}
END_TEST

START_TEST(test_mode_rules)
{
    struct mgr_port_cfg cfg;
    struct vsw_rpc_error err;

    ck_assert_int_eq(port_from("{\"type\": \"tap\"}", &cfg, &err), 0);
    ck_assert_int_lt(
        apply(&mgr_port_kind, &cfg, "{\"trunks\": \"10\"}", false, &err), 0);
    ck_assert_str_eq(err.message, "trunks applies to vlan-mode=trunk; this "
                                  "port is vlan-mode=untagged");
    ck_assert_int_lt(
        apply(&mgr_port_kind, &cfg, "{\"pvlan-primary\": 5}", false, &err), 0);
    ck_assert_str_eq(err.message,
                     "pvlan-primary applies to vlan-mode=pvlan-isolated, "
                     "pvlan-community or pvlan-promiscuous; this port is "
                     "vlan-mode=untagged");
    ck_assert_int_lt(
        port_from("{\"type\": \"vxlan\", \"offloads\": false}", &cfg, &err),
        0);
    ck_assert_str_eq(err.message,
                     "offloads applies to type=tap, uplink or team; this port "
                     "is type=vxlan");

    /* A mode and its settings in one request; leaving the mode drops
     * them, so nothing lingers (a forgotten list would mean "all"). */
    ck_assert_int_eq(port_from("{\"type\": \"tap\"}", &cfg, &err), 0);
    ck_assert_int_eq(apply(&mgr_port_kind, &cfg,
                           "{\"vlan-mode\": \"trunk\", \"trunks\": "
                           "\"10,20-30\", \"native-vlan\": 7}",
                           false, &err),
                     0);
    ck_assert(vsw_vlan_set_contains(&cfg.vlan.trunks, 25));
    ck_assert_int_eq(apply(&mgr_port_kind, &cfg,
                           "{\"vlan-mode\": \"access\", \"vlan\": 3}", false,
                           &err),
                     0);
    ck_assert_int_eq(
        apply(&mgr_port_kind, &cfg, "{\"vlan-mode\": \"trunk\"}", false, &err),
        0);
    ck_assert(vsw_vlan_set_is_empty(&cfg.vlan.trunks));
    ck_assert_uint_eq(cfg.vlan.native_vid, 0);
    ck_assert_uint_eq(cfg.vlan.vid, 0);
}
END_TEST

/* The port kind's own checks run after the table's. */
START_TEST(test_port_checks)
{
    struct mgr_port_cfg cfg;
    struct vsw_rpc_error err;

    ck_assert_int_lt(
        port_from("{\"type\": \"tap\", \"vlan-mode\": \"access\"}", &cfg,
                  &err),
        0);
    ck_assert_str_eq(err.message, "vlan-mode=access needs vlan=1..4094");
    ck_assert_int_lt(port_from("{\"type\": \"tap\", \"vlan-mode\": "
                               "\"pvlan-isolated\", \"pvlan-primary\": 10, "
                               "\"pvlan-secondary\": \"11-12\"}",
                               &cfg, &err),
                     0);
    ck_assert_str_eq(err.message, "vlan-mode=pvlan-isolated needs exactly one "
                                  "pvlan-secondary");
    ck_assert_int_eq(port_from("{\"type\": \"tap\", \"vlan-mode\": "
                               "\"pvlan-isolated\", \"pvlan-primary\": 10, "
                               "\"pvlan-secondary\": \"11\"}",
                               &cfg, &err),
                     0);
    ck_assert_uint_eq(cfg.vlan.pvlan_secondary, 11);
    ck_assert_int_lt(
        port_from("{\"type\": \"tap\", \"name\": \"x\", \"ifname\": \"a/b\"}",
                  &cfg, &err),
        0);
    ck_assert_str_eq(err.message, "ifname 'a/b' is not a valid interface "
                                  "name (1-15 characters, no '/' or spaces)");
}
END_TEST

/* Output parses back to the same settings, for every kind. */
START_TEST(test_round_trip)
{
    struct mgr_port_cfg cfg, back;
    struct vsw_rpc_error err;
    json_t *obj = json_object();

    ck_assert_int_eq(port_from("{\"type\": \"tap\", \"mac\": "
                               "\"02:aa:00:00:00:01\", \"vlan-mode\": "
                               "\"trunk\", \"trunks\": \"1-5,9\", "
                               "\"storm-limit\": 900, \"allowed-ips\": "
                               "\"10.1.2.3,2001:db8::7\", \"mac-spoofing\": "
                               "true}",
                               &cfg, &err),
                     0);
    vsw_settings_to_json(&mgr_port_kind, &cfg, obj);
    ck_assert_str_eq(json_string_value(json_object_get(obj, "allowed-ips")),
                     "10.1.2.3,2001:db8::7");
    ck_assert_int_eq(mgr_port_cfg_from_params(obj, "p1", &back, &err), 0);
    ck_assert_mem_eq(&cfg, &back, sizeof cfg);
    json_decref(obj);
}
END_TEST

static Suite *
settings_suite(void)
{
    Suite *s = suite_create("settings");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_bit_rate_parse);
    tcase_add_test(tc, test_bit_rate_format);
    tcase_add_test(tc, test_edit_distance);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_unknown_key_suggests);
    tcase_add_test(tc, test_fixed_and_required);
    tcase_add_test(tc, test_types_and_ranges);
    tcase_add_test(tc, test_json_types_are_strict);
    tcase_add_test(tc, test_mode_rules);
    tcase_add_test(tc, test_port_checks);
    tcase_add_test(tc, test_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(settings_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
