"""Port guards (FEATURES.md §4, ROBUSTNESS.md "Frames") on real traffic.

Hostile frames are crafted with scapy (frames.py) and sent from a VM's
interface through a raw socket; a second VM captures with a raw socket of
its own.  "Dropped" means: the named drop counter of the sending port
rises by exactly the frames sent, no other drop counter moves, and the
capturing VM receives none of them before a harmless "fence" frame sent
after them arrives.  Every dropped case is then repeated with the guard
off, where the same frames must arrive, so a capture that sees nothing
cannot pass for a guard that works.
"""

import itertools
import os
import re
import signal
import subprocess
import threading
import time

import pytest

import frames as F
from conftest import add_vm, ping, sh, wait_for

ATK = "02:00:00:00:0a:01"    # the VM the guards watch
SNIFF = "02:00:00:00:0a:02"  # a VM that captures what gets through
THIRD = "02:00:00:00:0a:03"
SPOOF = "02:00:00:00:0b:99"

_markers = itertools.count()


def marker(label):
    return f"gt{next(_markers)}-{label}".encode()


def drops(daemon, port):
    stats = daemon.stats(port)
    return stats["drops"], stats["drops-total"]


def leaked(frames_seen, macs, mark):
    """Frames from 'macs' other than fences (this one, or an earlier one
    that a queue of its own delivered late)."""
    return [f for f in frames_seen
            if F.src_mac(f) in macs and not F.is_fence(f, mark)
            and b"fence:" not in f]


def expect_dropped(daemon, port, tx, rx, frames, reason, macs=(ATK,)):
    """Sends 'frames' from 'port' through 'tx'; checks that each is counted
    under 'reason' and that 'rx' receives none of them."""
    before, total = drops(daemon, port)
    rx.drain()
    mark = marker("fence")
    for f in frames:
        tx.send(f)
    # Frames may take another queue than the fence: let them be counted
    # first (or give up and let the checks below say what happened).
    deadline = time.monotonic() + 3
    while (drops(daemon, port)[0][reason] - before[reason] < len(frames)
           and time.monotonic() < deadline):
        time.sleep(0.02)
    tx.send(F.fence(ATK, mark))
    seen = rx.receive_until(lambda f: F.is_fence(f, mark))
    assert seen and F.is_fence(seen[-1], mark), "the fence never arrived"
    time.sleep(0.1)
    seen += rx.drain()
    after, after_total = drops(daemon, port)
    changed = {k: after[k] - before[k] for k in after if after[k] != before[k]}
    leaks = [F.Ether(f).summary() for f in leaked(seen, macs, mark)]
    assert (after[reason] - before[reason], after_total - total, leaks) == (
        len(frames), len(frames), []), (
        f"expected {len(frames)} {reason} drops and no frame delivered; "
        f"drops: {changed}, delivered: {leaks}")


def expect_passed(daemon, port, tx, rx, frames, exact=True):
    """Sends 'frames' and checks that 'rx' receives each of them (byte for
    byte when 'exact', else as many frames from their source MAC) and that
    nothing is dropped."""
    _, total = drops(daemon, port)
    rx.drain()
    mark = marker("fence")
    for f in frames:
        tx.send(f)
    tx.send(F.fence(ATK, mark))
    got = []

    def complete():
        got.extend(f for f in rx.drain() if not F.is_fence(f, mark))
        if exact:
            return all(bytes(f) in got for f in frames)
        return len([f for f in got if F.src_mac(f) == F.src_mac(frames[0])]
                   ) >= len(frames)

    deadline = time.monotonic() + 3
    while not complete() and time.monotonic() < deadline:
        time.sleep(0.02)
    if exact:
        missing = [F.Ether(bytes(f)).summary() for f in frames
                   if bytes(f) not in got]
        assert not missing, f"never arrived: {missing}"
    else:
        assert len([f for f in got if F.src_mac(f) == F.src_mac(frames[0])]
                   ) == len(frames), [F.Ether(f).summary() for f in got]
    assert drops(daemon, port)[1] == total, drops(daemon, port)[0]


class Pair:
    """A switch with the watched VM "atk" (no address: it sends only what
    the test crafts) and the capturing VM "snf", both access ports of VLAN
    10, or both trunks."""

    def __init__(self, daemon, topo, mode="access"):
        self.daemon = daemon
        daemon.rpc("switch.add", name="sw0")
        self.atk_ns, atk_if = add_vm(daemon, topo, "sw0", "atk", mac=ATK)
        self.snf_ns, snf_if = add_vm(daemon, topo, "sw0", "snf", mac=SNIFF)
        for port in ("atk", "snf"):
            if mode == "access":
                daemon.rpc("port.set", name=port, vlan_mode="access",
                           vlan=10)
            else:
                daemon.rpc("port.set", name=port, vlan_mode="trunk")
        self.tx = F.RawPort(self.atk_ns, atk_if)
        self.rx = F.RawPort(self.snf_ns, snf_if)

    def guard(self, **settings):
        self.daemon.rpc("port.set", name="atk", **settings)

    def close(self):
        self.tx.close()
        self.rx.close()


