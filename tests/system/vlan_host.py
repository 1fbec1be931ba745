#!/usr/bin/python3
"""A host on a VLAN trunk, for tests: answers ARP and ICMP echo requests
that arrive tagged with one of its VLANs, with replies tagged the same.

The test kernel has neither VLAN devices nor a VLAN-filtering bridge, so
this stands in for "the physical network" behind a trunk uplink.

usage: vlan_host.py IFACE VID:IP:MAC [VID:IP:MAC ...]
Runs until killed.
"""

import socket
import struct
import sys

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_AUXDATA = 8
TP_STATUS_VLAN_VALID = 0x10


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def main():
    iface = sys.argv[1]
    hosts = {}
    for spec in sys.argv[2:]:
        vid, ip, mac = spec.split(":", 2)
        hosts[int(vid)] = (socket.inet_aton(ip), bytes.fromhex(
            mac.replace(":", "")))
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                         socket.htons(ETH_P_ALL))
    sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    sock.bind((iface, 0))
    print("ready", flush=True)
    while True:
        frame, anc, _flags, addr = sock.recvmsg(65535, 256)
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        vid = None
        for level, kind, data in anc:
            if level == SOL_PACKET and kind == PACKET_AUXDATA:
                status, _, _, _, _, tci = struct.unpack("IIIHHH", data[:18])
                if status & TP_STATUS_VLAN_VALID:
                    vid = tci & 0xFFF
        if vid is None and frame[12:14] == b"\x81\x00":
            vid = struct.unpack("!H", frame[14:16])[0] & 0xFFF
            frame = frame[:12] + frame[16:]
        if vid not in hosts:
            continue
        my_ip, my_mac = hosts[vid]
        dst, src, etype = frame[0:6], frame[6:12], frame[12:14]
        payload = frame[14:]
        reply = None
        if etype == b"\x08\x06" and len(payload) >= 28:
            op = struct.unpack("!H", payload[6:8])[0]
            if op == 1 and payload[24:28] == my_ip:
                reply = (b"\x08\x06", payload[0:6] + b"\x00\x02" + my_mac
                         + my_ip + payload[8:14] + payload[14:18])
        elif etype == b"\x08\x00" and len(payload) >= 28:
            ihl = (payload[0] & 0xF) * 4
            total = struct.unpack("!H", payload[2:4])[0]
            if (payload[9] == 1 and payload[16:20] == my_ip
                    and payload[ihl] == 8):
                icmp = bytearray(payload[ihl:total])
                icmp[0] = 0
                icmp[2:4] = b"\0\0"
                icmp[2:4] = struct.pack("!H", checksum(bytes(icmp)))
                ip = bytearray(payload[:ihl])
                ip[12:16], ip[16:20] = payload[16:20], payload[12:16]
                ip[8] = 64
                ip[10:12] = b"\0\0"
                ip[10:12] = struct.pack("!H", checksum(bytes(ip)))
                reply = (b"\x08\x00", bytes(ip) + bytes(icmp))
        if reply and dst in (my_mac, b"\xff" * 6):
            tag = b"\x81\x00" + struct.pack("!H", vid)
            sock.send(src + my_mac + tag + reply[0] + reply[1])


if __name__ == "__main__":
    main()
