"""The sample extensions (extensions/samples, docs/extensions.md) on real
traffic through a real daemon.

pcap-capture: files that tcpdump reads, exact record counts with
"sample": 1, per-port and per-direction selection, the flow log format,
and the bounds sampling 1 in N keeps when packets spread over workers.
dnsblock: a real dnsmasq in one VM and queries from another (a few lines
of socket code run in the client's namespace); names from the
configuration and from dnsblock.add/remove; NXDOMAIN answers the client's
kernel accepts; crafted frames for what the client's stack does not send
(IPv6, VLAN tags, compression pointers, TCP, malformed names).
static-forward: three VMs, entries for two; who reaches whom, spoofing,
and flooding on and off.
"""

import json
import re
import struct
import subprocess
import time

import pytest

import frames as F
from conftest import BUILD, add_vm, ext_stats, ping, sh, wait_for
from test_guards import kill

SAMPLES = BUILD / "extensions" / "samples"


def load(daemon, *names):
    for name in names:
        res = daemon.ctl("ext", "load", SAMPLES / f"{name}.so")
        assert res["state"] == "ready", res


def enable(daemon, switch, name, config=None):
    daemon.rpc("ext.enable", switch=switch, name=name)
    if config is not None:
        daemon.rpc("ext.config", switch=switch, name=name, config=config)



# pcap-capture ------------------------------------------------------------

def settled(daemon):
    """Waits until every sampled record is written (the 100 ms drain) and
    returns the plugin's figures."""
    def done():
        s = ext_stats(daemon, "pcap-capture")["ext"]
        return s if s["written"] + s["ring_full"] == s["sampled"] else None
    time.sleep(0.3)
    return wait_for(done, timeout=5)


def tcpdump(path, expr=""):
    res = sh(f"tcpdump -r {path} -nn {expr}")
    return [line for line in res.stdout.splitlines() if line.strip()]


@pytest.fixture
def trio(daemon, topo):
    """sw0 with VMs a, b, c (198.18.41.1-3), their ARP caches filled."""
    daemon.rpc("switch.add", name="sw0")
    vms = {}
    for i, name in enumerate("abc", start=1):
        vms[name], _ = add_vm(daemon, topo, "sw0", name, f"198.18.41.{i}",
                              mac=f"02:00:00:00:41:0{i}")
    assert ping(vms["a"], "198.18.41.2", count=1)
    assert ping(vms["c"], "198.18.41.2", count=1)
    return vms


def test_pcap_exact_counts_for_one_port(daemon, trio, tmp_path):
    load(daemon, "pcap-capture")
    pcap = tmp_path / "a.pcap"
    enable(daemon, "sw0", "pcap-capture", {"file": str(pcap),
                                           "ports": ["a"]})
    assert ping(trio["a"], "198.18.41.2", count=5)
    assert ping(trio["c"], "198.18.41.2", count=4)   # other port: not kept
    stats = settled(daemon)
    icmp = tcpdump(pcap, "icmp")
    # Ingress of port a only: a's five requests, none of b's replies and
    # nothing of c.
    assert len(icmp) == 5, icmp
    assert all("198.18.41.1 > 198.18.41.2: ICMP echo request" in line
               for line in icmp), icmp
    assert stats["ring_full"] == 0 and stats["write_errors"] == 0
    assert stats["written"] == len(tcpdump(pcap)), stats
    # snaplen 128 keeps a whole 98-byte ping; tcpdump sees the real length.
    assert "length 64" in icmp[0]


def test_pcap_both_directions_every_port(daemon, trio, tmp_path):
    load(daemon, "pcap-capture")
    pcap = tmp_path / "all.pcap"
    enable(daemon, "sw0", "pcap-capture", {"file": str(pcap),
                                           "direction": "both",
                                           "snaplen": 64})
    assert ping(trio["a"], "198.18.41.2", count=4)
    settled(daemon)
    # Each unicast packet is written on ingress and on its one egress.
    requests = tcpdump(pcap, "'icmp[icmptype] == icmp-echo'")
    replies = tcpdump(pcap, "'icmp[icmptype] == icmp-echoreply'")
    assert (len(requests), len(replies)) == (8, 8), requests + replies
    # Truncated to the snaplen, with the original length kept.
    res = sh(f"tcpdump -r {pcap} -nn -c 1 -v icmp")
    assert "length 84" in res.stdout


