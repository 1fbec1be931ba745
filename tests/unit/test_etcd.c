/* The etcd client's pure parts (vswitchd/etcd.c): the key layout's parser
 * and the checks of --etcd and --host-id. */
#include "etcd.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int
parse(const char *key, const char *value, struct vsw_etcd_mapping *m)
{
    return vsw_etcd_parse_mapping(key, value, m);
}

START_TEST(test_layout_keys)
{
    struct vsw_etcd_mapping m;
    static const uint8_t mac[6] = {0x02, 0, 0, 0, 0x0b, 0x01};

    ck_assert_int_eq(parse("hosts/host-b", "{\"since\":1}", &m), 0);
    ck_assert_int_eq(m.kind, VSW_ETCD_HOST);
    ck_assert_str_eq(m.host, "host-b");
    ck_assert(!m.has_vtep);

    ck_assert_int_eq(parse("hosts/h.b_1", "{\"vtep\":\"192.0.2.2\"}", &m), 0);
    ck_assert(m.has_vtep);
    ck_assert_uint_eq(m.vtep.s_addr, inet_addr("192.0.2.2"));

    ck_assert_int_eq(
        parse("vni/5001/vteps/host-b", "{\"vtep\":\"192.0.2.2\"}", &m), 0);
    ck_assert_int_eq(m.kind, VSW_ETCD_VTEP);
    ck_assert_uint_eq(m.vni, 5001);
    ck_assert_str_eq(m.host, "host-b");

    ck_assert_int_eq(parse("vni/16777215/macs/02:00:00:00:0b:01/host-b",
                           "{\"vtep\":\"192.0.2.2\",\"later\":[1]}", &m),
                     0);
    ck_assert_int_eq(m.kind, VSW_ETCD_MAC);
    ck_assert_uint_eq(m.vni, 16777215);
    ck_assert_mem_eq(m.mac, mac, 6);
}
END_TEST

START_TEST(test_malformed_keys_and_values)
{
    static const char *const bad[][2] = {
        {"hosts/", "{}"},
        {"hosts/a/b", "{}"},
        {"hosts/a b", "{}"},
        {"hosts/a", "not json"},
        {"hosts/a", "[]"},
        {"hosts/a", "{\"vtep\":\"1.2.3\"}"},
        {"vni/0/vteps/h", "{\"vtep\":\"192.0.2.2\"}"},
        {"vni/05001/vteps/h", "{\"vtep\":\"192.0.2.2\"}"},
        {"vni/16777216/vteps/h", "{\"vtep\":\"192.0.2.2\"}"},
        {"vni/x/vteps/h", "{\"vtep\":\"192.0.2.2\"}"},
        {"vni/5001/vteps/h", "{}"},
        {"vni/5001/vteps/h", "{\"vtep\":42}"},
        {"vni/5001/vteps/h", "{\"vtep\":\"2001:db8::1\"}"},
        {"vni/5001/vteps/h", "{\"vtep\":\"192.0.2.2\",\"vtep\":\"1.1.1.1\"}"},
        {"vni/5001/vteps", "{\"vtep\":\"192.0.2.2\"}"},
        {"vni/5001/macs/02:00:00:00:0B:01/h", "{\"vtep\":\"192.0.2.2\"}"},
        {"vni/5001/macs/02-00-00-00-0b-01/h", "{\"vtep\":\"192.0.2.2\"}"},
        {"vni/5001/macs/02:00:00:00:0b/h", "{\"vtep\":\"192.0.2.2\"}"},
        {"vni/5001/macs/02:00:00:00:0b:01", "{\"vtep\":\"192.0.2.2\"}"},
        {"vni/5001/macs/02:00:00:00:0b:01/h/x", "{\"vtep\":\"192.0.2.2\"}"},
        {"vni/5001/other/h", "{\"vtep\":\"192.0.2.2\"}"},
        {"", "{}"},
        {"something/else", "{}"},
    };
    struct vsw_etcd_mapping m;

    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_msg(parse(bad[i][0], bad[i][1], &m) == -EINVAL,
                      "accepted %s = %s", bad[i][0], bad[i][1]);
    }
}
END_TEST

START_TEST(test_endpoints_and_host_ids)
{
    char err[256];

    ck_assert_int_eq(
        vsw_etcd_check_endpoints("http://127.0.0.1:2379", err, sizeof err), 0);
    ck_assert_int_eq(
        vsw_etcd_check_endpoints("http://a:1,https://b:2/,http://[::1]:3", err,
                                 sizeof err),
        0);
    ck_assert_int_eq(vsw_etcd_check_endpoints("", err, sizeof err), -EINVAL);
    ck_assert_int_eq(vsw_etcd_check_endpoints("a:1", err, sizeof err),
                     -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "'a:1'"));
    ck_assert_int_eq(vsw_etcd_check_endpoints("http://a:1,", err, sizeof err),
                     -EINVAL);
    ck_assert_int_eq(vsw_etcd_check_endpoints("http://", err, sizeof err),
                     -EINVAL);
    ck_assert_int_eq(vsw_etcd_check_endpoints("http://a b", err, sizeof err),
                     -EINVAL);
    ck_assert_int_eq(vsw_etcd_check_endpoints(
                         "http://a,http://a,http://a,http://a,http://a,"
                         "http://a,http://a,http://a,http://a",
                         err, sizeof err),
                     -EINVAL);

    ck_assert_int_eq(vsw_etcd_check_host_id("host-a.b_c", err, sizeof err), 0);
    ck_assert_int_eq(vsw_etcd_check_host_id("", err, sizeof err), -EINVAL);
    ck_assert_int_eq(vsw_etcd_check_host_id("..", err, sizeof err), -EINVAL);
    ck_assert_int_eq(vsw_etcd_check_host_id("a/b", err, sizeof err), -EINVAL);
    ck_assert_int_eq(
        vsw_etcd_check_host_id(
            "0123456789012345678901234567890123456789012345678901234567890123",
            err, sizeof err),
        -EINVAL);
}
END_TEST

START_TEST(test_default_host_id_is_valid)
{
    char id[VSW_ETCD_HOST_ID_MAX + 1], err[256];

    vsw_etcd_default_host_id(id, sizeof id);
    ck_assert_int_eq(vsw_etcd_check_host_id(id, err, sizeof err), 0);
}
END_TEST

static Suite *
etcd_suite(void)
{
    Suite *s = suite_create("etcd");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_layout_keys);
    tcase_add_test(tc, test_malformed_keys_and_values);
    tcase_add_test(tc, test_endpoints_and_host_ids);
    tcase_add_test(tc, test_default_host_id_is_valid);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(etcd_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
