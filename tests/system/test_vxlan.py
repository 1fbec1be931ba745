"""Tenant networks over VXLAN (issue 13, part 1): VNIs and VXLAN tunnels.

Every "host" is a vswitchd running in a network namespace of its own,
with an underlay veth into a Linux bridge in an underlay namespace, and
"VMs" on TAPs in namespaces of their own.  VNI 5001 and 5002 use the SAME
IP addresses on purpose: a frame that crossed from one to the other
would be answered.
"""

import json
import re
import signal
import subprocess

import pytest

from conftest import (RpcError, add_vm, csum_errors, iperf_server, ping, sh,
                      unique, wait_for)

VNI_A, VNI_B = 5001, 5002


def drops(daemon, port, reason):
    return daemon.stats(port)["drops"].get(reason, 0)


def tx_packets(daemon, port):
    return daemon.stats(port)["tx-packets"]


def vm_mac(ns, ifname):
    return sh(["cat", f"/sys/class/net/{ifname}/address"],
              ns=ns).stdout.strip()


class Underlay:
    """A Linux bridge in a namespace of its own, and namespaces plugged
    into it with a veth each, addressed 10.77.0.N/24."""

    def __init__(self, topo):
        self.topo = topo
        self.ns = topo.netns("ul")
        sh(["ip", "-n", self.ns, "link", "add", "br0", "type", "bridge"])
        sh(["ip", "-n", self.ns, "link", "set", "br0", "up"])
        self.n = 0

    def plug(self, ns, mtu=1500):
        """Plugs namespace 'ns' in; returns (its address, its veth)."""
        self.n += 1
        a, b = self.topo.ifname("ha"), self.topo.ifname("hb")
        sh(["ip", "link", "add", a, "type", "veth", "peer", "name", b])
        sh(["ip", "link", "set", a, "netns", ns])
        sh(["ip", "link", "set", b, "netns", self.ns])
        sh(["ip", "-n", self.ns, "link", "set", b, "master", "br0", "mtu",
            str(mtu), "up"])
        addr = f"10.77.0.{self.n}"
        sh(["ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", a])
        sh(["ip", "-n", ns, "link", "set", a, "mtu", str(mtu), "up"])
        return addr, a


class Host:
    """A vswitchd in a namespace of its own with switch sw0 and a VXLAN
    tunnel on its underlay address."""

    def __init__(self, daemon_factory, topo, underlay, label, mtu=1500):
        self.topo = topo
        self.ns = topo.netns("h")
        self.ip, self.uplink = underlay.plug(self.ns, mtu)
        self.d = daemon_factory(label, netns=self.ns)
        self.d.rpc("switch.add", name="sw0")
        self.tunnel = unique("vx")
        self.d.ctl("tunnel", "add", "sw0", self.tunnel, f"local-ip={self.ip}",
                   json_out=False)

    def vm(self, port, vni, ip, mtu=None):
        ns, ifname = add_vm(self.d, self.topo, "sw0", port, ip=ip)
        self.d.rpc("port.set", name=port, vni=vni)
        if mtu:
            sh(["ip", "-n", ns, "link", "set", ifname, "mtu", str(mtu)])
        return ns, ifname

    def remotes(self, *pairs):
        text = ",".join(f"{vni}:{ip}" for vni, ip in pairs)
        self.d.ctl("tunnel", "set", self.tunnel, f"remote={text}",
                   json_out=False)


@pytest.fixture
def two_hosts(daemon_factory, topo):
    ul = Underlay(topo)
    a = Host(daemon_factory, topo, ul, "hosta")
    b = Host(daemon_factory, topo, ul, "hostb")
    a.remotes((VNI_A, b.ip), (VNI_B, b.ip))
    b.remotes((VNI_A, a.ip), (VNI_B, a.ip))
    return ul, a, b