def test_pcap_egress_of_one_port(daemon, trio, tmp_path):
    load(daemon, "pcap-capture")
    pcap = tmp_path / "b-out.pcap"
    enable(daemon, "sw0", "pcap-capture", {"file": str(pcap),
                                           "ports": ["b"],
                                           "direction": "egress"})
    assert ping(trio["a"], "198.18.41.2", count=3)
    assert ping(trio["c"], "198.18.41.1", count=2)   # never toward b
    settled(daemon)
    icmp = tcpdump(pcap, "icmp")
    assert len(icmp) == 3, icmp
    assert all("198.18.41.1 > 198.18.41.2" in line for line in icmp)


FLOW_LINE = re.compile(
    r"^(?P<sec>\d+)\.(?P<nsec>\d{9}) dir=(?P<dir>ingress|egress) "
    r"in=(?P<inp>\S+) out=(?P<out>\S+) rate=(?P<rate>\d+) "
    r"vlan=(?P<vlan>\d+) src_mac=(?P<src_mac>[0-9a-f:]{17}) "
    r"dst_mac=(?P<dst_mac>[0-9a-f:]{17}) ethertype=0x(?P<type>[0-9a-f]{4}) "
    r"src_ip=(?P<src_ip>\S+) dst_ip=(?P<dst_ip>\S+) proto=(?P<proto>\S+) "
    r"sport=(?P<sport>\S+) dport=(?P<dport>\S+) len=(?P<len>\d+)$")


def flowlog(path):
    lines = path.read_text().splitlines()
    parsed = [FLOW_LINE.match(line) for line in lines]
    assert all(parsed), [l for l, m in zip(lines, parsed) if not m]
    return [m.groupdict() for m in parsed]


def test_flowlog_lines(daemon, trio, tmp_path):
    load(daemon, "pcap-capture")
    log = tmp_path / "flows.log"
    enable(daemon, "sw0", "pcap-capture", {"file": str(log),
                                           "format": "flowlog",
                                           "direction": "both"})
    assert ping(trio["a"], "198.18.41.2", count=3)
    sh(["python3", "-c",
        "import socket; s = socket.socket(socket.AF_INET, "
        "socket.SOCK_DGRAM); s.bind(('198.18.41.1', 40001)); "
        "s.sendto(b'x' * 10, ('198.18.41.3', 9))"], ns=trio["a"])
    settled(daemon)
    flows = flowlog(log)
    icmp = [f for f in flows if f["proto"] == "1"]
    ingress = [f for f in icmp if f["dir"] == "ingress"
               and f["src_ip"] == "198.18.41.1"]
    assert len(ingress) == 3, icmp
    for f in ingress:
        assert (f["inp"], f["out"], f["rate"], f["vlan"], f["type"],
                f["dst_ip"], f["len"], f["src_mac"], f["dst_mac"]) == (
            "a", "-", "1", "0", "0800", "198.18.41.2", "98",
            "02:00:00:00:41:01", "02:00:00:00:41:02")
        assert abs(int(f["sec"]) - time.time()) < 60
    egress = [f for f in icmp if f["dir"] == "egress"
              and f["src_ip"] == "198.18.41.1"]
    assert [(f["inp"], f["out"]) for f in egress] == [("a", "b")] * 3
    (udp,) = [f for f in flows if f["proto"] == "17"
              and f["dir"] == "ingress"]
    assert (udp["sport"], udp["dport"], udp["dst_ip"], udp["len"]) == (
        "40001", "9", "198.18.41.3", "52")


