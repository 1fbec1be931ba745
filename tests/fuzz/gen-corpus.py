#!/usr/bin/python3
"""Writes the seed corpus of the fuzz targets, tests/fuzz/corpus/<target>/,
from the cases of ROBUSTNESS.md and the frames the system tests send
(tests/system/frames.py), the configuration documents of the tests, and
the requests of docs/jsonrpc.md.  The result is checked in; run it again
(with Debian's /usr/bin/python3, which has scapy) when those change:

    /usr/bin/python3 tests/fuzz/gen-corpus.py

Each file is named by the SHA-1 of its content, as libFuzzer names what it
finds, so regenerating changes nothing that did not change.  The soak test
(tests/soak) sends the "flow" corpus as its malformed traffic.
"""

import hashlib
import json
import os
import re
import struct
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "system"))

import frames as F  # noqa: E402
from scapy.layers.inet import IP, TCP, UDP  # noqa: E402
from scapy.layers.inet6 import IPv6, IPv6ExtHdrDestOpt  # noqa: E402
from scapy.layers.l2 import Dot1Q, Ether  # noqa: E402
from scapy.packet import Raw  # noqa: E402

CORPUS = os.path.join(TOP, "tests", "fuzz", "corpus")
REGRESSIONS = os.path.join(TOP, "tests", "fuzz", "regressions")
VM = "02:00:00:00:00:01"
OTHER = "02:00:00:00:00:02"
MARK = b"seed"


