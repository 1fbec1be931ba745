/*
 * Unit tests of capture sessions (datapath/pipeline/pcap-tap.c): the
 * rings (wrapping, padding, a full ring counting drops), the filter run
 * by the producer, frames retagged on their way out, the time order
 * across rings, and one producer thread per ring against the consumer.
 */
#include <check.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pcap-tap.h"
#include "test-util.h"

/* A frame of 'len' bytes: Ethernet, IPv4, UDP ('udp') or ICMP, and
 * 'seq' in the last four bytes so that each can be told apart. */
static void
make_frame(uint8_t *frame, uint32_t len, bool udp, uint32_t seq)
{
    memset(frame, 0, len);
    memcpy(frame, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
    frame[12] = 0x08;
    frame[14] = 0x45;
    frame[16] = (uint8_t)((len - 14) >> 8);
    frame[17] = (uint8_t)(len - 14);
    frame[22] = 64;
    frame[23] = udp ? 17 : 1;
    memcpy(&frame[len - 4], &seq, 4);
}

/* A session over 'n_rings' rings of 'ring_bytes', with filter 'expr'
 * (NULL: none). */
static struct vsw_pcap_session *
make_session(unsigned n_rings, size_t ring_bytes, uint32_t snaplen,
             const char *expr)
{
    struct vsw_pcap_session *s = NULL;
    struct bpf_program prog;

    if (expr) {
        pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);

        ck_assert_int_eq(
            pcap_compile(dead, &prog, expr, 1, PCAP_NETMASK_UNKNOWN), 0);
        pcap_close(dead);
    }
    ck_assert_int_eq(vsw_pcap_session_create(n_rings, ring_bytes, snaplen,
                                             expr ? &prog : NULL, &s),
                     0);
    return s;
}

static void
taps_of(struct vsw_pcap_taps *taps, struct vsw_pcap_session *s,
        uint8_t directions)
{
    memset(taps, 0, sizeof *taps);
    taps->n = 1;
    taps->directions = directions;
    taps->tap[0].session = s;
    taps->tap[0].directions = directions;
}

/* Offers one frame, received on port 7, through ring 'ring'. */
static void
offer(const struct vsw_pcap_taps *taps, unsigned ring, uint8_t *frame,
      uint32_t len)
{
    struct vsw_packet pkt = {.data = frame, .len = len};
    struct vsw_packet *pkts[1] = {&pkt};

    vsw_pcap_tap_rx(taps, ring, 7, pkts, 1);
}

START_TEST(test_wrap_and_order)
{
    struct vsw_pcap_session *s = make_session(1, 4096, 65535, NULL);
    struct vsw_pcap_record rec;
    struct vsw_pcap_taps taps;
    uint64_t rng = 12345;
    uint8_t frame[1500];
    uint32_t next_read = 0;

    taps_of(&taps, s, VSW_PCAP_DIR_OUT);
    /* Many times around the ring, with sizes that leave every kind of
     * remainder at its end. */
    for (uint32_t seq = 0; seq < 2000; seq++) {
        uint32_t len = 60 + (uint32_t)(next_random(&rng) % 900);

        make_frame(frame, len, true, seq);
        offer(&taps, 0, frame, len);
        if (seq % 3 == 2) {
            while (vsw_pcap_session_next(s, &rec)) {
                uint32_t got;

                memcpy(&got, rec.data + rec.cap_len - 4, 4);
                ck_assert_uint_eq(got, next_read);
                ck_assert_uint_eq(rec.cap_len, rec.wire_len);
                ck_assert_uint_eq(rec.port_id, 7);
                ck_assert_uint_eq(rec.direction, VSW_PCAP_DIR_OUT);
                next_read++;
            }
        }
    }
    while (vsw_pcap_session_next(s, &rec)) {
        next_read++;
    }
    ck_assert_uint_eq(next_read, 2000);
    ck_assert_uint_eq(vsw_pcap_session_drops(s), 0);
    ck_assert_uint_eq(vsw_pcap_session_copied(s), 2000);
    vsw_pcap_session_destroy(s);
}
END_TEST

