"""Tenant networks across three hosts from etcd's mappings alone.

Three vswitchd "hosts" (test_vxlan's topology: each in a namespace of its
own with an underlay veth into a Linux bridge), VNI 5001 and 5002 on
each with the SAME addresses, no static remote at all; a three-member
etcd cluster in the underlay namespace (on the bridge's address), which
the hosts reach through their underlay.
"""

import pytest

from conftest import ping, sh, unique, wait_for
from etcd_cluster import EtcdCluster
from test_vxlan import VNI_A, VNI_B, Underlay, vm_mac

ETCD_ADDR = "10.77.0.250"
PREFIX = "/vswitch/v1/"


class EtcdHost:
    """A host whose tunnel learns its remotes from etcd only."""

    def __init__(self, daemon_factory, topo, underlay, label, urls):
        self.topo = topo
        self.label = label
        self.ns = topo.netns("h")
        self.ip, self.uplink = underlay.plug(self.ns)
        self.d = daemon_factory(label, start=False, netns=self.ns)
        self.d.start("--etcd", urls, "--host-id", label)
        self.d.rpc("switch.add", name="sw0")
        self.tunnel = unique("vx")
        self.d.ctl("tunnel", "add", "sw0", self.tunnel, f"local-ip={self.ip}",
                   json_out=False)

    def vm(self, port, vni, ip):
        from conftest import add_vm
        ns, ifname = add_vm(self.d, self.topo, "sw0", port, ip=ip)
        self.d.rpc("port.set", name=port, vni=vni)
        return ns, ifname

    def etcd(self):
        return self.d.rpc("etcd.show")

    def tunnel_view(self):
        return self.d.rpc("tunnel.show", name=self.tunnel)

    def programmed_macs(self):
        return {(m["vni"], m["mac"]): m["vtep"]
                for m in self.tunnel_view()["macs"]}

    def programmed_remotes(self):
        return {(r["vni"], r["vtep"]) for r in self.tunnel_view()["remotes"]
                if r["source"] == "programmed"}

    def tunnel_rx(self):
        return self.d.stats(self.tunnel)["rx-packets"]


@pytest.fixture
def three_hosts(daemon_factory, topo, tmp_path):
    ul = Underlay(topo)
    sh(["ip", "-n", ul.ns, "addr", "add", f"{ETCD_ADDR}/24", "dev", "br0"])
    cluster = EtcdCluster(tmp_path, netns=ul.ns, host=ETCD_ADDR)
    try:
        cluster.start()
        hosts = [EtcdHost(daemon_factory, topo, ul, unique("host"),
                          cluster.urls) for _ in range(3)]
        vms = {}
        for i, h in enumerate(hosts, start=1):
            for vni in (VNI_A, VNI_B):
                port = f"vm{i}{'a' if vni == VNI_A else 'b'}"
                ns, ifname = h.vm(port, vni, f"192.168.71.{i}")
                vms[(i, vni)] = (h, port, ns, ifname)
        yield cluster, hosts, vms
    finally:
        cluster.cleanup()


