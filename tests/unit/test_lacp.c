/*
 * Unit tests of LACP (datapath/team/lacp.c) on a virtual clock: LACP
 * instances wired back to back through their send callbacks, each wire
 * a pair of members that can be cut in either direction; the parser on
 * a byte layout written out; malformed LACPDUs; timers, rates and the
 * rate limit; selection against partners that differ.
 *
 * Every step of every test also checks that the generation counter
 * changed exactly when the set of distributing members did.
 */
#include "lacp.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "test-util.h"

#define MS  1000000ULL
#define SEC 1000000000ULL

#define MAX_SIDES 3
#define MAX_QUEUE 256

/* One LACP instance of the test network. */
struct side {
    struct vsw_lacp *lacp;                     /* the actor */
    uint64_t tx_count[VSW_LACP_MAX_MEMBERS];   /* LACPDUs it sent */
    uint64_t last_rx_ns[VSW_LACP_MAX_MEMBERS]; /* time of last delivery */
    uint64_t changed_ns[VSW_LACP_MAX_MEMBERS]; /* time distributing
                                                  last flipped */
    uint64_t last_generation;                  /* as last checked */
    uint32_t last_distributing;                /* bit per member, as last
                                                  checked */
    uint64_t next_ns;                          /* when it asked to run */
    bool poked; /* must run now: it received, or carrier changed */
};

/* A wire between member 'member[0]' of side 'side[0]' and member
 * 'member[1]' of side 'side[1]'. */
struct wire {
    unsigned side[2];   /* sides at the two ends */
    unsigned member[2]; /* members at the two ends */
    bool cut[2];        /* frames sent from end i are lost */
};

/* An LACPDU on its way. */
struct in_flight {
    unsigned side;                 /* receiving side */
    unsigned member;               /* receiving member */
    uint8_t pdu[VSW_LACP_PDU_LEN]; /* the bytes */
};

struct net {
    uint64_t now;                      /* the virtual clock */
    struct side sides[MAX_SIDES];      /* instances */
    unsigned n_sides;                  /* sides in use */
    struct wire wires[8];              /* the links */
    unsigned n_wires;                  /* wires in use */
    struct in_flight queue[MAX_QUEUE]; /* sent, not delivered yet */
    unsigned n_queued;                 /* entries of 'queue' */
    unsigned sender;                   /* side whose run is sending */
};

static struct vsw_lacp_settings
settings_for(uint8_t mac_last, uint16_t key, bool fast)
{
    struct vsw_lacp_settings s = {
        .system_priority = 32768,
        .system_mac = {0x02, 0, 0, 0, 0, mac_last},
        .key = key,
        .fast = fast,
        .active = true,
    };
    return s;
}

static unsigned
net_add_side(struct net *net, const struct vsw_lacp_settings *settings,
             unsigned n_members)
{
    struct side *side = &net->sides[net->n_sides];

    side->lacp = vsw_lacp_create(settings);
    ck_assert_ptr_nonnull(side->lacp);
    for (unsigned m = 0; m < n_members; m++) {
        ck_assert_int_eq(vsw_lacp_member_add(side->lacp, m, m + 1, 128), 0);
    }
    side->last_generation = vsw_lacp_generation(side->lacp);
    return net->n_sides++;
}

static unsigned
net_connect(struct net *net, unsigned side_a, unsigned member_a,
            unsigned side_b, unsigned member_b)
{
    struct wire *w = &net->wires[net->n_wires];

    memset(w, 0, sizeof *w);
    w->side[0] = side_a;
    w->member[0] = member_a;
    w->side[1] = side_b;
    w->member[1] = member_b;
    return net->n_wires++;
}

static void
net_destroy(struct net *net)
{
    for (unsigned i = 0; i < net->n_sides; i++) {
        vsw_lacp_destroy(net->sides[i].lacp);
    }
}

/* The send callback: queues the LACPDU for the far end of its wire. */
static void
net_send(unsigned member, const uint8_t *pdu, size_t len, void *aux)
{
    struct net *net = aux;

    ck_assert_uint_eq(len, VSW_LACP_PDU_LEN);
    net->sides[net->sender].tx_count[member]++;
    for (unsigned i = 0; i < net->n_wires; i++) {
        struct wire *w = &net->wires[i];

        for (int end = 0; end < 2; end++) {
            if (w->side[end] == net->sender && w->member[end] == member &&
                !w->cut[end]) {
                struct in_flight *f = &net->queue[net->n_queued++];

                ck_assert_uint_le(net->n_queued, MAX_QUEUE);
                f->side = w->side[!end];
                f->member = w->member[!end];
                memcpy(f->pdu, pdu, len);
            }
        }
    }
}

/* Checks that 'side''s generation moved exactly when the set of its
 * distributing members did, and notes when each member's flipped. */
