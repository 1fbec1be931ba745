"""Port ACLs and extended ACLs on real traffic (FEATURES.md section 2).

The protected VM "p" sits on 198.18.0.10; its peers are on the same
198.18.0.0/15 segment, some inside 198.18.0.0/16 (the "allowed" prefix of
most cases), one outside it (198.19.x.x).  Every "blocked" check has a
matching "passes" check on the same daemon, so that a switch that drops
everything, or nothing, fails.
"""

import json
import socket
import subprocess
import time

import pytest

from conftest import RpcError, add_vm, ping, sh, wait_for

P_IP = "198.18.0.10"           # the protected VM
A_IP = "198.18.1.1"            # inside 198.18.0.0/16
B_IP = "198.19.1.1"            # outside 198.18.0.0/16
C_IP = "198.18.5.1"            # inside 198.18.5.0/24, inside the /16
MACS = {"p": "02:00:00:00:0a:10", "a": "02:00:00:00:0a:01",
        "b": "02:00:00:00:0a:02", "c": "02:00:00:00:0a:03",
        "s": "02:00:00:00:0a:04"}


# ---- Frames, for injection from a VM with a raw socket ----

def mac_bytes(mac):
    return bytes.fromhex(mac.replace(":", ""))


def csum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(int.from_bytes(data[i:i + 2], "big")
                for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def eth(dst, src, ethertype, payload):
    frame = mac_bytes(dst) + mac_bytes(src) + ethertype.to_bytes(2, "big") \
        + payload
    return frame + b"\0" * max(0, 60 - len(frame))


def ipv4(src, dst, proto, l4):
    hdr = bytearray(b"\x45\x00" + (20 + len(l4)).to_bytes(2, "big") +
                    b"\0\0\x40\x00\x40" + bytes([proto]) + b"\0\0" +
                    socket.inet_aton(src) + socket.inet_aton(dst))
    hdr[10:12] = csum(bytes(hdr)).to_bytes(2, "big")
    return bytes(hdr) + l4


def _l4_csum(src, dst, proto, l4):
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + \
        bytes([0, proto]) + len(l4).to_bytes(2, "big")
    return csum(pseudo + l4).to_bytes(2, "big")


def udp_packet(src, dst, sport, dport, payload=b"probe"):
    l4 = bytearray(sport.to_bytes(2, "big") + dport.to_bytes(2, "big") +
                   (8 + len(payload)).to_bytes(2, "big") + b"\0\0" + payload)
    l4[6:8] = _l4_csum(src, dst, 17, bytes(l4))
    return ipv4(src, dst, 17, bytes(l4))


def tcp_packet(src, dst, sport, dport, flags=0x10, seq=1, ack=1):
    l4 = bytearray(sport.to_bytes(2, "big") + dport.to_bytes(2, "big") +
                   seq.to_bytes(4, "big") + ack.to_bytes(4, "big") +
                   bytes([5 << 4, flags]) + (65535).to_bytes(2, "big") +
                   b"\0\0\0\0")
    l4[16:18] = _l4_csum(src, dst, 6, bytes(l4))
    return ipv4(src, dst, 6, bytes(l4))


def arp(op, sha, spa, tha, tpa):
    return (b"\x00\x01\x08\x00\x06\x04" + op.to_bytes(2, "big") +
            mac_bytes(sha) + socket.inet_aton(spa) + mac_bytes(tha) +
            socket.inet_aton(tpa))


SENDER = r"""
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for hexframe in sys.argv[3:]:
    for _ in range(int(sys.argv[2])):
        s.send(bytes.fromhex(hexframe))
"""


def inject(ns, ifname, frames, count=1):
    """Sends each of 'frames' 'count' times from 'ifname' in 'ns'."""
    if isinstance(frames, bytes):
        frames = [frames]
    sh(["/usr/bin/python3", "-c", SENDER, ifname, str(count)] +
       [f.hex() for f in frames], ns=ns)


# ---- Real traffic: servers and clients in the VMs' namespaces ----

SERVER = r"""
import json, select, socket, sys
addr = sys.argv[1]
tcp = [int(p) for p in sys.argv[2].split(",") if p]
udp = [int(p) for p in sys.argv[3].split(",") if p]
socks, counts = [], {}
for p in tcp:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, p))
    s.listen(16)
    socks.append(s)
for p in udp:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, p))
    socks.append(s)
print("ready", flush=True)
while True:
    for s in select.select(socks, [], [])[0]:
        if s.type == socket.SOCK_STREAM:
            c, _ = s.accept()
            c.settimeout(2)
            try:
                c.sendall(b"echo:" + c.recv(100))
            except OSError:
                pass
            c.close()
            continue
        data, peer = s.recvfrom(2000)
        port = s.getsockname()[1]
        if data == b"COUNT":
            # Asked from inside the namespace: how many datagrams came.
            s.sendto(json.dumps(counts).encode(), peer)
        elif data.startswith(b"E"):
            s.sendto(b"echo:" + data, peer)
        else:
            counts[port] = counts.get(port, 0) + 1
"""

TCP_CLIENT = r"""
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])),
                                 timeout=float(sys.argv[3]))
    s.sendall(b"hello")
    data = s.recv(100)
    print(s.getsockname()[1], data.decode())
    s.close()
except OSError as e:
    print("error", e)
"""

UDP_CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(float(sys.argv[4]))
for _ in range(int(sys.argv[3])):
    s.sendto(sys.argv[5].encode(), (sys.argv[1], int(sys.argv[2])))
if sys.argv[5].startswith("E"):
    try:
        print(s.recv(2000).decode())
    except OSError as e:
        print("error", e)
"""


@pytest.fixture
def procs():
    """Background processes a test starts, killed at teardown (before the
    namespaces they run in go)."""
    started = []
    yield started
    for p in started:
        p.kill()
        p.wait()


def serve(procs, ns, addr, tcp=(), udp=()):
    proc = subprocess.Popen(
        ["ip", "netns", "exec", ns, "/usr/bin/python3", "-c", SERVER, addr,
         ",".join(map(str, tcp)), ",".join(map(str, udp))],
        stdout=subprocess.PIPE, text=True)
    procs.append(proc)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def tcp_connect(ns, addr, port, timeout=1.5):
    """The local port of a TCP connection from 'ns' to addr:port that was
    answered, or None."""
    out = sh(["/usr/bin/python3", "-c", TCP_CLIENT, addr, str(port),
              str(timeout)], ns=ns).stdout.split()
    if out and out[0] != "error" and out[1] == "echo:hello":
        return int(out[0])
    return None


def udp_echo(ns, addr, port, timeout=1.0):
    out = sh(["/usr/bin/python3", "-c", UDP_CLIENT, addr, str(port), "1",
              str(timeout), "Echo"], ns=ns).stdout
    return out.strip() == "echo:Echo"


def udp_send(ns, addr, port, count):
    sh(["/usr/bin/python3", "-c", UDP_CLIENT, addr, str(port), str(count),
        "1", "data"], ns=ns)


def udp_counts(ns, addr, port):
    """Datagrams the server on addr:port (in 'ns') has counted, by port;
    asked over the namespace's own stack, not through the switch."""
    out = sh(["/usr/bin/python3", "-c",
              "import socket, sys; s = socket.socket(socket.AF_INET, "
              "socket.SOCK_DGRAM); s.settimeout(2); "
              "s.sendto(b'COUNT', (sys.argv[1], int(sys.argv[2]))); "
              "print(s.recv(2000).decode())", addr, str(port)], ns=ns).stdout
    return {int(k): v for k, v in json.loads(out).items()}


# ---- Configuration helpers ----

def acl_add(daemon, port, **kw):
    """Adds a basic rule with the CLI; returns its ids."""
    args = [f"{k.replace('_', '-')}={v}" for k, v in kw.items()]
    return daemon.ctl("acl", "add", port, *args)["ids"]


def acl_rules(daemon, port):
    return {r["id"]: r for r in daemon.ctl("acl", "list", port)["rules"]}


def xacl_add(daemon, port, **kw):
    args = [f"{k.replace('_', '-')}={v}" for k, v in kw.items()]
    return daemon.ctl("xacl", "add", port, *args)


def xacl_list(daemon, port):
    return daemon.ctl("xacl", "list", port)


def drops(daemon, port, reason):
    return daemon.stats(port)["drops"][reason]


def lan(daemon, topo, *names, prefix=15, ips=None):
    """Switch sw0 with a VM per name (IPs from the constants above);
    returns {name: (ns, ifname)}."""
    ips = ips or {"p": P_IP, "a": A_IP, "b": B_IP, "c": C_IP, "s": A_IP}
    daemon.rpc("switch.add", name="sw0")
    return {n: add_vm(daemon, topo, "sw0", n, ips[n], mac=MACS[n],
                      prefix=prefix)
            for n in names}


def settled_config(daemon):
    """config.json once the daemon has caught up with the VMs: every TAP
    found in its namespace and pinned (the daemon saves that on its own,
    a moment after the TAP moves)."""
    config = daemon.state_dir / "config.json"

    def settled():
        text = config.read_bytes()
        if b'"netns-pinned": false' in text:
            return None
        time.sleep(0.2)
        return text if config.read_bytes() == text else None

    return wait_for(settled)


def settled_tx(daemon, port):
    """The port's tx-packets once no frame has gone to it for a moment
    (the last segments of a closed connection may still be on the way)."""
    def settled():
        before = daemon.stats(port)["tx-packets"]
        time.sleep(0.3)
        after = daemon.stats(port)["tx-packets"]
        return (after,) if after == before else None

    return wait_for(settled)[0]


def no_ping(ns, addr):
    """True if 'addr' does not answer (one probe, one second).  The
    namespace's neighbour table is flushed after: an address resolution
    that failed leaves an entry the kernel would not retry at once."""
    answered = ping(ns, addr, count=1, timeout=1)
    sh(["ip", "neigh", "flush", "all"], ns=ns)
    return not answered


# ---- Basic ACLs: the precedence rules ----

def test_no_rules_allow_ping_tcp_and_udp(daemon, topo, procs):
    vms = lan(daemon, topo, "p", "a")
    (p, _), (a, _) = vms["p"], vms["a"]
    serve(procs, p, P_IP, tcp=[8080], udp=[5353])
    serve(procs, a, A_IP, tcp=[8080], udp=[5353])
    assert daemon.ctl("acl", "list", "p")["rules"] == []
    assert ping(a, P_IP) and ping(p, A_IP)
    assert tcp_connect(a, P_IP, 8080) and tcp_connect(p, A_IP, 8080)
    assert udp_echo(a, P_IP, 5353) and udp_echo(p, A_IP, 5353)
    assert drops(daemon, "p", "acl-deny") == 0
    assert drops(daemon, "a", "acl-deny") == 0


def test_deny_any_plus_allow_prefix_admits_only_the_prefix(daemon, topo,
                                                           procs):
    vms = lan(daemon, topo, "p", "a", "b")
    p, a, b = vms["p"][0], vms["a"][0], vms["b"][0]
    serve(procs, p, P_IP, tcp=[8080], udp=[5353])
    assert ping(a, P_IP, count=1) and ping(b, P_IP, count=1)

    deny_out, deny_in = acl_add(daemon, "p", action="deny",
                                direction="both", remote_ip="ANY")
    # deny ANY alone shuts everyone out, the prefix included.
    assert no_ping(a, P_IP) and no_ping(b, P_IP)
    allow_out, allow_in = acl_add(daemon, "p", action="allow",
                                  direction="both",
                                  remote_ip="198.18.0.0/16")
    before = drops(daemon, "p", "acl-deny")
    rules_before = acl_rules(daemon, "p")

    assert ping(a, P_IP)
    assert tcp_connect(a, P_IP, 8080)
    assert udp_echo(a, P_IP, 5353)
    assert no_ping(b, P_IP)
    assert tcp_connect(b, P_IP, 8080, timeout=1) is None
    assert not udp_echo(b, P_IP, 5353)
    # ... and the protected VM cannot reach out of the prefix either.
    assert no_ping(p, B_IP)

    assert drops(daemon, "p", "acl-deny") > before
    rules = acl_rules(daemon, "p")
    assert rules[allow_in]["remote-ip"] == "198.18.0.0/16"
    for rid in (deny_in, deny_out, allow_in, allow_out):
        assert rules[rid]["packets"] > rules_before[rid]["packets"], rid
        assert rules[rid]["bytes"] > rules_before[rid]["bytes"], rid


def test_deny_inside_an_allowed_prefix_wins_by_length(daemon, topo):
    vms = lan(daemon, topo, "p", "a", "b", "c")
    p, a, b, c = (vms[n][0] for n in "pabc")
    acl_add(daemon, "p", action="deny", direction="both", remote_ip="ANY")
    acl_add(daemon, "p", action="allow", direction="both",
            remote_ip="198.18.0.0/16")
    ids = acl_add(daemon, "p", action="deny", direction="both",
                  remote_ip="198.18.5.0/24")
    assert ping(a, P_IP)
    assert no_ping(c, P_IP)          # the /24 inside the /16
    assert no_ping(b, P_IP)          # outside the /16
    before = acl_rules(daemon, "p")
    assert no_ping(p, C_IP)
    # The /24 rules, not deny ANY, decided the frames toward 198.18.5.1.
    after = acl_rules(daemon, "p")
    assert after[ids[0]]["packets"] > before[ids[0]]["packets"]
    for rid in ids:
        daemon.ctl("acl", "del", "p", rid, json_out=False)
    assert ping(c, P_IP)
    assert no_ping(b, P_IP)


@pytest.mark.parametrize("deny_first", [False, True])
def test_deny_wins_over_allow_at_equal_length(daemon, topo, deny_first):
    vms = lan(daemon, topo, "p", "a")
    a = vms["a"][0]
    rules = [dict(action="allow", direction="in", remote_ip="198.18.1.0/24"),
             dict(action="deny", direction="in", remote_ip="198.18.1.0/24")]
    if deny_first:
        rules.reverse()
    ids = [acl_add(daemon, "p", **r)[0] for r in rules]
    deny_id = ids[0] if deny_first else ids[1]
    assert no_ping(a, P_IP)
    assert acl_rules(daemon, "p")[deny_id]["packets"] > 0
    assert drops(daemon, "p", "acl-deny") > 0
    # A longer allow beats the tie; taking the deny away admits too.
    longer = acl_add(daemon, "p", action="allow", direction="in",
                     remote_ip=A_IP)[0]
    assert ping(a, P_IP)
    daemon.ctl("acl", "del", "p", longer, json_out=False)
    assert no_ping(a, P_IP)
    daemon.ctl("acl", "del", "p", deny_id, json_out=False)
    assert ping(a, P_IP)


def test_direction_in_out_and_both(daemon, topo, procs):
    vms = lan(daemon, topo, "p", "a")
    (p, pif), (a, aif) = vms["p"], vms["a"]
    # Static neighbours: one-way datagrams need no ARP, so each direction
    # is seen alone.
    sh(["ip", "neigh", "replace", A_IP, "lladdr", MACS["a"], "nud",
        "permanent", "dev", pif], ns=p)
    sh(["ip", "neigh", "replace", P_IP, "lladdr", MACS["p"], "nud",
        "permanent", "dev", aif], ns=a)
    serve(procs, p, P_IP, udp=[7000])
    serve(procs, a, A_IP, udp=[7000])
    sent = {"to_p": 0, "to_a": 0}

    def exchange():
        """Datagrams that arrived (a -> p, p -> a) out of 5 each way."""
        udp_send(a, P_IP, 7000, 5)
        udp_send(p, A_IP, 7000, 5)
        time.sleep(0.3)
        got_p = udp_counts(p, P_IP, 7000).get(7000, 0) - sent["to_p"]
        got_a = udp_counts(a, A_IP, 7000).get(7000, 0) - sent["to_a"]
        sent["to_p"] += got_p
        sent["to_a"] += got_a
        return got_p, got_a

    assert exchange() == (5, 5)
    rid = acl_add(daemon, "p", action="deny", direction="in",
                  remote_ip=A_IP)
    assert len(rid) == 1
    assert exchange() == (0, 5)      # in: toward the VM only
    daemon.ctl("acl", "del", "p", rid[0], json_out=False)
    rid = acl_add(daemon, "p", action="deny", direction="out",
                  remote_ip=A_IP)
    assert exchange() == (5, 0)      # out: from the VM only
    daemon.ctl("acl", "del", "p", rid[0], json_out=False)
    assert exchange() == (5, 5)

    ids = acl_add(daemon, "p", action="deny", direction="both",
                  remote_ip=A_IP)
    assert len(ids) == 2 and ids[0] != ids[1]
    rules = acl_rules(daemon, "p")
    assert sorted(rules[i]["direction"] for i in ids) == ["in", "out"]
    assert all(rules[i]["remote-ip"] == A_IP for i in ids)
    assert exchange() == (0, 0)
    rules = acl_rules(daemon, "p")
    assert all(rules[i]["packets"] >= 5 for i in ids)
    in_id = next(i for i in ids if rules[i]["direction"] == "in")
    daemon.ctl("acl", "del", "p", in_id, json_out=False)
    assert exchange() == (5, 0)      # the "out" half stays


def test_local_and_remote_addresses(daemon, topo):
    vms = lan(daemon, topo, "p", "a")
    (p, pif), (a, _) = vms["p"], vms["a"]
    second = "198.18.0.11"
    sh(["ip", "addr", "add", f"{second}/15", "dev", pif], ns=p)
    assert ping(a, P_IP, count=1) and ping(a, second, count=1)

    # local-ip on in: the VM's own (destination) address.
    rid = acl_add(daemon, "p", action="deny", direction="in",
                  local_ip=second)[0]
    assert no_ping(a, second)
    assert ping(a, P_IP)
    assert acl_rules(daemon, "p")[rid]["local-ip"] == second
    daemon.ctl("acl", "del", "p", rid, json_out=False)

    # The same address as a remote one matches nothing here.
    rid = acl_add(daemon, "p", action="deny", direction="in",
                  remote_ip=second)[0]
    assert ping(a, second)
    assert acl_rules(daemon, "p")[rid]["packets"] == 0
    daemon.ctl("acl", "del", "p", rid, json_out=False)

    # local-ip on out: the VM may not send from that address.
    rid = acl_add(daemon, "p", action="deny", direction="out",
                  local_ip=second)[0]
    assert no_ping(a, second)
    assert ping(a, P_IP)
    assert acl_rules(daemon, "p")[rid]["packets"] > 0

    # remote-ip: the peer's address.
    acl_add(daemon, "p", action="deny", direction="in", remote_ip=A_IP)
    assert no_ping(a, P_IP)


def test_mac_and_ip_lists_are_judged_independently(daemon, topo):
    vms = lan(daemon, topo, "p", "a", "c")
    a, c = vms["a"][0], vms["c"][0]
    ip_allow = acl_add(daemon, "p", action="allow", direction="in",
                       remote_ip=A_IP)[0]
    mac_deny = acl_add(daemon, "p", action="deny", direction="in",
                       remote_mac=MACS["a"])[0]
    # The IP list allows, the MAC list denies: dropped.
    assert no_ping(a, P_IP)
    assert ping(c, P_IP)             # another MAC passes
    rules = acl_rules(daemon, "p")
    assert rules[mac_deny]["packets"] > 0
    assert rules[mac_deny]["remote-mac"] == MACS["a"]
    denied = drops(daemon, "p", "acl-deny")
    assert denied > 0

    # The other way round: the MAC list allows, the IP list denies.
    daemon.ctl("acl", "del", "p", mac_deny, json_out=False)
    daemon.ctl("acl", "del", "p", ip_allow, json_out=False)
    mac_allow = acl_add(daemon, "p", action="allow", direction="in",
                        remote_mac=MACS["a"])[0]
    ip_deny = acl_add(daemon, "p", action="deny", direction="in",
                      remote_ip=A_IP)[0]
    assert no_ping(a, P_IP)
    assert acl_rules(daemon, "p")[ip_deny]["packets"] > 0
    assert drops(daemon, "p", "acl-deny") > denied
    daemon.ctl("acl", "del", "p", ip_deny, json_out=False)
    assert ping(a, P_IP)
    assert acl_rules(daemon, "p")[mac_allow]["packets"] > 0

    # A MAC ANY deny holds whatever the IP rules say.
    acl_add(daemon, "p", action="allow", direction="in", remote_ip="ANY")
    acl_add(daemon, "p", action="deny", direction="in", remote_mac="ANY")
    assert no_ping(c, P_IP)
    assert ping(a, P_IP)             # the exact MAC allow beats ANY


def test_ip_rules_judge_arp(daemon, topo):
    vms = lan(daemon, topo, "p", "a")
    (p, _), (a, aif) = vms["p"], vms["a"]
    assert ping(p, A_IP, count=1)     # both MACs learned
    claimed = "198.18.0.99"
    rid = acl_add(daemon, "a", action="deny", direction="out",
                  local_ip=claimed)[0]

    # An ARP reply from a claiming the denied address is dropped ...
    lie = eth(MACS["p"], MACS["a"], 0x0806,
              arp(2, MACS["a"], claimed, MACS["p"], P_IP))
    truth = eth(MACS["p"], MACS["a"], 0x0806,
                arp(2, MACS["a"], A_IP, MACS["p"], P_IP))
    tx, denied = daemon.stats("p")["tx-packets"], drops(daemon, "a",
                                                        "acl-deny")
    inject(a, aif, lie, 5)
    wait_for(lambda: drops(daemon, "a", "acl-deny") - denied == 5)
    assert acl_rules(daemon, "a")[rid]["packets"] == 5
    assert daemon.stats("p")["tx-packets"] == tx
    # ... one claiming its own address is not.
    inject(a, aif, truth, 5)
    wait_for(lambda: daemon.stats("p")["tx-packets"] - tx == 5)
    assert drops(daemon, "a", "acl-deny") - denied == 5

    # Real resolution: a answers for the claimed address, but its ARP
    # replies never reach p.
    sh(["ip", "addr", "add", f"{claimed}/15", "dev", aif], ns=a)
    assert not ping(p, claimed, count=1)
    neigh = sh(["ip", "neigh", "show", claimed], ns=p).stdout
    assert MACS["a"] not in neigh, neigh
    sh(["ip", "neigh", "flush", "all"], ns=p)
    assert drops(daemon, "a", "acl-deny") - denied > 5
    daemon.ctl("acl", "del", "a", rid, json_out=False)
    assert ping(p, claimed)


def test_meter_rules_count_but_never_block(daemon, topo):
    vms = lan(daemon, topo, "p", "a")
    a = vms["a"][0]
    meter = acl_add(daemon, "p", action="meter", direction="in",
                    remote_ip=A_IP)[0]
    meter_any = acl_add(daemon, "p", action="meter", direction="out",
                        remote_ip="ANY")[0]
    assert ping(a, P_IP, count=3)
    rules = acl_rules(daemon, "p")
    assert rules[meter]["packets"] >= 3      # the echo requests
    assert rules[meter_any]["packets"] >= 3  # the echo replies
    assert rules[meter]["bytes"] >= 3 * 98
    assert drops(daemon, "p", "acl-deny") == 0

    # A meter rule longer than a deny does not admit anything ...
    acl_add(daemon, "p", action="deny", direction="in", remote_ip="ANY")
    counted = acl_rules(daemon, "p")[meter]["packets"]
    assert no_ping(a, P_IP)
    # ... and still counts what the deny drops.
    assert acl_rules(daemon, "p")[meter]["packets"] > counted
    assert drops(daemon, "p", "acl-deny") > 0

    # Meters must be IP-based.
    res = daemon.ctl("acl", "add", "p", "action=meter", "direction=in",
                     f"remote-mac={MACS['a']}", check=False, json_out=False)
    assert res.returncode != 0 and res.stderr.strip()
    assert len(acl_rules(daemon, "p")) == 3


# ---- Extended ACLs ----

def test_xacl_outbound_web_only(daemon, topo, procs):
    vms = lan(daemon, topo, "p", "s")
    (p, pif), (s, sif) = vms["p"], vms["s"]
    S_IP = A_IP
    # Static neighbours: no ARP probe among the frames counted below.
    sh(["ip", "neigh", "replace", S_IP, "lladdr", MACS["s"], "nud",
        "permanent", "dev", pif], ns=p)
    sh(["ip", "neigh", "replace", P_IP, "lladdr", MACS["p"], "nud",
        "permanent", "dev", sif], ns=s)
    serve(procs, s, S_IP, tcp=[80, 81])
    serve(procs, p, P_IP, tcp=[8080])
    assert tcp_connect(s, P_IP, 8080)            # open before the rules

    xacl_add(daemon, "p", action="deny", direction="in", weight=1)
    xacl_add(daemon, "p", action="deny", direction="out", weight=1)
    rule = xacl_add(daemon, "p", action="allow", direction="out",
                    weight=100, protocol="tcp", remote_port=80,
                    stateful="on", idle_timeout=2)
    assert rule["stateful"] is True and rule["idle-timeout"] == 2
    denied = drops(daemon, "p", "xacl-deny")

    # Out to port 80 works, and the server's answers come back in.
    lport = tcp_connect(p, S_IP, 80)
    assert lport
    shown = xacl_list(daemon, "p")
    assert shown["flows"] >= 1
    by_key = {(r["direction"], r["weight"]): r for r in shown["rules"]}
    assert by_key[("out", 100)]["packets"] >= 1
    assert by_key[("in", 1)]["packets"] == 0     # replies came by state
    # A reply-direction segment for that 5-tuple passes while the flow
    # lives.  (A reset: neither kernel answers one, so exactly one frame
    # goes to p.)
    reply = eth(MACS["p"], MACS["s"], 0x0800,
                tcp_packet(S_IP, P_IP, 80, lport, flags=0x04))
    tx = settled_tx(daemon, "p")
    inject(s, sif, reply)
    wait_for(lambda: daemon.stats("p")["tx-packets"] - tx >= 1 or
             drops(daemon, "p", "xacl-deny") > denied)
    time.sleep(0.2)
    assert (daemon.stats("p")["tx-packets"] - tx,
            drops(daemon, "p", "xacl-deny") - denied) == (1, 0), \
        xacl_list(daemon, "p")

    # New inbound connections are refused, and so is out to port 81.
    assert tcp_connect(s, P_IP, 8080, timeout=1) is None
    assert tcp_connect(p, S_IP, 81, timeout=1) is None
    assert no_ping(p, S_IP)
    assert drops(daemon, "p", "xacl-deny") > denied

    # After the idle timeout the state is gone ...
    wait_for(lambda: xacl_list(daemon, "p")["flows"] == 0, timeout=15)
    # ... and the same reply-direction segment is dropped.
    tx, denied = settled_tx(daemon, "p"), drops(daemon, "p", "xacl-deny")
    deny_in = {(r["direction"], r["weight"]): r
               for r in xacl_list(daemon, "p")["rules"]}[("in", 1)]
    inject(s, sif, reply)
    wait_for(lambda: drops(daemon, "p", "xacl-deny") - denied == 1)
    assert daemon.stats("p")["tx-packets"] == tx
    after = {(r["direction"], r["weight"]): r
             for r in xacl_list(daemon, "p")["rules"]}[("in", 1)]
    assert after["packets"] == deny_in["packets"] + 1
    # And a new connection creates state again.
    assert tcp_connect(p, S_IP, 80)


def test_xacl_port_range_boundaries(daemon, topo, procs):
    vms = lan(daemon, topo, "p", "s")
    p, s = vms["p"][0], vms["s"][0]
    S_IP = A_IP
    ports = [49151, 49152, 49182, 49183]
    serve(procs, s, S_IP, udp=ports)
    xacl_add(daemon, "p", action="allow", direction="out", weight=100,
             protocol="udp", remote_port="49152-49182")
    xacl_add(daemon, "p", action="deny", direction="out", weight=1)
    rules = {r["weight"]: r for r in xacl_list(daemon, "p")["rules"]}
    assert rules[100]["remote-port"] == "49152-49182"
    for port in ports:
        udp_send(p, S_IP, port, 5)
    time.sleep(0.3)
    counts = udp_counts(s, S_IP, 49152)
    assert {port: counts.get(port, 0) for port in ports} == {
        49151: 0, 49152: 5, 49182: 5, 49183: 0}
    rules = {r["weight"]: r for r in xacl_list(daemon, "p")["rules"]}
    assert rules[100]["packets"] == 10
    assert rules[1]["packets"] >= 10
    assert drops(daemon, "p", "xacl-deny") >= 10


def test_xacl_duplicate_weight_and_deny_stateful_change_nothing(daemon,
                                                                topo):
    lan(daemon, topo, "p")
    config = daemon.state_dir / "config.json"
    xacl_add(daemon, "p", action="allow", direction="out", weight=100,
             protocol="tcp", remote_port=80)
    listed, saved = xacl_list(daemon, "p"), settled_config(daemon)

    res = daemon.ctl("xacl", "add", "p", "action=deny", "direction=out",
                     "weight=100", check=False, json_out=False)
    assert res.returncode != 0
    assert "weight 100" in res.stderr, res.stderr
    with pytest.raises(RpcError) as err:
        daemon.rpc("xacl.add", port="p", action="deny", direction="out",
                   weight=100, protocol="udp")
    assert "100" in err.value.message
    assert xacl_list(daemon, "p") == listed
    assert config.read_bytes() == saved

    res = daemon.ctl("xacl", "add", "p", "action=deny", "direction=out",
                     "weight=200", "stateful=on", check=False,
                     json_out=False)
    assert res.returncode != 0
    assert "stateful" in res.stderr, res.stderr
    assert xacl_list(daemon, "p") == listed
    assert config.read_bytes() == saved

    # The weight is unique per direction only.
    xacl_add(daemon, "p", action="deny", direction="in", weight=100)
    assert len(xacl_list(daemon, "p")["rules"]) == 2
    assert config.read_bytes() != saved


def _without_counters(rules):
    return [{k: v for k, v in r.items() if k not in ("packets", "bytes")}
            for r in rules]


def test_acls_survive_restart(daemon, topo, procs):
    vms = lan(daemon, topo, "p", "a", "b")
    p, a, b = vms["p"][0], vms["a"][0], vms["b"][0]
    acl_add(daemon, "p", action="deny", direction="both", remote_ip="ANY")
    acl_add(daemon, "p", action="allow", direction="both",
            remote_ip="198.18.0.0/16")
    acl_add(daemon, "p", action="deny", direction="in",
            remote_mac=MACS["b"])
    acl_add(daemon, "p", action="meter", direction="out",
            remote_ip="2001:db8::/32")
    xacl_add(daemon, "p", action="deny", direction="in", weight=10,
             protocol="tcp", local_port=8080)
    xacl_add(daemon, "p", action="allow", direction="out", weight=20,
             protocol="udp", remote_ip="198.18.0.0/16",
             remote_port="5000-5010", stateful="on", idle_timeout=60)

    def check_enforced():
        proc = serve(procs, p, P_IP, tcp=[8080, 8081])
        try:
            assert ping(a, P_IP)
            assert no_ping(b, P_IP)
            assert tcp_connect(a, P_IP, 8081)
            assert tcp_connect(a, P_IP, 8080, timeout=1) is None
        finally:
            proc.kill()
            proc.wait()

    check_enforced()
    acls = _without_counters(daemon.ctl("acl", "list", "p")["rules"])
    xacls = _without_counters(daemon.ctl("xacl", "list", "p")["rules"])

    daemon.kill9()
    daemon.start()
    assert _without_counters(daemon.ctl("acl", "list", "p")["rules"]) == acls
    assert _without_counters(
        daemon.ctl("xacl", "list", "p")["rules"]) == xacls
    check_enforced()
    # Ids are not reused after the restart.
    new = acl_add(daemon, "p", action="allow", direction="in",
                  remote_ip=B_IP)[0]
    assert new > max(r["id"] for r in acls)


def test_many_rules_in_one_request(daemon, topo):
    """acl.add with "rules" adds a port's whole policy in one commit; a bad
    rule anywhere in it changes nothing; the rules survive a restart with
    their ids and still decide."""
    vms = lan(daemon, topo, "p", "a")
    rules = [{"action": "allow", "direction": "out",
              "remote-ip": f"10.{i // 250}.{i % 250}.0/24"}
             for i in range(3000)]
    rules.append({"action": "deny", "direction": "both",
                  "remote-ip": A_IP})

    bad = rules[:5] + [{"action": "allow", "direction": "sideways",
                        "remote-ip": "any"}]
    with pytest.raises(RpcError, match=r"rules\[5\]: direction"):
        daemon.rpc("acl.add", port="p", rules=bad)
    with pytest.raises(RpcError, match=r"rules\[0\]: unknown"):
        daemon.rpc("acl.add", port="p", rules=[{"action": "allow",
                                                "direction": "in",
                                                "remote-ip": "any",
                                                "colour": "red"}])
    with pytest.raises(RpcError, match="either"):
        daemon.rpc("acl.add", port="p", action="allow", rules=rules[:1])
    assert acl_rules(daemon, "p") == {}

    ids = daemon.rpc("acl.add", port="p", rules=rules)["ids"]
    # One id per rule, two for "both", in order.
    assert ids == list(range(ids[0], ids[0] + 3002))
    assert len(acl_rules(daemon, "p")) == 3002
    assert no_ping(vms["p"][0], A_IP)

    daemon.kill9()
    daemon.start()
    after = acl_rules(daemon, "p")
    assert sorted(after) == ids
    assert after[ids[-1]]["action"] == "deny"
    assert no_ping(vms["p"][0], A_IP)
    # New ids continue after the restored ones.
    assert acl_add(daemon, "p", action="allow", direction="in",
                   remote_ip="any") == [ids[-1] + 1]
