"""Port mirroring on real traffic (FEATURES.md §6): a destination running
tcpdump in its namespace sees every frame a source sends or receives
exactly once; nothing after mirror=none; nothing a policy dropped on the
source; an uplink can be a source and a destination."""

import os
import re
import signal
import subprocess
import time

import pytest

from conftest import RpcError, add_vm, ping, sh, unique, wait_for


class Capture:
    """tcpdump on 'ifname' in namespace 'ns', writing a pcap file."""

    def __init__(self, ns, ifname, path):
        self.path = path
        # Immediate mode: no frame waits in a ring block that an interrupt
        # would drop.
        cmd = ["tcpdump", "-i", ifname, "--immediate-mode", "-U", "-nn", "-w",
               str(path)]
        if ns:
            cmd = ["ip", "netns", "exec", ns] + cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        # It captures once it says so.
        line = self.proc.stderr.readline()
        assert "listening on" in line, line

    def stop(self):
        """Stops the capture; returns its ICMP echo requests and replies
        as lists of (source IP, destination IP, sequence)."""
        time.sleep(0.5)  # the last copies are on their way
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=10)
        return echoes(self.path, "icmp-echo"), echoes(self.path,
                                                      "icmp-echoreply")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def echoes(path, icmp_type):
    """(source, destination, seq) of each ICMP echo of 'icmp_type' in the
    pcap file 'path'."""
    out = sh(["tcpdump", "-r", str(path), "-nn",
              f"icmp[icmptype] == {icmp_type}"]).stdout
    found = []
    for line in out.splitlines():
        # 12:00:00.000000 IP 198.18.0.1 > 198.18.0.2: ICMP echo request,
        # id 1, seq 1, length 64
        words = line.replace(",", "").split()
        found.append((words[2], words[4].rstrip(":"),
                      int(words[words.index("seq") + 1])))
    return found


@pytest.fixture
def capture(tmp_path):
    captures = []

    def start(ns, ifname):
        c = Capture(ns, ifname, tmp_path / f"{unique('c')}.pcap")
        captures.append(c)
        return c

    yield start
    for c in captures:
        c.kill()


def each_once(found, src, dst, count):
    """Every sequence number 1..count from 'src' to 'dst' exactly once, and
    nothing else."""
    assert sorted(found) == [(src, dst, seq) for seq in range(1, count + 1)], \
        found


def mirror(daemon, port, role):
    daemon.rpc("port.set", name=port, mirror=role)


def three_vms(daemon, topo, vlan=None):
    daemon.rpc("switch.add", name="sw0")
    vm1, _ = add_vm(daemon, topo, "sw0", "vm1", "198.18.0.1", vlan=vlan)
    vm2, _ = add_vm(daemon, topo, "sw0", "vm2", "198.18.0.2", vlan=vlan)
    # The analyzer: untagged, whatever the others' VLAN.
    vm3, if3 = add_vm(daemon, topo, "sw0", "vm3", "198.18.0.3")
    mirror(daemon, "vm3", "destination")
    return vm1, vm2, vm3, if3


def test_destination_sees_a_source_ping_once_then_nothing_after_none(
        daemon, topo, capture):
    # The source and its peer are on VLAN 10, the destination is not: a
    # copy ignores the destination's VLAN membership.
    vm1, vm2, vm3, if3 = three_vms(daemon, topo, vlan=10)
    mirror(daemon, "vm1", "source")
    assert daemon.rpc("port.get", name="vm1")["mirror"] == "source"
    # Warm up ARP and the flow cache, so the counted pings take cache hits.
    assert ping(vm1, "198.18.0.2", count=2)

    cap = capture(vm3, if3)
    tx_before = daemon.stats("vm3")
    assert ping(vm1, "198.18.0.2", count=5)
    requests, replies = cap.stop()
    each_once(requests, "198.18.0.1", "198.18.0.2", 5)
    each_once(replies, "198.18.0.2", "198.18.0.1", 5)
    after = daemon.stats("vm3")
    copies = after["mirror-tx-packets"] - tx_before["mirror-tx-packets"]
    assert copies >= 10
    # Copies are counted on the destination's tx as well.
    assert after["tx-packets"] - tx_before["tx-packets"] >= copies
    assert after["mirror-tx-bytes"] > tx_before["mirror-tx-bytes"]
    # The table shows the copies too, as a line under the destination
    # (and nothing of the kind under a port that got none).
    table = daemon.ctl("port", "stats", json_out=False).stdout
    last = daemon.stats("vm3")["mirror-tx-packets"]
    notes = re.findall(r"^  mirror copies sent: (\d+) packets, \d+ bytes$",
                       table, re.M)
    assert len(notes) == 1, table
    assert after["mirror-tx-packets"] <= int(notes[0]) <= last, table

    mirror(daemon, "vm1", "none")
    cap = capture(vm3, if3)
    tx_before = daemon.stats("vm3")["mirror-tx-packets"]
    assert ping(vm1, "198.18.0.2", count=3)
    assert cap.stop() == ([], [])
    assert daemon.stats("vm3")["mirror-tx-packets"] == tx_before