static void
check_generation(struct side *side, uint64_t now)
{
    uint32_t distributing = 0;
    uint64_t generation = vsw_lacp_generation(side->lacp);

    for (unsigned m = 0; m < VSW_LACP_MAX_MEMBERS; m++) {
        if (vsw_lacp_member_distributing(side->lacp, m)) {
            distributing |= 1u << m;
        }
    }
    ck_assert_int_eq(generation != side->last_generation,
                     distributing != side->last_distributing);
    for (unsigned m = 0; m < VSW_LACP_MAX_MEMBERS; m++) {
        if ((distributing ^ side->last_distributing) & 1u << m) {
            side->changed_ns[m] = now;
        }
    }
    side->last_generation = generation;
    side->last_distributing = distributing;
}

/* Runs, at the current time, every side that asked for it or that
 * something happened to, delivering what they send, until nothing is in
 * flight.  Returns the earliest time a side asked for.  Sides run only
 * then, so a side that asks for a time too late shows it. */
static uint64_t
net_run(struct net *net)
{
    for (;;) {
        uint64_t next = UINT64_MAX;

        for (unsigned i = 0; i < net->n_sides; i++) {
            struct side *side = &net->sides[i];

            if (side->poked || side->next_ns <= net->now) {
                net->sender = i;
                side->poked = false;
                side->next_ns =
                    vsw_lacp_run(side->lacp, net->now, net_send, net);
                ck_assert_uint_gt(side->next_ns, net->now);
                check_generation(side, net->now);
            }
            next = side->next_ns < next ? side->next_ns : next;
        }
        if (!net->n_queued) {
            return next;
        }
        for (unsigned i = 0; i < net->n_queued; i++) {
            struct in_flight *f = &net->queue[i];
            struct side *side = &net->sides[f->side];

            ck_assert_int_eq(vsw_lacp_receive(side->lacp, f->member, f->pdu,
                                              VSW_LACP_PDU_LEN, net->now),
                             0);
            side->last_rx_ns[f->member] = net->now;
            side->poked = true;
        }
        net->n_queued = 0;
    }
}

/* Moves the clock to 'until', running the sides at every time they ask
 * for on the way, and only then. */
static void
net_advance_to(struct net *net, uint64_t until)
{
    for (;;) {
        uint64_t next = net_run(net);

        if (next > until) {
            break;
        }
        net->now = next;
    }
    net->now = until;
    net_run(net);
}

static void
net_carrier(struct net *net, unsigned side, unsigned member, bool up)
{
    vsw_lacp_member_set_carrier(net->sides[side].lacp, member, up, net->now);
    net->sides[side].poked = true;
    check_generation(&net->sides[side], net->now);
}

/* Carrier up on both ends of every wire. */
static void
net_all_up(struct net *net)
{
    for (unsigned i = 0; i < net->n_wires; i++) {
        for (int end = 0; end < 2; end++) {
            net_carrier(net, net->wires[i].side[end],
                        net->wires[i].member[end], true);
        }
    }
}

static bool
distributing(const struct net *net, unsigned side, unsigned member)
{
    return vsw_lacp_member_distributing(net->sides[side].lacp, member);
}

static struct vsw_lacp_member_status
status_of(const struct net *net, unsigned side, unsigned member)
{
    struct vsw_lacp_member_status st;

    ck_assert_int_eq(
        vsw_lacp_member_status(net->sides[side].lacp, member, &st), 0);
    return st;
}

/* Two sides with two members each, wired member to member, carrier up,
 * run for two virtual seconds. */
static void
net_pair(struct net *net, bool fast_a, bool fast_b)
{
    struct vsw_lacp_settings a = settings_for(0xa, 10, fast_a);
    struct vsw_lacp_settings b = settings_for(0xb, 20, fast_b);

    memset(net, 0, sizeof *net);
    net->now = 1000 * SEC;
    net_add_side(net, &a, 2);
    net_add_side(net, &b, 2);
    net_connect(net, 0, 0, 1, 0);
    net_connect(net, 0, 1, 1, 1);
    net_all_up(net);
    net_advance_to(net, net->now + 2 * SEC);
}