def test_vni_isolation_on_one_host(daemon, topo):
    """Same switch, same VLAN (untagged), different VNIs: no frame
    crosses; the same VNI forwards as before."""
    daemon.rpc("switch.add", name="sw0")
    ns1, _ = add_vm(daemon, topo, "sw0", "a1", ip="192.168.50.1")
    add_vm(daemon, topo, "sw0", "a2", ip="192.168.50.2")
    ns3, _ = add_vm(daemon, topo, "sw0", "b1", ip="192.168.50.3")
    daemon.rpc("port.set", name="a1", vni=VNI_A)
    daemon.rpc("port.set", name="a2", vni=VNI_A)
    daemon.rpc("port.set", name="b1", vni=VNI_B)
    assert ping(ns1, "192.168.50.2")
    before = tx_packets(daemon, "b1")
    assert not ping(ns1, "192.168.50.3", count=2)
    assert not ping(ns3, "192.168.50.1", count=2)
    # Not even the ARP broadcasts of the other VNI reached b1.
    assert tx_packets(daemon, "b1") == before
    # Put in the same VNI, they talk (once the VMs retry their failed
    # ARP resolution).
    daemon.rpc("port.set", name="b1", vni=VNI_A)
    wait_for(lambda: ping(ns1, "192.168.50.3", count=1))
    # A port without a VNI (0) is in no tenant network.
    daemon.rpc("port.set", name="b1", vni=0)
    assert not ping(ns1, "192.168.50.3", count=2)
    # The VNI is in get; bad values are refused and change nothing.
    assert daemon.rpc("port.get", name="a1")["vni"] == VNI_A
    for bad in (16777216, -1, "5001", None):
        with pytest.raises(Exception):
            daemon.rpc("port.set", name="a1", vni=bad)
    assert daemon.rpc("port.get", name="a1")["vni"] == VNI_A


def test_vni_overlapping_addresses_across_hosts(two_hosts):
    """Two tenants use the same addresses on two hosts; each reaches its
    own peer across the tunnel and never the other tenant."""
    _, a, b = two_hosts
    a1, _ = a.vm("a1", VNI_A, "192.168.60.1")
    a2, _ = a.vm("a2", VNI_B, "192.168.60.1")
    b1, b1_if = b.vm("b1", VNI_A, "192.168.60.2")
    b2, b2_if = b.vm("b2", VNI_B, "192.168.60.2")

    # Tenant A: a1 -> b1 only.
    b2_before = tx_packets(b.d, "b2")
    a2_before = tx_packets(a.d, "a2")
    assert ping(a1, "192.168.60.2")
    assert tx_packets(b.d, "b2") == b2_before
    assert tx_packets(a.d, "a2") == a2_before
    # The MAC that answered is b1's, not b2's.
    neigh = sh(["ip", "neigh", "show", "192.168.60.2"], ns=a1).stdout
    assert vm_mac(b1, b1_if) in neigh, neigh

    # Tenant B: a2 -> b2 only.
    b1_before = tx_packets(b.d, "b1")
    assert ping(a2, "192.168.60.2")
    assert tx_packets(b.d, "b1") == b1_before
    neigh = sh(["ip", "neigh", "show", "192.168.60.2"], ns=a2).stdout
    assert vm_mac(b2, b2_if) in neigh, neigh

    # The tunnel learned where the remote MACs are, per VNI.
    learned = a.d.rpc("tunnel.show", name=a.tunnel)["learned"]
    assert {(e["vni"], e["vtep"]) for e in learned} == {
        (VNI_A, b.ip), (VNI_B, b.ip)}
    # The MAC table has the remote MACs on the tunnel, each in its VNI.
    entries = a.d.rpc("fdb.show", switch="sw0")["entries"]
    on_tunnel = {e.get("vni") for e in entries if e["port"] == a.tunnel}
    assert on_tunnel == {VNI_A, VNI_B}


