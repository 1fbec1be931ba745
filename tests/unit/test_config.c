/* The pure configuration loader (vswitchd/config.c): migration, checks,
 * and a mutation run that feeds it thousands of damaged documents. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A format-1 document as vswitchd 0.1 wrote it. */
static const char format1[] =
    "{\"format\": 1, \"extensions\": [],"
    " \"switches\": [{\"name\": \"sw0\", \"mac-ageing\": 60,"
    "  \"mac-table-size\": 1000, \"ipv6-unknown-next-header\": \"allow\","
    "  \"extensions\": [],"
    "  \"ports\": ["
    "   {\"name\": \"vm1\", \"type\": \"tap\", \"ifname\": \"vm1\","
    "    \"vlan-mode\": \"access\", \"vlan\": 10, \"mac-limit\": 5,"
    "    \"mac\": \"02:00:00:00:00:01\", \"mac-spoofing\": false,"
    "    \"dhcp-guard\": true, \"router-guard\": true,"
    "    \"ieee-priority-tag\": false, \"storm-limit\": 100,"
    "    \"allowed-ips\": \"10.0.0.1,2001:db8::1\","
    "    \"tap-location\": {\"netns-pinned\": false, \"ifname\": \"vm1\","
    "                     \"ifindex\": 7},"
    "    \"acls\": [{\"id\": 1, \"action\": \"deny\", \"direction\": \"in\","
    "               \"remote-ip\": \"10.9.0.0/16\"},"
    "              {\"id\": 2, \"action\": \"bogus\", \"direction\": \"in\","
    "               \"remote-ip\": \"10.9.0.0/16\"}],"
    "    \"xacls\": [{\"action\": \"allow\", \"direction\": \"out\","
    "                \"weight\": 10, \"protocol\": \"tcp\","
    "                \"remote-port\": \"80\", \"stateful\": true,"
    "                \"idle-timeout\": 60}]},"
    "   {\"name\": \"up1\", \"type\": \"uplink\", \"ifname\": \"eth9\","
    "    \"vlan-mode\": \"trunk\", \"trunks\": \"10,20-30\","
    "    \"native-vlan\": 5, \"offloads\": false},"
    "   {\"name\": \"bad\", \"type\": \"tap\", \"vlan-mode\": \"access\"},"
    "   {\"name\": \"vm1\", \"type\": \"tap\"}"
    "  ]}]}";

START_TEST(test_format1_migrates)
{
    struct mgr_desired *d;
    char err[256] = "";
    const struct mgr_desired_switch *sw;
    const struct mgr_port_cfg *vm1, *up1;
    json_t *doc_sw;

    ck_assert_int_eq(mgr_config_parse_text(format1, strlen(format1), "t", &d,
                                           err, sizeof err),
                     0);
    ck_assert_int_eq(d->format, 1);
    ck_assert_uint_eq(d->n_switches, 1);
    sw = &d->switches[0];
    ck_assert_str_eq(sw->name, "sw0");
    ck_assert_uint_eq(sw->cfg.mac_ageing, 60);
    ck_assert_uint_eq(sw->cfg.mac_table_size, 1000);
    ck_assert(sw->cfg.ipv6_unknown_nh_allowed);

    /* "bad" (access without a VLAN) and the second "vm1" are left out,
     * and so is the ACL rule with an unknown action. */
    ck_assert_uint_eq(sw->n_ports, 2);
    ck_assert_uint_eq(d->n_rejected, 3);
    vm1 = &sw->ports[0].cfg;
    ck_assert_str_eq(sw->ports[0].name, "vm1");
    ck_assert_int_eq(vm1->vlan.mode, VSW_VLAN_MODE_ACCESS);
    ck_assert_uint_eq(vm1->vlan.vid, 10);
    ck_assert_uint_eq(vm1->mac_limit, 5);
    ck_assert(vm1->mac.set && vm1->mac.addr[5] == 1);
    ck_assert(vm1->guard.dhcp_guard && vm1->guard.router_guard);
    ck_assert_uint_eq(vm1->guard.storm_limit, 100);
    ck_assert_uint_eq(vm1->guard.allowed_ips.n, 2);
    ck_assert_uint_eq(json_array_size(sw->ports[0].acls), 1);
    ck_assert_uint_eq(json_array_size(sw->ports[0].xacls), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(
                         sw->ports[0].tap_location, "ifindex")),
                     7);
    up1 = &sw->ports[1].cfg;
    ck_assert_int_eq(up1->type, MGR_PORT_UPLINK);
    ck_assert_str_eq(up1->ifname, "eth9");
    ck_assert(!up1->offloads);
    ck_assert(vsw_vlan_set_contains(&up1->vlan.trunks, 25));
    ck_assert(!vsw_vlan_set_contains(&up1->vlan.trunks, 11));
    ck_assert_uint_eq(up1->vlan.native_vid, 5);

    /* The migrated document has the current shape. */
    ck_assert_int_eq(
        json_integer_value(json_object_get(d->document, "format")),
        MGR_CONFIG_FORMAT);
    doc_sw = json_array_get(json_object_get(d->document, "switches"), 0);
    ck_assert_ptr_null(json_object_get(doc_sw, "mac-ageing"));
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_object_get(doc_sw, "settings"), "mac-ageing")),
                     60);
    mgr_desired_destroy(d);
}
END_TEST