START_TEST(test_negotiation)
{
    struct vsw_lacp_settings a = settings_for(0xa, 10, true);
    struct vsw_lacp_settings b = settings_for(0xb, 20, true);
    struct vsw_lacp_member_status st;
    struct net net;

    memset(&net, 0, sizeof net);
    net.now = 5 * SEC;
    net_add_side(&net, &a, 2);
    net_add_side(&net, &b, 2);
    net_connect(&net, 0, 0, 1, 0);
    net_connect(&net, 0, 1, 1, 1);

    /* No carrier: nothing is sent, the reason says so. */
    net_advance_to(&net, net.now + 10 * SEC);
    st = status_of(&net, 0, 0);
    ck_assert_uint_eq(st.tx_lacpdus, 0);
    ck_assert_int_eq(st.why, VSW_LACP_WHY_LINK_DOWN);
    ck_assert_str_eq(vsw_lacp_why_name(st.why), "link-down");

    /* At the instant carrier comes up, three LACPDUs each way (defaulted,
     * in sync, collecting and distributing) and it is done. */
    net_all_up(&net);
    net_run(&net);
    for (unsigned side = 0; side < 2; side++) {
        for (unsigned m = 0; m < 2; m++) {
            ck_assert(distributing(&net, side, m));
            ck_assert_uint_eq(net.sides[side].tx_count[m], 3);
        }
    }
    net_advance_to(&net, net.now + 2 * SEC);
    for (unsigned side = 0; side < 2; side++) {
        const struct vsw_lacp_settings *other = side ? &a : &b;
        const struct vsw_lacp_settings *mine = side ? &b : &a;

        for (unsigned m = 0; m < 2; m++) {
            uint8_t want =
                VSW_LACP_STATE_ACTIVITY | VSW_LACP_STATE_TIMEOUT |
                VSW_LACP_STATE_AGGREGATION | VSW_LACP_STATE_SYNCHRONIZATION |
                VSW_LACP_STATE_COLLECTING | VSW_LACP_STATE_DISTRIBUTING;

            st = status_of(&net, side, m);
            ck_assert(distributing(&net, side, m));
            ck_assert(st.current && st.selected && st.distributing);
            ck_assert_int_eq(st.why, VSW_LACP_WHY_NONE);
            ck_assert_str_eq(vsw_lacp_why_name(st.why), "");
            ck_assert_uint_eq(st.actor.state, want);
            ck_assert_uint_eq(st.partner.state, want);
            ck_assert_mem_eq(st.actor.system_mac, mine->system_mac, 6);
            ck_assert_mem_eq(st.partner.system_mac, other->system_mac, 6);
            ck_assert_uint_eq(st.actor.key, mine->key);
            ck_assert_uint_eq(st.partner.key, other->key);
            ck_assert_uint_eq(st.actor.port_number, m + 1);
            ck_assert_uint_eq(st.partner.port_number, m + 1);
            ck_assert_uint_eq(st.partner.port_priority, 128);
            ck_assert_uint_eq(st.partner.system_priority, 32768);
            ck_assert_uint_ge(st.rx_lacpdus, 1);
            ck_assert_uint_eq(st.rx_bad, 0);
        }
    }
    net_destroy(&net);
}
END_TEST

/* Cuts what side 'from' sends on 'wire', then moves the clock in odd
 * steps until the other side's member on it stops distributing.  Returns
 * the time from its last LACPDU received to then: the steps being
 * coarse, it is exact only if vsw_lacp_run() asked for the right time. */
static uint64_t
silence_until_removed(struct net *net, unsigned wire, unsigned from)
{
    struct wire *w = &net->wires[wire];
    unsigned to_side = w->side[!from], to_member = w->member[!from];
    uint64_t limit = net->now + 200 * SEC;

    w->cut[from] = true;
    while (distributing(net, to_side, to_member)) {
        ck_assert_uint_lt(net->now, limit);
        net_advance_to(net, net->now + 7300 * MS);
    }
    return net->sides[to_side].changed_ns[to_member] -
           net->sides[to_side].last_rx_ns[to_member];
}

/* Makes 'side' send at an odd time (its system priority changes), so
 * its periodic transmissions no longer fall on the times its partner's
 * LACPDUs time out: it must then wake up for the timeout itself. */
static void
shift_phase(struct net *net, unsigned side, bool fast)
{
    struct vsw_lacp_settings s =
        settings_for(side ? 0xb : 0xa, side ? 20 : 10, fast);
    uint64_t before = net->sides[side].tx_count[0];

    net_advance_to(net, net->now + 456789 * 1000);
    s.system_priority = 100;
    vsw_lacp_configure(net->sides[side].lacp, &s);
    net->sides[side].poked = true;
    net_advance_to(net, net->now + 10 * MS);
    ck_assert_uint_gt(net->sides[side].tx_count[0], before);
}

