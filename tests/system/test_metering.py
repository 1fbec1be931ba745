"""Metering (FEATURES.md section 7) and port export/import, on real
traffic between namespaces.

The metered VM "p" has 10.0.0.1/8 and 192.168.77.1/24; its peer "a" has
10.0.0.2/8 and 192.168.77.2/24 on the same link.  With IPv6 off, the only
IP packets p sends are the echo requests of the pings a test makes, so
meters on p's out direction count exactly: a 98-byte frame per echo
request (14 + 20 + 8 + 56).
"""

import json
import subprocess
import time

from conftest import RpcError, add_vm, sh, unique, wait_for

P_IPS = ("10.0.0.1/8", "192.168.77.1/24")
A_IPS = ("10.0.0.2/8", "192.168.77.2/24")
IN_10 = "10.0.0.2"        # matched by a 10.0.0.0/8 meter
ELSEWHERE = "192.168.77.2"  # matched by 0.0.0.0/0 only
ECHO = 98                 # bytes of a default echo request frame
INVALID_PARAMS = -32602


def vm(daemon, topo, switch, port, ips):
    ns, ifname = add_vm(daemon, topo, switch, port)
    for ip in ips:
        sh(["ip", "-n", ns, "addr", "add", ip, "dev", ifname])
    return ns


def lan(daemon, topo, switch="sw0"):
    daemon.rpc("switch.add", name=switch)
    return vm(daemon, topo, switch, "p", P_IPS), \
        vm(daemon, topo, switch, "a", A_IPS)


def pings(ns, addr, count, interval="0.05"):
    """Sends exactly 'count' echo requests; all must be answered."""
    res = sh(["ping", "-q", "-c", str(count), "-i", interval, "-W", "2",
              addr], ns=ns, check=False)
    assert res.returncode == 0, res.stdout + res.stderr


def show(daemon, port):
    return daemon.ctl("metering", "show", port)


def meters(daemon, port):
    """{(direction, match): meter} of 'port'."""
    return {(m["direction"], m["match"]): m
            for m in show(daemon, port)["meters"]}


def meter_add(daemon, port, direction, remote_ip):
    return daemon.ctl("acl", "add", port, "action=meter",
                      f"direction={direction}",
                      f"remote-ip={remote_ip}")["ids"][0]


def counts(daemon, port):
    return {k: (m["packets"], m["bytes"])
            for k, m in meters(daemon, port).items()}


def test_meter_rules_split_by_longest_match(daemon, topo):
    p, a = lan(daemon, topo)
    daemon.ctl("metering", "enable", "p", json_out=False)
    r8 = meter_add(daemon, "p", "out", "10.0.0.0/8")
    r0 = meter_add(daemon, "p", "out", "0.0.0.0/0")
    pings(p, IN_10, 7)
    pings(p, ELSEWHERE, 4)
    m = meters(daemon, "p")
    assert m[("out", "remote-ip 10.0.0.0/8")]["rule"] == r8
    assert m[("out", "remote-ip 10.0.0.0/8")]["packets"] == 7
    assert m[("out", "remote-ip 10.0.0.0/8")]["bytes"] == 7 * ECHO
    assert m[("out", "remote-ip 0.0.0.0/0")]["rule"] == r0
    assert m[("out", "remote-ip 0.0.0.0/0")]["packets"] == 4
    assert m[("out", "remote-ip 0.0.0.0/0")]["bytes"] == 4 * ECHO
    # Out has meter rules, so no out total; in has none: its total counts
    # everything the switch sent p (the 11 replies and some ARP).
    assert ("out", "total") not in m
    total_in = m[("in", "total")]
    assert total_in["rule"] is None and total_in["counting"]
    assert total_in["packets"] >= 11 and total_in["bytes"] >= 11 * ECHO
    # The table shows the same.
    text = daemon.ctl("metering", "show", "p", json_out=False).stdout
    assert "port p: metering on" in text
    assert "remote-ip 10.0.0.0/8" in text and "total" in text

    # Off: nothing is counted, the counts stay.  On again: counting goes
    # on from there.
    daemon.ctl("metering", "disable", "p", json_out=False)
    pings(p, IN_10, 3)
    assert meters(daemon, "p")[("out", "remote-ip 10.0.0.0/8")][
        "packets"] == 7
    assert all(not m["counting"] for m in show(daemon, "p")["meters"])
    daemon.ctl("metering", "enable", "p", json_out=False)
    pings(p, IN_10, 2)
    assert meters(daemon, "p")[("out", "remote-ip 10.0.0.0/8")][
        "packets"] == 9

    # A port without metering has no meters.
    assert show(daemon, "a") == {"port": "a", "metering": False,
                                 "meters": []}


