"""A VM's port moves between hosts (issue 13, part 3).

Three "hosts" (vswitchd in namespaces of their own, on an underlay
bridge; see test_vxlan.py) carry VNI 5001.  The migrating VM is a
namespace whose interface is first host A's TAP; the move is what an
orchestrator does around a live migration:

  1. the VM pauses: its interface leaves it (A's TAP goes back to A);
  2. `port export` on A (the final counts and flow state);
  3. `port import` on B: B creates a TAP named after the port, with the
     VM's MAC, restores rules, meters and flows, and announces the MAC;
  4. the VM resumes on B: B's TAP moves into the VM's namespace with the
     same address;
  5. `port del` on A.

Meanwhile a VM on host C pings it every 10 ms and keeps a TCP connection
to it that a stateful ACL rule on the port admits.
"""

import json
import subprocess
import time

import pytest

from conftest import add_vm, ping, sh, unique, wait_for
from test_vxlan import Host, Underlay

# Runs alone in scripts/test.sh: it counts pings lost while a VM moves.
pytestmark = pytest.mark.serial

VNI = 5001
VM_IP, PEER_IP = "192.168.71.10", "192.168.71.30"
VM_MAC = "02:5a:71:00:00:0a"
SERVER_PORT = 5901

# The peer's side of the connection: after the VM connected, it sends a
# numbered line every 50 ms and never waits for the VM.  The VM sends
# nothing but ACKs, so after the move the first packet of the connection
# comes from the peer, "in" to the port: only the carried flow admits it
# (the VM's own packets would re-create the state through the "out" rule).
PUSH_SERVER = """
import socket, sys, time
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("", int(sys.argv[1])))
srv.listen(1)
print("listening", flush=True)
conn, _ = srv.accept()
n = 0
try:
    while True:
        conn.sendall(b"%d\\n" % n)
        n += 1
        time.sleep(0.05)
except OSError:
    pass
"""

# The VM's side: reads the lines for 'seconds'; each must follow the last
# within 10 s.  Prints how many arrived and the longest wait for one.
READING_CLIENT = """
import socket, sys, time
dst, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.create_connection((dst, port), timeout=5)
s.settimeout(10)
f = s.makefile("rb")
print("connected", flush=True)
end = time.monotonic() + seconds
n, longest, last = 0, 0.0, time.monotonic()
while time.monotonic() < end:
    try:
        line = f.readline()
    except socket.timeout:
        print("stalled after", n, flush=True)
        sys.exit(1)
    if line != b"%d\\n" % n:
        print("broken after", n, line, flush=True)
        sys.exit(1)
    now = time.monotonic()
    longest, last = max(longest, now - last), now
    n += 1
print("lines", n, "longest-gap-ms", int(longest * 1000), flush=True)
"""


def learned_vtep(host, mac):
    for e in host.d.rpc("tunnel.show", name=host.tunnel)["learned"]:
        if e["vni"] == VNI and e["mac"] == mac:
            return e["vtep"]
    return None


def fdb_port(host, mac):
    for e in host.d.rpc("fdb.show", switch="sw0")["entries"]:
        if e["mac"] == mac and e.get("vni") == VNI:
            return e["port"]
    return None


def out_meter(daemon, port):
    for m in daemon.ctl("metering", "show", port)["meters"]:
        if m["direction"] == "out" and m["match"] != "total":
            return m["packets"], m["bytes"]
    raise AssertionError("no out meter")


@pytest.fixture
def three_hosts(daemon_factory, topo):
    ul = Underlay(topo)
    hosts = [Host(daemon_factory, topo, ul, label) for label in
             ("hosta", "hostb", "hostc")]
    for h in hosts:
        h.remotes(*[(VNI, o.ip) for o in hosts if o is not h])
    return hosts


