/*
 * Named drop reasons.  Every frame the switch receives ends either
 * delivered to at least one port or counted under exactly one of these
 * reasons, on the port where the pipeline gave up on it; "why did this
 * packet die" is always answerable from the counters.  Later stages
 * (policy, QoS, mirroring, extensions) add their reasons here.
 */
#ifndef VSW_DROP_H
#define VSW_DROP_H 1

/* X(ENUM, "name shown to users", "what it means") */
#define VSW_DROP_REASONS(X)                                                   \
    X(RUNT, "runt", "frame shorter than its Ethernet or VLAN header")         \
    X(OVERSIZE, "oversize", "frame larger than a packet buffer")              \
    X(INVALID_SRC_MAC, "invalid-src-mac",                                     \
      "source MAC is multicast, broadcast or zero")                           \
    X(VLAN_TAGGED, "vlan-tagged",                                             \
      "tagged frame on an access or untagged port")                           \
    X(VLAN_NOT_ALLOWED, "vlan-not-allowed",                                   \
      "frame's VLAN is not in the trunk's allowed list")                      \
    X(MAC_SPOOF, "mac-spoofing",                                              \
      "source MAC is not the port's MAC and spoofing is off")                 \
    X(GUARD_TOO_MANY_VLANS, "guard-too-many-vlans",                           \
      "more VLAN tags than the parser reads hide the IP header from guards")  \
    X(IP_GUARD, "ip-guard",                                                   \
      "ARP, ND or IP from an address the port may not use")                   \
    X(DHCP_GUARD, "dhcp-guard",                                               \
      "DHCPv4 server message, or a fragment of one, from a guarded port")     \
    X(DHCPV6_GUARD, "dhcpv6-guard",                                           \
      "DHCPv6 server message, or a fragment of one, from a guarded port")     \
    X(ROUTER_GUARD, "router-guard",                                           \
      "router advertisement, or a fragment of one, from a guarded port")      \
    X(REDIRECT_GUARD, "router-guard-redirect",                                \
      "ICMP or ICMPv6 redirect, or a fragment of one, from a guarded port")   \
    X(IPV6_CHAIN, "ipv6-chain-incomplete",                                    \
      "IPv6 first fragment without the whole header chain (RFC 7113)")        \
    X(IPV6_UNKNOWN_NH, "ipv6-unknown-next-header",                            \
      "IPv6 header chain ends in an unknown next header (RFC 7113)")          \
    X(ND_FRAGMENT, "nd-fragment",                                             \
      "fragmented neighbour discovery message (RFC 6980)")                    \
    X(STORM, "storm-limit",                                                   \
      "broadcast, multicast or unknown unicast over the port's limit")        \
    X(FRAG_OVERLAP, "fragment-overlap",                                       \
      "fragment overlapping bytes an earlier fragment of its datagram "       \
      "carried, or any later fragment of that datagram, from a port with "    \
      "the DHCP or router guard (RFC 5722)")                                  \
    X(XACL_DENY, "xacl-deny", "an extended ACL rule denied the frame")        \
    X(ACL_DENY, "acl-deny", "a port ACL rule denied the frame")               \
    X(HAIRPIN, "hairpin", "destination is the port the frame came in on")     \
    X(PVLAN, "pvlan-isolation",                                               \
      "private VLAN rules forbid every destination of the frame")             \
    X(NO_EGRESS_PORT, "no-egress-port",                                       \
      "no other port is a member of the frame's VLAN")                        \
    X(PORT_DOWN, "port-down", "the VM took its interface down")               \
    X(TX_ERROR, "tx-error", "the kernel refused the frame on transmit")       \
    X(SEGMENTATION, "segmentation-failed",                                    \
      "a large segment could not be split for a port without offloads")       \
    X(PORT_GONE, "port-gone",                                                 \
      "port not (or no longer) in the configuration the frame met")           \
    X(EXT_FILTER, "ext-filter",                                               \
      "a filter extension dropped the frame (or excluded this destination)")  \
    X(EXT_FORWARDING, "ext-forwarding",                                       \
      "the forwarding extension dropped the frame")                           \
    X(EXT_NO_DESTINATION, "ext-no-destination",                               \
      "none of the forwarding extension's destinations admits the frame")     \
    X(EXT_ABORTED, "ext-aborted",                                             \
      "a fail-closed extension aborted on the frame")                         \
    X(EXT_FAIL_CLOSED, "ext-fail-closed",                                     \
      "a fail-closed extension's circuit breaker is open")                    \
    X(EXT_INJECT, "ext-inject-failed",                                        \
      "a frame an extension injected could not be sent")                      \
    X(QOS_SCHED_FULL, "qos-scheduler-full",                                   \
      "the uplink's minimum-bandwidth scheduler had no room (class queue "    \
      "or buffer pool full)")                                                 \
    X(QOS_QUEUE_FULL, "qos-queue-full",                                       \
      "over the port's maximum bandwidth and its shaper queue was full")      \
    X(VXLAN_TRUNCATED, "vxlan-truncated",                                     \
      "tunnel datagram shorter than a VXLAN header")                          \
    X(VXLAN_BAD_FLAGS, "vxlan-bad-flags",                                     \
      "VXLAN header without the valid-VNI (I) flag")                          \
    X(VXLAN_INNER_RUNT, "vxlan-inner-runt",                                   \
      "VXLAN datagram whose inner frame is shorter than an Ethernet header")  \
    X(VXLAN_VNI_UNKNOWN, "vxlan-vni-unknown",                                 \
      "VXLAN datagram for a VNI no port of the switch is in")                 \
    X(VXLAN_UNKNOWN_VTEP, "vxlan-unknown-vtep",                               \
      "VXLAN datagram from a VTEP that is not a remote of its VNI")           \
    X(VXLAN_TOO_BIG, "vxlan-too-big",                                         \
      "inner frame too big for the underlay MTU once encapsulated (never "    \
      "fragmented)")                                                          \
    X(VXLAN_NO_REMOTE, "vxlan-no-remote",                                     \
      "frame for a tunnel whose VNI has no remote VTEP")                      \
    X(TEAM_INACTIVE, "team-inactive",                                         \
      "arrived on a team member that carries no traffic now (down, "          \
      "standby, or not collecting)")                                          \
    X(TEAM_FLOOD_MEMBER, "team-flood-member",                                 \
      "broadcast or multicast on a switch-independent team member other "     \
      "than the one that takes them")                                         \
    X(TEAM_REFLECTED, "team-reflected",                                       \
      "on a switch-independent team, from a MAC the switch learned on "       \
      "another port: its own frame reflected by the physical switch")

enum vsw_drop_reason {
#define VSW_DROP_ENUM(ENUM, NAME, DOC) VSW_DROP_##ENUM,
    VSW_DROP_REASONS(VSW_DROP_ENUM)
#undef VSW_DROP_ENUM
    VSW_DROP_N_REASONS
};

/* The user-visible name of 'reason', e.g. "vlan-tagged". */
const char *vsw_drop_reason_name(enum vsw_drop_reason reason);

/* One sentence on what 'reason' means. */
const char *vsw_drop_reason_doc(enum vsw_drop_reason reason);

#endif /* VSW_DROP_H */
