/*
 * Unit tests of the receive-queue rebalancing decision
 * (vsw_rebalance_choose() in datapath/core/datapath.c): when a queue moves,
 * which one, and to which worker.
 */
#include "datapath.h"

#include <check.h>
#include <stdlib.h>

#define PERCENT(P) ((uint64_t)(P)*10000000)

static struct vsw_rxq
queue_on(unsigned worker, unsigned percent)
{
    struct vsw_rxq rxq = {.worker = worker, .load_ns = PERCENT(percent)};

    return rxq;
}

START_TEST(test_moves_from_overloaded_to_idle)
{
    struct vsw_rxq q[3] = {queue_on(0, 50), queue_on(0, 40), queue_on(1, 10)};
    struct vsw_rxq *rxqs[3] = {&q[0], &q[1], &q[2]};
    uint64_t loads[2] = {PERCENT(90), PERCENT(10)};
    unsigned to = 99;

    /* Gap 80 %: the busiest queue that fits in half of it (40 %) moves. */
    ck_assert_ptr_eq(vsw_rebalance_choose(loads, 2, rxqs, 3, &to), &q[1]);
    ck_assert_uint_eq(to, 1);
}
END_TEST

START_TEST(test_leaves_balanced_or_idle_workers_alone)
{
    struct vsw_rxq q[2] = {queue_on(0, 30), queue_on(1, 30)};
    struct vsw_rxq *rxqs[2] = {&q[0], &q[1]};
    uint64_t balanced[2] = {PERCENT(70), PERCENT(65)};
    uint64_t light[2] = {PERCENT(50), PERCENT(0)};
    unsigned to;

    ck_assert_ptr_null(vsw_rebalance_choose(balanced, 2, rxqs, 2, &to));
    /* Nobody is overloaded: moving would only cost cache warmth. */
    ck_assert_ptr_null(vsw_rebalance_choose(light, 2, rxqs, 2, &to));
}
END_TEST

START_TEST(test_never_swaps_places)
{
    /* One queue carries all the load: moving it would just make the other
     * worker the hot one. */
    struct vsw_rxq q[2] = {queue_on(0, 95), queue_on(1, 0)};
    struct vsw_rxq *rxqs[2] = {&q[0], &q[1]};
    uint64_t loads[2] = {PERCENT(95), PERCENT(0)};
    unsigned to;

    ck_assert_ptr_null(vsw_rebalance_choose(loads, 2, rxqs, 2, &to));
}
END_TEST

START_TEST(test_pinned_queues_stay)
{
    struct vsw_rxq q[2] = {queue_on(0, 45), queue_on(0, 45)};
    struct vsw_rxq *rxqs[2] = {&q[0], &q[1]};
    uint64_t loads[2] = {PERCENT(90), PERCENT(0)};
    unsigned to;

    q[0].pinned = true;
    ck_assert_ptr_eq(vsw_rebalance_choose(loads, 2, rxqs, 2, &to), &q[1]);
    q[1].pinned = true;
    ck_assert_ptr_null(vsw_rebalance_choose(loads, 2, rxqs, 2, &to));
}
END_TEST

START_TEST(test_picks_the_idlest_of_many)
{
    struct vsw_rxq q[4] = {queue_on(2, 35), queue_on(2, 35), queue_on(2, 30),
                           queue_on(0, 40)};
    struct vsw_rxq *rxqs[4] = {&q[0], &q[1], &q[2], &q[3]};
    uint64_t loads[4] = {PERCENT(40), PERCENT(20), PERCENT(100), PERCENT(5)};
    unsigned to = 99;

    ck_assert_ptr_nonnull(vsw_rebalance_choose(loads, 4, rxqs, 4, &to));
    ck_assert_uint_eq(to, 3);
}
END_TEST

int
main(void)
{
    Suite *suite = suite_create("rebalance");
    TCase *tc = tcase_create("choose");
    SRunner *runner;
    int failed;

    tcase_add_test(tc, test_moves_from_overloaded_to_idle);
    tcase_add_test(tc, test_leaves_balanced_or_idle_workers_alone);
    tcase_add_test(tc, test_never_swaps_places);
    tcase_add_test(tc, test_pinned_queues_stay);
    tcase_add_test(tc, test_picks_the_idlest_of_many);
    suite_add_tcase(suite, tc);
    runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
