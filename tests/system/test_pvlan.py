"""Private VLANs on real traffic (FEATURES.md section 3).

One primary VLAN, 100, with a promiscuous port, two community A ports
(secondary 102), a community B port (103) and two isolated ports sharing
secondary 101; and a promiscuous port of another primary, 200, that must
meet none of them.  Every ordered pair is checked with ping, with
broadcast ARP and with unicast to a learned MAC, against the matrix.
"""

import subprocess
import time

import pytest

from conftest import RpcError, add_vm, sh, wait_for
from test_acls import arp, eth, inject, settled_config

PRIMARY = 100
PORTS = {
    # name: (mode, primary, secondary or list, ip, mac)
    "prom": ("pvlan-promiscuous", 100, "101-103", "198.18.0.1",
             "02:00:00:00:0b:01"),
    "ca1": ("pvlan-community", 100, "102", "198.18.0.2",
            "02:00:00:00:0b:02"),
    "ca2": ("pvlan-community", 100, "102", "198.18.0.3",
            "02:00:00:00:0b:03"),
    "cb": ("pvlan-community", 100, "103", "198.18.0.4",
           "02:00:00:00:0b:04"),
    "iso1": ("pvlan-isolated", 100, "101", "198.18.0.5",
             "02:00:00:00:0b:05"),
    "iso2": ("pvlan-isolated", 100, "101", "198.18.0.6",
             "02:00:00:00:0b:06"),
    "other": ("pvlan-promiscuous", 200, "201", "198.18.0.7",
              "02:00:00:00:0b:07"),
}
KIND = {"prom": "P", "ca1": "A", "ca2": "A", "cb": "B", "iso1": "I",
        "iso2": "I"}
# FEATURES.md section 3, from (row) to (column).
MATRIX = {
    "P": {"P": True, "A": True, "B": True, "I": True},
    "A": {"P": True, "A": True, "B": False, "I": False},
    "B": {"P": True, "A": False, "B": True, "I": False},
    "I": {"P": True, "A": False, "B": False, "I": False},
}


def reaches(src, dst):
    if "other" in (src, dst):
        return False                 # different primaries never meet
    return MATRIX[KIND[src]][KIND[dst]]


def pvlan_vm(daemon, topo, name):
    mode, primary, secondary, ip, mac = PORTS[name]
    ns, ifname = add_vm(daemon, topo, "sw0", name, ip, mac=mac)
    daemon.rpc("port.set", name=name, vlan_mode=mode, pvlan_primary=primary,
               pvlan_secondary=secondary)
    return ns, ifname


def tx(daemon, port):
    return daemon.stats(port)["tx-packets"]