def test_sampling_one_in_n(daemon, trio, tmp_path):
    load(daemon, "pcap-capture")
    log = tmp_path / "sampled.log"
    before = daemon.stats("a")["rx-packets"]
    enable(daemon, "sw0", "pcap-capture", {"file": str(log),
                                           "format": "flowlog",
                                           "ports": ["a"], "sample": 4})
    sh(["ping", "-c", "40", "-i", "0.01", "-W", "1", "198.18.41.2"],
       ns=trio["a"])
    stats = settled(daemon)
    seen = daemon.stats("a")["rx-packets"] - before
    # Each of the 2 workers keeps its every 4th packet: the total is
    # seen // 4 less at most one per worker.
    # (One more of slack below: a frame a sent as the capture started.)
    assert seen // 4 - 3 <= stats["sampled"] <= seen // 4, (seen, stats)
    flows = flowlog(log)
    assert len(flows) == stats["written"] == stats["sampled"]
    assert {f["rate"] for f in flows} == {"4"}


def test_capture_reconfigured_and_refusals(daemon, trio, tmp_path):
    load(daemon, "pcap-capture")
    first, second = tmp_path / "1.pcap", tmp_path / "2.pcap"
    enable(daemon, "sw0", "pcap-capture")
    # Enabled with {}: idle, nothing sampled.
    assert ping(trio["a"], "198.18.41.2", count=1)
    assert ext_stats(daemon, "pcap-capture")["ext"]["sampled"] == 0
    daemon.rpc("ext.config", switch="sw0", name="pcap-capture",
               config={"file": str(first), "ports": ["a"]})
    assert ping(trio["a"], "198.18.41.2", count=2)
    daemon.rpc("ext.config", switch="sw0", name="pcap-capture",
               config={"file": str(second), "ports": ["a"]})
    assert ping(trio["a"], "198.18.41.2", count=3)
    settled(daemon)
    assert len(tcpdump(first, "icmp")) == 2
    assert len(tcpdump(second, "icmp")) == 3
    for bad, why in [({"file": "relative.pcap"}, "absolute"),
                     ({"file": str(first), "ports": ["nosuch"]}, "nosuch"),
                     ({"file": str(first), "sample": 0}, "sample"),
                     ({"file": str(first), "direction": "up"}, "direction"),
                     ({"file": str(first), "snaplen": 65535,
                       "ring": 65536}, "MB"),
                     ({"file": str(first), "colour": 1}, "colour"),
                     ({"file": str(tmp_path / "no" / "dir.pcap")},
                      "No such file")]:
        res = daemon.ctl("ext", "config", "sw0", "pcap-capture",
                         json.dumps(bad), check=False,
                         json_out=False)
        assert res.returncode != 0 and why in res.stderr, (bad, res.stderr)
    # The running session is unchanged by the refusals.
    assert ping(trio["a"], "198.18.41.2", count=1)
    settled(daemon)
    assert len(tcpdump(second, "icmp")) == 4


# dnsblock ----------------------------------------------------------------

DNS_IP = "198.18.42.53"
CLIENT_IP = "198.18.42.10"
DNS_MAC = "02:00:00:00:42:53"
CLIENT_MAC = "02:00:00:00:42:10"
ALLOWED_ADDR = "198.18.42.100"
BLOCKED_ADDR = "198.18.42.101"

# Sends one query (no retry) and prints what came back.
QUERY = r"""
import random, socket, struct, sys
name, server, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
qid = random.randrange(65536)
qname = b"".join(bytes([len(l)]) + l.encode() for l in name.split("."))
msg = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + b"\0" + \
    struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(timeout)
s.sendto(msg, (server, 53))
try:
    data, peer = s.recvfrom(4096)
except socket.timeout:
    print("timeout")
    sys.exit(0)
ident, flags, qd, an = struct.unpack(">HHHH", data[:8])
addr = socket.inet_ntoa(data[-4:]) if an else "-"
print(f"rcode={flags & 15} an={an} addr={addr} id_ok={ident == qid} "
      f"peer={peer[0]}:{peer[1]} question_ok={data[12:12 + len(qname) + 5] == msg[12:]}")
"""


