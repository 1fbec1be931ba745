"""LACP teams against a real partner (issue 12): Open vSwitch's userspace
bond with lacp=active and lacp-time=fast over the far ends of two veth
pairs whose near ends are our team's members (ovs_peer.py).  Both sides
must agree, traffic must cross, a link down must move it, and silenced
LACPDUs must take the member out within the fast timeout.
"""

import re
import subprocess
import time

import pytest

from conftest import add_vm, ping, sh, unique, wait_for
from ovs_peer import ovs  # noqa: F401 (the fixture)

# Runs alone in scripts/test.sh: it counts pings lost at failover and waits on
# LACP timers.
pytestmark = pytest.mark.serial

NET = "10.78.0"
PEER_IP = f"{NET}.100"


def negotiated(state):
    return state.get("negotiated") and all(
        m["status"] == "current" and m["attached"]
        and {"collecting", "distributing", "synchronized"}
        <= set(m["partner"]["state"])
        for m in state["members"].values())


def members(daemon, team):
    shown = daemon.rpc("team.show", name=team)["teams"][0]
    return {m["name"]: m for m in shown["member-state"]}


def all_distributing(daemon, team):
    return all(m["state"] == "active" and m["lacp"]["distributing"]
               for m in members(daemon, team).values())


def mac_of(ifname):
    return open(f"/sys/class/net/{ifname}/address").read().strip()


def lacp_setup(daemon, topo, ovs):  # noqa: F811
    """sw0 with a VM 10.78.0.1 and an LACP team of two veths; OVS bridge
    with an LACP bond over their far ends and an internal port
    10.78.0.100.  Returns (team, near ends, far ends, bond, vm)."""
    daemon.rpc("switch.add", name="sw0")
    near, far = [], []
    for _ in range(2):
        a, b = topo.veth()
        near.append(a)
        far.append(b)
    bridge, bond, inside = unique("obr"), unique("obd"), unique("oin")
    ovs.add_bridge(bridge)
    ovs.add_bond(bridge, bond, far, lacp="active", fast=True)
    ovs.add_port(bridge, inside, internal=True)
    sh(["ip", "-n", ovs.ns, "addr", "add", f"{PEER_IP}/24", "dev", inside])
    # The bond's members live in OVS's namespace too: only the internal
    # port, which has the address, may answer ARP for it.
    sh(["sysctl", "-q", "-w", "net.ipv4.conf.all.arp_ignore=1"], ns=ovs.ns)
    team = unique("tm")
    daemon.rpc("team.add", switch="sw0", name=team, members=",".join(near),
               mode="lacp")
    vm, _ = add_vm(daemon, topo, "sw0", "vm0", ip=f"{NET}.1")
    return team, near, far, bond, vm


def test_lacp_team_negotiates_with_ovs_bond(daemon, topo, ovs):  # noqa: F811
    team, near, far, bond, vm = lacp_setup(daemon, topo, ovs)

    # Our side: both members collecting and distributing, OVS's system as
    # partner, in sync.
    wait_for(lambda: all_distributing(daemon, team), timeout=15)
    state = ovs.wait_lacp(bond, negotiated)
    ours = members(daemon, team)
    system = mac_of(near[0])
    for name in near:
        lacp = ours[name]["lacp"]
        assert lacp["current"] and lacp["selected"]
        assert lacp["actor"]["system"] == system
        assert {"activity", "timeout", "aggregation", "synchronization",
                "collecting", "distributing"} <= set(lacp["actor"]["state"])
        assert lacp["partner"]["system"] == state["sys_id"]
        assert lacp["partner"]["key"] == state["key"]
        assert "synchronization" in lacp["partner"]["state"]
        assert lacp["rx-lacpdus"] > 0 and lacp["tx-lacpdus"] > 0
    # OVS's side: our system is the partner of both members.
    assert state["lacp_time"] == "fast"
    for member in state["members"].values():
        assert member["partner"]["sys_id"] == system
        assert "defaulted" not in member["partner"]["state"]
    # The CLI says it too.
    out = daemon.ctl("team", "show", team, json_out=False).stdout
    assert out.count("active") >= 2, out

    # Traffic crosses the aggregation.
    wait_for(lambda: ping(vm, PEER_IP, count=1), timeout=15)
    assert ping(vm, PEER_IP, count=3)


