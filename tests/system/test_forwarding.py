"""L2 forwarding on real traffic: VLAN isolation, trunks, learning, ageing,
restart, and bad management input."""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import RpcError, add_vm, iperf_server, ping, sh, wait_for


def test_same_vlan_pings_and_cross_vlan_does_not(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    vm1, _ = add_vm(daemon, topo, "sw0", "vm1", "198.18.0.1", vlan=10)
    vm2, _ = add_vm(daemon, topo, "sw0", "vm2", "198.18.0.2", vlan=10)
    vm3, _ = add_vm(daemon, topo, "sw0", "vm3", "198.18.0.3", vlan=20)
    vm4, _ = add_vm(daemon, topo, "sw0", "vm4", "198.18.0.4", vlan=20)

    assert ping(vm1, "198.18.0.2")
    assert ping(vm3, "198.18.0.4")
    assert not ping(vm1, "198.18.0.3", count=2)
    assert not ping(vm2, "198.18.0.4", count=2)
    # VLAN 20 never saw a frame of VLAN 10's conversation: nothing of vm1's
    # ARP broadcasts reached vm3 or vm4.
    assert daemon.stats("vm1")["rx-packets"] > 0
    fdb = daemon.rpc("fdb.show", switch="sw0")["entries"]
    assert {(e["vlan"], e["port"]) for e in fdb} >= {
        (10, "vm1"), (10, "vm2"), (20, "vm3"), (20, "vm4")}


def test_iperf3_between_vms(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    vm1, _ = add_vm(daemon, topo, "sw0", "vm1", "198.18.0.1")
    vm2, _ = add_vm(daemon, topo, "sw0", "vm2", "198.18.0.2")
    iperf_server(vm2, 5201)
    res = sh(["iperf3", "-c", "198.18.0.2", "-p", "5201", "-t", "2", "-J"],
             ns=vm1, timeout=30)
    report = json.loads(res.stdout)
    received = report["end"]["sum_received"]["bytes"]
    assert received > 10 * 1024 * 1024
    assert daemon.stats("vm2")["tx-bytes"] >= received


def test_learning_stops_flooding(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    macs = {n: f"02:00:00:00:00:0{n}" for n in (1, 2, 3)}
    vm1, if1 = add_vm(daemon, topo, "sw0", "vm1", "198.18.0.1", mac=macs[1])
    vm2, if2 = add_vm(daemon, topo, "sw0", "vm2", "198.18.0.2", mac=macs[2])
    add_vm(daemon, topo, "sw0", "vm3", "198.18.0.3", mac=macs[3])
    # Static neighbours: no ARP broadcasts, only unicast.
    sh(["ip", "neigh", "add", "198.18.0.2", "lladdr", macs[2], "dev", if1,
        "nud", "permanent"], ns=vm1)
    sh(["ip", "neigh", "add", "198.18.0.1", "lladdr", macs[1], "dev", if2,
        "nud", "permanent"], ns=vm2)
    before = daemon.stats("vm3")["tx-packets"]

    # The first echo request goes to an unknown MAC: flooded, vm3 sees it.
    assert ping(vm1, "198.18.0.2", count=1)
    flooded = daemon.stats("vm3")["tx-packets"] - before
    assert flooded >= 1

    # Both MACs are learned now: 20 more exchanges never reach vm3.
    before = daemon.stats("vm3")["tx-packets"]
    assert ping(vm1, "198.18.0.2", count=20)
    assert daemon.stats("vm3")["tx-packets"] == before
    assert daemon.stats("vm2")["tx-packets"] >= 20


def test_mac_ageing(daemon, topo):
    daemon.rpc("switch.add", name="sw0", mac_ageing=2)
    vm1, _ = add_vm(daemon, topo, "sw0", "vm1", "198.18.0.1")
    add_vm(daemon, topo, "sw0", "vm2", "198.18.0.2")
    assert ping(vm1, "198.18.0.2", count=1)
    learned_at = time.monotonic()
    assert daemon.rpc("fdb.show", switch="sw0")["count"] == 2

    wait_for(lambda: daemon.rpc("fdb.show", switch="sw0")["count"] == 0,
             timeout=6)
    # Gone after the ageing time, not before it.
    assert time.monotonic() - learned_at >= 1.5


def test_trunk_uplink_carries_tagged_frames(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    vm1, _ = add_vm(daemon, topo, "sw0", "vm1", "198.18.0.1", vlan=10)
    vm2, _ = add_vm(daemon, topo, "sw0", "vm2", "198.19.0.1", vlan=20)
    up, peer = topo.veth()
    daemon.rpc("port.add", switch="sw0", name="up0", type="uplink",
               ifname=up, vlan_mode="trunk", trunks="10,20")
    # The physical network: a host answering on VLAN 10 and on VLAN 20.
    host = topo.netns("host")
    sh(["ip", "link", "set", peer, "netns", host])
    sh(["ip", "-n", host, "link", "set", peer, "up"])
    responder = subprocess.Popen(
        ["ip", "netns", "exec", host, "/usr/bin/python3",
         str(Path(__file__).parent / "vlan_host.py"), peer,
         "10:198.18.0.100:02:00:00:00:10:64",
         "20:198.19.0.100:02:00:00:00:20:64"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert responder.stdout.readline().strip() == "ready"
        capture = subprocess.Popen(
            ["ip", "netns", "exec", host, "tcpdump", "-l", "-e", "-n", "-c",
             "4", "-i", peer, "icmp"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        time.sleep(1)
        assert ping(vm1, "198.18.0.100", count=2)
        assert ping(vm2, "198.19.0.100", count=2)
        seen, _ = capture.communicate(timeout=10)
        # On the wire each VLAN's frames carry their own tag.
        assert "vlan 10" in seen and "vlan 20" in seen, seen
        # The trunk keeps VLANs apart: VLAN 10 cannot reach VLAN 20.
        assert not ping(vm1, "198.19.0.100", count=2)
        # A VLAN the trunk no longer allows is dropped and counted.
        daemon.rpc("port.set", name="up0", trunks="10")
        assert not ping(vm2, "198.19.0.100", count=2)
        assert ping(vm1, "198.18.0.100", count=1)
    finally:
        responder.kill()
        responder.wait()
    # vm2's frames found no member port of VLAN 20 any more.
    assert daemon.stats("vm2")["drops"]["no-egress-port"] > 0


def test_restart_after_kill9_restores_ports(daemon_factory, topo):
    daemon = daemon_factory()
    daemon.rpc("switch.add", name="sw0", mac_ageing=120)
    vm1, if1 = add_vm(daemon, topo, "sw0", "vm1", "198.18.0.1", vlan=10)
    vm2, if2 = add_vm(daemon, topo, "sw0", "vm2", "198.18.0.2", vlan=10)
    # One VM renames its interface, as container runtimes do.
    sh(["ip", "-n", vm2, "link", "set", if2, "down"])
    sh(["ip", "-n", vm2, "link", "set", if2, "name", "eth0"])
    sh(["ip", "-n", vm2, "link", "set", "eth0", "up"])
    assert ping(vm1, "198.18.0.2")
    ports_before = daemon.rpc("port.list")["ports"]

    daemon.kill9()
    # The VMs keep their interfaces while no daemon runs.
    assert "NO-CARRIER" in sh(["ip", "-n", vm1, "link", "show", if1]).stdout
    assert not ping(vm1, "198.18.0.2", count=1)

    daemon.start()
    ports_after = daemon.rpc("port.list")["ports"]
    assert [(p["name"], p["vlan-mode"], p.get("vlan"), p["ifname"])
            for p in ports_after] == [
        (p["name"], p["vlan-mode"], p.get("vlan"), p["ifname"])
        for p in ports_before]
    assert daemon.rpc("switch.get", name="sw0")["mac-ageing"] == 120
    # Same devices, not re-plumbed: the addresses are still there.
    assert ping(vm1, "198.18.0.2")
    assert "198.18.0.1/24" in sh(["ip", "-n", vm1, "addr", "show",
                                 if1]).stdout


def test_port_del_removes_tap_and_pin(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    vm1, if1 = add_vm(daemon, topo, "sw0", "vm1", "198.18.0.1")
    pin = daemon.state_dir / "netns" / "vm1"
    wait_for(pin.exists)
    daemon.rpc("port.del", name="vm1")
    wait_for(lambda: sh(["ip", "-n", vm1, "link", "show", if1],
                        check=False).returncode != 0)
    wait_for(lambda: not pin.exists())
    with pytest.raises(RpcError) as e:
        daemon.rpc("port.get", name="vm1")
    assert e.value.code == -32001


BAD_CALLS = [
    ("switch.add", {"name": "sw0"}, -32002),
    ("switch.add", {"name": "bad/name"}, -32602),
    ("switch.add", {"name": "sw1", "mac-ageing": 0}, -32602),
    ("switch.add", {"name": "sw1", "mac-ageing": -5}, -32602),
    ("switch.add", {"name": "sw1", "mac-table-size": 2 ** 63 - 1}, -32602),
    ("switch.add", {"name": "sw1", "colour": "blue"}, -32602),
    ("switch.set", {"name": "sw0", "mac-ageing": "soon"}, -32602),
    ("port.add", {"switch": "nope", "name": "p1", "type": "tap"}, -32001),
    ("port.add", {"switch": "sw0", "name": "vm1", "type": "tap"}, -32002),
    ("port.add", {"switch": "sw0", "name": "p1", "type": "wormhole"}, -32602),
    ("port.add", {"switch": "sw0", "name": "p1", "type": "uplink",
                  "ifname": "does-not-exist"}, -32003),
    ("port.add", {"switch": "sw0", "name": "p1", "type": "tap",
                  "mac": "ff:ff:ff:ff:ff:ff"}, -32602),
    ("port.add", {"switch": "sw0", "name": "p1", "type": "tap",
                  "ifname": "x" * 16}, -32602),
    ("port.set", {"name": "vm1", "vlan-mode": "untagged", "vlan": 5},
     -32602),
    ("port.set", {"name": "vm1", "vlan-mode": "access", "vlan": 4095},
     -32602),
    ("port.set", {"name": "vm1", "vlan-mode": "access", "vlan": 0}, -32602),
    ("port.set", {"name": "vm1", "trunks": "10"}, -32602),
    ("port.set", {"name": "vm1", "vlan-mode": "trunk", "trunks": "10-5"},
     -32602),
    ("port.set", {"name": "vm1", "vlan-mode": "trunk", "trunks": "1,,2"},
     -32602),
    ("port.set", {"name": "vm1", "vlan-mode": "trunk",
                  "native-vlan": 5000}, -32602),
    ("port.set", {"name": "vm1", "vlan-mode": "sideways"}, -32602),
    ("port.set", {"name": "ghost", "vlan-mode": "untagged"}, -32001),
    ("port.del", {"name": "ghost"}, -32001),
    ("fdb.show", {"switch": "ghost"}, -32001),
    ("no.such-method", {}, -32601),
]


def test_bad_params_change_nothing(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    add_vm(daemon, topo, "sw0", "vm1", "198.18.0.1", vlan=10)
    config = daemon.state_dir / "config.json"
    saved = config.read_text()
    state = (daemon.rpc("switch.list"), daemon.rpc("port.list"))

    for method, params, code in BAD_CALLS:
        with pytest.raises(RpcError) as e:
            daemon.rpc_raw(method, params)
            pytest.fail(f"{method} {params} succeeded")
        assert e.value.code == code, (method, params, e.value.message)
        assert e.value.message and "\n" not in e.value.message
        assert (daemon.rpc("switch.list"), daemon.rpc("port.list")) == state
        assert config.read_text() == saved, (method, params)


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_deleted_devices_come_back_without_spinning(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    tap = topo.ifname("t")
    daemon.rpc("port.add", switch="sw0", name="vm1", type="tap", ifname=tap)
    up, _peer = topo.veth()
    daemon.rpc("port.add", switch="sw0", name="up0", type="uplink",
               ifname=up)

    sh(["ip", "link", "del", tap])
    sh(["ip", "link", "del", up])
    # The worker stops polling a dead fd instead of spinning on it.
    before = cpu_seconds(daemon.proc.pid)
    time.sleep(2)
    assert cpu_seconds(daemon.proc.pid) - before < 1.0
    wait_for(lambda: daemon.rpc("port.get", name="up0")["link"] == "absent")
    assert "deleted" in daemon.rpc("port.get", name="up0")["error"]

    # The TAP is recreated; the uplink returns with its interface.
    wait_for(lambda: sh(["ip", "link", "show", tap],
                        check=False).returncode == 0)
    sh(["ip", "link", "add", up, "type", "veth", "peer", "name", _peer])
    wait_for(lambda: daemon.rpc("port.get", name="up0")["link"] != "absent")
    assert "error" not in daemon.rpc("port.get", name="up0")
    assert "deleted" in daemon.log.read_text()


def test_tap_moved_while_daemon_down_is_found(daemon_factory, topo):
    daemon = daemon_factory()
    daemon.rpc("switch.add", name="sw0")
    vm1, _ = add_vm(daemon, topo, "sw0", "vm1", "198.18.0.1")
    tap = topo.ifname("t")
    daemon.rpc("port.add", switch="sw0", name="vm2", type="tap", ifname=tap)
    daemon.kill9()

    # While no daemon watches, the TAP goes to its VM (a named namespace)
    # and is renamed there.
    vm2 = topo.netns("vm")
    sh(["ip", "link", "set", tap, "netns", vm2])
    sh(["ip", "-n", vm2, "link", "set", tap, "name", "eth0"])
    sh(["ip", "-n", vm2, "addr", "add", "198.18.0.2/24", "dev", "eth0"])
    sh(["ip", "-n", vm2, "link", "set", "eth0", "up"])

    daemon.start()
    # Found, not recreated: no new device of that name in the daemon's
    # namespace, and traffic flows to the VM's interface.
    assert sh(["ip", "link", "show", tap], check=False).returncode != 0
    assert ping(vm1, "198.18.0.2")
    port = daemon.rpc("port.get", name="vm2")
    assert port["netns"] != "daemon"
    assert port["current-ifname"] == "eth0"


def test_port_without_flood_gets_only_frames_for_its_macs(daemon, topo):
    """flood=false: the switch's floods (here ARP broadcasts) pass the port
    by; frames for a MAC learned on it still arrive."""
    daemon.rpc("switch.add", name="sw0")
    vm1, if1 = add_vm(daemon, topo, "sw0", "vm1", "198.18.0.1")
    vm2, _ = add_vm(daemon, topo, "sw0", "vm2", "198.18.0.2")
    vm3, _ = add_vm(daemon, topo, "sw0", "vm3", "198.18.0.3")
    assert daemon.ctl("port", "set", "vm3", "flood=off",
                      json_out=False).returncode == 0
    assert daemon.rpc("port.get", name="vm3")["flood"] is False

    before = daemon.stats("vm3")["tx-packets"]
    assert ping(vm1, "198.18.0.2")
    assert daemon.stats("vm3")["tx-packets"] == before
    # vm3 speaks first: its MAC is learned, and vm1's replies reach it.
    assert ping(vm3, "198.18.0.1")
    assert daemon.stats("vm3")["tx-packets"] > before
    # A station that asks for vm3 by broadcast gets no answer.
    sh(["ip", "-n", vm1, "neigh", "flush", "dev", if1])
    assert not ping(vm1, "198.18.0.3", count=2)

    # Back on, and across a restart the setting holds.
    daemon.rpc("port.set", name="vm3", flood=True)
    assert ping(vm1, "198.18.0.3")
    daemon.rpc("port.set", name="vm3", flood=False)
    daemon.stop()
    daemon.start()
    assert daemon.rpc("port.get", name="vm3")["flood"] is False


def test_port_added_under_traffic_counts_no_port_gone(daemon, topo):
    """A new port's device is polled only once the configuration has the
    port: frames arriving while it is added are forwarded (or dropped for
    a reason of that configuration), never counted as 'port-gone'."""
    daemon.rpc("switch.add", name="sw0")
    add_vm(daemon, topo, "sw0", "vm1", "198.18.0.1")
    up, peer = topo.veth()
    host = topo.netns("host")
    sh(["ip", "link", "set", peer, "netns", host])
    sh(["ip", "-n", host, "addr", "add", "198.18.0.100/24", "dev", peer])
    sh(["ip", "-n", host, "link", "set", peer, "up"])
    flood = subprocess.Popen(
        ["ip", "netns", "exec", host, "ping", "-b", "-q", "-i", "0.002",
         "-w", "10", "198.18.0.255"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        for _ in range(5):
            daemon.rpc("port.add", switch="sw0", name="up0", type="uplink",
                       ifname=up)
            time.sleep(0.3)
            stats = daemon.stats("up0")
            assert stats["rx-packets"] > 0, stats
            assert stats["drops"]["port-gone"] == 0, stats["drops"]
            daemon.rpc("port.del", name="up0")
    finally:
        flood.kill()
        flood.wait()
