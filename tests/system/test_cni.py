"""The CNI plugin (cni/vswitch), run exactly as a container runtime runs
it: the operation and the container in CNI_* environment variables, the
network configuration on stdin, the answer on stdout; addresses from
Debian's host-local IPAM plugin."""
import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import BUILD, ping, sh, unique

PLUGIN = BUILD / "cni" / "vswitch"
IPAM_DIR = Path("/usr/lib/cni")

pytestmark = pytest.mark.skipif(
    not (IPAM_DIR / "host-local").exists(),
    reason="containernetworking-plugins (host-local) is not installed")


def run_plugin(command, config, ns=None, container=None, ifname="eth0",
               env_extra=None):
    """Runs the plugin; returns (exit status, parsed stdout)."""
    env = {"PATH": os.environ["PATH"], "CNI_COMMAND": command,
           "CNI_PATH": f"{IPAM_DIR}:{PLUGIN.parent}"}
    if container:
        env["CNI_CONTAINERID"] = container
        env["CNI_IFNAME"] = ifname
    if ns:
        env["CNI_NETNS"] = f"/var/run/netns/{ns}"
    env.update(env_extra or {})
    text = config if isinstance(config, str) else json.dumps(config)
    res = subprocess.run([str(PLUGIN)], input=text, env=env,
                         capture_output=True, text=True, timeout=30)
    out = json.loads(res.stdout) if res.stdout.strip() else None
    return res.returncode, out


def net_config(daemon, switch, data_dir, subnet, **extra):
    config = {
        "cniVersion": "1.0.0", "name": unique("net"), "type": "vswitch",
        "switch": switch, "socket": str(daemon.socket),
        "ipam": {"type": "host-local", "dataDir": str(data_dir),
                 "ranges": [[{"subnet": subnet}]],
                 "routes": [{"dst": "0.0.0.0/0"}]},
    }
    config.update(extra)
    return config


def port_names(daemon):
    return {p["name"] for p in daemon.rpc("port.list")["ports"]}


def allocated(data_dir):
    """The addresses host-local holds (one file per address)."""
    return sorted(f.name for d in Path(data_dir).glob("*") if d.is_dir()
                  for f in d.iterdir() if f.name[0].isdigit())


def test_two_containers_ping_through_the_switch(daemon, topo, tmp_path):
    sw = unique("sw")
    daemon.rpc("switch.add", name=sw)
    data_dir = tmp_path / "ipam"
    config = net_config(daemon, sw, data_dir, "198.18.61.0/24",
                        port={"vlan-mode": "access", "vlan": 61,
                              "dhcp-guard": True},
                        acl=[{"action": "deny", "direction": "out",
                              "remote-ip": "198.18.62.0/24"}],
                        xacl=[{"action": "deny", "direction": "in",
                               "weight": 10, "protocol": "tcp",
                               "local-port": 23}])
    containers = []
    for label in ("ca", "cb"):
        ns = topo.netns(label)
        cid = unique("ctr") + "0123456789abcdef"
        status, result = run_plugin("ADD", config, ns=ns, container=cid)
        assert status == 0, result
        assert result["cniVersion"] == "1.0.0"
        assert result["interfaces"][0]["name"] == "eth0"
        assert result["interfaces"][0]["sandbox"] == f"/var/run/netns/{ns}"
        assert result["ips"][0]["interface"] == 0
        containers.append((ns, cid, result))

    # The ports exist with the configuration's settings and rules.
    ports = [p for p in daemon.rpc("port.list")["ports"] if p["switch"] == sw]
    assert len(ports) == 2
    for port in ports:
        assert port["name"].startswith("cni") and len(port["name"]) == 15
        assert port["vlan-mode"] == "access" and port["vlan"] == 61
        assert port["dhcp-guard"] is True
        rules = daemon.rpc("acl.list", port=port["name"])
        assert len(rules["rules"]) == 1
        xrules = daemon.rpc("xacl.list", port=port["name"])
        assert len(xrules["rules"]) == 1, xrules

    # The containers see their addresses, the route, and each other.
    (ns_a, cid_a, res_a), (ns_b, cid_b, res_b) = containers
    addr_b = res_b["ips"][0]["address"].split("/")[0]
    shown = sh(["ip", "-n", ns_a, "-j", "addr", "show", "eth0"]).stdout
    assert res_a["ips"][0]["address"].split("/")[0] in shown
    assert "default" in sh(["ip", "-n", ns_a, "route"]).stdout
    assert ping(ns_a, addr_b)

    # CHECK against the ADD's result passes; after the address is gone it
    # fails.
    check_config = dict(config, prevResult=res_a)
    status, out = run_plugin("CHECK", check_config, ns=ns_a, container=cid_a)
    assert status == 0, out
    sh(["ip", "-n", ns_a, "addr", "flush", "dev", "eth0"])
    status, out = run_plugin("CHECK", check_config, ns=ns_a, container=cid_a)
    assert status == 1 and "lost address" in out["msg"]

    # DEL removes the port and releases the address; a second DEL (the
    # runtime retries) is no error.
    assert len(allocated(data_dir)) == 2
    for _ in range(2):
        status, out = run_plugin("DEL", config, ns=ns_a, container=cid_a)
        assert status == 0, out
    assert len(allocated(data_dir)) == 1
    assert len([p for p in daemon.rpc("port.list")["ports"]
                if p["switch"] == sw]) == 1
    # DEL without a namespace (the container is gone) works too.
    status, out = run_plugin("DEL", config, container=cid_b)
    assert status == 0, out
    assert allocated(data_dir) == []
    assert not [p for p in daemon.rpc("port.list")["ports"] if p["switch"] == sw]