@pytest.mark.parametrize("sources", [("vm1", "vm2"), ("vm2",)],
                         ids=["source-to-source", "receiving-source"])
def test_each_frame_of_a_source_is_copied_once(daemon, topo, capture,
                                               sources):
    """A frame from one source to another is copied once, not once per
    source; and frames a source only receives (the echo requests vm2
    gets, the replies it sends) are copied too."""
    vm1, vm2, vm3, if3 = three_vms(daemon, topo)
    for port in sources:
        mirror(daemon, port, "source")
    assert ping(vm1, "198.18.0.2", count=2)

    cap = capture(vm3, if3)
    assert ping(vm1, "198.18.0.2", count=5)
    requests, replies = cap.stop()
    each_once(requests, "198.18.0.1", "198.18.0.2", 5)
    each_once(replies, "198.18.0.2", "198.18.0.1", 5)


def test_destination_own_traffic_is_not_duplicated(daemon, topo, capture):
    vm1, vm2, vm3, if3 = three_vms(daemon, topo)
    mirror(daemon, "vm1", "source")
    assert ping(vm3, "198.18.0.1", count=2)

    cap = capture(vm3, if3)
    before = daemon.stats("vm3")["mirror-tx-packets"]
    assert ping(vm3, "198.18.0.1", count=5)
    requests, replies = cap.stop()
    # tcpdump sees what vm3 sends and what it gets, each once: no copy of
    # its own requests (vm1 receives them), none of the replies (vm3
    # gets them itself).
    each_once(requests, "198.18.0.3", "198.18.0.1", 5)
    each_once(replies, "198.18.0.1", "198.18.0.3", 5)
    assert daemon.stats("vm3")["mirror-tx-packets"] == before


def test_frames_a_policy_drops_are_not_mirrored(daemon, topo, capture):
    vm1, vm2, vm3, if3 = three_vms(daemon, topo)
    mirror(daemon, "vm1", "source")
    mirror(daemon, "vm2", "source")
    assert ping(vm1, "198.18.0.2", count=1)

    # The sending source's out-ACL drops its requests: no copy of them.
    ids = daemon.ctl("acl", "add", "vm1", "action=deny", "direction=out",
                     "remote-ip=198.18.0.2")["ids"]
    cap = capture(vm3, if3)
    assert not ping(vm1, "198.18.0.2", count=3)
    assert cap.stop() == ([], [])
    assert daemon.stats("vm1")["drops"]["acl-deny"] >= 3
    daemon.ctl("acl", "del", "vm1", str(ids[0]), json_out=False)

    # The receiving source's in-ACL drops them: no copy either, although
    # vm1 is a source too (a drop on vm2's side is vm2's to keep out).
    mirror(daemon, "vm1", "none")
    daemon.ctl("acl", "add", "vm2", "action=deny", "direction=in",
               "remote-ip=198.18.0.1")
    cap = capture(vm3, if3)
    assert not ping(vm1, "198.18.0.2", count=3)
    assert cap.stop() == ([], [])
    assert daemon.stats("vm2")["drops"]["acl-deny"] >= 3