def test_pings_cross_hosts_from_etcd_alone(three_hosts):
    cluster, hosts, vms = three_hosts
    a, b, c = hosts
    # Each host programs the two others' VTEPs for both VNIs, and their
    # VMs' MACs (a TAP's own MAC is published without any traffic).
    for h in hosts:
        others = {(vni, o.ip) for o in hosts if o is not h
                  for vni in (VNI_A, VNI_B)}
        assert wait_for(lambda: h.programmed_remotes() == others,
                        timeout=15), (h.label, h.etcd(), h.tunnel_view())
        assert h.tunnel_view()["remotes"] and all(
            r["source"] == "programmed" for r in h.tunnel_view()["remotes"])
    for (i, vni), (h, port, ns, ifname) in vms.items():
        mac = vm_mac(ns, ifname)
        for o in hosts:
            if o is not h:
                assert wait_for(lambda: o.programmed_macs().get((vni, mac))
                                == h.ip, timeout=15), (o.label,
                                                       o.tunnel_view())
    keys = cluster.get_prefix(PREFIX)
    assert f"{PREFIX}vni/{VNI_A}/vteps/{a.label}" in keys

    # Known unicast goes straight to the right host, before any traffic
    # could teach anyone anything: a1 and b1 know each other's MAC (static
    # neighbours, so no ARP broadcast), and C's tunnel receives nothing
    # of their 20 exchanges.
    (_, _, a1, a1_if), (_, _, b1, b1_if) = vms[(1, VNI_A)], vms[(2, VNI_A)]
    sh(["ip", "neigh", "replace", "192.168.71.2", "lladdr",
        vm_mac(b1, b1_if), "dev", a1_if], ns=a1)
    sh(["ip", "neigh", "replace", "192.168.71.1", "lladdr",
        vm_mac(a1, a1_if), "dev", b1_if], ns=b1)
    c_before = c.tunnel_rx()
    b_before = b.tunnel_rx()
    assert ping(a1, "192.168.71.2", count=20, timeout=1)
    assert c.tunnel_rx() == c_before
    assert b.tunnel_rx() - b_before >= 20
    # The check can fail: to a MAC nobody published, frames flood to C.
    sh(["ip", "neigh", "replace", "192.168.71.2", "lladdr",
        "02:00:00:00:77:77", "dev", a1_if], ns=a1)
    ping(a1, "192.168.71.2", count=3, timeout=1)
    assert c.tunnel_rx() - c_before >= 3
    sh(["ip", "neigh", "del", "192.168.71.2", "dev", a1_if], ns=a1)
    sh(["ip", "neigh", "del", "192.168.71.1", "dev", b1_if], ns=b1)

    # Each VNI reaches its own VM on every other host, never the other
    # tenant's (same addresses).
    for src in (1, 2, 3):
        for vni in (VNI_A, VNI_B):
            ns = vms[(src, vni)][2]
            for dst in (1, 2, 3):
                if dst == src:
                    continue
                assert ping(ns, f"192.168.71.{dst}"), (src, dst, vni)
                _, _, dns, difn = vms[(dst, vni)]
                neigh = sh(["ip", "neigh", "show", f"192.168.71.{dst}"],
                           ns=ns).stdout
                assert vm_mac(dns, difn) in neigh, neigh



def test_etcd_down_keeps_traffic_and_back_resyncs(three_hosts):
    cluster, hosts, vms = three_hosts
    a, b, c = hosts
    a1 = vms[(1, VNI_A)][2]
    b_mac = vm_mac(vms[(2, VNI_A)][2], vms[(2, VNI_A)][3])
    assert wait_for(lambda: a.programmed_macs().get((VNI_A, b_mac)) == b.ip,
                    timeout=15), a.tunnel_view()
    assert ping(a1, "192.168.71.2")

    # One member down: nothing changes.
    cluster.stop_member(0)
    assert ping(a1, "192.168.71.2", count=5)
    assert a.programmed_macs().get((VNI_A, b_mac)) == b.ip
    assert wait_for(lambda: a.etcd()["state"] == "connected", timeout=10)

    # All down: traffic keeps flowing with the last known mappings.
    cluster.stop_all()
    assert wait_for(lambda: a.etcd()["state"] != "connected", timeout=10)
    assert ping(a1, "192.168.71.2", count=5)
    assert a.programmed_macs().get((VNI_A, b_mac)) == b.ip
    assert a.etcd()["mappings-learned"] > 0

    # While etcd is down, B's VM goes away: B owes etcd a deletion.
    b.d.rpc("port.del", name="vm2a")

    # Back: B deletes its keys, A's resync removes the mapping.
    cluster.start()
    assert wait_for(lambda: a.etcd()["state"] == "connected", timeout=30)
    assert wait_for(lambda: (VNI_A, b_mac) not in a.programmed_macs(),
                    timeout=20), a.tunnel_view()
    assert ping(a1, "192.168.71.3")  # C is still reached