def test_errors_are_cni_errors(daemon_factory, topo, tmp_path):
    daemon = daemon_factory()
    sw = unique("sw")
    daemon.rpc("switch.add", name=sw)
    data_dir = tmp_path / "ipam"
    ns = topo.netns("ce")
    cid = unique("ctr")
    good = net_config(daemon, sw, data_dir, "198.18.63.0/24")
    before = port_names(daemon)

    def fails(config, code, words, **kw):
        status, out = run_plugin("ADD", config, ns=ns,
                                 container=kw.pop("container", cid), **kw)
        assert status == 1, out
        assert out["code"] == code, out
        assert out["cniVersion"] == "1.0.0"
        assert words in out["msg"], out
        # Nothing is left behind: no port, no address.
        if daemon.running():
            assert port_names(daemon) == before
        assert allocated(data_dir) == []

    status, out = run_plugin("VERSION", "")
    assert status == 0 and out["supportedVersions"] == ["1.0.0"]

    fails("{not json", 6, "not a JSON object")
    fails({k: v for k, v in good.items() if k != "switch"}, 7, "switch")
    fails(dict(good, cniVersion="0.3.1"), 1, "0.3.1")
    fails(dict(good, port={"vlan": "61"}), 7, "port.add")
    fails(dict(good, port={"name": "x"}), 2, "name")
    fails(dict(good, switch="no-such-switch"), 7, "no-such-switch")
    fails(dict(good, acl=[{"action": "deny", "direction": "sideways",
                           "remote-ip": "any"}]), 7, "acl.add")
    fails(dict(good, xacl=[{"action": "allow", "direction": "in",
                            "weight": 1}, {"action": "allow",
                                           "direction": "sideways",
                                           "weight": 2}]), 7, "xacl[1]")
    fails(dict(good, xacl={"action": "allow"}), 7, "xacl")
    fails(good, 4, "CNI_IFNAME", env_extra={"CNI_IFNAME": ""})
    fails(good, 3, "namespace",
          env_extra={"CNI_NETNS": "/var/run/netns/" + unique("gone")})
    status, out = run_plugin("STATUS", good, ns=ns, container=cid)
    assert status == 1 and out["code"] == 4 and "STATUS" in out["msg"]

    # The daemon down: "try again later", and the pool keeps nothing.
    daemon.stop()
    fails(good, 11, "vswitchd does not answer")
    status, out = run_plugin("DEL", good, ns=ns, container=cid)
    assert status == 1 and out["code"] == 11
