/*
 * Unit tests of the minimum-bandwidth scheduler (datapath/qos/scheduler.c)
 * without its thread: frames queued by source port, taken in DRR order
 * with vsw_sched_take(); shares by weight and by guaranteed rate, work
 * conservation, queue bounds and drops.
 */
#include "scheduler.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "datapath.h"

#define LINK    100000000ull /* 100 Mbit/s */
#define N_PORTS 3

/* Three ports of one switch, 'min_bw' each, in a snapshot; a frame of
 * each to queue.  Port i has id i + 1. */
struct fixture {
    struct vsw_dp_snapshot *snap;    /* owns the ports */
    struct vsw_port_rt rts[N_PORTS]; /* only 'id' is read */
    struct vsw_packet pkts[N_PORTS]; /* one frame per port */
    uint8_t frame[1500];             /* their bytes */
};

static void
fixture_init(struct fixture *fx, const uint64_t min_bw[N_PORTS])
{
    struct vsw_dp_switch *sw;

    memset(fx, 0, sizeof *fx);
    fx->snap = vsw_dp_snapshot_create();
    ck_assert_ptr_nonnull(fx->snap);
    sw = vsw_dp_snapshot_add_switch(fx->snap, "sw0", NULL);
    ck_assert_ptr_nonnull(sw);
    for (int i = 0; i < N_PORTS; i++) {
        struct vsw_dp_port *port;

        fx->rts[i].id = (uint32_t)i + 1;
        port = vsw_dp_snapshot_add_port(fx->snap, sw, "p", &fx->rts[i]);
        ck_assert_ptr_nonnull(port);
        port->min_bw = min_bw[i];
        fx->pkts[i].data = fx->frame;
        fx->pkts[i].len = sizeof fx->frame;
        fx->pkts[i].in_port_id = fx->rts[i].id;
    }
}

/* Queues 'n' frames of port 'i'; returns how many were refused. */
static uint64_t
queue(struct vsw_sched *sched, struct fixture *fx, int i, int n)
{
    struct vsw_tx_item items[VSW_BATCH_SIZE];
    uint64_t dropped = 0;

    while (n > 0) {
        int batch = n < VSW_BATCH_SIZE ? n : VSW_BATCH_SIZE;
        struct vsw_sched_result r;

        for (int k = 0; k < batch; k++) {
            items[k] = (struct vsw_tx_item){.pkt = &fx->pkts[i]};
        }
        vsw_sched_enqueue(sched, fx->snap, items, batch, &r);
        ck_assert_uint_eq(r.packets + r.dropped, (uint64_t)batch);
        dropped += r.dropped;
        n -= batch;
    }
    return dropped;
}

/* The class of port 'i' when it has a minimum. */
static int
class_of(int i)
{
    return i + 1 + 1; /* slot of id i + 1, plus one */
}

/* Takes 'n' frames and counts them by class into 'counts' (indexed by
 * class_of(), and 0 for the default class). */
static void
take(struct vsw_sched *sched, int n, int counts[N_PORTS + 2])
{
    memset(counts, 0, sizeof(int) * (N_PORTS + 2));
    for (int k = 0; k < n; k++) {
        uint32_t bytes;
        int class = vsw_sched_take(sched, &bytes);

        ck_assert_int_ge(class, 0);
        ck_assert_int_lt(class, N_PORTS + 2);
        ck_assert_uint_eq(bytes, 1500);
        counts[class]++;
    }
}

START_TEST(test_weights_share_in_proportion)
{
    const uint64_t min_bw[N_PORTS] = {5, 1, 0};
    struct vsw_sched *sched;
    struct fixture fx;
    int counts[N_PORTS + 2];

    fixture_init(&fx, min_bw);
    ck_assert_int_eq(vsw_sched_create_unpaced(VSW_SCHED_WEIGHT, LINK, &sched),
                     0);
    for (int i = 0; i < N_PORTS; i++) {
        ck_assert_uint_eq(queue(sched, &fx, i, 300), 0);
    }
    /* Weights 5, 1 and the default flow's 1: 5:1:1 of 350 frames. */
    take(sched, 350, counts);
    ck_assert_int_ge(counts[class_of(0)], 245);
    ck_assert_int_le(counts[class_of(0)], 255);
    ck_assert_int_ge(counts[class_of(1)], 45);
    ck_assert_int_le(counts[class_of(1)], 55);
    ck_assert_int_ge(counts[VSW_SCHED_DEFAULT_CLASS], 45);
    ck_assert_int_le(counts[VSW_SCHED_DEFAULT_CLASS], 55);
    vsw_sched_destroy(sched);
    vsw_dp_snapshot_destroy(fx.snap);
}
END_TEST

START_TEST(test_unused_share_goes_to_the_others)
{
    const uint64_t min_bw[N_PORTS] = {5, 1, 0};
    struct vsw_sched *sched;
    struct fixture fx;
    int counts[N_PORTS + 2];
    uint32_t bytes;

    fixture_init(&fx, min_bw);
    ck_assert_int_eq(vsw_sched_create_unpaced(VSW_SCHED_WEIGHT, LINK, &sched),
                     0);
    /* Only the weight-1 port sends: it gets every turn. */
    queue(sched, &fx, 1, 100);
    take(sched, 100, counts);
    ck_assert_int_eq(counts[class_of(1)], 100);
    ck_assert_int_eq(vsw_sched_take(sched, &bytes), -1);

    /* The heavy port runs dry: the others go on at once. */
    queue(sched, &fx, 0, 10);
    queue(sched, &fx, 1, 100);
    take(sched, 110, counts);
    ck_assert_int_eq(counts[class_of(0)], 10);
    ck_assert_int_eq(counts[class_of(1)], 100);
    ck_assert_int_eq(vsw_sched_take(sched, &bytes), -1);
    vsw_sched_destroy(sched);
    vsw_dp_snapshot_destroy(fx.snap);
}
END_TEST

