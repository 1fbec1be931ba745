"""Self-test of the Open vSwitch peer fixture (ovs_peer.py): a private
userspace OVS forwards real traffic through a bond, negotiates LACP with
itself across two bridges, and reports members without a partner as
defaulted; lacp/show and bond/show are parsed into what tests compare.
"""

from conftest import ping, sh, unique, wait_for
from ovs_peer import ovs  # noqa: F401 (the fixture)
from ovs_peer import parse_lacp_show


def veth_pair(topo):
    """A veth pair, both ends in the host, up; deleted at teardown (a
    pair vanishes as soon as one end does, wherever it was moved)."""
    a, b = topo.ifname("oa"), topo.ifname("ob")
    sh(["ip", "link", "add", a, "type", "veth", "peer", "name", b])
    return a, b


def member_tx(ovs, members):
    return sum(ovs.link_stats(m)["tx_packets"] for m in members)


def test_slb_bond_forwards_and_fails_over(ovs, topo):  # noqa: F811
    """Namespace A -- OVS bridge -- balance-slb bond over two veth pairs
    -- Linux bridge in namespace B: ping crosses the bond, and keeps
    crossing it when the member that carried it loses its link."""
    bridge, bond = unique("obr"), unique("obd")
    ovs.add_bridge(bridge)
    ns_a, _ = ovs.add_endpoint(bridge, topo, "10.231.7.1")

    ns_b = topo.netns("ob")
    sh(["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"], ns=ns_b)
    sh(["ip", "-n", ns_b, "link", "add", "lbr", "type", "bridge"])
    members, far_ends = [], []
    for _ in range(2):
        near, far = veth_pair(topo)
        sh(["ip", "link", "set", far, "netns", ns_b])
        sh(["ip", "-n", ns_b, "link", "set", far, "master", "lbr"])
        sh(["ip", "-n", ns_b, "link", "set", far, "up"])
        members.append(near)
        far_ends.append(far)
    sh(["ip", "-n", ns_b, "addr", "add", "10.231.7.2/24", "dev", "lbr"])
    sh(["ip", "-n", ns_b, "link", "set", "lbr", "up"])
    ovs.add_bond(bridge, bond, members, lacp="off", bond_mode="balance-slb")

    state = wait_for(lambda: (lambda s: s if all(
        m["enabled"] for m in s["members"].values()) else None)(
            ovs.bond_show(bond)))
    assert state["bond_mode"] == "balance-slb"
    assert sorted(state["members"]) == sorted(members)

    before = member_tx(ovs, members)
    wait_for(lambda: ping(ns_a, "10.231.7.2", count=1), timeout=15)
    assert ping(ns_a, "10.231.7.2", count=5)
    assert member_tx(ovs, members) - before >= 5

    # The member that carries the ping loses its link: the bond moves
    # the traffic to the other one.
    stats = [ovs.link_stats(m)["tx_packets"] for m in members]
    assert ping(ns_a, "10.231.7.2", count=3)
    grown = [ovs.link_stats(m)["tx_packets"] - s
             for m, s in zip(members, stats)]
    busy = 0 if grown[0] >= grown[1] else 1
    sh(["ip", "-n", ns_b, "link", "set", far_ends[busy], "down"])
    wait_for(lambda: not ovs.bond_show(bond)["members"][members[busy]]
             ["enabled"])
    idle_before = ovs.link_stats(members[1 - busy])["tx_packets"]
    wait_for(lambda: ping(ns_a, "10.231.7.2", count=1), timeout=15)
    assert ping(ns_a, "10.231.7.2", count=3)
    assert (ovs.link_stats(members[1 - busy])["tx_packets"]
            - idle_before) >= 3


