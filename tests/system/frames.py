"""Frames for the guard tests, and raw sockets to send and capture them.

The frames are crafted with scapy.  The sockets are AF_PACKET sockets
opened inside a VM's (or host's) network namespace by the test process
itself, so no process has to be started per frame: the calling thread
enters the namespace only for as long as it takes to create and bind the
socket, which then stays in that namespace.
"""

import contextlib
import ctypes
import os
import select
import socket
import struct
import time

from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.dhcp6 import (DHCP6_Advertise, DHCP6_Reply,
                                DHCP6_Request, DHCP6_Solicit)
from scapy.layers.inet import ICMP, IP, UDP, IPOption_Router_Alert, fragment
from scapy.layers.inet6 import (ICMPv6EchoRequest, ICMPv6ND_NA, ICMPv6ND_NS,
                                ICMPv6ND_RA, ICMPv6ND_Redirect, IPv6,
                                IPv6ExtHdrDestOpt, IPv6ExtHdrFragment,
                                IPv6ExtHdrHopByHop, PadN)
from scapy.layers.l2 import ARP, Dot1AD, Dot1Q, Ether
from scapy.packet import Padding, Raw

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_AUXDATA = 8
TP_STATUS_VLAN_VALID = 0x10
TP_STATUS_VLAN_TPID_VALID = 0x40
CLONE_NEWNET = 0x40000000
SO_RCVBUFFORCE = 33

BROADCAST = "ff:ff:ff:ff:ff:ff"
ALL_NODES_MAC = "33:33:00:00:00:01"
DHCP6_SERVERS_MAC = "33:33:00:01:00:02"
FENCE_TYPE = 0x88B5  # IEEE local experimental ethertype

_libc = ctypes.CDLL(None, use_errno=True)