@pytest.fixture
def pair_factory(daemon, topo):
    made = []

    def make(**kw):
        p = Pair(daemon, topo, **kw)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


def run_case(pair, build, reason, guard):
    """The case: 'reason' (None: the frames pass) with the guard on, then
    with it off the frames pass unless the VLAN stage drops them."""
    mark = marker("case")
    frames = build(ATK, mark)
    frames = frames if isinstance(frames, list) else [frames]
    frames = [bytes(f) for f in frames]
    pair.guard(**{guard: True})
    if reason:
        expect_dropped(pair.daemon, "atk", pair.tx, pair.rx, frames, reason)
    else:
        expect_passed(pair.daemon, "atk", pair.tx, pair.rx, frames)
    pair.guard(**{guard: False})
    if reason == "vlan-tagged":
        expect_dropped(pair.daemon, "atk", pair.tx, pair.rx, frames, reason)
    else:
        expect_passed(pair.daemon, "atk", pair.tx, pair.rx, frames,
                      exact=False)


# DHCP guard on crafted frames ---------------------------------------------

def offer_padded(mac, mark):
    return bytes(F.dhcp4(mac, F.bootp_reply("offer", mark)) /
                 F.Padding(b"\0" * 300))


DHCP_CASES = [
    # (id, port mode, frames, reason with the guard on)
    ("offer", "access", lambda m, k: F.offer(m, k), "dhcp-guard"),
    ("offer-sport-1234", "access",
     lambda m, k: F.offer(m, k, sport=1234), "dhcp-guard"),
    ("offer-ip-options", "access",
     lambda m, k: F.offer(m, k, ip_options=[F.IPOption_Router_Alert()]),
     "dhcp-guard"),
    ("offer-ethernet-padding", "access", offer_padded, "dhcp-guard"),
    ("offer-priority-tag-access", "access",
     lambda m, k: F.offer(m, k, tags=[(0x8100, 3 << 13)]), "dhcp-guard"),
    ("offer-vlan-tag-access", "access",
     lambda m, k: F.offer(m, k, tags=[(0x8100, 10)]), "vlan-tagged"),
    ("offer-qinq-access", "access",
     lambda m, k: F.offer(m, k, tags=[(0x88A8, 10), (0x8100, 20)]),
     "vlan-tagged"),
    ("offer-vlan-tag-trunk", "trunk",
     lambda m, k: F.offer(m, k, tags=[(0x8100, 10)]), "dhcp-guard"),
    ("offer-qinq-trunk", "trunk",
     lambda m, k: F.offer(m, k, tags=[(0x8100, 10), (0x8100, 20)]),
     "dhcp-guard"),
    ("offer-8021ad-qinq-trunk", "trunk",
     lambda m, k: F.offer(m, k, tags=[(0x88A8, 10), (0x8100, 20)]),
     "dhcp-guard"),
    ("offer-three-tags-trunk", "trunk",
     lambda m, k: F.offer(m, k, tags=[(0x8100, 10), (0x8100, 20),
                                      (0x8100, 30)]),
     "guard-too-many-vlans"),
    ("offer-fragmented", "access", F.fragmented_offer, "dhcp-guard"),
    ("ack-unicast", "access",
     lambda m, k: F.dhcp4(m, F.bootp_reply("ack", k), dst_ip="198.18.4.99",
                          dst_mac=F.CLIENT_MAC), "dhcp-guard"),
    ("nak", "access", lambda m, k: F.dhcp4(m, F.bootp_reply("nak", k)),
     "dhcp-guard"),
    ("bootp-reply-without-option-53", "access",
     lambda m, k: F.dhcp4(m, F.bootp_reply(None, k)), "dhcp-guard"),
    ("bootreply-to-relay-port-67", "access",
     lambda m, k: F.dhcp4(m, F.bootp_reply("offer", k), dport=67),
     "dhcp-guard"),
    ("dhcpv6-advertise", "access", F.advertise, "dhcpv6-guard"),
    ("dhcpv6-reply", "access", F.reply, "dhcpv6-guard"),
    ("dhcpv6-advertise-hbh-destopts", "access",
     lambda m, k: F.advertise(m, k, ext=F.HBH_DO), "dhcpv6-guard"),
    ("dhcpv6-reply-hbh-destopts", "access",
     lambda m, k: F.reply(m, k, ext=F.HBH_DO), "dhcpv6-guard"),
    ("dhcpv6-reply-to-server-port", "access",
     lambda m, k: F.dhcp6(m, F.DHCP6_Reply, k, sport=546, dport=547,
                          dst="ff02::1:2", dst_mac=F.DHCP6_SERVERS_MAC),
     "dhcpv6-guard"),
    ("discover", "access", F.discover, None),
    ("request", "access", F.request, None),
    ("discover-vlan-tag-trunk", "trunk",
     lambda m, k: F.fix_tpids(F.dhcp4(m, F.bootp_request("discover", k, m),
                                      sport=68, dport=67, src_ip="0.0.0.0",
                                      tags=[(0x8100, 10)]), [(0x8100, 10)]),
     None),
    ("dhcpv6-solicit", "access", F.solicit, None),
    ("dhcpv6-solicit-hbh-destopts", "access",
     lambda m, k: F.solicit(m, k, ext=F.HBH_DO), None),
    ("dhcpv6-request", "access", F.request6, None),
]


