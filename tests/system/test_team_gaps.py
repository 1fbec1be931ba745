"""NIC teams (issue 12), what the first round left out: a member whose
interface is deleted (not just downed) and comes back, the flowlet gap of
lb=dynamic as a setting, and member selection in a trace.

The far side is test_team.py's: a Linux bridge in a namespace holding the
far ends of the members' veths, and the peer's address on the bridge.
"""

import pytest

from conftest import ping, sh, wait_for
from ovs_peer import ovs  # noqa: F401 (the fixture)
from test_team_lacp import PEER_IP as LACP_PEER_IP
from test_team_lacp import all_distributing, lacp_setup, negotiated
from test_team_lacp import members as lacp_members
from test_team import (NET, PEER_IP, address_hash_member, lost_pings,
                       member_stats, team_setup, team_show, tx_bytes)


def deletable_setup(daemon, topo):
    """team_setup() whose bridge keeps its MAC when ports come and go (a
    bridge takes its smallest port's MAC unless given one, which would
    leave the VMs' neighbour entries stale)."""
    far, team, vms = team_setup(daemon, topo)
    sh(["ip", "-n", far.ns, "link", "set", "br0", "address",
        "02:00:00:77:00:64"])
    return far, team, vms


def recreate_member(topo, far, index):
    """An interface of the deleted member's name again, its far end on
    the bridge."""
    name = far.members[index]
    new_far = topo.ifname("rf")
    sh(["ip", "link", "add", name, "type", "veth", "peer", "name", new_far])
    far.ends[index] = new_far
    sh(["sysctl", "-q", "-w", f"net.ipv6.conf.{name}.disable_ipv6=1"])
    sh(["sysctl", "-q", "-w", f"net.ipv4.conf.{name}.arp_ignore=8"])
    sh(["ip", "link", "set", new_far, "netns", far.ns])
    sh(["ip", "-n", far.ns, "link", "set", new_far, "master", "br0"])
    sh(["ip", "-n", far.ns, "link", "set", new_far, "up"])
    sh(["ip", "link", "set", name, "up"])


def busy_member(daemon, team, far, vm):
    """The member that carries the VM's pings (ICMP hashes on the
    addresses, so one member carries them all)."""
    before = tx_bytes(daemon, team)
    assert ping(vm, PEER_IP, count=5)
    after = tx_bytes(daemon, team)
    return max(far.members, key=lambda n: after[n] - before[n])


@pytest.mark.serial
def test_team_member_deleted_others_carry_on_and_it_returns(daemon, topo):
    far, team, (vm,) = deletable_setup(daemon, topo)
    assert ping(vm, PEER_IP)
    busy = busy_member(daemon, team, far, vm)
    index = far.members.index(busy)
    other = far.members[1 - index]

    # Deleting the busy member's veth (both ends go) moves its traffic to
    # the other member; the team never stops.
    lost, gap = lost_pings(vm, 300, lambda: sh(["ip", "link", "del", busy]))
    print(f"member deleted: {lost} of 300 pings lost (10 ms apart), longest "
          f"time without a reply {gap:.1f} ms")
    assert lost <= 5
    states = member_stats(daemon, team)
    assert states[busy]["state"] == "missing"
    assert states[busy]["carrier"] is False
    assert states[other]["state"] == "active"
    shown = team_show(daemon, team)
    assert shown["active-members"] == 1
    assert shown["failovers"] >= 1
    assert daemon.rpc("port.get", name=team)["link"] == "up"
    before = tx_bytes(daemon, team)
    assert ping(vm, PEER_IP, count=3)
    assert tx_bytes(daemon, team)[other] > before[other]

    # An interface of its name comes back: taken back as a member, and the
    # pings hash to it again.
    recreate_member(topo, far, index)
    wait_for(lambda: member_stats(daemon, team)[busy]["state"] == "active")
    assert team_show(daemon, team)["active-members"] == 2
    wait_for(lambda: ping(vm, PEER_IP, count=1))
    before = tx_bytes(daemon, team)
    assert ping(vm, PEER_IP, count=5)
    assert tx_bytes(daemon, team)[busy] > before[busy]


def test_team_member_taken_down_here_comes_back_to_work(daemon, topo):
    """Our own end of a member set down: its socket fails (the worker gives
    up on it), the team goes on over the other and counts a failover, and
    the member carries traffic again once it is up."""
    far, team, (vm,) = deletable_setup(daemon, topo)
    assert ping(vm, PEER_IP)
    busy = busy_member(daemon, team, far, vm)
    other = far.members[1 - far.members.index(busy)]
    sh(["ip", "link", "set", busy, "down"])
    wait_for(lambda: member_stats(daemon, team)[busy]["state"] != "active")
    assert team_show(daemon, team)["failovers"] >= 1
    before = tx_bytes(daemon, team)
    wait_for(lambda: ping(vm, PEER_IP, count=1))
    assert ping(vm, PEER_IP, count=3)
    assert tx_bytes(daemon, team)[other] > before[other]
    sh(["ip", "link", "set", busy, "up"])
    wait_for(lambda: member_stats(daemon, team)[busy]["state"] == "active")
    wait_for(lambda: ping(vm, PEER_IP, count=1))
    before = tx_bytes(daemon, team)
    assert ping(vm, PEER_IP, count=5)
    assert tx_bytes(daemon, team)[busy] > before[busy]


