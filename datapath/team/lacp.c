/*
 * LACP (IEEE 802.1AX) for one team: the LACPDU codec and the receive,
 * periodic, transmit, selection and mux machines of lacp.h.
 *
 * Every timer is a deadline in nanoseconds on the caller's clock, and
 * each machine advances from deadline to deadline rather than from "now",
 * so a caller (or a test) that calls vsw_lacp_run() late, or jumps its
 * clock, sees the same transitions it would have seen on time.
 */
#include "lacp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const uint8_t vsw_lacp_dst_mac[6] = {0x01, 0x80, 0xc2, 0x00, 0x00, 0x02};

/* Slow protocol subtypes (IEEE 802.3 Annex 57A). */
#define SUBTYPE_LACP   1
#define SUBTYPE_MARKER 2
#define SUBTYPE_OAM    3
#define SUBTYPE_OSSP   10

#define LACP_VERSION 1

/* TLVs of an LACPDU: type and length, the length counting the two bytes
 * of type and length themselves. */
#define TLV_TERMINATOR      0
#define TLV_ACTOR           1
#define TLV_PARTNER         2
#define TLV_COLLECTOR       3
#define INFO_TLV_LEN        20
#define COLLECTOR_TLV_LEN   16
#define TERMINATOR_TLV_LEN  0
#define TERMINATOR_RESERVED 50

/* Offsets in the LACPDU (after the Ethernet header). */
#define OFS_SUBTYPE    0
#define OFS_VERSION    1
#define OFS_ACTOR      2  /* actor TLV, INFO_TLV_LEN bytes */
#define OFS_PARTNER    22 /* partner TLV, INFO_TLV_LEN bytes */
#define OFS_COLLECTOR  42 /* collector TLV, COLLECTOR_TLV_LEN bytes */
#define OFS_TERMINATOR 58 /* terminator TLV, then 50 reserved bytes */

/* Collector max delay we announce, in tens of microseconds: we deliver a
 * frame as soon as it is received. */
#define COLLECTOR_MAX_DELAY 0

/* LACPDUs a member may send within one fast periodic interval. */
#define TX_BURST 3

/* The receive machine's states (802.1AX §6.4.12). */
enum rx_state {
    RX_PORT_DISABLED, /* no carrier: partner forgotten */
    RX_DEFAULTED,     /* no partner information */
    RX_CURRENT,       /* partner information fresh */
    RX_EXPIRED,       /* partner silent for a timeout; one short timeout
                         more before DEFAULTED */
};

/* One member of the team. */
struct lacp_member {
    bool in_use;                    /* added and not removed */
    bool carrier;                   /* link up */
    uint16_t port_number;           /* ours, 1..65535 */
    uint16_t port_priority;         /* ours */
    enum rx_state rx_state;         /* receive machine */
    uint64_t rx_deadline_ns;        /* CURRENT: when it expires; EXPIRED:
                                       when it defaults */
    struct vsw_lacp_info partner;   /* recorded (operational) partner; zero
                                       unless CURRENT or EXPIRED */
    bool selected;                  /* member of the aggregator */
    bool collecting_distributing;   /* mux state: carries traffic */
    enum vsw_lacp_why why;          /* why not, as of the last run */
    bool ntt;                       /* need to transmit */
    struct vsw_lacp_info sent;      /* actor information last sent */
    bool sent_once;                 /* 'sent' and 'last_tx_ns' are valid */
    uint64_t last_tx_ns;            /* time of the last LACPDU sent */
    uint64_t tx_times_ns[TX_BURST]; /* the last TX_BURST transmissions,
                                       a ring, for the rate limit */
    unsigned tx_ring_next;          /* next slot of 'tx_times_ns' */
    unsigned tx_ring_used;          /* slots filled, up to TX_BURST */
    uint64_t rx_lacpdus;            /* valid LACPDUs received */
    uint64_t rx_bad;                /* refused */
    uint64_t tx_lacpdus;            /* handed to the send callback */
};

struct vsw_lacp {
    struct vsw_lacp_settings settings;                /* as configured */
    struct lacp_member members[VSW_LACP_MAX_MEMBERS]; /* by caller index */
    uint64_t generation; /* bumped when any member's distributing flips */
};