def test_totals_without_meter_rules(daemon, topo):
    p, a = lan(daemon, topo)
    # An allow rule is no meter: the totals still count.
    daemon.ctl("acl", "add", "p", "action=allow", "direction=out",
               "remote-ip=10.0.0.0/8")
    daemon.ctl("port", "set", "p", "metering=on", json_out=False)
    before = daemon.stats("p")
    pings(p, IN_10, 5)
    after = daemon.stats("p")
    m = meters(daemon, "p")
    out, inn = m[("out", "total")], m[("in", "total")]
    # Out is what p sent (rx of the port), in what the switch sent it.
    assert out["packets"] == after["rx-packets"] - before["rx-packets"]
    assert out["bytes"] == after["rx-bytes"] - before["rx-bytes"]
    assert inn["packets"] == after["tx-packets"] - before["tx-packets"]
    assert out["packets"] >= 5 and inn["packets"] >= 5
    assert out["bytes"] >= 5 * ECHO

    # A meter rule added later takes over its direction; the total keeps
    # what it counted and stops.
    meter_add(daemon, "p", "out", "0.0.0.0/0")
    pings(p, IN_10, 3)
    m = meters(daemon, "p")
    assert m[("out", "remote-ip 0.0.0.0/0")]["packets"] == 3
    assert m[("out", "total")]["packets"] == out["packets"]
    assert not m[("out", "total")]["counting"]


def test_rates_present_and_plausible(daemon, topo):
    p, a = lan(daemon, topo)
    daemon.ctl("metering", "enable", "p", json_out=False)
    meter_add(daemon, "p", "out", "10.0.0.0/8")
    # About 50 echo requests a second for 4 s: 50 * 98 * 8 = 39 kbit/s.
    start = time.monotonic()
    pings(p, IN_10, 200, interval="0.02")
    elapsed = time.monotonic() - start
    m = meters(daemon, "p")[("out", "remote-ip 10.0.0.0/8")]
    average = 200 * ECHO * 8 / elapsed
    # The 1 s window saw the last second of the pings, the 10 s one all of
    # them (spread over at most 10 s): both are of the right size.
    assert average / 4 < m["bps-1s"] < average * 4, (m, average)
    assert average / 4 < m["bps-10s"] < average * 4, (m, average)
    assert 0 < m["pps-1s"] < 400 and 0 < m["pps-10s"] < 400
    assert abs(float(m["megabytes"]) - m["bytes"] / 1e6) <= 0.005
    # Without traffic the 1 s rate falls to zero.
    wait_for(lambda: meters(daemon, "p")[
        ("out", "remote-ip 10.0.0.0/8")]["bps-1s"] == 0, timeout=5)


def test_counters_survive_a_graceful_restart(daemon, topo):
    p, a = lan(daemon, topo)
    daemon.ctl("metering", "enable", "p", json_out=False)
    meter_add(daemon, "p", "out", "10.0.0.0/8")
    pings(p, IN_10, 6)
    before = counts(daemon, "p")
    assert before[("out", "remote-ip 10.0.0.0/8")] == (6, 6 * ECHO)
    daemon.stop()
    saved = json.loads((daemon.state_dir / "metering.json").read_text())
    assert saved["format"] == 1
    daemon.start()
    assert counts(daemon, "p") == before
    assert show(daemon, "p")["metering"] is True
    # Counting goes on from the saved values.
    wait_for(lambda: daemon.rpc("port.get", name="p")["link"] == "up")
    pings(p, IN_10, 2)
    assert counts(daemon, "p")[("out", "remote-ip 10.0.0.0/8")] == \
        (8, 8 * ECHO)


