"""vswitch-ctl trace (FEATURES.md section 10): a frame described on the
command line, or real frames of a port, explained stage by stage, in
table and JSON form, with no side effect on the switch."""

import subprocess

import pytest

from conftest import add_vm, ping, sh, wait_for
from test_acls import eth, inject, udp_packet

MAC1, MAC2, MAC3 = "02:00:00:00:0c:01", "02:00:00:00:0c:02", \
    "02:00:00:00:0c:03"
IP1, IP2, IP3 = "198.18.0.1", "198.18.0.2", "198.18.0.3"


def trace(daemon, switch, port, *fields):
    """(JSON result, table text) of one trace."""
    args = ["trace", switch, f"in-port={port}", *fields]
    result = daemon.ctl(*args)
    table = daemon.ctl(*args, json_out=False).stdout
    return result, table


def stage(result, name):
    """The (only, or last) stage called 'name'."""
    found = [s for s in result["stages"] if s["stage"] == name]
    assert found, (name, result["stages"])
    return found[-1]


def table_row(table, name):
    rows = [line for line in table.splitlines() if line.startswith(name)]
    assert rows, (name, table)
    return rows[-1]


def three_vms(daemon, topo, vlan=None):
    daemon.rpc("switch.add", name="sw0")
    return [add_vm(daemon, topo, "sw0", f"vm{i}", ip, vlan=vlan, mac=mac)
            for i, (ip, mac) in enumerate(((IP1, MAC1), (IP2, MAC2),
                                           (IP3, MAC3)), 1)]


def test_trace_vlan_tagged_on_access_port(daemon, topo):
    three_vms(daemon, topo, vlan=10)
    result, table = trace(daemon, "sw0", "vm1", f"eth-dst={MAC2}",
                          f"ip-dst={IP2}", "vlan=10")
    assert result["verdict"] == "dropped"
    assert result["drop-reason"] == "vlan-tagged"
    assert result["outputs"] == []
    assert [s["stage"] for s in result["stages"]] == ["parse",
                                                      "vlan-ingress"]
    assert "vlan 10" in stage(result, "parse")["detail"]
    assert stage(result, "vlan-ingress")["verdict"] == "vlan-tagged"
    assert "vlan-tagged" in table_row(table, "vlan-ingress")
    assert "Dropped: vlan-tagged" in table

    # The same frame untagged goes on, in the port's VLAN.
    result, table = trace(daemon, "sw0", "vm1", f"eth-dst={MAC2}",
                          f"ip-dst={IP2}")
    assert result["verdict"] == "forwarded"
    assert "VLAN 10" in stage(result, "vlan-ingress")["detail"]
    assert "Output:" in table and "Dropped" not in table


def test_trace_known_mac_versus_flood(daemon, topo):
    (vm1, _), (vm2, _), _ = three_vms(daemon, topo)
    fields = (f"eth-dst={MAC2}", f"ip-src={IP1}", f"ip-dst={IP2}",
              "proto=udp", "dport=53")
    result, table = trace(daemon, "sw0", "vm1", *fields)
    assert result["verdict"] == "forwarded"
    assert sorted(o["port"] for o in result["outputs"]) == ["vm2", "vm3"]
    detail = stage(result, "forward")["detail"]
    assert "unknown" in detail and "flooded to 2 ports" in detail
    assert "Output: vm2 (untagged, VLAN 0), vm3 (untagged, VLAN 0)" in \
        table or "Output: vm3 (untagged, VLAN 0), vm2 (untagged, VLAN 0)" \
        in table
    key = result["key"]
    assert MAC1 in key and MAC2 in key and IP1 in key and IP2 in key
    assert "udp" in key and "53" in key

    assert ping(vm2, IP1, count=1)   # vm2's MAC is learned now
    result, table = trace(daemon, "sw0", "vm1", *fields)
    assert result["outputs"] == [{"port": "vm2", "tagged": False,
                                  "vlan": 0}]
    assert stage(result, "forward")["detail"] == \
        "destination MAC learned on port vm2"
    assert "learned on port vm2" in table_row(table, "forward")
    assert "Output: vm2 (untagged, VLAN 0)\n" in table