const char *
vsw_lacp_why_name(enum vsw_lacp_why why)
{
    switch (why) {
    case VSW_LACP_WHY_NONE:
        return "";
    case VSW_LACP_WHY_LINK_DOWN:
        return "link-down";
    case VSW_LACP_WHY_NO_PARTNER:
        return "no-partner";
    case VSW_LACP_WHY_EXPIRED:
        return "expired";
    case VSW_LACP_WHY_PARTNER_DIFFERS:
        return "partner-differs";
    case VSW_LACP_WHY_INDIVIDUAL:
        return "individual";
    case VSW_LACP_WHY_PARTNER_NOT_SYNC:
        return "partner-not-in-sync";
    }
    return "unknown";
}

struct vsw_lacp *
vsw_lacp_create(const struct vsw_lacp_settings *settings)
{
    struct vsw_lacp *lacp = calloc(1, sizeof *lacp);

    if (lacp) {
        lacp->settings = *settings;
    }
    return lacp;
}

void
vsw_lacp_destroy(struct vsw_lacp *lacp)
{
    free(lacp);
}

void
vsw_lacp_configure(struct vsw_lacp *lacp,
                   const struct vsw_lacp_settings *settings)
{
    lacp->settings = *settings;
}

static struct lacp_member *
member_lookup(struct vsw_lacp *lacp, unsigned member)
{
    if (member >= VSW_LACP_MAX_MEMBERS || !lacp->members[member].in_use) {
        return NULL;
    }
    return &lacp->members[member];
}

static const struct lacp_member *
member_lookup_const(const struct vsw_lacp *lacp, unsigned member)
{
    return member_lookup((struct vsw_lacp *)lacp, member);
}

/* Sets 'm''s mux state, counting a change in the generation. */
static void
member_set_distributing(struct vsw_lacp *lacp, struct lacp_member *m,
                        bool distributing)
{
    if (m->collecting_distributing != distributing) {
        m->collecting_distributing = distributing;
        lacp->generation++;
    }
}

/* PORT_DISABLED: out of the aggregator, partner forgotten. */
static void
member_disable(struct vsw_lacp *lacp, struct lacp_member *m)
{
    m->rx_state = RX_PORT_DISABLED;
    memset(&m->partner, 0, sizeof m->partner);
    m->selected = false;
    member_set_distributing(lacp, m, false);
    m->why = VSW_LACP_WHY_LINK_DOWN;
}

int
vsw_lacp_member_add(struct vsw_lacp *lacp, unsigned member,
                    uint16_t port_number, uint16_t port_priority)
{
    struct lacp_member *m;

    if (member >= VSW_LACP_MAX_MEMBERS || !port_number) {
        return -EINVAL;
    }
    if (lacp->members[member].in_use) {
        return -EEXIST;
    }
    for (unsigned i = 0; i < VSW_LACP_MAX_MEMBERS; i++) {
        if (lacp->members[i].in_use &&
            lacp->members[i].port_number == port_number) {
            return -EINVAL;
        }
    }
    m = &lacp->members[member];
    memset(m, 0, sizeof *m);
    m->in_use = true;
    m->port_number = port_number;
    m->port_priority = port_priority;
    member_disable(lacp, m);
    return 0;
}

void
vsw_lacp_member_remove(struct vsw_lacp *lacp, unsigned member)
{
    struct lacp_member *m = member_lookup(lacp, member);

    if (m) {
        member_set_distributing(lacp, m, false);
        memset(m, 0, sizeof *m);
    }
}

void
vsw_lacp_member_set_carrier(struct vsw_lacp *lacp, unsigned member, bool up,
                            uint64_t now_ns)
{
    struct lacp_member *m = member_lookup(lacp, member);

    (void)now_ns;
    if (!m || m->carrier == up) {
        return;
    }
    m->carrier = up;
    if (up) {
        /* A link that comes up starts without a partner and tells the
         * other end about itself at once. */
        m->rx_state = RX_DEFAULTED;
        m->why = VSW_LACP_WHY_NO_PARTNER;
        m->ntt = true;
    } else {
        member_disable(lacp, m);
    }
}

static uint16_t
get_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void
put_be16(uint8_t *p, uint16_t value)
{
    p[0] = (uint8_t)(value >> 8);
    p[1] = (uint8_t)value;
}

/* Decodes the actor or partner information TLV at 'tlv' of type
 * 'type'.  Returns false if its type or length is wrong. */
