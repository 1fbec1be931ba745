"""port.del answers when the port's TAP is really gone, so a script that
deletes a port and adds it again at once never sees "already exists"
(issue 11)."""

from conftest import sh


def link_exists(ifname):
    return sh(["ip", "link", "show", ifname], check=False).returncode == 0


def test_delete_and_add_again_at_once(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    ifname = topo.ifname("rc")
    for round_ in range(50):
        daemon.rpc("port.add", switch="sw0", name="p0", type="tap",
                   ifname=ifname)
        assert link_exists(ifname), round_
        daemon.rpc("port.del", name="p0")
        assert not link_exists(ifname), round_
    daemon.rpc("port.add", switch="sw0", name="p0", type="tap",
               ifname=ifname)
    assert [p["name"] for p in daemon.rpc("port.list")["ports"]] == ["p0"]


def test_delete_and_add_again_other_ways(daemon, topo):
    """The same through switch.del and a transaction, and for a TAP a VM
    namespace holds."""
    daemon.rpc("switch.add", name="sw0")
    ifname = topo.ifname("rc")
    ns = topo.netns("rc")
    for round_ in range(10):
        daemon.rpc("port.add", switch="sw0", name="p0", type="tap",
                   ifname=ifname)
        sh(["ip", "link", "set", ifname, "netns", ns])
        daemon.rpc("transact", operations=[
            {"method": "port.del", "params": {"name": "p0"}}])
        assert sh(["ip", "link", "show", ifname], ns=ns,
                  check=False).returncode != 0, round_
        daemon.rpc("port.add", switch="sw0", name="p0", type="tap",
                   ifname=ifname)
        daemon.rpc("switch.del", name="sw0", force=True)
        assert not link_exists(ifname), round_
        daemon.rpc("switch.add", name="sw0")