def query(ns, name, timeout=1.0):
    return sh(["python3", "-c", QUERY, name, DNS_IP, str(timeout)],
              ns=ns).stdout.strip()


@pytest.fixture
def dns(daemon, topo, tmp_path):
    """sw0 with a dnsmasq VM and a client VM; dnsblock loaded, enabled."""
    daemon.rpc("switch.add", name="sw0")
    server, _ = add_vm(daemon, topo, "sw0", "dns", DNS_IP, mac=DNS_MAC)
    client, client_if = add_vm(daemon, topo, "sw0", "cli", CLIENT_IP,
                               mac=CLIENT_MAC)
    log = open(tmp_path / "dnsmasq.log", "w")
    proc = subprocess.Popen(
        ["ip", "netns", "exec", server, "dnsmasq", "--no-daemon",
         "--conf-file=/dev/null", "--port=53", f"--listen-address={DNS_IP}",
         "--bind-interfaces", "--no-resolv", "--no-hosts",
         f"--address=/allowed.test/{ALLOWED_ADDR}",
         f"--address=/blocked.test/{BLOCKED_ADDR}",
         f"--pid-file={tmp_path / 'dnsmasq.pid'}", "--user=root",
         "--group=root", "--log-facility=-", "--log-queries"],
        stdout=log, stderr=subprocess.STDOUT)
    log.close()
    try:
        wait_for(lambda: "started" in (tmp_path / "dnsmasq.log").read_text(),
                 timeout=10)
        assert ping(client, DNS_IP, count=1)
        load(daemon, "dnsblock")
        enable(daemon, "sw0", "dnsblock")
        yield server, client, client_if
    finally:
        kill(proc, tmp_path / "dnsmasq.pid", "dnsmasq")


def answered(reply, addr):
    return reply.startswith("rcode=0 an=1 addr=" + addr) and \
        "id_ok=True" in reply


def test_dnsblock_config_names_and_subdomains(daemon, dns):
    _, client, _ = dns
    assert answered(query(client, "allowed.test"), ALLOWED_ADDR)
    assert answered(query(client, "www.blocked.test"), BLOCKED_ADDR)
    daemon.ctl("ext", "config", "sw0", "dnsblock",
               '{"names": ["Blocked.TEST."]}', json_out=False)
    before = ext_stats(daemon, "dnsblock")
    assert query(client, "blocked.test") == "timeout"
    assert query(client, "www.blocked.test") == "timeout"
    assert query(client, "A.B.BLOCKED.test") == "timeout"
    assert answered(query(client, "allowed.test"), ALLOWED_ADDR)
    # A suffix that is not at a label boundary is another name: it gets
    # through (dnsmasq refuses it, having no upstream).
    assert query(client, "notblocked.test") != "timeout"
    after = ext_stats(daemon, "dnsblock")
    assert after["ext"]["queries"] - before["ext"]["queries"] == 5
    assert after["ext"]["blocked"] - before["ext"]["blocked"] == 3
    assert after["dropped"] - before["dropped"] == 3
    listed = daemon.ctl("call", "dnsblock.list", "{}")
    assert listed["names"] == ["blocked.test"]
    assert listed["added"] == []
    assert listed["blocked"] == after["ext"]["blocked"]
    assert daemon.stats("cli")["drops"]["ext-filter"] == 3