static bool
info_decode(const uint8_t *tlv, uint8_t type, struct vsw_lacp_info *info)
{
    if (tlv[0] != type || tlv[1] != INFO_TLV_LEN) {
        return false;
    }
    info->system_priority = get_be16(tlv + 2);
    memcpy(info->system_mac, tlv + 4, 6);
    info->key = get_be16(tlv + 10);
    info->port_priority = get_be16(tlv + 12);
    info->port_number = get_be16(tlv + 14);
    info->state = tlv[16];
    return true;
}

static void
info_encode(uint8_t *tlv, uint8_t type, const struct vsw_lacp_info *info)
{
    tlv[0] = type;
    tlv[1] = INFO_TLV_LEN;
    put_be16(tlv + 2, info->system_priority);
    memcpy(tlv + 4, info->system_mac, 6);
    put_be16(tlv + 10, info->key);
    put_be16(tlv + 12, info->port_priority);
    put_be16(tlv + 14, info->port_number);
    tlv[16] = info->state;
    /* tlv[17..19] reserved, zero. */
}

/* Decodes the LACPDU 'pdu' of 'len' bytes into 'actor' and 'partner'.
 * Returns 0, -EPROTO for another slow protocol or -EINVAL.  Bytes after
 * the 110 of an LACPDU (Ethernet padding) are ignored, and so are the
 * reserved fields' contents, as 802.1AX asks of a receiver. */
static int
pdu_decode(const uint8_t *pdu, size_t len, struct vsw_lacp_info *actor,
           struct vsw_lacp_info *partner)
{
    memset(actor, 0, sizeof *actor);
    memset(partner, 0, sizeof *partner);
    if (len < 1) {
        return -EINVAL;
    }
    switch (pdu[OFS_SUBTYPE]) {
    case SUBTYPE_LACP:
        break;
    case SUBTYPE_MARKER:
    case SUBTYPE_OAM:
    case SUBTYPE_OSSP:
        return -EPROTO;
    default:
        return -EINVAL;
    }
    if (len < VSW_LACP_PDU_LEN || pdu[OFS_VERSION] != LACP_VERSION ||
        !info_decode(pdu + OFS_ACTOR, TLV_ACTOR, actor) ||
        !info_decode(pdu + OFS_PARTNER, TLV_PARTNER, partner) ||
        pdu[OFS_COLLECTOR] != TLV_COLLECTOR ||
        pdu[OFS_COLLECTOR + 1] != COLLECTOR_TLV_LEN ||
        pdu[OFS_TERMINATOR] != TLV_TERMINATOR ||
        pdu[OFS_TERMINATOR + 1] != TERMINATOR_TLV_LEN) {
        return -EINVAL;
    }
    return 0;
}

/* Encodes an LACPDU from 'actor' and 'partner' into 'pdu'
 * (VSW_LACP_PDU_LEN bytes). */
static void
pdu_encode(uint8_t *pdu, const struct vsw_lacp_info *actor,
           const struct vsw_lacp_info *partner)
{
    memset(pdu, 0, VSW_LACP_PDU_LEN);
    pdu[OFS_SUBTYPE] = SUBTYPE_LACP;
    pdu[OFS_VERSION] = LACP_VERSION;
    info_encode(pdu + OFS_ACTOR, TLV_ACTOR, actor);
    info_encode(pdu + OFS_PARTNER, TLV_PARTNER, partner);
    pdu[OFS_COLLECTOR] = TLV_COLLECTOR;
    pdu[OFS_COLLECTOR + 1] = COLLECTOR_TLV_LEN;
    put_be16(pdu + OFS_COLLECTOR + 2, COLLECTOR_MAX_DELAY);
    pdu[OFS_TERMINATOR] = TLV_TERMINATOR;
    pdu[OFS_TERMINATOR + 1] = TERMINATOR_TLV_LEN;
}

/* The timeout of partner information: our Timeout bit's. */
static uint64_t
current_timeout_ns(const struct vsw_lacp *lacp)
{
    return lacp->settings.fast ? VSW_LACP_FAST_TIMEOUT_NS
                               : VSW_LACP_SLOW_TIMEOUT_NS;
}

/* The actor information 'm' sends now. */
static void
actor_info(const struct vsw_lacp *lacp, const struct lacp_member *m,
           struct vsw_lacp_info *info)
{
    uint8_t state = VSW_LACP_STATE_AGGREGATION;