def parallel_pings(pairs):
    """{(src, dst): answered} for (src, src_ns, dst_ip) pairs, pinged at
    once."""
    running = {}
    for (src, dst), ns, ip in pairs:
        running[(src, dst)] = subprocess.Popen(
            ["ip", "netns", "exec", ns, "ping", "-c", "2", "-i", "0.2",
             "-W", "1", ip], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
    return {k: p.wait() == 0 for k, p in running.items()}


def test_reachability_matrix(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    vms = {n: pvlan_vm(daemon, topo, n) for n in PORTS}
    for name, (mode, primary, secondary, _, _) in PORTS.items():
        shown = daemon.rpc("port.get", name=name)
        assert (shown["vlan-mode"], shown["pvlan-primary"],
                shown["pvlan-secondary"]) == (mode, primary, secondary)
    names = list(PORTS)

    # Ping, every ordered pair at once (the matrix is symmetric, so a
    # round trip is possible exactly where one way is).
    results = parallel_pings(
        [((s, d), vms[s][0], PORTS[d][3]) for s in names for d in names
         if s != d])
    wrong = {k: v for k, v in results.items() if v != reaches(*k)}
    assert not wrong, f"ping results against the matrix: {wrong}"
    for ns, _ in vms.values():
        sh(["ip", "neigh", "flush", "all"], ns=ns)
    time.sleep(0.3)

    # Broadcast ARP, one sender at a time: who gets it.
    for src in names:
        _, _, _, ip, mac = PORTS[src]
        before = {n: tx(daemon, n) for n in names}
        request = eth("ff:ff:ff:ff:ff:ff", mac, 0x0806,
                      arp(1, mac, ip, "00:00:00:00:00:00", "198.18.0.250"))
        inject(vms[src][0], vms[src][1], request, 3)
        expect = {n: 3 if n != src and reaches(src, n) else 0
                  for n in names}
        try:
            wait_for(lambda: all(tx(daemon, n) - before[n] >= expect[n]
                                 for n in names), timeout=5)
        except AssertionError:
            pass
        time.sleep(0.2)
        got = {n: tx(daemon, n) - before[n] for n in names}
        assert got == expect, f"broadcast from {src}"

    # Unicast to every learned MAC of the primary: delivered where the
    # matrix allows, otherwise dropped as pvlan-isolation on the sender.
    inner = [n for n in names if n != "other"]
    for src in inner:
        before = {n: tx(daemon, n) for n in names}
        dropped = daemon.stats(src)["drops"]["pvlan-isolation"]
        frames = [eth(PORTS[dst][4], PORTS[src][4], 0x88B5,
                      dst.encode().ljust(46, b"."))
                  for dst in inner if dst != src]
        inject(vms[src][0], vms[src][1], frames, 3)
        expect = {n: 3 if n != src and reaches(src, n) else 0
                  for n in names}
        n_denied = sum(1 for n in inner if n != src and not reaches(src, n))
        wait_for(lambda: daemon.stats(src)["drops"]["pvlan-isolation"]
                 - dropped >= 3 * n_denied and
                 all(tx(daemon, n) - before[n] >= expect[n] for n in names),
                 timeout=5)
        time.sleep(0.2)
        got = {n: tx(daemon, n) - before[n] for n in names}
        assert got == expect, f"unicast from {src}"
        assert (daemon.stats(src)["drops"]["pvlan-isolation"] - dropped
                == 3 * n_denied)


def test_contradictory_pvlan_config_is_refused(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    for name in ("prom", "iso1"):
        pvlan_vm(daemon, topo, name)
    add_vm(daemon, topo, "sw0", "bad", "198.18.0.9")
    config = daemon.state_dir / "config.json"
    saved = settled_config(daemon)
    before = daemon.rpc("port.get", name="bad")

    # 101 is isolated (iso1): it cannot also be a community.
    res = daemon.ctl("port", "set", "bad", "vlan-mode=pvlan-community",
                     "pvlan-primary=100", "pvlan-secondary=101",
                     check=False, json_out=False)
    assert res.returncode != 0
    assert "101" in res.stderr and "isolated" in res.stderr, res.stderr
    # Nor the secondary of another primary, nor a primary a secondary.
    for params in ({"vlan-mode": "pvlan-isolated", "pvlan-primary": 300,
                    "pvlan-secondary": "101"},
                   {"vlan-mode": "pvlan-community", "pvlan-primary": 300,
                    "pvlan-secondary": "100"},
                   {"vlan-mode": "pvlan-promiscuous", "pvlan-primary": 101,
                    "pvlan-secondary": "102"}):
        with pytest.raises(RpcError) as err:
            daemon.rpc_raw("port.set", dict(params, name="bad"))
        assert err.value.message, params
    # A new port with a contradiction is refused as well, and not added.
    with pytest.raises(RpcError):
        daemon.rpc_raw("port.add", {
            "switch": "sw0", "name": "bad2", "type": "tap",
            "ifname": topo.ifname("t"), "vlan-mode": "pvlan-community",
            "pvlan-primary": 100, "pvlan-secondary": "101"})
    assert "bad2" not in [p["name"] for p in
                          daemon.rpc("port.list")["ports"]]

    assert daemon.rpc("port.get", name="bad") == before
    assert daemon.rpc("port.get", name="iso1")["vlan-mode"] == \
        "pvlan-isolated"
    assert config.read_bytes() == saved
    # The consistent choice is accepted (so the refusals were not
    # blanket ones).
    daemon.rpc("port.set", name="bad", vlan_mode="pvlan-isolated",
               pvlan_primary=100, pvlan_secondary="101")
    assert config.read_bytes() != saved


def read_capture(path):
    """(source MAC, VLAN or None, ethertype text) of each captured frame,
    from tcpdump -e."""
    out = sh(["tcpdump", "-r", str(path), "-e", "-nn"]).stdout
    frames = []
    for line in out.splitlines():
        fields = line.split()
        src = fields[1]
        vlan = None
        if "vlan" in fields:
            vlan = int(fields[fields.index("vlan") + 1].rstrip(","))
        frames.append((src, vlan, line))
    return frames


def test_uplink_carries_secondary_and_primary_tags(daemon, topo, tmp_path):
    daemon.rpc("switch.add", name="sw0")
    vms = {n: pvlan_vm(daemon, topo, n) for n in ("prom", "ca1", "iso1")}
    up, peer = topo.veth()
    daemon.rpc("port.add", switch="sw0", name="up0", type="uplink",
               ifname=up)
    assert daemon.rpc("port.get", name="up0")["vlan-mode"] == "trunk"
    host = topo.netns("host")
    sh(["ip", "link", "set", peer, "netns", host])
    sh(["sysctl", "-q", "-w", f"net.ipv6.conf.{peer}.disable_ipv6=1"],
       ns=host)
    sh(["ip", "-n", host, "link", "set", peer, "up"])

    pcap = tmp_path / "uplink.pcap"
    dump = subprocess.Popen(
        ["ip", "netns", "exec", host, "tcpdump", "-Z", "root", "-i", peer,
         "--immediate-mode", "-e", "-nn", "-U", "-w", str(pcap)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)
    try:
        assert "listening" in dump.stderr.readline()
        for name, (ns, ifname) in vms.items():
            _, _, _, ip, mac = PORTS[name]
            inject(ns, ifname,
                   eth("ff:ff:ff:ff:ff:ff", mac, 0x0806,
                       arp(1, mac, ip, "00:00:00:00:00:00",
                           "198.18.0.250")), 2)
        wait_for(lambda: daemon.stats("up0")["tx-packets"] >= 6)
        time.sleep(0.5)
    finally:
        dump.terminate()
        dump.wait()
    frames = read_capture(pcap)
    tags = {}
    for src, vlan, line in frames:
        tags.setdefault(src, set()).add(vlan)
    assert tags.get(PORTS["iso1"][4]) == {101}, frames
    assert tags.get(PORTS["ca1"][4]) == {102}, frames
    assert tags.get(PORTS["prom"][4]) == {100}, frames

    # And from the trunk: the primary reaches every port, the isolated
    # secondary only the promiscuous one, the community secondary its
    # community and the promiscuous port.
    host_mac = "02:00:00:00:0b:99"
    for vid, expect in ((100, {"prom", "ca1", "iso1"}), (101, {"prom"}),
                        (102, {"prom", "ca1"})):
        before = {n: tx(daemon, n) for n in vms}
        frame = eth("ff:ff:ff:ff:ff:ff", host_mac, 0x8100,
                    vid.to_bytes(2, "big") + b"\x08\x06" +
                    arp(1, host_mac, "198.18.0.99", "00:00:00:00:00:00",
                        "198.18.0.250"))
        inject(host, peer, frame, 2)
        wait_for(lambda: all(tx(daemon, n) - before[n] >= 2
                             for n in expect))
        time.sleep(0.2)
        got = {n for n in vms if tx(daemon, n) - before[n]}
        assert got == expect, vid
        assert all(tx(daemon, n) - before[n] == 2 for n in expect)
