"""A static team (mode=static) against a real static link aggregation
partner (issue 12): Open vSwitch's userspace bond without LACP over the
far ends of two veth pairs whose near ends are our team's members
(ovs_peer.py), an internal port of the OVS bridge holding the peer's
address.  Eight TCP streams spread over both members, one stream stays on
one, by our per-member counters; OVS's side sees the same split.

Open vSwitch 3.1 bonds without LACP: bond_mode=balance-tcp refuses every
frame it receives unless LACP was negotiated (ofproto/bond.c,
bond_check_admissibility), so the partner is bond_mode=balance-slb.  An
SLB bond takes broadcasts and multicasts only on its "active" member (it
expects its far side to flood them to every member); a static LAG switch
takes them on any.  So the test makes the far end of the member our team
sends the VM's broadcasts on (the address hash of its ARP) the bond's
active member (ovs-appctl bond/set-active-member).

OVS's userspace datapath reads its veths without offloads: the VM's
interface sends plain, checksummed frames (ethtool), as a VM without
TSO would.
"""

import pytest

from conftest import add_vm, ping, sh, unique, wait_for
from ovs_peer import ovs  # noqa: F401 (the fixture)
from test_team import (address_hash_member, member_stats, sent_during,
                       tx_bytes)
from test_team import iperf_server  # noqa: F401 (the fixture)

# Runs alone in scripts/test.sh: it measures how traffic spreads over members.
pytestmark = pytest.mark.serial

NET = "10.79.0"
PEER_IP = f"{NET}.100"
VM_IP = f"{NET}.1"


def static_setup(daemon, topo, ovs):  # noqa: F811
    """sw0 with a VM 10.79.0.1 and a static team of two veths; an OVS
    bridge with a bond (lacp=off, balance-slb) over their far ends and an
    internal port 10.79.0.100, the bond's active member the far end of
    the member the VM's broadcasts leave on.  Returns (team, near ends, far
    ends, vm, the internal port)."""
    daemon.rpc("switch.add", name="sw0")
    near, far = [], []
    for _ in range(2):
        a, b = topo.veth()
        near.append(a)
        far.append(b)
    bridge, bond, inside = unique("obr"), unique("obd"), unique("oin")
    ovs.add_bridge(bridge)
    team = unique("tm")
    daemon.rpc("team.add", switch="sw0", name=team, members=",".join(near),
               mode="static")
    vm, ifname = add_vm(daemon, topo, "sw0", "vm0", ip=VM_IP)
    sh(["ethtool", "-K", ifname, "tx", "off", "tso", "off", "gso", "off"],
       ns=vm)
    ovs.add_bond(bridge, bond, far, lacp="off", bond_mode="balance-slb")
    ovs.add_port(bridge, inside, internal=True)
    wait_for(lambda: all(m["state"] == "active"
                         for m in member_stats(daemon, team).values()))
    # Which member the VM's ARP request for the peer leaves on (nobody
    # answers yet) becomes the bond's active member.
    before = tx_packets(daemon, team)
    ping(vm, PEER_IP, count=1)
    after = tx_packets(daemon, team)
    sent = [after[n] - before[n] for n in near]
    flood = sent.index(max(sent))
    assert sent[flood] > 0 and sent[1 - flood] == 0, sent
    ovs.appctl("bond/set-active-member", bond, far[flood])
    wait_for(lambda: f"active member mac: {mac_in(ovs, far[flood])}"
             in ovs.appctl("bond/show", bond))
    # Only the internal port, which has the address, may answer ARP: the
    # far ends are interfaces of OVS's namespace too, and its kernel would
    # answer the VM's ARP retries (still coming from the ping above) on
    # them with their own MACs.  So before the address exists.
    sh(["sysctl", "-q", "-w", "net.ipv4.conf.all.arp_ignore=1"], ns=ovs.ns)
    sh(["ip", "-n", ovs.ns, "addr", "add", f"{PEER_IP}/24", "dev", inside])
    return team, near, far, vm, inside


def iperf_client(vm, flows, seconds=3, cport=None):
    """iperf3 with 'flows' parallel streams from 'vm' to the peer (from
    source ports cport, cport + 1, ... when given)."""
    extra = ["--cport", str(cport)] if cport else []
    return sh(["iperf3", "-c", PEER_IP, "-p", "5201", "-P", str(flows),
               "-t", str(seconds), *extra], ns=vm, timeout=seconds + 30)


def mac_in(ovs, ifname):  # noqa: F811
    """The MAC of interface 'ifname' in OVS's namespace."""
    return sh(["cat", f"/sys/class/net/{ifname}/address"],
              ns=ovs.ns).stdout.strip()


def tx_packets(daemon, team):
    return {n: m["tx-packets"] for n, m in member_stats(daemon, team).items()}


def far_rx_bytes(ovs, far):  # noqa: F811
    return [ovs.link_stats(f)["rx_bytes"] for f in far]


def test_static_team_spreads_over_ovs_static_bond(
        daemon, topo, ovs, iperf_server):  # noqa: F811
    team, near, far, vm, inside = static_setup(daemon, topo, ovs)
    assert wait_for(lambda: ping(vm, PEER_IP, count=1), timeout=15)
    # The peer answered through OVS, not a far end's kernel.
    assert mac_in(ovs, inside) in sh(
        ["ip", "neigh", "show", PEER_IP], ns=vm).stdout
    assert ping(vm, PEER_IP, count=3)
    state = member_stats(daemon, team)
    for name in near:
        assert state[name]["state"] == "active"
        assert "lacp" not in state[name]

    # Eight streams whose address hashes put four on each member.
    cport = next(p for p in range(42000, 43000)
                 if sum(address_hash_member(VM_IP, PEER_IP, p + i, 5201)
                        for i in range(8)) == 4)
    iperf_server(ovs.ns)
    before, far_before = tx_bytes(daemon, team), far_rx_bytes(ovs, far)
    iperf_client(vm, 8, cport=cport)
    after, far_after = tx_bytes(daemon, team), far_rx_bytes(ovs, far)
    sent = {n: after[n] - before[n] for n in after}
    got = [a - b for a, b in zip(far_after, far_before)]
    total = sum(sent.values())
    print(f"balance-slb, 8 streams: sent per member {sent}, OVS received "
          f"per member {got}")
    assert total > 10_000_000, sent
    for name, nbytes in sent.items():
        assert nbytes >= 0.25 * total, (name, sent)
    # The partner took what each member sent.
    for nbytes in got:
        assert nbytes >= 0.25 * sum(got), got

    # One stream: one member.
    iperf_server(ovs.ns)
    sent = sent_during(daemon, team, lambda: iperf_client(vm, 1))
    total = sum(sent.values())
    print(f"balance-slb, 1 stream: sent per member {sent}")
    assert total > 1_000_000, sent
    assert max(sent.values()) >= 0.98 * total, sent
    assert ping(vm, PEER_IP, count=3)