def test_dnsblock_add_remove_at_runtime(daemon, dns):
    _, client, _ = dns
    assert answered(query(client, "allowed.test"), ALLOWED_ADDR)
    res = daemon.ctl("call", "dnsblock.add", '{"name": "allowed.test"}')
    assert res == {"name": "allowed.test", "added": True}
    assert query(client, "allowed.test") == "timeout"
    assert query(client, "x.allowed.test") == "timeout"
    assert answered(query(client, "blocked.test"), BLOCKED_ADDR)
    listed = daemon.ctl("call", "dnsblock.list", "{}")
    assert (listed["names"], listed["added"], listed["blocked"]) == (
        ["allowed.test"], ["allowed.test"], 2)
    daemon.ctl("call", "dnsblock.remove", '{"name": "allowed.test"}')
    assert answered(query(client, "allowed.test"), ALLOWED_ADDR)
    # Errors name what is wrong.
    res = daemon.ctl("call", "dnsblock.remove", '{"name": "allowed.test"}',
                     check=False, json_out=False)
    assert res.returncode != 0 and "not blocked" in res.stderr
    res = daemon.ctl("call", "dnsblock.add", '{"name": "a..b"}',
                     check=False, json_out=False)
    assert res.returncode != 0 and "not a domain name" in res.stderr
    stats = ext_stats(daemon, "dnsblock")["ext"]
    assert (stats["queries"], stats["blocked"]) == (5, 2)


def test_dnsblock_nxdomain_answer(daemon, dns):
    _, client, _ = dns
    daemon.ctl("ext", "config", "sw0", "dnsblock",
               '{"names": ["blocked.test"], "answer": "nxdomain"}',
               json_out=False)
    start = time.monotonic()
    reply = query(client, "mail.blocked.test", timeout=3)
    # The kernel accepted the answer (checksums right), it came from the
    # server's address and port, at once, and repeats the question.
    assert reply.startswith("rcode=3 an=0 addr=- id_ok=True "
                            f"peer={DNS_IP}:53 question_ok=True"), reply
    assert time.monotonic() - start < 2
    assert answered(query(client, "allowed.test"), ALLOWED_ADDR)
    entry = ext_stats(daemon, "dnsblock")
    assert (entry["ext"]["blocked"], entry["ext"]["answered"],
            entry["injected"]) == (1, 1, 1)


# Crafted queries: what a stub resolver does not send by itself.

def dns_question(name):
    return b"".join(bytes([len(l)]) + l for l in name.split(b".")) + b"\0" + \
        struct.pack(">HH", 1, 1)


def dns_message(ident, *questions, raw=None):
    body = raw if raw is not None else b"".join(
        dns_question(q) for q in questions)
    count = len(questions) if raw is None else 1
    return struct.pack(">HHHHHH", ident, 0x0100, count, 0, 0, 0) + body


def udp_frame(payload, ipv6=False, tags=(), sport=33333, dport=53):
    pkt = F.Ether(src=CLIENT_MAC, dst=DNS_MAC)
    for tci in tags:
        pkt = pkt / F.Dot1Q(vlan=tci)
    if ipv6:
        pkt = pkt / F.IPv6(src="fd00:42::10", dst="fd00:42::53")
    else:
        pkt = pkt / F.IP(src=CLIENT_IP, dst=DNS_IP)
    return bytes(pkt / F.UDP(sport=sport, dport=dport) / F.Raw(payload))


def tcp_frame(payload):
    from scapy.layers.inet import TCP
    return bytes(F.Ether(src=CLIENT_MAC, dst=DNS_MAC) /
                 F.IP(src=CLIENT_IP, dst=DNS_IP) /
                 TCP(sport=33334, dport=53, flags="PA") /
                 F.Raw(struct.pack(">H", len(payload)) + payload))


BLOCKED_WIRE = dns_question(b"blocked.test")
# Question 1 "allowed.test" at offset 12; question 2 is "blocked" and a
# pointer to "test" of question 1 (offset 12 + 1 + 7 = 20).
POINTER_Q2 = dns_question(b"allowed.test") + b"\x07blocked\xc0\x14" + \
    struct.pack(">HH", 1, 1)