START_TEST(test_refused_documents)
{
    static const struct {
        const char *text;
        const char *message;
    } cases[] = {
        {"{\"format\": 3, \"switches\": []}",
         "t: configuration format 3, but this vswitchd reads formats 1 to "
         "2"},
        {"{\"format\": 0, \"switches\": []}", "configuration format 0"},
        {"{\"switches\": []}", "not a vswitch configuration"},
        {"{\"format\": 2, \"switches\": {}}", "not a vswitch configuration"},
        {"[1, 2]", "not a vswitch configuration"},
        {"{\"format\": 2, \"switches\": [}", "t: line 1 column"},
        {"{\"format\": 2, \"format\": 2, \"switches\": []}", "duplicate"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct mgr_desired *d = (void *)1;
        char err[256] = "";

        ck_assert_int_eq(mgr_config_parse_text(cases[i].text,
                                               strlen(cases[i].text), "t", &d,
                                               err, sizeof err),
                         -EINVAL);
        ck_assert_ptr_null(d);
        ck_assert_msg(strstr(err, cases[i].message), "'%s': %s", cases[i].text,
                      err);
    }
}
END_TEST

/* A format-2 document round-trips: what the loader accepts comes back
 * the same from the settings tables. */
START_TEST(test_format2_unknown_setting_drops_entry)
{
    static const char text[] =
        "{\"format\": 2, \"switches\": [{\"name\": \"s\", \"settings\": "
        "{\"mac-agein\": 5}, \"ports\": []}, {\"name\": \"t\", \"settings\": "
        "{}, \"ports\": [{\"name\": \"p\", \"settings\": {\"type\": "
        "\"tap\", \"vlan-mode\": \"trunk\", \"vlan\": 3}}, {\"name\": "
        "\"q\", \"settings\": {\"type\": \"tap\"}}]}]}";
    struct mgr_desired *d;
    char err[256];

    ck_assert_int_eq(
        mgr_config_parse_text(text, strlen(text), "t", &d, err, sizeof err),
        0);
    ck_assert_uint_eq(d->n_switches, 1);
    ck_assert_str_eq(d->switches[0].name, "t");
    ck_assert_uint_eq(d->switches[0].n_ports, 1);
    ck_assert_str_eq(d->switches[0].ports[0].name, "q");
    ck_assert_uint_eq(d->n_rejected, 2);
    mgr_desired_destroy(d);
}
END_TEST

/* A basic rule's saved id is 1 to UINT32_MAX and names one rule: the
 * loader leaves out the others, and keeps ids near the top. */
START_TEST(test_acl_ids_checked)
{
    static const char text[] =
        "{\"format\": 2, \"switches\": [{\"name\": \"s\", \"settings\": "
        "{}, \"ports\": [{\"name\": \"p\", \"settings\": {\"type\": "
        "\"tap\"}, \"acls\": ["
        "{\"id\": 4294967295, \"action\": \"deny\", \"direction\": "
        "\"in\", \"remote-ip\": \"10.0.0.0/8\"},"
        "{\"id\": 4294967295, \"action\": \"deny\", \"direction\": "
        "\"in\", \"remote-ip\": \"10.1.0.0/16\"},"
        "{\"id\": 4294967296, \"action\": \"deny\", \"direction\": "
        "\"in\", \"remote-ip\": \"10.2.0.0/16\"},"
        "{\"id\": -1, \"action\": \"deny\", \"direction\": "
        "\"in\", \"remote-ip\": \"10.3.0.0/16\"},"
        "{\"id\": null, \"action\": \"deny\", \"direction\": "
        "\"in\", \"remote-ip\": \"10.4.0.0/16\"},"
        "{\"id\": 4294967292, \"action\": \"deny\", \"direction\": "
        "\"in\", \"remote-ip\": \"10.5.0.0/16\"},"
        "{\"action\": \"deny\", \"direction\": "
        "\"in\", \"remote-ip\": \"10.6.0.0/16\"}]}]}]}";
    struct mgr_desired *d;
    const json_t *acls;
    char err[256];

    ck_assert_int_eq(
        mgr_config_parse_text(text, strlen(text), "t", &d, err, sizeof err),
        0);
    ck_assert_uint_eq(d->switches[0].n_ports, 1);
    acls = d->switches[0].ports[0].acls;
    ck_assert_uint_eq(json_array_size(acls), 3);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_array_get(acls, 0), "id")),
        4294967295LL);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_array_get(acls, 1), "id")),
        4294967292LL);
    ck_assert_ptr_null(json_object_get(json_array_get(acls, 2), "id"));
    ck_assert_uint_eq(d->n_rejected, 4);
    mgr_desired_destroy(d);
}
END_TEST