    if (lacp->settings.active) {
        state |= VSW_LACP_STATE_ACTIVITY;
    }
    if (lacp->settings.fast || m->rx_state == RX_EXPIRED) {
        state |= VSW_LACP_STATE_TIMEOUT;
    }
    if (m->selected) {
        state |= VSW_LACP_STATE_SYNCHRONIZATION;
    }
    if (m->collecting_distributing) {
        state |= VSW_LACP_STATE_COLLECTING | VSW_LACP_STATE_DISTRIBUTING;
    }
    if (m->rx_state == RX_DEFAULTED || m->rx_state == RX_PORT_DISABLED) {
        state |= VSW_LACP_STATE_DEFAULTED;
    }
    if (m->rx_state == RX_EXPIRED) {
        state |= VSW_LACP_STATE_EXPIRED;
    }
    memset(info, 0, sizeof *info);
    info->system_priority = lacp->settings.system_priority;
    memcpy(info->system_mac, lacp->settings.system_mac, 6);
    info->key = lacp->settings.key;
    info->port_priority = m->port_priority;
    info->port_number = m->port_number;
    info->state = state;
}

/* Compared member by member: the structs have padding. */
static bool
info_equal(const struct vsw_lacp_info *a, const struct vsw_lacp_info *b)
{
    return a->system_priority == b->system_priority &&
           !memcmp(a->system_mac, b->system_mac, 6) && a->key == b->key &&
           a->port_priority == b->port_priority &&
           a->port_number == b->port_number && a->state == b->state;
}

/* The state bits whose change in the partner's view of us needs a new
 * LACPDU (802.1AX update_NTT). */
#define NTT_STATE_BITS                                                        \
    (VSW_LACP_STATE_ACTIVITY | VSW_LACP_STATE_TIMEOUT |                       \
     VSW_LACP_STATE_AGGREGATION | VSW_LACP_STATE_SYNCHRONIZATION)

/* True if 'view' (what the partner says about us) differs from 'actor'
 * in what the partner must know. */
static bool
partner_view_stale(const struct vsw_lacp_info *view,
                   const struct vsw_lacp_info *actor)
{
    return view->system_priority != actor->system_priority ||
           memcmp(view->system_mac, actor->system_mac, 6) ||
           view->key != actor->key ||
           view->port_priority != actor->port_priority ||
           view->port_number != actor->port_number ||
           (view->state & NTT_STATE_BITS) != (actor->state & NTT_STATE_BITS);
}

int
vsw_lacp_receive(struct vsw_lacp *lacp, unsigned member, const uint8_t *pdu,
                 size_t len, uint64_t now_ns)
{
    struct lacp_member *m = member_lookup(lacp, member);
    struct vsw_lacp_info actor, partner, us;
    int error;

    if (!m) {
        return -EINVAL;
    }
    error = pdu_decode(pdu, len, &actor, &partner);
    if (error) {
        if (error == -EINVAL) {
            m->rx_bad++;
        }
        return error;
    }
    m->rx_lacpdus++;
    if (!m->carrier) {
        /* PORT_DISABLED records nothing; the carrier event that must
         * follow a received frame starts the member afresh. */
        return 0;
    }
    m->partner = actor;
    m->rx_state = RX_CURRENT;
    m->rx_deadline_ns = now_ns + current_timeout_ns(lacp);
    actor_info(lacp, m, &us);
    if (partner_view_stale(&partner, &us)) {
        m->ntt = true;
    }
    return 0;
}

/* Advances 'm''s receive machine to 'now_ns' (timeouts). */
static void
rx_timers_run(struct lacp_member *m, uint64_t now_ns)
{
    if (m->rx_state == RX_CURRENT && now_ns >= m->rx_deadline_ns) {
        /* EXPIRED: the partner is taken out of sync and asked (through
         * our Timeout bit) for fast LACPDUs while a short timeout runs. */
        m->rx_state = RX_EXPIRED;
        m->partner.state &= (uint8_t)~VSW_LACP_STATE_SYNCHRONIZATION;
        m->partner.state |= VSW_LACP_STATE_TIMEOUT;
        m->rx_deadline_ns += VSW_LACP_FAST_TIMEOUT_NS;
    }
    if (m->rx_state == RX_EXPIRED && now_ns >= m->rx_deadline_ns) {
        m->rx_state = RX_DEFAULTED;
        memset(&m->partner, 0, sizeof m->partner);
    }
}

