/*
 * Unit tests of the max-bandwidth shaper (datapath/qos/shaper.c): the
 * configuration it derives from a rate and a burst, which frames go at
 * once, which wait and when, the queue bound, and a port that goes away
 * with frames queued.
 */
#include "shaper.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "datapath.h"
#include "packet.h"

#define MS 1000000LL

START_TEST(test_config_defaults)
{
    struct vsw_shaper_config cfg;

    vsw_shaper_config_init(&cfg, 0, 0);
    ck_assert_uint_eq(cfg.rate_bps, 0);

    /* 20M: 5 ms is 12 500 bytes, under the 96 KiB floor; 20 ms is 50 000
     * bytes, under the burst, so the queue holds the burst. */
    vsw_shaper_config_init(&cfg, 20000000, 0);
    ck_assert_uint_eq(cfg.burst_bytes, VSW_SHAPER_MIN_BURST);
    ck_assert_uint_eq(cfg.tolerance_ns, 98304ULL * 8 * 1000000000 / 20000000);
    ck_assert_uint_eq(cfg.queue_bytes, VSW_SHAPER_MIN_BURST);

    /* 1G: 5 ms is 625 000 bytes, 20 ms 2 500 000. */
    vsw_shaper_config_init(&cfg, 1000000000, 0);
    ck_assert_uint_eq(cfg.burst_bytes, 625000);
    ck_assert_uint_eq(cfg.tolerance_ns, 5 * MS);
    ck_assert_uint_eq(cfg.queue_bytes, 2500000);

    /* A burst given is kept, however small. */
    vsw_shaper_config_init(&cfg, 8000000, 1);
    ck_assert_uint_eq(cfg.burst_bytes, 1);
}
END_TEST

/* A port of its own snapshot, shaped out at 'rate' with 'burst'. */
struct fixture {
    struct vsw_dp_snapshot *snap;
    struct vsw_dp_port port;
    struct vsw_port_rt *rt;
    struct vsw_shaper_worker *sw;
    struct vsw_packet *rx[VSW_BATCH_SIZE];
};

static void
fixture_init(struct fixture *f, uint64_t rate, uint64_t burst)
{
    memset(f, 0, sizeof *f);
    f->snap = calloc(1, sizeof *f->snap);
    f->rt = calloc(1, sizeof *f->rt);
    f->rt->id = 7;
    f->rt->n_stats = 1;
    f->rt->stats = aligned_alloc(64, sizeof *f->rt->stats);
    memset(f->rt->stats, 0, sizeof *f->rt->stats);
    for (int d = 0; d < VSW_SHAPER_N_DIRS; d++) {
        vsw_shaper_state_init(&f->rt->shaper[d]);
    }
    f->port.id = 7;
    f->port.rt = f->rt;
    vsw_shaper_config_init(&f->port.shaper[VSW_SHAPER_OUT], rate, burst);
    f->snap->by_slot[7] = &f->port;
    f->sw = vsw_shaper_worker_create(0);
    ck_assert_int_eq(vsw_shaper_worker_provision(f->sw), 0);
    for (int i = 0; i < VSW_BATCH_SIZE; i++) {
        f->rx[i] = vsw_packet_create();
        f->rx[i]->len = 1514;
    }
}

static void
fixture_destroy(struct fixture *f)
{
    for (int i = 0; i < VSW_BATCH_SIZE; i++) {
        vsw_packet_destroy(f->rx[i]);
    }
    vsw_shaper_worker_destroy(f->sw);
    free(f->rt->stats);
    free(f->rt);
    free(f->snap);
}

static uint64_t
queued_frames(const struct fixture *f)
{
    struct vsw_shaper_depth depth;

    vsw_port_rt_get_shaper_depth(f->rt, &depth);
    return depth.out_frames;
}

START_TEST(test_burst_then_queue_then_drop)
{
    struct vsw_packet *pass[VSW_BATCH_SIZE];
    struct vsw_packet *third;
    struct fixture f;
    int64_t now = 1000 * MS;
    int n;

    /* 8 Mbit/s is 1 MB/s: a 1514-byte frame costs 1.514 ms.  A burst of
     * two frames; the queue holds 20 ms, 20 000 bytes: 13 frames. */
    fixture_init(&f, 8000000, 2 * 1514);
    ck_assert_int_eq(vsw_shaper_next_due(f.sw), INT64_MAX);
    third = f.rx[2];
    n = vsw_shaper_rx(f.sw, &f.port, f.rx, 3, pass, now);
    ck_assert_int_eq(n, 2);
    ck_assert_uint_eq(queued_frames(&f), 1);
    /* The third waits in its own buffer; a spare took its place. */
    ck_assert_ptr_ne(f.rx[2], third);
    /* It may go once the first has been paid off. */
    ck_assert_int_eq(vsw_shaper_next_due(f.sw), now + 1514000);

    /* 32 more at once: 12 fit behind it, the rest is dropped. */
    for (int i = 0; i < VSW_BATCH_SIZE; i++) {
        f.rx[i]->len = 1514;
    }
    n = vsw_shaper_rx(f.sw, &f.port, f.rx, VSW_BATCH_SIZE, pass, now);
    ck_assert_int_eq(n, 0);
    ck_assert_uint_eq(queued_frames(&f), 13);
    ck_assert_uint_eq(f.rt->stats[0].drops[VSW_DROP_QOS_QUEUE_FULL],
                      VSW_BATCH_SIZE - 12);
    ck_assert_uint_eq(f.rt->stats[0].rx_packets, VSW_BATCH_SIZE - 12);

    /* The port leaves the configuration: its frames are freed. */
    f.snap->by_slot[7] = NULL;
    vsw_shaper_run(f.sw, NULL, f.snap, now + 100 * MS);
    ck_assert_int_eq(vsw_shaper_next_due(f.sw), INT64_MAX);
    fixture_destroy(&f);
}
END_TEST

START_TEST(test_large_frame_goes_when_idle)
{
    struct vsw_packet *pass[VSW_BATCH_SIZE];
    struct fixture f;
    int64_t now = 1000 * MS;

    /* A burst smaller than a frame: each frame goes only when the one
     * before is paid off, and a frame larger than the burst still goes. */
    fixture_init(&f, 8000000, 1);
    f.rx[0]->len = 60000;
    ck_assert_int_eq(vsw_shaper_rx(f.sw, &f.port, f.rx, 2, pass, now), 1);
    ck_assert_int_eq(vsw_shaper_next_due(f.sw), now + 60 * MS);
    vsw_shaper_run(f.sw, NULL, f.snap, now + 59 * MS);
    ck_assert_uint_eq(queued_frames(&f), 1);
    ck_assert_int_eq(vsw_shaper_next_due(f.sw), now + 60 * MS);
    fixture_destroy(&f);
}
END_TEST

int
main(void)
{
    Suite *suite = suite_create("shaper");
    TCase *tc = tcase_create("shaper");
    SRunner *runner;
    int failed;

    tcase_add_test(tc, test_config_defaults);
    tcase_add_test(tc, test_burst_then_queue_then_drop);
    tcase_add_test(tc, test_large_frame_goes_when_idle);
    suite_add_tcase(suite, tc);
    runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
