"""NIC teams (issue 12, FEATURES.md §9): a team of two veths whose far ends
are ports of a Linux bridge in a namespace (the "physical switch"), VMs on
the switch, real traffic through the team.

The bridge namespace also holds the peer: an address on the bridge itself
(and a VLAN interface on it for the trunk test), where iperf3 servers
listen.
"""

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from conftest import add_vm, ping, sh, unique, wait_for
from frames import RawPort

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

# Runs alone in scripts/test.sh: it measures how traffic spreads over members
# and counts pings lost at failover.
pytestmark = pytest.mark.serial

NET = "10.77.0"
PEER_IP = f"{NET}.100"


class Far:
    """The far side: a Linux bridge in namespace 'ns' with the far ends of
    the members' veths; 'members' are the near ends (the team's members),
    'ends' the far ones, in the same order."""

    def __init__(self, topo, n_members=2, vlan=None):
        self.ns = topo.netns("far")
        self.members, self.ends = [], []
        for _ in range(n_members):
            near, far = topo.veth()
            self.members.append(near)
            self.ends.append(far)
        for which in ("all", "default"):
            sh(["sysctl", "-q", "-w",
                f"net.ipv6.conf.{which}.disable_ipv6=1"], ns=self.ns)
        sh(["ip", "-n", self.ns, "link", "add", "br0", "type", "bridge"])
        for far in self.ends:
            sh(["ip", "link", "set", far, "netns", self.ns])
            sh(["ip", "-n", self.ns, "link", "set", far, "master", "br0"])
            sh(["ip", "-n", self.ns, "link", "set", far, "up"])
        sh(["ip", "-n", self.ns, "link", "set", "br0", "up"])
        if vlan is None:
            sh(["ip", "-n", self.ns, "addr", "add", f"{PEER_IP}/24", "dev",
                "br0"])

    def set_link(self, index, up):
        sh(["ip", "-n", self.ns, "link", "set", self.ends[index],
            "up" if up else "down"])


def team_show(daemon, team):
    return daemon.rpc("team.show", name=team)["teams"][0]


def member_stats(daemon, team):
    return {m["name"]: m for m in team_show(daemon, team)["member-state"]}


def team_setup(daemon, topo, n_vms=1, **team_params):
    """A switch, a far side, a team of its members and VMs 10.77.0.1.. on
    the switch.  Returns (far, team, [vm namespaces])."""
    daemon.rpc("switch.add", name="sw0")
    far = Far(topo)
    team = unique("tm")
    daemon.rpc_raw("team.add", {"switch": "sw0", "name": team,
                                "members": ",".join(far.members),
                                **team_params})
    vms = []
    for i in range(n_vms):
        ns, _ = add_vm(daemon, topo, "sw0", f"vm{i}", ip=f"{NET}.{i + 1}")
        vms.append(ns)
    return far, team, vms


def test_team_ping_show_and_port_view(daemon, topo):
    far, team, (vm,) = team_setup(daemon, topo)
    assert ping(vm, PEER_IP)
    shown = team_show(daemon, team)
    assert shown["members"] == ",".join(far.members)
    assert shown["mode"] == "switch-independent"
    assert shown["lb"] == "address-hash"
    assert shown["active-members"] == 2
    states = {m["name"]: m for m in shown["member-state"]}
    for name in far.members:
        assert states[name]["state"] == "active"
        assert states[name]["carrier"] is True
    assert sum(m["tx-packets"] for m in states.values()) > 0
    assert sum(m["rx-packets"] for m in states.values()) > 0
    # The team is a port of its switch: a trunk by default, up.
    port = daemon.rpc("port.get", name=team)
    assert port["type"] == "team"
    assert port["vlan-mode"] == "trunk"
    assert port["link"] == "up"
    assert "ifname" not in port
    # The CLI's table.
    out = daemon.ctl("team", "show", team, json_out=False).stdout
    assert re.search(rf"{far.members[0]}\s+active", out), out
    out = daemon.ctl("team", "list", json_out=False).stdout
    assert team in out and "switch-independent" in out
    # The LACP slow protocols never reach the pipeline: a frame of type
    # 0x8809 sent by the far side is filtered off the workers' sockets.
    before = daemon.stats(team)["rx-packets"]
    sock = RawPort(far.ns, far.ends[0])
    try:
        for _ in range(50):
            sock.send(bytes.fromhex("0180c2000002" "020000000099" "8809")
                      + bytes(50))
    finally:
        sock.close()
    time.sleep(0.3)
    # (Whatever else the far side says meanwhile is far less.)
    assert daemon.stats(team)["rx-packets"] - before < 25


