"""Hostile frames from a VM (ROBUSTNESS.md, "Frames"): random frames,
Ethernet padding, double tagging, malformed L3, bad source MACs and a MAC
table flood.  Every frame is injected with a raw AF_PACKET socket opened
inside the sending VM's namespace, and accounted for in the daemon's
counters: what a port receives is delivered or counted under a drop
reason, never lost.

The kernel decides what a VM can send at all: frames shorter than the
Ethernet header (0..13 bytes) are refused with EINVAL, and frames longer
than MTU + 14 with EMSGSIZE, except that 4 more bytes are allowed when the
ethertype is 0x8100.  So "runt" and "oversize" cannot be provoked from a
VM; the tests count what the kernel accepted and check the switch's
accounting of exactly those frames.
"""

import collections
import errno
import json
import os
import random
import select
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import Daemon, RpcError, add_vm, ping, sh, wait_for
from frames import (ETH_P_ALL, PACKET_AUXDATA, SO_RCVBUFFORCE, SOL_PACKET,
                    TP_STATUS_VLAN_TPID_VALID, TP_STATUS_VLAN_VALID,
                    in_netns)

TPIDS = (0x8100, 0x88A8, 0x9100)
BROADCAST = b"\xff" * 6
ZERO_MAC = b"\0" * 6

def mac_bytes(text):
    return bytes.fromhex(text.replace(":", ""))


def mac_text(raw):
    return ":".join(f"{b:02x}" for b in raw)