START_TEST(test_full_ring_drops)
{
    struct vsw_pcap_session *s = make_session(1, 4096, 65535, NULL);
    struct vsw_pcap_record rec;
    struct vsw_pcap_taps taps;
    uint8_t frame[1000];
    unsigned n = 0;

    taps_of(&taps, s, VSW_PCAP_DIR_OUT);
    for (uint32_t seq = 0; seq < 10; seq++) {
        make_frame(frame, sizeof frame, true, seq);
        offer(&taps, 0, frame, sizeof frame);
    }
    /* 4 records of 1032 bytes do not fit in 4096; 3 do. */
    ck_assert_uint_eq(vsw_pcap_session_copied(s), 3);
    ck_assert_uint_eq(vsw_pcap_session_drops(s), 7);
    while (vsw_pcap_session_next(s, &rec)) {
        n++;
    }
    ck_assert_uint_eq(n, 3);
    /* Read, the room is back.  A frame bigger than the ring never fits. */
    offer(&taps, 0, frame, sizeof frame);
    ck_assert_uint_eq(vsw_pcap_session_copied(s), 4);
    vsw_pcap_session_destroy(s);

    s = make_session(1, 4096, 65535, NULL);
    taps_of(&taps, s, VSW_PCAP_DIR_OUT);
    {
        static uint8_t big[9000];

        make_frame(big, sizeof big, true, 1);
        offer(&taps, 0, big, sizeof big);
    }
    ck_assert_uint_eq(vsw_pcap_session_drops(s), 1);
    ck_assert(!vsw_pcap_session_next(s, &rec));
    vsw_pcap_session_destroy(s);
}
END_TEST

START_TEST(test_filter_and_snaplen)
{
    struct vsw_pcap_session *s = make_session(1, 65536, 64, "udp");
    struct vsw_pcap_record rec;
    struct vsw_pcap_taps taps;
    uint8_t frame[200];

    taps_of(&taps, s, VSW_PCAP_DIR_OUT);
    for (uint32_t seq = 0; seq < 10; seq++) {
        make_frame(frame, sizeof frame, seq % 2 == 0, seq);
        offer(&taps, 0, frame, sizeof frame);
    }
    /* Only the UDP frames, cut to 64 bytes, their length kept. */
    ck_assert_uint_eq(vsw_pcap_session_copied(s), 5);
    for (int i = 0; i < 5; i++) {
        ck_assert(vsw_pcap_session_next(s, &rec));
        ck_assert_uint_eq(rec.cap_len, 64);
        ck_assert_uint_eq(rec.wire_len, 200);
        ck_assert_uint_eq(rec.data[23], 17);
    }
    ck_assert(!vsw_pcap_session_next(s, &rec));
    /* A tap that takes only 'in' sees nothing received. */
    taps_of(&taps, s, VSW_PCAP_DIR_IN);
    offer(&taps, 0, frame, sizeof frame);
    ck_assert_uint_eq(vsw_pcap_session_copied(s), 5);
    vsw_pcap_session_destroy(s);
}
END_TEST

START_TEST(test_tx_as_it_left)
{
    struct vsw_pcap_session *s = make_session(1, 65536, 65535, "vlan 10");
    struct vsw_pcap_session *plain = make_session(1, 65536, 65535, NULL);
    uint8_t *linear = malloc(VSW_PCAP_LINEAR_BYTES);
    struct vsw_pcap_record rec;
    struct vsw_pcap_taps taps;
    uint8_t frame[100], tagged[104];
    struct vsw_packet pkt = {.data = frame, .len = sizeof frame};
    struct vsw_packet tpkt = {
        .data = tagged, .len = sizeof tagged, .ingress_tag_len = 4};
    struct vsw_tx_item items[2] = {
        {.pkt = &pkt, .tci = 10, .push_tag = 1},
        {.pkt = &tpkt, .push_tag = 0},
    };

    make_frame(frame, sizeof frame, true, 42);
    memcpy(tagged, frame, 12);
    memcpy(tagged + 12, "\x81\x00\x00\x0a", 4);
    memcpy(tagged + 16, frame + 12, sizeof frame - 12);

    /* The filter sees the tag the first frame left with. */
    taps_of(&taps, s, VSW_PCAP_DIR_IN);
    vsw_pcap_tap_tx(&taps, 0, 3, items, 2, linear);
    ck_assert(vsw_pcap_session_next(s, &rec));
    ck_assert_uint_eq(rec.wire_len, 104);
    ck_assert_uint_eq(rec.cap_len, 104);
    ck_assert_int_eq(memcmp(rec.data, tagged, 104), 0);
    ck_assert_uint_eq(rec.direction, VSW_PCAP_DIR_IN);
    ck_assert(!vsw_pcap_session_next(s, &rec));

    /* And the second left without its tag. */
    taps_of(&taps, plain, VSW_PCAP_DIR_IN | VSW_PCAP_DIR_OUT);
    vsw_pcap_tap_tx(&taps, 0, 3, items + 1, 1, linear);
    ck_assert(vsw_pcap_session_next(plain, &rec));
    ck_assert_uint_eq(rec.wire_len, 100);
    ck_assert_int_eq(memcmp(rec.data, frame, 100), 0);
    free(linear);
    vsw_pcap_session_destroy(s);
    vsw_pcap_session_destroy(plain);
}
END_TEST