def test_lacp_team_link_down_moves_traffic(daemon, topo, ovs):  # noqa: F811
    team, near, far, bond, vm = lacp_setup(daemon, topo, ovs)
    wait_for(lambda: all_distributing(daemon, team), timeout=15)
    ovs.wait_lacp(bond, negotiated)
    wait_for(lambda: ping(vm, PEER_IP, count=1), timeout=15)

    # The member that carries the VM's pings (ICMP hashes on the
    # addresses): its link goes down.
    before = {n: m["tx-bytes"] for n, m in members(daemon, team).items()}
    assert ping(vm, PEER_IP, count=5)
    after = {n: m["tx-bytes"] for n, m in members(daemon, team).items()}
    busy = max(range(2), key=lambda i: after[near[i]] - before[near[i]])
    other = 1 - busy

    proc = subprocess.Popen(["ip", "netns", "exec", vm, "ping", "-D", "-i",
                             "0.01", "-c", "300", "-W", "1", PEER_IP],
                            stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    ovs.set_link(far[busy], False)
    out, _ = proc.communicate(timeout=60)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    lost = int(m.group(1)) - int(m.group(2))
    stamps = [float(t) for t in re.findall(r"^\[(\d+\.\d+)\] \d+ bytes from",
                                           out, re.M)]
    gap = max(b - a for a, b in zip(stamps, stamps[1:])) * 1000
    print(f"LACP failover: {lost} of 300 pings lost (10 ms apart), longest "
          f"time without a reply {gap:.1f} ms")
    assert lost <= 10, out
    state = members(daemon, team)
    assert state[near[busy]]["state"] == "down"
    assert state[near[other]]["state"] == "active"
    assert ping(vm, PEER_IP, count=3)

    # Back: LACP takes the member in again.
    ovs.set_link(far[busy], True)
    wait_for(lambda: all_distributing(daemon, team), timeout=15)


def test_lacp_silence_removes_member_within_timeout(daemon, topo,
                                                    ovs):  # noqa: F811
    team, near, far, bond, vm = lacp_setup(daemon, topo, ovs)
    wait_for(lambda: all_distributing(daemon, team), timeout=15)
    ovs.wait_lacp(bond, negotiated)

    # The kernel has no tc actions and no nftables here.  An MTU below an
    # LACPDU's 110 bytes on the far end silences LACP on that link in both
    # directions (the veth refuses bigger frames; OVS cannot send them),
    # while the carrier stays up: only LACP's timeout can notice.
    start = time.monotonic()
    sh(["ip", "-n", ovs.ns, "link", "set", far[0], "mtu", "68"])
    wait_for(lambda: members(daemon, team)[near[0]]["state"] != "active",
             timeout=10, interval=0.05)
    took = time.monotonic() - start
    print(f"LACP silence noticed after {took:.2f} s")
    state = members(daemon, team)[near[0]]
    assert state["carrier"] is True
    assert state["state"] == "inactive"
    assert state["why"] in ("expired", "partner-not-in-sync", "no-partner")
    # Fast LACP: the partner's information times out 3 s after the last
    # LACPDU, which came at most 1 s before the silence.
    assert took <= 3.5
    assert members(daemon, team)[near[1]]["state"] == "active"
    wait_for(lambda: ping(vm, PEER_IP, count=1), timeout=10)

    sh(["ip", "-n", ovs.ns, "link", "set", far[0], "mtu", "1500"])
    wait_for(lambda: all_distributing(daemon, team), timeout=15)
