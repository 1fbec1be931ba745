"""Operator conveniences against a real vswitchd with real TAP devices in
namespaces: --may-exist and --if-exists, commands joined with ' -- ' into
one all-or-nothing transaction, switch del --force, the note of a
mac-table-size change, port del that returns after the teardown, and
vswitch-ctl stop."""

import json
import os
import socket
import time

import pytest

from conftest import VSWITCH_CTL, RpcError, add_vm, sh

EXISTS = -32002
NOT_FOUND = -32001
CONFLICT = -32006
INVALID_PARAMS = -32602


def run(daemon, *args, rc=0, fmt=None):
    """Runs vswitch-ctl; checks its exit status is 'rc'."""
    cmd = [str(VSWITCH_CTL), "--socket", str(daemon.socket)]
    if fmt:
        cmd += ["--format", fmt]
    res = sh(cmd + [str(a) for a in args], check=False)
    assert res.returncode == rc, (
        f"{args}: exit {res.returncode}, expected {rc}\n"
        f"stdout: {res.stdout}\nstderr: {res.stderr}")
    return res


def link_exists(ifname, ns=None):
    cmd = ["ip"] + (["-n", ns] if ns else []) + ["link", "show", ifname]
    return sh(cmd, check=False).returncode == 0


def snapshot(daemon, ports):
    """Everything a failed transaction must leave as it was."""
    port_names = [p["name"] for p in daemon.rpc("port.list")["ports"]]
    return {
        "switches": daemon.rpc("switch.list"),
        "ports": daemon.rpc("port.list"),
        "acls": {p: daemon.rpc("acl.list", port=p) for p in port_names},
        "xacls": {p: daemon.rpc("xacl.list", port=p)["rules"]
                  for p in port_names},
        "config": (daemon.state_dir / "config.json").read_bytes(),
        "links": {p: link_exists(p) for p in ports},
    }


# ---- --may-exist, --if-exists ----

def test_may_exist_leaves_the_object_alone(daemon, topo):
    tap = topo.ifname()
    run(daemon, "switch", "add", "sw0", "mac-ageing=60")
    run(daemon, "switch", "add", "--may-exist", "sw0", "mac-ageing=90")
    assert daemon.rpc("switch.get", name="sw0")["mac-ageing"] == 60
    res = run(daemon, "switch", "add", "sw0", rc=1)
    assert "already exists" in res.stderr

    run(daemon, "port", "add", "sw0", "vm1", "type=tap", f"ifname={tap}",
        "vlan-mode=access", "vlan=10")
    before = daemon.rpc("port.get", name="vm1")
    got = run(daemon, "port", "add", "--may-exist", "sw0", "vm1",
              "type=tap", f"ifname={tap}", fmt="json")
    assert json.loads(got.stdout)["vlan"] == 10
    assert daemon.rpc("port.get", name="vm1") == before

    # Same name, another kind of port: an error that says so.
    with pytest.raises(RpcError) as e:
        daemon.rpc("port.add", switch="sw0", name="vm1", type="uplink",
                   ifname=tap, may_exist=True)
    assert e.value.code == CONFLICT and "type tap" in str(e.value)
    run(daemon, "switch", "add", "sw1")
    res = run(daemon, "port", "add", "--may-exist", "sw1", "vm1",
              "type=tap", f"ifname={tap}", rc=1)
    assert "exists on switch 'sw0', not 'sw1'" in res.stderr

    # Only add takes it.
    with pytest.raises(RpcError) as e:
        daemon.rpc("port.set", name="vm1", may_exist=True)
    assert e.value.code == INVALID_PARAMS
    res = run(daemon, "port", "set", "--may-exist", "vm1", "flood=off",
              rc=2)
    assert "--may-exist does not apply here" in res.stderr