START_TEST(test_absolute_rates_and_default_flow)
{
    /* 60M guaranteed; the default flow is 10 % of the link: 60:10. */
    const uint64_t min_bw[N_PORTS] = {60000000, 0, 0};
    struct vsw_sched *sched;
    struct fixture fx;
    int counts[N_PORTS + 2];

    fixture_init(&fx, min_bw);
    ck_assert_int_eq(
        vsw_sched_create_unpaced(VSW_SCHED_ABSOLUTE, LINK, &sched), 0);
    queue(sched, &fx, 0, 400);
    queue(sched, &fx, 1, 200); /* both default: one class */
    queue(sched, &fx, 2, 200);
    take(sched, 350, counts);
    ck_assert_int_ge(counts[class_of(0)], 290);
    ck_assert_int_le(counts[class_of(0)], 310);
    ck_assert_int_ge(counts[VSW_SCHED_DEFAULT_CLASS], 40);
    ck_assert_int_le(counts[VSW_SCHED_DEFAULT_CLASS], 60);
    vsw_sched_destroy(sched);
    vsw_dp_snapshot_destroy(fx.snap);
}
END_TEST

START_TEST(test_full_queue_drops_and_counts)
{
    const uint64_t min_bw[N_PORTS] = {1, 0, 0};
    uint64_t limit = vsw_sched_queue_limit(LINK);
    struct vsw_sched_class_stats cs;
    struct vsw_sched *sched;
    struct fixture fx;
    uint64_t fits = limit / 1500;
    uint64_t dropped;

    fixture_init(&fx, min_bw);
    ck_assert_int_eq(vsw_sched_create_unpaced(VSW_SCHED_WEIGHT, LINK, &sched),
                     0);
    dropped = queue(sched, &fx, 0, (int)fits + 20);
    ck_assert_uint_eq(dropped, 20);
    ck_assert(vsw_sched_class_stats(sched, (unsigned)class_of(0), 1, &cs));
    ck_assert_uint_eq(cs.drops, 20);
    ck_assert_uint_eq(cs.queue_packets, fits);
    ck_assert_uint_eq(cs.queue_bytes, fits * 1500);
    ck_assert_uint_eq(cs.weight, 1);
    /* Another port's class has room of its own. */
    ck_assert_uint_eq(queue(sched, &fx, 1, 10), 0);
    /* A class that never held port 3's frames has nothing for it. */
    ck_assert(!vsw_sched_class_stats(sched, (unsigned)class_of(2), 3, &cs));
    vsw_sched_destroy(sched);
    vsw_dp_snapshot_destroy(fx.snap);
}
END_TEST

START_TEST(test_quanta)
{
    ck_assert_uint_eq(vsw_sched_quantum(VSW_SCHED_WEIGHT, 5, LINK),
                      5 * vsw_sched_quantum(VSW_SCHED_WEIGHT, 1, LINK));
    /* The default flow weighs 1. */
    ck_assert_uint_eq(vsw_sched_quantum(VSW_SCHED_WEIGHT, 0, LINK),
                      vsw_sched_quantum(VSW_SCHED_WEIGHT, 1, LINK));
    /* Absolute: the default flow is a tenth of the link. */
    ck_assert_uint_eq(vsw_sched_quantum(VSW_SCHED_ABSOLUTE, 0, LINK),
                      vsw_sched_quantum(VSW_SCHED_ABSOLUTE, LINK / 10, LINK));
    ck_assert_uint_eq(vsw_sched_quantum(VSW_SCHED_ABSOLUTE, 60000000, LINK),
                      6 * vsw_sched_quantum(VSW_SCHED_ABSOLUTE, 0, LINK));
    /* Bounded both ways. */
    ck_assert_uint_gt(vsw_sched_quantum(VSW_SCHED_ABSOLUTE, 1, LINK), 0);
    ck_assert_uint_le(vsw_sched_quantum(VSW_SCHED_ABSOLUTE, UINT64_MAX, LINK),
                      4u << 20);
    ck_assert_uint_ge(vsw_sched_queue_limit(1000), 64 * 1024);
    ck_assert_uint_le(vsw_sched_queue_limit(UINT64_MAX / 2), 64u << 20);
}
END_TEST

int
main(void)
{
    Suite *suite = suite_create("scheduler");
    TCase *tc = tcase_create("drr");
    SRunner *runner;
    int failed;

    tcase_add_test(tc, test_weights_share_in_proportion);
    tcase_add_test(tc, test_unused_share_goes_to_the_others);
    tcase_add_test(tc, test_absolute_rates_and_default_flow);
    tcase_add_test(tc, test_full_queue_drops_and_counts);
    tcase_add_test(tc, test_quanta);
    suite_add_tcase(suite, tc);
    runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