def test_lacp_negotiates_between_two_bridges(ovs, topo):  # noqa: F811
    """Two bridges of the one OVS, each with an active fast LACP bond over
    the two ends of the same two veth pairs: lacp/show on each says
    negotiated, the other bridge's system as partner, both members
    current, attached, collecting and distributing; ping crosses."""
    br_x, br_y = unique("obx"), unique("oby")
    bond_x, bond_y = unique("odx"), unique("ody")
    ovs.add_bridge(br_x)
    ovs.add_bridge(br_y)
    pairs = [veth_pair(topo) for _ in range(2)]
    ovs.add_bond(br_x, bond_x, [a for a, _ in pairs], lacp="active")
    ovs.add_bond(br_y, bond_y, [b for _, b in pairs], lacp="active")

    def negotiated(s):
        return s.get("negotiated") and all(
            m["status"] == "current" and m["attached"]
            and {"collecting", "distributing", "synchronized"}
            <= set(m["partner"]["state"])
            for m in s["members"].values())

    x = ovs.wait_lacp(bond_x, negotiated)
    y = ovs.wait_lacp(bond_y, negotiated)
    assert x["lacp_time"] == "fast"
    assert x["sys_id"] != y["sys_id"]
    for here, there in ((x, y), (y, x)):
        assert len(here["members"]) == 2
        for member in here["members"].values():
            assert member["partner"]["sys_id"] == there["sys_id"]
            assert member["partner"]["key"] == there["key"]
            assert "timeout" in member["partner"]["state"]
            assert "defaulted" not in member["actor"]["state"]
    assert ovs.bond_show(bond_x)["lacp_status"] == "negotiated"

    ns_x, _ = ovs.add_endpoint(br_x, topo, "10.231.8.1")
    ovs.add_endpoint(br_y, topo, "10.231.8.2")
    wait_for(lambda: ping(ns_x, "10.231.8.2", count=1), timeout=15)


def test_lacp_without_partner_is_defaulted(ovs, topo):  # noqa: F811
    """An active LACP bond whose far ends hear nothing: both members
    defaulted, detached, not negotiated, and the bond forwards nothing."""
    bridge, bond = unique("obr"), unique("obd")
    ovs.add_bridge(bridge)
    ns = topo.netns("os")
    members = []
    for _ in range(2):
        near, far = veth_pair(topo)
        sh(["ip", "link", "set", far, "netns", ns])
        sh(["ip", "-n", ns, "link", "set", far, "up"])
        members.append(near)
    ovs.add_bond(bridge, bond, members, lacp="active", fast=True)

    def defaulted(s):
        return len(s["members"]) == 2 and all(
            m["status"] == "defaulted" for m in s["members"].values())

    state = ovs.wait_lacp(bond, defaulted)
    assert not state["negotiated"]
    for member in state["members"].values():
        assert not member["attached"]
        assert not member["may_enable"]
        assert "defaulted" in member["actor"]["state"]
        assert member["partner"]["sys_id"] == "00:00:00:00:00:00"
        assert member["partner"]["state"] == []
    assert not any(m["enabled"]
                   for m in ovs.bond_show(bond)["members"].values())


def test_parse_lacp_show_negotiated_text():
    """The parser on a fixed negotiated lacp/show text."""
    text = """---- bond0 ----
  status: active negotiated
  sys_id: aa:aa:aa:aa:aa:aa
  sys_priority: 65534
  aggregation key: 3
  lacp_time: fast

member: p1: current attached
  port_id: 2
  port_priority: 65535
  may_enable: true

  actor sys_id: aa:aa:aa:aa:aa:aa
  actor sys_priority: 65534
  actor port_id: 2
  actor port_priority: 65535
  actor key: 3
  actor state: activity timeout aggregation synchronized collecting distributing

  partner sys_id: 02:00:00:00:00:0a
  partner sys_priority: 32768
  partner port_id: 1
  partner port_priority: 128
  partner key: 10
  partner state: activity timeout aggregation synchronized collecting distributing
"""
    s = parse_lacp_show(text)
    assert s["bond"] == "bond0" and s["negotiated"] and s["key"] == 3
    p1 = s["members"]["p1"]
    assert p1["status"] == "current" and p1["attached"] and p1["may_enable"]
    assert p1["port_id"] == 2 and p1["actor"]["key"] == 3
    assert p1["partner"] == {
        "sys_id": "02:00:00:00:00:0a", "sys_priority": 32768, "port_id": 1,
        "port_priority": 128, "key": 10,
        "state": ["activity", "timeout", "aggregation", "synchronized",
                  "collecting", "distributing"]}