/* True if 'm''s partner is our own system: the member hears our own
 * LACPDUs (two members cabled together, or a switch that reflects
 * them).  Aggregating it would loop the team into itself. */
static bool
member_looped(const struct vsw_lacp *lacp, const struct lacp_member *m)
{
    return m->partner.system_priority == lacp->settings.system_priority &&
           !memcmp(m->partner.system_mac, lacp->settings.system_mac, 6);
}

/* True if 'm''s partner may join an aggregator at all. */
static bool
member_aggregatable(const struct vsw_lacp *lacp, const struct lacp_member *m)
{
    return m->carrier && m->rx_state == RX_CURRENT &&
           m->partner.state & VSW_LACP_STATE_AGGREGATION &&
           !member_looped(lacp, m);
}

/* Orders two candidates for leading the aggregator: negative if 'a' is
 * better (its partner system lower, then our port). */
static int
lead_compare(const struct lacp_member *a, const struct lacp_member *b)
{
    int cmp;

    if (a->partner.system_priority != b->partner.system_priority) {
        return a->partner.system_priority < b->partner.system_priority ? -1
                                                                       : 1;
    }
    cmp = memcmp(a->partner.system_mac, b->partner.system_mac, 6);
    if (cmp) {
        return cmp;
    }
    if (a->port_priority != b->port_priority) {
        return a->port_priority < b->port_priority ? -1 : 1;
    }
    return a->port_number < b->port_number ? -1 : 1;
}

static bool
same_partner(const struct vsw_lacp_info *a, const struct vsw_lacp_info *b)
{
    return a->system_priority == b->system_priority &&
           !memcmp(a->system_mac, b->system_mac, 6) && a->key == b->key;
}

/* Selection and mux: which members the aggregator has, which of them
 * carry traffic, and why the others do not. */
static void
select_and_mux(struct vsw_lacp *lacp)
{
    const struct lacp_member *lead = NULL;

    for (unsigned i = 0; i < VSW_LACP_MAX_MEMBERS; i++) {
        const struct lacp_member *m = &lacp->members[i];

        if (m->in_use && member_aggregatable(lacp, m) &&
            (!lead || lead_compare(m, lead) < 0)) {
            lead = m;
        }
    }
    for (unsigned i = 0; i < VSW_LACP_MAX_MEMBERS; i++) {
        struct lacp_member *m = &lacp->members[i];
        bool partner_sync;

        if (!m->in_use) {
            continue;
        }
        m->selected = lead && member_aggregatable(lacp, m) &&
                      same_partner(&m->partner, &lead->partner);
        partner_sync = m->partner.state & VSW_LACP_STATE_SYNCHRONIZATION;
        member_set_distributing(lacp, m, m->selected && partner_sync);

        if (!m->carrier) {
            m->why = VSW_LACP_WHY_LINK_DOWN;
        } else if (m->rx_state == RX_DEFAULTED) {
            m->why = VSW_LACP_WHY_NO_PARTNER;
        } else if (m->rx_state == RX_EXPIRED) {
            m->why = VSW_LACP_WHY_EXPIRED;
        } else if (!member_aggregatable(lacp, m)) {
            m->why = VSW_LACP_WHY_INDIVIDUAL;
        } else if (!m->selected) {
            m->why = VSW_LACP_WHY_PARTNER_DIFFERS;
        } else if (!m->collecting_distributing) {
            m->why = VSW_LACP_WHY_PARTNER_NOT_SYNC;
        } else {
            m->why = VSW_LACP_WHY_NONE;
        }
    }
}

/* True if 'm' sends LACPDUs at all: it has carrier and one of the two
 * ends is active. */
static bool
member_may_tx(const struct vsw_lacp *lacp, const struct lacp_member *m)
{
    return m->carrier && (lacp->settings.active ||
                          m->partner.state & VSW_LACP_STATE_ACTIVITY);
}

/* The periodic interval, set by the partner's Timeout bit. */
static uint64_t
periodic_interval_ns(const struct lacp_member *m)
{
    return m->partner.state & VSW_LACP_STATE_TIMEOUT ? VSW_LACP_FAST_PERIOD_NS
                                                     : VSW_LACP_SLOW_PERIOD_NS;
}