START_TEST(test_fast_timeout)
{
    struct vsw_lacp_member_status st;
    struct net net;
    uint64_t silent, expiry;

    net_pair(&net, true, true);
    net_advance_to(&net, net.now + 10 * SEC + 500 * MS);
    silent = silence_until_removed(&net, 0, 1);
    ck_assert_uint_ge(silent, 2 * SEC);
    ck_assert_uint_le(silent, 3 * SEC);

    /* Healed and cut again, watched closely: still there 2 s and until
     * just before 3 s after the last LACPDU, gone at 3 s. */
    net.wires[0].cut[1] = false;
    net_advance_to(&net, net.now + 10 * SEC);
    ck_assert(distributing(&net, 0, 0) && distributing(&net, 1, 0));
    shift_phase(&net, 0, true);
    net.wires[0].cut[1] = true;
    expiry = net.sides[0].last_rx_ns[0] + VSW_LACP_FAST_TIMEOUT_NS;
    net_advance_to(&net, expiry - SEC);
    ck_assert(distributing(&net, 0, 0));
    net_advance_to(&net, expiry - 1);
    ck_assert(distributing(&net, 0, 0));
    net_advance_to(&net, expiry);
    ck_assert(!distributing(&net, 0, 0));

    /* Side 0 expired: it asks for fast LACPDUs and says it is expired,
     * and its partner (who still hears it) takes the member out too. */
    st = status_of(&net, 0, 0);
    ck_assert(!st.current && !st.selected);
    ck_assert_int_eq(st.why, VSW_LACP_WHY_EXPIRED);
    ck_assert(st.actor.state & VSW_LACP_STATE_EXPIRED);
    ck_assert(st.actor.state & VSW_LACP_STATE_TIMEOUT);
    ck_assert(!(st.actor.state & VSW_LACP_STATE_SYNCHRONIZATION));
    net_advance_to(&net, net.now + 10 * MS);
    ck_assert(!distributing(&net, 1, 0));
    ck_assert_int_eq(status_of(&net, 1, 0).why, VSW_LACP_WHY_PARTNER_NOT_SYNC);
    /* The other member is untouched. */
    ck_assert(distributing(&net, 0, 1) && distributing(&net, 1, 1));

    /* One short timeout later, DEFAULTED: the partner is forgotten. */
    net_advance_to(&net, net.now + 3 * SEC);
    st = status_of(&net, 0, 0);
    ck_assert_int_eq(st.why, VSW_LACP_WHY_NO_PARTNER);
    ck_assert(st.actor.state & VSW_LACP_STATE_DEFAULTED);
    ck_assert(!(st.actor.state & VSW_LACP_STATE_EXPIRED));
    ck_assert_uint_eq(st.partner.state, 0);
    ck_assert_uint_eq(st.partner.key, 0);

    /* The wire heals: both ends distribute again. */
    net.wires[0].cut[1] = false;
    net_advance_to(&net, net.now + 2 * SEC);
    ck_assert(distributing(&net, 0, 0) && distributing(&net, 1, 0));
    net_destroy(&net);
}
END_TEST

START_TEST(test_slow_timeout)
{
    struct net net;
    uint64_t silent, before, expiry;

    net_pair(&net, false, false);
    ck_assert(distributing(&net, 0, 0) && distributing(&net, 1, 0));
    net_advance_to(&net, net.now + 100 * SEC);
    silent = silence_until_removed(&net, 0, 0);
    ck_assert_uint_gt(silent, 60 * SEC);
    ck_assert_uint_le(silent, 90 * SEC);
    ck_assert_int_eq(status_of(&net, 1, 0).why, VSW_LACP_WHY_EXPIRED);

    /* Healed, then cut again: side 1 expires 90 s after the last LACPDU
     * it heard, and while expired it treats its partner as asking for
     * fast LACPDUs (one at once, then every second) and asks for them
     * itself, though both ends are configured slow. */
    net.wires[0].cut[0] = false;
    net_advance_to(&net, net.now + 35 * SEC);
    ck_assert(distributing(&net, 0, 0) && distributing(&net, 1, 0));
    shift_phase(&net, 1, false);
    net.wires[0].cut[0] = true;
    expiry = net.sides[1].last_rx_ns[0] + VSW_LACP_SLOW_TIMEOUT_NS;
    net_advance_to(&net, expiry - 1);
    ck_assert(distributing(&net, 1, 0));
    ck_assert(!(status_of(&net, 1, 0).actor.state & VSW_LACP_STATE_TIMEOUT));
    before = net.sides[1].tx_count[0];
    net_advance_to(&net, expiry + 2500 * MS);
    ck_assert(!distributing(&net, 1, 0));
    ck_assert_uint_eq(net.sides[1].tx_count[0] - before, 3);
    ck_assert(status_of(&net, 1, 0).actor.state & VSW_LACP_STATE_TIMEOUT);
    ck_assert(status_of(&net, 1, 0).actor.state & VSW_LACP_STATE_EXPIRED);
    net_destroy(&net);
}
END_TEST

/* LACPDUs side 0 sends on member 0 in 60 virtual seconds, negotiated. */
static uint64_t
pdus_per_minute(bool fast_a, bool fast_b)
{
    struct net net;
    uint64_t before, sent;

    net_pair(&net, fast_a, fast_b);
    net_advance_to(&net, net.now + 100 * SEC);
    before = net.sides[0].tx_count[0];
    net_advance_to(&net, net.now + 60 * SEC);
    sent = net.sides[0].tx_count[0] - before;
    ck_assert_uint_eq(status_of(&net, 0, 0).tx_lacpdus,
                      net.sides[0].tx_count[0]);
    net_destroy(&net);
    return sent;
}

START_TEST(test_periodic_rates)
{
    uint64_t sent;

    /* Our rate follows the partner's Timeout bit, not our own. */
    sent = pdus_per_minute(true, true);
    ck_assert_uint_ge(sent, 59);
    ck_assert_uint_le(sent, 61);
    sent = pdus_per_minute(false, false);
    ck_assert_uint_ge(sent, 2);
    ck_assert_uint_le(sent, 3);
    sent = pdus_per_minute(false, true);
    ck_assert_uint_ge(sent, 59);
    ck_assert_uint_le(sent, 61);
    sent = pdus_per_minute(true, false);
    ck_assert_uint_ge(sent, 2);
    ck_assert_uint_le(sent, 3);
}
END_TEST

