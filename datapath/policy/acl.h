/*
 * Basic port ACLs (Hyper-V's Add-VMNetworkAdapterAcl): allow, deny and
 * meter rules on one local or remote IP prefix or MAC address.
 *
 * A port's rules are compiled by the control thread into an immutable
 * table (vsw_acl_compile()), published with the port's configuration
 * snapshot and freed after a grace period (rcu.h).  Workers classify
 * against it concurrently, without locks or allocation.  A NULL table
 * means "no rules" and allows everything.
 *
 * Semantics (FEATURES.md section 2; "(ours)" marks choices Hyper-V leaves
 * open):
 *
 *   - Direction "in" is traffic toward the VM: its local address is the
 *     destination, its remote address the source.  "out" is traffic from
 *     the VM: local is the source.  A rule applies to its own direction
 *     only; the caller stores "both" as two rules.
 *
 *   - The IP list and the MAC list are judged independently, and within
 *     each list the local and the remote address are judged
 *     independently, each by the rules of its own side: the packet passes
 *     only if none of these judgments says deny (ours).  A side that no
 *     rule matches allows; with no rules everything is allowed.  Sides are
 *     separate filters so that they compose: "allow local <own address>"
 *     plus "deny local ANY" stops spoofing whatever the remote rules
 *     allow, and "allow remote 10.0.0.0/8" plus "deny remote ANY" keeps
 *     the VM in 10/8 whatever the local rules allow.  (Ranked together, a
 *     local /32 allow would override every remote deny.)
 *
 *   - IP rules of one side and direction: among the allow and deny rules
 *     whose prefix holds the address, the longest prefix decides; at equal
 *     length deny wins (ours).  Lengths are compared within one address
 *     family: a packet is IPv4 or IPv6, so only the rules of its family
 *     and the ANY rules can match it; an IPv4 rule's length is its IPv4
 *     length (0..32), an IPv6 rule's its IPv6 length (0..128), and ANY
 *     counts as length 0 in either family, tying with 0.0.0.0/0 and ::/0
 *     (which are single-family rules: ::/0 never matches IPv4).  So "deny
 *     ANY" plus "allow 10.0.0.0/8" admits 10/8 and no other IPv4 or IPv6
 *     address.
 *
 *   - Addresses the IP list judges (ours, as Microsoft's ARP-spoofing
 *     advice implies):
 *       IPv4 or IPv6 packet: the IP source and destination.
 *       ARP (Ethernet/IPv4): the sender protocol address as the source
 *         and the target protocol address as the destination, so an ARP
 *         reply from the VM claiming an address it may not use as its
 *         local address is denied.
 *       IPv6 neighbour solicitation or advertisement (ICMPv6 135/136):
 *         the IPv6 header as above, and in addition the ND target, which
 *         must also be allowed by the rules of the side it speaks for.
 *         An NA's target, and the target of a duplicate address detection
 *         NS (source ::), is the address the sender claims: it is judged
 *         as a source address (local rules on out, remote rules on in).
 *         An ordinary NS's target is the address being resolved: it is
 *         judged as a destination (remote rules on out, local on in),
 *         exactly like an ARP request's target.  Judging every target as
 *         local on out would stop an anti-spoofing list ("allow local
 *         <own address>, deny local ANY") from resolving its router.
 *       Any other frame (other ethertypes, too many VLAN tags): no
 *         address; the MAC list alone judges it.
 *     An address the flow parser could not read (a truncated or
 *     malformed header, an NS/NA too short for its target) is all-zero
 *     in the key and is judged as 0.0.0.0 or ::, so "deny ANY" still
 *     covers it.  Under an anti-spoofing list, DHCP, ARP probes and
 *     duplicate address detection need the unspecified address allowed
 *     as a local address ("allow out local 0.0.0.0", "allow out local
 *     ::").
 *
 *   - MAC rules of one side and direction: a local MAC rule judges the
 *     packet's local MAC (destination on in, source on out), a remote one
 *     the remote MAC; ANY matches every frame.  An exact MAC match beats
 *     ANY; at equal specificity deny wins (ours).
 *
 *   - Meter rules must match an IP prefix (or ANY) and never change the
 *     verdict.  They meter IPv4 and IPv6 packets, judged by the IP header
 *     addresses only (ARP is not metered).  Like allow and deny rules
 *     they are ranked by longest prefix, local and remote together, and
 *     the single longest match is reported, so meter rules partition the
 *     traffic: with meters on ANY and on 10.0.0.0/8 a packet to 10.1.1.1
 *     is counted on the /8 only (ours).
 *
 *   - Reported rules (vsw_acl_result): per list, the rule that decided.
 *     When a list denies, its first denying judgment in the order local,
 *     remote, ND target names the rule; when it allows, the allowing rule
 *     with the longest prefix (an exact MAC counts as longer than ANY)
 *     among the judgments.  Where rules still tie (the same prefix twice,
 *     a local and a remote /24 that both allow) the lowest rule id is
 *     reported.  Ids need not be unique (the two halves of a "both" rule
 *     may share one).
 *
 * Data structure (vsw_acl_compile()): per direction, address family and
 * side, a multibit trie of stride 6 in the style of Poptrie (Asai and
 * Ohara, SIGCOMM 2015): each node holds a 64-bit map of the slots that
 * continue in a child and a 64-bit map of where runs of equal leaves
 * start, and finds the child or leaf by counting bits (popcount) below
 * the slot.  Prefixes are expanded into the slots they cover and every
 * leaf holds the precomputed longest allow/deny and meter match for its
 * range, so a lookup stops at the first slot without a child and never
 * backtracks.  Chains of nodes that would each have a single child and
 * uniform leaves are collapsed into one node that checks the skipped bits
 * (path compression), so a lone /128 costs a node or two, not 22.  Tries
 * with many prefixes start with a direct-pointing array indexed by their
 * first 8 to 16 bits, whose slots mostly hold the answer inline.  A
 * lookup touches at most 6 (IPv4) or 22 (IPv6) nodes whatever the rule
 * count, and in practice one or two.  A packet costs at most three trie
 * lookups (local, remote and, for ND, the target) plus two probes of one
 * open-addressing MAC hash table; nothing is proportional to the number
 * of rules.  Memory is O(rules): about 120 bytes per rule for 10 000
 * random rules.
 */