def test_frames_a_guard_drops_are_not_mirrored(daemon, topo, capture):
    vm1, vm2, vm3, if3 = three_vms(daemon, topo)
    mirror(daemon, "vm1", "source")
    assert ping(vm1, "198.18.0.2", count=1)
    # The IP guard: vm1 may use another address only.
    daemon.rpc("port.set", name="vm1", allowed_ips="198.18.0.99")
    cap = capture(vm3, if3)
    assert not ping(vm1, "198.18.0.2", count=3)
    assert cap.stop() == ([], [])
    assert daemon.stats("vm1")["drops"]["ip-guard"] >= 3


def test_uplink_as_source(daemon, topo, capture):
    daemon.rpc("switch.add", name="sw0")
    up, peer = topo.veth()
    remote = topo.netns("rem")
    sh(["ip", "link", "set", peer, "netns", remote])
    sh(["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"], ns=remote)
    sh(["ip", "-n", remote, "addr", "add", "198.18.0.9/24", "dev", peer])
    sh(["ip", "-n", remote, "link", "set", peer, "up"])
    daemon.rpc("port.add", switch="sw0", name="up0", type="uplink",
               ifname=up, mirror="source")
    vm1, _ = add_vm(daemon, topo, "sw0", "vm1", "198.18.0.1")
    vm3, if3 = add_vm(daemon, topo, "sw0", "vm3", "198.18.0.3")
    mirror(daemon, "vm3", "destination")
    assert ping(remote, "198.18.0.1", count=2)

    cap = capture(vm3, if3)
    assert ping(remote, "198.18.0.1", count=5)
    requests, replies = cap.stop()
    each_once(requests, "198.18.0.9", "198.18.0.1", 5)
    each_once(replies, "198.18.0.1", "198.18.0.9", 5)


def test_uplink_as_destination(daemon, topo, capture):
    """An uplink destination sends the copies onto its link: an analyzer
    on the other end of the veth sees them."""
    daemon.rpc("switch.add", name="sw0")
    up, peer = topo.veth()
    analyzer = topo.netns("ana")
    sh(["ip", "link", "set", peer, "netns", analyzer])
    sh(["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"],
       ns=analyzer)
    sh(["ip", "-n", analyzer, "link", "set", peer, "up"])
    vm1, _ = add_vm(daemon, topo, "sw0", "vm1", "198.18.0.1")
    vm2, _ = add_vm(daemon, topo, "sw0", "vm2", "198.18.0.2")
    daemon.rpc("port.add", switch="sw0", name="up0", type="uplink",
               ifname=up, mirror="destination")
    mirror(daemon, "vm1", "source")
    assert ping(vm1, "198.18.0.2", count=2)

    cap = capture(analyzer, peer)
    assert ping(vm1, "198.18.0.2", count=4)
    requests, replies = cap.stop()
    each_once(requests, "198.18.0.1", "198.18.0.2", 4)
    each_once(replies, "198.18.0.2", "198.18.0.1", 4)


def test_trace_shows_the_mirror_step(daemon, topo):
    three_vms(daemon, topo)
    mirror(daemon, "vm1", "source")
    res = daemon.rpc("trace", **{"switch": "sw0", "in-port": "vm1",
                                 "ip-src": "198.18.0.1",
                                 "ip-dst": "198.18.0.2", "proto": "icmp"})
    steps = {s["stage"]: s for s in res["stages"]}
    # A broadcast: vm3 is flooded the frame itself, so it gets no copy.
    assert steps["mirror"]["detail"] == \
        "no copy: every destination gets the frame itself", res
    daemon.rpc("port.set", name="vm3", flood=False)
    res = daemon.rpc("trace", **{"switch": "sw0", "in-port": "vm1",
                                 "ip-src": "198.18.0.1",
                                 "ip-dst": "198.18.0.2", "proto": "icmp"})
    steps = {s["stage"]: s for s in res["stages"]}
    assert steps["mirror"]["detail"] == "copy as received from vm1 to vm3"
    mirror(daemon, "vm1", "none")
    res = daemon.rpc("trace", **{"switch": "sw0", "in-port": "vm1"})
    assert "mirror" not in {s["stage"] for s in res["stages"]}