class RawPort:
    """A raw AF_PACKET socket on a VM's interface, opened in its netns."""

    def __init__(self, ns, ifname, receive=False):
        proto = socket.htons(ETH_P_ALL) if receive else 0
        with in_netns(ns):
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                                      proto)
            self.sock.bind((ifname, 0))
        if receive:
            self.sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE,
                                 32 << 20)

    def close(self):
        self.sock.close()

    def send(self, frame):
        """True if the kernel took 'frame', False if it refused it as
        too short or too long."""
        try:
            self.sock.send(frame)
            return True
        except OSError as e:
            if e.errno in (errno.EINVAL, errno.EMSGSIZE):
                return False
            raise

    def _recv_one(self):
        """The next incoming frame with the VLAN tag the kernel moved into
        the metadata put back, as (frame, had_offloaded_tag); None if none
        is queued."""
        while True:
            try:
                frame, anc, _flags, addr = self.sock.recvmsg(
                    65536, 256, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return None
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            for level, kind, data in anc:
                if level == SOL_PACKET and kind == PACKET_AUXDATA:
                    status, _, _, _, _, tci, tpid = struct.unpack(
                        "IIIHHHH", data[:20])
                    if status & TP_STATUS_VLAN_VALID:
                        if not status & TP_STATUS_VLAN_TPID_VALID:
                            tpid = 0x8100
                        tag = struct.pack("!HH", tpid, tci)
                        return frame[:12] + tag + frame[12:], True
            return frame, False

    def receive(self, count, timeout=10):
        """Up to 'count' incoming frames, waiting at most 'timeout'."""
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < count and time.monotonic() < deadline:
            item = self._recv_one()
            if item is None:
                select.select([self.sock], [], [], 0.05)
            else:
                got.append(item)
        return got

    def drain(self):
        while self._recv_one() is not None:
            pass


def send_paced(daemon, port, raw, frames, chunk=128, on_accept=None):
    """Sends 'frames' through 'raw', a raw socket on 'port''s VM, waiting
    after every 'chunk' accepted frames until the switch has received them
    all, so the TAP's queue never overflows and the kernel drops nothing
    between the socket and the switch.  Returns (accepted, refused)."""
    base = daemon.stats(port)["rx-packets"]
    accepted = refused = pending = 0

    def caught_up():
        return daemon.stats(port)["rx-packets"] - base >= accepted

    for frame in frames:
        if raw.send(frame):
            accepted += 1
            pending += 1
            if on_accept:
                on_accept(frame)
        else:
            refused += 1
        if pending >= chunk:
            wait_for(caught_up, timeout=30, interval=0.001)
            pending = 0
    wait_for(caught_up, timeout=30, interval=0.001)
    return accepted, refused


def csum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4(src, dst, proto, payload, ihl=5, total=None, options=b"",
         version=4):
    """An IPv4 packet; 'total' overrides the total length field."""
    if total is None:
        total = ihl * 4 + len(payload)
    hdr = bytearray(struct.pack(
        "!BBHHHBBH4s4s", version << 4 | (ihl & 0xF), 0, total & 0xFFFF,
        0x1234, 0, 64, proto, 0, socket.inet_aton(src),
        socket.inet_aton(dst)))
    hdr += options
    hdr[10:12] = struct.pack("!H", csum(bytes(hdr[:20])))
    return bytes(hdr) + payload


def udp(sport, dport, data):
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def eth(dst, src, etype, payload):
    return dst + src + struct.pack("!H", etype) + payload


def link_stats(ns, ifname):
    out = sh(["ip", "-j", "-s", "-n", ns, "link", "show", ifname]).stdout
    return json.loads(out)[0]["stats64"]


def set_if_mac(ns, ifname, mac):
    """Gives a VM's interface 'mac' without assigning it to the port."""
    sh(["ip", "-n", ns, "link", "set", ifname, "down"])
    sh(["ip", "-n", ns, "link", "set", ifname, "address", mac])
    sh(["ip", "-n", ns, "link", "set", ifname, "up"])


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def stats_all(daemon):
    return {p["name"]: p for p in daemon.rpc("port.stats")["ports"]}


def delta(after, before, key):
    return after[key] - before[key]


def drops_delta(after, before):
    return {r: after["drops"][r] - before["drops"][r]
            for r in after["drops"]}


def classify(frame, trunk=None, assigned_mac=None):
    """What the switch makes of 'frame' arriving on a port that is
    untagged ('trunk' None) or a trunk ('trunk' = (allowed VLANs, native
    VLAN)), with an assigned MAC or none and every guard at its default:
    a drop reason, or the VLAN (an int) the frame is forwarded in.
    Mirrors vsw_flow_extract(), vsw_vlan_classify(), the MAC spoofing
    guard and the learning stage."""
    if len(frame) < 14:
        return "runt"
    etype = struct.unpack_from("!H", frame, 12)[0]
    ofs, tags, too_many = 14, [], False
    while etype in TPIDS:
        if len(tags) == 2:
            too_many = True
            break
        if len(frame) - ofs < 4:
            break
        tci, next_type = struct.unpack_from("!HH", frame, ofs)
        tags.append((etype, tci))
        etype = next_type
        ofs += 4
    n_tags = len(tags) + too_many
    if not tags and etype in TPIDS:
        return "runt"
    if trunk is None:
        if tags and (tags[0][1] & 0xFFF or n_tags > 1):
            return "vlan-tagged"
        vlan = 0
    else:
        allowed, native = trunk
        vid = tags[0][1] & 0xFFF if tags else 0
        if not tags or tags[0][0] != 0x8100:
            vlan = native
        elif vid == 0:
            if n_tags > 1:
                return "vlan-tagged"
            vlan = native
        elif vid > 4094 or (vid != native and vid not in allowed):
            return "vlan-not-allowed"
        else:
            vlan = vid
    src = frame[6:12]
    if assigned_mac and src != assigned_mac:
        return "mac-spoofing"
    if src[0] & 1 or src == ZERO_MAC:
        return "invalid-src-mac"
    return vlan


RANDOM_SETUPS = {
    # sender's port settings, its trunk for classify(), whether the port
    # has the sender's MAC assigned (so the MAC spoofing guard runs), then
    # each receiver's VLAN (None: untagged)
    "untagged": ({}, None, False, {"vm2": None, "vm3": None}),
    "untagged-assigned-mac": ({}, None, True, {"vm2": None, "vm3": None}),
    "trunk": ({"vlan-mode": "trunk", "trunks": "10,20", "native-vlan": 0},
              ({10, 20}, 0), False, {"vm2": None, "vm3": 10, "vm4": 20}),
}


@pytest.mark.parametrize("mode", sorted(RANDOM_SETUPS))
def test_random_frames_are_all_accounted_for(daemon, topo, mode):
    """50 000 frames (VSW_RANDOM_FRAMES) of random length (14..9018) and
    content from one VM, on an untagged port with and without its MAC
    assigned, and on a trunk port: every frame the kernel let the VM
    send is received by the switch, and each one is either flooded to the
    ports of its VLAN or counted under the drop reason the parser and the
    VLAN rules give it.  The daemon survives and the other VMs still
    talk."""
    n_frames = int(os.environ.get("VSW_RANDOM_FRAMES", 50_000))
    port_settings, trunk, assigned, receivers = RANDOM_SETUPS[mode]
    src = mac_bytes("02:00:00:00:01:01")
    macs = {p: f"02:00:00:00:01:0{i}" for i, p in enumerate(receivers, 2)}
    daemon.rpc("switch.add", name="sw0")
    vm1, if1 = add_vm(daemon, topo, "sw0", "vm1",
                      mac=mac_text(src) if assigned else None)
    if port_settings:
        daemon.rpc_raw("port.set", {"name": "vm1", **port_settings})
    vms = {}
    for i, (port, vlan) in enumerate(receivers.items(), 2):
        vms[port] = add_vm(daemon, topo, "sw0", port, f"192.0.2.{i}",
                           vlan=vlan, mac=macs[port])
    sh(["ip", "-n", vm1, "link", "set", if1, "mtu", "9000"])
    raw = RawPort(vm1, if1)
    seed = int(os.environ.get("VSW_TEST_SEED", random.randrange(1 << 32)))
    rng = random.Random(seed)
    print(f"\nrandom frames ({mode}): VSW_TEST_SEED={seed} "
          f"VSW_RANDOM_FRAMES={n_frames}")
    # Destinations never equal a MAC the switch could know (those would be
    # unicast or hairpin, not flooded).
    avoid = {src} | {mac_bytes(m) for m in macs.values()}

    def random_mac(multicast):
        while True:
            m = bytearray(rng.randbytes(6))
            m[0] = m[0] | 1 if multicast else m[0] & 0xFE
            if bytes(m) not in avoid and any(m):
                return bytes(m)

    def frames():
        for _ in range(n_frames):
            r = rng.random()
            length = rng.randint(14, 64) if r < 0.1 else rng.randint(14, 9018)
            r = rng.random()
            if r < 0.05:
                s = random_mac(True)
            elif r < 0.075:
                s = ZERO_MAC
            elif r < 0.1:
                s = BROADCAST
            else:
                s = src
            r = rng.random()
            d = (random_mac(False) if r < 0.5 else
                 BROADCAST if r < 0.8 else random_mac(True))
            r = rng.random()
            if r < 0.4:
                et = rng.randrange(0x10000)
            else:
                et = rng.choice([0x0800, 0x86DD, 0x0806, 0x8847, 0x8100,
                                 0x8100, 0x88A8, 0x9100])
            body = bytearray(rng.randbytes(max(0, length - 14)))
            if et in TPIDS and len(body) >= 2 and rng.random() < 0.5:
                # VLAN ids that mean something: priority tags, the
                # trunk's VLANs, one it does not carry, and 4095.
                vid = rng.choice([0, 0, 10, 20, 30, 4095])
                body[0:2] = struct.pack("!H", rng.randrange(8) << 13 | vid)
                if len(body) >= 4 and rng.random() < 0.5:
                    body[2:4] = struct.pack("!H", rng.choice(
                        [0x0800, 0x8100, 0x88A8, 0x9100]))
            if et == 0x0800 and body and rng.random() < 0.5:
                body[0] = 0x45
            yield (d + s + struct.pack("!H", et) + bytes(body))[:length]
        # The edges of what the kernel takes from a VM.
        for n in range(0, 14):
            yield (BROADCAST + src + b"\x08\x00")[:n]
        for n in range(9014, 9020):
            for et in (0x0800, 0x8100):
                yield (random_mac(False) + src + struct.pack("!H", et)
                       + bytes(n - 14))

    expected = collections.Counter()

    def on_accept(frame):
        expected[classify(frame, trunk, src if assigned else None)] += 1

    before = stats_all(daemon)
    if1_before = link_stats(vm1, if1)["tx"]
    try:
        accepted, refused = send_paced(daemon, "vm1", raw, frames(),
                                       on_accept=on_accept)
    finally:
        # An open packet socket would keep the namespace alive.
        raw.close()
    after = stats_all(daemon)
    if1_after = link_stats(vm1, if1)["tx"]

    drops = drops_delta(after["vm1"], before["vm1"])
    print(f"accepted {accepted}, refused by the kernel {refused}; "
          f"expected {dict(expected)}; drops {drops}")
    # The kernel refused at least the 14 frames shorter than a header (and
    # those over MTU + 14, + 4 with a 0x8100 ethertype); nothing it took
    # was lost between the socket and the switch.
    assert refused >= 14
    assert if1_after["dropped"] == if1_before["dropped"]
    assert delta(if1_after, if1_before, "packets") == accepted

    assert delta(after["vm1"], before["vm1"], "rx-packets") == accepted
    by_vlan = {k: v for k, v in expected.items() if isinstance(k, int)}
    forwarded = sum(by_vlan.values())
    assert forwarded > 0
    for reason in drops:
        assert drops[reason] == expected.get(reason, 0), (reason, drops)
    assert sum(drops.values()) == accepted - forwarded
    bad_src = "mac-spoofing" if assigned else "invalid-src-mac"
    assert drops[bad_src] > 0 and drops["vlan-tagged"] > 0
    # Each forwarded frame went to every port of its VLAN (or is counted
    # there as a transmit drop), and to no other.
    for port, vlan in receivers.items():
        want = by_vlan.get(vlan or 0, 0)
        d = drops_delta(after[port], before[port])
        out = (delta(after[port], before[port], "tx-packets")
               + d["tx-error"] + d["port-down"])
        assert out == want, (port, out, want, d)
        assert want > 0

    assert daemon.running()
    # Two other VMs of one VLAN still talk.
    a, b = (vms[p][0] for p in list(receivers)[:2])
    daemon.rpc("port.set", name=list(receivers)[1], vlan_mode="untagged")
    assert ping(a, "192.0.2.3")
    # Only the sender's MAC was learned from all that.
    fdb = daemon.rpc("fdb.show", switch="sw0")["entries"]
    assert {e["mac"] for e in fdb if e["port"] == "vm1"} == {mac_text(src)}


def test_ethernet_padding_is_forwarded_intact(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    m1, m2 = "02:00:00:00:02:01", "02:00:00:00:02:02"
    vm1, if1 = add_vm(daemon, topo, "sw0", "vm1", mac=m1)
    vm2, if2 = add_vm(daemon, topo, "sw0", "vm2", mac=m2)
    tx = RawPort(vm1, if1)
    rx = RawPort(vm2, if2, receive=True)
    try:
        rx.drain()
        packet = ipv4("198.51.100.1", "198.51.100.2", 17,
                      udp(1234, 5678, b"padding-test-payload"))
        padding = bytes((i * 7 + 3) & 0xFF for i in range(300))
        frame = eth(mac_bytes(m2), mac_bytes(m1), 0x0800, packet + padding)
        before = daemon.stats("vm2")
        assert tx.send(frame)
        wait_for(lambda: daemon.stats("vm2")["tx-packets"]
                 > before["tx-packets"])
        after = daemon.stats("vm2")
        assert delta(after, before, "tx-packets") == 1
        assert delta(after, before, "tx-bytes") == len(frame)
        got = rx.receive(1)
        assert got == [(frame, False)]
    finally:
        tx.close()
        rx.close()


def test_double_tagging_on_access_port(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    m = {n: f"02:00:00:00:03:0{n}" for n in (1, 2, 3)}
    vm1, if1 = add_vm(daemon, topo, "sw0", "vm1", vlan=10, mac=m[1])
    vm2, if2 = add_vm(daemon, topo, "sw0", "vm2", vlan=10, mac=m[2])
    add_vm(daemon, topo, "sw0", "vm3", vlan=20, mac=m[3])
    tx = RawPort(vm1, if1)
    rx = RawPort(vm2, if2, receive=True)
    src = mac_bytes(m[1])
    payload = ipv4("192.0.2.1", "192.0.2.255", 17,
                   udp(1000, 2000, b"double-tagging"))

    def tag(tpid, tci):
        return struct.pack("!HH", tpid, tci)

    hostile = {
        "802.1Q VID 20": tag(0x8100, 20),
        "802.1Q PCP 7 VID 20": tag(0x8100, 7 << 13 | 20),
        "QinQ 88a8 VID 10 + 8100 VID 20": tag(0x88A8, 10) + tag(0x8100, 20),
        "QinQ 88a8 VID 20 + 8100 VID 20": tag(0x88A8, 20) + tag(0x8100, 20),
        "9100 VID 20": tag(0x9100, 20),
        "priority tag + 8100 VID 20": tag(0x8100, 0) + tag(0x8100, 20),
        "priority tag + 88a8 VID 20": tag(0x8100, 5 << 13) + tag(0x88A8, 20),
        "802.1Q VID 10 (own VLAN)": tag(0x8100, 10),
    }
    try:
        rx.drain()
        ports = ("vm1", "vm2", "vm3")
        before = {p: daemon.stats(p) for p in ports}
        sent = 0
        for dst in (BROADCAST, mac_bytes(m[2]), mac_bytes(m[3])):
            for tags in hostile.values():
                frame = dst + src + tags + b"\x08\x00" + payload
                for _ in range(5):
                    assert tx.send(frame)
                    sent += 1
        wait_for(lambda: daemon.stats("vm1")["rx-packets"]
                 - before["vm1"]["rx-packets"] >= sent)
        after = {p: daemon.stats(p) for p in ports}
        assert delta(after["vm1"], before["vm1"], "rx-packets") == sent
        drops = drops_delta(after["vm1"], before["vm1"])
        assert drops["vlan-tagged"] == sent
        assert sum(drops.values()) == sent
        for p in ("vm2", "vm3"):
            assert delta(after[p], before[p], "tx-packets") == 0, p

        # A lone priority tag (VID 0) is accepted and leaves untagged.
        untagged = BROADCAST + src + b"\x08\x00" + payload
        frame = BROADCAST + src + tag(0x8100, 5 << 13) + b"\x08\x00" + payload
        assert tx.send(frame)
        wait_for(lambda: daemon.stats("vm2")["tx-packets"]
                 > after["vm2"]["tx-packets"])
        final = {p: daemon.stats(p) for p in ports}
        assert delta(final["vm2"], after["vm2"], "tx-packets") == 1
        assert delta(final["vm2"], after["vm2"], "tx-bytes") == len(untagged)
        assert delta(final["vm3"], after["vm3"], "tx-packets") == 0
        assert final["vm1"]["drops-total"] == after["vm1"]["drops-total"]
        assert rx.receive(1) == [(untagged, False)]
    finally:
        tx.close()
        rx.close()


def ipv6(src, dst, next_header, payload, plen=None):
    if plen is None:
        plen = len(payload)
    return (struct.pack("!IHBB", 6 << 28, plen & 0xFFFF, next_header, 64)
            + socket.inet_pton(socket.AF_INET6, src)
            + socket.inet_pton(socket.AF_INET6, dst) + payload)


def ext_chain(kinds, last):
    """IPv6 extension headers of the given types (0, 43, 60: 8 bytes;
    44: fragment header, first fragment with M set), the last one
    pointing at 'last'."""
    out = b""
    for i, kind in enumerate(kinds):
        nh = kinds[i + 1] if i + 1 < len(kinds) else last
        if kind == 44:
            out += struct.pack("!BBHI", nh, 0, 1, 0xABCD)
        elif kind == 43:
            out += struct.pack("!BBBB", nh, 0, 0, 0) + b"\0" * 4
        else:  # Hop-by-Hop or Destination Options with one PadN option
            out += struct.pack("!BBBB", nh, 0, 1, 4) + b"\0" * 4
    return out


def malformed_frames(dst, src):
    """(name, frame, dropped_as) for the malformed-L3 cases."""
    a, b = "198.51.100.1", "198.51.100.2"
    u = udp(7, 9, b"x" * 32)
    tcp = struct.pack("!HHIIBBHHH", 1, 2, 0, 0, 0, 0x02, 1024, 0, 0)
    full_tcp_doff = lambda doff: (tcp[:12] + bytes([doff << 4])  # noqa: E731
                                  + tcp[13:] + b"d" * 20)
    mpls = b"".join(struct.pack("!I", (100 + i) << 12 | (i == 63) << 8 | 64)
                    for i in range(64))
    mpls_no_bos = b"".join(struct.pack("!I", (100 + i) << 12 | 64)
                           for i in range(64))
    v6a, v6b = "2001:db8::1", "2001:db8::2"
    chain64 = ext_chain([0] + [60] * 63, 17)
    mixed64 = ext_chain([0] + [43, 60, 44] * 21, 17)
    frag64 = ext_chain([44] * 64, 17)
    cases = [
        ("IPv4 IHL 15 > packet", ipv4(a, b, 17, b"", ihl=15)[:30], None),
        ("IPv4 IHL 15, options garbage",
         ipv4(a, b, 17, u, ihl=15, options=b"\xff" * 40), None),
        ("IPv4 IHL 3", ipv4(a, b, 17, u, ihl=3), None),
        ("IPv4 total length > frame", ipv4(a, b, 17, u, total=1400), None),
        ("IPv4 total length 65535", ipv4(a, b, 17, u, total=65535), None),
        ("IPv4 total length < header", ipv4(a, b, 17, u, total=10), None),
        ("IPv4 total length 0", ipv4(a, b, 17, u, total=0), None),
        ("IPv4 total length < frame", ipv4(a, b, 17, u, total=24), None),
        ("IPv4 protocol 0", ipv4(a, b, 0, u), None),
        ("IPv4 version 6 in 0x0800", ipv4(a, b, 17, u, version=6), None),
        ("IPv4 header cut at 10 bytes", ipv4(a, b, 17, u)[:10], None),
        ("IPv4 later fragment", ipv4(a, b, 17, u)[:6] + b"\x00\x10"
         + ipv4(a, b, 17, u)[8:], None),
        ("TCP data offset 0", ipv4(a, b, 6, full_tcp_doff(0)), None),
        ("TCP data offset 4", ipv4(a, b, 6, full_tcp_doff(4)), None),
        ("TCP data offset 15 past end", ipv4(a, b, 6, full_tcp_doff(15)),
         None),
        ("TCP header cut", ipv4(a, b, 6, tcp[:10]), None),
        ("UDP header cut", ipv4(a, b, 17, u[:5]), None),
        ("ARP cut", b"\x00\x01\x08\x00\x06\x04\x00\x01", None),
    ]
    frames = [(name, eth(dst, src, 0x0800 if "ARP" not in name else 0x0806,
                         pkt), why) for name, pkt, why in cases]
    ip_in = ipv4(a, b, 17, u)
    frames += [
        ("64 MPLS labels + IPv4", eth(dst, src, 0x8847, mpls + ip_in), None),
        ("64 MPLS labels, no bottom", eth(dst, src, 0x8847, mpls_no_bos),
         None),
        ("MPLS multicast, 64 labels", eth(dst, src, 0x8848, mpls + ip_in),
         None),
        ("IPv6 HBH + 63 DestOpts + UDP",
         eth(dst, src, 0x86DD, ipv6(v6a, v6b, 0, chain64 + u)), None),
        ("IPv6 64 mixed ext headers",
         eth(dst, src, 0x86DD, ipv6(v6a, v6b, 0, mixed64 + u)), None),
        ("IPv6 64 fragment headers",
         eth(dst, src, 0x86DD, ipv6(v6a, v6b, 44, frag64 + u)), None),
        ("IPv6 chain, payload length > frame",
         eth(dst, src, 0x86DD, ipv6(v6a, v6b, 0, chain64 + u, plen=65535)),
         None),
        ("IPv6 chain cut mid-header",
         eth(dst, src, 0x86DD, ipv6(v6a, v6b, 0, chain64[:-4])), None),
        ("IPv6 payload length 0 with chain",
         eth(dst, src, 0x86DD, ipv6(v6a, v6b, 0, chain64 + u, plen=0)), None),
        ("IPv6 header cut", eth(dst, src, 0x86DD, ipv6(v6a, v6b, 17,
                                                       u)[:30]), None),
    ]
    tags = b"".join(struct.pack("!HH", 0x8100, 100 + i) for i in range(100))
    prio = struct.pack("!HH", 0x8100, 0) + tags
    stag = b"".join(struct.pack("!HH", 0x88A8, 100 + i) for i in range(100))
    for name, stack in (("100 VLAN tags", tags),
                        ("priority tag + 100 VLAN tags", prio),
                        ("100 S-tags", stag)):
        frames.append((name, dst + src + stack + b"\x08\x00" + ip_in,
                       "vlan-tagged"))
    # A tag type with no room for the tag, and a priority tag followed by
    # one: "runt" per vlan.c.
    frames.append(("8100 with 2 bytes left", dst + src + b"\x81\x00\x00\x00",
                   "runt"))
    return frames


def test_malformed_l3_forwarded_as_l2_or_counted(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    m = {n: f"02:00:00:00:04:0{n}" for n in (1, 2)}
    vm1, if1 = add_vm(daemon, topo, "sw0", "vm1", "192.0.2.1", mac=m[1])
    vm2, if2 = add_vm(daemon, topo, "sw0", "vm2", "192.0.2.2", mac=m[2])
    tx = RawPort(vm1, if1)
    rx = RawPort(vm2, if2, receive=True)
    try:
        for dst in (BROADCAST, mac_bytes(m[2])):
            cases = malformed_frames(dst, mac_bytes(m[1]))
            rx.drain()
            before = {p: daemon.stats(p) for p in ("vm1", "vm2")}
            for name, frame, _ in cases:
                assert tx.send(frame), name
            wait_for(lambda: daemon.stats("vm1")["rx-packets"]
                     - before["vm1"]["rx-packets"] >= len(cases))
            forwarded = [f for _, f, why in cases if why is None]
            wait_for(lambda: daemon.stats("vm2")["tx-packets"]
                     - before["vm2"]["tx-packets"] >= len(forwarded))
            after = {p: daemon.stats(p) for p in ("vm1", "vm2")}
            assert delta(after["vm1"], before["vm1"],
                         "rx-packets") == len(cases)
            drops = drops_delta(after["vm1"], before["vm1"])
            want = collections.Counter(why for _, _, why in cases if why)
            assert {r: n for r, n in drops.items() if n} == dict(want)
            assert delta(after["vm2"], before["vm2"],
                         "tx-packets") == len(forwarded)
            assert delta(after["vm2"], before["vm2"], "tx-bytes") == sum(
                len(f) for f in forwarded)
            got = rx.receive(len(forwarded))
            names = {f: n for n, f, _ in cases}
            # Delivered byte for byte (the order among these unrelated
            # flows is not promised).
            received = [f for f, _ in got]
            assert sorted(received) == sorted(forwarded), [
                names.get(f, f[:40].hex()) for f in received]
            print("delivery order:", [names[f] for f in received])
        assert daemon.running()
        assert ping(vm1, "192.0.2.2")
    finally:
        tx.close()
        rx.close()


def test_invalid_source_macs_dropped_and_not_learned(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    m = {n: f"02:00:00:00:05:0{n}" for n in (1, 2)}
    # No MAC assigned to the port, or the MAC spoofing guard would take
    # these frames before the learning stage sees them.
    vm1, if1 = add_vm(daemon, topo, "sw0", "vm1", "192.0.2.1")
    set_if_mac(vm1, if1, m[1])
    vm2, _ = add_vm(daemon, topo, "sw0", "vm2", "192.0.2.2", mac=m[2])
    bad = ["00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01",
           "33:33:00:00:00:01", "01:80:c2:00:00:00", "03:00:00:00:00:01",
           "ff:00:00:00:00:00"]
    payload = ipv4("192.0.2.1", "192.0.2.2", 17, udp(1, 2, b"bad-src"))
    tx = RawPort(vm1, if1)
    try:
        before = {p: daemon.stats(p) for p in ("vm1", "vm2")}
        sent = 0
        for src in bad:
            for dst in (BROADCAST, mac_bytes(m[2]), mac_bytes(src)):
                assert tx.send(eth(dst, mac_bytes(src), 0x0800, payload))
                sent += 1
        wait_for(lambda: daemon.stats("vm1")["rx-packets"]
                 - before["vm1"]["rx-packets"] >= sent)
        after = {p: daemon.stats(p) for p in ("vm1", "vm2")}
        assert delta(after["vm1"], before["vm1"], "rx-packets") == sent
        drops = drops_delta(after["vm1"], before["vm1"])
        assert drops["invalid-src-mac"] == sent
        assert sum(drops.values()) == sent
        assert delta(after["vm2"], before["vm2"], "tx-packets") == 0
    finally:
        tx.close()
    fdb = daemon.rpc("fdb.show", switch="sw0")
    learned = {e["mac"] for e in fdb["entries"]}
    assert not learned & set(bad), learned
    assert fdb["count"] == len(fdb["entries"])
    # The port's own, valid MAC is still learned normally.
    assert ping(vm1, "192.0.2.2")
    learned = {e["mac"]: e["port"] for e in
               daemon.rpc("fdb.show", switch="sw0")["entries"]}
    assert learned == {m[1]: "vm1", m[2]: "vm2"}


def test_mac_table_flood(daemon, topo):
    """100 000 random source MACs from one port: the table stays within
    its cap, the other ports' MACs stay learned so their traffic is not
    flooded, the per-port cap holds, and memory stays flat."""
    n_flood = 100_000
    daemon.rpc("switch.add", name="sw0", mac_table_size=4096)
    m = {n: f"02:00:00:00:06:0{n}" for n in (1, 2, 3)}
    vm1, if1 = add_vm(daemon, topo, "sw0", "vm1", "192.0.2.1", mac=m[1])
    vm2, if2 = add_vm(daemon, topo, "sw0", "vm2", "192.0.2.2", mac=m[2])
    # No MAC assigned: this port may send from any source MAC.
    vm3, if3 = add_vm(daemon, topo, "sw0", "vm3")
    set_if_mac(vm3, if3, m[3])
    sh(["ip", "neigh", "add", "192.0.2.2", "lladdr", m[2], "dev", if1,
        "nud", "permanent"], ns=vm1)
    sh(["ip", "neigh", "add", "192.0.2.1", "lladdr", m[1], "dev", if2,
        "nud", "permanent"], ns=vm2)
    assert ping(vm1, "192.0.2.2", count=2)
    entries = {(e["mac"], e["port"]) for e in
               daemon.rpc("fdb.show", switch="sw0")["entries"]}
    assert entries >= {(m[1], "vm1"), (m[2], "vm2")}

    rng = random.Random(0xF100D)
    keep = {mac_bytes(m[n]) for n in (1, 2, 3)}

    def flood(n):
        seen = set()
        dst = mac_bytes(m[1])
        payload = b"\x88\xb5" + bytes(46)
        while len(seen) < n:
            s = bytearray(rng.randbytes(6))
            s[0] = (s[0] & 0xFC) | 0x02
            s = bytes(s)
            if s in keep or s in seen:
                continue
            seen.add(s)
            yield dst + s + payload

    tx = RawPort(vm3, if3)
    try:
        rss_before = rss_kib(daemon.proc.pid)
        before = {p: daemon.stats(p) for p in ("vm1", "vm2", "vm3")}
        accepted, refused = send_paced(daemon, "vm3", tx, flood(n_flood),
                                       chunk=256)
        after = {p: daemon.stats(p) for p in ("vm1", "vm2", "vm3")}
        rss_after = rss_kib(daemon.proc.pid)
        assert (accepted, refused) == (n_flood, 0)
        assert delta(after["vm3"], before["vm3"], "rx-packets") == n_flood
        assert after["vm3"]["drops-total"] == before["vm3"]["drops-total"]
        # vm1's MAC stayed known all along: every frame went to vm1 alone.
        assert delta(after["vm1"], before["vm1"], "tx-packets") == n_flood
        assert delta(after["vm2"], before["vm2"], "tx-packets") == 0

        fdb = daemon.rpc("fdb.show", switch="sw0")
        print(f"\nMAC flood: fdb count {fdb['count']} (max {fdb['max']}), "
              f"vm3 entries "
              f"{sum(e['port'] == 'vm3' for e in fdb['entries'])}; "
              f"VmRSS {rss_before} KiB before, {rss_after} KiB after")
        assert fdb["max"] == 4096
        assert 4000 <= fdb["count"] <= 4096
        entries = {(e["mac"], e["port"]) for e in fdb["entries"]}
        assert {(m[1], "vm1"), (m[2], "vm2")} <= entries
        assert rss_after < 2 * rss_before + 64 * 1024

        # Both VMs' MACs are known: their unicast never reaches vm3.
        vm3_tx = daemon.stats("vm3")["tx-packets"]
        sh(["ping", "-c", "20", "-i", "0.02", "-W", "1", "192.0.2.2"],
           ns=vm1)
        assert daemon.stats("vm3")["tx-packets"] == vm3_tx
        assert daemon.stats("vm2")["tx-packets"] - after["vm2"][
            "tx-packets"] >= 20

        # The per-port cap: vm3 keeps at most 100 entries from now on.
        daemon.rpc("port.set", name="vm3", mac_limit=100)
        accepted, _ = send_paced(daemon, "vm3", tx, flood(500))
        assert accepted == 500
        fdb = daemon.rpc("fdb.show", switch="sw0")
        mine = [e for e in fdb["entries"] if e["port"] == "vm3"]
        print(f"after mac-limit=100: vm3 entries {len(mine)}, fdb count "
              f"{fdb['count']}")
        assert len(mine) == 100
        entries = {(e["mac"], e["port"]) for e in fdb["entries"]}
        assert {(m[1], "vm1"), (m[2], "vm2")} <= entries
        assert fdb["count"] == len(fdb["entries"])
    finally:
        tx.close()
    assert ping(vm2, "192.0.2.1")


class DaemonDied(AssertionError):
    """The daemon crashed, hung or reported a sanitizer error."""


# Regression test: the old MAC table used to be handed to the grace
# period before the snapshot that stopped pointing at it was published, so
# a worker could learn into a freed table.  glibc's perturbation (below)
# makes such a use after free crash a release build too.
def test_mac_table_reconfigured_during_flood(tmp_path, topo, monkeypatch):
    """The MAC table is resized, flushed and dumped, and the port's cap and
    the ageing changed, while a VM floods random source MACs: the daemon
    must survive (the sanitizer build checks the swaps of the table under
    the workers), the table ends within its cap and learning still works.

    The daemon is managed here rather than by the daemon fixture so that a
    crash fails this test's call rather than the fixture's teardown."""
    # glibc overwrites freed memory and gives large blocks back to the
    # kernel at once, so that a use after free shows in a release build
    # too instead of reading stale data (the sanitizer build ignores it).
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.perturb=85:"
                       "glibc.malloc.mmap_threshold=131072")
    daemon = Daemon(tmp_path / "state").start()
    monkeypatch.delenv("GLIBC_TUNABLES")
    failure = None
    try:
        survived = _reconfigure_during_flood(daemon, topo)
    except Exception as e:
        survived, failure = False, e
    finally:
        try:
            rc = daemon.stop()
        except AssertionError as e:  # ignored SIGTERM: killed
            rc = str(e)
        finally:
            daemon.unpin_all()
    report = daemon.sanitizer_report()
    if report or rc != 0:
        # Whatever else failed, it failed because the daemon did.
        raise DaemonDied(f"vswitchd exited {rc}; log:\n"
                         + (report or daemon.log.read_text())[-6000:]
                         ) from failure
    if failure:
        raise failure
    assert survived


def _reconfigure_during_flood(daemon, topo):
    # Idle switches make every snapshot the daemon publishes take longer
    # to build, which widens the race window this test is about.
    n_idle = int(os.environ.get("VSW_IDLE_SWITCHES", 300))
    for i in range(n_idle):
        daemon.rpc("switch.add", name=f"idle{i}", mac_table_size=1)
    daemon.rpc("switch.add", name="sw0", mac_table_size=2048)
    m = {n: f"02:00:00:00:07:0{n}" for n in (1, 2, 3)}
    vm1, _ = add_vm(daemon, topo, "sw0", "vm1", "192.0.2.1", mac=m[1])
    add_vm(daemon, topo, "sw0", "vm2", "192.0.2.2", mac=m[2])
    vm3, if3 = add_vm(daemon, topo, "sw0", "vm3")
    txs = [RawPort(vm3, if3)]
    stop = threading.Event()
    sent = {"n": 0, "error": None}

    def flood(tx, seed):
        rng = random.Random(seed)
        try:
            while not stop.is_set() and sent["n"] < 10_000_000:
                for _ in range(256):
                    s = bytearray(rng.randbytes(6))
                    s[0] = (s[0] & 0xFC) | 0x02
                    tx.send(mac_bytes(m[1]) + bytes(s) + b"\x88\xb5"
                            + bytes(46))
                sent["n"] += 256
                # Let the switch keep up (the TAP queue holds 1000).
                time.sleep(0.001)
        except Exception as e:  # reported by the main thread
            sent["error"] = e

    flooders = [threading.Thread(target=flood, args=(tx, i))
                for i, tx in enumerate(txs)]
    for t in flooders:
        t.start()
    rounds = 0
    max_rounds = int(os.environ.get("VSW_RESIZE_ROUNDS", 3000))
    hung = False
    try:
        wait_for(lambda: daemon.stats("vm3")["rx-packets"] > 5000)
        # A crash ends the rounds early, and so does a worker that stops
        # forwarding (one spinning on a freed table's bucket).
        deadline = time.monotonic() + 60
        last_rx = 0
        while (rounds < max_rounds and daemon.running()
               and time.monotonic() < deadline):
            i = rounds
            rounds += 1
            if i % 50 == 0:
                try:
                    last_rx = wait_for(
                        lambda: daemon.stats("vm3")["rx-packets"] > last_rx
                        and daemon.stats("vm3")["rx-packets"], timeout=5)
                except AssertionError:
                    print("\nvm3's frames are no longer received")
                    hung = True
                    break
            size = (65536, 4096, 1, 2048)[i % 4]
            daemon.rpc("switch.set", name="sw0", mac_table_size=size)
            if i % 8 == 0:
                fdb = daemon.rpc("fdb.show", switch="sw0")
                assert fdb["max"] == size
                assert fdb["count"] <= size
            if i % 12 == 0:
                daemon.rpc("fdb.flush", switch="sw0")
            if i % 20 == 0:
                daemon.rpc("fdb.flush", switch="sw0", port="vm3")
            if i % 6 == 0:
                daemon.rpc("port.set", name="vm3",
                           mac_limit=(0, 10, 300)[i // 6 % 3])
                daemon.rpc("switch.set", name="sw0",
                           mac_ageing=1 + i // 6 % 7)
    except (OSError, RpcError, ValueError):
        # A reply cut short: fine if the daemon is dying (the checks
        # after this report that), a failure of this test otherwise.
        try:
            daemon.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        if daemon.running():
            raise
    finally:
        stop.set()
        for t in flooders:
            t.join(timeout=60)
        for tx in txs:
            tx.close()
    print(f"\nflood during reconfiguration: {rounds} rounds, "
          f"{sent['n']} frames sent; daemon running: {daemon.running()}")
    if hung or not daemon.running():
        return False
    assert sent["error"] is None, sent["error"]
    daemon.rpc("switch.set", name="sw0", mac_table_size=4096, mac_ageing=300)
    daemon.rpc("port.set", name="vm3", mac_limit=100)
    assert ping(vm1, "192.0.2.2")
    fdb = daemon.rpc("fdb.show", switch="sw0")
    learned = {(e["mac"], e["port"]) for e in fdb["entries"]}
    assert {(m[1], "vm1"), (m[2], "vm2")} <= learned
    assert fdb["count"] <= 4096
    return True
