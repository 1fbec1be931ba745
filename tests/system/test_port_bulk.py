"""Bulk port operations (issue 17, item 3): port.add and port.del take a
list ("ports"), all or nothing in one commit; vswitch-ctl port add
--from-file and port del NAME... use them."""

import json

import pytest

from conftest import RpcError, sh, ping, wait_for

N_PORTS = 200


def host_links():
    """The names of the interfaces in the test's own namespace."""
    out = sh(["ip", "-o", "link", "show"]).stdout
    return {line.split(":")[1].strip().split("@")[0]
            for line in out.splitlines()}


def port_names(daemon):
    return [p["name"] for p in daemon.rpc("port.list")["ports"]]


def config_bytes(daemon):
    return (daemon.state_dir / "config.json").read_bytes()


def move_into_vm(topo, ifname, ip):
    ns = topo.netns("bk")
    sh(["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"], ns=ns)
    sh(["ip", "link", "set", ifname, "netns", ns])
    sh(["ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", ifname])
    sh(["ip", "-n", ns, "link", "set", ifname, "up"])
    return ns


def test_bulk_add_forward_restart_and_delete(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    ifnames = [topo.ifname("b") for _ in range(N_PORTS)]
    entries = [{"name": f"bp{i}", "type": "tap", "ifname": ifname}
               for i, ifname in enumerate(ifnames)]
    entries[1]["vlan-mode"] = "access"
    entries[1]["vlan"] = 7
    entries[2]["vlan-mode"] = "access"
    entries[2]["vlan"] = 7

    result = daemon.rpc("port.add", switch="sw0", ports=entries)

    assert [p["name"] for p in result["ports"]] == \
        [e["name"] for e in entries]
    assert result["ports"][1]["vlan"] == 7
    assert port_names(daemon) == [e["name"] for e in entries]
    assert set(ifnames) <= host_links()
    saved = json.loads(config_bytes(daemon))
    assert len(saved["switches"][0]["ports"]) == N_PORTS

    # Two of them become VMs and talk through the switch.
    ns1 = move_into_vm(topo, ifnames[1], "10.77.0.1")
    ns2 = move_into_vm(topo, ifnames[2], "10.77.0.2")
    assert wait_for(lambda: ping(ns1, "10.77.0.2"), timeout=15)

    # The commit was saved before the answer: a daemon killed now comes
    # back with every port, and reattaches to their TAPs.
    daemon.kill9()
    daemon.start()
    assert port_names(daemon) == [e["name"] for e in entries]
    assert daemon.rpc("port.get", name="bp2")["vlan"] == 7
    assert wait_for(lambda: ping(ns2, "10.77.0.1"), timeout=15)

    # Deleting them all at once: the answer comes when the devices are
    # gone, here and in the VMs' namespaces.
    daemon.rpc("port.del", ports=[e["name"] for e in entries])
    assert port_names(daemon) == []
    assert not set(ifnames) & host_links()
    for ns, ifname in ((ns1, ifnames[1]), (ns2, ifnames[2])):
        assert sh(["ip", "link", "show", ifname], ns=ns,
                  check=False).returncode != 0
    assert json.loads(config_bytes(daemon))["switches"][0]["ports"] == []


@pytest.mark.parametrize("bad, message", [
    # A setting the port refuses: the entry and its key are named.
    ({"name": "x3", "type": "tap", "vlan": "7"}, "ports[3]: "),
    # A port that exists already: the entries before it made devices,
    # which must go again.
    ({"name": "p0", "type": "tap"}, "ports[3]: port 'p0' already exists"),
    ({"name": "x3", "type": "tap", "nosuch": 1},
     "ports[3]: unknown parameter 'nosuch'"),
])
def test_bulk_add_is_all_or_nothing(daemon, topo, bad, message):
    daemon.rpc("switch.add", name="sw0")
    daemon.rpc("port.add", switch="sw0", name="p0", type="tap",
               ifname=topo.ifname("b"))
    before = config_bytes(daemon)
    ifnames = [topo.ifname("b") for _ in range(5)]
    entries = [{"name": f"x{i}", "type": "tap", "ifname": ifnames[i]}
               for i in range(5)]
    entries[3] = dict(bad, ifname=ifnames[3])

    with pytest.raises(RpcError) as e:
        daemon.rpc("port.add", switch="sw0", ports=entries)

    assert message in e.value.message, e.value.message
    assert port_names(daemon) == ["p0"]
    assert not set(ifnames) & host_links()
    assert config_bytes(daemon) == before


def test_list_forms_refuse_bad_shapes(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    daemon.rpc("port.add", switch="sw0", name="p0", type="tap",
               ifname=topo.ifname("b"))
    daemon.rpc("port.add", switch="sw0", name="p1", type="tap",
               ifname=topo.ifname("b"))
    before = config_bytes(daemon)
    tap = {"name": "n1", "type": "tap"}
    cases = [
        ("port.add", {"switch": "sw0", "ports": []}, "array of 1 to 4096"),
        ("port.add", {"switch": "sw0", "ports": tap}, "array of 1 to 4096"),
        ("port.add", {"switch": "sw0", "ports": [{}] * 4097},
         "array of 1 to 4096"),
        ("port.add", {"switch": "sw0", "ports": ["n1"]},
         "ports[0]: not an object"),
        ("port.add", {"switch": "sw0", "ports": [tap, dict(tap)]},
         "ports[1]: 'n1' is ports[0] already"),
        ("port.add", {"switch": "sw0", "name": "n2", "ports": [tap]},
         "give either one port or 'ports', not both"),
        ("port.add", {"switch": "sw0", "ports": [dict(tap, switch="sw0")]},
         "ports[0]: 'switch' is given once"),
        ("port.add", {"switch": "nosw", "ports": [tap]}, "nosw"),
        ("port.del", {"ports": ["p0", "nosuch"]},
         "ports[1]: no port named 'nosuch'"),
        ("port.del", {"ports": ["p0", "p0"]}, "ports[1]: 'p0' is ports[0]"),
        ("port.del", {"ports": ["p0", 5]}, "ports[1]: not a port name"),
        ("port.del", {"ports": ["p0"], "name": "p1"},
         "give either one port or 'ports', not both"),
        ("port.del", {"ports": ["p0"], "if-exists": "yes"},
         "'if-exists' must be true or false"),
        ("port.del", {"ports": ["p0"], "if-exists": None},
         "'if-exists' must be true or false"),
        ("transact", {"operations": [
            {"method": "port.del", "params": {"ports": ["p0"]}}]},
         "a list of 'ports' cannot be part of a transaction"),
    ]
    for method, params, message in cases:
        with pytest.raises(RpcError) as e:
            daemon.rpc_raw(method, params)
        assert e.value.code in (-32602, -32006, -32001), (params, e.value)
        assert message in e.value.message, (params, e.value.message)
    assert port_names(daemon) == ["p0", "p1"]
    assert config_bytes(daemon) == before

    # if-exists skips the names of no port, and deletes the others.
    daemon.rpc("port.del", ports=["nosuch", "p1"], if_exists=True)
    assert port_names(daemon) == ["p0"]


def test_ctl_from_file_and_several_names(daemon, topo, tmp_path):
    daemon.rpc("switch.add", name="sw0")
    ifnames = [topo.ifname("b") for _ in range(3)]
    path = tmp_path / "ports.json"
    path.write_text(json.dumps(
        [{"name": f"c{i}", "type": "tap", "ifname": ifname}
         for i, ifname in enumerate(ifnames)]))

    added = daemon.ctl("port", "add", "sw0", "--from-file", path)
    assert [p["name"] for p in added["ports"]] == ["c0", "c1", "c2"]
    assert set(ifnames) <= host_links()

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"name": "c9", "type": "tap"}, "c8"]))
    res = daemon.ctl("port", "add", "sw0", "--from-file", bad, check=False)
    assert res.returncode == 2 and "entry 1 is not an object" in res.stderr

    res = daemon.ctl("port", "del", "c0", "nosuch", check=False)
    assert res.returncode == 1 and "ports[1]" in res.stderr
    assert port_names(daemon) == ["c0", "c1", "c2"]

    daemon.ctl("port", "del", "c0", "c1", json_out=False)
    assert port_names(daemon) == ["c2"]
    names = tmp_path / "names.json"
    names.write_text('["c2"]')
    daemon.ctl("port", "del", "--from-file", names, json_out=False)
    assert port_names(daemon) == []
    assert not set(ifnames) & host_links()