static void
count_send(unsigned member, const uint8_t *pdu, size_t len, void *aux)
{
    uint64_t *count = aux;

    (void)member;
    (void)pdu;
    (void)len;
    (*count)++;
}

START_TEST(test_ntt_rate_limit)
{
    struct vsw_lacp_settings s = settings_for(1, 1, true);
    struct vsw_lacp *lacp = vsw_lacp_create(&s);
    uint64_t now = 50 * SEC, sent = 0, next;

    ck_assert_int_eq(vsw_lacp_member_add(lacp, 0, 1, 128), 0);
    vsw_lacp_member_set_carrier(lacp, 0, true, now);

    /* Ten changes of the actor's key at one instant: three LACPDUs, the
     * rest waits for the second to end, and then one carries the last. */
    for (int i = 0; i < 10; i++) {
        s.key = (uint16_t)(100 + i);
        vsw_lacp_configure(lacp, &s);
        next = vsw_lacp_run(lacp, now + (uint64_t)i * MS, count_send, &sent);
    }
    ck_assert_uint_eq(sent, 3);
    ck_assert_uint_eq(next, now + SEC);
    ck_assert_uint_eq(vsw_lacp_run(lacp, now + SEC - 1, count_send, &sent),
                      now + SEC);
    ck_assert_uint_eq(sent, 3);
    /* Then the periodic machine: slow, the partner being unknown. */
    ck_assert_uint_eq(vsw_lacp_run(lacp, now + SEC, count_send, &sent),
                      now + SEC + VSW_LACP_SLOW_PERIOD_NS);
    ck_assert_uint_eq(sent, 4);
    vsw_lacp_destroy(lacp);
}
END_TEST

START_TEST(test_carrier_down_leaves_at_once)
{
    struct vsw_lacp_member_status st;
    struct net net;
    uint64_t generation;

    net_pair(&net, true, true);
    ck_assert(distributing(&net, 0, 1));
    generation = vsw_lacp_generation(net.sides[0].lacp);
    net_carrier(&net, 0, 1, false);
    ck_assert(!distributing(&net, 0, 1));
    ck_assert_uint_ne(vsw_lacp_generation(net.sides[0].lacp), generation);
    st = status_of(&net, 0, 1);
    ck_assert_int_eq(st.why, VSW_LACP_WHY_LINK_DOWN);
    ck_assert(!st.selected && !st.current);
    ck_assert_uint_eq(st.partner.key, 0);

    /* Down, it sends nothing. */
    net_advance_to(&net, net.now + 10 * SEC);
    ck_assert_uint_eq(status_of(&net, 0, 1).tx_lacpdus,
                      net.sides[0].tx_count[1]);
    ck_assert(distributing(&net, 0, 0));

    net_carrier(&net, 0, 1, true);
    net_advance_to(&net, net.now + 2 * SEC);
    ck_assert(distributing(&net, 0, 1) && distributing(&net, 1, 1));
    net_destroy(&net);
}
END_TEST

/* Side 0 with two members: member 0 to side 1, member 1 to side 2 with
 * 'settings_c'.  Checks that member 1 does not aggregate. */
static void
check_partner_differs(const struct vsw_lacp_settings *settings_c)
{
    struct vsw_lacp_settings a = settings_for(0xa, 10, true);
    struct vsw_lacp_settings b = settings_for(0xb, 20, true);
    struct vsw_lacp_member_status st;
    struct net net;

    memset(&net, 0, sizeof net);
    net.now = SEC;
    net_add_side(&net, &a, 2);
    net_add_side(&net, &b, 1);
    net_add_side(&net, settings_c, 1);
    net_connect(&net, 0, 0, 1, 0);
    net_connect(&net, 0, 1, 2, 0);
    net_all_up(&net);
    net_advance_to(&net, net.now + 5 * SEC);

    ck_assert(distributing(&net, 0, 0) && distributing(&net, 1, 0));
    st = status_of(&net, 0, 1);
    ck_assert(st.current && !st.selected && !st.distributing);
    ck_assert_int_eq(st.why, VSW_LACP_WHY_PARTNER_DIFFERS);
    ck_assert_str_eq(vsw_lacp_why_name(st.why), "partner-differs");
    ck_assert(!(st.actor.state & VSW_LACP_STATE_SYNCHRONIZATION));
    /* The odd partner sees us out of sync. */
    st = status_of(&net, 2, 0);
    ck_assert(st.selected && !st.distributing);
    ck_assert_int_eq(st.why, VSW_LACP_WHY_PARTNER_NOT_SYNC);

    /* Without the first partner, the aggregator follows the other. */
    net_carrier(&net, 0, 0, false);
    net_advance_to(&net, net.now + 2 * SEC);
    ck_assert(distributing(&net, 0, 1) && distributing(&net, 2, 0));
    ck_assert_int_eq(status_of(&net, 0, 0).why, VSW_LACP_WHY_LINK_DOWN);
    net_destroy(&net);
}

START_TEST(test_partner_differs)
{
    struct vsw_lacp_settings other_system = settings_for(0xc, 20, true);
    struct vsw_lacp_settings other_key = settings_for(0xb, 21, true);

    check_partner_differs(&other_system);
    check_partner_differs(&other_key);
}
END_TEST

