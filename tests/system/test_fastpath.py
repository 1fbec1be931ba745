"""The fast path on real traffic: the flow cache never serves a stale
verdict, offloaded TCP segments arrive intact, queues spread and move."""

import json
import subprocess
import time

import pytest

from conftest import add_vm, csum_errors, iperf_server, ping, sh, wait_for

MACS = {n: f"02:00:00:00:00:0{n}" for n in range(1, 5)}

SENDER = r"""
import socket, sys
iface, frame, count = sys.argv[1], bytes.fromhex(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
for _ in range(count):
    s.send(frame)
"""


def udp_frame(dst, src, payload=b"x" * 18):
    """An Ethernet/IPv4/UDP frame from MAC 'src' to MAC 'dst'."""
    mac = lambda m: bytes.fromhex(m.replace(":", ""))
    udp = (1234).to_bytes(2, "big") + (5678).to_bytes(2, "big") + \
        (8 + len(payload)).to_bytes(2, "big") + b"\0\0" + payload
    ip = bytearray(b"\x45\x00" + (20 + len(udp)).to_bytes(2, "big") +
                   b"\0\0\0\0\x40\x11\0\0" + bytes([198, 18, 0, 1]) +
                   bytes([198, 18, 0, 2]))
    total = sum(int.from_bytes(ip[i:i + 2], "big") for i in range(0, 20, 2))
    total = (total & 0xFFFF) + (total >> 16)
    ip[10:12] = (~total & 0xFFFF).to_bytes(2, "big")
    return mac(dst) + mac(src) + b"\x08\x00" + bytes(ip) + udp


def inject(ns, ifname, frame, count):
    sh(["/usr/bin/python3", "-c", SENDER, ifname, frame.hex(), str(count)],
       ns=ns)


def tx(daemon, port):
    return daemon.stats(port)["tx-packets"]


def cache_hits(daemon):
    return sum(w["cache-hits"] for w in daemon.rpc("dp.show")["workers"])