def test_trace_acl_deny_names_the_list_and_rule(daemon, topo):
    _, (vm2, _), _ = three_vms(daemon, topo)
    assert ping(vm2, IP1, count=1)       # so vm2 is a known destination
    ip_rule = daemon.ctl("acl", "add", "vm2", "action=deny",
                         "direction=in", f"remote-ip={IP1}")["ids"][0]
    result, table = trace(daemon, "sw0", "vm1", f"eth-dst={MAC2}",
                          f"ip-src={IP1}", f"ip-dst={IP2}", "proto=tcp",
                          "dport=22")
    assert result["verdict"] == "dropped"
    assert result["drop-reason"] == "acl-deny"
    acl_in = stage(result, "acl-in")
    assert acl_in["verdict"] == "acl-deny"
    assert "vm2" in acl_in["detail"]
    assert f"ip rule {ip_rule} denied" in acl_in["detail"]
    assert f"ip rule {ip_rule} denied" in table_row(table, "acl-in")
    assert "Dropped: acl-deny" in table

    # A broadcast: the denied destination drops out of the outputs only.
    result, table = trace(daemon, "sw0", "vm1", f"ip-src={IP1}",
                          f"ip-dst={IP2}", "arp-op=1")
    assert result["verdict"] == "forwarded"
    assert [o["port"] for o in result["outputs"]] == ["vm3"]
    assert f"ip rule {ip_rule} denied" in stage(result, "acl-in")["detail"]
    assert "Output: vm3 (untagged, VLAN 0)\n" in table

    # Out of the sending port, by a MAC rule.
    mac_rule = daemon.ctl("acl", "add", "vm1", "action=deny",
                          "direction=out", f"remote-mac={MAC3}")["ids"][0]
    result, table = trace(daemon, "sw0", "vm1", f"eth-dst={MAC3}",
                          f"ip-src={IP1}", f"ip-dst={IP3}")
    acl_out = stage(result, "acl-out")
    assert acl_out["verdict"] == "acl-deny"
    assert f"mac rule {mac_rule} denied" in acl_out["detail"]
    assert result["drop-reason"] == "acl-deny"
    assert "Dropped: acl-deny" in table
    # Traces count nothing.
    rules = daemon.ctl("acl", "list", "vm1")["rules"] + \
        daemon.ctl("acl", "list", "vm2")["rules"]
    assert all(r["packets"] == 0 for r in rules), rules
    # An allowed frame names the rule that allowed nothing: no rule.
    result, _ = trace(daemon, "sw0", "vm1", f"eth-dst={MAC2}",
                      f"ip-src={IP3}", f"ip-dst={IP2}")
    assert result["verdict"] == "forwarded"
    assert "allow" in stage(result, "acl-in")["detail"]


def test_trace_xacl_deny_names_the_weight(daemon, topo):
    three_vms(daemon, topo)
    daemon.ctl("xacl", "add", "vm1", "action=deny", "direction=out",
               "weight=42", "protocol=tcp", "remote-port=25")
    daemon.ctl("xacl", "add", "vm1", "action=allow", "direction=out",
               "weight=7", "protocol=tcp", "stateful=on")
    result, table = trace(daemon, "sw0", "vm1", f"eth-dst={MAC2}",
                          f"ip-src={IP1}", f"ip-dst={IP2}", "proto=tcp",
                          "dport=25")
    acl_out = stage(result, "acl-out")
    assert acl_out["verdict"] == "xacl-deny"
    assert "weight 42" in acl_out["detail"]
    assert "weight 42" in table_row(table, "acl-out")
    assert result["drop-reason"] == "xacl-deny"
    assert "Dropped: xacl-deny" in table
    # Port 26 falls to the stateful allow, which a trace must not turn
    # into flow state.
    result, table = trace(daemon, "sw0", "vm1", f"eth-dst={MAC2}",
                          f"ip-src={IP1}", f"ip-dst={IP2}", "proto=tcp",
                          "dport=26")
    assert "weight 7" in stage(result, "acl-out")["detail"]
    assert result["verdict"] == "forwarded"
    listed = daemon.ctl("xacl", "list", "vm1")
    assert listed["flows"] == 0
    assert all(r["packets"] == 0 for r in listed["rules"])