def test_if_exists_on_every_del(daemon, topo):
    tap = topo.ifname()
    daemon.rpc("switch.add", name="sw0")
    daemon.rpc("port.add", switch="sw0", name="vm1", type="tap",
               ifname=tap)
    for method, params in [
            ("switch.del", {"name": "ghost"}),
            ("port.del", {"name": "ghost"}),
            ("acl.del", {"port": "ghost", "id": 1}),
            ("acl.del", {"port": "vm1", "id": 7}),
            ("xacl.del", {"port": "vm1", "direction": "in", "weight": 5}),
            ("xacl.del", {"port": "ghost", "direction": "in",
                          "weight": 5})]:
        with pytest.raises(RpcError) as e:
            daemon.rpc_raw(method, params)
        assert e.value.code == NOT_FOUND, method
        assert daemon.rpc_raw(method, {**params, "if-exists": True}) == {}
    run(daemon, "port", "del", "--if-exists", "ghost")
    run(daemon, "acl", "del", "--if-exists", "vm1", "9")
    run(daemon, "xacl", "del", "--if-exists", "vm1", "direction=out",
        "weight=3")
    run(daemon, "switch", "del", "--if-exists", "ghost")
    run(daemon, "port", "del", "ghost", rc=1)
    # A bad request is still an error.
    with pytest.raises(RpcError) as e:
        daemon.rpc("xacl.del", port="vm1", direction="up", weight=1,
                   if_exists=True)
    assert e.value.code == INVALID_PARAMS


# ---- switch del --force ----

def test_switch_del_with_ports_asks_for_force(daemon, topo):
    taps = [topo.ifname() for _ in range(4)]
    daemon.rpc("switch.add", name="sw0")
    for i, tap in enumerate(taps):
        daemon.rpc("port.add", switch="sw0", name=f"p{i}", type="tap",
                   ifname=tap)
    with pytest.raises(RpcError) as e:
        daemon.rpc("switch.del", name="sw0")
    assert e.value.code == CONFLICT
    assert "4 ports (p0, p1, p2, ...)" in str(e.value)
    assert "--force" in str(e.value)
    res = run(daemon, "switch", "del", "sw0", rc=1)
    assert "--force" in res.stderr
    assert all(link_exists(t) for t in taps)
    run(daemon, "switch", "del", "--force", "sw0")
    assert daemon.rpc("switch.list") == {"switches": []}
    # The teardown ran before the answer.
    assert not any(link_exists(t) for t in taps)
    # An empty switch needs no force.
    daemon.rpc("switch.add", name="sw1")
    daemon.rpc("switch.del", name="sw1")


# ---- mac-table-size note ----

def test_mac_table_size_change_says_the_table_was_emptied(daemon):
    daemon.rpc("switch.add", name="sw0")
    result = daemon.rpc("switch.set", name="sw0", mac_table_size=128)
    assert result["notes"] == [
        "mac-table-size changed: the MAC table was emptied and the switch "
        "relearns"]
    assert "notes" not in daemon.rpc("switch.set", name="sw0",
                                     mac_ageing=30)
    assert "notes" not in daemon.rpc("switch.set", name="sw0",
                                     mac_table_size=128)
    res = run(daemon, "switch", "set", "sw0", "mac-table-size=256")
    assert res.stdout == ""
    assert res.stderr == (
        "vswitch-ctl: note: mac-table-size changed: the MAC table was "
        "emptied and the switch relearns\n")
    res = run(daemon, "switch", "set", "sw0", "mac-ageing=40")
    assert res.stderr == ""


# ---- port del waits for the teardown ----