CRAFTED = [
    # (id, frame builder taking an ident, dropped?)
    ("ipv4", lambda i: udp_frame(dns_message(i, b"www.blocked.test")), True),
    ("ipv6", lambda i: udp_frame(dns_message(i, b"blocked.test"),
                                 ipv6=True), True),
    ("ipv6-dest-opts", lambda i: bytes(
        F.Ether(src=CLIENT_MAC, dst=DNS_MAC) /
        F.IPv6(src="fd00:42::10", dst="fd00:42::53") /
        F.IPv6ExtHdrDestOpt() / F.UDP(sport=33333, dport=53) /
        F.Raw(dns_message(i, b"blocked.test"))), True),
    ("vlan-tag", lambda i: udp_frame(dns_message(i, b"blocked.test"),
                                     tags=[10]), True),
    ("upper-case", lambda i: udp_frame(dns_message(i, b"BLOCKED.Test")),
     True),
    ("second-question-by-pointer", lambda i: udp_frame(
        struct.pack(">HHHHHH", i, 0x0100, 2, 0, 0, 0) + POINTER_Q2), True),
    ("allowed", lambda i: udp_frame(dns_message(i, b"allowed.test")), False),
    ("not-a-label-boundary",
     lambda i: udp_frame(dns_message(i, b"unblocked.test")), False),
    ("tcp", lambda i: tcp_frame(dns_message(i, b"blocked.test")), False),
    ("other-port", lambda i: udp_frame(dns_message(i, b"blocked.test"),
                                       dport=5353), False),
    ("forward-pointer", lambda i: udp_frame(dns_message(
        i, raw=b"\x07blocked\xc0\x30" + struct.pack(">HH", 1, 1))), False),
    ("label-past-end", lambda i: udp_frame(dns_message(
        i, raw=b"\x3fblocked")), False),
    ("response", lambda i: udp_frame(
        struct.pack(">HHHHHH", i, 0x8180, 1, 0, 0, 0) + BLOCKED_WIRE),
     False),
]


@pytest.fixture
def crafted(daemon, topo):
    """Client and server ports as trunks (tagged frames pass the VLAN
    stage), raw sockets on both, dnsblock blocking blocked.test."""
    daemon.rpc("switch.add", name="sw0")
    client, client_if = add_vm(daemon, topo, "sw0", "cli", mac=CLIENT_MAC)
    server, server_if = add_vm(daemon, topo, "sw0", "dns", mac=DNS_MAC)
    for port in ("cli", "dns"):
        daemon.rpc("port.set", name=port, vlan_mode="trunk")
    load(daemon, "dnsblock")
    enable(daemon, "sw0", "dnsblock", {"names": ["blocked.test"]})
    tx, rx = F.RawPort(client, client_if), F.RawPort(server, server_if)
    yield tx, rx
    tx.close()
    rx.close()


@pytest.mark.parametrize("case,build,dropped", CRAFTED,
                         ids=[c[0] for c in CRAFTED])
def test_dnsblock_crafted(daemon, crafted, case, build, dropped):
    tx, rx = crafted
    frames = [build(0x4000 + n) for n in range(3)]
    before = ext_stats(daemon, "dnsblock")
    rx.drain()
    for f in frames:
        tx.send(f)
    if dropped:
        wait_for(lambda: ext_stats(daemon, "dnsblock")["dropped"]
                 - before["dropped"] >= 3, timeout=5)
        marker = F.fence(CLIENT_MAC, case.encode())
        tx.send(marker)
        got = rx.receive_until(lambda f: F.is_fence(f, case.encode()))
        assert got and F.is_fence(got[-1], case.encode())
        assert not [f for f in got + rx.drain() if f in frames]
    else:
        got = []

        def arrived():
            got.extend(rx.drain())
            return all(f in got for f in frames)
        wait_for(arrived, timeout=5)
    after = ext_stats(daemon, "dnsblock")
    assert after["dropped"] - before["dropped"] == (3 if dropped else 0)
    assert after["ext"]["blocked"] - before["ext"]["blocked"] == (
        3 if dropped else 0)
    assert after["aborted"] == after["errors"] == 0
    if case in ("forward-pointer", "label-past-end"):
        assert after["ext"]["malformed"] - before["ext"]["malformed"] == 3


