/*
 * LACP (IEEE 802.1AX-2014 §6.4) for one team: the actor's side of the
 * Link Aggregation Control Protocol, for the members of one aggregator.
 *
 * Pure logic: no sockets, no clock, no threads.  The caller (the team
 * module on the control thread) feeds it what a member received, the
 * carrier of each member and the current time in nanoseconds, and sends
 * the LACPDUs it is handed.  So the unit tests drive it with a virtual
 * clock, and 30 s timers run in microseconds.
 *
 * What it implements:
 *  - receive machine: CURRENT / EXPIRED / DEFAULTED / PORT_DISABLED, with
 *    the partner's information recorded from each valid LACPDU and timed
 *    out after 3 periodic intervals (3 s fast, 90 s slow); EXPIRED asks the
 *    partner for fast LACPDUs (our Timeout bit set) while it waits;
 *  - periodic machine: every 1 s when the partner asked for fast
 *    (its Timeout bit), every 30 s otherwise; none while the member has
 *    no carrier;
 *  - transmit: at most 3 LACPDUs per fast-periodic second, immediately
 *    when the actor's information changes (NTT), never faster;
 *  - selection: the team has one aggregator.  A member may join it when
 *    its partner is known (CURRENT), aggregatable (its Aggregation bit),
 *    and has the same partner system id and key as the aggregator's.
 *    Which partner the aggregator follows: that of the member with the
 *    best (lowest) partner system priority, then system MAC, then our
 *    port priority and port number, among members that could join.
 *    Members whose partner differs are not selected, with a reason;
 *  - mux (coupled control): a selected member whose partner is in sync
 *    goes COLLECTING_DISTRIBUTING at once; it stops when it is no longer
 *    selected or the partner leaves sync.
 * Only members that are Collecting and Distributing carry traffic.
 *
 * Threads: one struct vsw_lacp belongs to one thread (the control thread).
 */
#ifndef VSW_LACP_H
#define VSW_LACP_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Slow protocols (IEEE 802.3 Annex 57A): the Ethernet type and the
 * multicast address LACPDUs are sent to. */
#define VSW_LACP_ETHERTYPE 0x8809
extern const uint8_t vsw_lacp_dst_mac[6]; /* 01:80:c2:00:00:02 */

/* Bytes of an LACPDU after the Ethernet header: subtype 1 through the
 * terminator and its 50 reserved bytes. */
#define VSW_LACP_PDU_LEN 110

/* Members one team may have. */
#define VSW_LACP_MAX_MEMBERS 16

/* Actor and partner state bits (802.1AX §6.4.2.3, "Actor_State"). */
#define VSW_LACP_STATE_ACTIVITY        0x01 /* active LACP */
#define VSW_LACP_STATE_TIMEOUT         0x02 /* short (fast) timeout */
#define VSW_LACP_STATE_AGGREGATION     0x04 /* aggregatable */
#define VSW_LACP_STATE_SYNCHRONIZATION 0x08 /* in sync */
#define VSW_LACP_STATE_COLLECTING      0x10
#define VSW_LACP_STATE_DISTRIBUTING    0x20
#define VSW_LACP_STATE_DEFAULTED       0x40
#define VSW_LACP_STATE_EXPIRED         0x80

/* Periodic intervals and timeouts. */
#define VSW_LACP_FAST_PERIOD_NS  1000000000ULL  /* 1 s */
#define VSW_LACP_SLOW_PERIOD_NS  30000000000ULL /* 30 s */
#define VSW_LACP_FAST_TIMEOUT_NS 3000000000ULL  /* 3 s */
#define VSW_LACP_SLOW_TIMEOUT_NS 90000000000ULL /* 90 s */

/* What one side of a link says about itself in an LACPDU. */
struct vsw_lacp_info {
    uint16_t system_priority;
    uint8_t system_mac[6];
    uint16_t key;
    uint16_t port_priority;
    uint16_t port_number;
    uint8_t state; /* VSW_LACP_STATE_* bits */
};

/* The team's LACP settings. */
struct vsw_lacp_settings {
    uint16_t system_priority; /* 1..65535, lower wins */
    uint8_t system_mac[6];    /* our system id */
    uint16_t key;             /* our operational key for every member */
    bool fast;                /* ask the partner for fast LACPDUs (our
                                 Timeout bit) and time it out in 3 s */
    bool active;              /* send LACPDUs even to a silent partner
                                 (always true for teams; false in tests) */
};

/* Why a member does not carry traffic, or "" when it does. */
enum vsw_lacp_why {
    VSW_LACP_WHY_NONE,             /* collecting and distributing */
    VSW_LACP_WHY_LINK_DOWN,        /* no carrier */
    VSW_LACP_WHY_NO_PARTNER,       /* no LACPDU received yet (defaulted) */
    VSW_LACP_WHY_EXPIRED,          /* the partner's LACPDUs stopped */
    VSW_LACP_WHY_PARTNER_DIFFERS,  /* partner system or key not the
                                      aggregator's */
    VSW_LACP_WHY_INDIVIDUAL,       /* partner says not aggregatable, or
                                      is our own system (loopback) */
    VSW_LACP_WHY_PARTNER_NOT_SYNC, /* selected, the partner not in sync
                                      (or not collecting) yet */
};