def test_bad_values_are_refused_and_change_nothing(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    add_vm(daemon, topo, "sw0", "vm1")
    assert daemon.rpc("port.get", name="vm1")["mirror"] == "none"
    for value in ("bogus", 1, None, "Source"):
        with pytest.raises(RpcError) as e:
            daemon.rpc_raw("port.set", {"name": "vm1", "mirror": value})
        assert e.value.code == -32602, value
    assert daemon.rpc("port.get", name="vm1")["mirror"] == "none"
    # The setting survives a restart.
    mirror(daemon, "vm1", "destination")
    daemon.stop()
    daemon.start()
    assert daemon.rpc("port.get", name="vm1")["mirror"] == "destination"


SEND_TAGGED = """
import socket, sys
ifname, src, count = sys.argv[1], bytes.fromhex(sys.argv[2]), int(sys.argv[3])
arp = (bytes.fromhex("0001080006040001") + src + bytes([198, 18, 0, 2]) +
       bytes(6) + bytes([198, 18, 0, 77]))
frame = (b"\\xff" * 6 + src + bytes.fromhex("8100000a") +
         bytes.fromhex("0806") + arp)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
for _ in range(count):
    s.send(frame)
"""


def tagged_arps(path):
    """The ARP requests in a pcap file as (VLAN or None, sender IP)."""
    out = sh(["tcpdump", "-r", str(path), "-nn", "-e", "arp or (vlan and arp)"]
             ).stdout
    found = []
    for line in out.splitlines():
        words = line.replace(",", "").split()
        vlan = int(words[words.index("vlan") + 1]) if "vlan" in words \
            else None
        found.append((vlan, words[words.index("tell") + 1]))
    return found


def test_copies_carry_the_tag_of_the_source_wire(daemon, topo, capture):
    """A copy is the frame as on the source's wire: tagged when the source
    is a trunk, whatever VLANs the destination belongs to."""
    daemon.rpc("switch.add", name="sw0")
    vm1, _ = add_vm(daemon, topo, "sw0", "vm1", "198.18.0.1", vlan=10)
    vm2, if2 = add_vm(daemon, topo, "sw0", "vm2")
    daemon.rpc("port.set", name="vm2", vlan_mode="trunk", trunks="10")
    vm3, if3 = add_vm(daemon, topo, "sw0", "vm3", "198.18.0.3")
    mirror(daemon, "vm3", "destination")
    mirror(daemon, "vm2", "source")

    # vm1's ARP requests reach the trunk vm2 tagged 10: so do their
    # copies (mon, untagged, is no member of VLAN 10 and gets no flood).
    cap = capture(vm3, if3)
    assert not ping(vm1, "198.18.0.2", count=2)
    cap.stop()
    arps = tagged_arps(cap.path)
    assert arps and set(arps) == {(10, "198.18.0.1")}, arps

    # Frames the trunk sends tagged are copied with their tag, once each.
    mac = sh(["cat", f"/sys/class/net/{if2}/address"], ns=vm2).stdout.strip()
    cap = capture(vm3, if3)
    sh(["/usr/bin/python3", "-c", SEND_TAGGED, if2, mac.replace(":", ""),
        "3"], ns=vm2)
    cap.stop()
    # vm1's kernel may still be retrying its ARP request (copied as above).
    arps = [a for a in tagged_arps(cap.path) if a != (10, "198.18.0.1")]
    assert arps == [(10, "198.18.0.2")] * 3


def test_a_switch_has_at_most_32_destinations(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    names = []
    for i in range(33):
        ifname = topo.ifname("m")
        daemon.rpc("port.add", switch="sw0", name=f"m{i}", type="tap",
                   ifname=ifname, mirror="destination" if i < 32 else "none")
        names.append(f"m{i}")
    config = (daemon.state_dir / "config.json").read_text()
    with pytest.raises(RpcError) as e:
        daemon.rpc("port.set", name="m32", mirror="destination")
    assert e.value.code == -32006
    assert "32 mirror destinations" in e.value.message
    with pytest.raises(RpcError) as e:
        daemon.rpc("port.add", switch="sw0", name="m33", type="tap",
                   ifname=topo.ifname("m"), mirror="destination")
    assert e.value.code == -32006
    assert daemon.rpc("port.get", name="m32")["mirror"] == "none"
    assert (daemon.state_dir / "config.json").read_text() == config
    # One destination less, and there is room again.
    mirror(daemon, "m0", "source")
    mirror(daemon, "m32", "destination")