def test_counters_survive_kill9_within_the_save_interval(daemon, topo):
    p, a = lan(daemon, topo)
    daemon.ctl("switch", "set", "sw0", "metering-save-interval=1",
               json_out=False)
    daemon.ctl("metering", "enable", "p", json_out=False)
    meter_add(daemon, "p", "out", "0.0.0.0/0")
    pings(p, ELSEWHERE, 5)
    before = counts(daemon, "p")
    # Longer than the interval and the tick that notices it, with room
    # for a loaded machine: the counts are on disk.
    time.sleep(3.5)
    daemon.kill9()
    daemon.start()
    assert counts(daemon, "p") == before
    assert before[("out", "remote-ip 0.0.0.0/0")] == (5, 5 * ECHO)


def test_counts_newer_than_the_last_save_die_with_kill9_not_with_stop(
        daemon, topo):
    """The save interval is what protects the counts from a kill -9 (so
    the test above can fail): with an interval of an hour, a kill -9 loses
    what was counted since the last save, a clean stop does not."""
    p, a = lan(daemon, topo)
    assert daemon.rpc("switch.get", name="sw0")[
        "metering-save-interval"] == 10
    daemon.ctl("switch", "set", "sw0", "metering-save-interval=3600",
               json_out=False)
    daemon.ctl("metering", "enable", "p", json_out=False)
    meter_add(daemon, "p", "out", "0.0.0.0/0")
    pings(p, ELSEWHERE, 3)
    daemon.kill9()
    daemon.start()
    assert counts(daemon, "p")[("out", "remote-ip 0.0.0.0/0")] == (0, 0)
    wait_for(lambda: daemon.rpc("port.get", name="p")["link"] == "up")
    pings(p, ELSEWHERE, 3)
    daemon.stop()
    daemon.start()
    assert counts(daemon, "p")[("out", "remote-ip 0.0.0.0/0")] == \
        (3, 3 * ECHO)


def test_reset(daemon, topo):
    p, a = lan(daemon, topo)
    daemon.ctl("metering", "enable", "p", json_out=False)
    meter_add(daemon, "p", "out", "10.0.0.0/8")
    pings(p, IN_10, 3)
    assert counts(daemon, "p")[("out", "remote-ip 10.0.0.0/8")][0] == 3
    daemon.ctl("metering", "reset", "p", json_out=False)
    assert all(c == (0, 0) for c in counts(daemon, "p").values())
    # Saved at once: a kill -9 keeps the zeros.
    daemon.kill9()
    daemon.start()
    assert all(c == (0, 0) for c in counts(daemon, "p").values())
    wait_for(lambda: daemon.rpc("port.get", name="p")["link"] == "up")
    pings(p, IN_10, 2)
    assert counts(daemon, "p")[("out", "remote-ip 10.0.0.0/8")] == \
        (2, 2 * ECHO)
    # Off and reset: the port keeps no meters, and with no meters left
    # anywhere the daemon keeps no metering.json.
    assert (daemon.state_dir / "metering.json").exists()
    daemon.ctl("metering", "disable", "p", json_out=False)
    daemon.ctl("metering", "reset", "p", json_out=False)
    assert show(daemon, "p")["meters"] == []
    assert not (daemon.state_dir / "metering.json").exists()