/* Name of a reason, for the API: "", "link-down", "no-partner",
 * "expired", "partner-differs", "individual", "partner-not-in-sync". */
const char *vsw_lacp_why_name(enum vsw_lacp_why why);

/* What vsw_lacp_member_status() reports. */
struct vsw_lacp_member_status {
    struct vsw_lacp_info actor;   /* what we send now */
    struct vsw_lacp_info partner; /* what we last recorded (all zero and
                                     DEFAULTED without one) */
    bool current;                 /* partner information is current */
    bool selected;                /* member of the aggregator */
    bool distributing;            /* collecting and distributing */
    enum vsw_lacp_why why;        /* why not, VSW_LACP_WHY_NONE if it is */
    uint64_t rx_lacpdus;          /* valid LACPDUs received */
    uint64_t rx_bad;              /* received and refused: malformed, bad
                                     version or lengths, not LACP */
    uint64_t tx_lacpdus;          /* handed to the send callback */
};

struct vsw_lacp;

/* Creates LACP with no members.  Returns NULL on allocation failure. */
struct vsw_lacp *vsw_lacp_create(const struct vsw_lacp_settings *settings);
void vsw_lacp_destroy(struct vsw_lacp *lacp); /* NULL allowed */

/* Changes the settings (rate, key, system); the actor's new information
 * goes out at the next vsw_lacp_run() on every member. */
void vsw_lacp_configure(struct vsw_lacp *lacp,
                        const struct vsw_lacp_settings *settings);

/* Adds member 'member' (0..VSW_LACP_MAX_MEMBERS-1, the caller's index)
 * with port number 'port_number' (1..65535, unique in the team) and
 * priority 'port_priority', carrier down, no partner.  Returns 0, or
 * -EEXIST / -EINVAL. */
int vsw_lacp_member_add(struct vsw_lacp *lacp, unsigned member,
                        uint16_t port_number, uint16_t port_priority);
void vsw_lacp_member_remove(struct vsw_lacp *lacp, unsigned member);

/* Carrier of a member changed (rtnetlink).  Down: the member leaves the
 * aggregator at once and forgets its partner (PORT_DISABLED). */
void vsw_lacp_member_set_carrier(struct vsw_lacp *lacp, unsigned member,
                                 bool up, uint64_t now_ns);

/* A frame of the slow protocols received on 'member': 'pdu' points after
 * the Ethernet header (at the subtype), 'len' bytes.  Returns 0 if it was
 * a valid LACPDU (recorded), -EPROTO if it is another slow protocol
 * (marker: ignored, not counted as bad), -EINVAL if malformed (counted
 * in rx_bad, nothing changes) or if 'member' was never added (nothing
 * counted).  A valid LACPDU on a member without carrier is counted and
 * otherwise ignored (PORT_DISABLED).  What it leads to (selection, mux,
 * a reply) happens in the next vsw_lacp_run(), which the caller should
 * make at once, as after a carrier change. */
int vsw_lacp_receive(struct vsw_lacp *lacp, unsigned member,
                     const uint8_t *pdu, size_t len, uint64_t now_ns);

/* Called by vsw_lacp_run() for each LACPDU to send: 'pdu' is
 * VSW_LACP_PDU_LEN bytes to put after an Ethernet header with
 * destination vsw_lacp_dst_mac, the member's source MAC and type
 * VSW_LACP_ETHERTYPE. */
typedef void vsw_lacp_send_fn(unsigned member, const uint8_t *pdu, size_t len,
                              void *aux);

/* Runs the state machines up to 'now_ns' (timeouts, selection, mux,
 * periodic and immediate transmissions through 'send').  Returns the
 * time at which it wants to run next (never later than the next timer;
 * the caller may always call it earlier). */
uint64_t vsw_lacp_run(struct vsw_lacp *lacp, uint64_t now_ns,
                      vsw_lacp_send_fn *send, void *aux);

/* A counter that changes whenever any member starts or stops
 * distributing, so the caller knows when to republish which members
 * carry traffic. */
uint64_t vsw_lacp_generation(const struct vsw_lacp *lacp);

/* True if 'member' is Collecting and Distributing. */
bool vsw_lacp_member_distributing(const struct vsw_lacp *lacp,
                                  unsigned member);

/* Fills 'status' for 'member'.  Returns 0 or -ENOENT. */
int vsw_lacp_member_status(const struct vsw_lacp *lacp, unsigned member,
                           struct vsw_lacp_member_status *status);

#endif /* VSW_LACP_H */