def test_team_restored_after_restart(daemon_factory, topo):
    daemon = daemon_factory()
    far, team, (vm,) = team_setup(daemon, topo, lb="port")
    daemon.rpc("team.set", name=team, standby=far.members[1])
    saved = json.loads((daemon.state_dir / "config.json").read_text())
    port = [p for p in saved["switches"][0]["ports"] if p["name"] == team][0]
    assert port["settings"]["type"] == "team"
    assert port["team"]["members"] == ",".join(far.members)
    assert port["team"]["standby"] == far.members[1]
    daemon.stop()
    daemon.start()
    shown = team_show(daemon, team)
    assert shown["lb"] == "port"
    assert shown["standby"] == far.members[1]
    wait_for(lambda: ping(vm, PEER_IP, count=1))


def iperf_pair(vm, flows, seconds=3, port=5201, cport=None):
    """Runs iperf3 with 'flows' parallel streams from 'vm' to the peer
    (from source ports cport, cport + 1, ... when given)."""
    extra = ["--cport", str(cport)] if cport else []
    return sh(["iperf3", "-c", PEER_IP, "-p", str(port), "-P", str(flows),
               "-t", str(seconds), "-J", *extra], ns=vm,
              timeout=seconds + 30)


@pytest.fixture
def iperf_server(topo):
    servers = []

    def start(ns, port=5201):
        proc = subprocess.Popen(["ip", "netns", "exec", ns, "iperf3", "-s",
                                 "-p", str(port), "-1"],
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        servers.append(proc)
        wait_for(lambda: f":{port}" in sh(["ss", "-ltn"], ns=ns).stdout)
        return proc

    yield start
    for proc in servers:
        proc.kill()
        proc.wait()


def tx_bytes(daemon, team):
    return {n: m["tx-bytes"] for n, m in member_stats(daemon, team).items()}


def sent_during(daemon, team, run):
    """The bytes each member of 'team' sent while run() ran."""
    before = tx_bytes(daemon, team)
    run()
    after = tx_bytes(daemon, team)
    return {n: after[n] - before[n] for n in after}


def test_team_spreads_flows_but_one_stream_stays(daemon, topo, iperf_server):
    far, team, (vm,) = team_setup(daemon, topo)
    assert ping(vm, PEER_IP)

    # Eight streams whose address hashes put four on each member (which
    # random source ports would do only most of the time).
    cport = next(p for p in range(42000, 43000)
                 if sum(address_hash_member(f"{NET}.1", PEER_IP, p + i, 5201)
                        for i in range(8)) == 4)
    iperf_server(far.ns)
    sent = sent_during(daemon, team, lambda: iperf_pair(vm, 8, cport=cport))
    total = sum(sent.values())
    assert total > 10_000_000, sent
    for name, nbytes in sent.items():
        assert nbytes >= 0.25 * total, (name, sent)

    iperf_server(far.ns)
    sent = sent_during(daemon, team, lambda: iperf_pair(vm, 1))
    total = sum(sent.values())
    # One TCP stream hashes to one member: the other sees only stray
    # frames (ARP), a tiny share.
    assert max(sent.values()) >= 0.98 * total, sent


def lost_pings(vm, count, during):
    """Runs an unbroken ping of 'count' echoes 10 ms apart, calling
    'during' half a second in; returns how many were lost and the longest
    time between two replies in ms (10 when none was lost)."""
    proc = subprocess.Popen(["ip", "netns", "exec", vm, "ping", "-D", "-i",
                             "0.01", "-c", str(count), "-W", "1", PEER_IP],
                            stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    during()
    out, _ = proc.communicate(timeout=count * 0.05 + 20)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    assert m, out
    stamps = [float(t) for t in re.findall(r"^\[(\d+\.\d+)\] \d+ bytes from",
                                           out, re.M)]
    gap = max(b - a for a, b in zip(stamps, stamps[1:])) * 1000
    return int(m.group(1)) - int(m.group(2)), gap


def test_team_failover_loses_few_pings(daemon, topo):
    far, team, (vm,) = team_setup(daemon, topo)
    assert ping(vm, PEER_IP)
    # Which member carries the ping (ICMP: hashed on the addresses).
    before = tx_bytes(daemon, team)
    assert ping(vm, PEER_IP, count=5)
    after = tx_bytes(daemon, team)
    busy = max(far.members, key=lambda n: after[n] - before[n])
    index = far.members.index(busy)

    lost, gap = lost_pings(vm, 300, lambda: far.set_link(index, False))
    print(f"failover: {lost} of 300 pings lost (10 ms apart), longest "
          f"time without a reply {gap:.1f} ms")
    assert lost <= 5
    states = member_stats(daemon, team)
    assert states[busy]["state"] == "down"
    assert states[busy]["carrier"] is False
    assert team_show(daemon, team)["failovers"] >= 1
    # The VM's MAC was announced through the surviving member.
    assert team_show(daemon, team)["announced"] >= 1

    lost, gap = lost_pings(vm, 200, lambda: far.set_link(index, True))
    assert lost <= 5
    wait_for(lambda: member_stats(daemon, team)[busy]["state"] == "active")


def test_team_standby_carries_nothing_until_needed(daemon, topo):
    far, team, (vm,) = team_setup(daemon, topo)
    standby = far.members[1]
    daemon.rpc("team.set", name=team, standby=standby)
    states = member_stats(daemon, team)
    assert states[standby]["state"] == "standby"
    assert team_show(daemon, team)["active-members"] == 1
    before = tx_bytes(daemon, team)
    assert ping(vm, PEER_IP, count=5)
    after = tx_bytes(daemon, team)
    assert after[standby] == before[standby]
    assert after[far.members[0]] > before[far.members[0]]

    far.set_link(0, False)
    wait_for(lambda: member_stats(daemon, team)[standby]["state"] ==
             "active")
    assert ping(vm, PEER_IP, count=3)
    before = tx_bytes(daemon, team)
    assert ping(vm, PEER_IP, count=3)
    assert tx_bytes(daemon, team)[standby] > before[standby]

    far.set_link(0, True)
    wait_for(lambda: member_stats(daemon, team)[standby]["state"] ==
             "standby")
    assert member_stats(daemon, team)[far.members[0]]["state"] == "active"


def test_team_broadcast_not_looped_and_reflections_dropped(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    far = Far(topo)
    team = unique("tm")
    daemon.rpc("team.add", switch="sw0", name=team,
               members=",".join(far.members))
    vm, vm_if = add_vm(daemon, topo, "sw0", "vm0", ip=f"{NET}.1")
    assert ping(vm, PEER_IP)
    vm_mac = [e["mac"] for e in daemon.rpc("fdb.show", switch="sw0")
              ["entries"] if e["port"] == "vm0"][0]
    drops = daemon.stats(team)["drops"]
    before_flood = drops["team-flood-member"]
    before_reflected = drops["team-reflected"]

    # The bridge floods a broadcast to both members: the VM gets one copy.
    watch = RawPort(vm, vm_if)
    sock = RawPort(far.ns, "br0")
    try:
        watch.drain()
        frame = bytes(Ether(src="02:77:00:00:00:99", dst="ff:ff:ff:ff:ff:ff")
                      / IP(src="10.77.0.99", dst="10.77.0.255")
                      / UDP(sport=9, dport=9) / (b"x" * 20))
        for _ in range(10):
            sock.send(frame)
        # Our own VM's MAC coming back from the physical switch: a
        # reflection, dropped and counted.
        reflected = bytes(Ether(src=vm_mac, dst="02:77:00:00:00:98")
                          / IP(src="10.77.0.1", dst="10.77.0.98")
                          / UDP(sport=9, dport=9) / (b"y" * 20))
        for _ in range(10):
            sock.send(reflected)
        wait_for(lambda: daemon.stats(team)["drops"]["team-reflected"]
                 >= before_reflected + 10)
        time.sleep(0.3)
        copies = [f for f in watch.drain()
                  if f[6:12] == bytes.fromhex("027700000099")]
    finally:
        sock.close()
        watch.close()
    assert len(copies) == 10
    assert daemon.stats(team)["drops"]["team-flood-member"] >= \
        before_flood + 10
    # The VM's MAC stays where it is.
    entries = daemon.rpc("fdb.show", switch="sw0")["entries"]
    assert [e["port"] for e in entries if e["mac"] == vm_mac] == ["vm0"]


def test_team_as_vlan_trunk(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    far = Far(topo, vlan=30)
    team = unique("tm")
    daemon.rpc("team.add", switch="sw0", name=team,
               members=",".join(far.members))
    daemon.rpc("port.set", name=team, trunks="30")
    vm, _ = add_vm(daemon, topo, "sw0", "vm0", ip=f"{NET}.1", vlan=30)
    vm20, _ = add_vm(daemon, topo, "sw0", "vm1", ip=f"{NET}.2", vlan=20)
    # The kernel has no VLAN devices: a host on the bridge answers on
    # VLAN 30 (vlan_host.py, as the trunk tests of test_forwarding.py),
    # with the bridge's MAC, so that the bridge passes it what it gets.
    sh(["ip", "-n", far.ns, "link", "set", "br0", "address",
        "02:77:00:00:00:64"])
    responder = subprocess.Popen(
        ["ip", "netns", "exec", far.ns, "/usr/bin/python3",
         str(Path(__file__).parent / "vlan_host.py"), "br0",
         f"30:{PEER_IP}:02:77:00:00:00:64"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert responder.stdout.readline().strip() == "ready"
        assert ping(vm, PEER_IP)
        # VLAN 20 is not on the trunk.
        assert not ping(vm20, PEER_IP, count=2)
    finally:
        responder.kill()
        responder.wait()
    assert daemon.rpc("port.get", name=team)["trunks"] == "30"
    assert daemon.stats(team)["tx-packets"] > 0


def test_team_port_mode_pins_each_vm_to_a_member(daemon, topo):
    far, team, vms = team_setup(daemon, topo, n_vms=2, lb="port")
    for vm in vms:
        assert ping(vm, PEER_IP)
    used = set()
    for vm in vms:
        before = tx_bytes(daemon, team)
        assert ping(vm, PEER_IP, count=5)
        after = tx_bytes(daemon, team)
        grew = [n for n in after if after[n] - before[n] > 400]
        assert len(grew) == 1, (before, after)
        used.add(grew[0])
    # Two VMs, two members: one each.
    assert used == set(far.members)


BAD = [
    ({}, "missing parameter 'members'"),
    ({"members": 5}, "members"),
    ({"members": ["a", "b"]}, "members"),
    ({"members": None}, "members"),
    ({"members": "nosuchif0"}, "no such interface"),
    ({"members": "MEMBER0,MEMBER0"}, "named twice"),
    ({"members": "MEMBER0", "standby": "MEMBER1"}, "one of the members"),
    ({"members": "MEMBER0", "standby": "MEMBER0"}, "needs another member"),
    ({"members": "MEMBER0", "mode": "bond"}, "mode must be"),
    ({"members": "MEMBER0", "lb": "round-robin"}, "lb must be"),
    ({"members": "MEMBER0", "memebrs": "x"}, "did you mean 'members'"),
    ({"members": "MEMBER0", "lacp-rate": "fast"}, "applies to mode=lacp"),
    ({"members": "MEMBER0", "rx-balance": "on"}, "true or false"),
    ({"members": "MEMBER0,USED"}, "already belongs to port"),
]


@pytest.mark.parametrize("params,message", BAD)
def test_team_bad_input_changes_nothing(daemon, topo, params, message):
    daemon.rpc("switch.add", name="sw0")
    m0, _ = topo.veth()
    m1, _ = topo.veth()
    used, _ = topo.veth()
    daemon.rpc("port.add", switch="sw0", name="up0", type="uplink",
               ifname=used)
    names = {"MEMBER0": m0, "MEMBER1": m1, "USED": used}
    params = {k: (re.sub("MEMBER0|MEMBER1|USED",
                         lambda x: names[x.group(0)], v)
                  if isinstance(v, str) else v)
              for k, v in params.items()}
    before = (daemon.state_dir / "config.json").read_text()
    with pytest.raises(Exception) as exc:
        daemon.rpc_raw("team.add", {"switch": "sw0", "name": "tm0",
                                    **params})
    assert message in str(exc.value)
    assert daemon.rpc("team.list")["teams"] == []
    assert [p["name"] for p in daemon.rpc("port.list")["ports"]] == ["up0"]
    assert (daemon.state_dir / "config.json").read_text() == before


def test_team_is_made_and_removed_only_by_team_methods(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    m0, _ = topo.veth()
    m1, _ = topo.veth()
    with pytest.raises(Exception, match="team.add"):
        daemon.rpc("port.add", switch="sw0", name="tm0", type="team")
    daemon.rpc("team.add", switch="sw0", name="tm0", members=m0)
    with pytest.raises(Exception, match="team.del"):
        daemon.rpc("port.del", name="tm0")
    # A member is no uplink of its own, nor a member of another team.
    with pytest.raises(Exception, match="member of team 'tm0'"):
        daemon.rpc("port.add", switch="sw0", name="up0", type="uplink",
                   ifname=m0)
    with pytest.raises(Exception, match="already belongs to team 'tm0'"):
        daemon.rpc("team.add", switch="sw0", name="tm1", members=m0)
    with pytest.raises(Exception, match="already exists"):
        daemon.rpc("team.add", switch="sw0", name="tm0", members=m1)
    # team.set: members change, a bad value changes nothing.
    daemon.rpc("team.set", name="tm0", members=f"{m0},{m1}")
    assert team_show(daemon, "tm0")["members"] == f"{m0},{m1}"
    with pytest.raises(Exception, match="one of the members"):
        daemon.rpc("team.set", name="tm0", standby="nosuch0")
    assert team_show(daemon, "tm0")["standby"] is None
    with pytest.raises(Exception, match="no team"):
        daemon.rpc("team.set", name="nosuch", lb="port")
    # Port settings work on the team through port.set.
    daemon.rpc("port.set", name="tm0", max_bandwidth="100M")
    daemon.rpc("team.del", name="tm0")
    assert daemon.rpc("team.list")["teams"] == []
    daemon.rpc("team.del", name="tm0", if_exists=True)
    # Its members are free again.
    daemon.rpc("port.add", switch="sw0", name="up0", type="uplink",
               ifname=m0)


def address_hash_member(src, dst, sport, dport, n_active=2, proto=6):
    """The member balance.c's address hash gives a TCP flow from 'src' to
    'dst' (IPv4 text) among 'n_active' active members: FNV-1a over the
    IPv4-mapped addresses, the protocol and the ports (host order), then
    the finishing mix, modulo the active members."""
    def mapped(ip):
        return bytes(10) + b"\xff\xff" + bytes(int(x) for x in ip.split("."))

    h = 2166136261
    data = (mapped(src) + mapped(dst) + bytes([proto])
            + sport.to_bytes(2, "little") + dport.to_bytes(2, "little"))
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    h ^= h >> 16
    h = (h * 0x7FEB352D) & 0xFFFFFFFF
    h ^= h >> 15
    h = (h * 0x846CA68B) & 0xFFFFFFFF
    h ^= h >> 16
    return h % n_active


def tcp_ofo_queued(ns):
    """Segments the namespace's TCP receivers queued out of order."""
    lines = sh(["cat", "/proc/net/netstat"], ns=ns).stdout.splitlines()
    ext = [line.split() for line in lines if line.startswith("TcpExt:")]
    return int(ext[1][ext[0].index("TCPOFOQueue")])


def two_paced_flows(vm, sports, seconds=4):
    """Two TCP flows from 'vm', source ports 'sports', to iperf3 servers on
    ports 5201 and 5202, each paced to 200 Mbit/s (iperf3 sends a burst
    every millisecond: the pauses between bursts make flowlets)."""
    procs = [subprocess.Popen(
        ["ip", "netns", "exec", vm, "iperf3", "-c", PEER_IP, "-p",
         str(5201 + i), "--cport", str(sport), "-b", "200M", "-t",
         str(seconds)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True) for i, sport in enumerate(sports)]
    for proc in procs:
        _, err = proc.communicate(timeout=seconds + 30)
        assert proc.returncode == 0, err


def colliding_sports(first):
    """(member, (first, second)): source ports of two_paced_flows() whose
    address hashes both pick 'member'."""
    member = address_hash_member(f"{NET}.1", PEER_IP, first, 5201)
    second = next(p for p in range(first + 1, first + 200)
                  if address_hash_member(f"{NET}.1", PEER_IP, p, 5202)
                  == member)
    return member, (first, second)


def test_team_dynamic_evens_out_colliding_flows(daemon, topo, iperf_server):
    far, team, (vm,) = team_setup(daemon, topo)
    assert ping(vm, PEER_IP)
    # Two flows whose address hashes collide: both on one member.
    member, sports = colliding_sports(41000)

    for port in (5201, 5202):
        iperf_server(far.ns, port)
    sent = sent_during(daemon, team, lambda: two_paced_flows(vm, sports))
    assert sent[far.members[member]] >= 0.95 * sum(sent.values()), sent

    # lb=dynamic: two such flows even out, and the receiver never sees a
    # segment out of order.  Other source ports: the first flows' 4-tuples
    # may still be in TIME_WAIT, and connect() would refuse them.
    _, sports = colliding_sports(41500)
    daemon.rpc("team.set", name=team, lb="dynamic")
    for port in (5201, 5202):
        iperf_server(far.ns, port)
    ofo = tcp_ofo_queued(far.ns)
    sent = sent_during(daemon, team, lambda: two_paced_flows(vm, sports))
    total = sum(sent.values())
    print(f"dynamic: {sent}, flowlet moves "
          f"{team_show(daemon, team)['flowlet-moves']}")
    for name in far.members:
        assert sent[name] >= 0.25 * total, sent
    assert tcp_ofo_queued(far.ns) == ofo
    assert team_show(daemon, team)["flowlet-moves"] > 0


def test_team_port_features_work_unchanged(daemon, topo):
    """Mirroring, metering and an ACL on the team port: the pipeline sees
    one port."""
    far, team, (vm, watcher) = team_setup(daemon, topo, n_vms=2)
    assert ping(vm, PEER_IP)
    # The second VM is a mirror destination, the team a source.
    daemon.rpc("port.set", name="vm1", mirror="destination")
    daemon.rpc("port.set", name=team, mirror="source", metering=True)
    copies = daemon.stats("vm1")["mirror-tx-packets"]
    assert ping(vm, PEER_IP, count=5)
    assert daemon.stats("vm1")["mirror-tx-packets"] - copies >= 10
    totals = {m["direction"]: m for m in
              daemon.ctl("metering", "show", team)["meters"]}
    assert totals["in"]["packets"] >= 5 and totals["out"]["packets"] >= 5
    # An ACL on the team: what the VM sends out through it denied (for a
    # port's "in" rules the remote side is the sender).
    daemon.rpc("port.set", name=team, mirror="none")
    daemon.ctl("acl", "add", team, "action=deny", "direction=in",
               f"remote-ip={NET}.1/32")
    assert not ping(vm, PEER_IP, count=2)
    assert daemon.stats(team)["drops"]["acl-deny"] >= 2


def rlb_member(ip, n_active=2):
    """The member whose MAC rx-balance gives the peer 'ip': balance.c's
    vsw_team_rlb_member() (FNV-1a over the address, the finishing mix)."""
    h = 2166136261
    for b in bytes(int(x) for x in ip.split(".")):
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    h ^= h >> 16
    h = (h * 0x7FEB352D) & 0xFFFFFFFF
    h ^= h >> 15
    h = (h * 0x846CA68B) & 0xFFFFFFFF
    h ^= h >> 16
    return h % n_active


def test_team_rx_balance_spreads_inbound_over_members(daemon, topo):
    far, team, (vm,) = team_setup(daemon, topo, **{"rx-balance": True})
    # Four peers on the physical switch, two for each member.
    candidates = [f"{NET}.{i}" for i in range(101, 200)]
    peers_ip = ([ip for ip in candidates if rlb_member(ip) == 0][:2]
                + [ip for ip in candidates if rlb_member(ip) == 1][:2])
    peers = []
    for ip in peers_ip:
        ns = topo.netns("peer")
        near, out = topo.ifname("pa"), topo.ifname("pb")
        sh(["ip", "link", "add", near, "type", "veth", "peer", "name", out])
        sh(["ip", "link", "set", near, "netns", far.ns])
        sh(["ip", "-n", far.ns, "link", "set", near, "master", "br0", "up"])
        sh(["sysctl", "-q", "-w", "net.ipv6.conf.default.disable_ipv6=1"],
           ns=ns)
        sh(["ip", "link", "set", out, "netns", ns])
        sh(["ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", out])
        sh(["ip", "-n", ns, "link", "set", out, "up"])
        peers.append((ns, ip))
    member_macs = [open(f"/sys/class/net/{m}/address").read().strip()
                   for m in far.members]
    for ns, ip in peers:
        assert ping(vm, ip)

    def knows_its_member(ns, ip):
        neigh = sh(["ip", "-n", ns, "neigh", "show", f"{NET}.1"]).stdout
        return member_macs[rlb_member(ip)] in neigh

    # Each peer knows the VM by the MAC of its own member (the VM's last
    # broadcast request told them all one MAC; the team told each its own
    # again within a second).
    for ns, ip in peers:
        wait_for(lambda: knows_its_member(ns, ip), timeout=5)

    before = member_stats(daemon, team)
    for ns, ip in peers:
        assert ping(vm, ip, count=20)
    after = member_stats(daemon, team)
    got = {n: after[n]["rx-packets"] - before[n]["rx-packets"]
           for n in far.members}
    total = sum(got.values())
    assert total >= 80, got
    for name in far.members:
        assert got[name] >= 0.25 * total, got