def test_corrupt_metering_file_is_kept_aside(daemon, topo):
    p, a = lan(daemon, topo)
    daemon.ctl("metering", "enable", "p", json_out=False)
    daemon.stop()
    path = daemon.state_dir / "metering.json"
    path.write_text('{"format": 1, "ports": [{"name": "p", "meters": 7}]}')
    daemon.start()
    log = daemon.log.read_text()
    assert "metering: ports[0]: no name or no meters list" in log
    aside = list(daemon.state_dir.glob("metering.json.corrupt-*"))
    assert len(aside) == 1
    assert aside[0].read_text().startswith('{"format": 1')
    # The daemon runs and meters from zero.
    assert show(daemon, "p")["metering"] is True


def export_profile(daemon, port, path):
    """'vswitch-ctl port export PORT > path'."""
    with open(path, "w") as out:
        subprocess.run([*ctl_cmd(daemon), "port", "export", port],
                       stdout=out, check=True)
    return json.loads(path.read_text())


def ctl_cmd(daemon):
    from conftest import VSWITCH_CTL
    return [str(VSWITCH_CTL), "--socket", str(daemon.socket)]


def import_profile(daemon, switch, path, *args):
    with open(path) as doc:
        return subprocess.run([*ctl_cmd(daemon), "port", "import", switch,
                               *args], stdin=doc, capture_output=True,
                              text=True)


def test_export_and_import_into_a_second_daemon(daemon_factory, topo,
                                                tmp_path):
    src = daemon_factory("src")
    dst = daemon_factory("dst")
    p, a = lan(src, topo)
    src.ctl("port", "set", "p", "dhcp-guard=on", "mac-limit=5",
            "storm-limit=1000", json_out=False)
    src.ctl("metering", "enable", "p", json_out=False)
    src.ctl("acl", "add", "p", "action=allow", "direction=both",
            "remote-ip=10.0.0.0/8")
    deleted = meter_add(src, "p", "in", "192.168.0.0/16")
    src.ctl("acl", "del", "p", deleted, json_out=False)   # a gap in ids
    meter_add(src, "p", "out", "10.0.0.0/8")
    meter_add(src, "p", "out", "0.0.0.0/0")
    src.ctl("xacl", "add", "p", "action=deny", "direction=in", "weight=10",
            "protocol=udp", "local-port=9999", json_out=False)
    pings(p, IN_10, 4)
    pings(p, ELSEWHERE, 2)
    doc = export_profile(src, "p", tmp_path / "p.json")
    assert doc["format"] == "vswitch-port" and doc["version"] == 1
    # Export leaves the source port alone.
    assert src.rpc("port.get", name="p")["name"] == "p"

    name = unique("mp")
    topo.links.append(name)   # the new TAP, named after the port
    dst.rpc("switch.add", name="sw9")
    res = import_profile(dst, "sw9", tmp_path / "p.json", f"name={name}")
    assert res.returncode == 0, res.stderr
    new = dst.rpc("port.get", name=name)
    old = src.rpc("port.get", name="p")
    for key in ("dhcp-guard", "mac-limit", "storm-limit", "metering", "mac",
                "vlan-mode", "type"):
        assert new[key] == old[key], key
    assert new["ifname"] == name and new["switch"] == "sw9"
    strip = ("packets", "bytes")
    assert [{k: v for k, v in r.items() if k not in strip}
            for r in dst.ctl("acl", "list", name)["rules"]] == \
        [{k: v for k, v in r.items() if k not in strip}
         for r in src.ctl("acl", "list", "p")["rules"]]
    assert [{k: v for k, v in r.items() if k not in strip}
            for r in dst.ctl("xacl", "list", name)["rules"]] == \
        [{k: v for k, v in r.items() if k not in strip}
         for r in src.ctl("xacl", "list", "p")["rules"]]
    moved = counts(dst, name)
    assert moved == counts(src, "p")
    assert moved[("out", "remote-ip 10.0.0.0/8")] == (4, 4 * ECHO)
    assert moved[("out", "remote-ip 0.0.0.0/0")] == (2, 2 * ECHO)

    # The orchestrator deletes the source; the VM comes up behind the new
    # TAP, and counting continues from the imported counts.
    src.ctl("port", "del", "p", json_out=False)
    ns2 = topo.netns("vm")
    sh(["ip", "link", "set", name, "netns", ns2])
    for ip in P_IPS:
        sh(["ip", "-n", ns2, "addr", "add", ip, "dev", name])
    sh(["ip", "-n", ns2, "link", "set", name, "up"])
    peer = vm(dst, topo, "sw9", "a9", A_IPS)
    assert peer
    pings(ns2, IN_10, 3)
    assert counts(dst, name)[("out", "remote-ip 10.0.0.0/8")] == \
        (7, 7 * ECHO)
    # And they are saved with the new daemon's state.
    dst.stop()
    dst.start()
    assert counts(dst, name)[("out", "remote-ip 10.0.0.0/8")] == \
        (7, 7 * ECHO)


