/*
 * Extended port ACLs (Hyper-V's Add-VMNetworkAdapterExtendedAcl): weighted
 * 5-tuple rules, optionally stateful, evaluated before the basic ACLs.
 *
 * A port's rules are compiled by the control thread into an immutable
 * table (vsw_xacl_compile()), published with the port's configuration
 * snapshot and freed after a grace period (rcu.h).  Workers evaluate it
 * concurrently without locks or allocation.
 *
 * Semantics:
 *   - Direction "in" is traffic toward the VM (the rule's local side is
 *     the destination), "out" traffic from the VM (local is the source).
 *   - Rules of one direction are tried by descending weight; the first
 *     that matches decides.  Weights are unique per direction.  No match
 *     is reported as VSW_XACL_NO_MATCH, distinct from an allow: the caller
 *     then runs the basic ACLs.
 *   - Only IPv4 and IPv6 packets are matched.  ARP and every other non-IP
 *     frame is VSW_XACL_NO_MATCH, so "deny everything but outbound web"
 *     leaves address resolution to the basic ACLs.  IPv6 neighbour
 *     discovery is ICMPv6 and so is matched: under a deny-all rule, keep
 *     it working with a higher-weight "allow in icmp" and "allow out
 *     icmp" pair (protocol "icmp", or 58 for ICMPv6 only; the remote
 *     address must stay ANY, ND goes to multicast groups).
 *   - Protocol "icmp" means ICMP on IPv4 and ICMPv6 on IPv6; a number
 *     means exactly that IP protocol (IPv6: the upper-layer header after
 *     the extension headers).
 *   - Ports: a rule with a port other than ANY needs protocol tcp, udp, 6,
 *     17 or ANY (then it matches TCP and UDP only).  The range 0-65535 is
 *     ANY.
 *   - A field the packet does not carry matches only ANY.  Later fragments
 *     and packets whose TCP/UDP header did not fit have no ports, so they
 *     match only rules whose ports are both ANY (a web server behind a
 *     deny-all that receives fragmented requests needs a rule with ANY
 *     ports for its peers).  An IP packet whose IP header itself did not
 *     parse matches only rules with ANY addresses, ports and protocol.
 *   - isolation-id N applies a rule only to packets of VLAN N (0: any).
 *   - A stateful allow rule that matches creates flow state (conntrack.h)
 *     admitting both directions of the packet's flow until it has been
 *     idle for the rule's timeout.  Flow state is consulted before the
 *     weighted walk, but only while the port's table has a stateful rule:
 *     replacing the rules by stateless ones stops admitting by state at
 *     once (the control thread may also flush the port's flows).
 *     Packets that cannot be tracked (later fragments, truncated headers:
 *     vsw_conntrack_can_track()) are admitted by such a rule but create
 *     no state.
 *
 * Caching verdicts (flow-cache.h): a verdict of vsw_xacl_evaluate() stays
 * right while the table and vsw_conntrack_generation() are unchanged (read
 * the generation before evaluating), except that a flow gone idle counts
 * as gone before expiry removes it and changes the generation.  And a
 * flow admitted by state must see its packets, or it expires under
 * traffic: a cache hit on a verdict with 'by_state' or 'state_created'
 * should call vsw_conntrack_lookup() for the packet (or such verdicts
 * should not be cached).
 */
#ifndef VSW_XACL_H
#define VSW_XACL_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conntrack.h"
#include "flow.h"

enum vsw_xacl_action {
    VSW_XACL_ACTION_ALLOW, /* admit the packet */
    VSW_XACL_ACTION_DENY,  /* drop it */
};

enum vsw_xacl_direction {
    VSW_XACL_DIR_IN,  /* toward the VM: local = destination */
    VSW_XACL_DIR_OUT, /* from the VM: local = source */
};

/* 'protocol' values beyond the IP protocol numbers 0..255. */
#define VSW_XACL_PROTO_ANY  (-1) /* every IP protocol */
#define VSW_XACL_PROTO_ICMP (-2) /* ICMP on IPv4, ICMPv6 on IPv6 */