#ifndef VSW_ACL_H
#define VSW_ACL_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"

enum vsw_acl_action {
    VSW_ACL_ACTION_ALLOW, /* admit matching packets */
    VSW_ACL_ACTION_DENY,  /* drop them */
    VSW_ACL_ACTION_METER, /* count them; never changes the verdict */
};

enum vsw_acl_direction {
    VSW_ACL_DIR_IN,  /* toward the VM: local = destination */
    VSW_ACL_DIR_OUT, /* from the VM: local = source */
};

/* What a rule matches on. */
enum vsw_acl_match {
    VSW_ACL_MATCH_LOCAL_IP,   /* the VM's IP address */
    VSW_ACL_MATCH_REMOTE_IP,  /* the peer's IP address */
    VSW_ACL_MATCH_LOCAL_MAC,  /* the VM's MAC address */
    VSW_ACL_MATCH_REMOTE_MAC, /* the peer's MAC address */
};

/* Most rules one table (one port, both directions) may hold. */
#define VSW_ACL_MAX_RULES 65536

/* Rule id that no rule has: "no rule" in a vsw_acl_result. */
#define VSW_ACL_NO_RULE 0u

/* An IPv4 or IPv6 host or prefix, or ANY. */
struct vsw_acl_prefix {
    uint8_t family;   /* 0 = ANY (both families), 4 or 6 */
    uint8_t plen;     /* prefix length: 0..32 for 4, 0..128 for 6, 0 for
                         ANY */
    uint8_t addr[16]; /* network byte order, IPv4-mapped (::ffff:a.b.c.d)
                         for 4; bits past 'plen' (of the family's own
                         address) zero; all zero for ANY */
};

/* A MAC address or ANY. */
struct vsw_acl_mac {
    bool any;                   /* matches every MAC; 'addr' is ignored */
    uint8_t addr[VSW_ETH_ALEN]; /* the MAC when not 'any' */
};

/* One rule as configured. */
struct vsw_acl_rule {
    uint32_t id;              /* the caller's id, not VSW_ACL_NO_RULE;
                                 reported by vsw_acl_classify() */
    uint8_t action;           /* enum vsw_acl_action */
    uint8_t direction;        /* enum vsw_acl_direction */
    uint8_t match;            /* enum vsw_acl_match: which of 'ip' and
                                 'mac' is read */
    struct vsw_acl_prefix ip; /* for VSW_ACL_MATCH_*_IP */
    struct vsw_acl_mac mac;   /* for VSW_ACL_MATCH_*_MAC */
};

/* What the IP list looked at, in vsw_acl_result.judged. */
enum vsw_acl_judged {
    VSW_ACL_JUDGED_MAC_ONLY, /* not IP or ARP: MAC list only */
    VSW_ACL_JUDGED_IPV4,     /* IPv4 header addresses */
    VSW_ACL_JUDGED_ARP,      /* ARP sender and target addresses */
    VSW_ACL_JUDGED_IPV6,     /* IPv6 header addresses */
    VSW_ACL_JUDGED_ND,       /* IPv6 header and the NS/NA target */
};

/* Which judgments said deny, in vsw_acl_result.denied_by. */
enum {
    VSW_ACL_DENIED_BY_IP = 1 << 0,        /* IP list, on the local or
                                             remote address of the IP
                                             header or ARP packet */
    VSW_ACL_DENIED_BY_ND_TARGET = 1 << 1, /* IP list, on an NS/NA target */
    VSW_ACL_DENIED_BY_MAC = 1 << 2,       /* MAC list */
};

/* The verdict and the rules behind it, for counters and traces. */
struct vsw_acl_result {
    bool deny;           /* drop the packet: 'denied_by' != 0 */
    uint8_t denied_by;   /* VSW_ACL_DENIED_BY_* bits */
    uint8_t judged;      /* enum vsw_acl_judged */
    uint32_t ip_rule;    /* IP rule that decided (see "Reported rules"), or
                            VSW_ACL_NO_RULE if none matched */
    uint32_t mac_rule;   /* MAC rule that decided, or VSW_ACL_NO_RULE */
    uint32_t meter_rule; /* longest-matching meter rule, whatever the
                            verdict, or VSW_ACL_NO_RULE */
};

