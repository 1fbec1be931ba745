/*
 * The metrics renderer against stand-in methods: label values escaped as
 * the text format wants, one HELP/TYPE per family and families without
 * samples left out, derived values (flow-cache misses), methods that fail
 * or that write never called into the scrape; and the address check.
 */
#include "metrics.h"

#include <check.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rpc-server.h"

static int write_method_calls;

/* A port whose switch name has every character the format escapes. */
static int
fake_port_stats(json_t *params, json_t **result, struct vsw_rpc_error *err,
                void *aux)
{
    (void)params;
    (void)err;
    (void)aux;
    *result =
        json_pack("{s:[{s:s, s:s, s:I, s:I, s:I, s:I, s:{s:I, s:I}}]}",
                  "ports", "name", "p1", "switch", "a\"b\\c\nd", "rx-packets",
                  (json_int_t)7, "rx-bytes", (json_int_t)700, "tx-packets",
                  (json_int_t)5, "tx-bytes", (json_int_t)500, "drops", "runt",
                  (json_int_t)3, "acl-deny", (json_int_t)0);
    return 0;
}

static int
fake_status(json_t *params, json_t **result, struct vsw_rpc_error *err,
            void *aux)
{
    (void)params;
    (void)err;
    (void)aux;
    *result = json_pack("{s:s, s:I, s:[{s:I, s:f, s:I, s:I}]}", "version",
                        "9.9.9", "uptime", (json_int_t)12, "workers", "worker",
                        (json_int_t)0, "load", 0.25, "cache-lookups",
                        (json_int_t)10, "cache-hits", (json_int_t)4);
    return 0;
}

static int
fake_failure(json_t *params, json_t **result, struct vsw_rpc_error *err,
             void *aux)
{
    (void)params;
    (void)result;
    (void)aux;
    return vsw_rpc_error(err, VSW_RPC_INTERNAL_ERROR, "broken");
}

/* Declared as writing: a scrape must not call it. */
static int
fake_write(json_t *params, json_t **result, struct vsw_rpc_error *err,
           void *aux)
{
    (void)params;
    (void)err;
    (void)aux;
    write_method_calls++;
    *result = json_pack("{s:[{s:s, s:s, s:I}]}", "stats", "name", "x",
                        "switch", "s", "batches", (json_int_t)1);
    return 0;
}

static const struct vsw_rpc_method fake_methods[] = {
    {"port.stats", fake_port_stats, VSW_RPC_READS},
    {"system.status", fake_status, VSW_RPC_READS},
    {"team.show", fake_failure, VSW_RPC_READS},
    {"ext.stats", fake_write, VSW_RPC_WRITES},
};

static size_t
count(const char *text, const char *needle)
{
    size_t n = 0;

    for (const char *p = text; (p = strstr(p, needle)); p++) {
        n++;
    }
    return n;
}

START_TEST(test_render)
{
    struct event_base *base = event_base_new();
    struct vsw_rpc_server *server;
    char path[108];
    char *text;

    snprintf(path, sizeof path, "/tmp/vsw-test-metrics-%ld.sock",
             (long)getpid());
    ck_assert_int_eq(vsw_rpc_server_create(base, path, NULL, &server), 0);
    ck_assert_int_eq(vsw_rpc_server_register(
                         server, fake_methods,
                         sizeof fake_methods / sizeof *fake_methods, NULL),
                     0);
    text = vsw_metrics_render(server);
    ck_assert_ptr_nonnull(text);

    ck_assert_ptr_nonnull(strstr(
        text, "vswitch_port_rx_packets_total{switch=\"a\\\"b\\\\c\\nd\","
              "port=\"p1\"} 7\n"));
    ck_assert_ptr_nonnull(strstr(text, "vswitch_port_drops_total{switch=\"a"
                                       "\\\"b\\\\c\\nd\",port=\"p1\","
                                       "reason=\"runt\"} 3\n"));
    ck_assert_uint_eq(count(text, "# TYPE vswitch_port_drops_total counter\n"),
                      1);
    ck_assert_uint_eq(count(text, "# HELP vswitch_port_drops_total "), 1);
    ck_assert_ptr_nonnull(
        strstr(text, "vswitch_flow_cache_misses_total{worker=\"0\"} 6\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "vswitch_worker_load_ratio{worker=\"0\"} 0.25\n"));
    ck_assert_ptr_nonnull(strstr(text, "vswitch_info{version=\"9.9.9\"} 1\n"));
    /* No samples, no family: the failed team.show, the methods that do not
     * exist here, the writing ext.stats (never called). */
    ck_assert_ptr_null(strstr(text, "vswitch_team_"));
    ck_assert_ptr_null(strstr(text, "vswitch_tunnel_"));
    ck_assert_ptr_null(strstr(text, "vswitch_extension_"));
    ck_assert_int_eq(write_method_calls, 0);
    /* The port's members that were not there give no sample. */
    ck_assert_ptr_null(strstr(text, "vswitch_port_mirror_tx_packets_total"));

    free(text);
    vsw_rpc_server_destroy(server);
    event_base_free(base);
}
END_TEST

START_TEST(test_check_address)
{
    static const char *const good[] = {"127.0.0.1:9433", "0.0.0.0:1",
                                       "[::1]:9433", "[::]:65535"};
    static const char *const bad[] = {"",
                                      "127.0.0.1",
                                      "127.0.0.1:0",
                                      "127.0.0.1:65536",
                                      "localhost:80",
                                      "::1:9433",
                                      "1.2.3.4:x"};
    char err[256];

    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        ck_assert_msg(!vsw_metrics_check_address(good[i], err, sizeof err),
                      "%s: %s", good[i], err);
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        ck_assert_msg(vsw_metrics_check_address(bad[i], err, sizeof err) < 0,
                      "'%s' accepted", bad[i]);
        ck_assert(err[0]);
    }
}
END_TEST

static Suite *
metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("render");

    tcase_add_test(tc, test_render);
    tcase_add_test(tc, test_check_address);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(metrics_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