def start(procs, ns, code, *args):
    proc = subprocess.Popen(
        ["ip", "netns", "exec", ns, "/usr/bin/python3", "-c", code,
         *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    procs.append(proc)
    return proc


def test_vm_moves_between_hosts(three_hosts, topo, tmp_path):
    a, b, c = three_hosts
    port = unique("mv")
    topo.links.append(port)  # B's TAP is named after the port

    # The VM on A, its peer on C, both in VNI 5001.
    vm_ns, tap_a = add_vm(a.d, topo, "sw0", port, ip=VM_IP, mac=VM_MAC)
    a.d.rpc("port.set", name=port, vni=VNI)
    peer_ns, _ = c.vm("peer", VNI, PEER_IP)

    # Policy on the VM's port: TCP in only as replies (state), pings in
    # allowed, everything it sends to the subnet metered.
    a.d.ctl("metering", "enable", port, json_out=False)
    a.d.ctl("acl", "add", port, "action=meter", "direction=out",
            "remote-ip=192.168.71.0/24")
    a.d.ctl("xacl", "add", port, "action=deny", "direction=in", "weight=10",
            "protocol=tcp", json_out=False)
    a.d.ctl("xacl", "add", port, "action=allow", "direction=out",
            "weight=20", "protocol=tcp", "stateful=on", "idle-timeout=120",
            json_out=False)
    assert ping(peer_ns, VM_IP)
    # The deny rule bites: the peer cannot open a connection to the VM.
    res = sh(["/usr/bin/python3", "-c",
              "import socket; socket.create_connection(('%s', 22), "
              "timeout=1)" % VM_IP], ns=peer_ns, check=False)
    assert res.returncode != 0

    procs = []
    try:
        server = start(procs, peer_ns, PUSH_SERVER, SERVER_PORT)
        assert server.stdout.readline().strip() == "listening"
        client = start(procs, vm_ns, READING_CLIENT, PEER_IP, SERVER_PORT, 6)
        assert client.stdout.readline().strip() == "connected"
        pinger = subprocess.Popen(
            ["ip", "netns", "exec", peer_ns, "ping", "-q", "-i", "0.01",
             "-c", "500", "-W", "1", VM_IP], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        procs.append(pinger)
        time.sleep(1.5)
        assert learned_vtep(c, VM_MAC) == a.ip
        assert a.d.rpc("xacl.list", port=port)["flows"] == 1

        # 1. Pause: the VM's interface goes back to host A.
        paused = time.monotonic()
        sh(["ip", "-n", vm_ns, "link", "set", tap_a, "netns", a.ns])
        # 2. Export on A.
        doc = a.d.rpc("port.export", name=port)
        assert doc["settings"]["vni"] == VNI
        assert doc["settings"]["mac"] == VM_MAC
        [flow] = doc["flows"]
        assert flow["proto"] == 6 and flow["from-vm"] is True
        assert flow["src"] == VM_IP and flow["dst"] == PEER_IP
        assert flow["dport"] == SERVER_PORT
        assert 0 < flow["idle-left"] <= flow["idle-timeout"] == 120
        # 3. Import on B: flows restored, the MAC announced.
        res = b.d.rpc("port.import", switch="sw0", document=doc)
        assert res["flows-restored"] == 1
        assert res["announced"] == {"mac": VM_MAC, "ipv4": [VM_IP],
                                    "ipv6": [], "rarp": False}
        # 4. Resume on B.
        sh(["ip", "link", "set", port, "netns", vm_ns], ns=b.ns)
        sh(["ip", "-n", vm_ns, "addr", "add", f"{VM_IP}/24", "dev", port])
        sh(["ip", "-n", vm_ns, "link", "set", port, "up"])
        resumed = time.monotonic()
        # 5. Delete on A.
        a.d.rpc("port.del", name=port)

        # The announcement moved the MAC on every host within a second.
        wait_for(lambda: learned_vtep(c, VM_MAC) == b.ip, timeout=1)
        wait_for(lambda: learned_vtep(a, VM_MAC) == b.ip, timeout=1)
        assert fdb_port(b, VM_MAC) == port
        # Meters continue from the exported counts.
        exported = next(m for m in doc["meters"]
                        if m["direction"] == "out" and m["rule"] is not None)
        assert exported["packets"] > 0

        out, _ = pinger.communicate(timeout=30)
        sent = int(out.split(" packets transmitted")[0].split()[-1])
        received = int(out.split(" received")[0].split()[-1])
        lost = sent - received
        pause_ms = int((resumed - paused) * 1000)
        print(f"\nmigration: {lost} pings lost of {sent} "
              f"({lost * 10} ms at 10 ms), VM paused {pause_ms} ms")
        assert sent == 500
        assert lost <= 50, out

        client_out, client_err = client.communicate(timeout=30)
        assert client.returncode == 0, client_out + client_err
        print("tcp:", client_out.strip().splitlines()[-1])
        assert "lines" in client_out

        packets, _ = out_meter(b.d, port)
        assert packets > exported["packets"] + received // 2
        # The connection's flow lives on B now.
        assert b.d.rpc("xacl.list", port=port)["flows"] == 1
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def test_import_refuses_bad_flows_and_changes_nothing(three_hosts, topo):
    a, b, _ = three_hosts
    port = unique("mb")
    topo.links.append(port)
    add_vm(a.d, topo, "sw0", port, ip=VM_IP, mac=VM_MAC)
    doc = a.d.rpc("port.export", name=port)
    assert doc["flows"] == []
    good = {"vlan": 0, "proto": 6, "src": VM_IP, "sport": 40000,
            "dst": PEER_IP, "dport": 80, "from-vm": True,
            "idle-timeout": 60, "idle-left": 30}
    bad = [
        dict(good, **{"idle-left": 61}),
        dict(good, **{"idle-timeout": 0}),
        dict(good, vlan=4096),
        dict(good, proto="6"),
        dict(good, sport=None),
        dict(good, src="2001:db8::1"),          # families differ
        dict(good, dst="not-an-address"),
        dict(good, proto=1, sport=8, dport=0),  # ICMP: both the kind
        dict(good, proto=1, sport=0, dport=0),  # echo reply is no kind
        dict(good, proto=47),                   # GRE has no ports
        dict(good, **{"from-vm": 1}),
        dict(good, colour="blue"),
        "a flow",
    ]
    for entry in bad:
        with pytest.raises(Exception) as exc:
            b.d.rpc("port.import", switch="sw0",
                    document=dict(doc, flows=[good, entry]))
        assert "flows[1]" in str(exc.value), (entry, exc.value)
        assert port not in [p["name"] for p in
                            b.d.rpc("port.list", switch="sw0")["ports"]]
    with pytest.raises(Exception):
        b.d.rpc("port.import", switch="sw0", document=dict(doc, flows={}))
    # A good one is restored; an ICMP echo flow and a GRE one are fine.
    flows = [good, dict(good, proto=1, sport=8, dport=8),
             dict(good, proto=47, sport=0, dport=0, **{"from-vm": False})]
    res = b.d.rpc("port.import", switch="sw0",
                  document=dict(doc, flows=flows))
    assert res["flows-restored"] == 3
    assert b.d.rpc("xacl.list", port=port)["flows"] == 3
    # The VM's end of each flow is announced: the source of its own
    # flows, the destination of the GRE one the far side started.
    assert res["announced"]["ipv4"] == [VM_IP, PEER_IP]
    exported = b.d.rpc("port.export", name=port)["flows"]
    assert {(f["proto"], f["src"], f["dst"], f["from-vm"])
            for f in exported} == {(6, VM_IP, PEER_IP, True),
                                   (1, VM_IP, PEER_IP, True),
                                   (47, VM_IP, PEER_IP, False)}
    for f in exported:
        assert 28 <= f["idle-left"] <= 30, f


def test_import_without_known_addresses_sends_rarp(three_hosts, topo):
    a, b, c = three_hosts
    port = unique("mr")
    topo.links.append(port)
    add_vm(a.d, topo, "sw0", port, ip=VM_IP, mac=VM_MAC)
    a.d.rpc("port.set", name=port, vni=VNI)
    # Host C serves the VNI (a tunnel drops what no local port needs).
    c.vm("peer", VNI, PEER_IP)
    doc = a.d.rpc("port.export", name=port)
    a.d.rpc("port.del", name=port)
    assert learned_vtep(c, VM_MAC) is None
    res = b.d.rpc("port.import", switch="sw0", document=doc)
    assert res["announced"] == {"mac": VM_MAC, "ipv4": [], "ipv6": [],
                                "rarp": True}
    # The RARP reached host C through the tunnel: it knows where the MAC
    # lives without the VM having sent anything.
    wait_for(lambda: learned_vtep(c, VM_MAC) == b.ip, timeout=1)
    assert fdb_port(b, VM_MAC) == port


def test_announcements_are_well_formed(three_hosts, topo, tmp_path):
    """What a VM on another host receives: a gratuitous ARP for the IPv4
    address and an unsolicited NA (override, target link-layer address,
    right checksum) for the IPv6 one, from the VM's MAC."""
    a, b, c = three_hosts
    port = unique("mw")
    topo.links.append(port)
    add_vm(a.d, topo, "sw0", port, ip=VM_IP, mac=VM_MAC)
    a.d.rpc("port.set", name=port, vni=VNI)
    peer_ns, peer_if = c.vm("peer", VNI, PEER_IP)
    doc = a.d.rpc("port.export", name=port)
    a.d.rpc("port.del", name=port)
    flow = {"vlan": 0, "proto": 17, "sport": 5000, "dport": 53,
            "from-vm": True, "idle-timeout": 60, "idle-left": 60}
    doc["flows"] = [dict(flow, src=VM_IP, dst=PEER_IP),
                    dict(flow, src="2001:db8::10", dst="2001:db8::30")]

    out = tmp_path / "peer.txt"
    with open(out, "w") as f:
        dump = subprocess.Popen(
            ["ip", "netns", "exec", peer_ns, "tcpdump", "-i", peer_if, "-nn",
             "-vv", "-e", "-l", "arp or icmp6"], stdout=f,
            stderr=subprocess.PIPE, text=True)
    try:
        assert "listening" in dump.stderr.readline()
        res = b.d.rpc("port.import", switch="sw0", document=doc)
        assert res["announced"] == {"mac": VM_MAC, "ipv4": [VM_IP],
                                    "ipv6": ["2001:db8::10"], "rarp": False}
        wait_for(lambda: "neighbor advertisement" in out.read_text()
                 and "ARP" in out.read_text(), timeout=5)
    finally:
        dump.terminate()
        dump.wait()
    text = out.read_text()
    print(text)
    assert f"{VM_MAC} > ff:ff:ff:ff:ff:ff" in text
    assert f"Request who-has {VM_IP} tell {VM_IP}" in text
    assert f"{VM_MAC} > 33:33:00:00:00:01" in text
    assert "tgt is 2001:db8::10" in text
    assert "Flags [override]" in text
    # (tcpdump calls option 2, the target link-layer address, "destination")
    assert f"link-address option (2), length 8 (1): {VM_MAC}" in text
    assert "[icmp6 sum ok]" in text and "bad" not in text
    wait_for(lambda: learned_vtep(c, VM_MAC) == b.ip, timeout=1)
