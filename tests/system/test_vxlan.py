"""Tenant networks over VXLAN (issue 13, part 1): VNIs and VXLAN tunnels.

Every "host" is a vswitchd running in a network namespace of its own,
with an underlay veth into a Linux bridge in an underlay namespace, and
"VMs" on TAPs in namespaces of their own.  VNI 5001 and 5002 use the SAME
IP addresses on purpose: a frame that crossed from one to the other
would be answered.
"""

import pytest

from conftest import add_vm, ping, sh, unique, wait_for

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