struct vsw_acl_table;

/* Parsers for the text forms of the CLI and the JSON-RPC interface.
 * Keywords are case-insensitive.  Each returns 0 and fills its output, or
 * -EINVAL, leaves the output alone and writes a message quoting the input
 * into 'err' (at most 'errlen' bytes, always NUL-terminated if 'errlen' >
 * 0). */

/* "allow", "deny" or "meter". */
int vsw_acl_parse_action(const char *s, uint8_t *action, char *err,
                         size_t errlen);
/* "any", an IPv4 or IPv6 address (a host), or either with "/len".  Host
 * bits past the prefix are cleared; an IPv4-mapped IPv6 prefix
 * ("::ffff:a.b.c.d", length >= 96) becomes the IPv4 prefix it denotes.
 * "0.0.0.0/0" and "::/0" are single-family; "any" is both. */
int vsw_acl_parse_prefix(const char *s, struct vsw_acl_prefix *prefix,
                         char *err, size_t errlen);
/* "any", or six hex pairs separated by ':' or '-' ("02:00:5e:00:00:01",
 * Hyper-V's "02-00-5E-00-00-01"), or twelve hex digits
 * ("02005E000001"). */
int vsw_acl_parse_mac(const char *s, struct vsw_acl_mac *mac, char *err,
                      size_t errlen);

/* Formats 'prefix' ("any", "10.1.2.3", "10.0.0.0/8", "2001:db8::/32"; a
 * full-length prefix without "/len") or 'mac' ("any", "02:00:5e:00:00:01")
 * into 'buf' (at most 'size' bytes, always NUL-terminated), in the syntax
 * the parsers accept.  Both return 'buf'. */
char *vsw_acl_prefix_format(const struct vsw_acl_prefix *prefix, char *buf,
                            size_t size);
char *vsw_acl_mac_format(const struct vsw_acl_mac *mac, char *buf,
                         size_t size);

/* Formats 'rule' as one line, e.g. "rule 7 deny out remote-ip
 * 10.0.0.0/8", into 'buf' (at most 'size' bytes, always NUL-terminated).
 * Returns 'buf'. */
char *vsw_acl_rule_format(const struct vsw_acl_rule *rule, char *buf,
                          size_t size);

/* Formats 'result' for a trace, e.g. "deny: ip rule 7 denied the nd
 * target, mac rule 3 allowed, meter rule 9" or "allow: no rule", into
 * 'buf' (at most 'size' bytes, always NUL-terminated).  Returns 'buf'. */
char *vsw_acl_result_format(const struct vsw_acl_result *result, char *buf,
                            size_t size);

/* Control thread.  Checks the 'n' rules at 'rules' (both directions, any
 * order; 'rules' may be NULL if 'n' is 0) and compiles them into a new
 * table stored in '*tablep', which the caller owns and frees with
 * vsw_acl_destroy().  The rules are copied; 'rules' stays the caller's.
 * Returns 0, -EINVAL for a bad rule (id 0, a meter rule on a MAC, an
 * unknown action, direction, match or family, a prefix length beyond the
 * family's, bits set past the prefix, an IPv4 address not in IPv4-mapped
 * form), -E2BIG for more than VSW_ACL_MAX_RULES rules, each with a
 * message naming the rule in 'err' (at most 'errlen' bytes, always
 * NUL-terminated if 'errlen' > 0), or -ENOMEM.  '*tablep' is set only on
 * success.  Cost: O(n * 22) time and memory in the worst case (n IPv6
 * host rules that share no prefix). */
int vsw_acl_compile(const struct vsw_acl_rule *rules, size_t n,
                    struct vsw_acl_table **tablep, char *err, size_t errlen);

/* Frees 'table'; NULL is allowed.  No worker may still use it. */
void vsw_acl_destroy(struct vsw_acl_table *table);

/* Number of rules 'table' was compiled from (0 for NULL). */
size_t vsw_acl_n_rules(const struct vsw_acl_table *table);

/* True if 'table' has a meter rule for 'direction'.  With metering on and
 * no meter rule, the caller meters the direction's total traffic
 * (FEATURES.md section 7). */
bool vsw_acl_has_meter(const struct vsw_acl_table *table, uint8_t direction);

/* Bytes of memory 'table' holds (0 for NULL), for "dp show" and
 * benchmarks. */
size_t vsw_acl_memory(const struct vsw_acl_table *table);

/* Worker thread, lock-free, no allocation.  Judges the packet 'key'
 * travelling in 'direction' (enum vsw_acl_direction) against 'table'
 * (NULL: no rules) and fills 'result' (fully overwritten). */
void vsw_acl_classify(const struct vsw_acl_table *table, uint8_t direction,
                      const struct vsw_flow_key *key,
                      struct vsw_acl_result *result);

#endif /* VSW_ACL_H */