@pytest.mark.parametrize("mode,build,reason",
                         [c[1:] for c in DHCP_CASES],
                         ids=[c[0] for c in DHCP_CASES])
def test_dhcp_guard_frames(pair_factory, mode, build, reason):
    run_case(pair_factory(mode=mode), build, reason, "dhcp-guard")


# Router guard -----------------------------------------------------------

def ra_fragmented(mac, mark):
    """An RA in two fragments, the first holding the ICMPv6 header."""
    whole = bytes(F.IPv6(src=F.link_local(mac), dst="ff02::1", hlim=255) /
                  F.ICMPv6ND_RA(routerlifetime=1800) / F.Raw(mark + bytes(64)))
    payload = whole[40:]
    cut = 48
    return [bytes(F.Ether(src=mac, dst=F.ALL_NODES_MAC) /
                  F.IPv6(src=F.link_local(mac), dst="ff02::1", hlim=255) /
                  F.IPv6ExtHdrFragment(nh=58, id=0xBEEF, m=m, offset=o // 8) /
                  F.Raw(data))
            for o, m, data in ((0, 1, payload[:cut]), (cut, 0, payload[cut:]))]


ROUTER_CASES = [
    ("ra", "access", F.ra, "router-guard"),
    ("ra-hbh-destopts", "access", lambda m, k: F.ra(m, k, ext=F.HBH_DO),
     "router-guard"),
    ("ra-icmpv6-in-second-fragment", "access", F.ra_in_second_fragment,
     "ipv6-chain-incomplete"),
    ("ra-fragmented", "access", ra_fragmented, "router-guard"),
    ("ra-atomic-fragment", "access", lambda m, k: F.atomic(F.ra, m, k),
     "router-guard"),
    ("ra-unknown-next-header", "access", F.unknown_nh, "ipv6-unknown-next-header"),
    ("ra-priority-tag-access", "access",
     lambda m, k: F.ra(m, k, tags=[(0x8100, 6 << 13)]), "router-guard"),
    ("ra-vlan-tag-access", "access",
     lambda m, k: F.ra(m, k, tags=[(0x8100, 10)]), "vlan-tagged"),
    ("ra-vlan-tag-trunk", "trunk",
     lambda m, k: F.ra(m, k, tags=[(0x8100, 10)]), "router-guard"),
    ("redirect-icmpv6", "access", F.redirect6, "router-guard-redirect"),
    ("redirect-icmpv4", "access", F.redirect4, "router-guard-redirect"),
    ("router-advertisement-icmpv4", "access", F.router_ad4, "router-guard"),
    ("ns-atomic-fragment", "access", lambda m, k: F.atomic(F.ns6, m, k),
     "nd-fragment"),
    ("echo6", "access", F.echo6, None),
    ("echo6-hbh-destopts", "access",
     lambda m, k: F.echo6(m, k, ext=F.HBH_DO), None),
    ("echo6-atomic-fragment", "access", lambda m, k: F.atomic(F.echo6, m, k),
     None),
    ("ns", "access", F.ns6, None),
    ("ns-hbh-destopts", "access", lambda m, k: F.ns6(m, k, ext=F.HBH_DO),
     None),
    ("na", "access", F.na6, None),
    ("na-hbh-destopts", "access", lambda m, k: F.na6(m, k, ext=F.HBH_DO),
     None),
    ("echo4", "access", F.echo4, None),
]


@pytest.mark.parametrize("build", [F.overlapping_request,
                                   F.overlapping_solicit6],
                         ids=["ipv4", "ipv6"])
def test_overlapping_fragments_drop_the_datagram(pair_factory, build):
    """A fragment that rewrites what the DHCP guard judged in the first
    fragment (RFC 5722, applied to IPv4 too): dropped with every fragment
    of its datagram after it, under fragment-overlap (issue 11)."""
    pair = pair_factory()
    frames = build(ATK, marker("overlap"))
    pair.guard(dhcp_guard=True)
    expect_passed(pair.daemon, "atk", pair.tx, pair.rx, frames[:1])
    expect_dropped(pair.daemon, "atk", pair.tx, pair.rx, frames[1:],
                   "fragment-overlap")
    # The datagram is condemned: its first fragment again goes too.
    expect_dropped(pair.daemon, "atk", pair.tx, pair.rx, frames[:1],
                   "fragment-overlap")
    # Without the guard, the switch does not look at fragments.
    pair.guard(dhcp_guard=False)
    expect_passed(pair.daemon, "atk", pair.tx, pair.rx, frames, exact=False)


@pytest.mark.parametrize("mode,build,reason",
                         [c[1:] for c in ROUTER_CASES],
                         ids=[c[0] for c in ROUTER_CASES])
def test_router_guard_frames(pair_factory, mode, build, reason):
    run_case(pair_factory(mode=mode), build, reason, "router-guard")


def test_unknown_next_header_knob(pair_factory):
    pair = pair_factory()
    d = pair.daemon
    frame = [F.unknown_nh(ATK, marker("unh"))]
    pair.guard(router_guard=True)
    expect_dropped(d, "atk", pair.tx, pair.rx, frame, "ipv6-unknown-next-header")
    d.rpc("switch.set", name="sw0", ipv6_unknown_next_header="allow")
    assert d.rpc("switch.get", name="sw0")["ipv6-unknown-next-header"] \
        == "allow"
    expect_passed(d, "atk", pair.tx, pair.rx, frame)
    # The knob only lets unknown headers through: a plain RA still dies.
    expect_dropped(d, "atk", pair.tx, pair.rx, [F.ra(ATK, marker("ra"))],
                   "router-guard")
    d.rpc("switch.set", name="sw0", ipv6_unknown_next_header="drop")
    expect_dropped(d, "atk", pair.tx, pair.rx, frame, "ipv6-unknown-next-header")


# DHCP guard against real dnsmasq and dhclient -------------------------

DHCLIENT_CONF = """\
timeout 6;
retry 1;
initial-interval 1;
request subnet-mask, broadcast-address;
"""


def start_dnsmasq(ns, ifname, tmp):
    log = open(tmp / "dnsmasq.log", "w")
    proc = subprocess.Popen(
        ["ip", "netns", "exec", ns, "dnsmasq", "--no-daemon",
         "--conf-file=/dev/null", "--port=0", f"--interface={ifname}",
         "--bind-interfaces", "--no-resolv", "--no-hosts", "--no-ping",
         "--dhcp-range=198.18.5.100,198.18.5.150,255.255.255.0,10m",
         f"--dhcp-leasefile={tmp / 'dnsmasq.leases'}",
         f"--pid-file={tmp / 'dnsmasq.pid'}", "--user=root",
         "--group=root", "--log-facility=-", "--log-dhcp"],
        stdout=log, stderr=subprocess.STDOUT)
    log.close()
    return proc


def dhclient(ns, ifname, tmp, phase):
    """A dhclient that tries once, in the foreground, configuring nothing:
    -sf /bin/true is its script, and its lease, pid and config files are
    in 'tmp'."""
    conf = tmp / f"dhclient-{phase}.conf"
    conf.write_text(DHCLIENT_CONF)
    lease = tmp / f"dhclient-{phase}.leases"
    lease.write_text("")
    log = open(tmp / f"dhclient-{phase}.log", "w")
    proc = subprocess.Popen(
        ["ip", "netns", "exec", ns, "timeout", "30", "dhclient", "-1", "-d",
         "-v", "-cf", str(conf), "-lf", str(lease),
         "-pf", str(tmp / f"dhclient-{phase}.pid"), "-sf", "/bin/true",
         ifname], stdout=log, stderr=subprocess.STDOUT)
    log.close()
    return proc, lease, tmp / f"dhclient-{phase}.log"


def kill(proc, pidfile=None, comm=None):
    """Stops 'proc' and, if 'pidfile' names a live process called 'comm'
    (a child 'proc' started), that one too."""
    pids = []
    if pidfile and pidfile.exists():
        try:
            pid = int(pidfile.read_text().split()[0])
            if open(f"/proc/{pid}/comm").read().strip() == comm:
                pids.append(pid)
        except (ValueError, IndexError, OSError):
            pass
    if proc and proc.poll() is None:
        pids.append(proc.pid)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    if proc:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def offers_sent(tmp):
    return len(re.findall(r"DHCPOFFER\(", (tmp / "dnsmasq.log").read_text()))


def test_dhcp_guard_real_dnsmasq_and_dhclient(daemon, topo, tmp_path):
    daemon.rpc("switch.add", name="sw0")
    rogue, rogue_if = add_vm(daemon, topo, "sw0", "rogue", "198.18.5.1",
                             mac=ATK)
    client, client_if = add_vm(daemon, topo, "sw0", "client", mac=SNIFF)
    third, third_if = add_vm(daemon, topo, "sw0", "third", "198.18.5.3",
                             mac=THIRD)
    sniffer = F.RawPort(third, third_if)
    dnsmasq = dhcp = None
    try:
        dnsmasq = start_dnsmasq(rogue, rogue_if, tmp_path)
        wait_for(lambda: "started" in
                 (tmp_path / "dnsmasq.log").read_text(), timeout=10)

        # Guard on: the rogue answers, and nothing it answers arrives.
        daemon.ctl("port", "set", "rogue", "dhcp-guard=on", json_out=False)
        before = daemon.stats("rogue")["drops"]["dhcp-guard"]
        sniffer.drain()
        dhcp, lease, log = dhclient(client, client_if, tmp_path, "guarded")
        rc = dhcp.wait(timeout=40)
        assert rc != 0, log.read_text()
        assert "bound to" not in log.read_text()
        assert "lease" not in lease.read_text()
        assert offers_sent(tmp_path) >= 1, (tmp_path /
                                            "dnsmasq.log").read_text()
        wait_for(lambda: daemon.stats("rogue")["drops"]["dhcp-guard"]
                 - before >= offers_sent(tmp_path), timeout=5)
        assert daemon.stats("rogue")["drops"]["dhcp-guard"] - before \
            == offers_sent(tmp_path)
        assert not [f for f in sniffer.drain() if F.src_mac(f) == ATK and
                    b"\x00\x43\x00\x44" in f[34:38]]
        # The rogue's other traffic is not affected.
        assert ping(third, "198.18.5.1", count=1)

        # Guard off: the same client gets its lease from the rogue.
        daemon.ctl("port", "set", "rogue", "dhcp-guard=off", json_out=False)
        before = daemon.stats("rogue")["drops"]["dhcp-guard"]
        dhcp, lease, log = dhclient(client, client_if, tmp_path, "open")
        wait_for(lambda: "bound to" in log.read_text() or
                 dhcp.poll() is not None, timeout=30)
        assert "bound to 198.18.5." in log.read_text(), log.read_text()
        assert re.search(r"fixed-address 198\.18\.5\.1[0-5]\d;",
                         lease.read_text()), lease.read_text()
        assert daemon.stats("rogue")["drops"]["dhcp-guard"] == before
    finally:
        for phase in ("guarded", "open"):
            kill(None, tmp_path / f"dhclient-{phase}.pid", "dhclient")
        kill(dhcp)
        kill(dnsmasq, tmp_path / "dnsmasq.pid", "dnsmasq")
        sniffer.close()
    # dhclient configured nothing (its script was /bin/true).
    assert "198.18.5." not in sh(["ip", "-n", client, "addr", "show",
                                  client_if]).stdout


# MAC spoofing -----------------------------------------------------------

def fdb_macs(daemon, port):
    return {e["mac"] for e in daemon.rpc("fdb.show", switch="sw0")["entries"]
            if e["port"] == port}


def test_mac_spoofing(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    vm1, if1 = add_vm(daemon, topo, "sw0", "vm1", "198.18.6.1", mac=ATK)
    vm2, if2 = add_vm(daemon, topo, "sw0", "vm2", "198.18.6.2", mac=SNIFF)
    assert ATK in sh(["ip", "-n", vm1, "link", "show", if1]).stdout
    assert ping(vm1, "198.18.6.2")
    assert fdb_macs(daemon, "vm1") == {ATK}
    tx, rx = F.RawPort(vm1, if1), F.RawPort(vm2, if2)
    try:
        spoofed = [F.udp_broadcast(SPOOF, marker("spoof")) for _ in range(5)]
        # The Ethernet source is the port's, the ARP sender is not.
        arp = F.arp(ATK, 2, "198.18.6.1", "198.18.6.2", hwsrc=SPOOF)
        expect_dropped(daemon, "vm1", tx, rx, spoofed + [arp],
                       "mac-spoofing", macs=(ATK, SPOOF))
        assert SPOOF not in fdb_macs(daemon, "vm1")
        assert not [e for e in daemon.rpc("fdb.show", switch="sw0")["entries"]
                    if e["mac"] == SPOOF]
        assert ping(vm1, "198.18.6.2", count=1)

        daemon.rpc("port.set", name="vm1", mac_spoofing=True)
        expect_passed(daemon, "vm1", tx, rx, spoofed + [arp])
        wait_for(lambda: SPOOF in fdb_macs(daemon, "vm1"))

        daemon.rpc("port.set", name="vm1", mac_spoofing=False)
        expect_dropped(daemon, "vm1", tx, rx, spoofed[:1], "mac-spoofing",
                       macs=(ATK, SPOOF))
    finally:
        tx.close()
        rx.close()


# IP guard -------------------------------------------------------------

def neigh_mac(ns, ip):
    out = sh(["ip", "-n", ns, "neigh", "show", ip]).stdout
    m = re.search(r"lladdr (\S+)", out)
    return m.group(1) if m else None


def test_ip_guard_stops_arp_spoofing(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    vm1, if1 = add_vm(daemon, topo, "sw0", "vm1", "198.18.6.1", mac=ATK)
    vm2, if2 = add_vm(daemon, topo, "sw0", "vm2", "198.18.6.2", mac=SNIFF)
    vm3, if3 = add_vm(daemon, topo, "sw0", "vm3", "198.18.6.3", mac=THIRD)
    daemon.ctl("port", "set", "vm1", "allowed-ips=198.18.6.1",
               json_out=False)
    assert daemon.rpc("port.get", name="vm1")["allowed-ips"] == "198.18.6.1"
    # Traffic from the allowed address works, both ways.
    assert ping(vm1, "198.18.6.2")
    assert ping(vm3, "198.18.6.2")
    assert neigh_mac(vm3, "198.18.6.2") == SNIFF
    tx, rx = F.RawPort(vm1, if1), F.RawPort(vm3, if3)
    try:
        poison = [
            # Gratuitous ARP: "198.18.6.2 is at ATK".
            F.arp(ATK, 1, "198.18.6.2", "198.18.6.2"),
            # And a reply to vm3 saying the same.
            F.arp(ATK, 2, "198.18.6.2", "198.18.6.3", dst_mac=THIRD,
                  hwdst=THIRD),
            # IP from the victim's address.
            F.udp_broadcast(ATK, marker("ip"), src_ip="198.18.6.2"),
        ]
        expect_dropped(daemon, "vm1", tx, rx, poison, "ip-guard")
        time.sleep(0.2)
        assert neigh_mac(vm3, "198.18.6.2") == SNIFF
        assert ping(vm3, "198.18.6.2", count=1)
        assert ping(vm1, "198.18.6.3", count=1)

        # Without the guard the same frames do poison vm3's cache.
        daemon.rpc("port.set", name="vm1", allowed_ips="")
        expect_passed(daemon, "vm1", tx, rx, poison[:2])
        wait_for(lambda: neigh_mac(vm3, "198.18.6.2") == ATK, timeout=3)
    finally:
        tx.close()
        rx.close()


# Storm limit ----------------------------------------------------------

def paced_send(raw, frames, pps, seconds):
    """Sends 'frames' (cycled) at 'pps' for 'seconds'; returns (count,
    duration from the first frame to the last)."""
    n = int(pps * seconds)
    start = time.monotonic()
    for i in range(n):
        target = start + i / pps
        while True:
            wait = target - time.monotonic()
            if wait <= 0:
                break
            if wait > 0.002:
                time.sleep(wait - 0.001)
        raw.send(frames[i % len(frames)])
    return n, time.monotonic() - start


def settled(daemon, port, sent, base):
    wait_for(lambda: daemon.stats(port)["rx-packets"] - base >= sent,
             timeout=10, interval=0.05)
    time.sleep(0.2)


def storm_setup(daemon, topo, limit=1000):
    daemon.rpc("switch.add", name="sw0")
    vm1, if1 = add_vm(daemon, topo, "sw0", "vm1", mac=ATK)
    vm2, if2 = add_vm(daemon, topo, "sw0", "vm2", mac=SNIFF)
    daemon.rpc("port.set", name="vm1", storm_limit=limit)

    def counts():
        s1, s2 = daemon.stats("vm1"), daemon.stats("vm2")
        return (s1["rx-packets"], s1["drops"]["storm-limit"],
                s1["drops-total"], s2["tx-packets"])

    return F.RawPort(vm1, if1), F.RawPort(vm2, if2), counts


def paced_flood(daemon, tx, counts, frames, pps, seconds):
    """Sends 'frames' (cycled) at 'pps' for 'seconds' from vm1; returns
    (sent, duration, delivered to vm2, storm-limit drops) once the switch
    has received them all, checking that every frame is accounted for."""
    rx0, storm0, total0, tx0 = counts()
    sent, secs = paced_send(tx, frames, pps, seconds)
    assert 0.9 * pps <= sent / secs <= 1.1 * pps, (sent, secs)
    settled(daemon, "vm1", sent, rx0)
    rx1, storm1, total1, tx1 = counts()
    delivered, stormed = tx1 - tx0, storm1 - storm0
    assert rx1 - rx0 == sent
    assert delivered + stormed == sent, (delivered, stormed, sent)
    assert total1 - total0 == stormed
    return sent, secs, delivered, stormed


@pytest.mark.serial  # measures a rate
@pytest.mark.parametrize("flows", ["one-flow", "distinct-flows"])
def test_storm_limit_broadcast(daemon, topo, flows):
    """5000 broadcast frames a second for 2 s against a limit of 1000 pps:
    vm2 gets the limit's worth (with the 1/20 s burst), the storm-limit
    counter the rest.  "one-flow" is a storm of identical frames, as an
    ARP or a looped frame makes; "distinct-flows" varies the UDP port."""
    tx, rx, counts = storm_setup(daemon, topo)
    try:
        if flows == "one-flow":
            frames = [F.udp_broadcast(ATK, marker("bc"))]
        else:
            frames = F.with_sports(F.udp_broadcast(ATK, b"bc"), 10000)
        sent, secs, delivered, stormed = paced_flood(
            daemon, tx, counts, frames, 5000, 2.0)
        expected = 1000 * secs
        assert abs(delivered - expected) <= 0.1 * expected, (
            f"{delivered} of {sent} delivered in {secs:.2f} s, "
            f"{stormed} storm-limit drops; expected {expected:.0f}")
    finally:
        tx.close()
        rx.close()


@pytest.mark.serial  # measures a rate
def test_storm_limit_recovers(daemon, topo):
    """Once the bucket has refilled, the flow that went over the limit is
    admitted again."""
    tx, rx, counts = storm_setup(daemon, topo)
    try:
        frame = F.udp_broadcast(ATK, marker("bc"))
        _, storm0, _, _ = counts()
        for _ in range(300):  # well over the burst of 50
            tx.send(frame)
        wait_for(lambda: counts()[1] > storm0)
        time.sleep(1.5)
        _, storm0, _, tx0 = counts()
        for _ in range(5):  # 5 pps, far below the limit
            tx.send(frame)
            time.sleep(0.2)
        time.sleep(0.3)
        _, storm1, _, tx1 = counts()
        assert (tx1 - tx0, storm1 - storm0) == (5, 0), (
            f"of 5 frames 1.5 s after the storm, {tx1 - tx0} delivered, "
            f"{storm1 - storm0} dropped as storm-limit")
    finally:
        tx.close()
        rx.close()


@pytest.mark.serial  # measures a rate
def test_storm_limit_unicast(daemon, topo):
    tx, back, counts = storm_setup(daemon, topo)
    try:
        # Unknown unicast counts against the limit.
        frames = F.with_sports(F.udp_broadcast(ATK, b"uu", dst_mac=THIRD),
                               5000)
        sent, secs, delivered, stormed = paced_flood(
            daemon, tx, counts, frames, 5000, 1.0)
        assert abs(delivered - 1000 * secs) <= 0.1 * 1000 * secs, (
            delivered, stormed, secs)

        # Unicast to a known MAC is not limited.
        back.send(F.udp_broadcast(SNIFF, marker("learn")))
        wait_for(lambda: SNIFF in fdb_macs(daemon, "vm2"))
        frames = [F.udp_broadcast(ATK, marker("uc"), dst_mac=SNIFF)]
        sent, secs, delivered, stormed = paced_flood(
            daemon, tx, counts, frames, 5000, 1.0)
        assert (delivered, stormed) == (sent, 0)
    finally:
        tx.close()
        back.close()


# IEEE priority tag ----------------------------------------------------

def test_priority_tag(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    vm1, if1 = add_vm(daemon, topo, "sw0", "vm1", mac=ATK, vlan=10)
    up, peer = topo.veth()
    daemon.rpc("port.add", switch="sw0", name="up0", type="uplink",
               ifname=up)
    assert daemon.rpc("port.get", name="up0")["vlan-mode"] == "trunk"
    host = topo.netns("host")
    sh(["ip", "link", "set", peer, "netns", host])
    sh(["sysctl", "-q", "-w", f"net.ipv6.conf.{peer}.disable_ipv6=1"],
       ns=host)
    sh(["ip", "-n", host, "link", "set", peer, "up"])
    tx, rx = F.RawPort(vm1, if1), F.RawPort(host, peer)

    def tci_at_uplink(tags):
        mark = marker("pcp")
        rx.drain()
        tx.send(F.udp_broadcast(ATK, mark, tags=tags))
        got = rx.receive_until(lambda f: mark in f)
        assert got and mark in got[-1], "frame never reached the uplink"
        frame = got[-1]
        assert frame[12:14] == b"\x81\x00", frame[:18].hex()
        tci = int.from_bytes(frame[14:16], "big")
        return tci >> 13, tci & 0xFFF

    prio5 = [(0x8100, 5 << 13)]  # VID 0, PCP 5
    try:
        # Default, no policy at all on the port: reset to 0.
        assert tci_at_uplink(prio5) == (0, 10)
        # A port with a policy (another guard on) but the tag setting off.
        daemon.rpc("port.set", name="vm1", dhcp_guard=True)
        assert tci_at_uplink(prio5) == (0, 10)
        daemon.ctl("port", "set", "vm1", "ieee-priority-tag=on",
                   json_out=False)
        assert tci_at_uplink(prio5) == (5, 10)
        assert tci_at_uplink([]) == (0, 10)
        daemon.ctl("port", "set", "vm1", "ieee-priority-tag=off",
                   json_out=False)
        assert tci_at_uplink(prio5) == (0, 10)
    finally:
        tx.close()
        rx.close()


# Trace ----------------------------------------------------------------

def test_trace_names_the_guard(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    add_vm(daemon, topo, "sw0", "g1", "198.18.7.1", mac=ATK)
    add_vm(daemon, topo, "sw0", "g2", mac=SNIFF)
    add_vm(daemon, topo, "sw0", "g3", mac=THIRD)
    add_vm(daemon, topo, "sw0", "peer", "198.18.7.2")
    daemon.ctl("port", "set", "g1", "allowed-ips=198.18.7.1",
               json_out=False)
    daemon.ctl("port", "set", "g2", "dhcp-guard=on", "router-guard=on",
               json_out=False)
    daemon.ctl("port", "set", "g3", "vlan-mode=trunk", "dhcp-guard=on",
               json_out=False)
    cases = [
        ("g1", [f"eth-src={SPOOF}"], "mac-spoofing"),
        ("g1", ["arp-op=2", "ip-src=198.18.7.2", "ip-dst=198.18.7.9"],
         "ip-guard"),
        ("g2", ["dhcp-op=2"], "dhcp-guard"),
        ("g2", ["proto=udp", "ip-src=fe80::1", "ip-dst=ff02::1",
                "sport=547", "dport=546"], "dhcpv6-guard"),
        ("g2", ["proto=icmpv6", "ip-src=fe80::1", "ip-dst=ff02::1",
                "icmp-type=134"], "router-guard"),
        ("g2", ["proto=icmp", "ip-src=198.18.7.5", "ip-dst=198.18.7.2",
                "icmp-type=5"], "router-guard-redirect"),
        ("g2", ["frame=" + F.unknown_nh(SNIFF, b"t").hex()],
         "ipv6-unknown-next-header"),
        ("g2", ["frame=" + F.ra_in_second_fragment(SNIFF, b"t")[0].hex()],
         "ipv6-chain-incomplete"),
        ("g2", ["frame=" + F.atomic(F.ns6, SNIFF, b"t").hex()],
         "nd-fragment"),
        ("g3", ["frame=" + F.offer(THIRD, b"t", tags=[
            (0x8100, 10), (0x8100, 20), (0x8100, 30)]).hex()],
         "guard-too-many-vlans"),
    ]
    for port, fields, reason in cases:
        result = daemon.ctl("trace", "sw0", f"in-port={port}", *fields)
        assert result["verdict"] == "dropped", (fields, result)
        assert result["drop-reason"] == reason, (fields, result)
        assert result["outputs"] == []
        guard = [s for s in result["stages"] if s["stage"] == "guard"]
        assert guard and guard[0]["verdict"] == reason, result["stages"]
        assert result["stages"][-1]["stage"] == "guard"
    # The table form says the same.
    text = daemon.ctl("trace", "sw0", "in-port=g2", "dhcp-op=2",
                      json_out=False).stdout
    assert re.search(r"^guard\s+dhcp-guard", text, re.M), text
    assert "Dropped: dhcp-guard" in text
    # What a guard lets through is traced through it.
    result = daemon.ctl("trace", "sw0", "in-port=g2", "dhcp-op=1")
    assert result["verdict"] == "forwarded", result
    guard = [s for s in result["stages"] if s["stage"] == "guard"][0]
    assert guard["verdict"] == "continue" and "passed" in guard["detail"]
    # Tracing counted nothing.
    for port in ("g1", "g2", "g3"):
        assert daemon.stats(port)["drops-total"] == 0


def test_trace_leaves_guard_state_alone(pair_factory):
    """A trace has "no side effect": tracing a harmless first fragment must
    not make the guard forget a real datagram whose first fragment it
    dropped."""
    pair = pair_factory()
    d = pair.daemon
    pair.guard(router_guard=True)
    first, second = ra_fragmented(ATK, marker("ra"))
    expect_dropped(d, "atk", pair.tx, pair.rx, [first], "router-guard")
    # The same datagram (addresses, id), its first fragment now an echo.
    ip = F.IPv6(first[14:])
    echo = bytes(F.Ether(src=ATK, dst=F.ALL_NODES_MAC) /
                 F.IPv6(src=ip.src, dst=ip.dst, hlim=255) /
                 F.IPv6ExtHdrFragment(nh=58, id=0xBEEF, m=1, offset=0) /
                 F.ICMPv6EchoRequest() / F.Raw(bytes(40)))
    result = d.ctl("trace", "sw0", "in-port=atk", "frame=" + echo.hex())
    assert result["verdict"] == "forwarded", result
    expect_dropped(d, "atk", pair.tx, pair.rx, [second], "router-guard")


# Restart --------------------------------------------------------------

def test_guards_survive_kill9(daemon, topo):
    d = daemon
    d.rpc("switch.add", name="sw0")
    atk, atk_if = add_vm(d, topo, "sw0", "atk", mac=ATK)
    snf, snf_if = add_vm(d, topo, "sw0", "snf", mac=SNIFF)
    d.rpc("port.set", name="atk", router_guard=True, dhcp_guard=True,
          storm_limit=5000, allowed_ips=F.SERVER_IP + ",fe80::1")
    settings = {k: d.rpc("port.get", name="atk")[k]
                for k in ("router-guard", "dhcp-guard", "mac-spoofing",
                          "storm-limit", "allowed-ips")}
    tx, rx = F.RawPort(atk, atk_if), F.RawPort(snf, snf_if)
    ra = F.ra(ATK, marker("ra"))
    stop = threading.Event()

    def flood():
        while not stop.is_set():
            try:
                tx.send(ra)
            except OSError:
                pass  # no reader on the TAP while the daemon is down
            time.sleep(0.002)

    flooder = threading.Thread(target=flood)
    try:
        expect_dropped(d, "atk", tx, rx, [ra], "router-guard")
        rx.drain()
        flooder.start()
        wait_for(lambda: d.stats("atk")["drops"]["router-guard"] > 50)
        d.kill9()
        time.sleep(0.3)
        d.start()
        # An RA right after the restart, and the flood goes on.
        tx.send(ra)
        time.sleep(1.0)
        stop.set()
        flooder.join()
        time.sleep(0.2)
        # Not one RA of the flood reached the other VM, across the restart.
        seen = [f for f in rx.drain() if F.src_mac(f) == ATK]
        assert not seen, f"{len(seen)} RAs delivered across the restart"
        assert d.stats("atk")["drops"]["router-guard"] > 100
        assert {k: d.rpc("port.get", name="atk")[k] for k in settings} \
            == settings
        expect_dropped(d, "atk", tx, rx, [ra], "router-guard")
        expect_dropped(d, "atk", tx, rx, [F.offer(ATK, marker("o"))],
                       "dhcp-guard")
        expect_dropped(d, "atk", tx, rx, [F.udp_broadcast(SPOOF,
                                                          marker("s"))],
                       "mac-spoofing", macs=(ATK, SPOOF))
    finally:
        stop.set()
        if flooder.is_alive():
            flooder.join()
        tx.close()
        rx.close()