def test_dnsblock_nxdomain_ipv6_checksums(daemon, crafted):
    """The IPv6 answer to a crafted, tagged query has the tag, swapped
    addresses and correct lengths and checksums."""
    tx, _ = crafted
    daemon.rpc("ext.config", switch="sw0", name="dnsblock",
               config={"names": ["blocked.test"], "answer": "nxdomain"})
    query_frame = udp_frame(dns_message(0x5151, b"x.blocked.test"),
                            ipv6=True, tags=[10])
    tx.drain()
    tx.send(query_frame)

    def is_answer(frame):
        pkt = F.Ether(frame)
        return pkt.haslayer(F.UDP) and pkt[F.UDP].sport == 53

    # The answer comes back to the client port, where 'tx' listens too.
    got = tx.receive_until(is_answer, timeout=3)
    assert got and is_answer(got[-1]), [F.Ether(f).summary() for f in got]
    answer = F.Ether(got[-1])
    assert answer[F.Dot1Q].vlan == 10
    assert (answer.src, answer.dst) == (DNS_MAC, CLIENT_MAC)
    assert (answer[F.IPv6].src, answer[F.IPv6].dst) == (
        "fd00:42::53", "fd00:42::10")
    udp = answer[F.UDP]
    assert (udp.sport, udp.dport) == (53, 33333)
    payload = bytes(udp.payload)
    assert payload[:2] == b"\x51\x51"
    assert payload[2] & 0x80 and payload[3] & 0xf == 3
    assert payload[12:] == dns_question(b"x.blocked.test")
    assert answer[F.IPv6].plen == len(bytes(udp)) == udp.len
    recomputed = F.Ether(bytes(answer))
    del recomputed[F.UDP].chksum
    assert F.Ether(bytes(recomputed))[F.UDP].chksum == udp.chksum


# static-forward ----------------------------------------------------------

A_MAC, B_MAC, C_MAC = ("02:00:00:00:43:01", "02:00:00:00:43:02",
                       "02:00:00:00:43:03")