START_TEST(test_time_order_across_rings)
{
    struct vsw_pcap_session *s = make_session(3, 65536, 65535, NULL);
    struct vsw_pcap_record rec;
    struct vsw_pcap_taps taps;
    uint64_t last = 0;
    uint8_t frame[80];

    taps_of(&taps, s, VSW_PCAP_DIR_OUT);
    for (uint32_t seq = 0; seq < 30; seq++) {
        make_frame(frame, sizeof frame, true, seq);
        offer(&taps, (seq * 7) % 3, frame, sizeof frame);
    }
    for (uint32_t seq = 0; seq < 30; seq++) {
        ck_assert(vsw_pcap_session_next(s, &rec));
        ck_assert_uint_ge(rec.ts_ns, last);
        last = rec.ts_ns;
    }
    ck_assert(!vsw_pcap_session_next(s, &rec));
    vsw_pcap_session_destroy(s);
}
END_TEST

START_TEST(test_bad_sizes)
{
    struct vsw_pcap_session *s = NULL;

    ck_assert_int_eq(vsw_pcap_session_create(1, 100, 10, NULL, &s), -EINVAL);
    ck_assert_int_eq(
        vsw_pcap_session_create(1, VSW_PCAP_RING_MAX + 1, 10, NULL, &s),
        -EINVAL);
    ck_assert_int_eq(vsw_pcap_session_create(0, 4096, 10, NULL, &s), -EINVAL);
    ck_assert_ptr_null(s);
    vsw_pcap_session_destroy(NULL);
}
END_TEST

/* One producer per ring, as the workers are. */
struct producer {
    const struct vsw_pcap_taps *taps; /* the session */
    unsigned ring;                    /* its ring */
    uint32_t frames;                  /* to offer */
};

static void *
produce(void *p_)
{
    struct producer *p = p_;
    uint8_t frame[300];

    for (uint32_t seq = 0; seq < p->frames; seq++) {
        uint32_t len = 64 + seq % 200;

        make_frame(frame, len, true, seq);
        frame[0] = (uint8_t)p->ring;
        offer(p->taps, p->ring, frame, len);
    }
    return NULL;
}

START_TEST(test_concurrent_producers)
{
    enum {
        N_RINGS = 2,
        FRAMES = 200000
    };
    struct vsw_pcap_session *s = make_session(N_RINGS, 8192, 65535, NULL);
    struct producer producers[N_RINGS];
    pthread_t threads[N_RINGS];
    int64_t last[N_RINGS] = {-1, -1};
    struct vsw_pcap_record rec;
    struct vsw_pcap_taps taps;
    uint64_t read = 0;
    int64_t deadline = real_msec() + 60000;

    taps_of(&taps, s, VSW_PCAP_DIR_OUT);
    for (unsigned i = 0; i < N_RINGS; i++) {
        producers[i] = (struct producer){&taps, i, FRAMES};
        pthread_create(&threads[i], NULL, produce, &producers[i]);
    }
    /* Whatever was copied arrives whole, and in order per ring. */
    while (read + vsw_pcap_session_drops(s) < (uint64_t)N_RINGS * FRAMES &&
           real_msec() < deadline) {
        while (vsw_pcap_session_next(s, &rec)) {
            uint32_t seq;
            unsigned ring = rec.data[0];

            ck_assert_uint_lt(ring, N_RINGS);
            memcpy(&seq, rec.data + rec.cap_len - 4, 4);
            ck_assert_uint_eq(rec.cap_len, 64 + seq % 200);
            ck_assert_int_gt((int64_t)seq, last[ring]);
            last[ring] = seq;
            read++;
        }
    }
    for (unsigned i = 0; i < N_RINGS; i++) {
        pthread_join(threads[i], NULL);
    }
    while (vsw_pcap_session_next(s, &rec)) {
        read++;
    }
    ck_assert_uint_eq(read, vsw_pcap_session_copied(s));
    ck_assert_uint_eq(read + vsw_pcap_session_drops(s),
                      (uint64_t)N_RINGS * FRAMES);
    vsw_pcap_session_destroy(s);
}
END_TEST

static Suite *
pcap_tap_suite(void)
{
    Suite *s = suite_create("pcap-tap");
    TCase *tc = tcase_create("pcap-tap");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_wrap_and_order);
    tcase_add_test(tc, test_full_ring_drops);
    tcase_add_test(tc, test_filter_and_snaplen);
    tcase_add_test(tc, test_tx_as_it_left);
    tcase_add_test(tc, test_time_order_across_rings);
    tcase_add_test(tc, test_bad_sizes);
    tcase_add_test(tc, test_concurrent_producers);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(pcap_tap_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