def test_config_change_applies_to_the_next_frame(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    vm1, if1 = add_vm(daemon, topo, "sw0", "vm1", "198.18.0.1", vlan=10,
                      mac=MACS[1])
    add_vm(daemon, topo, "sw0", "vm2", "198.18.0.2", vlan=10, mac=MACS[2])
    assert ping(vm1, "198.18.0.2", count=2)  # both MACs learned
    frame = udp_frame(MACS[2], MACS[1])

    # The flow's first frame runs the pipeline and fills the cache; every
    # later one takes the cached decision.  (Frames that arrive in the
    # same batch as the first all miss, hence the pause.)
    before = tx(daemon, "vm2")
    inject(vm1, if1, frame, 1)
    wait_for(lambda: tx(daemon, "vm2") - before == 1)
    before, hits = tx(daemon, "vm2"), cache_hits(daemon)
    inject(vm1, if1, frame, 50)
    wait_for(lambda: tx(daemon, "vm2") - before == 50)
    # (vm2 answers some with ICMP port unreachable, which hit too.)
    assert cache_hits(daemon) - hits >= 50

    daemon.rpc("port.set", name="vm2", vlan_mode="access", vlan=20)
    before = tx(daemon, "vm2")
    drops = daemon.stats("vm1")["drops"]["no-egress-port"]
    inject(vm1, if1, frame, 50)
    wait_for(lambda: daemon.stats("vm1")["drops"]["no-egress-port"]
             - drops == 50)
    assert tx(daemon, "vm2") == before

    daemon.rpc("port.set", name="vm2", vlan=10)
    inject(vm1, if1, frame, 50)
    wait_for(lambda: tx(daemon, "vm2") - before == 50)


def test_mac_move_redirects_the_next_frame(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    vm1, if1 = add_vm(daemon, topo, "sw0", "vm1", "198.18.0.1", mac=MACS[1])
    add_vm(daemon, topo, "sw0", "vm2", "198.18.0.2", mac=MACS[2])
    vm3, if3 = add_vm(daemon, topo, "sw0", "vm3", "198.18.0.3", mac=MACS[3])
    assert ping(vm1, "198.18.0.2", count=2)
    frame = udp_frame(MACS[2], MACS[1])
    inject(vm1, if1, frame, 20)
    wait_for(lambda: tx(daemon, "vm2") >= 20)

        # vm2's MAC shows up behind vm3 (a VM migrated, say): vm3 has a MAC of
    # its own, so it may only send from another one with spoofing allowed.
    daemon.rpc("port.set", name="vm3", mac_spoofing=True)
    inject(vm3, if3, udp_frame("ff:ff:ff:ff:ff:ff", MACS[2]), 1)
    wait_for(lambda: any(e["mac"] == MACS[2] and e["port"] == "vm3"
                         for e in daemon.rpc("fdb.show",
                                             switch="sw0")["entries"]))
    before2, before3 = tx(daemon, "vm2"), tx(daemon, "vm3")
    inject(vm1, if1, frame, 20)
    wait_for(lambda: tx(daemon, "vm3") - before3 == 20)
    assert tx(daemon, "vm2") == before2


RECEIVER = r"""
import hashlib, socket, sys
srv = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((sys.argv[1], 5555))
srv.listen(1)
print("ready", flush=True)
conn, _ = srv.accept()
h, n = hashlib.sha256(), 0
while True:
    data = conn.recv(1 << 20)
    if not data:
        break
    h.update(data)
    n += len(data)
print(n, h.hexdigest(), flush=True)
"""

SENDER_TCP = r"""
import hashlib, os, socket, sys
data = os.urandom(int(sys.argv[2]))
s = socket.create_connection((sys.argv[1], 5555), timeout=30)
s.sendall(data)
s.close()
print(len(data), hashlib.sha256(data).hexdigest())
"""


def transfer(src_ns, dst_ns, dst_addr, size=32 << 20):
    receiver = subprocess.Popen(
        ["ip", "netns", "exec", dst_ns, "/usr/bin/python3", "-c", RECEIVER,
         dst_addr], stdout=subprocess.PIPE, text=True)
    try:
        assert receiver.stdout.readline().strip() == "ready"
        sent = sh(["/usr/bin/python3", "-c", SENDER_TCP, dst_addr,
                   str(size)], ns=src_ns, timeout=120).stdout.split()
        got = receiver.stdout.readline().split()
    finally:
        receiver.kill()
        receiver.wait()
    return sent, got


def rx_packets(ns, ifname):
    return int(sh(["cat", f"/sys/class/net/{ifname}/statistics/rx_packets"],
                  ns=ns).stdout)


@pytest.mark.parametrize("offloads", [True, False])
def test_large_tcp_transfer_arrives_intact(daemon, topo, offloads):
    daemon.rpc("switch.add", name="sw0")
    vm1, _ = add_vm(daemon, topo, "sw0", "vm1", "198.18.0.1")
    vm2, _ = add_vm(daemon, topo, "sw0", "vm2", "198.18.0.2")
    # A host behind an uplink (veth) too; without offloads the switch
    # segments and checksums in software what it sends there.
    up, peer = topo.veth()
    daemon.rpc("port.add", switch="sw0", name="up0", type="uplink",
               ifname=up, offloads=offloads)
    host = topo.netns("host")
    sh(["ip", "link", "set", peer, "netns", host])
    sh(["ip", "-n", host, "addr", "add", "198.18.0.9/24", "dev", peer])
    sh(["ip", "-n", host, "link", "set", peer, "up"])
    assert ping(vm1, "198.18.0.9", count=1)

    for src, dst, addr in ((vm1, vm2, "198.18.0.2"), (vm1, host, "198.18.0.9"),
                           (host, vm2, "198.18.0.2")):
        errors = csum_errors(dst)
        frames = rx_packets(host, peer)
        sent, got = transfer(src, dst, addr)
        assert sent == got, (src, dst)
        assert csum_errors(dst) == errors
        if dst == host:
            # What reached the host: MTU-sized frames when the switch
            # segmented, whole segments when it passed them on.
            arrived = rx_packets(host, peer) - frames
            wire = (32 << 20) // 1448
            assert (arrived >= wire) if not offloads else (arrived < wire)
    # Counters count wire frames either way.
    assert daemon.stats("up0")["tx-packets"] >= (32 << 20) // 1448
    assert daemon.stats("up0")["drops"]["segmentation-failed"] == 0


def tx_packets(ns, ifname):
    return int(sh(["cat", f"/sys/class/net/{ifname}/statistics/tx_packets"],
                  ns=ns).stdout)


def test_tap_without_offloads_carries_plain_frames(daemon, topo):
    """A TAP port added with offloads=false: no virtio-net header and no
    TSO on its TAP, so the VM's kernel cuts what it sends into wire frames
    and the switch cuts what goes to it; transfers both ways arrive
    intact, checksums correct, beside a TAP with offloads."""
    daemon.rpc("switch.add", name="sw0")
    vm1, _ = add_vm(daemon, topo, "sw0", "vm1", "198.18.0.1")
    vm2, if2 = add_vm(daemon, topo, "sw0", "vm2", "198.18.0.2",
                      offloads=False)
    assert daemon.rpc("port.get", name="vm2")["offloads"] is False
    assert daemon.rpc("port.get", name="vm1")["offloads"] is True
    features = sh(["ethtool", "-k", if2], ns=vm2).stdout
    assert "tcp-segmentation-offload: off" in features, features
    assert ping(vm1, "198.18.0.2", count=1)
    wire = (32 << 20) // 1448

    for src, dst, addr in ((vm1, vm2, "198.18.0.2"),
                           (vm2, vm1, "198.18.0.1")):
        errors = csum_errors(dst)
        into_vm2, out_of_vm2 = rx_packets(vm2, if2), tx_packets(vm2, if2)
        sent, got = transfer(src, dst, addr)
        assert sent == got, (src, dst)
        assert csum_errors(dst) == errors
        # Whichever way, vm2's TAP carried wire frames, not segments.
        if dst == vm2:
            assert rx_packets(vm2, if2) - into_vm2 >= wire
        else:
            assert tx_packets(vm2, if2) - out_of_vm2 >= wire
    assert daemon.stats("vm2")["drops"]["segmentation-failed"] == 0
    # Kept across a restart: the TAP is reattached without headers (a
    # header the VM did not write would eat the first 10 bytes of each
    # frame, and nothing would get through).
    daemon.stop()
    daemon.start()
    assert daemon.rpc("port.get", name="vm2")["offloads"] is False
    assert wait_for(lambda: ping(vm1, "198.18.0.2", count=1), timeout=10)
    into_vm2 = rx_packets(vm2, if2)
    sent, got = transfer(vm1, vm2, "198.18.0.2", size=4 << 20)
    assert sent == got
    assert rx_packets(vm2, if2) - into_vm2 >= (4 << 20) // 1448


def test_queues_spread_and_pin_under_traffic(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    vm1, _ = add_vm(daemon, topo, "sw0", "vm1", "198.18.0.1")
    vm2, _ = add_vm(daemon, topo, "sw0", "vm2", "198.18.0.2")
    shown = daemon.rpc("dp.show")
    # One queue per worker for each port, spread over the workers.
    queues = [(w["worker"], q["port"], q["queue"]) for w in shown["workers"]
              for q in w["rxqs"]]
    assert sorted((p, q) for _, p, q in queues) == [
        ("vm1", 0), ("vm1", 1), ("vm2", 0), ("vm2", 1)]
    assert {w for w, _, _ in queues} == {0, 1}

    iperf_server(vm2, 5202)
    client = subprocess.Popen(
        ["ip", "netns", "exec", vm1, "iperf3", "-c", "198.18.0.2", "-p",
         "5202", "-t", "4", "-P", "8", "-J"], stdout=subprocess.PIPE,
        text=True)
    time.sleep(1.5)
    for queue in (0, 1):
        daemon.rpc("dp.pin-queue", port="vm1", queue=queue, worker=1)

    def vm1_queues():
        return {(q["queue"], w["worker"], q["pinned"])
                for w in daemon.rpc("dp.show")["workers"] for q in w["rxqs"]
                if q["port"] == "vm1"}

    wait_for(lambda: vm1_queues() == {(0, 1, True), (1, 1, True)})
    # The log names the port as every command does, never by an id.
    log = daemon.log.read_text()
    for queue in (0, 1):
        assert (f"receive queue {queue} of port vm1 pinned to worker 1"
                in log), log
    out, _ = client.communicate(timeout=30)
    report = json.loads(out)
    # Traffic went on while the queues moved, and used both queues' flows.
    assert report["end"]["sum_received"]["bytes"] > 0
    assert "error" not in report
    stats = daemon.stats("vm1")
    assert stats["drops-total"] == 0