/* An LACPDU, byte by byte. */
static const uint8_t sample_pdu[VSW_LACP_PDU_LEN] = {
    0x01,        0x01,                         /* subtype LACP, version 1 */
    0x01,        0x14,                         /* actor TLV, 20 bytes */
    0x12,        0x34,                         /* system priority 0x1234 */
    0x00,        0x11, 0x22, 0x33, 0x44, 0x55, /* system 00:11:22:33:44:55 */
    0x00,        0x07,                         /* key 7 */
    0x00,        0x80,                         /* port priority 128 */
    0x00,        0x02,                         /* port 2 */
    0x3f,                                      /* state: all but defaulted and
                                                  expired */
    0x00,        0x00, 0x00,                   /* reserved */
    0x02,        0x14,                         /* partner TLV, 20 bytes */
    0x80,        0x00,                         /* system priority 32768 */
    0x02,        0x00, 0x00, 0x00, 0x00, 0x0a, /* system 02:00:00:00:00:0a */
    0x00,        0x0a,                         /* key 10 */
    0x00,        0x80,                         /* port priority 128 */
    0x00,        0x01,                         /* port 1 */
    0x3f,                                      /* state */
    0x00,        0x00, 0x00,                   /* reserved */
    0x03,        0x10,                         /* collector TLV, 16 bytes */
    0x00,        0x00,                         /* max delay */
    [58] = 0x00, 0x00, /* terminator, then 50 reserved */
};

/* A single member instance: side 0xa, key 10, port 1, carrier up. */
static struct vsw_lacp *
lone_member(void)
{
    struct vsw_lacp_settings s = settings_for(0xa, 10, true);
    struct vsw_lacp *lacp = vsw_lacp_create(&s);

    ck_assert_int_eq(vsw_lacp_member_add(lacp, 0, 1, 128), 0);
    vsw_lacp_member_set_carrier(lacp, 0, true, SEC);
    return lacp;
}

START_TEST(test_parser_layout)
{
    struct vsw_lacp *lacp = lone_member();
    struct vsw_lacp_member_status st;
    uint64_t sent = 0;
    uint8_t padded[VSW_LACP_PDU_LEN + 20] = {0};

    ck_assert_int_eq(
        vsw_lacp_receive(lacp, 0, sample_pdu, sizeof sample_pdu, SEC), 0);
    vsw_lacp_run(lacp, SEC, count_send, &sent);
    ck_assert_int_eq(vsw_lacp_member_status(lacp, 0, &st), 0);
    ck_assert_uint_eq(st.partner.system_priority, 0x1234);
    ck_assert_mem_eq(st.partner.system_mac,
                     ((uint8_t[]){0x00, 0x11, 0x22, 0x33, 0x44, 0x55}), 6);
    ck_assert_uint_eq(st.partner.key, 7);
    ck_assert_uint_eq(st.partner.port_priority, 128);
    ck_assert_uint_eq(st.partner.port_number, 2);
    ck_assert_uint_eq(st.partner.state, 0x3f);
    ck_assert(st.current && st.selected && st.distributing);
    ck_assert_uint_eq(st.rx_lacpdus, 1);

    /* Ethernet padding after the 110 bytes is ignored. */
    memcpy(padded, sample_pdu, sizeof sample_pdu);
    memset(padded + sizeof sample_pdu, 0xee, 20);
    ck_assert_int_eq(vsw_lacp_receive(lacp, 0, padded, sizeof padded, SEC), 0);
    ck_assert_int_eq(vsw_lacp_member_status(lacp, 0, &st), 0);
    ck_assert_uint_eq(st.rx_lacpdus, 2);
    ck_assert_uint_eq(st.rx_bad, 0);
    vsw_lacp_destroy(lacp);
}
END_TEST

/* What one member sends, captured. */
static uint8_t captured[VSW_LACP_PDU_LEN];

static void
capture_send(unsigned member, const uint8_t *pdu, size_t len, void *aux)
{
    (void)member;
    (void)aux;
    ck_assert_uint_eq(len, VSW_LACP_PDU_LEN);
    memcpy(captured, pdu, len);
}

START_TEST(test_encoder_layout)
{
    struct vsw_lacp *lacp = lone_member();
    uint8_t want[VSW_LACP_PDU_LEN];

    /* The sample's partner is exactly what the lone member sends as its
     * actor once in sync with the sample's actor, so the PDU it sends is
     * the sample with actor and partner swapped. */
    vsw_lacp_receive(lacp, 0, sample_pdu, sizeof sample_pdu, SEC);
    vsw_lacp_run(lacp, SEC, capture_send, NULL);
    memcpy(want, sample_pdu, sizeof want);
    memcpy(want + 4, sample_pdu + 24, 18);
    memcpy(want + 24, sample_pdu + 4, 18);
    ck_assert_mem_eq(captured, want, sizeof want);
    ck_assert_uint_eq(captured[0], 1);
    ck_assert_uint_eq(captured[2], 1);
    ck_assert_uint_eq(captured[22], 2);
    vsw_lacp_destroy(lacp);
}
END_TEST