#define VSW_XACL_DEFAULT_TIMEOUT_S 255
#define VSW_XACL_MAX_TIMEOUT_S     VSW_CONNTRACK_MAX_TIMEOUT_S

/* Most rules one table (one port, both directions) may hold. */
#define VSW_XACL_MAX_RULES 8192

/* An address or prefix a rule matches, or ANY. */
struct vsw_xacl_prefix {
    uint8_t family;   /* 0 = ANY (both families), 4 or 6 */
    uint8_t plen;     /* prefix length: 0..32 for 4, 0..128 for 6 */
    uint8_t addr[16]; /* network byte order, IPv4-mapped for 4, host
                         bits zero; all zero for ANY */
};

/* An inclusive port range; 0-65535 is ANY. */
struct vsw_xacl_ports {
    uint16_t lo; /* first port */
    uint16_t hi; /* last port, >= 'lo' */
};

/* One rule as configured.  Start from vsw_xacl_rule_init(). */
struct vsw_xacl_rule {
    uint8_t action;                     /* enum vsw_xacl_action */
    uint8_t direction;                  /* enum vsw_xacl_direction */
    uint16_t weight;                    /* priority, unique per direction:
                                           the rule's key */
    int16_t protocol;                   /* 0..255 or VSW_XACL_PROTO_* */
    uint16_t isolation_id;              /* VLAN the rule applies to,
                                           1..4094, or 0 for every VLAN */
    struct vsw_xacl_prefix local_addr;  /* the VM's side */
    struct vsw_xacl_prefix remote_addr; /* the peer's side */
    struct vsw_xacl_ports local_port;   /* the VM's port */
    struct vsw_xacl_ports remote_port;  /* the peer's port */
    bool stateful;                      /* allow only: create flow state */
    uint32_t idle_timeout_s;            /* flow state idle timeout, 1 ..
                                           VSW_XACL_MAX_TIMEOUT_S; read only
                                           when 'stateful' */
};

/* What a classification decided. */
enum vsw_xacl_verdict {
    VSW_XACL_NO_MATCH, /* no rule matched: the basic ACLs decide */
    VSW_XACL_ALLOW,    /* admitted, by a rule or by flow state */
    VSW_XACL_DENY,     /* denied by a rule */
};

/* 'rule_index' when no rule decided. */
#define VSW_XACL_NO_RULE UINT32_MAX

/* The details of a verdict, for counters and traces. */
struct vsw_xacl_result {
    uint8_t verdict;         /* enum vsw_xacl_verdict, as returned */
    bool by_state;           /* admitted by flow state; no rule consulted */
    bool stateful;           /* the matched rule is stateful */
    bool state_created;      /* evaluate: the flow now has state (created
                                or already there) */
    uint16_t weight;         /* matched rule's weight, 0 if none */
    uint32_t rule_index;     /* matched rule's index in the array given to
                                vsw_xacl_compile(), or VSW_XACL_NO_RULE */
    uint32_t idle_timeout_s; /* matched stateful rule's timeout, else 0 */
    int state_error;         /* evaluate: 0, or why the flow state the
                                rule asked for was not created (-ENOSPC) */
};

struct vsw_xacl_table;

/* Sets 'rule' to: allow, in, weight 0, every field ANY, not stateful,
 * timeout VSW_XACL_DEFAULT_TIMEOUT_S. */
void vsw_xacl_rule_init(struct vsw_xacl_rule *rule);

/* Parsers for the text forms of the CLI and the JSON-RPC interface.
 * Keywords are case-insensitive.  Each returns 0 and fills its output, or
 * -EINVAL and leaves the output alone. */

/* "allow" or "deny". */
int vsw_xacl_parse_action(const char *s, uint8_t *action);
/* "in" or "out" (Hyper-V's "inbound" and "outbound" too). */
int vsw_xacl_parse_direction(const char *s, uint8_t *direction);
/* "tcp", "udp", "icmp" (both families), "icmpv6" (58), "any", or a
 * decimal number 0..255. */