def capture(ns, iface, path):
    """Starts tcpdump writing VXLAN datagrams seen on 'iface' of 'ns' to
    'path'; returns the process (stop it with stop_capture)."""
    proc = subprocess.Popen(
        ["ip", "netns", "exec", ns, "tcpdump", "-i", iface, "-nn", "-U",
         "-w", str(path), "udp", "port", "4789"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # tcpdump says "listening on" once its filter is in place.
    line = proc.stderr.readline().decode()
    assert "listening" in line, line
    return proc


def stop_capture(proc):
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


SEND_UDP = """
import socket, sys
dst, n = sys.argv[1], int(sys.argv[2])
for sport in range(40000, 40000 + n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("", sport))
    s.sendto(b"x" * 32, (dst, 9))
    s.close()
"""


def test_kernel_vxlan_interop_and_wire_format(two_hosts, topo, tmp_path):
    """A Linux VXLAN device (a host without vswitch) talks with our VM in
    VNI 5001; tcpdump decodes our datagrams as VXLAN with the right VNI,
    and the outer source port follows the inner flow."""
    ul, a, b = two_hosts
    a1, _ = a.vm("a1", VNI_A, "192.168.70.1")
    a2, _ = a.vm("a2", VNI_B, "192.168.70.1")
    kh = topo.netns("kh")
    k_ip, _ = ul.plug(kh)
    sh(["ip", "-n", kh, "link", "add", "vx", "type", "vxlan", "id",
        str(VNI_A), "dstport", "4789", "local", k_ip, "remote", a.ip])
    sh(["ip", "-n", kh, "addr", "add", "192.168.70.9/24", "dev", "vx"])
    sh(["ip", "-n", kh, "link", "set", "vx", "up"])
    a.remotes((VNI_A, b.ip), (VNI_B, b.ip), (VNI_A, k_ip))

    pcap = tmp_path / "underlay.pcap"
    proc = capture(ul.ns, "br0", pcap)
    try:
        a2_before = tx_packets(a.d, "a2")
        assert ping(a1, "192.168.70.9")
        assert ping(kh, "192.168.70.1")
        # The other tenant never saw the kernel's frames.
        assert tx_packets(a.d, "a2") == a2_before
        sent = tx_packets(a.d, a.tunnel)
        sh(["/usr/bin/python3", "-c", SEND_UDP, "192.168.70.9", "16"],
           ns=a1)
        wait_for(lambda: tx_packets(a.d, a.tunnel) - sent >= 16)

        # tcpdump (-U) may lag on a busy machine: wait until the file
        # holds all 16 inner flows.
        def inner_flows():
            text = sh(["tcpdump", "-r", str(pcap), "-nn", "-v"],
                      check=False).stdout
            return set(re.findall(r"192\.168\.70\.1\.(400\d\d) > ", text))
        wait_for(lambda: len(inner_flows()) == 16)
    finally:
        stop_capture(proc)
    text = sh(["tcpdump", "-r", str(pcap), "-nn", "-v"]).stdout
    # Ours: from host A's VTEP to the kernel's, decoded as VXLAN.
    ours = re.findall(
        rf"{re.escape(a.ip)}\.(\d+) > {re.escape(k_ip)}\.4789: "
        rf"VXLAN, flags \[I\] \(0x08\), vni (\d+)", text)
    assert ours, text
    assert {int(vni) for _, vni in ours} == {VNI_A}
    sports = {int(p) for p, _ in ours}
    assert all(49152 <= p <= 65535 for p in sports), sports
    # 16 UDP flows (and the pings) spread over several source ports.
    assert len(sports) >= 4, sports
    # Theirs, decoded the same way, reached our VM (the pings above).
    assert re.search(rf"{re.escape(k_ip)}\.\d+ > {re.escape(a.ip)}\.4789: "
                     rf"VXLAN, flags \[I\] \(0x08\), vni {VNI_A}", text)


def send_datagrams(ns, dst, payloads):
    """Sends each payload (hex) as one UDP datagram to dst:4789 from 'ns'."""
    code = ("import socket, sys\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "for p in sys.argv[2:]:\n"
            "    s.sendto(bytes.fromhex(p), (sys.argv[1], 4789))\n")
    sh(["/usr/bin/python3", "-c", code, dst] + list(payloads), ns=ns)


def vxlan_hex(vni, inner, flags=0x08):
    return (bytes([flags, 0, 0, 0]) + vni.to_bytes(3, "big") + b"\0"
            + inner).hex()


def inner_frame(size=64, src="02:00:00:00:99:01"):
    """An Ethernet broadcast frame of 'size' bytes from 'src'."""
    mac = bytes.fromhex(src.replace(":", ""))
    return b"\xff" * 6 + mac + b"\x08\x00" + b"\x45" + b"\0" * (size - 15)


def test_bad_underlay_input_is_counted(two_hosts, topo):
    """Datagrams a VTEP must refuse are each counted under their drop
    reason on the tunnel; the daemon keeps serving."""
    ul, a, b = two_hosts
    a.vm("a1", VNI_A, "192.168.80.1")
    a.vm("a2", VNI_B, "192.168.80.1")
    ev = topo.netns("ev")
    ev_ip, _ = ul.plug(ev)
    # The sender is a remote of VNI 5001 only.
    a.remotes((VNI_A, b.ip), (VNI_B, b.ip), (VNI_A, ev_ip))
    t = a.tunnel
    cases = [
        ("vxlan-truncated", ["08000000"]),
        ("vxlan-bad-flags", [vxlan_hex(VNI_A, inner_frame(), flags=0)]),
        ("vxlan-inner-runt", [vxlan_hex(VNI_A, b"\xff" * 10)]),
        ("vxlan-vni-unknown", [vxlan_hex(7777, inner_frame())]),
        ("vxlan-unknown-vtep", [vxlan_hex(VNI_B, inner_frame())]),
        # Larger than the underlay could carry unfragmented: the sender's
        # kernel fragments it, ours reassembles, the tunnel refuses it.
        ("vxlan-too-big", [vxlan_hex(VNI_A, inner_frame(1600))]),
    ]
    for reason, payloads in cases:
        before = drops(a.d, t, reason)
        send_datagrams(ev, a.ip, payloads * 3)
        wait_for(lambda: drops(a.d, t, reason) - before == 3)
    # Nothing else was counted, nothing delivered to the VMs.
    assert a.d.stats(t)["drops-total"] == 3 * len(cases)
    assert a.d.rpc("system.status")
    # A good one from the sender is delivered (flooded to a1, not a2).
    a1_before = tx_packets(a.d, "a1")
    a2_before = tx_packets(a.d, "a2")
    send_datagrams(ev, a.ip, [vxlan_hex(VNI_A, inner_frame())])
    wait_for(lambda: tx_packets(a.d, "a1") == a1_before + 1)
    assert tx_packets(a.d, "a2") == a2_before
    # With learn-unknown-vteps, the unknown VTEP is accepted and learned.
    a.d.rpc("port.set", name=t, learn_unknown_vteps=True)
    send_datagrams(ev, a.ip,
                   [vxlan_hex(VNI_B, inner_frame(src="02:00:00:00:99:02"))])
    wait_for(lambda: tx_packets(a.d, "a2") == a2_before + 1)
    learned = a.d.rpc("tunnel.show", name=t)["learned"]
    assert {"vni": VNI_B, "mac": "02:00:00:00:99:02", "vtep": ev_ip} in [
        {k: e[k] for k in ("vni", "mac", "vtep")} for e in learned]


def test_vm_frame_too_big_for_the_underlay(two_hosts):
    """A VM frame that would not fit the underlay once encapsulated is
    dropped and counted, never fragmented; at underlay MTU - 50 it fits."""
    _, a, b = two_hosts
    a1, _ = a.vm("a1", VNI_A, "192.168.90.1")
    b.vm("b1", VNI_A, "192.168.90.2", mtu=1450)
    assert ping(a1, "192.168.90.2")
    show = a.d.rpc("tunnel.show", name=a.tunnel)
    assert (show["underlay-mtu"], show["vm-mtu"]) == (1500, 1450)
    before = drops(a.d, a.tunnel, "vxlan-too-big")
    # 1472 bytes of ICMP payload: a 1514-byte frame, 1550 once wrapped.
    sh(["ping", "-c", "3", "-i", "0.2", "-W", "1", "-M", "do", "-s", "1472",
        "192.168.90.2"], ns=a1, check=False)
    wait_for(lambda: drops(a.d, a.tunnel, "vxlan-too-big") - before == 3)
    # At the VM MTU (1450: 1422 bytes of payload), the same ping passes.
    res = sh(["ping", "-c", "3", "-i", "0.2", "-W", "1", "-M", "do", "-s",
              "1422", "192.168.90.2"], ns=a1, check=False)
    assert res.returncode == 0, res.stdout
    assert drops(a.d, a.tunnel, "vxlan-too-big") - before == 3


def test_iperf3_tcp_across_hosts(two_hosts):
    """TCP across the tunnel: the VMs' 64 KB offloaded segments are cut
    in software and each segment encapsulated; everything arrives intact
    (iperf3 ends without error, no bad checksum in the receiver)."""
    _, a, b = two_hosts
    a1, _ = a.vm("a1", VNI_A, "192.168.95.1", mtu=1450)
    b1, _ = b.vm("b1", VNI_A, "192.168.95.2", mtu=1450)
    assert ping(a1, "192.168.95.2")
    errors_before = csum_errors(b1)
    iperf_server(b1, 5301)
    res = sh(["iperf3", "-c", "192.168.95.2", "-p", "5301", "-t", "3", "-J"],
             ns=a1, check=False, timeout=60)
    report = json.loads(res.stdout)
    assert "error" not in report, report.get("error")
    received = report["end"]["sum_received"]["bytes"]
    assert received > 0
    assert report["end"]["sum_sent"]["bytes"] >= received
    assert csum_errors(b1) == errors_before
    # The throughput, for the record (pytest -s shows it).
    print(f"VXLAN VM->VM iperf3: "
          f"{report['end']['sum_received']['bits_per_second'] / 1e9:.2f} "
          f"Gbit/s")
    stats = a.d.stats(a.tunnel)
    assert stats["drops-total"] == 0, stats["drops"]


def test_trace_shows_the_encapsulation(two_hosts):
    """A trace from a VM names the tunnel's step: the VNI and the remote
    VTEPs a broadcast is replicated to, the one VTEP a learned MAC is
    behind; a VM in another VNI never reaches the tunnel's VTEPs of the
    first."""
    _, a, b = two_hosts
    a1, a1_if = a.vm("a1", VNI_A, "192.168.99.1")
    b1, b1_if = b.vm("b1", VNI_A, "192.168.99.2")
    assert ping(a1, "192.168.99.2")
    src = vm_mac(a1, a1_if)

    def encap(**fields):
        res = a.d.rpc("trace", **{"switch": "sw0", "in-port": "a1",
                                  "eth-src": src, **fields})
        steps = [s for s in res["stages"] if s["stage"] == "vxlan-encap"]
        assert len(steps) == 1, res
        return steps[0]

    step = encap(**{"eth-dst": "ff:ff:ff:ff:ff:ff"})
    assert step["verdict"] == "continue"
    assert step["detail"] == (f"{a.tunnel}: VNI {VNI_A}, replicated to 1 "
                              f"remote VTEP: {b.ip}"), step
    step = encap(**{"eth-dst": vm_mac(b1, b1_if)})
    assert step["detail"].startswith(
        f"{a.tunnel}: VNI {VNI_A}, to VTEP {b.ip} (learned), UDP "), step
    assert step["detail"].endswith(" -> 4789"), step
    # The tunnel has no remote for VNI 5003: nowhere to go.
    a.d.rpc("port.set", name="a1", vni=5003)
    step = encap(**{"eth-dst": "ff:ff:ff:ff:ff:ff"})
    assert step["verdict"] == "vxlan-no-remote", step


def test_tunnel_and_vnis_survive_a_restart(two_hosts):
    """The tunnel, its remotes and the ports' VNIs are saved in
    config.json and restored by the next daemon."""
    _, a, b = two_hosts
    a1, _ = a.vm("a1", VNI_A, "192.168.97.1")
    b.vm("b1", VNI_A, "192.168.97.2")
    assert ping(a1, "192.168.97.2")
    shown = a.d.rpc("tunnel.show", name=a.tunnel)
    assert a.d.stop() == 0
    a.d.start()
    again = a.d.rpc("tunnel.show", name=a.tunnel)
    for key in ("local-ip", "dst-port", "underlay-mtu", "vnis", "remotes"):
        assert again[key] == shown[key], key
    assert a.d.rpc("port.get", name="a1")["vni"] == VNI_A
    wait_for(lambda: ping(a1, "192.168.97.2", count=1))
    # Bad tunnel requests are refused and change nothing.
    config = (a.d.state_dir / "config.json").read_text()
    for method, params in (
            ("tunnel.add", {"switch": "sw0", "name": "vxbad"}),
            ("tunnel.add", {"switch": "sw0", "name": "vxbad",
                            "local-ip": "2001:db8::1"}),
            ("tunnel.add", {"switch": "sw0", "name": "vxbad",
                            "local-ip": "192.0.2.77"}),
            ("tunnel.add", {"switch": "sw0", "name": "vxbad", "type": "tap",
                            "local-ip": a.ip}),
            ("tunnel.set", {"name": a.tunnel, "remote": "5001:10.0.0.1,"}),
            ("tunnel.set", {"name": a.tunnel, "remote": 5001}),
            ("tunnel.set", {"name": "a1", "remote": "5001:10.0.0.1"}),
            ("tunnel.del", {"name": "a1"}),
            ("port.set", {"name": a.tunnel, "vni": 5001}),
            ("port.set", {"name": a.tunnel, "dst-port": 4790})):
        with pytest.raises(RpcError):
            a.d.rpc_raw(method, params)
    assert (a.d.state_dir / "config.json").read_text() == config
    assert a.d.rpc("tunnel.show", name=a.tunnel)["remotes"] == \
        shown["remotes"]


def rx_packets(daemon, port):
    return daemon.stats(port)["rx-packets"]


def test_three_hosts_replication_then_unicast(daemon_factory, topo):
    """Three hosts: a broadcast is replicated to each remote VTEP of the
    VNI (head-end replication); once the tunnel has learned where a MAC
    is, frames to it go to that host only."""
    ul = Underlay(topo)
    a = Host(daemon_factory, topo, ul, "hosta")
    b = Host(daemon_factory, topo, ul, "hostb")
    c = Host(daemon_factory, topo, ul, "hostc")
    for h in (a, b, c):
        h.remotes(*[(VNI_A, o.ip) for o in (a, b, c) if o is not h])
    a1, _ = a.vm("a1", VNI_A, "192.168.98.1")
    b.vm("b1", VNI_A, "192.168.98.2")
    c.vm("c1", VNI_A, "192.168.98.3")

    b_before = rx_packets(b.d, b.tunnel)
    c_before = rx_packets(c.d, c.tunnel)
    # a1's ARP broadcast for c1 reaches both other hosts.
    assert ping(a1, "192.168.98.3")
    assert rx_packets(b.d, b.tunnel) > b_before
    assert rx_packets(c.d, c.tunnel) > c_before
    # Learned: host c's MAC is behind c's VTEP, and pings to it no longer
    # reach host b.
    learned = a.d.rpc("tunnel.show", name=a.tunnel)["learned"]
    assert c.ip in {e["vtep"] for e in learned}
    b_before = rx_packets(b.d, b.tunnel)
    c_before = rx_packets(c.d, c.tunnel)
    assert ping(a1, "192.168.98.3", count=5)
    assert rx_packets(c.d, c.tunnel) - c_before >= 5
    assert rx_packets(b.d, b.tunnel) == b_before