def test_trace_pvlan_isolation_drop(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    vms = {}
    for name, ip, mac in (("iso1", IP1, MAC1), ("iso2", IP2, MAC2)):
        vms[name] = add_vm(daemon, topo, "sw0", name, ip, mac=mac)
        daemon.rpc("port.set", name=name, vlan_mode="pvlan-isolated",
                   pvlan_primary=100, pvlan_secondary="101")
    # A broadcast from an isolated port with no promiscuous port.
    result, table = trace(daemon, "sw0", "iso1", f"ip-src={IP1}",
                          f"ip-dst={IP2}", "arp-op=1")
    assert "private VLAN" in stage(result, "vlan-ingress")["detail"]
    assert stage(result, "forward")["verdict"] == "pvlan-isolation"
    assert result["drop-reason"] == "pvlan-isolation"
    assert "Dropped: pvlan-isolation" in table

    # Unicast to the other isolated port, once its MAC is learned.
    ns2, if2 = vms["iso2"]
    inject(ns2, if2, eth("ff:ff:ff:ff:ff:ff", MAC2, 0x88B5, b"hello"))
    wait_for(lambda: any(e["mac"] == MAC2 for e in
                         daemon.rpc("fdb.show", switch="sw0")["entries"]))
    result, table = trace(daemon, "sw0", "iso1", f"eth-dst={MAC2}",
                          f"ip-src={IP1}", f"ip-dst={IP2}", "proto=udp")
    forward = stage(result, "forward")
    assert forward["verdict"] == "pvlan-isolation"
    assert "learned on port iso2" in forward["detail"]
    assert result["outputs"] == []
    assert "Dropped: pvlan-isolation" in table

    # With a promiscuous port the broadcast has a destination.
    add_vm(daemon, topo, "sw0", "prom", IP3, mac=MAC3)
    daemon.rpc("port.set", name="prom", vlan_mode="pvlan-promiscuous",
               pvlan_primary=100, pvlan_secondary="101")
    result, _ = trace(daemon, "sw0", "iso1", f"ip-src={IP1}",
                      f"ip-dst={IP2}", "arp-op=1")
    assert [o["port"] for o in result["outputs"]] == ["prom"]


def test_trace_hex_frame(daemon, topo):
    three_vms(daemon, topo)
    frame = eth(MAC2, MAC1, 0x0800, udp_packet(IP1, IP2, 4000, 5000))
    result, table = trace(daemon, "sw0", "vm1", f"frame={frame.hex()}")
    assert result["frame-length"] == len(frame)
    key = result["key"]
    for part in (MAC1, MAC2, IP1, IP2, "udp", "4000", "5000"):
        assert part in key, (part, key)
    assert result["verdict"] == "forwarded"
    assert sorted(o["port"] for o in result["outputs"]) == ["vm2", "vm3"]
    assert key in table_row(table, "parse")
    # Separators are allowed; the same frame, the same key.
    spaced = ":".join(f"{b:02x}" for b in frame)
    assert trace(daemon, "sw0", "vm1", f"frame={spaced}")[0]["key"] == key
    # A runt says so.
    result, table = trace(daemon, "sw0", "vm1", "frame=" + frame[:10].hex())
    assert result["verdict"] == "dropped"
    assert result["drop-reason"] == "runt"
    assert "Dropped: runt" in table


@pytest.mark.parametrize("fields, message", [
    (["ip-dst=1.2.3"], "ip-dst"),
    (["eth-src=02:00:00:00:00"], "eth-src"),
    (["frame=zz00"], "frame"),
    (["frame=abc"], "frame"),
    (["vlan=5000"], "vlan"),
    (["proto=sctpx"], "proto"),
    (["dport=70000"], "dport"),
    (["ip-src=198.18.0.1", "ip-dst=2001:db8::1"], "family"),
    (["colour=blue"], "colour"),
])
def test_trace_bad_fields_are_errors(daemon, topo, fields, message):
    three_vms(daemon, topo)
    for json_out in (True, False):
        res = daemon.ctl("trace", "sw0", "in-port=vm1", *fields,
                         check=False, json_out=json_out)
        assert res.returncode != 0, fields
        assert res.stdout == ""
        assert message in res.stderr, res.stderr


def test_trace_bad_ports_are_errors(daemon, topo):
    three_vms(daemon, topo)
    daemon.rpc("switch.add", name="sw1")
    for args in (["sw0", "in-port=nosuch"], ["sw1", "in-port=vm1"],
                 ["nosuch", "in-port=vm1"], ["sw0"]):
        res = daemon.ctl("trace", *args, check=False, json_out=False)
        assert res.returncode != 0, args
        assert res.stderr.strip(), args


def test_trace_live_real_frames(daemon, topo):
    (vm1, if1), (vm2, _), _ = three_vms(daemon, topo)
    # No ARP among the traced frames: only the echo requests.
    sh(["ip", "neigh", "replace", IP2, "lladdr", MAC2, "nud", "permanent",
        "dev", if1], ns=vm1)
    assert ping(vm1, IP2, count=1)
    for json_out in (True, False):
        pinger = subprocess.Popen(
            ["ip", "netns", "exec", vm1, "ping", "-c", "20", "-i", "0.2",
             IP2], stdout=subprocess.DEVNULL)
        try:
            out = daemon.ctl("--timeout", "10", "trace", "sw0",
                             "in-port=vm1", "live=2", json_out=json_out)
        finally:
            pinger.kill()
            pinger.wait()
        if json_out:
            traces = out["traces"]
            assert len(traces) == 2, out
            for t in traces:
                assert MAC1 in t["key"] and IP2 in t["key"], t["key"]
                assert "icmp" in t["key"]
                assert t["verdict"] == "forwarded"
                assert [o["port"] for o in t["outputs"]] == ["vm2"]
                assert t["frame-length"] == 98
                assert [s["stage"] for s in t["stages"]][0] == "parse"
        else:
            text = out.stdout
            assert "Frame 1 (98 bytes):" in text, text
            assert "Frame 2 (98 bytes):" in text, text
            assert "Frame 3" not in text
            assert text.count("Output: vm2 (untagged, VLAN 0)") == 2
            assert "arrived within" not in text + out.stderr


def test_trace_live_bad_counts_are_errors(daemon, topo):
    three_vms(daemon, topo)
    for count in ("0", "17", "x"):
        res = daemon.ctl("--timeout", "2", "trace", "sw0", "in-port=vm1",
                         f"live={count}", check=False, json_out=False)
        assert res.returncode != 0, count
        assert res.stderr.strip(), count


def test_trace_live_fails_on_a_short_count(daemon, topo):
    """Fewer frames than asked for within --timeout: exit 1 and say so, in
    both formats, so that a script waiting for traffic notices."""
    three_vms(daemon, topo)
    for fmt in ("table", "json"):
        res = daemon.ctl("--timeout", "2", "--format", fmt, "trace", "sw0",
                         "in-port=vm3", "live=2", check=False,
                         json_out=False)
        assert res.returncode == 1, (fmt, res)
        assert res.stderr == ("vswitch-ctl: trace: 0 of 2 frames arrived "
                              "within 2 s (--timeout)\n"), res.stderr


def test_trace_has_no_side_effects(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    # No assigned MAC: any source MAC may be sent (and traced).
    vm1, if1 = add_vm(daemon, topo, "sw0", "vm1", IP1)
    vm2, _ = add_vm(daemon, topo, "sw0", "vm2", IP2)
    assert ping(vm1, IP2, count=1)
    daemon.ctl("acl", "add", "vm2", "action=meter", "direction=in",
               "remote-ip=ANY")
    fdb = lambda: sorted((e["vlan"], e["mac"], e["port"]) for e in
                         daemon.rpc("fdb.show", switch="sw0")["entries"])
    learned = fdb()
    assert len(learned) == 2
    counters = daemon.rpc("port.stats")
    rules = daemon.ctl("acl", "list", "vm2")["rules"]

    new_mac = "02:00:00:00:0c:99"
    for _ in range(5):
        result, table = trace(daemon, "sw0", "vm1", f"eth-src={new_mac}",
                              f"ip-src={IP1}", f"ip-dst={IP2}",
                              "proto=udp")
        assert "would be learned" in stage(result, "learn")["detail"]
        assert result["verdict"] == "forwarded"

    assert fdb() == learned
    assert new_mac not in str(learned)
    assert daemon.rpc("port.stats") == counters
    assert daemon.ctl("acl", "list", "vm2")["rules"] == rules
    # And a real frame from that MAC is learned: the check can fail.
    inject(vm1, if1, eth("ff:ff:ff:ff:ff:ff", new_mac, 0x88B5, b"x"))
    wait_for(lambda: any(e["mac"] == new_mac for e in
                         daemon.rpc("fdb.show", switch="sw0")["entries"]))