def test_import_on_the_same_daemon_under_a_new_name(daemon, topo,
                                                    tmp_path):
    p, a = lan(daemon, topo)
    daemon.ctl("metering", "enable", "p", json_out=False)
    meter_add(daemon, "p", "out", "10.0.0.0/8")
    pings(p, IN_10, 2)
    export_profile(daemon, "p", tmp_path / "p.json")
    daemon.rpc("switch.add", name="sw1")
    # The same name is taken: refused, nothing made.
    res = import_profile(daemon, "sw1", tmp_path / "p.json")
    assert res.returncode == 1 and "already exists" in res.stderr
    name = unique("mq")
    topo.links.append(name)
    res = import_profile(daemon, "sw1", tmp_path / "p.json", f"name={name}",
                         )
    assert res.returncode == 0, res.stderr
    assert counts(daemon, name)[("out", "remote-ip 10.0.0.0/8")] == \
        (2, 2 * ECHO)
    sh(["ip", "link", "show", name])


def bad_documents(good):
    """(document, words the error must contain) pairs."""
    def changed(**kw):
        doc = json.loads(json.dumps(good))
        for key, value in kw.items():
            doc[key] = value
        return doc

    meter_rule = next(r for r in good["acls"] if r["action"] == "meter")
    allow_rule = next(r for r in good["acls"] if r["action"] == "allow")
    return [
        ([1, 2], "must be a JSON object"),
        (changed(format="something-else"), "format"),
        (changed(version=2), "version must be 1"),
        (changed(settings={**good["settings"], "vlan-mode": "access"}),
         "vlan-mode=access needs vlan"),
        (changed(settings={**good["settings"], "mac-limit": "5"}),
         "mac-limit"),
        (changed(acls=good["acls"] + [{"id": 99, "action": "meter",
                                       "direction": "in",
                                       "remote-mac": "any"}]),
         "acls[2]"),
        (changed(acls=good["acls"] + [dict(meter_rule)]),
         "appears twice"),
        (changed(xacls=[{"action": "deny", "direction": "both",
                         "weight": 1}]), "xacls[0]"),
        (changed(xacls=[{"action": "deny", "direction": "in",
                         "weight": 1, "stateful": True}]), "xacls[0]"),
        (changed(xacls=[{"action": "deny", "direction": "in",
                         "weight": 1}] * 2), "xacls[1]: a second rule"),
        (changed(meters=[{"direction": "out", "rule": allow_rule["id"],
                          "match": "remote-ip 10.0.0.0/8", "bytes": 1,
                          "packets": 1}]), "not a meter rule"),
        (changed(meters=[{"direction": "out", "rule": meter_rule["id"],
                          "match": "remote-ip 10.0.0.0/8", "bytes": -1,
                          "packets": 1}]), "bytes"),
        (changed(meters="many"), "meters must be an array"),
        (changed(surprise=True), "unknown parameter 'surprise'"),
    ]