@pytest.fixture
def tenants(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    vms = {}
    for i, (name, mac) in enumerate(
            [("a", A_MAC), ("b", B_MAC), ("c", C_MAC)], start=1):
        vms[name] = add_vm(daemon, topo, "sw0", name, f"198.18.43.{i}",
                           mac=mac)
    load(daemon, "static-forward")
    enable(daemon, "sw0", "static-forward", {
        "entries": [{"mac": A_MAC, "port": "a"}, {"mac": B_MAC, "port": "b"}]})
    return vms


def sf_stats(daemon):
    return ext_stats(daemon, "static-forward")["ext"]


def test_static_forward_reachability(daemon, tenants):
    a, b, c = (tenants[n][0] for n in "abc")
    assert ping(a, "198.18.43.2", count=3)
    assert ping(b, "198.18.43.1", count=3)
    before = sf_stats(daemon)
    assert not ping(c, "198.18.43.1", count=2)
    assert not ping(a, "198.18.43.3", count=2)
    after = sf_stats(daemon)
    # c is declared nowhere: everything it sends is refused.
    assert after["spoofed"] > before["spoofed"]
    assert daemon.stats("c")["drops"]["ext-forwarding"] > 0
    # a's ARP for c floods to b only, and c never hears it.
    assert after["flooded"] > before["flooded"]
    assert after["forwarded"] >= 12
    shown = daemon.ctl("call", "static-forward.show", "{}")
    (sw,) = shown["switches"]
    assert sw["switch"] == "sw0" and sw["flood"] is True
    assert [(e["mac"], e["port"]) for e in sw["entries"]] == [
        (A_MAC, "a"), (B_MAC, "b")]
    ids = [e["port_id"] for e in sw["entries"]]
    assert all(ids) and len(set(ids)) == 2, ids


def test_static_forward_spoofed_source(daemon, tenants):
    (a, a_if), (b, b_if) = tenants["a"], tenants["b"]
    # The built-in MAC spoofing guard runs first and would drop these
    # frames itself: allow spoofing at the port so static-forward's own
    # check is what stops them (as on uplinks, which have no guard).
    daemon.rpc("port.set", name="a", mac_spoofing=True)
    tx, rx = F.RawPort(a, a_if), F.RawPort(b, b_if)
    try:
        spoofed = [bytes(F.Ether(src=src, dst=B_MAC) /
                         F.IP(src="198.18.43.1", dst="198.18.43.2") /
                         F.UDP(sport=1, dport=9) / F.Raw(b"spoof:" + tag))
                   for src, tag in [("02:00:00:00:43:99", b"x"),
                                    (B_MAC, b"y"), (C_MAC, b"z")]]
        honest = bytes(F.Ether(src=A_MAC, dst=B_MAC) /
                       F.IP(src="198.18.43.1", dst="198.18.43.2") /
                       F.UDP(sport=1, dport=9) / F.Raw(b"honest"))
        before = sf_stats(daemon)
        rx.drain()
        for f in spoofed:
            tx.send(f)
        wait_for(lambda: sf_stats(daemon)["spoofed"] - before["spoofed"]
                 >= 3, timeout=5)
        tx.send(honest)
        got = rx.receive_until(lambda f: b"honest" in f)
        assert got and b"honest" in got[-1]
        assert not [f for f in got + rx.drain() if b"spoof:" in f]
        assert sf_stats(daemon)["spoofed"] - before["spoofed"] == 3
        assert daemon.stats("a")["drops"]["ext-forwarding"] == 3
    finally:
        tx.close()
        rx.close()


def test_static_forward_without_flooding(daemon, tenants):
    (a, a_if), (b, b_if) = tenants["a"], tenants["b"]
    daemon.rpc("ext.config", switch="sw0", name="static-forward", config={
        "entries": [{"mac": A_MAC, "port": "a"}, {"mac": B_MAC, "port": "b"}],
        "flood": False})
    sh(["ip", "neigh", "flush", "all"], ns=a)
    sh(["ip", "neigh", "flush", "all"], ns=b)
    before = sf_stats(daemon)
    assert not ping(a, "198.18.43.2", count=2)
    assert sf_stats(daemon)["flood_blocked"] > before["flood_blocked"]
    # Static neighbours: no ARP needed, unicast still goes through.
    sh(["ip", "neigh", "replace", "198.18.43.2", "lladdr", B_MAC, "dev",
        a_if, "nud", "permanent"], ns=a)
    sh(["ip", "neigh", "replace", "198.18.43.1", "lladdr", A_MAC, "dev",
        b_if, "nud", "permanent"], ns=b)
    assert ping(a, "198.18.43.2", count=3)
    assert sf_stats(daemon)["flooded"] == before["flooded"]


def test_static_forward_refuses_bad_entries(daemon, tenants):
    for bad, why in [
            ({"entries": [{"mac": "02:00:00:00:43:0g", "port": "a"}]},
             "bad MAC"),
            ({"entries": [{"mac": "01:00:5e:00:00:01", "port": "a"}]},
             "unicast"),
            ({"entries": [{"mac": A_MAC, "port": "a"},
                          {"mac": A_MAC, "port": "b"}]}, "twice"),
            ({"entries": [{"mac": A_MAC}]}, "want"),
            ({"flood": "yes"}, "flood"),
            ({"entriez": []}, "unknown key")]:
        res = daemon.ctl("ext", "config", "sw0", "static-forward",
                         json.dumps(bad), check=False,
                         json_out=False)
        assert res.returncode != 0 and why in res.stderr, (bad, res.stderr)
    # The table in force is unchanged.
    assert ping(tenants["a"][0], "198.18.43.2", count=1)