def write(target, data, where=CORPUS):
    d = os.path.join(where, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def flatten(items):
    for item in items:
        if isinstance(item, (list, tuple)):
            yield from item
        else:
            yield bytes(item)


def system_test_frames():
    """The frames of tests/system/frames.py, each guard's evasions and the
    legitimate frames beside them."""
    m = MARK
    return list(flatten([
        F.offer(VM, m), F.offer(VM, m, sport=1234),
        F.offer(VM, m, tags=((0x8100, 10),)),
        F.offer(VM, m, tags=((0x88a8, 100), (0x8100, 10))),
        F.fragmented_offer(VM, m), F.discover(VM, m), F.request(VM, m),
        F.advertise(VM, m), F.reply(VM, m), F.solicit(VM, m),
        F.advertise(VM, m, ext=F.HBH_DO), F.request6(VM, m),
        F.ra(VM, m), F.ra(VM, m, ext=F.HBH_DO), F.echo6(VM, m),
        F.ns6(VM, m), F.na6(VM, m), F.redirect6(VM, m),
        F.atomic(F.ra, VM, m), F.ra_in_second_fragment(VM, m),
        F.overlapping_request(VM, m), F.overlapping_solicit6(VM, m),
        F.unknown_nh(VM, m), F.redirect4(VM, m), F.router_ad4(VM, m),
        F.echo4(VM, m), F.udp_broadcast(VM, m), F.fence(VM, m),
        F.arp(VM, 1, "10.0.0.1", "10.0.0.2"),
        F.arp(VM, 2, "10.0.0.1", "10.0.0.2", dst_mac=OTHER, hwdst=OTHER),
    ]))


def robustness_frames():
    """ROBUSTNESS.md's "Frames" cases."""
    udp = bytes(Ether(src=VM, dst=OTHER) / IP(src="10.0.0.1", dst="10.0.0.2")
                / UDP(sport=1000, dport=2000) / Raw(b"x" * 18))
    out = [udp, udp + b"\xaa" * 300]                  # padding after IPv4/UDP
    b = bytearray(udp)
    b[14] = 0x4F                                      # IHL larger than packet
    out.append(bytes(b))
    for total in (20, 28, 1000, 65535):               # total length lies
        b = bytearray(udp)
        b[16:18] = struct.pack("!H", total)
        out.append(bytes(b))
    b = bytearray(udp)
    b[23] = 0                                         # IP protocol 0
    out.append(bytes(b))
    tcp = bytes(Ether(src=VM, dst=OTHER) / IP(src="10.0.0.1", dst="10.0.0.2")
                / TCP(sport=1000, dport=80, flags="S"))
    out.append(tcp)
    b = bytearray(tcp)
    b[46] = 0x30                                      # TCP data offset 3
    out.append(bytes(b))
    mpls = b"".join(struct.pack("!I", (i << 12) | (1 if i == 63 else 0) << 8
                                | 64) for i in range(64))
    out.append(bytes.fromhex("020000000002020000000001") + b"\x88\x47" +
               mpls + bytes(IP() / UDP()))            # 64 MPLS labels
    tags = b"".join(b"\x81\x00" + struct.pack("!H", 10) for _ in range(100))
    out.append(bytes.fromhex("020000000002020000000001") + tags +
               b"\x08\x00" + bytes(IP() / UDP()))     # 100 VLAN tags
    chain = IPv6(src="fe80::1", dst="ff02::1")
    for _ in range(64):
        chain = chain / IPv6ExtHdrDestOpt()
    out.append(bytes(Ether(src=VM, dst="33:33:00:00:00:01") / chain /
                     UDP(sport=1, dport=2)))          # 64 extension headers
    out.append(bytes(Ether(src=VM, dst=OTHER) / Dot1Q(vlan=10) /
                     Dot1Q(vlan=20) / IP() / UDP()))  # double tagged
    out += [b"", b"\x01" * 13, b"\xff" * 14, b"\x00" * 60]
    return out


def gso_packet(ipv6, udp, payload, mss, vlan=False):
    """A GSO packet as a TAP with offloads hands it over: control byte (fix
    lengths and checksum offsets, known gso_type), virtio-net header, 2
    bytes of output buffer size, the frame."""
    eth = Ether(src=VM, dst=OTHER)
    if vlan:
        eth = eth / Dot1Q(vlan=10)
    ip = IPv6(src="2001:db8::1", dst="2001:db8::2") if ipv6 else \
        IP(src="10.0.0.1", dst="10.0.0.2")
    l4 = UDP(sport=1, dport=2) if udp else TCP(sport=1, dport=2, flags="PA")
    frame = bytes(eth / ip / l4 / Raw(bytes(range(256)) * (payload // 256) +
                                      b"z" * (payload % 256)))
    gso_type = 5 if udp else (4 if ipv6 else 1)
    ctrl = 0x01 | 0x02
    vnet = struct.pack("<BBHHHH", 1, gso_type, 0, mss, 0, 0)
    return bytes([ctrl]) + vnet + struct.pack("<H", 0) + frame


def main():
    frames = system_test_frames() + robustness_frames()
    for f in frames:
        write("flow", f)
        for config in range(4):
            write("guard", bytes([config]) + f)
        write("acl", bytes([0]) + f)

    for ipv6 in (False, True):
        for udp in (False, True):
            for payload, mss in ((100, 1448), (4000, 1448), (9000, 1400),
                                 (3000, 48)):
                write("gso", gso_packet(ipv6, udp, payload, mss))
    write("gso", gso_packet(False, False, 5000, 1000, vlan=True))

    # The pipeline: one frame per batch from each port, then batches of
    # the guard evasions; learning first so that unicast finds its port.
    def record(port, frame):
        return bytes([port]) + struct.pack("<H", len(frame)) + frame
    learn = [bytes(Ether(src="02:00:00:00:00:%02x" % (p + 1), dst=F.BROADCAST)
                   / IP(src="10.0.0.%d" % (p + 1)) / UDP()) for p in range(6)]
    unicast = bytes(Ether(src=VM, dst=OTHER) /
                    IP(src="10.0.0.1", dst="10.0.0.2") /
                    TCP(sport=1000, dport=80, flags="S"))
    write("pipeline", bytes([0]) + b"".join(record(p, learn[p])
                                             for p in range(6)))
    write("pipeline", bytes([0]) + record(1, learn[1]) + record(0, unicast))
    # Toward vm1 (port 0, VLAN 10), whose ACLs judge what it receives:
    # TCP from vm2 (its own MAC and address) and from the trunk, tagged,
    # and a frame from the MAC vm1's basic ACL denies.
    from_vm2 = bytes(Ether(src="02:00:00:00:00:02", dst=VM) /
                     IP(src="10.0.0.2", dst="10.0.0.1") /
                     TCP(sport=80, dport=1000, flags="SA"))
    from_trunk = bytes(Ether(src="02:00:00:00:00:03", dst=VM) /
                       Dot1Q(vlan=10) / IP(src="10.0.0.3", dst="10.0.0.1") /
                       TCP(sport=22, dport=1000, flags="S"))
    denied_mac = bytes(Ether(src="02:00:00:00:00:66", dst=VM) /
                       Dot1Q(vlan=10) / IP(src="10.0.0.66", dst="10.0.0.1") /
                       UDP(sport=5, dport=6))
    for frame in (from_vm2, from_trunk, denied_mac):
        write("pipeline", bytes([0]) + record(0, learn[0]) +
              record(frame == from_vm2 and 1 or 2, frame))
    write("pipeline", bytes([0]) + record(0, learn[0]) + record(0, unicast) +
          record(1, from_vm2))
    for i in range(0, len(frames), 4):
        write("pipeline", bytes([3]) + b"".join(
            record(i % 6, f) for f in frames[i:i + 4]))

    # The loader: the tests' documents.
    with open(os.path.join(TOP, "tests", "system", "data",
                           "config-format1.json"), "rb") as f:
        write("config", f.read())
    doc = {"format": 2, "extensions": [], "switches": [{
        "name": "sw0", "settings": {"mac-ageing": 60}, "extensions": [],
        "ports": [{"name": "vm1", "settings": {
            "type": "tap", "vlan-mode": "access", "vlan": 10,
            "mac": "02:00:00:00:00:01", "dhcp-guard": True,
            "allowed-ips": "10.0.0.1,2001:db8::1"},
            "acls": [{"id": 1, "action": "deny", "direction": "in",
                      "remote-ip": "10.9.0.0/16"},
                     {"id": 4294967292, "action": "allow",
                      "direction": "out", "remote-ip": "10.8.0.0/16"}],
            "xacls": [{"action": "allow", "direction": "out",
                       "weight": 10, "protocol": "tcp",
                       "remote-port": "80", "stateful": True,
                       "idle-timeout": 60}]},
            {"name": "up1", "settings": {"type": "uplink", "ifname": "eth9",
                                         "vlan-mode": "trunk",
                                         "trunks": "10,20-30"}}]}]}
    write("config", json.dumps(doc, indent=1).encode())
    write("config", b'{"format": 2, "switches": []}')

    # The RPC path: every request of docs/jsonrpc.md, whole (even first
    # byte) and through a socket (odd), and the doc's requests in one
    # pipelined stream.
    with open(os.path.join(TOP, "docs", "jsonrpc.md")) as f:
        doc_text = f.read()
    requests = [line.strip() for line in doc_text.splitlines()
                if re.match(r'^\[?\{"jsonrpc"', line.strip()) and
                '"method"' in line]
    for block in re.findall(r"```json\n(.*?)```", doc_text, re.S):
        try:
            obj = json.loads(block)
        except ValueError:
            continue
        if isinstance(obj, dict) and "method" in obj:
            requests.append(json.dumps(obj))
    for r in requests:
        if "system.stop" in r or "ext.load" in r:
            continue
        write("rpc", b"\x00" + r.encode())
    write("rpc", b"\x01" + "\n".join(
        r for r in requests[:20] if "system.stop" not in r).encode())


def regressions():
    """The inputs of issue 11's findings, replayed by every run before it
    fuzzes (run.sh); crashes the fuzzers find join them by hand."""
    # A port with four ACL rules from id 4294967292 on: the restore wrapped
    # the id and wrote past a calloc(0).
    rules = [{"id": 4294967292 + i, "action": "deny", "direction": "in",
              "remote-ip": "10.%d.0.0/16" % i} for i in range(4)]
    doc = {"format": 2, "extensions": [], "switches": [{
        "name": "sw0", "settings": {}, "extensions": [],
        "ports": [{"name": "vm1", "settings": {"type": "tap"},
                   "acls": rules}]}]}
    write("config", json.dumps(doc).encode(), REGRESSIONS)
    # Overlapping fragments that rewrite what the guard judged (RFC 5722),
    # through the pipeline from the guarded port vm1 (port 0), one frame
    # per batch.
    def record(port, frame):
        return bytes([port]) + struct.pack("<H", len(frame)) + frame
    for evasion in (F.overlapping_request, F.overlapping_solicit6):
        write("pipeline", bytes([0]) + b"".join(
            record(0, f) for f in evasion(VM, MARK)), REGRESSIONS)
        for f in evasion(VM, MARK):
            write("guard", bytes([1]) + f, REGRESSIONS)


if __name__ == "__main__":
    main()
    regressions()
