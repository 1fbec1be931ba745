"""Policy and extensions on the fast path (issue 17): ports with ACLs and
switches with extensions use the flow cache, and every counter stays
exact.

Each flow is sent once (the frame misses the cache and runs the stages),
then many times (the frames take the cached verdict), and every rule
counter, drop counter and port counter is compared with the number of
frames sent.  The VMs have no IP addresses and IPv6 off, so their kernels
send nothing of their own, and the frames are addressed to IPs they do
not own, so they answer nothing either: the only frames are the test's.
"""

import json
import time

import pytest

from conftest import add_vm, ext_stats, wait_for
from test_acls import eth, inject, udp_packet
from test_ext_samples import SAMPLES, dns_message, tcpdump

MACS = {"p": "02:00:00:00:17:10", "a": "02:00:00:00:17:01"}
P_IP = "198.18.0.10"
OUT_OK = "198.18.7.7"   # p sends here: allowed
OUT_DENY = "198.18.7.8"  # p sends here: denied by a basic rule
PEER = "198.18.9.9"     # a sends from here to p
N = 40                  # cached frames per flow


def cache_hits(daemon):
    return sum(w["cache-hits"] for w in daemon.rpc("dp.show")["workers"])


def pair(daemon, topo, names=("p", "a"), macs=MACS):
    """sw0 with raw-socket VMs 'names'; each has sent one frame, so the
    switch knows every MAC before the test adds its rules."""
    daemon.rpc("switch.add", name="sw0")
    vms = {n: add_vm(daemon, topo, "sw0", n, mac=macs[n]) for n in names}
    for n, (ns, ifname) in vms.items():
        inject(ns, ifname, eth("ff:ff:ff:ff:ff:ff", macs[n], 0x88B5, b"hi"))
    wait_for(lambda: {e["mac"] for e in daemon.rpc(
        "fdb.show", switch="sw0")["entries"]} >= set(macs[n] for n in names))
    return vms


def exactly(read, expected):
    """Waits for read() to reach 'expected', then checks that it stays
    there (no frame counted twice)."""
    wait_for(lambda: read() == expected or read())
    wait_for(lambda: read() == expected, timeout=5)
    time.sleep(0.3)
    assert read() == expected


def acl_rules(daemon, port):
    return {r["id"]: (r["packets"], r["bytes"])
            for r in daemon.ctl("acl", "list", port)["rules"]}


def xacl_rules(daemon, port):
    return {(r["direction"], r["weight"]): (r["packets"], r["bytes"])
            for r in daemon.ctl("xacl", "list", port)["rules"]}


def acl_add(daemon, port, **kw):
    args = [f"{k.replace('_', '-')}={v}" for k, v in kw.items()]
    return daemon.ctl("acl", "add", port, *args)["ids"][0]


def xacl_add(daemon, port, **kw):
    args = [f"{k.replace('_', '-')}={v}" for k, v in kw.items()]
    return daemon.ctl("xacl", "add", port, *args)