@contextlib.contextmanager
def in_netns(ns):
    """Runs the body with the calling thread in network namespace 'ns'."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        if _libc.setns(target, CLONE_NEWNET):
            raise OSError(ctypes.get_errno(), f"setns into {ns}")
        try:
            yield
        finally:
            if _libc.setns(own, CLONE_NEWNET):
                raise OSError(ctypes.get_errno(), "setns back")
    finally:
        os.close(own)
        os.close(target)


class RawPort:
    """A raw AF_PACKET socket on interface 'ifname' of namespace 'ns'.
    Received frames come back with the VLAN tag the kernel moved into the
    packet's metadata put back in place."""

    def __init__(self, ns, ifname):
        with in_netns(ns):
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                                      socket.htons(ETH_P_ALL))
            self.sock.bind((ifname, 0))
        self.sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 16 << 20)
        self.fences = 0

    def close(self):
        self.sock.close()

    def send(self, frame):
        self.sock.send(bytes(frame))

    def _recv_one(self):
        while True:
            try:
                data, anc, _flags, addr = self.sock.recvmsg(
                    65536, 256, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return None
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            for level, kind, aux in anc:
                if level == SOL_PACKET and kind == PACKET_AUXDATA:
                    status, _, _, _, _, tci, tpid = struct.unpack(
                        "IIIHHHH", aux[:20])
                    if status & TP_STATUS_VLAN_VALID:
                        if not status & TP_STATUS_VLAN_TPID_VALID:
                            tpid = 0x8100
                        return data[:12] + struct.pack("!HH", tpid, tci) + \
                            data[12:]
            return data

    def drain(self):
        """Everything received so far."""
        got = []
        while True:
            frame = self._recv_one()
            if frame is None:
                return got
            got.append(frame)

    def receive_until(self, pred, timeout=5):
        """Frames received until one satisfies 'pred' (included last), or
        everything received within 'timeout' if none does."""
        got = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            frame = self._recv_one()
            if frame is None:
                select.select([self.sock], [], [], 0.02)
                continue
            got.append(frame)
            if pred(frame):
                return got
        return got


def mac_bytes(text):
    return bytes.fromhex(text.replace(":", ""))


def src_mac(frame):
    return ":".join(f"{b:02x}" for b in frame[6:12])


def link_local(mac):
    """The modified EUI-64 link-local address of 'mac'."""
    b = bytearray(mac_bytes(mac))
    b[0] ^= 2
    eui = b[:3] + b"\xff\xfe" + b[3:]
    groups = [f"{eui[i] << 8 | eui[i + 1]:x}" for i in range(0, 8, 2)]
    return "fe80::" + ":".join(groups)


def fence(mac, marker):
    """A frame no guard objects to, that ends a burst from 'mac'."""
    return bytes(Ether(src=mac, dst=BROADCAST, type=FENCE_TYPE) /
                 Raw(b"fence:" + marker))


def is_fence(frame, marker):
    return b"fence:" + marker in frame


def send_and_fence(raw, frames, mac, marker):
    """Sends 'frames' then a fence frame, so that a capture knows when
    everything sent before it has had its chance to arrive."""
    for f in frames:
        raw.send(f)
    raw.send(fence(mac, marker))


# DHCPv4

SERVER_IP = "198.18.4.1"
CLIENT_MAC = "02:00:00:00:04:63"


def bootp_reply(msg_type, marker, xid=0x1234):
    """A BOOTP reply; a DHCP message of 'msg_type' unless it is None."""
    bootp = BOOTP(op=2, xid=xid, yiaddr="198.18.4.99", siaddr=SERVER_IP,
                  chaddr=mac_bytes(CLIENT_MAC) + b"\0" * 10, file=marker)
    if msg_type is None:
        return bootp
    return bootp / DHCP(options=[("message-type", msg_type),
                                 ("server_id", SERVER_IP),
                                 ("lease_time", 3600), "end"])


def bootp_request(msg_type, marker, mac):
    return BOOTP(op=1, xid=0x4321, chaddr=mac_bytes(mac) + b"\0" * 10,
                 file=marker) / DHCP(options=[("message-type", msg_type),
                                              "end"])


def dhcp4(mac, payload, sport=67, dport=68, dst_ip="255.255.255.255",
          dst_mac=BROADCAST, ip_options=None, tags=(), src_ip=SERVER_IP):
    """Ether/[tags]/IP/UDP/'payload'.  'tags' is a list of (tpid, tci)."""
    pkt = Ether(src=mac, dst=dst_mac)
    for tpid, tci in tags:
        layer = Dot1AD if tpid == 0x88A8 else Dot1Q
        pkt = pkt / layer(prio=tci >> 13, vlan=tci & 0xFFF)
    ip = IP(src=src_ip, dst=dst_ip)
    if ip_options:
        ip.options = ip_options
    return pkt / ip / UDP(sport=sport, dport=dport) / payload


def fix_tpids(frame, tags):
    """Rewrites the TPIDs of 'frame' to those of 'tags' (scapy picks the
    type field of a tag from the layer after it)."""
    frame = bytearray(bytes(frame))
    for i, (tpid, _) in enumerate(tags):
        frame[12 + 4 * i:14 + 4 * i] = struct.pack("!H", tpid)
    return bytes(frame)


def offer(mac, marker, **kw):
    tags = kw.get("tags", ())
    return fix_tpids(dhcp4(mac, bootp_reply("offer", marker), **kw), tags)


def fragmented_offer(mac, marker, size=64):
    """An OFFER in IPv4 fragments of 'size' bytes of payload each."""
    pkt = IP(src=SERVER_IP, dst="255.255.255.255", id=0x4242) / \
        UDP(sport=67, dport=68) / bootp_reply("offer", marker)
    return [bytes(Ether(src=mac, dst=BROADCAST) / f)
            for f in fragment(pkt, fragsize=size)]


def discover(mac, marker):
    return bytes(dhcp4(mac, bootp_request("discover", marker, mac),
                       sport=68, dport=67, src_ip="0.0.0.0"))


def request(mac, marker):
    return bytes(dhcp4(mac, bootp_request("request", marker, mac),
                       sport=68, dport=67, src_ip="0.0.0.0"))


# DHCPv6

def dhcp6(mac, message, marker, sport=547, dport=546, ext=(),
          dst="ff02::1", dst_mac=ALL_NODES_MAC):
    """A DHCPv6 message with 'marker' in an option of an unassigned code,
    behind the IPv6 extension headers 'ext' (layer classes)."""
    opt = struct.pack("!HH", 65000, len(marker)) + marker
    pkt = IPv6(src=link_local(mac), dst=dst)
    for hdr in ext:
        pkt = pkt / hdr()
    pkt = pkt / UDP(sport=sport, dport=dport) / message(trid=0x123) / \
        Raw(opt)
    return bytes(Ether(src=mac, dst=dst_mac) / pkt)


def advertise(mac, marker, ext=()):
    return dhcp6(mac, DHCP6_Advertise, marker, ext=ext)


def reply(mac, marker, ext=()):
    return dhcp6(mac, DHCP6_Reply, marker, ext=ext)


def solicit(mac, marker, ext=()):
    return dhcp6(mac, DHCP6_Solicit, marker, sport=546, dport=547, ext=ext,
                 dst="ff02::1:2", dst_mac=DHCP6_SERVERS_MAC)


def request6(mac, marker):
    return dhcp6(mac, DHCP6_Request, marker, sport=546, dport=547,
                 dst="ff02::1:2", dst_mac=DHCP6_SERVERS_MAC)


# ICMPv6 and ICMP

HBH_DO = (IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt)


def icmp6(mac, message, marker, ext=(), dst="ff02::1",
          dst_mac=ALL_NODES_MAC, tags=()):
    """'message' (an ICMPv6 layer) with 'marker' appended, behind the
    extension headers 'ext' (layer classes or instances)."""
    pkt = Ether(src=mac, dst=dst_mac)
    for tpid, tci in tags:
        pkt = pkt / Dot1Q(prio=tci >> 13, vlan=tci & 0xFFF)
    ip = IPv6(src=link_local(mac), dst=dst, hlim=255)
    for hdr in ext:
        ip = ip / (hdr() if isinstance(hdr, type) else hdr)
    return fix_tpids(pkt / ip / message / Raw(marker), tags)


def ra(mac, marker, **kw):
    return icmp6(mac, ICMPv6ND_RA(routerlifetime=1800), marker, **kw)


def echo6(mac, marker, **kw):
    return icmp6(mac, ICMPv6EchoRequest(id=7, seq=1), marker, **kw)


def ns6(mac, marker, target="fe80::99", **kw):
    return icmp6(mac, ICMPv6ND_NS(tgt=target), marker,
                 dst="ff02::1:ff00:99", dst_mac="33:33:ff:00:00:99", **kw)


def na6(mac, marker, **kw):
    return icmp6(mac, ICMPv6ND_NA(tgt=link_local(mac), R=0, S=0, O=1),
                 marker, **kw)


def redirect6(mac, marker):
    return icmp6(mac, ICMPv6ND_Redirect(tgt="fe80::1", dst="2001:db8::1"),
                 marker, dst="fe80::99", dst_mac=BROADCAST)


def atomic(message_fn, mac, marker):
    """'message_fn''s packet as an atomic fragment (offset 0, M clear)."""
    return message_fn(mac, marker, ext=(IPv6ExtHdrFragment(id=0x777, m=0,
                                                           offset=0),))


def ra_in_second_fragment(mac, marker):
    """An RA whose ICMPv6 header sits in the second fragment: the first
    carries only a (complete) Destination Options header."""
    whole = bytes(IPv6(src=link_local(mac), dst="ff02::1", hlim=255) /
                  IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0" * 36)]) /
                  ICMPv6ND_RA(routerlifetime=1800) / Raw(marker))
    payload = whole[40:]
    assert payload[1] == 4  # a 40-byte Destination Options header
    pieces = [(0, 1, payload[:40]), (40, 0, payload[40:])]
    return [bytes(Ether(src=mac, dst=ALL_NODES_MAC) /
                  IPv6(src=link_local(mac), dst="ff02::1", hlim=255) /
                  IPv6ExtHdrFragment(nh=60, id=0xABCD, m=m, offset=ofs // 8) /
                  Raw(data))
            for ofs, m, data in pieces]


def overlapping_request(mac, marker):
    """A DHCP REQUEST to port 67 in three IPv4 fragments, the second of
    which overlaps the first from octet 8 on and turns the BOOTP op into a
    BOOTREPLY (which the DHCP guard drops whole): [harmless first
    fragment, overlapping fragment, last fragment]."""
    payload = bytes(UDP(sport=68, dport=67) /
                    bootp_request("request", marker, mac))
    forged = payload[:8] + b"\x02" + payload[9:]
    pieces = [(0, "MF", payload[:16]), (8, "MF", forged[8:72]),
              (72, 0, payload[72:])]
    return [bytes(Ether(src=mac, dst=BROADCAST) /
                  IP(src="0.0.0.0", dst="255.255.255.255", id=0x5151,
                     proto=17, flags=flags, frag=ofs // 8) / Raw(data))
            for ofs, flags, data in pieces]


def overlapping_solicit6(mac, marker):
    """A DHCPv6 SOLICIT behind a Destination Options header, in three
    fragments; the second overlaps the first from octet 8, the UDP header,
    and turns it into a REPLY from port 547 to a client's port 546 (which
    the DHCP guard drops whole)."""
    def fragmentable(sport, dport, message):
        frame = dhcp6(mac, message, marker, sport=sport, dport=dport,
                      ext=(IPv6ExtHdrDestOpt,), dst="ff02::1:2",
                      dst_mac=DHCP6_SERVERS_MAC)
        return frame[14 + 40:]

    payload = fragmentable(546, 547, DHCP6_Solicit)
    forged = fragmentable(547, 546, DHCP6_Reply)
    assert payload[0] == 17 and payload[1] == 0  # 8 octets, then UDP
    pieces = [(0, 1, payload[:24]), (8, 1, forged[8:24]),
              (24, 0, payload[24:])]
    return [bytes(Ether(src=mac, dst=DHCP6_SERVERS_MAC) /
                  IPv6(src=link_local(mac), dst="ff02::1:2") /
                  IPv6ExtHdrFragment(nh=60, id=0x5152, m=m,
                                     offset=ofs // 8) / Raw(data))
            for ofs, m, data in pieces]


def unknown_nh(mac, marker, nh=150):
    """An RA hidden behind a Hop-by-Hop header whose next header is a
    protocol number nobody assigned."""
    inner = bytes(ICMPv6ND_RA(routerlifetime=1800) / Raw(marker))
    return bytes(Ether(src=mac, dst=ALL_NODES_MAC) /
                 IPv6(src=link_local(mac), dst="ff02::1", hlim=255) /
                 IPv6ExtHdrHopByHop(nh=nh) / Raw(inner))


def icmp4(mac, icmp, marker, dst_mac=BROADCAST):
    return bytes(Ether(src=mac, dst=dst_mac) /
                 IP(src="198.18.4.1", dst="198.18.4.2") / icmp / Raw(marker))


def redirect4(mac, marker):
    return icmp4(mac, ICMP(type=5, code=1, gw="198.18.4.66"),
                 marker + bytes(28))


def router_ad4(mac, marker):
    return icmp4(mac, ICMP(type=9, code=0), marker)


def echo4(mac, marker):
    return icmp4(mac, ICMP(type=8, id=1, seq=1), marker)


# L2

def udp_broadcast(mac, marker, dst_mac=BROADCAST, tags=(), src_ip="0.0.0.0",
                  sport=9):
    """UDP to the discard port (to 'dst_mac', broadcast by default)."""
    return fix_tpids(dhcp4(mac, Raw(marker), sport=sport, dport=9,
                           dst_mac=dst_mac, tags=tags, src_ip=src_ip), tags)


def with_sports(frame, n, first=1024):
    """'n' copies of the untagged IPv4/UDP 'frame', UDP source ports
    'first', 'first' + 1...  (UDP checksum cleared: none)."""
    frame = bytearray(frame)
    frame[40:42] = b"\0\0"
    out = []
    for i in range(n):
        frame[34:36] = struct.pack("!H", (first + i) & 0xFFFF)
        out.append(bytes(frame))
    return out


def arp(mac, op, psrc, pdst, hwsrc=None, dst_mac=BROADCAST, hwdst=None):
    return bytes(Ether(src=mac, dst=dst_mac) /
                 ARP(op=op, hwsrc=hwsrc or mac, psrc=psrc, pdst=pdst,
                     hwdst=hwdst or "00:00:00:00:00:00"))


__all__ = [name for name in dir() if not name.startswith("_")] + [
    "Padding", "IPOption_Router_Alert", "IPv6ExtHdrHopByHop",
    "IPv6ExtHdrDestOpt", "IPv6ExtHdrFragment"]