def test_port_del_returns_after_the_teardown(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    for round_ in range(5):
        port = f"vm{round_}"
        ns, ifname = add_vm(daemon, topo, "sw0", port)
        pin = daemon.state_dir / "netns" / port
        # The daemon notices the move within its 1 s tick.
        deadline = time.monotonic() + 10
        while not pin.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pin.exists()
        assert link_exists(ifname, ns)
        run(daemon, "port", "del", port)
        assert not pin.exists()
        assert not link_exists(ifname, ns)


# ---- Transactions ----

def test_joined_commands_are_one_transaction(daemon, topo):
    tap = topo.ifname()
    daemon.rpc("switch.add", name="sw0")
    res = run(daemon, "port", "add", "sw0", "vm1", "type=tap",
              f"ifname={tap}", "--", "port", "set", "vm1",
              "vlan-mode=access", "vlan=10", "--", "acl", "add", "vm1",
              "action=deny", "direction=in", "remote-ip=10.9.0.0/16",
              "--", "xacl", "add", "vm1", "action=allow", "direction=out",
              "weight=7")
    assert res.stdout == "" and res.stderr == ""
    port = daemon.rpc("port.get", name="vm1")
    assert (port["vlan-mode"], port["vlan"]) == ("access", 10)
    assert [r["remote-ip"] for r in daemon.rpc("acl.list",
                                               port="vm1")["rules"]] == [
        "10.9.0.0/16"]
    assert [r["weight"] for r in daemon.rpc("xacl.list",
                                            port="vm1")["rules"]] == [7]
    assert link_exists(tap)

    # JSON mode: one result per command.
    out = run(daemon, "switch", "add", "sw1", "--", "switch", "set", "sw1",
              "mac-table-size=64", fmt="json")
    results = json.loads(out.stdout)
    assert len(results) == 2
    assert results[0]["name"] == "sw1"
    assert results[1]["mac-table-size"] == 64
    assert results[1]["notes"] == [
        "mac-table-size changed: the MAC table was emptied and the switch "
        "relearns"]
    assert "vswitch-ctl: note: mac-table-size changed" in out.stderr


def test_only_changes_can_be_joined(daemon):
    daemon.rpc("switch.add", name="sw0")
    for joined in (["port", "list"], ["switch", "get", "sw0"], ["show"],
                   ["status"], ["stop"]):
        res = run(daemon, "switch", "add", "sw1", "--", *joined, rc=2)
        assert "cannot be joined" in res.stderr
    res = run(daemon, "switch", "add", "sw1", "--", rc=2)
    assert "empty command" in res.stderr
    assert daemon.rpc("switch.list")["switches"][0]["name"] == "sw0"
    assert len(daemon.rpc("switch.list")["switches"]) == 1

    for method in ("ext.list", "switch.list", "transact", "system.stop",
                   "fdb.flush"):
        with pytest.raises(RpcError) as e:
            daemon.rpc("transact", operations=[
                {"method": "switch.add", "params": {"name": "sw2"}},
                {"method": method, "params": {}}])
        assert e.value.code in (INVALID_PARAMS,), method
        assert e.value.message.startswith(f"operation 1 ({method}): ")
    assert len(daemon.rpc("switch.list")["switches"]) == 1
    assert daemon.running()


@pytest.mark.parametrize("failing", [
    # (operation, expected error code)
    ({"method": "port.set", "params": {"name": "new1", "vlan": 5000}},
     INVALID_PARAMS),
    ({"method": "port.add", "params": {"switch": "sw0", "name": "old",
                                       "type": "tap"}}, EXISTS),
    ({"method": "acl.add", "params": {"port": "new1", "action": "deny",
                                      "direction": "sideways",
                                      "remote-ip": "1.0.0.0/8"}},
     INVALID_PARAMS),
    ({"method": "switch.del", "params": {"name": "nosuch"}}, NOT_FOUND),
])
def test_failure_changes_nothing(daemon, topo, failing):
    """Operations before the failing one created a switch, a port with its
    TAP device, changed settings and the MAC table, added rules and asked
    for deletions: after the failure, every view of the daemon, the
    configuration file's bytes and the kernel's links are as before."""
    op, code = failing
    old_tap = topo.ifname()
    new_taps = [topo.ifname(), topo.ifname()]
    daemon.rpc("switch.add", name="sw0", mac_table_size=512)
    daemon.rpc("port.add", switch="sw0", name="old", type="tap",
               ifname=old_tap)
    daemon.rpc("acl.add", port="old", action="deny", direction="in",
               remote_ip="10.1.0.0/16")
    daemon.rpc("xacl.add", port="old", action="deny", direction="in",
               weight=9)
    topo_links = [old_tap] + new_taps
    before = snapshot(daemon, topo_links)
    assert before["links"] == {old_tap: True, new_taps[0]: False,
                               new_taps[1]: False}

    ops = [
        {"method": "switch.add", "params": {"name": "sw9"}},
        {"method": "port.add", "params": {"switch": "sw0", "name": "new1",
                                          "type": "tap",
                                          "ifname": new_taps[0]}},
        {"method": "port.add", "params": {"switch": "sw9", "name": "new2",
                                          "type": "tap",
                                          "ifname": new_taps[1]}},
        {"method": "switch.set", "params": {"name": "sw0",
                                            "mac-table-size": 64,
                                            "mac-ageing": 17}},
        {"method": "port.set", "params": {"name": "old",
                                          "vlan-mode": "access",
                                          "vlan": 3}},
        {"method": "acl.add", "params": {"port": "old", "action": "allow",
                                         "direction": "both",
                                         "remote-ip": "10.2.0.0/16"}},
        {"method": "xacl.add", "params": {"port": "old", "action": "allow",
                                          "direction": "out", "weight": 4}},
        {"method": "acl.del", "params": {"port": "old", "id": 1}},
        {"method": "xacl.del", "params": {"port": "old", "direction": "in",
                                          "weight": 9}},
        {"method": "port.del", "params": {"name": "old"}},
        op,
    ]
    with pytest.raises(RpcError) as e:
        daemon.rpc("transact", operations=ops)
    assert e.value.code == code
    index = len(ops) - 1
    assert e.value.message.startswith(f"operation {index} ({op['method']}): ")
    assert snapshot(daemon, topo_links) == before
    # The MAC table size went back with the settings, and it works.
    assert daemon.rpc("fdb.show", switch="sw0")["max"] == 512
    # The rule ids go on as if nothing happened.
    assert daemon.rpc("acl.add", port="old", action="deny", direction="in",
                      remote_ip="10.3.0.0/16") == {"ids": [2]}


def test_failure_changes_nothing_from_the_cli(daemon, topo):
    tap, new = topo.ifname(), topo.ifname()
    daemon.rpc("switch.add", name="sw0")
    daemon.rpc("port.add", switch="sw0", name="old", type="tap",
               ifname=tap)
    before = snapshot(daemon, [tap, new])
    res = run(daemon, "port", "add", "sw0", "vm1", "type=tap",
              f"ifname={new}", "--", "port", "set", "vm1",
              "vlan-mode=access", "vlan=10", "--", "port", "del", "old",
              "--", "acl", "add", "vm1", "action=deny", "direction=in",
              "remote-ip=10.0.0.0/33", rc=1)
    assert res.stderr.startswith("vswitch-ctl: operation 3 (acl.add): ")
    assert res.stdout == ""
    assert snapshot(daemon, [tap, new]) == before


def test_deletions_take_effect_at_commit(daemon, topo):
    taps = [topo.ifname() for _ in range(3)]
    daemon.rpc("switch.add", name="sw0")
    daemon.rpc("switch.add", name="sw1")
    for i, tap in enumerate(taps):
        daemon.rpc("port.add", switch="sw0" if i < 2 else "sw1",
                   name=f"p{i}", type="tap", ifname=tap)
    ids = daemon.rpc("acl.add", port="p1", action="deny", direction="both",
                     remote_ip="10.0.0.0/8")["ids"]

    # A later operation cannot use what an earlier one deletes.
    for later in ({"method": "port.set", "params": {"name": "p0",
                                                    "flood": False}},
                  {"method": "port.del", "params": {"name": "p0"}}):
        with pytest.raises(RpcError) as e:
            daemon.rpc("transact", operations=[
                {"method": "port.del", "params": {"name": "p0"}}, later])
        assert e.value.code == CONFLICT
        assert "deleted by operation 0" in str(e.value)
    with pytest.raises(RpcError) as e:
        daemon.rpc("transact", operations=[
            {"method": "switch.del", "params": {"name": "sw1",
                                                "force": True}},
            {"method": "acl.add", "params": {"port": "p2",
                                             "action": "deny",
                                             "direction": "in",
                                             "local-mac": "ANY"}}])
    assert "port 'p2' is deleted by operation 0" in str(e.value)
    assert all(link_exists(t) for t in taps)

    config = daemon.state_dir / "config.json"
    mtime = config.stat().st_mtime_ns
    result = daemon.rpc("transact", operations=[
        {"method": "acl.del", "params": {"port": "p1", "id": ids[0]}},
        {"method": "port.del", "params": {"name": "p0"}},
        {"method": "switch.del", "params": {"name": "sw1", "force": True}},
        {"method": "port.set", "params": {"name": "p1", "flood": False}},
        {"method": "switch.add", "params": {"name": "sw2"}},
    ])
    assert result == {"results": [
        {}, {}, {}, daemon.rpc("port.get", name="p1"),
        daemon.rpc("switch.get", name="sw2")]}
    assert [s["name"] for s in daemon.rpc("switch.list")["switches"]] == [
        "sw0", "sw2"]
    assert [p["name"] for p in daemon.rpc("port.list")["ports"]] == ["p1"]
    assert [r["id"] for r in daemon.rpc("acl.list", port="p1")["rules"]] == [
        ids[1]]
    # Torn down before the answer.
    assert [link_exists(t) for t in taps] == [False, True, False]
    saved = json.loads(config.read_text())
    assert [s["name"] for s in saved["switches"]] == ["sw0", "sw2"]
    assert config.stat().st_mtime_ns != mtime


def test_transaction_request_errors(daemon):
    for params, fragment in [
            ({}, "operations"),
            ({"operations": []}, "1 to"),
            ({"operations": [{"method": "switch.add"}], "x": 1}, "'x'"),
            ({"operations": [5]}, "operation 0 (?): not an object"),
            ({"operations": [{"params": {}}]}, "operation 0 (?): "),
            ({"operations": [{"method": "switch.add", "params": [],
                              "x": 1}]}, "'x'"),
            ({"operations": [{"method": "switch.add", "params": []}]},
             "params must be an object"),
            ({"operations": [{"method": "no.such"}]}, "unknown method")]:
        with pytest.raises(RpcError) as e:
            daemon.rpc_raw("transact", params)
        assert fragment in str(e.value), (params, str(e.value))
    assert daemon.rpc("switch.list") == {"switches": []}


# ---- stop ----

def test_stop_returns_when_the_daemon_is_gone(daemon_factory, topo):
    daemon = daemon_factory()
    tap = topo.ifname()
    daemon.rpc("switch.add", name="sw0")
    daemon.rpc("port.add", switch="sw0", name="vm1", type="tap",
               ifname=tap)
    pidfile = daemon.state_dir / "vswitchd.pid"
    assert pidfile.exists()
    out = run(daemon, "stop", fmt="json")
    result = json.loads(out.stdout)
    assert result == {"pid": daemon.proc.pid, "pidfile": str(pidfile)}
    # Right away: no pidfile, no socket to connect to.
    assert not pidfile.exists()
    with socket.socket(socket.AF_UNIX) as s, pytest.raises(OSError):
        s.connect(str(daemon.socket))
    assert daemon.proc.wait(timeout=5) == 0
    # As after SIGTERM, the TAP stays for the next daemon.
    assert link_exists(tap)
    daemon.start()
    assert daemon.rpc("port.get", name="vm1")["link"] in ("up", "down")
    # Table mode prints nothing; a stopped daemon cannot be stopped.
    assert run(daemon, "stop").stdout == ""
    daemon.proc.wait(timeout=5)
    res = run(daemon, "stop", rc=1)
    assert "is vswitchd running?" in res.stderr


def test_stop_takes_no_arguments(daemon):
    run(daemon, "stop", "now", rc=2)
    with pytest.raises(RpcError) as e:
        daemon.rpc("system.stop", now=True)
    assert e.value.code == INVALID_PARAMS
    assert daemon.running()
    assert os.path.exists(daemon.socket)