/* Damaged documents never crash or leak the loader (ASan runs this too),
 * and whatever it accepts is within the tables' ranges. */
START_TEST(test_mutations)
{
    size_t len = strlen(format1);
    char *text = malloc(len + 1);
    unsigned seed = 12345;
    unsigned accepted = 0;

    ck_assert_ptr_nonnull(text);
    for (int run = 0; run < 20000; run++) {
        struct mgr_desired *d;
        char err[256];
        size_t n = len;

        memcpy(text, format1, len + 1);
        for (int k = 0; k < 1 + run % 4 && n > 1; k++) {
            size_t at = (size_t)rand_r(&seed) % n;

            switch (rand_r(&seed) % 3) {
            case 0: /* replace a byte */
                text[at] =
                    (char)" {}[]\",:0123456789-truefalsn"[rand_r(&seed) % 28];
                break;
            case 1: /* cut the tail */
                n = at;
                break;
            default: /* delete a byte */
                memmove(text + at, text + at + 1, n - at);
                n--;
                break;
            }
        }
        if (!mgr_config_parse_text(text, n, "t", &d, err, sizeof err)) {
            accepted++;
            for (size_t i = 0; i < d->n_switches; i++) {
                const struct mgr_desired_switch *sw = &d->switches[i];

                ck_assert(sw->cfg.mac_ageing >= 1);
                ck_assert(sw->cfg.mac_table_size >= 1);
                for (size_t j = 0; j < sw->n_ports; j++) {
                    const struct mgr_port_cfg *cfg = &sw->ports[j].cfg;

                    ck_assert(cfg->vlan.mode != VSW_VLAN_MODE_ACCESS ||
                              cfg->vlan.vid);
                    ck_assert(cfg->ifname[0]);
                }
            }
            mgr_desired_destroy(d);
        }
    }
    /* The run must have exercised both outcomes to mean anything. */
    ck_assert_uint_gt(accepted, 100);
    ck_assert_uint_lt(accepted, 20000);
    free(text);
}
END_TEST

static Suite *
config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_format1_migrates);
    tcase_add_test(tc, test_refused_documents);
    tcase_add_test(tc, test_format2_unknown_setting_drops_entry);
    tcase_add_test(tc, test_acl_ids_checked);
    tcase_add_test(tc, test_mutations);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(config_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