def test_rule_counters_exact_on_cached_and_uncached_frames(daemon, topo):
    vms = pair(daemon, topo)
    (p, pif), (a, aif) = vms["p"], vms["a"]
    # Extended rules first: an allow out to UDP port 5678, a deny in from
    # UDP port 6666; what they do not match goes to the basic rules.
    xacl_add(daemon, "p", action="allow", direction="out", weight=100,
             protocol="udp", remote_port=5678)
    xacl_add(daemon, "p", action="deny", direction="in", weight=50,
             protocol="udp", remote_port=6666)
    ip_allow_out = acl_add(daemon, "p", action="allow", direction="out",
                           remote_ip=OUT_OK)
    ip_deny_out = acl_add(daemon, "p", action="deny", direction="out",
                          remote_ip=OUT_DENY)
    mac_allow_out = acl_add(daemon, "p", action="allow", direction="out",
                            remote_mac=MACS["a"])
    meter_out = acl_add(daemon, "p", action="meter", direction="out",
                        remote_ip="198.18.0.0/15")
    ip_allow_in = acl_add(daemon, "p", action="allow", direction="in",
                          remote_ip=PEER)
    meter_in = acl_add(daemon, "p", action="meter", direction="in",
                       remote_ip="198.18.0.0/15")

    def frame(src_vm, dst_vm, src, dst, sport, dport):
        return eth(MACS[dst_vm], MACS[src_vm], 0x0800,
                   udp_packet(src, dst, sport, dport))

    flows = {
        # p -> a, allowed by the extended rule (basic rules not asked)
        "xacl-allow": (p, pif, frame("p", "a", P_IP, OUT_OK, 1111, 5678)),
        # p -> a, no extended match: basic IP allow, MAC allow, meter
        "acl-allow": (p, pif, frame("p", "a", P_IP, OUT_OK, 1111, 9999)),
        # p -> a, basic IP deny (MAC allow and meter count it too)
        "acl-deny": (p, pif, frame("p", "a", P_IP, OUT_DENY, 1111, 9999)),
        # a -> p, denied by p's extended rule, direction in
        "xacl-deny-in": (a, aif, frame("a", "p", PEER, P_IP, 6666, 2222)),
        # a -> p, basic IP allow in and meter in
        "acl-allow-in": (a, aif, frame("a", "p", PEER, P_IP, 7777, 2222)),
    }
    size = len(flows["xacl-allow"][2])
    assert all(len(f) == size for _, _, f in flows.values())
    before = {n: daemon.stats(n) for n in ("p", "a")}

    # One frame of each flow: misses, which run the stages and fill the
    # cache; then N more of each, which hit.
    sent = 0
    for count in (1, N):
        hits = cache_hits(daemon)
        for ns, ifname, f in flows.values():
            inject(ns, ifname, f, count)
        sent += count
        exactly(lambda: daemon.stats("a")["tx-packets"]
                - before["a"]["tx-packets"], 2 * sent)
        exactly(lambda: daemon.stats("p")["tx-packets"]
                - before["p"]["tx-packets"], sent)
        exactly(lambda: daemon.stats("p")["drops"]["xacl-deny"]
                - before["p"]["drops"]["xacl-deny"], sent)
        if count == N:
            # Every frame of every flow took the cached verdict.
            assert cache_hits(daemon) - hits >= 5 * N

    total = (sent, sent * size)
    assert xacl_rules(daemon, "p") == {("out", 100): total,
                                       ("in", 50): total}
    assert acl_rules(daemon, "p") == {
        ip_allow_out: total,
        ip_deny_out: total,
        mac_allow_out: (2 * sent, 2 * sent * size),  # acl-allow + acl-deny
        meter_out: (2 * sent, 2 * sent * size),
        ip_allow_in: total,
        meter_in: total,
    }
    p_stats, a_stats = daemon.stats("p"), daemon.stats("a")
    assert p_stats["rx-packets"] - before["p"]["rx-packets"] == 3 * sent
    assert p_stats["rx-bytes"] - before["p"]["rx-bytes"] == 3 * sent * size
    assert p_stats["drops"]["acl-deny"] - \
        before["p"]["drops"]["acl-deny"] == sent
    assert a_stats["rx-packets"] - before["a"]["rx-packets"] == 2 * sent
    assert a_stats["tx-bytes"] - before["a"]["tx-bytes"] == 2 * sent * size

    # A trace still explains a cached flow stage by stage (it runs the
    # stages itself, never a worker's cache) and counts nothing.
    counted = acl_rules(daemon, "p"), xacl_rules(daemon, "p")
    denied = daemon.ctl("trace", "sw0", "in-port=p",
                        "frame=" + flows["acl-deny"][2].hex())
    allowed = daemon.ctl("trace", "sw0", "in-port=p",
                         "frame=" + flows["xacl-allow"][2].hex())
    assert allowed["verdict"] == "forwarded", allowed
    assert denied["verdict"] != "forwarded", denied
    assert "acl-deny" in json.dumps(denied), denied
    assert "acl-out" in json.dumps(denied), denied
    assert (acl_rules(daemon, "p"), xacl_rules(daemon, "p")) == counted


