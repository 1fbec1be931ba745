"""Minimum bandwidth on a NIC team (issue 12: "QoS minimums work on a
team"): the team of test_team.py (two veths to a Linux bridge in a
namespace, the peer's address on the bridge) with link-speed 100M, which
on a team is each member's, so the team's capacity is 200 Mbit/s while
both members carry traffic and 100 Mbit/s after one fails.  Two VMs send
TCP through it, each with four streams whose address hashes put two on
each member, so the one scheduler of the team serves both members.

The accuracy asked for is test_qos_minbw.py's: a VM's rate (iperf3's
receiver, TCP payload) within 10 % of the link (here the team's
capacity) of its expected share.
"""


import pytest

from conftest import iperf_rates, ping, wait_for
from test_team import (NET, PEER_IP, address_hash_member, member_stats,
                       team_setup, tx_bytes)

# Runs alone in scripts/test.sh: it measures the scheduler's shares of a team.
pytestmark = pytest.mark.serial

MEMBER_SPEED = 100_000_000
STREAMS = 4


def qos_team(daemon, topo):
    """A team of two members with link-speed 100M on a switch in weight
    mode and two VMs (10.77.0.1 with weight 5, 10.77.0.2 with weight 1).
    Returns (far, team, vms)."""
    far, team, vms = team_setup(daemon, topo, n_vms=2)
    daemon.ctl("port", "set", team, "link-speed=100M")
    daemon.ctl("port", "set", "vm0", "min-bandwidth-weight=5")
    daemon.ctl("port", "set", "vm1", "min-bandwidth-weight=1")
    for vm in vms:
        assert wait_for(lambda: ping(vm, PEER_IP, count=1), timeout=10)
    return far, team, vms


def spread_cport(vm_index, dport, n_active=2):
    """A first source port from which STREAMS consecutive ones spread
    evenly over the active members by the address hash."""
    src = f"{NET}.{vm_index + 1}"
    return next(p for p in range(40000 + 1000 * vm_index, 65000)
                if sum(address_hash_member(src, PEER_IP, p + i, dport,
                                           n_active) == 0
                       for i in range(STREAMS)) == STREAMS // n_active)


def iperf(far, clients, seconds=6):
    """Runs one iperf3 client of STREAMS streams per (vm namespace, vm
    index) of 'clients' at once, each to its own server on the peer, its
    source ports chosen to spread over the members.  Returns each
    client's received rate in bit/s."""
    ports = [5201 + index for _, index in clients]
    return iperf_rates(
        far.ns, PEER_IP,
        [(ns, port, ("-P", str(STREAMS), "--cport",
                     str(spread_cport(index, port))))
         for (ns, index), port in zip(clients, ports)], seconds)


def assert_near(rate, expected, capacity, what):
    assert abs(rate - expected) <= 0.10 * capacity, (
        f"{what}: {rate / 1e6:.1f} Mbit/s, expected {expected / 1e6:.1f} "
        f"± {0.10 * capacity / 1e6:.0f}")


def test_weights_share_a_congested_team(daemon, topo):
    far, team, (vm0, vm1) = qos_team(daemon, topo)
    capacity = 2 * MEMBER_SPEED
    shown = daemon.rpc("qos.show", port=team)
    assert shown["scheduled"] is True
    assert shown["link-speed"] == MEMBER_SPEED
    assert shown["active-members"] == 2
    assert shown["capacity"] == capacity

    before = tx_bytes(daemon, team)
    r0, r1 = iperf(far, [(vm0, 0), (vm1, 1)])
    after = tx_bytes(daemon, team)
    print(f"team, weights 5:1: vm0 {r0 / 1e6:.1f} Mbit/s, vm1 "
          f"{r1 / 1e6:.1f} Mbit/s, share {100 * r0 / (r0 + r1):.1f} %")
    assert_near(r0, capacity * 5 / 6, capacity, "vm0 (weight 5)")
    assert_near(r1, capacity * 1 / 6, capacity, "vm1 (weight 1)")
    # Paced at the team's capacity: together no more than it carries.
    assert r0 + r1 <= capacity * 1.02

    # Both members carried the scheduled frames, and the members'
    # counters (team show) include what the scheduler sent.
    sent = {n: after[n] - before[n] for n in after}
    total = sum(sent.values())
    print(f"per member: {sent}")
    for name, nbytes in sent.items():
        assert nbytes >= 0.25 * total, (name, sent)
    classes = {c["class"]: c
               for c in daemon.rpc("qos.show", port=team)["classes"]}
    assert set(classes) == {"vm0", "vm1", "default"}
    assert classes["vm0"]["tx-bytes"] > 4 * classes["vm1"]["tx-bytes"] > 0
    assert total >= 0.9 * (classes["vm0"]["tx-bytes"]
                           + classes["vm1"]["tx-bytes"])
    table = daemon.ctl("qos", "show", team, json_out=False).stdout
    assert "vm0" in table and "SHARE" in table


def test_lone_vm_takes_the_team_and_capacity_follows_failover(daemon, topo):
    far, team, (vm0, vm1) = qos_team(daemon, topo)
    capacity = 2 * MEMBER_SPEED

    # The weight-1 VM alone takes the whole team.
    (r1,) = iperf(far, [(vm1, 1)], seconds=4)
    print(f"team, weight 1 alone: {r1 / 1e6:.1f} Mbit/s")
    assert 0.85 * capacity <= r1 <= 1.02 * capacity

    # A member fails: the team's capacity is the survivor's speed, and
    # what the VM sends fits in it.
    far.set_link(0, False)
    wait_for(lambda: daemon.rpc("qos.show", port=team)["active-members"]
             == 1)
    shown = daemon.rpc("qos.show", port=team)
    assert shown["capacity"] == MEMBER_SPEED
    (r1,) = iperf(far, [(vm1, 1)], seconds=4)
    print(f"team of one member, weight 1 alone: {r1 / 1e6:.1f} Mbit/s")
    assert 0.85 * MEMBER_SPEED <= r1 <= 1.02 * MEMBER_SPEED
    assert member_stats(daemon, team)[far.members[0]]["state"] == "down"

    # Back: the capacity is both members' again.
    far.set_link(0, True)
    wait_for(lambda: daemon.rpc("qos.show", port=team)["active-members"]
             == 2)
    assert daemon.rpc("qos.show", port=team)["capacity"] == capacity

    # link-speed 0: not scheduled, the team runs at the veths' speed.
    daemon.ctl("port", "set", team, "link-speed=0")
    shown = daemon.rpc("qos.show", port=team)
    assert shown["scheduled"] is False
    assert "link-speed" in shown["reason"]