/* How to spoil the sample LACPDU, and what the receiver must answer. */
struct spoil {
    const char *what; /* for the failure message */
    int offset;       /* byte to set, or -1 */
    uint8_t value;    /* its value */
    size_t len;       /* bytes handed over */
    int result;       /* vsw_lacp_receive()'s answer */
};

static const struct spoil spoils[] = {
    {"empty", -1, 0, 0, -EINVAL},
    {"subtype only", -1, 0, 1, -EINVAL},
    {"truncated header", -1, 0, 2, -EINVAL},
    {"truncated actor", -1, 0, 20, -EINVAL},
    {"truncated at 60", -1, 0, 60, -EINVAL},
    {"one byte short", -1, 0, VSW_LACP_PDU_LEN - 1, -EINVAL},
    {"subtype 0", 0, 0, VSW_LACP_PDU_LEN, -EINVAL},
    {"subtype 99", 0, 99, VSW_LACP_PDU_LEN, -EINVAL},
    {"version 0", 1, 0, VSW_LACP_PDU_LEN, -EINVAL},
    {"version 2", 1, 2, VSW_LACP_PDU_LEN, -EINVAL},
    {"actor type 2", 2, 2, VSW_LACP_PDU_LEN, -EINVAL},
    {"actor length 19", 3, 19, VSW_LACP_PDU_LEN, -EINVAL},
    {"actor length 21", 3, 21, VSW_LACP_PDU_LEN, -EINVAL},
    {"partner type 1", 22, 1, VSW_LACP_PDU_LEN, -EINVAL},
    {"partner length 0", 23, 0, VSW_LACP_PDU_LEN, -EINVAL},
    {"collector type 4", 42, 4, VSW_LACP_PDU_LEN, -EINVAL},
    {"collector length 20", 43, 20, VSW_LACP_PDU_LEN, -EINVAL},
    {"terminator type 1", 58, 1, VSW_LACP_PDU_LEN, -EINVAL},
    {"terminator length 2", 59, 2, VSW_LACP_PDU_LEN, -EINVAL},
    {"marker", 0, 2, VSW_LACP_PDU_LEN, -EPROTO},
    {"marker, short", 0, 2, 40, -EPROTO},
    {"OAM", 0, 3, VSW_LACP_PDU_LEN, -EPROTO},
    {"reserved bytes set", 19, 0xff, VSW_LACP_PDU_LEN, 0},
    {"collector delay set", 44, 0xff, VSW_LACP_PDU_LEN, 0},
};

/* When the malformed PDUs arrive: after the sample at 2 s, before the
 * next periodic LACPDU at 3 s. */
#define CHECK_TIME (2 * SEC + 500 * MS)

/* Hands 'pdu' to member 0 of a negotiated instance and checks it is
 * refused with 'result' and changes nothing but rx_bad. */
static void
check_refused(struct vsw_lacp *lacp, const uint8_t *pdu, size_t len,
              int result, const char *what)
{
    struct vsw_lacp_member_status before, after;
    uint64_t sent = 0;

    vsw_lacp_member_status(lacp, 0, &before);
    ck_assert_msg(vsw_lacp_receive(lacp, 0, pdu, len, CHECK_TIME) == result,
                  "%s", what);
    vsw_lacp_run(lacp, CHECK_TIME, count_send, &sent);
    vsw_lacp_member_status(lacp, 0, &after);
    ck_assert_msg(after.rx_bad == before.rx_bad + (result == -EINVAL),
                  "%s: rx_bad", what);
    after.rx_bad = before.rx_bad;
    ck_assert_msg(!memcmp(&before, &after, sizeof before), "%s: changed",
                  what);
    ck_assert_msg(sent == 0, "%s: sent", what);
}

START_TEST(test_malformed)
{
    struct vsw_lacp *lacp = lone_member();
    uint64_t sent = 0, random_state = 0x1ac9;
    uint8_t pdu[VSW_LACP_PDU_LEN + 1];

    vsw_lacp_receive(lacp, 0, sample_pdu, sizeof sample_pdu, 2 * SEC);
    vsw_lacp_run(lacp, 2 * SEC, count_send, &sent);
    ck_assert(vsw_lacp_member_distributing(lacp, 0));

    for (size_t i = 0; i < sizeof spoils / sizeof spoils[0]; i++) {
        const struct spoil *s = &spoils[i];

        memcpy(pdu, sample_pdu, sizeof sample_pdu);
        if (s->offset >= 0) {
            pdu[s->offset] = s->value;
        }
        if (s->result) {
            check_refused(lacp, pdu, s->len, s->result, s->what);
        } else {
            ck_assert_msg(vsw_lacp_receive(lacp, 0, pdu, s->len, CHECK_TIME) ==
                              0,
                          "%s", s->what);
        }
    }

    /* Garbage: random bytes after a LACP subtype and version. */
    for (int i = 0; i < 2000; i++) {
        size_t len = next_random(&random_state) % sizeof pdu;

        for (size_t b = 0; b < sizeof pdu; b++) {
            pdu[b] = (uint8_t)next_random(&random_state);
        }
        pdu[0] = 1;
        pdu[1] = 1;
        check_refused(lacp, pdu, len, -EINVAL, "garbage");
    }
    ck_assert(vsw_lacp_member_distributing(lacp, 0));
    vsw_lacp_destroy(lacp);
}
END_TEST