int vsw_xacl_parse_protocol(const char *s, int16_t *protocol);
/* "any", a port "80", or an inclusive range "49152-49182". */
int vsw_xacl_parse_ports(const char *s, struct vsw_xacl_ports *ports);
/* "any", an IPv4 or IPv6 address, or either with "/len".  Host bits past
 * the prefix are cleared; an IPv4-mapped IPv6 prefix ("::ffff:a.b.c.d",
 * length >= 96) becomes the IPv4 prefix it denotes. */
int vsw_xacl_parse_prefix(const char *s, struct vsw_xacl_prefix *prefix);

/* Formats 'rule' as one line for listings and logs, e.g. "weight 100 out
 * allow tcp local any port any remote any port 80 stateful idle-timeout
 * 255", each value in its parser's syntax, into 'buf' (at most 'size'
 * bytes, always NUL-terminated).  Returns 'buf'. */
char *vsw_xacl_rule_format(const struct vsw_xacl_rule *rule, char *buf,
                           size_t size);

/* Control thread.  Checks the 'n' rules at 'rules' (both directions, any
 * order; 'rules' may be NULL if 'n' is 0) and compiles them into a new
 * table stored in '*tablep', which the caller owns and frees with
 * vsw_xacl_destroy().  The rules are copied; 'rules' stays the caller's.
 * Returns 0, -EINVAL for a bad rule set (a weight used twice in one
 * direction, deny + stateful, a stateful timeout out of range, ports on a
 * protocol without ports, local and remote of different families, a
 * value out of range, more than VSW_XACL_MAX_RULES rules) with a message
 * naming the rule in 'err' (at most 'errlen' bytes, always NUL-terminated
 * if 'errlen' > 0), or -ENOMEM. */
int vsw_xacl_compile(const struct vsw_xacl_rule *rules, size_t n,
                     struct vsw_xacl_table **tablep, char *err, size_t errlen);

/* Frees 'table'; NULL is allowed.  No worker may still use it. */
void vsw_xacl_destroy(struct vsw_xacl_table *table);

/* Number of rules in 'table', and whether any of them is stateful. */
size_t vsw_xacl_n_rules(const struct vsw_xacl_table *table);
bool vsw_xacl_has_stateful(const struct vsw_xacl_table *table);

/* Worker thread, lock-free, no allocation.  Walks the rules of
 * 'direction' (enum vsw_xacl_direction) that apply to the packet 'key' in
 * VLAN 'vlan', by descending weight, and returns the first match's
 * verdict (VSW_XACL_NO_MATCH if none, or if 'table' is NULL or the packet
 * is not IP), with the details in 'result'.  Flow state is not looked at:
 * vsw_xacl_evaluate() is the whole extended ACL stage. */
enum vsw_xacl_verdict vsw_xacl_classify(const struct vsw_xacl_table *table,
                                        uint8_t direction, uint16_t vlan,
                                        const struct vsw_flow_key *key,
                                        struct vsw_xacl_result *result);

/* Worker thread, no allocation; lock-free except when it creates flow
 * state.  The extended ACL stage of port 'port_id' for the packet 'key'
 * travelling in 'direction' in VLAN 'vlan' at 'now_ms':
 *   1. No table (NULL) or a non-IP packet: VSW_XACL_NO_MATCH.
 *   2. If the table has a stateful rule and the packet belongs to a live
 *      flow of 'ct' (either direction): VSW_XACL_ALLOW with 'by_state',
 *      and the flow's idle timer restarts.
 *   3. Otherwise vsw_xacl_classify(); when a stateful allow rule decided,
 *      creates the flow in 'ct' ('state_created', or 'state_error' when
 *      the table is full; the verdict stays ALLOW either way).
 * 'ct' may be NULL: stateful rules then act as stateless ones. */
enum vsw_xacl_verdict
vsw_xacl_evaluate(const struct vsw_xacl_table *table, struct vsw_conntrack *ct,
                  uint32_t port_id, uint8_t direction, uint16_t vlan,
                  const struct vsw_flow_key *key, int64_t now_ms,
                  struct vsw_xacl_result *result);

/* "no-match", "allow" or "deny". */
const char *vsw_xacl_verdict_to_string(enum vsw_xacl_verdict verdict);

#endif /* VSW_XACL_H */