/* The earliest time the rate limit lets 'm' send. */
static uint64_t
tx_allowed_at(const struct lacp_member *m)
{
    unsigned oldest;

    if (m->tx_ring_used < TX_BURST) {
        return 0;
    }
    oldest = m->tx_ring_next; /* the ring is full: next slot is oldest */
    return m->tx_times_ns[oldest] + VSW_LACP_FAST_PERIOD_NS;
}

/* Sends one LACPDU on member 'index' and records it. */
static void
member_tx(struct vsw_lacp *lacp, unsigned index,
          const struct vsw_lacp_info *actor, uint64_t now_ns,
          vsw_lacp_send_fn *send, void *aux)
{
    struct lacp_member *m = &lacp->members[index];
    uint8_t pdu[VSW_LACP_PDU_LEN];

    pdu_encode(pdu, actor, &m->partner);
    m->sent = *actor;
    m->sent_once = true;
    m->last_tx_ns = now_ns;
    m->ntt = false;
    m->tx_times_ns[m->tx_ring_next] = now_ns;
    m->tx_ring_next = (m->tx_ring_next + 1) % TX_BURST;
    if (m->tx_ring_used < TX_BURST) {
        m->tx_ring_used++;
    }
    m->tx_lacpdus++;
    send(index, pdu, sizeof pdu, aux);
}

static uint64_t
min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* Transmit and periodic machines of member 'index'; returns when it
 * next needs to send (UINT64_MAX: not before something changes). */
static uint64_t
tx_run(struct vsw_lacp *lacp, unsigned index, uint64_t now_ns,
       vsw_lacp_send_fn *send, void *aux)
{
    struct lacp_member *m = &lacp->members[index];
    struct vsw_lacp_info actor;
    uint64_t due;

    if (!member_may_tx(lacp, m)) {
        return UINT64_MAX;
    }
    actor_info(lacp, m, &actor);
    if (!m->sent_once || !info_equal(&actor, &m->sent)) {
        m->ntt = true;
    }
    due = m->ntt ? now_ns : m->last_tx_ns + periodic_interval_ns(m);
    due = due > tx_allowed_at(m) ? due : tx_allowed_at(m);
    if (due <= now_ns) {
        member_tx(lacp, index, &actor, now_ns, send, aux);
        due = m->last_tx_ns + periodic_interval_ns(m);
    }
    return due;
}

uint64_t
vsw_lacp_run(struct vsw_lacp *lacp, uint64_t now_ns, vsw_lacp_send_fn *send,
             void *aux)
{
    uint64_t next = UINT64_MAX;

    for (unsigned i = 0; i < VSW_LACP_MAX_MEMBERS; i++) {
        if (lacp->members[i].in_use) {
            rx_timers_run(&lacp->members[i], now_ns);
        }
    }
    select_and_mux(lacp);
    for (unsigned i = 0; i < VSW_LACP_MAX_MEMBERS; i++) {
        struct lacp_member *m = &lacp->members[i];

        if (!m->in_use) {
            continue;
        }
        next = min_u64(next, tx_run(lacp, i, now_ns, send, aux));
        if (m->rx_state == RX_CURRENT || m->rx_state == RX_EXPIRED) {
            next = min_u64(next, m->rx_deadline_ns);
        }
    }
    return next;
}

uint64_t
vsw_lacp_generation(const struct vsw_lacp *lacp)
{
    return lacp->generation;
}

bool
vsw_lacp_member_distributing(const struct vsw_lacp *lacp, unsigned member)
{
    const struct lacp_member *m = member_lookup_const(lacp, member);

    return m && m->collecting_distributing;
}

int
vsw_lacp_member_status(const struct vsw_lacp *lacp, unsigned member,
                       struct vsw_lacp_member_status *status)
{
    const struct lacp_member *m = member_lookup_const(lacp, member);

    if (!m) {
        return -ENOENT;
    }
    memset(status, 0, sizeof *status);
    actor_info(lacp, m, &status->actor);
    status->partner = m->partner;
    status->current = m->rx_state == RX_CURRENT;
    status->selected = m->selected;
    status->distributing = m->collecting_distributing;
    status->why = m->why;
    status->rx_lacpdus = m->rx_lacpdus;
    status->rx_bad = m->rx_bad;
    status->tx_lacpdus = m->tx_lacpdus;
    return 0;
}