@pytest.mark.serial
def test_stateful_flow_cached_refreshes_and_expires(daemon, topo):
    vms = pair(daemon, topo)
    (p, pif), (a, aif) = vms["p"], vms["a"]
    xacl_add(daemon, "p", action="deny", direction="in", weight=1)
    xacl_add(daemon, "p", action="allow", direction="out", weight=100,
             protocol="udp", stateful="on", idle_timeout=2)
    src = "198.18.0.99"  # not p's own: p's kernel ignores the replies
    out = eth(MACS["a"], MACS["p"], 0x0800,
              udp_packet(src, OUT_OK, 1111, 2222))
    reply = eth(MACS["p"], MACS["a"], 0x0800,
                udp_packet(OUT_OK, src, 2222, 1111))

    def flows():
        return daemon.ctl("xacl", "list", "p")["flows"]

    def allow_out():
        return xacl_rules(daemon, "p")[("out", 100)][0]

    def a_tx():
        return daemon.stats("a")["tx-packets"]

    def denied():
        return daemon.stats("p")["drops"]["xacl-deny"]

    # The first frame creates the flow (never cached); the second is
    # admitted by it and fills the cache; the later ones hit.
    tx = a_tx()
    inject(p, pif, out)
    exactly(a_tx, tx + 1)
    assert (flows(), allow_out()) == (1, 1)
    hits = cache_hits(daemon)
    inject(p, pif, out)
    exactly(a_tx, tx + 2)
    assert cache_hits(daemon) == hits
    inject(p, pif, out, N)
    exactly(a_tx, tx + 2 + N)
    assert cache_hits(daemon) - hits >= N
    assert allow_out() == 1  # admitted by state: no rule decided

    # Cache hits keep the flow alive well past its idle timeout.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        inject(p, pif, out)
        time.sleep(0.4)
    assert flows() == 1
    assert allow_out() == 1
    # The reply direction passes while the flow lives.
    tx_p, drops = daemon.stats("p")["tx-packets"], denied()
    inject(a, aif, reply)
    exactly(lambda: daemon.stats("p")["tx-packets"], tx_p + 1)
    assert denied() == drops

    # Idle: the flow expires as without the cache ...
    wait_for(lambda: flows() == 0, timeout=15)
    inject(a, aif, reply)
    exactly(denied, drops + 1)
    # ... and the cache entry that relied on it is not used: the next
    # frame goes through the rule again and makes a new flow.
    tx = a_tx()
    inject(p, pif, out)
    exactly(a_tx, tx + 1)
    assert (flows(), allow_out()) == (1, 2)


DNS_MACS = {"c": "02:00:00:00:17:21", "d": "02:00:00:00:17:22"}


def test_filter_and_capture_extensions_see_cache_hits(daemon, topo,
                                                      tmp_path):
    vms = pair(daemon, topo, names=("c", "d"), macs=DNS_MACS)
    c, cif = vms["c"]
    for name in ("pcap-capture", "dnsblock"):
        assert daemon.ctl("ext", "load", SAMPLES / f"{name}.so")[
            "state"] == "ready"
    pcap = tmp_path / "c.pcap"
    daemon.rpc("ext.enable", switch="sw0", name="pcap-capture")
    daemon.rpc("ext.config", switch="sw0", name="pcap-capture",
               config={"file": str(pcap), "ports": ["c"]})
    daemon.rpc("ext.enable", switch="sw0", name="dnsblock")
    daemon.rpc("ext.config", switch="sw0", name="dnsblock",
               config={"names": ["blocked.test"]})

    def query(name):
        # One flow (same addresses and ports) whatever the name: the
        # cache cannot tell them apart, the filter can.
        payload = dns_message(0x1717, name)
        ip = udp_packet("198.18.17.1", "198.18.17.53", 33333, 53, payload)
        return eth(DNS_MACS["d"], DNS_MACS["c"], 0x0800, ip)

    def d_tx():
        return daemon.stats("d")["tx-packets"]

    def filtered():
        return daemon.stats("c")["drops"]["ext-filter"]

    tx, drops = d_tx(), filtered()
    inject(c, cif, query(b"allowed.test"))
    exactly(d_tx, tx + 1)
    hits = cache_hits(daemon)
    inject(c, cif, query(b"allowed.test"), N)
    exactly(d_tx, tx + 1 + N)
    assert cache_hits(daemon) - hits >= N
    # The same flow with a blocked name: the cached verdict forwards, the
    # filter drops, and the filter wins on every frame.
    hits = cache_hits(daemon)
    inject(c, cif, query(b"blocked.test"), N)
    exactly(filtered, drops + N)
    assert cache_hits(daemon) - hits >= N
    inject(c, cif, query(b"allowed.test"))
    exactly(d_tx, tx + 2 + N)
    assert ext_stats(daemon, "dnsblock")["dropped"] == N
    # The capture extension saw every frame c sent, hits included.
    def records():
        s = ext_stats(daemon, "pcap-capture")["ext"]
        return s["written"] if s["written"] == s["sampled"] else None
    exactly(records, 2 * N + 2)
    assert len(tcpdump(pcap, "udp port 53")) == 2 * N + 2