START_TEST(test_individual_partner)
{
    struct vsw_lacp *lacp = lone_member();
    struct vsw_lacp_member_status st;
    uint64_t sent = 0;
    uint8_t pdu[VSW_LACP_PDU_LEN];

    memcpy(pdu, sample_pdu, sizeof pdu);
    pdu[18] &= (uint8_t)~VSW_LACP_STATE_AGGREGATION;
    ck_assert_int_eq(vsw_lacp_receive(lacp, 0, pdu, sizeof pdu, SEC), 0);
    vsw_lacp_run(lacp, SEC, count_send, &sent);
    ck_assert_int_eq(vsw_lacp_member_status(lacp, 0, &st), 0);
    ck_assert(st.current && !st.selected && !st.distributing);
    ck_assert_int_eq(st.why, VSW_LACP_WHY_INDIVIDUAL);
    ck_assert_str_eq(vsw_lacp_why_name(st.why), "individual");
    vsw_lacp_destroy(lacp);
}
END_TEST

START_TEST(test_loopback)
{
    struct vsw_lacp_settings a = settings_for(0xa, 10, true);
    struct vsw_lacp_settings b = settings_for(0xb, 20, true);
    struct vsw_lacp_member_status st;
    struct net net;

    /* Members 0 and 1 of side 0 cabled to each other, member 2 to side
     * 1: the looped pair hears itself and stays out; member 2 works. */
    memset(&net, 0, sizeof net);
    net.now = SEC;
    net_add_side(&net, &a, 3);
    net_add_side(&net, &b, 1);
    net_connect(&net, 0, 0, 0, 1);
    net_connect(&net, 0, 2, 1, 0);
    net_all_up(&net);
    net_advance_to(&net, net.now + 5 * SEC);
    for (unsigned m = 0; m < 2; m++) {
        st = status_of(&net, 0, m);
        ck_assert(st.current && !st.selected && !st.distributing);
        ck_assert_int_eq(st.why, VSW_LACP_WHY_INDIVIDUAL);
        ck_assert_mem_eq(st.partner.system_mac, a.system_mac, 6);
    }
    ck_assert(distributing(&net, 0, 2) && distributing(&net, 1, 0));
    net_destroy(&net);
}
END_TEST

START_TEST(test_members)
{
    struct vsw_lacp_settings s = settings_for(1, 1, true);
    struct vsw_lacp *lacp = vsw_lacp_create(&s);
    struct vsw_lacp_member_status st;

    ck_assert_int_eq(vsw_lacp_member_add(lacp, 0, 1, 128), 0);
    ck_assert_int_eq(vsw_lacp_member_add(lacp, 0, 2, 128), -EEXIST);
    ck_assert_int_eq(vsw_lacp_member_add(lacp, 1, 1, 128), -EINVAL);
    ck_assert_int_eq(vsw_lacp_member_add(lacp, 1, 0, 128), -EINVAL);
    ck_assert_int_eq(vsw_lacp_member_add(lacp, VSW_LACP_MAX_MEMBERS, 3, 128),
                     -EINVAL);
    ck_assert_int_eq(vsw_lacp_member_status(lacp, 1, &st), -ENOENT);
    ck_assert_int_eq(
        vsw_lacp_receive(lacp, 1, sample_pdu, sizeof sample_pdu, SEC),
        -EINVAL);
    vsw_lacp_member_remove(lacp, 0);
    vsw_lacp_member_remove(lacp, 0);
    ck_assert_int_eq(vsw_lacp_member_status(lacp, 0, &st), -ENOENT);
    ck_assert_int_eq(vsw_lacp_member_add(lacp, 5, 1, 128), 0);
    vsw_lacp_destroy(lacp);
    vsw_lacp_destroy(NULL);
}
END_TEST

int
main(void)
{
    Suite *suite = suite_create("lacp");
    TCase *tc = tcase_create("lacp");
    SRunner *runner;
    int failed;

    tcase_add_test(tc, test_negotiation);
    tcase_add_test(tc, test_fast_timeout);
    tcase_add_test(tc, test_slow_timeout);
    tcase_add_test(tc, test_periodic_rates);
    tcase_add_test(tc, test_ntt_rate_limit);
    tcase_add_test(tc, test_carrier_down_leaves_at_once);
    tcase_add_test(tc, test_partner_differs);
    tcase_add_test(tc, test_parser_layout);
    tcase_add_test(tc, test_encoder_layout);
    tcase_add_test(tc, test_malformed);
    tcase_add_test(tc, test_individual_partner);
    tcase_add_test(tc, test_loopback);
    tcase_add_test(tc, test_members);
    suite_add_tcase(suite, tc);
    runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
