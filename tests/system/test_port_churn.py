"""Port churn (issue 17, item 3): a TAP port deleted alone answers
without waiting for the kernel to delete its device.  The daemon takes
the device down and renames it to a private name (vswdelNNNNNNNN), so the
port's interface name is free when port.del answers, and a reaper thread
closes it, when the kernel deletes it.  These tests check the promise
(the name is free at once, a new port may take it), that no renamed
device stays behind, and that stopping or killing the daemon leaves none
either."""

from pathlib import Path

import pytest

from conftest import RpcError, sh, wait_for

PRIVATE_PREFIX = "vswdel"


def links_by_index():
    """{ifindex: name} of the interfaces in the test's namespace."""
    out = sh(["ip", "-o", "link", "show"]).stdout
    links = {}
    for line in out.splitlines():
        index, name = line.split(":")[:2]
        links[int(index)] = name.strip().split("@")[0]
    return links


def ifindex(name):
    return int(Path(f"/sys/class/net/{name}/ifindex").read_text())


def leftovers(deleted):
    """The devices of 'deleted' ({ifindex: name} of deleted TAPs) still
    there, under their own name or a private one."""
    links = links_by_index()
    return {i: links[i] for i, name in deleted.items()
            if i in links and (links[i] == name or
                               links[i].startswith(PRIVATE_PREFIX))}


def exists(name):
    return sh(["ip", "link", "show", name], check=False).returncode == 0


def add_tap(daemon, name, ifname):
    daemon.rpc("port.add", switch="sw0", name=name, type="tap",
               ifname=ifname)
    return ifindex(ifname)


def test_deleted_name_free_at_once_and_nothing_left(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    ifname = topo.ifname("ch")
    deleted = {}

    # Deleted and added again under the same names, many times in a row:
    # the reaper gets several devices at once, too.
    for round_ in range(30):
        index = add_tap(daemon, "churn0", ifname)
        if round_ % 2:
            # A VM's interface is up; an up device cannot be renamed.
            sh(["ip", "link", "set", ifname, "up"])
        daemon.rpc("port.del", name="churn0")
        deleted[index] = ifname
        assert not exists(ifname)
        links = links_by_index()
        if index in links:
            # Not deleted yet: hidden, down, under a private name.
            assert links[index].startswith(PRIVATE_PREFIX)
            flags = sh(["ip", "-o", "link", "show", links[index]],
                       check=False).stdout
            assert flags == "" or ",UP" not in flags.split(">")[0]

    # The name is taken again at once, by a new device.
    index = add_tap(daemon, "churn0", ifname)
    assert index not in deleted
    assert daemon.rpc("port.get", name="churn0")["ifname"] == ifname
    assert wait_for(lambda: not leftovers(deleted), timeout=20), \
        leftovers(deleted)
    daemon.rpc("port.del", name="churn0")
    deleted[index] = ifname
    assert wait_for(lambda: not leftovers(deleted), timeout=20), \
        leftovers(deleted)
    assert daemon.rpc("port.list")["ports"] == []


def add_and_delete_taps(daemon, topo, prefix, count=20):
    """Adds 'count' TAP ports to a new switch sw0 and deletes them one
    request each; returns {ifindex: ifname} of their devices, for
    leftovers()."""
    daemon.rpc("switch.add", name="sw0")
    deleted = {}
    for i in range(count):
        ifname = topo.ifname(prefix)
        deleted[add_tap(daemon, f"{prefix}{i}", ifname)] = ifname
    for i in range(count):
        daemon.rpc("port.del", name=f"{prefix}{i}")
    return deleted


def test_stop_waits_for_the_reaper(daemon, topo):
    deleted = add_and_delete_taps(daemon, topo, "cs")

    # vswitch-ctl stop returns when the daemon is gone, and the daemon
    # goes after the reaper has closed every TAP: nothing is left, at
    # once.
    daemon.ctl("stop", json_out=False)
    assert not daemon.running() or daemon.proc.wait(timeout=10) == 0
    assert leftovers(deleted) == {}


def test_killed_daemon_leaves_no_hidden_tap(daemon, topo):
    deleted = add_and_delete_taps(daemon, topo, "ck")

    # The hidden TAPs are no longer persistent: when the kernel closes a
    # killed daemon's fds, it deletes them.
    daemon.kill9()
    assert wait_for(lambda: not leftovers(deleted), timeout=20), \
        leftovers(deleted)
    daemon.start()
    assert daemon.rpc("port.list")["ports"] == []


def test_config_after_mixed_changes(daemon, topo):
    """A save scoped to the port added (or the ports removed) reuses the
    other ports' kept texts: changes of other kinds in between (settings,
    ACL rules, a transaction, a failed one) must still reach config.json.
    A daemon killed at the end comes back with exactly what it answered
    (and debug builds compare every save with a whole dump)."""
    daemon.rpc("switch.add", name="sw0")
    ifnames = {f"cm{i}": topo.ifname("cm") for i in range(6)}
    for name in ("cm0", "cm1", "cm2"):
        daemon.rpc("port.add", switch="sw0", name=name, type="tap",
                   ifname=ifnames[name])
    daemon.rpc("port.set", name="cm1", vlan_mode="access", vlan=11)
    daemon.rpc("port.add", switch="sw0", name="cm3", type="tap",
               ifname=ifnames["cm3"])
    daemon.rpc("acl.add", port="cm0", action="deny", direction="in",
               remote_ip="198.18.7.0/24")
    daemon.rpc("port.del", name="cm2")
    daemon.rpc("transact", operations=[
        {"method": "port.set", "params": {"name": "cm3",
                                          "mac-limit": 7}},
        {"method": "port.add", "params": {"switch": "sw0", "name": "cm4",
                                          "type": "tap",
                                          "ifname": ifnames["cm4"]}}])
    with pytest.raises(RpcError):
        daemon.rpc("transact", operations=[
            {"method": "port.set", "params": {"name": "cm0",
                                              "mac-limit": 9}},
            {"method": "port.add", "params": {"switch": "sw0",
                                              "name": "cm5", "type": "tap",
                                              "ifname": ifnames["cm5"],
                                              "vlan": 0}}])
    daemon.rpc("port.add", switch="sw0", name="cm5", type="tap",
               ifname=ifnames["cm5"])
    daemon.rpc("port.del", ports=["cm4"])
    daemon.rpc("port.add", switch="sw0", name="cm2", type="tap",
               ifname=ifnames["cm2"])

    def view():
        ports = {p["name"]: daemon.rpc("port.get", name=p["name"])
                 for p in daemon.rpc("port.list")["ports"]}
        for p in ports.values():
            p.pop("link", None)
            p.pop("stats", None)
        acls = daemon.rpc("acl.list", port="cm0")
        return ports, acls

    before = view()
    assert sorted(before[0]) == ["cm0", "cm1", "cm2", "cm3", "cm5"]
    assert before[0]["cm1"]["vlan"] == 11
    assert before[0]["cm3"]["mac-limit"] == 7
    assert before[0]["cm0"]["mac-limit"] == 0
    daemon.kill9()
    daemon.start()
    assert view() == before