def test_team_every_member_deleted_then_one_returns(daemon, topo):
    far, team, (vm,) = deletable_setup(daemon, topo)
    assert ping(vm, PEER_IP)
    for name in far.members:
        sh(["ip", "link", "del", name])
    wait_for(lambda: all(m["state"] == "missing"
                         for m in member_stats(daemon, team).values()))
    assert team_show(daemon, team)["active-members"] == 0
    name = far.members[0]
    recreate_member(topo, far, 0)
    wait_for(lambda: member_stats(daemon, team)[name]["state"] == "active")
    wait_for(lambda: ping(vm, PEER_IP, count=1))
    assert member_stats(daemon, team)[far.members[1]]["state"] == "missing"


def test_team_flowlet_gap_setting(daemon, topo):
    far, team, (vm,) = team_setup(daemon, topo)
    shown = team_show(daemon, team)
    # Only lb=dynamic has flowlets.
    assert shown.get("flowlet-gap") is None
    daemon.rpc("team.set", name=team, lb="dynamic")
    assert team_show(daemon, team)["flowlet-gap"] == 500
    daemon.rpc_raw("team.set", {"name": team, "flowlet-gap": 2000})
    assert team_show(daemon, team)["flowlet-gap"] == 2000
    # The CLI takes it as an integer.
    daemon.ctl("team", "set", team, "flowlet-gap=1500")
    assert team_show(daemon, team)["flowlet-gap"] == 1500
    assert ping(vm, PEER_IP)

    before = (daemon.state_dir / "config.json").read_text()
    for value, message in ((5, "flowlet-gap"), (2_000_000, "flowlet-gap"),
                           ("300", "integer"), (None, "integer")):
        with pytest.raises(Exception) as exc:
            daemon.rpc_raw("team.set", {"name": team, "flowlet-gap": value})
        assert message in str(exc.value), (value, str(exc.value))
    with pytest.raises(Exception) as exc:
        daemon.rpc_raw("team.set", {"name": team, "lb": "port",
                                    "flowlet-gap": 800})
    assert "applies to lb=dynamic" in str(exc.value)
    assert team_show(daemon, team)["flowlet-gap"] == 1500
    assert (daemon.state_dir / "config.json").read_text() == before


def team_step(daemon, vm_port, fields):
    result = daemon.ctl("trace", "sw0", f"in-port={vm_port}", *fields)
    steps = [s for s in result["stages"] if s["stage"] == "team"]
    assert len(steps) == 1, result["stages"]
    table = daemon.ctl("trace", "sw0", f"in-port={vm_port}", *fields,
                       json_out=False).stdout
    return steps[0], table


def test_team_trace_shows_member_and_rule(daemon, topo):
    far, team, (vm,) = team_setup(daemon, topo)
    assert ping(vm, PEER_IP)
    peer_mac = sh(["cat", "/sys/class/net/br0/address"],
                  ns=far.ns).stdout.strip()
    before = tx_bytes(daemon, team)
    # Two TCP flows whose address hashes differ: the trace names the member
    # the hash gives, which is the one real frames take.
    for sport in range(40000, 40064):
        if (address_hash_member(f"{NET}.1", PEER_IP, sport, 80) !=
                address_hash_member(f"{NET}.1", PEER_IP, 40000, 80)):
            break
    for port in (40000, sport):
        fields = [f"eth-dst={peer_mac}", f"ip-src={NET}.1",
                  f"ip-dst={PEER_IP}", "proto=tcp", f"sport={port}",
                  "dport=80"]
        step, table = team_step(daemon, "vm0", fields)
        member = far.members[address_hash_member(f"{NET}.1", PEER_IP, port,
                                                 80)]
        assert step["verdict"] == "continue"
        assert step["detail"].startswith(f"member {member}: address-hash"), \
            step
        assert "% 2 active" in step["detail"]
        assert member in table
    # A trace sends nothing.
    assert tx_bytes(daemon, team) == before

    daemon.rpc("team.set", name=team, lb="port")
    step, _ = team_step(daemon, "vm0", fields)
    assert "lb=port" in step["detail"]
    daemon.rpc("team.set", name=team, lb="dynamic")
    step, _ = team_step(daemon, "vm0", fields)
    assert "lb=dynamic: a new flowlet" in step["detail"], step
    # With one member left, the rule is simple.
    far.set_link(0, False)
    wait_for(lambda: team_show(daemon, team)["active-members"] == 1)
    step, _ = team_step(daemon, "vm0", fields)
    assert step["detail"] == f"member {far.members[1]}: the only active " \
        "member", step


@pytest.mark.serial
def test_lacp_team_member_deleted_other_keeps_distributing(daemon, topo,
                                                           ovs):  # noqa: F811
    team, near, far, bond, vm = lacp_setup(daemon, topo, ovs)
    wait_for(lambda: all_distributing(daemon, team), timeout=15)
    ovs.wait_lacp(bond, negotiated)
    wait_for(lambda: ping(vm, LACP_PEER_IP, count=1), timeout=15)
    rx_before = lacp_members(daemon, team)[near[1]]["lacp"]["rx-lacpdus"]

    # The device is opened again without the deleted member; LACP's actor
    # carries on, so the survivor never stops distributing (a new actor
    # would have to negotiate again).
    sh(["ip", "link", "del", near[0]])
    wait_for(lambda: lacp_members(daemon, team)[near[0]]["state"] ==
             "missing")
    survivor = lacp_members(daemon, team)[near[1]]
    assert survivor["state"] == "active", survivor
    assert survivor["lacp"]["distributing"]
    assert survivor["lacp"]["rx-lacpdus"] >= rx_before
    assert ping(vm, LACP_PEER_IP, count=3)