def test_bad_import_documents_are_refused_and_change_nothing(
        daemon, topo, tmp_path):
    p, a = lan(daemon, topo)
    daemon.ctl("metering", "enable", "p", json_out=False)
    daemon.ctl("acl", "add", "p", "action=allow", "direction=out",
               "remote-ip=10.0.0.0/8")
    meter_add(daemon, "p", "out", "10.0.0.0/8")
    pings(p, IN_10, 1)
    good = export_profile(daemon, "p", tmp_path / "good.json")
    daemon.rpc("switch.add", name="sw1")
    config = (daemon.state_dir / "config.json").read_text()
    ports = daemon.rpc("port.list")
    name = unique("mb")
    topo.links.append(name)
    for doc, words in bad_documents(good):
        try:
            daemon.rpc("port.import", switch="sw1", name=name, document=doc)
        except RpcError as e:
            assert e.code == INVALID_PARAMS and words in e.message, \
                (e.message, words)
        else:
            raise AssertionError(f"accepted {doc}")
        assert daemon.rpc("port.list") == ports
        assert (daemon.state_dir / "config.json").read_text() == config
        assert sh(["ip", "link", "show", name], check=False).returncode != 0
    # Text that is no JSON at all, through the CLI.
    (tmp_path / "junk.json").write_text("{not json")
    res = import_profile(daemon, "sw1", tmp_path / "junk.json",
                         f"name={name}")
    assert res.returncode == 1 and "standard input: line 1" in res.stderr
    # Strict types: a switch name that is no string.
    try:
        daemon.rpc("port.import", switch=7, document=good)
    except RpcError as e:
        assert e.code == INVALID_PARAMS
    else:
        raise AssertionError("accepted switch=7")
    # And the good document goes in.
    daemon.rpc("port.import", switch="sw1", name=name, document=good)
    assert daemon.rpc("port.get", name=name)["switch"] == "sw1"


def test_metering_errors(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    for method in ("metering.enable", "metering.disable", "metering.reset",
                   "metering.show"):
        try:
            daemon.rpc(method, port="nope")
        except RpcError as e:
            assert "nope" in e.message
        else:
            raise AssertionError(method)
        try:
            daemon.rpc(method, port="nope", extra=1)
        except RpcError as e:
            assert e.code == INVALID_PARAMS
        else:
            raise AssertionError(method)
    for bad in (0, "10", None, 86401):
        try:
            daemon.rpc("switch.set", name="sw0",
                       metering_save_interval=bad)
        except RpcError as e:
            assert e.code == INVALID_PARAMS
        else:
            raise AssertionError(bad)
    assert daemon.rpc("switch.get", name="sw0")[
        "metering-save-interval"] == 10


def test_meters_follow_rule_changes_and_transactions(daemon, topo):
    p, a = lan(daemon, topo)
    # Metering and its meter rule in one transaction: counting starts
    # with the snapshot that has both.
    daemon.rpc("transact", operations=[
        {"method": "port.set", "params": {"name": "p", "metering": True}},
        {"method": "acl.add", "params": {
            "port": "p", "action": "meter", "direction": "out",
            "remote-ip": "10.0.0.0/8"}}])
    pings(p, IN_10, 3)
    m = meters(daemon, "p")
    rule = m[("out", "remote-ip 10.0.0.0/8")]
    assert (rule["packets"], rule["bytes"]) == (3, 3 * ECHO)
    assert ("out", "total") not in m
    # The rule goes, and its meter with it; out is counted in total again,
    # from then on.
    daemon.ctl("acl", "del", "p", rule["rule"], json_out=False)
    pings(p, IN_10, 2)
    m = meters(daemon, "p")
    assert ("out", "remote-ip 10.0.0.0/8") not in m
    assert m[("out", "total")]["counting"]
    assert 2 <= m[("out", "total")]["packets"] < 10
    # metering.* cannot be part of a transaction, nor can port.import.
    try:
        daemon.rpc("transact", operations=[
            {"method": "metering.reset", "params": {"port": "p"}}])
    except RpcError as e:
        assert e.code == INVALID_PARAMS
    else:
        raise AssertionError("metering.reset in a transaction")
